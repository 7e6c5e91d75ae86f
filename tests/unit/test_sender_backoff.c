/* The sender over a backlog while its only profile is down: a message
 * waiting on the profile's back-off is not read again (open, lock, read,
 * digest) until the profile may be tried, so each back-off step costs one
 * probe's reads, not one read per waiting message.  This program defines
 * open() to count the opens of queue/ files; everything else goes to the
 * real system call.  The "server" accepts and hangs up at once (a
 * profile-level failure), counting the connections: the probes. */
#include "unit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "id.h"
#include "limits.h"
#include "sender.h"
#include "smtp.h"
#include "spool.h"

#define BACKLOG 40

static atomic_int queue_opens;
static atomic_int conns;

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (strstr(path, "/queue/") != NULL)
		atomic_fetch_add(&queue_opens, 1);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static void *
hang_up(void *arg)
{
	int l = *(int *)arg, c;

	/* shutdown(l) in the test ends accept() with an error. */
	while ((c = accept(l, NULL, NULL)) != -1) {
		atomic_fetch_add(&conns, 1);
		close(c);
	}
	return NULL;
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return remove(path);
}

static const struct config *
acquire(void *arg, void **ref)
{
	*ref = NULL;
	return arg;
}

static void
release(void *arg, void *ref)
{
	(void)arg;
	(void)ref;
}

static void
test_backlog_is_not_reread(void **state)
{
	char dir[] = "/tmp/fp-unit-backoff-XXXXXX", err[256], yaml[1024];
	char id[ID_BUF], *rcpt[] = { "info@example.com" };
	static const char wire[] = "Subject: x\r\n\r\nbody\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof sa;
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	struct spool_msg m;
	struct config *c;
	struct spool *sp;
	struct sender *s;
	pthread_t th;
	int l, i, opens, probes;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 64), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &salen), 0);
	assert_int_equal(pthread_create(&th, NULL, hang_up, &l), 0);
	snprintf(yaml, sizeof yaml,
	    "delivery: { first_retry: 1s, max_retry: 1s, max_age: 1h }\n"
	    "smtp:\n"
	    "  main: { url: \"smtp://127.0.0.1:%u\", starttls: off, "
	    "timeout: 5s }\n"
	    "sites:\n"
	    "  example:\n"
	    "    origins: [https://www.example.com]\n"
	    "    from: \"Example <noreply@example.com>\"\n"
	    "    to: [info@example.com]\n"
	    "    smtp: [main]\n"
	    "    fields:\n"
	    "      name: { label: Name }\n", (unsigned)ntohs(sa.sin_port));
	c = config_parse("t.yaml", NULL, yaml, strlen(yaml), err, sizeof err);
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(smtp_global_init(err, sizeof err), 0);
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	for (i = 0; i < BACKLOG; i++) {
		assert_int_equal(id_new(id), 0);
		assert_int_equal(spool_msg_new(&m, id, "example", time(NULL),
		    "noreply@example.com", rcpt, 1, wire, sizeof wire - 1), 0);
		assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
		spool_msg_free(&m);
	}
	atomic_store(&queue_opens, 0);
	s = sender_start(sp, acquire, release, c, err, sizeof err);
	assert_non_null(s);
	/* Five probes: at least three back-off steps have ended. */
	for (i = 0; i < 3000 && atomic_load(&conns) < 5; i++)
		nanosleep(&tick, NULL);
	assert_int_equal(sender_stop(s), 0);
	opens = atomic_load(&queue_opens);
	probes = atomic_load(&conns);
	print_message("queue/ opens %d for %d messages over %d probes\n",
	    opens, BACKLOG, probes);
	assert_true(probes >= 5);
	/* Each message is read once to learn its site; after that, each
	 * step reads its probe, the last step's probe (due on its own
	 * next-try) and what another thread claimed in the same instant.
	 * Re-reading the backlog would be BACKLOG per step. */
	assert_true(opens >= BACKLOG);
	assert_true(opens <= BACKLOG + probes * (DEF_SMTP_CONNECTIONS + 2));
	shutdown(l, SHUT_RDWR);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(l);
	smtp_global_cleanup();
	spool_close(sp);
	config_free(c);
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backlog_is_not_reread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
