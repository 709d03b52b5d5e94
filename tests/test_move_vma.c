/* SPDX-License-Identifier: MIT */
/*
 * umove_move() and the mappings it touches: only private anonymous memory of
 * equal protection, dst registered with this handle, ranges inside one
 * mapping each. Anything else is -EINVAL (or -ENOENT where nothing is mapped)
 * on both paths, and nothing moves.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

TestSuite(move_vma, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x51

PATH_TEST(move_vma, dst_unmapped_is_enoent)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1);
	void *dst = unmapped_address();

	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -ENOENT);
	expect_page(src, SEED, 0, "src after move to unmapped dst");
	unmap_pages(src, 1);
	close_um(um);
}

PATH_TEST(move_vma, src_unmapped_is_enoent)
{
	struct umove *um = open_path(*path);
	char *dst = map_registered(um, 1);
	void *src = unmapped_address();

	expect_ret(umove_move(um, dst, src, PG, 0), -ENOENT);
	expect_hole(dst, "dst after move from unmapped src");
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_vma, dst_unregistered_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_pages(1);

	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "src");
	expect_hole(dst, "unregistered dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_vma, dst_of_another_handle_is_einval)
{
	struct umove *um = open_path(*path);
	struct umove *other = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(other, 1);

	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "src");
	expect_hole(dst, "dst registered with the other handle");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(other);
	close_um(um);
}

/* A write-protect-only registration still makes dst this handle's. */
PATH_TEST(move_vma, dst_registered_wp_only_is_accepted)
{
	struct umove *um = open_path(*path);
	char *src, *dst;

	if (!(umove_features(um) & UMOVE_FEATURE_PAGEFAULT_FLAG_WP)) {
		close_um(um);
		cr_skip_test("no userfaultfd write protection");
	}
	src = map_pages(1);
	dst = map_pages(1);
	fill_page(src, SEED, 0);
	expect_ret(umove_register(um, dst, PG, UMOVE_REGISTER_WP), 0);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst registered WP-only");
	expect_hole(src, "src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_vma, src_shared_anonymous_is_einval)
{
	struct umove *um = open_path(*path);
	char *dst = map_registered(um, 1);
	char *src = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(src, MAP_FAILED);
	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "shared src");
	expect_hole(dst, "dst");
	munmap(src, PG);
	unmap_pages(dst, 1);
	close_um(um);
}

/* A private file mapping holds anonymous COW pages, yet is not anonymous. */
PATH_TEST(move_vma, src_file_backed_is_einval)
{
	struct umove *um = open_path(*path);
	char *dst = map_registered(um, 1);
	int fd = temp_file(PG);
	char *src = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	cr_assert_neq(src, MAP_FAILED, "mmap file: %s", strerror(errno));
	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "file-backed src");
	expect_hole(dst, "dst");
	munmap(src, PG);
	close(fd);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_vma, src_read_only_dst_writable_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);

	fill_page(src, SEED, 0);
	cr_assert_eq(mprotect(src, PG, PROT_READ), 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "read-only src");
	expect_hole(dst, "dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_vma, dst_read_only_src_writable_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_pages(1);

	fill_page(src, SEED, 0);
	cr_assert_eq(mprotect(dst, PG, PROT_READ), 0);
	expect_ret(umove_register(um, dst, PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "src");
	expect_hole(dst, "read-only dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* map_pages() puts a PROT_NONE guard mapping right after the pages. */
PATH_TEST(move_vma, src_past_end_of_mapping_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 3);

	fill_pages(src, 2, SEED);
	expect_ret(umove_move(um, dst, src, 3 * PG, 0), -EINVAL);
	expect_pages(src, 2, SEED, "src");
	expect_holes(dst, 3, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 3);
	close_um(um);
}

/* dst's tail is mapped but unregistered: the range spans two mappings. */
PATH_TEST(move_vma, dst_past_end_of_mapping_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_pages(4);

	fill_pages(src, 4, SEED);
	expect_ret(umove_register(um, dst, 2 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, 4 * PG, 0), -EINVAL);
	expect_pages(src, 4, SEED, "src");
	expect_holes(dst, 4, "dst");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

static bool five_level_paging(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool la57 = false;

	if (!f)
		return true;
	while (!la57 && getline(&line, &cap, f) > 0)
		la57 = strncmp(line, "flags", 5) == 0 && strstr(line, " la57");
	free(line);
	fclose(f);
	return la57;
}

PATH_TEST(move_vma, beyond_user_address_space_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	void *kernel_half = (void *)((uintptr_t)1 << 63);

	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, kernel_half, src, PG, 0), -EINVAL);
	expect_ret(umove_move(um, dst, kernel_half, PG, 0), -EINVAL);
	/* With 4-level paging user space ends at 0x7ffffffff000. */
	if (!five_level_paging())
		expect_ret(umove_move(um, (void *)0x7ffffffff000ul, src, PG, 0),
			   -EINVAL);
	expect_page(src, SEED, 0, "src");
	expect_hole(dst, "dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/*
 * The kernel forgets a registration when its mapping goes away: a new
 * mapping at the same address is unregistered until registered again.
 */
PATH_TEST(move_vma, remapped_dst_is_unregistered)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	void *p;

	fill_page(src, SEED, 0);
	cr_assert_eq(munmap(dst, PG), 0);
	p = mmap(dst, PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(p, (void *)dst, "mmap MAP_FIXED: %s", strerror(errno));
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(src, SEED, 0, "src");
	expect_hole(dst, "remapped dst");

	expect_ret(umove_register(um, dst, PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst registered again");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* Unregistering the middle of a range leaves its two ends registered. */
PATH_TEST(move_vma, partially_unregistered_dst)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_pages(src, 4, SEED);
	expect_ret(umove_unregister(um, dst + PG, 2 * PG), 0);
	expect_ret(umove_move(um, dst + PG, src + PG, PG, 0), -EINVAL);
	expect_ret(umove_move(um, dst + 2 * PG, src + 2 * PG, PG, 0), -EINVAL);
	expect_ret(umove_move(um, dst, src, 4 * PG, 0), -EINVAL);
	expect_holes(dst, 4, "dst after the refused moves");
	expect_pages(src, 4, SEED, "src after the refused moves");
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_ret(umove_move(um, dst + 3 * PG, src + 3 * PG, PG, 0),
		   (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst page 0");
	expect_page(dst + 3 * PG, SEED, 3, "dst page 3");
	expect_holes(dst + PG, 2, "unregistered dst pages 1-2");
	expect_page(src + PG, SEED, 1, "src page 1");
	expect_page(src + 2 * PG, SEED, 2, "src page 2");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/*
 * A mapping that replaced a registered one is unregistered whatever its
 * pages hold: an occupied page there is still -EINVAL, not -EEXIST.
 */
PATH_TEST(move_vma, remapped_occupied_dst_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	void *p;

	fill_page(src, SEED, 0);
	p = mmap(dst, PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(p, (void *)dst, "mmap MAP_FIXED: %s", strerror(errno));
	fill_page(dst, SEED + 1, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EINVAL);
	expect_page(dst, SEED + 1, 0, "remapped dst");
	expect_page(src, SEED, 0, "src");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* ... and moving only holes into it is no exception. */
PATH_TEST(move_vma, remapped_dst_holes_only_is_einval)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	void *p;

	p = mmap(dst, PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(p, (void *)dst, "mmap MAP_FIXED: %s", strerror(errno));
	expect_ret(umove_move(um, dst, src, PG, UMOVE_ALLOW_SRC_HOLES),
		   -EINVAL);
	expect_hole(dst, "remapped dst");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* Two adjacent registrations make one registered mapping again. */
PATH_TEST(move_vma, dst_registered_in_two_halves)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_pages(4);

	fill_pages(src, 4, SEED);
	expect_ret(umove_register(um, dst, 2 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_register(um, dst + 2 * PG, 2 * PG,
				  UMOVE_REGISTER_MISSING),
		   0);
	expect_ret(umove_move(um, dst, src, 4 * PG, 0), (ssize_t)(4 * PG));
	expect_pages(dst, 4, SEED, "dst");
	expect_holes(src, 4, "src");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/* The kernel makes a private mapping of /dev/zero anonymous memory. */
PATH_TEST(move_vma, private_dev_zero_src_is_anonymous)
{
	struct umove *um = open_path(*path);
	char *dst = map_registered(um, 1);
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	char *src;

	cr_assert_geq(fd, 0, "open /dev/zero: %s", strerror(errno));
	src = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	cr_assert_neq(src, MAP_FAILED, "mmap /dev/zero: %s", strerror(errno));
	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst");
	expect_hole(src, "/dev/zero src after move");
	munmap(src, PG);
	unmap_pages(dst, 1);
	close_um(um);
}

/* A name given with PR_SET_VMA_ANON_NAME leaves memory anonymous. */
PATH_TEST(move_vma, named_anonymous_src_moves)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);

	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)src, PG,
		  (unsigned long)"umove-test") != 0) {
		unmap_pages(src, 1);
		unmap_pages(dst, 1);
		close_um(um);
		cr_skip_test("no anonymous VMA names (CONFIG_ANON_VMA_NAME)");
	}
	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst");
	expect_hole(src, "named src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}
