/* Field rules: accept and reject cases for every type and rule. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "form.h"
#include "validate.h"

static struct config *cfg;

static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    fields:\n"
    "      name: { label: お名前, required: true, max: 5 }\n"
    "      email: { label: メール, type: email, reply_to: true }\n"
    "      email2: { label: 確認, type: email, confirm: email }\n"
    "      tel: { label: 電話, type: tel }\n"
    "      url: { label: URL, type: url }\n"
    "      age: { label: 年齢, type: number, min: 0, max: 130 }\n"
    "      topic: { label: 種別, type: select, options: [見積, 採用] }\n"
    "      msg: { label: 内容, type: multiline, min: 2 }\n"
    "      agree: { label: 同意, type: checkbox, required: true }\n"
    "      days: { label: 曜日, type: checkbox, options: [月, 火] }\n"
    "      zip: { label: 郵便番号, pattern: \"[0-9]{3}-[0-9]{4}\" }\n";

static int
setup(void **state)
{
	char err[256];

	(void)state;
	cfg = config_parse("t.yaml", NULL, yaml, sizeof yaml - 1, err,
	    sizeof err);
	if (cfg == NULL)
		fail_msg("%s", err);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

/* Validates pairs (name, value, ..., NULL) plus a valid baseline, and
 * returns the error code of field `which` (NULL if none) and its value. */
static const char *
check(const char *which, char *value_out, size_t outlen, ...)
{
	static const char *base[] = { "name", "太郎", "agree", "1", NULL };
	struct form f = { 0 };
	struct fvals v;
	const char *names[32], *vals[32], *code = NULL;
	size_t n = 0, i;
	va_list ap;
	const char *k;

	va_start(ap, outlen);
	while ((k = va_arg(ap, const char *)) != NULL) {
		names[n] = k;
		vals[n++] = va_arg(ap, const char *);
	}
	va_end(ap);
	for (i = 0; base[i]; i += 2) {
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(names[j], base[i]) == 0)
				break;
		if (j == n) {
			names[n] = base[i];
			vals[n++] = base[i + 1];
		}
	}
	f.fields = calloc(n, sizeof *f.fields);
	assert_non_null(f.fields);
	for (i = 0; i < n; i++) {
		f.fields[i].name = strdup(names[i]);
		f.fields[i].name_len = strlen(names[i]);
		f.fields[i].value = strdup(vals[i]);
		f.fields[i].value_len = strlen(vals[i]);
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

#define OK(field, val, want) do { char ok_[256]; \
	const char *c_ = check(field, ok_, sizeof ok_, field, val, NULL); \
	if (c_) fail_msg("%s=%s: unexpected %s", field, val, c_); \
	assert_string_equal(ok_, want); } while (0)
#define BAD(field, val, code) do { \
	const char *c_ = check(field, NULL, 0, field, val, NULL); \
	if (c_ == NULL || strcmp(c_, code)) \
		fail_msg("%s=%s: got %s want %s", field, val, c_ ? c_ : "ok", \
		    code); } while (0)

static void
test_text(void **state)
{
	(void)state;
	OK("name", "山田", "山田");
	OK("name", "山田太郎五", "山田太郎五");     /* 5 characters, not bytes */
	BAD("name", "山田太郎五六", "too_long");
	BAD("name", "", "required");
	BAD("name", "a\r\nBcc: x@y.z", "control_char");
	BAD("name", "a\nb", "control_char");
	BAD("name", "a\xc2\x85" "b", "control_char");    /* U+0085 */
	BAD("name", "a\xe2\x80\xa8" "b", "control_char"); /* U+2028 */
	BAD("name", "a\xe2\x80\xa9" "b", "control_char"); /* U+2029 */
	BAD("name", "a\tb", "control_char");
}

