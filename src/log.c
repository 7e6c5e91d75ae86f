/*
 * log — logfmt on stderr.  Keys are ours (literals); values may come from
 * outside and are always quoted when they hold anything but safe
 * characters, with \" \\ \n and \xHH escapes, and capped in length.
 */
#include "log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "util.h"


static _Atomic int min_level = LOG_INFO;
static _Atomic int ip_mode = LOG_IP_FULL;

void
log_set_level(enum log_level level)
{
	min_level = level;
}

int
log_enabled(enum log_level level)
{
	return (int)level >= min_level;
}

void
log_set_ip_mode(enum log_ip_mode mode)
{
	ip_mode = mode;
}

void
log_mask_ip(const char *addr, char *out, size_t outlen)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, a) == 1) {
		snprintf(out, outlen, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return;
	}
	if (inet_pton(AF_INET6, addr, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
			snprintf(out, outlen, "%u.%u.%u.0/24", a[12], a[13],
			    a[14]);
			return;
		}
		memset(a + 6, 0, 10);
		if (inet_ntop(AF_INET6, a, txt, sizeof txt) != NULL) {
			snprintf(out, outlen, "%s/48", txt);
			return;
		}
	}
	snprintf(out, outlen, "%s", addr);
}

static int
safe_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* A line being built: on the stack while it fits (every request logs
 * one), in a heap buffer from the first byte that does not. */
struct line {
	char s[1024];
	size_t n;
	struct buf big;
	int spilled;
};

static void
put(struct line *l, const char *p, size_t n)
{
	if (!l->spilled && n <= sizeof l->s - l->n) {
		memcpy(l->s + l->n, p, n);
		l->n += n;
		return;
	}
	if (!l->spilled) {
		l->spilled = 1;
		buf_add(&l->big, l->s, l->n);
	}
	buf_add(&l->big, p, n);
}

static void
put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Bytes a quoted value escapes. */
static int
escaped(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20 || c == 0x7f;
}

static void
add_value(struct line *l, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, j, n = strlen(v), lim = n > LIM_LOG_VALUE ? LIM_LOG_VALUE : n;
	int quote = n == 0;
	char e[4] = { '\\', 'x', 0, 0 };

	for (i = 0; i < n && !quote; i++)
		if (!safe_char((unsigned char)v[i]) && (unsigned char)v[i] < 0x80)
			quote = 1;
	if (!quote) {
		put(l, v, lim);
		return;
	}
	put(l, "\"", 1);
	/* Runs that need no escape go in one put (a reply's text). */
	for (i = 0; i < lim; i = j + 1) {
		unsigned char c;
		for (j = i; j < lim && !escaped((unsigned char)v[j]); j++)
			;
		if (j > i)
			put(l, v + i, j - i);
		if (j == lim)
			break;
		c = (unsigned char)v[j];
		if (c == '"' || c == '\\') {
			e[1] = (char)c;
			put(l, e, 2);
		} else if (c == '\n')
			put(l, "\\n", 2);
		else {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			put(l, e, 4);
		}
	}
	if (n > LIM_LOG_VALUE)
		put(l, "...", 3);
	put(l, "\"", 1);
}

static void
write_line(const char *p, size_t n)
{
	ssize_t w;
	size_t off = 0;

	while (off < n) {
		w = write(STDERR_FILENO, p + off, n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

void
log_event(enum log_level level, const char *event, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	struct line l;
	va_list ap;
	const char *k, *v;
	char masked[INET6_ADDRSTRLEN + 8];

	if ((int)level < min_level)
		return;
	/* Every request logs a line: plain appends, no printf, no heap
	 * unless the line is long. */
	l.n = 0;
	l.spilled = 0;
	buf_init(&l.big);
	put_str(&l, "level=");
	put_str(&l, names[level]);
	put_str(&l, " event=");
	put_str(&l, event);
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL)
			continue;
		if (strcmp(k, "ip") == 0 && ip_mode != LOG_IP_FULL) {
			if (ip_mode == LOG_IP_NONE)
				continue;
			log_mask_ip(v, masked, sizeof masked);
			v = masked;
		}
		put(&l, " ", 1);
		put_str(&l, k);
		put(&l, "=", 1);
		add_value(&l, v);
	}
	va_end(ap);
	put(&l, "\n", 1);
	if (!l.spilled)
		write_line(l.s, l.n);
	else if (!l.big.oom)
		write_line(l.big.data, l.big.len);
	buf_free(&l.big);
}
