/*
 * pages: a page rendered from its plan (tmpl.h) is byte for byte the page
 * rendered from the template, for the demo sites' forms (text, select,
 * checkbox group and consent, files, the review step's pages) with
 * hostile, UTF-8, over-long and empty values, every error, held files
 * and every request fact; and an error page kept by pages_render_error
 * is the page rendered afresh.
 */
#include "unit.h"

#include "util.h"
#include "validate.h"

#define FIXTURE_FILE "conf/demo/formpost.yaml"
#include "fixture.h"

/* The values a render may meet: what each scenario gives every field. */
enum scen { SC_NONE, SC_HOSTILE, SC_ERRORS, SC_LONG, SC_EMPTY, SC_CHOSEN,
    SC_FILES, SC_COUNT };

static const char hostile[] =
    "<script>alert('x')</script> & \"quoted\" 'single' 山田 太郎\r\n"
    "二行目 ﾃｽﾄ 🍣 javascript:alert(1) //evil.example";

static char *
long_value(void)
{
	struct buf b;
	int i;

	buf_init(&b);
	for (i = 0; i < 1200; i++)
		buf_adds(&b, i % 7 ? "長い" : "<&>\"'\n");
	return buf_steal(&b);
}

static char *
dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Field i's value under scenario sc; every string owned by v (freed by
 * fvals_free). */
static void
fill_field(const struct field *fd, struct fval *fv, enum scen sc, size_t i)
{
	static const char *const codes[] = { "required", "too_long",
	    "invalid_email", "invalid_option", "too_short", "mismatch",
	    "file_too_large", "invalid_tel" };

	memset(fv, 0, sizeof *fv);
	fv->fd = -1;
	switch (sc) {
	case SC_NONE:
	case SC_EMPTY:
		fv->value = dup("");
		break;
	case SC_HOSTILE:
		fv->value = dup(hostile);
		break;
	case SC_LONG:
		fv->value = long_value();
		break;
	case SC_ERRORS:
		fv->error = codes[i % ARRAY_LEN(codes)];
		fv->value = dup("");
		/* A select's raw value that names an option shows selected. */
		fv->raw = i % 2 ? NULL : dup(fd->noptions ? fd->options[0] :
		    hostile);
		fv->hold = i % 3 ? NULL : dup("hostile<&>\"'ref");
		fv->has_file = fd->type == FT_FILE;
		break;
	case SC_CHOSEN:
		fv->value = dup(fd->noptions ? fd->options[fd->noptions - 1] :
		    "1");
		if (fd->noptions) {
			fv->choices = calloc(2, sizeof *fv->choices);
			fv->choices[0] = dup(fd->options[0]);
			fv->choices[1] = dup(fd->options[fd->noptions - 1]);
			fv->nchoices = 2;
		}
		break;
	case SC_FILES:
		fv->value = dup(fd->type == FT_FILE ? "履歴書<&>.pdf" : "x");
		fv->has_file = fd->type == FT_FILE;
		fv->size = i % 2 ? 1023 : 5 * 1024 * 1024 + 12345;
		fv->ctype = "application/pdf";
		fv->hold = fd->type == FT_FILE ? dup("HOLD-REF_1234") : NULL;
		break;
	case SC_COUNT:
		break;
	}
	fv->len = strlen(fv->value);
}

static void
make_values(const struct site *s, enum scen sc, struct fvals *v)
{
	size_t i;

	memset(v, 0, sizeof *v);
	v->v = calloc(s->nfields, sizeof *v->v);
	assert_non_null(v->v);
	v->n = s->nfields;
	for (i = 0; i < s->nfields; i++) {
		fill_field(&s->fields[i], &v->v[i], sc, i);
		v->nerrors += v->v[i].error != NULL;
	}
	v->reply_to = sc == SC_HOSTILE ? "taro@docomo.ne.jp" :
	    sc == SC_CHOSEN ? "x@example.jp" : NULL;
}

/* Request facts: none, or every one of them, hostile. */
static void
make_facts(struct page_facts *f, int any)
{
	memset(f, 0, sizeof *f);
	if (!any)
		return;
	f->id = "K3M9-7QXA-2BTD";
	f->date = "2026年12月3日 10:00";
	f->ip = "127.0.0.1<&>";
	f->page = "https://www.example.com/contact/?a=<1>&b='2'";
	f->action = "/formpost/demo?x=\"y\"";
	f->confirm = "AAEC_confirm-<&>";
	f->token = "tok\"en<&>";
}

static void
assert_same(const struct site *s, enum page page, const struct fvals *v,
    const struct page_facts *f)
{
	struct buf a, b;

	buf_init(&a);
	buf_init(&b);
	assert_int_equal(pages_render(pg, s, page, v, f, &a), 0);
	assert_int_equal(pages_render_unplanned(pg, s, page, v, f, &b), 0);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fail_msg("site %s page %d: the plan's render differs:\n%s\n"
		    "---- from the template:\n%s", s->name, (int)page,
		    a.data, b.data);
	buf_free(&a);
	buf_free(&b);
}

