/* SPDX-License-Identifier: MIT */
/*
 * The resident limit: eviction keeps residency under the limit, clean
 * pages are dropped without a write, changed ones are written back once per
 * eviction, write-back errors keep the page, the limit changes at run time,
 * advice, and the byte-exact model test with 8 threads.
 *
 * Eviction moves pages with UFFDIO_MOVE: every test here but the refusal
 * test skips on kernels without it (Linux < 6.8).
 */
#include "helpers.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEED 0x45  /* what the store holds: store page i is (SEED, i) */
#define SEED2 0x46 /* what the tests write */
#define MODEL_TIMEOUT 120

TestSuite(evict, .timeout = TEST_TIMEOUT, .fini = close_stores);
TestSuite(evict_model, .timeout = MODEL_TIMEOUT, .fini = close_stores);

/* --- a store in memory that counts writes per page and can fail them ---- */

struct mstore {
	char *data;
	size_t pages;
	_Atomic unsigned *writes;
	atomic_int write_err; /* returned by every write when non-zero */
	atomic_uint bad_calls;
};

static int ms_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct mstore *m = priv;

	if (!count || index >= m->pages || count > m->pages - index) {
		atomic_fetch_add(&m->bad_calls, 1);
		return -EINVAL;
	}
	memcpy(buf, m->data + index * PG, count * PG);
	return 0;
}

static int ms_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct mstore *m = priv;
	int err = atomic_load(&m->write_err);

	if (!count || index >= m->pages || count > m->pages - index) {
		atomic_fetch_add(&m->bad_calls, 1);
		return -EINVAL;
	}
	if (err)
		return err;
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&m->writes[index + i], 1);
	memcpy(m->data + index * PG, buf, count * PG);
	return 0;
}

static const struct umove_store_ops ms_ops = {.read = ms_read,
					      .write = ms_write};

static struct umove_store *ms_open(struct mstore *m, size_t pages)
{
	struct umove_store *st = NULL;

	memset(m, 0, sizeof(*m));
	m->pages = pages;
	m->data = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(m->data, MAP_FAILED);
	fill_pages(m->data, pages, SEED);
	m->writes = calloc(pages, sizeof(*m->writes));
	cr_assert_not_null(m->writes);
	hold(m->writes);
	expect_ret(umove_store_open(&st, &ms_ops, sizeof(ms_ops), m, pages), 0);
	return track(st);
}

static void ms_close(struct mstore *m, struct umove_store *st)
{
	close_store(st);
	cr_assert_eq(atomic_load(&m->bad_calls), 0,
		     "store called out of bounds");
	munmap(m->data, m->pages * PG);
	drop(m->writes);
	free(m->writes);
}

static unsigned ms_total_writes(const struct mstore *m)
{
	unsigned n = 0;

	for (size_t i = 0; i < m->pages; i++)
		n += atomic_load(&m->writes[i]);
	return n;
}

/* --- regions --------------------------------------------------------------*/

/*
 * How a test's regions evict: by move (0, Linux 6.8+), by copy-out on the
 * native path (UMOVE_EVICT_COPY), or on the emulated path (UMOVE_EMULATE),
 * which copies out on any kernel. Set by use_flags() before map_limited.
 */
static unsigned evict_flags;

static void use_flags(unsigned flags)
{
	struct umove *um = open_default(); /* skips without userfaultfd */
	bool native = umove_native_move(um);

	close_um(um);
	evict_flags = flags;
	path_label = flags & UMOVE_EMULATE	? "emulated"
		     : flags & UMOVE_EVICT_COPY ? "native, copy-out"
						: "native";
	if (!native && !(flags & UMOVE_EMULATE))
		cr_skip_test("kernel lacks UFFDIO_MOVE (Linux < 6.8): "
			     "eviction by move needs it");
}

/* PATH_TEST's path as eviction flags: emulated regions copy out. */
static void use_path(enum um_path path)
{
	use_flags(path == EMULATED ? UMOVE_EMULATE : 0);
}

static struct umove_region *map_limited(struct umove_store *st, size_t pages,
					size_t limit_pages, unsigned threads,
					unsigned readahead, int fill)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;

	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_threads(cfg, threads), 0);
	expect_ret(umove_region_config_set_readahead(cfg, readahead), 0);
	expect_ret(umove_region_config_set_fill(cfg, fill), 0);
	expect_ret(umove_region_config_set_limit(cfg, limit_pages * PG), 0);
	expect_ret(umove_region_config_set_flags(cfg, evict_flags), 0);
	expect_ret(umove_map(&r, st, 0, pages * PG, cfg), 0);
	drop(cfg);
	umove_region_config_free(cfg);
	hold(r);
	return r;
}

static void unmap_region(struct umove_region *r)
{
	expect_ret(umove_unmap(r), 0);
	drop(r);
}

static struct umove_stats stats(const struct umove_region *r)
{
	struct umove_stats s = {.size = sizeof(s)};

	expect_ret(umove_region_stats(r, &s), 0);
	return s;
}

/* Waits until the handlers have counted want filled pages. */
static struct umove_stats settled(const struct umove_region *r, size_t want)
{
	struct umove_stats s = {.size = sizeof(s)};

