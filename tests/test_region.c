/* SPDX-License-Identifier: MIT */
/*
 * Regions on a store of the test's own (an array in memory): configuration
 * limits, bad arguments, every page read back byte for byte, writes synced
 * into the store, unmap and remap, read-ahead, one store read for many
 * faults on one page, and the statistics. Native and emulated moves through
 * PATH_TEST (umove_region_config_set_flags(cfg, UMOVE_EMULATE)).
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

TestSuite(region, .timeout = TEST_TIMEOUT);

#define SEED 0x52  /* what the store holds: store page i is (SEED, i) */
#define SEED2 0x53 /* what the tests write: region page j is (SEED2, j) */

/*
 * A store in an anonymous mapping. Counts reads and writes per page and
 * remembers any call that broke the store contract (out of bounds,
 * unaligned buffer).
 */
struct arr {
	char *data;
	size_t pages;
	long read_delay_ms;
	_Atomic unsigned *reads;
	_Atomic unsigned *writes;
	atomic_uint read_calls, bad_calls, syncs, closes;
};

static bool arr_call_ok(struct arr *a, uint64_t index, size_t count,
			const void *buf)
{
	bool ok = count && index < a->pages && count <= a->pages - index &&
		  !((uintptr_t)buf & (PG - 1));

	if (!ok)
		atomic_fetch_add(&a->bad_calls, 1);
	return ok;
}

static int arr_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct arr *a = priv;

	if (!arr_call_ok(a, index, count, buf))
		return -EINVAL;
	atomic_fetch_add(&a->read_calls, 1);
	if (a->read_delay_ms)
		sleep_ms(a->read_delay_ms);
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&a->reads[index + i], 1);
	memcpy(buf, a->data + index * PG, count * PG);
	return 0;
}

static int arr_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct arr *a = priv;

	if (!arr_call_ok(a, index, count, buf))
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&a->writes[index + i], 1);
	memcpy(a->data + index * PG, buf, count * PG);
	return 0;
}

static int arr_sync(void *priv)
{
	struct arr *a = priv;

	atomic_fetch_add(&a->syncs, 1);
	return 0;
}

static void arr_close(void *priv)
{
	struct arr *a = priv;

	atomic_fetch_add(&a->closes, 1);
}

static const struct umove_store_ops arr_ops = {
	.read = arr_read,
	.write = arr_write,
	.sync = arr_sync,
	.close = arr_close,
};

static void arr_init(struct arr *a, size_t pages)
{
	memset(a, 0, sizeof(*a));
	a->pages = pages;
	a->data = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a->data, MAP_FAILED);
	fill_pages(a->data, pages, SEED);
	a->reads = calloc(pages, sizeof(*a->reads));
	a->writes = calloc(pages, sizeof(*a->writes));
	hold(a->reads);
	hold(a->writes);
	cr_assert(a->reads && a->writes);
}

static void arr_fini(struct arr *a)
{
	munmap(a->data, a->pages * PG);
	drop(a->reads);
	drop(a->writes);
	free(a->reads);
	free(a->writes);
}

static struct umove_store *arr_store(struct arr *a,
				     const struct umove_store_ops *ops)
{
	struct umove_store *st = NULL;

	expect_ret(umove_store_open(&st, ops, sizeof(*ops), a, a->pages), 0);
	hold(st);
	cr_assert_not_null(st);
	return st;
}

/*
 * Skips (before anything is allocated) where userfaultfd is not permitted
 * or the path is missing; returns the capabilities.
 */
static unsigned require_uffd(void)
{
	struct umove *um = open_default();
	unsigned caps = umove_caps(um);

	close_um(um);
	path_label = "default";
	return caps;
}

static unsigned require_region(enum um_path path)
{
	unsigned caps = require_uffd();
	const char *env = getenv("UMOVE_EMULATE");

	path_label = path == NATIVE ? "native" : "emulated";
	if (path == NATIVE && !(caps & UMOVE_CAP_NATIVE_MOVE))
		cr_skip_test("kernel lacks UFFDIO_MOVE (Linux < 6.8)");
	if (path == NATIVE && env && *env && strcmp(env, "0") != 0)
		cr_skip_test("UMOVE_EMULATE set in the environment");
	return caps;
}

static struct umove_region_config *make_cfg(enum um_path path, unsigned threads,
					    unsigned readahead, int fill)
{
	struct umove_region_config *cfg = NULL;

	expect_ret(umove_region_config_new(&cfg), 0);
	cr_assert_not_null(cfg);
	hold(cfg);
	expect_ret(umove_region_config_set_threads(cfg, threads), 0);
	expect_ret(umove_region_config_set_readahead(cfg, readahead), 0);
	expect_ret(umove_region_config_set_fill(cfg, fill), 0);
	expect_ret(umove_region_config_set_flags(
			   cfg, path == EMULATED ? UMOVE_EMULATE : 0),
		   0);
	return cfg;
}

