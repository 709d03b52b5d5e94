/* SPDX-License-Identifier: MIT */
/*
 * umove - the command-line tool: probe what this system offers for
 * user-space paging, measure what page moves cost here, and copy page
 * images into and out of a pool of memcached servers.
 *
 * This file holds the command tables, their dispatcher, usage and the
 * helpers that every command's option parser shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umove.h>

#include "cli.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct cli_cmd bench_cmds[] = {
	{"move", cmd_bench_move, NULL, "[--runs N] [--pages N] [--json]",
	 "cost per page of MOVE, COPY and the emulated move"},
	{"fault", cmd_bench_fault, NULL,
	 "[--size MiB] [--runs N] [--readers N] [--cold] [--json]",
	 "pages/s of reading a file: kernel mmap, raw userfaultfd, umove"},
	{"store", cmd_bench_store, NULL,
	 "[--size MiB] [--runs N] [--cold] [--json]",
	 "O_DIRECT reads of the file store: pread vs io_uring"},
	{"evict", cmd_bench_evict, NULL,
	 "[--size MiB] [--ops N] [--runs N] [--kernel-swap MiB] [--cpu N] "
	 "[--json]",
	 "paging under a resident limit: MOVE + recycling vs copy-based"},
	{"pool", cmd_bench_pool, NULL,
	 "[--size MiB] [--runs N] [--spec SPEC] [--json]",
	 "page reads from 3 memcached servers vs libmemcached and a file"},
	{NULL, NULL, NULL, NULL, NULL},
};

static const struct cli_cmd pool_cmds[] = {
	{"put", cmd_pool_put, NULL, "[--quiet] SPEC FILE",
	 "copy a file into a memcached pool as an image"},
	{"get", cmd_pool_get, NULL,
	 "[--threads N] [--readahead N] [--quiet] SPEC FILE",
	 "map an image of the pool and stream it into a file"},
	{"check", cmd_pool_check, NULL,
	 "[--threads N] [--readahead N] [--quiet] SPEC FILE",
	 "map an image of the pool and compare it with a file"},
	{NULL, NULL, NULL, NULL, NULL},
};

static const struct cli_cmd top_cmds[] = {
	{"probe", cmd_probe, NULL, "[--json] [--runs N] [--quick]",
	 "kernel, userfaultfd access, features, capabilities, move cost"},
	{"pool", NULL, pool_cmds, NULL,
	 "images in a pool of memcached servers"},
	{"bench", NULL, bench_cmds, NULL, "benchmarks"},
	{NULL, NULL, NULL, NULL, NULL},
};

const char *cli_version(void)
{
	return STR(UMOVE_VERSION_MAJOR) "." STR(UMOVE_VERSION_MINOR);
}

/* One line per runnable command, walking into subcommand tables. */
static void print_cmds(FILE *out, const char *path, const struct cli_cmd *cmds)
{
	char sub[128];

	for (const struct cli_cmd *c = cmds; c->name; c++) {
		snprintf(sub, sizeof(sub), "%s %s", path, c->name);
		if (c->sub) {
			print_cmds(out, sub, c->sub);
			continue;
		}
		fprintf(out, "  %s %s\n      %s\n", sub, c->args, c->summary);
	}
}

static void usage(FILE *out, const char *path, const struct cli_cmd *cmds)
{
	fprintf(out, "usage: %s <command> [options]\n", path);
	if (strcmp(path, "umove") == 0)
		fputs("       umove --help | --version\n", out);
	fputs("\ncommands:\n", out);
	print_cmds(out, path, cmds);
	fputs("\nRun a command with --help for its options; see umove(1).\n",
	      out);
}

static const struct cli_cmd *find_cmd(const struct cli_cmd *cmds,
				      const char *name)
{
	for (const struct cli_cmd *c = cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/*
 * argv[0] names the current level ("umove", "bench"), argv[1] the command
 * to run at that level; path is how usage spells the level.
 */
int cli_dispatch(const char *path, const struct cli_cmd *cmds, int argc,
		 char **argv)
{
	const struct cli_cmd *c;
	char sub[128];

	if (argc < 2) {
		usage(stderr, path, cmds);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout, path, cmds);
		return 0;
	}
	c = find_cmd(cmds, argv[1]);
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s'\n", path, argv[1]);
		usage(stderr, path, cmds);
		return CLI_EXIT_USAGE;
	}
	if (c->run)
		return c->run(argc - 1, argv + 1);
	snprintf(sub, sizeof(sub), "%s %s", path, c->name);
	return cli_dispatch(sub, c->sub, argc - 1, argv + 1);
}

/* Options parsed: anything left over is a usage error. */
int cli_no_arguments(const char *cmd, const char *usage_text, int argc,
		     char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
	fputs(usage_text, stderr);
	return CLI_EXIT_USAGE;
}

