/* SPDX-License-Identifier: MIT */
/*
 * umove_store_mem(): pages in LZ4-compressed RAM. Never-written and zero
 * pages read as zeros, any page round-trips byte for byte, concurrent
 * readers and writers of one page see whole pages only.
 */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEED 0x61
#define OTHER 0x62
#define THREADS 4

TestSuite(store_mem, .timeout = TEST_TIMEOUT, .init = need_4k,
	  .fini = close_stores);

/* Mostly zeros with a few bytes set: compresses, but is not a zero page. */
static void fill_sparse(void *page, size_t idx)
{
	uint8_t *p = page;

	memset(p, 0, PG);
	p[idx % PG] = 1;
	p[PG - 1] = (uint8_t)(idx | 0x80);
}

static void expect_same(const void *got, const void *want, size_t len,
			const char *what)
{
	const uint8_t *g = got, *w = want;

	for (size_t i = 0; i < len; i++)
		cr_assert_eq(
			g[i], w[i],
			"%s: byte %zu (page %zu) expected 0x%02x, got 0x%02x",
			what, i, i / PG, w[i], g[i]);
}

static struct umove_store *open_mem(uint64_t pages)
{
	struct umove_store *st = NULL;

	expect_ret(umove_store_mem(&st, pages, 0), 0);
	track(st);
	cr_assert(st);
	expect_ret(umove_store_pages(st), pages);
	return st;
}

/* Writes one page at idx and reads it back through a dirty buffer. */
static void round_trip(struct umove_store *st, uint64_t idx, const void *page,
		       const char *what)
{
	char *buf = map_pages(1);

	expect_ret(umove_store_write(st, idx, 1, page), 0);
	memset(buf, 0xa5, PG);
	expect_ret(umove_store_read(st, idx, 1, buf), 0);
	expect_same(buf, page, PG, what);
	unmap_pages(buf, 1);
}

Test(store_mem, never_written_reads_zeros)
{
	struct umove_store *st = open_mem(8);
	char *buf = map_pages(8);

	memset(buf, 0xa5, 8 * PG);
	expect_ret(umove_store_read(st, 0, 8, buf), 0);
	for (size_t i = 0; i < 8; i++)
		expect_zero_page(buf + i * PG, "never-written page");
	/* Around a written page, the others still read as zeros. */
	fill_page(buf, SEED, 4);
	expect_ret(umove_store_write(st, 4, 1, buf), 0);
	memset(buf, 0xa5, 8 * PG);
	expect_ret(umove_store_read(st, 0, 8, buf), 0);
	for (size_t i = 0; i < 8; i++)
		if (i == 4)
			expect_page(buf + i * PG, SEED, 4, "written page");
		else
			expect_zero_page(buf + i * PG, "neighbour page");
	close_store(st);
	unmap_pages(buf, 8);
}

Test(store_mem, compressible_pages_round_trip)
{
	struct umove_store *st = open_mem(16);
	char *page = map_pages(1), want[PG];

	for (size_t i = 0; i < 8; i++) {
		fill_text_page(page, i);
		round_trip(st, i, page, "text page");
	}
	for (size_t i = 8; i < 16; i++) {
		fill_sparse(page, i * 37);
		round_trip(st, i, page, "sparse page");
	}
	/* All again, after every other page has been written. */
	for (size_t i = 0; i < 16; i++) {
		memset(page, 0xa5, PG);
		expect_ret(umove_store_read(st, i, 1, page), 0);
		if (i < 8)
			fill_text_page(want, i);
		else
			fill_sparse(want, i * 37);
		expect_same(page, want, PG, "compressible page reread");
	}
	close_store(st);
	unmap_pages(page, 1);
}

