/*
 * tmpl — compiles a mustache subset into a flat node list and renders it.
 * For TMPL_HTML the compiler runs a small HTML tokenizer (the states of
 * the HTML Standard's tokenizer, §13.2.5, minus character references and
 * DOCTYPE detail) over the literal text, so each variable knows whether it
 * lands in element text, a quoted attribute value or a URL attribute, and
 * anything else is refused at compile time, never at render time.
 * Must never: do I/O, keep globals, abort on OOM, or emit a value unescaped
 * in HTML mode.
 */
#include "tmpl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"

enum nkind { N_TEXT, N_VAR, N_SECT, N_INV };
enum esc { E_NONE, E_TEXT, E_ATTR, E_URL };

/* A compiled node.  Text and names point into the template's own copy of
 * the source.  A section's body is nodes [i + 1, end). */
struct node {
	unsigned char kind;
	unsigned char esc;
	size_t off;
	size_t len;
	size_t end;
};

struct tmpl {
	char *src;
	struct node *nodes;
	size_t n;
	size_t cap;
};

/*
 * HTML tokenizer states.  Names follow the HTML Standard; RT_* serve both
 * RCDATA (textarea, title) and RAWTEXT (style and friends), S_* are the
 * script data states, which matter only for finding where a script ends.
 */
enum hst {
	H_DATA, H_RCDATA, H_RAWTEXT, H_PLAINTEXT, H_RT_LT, H_RT_ETO, H_RT_ETN,
	H_SCRIPT, H_S_LT, H_S_ETO, H_S_ETN, H_S_ESC_START, H_S_ESC_START_DASH,
	H_S_ESC, H_S_ESC_DASH, H_S_ESC_DD, H_S_ESC_LT, H_S_ESC_ETO,
	H_S_ESC_ETN, H_S_DESC_START, H_S_DESC, H_S_DESC_DASH, H_S_DESC_DD,
	H_S_DESC_LT, H_S_DESC_END,
	H_TAG_OPEN, H_END_TAG_OPEN, H_TAG_NAME, H_BEFORE_ANAME, H_ANAME,
	H_AFTER_ANAME, H_BEFORE_AVAL, H_AVAL_DQ, H_AVAL_SQ, H_AVAL_UQ,
	H_SELF_CLOSING,
	H_MD_OPEN, H_MD_DASH, H_BOGUS, H_CMT_START, H_CMT_START_DASH, H_CMT,
	H_CMT_END_DASH, H_CMT_END, H_CMT_END_BANG
};

enum tkind { K_NORMAL, K_SCRIPT, K_RAW, K_RCDATA, K_PLAIN, K_FOREIGN };

/* Elements whose start tag changes how the text after it is tokenized.
 * Index 0 stands for every other element. */
static const struct {
	const char *name;
	enum tkind kind;
} tagtab[] = {
	{ "", K_NORMAL },
	{ "script", K_SCRIPT },
	{ "style", K_RAW },
	{ "xmp", K_RAW },
	{ "iframe", K_RAW },
	{ "noembed", K_RAW },
	{ "noframes", K_RAW },
	{ "noscript", K_RAW },
	{ "textarea", K_RCDATA },
	{ "title", K_RCDATA },
	{ "plaintext", K_PLAIN },
	{ "svg", K_FOREIGN },
	{ "math", K_FOREIGN },
};

enum akind { A_PLAIN, A_URL, A_FORBID };

/* Where a variable may go inside a URL attribute value: at the start
 * (then the URL filter runs), or once literal text has fixed the scheme
 * and host (after '?' or '#', a relative path, or http(s)://host/). */
enum ust {
	U_NONE, U_START, U_SLASH1, U_SCHEME, U_SL0, U_SL1, U_HOST0, U_HOST,
	U_FIXED, U_BAD, U_AFTERVAR
};

#define NM_MAX 16

/* The tokenizer state.  Fields that do not matter in a state are kept
 * zero, so two states compare equal exactly when the rest of the
 * template is tokenized the same way from both. */
struct hs {
	unsigned char st;
	unsigned char tag;	/* tagtab index: current tag or raw element */
	unsigned char is_end;
	unsigned char foreign;	/* depth of open <svg>/<math> */
	unsigned char akind;
	unsigned char url;
	unsigned char nlen;	/* NM_MAX + 1: longer than nm */
	unsigned char ulen;
	char nm[NM_MAX];	/* tag name, attribute name or end-tag buffer */
	char ubuf[6];		/* URL scheme so far */
};

/* Constraints left by a section boundary inside a tag, see sect_open. */
enum gap { G_NONE, G_NO_EQ, G_NEED_SEP };
/* How a section's body starts, for when it repeats after ending inside an
 * attribute name: a separator, blanks, a name character that would merge
 * into that name, or an '=' that would give it a value. */
enum verdict { V_OK, V_UNKNOWN, V_WS, V_MERGE, V_BAD };

struct open {
	size_t name_off;
	size_t name_len;
	size_t tag_off;
	size_t node;
	struct hs pre;
	int gap;
	int verdict;
};

