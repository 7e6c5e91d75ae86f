/* Field rules: accept and reject cases for every type and rule. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "form.h"
#include "ref_email.h"
#include "ref_multiline.h"
#include "util.h"
#include "validate.h"


static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    fields:\n"
    "      name: { label: お名前, required: true, max: 5 }\n"
    "      nick: { label: ニックネーム, min: 2 }\n"
    "      email: { label: メール, type: email, reply_to: true }\n"
    "      email2: { label: 確認, type: email, confirm: email }\n"
    "      remail: { label: 必須メール, type: email, required: true }\n"
    "      tel: { label: 電話, type: tel, required: true }\n"
    "      url: { label: URL, type: url, required: true }\n"
    "      age: { label: 年齢, type: number, min: 0, max: 130, required: true }\n"
    "      price: { label: 金額, type: number, min: -0.5, max: 99.5 }\n"
    "      topic: { label: 種別, type: select, options: [見積, 採用], required: true }\n"
    "      color: { label: 色, type: radio, options: [赤, 青] }\n"
    "      msg: { label: 内容, type: multiline, min: 2, max: 6, required: true }\n"
    "      agree: { label: 同意, type: checkbox, required: true }\n"
    "      news: { label: お知らせ, type: checkbox }\n"
    "      days: { label: 曜日, type: checkbox, options: [月, 火], required: true }\n"
    "      zip: { label: 郵便番号, pattern: \"[0-9]{3}-[0-9]{4}\", max: 8 }\n"
    "      code: { label: コード, pattern: \"A|B\" }\n";

#include "fixture.h"

static const struct field *
fld(const char *name)
{
	size_t i;

	for (i = 0; i < cfg->sites[0].nfields; i++)
		if (strcmp(cfg->sites[0].fields[i].name, name) == 0)
			return &cfg->sites[0].fields[i];
	fail_msg("no field %s", name);
	return NULL;
}

struct pair {
	const char *name, *value;
	size_t len;                 /* 0: strlen(value) */
	int is_file;
};

/* Validates the posted pairs and returns the error code of field `which`
 * (NULL if none), copying its normalised value into value_out. */
static const char *
check_pairs(const char *which, char *value_out, size_t outlen,
    const struct pair *p, size_t n)
{
	struct form f = { 0 };
	struct fvals v;
	const char *code = "no such field";
	size_t i;

	f.fields = calloc(n + 1, sizeof *f.fields);
	assert_non_null(f.fields);
	for (i = 0; i < n; i++) {
		size_t len = p[i].len ? p[i].len : strlen(p[i].value);
		f.fields[i].name = strdup(p[i].name);
		f.fields[i].name_len = strlen(p[i].name);
		f.fields[i].value = malloc(len + 1);
		assert_non_null(f.fields[i].value);
		memcpy(f.fields[i].value, p[i].value, len);
		f.fields[i].value[len] = '\0';
		f.fields[i].value_len = len;
		f.fields[i].is_file = p[i].is_file;
	}
	f.n = n;
	assert_int_equal(validate_form(&cfg->sites[0], &f, &v), 0);
	for (i = 0; i < cfg->sites[0].nfields; i++)
		if (strcmp(cfg->sites[0].fields[i].name, which) == 0) {
			code = v.v[i].error;
			if (value_out)
				snprintf(value_out, outlen, "%s", v.v[i].value);
		}
	fvals_free(&v);
	form_free(&f);
	return code;
}

/* check(which, out, outlen, name, value, ..., NULL) */
static const char *
check(const char *which, char *value_out, size_t outlen, ...)
{
	struct pair p[32];
	size_t n = 0;
	va_list ap;
	const char *k;

	va_start(ap, outlen);
	while ((k = va_arg(ap, const char *)) != NULL && n < 32) {
		p[n].name = k;
		p[n].value = va_arg(ap, const char *);
		p[n].len = 0;
		p[n++].is_file = 0;
	}
	va_end(ap);
	return check_pairs(which, value_out, outlen, p, n);
}

