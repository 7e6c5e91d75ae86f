/*
 * tokenkey — the fill-time token's secret, SPOOL/token.key: 32 random
 * bytes, mode 0600, created once and read ever after, so restarts and
 * several processes sharing the spool issue and accept the same tokens.
 */
#ifndef FORMPOST_TOKENKEY_H
#define FORMPOST_TOKENKEY_H

#include <stddef.h>

#include "token.h"

/* Reads dir/token.key into key, creating it when missing (written to a
 * private temporary, fsynced, then linked into place, which fails rather
 * than overwrites when another process won the race: then its key is
 * read).  Refuses a key of the wrong size or readable by group/others.
 * Returns 0, or -1 with err (never the key). */
int tokenkey_load(const char *dir, unsigned char key[TOKEN_KEY_LEN],
    char *err, size_t errlen);

#endif
