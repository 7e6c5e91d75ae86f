/*
 * fuzz_echo — libFuzzer target for the receipt's echo rules (echo.h): a
 * visitor's value of any bytes.  Besides memory errors it checks that
 * whatever is echoed holds no "://" and no "www." (in any case), i.e.
 * never a link the detector could see in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	struct buf b;

	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	(void)echo_unsafe(v, size);
	buf_init(&b);
	if (echo_format(v, LANG_JA, &b) == 0 && b.data) {
		ascii_lower(b.data, b.len);
		if (memmem(b.data, b.len, "://", 3) ||
		    memmem(b.data, b.len, "www.", 4))
			abort();
	}
	buf_free(&b);
	free(v);
	return 0;
}
