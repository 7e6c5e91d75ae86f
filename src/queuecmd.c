/*
 * queuecmd — the operator's commands over the spool (see queuecmd.h).  Reads
 * without claims (every spool write renames a complete file into place);
 * changes a queued message only under its claim, like the sender, so a
 * running worker and the CLI never both write one file.  Message data and
 * history are freed as soon as a file is read: a listing holds envelopes
 * only.
 */
#include "queuecmd.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "id.h"
#include "json.h"
#include "ops.h"
#include "outcome.h"
#include "trigger.h"

/* The one place an operator's id is read (doc/design.md "The id"): what
 * was typed, in any form id_from_user takes (a receipt with its suffix),
 * becomes the spool name in id; 1 when it names a possible spool file
 * (id_spool_valid under spool_id_valid), else 0. */
static int
id_ok(const char *typed, char id[SPOOL_ID_MAX + 1])
{
	return spool_id_from_user(typed, id) == 0 && spool_id_valid(id);
}

/* What a message is waiting for, as `list` and `check` name it. */
enum qclass { QC_NEW, QC_TEMP, QC_CONFIG, QC_PERM, QC_EXPIRED };

/* The outcome words for the classes that are outcomes, so `list` and
 * the logs name a class alike. */
static const char *
qclass_name(enum qclass c)
{
	switch (c) {
	case QC_NEW:
		return "new";
	case QC_TEMP:
		return outcome_name(OUT_TEMP);
	case QC_CONFIG:
		return outcome_name(OUT_CONFIG);
	case QC_PERM:
		return outcome_name(OUT_PERM);
	case QC_EXPIRED:
		break;
	}
	return "expired";
}

struct item {
	struct spool_msg m;        /* data freed: envelope and state only */
	enum qclass cls;
};

struct listing {
	struct spool *sp;
	const char *sub;
	struct item *it;
	size_t n, cap;
	char (*bad)[SPOOL_ID_MAX + 1]; /* ids that did not read or verify */
	size_t nbad;
	char (*newer)[SPOOL_ID_MAX + 1]; /* ids a newer formpost wrote */
	size_t nnewer;
	int oom;
};

void
queuecmd_duration(char out[32], long long secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(out, 32, "%llds", secs);
	else if (secs < 3600)
		snprintf(out, 32, "%lldm", secs / 60);
	else if (secs < 86400)
		snprintf(out, 32, "%lldh%02lldm", secs / 3600,
		    secs % 3600 / 60);
	else
		snprintf(out, 32, "%lldd%02lldh", secs / 86400,
		    secs % 86400 / 3600);
}

static enum qclass
classify(const struct spool_msg *m, int failed)
{
	size_t i;
	int c;

	if (failed) {
		for (i = 0; i < m->nrcpt; i++)
			if (outcome_reply_expired(m->rcpt[i].reply))
				return QC_EXPIRED;
		return QC_PERM;
	}
	if ((c = outcome_note_class(m->reply)) == OUT_CONFIG)
		return QC_CONFIG;
	if (m->attempts == 0 && m->reply[0] == '\0')
		return QC_NEW;
	return QC_TEMP;
}

/* Appends id to the list *v of *n; 0 or -1 (OOM). */
static int
id_list_add(char (**v)[SPOOL_ID_MAX + 1], size_t *n, const char *id)
{
	char (*b)[SPOOL_ID_MAX + 1] = realloc(*v, (*n + 1) * sizeof *b);

	if (b == NULL)
		return -1;
	*v = b;
	snprintf(b[(*n)++], SPOOL_ID_MAX + 1, "%s", id);
	return 0;
}

static void
add_one(void *arg, const char *id)
{
	struct listing *l = arg;
	char err[512];
	struct item *t;
	int rc;

	if (l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		if ((t = realloc(l->it, cap * sizeof *t)) == NULL) {
			l->oom = 1;
			return;
		}
		l->it = t;
		l->cap = cap;
	}
	t = &l->it[l->n];
	memset(t, 0, sizeof *t);
	rc = spool_read(l->sp, l->sub, id, &t->m, err, sizeof err);
	if (rc == 1)
		return;                /* delivered or moved meanwhile */
	if (rc == -1 || rc == 2) {
		if (id_list_add(rc == 2 ? &l->newer : &l->bad,
		    rc == 2 ? &l->nnewer : &l->nbad, id) == -1)
			l->oom = 1;
		return;
	}
	spool_msg_drop_data(&t->m);
	spool_history_free(&t->m);     /* a listing shows none of it */
	t->cls = classify(&t->m, strcmp(l->sub, "failed") == 0);
	l->n++;
}

