/* Unit tests for mime: exact bytes for every encoder and whole messages. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "mime.h"
#include "ref_mime.h"
#include "util.h"

#define S(lit) (lit), sizeof(lit) - 1

/* Prints what an unmatched case produced, as a C literal. */
static void
show(const char *what, const struct buf *b)
{
	size_t i;

	fprintf(stderr, "%s produced:\n\"", what);
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\n')
			fprintf(stderr, "\\n\"\n\"");
		else if (c == '\r')
			fprintf(stderr, "\\r");
		else if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x\"\"", c);
		else
			fputc(c, stderr);
	}
	fprintf(stderr, "\"\n");
}

static void
expect_buf(const char *what, const struct buf *b, const char *want)
{
	if (want == NULL || b->len != strlen(want) ||
	    memcmp(b->data, want, b->len) != 0)
		show(what, b);
	assert_non_null(want);
	assert_bytes_equal(b->data, b->len, want);
}

/* Checks the RFC 5322 §2.1.1 / RFC 2047 §2 limits on header output. */
static void
check_limits(const struct buf *b, size_t maxline)
{
	size_t i, start, k;

	for (i = start = 0; i < b->len; i++) {
		if (b->data[i] == '\n')
			assert_true(i > 0 && b->data[i - 1] == '\r');
		if (b->data[i] != '\r')
			continue;
		assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
		assert_true(i - start <= maxline);
		start = i + 2;
	}
	assert_int_equal(start, b->len);
	for (i = 0; i + 1 < b->len; i++)
		if (b->data[i] == '=' && b->data[i + 1] == '?') {
			for (k = i + 2; k + 1 < b->len; k++)
				if (b->data[k] == '?' && b->data[k + 1] == '=' &&
				    b->data[k - 1] != 'B' && b->data[k - 1] != 'Q')
					break;
			assert_true(k + 2 - i <= 75);
			i = k + 1;
		}
}

/* --- unstructured --- */

struct ucase {
	const char *in;
	size_t len;
	const char *want;
};

static const struct ucase ucases[] = {
	{ S("Hello world"),
		    "Subject: Hello world\r\n" },
	{ S(""),
		    "Subject:\r\n" },
	{ S("お問い合わせ"),
		    "Subject: =?UTF-8?B?44GK5ZWP44GE5ZCI44KP44Gb?=\r\n" },
	{ S("Re: お問い合わせ (至急)"),
		    "Subject: Re: =?UTF-8?B?44GK5ZWP44GE5ZCI44KP44GbICjoh7PmgKUp?=\r\n" },
	{ S("Party 🎉🎂 tonight 😀"),
		    "Subject: Party =?UTF-8?B?8J+OifCfjoI=?= tonight =?UTF-8?B?8J+YgA==?=\r\n" },
	{ S("=?UTF-8?Q?=0A?="),
		    "Subject: =?UTF-8?B?PT9VVEYtOD9RPz0wQT89?=\r\n" },
	{ S("Re: =?UTF-8?B?QmNjOg==?= x"),
		    "Subject: Re: =?UTF-8?B?PT9VVEYtOD9CP1FtTmpPZz09Pz0=?= x\r\n" },
	{ S("a=?b"),
		    "Subject: =?UTF-8?Q?a=3D=3Fb?=\r\n" },
	{ S("  lead and trail  "),
		    "Subject: =?UTF-8?Q?__lead?= and =?UTF-8?Q?trail__?=\r\n" },
	{ S("   "),
		    "Subject: =?UTF-8?Q?___?=\r\n" },
	{ S("a  b   c"),
		    "Subject: a  b   c\r\n" },
	{ S("word word word word word word word word word word word word word "
	    "word word word word word word"),
		    "Subject: word word word word word word word word word word word word word word\r\n"
		    " word word word word word\r\n" },
	{ S("http://example.jp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaa"),
		    "Subject: http://example.jp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" },
	{ S("日本語の件名日本語の件名日本語の件名日本語の件名日本語の件名日本語の"
	    "件名日本語の件名日本語の件名"),
		    "Subject: =?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN5pel5pys6Kqe44Gu5Lu25ZCN5pel5pys?=\r\n"
		    " =?UTF-8?B?6Kqe44Gu5Lu25ZCN5pel5pys6Kqe44Gu5Lu25ZCN5pel5pys6Kqe44Gu5Lu2?=\r\n"
		    " =?UTF-8?B?5ZCN5pel5pys6Kqe44Gu5Lu25ZCN5pel5pys6Kqe44Gu5Lu25ZCN5pel5pys?=\r\n"
		    " =?UTF-8?B?6Kqe44Gu5Lu25ZCN?=\r\n" },
	{ S("café au lait"),
		    "Subject: =?UTF-8?B?Y2Fmw6k=?= au lait\r\n" },
};

