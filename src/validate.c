/*
 * validate — field rules.  Values arrive as valid UTF-8 (the body parsers
 * checked); here they are normalised, then checked against the field's
 * type and rules.  One-line fields refuse every control character and the
 * Unicode line separators, so nothing typed can reach a header as a line
 * break.  The only module that includes <idn2.h>.
 */
#include "validate.h"

#include <idn2.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "crypto.h"
#include "file.h"
#include "limits.h"
#include "sniff.h"
#include "utf8.h"
#include "util.h"

/* Removes ASCII spaces at both ends of b (which holds a string). */
static void
trim_spaces(struct buf *b)
{
	size_t l = 0;

	while (b->len && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	while (l < b->len && b->data[l] == ' ')
		l++;
	if (l) {
		memmove(b->data, b->data + l, b->len - l + 1);
		b->len -= l;
	}
}

/* 1 when s holds nothing but white space (ASCII, TAB, line breaks, the
 * ideographic space U+3000): such a value counts as empty for
 * `required`, so "　" cannot satisfy a required field. */
static int
is_blank(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			i++;
		else if (n - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0)
			i += 3;
		else
			return 0;
	}
	return 1;
}

/* Full-width ASCII → ASCII, ideographic space → space, the Japanese
 * dashes → '-'.  The katakana prolonged sound mark (ー, and half-width ｰ)
 * is what IMEs often produce for a dash in "03ー1234", but it is also a
 * letter of katakana words ("スーパー.jp" in a domain): it becomes '-'
 * only after an ASCII character.  prev is the previous folded code point
 * (0 at the start). */
static uint32_t
fold_cp(uint32_t cp, uint32_t prev)
{
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return cp - 0xFF01 + 0x21;
	if (cp == 0x3000)
		return ' ';
	switch (cp) {
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2212: case 0xFE63: case 0x2043:
		return '-';
	case 0x30FC: case 0xFF70:
		return prev < 0x80 ? '-' : cp;
	default:
		return cp;
	}
}

/* Appends s with full-width folding, trimming ASCII spaces at both ends. */
static int
fold_width(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, l;
	uint32_t cp, prev = 0;
	char enc[4];

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			/* A run of ASCII folds to itself. */
			for (l = i; l < n && (unsigned char)s[l] < 0x80; l++)
				;
			buf_add(b, s + i, l - i);
			prev = (unsigned char)s[l - 1];
			i = l;
			continue;
		}
		if ((l = utf8_decode(s + i, n - i, &cp)) == 0)
			return -1;
		i += l;
		cp = prev = fold_cp(cp, prev);
		if ((l = utf8_encode(cp, enc)) == 0)
			return -1;
		buf_add(b, enc, l);
	}
	if (b->data)
		trim_spaces(b);
	return b->oom ? -1 : 0;
}

/* 1 when s[0..n) starts with three bytes from E1, E3..EC or EE..EF and
 * two continuation bytes: well-formed whatever they are (RFC 3629 §4),
 * and U+1000..1FFF, U+3000..CFFF or U+E000..FFFF, so neither a control
 * nor a line break (U+0085 takes two bytes, U+2028/9 start with E2).
 * Most of Japanese text. */
static int
plain3(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];

	return n >= 3 && c >= 0xe1 && c <= 0xef && c != 0xe2 && c != 0xed &&
	    ((unsigned char)s[1] & 0xc0) == 0x80 &&
	    ((unsigned char)s[2] & 0xc0) == 0x80;
}

/* CR, LF, CRLF, U+0085, U+2028 and U+2029 → CRLF; other controls (C0
 * but TAB, DEL, the rest of C1 from U+0080) refused, b then holding
 * what came before.  What stays is copied in runs: printable ASCII, TAB
 * and plain3 without decoding, the rest decoded only to be checked. */
