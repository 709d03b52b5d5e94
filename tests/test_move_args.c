/* SPDX-License-Identifier: MIT */
/*
 * umove_move() argument validation: every malformed call is -EINVAL on both
 * paths, checked by umove before the kernel sees it, and moves nothing.
 */
#include "helpers.h"

TestSuite(move_args, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0xa7
#define NPAGES 2

struct fix {
	struct umove *um;
	char *src;
	char *dst;
};

static void setup(struct fix *f, enum um_path path)
{
	f->um = open_path(path);
	f->src = map_pages(NPAGES);
	fill_pages(f->src, NPAGES, SEED);
	f->dst = map_registered(f->um, NPAGES);
}

/* A rejected call must leave both sides exactly as they were. */
static void expect_untouched(struct fix *f)
{
	expect_pages(f->src, NPAGES, SEED, "src after a rejected move");
	expect_holes(f->dst, NPAGES, "dst after a rejected move");
}

static void teardown(struct fix *f)
{
	unmap_pages(f->src, NPAGES);
	unmap_pages(f->dst, NPAGES);
	close_um(f->um);
}

PATH_TEST(move_args, null_handle)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(NULL, f.dst, f.src, PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, null_dst)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, NULL, f.src, PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, null_src)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, NULL, PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, unaligned_dst)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst + 1, f.src, PG, 0), -EINVAL);
	expect_ret(umove_move(f.um, f.dst + PG / 2, f.src, PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, unaligned_src)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src + 8, PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, unaligned_len)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src, PG + 1, 0), -EINVAL);
	expect_ret(umove_move(f.um, f.dst, f.src, PG - 1, 0), -EINVAL);
	expect_ret(umove_move(f.um, f.dst, f.src, 1, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, zero_len)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src, 0, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

/* The last page of the address space plus one more wraps to 0. */
PATH_TEST(move_args, dst_wraps_around)
{
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, top, f.src, 2 * PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

PATH_TEST(move_args, src_wraps_around)
{
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, top, 2 * PG, 0), -EINVAL);
	expect_untouched(&f);
	teardown(&f);
}

/* Overlap cases share one registered area whose first pages hold data. */
struct area {
	struct umove *um;
	char *a;
};

#define AREA_PAGES 4

static void area_setup(struct area *ar, enum um_path path)
{
	ar->um = open_path(path);
	ar->a = map_pages(AREA_PAGES);
	/* Written before registering: a write to a registered hole faults. */
	fill_pages(ar->a, AREA_PAGES, SEED);
	expect_ret(umove_register(ar->um, ar->a, AREA_PAGES * PG,
				  UMOVE_REGISTER_MISSING),
		   0);
}

static void area_teardown(struct area *ar)
{
	expect_pages(ar->a, AREA_PAGES, SEED, "area after a rejected move");
	unmap_pages(ar->a, AREA_PAGES);
	close_um(ar->um);
}

PATH_TEST(move_args, overlap_forward)
{
	struct area ar;

	area_setup(&ar, *path);
	expect_ret(umove_move(ar.um, ar.a + PG, ar.a, 2 * PG, 0), -EINVAL);
	area_teardown(&ar);
}

PATH_TEST(move_args, overlap_backward)
{
	struct area ar;

	area_setup(&ar, *path);
	expect_ret(umove_move(ar.um, ar.a, ar.a + PG, 2 * PG, 0), -EINVAL);
	area_teardown(&ar);
}

PATH_TEST(move_args, overlap_identical)
{
	struct area ar;

	area_setup(&ar, *path);
	expect_ret(umove_move(ar.um, ar.a, ar.a, PG, 0), -EINVAL);
	expect_ret(umove_move(ar.um, ar.a, ar.a, AREA_PAGES * PG, 0), -EINVAL);
	area_teardown(&ar);
}

PATH_TEST(move_args, unknown_flags)
{
	struct fix f;

	setup(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src, PG, 1u << 31), -EINVAL);
	expect_ret(umove_move(f.um, f.dst, f.src, PG, 1u << 7), -EINVAL);
	expect_ret(
		umove_move(f.um, f.dst, f.src, PG, UMOVE_DONTWAKE | (1u << 20)),
		-EINVAL);
	expect_untouched(&f);
	teardown(&f);
}
