/*
 * test_dnsrec — the record parsers doctor feeds with DNS answers: TXT
 * character-strings (joined, and refused when a length runs past the end),
 * SPF terms and their lookup count (RFC 7208 §4.6.4, §5), CIDR matching,
 * DMARC (RFC 7489 §6.3) and DKIM key records (RFC 6376 §3.6.1) with their
 * refusals, the organisational domain, and escaping for print.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "dnsrec.h"

static void
test_txt_join(void **state)
{
	static const unsigned char two[] = "\x03" "abc" "\x02" "de";
	static const unsigned char empty[] = "\x00";
	static const unsigned char runs_past[] = "\x05" "abc";
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(dnsrec_txt_join(two, 7, &b), 0);
	assert_bytes_equal(b.data, b.len, "abcde");
	buf_reset(&b);
	assert_int_equal(dnsrec_txt_join(empty, 1, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(dnsrec_txt_join(runs_past, 4, &b), -1);
	buf_free(&b);
}

static struct spf_rec *
spf_ok(const char *txt, int *macro)
{
	static struct spf_rec r;
	char err[128];

	if (spf_parse(txt, strlen(txt), &r, macro, err, sizeof err) == -1)
		fail_msg("%s: %s", txt, err);
	return &r;
}

static void
test_spf_terms(void **state)
{
	struct spf_rec *r;
	int macro;

	(void)state;
	r = spf_ok("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.example"
	    ".com/24//64 include:_spf.example.net ~all exp=explain.example.com",
	    &macro);
	assert_int_equal(r->n, 6);
	assert_int_equal(r->t[0].kind, SPF_IP4);
	assert_int_equal(r->t[0].prefix, 24);
	assert_int_equal(r->t[0].addr[0], 192);
	assert_int_equal(r->t[1].kind, SPF_IP6);
	assert_int_equal(r->t[1].prefix, 32);
	assert_int_equal(r->t[2].kind, SPF_A);
	assert_string_equal(r->t[2].domain, "");
	assert_int_equal(r->t[2].prefix, -1);
	assert_int_equal(r->t[3].kind, SPF_MX);
	assert_string_equal(r->t[3].domain, "mx.example.com");
	assert_int_equal(r->t[3].prefix, 24);
	assert_int_equal(r->t[3].prefix6, 64);
	assert_int_equal(r->t[4].kind, SPF_INCLUDE);
	assert_int_equal(r->t[5].kind, SPF_ALL);
	assert_int_equal(r->t[5].qualifier, '~');
	assert_int_equal(r->lookups, 3);       /* a, mx, include */
	assert_int_equal(macro, 0);
	r = spf_ok("v=spf1 -ip4:10.0.0.1 a/30 ptr exists:%{i}.x.example "
	    "redirect=_spf.example.com", &macro);
	assert_int_equal(r->t[0].prefix, 32);
	assert_int_equal(r->t[0].qualifier, '-');
	assert_int_equal(r->t[1].prefix, 30);
	assert_int_equal(r->t[4].kind, SPF_REDIRECT);
	assert_int_equal(r->lookups, 4);       /* a, ptr, exists, redirect */
	assert_int_equal(macro, 1);
	r = spf_ok("V=SPF1   IP4:192.0.2.1   -ALL  ", &macro);
	assert_int_equal(r->n, 2);
	r = spf_ok("v=spf1", &macro);
	assert_int_equal(r->n, 0);
}

static void
test_spf_refusals(void **state)
{
	static const char *const bad[] = {
		"v=spf2 -all", "v=spf1x -all", "v=spf1 ip4:192.0.2.300",
		"v=spf1 ip4:192.0.2.0/33", "v=spf1 ip6:2001:db8::/129",
		"v=spf1 ip4:", "v=spf1 include", "v=spf1 include:",
		"v=spf1 foo:bar", "v=spf1 all/24", "v=spf1 a/", "v=spf1 a//",
		"v=spf1 mx:x.example//200", "v=spf1 redirect=a redirect=b",
		"v=spf1 ?", "v=spf1 include:a\x01b", "v=spf1 ip4:1.2.3.4/0024",
		"v=spf1 ptr:x/24", "v=spf1 include:localhost",
		"v=spf1 include:x.123", "v=spf1 a:x.-ab",
	};
	struct spf_rec r;
	char err[128], many[2048];
	size_t i;
	int macro;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bad); i++)
		if (spf_parse(bad[i], strlen(bad[i]), &r, &macro, err,
		    sizeof err) != -1)
			fail_msg("accepted: %s", bad[i]);
	snprintf(many, sizeof many, "v=spf1");
	for (i = 0; i <= LIM_SPF_TERMS; i++)
		strcat(many, " a");
	assert_int_equal(spf_parse(many, strlen(many), &r, &macro, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "terms"));
}

static void
test_cidr(void **state)
{
	unsigned char a[16] = { 192, 0, 2, 25 }, n[16] = { 192, 0, 2, 0 };
	unsigned char b[16] = { 192, 0, 3, 1 };

	(void)state;
	assert_true(spf_cidr_match(4, a, n, 24));
	assert_false(spf_cidr_match(4, a, n, 32));
	assert_true(spf_cidr_match(4, b, n, 23));
	assert_false(spf_cidr_match(4, b, n, 24));
	assert_true(spf_cidr_match(4, b, n, 0));
	assert_false(spf_cidr_match(4, a, n, 33));
	assert_false(spf_cidr_match(4, a, n, -1));
	assert_true(spf_cidr_match(6, a, n, 24));
	assert_false(spf_cidr_match(6, a, n, 128));
}

