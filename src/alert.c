/*
 * alert — the gate, the words, and one thread that sends (see alert.h).
 * The module keeps one process-wide alerter: events come from request
 * threads (the spool refusing posts), sender threads and the ops thread,
 * and must reach the operator once, whichever thread saw them.  One
 * mutex guards the gate and the queue; it is never held across I/O.
 */
#include "alert.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "id.h"
#include "json.h"
#include "log.h"
#include "mime.h"
#include "smtp.h"
#include "webhook.h"

static const char *const kind_names[AK_N] = {
	[AK_PROFILE_CONFIG] = "profile_config",
	[AK_PERMANENT] = "permanent_failure",
	[AK_EXPIRED] = "expired",
	[AK_SPOOL_FULL] = "spool_full",
	[AK_CORRUPT] = "corrupt",
	[AK_QUEUE_OLD] = "queue_old",
};

const char *
alert_kind_name(enum alert_kind k)
{
	return k < AK_N ? kind_names[k] : "unknown";
}

int
alert_kind_lasting(enum alert_kind k)
{
	return k == AK_PROFILE_CONFIG || k == AK_SPOOL_FULL ||
	    k == AK_QUEUE_OLD;
}

/* --- gate ------------------------------------------------------------------- */

struct gate_key {
	int used;
	enum alert_kind kind;
	char site[LIM_NAME_BYTES + 1], profile[LIM_NAME_BYTES + 1];
	long long last_sent;       /* 0: never */
	long long since;           /* the condition began; 0: not active */
	int sent;                  /* an alert went out in this episode */
	long long seen;            /* for eviction */
};

struct alert_gate {
	struct gate_key k[LIM_ALERT_KEYS];
};

struct alert_gate *
alert_gate_new(void)
{
	return calloc(1, sizeof(struct alert_gate));
}

void
alert_gate_free(struct alert_gate *g)
{
	free(g);
}

static int
key_is(const struct gate_key *e, enum alert_kind k, const char *site,
    const char *profile)
{
	return e->used && e->kind == k && strcmp(e->site, site) == 0 &&
	    strcmp(e->profile, profile) == 0;
}

/* The key's entry, made (evicting the least recently seen inactive one,
 * else the least recently seen) when new. */
static struct gate_key *
gate_find(struct alert_gate *g, enum alert_kind k, const char *site,
    const char *profile)
{
	struct gate_key *e, *victim = NULL;
	size_t i;

	for (i = 0; i < LIM_ALERT_KEYS; i++) {
		e = &g->k[i];
		if (key_is(e, k, site, profile))
			return e;
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
		} else if (victim == NULL || (victim->used &&
		    ((e->since == 0) > (victim->since == 0) ||
		    ((e->since == 0) == (victim->since == 0) &&
		    e->seen < victim->seen))))
			victim = e;
	}
	memset(victim, 0, sizeof *victim);
	victim->used = 1;
	victim->kind = k;
	snprintf(victim->site, sizeof victim->site, "%s", site);
	snprintf(victim->profile, sizeof victim->profile, "%s", profile);
	return victim;
}

int
alert_gate_raise(struct alert_gate *g, enum alert_kind k, const char *site,
    const char *profile, long long now, unsigned min_interval,
    long long *since)
{
	struct gate_key *e = gate_find(g, k, site ? site : "",
	    profile ? profile : "");

	e->seen = now;
	if (e->since == 0) {
		e->since = now;
		e->sent = 0;
	}
	*since = e->since;
	if (!alert_kind_lasting(k))
		e->since = 0;          /* an event, not a state */
	if (e->last_sent != 0 && now - e->last_sent < (long long)min_interval)
		return 0;
	if (alert_kind_lasting(k) && e->sent)
		return 0;              /* said once per episode */
	e->last_sent = now;
	e->sent = alert_kind_lasting(k);
	return 1;
}

int
alert_gate_clear(struct alert_gate *g, enum alert_kind k, const char *site,
    const char *profile, void (*fn)(void *, const char *, const char *,
    long long), void *arg)
{
	size_t i;
	int n = 0;

	for (i = 0; i < LIM_ALERT_KEYS; i++) {
		struct gate_key *e = &g->k[i];
		if (!e->used || e->kind != k || e->since == 0 ||
		    (site && strcmp(e->site, site) != 0) ||
		    (profile && strcmp(e->profile, profile) != 0))
			continue;
		if (e->sent) {
			if (fn)
				fn(arg, e->site, e->profile, e->since);
			n++;
		}
		e->since = 0;
		e->sent = 0;
	}
	return n;
}

