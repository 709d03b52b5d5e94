/* SPDX-License-Identifier: MIT */
/*
 * The move/copy measurement: nanoseconds per page of umove_move() on the
 * native path, of umove_copy(), and of umove_move() on a handle forced to
 * emulate, at 1, 16 and 512 pages per call. `umove probe` prints it and
 * `umove bench move` runs it alone.
 *
 * Timed: only the loop of calls, with default flags, so each call also
 * wakes threads faulting in its range (nobody faults here: that is the
 * cheap no-waiter wake). Memory is private anonymous, THP off on both
 * areas, so a 512-page call moves 512 small pages. Untimed before every
 * run: dst is emptied and src is dropped and written whole, so each run
 * moves freshly faulted pages as a fill from I/O would. These machines are
 * noisy VMs: nothing is pinned, and the three ways are interleaved run by
 * run so that drift hits them alike and the ratios stay meaningful.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <umove.h>

#include "cli.h"

static const size_t batches[BENCH_MOVE_BATCHES] = {1, 16, 512};
static const char *const op_keys[BENCH_OP_COUNT] = {"move", "move_dst_empty",
						    "copy", "emulated"};
static const char *const op_titles[BENCH_OP_COUNT] = {"MOVE", "MOVE, DST_EMPTY",
						      "COPY", "emulated MOVE"};

/* A handle with a staging area (src) and a registered destination (dst). */
struct lane {
	struct umove *um;
	unsigned char *src, *dst;
	size_t len;
};

static void *map_area(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* A huge page would move whole and skew the cost per page. Without
	 * THP in the kernel this fails, which is what we want anyway. */
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void lane_close(struct lane *l)
{
	if (l->src)
		munmap(l->src, l->len);
	if (l->dst)
		munmap(l->dst, l->len);
	umove_close(l->um);
	memset(l, 0, sizeof(*l));
}

/* 0, or -errno with nothing left open. */
static int lane_open(struct lane *l, unsigned flags, size_t len)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->len = len;
	err = umove_open(&l->um, flags);
	if (err) {
		l->um = NULL;
		return err;
	}
	l->src = map_area(len);
	l->dst = map_area(len);
	if (!l->src || !l->dst)
		err = -ENOMEM;
	else
		err = umove_register(l->um, l->dst, len,
				     UMOVE_REGISTER_MISSING);
	if (err)
		lane_close(l);
	return err;
}

/* Untimed: empty dst, give src fresh pages all holding byte v. */
static int prepare(struct lane *l, size_t bytes, unsigned char v)
{
	if (madvise(l->dst, bytes, MADV_DONTNEED) ||
	    madvise(l->src, bytes, MADV_DONTNEED)) {
		fprintf(stderr, "umove: madvise(MADV_DONTNEED): %s\n",
			strerror(errno));
		return -1;
	}
	memset(l->src, v, bytes);
	return 0;
}

static ssize_t call(struct lane *l, enum bench_op op, size_t off, size_t len)
{
	if (op == BENCH_COPY)
		return umove_copy(l->um, l->dst + off, l->src + off, len, 0);
	return umove_move(l->um, l->dst + off, l->src + off, len,
			  op == BENCH_MOVE_EMPTY ? UMOVE_DST_EMPTY : 0);
}

/* Any result but the full length is a failure the table must not hide. */
static int call_failed(enum bench_op op, size_t batch, size_t page, ssize_t got,
		       size_t len)
{
	if (got < 0)
		fprintf(stderr,
			"umove: %s of %zu pages at page %zu failed: %s\n",
			op_titles[op], batch, page, umove_strerror((int)got));
	else
		fprintf(stderr,
			"umove: %s of %zu pages at page %zu returned %zd of "
			"%zu bytes\n",
			op_titles[op], batch, page, got, len);
	return -1;
}

