/* SPDX-License-Identifier: MIT */
/*
 * A minimal streaming JSON writer for the tool's --json output. It keeps
 * only the nesting depth and whether a comma is due, so callers write
 * members in order and can never leave a trailing comma behind.
 */
#include <inttypes.h>
#include <math.h>

#include "cli.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->first = true;
}

static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void newline(struct json *j)
{
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Separator, indentation and key of the next member. */
static void member(struct json *j, const char *key)
{
	if (!j->first)
		fputc(',', j->out);
	if (j->depth > 0)
		newline(j);
	j->first = false;
	if (key) {
		put_string(j->out, key);
		fputs(": ", j->out);
	}
}

void json_open(struct json *j, const char *key, char bracket)
{
	member(j, key);
	fputc(bracket, j->out);
	j->depth++;
	j->first = true;
}

void json_close(struct json *j, char bracket)
{
	j->depth--;
	if (!j->first) /* an empty container stays on one line: {} */
		newline(j);
	fputc(bracket, j->out);
	j->first = false;
}

void json_str(struct json *j, const char *key, const char *val)
{
	member(j, key);
	if (val)
		put_string(j->out, val);
	else
		fputs("null", j->out);
}

void json_int(struct json *j, const char *key, long long val)
{
	member(j, key);
	fprintf(j->out, "%lld", val);
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	member(j, key);
	fprintf(j->out, "%" PRIu64, val);
}

void json_num(struct json *j, const char *key, double val)
{
	member(j, key);
	/* JSON has no NaN or infinity: a missing measurement is null. */
	if (isfinite(val))
		fprintf(j->out, "%.6g", val);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, bool val)
{
	member(j, key);
	fputs(val ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->out);
}

void json_finish(struct json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