static void
test_unstructured_golden(void **state)
{
	struct buf b;
	size_t i;
	char what[32];

	(void)state;
	for (i = 0; i < ARRAY_LEN(ucases); i++) {
		buf_init(&b);
		snprintf(what, sizeof(what), "ucases[%zu]", i);
		assert_int_equal(mime_header_unstructured(&b, "Subject",
		    ucases[i].in, ucases[i].len), 0);
		check_limits(&b, 998);
		expect_buf(what, &b, ucases[i].want);
		buf_free(&b);
	}
}

/* 300 characters of Japanese, emoji and a 2000-octet ASCII word: only the
 * limits are checked here; the golden cases and the round trip test cover
 * the encoding itself. */
static void
test_unstructured_long(void **state)
{
	struct buf b, in;
	size_t i;

	(void)state;
	buf_init(&in);
	for (i = 0; i < 100; i++)
		buf_adds(&in, "件名😀");
	buf_init(&b);
	assert_int_equal(mime_header_unstructured(&b, "Subject", in.data,
	    in.len), 0);
	check_limits(&b, 78);
	buf_free(&b);
	buf_reset(&in);
	for (i = 0; i < 2000; i++)
		buf_addc(&in, 'x');
	assert_int_equal(mime_header_unstructured(&b, "Subject", in.data,
	    in.len), 0);
	check_limits(&b, 78);
	buf_free(&b);
	buf_reset(&in);
	buf_adds(&in, "a ");
	for (i = 0; i < 900; i++)
		buf_addc(&in, 'y');
	buf_adds(&in, " b");
	assert_int_equal(mime_header_unstructured(&b, "Subject", in.data,
	    in.len), 0);
	check_limits(&b, 998);
	/* a 900-octet word stays readable on a line of its own */
	assert_int_equal(b.len, strlen("Subject: a\r\n ") + 900 +
	    strlen("\r\n b\r\n"));
	buf_free(&b);
	buf_free(&in);
}

/* Every control class, and invalid UTF-8, is refused. */
static const struct {
	const char *in;
	size_t len;
} bad_text[] = {
	{ S("a\0b") }, { S("a\x01") }, { S("a\tb") }, { S("a\nb") },
	{ S("a\rb") }, { S("a\r\nBcc: x@evil") }, { S("\x1b[1m") },
	{ S("a\x1f") }, { S("a\x7f") }, { S("a\xc2\x80") },
	{ S("a\xc2\x85" "b") }, { S("a\xc2\x9f") }, { S("a\xe2\x80\xa8") },
	{ S("a\xe2\x80\xa9") }, { S("\xff") }, { S("\xc0\xaf") },
	{ S("\xed\xa0\x80") }, { S("\xe3\x81") }, { S("\xf4\x90\x80\x80") },
	{ S("\xe0\x80\xaf") },
};

static void
test_unstructured_reject(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < ARRAY_LEN(bad_text); i++) {
		buf_reset(&b);
		if (mime_header_unstructured(&b, "Subject", bad_text[i].in,
		    bad_text[i].len) != -1)
			fail_msg("bad_text[%zu] accepted", i);
	}
	assert_int_equal(mime_header_unstructured(&b, "Bad Name", "x", 1), -1);
	assert_int_equal(mime_header_unstructured(&b, "Bad:", "x", 1), -1);
	assert_int_equal(mime_header_unstructured(&b, "", "x", 1), -1);
	buf_free(&b);
}

/* --- addresses --- */

struct acase {
	struct mime_addr a[4];
	size_t n;
	const char *want;
};

