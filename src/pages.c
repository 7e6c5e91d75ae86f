/*
 * pages — loading the template set and turning a site, its field values
 * and the request facts into template scopes.  Every byte a visitor sent
 * reaches a template only as a variable, escaped by tmpl for its context.
 */
#include "pages.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "echo.h"
#include "file.h"
#include "limits.h"
#include "tmpl.h"

static const char *const page_files[] = {
	[PAGE_THANKS] = "thanks.html", [PAGE_FORM] = "form.html",
	[PAGE_ERROR] = "error.html", [PAGE_MAIL] = "mail.txt",
	[PAGE_CONFIRM] = "confirm.html",
	[PAGE_AUTO_REPLY] = "auto_reply.txt",
};


/* Every name the engine provides; templates may use no others but fields. */
static const char *const reserved_list[] = {
	"_id", "_site", "_date", "_ip", "_page", "_lang", "_action",
	"_status", "_title", "_message", "_fields", "_name", "_label",
	"_value", "_error", "_required", "_input_type", "_input_mode",
	"_is_multiline",
	"_is_select", "_is_checkbox", "_is_group", "_is_consent", "_checked",
	"_multiline", "_indented", "_options", "_option", "_selected",
	"_errors", "_honeypot", "_has_errors", "_reply_to", "_is_file",
	"_accept", "_multipart", "_files", "_size", "_type", "_confirm",
	"_hold",
	"_token", "_carrier", "_carrier_name", "_carrier_help",
	"_allow_domain", "_echo", NULL,
};

/* An error page rendered once (pages_render_error): the facts it was
 * rendered with, and its bytes. */
struct memo_page {
	const char *title, *message;
	size_t len;
	char data[];
};

/* The statuses whose error pages are kept, and their memo columns. */
static const int memo_status[] = { 400, 403, 404, 405, 413, 415, 429, 503 };
#define MEMO_COLS ARRAY_LEN(memo_status)

struct pages {
	const struct config *c;
	struct tmpl *(*t)[PAGE_COUNT];   /* per site */
	size_t n;
	struct tmpl *generic[2];         /* error page without a site, ja/en */
	/* Per site, the plans (tmpl.h) of the pages a request renders
	 * (planned below); NULL: rendered from the template. */
	struct tmpl_plan *(*plan)[PAGE_COUNT];
	/* Error pages, filled on first use: per site, then the generic ja
	 * and en, a row of MEMO_COLS; published once with a CAS, never
	 * changed after, freed with the set. */
	_Atomic(struct memo_page *) (*memo)[MEMO_COLS];
};

void
pages_free(struct pages *p)
{
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		for (j = 0; j < PAGE_COUNT; j++)
			tmpl_free(p->t[i][j]);
	tmpl_free(p->generic[0]);
	tmpl_free(p->generic[1]);
	for (i = 0; p->plan && i < p->n; i++)
		for (j = 0; j < PAGE_COUNT; j++)
			tmpl_plan_free(p->plan[i][j]);
	free(p->plan);
	for (i = 0; p->memo && i < p->n + 2; i++)
		for (j = 0; j < MEMO_COLS; j++)
			free(atomic_load(&p->memo[i][j]));
	free(p->memo);
	free(p->t);
	free(p);
}

static struct tmpl *
load_one(const struct config *c, const struct site *s, enum page pg,
    const char *const *known, char *err, size_t errlen)
{
	char path[4096], cerr[256];
	struct tmpl *t = NULL;
	struct buf b;
	int rc;

	buf_init(&b);
	path[0] = '\0';
	if (s->templates) {
		snprintf(path, sizeof path, "%s/%s", s->templates,
		    page_files[pg]);
		if (access(path, F_OK) == -1)
			path[0] = '\0';
	}
	if (path[0] == '\0')
		snprintf(path, sizeof path, "%s/%s/%s", c->templates,
		    s->lang == LANG_JA ? "ja" : "en", page_files[pg]);
	if ((rc = file_read(path, LIM_TEMPLATE_BYTES, &b)) != 0) {
		snprintf(err, errlen, "%s: cannot read template: %s", path,
		    strerror(rc));
		goto out;
	}
	/* A review page that posts a file field's name instead of its
	 * reference would lose every attachment (doc/design.md "Held
	 * uploads"). */
	if (pg == PAGE_CONFIRM && s->has_files && (b.data == NULL ||
	    memmem(b.data, b.len, "{{_hold}}", 9) == NULL)) {
		snprintf(err, errlen, "%s: site %s has type: file fields: "
		    "the review page must post each file field's {{_hold}} "
		    "(its held file's reference) as the field's hidden value",
		    path, s->name);
		goto out;
	}
	t = tmpl_compile(b.data ? b.data : "", b.len,
	    pg == PAGE_MAIL || pg == PAGE_AUTO_REPLY ? TMPL_TEXT : TMPL_HTML,
	    known, cerr, sizeof cerr);
	if (t == NULL)
		snprintf(err, errlen, "%s:%s", path, cerr);
out:
	buf_free(&b);
	return t;
}

