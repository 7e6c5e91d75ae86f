/*
 * outcome — the one place that decides what an SMTP attempt means for a
 * recipient (doc/design.md "The four outcomes"): sent, temporary (retry),
 * config (hold and alert: the operator must fix something) or permanent (give
 * up on that recipient).  Pure and table-tested; knows nothing of libcurl.
 */
#ifndef FORMPOST_OUTCOME_H
#define FORMPOST_OUTCOME_H

#include <stddef.h>

enum outcome { OUT_SENT, OUT_TEMP, OUT_CONFIG, OUT_PERM };

/* Where in the SMTP dialogue a reply or failure happened. */
enum smtp_phase {
	PH_CONNECT,   /* resolve, connect, greeting */
	PH_TLS,       /* STARTTLS or the implicit TLS handshake */
	PH_EHLO,
	PH_AUTH,
	PH_MAIL,
	PH_RCPT,
	PH_DATA,      /* the DATA command */
	PH_DOT,       /* the reply after the final "." */
	PH_QUIT,
};

/* What went wrong at transport level (mapped from libcurl by smtp.c). */
enum smtp_fail {
	SF_NONE,          /* the server answered with a reply code */
	SF_CONNECT,       /* resolve/connect refused/unreachable */
	SF_TIMEOUT,
	SF_DROPPED,       /* connection closed or reset mid-dialogue */
	SF_TLS_VERIFY,    /* certificate or host name not trusted */
	SF_TLS_HANDSHAKE, /* TLS failed otherwise (reset, closed): temporary */
	SF_NO_STARTTLS,   /* server did not offer STARTTLS */
	SF_NO_AUTH,       /* a username is set but the server offers no AUTH */
	SF_AUTH_MECH,     /* no AUTH mechanism we may use */
	SF_OTHER,
};

/* Classifies one failure.  code is the SMTP reply code (0 if none) and
 * enhanced the RFC 3463 status ("5.7.1") or "" if none. */
enum outcome outcome_classify(enum smtp_phase phase, enum smtp_fail fail,
    int code, const char *enhanced);

/* The words of the log and the spool notes: "sent", "temporary",
 * "config", "permanent"; "connect", "tls", ... "quit". */
const char *outcome_name(enum outcome o);
const char *outcome_phase_name(enum smtp_phase p);

/* 1 when a reply refuses the message for its size (552 to MAIL or the
 * data, RFC 1870 §6.1; enhanced 5.3.4 or 5.2.3, RFC 3463): permanent,
 * since no retry makes the message smaller (doc/design.md "Attachments"). */
int outcome_is_size(enum smtp_phase phase, int code, const char *enhanced);

/* The note a spool file keeps as its last reply, so `formpost queue`
 * can tell why a message waits without guessing from reply text:
 *
 *   "CLASS: PROFILE PHASE REPLY[; PROFILE PHASE REPLY]..."
 *
 * one part per profile tried in the attempt, CLASS the most pressing of
 * them for an operator (config, then temporary, permanent, sent).  With
 * append 0 the note starts afresh, else the part is added to note (cut
 * to fit size, always NUL-terminated).  profile and reply are printable
 * text; the result is too.  Pure. */
void outcome_note(char *note, size_t size, int append, enum outcome o,
    const char *profile, enum smtp_phase phase, const char *reply);

/* Of a and b, the one an operator must look at first (the CLASS order
 * of outcome_note): what an attempt with recipients of both outcomes is
 * in the spool's history.  Pure. */
enum outcome outcome_pressing(enum outcome a, enum outcome b);

/* The CLASS a note starts with, or -1 when it has none (empty, or a free
 * text such as an expiry reason).  Pure. */
int outcome_note_class(const char *note);

/* The reply a recipient keeps when max_age gives up on it ("expired
 * after max_age; last: NOTE"), and the test `formpost queue` tells an
 * expired recipient from a refused one by: the one writer and the one
 * reader of that text.  Pure. */
void outcome_expired_reply(char *reply, size_t size, const char *last);
int outcome_reply_expired(const char *reply);

#endif
