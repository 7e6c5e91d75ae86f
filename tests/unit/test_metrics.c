/* metrics: the result classes, the exposition (labels escaped and cut,
 * cumulative buckets), the fixed table's overflow, and exact counts
 * under concurrent increments. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "limits.h"
#include "metrics.h"

static int
has(const struct buf *b, const char *needle)
{
	return b->len && strstr(b->data, needle) != NULL;
}

static void
render(struct buf *b)
{
	struct metrics_gauges g = { .queued = 3, .held = 1, .failed = 2,
	    .oldest_queued = 75, .spool_free = 1 << 20, .resident = 4 << 20,
	    .held_uploads = 2, .held_upload_bytes = 5000 };

	buf_init(b);
	metrics_render(&g, "9.9.9", b);
	assert_false(b->oom);
}

static void
result_classes(void **state)
{
	(void)state;
	assert_int_equal(metrics_result_of(303, NULL), MR_ACCEPTED);
	assert_int_equal(metrics_result_of(200, NULL), MR_ACCEPTED);
	assert_int_equal(metrics_result_of(200, "duplicate"), MR_DUPLICATE);
	assert_int_equal(metrics_result_of(303, "honeypot"), MR_SPAM);
	assert_int_equal(metrics_result_of(200, "token_replayed"), MR_SPAM);
	assert_int_equal(metrics_result_of(422, "invalid"), MR_INVALID);
	assert_int_equal(metrics_result_of(429, "rate_limited"), MR_REJECTED);
	assert_int_equal(metrics_result_of(403, NULL), MR_REJECTED);
	assert_int_equal(metrics_result_of(503, "store_failed"), MR_ERROR);
	assert_int_equal(metrics_result_of(0, NULL), MR_ERROR);
}

static void
exposition(void **state)
{
	char long_site[200];
	struct buf b;

	(void)state;
	metrics_reset();
	metrics_post("example", MR_ACCEPTED);
	metrics_post("example", MR_ACCEPTED);
	metrics_post("example", MR_INVALID);
	metrics_delivery("example", "main", "sent");
	metrics_delivery("example", "main", "config");
	metrics_auto_reply_skipped("example", "we\"ird\\\nreason");
	memset(long_site, 'a', sizeof long_site - 1);
	long_site[sizeof long_site - 1] = '\0';
	metrics_post(long_site, MR_ERROR);
	metrics_request_us(500);        /* 0.5 ms */
	metrics_request_us(3000);       /* 3 ms */
	metrics_request_us(60000000);   /* a minute: only +Inf */
	render(&b);
	assert_true(has(&b, "# TYPE formpost_posts_total counter\n"));
	assert_true(has(&b, "formpost_posts_total{site=\"example\","
	    "result=\"accepted\"} 2\n"));
	assert_true(has(&b, "formpost_posts_total{site=\"example\","
	    "result=\"invalid\"} 1\n"));
	assert_true(has(&b, "formpost_deliveries_total{site=\"example\","
	    "profile=\"main\",outcome=\"config\"} 1\n"));
	assert_true(has(&b, "formpost_auto_reply_skipped_total{site="
	    "\"example\",reason=\"we\\\"ird\\\\\\nreason\"} 1\n"));
	/* Cut at LIM_METRICS_LABEL bytes. */
	long_site[LIM_METRICS_LABEL] = '\0';
	assert_true(has(&b, long_site));
	long_site[LIM_METRICS_LABEL] = 'a';
	long_site[LIM_METRICS_LABEL + 1] = '\0';
	assert_false(has(&b, long_site));
	/* Cumulative buckets, +Inf equals _count. */
	assert_true(has(&b, "# TYPE formpost_request_duration_seconds "
	    "histogram\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_bucket"
	    "{le=\"0.001\"} 1\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_bucket"
	    "{le=\"0.005\"} 2\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_bucket"
	    "{le=\"10\"} 2\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} 3\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_count 3\n"));
	assert_true(has(&b, "formpost_request_duration_seconds_sum 60.003500\n"));
	assert_true(has(&b, "formpost_queue_messages{state=\"queued\"} 3\n"));
	assert_true(has(&b, "formpost_queue_messages{state=\"held\"} 1\n"));
	assert_true(has(&b, "formpost_queue_messages{state=\"failed\"} 2\n"));
	assert_true(has(&b, "formpost_oldest_queued_seconds 75\n"));
	assert_true(has(&b, "formpost_held_uploads 2\n"));
	assert_true(has(&b, "formpost_held_upload_bytes 5000\n"));
	assert_true(has(&b, "formpost_resident_memory_bytes 4194304\n"));
	assert_true(has(&b, "formpost_build_info{version=\"9.9.9\"} 1\n"));
	assert_true(has(&b, "formpost_metrics_series_dropped_total 0\n"));
	buf_free(&b);
}