struct cc {
	struct tmpl *t;
	const char *src;
	size_t len;
	enum tmpl_mode mode;
	const char *const *known;
	char *err;
	size_t errlen;
	struct hs h;
	int gap;
	size_t cons_off;	/* '<' of the construct being tokenized */
	struct open stk[LIM_TEMPLATE_DEPTH];
	size_t depth;
	size_t npend;
};

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
is_name_char(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* 1-based line and column of src[off]; columns count UTF-8 characters
 * (a byte that is not an expected continuation byte starts one). */
static void
position(const char *src, size_t off, size_t *line, size_t *col)
{
	size_t i, l = 1, c = 1;
	unsigned char b;
	int need = 0;

	for (i = 0; i < off; i++) {
		b = (unsigned char)src[i];
		if (b == '\n') {
			l++;
			c = 1;
			need = 0;
		} else if (need > 0 && (b & 0xc0) == 0x80) {
			need--;
		} else {
			c++;
			need = b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 :
			    b >= 0xc0 ? 1 : 0;
		}
	}
	*line = l;
	*col = c;
}

static void cerr(struct cc *, size_t, const char *, ...) FP_PRINTF(3, 4);

/* Writes "LINE:COLUMN: message" for src[off] into the caller's buffer. */
static void
cerr(struct cc *c, size_t off, const char *fmt, ...)
{
	va_list ap;
	size_t line, col;
	int n;

	if (c->err == NULL || c->errlen == 0)
		return;
	position(c->src, off, &line, &col);
	n = snprintf(c->err, c->errlen, "%zu:%zu: ", line, col);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
oom(struct cc *c)
{
	if (c->err != NULL && c->errlen > 0)
		snprintf(c->err, c->errlen, "out of memory");
}

/* ---- the HTML tokenizer ------------------------------------------------ */

static void
nm_add(struct hs *h, int ch)
{
	if (h->nlen < NM_MAX)
		h->nm[h->nlen++] = (char)lower(ch);
	else
		h->nlen = NM_MAX + 1;
}

static int
nm_is(const struct hs *h, const char *s)
{
	size_t n = strlen(s);

	return h->nlen == n && memcmp(h->nm, s, n) == 0;
}

static void
end_tag_name(struct hs *h)
{
	size_t i;

	h->tag = 0;
	for (i = 1; i < ARRAY_LEN(tagtab); i++)
		if (nm_is(h, tagtab[i].name))
			h->tag = (unsigned char)i;
	h->nlen = 0;
}

/* Attributes whose value is a URL, or script/CSS/HTML, where entity
 * escaping alone does not keep a value harmless. */
static int
attr_kind(const struct hs *h)
{
	static const char *const url[] = { "href", "src", "action",
	    "formaction", "poster", "cite", "background", "data",
	    "xlink:href" };
	size_t i;

	if (h->nlen >= 2 && h->nm[0] == 'o' && h->nm[1] == 'n')
		return A_FORBID;
	if (nm_is(h, "style") || nm_is(h, "srcdoc"))
		return A_FORBID;
	for (i = 0; i < ARRAY_LEN(url); i++)
		if (nm_is(h, url[i]))
			return A_URL;
	return A_PLAIN;
}

static void
finish_tag(struct hs *h, int self_closing)
{
	enum tkind k = tagtab[h->tag].kind;

	h->st = H_DATA;
	if (h->is_end) {
		if (k == K_FOREIGN && h->foreign > 0)
			h->foreign--;
		return;
	}
	/* The HTML parser ignores "/>" on these; only foreign elements
	 * honour it. */
	if (k == K_SCRIPT)
		h->st = H_SCRIPT;
	else if (k == K_RAW)
		h->st = H_RAWTEXT;
	else if (k == K_RCDATA)
		h->st = H_RCDATA;
	else if (k == K_PLAIN)
		h->st = H_PLAINTEXT;
	else if (k == K_FOREIGN && !self_closing && h->foreign < 255)
		h->foreign++;
}

/* An end tag for the raw element we are in: continue as for any end tag. */
static void
raw_end_tag(struct hs *h, int ch)
{
	h->is_end = 1;
	h->nlen = 0;
	if (ch == '>')
		finish_tag(h, 0);
	else if (ch == '/')
		h->st = H_SELF_CLOSING;
	else
		h->st = H_BEFORE_ANAME;
}

static void
url_char(struct hs *h, int ch)
{
	int slash = ch == '/' || ch == '\\';

	if (h->akind != A_URL)
		return;
	/* URL parsers drop tabs and newlines anywhere, and leading blanks. */
	if ((ch == '\t' || ch == '\n' || ch == '\r') ||
	    (h->url == U_START && is_ws(ch)))
		return;
	/* A character reference may hide ':' or '/' ("javascript&#58;"). */
	if (ch == '&' && h->url != U_FIXED) {
		h->url = U_BAD;
		h->ulen = 0;
		return;
	}
	switch (h->url) {
	case U_START:
		if (slash)
			h->url = U_SLASH1;
		else if (ch == '?' || ch == '#')
			h->url = U_FIXED;
		else if (ch == ':')
			h->url = U_BAD;
		else {
			h->url = U_SCHEME;
			h->ubuf[0] = (char)lower(ch);
			h->ulen = 1;
		}
		break;
	case U_SLASH1:
		h->url = slash ? U_BAD : U_FIXED;
		break;
	case U_SCHEME:
		if (slash || ch == '?' || ch == '#')
			h->url = U_FIXED;	/* a relative path */
		else if (ch == ':')
			h->url = (h->ulen == 4 &&
			    memcmp(h->ubuf, "http", 4) == 0) ||
			    (h->ulen == 5 && memcmp(h->ubuf, "https", 5) == 0) ?
			    U_SL0 : U_BAD;
		else if (h->ulen < 5)
			h->ubuf[h->ulen++] = (char)lower(ch);
		else
			h->ulen = 6;
		if (h->url != U_SCHEME)
			h->ulen = 0;
		break;
	case U_SL0:
		h->url = slash ? U_SL1 : U_BAD;
		break;
	case U_SL1:
		h->url = slash ? U_HOST0 : U_BAD;
		break;
	case U_HOST0:
		h->url = slash || ch == '?' || ch == '#' ? U_BAD : U_HOST;
		break;
	case U_HOST:
		if (slash || ch == '?' || ch == '#')
			h->url = U_FIXED;
		break;
	case U_AFTERVAR:
		if (ch == '?' || ch == '#')
			h->url = U_FIXED;
		break;
	default:
		break;
	}
}

static void
value_begin(struct hs *h, enum hst st)
{
	h->st = st;
	h->url = h->akind == A_URL ? U_START : U_NONE;
	h->ulen = 0;
}

/* Feeds one character of literal text. */
static void
hs_step(struct hs *h, int ch)
{
again:
	switch (h->st) {
	case H_DATA:
		if (ch == '<')
			h->st = H_TAG_OPEN;
		break;
	case H_PLAINTEXT:
		break;
	case H_RCDATA:
	case H_RAWTEXT:
		if (ch == '<')
			h->st = H_RT_LT;
		break;
	case H_RT_LT:
		h->st = tagtab[h->tag].kind == K_RCDATA ? H_RCDATA : H_RAWTEXT;
		if (ch == '/') {
			h->st = H_RT_ETO;
			break;
		}
		goto again;
	case H_RT_ETO:
		if (is_alpha(ch)) {
			h->st = H_RT_ETN;
			goto again;
		}
		h->st = tagtab[h->tag].kind == K_RCDATA ? H_RCDATA : H_RAWTEXT;
		goto again;
	case H_RT_ETN:
		if ((is_ws(ch) || ch == '/' || ch == '>') &&
		    nm_is(h, tagtab[h->tag].name))
			raw_end_tag(h, ch);
		else if (is_alpha(ch))
			nm_add(h, ch);
		else {
			h->nlen = 0;
			h->st = tagtab[h->tag].kind == K_RCDATA ?
			    H_RCDATA : H_RAWTEXT;
			goto again;
		}
		break;

	case H_SCRIPT:
		if (ch == '<')
			h->st = H_S_LT;
		break;
	case H_S_LT:
		if (ch == '/')
			h->st = H_S_ETO;
		else if (ch == '!')
			h->st = H_S_ESC_START;
		else {
			h->st = H_SCRIPT;
			goto again;
		}
		break;
	case H_S_ETO:
	case H_S_ESC_ETO:
		if (is_alpha(ch))
			h->st = h->st == H_S_ETO ? H_S_ETN : H_S_ESC_ETN;
		else
			h->st = h->st == H_S_ETO ? H_SCRIPT : H_S_ESC;
		goto again;
	case H_S_ETN:
	case H_S_ESC_ETN:
		if ((is_ws(ch) || ch == '/' || ch == '>') &&
		    nm_is(h, "script"))
			raw_end_tag(h, ch);
		else if (is_alpha(ch))
			nm_add(h, ch);
		else {
			h->nlen = 0;
			h->st = h->st == H_S_ETN ? H_SCRIPT : H_S_ESC;
			goto again;
		}
		break;
	case H_S_ESC_START:
		h->st = ch == '-' ? H_S_ESC_START_DASH : H_SCRIPT;
		if (ch != '-')
			goto again;
		break;
	case H_S_ESC_START_DASH:
		h->st = ch == '-' ? H_S_ESC_DD : H_SCRIPT;
		if (ch != '-')
			goto again;
		break;
	case H_S_ESC:
	case H_S_ESC_DASH:
	case H_S_ESC_DD:
		if (ch == '-')
			h->st = h->st == H_S_ESC ? H_S_ESC_DASH : H_S_ESC_DD;
		else if (ch == '<')
			h->st = H_S_ESC_LT;
		else if (ch == '>' && h->st == H_S_ESC_DD)
			h->st = H_SCRIPT;
		else
			h->st = H_S_ESC;
		break;
	case H_S_ESC_LT:
		if (ch == '/')
			h->st = H_S_ESC_ETO;
		else if (is_alpha(ch)) {
			h->st = H_S_DESC_START;
			goto again;
		} else {
			h->st = H_S_ESC;
			goto again;
		}
		break;
	case H_S_DESC_START:
	case H_S_DESC_END:
		if (is_ws(ch) || ch == '/' || ch == '>') {
			if (h->st == H_S_DESC_START)
				h->st = nm_is(h, "script") ? H_S_DESC : H_S_ESC;
			else
				h->st = nm_is(h, "script") ? H_S_ESC : H_S_DESC;
			h->nlen = 0;
		} else if (is_alpha(ch))
			nm_add(h, ch);
		else {
			h->st = h->st == H_S_DESC_START ? H_S_ESC : H_S_DESC;
			h->nlen = 0;
			goto again;
		}
		break;
	case H_S_DESC:
	case H_S_DESC_DASH:
	case H_S_DESC_DD:
		if (ch == '-')
			h->st = h->st == H_S_DESC ? H_S_DESC_DASH : H_S_DESC_DD;
		else if (ch == '<')
			h->st = H_S_DESC_LT;
		else if (ch == '>' && h->st == H_S_DESC_DD)
			h->st = H_SCRIPT;
		else
			h->st = H_S_DESC;
		break;
	case H_S_DESC_LT:
		if (ch == '/')
			h->st = H_S_DESC_END;
		else {
			h->st = H_S_DESC;
			goto again;
		}
		break;

	case H_TAG_OPEN:
		if (ch == '!')
			h->st = H_MD_OPEN;
		else if (ch == '/')
			h->st = H_END_TAG_OPEN;
		else if (is_alpha(ch)) {
			h->is_end = 0;
			h->st = H_TAG_NAME;
			goto again;
		} else if (ch == '?')
			h->st = H_BOGUS;
		else {
			h->st = H_DATA;
			goto again;
		}
		break;
	case H_END_TAG_OPEN:
		if (is_alpha(ch)) {
			h->is_end = 1;
			h->st = H_TAG_NAME;
			goto again;
		}
		if (ch == '>')
			h->st = H_DATA;
		else
			h->st = H_BOGUS;
		break;
	case H_TAG_NAME:
		if (is_ws(ch) || ch == '/' || ch == '>') {
			end_tag_name(h);
			h->st = H_BEFORE_ANAME;
			goto again;
		}
		nm_add(h, ch);
		break;
	case H_BEFORE_ANAME:
		if (is_ws(ch))
			break;
		if (ch == '/' || ch == '>') {
			h->st = H_AFTER_ANAME;
			goto again;
		}
		h->st = H_ANAME;
		h->nlen = 0;
		nm_add(h, ch);
		break;
	case H_ANAME:
		if (is_ws(ch) || ch == '/' || ch == '>') {
			h->st = H_AFTER_ANAME;
			goto again;
		}
		if (ch == '=') {
			h->akind = (unsigned char)attr_kind(h);
			h->st = H_BEFORE_AVAL;
		} else
			nm_add(h, ch);
		break;
	case H_AFTER_ANAME:
		if (is_ws(ch))
			break;
		if (ch == '/')
			h->st = H_SELF_CLOSING;
		else if (ch == '=') {
			h->akind = (unsigned char)attr_kind(h);
			h->st = H_BEFORE_AVAL;
		} else if (ch == '>')
			finish_tag(h, 0);
		else {
			h->st = H_ANAME;
			h->nlen = 0;
			goto again;
		}
		break;
	case H_BEFORE_AVAL:
		if (is_ws(ch))
			break;
		if (ch == '"')
			value_begin(h, H_AVAL_DQ);
		else if (ch == '\'')
			value_begin(h, H_AVAL_SQ);
		else if (ch == '>')
			finish_tag(h, 0);
		else {
			value_begin(h, H_AVAL_UQ);
			goto again;
		}
		break;
	case H_AVAL_DQ:
	case H_AVAL_SQ:
		/* "After attribute value (quoted)" moves exactly like
		 * "before attribute name", bar parse errors. */
		if (ch == (h->st == H_AVAL_DQ ? '"' : '\''))
			h->st = H_BEFORE_ANAME;
		else
			url_char(h, ch);
		break;
	case H_AVAL_UQ:
		if (is_ws(ch))
			h->st = H_BEFORE_ANAME;
		else if (ch == '>')
			finish_tag(h, 0);
		else
			url_char(h, ch);
		break;
	case H_SELF_CLOSING:
		if (ch == '>')
			finish_tag(h, 1);
		else {
			h->st = H_BEFORE_ANAME;
			goto again;
		}
		break;

	case H_MD_OPEN:
	case H_MD_DASH:
		if (ch == '-') {
			h->st = h->st == H_MD_OPEN ? H_MD_DASH : H_CMT_START;
			break;
		}
		h->st = H_BOGUS;	/* <!DOCTYPE, <![CDATA[: up to '>' */
		goto again;
	case H_BOGUS:
		if (ch == '>')
			h->st = H_DATA;
		break;
	case H_CMT_START:
	case H_CMT_START_DASH:
		if (ch == '>')
			h->st = H_DATA;	/* <!--> and <!---> */
		else if (ch == '-')
			h->st = h->st == H_CMT_START ? H_CMT_START_DASH :
			    H_CMT_END;
		else {
			h->st = H_CMT;
			goto again;
		}
		break;
	case H_CMT:
		if (ch == '-')
			h->st = H_CMT_END_DASH;
		break;
	case H_CMT_END_DASH:
		h->st = ch == '-' ? H_CMT_END : H_CMT;
		break;
	case H_CMT_END:
		if (ch == '>')
			h->st = H_DATA;
		else if (ch == '!')
			h->st = H_CMT_END_BANG;
		else if (ch != '-') {
			h->st = H_CMT;
			goto again;
		}
		break;
	case H_CMT_END_BANG:
		if (ch == '-')
			h->st = H_CMT_END_DASH;
		else if (ch == '>')
			h->st = H_DATA;
		else {
			h->st = H_CMT;
			goto again;
		}
		break;
	}

	/* Canonical form: clear what this state does not use. */
	switch (h->st) {
	case H_TAG_NAME:
	case H_ANAME:
	case H_AFTER_ANAME:
	case H_RT_ETN:
	case H_S_ETN:
	case H_S_ESC_ETN:
	case H_S_DESC_START:
	case H_S_DESC_END:
		break;
	default:
		h->nlen = 0;
	}
	if (h->st != H_AVAL_DQ && h->st != H_AVAL_SQ && h->st != H_AVAL_UQ) {
		h->url = U_NONE;
		h->ulen = 0;
		if (h->st != H_BEFORE_AVAL)
			h->akind = A_PLAIN;
	}
	if (h->st == H_DATA) {
		h->tag = 0;
		h->is_end = 0;
	}
}

static int
hs_eq(const struct hs *a, const struct hs *b)
{
	return a->st == b->st && a->tag == b->tag && a->is_end == b->is_end &&
	    a->foreign == b->foreign && a->akind == b->akind &&
	    a->url == b->url && a->nlen == b->nlen && a->ulen == b->ulen &&
	    memcmp(a->nm, b->nm, a->nlen > NM_MAX ? NM_MAX : a->nlen) == 0 &&
	    memcmp(a->ubuf, b->ubuf, a->ulen > 5 ? 5 : a->ulen) == 0;
}

/* Inside a tag, between attributes: where section boundaries may sit. */
static int
in_tag_gap(const struct hs *h)
{
	return h->st == H_TAG_NAME || h->st == H_BEFORE_ANAME ||
	    h->st == H_ANAME || h->st == H_AFTER_ANAME;
}

/* Where the next character could still extend a name, or an '=' could
 * give the previous attribute a value. */
static int
mid_attr(const struct hs *h)
{
	return h->st == H_TAG_NAME || h->st == H_ANAME ||
	    h->st == H_AFTER_ANAME;
}

static void
canon_gap(struct hs *h)
{
	if (h->st == H_TAG_NAME)
		end_tag_name(h);
	if (in_tag_gap(h)) {
		h->st = H_BEFORE_ANAME;
		h->nlen = 0;
	}
}

/* ---- the compiler ------------------------------------------------------ */

static int
add_node(struct cc *c, int kind, int esc, size_t off, size_t len)
{
	struct tmpl *t = c->t;
	struct node *p;
	size_t cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		if ((p = realloc(t->nodes, cap * sizeof(*p))) == NULL) {
			oom(c);
			return -1;
		}
		t->nodes = p;
		t->cap = cap;
	}
	p = &t->nodes[t->n++];
	p->kind = (unsigned char)kind;
	p->esc = (unsigned char)esc;
	p->off = off;
	p->len = len;
	p->end = 0;
	return 0;
}

/* A section or variable tag seen while open sections still wait for the
 * first characters of their body: too clever to reason about, refuse. */
static void
verdicts_spoil(struct cc *c)
{
	size_t i;

	if (c->npend == 0)
		return;
	for (i = 0; i < c->depth; i++)
		if (c->stk[i].verdict == V_UNKNOWN || c->stk[i].verdict == V_WS)
			c->stk[i].verdict = V_BAD;
	c->npend = 0;
}

static int
next_verdict(int v, int ch)
{
	if (v == V_UNKNOWN)
		return is_ws(ch) ? V_WS : ch == '/' || ch == '>' ? V_OK :
		    ch == '=' ? V_BAD : V_MERGE;
	if (v == V_WS)
		return is_ws(ch) ? V_WS : ch == '=' ? V_BAD : V_OK;
	return v;
}

/* Feeds literal text src[off, off + n) to the tokenizer. */
static int
feed(struct cc *c, size_t off, size_t n)
{
	size_t i, k;
	int ch, v;

	for (i = off; i < off + n; i++) {
		ch = (unsigned char)c->src[i];
		if (c->gap == G_NEED_SEP) {
			if (is_ws(ch))
				c->gap = G_NO_EQ;
			else if (ch == '/' || ch == '>')
				c->gap = G_NONE;
			else {
				cerr(c, i, "a section inside a tag must be "
				    "followed by a space, '/' or '>'");
				return -1;
			}
		} else if (c->gap == G_NO_EQ && !is_ws(ch)) {
			if (ch == '=') {
				cerr(c, i, "'=' after a section inside a tag");
				return -1;
			}
			c->gap = G_NONE;
		}
		if (c->npend > 0) {
			for (k = 0; k < c->depth; k++) {
				v = c->stk[k].verdict;
				if (v != V_UNKNOWN && v != V_WS)
					continue;
				v = next_verdict(v, ch);
				if (v != V_WS)
					c->npend--;
				c->stk[k].verdict = v;
			}
		}
		if (c->h.st == H_DATA)
			c->cons_off = i;
		hs_step(&c->h, ch);
	}
	return 0;
}

static int
known_name(const struct cc *c, size_t off, size_t len)
{
	const char *const *k;

	if (c->known == NULL)
		return 0;
	for (k = c->known; *k != NULL; k++)
		if (strlen(*k) == len && memcmp(*k, c->src + off, len) == 0)
			return 1;
	return 0;
}

/* Picks the escaper for a variable at the tokenizer's current state. */
static int
var_context(struct cc *c, size_t at, int *esc)
{
	struct hs *h = &c->h;
	const char *what;

	verdicts_spoil(c);
	if (c->mode == TMPL_TEXT) {
		*esc = E_NONE;
		return 0;
	}
	if (h->foreign > 0) {
		cerr(c, at, "variable inside <svg> or <math>");
		return -1;
	}
	switch (h->st) {
	case H_DATA:
	case H_RCDATA:
		*esc = E_TEXT;
		return 0;
	case H_AVAL_DQ:
	case H_AVAL_SQ:
		if (h->akind == A_FORBID) {
			cerr(c, at, "variable in an event-handler, style or "
			    "srcdoc attribute");
			return -1;
		}
		if (h->akind != A_URL) {
			*esc = E_ATTR;
			return 0;
		}
		if (h->url == U_START) {
			*esc = E_URL;
			h->url = U_AFTERVAR;
			return 0;
		}
		if (h->url == U_FIXED) {
			*esc = E_ATTR;
			return 0;
		}
		cerr(c, at, "variable inside a URL attribute must start the "
		    "value or follow '?', '#' or a fixed path");
		return -1;
	case H_BEFORE_AVAL:
	case H_AVAL_UQ:
		what = "an unquoted attribute value";
		break;
	case H_BEFORE_ANAME:
	case H_ANAME:
	case H_AFTER_ANAME:
	case H_SELF_CLOSING:
		what = "an attribute name";
		break;
	case H_TAG_OPEN:
	case H_END_TAG_OPEN:
	case H_TAG_NAME:
	case H_RT_LT:
	case H_RT_ETO:
	case H_RT_ETN:
		what = "a tag name";
		break;
	case H_RAWTEXT:
	case H_PLAINTEXT:
		cerr(c, at, "variable in <%s>", tagtab[h->tag].name);
		return -1;
	case H_MD_OPEN:
	case H_MD_DASH:
	case H_BOGUS:
	case H_CMT_START:
	case H_CMT_START_DASH:
	case H_CMT:
	case H_CMT_END_DASH:
	case H_CMT_END:
	case H_CMT_END_BANG:
		what = "an HTML comment";
		break;
	default:
		what = "<script>";
		break;
	}
	cerr(c, at, "variable in %s", what);
	return -1;
}

static int
sect_open(struct cc *c, int kind, size_t tag_off, size_t name_off,
    size_t name_len)
{
	struct open *o;

	if (c->depth == LIM_TEMPLATE_DEPTH) {
		cerr(c, tag_off, "sections nested deeper than %d",
		    LIM_TEMPLATE_DEPTH);
		return -1;
	}
	if (add_node(c, kind, E_NONE, name_off, name_len) == -1)
		return -1;
	verdicts_spoil(c);
	o = &c->stk[c->depth++];
	o->name_off = name_off;
	o->name_len = name_len;
	o->tag_off = tag_off;
	o->node = c->t->n - 1;
	o->pre = c->h;
	o->gap = c->gap;
	o->verdict = V_OK;
	if (c->mode != TMPL_HTML || !in_tag_gap(&c->h))
		return 0;
	/*
	 * A section between attributes: the body may follow an unfinished
	 * name ("<a x{{#s}}y") or, when repeated, its own end.  Continue
	 * from "before attribute name" and demand separators where the
	 * paths could differ; the body's start is judged lazily.
	 */
	if (mid_attr(&c->h))
		c->gap = G_NEED_SEP;
	canon_gap(&c->h);
	o->verdict = V_UNKNOWN;
	c->npend++;
	return 0;
}

static int
body_has_var(const struct cc *c, size_t node)
{
	size_t i;

	for (i = node + 1; i < c->t->n; i++)
		if (c->t->nodes[i].kind == N_VAR)
			return 1;
	return 0;
}

static int
sect_close(struct cc *c, size_t tag_off, size_t name_off, size_t name_len)
{
	struct open *o;
	struct hs pre, end;
	size_t l, col;
	int gap, end_mid, verdict;

	if (c->depth == 0) {
		cerr(c, tag_off, "{{/%.*s}} closes no section",
		    (int)(name_len > 64 ? 64 : name_len), c->src + name_off);
		return -1;
	}
	o = &c->stk[c->depth - 1];
	if (o->name_len != name_len ||
	    memcmp(c->src + o->name_off, c->src + name_off, name_len) != 0) {
		position(c->src, o->tag_off, &l, &col);
		cerr(c, tag_off, "{{/%.*s}} does not close {{#%.*s}} "
		    "opened at %zu:%zu",
		    (int)(name_len > 64 ? 64 : name_len), c->src + name_off,
		    (int)(o->name_len > 64 ? 64 : o->name_len),
		    c->src + o->name_off, l, col);
		return -1;
	}
	c->t->nodes[o->node].end = c->t->n;
	verdict = o->verdict;
	if (verdict == V_UNKNOWN || verdict == V_WS) {
		c->npend--;
		o->verdict = V_OK;
	}
	verdicts_spoil(c);
	if (c->mode != TMPL_HTML) {
		c->depth--;
		return 0;
	}
	pre = o->pre;
	end = c->h;
	gap = o->gap > c->gap ? o->gap : c->gap;
	end_mid = mid_attr(&end);
	if (in_tag_gap(&pre) && in_tag_gap(&end)) {
		if (mid_attr(&pre) || end_mid)
			gap = G_NEED_SEP;
		/*
		 * Repeated, the body follows its own end.  A first name
		 * merging into the last one ("checkedchecked") is harmless
		 * unless a value in the body depends on that name, or the
		 * name is the tag's ("<scr" + "ipt>").
		 */
		if ((end_mid || c->gap != G_NONE) && (verdict == V_BAD ||
		    (verdict == V_MERGE && (end.st == H_TAG_NAME ||
		    body_has_var(c, o->node))))) {
			cerr(c, tag_off, "a repeated section inside a tag "
			    "must start with a space");
			return -1;
		}
		canon_gap(&pre);
		canon_gap(&end);
	}
	if (!hs_eq(&pre, &end)) {
		cerr(c, tag_off, "section '%.*s' ends in another HTML context "
		    "than it starts",
		    (int)(name_len > 64 ? 64 : name_len), c->src + name_off);
		return -1;
	}
	c->h = pre;
	c->gap = gap;
	c->depth--;
	return 0;
}

static size_t
find_close(const char *s, size_t len, size_t from)
{
	size_t i;

	for (i = from; i + 1 < len; i++)
		if (s[i] == '}' && s[i + 1] == '}')
			return i;
	return len;
}

/* Mustache's "standalone" rule: a line holding only a section, inverted,
 * close or comment tag and blanks disappears entirely, so text templates
 * (mail bodies) can put each tag on its own line. */
static int
standalone(const char *s, size_t len, size_t pos, size_t open, size_t end,
    size_t *ltrim, size_t *next)
{
	size_t k = open, e = end;

	while (k > pos && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (k > 0 && s[k - 1] != '\n')
		return 0;
	while (e < len && (s[e] == ' ' || s[e] == '\t'))
		e++;
	if (e < len && s[e] == '\r' && e + 1 < len && s[e + 1] == '\n')
		e += 2;
	else if (e < len && s[e] == '\n')
		e++;
	else if (e != len)
		return 0;
	*ltrim = k;
	*next = e;
	return 1;
}

static int
add_text(struct cc *c, size_t off, size_t n)
{
	if (n == 0)
		return 0;
	if (c->mode == TMPL_HTML && feed(c, off, n) == -1)
		return -1;
	return add_node(c, N_TEXT, E_NONE, off, n);
}

/* Reports where a template ends inside something unfinished. */
static int
check_eof(struct cc *c)
{
	const struct hs *h = &c->h;

	if (c->depth > 0) {
		cerr(c, c->stk[c->depth - 1].tag_off,
		    "section '%.*s' is not closed",
		    (int)(c->stk[c->depth - 1].name_len > 64 ? 64 :
		    c->stk[c->depth - 1].name_len),
		    c->src + c->stk[c->depth - 1].name_off);
		return -1;
	}
	if (c->mode != TMPL_HTML || h->st == H_DATA)
		return 0;
	switch (h->st) {
	case H_RCDATA:
	case H_RAWTEXT:
	case H_PLAINTEXT:
	case H_SCRIPT:
		cerr(c, c->cons_off, "<%s> is not closed",
		    tagtab[h->tag].name[0] ? tagtab[h->tag].name : "script");
		break;
	case H_CMT_START:
	case H_CMT_START_DASH:
	case H_CMT:
	case H_CMT_END_DASH:
	case H_CMT_END:
	case H_CMT_END_BANG:
		cerr(c, c->cons_off, "unterminated HTML comment");
		break;
	default:
		if (h->st >= H_RT_LT && h->st < H_TAG_OPEN)
			cerr(c, c->cons_off, "<%s> is not closed",
			    tagtab[h->tag].name[0] ? tagtab[h->tag].name :
			    "script");
		else
			cerr(c, c->cons_off, "unterminated tag");
	}
	return -1;
}

static int
parse(struct cc *c)
{
	const char *s = c->src;
	size_t len = c->len, pos = 0, open, close, p, q, nend, ltrim, next;
	int sigil, esc;

	while (pos < len) {
		for (open = pos; open + 1 < len; open++)
			if (s[open] == '{' && s[open + 1] == '{')
				break;
		if (open + 1 >= len) {
			if (add_text(c, pos, len - pos) == -1)
				return -1;
			break;
		}
		if ((close = find_close(s, len, open + 2)) == len) {
			cerr(c, open, "unterminated {{");
			return -1;
		}
		p = open + 2;
		sigil = s[p] == '#' || s[p] == '^' || s[p] == '/' ||
		    s[p] == '!' ? s[p++] : 0;
		next = close + 2;
		ltrim = open;
		if (sigil != 0)
			standalone(s, len, pos, open, close + 2, &ltrim, &next);
		if (add_text(c, pos, ltrim - pos) == -1)
			return -1;
		pos = next;
		if (sigil == '!')
			continue;
		while (p < close && is_ws((unsigned char)s[p]))
			p++;
		for (q = p; q < close && is_name_char((unsigned char)s[q]); q++)
			;
		nend = q;
		while (q < close && is_ws((unsigned char)s[q]))
			q++;
		if (nend == p || q != close) {
			cerr(c, open, "a name is [A-Za-z0-9_-]+ in {{...}}");
			return -1;
		}
		if (!known_name(c, p, nend - p)) {
			cerr(c, p, "unknown variable '%.*s'",
			    (int)(nend - p > 64 ? 64 : nend - p), s + p);
			return -1;
		}
		switch (sigil) {
		case '#':
		case '^':
			if (sect_open(c, sigil == '#' ? N_SECT : N_INV, open, p,
			    nend - p) == -1)
				return -1;
			break;
		case '/':
			if (sect_close(c, open, p, nend - p) == -1)
				return -1;
			break;
		default:
			if (var_context(c, open, &esc) == -1 ||
			    add_node(c, N_VAR, esc, p, nend - p) == -1)
				return -1;
		}
	}
	return check_eof(c);
}

struct tmpl *
tmpl_compile(const char *src, size_t len, enum tmpl_mode mode,
    const char *const *known, char *err, size_t errlen)
{
	struct cc c;
	struct tmpl *t = NULL;

	memset(&c, 0, sizeof(c));
	c.src = src;
	c.len = len;
	c.mode = mode;
	c.known = known;
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > LIM_TEMPLATE_BYTES) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "1:1: template is larger than "
			    "%d bytes", LIM_TEMPLATE_BYTES);
		goto fail;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->src = malloc(len ? len : 1)) == NULL) {
		oom(&c);
		goto fail;
	}
	if (len > 0)
		memcpy(t->src, src, len);
	c.t = t;
	/* Parse the private copy: nodes point into it. */
	c.src = t->src;
	if (parse(&c) == -1)
		goto fail;
	return t;