/* --- words ------------------------------------------------------------------ */

static const char *
what(const struct alert *a)
{
	if (a->resolved)
		switch (a->kind) {
		case AK_PROFILE_CONFIG:
			return "SMTP profile works again";
		case AK_SPOOL_FULL:
			return "spool accepts posts again";
		case AK_QUEUE_OLD:
			return "no queued message is older than an hour now";
		default:
			return "recovered";
		}
	switch (a->kind) {
	case AK_PROFILE_CONFIG:
		return "SMTP profile needs the operator (config outcome: "
		    "login, TLS or policy); its messages are held, none lost";
	case AK_PERMANENT:
		return "a recipient was refused permanently; the message is "
		    "in failed/";
	case AK_EXPIRED:
		return "a message passed max_age undelivered; it is in failed/";
	case AK_SPOOL_FULL:
		return "the spool refuses new posts (503): full or short of "
		    "space";
	case AK_CORRUPT:
		return "a spool file did not verify and was moved to corrupt/";
	case AK_QUEUE_OLD:
		return "a queued message is older than an hour";
	case AK_N:
		break;
	}
	return "alert";
}

void
alert_text(const struct alert *a, const char *host, struct buf *out)
{
	char since[32];

	iso_utc(since, a->since);
	buf_printf(out, "formpost %s on %s: %s", a->resolved ? "all clear" :
	    "alert", host, what(a));
	if (a->profile[0])
		buf_printf(out, "; profile %s", a->profile);
	if (a->site[0])
		buf_printf(out, "; site %s", a->site);
	if (a->id[0])
		buf_printf(out, "; message %s", a->id);
	buf_printf(out, "; since %s", since);
	if (a->detail[0] && !a->resolved)
		buf_printf(out, "; %s", a->detail);
	if (!a->resolved)
		buf_adds(out, " (see formpost queue list)");
}

void
alert_json(const struct alert *a, const char *host, struct buf *out)
{
	struct buf t;
	char since[32];

	buf_init(&t);
	alert_text(a, host, &t);
	iso_utc(since, a->since);
	buf_adds(out, "{\"text\":");
	json_buf_string(out, t.data ? t.data : "");
	buf_adds(out, ",\"content\":");
	json_buf_string(out, t.data ? t.data : "");
	buf_adds(out, ",\"event\":");
	json_buf_string(out, alert_kind_name(a->kind));
	buf_adds(out, ",\"state\":");
	json_buf_string(out, a->resolved ? "resolved" : "firing");
	buf_adds(out, ",\"site\":");
	json_buf_string(out, a->site);
	buf_adds(out, ",\"id\":");
	json_buf_string(out, a->id);
	buf_adds(out, ",\"since\":");
	json_buf_string(out, since);
	if (a->kind == AK_PROFILE_CONFIG) {
		buf_adds(out, ",\"profile\":");
		json_buf_string(out, a->profile);
	}
	buf_adds(out, ",\"host\":");
	json_buf_string(out, host);
	buf_adds(out, ",\"detail\":");
	json_buf_string(out, a->resolved ? "" : a->detail);
	buf_adds(out, "}");
	if (t.oom)
		out->oom = 1;
	buf_free(&t);
}

int
alert_mail(const struct alert *a, const char *host, const char *from,
    char *const *to, size_t nto, const char *msgid, struct buf *out)
{
	char date[64];
	const char *dom = strrchr(from, '@');
	size_t i;

	mime_date(date, sizeof date, (time_t)a->at, 0);
	buf_printf(out, "From: %s\r\nTo: ", from);
	for (i = 0; i < nto; i++)
		buf_printf(out, "%s%s", i ? ",\r\n " : "", to[i]);
	buf_printf(out, "\r\nSubject: [formpost] %s %s%s%s\r\n",
	    a->resolved ? "all clear:" : "alert:", alert_kind_name(a->kind),
	    a->site[0] ? " site " : "", a->site);
	buf_printf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, msgid,
	    dom ? dom + 1 : "localhost");
	buf_adds(out, "MIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=US-ASCII\r\nContent-Transfer-Encoding: 7bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n");
	/* The text is printable ASCII (names, ids, sanitised replies) and
	 * under LIM_LINE_OCTETS. */
	alert_text(a, host, out);
	buf_adds(out, "\r\n");
	return out->oom ? -1 : 0;
}

