/*
 * serve — the worker process.  Start-up is the only place that may fail
 * the process; afterwards a failure ends one request.  Signals are
 * blocked in every thread and taken by sigwait() here (doc/design.md
 * "Threads"): TERM and INT stop, HUP reloads.  The config and its
 * templates form one immutable "world", swapped whole on reload; a
 * request holds a reference to the world it started with, and so does
 * the sender for each message.
 * Submitting commits to the spool and wakes the sender; the request
 * thread never speaks SMTP.
 */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "check.h"
#include "config.h"
#include "crypto.h"
#include "dedup.h"
#include "fcgi.h"
#include "hold.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "pages.h"
#include "priv.h"
#include "ratelimit.h"
#include "replylimit.h"
#include "sender.h"
#include "smtp.h"
#include "spool.h"
#include "tokenkey.h"
#include "trigger.h"

struct world {
	struct config *c;
	struct pages *pg;
	int refs;                     /* guarded by world_lock */
};

static pthread_mutex_t world_lock = PTHREAD_MUTEX_INITIALIZER;
static struct world *current;
/* Outlives worlds: a reload must not hand every client a fresh budget. */
static struct ratelimit *limiter;
static struct dedup *dedup;           /* outlives reloads */
static struct dedup *nonces;          /* token replay table (a dedup keyed by
                                         * nonce); outlives reloads */
static unsigned char token_key[TOKEN_KEY_LEN];
static struct replylimit *replies;    /* the receipt limit table */

static void
world_free(struct world *w)
{
	if (w == NULL)
		return;
	pages_free(w->pg);
	config_free(w->c);
	free(w);
}

static struct world *
world_acquire(void)
{
	struct world *w;

	pthread_mutex_lock(&world_lock);
	w = current;
	w->refs++;
	pthread_mutex_unlock(&world_lock);
	return w;
}

static void
world_release(struct world *w)
{
	int last;

	pthread_mutex_lock(&world_lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&world_lock);
	if (last)
		world_free(w);
}

/* Loads config, secrets and templates; NULL with err on any problem. */
static struct world *
world_load(const char *path, char *err, size_t errlen)
{
	struct world *w = calloc(1, sizeof *w);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->refs = 1;
	if ((w->c = config_load(path, err, errlen)) == NULL)
		goto fail;
	if ((f = open_memstream(&out, &outlen)) == NULL)
		goto fail;
	if (check_lint(w->c, f) > 0) {
		fclose(f);
		snprintf(err, errlen, "%s", out);
		free(out);
		goto fail;
	}
	fclose(f);
	free(out);
	if (config_load_secrets(w->c, err, errlen) == -1 ||
	    (w->pg = pages_load(w->c, err, errlen)) == NULL)
		goto fail;
	return w;
fail:
	world_free(w);
	return NULL;
}

static struct spool *spool;
static struct sender *sender;
static struct trigger *trigger;
static struct ops *ops;

/* Every queued message due now: `formpost queue flush` (through the
 * spool's trigger file, on the trigger thread) or a reload. */
static void
flush(const char *why)
{
	char err[256], n[24];
	long queued = sender_flush(sender, err, sizeof err);

	if (queued == -1) {
		log_event(LOG_ERROR, "flush_failed", "reason", why, "error",
		    err, (char *)NULL);
		return;
	}
	snprintf(n, sizeof n, "%ld", queued);
	log_event(LOG_INFO, "flushed", "reason", why, "queued", n,
	    (char *)NULL);
}

static void
on_trigger(void *arg)
{
	(void)arg;
	flush("queue flush");
}

/* The submit hook (arg: the request's world): durable in the spool, then
 * the sender is woken.  0 only after spool_commit said file and directory
 * are on disk; -1 (a 503) when the capacity guard refuses, before any
 * write. */
static int
submit(void *arg, const struct site *s, const struct mail *m, const char *id,
    char *err, size_t errlen)
{
	const struct world *w = arg;
	struct spool_msg sm;
	long long created = (long long)time(NULL);
	char n[16];
	int rc;

	if (spool_room(spool, w->c->spool_max_messages, w->c->spool_min_free,
	    err, errlen) == -1) {
		alert_raise(AK_SPOOL_FULL, s->name, NULL, NULL, err);
		return -1;
	}
	alert_clear(AK_SPOOL_FULL, NULL, NULL);
	/* Borrowed: the composed bytes (heap, or a file for a message with
	 * attachments) are written to the spool file from where they are,
	 * never whole in a new buffer (doc/design.md "Attachments"). */
	if ((m->in_file ? spool_msg_borrow_file(&sm, id, s->name, created,
	    m->sender, m->rcpt, m->nrcpt, m->fd, m->off, m->len) :
	    spool_msg_borrow(&sm, id, s->name, created, m->sender, m->rcpt,
	    m->nrcpt, m->data, m->len)) == -1) {
		snprintf(err, errlen, "out of memory or an envelope the "
		    "spool cannot hold");
		return -1;
	}
	rc = spool_commit(spool, &sm, err, errlen);
	spool_msg_free(&sm);
	if (rc == 0) {
		sender_wake(sender, id, s->name, created);
		snprintf(n, sizeof n, "%zu", m->nrcpt);
		log_event(LOG_INFO, "queued", "site", s->name, "id", id,
		    "rcpt_count", n, (char *)NULL);
	}
	return rc;
}