static int
norm_multiline(struct buf *b, const char *s, size_t n, const char **code)
{
	size_t i = 0, run = 0, l;
	unsigned char c;
	uint32_t cp;

	while (i < n) {
		c = (unsigned char)s[i];
		if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			i++;
			continue;
		}
		if (plain3(s + i, n - i)) {
			i += 3;
			continue;
		}
		if ((l = utf8_decode(s + i, n - i, &cp)) == 0)
			return -1;
		if (cp == '\r' || cp == '\n' || cp == 0x2028 || cp == 0x2029 ||
		    cp == 0x85) {
			if (cp == '\r' && i + 1 < n && s[i + 1] == '\n')
				l++;
			buf_add(b, s + run, i - run);
			buf_add(b, "\r\n", 2);
			run = i + l;
		} else if (utf8_is_ctl(cp)) {
			buf_add(b, s + run, i - run);
			*code = "control_char";
			return b->oom ? -1 : 0;
		}
		i += l;
	}
	buf_add(b, s + run, n - run);
	/* Trailing blank lines carry nothing. */
	while (b->len >= 2 && b->data[b->len - 2] == '\r' &&
	    b->data[b->len - 1] == '\n')
		b->data[b->len -= 2] = '\0';
	return b->oom ? -1 : 0;
}

/* 1 for an ASCII letter or digit. */
static int
ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * 1 when d[0..n) is a plain host name: labels of 1..63 letters, digits
 * and hyphens (RFC 5890 §2.3.1 LDH), no hyphen at either end, none in
 * both the third and fourth places (so no "xn--" A-label, in any case,
 * and no other reserved "??--" label: those go to idn2, which checks an
 * A-label by decoding it), at most 253 octets in all.  idn2 would give
 * such a name back in lower case and refuse none of it (doc/design.md
 * "Performance", valid posts); every other domain still goes to idn2.
 */
static int
plain_ldh(const char *d, size_t n)
{
	size_t i, start = 0, l;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			if (!ascii_alnum((unsigned char)d[i]) && d[i] != '-')
				return 0;
			continue;
		}
		l = i - start;
		if (l == 0 || l > 63 || d[start] == '-' || d[i - 1] == '-' ||
		    (l >= 4 && d[start + 2] == '-' && d[start + 3] == '-'))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* "local@domain" into a new string (caller frees), or NULL. */
static char *
join_addr(const char *local, size_t ll, const char *domain)
{
	size_t dl = strlen(domain);
	char *out = malloc(ll + dl + 2);

	if (out == NULL)
		return NULL;
	memcpy(out, local, ll);
	out[ll] = '@';
	memcpy(out + ll + 1, domain, dl + 1);
	return out;
}

/* The domain in A-label form, lower case: at d itself for a plain host
 * name, else idn2's (in *ascii, for idn2_free).  VALIDATE_OK or not. */
static enum validate_rc
domain_ascii(char *d, char **ascii, const char **res)
{
	size_t n = strlen(d);
	int irc;

	if (plain_ldh(d, n)) {
		ascii_lower(d, n);
		*res = d;
		return VALIDATE_OK;
	}
	if ((irc = idn2_to_ascii_8z(d, ascii, IDN2_NFC_INPUT |
	    IDN2_NONTRANSITIONAL)) != IDN2_OK)
		return irc == IDN2_MALLOC ? VALIDATE_NOMEM : VALIDATE_INVALID;
	ascii_lower(*ascii, strlen(*ascii));
	*res = *ascii;
	return VALIDATE_OK;
}

enum validate_rc
validate_email(const char *s, size_t n, char **res, const char **code,
    int *quoted)
{
	struct buf b;
	char *at, *ascii = NULL, *out = NULL;
	const char *domain;
	size_t i, ll;
	enum validate_rc rc = VALIDATE_NOMEM;

	*code = "invalid_email";
	buf_init(&b);
	if (fold_width(&b, s, n) == -1)
		goto out;
	rc = VALIDATE_INVALID;
	if (b.len == 0 || utf8_has_ctl(b.data, b.len))
		goto out;
	if ((at = strrchr(b.data, '@')) == NULL || at == b.data)
		goto out;
	*at = '\0';
	ll = (size_t)(at - b.data);
	for (i = 0; i < ll; i++)
		if ((unsigned char)b.data[i] >= 0x80) {
			*code = "non_ascii_local";
			goto out;
		}
	if (ll > LIM_ADDR_LOCAL)
		goto out;
	if ((rc = domain_ascii(at + 1, &ascii, &domain)) != VALIDATE_OK)
		goto out;
	if ((out = join_addr(b.data, ll, domain)) == NULL) {
		rc = VALIDATE_NOMEM;
		goto out;
	}
	rc = VALIDATE_INVALID;
	/* The one set of address rules (addr.h), on the A-label form. */
	if (!addr_spec_ok(out, NULL)) {
		free(out);
		goto out;
	}
	*res = out;
	*quoted = addr_local_kind(b.data, ll) == ADDR_LOCAL_LEGACY;
	*code = NULL;
	rc = VALIDATE_OK;
out:
	idn2_free(ascii);
	buf_free(&b);
	return rc;
}