static struct umove_region *map_region(struct umove_store *st, uint64_t first,
				       size_t pages,
				       const struct umove_region_config *cfg)
{
	struct umove_region *r = NULL;

	expect_ret(umove_map(&r, st, first, pages * PG, cfg), 0);
	hold(r);
	cr_assert_not_null(r);
	cr_assert_not_null(umove_region_addr(r));
	cr_assert_eq((uintptr_t)umove_region_addr(r) & (PG - 1), 0);
	cr_assert_eq(umove_region_len(r), pages * PG);
	return r;
}

/* Region pages [0, n) against store pages [first, first + n). */
static void expect_store_pages(const char *base, size_t n, uint64_t first,
			       const char *what)
{
	for (size_t j = 0; j < n; j++)
		expect_page(base + j * PG, SEED, first + j, what);
}

static void unmap_and_close(struct umove_region *r, struct umove_store *st,
			    struct arr *a)
{
	expect_ret(umove_store_close(st), -EBUSY);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	cr_assert_eq(atomic_load(&a->closes), 1, "store close callback calls");
	cr_assert_eq(atomic_load(&a->bad_calls), 0,
		     "[%s] store called out of bounds or unaligned",
		     path_label);
	arr_fini(a);
}

/* --- configuration --------------------------------------------------- */

Test(region, config_limits)
{
	struct umove_region_config *cfg = NULL;

	expect_ret(umove_region_config_new(NULL), -EINVAL);
	expect_ret(umove_region_config_new(&cfg), 0);
	cr_assert_not_null(cfg);
	hold(cfg);

	expect_ret(umove_region_config_set_threads(cfg, 0), -EINVAL);
	expect_ret(umove_region_config_set_threads(cfg, 65), -EINVAL);
	expect_ret(umove_region_config_set_threads(cfg, UINT32_MAX), -EINVAL);
	expect_ret(umove_region_config_set_threads(cfg, 1), 0);
	expect_ret(umove_region_config_set_threads(cfg, 64), 0);

	expect_ret(umove_region_config_set_readahead(cfg, 1024), -EINVAL);
	expect_ret(umove_region_config_set_readahead(cfg, UINT32_MAX), -EINVAL);
	expect_ret(umove_region_config_set_readahead(cfg, 0), 0);
	expect_ret(umove_region_config_set_readahead(cfg, 1023), 0);

	expect_ret(umove_region_config_set_fill(cfg, -1), -EINVAL);
	expect_ret(umove_region_config_set_fill(cfg, UMOVE_FILL_COPY + 1),
		   -EINVAL);
	expect_ret(umove_region_config_set_fill(cfg, UMOVE_FILL_AUTO), 0);
	expect_ret(umove_region_config_set_fill(cfg, UMOVE_FILL_MOVE), 0);
	expect_ret(umove_region_config_set_fill(cfg, UMOVE_FILL_COPY), 0);

	expect_ret(umove_region_config_set_flags(cfg, 1u << 2), -EINVAL);
	expect_ret(umove_region_config_set_flags(cfg, UMOVE_EVICT_COPY), 0);
	expect_ret(umove_region_config_set_flags(cfg, 1u << 31), -EINVAL);
	expect_ret(umove_region_config_set_flags(cfg, ~0u), -EINVAL);
	expect_ret(umove_region_config_set_flags(cfg, UMOVE_EMULATE), 0);
	expect_ret(umove_region_config_set_flags(cfg, 0), 0);

	expect_ret(umove_region_config_set_retries(cfg, 101), -EINVAL);
	expect_ret(umove_region_config_set_retries(cfg, UINT32_MAX), -EINVAL);
	expect_ret(umove_region_config_set_retries(cfg, 100), 0);
	expect_ret(umove_region_config_set_retries(cfg, 0), 0);

	expect_ret(umove_region_config_set_threads(NULL, 1), -EINVAL);
	expect_ret(umove_region_config_set_readahead(NULL, 0), -EINVAL);
	expect_ret(umove_region_config_set_fill(NULL, UMOVE_FILL_AUTO),
		   -EINVAL);
	expect_ret(umove_region_config_set_flags(NULL, 0), -EINVAL);
	expect_ret(umove_region_config_set_retries(NULL, 0), -EINVAL);

	drop(cfg);
	umove_region_config_free(cfg);
	umove_region_config_free(NULL);
}

/* A rejected setting leaves the previous value: readahead stays 0. */
Test(region, rejected_setting_keeps_previous_value)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_region(EMULATED);
	cfg = make_cfg(EMULATED, 1, 0, UMOVE_FILL_COPY);
	expect_ret(umove_region_config_set_readahead(cfg, 1024), -EINVAL);
	expect_ret(umove_region_config_set_threads(cfg, 0), -EINVAL);
	arr_init(&a, 32);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 32, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);
	expect_store_pages(base, 32, 0, "sequential scan");
	s = settled_stats(r, 32);
	cr_assert_eq(s.faults_served, 32, "faults_served %llu, want 32",
		     (unsigned long long)s.faults_served);
	cr_assert_eq(s.readahead_pages, 0);
	unmap_and_close(r, st, &a);
}

