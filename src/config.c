/*
 * config — the YAML loader.  libyaml's event API builds a small tree while
 * enforcing what the parser does not: depth, no anchors/aliases/tags, no
 * duplicate keys, no NUL, capped scalars, one document.  A
 * schema walk then turns the tree into struct config, checking every key's
 * type and range.  The first error wins and carries FILE:LINE:COLUMN.
 * Must never read secrets here except in config_load_secrets, and never
 * print them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "addr.h"
#include "crypto.h"
#include "file.h"
#include "limits.h"
#include "log.h"
#include "sniff.h"
#include "util.h"

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

/* A parsed YAML node.  A map stores key, value, key, value... in items. */
struct ynode {
	enum ykind kind;
	unsigned line, col;
	char *str;             /* scalar, NUL-free (checked) */
	size_t len;
	int plain;             /* unquoted scalar */
	struct ynode **items;
	size_t n;
};

struct ld {
	const char *name;      /* file name for messages */
	const char *dir;       /* for relative paths */
	char *err;
	size_t errlen;
	int failed;
	struct config *c;
};

static void ld_error(struct ld *, unsigned, unsigned, const char *, ...)
    FP_PRINTF(4, 5);

static void
ld_error(struct ld *ld, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (ld->failed)
		return;
	ld->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line)
		snprintf(ld->err, ld->errlen, "%s:%u:%u: %s", ld->name, line,
		    col, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->name, msg);
}

#define NERR(ld, n, ...) ld_error((ld), (n)->line, (n)->col, __VA_ARGS__)

/* ---------------------------------------------------------------- tree */

static void
ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->items[i]);
	free(n->items);
	free(n->str);
	free(n);
}

static int
ynode_push(struct ynode *parent, struct ynode *child)
{
	struct ynode **p;

	if (parent->n >= 2 * LIM_SITES + 2 * LIM_LIST_ITEMS)
		return -1;
	p = realloc(parent->items, (parent->n + 1) * sizeof *p);
	if (p == NULL)
		return -1;
	parent->items = p;
	parent->items[parent->n++] = child;
	return 0;
}

static const char *
yaml_problem(const yaml_parser_t *p)
{
	return p->problem ? p->problem : "syntax error";
}

/* Refuses keys that are not scalars and duplicate keys in n and in
 * everything under it, at any count.  The recursion is as deep as the
 * tree, which tree_build bounds by LIM_CONFIG_DEPTH. */
static void
keys_check(struct ld *ld, const struct ynode *n)
{
	size_t i, j;

	for (i = 0; i < n->n && !ld->failed; i++) {
		const struct ynode *it = n->items[i];

		if (n->kind == Y_MAP && i % 2 == 0) {
			if (it->kind != Y_SCALAR) {
				NERR(ld, it, "keys must be plain names");
				return;
			}
			for (j = 0; j < i && !ld->failed; j += 2)
				if (strcmp(n->items[j]->str, it->str) == 0)
					NERR(ld, it, "duplicate key '%s' "
					    "(first at line %u)", it->str,
					    n->items[j]->line);
		}
		if (it->kind != Y_SCALAR)
			keys_check(ld, it);
	}
}

/* Builds the tree from the event stream; returns the root mapping or NULL
 * after ld_error.  Every event is deleted on every path. */
static struct ynode *
tree_build(struct ld *ld, const char *data, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ynode *stack[LIM_CONFIG_DEPTH + 1], *root = NULL, *n;
	size_t depth = 0;
	int done = 0, docs = 0;

	if (!yaml_parser_initialize(&p)) {
		ld_error(ld, 0, 0, "out of memory");
		return NULL;
	}
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done && !ld->failed) {
		if (!yaml_parser_parse(&p, &ev)) {
			if (p.error == YAML_READER_ERROR)
				ld_error(ld, 0, 0, "byte %zu: %s (the file "
				    "must be UTF-8)", p.problem_offset,
				    yaml_problem(&p));
			else
				ld_error(ld, (unsigned)p.problem_mark.line + 1,
				    (unsigned)p.problem_mark.column + 1,
				    "%s%s%s", yaml_problem(&p),
				    p.context ? " " : "",
				    p.context ? p.context : "");
			break;
		}
		unsigned line = (unsigned)ev.start_mark.line + 1;
		unsigned col = (unsigned)ev.start_mark.column + 1;
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				ld_error(ld, line, col, "only one YAML "
				    "document is allowed");
			break;
		case YAML_ALIAS_EVENT:
			ld_error(ld, line, col, "YAML aliases (*%s) are not "
			    "allowed: write the value out",
			    (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const yaml_char_t *anchor, *tag;
			int implicit;

			if (ev.type == YAML_SCALAR_EVENT) {
				anchor = ev.data.scalar.anchor;
				tag = ev.data.scalar.tag;
				implicit = ev.data.scalar.plain_implicit ||
				    ev.data.scalar.quoted_implicit;
			} else if (ev.type == YAML_SEQUENCE_START_EVENT) {
				anchor = ev.data.sequence_start.anchor;
				tag = ev.data.sequence_start.tag;
				implicit = ev.data.sequence_start.implicit;
			} else {
				anchor = ev.data.mapping_start.anchor;
				tag = ev.data.mapping_start.tag;
				implicit = ev.data.mapping_start.implicit;
			}
			if (anchor) {
				ld_error(ld, line, col, "YAML anchors (&%s) are "
				    "not allowed", (const char *)anchor);
				break;
			}
			if (tag && !implicit) {
				ld_error(ld, line, col, "YAML tags (%s) are not "
				    "allowed", (const char *)tag);
				break;
			}
			if ((n = calloc(1, sizeof *n)) == NULL) {
				ld_error(ld, 0, 0, "out of memory");
				break;
			}
			n->line = line;
			n->col = col;
			if (ev.type == YAML_SCALAR_EVENT) {
				n->kind = Y_SCALAR;
				n->len = ev.data.scalar.length;
				n->plain = ev.data.scalar.style ==
				    YAML_PLAIN_SCALAR_STYLE;
				if (n->len > LIM_SCALAR_BYTES)
					ld_error(ld, line, col, "value longer "
					    "than %d bytes", LIM_SCALAR_BYTES);
				else if (memchr(ev.data.scalar.value, 0, n->len))
					ld_error(ld, line, col, "NUL byte in "
					    "value");
				else if ((n->str = fp_strndup((const char *)
				    ev.data.scalar.value, n->len)) == NULL)
					ld_error(ld, 0, 0, "out of memory");
			} else {
				n->kind = ev.type == YAML_SEQUENCE_START_EVENT ?
				    Y_SEQ : Y_MAP;
				if (depth >= LIM_CONFIG_DEPTH)
					ld_error(ld, line, col, "nested deeper "
					    "than the schema allows (%d "
					    "levels)", LIM_CONFIG_DEPTH);
			}
			if (ld->failed) {
				ynode_free(n);
				break;
			}
			if (depth == 0) {
				if (root != NULL || n->kind != Y_MAP) {
					NERR(ld, n, "the file must be one "
					    "mapping of settings");
					ynode_free(n);
					break;
				}
				root = n;
			} else if (ynode_push(stack[depth - 1], n) == -1) {
				NERR(ld, n, "too many entries");
				ynode_free(n);
				break;
			}
			if (n->kind != Y_SCALAR)
				stack[depth++] = n;
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (!ld->failed && root == NULL)
		ld_error(ld, 1, 1, "the file is empty");
	if (ld->failed) {
		ynode_free(root);
		return NULL;
	}
	/* Duplicate keys, and keys that are not scalars. */
	keys_check(ld, root);
	if (ld->failed) {
		ynode_free(root);
		return NULL;
	}
	return root;
}

/* ---------------------------------------------------- typed accessors */

static int
is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0);
}

/* Value of key in map n, or NULL when absent or null. */
static const struct ynode *
map_get(const struct ynode *n, const char *key)
{
	size_t i;

	for (i = 0; i + 1 < n->n; i += 2)
		if (strcmp(n->items[i]->str, key) == 0)
			return is_null(n->items[i + 1]) ? NULL :
			    n->items[i + 1];
	return NULL;
}

static int
want_kind(struct ld *ld, const struct ynode *n, enum ykind k,
    const char *what)
{
	static const char *names[] = { "a value", "a list", "a mapping" };

	if (n->kind == k)
		return 0;
	NERR(ld, n, "%s must be %s, not %s", what, names[k], names[n->kind]);
	return -1;
}

/* Every key of map n must be in allowed (NULL-terminated). */
static int
map_keys(struct ld *ld, const struct ynode *n, const char *what,
    const char *const *allowed)
{
	struct buf b;
	size_t i, j;

	if (want_kind(ld, n, Y_MAP, what) == -1)
		return -1;
	for (i = 0; i < n->n; i += 2) {
		for (j = 0; allowed[j]; j++)
			if (strcmp(n->items[i]->str, allowed[j]) == 0)
				break;
		if (allowed[j])
			continue;
		buf_init(&b);
		for (j = 0; allowed[j]; j++)
			buf_printf(&b, "%s%s", j ? ", " : "", allowed[j]);
		if (strcmp(n->items[i]->str, "password") == 0)
			NERR(ld, n->items[i], "inline passwords are not "
			    "allowed: use password_file (mode 0600) or "
			    "password_env");
		else
			NERR(ld, n->items[i], "unknown key '%s' in %s "
			    "(expected one of: %s)", n->items[i]->str, what,
			    b.data ? b.data : "");
		buf_free(&b);
		return -1;
	}
	return 0;
}