	for (int i = 0; i < WAIT_MS; i++) {
		expect_ret(umove_region_stats(r, &s), 0);
		if (s.pages_filled >= want)
			break;
		sleep_ms(1);
	}
	return s;
}

/* --- bad input ----------------------------------------------------------- */

PATH_TEST(evict, bad_args)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r, *never = (struct umove_region *)&never;
	struct umove_store *st;
	struct mstore m;

	use_path(*path);
	expect_ret(umove_region_config_set_limit(NULL, 0), -EINVAL);
	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_limit(cfg, 1), -EINVAL);
	expect_ret(umove_region_config_set_limit(cfg, PG - 1), -EINVAL);
	expect_ret(umove_region_config_set_limit(cfg, 0), 0);
	expect_ret(umove_region_config_set_limit(cfg, PG), 0);
	drop(cfg);
	umove_region_config_free(cfg);

	st = ms_open(&m, 16);
	r = map_limited(st, 16, 8, 1, 0, UMOVE_FILL_AUTO);
	expect_ret(umove_region_set_limit(NULL, PG), -EINVAL);
	expect_ret(umove_region_set_limit(never, PG), -EBADF);
	expect_ret(umove_region_set_limit(r, PG - 1), -EINVAL);
	cr_assert_eq(umove_region_resident(NULL), 0);
	cr_assert_eq(umove_region_resident(never), 0);

	expect_ret(umove_region_advise(NULL, 0, PG, UMOVE_ADV_COLD), -EINVAL);
	expect_ret(umove_region_advise(never, 0, PG, UMOVE_ADV_COLD), -EBADF);
	expect_ret(umove_region_advise(r, 0, 0, UMOVE_ADV_COLD), -EINVAL);
	expect_ret(umove_region_advise(r, 1, PG, UMOVE_ADV_COLD), -EINVAL);
	expect_ret(umove_region_advise(r, 0, PG + 1, UMOVE_ADV_COLD), -EINVAL);
	expect_ret(umove_region_advise(r, 16 * PG, PG, UMOVE_ADV_COLD),
		   -EINVAL);
	expect_ret(umove_region_advise(r, 8 * PG, 9 * PG, UMOVE_ADV_COLD),
		   -EINVAL);
	expect_ret(umove_region_advise(r, 0, PG, 0), -EINVAL);
	expect_ret(umove_region_advise(r, 0, PG, 99), -EINVAL);
	unmap_region(r);
	expect_ret(umove_region_set_limit(r, PG), -EBADF);
	expect_ret(umove_region_advise(r, 0, PG, UMOVE_ADV_DONTNEED), -EBADF);
	cr_assert_eq(umove_region_resident(r), 0);
	ms_close(&m, st);
}

/* --- the limit ----------------------------------------------------------- */

struct fill_param {
	int fill;
	unsigned readahead;
	unsigned flags; /* 0 or UMOVE_EVICT_COPY */
};

ParameterizedTestParameters(evict, scan_stays_under_limit)
{
	static struct fill_param p[] = {
		{UMOVE_FILL_MOVE, 0, 0},
		{UMOVE_FILL_MOVE, 15, 0},
		{UMOVE_FILL_COPY, 0, 0},
		{UMOVE_FILL_COPY, 15, 0},
		{UMOVE_FILL_MOVE, 15, UMOVE_EVICT_COPY},
		{UMOVE_FILL_COPY, 0, UMOVE_EMULATE},
		{UMOVE_FILL_COPY, 15, UMOVE_EMULATE},
		{UMOVE_FILL_AUTO, 0, 0},
		{UMOVE_FILL_AUTO, 15, 0},
		{UMOVE_FILL_AUTO, 15, UMOVE_EVICT_COPY},
		{UMOVE_FILL_AUTO, 15, UMOVE_EMULATE},
	};
	return cr_make_param_array(struct fill_param, p, 11);
}

/*
 * A sequential read of 1024 pages under a 64-page limit: every page reads
 * right, at no point are more than 64 pages present, and since nothing was
 * written nothing is written back.
 */
ParameterizedTest(struct fill_param *fp, evict, scan_stays_under_limit)
{
	const size_t n = 1024, limit = 64;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	size_t most = 0;
	char *base;

	use_flags(fp->flags);
	st = ms_open(&m, n);
	r = map_limited(st, n, limit, 1, fp->readahead, fp->fill);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++) {
		size_t now;

		expect_page(base + p * PG, SEED, p, "scan under a limit");
		now = present_pages(base, n);
		most = now > most ? now : most;
	}
	s = stats(r);
	cr_assert_leq(most, limit, "[%s] %zu pages present, limit %zu (ra %u)",
		      path_label, most, limit, fp->readahead);
	cr_assert_leq(s.resident_pages, limit);
	cr_assert_eq(s.limit_pages, limit);
	cr_assert_eq(s.limit_overshoot, 0);
	cr_assert_geq(s.pages_evicted, n - limit);
	cr_assert_eq(s.evict_writes, 0, "clean pages written back");
	cr_assert_eq(ms_total_writes(&m), 0);
	cr_assert_eq(umove_region_resident(r), s.resident_pages * PG);
	/* Evicted pages come back from the store intact. */
	for (size_t p = 0; p < n; p += 7)
		expect_page(base + p * PG, SEED, p, "second pass");
	unmap_region(r);
	cr_assert_eq(ms_total_writes(&m), 0, "unmap wrote clean pages");
	ms_close(&m, st);
}

