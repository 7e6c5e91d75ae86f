/*
 * help — the command line's manual: `formpost --help`, `formpost help
 * CMD`, `formpost CMD --help`.  Text only; doc/formpost.8 says the same
 * for man(1).
 */
#ifndef FORMPOST_HELP_H
#define FORMPOST_HELP_H

/* The overview (cmd NULL or "") or one command's page ("serve", "check",
 * "test-mail", "queue", "form"); NULL for an unknown command. */
const char *help_text(const char *cmd);

#endif
