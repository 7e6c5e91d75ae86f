/*
 * fuzz_confirm — libFuzzer target for confirm_verify, the review step's
 * check of a posted `_confirm` against the posted values.  Input: the
 * `_confirm` value, a newline, then the values of fields f0..f3 separated
 * by '&' (hostile bytes of any length, NULs included).  Besides memory
 * errors it checks that an accepted input is exactly what confirm_make
 * writes for those values: CONFIRM_LEN characters, remade byte for byte
 * from its own nonce.  The seed corpus holds one valid input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confirm.h"

static const unsigned char key[CONFIRM_KEY_LEN] =
    "fuzz-key-fuzz-key-fuzz-key-fuzz";
#define NOW    1700000100000ULL
#define ISSUED 1700000050000ULL     /* the seed's issue time */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "f0", "f1", "f2", "f3" };
	struct confirm_item it[4];
	unsigned char nonce[CONFIRM_NONCE_LEN];
	char again[CONFIRM_LEN + 1];
	const char *p = (const char *)data, *end = p + size, *nl, *amp;
	size_t n = 0, blen;
	enum confirm_rc rc;

	nl = memchr(p, '\n', size);
	blen = nl ? (size_t)(nl - p) : size;
	for (p = nl ? nl + 1 : end; nl && n < 4; n++) {
		amp = memchr(p, '&', (size_t)(end - p));
		it[n].name = names[n];
		it[n].value = p;
		it[n].len = amp ? (size_t)(amp - p) : (size_t)(end - p);
		if (amp == NULL) {
			n++;
			break;
		}
		p = amp + 1;
	}
	rc = confirm_verify(key, "s", it, n, (const char *)data, blen, NOW,
	    30 * 86400, nonce);
	if (rc == CONFIRM_ERROR)
		abort();                 /* only OOM may say so */
	if (rc != CONFIRM_OK)
		return 0;
	if (blen != CONFIRM_LEN)
		abort();
	if (confirm_make(key, "s", it, n, ISSUED, nonce, again) != 0)
		abort();
	/* The seed's issue time remakes it exactly; others differ only in
	 * the time and the MACs, never in the header before it. */
	if (memcmp(again, data, 2) != 0)
		abort();
	if (memcmp(again, data, 13) == 0 && memcmp(again, data, CONFIRM_LEN))
		abort();
	return 0;
}
