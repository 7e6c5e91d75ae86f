/*
 * sender — delivery threads over the spool (see sender.h).  The request
 * threads never speak SMTP: they commit and call sender_wake.  One mutex
 * guards the schedule (a binary min-heap on due time, plus the set of ids
 * it holds or has in flight) and the per-profile back-off table; it is
 * never held across I/O.  What a message has reached is in its spool
 * file, never only in memory: the schedule is rebuilt from queue/ at
 * start, and queue/ is rescanned every LIM_SPOOL_RESCAN seconds for what
 * other processes committed or a dead one left behind; the id set keeps
 * each id scheduled once however often it is found.  The schedule holds
 * at most LIM_SCHEDULE messages, so memory does not grow with a backlog:
 * the others wait in queue/, where a rescan finds them once there is room
 * (doc/design.md "The schedule's bound").
 */
#include "sender.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "delivery.h"
#include "idset.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "smtp.h"
#include "util.h"


struct entry {
	long long due;
	int deferred;              /* waiting on a profile's back-off */
	char id[SPOOL_ID_MAX + 1];
	/* Deferred: the message's site and creation time, so the next
	 * turn can ask the site's profiles before reading the file. */
	char site[LIM_NAME_BYTES + 1];
	long long created;
};

struct pstate {
	char name[LIM_NAME_BYTES + 1];
	unsigned failures;         /* consecutive profile-level failures */
	long long next_ok;         /* no attempt before (epoch seconds) */
	int probing;               /* one message is testing it now */
	unsigned busy;             /* transactions in flight (its slots) */
	enum outcome state;        /* OUT_SENT: healthy */
};

struct sender {
	struct spool *sp;
	sender_acquire_fn acquire;
	sender_release_fn release;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* work may be due */
	pthread_cond_t idle;       /* a thread ended */
	pthread_cond_t slot;       /* a profile's transaction ended */
	struct entry *heap;        /* guarded by mu */
	size_t n, cap;
	long long maxdue;          /* no entry is due later (a bound) */
	struct idset *known;       /* ids in heap or in flight, with counts */
	struct idset *newer;       /* ids of newer formposts' files, warned
	                            * about once */
	long long next_rescan;     /* epoch seconds */
	int scanning;              /* a thread is rescanning queue/ */
	int overflow;              /* a message was left in queue/ for want
	                            * of room since the last rescan began */
	int overflow_said;         /* ... and the log says so */
	size_t popped;             /* entries taken since that rescan */
	long long left_min;        /* the earliest due left in queue/ (or
	                            * evicted) since that rescan began */
	long long retimed_at;      /* a profile recovered: queue/ dates
	                            * written until then may be too late */
	struct pstate ps[LIM_SENDER_PROFILES];
	size_t nps;
	/* Flushed ids (sorted): their files' next-try is waived until their
	 * next attempt.  In flight: ids being delivered, out of the heap. */
	char (*forced)[SPOOL_ID_MAX + 1];
	size_t nforced;
	int stopping;
	int running;               /* threads not yet ended */
	atomic_int abort;          /* in-flight SMTP must give up */
	pthread_t th[LIM_SENDERS_TOTAL];
	size_t nth;                /* guarded by mu once running */
};

unsigned
sender_backoff(unsigned n, unsigned first, unsigned max)
{
	unsigned long long d = first;

	while (n-- > 1 && d < max)
		d *= 2;
	return d > max ? max : (unsigned)d;
}

/* --- schedule (mu held) ------------------------------------------------ */

#define NO_EVICT (-1LL)   /* heap_push's after: only fill free room */

static void
heap_swap(struct sender *s, size_t a, size_t b)
{
	struct entry t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
}

static void
heap_down(struct sender *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n && s->heap[l].due < s->heap[m].due)
			m = l;
		if (r < s->n && s->heap[r].due < s->heap[m].due)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

/* The schedule is full: evicts the entry due latest if it is due later
 * than `after` (it stays in queue/; the id set forgets it, so a rescan
 * finds it again) and returns its index, a leaf's, or s->n when none is
 * later.  A backlog all due now costs no walk: maxdue says so. */
static size_t
evict_later(struct sender *s, long long after)
{
	size_t i, m = s->n;
	long long latest = after;

	if (s->maxdue <= after)
		return s->n;
	/* In a min-heap the latest entry is a leaf. */
	for (i = s->n / 2; i < s->n; i++)
		if (s->heap[i].due > latest) {
			latest = s->heap[i].due;
			m = i;
		}
	/* Exact when nothing is later, else the evicted one's: a bound. */
	s->maxdue = latest;
	if (m < s->n) {
		idset_drop(s->known, s->heap[m].id);
		if (latest < s->left_min)
			s->left_min = latest;
	}
	return m;
}

/* site: the message waits on its site's profiles (created: its
 * creation time); NULL: it waits on nothing but due.  A full schedule
 * makes room by evicting an entry due later than `after` (at least due,
 * and now: what is due already is never evicted), unless after is
 * NO_EVICT.  Returns 0, 1 when the message was left in queue/ for want
 * of room (as is an evicted one: both set overflow), or -1 on OOM. */
static int
heap_push(struct sender *s, const char *id, long long due, const char *site,
    long long created, long long after)
{
	size_t i;

	if (s->n == LIM_SCHEDULE) {
		s->overflow = 1;
		if (after == NO_EVICT || (i = evict_later(s, after)) == s->n) {
			if (due < s->left_min)
				s->left_min = due;
			return 1;
		}
	} else {
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 64;
			struct entry *t;
			if (cap > LIM_SCHEDULE)
				cap = LIM_SCHEDULE;
			if ((t = realloc(s->heap, cap * sizeof *t)) == NULL)
				return -1;
			s->heap = t;
			s->cap = cap;
		}
		i = s->n++;
	}
	if (s->n == 1 || due > s->maxdue)
		s->maxdue = due;
	s->heap[i].due = due;
	s->heap[i].deferred = site != NULL;
	str_copy(s->heap[i].id, sizeof s->heap[i].id, id);
	str_copy(s->heap[i].site, sizeof s->heap[i].site, site ? site : "");
	s->heap[i].created = created;
	while (i > 0 && s->heap[(i - 1) / 2].due > s->heap[i].due) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

/* Pushes id and counts it as known; 0, or as heap_push 1 (left in
 * queue/) or -1 (OOM), when neither happened. */
static int
push_known(struct sender *s, const char *id, long long due, const char *site,
    long long created, long long after)
{
	int rc;

	if (idset_add(s->known, id) == -1)
		return -1;
	if ((rc = heap_push(s, id, due, site, created, after)) != 0)
		idset_drop(s->known, id);
	return rc;
}

static struct entry
heap_pop(struct sender *s)
{
	struct entry top = s->heap[0];

	s->heap[0] = s->heap[--s->n];
	heap_down(s, 0);
	return top;
}

/* Entries due later than `when` become due then: all of them (a rescan
 * asked for: each is re-read from its file, whose next-try is the truth),
 * or only those waiting on a profile (it recovered or its back-off
 * changed; they recheck for themselves). */
static void
retime(struct sender *s, long long when, int only_deferred)
{
	size_t i;

	s->maxdue = 0;
	for (i = 0; i < s->n; i++) {
		if ((s->heap[i].deferred || !only_deferred) &&
		    s->heap[i].due > when)
			s->heap[i].due = when;
		if (s->heap[i].due > s->maxdue)
			s->maxdue = s->heap[i].due;
	}
	for (i = s->n / 2; i-- > 0;)
		heap_down(s, i);
}