fail:
	tmpl_free(t);
	return NULL;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->src);
	free(t);
}

/* ---- rendering --------------------------------------------------------- */

/* var equals name[0..len); stops at var's NUL, never reads past it. */
static int
name_is(const char *var, const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		if (var[k] == '\0' || var[k] != name[k])
			return 0;
	return var[len] == '\0';
}

static const struct tmpl_var *
lookup(const struct tmpl *t, const struct node *nd,
    const struct tmpl_scope *const *stk, size_t depth)
{
	const struct tmpl_scope *sc;
	const char *name = t->src + nd->off;
	size_t i, j;

	for (i = depth; i-- > 0;) {
		if ((sc = stk[i]) == NULL || sc->vars == NULL)
			continue;
		/* Inline compare: most names differ within two bytes, and
		 * this runs for every variable of every page. */
		for (j = 0; j < sc->n; j++)
			if (sc->vars[j].name != NULL &&
			    name_is(sc->vars[j].name, name, nd->len))
				return &sc->vars[j];
	}
	return NULL;
}

/* & < > " ' as entities, written straight into room reserved for the
 * worst case of a chunk (every byte an entity of at most 6 bytes). */
static int
esc_html(struct buf *out, const char *s, size_t n)
{
	static const char *const rep[256] = { ['&'] = "&amp;",
	    ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;",
	    ['\''] = "&#39;" };
	const char *e;
	char *d;
	size_t i = 0, end;

	if (n == 0)
		return buf_add(out, s, 0);
	while (i < n) {
		end = n - i < 4096 ? n : i + 4096;
		if (buf_reserve(out, (end - i) * 6) == -1)
			return -1;
		for (d = out->data + out->len; i < end; i++) {
			size_t from = i;
			/* Runs without a special byte are copied whole. */
			while (i < end && rep[(unsigned char)s[i]] == NULL)
				i++;
			memcpy(d, s + from, i - from);
			d += i - from;
			if (i == end)
				break;
			for (e = rep[(unsigned char)s[i]]; *e; )
				*d++ = *e++;
		}
		out->len = (size_t)(d - out->data);
		out->data[out->len] = '\0';
	}
	return 0;
}

