/* SPDX-License-Identifier: MIT */
/*
 * Markers count as occupied: a dst page that holds no page but a uffd-wp or
 * poison marker makes a move stop with -EEXIST on both paths, although
 * UFFDIO_COPY (the emulation's tool) would fill it.
 */
#include "helpers.h"

#include <string.h>
#include <sys/ioctl.h>

TestSuite(move_markers, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x0d

/* Linux 6.6 uapi; the system headers may be older, hence a private name. */
struct test_uffdio_poison {
	struct uffdio_range range;
	uint64_t mode;
	int64_t updated;
};
#define TEST_UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct test_uffdio_poison)

PATH_TEST(move_markers, uffd_wp_marker_in_dst_is_occupied)
{
	struct umove *um = open_path_extra(*path, UMOVE_FEATURE_WP_UNPOPULATED);
	char *src = map_pages(2), *dst = map_pages(2);
	struct uffdio_writeprotect wp = {
		.range = {(uintptr_t)dst, PG},
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	fill_pages(src, 2, SEED);
	expect_ret(umove_register(um, dst, 2 * PG,
				  UMOVE_REGISTER_MISSING | UMOVE_REGISTER_WP),
		   0);
	/* With WP_UNPOPULATED, protecting an empty page leaves a marker. */
	cr_assert_eq(ioctl(umove_fd(um), UFFDIO_WRITEPROTECT, &wp), 0,
		     "UFFDIO_WRITEPROTECT: %s", strerror(errno));
	cr_assert(pagemap_entry(dst) & PM_UFFD_WP, "no uffd-wp marker made");
	cr_assert(!(pagemap_entry(dst) & PM_PRESENT));

	expect_ret(umove_move(um, dst, src, 2 * PG, 0), -EEXIST);
	cr_assert(!(pagemap_entry(dst) & PM_PRESENT),
		  "[%s] the marked page was filled", path_label);
	expect_hole(dst + PG, "dst page 1");
	expect_pages(src, 2, SEED, "src");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

PATH_TEST(move_markers, poison_marker_in_dst_is_occupied)
{
	struct umove *um = open_path(*path);
	char *src, *dst;
	struct test_uffdio_poison poison = {.mode = 0};

	if (!(umove_features(um) & UMOVE_FEATURE_POISON)) {
		close_um(um);
		cr_skip_test("kernel lacks UFFDIO_POISON (Linux < 6.6)");
	}
	src = map_pages(2);
	dst = map_registered(um, 2);
	fill_pages(src, 2, SEED);
	poison.range = (struct uffdio_range){(uintptr_t)dst, PG};
	cr_assert_eq(ioctl(umove_fd(um), TEST_UFFDIO_POISON, &poison), 0,
		     "UFFDIO_POISON: %s", strerror(errno));

	/* Never read dst page 0: a poisoned page raises SIGBUS. */
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), -EEXIST);
	cr_assert(!(pagemap_entry(dst) & PM_PRESENT),
		  "[%s] the poisoned page was filled", path_label);
	expect_hole(dst + PG, "dst page 1");
	expect_pages(src, 2, SEED, "src");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}
