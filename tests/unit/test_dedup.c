/* The double-submit table: window, keys, eviction, threads. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dedup.h"

static time_t fake_now;

static time_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
key_of(unsigned n, unsigned char key[SHA256_LEN])
{
	char s[32];

	snprintf(s, sizeof s, "k%u", n);
	assert_int_equal(crypto_sha256(s, strlen(s), key), 0);
}

static void
test_window(void **state)
{
	struct dedup *d = dedup_new(64, 600, fake_clock, NULL);
	unsigned char k[SHA256_LEN], other[SHA256_LEN];
	char id[ID_LEN + 1];

	(void)state;
	assert_non_null(d);
	fake_now = 1000;
	key_of(1, k);
	key_of(2, other);
	assert_int_equal(dedup_lookup(d, k, id), 0);
	dedup_record(d, k, "AAAAAAAAAAAAAAAAAAAA");
	fake_now = 1599;                     /* 9:59 later: the first answer */
	assert_int_equal(dedup_lookup(d, k, id), 1);
	assert_string_equal(id, "AAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(dedup_lookup(d, other, id), 0);
	fake_now = 1600;                     /* 10:00 later: forgotten */
	assert_int_equal(dedup_lookup(d, k, id), 0);
	/* a new record of the same key replaces the id and the time */
	dedup_record(d, k, "BBBBBBBBBBBBBBBBBBBB");
	dedup_record(d, k, "CCCCCCCCCCCCCCCCCCCC");
	assert_int_equal(dedup_lookup(d, k, id), 1);
	assert_string_equal(id, "CCCCCCCCCCCCCCCCCCCC");
	/* an invalid id is never stored (it would be sent to a browser) */
	dedup_record(d, other, "bad id\r\n");
	assert_int_equal(dedup_lookup(d, other, id), 0);
	dedup_free(d);
	dedup_free(NULL);
}

static void
test_bounded(void **state)
{
	/* 16 slots = 2 sets of 8: 1000 keys never grow it, the newest win */
	struct dedup *d = dedup_new(16, 600, fake_clock, NULL);
	unsigned char k[SHA256_LEN];
	char id[ID_LEN + 1];
	unsigned i, found = 0;

	(void)state;
	assert_non_null(d);
	for (i = 0; i < 1000; i++) {
		fake_now = 5000 + i;
		key_of(i, k);
		dedup_record(d, k, "DDDDDDDDDDDDDDDDDDDD");
	}
	for (i = 0; i < 1000; i++) {
		key_of(i, k);
		found += (unsigned)dedup_lookup(d, k, id);
	}
	assert_true(found <= 16);
	assert_true(found >= 8);
	key_of(999, k);                       /* the last one is remembered */
	assert_int_equal(dedup_lookup(d, k, id), 1);
	key_of(0, k);                         /* the first one was evicted */
	assert_int_equal(dedup_lookup(d, k, id), 0);
	dedup_free(d);
}

static struct fvals *
fv(const char *a, const char *b)
{
	static struct fval v[2];
	static struct fvals vs;

	v[0].value = (char *)a;
	v[0].len = strlen(a);
	v[1].value = (char *)b;
	v[1].len = strlen(b);
	vs.v = v;
	vs.n = 2;
	return &vs;
}

static void
test_key(void **state)
{
	unsigned char a[SHA256_LEN], b[SHA256_LEN];

	(void)state;
	assert_int_equal(dedup_key("s", "127.0.0.1", fv("x", "y"), a), 0);
	assert_int_equal(dedup_key("s", "127.0.0.1", fv("x", "y"), b), 0);
	assert_memory_equal(a, b, SHA256_LEN);
	/* every input matters, and boundaries cannot be shifted */
	assert_int_equal(dedup_key("s", "127.0.0.1", fv("xy", ""), b), 0);
	assert_memory_not_equal(a, b, SHA256_LEN);
	assert_int_equal(dedup_key("s", "127.0.0.2", fv("x", "y"), b), 0);
	assert_memory_not_equal(a, b, SHA256_LEN);
	assert_int_equal(dedup_key("t", "127.0.0.1", fv("x", "y"), b), 0);
	assert_memory_not_equal(a, b, SHA256_LEN);
	assert_int_equal(dedup_key("s", "127.0.0.1", fv("x", "Y"), b), 0);
	assert_memory_not_equal(a, b, SHA256_LEN);
	assert_int_equal(dedup_key("s", NULL, fv("x", "y"), b), 0);
	assert_memory_not_equal(a, b, SHA256_LEN);
}

static struct dedup *shared;

static void *
hammer(void *arg)
{
	unsigned base = (unsigned)(uintptr_t)arg, i;
	unsigned char k[SHA256_LEN];
	char id[ID_LEN + 1];

	for (i = 0; i < 2000; i++) {
		key_of(base * 10000 + i % 50, k);
		if (!dedup_lookup(shared, k, id))
			dedup_record(shared, k, "EEEEEEEEEEEEEEEEEEEE");
		else if (strcmp(id, "EEEEEEEEEEEEEEEEEEEE") != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	void *ret;
	uintptr_t i;

	(void)state;
	shared = dedup_new(256, 600, NULL, NULL);   /* the real clock */
	assert_non_null(shared);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer,
		    (void *)i), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	dedup_free(shared);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
