/*
 * fuzz_mime — mime_write and mime_header_unstructured on arbitrary text.
 * Input: byte 0 flags (bit 0 Reply-To, bit 1 Cc, bits 2-7 offset), bytes
 * 1-2 subject length, byte 3 name length, then subject, name, body.
 * Invariants, checked here with an independent decoder: a header input is
 * refused exactly when it holds a control or invalid UTF-8; output is CRLF
 * only with no line over 998; the header count is right; encoded words are
 * at most 75 and encoded body lines at most 76; the Subject decodes back
 * to the input (RFC 2047 §6.2), so does the Reply-To display name, and the
 * body decodes back to the CRLF-normalised input.  mime_body gives the
 * bytes of the plain encoder it replaced (tests/unit/ref_mime.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "util.h"
#include "../unit/ref_mime.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

/* Independent of mime.c on purpose: valid UTF-8 without controls. */
static int
text_ok(const unsigned char *s, size_t n)
{
	size_t i, k, j;
	uint32_t c;

	for (i = 0; i < n; i += k) {
		c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			k = 1;
			continue;
		}
		k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (k == 0 || c > 0xf4 || i + k > n)
			return 0;
		c &= 0x7f >> k;
		for (j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && c < 0x80) || (k == 3 && c < 0x800) ||
		    (k == 4 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff) || c <= 0x9f ||
		    c == 0x2028 || c == 0x2029)
			return 0;
	}
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(int c)
{
	const char *t =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(t, c) : NULL;

	return p ? (int)(p - t) : -1;
}

/* Decodes base64 s[0..n) (no line breaks) onto out; 0 or -1. */
static int
b64_dec(struct buf *out, const char *s, size_t n)
{
	size_t i;
	uint32_t v;
	int j, d, pad;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				pad++;
				d = 0;
			} else if (pad || (d = b64val(s[i + j])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		buf_addc(out, (char)(v >> 16));
		if (pad < 2)
			buf_addc(out, (char)(v >> 8));
		if (pad < 1)
			buf_addc(out, (char)v);
	}
	return 0;
}

/* Decodes one encoded word, or returns -1 if w is not one. */
static int
ew_dec(struct buf *out, const char *w, size_t n)
{
	size_t i;
	int h1, h2;

	if (n < 12 || n > 75 || memcmp(w, "=?UTF-8?", 8) != 0 ||
	    w[9] != '?' || memcmp(w + n - 2, "?=", 2) != 0)
		return -1;
	if (w[8] == 'B')
		return b64_dec(out, w + 10, n - 12);
	if (w[8] != 'Q')
		return -1;
	for (i = 10; i < n - 2; i++) {
		if (w[i] == '_')
			buf_addc(out, ' ');
		else if (w[i] == '=') {
			CHECK(i + 2 < n - 2);
			h1 = hexval(w[i + 1]);
			h2 = hexval(w[i + 2]);
			CHECK(h1 >= 0 && h2 >= 0);
			buf_addc(out, (char)(h1 << 4 | h2));
			i += 2;
		} else {
			CHECK(w[i] > ' ' && w[i] < 0x7f && w[i] != '?');
			buf_addc(out, w[i]);
		}
	}
	return 0;
}

/* Unfolds and decodes an unstructured header line "Name: value\r\n". */
static void
check_unstructured(const char *h, size_t n, const char *want, size_t wlen)
{
	struct buf u, d, t;
	size_t i, ws, wb;
	int prev_ew = 0;

	buf_init(&u);
	buf_init(&d);
	buf_init(&t);
	CHECK(n >= 2 && memcmp(h + n - 2, "\r\n", 2) == 0);
	for (i = 0; i < n - 2; i++) {
		if (h[i] == '\r') {
			CHECK(h[i + 1] == '\n' && h[i + 2] == ' ');
			i++;
			continue;
		}
		buf_addc(&u, h[i]);
	}
	CHECK(!u.oom);
	i = strchr(u.data, ':') - u.data + 1;
	if (i < u.len) {
		CHECK(u.data[i] == ' ');
		i++;
	}
	while (i < u.len) {
		ws = i;
		while (i < u.len && u.data[i] == ' ')
			i++;
		wb = i;
		while (i < u.len && u.data[i] != ' ')
			i++;
		if (wb == i) {
			buf_add(&d, u.data + ws, wb - ws);
			break;
		}
		buf_reset(&t);
		if (ew_dec(&t, u.data + wb, i - wb) == 0) {
			/* RFC 2047 §6.2: space between two words is dropped. */
			if (!prev_ew)
				buf_add(&d, u.data + ws, wb - ws);
			buf_add(&d, t.data, t.len);
			prev_ew = 1;
		} else {
			buf_add(&d, u.data + ws, i - ws);
			prev_ew = 0;
		}
	}
	CHECK(!d.oom);
	CHECK(d.len == wlen && (wlen == 0 || memcmp(d.data, want, wlen) == 0));
	buf_free(&u);
	buf_free(&d);
	buf_free(&t);
}

