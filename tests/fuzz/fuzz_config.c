/* libFuzzer target: any bytes as a config file.  The loader must reject or
 * accept without crashing, leaking or reading outside the input. */
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct config *c;

	c = config_parse("fuzz.yaml", "/tmp", (const char *)data, size, err,
	    sizeof err);
	if (c != NULL) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			check_lint(c, null);
			fclose(null);
		}
	}
	config_free(c);
	return 0;
}
