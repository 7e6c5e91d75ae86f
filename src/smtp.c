/*
 * smtp — libcurl SMTP submission (doc/design.md "A delivery").  curl drives
 * the protocol; we follow it through the debug callback to learn the reply to
 * every command, because CURLOPT_MAIL_RCPT_ALLLOWFAILS alone hides which
 * recipient failed.  Never: plaintext fallback (CURLUSESSL_TRY), disabled
 * verification, CURLOPT_CRLF, or the AUTH exchange in a trace.
 */
#include "smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "crypto.h"
#include "file.h"
#include "limits.h"
#include "mime.h"
#include "smtppipe.h"
#include "util.h"

struct dialogue {
	enum smtp_phase phase;
	int code;                    /* last final reply code in phase */
	char reply[SMTP_REPLY_MAX];
	char enhanced[16];
	struct smtp_rcpt *rcpt;
	size_t nrcpt;
	size_t rcpt_sent;            /* RCPT commands sent so far */
	int auth_offered;
	int plain_offered, login_offered;
	char line[LIM_SMTP_LINE];    /* partial reply line */
	size_t linelen;
	int quitting;                /* QUIT sent: its reply decides nothing */
	int in_auth;                 /* AUTH sent, its final reply not yet in */
	long long deadline;          /* monotonic ms: give up waiting then */
	long long step_ms;           /* the profile timeout, ms */
	int body_done;               /* whole message handed to curl */
	struct smtp_caps caps;       /* the last EHLO reply's (HEADER_IN) */
	smtp_trace_fn trace;
	void *trace_arg;
};

struct smtp_client {
	CURL *curl;
	struct dialogue d;           /* capability state survives reuse */
	struct dialogue *active;     /* the dialogue a perform drives */
	struct buf key;              /* the profile c->curl last spoke to */
	int connected;               /* ... and that perform got past AUTH */
	CURL *pipe;                  /* the pipelined connection (CONNECT_ONLY) */
	struct dialogue pd;          /* its opening dialogue */
	struct buf pkey;             /* the profile it is for */
	long long pipe_retry;        /* no pipelined session before (ms) */
	const char *data;            /* upload cursor: data, or (fd, foff) */
	int fd;                      /* -1: data */
	unsigned long long foff;
	size_t len, off;
	int guard_auth;              /* profile has a username */
	const atomic_int *abort;     /* set: give up (shutdown) */
	int aborted;                 /* this transfer was given up */
	int timed_out;               /* a deadline of ours passed */
	int read_failed;             /* the spool file could not be read */
	curl_off_t ul_seen;          /* upload bytes at the last check */
	char errbuf[CURL_ERROR_SIZE];
};

/* The build's system trust store (Debian: a bundle and a hashed folder),
 * read once: a reused handle must get it back explicitly after a profile
 * with its own ca_file, and setting CAINFO to NULL would disable the
 * bundle rather than restore it. */
static char sys_cainfo[4096], sys_capath[4096];

static void
read_trust_defaults(void)
{
	CURL *h = curl_easy_init();
	char *v = NULL;

	if (h == NULL)
		return;
	if (curl_easy_getinfo(h, CURLINFO_CAINFO, &v) == CURLE_OK && v)
		snprintf(sys_cainfo, sizeof sys_cainfo, "%s", v);
	v = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CAPATH, &v) == CURLE_OK && v)
		snprintf(sys_capath, sizeof sys_capath, "%s", v);
	curl_easy_cleanup(h);
}

int
smtp_global_init(char *err, size_t errlen)
{
	curl_version_info_data *v;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return -1;
	}
	v = curl_version_info(CURLVERSION_NOW);
	if (!(v->features & CURL_VERSION_ASYNCHDNS) ||
	    !(v->features & CURL_VERSION_SSL)) {
		snprintf(err, errlen, "libcurl %s lacks an async resolver or "
		    "TLS; install libcurl4 (OpenSSL flavour)", v->version);
		return -1;
	}
	read_trust_defaults();
	return 0;
}

void
smtp_global_cleanup(void)
{
	curl_global_cleanup();
}

struct smtp_client *
smtp_client_new(void)
{
	struct smtp_client *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	if ((c->curl = curl_easy_init()) == NULL) {
		free(c);
		return NULL;
	}
	c->active = &c->d;
	buf_init(&c->key);
	buf_init(&c->pkey);
	return c;
}

/* Closes handle h (its QUIT waits at most step_ms; none when hard: a
 * server that stalls, or a stream out of step, is owed no QUIT, and
 * shutting the socket down makes curl's closing QUIT fail at once). */
static void
close_handle(CURL *h, long long step_ms, int hard)
{
	long wait = step_ms > 0 ? (long)(step_ms / 1000) : 1L;

	if (h == NULL)
		return;
	if (hard) {
		curl_socket_t fd = CURL_SOCKET_BAD;
		wait = 1;
		if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) ==
		    CURLE_OK && fd != CURL_SOCKET_BAD)
			shutdown(fd, SHUT_RDWR);
	}
	/* curl's own response timeout is the long one after the dot. */
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, wait);
	curl_easy_cleanup(h);
}

/* Forgets a profile key. */
static void
key_clear(struct buf *k)
{
	if (k->data)
		explicit_bzero(k->data, k->cap);
	buf_reset(k);
}

static void
pipe_close(struct smtp_client *c, int hard)
{
	close_handle(c->pipe, c->pd.step_ms, hard);
	c->pipe = NULL;
	key_clear(&c->pkey);
}

void
smtp_client_free(struct smtp_client *c)
{
	int stopping;

	if (c == NULL)
		return;
	stopping = c->abort && atomic_load(c->abort);
	pipe_close(c, stopping);
	close_handle(c->curl, c->d.step_ms, stopping);
	key_clear(&c->key);
	buf_free(&c->key);
	buf_free(&c->pkey);
	free(c);
}

void
smtp_client_set_abort(struct smtp_client *c, const atomic_int *flag)
{
	c->abort = flag;
}

/*
 * libcurl has one response timeout for every reply, so it gets the
 * longest wait (LIM_SMTP_DOT_WAIT) and the deadlines are ours, checked at
 * every progress call (at least once a second, also while curl blocks on
 * the reply to the dot): the profile timeout from the start (connect,
 * TLS, greeting), from every command sent and from every stretch of the
 * upload that moved (RFC 5321 §4.5.3.2), and LIM_SMTP_DOT_WAIT once the
 * whole message is out (§4.5.3.2.6: a relay may scan it for minutes; to
 * give up earlier would count a delivered message as failed and send it
 * again).  The stop flag is read here too.
 */