/* --- the alerter ------------------------------------------------------------ */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int running;
	int stop;
	atomic_int abort;              /* stop: give up a send in progress */
	atomic_int active[AK_N];       /* lasting conditions of kind k */
	pthread_t th;
	struct alert_gate *gate;
	struct alert q[LIM_ALERT_QUEUE];
	size_t head, n;
	alert_acquire_fn acquire;
	alert_release_fn release;
	void *arg;
	char host[256];
} A = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Queues a; A.mu held. */
static void
enqueue(const struct alert *a)
{
	if (A.n == LIM_ALERT_QUEUE) {
		log_event(LOG_WARN, "alert_dropped", "event",
		    alert_kind_name(a->kind), "site", a->site[0] ? a->site :
		    NULL, "reason", "alert queue full", (char *)NULL);
		return;
	}
	A.q[(A.head + A.n++) % LIM_ALERT_QUEUE] = *a;
	pthread_cond_signal(&A.cv);
}

static void
fill(struct alert *a, enum alert_kind k, const char *site,
    const char *profile, const char *id, const char *detail, long long now)
{
	memset(a, 0, sizeof *a);
	a->kind = k;
	a->at = now;
	snprintf(a->site, sizeof a->site, "%s", site ? site : "");
	snprintf(a->profile, sizeof a->profile, "%s", profile ? profile : "");
	snprintf(a->id, sizeof a->id, "%s", id ? id : "");
	str_sanitise(a->detail, sizeof a->detail, detail ? detail : "",
	    detail ? strlen(detail) : 0);
}

void
alert_raise(enum alert_kind k, const char *site, const char *profile,
    const char *id, const char *detail)
{
	long long now = (long long)time(NULL), since;
	unsigned interval = DEF_ALERT_MIN_INTERVAL;
	const struct config *c;
	struct alert a;
	void *ref;

	if (k >= AK_N || !atomic_load(&A.running))
		return;
	c = A.acquire(A.arg, &ref);
	interval = c->alert_min_interval;
	A.release(A.arg, ref);
	pthread_mutex_lock(&A.mu);
	if (alert_kind_lasting(k))
		atomic_store(&A.active[k], 1);
	if (A.running && alert_gate_raise(A.gate, k, site, profile, now,
	    interval, &since)) {
		fill(&a, k, site, profile, id, detail, now);
		a.since = since;
		enqueue(&a);
	}
	pthread_mutex_unlock(&A.mu);
}

static void
queue_clear(void *arg, const char *site, const char *profile,
    long long since)
{
	const enum alert_kind *k = arg;
	struct alert a;

	fill(&a, *k, site, profile, NULL, NULL, (long long)time(NULL));
	a.resolved = 1;
	a.since = since;
	enqueue(&a);
}

void
alert_clear(enum alert_kind k, const char *site, const char *profile)
{
	if (k >= AK_N || !atomic_load(&A.active[k]))
		return;
	pthread_mutex_lock(&A.mu);
	if (A.running)
		alert_gate_clear(A.gate, k, site, profile, queue_clear, &k);
	if (site == NULL && profile == NULL)
		atomic_store(&A.active[k], 0);
	pthread_mutex_unlock(&A.mu);
}

/* Tries fn up to LIM_ALERT_TRIES times, 1 s then 2 s apart. */
static int
webhook_send(const struct config *c, const struct alert *a, char *err,
    size_t errlen)
{
	struct buf b;
	int i, rc = -1;

	buf_init(&b);
	alert_json(a, A.host, &b);
	for (i = 0; i < LIM_ALERT_TRIES && rc == -1 && !b.oom &&
	    !atomic_load(&A.abort); i++) {
		if (i > 0)
			sleep((unsigned)i);
		rc = webhook_post(c->alert_webhook, b.data, b.len, &A.abort,
		    err, errlen);
	}
	if (b.oom)
		snprintf(err, errlen, "out of memory");
	buf_free(&b);
	return rc;
}

/* The alert's site's From (else the first site's) sends the mail. */
static const char *
mail_from(const struct config *c, const struct alert *a)
{
	const struct site *s = config_site(c, a->site);

	if (s == NULL && c->nsites > 0)
		s = &c->sites[0];
	return s ? s->from_addr : NULL;
}

