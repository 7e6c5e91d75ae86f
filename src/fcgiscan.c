/*
 * fcgiscan — see fcgiscan.h.  A pair's lengths are one byte (high bit
 * clear) or four (high bit set, 31 bits of length), name length first
 * (FastCGI 1.0 §3.4).  The sum of all declared lengths is checked before
 * it is added, against a cap far below any overflow.
 */
#include "fcgiscan.h"

#include <string.h>

#include "limits.h"

#define REC_HEADER 8
#define REC_BEGIN  1
#define REC_ABORT  2
#define REC_PARAMS 4
#define REC_STDIN  5

/* Bytes of the length field that starts with byte c. */
static unsigned
len_size(unsigned char c)
{
	return c & 0x80 ? 4 : 1;
}

static uint32_t
len_value(const unsigned char *p)
{
	if (!(p[0] & 0x80))
		return p[0];
	return (uint32_t)(p[0] & 0x7f) << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* One PARAMS record's content; -1 when the set is malformed or too big. */
static int
pairs(struct fcgi_scan *s, const unsigned char *c, size_t n)
{
	size_t i = 0, take;
	uint32_t name, value;
	unsigned need;

	while (i < n) {
		if (s->skip) {
			take = n - i < s->skip ? n - i : s->skip;
			s->skip -= (uint32_t)take;
			i += take;
			continue;
		}
		/* The name's length, then the value's: 2 to 8 bytes. */
		s->len[s->nlen++] = c[i++];
		need = len_size(s->len[0]);
		if (s->nlen <= need || s->nlen < need + len_size(s->len[need]))
			continue;
		name = len_value(s->len);
		value = len_value(s->len + need);
		s->nlen = 0;
		if (s->nparams >= LIM_FCGI_PARAMS ||
		    name > LIM_FCGI_PARAMS_BYTES - s->bytes ||
		    value > LIM_FCGI_PARAMS_BYTES - s->bytes - name)
			return -1;
		s->nparams++;
		s->bytes += name + value;
		s->skip = name + value;
	}
	return 0;
}

/* One record of the head, whose content is all in c[0..clen). */
static enum fcgi_scan_rc
head_record(struct fcgi_scan *s, const unsigned char *r, size_t clen)
{
	const unsigned char *c = r + REC_HEADER;

	if (++s->records > LIM_FCGI_HEAD_RECORDS)
		return FCGI_SCAN_PARAMS;
	if (r[1] == REC_PARAMS) {
		if (clen > 0)
			return pairs(s, c, clen) == 0 ? FCGI_SCAN_MORE :
			    FCGI_SCAN_PARAMS;
		/* The end of the stream cuts no pair in two. */
		if (s->skip || s->nlen)
			return FCGI_SCAN_PARAMS;
		s->params_done = 1;
		return FCGI_SCAN_HEAD;
	}
	return r[1] == REC_ABORT ? FCGI_SCAN_MORE : FCGI_SCAN_FRAMING;
}

enum fcgi_scan_rc
fcgi_scan(struct fcgi_scan *s, const unsigned char *b, size_t n)
{
	enum fcgi_scan_rc rc;

	while (!s->ready && n >= REC_HEADER && s->pos <= n - REC_HEADER) {
		const unsigned char *r = b + s->pos;
		size_t clen = (size_t)r[4] << 8 | r[5];
		uint16_t id = (uint16_t)(r[2] << 8 | r[3]);

		if (r[0] != 1 || id == 0)
			return FCGI_SCAN_FRAMING;
		if (s->id == 0) {
			if (r[1] != REC_BEGIN || clen != 8)
				return FCGI_SCAN_FRAMING;
			s->id = id;
			s->records++;
		} else if (id != s->id)
			return FCGI_SCAN_FRAMING;
		else if (!s->params_done) {
			if (clen > n - s->pos - REC_HEADER) {
				s->want = s->pos + REC_HEADER + clen;
				return FCGI_SCAN_MORE;   /* content not all in */
			}
			if ((rc = head_record(s, r, clen)) == FCGI_SCAN_FRAMING
			    || rc == FCGI_SCAN_PARAMS)
				return rc;
			if (s->params_done)
				s->head_len = s->pos + REC_HEADER + r[6];
		} else if (r[1] == REC_STDIN && clen == 0)
			s->ready = 1;
		else if (r[1] != REC_STDIN && r[1] != REC_ABORT)
			return FCGI_SCAN_FRAMING;
		s->pos += REC_HEADER + clen + r[6];
	}
	s->want = s->pos + REC_HEADER;
	return s->ready ? FCGI_SCAN_READY : s->params_done ? FCGI_SCAN_HEAD :
	    FCGI_SCAN_MORE;
}

/* A pair's length at *i in s[0..n); -1 past the end. */
static long
pair_len(const unsigned char *s, size_t n, size_t *i)
{
	long v;

	if (*i >= n)
		return -1;
	if (!(s[*i] & 0x80))
		return s[(*i)++];
	if (n - *i < 4)
		return -1;
	v = (long)len_value(s + *i);
	*i += 4;
	return v;
}

/* The values of names[] in the name-value stream s[0..n), copied after
 * out (at most n + nnames bytes); -1 on a pair that does not fit. */
static int
pick_pairs(const unsigned char *s, size_t n, const char *const *names,
    const size_t *lens, size_t nnames, char *out, const char **vals)
{
	size_t i = 0, used = 0, k;
	long nl, vl;

	while (i < n) {
		if ((nl = pair_len(s, n, &i)) == -1 ||
		    (vl = pair_len(s, n, &i)) == -1 ||
		    (size_t)nl > n - i || (size_t)vl > n - i - (size_t)nl)
			return -1;
		for (k = 0; k < nnames; k++)
			if (vals[k] == NULL && lens[k] == (size_t)nl &&
			    memcmp(names[k], s + i, (size_t)nl) == 0) {
				memcpy(out + used, s + i + nl, (size_t)vl);
				out[used + (size_t)vl] = '\0';
				vals[k] = out + used;
				used += (size_t)vl + 1;
				break;
			}
		i += (size_t)nl + (size_t)vl;
	}
	return 0;
}

int
fcgi_pick(const unsigned char *h, size_t len, const char *const *names,
    size_t nnames, char *work, const char **vals)
{
	size_t pos = 0, clen, plen = 0, lens[FCGI_PICK_MAX], k;
	unsigned char *ps = (unsigned char *)work + len + 2 * nnames;
	int role = -2;

	if (nnames > FCGI_PICK_MAX)
		return -2;
	for (k = 0; k < nnames; k++)
		lens[k] = strlen(names[k]);
	memset(vals, 0, nnames * sizeof *vals);
	/* The PARAMS contents joined (a pair may straddle records) go in
	 * the upper part of work; the values (at most plen + nnames bytes)
	 * are copied to the lower one. */
	while (pos + REC_HEADER <= len) {
		clen = (size_t)h[pos + 4] << 8 | h[pos + 5];
		if (clen > len - pos - REC_HEADER)
			return -2;
		if (h[pos + 1] == REC_BEGIN && clen == 8)
			role = h[pos + 8] << 8 | h[pos + 9];
		else if (h[pos + 1] == REC_PARAMS) {
			memcpy(ps + plen, h + pos + REC_HEADER, clen);
			plen += clen;
		} else if (h[pos + 1] == REC_ABORT)
			return -1;
		else
			return -2;
		pos += REC_HEADER + clen + h[pos + 6];
	}
	if (role < 0 || pick_pairs(ps, plen, names, lens, nnames, work, vals)
	    == -1)
		return -2;
	return role;
}
