/* main — command-line dispatch. */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("formpost %s\n", FORMPOST_VERSION);
		return 0;
	}
	return 1;
}