/* A subject line's template into *out.  0, or -1 with err. */
static int
compile_subject(const struct config *c, const struct site *s,
    const char *src, const char *what, const char *const *known,
    struct tmpl **out, char *err, size_t errlen)
{
	char cerr[256];

	if ((*out = tmpl_compile(src, strlen(src), TMPL_TEXT, known, cerr,
	    sizeof cerr)) != NULL)
		return 0;
	snprintf(err, errlen, "%s: site %s: %s: %s", c->path, s->name, what,
	    cerr);
	return -1;
}

static void make_plans(const struct site *, struct tmpl *const *,
    struct tmpl_plan **);

struct pages *
pages_load(const struct config *c, char *err, size_t errlen)
{
	struct pages *p;
	const char **known = NULL;
	size_t i, j, nr = ARRAY_LEN(reserved_list) - 1;

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->t = calloc(c->nsites, sizeof *p->t)) == NULL ||
	    (p->memo = calloc(c->nsites + 2, sizeof *p->memo)) == NULL ||
	    (p->plan = calloc(c->nsites, sizeof *p->plan)) == NULL)
		goto nomem;
	p->c = c;
	p->n = c->nsites;
	for (i = 0; i < 2; i++) {
		struct site generic = { .name = "", .lang = (enum lang)i };
		if ((p->generic[i] = load_one(c, &generic, PAGE_ERROR,
		    reserved_list, err, errlen)) == NULL)
			goto fail;
	}
	for (i = 0; i < c->nsites; i++) {
		const struct site *s = &c->sites[i];
		free(known);
		if ((known = calloc(nr + s->nfields + 1, sizeof *known)) ==
		    NULL)
			goto nomem;
		memcpy(known, reserved_list, nr * sizeof *known);
		for (j = 0; j < s->nfields; j++)
			known[nr + j] = s->fields[j].name;
		for (j = 0; j < PAGE_SUBJECT; j++)
			if ((j != PAGE_CONFIRM || s->confirm) &&
			    (j != PAGE_AUTO_REPLY || s->auto_reply) &&
			    (p->t[i][j] = load_one(c, s, (enum page)j, known,
			    err, errlen)) == NULL)
				goto fail;
		if (compile_subject(c, s, s->subject, "subject", known,
		    &p->t[i][PAGE_SUBJECT], err, errlen) == -1 ||
		    (s->auto_reply && compile_subject(c, s, s->ar_subject,
		    "auto_reply subject", known, &p->t[i][PAGE_AR_SUBJECT],
		    err, errlen) == -1))
			goto fail;
		make_plans(s, p->t[i], p->plan[i]);
	}
	free(known);
	return p;
nomem:
	snprintf(err, errlen, "out of memory loading templates");
fail:
	free(known);
	pages_free(p);
	return NULL;
}

/* ------------------------------------------------------------ scopes */

/* A bump list of variables, so one free releases a whole render's data. */
struct vars {
	struct tmpl_var *v;
	size_t n, cap;
	int oom;
};

static void
var_add(struct vars *vs, const char *name, const char *str)
{
	struct tmpl_var *p;

	if (vs->oom)
		return;
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 32;
		if ((p = realloc(vs->v, cap * sizeof *p)) == NULL) {
			vs->oom = 1;
			return;
		}
		vs->v = p;
		vs->cap = cap;
	}
	p = &vs->v[vs->n++];
	memset(p, 0, sizeof *p);
	p->name = name;
	p->str = str ? str : "";
	p->len = strlen(p->str);
}

static void
var_list(struct vars *vs, const char *name, const struct tmpl_scope *items,
    size_t n)
{
	var_add(vs, name, "");
	if (!vs->oom) {
		vs->v[vs->n - 1].is_list = 1;
		vs->v[vs->n - 1].items = items;
		vs->v[vs->n - 1].nitems = n;
	}
}

static const char *
flag(int b)
{
	return b ? "1" : "";
}

static const char *
input_type(enum field_type t)
{
	switch (t) {
	case FT_EMAIL: return "email";
	case FT_TEL: return "tel";
	case FT_URL: return "url";
	case FT_NUMBER: return "text";   /* inputmode=decimal; no spinner */
	default: return "text";
	}
}

/* The phone keyboard to offer: a number is an <input type=text> (no
 * spinner, full-width digits typed by an IME still arrive and are
 * folded), so the keypad is requested with inputmode instead. */
static const char *
input_mode(enum field_type t)
{
	switch (t) {
	case FT_NUMBER: return "decimal";
	case FT_TEL: return "tel";
	case FT_EMAIL: return "email";
	case FT_URL: return "url";
	default: return "";
	}
}

/*
 * "  line" per line, for multi-line values in mails, so a value reads as
 * one block under its label.  Empty lines stay empty: trailing spaces
 * would only cost "=20" in quoted-printable and be stripped by readers.
 */
static char *
indent(const char *s)
{
	struct buf b;
	size_t n = strlen(s), i, j;
	int bol = 1;

	buf_init(&b);
	/* CRs are dropped; the runs between them and the line ends are
	 * copied whole, the first of a line after its indent. */
	for (i = 0; i < n; i = j + 1) {
		for (j = i; j < n && s[j] != '\r' && s[j] != '\n'; j++)
			;
		if (j > i) {
			if (bol)
				buf_add(&b, "  ", 2);
			buf_add(&b, s + i, j - i);
			bol = 0;
		}
		if (j < n && s[j] == '\n') {
			buf_addc(&b, '\n');
			bol = 1;
		}
	}
	return buf_steal(&b);
}