/* A scan of n pages under a limit with AUTO fill; the stats after it. */
static struct umove_stats auto_scan(size_t n, size_t limit, unsigned ra)
{
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;

	st = ms_open(&m, n);
	r = map_limited(st, n, limit, 1, ra, UMOVE_FILL_AUTO);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++)
		expect_page(base + p * PG, SEED, p, "AUTO scan");
	s = stats(r);
	for (size_t p = 0; p < n; p += 5)
		expect_page(base + p * PG, SEED, p, "AUTO second pass");
	unmap_region(r);
	ms_close(&m, st);
	return s;
}

/*
 * AUTO copies while the region fills up; once every fault evicts by move,
 * it moves the victims' pages, now in staging with the store's bytes,
 * into the region: steady-state paging takes no fresh page.
 */
Test(evict, auto_fill_moves_recycled_pages)
{
	const size_t n = 512, limit = 64, ra = 3;
	struct umove_stats s;

	use_flags(0);
	s = auto_scan(n, limit, ra);
	cr_assert_geq(s.copies, limit / (ra + 1),
		      "the first %zu pages take fresh pages", limit);
	cr_assert_geq(s.moves, (n - limit) / (ra + 1) / 2,
		      "%" PRIu64 " moves, %" PRIu64 " copies", s.moves,
		      s.copies);
	cr_assert_geq(s.pages_evicted, n - limit);
}

/*
 * Where eviction copies out (UMOVE_EVICT_COPY, emulated moves) staging
 * holds no page to recycle: AUTO keeps copying.
 */
Test(evict, auto_fill_copies_without_recycling)
{
	static const unsigned flags[] = {UMOVE_EVICT_COPY, UMOVE_EMULATE};
	const size_t n = 256, limit = 32;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct umove *um = open_default();
		bool native = umove_native_move(um);
		struct umove_stats s;

		close_um(um);
		if (!native && flags[i] == UMOVE_EVICT_COPY)
			continue; /* the emulated case below covers it */
		use_flags(flags[i]);
		s = auto_scan(n, limit, 3);
		cr_assert_eq(s.moves, 0, "[%s] %" PRIu64 " moves", path_label,
			     s.moves);
		cr_assert_geq(s.pages_evicted, n - limit, "[%s]", path_label);
	}
}

ParameterizedTestParameters(evict, changed_pages_written_once)
{
	static struct fill_param p[] = {{UMOVE_FILL_MOVE, 3, 0},
					{UMOVE_FILL_COPY, 3, 0},
					{UMOVE_FILL_MOVE, 3, UMOVE_EVICT_COPY},
					{UMOVE_FILL_COPY, 3, UMOVE_EMULATE}};
	return cr_make_param_array(struct fill_param, p, 4);
}

/*
 * Every other page of 256 is changed, under a 32-page limit: each changed
 * page is written back exactly once, when evicted (or at unmap, for the
 * ones still resident); unchanged pages never.
 */
ParameterizedTest(struct fill_param *fp, evict, changed_pages_written_once)
{
	const size_t n = 256, limit = 32;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;

	use_flags(fp->flags);
	st = ms_open(&m, n);
	r = map_limited(st, n, limit, 2, fp->readahead, fp->fill);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++) {
		expect_page(base + p * PG, SEED, p, "before the write");
		if (p % 2 == 0)
			fill_page(base + p * PG, SEED2, p);
	}
	s = stats(r);
	cr_assert_leq(present_pages(base, n), limit);
	cr_assert_geq(s.evict_writes, n / 2 - limit);
	for (size_t p = 0; p < n; p++)
		cr_assert_leq(atomic_load(&m.writes[p]), p % 2 == 0 ? 1 : 0,
			      "page %zu written %u times before unmap", p,
			      atomic_load(&m.writes[p]));
	for (size_t p = 0; p < n; p++)
		expect_page(base + p * PG, p % 2 ? SEED : SEED2, p,
			    "read back under the limit");
	unmap_region(r);
	for (size_t p = 0; p < n; p++) {
		cr_assert_eq(atomic_load(&m.writes[p]), p % 2 == 0 ? 1 : 0,
			     "page %zu written %u times", p,
			     atomic_load(&m.writes[p]));
		expect_page(m.data + p * PG, p % 2 ? SEED : SEED2, p,
			    "store after unmap");
	}
	ms_close(&m, st);
}

