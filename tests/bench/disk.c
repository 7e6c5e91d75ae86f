/*
 * disk — the benchmark's reference for the spool's commit: how many
 * "write tmp file → fsync → rename into queue/ → fsync(queue/)" rounds
 * this disk does per second from T concurrent threads, the same steps
 * spool_commit takes for each accepted post.
 *
 *     disk DIR THREADS SECONDS [MODE]
 *
 * prints "commits_per_s=N sys_us_per_commit=M": the kernel CPU matters as
 * much as the rate on a machine whose cores are shared (on an ext4 without
 * a journal, creating a file scans past recently deleted inodes).
 *
 * MODE compares the spool's candidate layouts (doc/design.md
 * "Performance") with a delivery running: two more threads take every
 * committed file out of queue/ again, as the sender does.
 *   plain    commits only, nothing removed (the default; the reference)
 *   create   a new file per commit; delivered files are unlinked
 *   reuse    delivered files are renamed to free/ and emptied; a commit
 *            writes a free file and renames it into queue/ (a new one
 *            only when none is free)
 *   group    create, with queue/'s fsync shared: one fsync that starts
 *            after a change covers every change made before it
 *   reuse+group
 *   spread   create, each thread creating in its own tmp/N/ (spreads the
 *            creates' directory lock and inode placement)
 *   keep     reuse+group, but a delivered file keeps its blocks (not
 *            emptied): the next commit overwrites them in place
 *   segment  no file per message: every commit appends its record to one
 *            shared log file and waits for an fdatasync that started
 *            after its write (one per batch of waiting writers); a
 *            delivery appends a "done" record the same way (group commit
 *            of the data, the shape a log-structured spool would take)
 *   syncfs   reuse+group, but no fsync per file: one syncfs (the whole
 *            file system) shared by the waiting writers makes the data
 *            durable before the rename, and another the rename
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING 4096

static const char *dir;
static atomic_long commits, delivered;
static atomic_int stop;
static int reuse, group, deleters, spread, keep, segment, usesyncfs;
static int segfd = -1;
static atomic_long segoff;

/* Committed names waiting for a deleter (a writer waits while the ring
 * is full: intake cannot outrun delivery for ever), and free names waiting for a
 * commit: two rings under one mutex. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static pthread_cond_t room = PTHREAD_COND_INITIALIZER;
static char queued[RING][32], freed[RING][32];
static size_t qh, qn, fh, fn;

/* Group commit of queue/'s fsync. */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;
static unsigned long long changed, synced;
static int running;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
fsync_path(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY);

	if (fd == -1 || fsync(fd) == -1 || close(fd) == -1)
		die("fsync dir");
}

/* The segment's group commit: the same ticket scheme as queue/'s below,
 * over the log file's data. */
static void
sync_segment(void)
{
	if (fdatasync(segfd) == -1)
		die("fdatasync segment");
}

static void
sync_queue(void)
{
	char q[4096];
	unsigned long long t, mark;

	snprintf(q, sizeof q, "%s/queue", dir);
	if (!group) {
		fsync_path(q);
		return;
	}
	pthread_mutex_lock(&gmu);
	t = ++changed;
	while (synced < t) {
		if (running) {
			pthread_cond_wait(&gcv, &gmu);
			continue;
		}
		mark = changed;
		running = 1;
		pthread_mutex_unlock(&gmu);
		if (segment)
			sync_segment();
		else if (usesyncfs) {
			if (syncfs(segfd) == -1)
				die("syncfs");
		} else
			fsync_path(q);
		pthread_mutex_lock(&gmu);
		running = 0;
		if (mark > synced)
			synced = mark;
		pthread_cond_broadcast(&gcv);
	}
	pthread_mutex_unlock(&gmu);
}

static int
pop(char ring[RING][32], size_t *h, size_t *n, char *out, int wait)
{
	int got = 0;

	pthread_mutex_lock(&mu);
	while (wait && *n == 0 && !atomic_load(&stop))
		pthread_cond_wait(&more, &mu);
	if (*n > 0) {
		memcpy(out, ring[*h], 32);
		*h = (*h + 1) % RING;
		(*n)--;
		got = 1;
		pthread_cond_broadcast(&room);
	}
	pthread_mutex_unlock(&mu);
	return got;
}

static int
push(char ring[RING][32], const size_t *h, size_t *n, const char *name)
{
	int ok = 0;

	pthread_mutex_lock(&mu);
	while (*n == RING && ring == queued && !atomic_load(&stop))
		pthread_cond_wait(&room, &mu);
	if (*n < RING) {
		snprintf(ring[(*h + *n) % RING], 32, "%s", name);
		(*n)++;
		ok = 1;
	}
	pthread_cond_broadcast(&more);
	pthread_mutex_unlock(&mu);
	return ok;
}

/* Appends len bytes to the segment and returns once they are on disk. */
static void
append_one(const char *data, size_t len)
{
	off_t at = (off_t)atomic_fetch_add(&segoff, (long)len);

	if (pwrite(segfd, data, len, at) != (ssize_t)len)
		die("segment write");
	sync_queue();
}

