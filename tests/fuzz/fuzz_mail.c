/*
 * fuzz_mail — form values → validate_form → mail_compose with the real
 * default templates, as the request pipeline runs them.  Input: up to six
 * values separated by NUL bytes, for the fields name, email, subject,
 * topic, message and agree of two sites (byte 0 picks ja or en).
 * Invariants (the "no input can bend the mail" contract):
 *   - the wire is CRLF only, no line over 998 octets, 7-bit headers;
 *   - exactly the expected header fields, in order, each once: Date, From,
 *     [Reply-To], To, [Cc], Subject, Message-ID, MIME-Version,
 *     Content-Type, Content-Transfer-Encoding; never Bcc;
 *   - the envelope is exactly the configured sender and recipients;
 *   - Reply-To appears exactly when the email field validated.
 * The templates are found from the binary's path: <repo>/build-fuzz/x →
 * <repo>/templates.
 */
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "form.h"
#include "mail.h"
#include "pages.h"
#include "validate.h"

#define CHECK(x) do { if (!(x)) { \
	fprintf(stderr, "fuzz_mail.c:%d: %s\n", __LINE__, #x); \
	__builtin_trap(); } } while (0)

static const char yaml_ja[] =
    "smtp:\n  m:\n    url: smtp://127.0.0.1:25\n    starttls: off\n"
    "sites:\n"
    "  ja:\n"
    "    origins: [https://a.example]\n"
    "    from: \"サンプル商店 <noreply@shop.example.jp>\"\n"
    "    envelope_from: bounces@shop.example.jp\n"
    "    to: [info@shop.example.jp]\n"
    "    cc: [staff@shop.example.jp]\n"
    "    bcc: [archive@shop.example.jp]\n"
    "    smtp: [m]\n"
    "    subject: \"【お問い合わせ】{{topic}} {{subject}} {{message}}\"\n"
    "    lang: ja\n"
    "    reply_to_name: name\n"
    "    fields:\n"
    "      name: { label: お名前, required: true }\n"
    "      email: { label: メール, type: email, reply_to: true }\n"
    "      subject: { label: 件名, max: 300 }\n"
    "      topic: { label: 種別, type: select, options: [見積, \"A, B\"] }\n"
    "      message: { label: 内容, type: multiline }\n"
    "      agree: { label: 同意, type: checkbox }\n";

static const char yaml_en[] =
    "  en:\n"
    "    origins: [https://b.example]\n"
    "    from: \"Web Form, Inc. <form@b.example>\"\n"
    "    to: [to@b.example]\n"
    "    smtp: [m]\n"
    "    subject: \"{{subject}}\"\n"
    "    lang: en\n"
    "    reply_to_name: name\n"
    "    fields:\n"
    "      name: { label: Name }\n"
    "      email: { label: Email, type: email, reply_to: true }\n"
    "      subject: { label: Subject }\n"
    "      topic: { label: Topic, type: select, options: [a, b] }\n"
    "      message: { label: Message, type: multiline }\n"
    "      agree: { label: Agree, type: checkbox }\n";

static struct config *cfg;
static struct pages *pg;

static const char *const names[] = {
	"name", "email", "subject", "topic", "message", "agree"
};
#define NNAMES (sizeof names / sizeof names[0])

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char exe[PATH_MAX], tdir[PATH_MAX + 32], err[512];
	char *yaml = NULL;
	int n;

	(void)argc;
	if (realpath((*argv)[0], exe) == NULL)
		abort();
	snprintf(tdir, sizeof tdir, "%s/../templates", dirname(exe));
	n = asprintf(&yaml, "templates: \"%s\"\n%s%s", tdir, yaml_ja,
	    yaml_en);
	if (n < 0)
		abort();
	cfg = config_parse("fuzz.yaml", NULL, yaml, (size_t)n, err,
	    sizeof err);
	free(yaml);
	if (cfg == NULL || (pg = pages_load(cfg, err, sizeof err)) == NULL) {
		fprintf(stderr, "fuzz_mail: %s\n", err);
		abort();
	}
	return 0;
}