#define A(n, addr) { (n), sizeof(n) - 1, (addr) }
#define AN(addr) { NULL, 0, (addr) }

static void
test_addresses_golden(void **state)
{
	const struct acase cases[] = {
		{ { AN("info@example.jp") }, 1,
		    "Reply-To: info@example.jp\r\n" },
		{ { A("Taro Yamada", "taro@example.jp") }, 1,
		    "Reply-To: Taro Yamada <taro@example.jp>\r\n" },
		{ { A("Sales, \"Tokyo\" \\ <HQ> @ 1", "s@example.jp") }, 1,

		    "Reply-To: \"Sales, \\\"Tokyo\\\" \\\\ <HQ> @ 1\" <s@example.jp>\r\n" },
		{ { A("J. O'Brien", "j@example.com") }, 1,
		    "Reply-To: \"J. O'Brien\" <j@example.com>\r\n" },
		{ { A("山田 太郎", "taro@example.jp") }, 1,
		    "Reply-To: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.jp>\r\n" },
		{ { A("株式会社テスト 営業部 お問い合わせ窓口", "a@example.jp") },
		    1,
		    "Reply-To: =?UTF-8?B?5qCq5byP5Lya56S+44OG44K544OIIOWWtualremDqCDjgYrllY/jgYQ=?=\r\n"
		    " =?UTF-8?B?5ZCI44KP44Gb56qT5Y+j?= <a@example.jp>\r\n" },
		{ { A("=?UTF-8?B?QmNj?=", "a@example.jp") }, 1,
		    "Reply-To: =?UTF-8?B?PT9VVEYtOD9CP1FtTmo/PQ==?= <a@example.jp>\r\n" },
		{ { A(" padded ", "a@example.jp") }, 1,
		    "Reply-To: \" padded \" <a@example.jp>\r\n" },
		{ { AN("taro..x.@docomo.ne.jp") }, 1,
		    "Reply-To: \"taro..x.\"@docomo.ne.jp\r\n" },
		{ { A("太郎", "dotted..@ezweb.ne.jp") }, 1,
		    "Reply-To: =?UTF-8?B?5aSq6YOO?= <\"dotted..\"@ezweb.ne.jp>\r\n" },
		{ { A("First Person", "first.person@example.jp"),
		    A("Second Person", "second.person@example.jp"),
		    AN("third@example.jp"),
		    A("四番目", "fourth@example.jp") }, 4,
		    "Reply-To: First Person <first.person@example.jp>, Second Person\r\n"
		    " <second.person@example.jp>, third@example.jp, =?UTF-8?B?5Zub55Wq55uu?=\r\n"
		    " <fourth@example.jp>\r\n" },
	};
	struct buf b;
	size_t i;
	char what[32];

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		buf_init(&b);
		snprintf(what, sizeof(what), "acases[%zu]", i);
		assert_int_equal(mime_header_addresses(&b, "Reply-To",
		    cases[i].a, cases[i].n), 0);
		check_limits(&b, 78);
		expect_buf(what, &b, cases[i].want);
		buf_free(&b);
	}
}

static void
test_addresses_reject(void **state)
{
	static const char *bad_addr[] = {
		"", "a", "@b.jp", "a@", "a@b@c.jp", "a b@c.jp", "<a@b.jp>",
		"a@b.jp>", "a@b.jp,c@d.jp", "a@b_c.jp", "a@b..jp", "a@.b.jp",
		"a@b.jp.", "a@[127.0.0.1]", "a\r\n@b.jp", "a@b.jp\nBcc: x",
		"\xe5\xa4\xaa@b.jp", "a\x7f@b.jp",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"@b.jp",	/* 65 */
	};
	struct mime_addr a;
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < ARRAY_LEN(bad_addr); i++) {
		a.name = NULL;
		a.name_len = 0;
		a.addr = bad_addr[i];
		if (mime_header_addresses(&b, "To", &a, 1) != -1)
			fail_msg("bad_addr[%zu] accepted", i);
	}
	a.addr = NULL;
	assert_int_equal(mime_header_addresses(&b, "To", &a, 1), -1);
	a.addr = "a@b.jp";
	assert_int_equal(mime_header_addresses(&b, "To", &a, 0), -1);
	assert_int_equal(mime_header_addresses(&b, "To", NULL, 1), -1);
	for (i = 0; i < ARRAY_LEN(bad_text); i++) {
		a.name = bad_text[i].in;
		a.name_len = bad_text[i].len;
		if (mime_header_addresses(&b, "To", &a, 1) != -1)
			fail_msg("bad name bad_text[%zu] accepted", i);
	}
	buf_free(&b);
}

