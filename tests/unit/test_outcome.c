/* The classification table: every (phase × reply class × transport
 * failure) the sender can meet, and the outcome doc/design.md assigns. */
#include "unit.h"

#include "outcome.h"

struct row {
	enum smtp_phase phase;
	enum smtp_fail fail;
	int code;
	const char *enhanced;
	enum outcome want;
};

static const struct row rows[] = {
	/* transport failures, any phase */
	{ PH_CONNECT, SF_CONNECT, 0, "", OUT_TEMP },
	{ PH_CONNECT, SF_TIMEOUT, 0, "", OUT_TEMP },
	{ PH_DOT, SF_TIMEOUT, 0, "", OUT_TEMP },          /* maybe delivered: retry */
	{ PH_RCPT, SF_DROPPED, 250, "", OUT_TEMP },        /* curl#8356 stale 250 */
	{ PH_MAIL, SF_DROPPED, 0, "", OUT_TEMP },
	{ PH_TLS, SF_TLS_VERIFY, 0, "", OUT_CONFIG },
	{ PH_CONNECT, SF_TLS_HANDSHAKE, 0, "", OUT_TEMP },  /* reset mid-handshake */
	{ PH_TLS, SF_TLS_HANDSHAKE, 220, "", OUT_TEMP },   /* after STARTTLS's 220 */
	{ PH_TLS, SF_NO_STARTTLS, 0, "", OUT_CONFIG },
	{ PH_DATA, SF_NO_AUTH, 0, "", OUT_CONFIG },
	{ PH_AUTH, SF_AUTH_MECH, 0, "", OUT_CONFIG },
	{ PH_EHLO, SF_OTHER, 0, "", OUT_TEMP },
	/* greeting */
	{ PH_CONNECT, SF_NONE, 421, "4.3.2", OUT_TEMP },
	{ PH_CONNECT, SF_NONE, 554, "", OUT_CONFIG },
	/* AUTH */
	{ PH_AUTH, SF_NONE, 535, "5.7.8", OUT_CONFIG },
	{ PH_AUTH, SF_NONE, 454, "4.7.0", OUT_TEMP },
	{ PH_AUTH, SF_NONE, 504, "5.5.4", OUT_CONFIG },
	/* MAIL */
	{ PH_MAIL, SF_NONE, 451, "4.3.0", OUT_TEMP },
	{ PH_MAIL, SF_NONE, 530, "5.7.0", OUT_CONFIG },
	{ PH_MAIL, SF_NONE, 553, "5.7.1", OUT_CONFIG },   /* sender not owned */
	{ PH_MAIL, SF_NONE, 550, "5.1.8", OUT_CONFIG },   /* our sender refused */
	{ PH_MAIL, SF_NONE, 552, "", OUT_PERM },          /* SIZE= refused, RFC 1870 */
	{ PH_MAIL, SF_NONE, 552, "5.3.4", OUT_PERM },
	{ PH_MAIL, SF_NONE, 550, "5.3.4", OUT_PERM },
	{ PH_DATA, SF_NONE, 552, "", OUT_PERM },
	{ PH_MAIL, SF_NONE, 553, "5.1.8", OUT_CONFIG },
	/* RCPT */
	{ PH_RCPT, SF_NONE, 450, "4.2.0", OUT_TEMP },
	{ PH_RCPT, SF_NONE, 451, "", OUT_TEMP },
	{ PH_RCPT, SF_NONE, 550, "5.1.1", OUT_PERM },
	{ PH_RCPT, SF_NONE, 550, "", OUT_PERM },
	{ PH_RCPT, SF_NONE, 554, "5.7.1", OUT_CONFIG },   /* relay denied */
	{ PH_RCPT, SF_NONE, 530, "", OUT_CONFIG },
	{ PH_RCPT, SF_NONE, 552, "5.5.3", OUT_TEMP },     /* RFC 5321 §4.5.3.1.10 */
	/* DATA command */
	{ PH_DATA, SF_NONE, 451, "", OUT_TEMP },
	{ PH_DATA, SF_NONE, 554, "5.5.1", OUT_PERM },
	/* after the final dot */
	{ PH_DOT, SF_NONE, 250, "2.0.0", OUT_SENT },
	{ PH_DOT, SF_NONE, 451, "4.3.0", OUT_TEMP },
	{ PH_DOT, SF_NONE, 552, "5.3.4", OUT_PERM },
	{ PH_DOT, SF_NONE, 554, "5.6.0", OUT_PERM },
	{ PH_DOT, SF_NONE, 550, "5.7.1", OUT_CONFIG },    /* policy: DMARC, spam */
	{ PH_DOT, SF_NONE, 0, "", OUT_TEMP },
	/* stale or odd codes are never success outside the dot */
	{ PH_RCPT, SF_NONE, 250, "", OUT_TEMP },
	{ PH_MAIL, SF_NONE, 354, "", OUT_TEMP },
	{ PH_DOT, SF_NONE, 600, "", OUT_TEMP },
};

