/*
 * confirm — the signed `_confirm` of the review step (doc/design.md "The
 * review step").  A site with `confirm: true` answers a valid first post
 * with a review page carrying the values as hidden inputs and `_confirm`;
 * the second post sends only when `_confirm` proves that this server
 * reviewed exactly these values for this site, not longer than max_age
 * ago.
 *
 *   _confirm = base64url(ver ‖ 0 ‖ issued_at ‖ nonce ‖ site_mac ‖ values_mac)
 *
 * issued_at is wall-clock ms (8 bytes, big-endian); nonce is the
 * fill-time token's (one token, one message) or fresh random bytes.
 * site_mac = HMAC-SHA256(key, "confirm" ‖ NUL ‖ header ‖ len ‖ site)
 * proves the blob is ours and for this site; values_mac = HMAC-SHA256(key,
 * "confirm-values" ‖ NUL ‖ header ‖ len ‖ site ‖ count ‖ (len ‖ name ‖ len
 * ‖ value) per field, in config order), lengths as 4 bytes big-endian, so
 * no two lists of values share an encoding.  The two MACs tell a forged
 * or foreign `_confirm` (answered like a bad token: nothing sent) from a
 * genuine one whose values were changed (a new review page).  The key is
 * the token key; the leading domain strings keep token and confirm MACs
 * apart.  Pure apart from the random nonce; thread-safe.
 */
#ifndef FORMPOST_CONFIRM_H
#define FORMPOST_CONFIRM_H

#include <stddef.h>
#include <stdint.h>

#define CONFIRM_VERSION   1
#define CONFIRM_KEY_LEN   32
#define CONFIRM_NONCE_LEN 16
#define CONFIRM_RAW_LEN   (2 + 8 + CONFIRM_NONCE_LEN + 32 + 32)   /* 90 */
#define CONFIRM_LEN       (CONFIRM_RAW_LEN / 3 * 4)              /* 120 */

/* One reviewed field: its configured name and normalised value. */
struct confirm_item {
	const char *name;
	const char *value;
	size_t len;
};

enum confirm_rc {
	CONFIRM_OK,
	CONFIRM_INVALID,   /* wrong length, alphabet, version, site or MAC */
	CONFIRM_EXPIRED,   /* older than max_age, or from the future */
	CONFIRM_CHANGED,   /* ours, in time, but for other values */
	CONFIRM_ERROR,     /* out of memory or no HMAC */
};

/* The `_confirm` of items[0..n) for site, issued at now_ms with nonce,
 * into out (CONFIRM_LEN characters + NUL).  0, or -1 (OOM, HMAC
 * failure, a site name longer than LIM_NAME_BYTES). */
int confirm_make(const unsigned char key[CONFIRM_KEY_LEN], const char *site,
    const struct confirm_item *items, size_t n, uint64_t now_ms,
    const unsigned char nonce[CONFIRM_NONCE_LEN], char out[CONFIRM_LEN + 1]);

/* Checks blob[0..len) (hostile: any bytes) against site and items at
 * now_ms: exact length and alphabet, version, the site MAC (constant
 * time), the age (max_age_s), then the values MAC (constant time).  On
 * CONFIRM_OK and CONFIRM_CHANGED the blob's nonce is copied to nonce
 * (when not NULL). */
enum confirm_rc confirm_verify(const unsigned char key[CONFIRM_KEY_LEN],
    const char *site, const struct confirm_item *items, size_t n,
    const char *blob, size_t len, uint64_t now_ms, unsigned max_age_s,
    unsigned char nonce[CONFIRM_NONCE_LEN]);

/* The log's reason for rc: "confirm_invalid", "confirm_expired", ... */
const char *confirm_reason(enum confirm_rc rc);

#endif
