/*
 * metrics — fixed tables of relaxed atomic counters (see metrics.h).  A
 * series is found by open addressing on a hash of its kind and labels;
 * a slot once published (ready, with release order) is never changed
 * but for its count, so readers need no lock.  Inserting takes one
 * mutex so that two threads never publish the same key twice.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "limits.h"

enum kind { K_POSTS, K_DELIVERIES, K_AUTO_REPLY, K_N };

#define KEY_MAX (3 * (LIM_METRICS_LABEL + 1))

struct series {
	atomic_int ready;              /* 1 once key is written */
	unsigned char kind;
	unsigned char keylen;          /* bytes of key used */
	char key[KEY_MAX];             /* labels, each NUL-terminated */
	atomic_uint_fast64_t n;
};

static struct series table[LIM_METRICS_SERIES];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t dropped;   /* increments with no room */
static atomic_size_t used;             /* series published */

/* Request duration buckets, seconds (upper bounds; +Inf implied). */
static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBOUNDS (sizeof bounds / sizeof bounds[0])
static atomic_uint_fast64_t hist[NBOUNDS + 1];   /* not cumulative */
static atomic_uint_fast64_t hist_sum_us;

static const char *const result_names[MR_N] = { "accepted", "spam",
    "duplicate", "invalid", "rejected", "error" };

enum metrics_result
metrics_result_of(int status, const char *reason)
{
	if (status >= 500 || status == 0)
		return MR_ERROR;
	if (status == 422)
		return MR_INVALID;
	if (status >= 400)
		return MR_REJECTED;
	if (reason == NULL)
		return MR_ACCEPTED;
	if (strcmp(reason, "duplicate") == 0)
		return MR_DUPLICATE;
	return MR_SPAM;
}

/* Builds the key: up to three labels, each cut and NUL-terminated. */
static size_t
make_key(char key[KEY_MAX], const char *const *labels, size_t n)
{
	size_t i, len = 0, l;

	for (i = 0; i < n; i++) {
		const char *v = labels[i] ? labels[i] : "";
		l = strnlen(v, LIM_METRICS_LABEL);
		memcpy(key + len, v, l);
		key[len + l] = '\0';
		len += l + 1;
	}
	return len;
}

static uint32_t
hash(unsigned kind, const char *key, size_t len)
{
	uint32_t h = 2166136261u ^ kind;   /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* The slot of (kind, key): found, or inserted; NULL when the table is
 * full. */
static struct series *
find(unsigned kind, const char *key, size_t len, int insert)
{
	uint32_t h = hash(kind, key, len);
	size_t i, at;
	struct series *s;

	for (i = 0; i < LIM_METRICS_SERIES; i++) {
		s = &table[(h + i) % LIM_METRICS_SERIES];
		if (!atomic_load_explicit(&s->ready, memory_order_acquire))
			break;
		if (s->kind == kind && s->keylen == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
	if (!insert || i == LIM_METRICS_SERIES)
		return NULL;
	pthread_mutex_lock(&insert_lock);
	/* Another thread may have published it, or taken the free slot. */
	for (at = i; at < LIM_METRICS_SERIES; at++) {
		s = &table[(h + at) % LIM_METRICS_SERIES];
		if (!atomic_load_explicit(&s->ready, memory_order_acquire)) {
			s->kind = (unsigned char)kind;
			s->keylen = (unsigned char)len;
			memcpy(s->key, key, len);
			atomic_store_explicit(&s->n, 0, memory_order_relaxed);
			atomic_store_explicit(&s->ready, 1,
			    memory_order_release);
			atomic_fetch_add(&used, 1);
			break;
		}
		if (s->kind == kind && s->keylen == len &&
		    memcmp(s->key, key, len) == 0)
			break;
	}
	pthread_mutex_unlock(&insert_lock);
	return at < LIM_METRICS_SERIES ? s : NULL;
}

static void
count(unsigned kind, const char *const *labels, size_t n)
{
	char key[KEY_MAX];
	size_t len = make_key(key, labels, n);
	struct series *s = find(kind, key, len, 1);

	if (s == NULL)
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
}

void
metrics_post(const char *site, enum metrics_result r)
{
	const char *l[2] = { site, result_names[r < MR_N ? r : MR_ERROR] };

	count(K_POSTS, l, 2);
}

void
metrics_declare_site(const char *site)
{
	char key[KEY_MAX];
	const char *l[2] = { site, NULL };
	size_t len;
	int r;

	for (r = 0; r < MR_N; r++) {
		if (atomic_load(&used) >= LIM_METRICS_SERIES / 2)
			return;
		l[1] = result_names[r];
		len = make_key(key, l, 2);
		find(K_POSTS, key, len, 1);
	}
}

void
metrics_delivery(const char *site, const char *profile, const char *outcome)
{
	const char *l[3] = { site, profile, outcome };

	count(K_DELIVERIES, l, 3);
}

void
metrics_auto_reply_skipped(const char *site, const char *reason)
{
	const char *l[2] = { site, reason };

	count(K_AUTO_REPLY, l, 2);
}

void
metrics_request_us(uint64_t us)
{
	size_t i;

	for (i = 0; i < NBOUNDS && (double)us > bounds[i] * 1e6; i++)
		;
	atomic_fetch_add_explicit(&hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_sum_us, us, memory_order_relaxed);
}

void
metrics_escape(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_adds(out, "\\\\");
		else if (*v == '"')
			buf_adds(out, "\\\"");
		else if (*v == '\n')
			buf_adds(out, "\\n");
		else
			buf_addc(out, *v);
	}
}

struct family {
	const char *name, *help;
	const char *labels[3];
};

static const struct family families[K_N] = {
	[K_POSTS] = { "formpost_posts_total", "Posts answered, by site and "
	    "result.", { "site", "result", NULL } },
	[K_DELIVERIES] = { "formpost_deliveries_total", "SMTP transactions, "
	    "by site, profile and outcome.", { "site", "profile", "outcome" } },
	[K_AUTO_REPLY] = { "formpost_auto_reply_skipped_total", "Auto-replies "
	    "not sent, by site and reason.", { "site", "reason", NULL } },
};

static void
render_family(unsigned kind, struct buf *out)
{
	const struct family *f = &families[kind];
	size_t i, j, off;

	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", f->name,
	    f->help, f->name);
	for (i = 0; i < LIM_METRICS_SERIES; i++) {
		struct series *s = &table[i];
		if (!atomic_load_explicit(&s->ready, memory_order_acquire) ||
		    s->kind != kind)
			continue;
		buf_printf(out, "%s{", f->name);
		for (j = 0, off = 0; j < 3 && f->labels[j]; j++) {
			buf_printf(out, "%s%s=\"", j ? "," : "", f->labels[j]);
			metrics_escape(out, s->key + off);
			buf_addc(out, '"');
			off += strlen(s->key + off) + 1;
		}
		buf_printf(out, "} %llu\n", (unsigned long long)
		    atomic_load_explicit(&s->n, memory_order_relaxed));
	}
}

static void
render_histogram(struct buf *out)
{
	const char *n = "formpost_request_duration_seconds";
	unsigned long long cum = 0;
	size_t i;

	buf_printf(out, "# HELP %s Time from a request's parameters to its "
	    "answer.\n# TYPE %s histogram\n", n, n);
	for (i = 0; i <= NBOUNDS; i++) {
		cum += atomic_load_explicit(&hist[i], memory_order_relaxed);
		if (i < NBOUNDS)
			buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", n,
			    bounds[i], cum);
		else
			buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", n, cum);
	}
	buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", n, (double)
	    atomic_load_explicit(&hist_sum_us, memory_order_relaxed) / 1e6,
	    n, cum);
}

