/*
 * ops — gauges, retention and the ops thread (see ops.h).
 */
#include "ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "hold.h"
#include "limits.h"
#include "log.h"
#include "outcome.h"

struct tally {
	struct spool *sp;
	struct ops_stats *st;
	long long now;
};

static void
tally_one(void *arg, const char *id)
{
	struct tally *t = arg;
	struct spool_peek pk;

	if (spool_peek(t->sp, "queue", id, &pk) == -1)
		return;               /* delivered meanwhile, or torn */
	t->st->queued++;
	if (outcome_note_class(pk.reply) == OUT_CONFIG)
		t->st->held++;
	/* The age alert is the owner's mail being late; a receipt's delay
	 * is only logged (doc/design.md "Operations"). */
	if (!spool_id_is_receipt(id) && t->now - pk.created > t->st->oldest) {
		t->st->oldest = t->now - pk.created;
		snprintf(t->st->oldest_id, sizeof t->st->oldest_id, "%s", id);
	}
}

int
ops_stats(struct spool *sp, long long now, struct ops_stats *out, char *err,
    size_t errlen)
{
	struct tally t = { sp, out, now };
	struct hold_use h;
	long f;

	memset(out, 0, sizeof *out);
	if (spool_scan(sp, tally_one, &t, err, errlen) == -1 ||
	    (f = spool_scan_in(sp, "failed", NULL, NULL, err, errlen)) == -1)
		return -1;
	out->failed = f;
	out->free_bytes = (long long)spool_free_bytes(sp);
	if (hold_usage(spool_path(sp), &h) == 0) {
		out->held_uploads = h.files;
		out->held_upload_bytes = (long long)h.bytes;
	} else   /* no hold/ yet: nothing held */
		out->held_uploads = out->held_upload_bytes = 0;
	return 0;
}

int
ops_retention(struct spool *sp, const struct config *c, long long now,
    long *failed, long *sent, char *err, size_t errlen)
{
	*failed = *sent = 0;
	if (c->retention_failed > 0 && (*failed = spool_purge(sp, "failed",
	    now - (long long)c->retention_failed, err, errlen)) == -1)
		return -1;
	/* archive 0: copies kept under an earlier setting go too. */
	if ((*sent = spool_purge(sp, "sent", c->retention_archive ?
	    now - (long long)c->retention_archive : now + 1, err, errlen))
	    == -1)
		return -1;
	return 0;
}

long long
ops_resident(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long long size, res;
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%lld %lld", &size, &res);
	fclose(f);
	return n == 2 ? res * sysconf(_SC_PAGESIZE) : -1;
}

struct ops {
	struct spool *sp;
	ops_acquire_fn acquire;
	ops_release_fn release;
	void *arg;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void
retention_run(struct ops *o, long long now)
{
	const struct config *c;
	char err[512], nf[24], ns[24];
	long f, s;
	void *ref;

	c = o->acquire(o->arg, &ref);
	if (ops_retention(o->sp, c, now, &f, &s, err, sizeof err) == -1)
		log_event(LOG_ERROR, "retention_failed", "error", err,
		    (char *)NULL);
	else if (f + s > 0) {
		snprintf(nf, sizeof nf, "%ld", f);
		snprintf(ns, sizeof ns, "%ld", s);
		log_event(LOG_INFO, "retention", "failed_purged", nf,
		    "sent_purged", ns, (char *)NULL);
	}
	o->release(o->arg, ref);
}

/* hold/: uploads held longer than any site's token.max_age
 * (doc/design.md "The review step"); by age only, since other processes
 * sharing the spool hold files too. */
static void
hold_run(struct ops *o, long long now)
{
	const struct config *c;
	struct hold_use u;
	char err[512], n[24];
	void *ref;

	c = o->acquire(o->arg, &ref);
	if (hold_sweep(spool_path(o->sp), now, config_hold_max_age(c), &u,
	    err, sizeof err) == -1)
		log_event(LOG_ERROR, "hold_sweep_failed", "error", err,
		    (char *)NULL);
	else if (u.removed > 0) {
		snprintf(n, sizeof n, "%ld", u.removed);
		log_event(LOG_INFO, "hold_expired", "removed", n,
		    (char *)NULL);
	}
	o->release(o->arg, ref);
}

static void
age_check(struct ops *o, long long now)
{
	struct ops_stats st;
	char err[512], age[64];

	if (ops_stats(o->sp, now, &st, err, sizeof err) == -1)
		return;
	if (st.oldest > LIM_ALERT_OLDEST) {
		snprintf(age, sizeof age, "oldest queued for %llds",
		    st.oldest);
		alert_raise(AK_QUEUE_OLD, NULL, NULL, st.oldest_id, age);
	} else
		alert_clear(AK_QUEUE_OLD, NULL, NULL);
}

static void *
run(void *arg)
{
	struct ops *o = arg;
	long long now, last_retention = 0;
	struct timespec until;

	pthread_mutex_lock(&o->mu);
	while (!o->stop) {
		pthread_mutex_unlock(&o->mu);
		now = (long long)time(NULL);
		if (last_retention == 0 ||
		    now - last_retention >= LIM_RETENTION_EVERY) {
			retention_run(o, now);
			last_retention = now;
		}
		hold_run(o, now);
		age_check(o, now);
		pthread_mutex_lock(&o->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LIM_OPS_TICK;
		while (!o->stop && pthread_cond_timedwait(&o->cv, &o->mu,
		    &until) == 0)
			;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

struct ops *
ops_start(struct spool *sp, ops_acquire_fn acquire, ops_release_fn release,
    void *arg, char *err, size_t errlen)
{
	struct ops *o = calloc(1, sizeof *o);

	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->sp = sp;
	o->acquire = acquire;
	o->release = release;
	o->arg = arg;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pthread_create(&o->th, NULL, run, o) != 0) {
		snprintf(err, errlen, "cannot start the ops thread");
		free(o);
		return NULL;
	}
	return o;
}

void
ops_stop(struct ops *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = 1;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->th, NULL);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o);
}
