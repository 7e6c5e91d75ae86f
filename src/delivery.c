/*
 * delivery — the sender's decisions, apart from its effects, so each rule
 * is one line a table test can pin.  The split is OpenSMTPD's and dma's:
 * a definite permanent answer fails the recipient, anything else keeps it
 * for another profile or a later try.
 */
#include "delivery.h"

enum spool_state
delivery_rcpt_state(enum outcome o)
{
	switch (o) {
	case OUT_SENT: return SPOOL_SENT;
	case OUT_PERM: return SPOOL_FAILED;
	case OUT_TEMP:
	case OUT_CONFIG:
		break;
	}
	return SPOOL_PENDING;
}

enum spool_event
delivery_event(enum outcome o)
{
	switch (o) {
	case OUT_SENT: return SPOOL_EV_SENT;
	case OUT_TEMP: return SPOOL_EV_TEMP;
	case OUT_CONFIG: return SPOOL_EV_CONFIG;
	case OUT_PERM: return SPOOL_EV_PERM;
	}
	return SPOOL_EV_TEMP;
}

int
delivery_profile_failed(enum outcome o, enum smtp_phase phase,
    enum smtp_fail fail)
{
	return (o == OUT_TEMP || o == OUT_CONFIG) &&
	    (phase <= PH_MAIL || fail == SF_NO_AUTH);
}

enum delivery_start
delivery_start(int expired, int have_site, size_t pending)
{
	if (expired)
		return DS_EXPIRE;
	if (!have_site)
		return DS_HOLD;
	return pending == 0 ? DS_SETTLE : DS_SEND;
}

struct delivery_plan
delivery_after(int tried, size_t pending, size_t failed, size_t failed_before)
{
	struct delivery_plan p = { DN_WAIT, 0 };

	if (!tried)
		return p;
	p.write_failed = failed > 0 && (failed > failed_before || pending == 0);
	p.next = pending == 0 ? DN_FINISH : DN_RETRY;
	return p;
}

long long
delivery_max_age(unsigned max_age, const char *id)
{
	if (spool_id_is_receipt(id) && max_age > LIM_RECEIPT_MAX_AGE)
		return LIM_RECEIPT_MAX_AGE;
	return (long long)max_age;
}