static int
mail_send(struct smtp_client *cl, const struct config *c,
    const struct alert *a, char *err, size_t errlen)
{
	struct smtp_rcpt *rc = NULL;
	struct smtp_result res;
	struct buf b;
	char msgid[ID_BUF];
	const char *from = mail_from(c, a);
	size_t i, j;
	int t, ok = -1;

	buf_init(&b);
	snprintf(err, errlen, "no site address to send from");
	if (from == NULL || id_new(msgid) == -1 ||
	    (rc = calloc(c->nalert_to, sizeof *rc)) == NULL ||
	    alert_mail(a, A.host, from, c->alert_to, c->nalert_to, msgid,
	    &b) == -1)
		goto out;
	for (t = 0; t < LIM_ALERT_TRIES && ok == -1 &&
	    !atomic_load(&A.abort); t++) {
		if (t > 0)
			sleep((unsigned)t);
		for (j = 0; j < c->nalert_smtp && ok == -1; j++) {
			for (i = 0; i < c->nalert_to; i++)
				rc[i].addr = c->alert_to[i];
			ok = smtp_send(cl, c->alert_smtp[j], from, rc,
			    c->nalert_to, b.data, b.len, &res, NULL, NULL);
			if (ok == -1)
				snprintf(err, errlen, "mail through %s: %s",
				    c->alert_smtp[j]->name, res.reply);
		}
	}
out:
	free(rc);
	buf_free(&b);
	return ok;
}

static void
send_one(struct smtp_client *cl, const struct alert *a)
{
	const struct config *c;
	char err[512];
	void *ref;

	c = A.acquire(A.arg, &ref);
	if (c->alert_webhook && webhook_send(c, a, err, sizeof err) == -1)
		log_event(LOG_WARN, "alert_failed", "event",
		    alert_kind_name(a->kind), "channel", "webhook", "error",
		    err, (char *)NULL);
	if (c->nalert_smtp && mail_send(cl, c, a, err, sizeof err) == -1)
		log_event(LOG_WARN, "alert_failed", "event",
		    alert_kind_name(a->kind), "channel", "mail", "error", err,
		    (char *)NULL);
	if (c->alert_webhook || c->nalert_smtp)
		log_event(LOG_INFO, a->resolved ? "alert_resolved" : "alert",
		    "event", alert_kind_name(a->kind), "site", a->site[0] ?
		    a->site : NULL, "profile", a->profile[0] ? a->profile :
		    NULL, "id", a->id[0] ? a->id : NULL, (char *)NULL);
	A.release(A.arg, ref);
}

static void *
run(void *arg)
{
	struct smtp_client *cl = smtp_client_new();
	struct alert a;

	(void)arg;
	if (cl)
		smtp_client_set_abort(cl, &A.abort);
	pthread_mutex_lock(&A.mu);
	while (!A.stop) {
		if (A.n == 0) {
			pthread_cond_wait(&A.cv, &A.mu);
			continue;
		}
		a = A.q[A.head];
		A.head = (A.head + 1) % LIM_ALERT_QUEUE;
		A.n--;
		pthread_mutex_unlock(&A.mu);
		if (cl)
			send_one(cl, &a);
		pthread_mutex_lock(&A.mu);
	}
	pthread_mutex_unlock(&A.mu);
	smtp_client_free(cl);
	return NULL;
}

int
alert_start(alert_acquire_fn acquire, alert_release_fn release, void *arg,
    char *err, size_t errlen)
{
	if ((A.gate = alert_gate_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (gethostname(A.host, sizeof A.host - 1) == -1)
		snprintf(A.host, sizeof A.host, "localhost");
	A.acquire = acquire;
	A.release = release;
	A.arg = arg;
	A.stop = 0;
	A.head = A.n = 0;
	atomic_store(&A.abort, 0);
	if (pthread_create(&A.th, NULL, run, NULL) != 0) {
		snprintf(err, errlen, "cannot start the alert thread");
		alert_gate_free(A.gate);
		A.gate = NULL;
		return -1;
	}
	atomic_store(&A.running, 1);
	return 0;
}

void
alert_stop(void)
{
	if (!atomic_load(&A.running))
		return;
	pthread_mutex_lock(&A.mu);
	atomic_store(&A.running, 0);
	A.stop = 1;
	atomic_store(&A.abort, 1);
	pthread_cond_signal(&A.cv);
	pthread_mutex_unlock(&A.mu);
	pthread_join(A.th, NULL);
	alert_gate_free(A.gate);
	A.gate = NULL;
}