/* The pattern pages are random: they do not compress and are kept raw. */
Test(store_mem, incompressible_pages_round_trip)
{
	struct umove_store *st = open_mem(32);
	char *buf = map_pages(32);

	fill_pages(buf, 32, SEED);
	expect_ret(umove_store_write(st, 0, 32, buf), 0);
	memset(buf, 0, 32 * PG);
	expect_ret(umove_store_read(st, 0, 32, buf), 0);
	expect_pages(buf, 32, SEED, "random run");
	memset(buf, 0, PG);
	expect_ret(umove_store_read(st, 17, 1, buf), 0);
	expect_page(buf, SEED, 17, "random page 17");
	/* A page that is random in one half only: compresses a little. */
	fill_page(buf, OTHER, 0);
	memset(buf + PG / 2, 0x33, PG / 2);
	round_trip(st, 5, buf, "half random page");
	close_store(st);
	unmap_pages(buf, 32);
}

Test(store_mem, mixed_run_round_trips)
{
	struct umove_store *st = open_mem(64);
	char *buf = map_pages(12), *want = map_pages(12);

	/* zero, text, random, sparse, ... across one run at an odd index. */
	for (size_t i = 0; i < 12; i++) {
		char *p = want + i * PG;

		switch (i % 4) {
		case 0:
			memset(p, 0, PG);
			break;
		case 1:
			fill_text_page(p, i);
			break;
		case 2:
			fill_page(p, SEED, i);
			break;
		default:
			fill_sparse(p, i);
		}
	}
	expect_ret(umove_store_write(st, 33, 12, want), 0);
	memset(buf, 0xa5, 12 * PG);
	expect_ret(umove_store_read(st, 33, 12, buf), 0);
	expect_same(buf, want, 12 * PG, "mixed run");
	for (size_t i = 0; i < 12; i++) {
		memset(buf, 0xa5, PG);
		expect_ret(umove_store_read(st, 33 + i, 1, buf), 0);
		expect_same(buf, want + i * PG, PG, "mixed page");
	}
	close_store(st);
	unmap_pages(buf, 12);
	unmap_pages(want, 12);
}

Test(store_mem, overwrite_replaces_page)
{
	struct umove_store *st = open_mem(4);
	char *page = map_pages(1);

	/* random -> text -> random -> sparse: raw and LZ4 replace each other.
	 */
	fill_page(page, SEED, 2);
	round_trip(st, 2, page, "first write");
	fill_text_page(page, 2);
	round_trip(st, 2, page, "text over random");
	fill_page(page, OTHER, 2);
	round_trip(st, 2, page, "random over text");
	fill_sparse(page, 2);
	round_trip(st, 2, page, "sparse over random");
	close_store(st);
	unmap_pages(page, 1);
}

Test(store_mem, zero_page_after_data_reads_zeros)
{
	struct umove_store *st = open_mem(4);
	char *page = map_pages(2);

	fill_pages(page, 2, SEED);
	expect_ret(umove_store_write(st, 1, 2, page), 0);
	memset(page, 0, 2 * PG);
	expect_ret(umove_store_write(st, 1, 1, page), 0);
	memset(page, 0xa5, 2 * PG);
	expect_ret(umove_store_read(st, 1, 2, page), 0);
	expect_zero_page(page, "zeroed page");
	expect_page(page + PG, SEED, 1, "page after the zeroed one");
	/* And back to data. */
	fill_text_page(page, 1);
	round_trip(st, 1, page, "data after zeros");
	close_store(st);
	unmap_pages(page, 2);
}

