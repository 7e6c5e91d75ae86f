/* addr — the one set of address rules; see addr.h. */
#include "addr.h"

#include <string.h>
#include <strings.h>

#include "limits.h"
#include "util.h"

/*
 * The Japanese mobile carriers' mail domains, the one table of them
 * (doc/design.md "Auto-reply and carrier mail"): their users receive mail
 * only from domains they allowed.  family: the carrier whose settings the
 * user changes (WILLCOM and EMOBILE became Y!mobile).  legacy: addresses
 * such as "taro..x.@docomo.ne.jp" still exist there.
 */
static const struct {
	const char *domain, *family;
	int legacy;
} carriers[] = {
	{ "docomo.ne.jp", "docomo", 1 },
	{ "ezweb.ne.jp", "au", 1 },
	{ "au.com", "au", 1 },
	{ "biz.ezweb.ne.jp", "au", 0 },
	{ "softbank.ne.jp", "softbank", 1 },
	{ "i.softbank.jp", "softbank", 1 },
	{ "vodafone.ne.jp", "softbank", 1 },
	{ "disney.ne.jp", "softbank", 1 },
	{ "ymobile.ne.jp", "ymobile", 0 },
	{ "y-mobile.ne.jp", "ymobile", 0 },
	{ "emobile.ne.jp", "ymobile", 0 },
	{ "pdx.ne.jp", "ymobile", 0 },
	{ "willcom.com", "ymobile", 0 },
	{ "wcm.ne.jp", "ymobile", 0 },
	{ "rakumail.jp", "rakuten", 0 },
};

int
addr_is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int
addr_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!addr_is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* 1 when s[0..n) holds "=?" and, after it, "?=" (RFC 2047 §2). */
static int
has_encoded_word(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == '=' && s[i + 1] == '?')
			break;
	for (i += 2; i + 1 < n; i++)
		if (s[i] == '?' && s[i + 1] == '=')
			return 1;
	return 0;
}

enum addr_local
addr_local_kind(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > LIM_ADDR_LOCAL || s[0] == '.' ||
	    has_encoded_word(s, n))
		return ADDR_LOCAL_BAD;
	for (i = 0; i < n; i++)
		if (s[i] != '.' && !addr_is_atext((unsigned char)s[i]))
			return ADDR_LOCAL_BAD;
	return addr_dot_atom(s, n) ? ADDR_LOCAL_DOT_ATOM : ADDR_LOCAL_LEGACY;
}

int
addr_legacy_domain(const char *d)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(carriers); i++)
		if (carriers[i].legacy &&
		    strcasecmp(d, carriers[i].domain) == 0)
			return 1;
	return 0;
}

const char *
addr_carrier(const char *d)
{
	size_t i, n = strlen(d), k;

	for (i = 0; i < ARRAY_LEN(carriers); i++) {
		k = strlen(carriers[i].domain);
		if (n < k || strcasecmp(d + n - k, carriers[i].domain) != 0)
			continue;
		/* the domain itself, or a host under it (dj.pdx.ne.jp) */
		if (n == k || d[n - k - 1] == '.')
			return carriers[i].family;
	}
	return NULL;
}

int
addr_domain_ok(const char *d)
{
	size_t len = strlen(d), lab = 0;
	int dots = 0;
	const char *p;

	if (len == 0 || len > LIM_ADDR_DOMAIN)
		return 0;
	for (p = d; *p; p++) {
		if (*p == '.') {
			if (lab == 0 || p[-1] == '-')
				return 0;
			lab = 0;
			dots++;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		    || (*p >= '0' && *p <= '9') || *p == '-') {
			if ((lab == 0 && *p == '-') || ++lab > 63)
				return 0;
		} else
			return 0;
	}
	return lab > 0 && p[-1] != '-' && dots > 0;
}

int
addr_spec_ok(const char *addr, size_t *at)
{
	const char *sep;
	enum addr_local k;

	if (addr == NULL || strlen(addr) > LIM_ADDR_PATH - 2 ||
	    (sep = strchr(addr, '@')) == NULL)
		return 0;
	k = addr_local_kind(addr, (size_t)(sep - addr));
	if (k == ADDR_LOCAL_BAD || !addr_domain_ok(sep + 1) ||
	    (k == ADDR_LOCAL_LEGACY && !addr_legacy_domain(sep + 1)))
		return 0;
	if (at)
		*at = (size_t)(sep - addr);
	return 1;
}
