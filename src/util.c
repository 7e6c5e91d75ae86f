/*
 * util — growable buffers and string helpers.  Must never abort on OOM:
 * the daemon turns allocation failure into a 503 for one request.
 */
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int
buf_grow(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (n > SIZE_MAX - b->len - 1)
		goto fail;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	/* A first room of 256: most of a request's buffers (header lines,
	 * file names, values) fit it, and the mail's grow from it with
	 * fewer reallocations (doc/design.md "Performance"). */
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->oom = 1;
	return -1;
}

int
buf_reserve(struct buf *b, size_t n)
{
	if (buf_grow(b, n) == -1)
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	/* The room is there most of the time: then no call to grow (cap
	 * is 0 or more than len, so n < cap - len means it fits). */
	if ((b->oom || n >= b->cap - b->len) && buf_grow(b, n) == -1)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addc(struct buf *b, char c)
{
	/* Encoders append byte by byte: skip the general path when the
	 * room is there (cap > len + 1 also means data is not NULL). */
	if (!b->oom && b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add(b, &c, 1);
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

char *
u64_str(char out[U64_STR], unsigned long long n)
{
	char d[U64_STR];
	size_t i = sizeof d;

	do
		d[--i] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	memcpy(out, d + i, sizeof d - i);
	out[sizeof d - i] = '\0';
	return out;
}

int
buf_addu(struct buf *b, unsigned long long n)
{
	char d[U64_STR];

	return buf_adds(b, u64_str(d, n));
}

int
str_join(char *out, size_t outlen, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (outlen == 0)
		return -1;
	if (na >= outlen || nb >= outlen - na) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, a, na);
	memcpy(out + na, b, nb + 1);
	return 0;
}

size_t
str_copy(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(s);

	if (outlen > 0) {
		size_t k = n < outlen ? n : outlen - 1;
		memcpy(out, s, k);
		out[k] = '\0';
	}
	return n;
}

size_t
str_cat(char *out, size_t outlen, ...)
{
	va_list ap;
	const char *s;
	size_t o = 0, n, k;

	va_start(ap, outlen);
	while ((s = va_arg(ap, const char *)) != NULL) {
		n = strlen(s);
		if (o < outlen) {
			k = n < outlen - o ? n : outlen - o;
			memcpy(out + o, s, k);
		}
		o += n;
	}
	va_end(ap);
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (b->oom)
		return -1;
	/* One pass when it fits in the room already there (the usual case
	 * on the request path); else measure, grow and format again. */
	va_copy(ap2, ap);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
	    b->data ? b->cap - b->len : 0, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && b->data && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (n < 0 || buf_grow(b, (size_t)n) == -1) {
		b->oom = 1;
		if (b->data)
			b->data[b->len] = '\0';
		return -1;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *
buf_steal(struct buf *b)
{
	char *p;

	if (b->oom) {
		buf_free(b);
		return NULL;
	}
	if (b->data == NULL && buf_grow(b, 0) == -1)
		return NULL;
	b->data[b->len] = '\0';
	p = b->data;
	buf_init(b);
	return p;
}

char *
fp_strndup(const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
has_ctl(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	size_t i = 0;
	uint64_t w, d;

	/* Eight bytes at a time: a byte below 0x20, or 0x7f (zero after
	 * ^ 0x7f), sets its high bit in (w - k) & ~w & high; bytes of 0x80
	 * and up never do.  Every spool line is checked (a claim's parse). */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		d = w ^ (ones * 0x7f);
		if ((((w - ones * 0x20) & ~w) | ((d - ones) & ~d)) & high)
			return 1;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

int
eq_ci(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char a = (unsigned char)s[i], c = (unsigned char)lit[i];
		if (c == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (a != c)
			return 0;
	}
	return lit[n] == '\0';
}

void
ascii_lower(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] += 32;
}

void
str_sanitise(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' || ch == '\n')
			break;
		dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[o] = '\0';
}

long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ts_add_ms(struct timespec *t, long long ms)
{
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

struct timespec
mono_after_ms(long long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ts_add_ms(&t, ms);
	return t;
}

int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec < b->tv_nsec);
}

void
iso_utc(char out[ISO_UTC_LEN], long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, ISO_UTC_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, ISO_UTC_LEN, "%lld", t);
}
