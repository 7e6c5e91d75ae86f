/*
 * fuzz_smtppipe — libFuzzer target for the pipelined path's readers of
 * server bytes (src/smtppipe.h): the reply reader, fed the input in
 * pieces whose sizes the input's first byte picks, and the EHLO
 * capability parser on every line.  Checks: a reply's code is 200..599
 * and its line starts with that code, its length within the buffer; the
 * reader never reports more bytes used than given; dot_stuff never
 * writes more than twice its input and leaves no line starting with a
 * single dot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtppipe.h"

static void
replies(const char *p, size_t n, size_t step)
{
	struct pipe_reader r;
	struct pipe_reply rp;
	struct smtp_caps caps;
	size_t off = 0, k, used;
	int rc;

	memset(&caps, 0, sizeof caps);
	pipe_reader_init(&r);
	while (off < n) {
		k = n - off < step ? n - off : step;
		rc = pipe_read(&r, p + off, k, &used, &rp);
		if (used > k || (rc != 0 && used == 0))
			abort();
		off += used;
		if (rc == -1) {
			pipe_reader_init(&r);
			continue;
		}
		if (rc == 1) {
			if (rp.code < 200 || rp.code > 599 ||
			    rp.len > sizeof rp.line || rp.len < 3 ||
			    rp.line[0] != '0' + rp.code / 100)
				abort();
			caps_line(&caps, rp.line, rp.len);
		}
	}
}

static void
stuff(const char *p, size_t n)
{
	struct dotstuff d;
	char *out = malloc(2 * n + 8);
	size_t o, i;

	if (out == NULL)
		return;
	dot_init(&d);
	o = dot_stuff(&d, p, n, out);
	if (o > 2 * n)
		abort();
	/* Every dot that starts a line is doubled. */
	for (i = 0; i < o; i++)
		if (out[i] == '.' && (i == 0 || (i >= 2 && out[i - 1] == '\n' &&
		    out[i - 2] == '\r'))) {
			if (i + 1 >= o || out[i + 1] != '.')
				abort();
			i++;
		}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	replies((const char *)data + 1, size - 1, (size_t)data[0] % 64 + 1);
	stuff((const char *)data + 1, size - 1);
	return 0;
}
