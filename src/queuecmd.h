/*
 * queuecmd — `formpost queue`: the operator's view of the spool and the
 * levers on it (doc/design.md "The command line").  list shows why each
 * message waits or failed; flush, retry and drop change the spool through
 * the spool API (claims, durable writes) and wake the running workers
 * through the trigger file; check is the one-line verdict for cron and
 * monitoring.  Never prints bodies or secrets: only ids, sites, addresses
 * and server replies.  Run after the privilege drop.
 */
#ifndef FORMPOST_QUEUECMD_H
#define FORMPOST_QUEUECMD_H

#include <stdio.h>

#include "spool.h"

/* Exit statuses of `queue check` (the Nagios plugin convention, so it
 * drops into monitoring as it is; cron mails any non-zero). */
enum queuecmd_check_status {
	QCHECK_OK = 0,
	QCHECK_WARNING = 1,   /* only: messages older than the threshold */
	QCHECK_CRITICAL = 2,  /* failed/ (receipts aside), corrupt/ or
	                       * held as config */
	QCHECK_UNKNOWN = 3,   /* the spool could not be read */
};

/* Prints queue/, failed/ and corrupt/ to out, oldest first: a table, or
 * with json one JSON object; files a newer formpost wrote are listed
 * apart ("newer").  0, or 1 when the spool cannot be read. */
int queuecmd_list(struct spool *sp, int json, FILE *out);

/* Makes every message in queue/ due now (rewrites its next-try) and
 * wakes the workers.  0, or 1 on an error (printed). */
int queuecmd_flush(struct spool *sp, FILE *out);

/* Brings message id back: its failed/ recipients become pending again
 * (into the queued message if there is one, else as a new queue/ file),
 * with a fresh max_age and back-off, due now.  id as a person typed it
 * (id_from_user: any case, hyphens or not, or a 0.1.0 id).  0, or 1
 * (printed why). */
int queuecmd_retry(struct spool *sp, const char *typed, FILE *out);

/* Removes message id (typed as for queuecmd_retry) from queue/, failed/
 * and corrupt/.  0, or 1 when there was no such message or it is being
 * delivered right now. */
int queuecmd_drop(struct spool *sp, const char *typed, FILE *out);

/* One line on out; returns a queuecmd_check_status.  older_than: seconds. */
int queuecmd_check(struct spool *sp, unsigned older_than, FILE *out);

/* One message wherever it is (queue/, failed/, sent/, corrupt/): its
 * state (queued, held, failed, expired, archived), envelope, each
 * recipient's state and last reply, the attempt count and the last
 * attempt's note (per profile tried), the header section of the message
 * (never its body), and the attempt history the file keeps, oldest first
 * (doc/design.md "The spool").  A file a newer formpost wrote is named
 * as such.  id typed as for queuecmd_retry.  0, or 1 when there is no
 * such message.  With json, one object instead (see `formpost help
 * queue`), without the header section. */
int queuecmd_show(struct spool *sp, const char *typed, int json, FILE *out);

/* Applies c's retention now (see ops_retention) and says what went.  0,
 * or 1 on an error. */
struct config;
int queuecmd_purge(struct spool *sp, const struct config *c, FILE *out);

/* "45s" "12m" "3h05m" "2d04h": a compact age.  Pure. */
void queuecmd_duration(char out[32], long long secs);

#endif
