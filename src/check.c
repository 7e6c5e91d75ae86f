/*
 * check — deliverability lints and environment checks for `formpost check`.
 * The lints encode why contact-form mail gets lost (README, first lines):
 * a From the SMTP account may not use, or at a domain whose DMARC policy
 * makes receivers drop it.
 */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Consumer mailbox providers (DMARC p=reject or quarantine, or mailboxes a
 * site does not own) and the Japanese mobile carriers. */
static const char *const consumer_domains[] = {
	"gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp",
	"ymail.com", "rocketmail.com", "outlook.com", "outlook.jp",
	"hotmail.com", "hotmail.co.jp", "live.com", "live.jp", "msn.com",
	"icloud.com", "me.com", "mac.com", "aol.com", "gmx.com", "gmx.net",
	"gmx.de", "web.de", "mail.com", "proton.me", "protonmail.com",
	"yandex.com", "yandex.ru", "mail.ru", "zoho.com", "qq.com",
	"163.com", "naver.com", "docomo.ne.jp", "ezweb.ne.jp", "au.com",
	"softbank.ne.jp", "i.softbank.jp", "disney.ne.jp", "ymobile.ne.jp",
	"y-mobile.ne.jp", "emnet.ne.jp", "rakuten.jp", "ybb.ne.jp",
};

int
check_domain_is_consumer(const char *domain)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(consumer_domains); i++)
		if (eq_ci(domain, strlen(domain), consumer_domains[i]))
			return 1;
	return 0;
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

static int
same_domain(const char *a, const char *b)
{
	return eq_ci(a, strlen(a), b);
}

/* Alert mail only through profiles the sites send through: the failure
 * that most needs an alert (that profile refusing us) cannot send it. */
static void
alerts_lint(const struct config *c, FILE *out)
{
	size_t i, j, k;

	if (c->nalert_smtp == 0 || c->alert_webhook != NULL)
		return;
	for (k = 0; k < c->nalert_smtp; k++) {
		int used = 0;
		for (i = 0; i < c->nsites && !used; i++)
			for (j = 0; j < c->sites[i].nsmtp; j++)
				used |= c->sites[i].smtp[j] == c->alert_smtp[k];
		if (!used)
			return;
	}
	fprintf(out, "%s: warning: alerts: smtp uses only profiles the sites "
	    "send through: when one of them refuses formpost, its alert "
	    "cannot go out either; add another profile or a webhook\n",
	    c->path);
}

/* A receipt goes to whatever address a post names: without a fill-time
 * token or a rate limit, a script can aim many at strangers
 * (doc/design.md "Auto-reply and carrier mail").  One warning each. */
static void
lint_auto_reply(const struct config *c, const struct site *s, FILE *out)
{
	if (!s->auto_reply)
		return;
	if (!s->token_required)
		fprintf(out, "%s:%u:%u: warning: site %s: auto_reply without "
		    "token: { required: true }: a script can post without "
		    "loading the form and have receipts sent to strangers\n",
		    c->path, s->ar_pos.line, s->ar_pos.col, s->name);
	if (s->rate_count == 0)
		fprintf(out, "%s:%u:%u: warning: site %s: auto_reply without "
		    "rate_limit: one client may post, and have receipts "
		    "sent, as fast as it likes\n", c->path, s->ar_pos.line,
		    s->ar_pos.col, s->name);
}

