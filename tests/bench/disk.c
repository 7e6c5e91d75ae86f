/*
 * disk — the benchmark's reference for the spool's commit: how many
 * "write tmp file → fsync → rename into queue/ → fsync(queue/)" rounds
 * this disk does per second from T concurrent threads, the same steps
 * spool_commit takes for each accepted post.
 *
 *     disk DIR THREADS SECONDS
 *
 * prints "commits_per_s=N sys_us_per_commit=M": the kernel CPU matters as
 * much as the rate on a machine whose cores are shared (on an ext4 without
 * a journal, creating a file scans past recently deleted inodes).
 */
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

static const char *dir;
static atomic_long commits;
static atomic_int stop;

static void *
worker(void *arg)
{
	char tmp[4096], dst[4096], q[4096], data[2048];
	long t = (long)arg, i;
	int fd, dfd;

	memset(data, 'x', sizeof data);
	snprintf(q, sizeof q, "%s/queue", dir);
	for (i = 0; !atomic_load(&stop); i++) {
		snprintf(tmp, sizeof tmp, "%s/tmp/%ld.%ld", dir, t, i);
		snprintf(dst, sizeof dst, "%s/queue/%ld.%ld", dir, t, i);
		if ((fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY, 0600)) == -1 ||
		    write(fd, data, sizeof data) != (ssize_t)sizeof data ||
		    fsync(fd) == -1 || close(fd) == -1 ||
		    rename(tmp, dst) == -1 ||
		    (dfd = open(q, O_RDONLY | O_DIRECTORY)) == -1 ||
		    fsync(dfd) == -1 || close(dfd) == -1) {
			perror("disk");
			exit(1);
		}
		atomic_fetch_add(&commits, 1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[256];
	struct rusage ru;
	char path[4096];
	long i, n, c;

	if (argc != 4 || (n = atol(argv[2])) < 1 || n > 256) {
		fprintf(stderr, "usage: disk DIR THREADS SECONDS\n");
		return 2;
	}
	dir = argv[1];
	snprintf(path, sizeof path, "%s/tmp", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/queue", dir);
	mkdir(path, 0700);
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	sleep((unsigned)atoi(argv[3]));
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	getrusage(RUSAGE_SELF, &ru);
	c = atomic_load(&commits);
	printf("commits_per_s=%.0f sys_us_per_commit=%.0f\n", (double)c /
	    atof(argv[3]), c ? ((double)ru.ru_stime.tv_sec * 1e6 +
	    (double)ru.ru_stime.tv_usec) / (double)c : 0.0);
	return 0;
}
