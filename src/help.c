/*
 * help — manual text for each command (see help.h).  Kept beside the
 * code so that `--help` and the behaviour change in one commit.
 */
#include "help.h"

#include <string.h>

#define DEFAULT_CONFIG "/etc/formpost/formpost.yaml"

static const char overview[] =
"usage: formpost [serve] [-c FILE]          run the FastCGI worker\n"
"       formpost check [-c FILE]            validate config and environment\n"
"       formpost test-mail SITE [-c FILE]   send a test mail now\n"
"       formpost queue list [--json] [-c FILE]\n"
"       formpost queue flush|check [--older-than DUR]|retry ID|drop ID\n"
"       formpost form SITE [--lang ja|en] [--fetch] [--action URL] [-c FILE]\n"
"       formpost help [COMMAND] | COMMAND --help | --version\n"
"\n"
"The config is FILE, else $FORMPOST_CONFIG, else " DEFAULT_CONFIG ".\n"
"Started as root, serve, check, test-mail and queue act as the config's\n"
"user:.  `formpost help COMMAND` shows the manual of one command.\n"
"\n"
"serve      the FastCGI worker: validates, spools, answers, delivers\n"
"check      like nginx -t: is the config valid and would serve start?\n"
"test-mail  send a marked test mail through the site's SMTP profiles now\n"
"queue      list, flush, retry, drop and check spooled messages\n"
"form       print a ready-to-paste HTML form for a site\n";

static const char serve[] =
"NAME\n"
"    formpost serve - the FastCGI worker\n"
"\n"
"SYNOPSIS\n"
"    formpost [serve] [-c FILE]\n"
"\n"
"DESCRIPTION\n"
"    Listens where the config's listen: says, else on systemd's socket\n"
"    (fd 3 with LISTEN_FDS), else on fd 0 (spawn-fcgi).  Each accepted\n"
"    form is written durably to the spool before the browser gets its\n"
"    answer; background threads deliver it by SMTP and retry until the\n"
"    server accepts it (see `formpost help queue`).  Started as root it\n"
"    opens the socket, then becomes user: before reading anything else.\n"
"    Logs go to stderr, one logfmt line per event (level=, event=, site=,\n"
"    id=, ...); never bodies, form values or secrets.\n"
"\n"
"SIGNALS\n"
"    TERM, INT  stop accepting, finish requests in hand, give in-flight\n"
"               SMTP a few seconds (those messages stay spooled), exit 0.\n"
"    HUP        reload the config and templates.  If anything is invalid\n"
"               the running config stays (event=reload_failed with\n"
"               FILE:LINE:COLUMN).  Queued messages are retried at once\n"
"               with the new config (a fixed password or host applies\n"
"               now); messages of a site the reload removed are held as\n"
"               config.  listen, workers, spool, user and socket_group\n"
"               need a restart (event=reload_needs_restart keys=...).\n"
"\n"
"FILES\n"
"    SPOOL/flush  written by `formpost queue` to wake every worker that\n"
"                 shares the spool (watched with inotify).\n"
"\n"
"EXIT STATUS\n"
"    0 after TERM/INT, 1 when start-up fails (the reason on stderr).\n";

static const char check[] =
"NAME\n"
"    formpost check - validate the config and environment, like nginx -t\n"
"\n"
"SYNOPSIS\n"
"    formpost check [-c FILE]\n"
"\n"
"DESCRIPTION\n"
"    Parses the config (errors as FILE:LINE:COLUMN: message), lints\n"
"    deliverability offline (From at a mailbox provider's or a carrier's\n"
"    domain, envelope_from at another domain than From: errors; an SMTP\n"
"    username at another domain: a warning), then, as user:, opens what\n"
"    serve needs: templates (compiled), password files, ca_file and a\n"
"    writable spool.  Secrets are never printed.\n"
"\n"
"EXIT STATUS\n"
"    0 when serve would start, 1 otherwise.\n";

static const char test_mail[] =
"NAME\n"
"    formpost test-mail - send a test mail through a site's SMTP setup\n"
"\n"
"SYNOPSIS\n"
"    formpost test-mail SITE [-c FILE]\n"
"\n"
"DESCRIPTION\n"
"    Composes a clearly marked test mail from SITE's From to its to, cc\n"
"    and bcc recipients and sends it now, bypassing the spool, through\n"
"    each of the site's smtp profiles in order until one succeeds.\n"
"    Prints the SMTP dialogue (C: client, S: server; AUTH data hidden),\n"
"    each recipient's outcome and the attempt's outcome class.\n"
"\n"
"EXIT STATUS\n"
"    0 sent; 1 temporary (server down, 4xx: try again later); 2 config\n"
"    (fix the setup: password, TLS trust, STARTTLS, a From the account\n"
"    may not use; or no such site); 3 permanent (a recipient refused).\n";