/* A profile recovered (or its probe was given up, or a flush): what
 * waits on it in queue/ may go now, whatever its file's date says. */
static void
recovered(struct sender *s, long long now)
{
	/* Not the caller's now, which may be when its turn began: a file
	 * dated meanwhile (a probe's bound) must count as before. */
	long long at = (long long)time(NULL);

	retime(s, now, 1);
	s->retimed_at = at > now ? at : now;
	if (now < s->left_min)
		s->left_min = now;
}

static void
schedule_failed(const char *id)
{
	/* Still spooled: the next rescan or start picks it up. */
	log_event(LOG_ERROR, "schedule_failed", "id", id, "error",
	    "out of memory", "action", "picked up by the next rescan",
	    (char *)NULL);
}

/* (Re)schedules id, which the caller has in flight; site as for
 * heap_push.  A full schedule leaves it in queue/ unless another entry
 * is due later. */
static void
schedule(struct sender *s, const char *id, long long due, const char *site,
    long long created)
{
	long long now = (long long)time(NULL);
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = push_known(s, id, due, site, created, due > now ? due : now);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (rc == -1)
		schedule_failed(id);
}

/* Schedules id at `due` unless it is already scheduled or in flight;
 * site, created and after as for heap_push (NULL, 0: not known yet).  1
 * when it was new, 0 when known, 2 when left in queue/ (full), -1 on
 * OOM.  mu held. */
static int
schedule_new(struct sender *s, const char *id, long long due,
    const char *site, long long created, long long after)
{
	int rc;

	if (idset_get(s->known, id) > 0)
		return 0;
	if ((rc = push_known(s, id, due, site, created, after)) != 0)
		return rc == -1 ? -1 : 2;
	pthread_cond_signal(&s->cv);
	return 1;
}

void
sender_wake(struct sender *s, const char *id, const char *site,
    long long created)
{
	long long now = (long long)time(NULL);
	int rc;

	/* Scheduled as waiting on its site's profiles: begin asks them
	 * before the file, as for a message a back-off deferred. */
	pthread_mutex_lock(&s->mu);
	rc = schedule_new(s, id, now, site, created, now);
	pthread_mutex_unlock(&s->mu);
	if (rc == -1)
		schedule_failed(id);
}

/* --- per-profile back-off (takes mu) ------------------------------------ */

static struct pstate *
pstate_get(struct sender *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nps; i++)
		if (strcmp(s->ps[i].name, name) == 0)
			return &s->ps[i];
	if (s->nps == LIM_SENDER_PROFILES)
		return NULL;   /* untracked: never backed off */
	snprintf(s->ps[s->nps].name, sizeof s->ps[0].name, "%s", name);
	return &s->ps[s->nps++];
}

/* 1: p may not be used before *until (backing off, or its one probe is
 * out); 0: now.  mu held. */
static int
resting(const struct pstate *p, long long now, long long *until)
{
	if (!p->probing && p->next_ok <= now)
		return 0;
	/* A probe in flight re-times us when it ends. */
	*until = p->probing ? now + LIM_SMTP_ATTEMPT : p->next_ok;
	return 1;
}

/* 1: use the profile now, holding one of its `connections` slots
 * (waits for one: at most that many transactions run on a profile at
 * once); when it is backing off, the caller is its one probe.  0: not
 * before *until (nothing held).  Every 1 ends in profile_done or
 * profile_abandon, which give the slot back. */
