/* Content filters (site `filters:`): max_links and require_japanese,
 * answered like a field rule with one error on one field. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "form.h"
#include "ref_links.h"
#include "util.h"
#include "validate.h"

static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    filters: { max_links: 1, require_japanese: true }\n"
    "    fields:\n"
    "      name: { label: お名前 }\n"
    "      email: { label: メール, type: email }\n"
    "      message: { label: 内容, type: multiline, required: true }\n"
    "  open:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    fields:\n"
    "      message: { label: Message, type: multiline }\n";

/* Validates name/email/message against site; returns the error code of
 * the one field that has one (NULL if none) and that field's name. */
static const char *
run(const char *site, const char *name, const char *email, const char *msg,
    const char **field)
{
	static char code[64], fname[64];
	const char *vals[3] = { name, email, msg };
	const char *names[3] = { "name", "email", "message" };
	struct form_field ff[3];
	struct form f = { ff, 0 };
	struct fvals v;
	struct config *c;
	const struct site *s;
	char err[256];
	size_t i;
	const char *out = NULL;

	c = config_parse("t.yaml", NULL, yaml, sizeof yaml - 1, err, sizeof err);
	if (c == NULL)
		fail_msg("%s", err);
	s = config_site(c, site);
	for (i = 0; i < 3; i++) {
		if (vals[i] == NULL)
			continue;
		memset(&ff[f.n], 0, sizeof ff[f.n]);
		ff[f.n].name = (char *)names[i];
		ff[f.n].name_len = strlen(names[i]);
		ff[f.n].value = (char *)vals[i];
		ff[f.n].value_len = strlen(vals[i]);
		f.n++;
	}
	assert_int_equal(validate_form(s, &f, &v), 0);
	*field = NULL;
	for (i = 0; i < v.n; i++)
		if (v.v[i].error) {
			assert_null(out);        /* one error at a time */
			snprintf(code, sizeof code, "%s", v.v[i].error);
			out = code;
			snprintf(fname, sizeof fname, "%s", s->fields[i].name);
			*field = fname;   /* the config is freed below */
		}
	fvals_free(&v);
	config_free(c);
	return out;
}

static void
test_links(void **state)
{
	const char *field;

	(void)state;
	assert_null(run("s", "山田", NULL, "詳細は https://example.jp/a です", &field));
	assert_string_equal(run("s", "山田", NULL,
	    "見て http://a.example と www.b.example", &field), "too_many_links");
	assert_string_equal(field, "message");
	/* Counted over all text fields: the field that crosses is marked. */
	assert_string_equal(run("s", "https://spam.example 山田", NULL,
	    "こちら HTTPS://b.example", &field), "too_many_links");
	assert_string_equal(field, "message");
	/* "https://www.x" is one link, not two. */
	assert_null(run("s", "山田", NULL, "https://www.example.jp です", &field));
	/* An address's "www." is not a link. */
	assert_null(run("s", "山田", "taro@www.example.jp", "www.example.jp です", &field));
	/* No filter configured: any number of links. */
	assert_null(run("open", NULL, NULL, "http://a http://b http://c", &field));
}

static void
test_japanese(void **state)
{
	const char *field;

	(void)state;
	assert_string_equal(run("s", "John", NULL, "Cheap pills", &field),
	    "no_japanese");
	assert_string_equal(field, "message");
	assert_null(run("s", "John", NULL, "見積もりをお願いします", &field));
	assert_null(run("s", "山田", NULL, "Hello", &field));          /* kanji */
	assert_null(run("s", "ﾔﾏﾀﾞ", NULL, "Hello", &field));          /* half-width */
	assert_null(run("open", NULL, NULL, "Hello", &field));
	/* Rules first: a missing message is reported, not the filter. */
	assert_string_equal(run("s", "John", NULL, "", &field), "required");
}

static void
test_messages(void **state)
{
	struct field f = { .label = "内容" };
	char buf[256];

	(void)state;
	assert_string_equal(validate_message("too_many_links", LANG_JA, &f, buf,
	    sizeof buf), "内容に含めるURLの数を減らしてください。");
	assert_string_equal(validate_message("no_japanese", LANG_EN, &f, buf,
	    sizeof buf), "Please write 内容 in Japanese (日本語で入力してください).");
}

/* max_links 0..5 over random texts made of link pieces in every letter
 * case, near misses and Japanese: a text is refused at a limit exactly
 * when the reference counts more links than it. */
static void
test_links_reference(void **state)
{
	static const char *const piece[] = {
		"http://", "HTTPS://", "hTtP://", "https:/", "http:", "wWw.",
		"www", "://www.", "://", "h", "H", "w", "W", "ttp://", "s://",
		"x", " ", "日本", "Ȉ", "ר", "www.www.", "Hhttp://",
	};
	static const char head[] =
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n";
	struct buf y, msg;
	struct config *c;
	char err[256], site[8];
	struct form_field ff;
	struct form f = { &ff, 1 };
	struct fvals v;
	uint32_t seed = 7;
	unsigned want, k, i, j, n;

	(void)state;
	buf_init(&y);
	buf_init(&msg);
	buf_adds(&y, head);
	for (k = 0; k <= 5; k++)
		buf_printf(&y, "  l%u:\n    origins: [https://a.example]\n"
		    "    from: a@a.example\n    to: [b@a.example]\n"
		    "    filters: { max_links: %u }\n"
		    "    fields:\n      message: { label: M, type: multiline }\n",
		    k, k);
	c = config_parse("t.yaml", NULL, y.data, y.len, err, sizeof err);
	if (c == NULL)
		fail_msg("%s", err);
	for (i = 0; i < 3000; i++) {
		buf_reset(&msg);
		seed = seed * 1103515245u + 12345u;
		n = seed >> 16 & 15;
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			buf_adds(&msg, piece[(seed >> 16) % ARRAY_LEN(piece)]);
		}
		buf_adds(&msg, "x");
		want = ref_count_links(msg.data, msg.len);
		for (k = 0; k <= 5; k++) {
			snprintf(site, sizeof site, "l%u", k);
			memset(&ff, 0, sizeof ff);
			ff.name = (char *)"message";
			ff.name_len = 7;
			ff.value = msg.data;
			ff.value_len = msg.len;
			assert_int_equal(validate_form(config_site(c, site), &f,
			    &v), 0);
			if ((v.v[0].error != NULL) != (want > k))
				fail_msg("\"%s\": %u links, limit %u: %s",
				    msg.data, want, k, v.v[0].error ?
				    v.v[0].error : "accepted");
			fvals_free(&v);
		}
	}
	config_free(c);
	buf_free(&y);
	buf_free(&msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_links_reference),
		cmocka_unit_test(test_japanese),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
