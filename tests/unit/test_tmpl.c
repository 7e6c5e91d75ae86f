/*
 * test_tmpl — the template engine: syntax, sections and scopes, escaping
 * per HTML context, and every compile error with its exact position.
 * Each case compiles one template and compares the exact bytes rendered
 * (or the exact error) with the table.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "limits.h"
#include "tmpl.h"
#include "util.h"

static const char *const known[] = {
	"name", "q", "quote", "empty", "none", "flag", "url", "js", "data",
	"evil", "rel", "bs", "upper", "tabrel", "items", "nolist", "groups",
	"title", "members", "sel", "site", NULL
};

#define S(n, v) { n, v, sizeof(v) - 1, 0, NULL, 0, 0 }
#define L(n, it) { n, NULL, 0, 1, it, ARRAY_LEN(it), 0 }

static const struct tmpl_var item1[] = { S("name", "a"), S("sel", "") };
static const struct tmpl_var item2[] = { S("name", "b<"), S("sel", "1") };
static const struct tmpl_var item3[] = { S("name", "c") };
static const struct tmpl_scope items[] = {
	{ item1, ARRAY_LEN(item1), 0 }, { item2, ARRAY_LEN(item2), 0 },
	{ item3, ARRAY_LEN(item3), 0 },
};
static const struct tmpl_var m1[] = { S("name", "m1") };
static const struct tmpl_var m2[] = { S("name", "m2") };
static const struct tmpl_scope members1[] = { { m1, 1, 0 }, { m2, 1, 0 } };
static const struct tmpl_var g1[] = { S("title", "G1"), L("members", members1) };
static const struct tmpl_var g2[] = { S("title", "G2"),
	{ "members", NULL, 0, 1, NULL, 0, 0 } };
static const struct tmpl_scope groups[] = { { g1, 2, 0 }, { g2, 2, 0 } };

static const struct tmpl_var rootv[] = {
	S("name", "太郎 <b>"),
	S("q", "a&b"),
	S("quote", "\"'"),
	S("empty", ""),
	S("flag", "1"),
	S("url", "https://ok.example/?a=1&b=2"),
	S("js", "javascript:alert(1)"),
	S("data", "data:text/html,<script>"),
	S("evil", "//evil.example"),
	S("rel", "/rel"),
	S("bs", "/\\evil.example"),
	S("upper", "HTTP://OK"),
	S("tabrel", "/\t/evil.example"),
	S("site", "example"),
	L("items", items),
	{ "nolist", NULL, 0, 1, NULL, 0, 0 },
	L("groups", groups),
};
static const struct tmpl_scope root = { rootv, ARRAY_LEN(rootv), 0 };

struct tcase {
	enum tmpl_mode mode;
	const char *src;
	const char *want;	/* rendering, or NULL when err is set */
	const char *err;	/* exact compile error */
};

#define T TMPL_TEXT
#define H TMPL_HTML