/* A NULL config: defaults (1 thread, read-ahead 15, AUTO fill). */
Test(region, null_config_uses_defaults)
{
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_uffd();
	arr_init(&a, 64);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 64, NULL);
	base = umove_region_addr(r);
	expect_store_pages(base, 64, 0, "sequential scan, default config");
	s = settled_stats(r, 64);
	cr_assert_eq(s.faults_served, 4,
		     "64 pages in 16-page runs: faults_served %llu, want 4",
		     (unsigned long long)s.faults_served);
	cr_assert_eq(s.readahead_pages, 60);
	cr_assert_eq(s.pages_filled, 64);
	cr_assert_gt(s.copies, 0, "AUTO copies");
	cr_assert_eq(s.moves, 0, "AUTO moved");
	unmap_and_close(r, st, &a);
}

/*
 * AUTO is COPY on both paths, as measured by `umove bench fault`: a move
 * empties the staging page, whose refill costs more than the copy saved.
 */
PATH_TEST(region, fill_auto_copies)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;

	require_region(*path);
	cfg = make_cfg(*path, 1, 3, UMOVE_FILL_AUTO);
	arr_init(&a, 16);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 16, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	expect_store_pages(umove_region_addr(r), 16, 0, "AUTO fill");
	s = settled_stats(r, 16);
	cr_assert_eq(s.copies, 4, "[%s] AUTO copies %llu, want 4", path_label,
		     (unsigned long long)s.copies);
	cr_assert_eq(s.moves, 0);
	unmap_and_close(r, st, &a);
}

/* --- bad arguments --------------------------------------------------- */

Test(region, map_bad_args)
{
	struct umove_region *r = (struct umove_region *)&r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;

	require_uffd();
	arr_init(&a, 8);
	st = arr_store(&a, &arr_ops);

	expect_ret(umove_map(NULL, st, 0, PG, NULL), -EINVAL);
	expect_ret(umove_map(&r, NULL, 0, PG, NULL), -EINVAL);
	expect_ret(umove_map(&r, st, 0, 0, NULL), -EINVAL);
	expect_ret(umove_map(&r, st, 0, PG + 1, NULL), -EINVAL);
	expect_ret(umove_map(&r, st, 0, PG / 2, NULL), -EINVAL);
	expect_ret(umove_map(&r, st, 0, 9 * PG, NULL), -ERANGE);
	expect_ret(umove_map(&r, st, 0, SIZE_MAX & ~(PG - 1), NULL), -ERANGE);
	expect_ret(umove_map(&r, st, 8, PG, NULL), -ERANGE);
	expect_ret(umove_map(&r, st, 9, PG, NULL), -ERANGE);
	expect_ret(umove_map(&r, st, 7, 2 * PG, NULL), -ERANGE);
	expect_ret(umove_map(&r, st, UINT64_MAX, PG, NULL), -ERANGE);
	expect_ret(umove_map(&r, st, UINT64_MAX - 1, 4 * PG, NULL), -ERANGE);
	cr_assert_eq(r, (struct umove_region *)&r,
		     "a failed umove_map wrote *out");

	expect_ret(umove_region_sync(NULL), -EINVAL);
	s.size = sizeof(s);
	expect_ret(umove_region_stats(NULL, &s), -EINVAL);
	expect_ret(umove_unmap(NULL), -EINVAL);
	cr_assert_null(umove_region_addr(NULL));
	cr_assert_eq(umove_region_len(NULL), 0);

	/* None of the failures left the store marked as mapped. */
	expect_ret(umove_store_close(st), 0);
	drop(st);
	cr_assert_eq(atomic_load(&a.read_calls), 0);
	arr_fini(&a);
}

/*
 * A region unmapped once is not live any more: every region call says
 * EBADF (addr and len say NULL and 0) instead of touching freed memory.
 */
Test(region, calls_after_unmap)
{
	struct umove_region *r, *never = (struct umove_region *)&never;
	struct umove_store *st;
	struct umove_stats s = {.size = sizeof(s)};
	struct arr a;

	require_uffd();
	arr_init(&a, 4);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 4, NULL);
	expect_page(umove_region_addr(r), SEED, 0, "page 0");
	fill_page(umove_region_addr(r), SEED2, 0);
	cr_assert_eq(umove_region_len(r), 4 * PG);

	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_page(a.data, SEED2, 0, "store after unmap");
	expect_ret(umove_unmap(r), -EBADF);
	expect_ret(umove_unmap_discard(r), -EBADF);
	expect_ret(umove_region_sync(r), -EBADF);
	expect_ret(umove_region_stats(r, &s), -EBADF);
	cr_assert_null(umove_region_addr(r));
	cr_assert_eq(umove_region_len(r), 0);
	cr_assert_eq(atomic_load(&a.writes[0]), 1, "page 0 written %u times",
		     atomic_load(&a.writes[0]));

	/* Something that was never a region, as well. */
	expect_ret(umove_unmap(never), -EBADF);
	expect_ret(umove_region_sync(never), -EBADF);
	cr_assert_null(umove_region_addr(never));

	expect_ret(umove_unmap_discard(NULL), -EINVAL);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

