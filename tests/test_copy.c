/* SPDX-License-Identifier: MIT */
/*
 * umove_copy(): UFFDIO_COPY with the umove_move() return shape; src stays as
 * it was, UMOVE_COPY_WP installs the copy write-protected.
 */
#include "helpers.h"

TestSuite(copy, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x1f
#define OTHER 0x88

Test(copy, copies_and_keeps_src)
{
	struct umove *um = open_default();
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_pages(src, 4, SEED);
	expect_ret(umove_copy(um, dst, src, 4 * PG, 0), (ssize_t)(4 * PG));
	expect_pages(dst, 4, SEED, "dst after copy");
	expect_pages(src, 4, SEED, "src after copy");
	for (size_t i = 0; i < 4; i++)
		expect_present(src + i * PG, "src after copy");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

Test(copy, occupied_dst_is_eexist)
{
	struct umove *um = open_default();
	char *src = map_pages(1), *dst = map_pages(1);

	fill_page(src, SEED, 0);
	fill_page(dst, OTHER, 0);
	expect_ret(umove_register(um, dst, PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_copy(um, dst, src, PG, 0), -EEXIST);
	expect_page(dst, OTHER, 0, "occupied dst");
	expect_page(src, SEED, 0, "src");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

Test(copy, short_count_then_eexist)
{
	struct umove *um = open_default();
	char *src = map_pages(4), *dst = map_pages(4);

	fill_pages(src, 4, SEED);
	fill_page(dst + 2 * PG, OTHER, 2);
	expect_ret(umove_register(um, dst, 4 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_copy(um, dst, src, 4 * PG, 0), (ssize_t)(2 * PG));
	expect_pages(dst, 2, SEED, "dst pages 0-1");
	expect_page(dst + 2 * PG, OTHER, 2, "occupied dst page 2");
	expect_hole(dst + 3 * PG, "dst page 3");
	expect_ret(umove_copy(um, dst + 2 * PG, src + 2 * PG, 2 * PG, 0),
		   -EEXIST);
	expect_hole(dst + 3 * PG, "dst page 3 after continuation");
	expect_pages(src, 4, SEED, "src");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/* The kernel's error passes through: an unregistered dst is -ENOENT. */
Test(copy, unregistered_dst_is_enoent)
{
	struct umove *um = open_default();
	char *src = map_pages(1), *dst = map_pages(1);

	fill_page(src, SEED, 0);
	expect_ret(umove_copy(um, dst, src, PG, 0), -ENOENT);
	expect_hole(dst, "unregistered dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

Test(copy, bad_args_are_einval)
{
	struct umove *um = open_default();
	char *src = map_pages(2), *dst = map_registered(um, 2);
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));

	fill_pages(src, 2, SEED);
	expect_ret(umove_copy(NULL, dst, src, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, NULL, src, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst, NULL, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst + 1, src, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst, src + 1, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst, src, PG + 1, 0), -EINVAL);
	expect_ret(umove_copy(um, dst, src, 0, 0), -EINVAL);
	expect_ret(umove_copy(um, top, src, 2 * PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst, src, PG, 1u << 31), -EINVAL);
	expect_ret(umove_copy(um, dst, dst, PG, 0), -EINVAL);
	expect_ret(umove_copy(um, dst + PG, dst, 2 * PG, 0), -EINVAL);
	expect_holes(dst, 2, "dst");
	expect_pages(src, 2, SEED, "src");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* A handle with write protection, or a skip. */
static struct umove *open_wp(void)
{
	struct umove *um = open_default();

	if (!(umove_features(um) & UMOVE_FEATURE_PAGEFAULT_FLAG_WP)) {
		close_um(um);
		cr_skip_test("no userfaultfd write protection");
	}
	return um;
}

static char *map_wp_registered(struct umove *um, size_t n)
{
	char *p = map_pages(n);

	expect_ret(umove_register(um, p, n * PG,
				  UMOVE_REGISTER_MISSING | UMOVE_REGISTER_WP),
		   0);
	return p;
}

Test(copy, copy_wp_installs_protected_page)
{
	struct umove *um = open_wp();
	char *src = map_pages(2), *dst = map_wp_registered(um, 2);

	fill_pages(src, 2, SEED);
	expect_ret(umove_copy(um, dst, src, PG, UMOVE_COPY_WP), (ssize_t)PG);
	expect_ret(umove_copy(um, dst + PG, src + PG, PG, 0), (ssize_t)PG);
	cr_assert(pagemap_entry(dst) & PM_UFFD_WP,
		  "COPY_WP page lacks the uffd-wp bit (pagemap 0x%016llx)",
		  (unsigned long long)pagemap_entry(dst));
	cr_assert(!(pagemap_entry(dst + PG) & PM_UFFD_WP),
		  "plain copy has the uffd-wp bit (pagemap 0x%016llx)",
		  (unsigned long long)pagemap_entry(dst + PG));
	expect_pages(dst, 2, SEED, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* A write to the protected copy blocks and is reported as a WP fault. */
Test(copy, write_to_copy_wp_page_raises_wp_fault)
{
	struct umove *um = open_wp();
	char *src = map_pages(1), *dst = map_wp_registered(um, 1);
	struct toucher t;
	struct uffd_msg msg;

	fill_page(src, SEED, 0);
	expect_ret(umove_copy(um, dst, src, PG, UMOVE_COPY_WP), (ssize_t)PG);
	toucher_start(&t, dst, true, 0x1234);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS), "no WP fault event");
	read_msg(umove_fd(um), &msg);
	cr_assert_eq(msg.event, UFFD_EVENT_PAGEFAULT);
	cr_assert(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP,
		  "fault flags 0x%llx lack WP",
		  (unsigned long long)msg.arg.pagefault.flags);
	cr_assert_eq(msg.arg.pagefault.address & ~(uint64_t)(PG - 1),
		     (uintptr_t)dst);
	cr_assert(!atomic_load(&t.done), "write went through a WP page");
	/* Unregistering drops the protection and wakes the writer. */
	expect_ret(umove_unregister(um, dst, PG), 0);
	toucher_finish(&t, um, "unregister of a WP range");
	cr_assert_eq(*(uint64_t *)dst, 0x1234);
	cr_assert_eq(((uint64_t *)dst)[1], pattern_word(SEED, 0, 1));
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}