/* Only absolute http(s) URLs and paths on this host may leave the page;
 * a second '/' or '\' (browsers read both as "//host") would not. */
static int
url_ok(const char *s, size_t n)
{
	size_t i;

	if ((n >= 7 && eq_ci(s, 7, "http://")) ||
	    (n >= 8 && eq_ci(s, 8, "https://")))
		return 1;
	if (n == 0 || s[0] != '/')
		return 0;
	for (i = 1; i < n && (s[i] == '\t' || s[i] == '\n' || s[i] == '\r');
	    i++)
		;
	return i == n || (s[i] != '/' && s[i] != '\\');
}

static int
emit(struct buf *out, int esc, const char *s, size_t n)
{
	if (s == NULL) {
		s = "";
		n = 0;
	}
	switch (esc) {
	case E_TEXT:
	case E_ATTR:
		return esc_html(out, s, n);
	case E_URL:
		if (!url_ok(s, n))
			return buf_addc(out, '#');
		return esc_html(out, s, n);
	default:
		return buf_add(out, s, n);
	}
}

static int
render_range(const struct tmpl *t, size_t i, size_t end,
    const struct tmpl_scope **stk, size_t depth, struct buf *out)
{
	const struct node *nd;
	const struct tmpl_var *v;
	size_t k;
	int empty;

	while (i < end && !out->oom) {
		nd = &t->nodes[i];
		switch (nd->kind) {
		case N_TEXT:
			buf_add(out, t->src + nd->off, nd->len);
			i++;
			continue;
		case N_VAR:
			/* Absent renders as empty, which a URL turns to "#". */
			v = lookup(t, nd, stk, depth);
			if (v != NULL && !v->is_list)
				emit(out, nd->esc, v->str, v->len);
			else
				emit(out, nd->esc, NULL, 0);
			i++;
			continue;
		}
		v = lookup(t, nd, stk, depth);
		if (v == NULL)
			empty = 1;
		else if (v->is_list)
			empty = v->nitems == 0 || v->items == NULL;
		else
			empty = v->len == 0 || v->str == NULL;
		if (nd->kind == N_INV) {
			if (empty && render_range(t, i + 1, nd->end, stk, depth,
			    out) == -1)
				return -1;
		} else if (!empty && v->is_list) {
			/* depth is bounded by LIM_TEMPLATE_DEPTH at compile. */
			for (k = 0; k < v->nitems; k++) {
				stk[depth] = &v->items[k];
				if (render_range(t, i + 1, nd->end, stk,
				    depth + 1, out) == -1)
					return -1;
			}
		} else if (!empty) {
			if (render_range(t, i + 1, nd->end, stk, depth,
			    out) == -1)
				return -1;
		}
		i = nd->end;
	}
	return out->oom ? -1 : 0;
}