/* umove_unmap_discard writes nothing back, and releases everything. */
Test(region, discard_writes_nothing)
{
	struct umove_region *r;
	struct umove_store *st;
	struct arr a;
	char *base;

	require_uffd();
	arr_init(&a, 8);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 8, NULL);
	base = umove_region_addr(r);
	for (size_t p = 0; p < 8; p++)
		fill_page(base + p * PG, SEED2, p);

	expect_ret(umove_unmap_discard(r), 0);
	drop(r);
	for (size_t p = 0; p < 8; p++) {
		cr_assert_eq(atomic_load(&a.writes[p]), 0);
		expect_page(a.data + p * PG, SEED, p, "store after discard");
	}
	cr_assert_eq(atomic_load(&a.syncs), 0);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	cr_assert_eq(atomic_load(&a.closes), 1);
	arr_fini(&a);
}

struct unmapper {
	struct umove_region *r;
	pthread_barrier_t *go;
	bool discard;
	int ret;
};

static void *unmapper_main(void *arg)
{
	struct unmapper *u = arg;

	pthread_barrier_wait(u->go);
	u->ret = u->discard ? umove_unmap_discard(u->r) : umove_unmap(u->r);
	return NULL;
}

/* Two threads unmap one region at once: one releases it, one gets EBADF. */
Test(region, concurrent_unmaps)
{
	struct umove_store *st;
	struct arr a;

	require_uffd();
	arr_init(&a, 4);
	st = arr_store(&a, &arr_ops);
	for (int round = 0; round < 20; round++) {
		struct umove_region *r = map_region(st, 0, 4, NULL);
		struct unmapper u[2];
		pthread_barrier_t go;
		pthread_t t[2];

		expect_page(umove_region_addr(r), SEED, 0, "page 0");
		pthread_barrier_init(&go, NULL, 2);
		for (int i = 0; i < 2; i++) {
			u[i] = (struct unmapper){r, &go, (round + i) % 3 == 0,
						 1};
			cr_assert_eq(pthread_create(&t[i], NULL, unmapper_main,
						    &u[i]),
				     0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		drop(r);
		cr_assert((u[0].ret == 0 && u[1].ret == -EBADF) ||
				  (u[0].ret == -EBADF && u[1].ret == 0),
			  "round %d: the unmaps returned %d and %d", round,
			  u[0].ret, u[1].ret);
	}
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

Test(region, stats_bad_args)
{
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct {
		struct umove_stats s;
		uint64_t newer_field;
	} big;
	struct arr a;

	require_uffd();
	arr_init(&a, 4);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 4, NULL);

	expect_ret(umove_region_stats(r, NULL), -EINVAL);
	s.size = 0;
	expect_ret(umove_region_stats(r, &s), -EINVAL);
	s.size = UMOVE_STATS_V1_SIZE - 1;
	expect_ret(umove_region_stats(r, &s), -EINVAL);
	s.size = offsetof(struct umove_stats, fill_ns_p99);
	expect_ret(umove_region_stats(r, &s), -EINVAL);
	/* A caller built against version 1 gets its fields, nothing past. */
	memset(&big, 0xa5, sizeof(big));
	big.s.size = UMOVE_STATS_V1_SIZE;
	expect_ret(umove_region_stats(r, &big.s), 0);
	cr_assert_eq(big.s.size, UMOVE_STATS_V1_SIZE);
	cr_assert_eq(big.s.version, UMOVE_STATS_VERSION);
	cr_assert_eq(big.s.fill_ns_p99, 0);
	cr_assert_eq(big.s.pages_evicted, 0xa5a5a5a5a5a5a5a5ull,
		     "a version 1 caller's memory past its struct was written");
	/* A caller built against a newer, larger struct is served. */
	big.s.size = sizeof(big);
	expect_ret(umove_region_stats(r, &big.s), 0);
	cr_assert_eq(big.s.size, sizeof(big));
	cr_assert_eq(big.s.version, UMOVE_STATS_VERSION);

	unmap_and_close(r, st, &a);
}

/* --- reading, writing, syncing -------------------------------------- */

/*
 * Store of 72 pages, region of 64 from store page 8: every page reads back
 * byte for byte; writes reach the store on sync and only then; the store
 * cannot close while mapped.
 */
PATH_TEST(region, read_write_sync)
{
	const size_t first = 8, n = 64;
	const size_t written[] = {0, 3, 10, 11, 12, 63};
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_region(*path);
	cfg = make_cfg(*path, 2, 7, UMOVE_FILL_MOVE);
	arr_init(&a, first + n);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, first, n, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	expect_store_pages(base, n, first, "first read");
	for (size_t i = 0; i < first; i++)
		cr_assert_eq(atomic_load(&a.reads[i]), 0,
			     "[%s] store page %zu before the region was read",
			     path_label, i);
	for (size_t i = first; i < first + n; i++)
		cr_assert_eq(atomic_load(&a.reads[i]), 1,
			     "[%s] store page %zu read %u times", path_label, i,
			     atomic_load(&a.reads[i]));

	for (size_t k = 0; k < sizeof(written) / sizeof(written[0]); k++)
		fill_page(base + written[k] * PG, SEED2, written[k]);
	/* And one byte in an otherwise unchanged page. */
	base[20 * PG + 100] ^= 0x5a;

	/* Nothing reaches the store before a sync. */
	expect_page(a.data + (first + 3) * PG, SEED, first + 3,
		    "store before sync");
	expect_ret(umove_region_sync(r), 0);
	cr_assert_eq(atomic_load(&a.syncs), 1, "store sync callback calls");

	for (size_t j = 0; j < n; j++) {
		bool w = false;

		for (size_t k = 0; k < sizeof(written) / sizeof(written[0]);
		     k++)
			w |= written[k] == j;
		cr_assert_eq(
			memcmp(a.data + (first + j) * PG, base + j * PG, PG), 0,
			"[%s] store page %zu differs from region page "
			"%zu after sync",
			path_label, first + j, j);
		if (w)
			expect_page(a.data + (first + j) * PG, SEED2, j,
				    "store page after sync");
		else if (j != 20)
			expect_page(a.data + (first + j) * PG, SEED, first + j,
				    "unwritten store page after sync");
	}
	for (size_t i = 0; i < first; i++)
		expect_page(a.data + i * PG, SEED, i, "store outside region");
	/* Only the changed pages are written: the six, and page 20. */
	s = region_stats_now(r);
	for (size_t j = 0; j < n; j++) {
		bool w = j == 20;

		for (size_t k = 0; k < sizeof(written) / sizeof(written[0]);
		     k++)
			w |= written[k] == j;
		cr_assert_eq(atomic_load(&a.writes[first + j]), w ? 1 : 0,
			     "[%s] store page %zu written %u times", path_label,
			     first + j, atomic_load(&a.writes[first + j]));
	}
	cr_assert_eq(s.bytes_written, 7 * PG, "bytes_written %llu, want %zu",
		     (unsigned long long)s.bytes_written, 7 * PG);
	cr_assert_eq(s.sync_clean, n - 7);
	cr_assert_eq(s.write_errors, 0);
	cr_assert_eq(s.bytes_read, n * PG);

	/* The region still reads what was written. */
	expect_page(base + 3 * PG, SEED2, 3, "region page after sync");
	expect_page(base + 4 * PG, SEED, first + 4, "region page after sync");
	unmap_and_close(r, st, &a);
}

/* A first touch that writes one byte: the rest of the page is the store's. */
PATH_TEST(region, first_touch_by_write)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct arr a;
	uint8_t want[PG];
	char *base;

	require_region(*path);
	cfg = make_cfg(*path, 1, 0, UMOVE_FILL_MOVE);
	arr_init(&a, 4);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 4, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	base[2 * PG + 7] = 0x11;
	fill_page(want, SEED, 2);
	want[7] = 0x11;
	cr_assert_eq(memcmp(base + 2 * PG, want, PG), 0,
		     "[%s] page written first does not hold the store's bytes",
		     path_label);
	expect_ret(umove_region_sync(r), 0);
	cr_assert_eq(memcmp(a.data + 2 * PG, want, PG), 0);
	expect_page(a.data, SEED, 0, "untouched store page");
	cr_assert_eq(atomic_load(&a.writes[0]), 0,
		     "a page never touched was written back");
	unmap_and_close(r, st, &a);
}

/*
 * A page written right after its fault and then synced at once reaches the
 * store. Each page of a 256-page region (read-ahead 0, so every page is a
 * fault of its own) gets one byte as its first touch, then a sync; the
 * store must hold that byte. Sync writes back RESIDENT pages only: a fill
 * that woke the thread before marking the page RESIDENT would let a sync
 * in between skip the written page (as in 8ec921a: 9 to 18 of 256 pages
 * lost per run).
 */
PATH_TEST(region, write_after_fault_then_sync)
{
	const size_t n = 256;
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	size_t lost = 0, first_lost = 0;
	struct arr a;
	char *base;

	require_region(*path);
	cfg = make_cfg(*path, 1, 0, UMOVE_FILL_COPY);
	arr_init(&a, n);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, n, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);
	for (size_t j = 0; j < n; j++) {
		base[j * PG + 9] = (char)0xee;
		expect_ret(umove_region_sync(r), 0);
		if ((uint8_t)a.data[j * PG + 9] != 0xee && !lost++)
			first_lost = j;
	}
	cr_assert_eq(lost, 0,
		     "[%s] %zu of %zu pages written right after their fault "
		     "were not written back by the next sync (first: page "
		     "%zu)",
		     path_label, lost, n, first_lost);
	unmap_and_close(r, st, &a);
}

