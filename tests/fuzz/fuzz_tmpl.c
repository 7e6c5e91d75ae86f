/*
 * fuzz_tmpl — compiles arbitrary bytes as an HTML and as a text template
 * with a fixed list of names, renders whatever compiles against a small
 * fixed scope tree (lists, nested lists, hostile values), and frees.
 * Any crash, leak, sanitizer report or overlong rendering is a bug, and
 * so is a plan (tmpl_plan_new) that renders other bytes than the
 * template: with every value known, and with the root's scalars as slots.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"
#include "util.h"

static const char *const known[] = {
	"a", "b", "url", "list", "inner", "empty", "x", "_id", NULL
};

#define S(n, v) { n, v, sizeof(v) - 1, 0, NULL, 0, 0 }

/*
 * Two trees of the same shape: one with hostile values, one "tame" with
 * every value replaced by harmless letters (empty stays empty).  In HTML
 * mode values never contribute < > " ', so both renderings must hold the
 * same number of them.
 */
static const struct tmpl_var in1[] = { S("x", "<i>&\"'"), S("url", "/ok") };
static const struct tmpl_var in2[] = { S("x", "") };
static const struct tmpl_scope inner[] = { { in1, 2, 0 }, { in2, 1, 0 } };
static const struct tmpl_var it1[] = { S("a", "item'\n"),
	{ "inner", NULL, 0, 1, inner, 2, 0 } };
static const struct tmpl_var it2[] = { S("url", "javascript:x"),
	{ "inner", NULL, 0, 1, NULL, 0, 0 } };
static const struct tmpl_scope list[] = { { it1, 2, 0 }, { it2, 2, 0 },
	{ NULL, 0, 0 } };
static const struct tmpl_var rootv[] = {
	S("a", "日本語 <b>"),
	S("b", "\"'><script>"),
	S("url", "https://example.com/?a=1&b=2"),
	S("empty", ""),
	S("_id", "abc"),
	{ "list", NULL, 0, 1, list, 3, 0 },
};
static const struct tmpl_scope root = { rootv, 6, 0 };

static const struct tmpl_var tin1[] = { S("x", "z"), S("url", "z") };
static const struct tmpl_var tin2[] = { S("x", "") };
static const struct tmpl_scope tinner[] = { { tin1, 2, 0 }, { tin2, 1, 0 } };
static const struct tmpl_var tit1[] = { S("a", "z"),
	{ "inner", NULL, 0, 1, tinner, 2, 0 } };
static const struct tmpl_var tit2[] = { S("url", "z"),
	{ "inner", NULL, 0, 1, NULL, 0, 0 } };
static const struct tmpl_scope tlist[] = { { tit1, 2, 0 }, { tit2, 2, 0 },
	{ NULL, 0, 0 } };
static const struct tmpl_var tamev[] = {
	S("a", "z"),
	S("b", "z"),
	S("url", "z"),
	S("empty", ""),
	S("_id", "z"),
	{ "list", NULL, 0, 1, tlist, 3, 0 },
};
static const struct tmpl_scope tame = { tamev, 6, 0 };

/* The plan of t with root, its top-level scalars slots (slots) or not,
 * must render what tmpl_render rendered (want). */
static void
check_plan(const struct tmpl *t, int slots, const struct buf *want)
{
	struct tmpl_var v[6];
	struct tmpl_val vals[7];
	struct tmpl_scope r = { v, 6, 0 };
	struct tmpl_plan *pl;
	struct buf out;
	size_t k;

	memset(vals, 0, sizeof vals);
	for (k = 0; k < 6; k++) {
		v[k] = rootv[k];
		if (!slots || v[k].is_list)
			continue;
		v[k].slot = (unsigned)k + 1;
		v[k].str = "?";
		v[k].len = 1;
		vals[k + 1].str = rootv[k].str;
		vals[k + 1].len = rootv[k].len;
	}
	if ((pl = tmpl_plan_new(t, &r)) == NULL)
		return;         /* too big: rendered from the template */
	buf_init(&out);
	if (tmpl_plan_render(pl, vals, &out) == -1 || out.len != want->len ||
	    (out.len && memcmp(out.data, want->data, out.len) != 0))
		abort();
	buf_free(&out);
	tmpl_plan_free(pl);
}

static size_t
specials(const struct buf *b)
{
	size_t i, n = 0;

	for (i = 0; i < b->len; i++)
		if (strchr("<>\"'", b->data[i]) != NULL && b->data[i] != '\0')
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tmpl_mode modes[] = { TMPL_HTML, TMPL_TEXT };
	struct tmpl *t;
	struct buf out, ref;
	char err[128];
	size_t i;

	for (i = 0; i < 2; i++) {
		err[0] = 'X';
		t = tmpl_compile((const char *)data, size, modes[i], known,
		    err, sizeof(err));
		if (t == NULL) {
			/* Every refusal says where, or is out of memory. */
			if (strchr(err, ':') == NULL &&
			    strcmp(err, "out of memory") != 0)
				abort();
			continue;
		}
		buf_init(&out);
		buf_init(&ref);
		if (tmpl_render(t, &root, &out) == -1 ||
		    tmpl_render(t, &tame, &ref) == -1)
			abort();	/* small trees: no OOM expected */
		if (modes[i] == TMPL_HTML && specials(&out) != specials(&ref))
			abort();
		check_plan(t, 0, &out);
		check_plan(t, 1, &out);
		buf_free(&out);
		buf_free(&ref);
		tmpl_free(t);
	}
	return 0;
}
