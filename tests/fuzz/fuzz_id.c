/*
 * fuzz_id — libFuzzer target for id_parse and id_from_user, which read ids
 * as people type them (any bytes).  Checks: an accepted input gives a
 * canonical id (id_canonical, a valid spool name) that parses to itself;
 * id_from_user gives a valid spool name or nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, out[ID_BUF], again[ID_BUF];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (id_parse(s, out) == 0) {
		if (!id_canonical(out) || !id_spool_valid(out) ||
		    id_parse(out, again) != 0 || strcmp(out, again) != 0)
			abort();
	}
	if (id_from_user(s, out) == 0 && !id_spool_valid(out))
		abort();
	free(s);
	return 0;
}