int
check_lint(const struct config *c, FILE *out)
{
	size_t i, j;
	int errors = 0;

	for (i = 0; i < c->nsites; i++) {
		const struct site *s = &c->sites[i];
		if (check_domain_is_consumer(s->from_domain)) {
			fprintf(out, "%s:%u:%u: error: site %s: from is at %s, "
			    "a mailbox provider's domain: receivers reject or "
			    "junk it (DMARC); use an address at the site's own "
			    "domain\n", c->path, s->from_pos.line,
			    s->from_pos.col, s->name, s->from_domain);
			errors++;
		}
		if (s->envelope_from && !same_domain(
		    domain_of(s->envelope_from), s->from_domain)) {
			fprintf(out, "%s:%u:%u: error: site %s: envelope_from "
			    "is at %s but from is at %s: SPF alignment fails; "
			    "use the same domain\n", c->path,
			    s->envelope_from_pos.line,
			    s->envelope_from_pos.col, s->name,
			    domain_of(s->envelope_from), s->from_domain);
			errors++;
		}
		for (j = 0; j < s->nsmtp; j++) {
			const struct smtp_profile *p = s->smtp[j];
			const char *ud;
			if (p->username == NULL || strchr(p->username, '@') ==
			    NULL)
				continue;
			ud = domain_of(p->username);
			if (!same_domain(ud, s->from_domain))
				fprintf(out, "%s:%u:%u: warning: site %s: smtp "
				    "profile %s logs in as a user at %s but "
				    "from is at %s: many providers refuse a "
				    "From the account does not own\n",
				    c->path, p->username_pos.line,
				    p->username_pos.col, s->name, p->name, ud,
				    s->from_domain);
		}
		lint_auto_reply(c, s, out);
	}
	alerts_lint(c, out);
	return errors;
}

static int
check_readable(FILE *out, const char *what, const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(out, "error: %s %s: %s\n", what, path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int
check_dir(FILE *out, const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(out, "error: %s %s: %s\n", what, path,
		    errno ? strerror(errno) : "not a directory");
		return 1;
	}
	if (access(path, R_OK | X_OK) == -1) {
		fprintf(out, "error: %s %s: %s\n", what, path, strerror(errno));
		return 1;
	}
	return 0;
}

static int
check_spool(FILE *out, const char *spool)
{
	char *probe = NULL, *parent, *slash;
	struct stat st;
	int fd, errors = 0;

	if (stat(spool, &st) == -1) {
		/* serve creates it: the parent must let us. */
		parent = strdup(spool);
		if (parent && (slash = strrchr(parent, '/')) != NULL) {
			*(slash == parent ? slash + 1 : slash) = '\0';
			if (access(parent, W_OK | X_OK) == -1) {
				fprintf(out, "error: spool %s does not exist "
				    "and %s is not writable: create the spool "
				    "owned by the service user\n", spool,
				    parent);
				errors++;
			}
		}
		free(parent);
		return errors;
	}
	/* Whoever else may write there may plant or replace messages. */
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		fprintf(out, "error: spool %s must be owned by the service "
		    "user and writable by it alone (mode %04o, uid %ld): "
		    "chown it and chmod 0700\n", spool,
		    (unsigned)(st.st_mode & 07777), (long)st.st_uid);
		errors++;
	}
	if (asprintf(&probe, "%s/.check.%ld", spool, (long)getpid()) == -1)
		return 1;
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || fsync(fd) == -1) {
		fprintf(out, "error: spool %s is not writable: %s\n", spool,
		    strerror(errno));
		errors++;
	}
	if (fd != -1) {
		close(fd);
		unlink(probe);
	}
	free(probe);
	return errors;
}

int
check_environment(struct config *c, FILE *out)
{
	static const char *langs[] = { "ja", "en" };
	char err[512], *p;
	size_t i, j;
	int errors = 0;

	if (config_load_secrets(c, err, sizeof err) == -1) {
		fprintf(out, "error: %s\n", err);
		errors++;
	}
	for (i = 0; i < c->nprofiles; i++)
		if (c->profiles[i].ca_file)
			errors += check_readable(out, "ca_file",
			    c->profiles[i].ca_file);
	for (j = 0; j < ARRAY_LEN(langs); j++) {
		if (asprintf(&p, "%s/%s", c->templates, langs[j]) == -1)
			return errors + 1;
		errors += check_dir(out, "templates", p);
		free(p);
	}
	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].templates)
			errors += check_dir(out, "site templates",
			    c->sites[i].templates);
	errors += check_spool(out, c->spool);
	return errors;
}