static void
gauge(struct buf *out, const char *name, const char *help, long long v)
{
	if (v < 0)
		return;
	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help,
	    name, name, v);
}

void
metrics_render(const struct metrics_gauges *g, const char *version,
    struct buf *out)
{
	unsigned k;

	for (k = 0; k < K_N; k++)
		render_family(k, out);
	render_histogram(out);
	if (g->queued >= 0) {
		buf_adds(out, "# HELP formpost_queue_messages Messages in the "
		    "spool, by state.\n# TYPE formpost_queue_messages gauge\n");
		buf_printf(out, "formpost_queue_messages{state=\"queued\"} "
		    "%lld\n", g->queued);
		buf_printf(out, "formpost_queue_messages{state=\"held\"} "
		    "%lld\n", g->held);
		buf_printf(out, "formpost_queue_messages{state=\"failed\"} "
		    "%lld\n", g->failed);
	}
	gauge(out, "formpost_oldest_queued_seconds", "Age of the oldest "
	    "message in queue/.", g->oldest_queued);
	gauge(out, "formpost_spool_free_bytes", "Bytes free to the service "
	    "user on the spool's file system.", g->spool_free);
	gauge(out, "formpost_held_uploads", "Uploads kept in hold/ between "
	    "the review page and its send.", g->held_uploads);
	gauge(out, "formpost_held_upload_bytes", "Bytes of the uploads kept in "
	    "hold/.", g->held_upload_bytes);
	gauge(out, "formpost_resident_memory_bytes", "Resident memory of "
	    "this process.", g->resident);
	buf_adds(out, "# HELP formpost_build_info The running version.\n"
	    "# TYPE formpost_build_info gauge\nformpost_build_info{version=\"");
	metrics_escape(out, version);
	buf_adds(out, "\"} 1\n");
	buf_printf(out, "# HELP formpost_metrics_series_dropped_total Counts "
	    "lost because the series table was full.\n# TYPE "
	    "formpost_metrics_series_dropped_total counter\n"
	    "formpost_metrics_series_dropped_total %llu\n",
	    (unsigned long long)atomic_load_explicit(&dropped,
	    memory_order_relaxed));
}

void
metrics_reset(void)
{
	size_t i;

	pthread_mutex_lock(&insert_lock);
	for (i = 0; i < LIM_METRICS_SERIES; i++)
		atomic_store(&table[i].ready, 0);
	for (i = 0; i <= NBOUNDS; i++)
		atomic_store(&hist[i], 0);
	atomic_store(&hist_sum_us, 0);
	atomic_store(&dropped, 0);
	atomic_store(&used, 0);
	pthread_mutex_unlock(&insert_lock);
}