static int
get_str(struct ld *ld, const struct ynode *map, const char *key, char **out)
{
	const struct ynode *n = map_get(map, key);

	if (n == NULL)
		return 0;
	if (want_kind(ld, n, Y_SCALAR, key) == -1)
		return -1;
	if (n->len == 0) {
		NERR(ld, n, "%s must not be empty", key);
		return -1;
	}
	free(*out);
	if ((*out = fp_strndup(n->str, n->len)) == NULL) {
		NERR(ld, n, "out of memory");
		return -1;
	}
	return 0;
}

static int
get_bool(struct ld *ld, const struct ynode *map, const char *key, int *out)
{
	const struct ynode *n = map_get(map, key);

	if (n == NULL)
		return 0;
	if (n->kind == Y_SCALAR && strcmp(n->str, "true") == 0)
		*out = 1;
	else if (n->kind == Y_SCALAR && strcmp(n->str, "false") == 0)
		*out = 0;
	else {
		NERR(ld, n, "%s must be true or false", key);
		return -1;
	}
	return 0;
}

static int
parse_ull(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (*s)
		return -1;
	*out = v;
	return 0;
}

struct unit {
	char suffix;
	unsigned long long mul;
};

static const struct unit size_units[] = {
	{ 'k', 1024 }, { 'K', 1024 }, { 'M', 1024ULL * 1024 },
	{ 'G', 1024ULL * 1024 * 1024 }, { 0, 0 },
};
static const struct unit time_units[] = {
	{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 0, 0 },
};