/* Untimed: a call that reported success must have delivered the bytes. */
static int verify(const struct lane *l, enum bench_op op, size_t bytes,
		  size_t ps, unsigned char v)
{
	for (size_t off = 0; off < bytes; off += ps) {
		if (l->dst[off] == v && l->dst[off + ps - 1] == v)
			continue;
		fprintf(stderr,
			"umove: %s reported success but dst page %zu holds "
			"0x%02x, not 0x%02x\n",
			op_titles[op], off / ps, l->dst[off], v);
		return -1;
	}
	return 0;
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 +
	       (double)(b->tv_nsec - a->tv_nsec);
}

/* One run of one cell: *ns gets nanoseconds per page. */
static int time_run(struct lane *l, enum bench_op op,
		    const struct bench_move_row *row, size_t ps,
		    unsigned char v, double *ns)
{
	size_t bytes = row->pages * ps, step = row->batch * ps;
	struct timespec t0, t1;

	if (prepare(l, bytes, v))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t off = 0; off < bytes; off += step) {
		ssize_t got = call(l, op, off, step);

		if (got != (ssize_t)step)
			return call_failed(op, row->batch, off / ps, got, step);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ns = elapsed_ns(&t0, &t1) / (double)row->pages;
	return verify(l, op, bytes, ps, v);
}

static void set_note(struct bench_move_result *r, enum bench_op op,
		     const char *why)
{
	for (int b = 0; b < BENCH_MOVE_BATCHES; b++)
		snprintf(r->rows[b].op[op].note, sizeof(r->rows[b].op[op].note),
			 "n/a: %s", why);
}

static void init_result(struct bench_move_result *r, unsigned runs,
			size_t pages)
{
	memset(r, 0, sizeof(*r));
	r->runs = runs;
	r->pages = pages;
	r->page_size = (size_t)sysconf(_SC_PAGESIZE);
	for (int b = 0; b < BENCH_MOVE_BATCHES; b++) {
		r->rows[b].batch = batches[b];
		/* Whole calls only: a partial last call would time less. */
		r->rows[b].pages = pages / batches[b] * batches[b];
		r->rows[b].ratio = NAN;
	}
}

/*
 * MOVE and COPY share the default handle (each run empties dst first);
 * the emulated move needs a handle of its own, and a range can be
 * registered with one userfaultfd only, so it gets its own areas too.
 */
static int open_lanes(struct bench_move_result *r, struct lane *def,
		      struct lane *emu, struct lane *lanes[])
{
	size_t len = r->pages * r->page_size;
	int err = lane_open(def, 0, len);

	if (err) {
		fprintf(stderr, "umove: cannot measure: %s\n",
			umove_strerror(err));
		return -1;
	}
	lanes[BENCH_COPY] = def;
	lanes[BENCH_MOVE] = umove_native_move(def->um) ? def : NULL;
	lanes[BENCH_MOVE_EMPTY] = lanes[BENCH_MOVE];
	if (!lanes[BENCH_MOVE]) {
		set_note(r, BENCH_MOVE, cli_emulation_reason(def->um));
		set_note(r, BENCH_MOVE_EMPTY, cli_emulation_reason(def->um));
	}
	err = lane_open(emu, UMOVE_EMULATE, len);
	lanes[BENCH_EMULATED] = err ? NULL : emu;
	if (err)
		set_note(r, BENCH_EMULATED, umove_strerror(err));
	return 0;
}

static double *sample(double *s, unsigned runs, int b, int op, unsigned run)
{
	return &s[((size_t)b * BENCH_OP_COUNT + (size_t)op) * runs + run];
}

/* Never 0 and different from the previous cell's: stale data fails verify(). */
static unsigned char fill_byte(unsigned run, int b, int op)
{
	return (unsigned char)(1 + (run * 31 + (unsigned)(b * 7 + op)) % 255);
}

