/*
 * fuzz_ops — the operations module's small parsers on arbitrary bytes:
 * the alert webhook URL rule (config_webhook_ok), the log address mask
 * (log_mask_ip) and the metrics label escaper (metrics_escape).
 * Invariants: an accepted URL is http(s), has no userinfo, space or
 * control, and http:// only to loopback; a masked address fits and is
 * printable; an escaped label holds no raw newline or lone quote.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[80];
	const char *why, *h;
	struct buf b;
	size_t i;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (config_webhook_ok(s, &why) == 0) {
		CHECK(strncmp(s, "https://", 8) == 0 ||
		    strncmp(s, "http://", 7) == 0);
		h = strstr(s, "://") + 3;
		CHECK(memchr(h, '@', strcspn(h, "/?#")) == NULL);
		for (i = 0; s[i]; i++)
			CHECK((unsigned char)s[i] > 0x20 &&
			    (unsigned char)s[i] < 0x7f);
	}
	log_mask_ip(s, out, sizeof out);
	CHECK(strlen(out) < sizeof out);
	buf_init(&b);
	metrics_escape(&b, s);
	for (i = 0; i < b.len; i++) {
		CHECK(b.data[i] != '\n');
		if (b.data[i] == '\\' || b.data[i] == '"') {
			CHECK(i > 0 || b.data[i] == '\\');
		}
		if (b.data[i] == '\\')
			i++;       /* the escaped byte */
	}
	buf_free(&b);
	free(s);
	return 0;
}
