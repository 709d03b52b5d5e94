/* SPDX-License-Identifier: MIT */
/*
 * `umove bench evict`: paging under a resident limit. A region of W bytes
 * (the working set) pages a store held in RAM, so that the numbers measure
 * paging and not I/O, under a limit L of W/2 and of W/8. One thread makes
 * a fixed-seed sequence of page accesses (a cyclic scan, uniform random,
 * zipfian with theta 0.99); each access reads one 8-byte word of its page
 * and, for one access in four, writes it, so that evictions write changed
 * pages back. The variants are the two ways of evicting and refilling:
 *
 *   MOVE + recycling: victims are moved (UFFDIO_MOVE) into the handler's
 *   staging pages, the fetch reads into those very pages and the fill
 *   moves them back into the region: no page is allocated or zeroed;
 *
 *   copy-based (UMOVE_EVICT_COPY and UMOVE_FILL_COPY): victims are copied
 *   out and discarded, the fetch reads into fresh pages and the fill
 *   copies them in: what a pager without page moves does;
 *
 * and the two mixed ones, which tell the fill's share from the eviction's.
 * Where a memory controller (cgroup v2, else v1) and swap exist, the kernel
 * does the same under a limit of L, in a child placed in a scratch cgroup:
 * once paging to swap, once through zswap, the kernel's compressed cache in
 * RAM. As root, --kernel-swap makes a swap file for the run.
 *
 * A run maps a fresh region for each variant and limit and first reads
 * its last L pages, untimed, so that the region is full; then it times
 * the three orders one after the other on that region, each starting with
 * the region at its limit: every miss evicts. (The kernel rows map
 * afresh for each order, in a child of its own.) Timed: the accesses
 * only. Each access is timed on its own (one
 * clock read per access, a few tens of ns); given the F misses the handler
 * served (faults_served), the F slowest accesses are the faults, and their
 * median and 99th percentile are the fault latency the thread saw. Each
 * read is checked against a model of every page's word, and after each
 * run the store's copy of every word too (what eviction and unmapping
 * wrote back): a mismatch stops the command with status 1, and so do a
 * signal from an unfilled page and 30 seconds without progress. As in the
 * other benchmarks, the variants take turns run by run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <mntent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umove.h>

#include "bench_common.h"
#include "cli.h"

#define EVICT_MIB 256 /* default working set */
#define EVICT_RUNS 5  /* default number of runs */
#define EVICT_MAX_MIB 16384
#define EVICT_MAX_RUNS 1000
#define EVICT_MAX_OPS (1ul << 26)
#define EVICT_SEED 0x6576696374ull /* "evict": pattern, orders, writes */
#define EVICT_THETA 0.99	   /* of the zipfian order */
#define EVICT_WRITE 0x80000000u	   /* in a sequence entry: write too */
#define EVICT_STALL_S 30 /* no progress for this long: a fault is lost */
#define EVICT_CG_SLACK ((size_t)16 << 20) /* the cgroup's limit above L */
#define EVICT_MAX_SWAP_MIB 65536	  /* --kernel-swap */
#define EVICT_ANY_CPU ULONG_MAX		  /* no --cpu */
#define EVICT_CHUNK ((size_t)1 << 20)	  /* bytes copied per watchdog step */

enum evict_pattern { PAT_SEQ, PAT_RANDOM, PAT_ZIPF, EVICT_PATTERNS };

#define EVICT_FACTORS 2
static const unsigned factors[EVICT_FACTORS] = {2, 8}; /* W / L */

enum evict_variant {
	V_MOVE,	     /* MOVE fill, eviction by move: recycling */
	V_COPY,	     /* COPY fill, eviction by copy-out: fresh pages */
	V_COPY_FILL, /* COPY fill, eviction by move */
	V_MOVE_FILL, /* MOVE fill, eviction by copy-out */
	V_MOVE_RA,
	V_DEFAULT_RA, /* the library's defaults: AUTO fill, move-out, ra 15 */
	V_COPY_RA,
	V_KERNEL, /* the kernel rows come last, in this order */
	V_ZSWAP,
	EVICT_VARIANTS
};

#define KERNEL_ROWS (EVICT_VARIANTS - V_KERNEL)

struct evict_def {
	const char *key;   /* JSON */
	const char *title; /* text table */
	bool kernel;
	int fill;
	unsigned flags; /* umove_region_config_set_flags */
	unsigned readahead;
	bool seq_only; /* read-ahead rows: sequential order only */
	int base;      /* the row that "vs copy" divides by */
};

static const struct evict_def defs[EVICT_VARIANTS] = {
	{"move_recycle", "MOVE + recycling", false, UMOVE_FILL_MOVE, 0, 0,
	 false, V_COPY},
	{"copy", "copy-based", false, UMOVE_FILL_COPY, UMOVE_EVICT_COPY, 0,
	 false, V_COPY},
	{"copy_fill_move_out", "COPY fill, move-out", false, UMOVE_FILL_COPY, 0,
	 0, false, V_COPY},
	{"move_fill_copy_out", "MOVE fill, copy-out", false, UMOVE_FILL_MOVE,
	 UMOVE_EVICT_COPY, 0, false, V_COPY},
	{"move_recycle_ra15", "MOVE + recycling, ra 15", false, UMOVE_FILL_MOVE,
	 0, 15, true, V_COPY_RA},
	{"default_ra15", "defaults (AUTO), ra 15", false, UMOVE_FILL_AUTO, 0,
	 15, true, V_COPY_RA},
	{"copy_ra15", "copy-based, ra 15", false, UMOVE_FILL_COPY,
	 UMOVE_EVICT_COPY, 15, true, V_COPY_RA},
	{"kernel_memory_max_swap", "kernel, limit + swap", true, 0, 0, 0, false,
	 V_COPY},
	{"kernel_memory_max_zswap", "kernel, limit + zswap", true, 0, 0, 0,
	 false, V_COPY},
};

static const char *const pattern_keys[EVICT_PATTERNS] = {"sequential", "random",
							 "zipfian"};
static const char *const pattern_titles[EVICT_PATTERNS] = {
	"sequential (a cyclic scan from page 0)",
	"uniform random (fixed seed)",
	("zipfian, theta 0.99 (ranks scattered over the pages by a fixed "
	 "permutation)"),
};

/* What one run of one cell yields; medians over the runs are reported. */
enum {
	S_RATE,	   /* accesses per second */
	S_P50,	   /* fault latency seen by the thread, ns */
	S_P99,	   /* ditto */
	S_MISSES,  /* faults served (kernel: page faults) */
	S_EVENTS,  /* fault messages read */
	S_FILLED,  /* pages installed, read-ahead included */
	S_EVICTED, /* pages evicted */
	S_WRITES,  /* evicted pages written back */
	S_OVER,	   /* limit_overshoot */
	S_FILL50,  /* the library's fill latency since mapping, ns */
	S_FILL99,
	S_ZSWAP, /* kernel: of the pages evicted, those zswap took */
	S_TLB,	 /* TLB shootdown IPIs received, all CPUs (x86) */
	S_COLS
};

struct evict_cell {
	struct bench_stat rate; /* accesses per second; note when n/a */
	double vs_copy;		/* rate median / its base row's */
	double med[S_COLS];	/* medians over the runs; NAN when unknown */
};

enum cgroup_kind { CG_NONE, CG_V1, CG_V2 };

/*
 * Whether the kernel can be measured here, and what the command changed
 * for it. The signal handlers undo those changes too: the flags say what
 * exists, and are set only once the path they refer to is complete.
 */
struct kernel_env {
	enum cgroup_kind cgroup; /* the memory controller's hierarchy */
	bool swap;		 /* swap was configured before the command */
	bool zswap;		 /* zswap was enabled before the command */
	bool zswap_param;	 /* zswap can be switched on and off */
	bool usable;
	size_t swap_mib;	/* --kernel-swap, else 0 */
	const char *limit_file; /* memory.max or memory.limit_in_bytes */
	pid_t owner;		/* the process that undoes the changes */
	volatile sig_atomic_t cg_made, swapfile_made, swap_on, zswap_changed;
	char mnt[200];	     /* the memory controller's mount, "" if none */
	char cg[256];	     /* the scratch cgroup */
	char swapfile[64];   /* the swap file made for --kernel-swap */
	char compressor[32]; /* zswap's, "" if unknown */
	char why[1024];	     /* why no kernel row is measured */
	char row_why[KERNEL_ROWS][512]; /* why this kernel row is not */
};

struct evict_result {
	unsigned runs;
	size_t size_mib, pages, page_size, ops;
	int native_move; /* 1, 0, or -1 when no umove handle could be opened */
	long cpu;	 /* --cpu, else -1 */
	struct kernel_env kenv;
	struct evict_cell cell[EVICT_VARIANTS][EVICT_PATTERNS][EVICT_FACTORS];
};

