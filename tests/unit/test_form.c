/*
 * test_form — both body parsers and the boundary extractor, table-driven:
 * each case gives the exact input bytes and either the exact fields
 * (name, value, filename bytes and lengths, in order) or the error.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "form.h"
#include "limits.h"

/* A byte string with its length, so NUL bytes survive. */
#define B(x) x, sizeof(x) - 1
#define MAXF 6

struct want_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	const char *filename;	/* NULL: not a file */
};

struct form_case {
	const char *what;
	const char *body;
	size_t len;
	struct form_limits lim;
	enum form_err err;
	size_t n;
	struct want_field f[MAXF];
};

#define LIM { DEF_MAX_FIELDS, DEF_MAX_FIELD_NAME }
#define F(n, v) { B(n), B(v), NULL }
#define FILE_F(n, v, fn) { B(n), B(v), fn }

static void
check_case(const struct form_case *c, enum form_err err, const struct form *f)
{
	size_t i;

	if (err != c->err)
		fail_msg("%s: error %d, want %d", c->what, err, c->err);
	if (err != FORM_OK) {
		/* On error the output is left empty. */
		assert_null(f->fields);
		assert_int_equal(f->n, 0);
		return;
	}
	if (f->n != c->n)
		fail_msg("%s: %zu fields, want %zu", c->what, f->n, c->n);
	for (i = 0; i < c->n; i++) {
		const struct form_field *g = &f->fields[i];
		const struct want_field *w = &c->f[i];

		if (g->name_len != w->name_len ||
		    memcmp(g->name, w->name, w->name_len) != 0)
			fail_msg("%s: field %zu name differs", c->what, i);
		if (g->value_len != w->value_len ||
		    memcmp(g->value, w->value, w->value_len) != 0)
			fail_msg("%s: field %zu value differs (len %zu, "
			    "want %zu)", c->what, i, g->value_len,
			    w->value_len);
		/* NUL-terminated for convenience. */
		assert_int_equal(g->name[g->name_len], '\0');
		assert_int_equal(g->value[g->value_len], '\0');
		if (w->filename == NULL) {
			assert_null(g->filename);
			if (g->is_file)
				fail_msg("%s: field %zu is_file", c->what, i);
		} else {
			if (!g->is_file || g->filename == NULL)
				fail_msg("%s: field %zu not a file", c->what, i);
			assert_string_equal(g->filename, w->filename);
		}
	}
}

/* 64 and 65 byte names, for the default max_field_name. */
#define N64 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
#define A3 "%E3%81%82"	/* U+3042 HIRAGANA LETTER A, 3 bytes */
#define A21 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3 A3
#define U_A "\xe3\x81\x82"
#define U_A21 U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A U_A \
	U_A U_A U_A U_A U_A U_A

