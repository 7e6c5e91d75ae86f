/*
 * ops — the spool as operators watch it (doc/design.md "Operations"):
 * the gauges of /_metrics, retention (purging failed/ and sent/), and,
 * in the worker, one thread that checks every LIM_OPS_TICK seconds for
 * a queued message older than LIM_ALERT_OLDEST (an alert) and applies
 * retention every LIM_RETENTION_EVERY seconds, first at start; each tick
 * also removes expired uploads from hold/ (the review step).  Reads
 * headers only, never bodies.
 */
#ifndef FORMPOST_OPS_H
#define FORMPOST_OPS_H

#include "config.h"
#include "spool.h"

struct ops_stats {
	long long queued, held, failed;   /* held: last note is a config
	                                   * outcome */
	long long oldest;                 /* seconds, of the owner's mail (not
	                                   * receipts); 0: none queued */
	char oldest_id[SPOOL_ID_MAX + 1];
	long long free_bytes;
	long long held_uploads;           /* files in hold/ (review step) */
	long long held_upload_bytes;
};

/* Counts queue/ and failed/ at now.  0, or -1 with err. */
int ops_stats(struct spool *sp, long long now, struct ops_stats *out,
    char *err, size_t errlen);

/* Applies c's retention at now: failed/ entries written more than
 * retention_failed ago (unless 0), and sent/ copies older than
 * retention_archive (all of them when it is 0).  Counts in *failed and
 * *sent.  0, or -1 with err. */
int ops_retention(struct spool *sp, const struct config *c, long long now,
    long *failed, long *sent, char *err, size_t errlen);

/* Resident memory of this process in bytes, or -1. */
long long ops_resident(void);

typedef const struct config *(*ops_acquire_fn)(void *arg, void **ref);
typedef void (*ops_release_fn)(void *arg, void *ref);

struct ops;

/* Starts the ops thread over sp (borrowed until ops_stop).  NULL with
 * err. */
struct ops *ops_start(struct spool *sp, ops_acquire_fn acquire,
    ops_release_fn release, void *arg, char *err, size_t errlen);
void ops_stop(struct ops *o);

#endif