/* Everything one render allocates, freed together. */
struct render {
	struct vars root;
	struct vars *fieldvars;       /* one per field */
	struct tmpl_scope *fieldscopes;
	struct vars *optvars;         /* one per option of every field */
	struct tmpl_scope *optscopes;
	struct vars *errvars;
	struct tmpl_scope *errscopes;
	struct vars *filevars;        /* one per attached file */
	struct tmpl_scope *filescopes;
	size_t nfiles;
	struct vars *echovars;        /* one per echoed field */
	struct tmpl_scope *echoscopes;
	char **strings;               /* owned strings */
	size_t nstrings, nopt;
	size_t n;
	/* Scopes for a plan (tmpl.h): what the request decides is a slot
	 * (plan_slot below), its value left empty. */
	int plan;
	const struct site *s;
};

/* The slots of a page's plan: the request's facts, then F_SLOTS per
 * field, then one per option of every field (_selected). */
enum { SL_NONE, SL_ID, SL_DATE, SL_IP, SL_PAGE, SL_REPLY_TO, SL_CARRIER,
    SL_CARRIER_NAME, SL_CARRIER_HELP, SL_ALLOW_DOMAIN, SL_ACTION, SL_STATUS,
    SL_TITLE, SL_MESSAGE, SL_CONFIRM, SL_TOKEN, SL_HAS_ERRORS, SL_FIELDS };
enum { F_VALUE, F_ERROR, F_HOLD, F_SIZE, F_CHECKED, F_MULTILINE, F_INDENTED,
    F_SLOTS };
#define FSLOT(i, k) (SL_FIELDS + (unsigned)(i) * F_SLOTS + (unsigned)(k))
#define OSLOT(s, o) (SL_FIELDS + (unsigned)(s)->nfields * F_SLOTS + \
    (unsigned)(o))

/* In a plan, the variable just added is one a plan cannot hold: a list
 * whose items the request decides (_files, _echo). */
static void
var_unplanned(struct render *r, struct vars *vs)
{
	if (r->plan && !vs->oom)
		vs->v[vs->n - 1].slot = TMPL_NO_PLAN;
}

/* A variable the request decides: its value, or in a plan its slot. */
static void
var_dyn(struct render *r, struct vars *vs, const char *name, const char *str,
    unsigned slot)
{
	var_add(vs, name, str);
	if (r->plan && !vs->oom)
		vs->v[vs->n - 1].slot = slot;
}

static const char *
own(struct render *r, char *s)
{
	if (s == NULL) {
		r->root.oom = 1;
		return "";
	}
	r->strings[r->nstrings++] = s;
	return s;
}

static void
render_free(struct render *r)
{
	size_t i;

	free(r->root.v);
	for (i = 0; i < r->n; i++) {
		if (r->fieldvars)
			free(r->fieldvars[i].v);
		if (r->errvars)
			free(r->errvars[i].v);
		if (r->filevars)
			free(r->filevars[i].v);
		if (r->echovars)
			free(r->echovars[i].v);
	}
	for (i = 0; r->optvars && i < r->nopt; i++)
		free(r->optvars[i].v);
	for (i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r->fieldvars);
	free(r->fieldscopes);
	free(r->optvars);
	free(r->optscopes);
	free(r->errvars);
	free(r->errscopes);
	free(r->filevars);
	free(r->filescopes);
	free(r->echovars);
	free(r->echoscopes);
	free(r->strings);
}

static int
render_alloc(struct render *r, const struct site *s, int plan)
{
	size_t i, nopt = 0;

	memset(r, 0, sizeof *r);
	r->plan = plan;
	r->s = s;
	r->n = s->nfields;
	for (i = 0; i < s->nfields; i++)
		nopt += s->fields[i].noptions;
	r->fieldvars = calloc(r->n + 1, sizeof *r->fieldvars);
	r->fieldscopes = calloc(r->n + 1, sizeof *r->fieldscopes);
	r->errvars = calloc(r->n + 1, sizeof *r->errvars);
	r->errscopes = calloc(r->n + 1, sizeof *r->errscopes);
	r->optvars = calloc(nopt + 1, sizeof *r->optvars);
	r->optscopes = calloc(nopt + 1, sizeof *r->optscopes);
	r->filevars = calloc(r->n + 1, sizeof *r->filevars);
	r->filescopes = calloc(r->n + 1, sizeof *r->filescopes);
	r->echovars = calloc(r->n + 1, sizeof *r->echovars);
	r->echoscopes = calloc(r->n + 1, sizeof *r->echoscopes);
	r->strings = calloc(6 * r->n + 1, sizeof *r->strings);
	r->nopt = nopt;
	return !r->fieldvars || !r->fieldscopes || !r->errvars ||
	    !r->errscopes || !r->optvars || !r->optscopes || !r->strings ||
	    !r->filevars || !r->filescopes || !r->echovars ||
	    !r->echoscopes ? -1 : 0;
}

