/* SPDX-License-Identifier: MIT */
/*
 * Waking threads blocked on a missing dst page: a move wakes them, unless
 * UMOVE_DONTWAKE defers that to umove_wake().
 */
#include "helpers.h"

TestSuite(move_wake, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x44

/* Starts a reader of dst and waits until its fault is queued on the fd. */
static void block_reader(struct toucher *t, struct umove *um, char *dst)
{
	struct uffd_msg msg;

	toucher_start(t, dst, false, 0);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS),
		  "[%s] no fault event for the blocked reader", path_label);
	read_msg(umove_fd(um), &msg);
	cr_assert_eq(msg.event, UFFD_EVENT_PAGEFAULT);
	cr_assert_eq(msg.arg.pagefault.address & ~(uint64_t)(PG - 1),
		     (uintptr_t)dst);
	cr_assert(!atomic_load(&t->done), "[%s] reader did not block",
		  path_label);
}

PATH_TEST(move_wake, move_wakes_faulting_thread)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct toucher t;

	fill_page(src, SEED, 0);
	block_reader(&t, um, dst);
	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	toucher_finish(&t, um, "move without DONTWAKE");
	cr_assert_eq(t.value, pattern_word(SEED, 0, 0),
		     "[%s] woken reader saw 0x%llx", path_label,
		     (unsigned long long)t.value);
	expect_page(dst, SEED, 0, "dst after move");
	expect_hole(src, "src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_wake, dontwake_defers_to_umove_wake)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct toucher t;

	fill_page(src, SEED, 0);
	block_reader(&t, um, dst);
	/* The event is queued a moment before the thread sleeps. */
	sleep_ms(20);
	expect_ret(umove_move(um, dst, src, PG, UMOVE_DONTWAKE), (ssize_t)PG);
	sleep_ms(50);
	cr_assert(!atomic_load(&t.done),
		  "[%s] reader woke although the move said DONTWAKE",
		  path_label);
	expect_ret(umove_wake(um, dst, PG), 0);
	toucher_finish(&t, um, "umove_wake after DONTWAKE");
	cr_assert_eq(t.value, pattern_word(SEED, 0, 0),
		     "[%s] woken reader saw 0x%llx", path_label,
		     (unsigned long long)t.value);
	expect_page(dst, SEED, 0, "dst after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

/* A larger DONTWAKE move: one wake over the range frees every reader. */
PATH_TEST(move_wake, one_wake_for_several_readers)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_registered(um, 4);
	struct toucher t[4];

	fill_pages(src, 4, SEED);
	for (size_t i = 0; i < 4; i++)
		block_reader(&t[i], um, dst + i * PG);
	expect_ret(umove_move(um, dst, src, 4 * PG, UMOVE_DONTWAKE),
		   (ssize_t)(4 * PG));
	expect_ret(umove_wake(um, dst, 4 * PG), 0);
	for (size_t i = 0; i < 4; i++) {
		toucher_finish(&t[i], um, "range wake");
		cr_assert_eq(t[i].value, pattern_word(SEED, i, 0));
	}
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

Test(move_wake, wake_bad_args)
{
	struct umove *um = open_default();
	char *dst = map_registered(um, 2);
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));

	expect_ret(umove_wake(NULL, dst, PG), -EINVAL);
	expect_ret(umove_wake(um, dst + 1, PG), -EINVAL);
	expect_ret(umove_wake(um, dst, PG + 1), -EINVAL);
	expect_ret(umove_wake(um, dst, 0), -EINVAL);
	expect_ret(umove_wake(um, top, 2 * PG), -EINVAL);
	unmap_pages(dst, 2);
	close_um(um);
}

Test(move_wake, wake_with_nobody_waiting)
{
	struct umove *um = open_default();
	char *dst = map_registered(um, 2);

	expect_ret(umove_wake(um, dst, 2 * PG), 0);
	expect_holes(dst, 2, "dst after a wake");
	unmap_pages(dst, 2);
	close_um(um);
}

/* A short move still wakes the threads waiting on what it did move. */
PATH_TEST(move_wake, short_count_wakes_moved_part)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_registered(um, 2);
	struct toucher t;

	fill_page(src, SEED, 0);
	block_reader(&t, um, dst);
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), (ssize_t)PG);
	toucher_finish(&t, um, "short move");
	cr_assert_eq(t.value, pattern_word(SEED, 0, 0),
		     "[%s] woken reader saw 0x%llx", path_label,
		     (unsigned long long)t.value);
	expect_hole(dst + PG, "dst page 1");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}