/* Lowering the limit at run time evicts down to it before returning. */
PATH_TEST(evict, lower_limit_shrinks)
{
	const size_t n = 256;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 15, UMOVE_FILL_AUTO);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++)
		fill_page(base + p * PG, SEED2, p);
	cr_assert_eq(present_pages(base, n), n);
	cr_assert_eq(umove_region_resident(r), n * PG);

	expect_ret(umove_region_set_limit(r, 100 * PG), 0);
	cr_assert_leq(present_pages(base, n), 100);
	cr_assert_leq(umove_region_resident(r), 100 * PG);
	expect_ret(umove_region_set_limit(r, 10 * PG + PG / 2), 0);
	cr_assert_leq(present_pages(base, n), 10, "limit rounds down");
	s = stats(r);
	cr_assert_eq(s.limit_pages, 10);
	cr_assert_eq(s.evict_writes, n - s.resident_pages);
	cr_assert_eq(ms_total_writes(&m), n - s.resident_pages);

	/* Lifted: everything may come back. */
	expect_ret(umove_region_set_limit(r, 0), 0);
	expect_pages(base, n, SEED2, "after the limit was lifted");
	cr_assert_eq(present_pages(base, n), n);
	unmap_region(r);
	for (size_t p = 0; p < n; p++)
		cr_assert_eq(atomic_load(&m.writes[p]), 1,
			     "page %zu written %u times", p,
			     atomic_load(&m.writes[p]));
	expect_pages(m.data, n, SEED2, "store after unmap");
	ms_close(&m, st);
}

/* A failed write-back keeps the page resident and changed. */
PATH_TEST(evict, write_error_keeps_page)
{
	const size_t n = 64;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 0, UMOVE_FILL_MOVE);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++)
		fill_page(base + p * PG, SEED2, p);

	atomic_store(&m.write_err, -EIO);
	expect_ret(umove_region_set_limit(r, 16 * PG), -EIO);
	s = stats(r);
	cr_assert_gt(s.write_errors, 0);
	cr_assert_eq(s.evict_writes, 0);
	cr_assert_eq(present_pages(base, n), n, "a page left unwritten");
	expect_pages(base, n, SEED2, "pages after failed write-backs");
	expect_ret(umove_region_advise(r, 0, 8 * PG, UMOVE_ADV_DONTNEED), -EIO);
	expect_pages(base, 8, SEED2, "pages after a failed DONTNEED");

	atomic_store(&m.write_err, 0);
	expect_ret(umove_region_set_limit(r, 16 * PG), 0);
	cr_assert_leq(present_pages(base, n), 16);
	expect_pages(base, n, SEED2, "after the store recovered");
	unmap_region(r);
	expect_pages(m.data, n, SEED2, "store after unmap");
	ms_close(&m, st);
}

/* --- advice -------------------------------------------------------------- */

PATH_TEST(evict, advice)
{
	const size_t n = 64;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 0, UMOVE_FILL_AUTO);
	base = umove_region_addr(r);

	expect_ret(umove_region_advise(r, 8 * PG, 16 * PG, UMOVE_ADV_WILLNEED),
		   0);
	cr_assert_eq(present_pages(base + 8 * PG, 16), 16, "WILLNEED");
	cr_assert_eq(present_pages(base, 8), 0);
	s = settled(r, 16);
	cr_assert_eq(s.pages_filled, 16);

	fill_page(base + 10 * PG, SEED2, 10);
	expect_ret(umove_region_advise(r, 8 * PG, 8 * PG, UMOVE_ADV_DONTNEED),
		   0);
	cr_assert_eq(present_pages(base + 8 * PG, 8), 0, "DONTNEED");
	cr_assert_eq(present_pages(base + 16 * PG, 8), 8);
	cr_assert_eq(atomic_load(&m.writes[10]), 1);
	cr_assert_eq(ms_total_writes(&m), 1, "only the changed page written");
	expect_page(m.data + 10 * PG, SEED2, 10, "store after DONTNEED");
	expect_page(base + 10 * PG, SEED2, 10, "refetched after DONTNEED");

	/* COLD pages go first when room is needed. */
	expect_ret(umove_region_advise(r, 20 * PG, 4 * PG, UMOVE_ADV_COLD), 0);
	s = stats(r);
	expect_ret(umove_region_set_limit(r, (s.resident_pages - 4) * PG), 0);
	cr_assert_eq(present_pages(base + 20 * PG, 4), 0,
		     "the cold pages were not the victims");
	unmap_region(r);
	ms_close(&m, st);
}

/* --- the process-wide limit --------------------------------------------- */

/*
 * Two regions without limits of their own under a process-wide limit of
 * 64 pages: scanning both keeps their pages together under it, each from
 * evicting whichever region holds more.
 */
