/*
 * The receipt limit table (SPOOL/autoreply.db): counts per address and
 * per network, fixed windows, persistence across handles (a restart),
 * several processes at once (fork), a damaged file re-initialised, the
 * fixed size under a flood of keys, and the network keys.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "limits.h"
#include "replylimit.h"

#define T0 1800000000LL

static char dir[64];
static char err[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/fp-replylimit-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof path, "%s/" REPLYLIMIT_FILE, dir);
	unlink(path);
	return rmdir(dir);
}

static enum replylimit_rc
take(struct replylimit *rl, const char *addr, const char *ip, long long now)
{
	return replylimit_take(rl, addr, ip, 2, 86400, now, err,
	    sizeof err);
}

static void
address_limit(void **state)
{
	struct replylimit *rl = replylimit_open(dir, err, sizeof err);

	(void)state;
	assert_non_null(rl);
	assert_int_equal(take(rl, "a@example.jp", "192.0.2.1", T0), 0);
	assert_int_equal(take(rl, "A@Example.JP", "198.51.100.1", T0), 0);
	/* the same mailbox, however tagged or cased, from a third network */
	assert_int_equal(take(rl, "a+x@example.jp", "203.0.113.1", T0),
	    REPLYLIMIT_OVER);
	/* refused takes counted nothing: the third network is still free */
	assert_int_equal(take(rl, "b@example.jp", "203.0.113.1", T0), 0);
	/* the window ends a day after its first receipt */
	assert_int_equal(take(rl, "a@example.jp", "203.0.113.9",
	    T0 + 86399), REPLYLIMIT_OVER);
	assert_int_equal(take(rl, "a@example.jp", "192.0.2.200", T0 + 86400),
	    0);
	/* every site of the spool shares the counts: a site allowing 3
	 * lets a third through, one allowing 2 does not */
	assert_int_equal(replylimit_take(rl, "b@example.jp", "203.0.113.1",
	    3, 86400, T0, err, sizeof err), 0);
	assert_int_equal(take(rl, "b@example.jp", "192.0.2.77", T0),
	    REPLYLIMIT_OVER);
	replylimit_close(rl);
}

static void
network_limit(void **state)
{
	struct replylimit *rl = replylimit_open(dir, err, sizeof err);

	(void)state;
	assert_non_null(rl);
	assert_int_equal(take(rl, "n1@example.jp", "192.0.2.1", T0), 0);
	assert_int_equal(take(rl, "n2@example.jp", "192.0.2.254", T0), 0);
	assert_int_equal(take(rl, "n3@example.jp", "192.0.2.77", T0),
	    REPLYLIMIT_OVER);
	assert_int_equal(take(rl, "n3@example.jp", "192.0.3.1", T0), 0);
	/* IPv6 by /48; an IPv4-mapped address is its IPv4 network */
	assert_int_equal(take(rl, "v1@example.jp", "2001:db8:1:1::1", T0), 0);
	assert_int_equal(take(rl, "v2@example.jp", "2001:db8:1:ffff::2", T0),
	    0);
	assert_int_equal(take(rl, "v3@example.jp", "2001:db8:1::3", T0),
	    REPLYLIMIT_OVER);
	assert_int_equal(take(rl, "v3@example.jp", "2001:db8:2::3", T0), 0);
	assert_int_equal(take(rl, "m1@example.jp", "::ffff:192.0.2.9", T0),
	    REPLYLIMIT_OVER);
	replylimit_close(rl);
}