static int
tel_ok(const char *s)
{
	size_t digits = 0;
	const char *p = s;

	if (*p == '+')
		p++;
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (!strchr("- ()", *p))
			return 0;
	}
	return digits >= 6 && digits <= 20;
}

static int
url_ok(const char *s)
{
	const char *h;

	/* Only web addresses: javascript:, data: and friends would become
	 * live links in a mail client. */
	if (strncasecmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return 0;
	if (*h == '\0' || strchr("/?#@:.", *h))
		return 0;
	for (; *h; h++)
		if ((unsigned char)*h <= 0x20 || strchr("\"<>\\^`{|}", *h))
			return 0;
	return 1;
}

static int
number_ok(const char *s, double *v)
{
	const char *p = s;
	char *end;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (*p || digits == 0 || strlen(s) > 32)
		return 0;
	*v = strtod(s, &end);
	return isfinite(*v);
}

static int
option_ok(const struct field *f, const char *v)
{
	size_t i;

	for (i = 0; i < f->noptions; i++)
		if (strcmp(f->options[i], v) == 0)
			return 1;
	return 0;
}

static int
set_value(struct fval *fv, const char *s, size_t n)
{
	free(fv->value);
	fv->value = fp_strndup(s, n);
	fv->len = n;
	return fv->value ? 0 : -1;
}

/* raw normalised for f's type into b (empty when blank), with *code set
 * for a control character.  0, or -1 (OOM). */
static int
normalise(const struct field *f, const char *raw, size_t rawlen,
    struct buf *b, const char **code)
{
	if (f->type == FT_MULTILINE) {
		if (norm_multiline(b, raw, rawlen, code) == -1)
			return -1;
	} else if (f->type == FT_EMAIL || f->type == FT_TEL ||
	    f->type == FT_NUMBER) {
		if (fold_width(b, raw, rawlen) == -1)
			return -1;
	} else {
		buf_add(b, raw, rawlen);
		/* Leading/trailing spaces are noise in one-line fields. */
		if (b->data)
			trim_spaces(b);
	}
	if (b->oom)
		return -1;
	if (b->data == NULL && buf_add(b, "", 0) == -1)
		return -1;
	if (*code == NULL && f->type != FT_MULTILINE &&
	    utf8_has_ctl(b->data, b->len))
		*code = "control_char";
	if (*code == NULL && is_blank(b->data, b->len))
		buf_reset(b);
	return 0;
}

/* The rule of f's type on the non-empty value b, *code set when it fails;
 * an email is replaced by its normalised form. */
static enum validate_rc
check_type(const struct field *f, struct buf *b, const char **code)
{
	enum validate_rc rc;
	double num;
	char *e;
	int quoted;

	switch (f->type) {
	case FT_EMAIL:
		if ((rc = validate_email(b->data, b->len, &e, code, &quoted))
		    != VALIDATE_OK)
			return rc;
		buf_reset(b);
		buf_adds(b, e);
		free(e);   /* the writer quotes a legacy local part itself */
		break;
	case FT_TEL:
		if (!tel_ok(b->data))
			*code = "invalid_tel";
		break;
	case FT_URL:
		if (!url_ok(b->data))
			*code = "invalid_url";
		break;
	case FT_NUMBER:
		if (!number_ok(b->data, &num))
			*code = "invalid_number";
		else if (f->has_min && num < f->min)
			*code = "too_small";
		else if (f->has_max && num > f->max)
			*code = "too_large";
		break;
	case FT_SELECT:
		if (!option_ok(f, b->data))
			*code = "invalid_option";
		break;
	case FT_CHECKBOX:
		if (f->noptions && !option_ok(f, b->data))
			*code = "invalid_option";
		break;
	default:
		break;
	}
	return *code ? VALIDATE_INVALID : VALIDATE_OK;
}

/* CRLF pairs in s[0..n), found with memchr (a value's characters are
 * counted with each line break as one). */
static size_t
count_crlf(const char *s, size_t n)
{
	const char *p, *end = s + n;
	size_t k = 0;

	for (p = s; p < end && (p = memchr(p, '\r', (size_t)(end - p))) !=
	    NULL; p++)
		k += p + 1 < end && p[1] == '\n';
	return k;
}

/* Checks one single-valued field; fills fv. */
static int
check_one(const struct field *f, const char *raw, size_t rawlen,
    struct fval *fv)
{
	struct buf b;
	const char *code = NULL;
	size_t chars;
	int rc = 0;

	buf_init(&b);
	if (normalise(f, raw, rawlen, &b, &code) == -1)
		goto nomem;
	if (code == NULL && b.len == 0) {
		if (f->required)
			code = "required";
		goto done;
	}
	if (code)
		goto done;
	chars = utf8_count(b.data, b.len);
	if (f->type == FT_MULTILINE)       /* a line break is one character */
		chars -= count_crlf(b.data, b.len);
	if (check_type(f, &b, &code) == VALIDATE_NOMEM)
		goto nomem;
	if (code == NULL && f->type != FT_NUMBER) {
		if (f->has_max && chars > f->max)
			code = "too_long";
		else if (f->has_min && chars < f->min)
			code = "too_short";
	}
	if (code == NULL && f->pattern &&
	    regexec(&f->re, b.data, 0, NULL, 0) != 0)
		code = "pattern";
done:
	if (b.oom || set_value(fv, b.data ? b.data : "", b.len) == -1)
		goto nomem;
	fv->error = code;
	goto out;
nomem:
	rc = -1;
out:
	buf_free(&b);
	return rc;
}

/* 1 when the posted field is named name: by length, since a posted name
 * may hold a NUL ("name%00x" is not "name"). */
static int
is_named(const struct form_field *ff, const char *name)
{
	return ff->name_len == strlen(name) &&
	    memcmp(ff->name, name, ff->name_len) == 0;
}

/* A checkbox group: every posted value must be an option. */
static int
check_group(const struct field *f, const struct form *in, struct fval *fv)
{
	struct buf b;
	size_t i, j, k = 0, n = 0;

	for (i = 0; i < in->n; i++)
		if (is_named(&in->fields[i], f->name))
			n++;
	if (n && (fv->choices = calloc(n, sizeof *fv->choices)) == NULL)
		return -1;
	buf_init(&b);
	for (i = 0; i < in->n; i++) {
		const struct form_field *ff = &in->fields[i];
		if (!is_named(ff, f->name))
			continue;
		/* option_ok compares C strings: a NUL in the value would
		 * pass "月\0anything" as 月. */
		if (memchr(ff->value, '\0', ff->value_len) ||
		    !option_ok(f, ff->value)) {
			fv->error = "invalid_option";
			continue;
		}
		for (j = 0; j < k; j++)      /* a choice counts once */
			if (strcmp(fv->choices[j], ff->value) == 0)
				break;
		if (j < k)
			continue;
		if ((fv->choices[k++] = strdup(ff->value)) == NULL) {
			fv->nchoices = k - 1;
			buf_free(&b);
			return -1;
		}
		fv->nchoices = k;
		buf_printf(&b, "%s%s", b.len ? ", " : "", ff->value);
	}
	if (fv->error == NULL && f->required && fv->nchoices == 0)
		fv->error = "required";
	if (set_value(fv, b.data ? b.data : "", b.len) == -1 || b.oom) {
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	return 0;
}

/* 1 when s[0..n) is lit (lower case ASCII) in any letter case. */
static int
ascii_prefix_ci(const char *s, const char *lit, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

/* Links in s: "http://", "https://" and "www." (not right after one of
 * the first two), in any letter case.  The usual marker of form spam.
 * Only an 'h' or a 'w' can start one: every other byte is passed over
 * without a comparison. */
static unsigned
count_links(const char *s, size_t n)
{
	unsigned links = 0;
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i] | 0x20;
		if (c != 'h' && c != 'w')
			continue;
		if (i + 7 <= n && ascii_prefix_ci(s + i, "http://", 7))
			links++, i += 6;
		else if (i + 8 <= n && ascii_prefix_ci(s + i, "https://", 8))
			links++, i += 7;
		else if (i + 4 <= n && ascii_prefix_ci(s + i, "www.", 4) &&
		    !(i >= 3 && strncmp(s + i - 3, "://", 3) == 0))
			links++, i += 3;
	}
	return links;
}

/* Hiragana, katakana (full and half width) or CJK ideographs. */
static int
has_japanese(const char *s, size_t n)
{
	size_t i = 0, l;
	uint32_t cp;

	while (i < n) {
		if ((l = utf8_decode(s + i, n - i, &cp)) == 0)
			return 0;
		if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 &&
		    cp <= 0x9FFF) || (cp >= 0xFF66 && cp <= 0xFF9F))
			return 1;
		i += l;
	}
	return 0;
}