PATH_TEST(evict, global_limit_two_regions)
{
	const size_t n = 256, limit = 64;
	struct umove_region *r1, *r2;
	struct umove_store *st;
	struct mstore m;
	char *b1, *b2;
	size_t most = 0;

	use_path(*path);
	expect_ret(umove_set_global_limit(PG - 1), -EINVAL);
	expect_ret(umove_set_global_limit(limit * PG), 0);
	st = ms_open(&m, 2 * n);
	r1 = map_limited(st, n, 0, 1, 3, UMOVE_FILL_MOVE);
	b1 = umove_region_addr(r1);
	{
		struct umove_region_config *cfg = NULL;

		expect_ret(umove_region_config_new(&cfg), 0);
		expect_ret(umove_region_config_set_readahead(cfg, 3), 0);
		expect_ret(umove_region_config_set_flags(cfg, evict_flags), 0);
		expect_ret(umove_map(&r2, st, n, n * PG, cfg), 0);
		umove_region_config_free(cfg);
		hold(r2);
	}
	b2 = umove_region_addr(r2);
	for (size_t p = 0; p < n; p++) {
		size_t now;

		expect_page(b1 + p * PG, SEED, p, "region 1");
		fill_page(b2 + p * PG, SEED2, n + p);
		now = present_pages(b1, n) + present_pages(b2, n);
		most = now > most ? now : most;
	}
	cr_assert_leq(most, limit, "[%s] %zu pages present, global limit %zu",
		      path_label, most, limit);
	cr_assert_leq(umove_global_resident(), (limit + 2 * 4) * PG);
	cr_assert_eq(umove_global_resident(),
		     umove_region_resident(r1) + umove_region_resident(r2));
	for (size_t p = 0; p < n; p++) {
		expect_page(b1 + p * PG, SEED, p, "region 1, second pass");
		expect_page(b2 + p * PG, SEED2, n + p, "region 2, second pass");
	}
	/* Lowered: both shrink before the call returns. */
	expect_ret(umove_set_global_limit(16 * PG), 0);
	cr_assert_leq(present_pages(b1, n) + present_pages(b2, n), 16);
	cr_assert_leq(umove_global_resident(), 16 * PG);
	unmap_region(r1);
	unmap_region(r2);
	cr_assert_eq(umove_global_resident(), 0);
	for (size_t p = 0; p < n; p++) {
		expect_page(m.data + p * PG, SEED, p, "store, region 1");
		expect_page(m.data + (n + p) * PG, SEED2, n + p,
			    "store, region 2");
		cr_assert_eq(atomic_load(&m.writes[n + p]), 1,
			     "region 2 page %zu written %u times", p,
			     atomic_load(&m.writes[n + p]));
	}
	cr_assert_eq(ms_total_writes(&m), n, "region 1 pages written back");
	expect_ret(umove_set_global_limit(0), 0);
	ms_close(&m, st);
}

struct scanner {
	char *base;
	size_t pages, rounds, bad;
	pthread_t tid;
};

static void *scanner_main(void *arg)
{
	struct scanner *sc = arg;

	for (size_t k = 0; k < sc->rounds; k++)
		for (size_t p = 0; p < sc->pages; p++)
			sc->bad += !page_matches(sc->base + p * PG, SEED, p);
	return NULL;
}

/*
 * A region is unmapped, again and again, while faults in another region
 * evict from it for the process-wide limit: the unmap waits for those
 * evictions, and nothing is lost or crashes.
 */
PATH_TEST(evict, unmap_during_global_eviction)
{
	const size_t n = 128;
	struct umove_region *a;
	struct umove_store *st;
	struct scanner sc;
	struct mstore m;

	use_path(*path);
	st = ms_open(&m, 2 * n);
	a = map_limited(st, n, 0, 2, 0, UMOVE_FILL_MOVE);
	expect_ret(umove_set_global_limit(n / 2 * PG), 0);
	sc = (struct scanner){
		.base = umove_region_addr(a), .pages = n, .rounds = 40};
	cr_assert_eq(pthread_create(&sc.tid, NULL, scanner_main, &sc), 0);
	for (int round = 0; round < 30; round++) {
		struct umove_region *b = NULL;
		char *bb;

		expect_ret(umove_map(&b, st, n, n * PG, NULL), 0);
		bb = umove_region_addr(b);
		for (size_t p = 0; p < n; p += 2)
			fill_page(bb + p * PG, SEED2, n + p);
		expect_ret(umove_unmap(b), 0);
	}
	pthread_join(sc.tid, NULL);
	cr_assert_eq(sc.bad, 0, "%zu pages of region a read wrong", sc.bad);
	for (size_t p = 0; p < n; p++)
		expect_page(m.data + (n + p) * PG, p % 2 ? SEED : SEED2, n + p,
			    "store of the unmapped region");
	unmap_region(a);
	expect_ret(umove_set_global_limit(0), 0);
	ms_close(&m, st);
}

/* --- fork ---------------------------------------------------------------- */

/*
 * Region pages are never shared with a child (MADV_DONTFORK): the child
 * gets SIGSEGV on the region, and the parent's eviction, which a shared
 * page would refuse (EBUSY), still moves every page.
 */
PATH_TEST(evict, fork_shares_nothing)
{
	const size_t n = 64;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;
	pid_t pid;
	int status;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 0, UMOVE_FILL_MOVE);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++)
		fill_page(base + p * PG, SEED2, p);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		(void)*(volatile char *)base;
		_exit(0);
	}
	/* Evict while the child lives, and after. */
	expect_ret(umove_region_set_limit(r, 8 * PG), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		  "the child read the region: status %#x", status);
	s = stats(r);
	cr_assert_eq(s.evict_busy, 0, "a page was shared with the child");
	cr_assert_leq(present_pages(base, n), 8);
	expect_pages(base, n, SEED2, "parent after fork and eviction");
	unmap_region(r);
	expect_pages(m.data, n, SEED2, "store after unmap");
	ms_close(&m, st);
}