static void
check_wire(const struct buf *w, int reply_to, int cc)
{
	static const char *const want[] = {
		"Date", "From", "Reply-To", "To", "Cc", "Subject",
		"Message-ID", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", NULL
	};
	const char *p = w->data, *end = w->data + w->len, *eol;
	size_t k = 0, nl;
	int inhead = 1;

	CHECK(w->len >= 2 && memcmp(end - 2, "\r\n", 2) == 0);
	while (p < end) {
		eol = memchr(p, '\r', (size_t)(end - p));
		CHECK(eol && eol + 1 < end && eol[1] == '\n');
		CHECK(memchr(p, '\n', (size_t)(eol - p)) == NULL);
		CHECK(eol - p <= 998);
		if (inhead && eol == p)
			inhead = 0;
		else if (inhead) {
			for (const char *q = p; q < eol; q++)
				CHECK((unsigned char)*q < 0x80 && *q != '\0');
			if (*p != ' ' && *p != '\t') {
				while ((want[k] && strcmp(want[k], "Reply-To")
				    == 0 && !reply_to) || (want[k] &&
				    strcmp(want[k], "Cc") == 0 && !cc))
					k++;
				CHECK(want[k] != NULL);
				nl = strlen(want[k]);
				CHECK((size_t)(eol - p) > nl &&
				    memcmp(p, want[k], nl) == 0 && p[nl] == ':');
				k++;
			}
		}
		p = eol + 2;
	}
	CHECK(!inhead && want[k] == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f = { 0 };
	struct fvals v = { 0 };
	struct mail m;
	struct mail_facts facts = {
		.id = "Fz0123456789abcdefgh", .ip = "192.0.2.1",
		.page = "https://a.example/form", .now = 1790000000,
		.utc_offset_min = 540,
	};
	const struct site *s;
	const char *p, *end, *nul, *addrs;
	char err[256];
	size_t i;
	int ja;

	if (size < 1 || size > 20000)
		return 0;
	ja = data[0] & 1;
	s = config_site(cfg, ja ? "ja" : "en");
	f.fields = calloc(NNAMES, sizeof *f.fields);
	CHECK(f.fields != NULL);
	p = (const char *)data + 1;
	end = (const char *)data + size;
	for (i = 0; i < NNAMES && p <= end; i++) {
		nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL)
			nul = end;
		f.fields[i].name = strdup(names[i]);
		f.fields[i].name_len = strlen(names[i]);
		f.fields[i].value = fp_strndup(p, (size_t)(nul - p));
		f.fields[i].value_len = (size_t)(nul - p);
		CHECK(f.fields[i].name && f.fields[i].value);
		f.n++;
		p = nul + 1;
	}
	if (validate_form(s, &f, &v) == 0 && v.nerrors == 0) {
		CHECK(mail_compose(s, pg, &v, &facts, &m, err, sizeof err)
		    == 0);
		check_wire(&m.wire, v.reply_to != NULL, ja);
		if (ja) {
			CHECK(strcmp(m.sender, "bounces@shop.example.jp") == 0);
			CHECK(m.nrcpt == 3);
			CHECK(strcmp(m.rcpt[0], "info@shop.example.jp") == 0);
			CHECK(strcmp(m.rcpt[1], "staff@shop.example.jp") == 0);
			CHECK(strcmp(m.rcpt[2], "archive@shop.example.jp") == 0);
		} else {
			CHECK(strcmp(m.sender, "form@b.example") == 0);
			CHECK(m.nrcpt == 1 &&
			    strcmp(m.rcpt[0], "to@b.example") == 0);
		}
		/* The address headers are exactly the configured ones (a
		 * visitor may type any address into the subject or body). */
		addrs = ja ? "\r\nTo: info@shop.example.jp\r\n"
		    "Cc: staff@shop.example.jp\r\nSubject:" :
		    "\r\nTo: to@b.example\r\nSubject:";
		CHECK(memmem(m.wire.data, m.wire.len, addrs, strlen(addrs)));
		mail_free(&m);
	}
	fvals_free(&v);
	form_free(&f);
	return 0;
}
