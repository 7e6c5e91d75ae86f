/*
 * idset — open-addressing hash set of ids with counts (see idset.h).
 * The load factor stays at or below one half, so probes are short and an
 * empty slot always ends a search.  Ids come from our own spool (0700)
 * and are random, but FNV-1a keeps a crafted name from landing every id
 * in one run of slots by accident of a naive hash.
 */
#include "idset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MIN_SLOTS 64

struct slot {
	char id[SPOOL_ID_MAX + 1];
	unsigned refs;         /* 0: empty */
};

struct idset {
	struct slot *s;
	size_t cap;            /* a power of two */
	size_t n;
};

static size_t
hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		h ^= (unsigned char)id[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

struct idset *
idset_new(void)
{
	struct idset *set = calloc(1, sizeof *set);

	if (set == NULL || (set->s = calloc(MIN_SLOTS, sizeof *set->s)) ==
	    NULL) {
		free(set);
		return NULL;
	}
	set->cap = MIN_SLOTS;
	return set;
}

void
idset_free(struct idset *set)
{
	if (set == NULL)
		return;
	free(set->s);
	free(set);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t
find(const struct idset *set, const char *id)
{
	size_t i = hash(id) & (set->cap - 1);

	while (set->s[i].refs && strcmp(set->s[i].id, id) != 0)
		i = (i + 1) & (set->cap - 1);
	return i;
}

static int
grow(struct idset *set)
{
	struct idset big = { NULL, set->cap * 2, 0 };
	size_t i;

	if ((big.s = calloc(big.cap, sizeof *big.s)) == NULL)
		return -1;
	for (i = 0; i < set->cap; i++)
		if (set->s[i].refs)
			big.s[find(&big, set->s[i].id)] = set->s[i];
	big.n = set->n;
	free(set->s);
	*set = big;
	return 0;
}

long
idset_add(struct idset *set, const char *id)
{
	size_t i;

	if (!spool_id_valid(id))
		return -1;
	i = find(set, id);
	if (set->s[i].refs)
		return set->s[i].refs == UINT32_MAX ? -1 :
		    (long)++set->s[i].refs;
	if (2 * (set->n + 1) > set->cap) {
		if (grow(set) == -1)
			return -1;
		i = find(set, id);
	}
	str_copy(set->s[i].id, sizeof set->s[i].id, id);
	set->s[i].refs = 1;
	set->n++;
	return 1;
}

long
idset_drop(struct idset *set, const char *id)
{
	size_t i, j, k, mask = set->cap - 1;

	if (!spool_id_valid(id) || set->s[i = find(set, id)].refs == 0)
		return 0;
	if (--set->s[i].refs > 0)
		return (long)set->s[i].refs;
	set->n--;
	/* Backward shift: pull later members of the run into the hole
	 * unless their home slot lies cyclically in (i, j]. */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (set->s[j].refs == 0)
			break;
		k = hash(set->s[j].id) & mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		set->s[i] = set->s[j];
		i = j;
	}
	set->s[i].refs = 0;
	return 0;
}

unsigned
idset_get(const struct idset *set, const char *id)
{
	return spool_id_valid(id) ? set->s[find(set, id)].refs : 0;
}

size_t
idset_size(const struct idset *set)
{
	return set->n;
}