static int
by_age(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->m.created != y->m.created)
		return x->m.created < y->m.created ? -1 : 1;
	return strcmp(x->m.id, y->m.id);
}

static void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		spool_msg_free(&l->it[i].m);
	free(l->it);
	free(l->bad);
	free(l->newer);
}

/* Reads SUB/ into l, oldest first.  0, or -1 with err. */
static int
load(struct spool *sp, const char *sub, struct listing *l, char *err,
    size_t errlen)
{
	memset(l, 0, sizeof *l);
	l->sp = sp;
	l->sub = sub;
	if (spool_scan_in(sp, sub, add_one, l, err, errlen) == -1)
		return -1;
	if (l->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (l->n > 1)
		qsort(l->it, l->n, sizeof *l->it, by_age);
	return 0;
}

static void
ignore(void *arg, const char *id)
{
	(void)arg;
	(void)id;
}

/* Files in SUB/ (corrupt/ files are only counted: they do not parse). */
static long
count_in(struct spool *sp, const char *sub, char *err, size_t errlen)
{
	return spool_scan_in(sp, sub, ignore, NULL, err, errlen);
}

/* --- list ------------------------------------------------------------------- */


/* "rcpt":[...]: each recipient's state, code and last reply. */
static void
json_rcpts(FILE *out, const struct spool_msg *m)
{
	size_t j;

	fputs("\"rcpt\":[", out);
	for (j = 0; j < m->nrcpt; j++) {
		fprintf(out, "%s{\"addr\":", j ? "," : "");
		json_file_string(out, m->rcpt[j].addr);
		fprintf(out, ",\"state\":\"%s\",\"code\":%d,\"reply\":",
		    spool_state_name(m->rcpt[j].state), m->rcpt[j].code);
		json_file_string(out, m->rcpt[j].reply);
		fputc('}', out);
	}
	fputc(']', out);
}

static void
json_items(FILE *out, const struct listing *l, long long now)
{
	size_t i;

	fputc('[', out);
	for (i = 0; i < l->n; i++) {
		const struct spool_msg *m = &l->it[i].m;
		fprintf(out, "%s{\"id\":", i ? "," : "");
		json_file_string(out, m->id);
		fputs(",\"site\":", out);
		json_file_string(out, m->site);
		fprintf(out, ",\"created\":%lld,\"age\":%lld,\"attempts\":%u,"
		    "\"next_try\":%lld,\"class\":\"%s\",\"reply\":",
		    m->created, now - m->created, m->attempts, m->next_try,
		    qclass_name(l->it[i].cls));
		json_file_string(out, m->reply);
		fputc(',', out);
		json_rcpts(out, m);
		fputc('}', out);
	}
	fputc(']', out);
}

static void
table(FILE *out, const char *title, const struct listing *l, long long now)
{
	char age[32], next[40], d[32];
	size_t i, j;

	fprintf(out, "%s: %zu message%s\n", title, l->n, l->n == 1 ? "" : "s");
	if (l->n == 0)
		return;
	fprintf(out, "%-22s %-16s %-8s %-5s %-9s %s\n", "ID", "SITE", "AGE",
	    "TRIES", "NEXT TRY", "CLASS");
	for (i = 0; i < l->n; i++) {
		const struct spool_msg *m = &l->it[i].m;
		enum qclass cls = l->it[i].cls;
		queuecmd_duration(age, now - m->created);
		if (strcmp(l->sub, "failed") == 0)
			snprintf(next, sizeof next, "-");
		else if (m->next_try <= now)
			snprintf(next, sizeof next, "now");
		else {
			queuecmd_duration(d, m->next_try - now);
			snprintf(next, sizeof next, "in %s", d);
		}
		/* Config problems are the operator's: make them loud. */
		fprintf(out, "%-22s %-16s %-8s %-5u %-9s %s\n", m->id, m->site,
		    age, m->attempts, next, cls == QC_CONFIG ?
		    "CONFIG  <- fix the setup (see reply)" : qclass_name(cls));
		if (m->reply[0])
			fprintf(out, "    reply: %s\n", m->reply);
		for (j = 0; j < m->nrcpt; j++) {
			const struct spool_rcpt *r = &m->rcpt[j];
			fprintf(out, "    %-7s %s", spool_state_name(r->state),
			    r->addr);
			if (r->code || r->reply[0])
				fprintf(out, "  %s", r->reply[0] ? r->reply :
				    "");
			fputc('\n', out);
		}
	}
}

int
queuecmd_list(struct spool *sp, int json, FILE *out)
{
	struct listing q, f;
	long long now = (long long)time(NULL);
	char err[512];
	long corrupt;
	size_t i;
	int rc = 1;

	memset(&f, 0, sizeof f);
	if (load(sp, "queue", &q, err, sizeof err) == -1) {
		fprintf(out, "formpost queue: %s\n", err);
		listing_free(&q);
		return 1;
	}
	if (load(sp, "failed", &f, err, sizeof err) == -1 ||
	    (corrupt = count_in(sp, "corrupt", err, sizeof err)) == -1) {
		fprintf(out, "formpost queue: %s\n", err);
		goto out;
	}
	if (json) {
		fputs("{\"queue\":", out);
		json_items(out, &q, now);
		fputs(",\"failed\":", out);
		json_items(out, &f, now);
		fprintf(out, ",\"corrupt\":%ld,\"unreadable\":[", corrupt);
		for (i = 0; i < q.nbad + f.nbad; i++) {
			if (i)
				fputc(',', out);
			json_file_string(out, i < q.nbad ? q.bad[i] : f.bad[i -
			    q.nbad]);
		}
		fputs("],\"newer\":[", out);
		for (i = 0; i < q.nnewer + f.nnewer; i++) {
			if (i)
				fputc(',', out);
			json_file_string(out, i < q.nnewer ? q.newer[i] :
			    f.newer[i - q.nnewer]);
		}
		fputs("]}\n", out);
	} else {
		table(out, "queue/", &q, now);
		table(out, "failed/", &f, now);
		fprintf(out, "corrupt/: %ld file%s%s\n", corrupt, corrupt == 1 ?
		    "" : "s", corrupt ? " (torn or altered; never delivered)" :
		    "");
		for (i = 0; i < q.nbad + f.nbad; i++)
			fprintf(out, "unreadable: %s\n", i < q.nbad ? q.bad[i] :
			    f.bad[i - q.nbad]);
		for (i = 0; i < q.nnewer + f.nnewer; i++)
			fprintf(out, "newer: %s (written by a newer formpost; "
			    "left for it)\n", i < q.nnewer ? q.newer[i] :
			    f.newer[i - q.nnewer]);
	}
	rc = 0;
out:
	listing_free(&q);
	listing_free(&f);
	fflush(out);
	return rc;
}

/* --- flush, retry, drop ------------------------------------------------------ */

/* Wakes the workers; says so on out.  0, or -1 (printed). */
static int
wake(struct spool *sp, FILE *out)
{
	char err[512];

	if (trigger_fire(spool_path(sp), err, sizeof err) == -1) {
		fprintf(out, "formpost queue: cannot wake the workers: %s\n",
		    err);
		return -1;
	}
	fprintf(out, "woke the running workers (%s/%s); a stopped worker "
	    "sends them when it starts\n", spool_path(sp), TRIGGER_FILE);
	return 0;
}

struct flushing {
	struct spool *sp;
	long long now;
	long due, busy, errors;
	FILE *out;
};

static void
flush_one(void *arg, const char *id)
{
	struct flushing *fl = arg;
	struct spool_msg m;
	char err[512];
	int fd = -1;

	switch (spool_claim(fl->sp, id, &m, &fd, err, sizeof err)) {
	case SPOOL_CLAIMED:
		break;
	case SPOOL_BUSY:          /* being sent right now */
		fl->busy++;
		return;
	case SPOOL_GONE:
		return;
	case SPOOL_NEWER:         /* the newer formpost's to deliver */
		fprintf(fl->out, "%s: %s; left for it\n", id, err);
		return;
	case SPOOL_CORRUPT:
		fprintf(fl->out, "%s: moved to corrupt/: %s\n", id, err);
		fl->errors++;
		return;
	case SPOOL_ERROR:
		fprintf(fl->out, "%s: %s\n", id, err);
		fl->errors++;
		return;
	}
	/* The file is the truth: written down, the flush also holds for a
	 * worker that is stopped now or missed the wake-up. */
	if (m.next_try > fl->now) {
		m.next_try = 0;
		if (spool_update(fl->sp, &fd, &m, err, sizeof err) == -1) {
			fprintf(fl->out, "%s: %s\n", id, err);
			fl->errors++;
		}
	}
	fl->due++;
	spool_msg_free(&m);          /* its own open before the claim */
	spool_release(fd);
}

int
queuecmd_flush(struct spool *sp, FILE *out)
{
	struct flushing fl = { sp, (long long)time(NULL), 0, 0, 0, out };
	char err[512];
	int rc = 0;

	if (spool_scan(sp, flush_one, &fl, err, sizeof err) == -1) {
		fprintf(out, "formpost queue: %s\n", err);
		return 1;
	}
	fprintf(out, "%ld message%s due now", fl.due, fl.due == 1 ? "" : "s");
	if (fl.busy)
		fprintf(out, ", %ld being delivered at this moment", fl.busy);
	fputs("\n", out);
	if (wake(sp, out) == -1 || fl.errors)
		rc = 1;
	fflush(out);
	return rc;
}

/* Puts failed recipients of f back into m as pending (appending those m
 * does not have).  0, or -1 on OOM. */
static int
merge_back(struct spool_msg *m, const struct spool_msg *f)
{
	struct spool_rcpt *r;
	size_t i, j;

	for (i = 0; i < f->nrcpt; i++) {
		for (j = 0; j < m->nrcpt; j++)
			if (strcmp(m->rcpt[j].addr, f->rcpt[i].addr) == 0)
				break;
		if (j == m->nrcpt) {
			if ((r = realloc(m->rcpt, (m->nrcpt + 1) *
			    sizeof *r)) == NULL)
				return -1;
			m->rcpt = r;
			memset(&r[j], 0, sizeof r[j]);
			if ((r[j].addr = strdup(f->rcpt[i].addr)) == NULL)
				return -1;
			m->nrcpt++;
		}
		if (m->rcpt[j].state == SPOOL_FAILED) {
			m->rcpt[j].state = SPOOL_PENDING;
			m->rcpt[j].code = 0;
			m->rcpt[j].reply[0] = '\0';
		}
	}
	return 0;
}

/* A fresh start: a retried message gets max_age and back-off anew, and
 * its history a "retried" entry naming the recipients queued again (doc/
 * design.md "The spool").  0, or -1 on OOM (nothing to write then). */
static int
revive(struct spool_msg *m, long long now)
{
	struct spool_attempt *a;
	size_t i;

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == SPOOL_FAILED) {
			m->rcpt[i].state = SPOOL_PENDING;
			m->rcpt[i].code = 0;
			m->rcpt[i].reply[0] = '\0';
		}
	m->created = now;
	m->attempts = 0;
	m->next_try = 0;
	snprintf(m->reply, sizeof m->reply, "retried by the operator");
	if ((a = spool_attempt_add(m, now, NULL, SPOOL_EV_RETRIED, 0,
	    m->reply)) == NULL)
		return -1;
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == SPOOL_PENDING &&
		    spool_attempt_rcpt(a, m->rcpt[i].addr, SPOOL_EV_RETRIED, 0,
		    "") == -1)
			return -1;
	return 0;
}

