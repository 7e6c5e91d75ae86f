/*
 * dnsrec — record parsers for `formpost doctor`.  They refuse rather than
 * guess: a record a receiver would call a permerror is an error here too,
 * with a reason an operator can act on.  Every loop is bounded by the
 * input length; no byte of a record reaches output unescaped
 * (dnsrec_printable).
 */
#include "dnsrec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
dnsrec_txt_join(const unsigned char *rdata, size_t len, struct buf *out)
{
	size_t i = 0, n;

	while (i < len) {
		n = rdata[i++];
		if (n > len - i)
			return -1;
		if (buf_add(out, rdata + i, n) == -1)
			return -1;
		i += n;
	}
	/* An empty TXT still leaves a terminated (empty) string. */
	return buf_add(out, "", 0);
}

/* ------------------------------------------------------------- SPF */

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
spf_is_record(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (len == 6 || txt[6] == ' ');
}

/* A decimal of 1..3 digits at s[0..n) within 0..max; -1 otherwise. */
static int
small_num(const char *s, size_t n, int max)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* domain-end (§7.1): "." toplabel ["."], or a macro-expand. */
static int
domain_end(const char *s, size_t n)
{
	size_t i, alpha = 0;

	if (n && s[n - 1] == '.')
		n--;
	if (n && s[n - 1] == '}')
		return 0;
	for (i = n; i > 0 && s[i - 1] != '.'; i--)
		if (is_alpha(s[i - 1]))
			alpha++;
		else if (!is_digit(s[i - 1]) && s[i - 1] != '-')
			return -1;
	/* A toplabel is not all digits and does not start or end in '-'. */
	if (i == 0 || i == n || !alpha || s[i] == '-' || s[n - 1] == '-')
		return -1;
	return 0;
}

