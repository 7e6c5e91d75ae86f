/*
 * mime — the message writer.  Every header is built here from typed parts
 * and encoded; no caller text is ever pasted into a header.  Header input
 * containing any control character (C0 including TAB, DEL, C1, U+2028,
 * U+2029) or invalid UTF-8 is refused, so no input can end a header line,
 * add a header or add a recipient.  Output is CRLF only, no line over 998
 * octets (RFC 5322 §2.1.1), encoded words at most 75 characters (RFC 2047
 * §2), encoded body lines at most 76 (RFC 2045 §6.7, §6.8).
 * Pure: no I/O, no clock, no globals; allocation failure returns -1.
 */
#include "mime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "limits.h"
#include "utf8.h"

#define EW_OVERHEAD	12	/* "=?UTF-8?B?" + "?=" */
#define PHRASE_PLAIN_MAX 76	/* longer plain phrases are encoded: they fold */
#define BODY_LINE	76	/* RFC 2045 §6.7 (5), §6.8 */
#define MSGID_MAX	900	/* keeps "Message-ID: <...>" under 998 */

enum ew_ctx {
	EW_TEXT,	/* RFC 2047 §5(1): unstructured text */
	EW_PHRASE	/* RFC 2047 §5(3): a display name */
};

/* One header line being written, with the column for folding. */
struct hdr {
	struct buf *out;
	size_t col;	/* octets on the current line */
	int content;	/* a fold before the next token is allowed */
};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexchars[] = "0123456789ABCDEF";

/*
 * 1 when s is valid UTF-8 free of anything a reader could take as a line
 * break or that has no business in a one-line field (utf8_is_ctl: TAB
 * too, since a header value from a form has no tabs, and refusing is
 * simpler than guessing).
 */
static int
text_ok(const char *s, size_t n)
{
	return !utf8_has_ctl(s, n);
}

/* RFC 5322 §3.6.8: a field name is printable ASCII other than ':'. */
static int
name_ok(const char *name)
{
	const char *p;

	if (name == NULL || *name == '\0')
		return 0;
	for (p = name; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == ':')
			return 0;
	return p - name <= 40;	/* leaves room for a first encoded word */
}

/* 1 when s contains "=?", which a decoder could take for an encoded word. */
static int
has_ew_start(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == '=' && s[i + 1] == '?')
			return 1;
	return 0;
}

static int
has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Writes base64 of s[0..n) at o (4 * ceil(n / 3) octets, no NUL). */
static void
b64_raw(char *o, const unsigned char *s, size_t n)
{
	uint32_t v;

	for (; n >= 3; n -= 3, s += 3, o += 4) {
		v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
		o[0] = b64chars[v >> 18];
		o[1] = b64chars[v >> 12 & 63];
		o[2] = b64chars[v >> 6 & 63];
		o[3] = b64chars[v & 63];
	}
	if (n == 0)
		return;
	v = (uint32_t)s[0] << 16 | (n == 2 ? (uint32_t)s[1] << 8 : 0);
	o[0] = b64chars[v >> 18];
	o[1] = b64chars[v >> 12 & 63];
	o[2] = n == 2 ? b64chars[v >> 6 & 63] : '=';
	o[3] = '=';
}

/* Appends base64 of s[0..n) straight into reserved room (an encoder
 * appending 4 octets at a time paid the buffer's checks for each). */
static void
b64_put(struct buf *b, const unsigned char *s, size_t n)
{
	size_t k = (n + 2) / 3 * 4;

	if (n == 0 || buf_reserve(b, k) == -1)
		return;
	b64_raw(b->data + b->len, s, n);
	b->len += k;
	b->data[b->len] = '\0';
}

void
mime_base64(struct buf *out, const void *s, size_t n)
{
	b64_put(out, s, n);
}

/* RFC 2047 §4.2, §5: characters that may stand for themselves in Q. */
static int
q_safe(unsigned char c, enum ew_ctx ctx)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	if (ctx == EW_PHRASE)
		return c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
	return c > ' ' && c < 0x7f && c != '=' && c != '?' && c != '_';
}

static size_t
q_cost(const char *s, size_t n, enum ew_ctx ctx)
{
	size_t i, len;

	for (i = len = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		len += c == ' ' || q_safe(c, ctx) ? 1 : 3;
	}
	return len;
}