int
queuecmd_retry(struct spool *sp, const char *typed, FILE *out)
{
	char id[SPOOL_ID_MAX + 1];
	struct spool_msg q, f;
	long long now = (long long)time(NULL);
	char err[512];
	enum spool_claim cl;
	int fd = -1, have_f, rc = 1;
	size_t n = 0;

	memset(&q, 0, sizeof q);
	memset(&f, 0, sizeof f);
	if (!id_ok(typed, id)) {
		fprintf(out, "formpost queue: %s is not a message id\n", typed);
		return 1;
	}
	/* failed/ID only after the claim: a sender writes it under that
	 * claim, last just before it removes queue/ID, so an earlier read
	 * could requeue an older record than the one removed below. */
	cl = spool_claim(sp, id, &q, &fd, err, sizeof err);
	if (cl == SPOOL_CLAIMED || cl == SPOOL_GONE) {
		if ((have_f = spool_read(sp, "failed", id, &f, err,
		    sizeof err)) == -1 || have_f == 2) {
			fprintf(out, "formpost queue: %s\n", err);
			goto out;
		}
		have_f = have_f == 0;
	} else
		have_f = 0;
	switch (cl) {
	case SPOOL_CLAIMED:
		n = have_f ? f.nrcpt : spool_count(&q, SPOOL_PENDING);
		if (have_f && merge_back(&q, &f) == -1) {
			fprintf(out, "formpost queue: out of memory\n");
			goto out;
		}
		if (revive(&q, now) == -1) {
			fprintf(out, "formpost queue: out of memory\n");
			goto out;
		}
		if (spool_update(sp, &fd, &q, err, sizeof err) == -1) {
			fprintf(out, "formpost queue: %s\n", err);
			goto out;
		}
		break;
	case SPOOL_GONE:
		if (!have_f) {
			fprintf(out, "formpost queue: no message %s in queue/ "
			    "or failed/ (delivered or dropped?)\n", id);
			goto out;
		}
		n = f.nrcpt;
		if (revive(&f, now) == -1) {
			fprintf(out, "formpost queue: out of memory\n");
			goto out;
		}
		if (spool_commit(sp, &f, err, sizeof err) == -1) {
			fprintf(out, "formpost queue: %s\n", err);
			goto out;
		}
		break;
	case SPOOL_BUSY:
		fprintf(out, "formpost queue: %s is being delivered at this "
		    "moment; try again in a few seconds\n", id);
		goto out;
	case SPOOL_NEWER:
	case SPOOL_CORRUPT:
	case SPOOL_ERROR:
		fprintf(out, "formpost queue: %s: %s\n", id, err);
		goto out;
	}
	/* Only once the recipients are durable in queue/: a crash before
	 * this leaves both copies, never none. */
	if (have_f && spool_remove(sp, "failed", id, err, sizeof err) == -1) {
		fprintf(out, "formpost queue: %s (the message is queued; "
		    "remove failed/%s by hand)\n", err, id);
		goto out;
	}
	/* Released before the wake-up: a worker that finds it still
	 * claimed would put it back for a whole first_retry. */
	spool_msg_drop_data(&q);
	spool_release(fd);
	fd = -1;
	fprintf(out, "%s: %zu recipient%s queued again, due now\n", id, n,
	    n == 1 ? "" : "s");
	rc = wake(sp, out) == -1;
out:
	spool_msg_free(&q);          /* its own open before the claim */
	spool_release(fd);
	spool_msg_free(&f);
	fflush(out);
	return rc;
}

