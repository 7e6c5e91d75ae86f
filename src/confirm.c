/*
 * confirm — make and verify the review step's `_confirm` (see confirm.h).
 */
#include "confirm.h"

#include <string.h>

#include "crypto.h"
#include "limits.h"
#include "util.h"

#define HEAD_LEN  (2 + 8 + CONFIRM_NONCE_LEN)   /* ver, 0, issued, nonce */
#define SITE_MAC  HEAD_LEN
#define VALUE_MAC (HEAD_LEN + SHA256_LEN)

static void
put32(struct buf *b, size_t n)
{
	unsigned char be[4] = { (unsigned char)(n >> 24),
	    (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	    (unsigned char)n };

	buf_add(b, be, sizeof be);
}

/* The MAC input's common start: domain, NUL, header, site. */
static void
start(struct buf *b, const char *domain, const unsigned char *head,
    const char *site)
{
	buf_add(b, domain, strlen(domain) + 1);
	buf_add(b, head, HEAD_LEN);
	put32(b, strlen(site));
	buf_adds(b, site);
}

/* site_mac and values_mac of head for site and items; 0 or -1. */
static int
macs(const unsigned char *key, const char *site,
    const struct confirm_item *items, size_t n, const unsigned char *head,
    unsigned char site_mac[SHA256_LEN], unsigned char values_mac[SHA256_LEN])
{
	struct buf b;
	size_t i;
	int rc = -1;

	if (strlen(site) > LIM_NAME_BYTES || n > 0xffffffffu)
		return -1;
	buf_init(&b);
	start(&b, "confirm", head, site);
	if (b.oom || crypto_hmac_sha256(key, CONFIRM_KEY_LEN, b.data, b.len,
	    site_mac) == -1)
		goto out;
	buf_reset(&b);
	start(&b, "confirm-values", head, site);
	put32(&b, n);
	for (i = 0; i < n; i++) {
		if (items[i].len > 0xffffffffu)
			goto out;
		put32(&b, strlen(items[i].name));
		buf_adds(&b, items[i].name);
		put32(&b, items[i].len);
		buf_add(&b, items[i].value, items[i].len);
	}
	if (!b.oom && crypto_hmac_sha256(key, CONFIRM_KEY_LEN, b.data, b.len,
	    values_mac) == 0)
		rc = 0;
out:
	buf_free(&b);
	return rc;
}

int
confirm_make(const unsigned char key[CONFIRM_KEY_LEN], const char *site,
    const struct confirm_item *items, size_t n, uint64_t now_ms,
    const unsigned char nonce[CONFIRM_NONCE_LEN], char out[CONFIRM_LEN + 1])
{
	unsigned char raw[CONFIRM_RAW_LEN];
	size_t i;

	raw[0] = CONFIRM_VERSION;
	raw[1] = 0;
	for (i = 0; i < 8; i++)              /* big-endian */
		raw[2 + i] = (unsigned char)(now_ms >> (56 - 8 * i));
	memcpy(raw + 10, nonce, CONFIRM_NONCE_LEN);
	if (macs(key, site, items, n, raw, raw + SITE_MAC, raw + VALUE_MAC)
	    == -1)
		return -1;
	/* 90 bytes = 30 groups of 3: exactly CONFIRM_LEN characters. */
	crypto_b64url(raw, CONFIRM_RAW_LEN, out);
	return 0;
}

/* blob[0..CONFIRM_LEN) into raw; 0, or -1 for a byte outside base64url. */
static int
decode(const char *blob, unsigned char raw[CONFIRM_RAW_LEN])
{
	return crypto_b64url_decode(blob, CONFIRM_LEN, raw);
}

enum confirm_rc
confirm_verify(const unsigned char key[CONFIRM_KEY_LEN], const char *site,
    const struct confirm_item *items, size_t n, const char *blob, size_t len,
    uint64_t now_ms, unsigned max_age_s,
    unsigned char nonce[CONFIRM_NONCE_LEN])
{
	unsigned char raw[CONFIRM_RAW_LEN], sm[SHA256_LEN], vm[SHA256_LEN];
	uint64_t issued = 0;
	size_t i;

	if (len != CONFIRM_LEN || decode(blob, raw) == -1 ||
	    raw[0] != CONFIRM_VERSION || raw[1] != 0)
		return CONFIRM_INVALID;
	if (macs(key, site, items, n, raw, sm, vm) == -1)
		return CONFIRM_ERROR;
	if (!crypto_equal(sm, raw + SITE_MAC, SHA256_LEN))
		return CONFIRM_INVALID;
	for (i = 0; i < 8; i++)
		issued = issued << 8 | raw[2 + i];
	/* From the future: a clock stepped back, never a reason to send. */
	if (issued > now_ms || now_ms - issued > (uint64_t)max_age_s * 1000)
		return CONFIRM_EXPIRED;
	if (nonce)
		memcpy(nonce, raw + 10, CONFIRM_NONCE_LEN);
	return crypto_equal(vm, raw + VALUE_MAC, SHA256_LEN) ? CONFIRM_OK :
	    CONFIRM_CHANGED;
}

const char *
confirm_reason(enum confirm_rc rc)
{
	switch (rc) {
	case CONFIRM_OK:      return "";
	case CONFIRM_EXPIRED: return "confirm_expired";
	case CONFIRM_CHANGED: return "confirm_changed";
	case CONFIRM_ERROR:   return "confirm_error";
	default:              return "confirm_invalid";
	}
}
