/*
 * doctor — one report per site.  Receivers decide with DMARC (RFC 7489):
 * the From domain passes when SPF passes for an envelope domain aligned
 * with it, or when a DKIM signature with an aligned d= verifies.  So the
 * report checks each half and then says whether From is aligned through
 * either.  SPF is evaluated like check_host() (RFC 7208 §4) for the relay
 * host's addresses, except that a known relay service is judged by its
 * include; ptr, exists and macros are reported as "cannot tell".  A
 * resolver that does not answer stops the report with an error: a
 * missing record must never be confused with an unreachable server.
 */
#include "doctor.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dkim.h"
#include "dns.h"
#include "dnsrec.h"
#include "limits.h"

enum level { L_OK, L_WARN, L_ERROR, L_NOTE };

struct report {
	FILE *out;
	int ja;
	int worst;
	int dns_down;          /* the resolver did not answer: stop */
	int spf_lookups;       /* of the check_host() evaluation under way */
	int spf_voids;
	struct dns *dns;
	char err[512];
};

/* Mail services whose relays send from addresses other than the
 * submission host's: authorised by their include. */
static const struct {
	const char *host_suffix, *include;
} known_relays[] = {
	{ "gmail.com", "_spf.google.com" },
	{ "google.com", "_spf.google.com" },
	{ "office365.com", "spf.protection.outlook.com" },
	{ "outlook.com", "spf.protection.outlook.com" },
	{ "amazonaws.com", "amazonses.com" },
	{ "sendgrid.net", "sendgrid.net" },
	{ "mailgun.org", "mailgun.org" },
	{ "mandrillapp.com", "spf.mandrillapp.com" },
};

#define T(r, en_text, ja_text) ((r)->ja ? (ja_text) : (en_text))

static void say(struct report *, enum level, const char *, ...)
    FP_PRINTF(3, 4);

static void
say(struct report *r, enum level lv, const char *fmt, ...)
{
	static const char *const en[] = { "ok", "warning", "error", "note" };
	static const char *const ja[] = { "OK", "警告", "エラー", "参考" };
	va_list ap;

	fprintf(r->out, "  %-8s ", r->ja ? ja[lv] : en[lv]);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
	if (lv == L_ERROR && r->worst < DOCTOR_ERROR)
		r->worst = DOCTOR_ERROR;
	else if (lv == L_WARN && r->worst < DOCTOR_WARN)
		r->worst = DOCTOR_WARN;
}

/* A DNS failure: reported once, and the rest of the report is skipped. */
static void
dns_failed(struct report *r)
{
	if (!r->dns_down)
		say(r, L_ERROR, "%s%s %s", T(r, "", "DNS が応答しません: "),
		    r->err, T(r, "(check the nameserver "
		    "lines of /etc/resolv.conf; nothing else was checked)",
		    "（/etc/resolv.conf の nameserver を確認してください。"
		    "ほかの項目は確認していません）"));
	r->dns_down = 1;
}

/* Prints a record as a zone-file line, split into character-strings of at
 * most 255 octets (RFC 1035 §3.3.14: longer TXT data needs several). */
static void
print_record(struct report *r, const char *name, const char *value)
{
	size_t len = strlen(value), i;

	fprintf(r->out, "             %s. IN TXT", name);
	for (i = 0; i < len; i += 255)
		fprintf(r->out, " \"%.*s\"", (int)(len - i < 255 ? len - i :
		    255), value + i);
	fputc('\n', r->out);
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : addr;
}

/* ------------------------------------------------------------- SPF */

enum spf_result { SPF_R_NONE, SPF_R_NEUTRAL, SPF_R_PASS, SPF_R_FAIL,
	SPF_R_SOFTFAIL, SPF_R_TEMPERROR, SPF_R_PERMERROR, SPF_R_UNKNOWN };

/* The one SPF record at domain into rec.  SPF_R_PASS when found (not a
 * verdict, just "go on"), else NONE / PERMERROR / TEMPERROR. */
