/*
 * bench_metrics — what counting costs the request path: metrics_post and
 * metrics_request_us (what serve.c adds per request) in a loop, from one
 * thread and from two threads hitting the same series (the worst case:
 * one cache line shared), in ns per request.  Compare with the CPU per
 * request that run.py prints (tens of microseconds for the cheapest
 * rejection).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "metrics.h"

#define N 5000000

static void *
loop(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < N; i++) {
		metrics_post("example", MR_ACCEPTED);
		metrics_request_us(1200);
	}
	return NULL;
}

static double
ns_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0->tv_nsec);
}

int
main(void)
{
	struct timespec t0;
	pthread_t th[2];
	double one, two;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	loop(NULL);
	one = ns_since(&t0) / N;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, loop, NULL) != 0)
			return 1;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	two = ns_since(&t0) / N;
	printf("metrics per request: %.0f ns (1 thread), %.0f ns (2 threads, "
	    "one series)\n", one, two);
	return 0;
}
