/* SPDX-License-Identifier: MIT */
/*
 * umove_move() doing its job: bytes arrive in dst unchanged, src becomes a
 * hole, the whole length is reported, on both paths.
 */
#include "helpers.h"

TestSuite(move_basic, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x3c

PATH_TEST(move_basic, moves_pages_and_src_becomes_hole)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_pages(src, 4, SEED);
	expect_ret(umove_move(um, dst, src, 4 * PG, 0), (ssize_t)(4 * PG));
	for (size_t i = 0; i < 4; i++)
		expect_present(dst + i * PG, "dst after move");
	expect_pages(dst, 4, SEED, "dst after move");
	expect_holes(src, 4, "src after move");
	/* src is unregistered: touching the hole now gives fresh zeros. */
	expect_zero_page(src, "src read after move");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

PATH_TEST(move_basic, single_page)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);

	fill_page(src, SEED, 7);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 7, "dst after move");
	expect_hole(src, "src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* Pages 0-3 of one registered area move to its pages 4-7. */
PATH_TEST(move_basic, within_one_registered_area)
{
	struct umove *um = open_path(*path);
	char *a = map_pages(8);

	/* Written before registering: a write to a registered hole faults. */
	fill_pages(a, 4, SEED);
	expect_ret(umove_register(um, a, 8 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, a + 4 * PG, a, 4 * PG, 0), (ssize_t)(4 * PG));
	expect_pages(a + 4 * PG, 4, SEED, "upper half after move");
	expect_holes(a, 4, "lower half after move");
	unmap_pages(a, 8);
	close_um(um);
}

/* A page only ever read maps the shared zero page: it still moves. */
PATH_TEST(move_basic, zero_page_src)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);

	cr_assert_eq(*(volatile char *)src, 0);
	expect_present(src, "read-touched src");
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_present(dst, "dst after moving the zero page");
	expect_zero_page(dst, "dst after moving the zero page");
	expect_hole(src, "src after moving the zero page");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

#define BIG_PAGES ((size_t)(64 << 20) / PG)

PATH_TEST(move_basic, large_64mib_keeps_every_byte)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(BIG_PAGES), *dst = map_registered(um, BIG_PAGES);
	uint64_t before;

	fill_pages(src, BIG_PAGES, SEED);
	before = checksum(src, BIG_PAGES * PG);
	expect_ret(umove_move(um, dst, src, BIG_PAGES * PG, 0),
		   (ssize_t)(BIG_PAGES * PG));
	cr_assert_eq(checksum(dst, BIG_PAGES * PG), before,
		     "[%s] checksum of dst differs from src's before the move",
		     path_label);
	expect_pages(dst, BIG_PAGES, SEED, "dst after 64 MiB move");
	cr_assert_eq(count_non_holes(src, BIG_PAGES), 0,
		     "[%s] %zu src pages are not holes after the move",
		     path_label, count_non_holes(src, BIG_PAGES));
	unmap_pages(src, BIG_PAGES);
	unmap_pages(dst, BIG_PAGES);
	close_um(um);
}
