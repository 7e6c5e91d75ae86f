/*
 * test_utf8 — the RFC 3629 §4 table, edge by edge: every boundary of every
 * lead byte, overlongs, surrogates, > U+10FFFF, truncation, stray bytes.
 */
#include "unit.h"

#include "utf8.h"

struct dec_case {
	const char *what;
	const char *s;
	size_t n;
	size_t want_len;	/* 0: invalid */
	uint32_t want_cp;
};

#define S(x) x, sizeof(x) - 1

static const struct dec_case dec_cases[] = {
	{ "NUL", S("\0"), 1, 0x0 },
	{ "ASCII", S("A"), 1, 0x41 },
	{ "DEL", S("\x7f"), 1, 0x7f },
	{ "min 2-byte", S("\xc2\x80"), 2, 0x80 },
	{ "max 2-byte", S("\xdf\xbf"), 2, 0x7ff },
	{ "min 3-byte", S("\xe0\xa0\x80"), 3, 0x800 },
	{ "hiragana a", S("\xe3\x81\x82"), 3, 0x3042 },
	{ "before surrogates", S("\xed\x9f\xbf"), 3, 0xd7ff },
	{ "after surrogates", S("\xee\x80\x80"), 3, 0xe000 },
	{ "U+FFFD", S("\xef\xbf\xbd"), 3, 0xfffd },
	{ "max 3-byte", S("\xef\xbf\xbf"), 3, 0xffff },
	{ "min 4-byte", S("\xf0\x90\x80\x80"), 4, 0x10000 },
	{ "emoji", S("\xf0\x9f\x98\x80"), 4, 0x1f600 },
	{ "max scalar", S("\xf4\x8f\xbf\xbf"), 4, 0x10ffff },
	{ "only first decoded", S("a\xff"), 1, 0x61 },
	{ "empty", "", 0, 0, 0 },
	{ "stray continuation", S("\x80"), 0, 0 },
	{ "stray continuation BF", S("\xbf"), 0, 0 },
	{ "overlong C0 NUL", S("\xc0\x80"), 0, 0 },
	{ "overlong C0 slash", S("\xc0\xaf"), 0, 0 },
	{ "overlong C1", S("\xc1\xbf"), 0, 0 },
	{ "overlong 3-byte NUL", S("\xe0\x80\x80"), 0, 0 },
	{ "overlong 3-byte U+7FF", S("\xe0\x9f\xbf"), 0, 0 },
	{ "overlong 4-byte", S("\xf0\x80\x80\x80"), 0, 0 },
	{ "overlong 4-byte U+FFFF", S("\xf0\x8f\xbf\xbf"), 0, 0 },
	{ "surrogate D800", S("\xed\xa0\x80"), 0, 0 },
	{ "surrogate DBFF", S("\xed\xaf\xbf"), 0, 0 },
	{ "surrogate DC00", S("\xed\xb0\x80"), 0, 0 },
	{ "surrogate DFFF", S("\xed\xbf\xbf"), 0, 0 },
	{ "U+110000", S("\xf4\x90\x80\x80"), 0, 0 },
	{ "F5 lead", S("\xf5\x80\x80\x80"), 0, 0 },
	{ "F8 5-byte lead", S("\xf8\x88\x80\x80\x80"), 0, 0 },
	{ "FE", S("\xfe"), 0, 0 },
	{ "FF", S("\xff"), 0, 0 },
	{ "truncated 2-byte", S("\xc3"), 0, 0 },
	{ "truncated 3-byte", S("\xe3\x81"), 0, 0 },
	{ "truncated 4-byte", S("\xf0\x9f\x98"), 0, 0 },
	{ "truncated by n", "\xe3\x81\x82", 2, 0, 0 },
	{ "bad 2nd byte ASCII", S("\xc3\x41"), 0, 0 },
	{ "bad 3rd byte", S("\xe3\x81\x41"), 0, 0 },
	{ "bad 4th byte", S("\xf0\x9f\x98\xc0"), 0, 0 },
	{ "continuation too high", S("\xc3\xc0"), 0, 0 },
};

static void
test_decode(void **state)
{
	size_t i, got;
	uint32_t cp;

	(void)state;
	for (i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		const struct dec_case *c = &dec_cases[i];

		cp = 0xdeadbeef;
		got = utf8_decode(c->s, c->n, &cp);
		if (got != c->want_len)
			fail_msg("%s: length %zu, want %zu", c->what, got,
			    c->want_len);
		if (got != 0 && cp != c->want_cp)
			fail_msg("%s: U+%04X, want U+%04X", c->what,
			    (unsigned)cp, (unsigned)c->want_cp);
	}
}

struct valid_case {
	const char *what;
	const char *s;
	size_t n;
	int valid;
	size_t count;	/* code points, when valid */
};