static int
xferinfo_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct smtp_client *c = arg;
	struct dialogue *d = c->active;

	(void)dt, (void)dn, (void)ut;
	if (c->abort && atomic_load(c->abort))
		c->aborted = 1;
	else if (!d->body_done && un != c->ul_seen) {
		c->ul_seen = un;
		d->deadline = mono_ms() + d->step_ms;
	} else if (mono_ms() >= d->deadline)
		c->timed_out = 1;
	if (!c->aborted && !c->timed_out)
		return 0;
	/* What curl sends from now on is its closing QUIT, whose reply
	 * decides nothing. */
	d->in_auth = 0;
	d->quitting = 1;
	return 1;
}

static void
trace(struct dialogue *d, char dir, const char *line)
{
	if (d->trace)
		d->trace(d->trace_arg, dir, line);
}

/* A complete reply line from the server. */
static void
reply_line(struct dialogue *d, const char *s, size_t n)
{
	char clean[SMTP_REPLY_MAX];
	int code, final;

	str_sanitise(clean, sizeof clean, s, n);
	trace(d, '<', d->in_auth && clean[0] == '3' ?
	    "334 [AUTH data hidden]" : clean);
	/* curl says QUIT after a failure before it returns: the 221 must
	 * not hide the reply that ended the transaction. */
	if (d->quitting)
		return;
	if (n < 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	final = n == 3 || s[3] == ' ' || s[3] == '\r';
	if (d->phase == PH_EHLO && n > 4 && code == 250) {
		const char *kw = s + 4;
		size_t kn = n - 4;
		if (kn >= 4 && (eq_ci(kw, 4, "AUTH")) && (kn == 4 ||
		    kw[4] == ' ' || kw[4] == '=')) {
			char caps[256];
			d->auth_offered = 1;
			str_sanitise(caps, sizeof caps, kw, kn);
			ascii_lower(caps, strlen(caps));
			if (strstr(caps, " plain"))
				d->plain_offered = 1;
			if (strstr(caps, " login"))
				d->login_offered = 1;
		}
	}
	if (!final)
		return;
	/* RFC 4954 §4: the exchange ends with the server's first final
	 * reply that is not a 3xx challenge (235, 4xx, 5xx). */
	if (d->in_auth && code / 100 != 3)
		d->in_auth = 0;
	d->code = code;
	str_copy(d->reply, sizeof d->reply, clean);
	pipe_enhanced(s, n, d->enhanced, sizeof d->enhanced);
	if (d->phase == PH_RCPT && d->rcpt_sent > 0 &&
	    d->rcpt_sent <= d->nrcpt) {
		struct smtp_rcpt *r = &d->rcpt[d->rcpt_sent - 1];
		r->code = code;
		str_copy(r->reply, sizeof r->reply, clean);
		r->outcome = code / 100 == 2 ? OUT_SENT :
		    outcome_classify(PH_RCPT, SF_NONE, code, d->enhanced);
	}
	if (d->phase == PH_DATA && code == 354) {
		/* The message follows; what counts now is the reply after
		 * the dot.  Until it comes there is none (a drop or timeout
		 * then means "maybe sent"), not a stale 354. */
		d->phase = PH_DOT;
		d->code = 0;
		d->reply[0] = d->enhanced[0] = '\0';
	}
}

/* Whether a command line (or the part of it curl could write at once,
 * n possibly 0) may be the AUTH command. */
static int
maybe_auth(const char *s, size_t n)
{
	char lit[sizeof "AUTH "] = "AUTH ";

	if (n >= 5)
		return eq_ci(s, 5, lit);
	lit[n] = '\0';
	return eq_ci(s, n, lit);
}

/* A command we sent: what it is, and so which phase we are in, comes
 * from the order of the dialogue, never from an AUTH line's text. */
static void
command_line(struct dialogue *d, const char *s, size_t n)
{
	char clean[SMTP_REPLY_MAX];

	d->deadline = mono_ms() + d->step_ms;
	/* From AUTH to its final reply, every line curl sends is AUTH data
	 * (RFC 4954 §4), whatever its base64 looks like: "QUIt...",
	 * "eHlO...", "TUFJ..." are all passwords. */
	if (d->in_auth) {
		trace(d, '>', "[AUTH data hidden]");
		return;
	}
	if (maybe_auth(s, n)) {
		d->phase = PH_AUTH;
		d->in_auth = 1;
		d->code = 0;
		d->reply[0] = d->enhanced[0] = '\0';
		trace(d, '>', "AUTH [AUTH data hidden]");
		return;
	}
	if (n >= 4 && (eq_ci(s, 4, "EHLO") || eq_ci(s, 4, "HELO"))) {
		d->phase = PH_EHLO;
		d->auth_offered = d->plain_offered = d->login_offered = 0;
		d->quitting = 0;        /* a new connection's dialogue */
	} else if (n >= 8 && eq_ci(s, 8, "STARTTLS"))
		d->phase = PH_TLS;
	else if (n >= 4 && eq_ci(s, 4, "MAIL"))
		d->phase = PH_MAIL;
	else if (n >= 4 && eq_ci(s, 4, "RCPT")) {
		d->phase = PH_RCPT;
		d->rcpt_sent++;
	} else if (n >= 4 && eq_ci(s, 4, "DATA"))
		d->phase = PH_DATA;
	else if (n >= 4 && eq_ci(s, 4, "QUIT")) {
		d->quitting = 1;
		str_sanitise(clean, sizeof clean, s, n);
		trace(d, '>', clean);
		return;
	}
	d->code = 0;
	d->reply[0] = d->enhanced[0] = '\0';
	str_sanitise(clean, sizeof clean, s, n);
	trace(d, '>', clean);
}

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct dialogue *d = arg;
	size_t i;

	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		command_line(d, data, size);
		return 0;
	}
	if (type != CURLINFO_HEADER_IN)
		return 0;
	for (i = 0; i < size; i++) {
		if (data[i] == '\n') {
			size_t n = d->linelen;
			if (n && d->line[n - 1] == '\r')
				n--;
			/* What the server offers, from its EHLO reply as
			 * received (never from what we sent). */
			if (d->phase == PH_EHLO)
				caps_line(&d->caps, d->line, n);
			reply_line(d, d->line, n);
			d->linelen = 0;
		} else if (d->linelen < sizeof d->line)
			d->line[d->linelen++] = data[i];
	}
	return 0;
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp_client *c = arg;
	size_t room = size * nitems, n;

	/* A username with no AUTH offered: curl skipped AUTH silently;
	 * refuse to hand over the message unauthenticated. */
	if (c->guard_auth && !c->d.auth_offered)
		return CURL_READFUNC_ABORT;
	n = c->len - c->off;
	if (n > room)
		n = room;
	if (c->fd < 0)
		memcpy(buf, c->data + c->off, n);
	/* From a spool file: a read error is a failed upload (temporary),
	 * never a signal (doc/design.md "Attachments"). */
	else if (file_pread_all(c->fd, buf, n, c->foff + c->off) != (long)n) {
		c->read_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	c->off += n;
	/* The rest is curl's final dot (no callback tells when it goes
	 * out): from here on, the long wait for its reply. */
	if (c->off == c->len && !c->d.body_done) {
		c->d.body_done = 1;
		c->d.deadline = mono_ms() + LIM_SMTP_DOT_WAIT * 1000LL;
	}
	return n;
}

