/* SPDX-License-Identifier: MIT */
/*
 * umove_store_open(): a store of the caller's own, here an array in malloc'ed
 * memory. The library checks the arguments, calls each callback with what the
 * caller asked for, passes their errors through, honours ops_size, and calls
 * close exactly once.
 */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEED 0x71
#define OTHER 0x72
#define PAGES 16

/*
 * The backend, and a record of how the library called it. Under a region the
 * callbacks run in its handler threads too: the record has a lock.
 */
struct arr {
	pthread_mutex_t lock;
	char *data;
	uint64_t pages;
	struct calls {
		int reads, writes, syncs, closes;
	} n;
	uint64_t last_index;
	size_t last_count;
	const void *last_buf;
	void *last_priv;
	int read_err, write_err; /* returned instead of doing the work */
};

static int arr_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct arr *a = priv;
	int ret = a->read_err;

	pthread_mutex_lock(&a->lock);
	a->n.reads++;
	a->last_priv = priv;
	a->last_index = index;
	a->last_count = count;
	a->last_buf = buf;
	if (!ret && index + count <= a->pages)
		memcpy(buf, a->data + index * PG, count * PG);
	else if (!ret)
		ret = -ERANGE; /* the library let a bad request through */
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static int arr_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct arr *a = priv;
	int ret = a->write_err;

	pthread_mutex_lock(&a->lock);
	a->n.writes++;
	a->last_priv = priv;
	a->last_index = index;
	a->last_count = count;
	a->last_buf = buf;
	if (!ret && index + count <= a->pages)
		memcpy(a->data + index * PG, buf, count * PG);
	else if (!ret)
		ret = -ERANGE; /* the library let a bad request through */
	pthread_mutex_unlock(&a->lock);
	return ret;
}

