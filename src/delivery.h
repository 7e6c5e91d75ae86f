/*
 * delivery — what the sender does after each outcome, as pure functions
 * (the classification itself is outcome.c's): a recipient's new state, a
 * profile's back-off, and what becomes of the message before and after
 * an attempt.  No I/O, no clock, no globals; table-tested
 * (tests/unit/test_delivery.c).  sender.c acts on the answers.
 */
#ifndef FORMPOST_DELIVERY_H
#define FORMPOST_DELIVERY_H

#include <stddef.h>

#include "outcome.h"
#include "spool.h"

/* A recipient's state after a transaction in which it had outcome o:
 * sent, failed for good (permanent), else still pending (temporary and
 * config outcomes try the next profile, then back off). */
enum spool_state delivery_rcpt_state(enum outcome o);

/* The history's word for an outcome (spool_event): the same four. */
enum spool_event delivery_event(enum outcome o);

/* 1 when the profile itself failed, not this message: every message
 * would fail alike, so the profile backs off for all of them.  That is
 * a temporary or config outcome before any recipient was accepted
 * (phase up to MAIL), or a server that offered no AUTH to our username
 * (only found out at DATA). */
int delivery_profile_failed(enum outcome o, enum smtp_phase phase,
    enum smtp_fail fail);

/* What an attempt at a claimed, due message starts with. */
enum delivery_start {
	DS_EXPIRE,   /* past max_age: every pending recipient fails */
	DS_HOLD,     /* its site is gone from the config: hold, never guess
	              * a route (a config outcome) */
	DS_SETTLE,   /* nothing pending: an earlier try could not finish
	              * (write failed/, remove); do that now */
	DS_SEND,     /* try the site's profiles in order */
};
enum delivery_start delivery_start(int expired, int have_site,
    size_t pending);

/* What becomes of the message file after an attempt. */
enum delivery_next {
	DN_WAIT,     /* nothing was tried (every profile resting): reschedule
	              * when one may be, no attempt counted */
	DN_FINISH,   /* nothing pending: remove it from queue/ */
	DN_RETRY,    /* recipients pending: count the attempt, back off */
};
struct delivery_plan {
	enum delivery_next next;
	int write_failed;   /* write failed/ID first (new failures, or the
	                     * last record of a message with any) */
};

/* tried: an attempt was made (or the message settled without one);
 * pending, failed: its recipients now; failed_before: failed ones
 * before the attempt. */
struct delivery_plan delivery_after(int tried, size_t pending, size_t failed,
    size_t failed_before);

/* Seconds after which message id's pending recipients are given up: the
 * config's max_age, and at most LIM_RECEIPT_MAX_AGE for a receipt
 * (doc/design.md "Auto-reply and carrier mail"). */
long long delivery_max_age(unsigned max_age, const char *id);

#endif
