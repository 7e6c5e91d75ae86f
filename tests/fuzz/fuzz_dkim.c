/*
 * fuzz_dkim — libFuzzer target for the DKIM signer's reading of a message
 * (its header fields and body) and its canonicalisation.  Byte 0 picks:
 *   0 dkim_canon_header, 1 dkim_canon_body, else dkim_sign (Ed25519 test
 *   key) over the rest.
 * Invariants besides memory safety: a canonical header is one line ending
 * in CRLF with a lowercase name; a canonical body has no WSP before a
 * CRLF, no tab, no run of spaces, no empty line at its end, and ends in
 * CRLF unless empty;
 * a signed message is the DKIM-Signature field (lines of at most 78
 * octets) followed by the input unchanged, and a refusal leaves the input
 * unchanged.  The streamed signer (dkim_stream, pieces of byte 0's size)
 * gives dkim_sign's field byte for byte and refuses what it refuses; its
 * body hash is SHA-256 of dkim_canon_body's output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "dkim.h"
#include "mime.h"
#include "util.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static const char pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICecemc84YBMbb/6yRJTzomN2e/6YZ/hz/ukj1sT73NS\n"
    "-----END PRIVATE KEY-----\n";

static struct crypto_key *
key(void)
{
	static struct crypto_key *k;
	char path[] = "/tmp/fuzz-dkim-XXXXXX", err[256];
	int fd;

	if (k)
		return k;
	fd = mkstemp(path);
	CHECK(fd >= 0 && fchmod(fd, 0600) == 0);
	CHECK(write(fd, pem, sizeof pem - 1) == (ssize_t)(sizeof pem - 1));
	close(fd);
	k = crypto_key_load(path, err, sizeof err);
	unlink(path);
	CHECK(k != NULL);
	return k;
}

static void
check_header(const char *s, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	if (dkim_canon_header(&b, s, n) == 0) {
		CHECK(b.len >= 3 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0);
		for (i = 0; i + 2 < b.len; i++)
			CHECK(b.data[i] != '\r' && b.data[i] != '\n');
		for (i = 0; b.data[i] != ':'; i++)
			CHECK(!(b.data[i] >= 'A' && b.data[i] <= 'Z'));
	}
	buf_free(&b);
}

/* The field dkim_stream makes for s[0..n) fed in pieces of step bytes
 * into out; 0 or -1. */
static int
stream_sign(const char *s, size_t n, size_t step, struct buf *out)
{
	struct dkim_params p = { "example.jp", "fp2026", 1764680000, key() };
	struct dkim_stream *d = dkim_stream_begin();
	char err[128];
	size_t i;

	CHECK(d != NULL);
	for (i = 0; i < n; i += step)
		dkim_stream_add(d, s + i, n - i < step ? n - i : step);
	return dkim_stream_end(d, &p, out, err, sizeof err);
}

/* The streamed body hash against dkim_canon_body's bytes. */
static void
check_body_hash(const char *s, size_t n, const struct buf *canon)
{
	unsigned char sum[SHA256_LEN];
	struct buf msg, field, want, got;
	const char *bh;

	buf_init(&msg);
	buf_init(&field);
	buf_init(&want);
	buf_init(&got);
	buf_adds(&msg, "From: a@example.jp\r\n\r\n");
	buf_add(&msg, s, n);
	CHECK(stream_sign(msg.data, msg.len, 1 + n % 5, &field) == 0);
	CHECK(crypto_sha256(canon->data ? canon->data : "", canon->len, sum)
	    == 0);
	mime_base64(&want, sum, sizeof sum);
	bh = strstr(field.data, "bh=");
	CHECK(bh != NULL);
	for (bh += 3; *bh != ';'; bh++)
		if (*bh != '\r' && *bh != '\n' && *bh != ' ')
			buf_addc(&got, *bh);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
	buf_free(&msg);
	buf_free(&field);
	buf_free(&want);
	buf_free(&got);
}

static void
check_body(const char *s, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	if (dkim_canon_body(&b, s, n) == -1) {
		buf_free(&b);
		return;
	}
	check_body_hash(s, n, &b);
	if (b.len) {
		CHECK(b.len >= 2 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0);
		CHECK(b.len < 4 || memcmp(b.data + b.len - 4, "\r\n\r\n", 4));
		/* A bare CR or LF is not a line end (RFC 6376 §3.4.4 works
		 * on CRLF lines), so only WSP before CRLF must be gone. */
		for (i = 0; i + 1 < b.len; i++) {
			CHECK(b.data[i] != '\t');
			CHECK(!(b.data[i] == ' ' && (b.data[i + 1] == ' ' ||
			    (i + 2 < b.len && b.data[i + 1] == '\r' &&
			    b.data[i + 2] == '\n'))));
		}
	}
	buf_free(&b);
}

static void
check_sign(const char *s, size_t n, size_t step)
{
	struct dkim_params p = { "example.jp", "fp2026", 1764680000, key() };
	struct buf b, f;
	char err[128];
	size_t hl, i, col = 0;
	int rc;

	buf_init(&b);
	buf_init(&f);
	buf_add(&b, s, n);
	rc = dkim_sign(&b, &p, err, sizeof err);
	CHECK(stream_sign(s, n, step, &f) == rc);
	if (rc == -1) {
		CHECK(b.len == n && (n == 0 || memcmp(b.data, s, n) == 0));
	} else {
		CHECK(f.len == b.len - n && memcmp(f.data, b.data, f.len) == 0);
		CHECK(b.len > n && memcmp(b.data + b.len - n, s, n) == 0);
		hl = b.len - n;
		CHECK(hl > 15 && memcmp(b.data, "DKIM-Signature:", 15) == 0);
		for (i = 0; i < hl; i++) {
			col = b.data[i] == '\n' ? 0 : col + 1;
			CHECK(col <= 79);      /* 78 and its CR */
		}
	}
	buf_free(&b);
	buf_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1)
		return 0;
	if (data[0] == 0)
		check_header(s, size - 1);
	else if (data[0] == 1)
		check_body(s, size - 1);
	else
		check_sign(s, size - 1, data[0] - 1);
	return 0;
}
