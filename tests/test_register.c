/* SPDX-License-Identifier: MIT */
/*
 * umove_register() / umove_unregister(): argument checks, faults on a
 * registered range arrive as events, an unregistered range faults normally.
 */
#include "helpers.h"

TestSuite(reg, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x5a

Test(reg, register_bad_args)
{
	struct umove *um = open_default();
	char *a = map_pages(2);
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));
	const unsigned m = UMOVE_REGISTER_MISSING;

	expect_ret(umove_register(NULL, a, PG, m), -EINVAL);
	expect_ret(umove_register(um, NULL, PG, m), -EINVAL);
	expect_ret(umove_register(um, a, 0, m), -EINVAL);
	expect_ret(umove_register(um, a + 1, PG, m), -EINVAL);
	expect_ret(umove_register(um, a, PG + 1, m), -EINVAL);
	expect_ret(umove_register(um, top, 2 * PG, m), -EINVAL);
	expect_ret(umove_register(um, a, PG, 0), -EINVAL);
	expect_ret(umove_register(um, a, PG, 1u << 7), -EINVAL);
	expect_ret(umove_register(um, a, PG, m | (1u << 30)), -EINVAL);
	unmap_pages(a, 2);
	close_um(um);
}

Test(reg, unregister_bad_args)
{
	struct umove *um = open_default();
	char *a = map_registered(um, 2);
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(PG - 1));

	expect_ret(umove_unregister(NULL, a, PG), -EINVAL);
	expect_ret(umove_unregister(um, NULL, PG), -EINVAL);
	expect_ret(umove_unregister(um, a, 0), -EINVAL);
	expect_ret(umove_unregister(um, a + 1, PG), -EINVAL);
	expect_ret(umove_unregister(um, a, PG + 1), -EINVAL);
	expect_ret(umove_unregister(um, top, 2 * PG), -EINVAL);
	expect_ret(umove_unregister(um, a, 2 * PG), 0);
	unmap_pages(a, 2);
	close_um(um);
}

Test(reg, fault_on_registered_range_is_an_event)
{
	struct umove *um = open_default();
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct toucher t;
	struct uffd_msg msg;

	fill_page(src, SEED, 0);
	cr_assert(!fd_readable(umove_fd(um), 0), "event before any fault");
	toucher_start(&t, dst + 8, false, 0);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS), "no fault event");
	read_msg(umove_fd(um), &msg);
	cr_assert_eq(msg.event, UFFD_EVENT_PAGEFAULT, "event %u", msg.event);
	cr_assert_eq(msg.arg.pagefault.address & ~(uint64_t)(PG - 1),
		     (uintptr_t)dst, "fault at 0x%llx, dst %p",
		     (unsigned long long)msg.arg.pagefault.address,
		     (void *)dst);
	cr_assert(!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE),
		  "a read fault reported as a write");
	cr_assert(!atomic_load(&t.done), "reader did not block");
	/* Resolve it so the reader can finish. */
	expect_ret(umove_copy(um, dst, src, PG, 0), (ssize_t)PG);
	toucher_finish(&t, um, "copy into the faulting page");
	cr_assert_eq(t.value, pattern_word(SEED, 0, 1));
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

Test(reg, unregistered_range_faults_normally)
{
	struct umove *um = open_default();
	char *a = map_registered(um, 2);
	struct toucher t;

	expect_ret(umove_unregister(um, a, 2 * PG), 0);
	toucher_start(&t, a, false, 1);
	cr_assert(toucher_join(&t, WAIT_MS),
		  "touch of an unregistered page blocked");
	cr_assert_eq(t.value, 0);
	expect_zero_page(a, "unregistered page");
	cr_assert(!fd_readable(umove_fd(um), 0),
		  "a fault event for an unregistered range");
	unmap_pages(a, 2);
	close_um(um);
}

Test(reg, partial_unregister_keeps_the_rest)
{
	struct umove *um = open_default();
	char *src = map_pages(2), *a = map_registered(um, 2);

	fill_pages(src, 2, SEED);
	expect_ret(umove_unregister(um, a, PG), 0);
	/* Still registered: a copy into it works; the other page refuses. */
	expect_ret(umove_copy(um, a + PG, src + PG, PG, 0), (ssize_t)PG);
	expect_ret(umove_copy(um, a, src, PG, 0), -ENOENT);
	expect_page(a + PG, SEED, 1, "registered page after copy");
	unmap_pages(src, 2);
	unmap_pages(a, 2);
	close_um(um);
}

Test(reg, range_of_another_handle_is_ebusy)
{
	struct umove *um = open_default();
	struct umove *other = open_default();
	char *a = map_registered(other, 2);

	expect_ret(umove_register(um, a, 2 * PG, UMOVE_REGISTER_MISSING),
		   -EBUSY);
	unmap_pages(a, 2);
	close_um(other);
	close_um(um);
}