static const struct tcase cases[] = {
	/* variables, whitespace in braces, comments */
	{ T, "Hello {{name}}!", "Hello 太郎 <b>!", NULL },
	{ T, "{{ name }}|{{\tq\t}}", "太郎 <b>|a&b", NULL },
	{ T, "[{{none}}][{{empty}}][{{items}}]", "[][][]", NULL },
	{ T, "a{{! a comment with {braces} }}b{{!}}c", "abc", NULL },
	{ T, "", "", NULL },
	{ T, "no tags {", "no tags {", NULL },
	{ T, "こんにちは、{{name}}さん", "こんにちは、太郎 <b>さん", NULL },
	/* sections */
	{ T, "{{#items}}[{{name}}]{{/items}}", "[a][b<][c]", NULL },
	{ T, "{{# items }}{{name}}/{{q}} {{/ items }}", "a/a&b b</a&b c/a&b ",
	    NULL },
	{ T, "{{#flag}}yes{{/flag}}{{#empty}}no{{/empty}}{{#none}}no{{/none}}",
	    "yes", NULL },
	{ T, "{{#flag}}{{name}}{{/flag}}", "太郎 <b>", NULL },
	{ T, "{{^empty}}1{{/empty}}{{^none}}2{{/none}}{{^nolist}}3{{/nolist}}"
	    "{{^flag}}4{{/flag}}{{^items}}5{{/items}}{{#nolist}}6{{/nolist}}",
	    "123", NULL },
	{ T, "{{#groups}}{{title}}:{{#members}}{{name}}({{title}}),{{/members}}"
	    "{{^members}}-{{/members}};{{/groups}}",
	    "G1:m1(G1),m2(G1),;G2:-;", NULL },
	{ T, "{{#items}}{{#sel}}*{{/sel}}{{name}}{{/items}}", "a*b<c", NULL },
	/* standalone lines vanish, inline tags do not */
	{ T, "{{#items}}\n- {{name}}\n{{/items}}\nend\n", "- a\n- b<\n- c\nend\n",
	    NULL },
	{ T, "  {{#flag}}  \r\nx\r\n\t{{/flag}}\r\n{{! note }}\ny",
	    "x\r\ny", NULL },
	{ T, "a {{#flag}}b{{/flag}} c\n", "a b c\n", NULL },
	{ T, "{{name}}\n", "太郎 <b>\n", NULL },
	/* TEXT mode copies even markup as is */
	{ T, "<script>{{quote}}</script>", "<script>\"'</script>", NULL },

	/* HTML: element text */
	{ H, "<p>{{name}}</p>", "<p>太郎 &lt;b&gt;</p>", NULL },
	{ H, "<p>{{quote}}&{{q}}</p>", "<p>&quot;&#39;&a&amp;b</p>", NULL },
	{ H, "<textarea>{{name}}</textarea>", "<textarea>太郎 &lt;b&gt;</textarea>",
	    NULL },
	{ H, "<title>{{q}}</title>", "<title>a&amp;b</title>", NULL },
	{ H, "a < b {{q}}", "a < b a&amp;b", NULL },
	{ H, "<script>if (a<b) x();</script><p>{{q}}</p>",
	    "<script>if (a<b) x();</script><p>a&amp;b</p>", NULL },
	{ H, "<style>p{}</style ><!-- c --><!---->{{q}}<br/>",
	    "<style>p{}</style ><!-- c --><!---->a&amp;b<br/>", NULL },
	{ H, "<!DOCTYPE html>{{q}}", "<!DOCTYPE html>a&amp;b", NULL },
	{ H, "<svg><path d=\"M0\"/></svg>{{q}}",
	    "<svg><path d=\"M0\"/></svg>a&amp;b", NULL },
	/* quoted attributes */
	{ H, "<input value=\"{{name}}\">", "<input value=\"太郎 &lt;b&gt;\">", NULL },
	{ H, "<a title=\"{{quote}}\">", "<a title=\"&quot;&#39;\">", NULL },
	{ H, "<a title='{{quote}}' class='x {{q}}'>",
	    "<a title='&quot;&#39;' class='x a&amp;b'>", NULL },
	{ H, "</a title=\"{{q}}\">", "</a title=\"a&amp;b\">", NULL },
	/* URL attributes */
	{ H, "<a href=\"{{url}}\">", "<a href=\"https://ok.example/?a=1&amp;b=2\">",
	    NULL },
	{ H, "<a href=\"{{js}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{data}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{evil}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{bs}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{tabrel}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{empty}}\">", "<a href=\"#\">", NULL },
	{ H, "<a href=\"{{none}}\">", "<a href=\"#\">", NULL },
	{ H, "<a HREF='{{rel}}'>", "<a HREF='/rel'>", NULL },
	{ H, "<img src=\"{{upper}}\">", "<img src=\"HTTP://OK\">", NULL },
	{ H, "<a href=\" {{js}}\">", "<a href=\" #\">", NULL },
	{ H, "<form action=\"/formpost/{{site}}\">",
	    "<form action=\"/formpost/example\">", NULL },
	{ H, "<a href=\"https://x.example/p?q={{q}}#{{js}}\">",
	    "<a href=\"https://x.example/p?q=a&amp;b#javascript:alert(1)\">", NULL },
	{ H, "<a href=\"?q={{js}}\">", "<a href=\"?q=javascript:alert(1)\">", NULL },
	{ H, "<a href=\"{{rel}}?q={{q}}\">", "<a href=\"/rel?q=a&amp;b\">", NULL },
	{ H, "<a href=\"page/{{q}}\">", "<a href=\"page/a&amp;b\">", NULL },
	{ H, "<a data-x=\"{{js}}\">", "<a data-x=\"javascript:alert(1)\">", NULL },
	/* sections in HTML */
	{ H, "<ul>{{#items}}<li>{{name}}</li>{{/items}}</ul>",
	    "<ul><li>a</li><li>b&lt;</li><li>c</li></ul>", NULL },
	{ H, "<input type=\"checkbox\"{{#flag}} checked{{/flag}}>",
	    "<input type=\"checkbox\" checked>", NULL },
	{ H, "<input type=\"checkbox\"{{#empty}} checked{{/empty}}>",
	    "<input type=\"checkbox\">", NULL },
	{ H, "<input {{#flag}}checked{{/flag}} {{^flag}}disabled{{/flag}}>",
	    "<input checked >", NULL },
	{ H, "<input{{#flag}} class=\"{{q}}\"{{/flag}}>",
	    "<input class=\"a&amp;b\">", NULL },
	{ H, "<select>{{#items}}<option value=\"{{name}}\"{{#sel}} selected"
	    "{{/sel}}>{{name}}</option>{{/items}}</select>",
	    "<select><option value=\"a\">a</option><option value=\"b&lt;\" "
	    "selected>b&lt;</option><option value=\"c\">c</option></select>",
	    NULL },
	{ H, "<p class=\"{{#items}}c-{{name}} {{/items}}\">",
	    "<p class=\"c-a c-b&lt; c-c \">", NULL },
	{ H, "<!-- {{#flag}}x{{/flag}} -->", "<!-- x -->", NULL },
	{ H, "<script>{{#flag}}x(){{/flag}}</script>", "<script>x()</script>",
	    NULL },

	/* compile errors: names */
	{ T, "hello {{nope}}", NULL, "1:9: unknown variable 'nope'" },
	{ H, "こんにちは {{nope}}", NULL, "1:9: unknown variable 'nope'" },
	{ H, "一行目\n二行目の{{x}}", NULL, "2:7: unknown variable 'x'" },
	{ T, "{{#nope}}{{/nope}}", NULL, "1:4: unknown variable 'nope'" },
	{ T, "ab{{na me}}", NULL, "1:3: a name is [A-Za-z0-9_-]+ in {{...}}" },
	{ T, "{{{name}}}", NULL, "1:1: a name is [A-Za-z0-9_-]+ in {{...}}" },
	{ T, "{{}}", NULL, "1:1: a name is [A-Za-z0-9_-]+ in {{...}}" },
	{ T, "{{&name}}", NULL, "1:1: a name is [A-Za-z0-9_-]+ in {{...}}" },
	{ T, "ab{{name", NULL, "1:3: unterminated {{" },
	{ T, "日本{{! comment", NULL, "1:3: unterminated {{" },
	/* compile errors: sections */
	{ T, "{{#items}}x", NULL, "1:1: section 'items' is not closed" },
	{ T, "x\n{{^flag}}", NULL, "2:1: section 'flag' is not closed" },
	{ T, "x{{/items}}", NULL, "1:2: {{/items}} closes no section" },
	{ T, "{{#items}}{{#flag}}{{/items}}{{/flag}}", NULL,
	    "1:20: {{/items}} does not close {{#flag}} opened at 1:11" },
	{ T, "{{#flag}}{{#flag}}{{#flag}}{{#flag}}{{#flag}}{{#flag}}{{#flag}}"
	    "{{#flag}}{{#flag}}", NULL, "1:73: sections nested deeper than 8" },
	/* compile errors: HTML contexts */
	{ H, "<script>{{name}}</script>", NULL, "1:9: variable in <script>" },
	{ H, "<script><!--<script></script>{{q}}</script>", NULL,
	    "1:30: variable in <script>" },
	{ H, "<style>{{name}}</style>", NULL, "1:8: variable in <style>" },
	{ H, "<!-- {{name}} -->", NULL, "1:6: variable in an HTML comment" },
	{ H, "<!DOCTYPE {{name}}>", NULL, "1:11: variable in an HTML comment" },
	{ H, "<{{name}}>", NULL, "1:2: variable in a tag name" },
	{ H, "<p{{name}}>", NULL, "1:3: variable in a tag name" },
	{ H, "</{{name}}>", NULL, "1:3: variable in a tag name" },
	{ H, "<textarea></{{name}}", NULL, "1:13: variable in a tag name" },
	{ H, "<a href={{url}}>", NULL,
	    "1:9: variable in an unquoted attribute value" },
	{ H, "<a title=x{{q}}>", NULL,
	    "1:11: variable in an unquoted attribute value" },
	{ H, "<a {{name}}>", NULL, "1:4: variable in an attribute name" },
	{ H, "<a x{{name}}=1>", NULL, "1:5: variable in an attribute name" },
	{ H, "<a onclick=\"f('{{q}}')\">", NULL,
	    "1:16: variable in an event-handler, style or srcdoc attribute" },
	{ H, "<p style=\"color:{{q}}\">", NULL,
	    "1:17: variable in an event-handler, style or srcdoc attribute" },
	{ H, "<a href=\"java{{js}}\">", NULL,
	    "1:14: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"/{{evil}}\">", NULL,
	    "1:11: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"{{rel}}{{evil}}\">", NULL,
	    "1:17: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"https://{{q}}\">", NULL,
	    "1:18: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"javascript&#58;{{q}}\">", NULL,
	    "1:25: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"/&#47;{{q}}\">", NULL,
	    "1:16: variable inside a URL attribute must start the value or "
	    "follow '?', '#' or a fixed path" },
	{ H, "<a href=\"/p?a=1&amp;b={{q}}\">", "<a href=\"/p?a=1&amp;b=a&amp;b\">",
	    NULL },
	{ H, "<svg><text>{{q}}</text></svg>", NULL,
	    "1:12: variable inside <svg> or <math>" },
	{ H, "{{#flag}}<a {{/flag}}>", NULL,
	    "1:13: section 'flag' ends in another HTML context than it starts" },
	{ H, "<a title=\"{{#flag}}\">{{/flag}}", NULL,
	    "1:22: section 'flag' ends in another HTML context than it starts" },
	{ H, "<a href=\"{{#flag}}/x{{/flag}}{{url}}\">", NULL,
	    "1:21: section 'flag' ends in another HTML context than it starts" },
	{ H, "<a x{{#flag}}y{{/flag}}>", NULL,
	    "1:14: a section inside a tag must be followed by a space, '/' "
	    "or '>'" },
	{ H, "<a {{#flag}}href{{/flag}}=\"{{url}}\">", NULL,
	    "1:26: a section inside a tag must be followed by a space, '/' "
	    "or '>'" },
	{ H, "<a {{#flag}}x{{/flag}} =\"{{url}}\">", NULL,
	    "1:24: '=' after a section inside a tag" },
	{ H, "<a {{#items}}click=\"{{q}}\" on{{/items}}>", NULL,
	    "1:30: a repeated section inside a tag must start with a space" },
	{ H, "<a {{#items}}ipt><scr{{/items}}>", NULL,
	    "1:22: a repeated section inside a tag must start with a space" },
	/* compile errors: unfinished HTML */
	{ H, "<p class=\"x", NULL, "1:1: unterminated tag" },
	{ H, "ok\n<script>x", NULL, "2:1: <script> is not closed" },
	{ H, "<textarea>x</text", NULL, "1:1: <textarea> is not closed" },
	{ H, "a<!-- x", NULL, "1:2: unterminated HTML comment" },
};

