/*
 * config — loads and validates formpost.yaml (conf/formpost.example.yaml
 * documents every key) into
 * one immutable struct config.  Strict: unknown and duplicate keys,
 * anchors, aliases, tags, wrong types, impossible values, NUL bytes and
 * nesting deeper than the schema are errors reported as
 * "FILE:LINE:COLUMN: message".  A loaded config is never modified, so a
 * reload builds a new one and swaps the pointer.  The only module that
 * includes <yaml.h>.
 */
#ifndef FORMPOST_CONFIG_H
#define FORMPOST_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <time.h>

#include "log.h"

struct crypto_key;

enum listen_kind { LISTEN_INHERIT, LISTEN_UNIX, LISTEN_TCP };
enum lang { LANG_JA, LANG_EN };

enum field_type {
	FT_TEXT, FT_MULTILINE, FT_EMAIL, FT_TEL, FT_URL, FT_NUMBER,
	FT_SELECT, FT_CHECKBOX, FT_FILE,
};

/* Where a value came from, for messages after loading (lints, check). */
struct cfg_pos {
	unsigned line, col; /* 1-based; col in characters */
};

struct smtp_profile {
	char *name;
	char *url;             /* smtp://host[:port] or smtps://host[:port] */
	char *host;            /* from url, without brackets */
	int implicit_tls;      /* smtps:// */
	int starttls;          /* 1 required, 0 off (loopback only) */
	char *username;        /* NULL: no AUTH (loopback relay only) */
	char *password_file;   /* absolute; NULL unless given */
	char *password_env;    /* NULL unless given */
	char *password_credential; /* systemd credential name (a file in
	                        * $CREDENTIALS_DIRECTORY); NULL unless given */
	char *password;        /* the secret, read by config_load_secrets;
	                        * never logged; cleansed by config_free */
	char *ca_file;         /* absolute; NULL: system store */
	unsigned timeout;      /* seconds: connect and each reply */
	unsigned connections;  /* parallel SMTP sessions (sender threads) */
	struct cfg_pos pos, username_pos;
};

struct field {
	char *name;
	char *label;
	enum field_type type;
	int required;
	int has_min, has_max;
	double min, max;       /* characters, or values for FT_NUMBER */
	char *pattern;         /* source, NULL if none */
	regex_t re;            /* compiled when pattern != NULL */
	char **options;        /* select/radio, checkbox group */
	size_t noptions;
	char *confirm;         /* name of the field this must equal */
	int reply_to;          /* this email field becomes Reply-To */
	unsigned accept;       /* FT_FILE: bit (1 << enum sniff_kind) per
	                        * accepted extension's kind */
	char **accept_ext;     /* FT_FILE: the extensions as written */
	size_t naccept;
	unsigned long long file_max; /* FT_FILE: bytes of the one file */
	int echo;              /* auto_reply.echo lists it */
};

struct site {
	char *name;
	char **origins;
	size_t norigins;
	char *from;            /* as written: "Name <addr>" */
	char *from_name;       /* display name, NULL if none */
	char *from_addr;       /* addr-spec */
	const char *from_domain; /* points into from_addr */
	char *envelope_from;   /* NULL: use from_addr */
	char **to, **cc, **bcc;
	size_t nto, ncc, nbcc;
	struct smtp_profile **smtp; /* borrowed from config->profiles */
	size_t nsmtp;
	char *subject;         /* template source */
	enum lang lang;
	char *templates;       /* absolute per-site override dir, or NULL */
	char *reply_to_name;   /* field name, or NULL */
	struct field *fields;
	size_t nfields;
	char *honeypot;        /* NULL: none */
	char *redirect;        /* NULL: render the thanks template */
	unsigned rate_count;   /* 0: no rate limit */
	unsigned rate_window;  /* seconds */
	unsigned max_links;    /* filters.max_links; UINT_MAX: no limit */
	int require_japanese;
	int token_required;
	int confirm;            /* a review step before sending */
	unsigned token_min_age, token_max_age; /* seconds */
	char *dkim_selector;   /* NULL: no DKIM signing */
	char *dkim_key_file;   /* absolute */
	/* auto_reply: (doc/design.md "Auto-reply and carrier mail") */
	int auto_reply;        /* 1: a receipt for each accepted post */
	char *ar_subject;      /* template source */
	unsigned ar_count;     /* limit: receipts per address or network */
	unsigned ar_window;    /* ... per this many seconds */
	struct smtp_profile **ar_smtp; /* borrowed; the site's smtp when
	                        * auto_reply.smtp is not given */
	size_t nar_smtp;
	struct cfg_pos ar_pos;
	struct crypto_key *dkim_key; /* loaded by config_load_secrets */
	size_t max_body;       /* bytes: limits.max_body unless the site sets
	                        * its own (<= MAX_SITE_MAX_BODY) */
	int has_files;         /* a field is type: file */
	struct cfg_pos pos, from_pos, envelope_from_pos, dkim_pos;
};

