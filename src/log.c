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

static void
add_value(struct buf *b, const char *v)
{
	size_t i, n = strlen(v);
	int quote = n == 0;

	for (i = 0; i < n && !quote; i++)
		if (!safe_char((unsigned char)v[i]) && (unsigned char)v[i] < 0x80)
			quote = 1;
	if (!quote) {
		buf_add(b, v, n > LIM_LOG_VALUE ? LIM_LOG_VALUE : n);
		return;
	}
	buf_addc(b, '"');
	for (i = 0; i < n && i < LIM_LOG_VALUE; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
	if (n > LIM_LOG_VALUE)
		buf_adds(b, "...");
	buf_addc(b, '"');
}

void
log_event(enum log_level level, const char *event, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	struct buf b;
	va_list ap;
	const char *k, *v;
	char masked[INET6_ADDRSTRLEN + 8];
	ssize_t w;
	size_t off = 0;

	if ((int)level < min_level)
		return;
	/* Every request logs a line: plain appends, no printf, room for
	 * most lines at once. */
	buf_init(&b);
	buf_reserve(&b, 480);
	buf_adds(&b, "level=");
	buf_adds(&b, names[level]);
	buf_adds(&b, " event=");
	buf_adds(&b, event);
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
		buf_addc(&b, ' ');
		buf_adds(&b, k);
		buf_addc(&b, '=');
		add_value(&b, v);
	}
	va_end(ap);
	buf_addc(&b, '\n');
	while (!b.oom && off < b.len) {
		w = write(STDERR_FILENO, b.data + off, b.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_free(&b);
}
