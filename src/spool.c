/*
 * spool — file format, durable commit, claims (see spool.h for the format
 * and the rules).  The format and parse half is pure and fuzzed; the rest
 * is the only code that writes into the spool directory.  Never: a
 * success return before fsync(file) and fsync(directory) both succeeded,
 * a second fsync on an fd whose fsync failed, or a message delivered from
 * a file that did not verify.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "util.h"

#define MAGIC      "formpost-spool"
#define END_LEN    (4 + 2 * SHA256_LEN + 1)   /* "end " HEX "\n" */
#define PATH_BYTES 4096

/* dir never changes after spool_open; the rest are counters and caches
 * that request and sender threads share without a lock. */
struct spool {
	char *dir;
	uid_t owner;                 /* the service user: dir's owner */
	atomic_long queued;          /* files in queue/: ours exactly, other
	                              * processes' as of the last scan */
	atomic_llong statfs_ms;      /* when free space was last read */
	atomic_ullong free_bytes;    /* what it said, for the service user */
	atomic_ullong free_inodes;
	atomic_int full;             /* the guard's state, for its log line */
	/* free/: emptied files this process moved there after delivery, to
	 * be written again by a commit instead of creating a new inode
	 * (doc/design.md "Performance").  A stack of names, newest last. */
	pthread_mutex_t free_mu;
	char free_names[LIM_SPOOL_FREE][SPOOL_ID_MAX + 1];
	size_t nfree;
	int free_init;
	struct dirsync *qsync;       /* group commit of queue/'s fsync */
};

/* Group commit of queue/'s directory fsync (doc/design.md
 * "Performance"): every change to queue/ (a rename in, an unlink) takes
 * a ticket once it is made; one fsync that starts after a change covers
 * it, so threads that change queue/ while an fsync runs wait for it to
 * end and then one of them syncs for all.  The files' own fsyncs stay
 * concurrent, one per thread. */
struct dirsync {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long long changed;  /* tickets handed out */
	unsigned long long synced;   /* changes up to this one are on disk */
	unsigned long long failed;   /* an fsync covering up to this one failed */
	int running;                 /* an fsync is in progress */
	int fd;                      /* queue/, kept open for those fsyncs
	                              * (-1: not yet, or closed after a
	                              * failed one); only the thread that
	                              * runs the fsync touches it */
};

static const char *const state_names[] = {
	[SPOOL_PENDING] = "pending", [SPOOL_SENT] = "sent",
	[SPOOL_FAILED] = "failed",
};

const char *
spool_state_name(enum spool_state st)
{
	return state_names[st];
}

static const char *const event_names[] = {
	[SPOOL_EV_SENT] = "sent", [SPOOL_EV_TEMP] = "temporary",
	[SPOOL_EV_CONFIG] = "config", [SPOOL_EV_PERM] = "permanent",
	[SPOOL_EV_EXPIRED] = "expired", [SPOOL_EV_RETRIED] = "retried",
};

const char *
spool_event_name(enum spool_event ev)
{
	return (unsigned)ev < ARRAY_LEN(event_names) ? event_names[ev] : "?";
}

/* --- pure ------------------------------------------------------------------ */

/* A token the format can hold: non-empty, no space or control, capped. */
static int
token_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static int
text_ok(const char *s)
{
	return strlen(s) < SPOOL_REPLY_MAX && !has_ctl(s, strlen(s));
}

void
spool_sanitise(char dst[SPOOL_REPLY_MAX], const char *src)
{
	str_sanitise(dst, SPOOL_REPLY_MAX, src, src ? strlen(src) : 0);
}

static void
attempt_free(struct spool_attempt *a)
{
	size_t i;

	for (i = 0; a->to && i < a->nto; i++) {
		free(a->to[i].addr);
		free(a->to[i].reply);
	}
	free(a->to);
	a->to = NULL;
	a->nto = 0;
}

void
spool_history_free(struct spool_msg *m)
{
	size_t i;

	for (i = 0; m->hist && i < m->nhist; i++)
		attempt_free(&m->hist[i]);
	free(m->hist);
	m->hist = NULL;
	m->nhist = 0;
}

void
spool_msg_free(struct spool_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->rcpt && i < m->nrcpt; i++)
		free(m->rcpt[i].addr);
	spool_history_free(m);
	free(m->rcpt);
	free(m->sender);
	spool_msg_drop_data(m);
	memset(m, 0, sizeof *m);
}

void
spool_msg_drop_data(struct spool_msg *m)
{
	if (m->in_file && !m->borrowed)
		close(m->fd);
	else if (!m->in_file && !m->borrowed)
		free(m->data);
	m->data = NULL;
	m->len = 0;
	m->in_file = 0;
	m->fd = -1;
	m->off = 0;
	m->borrowed = 0;
}

/* The base id's rule: the one line to change when ids change. */
static int
base_id_valid(const char *s)
{
	return id_spool_valid(s);
}

static int
split_receipt(const char *name, char base[SPOOL_ID_MAX + 1])
{
	size_t n = strnlen(name, SPOOL_ID_MAX + 1);
	size_t k = strlen(SPOOL_RECEIPT_SUFFIX);

	if (n > SPOOL_ID_MAX || n <= k ||
	    strcmp(name + n - k, SPOOL_RECEIPT_SUFFIX) != 0)
		return 0;
	memcpy(base, name, n - k);
	base[n - k] = '\0';
	return base_id_valid(base);
}

int
spool_id_is_receipt(const char *name)
{
	char base[SPOOL_ID_MAX + 1];

	return split_receipt(name, base);
}

int
spool_id_valid(const char *name)
{
	return base_id_valid(name) || spool_id_is_receipt(name);
}

int
spool_id_from_user(const char *typed, char out[SPOOL_ID_MAX + 1])
{
	char base[ID_INPUT_MAX + 1], id[ID_BUF];
	size_t n = strnlen(typed, ID_INPUT_MAX + 1);
	size_t k = strlen(SPOOL_RECEIPT_SUFFIX);
	int receipt = 0;

	if (n > ID_INPUT_MAX)
		return -1;
	memcpy(base, typed, n + 1);
	if (n > k && strcasecmp(base + n - k, SPOOL_RECEIPT_SUFFIX) == 0) {
		base[n - k] = '\0';
		receipt = 1;
	}
	if (id_from_user(base, id) == -1)
		return -1;
	snprintf(out, SPOOL_ID_MAX + 1, "%s%s", id,
	    receipt ? SPOOL_RECEIPT_SUFFIX : "");
	return 0;
}

static int
msg_new(struct spool_msg *out, const char *id, const char *site,
    long long created, const char *sender, char *const *rcpt, size_t nrcpt,
    const char *data, size_t len, int copy)
{
	struct spool_msg m;
	size_t i;

	memset(&m, 0, sizeof m);
	if (!spool_id_valid(id) || !token_ok(site, LIM_NAME_BYTES) ||
	    !token_ok(sender, LIM_ADDR_PATH) || nrcpt == 0 ||
	    nrcpt > LIM_SPOOL_RCPT || len > LIM_SPOOL_MESSAGE)
		return -1;
	snprintf(m.id, sizeof m.id, "%s", id);
	snprintf(m.site, sizeof m.site, "%s", site);
	m.created = created;
	m.nrcpt = nrcpt;
	if ((m.sender = strdup(sender)) == NULL ||
	    (m.rcpt = calloc(nrcpt, sizeof *m.rcpt)) == NULL)
		goto fail;
	if (!copy) {
		m.data = (char *)data;
		m.borrowed = 1;
	} else if ((m.data = malloc(len ? len : 1)) == NULL)
		goto fail;
	else
		memcpy(m.data, data, len);
	m.len = len;
	for (i = 0; i < nrcpt; i++) {
		if (!token_ok(rcpt[i], LIM_ADDR_PATH) ||
		    (m.rcpt[i].addr = strdup(rcpt[i])) == NULL)
			goto fail;
		m.rcpt[i].state = SPOOL_PENDING;
	}
	*out = m;
	return 0;
fail:
	spool_msg_free(&m);
	return -1;
}

int
spool_msg_new(struct spool_msg *out, const char *id, const char *site,
    long long created, const char *sender, char *const *rcpt, size_t nrcpt,
    const char *data, size_t len)
{
	return msg_new(out, id, site, created, sender, rcpt, nrcpt, data, len,
	    1);
}

int
spool_msg_borrow(struct spool_msg *out, const char *id, const char *site,
    long long created, const char *sender, char *const *rcpt, size_t nrcpt,
    const char *data, size_t len)
{
	return msg_new(out, id, site, created, sender, rcpt, nrcpt, data, len,
	    0);
}

int
spool_msg_borrow_file(struct spool_msg *out, const char *id,
    const char *site, long long created, const char *sender,
    char *const *rcpt, size_t nrcpt, int fd, unsigned long long off,
    size_t len)
{
	if (fd < 0 || msg_new(out, id, site, created, sender, rcpt, nrcpt,
	    NULL, len, 0) == -1)
		return -1;
	out->in_file = 1;
	out->fd = fd;
	out->off = off;
	return 0;
}

