/*
 * fuzz_dnsrec — libFuzzer target for the parsers of DNS answers (hostile
 * input).  Byte 0 picks the parser, the rest is the record:
 *   0 TXT RDATA join, 1 SPF, 2 DMARC, 3 DKIM key record, 4 organisational
 *   domain and printable escaping.
 * Invariants besides memory safety: a joined TXT is never longer than its
 * RDATA; an accepted SPF record has at most LIM_SPF_TERMS terms, at most
 * one lookup per term, CIDR lengths in range and NUL-terminated printable
 * domains; DMARC values are in range; a DKIM key is never longer than
 * the record; the organisational domain is a suffix of the input; printed
 * text is printable ASCII and fits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsrec.h"
#include "util.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static void
check_spf(const char *s, size_t n)
{
	static struct spf_rec r;
	char err[128];
	size_t i, j;
	int macro;

	if (spf_parse(s, n, &r, &macro, err, sizeof err) == -1)
		return;
	CHECK(r.n <= LIM_SPF_TERMS && r.lookups >= 0 &&
	    (size_t)r.lookups <= r.n);
	for (i = 0; i < r.n; i++) {
		const struct spf_term *t = &r.t[i];
		CHECK(strchr("+-~?", t->qualifier) != NULL);
		CHECK(memchr(t->domain, '\0', sizeof t->domain) != NULL);
		for (j = 0; t->domain[j]; j++)
			CHECK(t->domain[j] > ' ' && t->domain[j] < 0x7f);
		CHECK(t->prefix >= -1 && t->prefix <= 128);
		CHECK(t->prefix6 >= -1 && t->prefix6 <= 128);
		if (t->kind == SPF_IP4)
			CHECK(t->prefix >= 0 && t->prefix <= 32);
	}
}

static void
check_other(int which, const char *s, size_t n)
{
	struct dmarc_rec d;
	struct dkim_keyrec k;
	char err[128], out[64], *z;
	const char *org;
	size_t i;

	if (which == 2 && dmarc_parse(s, n, &d, err, sizeof err) == 0)
		CHECK(d.p <= DMARC_REJECT && d.sp <= DMARC_REJECT &&
		    d.pct <= 100);
	if (which == 3 && dkim_keyrec_parse(s, n, &k, err, sizeof err) == 0) {
		CHECK(k.p == NULL || (k.plen > 0 && k.plen <= n));
		free(k.p);
	}
	if (which == 4 && (z = fp_strndup(s, n)) != NULL) {
		org = dnsrec_org_domain(z);
		CHECK(org >= z && org <= z + strlen(z));
		dnsrec_printable(s, n, out, sizeof out);
		CHECK(strlen(out) < sizeof out);
		for (i = 0; out[i]; i++)
			CHECK(out[i] >= 0x20 && out[i] < 0x7f);
		free(z);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		buf_init(&b);
		if (dnsrec_txt_join(data + 1, size - 1, &b) == 0)
			CHECK(b.len < size);
		buf_free(&b);
		break;
	case 1:
		check_spf((const char *)data + 1, size - 1);
		break;
	default:
		check_other(data[0] % 5, (const char *)data + 1, size - 1);
	}
	return 0;
}
