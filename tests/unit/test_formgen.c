/* formgen: the form `formpost form` prints, from a config with every
 * field type and hostile labels and options. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "formgen.h"
#include "limits.h"
#include "util.h"

static struct config *cfg;

static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n"
    "  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n    lang: ja\n"
    "    honeypot: fp_extra\n"
    "    fields:\n"
    "      name: { label: お名前, required: true, max: 100 }\n"
    "      email: { label: メール, type: email, required: true }\n"
    "      tel: { label: 電話, type: tel }\n"
    "      web: { label: URL, type: url }\n"
    "      age: { label: 年齢, type: number, min: 0, max: 130 }\n"
    "      topic: { label: 種別, type: select, options: [見積, 採用], required: true }\n"
    "      msg: { label: 内容, type: multiline, min: 10, max: 2000, required: true }\n"
    "      agree: { label: 同意する, type: checkbox, required: true }\n"
    "      days: { label: 曜日, type: checkbox, options: [月, 火], required: true }\n"
    "  evil:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n    lang: en\n"
    "    token: { required: true, min_age: 4s, max_age: 1h }\n"
    "    fields:\n"
    "      x: { label: \"</label><script>alert('x')</script>\" }\n"
    "      y: { label: \"a\\\" onfocus=\\\"alert(1)\", type: select,\n"
    "           options: [\"\\\"><img src=x onerror=alert(1)>\", \"Tom & 'Jerry'\"] }\n"
    "  jobs:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n    lang: ja\n"
    "    max_body: 8M\n"
    "    fields:\n"
    "      name: { label: 名前 }\n"
    "      cv: { label: 履歴書, type: file, accept: [pdf, docx], max: 5M, required: true }\n";

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

/* The site's form; caller frees. */
static char *
gen(const char *site, enum lang lang, int fetch, const char *action)
{
	struct formgen_opts o = { lang, fetch, action };
	char err[256];
	struct buf b;

	buf_init(&b);
	if (formgen_render(config_site(cfg, site), &o, &b, err,
	    sizeof err) == -1)
		fail_msg("%s", err);
	return buf_steal(&b);
}

/* The start tag holding needle, as a string; caller frees. */
static char *
tag_with(const char *html, const char *needle)
{
	const char *p = strstr(html, needle), *start, *end;

	if (p == NULL)
		fail_msg("no %s in the form", needle);
	for (start = p; start > html && *start != '<'; start--)
		;
	end = strchr(p, '>');
	assert_non_null(end);
	return fp_strndup(start, (size_t)(end - start + 1));
}

static void
assert_tag(const char *html, const char *needle, const char *want)
{
	char *t = tag_with(html, needle);

	if (strcmp(t, want) != 0)
		fail_msg("got  %s\nwant %s", t, want);
	free(t);
}

static void
test_inputs_follow_the_rules(void **state)
{
	char *h = gen("s", LANG_JA, 0, NULL);

	(void)state;
	assert_tag(h, "name=\"name\"", "<input type=\"text\" id=\"fp-s-name\" "
	    "name=\"name\" autocomplete=\"name\" required maxlength=\"100\">");
	assert_tag(h, "name=\"email\"", "<input type=\"email\" id=\"fp-s-email\" "
	    "name=\"email\" inputmode=\"email\" autocomplete=\"email\" required>");
	assert_tag(h, "name=\"tel\"", "<input type=\"tel\" id=\"fp-s-tel\" "
	    "name=\"tel\" inputmode=\"tel\" autocomplete=\"tel\">");
	assert_tag(h, "name=\"web\"", "<input type=\"url\" id=\"fp-s-web\" "
	    "name=\"web\" inputmode=\"url\" autocomplete=\"url\">");
	/* A number's min/max are values: no length attributes. */
	assert_tag(h, "name=\"age\"", "<input type=\"text\" id=\"fp-s-age\" "
	    "name=\"age\" inputmode=\"decimal\">");
	assert_tag(h, "name=\"msg\"", "<textarea id=\"fp-s-msg\" name=\"msg\" "
	    "rows=\"8\" required minlength=\"10\" maxlength=\"2000\">");
	assert_tag(h, "name=\"topic\"", "<select id=\"fp-s-topic\" "
	    "name=\"topic\" required>");
	assert_non_null(strstr(h, "<option value=\"\">選択してください</option>\n"
	    "<option value=\"見積\">見積</option>\n"));
	assert_tag(h, "name=\"agree\"", "<input type=\"checkbox\" "
	    "id=\"fp-s-agree\" name=\"agree\" value=\"1\" required>");
	/* A required group cannot say so in HTML (each box would be). */
	assert_tag(h, "value=\"火\"", "<input type=\"checkbox\" name=\"days\" "
	    "value=\"火\">");
	assert_non_null(strstr(h, "<legend>曜日<span class=\"fp-req\">必須"));
	assert_non_null(strstr(h, "<label for=\"fp-s-tel\">電話<span "
	    "class=\"fp-opt\">任意</span></label>"));
	free(h);
}

