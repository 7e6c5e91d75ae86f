/* crypto's digests and HMAC: known answers (FIPS 180-2 / NIST examples for
 * SHA-256, RFC 4231 for HMAC-SHA256), and byte-for-byte agreement with
 * OpenSSL's own one-shot EVP_Digest and HMAC on random inputs, from several
 * threads at once (crypto keeps one spare context per thread). */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"

static void
unhex(const char *h, unsigned char *out)
{
	size_t i;
	unsigned v;

	for (i = 0; h[2 * i]; i++) {
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static void
assert_digest(const unsigned char got[SHA256_LEN], const char *want)
{
	char hex[2 * SHA256_LEN + 1];

	crypto_hex(got, SHA256_LEN, hex);
	assert_string_equal(hex, want);
}

/* A process whose fetches fail (only OpenSSL's "null" provider loaded,
 * so the default one is never loaded behind it) gets -1 and NULL from
 * every digest, never a crash or an exit.  In a child, before this
 * process's first digest (this test runs first). */
static void
test_fetch_fails(void **state)
{
	unsigned char md[SHA256_LEN];
	struct mem m = { (const unsigned char *)"abc", 3 };
	int status = 0;
	pid_t pid;

	(void)state;
	assert_int_not_equal(pid = fork(), -1);
	if (pid == 0) {
		if (OSSL_PROVIDER_load(NULL, "null") == NULL)
			_exit(2);
		_exit(crypto_sha256("abc", 3, md) == -1 &&
		    crypto_sha256_read(mem_read, &m, 3, md) == -1 &&
		    crypto_sha256_begin() == NULL &&
		    crypto_hmac_sha256("k", 1, "abc", 3, md) == -1 &&
		    crypto_sha256("abc", 3, md) == -1 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_sha256_known(void **state)
{
	static const struct {
		const char *in, *want;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		    "7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff"
		    "61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		    "19db06c1" },
	};
	unsigned char md[SHA256_LEN], *a;
	struct crypto_sha256 *h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(crypto_sha256(v[i].in, strlen(v[i].in), md),
		    0);
		assert_digest(md, v[i].want);
		/* Twice: the second use runs on the thread's reused context. */
		assert_int_equal(crypto_sha256(v[i].in, strlen(v[i].in), md),
		    0);
		assert_digest(md, v[i].want);
	}
	/* One million 'a', in pieces through the stream interface. */
	assert_non_null(a = malloc(1000));
	memset(a, 'a', 1000);
	assert_non_null(h = crypto_sha256_begin());
	for (i = 0; i < 1000; i++)
		crypto_sha256_add(h, a, 1000);
	assert_int_equal(crypto_sha256_end(h, md), 0);
	assert_digest(md, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e"
	    "046d39ccc7112cd0");
	free(a);
}

static void
test_hmac_rfc4231(void **state)
{
	static const char tc7[] = "This is a test using a larger than "
	    "block-size key and a larger than block-size data. The key needs "
	    "to be hashed before being used by the HMAC algorithm.";
	unsigned char key[131], data[160], md[SHA256_LEN];
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {   /* fresh, then reused */
		memset(key, 0x0b, 20);
		assert_int_equal(crypto_hmac_sha256(key, 20, "Hi There", 8,
		    md), 0);
		assert_digest(md, "b0344c61d8db38535ca8afceaf0bf12b881dc200c983"
		    "3da726e9376c2e32cff7");
		assert_int_equal(crypto_hmac_sha256("Jefe", 4,
		    "what do ya want for nothing?", 28, md), 0);
		assert_digest(md, "5bdcc146bf60754e6a042426089575c75a003f089d27"
		    "39839dec58b964ec3843");
		memset(key, 0xaa, 20);
		memset(data, 0xdd, 50);
		assert_int_equal(crypto_hmac_sha256(key, 20, data, 50, md), 0);
		assert_digest(md, "773ea91e36800e46854db8ebd09181a72959098b3ef8"
		    "c122d9635514ced565fe");
		unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", key);
		memset(data, 0xcd, 50);
		assert_int_equal(crypto_hmac_sha256(key, 25, data, 50, md), 0);
		assert_digest(md, "82558a389a443c0ea4cc819899f2083a85f0faa3e578"
		    "f8077a2e3ff46729665b");
		memset(key, 0xaa, 131);
		assert_int_equal(crypto_hmac_sha256(key, 131, "Test Using Larger "
		    "Than Block-Size Key - Hash Key First", 54, md), 0);
		assert_digest(md, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728"
		    "c5140546040f0ee37f54");
		assert_int_equal(crypto_hmac_sha256(key, 131, tc7,
		    strlen(tc7), md), 0);
		assert_digest(md, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f07"
		    "13938a7f51535c3a35e2");
	}
}

/* An empty key, given as NULL or as "", is the empty key, never the key
 * the thread's reused context held before. */
static void
test_hmac_empty_key(void **state)
{
	unsigned char md[SHA256_LEN], want[SHA256_LEN];
	unsigned int wl = 0;

	(void)state;
	assert_non_null(HMAC(EVP_sha256(), "", 0, (const unsigned char *)"x",
	    1, want, &wl));
	assert_int_equal(crypto_hmac_sha256("secret", 6, "x", 1, md), 0);
	assert_memory_not_equal(md, want, SHA256_LEN);
	assert_int_equal(crypto_hmac_sha256(NULL, 0, "x", 1, md), 0);
	assert_memory_equal(md, want, SHA256_LEN);
	assert_int_equal(crypto_hmac_sha256("secret", 6, "x", 1, md), 0);
	assert_int_equal(crypto_hmac_sha256("", 0, "x", 1, md), 0);
	assert_memory_equal(md, want, SHA256_LEN);
}

/* More keys than the thread keeps keyed contexts for, in an order that
 * mixes reuse and re-keying: every MAC as OpenSSL's one-shot HMAC. */
static void
test_hmac_many_keys(void **state)
{
	static const char *keys[] = { "k0", "key-one", "", "k3-32-bytes-long-"
	    "0123456789abcde", "k4", "k5", "k0 " };
	static const int order[] = { 0, 0, 1, 0, 2, 2, 3, 4, 5, 6, 0, 1, 2, 3,
	    6, 6, 5, 4, 3, 2, 1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6 };
	unsigned char got[SHA256_LEN], want[SHA256_LEN];
	unsigned int wl = 0;
	char data[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *k = keys[order[i]];

		snprintf(data, sizeof data, "message %zu", i);
		assert_non_null(HMAC(EVP_sha256(), k, (int)strlen(k),
		    (const unsigned char *)data, strlen(data), want, &wl));
		assert_int_equal(crypto_hmac_sha256(k, strlen(k), data,
		    strlen(data), got), 0);
		assert_memory_equal(got, want, SHA256_LEN);
	}
}

/* Streams that overlap, and one-shot digests in the middle of a stream,
 * each get their own context. */
static void
test_interleaved(void **state)
{
	unsigned char a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];
	unsigned char wa[SHA256_LEN], wb[SHA256_LEN];
	struct crypto_sha256 *h1, *h2;
	struct mem m = { (const unsigned char *)"hello world", 11 };

	(void)state;
	assert_int_equal(crypto_sha256("hello world", 11, wa), 0);
	assert_int_equal(crypto_sha256("abc", 3, wb), 0);
	assert_non_null(h1 = crypto_sha256_begin());
	crypto_sha256_add(h1, "hello ", 6);
	assert_non_null(h2 = crypto_sha256_begin());
	crypto_sha256_add(h2, "a", 1);
	assert_int_equal(crypto_sha256("abc", 3, c), 0);
	assert_memory_equal(c, wb, SHA256_LEN);
	assert_int_equal(crypto_sha256_read(mem_read, &m, m.n, c), 0);
	assert_memory_equal(c, wa, SHA256_LEN);
	crypto_sha256_add(h1, "world", 5);
	crypto_sha256_add(h2, "bc", 2);
	assert_int_equal(crypto_sha256_end(h2, b), 0);
	assert_int_equal(crypto_sha256_end(h1, a), 0);
	assert_memory_equal(a, wa, SHA256_LEN);
	assert_memory_equal(b, wb, SHA256_LEN);
	/* A reused stream starts empty. */
	assert_non_null(h1 = crypto_sha256_begin());
	crypto_sha256_add(h1, "abc", 3);
	assert_int_equal(crypto_sha256_end(h1, a), 0);
	assert_memory_equal(a, wb, SHA256_LEN);
	assert_int_equal(crypto_sha256_end(NULL, a), -1);
}

/* ------------------------------------------- random, several threads */

#define THREADS 4
#define ROUNDS 250
#define MAXLEN 5000

static unsigned
next(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* One round: random data and key; every crypto route against OpenSSL's
 * one-shots.  Returns the number of mismatches or failures. */
static int
one_round(unsigned *seed, unsigned char *data)
{
	unsigned char key[200], got[SHA256_LEN], want[SHA256_LEN];
	unsigned int wl = 0;
	size_t n = next(seed) % MAXLEN, kl = next(seed) % sizeof key, i, cut;
	struct mem m = { data, n };
	struct crypto_sha256 *h;
	int bad = 0;

	for (i = 0; i < n; i++)
		data[i] = (unsigned char)next(seed);
	for (i = 0; i < kl; i++)
		key[i] = (unsigned char)next(seed);
	if (EVP_Digest(data, n, want, &wl, EVP_sha256(), NULL) != 1)
		return 1;
	bad += crypto_sha256(data, n, got) != 0 ||
	    memcmp(got, want, SHA256_LEN) != 0;
	bad += crypto_sha256_read(mem_read, &m, n, got) != 0 ||
	    memcmp(got, want, SHA256_LEN) != 0;
	cut = n == 0 ? 0 : next(seed) % n;
	h = crypto_sha256_begin();
	crypto_sha256_add(h, data, cut);
	crypto_sha256_add(h, data + cut, n - cut);
	bad += crypto_sha256_end(h, got) != 0 ||
	    memcmp(got, want, SHA256_LEN) != 0;
	if (HMAC(EVP_sha256(), key, (int)kl, data, n, want, &wl) == NULL)
		return bad + 1;
	bad += crypto_hmac_sha256(key, kl, data, n, got) != 0 ||
	    memcmp(got, want, SHA256_LEN) != 0;
	return bad;
}

static void *
hammer(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg * 2654435761u + 1;
	unsigned char *data = malloc(MAXLEN);
	size_t bad = 0;
	int i;

	if (data == NULL)
		return (void *)1;
	for (i = 0; i < ROUNDS; i++)
		bad += (size_t)one_round(&seed, data);
	free(data);
	return (void *)bad;
}

static void
test_random_threads(void **state)
{
	pthread_t t[THREADS];
	void *bad;
	size_t i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer,
		    (void *)(i + 1)), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((size_t)bad, 0);
	}
	/* And on this thread, whose spares outlive the test. */
	assert_int_equal((size_t)hammer((void *)99), 0);
}

/* Short-lived threads (valgrind's leak check runs over this program):
 * each thread's spare contexts are freed when it exits. */
static void *
one_digest(void *arg)
{
	unsigned char md[SHA256_LEN];
	struct crypto_sha256 *h = crypto_sha256_begin();

	(void)arg;
	crypto_sha256_add(h, "abc", 3);
	if (crypto_sha256_end(h, md) != 0 || crypto_sha256("abc", 3, md) != 0
	    || crypto_hmac_sha256("k", 1, "abc", 3, md) != 0)
		return (void *)1;
	return NULL;
}

static void
test_thread_exit(void **state)
{
	pthread_t t;
	void *bad;
	int i;

	(void)state;
	for (i = 0; i < 64; i++) {
		assert_int_equal(pthread_create(&t, NULL, one_digest, NULL), 0);
		assert_int_equal(pthread_join(t, &bad), 0);
		assert_null(bad);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_fails),
		cmocka_unit_test(test_sha256_known),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hmac_empty_key),
		cmocka_unit_test(test_hmac_many_keys),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_random_threads),
		cmocka_unit_test(test_thread_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