int
tmpl_render(const struct tmpl *t, const struct tmpl_scope *root,
    struct buf *out)
{
	const struct tmpl_scope *stk[LIM_TEMPLATE_DEPTH + 1];

	if (out->oom)
		return -1;
	stk[0] = root;
	if (render_range(t, 0, t->n, stk, 1, out) == -1) {
		out->oom = 1;
		return -1;
	}
	return 0;
}

/* ---- plans ------------------------------------------------------------- */

enum pkind { P_TEXT, P_VAR, P_IF, P_IFNOT };

/* A step.  P_TEXT: text[off, off + len); P_VAR: vals[slot], escaped by
 * esc; P_IF / P_IFNOT: steps (i, end) when vals[slot] is non-empty /
 * empty, else on at end. */
struct pstep {
	unsigned char kind;
	unsigned char esc;
	unsigned slot;
	size_t off, len, end;
};

struct tmpl_plan {
	struct buf text;
	struct pstep *s;
	size_t n, cap;
	unsigned nslots;
	unsigned char *used;         /* nslots flags */
	size_t barrier;              /* text steps before it are in a
	                              * closed section: never merged into */
	int fail;                    /* OOM, too big, or not plannable */
};

static size_t
plan_add(struct tmpl_plan *p, int kind, int esc, unsigned slot)
{
	struct pstep *s;

	if ((p->n + 1) * sizeof *s + p->text.len > LIM_TEMPLATE_PLAN) {
		p->fail = 1;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		if ((s = realloc(p->s, cap * sizeof *s)) == NULL) {
			p->fail = 1;
			return 0;
		}
		p->s = s;
		p->cap = cap;
	}
	s = &p->s[p->n];
	memset(s, 0, sizeof *s);
	s->kind = (unsigned char)kind;
	s->esc = (unsigned char)esc;
	s->slot = slot;
	if (slot >= p->nslots)
		p->nslots = slot + 1;
	return p->n++;
}