static enum spf_result
spf_fetch(struct report *r, const char *domain, struct spf_rec *rec,
    int *macro, char *why, size_t whylen)
{
	struct dns_list l;
	enum dns_rc rc = dns_txt(r->dns, domain, &l, r->err, sizeof r->err);
	size_t i, found = 0, at = 0;
	enum spf_result res = SPF_R_PASS;

	if (rc == DNS_ERROR)
		return SPF_R_TEMPERROR;
	for (i = 0; rc == DNS_FOUND && i < l.n; i++)
		if (spf_is_record(l.txt[i].data, l.txt[i].len)) {
			found++;
			at = i;
		}
	if (found == 0)
		res = SPF_R_NONE;
	else if (found > 1) {
		snprintf(why, whylen, "%s", T(r, "more than one SPF record",
		    "SPF レコードが複数あります"));
		res = SPF_R_PERMERROR;
	} else if (spf_parse(l.txt[at].data, l.txt[at].len, rec, macro, why,
	    whylen) == -1)
		res = SPF_R_PERMERROR;
	if (rc == DNS_FOUND)
		dns_list_free(&l);
	return res;
}

static int
addr_in(const struct dns_list *l, const struct dns_addr *ip, int p4, int p6)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->addrs[i].family == ip->family &&
		    spf_cidr_match(ip->family, ip->a, l->addrs[i].a,
		    ip->family == 4 ? (p4 < 0 ? 32 : p4) : (p6 < 0 ? 128 : p6)))
			return 1;
	return 0;
}

/* One more DNS-querying term of the evaluation under way; 0 while within
 * RFC 7208 §4.6.4's budget of LIM_SPF_LOOKUPS, else -1 (permerror): a
 * hostile or looping zone cannot make the walk grow without end. */
static int
spf_spend(struct report *r)
{
	return ++r->spf_lookups > LIM_SPF_LOOKUPS ? -1 : 0;
}

/* A lookup that found nothing; -1 past LIM_SPF_VOID_LOOKUPS (§4.6.4). */
static int
spf_void(struct report *r, enum dns_rc rc)
{
	return rc == DNS_NONE && ++r->spf_voids > LIM_SPF_VOID_LOOKUPS ?
	    -1 : 0;
}

/* a or mx: 1 match, 0 none, -1 no answer, -2 over a limit (permerror). */
static int
spf_a_mx(struct report *r, const struct spf_term *t, const char *target,
    const struct dns_addr *ip)
{
	struct dns_list mx, a;
	enum dns_rc rc;
	size_t i;
	int m = 0;

	if (spf_spend(r) == -1)
		return -2;
	if (t->kind == SPF_A) {
		if ((rc = dns_addrs(r->dns, target, &a, r->err, sizeof r->err))
		    == DNS_ERROR)
			return -1;
		if (spf_void(r, rc) == -1)
			return -2;
		m = rc == DNS_FOUND && addr_in(&a, ip, t->prefix, t->prefix6);
		if (rc == DNS_FOUND)
			dns_list_free(&a);
		return m;
	}
	if ((rc = dns_mx(r->dns, target, &mx, r->err, sizeof r->err)) ==
	    DNS_ERROR)
		return -1;
	if (spf_void(r, rc) == -1)
		return -2;
	for (i = 0; rc == DNS_FOUND && i < mx.n && i < LIM_SPF_LOOKUPS && !m;
	    i++) {
		enum dns_rc ra = dns_addrs(r->dns, mx.names[i], &a, r->err,
		    sizeof r->err);
		if (ra == DNS_ERROR) {
			m = -1;
			break;
		}
		m = ra == DNS_FOUND && addr_in(&a, ip, t->prefix, t->prefix6);
		if (ra == DNS_FOUND)
			dns_list_free(&a);
	}
	if (rc == DNS_FOUND)
		dns_list_free(&mx);
	return m;
}

static enum spf_result spf_eval(struct report *, const char *,
    const struct dns_addr *, int);