int
queuecmd_drop(struct spool *sp, const char *typed, FILE *out)
{
	char id[SPOOL_ID_MAX + 1];
	static const char *const subs[] = { "failed", "corrupt" };
	struct spool_msg q;
	char err[512], path[4200];
	size_t i;
	int fd = -1, found = 0, rc = 0;

	memset(&q, 0, sizeof q);
	if (!id_ok(typed, id)) {
		fprintf(out, "formpost queue: %s is not a message id\n", typed);
		return 1;
	}
	switch (spool_claim(sp, id, &q, &fd, err, sizeof err)) {
	case SPOOL_CLAIMED:
		spool_msg_free(&q);
		if (spool_finish(sp, fd, id, err, sizeof err) == -1) {
			fprintf(out, "formpost queue: %s\n", err);
			rc = 1;
		} else {
			fprintf(out, "%s: removed from queue/\n", id);
			found = 1;
		}
		break;
	case SPOOL_GONE:
		break;
	case SPOOL_BUSY:
		fprintf(out, "formpost queue: %s is being delivered at this "
		    "moment; try again in a few seconds\n", id);
		return 1;
	case SPOOL_CORRUPT:      /* moved to corrupt/: removed below */
		break;
	case SPOOL_NEWER:        /* never claimed: the newer one's to drop */
		fprintf(out, "formpost queue: %s: %s; drop it with that "
		    "formpost\n", id, err);
		return 1;
	case SPOOL_ERROR:
		fprintf(out, "formpost queue: %s\n", err);
		return 1;
	}
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s/%s", spool_path(sp),
		    subs[i], id);
		if (access(path, F_OK) != 0)
			continue;
		if (spool_remove(sp, subs[i], id, err, sizeof err) == -1) {
			fprintf(out, "formpost queue: %s\n", err);
			rc = 1;
		} else {
			fprintf(out, "%s: removed from %s/\n", id, subs[i]);
			found = 1;
		}
	}
	if (!found && rc == 0) {
		fprintf(out, "formpost queue: no message %s in queue/, failed/ "
		    "or corrupt/\n", id);
		rc = 1;
	}
	fflush(out);
	return rc;
}