/* 1 when option j of fd shows as chosen: posted, or the raw value of a
 * select that failed validation; fv may be NULL. */
static int
selected(const struct field *fd, const struct fval *fv, size_t j)
{
	size_t k;
	int sel = 0;

	for (k = 0; fv && k < fv->nchoices; k++)
		sel |= strcmp(fv->choices[k], fd->options[j]) == 0;
	if (fv && fd->type == FT_SELECT && fv->error &&
	    fv->raw && strcmp(fv->raw, fd->options[j]) == 0)
		sel = 1;
	return sel;
}

/* fd's options as the scopes from *o on (advanced past them), each
 * _selected as posted; fv may be NULL.  0, or -1 (OOM). */
static int
option_vars(struct render *r, const struct field *fd, const struct fval *fv,
    size_t *o)
{
	size_t j;

	for (j = 0; j < fd->noptions; j++, (*o)++) {
		struct vars *ov = &r->optvars[*o];
		var_add(ov, "_option", fd->options[j]);
		var_dyn(r, ov, "_selected", flag(selected(fd, fv, j)),
		    OSLOT(r->s, *o));
		r->optscopes[*o].vars = ov->v;
		r->optscopes[*o].n = ov->n;
		if (ov->oom)
			return -1;
	}
	return 0;
}

/* A size for people: "512 B", "34 KB", "1.2 MB" (1 KB = 1024 bytes, as
 * the config's k), into out. */
#define SIZE_TEXT 32
static const char *
size_text(unsigned long long n, char out[SIZE_TEXT])
{
	if (n < 1024)
		snprintf(out, SIZE_TEXT, "%llu B", n);
	else if (n < 1024 * 1024)
		snprintf(out, SIZE_TEXT, "%llu KB", (n + 1023) / 1024);
	else
		snprintf(out, SIZE_TEXT, "%.1f MB", (double)n / (1024 * 1024));
	return out;
}

static char *
human_size(unsigned long long n)
{
	char b[SIZE_TEXT];

	return strdup(size_text(n, b));
}

/* One _files entry for an accepted file: _name (its label), _label (the
 * field's), _size, _type.  0, or -1 (OOM). */
static int
file_vars(struct render *r, const struct field *fd, const struct fval *fv)
{
	struct vars *fl = &r->filevars[r->nfiles];

	var_add(fl, "_name", fv->value);
	var_add(fl, "_label", fd->label);
	var_add(fl, "_size", own(r, human_size(fv->size)));
	var_add(fl, "_type", fv->ctype);
	if (fl->oom || r->root.oom)
		return -1;
	r->filescopes[r->nfiles].vars = fl->v;
	r->filescopes[r->nfiles++].n = fl->n;
	return 0;
}

/* A file field's accept attribute: ".pdf,.jpg" (owned by the caller). */
static char *
accept_attr(const struct field *fd)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < fd->naccept; i++)
		buf_printf(&b, "%s.%s", i ? "," : "", fd->accept_ext[i]);
	return buf_steal(&b);
}

/* One _errors entry for field i (in a plan, every field's, there when
 * the field has an error).  0, or -1 (OOM). */
static int
error_vars(struct render *r, size_t i, const char *err, size_t *nerr)
{
	const struct field *fd = &r->s->fields[i];
	struct vars *ev = &r->errvars[*nerr];

	var_add(ev, "_name", fd->name);
	var_add(ev, "_label", fd->label);
	var_dyn(r, ev, "_error", err, FSLOT(i, F_ERROR));
	if (ev->oom)
		return -1;
	r->errscopes[*nerr].vars = ev->v;
	r->errscopes[*nerr].cond = r->plan ? FSLOT(i, F_ERROR) : 0;
	r->errscopes[(*nerr)++].n = ev->n;
	return 0;
}

/* What a field shows: what was typed when it failed, else its value. */
static const char *
shown_value(const struct fval *fv)
{
	if (fv == NULL)
		return "";
	return fv->error && fv->raw ? fv->raw : fv->value;
}

/* A held file's reference, and an accepted file's size, are shown only
 * while the field has no error. */
static const char *
shown_hold(const struct fval *fv)
{
	return fv && fv->hold && fv->error == NULL ? fv->hold : "";
}

static int
shows_size(const struct fval *fv)
{
	return fv && fv->has_file && fv->error == NULL;
}

static int
is_checked(const struct field *fd, const char *value)
{
	return fd->type == FT_CHECKBOX && fd->noptions == 0 && value &&
	    value[0];
}

/* Field i of s: its value in the root scope, its _fields entry (with
 * options from *o on) and, when it has an error, its _errors entry.
 * 0, or -1 (OOM). */
