/* SPDX-License-Identifier: MIT */
/*
 * `umove bench store`: should the file store read with io_uring instead of
 * pread(2)? Pages per second, and the latency of one read, of O_DIRECT
 * reads in the fault service's pattern: runs of R pages (R = 1, a fault
 * alone; R = 16, a fault and its read-ahead of 15) at random page-aligned
 * offsets, each into a page-aligned staging buffer, through
 *
 *   1. pread, one run per call, one thread: what umove_store_file does;
 *   2. io_uring, one SQE per run and io_uring_submit_and_wait(1), queue
 *      depth 1: the drop-in replacement for 1;
 *   3. io_uring at queue depth 8 from one thread: what a handler that
 *      batched several faults would get;
 *   4. pread from 4 threads: what 4 handler threads get today, to compare
 *      with 3.
 *
 * The file is a temporary one under /tmp, written with a pattern whose
 * every 8-byte word is non-zero, unlinked as soon as it is created and
 * reopened with O_DIRECT through /proc/self/fd. A filesystem that refuses
 * O_DIRECT ends the command: the store falls back to buffered reads there,
 * but buffered reads are not what this measures.
 *
 * Timed: only the reads, from the moment all readers are ready to the
 * moment the last one is done. Not timed: creating the io_uring rings
 * (once), starting the reader threads, dropping the page cache (--cold),
 * and the percentiles. Each read checks the first word of each page it
 * read against the pattern, so that a read that delivers the wrong pages
 * stops the command instead of printing fast numbers; that check costs the
 * same in every variant. The staging buffers are reused, already faulted
 * in: the cost of refilling a staging page emptied by a MOVE is not here.
 * Every variant reads the same sequence of runs, the file's size over
 * again, and the variants take turns run by run so that the drift of a
 * noisy VM hits them alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define STORE_MIB 256 /* default size of the temp file */
#define STORE_RUNS 5  /* default number of runs */
#define STORE_MAX_MIB 16384
#define STORE_MAX_RUNS 1000
#define STORE_SEED 0x73746f7265ull    /* "store": the pattern and the order */
#define STORE_CHUNK ((size_t)1 << 20) /* bytes written per call */
#define STORE_QD 8		      /* queue depth of the batched variant */
#define STORE_THREADS 4		      /* threads of the threaded variant */
#define STORE_SLOTS 8 /* staging buffers: max(STORE_QD, STORE_THREADS) */

enum store_variant { V_PREAD, V_URING1, V_URING8, V_PREAD4, STORE_VARIANTS };

enum { SIZE_1, SIZE_16, STORE_SIZES };

struct store_def {
	const char *key;   /* JSON */
	const char *title; /* text table */
	bool uring;
	unsigned depth, threads;
};

static const struct store_def defs[STORE_VARIANTS] = {
	{"pread_t1", "pread, 1 thread", false, 1, 1},
	{"io_uring_qd1", "io_uring QD1, 1 thread", true, 1, 1},
	{"io_uring_qd8", "io_uring QD8, 1 thread", true, STORE_QD, 1},
	{"pread_t4", "pread, 4 threads", false, 1, STORE_THREADS},
};

static const size_t run_pages[STORE_SIZES] = {1, 16};
static const char *const size_titles[STORE_SIZES] = {
	"a fault alone", "a fault and its read-ahead of 15"};

struct store_cell {
	struct bench_stat rate; /* pages per second; note when not measured */
	double ratio;		/* rate median / pread's, same run size */
	double p50_us, p99_us;	/* medians over the runs of each run's */
};

struct store_result {
	unsigned runs;
	size_t size_mib, pages, page_size;
	bool cold;
	size_t reads[STORE_SIZES]; /* reads per run of each cell */
	struct store_cell cell[STORE_VARIANTS][STORE_SIZES];
};

