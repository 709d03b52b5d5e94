/* SPDX-License-Identifier: MIT */
/*
 * Opening and describing a handle: umove_open(), umove_open_features(),
 * umove_close(), umove_fd(), umove_features(), umove_caps(), umove_via(),
 * umove_native_move() and the UMOVE_EMULATE switches.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdlib.h>

TestSuite(open, .timeout = TEST_TIMEOUT, .fini = release_handles);

/* The header promises the kernel's bit values; hold it to that. */
_Static_assert(UMOVE_FEATURE_PAGEFAULT_FLAG_WP ==
		       UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	       "WP");
_Static_assert(UMOVE_FEATURE_EVENT_FORK == UFFD_FEATURE_EVENT_FORK, "FORK");
_Static_assert(UMOVE_FEATURE_EVENT_REMOVE == UFFD_FEATURE_EVENT_REMOVE,
	       "REMOVE");
_Static_assert(UMOVE_FEATURE_SIGBUS == UFFD_FEATURE_SIGBUS, "SIGBUS");
_Static_assert(UMOVE_FEATURE_THREAD_ID == UFFD_FEATURE_THREAD_ID, "TID");
#ifdef UFFD_FEATURE_MOVE
_Static_assert(UMOVE_FEATURE_MOVE == UFFD_FEATURE_MOVE, "MOVE");
#endif

/* The environment switch must not leak in from whoever runs the suite. */
static struct umove *open_clean(unsigned flags)
{
	struct umove *um;

	unsetenv("UMOVE_EMULATE");
	um = open_default();
	if (!flags)
		return um;
	close_um(um);
	expect_ret(umove_open(&um, flags), 0);
	return track_um(um);
}

static bool cap_native(struct umove *um)
{
	return umove_caps(um) & UMOVE_CAP_NATIVE_MOVE;
}

Test(open, null_out_is_einval)
{
	expect_ret(umove_open(NULL, 0), -EINVAL);
	expect_ret(umove_open(NULL, UMOVE_EMULATE), -EINVAL);
	expect_ret(umove_open_features(NULL, 0, 0), -EINVAL);
}

Test(open, unknown_flags_are_einval)
{
	struct umove *um = NULL;

	expect_ret(umove_open(&um, 1u << 1), -EINVAL);
	expect_ret(umove_open(&um, 1u << 31), -EINVAL);
	expect_ret(umove_open(&um, UMOVE_EMULATE | (1u << 5)), -EINVAL);
	expect_ret(umove_open_features(&um, 1u << 3, 0), -EINVAL);
}

Test(open, default_handle)
{
	struct umove *um = open_clean(0);
	int fd = umove_fd(um);

	cr_assert_geq(fd, 0, "umove_fd %d", fd);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd lacks FD_CLOEXEC");
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd lacks O_NONBLOCK");
	cr_assert_eq(umove_native_move(um), cap_native(um),
		     "native_move %d but cap NATIVE_MOVE %d",
		     umove_native_move(um), cap_native(um));
	close_um(um);
}

Test(open, two_handles_have_distinct_fds)
{
	struct umove *a = open_clean(0), *b = open_clean(0);

	cr_assert_neq(umove_fd(a), umove_fd(b));
	close_um(a);
	close_um(b);
}

Test(open, emulate_flag_forces_emulation)
{
	struct umove *um = open_clean(UMOVE_EMULATE);

	cr_assert(!umove_native_move(um), "UMOVE_EMULATE ignored");
	cr_assert_geq(umove_fd(um), 0);
	close_um(um);
}

Test(open, env_emulate_1_forces_emulation)
{
	struct umove *um = open_clean(0);
	int ret;

	close_um(um);
	setenv("UMOVE_EMULATE", "1", 1);
	ret = umove_open(&um, 0);
	unsetenv("UMOVE_EMULATE");
	expect_ret(ret, 0);
	track_um(um);
	cr_assert(!umove_native_move(um), "UMOVE_EMULATE=1 ignored");
	close_um(um);
}

Test(open, env_emulate_0_or_empty_keeps_default)
{
	static const char *const values[] = {"0", ""};
	struct umove *um = open_clean(0);
	bool native = cap_native(um);

	close_um(um);
	for (size_t i = 0; i < 2; i++) {
		setenv("UMOVE_EMULATE", values[i], 1);
		expect_ret(umove_open(&um, 0), 0);
		unsetenv("UMOVE_EMULATE");
		track_um(um);
		cr_assert_eq(umove_native_move(um), native,
			     "UMOVE_EMULATE=\"%s\" changed the move path",
			     values[i]);
		close_um(um);
	}
}

