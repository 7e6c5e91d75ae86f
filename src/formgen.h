/*
 * formgen — `formpost form SITE`: a ready-to-paste static HTML form for a
 * site, made from its configuration so the names, types, required and
 * length rules, honeypot, accept-charset and token script always match
 * what the site validates.  The output is a fragment (a <style>, the
 * <form>, and, when needed, one inline <script>) to paste into a page.
 *
 * The markup is a tmpl template compiled in TMPL_HTML mode: every label,
 * option and name reaches the output only as a variable escaped for its
 * context, never pasted.  Pure: no I/O, no globals.
 */
#ifndef FORMPOST_FORMGEN_H
#define FORMPOST_FORMGEN_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "util.h"

struct formgen_opts {
	enum lang lang;        /* the page text's language */
	int fetch;             /* 1: send with fetch(), show the JSON answer */
	const char *action;    /* the form's URL; NULL: /formpost/SITE */
};

/* Appends the form for site s to out.  Returns 0, or -1 with a message
 * in err: an action that is not "/path" or "http(s)://..." (or holds a
 * query, fragment, quote or control), or out of memory. */
int formgen_render(const struct site *s, const struct formgen_opts *o,
    struct buf *out, char *err, size_t errlen);

/* `formpost form SITE`: writes the form of the site named site to out.
 * lang is "ja", "en" or NULL (the site's lang:).  Returns the exit status:
 * 0, or 1 with the reason on errf; an unknown site's message names the
 * configured sites. */
int formgen_run(const struct config *c, const char *site, const char *lang,
    int fetch, const char *action, FILE *out, FILE *errf);

#endif
