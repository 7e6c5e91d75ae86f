/*
 * idset — a set of message ids, each with a reference count.  The sender
 * keeps one so a rescan of queue/ schedules only the ids it does not
 * already hold (in its schedule or in flight), however often it rescans
 * and however many processes share the spool.  Pure: no I/O, no locks
 * (the caller serialises), open addressing with linear probing and
 * backward-shift deletion, so the table never fills with tombstones.
 */
#ifndef FORMPOST_IDSET_H
#define FORMPOST_IDSET_H

#include <stddef.h>

#include "spool.h"

struct idset;

struct idset *idset_new(void);          /* NULL on OOM */
void idset_free(struct idset *set);     /* NULL is fine */

/* Adds one reference to id (a spool name, see spool_id_valid), inserting
 * it with count 1.  Returns the new count, or -1 on OOM or an invalid id
 * (the set is unchanged). */
long idset_add(struct idset *set, const char *id);

/* Drops one reference; the id leaves the set at 0.  Returns the count
 * left (0 also when it was absent). */
long idset_drop(struct idset *set, const char *id);

/* The id's count (0: absent). */
unsigned idset_get(const struct idset *set, const char *id);

/* Ids in the set. */
size_t idset_size(const struct idset *set);

#endif