/* --- check ------------------------------------------------------------------- */

int
queuecmd_check(struct spool *sp, unsigned older_than, FILE *out)
{
	struct listing q, f;
	long long now = (long long)time(NULL);
	const struct spool_msg *cfg = NULL, *old = NULL, *failed = NULL;
	char err[512], age[32], limit[32];
	size_t i, nconfig = 0, nold = 0, nfailed = 0;
	long corrupt = 0;
	int rc = QCHECK_UNKNOWN;

	memset(&f, 0, sizeof f);
	if (load(sp, "queue", &q, err, sizeof err) == -1 ||
	    load(sp, "failed", &f, err, sizeof err) == -1 ||
	    (corrupt = count_in(sp, "corrupt", err, sizeof err)) == -1) {
		fprintf(out, "UNKNOWN: formpost queue: %s\n", err);
		goto out;
	}
	for (i = 0; i < q.n; i++) {
		const struct spool_msg *m = &q.it[i].m;
		if (q.it[i].cls == QC_CONFIG && nconfig++ == 0)
			cfg = m;
		/* A receipt's delay or failure is its visitor's address,
		 * never an alert (doc/design.md "Auto-reply and carrier
		 * mail"); held as config, it is the operator's. */
		if (now - m->created >= (long long)older_than &&
		    !spool_id_is_receipt(m->id) && nold++ == 0)
			old = m;          /* oldest first: this is the oldest */
	}
	for (i = 0; i < f.n; i++)
		if (!spool_id_is_receipt(f.it[i].m.id) && nfailed++ == 0)
			failed = &f.it[i].m;
	queuecmd_duration(limit, older_than);
	if (nfailed || corrupt || nconfig || q.nbad || f.nbad) {
		rc = QCHECK_CRITICAL;
		fprintf(out, "CRITICAL: formpost queue:");
		if (nfailed)
			fprintf(out, " %zu failed (oldest %s: %s);", nfailed,
			    failed->id, failed->nrcpt ?
			    failed->rcpt[0].reply : failed->reply);
		if (nconfig)
			fprintf(out, " %zu held as config (%s: %s);", nconfig,
			    cfg->id, cfg->reply);
		if (corrupt)
			fprintf(out, " %ld corrupt;", corrupt);
		if (q.nbad + f.nbad)
			fprintf(out, " %zu unreadable;", q.nbad + f.nbad);
		if (nold)
			fprintf(out, " %zu older than %s;", nold, limit);
		fprintf(out, " see formpost queue list\n");
	} else if (nold) {
		rc = QCHECK_WARNING;
		queuecmd_duration(age, now - old->created);
		fprintf(out, "WARNING: formpost queue: %zu message%s older than "
		    "%s (oldest %s, %s: %s); see formpost queue list\n", nold,
		    nold == 1 ? "" : "s", limit, old->id, age, old->reply[0] ?
		    old->reply : "no attempt yet");
	} else if (q.nnewer + f.nnewer) {
		/* Mail, not damage: the newer formpost delivers it. */
		rc = QCHECK_WARNING;
		fprintf(out, "WARNING: formpost queue: %zu file%s written by a "
		    "newer formpost (%s), left for it; see formpost queue "
		    "list\n", q.nnewer + f.nnewer, q.nnewer + f.nnewer == 1 ?
		    "" : "s", q.nnewer ? q.newer[0] : f.newer[0]);
	} else {
		rc = QCHECK_OK;
		fprintf(out, "OK: formpost queue: %zu queued, none older than "
		    "%s; nothing failed\n", q.n, limit);
	}
out:
	listing_free(&q);
	listing_free(&f);
	fflush(out);
	return rc;
}