Test(store_mem, bounds_and_args)
{
	struct umove_store *st = (struct umove_store *)&st;
	char *buf = map_pages(2);

	expect_ret(umove_store_mem(&st, 8, 1), -EINVAL);
	expect_ret(umove_store_mem(&st, 8, UMOVE_STORE_RDONLY), -EINVAL);
	expect_ret(umove_store_mem(&st, 8, UMOVE_STORE_BUFFERED), -EINVAL);
	expect_ret(umove_store_mem(&st, 8, 1u << 31), -EINVAL);
	expect_ret(umove_store_mem(&st, 0, 0), -EINVAL);
	expect_ret(umove_store_mem(NULL, 8, 0), -EINVAL);
	cr_assert_eq(st, (struct umove_store *)&st, "out written on failure");

	st = open_mem(8);
	fill_pages(buf, 2, SEED);
	expect_ret(umove_store_write(st, 7, 2, buf), -EINVAL);
	expect_ret(umove_store_write(st, 8, 1, buf), -EINVAL);
	expect_ret(umove_store_write(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_write(st, UINT64_MAX, 1, buf), -EINVAL);
	expect_ret(umove_store_write(st, 0, 1, buf + 1), -EINVAL);
	expect_ret(umove_store_read(st, 7, 2, buf), -EINVAL);
	expect_ret(umove_store_read(st, 8, 1, buf), -EINVAL);
	expect_ret(umove_store_read(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_read(st, 1, SIZE_MAX, buf), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, buf + 8), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, NULL), -EINVAL);
	expect_pages(buf, 2, SEED, "buf after refused reads");
	/* The refused write at 7 stored nothing, not even page 7. */
	expect_ret(umove_store_read(st, 6, 2, buf), 0);
	expect_zero_page(buf, "page 6");
	expect_zero_page(buf + PG, "page 7");
	close_store(st);
	unmap_pages(buf, 2);
}

/* Valgrind's own memory is in the RSS too: nothing to learn from it there. */
static void skip_under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre && strstr(pre, "vgpreload"))
		cr_skip_test("under valgrind, RSS counts valgrind's memory");
}

/* Resident set size in bytes, from /proc/self/statm. */
static long rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert(f);
	cr_assert_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/* 1 GiB of pages: the slot table (2 MiB) is not touched until written. */
Test(store_mem, large_store_costs_little_until_written)
{
	const uint64_t pages = 262144;
	struct umove_store *st;
	long before, after;
	char *buf;

	skip_under_valgrind();
	buf = map_pages(2);
	fill_pages(buf, 2, SEED);
	before = rss_bytes();
	st = open_mem(pages);
	expect_ret(umove_store_write(st, 0, 1, buf), 0);
	expect_ret(umove_store_write(st, pages - 1, 1, buf + PG), 0);
	memset(buf, 0, 2 * PG);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	expect_ret(umove_store_read(st, pages - 1, 1, buf + PG), 0);
	after = rss_bytes();
	expect_pages(buf, 2, SEED, "first and last page");
	expect_ret(umove_store_read(st, pages / 2, 1, buf), 0);
	expect_zero_page(buf, "middle page");
	cr_assert_lt(after - before, 1L << 20,
		     "a 1 GiB store with 2 pages written grew RSS by %ld KiB",
		     (after - before) >> 10);
	close_store(st);
	unmap_pages(buf, 2);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* 8 MiB of text pages are kept in half that or less: they are compressed. */
Test(store_mem, compressible_pages_take_less_memory)
{
	const size_t n = 2048;
	struct umove_store *st;
	char *page;
	long before, after;

#ifdef UNDER_ASAN
	cr_skip_test("ASan's redzones and quarantine hide what a page costs");
#endif
	skip_under_valgrind();
	st = open_mem(n);
	page = map_pages(1);
	fill_text_page(page, 0);
	before = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		fill_text_page(page, i);
		expect_ret(umove_store_write(st, i, 1, page), 0);
	}
	after = rss_bytes();
	cr_assert_lt(after - before, (long)(n * PG / 2),
		     "%zu text pages (%zu KiB) grew RSS by %ld KiB", n,
		     n * PG >> 10, (after - before) >> 10);
	for (size_t i = 0; i < n; i += 97) {
		char want[PG];

		fill_text_page(want, i);
		expect_ret(umove_store_read(st, i, 1, page), 0);
		expect_same(page, want, PG, "text page");
	}
	close_store(st);
	unmap_pages(page, 1);
}

