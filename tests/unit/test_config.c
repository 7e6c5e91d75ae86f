/* Unit tests for the config loader: a valid base, then one bad case per
 * rule, each asserting the exact FILE:LINE:COLUMN message prefix. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "sniff.h"

#define BASE_SMTP \
	"smtp:\n" \
	"  main:\n" \
	"    url: smtp://smtp.example.com:587\n" \
	"    username: noreply@example.com\n" \
	"    password_file: /etc/formpost/smtp.pass\n"
#define BASE_SITE \
	"sites:\n" \
	"  example:\n" \
	"    origins: [https://www.example.com]\n" \
	"    from: \"Example Web <noreply@example.com>\"\n" \
	"    to: [info@example.com]\n" \
	"    fields:\n" \
	"      name: { label: お名前, required: true, max: 100 }\n" \
	"      email: { label: メール, type: email, reply_to: true }\n"

/* BASE_SITE without its fields, for file fields (on line 12) */
#define FILE_SITE \
	"sites:\n" \
	"  example:\n" \
	"    origins: [https://www.example.com]\n" \
	"    from: \"Example Web <noreply@example.com>\"\n" \
	"    to: [info@example.com]\n" \
	"    fields:\n"

static struct config *
parse(const char *yaml, char *err, size_t errlen)
{
	return config_parse("t.yaml", "/etc/formpost", yaml, strlen(yaml),
	    err, errlen);
}

static void
test_valid_base(void **state)
{
	char err[512] = "";
	struct config *c = parse(BASE_SMTP BASE_SITE, err, sizeof err);
	const struct site *s;

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->nsites, 1);
	s = config_site(c, "example");
	assert_non_null(s);
	assert_string_equal(s->from_addr, "noreply@example.com");
	assert_string_equal(s->from_name, "Example Web");
	assert_string_equal(s->from_domain, "example.com");
	assert_int_equal(s->nfields, 2);
	assert_string_equal(s->fields[0].label, "お名前");
	assert_int_equal(s->fields[1].type, FT_EMAIL);
	assert_int_equal(s->nsmtp, 1);
	assert_string_equal(s->smtp[0]->host, "smtp.example.com");
	assert_string_equal(c->profiles[0].password_file,
	    "/etc/formpost/smtp.pass");
	assert_int_equal(c->max_body, 64 * 1024);
	assert_int_equal(c->read_timeout, 10);
	assert_int_equal(c->profiles[0].connections, 2);
	assert_int_equal(c->first_retry, 30);
	assert_string_equal(c->spool, "/var/spool/formpost");
	config_free(c);
}

static void
test_example_file(void **state)
{
	char err[512] = "";
	struct config *c;
	const struct site *s;

	(void)state;
	c = config_load("conf/formpost.example.yaml", err, sizeof err);
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->nprofiles, 2);
	assert_int_equal(c->listen, LISTEN_UNIX);
	assert_string_equal(c->listen_path, "/run/formpost/formpost.sock");
	assert_int_equal(c->nfastcgi_allow, 2);
	s = config_site(c, "example");
	assert_non_null(s);
	assert_int_equal(s->nsmtp, 2);
	assert_string_equal(s->smtp[1]->name, "backup");
	assert_int_equal(s->smtp[1]->implicit_tls, 1);
	assert_int_equal(s->rate_count, 5);
	assert_int_equal(s->rate_window, 600);
	assert_int_equal(s->max_links, 3);
	assert_int_equal(s->token_min_age, 3);
	assert_int_equal(s->token_max_age, 7200);
	assert_int_equal(s->lang, LANG_JA);
	assert_int_equal(s->fields[4].type, FT_SELECT);
	assert_int_equal(s->fields[4].noptions, 3);
	assert_int_equal(c->max_age, 5 * 86400);
	assert_int_equal(check_lint(c, stderr), 0);
	config_free(c);
}

struct bad {
	const char *yaml;
	const char *want;     /* expected prefix of the error */
};

