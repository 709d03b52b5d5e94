/* SPDX-License-Identifier: MIT */
/* umove_poison: argument checks, SIGBUS on touch, EOPNOTSUPP before 6.6. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#include "helpers.h"

TestSuite(poison, .timeout = TEST_TIMEOUT, .fini = release_handles);

Test(poison, bad_args_are_einval)
{
	struct umove *um = open_default();
	char *p = map_registered(um, 2);

	expect_ret(umove_poison(NULL, p, PG, 0), -EINVAL);
	expect_ret(umove_poison(um, NULL, PG, 0), -EINVAL);
	expect_ret(umove_poison(um, p + 1, PG, 0), -EINVAL);
	expect_ret(umove_poison(um, p, PG + 1, 0), -EINVAL);
	expect_ret(umove_poison(um, p, 0, 0), -EINVAL);
	expect_ret(umove_poison(um, p, PG, UMOVE_ALLOW_SRC_HOLES), -EINVAL);
	expect_ret(
		umove_poison(um, (void *)(UINTPTR_MAX & ~(PG - 1)), 2 * PG, 0),
		-EINVAL);
}

/* Without UFFDIO_POISON the call says so instead of pretending. */
Test(poison, missing_feature_is_eopnotsupp)
{
	struct umove *um = open_default();
	char *p = map_registered(um, 1);

	if (umove_caps(um) & UMOVE_CAP_POISON)
		cr_skip_test("kernel has UFFDIO_POISON: nothing to refuse");
	expect_ret(umove_poison(um, p, PG, 0), -EOPNOTSUPP);
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

/* A poisoned page raises SIGBUS; its neighbour is still an ordinary hole. */
Test(poison, touch_raises_sigbus)
{
	struct umove *um = open_default();
	char *p = map_registered(um, 2);
	struct sigaction sa = {.sa_handler = on_sigbus}, old;
	volatile int caught = 0;

	if (!(umove_caps(um) & UMOVE_CAP_POISON))
		cr_skip_test("kernel lacks UFFDIO_POISON (Linux < 6.6)");
	expect_ret(umove_poison(um, p, PG, 0), 0);
	cr_assert(page_is_hole(p + PG), "the next page was touched");
	/* A second poison of the same page finds it occupied. */
	expect_ret(umove_poison(um, p, PG, 0), -EEXIST);
	cr_assert_eq(sigaction(SIGBUS, &sa, &old), 0);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		volatile char c = p[0];

		(void)c;
	} else {
		caught = 1;
	}
	sigaction(SIGBUS, &old, NULL);
	cr_assert(caught, "touching a poisoned page did not raise SIGBUS");
}