static void
q_put(struct buf *b, const char *s, size_t n, enum ew_ctx ctx)
{
	char e[3];
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ')
			buf_addc(b, '_');
		else if (q_safe(c, ctx))
			buf_addc(b, (char)c);
		else {
			e[0] = '=';
			e[1] = hexchars[c >> 4];
			e[2] = hexchars[c & 15];
			buf_add(b, e, 3);
		}
	}
}

static void
hdr_fold(struct hdr *h)
{
	buf_add(h->out, "\r\n ", 3);
	h->col = 1;
}

/* Writes the whitespace before a token of len octets: a space, or a fold
 * when the token would pass column 78 and a fold is allowed here. */
static void
hdr_sep(struct hdr *h, size_t len)
{
	if (h->content && h->col + 1 + len > LIM_HEADER_FOLD)
		hdr_fold(h);
	else {
		buf_addc(h->out, ' ');
		h->col++;
	}
}

static void
hdr_token(struct hdr *h, const char *s, size_t n)
{
	buf_add(h->out, s, n);
	h->col += n;
	h->content = 1;
}

/*
 * Writes s (valid UTF-8, n > 0) as a sequence of encoded words (RFC 2047),
 * each preceded by a space or a fold.  One encoding for the whole run, the
 * shorter of B and Q.  Words end on character boundaries (§5 last
 * paragraph) and are sized to the room left on the line, at most 75.
 * Decoders drop the whitespace between adjacent encoded words (§6.2), so
 * the caller puts any whitespace that must survive inside s.
 */
static void
ew_run(struct hdr *h, const char *s, size_t n, enum ew_ctx ctx)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, j, k, used, cost, room;
	uint32_t cp;
	int useb;

	useb = (n + 2) / 3 * 4 < q_cost(s, n, ctx);
	for (i = 0; i < n; i = j) {
		k = utf8_decode(s + i, n - i, &cp);
		cost = useb ? 4 * ((k + 2) / 3) : q_cost(s + i, k, ctx);
		room = h->col + 1 < LIM_HEADER_FOLD ?
		    LIM_HEADER_FOLD - h->col - 1 : 0;
		if (room < EW_OVERHEAD + cost) {
			hdr_fold(h);
			room = LIM_HEADER_FOLD - 1;
		} else {
			buf_addc(h->out, ' ');
			h->col++;
		}
		if (room > LIM_ENCODED_WORD)
			room = LIM_ENCODED_WORD;
		used = 0;
		for (j = i; j < n; j += k) {
			k = utf8_decode(s + j, n - j, &cp);
			cost = useb ? 4 * ((j - i + k + 2) / 3) :
			    used + q_cost(s + j, k, ctx);
			if (EW_OVERHEAD + cost > room)
				break;
			used = cost;
		}
		buf_adds(h->out, useb ? "=?UTF-8?B?" : "=?UTF-8?Q?");
		if (useb)
			b64_put(h->out, u + i, j - i);
		else
			q_put(h->out, s + i, j - i, ctx);
		buf_add(h->out, "?=", 2);
		h->col += EW_OVERHEAD + used;
		h->content = 1;
	}
}

static void
hdr_start(struct hdr *h, struct buf *out, const char *name, int content)
{
	h->out = out;
	buf_adds(out, name);
	buf_addc(out, ':');
	h->col = strlen(name) + 1;
	h->content = content;
}