/* Static bytes: emitted now, escaped as the node asks, into the text;
 * merged with the step before when that is text too. */
static void
plan_static(struct tmpl_plan *p, int esc, const char *s, size_t n)
{
	size_t from = p->text.len;
	struct pstep *last = p->n ? &p->s[p->n - 1] : NULL;

	if (emit(&p->text, esc, s, n) == -1 ||
	    p->text.len + p->n * sizeof *last > LIM_TEMPLATE_PLAN) {
		p->fail = 1;
		return;
	}
	if (p->text.len == from)
		return;
	if (last == NULL || last->kind != P_TEXT || p->n <= p->barrier ||
	    last->off + last->len != from) {
		size_t i = plan_add(p, P_TEXT, E_NONE, 0);
		if (p->fail)
			return;
		last = &p->s[i];
		last->off = from;
	}
	last->len += p->text.len - from;
}

static void plan_range(struct tmpl_plan *, const struct tmpl *, size_t,
    size_t, const struct tmpl_scope **, size_t);

/* A section body kept or skipped by vals[slot] at render time. */
static void
plan_cond(struct tmpl_plan *p, int kind, unsigned slot, const struct tmpl *t,
    size_t i, size_t end, const struct tmpl_scope **stk, size_t depth)
{
	size_t at = plan_add(p, kind, E_NONE, slot);

	if (p->fail)
		return;
	plan_range(p, t, i, end, stk, depth);
	if (!p->fail)
		p->s[at].end = p->barrier = p->n;
}

