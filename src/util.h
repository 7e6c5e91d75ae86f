/*
 * util — growable byte buffers, small string helpers and the monotonic
 * clock, shared by every module.  No I/O, no globals.  Allocation failure never aborts: a buffer
 * remembers it (b->oom) so a caller may append many times and check once.
 */
#ifndef FORMPOST_UTIL_H
#define FORMPOST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#define FP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A byte buffer.  data is always NUL-terminated when len > 0 or after any
 * append, so it can be printed; user bytes may still contain NUL, so use len.
 * The buffer owns data; buf_free releases it. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	int oom; /* sticky: an append failed; contents are then incomplete */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation, clears oom */
/* Appends; return 0, or -1 (and set b->oom) when memory or size_t runs out. */
int buf_add(struct buf *b, const void *p, size_t n);
/* Room for n more bytes (and the NUL) without another allocation;
 * data is then allocated and NUL-terminated.  0, or -1 (b->oom). */
int buf_reserve(struct buf *b, size_t n);
int buf_addc(struct buf *b, char c);
int buf_adds(struct buf *b, const char *s);
/* Appends n in decimal: the request path's numbers without printf. */
int buf_addu(struct buf *b, unsigned long long n);
int buf_printf(struct buf *b, const char *fmt, ...) FP_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) FP_PRINTF(2, 0);
/* Hands data to the caller (caller frees) and resets b; NULL if b->oom.
 * An empty buffer yields an allocated "". */
char *buf_steal(struct buf *b);

/* n in decimal into out (NUL-terminated): the request path's numbers
 * without printf.  Returns out. */
#define U64_STR 24
char *u64_str(char out[U64_STR], unsigned long long n);
/* Copies the strings a then b into out (room for outlen bytes) as one
 * NUL-terminated string; 0, or -1 (out then "") when it does not fit. */
int str_join(char *out, size_t outlen, const char *a, const char *b);
/* Copies s into out (room for outlen >= 1 bytes) as snprintf(out,
 * outlen, "%s", s) does: cut at outlen - 1, NUL-terminated; returns
 * strlen(s).  The delivery path's copies without printf. */
size_t str_copy(char *out, size_t outlen, const char *s);
/* The strings of the NULL-ended list one after another into out, cut
 * and terminated the same way; returns their whole length (>= outlen:
 * cut). */
size_t str_cat(char *out, size_t outlen, ...) __attribute__((sentinel));

/* strndup that returns NULL on OOM; caller frees. */
char *fp_strndup(const char *s, size_t n);
/* 1 when s (length n) contains a byte < 0x20 or 0x7f. */
int has_ctl(const char *s, size_t n);
/* Copies s[0..n) into dst (room for dstlen >= 1, NUL-terminated) up to
 * the first CR or LF, every byte but printable ASCII as '?', cut at
 * dstlen - 1: how a server's reply may reach a log or the spool. */
void str_sanitise(char *dst, size_t dstlen, const char *s, size_t n);
/* ASCII case-insensitive equality of s[0..n) and the C string lit. */
int eq_ci(const char *s, size_t n, const char *lit);
/* Lowercases ASCII letters in place. */
void ascii_lower(char *s, size_t n);

/* CLOCK_MONOTONIC, for every deadline and duration: a step of the wall
 * clock moves none of them. */
/* t (epoch seconds) as "2026-12-03T07:06:07Z" into out; the bare number
 * if the C library cannot represent it.  Never follows the locale. */
#define ISO_UTC_LEN 32
void iso_utc(char out[ISO_UTC_LEN], long long t);

long long mono_ms(void);                      /* now, in milliseconds */
struct timespec mono_after_ms(long long ms);  /* now + ms */
void ts_add_ms(struct timespec *t, long long ms);
int ts_before(const struct timespec *a, const struct timespec *b);

#endif
