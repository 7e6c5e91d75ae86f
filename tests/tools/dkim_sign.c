/*
 * dkim_sign — signs the message on stdin with dkim_sign for the integration
 * tests, which verify the result with an independent verifier.
 * Usage: dkim_sign KEY_FILE DOMAIN SELECTOR TIME < message > signed
 * KEY_FILE is loaded with crypto_key_load (so its rules apply); with
 * "-record" as DOMAIN the DNS record for the key is printed instead.
 * Exit 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dkim.h"
#include "util.h"

int
main(int argc, char **argv)
{
	struct crypto_key *k = NULL;
	struct dkim_params p;
	struct buf msg;
	char chunk[4096], err[512], *rec;
	size_t n;
	int rc = 1;

	buf_init(&msg);
	if (argc != 5 && !(argc == 3 && strcmp(argv[2], "-record") == 0)) {
		fprintf(stderr, "usage: dkim_sign KEY DOMAIN SELECTOR TIME\n");
		return 1;
	}
	if ((k = crypto_key_load(argv[1], err, sizeof err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (argc == 3) {
		if ((rec = dkim_record(k)) != NULL)
			printf("%s\n", rec);
		rc = rec ? 0 : 1;
		free(rec);
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		buf_add(&msg, chunk, n);
	p.domain = argv[2];
	p.selector = argv[3];
	p.t = (time_t)strtoll(argv[4], NULL, 10);
	p.key = k;
	if (msg.oom || dkim_sign(&msg, &p, err, sizeof err) == -1) {
		fprintf(stderr, "%s\n", msg.oom ? "out of memory" : err);
		goto out;
	}
	fwrite(msg.data, 1, msg.len, stdout);
	rc = 0;
out:
	buf_free(&msg);
	crypto_key_free(k);
	return rc;
}