/* "N" or "N" + one suffix of u: N times its multiplier, at most max. */
static int
parse_with_unit(const char *s, const struct unit *u, unsigned long long max,
    unsigned long long *out)
{
	char num[32];
	size_t len = strlen(s);
	unsigned long long v, mul = 1;

	if (len == 0 || len >= sizeof num)
		return -1;
	memcpy(num, s, len + 1);
	for (; u->suffix; u++)
		if (num[len - 1] == u->suffix) {
			mul = u->mul;
			num[len - 1] = '\0';
			break;
		}
	if (parse_ull(num, &v) == -1 || v > max / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
config_parse_size(const char *s, unsigned long long *out)
{
	return parse_with_unit(s, size_units, ULLONG_MAX, out);
}

int
config_parse_duration(const char *s, unsigned *out)
{
	unsigned long long v;

	if (parse_with_unit(s, time_units, UINT_MAX, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* How a number is written in the config, and how its range is told. */
struct numkind {
	const struct unit *units;  /* NULL: digits only */
	unsigned long long max;
	const char *form;          /* "KEY must be FORM" */
	const char *each, *after;  /* after each bound, after the range */
};

static const struct numkind count_kind = { NULL, ULLONG_MAX,
    "a whole number", "", "" };
static const struct numkind size_kind = { size_units, ULLONG_MAX,
    "a size such as 64k or 2M", "", " bytes" };
static const struct numkind time_kind = { time_units, UINT_MAX,
    "a duration such as 30s, 10m, 1h or 5d", "s", "" };

/* The optional number under key, in [lo, hi]: 0 (*out set when present),
 * or -1 with the error reported. */
static int
get_number(struct ld *ld, const struct ynode *map, const char *key,
    const struct numkind *k, unsigned long long lo, unsigned long long hi,
    unsigned long long *out)
{
	const struct ynode *n = map_get(map, key);
	unsigned long long v;

	if (n == NULL)
		return 0;
	if (n->kind != Y_SCALAR || (k->units ? parse_with_unit(n->str,
	    k->units, k->max, &v) : parse_ull(n->str, &v)) == -1) {
		NERR(ld, n, "%s must be %s", key, k->form);
		return -1;
	}
	if (v < lo || v > hi) {
		NERR(ld, n, "%s must be between %llu%s and %llu%s%s", key, lo,
		    k->each, hi, k->each, k->after);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_uint(struct ld *ld, const struct ynode *map, const char *key,
    unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	return get_number(ld, map, key, &count_kind, lo, hi, out);
}

static int
get_size(struct ld *ld, const struct ynode *map, const char *key,
    unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	return get_number(ld, map, key, &size_kind, lo, hi, out);
}

static int
get_duration(struct ld *ld, const struct ynode *map, const char *key,
    unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long long v = (unsigned long long)UINT_MAX + 1; /* absent */

	if (get_number(ld, map, key, &time_kind, lo, hi, &v) == -1)
		return -1;
	if (v <= UINT_MAX)
		*out = (unsigned)v;
	return 0;
}

/* Frees a list get_list made (NULL is fine). */
static void
strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A list of scalars (a lone scalar is not accepted: it hides typos). */
static int
get_list(struct ld *ld, const struct ynode *map, const char *key,
    char ***out, size_t *nout, int (*check)(const char *), const char *bad)
{
	const struct ynode *n = map_get(map, key);
	char **v;
	size_t i;

	if (n == NULL)
		return 0;
	if (want_kind(ld, n, Y_SEQ, key) == -1)
		return -1;
	if (n->n > LIM_LIST_ITEMS) {
		NERR(ld, n, "%s has more than %d entries", key,
		    LIM_LIST_ITEMS);
		return -1;
	}
	if ((v = calloc(n->n + 1, sizeof *v)) == NULL) {
		NERR(ld, n, "out of memory");
		return -1;
	}
	*out = v;
	*nout = 0;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];
		if (want_kind(ld, it, Y_SCALAR, key) == -1)
			return -1;
		if (it->len == 0 || (check && !check(it->str))) {
			NERR(ld, it, "%s: '%s' %s", key, it->str,
			    bad ? bad : "must not be empty");
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j], it->str) == 0) {
				NERR(ld, it, "%s: '%s' is listed twice", key,
				    it->str);
				return -1;
			}
		if ((v[i] = fp_strndup(it->str, it->len)) == NULL) {
			NERR(ld, it, "out of memory");
			return -1;
		}
		*nout = i + 1;
	}
	return 0;
}

/* Absolute form of path (relative paths resolve against the config file's
 * directory). */
static int
get_path(struct ld *ld, const struct ynode *map, const char *key, char **out)
{
	const struct ynode *n = map_get(map, key);
	char *p;

	if (n == NULL)
		return 0;
	p = NULL;
	if (get_str(ld, map, key, &p) == -1)
		return -1;
	if (p[0] != '/') {
		char *abs = NULL;
		if (asprintf(&abs, "%s/%s", ld->dir, p) == -1) {
			free(p);
			NERR(ld, n, "out of memory");
			return -1;
		}
		free(p);
		p = abs;
	}
	free(*out);
	*out = p;
	return 0;
}

/* ----------------------------------------------------------- checks */

/* get_list's shape of addr_spec_ok: the one address rule (addr.h). */
static int
addr_ok(const char *addr)
{
	return addr_spec_ok(addr, NULL);
}

int
config_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int
ip_ok(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

static int
origin_ok(const char *s)
{
	const char *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return 0;
	if (*h == '\0')
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= '0' && *h <= '9') ||
		    strchr(".-:[]", *h)))
			return 0;
	return 1;
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LIM_NAME_BYTES)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static const char *const field_type_names[] = {
	[FT_TEXT] = "text", [FT_MULTILINE] = "multiline", [FT_EMAIL] = "email",
	[FT_TEL] = "tel", [FT_URL] = "url", [FT_NUMBER] = "number",
	[FT_SELECT] = "select", [FT_CHECKBOX] = "checkbox", [FT_FILE] = "file",
};

/* --------------------------------------------------------- sections */

static int
parse_listen(struct ld *ld, const struct ynode *root)
{
	const struct ynode *n = map_get(root, "listen");
	struct config *c = ld->c;
	const char *s, *colon;
	char *host;
	unsigned long long port;

	if (n == NULL)
		return 0;
	if (want_kind(ld, n, Y_SCALAR, "listen") == -1)
		return -1;
	s = n->str;
	if (strncmp(s, "unix:", 5) == 0) {
		char *path = NULL;
		if (s[5] == '/')
			path = strdup(s + 5);
		else if (s[5] && asprintf(&path, "%s/%s", ld->dir, s + 5) == -1)
			path = NULL;
		if (path == NULL || strlen(path) >= 108) {
			NERR(ld, n, "listen: unix: needs a path (relative to "
			    "this file, or absolute) shorter than 108 bytes");
			free(path);
			return -1;
		}
		c->listen = LISTEN_UNIX;
		c->listen_path = path;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s ||
	    parse_ull(colon + 1, &port) == -1 || port == 0 || port > 65535) {
		NERR(ld, n, "listen must be unix:/path or HOST:PORT "
		    "(127.0.0.1:9000, [::1]:9000)");
		return -1;
	}
	if (s[0] == '[' && colon[-1] == ']')
		host = fp_strndup(s + 1, (size_t)(colon - s) - 2);
	else
		host = fp_strndup(s, (size_t)(colon - s));
	if (host == NULL || !ip_ok(host)) {
		NERR(ld, n, "listen: the host must be a numeric address");
		free(host);
		return -1;
	}
	c->listen = LISTEN_TCP;
	c->listen_host = host;
	c->listen_port = (unsigned)port;
	return 0;
}

static int
parse_top(struct ld *ld, const struct ynode *root)
{
	static const char *const keys[] = { "listen", "socket_group",
	    "fastcgi_allow", "user", "spool", "templates", "workers", "limits",
	    "delivery", "smtp", "sites", "metrics", "alerts", "retention",
	    "log_ip", "log_level", NULL };
	static const char *const lkeys[] = { "max_body", "max_fields",
	    "max_field_name", "spool_max_messages", "spool_min_free",
	    "spool_max_held", "spool_max_held_bytes", "read_timeout", NULL };
	static const char *const dkeys[] = { "first_retry", "max_retry",
	    "max_age", NULL };
	struct config *c = ld->c;
	const struct ynode *n;
	unsigned long long v;

	if (map_keys(ld, root, "the top level", keys) == -1 ||
	    parse_listen(ld, root) == -1 ||
	    get_str(ld, root, "socket_group", &c->socket_group) == -1 ||
	    get_list(ld, root, "fastcgi_allow", &c->fastcgi_allow,
	    &c->nfastcgi_allow, ip_ok, "is not a numeric IP address") == -1 ||
	    get_str(ld, root, "user", &c->user) == -1 ||
	    get_path(ld, root, "spool", &c->spool) == -1 ||
	    get_path(ld, root, "templates", &c->templates) == -1)
		return -1;
	v = c->workers;
	if (get_uint(ld, root, "workers", 1, MAX_WORKERS, &v) == -1)
		return -1;
	c->workers = (unsigned)v;
	if ((n = map_get(root, "limits")) != NULL) {
		if (map_keys(ld, n, "limits", lkeys) == -1)
			return -1;
		v = c->max_body;
		if (get_size(ld, n, "max_body", MIN_MAX_BODY, MAX_MAX_BODY,
		    &v) == -1)
			return -1;
		c->max_body = (size_t)v;
		v = c->max_fields;
		if (get_uint(ld, n, "max_fields", 1, MAX_MAX_FIELDS, &v) == -1)
			return -1;
		c->max_fields = (size_t)v;
		v = c->max_field_name;
		if (get_uint(ld, n, "max_field_name", 1, MAX_MAX_FIELD_NAME,
		    &v) == -1)
			return -1;
		c->max_field_name = (size_t)v;
		v = c->spool_max_messages;
		if (get_uint(ld, n, "spool_max_messages", 1, MAX_SPOOL_MAX_MESSAGES,
		    &v) == -1)
			return -1;
		c->spool_max_messages = (size_t)v;
		v = c->spool_max_held;
		if (get_uint(ld, n, "spool_max_held", 1, MAX_SPOOL_MAX_HELD,
		    &v) == -1)
			return -1;
		c->spool_max_held = (size_t)v;
		if (get_size(ld, n, "spool_min_free", 0, ULLONG_MAX,
		    &c->spool_min_free) == -1 ||
		    get_size(ld, n, "spool_max_held_bytes", 1, ULLONG_MAX,
		    &c->spool_max_held_bytes) == -1 ||
		    get_duration(ld, n, "read_timeout", MIN_READ_TIMEOUT,
		    MAX_READ_TIMEOUT, &c->read_timeout) == -1)
			return -1;
	}
	if ((n = map_get(root, "delivery")) != NULL) {
		if (map_keys(ld, n, "delivery", dkeys) == -1 ||
		    get_duration(ld, n, "first_retry", 1, MAX_FIRST_RETRY,
		    &c->first_retry) == -1 ||
		    get_duration(ld, n, "max_retry", 1, MAX_MAX_RETRY,
		    &c->max_retry) == -1 ||
		    get_duration(ld, n, "max_age", 1, MAX_MAX_AGE,
		    &c->max_age) == -1)
			return -1;
		if (c->max_retry < c->first_retry) {
			NERR(ld, n, "delivery: max_retry must be at least "
			    "first_retry");
			return -1;
		}
	}
	if (c->listen == LISTEN_TCP && !config_host_is_loopback(c->listen_host)
	    && c->nfastcgi_allow == 0) {
		n = map_get(root, "listen");
		NERR(ld, n, "listen on a non-loopback address needs "
		    "fastcgi_allow: FastCGI has no authentication, anyone who "
		    "reaches the port can forge REMOTE_ADDR and Origin");
		return -1;
	}
	return 0;
}

/* A systemd credential name: a plain file name in $CREDENTIALS_DIRECTORY. */
static int
credential_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LIM_NAME_BYTES || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

/* At most one password source, and one exactly when there is a username. */
static int
profile_password_ok(struct ld *ld, const struct ynode *key,
    const struct ynode *n, const struct smtp_profile *p, const char *what)
{
	int given = !!p->password_file + !!p->password_env +
	    !!p->password_credential;

	if (p->password_credential &&
	    !credential_name_ok(p->password_credential)) {
		NERR(ld, map_get(n, "password_credential"), "password_credential "
		    "must be a credential name (letters, digits, '.', '_', "
		    "'-'), as in LoadCredential=NAME:FILE");
		return -1;
	}
	if (p->username && given == 0) {
		NERR(ld, key, "%s has a username but no password_file, "
		    "password_credential or password_env", what);
		return -1;
	}
	if (given > 1) {
		NERR(ld, key, "%s: give one of password_file, password_env "
		    "and password_credential, not several", what);
		return -1;
	}
	if (given && p->username == NULL) {
		NERR(ld, key, "%s has a password but no username", what);
		return -1;
	}
	return 0;
}

static int
parse_profile(struct ld *ld, const struct ynode *key, const struct ynode *n,
    struct smtp_profile *p)
{
	static const char *const keys[] = { "url", "starttls", "username",
	    "password_file", "password_env", "password_credential", "ca_file",
	    "timeout", "connections", NULL };
	const struct ynode *u, *st;
	const char *hp, *end;
	char what[LIM_NAME_BYTES + 16];
	unsigned long long conns = DEF_SMTP_CONNECTIONS;

	p->pos.line = key->line;
	p->pos.col = key->col;
	p->starttls = 1;
	p->timeout = DEF_SMTP_TIMEOUT;
	if (!name_ok(key->str)) {
		NERR(ld, key, "profile name '%s' may use only letters, digits, "
		    "'_' and '-'", key->str);
		return -1;
	}
	if ((p->name = strdup(key->str)) == NULL)
		return -1;
	snprintf(what, sizeof what, "smtp.%s", key->str);
	if (map_keys(ld, n, what, keys) == -1 ||
	    get_str(ld, n, "url", &p->url) == -1 ||
	    get_str(ld, n, "username", &p->username) == -1 ||
	    get_path(ld, n, "password_file", &p->password_file) == -1 ||
	    get_str(ld, n, "password_env", &p->password_env) == -1 ||
	    get_str(ld, n, "password_credential", &p->password_credential)
	    == -1 ||
	    get_path(ld, n, "ca_file", &p->ca_file) == -1 ||
	    get_duration(ld, n, "timeout", 1, LIM_SMTP_ATTEMPT,
	    &p->timeout) == -1 ||
	    get_uint(ld, n, "connections", 1, MAX_SMTP_CONNECTIONS,
	    &conns) == -1)
		return -1;
	p->connections = (unsigned)conns;
	if ((u = map_get(n, "url")) == NULL) {
		NERR(ld, key, "%s needs a url (smtp://host:587 or "
		    "smtps://host:465)", what);
		return -1;
	}
	if (strncmp(p->url, "smtp://", 7) == 0)
		hp = p->url + 7;
	else if (strncmp(p->url, "smtps://", 8) == 0) {
		hp = p->url + 8;
		p->implicit_tls = 1;
	} else {
		NERR(ld, u, "url must start with smtp:// (STARTTLS, port 587) "
		    "or smtps:// (implicit TLS, port 465)");
		return -1;
	}
	if (*hp == '[') {
		end = strchr(hp, ']');
		if (end == NULL) {
			NERR(ld, u, "url: unclosed '[' in host");
			return -1;
		}
		p->host = fp_strndup(hp + 1, (size_t)(end - hp - 1));
		end++;
	} else {
		end = hp + strcspn(hp, ":/");
		p->host = fp_strndup(hp, (size_t)(end - hp));
	}
	if (p->host == NULL || p->host[0] == '\0' || has_ctl(p->url,
	    strlen(p->url)) || strchr(p->url, '@') || strchr(p->url, ' ') ||
	    !(*end == '\0' || *end == ':' || strcmp(end, "/") == 0)) {
		NERR(ld, u, "url must be smtp[s]://host[:port] with no user, "
		    "path or spaces");
		return -1;
	}
	if (*end == ':') {
		unsigned long long port;
		char *pe = strchr(end, '/');
		char num[8] = "";
		size_t nl = pe ? (size_t)(pe - end - 1) : strlen(end + 1);
		if (nl < sizeof num)
			memcpy(num, end + 1, nl), num[nl] = '\0';
		if (parse_ull(num, &port) == -1 || port == 0 || port > 65535) {
			NERR(ld, u, "url: bad port");
			return -1;
		}
	}
	if ((st = map_get(n, "starttls")) != NULL) {
		if (st->kind == Y_SCALAR && strcmp(st->str, "required") == 0)
			p->starttls = 1;
		else if (st->kind == Y_SCALAR && strcmp(st->str, "off") == 0)
			p->starttls = 0;
		else {
			NERR(ld, st, "starttls must be required or off");
			return -1;
		}
		if (p->implicit_tls && !p->starttls) {
			NERR(ld, st, "starttls: off contradicts smtps:// "
			    "(implicit TLS); drop the line");
			return -1;
		}
		if (!p->starttls && !config_host_is_loopback(p->host)) {
			NERR(ld, st, "starttls: off is allowed only for a "
			    "loopback relay; %s would see the password and "
			    "mail in clear", p->host);
			return -1;
		}
	}
	if (p->username == NULL && !config_host_is_loopback(p->host)) {
		NERR(ld, key, "%s needs a username: only a loopback relay may "
		    "be used without AUTH", what);
		return -1;
	}
	if (p->username) {
		const struct ynode *un = map_get(n, "username");
		p->username_pos.line = un->line;
		p->username_pos.col = un->col;
		if (has_ctl(p->username, strlen(p->username))) {
			NERR(ld, un, "username contains control characters");
			return -1;
		}
	}
	return profile_password_ok(ld, key, n, p, what);
}

/* A top-level mapping of named entries (smtp:, sites:): allocates *arr with
 * one element of size elem per entry and hands each to parse(), counting
 * them in *count as they come so config_free sees the ones begun. */
static int
parse_named(struct ld *ld, const struct ynode *root, const char *key,
    size_t max, size_t elem, void **arr, size_t *count,
    int (*parse)(struct ld *, const struct ynode *, const struct ynode *,
    void *), const char *none)
{
	const struct ynode *n = map_get(root, key);
	size_t i;

	if (n == NULL || want_kind(ld, n, Y_MAP, key) == -1 || n->n == 0) {
		if (!ld->failed)
			ld_error(ld, 1, 1, "%s", none);
		return -1;
	}
	if (n->n / 2 > max) {
		NERR(ld, n, "more than %zu entries under %s", max, key);
		return -1;
	}
	if ((*arr = calloc(n->n / 2, elem)) == NULL)
		return -1;
	for (i = 0; i < n->n; i += 2) {
		(*count)++;
		if (want_kind(ld, n->items[i + 1], Y_MAP, n->items[i]->str) ==
		    -1 || parse(ld, n->items[i], n->items[i + 1],
		    (char *)*arr + (i / 2) * elem) == -1)
			return -1;
	}
	return 0;
}

static int
parse_profile_cb(struct ld *ld, const struct ynode *k, const struct ynode *v,
    void *p)
{
	return parse_profile(ld, k, v, p);
}

static int
parse_profiles(struct ld *ld, const struct ynode *root)
{
	return parse_named(ld, root, "smtp", LIM_PROFILES,
	    sizeof(struct smtp_profile), (void **)&ld->c->profiles,
	    &ld->c->nprofiles, parse_profile_cb, "no smtp: profiles; add at "
	    "least one (see conf/formpost.example.yaml)");
}

static int
accept_ok(const char *ext)
{
	return sniff_ext_kind(ext, strlen(ext)) >= 0;
}

/* type: file (doc/design.md "Attachments"): accept from the fixed table,
 * max a size; the text-field rules do not apply. */
static int
parse_file_field(struct ld *ld, const struct ynode *key, const struct ynode *n,
    struct field *f)
{
	static const char *const text_only[] = { "min", "pattern", "options",
	    "confirm", "reply_to" };
	unsigned long long v = 0;	/* 0: the site's max_body */
	size_t i;

	for (i = 0; i < ARRAY_LEN(text_only); i++)
		if (map_get(n, text_only[i]) != NULL) {
			NERR(ld, map_get(n, text_only[i]), "%s is not for "
			    "type: file", text_only[i]);
			return -1;
		}
	if (f->naccept == 0) {
		NERR(ld, key, "field %s: type: file needs accept: a list from "
		    "the table (pdf, jpg, jpeg, png, gif, webp, heic, txt, csv, "
		    "docx, xlsx, pptx, zip)", f->name);
		return -1;
	}
	for (i = 0; i < f->naccept; i++)
		f->accept |= 1u << sniff_ext_kind(f->accept_ext[i],
		    strlen(f->accept_ext[i]));
	if (get_size(ld, n, "max", 1, MAX_SITE_MAX_BODY, &v) == -1)
		return -1;
	f->file_max = v;
	return 0;
}

static int
parse_field(struct ld *ld, const struct ynode *key, const struct ynode *n,
    struct field *f)
{
	static const char *const keys[] = { "label", "type", "required",
	    "min", "max", "pattern", "options", "confirm", "reply_to", "accept",
	    NULL };
	const struct ynode *t, *m;
	const char *mk[2] = { "min", "max" };
	int i, rc;

	if (!name_ok(key->str) || key->str[0] == '_') {
		NERR(ld, key, "field name '%s' may use only letters, digits, "
		    "'_' and '-', and must not start with '_' (reserved)",
		    key->str);
		return -1;
	}
	if ((f->name = strdup(key->str)) == NULL)
		return -1;
	if (want_kind(ld, n, Y_MAP, key->str) == -1 ||
	    map_keys(ld, n, "a field", keys) == -1 ||
	    get_str(ld, n, "label", &f->label) == -1 ||
	    get_bool(ld, n, "required", &f->required) == -1 ||
	    get_str(ld, n, "pattern", &f->pattern) == -1 ||
	    get_str(ld, n, "confirm", &f->confirm) == -1 ||
	    get_bool(ld, n, "reply_to", &f->reply_to) == -1 ||
	    get_list(ld, n, "options", &f->options, &f->noptions, NULL,
	    NULL) == -1 ||
	    get_list(ld, n, "accept", &f->accept_ext, &f->naccept, accept_ok,
	    "is not in the accept table (pdf, jpg, jpeg, png, gif, webp, "
	    "heic, txt, csv, docx, xlsx, pptx, zip)") == -1)
		return -1;
	if (f->label == NULL && (f->label = strdup(f->name)) == NULL)
		return -1;
	if ((t = map_get(n, "type")) != NULL) {
		size_t k;
		if (want_kind(ld, t, Y_SCALAR, "type") == -1)
			return -1;
		for (k = 0; k < ARRAY_LEN(field_type_names); k++)
			if (strcmp(t->str, field_type_names[k]) == 0)
				break;
		if (strcmp(t->str, "radio") == 0)
			k = FT_SELECT;
		if (k == ARRAY_LEN(field_type_names)) {
			NERR(ld, t, "unknown field type '%s' (text, multiline, "
			    "email, tel, url, number, select, radio, "
			    "checkbox, file)", t->str);
			return -1;
		}
		f->type = (enum field_type)k;
	}
	if (f->type == FT_FILE)
		return parse_file_field(ld, key, n, f);
	if (f->naccept) {
		NERR(ld, map_get(n, "accept"), "accept is only for type: file");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		double v;
		char *end;
		if ((m = map_get(n, mk[i])) == NULL)
			continue;
		errno = 0;
		v = m->kind == Y_SCALAR ? strtod(m->str, &end) : NAN;
		if (m->kind != Y_SCALAR || *end || errno || !isfinite(v) ||
		    m->len == 0 || (f->type != FT_NUMBER && (v < 0 ||
		    v != floor(v) || v > 1e6))) {
			NERR(ld, m, f->type == FT_NUMBER ? "%s must be a "
			    "number" : "%s must be a whole number of "
			    "characters", mk[i]);
			return -1;
		}
		if (i == 0)
			f->has_min = 1, f->min = v;
		else
			f->has_max = 1, f->max = v;
	}
	if (f->has_min && f->has_max && f->min > f->max) {
		NERR(ld, map_get(n, "min"), "min is larger than max");
		return -1;
	}
	if (f->pattern) {
		/* The whole value must match (as HTML's pattern=), so anchor it.  The
		 * pattern must compile on its own first: "a)|(b" would
		 * otherwise close our group and escape the anchors. */
		char *anchored = NULL;
		rc = regcomp(&f->re, f->pattern, REG_EXTENDED | REG_NOSUB);
		if (rc == 0) {
			regfree(&f->re);
			if (asprintf(&anchored, "^(%s)$", f->pattern) == -1) {
				free(f->pattern);    /* no regex_t to free */
				f->pattern = NULL;
				return -1;
			}
			rc = regcomp(&f->re, anchored, REG_EXTENDED |
			    REG_NOSUB);
			free(anchored);
		}
		if (rc != 0) {
			char rerr[128];
			regerror(rc, &f->re, rerr, sizeof rerr);
			NERR(ld, map_get(n, "pattern"), "pattern is not a "
			    "POSIX extended regular expression: %s", rerr);
			free(f->pattern);
			f->pattern = NULL;
			return -1;
		}
	}
	if (f->type == FT_SELECT && f->noptions == 0) {
		NERR(ld, key, "field %s: select and radio need options",
		    f->name);
		return -1;
	}
	if (f->noptions && f->type != FT_SELECT && f->type != FT_CHECKBOX) {
		NERR(ld, map_get(n, "options"), "options are only for select, "
		    "radio and checkbox fields");
		return -1;
	}
	if (f->reply_to && f->type != FT_EMAIL) {
		NERR(ld, map_get(n, "reply_to"), "reply_to needs type: email");
		return -1;
	}
	return 0;
}

static int
parse_fields(struct ld *ld, const struct ynode *n, struct site *s)
{
	size_t i, j;
	int nreply = 0;

	if (n == NULL) {
		ld_error(ld, s->pos.line, s->pos.col, "site %s has no fields",
		    s->name);
		return -1;
	}
	if (want_kind(ld, n, Y_MAP, "fields") == -1)
		return -1;
	if (n->n / 2 > MAX_MAX_FIELDS) {
		NERR(ld, n, "too many fields");
		return -1;
	}
	if ((s->fields = calloc(n->n / 2 + 1, sizeof *s->fields)) == NULL)
		return -1;
	for (i = 0; i < n->n; i += 2) {
		s->nfields++;
		if (parse_field(ld, n->items[i], n->items[i + 1],
		    &s->fields[i / 2]) == -1)
			return -1;
		nreply += s->fields[i / 2].reply_to;
	}
	if (nreply > 1) {
		NERR(ld, n, "only one field may have reply_to: true");
		return -1;
	}
	for (i = 0; i < s->nfields; i++) {
		const char *cf = s->fields[i].confirm;
		if (cf == NULL)
			continue;
		for (j = 0; j < s->nfields; j++)
			if (j != i && strcmp(s->fields[j].name, cf) == 0)
				break;
		if (j == s->nfields) {
			NERR(ld, map_get(n->items[2 * i + 1], "confirm"),
			    "confirm: no field named '%s' in this site", cf);
			return -1;
		}
	}
	return 0;
}

/* "Name <addr>" or "addr" → name (may be NULL) and addr. */
static int
parse_mailbox(const char *s, char **name, char **addr)
{
	const char *lt = strrchr(s, '<');
	size_t n;

	*name = *addr = NULL;
	if (lt == NULL) {
		*addr = strdup(s);
		return *addr && addr_spec_ok(*addr, NULL) ? 0 : -1;
	}
	n = strlen(lt);
	if (n < 3 || lt[n - 1] != '>')
		return -1;
	if ((*addr = fp_strndup(lt + 1, n - 2)) == NULL ||
	    !addr_spec_ok(*addr, NULL))
		return -1;
	n = (size_t)(lt - s);
	while (n && s[n - 1] == ' ')
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n && (*name = fp_strndup(s, n)) == NULL)
		return -1;
	if (*name && (has_ctl(*name, n) || strpbrk(*name, "\"\\<>")))
		return -1;
	return 0;
}