/* domain-spec (§7.1): printable, no space, a domain-end; macros noted. */
static int
domain_spec(const char *s, size_t n, char out[256], int *has_macro)
{
	size_t i;

	if (n == 0 || n > 255 || domain_end(s, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return -1;
		if (s[i] == '%')
			*has_macro = 1;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* "/n" or "/n//m" or "//m" after a or mx (§5.3, §5.4). */
static int
dual_cidr(const char *s, size_t n, struct spf_term *t)
{
	const char *dd = NULL;
	size_t i;

	t->prefix = t->prefix6 = -1;
	if (n == 0)
		return 0;
	for (i = 0; i + 1 < n; i++)
		if (s[i] == '/' && s[i + 1] == '/') {
			dd = s + i;
			break;
		}
	if (dd != s) {
		size_t end = dd ? (size_t)(dd - s) : n;
		if (s[0] != '/' || (t->prefix = small_num(s + 1, end - 1, 32))
		    < 0)
			return -1;
	}
	if (dd && (t->prefix6 = small_num(dd + 2, n - (size_t)(dd - s) - 2,
	    128)) < 0)
		return -1;
	return 0;
}

static int
ip_net(const char *s, size_t n, struct spf_term *t)
{
	char tmp[64];
	const char *slash = memchr(s, '/', n);
	size_t al = slash ? (size_t)(slash - s) : n;
	int v6 = t->kind == SPF_IP6, max = v6 ? 128 : 32;

	if (al == 0 || al >= sizeof tmp)
		return -1;
	memcpy(tmp, s, al);
	tmp[al] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, t->addr) != 1)
		return -1;
	t->prefix = max;
	if (slash && (t->prefix = small_num(slash + 1, n - al - 1, max)) < 0)
		return -1;
	return 0;
}

static const struct {
	const char *name;
	enum spf_kind kind;
	int lookup;
	int arg;               /* 0 none, 1 optional domain, 2 required */
} mechs[] = {
	{ "all", SPF_ALL, 0, 0 }, { "include", SPF_INCLUDE, 1, 2 },
	{ "a", SPF_A, 1, 1 }, { "mx", SPF_MX, 1, 1 }, { "ptr", SPF_PTR, 1, 1 },
	{ "ip4", SPF_IP4, 0, 2 }, { "ip6", SPF_IP6, 0, 2 },
	{ "exists", SPF_EXISTS, 1, 2 },
};

/* One directive s[0..n) (§4.6.1) into t; -1 on a syntax error. */
static int
directive(const char *s, size_t n, struct spf_term *t, int *lookup,
    int *has_macro)
{
	size_t i, nl, rest;
	const char *arg;

	t->qualifier = '+';
	if (n && strchr("+-~?", s[0])) {
		t->qualifier = s[0];
		s++;
		n--;
	}
	for (nl = 0; nl < n && s[nl] != ':' && s[nl] != '/'; nl++)
		;
	for (i = 0; i < ARRAY_LEN(mechs); i++)
		if (strlen(mechs[i].name) == nl &&
		    strncasecmp(s, mechs[i].name, nl) == 0)
			break;
	if (i == ARRAY_LEN(mechs))
		return -1;
	t->kind = mechs[i].kind;
	*lookup = mechs[i].lookup;
	arg = s + nl;
	rest = n - nl;
	if (t->kind == SPF_ALL)
		return rest == 0 ? 0 : -1;
	if (t->kind == SPF_IP4 || t->kind == SPF_IP6)
		return rest > 1 && arg[0] == ':' ? ip_net(arg + 1, rest - 1, t)
		    : -1;
	if (rest && arg[0] == ':') {
		const char *sl = t->kind == SPF_A || t->kind == SPF_MX ?
		    memchr(arg, '/', rest) : NULL;
		size_t dl = (sl ? (size_t)(sl - arg) : rest) - 1;
		if (domain_spec(arg + 1, dl, t->domain, has_macro) == -1)
			return -1;
		arg += dl + 1;
		rest -= dl + 1;
	} else if (mechs[i].arg == 2)
		return -1;
	if (t->kind == SPF_A || t->kind == SPF_MX)
		return dual_cidr(arg, rest, t);
	t->prefix = t->prefix6 = -1;
	return rest == 0 ? 0 : -1;
}

/* A modifier name=value (§4.6.1, §6); 1 when s is one, 0 when it is not
 * (a directive), -1 on an error. */
static int
modifier(const char *s, size_t n, struct spf_rec *r, int *seen_redirect,
    int *has_macro)
{
	const char *eq = memchr(s, '=', n);
	size_t i, nl;
	struct spf_term *t;

	if (eq == NULL || !is_alpha(s[0]))
		return 0;
	nl = (size_t)(eq - s);
	for (i = 0; i < nl; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && !strchr("-_.", s[i]))
			return 0;
	if (nl == 8 && strncasecmp(s, "redirect", 8) == 0) {
		if ((*seen_redirect)++ || r->n == LIM_SPF_TERMS)
			return -1;
		t = &r->t[r->n];
		memset(t, 0, sizeof *t);
		t->kind = SPF_REDIRECT;
		t->qualifier = '+';
		t->prefix = t->prefix6 = -1;
		if (domain_spec(eq + 1, n - nl - 1, t->domain, has_macro) == -1)
			return -1;
		r->n++;
		r->lookups++;
	}
	/* exp= and unknown modifiers are ignored (§6.2, §12). */
	return 1;
}

int
spf_parse(const char *txt, size_t len, struct spf_rec *out, int *has_macro,
    char *err, size_t errlen)
{
	size_t i = 6, start;
	int redirect = 0, lookup, m;

	memset(out, 0, sizeof *out);
	*has_macro = 0;
	if (!spf_is_record(txt, len)) {
		snprintf(err, errlen, "does not start with v=spf1");
		return -1;
	}
	while (i < len) {
		if (txt[i] == ' ') {
			i++;
			continue;
		}
		for (start = i; i < len && txt[i] != ' '; i++)
			;
		m = modifier(txt + start, i - start, out, &redirect, has_macro);
		if (m == -1)
			goto bad;
		if (m == 1)
			continue;
		if (out->n == LIM_SPF_TERMS) {
			snprintf(err, errlen, "more than %d terms",
			    LIM_SPF_TERMS);
			return -1;
		}
		memset(&out->t[out->n], 0, sizeof out->t[0]);
		if (directive(txt + start, i - start, &out->t[out->n], &lookup,
		    has_macro) == -1)
			goto bad;
		out->lookups += lookup;
		out->n++;
	}
	return 0;
bad:
	{
		char shown[80];
		dnsrec_printable(txt + start, i - start, shown, sizeof shown);
		snprintf(err, errlen, "invalid term \"%s\"", shown);
	}
	return -1;
}

int
spf_cidr_match(int family, const unsigned char *addr,
    const unsigned char *net, int bits)
{
	int max = family == 6 ? 128 : 32, full, rest;

	if (bits < 0 || bits > max)
		return 0;
	full = bits / 8;
	rest = bits % 8;
	if (memcmp(addr, net, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((addr[full] ^ net[full]) & (0xff00 >> rest & 0xff)) == 0;
}

/* ------------------------------------------------------- tag lists */


struct tag {
	const char *name, *val;
	size_t nlen, vlen;
};

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 6376 §3.2: tag=value; ... into tags; -1 on a syntax error, a
 * duplicate tag or more than LIM_DNS_TAGS. */
static int
tag_list(const char *s, size_t n, struct tag *tags, size_t *ntags)
{
	size_t i = 0, k = 0, j, a, b;

	while (i < n) {
		const char *semi = memchr(s + i, ';', n - i);
		size_t end = semi ? (size_t)(semi - s) : n;
		const char *eq = memchr(s + i, '=', end - i);
		for (a = i; a < end && is_wsp(s[a]); a++)
			;
		if (a == end) {
			/* An empty spec ("p=none;;", a trailing ';') adds
			 * nothing; receivers accept it. */
			i = semi ? end + 1 : n;
			continue;
		}
		if (eq == NULL || k == LIM_DNS_TAGS || !is_alpha(s[a]))
			return -1;
		for (b = (size_t)(eq - s); b > a && is_wsp(s[b - 1]); b--)
			;
		for (j = a; j < b; j++)
			if (!is_alpha(s[j]) && !is_digit(s[j]) && s[j] != '_')
				return -1;
		tags[k].name = s + a;
		tags[k].nlen = b - a;
		for (a = (size_t)(eq - s) + 1; a < end && is_wsp(s[a]); a++)
			;
		for (b = end; b > a && is_wsp(s[b - 1]); b--)
			;
		tags[k].val = s + a;
		tags[k].vlen = b - a;
		for (j = 0; j < k; j++)
			if (tags[j].nlen == tags[k].nlen && memcmp(tags[j].name,
			    tags[k].name, tags[k].nlen) == 0)
				return -1;
		k++;
		i = semi ? end + 1 : n;
	}
	*ntags = k;
	return 0;
}

static const struct tag *
tag_get(const struct tag *tags, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tags[i].nlen == strlen(name) &&
		    memcmp(tags[i].name, name, tags[i].nlen) == 0)
			return &tags[i];
	return NULL;
}

static int
policy(const struct tag *t, enum dmarc_policy *out)
{
	if (eq_ci(t->val, t->vlen, "none"))
		*out = DMARC_NONE;
	else if (eq_ci(t->val, t->vlen, "quarantine"))
		*out = DMARC_QUARANTINE;
	else if (eq_ci(t->val, t->vlen, "reject"))
		*out = DMARC_REJECT;
	else
		return -1;
	return 0;
}

/* adkim/aspf: r (default) or s. */
static int
align_mode(const struct tag *t, int *strict)
{
	if (t == NULL)
		return 0;
	if (eq_ci(t->val, t->vlen, "r") || eq_ci(t->val, t->vlen, "s")) {
		*strict = t->val[0] == 's' || t->val[0] == 'S';
		return 0;
	}
	return -1;
}

int
dmarc_parse(const char *txt, size_t len, struct dmarc_rec *out, char *err,
    size_t errlen)
{
	struct tag tags[LIM_DNS_TAGS];
	const struct tag *t;
	size_t n;
	int pct;

	memset(out, 0, sizeof *out);
	out->pct = 100;
	if (tag_list(txt, len, tags, &n) == -1) {
		snprintf(err, errlen, "is not a tag=value; list");
		return -1;
	}
	if (n == 0 || !eq_ci(tags[0].name, tags[0].nlen, "v") ||
	    !eq_ci(tags[0].val, tags[0].vlen, "DMARC1")) {
		snprintf(err, errlen, "does not start with v=DMARC1");
		return -1;
	}
	if ((t = tag_get(tags, n, "p")) == NULL || policy(t, &out->p) == -1) {
		snprintf(err, errlen, "needs p=none, quarantine or reject");
		return -1;
	}
	out->sp = out->p;
	if ((t = tag_get(tags, n, "sp")) != NULL) {
		out->has_sp = 1;
		if (policy(t, &out->sp) == -1) {
			snprintf(err, errlen, "sp= is not none, quarantine or "
			    "reject");
			return -1;
		}
	}
	if (align_mode(tag_get(tags, n, "adkim"), &out->strict_dkim) == -1 ||
	    align_mode(tag_get(tags, n, "aspf"), &out->strict_spf) == -1) {
		snprintf(err, errlen, "adkim= and aspf= must be r or s");
		return -1;
	}
	if ((t = tag_get(tags, n, "pct")) != NULL) {
		if ((pct = small_num(t->val, t->vlen, 100)) < 0) {
			snprintf(err, errlen, "pct= must be 0 to 100");
			return -1;
		}
		out->pct = (unsigned)pct;
	}
	return 0;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* RFC 4648 §4 with whitespace ignored (RFC 6376 §3.6.1 allows FWS);
 * *out allocated; -1 on a bad character or padding. */
static int
b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *o = malloc(n / 4 * 3 + 3);
	unsigned acc = 0;
	size_t i, k = 0, bits = 0, pad = 0;
	int v;

	if (o == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (is_wsp(s[i]))
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_val(s[i])) < 0)
			goto bad;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits are 2 or 4 and match the padding. */
	/* 2 characters in the last quantum leave 4 bits ("xx=="), 3 leave 2
	 * ("xxx="); padding is optional but must fit. */
	if (bits == 6 || (bits == 0 && pad) || (bits == 4 && pad != 2 &&
	    pad != 0) || (bits == 2 && pad != 1 && pad != 0))
		goto bad;
	*out = o;
	*outlen = k;
	return 0;
bad:
	free(o);
	return -1;
}

int
dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *out,
    char *err, size_t errlen)
{
	struct tag tags[LIM_DNS_TAGS];
	const struct tag *t;
	size_t n;

	memset(out, 0, sizeof *out);
	if (tag_list(txt, len, tags, &n) == -1) {
		snprintf(err, errlen, "is not a tag=value; list");
		return -1;
	}
	if ((t = tag_get(tags, n, "v")) != NULL && (t != &tags[0] ||
	    !eq_ci(t->val, t->vlen, "DKIM1"))) {
		snprintf(err, errlen, "v= must be DKIM1 and come first");
		return -1;
	}
	out->k = DKIM_KEY_RSA;
	if ((t = tag_get(tags, n, "k")) != NULL) {
		if (eq_ci(t->val, t->vlen, "ed25519"))
			out->k = DKIM_KEY_ED25519;
		else if (!eq_ci(t->val, t->vlen, "rsa")) {
			snprintf(err, errlen, "k= is neither rsa nor ed25519");
			return -1;
		}
	}
	if ((t = tag_get(tags, n, "t")) != NULL && t->vlen >= 1 &&
	    (t->val[0] == 'y' || t->val[0] == 'Y'))
		out->testing = 1;
	if ((t = tag_get(tags, n, "p")) == NULL) {
		snprintf(err, errlen, "has no p= (public key)");
		return -1;
	}
	if (t->vlen == 0)
		return 0;      /* revoked */
	if (b64_decode(t->val, t->vlen, &out->p, &out->plen) == -1) {
		snprintf(err, errlen, "p= is not base64");
		return -1;
	}
	return 0;
}