static enum smtp_fail
fail_of(CURLcode rc, const struct dialogue *d)
{
	switch (rc) {
	case CURLE_OK:
		return SF_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return SF_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return SF_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		return SF_TLS_VERIFY;
	case CURLE_SSL_CONNECT_ERROR:
		return SF_TLS_HANDSHAKE;
	case CURLE_USE_SSL_FAILED:
		return SF_NO_STARTTLS;
	case CURLE_LOGIN_DENIED:
		return d->phase == PH_AUTH && d->code >= 400 ? SF_NONE :
		    SF_AUTH_MECH;
	case CURLE_ABORTED_BY_CALLBACK:
		return SF_NO_AUTH;
	case CURLE_SEND_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_QUOTE_ERROR:
		return d->code >= 400 ? SF_NONE : SF_DROPPED;
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return SF_DROPPED;
	default:
		return SF_OTHER;
	}
}

/* What every handle gets: the server, TLS always verified, the
 * credentials, the dialogue followed through the debug callback, our
 * deadlines in the progress callback. */
static CURLcode
setup_common(CURL *h, struct smtp_client *c, const struct smtp_profile *p,
    struct dialogue *d, const char *auth)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
	SET(CURLOPT_URL, p->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USE_SSL, (long)(p->implicit_tls || p->starttls ?
	    CURLUSESSL_ALL : CURLUSESSL_NONE));
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	/* ca_file: trust that CA instead of the system store. */
	SET(CURLOPT_CAINFO, p->ca_file ? p->ca_file :
	    sys_cainfo[0] ? sys_cainfo : NULL);
	SET(CURLOPT_CAPATH, p->ca_file ? NULL :
	    sys_capath[0] ? sys_capath : NULL);
	/* The deadlines are kept by xferinfo_cb; curl's own are only a
	 * backstop no shorter than the longest of ours. */
	SET(CURLOPT_CONNECTTIMEOUT, (long)LIM_SMTP_DOT_WAIT);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)LIM_SMTP_DOT_WAIT);
	SET(CURLOPT_TIMEOUT, (long)LIM_SMTP_ATTEMPT);
	SET(CURLOPT_USERNAME, p->username);
	SET(CURLOPT_PASSWORD, p->username ? p->password : NULL);
	SET(CURLOPT_LOGIN_OPTIONS, p->username ? auth : NULL);
	SET(CURLOPT_SASL_IR, 1L);
	SET(CURLOPT_VERBOSE, 1L);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, d);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, c);
#undef SET
	return rc;
}

static int
setup(struct smtp_client *c, const struct smtp_profile *p, const char *sender,
    struct curl_slist *rl, const char *auth)
{
	CURL *h = c->curl;
	CURLcode rc = setup_common(h, c, p, &c->d, auth);

#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
	SET(CURLOPT_MAIL_FROM, sender);
	SET(CURLOPT_MAIL_RCPT, rl);
	SET(CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, c);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->len);
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* A dialogue about to start a transaction (capabilities kept). */
static void
dialogue_start(struct dialogue *d, const struct smtp_profile *p)
{
	size_t i;

	d->phase = PH_CONNECT;
	d->quitting = 0;
	d->in_auth = 0;
	d->body_done = 0;
	d->step_ms = (long long)p->timeout * 1000;
	d->deadline = mono_ms() + d->step_ms;
	d->code = 0;
	d->reply[0] = d->enhanced[0] = '\0';
	d->rcpt_sent = 0;
	d->linelen = 0;
	for (i = 0; i < d->nrcpt; i++) {
		d->rcpt[i].code = 0;
		d->rcpt[i].reply[0] = '\0';
		d->rcpt[i].outcome = OUT_TEMP;
	}
}

/* Everything a connection to p depends on: a session is reused only
 * for the same key.  The password counts by its SHA-256 (a changed one
 * opens a new session), so no copy of it is kept. */
static int
profile_key(const struct smtp_profile *p, struct buf *k)
{
	unsigned char h[SHA256_LEN];
	const char *pw = p->username && p->password ? p->password : "";

	key_clear(k);
	if (crypto_sha256(pw, strlen(pw), h) == -1)
		return -1;
	if (buf_printf(k, "%s%c%s%c%d%d%c%s%c%s%c", p->name, 0, p->url, 0,
	    p->implicit_tls, p->starttls, 0, p->ca_file ? p->ca_file : "", 0,
	    p->username ? p->username : "", 0) == -1)
		return -1;
	return buf_add(k, h, sizeof h);
}

static int
key_eq(const struct buf *a, const struct buf *b)
{
	return a->len > 0 && a->len == b->len &&
	    memcmp(a->data, b->data, a->len) == 0;
}

static CURLcode
perform(struct smtp_client *c, const struct smtp_profile *p, const char *sender,
    struct curl_slist *rl, const char *auth)
{
	CURLcode rc;

	c->off = 0;
	c->guard_auth = p->username != NULL;
	c->aborted = 0;
	c->timed_out = 0;
	c->read_failed = 0;
	c->ul_seen = 0;
	c->errbuf[0] = '\0';
	c->active = &c->d;
	dialogue_start(&c->d, p);
	/* Whose capabilities c->d keeps (smtp_pipelining). */
	c->connected = 0;
	if (profile_key(p, &c->key) == -1)
		key_clear(&c->key);
	if (setup(c, p, sender, rl, auth) == -1)
		return CURLE_FAILED_INIT;
	rc = curl_easy_perform(c->curl);
	c->connected = c->d.phase >= PH_MAIL;
	return rc;
}

/* How a transaction ended, as libcurl would report it. */
struct ending {
	CURLcode rc;
	int stopped;                 /* our stop flag ended it */
	int late;                    /* one of our deadlines ended it */
	const char *errbuf;          /* curl's words, "" if none */
	size_t len;                  /* the message's size */
};