size_t
spool_count(const struct spool_msg *m, enum spool_state st)
{
	size_t i, n = 0;

	for (i = 0; i < m->nrcpt; i++)
		n += m->rcpt[i].state == st;
	return n;
}

/* --- history (doc/design.md "The spool") ---------------------------------- */

/* About the bytes an attempt takes in the file: what the byte budget
 * counts. */
static size_t
attempt_bytes(const struct spool_attempt *a)
{
	size_t i, n = 48 + strlen(a->profile) + strlen(a->reply);

	for (i = 0; i < a->nto; i++)
		n += 24 + strlen(a->to[i].addr) +
		    (a->to[i].reply ? strlen(a->to[i].reply) : 0);
	return n;
}

/* Drops the oldest attempts while more than keep are kept, or the ones
 * before the newest take more than LIM_SPOOL_HISTORY_BYTES. */
static void
history_trim(struct spool_msg *m, size_t keep)
{
	size_t i, drop = 0, bytes = 0;

	if (m->nhist > keep)
		drop = m->nhist - keep;
	for (i = drop; i + 1 < m->nhist; i++)
		bytes += attempt_bytes(&m->hist[i]);
	while (drop + 1 < m->nhist && bytes > LIM_SPOOL_HISTORY_BYTES)
		bytes -= attempt_bytes(&m->hist[drop++]);
	if (drop == 0)
		return;
	for (i = 0; i < drop; i++)
		attempt_free(&m->hist[i]);
	memmove(m->hist, m->hist + drop, (m->nhist - drop) * sizeof *m->hist);
	m->nhist -= drop;
}

struct spool_attempt *
spool_attempt_add(struct spool_msg *m, long long at, const char *profile,
    enum spool_event ev, int code, const char *reply)
{
	struct spool_attempt *h, *a;

	if (profile == NULL)
		profile = "-";
	if (!token_ok(profile, LIM_NAME_BYTES) || at < 0 ||
	    (unsigned)ev >= ARRAY_LEN(event_names) || code < 0 || code > 999)
		return NULL;
	/* Room for one more, then the oldest make way. */
	if ((h = realloc(m->hist, (m->nhist + 1) * sizeof *h)) == NULL)
		return NULL;
	m->hist = h;
	a = &m->hist[m->nhist++];
	memset(a, 0, sizeof *a);
	a->at = at;
	str_copy(a->profile, sizeof a->profile, profile);
	a->ev = ev;
	a->code = code;
	spool_sanitise(a->reply, reply);
	/* A message from before the history (version 1) counts the
	 * attempts it had as made and not kept. */
	if (m->hist_total == 0)
		m->hist_total = m->attempts;
	if (m->hist_total < UINT_MAX)
		m->hist_total++;
	history_trim(m, LIM_SPOOL_HISTORY);
	return &m->hist[m->nhist - 1];
}

int
spool_attempt_rcpt(struct spool_attempt *a, const char *addr,
    enum spool_event ev, int code, const char *reply)
{
	char text[SPOOL_REPLY_MAX];
	struct spool_tried *t;

	if (a->nto == LIM_SPOOL_RCPT || !token_ok(addr, LIM_ADDR_PATH) ||
	    (unsigned)ev >= ARRAY_LEN(event_names) || code < 0 || code > 999)
		return -1;
	spool_sanitise(text, reply);
	if ((t = realloc(a->to, (a->nto + 1) * sizeof *t)) == NULL)
		return -1;
	a->to = t;
	t = &a->to[a->nto];
	memset(t, 0, sizeof *t);
	if ((t->addr = strdup(addr)) == NULL)
		return -1;
	if (text[0] && strcmp(text, a->reply) != 0 &&
	    (t->reply = strdup(text)) == NULL) {
		free(t->addr);
		return -1;
	}
	t->ev = ev;
	t->code = code;
	a->nto++;
	return 0;
}

/* The history block of a version 2 file; 0 or -1 (a field the format
 * cannot hold). */
static int
format_history(const struct spool_msg *m, struct buf *out)
{
	size_t i, j;

	if (m->nhist == 0 || m->nhist > LIM_SPOOL_HISTORY_READ ||
	    m->nhist > m->hist_total)
		return -1;
	buf_printf(out, "history %u\n", m->hist_total);
	for (i = 0; i < m->nhist; i++) {
		const struct spool_attempt *a = &m->hist[i];
		if (a->at < 0 || !token_ok(a->profile, LIM_NAME_BYTES) ||
		    (unsigned)a->ev >= ARRAY_LEN(event_names) || a->code < 0 ||
		    a->code > 999 || !text_ok(a->reply) ||
		    a->nto > LIM_SPOOL_RCPT)
			return -1;
		buf_printf(out, "attempt %lld %s %s %d %s\n", a->at, a->profile,
		    event_names[a->ev], a->code, a->reply);
		for (j = 0; j < a->nto; j++) {
			const struct spool_tried *t = &a->to[j];
			if (!token_ok(t->addr, LIM_ADDR_PATH) ||
			    (unsigned)t->ev >= ARRAY_LEN(event_names) ||
			    t->code < 0 || t->code > 999 ||
			    (t->reply && !text_ok(t->reply)))
				return -1;
			buf_printf(out, "to %s %d %s %s\n", event_names[t->ev],
			    t->code, t->addr, t->reply ? t->reply : "");
		}
	}
	return 0;
}

/* Appends s, a line end, then next (the next line's key; NULL: none). */
static void
put_line(struct buf *out, const char *s, const char *next)
{
	buf_adds(out, s);
	buf_addc(out, '\n');
	if (next)
		buf_adds(out, next);
}

/* Appends n in decimal, a line end, then next. */
static void
put_num(struct buf *out, unsigned long long n, const char *next)
{
	char d[U64_STR];

	put_line(out, u64_str(d, n), next);
}

/* The header lines, up to and including "size LEN" and the empty line:
 * what comes before the wire bytes. */
static int
format_head(const struct spool_msg *m, struct buf *out)
{
	size_t i;

	if (!spool_id_valid(m->id) || !token_ok(m->site, LIM_NAME_BYTES) ||
	    !token_ok(m->sender, LIM_ADDR_PATH) || !text_ok(m->reply) ||
	    m->nrcpt == 0 || m->nrcpt > LIM_SPOOL_RCPT || m->created < 0 ||
	    m->next_try < 0 || m->len > LIM_SPOOL_MESSAGE ||
	    (m->hist_total == 0 && m->nhist > 0))
		return -1;
	/* Version 1 until there is history: a new commit is the bytes
	 * every earlier build reads (doc/design.md "The spool").  Every
	 * number was checked non-negative above: written without printf
	 * (doc/design.md "Performance"). */
	buf_adds(out, m->hist_total ? MAGIC " 2\nid " : MAGIC " 1\nid ");
	put_line(out, m->id, "site ");
	put_line(out, m->site, "created ");
	put_num(out, (unsigned long long)m->created, "sender ");
	put_line(out, m->sender, "attempts ");
	put_num(out, m->attempts, "next-try ");
	put_num(out, (unsigned long long)m->next_try, "reply ");
	put_line(out, m->reply, NULL);
	for (i = 0; i < m->nrcpt; i++) {
		const struct spool_rcpt *r = &m->rcpt[i];
		if (!token_ok(r->addr, LIM_ADDR_PATH) || !text_ok(r->reply) ||
		    r->code < 0 || r->code > 999 || (unsigned)r->state > 2)
			return -1;
		buf_adds(out, "rcpt ");
		buf_adds(out, state_names[r->state]);
		buf_addc(out, ' ');
		buf_addu(out, (unsigned long long)r->code);
		buf_addc(out, ' ');
		buf_adds(out, r->addr);
		buf_addc(out, ' ');
		put_line(out, r->reply, NULL);
	}
	if (m->hist_total && format_history(m, out) == -1)
		return -1;
	buf_adds(out, "size ");
	put_num(out, m->len, "\n");
	return out->oom ? -1 : 0;
}

/* A spool file as three pieces: the header lines (in head), the wire
 * bytes (m's, wherever they live: in memory, never copied; or in a file,
 * copied in chunks as the file is written) and the end line, whose
 * checksum is computed over the two as they pass. */
struct file_bytes {
	struct buf head;
	const char *data;            /* the bytes in memory, or */
	int fd;                      /* >= 0: at off in fd */
	unsigned long long off;
	size_t len;
	char end[END_LEN + 1];       /* for bytes in memory: made at once */
};

