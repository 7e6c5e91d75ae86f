/*
 * dns — libresolv behind three questions.  A failed query is told apart
 * from a missing record by the resolver's h_errno: HOST_NOT_FOUND and
 * NO_DATA are answers ("there is none"), anything else means nobody
 * answered, which doctor reports as an error instead of guessing.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsrec.h"
#include "limits.h"

struct dns {
	struct __res_state st;
};

struct dns *
dns_new(unsigned timeout_s, char *err, size_t errlen)
{
	struct dns *d = calloc(1, sizeof *d);

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (res_ninit(&d->st) != 0) {
		snprintf(err, errlen, "cannot set up the DNS resolver "
		    "(/etc/resolv.conf)");
		free(d);
		return NULL;
	}
	d->st.retrans = (int)timeout_s;
	d->st.retry = LIM_DNS_TRIES;
	return d;
}

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	res_nclose(&d->st);
	free(d);
}

void
dns_list_free(struct dns_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->txt)
			buf_free(&l->txt[i]);
		if (l->names)
			free(l->names[i]);
	}
	free(l->txt);
	free(l->names);
	free(l->addrs);
	memset(l, 0, sizeof *l);
}

/* The first server asked, for messages. */
static void
server_name(const struct dns *d, char *out, size_t len)
{
	const struct sockaddr_in *sin = &d->st.nsaddr_list[0];

	if (d->st.nscount > 0 && sin->sin_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)len))
		return;
	snprintf(out, len, "the name servers of /etc/resolv.conf");
}

/* Asks; on success *msg is the parsed answer over buf. */
static enum dns_rc
ask(struct dns *d, const char *name, int type, unsigned char *buf,
    ns_msg *msg, char *err, size_t errlen)
{
	char server[INET6_ADDRSTRLEN + 64];
	int n, saved;

	errno = 0;
	n = res_nquery(&d->st, name, ns_c_in, type, buf, LIM_DNS_ANSWER);
	saved = errno;
	if (n < 0) {
		if (d->st.res_h_errno == HOST_NOT_FOUND ||
		    d->st.res_h_errno == NO_DATA)
			return DNS_NONE;
		server_name(d, server, sizeof server);
		snprintf(err, errlen, "no answer from DNS (%s) for %s: %s",
		    server, name, d->st.res_h_errno == TRY_AGAIN && saved ?
		    strerror(saved) : hstrerror(d->st.res_h_errno));
		return DNS_ERROR;
	}
	if (ns_initparse(buf, n, msg) == -1) {
		snprintf(err, errlen, "malformed DNS answer for %s", name);
		return DNS_ERROR;
	}
	return DNS_FOUND;
}

/* Calls each(rr) for answer records of type; count in *found. */
static enum dns_rc
walk(struct dns *d, const char *name, int type,
    int (*each)(ns_msg *, ns_rr *, struct dns_list *), struct dns_list *out,
    char *err, size_t errlen)
{
	unsigned char *buf = malloc(LIM_DNS_ANSWER);
	enum dns_rc rc = DNS_ERROR;
	ns_msg msg;
	ns_rr rr;
	int i, count;

	memset(out, 0, sizeof *out);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return DNS_ERROR;
	}
	if ((rc = ask(d, name, type, buf, &msg, err, errlen)) != DNS_FOUND)
		goto out;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && out->n < LIM_DNS_RECORDS; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1) {
			snprintf(err, errlen, "malformed DNS answer for %s",
			    name);
			rc = DNS_ERROR;
			goto out;
		}
		if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
			continue;          /* a CNAME on the way */
		if (each(&msg, &rr, out) == -1) {
			snprintf(err, errlen, "malformed or oversized DNS "
			    "record for %s", name);
			rc = DNS_ERROR;
			goto out;
		}
	}
	rc = out->n ? DNS_FOUND : DNS_NONE;
out:
	if (rc != DNS_FOUND)
		dns_list_free(out);
	free(buf);
	return rc;
}