/* The transaction's outcome and res's fail, code and reply, from how it
 * ended and what the dialogue saw. */
static enum outcome
result_of(const struct dialogue *d, const struct ending *e,
    struct smtp_result *res)
{
	enum outcome txn = OUT_SENT;
	CURLcode rc = e->rc;
	/* Our callbacks' verdicts count only when they ended the transfer,
	 * not when they cut short the QUIT after another failure. */
	int ours = rc == CURLE_ABORTED_BY_CALLBACK;
	int stopped = ours && e->stopped, late = ours && e->late;

	res->fail = stopped ? SF_OTHER : late ? SF_TIMEOUT : fail_of(rc, d);
	res->code = d->code;
	if (rc != CURLE_OK) {
		txn = outcome_classify(d->phase, res->fail, d->code,
		    d->enhanced);
		/* Neither: read_cb refused to send unauthenticated. */
		if (ours)
			txn = stopped || late ? OUT_TEMP : OUT_CONFIG;
	}
	if (res->fail == SF_NONE && d->reply[0] &&
	    outcome_is_size(d->phase, d->code, d->enhanced))
		snprintf(res->reply, sizeof res->reply, "%.*s (the message is "
		    "%zu bytes)", SMTP_REPLY_MAX - 48, d->reply, e->len);
	else if (res->fail == SF_NONE && d->reply[0])
		str_copy(res->reply, sizeof res->reply, d->reply);
	else if (stopped)
		snprintf(res->reply, sizeof res->reply, "abandoned: "
		    "formpost is stopping");
	else if (late)
		snprintf(res->reply, sizeof res->reply, "no reply from the "
		    "server within %lld s", d->body_done ?
		    (long long)LIM_SMTP_DOT_WAIT : d->step_ms / 1000);
	else if (res->fail == SF_NO_AUTH)
		snprintf(res->reply, sizeof res->reply, "server offered no "
		    "AUTH but the profile has a username: not sent "
		    "unauthenticated");
	else {
		struct buf b;
		buf_init(&b);
		buf_printf(&b, "%s%s%s", curl_easy_strerror(rc),
		    e->errbuf[0] ? ": " : "", e->errbuf);
		str_sanitise(res->reply, sizeof res->reply, b.data ? b.data : "",
		    b.len);
		buf_free(&b);
	}
	return txn;
}

/* Each recipient's outcome and res from how the transaction ended (both
 * paths end here: doc/design.md "The four outcomes").  Returns 0 when
 * every recipient was sent, else -1. */
static int
settle(const struct dialogue *d, const struct ending *e,
    struct smtp_rcpt *rcpt, size_t nrcpt, struct smtp_result *res)
{
	enum outcome worst = OUT_SENT, txn;
	size_t i;
	int ok = 1;

	res->phase = d->phase;
	txn = result_of(d, e, res);
	res->maybe_sent = e->rc != CURLE_OK && d->phase == PH_DOT &&
	    d->code == 0;
	for (i = 0; i < nrcpt; i++) {
		struct smtp_rcpt *r = &rcpt[i];
		/* Refused at RCPT: its own reply decides.  Accepted, or never
		 * reached: the transaction decides. */
		if (r->code && r->code / 100 != 2)
			;
		else {
			r->outcome = txn;
			if (txn != OUT_SENT || r->code == 0) {
				r->code = res->code;
				str_copy(r->reply, sizeof r->reply,
				    res->reply);
			}
		}
		if (r->outcome != OUT_SENT)
			ok = 0;
		if (r->outcome > worst)
			worst = r->outcome;
	}
	res->outcome = worst;
	if (e->rc == CURLE_OK && !ok && res->reply[0] == '\0')
		snprintf(res->reply, sizeof res->reply, "some recipients "
		    "refused");
	return ok ? 0 : -1;
}

/* addr as RCPT TO writes it: a legacy carrier local part ("taro..x.",
 * not a Dot-string) quoted, as RFC 5321 §4.1.2 allows; others as they
 * are.  q has room for addr + 2. */
static const char *
envelope_form(const char *addr, char *q, size_t qlen)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || addr_local_kind(addr, (size_t)(at - addr)) !=
	    ADDR_LOCAL_LEGACY || (size_t)snprintf(q, qlen, "\"%.*s\"%s",
	    (int)(at - addr), addr, at) >= qlen)
		return addr;
	return q;
}

/*
 * The envelope is checked again at the last step before it is written
 * into MAIL FROM / RCPT TO (by curl or by the pipelined path): the
 * strings go out as they are, so a CR or LF that slipped in anywhere
 * upstream (a damaged spool file, a future caller) would start a new
 * SMTP command.  Such a message can never be sent as it is: permanent.
 * Returns 1 (and fills res and rcpt) when refused.
 */
static int
envelope_refused(const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt,
    struct smtp_result *res)
{
	size_t i;

	for (i = 0; i < nrcpt && mime_envelope_ok(rcpt[i].addr); i++)
		;
	if (mime_envelope_ok(sender) && i == nrcpt)
		return 0;
	res->outcome = OUT_PERM;
	res->fail = SF_OTHER;
	snprintf(res->reply, sizeof res->reply, "envelope address "
	    "refused before sending: not a plain ASCII address");
	for (i = 0; i < nrcpt; i++) {
		rcpt[i].outcome = OUT_PERM;
		snprintf(rcpt[i].reply, sizeof rcpt[i].reply, "%s",
		    res->reply);
	}
	return 1;
}

static int send_msg(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt,
    struct smtp_result *res, smtp_trace_fn tr, void *trace_arg);

int
smtp_send(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt,
    const char *data, size_t len, struct smtp_result *res,
    smtp_trace_fn tr, void *trace_arg)
{
	c->data = data;
	c->fd = -1;
	c->foff = 0;
	c->len = len;
	return send_msg(c, p, sender, rcpt, nrcpt, res, tr, trace_arg);
}

int
smtp_send_file(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt, int fd,
    unsigned long long off, size_t len, struct smtp_result *res,
    smtp_trace_fn tr, void *trace_arg)
{
	c->data = NULL;
	c->fd = fd;
	c->foff = off;
	c->len = len;
	return send_msg(c, p, sender, rcpt, nrcpt, res, tr, trace_arg);
}

static int
send_msg(struct smtp_client *c, const struct smtp_profile *p,
    const char *sender, struct smtp_rcpt *rcpt, size_t nrcpt,
    struct smtp_result *res, smtp_trace_fn tr, void *trace_arg)
{
	struct curl_slist *rl = NULL, *t;
	struct ending e;
	CURLcode rc;
	size_t i;

