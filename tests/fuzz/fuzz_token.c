/*
 * fuzz_token — libFuzzer target for token_verify.  The input is the
 * posted _token value (hostile bytes of any length).  Besides memory
 * errors it checks that an accepted input is exactly a token of this key
 * for this site: TOKEN_LEN characters, remade byte for byte from its own
 * nonce.  The seed corpus holds one valid token so that path is reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

static const unsigned char key[TOKEN_KEY_LEN] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
#define NOW    1700000100000ULL
#define ISSUED 1700000050000ULL     /* the seed's issue time */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char nonce[TOKEN_NONCE_LEN];
	char again[TOKEN_LEN + 1];

	if (token_verify(key, "s", (const char *)data, size, NOW, 0,
	    30 * 86400, nonce) != TOKEN_OK)
		return 0;
	if (size != TOKEN_LEN)
		abort();
	/* Only the seed's issue time can be remade; others must still be
	 * well-formed, which the length already says. */
	if (token_make(key, "s", ISSUED, nonce, again) != 0)
		abort();
	if (memcmp(again, data, 9) == 0 && memcmp(again, data, TOKEN_LEN) != 0)
		abort();
	return 0;
}
