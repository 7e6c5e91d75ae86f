/*
 * fuzz_hold — libFuzzer target for hold_ref_parse, the check of a posted
 * reference to a held upload (the review step).  The input is the posted
 * value (hostile bytes of any length).  Besides memory errors it checks
 * that an accepted input is exactly what hold_ref_make writes for what it
 * says (so nothing unchecked reaches a path), and that the name it gives
 * is one hold_name_valid accepts.  The seed corpus holds one valid
 * reference so that path is reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"

static const unsigned char key[HOLD_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
#define NOW 1700000100000ULL

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hold_file h;
	char again[HOLD_REF_MAX + 1];

	if (hold_ref_parse(key, "s", "f", (const char *)data, size, NOW,
	    30 * 86400, &h) != HOLD_OK)
		return 0;
	if (!hold_name_valid(h.name) ||
	    hold_ref_make(key, "s", "f", &h, again, sizeof again) != 0 ||
	    strlen(again) != size || memcmp(again, data, size) != 0)
		abort();
	return 0;
}
