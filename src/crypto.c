/* crypto — OpenSSL 3 behind a small interface. */
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
crypto_id(char out[ID_LEN + 1])
{
	unsigned char r[ID_BYTES];

	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	/* 15 bytes = 5 groups of 3 → exactly 20 characters, no padding. */
	crypto_b64url(r, sizeof r, out);
	return 0;
}

void
crypto_b64url(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
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

int
crypto_random(void *out, size_t n)
{
	if (n > 0x7fffffff)
		return -1;
	return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

static EVP_MAC *hmac;                  /* fetched once, kept for life */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_fetch(void)
{
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t n, unsigned char out[SHA256_LEN])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	size_t outl = 0;
	int rc = -1;

	if (pthread_once(&hmac_once, hmac_fetch) != 0 || hmac == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(hmac)) != NULL &&
	    EVP_MAC_init(ctx, key, keylen, params) == 1 &&
	    EVP_MAC_update(ctx, data, n) == 1 &&
	    EVP_MAC_final(ctx, out, &outl, SHA256_LEN) == 1 &&
	    outl == SHA256_LEN)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	return rc;
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_cleanse(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
