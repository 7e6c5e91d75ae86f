/*
 * token — the fill-time token (doc/design.md "A request").  A token is
 * base64url(ver ‖ issued_at ‖ nonce ‖ HMAC-SHA256(key, ver ‖ issued_at ‖
 * nonce ‖ site name)): issued by GET <prefix>/<site>/token, checked on the
 * post.  It proves the form was loaded from us for this site, long enough
 * ago for a human to fill it and not so long ago that it went stale.  Pure
 * apart from the random nonce: the clock is passed in (wall-clock ms, so
 * restarts and several processes sharing one key agree).  Replays are
 * the caller's business: the nonce identifies a token.  Thread-safe.
 */
#ifndef FORMPOST_TOKEN_H
#define FORMPOST_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_VERSION   1
#define TOKEN_KEY_LEN   32
#define TOKEN_NONCE_LEN 16
#define TOKEN_RAW_LEN   (1 + 8 + TOKEN_NONCE_LEN + 32)   /* 57 */
#define TOKEN_LEN       (TOKEN_RAW_LEN / 3 * 4)          /* 76, no padding */

enum token_rc {
	TOKEN_OK,
	TOKEN_INVALID,     /* wrong length, alphabet, version or MAC */
	TOKEN_TOO_FAST,    /* younger than min_age (or from the future) */
	TOKEN_EXPIRED,     /* older than max_age */
};

/* A token for site issued at now_ms with the given nonce into out
 * (TOKEN_LEN characters + NUL).  Returns 0, or -1 (HMAC failure). */
int token_make(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    uint64_t now_ms, const unsigned char nonce[TOKEN_NONCE_LEN],
    char out[TOKEN_LEN + 1]);

/* token_make with a fresh random nonce.  0, or -1 (no randomness). */
int token_issue(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    uint64_t now_ms, char out[TOKEN_LEN + 1]);

/* Checks tok[0..len) (hostile: any bytes) for site at now_ms: exact
 * length, version, age within [min_age_s, max_age_s], then the MAC in
 * constant time.  On TOKEN_OK the nonce is copied out (for the replay
 * table); nonce may be NULL. */
enum token_rc token_verify(const unsigned char key[TOKEN_KEY_LEN],
    const char *site, const char *tok, size_t len, uint64_t now_ms,
    unsigned min_age_s, unsigned max_age_s,
    unsigned char nonce[TOKEN_NONCE_LEN]);

/* The log reason of a verdict ("token_invalid", ...); "" for TOKEN_OK. */
const char *token_reason(enum token_rc rc);

#endif