static const struct form_case url_cases[] = {
	{ "Japanese values", B("name=%E5%A4%AA%E9%83%8E&message="
	    "%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF"), LIM, FORM_OK, 2,
	    { F("name", "\xe5\xa4\xaa\xe9\x83\x8e"),
	      F("message", "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1"
	        "\xe3\x81\xaf") } },
	{ "Japanese name, lowercase hex", B("%e3%81%8a%e5%90%8d%e5%89%8d=x"),
	    LIM, FORM_OK, 1,
	    { F("\xe3\x81\x8a\xe5\x90\x8d\xe5\x89\x8d", "x") } },
	{ "plus is space, %2B is plus", B("a+b=1+2%2B3"), LIM, FORM_OK, 1,
	    { F("a b", "1 2+3") } },
	{ "repeated names in order", B("c=x&c=y&d=&c=z"), LIM, FORM_OK, 4,
	    { F("c", "x"), F("c", "y"), F("d", ""), F("c", "z") } },
	{ "empty values", B("a=&b&c="), LIM, FORM_OK, 3,
	    { F("a", ""), F("b", ""), F("c", "") } },
	{ "empty pairs skipped", B("&&a=1&&&b=2&"), LIM, FORM_OK, 2,
	    { F("a", "1"), F("b", "2") } },
	{ "name at the body's end", B("a=1&b"), LIM, FORM_OK, 2,
	    { F("a", "1"), F("b", "") } },
	{ "lone equals", B("&=&"), LIM, FORM_OK, 1, { F("", "") } },
	{ "empty body", B(""), LIM, FORM_OK, 0, { { 0 } } },
	{ "only ampersands", B("&&&"), LIM, FORM_OK, 0, { { 0 } } },
	{ "empty name kept", B("=v"), LIM, FORM_OK, 1, { F("", "v") } },
	{ "equals in value", B("a=b=c"), LIM, FORM_OK, 1, { F("a", "b=c") } },
	{ "percent-encoded & and =", B("a%26b=c%3Dd%26"), LIM, FORM_OK, 1,
	    { F("a&b", "c=d&") } },
	{ "NUL via %00 kept with length", B("a=x%00y&%00=1"), LIM, FORM_OK, 2,
	    { F("a", "x\0y"), F("\0", "1") } },
	{ "raw UTF-8 bytes pass", B("a=\xe3\x81\x82"), LIM, FORM_OK, 1,
	    { F("a", U_A) } },
	{ "4-byte emoji", B("e=%F0%9F%98%80"), LIM, FORM_OK, 1,
	    { F("e", "\xf0\x9f\x98\x80") } },
	{ "bare %", B("a=%"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% one digit at end", B("a=%4"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% one digit then &", B("a=%4&b=1"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% non-hex", B("a=%zz"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% half hex", B("a=%4g"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% at the very end", B("a=1&b=2%"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "% in name", B("%=1"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "double %", B("a=%%41"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "Shift_JIS encoded", B("name=%83%65%83%58%83%67"), LIM, FORM_E_UTF8,
	    0, { { 0 } } },
	{ "Shift_JIS raw", B("name=\x83\x65\x83\x58"), LIM, FORM_E_UTF8, 0,
	    { { 0 } } },
	{ "Shift_JIS in name", B("%82%A0=1"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "overlong slash", B("a=%C0%AF"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "overlong NUL", B("a=%C0%80"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "overlong 3-byte", B("a=%E0%80%AF"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "surrogate", B("a=%ED%A0%80"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "above U+10FFFF", B("a=%F4%90%80%80"), LIM, FORM_E_UTF8, 0,
	    { { 0 } } },
	{ "truncated sequence", B("a=%E3%81&b=1"), LIM, FORM_E_UTF8, 0,
	    { { 0 } } },
	{ "stray continuation", B("a=%80"), LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "fields at cap", B("a=1&b=2"), { 2, 64 }, FORM_OK, 2,
	    { F("a", "1"), F("b", "2") } },
	{ "empty pairs do not count", B("a=1&&&b=2&"), { 2, 64 }, FORM_OK, 2,
	    { F("a", "1"), F("b", "2") } },
	{ "fields over cap", B("a=1&b=2&c=3"), { 2, 64 }, FORM_E_TOO_MANY, 0,
	    { { 0 } } },
	{ "max_fields 0 refuses any field", B("a"), { 0, 64 }, FORM_E_TOO_MANY, 0,
	    { { 0 } } },
	{ "name at cap", B(N64 "=1"), LIM, FORM_OK, 1, { F(N64, "1") } },
	{ "name over cap", B(N64 "n=1"), LIM, FORM_E_NAME, 0, { { 0 } } },
	{ "name over cap at the body's end", B("a=1&" N64 "n"), LIM,
	    FORM_E_NAME, 0, { { 0 } } },
	{ "decoded name at cap (63 bytes)", B(A21 "=1"), LIM, FORM_OK, 1,
	    { F(U_A21, "1") } },
	{ "decoded name over cap (66 bytes)", B(A21 A3 "=1"), LIM, FORM_E_NAME,
	    0, { { 0 } } },
	{ "error after fields frees them", B("a=1&b=2&c=%G0"), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
};

static void
test_urlencoded(void **state)
{
	struct form f;
	enum form_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		/* Garbage in *out must not matter. */
		f.fields = (struct form_field *)&f;
		f.n = 12345;
		err = form_parse_urlencoded(url_cases[i].body, url_cases[i].len,
		    &url_cases[i].lim, &f);
		check_case(&url_cases[i], err, &f);
		form_free(&f);
	}
}

/* Hundreds of fields: the array grows past its first allocation. */
static void
test_urlencoded_many(void **state)
{
	struct form_limits lim = { MAX_MAX_FIELDS, DEF_MAX_FIELD_NAME };
	char body[16 * MAX_MAX_FIELDS], name[16];
	struct form f;
	size_t i, len = 0;

	(void)state;
	for (i = 0; i < MAX_MAX_FIELDS; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
		    "%sf%zu=%zu", i ? "&" : "", i, i * 7);
	assert_int_equal(form_parse_urlencoded(body, len, &lim, &f), FORM_OK);
	assert_int_equal(f.n, MAX_MAX_FIELDS);
	for (i = 0; i < MAX_MAX_FIELDS; i += 97) {
		snprintf(name, sizeof(name), "f%zu", i);
		assert_non_null(form_get(&f, name));
		assert_int_equal(atoi(form_get(&f, name)->value), (int)(i * 7));
	}
	form_free(&f);
	/* One more is refused. */
	len += (size_t)snprintf(body + len, sizeof(body) - len, "&x=1");
	assert_int_equal(form_parse_urlencoded(body, len, &lim, &f),
	    FORM_E_TOO_MANY);
}

static void
test_form_get_free(void **state)
{
	struct form_limits lim = LIM;
	struct form f = { NULL, 0 };
	const struct form_field *g;

	(void)state;
	form_free(&f);	/* no-op on an empty form */
	form_free(&f);
	assert_int_equal(form_parse_urlencoded(B("a=1&b=2&a=3&%00x=4"), &lim,
	    &f), FORM_OK);
	g = form_get(&f, "a");
	assert_non_null(g);
	assert_string_equal(g->value, "1");	/* the first one */
	assert_null(form_get(&f, "c"));
	assert_null(form_get(&f, ""));
	/* A name with a NUL never matches its C-string prefix. */
	assert_null(form_get(&f, "x"));
	form_free(&f);
	assert_null(f.fields);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

/* The honeypot's look at the raw body: a pair named exactly so, with a
 * value; no other pair, no prefix, no encoded name counts. */
static void
test_urlencoded_filled(void **state)
{
	static const struct {
		const char *body;
		int filled;
	} c[] = {
		{ "fp_extra=x", 1 },
		{ "name=a&fp_extra=http%3A%2F%2Fspam", 1 },
		{ "fp_extra=+", 1 },                  /* a space is a value */
		{ "fp_extra=%ZZ&broken", 1 },         /* nothing is checked */
		{ "fp_extra=", 0 },
		{ "fp_extra=&name=a", 0 },
		{ "fp_extra", 0 },
		{ "fp_extra&x=1", 0 },
		{ "fp_extras=x", 0 },                 /* a longer name */
		{ "xfp_extra=x", 0 },
		{ "a=fp_extra=x", 0 },                /* inside a value */
		{ "fp%5Fextra=x", 0 },                /* left to the parser */
		{ "", 0 },
		{ "&&fp_extra=1&&", 1 },
		{ "fp_extra==", 1 },                  /* the first '=' ends it */
		{ "fp_extra=&fp_extra=x", 1 },
		{ "fp_extra&=x", 0 },
		{ "a&&fp_extra", 0 },
	};
	struct form_limits lim = LIM;
	struct form f;
	const struct form_field *g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		if (form_urlencoded_filled(c[i].body, strlen(c[i].body),
		    "fp_extra") != c[i].filled)
			fail_msg("%s: want %d", c[i].body, c[i].filled);
		/* The parser frames the pairs alike: it sees what the look
		 * saw (and may see more, an encoded name). */
		if (form_parse_urlencoded(c[i].body, strlen(c[i].body), &lim,
		    &f) != FORM_OK)
			continue;
		for (g = f.fields; g < f.fields + f.n; g++)
			if (strcmp(g->name, "fp_extra") == 0 &&
			    g->value_len > 0)
				break;
		if (c[i].filled && g == f.fields + f.n)
			fail_msg("%s: the parser sees no value", c[i].body);
		form_free(&f);
	}
	/* Only len bytes are looked at. */
	assert_int_equal(form_urlencoded_filled("fp_extra=x", 9, "fp_extra"),
	    0);
}

/* Multipart bodies, boundary "XyZ" unless stated. */
#define CD "Content-Disposition: form-data; "
#define D "--XyZ\r\n"
#define END "--XyZ--\r\n"
#define PART(hdr, val) D hdr "\r\n\r\n" val "\r\n"
#define H1025 "X-Pad: " \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"ppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" "p"
#define H1024 "X-Pad: " \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp" \
	"ppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
#define XH "X-A: 1\r\n"
_Static_assert(sizeof(H1024) - 1 == LIM_PART_HEADER_BYTES, "H1024");
_Static_assert(sizeof(H1025) - 1 == LIM_PART_HEADER_BYTES + 1, "H1025");

static const struct form_case mp_cases[] = {
	{ "normal browser form", B(
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"name\"\r\n"
	    "\r\n"
	    "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"message\"\r\n"
	    "\r\n"
	    "line 1\r\nline 2\r\n\r\n"
	    "--XyZ--\r\n"), LIM, FORM_OK, 2,
	    { F("name", "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e"),
	      F("message", "line 1\r\nline 2\r\n") } },
	{ "raw UTF-8 name", B(PART(CD "name=\"\xe3\x81\x8a\xe5\x90\x8d\"", "v")
	    END), LIM, FORM_OK, 1, { F("\xe3\x81\x8a\xe5\x90\x8d", "v") } },
	{ "RFC 5987 name*", B(PART(CD "name*=UTF-8''%E3%81%82", "v") END),
	    LIM, FORM_OK, 1, { F(U_A, "v") } },
	{ "name* wins over name, lowercase charset, language", B(
	    PART(CD "name=\"fallback\"; name*=utf-8'ja'%E3%81%82", "v") END),
	    LIM, FORM_OK, 1, { F(U_A, "v") } },
	{ "name* before name", B(
	    PART(CD "name*=UTF-8''a%2Bb; name=\"x\"", "v") END),
	    LIM, FORM_OK, 1, { F("a+b", "v") } },
	{ "name* other charset", B(
	    PART(CD "name*=Shift_JIS''%82%A0", "v") END), LIM, FORM_E_UTF8, 0,
	    { { 0 } } },
	{ "name* bad percent", B(PART(CD "name*=UTF-8''%E3%8", "v") END),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "name* not attr-char", B(PART(CD "name*=UTF-8''a\xe3\x81\x82", "v")
	    END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "name* quoted", B(PART(CD "name*=\"UTF-8''a\"", "v") END),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "name* no quotes", B(PART(CD "name*=UTF-8", "v") END),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "name* overlong", B(PART(CD "name*=UTF-8''%C0%AF", "v") END),
	    LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "quoted-pair escapes", B(PART(CD "name=\"a\\\"b\\\\c\"", "v") END),
	    LIM, FORM_OK, 1, { F("a\"b\\c", "v") } },
	{ "token name, odd spacing", B(PART(CD " name = abc ;", "v") END),
	    LIM, FORM_OK, 1, { F("abc", "v") } },
	{ "header names case-insensitive", B(
	    PART("content-DISPOSITION: FORM-DATA; NAME=\"a\"", "v") END),
	    LIM, FORM_OK, 1, { F("a", "v") } },
	{ "unknown params and headers tolerated", B(
	    PART("X-Foo: bar\r\nContent-Type: text/html; charset=Shift_JIS\r\n"
	    CD "foo=bar; name=\"a\"; size=3", "<b>") END),
	    LIM, FORM_OK, 1, { F("a", "<b>") } },
	{ "_charset_ is just a field", B(PART(CD "name=\"_charset_\"", "UTF-8")
	    END), LIM, FORM_OK, 1, { F("_charset_", "UTF-8") } },
	{ "empty value", B(PART(CD "name=\"a\"", "") END), LIM, FORM_OK, 1,
	    { F("a", "") } },
	{ "headers only, no blank line", B(D CD "name=\"a\"\r\n\r\n" END), LIM,
	    FORM_OK, 1, { F("a", "") } },
	{ "NUL in value kept", B(PART(CD "name=\"a\"", "x\0y") END), LIM,
	    FORM_OK, 1, { F("a", "x\0y") } },
	{ "empty file part dropped", B(
	    PART(CD "name=\"a\"", "1")
	    PART(CD "name=\"up\"; filename=\"\"\r\n"
	    "Content-Type: application/octet-stream", "")
	    PART(CD "name=\"b\"", "2") END), LIM, FORM_OK, 2,
	    { F("a", "1"), F("b", "2") } },
	{ "dropped parts do not count", B(
	    PART(CD "name=\"up\"; filename=\"\"", "")
	    PART(CD "name=\"up\"; filename=\"\"", "")
	    PART(CD "name=\"a\"", "1") END), { 1, 64 }, FORM_OK, 1,
	    { F("a", "1") } },
	{ "non-empty file part flagged", B(
	    PART(CD "name=\"up\"; filename=\"a.txt\"\r\n"
	    "Content-Type: text/plain", "hello") END), LIM, FORM_OK, 1,
	    { FILE_F("up", "hello", "a.txt") } },
	{ "binary file content is not UTF-8 checked", B(
	    PART(CD "name=\"up\"; filename=\"x.bin\"", "\xff\xfe\x00\x83") END),
	    LIM, FORM_OK, 1, { FILE_F("up", "\xff\xfe\x00\x83", "x.bin") } },
	{ "empty filename, non-empty body kept", B(
	    PART(CD "name=\"up\"; filename=\"\"", "data") END), LIM, FORM_OK, 1,
	    { FILE_F("up", "data", "") } },
	{ "named file, empty body kept", B(
	    PART(CD "name=\"up\"; filename=\"e.txt\"", "") END), LIM, FORM_OK, 1,
	    { FILE_F("up", "", "e.txt") } },
	{ "filename* RFC 5987", B(
	    PART(CD "name=\"up\"; filename*=UTF-8''%E3%81%82.txt; "
	    "filename=\"a.txt\"", "x") END), LIM, FORM_OK, 1,
	    { FILE_F("up", "x", U_A ".txt") } },
	{ "Shift_JIS filename", B(
	    PART(CD "name=\"up\"; filename=\"\x83\x65.txt\"", "x") END), LIM,
	    FORM_E_UTF8, 0, { { 0 } } },
	{ "Shift_JIS value", B(PART(CD "name=\"a\"", "\x83\x65\x83\x58") END),
	    LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "Shift_JIS name", B(PART(CD "name=\"\x82\xa0\"", "v") END),
	    LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "surrogate in value", B(PART(CD "name=\"a\"", "\xed\xa0\x80") END),
	    LIM, FORM_E_UTF8, 0, { { 0 } } },
	{ "close delimiter without CRLF", B(
	    "--XyZ\r\n" CD "name=\"a\"\r\n\r\nv\r\n--XyZ--"), LIM, FORM_OK, 1,
	    { F("a", "v") } },
	{ "preamble and epilogue ignored", B(
	    "This is the preamble.\r\n--XyY\r\n-- XyZ\r\n"
	    PART(CD "name=\"a\"", "v") "--XyZ--\r\n"
	    "epilogue\r\n--XyZ\r\ngarbage\n"), LIM, FORM_OK, 1,
	    { F("a", "v") } },
	{ "CRLF-only preamble", B("\r\n" PART(CD "name=\"a\"", "v") END), LIM,
	    FORM_OK, 1, { F("a", "v") } },
	{ "transport padding", B("--XyZ \t\r\n" CD "name=\"a\"\r\n\r\nv\r\n"
	    "--XyZ\t\r\n" CD "name=\"b\"\r\n\r\nw\r\n--XyZ--"), LIM, FORM_OK, 2,
	    { F("a", "v"), F("b", "w") } },
	{ "boundary look-alikes inside a value", B(
	    PART(CD "name=\"a\"",
	    "-XyZ\r\n--XyY\r\n--Xy\n--XyZ\r--XyZ x--XyZ--\r\n--") END),
	    LIM, FORM_OK, 1,
	    { F("a", "-XyZ\r\n--XyY\r\n--Xy\n--XyZ\r--XyZ x--XyZ--\r\n--") } },
	{ "a value cannot start with the delimiter: it ends the part", B(
	    PART(CD "name=\"a\"", "--XyZ\r\n" CD "name=\"b\"\r\n\r\nv") END),
	    LIM, FORM_OK, 2, { F("a", ""), F("b", "v") } },
	{ "no parts, close only", B("--XyZ--\r\n"), LIM, FORM_OK, 0,
	    { { 0 } } },
	{ "eight headers", B(PART(XH XH XH XH XH XH XH CD "name=\"a\"", "v")
	    END), LIM, FORM_OK, 1, { F("a", "v") } },
	{ "nine headers", B(PART(XH XH XH XH XH XH XH XH CD "name=\"a\"", "v")
	    END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "header line at cap", B(PART(H1024 "\r\n" CD "name=\"a\"", "v") END),
	    LIM, FORM_OK, 1, { F("a", "v") } },
	{ "header line over cap", B(PART(H1025 "\r\n" CD "name=\"a\"", "v")
	    END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "missing name", B(PART(CD "filename=\"a.txt\"", "v") END), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "no Content-Disposition", B(PART("Content-Type: text/plain", "v")
	    END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "no headers at all", B(D "\r\nv\r\n" END), LIM, FORM_E_SYNTAX, 0,
	    { { 0 } } },
	{ "not form-data", B(PART("Content-Disposition: attachment; name=\"a\"",
	    "v") END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "two Content-Disposition", B(PART(CD "name=\"a\"\r\n" CD "name=\"b\"",
	    "v") END), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "two name params", B(PART(CD "name=\"a\"; name=\"b\"", "v") END),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "unterminated quoted name", B(PART(CD "name=\"a", "v") END), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "header without colon", B(PART("Oops\r\n" CD "name=\"a\"", "v") END),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "folded header", B(PART(CD "\r\n name=\"a\"", "v") END), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "bare CR in header", B(PART(CD "name=\"a\"\rX: y", "v") END), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "NUL in header", B(PART(CD "name=\"a\0\"", "v") END), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "LF-only framing", B("--XyZ\n" CD "name=\"a\"\n\nv\n--XyZ--\n"), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "LF-only header end", B("--XyZ\r\n" CD "name=\"a\"\n\nv\r\n--XyZ--"),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "missing close delimiter", B(PART(CD "name=\"a\"", "v")), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "truncated after delimiter", B(PART(CD "name=\"a\"", "v") "--XyZ"),
	    LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "truncated in a part", B(D CD "name=\"a\"\r\n\r\nv"), LIM,
	    FORM_E_SYNTAX, 0, { { 0 } } },
	{ "junk after boundary", B(PART(CD "name=\"a\"", "v") "--XyZjunk\r\n"
	    CD "name=\"b\"\r\n\r\nw\r\n" END), LIM, FORM_E_SYNTAX, 0,
	    { { 0 } } },
	{ "no delimiter at all", B("hello"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "empty body", B(""), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "other boundary", B("--Other\r\n" CD "name=\"a\"\r\n\r\nv\r\n"
	    "--Other--"), LIM, FORM_E_SYNTAX, 0, { { 0 } } },
	{ "fields at cap", B(PART(CD "name=\"a\"", "1") PART(CD "name=\"b\"", "2")
	    END), { 2, 64 }, FORM_OK, 2, { F("a", "1"), F("b", "2") } },
	{ "fields over cap", B(PART(CD "name=\"a\"", "1")
	    PART(CD "name=\"b\"", "2") PART(CD "name=\"c\"", "3") END),
	    { 2, 64 }, FORM_E_TOO_MANY, 0, { { 0 } } },
	{ "name at cap", B(PART(CD "name=\"" N64 "\"", "v") END), LIM, FORM_OK,
	    1, { F(N64, "v") } },
	{ "name over cap", B(PART(CD "name=\"" N64 "n\"", "v") END), LIM,
	    FORM_E_NAME, 0, { { 0 } } },
	{ "name* over cap", B(PART(CD "name*=UTF-8''" A21 A3, "v") END), LIM,
	    FORM_E_NAME, 0, { { 0 } } },
};

static void
test_multipart(void **state)
{
	struct form f;
	enum form_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mp_cases) / sizeof(mp_cases[0]); i++) {
		f.fields = (struct form_field *)&f;
		f.n = 12345;
		err = form_parse_multipart(mp_cases[i].body, mp_cases[i].len,
		    "XyZ", &mp_cases[i].lim, &f);
		check_case(&mp_cases[i], err, &f);
		form_free(&f);
	}
}

/* A boundary with spaces and specials, as a quoted parameter allows. */
static void
test_multipart_odd_boundary(void **state)
{
	static const char body[] =
	    "--a b'()+_,-./:=?\r\n" CD "name=\"a\"\r\n\r\nv\r\n"
	    "--a b'()+_,-./:=?--";
	struct form_limits lim = LIM;
	char b[LIM_BOUNDARY_BYTES + 1];
	struct form f;

	(void)state;
	assert_int_equal(form_multipart_boundary(
	    "multipart/form-data; boundary=\"a b'()+_,-./:=?\"", b, sizeof(b)),
	    0);
	assert_int_equal(form_parse_multipart(body, sizeof(body) - 1, b, &lim,
	    &f), FORM_OK);
	assert_int_equal(f.n, 1);
	assert_bytes_equal(f.fields[0].value, f.fields[0].value_len, "v");
	form_free(&f);
	/* The parser refuses boundaries it could never have been given. */
	assert_int_equal(form_parse_multipart(body, sizeof(body) - 1, "", &lim,
	    &f), FORM_E_SYNTAX);
	assert_int_equal(form_parse_multipart(body, sizeof(body) - 1,
	    "12345678901234567890123456789012345678901234567890123456789012345"
	    "678901", &lim, &f), FORM_E_SYNTAX);
}

/* Many near-boundaries: must finish quickly (linear search) and keep
 * every byte.  "\r\n--XyZ" minus its last byte, 20000 times. */
static void
test_multipart_near_boundaries(void **state)
{
	static const char head[] = "--XyZZ\r\n" CD "name=\"a\"\r\n\r\n";
	static const char tail[] = "\r\n--XyZZ--\r\n";
	struct form_limits lim = LIM;
	struct form f;
	size_t n = 20000, len, i;
	char *body;

	(void)state;
	len = sizeof(head) - 1 + n * 7 + sizeof(tail) - 1;
	body = malloc(len);
	assert_non_null(body);
	memcpy(body, head, sizeof(head) - 1);
	for (i = 0; i < n; i++)
		memcpy(body + sizeof(head) - 1 + i * 7, "\r\n--XyZ", 7);
	memcpy(body + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	assert_int_equal(form_parse_multipart(body, len, "XyZZ", &lim, &f),
	    FORM_OK);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.fields[0].value_len, n * 7);
	assert_memory_equal(f.fields[0].value, body + sizeof(head) - 1, n * 7);
	form_free(&f);
	free(body);
}

struct boundary_case {
	const char *ct;
	const char *want;	/* NULL: -1 */
};

#define B70 "1234567890123456789012345678901234567890123456789012345678901234567890"

static const struct boundary_case boundary_cases[] = {
	{ "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
	    "----WebKitFormBoundary7MA4YWxkTrZu0gW" },
	{ "multipart/form-data; boundary=\"quoted boundary\"",
	    "quoted boundary" },
	{ "Multipart/Form-Data; BOUNDARY=abc", "abc" },
	{ "multipart/form-data;boundary=abc", "abc" },
	{ "  multipart/form-data ; charset=UTF-8 ; boundary=abc ; x=\"a;b\"  ",
	    "abc" },
	{ "multipart/form-data; x=\"boundary=no\"; boundary=yes", "yes" },
	{ "multipart/form-data; boundary=\"a\\bc\"", "abc" },
	{ "multipart/form-data; boundary=" B70, B70 },
	{ "multipart/form-data; boundary=\"" B70 "\"", B70 },
	{ "multipart/form-data; boundary=" B70 "1", NULL },
	{ "multipart/form-data; boundary=\"" B70 "1\"", NULL },
	{ "multipart/form-data", NULL },
	{ "multipart/form-data;", NULL },
	{ "multipart/form-data; charset=UTF-8", NULL },
	{ "multipart/form-data; boundary=", NULL },
	{ "multipart/form-data; boundary=\"\"", NULL },
	{ "multipart/form-data; boundary=\"abc \"", NULL },
	{ "multipart/form-data; boundary=\"a\\\"b\"", NULL },
	{ "multipart/form-data; boundary=a{b", NULL },
	{ "multipart/form-data; boundary=\"a\xe3\x81\x82\"", NULL },
	{ "multipart/form-data; boundary=a; boundary=a", NULL },
	{ "multipart/form-data; boundary=\"abc", NULL },
	{ "multipart/form-data; boundary=abc junk", NULL },
	{ "multipart/form-data boundary=abc", NULL },
	{ "multipart/mixed; boundary=abc", NULL },
	{ "text/plain; boundary=abc", NULL },
	{ "application/x-www-form-urlencoded", NULL },
	{ "", NULL },
};

static void
test_boundary(void **state)
{
	char out[LIM_BOUNDARY_BYTES + 1];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(boundary_cases) / sizeof(boundary_cases[0]);
	    i++) {
		const struct boundary_case *c = &boundary_cases[i];

		memset(out, 'Q', sizeof(out));
		r = form_multipart_boundary(c->ct, out, sizeof(out));
		if (c->want == NULL) {
			if (r != -1)
				fail_msg("'%s': accepted as '%s'", c->ct, out);
			continue;
		}
		if (r != 0)
			fail_msg("'%s': refused", c->ct);
		assert_string_equal(out, c->want);
	}
	/* Too small an output buffer is refused, not overrun. */
	memset(out, 'Q', sizeof(out));
	assert_int_equal(form_multipart_boundary(
	    "multipart/form-data; boundary=abcd", out, 4), -1);
	assert_int_equal(out[0], 'Q');
	assert_int_equal(form_multipart_boundary(
	    "multipart/form-data; boundary=abc", out, 4), 0);
	assert_string_equal(out, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urlencoded),
		cmocka_unit_test(test_urlencoded_many),
		cmocka_unit_test(test_form_get_free),
		cmocka_unit_test(test_urlencoded_filled),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_multipart_odd_boundary),
		cmocka_unit_test(test_multipart_near_boundaries),
		cmocka_unit_test(test_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
