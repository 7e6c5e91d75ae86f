/*
 * token — issue and verify fill-time tokens.  The MAC input is the signed
 * prefix (version, issue time, nonce) followed by the site name, so a
 * token of one site is worthless at another.
 */
#include "token.h"

#include <string.h>

#include "crypto.h"
#include "limits.h"

#define SIGNED_LEN (1 + 8 + TOKEN_NONCE_LEN)

/* The MAC of raw[0..SIGNED_LEN) ‖ site into mac; 0 or -1. */
static int
token_mac(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    const unsigned char *raw, unsigned char mac[SHA256_LEN])
{
	unsigned char in[SIGNED_LEN + LIM_NAME_BYTES];
	size_t n = strlen(site);
	int rc;

	if (n > LIM_NAME_BYTES)
		return -1;
	memcpy(in, raw, SIGNED_LEN);
	memcpy(in + SIGNED_LEN, site, n);
	rc = crypto_hmac_sha256(key, TOKEN_KEY_LEN, in, SIGNED_LEN + n, mac);
	return rc;
}

int
token_make(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    uint64_t now_ms, const unsigned char nonce[TOKEN_NONCE_LEN],
    char out[TOKEN_LEN + 1])
{
	unsigned char raw[TOKEN_RAW_LEN];
	size_t i;

	raw[0] = TOKEN_VERSION;
	for (i = 0; i < 8; i++)          /* big-endian */
		raw[1 + i] = (unsigned char)(now_ms >> (56 - 8 * i));
	memcpy(raw + 9, nonce, TOKEN_NONCE_LEN);
	if (token_mac(key, site, raw, raw + SIGNED_LEN) == -1)
		return -1;
	/* 57 bytes = 19 groups of 3: exactly TOKEN_LEN characters. */
	crypto_b64url(raw, TOKEN_RAW_LEN, out);
	return 0;
}

int
token_issue(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    uint64_t now_ms, char out[TOKEN_LEN + 1])
{
	unsigned char nonce[TOKEN_NONCE_LEN];

	if (crypto_random(nonce, sizeof nonce) == -1)
		return -1;
	return token_make(key, site, now_ms, nonce, out);
}

enum token_rc
token_verify(const unsigned char key[TOKEN_KEY_LEN], const char *site,
    const char *tok, size_t len, uint64_t now_ms, unsigned min_age_s,
    unsigned max_age_s, unsigned char nonce[TOKEN_NONCE_LEN])
{
	unsigned char raw[TOKEN_RAW_LEN], mac[SHA256_LEN];
	uint64_t issued = 0;
	size_t i;

	if (len != TOKEN_LEN)
		return TOKEN_INVALID;
	if (crypto_b64url_decode(tok, TOKEN_LEN, raw) == -1)
		return TOKEN_INVALID;
	if (raw[0] != TOKEN_VERSION)
		return TOKEN_INVALID;
	for (i = 0; i < 8; i++)
		issued = issued << 8 | raw[1 + i];
	/* A token from the future (a clock stepped back) is too young. */
	if (issued > now_ms || now_ms - issued < (uint64_t)min_age_s * 1000)
		return TOKEN_TOO_FAST;
	if (now_ms - issued > (uint64_t)max_age_s * 1000)
		return TOKEN_EXPIRED;
	if (token_mac(key, site, raw, mac) == -1 ||
	    !crypto_equal(mac, raw + SIGNED_LEN, SHA256_LEN))
		return TOKEN_INVALID;
	if (nonce)
		memcpy(nonce, raw + 9, TOKEN_NONCE_LEN);
	return TOKEN_OK;
}

const char *
token_reason(enum token_rc rc)
{
	switch (rc) {
	case TOKEN_OK:
		return "";
	case TOKEN_TOO_FAST:
		return "token_too_fast";
	case TOKEN_EXPIRED:
		return "token_expired";
	default:
		return "token_invalid";
	}
}
