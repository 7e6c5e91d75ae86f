/*
 * serve — the long-running worker: listener, FastCGI request threads,
 * signals, reload.  Owns the process-wide state; everything below it gets
 * the config passed in.
 */
#ifndef FORMPOST_SERVE_H
#define FORMPOST_SERVE_H

/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int serve_main(const char *config_path);

#endif
