/*
 * id — Crockford base32 ids (https://www.crockford.com/base32.html) and
 * the 0.1.0 format still found in old spools.  See id.h.
 */
#include "id.h"

#include <stdint.h>
#include <string.h>

#include "crypto.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of a typed symbol, or -1: any case, I/L → 1, O → 0. */
static int
symbol(char c)
{
	const char *p;

	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		c = '1';
	else if (c == 'O')
		c = '0';
	if (c == '\0' || (p = strchr(alphabet, c)) == NULL)
		return -1;
	return (int)(p - alphabet);
}

/* Symbols v[0..ID_SYMBOLS) as XXXX-XXXX-XXXX. */
static void
write_canonical(const unsigned char v[ID_SYMBOLS], char out[ID_BUF])
{
	size_t i, o = 0;

	for (i = 0; i < ID_SYMBOLS; i++) {
		if (i == 4 || i == 8)
			out[o++] = '-';
		out[o++] = alphabet[v[i] & 31];
	}
	out[o] = '\0';
}

/* Random bytes for ids, drawn from the generator 32 ids at a time per
 * thread: one RAND_bytes call cost as much as the rest of a rejected
 * request (doc/design.md "Performance").  Ids are not secrets (every
 * answer shows its id), only unique. */
#define ID_POOL 256
static __thread unsigned char pool[ID_POOL];
static __thread size_t pool_left;

static int
pool_take(unsigned char *out, size_t n)
{
	if (pool_left < n) {
		if (crypto_random(pool, sizeof pool) == -1)
			return -1;
		pool_left = sizeof pool;
	}
	pool_left -= n;
	memcpy(out, pool + pool_left, n);
	memset(pool + pool_left, 0, n);
	return 0;
}

int
id_new(char out[ID_BUF])
{
	unsigned char r[8], v[ID_SYMBOLS];
	uint64_t bits = 0;
	size_t i;

	if (pool_take(r, sizeof r) == -1)
		return -1;
	for (i = 0; i < sizeof r; i++)
		bits = bits << 8 | r[i];
	for (i = 0; i < ID_SYMBOLS; i++)          /* 12 × 5 = 60 bits */
		v[i] = (unsigned char)(bits >> (5 * (ID_SYMBOLS - 1 - i)) & 31);
	write_canonical(v, out);
	return 0;
}

int
id_parse(const char *s, char out[ID_BUF])
{
	unsigned char v[ID_SYMBOLS];
	size_t i, n = 0;
	int k;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ID_INPUT_MAX)
			return -1;
		if (s[i] == '-')
			continue;
		if ((k = symbol(s[i])) == -1 || n == ID_SYMBOLS)
			return -1;
		v[n++] = (unsigned char)k;
	}
	if (n != ID_SYMBOLS)
		return -1;
	write_canonical(v, out);
	return 0;
}

/* Whether c is in alphabet (0-9, A-Z but I, L, O, U) without a strchr
 * per character: every claim and scan checks ids (doc/design.md
 * "Performance"). */
static int
in_alphabet(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' &&
	    c != 'L' && c != 'O' && c != 'U');
}

int
id_canonical(const char *s)
{
	size_t i;

	for (i = 0; i < ID_LEN; i++) {
		if (i == 4 || i == 9) {
			if (s[i] != '-')
				return 0;
		} else if (!in_alphabet(s[i]))
			return 0;
	}
	return s[ID_LEN] == '\0';
}

/* 0.1.0's ids: ID_OLD_LEN base64url characters. */
static int
id_old(const char *s)
{
	size_t i;

	for (i = 0; i < ID_OLD_LEN; i++)
		if (s[i] == '\0' || strchr(b64url, s[i]) == NULL)
			return 0;
	return s[ID_OLD_LEN] == '\0';
}

int
id_spool_valid(const char *s)
{
	return id_canonical(s) || id_old(s);
}

int
id_from_user(const char *s, char out[ID_BUF])
{
	if (id_old(s)) {
		memcpy(out, s, ID_OLD_LEN + 1);
		return 0;
	}
	return id_parse(s, out);
}

void
id_copy(char dst[ID_BUF], const char *src)
{
	if (id_spool_valid(src))
		memcpy(dst, src, strlen(src) + 1);
	else
		dst[0] = '\0';
}