/*
 * The site's content filters (config `filters:`, answered 422 like a rule):
 * more links than max_links over the text fields marks the field that crossed
 * the limit; require_japanese with no Japanese text anywhere marks the
 * first multiline field (else the first text field).  Only when the
 * fields themselves are valid: a visitor fixes one thing at a time.
 */
static void
apply_filters(const struct site *s, struct fvals *out)
{
	size_t i, mark = s->nfields;
	unsigned links = 0;
	int japanese = 0;

	if (out->nerrors || s->nfields == 0)
		return;
	for (i = 0; i < s->nfields; i++) {
		const struct fval *fv = &out->v[i];
		if (s->fields[i].type != FT_TEXT &&
		    s->fields[i].type != FT_MULTILINE)
			continue;   /* an address's "www." is not a link */
		links += count_links(fv->value, fv->len);
		if (s->max_links != UINT_MAX && links > s->max_links) {
			out->v[i].error = "too_many_links";
			out->nerrors++;
			return;
		}
		japanese |= has_japanese(fv->value, fv->len);
		if (s->fields[i].type == FT_MULTILINE && (mark == s->nfields ||
		    s->fields[mark].type != FT_MULTILINE))
			mark = i;
		else if (s->fields[i].type == FT_TEXT && mark == s->nfields)
			mark = i;
	}
	if (s->require_japanese && !japanese) {
		out->v[mark == s->nfields ? 0 : mark].error = "no_japanese";
		out->nerrors++;
	}
}

