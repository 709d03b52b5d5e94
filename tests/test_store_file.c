/* SPDX-License-Identifier: MIT */
/*
 * umove_store_file(): a file as an array of pages, read with O_DIRECT where
 * the filesystem takes it; the last partial page reads zero-filled and is
 * written without growing the file.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* White box: whether the store reads with O_DIRECT is not public. */
#include "../src/store.h"

#define SEED 0x51
#define OTHER 0x52
#define NPAGES 16 /* whole pages in the test file */
#define TAIL 1000 /* bytes of the partial page after them */
#define PAGES (NPAGES + 1)
#define FILE_BYTES (NPAGES * PG + TAIL)
#define THREADS 4

static char path[64];

/* Removes the test file even when an assertion ended the test early. */
static void remove_file(void)
{
	close_stores();
	if (path[0])
		unlink(path);
	path[0] = 0;
}

TestSuite(store_file, .timeout = TEST_TIMEOUT, .init = need_4k,
	  .fini = remove_file);

static void write_all(int fd, const void *buf, size_t len, off_t off)
{
	cr_assert_eq(pwrite(fd, buf, len, off), (ssize_t)len, "pwrite: %s",
		     strerror(errno));
}

/*
 * A file under /tmp of `bytes` bytes of pattern SEED (page i holds page i
 * of the pattern, the last one cut short); its name in `path`.
 */