static void
test_table(void **state)
{
	const struct tcase *tc;
	struct tmpl *t;
	struct buf out;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		tc = &cases[i];
		buf_init(&out);
		t = tmpl_compile(tc->src, strlen(tc->src), tc->mode, known, err,
		    sizeof(err));
		if (tc->err != NULL) {
			if (t != NULL || strcmp(err, tc->err) != 0)
				print_error("case %zu: %s\n  got err: %s\n",
				    i, tc->src, t ? "(compiled)" : err);
			assert_null(t);
			assert_string_equal(err, tc->err);
			continue;
		}
		if (t == NULL)
			print_error("case %zu: %s\n  err: %s\n", i, tc->src,
			    err);
		assert_non_null(t);
		assert_int_equal(tmpl_render(t, &root, &out), 0);
		if (out.len != strlen(tc->want) ||
		    (out.len > 0 && memcmp(out.data, tc->want, out.len) != 0))
			print_error("case %zu: %s\n  got: %.*s\n", i, tc->src,
			    (int)out.len, out.data ? out.data : "");
		assert_bytes_equal(out.data ? out.data : "", out.len, tc->want);
		tmpl_free(t);
		buf_free(&out);
	}
}

/* rootv with every scalar a slot (k + 1 for rootv[k]) and vals holding
 * its value: a plan of it renders what the template renders. */