/* A file part's size: in its fd, or its value. */
static unsigned long long
file_size(const struct form_field *ff)
{
	return ff->has_fd ? ff->size : ff->value_len;
}

/* Reads a form field's file content (sniff_read_fn). */
static long
field_read(void *arg, void *buf, size_t n, unsigned long long off)
{
	const struct form_field *ff = arg;
	unsigned long long size = file_size(ff);

	if (off >= size)
		return 0;
	if (n > size - off)
		n = (size_t)(size - off);
	if (ff->has_fd)
		return file_pread_all(ff->fd, buf, n, off);
	memcpy(buf, ff->value + off, n);
	return (long)n;
}

/* The file's content against the field's rules and its extension. */
static int
check_file_content(const struct field *f, const struct form_field *ff,
    struct fval *fv)
{
	struct sniff_result r;
	const char *ext;
	size_t el;
	int ek;

	ext = sniff_name_ext(fv->value, &el);
	ek = ext ? sniff_ext_kind(ext, el) : -1;
	if (ek < 0 || !(f->accept & (1u << ek))) {
		fv->error = "file_type";
		return 0;
	}
	if (sniff_file(field_read, (void *)ff, file_size(ff), &r) == -1)
		return -1;
	if (r.kind < 0) {
		fv->error = strcmp(r.why, "macro") == 0 ? "file_macro" :
		    "file_type";
		return 0;
	}
	if (!sniff_agrees(r.kind, ek)) {
		fv->error = "file_mismatch";
		return 0;
	}
	if (crypto_sha256_read(field_read, (void *)ff, file_size(ff),
	    fv->digest) == -1)
		return -1;
	fv->has_file = 1;
	fv->data = ff->has_fd ? NULL : ff->value;
	fv->fd = ff->has_fd ? ff->fd : -1;
	fv->size = file_size(ff);
	fv->ctype = sniff_content_type((enum sniff_kind)ek, r.utf8);
	return 0;
}

