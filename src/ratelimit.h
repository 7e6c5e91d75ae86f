/*
 * ratelimit — per (site, client address) post budgets in fixed memory.
 *
 * A site's `rate_limit: N/DURATION` is a rate of N posts per DURATION with
 * a burst of N (the generic cell rate algorithm, like nginx's limit_req
 * with burst=N): N posts may come at once, then one more every
 * DURATION/N.  Each client costs one 16-byte slot holding a keyed hash of
 * (site, address) and its "theoretical arrival time"; the table never
 * grows, so a flood from a million addresses evicts slots instead of
 * allocating.  Eviction prefers slots that are already free again, then
 * the least limited client: a client that is far over its budget is the
 * last to be forgotten.  IPv6 clients are keyed by their /64 (one
 * subscriber's whole prefix), IPv4 by the address.
 *
 * Pure apart from its mutexes: the caller passes the time, so tests drive
 * a fake clock.  Thread-safe.
 */
#ifndef FORMPOST_RATELIMIT_H
#define FORMPOST_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_BYTES 16

struct ratelimit;

/* A table of `slots` entries (rounded up to a power of two, at least 64;
 * 16 bytes each), keyed with key (random per process, so nobody can aim
 * hash collisions at a bucket).  Returns NULL when out of memory. */
struct ratelimit *ratelimit_new(size_t slots,
    const unsigned char key[RATELIMIT_KEY_BYTES]);
void ratelimit_free(struct ratelimit *rl);

/* Takes one post from the budget of (site, addr) at now_ms (any monotonic
 * millisecond clock).  count 0 or window 0 means no limit.  Returns 0 when
 * the post may proceed (and counts it), else the seconds until it would be
 * allowed (at least 1; for Retry-After) without counting it.  addr may be
 * NULL or not an address: it is then keyed as given (or as ""). */
unsigned ratelimit_take(struct ratelimit *rl, const char *site,
    const char *addr, unsigned count, unsigned window_s, uint64_t now_ms);

/* Gives back a post taken by ratelimit_take that did not end as one the
 * limit counts (it was refused or could not be stored).  Harmless when
 * the slot was evicted meanwhile. */
void ratelimit_refund(struct ratelimit *rl, const char *site,
    const char *addr, unsigned count, unsigned window_s, uint64_t now_ms);

/* Slots in use (for tests and the memory argument above). */
size_t ratelimit_used(struct ratelimit *rl);
size_t ratelimit_slots(const struct ratelimit *rl);

#endif