/* A read-only store (write NULL): sync and unmap succeed, write nothing. */
Test(region, read_only_store)
{
	const struct umove_store_ops ro = {.read = arr_read,
					   .close = arr_close};
	struct umove_region *r;
	struct umove_store *st;
	struct arr a;
	char *base;

	require_uffd();
	arr_init(&a, 8);
	st = arr_store(&a, &ro);
	r = map_region(st, 0, 8, NULL);
	base = umove_region_addr(r);
	expect_store_pages(base, 8, 0, "read-only store");
	fill_page(base, SEED2, 0);
	expect_ret(umove_region_sync(r), 0);
	expect_page(a.data, SEED, 0, "read-only store after sync");
	expect_page(base, SEED2, 0, "region after sync");
	unmap_and_close(r, st, &a);
}

struct combo {
	enum um_path path;
	int fill;
};

static const char *fill_name(int fill)
{
	return fill == UMOVE_FILL_MOVE ? "MOVE" : "COPY";
}

ParameterizedTestParameters(region, write_unmap_remap)
{
	static struct combo c[] = {
		{NATIVE, UMOVE_FILL_MOVE},
		{NATIVE, UMOVE_FILL_COPY},
		{EMULATED, UMOVE_FILL_MOVE},
		{EMULATED, UMOVE_FILL_COPY},
	};

	return cr_make_param_array(struct combo, c, sizeof(c) / sizeof(c[0]));
}