/* --- show, purge ------------------------------------------------------------- */

static void
when(FILE *out, const char *label, long long t, long long now)
{
	char iso[ISO_UTC_LEN], age[32];

	iso_utc(iso, t);
	queuecmd_duration(age, now > t ? now - t : t - now);
	fprintf(out, "%-10s %s (%s %s)\n", label, iso, age, now >= t ? "ago" :
	    "from now");
}

/* The header section of the wire bytes, each line indented; never the
 * body. */
static void
headers(FILE *out, const struct spool_msg *m)
{
	const char *p = m->data, *end = m->data + m->len, *nl;

	fprintf(out, "headers:\n");
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		fprintf(out, "  %.*s\n", (int)n, p);
		p = nl + 1;
	}
}

/* The attempts a file keeps, oldest first, each with its recipients
 * (doc/design.md "The spool"); what a version 1 file lacks is in the
 * log. */
static void
history(FILE *out, const struct spool_msg *m)
{
	char t[ISO_UTC_LEN];
	size_t i, j;

	if (m->hist_total == 0) {
		if (m->attempts == 0 && m->reply[0] == '\0')
			fprintf(out, "history: no attempt yet\n");
		else
			fprintf(out, "history: not in this file (written "
			    "before formpost kept one); every attempt is in "
			    "the log (event=attempt id=%s)\n", m->id);
		return;
	}
	fprintf(out, "history: %u attempt%s, oldest first\n", m->hist_total,
	    m->hist_total == 1 ? "" : "s");
	if (m->hist_total > m->nhist)
		fprintf(out, "  %u earlier attempt%s not kept (in the log: "
		    "event=attempt id=%s)\n", m->hist_total -
		    (unsigned)m->nhist, m->hist_total - m->nhist == 1 ? "" :
		    "s", m->id);
	for (i = 0; i < m->nhist; i++) {
		const struct spool_attempt *a = &m->hist[i];
		iso_utc(t, a->at);
		fprintf(out, "  %s  %-10s %-9s %3d  %s\n", t, a->profile,
		    spool_event_name(a->ev), a->code, a->reply);
		for (j = 0; j < a->nto; j++) {
			const struct spool_tried *r = &a->to[j];
			fprintf(out, "      %-9s %3d  %s%s%s\n",
			    spool_event_name(r->ev), r->code, r->addr,
			    r->reply ? "  " : "", r->reply ? r->reply : "");
		}
	}
}

