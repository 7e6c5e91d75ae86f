/* serve — placeholder until the walking skeleton lands. */
#include "serve.h"

#include <stdio.h>

int
serve_main(const char *config_path)
{
	fprintf(stderr, "formpost: serve is not built yet (%s)\n", config_path);
	return 1;
}
