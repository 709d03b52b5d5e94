/* SPDX-License-Identifier: MIT */
/*
 * `umove bench fault`: pages per second of reading a file once, one byte
 * per page from one thread, in sequential and in random page order, served
 * by the kernel (mmap of the file), by a minimal hand-written userfaultfd
 * loop (the floor for user-space paging), and by umove regions in several
 * configurations.
 *
 * The file is a temporary one under /tmp holding a pseudo-random pattern;
 * it is unlinked as soon as it is created and reached through
 * /proc/self/fd afterwards, so that it never outlives the command, however
 * the command ends. Every run maps afresh, so every page faults once.
 *
 * Timed: only the loop that reads the pages. Not timed: mapping (the
 * region's handler threads start then), unmapping, dropping the page cache
 * (--cold), and the check that the bytes read, summed weighted by page
 * index, are the pattern's: a fill that delivers wrong data or zeros stops
 * the command with status 1 instead of printing fast numbers. A page that
 * cannot be filled raises SIGBUS (or SIGSEGV), and a fault that is never
 * served stops all progress, which a watchdog notices after FAULT_STALL_S:
 * both also end the command with status 1 and a message. As in `bench
 * move`, the variants take turns run by run, so that the drift of a noisy
 * VM hits them alike.
 *
 * umove regions page from umove_store_file() opened read-only (unmapping
 * writes nothing back) and buffered, so that all variants read through the
 * same page cache and the page cache state (warm or --cold) means the same
 * for all of them. The store's default, O_DIRECT, would bypass a warm cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <umove.h>

#include "bench_common.h"
#include "cli.h"

#define FAULT_STORE_FLAGS (UMOVE_STORE_RDONLY | UMOVE_STORE_BUFFERED)
#define FAULT_SEED 0x756d6f7665ull    /* "umove": the pattern and the order */
#define FAULT_CHUNK ((size_t)1 << 20) /* bytes written or read per call */
#define FAULT_STALL_S 30 /* no progress for this long: a fault is lost */
#define BENCH_FAULT_MAX_READERS 64

enum fault_kind { KIND_MMAP, KIND_RAW, KIND_UMOVE };

enum fault_variant {
	V_MMAP,
	V_RAW,
	V_MOVE,
	V_COPY,
	V_MOVE_RA,
	V_COPY_RA,
	V_AUTO1,
	V_AUTO2,
	V_AUTO4,
	FAULT_VARIANTS
};

enum fault_order { ORDER_SEQ, ORDER_RANDOM, FAULT_ORDERS };

struct fault_def {
	const char *key;   /* JSON */
	const char *title; /* text table */
	enum fault_kind kind;
	int fill; /* umove rows: the configured fill */
	unsigned readahead, threads;
};

static const struct fault_def defs[FAULT_VARIANTS] = {
	{"mmap", "kernel mmap", KIND_MMAP, 0, 0, 0},
	{"raw_uffd", "raw userfaultfd loop", KIND_RAW, 0, 0, 1},
	{"umove_move_ra0_t1", "umove MOVE, ra 0, 1 thr", KIND_UMOVE,
	 UMOVE_FILL_MOVE, 0, 1},
	{"umove_copy_ra0_t1", "umove COPY, ra 0, 1 thr", KIND_UMOVE,
	 UMOVE_FILL_COPY, 0, 1},
	{"umove_move_ra15_t1", "umove MOVE, ra 15, 1 thr", KIND_UMOVE,
	 UMOVE_FILL_MOVE, 15, 1},
	{"umove_copy_ra15_t1", "umove COPY, ra 15, 1 thr", KIND_UMOVE,
	 UMOVE_FILL_COPY, 15, 1},
	{"umove_auto_ra15_t1", "umove AUTO, ra 15, 1 thr", KIND_UMOVE,
	 UMOVE_FILL_AUTO, 15, 1},
	{"umove_auto_ra15_t2", "umove AUTO, ra 15, 2 thr", KIND_UMOVE,
	 UMOVE_FILL_AUTO, 15, 2},
	{"umove_auto_ra15_t4", "umove AUTO, ra 15, 4 thr", KIND_UMOVE,
	 UMOVE_FILL_AUTO, 15, 4},
};

static const char *const order_keys[FAULT_ORDERS] = {"sequential", "random"};
static const char *const order_titles[FAULT_ORDERS] = {
	"sequential order", "random order (a fixed-seed permutation)"};
static const char *const fill_keys[] = {"auto", "move", "copy"};

struct fault_cell {
	struct bench_stat rate; /* pages per second; note when not measured */
	double ratio;		/* rate median / kernel mmap's, same order */
	uint64_t faults;	/* page faults of the reader, last run */
	bool have_stats;	/* umove rows: last holds the last run's */
	struct umove_stats last;
};

