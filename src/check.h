/*
 * check — what `formpost check` verifies beyond parsing: deliverability
 * lints (offline) and the environment serve will need.  Prints one line
 * per finding ("FILE:LINE:COLUMN: error: ..." or "warning: ..."), never a
 * secret.
 */
#ifndef FORMPOST_CHECK_H
#define FORMPOST_CHECK_H

#include <stdio.h>

#include "config.h"

/* Deliverability lints (`formpost help check`): From at a consumer,
 * DMARC-reject or carrier domain → error; envelope_from at another domain
 * than From → error; SMTP username at another domain than From → warning;
 * auto_reply without token.required, or without rate_limit → a warning
 * each.
 * Returns the number of errors (warnings don't count).  Pure. */
int check_lint(const struct config *c, FILE *out);

/* 1 when domain (ASCII, any case) is one whose From a contact form must
 * never use. */
int check_domain_is_consumer(const char *domain);

/* Opens what serve will need, as the current user: secrets, ca_file,
 * templates, a writable spool.  Returns the number of errors. */
int check_environment(struct config *c, FILE *out);

#endif
