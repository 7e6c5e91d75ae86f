/*
 * tmpl — a small logic-less template engine (a mustache subset) with
 * context-aware escaping.  Templates are compiled once, at start-up or
 * reload, and rendered many times from any thread (a compiled template is
 * immutable).  Pure: no I/O, no globals.
 *
 * Syntax
 *   {{name}}              a variable; name is [A-Za-z0-9_-]+ (fields by
 *                         name, reserved ones start with '_')
 *   {{#name}}...{{/name}} a section: for a list, rendered once per item with
 *                         the item's variables in scope; for a scalar,
 *                         rendered once when it is non-empty
 *   {{^name}}...{{/name}} rendered when name is absent, empty, or an empty list
 *   {{! comment }}        nothing
 *   Spaces inside the braces are allowed ({{ name }}).  There is no raw,
 *   unescaped output.  As in mustache, a line holding only a section,
 *   inverted, close or comment tag (and blanks) is dropped with its line
 *   end, so text templates can put each tag on a line of its own.
 *
 * Escaping (TMPL_HTML): the compiler tracks where each variable lands in
 * the HTML and picks the escaper:
 *   - element text: & < > " ' escaped as entities;
 *   - inside a quoted attribute value: the same, plus the value must not be
 *     able to end the quote;
 *   - a URL attribute (href, src, action, formaction, poster, cite,
 *     background, data, xlink:href) whose value starts with the variable:
 *     the value is emitted only when it starts with "http://", "https://"
 *     or a single "/" (then attribute-escaped); anything else
 *     (javascript:, data:, //host, /\host, empty or absent) becomes "#";
 *     later in the value a variable is only attribute-escaped, and only
 *     once literal text has fixed scheme and host: after '?' or '#', or
 *     after "/x", "path/" or "http(s)://host/";
 *   - anywhere else (a tag or attribute name, an unquoted attribute value,
 *     an on* / style / srcdoc attribute, inside <script>, <style> and the
 *     other raw-text elements, an HTML comment or <!...>, inside <svg> or
 *     <math>): a compile error.
 *   A section must start and end in the same context.  Inside a tag a
 *   section may hold whole attributes ({{#c}} checked{{/c}}); where it
 *   could glue onto a neighbouring name the compiler asks for a space.
 *   A template must not end inside a tag, comment or <script>-like element.
 * TMPL_TEXT (mail bodies, subjects): values are copied as they are.
 */
#ifndef FORMPOST_TMPL_H
#define FORMPOST_TMPL_H

#include <stddef.h>

#include "util.h"

enum tmpl_mode { TMPL_HTML, TMPL_TEXT };

struct tmpl_scope;

/* One variable of a scope: a scalar (str, len) or, when is_list, a list of
 * items, each a scope of its own.  All memory is the caller's, borrowed for
 * the duration of tmpl_render. */
struct tmpl_var {
	const char *name;
	const char *str;
	size_t len;
	int is_list;
	const struct tmpl_scope *items;
	size_t nitems;
};

struct tmpl_scope {
	const struct tmpl_var *vars;
	size_t n;
};

struct tmpl;

/* Compiles src[0..len).  known is a NULL-terminated list of every variable
 * and section name the template may use; any other name is an error.
 * Returns the template (free with tmpl_free), or NULL with a message
 * "LINE:COLUMN: what is wrong" (1-based, column in characters) in err.
 * NULL with err "out of memory" on allocation failure. */
struct tmpl *tmpl_compile(const char *src, size_t len, enum tmpl_mode mode,
    const char *const *known, char *err, size_t errlen);

/* Appends the rendering to out.  Names are looked up from the innermost
 * section's item outwards to root; a name found nowhere renders as empty.
 * Returns 0, or -1 on allocation failure (out->oom is then set). */
int tmpl_render(const struct tmpl *t, const struct tmpl_scope *root,
    struct buf *out);

void tmpl_free(struct tmpl *t);

#endif