static const struct valid_case valid_cases[] = {
	{ "empty", "", 0, 1, 0 },
	{ "ASCII", S("hello"), 1, 5 },
	{ "NUL inside", S("a\0b"), 1, 3 },
	{ "Japanese", S("\xe3\x81\x8a\xe5\x90\x8d\xe5\x89\x8d"), 1, 3 },
	{ "mixed", S("a\xc3\xa9\xe3\x81\x82\xf0\x9f\x98\x80z"), 1, 5 },
	/* "テスト" in Shift_JIS */
	{ "Shift_JIS", S("\x83\x65\x83\x58\x83\x67"), 0, 0 },
	/* "あ" in EUC-JP */
	{ "EUC-JP", S("\xa4\xa2"), 0, 0 },
	{ "Latin-1 e-acute", S("caf\xe9"), 0, 0 },
	{ "truncated at end", S("ok\xe3\x81"), 0, 0 },
	{ "surrogate pair CESU-8",
	    S("\xed\xa0\xbd\xed\xb8\x80"), 0, 0 },
	{ "overlong slash", S("..\xc0\xaf"), 0, 0 },
	{ "BOM is a valid char", S("\xef\xbb\xbfx"), 1, 2 },
};

static void
test_valid_count(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *c = &valid_cases[i];
		int v = utf8_valid(c->s, c->n);

		if (v != c->valid)
			fail_msg("%s: valid %d, want %d", c->what, v, c->valid);
		if (v && utf8_count(c->s, c->n) != c->count)
			fail_msg("%s: count %zu, want %zu", c->what,
			    utf8_count(c->s, c->n), c->count);
	}
}

struct enc_case {
	uint32_t cp;
	const char *want;
	size_t want_len;	/* 0: not a scalar value */
};

static const struct enc_case enc_cases[] = {
	{ 0x0, "\0", 1 },
	{ 0x41, "A", 1 },
	{ 0x7f, "\x7f", 1 },
	{ 0x80, "\xc2\x80", 2 },
	{ 0x7ff, "\xdf\xbf", 2 },
	{ 0x800, "\xe0\xa0\x80", 3 },
	{ 0x3042, "\xe3\x81\x82", 3 },
	{ 0xd7ff, "\xed\x9f\xbf", 3 },
	{ 0xd800, "", 0 },
	{ 0xdfff, "", 0 },
	{ 0xe000, "\xee\x80\x80", 3 },
	{ 0xffff, "\xef\xbf\xbf", 3 },
	{ 0x10000, "\xf0\x90\x80\x80", 4 },
	{ 0x10ffff, "\xf4\x8f\xbf\xbf", 4 },
	{ 0x110000, "", 0 },
	{ 0xffffffff, "", 0 },
};

static void
test_encode(void **state)
{
	size_t i, got, back;
	char out[4];
	uint32_t cp;

	(void)state;
	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		const struct enc_case *c = &enc_cases[i];

		got = utf8_encode(c->cp, out);
		if (got != c->want_len)
			fail_msg("U+%04X: length %zu, want %zu",
			    (unsigned)c->cp, got, c->want_len);
		if (got == 0)
			continue;
		assert_memory_equal(out, c->want, got);
		/* Round trip through the strict decoder. */
		back = utf8_decode(out, got, &cp);
		assert_int_equal(back, got);
		assert_int_equal(cp, c->cp);
	}
}

/* Every scalar value encodes and decodes to itself; every non-scalar is
 * refused by the encoder. */
static void
test_roundtrip_all(void **state)
{
	uint32_t cp, back;
	char out[4];
	size_t n;

	(void)state;
	for (cp = 0; cp <= 0x110000; cp++) {
		n = utf8_encode(cp, out);
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_not_equal(n, 0);
		assert_int_equal(utf8_decode(out, n, &back), n);
		assert_int_equal(back, cp);
		assert_true(utf8_valid(out, n));
		assert_int_equal(utf8_count(out, n), 1);
	}
}

/* Every 2-byte pair: decoder agrees with a direct reading of RFC 3629. */
static void
test_all_pairs(void **state)
{
	unsigned a, b;
	char s[2];
	uint32_t cp;
	int want;

	(void)state;
	for (a = 0x80; a <= 0xff; a++)
		for (b = 0; b <= 0xff; b++) {
			s[0] = (char)a;
			s[1] = (char)b;
			want = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
			assert_int_equal(utf8_decode(s, 2, &cp) == 2, want);
			assert_int_equal(utf8_valid(s, 2), want);
		}
}

/* Every three-byte string with a lead byte E0..EF: utf8_valid (with its
 * fast path for E1..EC, EE..EF) agrees with utf8_decode, alone and
 * followed by ASCII. */
static void
test_all_triples(void **state)
{
	char s[4] = { 0, 0, 0, 'a' };
	uint32_t cp;
	unsigned a, b, c;
	int want;

	(void)state;
	for (a = 0xe0; a <= 0xef; a++)
		for (b = 0; b < 256; b++)
			for (c = 0; c < 256; c++) {
				s[0] = (char)a;
				s[1] = (char)b;
				s[2] = (char)c;
				want = utf8_decode(s, 3, &cp) == 3;
				assert_int_equal(utf8_valid(s, 3), want);
				assert_int_equal(utf8_valid(s, 4), want);
				assert_int_equal(utf8_valid(s, 2), 0);
			}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_valid_count),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_all_pairs),
		cmocka_unit_test(test_all_triples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
