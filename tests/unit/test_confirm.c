/* The review step's _confirm: round trip, every byte bound, age, site,
 * the encoding of the values, hostile input. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "confirm.h"

static const unsigned char key[CONFIRM_KEY_LEN] =
    "0123456789abcdef0123456789abcde";
static const unsigned char nonce[CONFIRM_NONCE_LEN] = "nonce-nonce-1234";
#define T0 1700000000000ULL     /* ms */

static const struct confirm_item items[] = {
	{ "name", "山田", 6 },
	{ "message", "a\r\nb", 4 },
	{ "empty", "", 0 },
};
#define N (sizeof items / sizeof items[0])

static void
make(char out[CONFIRM_LEN + 1], const char *site, uint64_t t)
{
	assert_int_equal(confirm_make(key, site, items, N, t, nonce, out), 0);
	assert_int_equal(strlen(out), CONFIRM_LEN);
	assert_int_equal(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
	    "mnopqrstuvwxyz0123456789-_"), CONFIRM_LEN);
}

static enum confirm_rc
verify(const char *c, const struct confirm_item *it, size_t n,
    uint64_t now)
{
	return confirm_verify(key, "contact", it, n, c, strlen(c), now, 7200,
	    NULL);
}

static void
test_round_trip(void **state)
{
	char c[CONFIRM_LEN + 1];
	unsigned char got[CONFIRM_NONCE_LEN];

	(void)state;
	make(c, "contact", T0);
	assert_int_equal(confirm_verify(key, "contact", items, N, c,
	    CONFIRM_LEN, T0 + 1000, 7200, got), CONFIRM_OK);
	assert_memory_equal(got, nonce, CONFIRM_NONCE_LEN);
	/* Right at max_age still counts; a millisecond later it does not. */
	assert_int_equal(verify(c, items, N, T0 + 7200000), CONFIRM_OK);
	assert_int_equal(verify(c, items, N, T0 + 7200001), CONFIRM_EXPIRED);
	/* From the future (a clock stepped back). */
	assert_int_equal(verify(c, items, N, T0 - 1), CONFIRM_EXPIRED);
	assert_int_equal(confirm_verify(key, "other", items, N, c,
	    CONFIRM_LEN, T0 + 1000, 7200, NULL), CONFIRM_INVALID);
	assert_string_equal(confirm_reason(CONFIRM_INVALID), "confirm_invalid");
	assert_string_equal(confirm_reason(CONFIRM_EXPIRED), "confirm_expired");
	assert_string_equal(confirm_reason(CONFIRM_CHANGED), "confirm_changed");
}

/* Any changed value, name, order or count is CHANGED (a new review),
 * not INVALID: the site MAC still holds. */
static void
test_changed_values(void **state)
{
	char c[CONFIRM_LEN + 1];
	struct confirm_item it[N + 1];
	unsigned char got[CONFIRM_NONCE_LEN];

	(void)state;
	make(c, "contact", T0);
	memcpy(it, items, sizeof items);
	it[1].value = "a\r\nc";
	assert_int_equal(verify(c, it, N, T0 + 1), CONFIRM_CHANGED);
	memcpy(it, items, sizeof items);
	it[1].len = 3;                       /* a prefix of the value */
	assert_int_equal(verify(c, it, N, T0 + 1), CONFIRM_CHANGED);
	memcpy(it, items, sizeof items);
	it[0].name = "nam";
	assert_int_equal(verify(c, it, N, T0 + 1), CONFIRM_CHANGED);
	memcpy(it, items, sizeof items);
	it[0] = items[1];
	it[1] = items[0];
	assert_int_equal(verify(c, it, N, T0 + 1), CONFIRM_CHANGED);
	assert_int_equal(verify(c, items, N - 1, T0 + 1), CONFIRM_CHANGED);
	memcpy(it, items, sizeof items);
	it[N] = (struct confirm_item){ "x", "", 0 };
	assert_int_equal(verify(c, it, N + 1, T0 + 1), CONFIRM_CHANGED);
	/* The boundary between name and value cannot move: "ab"+"c" is
	 * not "a"+"bc". */
	{
		struct confirm_item a[] = { { "ab", "c", 1 } },
		    b[] = { { "a", "bc", 2 } };
		assert_int_equal(confirm_make(key, "contact", a, 1, T0, nonce,
		    c), 0);
		assert_int_equal(verify(c, b, 1, T0 + 1), CONFIRM_CHANGED);
		assert_int_equal(verify(c, a, 1, T0 + 1), CONFIRM_OK);
	}
	/* The nonce is handed back so a new review keeps it. */
	memcpy(it, items, sizeof items);
	it[2].value = "x";
	it[2].len = 1;
	make(c, "contact", T0);
	assert_int_equal(confirm_verify(key, "contact", it, N, c, CONFIRM_LEN,
	    T0 + 1, 7200, got), CONFIRM_CHANGED);
	assert_memory_equal(got, nonce, CONFIRM_NONCE_LEN);
}