/* A list section, its items known: unrolled, each conditional item
 * behind its cond. */
static void
plan_list(struct tmpl_plan *p, const struct tmpl *t, const struct node *nd,
    size_t i, const struct tmpl_var *v, const struct tmpl_scope **stk,
    size_t depth)
{
	size_t k, conds = 0;

	for (k = 0; v->items && k < v->nitems; k++)
		conds += v->items[k].cond != 0;
	if (nd->kind == N_INV) {
		if (conds && v->slot == 0)
			p->fail = 1;
		else if (conds)
			plan_cond(p, P_IFNOT, v->slot, t, i + 1, nd->end, stk,
			    depth);
		else if (v->nitems == 0 || v->items == NULL)
			plan_range(p, t, i + 1, nd->end, stk, depth);
		return;
	}
	for (k = 0; v->items && k < v->nitems && !p->fail; k++) {
		stk[depth] = &v->items[k];
		if (v->items[k].cond)
			plan_cond(p, P_IF, v->items[k].cond, t, i + 1, nd->end,
			    stk, depth + 1);
		else
			plan_range(p, t, i + 1, nd->end, stk, depth + 1);
	}
}

/* A section: decided now when its variable is known, else left to the
 * render. */
static void
plan_section(struct tmpl_plan *p, const struct tmpl *t, size_t i,
    const struct tmpl_scope **stk, size_t depth)
{
	const struct node *nd = &t->nodes[i];
	const struct tmpl_var *v = lookup(t, nd, stk, depth);
	int empty;

	if (v && v->slot == TMPL_NO_PLAN) {
		p->fail = 1;
		return;
	}
	if (v && v->is_list) {
		plan_list(p, t, nd, i, v, stk, depth);
		return;
	}
	if (v && v->slot) {
		plan_cond(p, nd->kind == N_INV ? P_IFNOT : P_IF, v->slot, t,
		    i + 1, nd->end, stk, depth);
		return;
	}
	empty = v == NULL || v->len == 0 || v->str == NULL;
	if (empty == (nd->kind == N_INV))
		plan_range(p, t, i + 1, nd->end, stk, depth);
}