	memset(res, 0, sizeof *res);
	c->d.rcpt = rcpt;
	c->d.nrcpt = nrcpt;
	c->d.trace = tr;
	c->d.trace_arg = trace_arg;
	if (envelope_refused(sender, rcpt, nrcpt, res))
		return -1;
	for (i = 0; i < nrcpt; i++) {
		char q[LIM_ADDR_PATH + 3];
		if ((t = curl_slist_append(rl, envelope_form(rcpt[i].addr, q,
		    sizeof q))) == NULL) {
			curl_slist_free_all(rl);
			res->outcome = OUT_TEMP;
			snprintf(res->reply, sizeof res->reply, "out of memory");
			for (i = 0; i < nrcpt; i++)
				rcpt[i].outcome = OUT_TEMP;
			return -1;
		}
		rl = t;
	}
	rc = perform(c, p, sender, rl, "AUTH=PLAIN");
	/* A server without PLAIN but with LOGIN: the same attempt, once. */
	if (rc == CURLE_LOGIN_DENIED && c->d.auth_offered &&
	    !c->d.plain_offered && c->d.login_offered)
		rc = perform(c, p, sender, rl, "AUTH=LOGIN");
	curl_slist_free_all(rl);

	/* A spool file that could not be read is a failed upload, as on
	 * the pipelined path: temporary (doc/design.md "Attachments"). */
	e.rc = c->read_failed ? CURLE_READ_ERROR : rc;
	e.stopped = c->aborted;
	e.late = c->timed_out;
	e.errbuf = c->errbuf;
	e.len = c->len;
	return settle(&c->d, &e, rcpt, nrcpt, res);
}

/* --- the pipelined path (doc/design.md "A delivery") ------------------ */

int
smtp_pipelining(struct smtp_client *c, const struct smtp_profile *p)
{
	struct buf k;
	int yes = 0;

	if (mono_ms() < c->pipe_retry)
		return 0;
	buf_init(&k);
	if (profile_key(p, &k) == 0)
		yes = (c->pipe != NULL && key_eq(&k, &c->pkey)) ||
		    (c->connected && key_eq(&k, &c->key) &&
		    c->d.caps.pipelining);
	key_clear(&k);
	buf_free(&k);
	return yes;
}

int
smtp_pipelining_seen(struct smtp_client *c)
{
	return mono_ms() >= c->pipe_retry && (c->pipe != NULL ||
	    (c->connected && c->d.caps.pipelining));
}

/* Whether the open pipelined connection is still there: nothing may
 * come from an idle server but a TLS record (a session ticket) or its
 * goodbye (421, or the end of the stream). */
static int
pipe_alive(struct smtp_client *c)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	struct pollfd pf;
	char b[256];
	size_t got = 0;

	if (curl_easy_getinfo(c->pipe, CURLINFO_ACTIVESOCKET, &fd) !=
	    CURLE_OK || fd == CURL_SOCKET_BAD)
		return 0;
	pf.fd = fd;
	pf.events = POLLIN;
	if (poll(&pf, 1, 0) == 0)
		return 1;
	return curl_easy_recv(c->pipe, b, sizeof b, &got) == CURLE_AGAIN;
}

/* libcurl opens the session (connect, TLS and its verification,
 * STARTTLS, EHLO, AUTH) and stops there (CONNECT_ONLY). */
static CURLcode
pipe_connect(struct smtp_client *c, const struct smtp_profile *p,
    const char *auth)
{
	CURLcode rc = CURLE_FAILED_INIT;

	c->aborted = c->timed_out = 0;
	c->ul_seen = 0;
	c->errbuf[0] = '\0';
	memset(&c->pd, 0, sizeof c->pd);
	dialogue_start(&c->pd, p);
	c->active = &c->pd;
	if (setup_common(c->pipe, c, p, &c->pd, auth) == CURLE_OK &&
	    curl_easy_setopt(c->pipe, CURLOPT_CONNECT_ONLY, 1L) == CURLE_OK)
		rc = curl_easy_perform(c->pipe);
	c->active = &c->d;
	return rc;
}

/* A pipelined session with p, open and offering PIPELINING: 0 (*fresh:
 * just opened); -2 when opening it failed (*rc; c->pd says where); -1
 * when it cannot be used (nothing was sent; the caller uses the old
 * path). */
static int
pipe_open(struct smtp_client *c, const struct smtp_profile *p, int *fresh,
    CURLcode *rc)
{
	struct buf k;
	CURL *h;
	int ok = -1;

	buf_init(&k);
	if (profile_key(p, &k) == -1)
		goto out;
	*fresh = 0;
	if (c->pipe != NULL && key_eq(&k, &c->pkey) && pipe_alive(c)) {
		ok = 0;
		goto out;
	}
	*fresh = 1;
	pipe_close(c, c->pipe != NULL && key_eq(&k, &c->pkey));
	if ((c->pipe = curl_easy_init()) == NULL)
		goto out;
	/* The old path's connection would sit idle beside this one: close
	 * it first, so the profile's `connections` bounds the sessions the
	 * relay sees at every moment. */
	if ((h = curl_easy_init()) != NULL) {
		close_handle(c->curl, c->d.step_ms, 0);
		c->curl = h;          /* c->d keeps what the server offered */
	}
	*rc = pipe_connect(c, p, "AUTH=PLAIN");
	if (*rc == CURLE_LOGIN_DENIED && c->pd.auth_offered &&
	    !c->pd.plain_offered && c->pd.login_offered)
		*rc = pipe_connect(c, p, "AUTH=LOGIN");
	/* A username and no AUTH offered: the old path refuses it. */
	if (*rc != CURLE_OK || !c->pd.caps.pipelining ||
	    (p->username && !c->pd.auth_offered)) {
		pipe_close(c, *rc != CURLE_OK);
		c->connected = 0;
		c->pipe_retry = mono_ms() + LIM_PIPE_RETRY * 1000LL;
		ok = *rc != CURLE_OK ? -2 : -1;
		goto out;
	}
	/* The session is ours from here: libcurl's dialogue callbacks
	 * have nothing more to follow. */
	if (buf_add(&c->pkey, k.data, k.len) == -1 ||
	    curl_easy_setopt(c->pipe, CURLOPT_VERBOSE, 0L) != CURLE_OK) {
		pipe_close(c, 0);
		goto out;
	}
	ok = 0;
out:
	key_clear(&k);
	buf_free(&k);
	return ok;
}

