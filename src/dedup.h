/*
 * dedup — remembers recently accepted submissions, so that the same site,
 * client address and content within a window (LIM_DEDUP_WINDOW; a double
 * click, a browser resend) gets the first answer with the first id and no
 * second mail.  A fixed-size, set-associative table of (SHA-256 key, id,
 * time): memory never grows, whatever a flood of distinct clients sends;
 * when a set is full the oldest entry there is forgotten.  Never stores
 * form values, only their digest.  Thread-safe (one short mutex hold per
 * call, except a bounded wait in dedup_claim); the clock is injected so
 * tests control time.
 *
 * Two identical posts at the same moment: the first claims the key with
 * its id before submitting (an entry "in flight"); the second waits for
 * that claim to settle.  Recorded: the first id, no second mail.
 * Released (the first's submit failed): the second claims and submits
 * itself, so no visitor is told "sent" for a message not on disk.
 *
 * serve keeps two tables: `dedup` for submissions (dedup_key), and
 * `nonces` for the fill-time token's replay check, keyed by the token's
 * nonce for LIM_TOKEN_NONCE_WINDOW, so a token is accepted for one
 * message however often it is posted.
 */
#ifndef FORMPOST_DEDUP_H
#define FORMPOST_DEDUP_H

#include <stddef.h>
#include <time.h>

#include "crypto.h"
#include "id.h"
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

/* 1 with the first id copied into id when key was recorded or claimed
 * within the window, else 0. */
int dedup_lookup(struct dedup *d, const unsigned char key[SHA256_LEN],
    char id[ID_BUF]);

/* Claims key for id (a valid id; -1 otherwise), atomically:
 *  0  the key was new; it is now in flight for id.  The caller submits,
 *     then calls dedup_record (stored) or dedup_release (failed).
 *  1  a twin: the first id is copied into first.  A claim in flight is
 *     waited for (LIM_DEDUP_WAIT_MS at most; after that its id is
 *     answered as the owner's will be); released meanwhile, the key is
 *     claimed for id and 0 returned instead. */
int dedup_claim(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id, char first[ID_BUF]);

/* Forgets id's claim of key (its submit failed), so a resend, or a twin
 * waiting in dedup_claim, can submit.  Anything else under key stays. */
void dedup_release(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id);

/* Remembers key → id from now, settling id's claim and waking its
 * twins (a later record of the same key replaces it).  id must be a
 * valid id (id_spool_valid); others are ignored. */
void dedup_record(struct dedup *d, const unsigned char key[SHA256_LEN],
    const char *id);

#endif
