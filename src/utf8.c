/*
 * utf8 — strict UTF-8 per RFC 3629 §4 (the well-formed byte sequences
 * table).  Every decision is made from that table: the second byte's
 * range depends on the first so that overlongs (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF
 * (F4 90..BF, F5..FF) are refused without decoding first.  Must never
 * read past n, allocate, or accept what RFC 3629 forbids: the form
 * parsers rely on it to turn Shift_JIS and other legacy bytes into a 400.
 */
#include "utf8.h"

size_t
utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	/* RFC 3629 §4: the lead byte fixes the length and narrows byte 2. */
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* surrogates U+D800..DFFF */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;	/* 80..C1 (stray or overlong), F5..FF */
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*cp = c;
	return len;
}

int
utf8_valid(const char *s, size_t n)
{
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i += k) {
		/* ASCII fast path: form bodies are mostly ASCII. */
		if ((unsigned char)s[i] < 0x80) {
			k = 1;
			continue;
		}
		/* Three bytes from E1..EC or EE..EF (most of Japanese):
		 * any two continuation bytes (RFC 3629 §4). */
		if (n - i >= 3 && (unsigned char)s[i] >= 0xe1 &&
		    (unsigned char)s[i] <= 0xef && (unsigned char)s[i] != 0xed &&
		    ((unsigned char)s[i + 1] & 0xc0) == 0x80 &&
		    ((unsigned char)s[i + 2] & 0xc0) == 0x80) {
			k = 3;
			continue;
		}
		if ((k = utf8_decode(s + i, n - i, &cp)) == 0)
			return 0;
	}
	return 1;
}

size_t
utf8_count(const char *s, size_t n)
{
	size_t i, count = 0;

	/* Valid input: every byte but a continuation byte starts a code point. */
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

size_t
utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;	/* surrogates are not scalar values */
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp <= 0x10ffff) {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		return 4;
	}
	return 0;
}

int
utf8_is_ctl(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029;
}

int
utf8_has_ctl(const char *s, size_t n)
{
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i += k)
		if ((k = utf8_decode(s + i, n - i, &cp)) == 0 ||
		    utf8_is_ctl(cp))
			return 1;
	return 0;
}
