/*
 * dedup — the double-submit table.  Sets of DEDUP_WAYS entries; a key's
 * set comes from its first bytes (SHA-256 output is uniform, so visitors
 * cannot crowd one set without finding collisions).  Expired entries are
 * reused first, then the oldest of the set.
 */
#include "dedup.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

#define DEDUP_WAYS 8

struct entry {
	unsigned char key[SHA256_LEN];
	char id[ID_BUF];
	unsigned char used;
	unsigned char inflight;    /* claimed, its submit not yet answered */
	time_t t;
};

struct dedup {
	pthread_mutex_t mu;
	pthread_cond_t resolved;   /* some claim was recorded or released */
	struct entry *e;           /* nsets * DEDUP_WAYS */
	size_t nsets;
	unsigned window;
	dedup_clock clock;
	void *clock_arg;
};

static time_t
monotonic(void *arg)
{
	(void)arg;
	return (time_t)(mono_ms() / 1000);
}

struct dedup *
dedup_new(size_t slots, unsigned window, dedup_clock clock, void *clock_arg)
{
	struct dedup *d;
	pthread_condattr_t ca;
	int ok;

	if ((d = calloc(1, sizeof *d)) == NULL)
		return NULL;
	d->nsets = slots / DEDUP_WAYS + (slots % DEDUP_WAYS != 0);
	if (d->nsets == 0)
		d->nsets = 1;
	if ((d->e = calloc(d->nsets * DEDUP_WAYS, sizeof *d->e)) == NULL ||
	    pthread_mutex_init(&d->mu, NULL) != 0) {
		free(d->e);
		free(d);
		return NULL;
	}
	/* Waits are measured on the monotonic clock: a wall-clock step
	 * must not stretch them. */
	if (pthread_condattr_init(&ca) != 0) {
		ok = 0;
	} else {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&d->resolved, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!ok) {
		pthread_mutex_destroy(&d->mu);
		free(d->e);
		free(d);
		return NULL;
	}
	d->window = window;
	d->clock = clock ? clock : monotonic;
	d->clock_arg = clock_arg;
	return d;
}

void
dedup_free(struct dedup *d)
{
	if (d == NULL)
		return;
	pthread_cond_destroy(&d->resolved);
	pthread_mutex_destroy(&d->mu);
	free(d->e);
	free(d);
}

static void
add_part(struct buf *b, const char *s, size_t n)
{
	unsigned char len[8];
	int i;

	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	buf_add(b, len, sizeof len);
	buf_add(b, s, n);
}

int
dedup_key(const char *site, const char *ip, const struct fvals *v,
    unsigned char key[SHA256_LEN])
{
	struct buf b;
	size_t i;
	int rc = -1;

	buf_init(&b);
	add_part(&b, site, strlen(site));
	add_part(&b, ip ? ip : "", ip ? strlen(ip) : 0);
	for (i = 0; i < v->n; i++) {
		add_part(&b, v->v[i].value ? v->v[i].value : "",
		    v->v[i].value ? v->v[i].len : 0);
		/* a file is its content, not its name */
		if (v->v[i].has_file)
			add_part(&b, (const char *)v->v[i].digest,
			    sizeof v->v[i].digest);
	}
	if (!b.oom && crypto_sha256(b.data, b.len, key) == 0)
		rc = 0;
	buf_free(&b);
	return rc;
}

static struct entry *
set_of(struct dedup *d, const unsigned char *key)
{
	uint64_t h = 0;
	int i;

	for (i = 0; i < 8; i++)
		h = h << 8 | key[i];
	return &d->e[(h % d->nsets) * DEDUP_WAYS];
}

static int
live(const struct dedup *d, const struct entry *e, time_t now)
{
	return e->used && now - e->t < (time_t)d->window;
}

/* The live entry for key in its set, or NULL.  Caller holds mu. */
static struct entry *
find(struct dedup *d, const unsigned char *key, time_t now)
{
	struct entry *set = set_of(d, key);
	int i;

	for (i = 0; i < DEDUP_WAYS; i++)
		if (live(d, &set[i], now) &&
		    memcmp(set[i].key, key, SHA256_LEN) == 0)
			return &set[i];
	return NULL;
}

int
dedup_lookup(struct dedup *d, const unsigned char key[SHA256_LEN],
    char id[ID_BUF])
{
	struct entry *e;

	pthread_mutex_lock(&d->mu);
	if ((e = find(d, key, d->clock(d->clock_arg))) != NULL)
		id_copy(id, e->id);
	pthread_mutex_unlock(&d->mu);
	return e != NULL;
}

/* Stores key → id as of now in key's set.  Caller holds mu.  The slot
 * is, by preference: key's own (stale) entry, an expired one, the oldest
 * settled one, the oldest of all (a set full of claims in flight; the
 * evicted claim's owner re-inserts on record, its release is a no-op). */
static void
put(struct dedup *d, const unsigned char *key, const char *id, time_t now,
    int inflight)
{
	struct entry *set = set_of(d, key), *victim = NULL;
	int i;

	for (i = 0; i < DEDUP_WAYS && victim == NULL; i++)
		if (set[i].used && memcmp(set[i].key, key, SHA256_LEN) == 0)
			victim = &set[i];
	for (i = 0; i < DEDUP_WAYS && victim == NULL; i++)
		if (!live(d, &set[i], now))
			victim = &set[i];
	if (victim == NULL) {              /* a full set */
		victim = &set[0];
		for (i = 1; i < DEDUP_WAYS; i++)
			if (set[i].inflight < victim->inflight ||
			    (set[i].inflight == victim->inflight &&
			    set[i].t < victim->t))
				victim = &set[i];
	}
	memcpy(victim->key, key, SHA256_LEN);
	id_copy(victim->id, id);
	victim->used = 1;
	victim->inflight = (unsigned char)inflight;
	victim->t = now;
}

int
dedup_claim(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id, char first[ID_BUF])
{
	struct timespec until;
	struct entry *e;
	int rc = 0;

	if (!id_spool_valid(id))
		return -1;
	until = mono_after_ms(LIM_DEDUP_WAIT_MS);
	pthread_mutex_lock(&d->mu);
	for (;;) {
		e = find(d, key, d->clock(d->clock_arg));
		if (e == NULL) {
			put(d, key, id, d->clock(d->clock_arg), 1);
			break;
		}
		/* Settled, or its owner is still at it after the wait:
		 * the first id (the owner answers its visitor with it). */
		id_copy(first, e->id);
		rc = 1;
		if (!e->inflight ||
		    pthread_cond_timedwait(&d->resolved, &d->mu, &until) ==
		    ETIMEDOUT)
			break;
		rc = 0;
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void
dedup_release(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id)
{
	struct entry *e;

	pthread_mutex_lock(&d->mu);
	/* Only id's own claim: a settled entry, or another post's claim
	 * after an eviction, stays. */
	e = find(d, key, d->clock(d->clock_arg));
	if (e && e->inflight && strcmp(e->id, id) == 0) {
		memset(e, 0, sizeof *e);
		pthread_cond_broadcast(&d->resolved);
	}
	pthread_mutex_unlock(&d->mu);
}

void
dedup_record(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id)
{
	time_t now;

	if (!id_spool_valid(id))
		return;
	pthread_mutex_lock(&d->mu);
	now = d->clock(d->clock_arg);
	put(d, key, id, now, 0);
	pthread_cond_broadcast(&d->resolved);
	pthread_mutex_unlock(&d->mu);
}
