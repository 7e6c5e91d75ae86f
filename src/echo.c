/*
 * echo — the receipt's echo rules (see echo.h).  Detection runs on a
 * folded copy of the value: ASCII lower-cased, full-width ASCII
 * (U+FF01..U+FF5E) and the ideographic full stop turned into their ASCII
 * forms, every other character a space, so "ｗｗｗ．" and "＠" count too.
 */
#include "echo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "utf8.h"

static int
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '.';
}

/* 1 when s[b..e) is a dotted host name whose last label is two or more
 * letters ("example.com", not "1.5"). */
static int
dotted_host(const char *s, size_t b, size_t e)
{
	size_t dot = e, i;

	while (e > b && s[e - 1] == '.')
		e--;
	for (i = b; i < e; i++)
		if (s[i] == '.')
			dot = i;
	if (dot == e || e - dot - 1 < 2)
		return 0;
	for (i = dot + 1; i < e; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return dot > b;
}

/* The folded copy (see the top of the file); NULL on OOM or bad UTF-8. */
static char *
fold(const char *v, size_t n, size_t *chars)
{
	char *f = malloc(n + 1);
	size_t i = 0, o = 0, k;
	uint32_t cp;

	if (f == NULL)
		return NULL;
	for (*chars = 0; i < n; i += k, (*chars)++) {
		if ((k = utf8_decode(v + i, n - i, &cp)) == 0) {
			free(f);
			return NULL;
		}
		if (cp >= 0xFF01 && cp <= 0xFF5E)
			cp -= 0xFEE0;
		else if (cp == 0x3002)
			cp = '.';
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		f[o++] = cp < 0x80 && cp > ' ' ? (char)cp : ' ';
	}
	f[o] = '\0';
	return f;
}

/* 1 when folded text f holds a link or an address. */
static int
has_link(const char *f)
{
	size_t i, b, n = strlen(f);

	if (strstr(f, "://") || strstr(f, "www."))
		return 1;
	for (i = 0; i < n; i++) {
		if (f[i] == '/' || f[i] == '@') {
			/* the host before a '/', or after an '@' */
			size_t e = i + 1;
			if (f[i] == '/') {
				for (b = i; b > 0 && is_host_char(f[b - 1]);
				    b--)
					;
				if (dotted_host(f, b, i))
					return 1;
				continue;
			}
			while (e < n && is_host_char(f[e]))
				e++;
			if (dotted_host(f, i + 1, e))
				return 1;
		}
	}
	return 0;
}

int
echo_unsafe(const char *v, size_t n)
{
	size_t chars;
	char *f = fold(v, n, &chars);
	int bad;

	if (f == NULL)
		return 1;
	bad = chars > LIM_ECHO_CHARS || has_link(f);
	free(f);
	return bad;
}

const char *
echo_omitted(enum lang lang)
{
	return lang == LANG_JA ? "（省略）" : "(omitted)";
}

int
echo_format(const char *v, enum lang lang, struct buf *out)
{
	size_t n = strlen(v);
	int bol = 1;

	if (echo_unsafe(v, n))
		return buf_adds(out, echo_omitted(lang));
	if (strpbrk(v, "\r\n") == NULL)
		return buf_adds(out, v);
	for (; *v; v++) {
		if (*v == '\r' && v[1] == '\n')
			continue;
		if (bol)
			buf_adds(out, *v == '\r' || *v == '\n' ? ">" : "> ");
		buf_addc(out, *v == '\r' ? '\n' : *v);
		bol = *v == '\n' || *v == '\r';
	}
	return out->oom ? -1 : 0;
}