static void
test_envelope_ok(void **state)
{
	static const struct {
		const char *addr;
		int ok;
	} cases[] = {
		{ "taro@example.jp", 1 },
		{ "taro..x.@docomo.ne.jp", 1 },
		{ "a+tag@xn--eckwd4c7c.xn--zckzah", 1 },
		{ "a@b", 0 },	/* dotless: the rule of addr.h */
		{ "=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=@example.jp", 0 },
		{ "", 0 }, { "a", 0 }, { "@b", 0 }, { "a@", 0 },
		{ "a@b@c", 0 }, { "a b@c", 0 }, { "<a@b>", 0 }, { "a>@b", 0 },
		{ "a@b\r", 0 }, { "a@b\n", 0 }, { "a\t@b", 0 }, { "a@b_c", 0 },
		{ "a@b..c", 0 }, { "\xc3\xa9@b", 0 }, { "a@b.", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "@b.jp", 1 },	/* 64 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "@b", 0 },	/* 65 */
		{ "a@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		    0 },	/* a 64-octet label */
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++)
		if (mime_envelope_ok(cases[i].addr) != cases[i].ok)
			fail_msg("envelope case %zu (%s)", i, cases[i].addr);
	assert_int_equal(mime_envelope_ok(NULL), 0);
	/* 254 octets in all is the most a 256-octet path holds. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "x@", 2);
	for (i = 62; i < sizeof(big); i += 62)
		big[i] = '.';
	big[254] = '\0';
	assert_int_equal(mime_envelope_ok(big), 1);
	big[254] = 'a';
	big[255] = '\0';
	assert_int_equal(mime_envelope_ok(big), 0);
}

/* --- date --- */

static void
test_date(void **state)
{
	static const struct {
		time_t t;
		int off;
		const char *want;
	} cases[] = {
		{ 1795870927, 540, "Sat, 28 Nov 2026 22:02:07 +0900" },
		{ 1795870927, -300, "Sat, 28 Nov 2026 08:02:07 -0500" },
		{ 1795870927, 0, "Sat, 28 Nov 2026 13:02:07 +0000" },
		{ 1795870927, 330, "Sat, 28 Nov 2026 18:32:07 +0530" },
		{ 0, 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 951782400, 0, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 0, 24 * 60, "" },
		{ 0, -24 * 60, "" },
	};
	char out[40];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		mime_date(out, sizeof(out), cases[i].t, cases[i].off);
		assert_string_equal(out, cases[i].want);
	}
	mime_date(out, 10, 0, 0);
	assert_string_equal(out, "");
}

/* mime_date against the snprintf reference: every offset step around
 * the day's limits, dates from before 1900 to past 9999, every room. */
static void
test_date_reference(void **state)
{
	static const time_t ts[] = { 0, 1, 59, 86399, 1795870927,
	    951782400, -2208988800LL, -2208988801LL, 253402300799LL,
	    253402300800LL, 1000000000, -1, 4102444800LL };
	static const int offs[] = { 0, 1, -1, 59, 60, 540, -300, 330, 1439,
	    -1439, 1440, -1440, 600, -600 };
	char got[40], want[40];
	size_t i, j, room;
	time_t t;

	(void)state;
	for (i = 0; i < ARRAY_LEN(ts); i++)
		for (j = 0; j < ARRAY_LEN(offs); j++)
			for (room = 0; room <= sizeof got; room++) {
				memset(got, 'x', sizeof got);
				memset(want, 'x', sizeof want);
				mime_date(got, room, ts[i], offs[j]);
				ref_mime_date(want, room, ts[i], offs[j]);
				/* the same string (past its NUL, a cut
				 * snprintf left bytes: nobody reads them) */
				if (room == 0)
					assert_memory_equal(got, want,
					    sizeof got);
				else
					assert_string_equal(got, want);
			}
	/* a day in every month of many years, at odd seconds */
	for (t = -2208988800LL; t < 4102444800LL; t += 86400 * 17 + 3607) {
		mime_date(got, sizeof got, t, 540);
		ref_mime_date(want, sizeof want, t, 540);
		assert_string_equal(got, want);
	}
}

/* --- body --- */

struct bcase {
	const char *in;
	size_t len;
	const char *cte;
	const char *want;
};

static void
test_body_golden(void **state)
{
	static const struct bcase cases[] = {
		{ S("Hello\nworld"), "7bit",
		    "Hello\r\n"
		    "world\r\n" },
		{ S(""), "7bit",
		    "\r\n" },
		{ S("a\rb\nc\r\nd\n\re\r\r\nf"), "7bit",
		    "a\r\n"
		    "b\r\n"
		    "c\r\n"
		    "d\r\n"
		    "\r\n"
		    "e\r\n"
		    "\r\n"
		    "f\r\n" },
		{ S(".\n.x\nFrom me\n"), "7bit",
		    ".\r\n"
		    ".x\r\n"
		    "From me\r\n" },
		{ S("café\n.dot é\nFrom here é\nFromage\ntrail \ntab\t\n"),
		    "quoted-printable",
		    "caf=C3=A9\r\n"
		    "=2Edot =C3=A9\r\n"
		    "=46rom here =C3=A9\r\n"
		    "Fromage\r\n"
		    "trail=20\r\n"
		    "tab=09\r\n" },
		{ S("a=b\0c é"), "quoted-printable",
		    "a=3Db=00c =C3=A9\r\n" },
		{ S("お問い合わせありがとうございます。\n担当者より折り返しご連絡"
		    "いたします。\n"), "base64",
		    "44GK5ZWP44GE5ZCI44KP44Gb44GC44KK44GM44Go44GG44GU44GW44GE44G+44GZ44CCDQrmi4Xl\r\n"
		    "vZPogIXjgojjgormipjjgorov5TjgZfjgZTpgKPntaHjgYTjgZ/jgZfjgb7jgZnjgIINCg==\r\n" },
		{ S("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxé and the rest of the line "), "quoted-printable",

		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\r\n"
		    "=C3=A9 and the rest of the line=20\r\n" },
	};
	struct buf b;
	const char *cte;
	size_t i;
	char what[32];

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		buf_init(&b);
		cte = NULL;
		snprintf(what, sizeof(what), "bcases[%zu]", i);
		assert_int_equal(mime_body(&b, cases[i].in, cases[i].len,
		    &cte), 0);
		if (cases[i].cte == NULL || strcmp(cte, cases[i].cte) != 0)
			fprintf(stderr, "%s: %s\n", what, cte);
		assert_non_null(cases[i].cte);
		assert_string_equal(cte, cases[i].cte);
		expect_buf(what, &b, cases[i].want);
		buf_free(&b);
	}
}

