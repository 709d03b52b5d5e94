/* SPDX-License-Identifier: MIT */
/*
 * umove_move_all(): continues short moves itself; 0 with everything moved,
 * or the error that stopped it with the bytes moved before it.
 */
#include "helpers.h"

TestSuite(move_all, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0xe1
/* Any value the call must overwrite. */
#define POISON_MOVED ((size_t)0xdeadbeef)

PATH_TEST(move_all, moves_everything)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(8), *dst = map_registered(um, 8);
	size_t moved = POISON_MOVED;

	fill_pages(src, 8, SEED);
	expect_ret(umove_move_all(um, dst, src, 8 * PG, 0, &moved), 0);
	cr_assert_eq(moved, 8 * PG, "[%s] moved %zu, expected %zu", path_label,
		     moved, 8 * PG);
	expect_pages(dst, 8, SEED, "dst");
	expect_holes(src, 8, "src");
	unmap_pages(src, 8);
	unmap_pages(dst, 8);
	close_um(um);
}

PATH_TEST(move_all, stops_at_hole_with_enoent)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_registered(um, 4);
	size_t moved = POISON_MOVED;

	fill_page(src, SEED, 0);
	fill_page(src + 2 * PG, SEED, 2);
	fill_page(src + 3 * PG, SEED, 3);
	expect_ret(umove_move_all(um, dst, src, 4 * PG, 0, &moved), -ENOENT);
	cr_assert_eq(moved, PG, "[%s] moved %zu, expected %zu", path_label,
		     moved, PG);
	expect_page(dst, SEED, 0, "dst page 0");
	expect_holes(dst + PG, 3, "dst pages 1-3");
	expect_page(src + 2 * PG, SEED, 2, "src page 2");
	expect_page(src + 3 * PG, SEED, 3, "src page 3");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/* A short count is continued, so the EEXIST behind it comes out. */
PATH_TEST(move_all, stops_at_occupied_page_with_eexist)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_pages(4);
	size_t moved = POISON_MOVED;

	fill_pages(src, 4, SEED);
	fill_page(dst + 2 * PG, SEED + 1, 2);
	expect_ret(umove_register(um, dst, 4 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move_all(um, dst, src, 4 * PG, 0, &moved), -EEXIST);
	cr_assert_eq(moved, 2 * PG, "[%s] moved %zu, expected %zu", path_label,
		     moved, 2 * PG);
	expect_pages(dst, 2, SEED, "dst pages 0-1");
	expect_page(dst + 2 * PG, SEED + 1, 2, "occupied dst page 2");
	expect_page(src + 2 * PG, SEED, 2, "src page 2");
	expect_page(src + 3 * PG, SEED, 3, "src page 3");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

PATH_TEST(move_all, error_before_any_move_sets_moved_zero)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 2);
	size_t moved = POISON_MOVED;

	fill_page(src + PG, SEED, 1);
	expect_ret(umove_move_all(um, dst, src, 2 * PG, 0, &moved), -ENOENT);
	cr_assert_eq(moved, 0, "[%s] moved %zu, expected 0", path_label, moved);
	expect_page(src + PG, SEED, 1, "src page 1");
	expect_holes(dst, 2, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

PATH_TEST(move_all, null_moved_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 2);

	fill_pages(src, 2, SEED);
	expect_ret(umove_move_all(um, dst, src, 2 * PG, 0, NULL), -EINVAL);
	expect_pages(src, 2, SEED, "src");
	expect_holes(dst, 2, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* Validation failures still report how much moved: nothing. */
static void expect_einval(struct umove *um, char *dst, char *src, size_t len,
			  unsigned flags, const char *what)
{
	size_t moved = POISON_MOVED;
	int ret = umove_move_all(um, dst, src, len, flags, &moved);
	char buf[48];

	cr_assert_eq(ret, -EINVAL,
		     "[%s] umove_move_all with %s: expected "
		     "-EINVAL, got %s",
		     path_label, what, ret_str(ret, buf));
	cr_assert_eq(moved, 0,
		     "[%s] umove_move_all with %s: moved %zu after "
		     "-EINVAL, expected 0",
		     path_label, what, moved);
}

PATH_TEST(move_all, bad_args_are_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 2);

	fill_pages(src, 2, SEED);
	expect_einval(NULL, dst, src, PG, 0, "NULL handle");
	expect_einval(um, dst, src, 0, 0, "len 0");
	expect_einval(um, dst + 1, src, PG, 0, "unaligned dst");
	expect_einval(um, dst, src, PG + 1, 0, "unaligned len");
	expect_einval(um, dst, src, PG, 1u << 31, "unknown flags");
	expect_einval(um, src, src, PG, 0, "identical ranges");
	expect_pages(src, 2, SEED, "src");
	expect_holes(dst, 2, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}
