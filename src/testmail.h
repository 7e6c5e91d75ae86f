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

/* `formpost test-mail SITE --auto-reply ADDRESS`: a sample receipt
 * (doc/design.md "Auto-reply and carrier mail") built from the site's
 * auto_reply templates, sent now to ADDRESS alone through the receipt's
 * profiles, with no limit counted.  Exit status as testmail_run; 2 also
 * when the site has no auto_reply or ADDRESS is not an address. */
int testmail_receipt(const struct config *c, const char *site,
    const char *addr, FILE *out);

#endif