/* Unfolds "Reply-To: phrase <addr>\r\n" and decodes the phrase: a
 * quoted-string, encoded words (space between them dropped, RFC 2047
 * §6.2) or atoms as written. */
static void
check_phrase(const char *h, const char *want, size_t wlen)
{
	struct buf u, d;
	const char *e, *lt;
	size_t i, wb;

	buf_init(&u);
	buf_init(&d);
	e = strstr(h, "\r\n");
	while (e != NULL && e[2] == ' ') {
		buf_add(&u, h, (size_t)(e - h));
		h = e + 2;
		e = strstr(h, "\r\n");
	}
	CHECK(e != NULL);
	buf_add(&u, h, (size_t)(e - h));
	CHECK(!u.oom && strncmp(u.data, "Reply-To: ", 10) == 0);
	lt = strrchr(u.data, '<');
	if (wlen == 0) {
		CHECK(lt == NULL);
		goto out;
	}
	CHECK(lt != NULL && lt > u.data + 11 && lt[-1] == ' ');
	u.len = (size_t)(lt - u.data) - 1;
	if (u.data[10] == '"') {
		CHECK(u.data[u.len - 1] == '"');
		for (i = 11; i < u.len - 1; i++) {
			if (u.data[i] == '\\')
				i++;
			else
				CHECK(u.data[i] != '"');
			buf_addc(&d, u.data[i]);
		}
	} else if (strncmp(u.data + 10, "=?", 2) == 0) {
		for (i = 10; i < u.len; i++) {
			wb = i;
			while (i < u.len && u.data[i] != ' ')
				i++;
			CHECK(ew_dec(&d, u.data + wb, i - wb) == 0);
		}
	} else
		buf_add(&d, u.data + 10, u.len - 10);
	CHECK(!d.oom && d.len == wlen && memcmp(d.data, want, wlen) == 0);
out:
	buf_free(&u);
	buf_free(&d);
}

/* Checks the whole message; returns the offset of the body. */
static size_t
check_lines(const char *s, size_t n, size_t nheaders, int msg)
{
	size_t i, start, heads = 0, body = 0;

	for (i = start = 0; i < n; i++) {
		if (s[i] == '\n')
			CHECK(i > 0 && s[i - 1] == '\r');
		if (s[i] != '\r')
			continue;
		CHECK(i + 1 < n && s[i + 1] == '\n');
		CHECK(i - start <= 998);
		if (!body) {
			if (i == start)
				body = i + 2;
			else if (s[start] != ' ' && s[start] != '\t')
				heads++;
			else
				CHECK(i - start > 1);
			for (size_t j = start; j < i; j++)
				CHECK((unsigned char)s[j] < 0x80 && s[j] >= ' ');
		}
		start = i + 2;
		i++;
	}
	CHECK(start == n && (body > 0) == msg);
	CHECK(heads == nheaders);
	return body;
}

