/*
 * ref_email — validate_email's answer for an ASCII address the way it
 * was first made, every domain through idn2 (with the flags validate.c
 * passes), kept as the plain reference that
 * tests/unit/test_validate.c and tests/fuzz/fuzz_validate.c compare the
 * plain host name shortcut against (doc/design.md "Performance").
 */
#ifndef FORMPOST_REF_EMAIL_H
#define FORMPOST_REF_EMAIL_H

#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "limits.h"
#include "util.h"
#include "validate.h"

/* For s: ASCII, without controls or spaces at either end. */
static enum validate_rc
ref_email(const char *s, char **res)
{
	const char *at = strrchr(s, '@');
	char *ascii = NULL, *out = NULL;
	size_t ll, n;

	*res = NULL;
	if (at == NULL || at == s || (ll = (size_t)(at - s)) > LIM_ADDR_LOCAL)
		return VALIDATE_INVALID;
	if (idn2_to_ascii_8z(at + 1, &ascii, IDN2_NFC_INPUT |
	    IDN2_NONTRANSITIONAL) != IDN2_OK)
		return VALIDATE_INVALID;
	ascii_lower(ascii, strlen(ascii));
	n = ll + strlen(ascii) + 2;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%.*s@%s", (int)ll, s, ascii);
	idn2_free(ascii);
	if (out == NULL || !addr_spec_ok(out, NULL)) {
		free(out);
		return VALIDATE_INVALID;
	}
	*res = out;
	return VALIDATE_OK;
}

/* 1 when validate_email and ref_email agree on s (ASCII, as above). */
static int
ref_email_agrees(const char *s)
{
	char *got = NULL, *want = NULL;
	const char *code;
	int quoted, same;
	enum validate_rc a, b;

	a = validate_email(s, strlen(s), &got, &code, &quoted);
	b = ref_email(s, &want);
	same = a == b && (a != VALIDATE_OK || strcmp(got, want) == 0);
	if (!same)
		fprintf(stderr, "\"%s\": %d %s, reference %d %s\n", s, (int)a,
		    a == VALIDATE_OK ? got : "", (int)b,
		    b == VALIDATE_OK ? want : "");
	if (a == VALIDATE_OK)
		free(got);
	free(want);
	return same;
}

#endif
