/*
 * smtp — libcurl SMTP submission (doc/design.md "A delivery").  curl drives
 * the protocol; we follow it through the debug callback to learn the reply to
 * every command, because CURLOPT_MAIL_RCPT_ALLLOWFAILS alone hides which
 * recipient failed.  Never: plaintext fallback (CURLUSESSL_TRY), disabled
 * verification, CURLOPT_CRLF, or the AUTH exchange in a trace.
 */
#include "smtp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "file.h"
#include "limits.h"
#include "mime.h"
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
	smtp_trace_fn trace;
	void *trace_arg;
};

struct smtp_client {
	CURL *curl;
	struct dialogue d;           /* capability state survives reuse */
	const char *data;            /* upload cursor: data, or (fd, foff) */
	int fd;                      /* -1: data */
	unsigned long long foff;
	size_t len, off;
	int guard_auth;              /* profile has a username */
	const atomic_int *abort;     /* set: give up (shutdown) */
	int aborted;                 /* this transfer was given up */
	int timed_out;               /* a deadline of ours passed */
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
	return c;
}

void
smtp_client_free(struct smtp_client *c)
{
	long wait;

	if (c == NULL)
		return;
	wait = c->d.step_ms > 0 ? (long)(c->d.step_ms / 1000) : 1L;
	/* Stopping: a server that stalls is owed no QUIT.  Shutting the
	 * socket down makes curl's closing QUIT fail at once instead of
	 * waiting on a reply (curl still closes the fd itself). */
	if (c->abort && atomic_load(c->abort)) {
		curl_socket_t fd = CURL_SOCKET_BAD;
		wait = 1;
		if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &fd) ==
		    CURLE_OK && fd != CURL_SOCKET_BAD)
			shutdown(fd, SHUT_RDWR);
	}
	/* curl's own response timeout is the long one after the dot. */
	curl_easy_setopt(c->curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, wait);
	curl_easy_cleanup(c->curl);
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
	struct dialogue *d = &c->d;

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
	snprintf(d->reply, sizeof d->reply, "%s", clean);
	d->enhanced[0] = '\0';
	if (n > 8 && s[4] >= '2' && s[4] <= '5' && s[5] == '.') {
		size_t k = 4;
		while (k < n && k - 4 < sizeof d->enhanced - 1 &&
		    ((s[k] >= '0' && s[k] <= '9') || s[k] == '.'))
			k++;
		memcpy(d->enhanced, s + 4, k - 4);
		d->enhanced[k - 4] = '\0';
	}
	if (d->phase == PH_RCPT && d->rcpt_sent > 0 &&
	    d->rcpt_sent <= d->nrcpt) {
		struct smtp_rcpt *r = &d->rcpt[d->rcpt_sent - 1];
		r->code = code;
		snprintf(r->reply, sizeof r->reply, "%s", clean);
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
	else if (file_pread_all(c->fd, buf, n, c->foff + c->off) != (long)n)
		return CURL_READFUNC_ABORT;
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

static int
setup(struct smtp_client *c, const struct smtp_profile *p, const char *sender,
    struct curl_slist *rl, const char *auth)
{
	CURL *h = c->curl;
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
	SET(CURLOPT_MAIL_FROM, sender);
	SET(CURLOPT_MAIL_RCPT, rl);
	SET(CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, c);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->len);
	SET(CURLOPT_VERBOSE, 1L);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, &c->d);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, c);
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

static CURLcode
perform(struct smtp_client *c, const struct smtp_profile *p, const char *sender,
    struct curl_slist *rl, const char *auth)
{
	size_t i;

	c->off = 0;
	c->guard_auth = p->username != NULL;
	c->aborted = 0;
	c->timed_out = 0;
	c->ul_seen = 0;
	c->errbuf[0] = '\0';
	c->d.phase = PH_CONNECT;
	c->d.quitting = 0;
	c->d.in_auth = 0;
	c->d.body_done = 0;
	c->d.step_ms = (long long)p->timeout * 1000;
	c->d.deadline = mono_ms() + c->d.step_ms;
	c->d.code = 0;
	c->d.reply[0] = c->d.enhanced[0] = '\0';
	c->d.rcpt_sent = 0;
	c->d.linelen = 0;
	for (i = 0; i < c->d.nrcpt; i++) {
		c->d.rcpt[i].code = 0;
		c->d.rcpt[i].reply[0] = '\0';
		c->d.rcpt[i].outcome = OUT_TEMP;
	}
	if (setup(c, p, sender, rl, auth) == -1)
		return CURLE_FAILED_INIT;
	return curl_easy_perform(c->curl);
}