/* Public suffixes of two labels under which organisations register
 * (RFC 7489 §3.2 uses the Public Suffix List; this is its common part). */
static const char *const suffixes2[] = {
	"co.jp", "ne.jp", "or.jp", "ac.jp", "ad.jp", "ed.jp", "go.jp",
	"gr.jp", "lg.jp", "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk",
	"ltd.uk", "plc.uk", "com.au", "net.au", "org.au", "edu.au", "gov.au",
	"co.nz", "org.nz", "com.cn", "com.tw", "co.kr", "com.br", "com.sg",
	"com.hk", "co.in", "co.za",
};

const char *
dnsrec_org_domain(const char *domain)
{
	const char *labels[4] = { NULL };
	size_t i, len = strlen(domain), n = 0;
	const char *last2;

	/* The last up to four label starts, from the right. */
	for (i = len; i > 0 && n < 4; i--)
		if (domain[i - 1] == '.')
			labels[n++] = domain + i;
	if (n < 4 && (n == 0 || labels[n - 1] != domain))
		labels[n++] = domain;
	if (n < 2)
		return domain;
	last2 = labels[1];
	for (i = 0; i < ARRAY_LEN(suffixes2); i++)
		if (eq_ci(last2, strlen(last2), suffixes2[i]))
			return n >= 3 ? labels[2] : domain;
	return last2;
}

void
dnsrec_printable(const char *s, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, need;

	if (outlen < 8) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		need = c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
		if (o + need > outlen - 4) {   /* room for "...\0" */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1)
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}