/*
 * Write into a region (some pages read first, some written first, some
 * never touched), unmap (which syncs), map the same store again: the
 * written bytes come back, the untouched pages are the store's.
 */
ParameterizedTest(struct combo *c, region, write_unmap_remap)
{
	const size_t n = 48;
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct arr a;
	char *base;

	require_region(c->path);
	cfg = make_cfg(c->path, 2, 5, c->fill);
	arr_init(&a, n);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, n, cfg);
	base = umove_region_addr(r);
	expect_store_pages(base, 16, 0, "pages read before writing");
	for (size_t j = 0; j < 32; j++) /* pages 16..31: written first */
		fill_page(base + j * PG, SEED2, j);
	expect_ret(umove_unmap(r), 0);
	drop(r);

	for (size_t j = 0; j < 32; j++)
		expect_page(a.data + j * PG, SEED2, j, "store after unmap");
	for (size_t j = 32; j < n; j++)
		expect_page(a.data + j * PG, SEED, j, "untouched store page");
	/* Pages 32..35 came with read-ahead (runs of 6), 36.. never. */
	for (size_t j = 36; j < n; j++) {
		cr_assert_eq(atomic_load(&a.writes[j]), 0,
			     "[%s/%s] untouched page %zu written back",
			     path_label, fill_name(c->fill), j);
	}

	r = map_region(st, 0, n, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);
	for (size_t j = 0; j < 32; j++)
		expect_page(base + j * PG, SEED2, j,
			    "written page after remap");
	expect_store_pages(base + 32 * PG, n - 32, 32,
			   "untouched page after remap");
	unmap_and_close(r, st, &a);
}

/* The same on the file store: the bytes reach the file. */
PATH_TEST(region, file_store_write_unmap_remap)
{
	const size_t n = 40;
	char name[] = "/tmp/umove-region-XXXXXX";
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st = NULL;
	char *page, *base;
	int fd, ret;

	require_region(*path);
	page = aligned_alloc(PG, PG);
	cr_assert_not_null(page);
	hold(page);
	fd = mkstemp(name);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	for (size_t i = 0; i < n; i++) {
		fill_page(page, SEED, i);
		if (pwrite(fd, page, PG, (off_t)(i * PG)) != (ssize_t)PG) {
			unlink(name);
			cr_assert_fail("writing %s: %s", name, strerror(errno));
		}
	}
	ret = umove_store_file(&st, name, 0);
	/* The store has the file open, fd is ours: nothing is left behind. */
	cr_assert_eq(unlink(name), 0);
	expect_ret(ret, 0);
	hold(st);
	cr_assert_eq(umove_store_pages(st), n);

	cfg = make_cfg(*path, 1, 15, UMOVE_FILL_MOVE);
	r = map_region(st, 0, n, cfg);
	base = umove_region_addr(r);
	expect_store_pages(base, n, 0, "file store read");
	for (size_t j = 10; j < 20; j++)
		fill_page(base + j * PG, SEED2, j);
	expect_ret(umove_unmap(r), 0);
	drop(r);

	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(pread(fd, page, PG, (off_t)(i * PG)), (ssize_t)PG);
		if (i >= 10 && i < 20)
			expect_page(page, SEED2, i, "file after unmap");
		else
			expect_page(page, SEED, i, "file after unmap");
	}
	r = map_region(st, 0, n, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);
	for (size_t j = 0; j < n; j++)
		expect_page(base + j * PG, j >= 10 && j < 20 ? SEED2 : SEED, j,
			    "file store after remap");
	expect_ret(umove_store_close(st), -EBUSY);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	drop(page);
	free(page);
	close(fd);
}

