/*
 * alert — tells the operator when mail is stuck (doc/design.md
 * "Operations"): one mail through alerts.smtp and/or one webhook POST
 * (JSON with "text" for Slack/Mattermost, "content" for Discord, and
 * event, state, site, id, since, profile) per event kind and site per
 * alerts.min_interval, and an all-clear when a lasting condition ends.
 * Raising never blocks the caller: events go into a bounded queue that
 * one alert thread sends, with LIM_ALERT_TRIES tries per channel; a full
 * queue drops (and logs) the event.  An alert carries ids, site and
 * profile names and server replies, never form values or secrets.
 *
 * The gate (which events to send) and the message text are pure and
 * tested on their own; the thread and its sends are the effects.
 */
#ifndef FORMPOST_ALERT_H
#define FORMPOST_ALERT_H

#include <stddef.h>

#include "config.h"
#include "limits.h"
#include "util.h"

enum alert_kind {
	AK_PROFILE_CONFIG,  /* a profile entered the config state (lasting) */
	AK_PERMANENT,       /* a recipient failed permanently */
	AK_EXPIRED,         /* a message passed max_age */
	AK_SPOOL_FULL,      /* the spool refuses posts (lasting) */
	AK_CORRUPT,         /* a file went to corrupt/ */
	AK_QUEUE_OLD,       /* the oldest queued message passed an hour
	                     * (lasting) */
	AK_N
};

/* "profile_config", "permanent_failure", "expired", "spool_full",
 * "corrupt", "queue_old". */
const char *alert_kind_name(enum alert_kind k);

/* 1 for the kinds that last until they recover (and get an all-clear). */
int alert_kind_lasting(enum alert_kind k);

/* One alert as sent. */
struct alert {
	enum alert_kind kind;
	int resolved;                       /* the all-clear */
	char site[LIM_NAME_BYTES + 1];      /* "" when none */
	char profile[LIM_NAME_BYTES + 1];   /* profile events only */
	char id[64];                        /* a message id, or "" */
	long long since;                    /* epoch: the condition began */
	long long at;                       /* epoch: this alert */
	char detail[200];                   /* a server reply or a count,
	                                     * printable ASCII */
};

/* --- the gate: pure, fixed memory -------------------------------------- */

struct alert_gate;

/* A gate remembering LIM_ALERT_KEYS (kind, site, profile) keys; NULL on
 * OOM.  Not thread-safe (the alert module guards it). */
struct alert_gate *alert_gate_new(void);
void alert_gate_free(struct alert_gate *g);

/* The condition (kind, site, profile) is seen at now.  Returns 1 when an
 * alert goes out (none went for this key within min_interval seconds),
 * with *since the time the condition began; else 0. */
int alert_gate_raise(struct alert_gate *g, enum alert_kind k,
    const char *site, const char *profile, long long now,
    unsigned min_interval, long long *since);

/* The lasting condition kind ended for site (NULL: any site) and profile
 * (NULL: any).  Calls fn for each key whose alert had gone out (it gets
 * an all-clear), and forgets the condition.  Returns how many. */
int alert_gate_clear(struct alert_gate *g, enum alert_kind k,
    const char *site, const char *profile,
    void (*fn)(void *arg, const char *site, const char *profile,
    long long since), void *arg);

/* --- the message: pure -------------------------------------------------- */

/* One line for people: what happened, where, since when, what to do. */
void alert_text(const struct alert *a, const char *host, struct buf *out);

/* The webhook's JSON body: {"text","content","event","state","site",
 * "id","since","profile"?,"detail"}. */
void alert_json(const struct alert *a, const char *host, struct buf *out);

/* The alert mail (RFC 5322, ASCII, CRLF) from `from` to to[0..nto). */
int alert_mail(const struct alert *a, const char *host, const char *from,
    char *const *to, size_t nto, const char *msgid, struct buf *out);

/* --- the process's alerter: effects ----------------------------------- */

/* The current config with a reference, as the sender's hooks. */
typedef const struct config *(*alert_acquire_fn)(void *arg, void **ref);
typedef void (*alert_release_fn)(void *arg, void *ref);

/* Starts the alert thread.  0, or -1 with err.  Until then (and in the
 * CLI) alert_raise and alert_clear do nothing. */
int alert_start(alert_acquire_fn acquire, alert_release_fn release,
    void *arg, char *err, size_t errlen);

/* Stops the thread: what is queued is dropped, a send in progress is
 * abandoned. */
void alert_stop(void);

/* Raises (kind, site, profile) for message id with a detail; site,
 * profile, id and detail may be NULL.  Never blocks on I/O.
 * Thread-safe. */
void alert_raise(enum alert_kind k, const char *site, const char *profile,
    const char *id, const char *detail);

/* The lasting condition ended (see alert_gate_clear).  Cheap when
 * nothing of kind k is active.  Thread-safe. */
void alert_clear(enum alert_kind k, const char *site, const char *profile);

#endif
