/* The double-submit table: window, keys, eviction, threads. */
#include "unit.h"

#include <pthread.h>
#include <sched.h>
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
	char id[ID_BUF];

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
	char id[ID_BUF];
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
	char id[ID_BUF];

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

static void
test_claim(void **state)
{
	struct dedup *d = dedup_new(64, 600, fake_clock, NULL);
	unsigned char k[SHA256_LEN];
	char first[ID_BUF], id[ID_BUF];

	(void)state;
	assert_non_null(d);
	fake_now = 1000;
	key_of(7, k);
	assert_int_equal(dedup_claim(d, k, "bad id", first), -1);
	assert_int_equal(dedup_claim(d, k, "AAAAAAAAAAAAAAAAAAAA", first), 0);
	/* a claim in flight is what a lookup sees */
	assert_int_equal(dedup_lookup(d, k, id), 1);
	assert_string_equal(id, "AAAAAAAAAAAAAAAAAAAA");
	/* released (the submit failed): a resend claims it anew */
	dedup_release(d, k, "AAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(dedup_lookup(d, k, id), 0);
	assert_int_equal(dedup_claim(d, k, "BBBBBBBBBBBBBBBBBBBB", first), 0);
	/* another post's release never drops this claim */
	dedup_release(d, k, "AAAAAAAAAAAAAAAAAAAA");
	dedup_record(d, k, "BBBBBBBBBBBBBBBBBBBB");
	/* recorded: later twins get the first id at once */
	assert_int_equal(dedup_claim(d, k, "CCCCCCCCCCCCCCCCCCCC", first), 1);
	assert_string_equal(first, "BBBBBBBBBBBBBBBBBBBB");
	/* a release after the record changes nothing */
	dedup_release(d, k, "BBBBBBBBBBBBBBBBBBBB");
	assert_int_equal(dedup_lookup(d, k, id), 1);
	fake_now = 1600;                     /* the window still applies */
	assert_int_equal(dedup_claim(d, k, "CCCCCCCCCCCCCCCCCCCC", first), 0);
	dedup_free(d);
}

/* One twin: claims key with id, reports what it got. */
struct twin {
	const unsigned char *key;
	char id[ID_BUF];
	char first[ID_BUF];
	int rc;
	pthread_barrier_t *go;
};

static void *
twin_run(void *arg)
{
	struct twin *t = arg;

	if (t->go)
		pthread_barrier_wait(t->go);
	t->rc = dedup_claim(shared, t->key, t->id, t->first);
	return NULL;
}

/* Main holds the claim while a twin arrives (before or after main
 * settles it: either way the answer must be the same). */
static void
twin_after(int stored, const char *want_first, int want_rc)
{
	unsigned char k[SHA256_LEN];
	char first[ID_BUF];
	struct twin t = { k, "TTTTTTTTTTTTTTTTTTTT", "", -2, NULL };
	pthread_t th;

	key_of(stored ? 100 : 101, k);
	assert_int_equal(dedup_claim(shared, k, "MMMMMMMMMMMMMMMMMMMM",
	    first), 0);
	assert_int_equal(pthread_create(&th, NULL, twin_run, &t), 0);
	if (stored)
		dedup_record(shared, k, "MMMMMMMMMMMMMMMMMMMM");
	else
		dedup_release(shared, k, "MMMMMMMMMMMMMMMMMMMM");
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.rc, want_rc);
	if (want_rc == 1)
		assert_string_equal(t.first, want_first);
}

static void
test_claim_threads(void **state)
{
	unsigned char k[SHA256_LEN];
	struct twin t[6];
	pthread_t th[6];
	pthread_barrier_t go;
	char id[ID_BUF];
	unsigned round, i, winners, winner;

	(void)state;
	shared = dedup_new(256, 600, NULL, NULL);
	assert_non_null(shared);
	/* the first is stored: its twin gets its id and no claim */
	twin_after(1, "MMMMMMMMMMMMMMMMMMMM", 1);
	/* the first failed: its twin claims and submits itself */
	twin_after(0, NULL, 0);
	/* six identical posts released at once, 30 times: exactly one
	 * claims, every other one answers with its id */
	assert_int_equal(pthread_barrier_init(&go, NULL, 6), 0);
	for (round = 0; round < 30; round++) {
		key_of(1000 + round, k);
		for (i = 0; i < 6; i++) {
			t[i].key = k;
			snprintf(t[i].id, sizeof t[i].id,
			    "XXXXXXXXXXXXXXXXXXX%u", i);
			t[i].rc = -2;
			t[i].go = &go;
			assert_int_equal(pthread_create(&th[i], NULL,
			    twin_run, &t[i]), 0);
		}
		/* the winner's submit succeeds once all have claimed or
		 * are waiting: record it as http.c would */
		winners = 0;
		while (dedup_lookup(shared, k, id) == 0)
			sched_yield();
		assert_int_equal(id[ID_OLD_LEN - 1] >= '0' && id[ID_OLD_LEN - 1] <=
		    '5', 1);
		winner = (unsigned)(id[ID_OLD_LEN - 1] - '0');
		dedup_record(shared, k, id);
		for (i = 0; i < 6; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			if (t[i].rc == 0) {
				winners++;
				assert_int_equal(i, winner);
			} else {
				assert_int_equal(t[i].rc, 1);
				assert_string_equal(t[i].first, t[winner].id);
			}
		}
		assert_int_equal(winners, 1);
	}
	pthread_barrier_destroy(&go);
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
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_claim_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