/* One term: 1 match, 0 not, or a final result (negative: -(result+1)). */
static int
spf_term_match(struct report *r, const struct spf_term *t, const char *dom,
    const struct dns_addr *ip, int depth)
{
	const char *target = t->domain[0] ? t->domain : dom;
	enum spf_result sub;
	int m;

	switch (t->kind) {
	case SPF_ALL:
		return 1;
	case SPF_IP4:
	case SPF_IP6:
		return ip->family == (t->kind == SPF_IP4 ? 4 : 6) &&
		    spf_cidr_match(ip->family, ip->a, t->addr, t->prefix);
	case SPF_A:
	case SPF_MX:
		m = spf_a_mx(r, t, target, ip);
		return m == -2 ? -(SPF_R_PERMERROR + 1) : m < 0 ?
		    -(SPF_R_TEMPERROR + 1) : m;
	case SPF_INCLUDE:
		if (spf_spend(r) == -1)
			return -(SPF_R_PERMERROR + 1);
		sub = spf_eval(r, target, ip, depth + 1);
		if (sub == SPF_R_PASS)
			return 1;
		if (sub == SPF_R_TEMPERROR || sub == SPF_R_UNKNOWN)
			return -(int)(sub + 1);
		if (sub == SPF_R_NONE || sub == SPF_R_PERMERROR)
			return -(SPF_R_PERMERROR + 1);
		return 0;
	default:               /* ptr, exists: not judged here */
		return -(SPF_R_UNKNOWN + 1);
	}
}

static enum spf_result
spf_eval(struct report *r, const char *domain, const struct dns_addr *ip,
    int depth)
{
	static const enum spf_result by_q[] = { ['+'] = SPF_R_PASS,
	    ['-'] = SPF_R_FAIL, ['~'] = SPF_R_SOFTFAIL, ['?'] = SPF_R_NEUTRAL };
	struct spf_rec *rec = malloc(sizeof *rec);
	enum spf_result res = SPF_R_NEUTRAL;
	char why[128];
	size_t i;
	int macro, m;

	if (rec == NULL || depth > LIM_SPF_DEPTH) {
		free(rec);
		return SPF_R_PERMERROR;
	}
	if ((res = spf_fetch(r, domain, rec, &macro, why, sizeof why)) !=
	    SPF_R_PASS)
		goto out;
	res = macro ? SPF_R_UNKNOWN : SPF_R_NEUTRAL;
	for (i = 0; !macro && i < rec->n; i++) {
		if (rec->t[i].kind == SPF_REDIRECT)
			continue;
		m = spf_term_match(r, &rec->t[i], domain, ip, depth);
		if (m < 0) {
			res = (enum spf_result)(-m - 1);
			goto out;
		}
		if (m) {
			res = by_q[(unsigned char)rec->t[i].qualifier];
			goto out;
		}
	}
	for (i = 0; !macro && i < rec->n; i++)
		if (rec->t[i].kind == SPF_REDIRECT) {
			if (spf_spend(r) == -1) {
				res = SPF_R_PERMERROR;
				break;
			}
			res = spf_eval(r, rec->t[i].domain, ip, depth + 1);
			if (res == SPF_R_NONE)
				res = SPF_R_PERMERROR;
		}
out:
	free(rec);
	return res;
}

/* Lookups the whole tree costs (RFC 7208 §4.6.4), through includes and
 * redirects; -1 on a loop or a broken include, -2 when DNS did not
 * answer. */