/* Every bit of the blob is bound: a flip is INVALID (header, site MAC),
 * EXPIRED (a time moved out of range) or CHANGED (the values MAC), and
 * never OK. */
static void
test_every_bit_flip(void **state)
{
	char c[CONFIRM_LEN + 1], d[CONFIRM_LEN + 1];
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, k;

	(void)state;
	make(c, "contact", T0);
	for (i = 0; i < CONFIRM_LEN; i++)
		for (k = 1; k < 64; k <<= 1) {
			memcpy(d, c, sizeof d);
			d[i] = al[(size_t)(strchr(al, c[i]) - al) ^ k];
			assert_int_not_equal(verify(d, items, N, T0 + 1),
			    CONFIRM_OK);
			/* Before the values MAC (char 76 on) it is never a
			 * new review: a forged header or site MAC. */
			if (i < 76)
				assert_int_not_equal(verify(d, items, N,
				    T0 + 1), CONFIRM_CHANGED);
		}
}

static void
test_hostile(void **state)
{
	char c[CONFIRM_LEN + 1], d[CONFIRM_LEN + 2];
	static const char *const bad[] = { "", "A", "not base64 at all!",
	    "\xe3\x81\x82", NULL };
	size_t i;

	(void)state;
	make(c, "contact", T0);
	for (i = 0; bad[i]; i++)
		assert_int_equal(verify(bad[i], items, N, T0 + 1),
		    CONFIRM_INVALID);
	snprintf(d, sizeof d, "%sA", c);         /* too long */
	assert_int_equal(verify(d, items, N, T0 + 1), CONFIRM_INVALID);
	d[CONFIRM_LEN - 1] = '\0';               /* too short */
	assert_int_equal(verify(d, items, N, T0 + 1), CONFIRM_INVALID);
	memcpy(d, c, CONFIRM_LEN + 1);
	d[10] = '=';
	assert_int_equal(verify(d, items, N, T0 + 1), CONFIRM_INVALID);
	/* A NUL inside: the length says 120, the bytes are not base64url. */
	memcpy(d, c, CONFIRM_LEN + 1);
	d[50] = '\0';
	assert_int_equal(confirm_verify(key, "contact", items, N, d,
	    CONFIRM_LEN, T0 + 1, 7200, NULL), CONFIRM_INVALID);
	/* Another key. */
	{
		unsigned char k2[CONFIRM_KEY_LEN];
		memcpy(k2, key, sizeof k2);
		k2[0] ^= 1;
		assert_int_equal(confirm_verify(k2, "contact", items, N, c,
		    CONFIRM_LEN, T0 + 1, 7200, NULL), CONFIRM_INVALID);
	}
	/* A site name longer than any site: refused, not truncated. */
	{
		char longsite[300];
		memset(longsite, 's', sizeof longsite - 1);
		longsite[sizeof longsite - 1] = '\0';
		assert_int_equal(confirm_make(key, longsite, items, N, T0,
		    nonce, c), -1);
	}
}

/* The format pinned: a blob written by an independent implementation of
 * confirm.h's encoding (the fuzz corpus seed) verifies. */
static void
test_known_vector(void **state)
{
	static const unsigned char fkey[CONFIRM_KEY_LEN] =
	    "fuzz-key-fuzz-key-fuzz-key-fuzz";
	static const char blob[] = "AQAAAAGLz-YrUHNlZWQtbm9uY2UtMTIzNDU-7BeE8aB"
	    "11GSNingU0ClraRVfb_56Ir99XJdxjG2ybSw1-g_foJ88iTY9FgcWX2_GaDpAE-X0I"
	    "NT2w7ZFCd91";
	struct confirm_item it[] = { { "f0", "\xe5\xb1\xb1\xe7\x94\xb0", 6 },
	    { "f1", "a\r\nb", 4 }, { "f2", "", 0 }, { "f3", "x", 1 } };
	unsigned char got[CONFIRM_NONCE_LEN];

	(void)state;
	assert_int_equal(confirm_verify(fkey, "s", it, 4, blob, strlen(blob),
	    1700000100000ULL, 86400, got), CONFIRM_OK);
	assert_memory_equal(got, "seed-nonce-12345", CONFIRM_NONCE_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_changed_values),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_known_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