/* Everything a run needs, set up once. */
struct evict_ctx {
	size_t ps, words, npages, len, ops;
	uint64_t *mem;		       /* the store's pages */
	uint64_t *model;	       /* per page: the probe word's value */
	uint32_t *seq[EVICT_PATTERNS]; /* page | EVICT_WRITE, ops of them */
	uint32_t *lat;		       /* ns of each timed access */
	struct umove_store *st;
	struct umove_region_config *cfg[EVICT_VARIANTS];
	bool skip[EVICT_VARIANTS];
	struct kernel_env *kenv;
	double *samples; /* [variant][pattern][factor][run][S_COLS] */
};

/*
 * What the watchdog watches. It lives in a shared mapping, so that the
 * kernel variant's child reports its progress too.
 */
struct evict_watch {
	atomic_uint step;
	atomic_size_t op;
	atomic_int variant, pattern, factor; /* of the cell running, or -1 */
	atomic_int child;		     /* the kernel run's pid, or 0 */
};

static struct evict_watch *watch;

static void watch_cell(int v, int pat, int f)
{
	atomic_store(&watch->variant, v);
	atomic_store(&watch->pattern, pat);
	atomic_store(&watch->factor, f);
	atomic_store(&watch->op, 0);
	atomic_fetch_add(&watch->step, 1);
}

static uint64_t next_rand(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t rand_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((next_rand(s) >> 32) * n) >> 32);
}

static double rand01(uint64_t *s)
{
	return (double)(next_rand(s) >> 11) * 0x1.0p-53;
}

static uint64_t mix64(uint64_t z) /* splitmix64's finalizer */
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The store's word w of page i before any write: never 0. */
static uint64_t pattern(const struct evict_ctx *c, size_t i, size_t w)
{
	return mix64(EVICT_SEED + i * c->words + w) | 1;
}

/* The word an access reads (and writes): its place varies by page. */
static size_t probe_word(const struct evict_ctx *c, size_t i)
{
	return (i * 67) & (c->words - 1);
}

/* What a write stores: a new value, never 0. */
static uint64_t next_value(uint64_t v)
{
	return mix64(v + 0x9e3779b97f4a7c15ull) | 1;
}

/* ---- the store: pages in RAM ------------------------------------------- */

static int ram_read(void *priv, uint64_t index, size_t count, void *buf)
{
	const struct evict_ctx *c = priv;

	memcpy(buf, (const char *)c->mem + index * c->ps, count * c->ps);
	return 0;
}

static int ram_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	const struct evict_ctx *c = priv;

	memcpy((char *)c->mem + index * c->ps, buf, count * c->ps);
	return 0;
}

static const struct umove_store_ops ram_ops = {
	.read = ram_read,
	.write = ram_write,
};

/* Every page's probe word back to the pattern, and the model with it. */
static void store_reset(struct evict_ctx *c)
{
	for (size_t i = 0; i < c->npages; i++) {
		size_t w = probe_word(c, i);

		c->model[i] = c->mem[i * c->words + w] = pattern(c, i, w);
	}
}

/* ---- the orders ---------------------------------------------------------- */

/*
 * Zipfian ranks by the method of Gray et al., "Quickly generating
 * billion-record synthetic databases" (SIGMOD 1994): rank 0 is the
 * hottest; zeta(n) is computed once.
 */
struct zipf {
	uint32_t n;
	double theta, alpha, zetan, eta, half;
};

static void zipf_init(struct zipf *z, uint32_t n, double theta)
{
	double zeta2 = 1.0 + pow(0.5, theta);

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (uint32_t i = n; i >= 1; i--) /* smallest terms first */
		z->zetan += 1.0 / pow((double)i, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
	z->half = zeta2;
}

static uint32_t zipf_next(const struct zipf *z, uint64_t *s)
{
	double u = rand01(s), uz = u * z->zetan, r;

	if (uz < 1.0 || z->n < 2)
		return 0;
	if (uz < z->half)
		return 1;
	r = (double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);
	return r >= (double)z->n ? z->n - 1 : (uint32_t)r;
}

static int make_sequences(struct evict_ctx *c)
{
	uint64_t s = EVICT_SEED ^ 0x5eedull, ws = EVICT_SEED ^ 0x77ull;
	uint32_t n = (uint32_t)c->npages, *perm;
	struct zipf z;

	for (int p = 0; p < EVICT_PATTERNS; p++) {
		c->seq[p] = malloc(c->ops * sizeof(uint32_t));
		if (!c->seq[p])
			return -1;
	}
	perm = malloc(c->npages * sizeof(uint32_t));
	if (!perm)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
		uint32_t j = rand_below(&s, i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	zipf_init(&z, n, EVICT_THETA);
	for (size_t k = 0; k < c->ops; k++) {
		uint32_t wr = (next_rand(&ws) >> 62) == 0 ? EVICT_WRITE : 0;

		c->seq[PAT_SEQ][k] = (uint32_t)(k % n) | wr;
		c->seq[PAT_RANDOM][k] = rand_below(&s, n) | wr;
		c->seq[PAT_ZIPF][k] = perm[zipf_next(&z, &s)] | wr;
	}
	free(perm);
	return 0;
}

/* ---- the accesses -------------------------------------------------------- */

/* Where a word did not hold what the model says. */
enum fail_where { FAIL_WARM_UP, FAIL_ACCESS, FAIL_STORE };

struct loop_fail {
	enum fail_where where;
	size_t op, page;
	uint64_t want, got;
};

/* Untimed: read pages [from, npages) once, so that L of them are in. */
static bool warm_up(const struct evict_ctx *c, const unsigned char *base,
		    size_t from, struct loop_fail *f)
{
	for (size_t i = from; i < c->npages; i++) {
		uint64_t got =
			((const volatile uint64_t
				  *)(base + i * c->ps))[probe_word(c, i)];

		atomic_store_explicit(&watch->op, i, memory_order_relaxed);
		if (got != c->model[i]) {
			*f = (struct loop_fail){FAIL_WARM_UP, 0, i, c->model[i],
						got};
			return false;
		}
	}
	return true;
}

/*
 * The timed loop: each access checks the word against the model, writes
 * a new value when its entry says so, and takes its own time. model and
 * lat are the ones of the process running it (the kernel variant runs in
 * a child). Returns the seconds taken, or a negative value on a mismatch.
 */
static double access_loop(const struct evict_ctx *c, unsigned char *base,
			  const uint32_t *seq, uint64_t *model, uint32_t *lat,
			  struct loop_fail *f)
{
	uint64_t t0 = now_ns(), t = t0;

	for (size_t k = 0; k < c->ops; k++) {
		uint32_t e = seq[k];
		size_t i = e & ~EVICT_WRITE;
		volatile uint64_t *w = (volatile uint64_t *)(base + i * c->ps) +
				       probe_word(c, i);
		uint64_t got = *w, now;

		if (got != model[i]) {
			*f = (struct loop_fail){FAIL_ACCESS, k, i, model[i],
						got};
			return -1;
		}
		if (e & EVICT_WRITE) {
			model[i] = next_value(got);
			*w = model[i];
		}
		atomic_store_explicit(&watch->op, k, memory_order_relaxed);
		now = now_ns();
		lat[k] =
			now - t > UINT32_MAX ? UINT32_MAX : (uint32_t)(now - t);
		t = now;
	}
	return (double)(t - t0) / 1e9;
}

static void report_mismatch(const char *title, int pat, unsigned fct,
			    unsigned run, const struct loop_fail *f)
{
	char what[64];

	if (f->where == FAIL_STORE)
		snprintf(what, sizeof(what),
			 "after unmapping, the store holds");
	else if (f->where == FAIL_WARM_UP)
		snprintf(what, sizeof(what), "the warm-up read");
	else
		snprintf(what, sizeof(what), "access %zu read", f->op + 1);
	fprintf(stderr,
		"umove bench evict: %s, %s, W = %u x L, run %u: %s 0x%016llx "
		"in page %zu, expected 0x%016llx: %s\n",
		title, pat >= 0 ? pattern_keys[pat] : "all orders", fct,
		run + 1, what, (unsigned long long)f->got, f->page,
		(unsigned long long)f->want,
		f->where == FAIL_STORE ? "a write-back lost or misplaced data"
				       : "a fill or an eviction lost data");
}

/* ---- umove regions --------------------------------------------------------
 */

static double *sample(const struct evict_ctx *c, unsigned runs, int v, int pat,
		      int f, unsigned run)
{
	size_t cell =
		((size_t)v * EVICT_PATTERNS + (size_t)pat) * EVICT_FACTORS +
		(size_t)f;

	return &c->samples[(cell * runs + run) * S_COLS];
}

static int region_stats(struct umove_region *r, const char *title,
			struct umove_stats *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	err = umove_region_stats(r, s);
	if (err)
		fprintf(stderr,
			"umove bench evict: %s: umove_region_stats: %s\n",
			title, umove_strerror(err));
	return err;
}

/* The store holds what the model says, once the region is unmapped. */
static bool store_matches(const struct evict_ctx *c, struct loop_fail *f)
{
	for (size_t i = 0; i < c->npages; i++) {
		uint64_t got = c->mem[i * c->words + probe_word(c, i)];

		if (got != c->model[i]) {
			*f = (struct loop_fail){FAIL_STORE, 0, i, c->model[i],
						got};
			return false;
		}
	}
	return true;
}

static void take_deltas(const struct umove_stats *s0,
			const struct umove_stats *s1, double *out)
{
	out[S_MISSES] = (double)(s1->faults_served - s0->faults_served);
	out[S_EVENTS] = (double)(s1->fault_events - s0->fault_events);
	out[S_FILLED] = (double)(s1->pages_filled - s0->pages_filled);
	out[S_EVICTED] = (double)(s1->pages_evicted - s0->pages_evicted);
	out[S_WRITES] = (double)(s1->evict_writes - s0->evict_writes);
	out[S_OVER] = (double)(s1->limit_overshoot - s0->limit_overshoot);
	out[S_FILL50] = (double)s1->fill_ns_p50;
	out[S_FILL99] = (double)s1->fill_ns_p99;
}

/* Read-ahead rows run the scan only. */
static bool runs_here(const struct evict_ctx *c, int v, int pat)
{
	return !c->skip[v] && (!defs[v].seq_only || pat == PAT_SEQ);
}

/* One order's timed accesses on a full region, and the counters around. */
static int timed_order(struct evict_ctx *c, struct umove_region *r, int v,
		       int pat, int fi, unsigned run, double *out)
{
	const char *title = defs[v].title;
	unsigned char *base = umove_region_addr(r);
	struct umove_stats s0, s1;
	struct loop_fail f;
	double secs, tlb0;

	if (region_stats(r, title, &s0))
		return -1;
	tlb0 = cli_tlb_shootdowns();
	secs = access_loop(c, base, c->seq[pat], c->model, c->lat, &f);
	out[S_TLB] = cli_tlb_shootdowns() - tlb0;
	if (secs < 0) {
		report_mismatch(title, pat, factors[fi], run, &f);
		return -1;
	}
	atomic_fetch_add(&watch->step, 1);
	if (region_stats(r, title, &s1))
		return -1;
	out[S_RATE] = (double)c->ops / secs;
	take_deltas(&s0, &s1, out);
	cli_fault_quantiles(c->lat, c->ops, s1.faults_served - s0.faults_served,
			    &out[S_P50], &out[S_P99]);
	return 0;
}

/* The warm-up, then each order in turn: each starts with the region full. */
static int timed_region(struct evict_ctx *c, const struct evict_result *res,
			struct umove_region *r, int v, int fi, unsigned run)
{
	size_t limit = c->npages / factors[fi];
	struct loop_fail f;

	watch_cell(v, PAT_SEQ, fi);
	if (!warm_up(c, umove_region_addr(r), c->npages - limit, &f)) {
		report_mismatch(defs[v].title, PAT_SEQ, factors[fi], run, &f);
		return -1;
	}
	for (int pat = 0; pat < EVICT_PATTERNS; pat++) {
		if (!runs_here(c, v, pat))
			continue;
		watch_cell(v, pat, fi);
		if (timed_order(c, r, v, pat, fi, run,
				sample(c, res->runs, v, pat, fi, run)))
			return -1;
	}
	return 0;
}

/*
 * One run of a umove variant under one limit: a fresh region, all orders,
 * then the store checked against the model once unmapped.
 */
static int run_umove(struct evict_ctx *c, const struct evict_result *res, int v,
		     int fi, unsigned run)
{
	const char *title = defs[v].title;
	size_t limit = c->npages / factors[fi];
	struct umove_region *r;
	struct loop_fail f;
	int err;

	store_reset(c);
	err = umove_region_config_set_limit(c->cfg[v], limit * c->ps);
	if (!err)
		err = umove_map(&r, c->st, 0, c->len, c->cfg[v]);
	if (err) {
		fprintf(stderr, "umove bench evict: %s: umove_map: %s\n", title,
			umove_strerror(err));
		return -1;
	}
	if (timed_region(c, res, r, v, fi, run)) {
		umove_unmap_discard(r);
		return -1;
	}
	err = umove_unmap(r); /* writes back: the watchdog still watches */
	if (err) {
		fprintf(stderr, "umove bench evict: %s: umove_unmap: %s\n",
			title, umove_strerror(err));
		return -1;
	}
	if (!store_matches(c, &f)) {
		report_mismatch(title, -1, factors[fi], run, &f);
		return -1;
	}
	return 0;
}

/* ---- the kernel under a cgroup's limit ---------------------------------- */

#define ZSWAP_ENABLED "/sys/module/zswap/parameters/enabled"
#define ZSWAP_COMPRESSOR "/sys/module/zswap/parameters/compressor"
#define SWAP_DIR "/var/tmp" /* on disk: swapon refuses a file on tmpfs */

/* Whose changes the signal handlers and the watchdog undo. */
static struct kernel_env *_Atomic live_kenv;

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

/* Whether the small file at path holds word as a whole token. */
static bool file_has_word(const char *path, const char *word)
{
	char buf[1024], *save = NULL;
	FILE *fp = fopen(path, "re");
	size_t n;

	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (char *t = strtok_r(buf, " \t\n", &save); t;
	     t = strtok_r(NULL, " \t\n", &save))
		if (!strcmp(t, word))
			return true;
	return false;
}

/* The first line of the small file at path, without its newline. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "re");

	buf[0] = '\0';
	if (!fp)
		return;
	if (!fgets(buf, (int)size, fp))
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
}

/* Lines of /proc/swaps after its header: active swap areas. */
static bool have_swap(void)
{
	FILE *fp = fopen("/proc/swaps", "re");
	char line[512];
	int lines = 0;

	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp))
		lines++;
	fclose(fp);
	return lines > 1;
}