static int
field_vars(struct render *r, const struct site *s, const struct fvals *v,
    size_t i, size_t *o, size_t *nerr)
{
	const struct field *fd = &s->fields[i];
	const struct fval *fv = v && i < v->n ? &v->v[i] : NULL;
	struct vars *fvs = &r->fieldvars[i];
	const char *value = "", *err = NULL;
	size_t first_opt = *o;
	char msg[512];

	/* Re-rendered forms show what was typed. */
	value = shown_value(fv);
	if (fv && fv->error)
		err = own(r, strdup(validate_message(fv->error, s->lang, fd,
		    msg, sizeof msg)));
	var_dyn(r, &r->root, fd->name, value, FSLOT(i, F_VALUE));
	var_add(fvs, "_name", fd->name);
	var_add(fvs, "_label", fd->label);
	var_dyn(r, fvs, "_value", value, FSLOT(i, F_VALUE));
	var_dyn(r, fvs, "_error", err, FSLOT(i, F_ERROR));
	var_add(fvs, "_required", flag(fd->required));
	var_add(fvs, "_input_type", input_type(fd->type));
	var_add(fvs, "_input_mode", input_mode(fd->type));
	var_add(fvs, "_is_multiline", flag(fd->type == FT_MULTILINE));
	var_add(fvs, "_is_file", flag(fd->type == FT_FILE));
	var_add(fvs, "_accept", fd->type == FT_FILE ? own(r, accept_attr(fd)) :
	    "");
	/* A file held for the review step: the reference the pages post
	 * back, and its size (doc/design.md "The review step"). */
	var_dyn(r, fvs, "_hold", shown_hold(fv), FSLOT(i, F_HOLD));
	var_dyn(r, fvs, "_size", shows_size(fv) ?
	    own(r, human_size(fv->size)) : "", FSLOT(i, F_SIZE));
	var_add(fvs, "_is_select", flag(fd->type == FT_SELECT));
	var_add(fvs, "_is_checkbox", flag(fd->type == FT_CHECKBOX));
	var_add(fvs, "_is_group", flag(fd->type == FT_CHECKBOX &&
	    fd->noptions));
	var_add(fvs, "_is_consent", flag(fd->type == FT_CHECKBOX &&
	    fd->noptions == 0));
	var_dyn(r, fvs, "_checked", flag(is_checked(fd, value)),
	    FSLOT(i, F_CHECKED));
	var_dyn(r, fvs, "_multiline", flag(strchr(value, '\n') != NULL),
	    FSLOT(i, F_MULTILINE));
	var_dyn(r, fvs, "_indented", strchr(value, '\n') ?
	    own(r, indent(value)) : value, FSLOT(i, F_INDENTED));
	if (option_vars(r, fd, fv, o) == -1)
		return -1;
	if (fv && fv->has_file && fv->error == NULL &&
	    file_vars(r, fd, fv) == -1)
		return -1;
	var_list(fvs, "_options", &r->optscopes[first_opt], fd->noptions);
	if (fvs->oom)
		return -1;
	r->fieldscopes[i].vars = fvs->v;
	r->fieldscopes[i].n = fvs->n;
	return err || r->plan ? error_vars(r, i, err, nerr) : 0;
}

/* What a carrier's user changes to receive mail from a domain, per
 * family (doc/design.md "Auto-reply and carrier mail"). */
static const struct {
	const char *family, *name[2], *help[2];
} carrier_text[] = {
	{ "docomo", { "ドコモ", "docomo" },
	  { "My docomo の「メール設定」→「受信リスト設定」",
	    "My docomo: Mail settings > Receive list (受信リスト設定)" } },
	{ "au", { "au", "au" },
	  { "My au の「メール設定」→「迷惑メールフィルター」"
	    "→「受信リスト設定」",
	    "My au: Mail settings > Spam filter > Receive list "
	    "(受信リスト設定)" } },
	{ "softbank", { "ソフトバンク", "SoftBank" },
	  { "My SoftBank の「メール設定」→「迷惑メール対策」"
	    "→「受信許可リスト」",
	    "My SoftBank: Mail settings > Spam filter > Allowed senders "
	    "(受信許可リスト)" } },
	{ "ymobile", { "ワイモバイル", "Y!mobile" },
	  { "My Y!mobile の「メール設定」→「迷惑メール対策」"
	    "→「受信許可リスト」",
	    "My Y!mobile: Mail settings > Spam filter > Allowed senders "
	    "(受信許可リスト)" } },
	{ "rakuten", { "楽天モバイル（楽メール）", "Rakuten Mobile (Rakumail)" },
	  { "my 楽天モバイル の「楽メール」→「迷惑メール設定」"
	    "→「受信許可リスト」",
	    "my Rakuten Mobile: Rakumail > Spam settings > Allowed senders "
	    "(受信許可リスト)" } },
};

/* _carrier, _carrier_name, _carrier_help and _allow_domain for the
 * visitor's address (none: all empty), into out. */
static void
carrier_facts(const struct site *s, const char *addr, const char *out[4])
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	const char *fam = at ? addr_carrier(at + 1) : NULL;
	int l = s->lang == LANG_JA ? 0 : 1;
	size_t i;

	for (i = 0; fam && i < ARRAY_LEN(carrier_text); i++)
		if (strcmp(carrier_text[i].family, fam) == 0)
			break;
	if (fam == NULL || i == ARRAY_LEN(carrier_text)) {
		out[0] = out[1] = out[2] = out[3] = "";
		return;
	}
	out[0] = fam;
	out[1] = carrier_text[i].name[l];
	out[2] = carrier_text[i].help[l];
	out[3] = s->from_domain;
}