/* A held file (struct fheld) as the field's value: the rules an upload
 * meets by size and name now, by content once it is opened
 * (validate_held_file). */
static int
check_held(const struct field *f, const struct fheld *h, struct fval *fv)
{
	const char *ext;
	size_t el;
	int ek;

	if (set_value(fv, h->label, strlen(h->label)) == -1 ||
	    (fv->hold = fp_strndup(h->ref, h->ref_len)) == NULL)
		return -1;
	ext = sniff_name_ext(fv->value, &el);
	ek = ext ? sniff_ext_kind(ext, el) : -1;
	if (h->size == 0 || h->size > f->file_max)
		fv->error = h->size ? "file_too_large" : "file_empty";
	else if (ek < 0 || !(f->accept & (1u << ek)))
		fv->error = "file_type";
	else {
		fv->has_file = 1;
		fv->size = h->size;
		fv->ctype = h->ctype;
		memcpy(fv->digest, h->digest, sizeof fv->digest);
	}
	return 0;
}

int
validate_held_file(const struct field *f, int fd, struct fval *fv)
{
	struct form_field ff;
	struct fval t;

	memset(&ff, 0, sizeof ff);
	memset(&t, 0, sizeof t);
	ff.value = (char *)"";
	ff.has_fd = 1;
	ff.fd = fd;
	ff.size = fv->size;
	t.value = fv->value;
	t.len = fv->len;
	t.fd = -1;
	if (check_file_content(f, &ff, &t) == -1)
		return -1;
	if (t.error || !t.has_file || strcmp(t.ctype, fv->ctype) != 0 ||
	    !crypto_equal(t.digest, fv->digest, sizeof t.digest))
		return 1;
	fv->fd = fd;
	return 0;
}

/* type: file (doc/design.md "Attachments"): one file part, not empty
 * when required, within max, of an accepted type by name and content.
 * Its value is the file's label.  Without a file part, the file the
 * field holds (h), if any. */
static int
check_file(const struct field *f, const struct form *in,
    const struct fheld *h, struct fval *fv)
{
	const struct form_field *ff = NULL;
	char name[4 * LIM_ATTACH_NAME_CHARS + 1];
	size_t j, count = 0, n;

	fv->fd = -1;
	for (j = 0; j < in->n; j++)
		if (in->fields[j].is_file && is_named(&in->fields[j], f->name)) {
			ff = ff ? ff : &in->fields[j];
			count++;
		}
	if (ff == NULL && h && h->ref)
		return check_held(f, h, fv);
	if (ff == NULL && h && h->again) {
		fv->error = "file_again";
		return set_value(fv, "", 0);
	}
	n = ff && ff->filename ? sniff_clean_name(ff->filename,
	    strlen(ff->filename), name, sizeof name) : 0;
	if (n == 0)
		n = (size_t)snprintf(name, sizeof name, "file");
	if (set_value(fv, ff && file_size(ff) ? name : "", ff && file_size(ff) ?
	    n : 0) == -1)
		return -1;
	if (count > 1)
		fv->error = "file_multiple";
	else if (ff == NULL || file_size(ff) == 0)
		fv->error = !f->required ? NULL : ff ? "file_empty" :
		    "required";
	else if (file_size(ff) > f->file_max)
		fv->error = "file_too_large";
	else
		return check_file_content(f, ff, fv);
	return 0;
}

int
validate_form(const struct site *s, const struct form *in, struct fvals *out)
{
	return validate_form_held(s, in, NULL, out);
}