/* render_range's twin: writes what is known, leaves steps for the rest. */
static void
plan_range(struct tmpl_plan *p, const struct tmpl *t, size_t i, size_t end,
    const struct tmpl_scope **stk, size_t depth)
{
	const struct node *nd;
	const struct tmpl_var *v;

	for (; i < end && !p->fail; i = nd->kind == N_TEXT ||
	    nd->kind == N_VAR ? i + 1 : nd->end) {
		nd = &t->nodes[i];
		switch (nd->kind) {
		case N_TEXT:
			plan_static(p, E_NONE, t->src + nd->off, nd->len);
			break;
		case N_VAR:
			v = lookup(t, nd, stk, depth);
			if (v && v->slot == TMPL_NO_PLAN)
				p->fail = 1;
			else if (v && !v->is_list && v->slot)
				plan_add(p, P_VAR, nd->esc, v->slot);
			else if (v && !v->is_list)
				plan_static(p, nd->esc, v->str, v->len);
			else
				plan_static(p, nd->esc, NULL, 0);
			break;
		default:
			plan_section(p, t, i, stk, depth);
			break;
		}
	}
}

struct tmpl_plan *
tmpl_plan_new(const struct tmpl *t, const struct tmpl_scope *root)
{
	const struct tmpl_scope *stk[LIM_TEMPLATE_DEPTH + 1];
	struct tmpl_plan *p = calloc(1, sizeof *p);
	size_t i;

	if (p == NULL)
		return NULL;
	buf_init(&p->text);
	stk[0] = root;
	plan_range(p, t, 0, t->n, stk, 1);
	if (!p->fail && (p->used = calloc(p->nslots + 1, 1)) == NULL)
		p->fail = 1;
	for (i = 0; !p->fail && i < p->n; i++)
		if (p->s[i].kind != P_TEXT)
			p->used[p->s[i].slot] = 1;
	if (p->fail || p->text.oom) {
		tmpl_plan_free(p);
		return NULL;
	}
	return p;
}

int
tmpl_plan_uses(const struct tmpl_plan *p, unsigned slot)
{
	return slot < p->nslots && p->used[slot];
}

unsigned
tmpl_plan_slots(const struct tmpl_plan *p)
{
	return p->nslots;
}

int
tmpl_plan_render(const struct tmpl_plan *p, const struct tmpl_val *vals,
    struct buf *out)
{
	const struct pstep *s;
	size_t i = 0;
	int empty;

	if (buf_reserve(out, p->text.len + 1024) == -1)
		return -1;
	while (i < p->n && !out->oom) {
		s = &p->s[i];
		switch (s->kind) {
		case P_TEXT:
			if (out->cap - out->len > s->len) {   /* reserved */
				memcpy(out->data + out->len,
				    p->text.data + s->off, s->len);
				out->data[out->len += s->len] = '\0';
			} else
				buf_add(out, p->text.data + s->off, s->len);
			i++;
			break;
		case P_VAR:
			emit(out, s->esc, vals[s->slot].str, vals[s->slot].len);
			i++;
			break;
		default:
			empty = vals[s->slot].str == NULL ||
			    vals[s->slot].len == 0;
			i = empty == (s->kind == P_IFNOT) ? i + 1 : s->end;
			break;
		}
	}
	return out->oom ? -1 : 0;
}

void
tmpl_plan_free(struct tmpl_plan *p)
{
	if (p == NULL)
		return;
	buf_free(&p->text);
	free(p->s);
	free(p->used);
	free(p);
}