static const struct bad bad_cases[] = {
	/* unknown key, top level and nested */
	{ "lisen: unix:/x\n" BASE_SMTP BASE_SITE, "t.yaml:1:1: unknown key 'lisen'" },
	{ BASE_SMTP BASE_SITE "    colour: red\n", "t.yaml:14:5: unknown key 'colour' in a site" },
	/* site names that are other routes */
	{ BASE_SMTP "sites:\n  token:\n    origins: [https://www.example.com]\n", "t.yaml:7:3: site name 'token' is reserved" },
	{ BASE_SMTP "sites:\n  _metrics:\n    origins: [https://www.example.com]\n", "t.yaml:7:3: site name '_metrics' is reserved" },
	{ BASE_SMTP "sites:\n  _x:\n    origins: [https://www.example.com]\n", "t.yaml:7:3: site name '_x' is reserved" },
	/* duplicate key */
	{ "workers: 2\nworkers: 3\n" BASE_SMTP BASE_SITE, "t.yaml:2:1: duplicate key 'workers' (first at line 1)" },
	/* anchors and aliases */
	{ "workers: &w 2\n" BASE_SMTP BASE_SITE, "t.yaml:1:10: YAML anchors (&w) are not allowed" },
	{ BASE_SMTP BASE_SITE "      x: *w\n", "t.yaml:14:10: YAML aliases (*w) are not allowed" },
	/* tags */
	{ "workers: !!int 2\n" BASE_SMTP BASE_SITE, "t.yaml:1:10: YAML tags" },
	/* wrong types */
	{ "workers: many\n" BASE_SMTP BASE_SITE, "t.yaml:1:10: workers must be a whole number" },
	{ "workers: [1]\n" BASE_SMTP BASE_SITE, "t.yaml:1:10: workers must be a whole number" },
	{ "workers: 0\n" BASE_SMTP BASE_SITE, "t.yaml:1:10: workers must be between 1 and 256" },
	{ "limits: 5\n" BASE_SMTP BASE_SITE, "t.yaml:1:9: limits must be a mapping, not a value" },
	/* sizes and durations */
	{ "limits: { max_body: 64q }\n" BASE_SMTP BASE_SITE, "t.yaml:1:21: max_body must be a size" },
	{ "limits: { max_body: 10 }\n" BASE_SMTP BASE_SITE, "t.yaml:1:21: max_body must be between 1024" },
	/* connections per SMTP profile: 1 to 16 */
	{ BASE_SMTP "    connections: 0\n" BASE_SITE, "t.yaml:6:18: connections must be between 1 and 16" },
	{ BASE_SMTP "    connections: 17\n" BASE_SITE, "t.yaml:6:18: connections must be between 1 and 16" },
	{ BASE_SMTP "    connections: two\n" BASE_SITE, "t.yaml:6:18: connections must be a whole number" },
	{ "limits: { read_timeout: 0s }\n" BASE_SMTP BASE_SITE, "t.yaml:1:25: read_timeout must be between 1s and 600s" },
	{ "limits: { read_timeout: 11m }\n" BASE_SMTP BASE_SITE, "t.yaml:1:25: read_timeout must be between 1s and 600s" },
	{ "limits: { read_timeout: 5 secs }\n" BASE_SMTP BASE_SITE, "t.yaml:1:25: read_timeout must be a duration" },
	{ "delivery: { first_retry: 30 seconds }\n" BASE_SMTP BASE_SITE, "t.yaml:1:26: first_retry must be a duration" },
	{ "delivery: { first_retry: 1h, max_retry: 1m }\n" BASE_SMTP BASE_SITE, "t.yaml:1:11: delivery: max_retry must be at least first_retry" },
	/* depth */
	{ "limits: { max_body: { a: { b: { c: { d: { e: 1 } } } } } }\n" BASE_SMTP BASE_SITE, "t.yaml:1:41: nested deeper than the schema allows" },
	/* NUL in a value */
	{ "spool: \"/var/sp\\0ol\"\n" BASE_SMTP BASE_SITE, "t.yaml:1:8: NUL byte in value" },
	/* inline password */
	{ "smtp:\n  main:\n    url: smtp://smtp.example.com:587\n    username: u@example.com\n    password: hunter2\n" BASE_SITE,
	  "t.yaml:5:5: inline passwords are not allowed: use password_file" },
	/* bad addresses */
	{ BASE_SMTP "sites:\n  example:\n    origins: [https://www.example.com]\n    from: \"X <noreply@@example.com>\"\n    to: [info@example.com]\n    fields: { name: {} }\n",
	  "t.yaml:9:11: from must be" },
	{ BASE_SMTP "sites:\n  example:\n    origins: [https://www.example.com]\n    from: noreply@example.com\n    to: [\"info@exa mple.com\"]\n    fields: { name: {} }\n",
	  "t.yaml:10:10: to: 'info@exa mple.com' is not an address" },
	{ BASE_SMTP "sites:\n  example:\n    origins: [www.example.com]\n    from: noreply@example.com\n    to: [info@example.com]\n    fields: { name: {} }\n",
	  "t.yaml:8:15: origins: 'www.example.com' is not an origin" },
	/* smtp rules */
	{ "smtp:\n  main:\n    url: smtp://smtp.example.com:587\n    starttls: off\n    username: u@example.com\n    password_env: P\n" BASE_SITE,
	  "t.yaml:4:15: starttls: off is allowed only for a loopback relay" },
	{ BASE_SMTP "    password_credential: smtp-main\n" BASE_SITE,
	  "t.yaml:2:3: smtp.main: give one of password_file, password_env and password_credential" },
	{ "smtp:\n  main:\n    url: smtp://smtp.example.com:587\n    username: u@example.com\n    password_credential: ../smtp.pass\n" BASE_SITE,
	  "t.yaml:5:26: password_credential must be a credential name" },
	{ "smtp:\n  main:\n    url: smtp://smtp.example.com:587\n    username: u@example.com\n" BASE_SITE,
	  "t.yaml:2:3: smtp.main has a username but no password_file, password_credential or password_env" },
	{ "smtp:\n  main:\n    url: http://smtp.example.com\n" BASE_SITE, "t.yaml:3:10: url must start with smtp://" },
	{ "smtp:\n  main:\n    url: smtp://smtp.example.com:587\n" BASE_SITE, "t.yaml:2:3: smtp.main needs a username" },
	{ BASE_SMTP "sites:\n  example:\n    origins: [https://www.example.com]\n    from: noreply@example.com\n    to: [info@example.com]\n    smtp: [nope]\n    fields: { name: {} }\n",
	  "t.yaml:11:12: no smtp profile named 'nope'" },
	/* fields */
	{ BASE_SMTP BASE_SITE "      kind: { type: colour }\n", "t.yaml:14:21: unknown field type 'colour'" },
	{ BASE_SMTP BASE_SITE "      kind: { type: select }\n", "t.yaml:14:7: field kind: select and radio need options" },
	{ BASE_SMTP BASE_SITE "      kind: { pattern: \"a(\" }\n", "t.yaml:14:24: pattern is not a POSIX" },
	{ BASE_SMTP BASE_SITE "      kind: { min: 5, max: 2 }\n", "t.yaml:14:20: min is larger than max" },
	{ BASE_SMTP BASE_SITE "      kind: { confirm: mail }\n", "t.yaml:14:24: confirm: no field named 'mail'" },
	{ BASE_SMTP BASE_SITE "      _id: {}\n", "t.yaml:14:7: field name '_id'" },
	{ BASE_SMTP BASE_SITE "    rate_limit: 5 per minute\n", "t.yaml:14:17: rate_limit must be COUNT/DURATION" },
	{ BASE_SMTP BASE_SITE "    honeypot: name\n", "t.yaml:14:15: honeypot 'name' is also a real field" },
	{ BASE_SMTP BASE_SITE "    lang: fr\n", "t.yaml:14:11: lang must be ja or en" },
	{ BASE_SMTP BASE_SITE "    token: { required: true, min_age: 2h, max_age: 1h }\n", "t.yaml:14:12: token: min_age must be below max_age" },
	{ BASE_SMTP BASE_SITE "    redirect: javascript:alert(1)\n", "t.yaml:14:15: redirect must be an absolute http(s) URL" },
	/* listen */
	{ "listen: 0.0.0.0:9000\n" BASE_SMTP BASE_SITE, "t.yaml:1:9: listen on a non-loopback address needs fastcgi_allow" },
	{ "listen: \"unix:\"\n" BASE_SMTP BASE_SITE, "t.yaml:1:9: listen: unix: needs a path" },
	/* structure */
	{ "- a\n- b\n", "t.yaml:1:1: the file must be one mapping" },
	{ "", "t.yaml:1:1: the file is empty" },
	{ "a: [\n", "t.yaml:2:1: " },
	{ "workers: 2\n---\nworkers: 3\n", "t.yaml:2:1: only one YAML document" },
	{ BASE_SMTP, "t.yaml:1:1: no sites: configured" },
	/* attachments */
	{ BASE_SMTP FILE_SITE "      cv: { type: file, accept: [pdf, exe] }\n",
	  "t.yaml:12:39: accept: 'exe' is not in the accept table" },
	{ BASE_SMTP FILE_SITE "      cv: { type: file }\n",
	  "t.yaml:12:7: field cv: type: file needs accept" },
	{ BASE_SMTP FILE_SITE "      cv: { type: file, accept: [pdf], max: 9M }\n",
	  "t.yaml:12:7: field cv: max (9437184 bytes) is larger than the site's max_body" },
	{ BASE_SMTP FILE_SITE "      cv: { type: file, accept: [pdf], max: lots }\n",
	  "t.yaml:12:45: max must be a size" },
	{ BASE_SMTP FILE_SITE "      cv: { type: file, accept: [pdf], pattern: x }\n",
	  "t.yaml:12:49: pattern is not for type: file" },
	{ BASE_SMTP FILE_SITE "      cv: { accept: [pdf] }\n",
	  "t.yaml:12:21: accept is only for type: file" },
	{ "limits: { spool_max_held: 0 }\n" BASE_SMTP BASE_SITE,
	  "t.yaml:1:27: spool_max_held must be between 1 and 1000000" },
	{ "limits: { spool_max_held_bytes: 0 }\n" BASE_SMTP BASE_SITE,
	  "t.yaml:1:33: spool_max_held_bytes must be between 1" },
	{ BASE_SMTP BASE_SITE "    max_body: 33M\n",
	  "t.yaml:14:15: max_body must be between 1024 and 33554432 bytes" },
	/* operations */
	{ BASE_SMTP BASE_SITE "metrics: { allow: [localhost] }\n", "t.yaml:14:20: allow: 'localhost' is not a numeric IP address" },
	{ BASE_SMTP BASE_SITE "metrics: { allow: 127.0.0.1 }\n", "t.yaml:14:19: allow must be a list" },
	{ BASE_SMTP BASE_SITE "alerts: { webhook: \"http://hooks.example.com/x\" }\n", "t.yaml:14:20: alerts: webhook may use http:// only to a loopback host" },
	{ BASE_SMTP BASE_SITE "alerts: { webhook: \"https://u:p@hooks.example.com/x\" }\n", "t.yaml:14:20: alerts: webhook must not carry a user name or password" },
	{ BASE_SMTP BASE_SITE "alerts: { webhook: \"https://hooks.example.com/a b\" }\n", "t.yaml:14:20: alerts: webhook must not hold spaces" },
	{ BASE_SMTP BASE_SITE "alerts: { to: [ops@example.com] }\n", "t.yaml:14:9: alerts: mail needs both to:" },
	{ BASE_SMTP BASE_SITE "alerts: { smtp: [nosuch], to: [ops@example.com] }\n", "t.yaml:14:18: alerts: no smtp profile named 'nosuch'" },
	{ BASE_SMTP BASE_SITE "alerts: {}\n", "t.yaml:14:9: alerts: give to: and smtp:, or webhook:" },
	{ BASE_SMTP BASE_SITE "alerts: { webhook: \"https://h.example/\", min_interval: 0s }\n", "t.yaml:14:56: min_interval must be between 1s" },
	{ BASE_SMTP BASE_SITE "retention: { failed: forever }\n", "t.yaml:14:22: failed must be a duration" },
	{ BASE_SMTP BASE_SITE "retention: { archive: 99999 }\n", "t.yaml:14:23: archive must be at most 3650 days" },
	{ BASE_SMTP BASE_SITE "retention: { kept: 1d }\n", "t.yaml:14:14: unknown key 'kept' in retention" },
	{ BASE_SMTP BASE_SITE "log_ip: partial\n", "t.yaml:14:9: log_ip must be full | masked | none" },
	{ BASE_SMTP BASE_SITE "log_level: verbose\n", "t.yaml:14:12: log_level must be debug | info | warn | error" },
};