/* --- read-ahead ------------------------------------------------------ */

#define RA_PAGES 256

/* A sequential scan with read-ahead 15: one fault per 16 pages. */
PATH_TEST(region, readahead_sequential_scan)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;

	require_region(*path);
	cfg = make_cfg(*path, 1, 15, UMOVE_FILL_MOVE);
	arr_init(&a, RA_PAGES);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, RA_PAGES, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	expect_store_pages(umove_region_addr(r), RA_PAGES, 0,
			   "sequential scan");
	s = settled_stats(r, RA_PAGES);
	cr_assert_leq(s.faults_served, RA_PAGES / 8,
		      "[%s] faults_served %llu for %d pages with read-ahead 15",
		      path_label, (unsigned long long)s.faults_served,
		      RA_PAGES);
	cr_assert_gt(s.readahead_pages, 0);
	cr_assert_eq(s.pages_filled, RA_PAGES, "[%s] pages_filled %llu",
		     path_label, (unsigned long long)s.pages_filled);
	cr_assert_eq(s.faults_served + s.readahead_pages, s.pages_filled);
	cr_assert_eq(s.bytes_read, RA_PAGES * PG);
	for (size_t i = 0; i < RA_PAGES; i++)
		cr_assert_eq(atomic_load(&a.reads[i]), 1,
			     "[%s] store page %zu read %u times", path_label, i,
			     atomic_load(&a.reads[i]));
	unmap_and_close(r, st, &a);
}

PATH_TEST(region, no_readahead_one_fault_per_page)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;

	require_region(*path);
	cfg = make_cfg(*path, 1, 0, UMOVE_FILL_MOVE);
	arr_init(&a, RA_PAGES);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, RA_PAGES, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	expect_store_pages(umove_region_addr(r), RA_PAGES, 0,
			   "sequential scan");
	s = settled_stats(r, RA_PAGES);
	cr_assert_eq(s.faults_served, RA_PAGES,
		     "[%s] faults_served %llu, want %d", path_label,
		     (unsigned long long)s.faults_served, RA_PAGES);
	cr_assert_eq(s.readahead_pages, 0);
	cr_assert_eq(s.pages_filled, RA_PAGES);
	cr_assert_eq(atomic_load(&a.read_calls), RA_PAGES);
	unmap_and_close(r, st, &a);
}

/*
 * Read-ahead stops at the end of the region (never reading store pages
 * beyond it) and at the first page already resident.
 */
PATH_TEST(region, readahead_bounds)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_region(*path);
	cfg = make_cfg(*path, 1, 1023, UMOVE_FILL_MOVE);
	arr_init(&a, 4 + 40 + 4); /* region: store pages 4..43 */
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 4, 40, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	/* Page 30: its run is 30..39, clipped at the region's end. */
	expect_page(base + 30 * PG, SEED, 4 + 30, "page 30");
	/* Page 0: its run is 0..29, stopped by page 30 resident. */
	expect_page(base, SEED, 4, "page 0");
	expect_store_pages(base, 40, 4, "whole region");
	s = settled_stats(r, 40);
	cr_assert_eq(s.faults_served, 2, "[%s] faults_served %llu, want 2",
		     path_label, (unsigned long long)s.faults_served);
	cr_assert_eq(s.pages_filled, 40);
	cr_assert_eq(s.readahead_pages, 38);
	for (size_t i = 0; i < a.pages; i++)
		cr_assert_eq(atomic_load(&a.reads[i]), i >= 4 && i < 44,
			     "[%s] store page %zu read %u times", path_label, i,
			     atomic_load(&a.reads[i]));
	unmap_and_close(r, st, &a);
}

/* --- many faults on one page --------------------------------------- */

#define TOUCHERS 8
#define HOT_PAGE 5

struct hot {
	pthread_t tid;
	pthread_barrier_t *barrier;
	const char *page;
	bool ok;
};

static void *hot_main(void *arg)
{
	struct hot *h = arg;

	pthread_barrier_wait(h->barrier);
	h->ok = page_matches(h->page, SEED, HOT_PAGE);
	return NULL;
}

struct hot_combo {
	enum um_path path;
	unsigned threads;
};

ParameterizedTestParameters(region, one_read_for_concurrent_faults)
{
	static struct hot_combo c[] = {
		{NATIVE, 1}, {NATIVE, 4}, {EMULATED, 1}, {EMULATED, 4}};

	return cr_make_param_array(struct hot_combo, c,
				   sizeof(c) / sizeof(c[0]));
}

/*
 * 8 threads touch one page while its store read takes 20 ms: they all
 * fault while it is in flight, the store is read once, all see its bytes.
 */