static void
slotted_root(struct tmpl_var *v, struct tmpl_val *vals)
{
	size_t k;

	memset(vals, 0, (ARRAY_LEN(rootv) + 1) * sizeof *vals);
	for (k = 0; k < ARRAY_LEN(rootv); k++) {
		v[k] = rootv[k];
		if (v[k].is_list)
			continue;
		v[k].slot = (unsigned)k + 1;
		v[k].str = "";       /* the plan must not use it */
		v[k].len = 0;
		vals[k + 1].str = rootv[k].str;
		vals[k + 1].len = rootv[k].len;
	}
}

/* Every case of the table, through a plan: once with every variable
 * known when the plan is made, once with every scalar a slot. */
static void
test_table_planned(void **state)
{
	struct tmpl_var sv[ARRAY_LEN(rootv)];
	struct tmpl_val vals[ARRAY_LEN(rootv) + 1];
	struct tmpl_scope sroot = { sv, ARRAY_LEN(rootv), 0 };
	struct tmpl_plan *pl;
	struct tmpl *t;
	struct buf out;
	size_t i;
	int slots;

	(void)state;
	slotted_root(sv, vals);
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		if (cases[i].err != NULL)
			continue;
		t = tmpl_compile(cases[i].src, strlen(cases[i].src),
		    cases[i].mode, known, NULL, 0);
		assert_non_null(t);
		for (slots = 0; slots < 2; slots++) {
			buf_init(&out);
			pl = tmpl_plan_new(t, slots ? &sroot : &root);
			assert_non_null(pl);
			assert_int_equal(tmpl_plan_render(pl, vals, &out), 0);
			if (out.len != strlen(cases[i].want) || (out.len &&
			    memcmp(out.data, cases[i].want, out.len) != 0))
				print_error("case %zu (slots %d): %s\n  got: "
				    "%.*s\n", i, slots, cases[i].src,
				    (int)out.len, out.data ? out.data : "");
			assert_bytes_equal(out.data ? out.data : "", out.len,
			    cases[i].want);
			tmpl_plan_free(pl);
			buf_free(&out);
		}
		tmpl_free(t);
	}
}