/* smtp: profile names, in order, under map (absent: *n is 0). */
static int
get_profiles(struct ld *ld, const struct ynode *map,
    struct smtp_profile ***out, size_t *n)
{
	struct config *c = ld->c;
	char **names = NULL;
	size_t i, k, nnames = 0;
	int rc = -1;

	*n = 0;
	if (get_list(ld, map, "smtp", &names, &nnames, name_ok, "is not a "
	    "profile name") == -1)
		goto out;
	if (nnames && (*out = calloc(nnames, sizeof **out)) == NULL)
		goto out;
	for (i = 0; i < nnames; i++) {
		for (k = 0; k < c->nprofiles; k++)
			if (strcmp(c->profiles[k].name, names[i]) == 0)
				break;
		if (k == c->nprofiles) {
			NERR(ld, map_get(map, "smtp")->items[i], "no smtp "
			    "profile named '%s'", names[i]);
			goto out;
		}
		(*out)[(*n)++] = &c->profiles[k];
	}
	rc = 0;
out:
	strv_free(names, nnames);
	return rc;
}

/* "COUNT/DURATION" ("5/10m") into count and window.  0 or -1. */
static int
parse_rate(const char *str, unsigned *count, unsigned *window)
{
	unsigned long long cnt;
	const char *slash = strchr(str, '/');
	char num[24];

	if (slash == NULL || (size_t)(slash - str) >= sizeof num)
		return -1;
	memcpy(num, str, (size_t)(slash - str));
	num[slash - str] = '\0';
	if (parse_ull(num, &cnt) == -1 || cnt == 0 || cnt > 1000000 ||
	    config_parse_duration(slash + 1, window) == -1 || *window == 0)
		return -1;
	*count = (unsigned)cnt;
	return 0;
}