/*
 * An application that asks for its region to be inherited (MADV_DOFORK)
 * shares its pages with the child: the kernel will not move them (EBUSY),
 * so eviction copies them out and discards the parent's mapping. Nothing
 * is lost on either side: the parent reads the store's bytes back, the
 * child keeps its copy-on-write view.
 */
PATH_TEST(evict, page_shared_with_child_is_copied_out)
{
	const size_t n = 64, limit = 8;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	int go[2], status;
	char *base;
	pid_t pid;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 0, UMOVE_FILL_AUTO);
	base = umove_region_addr(r);
	for (size_t p = 0; p < n; p++)
		fill_page(base + p * PG, SEED2, p);
	cr_assert_eq(madvise(base, n * PG, MADV_DOFORK), 0);
	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		for (size_t p = 0; p < n; p++)
			if (!page_matches(base + p * PG, SEED2, p))
				_exit(1);
		_exit(0);
	}
	close(go[0]);
	expect_ret(umove_region_set_limit(r, limit * PG), 0);
	s = stats(r);
	cr_assert_eq(s.evict_busy, 0, "[%s] a shared victim was kept",
		     path_label);
	cr_assert_geq(s.pages_evicted, n - limit, "[%s]", path_label);
	cr_assert_geq(s.evict_writes, n - limit,
		      "[%s] changed pages not written back", path_label);
	cr_assert_leq(present_pages(base, n), limit, "[%s]", path_label);
	expect_pages(m.data, n - limit, SEED2, "store after the eviction");
	cr_assert_eq(write(go[1], "x", 1), 1);
	close(go[1]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "[%s] the child's view changed: status %#x", path_label,
		  status);
	expect_pages(base, n, SEED2, "parent after the eviction");
	unmap_region(r);
	ms_close(&m, st);
}

/* --- pages the kernel will not move ------------------------------------- */

/* Pins pages as I/O does: an io_uring fixed buffer (FOLL_PIN, long-term). */
static int pin_pages(void *addr, size_t len)
{
	struct io_uring_params params = {0};
	struct iovec iov = {addr, len};
	int ring = (int)syscall(__NR_io_uring_setup, 1, &params);

	if (ring < 0)
		cr_skip_test("io_uring is unavailable here (%s): it pins pages",
			     strerror(errno));
	cr_assert_eq(syscall(__NR_io_uring_register, ring,
			     IORING_REGISTER_BUFFERS, &iov, 1),
		     0, "io_uring could not pin the page: %s", strerror(errno));
	return ring;
}

/*
 * A pinned page cannot be moved out (EBUSY): it is copied out instead,
 * written back if changed, and discarded, and the next touch reads the
 * written bytes back. Nothing stays behind as busy.
 */
Test(evict, pinned_page_is_copied_out)
{
	const size_t n = 16;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;
	char *base;
	int ring;

	use_flags(0);
	st = ms_open(&m, n);
	r = map_limited(st, n, 0, 1, 0, UMOVE_FILL_MOVE);
	base = umove_region_addr(r);
	fill_page(base + 3 * PG, SEED2, 3);
	expect_page(base + 4 * PG, SEED, 4, "an unpinned page");
	ring = pin_pages(base + 3 * PG, PG);
	expect_ret(umove_region_advise(r, 3 * PG, 2 * PG, UMOVE_ADV_DONTNEED),
		   0);
	cr_assert_eq(present_pages(base + 3 * PG, 2), 0,
		     "the pinned page or its neighbour stayed");
	s = stats(r);
	cr_assert_eq(s.evict_busy, 0, "a victim was kept");
	cr_assert_eq(s.evict_writes, 1, "the changed page was not written");
	expect_page(m.data + 3 * PG, SEED2, 3, "store after the copy-out");
	expect_page(base + 3 * PG, SEED2, 3, "refetched after the copy-out");
	expect_page(base + 4 * PG, SEED, 4, "neighbour refetched");
	close(ring);
	unmap_region(r);
	ms_close(&m, st);
}

/* --- the model test ------------------------------------------------------ */

/*
 * 8 threads do a fixed number of random reads and writes over a large
 * region under a small limit. Thread t writes only pages p with
 * p % 8 == t, so the model (a version per page; page contents are
 * fill_page(SEED2 + version)) needs no lock; reads are of the thread's own
 * pages too, so a read never races a write. A sampler checks that present
 * pages never exceed the limit; at the end every byte is compared, in the
 * region and, after unmap, in the store. As root, the kernel migrates pages
 * meanwhile (a compactor thread): moves then retry inside the kernel, the
 * case in which Linux 6.18 reports pages moved as not moved (this test
 * found it: test_move_settle.c).
 */
#define MODEL_THREADS 8

struct model {
	char *base;
	size_t pages, limit;
	struct umove_region *r;
	struct mstore *ms; /* what the store holds, for failure messages */
	uint8_t *version;  /* 0: the store's original */
	size_t ops;
	atomic_bool stop;
	size_t samples, most_charged;
	long long worst; /* present - (limit + fills during the sample) */
};

