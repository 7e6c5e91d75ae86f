/*
 * replylimit — how many receipts (auto-replies) a visitor address and a
 * client network got (doc/design.md "Auto-reply and carrier mail").  The
 * counts live in one fixed-size file, SPOOL/autoreply.db, shared by every
 * site and every process using the spool and kept across restarts: each
 * take opens it, holds an exclusive flock while it reads and writes the
 * few slots it needs, and closes it, so threads and processes serialise
 * on the lock and none caches a stale count.
 *
 * Keys are keyed hashes (a random salt in the file's header) of either
 * the address (lower-cased, a "+tag" dropped) or the network (IPv4 /24,
 * IPv6 /48; an IPv4-mapped IPv6 address counts as IPv4), whatever the
 * site: several forms on one spool cannot multiply what one address or
 * network gets.  Each key has a fixed window: the first receipt starts it
 * (with its site's window), each site compares the count with its own
 * limit until the window ends.  A full table evicts the key whose window ends first.
 * Counts are written without fsync: a power cut may forget the last few.
 */
#ifndef FORMPOST_REPLYLIMIT_H
#define FORMPOST_REPLYLIMIT_H

#include <stddef.h>

#define REPLYLIMIT_FILE "autoreply.db"

struct replylimit;

/* Opens (creating 0600, or re-initialising when it is not a table of the
 * expected size) SPOOL_DIR/autoreply.db.  NULL with err on failure. */
struct replylimit *replylimit_open(const char *spool_dir, char *err,
    size_t errlen);
void replylimit_close(struct replylimit *rl);    /* NULL is fine */

enum replylimit_rc {
	REPLYLIMIT_OK = 0,      /* counted: send the receipt */
	REPLYLIMIT_OVER = 1,    /* address or network at its limit: counted
	                         * nothing, send nothing */
	REPLYLIMIT_ERROR = -1,  /* the table could not be read or written
	                         * (err says why): send nothing */
};

/* Counts one receipt to addr for client ip (NULL or unparsable: one
 * shared "unknown" network), unless addr or ip's network already had
 * count receipts in its current window (a new window lasts `window`
 * seconds).  now: epoch seconds.  Thread- and process-safe. */
enum replylimit_rc replylimit_take(struct replylimit *rl, const char *addr,
    const char *ip, unsigned count, unsigned window, long long now,
    char *err, size_t errlen);

/* The network key of ip into out: "203.0.113.0/24", "2001:db8:1::/48",
 * or "unknown".  Pure. */
void replylimit_network(const char *ip, char *out, size_t outlen);

#endif