static void
survives_reopen_and_damage(void **state)
{
	struct replylimit *rl = replylimit_open(dir, err, sizeof err);
	char path[128];
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(take(rl, "r@example.jp", "192.0.2.1", T0), 0);
	assert_int_equal(take(rl, "r@example.jp", "198.51.100.1", T0), 0);
	replylimit_close(rl);
	/* a restart: a new handle sees the counts */
	rl = replylimit_open(dir, err, sizeof err);
	assert_non_null(rl);
	assert_int_equal(take(rl, "r@example.jp", "203.0.113.1", T0),
	    REPLYLIMIT_OVER);
	snprintf(path, sizeof path, "%s/" REPLYLIMIT_FILE, dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 128 + LIM_REPLYLIMIT_SLOTS * 32);
	/* a damaged (short) file starts afresh rather than failing */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(take(rl, "r@example.jp", "203.0.113.1", T0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 128 + LIM_REPLYLIMIT_SLOTS * 32);
	f = fopen(path, "r+");
	assert_non_null(f);
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(take(rl, "r@example.jp", "203.0.113.1", T0), 0);
	replylimit_close(rl);
}

/* A flood of distinct keys keeps the file's size; a key counted just
 * now survives it (the victims are the soonest-ending windows). */
static void
fixed_size_under_flood(void **state)
{
	struct replylimit *rl = replylimit_open(dir, err, sizeof err);
	char addr[64], ip[32], path[128];
	struct stat st;
	int i;

	(void)state;
	assert_non_null(rl);
	for (i = 0; i < 3 * LIM_REPLYLIMIT_SLOTS; i++) {
		snprintf(addr, sizeof addr, "f%d@example.jp", i);
		snprintf(ip, sizeof ip, "10.%d.%d.1", (i >> 8) & 255, i & 255);
		assert_int_not_equal(replylimit_take(rl, addr, ip, 2, 60,
		    T0, err, sizeof err), REPLYLIMIT_ERROR);
	}
	assert_int_equal(replylimit_take(rl, "keep@example.jp",
	    "192.0.2.1", 1, 86400, T0, err, sizeof err), 0);
	for (i = 0; i < LIM_REPLYLIMIT_SLOTS; i++) {
		snprintf(addr, sizeof addr, "g%d@example.jp", i);
		snprintf(ip, sizeof ip, "10.%d.%d.2", (i >> 8) & 255, i & 255);
		replylimit_take(rl, addr, ip, 2, 60, T0 + 1, err,
		    sizeof err);
	}
	assert_int_equal(replylimit_take(rl, "keep@example.jp",
	    "198.51.100.1", 1, 86400, T0 + 2, err, sizeof err),
	    REPLYLIMIT_OVER);
	snprintf(path, sizeof path, "%s/" REPLYLIMIT_FILE, dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 128 + LIM_REPLYLIMIT_SLOTS * 32);
	replylimit_close(rl);
}

/* Four processes take for one address at once: exactly `count` get
 * through (the flock serialises them). */
static void
processes_share(void **state)
{
	struct replylimit *rl;
	int i, ok = 0, status;
	pid_t pid[8];

	(void)state;
	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == 0) {
			struct replylimit *c = replylimit_open(dir, err,
			    sizeof err);
			char ip[32];
			snprintf(ip, sizeof ip, "172.16.%d.1", i);
			_exit(c && replylimit_take(c, "p@example.jp", ip,
			    3, 86400, T0, err, sizeof err) == REPLYLIMIT_OK ?
			    0 : 1);
		}
		assert_true(pid[i] > 0);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	assert_int_equal(ok, 3);
	rl = replylimit_open(dir, err, sizeof err);
	assert_int_equal(replylimit_take(rl, "p@example.jp",
	    "172.31.0.1", 3, 86400, T0, err, sizeof err), REPLYLIMIT_OVER);
	replylimit_close(rl);
}

static void
network_keys(void **state)
{
	char n[64];

	(void)state;
	replylimit_network("203.0.113.77", n, sizeof n);
	assert_string_equal(n, "203.0.113.0/24");
	replylimit_network("2001:db8:abcd:12::1", n, sizeof n);
	assert_string_equal(n, "2001:db8:abcd::/48");
	replylimit_network("::ffff:198.51.100.3", n, sizeof n);
	assert_string_equal(n, "198.51.100.0/24");
	replylimit_network(NULL, n, sizeof n);
	assert_string_equal(n, "unknown");
	replylimit_network("unix:/x", n, sizeof n);
	assert_string_equal(n, "unknown");
}

static void
unwritable_dir(void **state)
{
	(void)state;
	assert_null(replylimit_open("/nonexistent/formpost", err,
	    sizeof err));
	assert_non_null(strstr(err, "autoreply.db"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(address_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(network_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(survives_reopen_and_damage,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(fixed_size_under_flood, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(processes_share, setup,
		    teardown),
		cmocka_unit_test(network_keys),
		cmocka_unit_test(unwritable_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