/* auto_reply: { subject, echo, limit, smtp } (doc/design.md "Auto-reply
 * and carrier mail").  The site's fields are parsed. */
static int
parse_auto_reply(struct ld *ld, const struct ynode *v, struct site *s)
{
	static const char *const keys[] = { "subject", "echo", "limit",
	    "smtp", NULL };
	const struct ynode *l;
	char **echo = NULL;
	size_t i, j, necho = 0;
	int rc = -1, reply = 0;

	s->auto_reply = 1;
	s->ar_pos.line = v->line;
	s->ar_pos.col = v->col;
	s->ar_count = DEF_AUTO_REPLY_COUNT;
	s->ar_window = DEF_AUTO_REPLY_WINDOW;
	if (map_keys(ld, v, "auto_reply", keys) == -1 ||
	    get_str(ld, v, "subject", &s->ar_subject) == -1 ||
	    get_list(ld, v, "echo", &echo, &necho, name_ok, "is not a field "
	    "name") == -1 ||
	    get_profiles(ld, v, &s->ar_smtp, &s->nar_smtp) == -1)
		goto out;
	for (i = 0; i < s->nfields; i++)
		reply |= s->fields[i].reply_to;
	if (!reply) {
		NERR(ld, v, "auto_reply needs a field with reply_to: true "
		    "(the receipt goes to its address only)");
		goto out;
	}
	for (i = 0; i < necho; i++) {
		for (j = 0; j < s->nfields; j++)
			if (strcmp(s->fields[j].name, echo[i]) == 0)
				break;
		if (j == s->nfields) {
			NERR(ld, map_get(v, "echo")->items[i], "echo: no "
			    "field named '%s'", echo[i]);
			goto out;
		}
		s->fields[j].echo = 1;
	}
	if ((l = map_get(v, "limit")) != NULL &&
	    (want_kind(ld, l, Y_SCALAR, "limit") == -1 ||
	    parse_rate(l->str, &s->ar_count, &s->ar_window) == -1)) {
		if (l->kind == Y_SCALAR)
			NERR(ld, l, "limit must be COUNT/DURATION such as "
			    "3/1d");
		goto out;
	}
	if (s->ar_subject == NULL && (s->ar_subject = strdup(s->lang ==
	    LANG_JA ? "お問い合わせを受け付けました（受付番号：{{_id}}）" :
	    "We received your message (ref. {{_id}})")) == NULL)
		goto out;
	if (has_ctl(s->ar_subject, strlen(s->ar_subject))) {
		NERR(ld, map_get(v, "subject"), "subject must be one line");
		goto out;
	}
	rc = 0;
out:
	strv_free(echo, necho);
	return rc;
}

/* dkim: { selector, key_file }: the key itself is read with the secrets,
 * as the service user. */
static int
parse_dkim(struct ld *ld, const struct ynode *v, struct site *s)
{
	static const char *const dkeys[] = { "selector", "key_file", NULL };
	char name[LIM_ADDR_DOMAIN + 2];
	int len;

	if (map_keys(ld, v, "dkim", dkeys) == -1 ||
	    get_str(ld, v, "selector", &s->dkim_selector) == -1 ||
	    get_path(ld, v, "key_file", &s->dkim_key_file) == -1)
		return -1;
	if (s->dkim_selector == NULL || s->dkim_key_file == NULL) {
		NERR(ld, v, "dkim needs selector and key_file");
		return -1;
	}
	len = snprintf(name, sizeof name, "%s.%s", s->dkim_selector,
	    s->from_domain);
	if (len < 0 || (size_t)len >= sizeof name || !addr_domain_ok(name)) {
		NERR(ld, map_get(v, "selector"), "dkim selector must be DNS "
		    "labels (letters, digits, '-', dots), such as fp2026");
		return -1;
	}
	s->dkim_pos.line = v->line;
	s->dkim_pos.col = v->col;
	return 0;
}

/* The site's max_body (its own, up to MAX_SITE_MAX_BODY, else the
 * global one), which every file field's max must fit in. */
static int
parse_site_body(struct ld *ld, const struct ynode *n, struct site *s)
{
	unsigned long long v = ld->c->max_body;
	size_t i;

	if (get_size(ld, n, "max_body", MIN_MAX_BODY, MAX_SITE_MAX_BODY, &v)
	    == -1)
		return -1;
	s->max_body = (size_t)v;
	for (i = 0; i < s->nfields; i++) {
		struct field *f = &s->fields[i];
		if (f->type != FT_FILE)
			continue;
		s->has_files = 1;
		if (f->file_max == 0)
			f->file_max = s->max_body;
		if (f->file_max > s->max_body) {
			NERR(ld, map_get(n, "fields"), "field %s: max (%llu bytes) is larger "
			    "than the site's max_body (%zu bytes); raise "
			    "max_body (up to 32M)", f->name, f->file_max,
			    s->max_body);
			return -1;
		}
	}
	return 0;
}