static void
carrier_vars(struct render *r, const struct site *s, const char *addr)
{
	const char *c[4];

	carrier_facts(s, addr, c);
	var_dyn(r, &r->root, "_carrier", c[0], SL_CARRIER);
	var_dyn(r, &r->root, "_carrier_name", c[1], SL_CARRIER_NAME);
	var_dyn(r, &r->root, "_carrier_help", c[2], SL_CARRIER_HELP);
	var_dyn(r, &r->root, "_allow_domain", c[3], SL_ALLOW_DOMAIN);
}

/* _echo: the site's auto_reply.echo fields that have a value, as the
 * receipt may show them.  0, or -1 (OOM). */
static int
echo_vars(struct render *r, const struct site *s, const struct fvals *v)
{
	size_t i, n = 0;

	for (i = 0; v && i < s->nfields && i < v->n; i++) {
		const struct fval *fv = &v->v[i];
		struct vars *ev = &r->echovars[n];
		struct buf b;
		if (!s->fields[i].echo || fv->error || fv->value == NULL ||
		    fv->value[0] == '\0')
			continue;
		buf_init(&b);
		if (echo_format(fv->value, s->lang, &b) == -1) {
			buf_free(&b);
			return -1;
		}
		var_add(ev, "_label", s->fields[i].label);
		var_add(ev, "_multiline", flag(b.data &&
		    strchr(b.data, '\n') != NULL));
		var_add(ev, "_value", own(r, buf_steal(&b)));
		if (ev->oom)
			return -1;
		r->echoscopes[n].vars = ev->v;
		r->echoscopes[n++].n = ev->n;
	}
	var_list(&r->root, "_echo", r->echoscopes, n);
	var_unplanned(r, &r->root);
	return 0;
}

/* The scopes of a render of site s with values v (may be NULL) and
 * facts f; with plan, the scopes of s's plans (v NULL, f empty). */
static int
build(struct render *r, const struct site *s, const struct fvals *v,
    const struct page_facts *f, int plan)
{
	size_t i, o = 0, nerr = 0;

	if (render_alloc(r, s, plan) == -1)
		return -1;
	for (i = 0; i < s->nfields; i++)
		if (field_vars(r, s, v, i, &o, &nerr) == -1)
			return -1;
	var_list(&r->root, "_fields", r->fieldscopes, r->n);
	var_list(&r->root, "_errors", r->errscopes, nerr);
	if (plan && !r->root.oom)      /* empty when no field has an error */
		r->root.v[r->root.n - 1].slot = SL_HAS_ERRORS;
	var_list(&r->root, "_files", r->filescopes, r->nfiles);
	/* A site without a file field never has one: its _files is known
	 * empty (pages_render checks it). */
	if (s->has_files)
		var_unplanned(r, &r->root);
	var_add(&r->root, "_multipart", flag(s->has_files));
	var_dyn(r, &r->root, "_has_errors", flag(nerr > 0), SL_HAS_ERRORS);
	var_add(&r->root, "_honeypot", s->honeypot);
	var_add(&r->root, "_site", s->name);
	var_add(&r->root, "_lang", s->lang == LANG_JA ? "ja" : "en");
	var_dyn(r, &r->root, "_id", f->id, SL_ID);
	var_dyn(r, &r->root, "_date", f->date, SL_DATE);
	var_dyn(r, &r->root, "_ip", f->ip, SL_IP);
	var_dyn(r, &r->root, "_page", f->page, SL_PAGE);
	var_dyn(r, &r->root, "_reply_to", v ? v->reply_to : NULL,
	    SL_REPLY_TO);
	carrier_vars(r, s, v ? v->reply_to : NULL);
	if (echo_vars(r, s, v) == -1)
		return -1;
	var_dyn(r, &r->root, "_action", f->action, SL_ACTION);
	var_dyn(r, &r->root, "_status", f->status, SL_STATUS);
	var_dyn(r, &r->root, "_title", f->title, SL_TITLE);
	var_dyn(r, &r->root, "_message", f->message, SL_MESSAGE);
	var_dyn(r, &r->root, "_confirm", f->confirm, SL_CONFIRM);
	var_dyn(r, &r->root, "_token", f->token, SL_TOKEN);
	return r->root.oom ? -1 : 0;
}

int
pages_render_generic(const struct pages *p, enum lang lang,
    const struct page_facts *f, struct buf *out)
{
	struct site none = { .name = "", .lang = lang };
	struct render r;
	struct tmpl_scope root = { NULL, 0, 0 };
	int rc = -1;

	if (build(&r, &none, NULL, f, 0) == 0) {
		root.vars = r.root.v;
		root.n = r.root.n;
		rc = tmpl_render(p->generic[lang], &root, out);
	}
	render_free(&r);
	return rc;
}

int
pages_render_unplanned(const struct pages *p, const struct site *s,
    enum page page, const struct fvals *v, const struct page_facts *f,
    struct buf *out)
{
	struct render r;
	struct tmpl_scope root = { NULL, 0, 0 };
	size_t idx = (size_t)(s - p->c->sites);
	int rc = -1;

