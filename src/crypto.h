/*
 * crypto — random ids and digests.  The only module that includes OpenSSL
 * headers.  Thread-safe.
 */
#ifndef FORMPOST_CRYPTO_H
#define FORMPOST_CRYPTO_H

#include <stddef.h>

#define ID_BYTES 15                   /* 120 random bits */
#define ID_LEN   20                   /* base64url of ID_BYTES, no padding */
#define SHA256_LEN 32

/* Writes a fresh random id (ID_LEN URL-safe characters + NUL) into out.
 * Returns 0, or -1 when the random generator fails (answer 503). */
int crypto_id(char out[ID_LEN + 1]);

/* base64url of in[0..n), n a multiple of 3 (so no padding), into out
 * (room for 4n/3 + 1); NUL-terminated.  Pure. */
void crypto_b64url(const unsigned char *in, size_t n, char *out);

/* SHA-256 of data[0..n) into out.  Returns 0 or -1. */
int crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

/* Lowercase hex of in[0..n) into out (room for 2n + 1). */
void crypto_hex(const unsigned char *in, size_t n, char *out);

/* 1 when s is ID_LEN base64url characters (a valid id: safe as a file
 * name and in a Message-ID). */
int crypto_id_valid(const char *s);

/* n random bytes into out (RAND_bytes).  Returns 0, or -1 when the
 * generator fails (answer 503). */
int crypto_random(void *out, size_t n);

/* HMAC-SHA256(key, data) into out, through an EVP_MAC fetched once per
 * process (OpenSSL 3.0 fetches take global locks).  Returns 0 or -1. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t n, unsigned char out[SHA256_LEN]);

/* 1 when a[0..n) equals b[0..n), in time independent of the contents
 * (CRYPTO_memcmp), else 0. */
int crypto_equal(const void *a, const void *b, size_t n);

/* Zeroes a secret so the compiler cannot drop the stores. */
void crypto_cleanse(void *p, size_t n);

#endif
