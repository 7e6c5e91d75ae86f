/*
 * ref_mime — the body encoder as it was written first (byte by byte, the
 * whole quoted-printable text built to compare its length with base64),
 * kept as the plain reference that tests/unit/test_mime.c and
 * tests/fuzz/fuzz_mime.c compare mime_body against (doc/design.md
 * "Performance", valid posts).  Not linked into formpost.
 */
#ifndef FORMPOST_REF_MIME_H
#define FORMPOST_REF_MIME_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#include "util.h"

static void
ref_b64_put(struct buf *b, const unsigned char *s, size_t n)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	uint32_t v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = t[v >> 18 & 63];
		q[1] = t[v >> 12 & 63];
		q[2] = i + 1 < n ? t[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? t[v & 63] : '=';
		buf_add(b, q, 4);
	}
}

static void
ref_qp_line(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];
	size_t i, col, tl, lim;
	unsigned char c;

	col = 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
again:
		if (c == '=' || c >= 0x7f || (c < ' ' && c != '\t') ||
		    ((c == ' ' || c == '\t') && i + 1 == n) ||
		    (col == 0 && c == '.') ||
		    (col == 0 && c == 'F' && n - i >= 5 &&
		    memcmp(s + i, "From ", 5) == 0))
			tl = 3;
		else
			tl = 1;
		lim = i + 1 == n ? 76 : 75;
		if (col + tl > lim) {
			buf_add(b, "=\r\n", 3);
			col = 0;
			goto again;
		}
		if (tl == 3) {
			e[0] = '=';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			buf_add(b, e, 3);
		} else
			buf_addc(b, (char)c);
		col += tl;
	}
	buf_add(b, "\r\n", 2);
}

static int
ref_mime_body(struct buf *out, const char *body, size_t len,
    const char **cte)
{
	struct buf norm, qp;
	size_t i, start, b64len, nlines;
	int sevenbit, rc = -1;

	buf_init(&norm);
	buf_init(&qp);
	if (body == NULL && len > 0)
		goto out;
	for (i = 0; i < len; i++) {
		if (body[i] == '\r') {
			if (i + 1 < len && body[i + 1] == '\n')
				i++;
			buf_add(&norm, "\r\n", 2);
		} else if (body[i] == '\n')
			buf_add(&norm, "\r\n", 2);
		else
			buf_addc(&norm, body[i]);
	}
	if (norm.len < 2 || memcmp(norm.data + norm.len - 2, "\r\n", 2) != 0)
		buf_add(&norm, "\r\n", 2);
	if (norm.oom)
		goto out;
	sevenbit = 1;
	for (i = start = 0; i < norm.len; i++) {
		unsigned char c = (unsigned char)norm.data[i];
		if (c == '\r') {
			if (i - start > LIM_LINE_OCTETS)
				sevenbit = 0;
			start = i + 2;
		} else if (c == '\0' || c >= 0x80)
			sevenbit = 0;
	}
	if (sevenbit) {
		*cte = "7bit";
		rc = buf_add(out, norm.data, norm.len);
		goto out;
	}
	for (i = start = 0; i < norm.len; i++)
		if (norm.data[i] == '\r') {
			ref_qp_line(&qp, norm.data + start, i - start);
			start = ++i + 1;
		}
	if (qp.oom)
		goto out;
	b64len = (norm.len + 2) / 3 * 4;
	nlines = (b64len + 75) / 76;
	b64len += 2 * nlines;
	if (qp.len <= b64len) {
		*cte = "quoted-printable";
		rc = buf_add(out, qp.data, qp.len);
		goto out;
	}
	*cte = "base64";
	for (i = 0; i < norm.len; i += 57) {
		size_t k = norm.len - i < 57 ? norm.len - i : 57;
		ref_b64_put(out, (const unsigned char *)norm.data + i, k);
		buf_add(out, "\r\n", 2);
	}
	rc = out->oom ? -1 : 0;
out:
	buf_free(&qp);
	buf_free(&norm);
	return rc;
}

/* mime_date as it was first written, with snprintf. */
static void
ref_mime_date(char *out, size_t outlen, time_t t, int utc_offset_min)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;
	time_t lt;
	int off, n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (utc_offset_min <= -24 * 60 || utc_offset_min >= 24 * 60)
		return;
	if (__builtin_add_overflow(t, (time_t)utc_offset_min * 60, &lt))
		return;
	if (gmtime_r(&lt, &tm) == NULL || tm.tm_year < 0 ||
	    tm.tm_year > 9999 - 1900)
		return;
	off = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
	n = snprintf(out, outlen, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    utc_offset_min < 0 ? '-' : '+', off / 60, off % 60);
	if (n < 0 || (size_t)n >= outlen)
		out[0] = '\0';
}

#endif
