/*
 * addr — the one home of mail address rules, shared by the config loader,
 * the visitor-field validator, the message writer and the SMTP envelope
 * check (RFC 5322 §3.2.3 and §3.4.1, RFC 5321 §4.1.2 and §4.5.3.1,
 * RFC 1035 §2.3.1).  Pure: no I/O, no globals beyond constant tables.
 *
 * An address here is ASCII: a visitor's internationalised domain is
 * turned into its A-label form (validate.c, libidn2) before these rules
 * see it.  A dotless domain ("localhost") is never an address: mail is
 * only ever sent to, or on behalf of, a name in the public DNS.
 */
#ifndef FORMPOST_ADDR_H
#define FORMPOST_ADDR_H

#include <stddef.h>

/* 1 when c is RFC 5322 atext. */
int addr_is_atext(int c);

/* 1 when s[0..n) is RFC 5322 §3.2.3 dot-atom-text (n > 0). */
int addr_dot_atom(const char *s, size_t n);

/* What a local part s[0..n) is. */
enum addr_local {
	ADDR_LOCAL_BAD = 0,
	ADDR_LOCAL_DOT_ATOM,	/* dot-atom-text: written as it is */
	ADDR_LOCAL_LEGACY	/* atext and dots with ".." or a final '.':
				 * valid only quoted, and only at a
				 * addr_legacy_domain */
};

/* Classifies a local part: 1..LIM_ADDR_LOCAL octets of atext and dots,
 * not starting with '.'; an RFC 2047 encoded word ("=?" followed later by
 * "?=") is ADDR_LOCAL_BAD, since a reader may decode it into CR, LF,
 * commas or NUL. */
enum addr_local addr_local_kind(const char *s, size_t n);

/* 1 when d (any letter case) is one of the mobile carriers whose legacy
 * local parts ("taro..x.") still exist. */
int addr_legacy_domain(const char *d);

/* The carrier family of a Japanese mobile mail domain d (any letter
 * case), or of a host under one ("dj.pdx.ne.jp"): "docomo", "au",
 * "softbank", "ymobile" or "rakuten" (static strings); NULL for any other
 * domain.  Their users receive mail only from domains they allowed. */
const char *addr_carrier(const char *d);

/* 1 when d is a domain of LDH labels (1..63 octets, no leading or
 * trailing '-', either letter case) with at least one dot, at most
 * LIM_ADDR_DOMAIN octets: the A-label form formpost sends mail to. */
int addr_domain_ok(const char *d);

/* 1 when addr (NUL-terminated, may be NULL) is an addr-spec formpost
 * accepts anywhere — config, visitor field, header or envelope: exactly
 * one '@'; a local part addr_local_kind accepts (ADDR_LOCAL_LEGACY only
 * at an addr_legacy_domain); addr_domain_ok; at most LIM_ADDR_PATH - 2
 * octets in all so "<addr>" fits a path.  When it returns 1 and at is not
 * NULL, *at is the offset of the '@'. */
int addr_spec_ok(const char *addr, size_t *at);

#endif