/* One field with an explicit length (values holding NUL). */
static const char *
check_len(const char *which, const char *value, size_t len)
{
	struct pair p = { which, value, len, 0 };

	return check_pairs(which, NULL, 0, &p, 1);
}

#define OK(field, val, want) do { char ok_[512]; \
	const char *c_ = check(field, ok_, sizeof ok_, field, val, NULL); \
	if (c_) fail_msg("%s=%s: unexpected %s", field, val, c_); \
	if (strcmp(ok_, want)) fail_msg("%s=%s: value %s want %s", field, \
	    val, ok_, want); } while (0)
#define BAD(field, val, code) do { \
	const char *c_ = check(field, NULL, 0, field, val, NULL); \
	if (c_ == NULL || strcmp(c_, code)) \
		fail_msg("%s=%s: got %s want %s", field, val, c_ ? c_ : "ok", \
		    code); } while (0)
#define ABSENT_OK(field) \
	assert_null(check(field, NULL, 0, "other", "x", NULL))
#define ABSENT_BAD(field) \
	assert_string_equal(check(field, NULL, 0, "other", "x", NULL), \
	    "required")

/* Every control a one-line field must refuse (utf8_is_ctl). */
static const char *const controls[] = {
	"a\rb", "a\nb", "a\r\nBcc: x@y.z", "a\tb", "a\x01" "b", "a\x1b[0m",
	"a\x7f", "a\xc2\x80", "a\xc2\x85" "b", "a\xc2\x9f",
	"a\xe2\x80\xa8" "b", "a\xe2\x80\xa9" "b",
};

static void
test_text(void **state)
{
	size_t i;

	(void)state;
	OK("name", "山田", "山田");
	OK("name", "山田太郎五", "山田太郎五");     /* 5 characters, not bytes */
	OK("name", "  Ann  ", "Ann");              /* spaces trimmed */
	OK("nick", "<script>&\"'", "<script>&\"'"); /* kept as typed */
	BAD("name", "山田太郎五六", "too_long");
	BAD("name", "", "required");
	BAD("name", "   ", "required");
	BAD("name", "\xe3\x80\x80\xe3\x80\x80", "required"); /* 全角空白 */
	ABSENT_BAD("name");
	for (i = 0; i < sizeof controls / sizeof *controls; i++)
		BAD("name", controls[i], "control_char");
	assert_string_equal(check_len("name", "a\0b", 3), "control_char");
	/* min: characters, and only when something was typed */
	OK("nick", "太郎", "太郎");
	BAD("nick", "太", "too_short");
	OK("nick", "", "");
	ABSENT_OK("nick");
}

static void
test_multiline(void **state)
{
	(void)state;
	OK("msg", "一\r二\n三\r\n", "一\r\n二\r\n三");
	OK("msg", "a\xc2\x85" "b\xe2\x80\xa8" "c", "a\r\nb\r\nc");
	OK("msg", "a\xe2\x80\xa9" "b", "a\r\nb");
	OK("msg", "タブ\tOK", "タブ\tOK");
	OK("msg", "\r\n\r\nab", "\r\n\r\nab");     /* leading lines kept */
	/* max 6 characters: a line break counts once, as in the browser */
	OK("msg", "a\r\nbc\r\nd", "a\r\nbc\r\nd");
	BAD("msg", "a\r\nbc\r\nde", "too_long");
	BAD("msg", "a", "too_short");
	BAD("msg", "", "required");
	BAD("msg", " \r\n\t\xe3\x80\x80\r\n", "required");
	BAD("msg", "ab\x01", "control_char");
	BAD("msg", "ab\x1b", "control_char");
	BAD("msg", "ab\x7f", "control_char");
	BAD("msg", "ab\xc2\x80", "control_char");
	BAD("msg", "ab\xc2\x9f", "control_char");
	assert_string_equal(check_len("msg", "ab\0cd", 5), "control_char");
}