/*
 * Report what getopt_long() just refused: c is its ':' (value missing) or
 * '?' (unknown). It runs with opterr = 0 and a leading ':' in the option
 * string so that the message names the command, not argv[0].
 */
int cli_bad_option(const char *cmd, const char *usage_text, int c, int argc,
		   char **argv)
{
	const char *opt = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

	if (c == ':')
		fprintf(stderr, "%s: option '%s' needs a value\n", cmd, opt);
	else if (optopt && opt[0] == '-' && opt[1] != '-')
		fprintf(stderr, "%s: unknown option '-%c'\n", cmd, optopt);
	else
		fprintf(stderr, "%s: unknown option '%s'\n", cmd, opt);
	fputs(usage_text, stderr);
	return CLI_EXIT_USAGE;
}

/* A decimal count in [min, max]; a message and -1 otherwise. */
int cli_parse_count(const char *cmd, const char *opt, const char *arg,
		    unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr,
			"%s: %s wants a number from %lu to %lu, not '%s'\n",
			cmd, opt, min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* getopt_long's value for opts[i]: above every char, so never a short one. */
#define CLI_OPT_VAL 256

static int set_option(const char *cmd, const struct cli_opt *o, const char *arg)
{
	char name[64];

	switch (o->kind) {
	case CLI_OPT_FLAG:
		*(bool *)o->out = true;
		return 0;
	case CLI_OPT_STRING:
		*(const char **)o->out = arg;
		return 0;
	case CLI_OPT_COUNT:
		snprintf(name, sizeof(name), "--%s", o->name);
		return cli_parse_count(cmd, name, arg, o->min, o->max,
				       (unsigned long *)o->out);
	}
	return -1;
}

/* The option getopt_long() returned c for, or NULL: an error or --help. */
static const struct cli_opt *option_of(const struct cli_opt *opts, size_t n,
				       int c)
{
	if (c >= CLI_OPT_VAL && (size_t)(c - CLI_OPT_VAL) < n)
		return &opts[c - CLI_OPT_VAL];
	for (size_t i = 0; i < n && c > 0; i++)
		if (opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

int cli_parse_options(const char *cmd, const char *usage, int argc, char **argv,
		      const struct cli_opt *opts, size_t n, bool *done)
{
	struct option longs[CLI_MAX_OPTS + 2];
	char shorts[2 * CLI_MAX_OPTS + 3] = ":h";
	size_t ns = 2;
	int c;

	if (n > CLI_MAX_OPTS)
		abort(); /* a table too long for the arrays: a bug, not input */
	for (size_t i = 0; i < n; i++) {
		bool flag = opts[i].kind == CLI_OPT_FLAG;

		longs[i] = (struct option){
			opts[i].name, flag ? no_argument : required_argument,
			NULL, CLI_OPT_VAL + (int)i};
		if (opts[i].short_name) {
			shorts[ns++] = opts[i].short_name;
			if (!flag)
				shorts[ns++] = ':';
		}
	}
	longs[n] = (struct option){"help", no_argument, NULL, 'h'};
	longs[n + 1] = (struct option){NULL, 0, NULL, 0};
	shorts[ns] = '\0';
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct cli_opt *o = option_of(opts, n, c);

		if (c == 'h') {
			fputs(usage, stdout);
			*done = true;
			return 0;
		}
		if (!o)
			return cli_bad_option(cmd, usage, c, argc, argv);
		if (set_option(cmd, o, optarg))
			return CLI_EXIT_USAGE;
	}
	return 0;
}

/*
 * sync, then drop clean caches through /proc/sys/vm/drop_caches (what is
 * "1": the page cache, "3": also dentries and inodes): what --cold does
 * before each run. Needs root; 0 or -errno.
 */
int cli_drop_caches(const char *what)
{
	int fd, err = 0;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, what, strlen(what)) != (ssize_t)strlen(what))
		err = -errno;
	close(fd);
	return err;
}

/* Mirrors the library's rule: any value other than "" and "0" forces it. */
bool cli_env_emulate(void)
{
	const char *v = getenv("UMOVE_EMULATE");

	return v && *v && strcmp(v, "0") != 0;
}

/* Why a handle does not move natively; NULL when it does. */
const char *cli_emulation_reason(const struct umove *um)
{
	if (umove_native_move(um))
		return NULL;
	if (cli_env_emulate())
		return "UMOVE_EMULATE is set in the environment";
	if (!(umove_caps(um) & UMOVE_CAP_NATIVE_MOVE))
		return "kernel lacks UFFDIO_MOVE";
	return "the handle did not negotiate UFFD_FEATURE_MOVE";
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf("umove %s\n", cli_version());
		return 0;
	}
	/* Usage spells the tool "umove" however it was invoked. */
	return cli_dispatch("umove", top_cmds, argc, argv);
}
