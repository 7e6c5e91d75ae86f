/* Common includes for cmocka unit tests (cmocka needs these before it). */
#ifndef FORMPOST_UNIT_H
#define FORMPOST_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
#endif
