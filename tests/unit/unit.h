/* Common includes for cmocka unit tests (cmocka needs these before it). */
#ifndef FORMPOST_UNIT_H
#define FORMPOST_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Asserts that b[0..n) equals the C string s exactly. */
#define assert_bytes_equal(b, n, s) do { \
	assert_int_equal((n), strlen(s)); \
	assert_memory_equal((b), (s), (n)); \
} while (0)

/* Bytes in memory read the way sniff and mime read a file (pread-like:
 * up to n bytes at off, 0 at the end). */
struct mem {
	const unsigned char *p;
	size_t n;
};

static inline long
mem_read(void *arg, void *buf, size_t n, unsigned long long off)
{
	const struct mem *m = arg;

	if (off >= m->n)
		return 0;
	if (n > m->n - off)
		n = (size_t)(m->n - off);
	memcpy(buf, m->p + off, n);
	return (long)n;
}

/* The sample file tests/fixtures/attach/NAME (written by
 * tests/tools/make_attach_samples.py), read whole into a 1 MiB buffer
 * the caller frees; *n its length. */
static inline void *
load_fixture(const char *name, size_t *n)
{
	char path[256];
	unsigned char *b = malloc(1 << 20);
	FILE *f;

	snprintf(path, sizeof path, "tests/fixtures/attach/%s", name);
	if (b == NULL || (f = fopen(path, "rb")) == NULL)
		fail_msg("cannot read %s (run from the repository root)", path);
	*n = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}
#endif