static int
spf_count(struct report *r, const char *domain, int depth, int *includes_known,
    const char *known)
{
	struct spf_rec *rec = malloc(sizeof *rec);
	char why[128];
	int total, macro, sub = SPF_R_PERMERROR;
	size_t i;

	if (rec == NULL || depth > LIM_SPF_DEPTH ||
	    (sub = spf_fetch(r, domain, rec, &macro, why, sizeof why)) !=
	    SPF_R_PASS) {
		free(rec);
		return sub == SPF_R_TEMPERROR ? -2 : -1;
	}
	total = rec->lookups;
	for (i = 0; i < rec->n && total <= LIM_SPF_LOOKUPS; i++) {
		const struct spf_term *t = &rec->t[i];
		if (t->kind != SPF_INCLUDE && t->kind != SPF_REDIRECT)
			continue;
		if (known && t->kind == SPF_INCLUDE &&
		    eq_ci(t->domain, strlen(t->domain), known))
			*includes_known = 1;
		if (strchr(t->domain, '%'))
			continue;
		if ((sub = spf_count(r, t->domain, depth + 1, includes_known,
		    known)) < 0) {
			total = sub;
			break;
		}
		total += sub;
	}
	free(rec);
	return total;
}

/* The include a known relay service needs, or NULL. */
static const char *
known_include(const char *host)
{
	size_t i, hl = strlen(host), sl;

	for (i = 0; i < ARRAY_LEN(known_relays); i++) {
		sl = strlen(known_relays[i].host_suffix);
		if (hl >= sl && eq_ci(host + hl - sl, sl,
		    known_relays[i].host_suffix) && (hl == sl ||
		    host[hl - sl - 1] == '.'))
			return known_relays[i].include;
	}
	return NULL;
}

/* The relay's addresses: a literal, or A/AAAA.  0, or -1 (reported). */
static int
relay_addrs(struct report *r, const char *host, struct dns_list *out)
{
	struct dns_addr a;
	enum dns_rc rc;

	memset(out, 0, sizeof *out);
	memset(&a, 0, sizeof a);
	if (inet_pton(AF_INET, host, a.a) == 1 || inet_pton(AF_INET6, host,
	    a.a) == 1) {
		a.family = strchr(host, ':') ? 6 : 4;
		if ((out->addrs = malloc(sizeof a)) == NULL)
			return -1;
		out->addrs[0] = a;
		out->n = 1;
		return 0;
	}
	rc = dns_addrs(r->dns, host, out, r->err, sizeof r->err);
	if (rc == DNS_ERROR) {
		dns_failed(r);
		return -1;
	}
	if (rc == DNS_NONE) {
		say(r, L_ERROR, T(r, "the relay host %s has no address in DNS",
		    "リレーサーバー %s の アドレスが DNS にありません"), host);
		return -1;
	}
	return 0;
}

