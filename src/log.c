/*
 * log — logfmt on stderr.  Keys are ours (literals); values may come from
 * outside and are always quoted when they hold anything but safe
 * characters, with \" \\ \n and \xHH escapes, and capped in length.
 */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "util.h"


static enum log_level min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
	min_level = level;
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
	ssize_t w;
	size_t off = 0;

	if (level < min_level)
		return;
	/* Every request logs a line: plain appends, no printf. */
	buf_init(&b);
	buf_adds(&b, "level=");
	buf_adds(&b, names[level]);
	buf_adds(&b, " event=");
	buf_adds(&b, event);
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL)
			continue;
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