/*
 * Threads: each owns 8 pages and writes/reads them; all of them also write
 * the same 2 pages, each its own kind of page, and every read of those must
 * be one whole page some thread wrote (never torn, never a mix).
 */
#define OWN 8
#define SHARED 2
#define ROUNDS 300

struct worker {
	pthread_t tid;
	struct umove_store *st;
	unsigned id;
	size_t bad; /* reads that were not a page written */
	int err;    /* the first failed call */
};

/* What thread t writes to shared page s in round r (r odd: text). */
static void shared_page(void *page, unsigned t, size_t s, unsigned r)
{
	if (r % 2)
		fill_text_page(page, 1000 + t * 10 + s);
	else
		fill_page(page, OTHER + t, s);
}

static bool is_shared_page(const void *page, size_t s)
{
	char want[PG];

	for (unsigned t = 0; t < THREADS; t++)
		for (unsigned r = 0; r < 2; r++) {
			shared_page(want, t, s, r);
			if (!memcmp(page, want, PG))
				return true;
		}
	return !memcmp(page, (char[PG]){0}, PG); /* not written yet */
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char *buf = map_pages(1), *want = map_pages(1);
	uint64_t own = SHARED + (uint64_t)w->id * OWN;

	for (unsigned r = 0; r < ROUNDS && !w->err; r++) {
		size_t i = (r * 3 + w->id) % OWN;
		size_t s = (r + w->id) % SHARED;
		int ret;

		if (r % 3)
			fill_page(want, SEED + w->id, (size_t)r);
		else
			fill_text_page(want, w->id * 100000 + r);
		ret = umove_store_write(w->st, own + i, 1, want);
		if (!ret)
			ret = umove_store_read(w->st, own + i, 1, buf);
		w->bad += !ret && memcmp(buf, want, PG);
		if (!ret) {
			shared_page(want, w->id, s, r);
			ret = umove_store_write(w->st, s, 1, want);
		}
		if (!ret)
			ret = umove_store_read(w->st, (s + 1) % SHARED, 1, buf);
		w->bad += !ret && !is_shared_page(buf, (s + 1) % SHARED);
		if (ret)
			w->err = ret;
	}
	/* The last word on this thread's pages: pattern SEED + id. */
	for (size_t i = 0; i < OWN && !w->err; i++) {
		fill_page(want, SEED + w->id, i);
		w->err = umove_store_write(w->st, own + i, 1, want);
	}
	unmap_pages(buf, 1);
	unmap_pages(want, 1);
	return NULL;
}

Test(store_mem, threads_distinct_and_same_pages)
{
	struct umove_store *st = open_mem(SHARED + THREADS * OWN);
	struct worker w[THREADS];
	char *buf = map_pages(OWN);

	for (unsigned t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.st = st, .id = t};
		cr_assert_eq(pthread_create(&w[t].tid, NULL, work, &w[t]), 0);
	}
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(w[t].tid, NULL);
	for (unsigned t = 0; t < THREADS; t++) {
		char b[48];

		cr_assert_eq(w[t].err, 0, "thread %u: %s", t,
			     ret_str(w[t].err, b));
		cr_assert_eq(w[t].bad, 0, "thread %u: %zu reads wrong", t,
			     w[t].bad);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		expect_ret(umove_store_read(st, SHARED + t * OWN, OWN, buf), 0);
		expect_pages(buf, OWN, SEED + t, "a thread's pages at the end");
	}
	for (size_t s = 0; s < SHARED; s++) {
		expect_ret(umove_store_read(st, s, 1, buf), 0);
		cr_assert(is_shared_page(buf, s), "shared page %zu torn", s);
		cr_assert(memcmp(buf, (char[PG]){0}, PG),
			  "shared page %zu never written", s);
	}
	close_store(st);
	unmap_pages(buf, OWN);
}