static void
addr_text(const struct dns_addr *a, char *out, size_t len)
{
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out,
	    (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

/* Whether SPF at domain authorises relay host; 1 yes, 0 no. */
static int
spf_relay(struct report *r, const char *domain, const char *host)
{
	const char *known = known_include(host);
	struct dns_list addrs;
	char text[INET6_ADDRSTRLEN];
	enum spf_result res;
	size_t i, pass = 0;
	int has_known = 0, all;

	if (known) {
		if (spf_count(r, domain, 0, &has_known, known) >= 0 && has_known) {
			say(r, L_OK, T(r, "SPF authorises the relay %s "
			    "(include:%s)", "SPF がリレー %s を許可しています"
			    "（include:%s）"), host, known);
			return 1;
		}
		say(r, L_ERROR, T(r, "SPF of %s does not include %s, which the "
		    "relay %s needs: add include:%s before the all",
		    "%s の SPF に %s がありません（リレー %s に必要）。all の前"
		    "に include:%s を加えてください"), domain, known, host,
		    known);
		return 0;
	}
	if (relay_addrs(r, host, &addrs) == -1)
		return 0;
	for (i = 0; i < addrs.n && !r->dns_down; i++) {
		addr_text(&addrs.addrs[i], text, sizeof text);
		r->spf_lookups = r->spf_voids = 0;
		res = spf_eval(r, domain, &addrs.addrs[i], 0);
		if (res == SPF_R_PASS)
			pass++;
		else if (res == SPF_R_TEMPERROR)
			dns_failed(r);
		else if (res == SPF_R_PERMERROR)
			say(r, L_ERROR, T(r, "SPF of %s gives permerror for the "
			    "relay %s (%s): an include is missing or invalid, "
			    "or it needs more than %d DNS lookups",
			    "%s の SPF はリレー %s（%s）に対して permerror です。"
			    "include が存在しないか不正か、DNS 参照が %d 回を超え"
			    "ます"), domain, host, text, LIM_SPF_LOOKUPS);
		else if (res == SPF_R_UNKNOWN)
			say(r, L_WARN, T(r, "cannot tell whether SPF of %s "
			    "authorises %s (%s): it uses ptr, exists or macros",
			    "%s の SPF が %s（%s）を許可しているか判定できません"
			    "（ptr・exists・マクロを使用）"), domain, host, text);
		else
			say(r, L_ERROR, T(r, "SPF of %s does not authorise the "
			    "relay %s (%s): add ip%c:%s before the all",
			    "%s の SPF がリレー %s（%s）を許可していません。all の"
			    "前に ip%c:%s を加えてください"), domain, host, text,
			    addrs.addrs[i].family == 4 ? '4' : '6', text);
	}
	all = pass > 0 && pass == addrs.n;
	if (all)
		say(r, L_OK, T(r, "SPF authorises the relay %s",
		    "SPF がリレー %s を許可しています"), host);
	dns_list_free(&addrs);
	return all;
}

/* SPF of the envelope domain: present, valid, within the lookup limit,
 * authorising every relay.  Returns 1 when the relays are authorised. */
static int
check_spf(struct report *r, const struct site *s, const char *env)
{
	struct spf_rec *rec = malloc(sizeof *rec);
	char why[160];
	int macro, lookups, dummy = 0, ok = 1;
	size_t i, j;

	if (rec == NULL)
		return 0;
	switch (spf_fetch(r, env, rec, &macro, why, sizeof why)) {
	case SPF_R_TEMPERROR:
		dns_failed(r);
		free(rec);
		return 0;
	case SPF_R_NONE:
		say(r, L_ERROR, T(r, "no SPF record for %s: publish a TXT "
		    "record \"v=spf1 ... -all\" naming your relay (see below)",
		    "%s に SPF レコードがありません。リレーを含む TXT レコード "
		    "\"v=spf1 ... -all\" を登録してください（下記参照）"), env);
		ok = 0;
		break;
	case SPF_R_PERMERROR:
		say(r, L_ERROR, T(r, "the SPF record of %s is invalid: %s",
		    "%s の SPF レコードが不正です: %s"), env, why);
		free(rec);
		return 0;
	default:
		lookups = spf_count(r, env, 0, &dummy, NULL);
		if (lookups == -2)
			dns_failed(r);
		else if (lookups > LIM_SPF_LOOKUPS || lookups < 0)
			say(r, L_ERROR, T(r, "the SPF record of %s needs more "
			    "than %d DNS lookups (includes nested too deep, or "
			    "one is missing): receivers fail it",
			    "%s の SPF は DNS 参照が %d 回を超えます（include の"
			    "入れ子が深いか、存在しない include があります）"),
			    env, LIM_SPF_LOOKUPS);
		else
			say(r, L_OK, T(r, "SPF record of %s is valid (%d of %d "
			    "DNS lookups)", "%s の SPF レコードは有効です（DNS "
			    "参照 %d / %d 回）"), env, lookups, LIM_SPF_LOOKUPS);
		if (r->dns_down || lookups > LIM_SPF_LOOKUPS || lookups < 0)
			ok = 0;
	}
	free(rec);
	for (i = 0; i < s->nsmtp && !r->dns_down; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(s->smtp[j]->host, s->smtp[i]->host) == 0)
				break;
		if (j < i)
			continue;
		if (config_host_is_loopback(s->smtp[i]->host)) {
			say(r, L_WARN, T(r, "the relay %s is this machine: SPF "
			    "of %s must list the address it sends from (not "
			    "checked)", "リレー %s はこのマシンです。送信元アドレス"
			    "を %s の SPF に含めてください（未確認）"),
			    s->smtp[i]->host, env);
			ok = 0;
			continue;
		}
		if (!spf_relay(r, env, s->smtp[i]->host))
			ok = 0;
	}
	return ok;
}

/* The record to publish for the site's key. */
static void
publish_dkim(struct report *r, const char *name, const struct crypto_key *k)
{
	char *rec = dkim_record(k);

	if (rec == NULL)
		return;
	fprintf(r->out, "             %s\n", T(r, "publish:", "登録するレコード:"));
	print_record(r, name, rec);
	free(rec);
}

/* 1 when one record at name parses and holds k. */
static int
dkim_matches(struct report *r, const struct dns_list *l,
    const struct crypto_key *k, const char *name)
{
	struct dkim_keyrec kr;
	char why[128], shown[160];
	size_t i;
	int match = 0;

	for (i = 0; i < l->n && !match; i++) {
		if (dkim_keyrec_parse(l->txt[i].data, l->txt[i].len, &kr, why,
		    sizeof why) == -1) {
			dnsrec_printable(l->txt[i].data, l->txt[i].len, shown,
			    sizeof shown);
			say(r, L_ERROR, T(r, "the DKIM record at %s is invalid "
			    "(%s): \"%s\"", "%s の DKIM レコードが不正です（%s）:"
			    " \"%s\""), name, why, shown);
			continue;
		}
		if (kr.p == NULL)
			say(r, L_ERROR, T(r, "the DKIM record at %s is revoked "
			    "(empty p=)", "%s の DKIM レコードは失効しています"
			    "（p= が空）"), name);
		else if ((kr.k == DKIM_KEY_ED25519) != (crypto_key_type(k) ==
		    CRYPTO_KEY_ED25519) || !crypto_key_matches(k, kr.p,
		    kr.plen))
			say(r, L_ERROR, T(r, "the DKIM record at %s holds another "
			    "key than key_file: receivers will fail every "
			    "signature", "%s の DKIM レコードの公開鍵が key_file と"
			    "違います。すべての署名が検証に失敗します"), name);
		else {
			match = 1;
			if (kr.testing)
				say(r, L_WARN, T(r, "the DKIM record at %s says "
				    "t=y (testing): remove it when done",
				    "%s の DKIM レコードが t=y（テスト中）です"),
				    name);
		}
		free(kr.p);
	}
	return match;
}

/* DKIM: the selector's record holds the site's key.  1 when it does. */
static int
check_dkim(struct report *r, const struct site *s)
{
	char name[LIM_ADDR_DOMAIN + 80];
	struct dns_list l;
	enum dns_rc rc;
	int ok;

	if (s->dkim_key == NULL) {
		say(r, L_WARN, T(r, "mail is not DKIM-signed: add dkim: "
		    "{ selector, key_file } to the site (forwarded mail then "
		    "still passes DMARC)", "DKIM 署名がありません。サイトに dkim:"
		    " { selector, key_file } を加えてください（転送されたメール"
		    "も DMARC を通ります）"));
		return 0;
	}
	snprintf(name, sizeof name, "%s._domainkey.%s", s->dkim_selector,
	    s->from_domain);
	rc = dns_txt(r->dns, name, &l, r->err, sizeof r->err);
	if (rc == DNS_ERROR) {
		dns_failed(r);
		return 0;
	}
	if (rc == DNS_NONE) {
		say(r, L_ERROR, T(r, "no DKIM record at %s: receivers cannot "
		    "verify the signature", "%s に DKIM レコードがありません。"
		    "署名を検証できません"), name);
		publish_dkim(r, name, s->dkim_key);
		return 0;
	}
	ok = dkim_matches(r, &l, s->dkim_key, name);
	dns_list_free(&l);
	if (ok)
		say(r, L_OK, T(r, "DKIM record at %s matches key_file (%s)",
		    "%s の DKIM レコードは key_file と一致しています（%s）"),
		    name, crypto_key_type(s->dkim_key) == CRYPTO_KEY_RSA ?
		    "rsa-sha256" : "ed25519-sha256");
	else
		publish_dkim(r, name, s->dkim_key);
	return ok;
}

/* The DMARC record for the From domain (or its organisational domain).
 * 1 found (in *d), 0 none, -1 reported error. */
static int
find_dmarc(struct report *r, const char *from, struct dmarc_rec *d,
    char *where, size_t wlen)
{
	const char *org = dnsrec_org_domain(from);
	struct dns_list l;
	enum dns_rc rc;
	char why[128];
	size_t i, n = 0, at = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		snprintf(where, wlen, "_dmarc.%s", pass ? org : from);
		rc = dns_txt(r->dns, where, &l, r->err, sizeof r->err);
		if (rc == DNS_ERROR) {
			dns_failed(r);
			return -1;
		}
		for (i = 0; rc == DNS_FOUND && i < l.n; i++)
			if (l.txt[i].len >= 8 && strncmp(l.txt[i].data,
			    "v=DMARC1", 8) == 0)
				n++, at = i;
		if (n)
			break;
		if (rc == DNS_FOUND)
			dns_list_free(&l);
		if (strcmp(org, from) == 0)
			break;
	}
	if (n == 0)
		return 0;
	if (n > 1 || dmarc_parse(l.txt[at].data, l.txt[at].len, d, why,
	    sizeof why) == -1) {
		say(r, L_ERROR, T(r, "the DMARC record at %s is invalid: %s",
		    "%s の DMARC レコードが不正です: %s"), where, n > 1 ?
		    T(r, "more than one record", "レコードが複数あります") : why);
		n = 0;
	}
	dns_list_free(&l);
	return n ? 1 : -1;
}