struct model_worker {
	struct model *m;
	unsigned id;
	pthread_t tid;
	size_t bad, first_bad;
	/* Versions, for the failure message: held, wanted, in the store. */
	int first_held, first_want, first_stored;
	unsigned first_writes; /* store writes of that page so far */
};

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool model_page_ok(const struct model *m, size_t p)
{
	uint8_t v = m->version[p];

	return v ? page_matches(m->base + p * PG, SEED2 + v, p)
		 : page_matches(m->base + p * PG, SEED, p);
}

/* Which version page p at base holds, for a failure message: -1 if none. */
static int held_version(const char *base, size_t p)
{
	if (page_matches(base + p * PG, SEED, p))
		return 0;
	for (int v = 1; v <= 200; v++)
		if (page_matches(base + p * PG, SEED2 + v, p))
			return v;
	return -1;
}

static void *model_main(void *arg)
{
	struct model_worker *w = arg;
	struct model *m = w->m;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
	size_t mine = m->pages / MODEL_THREADS;

	for (size_t i = 0; i < m->ops; i++) {
		uint64_t x = xs(&seed);
		size_t p = (size_t)(x % mine) * MODEL_THREADS + w->id;

		if (x >> 62 == 0) { /* a quarter are writes */
			uint8_t v = (uint8_t)(m->version[p] % 200 + 1);

			fill_page(m->base + p * PG, SEED2 + v, p);
			m->version[p] = v;
		} else if (!model_page_ok(m, p) && !w->bad++) {
			w->first_bad = p;
			w->first_held = held_version(m->base, p);
			w->first_want = m->version[p];
			w->first_stored = held_version(m->ms->data, p);
			w->first_writes = atomic_load(&m->ms->writes[p]);
		}
	}
	return NULL;
}

static uint64_t filled_now(const struct umove_region *r)
{
	struct umove_stats s = {.size = sizeof(s)};

	return umove_region_stats(r, &s) ? 0 : s.pages_filled;
}

/*
 * The limit holds at every instant: present <= charged <= limit. A pagemap
 * read is not instantaneous, so a sample may also count pages filled
 * while it ran (after others it counted were evicted): those are bounded
 * by pages_filled before and after, plus one in-flight run per handler
 * whose count comes just after its install.
 */
static void *sampler_main(void *arg)
{
	struct model *m = arg;

	m->worst = LLONG_MIN;
	while (!atomic_load(&m->stop)) {
		uint64_t f0 = filled_now(m->r);
		size_t charged = umove_region_resident(m->r) / PG;
		size_t now = present_pages(m->base, m->pages);
		uint64_t f1 = filled_now(m->r);
		long long over;

		if (charged > m->most_charged)
			m->most_charged = charged;
		if (now == SIZE_MAX)
			continue;
		over = (long long)now - (long long)(m->limit + (f1 - f0));
		if (over > m->worst)
			m->worst = over;
		m->samples++;
		sleep_ms(1);
	}
	return NULL;
}

static size_t model_mib(void)
{
	const char *env = getenv("UMOVE_TEST_STRESS_MIB");
	unsigned long mib = env ? strtoul(env, NULL, 10) : 0;

	return mib ? mib : 1024;
}

ParameterizedTestParameters(evict_model, random_rw)
{
	static struct fill_param p[] = {{UMOVE_FILL_MOVE, 3, 0},
					{UMOVE_FILL_COPY, 3, 0},
					{UMOVE_FILL_COPY, 3, UMOVE_EMULATE}};
	return cr_make_param_array(struct fill_param, p, 3);
}