/* The sender takes the current world for each message, so a reload
 * applies to queued mail at once. */
static const struct config *
sender_acquire(void *arg, void **ref)
{
	struct world *w = world_acquire();

	(void)arg;
	*ref = w;
	return w->c;
}

static void
sender_release(void *arg, void *ref)
{
	(void)arg;
	world_release(ref);
}

/* An upload's file in the spool's tmp/ (http_ctx.tmp_open; arg: the
 * request's world).  The capacity guard first: uploads fill the spool's
 * file system before their message is committed. */
static int
upload_open(void *arg)
{
	const struct world *w = arg;
	char err[256];
	int fd;

	if (spool_room(spool, w->c->spool_max_messages, w->c->spool_min_free,
	    err, sizeof err) == -1)
		return -1;
	if ((fd = spool_tmpfile(spool)) == -1)
		log_event(LOG_ERROR, "upload_open_failed", "error",
		    strerror(errno), (char *)NULL);
	return fd;
}

/* An upload kept for the review step's second post (http_ctx.hold_put;
 * arg: the request's world; doc/design.md "The review step"): expired
 * holds go first, then the caps, so a flood of first steps gets 503s
 * instead of the spool's disk. */
static int
hold_put_cb(void *arg, int fd, unsigned long long size, const char *name)
{
	const struct world *w = arg;
	struct hold_caps caps = { config_hold_max_age(w->c),
	    w->c->spool_max_held, w->c->spool_max_held_bytes, 0, 0 };
	int rc;

	config_hold_share(w->c, &caps.site_files, &caps.site_bytes);
	rc = hold_admit(spool_path(spool), fd, size, name,
	    (long long)time(NULL), &caps);
	if (rc == -1)
		log_event(LOG_ERROR, "hold_failed", "error", strerror(errno),
		    (char *)NULL);
	return rc;
}

static int
hold_open_cb(void *arg, const char *name)
{
	(void)arg;
	return hold_open(spool_path(spool), name);
}

static void
hold_drop_cb(void *arg, const char *name)
{
	(void)arg;
	if (hold_drop(spool_path(spool), name) == -1 && errno != ENOENT)
		log_event(LOG_WARN, "hold_drop_failed", "error",
		    strerror(errno), "action", "removed by age later",
		    (char *)NULL);
}

/* The file a message with attachments is composed into
 * (http_ctx.compose_open): no capacity check, which is the submit hook's
 * (doc/design.md "Attachments"). */
static int
compose_open(void *arg)
{
	int fd;

	(void)arg;
	if ((fd = spool_tmpfile(spool)) == -1)
		log_event(LOG_ERROR, "compose_open_failed", "error",
		    strerror(errno), (char *)NULL);
	return fd;
}

/* The /_metrics answer: the counters, and the gauges read now. */
static void
metrics_answer(void *arg, struct buf *out)
{
	struct metrics_gauges g = { -1, -1, -1, -1, -1, -1, -1, -1 };
	struct ops_stats st;
	char err[256];

	(void)arg;
	if (ops_stats(spool, (long long)time(NULL), &st, err, sizeof err)
	    == 0) {
		g.queued = st.queued;
		g.held = st.held;
		g.failed = st.failed;
		g.oldest_queued = st.oldest;
		g.spool_free = st.free_bytes;
		g.held_uploads = st.held_uploads;
		g.held_upload_bytes = st.held_upload_bytes;
	}
	g.resident = ops_resident();
	metrics_render(&g, FORMPOST_VERSION, out);
}

static void
handle(void *arg, const struct http_req *req, struct http_resp *resp)
{
	struct world *w = world_acquire();
	struct http_ctx ctx = { .c = w->c, .pg = w->pg, .submit = submit,
	    .submit_arg = w, .rl = limiter, .dedup = dedup,
	    .token_key = token_key, .nonces = nonces, .replies = replies,
	    .metrics = metrics_answer, .tmp_open = upload_open, .tmp_arg = w,
	    .hold_put = hold_put_cb, .hold_open = hold_open_cb,
	    .hold_drop = hold_drop_cb, .hold_arg = w,
	    .compose_open = compose_open };
	struct timespec t0, t1;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	http_handle(&ctx, req, resp);
	world_release(w);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_request_us((uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000));
	if (resp->site[0] && req->method && strcmp(req->method, "POST") == 0)
		metrics_post(resp->site, metrics_result_of(resp->status,
		    resp->reason));
}