ParameterizedTest(struct hot_combo *c, region, one_read_for_concurrent_faults)
{
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	pthread_barrier_t barrier;
	struct hot h[TOUCHERS];
	struct arr a;
	char *base;

	require_region(c->path);
	cfg = make_cfg(c->path, c->threads, 3, UMOVE_FILL_MOVE);
	arr_init(&a, 16);
	a.read_delay_ms = 20;
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, 16, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	pthread_barrier_init(&barrier, NULL, TOUCHERS);
	for (int i = 0; i < TOUCHERS; i++) {
		h[i] = (struct hot){.barrier = &barrier,
				    .page = base + HOT_PAGE * PG};
		cr_assert_eq(pthread_create(&h[i].tid, NULL, hot_main, &h[i]),
			     0);
	}
	for (int i = 0; i < TOUCHERS; i++)
		pthread_join(h[i].tid, NULL);
	pthread_barrier_destroy(&barrier);

	for (int i = 0; i < TOUCHERS; i++)
		cr_assert(h[i].ok,
			  "[%s, %u handlers] thread %d saw wrong bytes",
			  path_label, c->threads, i);
	for (size_t p = 0; p < 16; p++)
		cr_assert_eq(atomic_load(&a.reads[p]),
			     p >= HOT_PAGE && p <= HOT_PAGE + 3,
			     "[%s, %u handlers] store page %zu read %u times",
			     path_label, c->threads, p,
			     atomic_load(&a.reads[p]));
	s = settled_stats(r, 4);
	cr_assert_eq(s.faults_served, 1, "[%s] faults_served %llu", path_label,
		     (unsigned long long)s.faults_served);
	cr_assert_geq(s.fault_events, 1);
	cr_assert_eq(s.pages_filled, 4);
	cr_assert_eq(atomic_load(&a.read_calls), 1);
	unmap_and_close(r, st, &a);
}

/* --- statistics ------------------------------------------------------ */

ParameterizedTestParameters(region, stats_after_faults)
{
	static struct combo c[] = {
		{NATIVE, UMOVE_FILL_MOVE},
		{NATIVE, UMOVE_FILL_COPY},
		{EMULATED, UMOVE_FILL_MOVE},
		{EMULATED, UMOVE_FILL_COPY},
	};

	return cr_make_param_array(struct combo, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct combo *c, region, stats_after_faults)
{
	const size_t n = 64;
	struct umove_region_config *cfg;
	struct umove_region *r;
	struct umove_store *st;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_region(c->path);
	cfg = make_cfg(c->path, 2, 3, c->fill);
	arr_init(&a, n);
	st = arr_store(&a, &arr_ops);
	r = map_region(st, 0, n, cfg);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	s = region_stats_now(r);
#define ZERO_BEFORE(name, doc)                                        \
	cr_assert_eq(s.name, 0, "[%s/%s] %s = %llu before any fault", \
		     path_label, fill_name(c->fill), #name,           \
		     (unsigned long long)s.name);
	UMOVE_STATS_COUNTERS(ZERO_BEFORE)
#undef ZERO_BEFORE

	expect_store_pages(base, n, 0, "scan");
	s = settled_stats(r, n);
	cr_assert_gt(s.fill_ns_p50, 0, "[%s/%s] fill_ns_p50 is 0", path_label,
		     fill_name(c->fill));
	cr_assert_geq(s.fill_ns_p99, s.fill_ns_p50,
		      "[%s/%s] p99 %llu < p50 "
		      "%llu",
		      path_label, fill_name(c->fill),
		      (unsigned long long)s.fill_ns_p99,
		      (unsigned long long)s.fill_ns_p50);
	cr_assert_eq(s.faults_served, n / 4);
	cr_assert_geq(s.fault_events, s.faults_served);
	cr_assert_eq(s.pages_filled, n);
	cr_assert_eq(s.readahead_pages, n - n / 4);
	cr_assert_eq(s.bytes_read, n * PG);
	cr_assert_eq(s.bytes_written, 0);
	cr_assert_eq(s.read_errors, 0);
	cr_assert_eq(s.write_errors, 0);
	cr_assert_eq(s.pages_poisoned, 0);
	cr_assert_eq(s.buffered_reads, n / 4,
		     "a custom store is not direct: every read is buffered");
	cr_assert_eq(s.events_other, 0);
	if (c->fill == UMOVE_FILL_MOVE) {
		cr_assert_eq(s.moves, n / 4, "[%s/MOVE] moves %llu", path_label,
			     (unsigned long long)s.moves);
		cr_assert_eq(s.copies, 0);
	} else {
		cr_assert_eq(s.copies, n / 4, "[%s/COPY] copies %llu",
			     path_label, (unsigned long long)s.copies);
		cr_assert_eq(s.moves, 0);
	}
	cr_assert_eq(s.resident_pages, n);
	cr_assert_eq(s.limit_pages, 0);
	/* Nothing was written: a sync finds every page clean. */
	expect_ret(umove_region_sync(r), 0);
	s = region_stats_now(r);
	cr_assert_eq(s.bytes_written, 0);
	cr_assert_eq(s.sync_clean, n);
	unmap_and_close(r, st, &a);
}
