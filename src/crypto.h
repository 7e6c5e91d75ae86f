/*
 * crypto — randomness, digests, HMAC and keys.  The only module that
 * includes OpenSSL headers.  Thread-safe.
 */
#ifndef FORMPOST_CRYPTO_H
#define FORMPOST_CRYPTO_H

#include <stddef.h>

#define SHA256_LEN 32

/* base64url of in[0..n), n a multiple of 3 (so no padding), into out
 * (room for 4n/3 + 1); NUL-terminated.  Pure. */
void crypto_b64url(const unsigned char *in, size_t n, char *out);

/* The inverse: in[0..n), n a multiple of 4 (no padding), into out (room
 * for 3n/4).  0, or -1 at the first byte outside the base64url alphabet
 * (RFC 4648 §5; out is then partly written).  Pure. */
int crypto_b64url_decode(const char *in, size_t n, unsigned char *out);

/* The digests below use a SHA-256 fetched once per process and one spare
 * context per thread, freed when the thread exits (doc/design.md,
 * "Performance"); their output is OpenSSL's EVP_Digest's, byte for byte. */

/* SHA-256 of data[0..n) into out.  Returns 0 or -1. */
int crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

/* SHA-256 of what read returns (n bytes at off; short only at the end)
 * over size bytes, in chunks of at most 64 KiB.  0 or -1. */
int crypto_sha256_read(long (*read)(void *arg, void *buf, size_t n,
    unsigned long long off), void *arg, unsigned long long size,
    unsigned char out[SHA256_LEN]);

/* SHA-256 in pieces, for bytes that are never in memory at once (a
 * spool file written from another file, a streamed body): begin (NULL on
 * OOM), add any number of times, then end, which writes the digest and
 * frees the state.  end returns -1 when begin or an add failed (a NULL
 * state is fine everywhere). */
struct crypto_sha256;
struct crypto_sha256 *crypto_sha256_begin(void);
void crypto_sha256_add(struct crypto_sha256 *h, const void *p, size_t n);
int crypto_sha256_end(struct crypto_sha256 *h, unsigned char out[SHA256_LEN]);

/* Lowercase hex of in[0..n) into out (room for 2n + 1). */
void crypto_hex(const unsigned char *in, size_t n, char *out);

/* n random bytes into out (RAND_bytes).  Returns 0, or -1 when the
 * generator fails (answer 503). */
int crypto_random(void *out, size_t n);

/* HMAC-SHA256(key, data) into out, through an EVP_MAC fetched once per
 * process (OpenSSL 3.0 fetches take global locks).  Each thread keeps
 * contexts keyed for its last few keys of up to 64 bytes (so their copies
 * stay in memory until the thread exits, then are cleansed).  Returns 0
 * or -1. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t n, unsigned char out[SHA256_LEN]);

/* 1 when a[0..n) equals b[0..n), in time independent of the contents
 * (CRYPTO_memcmp), else 0. */
int crypto_equal(const void *a, const void *b, size_t n);

/* Zeroes a secret so the compiler cannot drop the stores. */
void crypto_cleanse(void *p, size_t n);

/* A private signing key (DKIM).  Immutable once loaded, so one key may
 * sign from many threads at once. */
struct crypto_key;
enum crypto_key_type { CRYPTO_KEY_RSA, CRYPTO_KEY_ED25519 };

/* Loads a PEM private key from path as the calling user.  Refuses, with a
 * message naming the file but never its content: a file that cannot be
 * read, is readable or writable by others, is larger than LIM_KEY_BYTES,
 * is not an unencrypted PEM private key, is neither RSA nor Ed25519, or an
 * RSA key outside LIM_DKIM_RSA_MIN_BITS..LIM_DKIM_RSA_MAX_BITS.  Returns
 * the key (free with crypto_key_free) or NULL.  The file's bytes are
 * cleansed before return. */
struct crypto_key *crypto_key_load(const char *path, char *err,
    size_t errlen);
void crypto_key_free(struct crypto_key *k);
enum crypto_key_type crypto_key_type(const struct crypto_key *k);

/* Signs data[0..n): RSA keys RSASSA-PKCS1-v1_5 with SHA-256 over data;
 * Ed25519 keys pure Ed25519 over SHA-256(data) (RFC 8463 §3).  *sig is
 * allocated (caller frees) and *siglen set only on success.  Returns 0
 * or -1.  Thread-safe. */
int crypto_key_sign(const struct crypto_key *k, const void *data, size_t n,
    unsigned char **sig, size_t *siglen);

/* The public half as a DKIM record's p= carries it (RFC 6376 §3.6.1, RFC
 * 8463 §4): RSA as DER SubjectPublicKeyInfo, Ed25519 as the raw 32 bytes.
 * *out allocated (caller frees).  Returns 0 or -1. */
int crypto_key_public(const struct crypto_key *k, unsigned char **out,
    size_t *len);

/* 1 when der[0..len) (a published p= value, decoded) is the public half of
 * k: for RSA a SubjectPublicKeyInfo or a bare RSAPublicKey, for Ed25519
 * the raw 32 bytes or a SubjectPublicKeyInfo; 0 otherwise (also for bytes
 * that are not a key). */
int crypto_key_matches(const struct crypto_key *k, const unsigned char *der,
    size_t len);

#endif
