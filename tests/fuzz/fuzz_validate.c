/*
 * fuzz_validate — libFuzzer target for validate_form.  The input is an
 * urlencoded body posted to a site with one field of every type and rule.
 * Besides memory errors it checks what the mail relies on: a value that
 * passed has no control character in a one-line field, only CRLF line
 * breaks in a multiline one, and a passed email address (and Reply-To)
 * is one the message writer and SMTP accept.  A second site's max_links
 * filter refuses a valid text exactly when the plain link count
 * (tests/unit/ref_links.h) is over its limit.  The input taken whole as
 * an email address, when it is printable ASCII without spaces at its
 * ends, gets the answer every domain got from idn2 (ref_email.h).  A
 * field m of valid UTF-8 gets the multi-line value the code point by code
 * point reference makes of it (ref_multiline.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "form.h"
#include "limits.h"
#include "mime.h"
#include "utf8.h"
#include "validate.h"
#include "../unit/ref_links.h"
#include "../unit/ref_email.h"
#include "../unit/ref_multiline.h"

static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    fields:\n"
    "      t: { required: true, min: 1, max: 5 }\n"
    "      e: { type: email, reply_to: true }\n"
    "      c: { type: email, confirm: e }\n"
    "      p: { type: tel }\n"
    "      u: { type: url }\n"
    "      n: { type: number, min: -1.5, max: 100 }\n"
    "      s: { type: radio, options: [a, b] }\n"
    "      m: { type: multiline, max: 20 }\n"
    "      k: { type: checkbox }\n"
    "      g: { type: checkbox, options: [x, y] }\n"
    "      z: { pattern: \"[0-9]{3}-[0-9]{4}\" }\n"
    "  l:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    filters: { max_links: 2 }\n"
    "    fields:\n      m: { type: multiline }\n"
    "  n:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    fields:\n      m: { type: multiline }\n";

static struct config *cfg;

static void
check_value(const struct field *f, const struct fval *v)
{
	size_t i;
	uint32_t cp;

	if (v->error)
		return;
	if (v->value == NULL || v->value[v->len] != '\0' ||
	    !utf8_valid(v->value, v->len))
		abort();
	for (i = 0; i < v->len; i += utf8_decode(v->value + i, v->len - i,
	    &cp)) {
		utf8_decode(v->value + i, v->len - i, &cp);
		if (f->type == FT_MULTILINE) {
			if (cp == '\r' && (i + 1 >= v->len ||
			    v->value[i + 1] != '\n'))
				abort();
			if (cp == '\n' && (i == 0 || v->value[i - 1] != '\r'))
				abort();
			if (cp == '\r' || cp == '\n' || cp == '\t')
				continue;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029)
			abort();
	}
	if (f->type == FT_EMAIL && v->len && !mime_envelope_ok(v->value))
		abort();
}

/* data as one address, when printable ASCII without spaces at either
 * end: validate_email agrees with the reference. */
static void
email_reference(const uint8_t *data, size_t size)
{
	char a[400];
	size_t i;

	if (size == 0 || size >= sizeof a || data[0] == ' ' ||
	    data[size - 1] == ' ')
		return;
	for (i = 0; i < size; i++)
		if (data[i] < 0x20 || data[i] > 0x7e)
			return;
	memcpy(a, data, size);
	a[size] = '\0';
	if (!ref_email_agrees(a))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form_limits lim = { DEF_MAX_FIELDS, DEF_MAX_FIELD_NAME };
	struct form f;
	struct fvals v;
	size_t i;
	char err[256];

	if (cfg == NULL && (cfg = config_parse("fuzz.yaml", NULL, yaml,
	    sizeof yaml - 1, err, sizeof err)) == NULL)
		abort();
	email_reference(data, size);
	if (form_parse_urlencoded((const char *)data, size, &lim, &f) !=
	    FORM_OK)
		return 0;
	if (validate_form(&cfg->sites[0], &f, &v) == 0) {
		for (i = 0; i < v.n; i++)
			check_value(&cfg->sites[0].fields[i], &v.v[i]);
		if (v.reply_to && !mime_envelope_ok(v.reply_to))
			abort();
		fvals_free(&v);
	}
	if (validate_form(&cfg->sites[1], &f, &v) == 0) {
		const char *e = v.v[0].error;
		if ((e == NULL || strcmp(e, "too_many_links") == 0) &&
		    (e != NULL) != (ref_count_links(v.v[0].value, v.v[0].len)
		    > 2))
			abort();
		fvals_free(&v);
	}
	/* the first field named m, as a plain multi-line field: the value
	 * the reference makes of it (ref_multiline.h) */
	for (i = 0; i < f.n; i++)
		if (f.fields[i].name_len == 1 && f.fields[i].name[0] == 'm')
			break;
	if (i < f.n && !f.fields[i].is_file &&
	    utf8_valid(f.fields[i].value, f.fields[i].value_len) &&
	    validate_form(&cfg->sites[2], &f, &v) == 0) {
		size_t j, more = 0;
		for (j = i + 1; j < f.n; j++)
			more += f.fields[j].name_len == 1 &&
			    f.fields[j].name[0] == 'm';
		if (!more && !ref_multiline_agrees(&v.v[0], f.fields[i].value,
		    f.fields[i].value_len, 0))
			abort();
		fvals_free(&v);
	}
	form_free(&f);
	return 0;
}
