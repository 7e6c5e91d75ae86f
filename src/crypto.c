/* crypto — OpenSSL 3 behind a small interface. */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "limits.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
crypto_b64url_decode(const char *in, size_t n, unsigned char *out)
{
	size_t i, o = 0;
	int a, b, c, d;

	for (i = 0; i + 4 <= n; i += 4) {
		a = b64val((unsigned char)in[i]);
		b = b64val((unsigned char)in[i + 1]);
		c = b64val((unsigned char)in[i + 2]);
		d = b64val((unsigned char)in[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	return n % 4 == 0 ? 0 : -1;
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

/* ------------------------------------------------------------ digests
 *
 * OpenSSL 3.0 pays for a digest's set-up on every call: EVP_sha256()
 * fetches the algorithm again (under a global lock), EVP_Digest
 * allocates and frees a context.  So the SHA-256 and HMAC algorithms are
 * fetched once per process and kept for its life, and each thread keeps
 * a spare digest context, a spare stream and HMAC contexts keyed for its
 * last few keys (doc/design.md, "Performance").  A context is taken out
 * of its slot while in use, so a nested or interleaved use simply
 * allocates another one; the spares are freed (keys cleansed) by the
 * pthread key's destructor when their thread exits.  A failed fetch
 * makes every digest and MAC return its error. */

static EVP_MD *sha256_md;              /* fetched once, kept for life */
static EVP_MAC *hmac;                  /* fetched once, kept for life */
static pthread_key_t spare_key;
static int spare_ok;                   /* spare_key was created */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* HMAC contexts kept keyed, for the few keys a process uses (token,
 * hold, confirmation: 32 bytes each), so a MAC under a known key skips
 * hashing the key pads again. */
#define MAC_SLOTS 4
#define MAC_KEY_MAX 64                 /* SHA-256's block */

struct mac_slot {
	EVP_MAC_CTX *ctx;              /* keyed with key, or NULL */
	size_t keylen;
	unsigned char key[MAC_KEY_MAX];
};

struct spare {                         /* one per thread, lazily */
	EVP_MD_CTX *md;                /* initialised for sha256_md */
	struct crypto_sha256 *stream;  /* a finished stream, reusable */
	struct mac_slot mac[MAC_SLOTS];
	unsigned mac_next;             /* the slot re-keyed next */
};

struct crypto_sha256 {
	EVP_MD_CTX *ctx;
	int bad;               /* an update failed: the digest is wrong */
};

static void
stream_free(struct crypto_sha256 *h)
{
	if (h != NULL) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
	}
}

static void
spare_free(void *p)
{
	struct spare *s = p;
	size_t i;

	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	stream_free(s->stream);
	for (i = 0; i < MAC_SLOTS; i++)
		EVP_MAC_CTX_free(s->mac[i].ctx);
	crypto_cleanse(s, sizeof *s);
	free(s);
}

static void
fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	spare_ok = pthread_key_create(&spare_key, spare_free) == 0;
}

/* The fetched SHA-256, or NULL when the fetch failed. */
static const EVP_MD *
md_sha256(void)
{
	if (pthread_once(&fetch_once, fetch) != 0)
		return NULL;
	return sha256_md;
}

/* This thread's spare slots, or NULL (no key, or out of memory: the
 * callers then allocate per use). */
static struct spare *
spare(void)
{
	struct spare *s;

	if (pthread_once(&fetch_once, fetch) != 0 || !spare_ok)
		return NULL;
	if ((s = pthread_getspecific(spare_key)) != NULL)
		return s;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	if (pthread_setspecific(spare_key, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* A digest context for one use: the thread's spare (taken out of its
 * slot) or a new one.  NULL on failure. */
static EVP_MD_CTX *
md_take(void)
{
	struct spare *s = spare();
	EVP_MD_CTX *ctx;

	if (s != NULL && s->md != NULL) {
		ctx = s->md;
		s->md = NULL;
		return ctx;
	}
	return EVP_MD_CTX_new();
}

/* Puts ctx back as the thread's spare when the slot is empty and the
 * last use went well (ok), else frees it. */
static void
md_give(EVP_MD_CTX *ctx, int ok)
{
	struct spare *s = ok ? spare() : NULL;

	if (s != NULL && s->md == NULL && ctx != NULL)
		s->md = ctx;
	else
		EVP_MD_CTX_free(ctx);
}

int
crypto_sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
	const EVP_MD *md = md_sha256();
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int rc = -1;

	if (md == NULL || (ctx = md_take()) == NULL)
		return -1;
	if (EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, data, n) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == SHA256_LEN)
		rc = 0;
	md_give(ctx, rc == 0);
	return rc;
}

int
crypto_sha256_read(long (*read)(void *arg, void *buf, size_t n,
    unsigned long long off), void *arg, unsigned long long size,
    unsigned char out[SHA256_LEN])
{
	const EVP_MD *md = md_sha256();
	EVP_MD_CTX *ctx = md == NULL ? NULL : md_take();
	unsigned char *b = malloc(65536);
	unsigned long long off = 0;
	unsigned int len = 0;
	long r;
	int rc = -1;

	if (ctx == NULL || b == NULL || EVP_DigestInit_ex2(ctx, md, NULL) != 1)
		goto out;
	while (off < size) {
		if ((r = read(arg, b, size - off < 65536 ? (size_t)(size - off) :
		    65536, off)) <= 0 || EVP_DigestUpdate(ctx, b, (size_t)r) != 1)
			goto out;
		off += (unsigned long long)r;
	}
	if (EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == SHA256_LEN)
		rc = 0;
out:
	md_give(ctx, rc == 0);
	free(b);
	return rc;
}

struct crypto_sha256 *
crypto_sha256_begin(void)
{
	const EVP_MD *md = md_sha256();
	struct spare *s = md == NULL ? NULL : spare();
	struct crypto_sha256 *h = NULL;

	if (md == NULL)
		return NULL;
	if (s != NULL && s->stream != NULL) {
		h = s->stream;
		s->stream = NULL;
	} else if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->ctx = EVP_MD_CTX_new()) == NULL) {
		stream_free(h);
		return NULL;
	}
	h->bad = 0;
	if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1) {
		stream_free(h);
		return NULL;
	}
	return h;
}