static int arr_sync(void *priv)
{
	struct arr *a = priv;

	pthread_mutex_lock(&a->lock);
	a->n.syncs++;
	a->last_priv = priv;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

static void arr_close(void *priv)
{
	struct arr *a = priv;

	pthread_mutex_lock(&a->lock);
	a->n.closes++;
	a->last_priv = priv;
	pthread_mutex_unlock(&a->lock);
}

static const struct umove_store_ops arr_ops = {
	.read = arr_read,
	.write = arr_write,
	.sync = arr_sync,
	.close = arr_close,
};

static struct arr arr;

static void setup_arr(void)
{
	need_4k();
	arr = (struct arr){.lock = PTHREAD_MUTEX_INITIALIZER,
			   .data = calloc(PAGES, PG),
			   .pages = PAGES};
	cr_assert(arr.data);
	fill_pages(arr.data, PAGES, SEED);
}

static void free_arr(void)
{
	close_stores();
	free(arr.data);
	arr.data = NULL;
}

TestSuite(store_custom, .timeout = TEST_TIMEOUT, .init = setup_arr,
	  .fini = free_arr);

static struct umove_store *open_arr(const struct umove_store_ops *ops,
				    size_t ops_size)
{
	struct umove_store *st = NULL;

	expect_ret(umove_store_open(&st, ops, ops_size, &arr, PAGES), 0);
	track(st);
	cr_assert(st);
	return st;
}

static struct calls calls(void)
{
	struct calls n;

	pthread_mutex_lock(&arr.lock);
	n = arr.n;
	pthread_mutex_unlock(&arr.lock);
	return n;
}

static void expect_calls(int reads, int writes, int syncs, int closes)
{
	struct calls n = calls();

	cr_assert_eq(n.reads, reads, "read called %d times, expected %d",
		     n.reads, reads);
	cr_assert_eq(n.writes, writes, "write called %d times, expected %d",
		     n.writes, writes);
	cr_assert_eq(n.syncs, syncs, "sync called %d times, expected %d",
		     n.syncs, syncs);
	cr_assert_eq(n.closes, closes, "close called %d times, expected %d",
		     n.closes, closes);
}

static void expect_last(uint64_t index, size_t count, const void *buf)
{
	cr_assert_eq(arr.last_priv, &arr, "callback got another priv");
	cr_assert_eq(arr.last_index, index, "index %llu, expected %llu",
		     (unsigned long long)arr.last_index,
		     (unsigned long long)index);
	cr_assert_eq(arr.last_count, count, "count %zu, expected %zu",
		     arr.last_count, count);
	cr_assert_eq(arr.last_buf, buf, "callback got another buffer");
}

Test(store_custom, calls_reach_the_callbacks)
{
	struct umove_store *st = open_arr(&arr_ops, sizeof(arr_ops));
	char *buf = map_pages(3);

	expect_calls(0, 0, 0, 0);
	expect_ret(umove_store_pages(st), PAGES);

	expect_ret(umove_store_read(st, 5, 3, buf), 0);
	expect_calls(1, 0, 0, 0);
	expect_last(5, 3, buf);
	for (size_t i = 0; i < 3; i++)
		expect_page(buf + i * PG, SEED, 5 + i, "read through ops");

	fill_pages(buf, 2, OTHER);
	expect_ret(umove_store_write(st, PAGES - 2, 2, buf), 0);
	expect_calls(1, 1, 0, 0);
	expect_last(PAGES - 2, 2, buf);
	expect_pages(arr.data + (PAGES - 2) * PG, 2, OTHER, "written through");
	expect_page(arr.data + (PAGES - 3) * PG, SEED, PAGES - 3,
		    "page before the write");

	memset(buf, 0, 3 * PG);
	expect_ret(umove_store_read(st, PAGES - 2, 2, buf), 0);
	expect_calls(2, 1, 0, 0);
	expect_pages(buf, 2, OTHER, "read back");

	close_store(st);
	expect_calls(2, 1, 0, 1);
	cr_assert_eq(arr.last_priv, &arr, "close got another priv");
	unmap_pages(buf, 3);
}

/* Refused by the library: the callbacks never see these. */
Test(store_custom, refused_calls_do_not_reach_callbacks)
{
	struct umove_store *st = open_arr(&arr_ops, sizeof(arr_ops));
	char *buf = map_pages(2);

	fill_pages(buf, 2, OTHER);
	expect_ret(umove_store_read(st, PAGES, 1, buf), -EINVAL);
	expect_ret(umove_store_read(st, PAGES - 1, 2, buf), -EINVAL);
	expect_ret(umove_store_read(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_read(st, UINT64_MAX, 2, buf), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, buf + 1), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, buf + PG / 2), -EINVAL);
	expect_ret(umove_store_read(st, 0, 1, NULL), -EINVAL);
	expect_ret(umove_store_write(st, PAGES, 1, buf), -EINVAL);
	expect_ret(umove_store_write(st, 1, PAGES, buf), -EINVAL);
	expect_ret(umove_store_write(st, 0, 0, buf), -EINVAL);
	expect_ret(umove_store_write(st, 0, 1, buf + 8), -EINVAL);
	expect_ret(umove_store_write(st, 0, 1, NULL), -EINVAL);
	expect_calls(0, 0, 0, 0);
	expect_pages(buf, 2, OTHER, "buf after refused reads");
	expect_pages(arr.data, PAGES, SEED, "store after refused writes");
	close_store(st);
	expect_calls(0, 0, 0, 1);
	unmap_pages(buf, 2);
}

/* ops_size covers read only: write, sync and close in the table unused. */
Test(store_custom, ops_size_read_only)
{
	size_t size = offsetof(struct umove_store_ops, write);
	struct umove_store *st = open_arr(&arr_ops, size);
	char *buf = map_pages(1);

	expect_ret(umove_store_read(st, 7, 1, buf), 0);
	expect_page(buf, SEED, 7, "read");
	fill_page(buf, OTHER, 7);
	expect_ret(umove_store_write(st, 7, 1, buf), -EROFS);
	expect_page(arr.data + 7 * PG, SEED, 7, "page after refused write");
	/* No sync callback within ops_size: nothing to make durable. */
	expect_ret(umove_store_sync(st), 0);
	close_store(st);
	expect_calls(1, 0, 0, 0);
	unmap_pages(buf, 1);
}