static int
same_org(const char *a, const char *b, int strict)
{
	if (strict)
		return eq_ci(a, strlen(a), b);
	a = dnsrec_org_domain(a);
	b = dnsrec_org_domain(b);
	return eq_ci(a, strlen(a), b);
}

/* DMARC: the policy, and whether From is aligned through SPF or DKIM. */
static void
check_dmarc(struct report *r, const struct site *s, const char *env,
    int spf_ok, int dkim_ok)
{
	static const char *const pol[] = { "none", "quarantine", "reject" };
	struct dmarc_rec d;
	char where[LIM_ADDR_DOMAIN + 16];
	int found, spf_al, dkim_al;

	memset(&d, 0, sizeof d);
	if ((found = find_dmarc(r, s->from_domain, &d, where, sizeof where))
	    == 0)
		say(r, L_WARN, T(r, "no DMARC record for %s: publish TXT at "
		    "_dmarc.%s, e.g. \"v=DMARC1; p=none; rua=mailto:...\", then "
		    "move to p=quarantine", "%s に DMARC レコードがありません。"
		    "_dmarc.%s に TXT（例 \"v=DMARC1; p=none; rua=mailto:...\"）を"
		    "登録し、後で p=quarantine にしてください"), s->from_domain,
		    s->from_domain);
	else if (found == 1 && d.p == DMARC_NONE)
		say(r, L_WARN, T(r, "DMARC at %s is p=none: receivers are told "
		    "to act on nothing; once reports are clean, use "
		    "p=quarantine", "%s の DMARC は p=none です（受信側は何もし"
		    "ません）。レポートに問題がなければ p=quarantine にしてく"
		    "ださい"), where);
	else if (found == 1)
		say(r, L_OK, T(r, "DMARC at %s: p=%s", "%s の DMARC: p=%s"),
		    where, pol[d.p]);
	if (r->dns_down)
		return;
	spf_al = spf_ok && same_org(env, s->from_domain, d.strict_spf);
	dkim_al = dkim_ok;     /* d= is the From domain itself */
	if (spf_al || dkim_al)
		say(r, L_OK, T(r, "From %s is aligned through %s", "From %s は"
		    " %s で整合しています"), s->from_domain, spf_al && dkim_al ?
		    "SPF + DKIM" : spf_al ? "SPF" : "DKIM");
	else
		say(r, L_ERROR, T(r, "From %s is aligned neither through SPF "
		    "nor through DKIM: DMARC fails, receivers junk or refuse "
		    "the mail", "From %s は SPF でも DKIM でも整合していません。"
		    "DMARC が失敗し、迷惑メール扱いか拒否になります"),
		    s->from_domain);
}

