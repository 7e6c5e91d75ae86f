/* Rate limiter: budgets, Retry-After, refunds, keys, bounded memory under
 * a flood, and exact counting across threads — all on a fake clock. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>

#include "ratelimit.h"

static const unsigned char key[RATELIMIT_KEY_BYTES] = "0123456789abcdef";

#define MIN 60000ULL   /* ms */

static void
burst_then_rate(void **state)
{
	struct ratelimit *rl = ratelimit_new(1024, key);
	uint64_t t0 = 1000 * MIN;
	int i;

	(void)state;
	assert_non_null(rl);
	/* 5/10m: five at once, then one per two minutes. */
	for (i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
		    t0), 0);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600, t0),
	    120);
	/* A refused post is not counted: the wait does not grow. */
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600, t0),
	    120);
	/* Rounded up: 1 ms short of the mark still waits a second. */
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
	    t0 + 2 * MIN - 1), 1);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
	    t0 + 2 * MIN), 0);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
	    t0 + 2 * MIN), 120);
	/* After a whole window of silence the full burst is back. */
	for (i = 0; i < 5; i++)
		assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
		    t0 + 14 * MIN), 0);
	assert_int_not_equal(ratelimit_take(rl, "s", "192.0.2.1", 5, 600,
	    t0 + 14 * MIN), 0);
	ratelimit_free(rl);
}

static void
refund_gives_back(void **state)
{
	struct ratelimit *rl = ratelimit_new(64, key);

	(void)state;
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 1, 60, MIN), 0);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 1, 60, MIN), 60);
	ratelimit_refund(rl, "s", "192.0.2.1", 1, 60, MIN);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 1, 60, MIN), 0);
	/* Refunding an unknown client changes nothing. */
	ratelimit_refund(rl, "s", "192.0.2.9", 1, 60, MIN);
	assert_int_equal(ratelimit_take(rl, "s", "192.0.2.1", 1, 60, MIN), 60);
	ratelimit_free(rl);
}

static void
keys_are_site_and_client(void **state)
{
	struct ratelimit *rl = ratelimit_new(256, key);

	(void)state;
	assert_int_equal(ratelimit_take(rl, "a", "192.0.2.1", 1, 60, MIN), 0);
	assert_int_not_equal(ratelimit_take(rl, "a", "192.0.2.1", 1, 60, MIN),
	    0);
	/* Another site, another address: their own budgets. */
	assert_int_equal(ratelimit_take(rl, "b", "192.0.2.1", 1, 60, MIN), 0);
	assert_int_equal(ratelimit_take(rl, "a", "192.0.2.2", 1, 60, MIN), 0);
	/* IPv4-mapped IPv6 is the same client as the IPv4 address. */
	assert_int_not_equal(ratelimit_take(rl, "a", "::ffff:192.0.2.1", 1,
	    60, MIN), 0);
	/* One IPv6 /64 is one subscriber; another /64 is another. */
	assert_int_equal(ratelimit_take(rl, "a", "2001:db8:1:2::1", 1, 60,
	    MIN), 0);
	assert_int_not_equal(ratelimit_take(rl, "a", "2001:db8:1:2:ffff::9",
	    1, 60, MIN), 0);
	assert_int_equal(ratelimit_take(rl, "a", "2001:db8:1:3::1", 1, 60,
	    MIN), 0);
	/* No address (or garbage) is keyed as given, never a crash. */
	assert_int_equal(ratelimit_take(rl, "a", NULL, 1, 60, MIN), 0);
	assert_int_not_equal(ratelimit_take(rl, "a", "", 1, 60, MIN), 0);
	assert_int_equal(ratelimit_take(rl, "a", "not an address", 1, 60,
	    MIN), 0);
	/* No limit configured. */
	assert_int_equal(ratelimit_take(rl, "a", "192.0.2.1", 0, 60, MIN), 0);
	assert_int_equal(ratelimit_take(rl, "a", "192.0.2.1", 1, 0, MIN), 0);
	assert_int_equal(ratelimit_take(NULL, "a", "192.0.2.1", 1, 60, MIN),
	    0);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void
flood_stays_bounded_and_keeps_the_limited(void **state)
{
	struct ratelimit *rl = ratelimit_new(4096, key);
	char addr[64];
	uint64_t now = 10 * MIN;
	unsigned i;
	int n;

	(void)state;
	assert_int_equal(ratelimit_slots(rl), 4096);
	/* One client spends its whole budget (and more). */
	for (n = 0; n < 10; n++)
		ratelimit_take(rl, "s", "198.51.100.7", 1, 600, now);
	/* A million distinct addresses, one post each, half IPv6. */
	for (i = 0; i < 1000000; i++) {
		if (i & 1)
			snprintf(addr, sizeof addr, "2001:db8:%x:%x::1",
			    i >> 16, i & 0xffff);
		else
			snprintf(addr, sizeof addr, "10.%u.%u.%u", i >> 16 & 255,
			    i >> 8 & 255, i & 255);
		assert_int_equal(ratelimit_take(rl, "s", addr, 5, 600, now),
		    0);
	}
	assert_true(ratelimit_used(rl) <= ratelimit_slots(rl));
	assert_int_equal(ratelimit_used(rl), ratelimit_slots(rl));
	/* The one over its budget was never the one evicted. */
	assert_int_equal(ratelimit_take(rl, "s", "198.51.100.7", 1, 600,
	    now), 600);
	/* Slots that are free again are reused before limited ones. */
	assert_int_equal(ratelimit_take(rl, "s", "198.51.100.8", 5, 600,
	    now + 3 * MIN), 0);
	assert_int_equal(ratelimit_take(rl, "s", "198.51.100.7", 1, 600,
	    now + 3 * MIN), 420);
	ratelimit_free(rl);
}

struct hammer {
	struct ratelimit *rl;
	int allowed;
};

static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	int i;

	for (i = 0; i < 5000; i++)
		if (ratelimit_take(h->rl, "s", "192.0.2.50", 100, 600, MIN) == 0)
			h->allowed++;
	return NULL;
}

static void
threads_count_exactly(void **state)
{
	struct ratelimit *rl = ratelimit_new(64, key);
	struct hammer h[4];
	pthread_t t[4];
	int i, total = 0;

	(void)state;
	for (i = 0; i < 4; i++) {
		h[i] = (struct hammer){ rl, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].allowed;
	}
	assert_int_equal(total, 100);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_rate),
		cmocka_unit_test(refund_gives_back),
		cmocka_unit_test(keys_are_site_and_client),
		cmocka_unit_test(flood_stays_bounded_and_keeps_the_limited),
		cmocka_unit_test(threads_count_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