enum pstep { PS_RSET, PS_MAIL, PS_RCPT, PS_DATA, PS_DOT, PS_DONE };
enum pend { PE_NONE, PE_DROP, PE_LATE, PE_STOP, PE_READ };

struct pjob {
	struct smtp_job *j;
	struct dialogue d;           /* as the old path would have seen it */
	enum pstep step;             /* the reply expected next */
	size_t rcpt_got;
	int rset, mail_ok, rcpt_ok;
	int failed;                  /* ended before the dot: rc decided */
	CURLcode rc;
	unsigned long long dot_at;   /* output bytes up to its final dot, 0:
	                              * its data not all queued yet */
};

struct pipe_run {
	struct smtp_client *c;
	CURL *h;
	curl_socket_t fd;
	struct pjob *pj;
	size_t n;
	size_t cur;                  /* the job whose replies come next */
	size_t next;                 /* the first job not yet queued */
	smtp_job_fn done;            /* told of each job as it ends */
	void *arg;
	size_t told;                 /* jobs done has been told of */
	int stop;                    /* done asked for no more jobs */
	struct buf out;
	size_t ooff;
	unsigned long long sent;     /* output bytes written so far */
	size_t body;                 /* job whose data is queued, n: none */
	size_t boff;
	struct dotstuff ds;
	struct pipe_reader rd;
	long long last;              /* monotonic ms of the last progress */
	int plain;                   /* no TLS: a short read empties it */
	enum pend end;
	char chunk[LIM_PIPE_CHUNK];  /* a file's data on its way (scratch:
	                              * last, left out of run_new's zeroing) */
};

/* What command_line does when the old path sends a command. */
static void
step_phase(struct dialogue *d, enum smtp_phase ph)
{
	d->phase = ph;
	if (ph == PH_RCPT)
		d->rcpt_sent++;
	d->code = 0;
	d->reply[0] = d->enhanced[0] = '\0';
}

/* Queues the next job's commands, as libcurl writes them: RSET first
 * when the transaction before is still open on the server. */
static int
queue_next(struct pipe_run *r, int rset)
{
	struct pjob *j;
	struct smtp_job *m;
	char q[LIM_ADDR_PATH + 3];
	size_t i;
	int rc = 0;

	if (r->next >= r->n || r->stop)
		return 0;
	j = &r->pj[r->next++];
	m = j->j;
	m->started = (long long)time(NULL);
	m->started_ms = mono_ms();
	j->rset = rset;
	j->step = rset ? PS_RSET : PS_MAIL;
	/* The same bytes as the old path's commands, without printf. */
	if (rset)
		rc |= buf_adds(&r->out, "RSET\r\n");
	rc |= buf_adds(&r->out, "MAIL FROM:<");
	rc |= buf_adds(&r->out, m->sender);
	rc |= buf_adds(&r->out, ">");
	if (r->c->pd.caps.size_offered && m->len > 0) {
		rc |= buf_adds(&r->out, " SIZE=");
		rc |= buf_addu(&r->out, m->len);
	}
	rc |= buf_adds(&r->out, "\r\n");
	for (i = 0; i < m->nrcpt; i++) {
		rc |= buf_adds(&r->out, "RCPT TO:<");
		rc |= buf_adds(&r->out, envelope_form(m->rcpt[i].addr, q,
		    sizeof q));
		rc |= buf_adds(&r->out, ">\r\n");
	}
	rc |= buf_adds(&r->out, "DATA\r\n");
	return rc ? -1 : 0;
}

/* Tells the caller of the jobs that ended, in order. */
static void
tell(struct pipe_run *r)
{
	while (r->told < r->cur)
		if (r->done(r->arg, r->pj[r->told++].j))
			r->stop = 1;
}

/* A job's outcome is final.  The caller hears of it once the next
 * job's data is on its way (pump), so what it records (a spool write
 * and its fsync) overlaps the round trip instead of adding to it; a job
 * that ended before its data at once, since the caller may want no
 * further job (a refused sender). */
static void
finish(struct pipe_run *r, struct pjob *j)
{
	struct ending e = { j->rc, 0, 0, "", j->j->len };

	settle(&j->d, &e, j->j->rcpt, j->j->nrcpt, &j->j->res);
	j->j->attempted = 1;
	j->step = PS_DONE;
	r->cur++;
	if (j->rc != CURLE_OK && !j->d.body_done)
		tell(r);
}

/* One reply, for the command it answers (they come in order). */
static int
dispatch(struct pipe_run *r, const struct pipe_reply *rp)
{
	struct pjob *j;
	struct dialogue *d;

	if (r->cur >= r->next)
		return -1;           /* a reply to nothing we sent */
	j = &r->pj[r->cur];
	d = &j->d;
	switch (j->step) {
	case PS_RSET:
		if (rp->code / 100 != 2)
			return -1;   /* the server's state is not ours */
		j->step = PS_MAIL;
		break;
	case PS_MAIL:
		step_phase(d, PH_MAIL);
		reply_line(d, rp->line, rp->len);
		if (rp->code / 100 == 2)
			j->mail_ok = 1;
		else
			j->failed = 1, j->rc = CURLE_SEND_ERROR;
		j->step = j->j->nrcpt ? PS_RCPT : PS_DATA;
		break;
	case PS_RCPT:
		/* After a refused MAIL the RCPTs' 503s decide nothing. */
		if (!j->failed) {
			step_phase(d, PH_RCPT);
			reply_line(d, rp->line, rp->len);
			j->rcpt_ok += rp->code / 100 == 2;
		}
		if (++j->rcpt_got < j->j->nrcpt)
			break;
		if (!j->failed && j->rcpt_ok == 0)
			j->failed = 1, j->rc = CURLE_SEND_ERROR;
		j->step = PS_DATA;
		break;
	case PS_DATA:
		if (!j->failed) {
			step_phase(d, PH_DATA);
			reply_line(d, rp->line, rp->len);
		}
		if (rp->code == 354 && !j->failed) {
			j->step = PS_DOT;
			r->body = r->cur;
			r->boff = 0;
			dot_init(&r->ds);
			break;
		}
		/* DATA accepted after MAIL or every RCPT was refused: the
		 * server is out of step with us.  No data, not even an
		 * empty message: the session ends (the refusal stands). */
		if (rp->code == 354)
			return -1;
		if (!j->failed)
			j->failed = 1, j->rc = CURLE_SEND_ERROR;
		finish(r, j);
		/* No 354, so no data: the server's transaction stays open
		 * when it took MAIL (RFC 5321 §4.1.1.5). */
		return queue_next(r, j->mail_ok);
	case PS_DOT:
		/* A reply before our final dot went out answers nothing we
		 * sent: the data cannot be ended cleanly any more. */
		if (j->dot_at == 0 || r->sent < j->dot_at)
			return -1;
		if (!j->failed) {
			reply_line(d, rp->line, rp->len);
			j->rc = rp->code == 250 ? CURLE_OK :
			    CURLE_WEIRD_SERVER_REPLY;
		}
		finish(r, j);
		break;
	case PS_DONE:
		return -1;
	}
	return 0;
}