/* A config's log_level and log_ip, and its sites' metrics, at start and
 * on every reload. */
static void
apply_settings(const struct config *c)
{
	size_t i;

	log_set_level((enum log_level)c->log_level);
	log_set_ip_mode(c->log_ip);
	for (i = 0; i < c->nsites; i++)
		metrics_declare_site(c->sites[i].name);
}

/* A limiter keyed with fresh random bytes (so nobody can aim hash
 * collisions at one bucket); NULL on failure. */
static struct ratelimit *
new_limiter(void)
{
	unsigned char digest[SHA256_LEN];

	if (crypto_random(digest, sizeof digest) == -1)
		return NULL;
	return ratelimit_new(LIM_RATELIMIT_SLOTS, digest);
}

static int
peer_ok(void *arg, const char *addr)
{
	struct world *w = world_acquire();
	size_t i;
	int ok = 0;

	(void)arg;
	if (w->c->nfastcgi_allow == 0)
		ok = config_host_is_loopback(addr);
	for (i = 0; i < w->c->nfastcgi_allow && !ok; i++)
		ok = strcmp(w->c->fastcgi_allow[i], addr) == 0;
	world_release(w);
	return ok;
}

/* What only a restart can change (listen, workers, spool, user;
 * and socket_group), as the process started with it: a reload is compared
 * with these, not with the previous reload, since the running process
 * still uses them. */
enum { RK_LISTEN, RK_WORKERS, RK_SPOOL, RK_USER, RK_GROUP, RK_N };
static const char *const rk_names[RK_N] = { "listen", "workers", "spool",
    "user", "socket_group" };
static char running_keys[RK_N][512];

static void
restart_keys(const struct config *c, char out[RK_N][512])
{
	snprintf(out[RK_LISTEN], 512, "%u %s %s %u", (unsigned)c->listen,
	    c->listen_path ? c->listen_path : "", c->listen_host ?
	    c->listen_host : "", c->listen_port);
	snprintf(out[RK_WORKERS], 512, "%u", c->workers);
	snprintf(out[RK_SPOOL], 512, "%s", c->spool);
	snprintf(out[RK_USER], 512, "%s", c->user ? c->user : "");
	snprintf(out[RK_GROUP], 512, "%s", c->socket_group ?
	    c->socket_group : "");
}

static void
reload(const char *path, struct fcgi_pool *pool)
{
	struct world *w, *old;
	char err[1024], keys[96] = "", now[RK_N][512];
	size_t i, n;

	if ((w = world_load(path, err, sizeof err)) == NULL) {
		log_event(LOG_ERROR, "reload_failed", "error", err,
		    "action", "kept the running config", (char *)NULL);
		return;
	}
	/* Say which need a restart, keep running with their old values. */
	restart_keys(w->c, now);
	for (i = 0; i < RK_N; i++)
		if (strcmp(now[i], running_keys[i]) != 0) {
			n = strlen(keys);
			snprintf(keys + n, sizeof keys - n, "%s%s", n ? "," :
			    "", rk_names[i]);
		}
	if (keys[0])
		log_event(LOG_WARN, "reload_needs_restart", "keys", keys,
		    "action", "running with the old values of these keys "
		    "until a restart", (char *)NULL);
	pthread_mutex_lock(&world_lock);
	old = current;
	current = w;
	pthread_mutex_unlock(&world_lock);
	world_release(old);
	fcgi_set_read_timeout(pool, w->c->read_timeout);
	apply_settings(w->c);
	log_event(LOG_INFO, "reloaded", "config", path, (char *)NULL);
	/* A fixed password or host applies to held messages now, not after
	 * their back-off. */
	flush("reload");
}