int
validate_form_held(const struct site *s, const struct form *in,
    const struct fheld *held, struct fvals *out)
{
	size_t i, j;

	memset(out, 0, sizeof *out);
	if ((out->v = calloc(s->nfields + 1, sizeof *out->v)) == NULL)
		return -1;
	out->n = s->nfields;
	for (i = 0; i < s->nfields; i++) {
		const struct field *f = &s->fields[i];
		struct fval *fv = &out->v[i];
		const struct form_field *first = NULL;
		size_t count = 0;

		for (j = 0; j < in->n; j++)
			if (is_named(&in->fields[j], f->name)) {
				if (first == NULL)
					first = &in->fields[j];
				count++;
			}
		if (f->type == FT_FILE) {
			if (check_file(f, in, held ? &held[i] : NULL, fv)
			    == -1)
				goto nomem;
			continue;
		}
		if (first && (fv->raw = fp_strndup(first->value,
		    first->value_len)) == NULL)
			goto nomem;
		if (first && first->is_file) {
			fv->error = "file_not_allowed";
			if (set_value(fv, "", 0) == -1)
				goto nomem;
		} else if (f->type == FT_CHECKBOX && f->noptions) {
			if (check_group(f, in, fv) == -1)
				goto nomem;
		} else if (count > 1) {
			fv->error = "repeated";
			if (set_value(fv, "", 0) == -1)
				goto nomem;
		} else if (check_one(f, first ? first->value : "",
		    first ? first->value_len : 0, fv) == -1)
			goto nomem;
		if (fv->error == NULL && f->type == FT_SELECT && fv->len &&
		    (fv->choices = calloc(1, sizeof *fv->choices)) != NULL &&
		    (fv->choices[0] = strdup(fv->value)) != NULL)
			fv->nchoices = 1;
	}
	for (i = 0; i < s->nfields; i++) {
		const struct field *f = &s->fields[i];
		if (f->confirm && out->v[i].error == NULL)
			for (j = 0; j < s->nfields; j++)
				if (strcmp(s->fields[j].name, f->confirm) == 0
				    && out->v[j].error == NULL &&
				    strcmp(out->v[j].value, out->v[i].value))
					out->v[i].error = "mismatch";
		if (out->v[i].error)
			out->nerrors++;
		if (f->reply_to && out->v[i].error == NULL && out->v[i].len)
			out->reply_to = out->v[i].value;
	}
	apply_filters(s, out);
	return 0;
nomem:
	fvals_free(out);
	return -1;
}

void
fvals_free(struct fvals *v)
{
	size_t i, j;

	if (v->v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		free(v->v[i].value);
		free(v->v[i].raw);
		free(v->v[i].hold);
		for (j = 0; j < v->v[i].nchoices; j++)
			free(v->v[i].choices[j]);
		free(v->v[i].choices);
	}
	free(v->v);
	memset(v, 0, sizeof *v);
}

struct msg {
	const char *code;
	const char *ja;
	const char *en;
};

/* {label} is the field's label; {n} a bound where the rule has one. */
static const struct msg messages[] = {
	{ "required", "{label}を入力してください。", "Please fill in {label}." },
	/* "required" for boxes and lists: nothing is typed there */
	{ "required_consent", "{label}にチェックを入れてください。",
	  "Please tick {label}." },
	{ "required_choice", "{label}を選択してください。",
	  "Please choose {label}." },
	{ "too_long", "{label}は{n}文字以内で入力してください。",
	  "{label} must be at most {n} characters." },
	{ "too_short", "{label}は{n}文字以上で入力してください。",
	  "{label} must be at least {n} characters." },
	{ "invalid_email", "{label}の形式が正しくありません（例: taro@example.jp）。",
	  "{label} is not a valid email address (e.g. taro@example.com)." },
	{ "non_ascii_local", "{label}の@より前に使えるのは半角英数字と記号だけです。",
	  "{label}: the part before @ may use only ASCII letters, digits and symbols." },
	{ "invalid_tel", "{label}は数字とハイフンで入力してください（例: 03-1234-5678）。",
	  "{label} must be a phone number (digits, -, spaces, +)." },
	{ "invalid_url", "{label}は http:// または https:// で始まるURLを入力してください。",
	  "{label} must be a URL starting with http:// or https://." },
	{ "invalid_number", "{label}は数値で入力してください。",
	  "{label} must be a number." },
	{ "too_small", "{label}は{n}以上で入力してください。",
	  "{label} must be at least {n}." },
	{ "too_large", "{label}は{n}以下で入力してください。",
	  "{label} must be at most {n}." },
	{ "invalid_option", "{label}は選択肢から選んでください。",
	  "Please choose {label} from the list." },
	{ "pattern", "{label}の形式が正しくありません。",
	  "{label} is not in the expected format." },
	{ "mismatch", "{label}が一致しません。", "{label} does not match." },
	{ "control_char", "{label}に改行や制御文字は使えません。",
	  "{label} must be one line without control characters." },
	{ "file_not_allowed", "{label}にファイルは添付できません。",
	  "{label}: files cannot be attached." },
	{ "file_type", "{label}：この種類のファイルは添付できません。",
	  "{label}: this kind of file cannot be attached." },
	{ "file_mismatch", "{label}：ファイルの中身が拡張子と一致しません。",
	  "{label}: the file's content does not match its extension." },
	{ "file_macro", "{label}：マクロを含むファイルは添付できません。",
	  "{label}: files with macros cannot be attached." },
	{ "file_too_large", "{label}：ファイルが大きすぎます（{size}まで）。",
	  "{label}: the file is too large (at most {size})." },
	{ "file_empty", "{label}：ファイルが空です。",
	  "{label}: the file is empty." },
	{ "file_multiple", "{label}にはファイルを1つだけ添付してください。",
	  "{label}: attach only one file." },
	{ "file_again", "{label}：ファイルの保管期限が切れました。"
	  "もう一度選んでください。",
	  "{label}: the file is no longer kept. Please choose it again." },
	{ "too_many_links", "{label}に含めるURLの数を減らしてください。",
	  "Please include fewer links in {label}." },
	{ "no_japanese", "{label}は日本語で入力してください。",
	  "Please write {label} in Japanese (日本語で入力してください)." },
	{ "repeated", "{label}が複数送信されました。",
	  "{label} was sent more than once." },
};

