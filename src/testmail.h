/*
 * testmail — `formpost test-mail SITE`: compose a clearly marked test
 * message to the site's recipients and send it now, bypassing the spool,
 * through each of the site's profiles in order until one takes it; print
 * the SMTP dialogue (AUTH exchanges hidden) and the outcome.
 */
#ifndef FORMPOST_TESTMAIL_H
#define FORMPOST_TESTMAIL_H

#include <stdio.h>

#include "config.h"

/* Exit status per outcome: 0 sent, 1 temporary, 2 config, 3 permanent;
 * 2 also when the site does not exist or nothing could be composed.
 * Secrets must already be loaded (config_load_secrets). */
int testmail_run(const struct config *c, const char *site, FILE *out);

#endif
