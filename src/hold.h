/*
 * hold — uploads kept between the two posts of the review step
 * (doc/design.md "The review step"), in the spool's hold/.
 *
 * A held file is named by the server: 32 lowercase hex characters, a
 * tag of the site's name then 12 bytes from the CSPRNG (hold_new_name),
 * mode 0600, never a byte the visitor sent.
 * The visitor's pages carry a reference to it instead of the file:
 *
 *   ref = base64url(raw) "." label
 *   raw = ver ‖ ctype ‖ issued_at ‖ name ‖ size ‖ digest ‖ mac   (90 bytes)
 *
 * ver 1 byte; ctype 1 byte (sniff kind × 2 + UTF-8 flag); issued_at
 * wall-clock ms, 8 bytes big-endian; name 16 bytes; size 8 bytes
 * big-endian; digest the content's SHA-256; mac the first 24 bytes of
 * HMAC-SHA256(key, "hold" ‖ NUL ‖ raw[0..66) ‖ len ‖ site ‖ len ‖ field
 * ‖ len ‖ label), lengths 4 bytes big-endian: a reference is good for
 * one field of one site.  label is the cleaned file name
 * (sniff_clean_name), in the clear for the pages, bound by the MAC.  A
 * reference is checked in full (shape, MAC in constant time, age) before
 * any path is built from it, so a changed one never opens anything.  The
 * key is the token key; the domain string keeps these MACs apart from
 * the token's and _confirm's.
 *
 * The pure part (references, names) is thread-safe; the rest works on
 * SPOOL/hold/ and is safe for threads and for processes sharing a spool:
 * files are only ever removed by age or after their message is
 * committed.
 */
#ifndef FORMPOST_HOLD_H
#define FORMPOST_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define HOLD_KEY_LEN   32
#define HOLD_NAME_LEN  32                         /* hex characters */
#define HOLD_RAW_LEN   90
#define HOLD_B64_LEN   (HOLD_RAW_LEN / 3 * 4)     /* 120 */
#define HOLD_LABEL_MAX (4 * LIM_ATTACH_NAME_CHARS) /* bytes */
#define HOLD_REF_MAX   (HOLD_B64_LEN + 1 + HOLD_LABEL_MAX)

/* What a reference says about its held file. */
struct hold_file {
	char name[HOLD_NAME_LEN + 1];    /* the file in hold/ */
	uint64_t issued_ms;              /* when it was held */
	unsigned long long size;
	unsigned char digest[32];        /* SHA-256 of the content */
	const char *ctype;               /* sniff_content_type's, static */
	char label[HOLD_LABEL_MAX + 1];  /* the attachment's name */
};

enum hold_rc {
	HOLD_OK,
	HOLD_INVALID,   /* shape, version, type, label, site or MAC */
	HOLD_EXPIRED,   /* older than max_age, or from the future */
	HOLD_ERROR,     /* no HMAC */
};

/* A fresh name for an upload of site (HOLD_NAME_LEN hex characters +
 * NUL): HOLD_TAG_LEN characters that are the same for every upload of
 * the site (a hash of its name: hold_admit counts a site's share by
 * them), then 96 bits from the CSPRNG.  0 or -1. */
#define HOLD_TAG_LEN   8
int hold_new_name(const char *site, char name[HOLD_NAME_LEN + 1]);

/* 1 when name is exactly HOLD_NAME_LEN lowercase hex characters: the
 * only names hold/ paths are built from. */
int hold_name_valid(const char *name);

/* The reference of h for the field of site into out (room for
 * HOLD_REF_MAX + 1), NUL-terminated.  0, or -1 (a name, type or label it
 * cannot hold, no HMAC). */
int hold_ref_make(const unsigned char key[HOLD_KEY_LEN], const char *site,
    const char *field, const struct hold_file *h, char *out, size_t outlen);

/* Checks ref[0..len) (hostile: any bytes) for the field of site at
 * now_ms: the exact shape, a label that is valid UTF-8 and already
 * clean, the MAC (constant time), then the age (max_age_s).  HOLD_OK
 * fills *out. */
enum hold_rc hold_ref_parse(const unsigned char key[HOLD_KEY_LEN],
    const char *site, const char *field, const char *ref, size_t len,
    uint64_t now_ms, unsigned max_age_s, struct hold_file *out);

/* The log's reason: "hold_invalid", "hold_expired", "hold_error". */
const char *hold_reason(enum hold_rc rc);

/* --- SPOOL/hold/ ---------------------------------------------------------- */

/* What hold/ holds once expired files are gone. */
struct hold_use {
	long files;
	unsigned long long bytes;
	long removed;                    /* expired files removed by this scan */
	long site_files;                 /* hold_admit: of the new name's site */
	unsigned long long site_bytes;
};

/* Removes every entry of SPOOL/hold/ last written before now - max_age_s
 * and counts what stays.  0, or -1 with err. */
int hold_sweep(const char *spool, long long now, unsigned max_age_s,
    struct hold_use *use, char *err, size_t errlen);

/* Counts SPOOL/hold/ as it is, removing nothing (a /_metrics scrape).
 * 0, or -1 with errno. */
int hold_usage(const char *spool, struct hold_use *use);

/* Gives the upload in fd (size bytes) the name SPOOL/hold/name: a link
 * of its unnamed file where the kernel allows it, else a copy (O_EXCL,
 * 0600).  Not fsync'd: a crash loses it like an expired hold.  0, or -1
 * with errno (nothing left behind). */
int hold_put(const char *spool, int fd, unsigned long long size,
    const char *name);

/* hold/'s bounds: what stays after a sweep (max_age_s) must leave room
 * for one more file of size bytes, in the whole of hold/ and in the
 * share of the site the new name is for (its tag, hold_new_name; 0: no
 * share). */
struct hold_caps {
	unsigned max_age_s;
	unsigned long long max_files;
	unsigned long long max_bytes;
	unsigned long long site_files;
	unsigned long long site_bytes;
};

/* hold_put within caps, as one step under an flock of hold/ (threads
 * and processes sharing the spool take turns): sweeps, counts, and
 * names the file only when it fits.  0, -2 when it does not fit, -1
 * with errno. */
int hold_admit(const char *spool, int fd, unsigned long long size,
    const char *name, long long now, const struct hold_caps *caps);

/* Opens SPOOL/hold/name read-only (O_NOFOLLOW, a regular file only) for
 * a valid name.  The fd, or -1 (ENOENT when it is gone). */
int hold_open(const char *spool, const char *name);

/* Removes SPOOL/hold/name for a valid name; 0 or -1. */
int hold_drop(const char *spool, const char *name);

#endif
