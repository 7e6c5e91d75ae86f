/*
 * form — turns a request body into a list of (name, value) fields.
 *
 * Two encodings: application/x-www-form-urlencoded (WHATWG URL §5.1, with
 * strict percent-decoding) and multipart/form-data (RFC 7578 over the
 * RFC 2046 §5.1 framing).  Everything here is pure: bytes in, fields out,
 * no I/O, no globals, no aborts.  Allocation failure is FORM_E_NOMEM so the
 * daemon can answer 503 for one request.  Every field count and name length
 * is checked against struct form_limits, every multipart header line against
 * src/limits.h, before it is stored.  The caller has already capped the body
 * at max_body, so sizes derived from it cannot overflow.
 *
 * Must never: read outside body[0..len), accept a framing it has to guess
 * at (LF-only multipart, a missing close delimiter), or hand out a name or
 * text value that is not UTF-8.
 */
#include "form.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "utf8.h"
#include "util.h"

/* The list being built; moved into the caller's struct form on success. */
struct fields {
	struct form f;
	size_t cap;
};

/* A parsed Content-Disposition: the four parameters RFC 7578 §4.2 and
 * RFC 5987 give meaning to.  Each string is owned and NUL-terminated. */
struct disp {
	int seen;
	char *name, *name_ext, *filename, *filename_ext;
	size_t name_len, name_ext_len, filename_len, filename_ext_len;
};

/* One MIME parameter (RFC 2045 §5.1), borrowed from the header line.  A
 * quoted value still holds its backslash escapes. */
struct param {
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
	int quoted;
};

static void
fields_free(struct fields *fl)
{
	form_free(&fl->f);
	fl->cap = 0;
}

/*
 * Appends a field.  Takes ownership of name, value and filename whether it
 * succeeds or not, so callers have nothing left to free on any path.
 */
static enum form_err
fields_add(struct fields *fl, const struct form_limits *lim, char *name,
    size_t name_len, char *value, size_t value_len, char *filename,
    int is_file)
{
	struct form_field *nf, *fp;
	size_t cap;
	enum form_err err = FORM_OK;

	if (fl->f.n >= lim->max_fields) {
		err = FORM_E_TOO_MANY;
		goto fail;
	}
	if (fl->f.n == fl->cap) {
		/* Grow by doubling, never beyond max_fields. */
		cap = fl->cap ? fl->cap * 2 : 8;
		if (cap > lim->max_fields)
			cap = lim->max_fields;
		if (cap > SIZE_MAX / sizeof(*nf)) {
			err = FORM_E_NOMEM;
			goto fail;
		}
		if ((nf = realloc(fl->f.fields, cap * sizeof(*nf))) == NULL) {
			err = FORM_E_NOMEM;
			goto fail;
		}
		fl->f.fields = nf;
		fl->cap = cap;
	}
	fp = &fl->f.fields[fl->f.n++];
	fp->name = name;
	fp->name_len = name_len;
	fp->value = value;
	fp->value_len = value_len;
	fp->filename = filename;
	fp->is_file = is_file;
	fp->has_fd = 0;
	fp->fd = -1;
	fp->size = value_len;
	fp->discarded = 0;
	return FORM_OK;
fail:
	free(name);
	free(value);
	free(filename);
	return err;
}

/* A hex digit's value plus one, by byte (0: not a hex digit), for the
 * body's %XX (RFC 3986 §2.1). */
