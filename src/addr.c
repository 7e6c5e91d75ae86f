/* addr — shared address character rules; see addr.h. */
#include "addr.h"

#include <string.h>

#include "limits.h"

int
addr_is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
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
