/* crypto — OpenSSL 3 behind a small interface (APIS §4). */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
crypto_id(char out[ID_LEN + 1])
{
	unsigned char r[ID_BYTES];
	size_t i, o = 0;

	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	/* 15 bytes = 5 groups of 3 → exactly 20 characters, no padding. */
	for (i = 0; i < sizeof r; i += 3) {
		unsigned v = (unsigned)r[i] << 16 | (unsigned)r[i + 1] << 8 |
		    r[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return 0;
}

int
crypto_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < ID_LEN; i++)
		if (s[i] == '\0' || strchr(b64url, s[i]) == NULL)
			return 0;
	return s[ID_LEN] == '\0';
}

int
crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != SHA256_LEN)
		return -1;
	return 0;
}

void
crypto_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}
