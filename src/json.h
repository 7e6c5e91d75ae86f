/*
 * json — the one JSON string escaper (RFC 8259 §7), for the visitor's
 * JSON answers and `formpost queue list --json`.  '"' and '\' are
 * backslash-escaped; control bytes, DEL and '<' become \u00XX (the last so
 * a string stays inert even inside an HTML <script>); every other byte is
 * copied, so UTF-8 in gives UTF-8 out.  Pure; thread-safe.
 */
#ifndef FORMPOST_JSON_H
#define FORMPOST_JSON_H

#include <stdio.h>

#include "util.h"

/* Appends s (NUL-terminated) as a quoted JSON string to b; OOM is left in
 * b->oom like every buf append. */
void json_buf_string(struct buf *b, const char *s);

/* Writes the same quoted string to out. */
void json_file_string(FILE *out, const char *s);

#endif
