/*
 * test_validate_files — type: file fields (doc/design.md "Attachments"):
 * one file part per field, empty and too large, the extension against
 * accept, the content against the extension (real samples from
 * tests/fixtures/attach), the label and the Content-Type of an accepted
 * file, and the content digest the double-submit key uses.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "form.h"
#include "sniff.h"
#include "util.h"
#include "validate.h"

static const char yaml[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n  s:\n    origins: [https://a.example]\n"
    "    from: a@a.example\n    to: [b@a.example]\n"
    "    max_body: 1M\n"
    "    fields:\n"
    "      name: { label: お名前 }\n"
    "      cv: { label: 履歴書, type: file, required: true, accept: [pdf, docx], max: 512k }\n"
    "      photo: { label: 写真, type: file, accept: [jpg, png], max: 1k }\n";

#include "fixture.h"

struct part {
	const char *name, *filename;   /* filename NULL: a text part */
	const char *sample;            /* a file of tests/fixtures/attach, */
	const char *text;              /* or these bytes */
	size_t pad;                    /* zero bytes appended */
};

/* Validates the parts (file contents in memory, as without a sink). */
static void
run(const struct part *p, size_t n, struct fvals *v, struct form *f)
{
	size_t i, len;

	memset(f, 0, sizeof *f);
	f->fields = calloc(n + 1, sizeof *f->fields);
	assert_non_null(f->fields);
	for (i = 0; i < n; i++) {
		struct form_field *ff = &f->fields[i];
		char *b = p[i].sample ? load_fixture(p[i].sample, &len) :
		    strdup(p[i].text ? p[i].text : "");
		if (!p[i].sample)
			len = strlen(b);
		b = realloc(b, len + p[i].pad + 1);
		memset(b + len, 0, p[i].pad + 1);
		ff->name = strdup(p[i].name);
		ff->name_len = strlen(p[i].name);
		ff->value = b;
		ff->value_len = len + p[i].pad;
		ff->filename = p[i].filename ? strdup(p[i].filename) : NULL;
		ff->is_file = p[i].filename != NULL;
	}
	f->n = n;
	assert_int_equal(validate_form(&cfg->sites[0], f, v), 0);
}

/* The error code of field i after validating the parts, or NULL. */
static const char *
code_of(const struct part *p, size_t n, size_t i)
{
	static char code[64];
	struct fvals v;
	struct form f;

	run(p, n, &v, &f);
	snprintf(code, sizeof code, "%s", v.v[i].error ? v.v[i].error : "");
	fvals_free(&v);
	form_free(&f);
	return code[0] ? code : NULL;
}

#define CV(fn, s) { "cv", fn, s, NULL, 0 }

static void
test_accepted(void **state)
{
	struct part p[] = { { "name", NULL, NULL, "山田", 0 },
	    CV("../../履歴書.docx", "ok.docx"),
	    { "photo", "\xe2\x80\xae" "gpj.exe.png", "ok.png", NULL, 0 } };
	struct fvals v;
	struct form f;
	static const unsigned char zero[32];

	(void)state;
	run(p, 3, &v, &f);
	assert_int_equal(v.nerrors, 0);
	assert_string_equal(v.v[1].value, "履歴書.docx");
	assert_int_equal(v.v[1].has_file, 1);
	assert_string_equal(v.v[1].ctype, sniff_content_type(SK_DOCX, 0));
	assert_int_equal(v.v[1].size, f.fields[1].value_len);
	assert_ptr_equal(v.v[1].data, f.fields[1].value);
	assert_memory_not_equal(v.v[1].digest, zero, 32);
	assert_string_equal(v.v[2].value, "gpj.exe.png");
	assert_string_equal(v.v[2].ctype, "image/png");
	fvals_free(&v);
	form_free(&f);
}

static void
test_refused(void **state)
{
	struct part two[] = { CV("a.pdf", "ok.pdf"), CV("b.pdf", "ok.pdf") };
	struct part empty[] = { CV("a.pdf", NULL) };
	struct part none[] = { { "name", NULL, NULL, "x", 0 } };
	struct part text_cv[] = { { "cv", NULL, NULL, "a.pdf", 0 } };
	struct part big[] = { { "cv", "a.pdf", "ok.pdf", NULL, 512 * 1024 } };
	struct part exe[] = { CV("a.exe", "mz.jpg") };
	struct part noext[] = { CV("resume", "ok.pdf") };
	struct part mismatch[] = { CV("a.pdf", "ok.docx") };
	struct part macro[] = { CV("a.docx", "macro.docx") };
	struct part html[] = { CV("a.pdf", "html.pdf") };
	struct part photo_only[] = { CV("a.pdf", "ok.pdf"),
	    { "photo", "p.png", NULL, "", 0 } };

	(void)state;
	assert_string_equal(code_of(two, 2, 1), "file_multiple");
	assert_string_equal(code_of(empty, 1, 1), "file_empty");
	assert_string_equal(code_of(none, 1, 1), "required");
	assert_string_equal(code_of(text_cv, 1, 1), "required");
	assert_string_equal(code_of(big, 1, 1), "file_too_large");
	assert_string_equal(code_of(exe, 1, 1), "file_type");
	assert_string_equal(code_of(noext, 1, 1), "file_type");
	assert_string_equal(code_of(mismatch, 1, 1), "file_mismatch");
	assert_string_equal(code_of(macro, 1, 1), "file_macro");
	assert_string_equal(code_of(html, 1, 1), "file_type");
	/* an empty optional file is no file, and no error */
	assert_null(code_of(photo_only, 2, 2));
	/* a file for a text field: named */
	{
		struct part p[] = { { "name", "n.pdf", "ok.pdf", NULL, 0 },
		    CV("a.pdf", "ok.pdf") };
		assert_string_equal(code_of(p, 2, 0), "file_not_allowed");
	}
}

static void
test_messages(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(validate_message("file_too_large", LANG_JA,
	    &cfg->sites[0].fields[1], buf, sizeof buf),
	    "履歴書：ファイルが大きすぎます（512kBまで）。");
	assert_string_equal(validate_message("file_mismatch", LANG_EN,
	    &cfg->sites[0].fields[2], buf, sizeof buf),
	    "写真: the file's content does not match its extension.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, setup_config, teardown);
}