/* List items behind a cond, a list whose emptiness is a slot, text after
 * a conditional section (never glued into it), and a variable a plan
 * cannot hold. */
static void
test_plan_conds(void **state)
{
	static const char src[] = "<ul>{{#items}}<li>{{name}}</li>{{/items}}"
	    "</ul>{{^items}}<p>none</p>{{/items}}{{#flag}}F{{/flag}}end";
	struct tmpl_var i1[] = { S("name", "a<") }, i2[] = { S("name", "b") };
	struct tmpl_scope it[] = { { i1, 1, 1 }, { i2, 1, 2 } };
	struct tmpl_var rv[] = { { "items", NULL, 0, 1, it, 2, 3 },
	    { "flag", "", 0, 0, NULL, 0, 4 } };
	struct tmpl_scope r = { rv, 2, 0 };
	static const struct { const char *v[5]; const char *want; } run[] = {
		{ { NULL, "1", "1", "1", "1" },
		  "<ul><li>a&lt;</li><li>b</li></ul>Fend" },
		{ { NULL, "", "1", "1", "" }, "<ul><li>b</li></ul>end" },
		{ { NULL, "", "", "", "" }, "<ul></ul><p>none</p>end" },
	};
	struct tmpl_val vals[5];
	struct tmpl_plan *pl;
	struct tmpl *t;
	struct buf out;
	size_t i, k;

	(void)state;
	t = tmpl_compile(src, sizeof src - 1, TMPL_HTML, known, NULL, 0);
	assert_non_null(t);
	assert_non_null(pl = tmpl_plan_new(t, &r));
	assert_int_equal(tmpl_plan_slots(pl), 5);
	assert_true(tmpl_plan_uses(pl, 2));
	assert_false(tmpl_plan_uses(pl, 0));
	for (i = 0; i < ARRAY_LEN(run); i++) {
		for (k = 0; k < 5; k++) {
			vals[k].str = run[i].v[k];
			vals[k].len = run[i].v[k] ? strlen(run[i].v[k]) : 0;
		}
		buf_init(&out);
		assert_int_equal(tmpl_plan_render(pl, vals, &out), 0);
		assert_string_equal(out.data, run[i].want);
		buf_free(&out);
	}
	tmpl_plan_free(pl);
	/* Conditional items need their list's slot for {{^items}}. */
	rv[0].slot = 0;
	assert_null(tmpl_plan_new(t, &r));
	rv[0].slot = TMPL_NO_PLAN;
	assert_null(tmpl_plan_new(t, &r));
	tmpl_free(t);
}

