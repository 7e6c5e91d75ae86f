/*
 * pages — the compiled template set: for every site, its thanks, form,
 * error and mail templates (the site's override folder first, then the
 * default folder of its language) and its subject line.  Loaded and
 * checked once per config (start-up, reload), never per request;
 * immutable afterwards, so any thread may render.  The pages a request
 * renders (thanks, form, review, the mail's and the receipt's body and
 * subject) get a plan at load (tmpl.h): what the
 * site fixes is rendered then, a request fills in the rest.  Error pages
 * are kept once rendered (pages_render_error), published atomically.
 *
 * Variables a template may use: the site's fields by name, and the
 * reserved ones below, all starting with '_' (field names never do).
 *   everywhere  _id _site _date _ip _page _lang _action
 *               _reply_to (the validated address Reply-To carries, or "")
 *   error page  _status _title _message
 *   attachments _multipart (the site has a file field), in _fields
 *               _is_file _accept (".pdf,.jpg"), and the list _files of
 *               accepted files: _name (the file's label) _label (the
 *               field's) _size ("1.2 MB") _type (the sniffed type)
 *   lists       _fields: _name _label _value _error _required _input_type
 *                        _input_mode (inputmode: decimal tel email url or "")
 *                        _is_multiline _is_select _is_checkbox _is_group
 *                        _is_consent _checked _multiline _indented
 *                        _options: _option _selected
 *               _errors: _name _label _error
 *   form page   _honeypot _has_errors
 *   review page _confirm (the signed `_confirm`, see confirm.h); in
 *               _fields, a held file's _hold (the reference its hidden
 *               input posts back, hold.h) and _size (also on the form
 *               page, for 修正する)
 *   form page   _token (a fresh fill-time token, for sites that require
 *               one, so the corrected form can be sent again)
 *   carrier     _carrier (docomo au softbank ymobile rakuten, or "" when
 *               _reply_to is not a carrier address), _carrier_name,
 *               _carrier_help (where the visitor allows a domain),
 *               _allow_domain (the site's From domain, when _carrier)
 *   receipt     _echo: _label _value (echo.h's rules applied)
 *                      _multiline (_value is quoted lines)
 */
#ifndef FORMPOST_PAGES_H
#define FORMPOST_PAGES_H

#include "config.h"
#include "util.h"
#include "validate.h"

/* PAGE_CONFIRM (confirm.html, the review step) is loaded only for sites
 * with confirm: true; PAGE_AUTO_REPLY and PAGE_AR_SUBJECT only for sites
 * with auto_reply.  Rendering one for another site fails. */
enum page { PAGE_THANKS, PAGE_FORM, PAGE_ERROR, PAGE_MAIL, PAGE_CONFIRM,
    PAGE_AUTO_REPLY, PAGE_SUBJECT, PAGE_AR_SUBJECT, PAGE_COUNT };

/* Request facts shown in pages and mails; any may be NULL. */
struct page_facts {
	const char *id;
	const char *date;
	const char *ip;
	const char *page;      /* the Referer */
	const char *action;    /* the form's own URL (path) */
	const char *status;    /* error page: "404" */
	const char *title;
	const char *message;
	const char *confirm;   /* review page: the signed _confirm */
	const char *token;     /* form page: a fresh fill-time token */
};

struct pages;

/* Compiles every template for every site of c.  Returns the set, or NULL
 * with "FILE: LINE:COLUMN: message" in err. */
struct pages *pages_load(const struct config *c, char *err, size_t errlen);
void pages_free(struct pages *p);

/* Renders page for site s (which must belong to the config p was loaded
 * from), from its plan when it has one.  v may be NULL (no field
 * values).  Appends to out; 0 or -1 (OOM). */
int pages_render(const struct pages *p, const struct site *s, enum page page,
    const struct fvals *v, const struct page_facts *f, struct buf *out);

/* pages_render without the plans: each render builds every variable and
 * walks the template, as pages_render does for the pages that have no
 * plan (error pages, pages that list _echo, or _files of a site with a
 * file field).  Both give the same bytes (tests
 * compare them). */
int pages_render_unplanned(const struct pages *p, const struct site *s,
    enum page page, const struct fvals *v, const struct page_facts *f,
    struct buf *out);

/* 1 when pages_render renders page of s from a plan (see tmpl.h). */
int pages_planned(const struct pages *p, const struct site *s,
    enum page page);

/* The error page for a request with no site (unknown site): the default
 * error.html of lang, with only the reserved variables. */
int pages_render_generic(const struct pages *p, enum lang lang,
    const struct page_facts *f, struct buf *out);

/* The error page of site s (NULL: the generic one of lang), as
 * pages_render(PAGE_ERROR, no values) or pages_render_generic give it.
 * With only status, title and message set in f and a status a flood
 * repeats (400 403 404 405 413 415 429 503), it is rendered once per
 * (site, status) and kept for the life of p: later calls with the same
 * title and message pointers (static strings) copy the kept bytes.  0 or
 * -1 (OOM). */
int pages_render_error(const struct pages *p, const struct site *s,
    enum lang lang, int status, const struct page_facts *f,
    struct buf *out);

/* The <input type> and inputmode for a field type, shared with formgen so
 * the generated form and the 422 page offer the same keyboard.  Static
 * strings. */
const char *pages_input_type(enum field_type t);
const char *pages_input_mode(enum field_type t);

#endif
