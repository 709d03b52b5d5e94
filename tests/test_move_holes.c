/* SPDX-License-Identifier: MIT */
/*
 * Holes in src: a move stops at the first one with -ENOENT (or the count
 * moved before it), unless UMOVE_ALLOW_SRC_HOLES counts them as moved while
 * dst stays a hole there.
 */
#include "helpers.h"

#include <sys/mman.h>

TestSuite(move_holes, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x9d

struct fix {
	struct umove *um;
	char *src;
	char *dst;
};

/* src pages 0, 2, 3 hold data; page 1 was never touched. */
static void setup_hole_at_1(struct fix *f, enum um_path path)
{
	f->um = open_path(path);
	f->src = map_pages(4);
	f->dst = map_registered(f->um, 4);
	fill_page(f->src, SEED, 0);
	fill_page(f->src + 2 * PG, SEED, 2);
	fill_page(f->src + 3 * PG, SEED, 3);
	expect_hole(f->src + PG, "src page 1 before the move");
}

static void teardown(struct fix *f)
{
	unmap_pages(f->src, 4);
	unmap_pages(f->dst, 4);
	close_um(f->um);
}

static void expect_stopped_at_1(struct fix *f)
{
	expect_page(f->dst, SEED, 0, "dst page 0");
	expect_hole(f->src, "src page 0 (moved)");
	expect_holes(f->dst + PG, 3, "dst pages 1-3 (not reached)");
	expect_hole(f->src + PG, "src page 1 (the hole)");
	expect_page(f->src + 2 * PG, SEED, 2, "src page 2 (not reached)");
	expect_page(f->src + 3 * PG, SEED, 3, "src page 3 (not reached)");
}

PATH_TEST(move_holes, hole_gives_partial_count)
{
	struct fix f;

	setup_hole_at_1(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src, 4 * PG, 0), (ssize_t)PG);
	expect_stopped_at_1(&f);
	teardown(&f);
}

PATH_TEST(move_holes, continuation_reports_enoent)
{
	struct fix f;

	setup_hole_at_1(&f, *path);
	expect_ret(umove_move(f.um, f.dst, f.src, 4 * PG, 0), (ssize_t)PG);
	expect_ret(umove_move(f.um, f.dst + PG, f.src + PG, 3 * PG, 0),
		   -ENOENT);
	expect_stopped_at_1(&f);
	teardown(&f);
}

PATH_TEST(move_holes, hole_first_is_enoent)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 2);

	fill_page(src + PG, SEED, 1);
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), -ENOENT);
	expect_page(src + PG, SEED, 1, "src page 1");
	expect_holes(dst, 2, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

PATH_TEST(move_holes, allow_src_holes_counts_holes_as_moved)
{
	struct fix f;

	setup_hole_at_1(&f, *path);
	expect_ret(
		umove_move(f.um, f.dst, f.src, 4 * PG, UMOVE_ALLOW_SRC_HOLES),
		(ssize_t)(4 * PG));
	expect_page(f.dst, SEED, 0, "dst page 0");
	/* A hole moves as a hole: no zero page may appear in dst. */
	expect_hole(f.dst + PG, "dst page 1 (moved hole)");
	expect_page(f.dst + 2 * PG, SEED, 2, "dst page 2");
	expect_page(f.dst + 3 * PG, SEED, 3, "dst page 3");
	expect_holes(f.src, 4, "src after move");
	teardown(&f);
}

PATH_TEST(move_holes, allow_src_holes_all_holes)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_registered(um, 4);

	expect_ret(umove_move(um, dst, src, 4 * PG, UMOVE_ALLOW_SRC_HOLES),
		   (ssize_t)(4 * PG));
	expect_holes(dst, 4, "dst after moving only holes");
	expect_holes(src, 4, "src after moving only holes");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/*
 * Per page, an occupied dst is checked before a src hole. src page 1 is
 * filled so that src has a page table and the kernel walks pages one by one.
 */
PATH_TEST(move_holes, occupied_dst_wins_over_src_hole)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_pages(2);

	fill_page(src + PG, SEED, 1);
	fill_page(dst, SEED + 1, 0);
	expect_ret(umove_register(um, dst, 2 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), -EEXIST);
	expect_ret(umove_move(um, dst, src, 2 * PG, UMOVE_ALLOW_SRC_HOLES),
		   -EEXIST);
	expect_page(dst, SEED + 1, 0, "occupied dst page 0");
	expect_hole(dst + PG, "dst page 1");
	expect_page(src + PG, SEED, 1, "src page 1");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* A hole far into a large move: the count is exact past any batching. */
#define DEEP_PAGES 1024
#define DEEP_HOLE 700

PATH_TEST(move_holes, hole_deep_in_large_move)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(DEEP_PAGES),
	     *dst = map_registered(um, DEEP_PAGES);
	char *hole = src + DEEP_HOLE * PG;
	size_t rest = DEEP_PAGES - DEEP_HOLE - 1;

	fill_pages(src, DEEP_PAGES, SEED);
	cr_assert_eq(madvise(hole, PG, MADV_DONTNEED), 0);
	expect_ret(umove_move(um, dst, src, DEEP_PAGES * PG, 0),
		   (ssize_t)(DEEP_HOLE * PG));
	expect_ret(umove_move(um, dst + DEEP_HOLE * PG, hole,
			      (DEEP_PAGES - DEEP_HOLE) * PG, 0),
		   -ENOENT);
	expect_pages(dst, DEEP_HOLE, SEED, "dst before the hole");
	cr_assert_eq(count_non_holes(src, DEEP_HOLE), 0,
		     "[%s] moved src pages are not holes", path_label);
	cr_assert_eq(count_non_holes(dst + DEEP_HOLE * PG, rest + 1), 0,
		     "[%s] dst pages from the hole on are not holes",
		     path_label);
	for (size_t i = DEEP_HOLE + 1; i < DEEP_PAGES; i++)
		expect_page(src + i * PG, SEED, i, "src after the hole");
	unmap_pages(src, DEEP_PAGES);
	unmap_pages(dst, DEEP_PAGES);
	close_um(um);
}