/* Templates are compiled once and rendered many times, onto whatever the
 * buffer already holds. */
static void
test_render_twice_appends(void **state)
{
	const char *src = "<b>{{q}}</b>";
	struct tmpl *t;
	struct buf out;
	char err[128];

	(void)state;
	buf_init(&out);
	t = tmpl_compile(src, strlen(src), TMPL_HTML, known, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tmpl_render(t, &root, &out), 0);
	assert_int_equal(tmpl_render(t, &root, &out), 0);
	assert_bytes_equal(out.data, out.len, "<b>a&amp;b</b><b>a&amp;b</b>");
	tmpl_free(t);
	buf_free(&out);
}

/* A NULL root and an empty scope render every name as absent. */
static void
test_no_scope(void **state)
{
	const char *src = "[{{q}}]{{#items}}x{{/items}}{{^items}}none{{/items}}";
	struct tmpl_scope empty = { NULL, 0, 0 };
	struct tmpl *t;
	struct buf out;
	char err[128];

	(void)state;
	buf_init(&out);
	t = tmpl_compile(src, strlen(src), TMPL_TEXT, known, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tmpl_render(t, NULL, &out), 0);
	assert_int_equal(tmpl_render(t, &empty, &out), 0);
	assert_bytes_equal(out.data, out.len, "[]none[]none");
	tmpl_free(t);
	buf_free(&out);
}

/* Source may contain NUL bytes and is copied: the caller's buffer can go. */
static void
test_nul_and_copy(void **state)
{
	char src[] = "a\0{{q}}\0b";
	struct tmpl *t;
	struct buf out;
	char err[128];

	(void)state;
	buf_init(&out);
	t = tmpl_compile(src, sizeof(src) - 1, TMPL_TEXT, known, err,
	    sizeof(err));
	assert_non_null(t);
	memset(src, 'x', sizeof(src));
	assert_int_equal(tmpl_render(t, &root, &out), 0);
	assert_int_equal(out.len, 7);
	assert_memory_equal(out.data, "a\0a&b\0b", 7);
	tmpl_free(t);
	buf_free(&out);
	tmpl_free(NULL);
}