static void add_why(struct kernel_env *k, const char *why)
{
	size_t len = strlen(k->why);

	snprintf(k->why + len, sizeof(k->why) - len, "%s%s", len ? "; " : "",
		 why);
}

/* The memory controller's hierarchy: cgroup v2 where it has it, else v1. */
static void find_memory_cgroup(struct kernel_env *k)
{
	FILE *mounts = setmntent("/proc/self/mounts", "re");
	char v1[sizeof(k->mnt)] = "", v2[sizeof(k->mnt)] = "",
	     path[sizeof(k->mnt) + 32];
	struct mntent *m;

	while (mounts && (m = getmntent(mounts))) {
		if (!strcmp(m->mnt_type, "cgroup2") && !v2[0])
			snprintf(v2, sizeof(v2), "%s", m->mnt_dir);
		else if (!strcmp(m->mnt_type, "cgroup") &&
			 hasmntopt(m, "memory") && !v1[0])
			snprintf(v1, sizeof(v1), "%s", m->mnt_dir);
	}
	if (mounts)
		endmntent(mounts);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
	if (v2[0] && file_has_word(path, "memory"))
		k->cgroup = CG_V2;
	else if (v1[0])
		k->cgroup = CG_V1;
	else
		add_why(k, v2[0] ? "no memory controller (none in cgroup v2, "
				   "and no cgroup v1 memory hierarchy)"
				 : "no cgroup hierarchy with the memory "
				   "controller is mounted");
	memcpy(k->mnt, k->cgroup == CG_V2 ? v2 : v1, sizeof(k->mnt));
}

/* What the kernel rows need; what stops them all goes to k->why. */
static void kernel_detect(struct kernel_env *k, size_t swap_mib)
{
	memset(k, 0, sizeof(*k));
	k->swap_mib = swap_mib;
	find_memory_cgroup(k);
	k->swap = have_swap();
	if (swap_mib && geteuid() != 0)
		add_why(k, "--kernel-swap needs root");
	else if (!k->swap && !swap_mib)
		add_why(k, "no swap configured (a limit without swap would "
			   "OOM-kill; as root, --kernel-swap MiB makes a swap "
			   "file)");
	k->zswap = file_has_word(ZSWAP_ENABLED, "Y");
	k->zswap_param = access(ZSWAP_ENABLED, W_OK) == 0;
	read_line(ZSWAP_COMPRESSOR, k->compressor, sizeof(k->compressor));
	if (!k->zswap_param)
		snprintf(k->row_why[V_ZSWAP - V_KERNEL], sizeof(k->row_why[0]),
			 "cannot switch zswap on: no writable %s",
			 ZSWAP_ENABLED);
}

/* The scratch cgroup under the hierarchy's root, and its limit file. */
static int cgroup_make(struct kernel_env *k, const char *limit_file)
{
	char path[320], why[600];
	int err;

	snprintf(k->cg, sizeof(k->cg), "%s/umove-bench-evict-%ld", k->mnt,
		 (long)getpid());
	if (mkdir(k->cg, 0755)) {
		err = errno;
		snprintf(why, sizeof(why), "cannot create the cgroup %s: %s%s",
			 k->cg, strerror(err),
			 err == EACCES || err == EPERM ? " (run as root)" : "");
		add_why(k, why);
		return -1;
	}
	k->cg_made = 1;
	k->limit_file = limit_file;
	snprintf(path, sizeof(path), "%s/%s", k->cg, limit_file);
	if (access(path, W_OK)) {
		snprintf(why, sizeof(why), "no writable %s: %s", path,
			 strerror(errno));
		add_why(k, why);
		return -1;
	}
	return 0;
}