static void
end_line(struct crypto_sha256 *h, char end[END_LEN + 1], int *rc)
{
	unsigned char sum[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	if (crypto_sha256_end(h, sum) == -1) {
		*rc = -1;
		return;
	}
	crypto_hex(sum, sizeof sum, hex);
	snprintf(end, END_LEN + 1, "end %s\n", hex);
}

/* 0, or -1 (a field the format cannot hold, OOM); f->head to free
 * either way. */
static int
file_bytes(const struct spool_msg *m, struct file_bytes *f)
{
	struct crypto_sha256 *h;
	int rc = 0;

	buf_init(&f->head);
	f->data = m->in_file ? NULL : m->data;
	f->fd = m->in_file ? m->fd : -1;
	f->off = m->off;
	f->len = m->len;
	if (format_head(m, &f->head) == -1)
		return -1;
	if (m->in_file)
		return 0;        /* the end line is made as the bytes pass */
	h = crypto_sha256_begin();
	crypto_sha256_add(h, f->head.data, f->head.len);
	crypto_sha256_add(h, m->data, m->len);
	end_line(h, f->end, &rc);
	return rc;
}

int
spool_format(const struct spool_msg *m, struct buf *out)
{
	struct file_bytes f;
	int rc = -1;

	if (!m->in_file && file_bytes(m, &f) == 0) {
		buf_add(out, f.head.data, f.head.len);
		buf_add(out, f.data, f.len);
		buf_add(out, f.end, END_LEN);
		rc = out->oom ? -1 : 0;
	}
	buf_free(&f.head);
	return rc;
}

struct cursor {
	const char *p, *end;
};

/* The next "\n"-terminated line (without it) of at most LIM_SPOOL_LINE
 * bytes, free of controls; 0 or -1. */
static int
next_line(struct cursor *c, const char **line, size_t *len)
{
	size_t room = (size_t)(c->end - c->p), n;
	const char *nl;

	if (room > LIM_SPOOL_LINE + 1)
		room = LIM_SPOOL_LINE + 1;
	if ((nl = memchr(c->p, '\n', room)) == NULL)
		return -1;
	n = (size_t)(nl - c->p);
	if (has_ctl(c->p, n))
		return -1;
	*line = c->p;
	*len = n;
	c->p = nl + 1;
	return 0;
}

/* Splits "key rest": returns rest (and its length) when the line starts
 * with key and a space, else NULL. */
static const char *
field(const char *line, size_t len, const char *key, size_t *restlen)
{
	size_t k = strlen(key);

	if (len <= k || memcmp(line, key, k) != 0 || line[k] != ' ')
		return NULL;
	*restlen = len - k - 1;
	return line + k + 1;
}

static int
parse_num(const char *s, size_t n, long long max, long long *out)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* A token (no spaces) into dst[dstlen]; 0 or -1. */
static int
copy_token(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n == 0 || n >= dstlen || memchr(s, ' ', n))
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int
num_field(struct cursor *c, const char *key, long long max, long long *out)
{
	const char *line, *v;
	size_t len, n;

	if (next_line(c, &line, &len) == -1 ||
	    (v = field(line, len, key, &n)) == NULL)
		return -1;
	return parse_num(v, n, max, out);
}

static int
parse_rcpt(const char *v, size_t n, struct spool_rcpt *r)
{
	const char *sp1, *sp2, *sp3, *end = v + n;
	char addr[LIM_ADDR_PATH + 1];
	long long code;
	size_t i;

	if ((sp1 = memchr(v, ' ', n)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL ||
	    (sp3 = memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1))) == NULL)
		return -1;
	for (i = 0; i < ARRAY_LEN(state_names); i++)
		if ((size_t)(sp1 - v) == strlen(state_names[i]) &&
		    memcmp(v, state_names[i], (size_t)(sp1 - v)) == 0)
			break;
	if (i == ARRAY_LEN(state_names) ||
	    parse_num(sp1 + 1, (size_t)(sp2 - sp1 - 1), 999, &code) == -1 ||
	    copy_token(addr, sizeof addr, sp2 + 1,
	    (size_t)(sp3 - sp2 - 1)) == -1 ||
	    (size_t)(end - sp3 - 1) >= SPOOL_REPLY_MAX)
		return -1;
	if ((r->addr = strdup(addr)) == NULL)
		return -1;
	r->state = (enum spool_state)i;
	r->code = (int)code;
	memcpy(r->reply, sp3 + 1, (size_t)(end - sp3 - 1));
	r->reply[end - sp3 - 1] = '\0';
	return 0;
}

static int
event_of(const char *s, size_t n, enum spool_event *ev)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(event_names); i++)
		if (n == strlen(event_names[i]) &&
		    memcmp(s, event_names[i], n) == 0) {
			*ev = (enum spool_event)i;
			return 0;
		}
	return -1;
}

/* The k first spaces of v[0..n) into sp[]; 0, or -1 when there are
 * fewer. */
static int
spaces(const char *v, size_t n, const char **sp, size_t k)
{
	const char *p = v, *end = v + n;
	size_t i;

	for (i = 0; i < k; i++) {
		if ((sp[i] = memchr(p, ' ', (size_t)(end - p))) == NULL)
			return -1;
		p = sp[i] + 1;
	}
	return 0;
}

/* "EPOCH PROFILE EVENT CODE TEXT" into a; 0 or -1. */
static int
parse_attempt(const char *v, size_t n, struct spool_attempt *a)
{
	const char *sp[4], *end = v + n;
	long long num;

	if (spaces(v, n, sp, 4) == -1 ||
	    parse_num(v, (size_t)(sp[0] - v), 1LL << 40, &a->at) == -1 ||
	    copy_token(a->profile, sizeof a->profile, sp[0] + 1,
	    (size_t)(sp[1] - sp[0] - 1)) == -1 ||
	    event_of(sp[1] + 1, (size_t)(sp[2] - sp[1] - 1), &a->ev) == -1 ||
	    parse_num(sp[2] + 1, (size_t)(sp[3] - sp[2] - 1), 999,
	    &num) == -1 || (size_t)(end - sp[3] - 1) >= SPOOL_REPLY_MAX)
		return -1;
	a->code = (int)num;
	memcpy(a->reply, sp[3] + 1, (size_t)(end - sp[3] - 1));
	a->reply[end - sp[3] - 1] = '\0';
	return 0;
}

/* "EVENT CODE ADDR TEXT" into t; 0, -1 (bad) or -2 (out of memory). */
static int
parse_tried(const char *v, size_t n, struct spool_tried *t)
{
	const char *sp[3], *end = v + n;
	char addr[LIM_ADDR_PATH + 1];
	size_t tn;
	long long num;

	if (spaces(v, n, sp, 3) == -1 ||
	    event_of(v, (size_t)(sp[0] - v), &t->ev) == -1 ||
	    parse_num(sp[0] + 1, (size_t)(sp[1] - sp[0] - 1), 999,
	    &num) == -1 || copy_token(addr, sizeof addr, sp[1] + 1,
	    (size_t)(sp[2] - sp[1] - 1)) == -1 ||
	    (tn = (size_t)(end - sp[2] - 1)) >= SPOOL_REPLY_MAX)
		return -1;
	t->code = (int)num;
	if ((t->addr = strdup(addr)) == NULL)
		return -2;
	if (tn > 0 && (t->reply = strndup(sp[2] + 1, tn)) == NULL) {
		free(t->addr);
		t->addr = NULL;
		return -2;
	}
	return 0;
}

/* A version 2 file's history block, from its first line (*line) to the
 * line after it (left in *line).  0, -1 (bad) or -2 (out of memory).
 * Canonical, as the fuzzer checks: a total of at least 1, at least one
 * attempt kept and no more than the total. */
static int
parse_history(struct cursor *c, const char **line, size_t *len,
    struct spool_msg *m)
{
	struct spool_attempt *a = NULL, *h;
	struct spool_tried *t;
	const char *v;
	size_t vn;
	long long num;
	int rc;

	if ((v = field(*line, *len, "history", &vn)) == NULL ||
	    parse_num(v, vn, UINT_MAX, &num) == -1 || num == 0)
		return -1;
	m->hist_total = (unsigned)num;
	while (next_line(c, line, len) == 0) {
		if ((v = field(*line, *len, "attempt", &vn)) != NULL) {
			if (m->nhist == LIM_SPOOL_HISTORY_READ ||
			    m->nhist == m->hist_total)
				return -1;
			if ((h = realloc(m->hist, (m->nhist + 1) *
			    sizeof *h)) == NULL)
				return -2;
			m->hist = h;
			a = &h[m->nhist];
			memset(a, 0, sizeof *a);
			if (parse_attempt(v, vn, a) == -1)
				return -1;
			m->nhist++;
		} else if ((v = field(*line, *len, "to", &vn)) != NULL) {
			if (a == NULL || a->nto == LIM_SPOOL_RCPT)
				return -1;
			if ((t = realloc(a->to, (a->nto + 1) *
			    sizeof *t)) == NULL)
				return -2;
			a->to = t;
			memset(&t[a->nto], 0, sizeof *t);
			if ((rc = parse_tried(v, vn, &t[a->nto])) != 0)
				return rc;
			a->nto++;
		} else
			return m->nhist > 0 ? 0 : -1;
	}
	return -1;
}

/* The version p's first line names, or -1 when it has no such line. */
static long long
version_of(const char *p, size_t n)
{
	struct cursor c = { p, p + n };
	const char *line, *v;
	size_t len, vn;
	long long num;

	if (next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, MAGIC, &vn)) == NULL ||
	    parse_num(v, vn, 1000000, &num) == -1)
		return -1;
	return num;
}