struct fault_result {
	unsigned runs, readers;
	size_t size_mib, pages, page_size;
	bool cold;
	int native_move; /* 1, 0, or -1 when no umove handle could be opened */
	struct fault_cell cell[FAULT_VARIANTS][FAULT_ORDERS];
};

/* Everything a run needs, set up once. */
struct fault_ctx {
	int fd; /* the unlinked temp file, O_RDWR */
	char path[64];
	size_t ps, npages, len;
	uint32_t *order[FAULT_ORDERS]; /* page indices in reading order */
	uint64_t expect;	       /* what touch() must return */
	bool cold;
	unsigned readers; /* threads reading the mapping, 1 or more */
	bool skip[FAULT_VARIANTS];
	struct umove_store *st;
	struct umove_region_config *cfg[FAULT_VARIANTS];
	double *samples; /* [variant][order][run], pages per second */
};

static uint64_t next_rand(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* The byte read in page i: its offset varies, so a half-filled page or a
 * page landing elsewhere changes the sum. */
static size_t touch_off(size_t i, size_t ps)
{
	return (i * 67) & (ps - 1);
}

/*
 * What the watchdog watches: a lost fault hangs the reader (or, in a
 * livelock, has it fault again and again), which must end the command
 * with a message, not wait forever. step changes at every stage of a cell,
 * page at every page read; neither changing for FAULT_STALL_S is a hang.
 */
static struct {
	atomic_uint step;
	atomic_size_t page;
	atomic_int variant, order; /* of the cell running, or -1 */
} watch = {0, 0, -1, -1};

static void watch_cell(int v, int o)
{
	atomic_store(&watch.variant, v);
	atomic_store(&watch.order, o);
	atomic_store(&watch.page, 0);
	atomic_fetch_add(&watch.step, 1);
}

/*
 * The timed loop: the sum keeps the loads, the weights keep the order.
 * The relaxed store for the watchdog is a plain store on common machines.
 */
static uint64_t touch(const unsigned char *base, const uint32_t *order,
		      size_t n, size_t ps)
{
	uint64_t sum = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];

		atomic_store_explicit(&watch.page, k, memory_order_relaxed);
		sum += (uint64_t)base[i * ps + touch_off(i, ps)] * (i + 1);
	}
	return sum;
}

/* What one run of the timed loop took: seconds, and the reader's faults. */
struct fault_timing {
	double s;
	uint64_t faults;
};