/* Everything a run needs, set up once. */
struct store_ctx {
	int fd;	 /* the unlinked temp file, O_RDWR, buffered */
	int dfd; /* the same file, O_RDONLY | O_DIRECT */
	size_t ps, npages, len;
	bool cold;
	uint32_t *first[STORE_SIZES]; /* first page of every read, in order */
	unsigned char *slots;	      /* STORE_SLOTS staging buffers */
	size_t slot_len;	      /* 16 pages */
	uint64_t *lat;		      /* ns of each read of the cell running */
	struct io_uring ring[STORE_VARIANTS];
	bool have_ring[STORE_VARIANTS];
	bool skip[STORE_VARIANTS];
	double *samples; /* [variant][size][run][3]: pages/s, p50, p99 ns */
};

static uint64_t next_rand(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* The word at byte offset off of the file: never 0. */
static uint64_t pattern(uint64_t off)
{
	uint64_t z = off + STORE_SEED;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31)) | 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static int write_pattern(const struct store_ctx *c)
{
	uint64_t *buf = malloc(STORE_CHUNK);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t off = 0; off < c->len && !err; off += STORE_CHUNK) {
		size_t n =
			c->len - off < STORE_CHUNK ? c->len - off : STORE_CHUNK;

		for (size_t w = 0; w < n / 8; w++)
			buf[w] = pattern(off + w * 8);
		err = write_all(c->fd, (const unsigned char *)buf, n,
				(off_t)off);
	}
	free(buf);
	if (!err && fsync(c->fd))
		err = -errno;
	/* O_DIRECT reads would flush dirty pages first; clean ones just go. */
	if (!err)
		err = -posix_fadvise(c->fd, 0, 0, POSIX_FADV_DONTNEED);
	return err;
}

/* One page through the O_DIRECT fd: does the filesystem take it? */
static int probe_direct(const struct store_ctx *c)
{
	ssize_t n;

	do
		n = pread(c->dfd, c->slots, c->ps, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != c->ps || *(uint64_t *)c->slots != pattern(0))
		return -EIO;
	return 0;
}

/*
 * A unique file under /tmp, unlinked at once; the O_DIRECT fd is opened
 * through /proc/self/fd because O_DIRECT belongs to an open file, which a
 * dup() would share.
 */
