/*
 * outcome — classification of SMTP failures.  The rule, after OpenSMTPD
 * and Postfix: anything that is not a definite 5xx about one recipient or
 * the message is temporary; but problems that only the operator can fix
 * (TLS trust, no STARTTLS, authentication, 5.7.x policy, our own sender
 * refused) are "config": held like temporary, and shouted about.
 */
#include "outcome.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

enum outcome
outcome_classify(enum smtp_phase phase, enum smtp_fail fail, int code,
    const char *enhanced)
{
	switch (fail) {
	case SF_TLS_VERIFY:
	case SF_NO_STARTTLS:
	case SF_NO_AUTH:
	case SF_AUTH_MECH:
		return OUT_CONFIG;
	/* A handshake cut short (reset, closed, garbled) is the network's
	 * or the server's passing trouble, like a drop: only a certificate
	 * we may not trust, or no STARTTLS at all, is the operator's. */
	case SF_TLS_HANDSHAKE:
	case SF_CONNECT:
	case SF_TIMEOUT:
	case SF_DROPPED:
	case SF_OTHER:
		return OUT_TEMP;
	case SF_NONE:
		break;
	}
	/* Only a 2xx answering the final dot means sent; a 2xx anywhere
	 * else is stale (curl#8356) and a 3xx is never a verdict. */
	if (code >= 200 && code < 400)
		return phase == PH_DOT && code < 300 ? OUT_SENT : OUT_TEMP;
	if (code == 530 || code == 535 || code == 534 || code == 538 ||
	    (phase == PH_AUTH && code >= 500 && code < 600))
		return OUT_CONFIG;
	if (outcome_is_size(phase, code, enhanced))
		return OUT_PERM;
	/* RFC 5321 §4.5.3.1.10: 552 at RCPT ("too many recipients") is to
	 * be treated as the temporary 452. */
	if (phase == PH_RCPT && code == 552)
		return OUT_TEMP;
	if (code >= 500 && code < 600) {
		if (enhanced && strncmp(enhanced, "5.7.", 4) == 0)
			return OUT_CONFIG;
		/* Our own sender or greeting refused: not the recipient's
		 * fault, and every message would fail alike. */
		if (phase == PH_CONNECT || phase == PH_EHLO ||
		    phase == PH_TLS || phase == PH_MAIL)
			return OUT_CONFIG;
		return OUT_PERM;
	}
	return OUT_TEMP;  /* 4xx, 0, anything unexpected */
}

int
outcome_is_size(enum smtp_phase phase, int code, const char *enhanced)
{
	/* RFC 1870 §6.1: 552 to MAIL with SIZE= or to the data; RFC 3463:
	 * 5.3.4 message too big for system, 5.2.3 over the mailbox's limit */
	if (enhanced && (strncmp(enhanced, "5.3.4", 5) == 0 ||
	    strncmp(enhanced, "5.2.3", 5) == 0))
		return 1;
	return code == 552 && (phase == PH_MAIL || phase == PH_DATA ||
	    phase == PH_DOT);
}

const char *
outcome_name(enum outcome o)
{
	static const char *names[] = { "sent", "temporary", "config",
	    "permanent" };
	return names[o];
}

const char *
outcome_phase_name(enum smtp_phase p)
{
	static const char *names[] = { "connect", "tls", "ehlo", "auth",
	    "mail", "rcpt", "data", "dot", "quit" };
	return names[p];
}

/* How much an operator must look at a class: config first. */
static int
urgency(enum outcome o)
{
	static const int rank[] = { [OUT_SENT] = 0, [OUT_PERM] = 1,
	    [OUT_TEMP] = 2, [OUT_CONFIG] = 3 };
	return rank[o];
}

enum outcome
outcome_pressing(enum outcome a, enum outcome b)
{
	return urgency(b) > urgency(a) ? b : a;
}

int
outcome_note_class(const char *note)
{
	enum outcome o;
	size_t n;

	for (o = OUT_SENT; o <= OUT_PERM; o++) {
		n = strlen(outcome_name(o));
		if (strncmp(note, outcome_name(o), n) == 0 &&
		    note[n] == ':' && note[n + 1] == ' ')
			return (int)o;
	}
	return -1;
}

void
outcome_note(char *note, size_t size, int append, enum outcome o,
    const char *profile, enum smtp_phase phase, const char *reply)
{
	char rest[512] = "";
	const char *old;
	int prev;

	if (size == 0)
		return;
	prev = append ? outcome_note_class(note) : -1;
	if (prev != -1) {
		/* Keep the parts written so far, after their "CLASS: ". */
		old = note + strlen(outcome_name((enum outcome)prev)) + 2;
		str_cat(rest, sizeof rest, old, "; ", (char *)NULL);
		if (urgency((enum outcome)prev) > urgency(o))
			o = (enum outcome)prev;
	}
	str_cat(note, size, outcome_name(o), ": ", rest, profile, " ",
	    outcome_phase_name(phase), *reply ? " " : "", reply, (char *)NULL);
}

#define EXPIRED "expired after max_age"

void
outcome_expired_reply(char *reply, size_t size, const char *last)
{
	snprintf(reply, size, EXPIRED "; last: %.150s", last);
}

int
outcome_reply_expired(const char *reply)
{
	return strncmp(reply, EXPIRED, sizeof EXPIRED - 1) == 0;
}