	if (idx >= p->n || p->t[idx][page] == NULL)
		return -1;
	if (build(&r, s, v, f, 0) == 0) {
		root.vars = r.root.v;
		root.n = r.root.n;
		rc = tmpl_render(p->t[idx][page], &root, out);
	}
	render_free(&r);
	return rc;
}

/* ------------------------------------------------------------- plans */

/* The pages a request renders get a plan: thanks, form (422 and the
 * review step's 修正する), the review page, and the mail's and the
 * receipt's body and subject.  A page its plan cannot hold (tmpl.h: a
 * receipt that lists _echo, a mail that lists the files of a site with
 * a file field), or no memory, keeps rendering from its template. */
static void
make_plans(const struct site *s, struct tmpl *const *t,
    struct tmpl_plan **plan)
{
	static const enum page planned[] = { PAGE_THANKS, PAGE_FORM,
	    PAGE_CONFIRM, PAGE_MAIL, PAGE_SUBJECT, PAGE_AUTO_REPLY,
	    PAGE_AR_SUBJECT };
	struct page_facts none;
	struct tmpl_scope root = { NULL, 0, 0 };
	struct render r;
	size_t k;

	memset(&none, 0, sizeof none);
	if (build(&r, s, NULL, &none, 1) == 0) {
		root.vars = r.root.v;
		root.n = r.root.n;
		for (k = 0; k < ARRAY_LEN(planned); k++)
			if (t[planned[k]])
				plan[planned[k]] = tmpl_plan_new(t[planned[k]],
				    &root);
	}
	render_free(&r);
}


/* One render's slot values, and the bytes some of them need. */
struct fill {
	const struct tmpl_plan *pl;
	struct tmpl_val *vals;
	unsigned n;
	char *text;                   /* error messages, sizes */
	size_t used;
	char **owned;                 /* _indented copies, one per field */
	size_t nowned;
};

static void
val_set(struct fill *fl, unsigned slot, const char *str)
{
	if (slot < fl->n && str != NULL) {
		fl->vals[slot].str = str;
		fl->vals[slot].len = strlen(str);
	}
}

/* Room for n bytes of text (counted out by fill_alloc). */
static char *
fill_text(struct fill *fl, size_t n)
{
	char *t = fl->text + fl->used;

	fl->used += n;
	return t;
}

/* Field i's slots, as field_vars and option_vars would set them;
 * *o: its first option's index.  0, or -1 (OOM). */
static int
fill_field(struct fill *fl, const struct site *s, const struct fvals *v,
    size_t i, size_t *o)
{
	const struct field *fd = &s->fields[i];
	const struct fval *fv = v && i < v->n ? &v->v[i] : NULL;
	const char *value = shown_value(fv);
	int nl = value && strchr(value, '\n') != NULL;
	size_t j;

	val_set(fl, FSLOT(i, F_VALUE), value);
	if (fv && fv->error && fl->n > FSLOT(i, F_ERROR))
		val_set(fl, FSLOT(i, F_ERROR), validate_message(fv->error,
		    s->lang, fd, fill_text(fl, 512), 512));
	val_set(fl, FSLOT(i, F_HOLD), shown_hold(fv));
	if (shows_size(fv) && tmpl_plan_uses(fl->pl, FSLOT(i, F_SIZE)))
		val_set(fl, FSLOT(i, F_SIZE), size_text(fv->size,
		    fill_text(fl, SIZE_TEXT)));
	val_set(fl, FSLOT(i, F_CHECKED), flag(is_checked(fd, value)));
	val_set(fl, FSLOT(i, F_MULTILINE), flag(nl));
	if (nl && tmpl_plan_uses(fl->pl, FSLOT(i, F_INDENTED))) {
		if ((fl->owned[fl->nowned] = indent(value)) == NULL)
			return -1;
		val_set(fl, FSLOT(i, F_INDENTED), fl->owned[fl->nowned++]);
	} else
		val_set(fl, FSLOT(i, F_INDENTED), value);
	for (j = 0; j < fd->noptions; j++, (*o)++)
		val_set(fl, OSLOT(s, *o), flag(selected(fd, fv, j)));
	return 0;
}

/* The slots of a render, allocated at once.  0, or -1 (OOM). */
static int
fill_alloc(struct fill *fl, const struct tmpl_plan *pl, const struct site *s,
    const struct fvals *v)
{
	size_t i, text = 0;

	memset(fl, 0, sizeof *fl);
	fl->pl = pl;
	fl->n = tmpl_plan_slots(pl);
	for (i = 0; v && i < s->nfields && i < v->n; i++)
		text += (v->v[i].error ? 512 : 0) +
		    (v->v[i].has_file ? SIZE_TEXT : 0);
	/* One block; only the values start zeroed (empty). */
	fl->vals = malloc(fl->n * sizeof *fl->vals + text +
	    (s->nfields + 1) * sizeof *fl->owned);
	if (fl->vals == NULL)
		return -1;
	memset(fl->vals, 0, fl->n * sizeof *fl->vals);
	fl->owned = (char **)(void *)(fl->vals + fl->n);
	fl->text = (char *)(fl->owned + s->nfields + 1);
	return 0;
}