static void
test_dmarc(void **state)
{
	static const char *const bad[] = {
		"p=reject; v=DMARC1", "v=DMARC1", "v=DMARC1; p=drop",
		"v=DMARC1; p=none; adkim=x", "v=DMARC1; p=none; pct=101",
		"v=DMARC1; p=none; p=reject", "v=DMARC2; p=none",
		"v=DMARC1; p=none; sp=maybe", "v=DMARC1; p=none; 1x=2",
		"v=DMARC1; p=none; novalue",
	};
	struct dmarc_rec d;
	char err[128];
	const char *ok = "v=DMARC1;p=quarantine; sp=reject ; adkim=s; "
	    "aspf=r; pct=50; rua=mailto:d@example.com;";
	size_t i;

	(void)state;
	assert_int_equal(dmarc_parse(ok, strlen(ok), &d, err, sizeof err), 0);
	assert_int_equal(d.p, DMARC_QUARANTINE);
	assert_int_equal(d.sp, DMARC_REJECT);
	assert_true(d.strict_dkim);
	assert_false(d.strict_spf);
	assert_int_equal(d.pct, 50);
	ok = "v=DMARC1; p=none";
	assert_int_equal(dmarc_parse(ok, strlen(ok), &d, err, sizeof err), 0);
	assert_int_equal(d.p, DMARC_NONE);
	assert_int_equal(d.sp, DMARC_NONE);
	assert_int_equal(d.pct, 100);
	for (i = 0; i < ARRAY_LEN(bad); i++)
		if (dmarc_parse(bad[i], strlen(bad[i]), &d, err, sizeof err)
		    != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void
test_dkim_keyrec(void **state)
{
	static const char *const bad[] = {
		"k=rsa; v=DKIM1; p=AAAA", "v=DKIM2; p=AAAA", "v=DKIM1",
		"v=DKIM1; k=dsa; p=AAAA", "v=DKIM1; p=AA!A", "v=DKIM1; p=A",
		"v=DKIM1; p=AAA==", "v=DKIM1; p=AA=A", "v=DKIM1; p=AAAA=",
		"v=DKIM1; p=AAAA; p=AAAA",
	};
	struct dkim_keyrec k;
	char err[128];
	const char *rec = "v=DKIM1; k=ed25519; t=y; p=AAEC\r\n AwQF Bg==";
	size_t i;

	(void)state;
	assert_int_equal(dkim_keyrec_parse(rec, strlen(rec), &k, err,
	    sizeof err), 0);
	assert_int_equal(k.k, DKIM_KEY_ED25519);
	assert_true(k.testing);
	assert_int_equal(k.plen, 7);
	assert_memory_equal(k.p, "\0\1\2\3\4\5\6", 7);
	free(k.p);
	rec = "p=AQID";        /* v= is optional, k= defaults to rsa */
	assert_int_equal(dkim_keyrec_parse(rec, strlen(rec), &k, err,
	    sizeof err), 0);
	assert_int_equal(k.k, DKIM_KEY_RSA);
	assert_int_equal(k.plen, 3);
	free(k.p);
	rec = "v=DKIM1; p=";   /* revoked */
	assert_int_equal(dkim_keyrec_parse(rec, strlen(rec), &k, err,
	    sizeof err), 0);
	assert_null(k.p);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		if (dkim_keyrec_parse(bad[i], strlen(bad[i]), &k, err,
		    sizeof err) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_org_domain(void **state)
{
	(void)state;
	assert_string_equal(dnsrec_org_domain("example.com"), "example.com");
	assert_string_equal(dnsrec_org_domain("mail.example.com"),
	    "example.com");
	assert_string_equal(dnsrec_org_domain("www.shop.example.co.jp"),
	    "example.co.jp");
	assert_string_equal(dnsrec_org_domain("example.co.jp"),
	    "example.co.jp");
	assert_string_equal(dnsrec_org_domain("co.jp"), "co.jp");
	assert_string_equal(dnsrec_org_domain("com"), "com");
	assert_string_equal(dnsrec_org_domain("a.b.c.d.example.jp"),
	    "example.jp");
}

static void
test_printable(void **state)
{
	char out[16];

	(void)state;
	dnsrec_printable("ok", 2, out, sizeof out);
	assert_string_equal(out, "ok");
	dnsrec_printable("a\nb\\\x80", 5, out, sizeof out);
	assert_string_equal(out, "a\\x0ab\\x5c...");
	dnsrec_printable("0123456789abcdefghij", 20, out, sizeof out);
	assert_string_equal(out, "0123456789ab...");
	dnsrec_printable("x", 1, out, 4);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_join),
		cmocka_unit_test(test_spf_terms),
		cmocka_unit_test(test_spf_refusals),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_dmarc),
		cmocka_unit_test(test_dkim_keyrec),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
