/*
 * echo — what a receipt (auto-reply) may repeat of a visitor's values
 * (doc/design.md "Auto-reply and carrier mail").  A receipt goes to an
 * address the visitor typed, so whatever it echoes could be anyone's text
 * sent to a stranger: a value that holds a link or a mail address, or is
 * over LIM_ECHO_CHARS characters, is replaced by a fixed word; a
 * multi-line value is quoted line by line with "> ".  Pure.
 */
#ifndef FORMPOST_ECHO_H
#define FORMPOST_ECHO_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* 1 when the UTF-8 value v[0..n) must not be echoed: it holds a link
 * ("scheme://", "www.", a dotted host followed by '/'), a mail address
 * ("x@host.tld"), in ASCII or full-width forms, or is longer than
 * LIM_ECHO_CHARS characters. */
int echo_unsafe(const char *v, size_t n);

/* The word shown instead of an unsafe value: 「（省略）」 or "(omitted)". */
const char *echo_omitted(enum lang lang);

/* Appends what the receipt shows for value v (NUL-terminated): the
 * omitted word when echo_unsafe, else v itself, or, when v spans several
 * lines, each line prefixed with "> " (line breaks become "\n").
 * 0, or -1 (OOM). */
int echo_format(const char *v, enum lang lang, struct buf *out);

#endif
