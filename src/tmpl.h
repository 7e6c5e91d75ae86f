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
	/* tmpl_plan_new only (tmpl_render ignores it): 0, the value above
	 * is known when the plan is made; k > 0, a scalar's value, or a
	 * list's emptiness (empty when the value is), is vals[k] of each
	 * tmpl_plan_render; TMPL_NO_PLAN, a plan cannot use this variable. */
	unsigned slot;
};

#define TMPL_NO_PLAN (~0u)

struct tmpl_scope {
	const struct tmpl_var *vars;
	size_t n;
	/* tmpl_plan_new only: 0, the list item is always there; k > 0, it
	 * is there when vals[k] of the render is non-empty. */
	unsigned cond;
};

/* A slot's value at render time; str NULL or len 0 is empty. */
struct tmpl_val {
	const char *str;
	size_t len;
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

/*
 * A plan: t rendered ahead of time with root, where the variables known
 * then (slot 0) are already written, escaped, into runs of static text
 * and lists of known items are unrolled, so what is left per render is
 * the slots: a value to escape and emit, or a section to keep or skip.
 * tmpl_plan_render(plan, vals) appends exactly what tmpl_render(t,
 * root') appends, where root' is root with every slot's value filled in
 * from vals and every conditional item kept when its cond is non-empty
 * (and a list with such items is empty exactly when its own slot is).
 * NULL on allocation failure, when the plan would pass LIM_TEMPLATE_PLAN
 * bytes, or when t uses a TMPL_NO_PLAN variable or a list item's cond
 * without its list's slot: render with tmpl_render instead.  root is
 * only read during the call; the plan is immutable, for any thread.
 */
struct tmpl_plan;
struct tmpl_plan *tmpl_plan_new(const struct tmpl *t,
    const struct tmpl_scope *root);
/* 1 when the plan reads vals[slot]: a caller may skip computing the
 * others. */
int tmpl_plan_uses(const struct tmpl_plan *p, unsigned slot);
/* The number of slots vals must hold: the highest slot used, plus one. */
unsigned tmpl_plan_slots(const struct tmpl_plan *p);
/* Appends the render; 0, or -1 on allocation failure (out->oom set). */
int tmpl_plan_render(const struct tmpl_plan *p, const struct tmpl_val *vals,
    struct buf *out);
void tmpl_plan_free(struct tmpl_plan *p);

#endif