static int create_file(struct store_ctx *c)
{
	char name[] = "/tmp/umove-bench-store-XXXXXX", path[64];
	int err;

	c->fd = mkostemp(name, O_CLOEXEC);
	if (c->fd < 0) {
		fprintf(stderr, "umove bench store: cannot create %s: %s\n",
			name, strerror(errno));
		return -1;
	}
	unlink(name);
	err = write_pattern(c);
	if (err) {
		fprintf(stderr,
			"umove bench store: cannot write the %zu MiB temp "
			"file in /tmp: %s\n",
			c->len >> 20, strerror(-err));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
	c->dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	err = c->dfd < 0 ? -errno : probe_direct(c);
	if (err) {
		fprintf(stderr,
			"umove bench store: the filesystem of /tmp refuses "
			"O_DIRECT reads: %s. umove_store_file falls back to "
			"buffered reads there; this benchmark measures "
			"O_DIRECT reads only and does not fall back.\n",
			strerror(-err));
		return -1;
	}
	return 0;
}

/*
 * The runs of R pages: as many as the file has pages over R, each at a
 * random page in [0, npages - R], so that a run never crosses the end.
 */
static int make_runs(struct store_ctx *c, struct store_result *r)
{
	uint64_t s = STORE_SEED ^ 0x5eedull;

	for (int z = 0; z < STORE_SIZES; z++) {
		size_t n = c->npages / run_pages[z];
		uint64_t span = c->npages - run_pages[z] + 1;

		r->reads[z] = n;
		c->first[z] = malloc(n * sizeof(uint32_t));
		if (!c->first[z])
			return -1;
		for (size_t k = 0; k < n; k++)
			c->first[z][k] = (uint32_t)(next_rand(&s) % span);
	}
	return 0;
}

/* The clean caches: what --cold drops before each run. */
static int drop_caches(void)
{
	return cli_drop_caches("3");
}

/* ---- the readers -------------------------------------------------------- */

/* One reader's share of the runs and where it failed, if it did. */
struct reader {
	const struct store_ctx *c;
	int v;
	struct io_uring *ring; /* io_uring variants */
	const uint32_t *first; /* its runs */
	size_t n, pages;       /* runs, and pages per run */
	uint64_t *lat;	       /* n entries */
	unsigned char *buf;    /* its staging buffer(s) */
	pthread_barrier_t *start;
	const char *step; /* what failed, or NULL */
	int err;	  /* its errno, 0 for wrong data */
	size_t failed;	  /* the run that failed */
};

static bool reader_failed(struct reader *d, size_t k, const char *step, int err)
{
	d->step = step;
	d->err = err;
	d->failed = k;
	return false;
}

/* The first word of every page of run k is the file's. */
static bool check_run(struct reader *d, size_t k, const unsigned char *buf,
		      ssize_t got)
{
	size_t ps = d->c->ps, len = d->pages * ps;
	uint64_t off = (uint64_t)d->first[k] * ps;

	if (got < 0)
		return reader_failed(d, k, "read", (int)-got);
	if ((size_t)got != len)
		return reader_failed(d, k, "read (short)", EIO);
	for (size_t p = 0; p < d->pages; p++)
		if (*(const uint64_t *)(buf + p * ps) != pattern(off + p * ps))
			return reader_failed(d, k, "check", 0);
	return true;
}

static void read_pread(struct reader *d)
{
	size_t len = d->pages * d->c->ps;

	for (size_t k = 0; k < d->n; k++) {
		uint64_t t0 = now_ns();
		ssize_t got;

		do
			got = pread(d->c->dfd, d->buf, len,
				    (off_t)d->first[k] * (off_t)d->c->ps);
		while (got < 0 && errno == EINTR);
		d->lat[k] = now_ns() - t0;
		if (!check_run(d, k, d->buf, got < 0 ? -errno : got))
			return;
	}
}

/* One SQE per run, then wait for it: the synchronous drop-in. */
static void read_uring1(struct reader *d, struct io_uring *ring)
{
	size_t len = d->pages * d->c->ps;
	struct io_uring_cqe *cqe;
	int ret;

	for (size_t k = 0; k < d->n; k++) {
		uint64_t t0 = now_ns();
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe) {
			reader_failed(d, k, "io_uring_get_sqe", EBUSY);
			return;
		}
		io_uring_prep_read(sqe, d->c->dfd, d->buf, (unsigned)len,
				   (uint64_t)d->first[k] * d->c->ps);
		do /* submits what is pending, if EINTR came before that */
			ret = io_uring_submit_and_wait(ring, 1);
		while (ret == -EINTR);
		if (ret >= 0)
			ret = io_uring_peek_cqe(ring, &cqe);
		if (ret < 0) {
			reader_failed(d, k, "io_uring_submit_and_wait", -ret);
			return;
		}
		ret = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		d->lat[k] = now_ns() - t0;
		if (!check_run(d, k, d->buf, ret))
			return;
	}
}

/*
 * Up to depth runs in flight, each in a staging buffer of its own: fill
 * the free slots, submit, wait for one completion, reap all there are.
 * A run's latency is from its SQE's preparation to its completion's reap.
 */
static void read_uring_batch(struct reader *d, struct io_uring *ring,
			     unsigned depth)
{
	size_t len = d->pages * d->c->ps, next = 0, done = 0;
	size_t run_of[STORE_SLOTS];
	uint64_t t0[STORE_SLOTS];
	unsigned free_slot[STORE_SLOTS], nfree = depth;
	struct io_uring_cqe *cqe;
	int ret;

	for (unsigned s = 0; s < depth; s++)
		free_slot[s] = depth - 1 - s;
	while (done < d->n) {
		while (nfree && next < d->n) {
			unsigned s = free_slot[--nfree];
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			if (!sqe) {
				reader_failed(d, next, "io_uring_get_sqe",
					      EBUSY);
				return;
			}
			io_uring_prep_read(sqe, d->c->dfd,
					   d->buf + s * d->c->slot_len,
					   (unsigned)len,
					   (uint64_t)d->first[next] * d->c->ps);
			io_uring_sqe_set_data64(sqe, s);
			run_of[s] = next++;
			t0[s] = now_ns();
		}
		do
			ret = io_uring_submit_and_wait(ring, 1);
		while (ret == -EINTR);
		if (ret < 0) {
			reader_failed(d, done, "io_uring_submit_and_wait",
				      -ret);
			return;
		}
		while (io_uring_peek_cqe(ring, &cqe) == 0) {
			unsigned s = (unsigned)cqe->user_data;
			size_t k = run_of[s];

			ret = cqe->res;
			io_uring_cqe_seen(ring, cqe);
			d->lat[k] = now_ns() - t0[s];
			if (!check_run(d, k, d->buf + s * d->c->slot_len, ret))
				return; /* the rest in flight: see run_cell */
			free_slot[nfree++] = s;
			done++;
		}
	}
}