/* 1 GiB under a 64 MiB limit (UMOVE_TEST_STRESS_MIB: less, in a guest). */
ParameterizedTest(struct fill_param *fp, evict_model, random_rw)
{
	const size_t n = model_mib() << 20 >> 12, limit = n / 16;
	struct model_worker w[MODEL_THREADS];
	/* 40,000 per thread at 1 GiB: as many per page at any size. */
	struct model m = {.pages = n, .ops = 40000 * model_mib() / 1024};
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct compactor comp;
	struct mstore ms;
	pthread_t sampler;

	use_flags(fp->flags);
	need_4k();
	st = ms_open(&ms, n);
	r = map_limited(st, n, limit, 4, fp->readahead, fp->fill);
	m.base = umove_region_addr(r);
	m.r = r;
	m.ms = &ms;
	m.limit = limit;
	m.version = calloc(n, 1);
	cr_assert_not_null(m.version);
	hold(m.version);
	cr_assert_eq(pthread_create(&sampler, NULL, sampler_main, &m), 0);
	compactor_start(&comp);
	for (unsigned i = 0; i < MODEL_THREADS; i++) {
		w[i] = (struct model_worker){.m = &m, .id = i};
		cr_assert_eq(pthread_create(&w[i].tid, NULL, model_main, &w[i]),
			     0);
	}
	for (unsigned i = 0; i < MODEL_THREADS; i++)
		pthread_join(w[i].tid, NULL);
	compactor_stop(&comp);
	atomic_store(&m.stop, true);
	pthread_join(sampler, NULL);

	s = stats(r);
	for (unsigned i = 0; i < MODEL_THREADS; i++)
		cr_assert_eq(w[i].bad, 0,
			     "thread %u: %zu reads differ from the model, "
			     "first page %zu (held version %d, want %d; the "
			     "store held %d after %u writes); stats: %llu "
			     "evicted, %llu written, %llu busy, %llu races "
			     "lost, %llu joined",
			     i, w[i].bad, w[i].first_bad, w[i].first_held,
			     w[i].first_want, w[i].first_stored,
			     w[i].first_writes,
			     (unsigned long long)s.pages_evicted,
			     (unsigned long long)s.evict_writes,
			     (unsigned long long)s.evict_busy,
			     (unsigned long long)s.races_lost,
			     (unsigned long long)s.faults_joined);
	cr_assert_gt(m.samples, 0);
	/* A run is charged when claimed, before room is made for it. */
	cr_assert_leq(m.most_charged,
		      limit + s.limit_overshoot + 4 * (1 + fp->readahead),
		      "%zu pages charged, limit %zu (+%llu overshoot)",
		      m.most_charged, limit,
		      (unsigned long long)s.limit_overshoot);
	cr_assert_leq(m.worst, (long long)(s.limit_overshoot + 4 * 4),
		      "a sample found %lld pages over the limit and the fills "
		      "during the sample",
		      m.worst);
	cr_assert_leq(present_pages(m.base, n), limit + s.limit_overshoot,
		      "present pages at rest");
	cr_assert_gt(s.pages_evicted, 0);
	cr_assert_gt(s.evict_writes, 0);
	cr_assert_eq(s.read_errors + s.write_errors + s.pages_poisoned, 0);
	for (size_t p = 0; p < n; p++)
		cr_assert(model_page_ok(&m, p),
			  "page %zu differs from the model: it holds version "
			  "%d, the model says %d (-1: none)",
			  p, held_version(m.base, p), m.version[p]);
	unmap_region(r);
	for (size_t p = 0; p < n; p++) {
		uint8_t v = m.version[p];

		expect_page(ms.data + p * PG, v ? SEED2 + v : SEED, p,
			    "store after unmap");
	}
	drop(m.version);
	free(m.version);
	ms_close(&ms, st);
}

/* --- the application's discards during eviction ------------------------- */

#define DISCARD_THREADS 4

struct discarder {
	char *base;
	size_t pages, ops, bad, first_bad;
	unsigned id;
	pthread_t tid;
};

/*
 * Writes, discards (MADV_DONTNEED) and reads of the thread's own pages. A
 * read after a discard may see any version the thread wrote since, or
 * before, the store's original: whichever the eviction had written back
 * when the discard came. It must never see anything else.
 */
static void *discarder_main(void *arg)
{
	struct discarder *d = arg;
	uint64_t seed = 0x2545f4914f6cdd1dull * (d->id + 1);
	size_t mine = d->pages / DISCARD_THREADS;
	uint8_t *version = calloc(mine, 1);

	for (size_t i = 0; version && i < d->ops; i++) {
		uint64_t x = xs(&seed);
		size_t k = (size_t)(x % mine);
		char *page = d->base + (k * DISCARD_THREADS + d->id) * PG;
		int held;

		switch (x >> 62) {
		case 0:
			version[k] = (uint8_t)(version[k] % 200 + 1);
			fill_page(page, SEED2 + version[k],
				  k * DISCARD_THREADS + d->id);
			break;
		case 1:
			madvise(page, PG, MADV_DONTNEED);
			break;
		default:
			held = held_version(d->base,
					    k * DISCARD_THREADS + d->id);
			if (held < 0 && !d->bad++)
				d->first_bad = k * DISCARD_THREADS + d->id;
		}
	}
	free(version);
	return NULL;
}

PATH_TEST(evict, discards_during_eviction)
{
	const size_t n = 2048, limit = 128;
	struct discarder d[DISCARD_THREADS];
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct mstore m;

	use_path(*path);
	st = ms_open(&m, n);
	r = map_limited(st, n, limit, 2, 3, UMOVE_FILL_AUTO);
	for (unsigned i = 0; i < DISCARD_THREADS; i++) {
		/* 20,000 at full size: fewer in a guest
		 * (UMOVE_TEST_STRESS_MIB). */
		d[i] = (struct discarder){.base = umove_region_addr(r),
					  .pages = n,
					  .ops = 20000 * model_mib() / 1024,
					  .id = i};
		cr_assert_eq(
			pthread_create(&d[i].tid, NULL, discarder_main, &d[i]),
			0);
	}
	for (unsigned i = 0; i < DISCARD_THREADS; i++)
		pthread_join(d[i].tid, NULL);
	for (unsigned i = 0; i < DISCARD_THREADS; i++)
		cr_assert_eq(d[i].bad, 0,
			     "[%s] thread %u: %zu reads held no version, "
			     "first page %zu",
			     path_label, i, d[i].bad, d[i].first_bad);
	s = stats(r);
	cr_assert_gt(s.pages_evicted, 0);
	cr_assert_eq(s.read_errors + s.write_errors + s.pages_poisoned, 0);
	cr_assert_leq(present_pages(umove_region_addr(r), n),
		      limit + s.limit_overshoot);
	unmap_region(r);
	ms_close(&m, st);
}
