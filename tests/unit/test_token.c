/* The fill-time token: round trip, length, age window, MAC, site. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "token.h"

static const unsigned char key[TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char nonce[TOKEN_NONCE_LEN] = "nonce-nonce-1234";
#define T0 1700000000000ULL     /* ms */

static void
make(char tok[TOKEN_LEN + 1])
{
	assert_int_equal(token_make(key, "contact", T0, nonce, tok), 0);
	assert_int_equal(strlen(tok), TOKEN_LEN);
}

static enum token_rc
verify_at(const char *tok, size_t len, uint64_t now, const char *site)
{
	return token_verify(key, site, tok, len, now, 3, 7200, NULL);
}

static void
test_round_trip(void **state)
{
	char tok[TOKEN_LEN + 1], again[TOKEN_LEN + 1];
	unsigned char got[TOKEN_NONCE_LEN];

	(void)state;
	make(tok);
	assert_int_equal(token_verify(key, "contact", tok, TOKEN_LEN,
	    T0 + 5000, 3, 7200, got), TOKEN_OK);
	assert_memory_equal(got, nonce, TOKEN_NONCE_LEN);
	/* base64url only: safe in a form field and a URL. */
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
	    "mnopqrstuvwxyz0123456789-_"), TOKEN_LEN);
	/* Fresh nonces: two issued tokens differ. */
	assert_int_equal(token_issue(key, "contact", T0, again), 0);
	assert_int_equal(token_issue(key, "contact", T0, tok), 0);
	assert_string_not_equal(tok, again);
	assert_int_equal(verify_at(again, TOKEN_LEN, T0 + 3000, "contact"),
	    TOKEN_OK);
}

static void
test_wrong_length(void **state)
{
	char tok[TOKEN_LEN + 2];

	(void)state;
	make(tok);
	assert_int_equal(verify_at(tok, TOKEN_LEN - 1, T0 + 5000, "contact"),
	    TOKEN_INVALID);
	assert_int_equal(verify_at(tok, TOKEN_LEN - 4, T0 + 5000, "contact"),
	    TOKEN_INVALID);
	tok[TOKEN_LEN] = 'A';
	tok[TOKEN_LEN + 1] = '\0';
	assert_int_equal(verify_at(tok, TOKEN_LEN + 1, T0 + 5000, "contact"),
	    TOKEN_INVALID);
	assert_int_equal(verify_at("", 0, T0 + 5000, "contact"),
	    TOKEN_INVALID);
	/* Padding or a foreign alphabet is not the token. */
	tok[TOKEN_LEN - 1] = '=';
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 5000, "contact"),
	    TOKEN_INVALID);
}

static void
test_age(void **state)
{
	char tok[TOKEN_LEN + 1];

	(void)state;
	make(tok);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0, "contact"),
	    TOKEN_TOO_FAST);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 2999, "contact"),
	    TOKEN_TOO_FAST);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 3000, "contact"),
	    TOKEN_OK);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 7200000, "contact"),
	    TOKEN_OK);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 7200001, "contact"),
	    TOKEN_EXPIRED);
	/* Issued "later" than now (a clock stepped back): too fast. */
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 - 60000, "contact"),
	    TOKEN_TOO_FAST);
	assert_string_equal(token_reason(TOKEN_TOO_FAST), "token_too_fast");
	assert_string_equal(token_reason(TOKEN_INVALID), "token_invalid");
}

static void
test_one_byte_off(void **state)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	size_t i;

	(void)state;
	make(tok);
	/* Any character changed anywhere: refused (the version, the time
	 * moving out of the window, or the MAC). */
	for (i = 0; i < TOKEN_LEN; i++) {
		memcpy(bad, tok, sizeof bad);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(verify_at(bad, TOKEN_LEN, T0 + 5000,
		    "contact"), TOKEN_OK);
	}
	/* Another key. */
	assert_int_equal(token_verify((const unsigned char *)
	    "1123456789abcdef0123456789abcde", "contact", tok, TOKEN_LEN,
	    T0 + 5000, 3, 7200, NULL), TOKEN_INVALID);
}

static void
test_other_site(void **state)
{
	char tok[TOKEN_LEN + 1];

	(void)state;
	make(tok);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 5000, "contact2"),
	    TOKEN_INVALID);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 5000, "contac"),
	    TOKEN_INVALID);
	assert_int_equal(verify_at(tok, TOKEN_LEN, T0 + 5000, "contact"),
	    TOKEN_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_length),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_one_byte_off),
		cmocka_unit_test(test_other_site),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
