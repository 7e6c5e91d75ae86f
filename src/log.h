/*
 * log — one logfmt line per event on stderr ("level=info event=accepted
 * site=example id=… status=303 ms=2").  Values are quoted and escaped, so
 * no input can forge a line or a key.  Never pass bodies, form values or
 * secrets.  Thread-safe: each line is one write(2).
 */
#ifndef FORMPOST_LOG_H
#define FORMPOST_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Logs event with key/value string pairs, terminated by NULL:
 *   log_event(LOG_INFO, "accepted", "site", s, "id", id, (char *)NULL);
 * A NULL value is skipped with its key. */
void log_event(enum log_level level, const char *event, ...)
    __attribute__((sentinel));

/* Minimum level written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* 1 when level is written: a caller may skip the work of a debug line. */
int log_enabled(enum log_level level);

/* How the value of every "ip" key is written (config log_ip): as given,
 * masked to its network (IPv4 /24, IPv6 /48, "192.0.2.0/24"), or not at
 * all (the key is left out). */
enum log_ip_mode { LOG_IP_FULL, LOG_IP_MASKED, LOG_IP_NONE };
void log_set_ip_mode(enum log_ip_mode mode);

/* addr masked to its /24 or /48 network in out; addr itself (cut) when
 * it is not a numeric address.  Pure. */
void log_mask_ip(const char *addr, char *out, size_t outlen);

#endif
