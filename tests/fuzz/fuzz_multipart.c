/*
 * fuzz_multipart — libFuzzer target for form_multipart_boundary and
 * form_parse_multipart.  The first line of the input is the Content-Type
 * value, the rest is the body.  On success it checks the contract: caps
 * kept, names (and text values, and filenames) UTF-8, NUL-terminated.
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
		    g->name[g->name_len] != '\0' ||
		    g->value[g->value_len] != '\0')
			abort();
		if (g->is_file != (g->filename != NULL))
			abort();
		if (g->is_file ? !utf8_valid(g->filename, strlen(g->filename)) :
		    !utf8_valid(g->value, g->value_len))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct form_limits lim = { 5, DEF_MAX_FIELD_NAME };
	char boundary[LIM_BOUNDARY_BYTES + 1];
	const uint8_t *nl;
	char *ct;
	size_t ctlen;
	struct form f;

	nl = memchr(data, '\n', size);
	ctlen = nl ? (size_t)(nl - data) : size;
	if ((ct = malloc(ctlen + 1)) == NULL)
		return 0;
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	if (form_multipart_boundary(ct, boundary, sizeof(boundary)) == 0) {
		if (strlen(boundary) == 0 ||
		    strlen(boundary) > LIM_BOUNDARY_BYTES)
			abort();
		if (form_parse_multipart((const char *)data + ctlen +
		    (nl != NULL), size - ctlen - (nl != NULL), boundary, &lim,
		    &f) == FORM_OK)
			check(&f, &lim);
		else if (f.fields != NULL || f.n != 0)
			abort();
		form_free(&f);
	}
	free(ct);
	return 0;
}
