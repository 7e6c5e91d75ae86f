/*
 * test_util — buf_printf formats in place when the room is there and
 * grows otherwise, buf_addc takes a short path when it fits: every size
 * around the boundaries, appends after existing bytes, NUL termination,
 * and the sticky oom flag.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

/* For every length from 0 to 600, appended after every prefix length from
 * 0 to 70 (so both the in-place and the grow path meet the capacity
 * boundaries of 256, the first allocation, and 512): the bytes are
 * exactly what snprintf makes. */
static void
test_printf_every_boundary(void **state)
{
	char want[1024], s[601];
	size_t pre, n;

	(void)state;
	memset(s, 'x', sizeof s - 1);
	for (pre = 0; pre <= 70; pre++)
		for (n = 0; n <= 600; n++) {
			struct buf b;
			buf_init(&b);
			memset(want, 'p', pre);
			want[pre] = '\0';
			assert_int_equal(buf_add(&b, want, pre), 0);
			s[n] = '\0';
			assert_int_equal(buf_printf(&b, "%s|%zu", s, n), 0);
			s[n] = 'x';
			snprintf(want + pre, sizeof want - pre, "%.*s|%zu",
			    (int)n, s, n);
			assert_bytes_equal(b.data, b.len, want);
			assert_int_equal(b.data[b.len], '\0');
			assert_true(b.cap > b.len);
			assert_int_equal(b.oom, 0);
			buf_free(&b);
		}
}

/* Many small appends: the result is the concatenation, never a truncation
 * left behind by a first attempt that did not fit. */
static void
test_printf_appends(void **state)
{
	struct buf b;
	char want[8192];
	size_t off = 0;
	int i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(buf_printf(&b, "%d,", i), 0);
		off += (size_t)snprintf(want + off, sizeof want - off, "%d,", i);
	}
	assert_bytes_equal(b.data, b.len, want);
	buf_free(&b);
}

/* Once out of memory, printf and addc add nothing and keep failing, even
 * with room left in the allocation. */
static void
test_after_oom(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_adds(&b, "abc"), 0);
	assert_true(b.cap > b.len + 1);
	b.oom = 1;
	assert_int_equal(buf_printf(&b, "%s", "def"), -1);
	assert_int_equal(buf_addc(&b, 'd'), -1);
	assert_bytes_equal(b.data, b.len, "abc");
	buf_free(&b);
}

/* addc across every capacity boundary up to 5000 bytes: each byte lands,
 * the buffer stays NUL-terminated. */
static void
test_addc(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(buf_addc(&b, (char)('a' + i % 26)), 0);
		assert_int_equal(b.len, i + 1);
		assert_int_equal(b.data[i], 'a' + i % 26);
		assert_int_equal(b.data[b.len], '\0');
	}
	buf_free(&b);
}

/* The monotonic helpers: the nanosecond carry, order, and now. */
static void
test_mono(void **state)
{
	struct timespec t = { 5, 999000000L }, u;
	long long a, b;

	(void)state;
	ts_add_ms(&t, 1);
	assert_int_equal(t.tv_sec, 6);
	assert_int_equal(t.tv_nsec, 0);
	ts_add_ms(&t, 2500);
	assert_int_equal(t.tv_sec, 8);
	assert_int_equal(t.tv_nsec, 500000000L);
	u = t;
	assert_false(ts_before(&t, &u));
	u.tv_nsec++;
	assert_true(ts_before(&t, &u));
	assert_false(ts_before(&u, &t));
	a = mono_ms();
	u = mono_after_ms(1000);
	b = mono_ms();
	assert_true(b >= a);
	assert_true((long long)u.tv_sec * 1000 + u.tv_nsec / 1000000 >= a + 1000);
	assert_true((long long)u.tv_sec * 1000 + u.tv_nsec / 1000000 <= b + 1000);
}

/* buf_addu writes what printf's %llu writes, at every length. */
static void
test_addu(void **state)
{
	unsigned long long v[] = { 0, 7, 10, 99, 422, 65535, 18446744073709551615ULL };
	struct buf b;
	char want[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(v); i++) {
		buf_init(&b);
		buf_adds(&b, "x=");
		assert_int_equal(buf_addu(&b, v[i]), 0);
		snprintf(want, sizeof want, "x=%llu", v[i]);
		assert_string_equal(b.data, want);
		buf_free(&b);
	}
}

/* str_join fits a and b with their NUL, or leaves "" and says so. */
static void
test_join(void **state)
{
	char out[8], d[U64_STR];

	(void)state;
	assert_int_equal(str_join(out, sizeof out, "/form", "/x"), 0);
	assert_string_equal(out, "/form/x");
	assert_int_equal(str_join(out, sizeof out, "/form", "/xy"), -1);
	assert_string_equal(out, "");
	assert_int_equal(str_join(out, sizeof out, "", ""), 0);
	assert_string_equal(out, "");
	assert_int_equal(str_join(out, 1, "a", ""), -1);
	assert_string_equal(u64_str(d, 0), "0");
	assert_string_equal(u64_str(d, 18446744073709551615ULL),
	    "18446744073709551615");
}

/* str_copy and str_cat cut and terminate as snprintf("%s...") does,
 * at every size, and return the length snprintf would. */
static void
test_copy_cat(void **state)
{
	char out[16], ref[16];
	size_t size;

	(void)state;
	for (size = 1; size <= sizeof out; size++) {
		memset(out, 'x', sizeof out);
		memset(ref, 'x', sizeof ref);
		assert_int_equal(str_copy(out, size, "hello, world"),
		    (size_t)snprintf(ref, size, "%s", "hello, world"));
		assert_memory_equal(out, ref, sizeof out);
		memset(out, 'x', sizeof out);
		memset(ref, 'x', sizeof ref);
		assert_int_equal(str_cat(out, size, "/sp", "/queue/", "",
		    "AB12", (char *)NULL),
		    (size_t)snprintf(ref, size, "%s/queue/%s", "/sp", "AB12"));
		assert_memory_equal(out, ref, sizeof out);
	}
	assert_int_equal(str_copy(out, 0, "abc"), 3);
	assert_int_equal(str_cat(out, sizeof out, (char *)NULL), 0);
	assert_string_equal(out, "");
}

/* has_ctl eight bytes at a time says what the byte-wise definition
 * says, for every length and place of the bytes around its limits. */
static void
test_has_ctl_words(void **state)
{
	static const unsigned char pick[] = { 0x00, 0x01, 0x1f, 0x20, 0x21,
	    0x41, 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xe3, 0xff };
	unsigned char b[40];
	unsigned seed = 7;
	int round;

	(void)state;
	for (round = 0; round < 200000; round++) {
		size_t n, i;
		int want = 0;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof b;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Mostly printable, so the first control byte moves
			 * about the words. */
			b[i] = (seed >> 16) % 8 ? 0x61 : pick[(seed >> 20) %
			    sizeof pick];
			want |= b[i] < 0x20 || b[i] == 0x7f;
		}
		assert_int_equal(has_ctl((const char *)b, n), want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printf_every_boundary),
		cmocka_unit_test(test_addu),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_copy_cat),
		cmocka_unit_test(test_has_ctl_words),
		cmocka_unit_test(test_printf_appends),
		cmocka_unit_test(test_after_oom),
		cmocka_unit_test(test_addc),
		cmocka_unit_test(test_mono),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