/* Queues the data being sent, dot-stuffed, a chunk at a time (bounded
 * output), then its end and the next job's commands. */
static int
fill(struct pipe_run *r)
{
	struct smtp_job *m;
	const char *src;
	size_t n, o;

	while (r->body < r->n && r->out.len - r->ooff < LIM_PIPE_OUT) {
		/* What was sent leaves the buffer: a large message never
		 * sits in memory whole. */
		if (r->ooff > 0) {
			memmove(r->out.data, r->out.data + r->ooff,
			    r->out.len - r->ooff);
			r->out.len -= r->ooff;
			r->out.data[r->out.len] = '\0';
			r->ooff = 0;
		}
		m = r->pj[r->body].j;
		n = m->len - r->boff;
		if (n > LIM_PIPE_CHUNK)
			n = LIM_PIPE_CHUNK;
		src = m->data ? m->data + r->boff : r->chunk;
		/* From a spool file: a read error ends the session (the
		 * data cannot be taken back; doc/design.md "Attachments"). */
		if (m->data == NULL && file_pread_all(m->fd, r->chunk, n,
		    m->off + r->boff) != (long)n) {
			r->end = PE_READ;
			return -1;
		}
		/* Stuffed straight into the output: at most 2n bytes. */
		if (buf_reserve(&r->out, 2 * n) == -1)
			return -1;
		o = dot_stuff(&r->ds, src, n, r->out.data + r->out.len);
		r->out.len += o;
		r->out.data[r->out.len] = '\0';
		if ((r->boff += n) < m->len)
			continue;
		r->pj[r->body].d.body_done = 1;
		if (buf_adds(&r->out, dot_end(&r->ds)) == -1)
			return -1;
		r->pj[r->body].dot_at = r->sent + (r->out.len - r->ooff);
		r->body = r->n;
		if (queue_next(r, 0) == -1)
			return -1;
	}
	return 0;
}

/* Reads what the server sent and hands each reply on; -1 ends the
 * session (r->end says why). */
static int
take_in(struct pipe_run *r)
{
	char b[4096];
	struct pipe_reply rp;
	size_t got, off, used;
	CURLcode rc;
	int k, i;

	/* TLS may hold decrypted bytes the socket no longer shows: read
	 * until EAGAIN.  A server that never stops sending gets
	 * LIM_PIPE_READS reads, then the deadline and the stop flag are
	 * looked at again. */
	for (i = 0; i < LIM_PIPE_READS; i++) {
		got = 0;
		rc = curl_easy_recv(r->h, b, sizeof b, &got);
		if (rc == CURLE_AGAIN)
			return 0;
		if (rc != CURLE_OK || got == 0) {
			r->end = PE_DROP;
			return -1;
		}
		for (off = 0; off < got; off += used) {
			k = pipe_read(&r->rd, b + off, got - off, &used, &rp);
			if (k == -1 || (k == 1 && dispatch(r, &rp) == -1)) {
				r->end = PE_DROP;
				return -1;
			}
			/* Progress is a whole reply, not a byte: a server
			 * that trickles one stays bound by the timeout. */
			if (k == 1)
				r->last = mono_ms();
		}
		/* Without TLS a short read took all the socket had: poll
		 * says when more comes (one recv per reply, not two).  This
		 * relies on libcurl keeping no read buffer of its own for a
		 * plain connection: true of 7.88 (curl_easy_recv is recv);
		 * curl 8's socket filter has one, off by default. */
		if (r->plain && got < sizeof b)
			return 0;
	}
	return 0;
}

/* The deadline of what we wait for: the profile timeout since the last
 * progress, LIM_SMTP_DOT_WAIT for the reply to a dot already sent (as
 * on the old path, xferinfo_cb). */
static long long
deadline(const struct pipe_run *r)
{
	const struct pjob *j = &r->pj[r->cur];
	long long wait = j->d.step_ms;

	if (j->step == PS_DOT && j->d.body_done && r->ooff == r->out.len)
		wait = LIM_SMTP_DOT_WAIT * 1000LL;
	return r->last + wait;
}

/* Writes what is queued, as far as the socket takes it now. */
static int
flush_out(struct pipe_run *r)
{
	size_t sent = 0;
	CURLcode rc;

	if (r->out.len == r->ooff)
		return 0;
	rc = curl_easy_send(r->h, r->out.data + r->ooff, r->out.len - r->ooff,
	    &sent);
	if (rc != CURLE_OK && rc != CURLE_AGAIN) {
		r->end = PE_DROP;
		return -1;
	}
	if (rc == CURLE_OK && sent > 0) {
		r->ooff += sent;
		r->sent += sent;
		r->last = mono_ms();
	}
	if (r->ooff == r->out.len) {
		buf_reset(&r->out);
		r->ooff = 0;
	}
	return 0;
}

/* One round: wait for the socket, read, queue what the replies allow
 * (the data after a 354), write.  -1 ends the session. */
static int
pump(struct pipe_run *r)
{
	struct pollfd pf;
	long long now = mono_ms(), left;

	if (r->c->abort && atomic_load(r->c->abort)) {
		r->end = PE_STOP;
		return -1;
	}
	if ((left = deadline(r) - now) <= 0) {
		r->end = PE_LATE;
		return -1;
	}
	pf.fd = r->fd;
	pf.events = POLLIN | (r->out.len > r->ooff ? POLLOUT : 0);
	pf.revents = 0;
	if (poll(&pf, 1, left > 1000 ? 1000 : (int)left) == -1 &&
	    errno != EINTR) {
		r->end = PE_DROP;
		return -1;
	}
	if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && take_in(r) == -1)
		return -1;
	return fill(r) == -1 ? -1 : flush_out(r);
}

/* The session ended early: every job whose final reply was not read
 * ends as the old path's would on that failure; replies read stand. */
