/*
 * fuzz_urlencoded — libFuzzer target for form_parse_urlencoded and
 * form_urlencoded_filled.  The whole input is the body.  Besides memory
 * errors it checks what the contract promises on success: no more fields
 * than the cap, names within their cap, every name and value UTF-8 and
 * NUL-terminated; and that the raw look at a honeypot never sees one
 * filled where the parsed body has none (it may only answer sooner).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "limits.h"
#include "utf8.h"

static void
check(const struct form *f, const struct form_limits *lim)
{
	size_t i;

	if (f->n > lim->max_fields)
		abort();
	for (i = 0; i < f->n; i++) {
		const struct form_field *g = &f->fields[i];

		if (g->name_len > lim->max_field_name ||
		    !utf8_valid(g->name, g->name_len) ||
		    !utf8_valid(g->value, g->value_len) ||
		    g->name[g->name_len] != '\0' ||
		    g->value[g->value_len] != '\0' ||
		    g->filename != NULL || g->is_file)
			abort();
	}
}

/* 1 when some field named "hp" has a value. */
static int
hp_filled(const struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, "hp") == 0 &&
		    f->fields[i].value_len > 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The defaults, and tight caps so the limit paths run too. */
	static const struct form_limits lims[] = {
		{ DEF_MAX_FIELDS, DEF_MAX_FIELD_NAME },
		{ 3, 4 },
	};
	struct form f;
	size_t i;

	for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
		if (form_parse_urlencoded((const char *)data, size, &lims[i],
		    &f) == FORM_OK) {
			check(&f, &lims[i]);
			if (i == 0 && form_urlencoded_filled((const char *)data,
			    size, "hp") && !hp_filled(&f))
				abort();
		}
		else if (f.fields != NULL || f.n != 0)
			abort();
		form_free(&f);
	}
	return 0;
}