static const char *
show_state(const char *sub, const struct spool_msg *m)
{
	enum qclass c;

	if (strcmp(sub, "sent") == 0)
		return "archived (delivered)";
	c = classify(m, strcmp(sub, "failed") == 0);
	if (strcmp(sub, "failed") == 0)
		return c == QC_EXPIRED ? "failed (expired after max_age)" :
		    "failed (refused permanently)";
	return c == QC_CONFIG ? "held (config: the operator must fix the "
	    "setup)" : "queued";
}

static void
show_one(FILE *out, const char *sub, const struct spool_msg *m, long long now)
{
	size_t i;

	fprintf(out, "%s/%s\n", sub, m->id);
	fprintf(out, "%-10s %s\n", "state", show_state(sub, m));
	fprintf(out, "%-10s %s\n", "site", m->site);
	when(out, "created", m->created, now);
	fprintf(out, "%-10s %s\n", "sender", m->sender);
	fprintf(out, "%-10s %u\n", "attempts", m->attempts);
	if (strcmp(sub, "queue") == 0)
		when(out, "next try", m->next_try > 0 ? m->next_try : now, now);
	fprintf(out, "%-10s %s\n", "last note", m->reply[0] ? m->reply :
	    "(no attempt yet)");
	fprintf(out, "recipients:\n");
	for (i = 0; i < m->nrcpt; i++) {
		const struct spool_rcpt *r = &m->rcpt[i];
		fprintf(out, "  %-8s %-3d %s", spool_state_name(r->state),
		    r->code, r->addr);
		if (r->reply[0])
			fprintf(out, "  %s", r->reply);
		fputc('\n', out);
	}
	headers(out, m);
	history(out, m);
}

/* "history":{"total":N,"kept":[...]}: the attempts the file keeps,
 * oldest first, each with what it did for each recipient ("reply" null:
 * the attempt's). */
static void
json_history(FILE *out, const struct spool_msg *m)
{
	size_t i, j;

	fprintf(out, "\"history\":{\"total\":%u,\"kept\":[",
	    m->hist_total);
	for (i = 0; i < m->nhist; i++) {
		const struct spool_attempt *a = &m->hist[i];
		fprintf(out, "%s{\"at\":%lld,\"profile\":", i ? "," : "",
		    a->at);
		json_file_string(out, a->profile);
		fprintf(out, ",\"event\":\"%s\",\"code\":%d,\"reply\":",
		    spool_event_name(a->ev), a->code);
		json_file_string(out, a->reply);
		fputs(",\"to\":[", out);
		for (j = 0; j < a->nto; j++) {
			const struct spool_tried *r = &a->to[j];
			fprintf(out, "%s{\"addr\":", j ? "," : "");
			json_file_string(out, r->addr);
			fprintf(out, ",\"event\":\"%s\",\"code\":%d,"
			    "\"reply\":", spool_event_name(r->ev), r->code);
			if (r->reply)
				json_file_string(out, r->reply);
			else
				fputs("null", out);
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputs("]}", out);
}

/* One copy of the message for `queue show --json` (no header section:
 * monitoring wants states, and headers hold what visitors typed). */
static void
json_one(FILE *out, const char *sub, const struct spool_msg *m)
{
	fputs("{\"where\":", out);
	json_file_string(out, sub);
	fputs(",\"state\":", out);
	json_file_string(out, show_state(sub, m));
	fputs(",\"site\":", out);
	json_file_string(out, m->site);
	fprintf(out, ",\"created\":%lld,\"sender\":", m->created);
	json_file_string(out, m->sender);
	fprintf(out, ",\"attempts\":%u,\"next_try\":%lld,\"reply\":",
	    m->attempts, m->next_try);
	json_file_string(out, m->reply);
	fputc(',', out);
	json_rcpts(out, m);
	fputc(',', out);
	json_history(out, m);
	fputc('}', out);
}

/* Every copy of a message `queue show` looks at: queue/, failed/ and
 * sent/ as spool_read found them (rc: 0 read into m, 1 none, 2 a newer
 * formpost's, -1 unreadable with err), and whether corrupt/ has one. */
static const char *const show_subs[] = { "queue", "failed", "sent" };

struct copies {
	struct {
		int rc;
		struct spool_msg m;
		char err[512];
	} c[ARRAY_LEN(show_subs)];
	int corrupt;
};

/* Reads them all into *cs (free with copies_free); how many exist. */
static size_t
copies_read(struct spool *sp, const char *id, struct copies *cs)
{
	char path[4200];
	size_t i, n = 0;

	memset(cs, 0, sizeof *cs);
	for (i = 0; i < ARRAY_LEN(show_subs); i++) {
		cs->c[i].rc = spool_read(sp, show_subs[i], id, &cs->c[i].m,
		    cs->c[i].err, sizeof cs->c[i].err);
		n += cs->c[i].rc != 1;
	}
	snprintf(path, sizeof path, "%s/corrupt/%s", spool_path(sp), id);
	cs->corrupt = access(path, F_OK) == 0;
	return n + (size_t)cs->corrupt;
}

static void
copies_free(struct copies *cs)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(show_subs); i++)
		spool_msg_free(&cs->c[i].m);
}

