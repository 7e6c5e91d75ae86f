/*
 * dnsrec — parsers for what `formpost doctor` reads from DNS: TXT RDATA
 * (RFC 1035 §3.3.14), SPF records (RFC 7208 §4.6, §12), DMARC records
 * (RFC 7489 §6.3), DKIM key records (RFC 6376 §3.6.1, RFC 8463 §4), and
 * the organisational domain (RFC 7489 §3.2).  DNS answers are hostile
 * input: every length is checked, nothing is trusted to be text.  Pure: no
 * I/O, no globals; thread-safe.
 */
#ifndef FORMPOST_DNSREC_H
#define FORMPOST_DNSREC_H

#include <stddef.h>

#include "limits.h"
#include "util.h"

/* Appends the character-strings of one TXT RDATA, concatenated (long
 * records are split at 255 octets), to out.  Returns 0, or -1 when a
 * length runs past the end or memory runs out. */
int dnsrec_txt_join(const unsigned char *rdata, size_t len, struct buf *out);

/* ---- SPF (RFC 7208) ---- */

enum spf_kind {
	SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6,
	SPF_EXISTS, SPF_REDIRECT,
};

struct spf_term {
	enum spf_kind kind;
	char qualifier;        /* '+', '-', '~' or '?' */
	char domain[256];      /* include/a/mx/ptr/exists/redirect target;
	                        * "" = the record's own domain */
	unsigned char addr[16];/* ip4 (first 4 octets) or ip6 */
	int prefix;            /* CIDR bits (ip4/ip6; a/mx: -1 = whole) */
	int prefix6;           /* a/mx dual-cidr IPv6 bits; -1 = whole */
};


struct spf_rec {
	struct spf_term t[LIM_SPF_TERMS];
	size_t n;
	int lookups;           /* terms that cost a DNS lookup (§4.6.4) */
};

/* 1 when txt (len bytes) is an SPF record ("v=spf1" then space or end). */
int spf_is_record(const char *txt, size_t len);

/* Parses an SPF record.  Macros (%{...}) in a domain are kept as written
 * and reported by *has_macro.  Returns 0, or -1 with the reason in err
 * (unknown mechanism, bad CIDR, bad address, duplicate redirect, more
 * than LIM_SPF_TERMS terms, a non-printable byte). */
int spf_parse(const char *txt, size_t len, struct spf_rec *out,
    int *has_macro, char *err, size_t errlen);

/* 1 when addr (family 4 or 6, 4 or 16 octets) lies in net/bits. */
int spf_cidr_match(int family, const unsigned char *addr,
    const unsigned char *net, int bits);

/* ---- tag lists (RFC 6376 §3.2), DMARC and DKIM records ---- */

enum dmarc_policy { DMARC_NONE, DMARC_QUARANTINE, DMARC_REJECT };

struct dmarc_rec {
	enum dmarc_policy p;
	int has_sp;
	enum dmarc_policy sp;  /* subdomains; p when absent */
	int strict_dkim;       /* adkim=s */
	int strict_spf;        /* aspf=s */
	unsigned pct;          /* 0..100, default 100 */
};

/* Parses "v=DMARC1; p=...": v first, p required (RFC 7489 §6.3). 0, or
 * -1 with the reason in err. */
int dmarc_parse(const char *txt, size_t len, struct dmarc_rec *out,
    char *err, size_t errlen);

enum dkim_keytype { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

struct dkim_keyrec {
	enum dkim_keytype k;   /* k=, default rsa */
	unsigned char *p;      /* decoded p= (caller frees); NULL: revoked */
	size_t plen;
	int testing;           /* t=y */
};

/* Parses a DKIM key record (v=DKIM1 optional but first when present, p=
 * required, base64 with FWS allowed).  Returns 0 (out->p allocated when
 * non-empty: caller frees), or -1 with the reason in err. */
int dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *out,
    char *err, size_t errlen);

/* Pointer to the organisational domain within domain (RFC 7489 §3.2), by a
 * built-in list of multi-label public suffixes (co.jp, ne.jp, co.uk...):
 * "www.shop.example.co.jp" -> "example.co.jp".  domain itself when it has
 * too few labels. */
const char *dnsrec_org_domain(const char *domain);

/* Copies s[0..n) into out (size outlen) for printing: bytes outside
 * printable ASCII become \xHH, cut with "..." when it does not fit. */
void dnsrec_printable(const char *s, size_t n, char *out, size_t outlen);

#endif