struct config {
	char *path;            /* the file loaded, as given */
	enum listen_kind listen;
	char *listen_path;     /* LISTEN_UNIX: absolute */
	char *listen_host;     /* LISTEN_TCP */
	unsigned listen_port;
	char *socket_group;    /* NULL: keep the process group */
	char **fastcgi_allow;  /* numeric addresses */
	size_t nfastcgi_allow;
	char *user;            /* NULL: do not change user */
	char *spool;           /* absolute */
	char *templates;       /* absolute */
	unsigned workers;
	size_t max_body, max_fields, max_field_name;
	size_t spool_max_messages;
	unsigned long long spool_min_free;
	size_t spool_max_held;             /* files in hold/ (the review step) */
	unsigned long long spool_max_held_bytes;
	unsigned read_timeout; /* seconds: params and body of one request */
	unsigned first_retry, max_retry, max_age; /* seconds */
	struct smtp_profile *profiles;
	size_t nprofiles;
	struct site *sites;
	size_t nsites;
	/* Operations (doc/design.md "Operations") */
	char **metrics_allow;  /* numeric addresses; none: no /_metrics */
	size_t nmetrics_allow;
	char **alert_to;       /* alert mail recipients */
	size_t nalert_to;
	struct smtp_profile **alert_smtp; /* borrowed from profiles */
	size_t nalert_smtp;
	char *alert_webhook;   /* https://, or http:// to loopback; NULL */
	unsigned alert_min_interval;   /* seconds */
	unsigned retention_failed;     /* seconds; 0: keep failed/ */
	unsigned retention_archive;    /* seconds; 0: no sent/ copies */
	enum log_ip_mode log_ip;
	int log_level;         /* enum log_level */
};

/* Loads and validates path.  Returns a config (free with config_free), or
 * NULL with one "FILE:LINE:COLUMN: message" (or "FILE: message") in err.
 * Does not read secrets and touches nothing but path.  Thread-safe. */
struct config *config_load(const char *path, char *err, size_t errlen);

/* Same, from bytes in memory (tests, fuzzing); name is used in messages and
 * relative paths resolve against dir (NULL: the current directory). */
struct config *config_parse(const char *name, const char *dir,
    const char *data, size_t len, char *err, size_t errlen);

/* Loads every site's DKIM key_file (crypto_key_load's rules: a usable
 * private key, not accessible by others) into site->dkim_key.  Returns 0,
 * or -1 with a message naming the site and file, never the key. */
int config_load_keys(struct config *c, char *err, size_t errlen);

/* config_load_keys, then reads every profile's password from
 * password_file or, under systemd's LoadCredential=,
 * $CREDENTIALS_DIRECTORY/password_credential (either must not be readable
 * or writable by others), or password_env.  A password_env variable is
 * read once per process: its value is then wiped from the environment
 * (and /proc/PID/environ) and the variable unset; later calls (a reload)
 * get the copy kept in memory.  Returns 0, or -1 with a message that names
 * the file or variable, never its content.  Not for concurrent callers of
 * getenv/setenv. */
int config_load_secrets(struct config *c, char *err, size_t errlen);

void config_free(struct config *c);

const struct site *config_site(const struct config *c, const char *name);

/* How long hold/ keeps an upload between the review step's posts: the
 * largest token.max_age of c's sites (doc/design.md "The review step"),
 * in seconds. */
unsigned config_hold_max_age(const struct config *c);

/* Each review site's share of hold/ when several sites hold uploads
 * (confirm and a file field): spool_max_held and spool_max_held_bytes
 * divided by their number, so a flood of first steps on one site leaves
 * the others room (doc/design.md "Held uploads").  0 and 0 (no share
 * but the whole) with one such site or none. */
void config_hold_share(const struct config *c, unsigned long long *files,
    unsigned long long *bytes);

/* Strict parsers shared with tests: "64k" "2M" "1024" → bytes; "30s" "10m"
 * "1h" "5d" "45" → seconds.  Return 0 or -1. */
int config_parse_size(const char *s, unsigned long long *out);
int config_parse_duration(const char *s, unsigned *out);

/* 1 when addr (numeric) is in c's metrics.allow, compared as addresses
 * ("::1" equals "0::1").  Thread-safe. */
int config_metrics_allowed(const struct config *c, const char *addr);

/* 0 when url may be an alert webhook: https://HOST[:PORT][/PATH], or
 * http:// to a loopback host; no userinfo, spaces or controls.  Else -1
 * with why (static) in *why. */
int config_webhook_ok(const char *url, const char **why);

/* 1 when host names the loopback interface (127.0.0.0/8, ::1, localhost). */
int config_host_is_loopback(const char *host);

#endif