/* The subdirectories whose copy's spool_read gave rc, as a JSON array. */
static void
json_subs(FILE *out, const struct copies *cs, int rc)
{
	size_t i, n = 0;

	fputc('[', out);
	for (i = 0; i < ARRAY_LEN(show_subs); i++)
		if (cs->c[i].rc == rc) {
			fputs(n++ ? "," : "", out);
			json_file_string(out, show_subs[i]);
		}
	fputc(']', out);
}

/* queue show --json: {"id":ID,"found":[...],"unreadable":[...],
 * "newer":[...],"corrupt":BOOL}. */
static void
show_json(FILE *out, const char *id, const struct copies *cs)
{
	size_t i, found = 0;

	fputs("{\"id\":", out);
	json_file_string(out, id);
	fputs(",\"found\":[", out);
	for (i = 0; i < ARRAY_LEN(show_subs); i++)
		if (cs->c[i].rc == 0) {
			if (found++)
				fputc(',', out);
			json_one(out, show_subs[i], &cs->c[i].m);
		}
	fputs("],\"unreadable\":", out);
	json_subs(out, cs, -1);
	fputs(",\"newer\":", out);
	json_subs(out, cs, 2);
	fprintf(out, ",\"corrupt\":%s}\n", cs->corrupt ? "true" : "false");
}

static void
show_text(FILE *out, const char *id, const struct copies *cs, long long now)
{
	size_t i;
	int found = 0;

	for (i = 0; i < ARRAY_LEN(show_subs); i++) {
		if (cs->c[i].rc == 1)
			continue;
		if (found++)
			fputc('\n', out);
		if (cs->c[i].rc == -1)
			fprintf(out, "%s/%s: unreadable: %s\n", show_subs[i], id,
			    cs->c[i].err);
		else if (cs->c[i].rc == 2)
			fprintf(out, "%s/%s: %s; left for it (show it with "
			    "that formpost)\n", show_subs[i], id, cs->c[i].err);
		else
			show_one(out, show_subs[i], &cs->c[i].m, now);
	}
	if (cs->corrupt)
		fprintf(out, "%scorrupt/%s: did not verify; never delivered\n",
		    found++ ? "\n" : "", id);
	if (!found)
		fprintf(out, "formpost queue: no message %s in queue/, failed/, "
		    "sent/ or corrupt/ (delivered without retention.archive, "
		    "purged, or dropped?)\n", id);
}

int
queuecmd_show(struct spool *sp, const char *typed, int json, FILE *out)
{
	char id[SPOOL_ID_MAX + 1];
	struct copies cs;
	size_t n;

	if (!id_ok(typed, id)) {
		fprintf(out, "formpost queue: %s is not a message id\n", typed);
		return 1;
	}
	n = copies_read(sp, id, &cs);
	if (json)
		show_json(out, id, &cs);
	else
		show_text(out, id, &cs, (long long)time(NULL));
	copies_free(&cs);
	fflush(out);
	return n > 0 ? 0 : 1;
}

int
queuecmd_purge(struct spool *sp, const struct config *c, FILE *out)
{
	char err[512];
	long f, s;

	if (ops_retention(sp, c, (long long)time(NULL), &f, &s, err,
	    sizeof err) == -1) {
		fprintf(out, "formpost queue: %s\n", err);
		fflush(out);
		return 1;
	}
	fprintf(out, "purged %ld from failed/ and %ld from sent/\n", f, s);
	fflush(out);
	return 0;
}
