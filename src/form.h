/*
 * form — parsers for HTML form bodies: application/x-www-form-urlencoded
 * (WHATWG URL §5.1, strict percent-decoding) and multipart/form-data
 * (RFC 7578, RFC 2046 §5.1).  Pure: bytes in, fields out, no I/O, no
 * globals (file contents go to a caller's sink); every length bounded
 * by struct form_limits before use.
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
	int has_fd;           /* a file part given to a sink: its content is */
	int fd;               /* in fd (owned; value is "") */
	int discarded;        /* a file part the sink discarded (value "") */
	unsigned long long size; /* bytes of the content (value_len, or in fd) */
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
	FORM_E_TOO_LARGE,     /* text values over the stream's max_text → 413 */
	FORM_E_IO,            /* the sink failed → 503 */
	FORM_E_AGAIN,         /* internal: the stream needs more bytes */
};

/* Parses an urlencoded body.  '+' is a space, "%XX" needs two hex digits,
 * an empty pair ("a=1&&b=2") is skipped, a pair without '=' is a name with
 * an empty value, an empty name ("=v") is kept.  lim is required.  On success fills *out (caller frees with form_free) and
 * returns FORM_OK; on error *out is left empty. */
enum form_err form_parse_urlencoded(const char *body, size_t len,
    const struct form_limits *lim, struct form *out);

/* 1 when the urlencoded body holds a pair whose name is name as it
 * stands (no %XX or '+' in it: a name a browser sends unencoded) and
 * whose value is not empty, else 0.  Nothing is decoded or checked: a
 * filled honeypot is told apart before the body costs anything
 * (doc/design.md "Performance").  Pure. */
int form_urlencoded_filled(const char *body, size_t len, const char *name);

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

/* Where the streaming parser puts file parts (doc/design.md
 * "Attachments").  open is called at a file part's first content byte
 * with the field name: it returns an fd the parser passes to write, -2
 * to discard the content (only its size is counted), or -1 (FORM_E_IO).
 * write returns 0 or -1 (FORM_E_IO).  The fd then belongs to the field
 * (form_free closes it). */
struct form_sink {
	int (*open)(void *arg, const char *name, size_t name_len);
	int (*write)(void *arg, int fd, const char *p, size_t n);
	void *arg;
};

/* The streaming multipart parser: the same grammar and results as
 * form_parse_multipart, fed in chunks of any size as the body arrives.
 * It holds at most LIM_STREAM_CHUNK + one header block of the body, plus
 * the text values (all together at most max_text bytes, 0: no cap,
 * else FORM_E_TOO_LARGE); with a sink, file contents go to
 * it, without one they are kept in memory like text.  form_stream_new
 * copies lim and sink; NULL on OOM or a bad boundary.  feed returns
 * FORM_OK or the first error (sticky); finish checks the close delimiter
 * was seen and moves the fields into *out (caller frees with form_free).
 * form_stream_free closes any fd not handed over. */
struct form_stream;
struct form_stream *form_stream_new(const char *boundary,
    const struct form_limits *lim, size_t max_text,
    const struct form_sink *sink);
enum form_err form_stream_feed(struct form_stream *st, const char *p,
    size_t n);
enum form_err form_stream_finish(struct form_stream *st, struct form *out);
void form_stream_free(struct form_stream *st);

/* Frees what a parser stored (closing file fds); leaves *f empty.  form_free on an empty or
 * zeroed struct form is a no-op. */
void form_free(struct form *f);

/* First field named name (a C string), or NULL. */
const struct form_field *form_get(const struct form *f, const char *name);

#endif