/* The root may hold processes and still delegate the controller. */
static int cgroup2_setup(struct kernel_env *k)
{
	char path[320], why[600];
	int err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", k->mnt);
	if (!file_has_word(path, "memory"))
		err = write_file(path, "+memory");
	if (err) {
		snprintf(why, sizeof(why),
			 "cannot enable the memory controller in %s: %s", path,
			 strerror(-err));
		add_why(k, why);
		return -1;
	}
	return cgroup_make(k, "memory.max");
}

/*
 * A v1 group swaps as eagerly as its own memory.swappiness says, which it
 * inherits from its parent (and that may be 0). memory.memsw.limit_in_bytes
 * stays unlimited, so that swap takes whatever the limit pushes out.
 */
static int cgroup1_setup(struct kernel_env *k)
{
	char path[320], why[600];
	int err;

	if (cgroup_make(k, "memory.limit_in_bytes"))
		return -1;
	snprintf(path, sizeof(path), "%s/memory.swappiness", k->cg);
	if (access(path, F_OK))
		return 0;
	err = write_file(path, "60");
	if (err) {
		snprintf(why, sizeof(why), "writing %s: %s", path,
			 strerror(-err));
		add_why(k, why);
		return -1;
	}
	return 0;
}

/* Zeros, not fallocate: swapon refuses holes, and unwritten extents too. */
static int swapfile_fill(int fd, size_t bytes)
{
	static const char zeros[1 << 16];

	while (bytes) {
		ssize_t n =
			write(fd, zeros,
			      bytes < sizeof(zeros) ? bytes : sizeof(zeros));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		bytes -= (size_t)n;
	}
	return fsync(fd) ? -errno : 0;
}

