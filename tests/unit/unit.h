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
#endif