static void
test_size_limit(void **state)
{
	size_t n = LIM_TEMPLATE_BYTES + 1;
	char *src, err[128];
	struct tmpl *t;

	(void)state;
	src = malloc(n);
	assert_non_null(src);
	memset(src, 'a', n);
	t = tmpl_compile(src, n, TMPL_TEXT, known, err, sizeof(err));
	assert_null(t);
	assert_string_equal(err, "1:1: template is larger than 262144 bytes");
	t = tmpl_compile(src, n - 1, TMPL_HTML, known, err, sizeof(err));
	assert_non_null(t);
	tmpl_free(t);
	free(src);
}

/* A short error buffer gets a truncated but terminated message. */
static void
test_short_err(void **state)
{
	char err[8];

	(void)state;
	assert_null(tmpl_compile("{{nope}}", 8, TMPL_TEXT, known, err,
	    sizeof(err)));
	assert_string_equal(err, "1:3: un");
	assert_null(tmpl_compile("{{nope}}", 8, TMPL_TEXT, NULL, NULL, 0));
}

/* A big list renders in full, every item escaped. */
static void
test_big_list(void **state)
{
	enum { N = 20000 };
	const char *src = "<ul>\n{{#items}}\n<li title=\"{{q}}\">{{name}}</li>\n"
	    "{{/items}}\n</ul>\n";
	struct tmpl_var *vars;
	struct tmpl_scope *sc;
	struct tmpl_var top[1];
	struct tmpl_scope big;
	struct buf out, want;
	struct tmpl *t;
	char err[128];
	size_t i;

	(void)state;
	vars = calloc(N, 2 * sizeof(*vars));
	sc = calloc(N, sizeof(*sc));
	assert_non_null(vars);
	assert_non_null(sc);
	buf_init(&want);
	buf_adds(&want, "<ul>\n");
	for (i = 0; i < N; i++) {
		vars[2 * i].name = "name";
		vars[2 * i].str = i % 2 ? "<x>" : "y&";
		vars[2 * i].len = i % 2 ? 3 : 2;
		vars[2 * i + 1].name = "q";
		vars[2 * i + 1].str = "\"";
		vars[2 * i + 1].len = 1;
		sc[i].vars = &vars[2 * i];
		sc[i].n = 2;
		buf_printf(&want, "<li title=\"&quot;\">%s</li>\n",
		    i % 2 ? "&lt;x&gt;" : "y&amp;");
	}
	buf_adds(&want, "</ul>\n");
	assert_false(want.oom);
	top[0].name = "items";
	top[0].str = NULL;
	top[0].len = 0;
	top[0].is_list = 1;
	top[0].items = sc;
	top[0].nitems = N;
	big.vars = top;
	big.n = 1;

	buf_init(&out);
	t = tmpl_compile(src, strlen(src), TMPL_HTML, known, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tmpl_render(t, &big, &out), 0);
	assert_false(out.oom);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);
	tmpl_free(t);
	buf_free(&out);
	buf_free(&want);
	free(sc);
	free(vars);
}

/* A buffer that already failed stays failed: render reports it. */
static void
test_render_on_oom_buffer(void **state)
{
	struct tmpl *t;
	struct buf out;
	char err[64];

	(void)state;
	buf_init(&out);
	out.oom = 1;
	t = tmpl_compile("x", 1, TMPL_TEXT, known, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tmpl_render(t, &root, &out), -1);
	assert_true(out.oom);
	tmpl_free(t);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_planned),
		cmocka_unit_test(test_plan_conds),
		cmocka_unit_test(test_render_twice_appends),
		cmocka_unit_test(test_no_scope),
		cmocka_unit_test(test_nul_and_copy),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_short_err),
		cmocka_unit_test(test_big_list),
		cmocka_unit_test(test_render_on_oom_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