/* umove_store_sync reaches the sync callback once per call, with priv. */
Test(store_custom, store_sync_calls_sync)
{
	struct umove_store *st = open_arr(&arr_ops, sizeof(arr_ops));

	expect_ret(umove_store_sync(st), 0);
	expect_calls(0, 0, 1, 0);
	cr_assert_eq(arr.last_priv, &arr, "sync got another priv");
	expect_ret(umove_store_sync(st), 0);
	expect_calls(0, 0, 2, 0);
	expect_ret(umove_store_sync(NULL), -EINVAL);
	close_store(st);
	expect_calls(0, 0, 2, 1);
}

/* Read and write covered; close beyond ops_size is not called. */
Test(store_custom, ops_size_read_write)
{
	size_t size = offsetof(struct umove_store_ops, sync);
	struct umove_store *st = open_arr(&arr_ops, size);
	char *buf = map_pages(1);

	fill_page(buf, OTHER, 3);
	expect_ret(umove_store_write(st, 3, 1, buf), 0);
	expect_page(arr.data + 3 * PG, OTHER, 3, "written");
	close_store(st);
	expect_calls(0, 1, 0, 0);
	unmap_pages(buf, 1);
}

/* A newer caller's larger table: the extra members are ignored. */
Test(store_custom, ops_size_larger_than_struct)
{
	struct {
		struct umove_store_ops ops;
		void *future[4];
	} big = {.ops = arr_ops, .future = {&big, &big, &big, &big}};
	struct umove_store *st = open_arr(&big.ops, sizeof(big));
	char *buf = map_pages(1);

	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	expect_page(buf, SEED, 0, "read");
	close_store(st);
	expect_calls(1, 0, 0, 1);
	unmap_pages(buf, 1);
}

/* Also a NULL write in a full table means read-only. */
Test(store_custom, null_write_is_erofs)
{
	struct umove_store_ops ops = arr_ops;
	struct umove_store *st;
	char *buf = map_pages(1);

	ops.write = NULL;
	ops.sync = NULL;
	ops.close = NULL;
	st = open_arr(&ops, sizeof(ops));
	fill_page(buf, OTHER, 0);
	expect_ret(umove_store_write(st, 0, 1, buf), -EROFS);
	expect_ret(umove_store_read(st, 0, 1, buf), 0);
	expect_page(buf, SEED, 0, "read");
	/* close may be NULL. */
	close_store(st);
	expect_calls(1, 0, 0, 0);
	unmap_pages(buf, 1);
}

Test(store_custom, bad_args_are_einval)
{
	struct umove_store *st = (struct umove_store *)&st;
	struct umove_store_ops no_read = arr_ops;
	size_t need =
		offsetof(struct umove_store_ops, read) + sizeof(arr_ops.read);

	no_read.read = NULL;
	expect_ret(umove_store_open(&st, &arr_ops, 0, &arr, PAGES), -EINVAL);
	expect_ret(umove_store_open(&st, &arr_ops, 1, &arr, PAGES), -EINVAL);
	expect_ret(umove_store_open(&st, &arr_ops, need - 1, &arr, PAGES),
		   -EINVAL);
	expect_ret(
		umove_store_open(&st, &no_read, sizeof(no_read), &arr, PAGES),
		-EINVAL);
	expect_ret(umove_store_open(&st, &arr_ops, sizeof(arr_ops), &arr, 0),
		   -EINVAL);
	expect_ret(umove_store_open(&st, NULL, sizeof(arr_ops), &arr, PAGES),
		   -EINVAL);
	expect_ret(
		umove_store_open(NULL, &arr_ops, sizeof(arr_ops), &arr, PAGES),
		-EINVAL);
	cr_assert_eq(st, (struct umove_store *)&st, "out written on failure");
	/* A failed open does not close priv: the caller still owns it. */
	expect_calls(0, 0, 0, 0);
	close_store(NULL);
}