static void
test_table(void **state)
{
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		enum outcome got = outcome_classify(rows[i].phase,
		    rows[i].fail, rows[i].code, rows[i].enhanced);
		if (got != rows[i].want) {
			print_error("row %zu (%s %d %s): got %s want %s\n", i,
			    outcome_phase_name(rows[i].phase), rows[i].code,
			    rows[i].enhanced, outcome_name(got),
			    outcome_name(rows[i].want));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}


/*
 * The whole matrix: every phase × every reply class × every transport
 * failure, against doc/design.md's outcome table written out as data (not
 * as the classifier's code).  Reply classes, by column:
 *   0 none (code 0)   1 250   2 354   3 421/450/451   4 530 or 535
 *   5 550 5.1.1       6 553 5.7.1   7 554 (no enhanced)
 */
static const struct { int code; const char *enh; } klass[] = {
	{ 0, "" }, { 250, "2.0.0" }, { 354, "" }, { 451, "4.3.0" },
	{ 535, "5.7.8" }, { 550, "5.1.1" }, { 553, "5.7.1" }, { 554, "" },
};

/* doc/design.md "The four outcomes" with SF_NONE: rows are phases
 * (PH_CONNECT..PH_QUIT), columns the reply classes above.  T temporary, C
 * config, P permanent, S sent. */
static const char spec_none[][9] = {
	/* connect */ "TTTTCCCC",
	/* tls     */ "TTTTCCCC",
	/* ehlo    */ "TTTTCCCC",
	/* auth    */ "TTTTCCCC",
	/* mail    */ "TTTTCCCC",
	/* rcpt    */ "TTTTCPCP",
	/* data    */ "TTTTCPCP",
	/* dot     */ "TSTTCPCP",
	/* quit    */ "TTTTCPCP",
};

static enum outcome
letter(char c)
{
	return c == 'S' ? OUT_SENT : c == 'T' ? OUT_TEMP : c == 'C' ?
	    OUT_CONFIG : OUT_PERM;
}

static void
test_matrix(void **state)
{
	/* Transport failures decide alone, whatever the phase or code. */
	static const struct { enum smtp_fail f; enum outcome o; } fails[] = {
		{ SF_CONNECT, OUT_TEMP }, { SF_TIMEOUT, OUT_TEMP },
		{ SF_DROPPED, OUT_TEMP }, { SF_OTHER, OUT_TEMP },
		{ SF_TLS_VERIFY, OUT_CONFIG }, { SF_TLS_HANDSHAKE, OUT_TEMP },
		{ SF_NO_STARTTLS, OUT_CONFIG }, { SF_NO_AUTH, OUT_CONFIG },
		{ SF_AUTH_MECH, OUT_CONFIG },
	};
	int ph, k, bad = 0, n = 0;
	size_t f;

	(void)state;
	for (ph = PH_CONNECT; ph <= PH_QUIT; ph++)
		for (k = 0; k < (int)(sizeof klass / sizeof klass[0]); k++) {
			enum outcome want = letter(spec_none[ph][k]), got;

			got = outcome_classify((enum smtp_phase)ph, SF_NONE,
			    klass[k].code, klass[k].enh);
			n++;
			if (got != want) {
				print_error("%s %d %s: got %s want %s\n",
				    outcome_phase_name((enum smtp_phase)ph),
				    klass[k].code, klass[k].enh,
				    outcome_name(got), outcome_name(want));
				bad++;
			}
			for (f = 0; f < sizeof fails / sizeof fails[0]; f++) {
				got = outcome_classify((enum smtp_phase)ph,
				    fails[f].f, klass[k].code, klass[k].enh);
				n++;
				if (got != fails[f].o) {
					print_error("%s fail %d code %d: got %s\n",
					    outcome_phase_name((enum smtp_phase)ph),
					    (int)fails[f].f, klass[k].code,
					    outcome_name(got));
					bad++;
				}
			}
		}
	assert_int_equal(n, 9 * 8 * 10);
	assert_int_equal(bad, 0);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(outcome_name(OUT_CONFIG), "config");
	assert_string_equal(outcome_name(OUT_PERM), "permanent");
	assert_string_equal(outcome_phase_name(PH_DOT), "dot");
}

static void
test_note(void **state)
{
	char note[200], tiny[12];
	int i;

	(void)state;
	outcome_note(note, sizeof note, 0, OUT_TEMP, "main", PH_CONNECT,
	    "Couldn't connect to server");
	assert_string_equal(note,
	    "temporary: main connect Couldn't connect to server");
	assert_int_equal(outcome_note_class(note), OUT_TEMP);
	/* A later profile of the same attempt is appended; config wins. */
	outcome_note(note, sizeof note, 1, OUT_CONFIG, "backup", PH_AUTH,
	    "535 5.7.8 Authentication credentials invalid");
	assert_string_equal(note, "config: main connect Couldn't connect to "
	    "server; backup auth 535 5.7.8 Authentication credentials invalid");
	assert_int_equal(outcome_note_class(note), OUT_CONFIG);
	outcome_note(note, sizeof note, 1, OUT_TEMP, "third", PH_MAIL, "");
	assert_int_equal(outcome_note_class(note), OUT_CONFIG);
	assert_non_null(strstr(note, "; third mail"));
	/* A fresh attempt starts over. */
	outcome_note(note, sizeof note, 0, OUT_PERM, "main", PH_RCPT,
	    "550 5.1.1 no such user");
	assert_string_equal(note, "permanent: main rcpt 550 5.1.1 no such user");
	/* Appending to free text (an older note) starts the class afresh. */
	strcpy(note, "expired after max_age");
	outcome_note(note, sizeof note, 1, OUT_TEMP, "main", PH_DOT, "451 x");
	assert_string_equal(note, "temporary: main dot 451 x");
	/* Cut to size, always terminated; many appends stay bounded. */
	outcome_note(tiny, sizeof tiny, 0, OUT_CONFIG, "main", PH_AUTH, "535");
	assert_int_equal(strlen(tiny), sizeof tiny - 1);
	for (i = 0; i < 50; i++)
		outcome_note(note, sizeof note, 1, OUT_TEMP, "p", PH_RCPT,
		    "451 4.2.0 mailbox busy, try again");
	assert_true(strlen(note) < sizeof note);
	assert_int_equal(outcome_note_class(note), OUT_TEMP);
	/* Not notes. */
	assert_int_equal(outcome_note_class(""), -1);
	assert_int_equal(outcome_note_class("config:"), -1);
	assert_int_equal(outcome_note_class("configure: x"), -1);
	assert_int_equal(outcome_note_class("451 4.3.0 later"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_note),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
