/*
 * test_dkim — the signer's pure parts: relaxed canonicalisation against
 * RFC 6376 §3.4.5's example and its edges, the signed header list with
 * over-signing and repeated fields, folding, a multipart/mixed message
 * signed byte for byte (Ed25519 is deterministic, so the whole header is
 * pinned; it was checked once with python3-dkim, and the integration tests
 * verify fresh signatures with it), refusals that leave the message alone,
 * and the key loader's refusals.  The keys here are test keys.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "dkim.h"
#include "util.h"

/* MULTIPART signed with ed_pem at t=1764680000 (python3-dkim: valid). */
#define GOLDEN_ED \
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.jp;\r\n" \
    " s=fp2026; t=1764680000; h=from:reply-to:to:subject:date:message-id:\r\n" \
    " mime-version:content-type:auto-submitted:from:reply-to:to:cc:subject; bh=fD+7\r\n" \
    " nrSl6282ExvXajf7w8C7+JTYLHQY4f1d15lk1t8=; b=DAWInoZy6BBJjWugkPo5FNjPo2F0/B0t5\r\n" \
    " RZfK0gg2OKTmX84lvL7tB14aNZAI1iW0k7J3aKBwRVEaXiRzjXpAQ==\r\n"

static const char ed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICecemc84YBMbb/6yRJTzomN2e/6YZ/hz/ukj1sT73NS\n"
    "-----END PRIVATE KEY-----\n";

static const char rsa_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQCbdoj/Rrso9MY5\n"
    "64FQjIotbZCNHfbcXrYIs6pD4KqrU1RdYHjxdO191VYQUW2jFepxM1kx6QxRmmca\n"
    "pm+PaZV5AQoHPtqmWCY5ER2STrM38qK1FXwdxjKdwjjmskRC3XiU+n15XehL90Wz\n"
    "axRtZaOtPMphoxSQfPv5hnNN4SdIUQQaBVmSehAAV7RNMjkWU2LdJ7Ga/VmKXmqM\n"
    "DPvha1Jy3cenyqZWkv2tkfiiXKR1yUZibs8gbzi6HIsXPwh+e+QIBbkd+cECzSSx\n"
    "nhOCMtN62x4NDcNjafzb4QihXu4ACkVcHGoNsh9xxgOXvV5DIcBt2t4FqD2Nxk+K\n"
    "2JPe2/plAgMBAAECgf8447wGqtfLGeVSfOq/KwBh6ZEhQxxSK3Bxt1TwWRoqOw2v\n"
    "dwJbyOTczk6/FYtbAU1Wf+MvIWcAK3kJ37GAYahnYFMEpV/F4AVUZgj5Pn4i92hX\n"
    "2BlJDsecHDfI5jRBGu+okRucO5+7Et9cO8RJBRUx9tkF7NuSODHfaCPU0rxVo4X1\n"
    "zKEUAitV26T7UcQvbJFPpDBsGlCecOvmhWmaVJrsl+f+6SPS357M6CQjOjWS59Zn\n"
    "1z2sGDNZa4ta9+GnlDmse+Qefbk0E118Sz7lqCQ78dKupd6asp6M2Hpq0MiSJiho\n"
    "pYkp1u7bjqxOsSmnACWwBS4gu3XX00h25/TbeAECgYEA1yKri5FZuUNan1G5zI8w\n"
    "aWUq7mnZlP9JuwE7C3LKuwXJX1V+JHG9za8TEY4v17paRRruuFRGKZNEEy4W0B8k\n"
    "GtHYkc0vzwPWWozc3beqkwlz8uqEum32J53Ye9Rm3WVoiu5PGduVtBZ8UhYsn1PZ\n"
    "dl6Nlgr8xGtFmZUGOjXreokCgYEAuP4xJQhBSVLGhe9pJulFCTPFz7D5wNQanWu1\n"
    "o2uHEpJb4XveUJmMaOKZjq4jYGdvvgNPZD8+ZZUcIBa5/SpSfYzzfb8wognjptPx\n"
    "lpN40cVJTzRCJBx07MNMJ9g+19NAcx9TkFGZnv7wH9EA2OyeTWgw2baNeEaDpzpL\n"
    "fzeomf0CgYB+FjnIQNX/OLSCL5nfhARxoPN6a9sz8jM6QMxkN1EOL6QIFckqfucp\n"
    "B3T7kwQDQZrqaZCDxBCjCUaanyaLr9SvS1HMkh91CuC0jV5dK+ny51Vnh39m7E+a\n"
    "hG5+lMv88hRFaMo/c2zX8V3Hlmtsre4D7AK7b5EZZW2TR74wm615UQKBgCqmB6R2\n"
    "+74wxC36nO5olw7hDbitH1cyTxR90Xlkf9ZrQZ2BViaUz8cafrZjNSqzjhJrZvFA\n"
    "l10J/Fr1gll4WV4ykawq2MZyqzY55JeHVjJeXmFRNfJnURmIiNUiyJIvVMt1rGk4\n"
    "NsduFOPw5lYcbv5/h8uZh5H0B8QU73Tb2xXtAoGAHKOLHKQ/i0qrfzwTBJIrml7W\n"
    "orSwEWHRN2Kti7XwUp76gJrqAMMhJeghkfazXbqghHQ8fwK+6oeXMQUj2nw6VmFf\n"
    "cgw2u/ROCGj2NbhAA9qXemuquyzAAcOlHCWkAHL1QexNCU9gGisK/u4UfhMs79rs\n"
    "OjXsxTBxDndkjETizUk=\n"
    "-----END PRIVATE KEY-----\n";