int
mime_header_unstructured(struct buf *out, const char *name,
    const char *value, size_t len)
{
	struct hdr h;
	size_t i, ws, wb, wl, tail, run, nlen;
	int enc, first;

	if (!name_ok(name) || (value == NULL && len > 0) ||
	    !text_ok(value, len))
		return -1;
	/*
	 * A fold right after "Name:" would reach readers as a leading space
	 * (Python's email keeps it), so the first token never folds.
	 */
	hdr_start(&h, out, name, 0);
	nlen = h.col;
	if (len == 0)
		goto done;
	/* Trailing spaces would be lost or stripped in transit: they go
	 * inside the last encoded word. */
	for (tail = len; tail > 0 && value[tail - 1] == ' '; tail--)
		;
	run = SIZE_MAX;		/* start of the open encoded run */
	first = 1;
	for (i = 0; i < len || first; first = 0) {
		ws = i;
		while (i < len && value[i] == ' ')
			i++;
		wb = i;
		while (i < len && value[i] != ' ')
			i++;
		wl = i - wb;
		if (i >= tail)
			i = len;	/* the last word takes the tail */
		/*
		 * Encode non-ASCII, anything a decoder could mistake for an
		 * encoded word, leading and trailing whitespace (lost on
		 * parse) and a word too long for a 998-octet line.
		 */
		enc = has_8bit(value + wb, wl) || has_ew_start(value + wb, wl) ||
		    (wb > ws && ws == 0) || i > wb + wl || wl == 0 ||
		    (ws == 0 ? nlen + 1 + wl : wb - ws + wl) > LIM_LINE_OCTETS;
		if (enc) {
			if (run == SIZE_MAX)
				run = ws == 0 ? 0 : ws + 1;
			continue;
		}
		if (run != SIZE_MAX) {
			ew_run(&h, value + run, ws - run, EW_TEXT);
			run = SIZE_MAX;
		}
		if (ws == 0) {
			buf_addc(out, ' ');
			h.col++;
		} else if (h.content && h.col + (i - ws) > LIM_HEADER_FOLD) {
			/* Fold before the whitespace, which then survives
			 * unfolding exactly (RFC 5322 §2.2.3). */
			buf_add(out, "\r\n", 2);
			h.col = 0;
		}
		hdr_token(&h, value + ws, i - ws);
	}
	if (run != SIZE_MAX)
		ew_run(&h, value + run, len - run, EW_TEXT);
done:
	buf_add(out, "\r\n", 2);
	return out->oom ? -1 : 0;
}

int
mime_envelope_ok(const char *addr)
{
	return addr_spec_ok(addr, NULL);
}

/* Kinds of display name, RFC 5322 §3.2.5 phrase. */
enum phrase_kind {
	PH_ATOMS,	/* atext words, single spaces */
	PH_QUOTED,	/* quoted-string */
	PH_ENCODED	/* RFC 2047 §5(3) encoded words */
};

static enum phrase_kind
phrase_kind(const char *s, size_t n)
{
	size_t i, qlen;
	int atoms;

	if (has_8bit(s, n) || has_ew_start(s, n))
		return PH_ENCODED;
	atoms = s[0] != ' ' && s[n - 1] != ' ';
	for (i = 0, qlen = 2; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			qlen++;
		qlen++;
		if (s[i] == ' ' ? i + 1 < n && s[i + 1] == ' ' :
		    !addr_is_atext((unsigned char)s[i]))
			atoms = 0;
	}
	if (atoms && n <= PHRASE_PLAIN_MAX)
		return PH_ATOMS;
	return qlen <= PHRASE_PLAIN_MAX ? PH_QUOTED : PH_ENCODED;
}

/* Appends s as a quoted-string (RFC 5322 §3.2.4). */
static void
put_quoted(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addc(b, '\\');
		buf_addc(b, s[i]);
	}
	buf_addc(b, '"');
}

/* Writes one mailbox (RFC 5322 §3.4), then a comma when more follow. */
static int
put_mailbox(struct hdr *h, const struct mime_addr *a, int comma)
{
	struct buf tok;
	size_t at;
	int rc = -1;

	buf_init(&tok);
	if (!addr_spec_ok(a->addr, &at) || (a->name == NULL && a->name_len))
		goto out;
	if (a->name_len) {
		if (!text_ok(a->name, a->name_len))
			goto out;
		switch (phrase_kind(a->name, a->name_len)) {
		case PH_ATOMS:
			buf_add(&tok, a->name, a->name_len);
			break;
		case PH_QUOTED:
			put_quoted(&tok, a->name, a->name_len);
			break;
		case PH_ENCODED:
			ew_run(h, a->name, a->name_len, EW_PHRASE);
			break;
		}
		if (tok.len) {
			hdr_sep(h, tok.len);
			hdr_token(h, tok.data, tok.len);
			buf_reset(&tok);
		}
		buf_addc(&tok, '<');
	}
	/* A local part that is not a dot-atom (RFC 5322 §3.4.1), such as
	 * the carriers' "taro..x.", is only valid quoted. */
	if (addr_local_kind(a->addr, at) == ADDR_LOCAL_DOT_ATOM)
		buf_add(&tok, a->addr, at);
	else
		put_quoted(&tok, a->addr, at);
	buf_adds(&tok, a->addr + at);
	if (a->name_len)
		buf_addc(&tok, '>');
	if (comma)
		buf_addc(&tok, ',');
	if (tok.oom)
		goto out;
	hdr_sep(h, tok.len);
	hdr_token(h, tok.data, tok.len);
	rc = 0;
out:
	buf_free(&tok);
	return rc;
}