/* Appends s[0..n) at buf[*at], cut to fit len with its NUL. */
static void
put(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
	if (*at + 1 >= len)
		return;
	if (n > len - 1 - *at)
		n = len - 1 - *at;
	memcpy(buf + *at, s, n);
	*at += n;
}

/* Expands {label}, {n} and {size} in tmpl into buf (len > 0; cut to fit,
 * as snprintf would).  Written in place: a 422 page asks for this once
 * per field in error. */
static void
subst(char *buf, size_t len, const char *tmpl, const char *label, double n)
{
	char num[32];
	const char *p = tmpl, *brace;
	size_t at = 0;

	while (*p) {
		if ((brace = strchr(p, '{')) == NULL)
			brace = p + strlen(p);
		put(buf, len, &at, p, (size_t)(brace - p));
		if (*(p = brace) == '\0')
			break;
		num[0] = '\0';
		if (strncmp(p, "{label}", 7) == 0) {
			put(buf, len, &at, label, strlen(label));
			p += 7;
			continue;
		} else if (strncmp(p, "{n}", 3) == 0) {
			snprintf(num, sizeof num, "%g", n);
			p += 3;
		} else if (strncmp(p, "{size}", 6) == 0) {
			/* k = 1024 bytes, M = 1024 k, as in the config */
			if (n >= 1048576)
				snprintf(num, sizeof num, "%.1fMB", n / 1048576);
			else
				snprintf(num, sizeof num, "%.0fkB", n / 1024);
			p += 6;
		} else
			put(buf, len, &at, p++, 1);
		put(buf, len, &at, num, strlen(num));
	}
	buf[at] = '\0';
}

const char *
validate_message(const char *code, enum lang lang, const struct field *f,
    char *buf, size_t len)
{
	size_t i;
	double bound = 0;

	if (strcmp(code, "required") == 0 && f->type == FT_CHECKBOX &&
	    f->noptions == 0)
		code = "required_consent";
	else if (strcmp(code, "required") == 0 && f->noptions)
		code = "required_choice";
	for (i = 0; i < ARRAY_LEN(messages); i++)
		if (strcmp(messages[i].code, code) == 0)
			break;
	if (i == ARRAY_LEN(messages)) {
		snprintf(buf, len, "%s", lang == LANG_JA ?
		    "入力内容を確認してください。" : "Please check this field.");
		return buf;
	}
	if (strcmp(code, "too_long") == 0 || strcmp(code, "too_large") == 0)
		bound = f->max;
	else if (strcmp(code, "file_too_large") == 0)
		bound = (double)f->file_max;
	else if (strcmp(code, "too_short") == 0 ||
	    strcmp(code, "too_small") == 0)
		bound = f->min;
	subst(buf, len, lang == LANG_JA ? messages[i].ja : messages[i].en,
	    f->label, bound);
	return buf;
}