static int
parse_site(struct ld *ld, const struct ynode *key, const struct ynode *n,
    struct site *s)
{
	static const char *const keys[] = { "origins", "from",
	    "envelope_from", "to", "cc", "bcc", "smtp", "subject", "lang",
	    "templates", "reply_to_name", "fields", "honeypot", "redirect",
	    "rate_limit", "filters", "token", "dkim", "max_body", "confirm",
	    "auto_reply", NULL };
	static const char *const fkeys[] = { "max_links", "require_japanese",
	    NULL };
	static const char *const tkeys[] = { "required", "min_age", "max_age",
	    NULL };
	const char *bad_addr = "is not an address (local@example.com; "
	    "write internationalised domains as xn--)";
	const struct ynode *v;
	struct config *c = ld->c;
	char **names = NULL;
	size_t i, nnames = 0;

	s->pos.line = key->line;
	s->pos.col = key->col;
	s->token_min_age = DEF_TOKEN_MIN_AGE;
	s->token_max_age = DEF_TOKEN_MAX_AGE;
	s->max_links = UINT_MAX;
	if (!name_ok(key->str)) {
		NERR(ld, key, "site name '%s' may use only letters, digits, "
		    "'_' and '-' (it is the last segment of the form's URL)",
		    key->str);
		return -1;
	}
	/* <prefix>/token... and <prefix>/_metrics are other routes: a site
	 * so named could never be reached. */
	if (strcmp(key->str, "token") == 0 || key->str[0] == '_') {
		NERR(ld, key, "site name '%s' is reserved (token and names "
		    "starting with '_' are other routes)", key->str);
		return -1;
	}
	if ((s->name = strdup(key->str)) == NULL)
		return -1;
	if (want_kind(ld, n, Y_MAP, key->str) == -1 ||
	    map_keys(ld, n, "a site", keys) == -1 ||
	    get_list(ld, n, "origins", &s->origins, &s->norigins, origin_ok,
	    "is not an origin such as https://www.example.com (scheme and "
	    "host, no path)") == -1 ||
	    get_str(ld, n, "from", &s->from) == -1 ||
	    get_str(ld, n, "envelope_from", &s->envelope_from) == -1 ||
	    get_list(ld, n, "to", &s->to, &s->nto, addr_ok, bad_addr)
	    == -1 ||
	    get_list(ld, n, "cc", &s->cc, &s->ncc, addr_ok, bad_addr)
	    == -1 ||
	    get_list(ld, n, "bcc", &s->bcc, &s->nbcc, addr_ok,
	    bad_addr) == -1 ||
	    get_str(ld, n, "subject", &s->subject) == -1 ||
	    get_path(ld, n, "templates", &s->templates) == -1 ||
	    get_str(ld, n, "reply_to_name", &s->reply_to_name) == -1 ||
	    get_str(ld, n, "honeypot", &s->honeypot) == -1 ||
	    get_str(ld, n, "redirect", &s->redirect) == -1 ||
	    get_bool(ld, n, "confirm", &s->confirm) == -1 ||
	    parse_fields(ld, map_get(n, "fields"), s) == -1)
		return -1;
	if (s->norigins == 0) {
		NERR(ld, key, "site %s needs origins: the sites whose pages "
		    "may post to it (https://www.example.com)", s->name);
		return -1;
	}
	if ((v = map_get(n, "from")) == NULL) {
		NERR(ld, key, "site %s needs from: a fixed, real, send-only "
		    "address such as \"Example Web <noreply@example.com>\"",
		    s->name);
		return -1;
	}
	s->from_pos.line = v->line;
	s->from_pos.col = v->col;
	if (parse_mailbox(s->from, &s->from_name, &s->from_addr) == -1) {
		NERR(ld, v, "from must be \"Name <local@example.com>\" or "
		    "local@example.com");
		return -1;
	}
	s->from_domain = strrchr(s->from_addr, '@') + 1;
	if (s->envelope_from) {
		v = map_get(n, "envelope_from");
		s->envelope_from_pos.line = v->line;
		s->envelope_from_pos.col = v->col;
		if (!addr_spec_ok(s->envelope_from, NULL)) {
			NERR(ld, v, "envelope_from %s", bad_addr);
			return -1;
		}
	}
	if (s->nto == 0) {
		NERR(ld, key, "site %s needs to: at least one recipient",
		    s->name);
		return -1;
	}
	if ((v = map_get(n, "lang")) != NULL) {
		if (v->kind == Y_SCALAR && strcmp(v->str, "ja") == 0)
			s->lang = LANG_JA;
		else if (v->kind == Y_SCALAR && strcmp(v->str, "en") == 0)
			s->lang = LANG_EN;
		else {
			NERR(ld, v, "lang must be ja or en");
			return -1;
		}
	}
	if (s->subject == NULL &&
	    (s->subject = strdup(s->lang == LANG_JA ? "[お問い合わせ] {{_site}}"
	    : "[Contact] {{_site}}")) == NULL)
		return -1;
	if (has_ctl(s->subject, strlen(s->subject))) {
		NERR(ld, map_get(n, "subject"), "subject must be one line");
		return -1;
	}
	if (get_profiles(ld, n, &s->smtp, &s->nsmtp) == -1)
		goto fail;
	if (s->nsmtp == 0) {
		if (c->nprofiles != 1) {
			NERR(ld, key, "site %s must name its smtp: profiles "
			    "(there are several)", s->name);
			goto fail;
		}
		s->smtp = calloc(1, sizeof *s->smtp);
		if (s->smtp == NULL)
			goto fail;
		s->smtp[s->nsmtp++] = &c->profiles[0];
	}
	if (s->reply_to_name) {
		for (i = 0; i < s->nfields; i++)
			if (strcmp(s->fields[i].name, s->reply_to_name) == 0)
				break;
		if (i == s->nfields) {
			NERR(ld, map_get(n, "reply_to_name"), "reply_to_name: "
			    "no field named '%s'", s->reply_to_name);
			return -1;
		}
	}
	if ((v = map_get(n, "auto_reply")) != NULL &&
	    parse_auto_reply(ld, v, s) == -1)
		return -1;
	if (s->honeypot) {
		v = map_get(n, "honeypot");
		if (!name_ok(s->honeypot) || s->honeypot[0] == '_') {
			NERR(ld, v, "honeypot must be a field name");
			return -1;
		}
		for (i = 0; i < s->nfields; i++)
			if (strcmp(s->fields[i].name, s->honeypot) == 0) {
				NERR(ld, v, "honeypot '%s' is also a real "
				    "field", s->honeypot);
				return -1;
			}
	}
	if (s->redirect) {
		v = map_get(n, "redirect");
		if ((strncmp(s->redirect, "https://", 8) != 0 &&
		    strncmp(s->redirect, "http://", 7) != 0) ||
		    has_ctl(s->redirect, strlen(s->redirect)) ||
		    strpbrk(s->redirect, " \"<>\\")) {
			NERR(ld, v, "redirect must be an absolute http(s) URL");
			return -1;
		}
	}
	if ((v = map_get(n, "rate_limit")) != NULL) {
		if (want_kind(ld, v, Y_SCALAR, "rate_limit") == -1)
			return -1;
		if (parse_rate(v->str, &s->rate_count, &s->rate_window)
		    == -1)
			goto bad_rate;
	}
	if ((v = map_get(n, "filters")) != NULL) {
		unsigned long long ml = UINT_MAX;
		if (map_keys(ld, v, "filters", fkeys) == -1 ||
		    get_uint(ld, v, "max_links", 0, MAX_MAX_LINKS, &ml) == -1 ||
		    get_bool(ld, v, "require_japanese", &s->require_japanese)
		    == -1)
			return -1;
		s->max_links = (unsigned)ml;
	}
	if ((v = map_get(n, "token")) != NULL) {
		if (map_keys(ld, v, "token", tkeys) == -1 ||
		    get_bool(ld, v, "required", &s->token_required) == -1 ||
		    get_duration(ld, v, "min_age", 0, MAX_TOKEN_MIN_AGE,
		    &s->token_min_age) == -1 ||
		    get_duration(ld, v, "max_age", 1, MAX_TOKEN_MAX_AGE,
		    &s->token_max_age) == -1)
			return -1;
		if (s->token_min_age >= s->token_max_age) {
			NERR(ld, v, "token: min_age must be below max_age");
			return -1;
		}
	}
	if ((v = map_get(n, "dkim")) != NULL && parse_dkim(ld, v, s) == -1)
		return -1;
	return parse_site_body(ld, n, s);
bad_rate:
	NERR(ld, v, "rate_limit must be COUNT/DURATION such as 5/10m");
	return -1;
fail:
	strv_free(names, nnames);
	return -1;
}

static int
parse_site_cb(struct ld *ld, const struct ynode *k, const struct ynode *v,
    void *s)
{
	return parse_site(ld, k, v, s);
}

static int
parse_sites(struct ld *ld, const struct ynode *root)
{
	return parse_named(ld, root, "sites", LIM_SITES, sizeof(struct site),
	    (void **)&ld->c->sites, &ld->c->nsites, parse_site_cb,
	    "no sites: configured; add one (see conf/formpost.example.yaml)");
}

/* ------------------------------------------------------------ public */

static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ------------------------------------------- operations (design "Operations") */

/* Two numeric addresses (never names) equal as addresses. */
static int
ip_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 &&
		    memcmp(x, y, 16) == 0;
	return 0;
}

