/*
 * testmail — the operator's "does my SMTP setup work?" button.  Uses the
 * same composition and SMTP code as real deliveries, so a pass means real
 * mail would pass; the dialogue it prints never contains AUTH data.
 */
#include "testmail.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "crypto.h"
#include "id.h"
#include "mail.h"
#include "pages.h"
#include "mime.h"
#include "smtp.h"
#include "util.h"

/* The dialogue as it goes, and the SIZE the server announced in its EHLO
 * reply (RFC 1870 §4: "250-SIZE 35882577"; 0 or absent: no fixed limit). */
struct trace {
	FILE *out;
	int has_size;
	unsigned long long size;
};

static void
print_line(void *arg, char dir, const char *line)
{
	struct trace *t = arg;
	char *end;

	fprintf(t->out, "  %c %s\n", dir == '>' ? 'C' : 'S', line);
	if (dir == '<' && strncmp(line, "250", 3) == 0 &&
	    (line[3] == '-' || line[3] == ' ') &&
	    strncasecmp(line + 4, "SIZE", 4) == 0 &&
	    (line[8] == ' ' || line[8] == '\0')) {
		t->has_size = 1;
		t->size = line[8] ? strtoull(line + 9, &end, 10) : 0;
	}
}

/* Says what the relay's SIZE means for the site's largest post: a
 * max_body of attachments grows by 4/3 in base64 (doc/design.md
 * "Attachments"). */
static void
size_report(FILE *out, const struct site *s, const struct trace *t)
{
	unsigned long long need = (unsigned long long)s->max_body / 3 * 4;

	if (!t->has_size) {
		fprintf(out, "server SIZE: not announced\n");
		return;
	}
	if (t->size == 0) {
		fprintf(out, "server SIZE: 0 (no fixed limit)\n");
		return;
	}
	fprintf(out, "server SIZE: %llu bytes\n", t->size);
	if (need > t->size)
		fprintf(out, "warning: site %s has max_body %zu bytes: a post "
		    "that large makes a message of about %llu bytes, over this "
		    "server's SIZE %llu; the server would refuse it "
		    "(permanently). Lower max_body or the file fields' max.\n",
		    s->name, s->max_body, need, t->size);
}

static int
compose(const struct site *s, const char *id, struct buf *wire, char *err,
    size_t errlen)
{
	struct mime_addr from = { s->from_name, s->from_name ?
	    strlen(s->from_name) : 0, s->from_addr };
	struct mime_addr *to = calloc(s->nto + 1, sizeof *to);
	struct mime_addr *cc = calloc(s->ncc + 1, sizeof *cc);
	struct mime_msg m;
	struct buf subject, body;
	char msgid[320];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;
	int rc = -1;

	buf_init(&subject);
	buf_init(&body);
	if (to == NULL || cc == NULL)
		goto out;
	for (i = 0; i < s->nto; i++)
		to[i].addr = s->to[i];
	for (i = 0; i < s->ncc; i++)
		cc[i].addr = s->cc[i];
	localtime_r(&now, &tm);
	buf_printf(&subject, "%s formpost test mail (%s)", s->lang == LANG_JA ?
	    "[テスト]" : "[TEST]", s->name);
	if (s->lang == LANG_JA)
		buf_printf(&body, "これは formpost のテストメールです（formpost "
		    "test-mail %s）。\n\nこのメールが届いていれば、サイト %s の"
		    "フォームからのメールは、この差出人とSMTP設定で届きます。\n"
		    "返信は不要です。\n\n受付番号: %s\n", s->name, s->name, id);
	else
		buf_printf(&body, "This is a formpost test mail (formpost "
		    "test-mail %s).\n\nIf it arrived, form mail for site %s "
		    "gets through with this From and SMTP setup.\nNo reply "
		    "is needed.\n\nReference: %s\n", s->name, s->name, id);
	snprintf(msgid, sizeof msgid, "%s@%s", id, s->from_domain);
	memset(&m, 0, sizeof m);
	m.from = from;
	m.to = to;
	m.nto = s->nto;
	m.cc = cc;
	m.ncc = s->ncc;
	m.subject = subject.data;
	m.subject_len = subject.len;
	m.date = now;
	m.utc_offset_min = (int)(tm.tm_gmtoff / 60);
	m.message_id = msgid;
	m.body = body.data;
	m.body_len = body.len;
	if (!subject.oom && !body.oom && mime_write(wire, &m) == 0)
		rc = mail_sign(s, now, wire, err, errlen);
out:
	free(to);
	free(cc);
	buf_free(&subject);
	buf_free(&body);
	return rc;
}

static const int status_of[] = { [OUT_SENT] = 0, [OUT_TEMP] = 1,
    [OUT_CONFIG] = 2, [OUT_PERM] = 3 };

