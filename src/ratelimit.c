/*
 * ratelimit — GCRA budgets in a fixed, set-associative table (see
 * ratelimit.h).  A slot's state is one time: TAT, the moment the client's
 * budget would be whole again if it posted at exactly the allowed rate.
 * With T = window/count (the emission interval) and tau = window - T (the
 * burst tolerance), a post at `now` is allowed when TAT - now <= tau, and
 * then moves TAT to max(TAT, now) + T.  A slot whose TAT has passed holds
 * nothing worth keeping, so it is the first to be reused.
 *
 * Must never: allocate after ratelimit_new, or let a caller's bytes pick
 * the bucket without the secret key (SipHash-2-4 keys every lookup).
 */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS   4       /* slots per bucket: one cache line */
#define LOCKS  64      /* striped: threads rarely meet on one */
#define MIN_SLOTS 64

struct slot {
	uint64_t key;          /* keyed hash, never 0; 0 = empty */
	uint64_t tat;          /* ms on the caller's clock */
};

struct ratelimit {
	struct slot *slots;
	size_t nbuckets;       /* power of two */
	uint64_t k0, k1;       /* SipHash key */
	pthread_mutex_t locks[LOCKS];
};

/* SipHash-2-4 (Aumasson and Bernstein, 2012), 64-bit output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
load64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
siphash(uint64_t k0, uint64_t k1, const unsigned char *in, size_t n)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = load64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (; left > 0; left--)
		b |= (uint64_t)in[i + left - 1] << (8 * (left - 1));
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct ratelimit *
ratelimit_new(size_t slots, const unsigned char key[RATELIMIT_KEY_BYTES])
{
	struct ratelimit *rl;
	size_t n = MIN_SLOTS, i;

	while (n < slots && n <= (SIZE_MAX / sizeof(struct slot)) / 2)
		n *= 2;
	if ((rl = calloc(1, sizeof *rl)) == NULL)
		return NULL;
	if ((rl->slots = calloc(n, sizeof *rl->slots)) == NULL) {
		free(rl);
		return NULL;
	}
	rl->nbuckets = n / WAYS;
	rl->k0 = load64(key);
	rl->k1 = load64(key + 8);
	for (i = 0; i < LOCKS; i++)
		pthread_mutex_init(&rl->locks[i], NULL);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	size_t i;

	if (rl == NULL)
		return;
	for (i = 0; i < LOCKS; i++)
		pthread_mutex_destroy(&rl->locks[i]);
	free(rl->slots);
	free(rl);
}

/* The hash of (site, client): site NUL then the address's bytes — an IPv6
 * address's /64, an IPv4 address's 4 bytes (also when IPv4-mapped), or
 * the text as given when it is no address. */
static uint64_t
client_key(const struct ratelimit *rl, const char *site, const char *addr)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	unsigned char buf[64 + 1 + 64], a6[16];
	size_t sl = 0, al = 0;
	uint64_t h;

	/* Site names are at most LIM_NAME_BYTES (64); stop there anyway. */
	for (; site && site[sl] && sl < 64; sl++)
		buf[sl] = (unsigned char)site[sl];
	buf[sl++] = '\0';
	/* An IPv4 address has no ':' and an IPv6 one needs one: try the
	 * likely family first. */
	if (addr == NULL)
		;
	else if (strchr(addr, ':') == NULL && inet_pton(AF_INET, addr, a6)
	    == 1) {
		memcpy(buf + sl, a6, 4);
		al = 4;
	} else if (inet_pton(AF_INET6, addr, a6) == 1) {
		if (memcmp(a6, mapped, sizeof mapped) == 0) {
			memcpy(buf + sl, a6 + 12, 4);
			al = 4;
		} else {
			memcpy(buf + sl, a6, 8);
			al = 8;
		}
	} else
		for (; al < 64 && addr[al]; al++)
			buf[sl + al] = (unsigned char)addr[al];
	h = siphash(rl->k0, rl->k1, buf, sl + al);
	return h ? h : 1;
}

static void
params(unsigned count, unsigned window_s, uint64_t *t, uint64_t *tau)
{
	uint64_t w = (uint64_t)window_s * 1000;

	*t = w / count;
	if (*t == 0)
		*t = 1;
	*tau = w > *t ? w - *t : 0;
}

/* The bucket for key; locks it. */
static struct slot *
bucket_lock(struct ratelimit *rl, uint64_t key, pthread_mutex_t **lock)
{
	/* Low bits pick the bucket, so the bucket's lock stripe is fixed. */
	size_t b = (size_t)(key & (rl->nbuckets - 1));

	*lock = &rl->locks[b % LOCKS];
	pthread_mutex_lock(*lock);
	return &rl->slots[b * WAYS];
}

unsigned
ratelimit_take(struct ratelimit *rl, const char *site, const char *addr,
    unsigned count, unsigned window_s, uint64_t now_ms)
{
	pthread_mutex_t *lock;
	struct slot *bk, *hit = NULL, *victim;
	uint64_t key, t, tau, tat, wait;
	unsigned rc = 0;
	int i;

	if (rl == NULL || count == 0 || window_s == 0)
		return 0;
	params(count, window_s, &t, &tau);
	key = client_key(rl, site, addr);
	bk = bucket_lock(rl, key, &lock);
	victim = &bk[0];
	for (i = 0; i < WAYS; i++) {
		if (bk[i].key == key) {
			hit = &bk[i];
			break;
		}
		/* Empty, else free again, else the least limited. */
		if (victim->key != 0 && (bk[i].key == 0 ||
		    (victim->tat > now_ms && bk[i].tat < victim->tat)))
			victim = &bk[i];
	}
	tat = hit && hit->tat > now_ms ? hit->tat : now_ms;
	if (tat - now_ms > tau) {
		wait = tat - now_ms - tau;
		rc = (unsigned)((wait + 999) / 1000);
		goto out;
	}
	if (hit == NULL) {
		hit = victim;
		hit->key = key;
	}
	hit->tat = tat + t;
out:
	pthread_mutex_unlock(lock);
	return rc;
}

void
ratelimit_refund(struct ratelimit *rl, const char *site, const char *addr,
    unsigned count, unsigned window_s, uint64_t now_ms)
{
	pthread_mutex_t *lock;
	struct slot *bk;
	uint64_t key, t, tau;
	int i;

	(void)now_ms;
	if (rl == NULL || count == 0 || window_s == 0)
		return;
	params(count, window_s, &t, &tau);
	key = client_key(rl, site, addr);
	bk = bucket_lock(rl, key, &lock);
	for (i = 0; i < WAYS; i++)
		if (bk[i].key == key) {
			bk[i].tat = bk[i].tat > t ? bk[i].tat - t : 0;
			break;
		}
	pthread_mutex_unlock(lock);
}

size_t
ratelimit_used(struct ratelimit *rl)
{
	size_t b, n = 0;
	int i;

	for (b = 0; b < rl->nbuckets; b++) {
		pthread_mutex_lock(&rl->locks[b % LOCKS]);
		for (i = 0; i < WAYS; i++)
			n += rl->slots[b * WAYS + i].key != 0;
		pthread_mutex_unlock(&rl->locks[b % LOCKS]);
	}
	return n;
}

size_t
ratelimit_slots(const struct ratelimit *rl)
{
	return rl->nbuckets * WAYS;
}
