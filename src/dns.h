/*
 * dns — the questions `formpost doctor` asks DNS (TXT, MX, A/AAAA),
 * through glibc's libresolv: it is part of libc6 on every Debian machine
 * (no new package), reads /etc/resolv.conf like every other program, and
 * its per-call state (res_ninit) has bounded retries and timeouts.  The
 * only module that includes <resolv.h>.  Answers are hostile: they are
 * walked with ns_parserr, names expanded with dn_expand, TXT data handed
 * to dnsrec; nothing is printed from here.  Not thread-safe per handle.
 */
#ifndef FORMPOST_DNS_H
#define FORMPOST_DNS_H

#include <stddef.h>

#include "util.h"

enum dns_rc {
	DNS_FOUND,             /* at least one record of the type */
	DNS_NONE,              /* NXDOMAIN or no record of that type */
	DNS_ERROR,             /* no answer: timeout, SERVFAIL, refused... */
};

struct dns;

/* A resolver from /etc/resolv.conf (or the RES_OPTIONS/LOCALDOMAIN
 * environment, like every resolver), each query bounded by timeout_s per
 * try and LIM_DNS_TRIES tries per server.  NULL with err on failure. */
struct dns *dns_new(unsigned timeout_s, char *err, size_t errlen);
void dns_free(struct dns *d);

/* Records found, owned by the list; free with dns_list_free. */
struct dns_list {
	struct buf *txt;       /* TXT: one joined record each (may hold NUL) */
	char **names;          /* MX: exchange host names, by preference */
	struct dns_addr { int family; unsigned char a[16]; } *addrs;
	size_t n;
};
void dns_list_free(struct dns_list *l);

/* Each asks for one name and fills *out (zeroed first) on DNS_FOUND.  On
 * DNS_ERROR err says which name got no answer and why (the server asked,
 * the errno).  A malformed answer is DNS_ERROR too. */
enum dns_rc dns_txt(struct dns *d, const char *name, struct dns_list *out,
    char *err, size_t errlen);
enum dns_rc dns_mx(struct dns *d, const char *name, struct dns_list *out,
    char *err, size_t errlen);
/* A and AAAA together: DNS_FOUND when either has a record. */
enum dns_rc dns_addrs(struct dns *d, const char *name, struct dns_list *out,
    char *err, size_t errlen);

#endif