/* Writes pem to a fresh file with mode; returns its path (caller frees,
 * unlinks). */
static char *
key_file(const char *pem, mode_t mode)
{
	char *path = strdup("/tmp/fp-test-dkim-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static struct crypto_key *
load(const char *pem)
{
	char err[256], *path = key_file(pem, 0600);
	struct crypto_key *k = crypto_key_load(path, err, sizeof err);

	unlink(path);
	free(path);
	assert_non_null(k);
	return k;
}

static void
canon_header_is(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(dkim_canon_header(&b, in, strlen(in)), 0);
	assert_bytes_equal(b.data, b.len, want);
	buf_free(&b);
}

static void
canon_body_is(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(dkim_canon_body(&b, in, strlen(in)), 0);
	assert_int_equal(b.len, strlen(want));
	if (b.len)
		assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

/* RFC 6376 §3.4.5, relaxed headers. */
static void
test_canon_header_rfc_example(void **state)
{
	(void)state;
	canon_header_is("A: X\r\n", "a:X\r\n");
	canon_header_is("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	canon_header_is("Subject:   spaced    out\t\r\n   and folded  \r\n",
	    "subject:spaced out and folded\r\n");
	canon_header_is("X-Empty:\r\n", "x-empty:\r\n");
	canon_header_is("X-Empty: \t \r\n", "x-empty:\r\n");
	canon_header_is("MiXeD-CaSe:V a L", "mixed-case:V a L\r\n");
}

static void
test_canon_header_refusals(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(dkim_canon_header(&b, "no colon\r\n", 10), -1);
	assert_int_equal(dkim_canon_header(&b, ": x\r\n", 5), -1);
	assert_int_equal(dkim_canon_header(&b, "Na me: x\r\n", 10), -1);
	assert_int_equal(dkim_canon_header(&b, "A\r\nB: x\r\n", 9), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* RFC 6376 §3.4.5, relaxed body, and the edges of §3.4.4. */
static void
test_canon_body_rfc_example(void **state)
{
	(void)state;
	canon_body_is(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	canon_body_is("", "");
	canon_body_is("\r\n\r\n", "");
	canon_body_is(" \t\r\n  \r\n", "");
	canon_body_is("a", "a\r\n");
	canon_body_is("a \t\r\n \r\nb", "a\r\n\r\nb\r\n");
	canon_body_is("x\r\n\r\n\r\ny\r\n\r\n", "x\r\n\r\n\r\ny\r\n");
	canon_body_is("tab\there\r\n", "tab here\r\n");
}

#define MULTIPART \
    "From: =?UTF-8?B?5bGx55Sw?= <form@example.jp>\r\n" \
    "Reply-To: taro@example.jp\r\n" \
    "To: info@example.jp,\r\n\tsales@example.jp\r\n" \
    "Subject: =?UTF-8?B?5bGl5q205pu4?=\r\n" \
    "Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n" \
    "Message-ID: <m@example.jp>\r\n" \
    "MIME-Version: 1.0\r\n" \
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n" \
    "Auto-Submitted: auto-replied\r\n" \
    "X-Not-Signed: x\r\n" \
    "\r\n" \
    "--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n" \
    "Content-Transfer-Encoding: base64\r\n\r\n" \
    "5re75LuY44GX44G+44GZ44CCCg==\r\n" \
    "--b1\r\nContent-Type: application/pdf\r\n" \
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n" \
    "Content-Transfer-Encoding: base64\r\n\r\n" \
    "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFt\r\n" \
    "--b1--\r\n"

/* Signs MULTIPART; returns the DKIM-Signature field (caller frees). */
static char *
sign_multipart(const struct crypto_key *k, const char *msg)
{
	struct dkim_params p = { "example.jp", "fp2026", 1764680000, k };
	struct buf b;
	char err[128], *head;
	size_t hl;

	buf_init(&b);
	buf_adds(&b, msg);
	assert_int_equal(dkim_sign(&b, &p, err, sizeof err), 0);
	hl = b.len - strlen(msg);
	/* The message follows the new field unchanged. */
	assert_memory_equal(b.data + hl, msg, strlen(msg));
	head = fp_strndup(b.data, hl);
	buf_free(&b);
	return head;
}

static void
assert_folded(const char *h)
{
	const char *line = h, *nl;

	while ((nl = strstr(line, "\r\n")) != NULL) {
		assert_true(nl - line <= 78);
		line = nl + 2;
		if (*line)
			assert_true(*line == ' ');
	}
	assert_string_equal(line, "");
}

static void
test_sign_multipart_ed25519_pinned(void **state)
{
	struct crypto_key *k = load(ed_pem);
	char *h = sign_multipart(k, MULTIPART);

	(void)state;
	assert_folded(h);
	assert_string_equal(h, GOLDEN_ED);
	free(h);
	crypto_key_free(k);
}

static void
test_sign_rsa(void **state)
{
	struct crypto_key *k = load(rsa_pem);
	char *h = sign_multipart(k, MULTIPART), *b, *flat;
	size_t i, o;

	(void)state;
	assert_int_equal(crypto_key_type(k), CRYPTO_KEY_RSA);
	assert_folded(h);
	assert_non_null(strstr(h, "a=rsa-sha256;"));
	flat = strdup(h);
	for (i = o = 0; flat[i]; i++)
		if (flat[i] != ' ' && flat[i] != '\r' && flat[i] != '\n')
			flat[o++] = flat[i];
	flat[o] = '\0';
	/* Same body hash as the Ed25519 signature of the same message. */
	assert_non_null(strstr(flat,
	    "bh=fD+7nrSl6282ExvXajf7w8C7+JTYLHQY4f1d15lk1t8=;"));
	b = strstr(flat, ";b=");
	assert_non_null(b);
	assert_int_equal(strlen(b + 3), 344);     /* 256 bytes in base64 */
	free(flat);
	free(h);
	crypto_key_free(k);
}

/* h with every fold ("\r\n ") taken out, in place. */
static char *
unfold(char *h)
{
	char *r = h, *w = h;

	while (*r)
		if (r[0] == '\r' && r[1] == '\n' && r[2] == ' ')
			r += 3;
		else
			*w++ = *r++;
	*w = '\0';
	return h;
}

static void
test_header_list(void **state)
{
	struct crypto_key *k = load(ed_pem);
	char *h;

	(void)state;
	h = unfold(sign_multipart(k, "To: a@example.jp\r\nFrom: f@example.jp\r\n"
	    "To: b@example.jp\r\nCc: c@example.jp\r\n\r\nbody\r\n"));
	/* Each instance once, then From, Reply-To, To, Cc and Subject
	 * over-signed even when absent (so none can be added). */
	assert_non_null(strstr(h, " h=from:to:to:cc:from:reply-to:to:cc:subject;"));
	assert_null(strstr(h, "l="));
	free(h);
	h = unfold(sign_multipart(k, "From: f@example.jp\r\n\r\n"));
	assert_non_null(strstr(h, " h=from:from:reply-to:to:cc:subject;"));
	free(h);
	crypto_key_free(k);
}

static void
test_sign_refusals_leave_the_message(void **state)
{
	struct crypto_key *k = load(ed_pem);
	struct dkim_params p = { "example.jp", "fp2026", 1, k };
	static const char *const msgs[] = {
		"To: a@example.jp\r\n\r\nno from\r\n",
		"\r\nbody only\r\n",
		"",
		"Fromage: x\r\n\r\n",
	};
	static const char *const names[][2] = {
		{ "example.jp", "a;b" }, { "example.jp", "" },
		{ "exa mple.jp", "s" }, { "example.jp\r\nX: y", "s" },
		{ "localhost", "s" },
	};
	struct buf b;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(msgs); i++) {
		buf_init(&b);
		buf_adds(&b, msgs[i]);
		assert_int_equal(dkim_sign(&b, &p, err, sizeof err), -1);
		assert_int_equal(b.len, strlen(msgs[i]));
		buf_free(&b);
	}
	for (i = 0; i < ARRAY_LEN(names); i++) {
		p.domain = names[i][0];
		p.selector = names[i][1];
		buf_init(&b);
		buf_adds(&b, MULTIPART);
		assert_int_equal(dkim_sign(&b, &p, err, sizeof err), -1);
		assert_string_equal(b.data, MULTIPART);
		buf_free(&b);
	}
	crypto_key_free(k);
}

static void
test_record(void **state)
{
	struct crypto_key *k = load(ed_pem);
	char *r = dkim_record(k);

	(void)state;
	assert_string_equal(r, "v=DKIM1; k=ed25519; "
	    "p=Lp88c+ISfZnXlQU/s2w94emY/oHQ1Blu4oFoKTnGikM=");
	free(r);
	crypto_key_free(k);
}

/* The published forms doctor compares: SubjectPublicKeyInfo, a bare
 * PKCS#1 RSAPublicKey, the raw Ed25519 key; never another key, a cut or
 * padded encoding. */
static void
test_key_matches(void **state)
{
	struct crypto_key *rsa = load(rsa_pem), *ed = load(ed_pem);
	unsigned char *pub = NULL, *edpub = NULL, padded[600];
	size_t len = 0, edlen = 0;

	(void)state;
	assert_int_equal(crypto_key_public(rsa, &pub, &len), 0);
	assert_int_equal(len, 294);        /* 24-byte SPKI head + PKCS#1 */
	assert_true(crypto_key_matches(rsa, pub, len));
	assert_true(crypto_key_matches(rsa, pub + 24, len - 24));
	assert_false(crypto_key_matches(rsa, pub, len - 1));
	memcpy(padded, pub, len);
	padded[len] = 0;
	assert_false(crypto_key_matches(rsa, padded, len + 1));
	assert_false(crypto_key_matches(ed, pub, len));
	assert_int_equal(crypto_key_public(ed, &edpub, &edlen), 0);
	assert_int_equal(edlen, 32);
	assert_true(crypto_key_matches(ed, edpub, edlen));
	assert_false(crypto_key_matches(rsa, edpub, edlen));
	edpub[0] ^= 1;
	assert_false(crypto_key_matches(ed, edpub, edlen));
	assert_false(crypto_key_matches(ed, edpub, 0));
	free(pub);
	free(edpub);
	crypto_key_free(rsa);
	crypto_key_free(ed);
}

static void
test_key_refusals(void **state)
{
	static const char *const bad[] = {
		"not a key\n",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n"
		"-----END PRIVATE KEY-----\n",
	};
	char err[256], *path;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		path = key_file(bad[i], 0600);
		assert_null(crypto_key_load(path, err, sizeof err));
		assert_non_null(strstr(err,
		    "not an unencrypted PEM private key"));
		unlink(path);
		free(path);
	}
	path = key_file(ed_pem, 0604);
	assert_null(crypto_key_load(path, err, sizeof err));
	assert_non_null(strstr(err, "accessible by others"));
	assert_null(strstr(err, "PRIVATE"));
	unlink(path);
	assert_null(crypto_key_load(path, err, sizeof err));
	assert_non_null(strstr(err, "cannot read key_file"));
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_header_rfc_example),
		cmocka_unit_test(test_canon_header_refusals),
		cmocka_unit_test(test_canon_body_rfc_example),
		cmocka_unit_test(test_sign_multipart_ed25519_pinned),
		cmocka_unit_test(test_sign_rsa),
		cmocka_unit_test(test_header_list),
		cmocka_unit_test(test_sign_refusals_leave_the_message),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_key_matches),
		cmocka_unit_test(test_key_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