static uint64_t thread_faults(void)
{
	struct rusage ru;

	/* A fault served through a userfaultfd counts as major (retried). */
	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/*
 * One reader's share of the order: reader k of N reads the k-th N-th of it
 * (a contiguous stretch of the sequence, or of the permutation).
 */
struct touch_job {
	const unsigned char *base;
	const uint32_t *order;
	size_t n, ps;
	pthread_barrier_t *start;
	uint64_t sum, faults;
};

static void touch_job_run(struct touch_job *j)
{
	uint64_t f0 = thread_faults();

	pthread_barrier_wait(j->start);
	j->sum = touch(j->base, j->order, j->n, j->ps);
	j->faults = thread_faults() - f0;
}

static void *touch_job_main(void *arg)
{
	touch_job_run(arg);
	return NULL;
}

/*
 * The timed part of every variant: from the moment all readers are ready
 * to the moment the last one is done. The readers after the first are
 * started before the clock, and their start-up is not timed.
 */
static uint64_t timed_touch(const struct fault_ctx *c,
			    const unsigned char *base, const uint32_t *order,
			    struct fault_timing *t)
{
	struct touch_job job[BENCH_FAULT_MAX_READERS];
	pthread_t tid[BENCH_FAULT_MAX_READERS];
	unsigned n = c->readers, started = 1;
	pthread_barrier_t start;
	struct timespec t0, t1;
	uint64_t sum = 0;

	pthread_barrier_init(&start, NULL, n);
	for (unsigned k = 0; k < n; k++) {
		size_t from = c->npages * k / n, to = c->npages * (k + 1) / n;

		job[k] = (struct touch_job){.base = base,
					    .order = order + from,
					    .n = to - from,
					    .ps = c->ps,
					    .start = &start};
	}
	for (; started < n; started++)
		if (pthread_create(&tid[started], NULL, touch_job_main,
				   &job[started]))
			break;
	if (started < n) { /* the barrier would never open */
		fprintf(stderr, "umove bench fault: cannot start reader "
				"threads\n");
		exit(CLI_EXIT_FAIL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	touch_job_run(&job[0]);
	for (unsigned k = 1; k < n; k++)
		pthread_join(tid[k], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_barrier_destroy(&start);
	atomic_fetch_add(&watch.step, 1); /* unmapping may hang too */
	t->faults = 0;
	for (unsigned k = 0; k < n; k++) {
		sum += job[k].sum;
		t->faults += job[k].faults;
	}
	t->s = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return sum;
}

/* ---- the temp file ---------------------------------------------------- */

static int write_all(int fd, const unsigned char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Fills the file with the pattern and computes the expected sum. */
static int write_pattern(struct fault_ctx *c)
{
	uint64_t s = FAULT_SEED;
	unsigned char *buf = malloc(FAULT_CHUNK);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	c->expect = 0;
	for (size_t off = 0; off < c->len && !err; off += FAULT_CHUNK) {
		size_t n =
			c->len - off < FAULT_CHUNK ? c->len - off : FAULT_CHUNK;

		for (size_t b = 0; b < n; b += 8) {
			uint64_t v = next_rand(&s);

			memcpy(buf + b, &v, 8);
		}
		for (size_t p = 0; p < n / c->ps; p++) {
			size_t i = off / c->ps + p;

			c->expect +=
				(uint64_t)buf[p * c->ps + touch_off(i, c->ps)] *
				(i + 1);
		}
		err = write_all(c->fd, buf, n, (off_t)off);
	}
	free(buf);
	if (!err && fsync(c->fd))
		err = -errno;
	/*
	 * Out of the page cache again, so that warm means "read once", like a
	 * file a program has read: what a write leaves in the cache can be in
	 * larger folios than a read makes, and mmap faults map whole folios.
	 */
	if (!err)
		err = -posix_fadvise(c->fd, 0, 0, POSIX_FADV_DONTNEED);
	return err;
}

/* Warm: the whole file is in the page cache before the first run. */
static int read_once(const struct fault_ctx *c)
{
	unsigned char *buf = malloc(FAULT_CHUNK);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t off = 0; off < c->len && !err;) {
		ssize_t n = pread(c->fd, buf, FAULT_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? -errno : -EIO;
		else
			off += (size_t)n;
	}
	free(buf);
	return err;
}

/*
 * A unique file under /tmp, unlinked at once: from then on only the fd
 * (and /proc/self/fd/N, for umove_store_file) reaches it.
 */
static int create_file(struct fault_ctx *c)
{
	char name[] = "/tmp/umove-bench-fault-XXXXXX";
	int err;

	c->fd = mkostemp(name, O_CLOEXEC);
	if (c->fd < 0) {
		fprintf(stderr, "umove bench fault: cannot create %s: %s\n",
			name, strerror(errno));
		return -1;
	}
	unlink(name);
	snprintf(c->path, sizeof(c->path), "/proc/self/fd/%d", c->fd);
	err = write_pattern(c);
	if (!err && !c->cold)
		err = read_once(c);
	if (err) {
		fprintf(stderr,
			"umove bench fault: cannot prepare the %zu MiB temp "
			"file in /tmp: %s\n",
			c->len >> 20, strerror(-err));
		return -1;
	}
	return 0;
}

static int make_orders(struct fault_ctx *c)
{
	uint64_t s = FAULT_SEED ^ 0x5eedull;

	for (int o = 0; o < FAULT_ORDERS; o++) {
		c->order[o] = malloc(c->npages * sizeof(uint32_t));
		if (!c->order[o])
			return -1;
		for (size_t i = 0; i < c->npages; i++)
			c->order[o][i] = (uint32_t)i;
	}
	for (size_t i = c->npages - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = (size_t)(next_rand(&s) % (i + 1));
		uint32_t t = c->order[ORDER_RANDOM][i];

		c->order[ORDER_RANDOM][i] = c->order[ORDER_RANDOM][j];
		c->order[ORDER_RANDOM][j] = t;
	}
	return 0;
}

/* The clean page cache: what --cold drops before each run. */
static int drop_caches(void)
{
	return cli_drop_caches("1");
}

/* ---- 1. the kernel's paging --------------------------------------------- */

static int run_mmap(struct fault_ctx *c, const uint32_t *order,
		    struct fault_timing *t, uint64_t *sum)
{
	unsigned char *p = mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, c->fd, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "umove bench fault: mmap of the file: %s\n",
			strerror(errno));
		return -1;
	}
	*sum = timed_touch(c, p, order, t);
	munmap(p, c->len);
	return 0;
}

/* ---- 2. a minimal userfaultfd loop, raw syscalls only ------------------- */

/*
 * One handler thread: read a fault (blocking), pread the page from the file
 * into a buffer, UFFDIO_COPY it (which wakes the reader). One page past the
 * end is registered too: the reader touches it when done, and the handler
 * stops there. The handler closes the userfaultfd whenever it stops, which
 * releases any waiting fault (as a zero page: a failure shows in the sum).
 */
struct raw_loop {
	int uffd, fd;
	unsigned char *base; /* len bytes, then the stop page */
	size_t len, ps;
	void *buf;
	int err; /* errno of the failed step, 0 */
	const char *step;
};

static int raw_open(int *uffd)
{
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	int fd = -1;

#ifdef SYS_userfaultfd
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
#ifdef UFFD_USER_MODE_ONLY
	/* Unprivileged (vm.unprivileged_userfaultfd=0): the reader's faults
	 * are user-mode ones, which is all this loop needs. */
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(SYS_userfaultfd,
				  O_CLOEXEC | UFFD_USER_MODE_ONLY);
#endif
#else
	errno = ENOSYS;
#endif
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = -errno;

		close(fd);
		return err;
	}
	*uffd = fd;
	return 0;
}

static bool raw_failed(struct raw_loop *l, const char *step, int err)
{
	l->step = step;
	l->err = err;
	return true;
}

/* true when the handler must stop. */
static bool raw_serve(struct raw_loop *l, uint64_t address)
{
	uintptr_t page = (uintptr_t)address & ~(uintptr_t)(l->ps - 1);
	struct uffdio_copy cp;
	ssize_t n;

	if (page == (uintptr_t)l->base + l->len)
		return true;
	do
		n = pread(l->fd, l->buf, l->ps,
			  (off_t)(page - (uintptr_t)l->base));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)l->ps)
		return raw_failed(l, n < 0 ? "pread" : "pread (short)",
				  n < 0 ? errno : EIO);
	cp = (struct uffdio_copy){
		.dst = page, .src = (uintptr_t)l->buf, .len = l->ps, .mode = 0};
	if (ioctl(l->uffd, UFFDIO_COPY, &cp))
		return raw_failed(l, "UFFDIO_COPY", errno);
	return false;
}

