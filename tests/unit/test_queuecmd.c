/* The operator's view of the spool: compact durations, and the spool
 * calls `formpost queue` stands on (spool_read, spool_remove,
 * spool_scan_in) against a real directory; reading never claims or
 * moves anything. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "queuecmd.h"
#include "spool.h"

static const char WIRE[] = "Subject: x\r\n\r\nbody\r\n";

static void
test_duration(void **state)
{
	static const struct {
		long long secs;
		const char *want;
	} rows[] = { { -5, "0s" }, { 0, "0s" }, { 59, "59s" }, { 60, "1m" },
	    { 3599, "59m" }, { 3600, "1h00m" }, { 3661, "1h01m" },
	    { 86399, "23h59m" }, { 86400, "1d00h" }, { 5 * 86400 + 7200,
	    "5d02h" }, { 9000000000000000000LL, "104166666666666d16h" } };
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		queuecmd_duration(out, rows[i].secs);
		assert_string_equal(out, rows[i].want);
	}
}

static void
count(void *arg, const char *id)
{
	(void)id;
	(*(int *)arg)++;
}

static void
test_read_remove_scan(void **state)
{
	char dir[] = "/tmp/fp-unit-queue-XXXXXX", path[256], err[256];
	char *rcpt[] = { "info@example.com" };
	struct spool_msg m, got;
	struct spool *sp;
	FILE *f;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	assert_int_equal(spool_msg_new(&m, "-bcdefghijklmnopqrs_", "example",
	    1700000000, "noreply@example.com", rcpt, 1, WIRE,
	    sizeof WIRE - 1), 0);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	m.rcpt[0].state = SPOOL_FAILED;       /* failed/ holds failed ones */
	assert_int_equal(spool_write_failed(sp, &m, err, sizeof err), 0);

	assert_int_equal(spool_read(sp, "queue", m.id, &got, err, sizeof err),
	    0);
	assert_string_equal(got.id, m.id);
	assert_int_equal(got.len, sizeof WIRE - 1);
	spool_msg_free(&got);
	/* No such file; not an id; not a spool directory. */
	assert_int_equal(spool_read(sp, "queue", "AAAAAAAAAAAAAAAAAAAA", &got,
	    err, sizeof err), 1);
	assert_int_equal(spool_read(sp, "queue", "../../etc/passwd", &got,
	    err, sizeof err), 1);
	assert_int_equal(spool_read(sp, "tmp", m.id, &got, err, sizeof err),
	    1);
	/* A torn file is reported, and left where it is. */
	snprintf(path, sizeof path, "%s/queue/%s", dir, "TTTTTTTTTTTTTTTTTTTT");
	assert_non_null(f = fopen(path, "w"));
	fputs("formpost-spool 1\nid TTTTTTTTTTTTTTTTTTTT\n", f);
	fclose(f);
	assert_int_equal(spool_read(sp, "queue", "TTTTTTTTTTTTTTTTTTTT", &got,
	    err, sizeof err), -1);
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(spool_scan_in(sp, "queue", count, &n, err,
	    sizeof err), 2);
	assert_int_equal(n, 2);
	assert_int_equal(spool_scan_in(sp, "failed", count, &n, err,
	    sizeof err), 1);
	/* Counting failed/ leaves the capacity guard's queue/ count alone. */
	assert_int_equal(spool_queued(sp), 2);
	assert_int_equal(spool_scan_in(sp, "tmp", count, &n, err, sizeof err),
	    -1);

	assert_int_equal(spool_remove(sp, "failed", m.id, err, sizeof err), 0);
	assert_int_equal(spool_remove(sp, "failed", m.id, err, sizeof err),
	    -1);
	assert_int_equal(spool_remove(sp, "tmp", m.id, err, sizeof err), -1);
	assert_int_equal(spool_scan_in(sp, "failed", count, &n, err,
	    sizeof err), 0);

	unlink(path);
	snprintf(path, sizeof path, "%s/queue/%s", dir, m.id);
	unlink(path);
	spool_msg_free(&m);
	spool_close(sp);
	{
		static const char *const subs[] = { "tmp", "queue", "failed",
		    "corrupt", "free", "hold" };
		size_t i;
		for (i = 0; i < 6; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
			assert_int_equal(rmdir(path), 0);
		}
		assert_int_equal(rmdir(dir), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_read_remove_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