static void
test_form_and_honeypot(void **state)
{
	char *h = gen("s", LANG_JA, 0, NULL);

	(void)state;
	assert_tag(h, "<form", "<form class=\"fp-form\" method=\"post\" "
	    "action=\"/formpost/s\" accept-charset=\"UTF-8\" lang=\"ja\">");
	assert_non_null(strstr(h, "<div class=\"fp-hp\" aria-hidden=\"true\" "
	    "inert><label>"));
	assert_tag(h, "name=\"fp_extra\"", "<input type=\"text\" "
	    "name=\"fp_extra\" value=\"\" tabindex=\"-1\" autocomplete=\"off\" "
	    "data-lpignore=\"true\" data-1p-ignore=\"true\" "
	    "data-bwignore=\"true\">");
	/* No token, no fetch: no script, no token field. */
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "_token"));
	assert_null(strstr(h, "class=\"fp-error\""));
	assert_non_null(strstr(h, "<button type=\"submit\" "
	    "class=\"fp-submit\">送信する</button>"));
	free(h);
}

/* A file field: an input with accept, and the form multipart. */
static void
test_file_field(void **state)
{
	char *h = gen("jobs", LANG_JA, 0, NULL);

	(void)state;
	assert_tag(h, "<form", "<form class=\"fp-form\" method=\"post\" "
	    "action=\"/formpost/jobs\" accept-charset=\"UTF-8\" lang=\"ja\" "
	    "enctype=\"multipart/form-data\">");
	assert_tag(h, "name=\"cv\"", "<input type=\"file\" id=\"fp-jobs-cv\" "
	    "name=\"cv\" accept=\".pdf,.docx\" required>");
	free(h);
}

static void
test_hostile_labels_and_options_are_escaped(void **state)
{
	char *h = gen("evil", LANG_EN, 1, NULL);

	(void)state;
	assert_null(strstr(h, "<script>alert"));
	assert_null(strstr(h, "<img"));
	assert_null(strstr(h, "\" onfocus"));
	assert_non_null(strstr(h, ">&lt;/label&gt;&lt;script&gt;alert(&#39;x&#39;)"
	    "&lt;/script&gt;<span class=\"fp-opt\">"));
	assert_non_null(strstr(h, ">a&quot; onfocus=&quot;alert(1)<span"));
	assert_non_null(strstr(h, "<option value=\"&quot;&gt;&lt;img src=x "
	    "onerror=alert(1)&gt;\">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
	    "</option>"));
	assert_non_null(strstr(h, "<option value=\"Tom &amp; &#39;Jerry&#39;\">"));
	free(h);
}

static void
test_token_and_fetch(void **state)
{
	char *h = gen("evil", LANG_EN, 0, NULL), *f;

	(void)state;
	assert_tag(h, "<form", "<form class=\"fp-form\" method=\"post\" "
	    "action=\"/formpost/evil\" accept-charset=\"UTF-8\" lang=\"en\" "
	    "data-fp-token=\"/formpost/evil/token\" data-fp-min-age=\"4\" "
	    "data-fp-max-age=\"3600\">");
	assert_non_null(strstr(h, "<input type=\"hidden\" name=\"_token\" "
	    "value=\"\">"));
	assert_non_null(strstr(h, "<script>"));
	assert_null(strstr(h, "class=\"fp-status\""));
	assert_non_null(strstr(h, ">Send</button>"));
	f = gen("s", LANG_EN, 1, "https://forms.example.com/fp/s");
	assert_tag(f, "<form", "<form class=\"fp-form\" method=\"post\" "
	    "action=\"https://forms.example.com/fp/s\" accept-charset=\"UTF-8\" "
	    "lang=\"en\" data-fp-fetch=\"1\">");
	assert_non_null(strstr(f, "<p class=\"fp-error\" id=\"fp-s-email-error\" "
	    "hidden></p>"));
	assert_non_null(strstr(f, "data-fp-number=\"Your reference\""));
	assert_non_null(strstr(f, "<script>"));
	assert_non_null(strstr(f, "<option value=\"\">Please choose</option>"));
	free(f);
	free(h);
}

static void
test_bad_actions_are_refused(void **state)
{
	static const char *const bad[] = {
		"javascript:alert(1)", "//evil.example/x", "/\\evil", "",
		"/a?b=1", "/a#x", "/a\"b", "/a'b", "/a<b", "/a b", "/a/",
		"https://", "https:///x", "ftp://a.example/x", "data:text/html,x",
		"/a\nb",
	};
	struct formgen_opts o = { LANG_JA, 0, NULL };
	char err[256], longer[LIM_FORM_ACTION + 2];
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		o.action = bad[i];
		if (formgen_render(config_site(cfg, "s"), &o, &b, err,
		    sizeof err) != -1)
			fail_msg("accepted --action %s", bad[i]);
		assert_non_null(strstr(err, "--action"));
		assert_int_equal(b.len, 0);
	}
	memset(longer, 'a', sizeof longer - 1);
	longer[0] = '/';
	longer[sizeof longer - 1] = '\0';
	o.action = longer;
	assert_int_equal(formgen_render(config_site(cfg, "s"), &o, &b, err,
	    sizeof err), -1);
	o.action = "/contact/send";
	assert_int_equal(formgen_render(config_site(cfg, "s"), &o, &b, err,
	    sizeof err), 0);
	assert_non_null(strstr(b.data, "action=\"/contact/send\""));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs_follow_the_rules),
		cmocka_unit_test(test_form_and_honeypot),
		cmocka_unit_test(test_file_field),
		cmocka_unit_test(test_hostile_labels_and_options_are_escaped),
		cmocka_unit_test(test_token_and_fetch),
		cmocka_unit_test(test_bad_actions_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
