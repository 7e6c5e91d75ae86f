/*
 * smtppipe — reply reader, EHLO capabilities, dot-stuffing (see
 * smtppipe.h).  Pure: no I/O, no allocation.
 */
#include "smtppipe.h"

#include <string.h>

#include "util.h"

void
pipe_reader_init(struct pipe_reader *r)
{
	r->cont = 0;
	r->lines = 0;
	r->len = 0;
}

/* The code of a reply line, or -1 when it is not one (RFC 5321 §4.2:
 * three digits, then ' ', '-' or the end of the line). */
static int
line_code(const char *s, size_t n)
{
	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return -1;
	if (n > 3 && s[3] != ' ' && s[3] != '-')
		return -1;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* A whole line in r->line: 1 with *out when it ends a reply, 0 when
 * more lines follow, -1 when it is not a reply line. */
static int
end_line(struct pipe_reader *r, struct pipe_reply *out)
{
	size_t n = r->len;
	int code;

	r->len = 0;
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	if ((code = line_code(r->line, n)) == -1 ||
	    (r->cont && code != r->cont))
		return -1;
	if (++r->lines > LIM_SMTP_REPLY_LINES)
		return -1;
	if (n > 3 && r->line[3] == '-') {
		r->cont = code;
		return 0;
	}
	r->cont = 0;
	r->lines = 0;
	out->code = code;
	out->len = n;
	memcpy(out->line, r->line, n);
	return 1;
}

int
pipe_read(struct pipe_reader *r, const char *p, size_t n, size_t *used,
    struct pipe_reply *out)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (r->len < sizeof r->line)
				r->line[r->len++] = p[i];
			continue;
		}
		if ((rc = end_line(r, out)) != 0) {
			*used = i + 1;
			return rc;
		}
	}
	*used = n;
	return 0;
}

void
pipe_enhanced(const char *s, size_t n, char *out, size_t outlen)
{
	size_t k = 4;

	out[0] = '\0';
	if (outlen == 0 || n <= 8 || s[4] < '2' || s[4] > '5' || s[5] != '.')
		return;
	while (k < n && k - 4 < outlen - 1 &&
	    ((s[k] >= '0' && s[k] <= '9') || s[k] == '.'))
		k++;
	memcpy(out, s + 4, k - 4);
	out[k - 4] = '\0';
}

/* Whether keyword kw (length kn) is lit, alone or followed by a space. */
static int
keyword(const char *kw, size_t kn, const char *lit)
{
	size_t l = strlen(lit);

	return kn >= l && eq_ci(kw, l, lit) && (kn == l || kw[l] == ' ');
}

/* SIZE's argument: digits only, else 0 (no limit known). */
static unsigned long long
size_arg(const char *s, size_t n)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (~0ULL - 9) / 10)
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v;
}

void
caps_line(struct smtp_caps *c, const char *s, size_t n)
{
	int code, more;
	const char *kw;
	size_t kn;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	code = line_code(s, n);
	more = n > 3 && s[3] == '-';
	if (code != 250) {
		c->in_250 = 0;
		return;
	}
	if (!c->in_250) {          /* a new 250 reply: its first line */
		memset(c, 0, sizeof *c);
		c->in_250 = more;
		return;
	}
	c->in_250 = more;
	kw = s + 4;
	kn = n > 4 ? n - 4 : 0;
	if (keyword(kw, kn, "PIPELINING"))
		c->pipelining = 1;
	else if (keyword(kw, kn, "SMTPUTF8"))
		c->smtputf8 = 1;
	else if (keyword(kw, kn, "8BITMIME"))
		c->eightbitmime = 1;
	/* As libcurl 7.88 reads it (it decides whether MAIL carries
	 * SIZE=): "SIZE" in capitals at the start of the line. */
	else if (kn >= 4 && memcmp(kw, "SIZE", 4) == 0) {
		c->size_offered = 1;
		c->size = kn > 5 ? size_arg(kw + 5, kn - 5) : 0;
	}
}

void
dot_init(struct dotstuff *d)
{
	d->crlf = 2;
}

/* Copies line by line (memchr for each LF, memcpy for the run up to
 * it): the data is mostly 76-byte lines and a byte-at-a-time loop cost
 * ~16 instructions a byte, a fifth of a delivery (doc/design.md
 * "Performance").  Only a run's first byte can start a line, and the
 * state after a run depends on its last bytes only. */
size_t
dot_stuff(struct dotstuff *d, const char *in, size_t n, char *out)
{
	size_t i = 0, o = 0, end;
	const char *nl;

	while (i < n) {
		if (in[i] == '.' && d->crlf == 2)
			out[o++] = '.';
		nl = memchr(in + i, '\n', n - i);
		end = nl != NULL ? (size_t)(nl - in) + 1 : n;
		memcpy(out + o, in + i, end - i);
		o += end - i;
		if (nl == NULL)
			d->crlf = in[n - 1] == '\r' ? 1 : 0;
		else if (end - 1 > i)
			d->crlf = in[end - 2] == '\r' ? 2 : 0;
		else
			d->crlf = d->crlf == 1 ? 2 : 0;
		i = end;
	}
	return o;
}

const char *
dot_end(const struct dotstuff *d)
{
	return d->crlf == 2 ? ".\r\n" : "\r\n.\r\n";
}