/* 2000-octet lines: 7bit is out; QP soft breaks or base64 keep to 76. */
static void
test_body_long_lines(void **state)
{
	struct buf in, b;
	const char *cte;
	size_t i;

	(void)state;
	buf_init(&in);
	buf_init(&b);
	for (i = 0; i < 998; i++)
		buf_addc(&in, 'x');
	assert_int_equal(mime_body(&b, in.data, in.len, &cte), 0);
	assert_string_equal(cte, "7bit");
	buf_reset(&b);
	buf_addc(&in, 'x');
	assert_int_equal(mime_body(&b, in.data, in.len, &cte), 0);
	assert_string_equal(cte, "quoted-printable");
	check_limits(&b, 76);
	buf_reset(&b);
	for (i = 0; i < 1001; i++)
		buf_addc(&in, '.');
	buf_adds(&in, "\nFrom x");
	assert_int_equal(mime_body(&b, in.data, in.len, &cte), 0);
	assert_string_equal(cte, "quoted-printable");
	check_limits(&b, 76);
	/* soft-broken lines never start with '.' */
	assert_null(strstr(b.data, "\r\n."));
	assert_null(strstr(b.data, "\r\nFrom "));
	buf_reset(&b);
	buf_reset(&in);
	for (i = 0; i < 700; i++)
		buf_adds(&in, "日");
	assert_int_equal(mime_body(&b, in.data, in.len, &cte), 0);
	assert_string_equal(cte, "base64");
	check_limits(&b, 76);
	buf_free(&b);
	buf_free(&in);
}