static void
fill_free(struct fill *fl)
{
	size_t i;

	for (i = 0; i < fl->nowned; i++)
		free(fl->owned[i]);
	free(fl->vals);
}

/* build's values, as slots: what tmpl_plan_render needs. */
static int
fill(struct fill *fl, const struct site *s, const struct fvals *v,
    const struct page_facts *f)
{
	const char *c[4];
	size_t i, o = 0;
	int nerr = 0;

	for (i = 0; i < s->nfields; i++) {
		if (fill_field(fl, s, v, i, &o) == -1)
			return -1;
		nerr += v && i < v->n && v->v[i].error != NULL;
	}
	val_set(fl, SL_HAS_ERRORS, flag(nerr > 0));
	val_set(fl, SL_ID, f->id);
	val_set(fl, SL_DATE, f->date);
	val_set(fl, SL_IP, f->ip);
	val_set(fl, SL_PAGE, f->page);
	val_set(fl, SL_REPLY_TO, v ? v->reply_to : NULL);
	carrier_facts(s, v ? v->reply_to : NULL, c);
	val_set(fl, SL_CARRIER, c[0]);
	val_set(fl, SL_CARRIER_NAME, c[1]);
	val_set(fl, SL_CARRIER_HELP, c[2]);
	val_set(fl, SL_ALLOW_DOMAIN, c[3]);
	val_set(fl, SL_ACTION, f->action);
	val_set(fl, SL_STATUS, f->status);
	val_set(fl, SL_TITLE, f->title);
	val_set(fl, SL_MESSAGE, f->message);
	val_set(fl, SL_CONFIRM, f->confirm);
	val_set(fl, SL_TOKEN, f->token);
	return 0;
}

/* 1 when v holds an accepted file: what a plan made for a site without
 * a file field (its _files known empty) cannot show. */
static int
has_accepted_file(const struct fvals *v)
{
	size_t i;

	for (i = 0; v && i < v->n; i++)
		if (v->v[i].has_file && v->v[i].error == NULL)
			return 1;
	return 0;
}

int
pages_planned(const struct pages *p, const struct site *s, enum page page)
{
	size_t idx = (size_t)(s - p->c->sites);

	return idx < p->n && p->plan[idx][page] != NULL;
}

int
pages_render(const struct pages *p, const struct site *s, enum page page,
    const struct fvals *v, const struct page_facts *f, struct buf *out)
{
	size_t idx = (size_t)(s - p->c->sites);
	const struct tmpl_plan *pl;
	struct fill fl;
	int rc = -1;

	if (idx >= p->n || (pl = p->plan[idx][page]) == NULL ||
	    (!s->has_files && has_accepted_file(v)))
		return pages_render_unplanned(p, s, page, v, f, out);
	if (fill_alloc(&fl, pl, s, v) == 0 && fill(&fl, s, v, f) == 0)
		rc = tmpl_plan_render(pl, fl.vals, out);
	fill_free(&fl);
	if (rc == -1)
		out->oom = 1;
	return rc;
}

/* The memo slot of an error page, or NULL when such a page is not kept:
 * facts other than the status, title and message vary per request. */
static _Atomic(struct memo_page *) *
memo_slot(const struct pages *p, size_t row, int status,
    const struct page_facts *f)
{
	size_t j;

	if (f->id || f->date || f->ip || f->page || f->action || f->confirm ||
	    f->token)
		return NULL;
	for (j = 0; j < MEMO_COLS; j++)
		if (memo_status[j] == status)
			return &p->memo[row][j];
	return NULL;
}

/* Keeps a rendering in *slot unless another thread was first; either
 * way the page in the slot equals it. */
static void
memo_keep(_Atomic(struct memo_page *) *slot, const struct page_facts *f,
    const char *data, size_t len)
{
	struct memo_page *m = malloc(sizeof *m + len), *none = NULL;

	if (m == NULL)
		return;
	m->title = f->title;
	m->message = f->message;
	m->len = len;
	memcpy(m->data, data, len);
	if (!atomic_compare_exchange_strong(slot, &none, m))
		free(m);
}

int
pages_render_error(const struct pages *p, const struct site *s,
    enum lang lang, int status, const struct page_facts *f,
    struct buf *out)
{
	size_t row = s ? (size_t)(s - p->c->sites) : p->n + (lang != LANG_JA);
	_Atomic(struct memo_page *) *slot;
	struct memo_page *m;
	size_t from = out->len;
	int rc;

	if (s && row >= p->n)
		return -1;
	slot = memo_slot(p, row, status, f);
	m = slot ? atomic_load(slot) : NULL;
	if (m && m->title == f->title && m->message == f->message)
		return buf_add(out, m->data, m->len);
	rc = s ? pages_render(p, s, PAGE_ERROR, NULL, f, out) :
	    pages_render_generic(p, lang, f, out);
	if (rc == 0 && slot && m == NULL)
		memo_keep(slot, f, out->data + from, out->len - from);
	return rc;
}

const char *
pages_input_type(enum field_type t)
{
	return input_type(t);
}

const char *
pages_input_mode(enum field_type t)
{
	return input_mode(t);
}