/* What is checked before any field: the size, the end marker (a torn
 * file stops anywhere before it), the checksum, and the version.  A file
 * that names a newer version is left alone (SPOOL_TOO_NEW) unless it
 * carries our marker with a wrong checksum: then it was flipped, not
 * written so.  SPOOL_PARSED when the fields may be read. */
static enum spool_parse_rc
verify(const char *p, size_t n, char *err, size_t errlen)
{
	unsigned char sum[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	const char *what = "size out of range";
	long long version = version_of(p, n);
	int marked;

	if (n > LIM_SPOOL_FILE)
		goto bad;
	marked = n >= END_LEN && memcmp(p + n - END_LEN, "end ", 4) == 0 &&
	    p[n - 1] == '\n';
	if (marked) {
		if (crypto_sha256(p, n - END_LEN, sum) == -1) {
			snprintf(err, errlen, "sha256 failed");
			return SPOOL_UNCHECKED;
		}
		crypto_hex(sum, sizeof sum, hex);
		what = "checksum mismatch";
		if (memcmp(hex, p + n - END_LEN + 4, 2 * SHA256_LEN) != 0)
			goto bad;
	}
	if (version > SPOOL_VERSION) {
		snprintf(err, errlen, "written by a newer formpost (spool "
		    "format version %lld; this one reads 1 to %d)", version,
		    SPOOL_VERSION);
		return SPOOL_TOO_NEW;
	}
	what = n < END_LEN ? "size out of range" :
	    "no end marker (torn file)";
	if (!marked)
		goto bad;
	return SPOOL_PARSED;
bad:
	snprintf(err, errlen, "%s", what);
	return SPOOL_BAD;
}

/* spool_parse; with copy 0, out->data points into p (borrowed: the
 * caller makes it owned). */
static enum spool_parse_rc
parse(const char *p, size_t n, struct spool_msg *out, char *err,
    size_t errlen, int copy)
{
	enum spool_parse_rc rc;
	char sender[LIM_ADDR_PATH + 1];
	struct spool_msg m;
	struct cursor c;
	const char *line, *v, *what = "header";
	size_t len, vn, cap = 8;
	long long num, version;
	int hrc;

	memset(&m, 0, sizeof m);
	if ((rc = verify(p, n, err, errlen)) != SPOOL_PARSED)
		return rc;
	rc = SPOOL_BAD;
	c.p = p;
	c.end = p + n - END_LEN;
	if (next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, MAGIC, &vn)) == NULL ||
	    parse_num(v, vn, 1000, &num) == -1 || num < 1 ||
	    num > SPOOL_VERSION) {
		what = "not a version 1 or 2 spool file";
		goto fail;
	}
	version = num;
	if (next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, "id", &vn)) == NULL ||
	    copy_token(m.id, sizeof m.id, v, vn) == -1 ||
	    !spool_id_valid(m.id) ||
	    next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, "site", &vn)) == NULL ||
	    copy_token(m.site, sizeof m.site, v, vn) == -1 ||
	    num_field(&c, "created", 1LL << 40, &m.created) == -1 ||
	    next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, "sender", &vn)) == NULL ||
	    copy_token(sender, sizeof sender, v, vn) == -1 ||
	    num_field(&c, "attempts", UINT_MAX, &num) == -1)
		goto fail;
	m.attempts = (unsigned)num;
	if (num_field(&c, "next-try", 1LL << 40, &m.next_try) == -1 ||
	    next_line(&c, &line, &len) == -1 ||
	    (v = field(line, len, "reply", &vn)) == NULL ||
	    vn >= SPOOL_REPLY_MAX)
		goto fail;
	memcpy(m.reply, v, vn);
	m.reply[vn] = '\0';
	if ((m.sender = strdup(sender)) == NULL) {
		what = "out of memory";
		rc = SPOOL_UNCHECKED;
		goto fail;
	}
	for (;;) {
		if (next_line(&c, &line, &len) == -1)
			goto fail;
		if ((v = field(line, len, "rcpt", &vn)) == NULL)
			break;
		what = "recipient";
		if (m.nrcpt == LIM_SPOOL_RCPT)
			goto fail;
		if (m.nrcpt == 0 || m.nrcpt == cap) {
			struct spool_rcpt *t;
			if (m.nrcpt)
				cap *= 2;
			if ((t = realloc(m.rcpt, cap * sizeof *t)) == NULL) {
				what = "out of memory";
				rc = SPOOL_UNCHECKED;
				goto fail;
			}
			m.rcpt = t;
		}
		memset(&m.rcpt[m.nrcpt], 0, sizeof m.rcpt[m.nrcpt]);
		if (parse_rcpt(v, vn, &m.rcpt[m.nrcpt]) == -1)
			goto fail;
		m.nrcpt++;
	}
	what = "history";
	if (version == 2 && (hrc = parse_history(&c, &line, &len,
	    &m)) != 0) {
		if (hrc == -2) {
			what = "out of memory";
			rc = SPOOL_UNCHECKED;
		}
		goto fail;
	}
	what = "size";
	if (m.nrcpt == 0 || (v = field(line, len, "size", &vn)) == NULL ||
	    parse_num(v, vn, LIM_SPOOL_FILE, &num) == -1 ||
	    next_line(&c, &line, &len) == -1 || len != 0 ||
	    (size_t)(c.end - c.p) != (size_t)num)
		goto fail;
	m.len = (size_t)num;
	if (!copy) {
		m.data = (char *)c.p;
		m.borrowed = 1;
	} else if ((m.data = malloc(m.len ? m.len : 1)) == NULL) {
		what = "out of memory";
		rc = SPOOL_UNCHECKED;
		goto fail;
	} else
		memcpy(m.data, c.p, m.len);
	*out = m;
	return SPOOL_PARSED;
fail:
	snprintf(err, errlen, "%s", what);
	spool_msg_free(&m);
	return rc;
}

enum spool_parse_rc
spool_parse(const char *p, size_t n, struct spool_msg *out, char *err,
    size_t errlen)
{
	return parse(p, n, out, err, errlen, 1);
}

/* --- effects ----------------------------------------------------------------- */

/* sent/ is made when the first archived copy is written
 * (spool_write_sent): a spool without retention.archive never has one. */
static const char *const subdirs[] = { "tmp", "queue", "failed", "corrupt",
    "free", "hold" };

const char *
spool_path(const struct spool *sp)
{
	return sp->dir;
}

static int
mkdir_0700(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	return 0;
}

/* Removes the entries of dir older than LIM_SPOOL_TMP_AGE: tmp/
 * leftovers, and free/ files no live process is about to reuse (younger
 * ones may belong to another process sharing the spool). */
