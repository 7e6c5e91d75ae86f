/*
 * sender — background delivery of spooled messages (doc/design.md "A
 * delivery").  A pool of threads, one per SMTP connection the config's
 * profiles allow (`connections` each, LIM_SENDERS_TOTAL in all; a reload
 * that adds connections adds threads), share an in-memory schedule of (due
 * time, id): a fresh commit is due at once (sender_wake signals a
 * condition variable, no polling), a retry at its next-try time.  Every
 * LIM_SPOOL_RESCAN seconds one thread rescans queue/ and schedules the ids
 * it does not hold yet, so several processes (and the CLI) can share a
 * spool and messages a dead process held are picked up without a
 * restart; the claim (flock) keeps each send to one process.  Each
 * thread keeps one smtp_client, so a backlog drains over reused
 * connections; at most `connections` transactions run on one profile at
 * once (a thread waits for a free slot of the profile it needs).
 *
 * A thread whose session offers PIPELINING claims up to LIM_PIPE_WINDOW
 * due messages at once and sends them in flight over that one session
 * (smtp_send_pipelined), each recorded as its final reply arrives;
 * whatever that path does not take goes the one-at-a-time way below.
 *
 * Per message: claim the file (flock), one SMTP transaction for all its
 * pending recipients per profile, each recipient's outcome recorded on its
 * own; temporary and config outcomes try the site's next profile within
 * the same attempt, then back off (first_retry doubling to max_retry);
 * permanent ones go to failed/ at once; max_age sends the rest there.
 * Per profile: a failure before any recipient (connect, TLS, EHLO, AUTH,
 * MAIL) puts the profile itself in back-off, shared by every message, and
 * while it lasts only one message probes it; a message that waits on its
 * site's profiles is not read again (its schedule entry remembers the
 * site) until one of them may be tried.  The config comes from the
 * caller's acquire hook for every message, so a reload (a fixed password)
 * applies to queued messages at once; a message whose site is gone is
 * held as a config outcome.  Never logs bodies or secrets.
 */
#ifndef FORMPOST_SENDER_H
#define FORMPOST_SENDER_H

#include <stddef.h>

#include "config.h"
#include "spool.h"

/* Returns the current config with a reference (*ref) that release drops;
 * both are called from sender threads. */
typedef const struct config *(*sender_acquire_fn)(void *arg, void **ref);
typedef void (*sender_release_fn)(void *arg, void *ref);

struct sender;

/* Schedules every message in the spool's queue/ and starts the threads.
 * sp is borrowed until sender_stop returns.  NULL with err on failure. */
struct sender *sender_start(struct spool *sp, sender_acquire_fn acquire,
    sender_release_fn release, void *arg, char *err, size_t errlen);

/* A message of site, created at `created`, was just committed: deliver
 * it now (unless it is already scheduled or in flight).  While every
 * profile of the site is backing off it waits for them without its file
 * being read (a relay outage costs a post no claim).  Thread-safe. */
void sender_wake(struct sender *s, const char *id, const char *site,
    long long created);

/* The operator's flush (`queue flush`, a reload): every message in
 * queue/ is due now, its own back-off waived until its next attempt, and
 * every profile's back-off lifted (a profile that failed is probed by one
 * message first).  Messages that another process or `queue retry` put in
 * queue/ are picked up.  Thread-safe; reads the directory.  Returns the
 * number of messages in queue/, or -1 with err. */
long sender_flush(struct sender *s, char *err, size_t errlen);

/* Stops taking work, gives in-flight SMTP LIM_STOP_GRACE seconds, then
 * aborts it (those messages stay spooled).  Returns 0 when every thread
 * ended (s is freed), -1 when one is still stuck in libcurl: s is then
 * left alone and the caller must not call smtp_global_cleanup. */
int sender_stop(struct sender *s);

/* Seconds to wait after the n-th failure (n >= 1; 0 counts as 1):
 * first doubling, capped at max.  Pure. */
unsigned sender_backoff(unsigned n, unsigned first, unsigned max);

#endif