static void
test_plans_equal_templates(void **state)
{
	static const enum page pages[] = { PAGE_FORM, PAGE_THANKS,
	    PAGE_CONFIRM };
	struct page_facts f;
	struct fvals v;
	size_t i, k;
	int sc, any;

	(void)state;
	for (i = 0; i < cfg->nsites; i++) {
		const struct site *s = &cfg->sites[i];
		assert_true(pages_planned(pg, s, PAGE_FORM));
		for (k = 0; k < ARRAY_LEN(pages); k++) {
			if (pages[k] == PAGE_CONFIRM && !s->confirm)
				continue;
			assert_true(pages_planned(pg, s, pages[k]));
			for (any = 0; any < 2; any++) {
				make_facts(&f, any);
				assert_same(s, pages[k], NULL, &f);
				for (sc = SC_HOSTILE; sc < SC_COUNT; sc++) {
					make_values(s, (enum scen)sc, &v);
					assert_same(s, pages[k], &v, &f);
					fvals_free(&v);
				}
			}
		}
	}
}

/* The review step's 修正する answers the form with every value kept:
 * the same plan, values without errors, held files. */
static void
test_review_edit_form(void **state)
{
	const struct site *s = config_site(cfg, "demo-review");
	struct page_facts f;
	struct fvals v;

	(void)state;
	assert_non_null(s);
	make_facts(&f, 1);
	f.token = NULL;
	make_values(s, SC_FILES, &v);
	assert_same(s, PAGE_FORM, &v, &f);
	fvals_free(&v);
}

/* A kept error page equals a fresh one, also the generic ones; another
 * message for the same status is rendered, not taken from the memo. */
static void
test_error_memo(void **state)
{
	struct page_facts f;
	struct buf a, b;
	size_t i;
	int round;

	(void)state;
	memset(&f, 0, sizeof f);
	f.status = "429";
	f.title = "送信回数が多すぎます";
	f.message = "しばらく<&>時間をおいてから";
	for (i = 0; i <= cfg->nsites; i++) {
		const struct site *s = i < cfg->nsites ? &cfg->sites[i] : NULL;
		for (round = 0; round < 3; round++) {
			buf_init(&a);
			buf_init(&b);
			assert_int_equal(pages_render_error(pg, s, LANG_EN, 429,
			    &f, &a), 0);
			if (s)
				assert_int_equal(pages_render_unplanned(pg, s,
				    PAGE_ERROR, NULL, &f, &b), 0);
			else
				assert_int_equal(pages_render_generic(pg,
				    LANG_EN, &f, &b), 0);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
			if (round == 1)
				f.message = "another message";
			buf_free(&a);
			buf_free(&b);
		}
		f.message = "しばらく<&>時間をおいてから";
	}
}

/* A page that lists what the request decides item by item (_files)
 * cannot be planned: it keeps rendering from its template, the same
 * bytes, while the site's other pages are planned. */
static void
test_unplannable_page(void **state)
{
	static const char y[] =
	    "templates: templates\n"
	    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
	    "sites:\n"
	    "  up:\n"
	    "    origins: [https://up.example.com]\n"
	    "    from: up@up.example.com\n"
	    "    to: [to@up.example.com]\n"
	    "    smtp: [m]\n"
	    "    subject: Hello\n"
	    "    lang: ja\n"
	    "    templates: tests/fixtures/pages/files\n"
	    "    max_body: 2M\n"
	    "    fields:\n"
	    "      name: { label: Name }\n"
	    "      doc: { label: Doc, type: file, accept: [pdf], max: 1M }\n";
	const struct site *s;
	struct config *c;
	struct pages *p;
	struct page_facts f;
	struct fvals v;
	struct buf a, b;
	char err[512];

	(void)state;
	if ((c = config_parse("up.yaml", NULL, y, sizeof y - 1, err,
	    sizeof err)) == NULL)
		fail_msg("config: %s", err);
	if ((p = pages_load(c, err, sizeof err)) == NULL)
		fail_msg("pages: %s", err);
	s = config_site(c, "up");
	assert_false(pages_planned(p, s, PAGE_THANKS));
	assert_true(pages_planned(p, s, PAGE_FORM));
	make_facts(&f, 1);
	make_values(s, SC_FILES, &v);
	buf_init(&a);
	buf_init(&b);
	assert_int_equal(pages_render(p, s, PAGE_THANKS, &v, &f, &a), 0);
	assert_int_equal(pages_render_unplanned(p, s, PAGE_THANKS, &v, &f,
	    &b), 0);
	assert_string_equal(a.data, b.data);
	assert_non_null(strstr(a.data,
	    "<li>履歴書&lt;&amp;&gt;.pdf (1023 B, application/pdf)</li>"));
	buf_free(&a);
	buf_free(&b);
	fvals_free(&v);
	pages_free(p);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans_equal_templates),
		cmocka_unit_test(test_review_edit_form),
		cmocka_unit_test(test_error_memo),
		cmocka_unit_test(test_unplannable_page),
	};

	return cmocka_run_group_tests(tests, setup_pages, teardown);
}