/* Mode 0600: the file will hold other processes' memory. */
static int swapfile_create(struct kernel_env *k)
{
	int fd, err;

	snprintf(k->swapfile, sizeof(k->swapfile),
		 SWAP_DIR "/umove-bench-evict-%ld.swap", (long)getpid());
	fd = open(k->swapfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	k->swapfile_made = 1;
	err = swapfile_fill(fd, k->swap_mib << 20);
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* The swap area's format is util-linux's business: mkswap(8) writes it. */
static int run_mkswap(struct kernel_env *k, char *why, size_t size)
{
	char arg0[] = "mkswap", quiet[] = "-q";
	char *argv[] = {arg0, quiet, k->swapfile, NULL};
	int status, err;
	pid_t pid;

	err = posix_spawnp(&pid, arg0, NULL, NULL, argv, environ);
	if (err == ENOENT) /* a PATH without the sbin directories */
		err = posix_spawn(&pid, "/sbin/mkswap", NULL, NULL, argv,
				  environ);
	if (err) {
		snprintf(why, size, "cannot run mkswap: %s", strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(why, size, "waiting for mkswap: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		snprintf(why, size, "mkswap was killed by signal %d",
			 WTERMSIG(status));
	else
		snprintf(why, size, "mkswap exited with status %d",
			 WEXITSTATUS(status));
	return -1;
}

/*
 * The swap file of --kernel-swap, at the highest priority: the kernel rows
 * page to it, not to a slower swap area configured already.
 */
static int swap_setup(struct kernel_env *k)
{
	char why[600], step[200];
	int err = swapfile_create(k);

	if (err) {
		snprintf(step, sizeof(step), "writing it: %s", strerror(-err));
	} else if (run_mkswap(k, step, sizeof(step))) {
		err = -1;
	} else if (swapon(k->swapfile,
			  SWAP_FLAG_PREFER | SWAP_FLAG_PRIO_MASK)) {
		err = -errno;
		snprintf(step, sizeof(step), "swapon: %s%s", strerror(-err),
			 err == -EINVAL ? " (" SWAP_DIR " must be on a file "
					  "system that takes swap files)"
					: "");
	} else {
		k->swap_on = 1;
	}
	if (!err)
		return 0;
	snprintf(why, sizeof(why), "cannot make the swap file %s: %s",
		 k->swapfile, step);
	add_why(k, why);
	return -1;
}

/*
 * k->usable once the scratch cgroup and any swap file exist. Whatever was
 * made, even on a failure, is kernel_teardown's to undo.
 */
static void kernel_setup(struct kernel_env *k)
{
	k->owner = getpid();
	live_kenv = k;
	if (k->why[0])
		return;
	if (k->cgroup == CG_V2 ? cgroup2_setup(k) : cgroup1_setup(k))
		return;
	if (k->swap_mib && swap_setup(k))
		return;
	k->usable = true;
}

/* zswap is global: each kernel row sets it; the teardown restores it. */
static int zswap_switch(struct kernel_env *k, bool on)
{
	if (file_has_word(ZSWAP_ENABLED, "Y") == on)
		return 0;
	k->zswap_changed = 1; /* first: a signal during the write restores */
	return write_file(ZSWAP_ENABLED, on ? "Y" : "N");
}

/*
 * The undo steps, 0 or -errno. They run in signal handlers too: system
 * calls only.
 */
static int undo_cgroup(struct kernel_env *k)
{
	struct timespec ms = {0, 10 * 1000 * 1000};

	if (!k->cg_made)
		return 0;
	/* The cgroup empties once its last process is reaped: retry briefly. */
	for (int i = 0; rmdir(k->cg) && errno != ENOENT; i++) {
		if (errno != EBUSY || i == 100)
			return -errno;
		nanosleep(&ms, NULL);
	}
	k->cg_made = 0;
	return 0;
}

static int undo_zswap(struct kernel_env *k)
{
	int err;

	if (!k->zswap_changed)
		return 0;
	err = write_file(ZSWAP_ENABLED, k->zswap ? "Y" : "N");
	if (!err)
		k->zswap_changed = 0;
	return err;
}

/* swapoff first: an active swap file, once unlinked, has no name left. */
static int undo_swap(struct kernel_env *k)
{
	if (k->swap_on) {
		if (swapoff(k->swapfile))
			return -errno;
		k->swap_on = 0;
	}
	if (k->swapfile_made) {
		if (unlink(k->swapfile) && errno != ENOENT)
			return -errno;
		k->swapfile_made = 0;
	}
	return 0;
}

/* A kernel row's child, killed and reaped so that its cgroup empties. */
static void kill_kernel_child(void)
{
	pid_t child = watch ? atomic_load(&watch->child) : 0;

	if (child > 0 && !kill(child, SIGKILL))
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
}

/* Every change undone; what could not be is said, to be undone by hand. */
static int kernel_teardown(struct kernel_env *k)
{
	int err, ret = 0;

	err = undo_cgroup(k);
	if (err) {
		fprintf(stderr,
			"umove bench evict: cannot remove the cgroup %s: %s\n",
			k->cg, strerror(-err));
		ret = -1;
	}
	err = undo_zswap(k);
	if (err) {
		fprintf(stderr,
			"umove bench evict: cannot restore %s to %c: %s\n",
			ZSWAP_ENABLED, k->zswap ? 'Y' : 'N', strerror(-err));
		ret = -1;
	}
	err = undo_swap(k);
	if (err) {
		fprintf(stderr,
			"umove bench evict: cannot %s the swap file %s: %s\n",
			k->swap_on ? "swapoff" : "remove", k->swapfile,
			strerror(-err));
		ret = -1;
	}
	live_kenv = NULL;
	return ret;
}

/*
 * From a signal handler: the undo steps, silently. Only in the process
 * that made the changes: the kernel rows' children inherit the handlers.
 */
static void kernel_emergency(void)
{
	struct kernel_env *k = live_kenv;
	int saved = errno;

	if (k && getpid() == k->owner) {
		kill_kernel_child();
		(void)undo_cgroup(k);
		(void)undo_zswap(k);
		(void)undo_swap(k);
	}
	errno = saved;
}

/* The limit's excess over L: what the child allocates besides the region. */
static size_t kernel_slack(size_t pages, size_t ops)
{
	return EVICT_CG_SLACK + pages * sizeof(uint64_t) +
	       ops * sizeof(uint32_t);
}

/* What the child reports through its pipe. */
struct kernel_out {
	int status; /* 0 done, 1 mismatch, 2 setup failed */
	int err;    /* errno of the failed step */
	char step[32];
	double secs, p50, p99;
	double swapouts, zswapouts; /* during the timed accesses */
	double tlb;		    /* TLB shootdowns, ditto */
	uint64_t faults;
	struct loop_fail f;
};

static uint64_t self_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

static void put_pid(char *buf, size_t size, long pid)
{
	char tmp[24];
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) && n < sizeof(tmp));
	while (n && i + 1 < size)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

/*
 * A counter of /proc/vmstat, NAN where this kernel has none; by system
 * calls, for the child. System-wide: other processes' swapping counts too.
 */
static double vmstat_count(const char *name)
{
	char buf[16384];
	size_t len = strlen(name), got = 0;
	int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	const char *p = buf;
	ssize_t n;

	if (fd < 0)
		return NAN;
	while (got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	while (p) {
		if (!strncmp(p, name, len) && p[len] == ' ') {
			double v = 0;

			for (p += len + 1; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			return v;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NAN;
}

static void child_failed(struct kernel_out *o, const char *step, int err)
{
	o->status = 2;
	o->err = err;
	strncpy(o->step, step, sizeof(o->step) - 1);
}

/*
 * Join the cgroup, then copy the store into a private anonymous mapping:
 * the pages over L go to swap as they are written.
 */
static unsigned char *child_region(const struct evict_ctx *c,
				   struct kernel_out *o)
{
	char path[320], pid[24];
	unsigned char *base;
	int err;

	snprintf(path, sizeof(path), "%s/cgroup.procs", c->kenv->cg);
	put_pid(pid, sizeof(pid), (long)getpid());
	err = write_file(path, pid);
	if (err) {
		child_failed(o, "joining the cgroup", -err);
		return NULL;
	}
	base = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		child_failed(o, "mmap", errno);
		return NULL;
	}
	/* Base pages, as the region has: a huge page is swapped whole. */
	madvise(base, c->len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < c->len; off += EVICT_CHUNK) {
		size_t n =
			c->len - off < EVICT_CHUNK ? c->len - off : EVICT_CHUNK;

		memcpy(base + off, (const char *)c->mem + off, n);
		atomic_fetch_add(&watch->step,
				 1); /* swapping out may be slow */
	}
	return base;
}

/*
 * In the child: the region, the last L pages read, then the timed loop.
 * No stdio, no malloc: the parent has other threads.
 */
static void kernel_child(const struct evict_ctx *c, int pat, size_t limit,
			 struct kernel_out *o)
{
	unsigned char *base = child_region(c, o);
	double sw0, z0;
	uint64_t f0;

	if (!base)
		return;
	if (!warm_up(c, base, c->npages - limit, &o->f)) {
		o->status = 1;
		return;
	}
	/* The parent's model and latencies, copied on write before the clock.
	 */
	memset(c->lat, 0, c->ops * sizeof(*c->lat));
	for (size_t i = 0; i < c->npages; i += c->words)
		((volatile uint64_t *)c->model)[i] = c->model[i];
	atomic_fetch_add(&watch->step, 1);
	sw0 = vmstat_count("pswpout");
	z0 = vmstat_count("zswpout");
	f0 = self_faults();
	o->tlb = cli_tlb_shootdowns();
	o->secs = access_loop(c, base, c->seq[pat], c->model, c->lat, &o->f);
	o->tlb = cli_tlb_shootdowns() - o->tlb;
	if (o->secs < 0) {
		o->status = 1;
		return;
	}
	o->faults = self_faults() - f0;
	o->swapouts = vmstat_count("pswpout") - sw0;
	o->zswapouts = vmstat_count("zswpout") - z0;
	cli_fault_quantiles(c->lat, c->ops, o->faults, &o->p50, &o->p99);
}

static void skip_kernel(struct evict_ctx *c, struct evict_result *r, int v,
			const char *why)
{
	c->skip[v] = true;
	snprintf(r->kenv.row_why[v - V_KERNEL], sizeof(r->kenv.row_why[0]),
		 "%s", why);
}

/* The cgroup's limit for L: 0, or 1 when the row cannot run. */
static int kernel_limit(struct evict_ctx *c, struct evict_result *r, int v,
			size_t limit)
{
	char path[320], val[32], why[400];
	int err;

	snprintf(path, sizeof(path), "%s/%s", c->kenv->cg, c->kenv->limit_file);
	snprintf(val, sizeof(val), "%zu",
		 limit * c->ps + kernel_slack(c->npages, c->ops));
	err = write_file(path, val);
	if (!err)
		return 0;
	snprintf(why, sizeof(why), "writing %s: %s", path, strerror(-err));
	skip_kernel(c, r, v, why);
	return 1;
}

/* The child's report, then its status; false if the report is short. */
static bool child_wait(pid_t pid, int fd, struct kernel_out *o, int *status)
{
	size_t got = 0;

	while (got < sizeof(*o)) {
		ssize_t n = read(fd, (char *)o + got, sizeof(*o) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	atomic_store(&watch->child, 0);
	return got == sizeof(*o);
}

static void child_death(int status, char *why, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(why, size, "the child was killed by signal %d%s",
			 WTERMSIG(status),
			 WTERMSIG(status) == SIGKILL ? " (the OOM killer?)"
						     : "");
	else
		snprintf(why, size, "the child exited with status %d",
			 WEXITSTATUS(status));
}

static void kernel_sample(const struct evict_ctx *c, const struct kernel_out *o,
			  double *out)
{
	for (int k = 0; k < S_COLS; k++)
		out[k] = NAN;
	out[S_RATE] = (double)c->ops / o->secs;
	out[S_MISSES] = (double)o->faults;
	out[S_P50] = o->p50;
	out[S_P99] = o->p99;
	out[S_EVICTED] =
		o->swapouts + (isfinite(o->zswapouts) ? o->zswapouts : 0);
	out[S_ZSWAP] = o->zswapouts;
	out[S_TLB] = o->tlb;
}

/* 0 measured, 1 the kernel row failed (it is dropped), -1 stop. */
static int run_kernel(struct evict_ctx *c, struct evict_result *r, int v,
		      int pat, int fi, unsigned run, double *out)
{
	size_t limit = c->npages / factors[fi];
	struct kernel_out o = {0};
	int fds[2], status = 0;
	char why[400];
	pid_t pid;

	if (kernel_limit(c, r, v, limit))
		return 1;
	store_reset(c);
	if (pipe2(fds, O_CLOEXEC)) {
		perror("umove bench evict: pipe");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("umove bench evict: fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		kernel_child(c, pat, limit, &o);
		if (write(fds[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
			_exit(3);
		_exit(0);
	}
	atomic_store(&watch->child, pid);
	close(fds[1]);
	if (!child_wait(pid, fds[0], &o, &status)) {
		child_death(status, why, sizeof(why));
		skip_kernel(c, r, v, why);
		return 1;
	}
	if (o.status == 1) {
		report_mismatch(defs[v].title, pat, factors[fi], run, &o.f);
		return -1;
	}
	if (o.status) {
		snprintf(why, sizeof(why), "%s: %s", o.step, strerror(o.err));
		skip_kernel(c, r, v, why);
		return 1;
	}
	kernel_sample(c, &o, out);
	return 0;
}

/* One kernel row under one limit: zswap set for it, a child per order. */
static int run_kernel_row(struct evict_ctx *c, struct evict_result *r, int v,
			  int f, unsigned run)
{
	bool on = v == V_ZSWAP;
	int err = zswap_switch(c->kenv, on);
	char why[96];

	if (err) {
		snprintf(why, sizeof(why), "cannot switch zswap %s: %s",
			 on ? "on" : "off", strerror(-err));
		skip_kernel(c, r, v, why);
		return 1;
	}
	for (int pat = 0; pat < EVICT_PATTERNS && !err; pat++) {
		watch_cell(v, pat, f);
		err = run_kernel(c, r, v, pat, f, run,
				 sample(c, r->runs, v, pat, f, run));
	}
	/* zswap is global: the system's own setting between the rows. */
	(void)undo_zswap(c->kenv); /* the teardown retries and reports */
	return err;
}

/* ---- the runs ------------------------------------------------------------ */

static int measure(struct evict_ctx *c, struct evict_result *r)
{
	for (unsigned run = 0; run < r->runs; run++) {
		for (int f = 0; f < EVICT_FACTORS; f++) {
			for (int v = 0; v < EVICT_VARIANTS; v++) {
				int err;

				if (c->skip[v])
					continue;
				err = defs[v].kernel
					      ? run_kernel_row(c, r, v, f, run)
					      : run_umove(c, r, v, f, run);
				watch_cell(-1, -1, -1);
				if (err < 0)
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

/* The median of one column over the runs; NAN if any run lacks it. */
static double median_of(const struct evict_ctx *c, unsigned runs, int v,
			int pat, int f, int col, double *tmp, double *lo,
			double *hi)
{
	for (unsigned run = 0; run < runs; run++) {
		tmp[run] = sample(c, runs, v, pat, f, run)[col];
		if (!isfinite(tmp[run]))
			return NAN;
	}
	qsort(tmp, runs, sizeof(*tmp), cmp_double);
	if (lo)
		*lo = tmp[0];
	if (hi)
		*hi = tmp[runs - 1];
	return runs % 2 ? tmp[runs / 2]
			: (tmp[runs / 2 - 1] + tmp[runs / 2]) / 2;
}

static int summarize(const struct evict_ctx *c, struct evict_result *r)
{
	double *tmp = calloc(r->runs, sizeof(double));

	if (!tmp)
		return -1;
	for (int v = 0; v < EVICT_VARIANTS; v++) {
		for (int pat = 0; pat < EVICT_PATTERNS; pat++) {
			for (int f = 0; f < EVICT_FACTORS; f++) {
				struct evict_cell *cell = &r->cell[v][pat][f];

				if (!runs_here(c, v, pat))
					continue;
				cell->rate.ok = true;
				for (int k = 0; k < S_COLS; k++)
					cell->med[k] = median_of(
						c, r->runs, v, pat, f, k, tmp,
						k == S_RATE ? &cell->rate.min
							    : NULL,
						k == S_RATE ? &cell->rate.max
							    : NULL);
				cell->rate.median = cell->med[S_RATE];
			}
		}
	}
	free(tmp);
	for (int v = 0; v < EVICT_VARIANTS; v++)
		for (int pat = 0; pat < EVICT_PATTERNS; pat++)
			for (int f = 0; f < EVICT_FACTORS; f++) {
				struct evict_cell
					*cell = &r->cell[v][pat][f],
					*base = &r->cell[defs[v].base][pat][f];

				if (cell->rate.ok && base->rate.ok)
					cell->vs_copy = cell->rate.median /
							base->rate.median;
			}
	return 0;
}

static void skip_variant(struct evict_ctx *c, struct evict_result *r, int v,
			 const char *why)
{
	c->skip[v] = true;
	for (int pat = 0; pat < EVICT_PATTERNS; pat++)
		for (int f = 0; f < EVICT_FACTORS; f++)
			snprintf(r->cell[v][pat][f].rate.note,
				 sizeof(r->cell[v][pat][f].rate.note),
				 "n/a: %s", why);
}

static void skip_umove(struct evict_ctx *c, struct evict_result *r,
		       const char *why)
{
	for (int v = 0; v < EVICT_VARIANTS; v++)
		if (!defs[v].kernel)
			skip_variant(c, r, v, why);
}

/*
 * Which variants can run here: a trial map of the store tells. Without
 * UFFDIO_MOVE moves are emulated and every eviction is a copy-out; only a
 * kernel that cannot write-protect anonymous memory (before 5.7) refuses a
 * limit (EOPNOTSUPP).
 */
static int check_variants(struct evict_ctx *c, struct evict_result *r)
{
	struct umove_region *reg;
	struct umove *um;
	char why[96];
	int err = umove_open(&um, 0);

	if (err) {
		skip_umove(c, r, umove_strerror(err));
		return 0;
	}
	r->native_move = umove_native_move(um);
	umove_close(um);
	err = umove_store_open(&c->st, &ram_ops, sizeof(ram_ops), c, c->npages);
	if (err) {
		fprintf(stderr, "umove bench evict: umove_store_open: %s\n",
			umove_strerror(err));
		return -1;
	}
	for (int v = 0; v < EVICT_VARIANTS && !err; v++) {
		if (defs[v].kernel)
			continue;
		err = umove_region_config_new(&c->cfg[v]);
		if (!err)
			err = umove_region_config_set_fill(c->cfg[v],
							   defs[v].fill);
		if (!err)
			err = umove_region_config_set_flags(c->cfg[v],
							    defs[v].flags);
		if (!err)
			err = umove_region_config_set_readahead(
				c->cfg[v], defs[v].readahead);
		if (!err)
			err = umove_region_config_set_threads(c->cfg[v], 1);
		if (!err)
			err = umove_region_config_set_limit(
				c->cfg[v], c->len / factors[0]);
	}
	if (err) {
		fprintf(stderr, "umove bench evict: region config: %s\n",
			umove_strerror(err));
		return -1;
	}
	err = umove_map(&reg, c->st, 0, c->len, c->cfg[V_MOVE]);
	if (!err)
		return umove_unmap_discard(reg) ? -1 : 0;
	if (err != -EOPNOTSUPP) {
		fprintf(stderr, "umove bench evict: umove_map: %s\n",
			umove_strerror(err));
		return -1;
	}
	snprintf(why, sizeof(why), "umove_map with a resident limit: %s",
		 strerror(-err));
	skip_umove(c, r, why);
	return 0;
}

/* ---- the watchdog ------------------------------------------------------ */

/* The watchdog's report: which cell hangs, then the end of the command. */
static void watchdog_fire(void *arg, int v, size_t op)
{
	const struct evict_ctx *c = arg;
	int pat = atomic_load(&watch->pattern), f = atomic_load(&watch->factor);

	fprintf(stderr,
		"umove bench evict: %s, %s, W = %u x L: no progress for %d "
		"s at access %zu of %zu: a fault was never served (or "
		"unmapping hangs)\n",
		defs[v].title, pattern_keys[pat], factors[f], EVICT_STALL_S, op,
		c->ops);
	kill_kernel_child();
	if (live_kenv)
		kernel_teardown(live_kenv);
	_exit(CLI_EXIT_FAIL);
}

/* ---- setup --------------------------------------------------------------- */

static int ctx_init(struct evict_ctx *c)
{
	c->mem = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		return -1;
	}
	c->model = malloc(c->npages * sizeof(*c->model));
	c->lat = malloc(c->ops * sizeof(*c->lat));
	if (!c->model || !c->lat || make_sequences(c))
		return -1;
	for (size_t i = 0; i < c->npages; i++)
		for (size_t w = 0; w < c->words; w++)
			c->mem[i * c->words + w] = pattern(c, i, w);
	return 0;
}

static void ctx_free(struct evict_ctx *c)
{
	for (int v = 0; v < EVICT_VARIANTS; v++)
		umove_region_config_free(c->cfg[v]);
	if (c->st)
		umove_store_close(c->st);
	for (int p = 0; p < EVICT_PATTERNS; p++)
		free(c->seq[p]);
	if (c->mem)
		munmap(c->mem, c->len);
	free(c->model);
	free(c->lat);
	free(c->samples);
}

static int bench_evict_run(unsigned runs, size_t size_mib, size_t ops,
			   size_t swap_mib, struct evict_result *r)
{
	struct sigaction old_fault[CLI_FAULT_SIGNALS],
		old_stop[CLI_STOP_SIGNALS];
	struct evict_ctx c = {.ops = ops};
	struct cli_watchdog w;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->runs = runs;
	r->size_mib = size_mib;
	r->native_move = -1;
	r->page_size = c.ps = (size_t)sysconf(_SC_PAGESIZE);
	c.words = c.ps / sizeof(uint64_t);
	c.len = size_mib << 20;
	r->pages = c.npages = c.len / c.ps;
	if (!c.ops) /* half of W: the default run stays within ~3 minutes */
		c.ops = c.npages / 2 ? c.npages / 2 : 1;
	r->ops = c.ops;
	c.kenv = &r->kenv;
	for (int v = 0; v < EVICT_VARIANTS; v++)
		for (int p = 0; p < EVICT_PATTERNS; p++)
			for (int f = 0; f < EVICT_FACTORS; f++) {
				r->cell[v][p][f].vs_copy = NAN;
				for (int k = 0; k < S_COLS; k++)
					r->cell[v][p][f].med[k] = NAN;
			}
	watch = mmap(NULL, sizeof(*watch), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (watch == MAP_FAILED) {
		watch = NULL;
		fprintf(stderr, "umove bench evict: out of memory\n");
		return -1;
	}
	atomic_store(&watch->variant, -1);
	c.samples = calloc((size_t)EVICT_VARIANTS * EVICT_PATTERNS *
				   EVICT_FACTORS * runs * S_COLS,
			   sizeof(double));
	if (!c.samples || ctx_init(&c)) {
		fprintf(stderr, "umove bench evict: out of memory (the store "
				"holds the working set)\n");
		goto out;
	}
	if (check_variants(&c, r))
		goto out;
	kernel_detect(&r->kenv, swap_mib);
	cli_catch_stop_signals(old_stop, kernel_emergency);
	kernel_setup(&r->kenv);
	for (int v = V_KERNEL; v < EVICT_VARIANTS; v++)
		c.skip[v] = !r->kenv.usable || r->kenv.row_why[v - V_KERNEL][0];
	cli_catch_fault_signals(old_fault, "umove bench evict", NULL,
				kernel_emergency);
	cli_watchdog_start(&w, EVICT_STALL_S, &watch->step, &watch->op,
			   &watch->variant, watchdog_fire, &c);
	ret = measure(&c, r);
	cli_watchdog_stop(&w);
	cli_restore_fault_signals(old_fault);
	if (kernel_teardown(&r->kenv))
		ret = -1;
	cli_restore_stop_signals(old_stop);
	/* A kernel row that failed part way is skipped: not summarized. */
	if (!ret && summarize(&c, r)) {
		fprintf(stderr, "umove bench evict: out of memory\n");
		ret = -1;
	}
out:
	ctx_free(&c);
	munmap(watch, sizeof(*watch));
	watch = NULL;
	return ret;
}

/* ---- output ------------------------------------------------------------- */

/* Thousands of accesses per second, about three significant digits. */
static void format_rate(char *buf, size_t size, double per_s)
{
	double k = per_s / 1e3;

	snprintf(buf, size, k < 100 ? "%.1f" : "%.0f", k);
}

static void format_us(char *buf, size_t size, double ns)
{
	double us = ns / 1e3;

	if (!isfinite(us))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, us < 100 ? "%.1f" : "%.0f", us);
}

static const char *fill_name(int fill)
{
	return fill == UMOVE_FILL_MOVE	 ? "move"
	       : fill == UMOVE_FILL_COPY ? "copy"
					 : "auto";
}

static void print_row(const struct evict_result *r, int v, int pat, int f,
		      FILE *out)
{
	const struct evict_cell *cell = &r->cell[v][pat][f];
	const struct bench_stat *st = &cell->rate;
	char rate[80], med[24], lo[24], hi[24], vs[16], miss[16], ev[16],
		lat[48], p50[16], p99[16], tlb[16];
	double ops = (double)r->ops;

	if (!st->ok) {
		fprintf(out, "  %-26s %-5s %-6s n/a\n", defs[v].title, "-",
			"-");
		return;
	}
	format_rate(med, sizeof(med), st->median);
	format_rate(lo, sizeof(lo), st->min);
	format_rate(hi, sizeof(hi), st->max);
	snprintf(rate, sizeof(rate), "%s [%s-%s]", med, lo, hi);
	if (isfinite(cell->vs_copy))
		snprintf(vs, sizeof(vs), "%.2f", cell->vs_copy);
	else
		snprintf(vs, sizeof(vs), "n/a");
	snprintf(miss, sizeof(miss), "%.3f", cell->med[S_MISSES] / ops);
	if (isfinite(cell->med[S_EVICTED]))
		snprintf(ev, sizeof(ev), "%.3f", cell->med[S_EVICTED] / ops);
	else
		snprintf(ev, sizeof(ev), "-");
	format_us(p50, sizeof(p50), cell->med[S_P50]);
	format_us(p99, sizeof(p99), cell->med[S_P99]);
	snprintf(lat, sizeof(lat), "%s/%s", p50, p99);
	if (isfinite(cell->med[S_TLB]))
		snprintf(tlb, sizeof(tlb), "%.2f", cell->med[S_TLB] / ops);
	else
		snprintf(tlb, sizeof(tlb), "-");
	fprintf(out, "  %-26s %-5s %-6s %-22s %-8s %-11s %-10s %-17s %s\n",
		defs[v].title, defs[v].kernel ? "-" : fill_name(defs[v].fill),
		defs[v].kernel			   ? "-"
		: defs[v].flags & UMOVE_EVICT_COPY ? "copy"
						   : "move",
		rate, vs, miss, ev, lat, tlb);
}

/* MOVE + recycling against copy-based over all cells: the goal. */
static void print_summary(const struct evict_result *r, FILE *out)
{
	double lo = INFINITY, hi = -INFINITY;

	for (int pat = 0; pat < EVICT_PATTERNS; pat++)
		for (int f = 0; f < EVICT_FACTORS; f++) {
			double x = r->cell[V_MOVE][pat][f].vs_copy;

			if (isfinite(x)) {
				lo = x < lo ? x : lo;
				hi = x > hi ? x : hi;
			}
		}
	if (isfinite(lo))
		fprintf(out,
			"MOVE + recycling / copy-based, read-ahead 0: %.2f to "
			"%.2f over the %d cells (goal: 1.5 or more)\n",
			lo, hi, EVICT_PATTERNS * EVICT_FACTORS);
}

/* Why rows are n/a: once for all umove rows when they share the reason. */
static void print_notes(const struct evict_result *r, FILE *out)
{
	const char *first = r->cell[V_MOVE][0][0].rate.note;
	bool same = first[0] != '\0';

	for (int v = 0; v < EVICT_VARIANTS; v++)
		if (!defs[v].kernel &&
		    strcmp(r->cell[v][0][0].rate.note, first))
			same = false;
	if (same) {
		fprintf(out, "  umove rows: %s\n", first);
		return;
	}
	for (int v = 0; v < EVICT_VARIANTS; v++) {
		const struct bench_stat *st = &r->cell[v][0][0].rate;

		if (!defs[v].kernel && !st->ok && st->note[0])
			fprintf(out, "  %s: %s\n", defs[v].title, st->note);
	}
}

/* Why kernel row v was not measured: what stops them all comes first. */
static const char *kernel_why(const struct kernel_env *k, int v)
{
	return k->why[0] ? k->why : k->row_why[v - V_KERNEL];
}

/* Of the zswap row's swap-outs, the share zswap took: it may refuse pages. */
static double zswap_share(const struct evict_result *r)
{
	double stored = 0, swapped = 0;

	for (int pat = 0; pat < EVICT_PATTERNS; pat++)
		for (int f = 0; f < EVICT_FACTORS; f++) {
			stored += r->cell[V_ZSWAP][pat][f].med[S_ZSWAP];
			swapped += r->cell[V_ZSWAP][pat][f].med[S_EVICTED];
		}
	return swapped > 0 ? stored / swapped : NAN;
}

/* What the kernel rows ran under: the rest of the system shares it. */
static void print_kernel_setting(const struct evict_result *r, FILE *out)
{
	const struct kernel_env *k = &r->kenv;
	char swap[64];

	if (k->swap_mib)
		snprintf(swap, sizeof(swap), "a %zu MiB swap file made for it",
			 k->swap_mib);
	else
		snprintf(swap, sizeof(swap), "the swap configured");
	fprintf(out,
		"kernel rows: a child per order in a scratch cgroup %s with "
		"%s = L + %zu MiB, paging to %s; zswap off for the swap row, "
		"on for the zswap row (compressor %s), then %s again; "
		"evict/acc: swap-outs (pswpout + zswpout of /proc/vmstat, "
		"system-wide) per access\n",
		k->cgroup == CG_V2 ? "v2" : "v1", k->limit_file,
		kernel_slack(r->pages, r->ops) >> 20, swap,
		k->compressor[0] ? k->compressor : "unknown",
		k->zswap ? "on" : "off");
	if (r->cell[V_ZSWAP][0][0].rate.ok && isfinite(zswap_share(r)))
		fprintf(out, "zswap took %.0f%% of the zswap row's swap-outs\n",
			100 * zswap_share(r));
}

/* The kernel rows' setting, or why they are missing. */
static void print_kernel_notes(const struct evict_result *r, FILE *out)
{
	bool any = false;

	if (r->kenv.why[0]) {
		fprintf(out, "kernel rows: not measured: %s\n", r->kenv.why);
		return;
	}
	for (int v = V_KERNEL; v < EVICT_VARIANTS; v++) {
		if (r->cell[v][0][0].rate.ok)
			any = true;
		else
			fprintf(out, "%s: not measured: %s\n", defs[v].title,
				kernel_why(&r->kenv, v));
	}
	if (any)
		print_kernel_setting(r, out);
}

static void bench_evict_print(const struct evict_result *r, FILE *out)
{
	bool over = false;

	fprintf(out,
		"thousands of accesses per second, median [min-max] of %u "
		"runs; working set W = %zu MiB (%zu pages of %zu bytes) in a "
		"RAM store, resident limit L = W/2 and W/8; a run maps a "
		"fresh region per variant and limit, reads its last L pages "
		"(untimed), then times %zu accesses of each order in turn on "
		"it, from one thread, each reading one 8-byte word and "
		"writing it in 1 of 4 (the region stays full: every miss "
		"evicts)\n",
		r->runs, r->size_mib, r->pages, r->page_size, r->ops);
	fputs("(umove rows: 1 handler thread, read-ahead 0 unless named; vs "
	      "copy: median / the copy-based row's with the same read-ahead; "
	      "misses/acc: faults served per access; evict/acc: pages evicted "
	      "per access; fault p50/p99: in us, the reading thread's time "
	      "for its slowest accesses, as many as there were misses, "
	      "median over the runs; IPI/acc: TLB shootdown interrupts "
	      "received per access, all CPUs, from /proc/interrupts, - where "
	      "there is no such line)\n",
	      out);
	if (r->cpu >= 0)
		fprintf(out,
			"(--cpu %ld: every thread of the command on CPU %ld "
			"only, handlers and kernel children included)\n",
			r->cpu, r->cpu);
	for (int pat = 0; pat < EVICT_PATTERNS; pat++) {
		for (int f = 0; f < EVICT_FACTORS; f++) {
			fprintf(out,
				"%s, W = %u x L (L = %.4g MiB, %zu pages)\n",
				pattern_titles[pat], factors[f],
				(double)r->size_mib / factors[f],
				r->pages / factors[f]);
			fprintf(out,
				"  %-26s %-5s %-6s %-22s %-8s %-11s %-10s "
				"%-17s %s\n",
				"variant", "fill", "evict", "k acc/s",
				"vs copy", "misses/acc", "evict/acc",
				"fault p50/p99 us", "IPI/acc");
			for (int v = 0; v < EVICT_VARIANTS; v++) {
				if (defs[v].seq_only && pat != PAT_SEQ)
					continue;
				if (defs[v].kernel &&
				    !r->cell[v][pat][f].rate.ok)
					continue;
				print_row(r, v, pat, f, out);
				if (r->cell[v][pat][f].med[S_OVER] > 0)
					over = true;
			}
		}
	}
	print_notes(r, out);
	if (over)
		fputs("note: some runs went over the limit (limit_overshoot "
		      "in --json)\n",
		      out);
	print_summary(r, out);
	print_kernel_notes(r, out);
}

static void json_per_op(struct json *j, const char *key, double v, size_t ops)
{
	json_num(j, key, v / (double)ops);
}

static void json_row(const struct evict_result *r, int v, int pat, int f,
		     struct json *j)
{
	const struct evict_cell *cell = &r->cell[v][pat][f];
	const struct bench_stat *st = &cell->rate;
	bool um = !defs[v].kernel;

	json_open(j, NULL, '{');
	json_str(j, "variant", defs[v].key);
	json_str(j, "pattern", pattern_keys[pat]);
	json_int(j, "working_set_per_limit", factors[f]);
	json_int(j, "limit_pages", (long long)(r->pages / factors[f]));
	json_str(j, "fill", um ? fill_name(defs[v].fill) : NULL);
	json_str(j, "evict",
		 um ? (defs[v].flags & UMOVE_EVICT_COPY ? "copy" : "move")
		    : NULL);
	if (um)
		json_int(j, "readahead", defs[v].readahead);
	else
		json_null(j, "readahead");
	json_num(j, "accesses_per_s", st->ok ? st->median : NAN);
	json_num(j, "min_accesses_per_s", st->ok ? st->min : NAN);
	json_num(j, "max_accesses_per_s", st->ok ? st->max : NAN);
	json_num(j, "vs_copy", cell->vs_copy);
	json_num(j, "misses", cell->med[S_MISSES]);
	json_per_op(j, "misses_per_access", cell->med[S_MISSES], r->ops);
	json_num(j, "fault_events", cell->med[S_EVENTS]);
	json_num(j, "pages_filled", cell->med[S_FILLED]);
	json_num(j, "pages_evicted", cell->med[S_EVICTED]);
	json_per_op(j, "evictions_per_access", cell->med[S_EVICTED], r->ops);
	json_num(j, "evict_writes", cell->med[S_WRITES]);
	json_num(j, "limit_overshoot", cell->med[S_OVER]);
	json_num(j, "fault_us_p50", cell->med[S_P50] / 1e3);
	json_num(j, "fault_us_p99", cell->med[S_P99] / 1e3);
	json_num(j, "handler_fill_us_p50", cell->med[S_FILL50] / 1e3);
	json_num(j, "handler_fill_us_p99", cell->med[S_FILL99] / 1e3);
	json_per_op(j, "tlb_shootdowns_per_access", cell->med[S_TLB], r->ops);
	if (um)
		json_null(j, "zswap_stores");
	else
		json_num(j, "zswap_stores", cell->med[S_ZSWAP]);
	if (!um && !st->ok)
		json_str(j, "note", kernel_why(&r->kenv, v));
	else
		json_str(j, "note", st->ok || !st->note[0] ? NULL : st->note);
	json_close(j, '}');
}

/* What the kernel rows ran under; "zswap": enabled when the command began. */
static void json_kernel(const struct evict_result *r, struct json *j)
{
	static const char *const kinds[] = {NULL, "v1", "v2"};
	const struct kernel_env *k = &r->kenv;
	bool swap_ok = r->cell[V_KERNEL][0][0].rate.ok,
	     zswap_ok = r->cell[V_ZSWAP][0][0].rate.ok;

	json_open(j, "kernel", '{');
	json_bool(j, "measured", swap_ok);
	json_bool(j, "zswap_measured", zswap_ok);
	json_bool(j, "cgroup2_memory", k->cgroup == CG_V2);
	json_str(j, "cgroup_memory", kinds[k->cgroup]);
	json_str(j, "limit_file", k->limit_file);
	json_bool(j, "swap", k->swap);
	if (k->swap_mib)
		json_int(j, "swap_file_mib", (long long)k->swap_mib);
	else
		json_null(j, "swap_file_mib");
	json_bool(j, "zswap", k->zswap);
	json_str(j, "zswap_compressor",
		 k->compressor[0] ? k->compressor : NULL);
	json_str(j, "not_measured_because",
		 swap_ok ? NULL : kernel_why(k, V_KERNEL));
	json_str(j, "zswap_not_measured_because",
		 zswap_ok ? NULL : kernel_why(k, V_ZSWAP));
	json_close(j, '}');
}

static void bench_evict_json(const struct evict_result *r, struct json *j)
{
	json_open(j, NULL, '{');
	json_int(j, "size_mib", (long long)r->size_mib);
	json_int(j, "pages", (long long)r->pages);
	json_int(j, "page_size", (long long)r->page_size);
	json_int(j, "accesses", (long long)r->ops);
	json_int(j, "runs", r->runs);
	if (r->cpu < 0)
		json_null(j, "cpu");
	else
		json_int(j, "cpu", r->cpu);
	if (r->native_move < 0)
		json_null(j, "native_move");
	else
		json_bool(j, "native_move", r->native_move);
	json_str(j, "unit", "accesses per second, median over runs");
	json_str(j, "vs_copy_definition",
		 "accesses_per_s / the copy-based row's with the same "
		 "read-ahead, same pattern and limit");
	json_str(j, "counters_definition",
		 "medians over the runs of the timed accesses' deltas of "
		 "umove_region_stats (misses: faults_served; kernel: the "
		 "child's page faults; kernel pages_evicted: pswpout + "
		 "zswpout of /proc/vmstat, system-wide, and zswap_stores: "
		 "zswpout)");
	json_str(j, "latency_definition",
		 "fault_us: the reading thread's time for its slowest "
		 "accesses, as many as misses, p50/p99, median over the "
		 "runs; handler_fill_us: the library's fill_ns since mapping: "
		 "the warm-up and the orders timed before in the same region "
		 "included");
	json_str(j, "method",
		 "a RAM store; a run maps a fresh region per variant and "
		 "limit, reads its last L pages untimed, then times the "
		 "accesses of each order's fixed-seed sequence in turn from "
		 "one thread: one 8-byte word read per access, written in 1 "
		 "of 4, all checked; the kernel maps afresh per order; "
		 "variants take turns run by run");
	json_kernel(r, j);
	json_open(j, "rows", '[');
	for (int pat = 0; pat < EVICT_PATTERNS; pat++)
		for (int f = 0; f < EVICT_FACTORS; f++)
			for (int v = 0; v < EVICT_VARIANTS; v++)
				if (!defs[v].seq_only || pat == PAT_SEQ)
					json_row(r, v, pat, f, j);
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- command line ------------------------------------------------------- */

static const char bench_evict_usage[] =
	"usage: umove bench evict [--size MiB] [--ops N] [--runs N] "
	"[--kernel-swap MiB] [--cpu N] [--json]\n"
	"  --size MiB  the working set W, paged under limits of W/2 and W/8, "
	"1 to 16384 (default 256)\n"
	"  --ops N     timed accesses per run, 1 to 67108864 (default: "
	"half of W's pages)\n"
	"  --runs N    runs per measurement; the median is reported "
	"(default 5)\n"
	"  --kernel-swap MiB  as root, a swap file of MiB in " SWAP_DIR
	" for the kernel rows, 1 to 65536, removed at the end (default: the "
	"swap configured)\n"
	"  --cpu N     run every thread (handlers, kernel children) on CPU N "
	"only: no cross-CPU wake-ups or TLB shootdowns\n"
	"  --json      print one JSON object on stdout\n";

struct bench_evict_opts {
	unsigned long runs, size, ops, swap_mib;
	unsigned long cpu; /* EVICT_ANY_CPU unless --cpu */
	bool json;
};

/* 0 to run, else the exit status (--help: 0 after usage, 2 on errors). */
static int parse_bench_evict(int argc, char **argv, struct bench_evict_opts *o,
			     bool *done)
{
	const struct cli_opt opts[] = {
		{"size", 0, CLI_OPT_COUNT, &o->size, 1, EVICT_MAX_MIB},
		{"ops", 0, CLI_OPT_COUNT, &o->ops, 1, EVICT_MAX_OPS},
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, EVICT_MAX_RUNS},
		{"kernel-swap", 0, CLI_OPT_COUNT, &o->swap_mib, 1,
		 EVICT_MAX_SWAP_MIB},
		{"cpu", 0, CLI_OPT_COUNT, &o->cpu, 0, CPU_SETSIZE - 1},
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
	};
	const char *cmd = "umove bench evict";
	int ret = cli_parse_options(cmd, bench_evict_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, bench_evict_usage, argc, argv);
}

int cmd_bench_evict(int argc, char **argv)
{
	struct bench_evict_opts o = {
		.runs = EVICT_RUNS, .size = EVICT_MIB, .cpu = EVICT_ANY_CPU};
	struct evict_result r;
	struct json j;
	bool done = false;
	int ret = parse_bench_evict(argc, argv, &o, &done);

	if (ret || done)
		return ret;
	if (o.cpu != EVICT_ANY_CPU) {
		int e = cli_pin_cpu(o.cpu);

		if (e) {
			fprintf(stderr,
				"umove bench evict: --cpu %lu: not a CPU this "
				"process may run on (sched_setaffinity: %s)\n",
				o.cpu, strerror(e));
			return CLI_EXIT_USAGE;
		}
	}
	if (bench_evict_run((unsigned)o.runs, o.size, o.ops, o.swap_mib, &r))
		return CLI_EXIT_FAIL;
	r.cpu = o.cpu != EVICT_ANY_CPU ? (long)o.cpu : -1;
	if (!o.json) {
		bench_evict_print(&r, stdout);
		return 0;
	}
	json_init(&j, stdout);
	bench_evict_json(&r, &j);
	json_finish(&j);
	return 0;
}
