/*
 * dedup — the double-submit table.  Sets of DEDUP_WAYS entries; a key's
 * set comes from its first bytes (SHA-256 output is uniform, so visitors
 * cannot crowd one set without finding collisions).  Expired entries are
 * reused first, then the oldest of the set.
 */
#include "dedup.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DEDUP_WAYS 8

struct entry {
	unsigned char key[SHA256_LEN];
	char id[ID_LEN + 1];
	unsigned char used;
	time_t t;
};

struct dedup {
	pthread_mutex_t mu;
	struct entry *e;           /* nsets * DEDUP_WAYS */
	size_t nsets;
	unsigned window;
	dedup_clock clock;
	void *clock_arg;
};

static time_t
monotonic(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct dedup *
dedup_new(size_t slots, unsigned window, dedup_clock clock, void *clock_arg)
{
	struct dedup *d;

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
	for (i = 0; i < v->n; i++)
		add_part(&b, v->v[i].value ? v->v[i].value : "",
		    v->v[i].value ? v->v[i].len : 0);
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

int
dedup_lookup(struct dedup *d, const unsigned char key[SHA256_LEN],
    char id[ID_LEN + 1])
{
	struct entry *set;
	time_t now;
	int i, found = 0;

	pthread_mutex_lock(&d->mu);
	now = d->clock(d->clock_arg);
	set = set_of(d, key);
	for (i = 0; i < DEDUP_WAYS; i++)
		if (live(d, &set[i], now) &&
		    memcmp(set[i].key, key, SHA256_LEN) == 0) {
			memcpy(id, set[i].id, ID_LEN + 1);
			found = 1;
			break;
		}
	pthread_mutex_unlock(&d->mu);
	return found;
}

void
dedup_record(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id)
{
	struct entry *set, *victim = NULL;
	time_t now;
	int i;

	if (!crypto_id_valid(id))
		return;
	pthread_mutex_lock(&d->mu);
	now = d->clock(d->clock_arg);
	set = set_of(d, key);
	for (i = 0; i < DEDUP_WAYS && victim == NULL; i++)
		if (set[i].used && memcmp(set[i].key, key, SHA256_LEN) == 0)
			victim = &set[i];
	for (i = 0; i < DEDUP_WAYS && victim == NULL; i++)
		if (!live(d, &set[i], now))
			victim = &set[i];
	if (victim == NULL) {              /* a full set: forget the oldest */
		victim = &set[0];
		for (i = 1; i < DEDUP_WAYS; i++)
			if (set[i].t < victim->t)
				victim = &set[i];
	}
	memcpy(victim->key, key, SHA256_LEN);
	memcpy(victim->id, id, ID_LEN + 1);
	victim->used = 1;
	victim->t = now;
	pthread_mutex_unlock(&d->mu);
}
