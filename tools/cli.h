/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the files of the umove command-line tool. The tool
 * uses only the public header <umove.h>; nothing here reaches into src/.
 */
#ifndef UMOVE_CLI_H
#define UMOVE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct umove;

/* Exit statuses: 0 success, 1 failure at run time, 2 bad command line. */
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/*
 * One entry of a command table. A command either runs (run != NULL) or
 * holds a table of subcommands (sub != NULL); the dispatcher walks the
 * tables, so adding `umove bench <thing>` is one line in a table.
 * run() receives argv starting at the command's own name.
 */
struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const struct cli_cmd *sub;
	const char *args;    /* options shown after the name in usage */
	const char *summary; /* one line */
};

/* umove.c: dispatch and the helpers every command's option parser uses. */
int cli_dispatch(const char *path, const struct cli_cmd *cmds, int argc,
		 char **argv);
int cli_no_arguments(const char *cmd, const char *usage_text, int argc,
		     char **argv);
int cli_bad_option(const char *cmd, const char *usage, int c, int argc,
		   char **argv);
int cli_parse_count(const char *cmd, const char *opt, const char *arg,
		    unsigned long min, unsigned long max, unsigned long *out);

/* One option of a command, for cli_parse_options(). */
enum cli_opt_kind {
	CLI_OPT_FLAG,	/* out: bool, set to true */
	CLI_OPT_COUNT,	/* out: unsigned long, a decimal in [min, max] */
	CLI_OPT_STRING, /* out: const char *, the argument itself */
};

struct cli_opt {
	const char *name; /* the long name, without "--" */
	char short_name;  /* a one-letter form, or 0 */
	enum cli_opt_kind kind;
	void *out;
	unsigned long min, max; /* CLI_OPT_COUNT */
};

#define CLI_MAX_OPTS 16

/*
 * Parses the options of argv (argv[0] is the command's name) against the
 * n entries of opts, and --help/-h: 0 to run, with optind at the first
 * operand; else the exit status after a message naming cmd and the usage
 * on stderr. --help prints usage on stdout, sets *done and returns 0.
 */
int cli_parse_options(const char *cmd, const char *usage, int argc, char **argv,
		      const struct cli_opt *opts, size_t n, bool *done);
bool cli_env_emulate(void);
int cli_drop_caches(const char *what);
const char *cli_emulation_reason(const struct umove *um);
const char *cli_version(void);

/*
 * json.c: a streaming writer. key is NULL inside arrays; a NULL string and
 * a non-finite number are written as null.
 */
struct json {
	FILE *out;
	int depth;
	bool first; /* no member written yet at this depth: no comma due */
};

void json_init(struct json *j, FILE *out);
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
void json_str(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, long long val);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_num(struct json *j, const char *key, double val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
void json_finish(struct json *j);

/* bench_move.c: cost per page of MOVE, COPY and the emulated move. */
/* BENCH_MOVE_EMPTY: umove_move with UMOVE_DST_EMPTY, no dst snapshot. */
enum bench_op {
	BENCH_MOVE,
	BENCH_MOVE_EMPTY,
	BENCH_COPY,
	BENCH_EMULATED,
	BENCH_OP_COUNT
};

#define BENCH_MOVE_BATCHES 3  /* 1, 16 and 512 pages per call */
#define BENCH_MOVE_RUNS 7     /* default number of runs per cell */
#define BENCH_MOVE_PAGES 2048 /* default pages per run: 4 calls of 512 */
#define BENCH_MOVE_MIN_PAGES 512
#define BENCH_MOVE_MAX_PAGES 65536
#define BENCH_MOVE_MAX_RUNS 1000

struct bench_stat {
	bool ok;
	double median, min, max; /* ns per page over the runs */
	char note[96];		 /* why the cell was not measured */
};

struct bench_move_row {
	size_t batch; /* pages per call */
	size_t pages; /* pages timed per run: whole calls only */
	struct bench_stat op[BENCH_OP_COUNT];
	double ratio; /* COPY median / MOVE median, NAN when either is n/a */
};

struct bench_move_result {
	unsigned runs;
	size_t pages;
	size_t page_size;
	struct bench_move_row rows[BENCH_MOVE_BATCHES];
};

int bench_move_run(unsigned runs, size_t pages, struct bench_move_result *r);
void bench_move_print(const struct bench_move_result *r, FILE *out);
void bench_move_json(const struct bench_move_result *r, struct json *j,
		     const char *key);
int cmd_bench_move(int argc, char **argv);

/* bench_fault.c: pages per second of reading a file once through faults. */
#define BENCH_FAULT_MIB 256 /* default size of the temp file */
#define BENCH_FAULT_RUNS 5  /* default number of runs */
#define BENCH_FAULT_MAX_MIB 16384
#define BENCH_FAULT_MAX_RUNS 1000

int cmd_bench_fault(int argc, char **argv);

/* bench_store.c: O_DIRECT reads of the file store, pread vs io_uring. */
int cmd_bench_store(int argc, char **argv);

/* bench_evict.c: paging under a resident limit, eviction by move vs copy. */
int cmd_bench_evict(int argc, char **argv);

/*
 * bench_pool.c: page reads from a pool of memcached servers, against a
 * plain libmemcached loop and the file store.
 */
int cmd_bench_pool(int argc, char **argv);

/* pool.c: `umove pool put|get|check SPEC FILE`. */
int cmd_pool_put(int argc, char **argv);
int cmd_pool_get(int argc, char **argv);
int cmd_pool_check(int argc, char **argv);

/*
 * mcspec.c: what the pool commands read in a memcached spec the library
 * accepted (umove_store_memcached(3) owns the grammar and refuses bad
 * specs): the servers in the store's order (sorted by host, then port),
 * the namespace and region of the keys, whether the spec says pages.
 */
#define CLI_MC_MAX_SERVERS 64
#define CLI_MC_NAME_MAX 64

struct cli_mc_server {
	char host[256];
	unsigned port;
};

struct cli_mc_spec {
	unsigned nservers;
	struct cli_mc_server server[CLI_MC_MAX_SERVERS];
	char ns[CLI_MC_NAME_MAX + 1];	  /* "umove" unless the spec says */
	char region[CLI_MC_NAME_MAX + 1]; /* "0" unless the spec says */
	bool has_pages, has_region;
};

/* 0, or -EINVAL for what is not a spec (the library says why). */
int cli_mc_spec_parse(const char *spec, struct cli_mc_spec *out);
/* A new string (malloc): spec with option appended after '?' or '&'. */
char *cli_mc_spec_add(const char *spec, const char *option);

/* probe.c */
int cmd_probe(int argc, char **argv);

#endif /* UMOVE_CLI_H */