static void
declared_sites_start_at_zero(void **state)
{
	struct buf b;
	char site[32];
	int i;

	(void)state;
	metrics_reset();
	metrics_declare_site("quiet");
	render(&b);
	assert_true(has(&b, "formpost_posts_total{site=\"quiet\","
	    "result=\"accepted\"} 0\n"));
	assert_true(has(&b, "formpost_posts_total{site=\"quiet\","
	    "result=\"error\"} 0\n"));
	buf_free(&b);
	/* Declaring stops at half the table: posts always find room. */
	for (i = 0; i < LIM_METRICS_SERIES; i++) {
		snprintf(site, sizeof site, "d%d", i);
		metrics_declare_site(site);
	}
	metrics_post("late", MR_ACCEPTED);
	render(&b);
	assert_true(has(&b, "formpost_posts_total{site=\"late\","
	    "result=\"accepted\"} 1\n"));
	assert_true(has(&b, "formpost_metrics_series_dropped_total 0\n"));
	buf_free(&b);
}

static void
gauges_left_out(void **state)
{
	struct metrics_gauges g = { -1, -1, -1, -1, -1, -1, -1, -1 };
	struct buf b;

	(void)state;
	metrics_reset();
	buf_init(&b);
	metrics_render(&g, "1", &b);
	assert_false(has(&b, "formpost_queue_messages"));
	assert_false(has(&b, "formpost_spool_free_bytes"));
	assert_false(has(&b, "formpost_held_uploads"));
	assert_true(has(&b, "formpost_build_info"));
	buf_free(&b);
}

/* More label sets than the table holds: the rest is counted as dropped,
 * memory does not grow. */
static void
table_full(void **state)
{
	char site[32];
	struct buf b;
	int i;

	(void)state;
	metrics_reset();
	for (i = 0; i < LIM_METRICS_SERIES + 10; i++) {
		snprintf(site, sizeof site, "s%d", i);
		metrics_post(site, MR_ACCEPTED);
	}
	metrics_post("s1", MR_ACCEPTED);          /* existing: still counted */
	render(&b);
	assert_true(has(&b, "formpost_metrics_series_dropped_total 10\n"));
	assert_true(has(&b, "formpost_posts_total{site=\"s1\","
	    "result=\"accepted\"} 2\n"));
	buf_free(&b);
}

#define THREADS 4
#define PER 100000

static void *
hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER; i++) {
		metrics_post(i % 2 ? "a" : "b", MR_ACCEPTED);
		metrics_request_us(100);
	}
	return NULL;
}

static void
concurrent_counts_exact(void **state)
{
	pthread_t th[THREADS];
	char want[128];
	struct buf b;
	int i;

	(void)state;
	metrics_reset();
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	render(&b);
	snprintf(want, sizeof want, "formpost_posts_total{site=\"a\","
	    "result=\"accepted\"} %d\n", THREADS * PER / 2);
	assert_true(has(&b, want));
	snprintf(want, sizeof want, "formpost_request_duration_seconds_count "
	    "%d\n", THREADS * PER);
	assert_true(has(&b, want));
	/* One series per label set, however many threads raced to make it. */
	{
		const char *p = b.data;
		int n = 0;
		while ((p = strstr(p, "{site=\"a\",")) != NULL) {
			n++;
			p++;
		}
		assert_int_equal(n, 1);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(result_classes),
		cmocka_unit_test(exposition),
		cmocka_unit_test(declared_sites_start_at_zero),
		cmocka_unit_test(gauges_left_out),
		cmocka_unit_test(table_full),
		cmocka_unit_test(concurrent_counts_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
