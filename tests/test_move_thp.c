/* SPDX-License-Identifier: MIT */
/*
 * Transparent huge pages in src: a 2 MiB-aligned, fully covered huge page
 * arrives whole in dst on the native path; the emulated path delivers the
 * same bytes as 4 KiB pages (documented divergence).
 */
#include "helpers.h"

#include <sys/mman.h>

TestSuite(move_thp, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0xd2
#define HPAGE_PAGES (HPAGE / PG)

/* A src huge page full of pattern, or a skip if THP gives none here. */
static char *huge_src(struct umove *um)
{
	char *src = map_aligned(HPAGE, HPAGE);
	long kb;

	if (madvise(src, HPAGE, MADV_HUGEPAGE) != 0) {
		munmap(src, HPAGE);
		close_um(um);
		cr_skip_test("THP unavailable (MADV_HUGEPAGE refused)");
	}
	fill_pages(src, HPAGE_PAGES, SEED);
	kb = smaps_anon_huge_kb(src);
	if (kb < 2048) {
		munmap(src, HPAGE);
		close_um(um);
		cr_skip_test("THP unavailable (src AnonHugePages %ld kB)", kb);
	}
	return src;
}

static char *huge_dst(struct umove *um)
{
	char *dst = map_aligned(HPAGE, HPAGE);

	expect_ret(umove_register(um, dst, HPAGE, UMOVE_REGISTER_MISSING), 0);
	return dst;
}

static void expect_moved(char *dst, char *src)
{
	expect_pages(dst, HPAGE_PAGES, SEED, "dst after THP move");
	cr_assert_eq(count_non_holes(src, HPAGE_PAGES), 0,
		     "[%s] src still has %zu pages after the move", path_label,
		     count_non_holes(src, HPAGE_PAGES));
}

Test(move_thp, native_moves_huge_page_whole)
{
	struct umove *um = open_path(NATIVE);
	char *src = huge_src(um), *dst = huge_dst(um);
	long kb;

	expect_ret(umove_move(um, dst, src, HPAGE, 0), (ssize_t)HPAGE);
	kb = smaps_anon_huge_kb(dst);
	cr_assert_geq(kb, 2048,
		      "[native] dst AnonHugePages %ld kB, expected >= 2048",
		      kb);
	expect_moved(dst, src);
	munmap(src, HPAGE);
	munmap(dst, HPAGE);
	close_um(um);
}

Test(move_thp, emulated_moves_huge_page_as_small_pages)
{
	struct umove *um = open_path(EMULATED);
	char *src = huge_src(um), *dst = huge_dst(um);
	long kb;

	expect_ret(umove_move(um, dst, src, HPAGE, 0), (ssize_t)HPAGE);
	kb = smaps_anon_huge_kb(dst);
	cr_assert_eq(kb, 0, "[emulated] dst AnonHugePages %ld kB, expected 0",
		     kb);
	expect_moved(dst, src);
	munmap(src, HPAGE);
	munmap(dst, HPAGE);
	close_um(um);
}

/* Half a huge page moves; the other half stays in src, byte for byte. */
PATH_TEST(move_thp, part_of_a_huge_page)
{
	struct umove *um = open_path(*path);
	char *src = huge_src(um), *dst = huge_dst(um);
	const size_t half = HPAGE_PAGES / 2;

	expect_ret(umove_move(um, dst, src, half * PG, 0),
		   (ssize_t)(half * PG));
	expect_pages(dst, half, SEED, "dst (first half)");
	cr_assert_eq(count_non_holes(src, half), 0,
		     "[%s] moved half of src is not holes", path_label);
	cr_assert_eq(count_non_holes(dst + half * PG, half), 0,
		     "[%s] second half of dst was filled", path_label);
	for (size_t i = half; i < HPAGE_PAGES; i++)
		expect_page(src + i * PG, SEED, i, "src (second half)");
	munmap(src, HPAGE);
	munmap(dst, HPAGE);
	close_um(um);
}
