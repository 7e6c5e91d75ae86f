/*
 * dedup — remembers recently accepted submissions, so that the same site,
 * client address and content within a window (SPEC: 10 minutes; a double
 * click, a browser resend) gets the first answer with the first id and no
 * second mail.  A fixed-size, set-associative table of (SHA-256 key, id,
 * time): memory never grows, whatever a flood of distinct clients sends;
 * when a set is full the oldest entry there is forgotten.  Never stores
 * form values, only their digest.  Thread-safe (one short mutex hold per
 * call); the clock is injected so tests control time.
 *
 * Not covered: two identical posts racing each other (both looked up
 * before either was recorded) each get their own mail.
 */
#ifndef FORMPOST_DEDUP_H
#define FORMPOST_DEDUP_H

#include <stddef.h>
#include <time.h>

#include "crypto.h"
#include "validate.h"

struct dedup;

/* Seconds from any fixed origin; must not go backwards. */
typedef time_t (*dedup_clock)(void *arg);

/* A table of about `slots` entries (rounded up to whole sets) that
 * forgets an entry window seconds after it was recorded.  clock NULL:
 * CLOCK_MONOTONIC.  Returns NULL on OOM.  Free with dedup_free. */
struct dedup *dedup_new(size_t slots, unsigned window, dedup_clock clock,
    void *clock_arg);
void dedup_free(struct dedup *d);

/* The key of one submission: SHA-256 over the site name, the client
 * address and every configured field's normalised value, each
 * length-prefixed (so no two different inputs share an encoding).
 * ip may be NULL.  Returns 0, or -1 (OOM, digest failure). */
int dedup_key(const char *site, const char *ip, const struct fvals *v,
    unsigned char key[SHA256_LEN]);

/* 1 with the first id copied into id when key was recorded within the
 * window, else 0. */
int dedup_lookup(struct dedup *d, const unsigned char key[SHA256_LEN],
    char id[ID_LEN + 1]);

/* Remembers key → id from now (a later record of the same key replaces
 * it).  id must be a valid id (crypto_id_valid); others are ignored. */
void dedup_record(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id);

#endif