static int
profile_take(struct sender *s, const struct smtp_profile *sp, long long now,
    long long *until)
{
	struct pstate *p;
	int ok = 1;

	pthread_mutex_lock(&s->mu);
	/* A resting profile is never waited for (its probe may take
	 * LIM_SMTP_ATTEMPT): the message is deferred instead. */
	while ((p = pstate_get(s, sp->name)) != NULL) {
		if (resting(p, now, until)) {
			ok = 0;
			break;
		}
		if (p->busy < sp->connections || s->stopping) {
			p->busy++;
			if (p->failures > 0)
				p->probing = 1;
			break;
		}
		pthread_cond_wait(&s->slot, &s->mu);
		now = (long long)time(NULL);
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Gives p's slot back (mu held). */
static void
slot_free(struct sender *s, struct pstate *p)
{
	if (p->busy > 0)
		p->busy--;
	/* Every waiter rechecks: one may find the profile resting. */
	pthread_cond_broadcast(&s->slot);
}

/*
 * What a message's kind decides (doc/design.md "Auto-reply and carrier
 * mail"): a receipt goes through auto_reply.smtp (the site's profiles
 * when not given), is given up after at most LIM_RECEIPT_MAX_AGE, and its
 * failures are the visitor's address's, logged at info, never as alerts.
 */
struct route {
	struct smtp_profile *const *smtp;
	size_t nsmtp;
	long long max_age;
	int receipt;
};

static struct route
route_of(const struct config *c, const struct site *site, const char *id)
{
	struct route r = { NULL, 0, 0, 0 };

	r.receipt = spool_id_is_receipt(id);
	r.max_age = delivery_max_age(c->max_age, id);
	if (site == NULL)
		return r;
	r.smtp = site->smtp;
	r.nsmtp = site->nsmtp;
	if (r.receipt && site->nar_smtp) {
		r.smtp = site->ar_smtp;
		r.nsmtp = site->nar_smtp;
	}
	return r;
}

/* 1 when every profile of the route is resting, with *until the earliest
 * end; takes nothing (the attempt's profile_take decides). */
static int
site_resting(struct sender *s, const struct route *rt, long long now,
    long long *until)
{
	struct pstate *p;
	long long u;
	size_t j;
	int all = rt->nsmtp > 0;

	*until = 0;
	pthread_mutex_lock(&s->mu);
	for (j = 0; j < rt->nsmtp && all; j++) {
		if ((p = pstate_get(s, rt->smtp[j]->name)) == NULL ||
		    !resting(p, now, &u))
			all = 0;
		else if (*until == 0 || u < *until)
			*until = u;
	}
	pthread_mutex_unlock(&s->mu);
	return all;
}

/* Records how a transaction on profile `name` went.  failed: it failed
 * before any recipient, so every message would have.  Returns the
 * profile's state before, and its state now in *now_out. */
static enum outcome
profile_done(struct sender *s, const struct config *c,
    const char *name, int failed, enum outcome o, const char *reply,
    long long now, enum outcome *now_out, int release)
{
	enum outcome old = OUT_SENT, now_state = failed ? o : OUT_SENT;
	struct pstate *p;
	long long next_ok = 0;
	char until[32];

	pthread_mutex_lock(&s->mu);
	if ((p = pstate_get(s, name)) != NULL) {
		old = p->state;
		p->probing = 0;
		if (release)
			slot_free(s, p);
		if (!failed && p->failures == 0 && p->next_ok == 0 &&
		    old == OUT_SENT) {
			/* Healthy before and after: no message waits on it,
			 * and re-timing the whole schedule per message costs
			 * O(backlog) under mu (doc/design.md "Performance"). */
		} else if (!failed) {
			p->failures = 0;
			p->next_ok = 0;
			recovered(s, now);
			pthread_cond_broadcast(&s->cv);
		} else if (p->next_ok <= now) {
			/* Two threads failing at once count as one step. */
			p->failures++;
			p->next_ok = now + sender_backoff(p->failures,
			    c->first_retry, c->max_retry);
			retime(s, p->next_ok, 1);
			pthread_cond_broadcast(&s->cv);
		} else
			pthread_cond_broadcast(&s->cv);
		p->state = now_state;
		next_ok = p->next_ok;
	}
	pthread_mutex_unlock(&s->mu);
	*now_out = now_state;
	if (p == NULL || old == now_state)
		return now_state;
	/* Formatted only for the state change's line, out of mu. */
	snprintf(until, sizeof until, "%lld", next_ok);
	/* Once per state change: a config problem is the operator's. */
	log_event(now_state == OUT_CONFIG ? LOG_ERROR : now_state == OUT_TEMP ?
	    LOG_WARN : LOG_INFO, "profile_state", "profile", name, "state",
	    now_state == OUT_SENT ? "ok" : outcome_name(now_state), "reply",
	    now_state == OUT_SENT ? NULL : reply, "retry_after",
	    now_state == OUT_SENT ? NULL : until, (char *)NULL);
	return old;
}

/* Gives back the slot the caller took; if it was the profile's probe and
 * recorded no outcome (OOM, a pipelined session that sent nothing), the
 * waiting messages go and someone else probes. */
static void
profile_abandon(struct sender *s, const char *name)
{
	struct pstate *p;

	pthread_mutex_lock(&s->mu);
	if ((p = pstate_get(s, name)) != NULL)
		slot_free(s, p);
	if (p != NULL && p->probing) {
		p->probing = 0;
		recovered(s, (long long)time(NULL) + 1);
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

/* --- one message ----------------------------------------------------------- */

static void
log_failed(const struct spool_msg *m, const struct spool_rcpt *r)
{
	char code[8];

	snprintf(code, sizeof code, "%d", r->code);
	/* A receipt's failure is the visitor's address, not an alert. */
	log_event(spool_id_is_receipt(m->id) ? LOG_INFO : LOG_ERROR,
	    "failed", "site", m->site, "id", m->id, "rcpt", r->addr, "code",
	    code, "reply", r->reply, "action", "moved to failed/",
	    (char *)NULL);
}

static unsigned long long
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000;
}

/* A new entry in m's history (doc/design.md "The spool"); NULL when it
 * could not be made (logged: the delivery goes on without it). */
static struct spool_attempt *
history_add(struct spool_msg *m, long long at, const char *profile,
    enum spool_event ev, int code, const char *reply)
{
	struct spool_attempt *a;

	if ((a = spool_attempt_add(m, at, profile, ev, code, reply)) == NULL)
		log_event(LOG_WARN, "history_skipped", "id", m->id, "error",
		    "out of memory, or a value the spool cannot hold",
		    (char *)NULL);
	return a;
}

/* Recipient r in attempt a, with its own last code and reply. */
static void
history_rcpt(const struct spool_msg *m, struct spool_attempt *a,
    const struct spool_rcpt *r, enum spool_event ev)
{
	if (spool_attempt_rcpt(a, r->addr, ev, r->code, r->reply) == -1)
		log_event(LOG_WARN, "history_skipped", "id", m->id, "rcpt",
		    r->addr, "error", "out of memory, or a value the spool "
		    "cannot hold", (char *)NULL);
}

/* What one transaction through profile p did to m's recipients rc[i]
 * (m's recipient idx[i]), res its summary, at when it started: each
 * outcome recorded in m, and in m->reply a note (outcome_note) that
 * `queue list` reads; the history, the profile's state (release: give
 * its slot back), alerts, metrics, the attempt's log line.  first: p is
 * the attempt's first profile.  Returns how many recipients changed
 * state. */
static int
record(struct sender *s, const struct config *c, const struct smtp_profile *p,
    struct spool_msg *m, const struct smtp_rcpt *rc, const size_t *idx,
    size_t k, const struct smtp_result *res, long long at, long long now,
    long long next_try, int first, int release)
{
	char code[U64_STR], count[U64_STR], nt[32], reply[SPOOL_REPLY_MAX];
	int changed = 0, failed;
	enum outcome old, ev, state = OUT_SENT;
	struct spool_attempt *a;
	size_t i;

	for (i = 0; i < k; i++) {
		struct spool_rcpt *r = &m->rcpt[idx[i]];
		r->code = rc[i].code;
		spool_sanitise(r->reply, rc[i].reply);
		if ((r->state = delivery_rcpt_state(rc[i].outcome)) ==
		    SPOOL_PENDING)
			continue;
		changed++;
		if (r->state == SPOOL_FAILED) {
			log_failed(m, r);
			/* A receipt's failure is logged, not alerted
			 * (doc/design.md "Operations"). */
			if (!spool_id_is_receipt(m->id))
				alert_raise(AK_PERMANENT, m->site, NULL,
				    m->id, r->reply);
		}
	}
	spool_sanitise(reply, res->reply);
	outcome_note(m->reply, sizeof m->reply, !first, res->outcome, p->name,
	    res->phase, reply);
	/* The attempt is what matters most of what it did to each
	 * recipient (res->outcome is the worst: a 550 to one would hide
	 * the 451 that keeps the others). */
	for (i = 0, ev = k ? rc[0].outcome : res->outcome; i < k; i++)
		ev = outcome_pressing(ev, rc[i].outcome);
	if ((a = history_add(m, at, p->name, delivery_event(ev), res->code,
	    reply)) != NULL)
		for (i = 0; i < k; i++)
			history_rcpt(m, a, &m->rcpt[idx[i]],
			    delivery_event(rc[i].outcome));
	failed = delivery_profile_failed(res->outcome, res->phase, res->fail);
	old = profile_done(s, c, p->name, failed, res->outcome, reply, now,
	    &state, release);
	/* The operator hears of a profile entering config, and of its
	 * recovery (doc/design.md "Operations"). */
	if (state == OUT_CONFIG && old != OUT_CONFIG)
		alert_raise(AK_PROFILE_CONFIG, m->site, p->name, m->id, reply);
	else if (old == OUT_CONFIG && state != OUT_CONFIG)
		alert_clear(AK_PROFILE_CONFIG, NULL, p->name);
	metrics_delivery(m->site, p->name, outcome_name(res->outcome));
	if (res->code >= 0)
		u64_str(code, (unsigned long long)res->code);
	else
		snprintf(code, sizeof code, "%d", res->code);
	u64_str(count, k);
	if (spool_count(m, SPOOL_PENDING))  /* the line names it then */
		iso_utc(nt, next_try);
	log_event(res->outcome == OUT_SENT || spool_id_is_receipt(m->id) ?
	    LOG_INFO : LOG_WARN, "attempt",
	    "site", m->site, "id", m->id, "profile", p->name, "outcome",
	    outcome_name(res->outcome), "phase", outcome_phase_name(res->phase),
	    "rcpt_count", count, "code", code, "reply", reply,
	    "maybe_sent", res->maybe_sent ? "1" : NULL, "next_try",
	    spool_count(m, SPOOL_PENDING) ? nt : NULL, (char *)NULL);
	return changed;
}

/* m's pending recipients as smtp_send takes them: rc[i] is m's
 * recipient idx[i].  Returns how many, or -1 on OOM. */
static long
pending_rcpts(const struct spool_msg *m, struct smtp_rcpt **rc,
    size_t **idx)
{
	size_t i, k = 0;

	*rc = calloc(m->nrcpt, sizeof **rc);
	*idx = calloc(m->nrcpt, sizeof **idx);
	if (*rc == NULL || *idx == NULL) {
		free(*rc);
		free(*idx);
		*rc = NULL;
		*idx = NULL;
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == SPOOL_PENDING) {
			(*rc)[k].addr = m->rcpt[i].addr;
			(*idx)[k++] = i;
		}
	return (long)k;
}

/* One transaction through profile p (taken) for m's pending recipients,
 * recorded (record).  Returns how many recipients changed state, or -1
 * on OOM. */
static int
try_profile(struct sender *s, struct smtp_client *cl, const struct config *c,
    const struct smtp_profile *p, struct spool_msg *m, long long now,
    long long next_try, int first)
{
	struct smtp_result res;
	struct smtp_rcpt *rc;
	size_t *idx;
	unsigned long long t0;
	long long at;
	long k;
	char us[24];
	int changed;

	if ((k = pending_rcpts(m, &rc, &idx)) == -1) {
		profile_abandon(s, p->name);
		return -1;
	}
	t0 = log_enabled(LOG_DEBUG) ? mono_us() : 0;
	at = (long long)time(NULL);
	if (m->in_file)         /* a large message stays in its file */
		smtp_send_file(cl, p, m->sender, rc, (size_t)k, m->fd, m->off,
		    m->len, &res, NULL, NULL);
	else
		smtp_send(cl, p, m->sender, rc, (size_t)k, m->data, m->len,
		    &res, NULL, NULL);
	if (t0) {
		snprintf(us, sizeof us, "%llu", mono_us() - t0);
		log_event(LOG_DEBUG, "timing", "site", m->site, "id", m->id,
		    "profile", p->name, "smtp_us", us, (char *)NULL);
	}
	changed = record(s, c, p, m, rc, idx, (size_t)k, &res, at, now,
	    next_try, first, 1);
	free(rc);
	free(idx);
	return changed;
}

/* retention.archive: a delivered message is kept in sent/ for `queue
 * show`, written before queue/ID goes, so it is never in neither. */
static void
archive(struct sender *s, const struct config *c, const struct spool_msg *m)
{
	char err[256];

	if (c->retention_archive == 0 || spool_count(m, SPOOL_SENT) == 0)
		return;
	if (spool_write_sent(s->sp, m, err, sizeof err) == -1)
		log_event(LOG_ERROR, "spool_error", "id", m->id, "error", err,
		    "action", "delivered, but not archived", (char *)NULL);
}

/* log_level debug: a delivery's stages, in microseconds: claim (open,
 * lock, read, verify) and the whole turn (claim, every SMTP transaction,
 * whose own lines carry smtp_us, and the write back). */
static void
log_delivery_timing(const struct spool_msg *m, unsigned long long t0,
    unsigned long long t1)
{
	char c[24], all[24];

	snprintf(c, sizeof c, "%llu", t1 - t0);
	snprintf(all, sizeof all, "%llu", mono_us() - t0);
	log_event(LOG_DEBUG, "timing", "site", m->site, "id", m->id,
	    "claim_us", c, "delivery_us", all, (char *)NULL);
}

static int
id_cmp(const void *a, const void *b)
{
	return strncmp(a, b, SPOOL_ID_MAX + 1);
}

/* Whether id was flushed and not attempted since; drop: forget it. */
static int
forced(struct sender *s, const char *id, int drop)
{
	char (*f)[SPOOL_ID_MAX + 1];
	int found = 0;

	pthread_mutex_lock(&s->mu);
	if (s->nforced > 0 && (f = bsearch(id, s->forced, s->nforced,
	    sizeof *s->forced, id_cmp)) != NULL) {
		found = 1;
		if (drop) {
			memmove(f, f + 1, (size_t)(s->forced + s->nforced -
			    (f + 1)) * sizeof *f);
			s->nforced--;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* max_age gave up: every pending recipient fails, with the last note,
 * in one "expired" entry of the history. */
static void
expire(struct spool_msg *m, long long now)
{
	char why[SPOOL_REPLY_MAX];
	struct spool_attempt *a;
	size_t i;

	outcome_expired_reply(why, sizeof why, m->reply);
	a = history_add(m, now, NULL, SPOOL_EV_EXPIRED, 0, why);
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == SPOOL_PENDING) {
			struct spool_rcpt *r = &m->rcpt[i];
			r->state = SPOOL_FAILED;
			snprintf(r->reply, sizeof r->reply, "%s", why);
			log_failed(m, r);
			if (a)
				history_rcpt(m, a, r, SPOOL_EV_EXPIRED);
		}
	if (!spool_id_is_receipt(m->id))     /* logged, not alerted */
		alert_raise(AK_EXPIRED, m->site, NULL, m->id, m->reply);
}

/* A reload removed the site: hold, never guess a route (a config
 * entry of the history for the pending recipients). */
static void
hold(struct spool_msg *m, long long now)
{
	struct spool_attempt *a;
	size_t i;

	snprintf(m->reply, sizeof m->reply, "%s: site %s is not in the "
	    "config: held", outcome_name(OUT_CONFIG), m->site);
	log_event(LOG_ERROR, "attempt", "site", m->site, "id", m->id,
	    "outcome", "config", "reply", m->reply, (char *)NULL);
	if ((a = history_add(m, now, NULL, SPOOL_EV_CONFIG, 0,
	    m->reply)) != NULL)
		for (i = 0; i < m->nrcpt; i++)
			if (m->rcpt[i].state == SPOOL_PENDING)
				history_rcpt(m, a, &m->rcpt[i],
				    SPOOL_EV_CONFIG);
}

/* A file a newer formpost wrote: one warning per id and process; it is
 * looked at again after LIM_SPOOL_NEWER_RECHECK (delivered by then, or
 * this process was upgraded). */
static void
newer_file(struct sender *s, const char *id, const char *why, long long now)
{
	long n = 0;

	pthread_mutex_lock(&s->mu);
	if (idset_get(s->newer, id) == 0)
		n = idset_add(s->newer, id);
	pthread_mutex_unlock(&s->mu);
	if (n != 0)
		log_event(LOG_WARN, "spool_newer", "id", id, "error", why,
		    "action", "left in queue/ for the newer formpost that "
		    "wrote it; not delivered by this one", (char *)NULL);
	schedule(s, id, now + LIM_SPOOL_NEWER_RECHECK, NULL, 0);
}

/* One message's turn (doc/design.md "A delivery"): claimed in begin,
 * sent through its profiles, written back in conclude. */
struct turn {
	struct entry e;
	struct spool_msg m;
	int fd;
	int tried;
	int concluded;
	size_t next;               /* the next of its profiles to try */
	size_t nfailed_before;
	long long now, wait, next_try;
	struct route rt;
	unsigned long long t0, t1;
	/* Its pipelined transaction (deliver_batch). */
	struct smtp_rcpt *rc;
	size_t *idx;
	int changed;               /* recipients it settled */
	int finishing;             /* fin begun, finished() not yet */
	struct spool_finishing fin;
};

/* Claims t->e's message and settles what needs no SMTP.  1: it is to be
 * sent (DS_SEND) from t->next; 0: to be concluded without sending; -1:
 * done already (not due, gone, rescheduled). */
static int
begin(struct sender *s, const struct config *c, struct turn *t)
{
	const char *id = t->e.id;
	const struct site *site;
	char err[256];
	long long rest, now = t->now;
	enum delivery_start ds;

	/* It waited on its site's profiles: ask them before the file (open,
	 * lock, read, digest), so a backlog is not re-read whenever a
	 * back-off ends; the one probe's outcome re-times the rest.  Past
	 * max_age, or its site gone, it is read and settled as below. */
	site = t->e.deferred ? config_site(c, t->e.site) : NULL;
	t->rt = route_of(c, site, id);
	if (t->e.deferred && now - t->e.created < t->rt.max_age &&
	    site != NULL && site_resting(s, &t->rt, now, &rest)) {
		schedule(s, id, rest, t->e.site, t->e.created);
		return -1;
	}
	t->t0 = log_enabled(LOG_DEBUG) ? mono_us() : 0;
	switch (spool_claim(s->sp, id, &t->m, &t->fd, err, sizeof err)) {
	case SPOOL_CLAIMED:
		t->t1 = t->t0 ? mono_us() : 0;
		break;
	case SPOOL_GONE:
		pthread_mutex_lock(&s->mu);
		if (idset_get(s->newer, id) > 0)
			idset_drop(s->newer, id);
		pthread_mutex_unlock(&s->mu);
		return -1;
	case SPOOL_NEWER:
		newer_file(s, id, err, now);
		return -1;
	case SPOOL_BUSY:
		schedule(s, id, now + c->first_retry, NULL, 0);
		return -1;
	case SPOOL_CORRUPT:
		log_event(LOG_ERROR, "corrupt", "id", id, "error", err,
		    "action", "moved to corrupt/, not delivered", (char *)NULL);
		alert_raise(AK_CORRUPT, t->e.site[0] ? t->e.site : NULL, NULL,
		    id, err);
		return -1;
	case SPOOL_ERROR:
		log_event(LOG_ERROR, "spool_error", "id", id, "error", err,
		    (char *)NULL);
		schedule(s, id, now + c->first_retry, NULL, 0);
		return -1;
	}
	if (t->m.next_try > now && !forced(s, id, 0)) {   /* not due yet */
		schedule(s, id, t->m.next_try, NULL, 0);
		return -1;
	}
	t->nfailed_before = spool_count(&t->m, SPOOL_FAILED);
	t->next_try = now + sender_backoff(t->m.attempts + 1, c->first_retry,
	    c->max_retry);
	site = config_site(c, t->m.site);
	t->rt = route_of(c, site, id);
	ds = delivery_start(now - t->m.created >= t->rt.max_age,
	    site != NULL, spool_count(&t->m, SPOOL_PENDING));
	t->tried = ds != DS_SEND;
	if (ds == DS_EXPIRE)
		expire(&t->m, now);
	else if (ds == DS_HOLD)
		hold(&t->m, now);
	/* DS_SETTLE: nothing left to send: an earlier try could not write
	 * failed/ID (or finish).  Do that now, not after max_age. */
	return ds == DS_SEND;
}

/* After profile t->next - 1 was tried and changed ch recipients:
 * progress is recorded before the next profile, so a crash resends to
 * as few as possible. */
static void
progress(struct sender *s, struct turn *t, int ch)
{
	char err[256];

	if (ch > 0 && spool_count(&t->m, SPOOL_PENDING) > 0 &&
	    t->next < t->rt.nsmtp &&
	    spool_update(s->sp, &t->fd, &t->m, err, sizeof err) == -1)
		log_event(LOG_ERROR, "spool_error", "id", t->e.id, "error",
		    err, (char *)NULL);
}

/* The site's profiles in order from t->next, while recipients are
 * pending: one transaction each through the old path. */
static void
profiles(struct sender *s, struct smtp_client *cl, const struct config *c,
    struct turn *t)
{
	for (; t->next < t->rt.nsmtp &&
	    spool_count(&t->m, SPOOL_PENDING) > 0; t->next++) {
		const struct smtp_profile *p = t->rt.smtp[t->next];
		long long until = 0;
		int ch;
		if (!profile_take(s, p, t->now, &until)) {
			if (t->wait == 0 || until < t->wait)
				t->wait = until;
			continue;
		}
		if ((ch = try_profile(s, cl, c, p, &t->m, t->now, t->next_try,
		    !t->tried)) == -1)
			break;
		t->tried = 1;
		t->next++;
		progress(s, t, ch);
		t->next--;
	}
}

/* The second half of a finish conclude began (spool_finish_end: queue/'s
 * fsync, shared by a window's finishes), then the delivered line. */
static void
finished(struct sender *s, struct turn *t)
{
	struct spool_msg *m = &t->m;
	char err[256], count[U64_STR], att[U64_STR];
	size_t sent = spool_count(m, SPOOL_SENT);

	t->finishing = 0;
	if (spool_finish_end(s->sp, &t->fin, err, sizeof err) == -1)
		log_event(LOG_ERROR, "spool_error", "id", t->e.id, "error",
		    err, (char *)NULL);
	if (sent == 0)
		return;
	u64_str(count, sent);
	u64_str(att, m->attempts + 1u);
	log_event(LOG_INFO, "delivered", "site", m->site, "id", t->e.id,
	    "rcpt_count", count, "attempts", att, "failed",
	    spool_count(m, SPOOL_FAILED) ? "some" : NULL, (char *)NULL);
}

/* Writes the turn's result back: failed/, finished, or the next try.
 * defer: a finish stops after its first half (spool_finish_begin); the
 * caller calls finished() for it, after the other finishes of its
 * window began, so that one fsync of queue/ covers them all. */
static void
conclude(struct sender *s, const struct config *c, struct turn *t,
    int defer)
{
	const char *id = t->e.id;
	struct spool_msg *m = &t->m;
	struct delivery_plan plan;
	char err[256];

	t->concluded = 1;
	if (t->tried)
		forced(s, id, 1);
	plan = delivery_after(t->tried, spool_count(m, SPOOL_PENDING),
	    spool_count(m, SPOOL_FAILED), t->nfailed_before);
	if (plan.next == DN_WAIT) {
		/* Every profile is backing off: no attempt, no count.  The
		 * file is dated as the schedule is, for a rescan; a date
		 * written before a profile recovered is read as now
		 * (retimed_at). */
		long long due = t->wait ? t->wait : t->now + c->first_retry;
		spool_date(t->fd, due);
		schedule(s, id, due, m->site, m->created);
		return;
	}
	if (plan.write_failed &&
	    spool_write_failed(s->sp, m, err, sizeof err) == -1) {
		/* The queue file keeps the failed state: try again later,
		 * never drop the record. */
		log_event(LOG_ERROR, "spool_error", "id", id, "error", err,
		    (char *)NULL);
		if (plan.next == DN_FINISH) {
			if (spool_update(s->sp, &t->fd, m, err, sizeof err) == 0)
				schedule(s, id, t->next_try, NULL, 0);
			return;
		}
	}
	if (plan.next == DN_FINISH) {
		archive(s, c, m);
		/* A finished file may be emptied and reused: our own open
		 * of it goes first (doc/design.md "The spool"). */
		spool_msg_drop_data(m);
		spool_finish_begin(s->sp, t->fd, id, &t->fin);
		t->fd = -1;
		t->finishing = 1;
		if (!defer)
			finished(s, t);
		return;
	}
	m->attempts++;
	m->next_try = t->next_try;
	if (spool_update(s->sp, &t->fd, m, err, sizeof err) == -1)
		log_event(LOG_ERROR, "spool_error", "id", id, "error", err,
		    (char *)NULL);
	schedule(s, id, t->next_try, NULL, 0);
}

static void
turn_end(struct turn *t)
{
	if (t->t1)
		log_delivery_timing(&t->m, t->t0, t->t1);
	spool_msg_free(&t->m);       /* its own open before the claim */
	spool_release(t->fd);
	free(t->rc);
	free(t->idx);
}

static void
turn_init(struct turn *t, const struct entry *e)
{
	memset(t, 0, sizeof *t);
	t->e = *e;
	t->fd = -1;
	t->now = (long long)time(NULL);
}

static void
deliver(struct sender *s, struct smtp_client *cl, const struct entry *e)
{
	const struct config *c;
	struct turn t;
	void *ref;
	int b;

	turn_init(&t, e);
	c = s->acquire(s->arg, &ref);
	if ((b = begin(s, c, &t)) == 1)
		profiles(s, cl, c, &t);
	if (b >= 0)
		conclude(s, c, &t, 0);
	turn_end(&t);
	s->release(s->arg, ref);
}

/* --- several messages on one pipelined session -------------------------- */

struct batch {
	struct sender *s;
	const struct config *c;
	const struct smtp_profile *p;
	struct turn *t;
	struct smtp_job *jobs;
	size_t n;
};

/* A job's final reply is in: its outcome is recorded in the message
 * (and the profile's state, the log, the metrics) now; the spool file
 * is written once the session is done with every message's data
 * (deliver_batch).  1: start no more messages on this session. */
static int
job_done(void *arg, struct smtp_job *job)
{
	struct batch *b = arg;
	struct turn *t = &b->t[job - b->jobs];
	char us[24];

	if (log_enabled(LOG_DEBUG)) {
		snprintf(us, sizeof us, "%lld", (mono_ms() - job->started_ms) *
		    1000);
		log_event(LOG_DEBUG, "timing", "site", t->m.site, "id",
		    t->m.id, "profile", b->p->name, "smtp_us", us,
		    (char *)NULL);
	}
	t->changed = record(b->s, b->c, b->p, &t->m, t->rc, t->idx,
	    job->nrcpt, &job->res, job->started, t->now, t->next_try, 1, 0);
	t->tried = 1;
	t->next = 1;
	/* A failure before any recipient is the profile's: the messages
	 * not yet started wait for its back-off, as on the old path. */
	return delivery_profile_failed(job->res.outcome, job->res.phase,
	    job->res.fail);
}

/* The turns of b that go to profile b->p through the pipelined path:
 * jobs made for them.  Returns how many. */
static size_t
batch_jobs(struct batch *b, const int *go)
{
	size_t i, n = 0;
	long k;

	for (i = 0; i < b->n; i++) {
		struct turn *t = &b->t[i];
		struct smtp_job *j = &b->jobs[i];
		memset(j, 0, sizeof *j);
		j->fd = -1;
		if (!go[i] || t->rt.nsmtp == 0 || t->rt.smtp[0] != b->p ||
		    (k = pending_rcpts(&t->m, &t->rc, &t->idx)) <= 0)
			continue;
		j->sender = t->m.sender;
		j->rcpt = t->rc;
		j->nrcpt = (size_t)k;
		j->data = t->m.in_file ? NULL : t->m.data;
		j->fd = t->m.in_file ? t->m.fd : -1;
		j->off = t->m.in_file ? t->m.off : 0;
		j->len = t->m.len;
		n++;
	}
	return n;
}

/* Whether profile p is healthy (no back-off, no probe): only then may
 * several messages go to it at once. */
static int
profile_healthy(struct sender *s, const struct smtp_profile *p)
{
	struct pstate *ps;
	int ok;

	pthread_mutex_lock(&s->mu);
	ok = (ps = pstate_get(s, p->name)) == NULL ||
	    (ps->failures == 0 && ps->next_ok == 0 && !ps->probing);
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static int
stopping(struct sender *s)
{
	int stop;

	pthread_mutex_lock(&s->mu);
	stop = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

/* Sends the turns of b whose first profile is b->p over one pipelined
 * session holding one of its slots (doc/design.md "A delivery"). */
static void
batch_send(struct batch *b, struct smtp_client *cl, const int *go)
{
	long long until;

	if (batch_jobs(b, go) == 0 || !profile_healthy(b->s, b->p) ||
	    !profile_take(b->s, b->p, b->t[0].now, &until))
		return;
	smtp_send_pipelined(cl, b->p, b->jobs, b->n, job_done, b);
	/* The slot goes back; so does the probe, if the profile failed
	 * between profile_healthy and profile_take (making this session its
	 * probe) and no job's outcome was recorded to end it. */
	profile_abandon(b->s, b->p->name);
}

/* Whether profiles() may still speak SMTP for t (a profile left and a
 * recipient pending). */
static int
may_send(const struct turn *t)
{
	return t->next < t->rt.nsmtp && spool_count(&t->m, SPOOL_PENDING) > 0;
}

/* Ends the finishes begun among t[0..n) (finished, then turn_end). */
static void
end_finishes(struct sender *s, struct turn *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].finishing) {
			finished(s, &t[i]);
			turn_end(&t[i]);
		}
}

/* Delivers e[0..n): claimed together, those for a profile whose server
 * offers PIPELINING in one pipelined session, the rest (and whatever
 * that session did not take) one by one as deliver does. */
static void
deliver_batch(struct sender *s, struct smtp_client *cl, const struct entry *e,
    size_t n)
{
	struct turn t[LIM_PIPE_WINDOW];
	struct smtp_job jobs[LIM_PIPE_WINDOW];
	int st[LIM_PIPE_WINDOW], go[LIM_PIPE_WINDOW];
	struct batch b = { s, NULL, NULL, t, jobs, n };
	unsigned long long bytes = 0;
	void *ref;
	size_t i;
	int stop;

	b.c = s->acquire(s->arg, &ref);
	for (i = 0; i < n; i++) {
		turn_init(&t[i], &e[i]);
		/* The window's memory and open files are bounded: past
		 * LIM_PIPE_BYTES, or after a message too large to be read
		 * into memory, the rest goes back to the schedule. */
		if (bytes >= LIM_PIPE_BYTES) {
			schedule(s, e[i].id, t[i].now, NULL, 0);
			st[i] = -2;
			go[i] = 0;
			continue;
		}
		st[i] = begin(s, b.c, &t[i]);
		bytes += st[i] < 0 ? 0 : t[i].m.in_file ? LIM_PIPE_BYTES :
		    t[i].m.len;
		go[i] = st[i] == 1 && t[i].rt.nsmtp > 0;
		if (go[i] && b.p == NULL && smtp_pipelining(cl, t[i].rt.smtp[0]))
			b.p = t[i].rt.smtp[0];
	}
	if (b.p != NULL)
		batch_send(&b, cl, go);
	stop = stopping(s);
	for (i = 0; i < n; i++) {
		if (st[i] == -2)
			continue;          /* given back unclaimed */
		/* Stopping: what was not tried stays as it is in queue/. */
		if (st[i] == 1 && !t[i].tried && stop)
			t[i].concluded = 1;
		/* Sent through the pipelined session: progress recorded
		 * before the next profile, as on the old path. */
		if (st[i] == 1 && t[i].tried)
			progress(s, &t[i], t[i].changed);
		if (st[i] == 1 && !t[i].concluded) {
			/* It may go to another profile now (a whole session):
			 * what is delivered before it is finished first, not
			 * left claimed in queue/ for that long. */
			if (may_send(&t[i]))
				end_finishes(s, t, i);
			profiles(s, cl, b.c, &t[i]);
		}
		if (st[i] >= 0 && !t[i].concluded)
			conclude(s, b.c, &t[i], 1);
		if (!t[i].finishing)
			turn_end(&t[i]);
	}
	/* The window's finishes end together: the first to wait runs the
	 * fsync of queue/ that covers every removal begun above. */
	end_finishes(s, t, n);
	s->release(s->arg, ref);
}

/* --- threads ----------------------------------------------------------------- */

struct scan {
	struct sender *s;
	long long now;
	long found;                /* ids not known before */
	int oom;
	int full;                  /* the schedule had no room left */
	int dated;                 /* it overflowed: date each new id */
};

/* After an overflow, what waits in queue/ competes with the schedule by
 * due time, read from its file's date (spool_due_hint) without opening
 * it: the schedule keeps the earliest, so mail for a working relay is not
 * shut out by a dead relay's backlog, and the oldest posts go first. */
static int
scan_dated(struct sender *s, const char *id, long long now)
{
	long long due, dated, retimed_at;
	int rc;

	/* A newer formpost's file waits for it: taking it in would only
	 * open it again. */
	pthread_mutex_lock(&s->mu);
	rc = idset_get(s->known, id) > 0 || idset_get(s->newer, id) > 0;
	retimed_at = s->retimed_at;
	pthread_mutex_unlock(&s->mu);
	if (rc || (due = spool_due_hint(s->sp, id, &dated)) == -1)
		return 0;
	/* Dated before a recovery, in the future (the clock went back),
	 * or flushed: due now. */
	if (due > now && (dated <= retimed_at || dated > now ||
	    forced(s, id, 0)))
		due = now;
	pthread_mutex_lock(&s->mu);
	/* Held by its date, it waits as a deferral does ("" : no site to
	 * ask), so that a recovery re-times it too. */
	rc = schedule_new(s, id, due, due > now ? "" : NULL, 0,
	    due > now ? due : now);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void
scan_one(void *arg, const char *id)
{
	struct scan *sc = arg;
	int rc;

	if (sc->dated)
		rc = scan_dated(sc->s, id, sc->now);
	else if (sc->full)
		return;   /* the rest waits for the rescan room brings */
	else {
		/* Without a date, a rescan only fills room: evicting for an
		 * id that may not be due would churn the backlog through
		 * the schedule, a file read each. */
		pthread_mutex_lock(&sc->s->mu);
		rc = schedule_new(sc->s, id, sc->now, NULL, 0, NO_EVICT);
		pthread_mutex_unlock(&sc->s->mu);
	}
	if (rc == 1)
		sc->found++;
	else if (rc == 2)
		sc->full = 1;
	else if (rc == -1 && !sc->oom++)
		schedule_failed(id);
}

/* Reads queue/ (mu not held) and schedules every id not yet known: what
 * another process committed, or a dead one held.  Returns the ids found,
 * or -1. */
static long
rescan(struct sender *s, int dated, char *err, size_t errlen)
{
	struct scan sc = { s, (long long)time(NULL), 0, 0, 0, dated };
	long n;

	if ((n = spool_scan(s->sp, scan_one, &sc, err, errlen)) == -1)
		return -1;
	if (sc.found > 0) {
		char f[24], q[24];
		snprintf(f, sizeof f, "%ld", sc.found);
		snprintf(q, sizeof q, "%ld", n);
		log_event(LOG_INFO, "spool_rescan", "new", f, "queued", q,
		    (char *)NULL);
	}
	return n;
}

/* Pops what this thread delivers next into e (mu held; the first entry
 * is due): one message, or, for a session that pipelines, a window of
 * due ones that leaves the other threads their share.  Returns how
 * many. */
static size_t
pop_due(struct sender *s, struct smtp_client *cl, struct entry *e,
    long long now)
{
	size_t k = 1;

	e[0] = heap_pop(s);
	/* Each claimed message holds an open file: all the windows
	 * together stay within LIM_PIPE_FILES. */
	while (cl && smtp_pipelining_seen(cl) && k < LIM_PIPE_WINDOW &&
	    k < LIM_PIPE_FILES / s->nth && s->n > 0 &&
	    s->heap[0].due <= now && k <= s->n / s->nth)
		e[k++] = heap_pop(s);
	return k;
}

/* What was left in queue/ for want of room is looked for again once
 * half the schedule is free or has been taken (retries deferred again
 * take their room back), not only at the next periodic rescan; the log
 * says so once until a rescan finds room for all.  mu held, dropped to
 * log. */
static void
overflowed(struct sender *s, long long now)
{
	char lim[24];

	if (!s->overflow)
		return;
	if ((s->n <= LIM_SCHEDULE / 2 || s->popped >= LIM_SCHEDULE / 2) &&
	    s->next_rescan > now)
		s->next_rescan = now;
	if (s->overflow_said)
		return;
	s->overflow_said = 1;
	snprintf(lim, sizeof lim, "%d", LIM_SCHEDULE);
	pthread_mutex_unlock(&s->mu);
	log_event(LOG_INFO, "schedule_full", "limit", lim, "action",
	    "the rest wait in queue/ and are picked up as room frees",
	    (char *)NULL);
	pthread_mutex_lock(&s->mu);
}

static void *
run(void *arg)
{
	struct sender *s = arg;
	struct smtp_client *cl = NULL;
	struct timespec ts;
	struct entry e[LIM_PIPE_WINDOW];
	long long used = 0;        /* when cl last carried a message */
	char err[256];

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		long long now = (long long)time(NULL), until;
		if (!s->scanning && now >= s->next_rescan) {
			/* Set first: the other threads wait for the next
			 * one instead of spinning on this one. */
			/* Dates cost a stat each: only worth it when the
			 * schedule holds what is not due yet, and something
			 * left out may be due before it. */
			int dated = s->overflow && s->maxdue > now &&
			    s->left_min < s->maxdue;
			s->scanning = 1;
			s->next_rescan = now + LIM_SPOOL_RESCAN;
			s->overflow = 0;
			s->popped = 0;
			s->left_min = LLONG_MAX;
			pthread_mutex_unlock(&s->mu);
			if (rescan(s, dated, err, sizeof err) == -1)
				log_event(LOG_ERROR, "spool_error", "error",
				    err, (char *)NULL);
			pthread_mutex_lock(&s->mu);
			s->scanning = 0;
			if (!s->overflow)
				s->overflow_said = 0;
			overflowed(s, now);
			continue;
		}
		if (s->n > 0 && s->heap[0].due <= now) {
			size_t k = pop_due(s, cl, e, now), i;
			s->popped += k;
			pthread_mutex_unlock(&s->mu);
			if (cl == NULL && (cl = smtp_client_new()) != NULL)
				smtp_client_set_abort(cl, &s->abort);
			if (cl == NULL) {
				log_event(LOG_ERROR, "sender_error", "error",
				    "out of memory", (char *)NULL);
				for (i = 0; i < k; i++)
					schedule(s, e[i].id, now + 1, NULL, 0);
			} else {
				if (k == 1 && !smtp_pipelining_seen(cl))
					deliver(s, cl, &e[0]);
				else
					deliver_batch(s, cl, e, k);
				used = (long long)time(NULL);
			}
			pthread_mutex_lock(&s->mu);
			/* The popped entries are done; a reschedule holds
			 * its own reference. */
			for (i = 0; i < k; i++)
				idset_drop(s->known, e[i].id);
			overflowed(s, now);
			continue;
		}
		/* Nothing due: hang up a connection idle for LIM_SMTP_IDLE
		 * unless work is due sooner than that. */
		if (cl && now - used >= LIM_SMTP_IDLE && (s->n == 0 ||
		    s->heap[0].due > now + LIM_SMTP_IDLE)) {
			pthread_mutex_unlock(&s->mu);
			smtp_client_free(cl);
			cl = NULL;
			pthread_mutex_lock(&s->mu);
			continue;
		}
		until = s->next_rescan;
		if (s->n > 0 && s->heap[0].due < until)
			until = s->heap[0].due;
		if (cl && used + LIM_SMTP_IDLE < until)
			until = used + LIM_SMTP_IDLE;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = 0;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	smtp_client_free(cl);
	pthread_mutex_lock(&s->mu);
	s->running--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
sender_free(struct sender *s)
{
	pthread_cond_destroy(&s->slot);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->forced);
	idset_free(s->known);
	idset_free(s->newer);
	free(s->heap);
	free(s);
}

/* Threads for the current config: one per connection its profiles
 * allow, LIM_SENDERS_TOTAL at most. */
static size_t
wanted_threads(struct sender *s)
{
	const struct config *c;
	size_t i, n = 0;
	void *ref;

	c = s->acquire(s->arg, &ref);
	for (i = 0; i < c->nprofiles; i++)
		n += c->profiles[i].connections;
	s->release(s->arg, ref);
	return n < 1 ? 1 : n > LIM_SENDERS_TOTAL ? LIM_SENDERS_TOTAL : n;
}

/* Starts threads until the config's count runs (a reload that adds
 * connections grows the pool; none is stopped before sender_stop: an
 * idle one costs a stack and closes its connection after
 * LIM_SMTP_IDLE).  mu held.  0, or -1 with err. */
static int
grow(struct sender *s, char *err, size_t errlen)
{
	size_t want = wanted_threads(s);
	int rc;

	while (s->nth < want && !s->stopping) {
		if ((rc = pthread_create(&s->th[s->nth], NULL, run, s)) != 0) {
			snprintf(err, errlen, "pthread_create: %s",
			    strerror(rc));
			return -1;
		}
		s->nth++;
		s->running++;
	}
	return 0;
}

struct sender *
sender_start(struct spool *sp, sender_acquire_fn acquire,
    sender_release_fn release, void *arg, char *err, size_t errlen)
{
	struct sender *s = calloc(1, sizeof *s);
	struct scan sc = { s, (long long)time(NULL), 0, 0, 0, 0 };
	char n[24];
	long found;
	int rc;

	if (s == NULL || (s->known = idset_new()) == NULL ||
	    (s->newer = idset_new()) == NULL) {
		if (s)
			idset_free(s->known);
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->sp = sp;
	s->acquire = acquire;
	s->release = release;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_cond_init(&s->slot, NULL);
	atomic_init(&s->abort, 0);
	s->next_rescan = sc.now + LIM_SPOOL_RESCAN;
	s->left_min = LLONG_MAX;
	/* Back-offs are not remembered across a restart: no date written
	 * before it is trusted to be as late as it says. */
	s->retimed_at = sc.now;
	if ((found = spool_scan(sp, scan_one, &sc, err, errlen)) == -1) {
		sender_free(s);
		return NULL;
	}
	snprintf(n, sizeof n, "%ld", found);
	log_event(LOG_INFO, "spool_loaded", "spool", spool_path(sp), "queued",
	    n, (char *)NULL);
	pthread_mutex_lock(&s->mu);
	rc = grow(s, err, errlen);
	pthread_mutex_unlock(&s->mu);
	if (rc == -1) {
		sender_stop(s);
		return NULL;
	}
	return s;
}

/* Waits (mu held) until no thread runs or `secs` pass; returns running. */
static int
wait_idle(struct sender *s, int secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	while (s->running > 0 &&
	    pthread_cond_timedwait(&s->idle, &s->mu, &ts) != ETIMEDOUT)
		;
	return s->running;
}

int
sender_stop(struct sender *s)
{
	size_t i;
	int left;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->slot);
	if (wait_idle(s, LIM_STOP_GRACE) > 0) {
		atomic_store(&s->abort, 1);
		wait_idle(s, 2);
	}
	left = s->running;
	pthread_mutex_unlock(&s->mu);
	if (left > 0) {
		char n[16];
		snprintf(n, sizeof n, "%d", left);
		log_event(LOG_WARN, "sender_stuck", "threads", n, "action",
		    "exiting; their messages stay spooled", (char *)NULL);
		return -1;
	}
	for (i = 0; i < s->nth; i++)
		pthread_join(s->th[i], NULL);
	sender_free(s);
	return 0;
}

/* --- operator's flush ---------------------------------------------------- */

struct idlist {
	char (*id)[SPOOL_ID_MAX + 1];
	size_t n, cap;
	int oom;
};

static void
idlist_add(void *arg, const char *id)
{
	struct idlist *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char (*t)[SPOOL_ID_MAX + 1] = realloc(l->id, cap * sizeof *t);
		if (t == NULL) {
			l->oom = 1;
			return;
		}
		l->id = t;
		l->cap = cap;
	}
	snprintf(l->id[l->n++], SPOOL_ID_MAX + 1, "%s", id);
}

long
sender_flush(struct sender *s, char *err, size_t errlen)
{
	struct idlist found = { 0 };
	long long now = (long long)time(NULL);
	size_t i;
	long n;
	int rc;

	if ((n = spool_scan(s->sp, idlist_add, &found, err, errlen)) == -1)
		return -1;
	if (found.oom) {
		free(found.id);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (found.n > 1)
		qsort(found.id, found.n, sizeof *found.id, id_cmp);
	pthread_mutex_lock(&s->mu);
	/* The id set knows what the heap and the threads hold, so nothing
	 * is scheduled twice. */
	for (i = 0; i < found.n; i++)
		if ((rc = schedule_new(s, found.id[i], now, NULL, 0,
		    NO_EVICT)) == -1 ||
		    rc == 2)
			break;   /* OOM or full: rescans pick the rest up */
	for (i = 0; i < s->n; i++) {
		s->heap[i].due = now;
		s->heap[i].deferred = 0;
	}
	s->maxdue = now;   /* overdue ones were raised to now */
	s->retimed_at = now;
	if (now < s->left_min)
		s->left_min = now;
	/* Every profile may be tried again now (a failed one by one probe
	 * first: its failure count stays, so a still-wrong password costs
	 * one attempt, not one per message). */
	for (i = 0; i < s->nps; i++)
		s->ps[i].next_ok = 0;
	free(s->forced);
	s->forced = found.id;
	s->nforced = found.n;
	pthread_cond_broadcast(&s->cv);
	/* A reload may have added connections. */
	if (grow(s, err, errlen) == -1)
		log_event(LOG_ERROR, "sender_error", "error", err,
		    (char *)NULL);
	pthread_mutex_unlock(&s->mu);
	return n;
}