Test(open, open_features_rejects_non_behavioural_extra)
{
	struct umove *um = open_clean(0);

	close_um(um);
	expect_ret(umove_open_features(&um, 0, UMOVE_FEATURE_MOVE), -EINVAL);
	expect_ret(umove_open_features(&um, 0, UMOVE_FEATURE_THREAD_ID),
		   -EINVAL);
	expect_ret(umove_open_features(&um, 0,
				       UMOVE_FEATURE_EVENT_REMOVE |
					       UMOVE_FEATURE_POISON),
		   -EINVAL);
}

Test(open, open_features_rejects_unknown_extra)
{
	struct umove *um = open_clean(0);

	close_um(um);
	expect_ret(umove_open_features(&um, 0, 1ull << 17), -EINVAL);
	expect_ret(umove_open_features(&um, 0, 1ull << 40), -EINVAL);
	expect_ret(umove_open_features(&um, 0, 1ull << 63), -EINVAL);
}

Test(open, open_features_event_remove)
{
	struct umove *um = open_clean(0);
	int ret;

	close_um(um);
	ret = umove_open_features(&um, 0, UMOVE_FEATURE_EVENT_REMOVE);
	if (ret == -EOPNOTSUPP)
		cr_skip_test("kernel lacks UFFD_FEATURE_EVENT_REMOVE");
	expect_ret(ret, 0);
	track_um(um);
	cr_assert(umove_features(um) & UMOVE_FEATURE_EVENT_REMOVE,
		  "features 0x%llx lack EVENT_REMOVE",
		  (unsigned long long)umove_features(um));
	close_um(um);
}

Test(open, open_features_zero_extra_is_plain_open)
{
	struct umove *plain = open_clean(0), *um = NULL;

	expect_ret(umove_open_features(&um, 0, 0), 0);
	track_um(um);
	cr_assert_eq(umove_features(um), umove_features(plain));
	cr_assert_eq(umove_native_move(um), umove_native_move(plain));
	close_um(um);
	close_um(plain);
}

Test(open, close_null_and_fd_null)
{
	umove_close(NULL);
	expect_ret(umove_fd(NULL), -EINVAL);
}

Test(open, features_move_iff_native_cap)
{
	struct umove *um = open_clean(0);
	bool move = umove_features(um) & UMOVE_FEATURE_MOVE;

	cr_assert_eq(move, cap_native(um),
		     "feature MOVE %d but cap NATIVE_MOVE %d", move,
		     cap_native(um));
	close_um(um);
}

/* umove_open() never asks for what changes the fd's behaviour. */
Test(open, default_features_not_behavioural)
{
	struct umove *um = open_clean(0);
	uint64_t f = umove_features(um);

	cr_assert_eq(f & UMOVE_FEATURES_BEHAVIOURAL, 0,
		     "features 0x%llx include behavioural bits 0x%llx",
		     (unsigned long long)f,
		     (unsigned long long)(f & UMOVE_FEATURES_BEHAVIOURAL));
	cr_assert_eq(f >> UMOVE_FEATURE_COUNT, 0, "unknown feature bits");
	close_um(um);
}

Test(open, caps_agree_with_probed_features)
{
	struct umove *um = open_clean(0);
	unsigned caps = umove_caps(um);
	uint64_t sup = 0;

	expect_ret(umove_probe_features(&sup), 0);
	cr_assert_eq(!!(caps & UMOVE_CAP_NATIVE_MOVE),
		     !!(sup & UMOVE_FEATURE_MOVE));
	cr_assert_eq(!!(caps & UMOVE_CAP_POISON),
		     !!(sup & UMOVE_FEATURE_POISON));
	cr_assert_eq(!!(caps & UMOVE_CAP_WP_ASYNC),
		     !!(sup & UMOVE_FEATURE_WP_ASYNC));
	cr_assert_eq(caps & ~0x1fu, 0, "unknown cap bits in 0x%x", caps);
	close_um(um);
}

Test(open, via_is_known_and_checks)
{
	struct umove *um = open_clean(0);
	int via = umove_via(um);

	cr_assert(via == UMOVE_VIA_SYSCALL || via == UMOVE_VIA_DEVICE ||
			  via == UMOVE_VIA_USER_ONLY,
		  "umove_via %d", via);
	expect_ret(umove_check_via(via), 0);
	close_um(um);
}
