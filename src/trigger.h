/*
 * trigger — how `formpost queue` reaches the running workers through the
 * spool (doc/design.md "The command line": flush wakes the running
 * worker): the CLI
 * writes SPOOL/flush, and every serve process sharing that spool watches
 * the spool directory with inotify and runs its hook.  A FIFO would wake
 * only one reader, a signal needs a pid file; an inotify watch wakes
 * them all, costs nothing while idle and needs no pid.  Linux only.
 */
#ifndef FORMPOST_TRIGGER_H
#define FORMPOST_TRIGGER_H

#include <stddef.h>

#define TRIGGER_FILE "flush"   /* under the spool directory */

/* Writes spool_dir/flush (0600, as the current user), waking every
 * watcher.  0, or -1 with err. */
int trigger_fire(const char *spool_dir, char *err, size_t errlen);

struct trigger;

/* Starts a thread that calls fn(arg) each time spool_dir/flush is
 * written (several writes in a burst may give one call).  spool_dir is
 * copied; fn runs on that thread.  NULL with err on failure. */
struct trigger *trigger_start(const char *spool_dir, void (*fn)(void *arg),
    void *arg, char *err, size_t errlen);

/* Stops and joins the thread; NULL is a no-op. */
void trigger_stop(struct trigger *t);

#endif