static void
purge_old(const char *tmp)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;

	if ((d = opendir(tmp)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime < now - LIM_SPOOL_TMP_AGE)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool *sp;
	char path[PATH_BYTES];
	struct stat st;
	size_t i;

	if ((sp = calloc(1, sizeof *sp)) == NULL ||
	    (sp->dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir_0700(dir, err, errlen) == -1)
		goto fail;
	for (i = 0; i < ARRAY_LEN(subdirs); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, subdirs[i]);
		if (mkdir_0700(path, err, errlen) == -1)
			goto fail;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	sp->owner = st.st_uid;
	snprintf(path, sizeof path, "%s/tmp", dir);
	purge_old(path);
	snprintf(path, sizeof path, "%s/free", dir);
	purge_old(path);
	pthread_mutex_init(&sp->free_mu, NULL);
	sp->free_init = 1;
	if ((sp->qsync = calloc(1, sizeof *sp->qsync)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	sp->qsync->fd = -1;
	pthread_mutex_init(&sp->qsync->mu, NULL);
	pthread_cond_init(&sp->qsync->cv, NULL);
	/* Until the first statvfs: no reason to refuse. */
	atomic_init(&sp->statfs_ms, -1000000);
	atomic_init(&sp->free_bytes, ~0ULL);
	atomic_init(&sp->free_inodes, ~0ULL);
	if (spool_scan(sp, NULL, NULL, err, errlen) == -1)
		goto fail;
	return sp;
fail:
	spool_close(sp);
	return NULL;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->free_init)
		pthread_mutex_destroy(&sp->free_mu);
	if (sp->qsync) {
		pthread_cond_destroy(&sp->qsync->cv);
		pthread_mutex_destroy(&sp->qsync->mu);
		if (sp->qsync->fd != -1)
			close(sp->qsync->fd);
		free(sp->qsync);
	}
	free(sp->dir);
	free(sp);
}

/* The pieces of f whose bytes are in a file: the header, then the bytes
 * in chunks read with pread (the checksum computed as they pass), then
 * the end line.  0, or -1 with errno (a read error is EIO, an error like
 * a failed write, never a signal). */
/* One piece of a message's bytes on its way into the new file. */
struct pass_on {
	int fd;
	struct crypto_sha256 *h;
};

static int
hash_and_write(void *arg, const void *p, size_t n)
{
	struct pass_on *po = arg;

	crypto_sha256_add(po->h, p, n);
	return file_write_all(po->fd, p, n);
}

static int
write_from_file(int fd, struct file_bytes *f)
{
	struct pass_on po = { fd, crypto_sha256_begin() };
	int rc = -1;

	if (po.h == NULL) {
		errno = ENOMEM;
		goto out;
	}
	crypto_sha256_add(po.h, f->head.data, f->head.len);
	if (file_write_all(fd, f->head.data, f->head.len) == -1 ||
	    file_each_chunk(f->fd, f->off, f->len, hash_and_write, &po) == -1)
		goto out;
	rc = 0;
	end_line(po.h, f->end, &rc);
	po.h = NULL;
	if (rc == 0 && file_write_all(fd, f->end, END_LEN) == -1)
		rc = -1;
out:
	if (po.h != NULL) {
		unsigned char sum[SHA256_LEN];
		(void)crypto_sha256_end(po.h, sum);
	}
	return rc;
}

/* Writes a spool file's three pieces at fd's offset: bytes in memory
 * with one writev, straight from where they are; bytes in a file through
 * write_from_file.  0 or -1. */
static int
write_file(int fd, struct file_bytes *f)
{
	struct iovec iov[3] = {
		{ f->head.data, f->head.len },
		{ (void *)f->data, f->len },
		{ (void *)f->end, END_LEN },
	};
	struct iovec *v = iov;
	int n = 3;

	if (f->fd >= 0)
		return write_from_file(fd, f);
	while (n > 0) {
		ssize_t w = writev(fd, v, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static size_t
file_size(const struct file_bytes *f)
{
	return f->head.len + f->len + END_LEN;
}

/* A new descriptor of the spool's directory SUB, for its fsync; -1 with
 * errno. */
static int
open_sub(const struct spool *sp, const char *sub)
{
	char path[PATH_BYTES];

	str_cat(path, sizeof path, sp->dir, "/", sub, (char *)NULL);
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* fsync of a directory through a fresh fd: an fd whose fsync reported an error
 * is never asked again (see spool.h, "fsyncgate"), and a fresh one sees errors
 * that happen after it was opened. */
static int
sync_dir_now(const struct spool *sp, const char *sub)
{
	int fd, rc;

	if ((fd = open_sub(sp, sub)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* fsync(queue/) for the group commit, through the directory it keeps
 * open (an open and a close per fsync saved).  A failed fsync closes it:
 * the next one opens queue/ again, never retrying on the descriptor
 * that failed (see spool.h: an fsync error is final). */
static int
sync_queue(const struct spool *sp, struct dirsync *g)
{
	int e;

	if (g->fd == -1 && (g->fd = open_sub(sp, "queue")) == -1)
		return -1;
	if (fsync(g->fd) == 0)
		return 0;
	e = errno;
	close(g->fd);
	g->fd = -1;
	errno = e;
	return -1;
}

/* A change to queue/ is made: its ticket for dirsync_wait. */
static unsigned long long
dirsync_take(struct dirsync *g)
{
	unsigned long long t;

	pthread_mutex_lock(&g->mu);
	t = ++g->changed;
	pthread_mutex_unlock(&g->mu);
	return t;
}

/* Waits until an fsync of queue/ that started after change t ended,
 * running it when none is running.  A failed fsync fails every change it
 * covered, even if a later one succeeds (see spool.h: an fsync error is
 * final). */
static int
dirsync_wait(const struct spool *sp, struct dirsync *g,
    unsigned long long t)
{
	unsigned long long mark;
	int rc, e = EIO;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		if (g->failed >= t) {
			rc = -1;
			break;
		}
		if (g->synced >= t) {
			rc = 0;
			break;
		}
		if (g->running) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		mark = g->changed;      /* every change made so far */
		g->running = 1;
		pthread_mutex_unlock(&g->mu);
		if ((rc = sync_queue(sp, g)) == -1)
			e = errno;
		pthread_mutex_lock(&g->mu);
		g->running = 0;
		if (rc == 0 && mark > g->synced)
			g->synced = mark;
		if (rc == -1 && mark > g->failed)
			g->failed = mark;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	if (rc == -1)
		errno = e;
	return rc;
}

/* fsync(SUB) after a change to it; for queue/, through the group commit
 * (struct dirsync). */
static int
sync_dir(const struct spool *sp, const char *sub)
{
	struct dirsync *g = sp->qsync;

	if (g == NULL || strcmp(sub, "queue") != 0)
		return sync_dir_now(sp, sub);
	return dirsync_wait(sp, g, dirsync_take(g));
}

/* rename(2) for a new message: never over an existing file of the same
 * name (doc/design.md "The id"), so even an id collision loses nothing;
 * EEXIST then fails the commit.  link(2) where the file system lacks
 * RENAME_NOREPLACE. */
static int
rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) == -1)
		return -1;
	unlink(from);
	return 0;
}

/* Writes bytes as tmp/TMPNAME → fsync → [lock] → rename to SUB/ID →
 * fsync(SUB).  With lockfd, the new file stays open and locked there.
 * Returns 0, or -1 with err; on failure before the rename nothing is
 * published, and the temporary file is gone. */
static int
publish(const struct spool *sp, const char *sub, const char *id,
    const char *tmpname, struct file_bytes *bytes, int *lockfd,
    char *err, size_t errlen)
{
	char tmp[PATH_BYTES], dst[PATH_BYTES];
	const char *step = "open";
	int fd = -1;

	snprintf(tmp, sizeof tmp, "%s/tmp/%s", sp->dir, tmpname);
	snprintf(dst, sizeof dst, "%s/%s/%s", sp->dir, sub, id);
	if ((fd = open(tmp, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY |
	    O_CLOEXEC, 0600)) == -1)
		goto fail_open;
	step = "write";
	if (write_file(fd, bytes) == -1)
		goto fail;
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	step = "lock";
	if (lockfd && flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto fail;
	step = "rename";
	if ((lockfd == NULL && strcmp(sub, "queue") == 0 ?
	    rename_new(tmp, dst) : rename(tmp, dst)) == -1)
		goto fail;
	if (sync_dir(sp, sub) == -1) {
		snprintf(err, errlen, "fsync %s/%s: %s", sp->dir, sub,
		    strerror(errno));
		if (lockfd == NULL) {
			/* A new message, published but maybe not durable:
			 * take it back, so what we report (failure) is what
			 * happens. */
			unlink(dst);
			close(fd);
			return -1;
		}
		/* A state update: the rename stands (the old file is gone
		 * from the name), so keep the claim on the new one; a crash
		 * now may bring back the older state, i.e. a resend. */
		log_event(LOG_ERROR, "spool_sync_failed", "id", id, "error",
		    err, (char *)NULL);
	}
	if (lockfd)
		*lockfd = fd;
	else
		close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s %s: %s", step, tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return -1;
fail_open:
	snprintf(err, errlen, "%s %s: %s", step, tmp, strerror(errno));
	return -1;
}

/* --- free/: reusing delivered files (doc/design.md "Performance") ------ */

static int spool_file_ok(const struct spool *sp, const struct stat *st);

/* Takes the newest name off the free stack into name; 0 when empty. */
static int
free_pop(struct spool *sp, char name[SPOOL_ID_MAX + 1])
{
	int got = 0;

	pthread_mutex_lock(&sp->free_mu);
	if (sp->nfree > 0) {
		memcpy(name, sp->free_names[--sp->nfree], SPOOL_ID_MAX + 1);
		got = 1;
	}
	pthread_mutex_unlock(&sp->free_mu);
	return got;
}

/* 0 when name went on the stack, -1 when it is full (or name does not
 * fit a slot: never kept cut short). */
static int
free_push(struct spool *sp, const char *name)
{
	int rc = -1;

	if (strlen(name) > SPOOL_ID_MAX)
		return -1;
	pthread_mutex_lock(&sp->free_mu);
	if (sp->nfree < LIM_SPOOL_FREE) {
		memcpy(sp->free_names[sp->nfree++], name, strlen(name) + 1);
		rc = 0;
	}
	pthread_mutex_unlock(&sp->free_mu);
	return rc;
}

static int
free_room(struct spool *sp)
{
	int room;

	pthread_mutex_lock(&sp->free_mu);
	room = sp->nfree < LIM_SPOOL_FREE;
	pthread_mutex_unlock(&sp->free_mu);
	return room;
}

static void refresh_statfs(struct spool *sp);

/* Whether free/ may keep a delivered file's blocks: the file system had
 * LIM_SPOOL_FREE_ROOM free at the last statvfs (at most
 * LIM_SPOOL_STATFS_MS old). */
static int
free_may_keep(struct spool *sp)
{
	refresh_statfs(sp);
	return atomic_load(&sp->free_bytes) >=
	    (unsigned long long)LIM_SPOOL_FREE_ROOM;
}

/* Writes zeros over the first size bytes of fd (at most
 * LIM_SPOOL_FREE_BYTES), one page of zeros named as often as it takes.
 * 0 or -1. */
static int
zero_fd(int fd, off_t size)
{
	static const char page[4096];
	struct iovec iov[LIM_SPOOL_FREE_BYTES / sizeof page];
	off_t at = 0;
	ssize_t w;
	int n;

	while (at < size) {
		size_t left = (size_t)(size - at);

		for (n = 0; left > 0 && n < (int)ARRAY_LEN(iov); n++) {
			iov[n].iov_base = (void *)page;
			iov[n].iov_len = left < sizeof page ? left : sizeof page;
			left -= iov[n].iov_len;
		}
		w = pwritev(fd, iov, n, at);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		at += w;
	}
	return 0;
}

/* Opens free/NAME for writing and locks it, so that no other process
 * sharing the spool writes it too; it must still be at that path, a
 * regular file of the service user.  The fd, or -1 (try another). */
static int
free_open(const struct spool *sp, const char *name)
{
	char path[PATH_BYTES];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof path, "%s/free/%s", sp->dir, name);
	if ((fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &b) == -1 ||
	    lstat(path, &a) == -1 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev || !spool_file_ok(sp, &b)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* publish() of a new message through a free/ file instead of a new
 * inode: write it from offset 0, cut it to size, fsync, rename free/NAME
 * to queue/ID, fsync queue/.  The same durability as publish: nothing is
 * in queue/ before its bytes are on disk.  1: published; 0: no free file
 * could be used (nothing published: create one); -1 with err. */
static int
publish_reused(struct spool *sp, const char *id,
    struct file_bytes *bytes, char *err, size_t errlen)
{
	char name[SPOOL_ID_MAX + 1], src[PATH_BYTES], dst[PATH_BYTES];
	const char *step = "write";
	int fd = -1;

	while (fd == -1) {
		if (!free_pop(sp, name))
			return 0;
		fd = free_open(sp, name);
	}
	snprintf(src, sizeof src, "%s/free/%s", sp->dir, name);
	snprintf(dst, sizeof dst, "%s/queue/%s", sp->dir, id);
	if (write_file(fd, bytes) == -1 ||
	    ftruncate(fd, (off_t)file_size(bytes)) == -1)
		goto fail;
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail;
	step = "rename";
	if (rename_new(src, dst) == -1) {       /* never over queue/ID */
		if (errno != ENOENT)
			goto fail;
		close(fd);      /* another process purged it: create */
		return 0;
	}
	close(fd);
	if (sync_dir(sp, "queue") == -1) {
		snprintf(err, errlen, "fsync %s/queue: %s", sp->dir,
		    strerror(errno));
		unlink(dst);    /* as publish: report only what holds */
		return -1;
	}
	return 1;
fail:
	snprintf(err, errlen, "%s %s: %s", step, src, strerror(errno));
	close(fd);
	unlink(src);
	return -1;
}

int
spool_commit(struct spool *sp, const struct spool_msg *m, char *err,
    size_t errlen)
{
	struct file_bytes b;
	int rc = -1;

	if (file_bytes(m, &b) == -1)
		snprintf(err, errlen, "cannot format the spool file");
	else if ((rc = publish_reused(sp, m->id, &b, err, errlen)) == 0)
		rc = publish(sp, "queue", m->id, m->id, &b, NULL, err, errlen);
	else if (rc == 1)
		rc = 0;
	if (rc == 0)
		atomic_fetch_add(&sp->queued, 1);
	buf_free(&b.head);
	return rc;
}

/* Reads the whole of fd (at most LIM_SPOOL_FILE bytes) into *out (caller
 * frees).  Returns 0, EFBIG when the file is larger (it cannot be ours:
 * the file is corrupt), or the errno of what failed (a read error, no
 * memory: the file may be fine, so try again later). */
static int
read_sized(int fd, off_t size, char **out, size_t *len)
{
	char *p;
	size_t off = 0;

	if (size < 0 || size > LIM_SPOOL_FILE)
		return EFBIG;
	if ((p = malloc((size_t)size + 1)) == NULL)
		return ENOMEM;
	while (off < (size_t)size) {
		ssize_t r = pread(fd, p + off, (size_t)size - off,
		    (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(p);
			return e;
		}
		if (r == 0)
			break;       /* shorter than fstat said: torn */
		off += (size_t)r;
	}
	*out = p;
	*len = off;
	return 0;
}

/* read_sized with the size fstat gives now. */
static int
read_fd(int fd, char **out, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return errno;
	return read_sized(fd, st.st_size, out, len);
}

/* 1 when st is what only formpost puts in the spool: a regular file owned
 * by the service user.  A symlink, FIFO, socket or directory, or a file of
 * another user, was planted. */
static int
spool_file_ok(const struct spool *sp, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == sp->owner;
}

static void
move_corrupt(struct spool *sp, const char *id)
{
	char src[PATH_BYTES], dst[PATH_BYTES];

	snprintf(src, sizeof src, "%s/queue/%s", sp->dir, id);
	snprintf(dst, sizeof dst, "%s/corrupt/%s", sp->dir, id);
	if (rename(src, dst) == 0) {
		atomic_fetch_sub(&sp->queued, 1);
		sync_dir(sp, "corrupt");
		sync_dir(sp, "queue");
	}
}

/* Opens and locks path (queue/ID) into *fd.  An update renames a new file
 * over the old one: a lock won on the old inode is worthless, so the path
 * must still name the locked inode.  SPOOL_CLAIMED: *fd open and locked;
 * SPOOL_CORRUPT: path is not what formpost writes (!spool_file_ok), nothing
 * open; SPOOL_GONE, SPOOL_BUSY; SPOOL_ERROR with the errno value in
 * *error. */
static enum spool_claim
claim_lock(const struct spool *sp, const char *path, int *fd, int *error,
    struct stat *st)
{
	struct stat a, b;
	int f = -1, tries, e;

	for (tries = 0; tries < 3; tries++) {
		/* O_NONBLOCK: a FIFO planted here must not hang a sender;
		 * O_NOFOLLOW: a symlink is never followed out of the spool;
		 * read-write: the finish zeroes the file through it (a
		 * file the service user may only read is still claimed). */
		f = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
		if (f == -1 && (errno == EACCES || errno == EROFS))
			f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
			    O_NOFOLLOW);
		if (f == -1) {
			if ((e = errno) == ENOENT)
				return SPOOL_GONE;
			if (lstat(path, &a) == 0 && !spool_file_ok(sp, &a))
				return SPOOL_CORRUPT;
			*error = e;
			return SPOOL_ERROR;
		}
		if (flock(f, LOCK_EX | LOCK_NB) == -1 ||
		    lstat(path, &a) == -1 || fstat(f, &b) == -1) {
			*error = e = errno;
			close(f);
			return e == EWOULDBLOCK ? SPOOL_BUSY :
			    e == ENOENT ? SPOOL_GONE : SPOOL_ERROR;
		}
		if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(f);
		f = -1;
	}
	if (f == -1)
		return SPOOL_BUSY;
	if (!spool_file_ok(sp, &b)) {
		close(f);
		return SPOOL_CORRUPT;
	}
	*fd = f;
	*st = b;
	return SPOOL_CLAIMED;
}

/* 1 with why when the first line of fd (a file too large for this
 * build) names a newer format version. */
static int
newer_head(int fd, char *why, size_t whylen)
{
	char head[64];
	ssize_t n = pread(fd, head, sizeof head, 0);
	long long v;

	if (n <= 0 || (v = version_of(head, (size_t)n)) <= SPOOL_VERSION)
		return 0;
	snprintf(why, whylen, "written by a newer formpost (spool format "
	    "version %lld; this one reads 1 to %d)", v, SPOOL_VERSION);
	return 1;
}

/* Reads fd's first len bytes through a small buffer, keeping none: 0,
 * or the errno of a read that failed (EIO when the file is shorter). */
static int
read_through(int fd, size_t len)
{
	return file_each_chunk(fd, 0, len, NULL, NULL) == 0 ? 0 : errno;
}

/* parse of a file read into the heap block p, which becomes the
 * message's data: the wire bytes move to its start, never a second copy
 * of them.  p is the message's on SPOOL_PARSED, freed otherwise. */
static enum spool_parse_rc
parse_heap(char *p, size_t n, struct spool_msg *out, char *why,
    size_t whylen)
{
	enum spool_parse_rc rc = parse(p, n, out, why, whylen, 0);

	if (rc != SPOOL_PARSED) {
		free(p);
		return rc;
	}
	memmove(p, out->data, out->len);
	out->data = p;
	out->borrowed = 0;
	return rc;
}

/* Reads and verifies the claimed file fd (at path) into *out.  A file of
 * LIM_SPOOL_MAP bytes or more stays in its file: it is read through once
 * (a failing disk is an error here, retried later), parsed in place
 * through a read-only mapping dropped at once, and *out is in_file on a
 * new open of path (its own file description: the claim's flock is
 * released with the claim's fd alone).  Nothing touches a mapping later,
 * when its pages may have been evicted: a read error is then pread's
 * error, never a SIGBUS.  A smaller file is read into memory, cheaper
 * for a few KiB.  SPOOL_PARSED; SPOOL_BAD with why (corrupt);
 * SPOOL_UNCHECKED with *e, an errno (the file may be fine: try again
 * later). */
static enum spool_parse_rc
load(int fd, const struct stat *locked, const char *path,
    struct spool_msg *out, char *why, size_t whylen, int *e)
{
	enum spool_parse_rc rc;
	struct stat st = *locked, again;
	char *data = NULL;
	size_t len = 0;
	void *map;
	int own;

	if (st.st_size < LIM_SPOOL_MAP || st.st_size > LIM_SPOOL_FILE) {
		if ((*e = read_sized(fd, st.st_size, &data, &len)) == EFBIG) {
			if (newer_head(fd, why, whylen))
				return SPOOL_TOO_NEW;
			snprintf(why, whylen, "larger than %d bytes",
			    LIM_SPOOL_FILE);
			return SPOOL_BAD;
		}
		if (*e != 0)
			return SPOOL_UNCHECKED;
		*e = ENOMEM;
		return parse_heap(data, len, out, why, whylen);
	}
	len = (size_t)st.st_size;
	/* The claim holds the path: the same inode, unless it was planted. */
	if ((*e = read_through(fd, len)) != 0)
		return SPOOL_UNCHECKED;
	if ((own = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1 || fstat(own, &again) == -1 ||
	    again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
		*e = own == -1 ? errno : EAGAIN;
		if (own != -1)
			close(own);
		return SPOOL_UNCHECKED;
	}
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		*e = errno;
		close(own);
		return SPOOL_UNCHECKED;
	}
	*e = ENOMEM;
	rc = parse(map, len, out, why, whylen, 0);
	if (rc == SPOOL_PARSED) {
		out->off = (unsigned long long)(out->data - (char *)map);
		out->data = NULL;
		out->in_file = 1;
		out->fd = own;
		out->borrowed = 0;
	} else
		close(own);
	munmap(map, len);
	return rc;
}

enum spool_claim
spool_claim(struct spool *sp, const char *id, struct spool_msg *out, int *fd,
    char *err, size_t errlen)
{
	char path[PATH_BYTES], why[128];
	enum spool_claim cr;
	struct stat st;
	int f = -1, e = 0;

	if (!spool_id_valid(id)) {
		snprintf(err, errlen, "not an id");
		return SPOOL_GONE;
	}
	str_cat(path, sizeof path, sp->dir, "/queue/", id, (char *)NULL);
	cr = claim_lock(sp, path, &f, &e, &st);
	if (cr == SPOOL_CORRUPT)
		goto planted;
	if (cr == SPOOL_ERROR)
		goto fail;
	if (cr != SPOOL_CLAIMED)
		return cr;
	/* Only what the file says makes it corrupt; a failing disk or a
	 * lack of memory must not set a good message aside for good. */
	switch (load(f, &st, path, out, why, sizeof why, &e)) {
	case SPOOL_PARSED:
		break;
	case SPOOL_TOO_NEW:
		goto newer;
	case SPOOL_UNCHECKED:
		goto fail;
	case SPOOL_BAD:
		goto corrupt;
	}
	if (strcmp(out->id, id) != 0) {
		spool_msg_free(out);
		snprintf(why, sizeof why, "id does not match the file name");
		goto corrupt;
	}
	*fd = f;
	return SPOOL_CLAIMED;
newer:
	/* Not ours to judge, nor to move: a newer process sharing the
	 * spool, or the one this was downgraded from, delivers it. */
	close(f);
	snprintf(err, errlen, "%s", why);
	return SPOOL_NEWER;
planted:
	snprintf(why, sizeof why, "not a regular file owned by the service "
	    "user");
corrupt:
	move_corrupt(sp, id);
	if (f != -1)
		close(f);
	snprintf(err, errlen, "%s", why);
	return SPOOL_CORRUPT;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(e));
	if (f != -1)
		close(f);
	return SPOOL_ERROR;
}

int
spool_update(struct spool *sp, int *fd, const struct spool_msg *m, char *err,
    size_t errlen)
{
	char tmpname[SPOOL_ID_MAX + 8], tmp[PATH_BYTES];
	struct file_bytes b;
	int nfd = -1, rc = -1;

	/* The claim makes us the only writer of this name; a leftover from
	 * a crashed process is stale. */
	snprintf(tmpname, sizeof tmpname, "%s.q", m->id);
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", sp->dir, tmpname);
	unlink(tmp);
	if (file_bytes(m, &b) == -1)
		snprintf(err, errlen, "cannot format the spool file");
	else if ((rc = publish(sp, "queue", m->id, tmpname, &b, &nfd, err,
	    errlen)) == 0) {
		close(*fd);
		*fd = nfd;
		spool_date(nfd, m->next_try);
	}
	buf_free(&b.head);
	return rc;
}

int
spool_write_failed(struct spool *sp, const struct spool_msg *m, char *err,
    size_t errlen)
{
	char tmpname[SPOOL_ID_MAX + 8], tmp[PATH_BYTES];
	struct spool_msg f = *m;
	struct file_bytes b;
	size_t i, n = 0;
	int rc = -1;

	if ((f.rcpt = calloc(m->nrcpt, sizeof *f.rcpt)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == SPOOL_FAILED)
			f.rcpt[n++] = m->rcpt[i];   /* borrowed */
	f.nrcpt = n;
	snprintf(tmpname, sizeof tmpname, "%s.f", m->id);
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", sp->dir, tmpname);
	unlink(tmp);
	if (file_bytes(&f, &b) == -1)
		snprintf(err, errlen, "cannot format the failed record");
	else
		rc = publish(sp, "failed", m->id, tmpname, &b, NULL, err,
		    errlen);
	buf_free(&b.head);
	free(f.rcpt);
	return rc;
}

/* After delivery the file goes to free/ (while the stack has room) for a
 * commit to write again, else it is unlinked.  It is zeroed or emptied
 * only once queue/ no longer names it durably: a crash before that
 * leaves a whole message in free/, which is never read, and removed
 * after LIM_SPOOL_TMP_AGE. */
void
spool_finish_begin(struct spool *sp, int fd, const char *id,
    struct spool_finishing *f)
{
	char path[PATH_BYTES], freed[PATH_BYTES];

	f->fd = fd;
	f->moved = 0;
	f->rc = 0;
	f->error = 0;
	f->ticket = 0;
	str_copy(f->id, sizeof f->id, id);
	str_cat(path, sizeof path, sp->dir, "/queue/", id, (char *)NULL);
	str_cat(freed, sizeof freed, sp->dir, "/free/", id, (char *)NULL);
	if (free_room(sp) && rename(path, freed) == 0)
		f->moved = 1;
	else if (unlink(path) == -1) {
		f->rc = -1;
		f->error = errno;
		return;
	}
	atomic_fetch_sub(&sp->queued, 1);
	if (sp->qsync != NULL)
		f->ticket = dirsync_take(sp->qsync);
}

int
spool_finish_end(struct spool *sp, struct spool_finishing *f, char *err,
    size_t errlen)
{
	char freed[PATH_BYTES];
	struct stat st;
	int rc = f->rc, kept = 0;

	if (rc == 0 && (sp->qsync != NULL ?
	    dirsync_wait(sp, sp->qsync, f->ticket) :
	    sync_dir_now(sp, "queue")) == -1) {
		rc = -1;
		f->error = errno;
	}
	if (rc == -1)
		snprintf(err, errlen, "%s/queue/%s: %s", sp->dir, f->id,
		    strerror(f->error));
	/* A small file keeps its blocks for a commit to write over, its
	 * bytes zeroed: emptying it freed them (a synchronous discard on a
	 * file system mounted with discard) and the commit's fsync then
	 * allocated them again (doc/design.md "Performance"). */
	if (f->moved && rc == 0 && fstat(f->fd, &st) == 0 &&
	    st.st_size <= LIM_SPOOL_FREE_BYTES && free_may_keep(sp) &&
	    zero_fd(f->fd, st.st_size) == 0)
		kept = 1;
	close(f->fd);
	f->fd = -1;
	if (!f->moved)
		return rc;
	str_cat(freed, sizeof freed, sp->dir, "/free/", f->id, (char *)NULL);
	if (rc == -1 || (!kept && truncate(freed, 0) == -1) ||
	    free_push(sp, f->id) == -1)
		unlink(freed);
	return rc;
}

int
spool_finish(struct spool *sp, int fd, const char *id, char *err,
    size_t errlen)
{
	struct spool_finishing f;

	spool_finish_begin(sp, fd, id, &f);
	return spool_finish_end(sp, &f, err, errlen);
}

void
spool_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

long
spool_scan(struct spool *sp, void (*fn)(void *arg, const char *id), void *arg,
    char *err, size_t errlen)
{
	return spool_scan_in(sp, "queue", fn, arg, err, errlen);
}

/* --- the operator's view (formpost queue) -------------------------------- */

static int
sub_ok(const char *sub)
{
	return strcmp(sub, "queue") == 0 || strcmp(sub, "failed") == 0 ||
	    strcmp(sub, "corrupt") == 0 || strcmp(sub, "sent") == 0;
}

long long
spool_due_hint(struct spool *sp, const char *id, long long *dated)
{
	char path[PATH_BYTES];
	struct stat st;

	snprintf(path, sizeof path, "%s/queue/%s", sp->dir, id);
	if (!spool_id_valid(id) || lstat(path, &st) == -1)
		return -1;
	*dated = (long long)st.st_ctime;
	return (long long)st.st_mtime;
}

void
spool_date(int fd, long long when)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { (time_t)when, 0 } };

	/* A hint: a failure costs a rescan one file read, nothing more. */
	(void)futimens(fd, ts);
}

long
spool_scan_in(struct spool *sp, const char *sub,
    void (*fn)(void *arg, const char *id), void *arg, char *err,
    size_t errlen)
{
	char path[PATH_BYTES];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", sp->dir, sub);
	if (!sub_ok(sub) || (d = opendir(path)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (spool_id_valid(de->d_name)) {
			if (fn)
				fn(arg, de->d_name);
			n++;
		}
	closedir(d);
	/* The one count that sees other processes' commits and finishes. */
	if (strcmp(sub, "queue") == 0)
		atomic_store(&sp->queued, n);
	return n;
}

int
spool_read(struct spool *sp, const char *sub, const char *id,
    struct spool_msg *out, char *err, size_t errlen)
{
	char path[PATH_BYTES], why[128];
	char *data = NULL;
	size_t len = 0;
	int fd, prc, rc = -1;

	if (!sub_ok(sub) || !spool_id_valid(id)) {
		snprintf(err, errlen, "not an id");
		return 1;
	}
	snprintf(path, sizeof path, "%s/%s/%s", sp->dir, sub, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? 1 : -1;
	}
	/* Into the heap, never mapped: no claim keeps a sender from
	 * finishing the file, and a finished file may be emptied. */
	if ((prc = read_fd(fd, &data, &len)) == EFBIG &&
	    newer_head(fd, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		rc = 2;
	} else if (prc != 0)
		snprintf(err, errlen, "%s: unreadable or larger than %d bytes",
		    path, LIM_SPOOL_FILE);
	else if ((prc = parse_heap(data, len, out, why, sizeof why)) !=
	    SPOOL_PARSED) {
		snprintf(err, errlen, "%s: %s", path, why);
		if (prc == SPOOL_TOO_NEW)
			rc = 2;
	} else if (strcmp(out->id, id) != 0) {
		spool_msg_free(out);
		snprintf(err, errlen, "%s: id does not match the file name",
		    path);
	} else
		rc = 0;
	close(fd);
	return rc;
}

int
spool_remove(struct spool *sp, const char *sub, const char *id, char *err,
    size_t errlen)
{
	char path[PATH_BYTES];

	snprintf(path, sizeof path, "%s/%s/%s", sp->dir, sub, id);
	if (!sub_ok(sub) || !spool_id_valid(id) || unlink(path) == -1 ||
	    sync_dir(sp, sub) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

size_t
spool_queued(struct spool *sp)
{
	long n = atomic_load(&sp->queued);

	return n > 0 ? (size_t)n : 0;
}

/* Free space and inodes for the service user, read at most every
 * LIM_SPOOL_STATFS_MS.  Two threads may both refresh: harmless.  A
 * failing statvfs keeps the last figures (the commit itself will say
 * what is wrong with the filesystem). */
static void
refresh_statfs(struct spool *sp)
{
	long long now = mono_ms(), last = atomic_load(&sp->statfs_ms);
	struct statvfs vfs;

	if (now - last < LIM_SPOOL_STATFS_MS ||
	    !atomic_compare_exchange_strong(&sp->statfs_ms, &last, now))
		return;
	if (statvfs(sp->dir, &vfs) == -1)
		return;
	atomic_store(&sp->free_bytes, (unsigned long long)vfs.f_bavail *
	    vfs.f_frsize);
	/* Filesystems without an inode table report f_files 0. */
	atomic_store(&sp->free_inodes, vfs.f_files ?
	    (unsigned long long)vfs.f_favail : ~0ULL);
}

int
spool_room(struct spool *sp, size_t max_messages, unsigned long long min_free,
    char *err, size_t errlen)
{
	unsigned long long fb, fi;
	size_t n = spool_queued(sp);
	int full;

	refresh_statfs(sp);
	fb = atomic_load(&sp->free_bytes);
	fi = atomic_load(&sp->free_inodes);
	if (n >= max_messages)
		snprintf(err, errlen, "spool full: %zu messages queued "
		    "(spool_max_messages %zu)", n, max_messages);
	else if (fb < min_free)
		snprintf(err, errlen, "spool full: %llu bytes free "
		    "(spool_min_free %llu)", fb, min_free);
	else if (fi < LIM_SPOOL_MIN_INODES)
		snprintf(err, errlen, "spool full: %llu inodes free", fi);
	full = n >= max_messages || fb < min_free ||
	    fi < LIM_SPOOL_MIN_INODES;
	/* One line per change of state; each refused request logs its
	 * own line with err. */
	if (atomic_exchange(&sp->full, full) != full)
		log_event(full ? LOG_WARN : LOG_INFO, full ? "spool_full" :
		    "spool_room", "spool", sp->dir, "error", full ? err : NULL,
		    "action", full ? "new posts get 503; delivery goes on" :
		    "accepting posts again", (char *)NULL);
	return full ? -1 : 0;
}

int
spool_tmpfile(struct spool *sp)
{
	char path[PATH_BYTES];
	int fd, e;

	snprintf(path, sizeof path, "%s/tmp", sp->dir);
	fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
	    errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE: a name for an instant. */
	snprintf(path, sizeof path, "%s/tmp/upload.XXXXXX", sp->dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	if (unlink(path) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* --- operations: archive, peek, purge (doc/design.md "Operations") ------ */

int
spool_write_sent(struct spool *sp, const struct spool_msg *m, char *err,
    size_t errlen)
{
	char tmpname[SPOOL_ID_MAX + 8], tmp[PATH_BYTES];
	struct file_bytes b;
	int rc = -1;

	snprintf(tmp, sizeof tmp, "%s/sent", sp->dir);
	if (access(tmp, F_OK) == -1) {
		if (mkdir_0700(tmp, err, errlen) == -1)
			return -1;
		if (sync_dir(sp, ".") == -1) {
			snprintf(err, errlen, "fsync %s: %s", sp->dir,
			    strerror(errno));
			return -1;
		}
	}
	snprintf(tmpname, sizeof tmpname, "%s.s", m->id);
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", sp->dir, tmpname);
	unlink(tmp);
	if (file_bytes(m, &b) == -1)
		snprintf(err, errlen, "cannot format the archived copy");
	else
		rc = publish(sp, "sent", m->id, tmpname, &b, NULL, err, errlen);
	buf_free(&b.head);
	return rc;
}

int
spool_peek(struct spool *sp, const char *sub, const char *id,
    struct spool_peek *out)
{
	char path[PATH_BYTES], head[LIM_SPOOL_PEEK];
	struct cursor c;
	const char *line, *v;
	size_t len, vl;
	ssize_t n;
	int fd;

	if (!sub_ok(sub) || !spool_id_valid(id))
		return -1;
	snprintf(path, sizeof path, "%s/%s/%s", sp->dir, sub, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return -1;
	n = read(fd, head, sizeof head);
	close(fd);
	if (n <= 0)
		return -1;
	memset(out, 0, sizeof *out);
	out->created = -1;
	c.p = head;
	c.end = head + n;
	while (next_line(&c, &line, &len) == 0 && len > 0) {
		if ((v = field(line, len, "created", &vl)) != NULL)
			parse_num(v, vl, LLONG_MAX, &out->created);
		else if ((v = field(line, len, "reply", &vl)) != NULL) {
			if (vl >= sizeof out->reply)
				vl = sizeof out->reply - 1;
			memcpy(out->reply, v, vl);
			out->reply[vl] = '\0';
		} else if (field(line, len, "size", &vl) != NULL)
			break;
	}
	return out->created < 0 ? -1 : 0;
}

long
spool_purge(struct spool *sp, const char *sub, long long before, char *err,
    size_t errlen)
{
	char path[PATH_BYTES];
	struct dirent *de;
	struct stat st;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", sp->dir, sub);
	if (!sub_ok(sub) || (d = opendir(path)) == NULL) {
		if (errno == ENOENT && strcmp(sub, "sent") == 0)
			return 0;        /* nothing was ever archived */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
		    || (long long)st.st_mtime >= before)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0 && sync_dir(sp, sub) == -1) {
		snprintf(err, errlen, "fsync %s: %s", path, strerror(errno));
		return -1;
	}
	return n;
}

unsigned long long
spool_free_bytes(struct spool *sp)
{
	refresh_statfs(sp);
	return atomic_load(&sp->free_bytes);
}
