/*
 * fuzz_sniff — libFuzzer target for sniff_file (magic, ZIP central
 * directory, [Content_Types].xml inflation, text scan) and the name
 * cleaner.  Every read stays inside the input (reads go through a
 * bounds-checked callback); a result is a kind of the table or a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "sniff.h"
#include "utf8.h"

struct mem {
	const uint8_t *p;
	size_t n;
};

static long
mem_read(void *arg, void *buf, size_t n, unsigned long long off)
{
	const struct mem *m = arg;

	if (off > m->n)
		abort();	/* the sniffer asked past the end it was told */
	if (n > m->n - off)
		n = m->n - (size_t)off;
	memcpy(buf, m->p + off, n);
	return (long)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct sniff_result r;
	char name[4 * LIM_ATTACH_NAME_CHARS + 1];
	size_t n;

	if (size > 0) {
		if (sniff_file(mem_read, &m, size, &r) == -1)
			abort();
		if ((r.kind < 0 && r.why == NULL) || r.kind >= SK_COUNT)
			abort();
	}
	n = sniff_clean_name((const char *)data, size, name, sizeof name);
	if (n != strlen(name) || n == 0 || !utf8_valid(name, n) ||
	    utf8_count(name, n) > LIM_ATTACH_NAME_CHARS ||
	    strpbrk(name, "/\\") != NULL)
		abort();
	return 0;
}