static int
each_txt(ns_msg *msg, ns_rr *rr, struct dns_list *l)
{
	struct buf *t;

	(void)msg;
	if ((t = realloc(l->txt, (l->n + 1) * sizeof *t)) == NULL)
		return -1;
	l->txt = t;
	buf_init(&t[l->n]);
	l->n++;
	return dnsrec_txt_join(ns_rr_rdata(*rr), ns_rr_rdlen(*rr),
	    &t[l->n - 1]);
}

enum dns_rc
dns_txt(struct dns *d, const char *name, struct dns_list *out, char *err,
    size_t errlen)
{
	return walk(d, name, ns_t_txt, each_txt, out, err, errlen);
}

/* MX: names kept in preference order (insertion sort, n is small); the
 * preference itself rides in the first two bytes until the end. */
static int
each_mx(ns_msg *msg, ns_rr *rr, struct dns_list *l)
{
	char host[NS_MAXDNAME + 2], **v;
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t i;

	if (ns_rr_rdlen(*rr) < 3 || dn_expand(ns_msg_base(*msg),
	    ns_msg_end(*msg), rd + 2, host + 2, NS_MAXDNAME) < 0)
		return -1;
	host[0] = (char)rd[0];
	host[1] = (char)rd[1];
	if ((v = realloc(l->names, (l->n + 1) * sizeof *v)) == NULL)
		return -1;
	l->names = v;
	for (i = l->n; i > 0 && memcmp(v[i - 1], host, 2) > 0; i--)
		v[i] = v[i - 1];
	if ((v[i] = malloc(2 + strlen(host + 2) + 1)) == NULL) {
		memmove(&v[i], &v[i + 1], (l->n - i) * sizeof *v);
		return -1;
	}
	memcpy(v[i], host, 2);
	strcpy(v[i] + 2, host + 2);
	l->n++;
	return 0;
}

enum dns_rc
dns_mx(struct dns *d, const char *name, struct dns_list *out, char *err,
    size_t errlen)
{
	enum dns_rc rc = walk(d, name, ns_t_mx, each_mx, out, err, errlen);
	size_t i;

	/* Drop the preference bytes now that the order is set. */
	for (i = 0; rc == DNS_FOUND && i < out->n; i++)
		memmove(out->names[i], out->names[i] + 2,
		    strlen(out->names[i] + 2) + 1);
	return rc;
}

static int
each_addr(ns_msg *msg, ns_rr *rr, struct dns_list *l)
{
	struct dns_addr *a;
	size_t len = ns_rr_rdlen(*rr);

	(void)msg;
	if (len != (ns_rr_type(*rr) == ns_t_a ? 4u : 16u))
		return -1;
	if ((a = realloc(l->addrs, (l->n + 1) * sizeof *a)) == NULL)
		return -1;
	l->addrs = a;
	a[l->n].family = len == 4 ? 4 : 6;
	memset(a[l->n].a, 0, sizeof a[l->n].a);
	memcpy(a[l->n].a, ns_rr_rdata(*rr), len);
	l->n++;
	return 0;
}

enum dns_rc
dns_addrs(struct dns *d, const char *name, struct dns_list *out, char *err,
    size_t errlen)
{
	struct dns_list six;
	enum dns_rc r4, r6;
	struct dns_addr *a;

	r4 = walk(d, name, ns_t_a, each_addr, out, err, errlen);
	if (r4 == DNS_ERROR)
		return r4;
	r6 = walk(d, name, ns_t_aaaa, each_addr, &six, err, errlen);
	if (r6 == DNS_ERROR) {
		dns_list_free(out);
		return r6;
	}
	if (r6 == DNS_FOUND) {
		a = realloc(out->addrs, (out->n + six.n) * sizeof *a);
		if (a == NULL) {
			dns_list_free(out);
			dns_list_free(&six);
			snprintf(err, errlen, "out of memory");
			return DNS_ERROR;
		}
		memcpy(a + out->n, six.addrs, six.n * sizeof *a);
		out->addrs = a;
		out->n += six.n;
		dns_list_free(&six);
	}
	return out->n ? DNS_FOUND : DNS_NONE;
}