static void
check_body(const char *s, size_t n, const char *cte, const char *in,
    size_t inlen)
{
	struct buf want, got;
	size_t i, start;
	int h1, h2;

	buf_init(&want);
	buf_init(&got);
	for (i = 0; i < inlen; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < inlen && in[i + 1] == '\n')
				i++;
			buf_add(&want, "\r\n", 2);
		} else
			buf_addc(&want, in[i]);
	}
	if (want.len < 2 || memcmp(want.data + want.len - 2, "\r\n", 2))
		buf_add(&want, "\r\n", 2);
	if (strcmp(cte, "7bit") == 0)
		buf_add(&got, s, n);
	else if (strcmp(cte, "base64") == 0) {
		for (i = start = 0; i < n; i++)
			if (s[i] == '\r') {
				CHECK(i - start <= 76);
				CHECK(b64_dec(&got, s + start, i - start) == 0);
				start = ++i + 1;
			}
	} else {
		CHECK(strcmp(cte, "quoted-printable") == 0);
		for (i = start = 0; i < n; i++) {
			if (s[i] == '\r') {
				CHECK(i - start <= 76);
				CHECK(i == start || (s[i - 1] != ' ' &&
				    s[i - 1] != '\t'));
				CHECK(s[start] != '.');
				CHECK(i - start < 5 ||
				    memcmp(s + start, "From ", 5) != 0);
				if (i > start && s[i - 1] == '=')
					got.len--;	/* soft break */
				else
					buf_add(&got, "\r\n", 2);
				start = ++i + 1;
			} else if (s[i] == '=' && i + 2 < n &&
			    s[i + 1] != '\r') {
				h1 = hexval(s[i + 1]);
				h2 = hexval(s[i + 2]);
				CHECK(h1 >= 0 && h2 >= 0);
				buf_addc(&got, (char)(h1 << 4 | h2));
				i += 2;
			} else {
				CHECK(s[i] == '=' || s[i] == '\t' ||
				    (s[i] >= ' ' && s[i] < 0x7f));
				buf_addc(&got, s[i]);
			}
		}
	}
	CHECK(!want.oom && !got.oom);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
	buf_free(&want);
	buf_free(&got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_addr to[2] = {
		{ NULL, 0, "info@example.jp" },
		{ "Sales, Tokyo", 12, "taro..x.@docomo.ne.jp" },
	};
	struct mime_addr reply;
	struct mime_msg m;
	struct buf out, one;
	const char *subj, *name, *body, *cte, *p;
	size_t slen, nlen, blen, hdrs, boff;
	int flags, ok, rc;

	if (size < 4)
		return 0;
	flags = data[0];
	slen = (size_t)data[1] | (size_t)data[2] << 8;
	nlen = data[3];
	data += 4;
	size -= 4;
	if (slen > size)
		slen = size;
	if (nlen > size - slen)
		nlen = size - slen;
	subj = (const char *)data;
	name = subj + slen;
	body = name + nlen;
	blen = size - slen - nlen;

	buf_init(&out);
	buf_init(&one);
	memset(&m, 0, sizeof(m));
	m.from.name = name;
	m.from.name_len = nlen;
	m.from.addr = "form@example.jp";
	reply.name = name;
	reply.name_len = nlen;
	reply.addr = "visitor@example.com";
	m.reply_to = flags & 1 ? &reply : NULL;
	m.to = to;
	m.nto = 1;
	m.cc = to;
	m.ncc = flags & 2 ? 2 : 0;
	m.subject = subj;
	m.subject_len = slen;
	m.date = 1790000000;
	m.utc_offset_min = ((flags >> 2) - 32) * 30;
	m.message_id = "abc.123@example.jp";
	m.body = body;
	m.body_len = blen;

	ok = text_ok((const unsigned char *)subj, slen) &&
	    text_ok((const unsigned char *)name, nlen);
	rc = mime_write(&out, &m);
	CHECK(rc == (ok ? 0 : -1));
	if (rc == 0) {
		hdrs = 8 + (m.reply_to != NULL) + (m.ncc > 0);
		boff = check_lines(out.data, out.len, hdrs, 1);
		p = strstr(out.data, "\r\nContent-Transfer-Encoding: ");
		CHECK(p != NULL);
		p += 29;
		cte = strncmp(p, "7bit", 4) == 0 ? "7bit" :
		    strncmp(p, "base64", 6) == 0 ? "base64" : "quoted-printable";
		check_body(out.data + boff, out.len - boff, cte, body, blen);
		p = strstr(out.data, "\r\nSubject:") + 2;
		{
			const char *e = p;
			while ((e = strstr(e, "\r\n")) != NULL && e[2] == ' ')
				e += 2;
			check_unstructured(p, (size_t)(e - p) + 2, subj, slen);
		}
		if (m.reply_to != NULL)
			check_phrase(strstr(out.data, "\r\nReply-To:") + 2,
			    name, nlen);
	}
	rc = mime_header_unstructured(&one, "Subject", subj, slen);
	CHECK(rc == (text_ok((const unsigned char *)subj, slen) ? 0 : -1));
	if (rc == 0) {
		check_lines(one.data, one.len, 1, 0);
		check_unstructured(one.data, one.len, subj, slen);
	}
	/* The body encoder and the date give the bytes of the plain ones
	 * they replaced (ref_mime.h), whatever the input (the header parts
	 * as bodies too; a date from the first bytes). */
	if (size >= 10) {
		char d1[40], d2[40];
		int64_t t;
		int off = (int16_t)(data[8] | data[9] << 8);
		memcpy(&t, data, sizeof t);
		t %= 400000000000LL;
		mime_date(d1, sizeof d1, (time_t)t, off);
		ref_mime_date(d2, sizeof d2, (time_t)t, off);
		CHECK(strcmp(d1, d2) == 0);
	}
	{
		const char *c1 = NULL, *c2 = NULL;
		buf_reset(&out);
		buf_reset(&one);
		CHECK(mime_body(&out, (const char *)data, size, &c1) == 0);
		CHECK(ref_mime_body(&one, (const char *)data, size, &c2) == 0);
		CHECK(strcmp(c1, c2) == 0 && out.len == one.len &&
		    memcmp(out.data, one.data, out.len) == 0);
	}
	buf_free(&out);
	buf_free(&one);
	return 0;
}
