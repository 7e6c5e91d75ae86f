/* The spool and `formpost queue` under races and faults, made
 * deterministic: this program defines flock() and pread(), so the spool's
 * claim (open, flock, read) can run a scripted "sender" step at the exact
 * moment a command takes its claim, or see a read error.  Otherwise both
 * go to the real system call. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "queuecmd.h"
#include "spool.h"

static const char WIRE[] = "Subject: x\r\n\r\nbody\r\n";
static const char ID[] = "RACEracerace-_012345";

static void (*hook)(void);     /* run once, at the next flock */
static struct spool *hook_sp;
static int pread_errno;        /* set: the next pread fails with it */

int
flock(int fd, int op)
{
	void (*h)(void) = hook;

	hook = NULL;
	if (h)
		h();
	return (int)syscall(SYS_flock, fd, op);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	if (pread_errno) {
		errno = pread_errno;
		pread_errno = 0;
		return -1;
	}
	return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
}

/* A message for a and b, a already refused for good. */
static void
make(struct spool_msg *m)
{
	char *rcpt[] = { "a@example.com", "b@example.com" };

	assert_int_equal(spool_msg_new(m, ID, "example", 1700000000,
	    "noreply@example.com", rcpt, 2, WIRE, sizeof WIRE - 1), 0);
	m->rcpt[0].state = SPOOL_FAILED;
	m->rcpt[0].code = 550;
	snprintf(m->rcpt[0].reply, sizeof m->rcpt[0].reply, "550 no a");
}

/* The sender's last step for the message: b refused too, the failed
 * record now names both, queue/ID is removed (spool_finish's unlink). */
static void
sender_finishes(void)
{
	struct spool_msg m;
	char err[256];

	make(&m);
	m.rcpt[1].state = SPOOL_FAILED;
	m.rcpt[1].code = 550;
	snprintf(m.rcpt[1].reply, sizeof m.rcpt[1].reply, "550 no b");
	assert_int_equal(spool_write_failed(hook_sp, &m, err, sizeof err), 0);
	assert_int_equal(spool_remove(hook_sp, "queue", ID, err, sizeof err),
	    0);
	spool_msg_free(&m);
}

static void
rm_spool(const char *dir)
{
	static const char *const subs[] = { "tmp", "queue", "failed",
	    "corrupt", "free", "hold" };
	char path[256];
	size_t i;

	snprintf(path, sizeof path, "%s/flush", dir);
	unlink(path);
	for (i = 0; i < 6; i++) {
		snprintf(path, sizeof path, "rm -f %s/%s/*", dir, subs[i]);
		assert_int_equal(system(path), 0);
		snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
		assert_int_equal(rmdir(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* `queue retry` reads failed/ID while the sender finishes the message:
 * the record it then removes must not be newer than the one it queues
 * again, or b is neither queued nor in failed/. */
static void
test_retry_while_the_sender_finishes(void **state)
{
	char dir[] = "/tmp/fp-unit-qrace-XXXXXX", err[256];
	struct spool_msg m, got;
	struct spool *sp;
	FILE *out;
	char *text = NULL;
	size_t textlen = 0, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	assert_int_equal(spool_write_failed(sp, &m, err, sizeof err), 0);
	spool_msg_free(&m);

	hook_sp = sp;
	hook = sender_finishes;
	assert_non_null(out = open_memstream(&text, &textlen));
	assert_int_equal(queuecmd_retry(sp, ID, out), 0);
	fclose(out);
	assert_null(hook);

	/* Both refused recipients are queued again; failed/ is empty. */
	assert_int_equal(spool_read(sp, "queue", ID, &got, err, sizeof err),
	    0);
	assert_int_equal(got.nrcpt, 2);
	for (i = 0; i < got.nrcpt; i++)
		assert_int_equal(got.rcpt[i].state, SPOOL_PENDING);
	assert_string_equal(got.rcpt[1].addr, "b@example.com");
	spool_msg_free(&got);
	assert_int_equal(spool_read(sp, "failed", ID, &got, err, sizeof err),
	    1);
	assert_non_null(strstr(text, "2 recipients queued again"));
	free(text);
	spool_close(sp);
	rm_spool(dir);
}

/* A read error while claiming is no proof that the file is bad: the
 * message stays in queue/ for a later try, and the next claim works. */
static void
test_read_error_is_not_corruption(void **state)
{
	char dir[] = "/tmp/fp-unit-qrace-XXXXXX", err[256], path[256];
	struct spool_msg m, got;
	struct spool *sp;
	int fd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	make(&m);
	assert_int_equal(spool_commit(sp, &m, err, sizeof err), 0);
	spool_msg_free(&m);

	pread_errno = EIO;
	assert_int_equal(spool_claim(sp, ID, &got, &fd, err, sizeof err),
	    SPOOL_ERROR);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "Input/output error"));
	snprintf(path, sizeof path, "%s/queue/%s", dir, ID);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/corrupt/%s", dir, ID);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(spool_queued(sp), 1);

	assert_int_equal(spool_claim(sp, ID, &got, &fd, err, sizeof err),
	    SPOOL_CLAIMED);
	assert_int_equal(got.nrcpt, 2);
	spool_msg_free(&got);
	spool_release(fd);
	spool_close(sp);
	rm_spool(dir);
}

/* Something in queue/ under an id's name that is not a regular file (a
 * FIFO would block open() for ever, a sender thread with it): set aside
 * at once, and `queue list` does not hang on it either. */
static void
test_fifo_in_queue_is_set_aside(void **state)
{
	char dir[] = "/tmp/fp-unit-qrace-XXXXXX", err[256], path[256];
	struct spool_msg got;
	struct spool *sp;
	int fd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(sp = spool_open(dir, err, sizeof err));
	snprintf(path, sizeof path, "%s/queue/%s", dir, ID);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);                    /* a hang fails the test */
	assert_int_equal(spool_read(sp, "queue", ID, &got, err, sizeof err),
	    -1);
	assert_int_equal(spool_claim(sp, ID, &got, &fd, err, sizeof err),
	    SPOOL_CORRUPT);
	alarm(0);
	assert_int_equal(fd, -1);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/corrupt/%s", dir, ID);
	assert_int_equal(access(path, F_OK), 0);
	spool_close(sp);
	rm_spool(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_while_the_sender_finishes),
		cmocka_unit_test(test_read_error_is_not_corruption),
		cmocka_unit_test(test_fifo_in_queue_is_set_aside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
