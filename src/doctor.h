/*
 * doctor — `formpost doctor [SITE] [--lang ja|en]`: asks DNS what a
 * receiver will ask about a site's mail (SPF of the envelope domain, the
 * DKIM selector's key, DMARC of the From domain, MX for bounces) and says
 * in plain Japanese or English what to publish or fix.  Reads DNS only
 * through dns.c; never sends mail, never connects to the relay.
 */
#ifndef FORMPOST_DOCTOR_H
#define FORMPOST_DOCTOR_H

#include <stdio.h>

#include "config.h"

#define DOCTOR_OK      0
#define DOCTOR_WARN    1
#define DOCTOR_ERROR   2

/* Checks site (or every site when NULL) and prints the findings to out,
 * in lang (or each site's own lang: when lang is NULL; "ja" or "en").
 * DKIM keys must have been loaded (config_load_secrets).  Returns
 * DOCTOR_OK, DOCTOR_WARN or DOCTOR_ERROR (also for an unknown site or a
 * resolver that does not answer; every query is bounded in time). */
int doctor_run(const struct config *c, const char *site, const char *lang,
    FILE *out);

#endif
