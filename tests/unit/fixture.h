/*
 * fixture — the loaded config (and its compiled pages) that several unit
 * programs test against.  The includer defines `static const char yaml[]`
 * (the config), or FIXTURE_FILE (a config file's path, loaded as `serve`
 * loads it), before including this, and passes setup_config or
 * setup_pages, and teardown, to cmocka_run_group_tests.  Relative paths
 * resolve against the current directory: the repository root.
 */
#ifndef FORMPOST_FIXTURE_H
#define FORMPOST_FIXTURE_H

#include "config.h"
#include "pages.h"

#define FIXTURE_UNUSED __attribute__((unused))

static struct config *cfg;
static struct pages *pg;     /* NULL unless setup_pages ran */

static FIXTURE_UNUSED int
setup_config(void **state)
{
	char err[512];

	(void)state;
#ifdef FIXTURE_FILE
	cfg = config_load(FIXTURE_FILE, err, sizeof err);
#else
	cfg = config_parse("t.yaml", NULL, yaml, sizeof yaml - 1, err,
	    sizeof err);
#endif
	if (cfg == NULL)
		fail_msg("config: %s", err);
	return 0;
}

static FIXTURE_UNUSED int
setup_pages(void **state)
{
	char err[512];

	setup_config(state);
	if ((pg = pages_load(cfg, err, sizeof err)) == NULL)
		fail_msg("pages: %s", err);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pages_free(pg);
	config_free(cfg);
	return 0;
}

#endif
