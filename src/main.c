/*
 * main — the command line: `formpost [serve] | check | test-mail SITE |
 * queue ...`, each with [-c FILE].  Parses arguments, loads the config and
 * hands over to the module that does the work.  The only place that exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "crypto.h"
#include "id.h"
#include "doctor.h"
#include "formgen.h"
#include "help.h"
#include "pages.h"
#include "priv.h"
#include "queuecmd.h"
#include "serve.h"
#include "smtp.h"
#include "spool.h"
#include "testmail.h"

#define DEFAULT_CONFIG "/etc/formpost/formpost.yaml"

static const char *
config_path(const char *given)
{
	const char *env;

	if (given)
		return given;
	if ((env = getenv("FORMPOST_CONFIG")) != NULL && *env)
		return env;
	return DEFAULT_CONFIG;
}

static int
cmd_check(const char *path)
{
	struct config *c;
	char err[1024];
	int errors;

	if ((c = config_load(path, err, sizeof err)) == NULL) {
		printf("%s\n", err);
		printf("%s: configuration is invalid\n", path);
		return 1;
	}
	errors = check_lint(c, stdout);
	fflush(stdout);
	if (priv_drop(c->user, err, sizeof err) == -1) {
		printf("error: %s\n", err);
		errors++;
	} else {
		errors += check_environment(c, stdout);
		/* Compile every template as serve would: unknown variables and
		 * unsafe contexts are start-up errors, so they are check errors. */
		struct pages *pg = pages_load(c, err, sizeof err);
		if (pg == NULL) {
			printf("error: %s\n", err);
			errors++;
		}
		pages_free(pg);
	}
	if (errors)
		printf("%s: %d error%s\n", path, errors, errors == 1 ? "" : "s");
	else
		printf("%s: ok (%zu site%s, %zu smtp profile%s)\n", path,
		    c->nsites, c->nsites == 1 ? "" : "s", c->nprofiles,
		    c->nprofiles == 1 ? "" : "s");
	config_free(c);
	return errors ? 1 : 0;
}