/* The transaction's outcome and res's fail, code and reply, from curl's
 * return code and what the dialogue saw. */
static enum outcome
result_of(struct smtp_client *c, CURLcode rc, struct smtp_result *res)
{
	enum outcome txn = OUT_SENT;
	/* Our callbacks' verdicts count only when they ended the transfer,
	 * not when they cut short the QUIT after another failure. */
	int ours = rc == CURLE_ABORTED_BY_CALLBACK;
	int stopped = ours && c->aborted, late = ours && c->timed_out;

	res->fail = stopped ? SF_OTHER : late ? SF_TIMEOUT : fail_of(rc, &c->d);
	res->code = c->d.code;
	if (rc != CURLE_OK) {
		txn = outcome_classify(c->d.phase, res->fail, c->d.code,
		    c->d.enhanced);
		/* Neither: read_cb refused to send unauthenticated. */
		if (ours)
			txn = stopped || late ? OUT_TEMP : OUT_CONFIG;
	}
	if (res->fail == SF_NONE && c->d.reply[0] &&
	    outcome_is_size(c->d.phase, c->d.code, c->d.enhanced))
		snprintf(res->reply, sizeof res->reply, "%.*s (the message is "
		    "%zu bytes)", SMTP_REPLY_MAX - 48, c->d.reply, c->len);
	else if (res->fail == SF_NONE && c->d.reply[0])
		snprintf(res->reply, sizeof res->reply, "%s", c->d.reply);
	else if (stopped)
		snprintf(res->reply, sizeof res->reply, "abandoned: "
		    "formpost is stopping");
	else if (late)
		snprintf(res->reply, sizeof res->reply, "no reply from the "
		    "server within %lld s", c->d.body_done ?
		    (long long)LIM_SMTP_DOT_WAIT : c->d.step_ms / 1000);
	else if (res->fail == SF_NO_AUTH)
		snprintf(res->reply, sizeof res->reply, "server offered no "
		    "AUTH but the profile has a username: not sent "
		    "unauthenticated");
	else {
		struct buf b;
		buf_init(&b);
		buf_printf(&b, "%s%s%s", curl_easy_strerror(rc),
		    c->errbuf[0] ? ": " : "", c->errbuf);
		str_sanitise(res->reply, sizeof res->reply, b.data ? b.data : "",
		    b.len);
		buf_free(&b);
	}
	return txn;
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
	enum outcome worst = OUT_SENT, txn;
	CURLcode rc;
	size_t i;
	int ok = 1;

	memset(res, 0, sizeof *res);
	c->d.rcpt = rcpt;
	c->d.nrcpt = nrcpt;
	c->d.trace = tr;
	c->d.trace_arg = trace_arg;
	/*
	 * The envelope is checked again here, at the last step before curl
	 * writes it into MAIL FROM / RCPT TO: curl sends the strings as they
	 * are, so a CR or LF that slipped in anywhere upstream
	 * (a damaged spool file, a future caller) would start a new SMTP
	 * command.  Such a message can never be sent as it is: permanent.
	 */
	for (i = 0; i < nrcpt && mime_envelope_ok(rcpt[i].addr); i++)
		;
	if (!mime_envelope_ok(sender) || i < nrcpt) {
		res->outcome = OUT_PERM;
		res->fail = SF_OTHER;
		snprintf(res->reply, sizeof res->reply, "envelope address "
		    "refused before sending: not a plain ASCII address");
		for (i = 0; i < nrcpt; i++) {
			rcpt[i].outcome = OUT_PERM;
			snprintf(rcpt[i].reply, sizeof rcpt[i].reply, "%s",
			    res->reply);
		}
		return -1;
	}
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

	res->phase = c->d.phase;
	txn = result_of(c, rc, res);
	res->maybe_sent = rc != CURLE_OK && c->d.phase == PH_DOT &&
	    c->d.code == 0;
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
				snprintf(r->reply, sizeof r->reply, "%s",
				    res->reply);
			}
		}
		if (r->outcome != OUT_SENT)
			ok = 0;
		if (r->outcome > worst)
			worst = r->outcome;
	}
	res->outcome = worst;
	if (rc == CURLE_OK && !ok && res->reply[0] == '\0')
		snprintf(res->reply, sizeof res->reply, "some recipients "
		    "refused");
	return ok ? 0 : -1;
}
