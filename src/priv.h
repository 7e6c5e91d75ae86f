/*
 * priv — dropping root.  serve, check and queue act as the config's user:
 * when started as root they switch to it (groups, gid, then uid) after
 * opening what only root may open.
 */
#ifndef FORMPOST_PRIV_H
#define FORMPOST_PRIV_H

#include <sys/types.h>

/* Keeps secrets out of core files and other processes: RLIMIT_CORE 0 and
 * PR_SET_DUMPABLE 0, which also makes /proc/PID/environ, mem and the like
 * root's and refuses ptrace by the same user.  0 or -1 with a message. */
int priv_protect(char *err, size_t errlen);

/* When running as root and user is not NULL, becomes user for good.  On
 * every success path it then calls priv_protect, so what is read after it
 * (the secrets) never reaches a core dump.  Returns 0 (also when nothing
 * was to be done), or -1 with a message. */
int priv_drop(const char *user, char *err, size_t errlen);

/* Looks up user's uid and gid; 0 or -1 with a message. */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
    size_t errlen);

#endif