int
mime_header_addresses(struct buf *out, const char *name,
    const struct mime_addr *a, size_t n)
{
	struct hdr h;
	size_t i;

	if (!name_ok(name) || a == NULL || n == 0)
		return -1;
	/* In an address list a fold may follow the colon (CFWS). */
	hdr_start(&h, out, name, 1);
	for (i = 0; i < n; i++)
		if (put_mailbox(&h, &a[i], i + 1 < n) == -1)
			return -1;
	buf_add(out, "\r\n", 2);
	return out->oom ? -1 : 0;
}

/*
 * RFC 2045 §6.7 rule (3): whitespace at the end of a line is encoded.  A
 * '.' or "From " starting a line is encoded too, so neither SMTP dot
 * handling nor an mbox ">From" rewrite touches the text.  1 when octet i
 * of the line s[0..n), at column col, is written =XX.
 */
static int
qp_escaped(const char *s, size_t n, size_t i, size_t col)
{
	unsigned char c = (unsigned char)s[i];

	if (c == '=' || c >= 0x7f || (c < ' ' && c != '\t'))
		return 1;
	if ((c == ' ' || c == '\t') && i + 1 == n)
		return 1;
	return col == 0 && (c == '.' || (c == 'F' && n - i >= 5 &&
	    memcmp(s + i, "From ", 5) == 0));
}

/*
 * RFC 2045 §6.7: one normalised line s[0..n) in quoted-printable, soft
 * breaks keeping lines at 76, then CRLF.  Written at o unless o is NULL
 * (then only measured: the choice against base64 needs the length, not
 * the text).  Returns the octets it takes.
 */
static size_t
qp_line(char *o, const char *s, size_t n)
{
	size_t i, col = 0, len = 0, tl, lim;
	unsigned char c;

	for (i = 0; i < n; i++) {
		tl = qp_escaped(s, n, i, col) ? 3 : 1;
		/* Room for a soft break '=' unless this is the last octet. */
		lim = i + 1 == n ? BODY_LINE : BODY_LINE - 1;
		if (col + tl > lim) {
			if (o)
				memcpy(o + len, "=\r\n", 3);
			len += 3;
			col = 0;
			tl = qp_escaped(s, n, i, 0) ? 3 : 1;
		}
		if (o) {
			c = (unsigned char)s[i];
			if (tl == 3) {
				o[len] = '=';
				o[len + 1] = hexchars[c >> 4];
				o[len + 2] = hexchars[c & 15];
			} else
				o[len] = (char)c;
		}
		len += tl;
		col += tl;
	}
	if (o)
		memcpy(o + len, "\r\n", 2);
	return len + 2;
}

/* The quoted-printable length of the normalised s[0..n), or max + 1 as
 * soon as it is over max (the body then goes base64 anyway). */
static size_t
qp_len(const char *s, size_t n, size_t max)
{
	size_t i, start, len = 0;

	for (i = start = 0; i < n && len <= max; i++)
		if (s[i] == '\r') {
			len += qp_line(NULL, s + start, i - start);
			start = ++i + 1;
		}
	return len <= max ? len : max + 1;
}

/* 1 when the quoted-printable of the normalised s[0..n) is longer than
 * max for certain: every octet takes one at least, one from 0x80 up
 * three (=XX).  Japanese text is decided here after a sixth of it,
 * without measuring the encoding line by line. */
static int
qp_over(const char *s, size_t n, size_t max)
{
	size_t i, len = n;

	if (len > max)
		return 1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 && (len += 2) > max)
			return 1;
	return 0;
}

