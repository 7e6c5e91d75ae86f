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
#include "pages.h"
#include "priv.h"
#include "serve.h"
#include "smtp.h"
#include "testmail.h"

#define DEFAULT_CONFIG "/etc/formpost/formpost.yaml"

static const char usage[] =
"usage: formpost [serve] [-c FILE]        run the FastCGI worker\n"
"       formpost check [-c FILE]          validate config and environment\n"
"       formpost test-mail SITE [-c FILE] send a test mail now\n"
"       formpost queue list|flush|retry ID|drop ID|check [-c FILE]\n"
"       formpost --version | --help\n"
"\n"
"The config is FILE, else $FORMPOST_CONFIG, else " DEFAULT_CONFIG ".\n"
"\n"
"serve   listens where the config's listen: says, else on systemd's fd 3\n"
"        (LISTEN_FDS), else on fd 0 (spawn-fcgi).  Started as root it drops\n"
"        to user: after opening the socket and the spool.  SIGTERM/SIGINT\n"
"        finish requests in hand and exit 0; SIGHUP reloads the config.\n"
"check   like nginx -t: parses the config (errors as FILE:LINE:COLUMN),\n"
"        lints deliverability (From at a mailbox provider's domain,\n"
"        envelope_from at another domain, SMTP user at another domain),\n"
"        and opens templates, password files, ca_file and the spool as\n"
"        the service user.  Exit 0 when serve would start, else 1.\n"
"test-mail SITE\n"
"        composes a clearly marked test mail to SITE's recipients and sends\n"
"        it now through the site's smtp profiles in order (the spool is not\n"
"        used), printing the SMTP dialogue (AUTH data hidden) and the\n"
"        outcome.  Exit 0 sent, 1 temporary, 2 config (fix the setup:\n"
"        password, TLS, From not allowed...), 3 permanent (recipient\n"
"        refused).\n";

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
cmd_test_mail(const char *path, const char *site)
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
	rc = testmail_run(c, site, stdout);
	smtp_global_cleanup();
	config_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd = "serve", *cfg = NULL;
	char *args[8];
	int nargs = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("formpost %s\n", FORMPOST_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "-c") == 0) {
			if (++i == argc) {
				fprintf(stderr, "formpost: -c needs a FILE\n");
				return 2;
			}
			cfg = argv[i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "formpost: unknown option %s\n%s",
			    argv[i], usage);
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
	if (strcmp(cmd, "serve") == 0 && nargs <= 1)
		return serve_main(config_path(cfg));
	if (strcmp(cmd, "check") == 0 && nargs == 1)
		return cmd_check(config_path(cfg));
	if (strcmp(cmd, "test-mail") == 0 && nargs == 2)
		return cmd_test_mail(config_path(cfg), args[1]);
	fprintf(stderr, "formpost: unknown command or wrong arguments: %s\n%s",
	    cmd, usage);
	return 2;
}
