/*
 * validate — turns the parsed form into the site's field values: applies
 * every rule of the field types (README, conf/formpost.example.yaml),
 * normalises (full-width ASCII and
 * Japanese dashes in email/tel/number, CRLF in multiline, IDN domains to
 * A-labels), and records one error code per field.  Unknown posted fields
 * are ignored.  File fields are sniffed (sniff.h) and hashed, reading the
 * form's file fds with pread; otherwise pure apart from libidn2;
 * thread-safe.
 */
#ifndef FORMPOST_VALIDATE_H
#define FORMPOST_VALIDATE_H

#include <stddef.h>

#include "config.h"
#include "form.h"

/* One configured field's value after validation. */
struct fval {
	char *value;          /* normalised UTF-8, NUL-terminated, "" if absent;
	                       * a checkbox group's choices joined by ", " */
	size_t len;
	char **choices;       /* checkbox group / select: the chosen options */
	size_t nchoices;
	char *raw;            /* as posted (for re-rendering the form), or NULL */
	const char *error;    /* error code (static string) or NULL */
	/* type: file, an accepted file (value is its label, the cleaned
	 * file name): its content in memory (data, borrowed from the form)
	 * or in fd (borrowed), its size, sniffed Content-Type and digest */
	int has_file;
	const char *data;
	int fd;
	unsigned long long size;
	const char *ctype;
	unsigned char digest[32];
	/* a file held between the review step's posts (doc/design.md "The
	 * review step"): its reference, owned, or NULL */
	char *hold;
};

/* Values aligned with site->fields. */
struct fvals {
	struct fval *v;
	size_t n;
	int nerrors;
	const char *reply_to; /* the reply_to field's address, or NULL */
};

/* Validates in against s.  Returns 0 (out filled; out->nerrors may be >0),
 * or -1 on allocation failure or a file that could not be read.  Caller frees out with fvals_free. */
int validate_form(const struct site *s, const struct form *in,
    struct fvals *out);

/* A file a field already holds (hold.h): the reference as posted, with
 * what it says of the file.  Not opened yet: fd stays -1 until
 * validate_held_file. */
struct fheld {
	int again;            /* a reference that holds nothing (any more):
	                       * the field asks for the file again */
	const char *ref;      /* NULL: the field holds nothing */
	size_t ref_len;
	const char *label;
	unsigned long long size;
	const char *ctype;
	const unsigned char *digest;
};

/* validate_form, where a file field without a file part takes held[i]
 * (aligned with s->fields; held may be NULL): its label, size, type and
 * digest, checked against the field's max and accept as an upload's
 * would be, and its reference in fval.hold; or, with held[i].again, the
 * error "file_again". */
int validate_form_held(const struct site *s, const struct form *in,
    const struct fheld *held, struct fvals *out);

/* The held file of fv, now opened as fd (borrowed), sniffed and hashed
 * like an upload: 0 when it is the file fv describes (fv->fd = fd), 1
 * when it is not (content, type or digest differ), -1 on a read error
 * or OOM. */
int validate_held_file(const struct field *f, int fd, struct fval *fv);
void fvals_free(struct fvals *v);

/* The visitor-facing message for an error code, in the site's language,
 * naming the field's label; written into buf. */
const char *validate_message(const char *code, enum lang lang,
    const struct field *f, char *buf, size_t len);

enum validate_rc { VALIDATE_OK, VALIDATE_INVALID, VALIDATE_NOMEM };

/* Normalises an email address as the validator does (full-width, IDN to
 * A-label, lowercase domain).  VALIDATE_OK: *out is the new string (caller
 * frees) and *quoted tells a legacy carrier local part; VALIDATE_INVALID:
 * *code is the error code (static); VALIDATE_NOMEM: out of memory.  *out
 * and *quoted are written only on VALIDATE_OK. */
enum validate_rc validate_email(const char *s, size_t n, char **out,
    const char **code, int *quoted);

#endif
