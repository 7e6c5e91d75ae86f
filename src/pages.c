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

struct pages *
pages_load(const struct config *c, char *err, size_t errlen)
{
	struct pages *p;
	const char **known = NULL;
	size_t i, j, nr = ARRAY_LEN(reserved_list) - 1;

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->t = calloc(c->nsites, sizeof *p->t)) == NULL ||
	    (p->memo = calloc(c->nsites + 2, sizeof *p->memo)) == NULL)
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
	int bol = 1;

	buf_init(&b);
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (bol && *s != '\n')
			buf_adds(&b, "  ");
		buf_addc(&b, *s);
		bol = *s == '\n';
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
};

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
	for (i = 0; i < r->nopt; i++)
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
render_alloc(struct render *r, const struct site *s)
{
	size_t i, nopt = 0;

	memset(r, 0, sizeof *r);
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

/* fd's options as the scopes from *o on (advanced past them), each
 * _selected as posted; fv may be NULL.  0, or -1 (OOM). */
static int
option_vars(struct render *r, const struct field *fd, const struct fval *fv,
    size_t *o)
{
	size_t j;

	for (j = 0; j < fd->noptions; j++, (*o)++) {
		struct vars *ov = &r->optvars[*o];
		int sel = 0;
		if (fv)
			for (size_t k = 0; k < fv->nchoices; k++)
				sel |= strcmp(fv->choices[k],
				    fd->options[j]) == 0;
		if (fv && fd->type == FT_SELECT && fv->error &&
		    fv->raw && strcmp(fv->raw, fd->options[j]) == 0)
			sel = 1;
		var_add(ov, "_option", fd->options[j]);
		var_add(ov, "_selected", flag(sel));
		r->optscopes[*o].vars = ov->v;
		r->optscopes[*o].n = ov->n;
		if (ov->oom)
			return -1;
	}
	return 0;
}

/* A size for people: "512 B", "34 KB", "1.2 MB" (1 KB = 1024 bytes, as
 * the config's k). */
static char *
human_size(unsigned long long n)
{
	char *s = NULL;

	if (n < 1024)
		return asprintf(&s, "%llu B", n) < 0 ? NULL : s;
	if (n < 1024 * 1024)
		return asprintf(&s, "%llu KB", (n + 1023) / 1024) < 0 ? NULL : s;
	return asprintf(&s, "%.1f MB", (double)n / (1024 * 1024)) < 0 ? NULL :
	    s;
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

/* One _errors entry for field fd.  0, or -1 (OOM). */
static int
error_vars(struct render *r, const struct field *fd, const char *err,
    size_t *nerr)
{
	struct vars *ev = &r->errvars[*nerr];

	var_add(ev, "_name", fd->name);
	var_add(ev, "_label", fd->label);
	var_add(ev, "_error", err);
	if (ev->oom)
		return -1;
	r->errscopes[*nerr].vars = ev->v;
	r->errscopes[(*nerr)++].n = ev->n;
	return 0;
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

	if (fv) {
		/* Re-rendered forms show what was typed. */
		value = fv->error && fv->raw ? fv->raw : fv->value;
		if (fv->error)
			err = own(r, strdup(validate_message(fv->error,
			    s->lang, fd, msg, sizeof msg)));
	}
	var_add(&r->root, fd->name, value);
	var_add(fvs, "_name", fd->name);
	var_add(fvs, "_label", fd->label);
	var_add(fvs, "_value", value);
	var_add(fvs, "_error", err);
	var_add(fvs, "_required", flag(fd->required));
	var_add(fvs, "_input_type", input_type(fd->type));
	var_add(fvs, "_input_mode", input_mode(fd->type));
	var_add(fvs, "_is_multiline", flag(fd->type == FT_MULTILINE));
	var_add(fvs, "_is_file", flag(fd->type == FT_FILE));
	var_add(fvs, "_accept", fd->type == FT_FILE ? own(r, accept_attr(fd)) :
	    "");
	/* A file held for the review step: the reference the pages post
	 * back, and its size (doc/design.md "The review step"). */
	var_add(fvs, "_hold", fv && fv->hold && fv->error == NULL ? fv->hold :
	    "");
	var_add(fvs, "_size", fv && fv->has_file && fv->error == NULL ?
	    own(r, human_size(fv->size)) : "");
	var_add(fvs, "_is_select", flag(fd->type == FT_SELECT));
	var_add(fvs, "_is_checkbox", flag(fd->type == FT_CHECKBOX));
	var_add(fvs, "_is_group", flag(fd->type == FT_CHECKBOX &&
	    fd->noptions));
	var_add(fvs, "_is_consent", flag(fd->type == FT_CHECKBOX &&
	    fd->noptions == 0));
	var_add(fvs, "_checked", flag(fd->type == FT_CHECKBOX &&
	    fd->noptions == 0 && value[0]));
	var_add(fvs, "_multiline", flag(strchr(value, '\n') != NULL));
	var_add(fvs, "_indented", strchr(value, '\n') ?
	    own(r, indent(value)) : value);
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
	return err ? error_vars(r, fd, err, nerr) : 0;
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

/* _carrier and friends for the visitor's address (none: empty). */
static void
carrier_vars(struct render *r, const struct site *s, const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	const char *fam = at ? addr_carrier(at + 1) : NULL;
	int l = s->lang == LANG_JA ? 0 : 1;
	size_t i;

	for (i = 0; fam && i < ARRAY_LEN(carrier_text); i++)
		if (strcmp(carrier_text[i].family, fam) == 0)
			break;
	if (fam == NULL || i == ARRAY_LEN(carrier_text)) {
		var_add(&r->root, "_carrier", "");
		var_add(&r->root, "_carrier_name", "");
		var_add(&r->root, "_carrier_help", "");
		var_add(&r->root, "_allow_domain", "");
		return;
	}
	var_add(&r->root, "_carrier", fam);
	var_add(&r->root, "_carrier_name", carrier_text[i].name[l]);
	var_add(&r->root, "_carrier_help", carrier_text[i].help[l]);
	var_add(&r->root, "_allow_domain", s->from_domain);
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
	return 0;
}

static int
build(struct render *r, const struct site *s, const struct fvals *v,
    const struct page_facts *f)
{
	size_t i, o = 0, nerr = 0;

	if (render_alloc(r, s) == -1)
		return -1;
	for (i = 0; i < s->nfields; i++)
		if (field_vars(r, s, v, i, &o, &nerr) == -1)
			return -1;
	var_list(&r->root, "_fields", r->fieldscopes, r->n);
	var_list(&r->root, "_errors", r->errscopes, nerr);
	var_list(&r->root, "_files", r->filescopes, r->nfiles);
	var_add(&r->root, "_multipart", flag(s->has_files));
	var_add(&r->root, "_has_errors", flag(nerr > 0));
	var_add(&r->root, "_honeypot", s->honeypot);
	var_add(&r->root, "_site", s->name);
	var_add(&r->root, "_lang", s->lang == LANG_JA ? "ja" : "en");
	var_add(&r->root, "_id", f->id);
	var_add(&r->root, "_date", f->date);
	var_add(&r->root, "_ip", f->ip);
	var_add(&r->root, "_page", f->page);
	var_add(&r->root, "_reply_to", v ? v->reply_to : NULL);
	carrier_vars(r, s, v ? v->reply_to : NULL);
	if (echo_vars(r, s, v) == -1)
		return -1;
	var_add(&r->root, "_action", f->action);
	var_add(&r->root, "_status", f->status);
	var_add(&r->root, "_title", f->title);
	var_add(&r->root, "_message", f->message);
	var_add(&r->root, "_confirm", f->confirm);
	var_add(&r->root, "_token", f->token);
	return r->root.oom ? -1 : 0;
}

int
pages_render_generic(const struct pages *p, enum lang lang,
    const struct page_facts *f, struct buf *out)
{
	struct site none = { .name = "", .lang = lang };
	struct render r;
	struct tmpl_scope root;
	int rc = -1;

	if (build(&r, &none, NULL, f) == 0) {
		root.vars = r.root.v;
		root.n = r.root.n;
		rc = tmpl_render(p->generic[lang], &root, out);
	}
	render_free(&r);
	return rc;
}

int
pages_render(const struct pages *p, const struct site *s, enum page page,
    const struct fvals *v, const struct page_facts *f, struct buf *out)
{
	struct render r;
	struct tmpl_scope root;
	size_t idx = (size_t)(s - p->c->sites);
	int rc = -1;

	if (idx >= p->n || p->t[idx][page] == NULL)
		return -1;
	if (build(&r, s, v, f) == 0) {
		root.vars = r.root.v;
		root.n = r.root.n;
		rc = tmpl_render(p->t[idx][page], &root, out);
	}
	render_free(&r);
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
