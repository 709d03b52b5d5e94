/* SPDX-License-Identifier: MIT */
/*
 * Probes that need no handle: umove_probe_features(), umove_check_via(),
 * umove_feature_name().
 */
#include "helpers.h"

#include <string.h>

TestSuite(probe, .timeout = TEST_TIMEOUT, .fini = release_handles);

Test(probe, probe_features_null_is_einval)
{
	expect_ret(umove_probe_features(NULL), -EINVAL);
}

/* The kernel offers at least what a handle negotiated. */
Test(probe, probe_features_covers_negotiated)
{
	struct umove *um = open_default();
	struct umove *ev = NULL;
	uint64_t sup = 0, f = umove_features(um);
	int ret;

	expect_ret(umove_probe_features(&sup), 0);
	cr_assert_eq(sup & f, f, "probed 0x%llx lacks negotiated 0x%llx",
		     (unsigned long long)sup, (unsigned long long)f);
	cr_assert_eq(sup >> UMOVE_FEATURE_COUNT, 0, "unknown bits in 0x%llx",
		     (unsigned long long)sup);
	ret = umove_open_features(&ev, 0, UMOVE_FEATURE_EVENT_REMOVE);
	if (ret == 0) {
		track_um(ev);
		f = umove_features(ev);
		cr_assert_eq(sup & f, f, "probed 0x%llx lacks 0x%llx",
			     (unsigned long long)sup, (unsigned long long)f);
		close_um(ev);
	} else {
		expect_ret(ret, -EOPNOTSUPP);
		cr_assert(!(sup & UMOVE_FEATURE_EVENT_REMOVE));
	}
	close_um(um);
}

Test(probe, check_via_unknown_is_einval)
{
	expect_ret(umove_check_via(0), -EINVAL);
	expect_ret(umove_check_via(4), -EINVAL);
	expect_ret(umove_check_via(-1), -EINVAL);
	expect_ret(umove_check_via(1000), -EINVAL);
}

/* Each known way answers 0 or a negative errno, never something else. */
Test(probe, check_via_known_values)
{
	static const int vias[] = {UMOVE_VIA_SYSCALL, UMOVE_VIA_DEVICE,
				   UMOVE_VIA_USER_ONLY};

	for (size_t i = 0; i < 3; i++) {
		int r = umove_check_via(vias[i]);

		cr_assert(r <= 0 && r > -4096 && r != -EINVAL,
			  "umove_check_via(%d) = %d", vias[i], r);
	}
}

static const char *const names[UMOVE_FEATURE_COUNT] = {
	"PAGEFAULT_FLAG_WP",
	"EVENT_FORK",
	"EVENT_REMAP",
	"EVENT_REMOVE",
	"MISSING_HUGETLBFS",
	"MISSING_SHMEM",
	"EVENT_UNMAP",
	"SIGBUS",
	"THREAD_ID",
	"MINOR_HUGETLBFS",
	"MINOR_SHMEM",
	"EXACT_ADDRESS",
	"WP_HUGETLBFS_SHMEM",
	"WP_UNPOPULATED",
	"POISON",
	"WP_ASYNC",
	"MOVE",
};

Test(probe, feature_name_of_each_bit)
{
	for (unsigned i = 0; i < UMOVE_FEATURE_COUNT; i++) {
		const char *n = umove_feature_name(1ull << i);

		cr_assert_not_null(n, "bit %u has no name", i);
		cr_assert_str_eq(n, names[i], "bit %u", i);
	}
}

Test(probe, feature_names_are_distinct)
{
	for (unsigned i = 0; i < UMOVE_FEATURE_COUNT; i++)
		for (unsigned j = i + 1; j < UMOVE_FEATURE_COUNT; j++) {
			const char *a = umove_feature_name(1ull << i);
			const char *b = umove_feature_name(1ull << j);

			cr_assert(a && b && strcmp(a, b) != 0,
				  "bits %u and %u share a name", i, j);
		}
}

Test(probe, feature_name_needs_exactly_one_known_bit)
{
	cr_assert_null(umove_feature_name(0));
	cr_assert_null(
		umove_feature_name(UMOVE_FEATURE_MOVE | UMOVE_FEATURE_POISON));
	cr_assert_null(umove_feature_name(3));
	cr_assert_null(umove_feature_name(1ull << UMOVE_FEATURE_COUNT));
	cr_assert_null(umove_feature_name(1ull << 63));
	cr_assert_str_eq(umove_feature_name(UMOVE_FEATURE_MOVE), "MOVE");
}