/* MX of the envelope domain: where bounces go. */
static void
check_mx(struct report *r, const char *env)
{
	struct dns_list l;
	enum dns_rc rc = dns_mx(r->dns, env, &l, r->err, sizeof r->err);
	char shown[300];

	if (rc == DNS_ERROR) {
		dns_failed(r);
		return;
	}
	if (rc == DNS_NONE) {
		say(r, L_WARN, T(r, "no MX for %s: bounces to the envelope "
		    "sender cannot come back", "%s に MX がありません。エラー"
		    "メール（バウンス）が戻りません"), env);
		return;
	}
	dnsrec_printable(l.names[0], strlen(l.names[0]), shown, sizeof shown);
	say(r, L_OK, T(r, "MX for %s: %s (bounces come back)", "%s の MX: %s"
	    "（バウンスが戻ります）"), env, shown);
	dns_list_free(&l);
}

static void
check_site(struct report *r, const struct site *s)
{
	const char *env = domain_of(s->envelope_from ? s->envelope_from :
	    s->from_addr);
	int spf_ok, dkim_ok;

	fprintf(r->out, "%s %s: From %s, %s %s\n", T(r, "site", "サイト"),
	    s->name, s->from_addr, T(r, "envelope sender", "エンベロープ送信者"),
	    s->envelope_from ? s->envelope_from : s->from_addr);
	spf_ok = check_spf(r, s, env);
	dkim_ok = r->dns_down ? 0 : check_dkim(r, s);
	if (!r->dns_down)
		check_dmarc(r, s, env, spf_ok, dkim_ok);
	if (!r->dns_down)
		check_mx(r, env);
	if (!r->dns_down)
		say(r, L_NOTE, T(r, "visitors with carrier mail (docomo.ne.jp, "
		    "ezweb.ne.jp, au.com, softbank.ne.jp...) must allow %s; the "
		    "thanks page tells them", "キャリアメール（docomo.ne.jp・"
		    "ezweb.ne.jp・au.com・softbank.ne.jp など）の方には %s の受信"
		    "許可が必要です（送信完了ページで案内します）"),
		    s->from_domain);
}