static void
test_email(void **state)
{
	char out[256];

	(void)state;
	OK("email", "taro@example.jp", "taro@example.jp");
	OK("email", "Taro.Yamada+x@EXAMPLE.JP", "Taro.Yamada+x@example.jp");
	OK("email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp");
	OK("email", "taro@日本語.jp", "taro@xn--wgv71a119e.jp");
	OK("email", "taro..x.@docomo.ne.jp", "taro..x.@docomo.ne.jp");
	OK("email", "  taro@example.jp  ", "taro@example.jp");
	BAD("email", "taro..x@example.jp", "invalid_email");
	BAD("email", "taro.@example.jp", "invalid_email");
	BAD("email", "たろう@example.jp", "non_ascii_local");
	BAD("email", "taro@example", "invalid_email");
	BAD("email", "taro", "invalid_email");
	BAD("email", "a@b.jp\r\nBcc: c@d.jp", "control_char");
	BAD("email", "<a@b.jp>", "invalid_email");
	BAD("email", "a b@example.jp", "invalid_email");
	assert_null(check("email2", out, sizeof out, "email", "a@b.jp",
	    "email2", "ａ＠ｂ．ｊｐ", NULL));
	assert_string_equal(check("email2", NULL, 0, "email", "a@b.jp",
	    "email2", "c@b.jp", NULL), "mismatch");
}

static void
test_tel_url_number(void **state)
{
	(void)state;
	OK("tel", "03-1234-5678", "03-1234-5678");
	OK("tel", "０３－１２３４－５６７８", "03-1234-5678");
	OK("tel", "03ー1234ー5678", "03-1234-5678");
	OK("tel", "+81 (3) 1234 5678", "+81 (3) 1234 5678");
	BAD("tel", "12345", "invalid_tel");
	BAD("tel", "03-1234-567a", "invalid_tel");
	BAD("tel", "123456789012345678901", "invalid_tel");
	OK("url", "https://example.com/a?b", "https://example.com/a?b");
	BAD("url", "javascript:alert(1)", "invalid_url");
	BAD("url", "https://", "invalid_url");
	OK("age", "42", "42");
	OK("age", "４２", "42");
	OK("age", "0", "0");
	BAD("age", "131", "too_large");
	BAD("age", "-1", "too_small");
	BAD("age", "4x", "invalid_number");
	BAD("age", "1e3", "invalid_number");
}

static void
test_choices(void **state)
{
	char out[256];

	(void)state;
	OK("topic", "見積", "見積");
	BAD("topic", "その他", "invalid_option");
	assert_null(check("days", out, sizeof out, "days", "月", "days", "火",
	    NULL));
	assert_string_equal(out, "月, 火");
	BAD("days", "水", "invalid_option");
	assert_string_equal(check("agree", NULL, 0, "agree", "", NULL),
	    "required");
	assert_string_equal(check("topic", NULL, 0, "topic", "見積",
	    "topic", "採用", NULL), "repeated");
}

static void
test_multiline_pattern(void **state)
{
	(void)state;
	OK("msg", "一行目\r二行目\n三行目\r\n", "一行目\r\n二行目\r\n三行目");
	OK("msg", "タブ\tOK", "タブ\tOK");
	BAD("msg", "a", "too_short");
	BAD("msg", "ab\x01", "control_char");
	BAD("msg", "ab\xc2\x80", "control_char");   /* U+0080, first of C1 */
	BAD("msg", "ab\xc2\x9f", "control_char");
	OK("zip", "123-4567", "123-4567");
	BAD("zip", "1234-567", "pattern");
	BAD("zip", "x123-4567", "pattern");
}

static void
test_messages(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(validate_message("too_long", LANG_JA,
	    &cfg->sites[0].fields[0], buf, sizeof buf),
	    "お名前は5文字以内で入力してください。");
	assert_string_equal(validate_message("required", LANG_EN,
	    &cfg->sites[0].fields[0], buf, sizeof buf), "Please fill in お名前.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_tel_url_number),
		cmocka_unit_test(test_choices),
		cmocka_unit_test(test_multiline_pattern),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