static const unsigned char hex_digit[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* RFC 5987 §3.2.1 attr-char: what may appear unencoded in an ext-value. */
static int
is_attr_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

enum pct_mode {
	PCT_FORM,	/* urlencoded: any byte, '+' is a space */
	PCT_EXT,	/* RFC 5987 value-chars: attr-char or pct-encoded only */
};

/*
 * Percent-decodes s[0..n) into a new NUL-terminated string (caller frees).
 * A '%' must be followed by exactly two hex digits (RFC 3986 §2.1), also at
 * the very end of the input: WHATWG would pass a stray '%' through, but a
 * form that a browser encoded never has one, so it is a broken client.
 */
static enum form_err
pct_decode(const char *s, size_t n, enum pct_mode mode, char **out,
    size_t *outlen)
{
	char *d = NULL;
	size_t i, o = 0;
	int hi, lo;
	enum form_err err = FORM_OK;

	/* Decoding only shrinks, so n + 1 bytes are enough. */
	if (n == SIZE_MAX || (d = malloc(n + 1)) == NULL) {
		err = FORM_E_NOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* Runs of %XX (most of a Japanese value) in one tight loop. */
		while (c == '%' && n - i >= 3 &&
		    (hi = hex_digit[(unsigned char)s[i + 1]]) != 0 &&
		    (lo = hex_digit[(unsigned char)s[i + 2]]) != 0) {
			d[o++] = (char)((hi - 1) << 4 | (lo - 1));
			if ((i += 3) == n)
				goto done;
			c = (unsigned char)s[i];
		}
		if (c == '%') {
			err = FORM_E_SYNTAX;
			goto fail;
		} else if (mode == PCT_FORM) {
			d[o++] = c == '+' ? ' ' : (char)c;
		} else if (is_attr_char(c)) {
			d[o++] = (char)c;
		} else {
			err = FORM_E_SYNTAX;
			goto fail;
		}
	}
done:
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return FORM_OK;
fail:
	free(d);
	return err;
}

static void
form_clear(struct form *out)
{
	out->fields = NULL;
	out->n = 0;
}

/*
 * Frames the urlencoded pair that starts at body[i], i < len (WHATWG URL
 * §5.1 steps 1, 3.2 and 3.3): returns where it ends (the next '&', or
 * len; i for an empty pair) and sets *eq to where its name ends (its
 * first '=', else the pair's end).  The parser and the raw honeypot look
 * frame pairs only through this, so the look cannot find a pair the
 * parser frames otherwise (doc/design.md "Performance").
 */
static size_t
pair_split(const char *body, size_t len, size_t i, size_t *eq)
{
	const char *p = memchr(body + i, '&', len - i);
	size_t amp = p ? (size_t)(p - body) : len;

	/* Within the pair only; memchr stops at the name's end. */
	p = memchr(body + i, '=', amp - i);
	*eq = p ? (size_t)(p - body) : amp;
	return amp;
}

int
form_urlencoded_filled(const char *body, size_t len, const char *name)
{
	size_t n = strlen(name), i, eq, amp;

	for (i = 0; i < len; i = amp + 1) {
		amp = pair_split(body, len, i, &eq);
		/* The name exactly, then '=' and at least one byte of value. */
		if (eq - i == n && amp - eq > 1 &&
		    memcmp(body + i, name, n) == 0)
			return 1;
	}
	return 0;
}

enum form_err
form_parse_urlencoded(const char *body, size_t len,
    const struct form_limits *lim, struct form *out)
{
	struct fields fl = { { NULL, 0 }, 0 };
	char *name = NULL, *value = NULL;
	size_t name_len, value_len, i, amp, eq;
	enum form_err err = FORM_OK;

	for (i = 0; i < len; i = amp + 1) {
		amp = pair_split(body, len, i, &eq);
		if (amp == i)
			continue;	/* step 3.1: skip an empty one */
		/* Refuse before decoding: a flood of pairs costs nothing. */
		if (fl.f.n >= lim->max_fields) {
			err = FORM_E_TOO_MANY;
			goto fail;
		}
		if ((err = pct_decode(body + i, eq - i, PCT_FORM, &name,
		    &name_len)) != FORM_OK)
			goto fail;
		if (name_len > lim->max_field_name) {
			err = FORM_E_NAME;
			goto fail;
		}
		/* No '=': a name with an empty value (step 3.3). */
		if (eq == amp)
			err = pct_decode("", 0, PCT_FORM, &value, &value_len);
		else
			err = pct_decode(body + eq + 1, amp - eq - 1, PCT_FORM,
			    &value, &value_len);
		if (err != FORM_OK)
			goto fail;
		if (!utf8_valid(name, name_len) ||
		    !utf8_valid(value, value_len)) {
			err = FORM_E_UTF8;
			goto fail;
		}
		err = fields_add(&fl, lim, name, name_len, value, value_len,
		    NULL, 0);
		name = value = NULL;	/* fields_add owns them now */
		if (err != FORM_OK)
			goto fail;
	}
	*out = fl.f;
	return FORM_OK;
fail:
	free(value);
	free(name);
	fields_free(&fl);
	form_clear(out);
	return err;
}

/* RFC 2045 §5.1 token character: printable ASCII except tspecials. */
static int
is_token_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 2046 §5.1.1 bcharsnospace. */
static int
is_bchar_nospace(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("'()+_,-./:=?", c) != NULL;
}

static size_t
skip_ows(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t
skip_token(const char *s, size_t n, size_t i)
{
	while (i < n && is_token_char((unsigned char)s[i]))
		i++;
	return i;
}

/*
 * Reads the next parameter of a structured header value (RFC 2045 §5.1:
 * *(";" token "=" (token / quoted-string))) starting at s[*ip].  Whitespace
 * around ';' and '=' is tolerated, as is a trailing ';'.  Returns 1 with
 * *p filled (borrowed from s), 0 at the end, -1 on a syntax error.
 */
static int
param_next(const char *s, size_t n, size_t *ip, struct param *p)
{
	size_t i = skip_ows(s, n, *ip), start;

	if (i == n)
		return 0;
	if (s[i] != ';')
		return -1;
	i = skip_ows(s, n, i + 1);
	if (i == n) {
		*ip = i;
		return 0;
	}
	start = i;
	i = skip_token(s, n, i);
	if (i == start)
		return -1;
	p->name = s + start;
	p->name_len = i - start;
	i = skip_ows(s, n, i);
	if (i == n || s[i] != '=')
		return -1;
	i = skip_ows(s, n, i + 1);
	if (i < n && s[i] == '"') {
		/* RFC 822 §3.3 quoted-string: '\' quotes the next byte. */
		start = ++i;
		while (i < n && s[i] != '"') {
			if (s[i] == '\\' && ++i == n)
				return -1;
			i++;
		}
		if (i == n)
			return -1;
		p->val = s + start;
		p->val_len = i - start;
		p->quoted = 1;
		i++;
	} else {
		start = i;
		i = skip_token(s, n, i);
		if (i == start)
			return -1;
		p->val = s + start;
		p->val_len = i - start;
		p->quoted = 0;
	}
	*ip = i;
	return 1;
}

/* Copies a parameter value into d (room for dlen bytes), removing
 * quoted-pair backslashes and adding a NUL; returns the unquoted length,
 * or SIZE_MAX when it does not fit. */
static size_t
param_unquote(const struct param *p, char *d, size_t dlen)
{
	size_t i, o = 0;

	for (i = 0; i < p->val_len; i++) {
		if (o + 1 >= dlen)
			return SIZE_MAX;
		if (p->quoted && p->val[i] == '\\')
			i++;	/* param_next saw the escaped byte exists */
		d[o++] = p->val[i];
	}
	if (o >= dlen)
		return SIZE_MAX;
	d[o] = '\0';
	return o;
}

int
form_multipart_boundary(const char *content_type, char *out, size_t outlen)
{
	char tmp[LIM_BOUNDARY_BYTES + 1];
	struct param p;
	size_t n = strlen(content_type), i, start, blen = 0, k;
	int r, found = 0;

	/* RFC 7231 §3.1.1.1 media-type: type "/" subtype *(OWS ";" ...) */
	i = skip_ows(content_type, n, 0);
	start = i;
	i = skip_token(content_type, n, i);
	if (!eq_ci(content_type + start, i - start, "multipart"))
		return -1;
	if (i == n || content_type[i] != '/')
		return -1;
	start = ++i;
	i = skip_token(content_type, n, i);
	if (!eq_ci(content_type + start, i - start, "form-data"))
		return -1;
	while ((r = param_next(content_type, n, &i, &p)) == 1) {
		if (!eq_ci(p.name, p.name_len, "boundary"))
			continue;	/* charset= and others are tolerated */
		/* Two boundaries would make the framing ambiguous. */
		if (found)
			return -1;
		found = 1;
		if ((blen = param_unquote(&p, tmp, sizeof(tmp))) == SIZE_MAX)
			return -1;
	}
	if (r == -1 || !found)
		return -1;
	/* RFC 2046 §5.1.1: 1*69bchars bcharsnospace; space allowed inside. */
	if (blen == 0 || tmp[blen - 1] == ' ')
		return -1;
	for (k = 0; k < blen; k++)
		if (tmp[k] != ' ' && !is_bchar_nospace((unsigned char)tmp[k]))
			return -1;
	if (blen >= outlen)
		return -1;
	memcpy(out, tmp, blen + 1);
	return 0;
}

/*
 * Offset of the next delimiter (RFC 2046 §5.1.1: CRLF "--" boundary) in
 * s[0..n), or n.  Linear: the needle holds exactly one CR, at its start,
 * so a comparison that fails at needle byte k has seen no CR in the k
 * bytes after the candidate; the next candidate (the next CR) lies beyond
 * them.  So each byte is looked at a bounded number of times, and no
 * input full of near-boundaries can make this quadratic.
 */
static size_t
find_delim(const char *s, size_t n, const char *b, size_t blen)
{
	const char *cr;
	size_t i = 0, k, need = blen + 4;

	if (n < need)
		return n;
	while (i <= n - need) {
		if ((cr = memchr(s + i, '\r', n - need + 1 - i)) == NULL)
			break;
		i = (size_t)(cr - s);
		if (s[i + 1] == '\n' && s[i + 2] == '-' && s[i + 3] == '-') {
			for (k = 0; k < blen && s[i + 4 + k] == b[k]; k++)
				;
			if (k == blen)
				return i;
		}
		i++;
	}
	return n;
}

static void
disp_free(struct disp *d)
{
	free(d->name);
	free(d->name_ext);
	free(d->filename);
	free(d->filename_ext);
	memset(d, 0, sizeof(*d));
}

/*
 * Decodes an RFC 5987 §3.2.1 ext-value: charset "'" [language] "'"
 * value-chars.  Only UTF-8 is accepted (RFC 7578 §5.1.2: the form's
 * charset); another charset is FORM_E_UTF8, so the visitor is told why.
 */
static enum form_err
ext_value(const struct param *p, char **out, size_t *outlen)
{
	const char *q1, *q2, *end = p->val + p->val_len;

	/* RFC 5987 §3.2: an ext-value is never a quoted-string. */
	if (p->quoted)
		return FORM_E_SYNTAX;
	if ((q1 = memchr(p->val, '\'', p->val_len)) == NULL ||
	    (q2 = memchr(q1 + 1, '\'', (size_t)(end - q1 - 1))) == NULL)
		return FORM_E_SYNTAX;
	if (!eq_ci(p->val, (size_t)(q1 - p->val), "UTF-8"))
		return FORM_E_UTF8;
	return pct_decode(q2 + 1, (size_t)(end - q2 - 1), PCT_EXT, out, outlen);
}

/* Stores one recognised Content-Disposition parameter in d.  A repeated
 * parameter is a syntax error: which name would the field have? */
static enum form_err
disp_param(struct disp *d, const struct param *p)
{
	char **dst;
	size_t *dlen;
	int ext = 0;

	if (eq_ci(p->name, p->name_len, "name")) {
		dst = &d->name;
		dlen = &d->name_len;
	} else if (eq_ci(p->name, p->name_len, "name*")) {
		dst = &d->name_ext;
		dlen = &d->name_ext_len;
		ext = 1;
	} else if (eq_ci(p->name, p->name_len, "filename")) {
		dst = &d->filename;
		dlen = &d->filename_len;
	} else if (eq_ci(p->name, p->name_len, "filename*")) {
		dst = &d->filename_ext;
		dlen = &d->filename_ext_len;
		ext = 1;
	} else
		return FORM_OK;	/* unknown parameters are ignored */
	if (*dst != NULL)
		return FORM_E_SYNTAX;
	if (ext)
		return ext_value(p, dst, dlen);
	/* The value lies within one header line, so this is small. */
	if ((*dst = malloc(p->val_len + 1)) == NULL)
		return FORM_E_NOMEM;
	*dlen = param_unquote(p, *dst, p->val_len + 1);
	return FORM_OK;
}

/* RFC 7578 §4.2: Content-Disposition: form-data; name="..." */
static enum form_err
parse_disposition(const char *v, size_t n, struct disp *d)
{
	struct param p;
	size_t i;
	int r;
	enum form_err err;

	if (d->seen)
		return FORM_E_SYNTAX;
	d->seen = 1;
	i = skip_token(v, n, 0);
	if (!eq_ci(v, i, "form-data"))
		return FORM_E_SYNTAX;
	while ((r = param_next(v, n, &i, &p)) == 1)
		if ((err = disp_param(d, &p)) != FORM_OK)
			return err;
	return r == 0 ? FORM_OK : FORM_E_SYNTAX;
}

/* One header line (without its CRLF): field-name ":" OWS value OWS
 * (RFC 5322 §2.2, names case-insensitive).  Only Content-Disposition
 * matters; Content-Type and the rest are tolerated and ignored. */
static enum form_err
parse_header(const char *s, size_t n, struct disp *d)
{
	size_t i, vs, ve;

	for (i = 0; i < n && s[i] != ':'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return FORM_E_SYNTAX;	/* also rejects obs-fold */
	if (i == 0 || i == n)
		return FORM_E_SYNTAX;
	vs = skip_ows(s, n, i + 1);
	ve = n;
	while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
		ve--;
	if (eq_ci(s, i, "Content-Disposition"))
		return parse_disposition(s + vs, ve - vs, d);
	return FORM_OK;
}

/* The header lines of part s[0..n) into d, and in *body where its body
 * starts (n: headers only).  RFC 2046 §5.1.1: body-part := headers
 * [CRLF *OCTET], so a part may end right after its last header line. */
static enum form_err
part_headers(const char *s, size_t n, struct disp *d, size_t *body)
{
	size_t i = 0, j, lines = 0;
	enum form_err err;

	for (;;) {
		if (i == n) {
			*body = n;	/* headers only, no body */
			return FORM_OK;
		}
		if (n - i >= 2 && s[i] == '\r' && s[i + 1] == '\n') {
			*body = i + 2;	/* the empty line ends the headers */
			return FORM_OK;
		}
		if (++lines > LIM_PART_HEADERS)
			return FORM_E_SYNTAX;
		/* Find CRLF without looking past the line cap; a bare CR or
		 * LF, or a control byte, is bad framing, not a header. */
		for (j = i; j < n && j - i <= LIM_PART_HEADER_BYTES; j++) {
			unsigned char c = (unsigned char)s[j];

			if (c == '\r' || c == '\n' || (c < 0x20 && c != '\t') ||
			    c == 0x7f)
				break;
		}
		if (j - i > LIM_PART_HEADER_BYTES || n - j < 2 ||
		    s[j] != '\r' || s[j + 1] != '\n')
			return FORM_E_SYNTAX;
		if ((err = parse_header(s + i, j - i, d)) != FORM_OK)
			return err;
		i = j + 2;
	}
}

/* RFC 6266 §4.3 / RFC 5987: the ext form of a parameter wins when both
 * are sent.  Moves the winner out of the disp (caller frees it), with
 * its length in *len; the loser stays for disp_free. */
static char *
take_param(char **ext, size_t ext_len, char **plain, size_t plain_len,
    size_t *len)
{
	char **from = *ext ? ext : plain;
	char *v = *from;

	*len = *ext ? ext_len : plain_len;
	*from = NULL;
	return v;
}

/* The header block's largest size: every line at its cap, then the
 * empty line. */
#define HDR_MAX (LIM_PART_HEADERS * (LIM_PART_HEADER_BYTES + 2) + 2)

enum st_state { S_PREAMBLE, S_AFTER, S_HEADERS, S_BODY, S_EPILOGUE };

/* The part being read. */
struct cur_part {
	char *name, *filename;
	size_t name_len, filename_len;
	int is_file, live, first;  /* first: the blank line is still ahead */
	int fd;                    /* sink's fd; -1 none yet, -2 discard */
	unsigned long long size;
	struct buf value;          /* text, or a file without a sink */
};

struct form_stream {
	enum st_state state;
	char b[LIM_BOUNDARY_BYTES + 1];
	size_t blen;
	struct form_limits lim;
	struct form_sink sink;
	int has_sink, started, pad;
	struct fields fl;
	struct cur_part cur;
	char *win;                 /* bytes not yet consumed */
	size_t wlen, wcap;
	unsigned long long text;   /* bytes of text values so far */
	size_t max_text;
	enum form_err err;         /* sticky */
};

static void
cur_clear(struct form_stream *st)
{
	struct cur_part *c = &st->cur;

	free(c->name);
	free(c->filename);
	buf_free(&c->value);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof *c);
	c->fd = -1;
	buf_init(&c->value);
}

struct form_stream *
form_stream_new(const char *boundary, const struct form_limits *lim,
    size_t max_text, const struct form_sink *sink)
{
	struct form_stream *st;
	size_t blen = strnlen(boundary, LIM_BOUNDARY_BYTES + 1);

	if (blen == 0 || blen > LIM_BOUNDARY_BYTES ||
	    (st = calloc(1, sizeof *st)) == NULL)
		return NULL;
	memcpy(st->b, boundary, blen);
	st->blen = blen;
	st->lim = *lim;
	st->max_text = max_text;
	if (sink) {
		st->sink = *sink;
		st->has_sink = 1;
	}
	st->cur.fd = -1;
	buf_init(&st->cur.value);
	st->wcap = LIM_STREAM_CHUNK + HDR_MAX + LIM_BOUNDARY_BYTES + 8;
	if ((st->win = malloc(st->wcap)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

void
form_stream_free(struct form_stream *st)
{
	if (st == NULL)
		return;
	cur_clear(st);
	fields_free(&st->fl);
	free(st->win);
	free(st);
}

/* A part's headers are in: names checked, its field begun. */
static enum form_err
part_begin(struct form_stream *st, const char *s, size_t n)
{
	struct cur_part *c = &st->cur;
	struct disp d;
	size_t body;
	enum form_err err;

	memset(&d, 0, sizeof d);
	if ((err = part_headers(s, n, &d, &body)) != FORM_OK)
		goto out;
	if (!d.seen || (d.name == NULL && d.name_ext == NULL)) {
		err = FORM_E_SYNTAX;
		goto out;
	}
	c->is_file = d.filename != NULL || d.filename_ext != NULL;
	c->name = take_param(&d.name_ext, d.name_ext_len, &d.name, d.name_len,
	    &c->name_len);
	c->filename = take_param(&d.filename_ext, d.filename_ext_len,
	    &d.filename, d.filename_len, &c->filename_len);
	c->live = c->first = 1;
	if (c->name_len > st->lim.max_field_name)
		err = FORM_E_NAME;
	else if (!utf8_valid(c->name, c->name_len) || (c->is_file &&
	    !utf8_valid(c->filename, c->filename_len)))
		err = FORM_E_UTF8;
out:
	disp_free(&d);
	return err;
}

/* Body bytes of the current part: a file to its sink (opened at its first
 * byte), text to memory within the text cap. */
static enum form_err
part_data(struct form_stream *st, const char *p, size_t n)
{
	struct cur_part *c = &st->cur;

	if (n == 0)
		return FORM_OK;
	if (c->is_file && st->has_sink) {
		if (c->fd == -1 && (c->fd = st->sink.open(st->sink.arg, c->name,
		    c->name_len)) == -1)
			return FORM_E_IO;
		c->size += n;
		if (c->fd >= 0 && st->sink.write(st->sink.arg, c->fd, p, n)
		    == -1)
			return FORM_E_IO;
		return FORM_OK;
	}
	if (!c->is_file) {
		st->text += n;
		if (st->max_text && st->text > st->max_text)
			return FORM_E_TOO_LARGE;
	}
	c->size += n;
	return buf_add(&c->value, p, n) == -1 ? FORM_E_NOMEM : FORM_OK;
}

/* The current part is complete: it becomes a field, unless it is an
 * empty file input (WHATWG: filename "" and no content). */
static enum form_err
part_end(struct form_stream *st)
{
	struct cur_part *c = &st->cur;
	struct form_field *f;
	char *value;
	size_t vlen = c->value.len;
	enum form_err err;

	if (c->is_file && c->filename_len == 0 && c->size == 0) {
		cur_clear(st);
		return FORM_OK;
	}
	if (!c->is_file && !utf8_valid(c->value.data ? c->value.data : "",
	    vlen))
		return FORM_E_UTF8;
	if ((value = buf_steal(&c->value)) == NULL)
		return FORM_E_NOMEM;
	err = fields_add(&st->fl, &st->lim, c->name, c->name_len, value, vlen,
	    c->filename, c->is_file);
	c->name = c->filename = NULL;	/* owned by the list now */
	if (err == FORM_OK) {
		f = &st->fl.f.fields[st->fl.f.n - 1];
		f->has_fd = c->fd >= 0;
		f->fd = c->fd;
		f->size = c->size;
		f->discarded = c->fd == -2;
		c->fd = -1;
	}
	cur_clear(st);
	return err;
}

/* 1 when p[0..n) starts with the delimiter CRLF "--" boundary. */
static int
delim_at(const struct form_stream *st, const char *p, size_t n)
{
	return n >= st->blen + 4 && memcmp(p, "\r\n--", 4) == 0 &&
	    memcmp(p + 4, st->b, st->blen) == 0;
}

/* One step in the preamble: the first delimiter, at the very start
 * without its CRLF (RFC 2046 §5.1.1: [preamble CRLF] dash-boundary). */
static enum form_err
step_preamble(struct form_stream *st, const char *p, size_t n, int final,
    size_t *used)
{
	size_t d, keep = st->blen + 3;

	if (!st->started) {
		if (n < st->blen + 2 && !final)
			return FORM_E_AGAIN;
		st->started = 1;
		if (n >= st->blen + 2 && p[0] == '-' && p[1] == '-' &&
		    memcmp(p + 2, st->b, st->blen) == 0) {
			*used = st->blen + 2;
			st->state = S_AFTER;
			return FORM_OK;
		}
	}
	if ((d = find_delim(p, n, st->b, st->blen)) < n) {
		*used = d + st->blen + 4;
		st->state = S_AFTER;
		return FORM_OK;
	}
	if (final)
		return FORM_E_SYNTAX;
	*used = n > keep ? n - keep : 0;
	return FORM_E_AGAIN;
}

/* After a delimiter: "--" closes, else padding and CRLF open a part. */
static enum form_err
step_after(struct form_stream *st, const char *p, size_t n, int final,
    size_t *used)
{
	size_t i;

	if (n < 2 && !final)
		return FORM_E_AGAIN;
	if (!st->pad && n >= 2 && p[0] == '-' && p[1] == '-') {
		st->state = S_EPILOGUE;
		return FORM_OK;
	}
	i = skip_ows(p, n, 0);
	if (i > 0) {
		st->pad = 1;
		*used = i;
		return FORM_OK;
	}
	if (n < 2)
		return final ? FORM_E_SYNTAX : FORM_E_AGAIN;
	if (p[0] != '\r' || p[1] != '\n')
		return FORM_E_SYNTAX;
	*used = 2;
	st->pad = 0;
	st->state = S_HEADERS;
	return FORM_OK;
}

static enum form_err
step_headers(struct form_stream *st, const char *p, size_t n, int final,
    size_t *used)
{
	const char *e;
	size_t lim = n < HDR_MAX ? n : HDR_MAX;
	enum form_err err;

	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return FORM_E_SYNTAX;	/* no headers: no name */
	if ((e = memmem(p, lim, "\r\n\r\n", 4)) == NULL)
		return n >= HDR_MAX || final ? FORM_E_SYNTAX : FORM_E_AGAIN;
	if ((err = part_begin(st, p, (size_t)(e - p) + 2)) != FORM_OK)
		return err;
	*used = (size_t)(e - p) + 2;
	st->state = S_BODY;
	return FORM_OK;
}

static enum form_err
step_body(struct form_stream *st, const char *p, size_t n, int final,
    size_t *used)
{
	size_t d, keep = st->blen + 3;
	enum form_err err;

	if (st->cur.first) {
		/* Headers only: the delimiter follows the last header's
		 * CRLF.  Else that CRLF is the blank line. */
		if (n < st->blen + 4 && !final)
			return FORM_E_AGAIN;
		st->cur.first = 0;
		if (delim_at(st, p, n)) {
			*used = st->blen + 4;
			st->state = S_AFTER;
			return part_end(st);
		}
		*used = 2;
		return FORM_OK;
	}
	if ((d = find_delim(p, n, st->b, st->blen)) < n) {
		if ((err = part_data(st, p, d)) != FORM_OK)
			return err;
		*used = d + st->blen + 4;
		st->state = S_AFTER;
		return part_end(st);
	}
	if (final)
		return FORM_E_SYNTAX;	/* cut short: no close delimiter */
	*used = n > keep ? n - keep : 0;
	if ((err = part_data(st, p, *used)) != FORM_OK)
		return err;
	return FORM_E_AGAIN;
}

/* Consumes what it can of the window; keeps the rest for more bytes. */
static enum form_err
stream_run(struct form_stream *st, int final)
{
	size_t pos = 0, used;
	enum form_err err = FORM_OK;

	while (err == FORM_OK) {
		const char *p = st->win + pos;
		size_t n = st->wlen - pos;

		used = 0;
		switch (st->state) {
		case S_PREAMBLE:
			err = step_preamble(st, p, n, final, &used);
			break;
		case S_AFTER:
			err = step_after(st, p, n, final, &used);
			break;
		case S_HEADERS:
			err = step_headers(st, p, n, final, &used);
			break;
		case S_BODY:
			err = step_body(st, p, n, final, &used);
			break;
		case S_EPILOGUE:
			used = n;
			err = FORM_E_AGAIN;
			break;
		}
		pos += used;
	}
	memmove(st->win, st->win + pos, st->wlen - pos);
	st->wlen -= pos;
	return err == FORM_E_AGAIN ? FORM_OK : err;
}

enum form_err
form_stream_feed(struct form_stream *st, const char *p, size_t n)
{
	size_t k;

	while (n > 0 && st->err == FORM_OK) {
		k = st->wcap - st->wlen;
		if (k > n)
			k = n;
		memcpy(st->win + st->wlen, p, k);
		st->wlen += k;
		p += k;
		n -= k;
		st->err = stream_run(st, 0);
	}
	return st->err;
}

enum form_err
form_stream_finish(struct form_stream *st, struct form *out)
{
	form_clear(out);
	if (st->err == FORM_OK && (st->err = stream_run(st, 1)) == FORM_OK &&
	    st->state != S_EPILOGUE)
		st->err = FORM_E_SYNTAX;
	if (st->err != FORM_OK)
		return st->err;
	*out = st->fl.f;
	memset(&st->fl, 0, sizeof st->fl);
	return FORM_OK;
}

enum form_err
form_parse_multipart(const char *body, size_t len, const char *boundary,
    const struct form_limits *lim, struct form *out)
{
	struct form_stream *st;
	enum form_err err;

	form_clear(out);
	if (strnlen(boundary, LIM_BOUNDARY_BYTES + 1) - 1 >=
	    LIM_BOUNDARY_BYTES)
		return FORM_E_SYNTAX;
	if ((st = form_stream_new(boundary, lim, 0, NULL)) == NULL)
		return FORM_E_NOMEM;
	if ((err = form_stream_feed(st, body, len)) == FORM_OK)
		err = form_stream_finish(st, out);
	form_stream_free(st);
	return err;
}

void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
		free(f->fields[i].filename);
		if (f->fields[i].has_fd)
			close(f->fields[i].fd);
	}
	free(f->fields);
	f->fields = NULL;
	f->n = 0;
}

const struct form_field *
form_get(const struct form *f, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < f->n; i++)
		if (f->fields[i].name_len == n &&
		    memcmp(f->fields[i].name, name, n) == 0)
			return &f->fields[i];
	return NULL;
}