int
doctor_run(const struct config *c, const char *site, const char *lang,
    FILE *out)
{
	struct report r;
	size_t i;

	memset(&r, 0, sizeof r);
	r.out = out;
	if (site && config_site(c, site) == NULL) {
		fprintf(out, "formpost: no site named %s in %s\n", site, c->path);
		return DOCTOR_ERROR;
	}
	if ((r.dns = dns_new(LIM_DNS_TIMEOUT, r.err, sizeof r.err)) == NULL) {
		fprintf(out, "formpost: %s\n", r.err);
		return DOCTOR_ERROR;
	}
	for (i = 0; i < c->nsites && !r.dns_down; i++) {
		const struct site *s = &c->sites[i];
		if (site && strcmp(s->name, site) != 0)
			continue;
		r.ja = lang ? strcmp(lang, "ja") == 0 : s->lang == LANG_JA;
		check_site(&r, s);
	}
	fprintf(out, "%s\n", r.worst == DOCTOR_OK ? T(&r, "all good",
	    "問題ありません") : r.worst == DOCTOR_WARN ? T(&r, "warnings: see "
	    "above", "警告があります（上記参照）") : T(&r, "errors: mail may "
	    "be junked or refused until they are fixed", "エラーがあります。"
	    "直すまでメールは迷惑メール扱いか拒否になる可能性があります"));
	dns_free(r.dns);
	return r.worst;
}