/* Appends the normalised s[0..n) in quoted-printable, len octets long
 * (qp_len), into room reserved once. */
static int
qp_put(struct buf *b, const char *s, size_t n, size_t len)
{
	size_t i, start, at = 0;

	if (buf_reserve(b, len) == -1)
		return -1;
	for (i = start = 0; i < n; i++)
		if (s[i] == '\r') {
			at += qp_line(b->data + b->len + at, s + start,
			    i - start);
			start = ++i + 1;
		}
	b->len += at;
	b->data[b->len] = '\0';
	return 0;
}

/* RFC 2045 §6.8: 76 characters (57 octets) and CRLF a line, the whole
 * text into room reserved once; len is its length. */
static int
b64_lines(struct buf *b, const char *s, size_t n, size_t len)
{
	char *o;
	size_t i, k;

	if (buf_reserve(b, len) == -1)
		return -1;
	o = b->data + b->len;
	for (i = 0; i < n; i += k) {
		k = n - i < BODY_LINE / 4 * 3 ? n - i : BODY_LINE / 4 * 3;
		b64_raw(o, (const unsigned char *)s + i, k);
		o += (k + 2) / 3 * 4;
		memcpy(o, "\r\n", 2);
		o += 2;
	}
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/*
 * RFC 5322 §2.3, RFC 2045 §2.10: CR, LF and CRLF all become CRLF, and the
 * body ends in CRLF.  The runs between line breaks are found with memchr
 * (each LF searched for once, then a CR before it) and copied whole.
 */
static int
normalise(struct buf *b, const char *s, size_t n)
{
	const char *p;
	size_t i, j, lf = 0;

	if (buf_reserve(b, n + 2) == -1)
		return -1;
	for (i = 0; i < n; i = j) {
		if (i == 0 || lf < i) {
			p = memchr(s + i, '\n', n - i);
			lf = p ? (size_t)(p - s) : n;
		}
		p = memchr(s + i, '\r', lf - i);
		j = p ? (size_t)(p - s) : lf;
		buf_add(b, s + i, j - i);
		if (j == n)
			break;
		buf_add(b, "\r\n", 2);
		j += s[j] == '\r' && j + 1 < n && s[j + 1] == '\n' ? 2 : 1;
	}
	if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
		buf_add(b, "\r\n", 2);
	return b->oom ? -1 : 0;
}

/* RFC 2045 §2.7: 7bit is ASCII without NUL in lines of at most 998
 * octets; s[0..n) is normalised (every CR starts a CRLF). */
static int
is_7bit(const char *s, size_t n)
{
	size_t i, start;
	unsigned char c;

	for (i = start = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\r') {
			if (i - start > LIM_LINE_OCTETS)
				return 0;
			start = i + 2;
		} else if (c == '\0' || c >= 0x80)
			return 0;
	}
	return 1;
}

int
mime_body(struct buf *out, const char *body, size_t len, const char **cte)
{
	struct buf norm;
	size_t b64len, qplen;
	int rc = -1;

	buf_init(&norm);
	if ((body == NULL && len > 0) || normalise(&norm, body, len) == -1)
		goto out;
	if (is_7bit(norm.data, norm.len)) {
		*cte = "7bit";
		rc = buf_add(out, norm.data, norm.len);
		goto out;
	}
	b64len = (norm.len + 2) / 3 * 4;
	b64len += 2 * ((b64len + BODY_LINE - 1) / BODY_LINE);
	/* Quoted-printable when not longer than base64. */
	if (!qp_over(norm.data, norm.len, b64len) &&
	    (qplen = qp_len(norm.data, norm.len, b64len)) <= b64len) {
		*cte = "quoted-printable";
		rc = qp_put(out, norm.data, norm.len, qplen);
		goto out;
	}
	*cte = "base64";
	rc = b64_lines(out, norm.data, norm.len, b64len);
out:
	buf_free(&norm);
	return rc;
}

/* Two decimal digits of v (0..99) at p; returns the end. */
static char *
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* tm as "Sat, 28 Nov 2026 22:06:07 +0900" into d (room for 32),
 * without printf (doc/design.md "Performance"). */