static void
test_email(void **state)
{
	char out[512], local[80], addr[300];
	const char *code;
	char *e;
	int quoted;

	(void)state;
	OK("email", "taro@example.jp", "taro@example.jp");
	OK("email", "Taro.Yamada+x@EXAMPLE.JP", "Taro.Yamada+x@example.jp");
	OK("email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp");
	OK("email", "ｔａｒｏ＿ｘ＠ＥＸＡＭＰＬＥ．ＪＰ", "taro_x@example.jp");
	OK("email", "taro@日本語.jp", "taro@xn--wgv71a119e.jp");
	OK("email", "taro@スーパー.jp", "taro@xn--zck5b0gb.jp"); /* ー kept */
	OK("email", "  taro@example.jp\xe3\x80\x80", "taro@example.jp");
	OK("email", "", "");
	ABSENT_OK("email");
	BAD("remail", "", "required");
	ABSENT_BAD("remail");
	BAD("email", "taro..x@example.jp", "invalid_email");
	BAD("email", "taro.@example.jp", "invalid_email");
	BAD("email", ".taro@example.jp", "invalid_email");
	BAD("email", "たろう@example.jp", "non_ascii_local");
	BAD("email", "tarö@example.jp", "non_ascii_local");
	BAD("email", "taro@example", "invalid_email");
	BAD("email", "a@localhost", "invalid_email");
	BAD("email", "=?utf-8?q?x=0D=0ABcc=3Aevil=40evil.test?=@example.jp",
	    "invalid_email");
	BAD("email", "=?utf-8?b?LCBldmls?=@docomo.ne.jp", "invalid_email");
	BAD("email", "taro@example.jp.", "invalid_email");
	BAD("email", "taro@-example.jp", "invalid_email");
	BAD("email", "taro@exa_mple.jp", "invalid_email");
	BAD("email", "taro@[127.0.0.1]", "invalid_email");
	BAD("email", "taro", "invalid_email");
	BAD("email", "@example.jp", "invalid_email");
	BAD("email", "a@b@example.jp", "invalid_email");
	BAD("email", "a@b.jp\r\nBcc: c@d.jp", "control_char");
	BAD("email", "a@b.jp\xe2\x80\xa8", "control_char");
	BAD("email", "<a@b.jp>", "invalid_email");
	BAD("email", "\"a b\"@example.jp", "invalid_email");
	BAD("email", "a b@example.jp", "invalid_email");

	/* RFC 5321 §4.5.3.1: local part 64, label 63, path 254 octets */
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(addr, sizeof addr, "%s@example.jp", local);
	OK("email", addr, addr);
	snprintf(addr, sizeof addr, "a%s@example.jp", local);
	BAD("email", addr, "invalid_email");
	snprintf(addr, sizeof addr, "a@%.63s.jp", local);
	OK("email", addr, addr);
	snprintf(addr, sizeof addr, "a@%.64s.jp", "a" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	BAD("email", addr, "invalid_email");
	/* 64 + 1 + 63+1+63+1+61 = 254 */
	snprintf(addr, sizeof addr, "%s@%.63s.%.63s.%.61s", local, local,
	    local, local);
	assert_int_equal(strlen(addr), 254);
	OK("email", addr, addr);
	snprintf(addr, sizeof addr, "%s@%.63s.%.63s.%.62s", local, local,
	    local, local);
	BAD("email", addr, "invalid_email");

	/* Legacy carrier addresses: accepted, flagged for quoting */
	OK("email", "taro..x.@docomo.ne.jp", "taro..x.@docomo.ne.jp");
	OK("email", "taro.@ezweb.ne.jp", "taro.@ezweb.ne.jp");
	OK("email", "a..b@au.com", "a..b@au.com");
	OK("email", "a.@softbank.ne.jp", "a.@softbank.ne.jp");
	OK("email", "a..@i.softbank.jp", "a..@i.softbank.jp");
	OK("email", "ｔａｒｏ．．＠ＤＯＣＯＭＯ．ＮＥ．ＪＰ", "taro..@docomo.ne.jp");
	BAD("email", ".taro@docomo.ne.jp", "invalid_email");
	BAD("email", "taro..x@gmail.com", "invalid_email");
	BAD("email", "taro..x@x.docomo.ne.jp", "invalid_email");
	BAD("email", "taro..x@docomo.ne.jp.example", "invalid_email");
	assert_int_equal(validate_email("taro..x.@docomo.ne.jp", 21, &e, &code,
	    &quoted), VALIDATE_OK);
	assert_non_null(e);
	assert_null(code);
	assert_int_equal(quoted, 1);
	free(e);
	assert_int_equal(validate_email("taro.x@docomo.ne.jp", 19, &e, &code,
	    &quoted), VALIDATE_OK);
	assert_non_null(e);
	assert_int_equal(quoted, 0);
	free(e);
	e = NULL;
	assert_int_equal(validate_email("たろう@docomo.ne.jp",
	    strlen("たろう@docomo.ne.jp"), &e, &code, &quoted),
	    VALIDATE_INVALID);
	assert_null(e);
	assert_string_equal(code, "non_ascii_local");

	/* confirm: equal after normalisation */
	assert_null(check("email2", out, sizeof out, "email", "a@b.jp",
	    "email2", "ａ＠Ｂ．ｊｐ", NULL));
	assert_string_equal(out, "a@b.jp");
	assert_null(check("email2", NULL, 0, NULL));   /* both empty */
	assert_string_equal(check("email2", NULL, 0, "email", "a@b.jp",
	    "email2", "c@b.jp", NULL), "mismatch");
	assert_string_equal(check("email2", NULL, 0, "email", "a@b.jp",
	    NULL), "mismatch");
	/* the confirming field's own error wins over mismatch */
	assert_string_equal(check("email2", NULL, 0, "email", "a@b.jp",
	    "email2", "bad", NULL), "invalid_email");
}

static void
test_tel(void **state)
{
	(void)state;
	OK("tel", "03-1234-5678", "03-1234-5678");
	OK("tel", "０３－１２３４－５６７８", "03-1234-5678");
	OK("tel", "03ー1234ー5678", "03-1234-5678");     /* 長音 as dash */
	OK("tel", "03‐1234−5678", "03-1234-5678");       /* U+2010, U+2212 */
	OK("tel", "03―1234–5678", "03-1234-5678");       /* U+2015, U+2013 */
	OK("tel", "03ｰ1234ｰ5678", "03-1234-5678");       /* half-width ｰ */
	OK("tel", "＋８１　(3) 1234 5678", "+81 (3) 1234 5678");
	OK("tel", "123456", "123456");
	OK("tel", "12345678901234567890", "12345678901234567890");
	BAD("tel", "12345", "invalid_tel");
	BAD("tel", "123456789012345678901", "invalid_tel");
	BAD("tel", "03-1234-567a", "invalid_tel");
	BAD("tel", "03+1234+5678", "invalid_tel");
	BAD("tel", "03.1234.5678", "invalid_tel");
	BAD("tel", "〇三一二三四五六七八", "invalid_tel");
	BAD("tel", "", "required");
	BAD("tel", "03-1234\n-5678", "control_char");
}

static void
test_url(void **state)
{
	(void)state;
	OK("url", "https://example.com/a?b", "https://example.com/a?b");
	OK("url", "http://example.com", "http://example.com");
	OK("url", "HTTPS://Example.com/", "HTTPS://Example.com/");
	OK("url", "https://例え.jp/パス", "https://例え.jp/パス");
	BAD("url", "javascript:alert(1)", "invalid_url");
	BAD("url", "data:text/html,x", "invalid_url");
	BAD("url", "ftp://example.com", "invalid_url");
	BAD("url", "example.com", "invalid_url");
	BAD("url", "https://", "invalid_url");
	BAD("url", "https:///x", "invalid_url");
	BAD("url", "https://?q", "invalid_url");
	BAD("url", "https://exa mple.com", "invalid_url");
	BAD("url", "https://example.com/\"><x", "invalid_url");
	BAD("url", "", "required");
	BAD("url", "https://a.jp/\x0d", "control_char");
}

static void
test_number(void **state)
{
	(void)state;
	OK("age", "42", "42");
	OK("age", "４２", "42");
	OK("age", "0", "0");
	OK("age", "130", "130");
	OK("age", " 7 ", "7");
	BAD("age", "131", "too_large");
	BAD("age", "-1", "too_small");
	BAD("age", "－１", "too_small");          /* full-width minus folded */
	BAD("age", "4x", "invalid_number");
	BAD("age", "1e3", "invalid_number");
	BAD("age", "0x10", "invalid_number");
	BAD("age", "1,000", "invalid_number");
	BAD("age", "--1", "invalid_number");
	BAD("age", ".", "invalid_number");
	BAD("age", "-", "invalid_number");
	BAD("age", "nan", "invalid_number");
	BAD("age", "", "required");
	ABSENT_BAD("age");
	/* min/max are values, not lengths: "99.5" has four characters */
	OK("price", "99.5", "99.5");
	OK("price", "-0.5", "-0.5");
	OK("price", "１２．２５", "12.25");
	OK("price", "0000000000000000000000000000001", "0000000000000000000000000000001");
	BAD("price", "99.51", "too_large");
	BAD("price", "-0.6", "too_small");
	OK("price", "", "");
}

static void
test_choices(void **state)
{
	char out[256];

	(void)state;
	OK("topic", "見積", "見積");
	BAD("topic", "その他", "invalid_option");
	BAD("topic", "", "required");
	assert_string_equal(check("topic", NULL, 0, "topic", "見積",
	    "topic", "採用", NULL), "repeated");
	/* radio is select */
	OK("color", "青", "青");
	OK("color", "", "");
	BAD("color", "緑", "invalid_option");
	/* consent box */
	OK("agree", "1", "1");
	OK("agree", "on", "on");
	BAD("agree", "", "required");
	ABSENT_BAD("agree");
	assert_string_equal(check("agree", NULL, 0, "agree", "1", "agree",
	    "1", NULL), "repeated");
	ABSENT_OK("news");
	/* group: the only repeated name accepted; a choice counts once */
	assert_null(check("days", out, sizeof out, "days", "月", "days", "火",
	    NULL));
	assert_string_equal(out, "月, 火");
	assert_null(check("days", out, sizeof out, "days", "火", "days", "火",
	    NULL));
	assert_string_equal(out, "火");
	OK("days", "月", "月");
	BAD("days", "水", "invalid_option");
	assert_string_equal(check("days", NULL, 0, "days", "月", "days",
	    "水", NULL), "invalid_option");
	ABSENT_BAD("days");
}

static void
test_pattern(void **state)
{
	char err[256];
	struct config *c;
	static const char bad[] =
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n  s:\n    origins: [https://a.example]\n"
	    "    from: a@a.example\n    to: [b@a.example]\n"
	    "    fields:\n      x: { pattern: \"a)|(b\" }\n";

	(void)state;
	OK("zip", "123-4567", "123-4567");
	OK("zip", "", "");                    /* optional: pattern not applied */
	BAD("zip", "1234-567", "pattern");
	BAD("zip", "x23-4567", "pattern");    /* whole value: no prefix */
	BAD("zip", "123-4567x", "too_long");
	BAD("zip", "123-45678", "too_long");  /* max before pattern */
	BAD("zip", "123-456", "pattern");
	BAD("zip", "１２３-４５６７", "pattern");  /* text: not folded */
	/* "A|B" is anchored as a whole, not as ^A|B$ */
	OK("code", "A", "A");
	OK("code", "B", "B");
	BAD("code", "AB", "pattern");
	BAD("code", "xB", "pattern");
	BAD("code", "Ax", "pattern");
	/* a pattern that would escape the anchors is a config error */
	c = config_parse("t.yaml", NULL, bad, sizeof bad - 1, err, sizeof err);
	assert_null(c);
	assert_non_null(strstr(err, "pattern"));
}

static void
test_files_and_unknown(void **state)
{
	struct pair p[] = {
		{ "name", "x", 1, 1 },
		{ "unknown", "ignored", 0, 0 },
	};

	(void)state;
	assert_string_equal(check_pairs("name", NULL, 0, p, 1),
	    "file_not_allowed");
	assert_null(check_pairs("nick", NULL, 0, p + 1, 1));
}

static void
test_messages(void **state)
{
	static const char *const codes[] = {
		"required", "too_long", "too_short", "invalid_email",
		"non_ascii_local", "invalid_tel", "invalid_url",
		"invalid_number", "too_small", "too_large", "invalid_option",
		"pattern", "mismatch", "control_char", "file_not_allowed",
		"repeated",
	};
	const struct field *f = &cfg->sites[0].fields[0];
	char buf[256], other[256];
	size_t i;

	(void)state;
	assert_string_equal(validate_message("too_long", LANG_JA, f, buf,
	    sizeof buf), "お名前は5文字以内で入力してください。");
	assert_string_equal(validate_message("too_long", LANG_EN, f, buf,
	    sizeof buf), "お名前 must be at most 5 characters.");
	assert_string_equal(validate_message("required", LANG_EN, f, buf,
	    sizeof buf), "Please fill in お名前.");
	assert_string_equal(validate_message("too_small", LANG_JA,
	    fld("price"), buf, sizeof buf),
	    "金額は-0.5以上で入力してください。");
	/* every code: its own message in both languages, naming the label */
	for (i = 0; i < sizeof codes / sizeof *codes; i++) {
		validate_message("no_such_code", LANG_JA, f, other,
		    sizeof other);
		validate_message(codes[i], LANG_JA, f, buf, sizeof buf);
		if (strstr(buf, "お名前") == NULL || !strcmp(buf, other))
			fail_msg("ja %s: %s", codes[i], buf);
		validate_message("no_such_code", LANG_EN, f, other,
		    sizeof other);
		validate_message(codes[i], LANG_EN, f, buf, sizeof buf);
		if (strstr(buf, "お名前") == NULL || !strcmp(buf, other))
			fail_msg("en %s: %s", codes[i], buf);
	}
	/* "required" speaks of ticking and choosing where nothing is typed */
	assert_string_equal(validate_message("required", LANG_JA,
	    fld("agree"), buf, sizeof buf),
	    "同意にチェックを入れてください。");
	assert_string_equal(validate_message("required", LANG_EN,
	    fld("agree"), buf, sizeof buf), "Please tick 同意.");
	assert_string_equal(validate_message("required", LANG_JA,
	    fld("topic"), buf, sizeof buf),
	    "種別を選択してください。");
	assert_string_equal(validate_message("required", LANG_EN,
	    fld("days"), buf, sizeof buf),
	    "Please choose 曜日.");
	/* truncation is safe */
	validate_message("invalid_email", LANG_JA, f, buf, 8);
	assert_true(strlen(buf) < 8);
	/* cut at the byte, as snprintf would, wherever the cut falls */
	assert_string_equal(validate_message("too_long", LANG_EN, f, buf, 14),
	    "お名前 mus");
	assert_string_equal(validate_message("too_long", LANG_EN, f, buf, 10),
	    "お名前");
	assert_string_equal(validate_message("too_long", LANG_EN, f, buf, 1),
	    "");
}

/* A posted name or value is (bytes, length) and may hold a NUL (%00):
 * "name\0x" is not the field "name", for one-valued fields and checkbox
 * groups alike, as form_get already has it. */
static void
test_nul_in_name(void **state)
{
	struct form f = { 0 };
	struct fvals v;
	size_t i;

	(void)state;
	f.n = 2;
	f.fields = calloc(f.n, sizeof *f.fields);
	assert_non_null(f.fields);
	f.fields[0].name = fp_strndup("name\0x", 6);
	f.fields[0].name_len = 6;
	f.fields[0].value = strdup("taro");
	f.fields[0].value_len = 4;
	f.fields[1].name = fp_strndup("days\0", 5);
	f.fields[1].name_len = 5;
	f.fields[1].value = strdup("\xe6\x9c\x88");     /* 月 */
	f.fields[1].value_len = 3;
	assert_int_equal(validate_form(&cfg->sites[0], &f, &v), 0);
	for (i = 0; i < v.n; i++)
		if (strcmp(cfg->sites[0].fields[i].name, "name") == 0 ||
		    strcmp(cfg->sites[0].fields[i].name, "days") == 0) {
			assert_non_null(v.v[i].error);
			assert_string_equal(v.v[i].error, "required");
			assert_string_equal(v.v[i].value, "");
		}
	fvals_free(&v);
	form_free(&f);
	/* Nor is the value "月\0x" the option 月 of a checkbox group. */
	f.n = 1;
	f.fields = calloc(f.n, sizeof *f.fields);
	assert_non_null(f.fields);
	f.fields[0].name = strdup("days");
	f.fields[0].name_len = 4;
	f.fields[0].value = fp_strndup("\xe6\x9c\x88\0x", 5);
	f.fields[0].value_len = 5;
	assert_int_equal(validate_form(&cfg->sites[0], &f, &v), 0);
	for (i = 0; i < v.n; i++)
		if (strcmp(cfg->sites[0].fields[i].name, "days") == 0) {
			assert_non_null(v.v[i].error);
			assert_string_equal(v.v[i].error, "invalid_option");
		}
	fvals_free(&v);
	form_free(&f);
}

/* A random label for the domain shortcut's test: lengths around 0, 4
 * and 63, LDH and not, hyphens where they matter, A-labels (real ones,
 * broken ones, in any case). */
static void
random_label(struct buf *b, uint32_t *seed)
{
	static const char alpha[] = "abcXYZ0189-_!~*";
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 8, 62, 63, 64, 70 };
	static const char *const alabel[] = { "xn--zca", "xn--mnchen-3ya",
	    "XN--MNCHEN-3YA", "xn--wgv71a", "Xn--bcher-kva", "xn--a",
	    "xn--", "xn--ls8h", "xn--1-", "ab--cd", "a--b", "-ab", "ab-",
	    "xn--zca-", "xn--0ca" };
	size_t i, n;

	*seed = *seed * 1103515245u + 12345u;
	if ((*seed >> 16) % 6 == 0) {
		buf_adds(b, alabel[(*seed >> 8) % ARRAY_LEN(alabel)]);
		return;
	}
	n = lens[(*seed >> 16) % ARRAY_LEN(lens)];
	for (i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		/* mostly plain letters and digits, so LDH names are common */
		buf_addc(b, (*seed >> 16) % 4 ? "abz09QZ"[(*seed >> 8) % 7] :
		    alpha[(*seed >> 8) % (sizeof alpha - 1)]);
	}
}

/* The plain host name shortcut gives what idn2 gives (ref_email.h): every
 * domain of up to four characters over letters of both cases, a digit,
 * '-', '.', '_', and random names of up to 300 octets. */
static void
test_email_domain_reference(void **state)
{
	static const char sym[] = "aZ0-._xn";
	struct buf b;
	uint32_t seed = 5;
	size_t len, k, i, labels;
	char d[8];

	(void)state;
	buf_init(&b);
	for (len = 1; len <= 4; len++)
		for (k = 0; k < (size_t)1 << (3 * len); k++) {
			for (i = 0; i < len; i++)
				d[i] = sym[k >> (3 * i) & 7];
			d[len] = '\0';
			buf_reset(&b);
			buf_adds(&b, "u@");
			buf_adds(&b, d);
			assert_true(ref_email_agrees(b.data));
		}
	for (k = 0; k < 20000; k++) {
		buf_reset(&b);
		buf_adds(&b, "Taro.Y@");
		seed = seed * 1103515245u + 12345u;
		labels = 1 + (seed >> 16) % (k % 10 == 0 ? 6 : 3);
		for (i = 0; i < labels; i++) {
			if (i)
				buf_addc(&b, '.');
			random_label(&b, &seed);
		}
		if (b.len > 7 + 300)
			continue;
		assert_true(ref_email_agrees(b.data));
	}
	/* 253 octets of plain labels pass, 254 do not (either way) */
	for (len = 250; len <= 256; len++) {
		buf_reset(&b);
		buf_adds(&b, "u@");
		for (i = 0; i < len; i++)
			buf_addc(&b, i % 64 == 63 ? '.' : 'a');
		assert_true(ref_email_agrees(b.data));
	}
	buf_free(&b);
}

/* A multi-line value normalised in runs is what the code point by code
 * point reference makes of it (ref_multiline.h): line breaks of every
 * kind, TAB, controls of C0, DEL and C1, U+2028/9, Japanese, blanks;
 * and, under a max of 12, counted alike (a line break one character). */
static void
test_multiline_reference(void **state)
{
	static const char y[] =
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n  s:\n    origins: [https://a.example]\n"
	    "    from: a@a.example\n    to: [b@a.example]\n"
	    "    fields:\n      m: { type: multiline }\n"
	    "  t:\n    origins: [https://a.example]\n"
	    "    from: a@a.example\n    to: [b@a.example]\n"
	    "    fields:\n      m: { type: multiline, max: 12 }\n";
	static const char *const piece[] = { "\r\n", "\n", "\r", "\r\r\n",
	    "a", "xyz ", "\t", " ", "お問い合わせ", "\xe3\x80\x80", "\xc2\x85",
	    "\xe2\x80\xa8", "\xe2\x80\xa9", "\x01", "\x7f", "\xc2\x9f",
	    "\xc2\xa0", "~", "\x1f", "\xe2\x80\x94", "\xed\x9f\xbf",
	    "\xe0\xa4\x85", "\xef\xbf\xbd", "\xe1\x80\x80", "\xec\xbf\xbf",
	    "\xf0\x9f\x8d\xa3" };
	struct config *c;
	struct form_field ff;
	struct form f = { &ff, 1 };
	struct fvals v;
	struct buf raw;
	char err[256];
	uint32_t seed = 11;
	size_t k, j, n;

	(void)state;
	if ((c = config_parse("t.yaml", NULL, y, sizeof y - 1, err,
	    sizeof err)) == NULL)
		fail_msg("%s", err);
	buf_init(&raw);
	for (k = 0; k < 20000; k++) {
		buf_reset(&raw);
		buf_add(&raw, "", 0);
		seed = seed * 1103515245u + 12345u;
		n = seed >> 16 & 15;
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			buf_adds(&raw, piece[(seed >> 16) % ARRAY_LEN(piece)]);
		}
		memset(&ff, 0, sizeof ff);
		ff.name = (char *)"m";
		ff.name_len = 1;
		ff.value = raw.data;
		ff.value_len = raw.len;
		assert_int_equal(validate_form(&c->sites[k % 2], &f, &v), 0);
		if (!ref_multiline_agrees(&v.v[0], raw.data, raw.len,
		    k % 2 ? 12 : 0))
			fail_msg("\"%s\": \"%s\" %s", raw.data, v.v[0].value,
			    v.v[0].error ? v.v[0].error : "");
		fvals_free(&v);
	}
	buf_free(&raw);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_email_domain_reference),
		cmocka_unit_test(test_multiline_reference),
		cmocka_unit_test(test_tel),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_choices),
		cmocka_unit_test(test_pattern),
		cmocka_unit_test(test_files_and_unknown),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_nul_in_name),
	};
	return cmocka_run_group_tests(tests, setup_config, teardown);
}