/* Random bodies from pieces that steer every branch of the encoder:
 * line breaks of each kind, '.', "From ", '=', NUL, trailing blanks,
 * Japanese, and runs long enough to pass 76 and 998 octets. */
static size_t
random_body(struct buf *b, uint32_t *seed)
{
	static const char *const piece[] = {
		"\r\n", "\n", "\r", "\r\r\n", ".", "From ", "F", "=", " ",
		"\t", "x", "abc def", "é", "お問い合わせ", "\x01", "\x7f",
		"\xff", "Fro", "\n.", "\nFrom x",
	};
	size_t i, n, k;

	buf_reset(b);
	*seed = *seed * 1103515245u + 12345u;
	n = *seed >> 16 & 63;
	for (i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		k = (*seed >> 16) % (ARRAY_LEN(piece) + 3);
		if (k == ARRAY_LEN(piece))
			buf_addc(b, '\0');
		else if (k > ARRAY_LEN(piece))	/* a long run */
			for (k = (*seed >> 8) % 1100; k > 0; k--)
				buf_addc(b, (*seed & 1) ? 'y' : '\xe3');
		else
			buf_adds(b, piece[k]);
	}
	return b->len;
}

/* mime_body against the plain encoder it replaced (ref_mime.h): the
 * same CTE and the same bytes, on many bodies. */
static void
test_body_reference(void **state)
{
	struct buf in, got, want;
	const char *cg, *cw;
	uint32_t seed = 21;
	size_t i, seen[3] = { 0, 0, 0 };

	(void)state;
	buf_init(&in);
	buf_init(&got);
	buf_init(&want);
	for (i = 0; i < 20000; i++) {
		random_body(&in, &seed);
		buf_reset(&got);
		buf_reset(&want);
		buf_adds(&got, "head");
		buf_adds(&want, "head");
		assert_int_equal(mime_body(&got, in.data, in.len, &cg), 0);
		assert_int_equal(ref_mime_body(&want, in.data, in.len, &cw), 0);
		assert_string_equal(cg, cw);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, got.len);
		seen[cg[0] == '7' ? 0 : cg[0] == 'q' ? 1 : 2]++;
	}
	/* every encoding was exercised */
	assert_true(seen[0] > 100 && seen[1] > 100 && seen[2] > 100);
	buf_free(&in);
	buf_free(&got);
	buf_free(&want);
}

/* mime_base64 against the plain encoder, every length up to 200. */
static void
test_base64_reference(void **state)
{
	unsigned char src[200];
	struct buf got, want;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof src; i++)
		src[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof src; n++) {
		buf_init(&got);
		buf_init(&want);
		mime_base64(&got, src, n);
		ref_b64_put(&want, src, n);
		assert_int_equal(got.len, want.len);
		assert_true(got.data == NULL ? want.data == NULL :
		    memcmp(got.data, want.data, got.len + 1) == 0);
		buf_free(&got);
		buf_free(&want);
	}
}

/* --- whole messages --- */

