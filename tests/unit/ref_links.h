/*
 * ref_links — the link count of the max_links filter as it was first
 * written (strncasecmp at every offset), kept as the plain reference
 * tests/unit/test_validate_filters.c and tests/fuzz/fuzz_validate.c
 * compare the filter against (doc/design.md "Performance").
 */
#ifndef FORMPOST_REF_LINKS_H
#define FORMPOST_REF_LINKS_H

#include <string.h>
#include <strings.h>

static unsigned
ref_count_links(const char *s, size_t n)
{
	unsigned links = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i + 7 <= n && strncasecmp(s + i, "http://", 7) == 0)
			links++, i += 6;
		else if (i + 8 <= n && strncasecmp(s + i, "https://", 8) == 0)
			links++, i += 7;
		else if (i + 4 <= n && strncasecmp(s + i, "www.", 4) == 0 &&
		    !(i >= 3 && strncmp(s + i - 3, "://", 3) == 0))
			links++, i += 3;
	}
	return links;
}

#endif