static int
cmd_test_mail(const char *path, const char *site, const char *receipt)
{
	struct config *c;
	char err[1024];
	int rc;

	if ((c = config_load(path, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (priv_drop(c->user, err, sizeof err) == -1 ||
	    config_load_secrets(c, err, sizeof err) == -1 ||
	    smtp_global_init(err, sizeof err) == -1) {
		fprintf(stderr, "formpost: %s\n", err);
		config_free(c);
		return 2;
	}
	rc = receipt ? testmail_receipt(c, site, receipt, stdout) :
	    testmail_run(c, site, stdout);
	smtp_global_cleanup();
	config_free(c);
	return rc;
}

/* doctor [SITE]: as user: (it reads the DKIM keys).  Exit 0/1/2. */
static int
cmd_doctor(const char *path, const char *site, const char *lang)
{
	struct config *c;
	char err[1024];
	int rc;

	if ((c = config_load(path, err, sizeof err)) == NULL) {
		printf("%s\n", err);
		return DOCTOR_ERROR;
	}
	if (priv_drop(c->user, err, sizeof err) == -1 ||
	    config_load_keys(c, err, sizeof err) == -1) {
		printf("formpost: %s\n", err);
		config_free(c);
		return DOCTOR_ERROR;
	}
	rc = doctor_run(c, site, lang, stdout);
	config_free(c);
	return rc;
}

/* form SITE: reads only the config; prints the form or why not. */
static int
cmd_form(const char *path, const char *site, const char *lang, int fetch,
    const char *action)
{
	struct config *c;
	char err[1024];
	int rc;

	if ((c = config_load(path, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = formgen_run(c, site, lang, fetch, action, stdout, stderr);
	config_free(c);
	return rc;
}

/* queue SUB [ID]: as user:, over the config's spool.  Exit statuses as
 * `formpost help queue` says; a setup failure is 1 (3 for check). */
static int
cmd_queue(const char *path, char **args, int json,
    unsigned older_than)
{
	const char *sub = args[1];
	struct config *c = NULL;
	struct spool *sp = NULL;
	char err[1024];
	int rc, fail = strcmp(sub, "check") == 0 ? QCHECK_UNKNOWN : 1;

	if ((c = config_load(path, err, sizeof err)) == NULL) {
		printf("%s%s\n", fail == QCHECK_UNKNOWN ? "UNKNOWN: " : "",
		    err);
		return fail;
	}
	if (priv_drop(c->user, err, sizeof err) == -1 ||
	    (sp = spool_open(c->spool, err, sizeof err)) == NULL) {
		printf("%sformpost queue: %s\n", fail == QCHECK_UNKNOWN ?
		    "UNKNOWN: " : "", err);
		config_free(c);
		return fail;
	}
	if (strcmp(sub, "list") == 0)
		rc = queuecmd_list(sp, json, stdout);
	else if (strcmp(sub, "flush") == 0)
		rc = queuecmd_flush(sp, stdout);
	else if (strcmp(sub, "retry") == 0)
		rc = queuecmd_retry(sp, args[2], stdout);
	else if (strcmp(sub, "drop") == 0)
		rc = queuecmd_drop(sp, args[2], stdout);
	else if (strcmp(sub, "show") == 0)
		rc = queuecmd_show(sp, args[2], json, stdout);
	else if (strcmp(sub, "purge") == 0)
		rc = queuecmd_purge(sp, c, stdout);
	else
		rc = queuecmd_check(sp, older_than, stdout);
	spool_close(sp);
	config_free(c);
	return rc;
}

/* 1 when args name a queue command with the right number of words. */
static int
queue_args_ok(char **args, int nargs)
{
	const char *sub = nargs > 1 ? args[1] : "";

	if (strcmp(sub, "list") == 0 || strcmp(sub, "flush") == 0 ||
	    strcmp(sub, "check") == 0 || strcmp(sub, "purge") == 0)
		return nargs == 2;
	if (strcmp(sub, "retry") == 0 || strcmp(sub, "drop") == 0 ||
	    strcmp(sub, "show") == 0)
		return nargs == 3;
	return 0;
}

static int
usage_error(const char *what, const char *cmd)
{
	const char *page = help_text(cmd);

	fprintf(stderr, "formpost: %s\n%s", what, page ? page :
	    help_text(NULL));
	return 2;
}

int
main(int argc, char **argv)
{
	const char *cmd = "serve", *cfg = NULL, *lang = NULL, *action = NULL;
	const char *receipt = NULL;   /* test-mail --auto-reply ADDRESS */
	char *args[8], idbuf[SPOOL_ID_MAX + 1];
	int nargs = 0, i, help = 0, json = 0, fetch = 0;
	unsigned older_than = 3600;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("formpost %s\n", FORMPOST_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			help = 1;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--fetch") == 0)
			fetch = 1;
		else if (strcmp(argv[i], "--lang") == 0) {
			if (++i == argc || (strcmp(argv[i], "ja") != 0 &&
			    strcmp(argv[i], "en") != 0))
				return usage_error("--lang needs ja or en",
				    NULL);
			lang = argv[i];
		} else if (strcmp(argv[i], "--auto-reply") == 0) {
			if (++i == argc)
				return usage_error("--auto-reply needs an "
				    "ADDRESS", "test-mail");
			receipt = argv[i];
		} else if (strcmp(argv[i], "--action") == 0) {
			if (++i == argc)
				return usage_error("--action needs a URL",
				    "form");
			action = argv[i];
		} else if (strcmp(argv[i], "--older-than") == 0) {
			if (++i == argc || config_parse_duration(argv[i],
			    &older_than) == -1)
				return usage_error("--older-than needs a "
				    "duration such as 30m, 1h or 2d", "queue");
		} else if (strcmp(argv[i], "-c") == 0) {
			if (++i == argc)
				return usage_error("-c needs a FILE", NULL);
			cfg = argv[i];
		} else if (strcmp(argv[i], "--") == 0) {
			/* Only words follow (an id may start with '-'). */
			for (i++; i < argc && nargs < (int)(sizeof args /
			    sizeof args[0]); i++)
				args[nargs++] = argv[i];
			if (i < argc) {
				fprintf(stderr, "formpost: too many "
				    "arguments\n");
				return 2;
			}
		} else if (argv[i][0] == '-' && !(nargs == 2 &&
		    strcmp(args[0], "queue") == 0 && spool_id_from_user(argv[i], idbuf)
		    == 0)) {
			/* 0.1.0's ids are URL-safe base64: "-x…" in the ID
			 * slot of queue retry/drop is an id, not an option. */
			fprintf(stderr, "formpost: unknown option %s\n%s",
			    argv[i], help_text(NULL));
			return 2;
		} else if (nargs < (int)(sizeof args / sizeof args[0]))
			args[nargs++] = argv[i];
		else {
			fprintf(stderr, "formpost: too many arguments\n");
			return 2;
		}
	}
	if (nargs > 0)
		cmd = args[0];
	if (strcmp(cmd, "help") == 0 || help) {
		const char *page = help_text(strcmp(cmd, "help") == 0 ?
		    (nargs > 1 ? args[1] : NULL) : nargs > 0 ? cmd : NULL);
		if (page == NULL)
			return usage_error("no such command", NULL);
		fputs(page, stdout);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0 && nargs <= 1)
		return serve_main(config_path(cfg));
	if (strcmp(cmd, "check") == 0 && nargs == 1)
		return cmd_check(config_path(cfg));
	if (strcmp(cmd, "test-mail") == 0 && nargs == 2)
		return cmd_test_mail(config_path(cfg), args[1], receipt);
	if (strcmp(cmd, "doctor") == 0 && nargs <= 2)
		return cmd_doctor(config_path(cfg), nargs == 2 ? args[1] : NULL,
		    lang);
	if (strcmp(cmd, "form") == 0 && nargs == 2)
		return cmd_form(config_path(cfg), args[1], lang, fetch, action);
	if (strcmp(cmd, "queue") == 0 && queue_args_ok(args, nargs))
		return cmd_queue(config_path(cfg), args, json,
		    older_than);
	fprintf(stderr, "formpost: unknown command or wrong arguments: %s\n",
	    cmd);
	fputs(help_text(help_text(cmd) ? cmd : NULL), stderr);
	return 2;
}