int
serve_main(const char *path)
{
	struct fcgi_pool *pool = NULL;
	struct world *w;
	sigset_t set;
	char err[1024], nw[16];
	int fd = -1, is_tcp, sig, rc = 1;

	/* Before any thread: every thread inherits the blocked set. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (smtp_global_init(err, sizeof err) == -1) {
		fprintf(stderr, "formpost: %s\n", err);
		return 1;
	}
	/* Parse first (as root: the config may be root-only), then open the
	 * socket, then become the service user and read the rest. */
	{
		struct config *c = config_load(path, err, sizeof err);
		if (c == NULL) {
			fprintf(stderr, "formpost: %s\n", err);
			goto out;
		}
		fd = fcgi_listen(c, &is_tcp, err, sizeof err);
		if (fd == -1 || priv_drop(c->user, err, sizeof err) == -1) {
			fprintf(stderr, "formpost: %s\n", err);
			config_free(c);
			goto out;
		}
		config_free(c);
	}
	if (geteuid() == 0)
		log_event(LOG_WARN, "running_as_root", "hint", "set user: in "
		    "the config so a bug cannot act as root", (char *)NULL);
	if ((w = world_load(path, err, sizeof err)) == NULL) {
		fprintf(stderr, "formpost: %s\n", err);
		goto out;
	}
	current = w;
	apply_settings(w->c);
	restart_keys(w->c, running_keys);
	if ((limiter = new_limiter()) == NULL) {
		fprintf(stderr, "formpost: cannot set up rate limits\n");
		goto out;
	}
	if ((dedup = dedup_new(LIM_DEDUP_SLOTS, LIM_DEDUP_WINDOW, NULL,
	    NULL)) == NULL || (nonces = dedup_new(LIM_TOKEN_NONCES,
	    LIM_TOKEN_NONCE_WINDOW, NULL, NULL)) == NULL) {
		fprintf(stderr, "formpost: out of memory\n");
		goto out;
	}
	/* Before the sender, which raises alerts; always running, since a
	 * reload may turn alerts on (without alerts: nothing is sent). */
	if (alert_start(sender_acquire, sender_release, NULL, err,
	    sizeof err) == -1) {
		fprintf(stderr, "formpost: %s\n", err);
		goto out;
	}
	/* After the privilege drop: the spool belongs to the service user. */
	if ((spool = spool_open(w->c->spool, err, sizeof err)) == NULL ||
	    (sender = sender_start(spool, sender_acquire, sender_release, NULL,
	    err, sizeof err)) == NULL) {
		fprintf(stderr, "formpost: spool: %s\n", err);
		goto out;
	}
	/* Always opened, like the token key: a reload may turn auto_reply
	 * on. */
	if ((replies = replylimit_open(w->c->spool, err, sizeof err)) ==
	    NULL) {
		fprintf(stderr, "formpost: receipt limits: %s\n", err);
		goto out;
	}
	/* The ops thread: retention now and hourly, the queue's age. */
	if ((ops = ops_start(spool, sender_acquire, sender_release, NULL, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "formpost: %s\n", err);
		goto out;
	}
	/* Always loaded: a reload may turn tokens on. */
	if (tokenkey_load(w->c->spool, token_key, err, sizeof err) == -1) {
		fprintf(stderr, "formpost: token key: %s\n", err);
		goto out;
	}
	/* Without it `queue flush` still works at the next start; say so
	 * and keep serving. */
	if ((trigger = trigger_start(w->c->spool, on_trigger, NULL, err,
	    sizeof err)) == NULL)
		log_event(LOG_ERROR, "trigger_failed", "error", err, "action",
		    "queue flush cannot wake this process", (char *)NULL);
	pool = fcgi_start(fd, w->c->workers, w->c->read_timeout, handle,
	    is_tcp ? peer_ok : NULL, NULL, err, sizeof err);
	if (pool == NULL) {
		fprintf(stderr, "formpost: %s\n", err);
		goto out;
	}
	snprintf(nw, sizeof nw, "%u", w->c->workers);
	log_event(LOG_INFO, "started", "version", FORMPOST_VERSION, "config",
	    path, "workers", nw, (char *)NULL);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(path, pool);
			continue;
		}
		break;
	}
	log_event(LOG_INFO, "stopping", "signal", sig == SIGINT ? "INT" :
	    "TERM", (char *)NULL);
	fcgi_stop(pool);
	pool = NULL;
	rc = 0;
out:
	/* Requests are done (none can wake the sender now); in-flight SMTP
	 * gets its grace, the rest stays spooled. */
	trigger_stop(trigger);
	trigger = NULL;
	ops_stop(ops);
	ops = NULL;
	if (sender_stop(sender) == 0) {
		sender = NULL;
		spool_close(spool);
		spool = NULL;
	}
	alert_stop();
	if (rc == 0)
		log_event(LOG_INFO, "stopped", (char *)NULL);
	if (current) {
		world_release(current);
		current = NULL;
	}
	dedup_free(dedup);
	dedup = NULL;
	dedup_free(nonces);
	nonces = NULL;
	crypto_cleanse(token_key, sizeof token_key);
	if (fd > 2)
		close(fd);
	ratelimit_free(limiter);
	limiter = NULL;
	replylimit_close(replies);
	replies = NULL;
	/* A sender thread stuck in libcurl: leave libcurl alone. */
	if (sender == NULL)
		smtp_global_cleanup();
	return rc;
}
