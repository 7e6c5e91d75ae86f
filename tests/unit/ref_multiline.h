/*
 * ref_multiline — a multi-line field's normal form as it was first made
 * (every code point decoded and appended on its own), kept as the plain
 * reference tests/unit/test_validate.c and tests/fuzz/fuzz_validate.c
 * compare validate_form against (doc/design.md "Performance").
 */
#ifndef FORMPOST_REF_MULTILINE_H
#define FORMPOST_REF_MULTILINE_H

#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"
#include "validate.h"

static int
ref_norm_multiline(struct buf *b, const char *s, size_t n, const char **code)
{
	size_t i = 0, l;
	uint32_t cp;

	while (i < n) {
		if ((l = utf8_decode(s + i, n - i, &cp)) == 0)
			return -1;
		if (cp == '\r' || cp == '\n' || cp == 0x2028 || cp == 0x2029 ||
		    cp == 0x85) {
			if (cp == '\r' && i + 1 < n && s[i + 1] == '\n')
				l++;
			buf_add(b, "\r\n", 2);
		} else if (cp != '\t' && utf8_is_ctl(cp)) {
			*code = "control_char";
			return 0;
		} else
			buf_add(b, s + i, l);
		i += l;
	}
	while (b->len >= 2 && b->data[b->len - 2] == '\r' &&
	    b->data[b->len - 1] == '\n')
		b->data[b->len -= 2] = '\0';
	return b->oom ? -1 : 0;
}

static int
ref_is_blank(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			i++;
		else if (n - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0)
			i += 3;
		else
			return 0;
	}
	return 1;
}

/* Characters, a CRLF counted as one, as check_one first counted them. */
static size_t
ref_chars(const char *s, size_t n)
{
	size_t i, chars = utf8_count(s, n);

	for (i = 0; i + 1 < n; i++)
		chars -= s[i] == '\r' && s[i + 1] == '\n';
	return chars;
}

/* 1 when fv, a multi-line field with no rule but its type and a max of
 * max characters (0: none) validated from raw[0..n) (valid UTF-8), is
 * what the reference makes of it: the same value and the same
 * control_char or too_long error, or none. */
static int
ref_multiline_agrees(const struct fval *fv, const char *raw, size_t n,
    size_t max)
{
	struct buf b;
	const char *code = NULL;
	int ok;

	buf_init(&b);
	if (ref_norm_multiline(&b, raw, n, &code) == -1) {
		buf_free(&b);
		return 0;
	}
	if (code == NULL && ref_is_blank(b.data ? b.data : "", b.len))
		buf_reset(&b);
	if (code == NULL && max && b.len && ref_chars(b.data, b.len) > max)
		code = "too_long";
	ok = (fv->error == NULL) == (code == NULL) &&
	    (code == NULL || strcmp(fv->error, code) == 0) &&
	    fv->len == b.len && (b.len == 0 ||
	    memcmp(fv->value, b.data, b.len) == 0);
	buf_free(&b);
	return ok;
}

#endif