static void reader_run(struct reader *d)
{
	pthread_barrier_wait(d->start);
	if (!defs[d->v].uring)
		read_pread(d);
	else if (defs[d->v].depth == 1)
		read_uring1(d, d->ring);
	else
		read_uring_batch(d, d->ring, defs[d->v].depth);
}

static void *reader_main(void *arg)
{
	reader_run(arg);
	return NULL;
}

/* ---- the runs ----------------------------------------------------------- */

static double *sample(const struct store_ctx *c, unsigned runs, int v, int z,
		      unsigned run)
{
	return &c->samples[(((size_t)v * STORE_SIZES + (size_t)z) * runs +
			    run) *
			   3];
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of them at or below. */
static double percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p * (double)n);

	return (double)sorted[rank ? rank - 1 : 0];
}

static void report_failure(const struct reader *d, int z)
{
	const char *title = defs[d->v].title;
	unsigned long long page = d->first[d->failed];

	if (d->err)
		fprintf(stderr,
			"umove bench store: %s, runs of %zu pages: %s of the "
			"run at page %llu: %s\n",
			title, run_pages[z], d->step, page, strerror(d->err));
	else
		fprintf(stderr,
			"umove bench store: %s, runs of %zu pages: the run at "
			"page %llu read wrong data\n",
			title, run_pages[z], page);
}

/*
 * One run of one cell: the readers take contiguous shares of the runs;
 * the readers after the first are started before the clock.
 */
static int run_cell(struct store_ctx *c, const struct store_result *r, int v,
		    int z, unsigned run)
{
	struct reader d[STORE_THREADS];
	pthread_t tid[STORE_THREADS];
	unsigned n = defs[v].threads, started = 1;
	size_t reads = r->reads[z];
	pthread_barrier_t start;
	uint64_t t0, t1;
	double *out = sample(c, r->runs, v, z, run);
	int ret = 0;

	if (c->cold) {
		int err = drop_caches();

		if (err) {
			fprintf(stderr,
				"umove bench store: dropping the page cache: "
				"%s\n",
				strerror(-err));
			return -1;
		}
	}
	pthread_barrier_init(&start, NULL, n);
	for (unsigned k = 0; k < n; k++) {
		size_t from = reads * k / n, to = reads * (k + 1) / n;

		d[k] = (struct reader){.c = c,
				       .v = v,
				       .ring = &c->ring[v],
				       .first = c->first[z] + from,
				       .n = to - from,
				       .pages = run_pages[z],
				       .lat = c->lat + from,
				       .buf = c->slots + k * c->slot_len,
				       .start = &start};
	}
	for (; started < n; started++)
		if (pthread_create(&tid[started], NULL, reader_main,
				   &d[started]))
			break;
	if (started < n) { /* the barrier would never open */
		fprintf(stderr, "umove bench store: cannot start reader "
				"threads\n");
		exit(CLI_EXIT_FAIL);
	}
	t0 = now_ns();
	reader_run(&d[0]);
	for (unsigned k = 1; k < n; k++)
		pthread_join(tid[k], NULL);
	t1 = now_ns();
	pthread_barrier_destroy(&start);
	for (unsigned k = 0; k < n; k++) {
		if (d[k].step) {
			report_failure(&d[k], z);
			ret = -1;
		}
	}
	if (ret) /* a ring may hold reads still in flight: do not reuse it */
		return ret;
	qsort(c->lat, reads, sizeof(*c->lat), cmp_u64);
	out[0] = (double)(reads * run_pages[z]) / ((double)(t1 - t0) / 1e9);
	out[1] = percentile(c->lat, reads, 0.50);
	out[2] = percentile(c->lat, reads, 0.99);
	return 0;
}