/* A file field: accept as kinds, max as bytes (k/M), the site's own
 * max_body; without max the field takes the site's max_body. */
static void
test_file_fields(void **state)
{
	char err[512];
	struct config *c = parse(BASE_SMTP BASE_SITE
	    "      cv: { type: file, accept: [pdf, JPG, jpeg], max: 5M }\n"
	    "      any: { type: file, accept: [zip] }\n"
	    "    max_body: 32M\n", err, sizeof err);
	const struct field *f;

	(void)state;
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->sites[0].max_body, 32 * 1024 * 1024);
	assert_int_equal(c->sites[0].has_files, 1);
	f = &c->sites[0].fields[2];
	assert_int_equal(f->type, FT_FILE);
	assert_int_equal(f->file_max, 5 * 1024 * 1024);
	assert_int_equal(f->accept, (1u << SK_PDF) | (1u << SK_JPEG));
	assert_int_equal(c->sites[0].fields[3].file_max, 32 * 1024 * 1024);
	assert_int_equal(c->max_body, 64 * 1024);
	config_free(c);
}

static void
test_ops_keys(void **state)
{
	char err[512] = "";
	struct config *c;

	(void)state;
	c = parse(BASE_SMTP BASE_SITE, err, sizeof err);
	assert_non_null(c);
	/* Defaults: no /_metrics, no alerts, failed/ kept 30 days. */
	assert_int_equal(c->nmetrics_allow, 0);
	assert_null(c->alert_webhook);
	assert_int_equal(c->nalert_smtp, 0);
	assert_int_equal(c->retention_failed, 30 * 86400);
	assert_int_equal(c->retention_archive, 0);
	assert_int_equal(c->log_ip, LOG_IP_FULL);
	assert_int_equal(c->log_level, LOG_INFO);
	config_free(c);
	c = parse(BASE_SMTP BASE_SITE
	    "metrics: { allow: [\"127.0.0.1\", \"::1\"] }\n"
	    "alerts:\n  to: [ops@example.com]\n  smtp: [main]\n"
	    "  webhook: http://[::1]:8080/hook\n  min_interval: 10m\n"
	    "retention: { failed: 7d, archive: 3 }\n"
	    "log_ip: masked\nlog_level: debug\n", err, sizeof err);
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->nmetrics_allow, 2);
	assert_true(config_metrics_allowed(c, "0:0:0::1"));
	assert_true(config_metrics_allowed(c, "127.0.0.1"));
	assert_false(config_metrics_allowed(c, "127.0.0.2"));
	assert_false(config_metrics_allowed(c, "::ffff:127.0.0.1"));
	assert_false(config_metrics_allowed(c, NULL));
	assert_int_equal(c->nalert_to, 1);
	assert_string_equal(c->alert_smtp[0]->name, "main");
	assert_string_equal(c->alert_webhook, "http://[::1]:8080/hook");
	assert_int_equal(c->alert_min_interval, 600);
	assert_int_equal(c->retention_failed, 7 * 86400);
	assert_int_equal(c->retention_archive, 3 * 86400);
	assert_int_equal(c->log_ip, LOG_IP_MASKED);
	assert_int_equal(c->log_level, LOG_DEBUG);
	config_free(c);
	c = parse(BASE_SMTP BASE_SITE "retention: { failed: 0, archive: 12h }\n",
	    err, sizeof err);
	assert_non_null(c);
	assert_int_equal(c->retention_failed, 0);
	assert_int_equal(c->retention_archive, 12 * 3600);
	config_free(c);
}