static const char *make_file(size_t bytes)
{
	size_t n = (bytes + PG - 1) / PG;
	char *buf = malloc(n * PG);
	int fd;

	cr_assert(buf);
	snprintf(path, sizeof(path), "/tmp/umove-store-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	fill_pages(buf, n, SEED);
	if (bytes)
		write_all(fd, buf, bytes, 0);
	close(fd);
	free(buf);
	return path;
}

/* Page idx of the store on make_file(FILE_BYTES), as it must read. */
static void expect_store_page(const void *page, uint32_t seed, size_t idx,
			      const char *what)
{
	uint8_t want[PG];
	const uint8_t *got = page;

	if (idx < NPAGES) {
		expect_page(page, seed, idx, what);
		return;
	}
	fill_page(want, seed, idx);
	memset(want + TAIL, 0, PG - TAIL);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(
			got[i], want[i],
			"%s: last page byte %zu expected 0x%02x, got 0x%02x",
			what, i, want[i], got[i]);
}

static void expect_store_pages(const void *buf, uint32_t seed, size_t first,
			       size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		expect_store_page((const char *)buf + i * PG, seed, first + i,
				  what);
}

static struct umove_store *open_store(unsigned flags)
{
	struct umove_store *st = NULL;

	expect_ret(umove_store_file(&st, path, flags), 0);
	track(st);
	cr_assert(st);
	expect_ret(umove_store_pages(st), PAGES);
	return st;
}

/* The file's bytes, read around the store. */
static void expect_file_bytes(const void *want, size_t len)
{
	char *got = malloc(len + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;

	cr_assert(got);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_eq(sb.st_size, (off_t)len, "file size %lld, expected %zu",
		     (long long)sb.st_size, len);
	cr_assert_eq(pread(fd, got, len + 1, 0), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(got[i], ((const char *)want)[i],
			     "file byte %zu (page %zu)", i, i / PG);
	close(fd);
	free(got);
}

Test(store_file, reads_single_pages)
{
	char *buf = map_pages(1);
	struct umove_store *st;

	make_file(FILE_BYTES);
	st = open_store(0);
	for (size_t i = 0; i < PAGES; i++) {
		memset(buf, 0xa5, PG);
		expect_ret(umove_store_read(st, i, 1, buf), 0);
		expect_store_page(buf, SEED, i, "single page");
	}
	close_store(st);
	unmap_pages(buf, 1);
}

Test(store_file, reads_runs)
{
	char *buf = map_pages(PAGES);
	struct umove_store *st;

	make_file(FILE_BYTES);
	st = open_store(0);
	expect_ret(umove_store_read(st, 0, PAGES, buf), 0);
	expect_store_pages(buf, SEED, 0, PAGES, "whole store");
	memset(buf, 0xa5, PAGES * PG);
	expect_ret(umove_store_read(st, 3, 7, buf), 0);
	expect_store_pages(buf, SEED, 3, 7, "pages 3-9");
	memset(buf, 0xa5, PAGES * PG);
	expect_ret(umove_store_read(st, PAGES - 4, 4, buf), 0);
	expect_store_pages(buf, SEED, PAGES - 4, 4, "run to the end");
	close_store(st);
	unmap_pages(buf, PAGES);
}

/* The bytes past the end of the file read as zeros, not as what was there. */
Test(store_file, last_partial_page_zero_filled)
{
	char *buf = map_pages(1);
	struct umove_store *st;
	unsigned flags[] = {0, UMOVE_STORE_BUFFERED, UMOVE_STORE_RDONLY};

	make_file(FILE_BYTES);
	for (size_t f = 0; f < 3; f++) {
		st = open_store(flags[f]);
		memset(buf, 0xff, PG);
		expect_ret(umove_store_read(st, NPAGES, 1, buf), 0);
		expect_store_page(buf, SEED, NPAGES, "last page");
		close_store(st);
	}
	unmap_pages(buf, 1);
}

Test(store_file, page_multiple_has_no_extra_page)
{
	char *buf = map_pages(4);
	struct umove_store *st = NULL;

	make_file(4 * PG);
	expect_ret(umove_store_file(&st, path, 0), 0);
	track(st);
	expect_ret(umove_store_pages(st), 4);
	expect_ret(umove_store_read(st, 0, 4, buf), 0);
	expect_pages(buf, 4, SEED, "4-page file");
	expect_ret(umove_store_read(st, 4, 1, buf), -EINVAL);
	close_store(st);

	/* One byte: one page, the byte then zeros. */
	remove_file();
	make_file(1);
	expect_ret(umove_store_file(&st, path, 0), 0);
	track(st);
	expect_ret(umove_store_pages(st), 1);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	cr_assert_eq((uint8_t)buf[0], (uint8_t)pattern_word(SEED, 0, 0));
	for (size_t i = 1; i < PG; i++)
		cr_assert_eq(buf[i], 0, "byte %zu past the end", i);
	close_store(st);
	unmap_pages(buf, 4);
}

Test(store_file, writes_read_back_and_reach_the_file)
{
	char *buf = map_pages(PAGES), *want = malloc(PAGES * PG);
	struct umove_store *st;

	cr_assert(want);
	make_file(FILE_BYTES);
	fill_pages(want, PAGES, SEED);
	st = open_store(0);

	/* Pages 2-4 from another pattern, written as one run. */
	fill_pages(buf, 3, OTHER);
	expect_ret(umove_store_write(st, 2, 3, buf), 0);
	memcpy(want + 2 * PG, buf, 3 * PG);
	/* Page 9 alone. */
	fill_page(buf, OTHER, 9);
	expect_ret(umove_store_write(st, 9, 1, buf), 0);
	memcpy(want + 9 * PG, buf, PG);

	memset(buf, 0, PAGES * PG);
	expect_ret(umove_store_read(st, 0, PAGES, buf), 0);
	cr_assert_eq(memcmp(buf, want, FILE_BYTES), 0,
		     "store after writes differs");
	for (size_t i = TAIL; i < PG; i++)
		cr_assert_eq(buf[NPAGES * PG + i], 0);
	close_store(st);

	/* A fresh store, buffered this time, and the file itself agree. */
	st = open_store(UMOVE_STORE_BUFFERED);
	memset(buf, 0, PAGES * PG);
	expect_ret(umove_store_read(st, 0, PAGES, buf), 0);
	cr_assert_eq(memcmp(buf, want, FILE_BYTES), 0,
		     "fresh store after writes differs");
	close_store(st);
	expect_file_bytes(want, FILE_BYTES);
	unmap_pages(buf, PAGES);
	free(want);
}

/* Writing the last page keeps the file's size: only TAIL bytes land. */
Test(store_file, last_page_write_does_not_grow_file)
{
	unsigned flags[] = {0, UMOVE_STORE_BUFFERED};
	char *buf = map_pages(2), *want = malloc(PAGES * PG);

	cr_assert(want);
	make_file(FILE_BYTES);
	fill_pages(want, PAGES, SEED);
	for (size_t f = 0; f < 2; f++) {
		struct umove_store *st = open_store(flags[f]);
		uint32_t seed = OTHER + (uint32_t)f;

		/* A run across the end: page 15 whole, page 16 cut short. */
		fill_page(buf, seed, NPAGES - 1);
		fill_page(buf + PG, seed, NPAGES);
		expect_ret(umove_store_write(st, NPAGES - 1, 2, buf), 0);
		memcpy(want + (NPAGES - 1) * PG, buf, 2 * PG);
		memset(buf, 0xa5, 2 * PG);
		expect_ret(umove_store_read(st, NPAGES - 1, 2, buf), 0);
		expect_store_pages(buf, seed, NPAGES - 1, 2, "rewritten end");
		close_store(st);
		expect_file_bytes(want, FILE_BYTES);
	}
	unmap_pages(buf, 2);
	free(want);
}

Test(store_file, rdonly_write_is_erofs)
{
	char *buf = map_pages(1);
	struct umove_store *st;

	make_file(FILE_BYTES);
	st = open_store(UMOVE_STORE_RDONLY);
	fill_page(buf, OTHER, 0);
	expect_ret(umove_store_write(st, 0, 1, buf), -EROFS);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	expect_page(buf, SEED, 0, "read-only store after refused write");
	close_store(st);

	/* A file nobody may write still opens read-only (unless root). */
	cr_assert_eq(chmod(path, 0444), 0);
	expect_ret(umove_store_file(&st, path, UMOVE_STORE_RDONLY), 0);
	track(st);
	expect_ret(umove_store_read(st, 3, 1, buf), 0);
	expect_page(buf, SEED, 3, "read-only file");
	close_store(st);
	if (geteuid() != 0) {
		st = NULL;
		expect_ret(umove_store_file(&st, path, 0), -EACCES);
		cr_assert_null(st);
	}
	unmap_pages(buf, 1);
}

Test(store_file, bounds_are_einval)
{
	char *buf = map_pages(2), *want = malloc(PAGES * PG);
	struct umove_store *st;

	cr_assert(want);
	make_file(FILE_BYTES);
	fill_pages(want, PAGES, SEED);
	st = open_store(0);
	fill_pages(buf, 2, OTHER);
	expect_ret(umove_store_read(st, PAGES, 1, buf), -EINVAL);
	expect_ret(umove_store_read(st, PAGES - 1, 2, buf), -EINVAL);
	expect_ret(umove_store_read(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_read(st, UINT64_MAX, 1, buf), -EINVAL);
	expect_ret(umove_store_read(st, 1, SIZE_MAX, buf), -EINVAL);
	expect_ret(umove_store_write(st, PAGES, 1, buf), -EINVAL);
	expect_ret(umove_store_write(st, PAGES - 1, 2, buf), -EINVAL);
	expect_ret(umove_store_write(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_write(st, UINT64_MAX, 1, buf), -EINVAL);
	expect_ret(umove_store_write(st, 1, SIZE_MAX, buf), -EINVAL);
	/* Nothing was read into buf, nothing written to the file. */
	expect_pages(buf, 2, OTHER, "buf after refused reads");
	close_store(st);
	expect_file_bytes(want, FILE_BYTES);
	unmap_pages(buf, 2);
	free(want);
}

Test(store_file, unaligned_or_null_buf_is_einval)
{
	char *buf = map_pages(2);
	struct umove_store *st;

	make_file(FILE_BYTES);
	st = open_store(0);
	expect_ret(umove_store_read(st, 0, 1, buf + 1), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, buf + 512), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, NULL), -EINVAL);
	expect_ret(umove_store_write(st, 0, 1, buf + 8), -EINVAL);
	expect_ret(umove_store_write(st, 0, 1, NULL), -EINVAL);
	expect_ret(umove_store_read(NULL, 0, 1, buf), -EINVAL);
	expect_ret(umove_store_write(NULL, 0, 1, buf), -EINVAL);
	close_store(st);
	/* The file is as it was. */
	st = open_store(0);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	expect_page(buf, SEED, 0, "page 0 after refused writes");
	close_store(st);
	unmap_pages(buf, 2);
}

/* Internal callers may pass any buffer: the store reads it buffered. */
Test(store_file, unaligned_buf_through_internal_call)
{
	char *buf = map_pages(3);
	struct umove_store *st;

	make_file(FILE_BYTES);
	st = open_store(0);
	memset(buf, 0xa5, 3 * PG);
	expect_ret(um_store_read(st, NPAGES - 1, 2, buf + 100), 0);
	expect_store_pages(buf + 100, SEED, NPAGES - 1, 2, "unaligned read");
	fill_pages(buf + 8, 2, OTHER);
	expect_ret(um_store_write(st, 4, 2, buf + 8), 0);
	expect_ret(umove_store_read(st, 4, 2, buf), 0);
	expect_pages(buf, 2, OTHER, "after unaligned write");
	close_store(st);
	unmap_pages(buf, 3);
}

Test(store_file, bad_args_are_einval)
{
	struct umove_store *st = (struct umove_store *)&st;

	make_file(FILE_BYTES);
	expect_ret(umove_store_file(NULL, path, 0), -EINVAL);
	expect_ret(umove_store_file(&st, NULL, 0), -EINVAL);
	expect_ret(umove_store_file(&st, path, 1u << 2), -EINVAL);
	expect_ret(umove_store_file(&st, path, 1u << 31), -EINVAL);
	cr_assert_eq(st, (struct umove_store *)&st, "out written on failure");
	close_store(NULL);
	expect_ret(umove_store_pages(NULL), 0);
}

Test(store_file, unusable_files)
{
	struct umove_store *st = (struct umove_store *)&st;
	char fifo[sizeof(path) + 8];

	expect_ret(umove_store_file(&st, "/nonexistent/umove", 0), -ENOENT);
	expect_ret(umove_store_file(&st, "/tmp/umove-store-missing-file",
				    UMOVE_STORE_RDONLY),
		   -ENOENT);
	expect_ret(umove_store_file(&st, "/tmp", 0), -EINVAL);
	expect_ret(umove_store_file(&st, "/tmp", UMOVE_STORE_RDONLY), -EINVAL);
	expect_ret(umove_store_file(&st, "/dev/null", 0), -EINVAL);
	make_file(0);
	expect_ret(umove_store_file(&st, path, 0), -EINVAL);
	expect_ret(umove_store_file(&st, path, UMOVE_STORE_RDONLY), -EINVAL);
	/* A FIFO is refused, not waited on for a writer. */
	snprintf(fifo, sizeof(fifo), "%s.fifo", path);
	cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
	expect_ret(umove_store_file(&st, fifo, UMOVE_STORE_RDONLY), -EINVAL);
	expect_ret(umove_store_file(&st, fifo, 0), -EINVAL);
	unlink(fifo);
	cr_assert_eq(st, (struct umove_store *)&st, "out written on failure");
}

/* O_DIRECT where the filesystem takes it, never with BUFFERED. */
Test(store_file, direct_unless_buffered)
{
	char *buf = map_pages(PAGES);
	struct umove_store *st;
	int fd;
	bool can;

	make_file(FILE_BYTES);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	can = fd >= 0 && pread(fd, buf, PG, 0) == (ssize_t)PG;
	if (fd >= 0)
		close(fd);
	st = open_store(0);
	cr_assert_eq(st->direct, can, "direct %d, O_DIRECT works here: %d",
		     st->direct, can);
	close_store(st);

	st = open_store(UMOVE_STORE_BUFFERED);
	cr_assert_not(st->direct, "BUFFERED store reads with O_DIRECT");
	memset(buf, 0, PAGES * PG);
	expect_ret(umove_store_read(st, 0, PAGES, buf), 0);
	expect_store_pages(buf, SEED, 0, PAGES, "buffered read");
	fill_page(buf, OTHER, 5);
	expect_ret(umove_store_write(st, 5, 1, buf), 0);
	memset(buf, 0, PG);
	expect_ret(umove_store_read(st, 5, 1, buf), 0);
	expect_page(buf, OTHER, 5, "buffered write");
	close_store(st);
	unmap_pages(buf, PAGES);
}

/* sysfs opens no file with O_DIRECT: the store falls back to buffered. */
Test(store_file, falls_back_without_o_direct)
{
	const char *sys = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";
	char *buf = map_pages(1), want[PG];
	struct umove_store *st;
	ssize_t n;
	int fd = open(sys, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("%s: %s", sys, strerror(errno));
	memset(want, 0, PG);
	n = read(fd, want, PG);
	close(fd);
	cr_assert_gt(n, 0);
	expect_ret(umove_store_file(&st, sys, UMOVE_STORE_RDONLY), 0);
	track(st);
	cr_assert_not(st->direct, "O_DIRECT on sysfs");
	memset(buf, 0xa5, PG);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	cr_assert_eq(memcmp(buf, want, PG), 0, "sysfs page: '%.*s'", (int)n,
		     buf);
	close_store(st);
	unmap_pages(buf, 1);
}

struct reader {
	pthread_t tid;
	struct umove_store *st;
	unsigned id;
	size_t bad; /* pages read wrong */
	int err;    /* the first failed read */
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	char *buf = map_pages(4);

	for (unsigned round = 0; round < 200; round++) {
		/* Each thread walks the pages in its own order and run size. */
		size_t n = 1 + (r->id + round) % 4;
		size_t first = (round * 7 + r->id * 5) % (PAGES - n + 1);
		int ret = umove_store_read(r->st, first, n, buf);

		if (ret && !r->err)
			r->err = ret;
		for (size_t i = 0; !ret && i < n; i++) {
			size_t idx = first + i;
			const char *p = buf + i * PG;
			char want[PG];

			fill_page(want, SEED, idx);
			if (idx == NPAGES)
				memset(want + TAIL, 0, PG - TAIL);
			r->bad += memcmp(p, want, PG) != 0;
		}
	}
	unmap_pages(buf, 4);
	return NULL;
}

Test(store_file, concurrent_readers)
{
	unsigned flags[] = {0, UMOVE_STORE_BUFFERED};

	make_file(FILE_BYTES);
	for (size_t f = 0; f < 2; f++) {
		struct umove_store *st = open_store(flags[f]);
		struct reader r[THREADS];

		for (unsigned t = 0; t < THREADS; t++) {
			r[t] = (struct reader){.st = st, .id = t};
			cr_assert_eq(pthread_create(&r[t].tid, NULL, read_loop,
						    &r[t]),
				     0);
		}
		for (unsigned t = 0; t < THREADS; t++)
			pthread_join(r[t].tid, NULL);
		for (unsigned t = 0; t < THREADS; t++) {
			char b[48];

			cr_assert_eq(r[t].err, 0, "thread %u: read %s", t,
				     ret_str(r[t].err, b));
			cr_assert_eq(r[t].bad, 0, "thread %u: %zu pages wrong",
				     t, r[t].bad);
		}
		close_store(st);
	}
}

/*
 * A thread blocked in a userfault keeps valgrind's global lock, so the
 * region's handler never runs: region tests skip under valgrind.
 */
static void need_region(void)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre && strstr(pre, "vgpreload"))
		cr_skip_test("regions hang under valgrind (userfaults)");
	close_um(open_default()); /* skips without userfaultfd */
}

/*
 * The store under a region: faults read every page (the last one zero-filled
 * past the end), O_DIRECT or not as the statistics say, and unmapping writes
 * the written pages back to the file.
 */
Test(store_file, region_reads_and_writes_back)
{
	unsigned flags[] = {0, UMOVE_STORE_BUFFERED};
	char *want;

	need_region();
	want = malloc(PAGES * PG);
	cr_assert(want);
	make_file(FILE_BYTES);
	fill_pages(want, PAGES, SEED);
	memset(want + FILE_BYTES, 0, PAGES * PG - FILE_BYTES);
	for (size_t f = 0; f < 2; f++) {
		struct umove_store *st = open_store(flags[f]);
		struct umove_region *r = NULL;
		struct umove_stats s = {.size = sizeof(s)};
		char *p;

		expect_ret(umove_map(&r, st, 0, PAGES * PG, NULL), 0);
		p = umove_region_addr(r);
		for (size_t i = 0; i < PAGES; i++)
			expect_store_page(p + i * PG, f ? OTHER : SEED, i,
					  "region page");
		expect_ret(umove_region_stats(r, &s), 0);
		cr_assert_eq(s.bytes_read, (uint64_t)PAGES * PG);
		if (st->direct)
			cr_assert_eq(s.buffered_reads, 0);
		else
			cr_assert_gt(s.buffered_reads, 0);
		if (flags[f] & UMOVE_STORE_BUFFERED)
			cr_assert_not(st->direct,
				      "BUFFERED store reads direct");
		/* The next round reads what this one wrote. */
		fill_pages(p, PAGES, OTHER);
		fill_pages(want, PAGES, OTHER);
		memset(want + FILE_BYTES, 0, PAGES * PG - FILE_BYTES);
		expect_ret(umove_store_close(st), -EBUSY);
		expect_ret(umove_unmap(r), 0);
		close_store(st);
		expect_file_bytes(want, FILE_BYTES);
	}
	free(want);
}
