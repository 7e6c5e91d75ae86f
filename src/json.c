/*
 * json — string literals only: formpost writes its few JSON objects by
 * hand, and what can go wrong there is the escaping of data, so it lives
 * in one place.
 */
#include "json.h"

/* The escape for byte c into tmp, or NULL when c stands for itself. */
static const char *
json_escape(unsigned char c, char tmp[8])
{
	if (c == '"' || c == '\\') {
		tmp[0] = '\\';
		tmp[1] = (char)c;
		tmp[2] = '\0';
		return tmp;
	}
	if (c < 0x20 || c == 0x7f || c == '<') {
		snprintf(tmp, 8, "\\u%04x", c);
		return tmp;
	}
	return NULL;
}

void
json_buf_string(struct buf *b, const char *s)
{
	const char *e;
	char tmp[8];

	buf_addc(b, '"');
	for (; *s; s++)
		if ((e = json_escape((unsigned char)*s, tmp)) != NULL)
			buf_adds(b, e);
		else
			buf_addc(b, *s);
	buf_addc(b, '"');
}

void
json_file_string(FILE *out, const char *s)
{
	const char *e;
	char tmp[8];

	fputc('"', out);
	for (; *s; s++)
		if ((e = json_escape((unsigned char)*s, tmp)) != NULL)
			fputs(e, out);
		else
			fputc(*s, out);
	fputc('"', out);
}