static int measure(struct store_ctx *c, const struct store_result *r)
{
	for (unsigned run = 0; run < r->runs; run++)
		for (int z = 0; z < STORE_SIZES; z++)
			for (int v = 0; v < STORE_VARIANTS; v++)
				if (!c->skip[v] && run_cell(c, r, v, z, run))
					return -1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of the runs' values of one column (0, 1, 2) of a cell. */
static double median_of(const struct store_ctx *c, unsigned runs, int v, int z,
			int col, double *tmp, double *lo, double *hi)
{
	for (unsigned run = 0; run < runs; run++)
		tmp[run] = sample(c, runs, v, z, run)[col];
	qsort(tmp, runs, sizeof(*tmp), cmp_double);
	if (lo)
		*lo = tmp[0];
	if (hi)
		*hi = tmp[runs - 1];
	return runs % 2 ? tmp[runs / 2]
			: (tmp[runs / 2 - 1] + tmp[runs / 2]) / 2;
}

static int summarize(const struct store_ctx *c, struct store_result *r)
{
	double *tmp = calloc(r->runs, sizeof(double));

	if (!tmp)
		return -1;
	for (int v = 0; v < STORE_VARIANTS; v++) {
		for (int z = 0; z < STORE_SIZES && !c->skip[v]; z++) {
			struct store_cell *cell = &r->cell[v][z];

			cell->rate.ok = true;
			cell->rate.median =
				median_of(c, r->runs, v, z, 0, tmp,
					  &cell->rate.min, &cell->rate.max);
			cell->p50_us = median_of(c, r->runs, v, z, 1, tmp, NULL,
						 NULL) /
				       1e3;
			cell->p99_us = median_of(c, r->runs, v, z, 2, tmp, NULL,
						 NULL) /
				       1e3;
		}
	}
	free(tmp);
	for (int v = 0; v < STORE_VARIANTS; v++)
		for (int z = 0; z < STORE_SIZES; z++)
			if (r->cell[v][z].rate.ok)
				r->cell[v][z].ratio =
					r->cell[v][z].rate.median /
					r->cell[V_PREAD][z].rate.median;
	return 0;
}

/* io_uring refused (kernel.io_uring_disabled, seccomp, an old kernel). */
static void skip_uring(struct store_ctx *c, struct store_result *r, int v,
		       int err)
{
	char why[80] = "";
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int disabled = 0;

	if (f) {
		if (fscanf(f, "%d", &disabled) == 1 && disabled)
			snprintf(why, sizeof(why),
				 " (kernel.io_uring_disabled = %d)", disabled);
		fclose(f);
	}
	c->skip[v] = true;
	for (int z = 0; z < STORE_SIZES; z++)
		snprintf(r->cell[v][z].rate.note,
			 sizeof(r->cell[v][z].rate.note),
			 "n/a: io_uring_queue_init: %s%s", strerror(-err), why);
}

static void open_rings(struct store_ctx *c, struct store_result *r)
{
	for (int v = 0; v < STORE_VARIANTS; v++) {
		int err;

		if (!defs[v].uring)
			continue;
		err = io_uring_queue_init(defs[v].depth, &c->ring[v], 0);
		if (err)
			skip_uring(c, r, v, err);
		else
			c->have_ring[v] = true;
	}
}

static void ctx_free(struct store_ctx *c)
{
	for (int v = 0; v < STORE_VARIANTS; v++)
		if (c->have_ring[v])
			io_uring_queue_exit(&c->ring[v]);
	for (int z = 0; z < STORE_SIZES; z++)
		free(c->first[z]);
	if (c->slots)
		munmap(c->slots, STORE_SLOTS * c->slot_len);
	free(c->lat);
	free(c->samples);
	if (c->dfd >= 0)
		close(c->dfd);
	if (c->fd >= 0)
		close(c->fd);
}

/* Staging buffers as a fault handler has them: private anonymous pages. */
static int map_slots(struct store_ctx *c)
{
	size_t len = STORE_SLOTS * c->slot_len;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 0, len); /* faulted in before any timing */
	c->slots = p;
	return 0;
}

