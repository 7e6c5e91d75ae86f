/* priv — switching from root to the service user, all or nothing. */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd pw, *res = NULL;
	char sbuf[4096];
	int rc;

	rc = getpwnam_r(user, &pw, sbuf, sizeof sbuf, &res);
	if (res == NULL) {
		snprintf(err, errlen, "user %s: %s", user, rc ?
		    strerror(rc) : "no such user (create it, or change user:)");
		return -1;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

int
priv_protect(char *err, size_t errlen)
{
	static const struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "cannot keep secrets out of core dumps: "
		    "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int
priv_drop(const char *user, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (user == NULL || geteuid() != 0)
		return priv_protect(err, errlen);
	if (priv_lookup(user, &uid, &gid, err, errlen) == -1)
		return -1;
	if (uid == 0)
		return priv_protect(err, errlen);
	if (initgroups(user, gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1) {
		snprintf(err, errlen, "cannot become user %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		snprintf(err, errlen, "could regain root after dropping to %s",
		    user);
		return -1;
	}
	/* A change of uid resets "dumpable" to fs.suid_dumpable. */
	return priv_protect(err, errlen);
}
