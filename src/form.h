/*
 * form — parsers for HTML form bodies: application/x-www-form-urlencoded
 * (WHATWG URL §5.1, strict percent-decoding) and multipart/form-data
 * (RFC 7578, RFC 2046 §5.1).  Pure: bytes in, fields out, no I/O, no
 * globals; every length bounded by struct form_limits before use.
 * Field names and values are checked to be UTF-8 here (the caller's 400
 * page tells the visitor to add accept-charset="UTF-8").
 */
#ifndef FORMPOST_FORM_H
#define FORMPOST_FORM_H

#include <stddef.h>

struct form_limits {
	size_t max_fields;     /* fields (parts) per body; more → FORM_E_TOO_MANY */
	size_t max_field_name; /* bytes of one decoded name; more → FORM_E_NAME */
};

/* One field, in body order.  Repeated names are kept as separate entries.
 * name and value are decoded, NUL-terminated for convenience, but may
 * contain NUL: use the lengths.  Owned by the struct form. */
struct form_field {
	char *name;
	size_t name_len;
	char *value;
	size_t value_len;
	char *filename;       /* multipart file part: decoded filename, else NULL */
	int is_file;          /* a multipart part with a filename= parameter */
};

struct form {
	struct form_field *fields;
	size_t n;
};

enum form_err {
	FORM_OK = 0,
	FORM_E_SYNTAX,        /* bad percent-encoding, bad multipart framing → 400 */
	FORM_E_UTF8,          /* a name or value is not UTF-8 → 400 "not UTF-8" */
	FORM_E_TOO_MANY,      /* more than max_fields → 413 */
	FORM_E_NAME,          /* a name longer than max_field_name → 400 */
	FORM_E_NOMEM,         /* allocation failed → 503 */
};

/* Parses an urlencoded body.  '+' is a space, "%XX" needs two hex digits,
 * an empty pair ("a=1&&b=2") is skipped, a pair without '=' is a name with
 * an empty value, an empty name ("=v") is kept.  lim is required.  On success fills *out (caller frees with form_free) and
 * returns FORM_OK; on error *out is left empty. */
enum form_err form_parse_urlencoded(const char *body, size_t len,
    const struct form_limits *lim, struct form *out);

/* Extracts the boundary parameter from a multipart/form-data Content-Type
 * value (quoted or not, 1..70 bytes of RFC 2046 bchars) into out (room for
 * LIM_BOUNDARY_BYTES + 1), NUL-terminated.  Returns 0, or -1 when the type
 * is not multipart/form-data, the boundary is absent, repeated or invalid,
 * or it does not fit in outlen; out is written only on success. */
int form_multipart_boundary(const char *content_type, char *out, size_t outlen);

/* Parses a multipart/form-data body with the given boundary.  Each part
 * needs Content-Disposition: form-data; name="..." (RFC 2231/5987 name*=
 * and filename*= accepted, UTF-8 only; they win over name=/filename=).
 * Part headers are capped (LIM_PART_HEADERS lines of at most
 * LIM_PART_HEADER_BYTES bytes before the CRLF).  A part with filename=""
 * and an empty body is dropped; any other part with a filename is kept
 * with is_file = 1 (the caller answers 422 naming it); its value is the
 * raw file content and is not checked for UTF-8 (its name and filename
 * are).  Framing is CRLF only; any CRLF "--" boundary starts a delimiter
 * (RFC 2046 §5.1.1), so one followed by other than padding, CRLF or "--"
 * is FORM_E_SYNTAX.  Preamble and epilogue are ignored.  Returns as
 * form_parse_urlencoded. */
enum form_err form_parse_multipart(const char *body, size_t len,
    const char *boundary, const struct form_limits *lim, struct form *out);

/* Frees what a parser stored; leaves *f empty.  form_free on an empty or
 * zeroed struct form is a no-op. */
void form_free(struct form *f);

/* First field named name (a C string), or NULL. */
const struct form_field *form_get(const struct form *f, const char *name);

#endif