static int bench_store_run(unsigned runs, size_t size_mib, bool cold,
			   struct store_result *r)
{
	struct store_ctx c = {.fd = -1, .dfd = -1, .cold = cold};
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->runs = runs;
	r->size_mib = size_mib;
	r->cold = cold;
	r->page_size = c.ps = (size_t)sysconf(_SC_PAGESIZE);
	c.len = size_mib << 20;
	r->pages = c.npages = c.len / c.ps;
	c.slot_len = run_pages[STORE_SIZES - 1] * c.ps;
	for (int v = 0; v < STORE_VARIANTS; v++)
		for (int z = 0; z < STORE_SIZES; z++)
			r->cell[v][z].ratio = r->cell[v][z].p50_us =
				r->cell[v][z].p99_us = NAN;
	c.samples = calloc((size_t)STORE_VARIANTS * STORE_SIZES * runs * 3,
			   sizeof(double));
	c.lat = calloc(c.npages, sizeof(uint64_t));
	if (!c.samples || !c.lat || make_runs(&c, r) || map_slots(&c)) {
		fprintf(stderr, "umove bench store: out of memory\n");
		goto out;
	}
	if (create_file(&c))
		goto out;
	open_rings(&c, r);
	ret = measure(&c, r);
	if (!ret && summarize(&c, r)) {
		fprintf(stderr, "umove bench store: out of memory\n");
		ret = -1;
	}
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

static void format_us(char *buf, size_t size, double us)
{
	snprintf(buf, size, us < 100 ? "%.1f" : "%.0f", us);
}

static void print_row(int v, const struct store_cell *cell, FILE *out)
{
	char rate[80], ratio[16], lat[48], p50[24], p99[24];

	format_cell(rate, sizeof(rate), &cell->rate);
	if (isfinite(cell->ratio))
		snprintf(ratio, sizeof(ratio), "%.2f", cell->ratio);
	else
		snprintf(ratio, sizeof(ratio), "n/a");
	if (cell->rate.ok) {
		format_us(p50, sizeof(p50), cell->p50_us);
		format_us(p99, sizeof(p99), cell->p99_us);
		snprintf(lat, sizeof(lat), "%s/%s", p50, p99);
	} else {
		snprintf(lat, sizeof(lat), "-");
	}
	fprintf(out, "  %-24s %-22s %-9s %s\n", defs[v].title, rate, ratio,
		lat);
}

static void bench_store_print(const struct store_result *r, FILE *out)
{
	fprintf(out,
		"thousands of pages per second, median [min-max] of %u runs; "
		"O_DIRECT reads from a %zu MiB file into page-aligned staging "
		"buffers, %zu-byte pages\n",
		r->runs, r->size_mib, r->page_size);
	fprintf(out,
		"(page cache %s; vs pread: median / pread, 1 thread's; read "
		"p50/p99: latency of one read in us, from its submission to "
		"its completion, median over the runs)\n",
		r->cold ? "cold: dropped before every run"
			: "not dropped: O_DIRECT bypasses it");
	for (int z = 0; z < STORE_SIZES; z++) {
		fprintf(out,
			"runs of %zu page%s (%s): %zu reads of %zu KiB at "
			"random pages\n",
			run_pages[z], run_pages[z] == 1 ? "" : "s",
			size_titles[z], r->reads[z],
			run_pages[z] * r->page_size >> 10);
		fprintf(out, "  %-24s %-22s %-9s %s\n", "variant", "k pages/s",
			"vs pread", "read p50/p99 us");
		for (int v = 0; v < STORE_VARIANTS; v++)
			print_row(v, &r->cell[v][z], out);
	}
	/* Notes are the same for both run sizes: say them once, at the end. */
	for (int v = 0; v < STORE_VARIANTS; v++)
		if (!r->cell[v][0].rate.ok && r->cell[v][0].rate.note[0])
			fprintf(out, "  %s: %s\n", defs[v].title,
				r->cell[v][0].rate.note);
}

static void json_row(const struct store_result *r, int v, int z, struct json *j)
{
	const struct store_cell *cell = &r->cell[v][z];
	const struct bench_stat *st = &cell->rate;

	json_open(j, NULL, '{');
	json_str(j, "variant", defs[v].key);
	json_str(j, "api", defs[v].uring ? "io_uring" : "pread");
	json_int(j, "queue_depth", defs[v].depth);
	json_int(j, "threads", defs[v].threads);
	json_int(j, "run_pages", (long long)run_pages[z]);
	json_int(j, "reads", (long long)r->reads[z]);
	json_num(j, "pages_per_s", st->ok ? st->median : NAN);
	json_num(j, "min_pages_per_s", st->ok ? st->min : NAN);
	json_num(j, "max_pages_per_s", st->ok ? st->max : NAN);
	json_num(j, "ratio", cell->ratio);
	json_num(j, "read_us_p50", cell->p50_us);
	json_num(j, "read_us_p99", cell->p99_us);
	json_str(j, "note", st->ok || !st->note[0] ? NULL : st->note);
	json_close(j, '}');
}

static void bench_store_json(const struct store_result *r, struct json *j)
{
	json_open(j, NULL, '{');
	json_int(j, "size_mib", (long long)r->size_mib);
	json_int(j, "pages", (long long)r->pages);
	json_int(j, "page_size", (long long)r->page_size);
	json_int(j, "runs", r->runs);
	json_str(j, "cache", r->cold ? "cold" : "not_dropped");
	json_bool(j, "o_direct", true);
	json_str(j, "unit", "pages per second, median over runs");
	json_str(j, "ratio_definition",
		 "pages_per_s / pread_t1 pages_per_s, same run_pages");
	json_str(j, "latency_definition",
		 "microseconds of one read from submission to completion: "
		 "median over the runs of each run's p50/p99");
	json_str(j, "method",
		 "runs of run_pages pages at random page offsets, read with "
		 "O_DIRECT into reused page-aligned staging buffers; every "
		 "variant reads the same runs; variants take turns run by "
		 "run");
	json_open(j, "rows", '[');
	for (int z = 0; z < STORE_SIZES; z++)
		for (int v = 0; v < STORE_VARIANTS; v++)
			json_row(r, v, z, j);
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- command line ------------------------------------------------------- */

static const char bench_store_usage[] =
	"usage: umove bench store [--size MiB] [--runs N] [--cold] [--json]\n"
	"  --size MiB  size of the temp file; each cell reads its size, 1 to "
	"16384 (default 256)\n"
	"  --runs N    runs per measurement; the median is reported "
	"(default 5)\n"
	"  --cold      drop the page cache before every run (needs root)\n"
	"  --json      print one JSON object on stdout\n";

struct bench_store_opts {
	unsigned long runs, size;
	bool cold, json;
};

/* 0 to run, else the exit status (--help: 0 after usage, 2 on errors). */
static int parse_bench_store(int argc, char **argv, struct bench_store_opts *o,
			     bool *done)
{
	const struct cli_opt opts[] = {
		{"size", 0, CLI_OPT_COUNT, &o->size, 1, STORE_MAX_MIB},
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, STORE_MAX_RUNS},
		{"cold", 0, CLI_OPT_FLAG, &o->cold, 0, 0},
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
	};
	const char *cmd = "umove bench store";
	int ret = cli_parse_options(cmd, bench_store_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, bench_store_usage, argc, argv);
}

int cmd_bench_store(int argc, char **argv)
{
	struct bench_store_opts o = {STORE_RUNS, STORE_MIB, false, false};
	struct store_result r;
	struct json j;
	bool done = false;
	int ret = parse_bench_store(argc, argv, &o, &done), err;

	if (ret || done)
		return ret;
	if (o.cold) {
		err = drop_caches();
		if (err) {
			fprintf(stderr,
				"umove bench store: --cold drops the page "
				"cache through /proc/sys/vm/drop_caches, "
				"which needs root: %s\n",
				strerror(-err));
			return CLI_EXIT_FAIL;
		}
	}
	if (bench_store_run((unsigned)o.runs, o.size, o.cold, &r))
		return CLI_EXIT_FAIL;
	if (!o.json) {
		bench_store_print(&r, stdout);
		return 0;
	}
	json_init(&j, stdout);
	bench_store_json(&r, &j);
	json_finish(&j);
	return 0;
}