Test(store_custom, callback_errors_pass_through)
{
	struct umove_store *st = open_arr(&arr_ops, sizeof(arr_ops));
	char *buf = map_pages(2);
	int errs[] = {-EIO, -ENOSPC, -EAGAIN, -ENOMEM, -EHWPOISON};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		arr.read_err = errs[i];
		arr.write_err = errs[i] == -EIO ? -ENOSPC : errs[i];
		fill_pages(buf, 2, OTHER);
		expect_ret(umove_store_read(st, 1, 2, buf), errs[i]);
		expect_last(1, 2, buf);
		expect_ret(umove_store_write(st, 3, 2, buf), arr.write_err);
		expect_last(3, 2, buf);
	}
	expect_calls(5, 5, 0, 0);
	/* The failing callbacks did nothing, and nothing else did either. */
	expect_pages(arr.data, PAGES, SEED, "store after failed writes");
	arr.read_err = arr.write_err = 0;
	expect_ret(umove_store_read(st, 1, 2, buf), 0);
	expect_page(buf, SEED, 1, "read after the errors");
	expect_page(buf + PG, SEED, 2, "read after the errors");
	close_store(st);
	expect_calls(6, 5, 0, 1);
	unmap_pages(buf, 2);
}

Test(store_custom, close_calls_close_once)
{
	struct umove_store *a = open_arr(&arr_ops, sizeof(arr_ops));
	struct umove_store *b = open_arr(&arr_ops, sizeof(arr_ops));

	/* Two stores on one priv: each close releases it once. */
	cr_assert_neq(a, b);
	close_store(a);
	expect_calls(0, 0, 0, 1);
	close_store(b);
	expect_calls(0, 0, 0, 2);
	close_store(NULL);
	expect_calls(0, 0, 0, 2);
}

Test(store_custom, pages_reported)
{
	struct umove_store *st = NULL;
	uint64_t huge = 1ull << 40; /* 4 PiB of pages: nothing is allocated */
	char *buf = map_pages(1);

	expect_ret(umove_store_pages(NULL), 0);
	expect_ret(umove_store_open(&st, &arr_ops, sizeof(arr_ops), &arr, 1),
		   0);
	track(st);
	expect_ret(umove_store_pages(st), 1);
	expect_ret(umove_store_read(st, 1, 1, buf), -EINVAL);
	close_store(st);
	expect_ret(umove_store_open(&st, &arr_ops, sizeof(arr_ops), &arr, huge),
		   0);
	track(st);
	expect_ret(umove_store_pages(st), huge);
	arr.read_err = -EIO; /* beyond the backing array: must not touch it */
	expect_ret(umove_store_read(st, huge - 1, 1, buf), -EIO);
	expect_last(huge - 1, 1, buf);
	expect_ret(umove_store_read(st, huge, 1, buf), -EINVAL);
	close_store(st);
	expect_calls(1, 0, 0, 2);
	unmap_pages(buf, 1);
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
 * Under a region: faults read through the ops, umove_region_sync() writes the
 * written page back and calls sync, and the store cannot close while mapped.
 */
Test(store_custom, region_calls_read_write_sync)
{
	struct umove_store *st;
	struct umove_region *r = NULL;
	char *p;

	need_region();
	st = open_arr(&arr_ops, sizeof(arr_ops));
	expect_ret(umove_map(&r, st, 4, 2 * PG, NULL), 0);
	p = umove_region_addr(r);
	expect_page(p, SEED, 4, "region page 0");
	expect_page(p + PG, SEED, 5, "region page 1");
	cr_assert_geq(calls().reads, 1);
	expect_calls(calls().reads, 0, 0, 0);

	expect_ret(umove_store_close(st), -EBUSY);
	expect_calls(calls().reads, 0, 0, 0);

	fill_page(p + PG, OTHER, 5);
	expect_ret(umove_region_sync(r), 0);
	cr_assert_geq(calls().writes, 1);
	expect_calls(calls().reads, calls().writes, 1, 0);
	pthread_mutex_lock(&arr.lock);
	cr_assert_eq(arr.last_priv, &arr, "sync got another priv");
	pthread_mutex_unlock(&arr.lock);
	expect_page(arr.data + 5 * PG, OTHER, 5, "page synced to the store");
	expect_page(arr.data + 4 * PG, SEED, 4, "page 4 in the store");
	expect_page(arr.data + 6 * PG, SEED, 6, "page after the region");

	expect_ret(umove_unmap(r), 0);
	cr_assert_geq(calls().syncs, 1);
	cr_assert_eq(calls().closes, 0);
	close_store(st);
	cr_assert_eq(calls().closes, 1);
}