/* Sends the receipt m through each profile until one takes it. */
static enum outcome
send_receipt(const struct site *s, struct mail *m, const char *id,
    FILE *out)
{
	struct smtp_profile *const *pl = s->nar_smtp ? s->ar_smtp : s->smtp;
	size_t j, np = s->nar_smtp ? s->nar_smtp : s->nsmtp;
	struct smtp_client *cl = smtp_client_new();
	enum outcome best = OUT_CONFIG;
	struct smtp_result res;
	struct smtp_rcpt r;
	struct trace tr;

	for (j = 0; cl && j < np; j++) {
		memset(&r, 0, sizeof r);
		r.addr = m->rcpt[0];
		fprintf(out, "profile %s (%s), from %s, receipt to %s, id %s\n",
		    pl[j]->name, pl[j]->url, m->sender, r.addr, id);
		memset(&tr, 0, sizeof tr);
		tr.out = out;
		smtp_send(cl, pl[j], m->sender, &r, 1, m->data,
		    m->len, &res, print_line, &tr);
		fprintf(out, "outcome: %s at %s: %s\n",
		    outcome_name(res.outcome), outcome_phase_name(res.phase),
		    res.reply);
		if (j == 0 || res.outcome < best)
			best = res.outcome;
		if (res.outcome == OUT_SENT || res.outcome == OUT_PERM)
			break;
	}
	smtp_client_free(cl);
	return best;
}

int
testmail_receipt(const struct config *c, const char *name, const char *addr,
    FILE *out)
{
	const struct site *s = config_site(c, name);
	struct fvals v = { 0 };
	struct mail_facts f = { 0 };
	struct pages *pg = NULL;
	struct mail m = { 0 };
	struct tm tm;
	char id[ID_BUF], err[1024] = "", empty[1] = "";
	int rc = 2;

	if (s == NULL || !s->auto_reply || !addr_spec_ok(addr, NULL)) {
		fprintf(out, "formpost: %s\n", s == NULL ? "no such site" :
		    !s->auto_reply ? "the site has no auto_reply" :
		    "not an address (local@example.com)");
		return 2;
	}
	/* every field empty: the sample shows no visitor text */
	v.v = calloc(s->nfields + 1, sizeof *v.v);
	v.n = s->nfields;
	for (size_t i = 0; v.v && i < v.n; i++)
		v.v[i].value = empty;
	v.reply_to = addr;
	f.id = id;
	f.ip = "192.0.2.1";
	f.now = time(NULL);
	localtime_r(&f.now, &tm);
	f.utc_offset_min = (int)(tm.tm_gmtoff / 60);
	if (v.v == NULL || id_new(id) == -1 ||
	    (pg = pages_load(c, err, sizeof err)) == NULL ||
	    mail_compose_receipt(s, pg, &v, &f, &m, err, sizeof err) == -1)
		fprintf(out, "formpost: cannot compose the receipt%s%s\n",
		    err[0] ? ": " : "", err);
	else
		rc = status_of[send_receipt(s, &m, id, out)];
	mail_free(&m);
	pages_free(pg);
	free(v.v);
	fflush(out);
	return rc;
}

int
testmail_run(const struct config *c, const char *name, FILE *out)
{
	const struct site *s = config_site(c, name);
	struct smtp_client *cl = NULL;
	struct smtp_rcpt *r = NULL;
	struct smtp_result res;
	struct buf wire;
	const char *sender;
	char id[ID_BUF], err[256] = "";
	struct trace tr;
	size_t i, j, n;
	enum outcome best = OUT_PERM;

	buf_init(&wire);
	if (s == NULL) {
		fprintf(out, "formpost: no site named %s in %s\n", name,
		    c->path);
		return 2;
	}
	n = s->nto + s->ncc + s->nbcc;
	if (id_new(id) == -1 || compose(s, id, &wire, err, sizeof err) ==
	    -1 || (r = calloc(n, sizeof *r)) == NULL ||
	    (cl = smtp_client_new()) == NULL) {
		fprintf(out, "formpost: cannot compose the test mail%s%s\n",
		    err[0] ? ": " : "", err);
		best = OUT_CONFIG;
		goto out;
	}
	sender = s->envelope_from ? s->envelope_from : s->from_addr;
	for (j = 0; j < s->nsmtp; j++) {
		const struct smtp_profile *p = s->smtp[j];
		n = 0;
		for (i = 0; i < s->nto; i++)
			r[n++].addr = s->to[i];
		for (i = 0; i < s->ncc; i++)
			r[n++].addr = s->cc[i];
		for (i = 0; i < s->nbcc; i++)
			r[n++].addr = s->bcc[i];
		fprintf(out, "profile %s (%s), from %s, %zu recipient%s, "
		    "id %s\n", p->name, p->url, sender, n, n == 1 ? "" : "s",
		    id);
		memset(&tr, 0, sizeof tr);
		tr.out = out;
		smtp_send(cl, p, sender, r, n, wire.data, wire.len, &res,
		    print_line, &tr);
		size_report(out, s, &tr);
		for (i = 0; i < n; i++)
			fprintf(out, "  recipient %s: %s (%s)\n", r[i].addr,
			    outcome_name(r[i].outcome), r[i].reply);
		fprintf(out, "outcome: %s at %s: %s\n",
		    outcome_name(res.outcome), outcome_phase_name(res.phase),
		    res.reply);
		if (res.outcome < best || j == 0)
			best = res.outcome;
		if (res.outcome == OUT_SENT)
			break;
		/* A permanent refusal is about the recipients, not the
		 * profile: another profile would get the same answer. */
		if (res.outcome == OUT_PERM)
			break;
	}
out:
	smtp_client_free(cl);
	free(r);
	buf_free(&wire);
	fflush(out);
	return status_of[best];
}