int
config_metrics_allowed(const struct config *c, const char *addr)
{
	size_t i;

	if (addr == NULL)
		return 0;
	for (i = 0; i < c->nmetrics_allow; i++)
		if (ip_equal(c->metrics_allow[i], addr))
			return 1;
	return 0;
}

int
config_webhook_ok(const char *url, const char **why)
{
	const char *h, *end;
	char host[256];
	size_t n;
	int tls;

	*why = "must start with https:// (or http:// to a loopback host)";
	if (strncmp(url, "https://", 8) == 0)
		tls = 1, h = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		tls = 0, h = url + 7;
	else
		return -1;
	if (strlen(url) > LIM_ALERT_URL) {
		*why = "is too long";
		return -1;
	}
	for (end = url; *end; end++)
		if ((unsigned char)*end <= 0x20 || (unsigned char)*end >= 0x7f) {
			*why = "must not hold spaces, controls or non-ASCII "
			    "bytes";
			return -1;
		}
	end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)) != NULL) {
		*why = "must not carry a user name or password (userinfo): "
		    "put the secret in the path the service gives you";
		return -1;
	}
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb == NULL) {
			*why = "has an unclosed [";
			return -1;
		}
		n = (size_t)(rb - h - 1);
		h++;
	} else
		n = strcspn(h, ":/?#");
	if (n == 0 || n >= sizeof host) {
		*why = "has no host";
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (!tls && !config_host_is_loopback(host)) {
		*why = "may use http:// only to a loopback host: use https://";
		return -1;
	}
	return 0;
}

/* alerts: to, smtp (profiles), webhook, min_interval. */
static int
parse_alerts(struct ld *ld, const struct ynode *n)
{
	static const char *const keys[] = { "to", "smtp", "webhook",
	    "min_interval", NULL };
	const char *bad_addr = "is not a valid address (local@domain)", *why;
	struct config *c = ld->c;
	char **names = NULL;
	size_t nnames = 0, i, k;
	int rc = -1;

	if (map_keys(ld, n, "alerts", keys) == -1 ||
	    get_list(ld, n, "to", &c->alert_to, &c->nalert_to, addr_ok,
	    bad_addr) == -1 ||
	    get_str(ld, n, "webhook", &c->alert_webhook) == -1 ||
	    get_duration(ld, n, "min_interval", 1, MAX_ALERT_MIN_INTERVAL,
	    &c->alert_min_interval) == -1 ||
	    get_list(ld, n, "smtp", &names, &nnames, name_ok, "is not a "
	    "profile name") == -1)
		goto out;
	if (c->alert_webhook && config_webhook_ok(c->alert_webhook, &why)) {
		NERR(ld, map_get(n, "webhook"), "alerts: webhook %s", why);
		goto out;
	}
	if ((nnames > 0) != (c->nalert_to > 0)) {
		NERR(ld, n, "alerts: mail needs both to: (recipients) and "
		    "smtp: (profiles)");
		goto out;
	}
	if (nnames == 0 && c->alert_webhook == NULL) {
		NERR(ld, n, "alerts: give to: and smtp:, or webhook:, or both");
		goto out;
	}
	if (nnames && (c->alert_smtp = calloc(nnames,
	    sizeof *c->alert_smtp)) == NULL) {
		NERR(ld, n, "out of memory");
		goto out;
	}
	for (i = 0; i < nnames; i++) {
		for (k = 0; k < c->nprofiles; k++)
			if (strcmp(c->profiles[k].name, names[i]) == 0)
				break;
		if (k == c->nprofiles) {
			NERR(ld, map_get(n, "smtp")->items[i], "alerts: no "
			    "smtp profile named '%s'", names[i]);
			goto out;
		}
		c->alert_smtp[c->nalert_smtp++] = &c->profiles[k];
	}
	rc = 0;
out:
	strv_free(names, nnames);
	return rc;
}

/* retention: failed (a duration), archive (a duration; a bare number
 * is days, the unit the key is usually thought in). */
static int
parse_retention(struct ld *ld, const struct ynode *n)
{
	static const char *const keys[] = { "failed", "archive", NULL };
	struct config *c = ld->c;
	const struct ynode *a;
	unsigned long long days;

	if (map_keys(ld, n, "retention", keys) == -1 ||
	    get_duration(ld, n, "failed", 0, MAX_RETENTION,
	    &c->retention_failed) == -1)
		return -1;
	if ((a = map_get(n, "archive")) == NULL)
		return 0;
	if (a->kind == Y_SCALAR && parse_ull(a->str, &days) == 0) {
		if (days > MAX_RETENTION / 86400) {
			NERR(ld, a, "archive must be at most %u days",
			    MAX_RETENTION / 86400);
			return -1;
		}
		c->retention_archive = (unsigned)days * 86400;
		return 0;
	}
	return get_duration(ld, n, "archive", 0, MAX_RETENTION,
	    &c->retention_archive);
}

/* A scalar that must be one of words; its index in *out. */
static int
get_word(struct ld *ld, const struct ynode *map, const char *key,
    const char *const *words, int *out)
{
	const struct ynode *n = map_get(map, key);
	struct buf b;
	int i;

	if (n == NULL)
		return 0;
	if (want_kind(ld, n, Y_SCALAR, key) == -1)
		return -1;
	for (i = 0; words[i]; i++)
		if (strcmp(n->str, words[i]) == 0) {
			*out = i;
			return 0;
		}
	buf_init(&b);
	for (i = 0; words[i]; i++)
		buf_printf(&b, "%s%s", i ? " | " : "", words[i]);
	NERR(ld, n, "%s must be %s", key, b.data ? b.data : "");
	buf_free(&b);
	return -1;
}

static int
parse_ops(struct ld *ld, const struct ynode *root)
{
	static const char *const mkeys[] = { "allow", NULL };
	static const char *const ipw[] = { [LOG_IP_FULL] = "full",
	    [LOG_IP_MASKED] = "masked", [LOG_IP_NONE] = "none", NULL };
	static const char *const lvw[] = { [LOG_DEBUG] = "debug",
	    [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error",
	    NULL };
	struct config *c = ld->c;
	const struct ynode *n;
	int ip = (int)c->log_ip;

	if ((n = map_get(root, "metrics")) != NULL &&
	    (map_keys(ld, n, "metrics", mkeys) == -1 ||
	    get_list(ld, n, "allow", &c->metrics_allow, &c->nmetrics_allow,
	    ip_ok, "is not a numeric IP address") == -1))
		return -1;
	if ((n = map_get(root, "alerts")) != NULL && parse_alerts(ld, n) == -1)
		return -1;
	if ((n = map_get(root, "retention")) != NULL &&
	    parse_retention(ld, n) == -1)
		return -1;
	if (get_word(ld, root, "log_ip", ipw, &ip) == -1 ||
	    get_word(ld, root, "log_level", lvw, &c->log_level) == -1)
		return -1;
	c->log_ip = (enum log_ip_mode)ip;
	return 0;
}

/* ---------------------------------------------------------------- free */

void
config_free(struct config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsites; i++) {
		struct site *s = &c->sites[i];
		free(s->name);
		strv_free(s->origins, s->norigins);
		free(s->from);
		free(s->from_name);
		free(s->from_addr);
		free(s->envelope_from);
		strv_free(s->to, s->nto);
		strv_free(s->cc, s->ncc);
		strv_free(s->bcc, s->nbcc);
		free(s->smtp);
		free(s->subject);
		free(s->templates);
		free(s->reply_to_name);
		for (j = 0; j < s->nfields; j++) {
			struct field *f = &s->fields[j];
			free(f->name);
			free(f->label);
			if (f->pattern)
				regfree(&f->re);
			free(f->pattern);
			strv_free(f->options, f->noptions);
			strv_free(f->accept_ext, f->naccept);
			free(f->confirm);
		}
		free(s->fields);
		free(s->honeypot);
		free(s->redirect);
		free(s->dkim_selector);
		free(s->dkim_key_file);
		crypto_key_free(s->dkim_key);
		free(s->ar_subject);
		free(s->ar_smtp);
	}
	free(c->sites);
	for (i = 0; i < c->nprofiles; i++) {
		struct smtp_profile *p = &c->profiles[i];
		free(p->name);
		free(p->url);
		free(p->host);
		free(p->username);
		free(p->password_file);
		free(p->password_env);
		free(p->password_credential);
		secret_free(p->password);
		free(p->ca_file);
	}
	free(c->profiles);
	free(c->path);
	free(c->listen_path);
	free(c->listen_host);
	free(c->socket_group);
	strv_free(c->fastcgi_allow, c->nfastcgi_allow);
	free(c->user);
	free(c->spool);
	free(c->templates);
	strv_free(c->metrics_allow, c->nmetrics_allow);
	strv_free(c->alert_to, c->nalert_to);
	free(c->alert_smtp);
	free(c->alert_webhook);
	free(c);
}