static void
test_bad_cases(void **state)
{
	char err[512];
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct config *c;
		err[0] = '\0';
		c = parse(bad_cases[i].yaml, err, sizeof err);
		if (c != NULL) {
			config_free(c);
			print_error("case %zu accepted, want: %s\n", i,
			    bad_cases[i].want);
			bad++;
		} else if (strncmp(err, bad_cases[i].want,
		    strlen(bad_cases[i].want))) {
			print_error("case %zu:\n got: %s\nwant: %s\n", i, err,
			    bad_cases[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define CRED_SMTP \
	"smtp:\n" \
	"  main:\n" \
	"    url: smtp://smtp.example.com:587\n" \
	"    username: noreply@example.com\n" \
	"    password_credential: smtp.pass\n"

/* Writes secret to dir/name with mode, then loads the secrets of a config
 * whose profile reads credential smtp.pass; returns config_load_secrets's
 * result with *pw the password read (or NULL). */
static int
load_credential(const char *dir, const char *name, mode_t mode,
    const char *secret, char *err, size_t errlen, char **pw)
{
	struct config *c = parse(CRED_SMTP BASE_SITE, err, errlen);
	char path[512];
	FILE *f;
	int rc;

	assert_non_null(c);
	assert_string_equal(c->profiles[0].password_credential, "smtp.pass");
	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(secret, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	rc = config_load_secrets(c, err, errlen);
	*pw = c->profiles[0].password ? strdup(c->profiles[0].password) : NULL;
	unlink(path);
	config_free(c);
	return rc;
}

/* password_credential reads $CREDENTIALS_DIRECTORY/NAME (systemd's
 * LoadCredential=) under password_file's rules, and without systemd says
 * how to provide it. */
static void
test_password_credential(void **state)
{
	char dir[] = "/tmp/fp-cred-XXXXXX", err[512] = "", *pw = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(load_credential(dir, "smtp.pass", 0400, "s3cret\n",
	    err, sizeof err, &pw), -1);
	assert_null(pw);
	assert_non_null(strstr(err, "smtp.main: password_credential smtp.pass "
	    "needs $CREDENTIALS_DIRECTORY"));
	assert_non_null(strstr(err, "LoadCredential=smtp.pass:FILE"));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(load_credential(dir, "smtp.pass", 0400, "s3cret\n",
	    err, sizeof err, &pw), 0);
	assert_string_equal(pw, "s3cret");
	free(pw);
	assert_int_equal(load_credential(dir, "smtp.pass", 0604, "s3cret\n",
	    err, sizeof err, &pw), -1);
	assert_non_null(strstr(err, "password_credential"));
	assert_non_null(strstr(err, "is accessible by others"));
	assert_null(strstr(err, "s3cret"));
	free(pw);
	assert_int_equal(load_credential(dir, "other", 0400, "s3cret\n",
	    err, sizeof err, &pw), -1);
	assert_non_null(strstr(err, "cannot read password_credential"));
	free(pw);
	assert_int_equal(load_credential(dir, "smtp.pass", 0400, "\n", err,
	    sizeof err, &pw), -1);
	assert_non_null(strstr(err, "the password in smtp.pass is empty"));
	free(pw);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(rmdir(dir), 0);
}

static void
test_utf16_bom(void **state)
{
	static const char bom[] = "\xff\xfew\0o\0r\0k\0e\0r\0s\0:\0 \0\x32\0\n\0";
	char err[512] = "";
	struct config *c;

	(void)state;
	c = config_parse("t.yaml", NULL, bom, sizeof bom - 1, err, sizeof err);
	assert_null(c);
	assert_non_null(strstr(err, "UTF-8"));
}

static void
test_sizes_durations(void **state)
{
	unsigned long long v;
	unsigned d;

	(void)state;
	assert_int_equal(config_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(config_parse_size("2M", &v), 0);
	assert_int_equal(v, 2 * 1024 * 1024);
	assert_int_equal(config_parse_size("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(config_parse_size("k", &v), -1);
	assert_int_equal(config_parse_size("-1k", &v), -1);
	assert_int_equal(config_parse_size("99999999999999999999", &v), -1);
	assert_int_equal(config_parse_duration("30s", &d), 0);
	assert_int_equal(d, 30);
	assert_int_equal(config_parse_duration("10m", &d), 0);
	assert_int_equal(d, 600);
	assert_int_equal(config_parse_duration("5d", &d), 0);
	assert_int_equal(d, 432000);
	assert_int_equal(config_parse_duration("1.5h", &d), -1);
	assert_int_equal(config_parse_duration("", &d), -1);
	assert_int_equal(config_parse_duration("9999999999d", &d), -1);
}

static void
test_addresses(void **state)
{
	(void)state;
	assert_true(config_host_is_loopback("127.0.0.1"));
	assert_true(config_host_is_loopback("127.1.2.3"));
	assert_true(config_host_is_loopback("::1"));
	assert_true(config_host_is_loopback("localhost"));
	assert_false(config_host_is_loopback("10.0.0.1"));
	assert_false(config_host_is_loopback("localhost.example.com"));
}

/* Appends one site named s<i> to b (at most room bytes in all). */
static void
add_site(char *b, size_t room, int i, const char *extra)
{
	size_t l = strlen(b);

	snprintf(b + l, room - l,
	    "  s%d:\n"
	    "    origins: [https://www.example.com]\n"
	    "    from: \"Example Web <noreply@example.com>\"\n"
	    "    to: [info@example.com]\n%s"
	    "    fields:\n"
	    "      email: { label: x, type: email }\n", i, extra);
}

/* Duplicate keys are refused at any depth and any count of nodes before
 * them: the 80th site's second to:, the 71st field's second label:, a
 * 71st field named like an earlier one. */
static void
test_duplicates_any_count(void **state)
{
	size_t room = 64 * 1024;
	char *b = malloc(room), err[512];
	struct config *c;
	int i;

	(void)state;
	assert_non_null(b);
	snprintf(b, room, "%s", BASE_SMTP "sites:\n");
	for (i = 0; i < 80; i++)
		add_site(b, room, i, i == 79 ? "    to: [evil@example.net]\n" :
		    "");
	c = parse(b, err, sizeof err);
	assert_null(c);
	assert_non_null(strstr(err, "duplicate key 'to'"));

	for (i = 0; i < 2; i++) {
		int f;

		snprintf(b, room, "%s", BASE_SMTP BASE_SITE);
		for (f = 3; f <= 70; f++)
			snprintf(b + strlen(b), room - strlen(b),
			    "      f%d: { label: x }\n", f);
		strcat(b, i == 0 ? "      f71: { label: x, label: y }\n" :
		    "      f3: { label: again }\n");
		c = parse(b, err, sizeof err);
		assert_null(c);
		assert_non_null(strstr(err, i == 0 ? "duplicate key 'label'" :
		    "duplicate key 'f3'"));
	}
	free(b);
}

static void
test_lint(void **state)
{
	const char *yaml = BASE_SMTP
	    "sites:\n"
	    "  a:\n"
	    "    origins: [https://a.example]\n"
	    "    from: \"Shop <shop@gmail.com>\"\n"
	    "    envelope_from: bounce@other.example\n"
	    "    to: [info@example.com]\n"
	    "    fields: { name: {} }\n";
	char err[512] = "", *out = NULL;
	size_t outlen = 0;
	struct config *c = parse(yaml, err, sizeof err);
	FILE *f;

	(void)state;
	assert_non_null(c);
	f = open_memstream(&out, &outlen);
	assert_int_equal(check_lint(c, f), 2);
	fclose(f);
	assert_non_null(strstr(out, "t.yaml:9:11: error: site a: from is at gmail.com"));
	assert_non_null(strstr(out, "t.yaml:10:20: error: site a: envelope_from is at other.example"));
	assert_non_null(strstr(out, "t.yaml:4:15: warning: site a: smtp profile main logs in as a user at example.com but from is at gmail.com"));
	free(out);
	config_free(c);
	assert_true(check_domain_is_consumer("DoCoMo.ne.jp"));
	assert_false(check_domain_is_consumer("example.co.jp"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_base),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_file_fields),
		cmocka_unit_test(test_ops_keys),
		cmocka_unit_test(test_password_credential),
		cmocka_unit_test(test_utf16_bom),
		cmocka_unit_test(test_sizes_durations),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_duplicates_any_count),
		cmocka_unit_test(test_lint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
