/*
 * metrics — the process's counters for GET <prefix>/_metrics, in the
 * Prometheus text exposition format 0.0.4 (doc/design.md "Operations").
 * Counting is on the request and delivery paths, so it costs a hash of
 * a short key and one relaxed atomic add: no lock is taken once a series
 * exists (the first use of a label set takes one mutex).  Series live in
 * a fixed table of LIM_METRICS_SERIES; label values are cut at
 * LIM_METRICS_LABEL bytes and escaped when rendered, so no input grows
 * memory or forges a line.  Counters are per process (Prometheus sums
 * processes).  Never pass form values: labels are site, profile and
 * outcome names, and static reasons.  Thread-safe.
 */
#ifndef FORMPOST_METRICS_H
#define FORMPOST_METRICS_H

#include <stdint.h>

#include "util.h"

/* formpost_posts_total{result}: how a post was answered. */
enum metrics_result {
	MR_ACCEPTED,   /* spooled: 303/200 without a reason */
	MR_SPAM,       /* the quiet success (honeypot, token, replay) */
	MR_DUPLICATE,  /* a double submit answered with the first id */
	MR_INVALID,    /* 422 */
	MR_REJECTED,   /* any other 4xx */
	MR_ERROR,      /* 5xx */
	MR_N
};

/* The result class of an answer (status, and the reason http set:
 * NULL for a plain success, "duplicate", or a spam verdict).  Pure. */
enum metrics_result metrics_result_of(int status, const char *reason);

/* One post for site answered as r. */
void metrics_post(const char *site, enum metrics_result r);

/* Makes site's formpost_posts_total series exist (at 0) before its
 * first post, so a rate over them starts at once; skipped once half the
 * table is used (sites that post are counted anyway). */
void metrics_declare_site(const char *site);

/* One request (any route) took us microseconds, into the histogram
 * formpost_request_duration_seconds. */
void metrics_request_us(uint64_t us);

/* One SMTP transaction of site's message through profile ended in
 * outcome (outcome_name's words). */
void metrics_delivery(const char *site, const char *profile,
    const char *outcome);

/* An auto-reply for site was not sent, for reason (a short static word
 * such as "limit"). */
void metrics_auto_reply_skipped(const char *site, const char *reason);

/* What the caller measures at scrape time; a negative value is left
 * out. */
struct metrics_gauges {
	long long queued, held, failed;  /* messages in queue/ (held: config
	                                  * outcome), failed/ */
	long long oldest_queued;         /* seconds; 0 when queue/ is empty */
	long long spool_free;            /* bytes free to the service user */
	long long resident;              /* bytes of resident memory */
	long long held_uploads;          /* files in hold/, and their bytes */
	long long held_upload_bytes;
};

/* Appends the whole exposition to out (check out->oom).  version is the
 * build's. */
void metrics_render(const struct metrics_gauges *g, const char *version,
    struct buf *out);

/* Appends v escaped as a label value (\\, \", \n). */
void metrics_escape(struct buf *out, const char *v);

/* Forgets every series and observation (tests). */
void metrics_reset(void);

#endif