void
crypto_sha256_add(struct crypto_sha256 *h, const void *p, size_t n)
{
	if (h != NULL && n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->bad = 1;
}

int
crypto_sha256_end(struct crypto_sha256 *h, unsigned char out[SHA256_LEN])
{
	struct spare *s;
	unsigned int len = 0;
	int rc = -1;

	if (h == NULL)
		return -1;
	if (!h->bad && EVP_DigestFinal_ex(h->ctx, out, &len) == 1 &&
	    len == SHA256_LEN)
		rc = 0;
	if (rc == 0 && (s = spare()) != NULL && s->stream == NULL)
		s->stream = h;
	else
		stream_free(h);
	return rc;
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

/* A new HMAC context with its digest set to SHA-256 (which fetches the
 * digest: done once per context, not per MAC).  NULL on failure. */
static EVP_MAC_CTX *
mac_new(void)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;

	if (hmac == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(hmac)) != NULL &&
	    EVP_MAC_CTX_set_params(ctx, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* The slot keyed with key[0..keylen) (*hit = 1), else the slot to
 * re-key, taken in turn (*hit = 0); NULL without a thread spare or for a
 * key longer than a slot holds. */
static struct mac_slot *
mac_slot(struct spare *s, const void *key, size_t keylen, int *hit)
{
	struct mac_slot *m;
	size_t i;

	*hit = 0;
	if (s == NULL || keylen > MAC_KEY_MAX)
		return NULL;
	for (i = 0; i < MAC_SLOTS; i++) {
		m = &s->mac[i];
		if (m->ctx != NULL && m->keylen == keylen &&
		    CRYPTO_memcmp(m->key, key, keylen) == 0) {
			*hit = 1;
			return m;
		}
	}
	return &s->mac[s->mac_next++ % MAC_SLOTS];
}

/* With a slot keyed for this key, only the inner hash state is copied
 * (EVP_MAC_init without a key keeps the context's key); otherwise the
 * slot's context is re-keyed and remembers the key.  A NULL key is
 * spelled as a zero-length non-NULL one, so it can never mean "keep the
 * previous key". */
int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t n, unsigned char out[SHA256_LEN])
{
	static const unsigned char none[1];
	struct mac_slot *m;
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int hit, rc = -1;

	if (key == NULL) {
		key = none;
		keylen = 0;
	}
	if (pthread_once(&fetch_once, fetch) != 0)
		return -1;
	if ((m = mac_slot(spare(), key, keylen, &hit)) != NULL) {
		ctx = m->ctx;
		m->ctx = NULL;             /* taken while in use */
		crypto_cleanse(m->key, sizeof m->key);
	} else
		ctx = NULL;
	if (ctx == NULL && (ctx = mac_new()) == NULL)
		return -1;
	if (EVP_MAC_init(ctx, hit ? NULL : key, hit ? 0 : keylen, NULL) == 1
	    && EVP_MAC_update(ctx, data, n) == 1 &&
	    EVP_MAC_final(ctx, out, &outl, SHA256_LEN) == 1 &&
	    outl == SHA256_LEN)
		rc = 0;
	if (rc == 0 && m != NULL && m->ctx == NULL) {
		m->ctx = ctx;
		memcpy(m->key, key, keylen);
		m->keylen = keylen;
	} else
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

/* ------------------------------------------------------------ keys */

struct crypto_key {
	EVP_PKEY *pkey;
	enum crypto_key_type type;
};

/* An encrypted key must fail, not prompt on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Reads the whole key file into *out (caller cleanses and frees) after
 * checking who may read it.  Returns 0 or -1 with err set. */
static int
key_read(const char *path, unsigned char **out, size_t *outlen, char *err,
    size_t errlen)
{
	unsigned char *data = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot read key_file %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > LIM_KEY_BYTES) {
		snprintf(err, errlen, "key_file %s is not a PEM private key "
		    "file", path);
		goto fail;
	}
	if (st.st_mode & 007) {
		snprintf(err, errlen, "key_file %s is accessible by others: "
		    "chmod 0600 it (or 0640 with the service group)", path);
		goto fail;
	}
	if ((data = malloc((size_t)st.st_size)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, data + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "cannot read key_file %s: %s",
			    path, r == 0 ? "file shrank" : strerror(errno));
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	*out = data;
	*outlen = got;
	return 0;
fail:
	if (data) {
		OPENSSL_cleanse(data, (size_t)st.st_size);
		free(data);
	}
	if (fd != -1)
		close(fd);
	return -1;
}

/* RFC 8301 §3.2 and RFC 8463: RSA of a usable size, or Ed25519. */
static int
key_usable(struct crypto_key *k, const char *path, char *err, size_t errlen)
{
	int bits;

	switch (EVP_PKEY_get_base_id(k->pkey)) {
	case EVP_PKEY_RSA:
		k->type = CRYPTO_KEY_RSA;
		bits = EVP_PKEY_get_bits(k->pkey);
		if (bits < LIM_DKIM_RSA_MIN_BITS || bits >
		    LIM_DKIM_RSA_MAX_BITS) {
			snprintf(err, errlen, "key_file %s is a %d-bit RSA "
			    "key: use %d to %d bits (openssl genpkey "
			    "-algorithm RSA -pkeyopt rsa_keygen_bits:2048)",
			    path, bits,
			    LIM_DKIM_RSA_MIN_BITS, LIM_DKIM_RSA_MAX_BITS);
			return -1;
		}
		return 0;
	case EVP_PKEY_ED25519:
		k->type = CRYPTO_KEY_ED25519;
		return 0;
	default:
		snprintf(err, errlen, "key_file %s is neither an RSA nor an "
		    "Ed25519 key", path);
		return -1;
	}
}

struct crypto_key *
crypto_key_load(const char *path, char *err, size_t errlen)
{
	struct crypto_key *k = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;

	if (key_read(path, &data, &len, err, errlen) == -1)
		return NULL;
	if ((k = calloc(1, sizeof *k)) == NULL ||
	    (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (k->pkey == NULL) {
		snprintf(err, errlen, "key_file %s is not an unencrypted PEM "
		    "private key", path);
		goto fail;
	}
	if (key_usable(k, path, err, errlen) == -1)
		goto fail;
	BIO_free(bio);
	OPENSSL_cleanse(data, len);
	free(data);
	return k;
fail:
	BIO_free(bio);
	OPENSSL_cleanse(data, len);
	free(data);
	crypto_key_free(k);
	return NULL;
}

void
crypto_key_free(struct crypto_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

enum crypto_key_type
crypto_key_type(const struct crypto_key *k)
{
	return k->type;
}

int
crypto_key_sign(const struct crypto_key *k, const void *data, size_t n,
    unsigned char **sig, size_t *siglen)
{
	unsigned char hash[SHA256_LEN], *out = NULL;
	const void *in = data;
	size_t inlen = n, outlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int rc = -1;

	if (k->type == CRYPTO_KEY_ED25519) {
		/* Ed25519 is "pure": no digest, one shot, over the hash. */
		if (crypto_sha256(data, n, hash) == -1)
			return -1;
		in = hash;
		inlen = sizeof hash;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, k->type == CRYPTO_KEY_RSA ?
	    "SHA256" : NULL, NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &outlen, in, inlen) != 1 ||
	    (out = malloc(outlen)) == NULL ||
	    EVP_DigestSign(ctx, out, &outlen, in, inlen) != 1)
		goto out;
	*sig = out;
	*siglen = outlen;
	out = NULL;
	rc = 0;
out:
	free(out);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
crypto_key_public(const struct crypto_key *k, unsigned char **out,
    size_t *len)
{
	unsigned char *der = NULL;
	size_t rawlen = 0;
	int n;

	if (k->type == CRYPTO_KEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, NULL, &rawlen) != 1 ||
		    (der = malloc(rawlen)) == NULL ||
		    EVP_PKEY_get_raw_public_key(k->pkey, der, &rawlen) != 1) {
			free(der);
			return -1;
		}
		*out = der;
		*len = rawlen;
		return 0;
	}
	if ((n = i2d_PUBKEY(k->pkey, NULL)) <= 0 ||
	    (der = malloc((size_t)n)) == NULL)
		return -1;
	*out = der;
	if (i2d_PUBKEY(k->pkey, &der) != n) {
		free(*out);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int
crypto_key_matches(const struct crypto_key *k, const unsigned char *der,
    size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pub = NULL;
	int eq;

	if (len == 0 || len > LIM_KEY_BYTES)
		return 0;
	if (k->type == CRYPTO_KEY_ED25519 && len == 32)
		pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der,
		    len);
	else if ((pub = d2i_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		EVP_PKEY_free(pub);
		p = der;
		pub = k->type == CRYPTO_KEY_RSA ? d2i_PublicKey(EVP_PKEY_RSA,
		    NULL, &p, (long)len) : NULL;
		if (pub && p != der + len) {
			EVP_PKEY_free(pub);
			pub = NULL;
		}
	}
	eq = pub != NULL && EVP_PKEY_eq(k->pkey, pub) == 1;
	EVP_PKEY_free(pub);
	return eq;
}
