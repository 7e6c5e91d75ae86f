/*
 * fuzz_multipart_stream — libFuzzer target for the streaming multipart
 * parser (form_stream_*).  Input: 4 bytes seeding the chunk sizes, then
 * as fuzz_multipart (a Content-Type line, then the body).  The body is fed
 * in random chunkings; the result must equal form_parse_multipart's (the
 * same error, or the same fields byte for byte), and a sink that discards
 * every file must see the same fields with the same sizes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "limits.h"

static int
discard_open(void *arg, const char *name, size_t n)
{
	(void)arg;
	(void)name;
	(void)n;
	return -2;
}

static int
never_write(void *arg, int fd, const char *p, size_t n)
{
	(void)arg;
	(void)fd;
	(void)p;
	(void)n;
	abort();
}

static enum form_err
chunked(const char *b, size_t n, const char *boundary, uint32_t seed,
    const struct form_sink *sink, struct form *out)
{
	static const struct form_limits lim = { 5, DEF_MAX_FIELD_NAME };
	struct form_stream *st = form_stream_new(boundary, &lim, 0, sink);
	enum form_err e = FORM_OK;
	size_t i = 0, k;

	if (st == NULL)
		abort();
	while (i < n && e == FORM_OK) {
		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 16) % (seed & 1 ? 7 : 300);
		if (k > n - i)
			k = n - i;
		e = form_stream_feed(st, b + i, k);
		i += k;
	}
	if (e == FORM_OK)
		e = form_stream_finish(st, out);
	form_stream_free(st);
	return e;
}

static void
same(const struct form *a, const struct form *b, int sizes_only)
{
	size_t i;

	if (a->n != b->n)
		abort();
	for (i = 0; i < a->n; i++) {
		const struct form_field *x = &a->fields[i], *y = &b->fields[i];
		if (x->name_len != y->name_len ||
		    memcmp(x->name, y->name, x->name_len) != 0 ||
		    x->is_file != y->is_file || x->size != y->size)
			abort();
		if (sizes_only && x->is_file)
			continue;
		if (x->value_len != y->value_len ||
		    memcmp(x->value, y->value, x->value_len) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct form_limits lim = { 5, DEF_MAX_FIELD_NAME };
	struct form_sink sink = { discard_open, never_write, NULL };
	char boundary[LIM_BOUNDARY_BYTES + 1], ct[256];
	const uint8_t *nl;
	struct form one, two, three;
	enum form_err e1, e2, e3;
	uint32_t seed;
	size_t ctlen;

	if (size < 4)
		return 0;
	memcpy(&seed, data, 4);
	data += 4;
	size -= 4;
	nl = memchr(data, '\n', size);
	ctlen = nl ? (size_t)(nl - data) : size;
	if (ctlen >= sizeof ct)
		return 0;
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	if (form_multipart_boundary(ct, boundary, sizeof boundary) != 0)
		return 0;
	data += ctlen + (nl != NULL);
	size -= ctlen + (nl != NULL);
	e1 = form_parse_multipart((const char *)data, size, boundary, &lim,
	    &one);
	e2 = chunked((const char *)data, size, boundary, seed, NULL, &two);
	e3 = chunked((const char *)data, size, boundary, seed ^ 0x5a5a5a5a,
	    &sink, &three);
	if (e1 != e2 || e1 != e3)
		abort();
	if (e1 == FORM_OK) {
		same(&one, &two, 0);
		same(&one, &three, 1);
		form_free(&two);
		form_free(&three);
	}
	form_free(&one);
	return 0;
}