struct config *
config_parse(const char *name, const char *dir, const char *data, size_t len,
    char *err, size_t errlen)
{
	struct ld ld = { .name = name, .dir = dir ? dir : ".", .err = err,
	    .errlen = errlen };
	struct ynode *root = NULL;
	struct config *c;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	ld.c = c;
	c->workers = DEF_WORKERS;
	c->max_body = DEF_MAX_BODY;
	c->max_fields = DEF_MAX_FIELDS;
	c->max_field_name = DEF_MAX_FIELD_NAME;
	c->spool_max_messages = DEF_SPOOL_MAX_MESSAGES;
	c->spool_min_free = DEF_SPOOL_MIN_FREE;
	c->spool_max_held = DEF_SPOOL_MAX_HELD;
	c->spool_max_held_bytes = DEF_SPOOL_MAX_HELD_BYTES;
	c->first_retry = DEF_FIRST_RETRY;
	c->max_retry = DEF_MAX_RETRY;
	c->max_age = DEF_MAX_AGE;
	c->read_timeout = DEF_READ_TIMEOUT;
	c->alert_min_interval = DEF_ALERT_MIN_INTERVAL;
	c->retention_failed = DEF_RETENTION_FAILED;
	c->log_level = LOG_INFO;
	if ((c->path = strdup(name)) == NULL ||
	    (c->spool = strdup("/var/spool/formpost")) == NULL ||
	    (c->templates = strdup(FORMPOST_SHAREDIR "/templates")) == NULL) {
		ld_error(&ld, 0, 0, "out of memory");
		goto fail;
	}
	if (len > LIM_CONFIG_BYTES) {
		ld_error(&ld, 0, 0, "larger than %d bytes", LIM_CONFIG_BYTES);
		goto fail;
	}
	if ((root = tree_build(&ld, data, len)) == NULL)
		goto fail;
	if (parse_top(&ld, root) == -1 || parse_profiles(&ld, root) == -1 ||
	    parse_sites(&ld, root) == -1 || parse_ops(&ld, root) == -1)
		goto fail;
	ynode_free(root);
	return c;
fail:
	if (!ld.failed)
		ld_error(&ld, 0, 0, "out of memory");
	ynode_free(root);
	config_free(c);
	return NULL;
}

/* Reads a whole small file; caller frees *out.  0, or an errno value. */
static int
read_small_file(const char *path, size_t cap, char **out, size_t *outlen)
{
	struct buf b;
	int rc;

	buf_init(&b);
	if ((rc = file_read(path, cap, &b)) != 0) {
		buf_free(&b);
		return rc;
	}
	*outlen = b.len;
	return (*out = buf_steal(&b)) == NULL ? ENOMEM : 0;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *c;
	char *data = NULL, *dir, *slash;
	size_t len;
	int rc;

	if ((rc = read_small_file(path, LIM_CONFIG_BYTES, &data, &len)) != 0) {
		snprintf(err, errlen, "%s: cannot read: %s%s", path,
		    strerror(rc), rc == ENOENT ? " (give another "
		    "file with -c FILE or FORMPOST_CONFIG)" : "");
		return NULL;
	}
	if ((slash = strrchr(path, '/')) == NULL)
		dir = realpath(".", NULL);
	else if (slash == path)
		dir = strdup("/");
	else {
		char *d = fp_strndup(path, (size_t)(slash - path));
		dir = d ? realpath(d, NULL) : NULL;
		free(d);
	}
	if (dir == NULL) {
		snprintf(err, errlen, "%s: cannot resolve its directory: %s",
		    path, strerror(errno));
		free(data);
		return NULL;
	}
	c = config_parse(path, dir, data, len, err, errlen);
	free(dir);
	free(data);
	return c;
}

/*
 * password_env values are read from the environment once: the value's
 * bytes are then wiped where they lie (the initial environment stays
 * readable in /proc/PID/environ for the process's life) and the variable
 * unset.  A reload takes the value from this copy, which is what the
 * environment would still say: nothing outside the process can change it.
 * Process-wide, kept until exit.
 */
struct env_secret {
	struct env_secret *next;
	char *name, *value;
};
static struct env_secret *env_secrets;
static pthread_mutex_t env_secrets_lock = PTHREAD_MUTEX_INITIALIZER;

/* A copy of the secret in variable name (caller frees, secret_free); NULL
 * with *unset = 1 when the variable is not set or empty, else on OOM. */
static char *
env_secret_get(const char *name, int *unset)
{
	struct env_secret *e;
	char *v, *out = NULL;

	*unset = 0;
	pthread_mutex_lock(&env_secrets_lock);
	for (e = env_secrets; e && strcmp(e->name, name) != 0; e = e->next)
		;
	if (e == NULL && ((v = getenv(name)) == NULL || *v == '\0'))
		*unset = 1;
	else if (e == NULL && (e = calloc(1, sizeof *e)) != NULL) {
		if ((e->name = strdup(name)) == NULL ||
		    (e->value = strdup(v)) == NULL) {
			free(e->name);
			free(e);
			e = NULL;
		} else {
			explicit_bzero(v, strlen(v));
			unsetenv(name);
			e->next = env_secrets;
			env_secrets = e;
		}
	}
	if (e)
		out = strdup(e->value);
	pthread_mutex_unlock(&env_secrets_lock);
	return out;
}

/* Reads the secret in path (key names it in messages: password_file or
 * password_credential) into *s, refusing a file others may read or write.
 * Returns 0, or -1 with a message naming the file, never its content. */
static int
secret_file_read(const struct smtp_profile *p, const char *key,
    const char *path, char **s, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "smtp.%s: cannot read %s %s: %s",
		    p->name, key, path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (st.st_mode & 007) {
		snprintf(err, errlen, "smtp.%s: %s %s is accessible by others: "
		    "chmod 0600 it (or 0640 with the service group)", p->name,
		    key, path);
		return -1;
	}
	if ((rc = read_small_file(path, LIM_SECRET_BYTES, s, len)) != 0) {
		snprintf(err, errlen, "smtp.%s: cannot read %s %s: %s",
		    p->name, key, path, strerror(rc));
		return -1;
	}
	while (*len && ((*s)[*len - 1] == '\n' || (*s)[*len - 1] == '\r'))
		(*s)[--*len] = '\0';
	return 0;
}

/* password_credential: the file systemd's LoadCredential= put in
 * $CREDENTIALS_DIRECTORY (see systemd.exec(5), "Credentials"). */
static int
credential_read(const struct smtp_profile *p, char **s, size_t *len,
    char *err, size_t errlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path;
	int rc;

	if (dir == NULL || dir[0] != '/') {
		snprintf(err, errlen, "smtp.%s: password_credential %s needs "
		    "$CREDENTIALS_DIRECTORY, which is not set: run formpost "
		    "from its systemd unit with LoadCredential=%s:FILE (or use "
		    "password_file)", p->name, p->password_credential,
		    p->password_credential);
		return -1;
	}
	if (asprintf(&path, "%s/%s", dir, p->password_credential) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = secret_file_read(p, "password_credential", path, s, len, err,
	    errlen);
	free(path);
	return rc;
}

int
config_load_keys(struct config *c, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < c->nsites; i++) {
		struct site *si = &c->sites[i];
		struct crypto_key *k;
		char kerr[512];
		if (si->dkim_key_file == NULL)
			continue;
		if ((k = crypto_key_load(si->dkim_key_file, kerr, sizeof kerr))
		    == NULL) {
			snprintf(err, errlen, "site %s: dkim: %s", si->name,
			    kerr);
			return -1;
		}
		crypto_key_free(si->dkim_key);
		si->dkim_key = k;
	}
	return 0;
}

int
config_load_secrets(struct config *c, char *err, size_t errlen)
{
	size_t i, len;
	char *s;

	if (config_load_keys(c, err, errlen) == -1)
		return -1;
	for (i = 0; i < c->nprofiles; i++) {
		struct smtp_profile *p = &c->profiles[i];
		const char *src = p->password_env;
		if (p->password_env) {
			int unset;

			s = env_secret_get(p->password_env, &unset);
			if (unset) {
				snprintf(err, errlen, "smtp.%s: environment "
				    "variable %s is not set", p->name,
				    p->password_env);
				return -1;
			}
			len = s ? strlen(s) : 0;
		} else if (p->password_file) {
			src = p->password_file;
			if (secret_file_read(p, "password_file", src, &s, &len,
			    err, errlen) == -1)
				return -1;
		} else if (p->password_credential) {
			src = p->password_credential;
			if (credential_read(p, &s, &len, err, errlen) == -1)
				return -1;
		} else
			continue;
		if (s == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (len == 0 || memchr(s, 0, len) || has_ctl(s, len)) {
			snprintf(err, errlen, "smtp.%s: the password in %s is "
			    "empty or contains control characters", p->name,
			    src);
			secret_free(s);
			return -1;
		}
		secret_free(p->password);
		p->password = s;
	}
	return 0;
}

unsigned
config_hold_max_age(const struct config *c)
{
	unsigned m = 0;
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].token_max_age > m)
			m = c->sites[i].token_max_age;
	return m ? m : DEF_TOKEN_MAX_AGE;
}

void
config_hold_share(const struct config *c, unsigned long long *files,
    unsigned long long *bytes)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].confirm && c->sites[i].has_files)
			n++;
	*files = *bytes = 0;
	if (n < 2)
		return;
	*files = c->spool_max_held / n ? c->spool_max_held / n : 1;
	*bytes = c->spool_max_held_bytes / n ? c->spool_max_held_bytes / n : 1;
}

const struct site *
config_site(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (strcmp(c->sites[i].name, name) == 0)
			return &c->sites[i];
	return NULL;
}