static void
date_text(char *d, const struct tm *tm, int utc_offset_min)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	int off = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
	int y = tm->tm_year + 1900;

	memcpy(d, days[tm->tm_wday], 3);
	d += 3;
	*d++ = ',';
	*d++ = ' ';
	if (tm->tm_mday >= 10)
		*d++ = (char)('0' + tm->tm_mday / 10);
	*d++ = (char)('0' + tm->tm_mday % 10);
	*d++ = ' ';
	memcpy(d, months[tm->tm_mon], 3);
	d += 3;
	*d++ = ' ';
	d = put2(put2(d, y / 100), y % 100);
	*d++ = ' ';
	d = put2(d, tm->tm_hour);
	*d++ = ':';
	d = put2(d, tm->tm_min);
	*d++ = ':';
	d = put2(d, tm->tm_sec);
	*d++ = ' ';
	*d++ = utc_offset_min < 0 ? '-' : '+';
	d = put2(put2(d, off / 60), off % 60);
	*d = '\0';
}

void
mime_date(char *out, size_t outlen, time_t t, int utc_offset_min)
{
	struct tm tm;
	time_t lt;
	char d[40];
	size_t n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	/* RFC 5322 §3.3: zone is +hhmm; real offsets are within a day. */
	if (utc_offset_min <= -24 * 60 || utc_offset_min >= 24 * 60)
		return;
	if (__builtin_add_overflow(t, (time_t)utc_offset_min * 60, &lt))
		return;
	/* gmtime_r, not strftime: names must not follow the locale. */
	if (gmtime_r(&lt, &tm) == NULL || tm.tm_year < 0 ||
	    tm.tm_year > 9999 - 1900)
		return;
	date_text(d, &tm, utc_offset_min);
	if ((n = strlen(d)) < outlen)
		memcpy(out, d, n + 1);
}

/* RFC 5322 §3.6.4: id-left "@" id-right, both dot-atom-text here. */
static int
msgid_ok(const char *id)
{
	const char *at;
	size_t n;

	if (id == NULL || (n = strlen(id)) > MSGID_MAX ||
	    (at = strchr(id, '@')) == NULL)
		return 0;
	return addr_dot_atom(id, (size_t)(at - id)) &&
	    addr_dot_atom(at + 1, n - (size_t)(at - id) - 1);
}