static void
test_write_golden(void **state)
{
	static const struct mime_addr to[] = {
		{ NULL, 0, "info@example.jp" },
	};
	static const struct mime_addr cc[] = {
		{ "Sales, Tokyo", 12, "sales@example.jp" },
		{ NULL, 0, "taro..x.@docomo.ne.jp" },
	};
	struct mime_addr reply = A("山田 太郎", "taro@example.com");
	struct mime_msg m;
	struct buf b;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.from.name = "お問い合わせフォーム";
	m.from.name_len = strlen(m.from.name);
	m.from.addr = "form@example.jp";
	m.reply_to = &reply;
	m.to = to;
	m.nto = 1;
	m.subject = "【お問い合わせ】 製品について";
	m.subject_len = strlen(m.subject);
	m.date = 1795870927;
	m.utc_offset_min = 540;
	m.message_id = "20261128.a1b2c3@example.jp";
	m.body = "お名前: 山田 太郎\nメール: taro@example.com\n";
	m.body_len = strlen(m.body);
	buf_init(&b);
	assert_int_equal(mime_write(&b, &m), 0);
	expect_buf("message ja", &b,
	    "Date: Sat, 28 Nov 2026 22:02:07 +0900\r\n"
	    "From: =?UTF-8?B?44GK5ZWP44GE5ZCI44KP44Gb44OV44Kp44O844Og?= <form@example.jp>\r\n"
	    "Reply-To: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.com>\r\n"
	    "To: info@example.jp\r\n"
	    "Subject: =?UTF-8?B?44CQ44GK5ZWP44GE5ZCI44KP44Gb44CRIOijveWTgeOBq+OBpOOBhA==?=\r\n"
	    " =?UTF-8?B?44Gm?=\r\n"
	    "Message-ID: <20261128.a1b2c3@example.jp>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "44GK5ZCN5YmNOiDlsbHnlLAg5aSq6YOODQrjg6Hjg7zjg6s6IHRhcm9AZXhhbXBsZS5jb20NCg==\r\n");
	buf_free(&b);

	m.from.name = "Example";
	m.from.name_len = 7;
	m.reply_to = NULL;
	m.cc = cc;
	m.ncc = 2;
	m.subject = "Contact form";
	m.subject_len = 12;
	m.utc_offset_min = -300;
	m.body = "Name: Jim\r\n.\r\nFrom here";
	m.body_len = strlen(m.body);
	buf_init(&b);
	assert_int_equal(mime_write(&b, &m), 0);
	expect_buf("message ascii", &b,
	    "Date: Sat, 28 Nov 2026 08:02:07 -0500\r\n"
	    "From: Example <form@example.jp>\r\n"
	    "To: info@example.jp\r\n"
	    "Cc: \"Sales, Tokyo\" <sales@example.jp>, \"taro..x.\"@docomo.ne.jp\r\n"
	    "Subject: Contact form\r\n"
	    "Message-ID: <20261128.a1b2c3@example.jp>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "Name: Jim\r\n"
	    ".\r\n"
	    "From here\r\n");
	buf_free(&b);
}

static void
test_write_reject(void **state)
{
	static const struct mime_addr to = { NULL, 0, "info@example.jp" };
	struct mime_addr bad = { "x\ny", 3, "a@example.jp" };
	struct mime_msg m, v;
	struct buf b;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.from.addr = "form@example.jp";
	m.to = &to;
	m.nto = 1;
	m.subject = "s";
	m.subject_len = 1;
	m.message_id = "x@example.jp";
	buf_init(&b);
	assert_int_equal(mime_write(&b, &m), 0);

	v = m;
	v.nto = 0;
	buf_reset(&b);
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.to = NULL;
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.ncc = 1;
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.message_id = "<x@example.jp>";
	assert_int_equal(mime_write(&b, &v), -1);
	v.message_id = "x@example.jp\r\nBcc: a@b";
	assert_int_equal(mime_write(&b, &v), -1);
	v.message_id = "noat";
	assert_int_equal(mime_write(&b, &v), -1);
	v.message_id = NULL;
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.subject = "a\nBcc: evil@example.com";
	v.subject_len = strlen(v.subject);
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.reply_to = &bad;
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.from.addr = "form@example.jp\r\nBcc: a@b.jp";
	assert_int_equal(mime_write(&b, &v), -1);
	v = m;
	v.utc_offset_min = 100000;
	assert_int_equal(mime_write(&b, &v), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unstructured_golden),
		cmocka_unit_test(test_unstructured_long),
		cmocka_unit_test(test_unstructured_reject),
		cmocka_unit_test(test_addresses_golden),
		cmocka_unit_test(test_addresses_reject),
		cmocka_unit_test(test_envelope_ok),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_date_reference),
		cmocka_unit_test(test_body_golden),
		cmocka_unit_test(test_body_long_lines),
		cmocka_unit_test(test_body_reference),
		cmocka_unit_test(test_base64_reference),
		cmocka_unit_test(test_write_golden),
		cmocka_unit_test(test_write_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