static void *raw_handler(void *arg)
{
	struct raw_loop *l = arg;
	struct uffd_msg m;

	for (;;) {
		ssize_t n = read(l->uffd, &m, sizeof(m));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m)) {
			raw_failed(l, "read", n < 0 ? errno : EIO);
			break;
		}
		if (m.event == UFFD_EVENT_PAGEFAULT &&
		    raw_serve(l, m.arg.pagefault.address))
			break;
	}
	close(l->uffd);
	return NULL;
}

/* Map, register and start the handler; on failure nothing is left. */
static int raw_start(struct raw_loop *l, pthread_t *t)
{
	struct uffdio_register reg;
	int err = raw_open(&l->uffd);

	if (err) {
		l->step = "userfaultfd";
		return err;
	}
	l->base = mmap(NULL, l->len + l->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (l->base == MAP_FAILED) {
		err = -errno;
		l->step = "mmap";
		l->base = NULL;
		goto fail;
	}
	madvise(l->base, l->len + l->ps, MADV_NOHUGEPAGE);
	reg = (struct uffdio_register){
		.range = {.start = (uintptr_t)l->base, .len = l->len + l->ps},
		.mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(l->uffd, UFFDIO_REGISTER, &reg)) {
		err = -errno;
		l->step = "UFFDIO_REGISTER";
		goto fail;
	}
	err = -pthread_create(t, NULL, raw_handler, l);
	if (!err)
		return 0;
	l->step = "pthread_create";
fail:
	close(l->uffd);
	if (l->base)
		munmap(l->base, l->len + l->ps);
	return err;
}

static int run_raw(struct fault_ctx *c, const uint32_t *order,
		   struct fault_timing *t, uint64_t *sum)
{
	struct raw_loop l = {.fd = c->fd, .len = c->len, .ps = c->ps};
	pthread_t handler;
	int err;

	if (posix_memalign(&l.buf, c->ps, c->ps)) {
		fprintf(stderr, "umove bench fault: out of memory\n");
		return -1;
	}
	err = raw_start(&l, &handler);
	if (err) {
		fprintf(stderr, "umove bench fault: raw loop: %s: %s\n", l.step,
			strerror(-err));
		free(l.buf);
		return -1;
	}
	*sum = timed_touch(c, l.base, order, t);
	(void)*(volatile unsigned char *)(l.base + l.len); /* stop */
	pthread_join(handler, NULL);
	munmap(l.base, l.len + l.ps);
	free(l.buf);
	if (l.err) {
		fprintf(stderr, "umove bench fault: raw loop: %s: %s\n", l.step,
			strerror(l.err));
		return -1;
	}
	return 0;
}

/* ---- 3.-5. umove regions ------------------------------------------------ */

static int run_umove(struct fault_ctx *c, int v, const uint32_t *order,
		     struct fault_timing *t, uint64_t *sum,
		     struct umove_stats *stats)
{
	struct umove_region *r;
	int ret, err = umove_map(&r, c->st, 0, c->len, c->cfg[v]);

	if (err) {
		fprintf(stderr, "umove bench fault: %s: umove_map: %s\n",
			defs[v].title, umove_strerror(err));
		return -1;
	}
	*sum = timed_touch(c, umove_region_addr(r), order, t);
	memset(stats, 0, sizeof(*stats));
	stats->size = sizeof(*stats);
	err = umove_region_stats(r, stats);
	if (err)
		fprintf(stderr,
			"umove bench fault: %s: umove_region_stats: %s\n",
			defs[v].title, umove_strerror(err));
	ret = umove_unmap(r);
	if (ret)
		fprintf(stderr, "umove bench fault: %s: umove_unmap: %s\n",
			defs[v].title, umove_strerror(ret));
	return err || ret ? -1 : 0;
}

/* ---- the runs ----------------------------------------------------------- */

static double *sample(struct fault_ctx *c, unsigned runs, int v, int o,
		      unsigned run)
{
	return &c->samples[((size_t)v * FAULT_ORDERS + (size_t)o) * runs + run];
}

static int run_cell(struct fault_ctx *c, struct fault_result *r, int v, int o,
		    unsigned run)
{
	struct fault_timing t = {0, 0};
	struct umove_stats stats;
	uint64_t sum = 0;
	int err;

	if (c->cold) {
		err = drop_caches();
		if (err) {
			fprintf(stderr,
				"umove bench fault: dropping the page cache: "
				"%s\n",
				strerror(-err));
			return -1;
		}
	}
	watch_cell(v, o);
	if (defs[v].kind == KIND_MMAP)
		err = run_mmap(c, c->order[o], &t, &sum);
	else if (defs[v].kind == KIND_RAW)
		err = run_raw(c, c->order[o], &t, &sum);
	else
		err = run_umove(c, v, c->order[o], &t, &sum, &stats);
	watch_cell(-1, -1);
	if (err)
		return -1;
	if (sum != c->expect) {
		fprintf(stderr,
			"umove bench fault: %s, %s order, run %u: the bytes "
			"read sum to %llu, the file's to %llu: a fill "
			"delivered wrong data\n",
			defs[v].title, order_keys[o], run + 1,
			(unsigned long long)sum, (unsigned long long)c->expect);
		return -1;
	}
	*sample(c, r->runs, v, o, run) = (double)c->npages / t.s;
	r->cell[v][o].faults = t.faults;
	if (defs[v].kind == KIND_UMOVE) {
		r->cell[v][o].have_stats = true;
		r->cell[v][o].last = stats;
	}
	return 0;
}

static int measure(struct fault_ctx *c, struct fault_result *r)
{
	for (unsigned run = 0; run < r->runs; run++)
		for (int o = 0; o < FAULT_ORDERS; o++)
			for (int v = 0; v < FAULT_VARIANTS; v++)
				if (!c->skip[v] && run_cell(c, r, v, o, run))
					return -1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void summarize(struct fault_ctx *c, struct fault_result *r)
{
	for (int v = 0; v < FAULT_VARIANTS; v++) {
		for (int o = 0; o < FAULT_ORDERS; o++) {
			struct bench_stat *st = &r->cell[v][o].rate;
			double *x = sample(c, r->runs, v, o, 0);
			unsigned n = r->runs;

			if (c->skip[v])
				continue;
			qsort(x, n, sizeof(*x), cmp_double);
			st->ok = true;
			st->min = x[0];
			st->max = x[n - 1];
			st->median = n % 2 ? x[n / 2]
					   : (x[n / 2 - 1] + x[n / 2]) / 2;
		}
	}
	for (int v = 0; v < FAULT_VARIANTS; v++)
		for (int o = 0; o < FAULT_ORDERS; o++)
			if (r->cell[v][o].rate.ok)
				r->cell[v][o].ratio =
					r->cell[v][o].rate.median /
					r->cell[V_MMAP][o].rate.median;
}

static void skip_variant(struct fault_ctx *c, struct fault_result *r, int v,
			 const char *why)
{
	c->skip[v] = true;
	for (int o = 0; o < FAULT_ORDERS; o++)
		snprintf(r->cell[v][o].rate.note,
			 sizeof(r->cell[v][o].rate.note), "n/a: %s", why);
}

/* Which variants can run here; the umove store and configs. */
static int check_variants(struct fault_ctx *c, struct fault_result *r)
{
	struct umove *um;
	int uffd, err = raw_open(&uffd);
	char why[80];

	if (err) {
		snprintf(why, sizeof(why), "userfaultfd(2): %s",
			 strerror(-err));
		skip_variant(c, r, V_RAW, why);
	} else {
		close(uffd);
	}
	err = umove_open(&um, 0);
	if (err) {
		for (int v = 0; v < FAULT_VARIANTS; v++)
			if (defs[v].kind == KIND_UMOVE)
				skip_variant(c, r, v, umove_strerror(err));
		return 0;
	}
	r->native_move = umove_native_move(um);
	if (!r->native_move)
		skip_variant(c, r, V_MOVE, cli_emulation_reason(um));
	umove_close(um);
	err = umove_store_file(&c->st, c->path, FAULT_STORE_FLAGS);
	if (err) {
		fprintf(stderr, "umove bench fault: umove_store_file: %s\n",
			umove_strerror(err));
		return -1;
	}
	for (int v = 0; v < FAULT_VARIANTS && !err; v++) {
		if (defs[v].kind != KIND_UMOVE)
			continue;
		err = umove_region_config_new(&c->cfg[v]);
		if (!err)
			err = umove_region_config_set_fill(c->cfg[v],
							   defs[v].fill);
		if (!err)
			err = umove_region_config_set_readahead(
				c->cfg[v], defs[v].readahead);
		if (!err)
			err = umove_region_config_set_threads(c->cfg[v],
							      defs[v].threads);
	}
	if (err)
		fprintf(stderr, "umove bench fault: region config: %s\n",
			umove_strerror(err));
	return err ? -1 : 0;
}

/* The watchdog's report: which cell hangs, then the end of the command. */
static void watchdog_fire(void *arg, int v, size_t page)
{
	const size_t *npages = arg;

	fprintf(stderr,
		"umove bench fault: %s, %s order: no progress for %d s, "
		"%zu of %zu pages read: a fault was never served (or "
		"unmapping hangs)\n",
		defs[v].title, order_keys[atomic_load(&watch.order)],
		FAULT_STALL_S, page, *npages);
	_exit(CLI_EXIT_FAIL);
}

static void ctx_free(struct fault_ctx *c)
{
	for (int v = 0; v < FAULT_VARIANTS; v++)
		umove_region_config_free(c->cfg[v]);
	if (c->st)
		umove_store_close(c->st);
	for (int o = 0; o < FAULT_ORDERS; o++)
		free(c->order[o]);
	free(c->samples);
	if (c->fd >= 0)
		close(c->fd);
}

static int bench_fault_run(unsigned runs, size_t size_mib, bool cold,
			   unsigned readers, struct fault_result *r)
{
	struct sigaction old_fault[CLI_FAULT_SIGNALS];
	struct fault_ctx c = {.fd = -1, .cold = cold, .readers = readers};
	struct cli_watchdog w;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->runs = runs;
	r->size_mib = size_mib;
	r->cold = cold;
	r->readers = readers;
	r->native_move = -1;
	r->page_size = c.ps = (size_t)sysconf(_SC_PAGESIZE);
	c.len = size_mib << 20;
	r->pages = c.npages = c.len / c.ps;
	for (int v = 0; v < FAULT_VARIANTS; v++)
		for (int o = 0; o < FAULT_ORDERS; o++)
			r->cell[v][o].ratio = NAN;
	c.samples = calloc((size_t)FAULT_VARIANTS * FAULT_ORDERS * runs,
			   sizeof(double));
	if (!c.samples || make_orders(&c)) {
		fprintf(stderr, "umove bench fault: out of memory\n");
		goto out;
	}
	if (create_file(&c) || check_variants(&c, r))
		goto out;
	cli_catch_fault_signals(old_fault, "umove bench fault", NULL, NULL);
	cli_watchdog_start(&w, FAULT_STALL_S, &watch.step, &watch.page,
			   &watch.variant, watchdog_fire, &c.npages);
	ret = measure(&c, r);
	cli_watchdog_stop(&w);
	cli_restore_fault_signals(old_fault);
	if (!ret)
		summarize(&c, r);
out:
	ctx_free(&c);
	return ret;
}

/* ---- output ------------------------------------------------------------- */

/* Thousands of pages per second, about three significant digits. */
static void format_rate(char *buf, size_t size, double pages_per_s)
{
	double k = pages_per_s / 1e3;

	snprintf(buf, size, k < 100 ? "%.1f" : "%.0f", k);
}

static void format_cell(char *buf, size_t size, const struct bench_stat *st)
{
	char med[24], lo[24], hi[24];

	if (!st->ok) {
		snprintf(buf, size, "n/a");
		return;
	}
	format_rate(med, sizeof(med), st->median);
	format_rate(lo, sizeof(lo), st->min);
	format_rate(hi, sizeof(hi), st->max);
	snprintf(buf, size, "%s [%s-%s]", med, lo, hi);
}

/* How the last run installed its pages, from its counters. */
static const char *fill_used(int v, const struct fault_cell *cell)
{
	if (defs[v].kind == KIND_RAW)
		return cell->rate.ok ? "copy" : NULL;
	if (!cell->have_stats)
		return NULL;
	if (cell->last.moves && cell->last.copies)
		return "mixed";
	if (cell->last.moves)
		return "move";
	return cell->last.copies ? "copy" : NULL;
}

static void print_row(int v, const struct fault_cell *cell, FILE *out)
{
	const char *fill = fill_used(v, cell);
	char rate[80], ratio[16], faults[24], lat[48];

	format_cell(rate, sizeof(rate), &cell->rate);
	if (isfinite(cell->ratio))
		snprintf(ratio, sizeof(ratio),
			 cell->ratio < 0.1 ? "%.2g" : "%.2f", cell->ratio);
	else
		snprintf(ratio, sizeof(ratio), "n/a");
	if (cell->have_stats)
		snprintf(lat, sizeof(lat), "%llu/%llu",
			 (unsigned long long)cell->last.fill_ns_p50,
			 (unsigned long long)cell->last.fill_ns_p99);
	else
		snprintf(lat, sizeof(lat), "-");
	if (cell->rate.ok)
		snprintf(faults, sizeof(faults), "%llu",
			 (unsigned long long)cell->faults);
	else
		snprintf(faults, sizeof(faults), "-");
	fprintf(out, "  %-26s %-5s %-22s %-8s %-8s %s\n", defs[v].title,
		fill ? fill : "-", rate, ratio, faults, lat);
}

static void bench_fault_print(const struct fault_result *r, FILE *out)
{
	fprintf(out,
		"thousands of pages per second, median [min-max] of %u runs; "
		"each run reads %zu pages of %zu bytes (%zu MiB) once, one "
		"byte per page, from %u thread%s\n",
		r->runs, r->pages, r->page_size, r->size_mib, r->readers,
		r->readers == 1 ? ""
				: "s (each a contiguous share of the "
				  "order)");
	fprintf(out,
		"(page cache %s; umove store: umove_store_file, read-only, "
		"buffered)\n",
		r->cold ? "cold: dropped before every run"
			: "warm: the file was read once before the runs");
	fputs("(fill: how the last run installed pages; vs mmap: median / "
	      "kernel mmap's; faults: page faults of the readers, last run; "
	      "fault p50/p99: fill latency in ns from umove_region_stats, "
	      "last run)\n",
	      out);
	for (int o = 0; o < FAULT_ORDERS; o++) {
		fprintf(out, "%s\n", order_titles[o]);
		fprintf(out, "  %-26s %-5s %-22s %-8s %-8s %s\n", "variant",
			"fill", "k pages/s", "vs mmap", "faults",
			"fault p50/p99 ns");
		for (int v = 0; v < FAULT_VARIANTS; v++)
			print_row(v, &r->cell[v][o], out);
	}
	/* Notes are the same for both orders: say them once, at the end. */
	for (int v = 0; v < FAULT_VARIANTS; v++)
		if (!r->cell[v][0].rate.ok && r->cell[v][0].rate.note[0])
			fprintf(out, "  %s: %s\n", defs[v].title,
				r->cell[v][0].rate.note);
}

static void json_opt_u64(struct json *j, const char *key, bool have,
			 uint64_t val)
{
	if (have)
		json_u64(j, key, val);
	else
		json_null(j, key);
}

static void json_row(const struct fault_result *r, int v, int o, struct json *j)
{
	const struct fault_cell *cell = &r->cell[v][o];
	const struct bench_stat *st = &cell->rate;
	bool um = defs[v].kind == KIND_UMOVE, stats = cell->have_stats;

	json_open(j, NULL, '{');
	json_str(j, "variant", defs[v].key);
	json_str(j, "order", order_keys[o]);
	json_str(j, "fill_config", um ? fill_keys[defs[v].fill] : NULL);
	json_opt_u64(j, "readahead", defs[v].kind != KIND_MMAP,
		     defs[v].readahead);
	json_opt_u64(j, "threads", defs[v].kind != KIND_MMAP, defs[v].threads);
	json_num(j, "pages_per_s", st->ok ? st->median : NAN);
	json_num(j, "min_pages_per_s", st->ok ? st->min : NAN);
	json_num(j, "max_pages_per_s", st->ok ? st->max : NAN);
	json_num(j, "ratio", cell->ratio);
	json_str(j, "fill", fill_used(v, cell));
	json_opt_u64(j, "faults", st->ok, cell->faults);
	json_opt_u64(j, "fault_ns_p50", stats, cell->last.fill_ns_p50);
	json_opt_u64(j, "fault_ns_p99", stats, cell->last.fill_ns_p99);
	json_opt_u64(j, "faults_served", stats, cell->last.faults_served);
	json_opt_u64(j, "readahead_pages", stats, cell->last.readahead_pages);
	json_str(j, "note", st->ok || !st->note[0] ? NULL : st->note);
	json_close(j, '}');
}

static void bench_fault_json(const struct fault_result *r, struct json *j)
{
	json_open(j, NULL, '{');
	json_int(j, "size_mib", (long long)r->size_mib);
	json_int(j, "pages", (long long)r->pages);
	json_int(j, "page_size", (long long)r->page_size);
	json_int(j, "runs", r->runs);
	json_int(j, "readers", r->readers);
	json_str(j, "cache", r->cold ? "cold" : "warm");
	if (r->native_move < 0)
		json_null(j, "native_move");
	else
		json_bool(j, "native_move", r->native_move);
	json_str(j, "unit", "pages per second, median over runs");
	json_str(j, "ratio_definition",
		 "pages_per_s / kernel mmap pages_per_s, same order");
	json_str(j, "faults_definition",
		 "minor + major page faults of the reading threads, last run");
	json_str(j, "latency_definition",
		 "fill_ns_p50/p99 of umove_region_stats, last run");
	json_str(j, "method",
		 "one byte per page read once from one thread; every run "
		 "maps afresh; umove store: umove_store_file, read-only, "
		 "buffered");
	json_open(j, "rows", '[');
	for (int o = 0; o < FAULT_ORDERS; o++)
		for (int v = 0; v < FAULT_VARIANTS; v++)
			json_row(r, v, o, j);
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- command line ------------------------------------------------------- */

static const char bench_fault_usage[] =
	"usage: umove bench fault [--size MiB] [--runs N] [--readers N] "
	"[--cold] "
	"[--json]\n"
	"  --size MiB  size of the temp file read by every run, 1 to 16384 "
	"(default 256)\n"
	"  --runs N    runs per measurement; the median is reported "
	"(default 5)\n"
	"  --readers N threads reading the mapping, each a share of the "
	"pages, 1 to 64 (default 1)\n"
	"  --cold      drop the page cache before every run (needs root)\n"
	"  --json      print one JSON object on stdout\n";

struct bench_fault_opts {
	unsigned long runs, size, readers;
	bool cold, json;
};

/* 0 to run, else the exit status (--help: 0 after usage, 2 on errors). */
static int parse_bench_fault(int argc, char **argv, struct bench_fault_opts *o,
			     bool *done)
{
	const struct cli_opt opts[] = {
		{"size", 0, CLI_OPT_COUNT, &o->size, 1, BENCH_FAULT_MAX_MIB},
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, BENCH_FAULT_MAX_RUNS},
		{"readers", 0, CLI_OPT_COUNT, &o->readers, 1,
		 BENCH_FAULT_MAX_READERS},
		{"cold", 0, CLI_OPT_FLAG, &o->cold, 0, 0},
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
	};
	const char *cmd = "umove bench fault";
	int ret = cli_parse_options(cmd, bench_fault_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, bench_fault_usage, argc, argv);
}

int cmd_bench_fault(int argc, char **argv)
{
	struct bench_fault_opts o = {.runs = BENCH_FAULT_RUNS,
				     .size = BENCH_FAULT_MIB,
				     .readers = 1};
	struct fault_result r;
	struct json j;
	bool done = false;
	int ret = parse_bench_fault(argc, argv, &o, &done), err;

	if (ret || done)
		return ret;
	if (o.cold) {
		err = drop_caches();
		if (err) {
			fprintf(stderr,
				"umove bench fault: --cold drops the page "
				"cache through /proc/sys/vm/drop_caches, "
				"which needs root: %s\n",
				strerror(-err));
			return CLI_EXIT_FAIL;
		}
	}
	if (bench_fault_run((unsigned)o.runs, o.size, o.cold,
			    (unsigned)o.readers, &r))
		return CLI_EXIT_FAIL;
	if (!o.json) {
		bench_fault_print(&r, stdout);
		return 0;
	}
	json_init(&j, stdout);
	bench_fault_json(&r, &j);
	json_finish(&j);
	return 0;
}
