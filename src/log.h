/*
 * log — one logfmt line per event on stderr ("level=info event=accepted
 * site=example id=… status=303 ms=2").  Values are quoted and escaped, so
 * no input can forge a line or a key.  Never pass bodies, form values or
 * secrets.  Thread-safe: each line is one write(2).
 */
#ifndef FORMPOST_LOG_H
#define FORMPOST_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Logs event with key/value string pairs, terminated by NULL:
 *   log_event(LOG_INFO, "accepted", "site", s, "id", id, (char *)NULL);
 * A NULL value is skipped with its key. */
void log_event(enum log_level level, const char *event, ...)
    __attribute__((sentinel));

/* Minimum level written (default LOG_INFO). */
void log_set_level(enum log_level level);

#endif