static void
commit_one(long t, long i, const char *data, size_t len)
{
	char name[32], fname[32], src[4096], dst[4096];
	int fd = -1;

	snprintf(name, sizeof name, "%ld.%ld", t, i);
	if (segment) {
		append_one(data, len);
		atomic_fetch_add(&commits, 1);
		if (deleters)
			push(queued, &qh, &qn, name);
		return;
	}
	snprintf(dst, sizeof dst, "%s/queue/%s", dir, name);
	if (reuse && pop(freed, &fh, &fn, fname, 0)) {
		snprintf(src, sizeof src, "%s/free/%s", dir, fname);
		fd = open(src, O_WRONLY);
	}
	if (fd == -1 && spread) {
		snprintf(src, sizeof src, "%s/tmp/%ld/%s", dir, t % 16, name);
		fd = open(src, O_CREAT | O_EXCL | O_WRONLY, 0600);
	} else if (fd == -1) {
		snprintf(src, sizeof src, "%s/tmp/%s", dir, name);
		fd = open(src, O_CREAT | O_EXCL | O_WRONLY, 0600);
	}
	if (fd == -1 || write(fd, data, len) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) == -1 ||
	    (!usesyncfs && fsync(fd) == -1))
		die("commit");
	if (usesyncfs)
		sync_queue();
	if (close(fd) == -1 || rename(src, dst) == -1)
		die("commit");
	sync_queue();
	atomic_fetch_add(&commits, 1);
	if (deleters)
		push(queued, &qh, &qn, name);   /* dropped only when stopping */
}

static void *
writer(void *arg)
{
	char data[2048];
	long t = (long)arg, i;

	memset(data, 'x', sizeof data);
	for (i = 0; !atomic_load(&stop); i++)
		commit_one(t, i, data, sizeof data);
	return NULL;
}

static void *
deleter(void *arg)
{
	char name[32], q[4096], f[4096];

	(void)arg;
	while (pop(queued, &qh, &qn, name, 1)) {
		if (segment) {
			char rec[64];

			snprintf(rec, sizeof rec, "%-62s\n", name);
			append_one(rec, 63);
			atomic_fetch_add(&delivered, 1);
			continue;
		}
		snprintf(q, sizeof q, "%s/queue/%s", dir, name);
		snprintf(f, sizeof f, "%s/free/%s", dir, name);
		if (reuse && fn < RING / 2) {
			if (rename(q, f) == -1)
				die("rename to free");
			sync_queue();
			if ((!keep && truncate(f, 0) == -1) ||
			    !push(freed, &fh, &fn, name))
				die("free");
		} else {
			if (unlink(q) == -1)
				die("unlink");
			sync_queue();
		}
		atomic_fetch_add(&delivered, 1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[260];
	struct rusage ru;
	char path[4096];
	const char *mode = argc > 4 ? argv[4] : "plain";
	long i, n, c, nd;

	if ((argc != 4 && argc != 5) || (n = atol(argv[2])) < 1 || n > 256) {
		fprintf(stderr, "usage: disk DIR THREADS SECONDS "
		    "[plain|create|reuse|group|reuse+group|spread|keep|segment|syncfs]\n");
		return 2;
	}
	dir = argv[1];
	deleters = strcmp(mode, "plain") != 0 ? 2 : 0;
	reuse = strncmp(mode, "reuse", 5) == 0;
	group = strstr(mode, "group") != NULL;
	spread = strcmp(mode, "spread") == 0;
	keep = strcmp(mode, "keep") == 0;
	segment = strcmp(mode, "segment") == 0;
	usesyncfs = strcmp(mode, "syncfs") == 0;
	if (usesyncfs)
		reuse = group = 1;
	if (keep)
		reuse = group = 1;
	if (segment)
		group = 1;
	snprintf(path, sizeof path, "%s/tmp", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/queue", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/free", dir);
	mkdir(path, 0700);
	for (i = 0; spread && i < 16; i++) {
		snprintf(path, sizeof path, "%s/tmp/%ld", dir, i);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof path, "%s/segment", dir);
	if (segment && (segfd = open(path, O_CREAT | O_TRUNC | O_WRONLY,
	    0600)) == -1)
		die("segment");
	if (usesyncfs && (segfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		die("syncfs dir");
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, writer, (void *)i);
	for (i = 0; i < deleters; i++)
		pthread_create(&th[n + i], NULL, deleter, NULL);
	sleep((unsigned)atoi(argv[3]));
	atomic_store(&stop, 1);
	pthread_mutex_lock(&mu);
	pthread_cond_broadcast(&more);
	pthread_cond_broadcast(&room);
	pthread_mutex_unlock(&mu);
	for (i = 0; i < n + deleters; i++)
		pthread_join(th[i], NULL);
	getrusage(RUSAGE_SELF, &ru);
	c = atomic_load(&commits);
	nd = atomic_load(&delivered);
	printf("commits_per_s=%.0f sys_us_per_commit=%.0f delivered_per_s=%.0f "
	    "cpu_us_per_message=%.0f\n", (double)c / atof(argv[3]),
	    c ? ((double)ru.ru_stime.tv_sec * 1e6 +
	    (double)ru.ru_stime.tv_usec) / (double)c : 0.0,
	    (double)nd / atof(argv[3]),
	    c ? ((double)(ru.ru_stime.tv_sec + ru.ru_utime.tv_sec) * 1e6 +
	    (double)(ru.ru_stime.tv_usec + ru.ru_utime.tv_usec)) /
	    (double)c : 0.0);
	return 0;
}