/* Run by run, every cell in turn, so drift of the VM hits all alike. */
static int measure(struct bench_move_result *r, struct lane *lanes[], double *s)
{
	for (unsigned run = 0; run < r->runs; run++) {
		for (int b = 0; b < BENCH_MOVE_BATCHES; b++) {
			for (int op = 0; op < BENCH_OP_COUNT; op++) {
				if (!lanes[op])
					continue;
				if (time_run(lanes[op], (enum bench_op)op,
					     &r->rows[b], r->page_size,
					     fill_byte(run, b, op),
					     sample(s, r->runs, b, op, run)))
					return -1;
			}
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void summarize_stat(struct bench_stat *st, double *runs, unsigned n)
{
	qsort(runs, n, sizeof(*runs), cmp_double);
	st->ok = true;
	st->min = runs[0];
	st->max = runs[n - 1];
	st->median = n % 2 ? runs[n / 2] : (runs[n / 2 - 1] + runs[n / 2]) / 2;
}

static void summarize(struct bench_move_result *r, struct lane *lanes[],
		      double *s)
{
	for (int b = 0; b < BENCH_MOVE_BATCHES; b++) {
		struct bench_move_row *row = &r->rows[b];

		for (int op = 0; op < BENCH_OP_COUNT; op++)
			if (lanes[op])
				summarize_stat(&row->op[op],
					       sample(s, r->runs, b, op, 0),
					       r->runs);
		if (row->op[BENCH_MOVE].ok && row->op[BENCH_COPY].ok)
			row->ratio = row->op[BENCH_COPY].median /
				     row->op[BENCH_MOVE].median;
	}
}

/*
 * 0 with r filled (cells that cannot be measured here carry a note), or
 * -1 after a message on stderr when nothing can be measured or a call
 * fails.
 */
int bench_move_run(unsigned runs, size_t pages, struct bench_move_result *r)
{
	struct lane def, emu, *lanes[BENCH_OP_COUNT];
	double *s;
	int ret = -1;

	init_result(r, runs, pages);
	if (open_lanes(r, &def, &emu, lanes))
		return -1;
	s = calloc((size_t)BENCH_MOVE_BATCHES * BENCH_OP_COUNT * runs,
		   sizeof(*s));
	if (!s)
		fprintf(stderr, "umove: out of memory\n");
	else
		ret = measure(r, lanes, s);
	if (!ret)
		summarize(r, lanes, s);
	free(s);
	lane_close(&def);
	lane_close(&emu);
	return ret;
}

/* Three significant digits are all a noisy VM gives; keep cells narrow. */
static void format_ns(char *buf, size_t size, double ns)
{
	snprintf(buf, size, ns < 100 ? "%.1f" : "%.0f", ns);
}

static void format_cell(char *buf, size_t size, const struct bench_stat *st)
{
	char med[24], lo[24], hi[24];

	if (!st->ok) {
		snprintf(buf, size, "n/a");
		return;
	}
	format_ns(med, sizeof(med), st->median);
	format_ns(lo, sizeof(lo), st->min);
	format_ns(hi, sizeof(hi), st->max);
	snprintf(buf, size, "%s [%s-%s]", med, lo, hi);
}

static void print_row(const struct bench_move_row *row, FILE *out)
{
	char cell[BENCH_OP_COUNT][80];

	for (int op = 0; op < BENCH_OP_COUNT; op++)
		format_cell(cell[op], sizeof(cell[op]), &row->op[op]);
	fprintf(out, "  %10zu  %-20s %-20s %-20s %-20s ", row->batch,
		cell[BENCH_MOVE], cell[BENCH_MOVE_EMPTY], cell[BENCH_COPY],
		cell[BENCH_EMULATED]);
	if (isfinite(row->ratio))
		fprintf(out, "%.2f\n", row->ratio);
	else
		fputs("n/a\n", out);
}

void bench_move_print(const struct bench_move_result *r, FILE *out)
{
	fprintf(out,
		"ns per %zu-byte page, median [min-max] of %u runs, %zu pages "
		"per run\n",
		r->page_size, r->runs, r->pages);
	fputs("(private anonymous memory, THP off; default flags, so each call "
	      "also wakes; src freshly written before every run)\n",
	      out);
	fprintf(out, "  %10s  %-20s %-20s %-20s %-20s %s\n", "pages/call",
		op_titles[BENCH_MOVE], op_titles[BENCH_MOVE_EMPTY],
		op_titles[BENCH_COPY], op_titles[BENCH_EMULATED], "COPY/MOVE");
	for (int b = 0; b < BENCH_MOVE_BATCHES; b++)
		print_row(&r->rows[b], out);
	/* Notes are the same for every row: say them once, under the table. */
	for (int op = 0; op < BENCH_OP_COUNT; op++)
		if (!r->rows[0].op[op].ok && r->rows[0].op[op].note[0])
			fprintf(out, "  %s: %s\n", op_titles[op],
				r->rows[0].op[op].note);
}

static void json_stat(struct json *j, enum bench_op op,
		      const struct bench_stat *st)
{
	char key[48];

	snprintf(key, sizeof(key), "%s_ns_per_page", op_keys[op]);
	json_num(j, key, st->ok ? st->median : NAN);
	snprintf(key, sizeof(key), "%s_min_ns_per_page", op_keys[op]);
	json_num(j, key, st->ok ? st->min : NAN);
	snprintf(key, sizeof(key), "%s_max_ns_per_page", op_keys[op]);
	json_num(j, key, st->ok ? st->max : NAN);
	snprintf(key, sizeof(key), "%s_note", op_keys[op]);
	json_str(j, key, st->ok || !st->note[0] ? NULL : st->note);
}

static void json_row(const struct bench_move_row *row, unsigned runs,
		     struct json *j)
{
	json_open(j, NULL, '{');
	json_int(j, "batch", (long long)row->batch);
	json_int(j, "pages", (long long)row->pages);
	json_int(j, "runs", runs);
	for (int op = 0; op < BENCH_OP_COUNT; op++)
		json_stat(j, (enum bench_op)op, &row->op[op]);
	json_num(j, "ratio", row->ratio);
	json_close(j, '}');
}

void bench_move_json(const struct bench_move_result *r, struct json *j,
		     const char *key)
{
	json_open(j, key, '{');
	json_int(j, "runs", r->runs);
	json_int(j, "pages", (long long)r->pages);
	json_int(j, "page_size", (long long)r->page_size);
	json_str(j, "unit", "ns per page, median over runs");
	json_str(j, "ratio_definition", "copy_ns_per_page / move_ns_per_page");
	json_str(j, "method",
		 "private anonymous memory, THP off, default flags (wake), "
		 "src freshly written before each run");
	json_open(j, "rows", '[');
	for (int b = 0; b < BENCH_MOVE_BATCHES; b++)
		json_row(&r->rows[b], r->runs, j);
	json_close(j, ']');
	json_close(j, '}');
}

static const char bench_move_usage[] =
	"usage: umove bench move [--runs N] [--pages N] [--json]\n"
	"  --runs N   runs per measurement; the median is reported (default "
	"7)\n"
	"  --pages N  pages moved per run, 512 to 65536 (default 2048)\n"
	"  --json     print one JSON object on stdout\n";

struct bench_move_opts {
	unsigned long runs, pages;
	bool json;
};

/* 0 to run, else the exit status (--help: 0 after usage, 2 on errors). */
static int parse_bench_move(int argc, char **argv, struct bench_move_opts *o,
			    bool *done)
{
	const struct cli_opt opts[] = {
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, BENCH_MOVE_MAX_RUNS},
		{"pages", 0, CLI_OPT_COUNT, &o->pages, BENCH_MOVE_MIN_PAGES,
		 BENCH_MOVE_MAX_PAGES},
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
	};
	const char *cmd = "umove bench move";
	int ret = cli_parse_options(cmd, bench_move_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, bench_move_usage, argc, argv);
}

int cmd_bench_move(int argc, char **argv)
{
	struct bench_move_opts o = {BENCH_MOVE_RUNS, BENCH_MOVE_PAGES, false};
	struct bench_move_result r;
	struct json j;
	bool done = false;
	int ret = parse_bench_move(argc, argv, &o, &done);

	if (ret || done)
		return ret;
	if (bench_move_run((unsigned)o.runs, o.pages, &r))
		return CLI_EXIT_FAIL;
	if (!o.json) {
		bench_move_print(&r, stdout);
		return 0;
	}
	json_init(&j, stdout);
	bench_move_json(&r, &j, NULL);
	json_finish(&j);
	return 0;
}
