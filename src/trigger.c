/*
 * trigger — the spool's wake-up file and its inotify watcher (see
 * trigger.h).  The watcher never touches the spool's messages: it only
 * tells its owner that an operator asked for a flush.
 */
#include "trigger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

struct trigger {
	int ino;                  /* inotify fd watching the spool dir */
	int stop[2];              /* pipe: a byte asks the thread to end */
	void (*fn)(void *);
	void *arg;
	pthread_t th;
};

int
trigger_fire(const char *spool_dir, char *err, size_t errlen)
{
	char path[4096], line[48];
	int fd, n, rc = 0;

	snprintf(path, sizeof path, "%s/%s", spool_dir, TRIGGER_FILE);
	/* O_NOFOLLOW: whoever can write the spool must not aim us at
	 * another file. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof line, "flush %lld\n", (long long)time(NULL));
	if (write(fd, line, (size_t)n) != n) {
		snprintf(err, errlen, "%s: write failed", path);
		rc = -1;
	}
	/* The close is what the watchers see (IN_CLOSE_WRITE). */
	if (close(fd) == -1 && rc == 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* 1 when the events in buf[0..n) include a write of the trigger file. */
static int
fired(const char *buf, ssize_t n)
{
	const struct inotify_event *ev;
	ssize_t off = 0;
	int hit = 0;

	while (off + (ssize_t)sizeof *ev <= n) {
		ev = (const struct inotify_event *)(buf + off);
		if (ev->len > 0 && strcmp(ev->name, TRIGGER_FILE) == 0)
			hit = 1;
		off += (ssize_t)(sizeof *ev + ev->len);
	}
	return hit;
}

static void *
watch(void *arg)
{
	struct trigger *t = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	struct pollfd p[2] = { { t->ino, POLLIN, 0 }, { t->stop[0], POLLIN,
	    0 } };
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if ((n = read(t->ino, buf, sizeof buf)) <= 0) {
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			break;
		}
		if (fired(buf, n))
			t->fn(t->arg);
	}
	return NULL;
}

struct trigger *
trigger_start(const char *spool_dir, void (*fn)(void *arg), void *arg,
    char *err, size_t errlen)
{
	struct trigger *t = calloc(1, sizeof *t);
	int rc;

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ino = t->stop[0] = t->stop[1] = -1;
	t->fn = fn;
	t->arg = arg;
	if ((t->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(t->ino, spool_dir, IN_CLOSE_WRITE |
	    IN_MOVED_TO) == -1 || pipe2(t->stop, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "watching %s: %s", spool_dir,
		    strerror(errno));
		goto fail;
	}
	if ((rc = pthread_create(&t->th, NULL, watch, t)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		goto fail;
	}
	return t;
fail:
	if (t->ino != -1)
		close(t->ino);
	if (t->stop[0] != -1) {
		close(t->stop[0]);
		close(t->stop[1]);
	}
	free(t);
	return NULL;
}

void
trigger_stop(struct trigger *t)
{
	if (t == NULL)
		return;
	while (write(t->stop[1], "x", 1) == -1 && errno == EINTR)
		;
	pthread_join(t->th, NULL);
	close(t->ino);
	close(t->stop[0]);
	close(t->stop[1]);
	free(t);
}