static const char queue[] =
"NAME\n"
"    formpost queue - inspect and steer the spool\n"
"\n"
"SYNOPSIS\n"
"    formpost queue list [--json] [-c FILE]\n"
"    formpost queue flush [-c FILE]\n"
"    formpost queue retry ID [-c FILE]\n"
"    formpost queue drop ID [-c FILE]\n"
"    formpost queue check [--older-than DUR] [-c FILE]\n"
"\n"
"DESCRIPTION\n"
"    Every accepted form is one message in the spool, named by the id the\n"
"    visitor saw as their reference.  queue/ holds messages with at\n"
"    least one recipient still to send; failed/ the recipients given up\n"
"    on (a permanent refusal, or max_age reached) with the server's\n"
"    reply; corrupt/ files that were torn or altered (never delivered).\n"
"    Each attempt ends in a class:\n"
"      temporary  server down, timeout, 4xx: retried with back-off\n"
"      config     the setup is wrong (AUTH 535, TLS not trusted, no\n"
"                 STARTTLS, a 5.7.x policy refusal such as \"sender not\n"
"                 owned\", the site removed from the config): held and\n"
"                 retried until max_age, nothing lost; fix it, then\n"
"                 reload or flush\n"
"      permanent  the recipient was refused (5xx): moved to failed/\n"
"    Run as root, these commands act as user: so they never leave\n"
"    root-owned files in the spool.  Messages are changed under the same\n"
"    lock the workers take, so it is safe while serve runs.\n"
"\n"
"COMMANDS\n"
"    list   every message in queue/ and failed/, oldest first: id, site,\n"
"           age, attempts, next try, class, the last reply (\"CLASS:\n"
"           PROFILE PHASE REPLY\" for each profile tried) and each\n"
"           recipient's state and reply; then the count of corrupt/.\n"
"           --json prints one object {\"queue\":[...], \"failed\":[...],\n"
"           \"corrupt\":N, \"unreadable\":[...]} for monitoring; times are\n"
"           epoch seconds, age in seconds.\n"
"    flush  makes every queued message due now (also the profile back-off)\n"
"           and wakes every running worker sharing the spool.\n"
"    retry ID\n"
"           brings ID back: its failed/ recipients are queued again (a\n"
"           queued ID is simply due now), with a fresh max_age and\n"
"           back-off, and the workers are woken.\n"
"    drop ID\n"
"           removes ID from queue/, failed/ and corrupt/ for good (after\n"
"           you have dealt with it: a refused address, a spam message).\n"
"    check  one line for cron or monitoring (Nagios plugin statuses):\n"
"           CRITICAL when anything is in failed/ or corrupt/, or held as\n"
"           config; WARNING when a message is older than --older-than\n"
"           (default 1h; s, m, h, d suffixes); else OK.\n"
"\n"
"EXIT STATUS\n"
"    list, flush, retry, drop: 0 done; 1 not done (the reason printed:\n"
"    no such message, being delivered at this moment, spool unreadable).\n"
"    check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (cannot read the\n"
"    config or spool).\n"
"\n"
"EXAMPLES\n"
"    formpost queue list                  why is mail stuck?\n"
"    (fix the password file)  systemctl reload formpost\n"
"    formpost queue retry Xw3...          after fixing a refused address\n"
"    formpost queue drop Xw3...           give up on it\n"
"    */10 * * * * formpost queue check    cron mails you when it fails\n";

static const char form[] =
"NAME\n"
"    formpost form - print a ready-to-paste HTML form for a site\n"
"\n"
"SYNOPSIS\n"
"    formpost form SITE [--lang ja|en] [--fetch] [--action URL] [-c FILE]\n"
"\n"
"DESCRIPTION\n"
"    Prints, from the site's configuration, an HTML fragment to paste\n"
"    into a static page: a small stylesheet (classes fp-*), the form and,\n"
"    when needed, one inline script.  Each field gets its label, type,\n"
"    inputmode and autocomplete, and required, minlength and maxlength as\n"
"    the site's rules say; the form has accept-charset=\"UTF-8\"; the\n"
"    honeypot is off-screen, inert and hidden from screen readers and\n"
"    autofill; a site with token.required gets the script that fetches\n"
"    the token.  Labels and options are HTML-escaped.\n"
"\n"
"OPTIONS\n"
"    --lang ja|en   the language of the page text (default: the site's)\n"
"    --fetch        send with fetch() and show the answer in the page:\n"
"                   errors beside their fields, the reference number on\n"
"                   success.  Without JavaScript it posts as usual.\n"
"    --action URL   where the form posts: /path or https://host/path\n"
"                   (default /formpost/SITE)\n"
"\n"
"    The script is inline: a page whose Content-Security-Policy limits\n"
"    script-src must allow it (a hash) or load it from a file.\n"
"\n"
"EXIT STATUS\n"
"    0 printed; 1 the config is invalid, no such site (the configured\n"
"    sites are named) or a bad --action; 2 wrong arguments.\n";

const char *
help_text(const char *cmd)
{
	static const struct {
		const char *name, *text;
	} pages[] = { { "serve", serve }, { "check", check },
	    { "test-mail", test_mail }, { "queue", queue },
	    { "form", form } };
	size_t i;

	if (cmd == NULL || *cmd == '\0')
		return overview;
	for (i = 0; i < sizeof pages / sizeof pages[0]; i++)
		if (strcmp(cmd, pages[i].name) == 0)
			return pages[i].text;
	return NULL;
}