/* RFC 5987 §3.2.1 attr-char. */
static int
attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$&+-.^_`|~", c));
}

int
mime_attachment_headers(struct buf *out, const char *ctype, const char *name)
{
	struct buf fb;
	size_t i, n = strlen(name);
	int run = 0, rc = -1;

	buf_init(&fb);
	if (utf8_has_ctl(name, n) || has_ctl(ctype, strlen(ctype)))
		goto out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x80 || c == '"' || c == '\\') {
			if (!run || c < 0x80)
				buf_addc(&fb, '_');
			run = c >= 0x80;
		} else {
			buf_addc(&fb, (char)c);
			run = 0;
		}
	}
	/* filename* first: readers that know both take the first they
	 * see (Python's email), the rest skip what they do not know */
	buf_printf(out, "Content-Type: %s; name=\"%s\"\r\n"
	    "Content-Disposition: attachment;\r\n filename*=UTF-8''", ctype,
	    fb.data ? fb.data : "");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (attr_char(c))
			buf_addc(out, (char)c);
		else
			buf_printf(out, "%%%02X", c);
	}
	buf_printf(out, ";\r\n filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", fb.data ? fb.data :
	    "");
	rc = out->oom || fb.oom ? -1 : 0;
out:
	buf_free(&fb);
	return rc;
}

/* Hands what out holds to sink and empties out; without a sink, out
 * keeps it.  0 or -1. */
static int
flush(struct buf *out, const struct mime_sink *sink)
{
	if (sink == NULL || out->len == 0)
		return 0;
	if (out->oom || sink->write(sink->arg, out->data, out->len) == -1)
		return -1;
	buf_reset(out);
	return 0;
}

/* A part's content in base64, 76 characters and CRLF per line (RFC 2045
 * §6.8), read in chunks of whole lines; with a sink, each chunk's lines
 * go to it at once.  0 or -1. */
static int
part_base64(struct buf *out, const struct mime_part *p,
    const struct mime_sink *sink)
{
	enum { LINE = 57, CHUNK = LIM_MIME_CHUNK_LINES * 57 };
	unsigned char *b = malloc(CHUNK);
	unsigned long long off = 0;
	size_t i, want;
	long r;
	int rc = -1;

	if (b == NULL)
		return -1;
	while (off < p->size) {
		want = p->size - off < CHUNK ? (size_t)(p->size - off) : CHUNK;
		if ((r = p->read(p->arg, b, want, off)) < 0 ||
		    (size_t)r != want)
			goto out;
		for (i = 0; i < want; i += LINE) {
			b64_put(out, b + i, want - i < LINE ? want - i : LINE);
			buf_adds(out, "\r\n");
		}
		off += want;
		if (flush(out, sink) == -1)
			goto out;
	}
	rc = out->oom ? -1 : 0;
out:
	free(b);
	return rc;
}

/* The multipart/mixed body: text part, then each attachment. */
static int
write_mixed(struct buf *out, const struct mime_msg *m, const char *bnd,
    const struct buf *body, const char *cte, const struct mime_sink *sink)
{
	size_t i;

	buf_printf(out, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
	    "\r\nThis is a multi-part message in MIME format.\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", bnd, bnd, cte);
	buf_add(out, body->data, body->len);
	for (i = 0; i < m->nparts; i++) {
		buf_printf(out, "--%s\r\n", bnd);
		if (mime_attachment_headers(out, m->parts[i].ctype,
		    m->parts[i].name) == -1 ||
		    part_base64(out, &m->parts[i], sink) == -1)
			return -1;
	}
	buf_printf(out, "--%s--\r\n", bnd);
	return out->oom ? -1 : 0;
}

int
mime_write(struct buf *out, const struct mime_msg *m)
{
	return mime_write_to(out, m, NULL);
}

int
mime_write_to(struct buf *out, const struct mime_msg *m,
    const struct mime_sink *sink)
{
	struct buf body;
	const char *cte = NULL;
	char date[40], bnd[72];
	int rc = -1;

	buf_init(&body);
	mime_date(date, sizeof(date), m->date, m->utc_offset_min);
	if (date[0] == '\0' || m->to == NULL || m->nto == 0 ||
	    (m->cc == NULL && m->ncc) || !msgid_ok(m->message_id) ||
	    (m->subject == NULL && m->subject_len))
		goto out;
	if (mime_body(&body, m->body, m->body_len, &cte) == -1)
		goto out;
	buf_adds(out, "Date: ");
	buf_adds(out, date);
	buf_add(out, "\r\n", 2);
	if (mime_header_addresses(out, "From", &m->from, 1) == -1 ||
	    (m->reply_to != NULL &&
	    mime_header_addresses(out, "Reply-To", m->reply_to, 1) == -1) ||
	    mime_header_addresses(out, "To", m->to, m->nto) == -1 ||
	    (m->ncc &&
	    mime_header_addresses(out, "Cc", m->cc, m->ncc) == -1) ||
	    mime_header_unstructured(out, "Subject",
	    m->subject ? m->subject : "", m->subject_len) == -1)
		goto out;
	if (m->auto_replied)
		buf_adds(out, "Auto-Submitted: auto-replied\r\n"
		    "X-Auto-Response-Suppress: All\r\n");
	buf_adds(out, "Message-ID: <");
	buf_adds(out, m->message_id);
	buf_adds(out, ">\r\nMIME-Version: 1.0\r\n");
	if (m->nparts) {
		/* "=_" never occurs in base64 or quoted-printable text */
		size_t idl = strcspn(m->message_id, "@");
		snprintf(bnd, sizeof bnd, "=_fp_%.*s", (int)(idl < 60 ? idl :
		    60), m->message_id);
		if ((rc = write_mixed(out, m, bnd, &body, cte, sink)) == 0)
			rc = flush(out, sink);
		goto out;
	}
	buf_adds(out, "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: ");
	buf_adds(out, cte);
	buf_adds(out, "\r\n\r\n");
	buf_add(out, body.data, body.len);
	rc = out->oom ? -1 : flush(out, sink);
out:
	buf_free(&body);
	return rc;
}
