/*
 * test_addr — the one set of address rules, table by table: local parts
 * (dot-atom, the carriers' legacy forms, encoded words), domains (LDH
 * labels, a dot required, A-labels), RFC 5321 §4.5.3.1 lengths, and the
 * whole addr-spec as config, validation and the envelope all see it.
 */
#include "unit.h"

#include <stdio.h>

#include "addr.h"
#include "util.h"

#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L63 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
test_local_kind(void **state)
{
	static const struct {
		const char *s;
		enum addr_local want;
	} cases[] = {
		{ "taro", ADDR_LOCAL_DOT_ATOM },
		{ "taro.yamada", ADDR_LOCAL_DOT_ATOM },
		{ "a+tag", ADDR_LOCAL_DOT_ATOM },
		{ "!#$%&'*+-/=?^_`{|}~", ADDR_LOCAL_DOT_ATOM },
		{ "a=b?c", ADDR_LOCAL_DOT_ATOM },	/* no encoded word */
		{ "?=a=?", ADDR_LOCAL_DOT_ATOM },	/* "?=" before "=?" */
		{ A64, ADDR_LOCAL_DOT_ATOM },		/* 64 octets */
		{ "taro..x.", ADDR_LOCAL_LEGACY },
		{ "taro.", ADDR_LOCAL_LEGACY },
		{ "a..", ADDR_LOCAL_LEGACY },
		{ "", ADDR_LOCAL_BAD },
		{ A64 "a", ADDR_LOCAL_BAD },		/* 65 octets */
		{ ".taro", ADDR_LOCAL_BAD },
		{ "a b", ADDR_LOCAL_BAD },
		{ "\"a\"", ADDR_LOCAL_BAD },
		{ "a,b", ADDR_LOCAL_BAD },
		{ "a@b", ADDR_LOCAL_BAD },
		{ "a<b", ADDR_LOCAL_BAD },
		{ "a\rb", ADDR_LOCAL_BAD },
		{ "a\nb", ADDR_LOCAL_BAD },
		{ "\xc3\xa9", ADDR_LOCAL_BAD },
		{ "=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=", ADDR_LOCAL_BAD },
		{ "=?utf-8?b?LCBldmls?=", ADDR_LOCAL_BAD },
		{ "a=?x?=", ADDR_LOCAL_BAD },
		{ "=?" "?=", ADDR_LOCAL_BAD },
		{ "x.=?us-ascii?q?a?=.y", ADDR_LOCAL_BAD },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (addr_local_kind(cases[i].s, strlen(cases[i].s)) !=
		    cases[i].want)
			fail_msg("local case %zu (%s)", i, cases[i].s);
}

static void
test_domain(void **state)
{
	static const struct {
		const char *d;
		int ok;
	} cases[] = {
		{ "example.jp", 1 }, { "EXAMPLE.JP", 1 }, { "a-b.example", 1 },
		{ "xn--eckwd4c7c.xn--zckzah", 1 }, { "1.2.3.4", 1 },
		{ L63 ".jp", 1 },
		{ "localhost", 0 }, { "example", 0 },	/* dotless: never */
		{ "", 0 }, { ".", 0 }, { "a.", 0 }, { ".a", 0 }, { "a..b", 0 },
		{ "-x-.example", 0 }, { "x-.example", 0 }, { "-x.example", 0 },
		{ "a_b.example", 0 }, { "[127.0.0.1]", 0 }, { "a b.jp", 0 },
		{ "b" L63 ".jp", 0 },			/* a 64-octet label */
		{ "\xe4\xbe\x8b.jp", 0 },		/* U-label: not here */
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (addr_domain_ok(cases[i].d) != cases[i].ok)
			fail_msg("domain case %zu (%s)", i, cases[i].d);
	/* 255 octets is the most; 256 is too many. */
	snprintf(big, sizeof big, "%s.%s.%s.%s", L63, L63, L63, L63);
	big[255] = '\0';
	big[254] = 'c';
	assert_true(addr_domain_ok(big));
	big[255] = 'c';
	big[256] = '\0';
	assert_false(addr_domain_ok(big));
}

static void
test_spec(void **state)
{
	static const struct {
		const char *addr;
		int ok;
	} cases[] = {
		{ "taro@example.jp", 1 },
		{ "info@example.com", 1 },
		{ "a.b+c@xn--r8jz45g.jp", 1 },
		{ "taro..x.@docomo.ne.jp", 1 },
		{ "taro.@EZWEB.NE.JP", 1 },
		{ "a..@i.softbank.jp", 1 },
		{ A64 "@example.jp", 1 },
		{ "taro..x@gmail.com", 0 },		/* legacy, not a carrier */
		{ "taro..x@x.docomo.ne.jp", 0 },
		{ "a..b@example.com", 0 },
		{ ".a@example.com", 0 },
		{ A64 "a@example.jp", 0 },
		{ "a@localhost", 0 },
		{ "info@localhost", 0 },
		{ "a@b", 0 },
		{ "a@-x-.example", 0 },
		{ "a@-example.com", 0 },
		{ "=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=@example.jp", 0 },
		{ "a@example.com\r\nBcc: x@y.z", 0 },
		{ "\xe3\x81\x8a@example.com", 0 },
		{ "", 0 }, { "a", 0 }, { "@example.jp", 0 }, { "a@", 0 },
		{ "a@b@example.jp", 0 }, { "<a@example.jp>", 0 },
		{ "a@example.jp>", 0 }, { "a b@example.jp", 0 },
	};
	char big[300];
	size_t i, at = 99;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (addr_spec_ok(cases[i].addr, NULL) != cases[i].ok)
			fail_msg("spec case %zu (%s)", i, cases[i].addr);
	assert_false(addr_spec_ok(NULL, &at));
	assert_int_equal(at, 99);
	assert_true(addr_spec_ok("ab@example.jp", &at));
	assert_int_equal(at, 2);
	/* 254 octets in all is the most a 256-octet path "<addr>" holds. */
	memset(big, 'a', sizeof big);
	memcpy(big, "x@", 2);
	for (i = 62; i < sizeof big; i += 62)
		big[i] = '.';
	big[254] = '\0';
	assert_true(addr_spec_ok(big, NULL));
	big[254] = 'a';
	big[255] = '\0';
	assert_false(addr_spec_ok(big, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_kind),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