static void
fail_rest(struct pipe_run *r)
{
	struct pjob *j;
	struct ending e;
	size_t k;

	tell(r);
	/* Only the job whose replies were being read is charged: those
	 * queued behind it had no reply, so nothing about them is known;
	 * they stay unattempted (sent again at once, not a failure). */
	for (k = r->cur; k < r->next && k < r->cur + 1; k++) {
		j = &r->pj[k];
		if (!j->failed) {
			if (j->step == PS_RSET || j->step == PS_MAIL)
				step_phase(&j->d, PH_MAIL);
			else if (j->step == PS_RCPT)
				step_phase(&j->d, PH_RCPT);
			else if (j->step == PS_DATA)
				step_phase(&j->d, PH_DATA);
			/* PS_DOT: no reply after the data yet (maybe sent). */
		}
		e.rc = j->failed ? j->rc : r->end == PE_LATE ||
		    r->end == PE_STOP ? CURLE_ABORTED_BY_CALLBACK :
		    r->end == PE_READ && k == r->body ? CURLE_READ_ERROR :
		    CURLE_RECV_ERROR;
		e.stopped = r->end == PE_STOP;
		e.late = r->end == PE_LATE;
		e.errbuf = "";
		e.len = j->j->len;
		settle(&j->d, &e, j->j->rcpt, j->j->nrcpt, &j->j->res);
		j->j->attempted = 1;
		j->step = PS_DONE;
		r->done(r->arg, j->j);
	}
	r->cur = r->told = r->next;
}

/* A job the pipelined path takes: a sound envelope in plain ASCII (the
 * others, SMTPUTF8 included, go the old path's way). */
static int
pipe_eligible(const struct smtp_job *m)
{
	size_t i;
	const char *s;

	if (m->nrcpt == 0 || !mime_envelope_ok(m->sender))
		return 0;
	for (s = m->sender; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	for (i = 0; i < m->nrcpt; i++) {
		if (!mime_envelope_ok(m->rcpt[i].addr))
			return 0;
		for (s = m->rcpt[i].addr; *s; s++)
			if ((unsigned char)*s >= 0x80)
				return 0;
	}
	return 1;
}

static struct pipe_run *
run_new(struct smtp_client *c, const struct smtp_profile *p,
    struct smtp_job *jobs, size_t n, smtp_job_fn done, void *arg)
{
	struct pipe_run *r = malloc(sizeof *r);
	size_t i;

	if (r == NULL)
		return NULL;
	/* All but the data chunk, which is written before it is read: its
	 * 16 KiB were cleared for every window. */
	memset(r, 0, offsetof(struct pipe_run, chunk));
	if ((r->pj = calloc(n, sizeof *r->pj)) == NULL) {
		free(r);
		return NULL;
	}
	r->c = c;
	r->h = c->pipe;
	r->done = done;
	r->arg = arg;
	buf_init(&r->out);
	pipe_reader_init(&r->rd);
	for (i = 0; i < n; i++) {
		jobs[i].attempted = 0;
		memset(&jobs[i].res, 0, sizeof jobs[i].res);
		if (!pipe_eligible(&jobs[i]))
			continue;
		r->pj[r->n].j = &jobs[i];
		r->pj[r->n].d.rcpt = jobs[i].rcpt;
		r->pj[r->n].d.nrcpt = jobs[i].nrcpt;
		dialogue_start(&r->pj[r->n].d, p);
		r->pj[r->n].d.phase = PH_MAIL;
		r->n++;
	}
	r->body = r->n;
	return r;
}

/* Opening the session failed (connect, TLS, STARTTLS, EHLO, AUTH): the
 * first job the path takes ends with that failure, as the old path's
 * transaction would have (one login per attempt, never two); the others
 * are left untried.  Returns the jobs attempted (0 or 1). */
static long
open_failed(struct smtp_client *c, CURLcode rc, struct smtp_job *jobs,
    size_t n, smtp_job_fn done, void *arg)
{
	struct dialogue d = c->pd;
	struct ending e = { rc, c->aborted, c->timed_out, c->errbuf, 0 };
	struct smtp_job *m = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		jobs[i].attempted = 0;
		if (m == NULL && pipe_eligible(&jobs[i]))
			m = &jobs[i];
	}
	if (m == NULL)
		return 0;
	d.rcpt = m->rcpt;
	d.nrcpt = m->nrcpt;
	for (i = 0; i < m->nrcpt; i++) {
		m->rcpt[i].code = 0;
		m->rcpt[i].reply[0] = '\0';
		m->rcpt[i].outcome = OUT_TEMP;
	}
	e.len = m->len;
	m->started = (long long)time(NULL);
	m->started_ms = mono_ms();
	memset(&m->res, 0, sizeof m->res);
	settle(&d, &e, m->rcpt, m->nrcpt, &m->res);
	m->attempted = 1;
	done(arg, m);
	return 1;
}

long
smtp_send_pipelined(struct smtp_client *c, const struct smtp_profile *p,
    struct smtp_job *jobs, size_t n, smtp_job_fn done, void *arg)
{
	struct pipe_run *r;
	long attempted = 0;
	CURLcode rc = CURLE_OK;
	size_t i;
	int fresh, o;

	if ((o = pipe_open(c, p, &fresh, &rc)) == -2)
		return open_failed(c, rc, jobs, n, done, arg);
	if (o == -1)
		return -1;
	if ((r = run_new(c, p, jobs, n, done, arg)) == NULL)
		return 0;
	if (curl_easy_getinfo(c->pipe, CURLINFO_ACTIVESOCKET, &r->fd) !=
	    CURLE_OK || r->fd == CURL_SOCKET_BAD)
		r->end = PE_DROP;
	/* No TLS at all (smtp:// with starttls off, loopback only): then
	 * curl_easy_recv is recv(2) and holds nothing back. */
	r->plain = !p->implicit_tls && !p->starttls;
	r->last = mono_ms();
	/* A reused session may have a transaction open (a refused DATA
	 * ended the last run): RSET goes first (RFC 5321 §4.1.1.5). */
	if (r->n > 0 && r->end == PE_NONE && queue_next(r, !fresh) == -1)
		r->end = PE_DROP;
	while (r->end == PE_NONE && r->cur < r->next) {
		if (fill(r) == -1 || pump(r) == -1)
			break;
		tell(r);
	}
	/* Out of memory, or something still queued that nobody waits for:
	 * the session cannot be reused. */
	if (r->end == PE_NONE && (r->cur < r->next || r->body < r->n ||
	    r->ooff < r->out.len))
		r->end = PE_DROP;
	if (r->end != PE_NONE) {
		fail_rest(r);
		pipe_close(c, 1);    /* the stream is out of step */
	}
	tell(r);
	for (i = 0; i < n; i++)
		attempted += jobs[i].attempted;
	buf_free(&r->out);
	free(r->pj);
	free(r);
	return attempted;
}
