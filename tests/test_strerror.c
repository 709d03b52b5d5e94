/* SPDX-License-Identifier: MIT */
/* umove_strerror(): never NULL, one meaning per umove error. */
#include "helpers.h"

#include <string.h>

TestSuite(strerror, .timeout = TEST_TIMEOUT, .fini = release_handles);

static void expect_text(int err)
{
	const char *s = umove_strerror(err);

	cr_assert_not_null(s, "umove_strerror(%d) is NULL", err);
	cr_assert_gt(strlen(s), 0, "umove_strerror(%d) is empty", err);
}

Test(strerror, known_errors_have_text)
{
	static const int errs[] = {-EEXIST, -ENOENT,	 -EBUSY,
				   -EAGAIN, -EINVAL,	 -EPERM,
				   -ENOSYS, -EOPNOTSUPP, -ENOMEM};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		expect_text(errs[i]);
}

/* The move outcomes a fault handler branches on must read differently. */
Test(strerror, move_outcomes_are_distinct)
{
	static const int errs[] = {-EEXIST, -ENOENT, -EBUSY, -EAGAIN};

	for (size_t i = 0; i < 4; i++)
		for (size_t j = i + 1; j < 4; j++)
			cr_assert_str_neq(umove_strerror(errs[i]),
					  umove_strerror(errs[j]),
					  "%d and %d read the same", errs[i],
					  errs[j]);
}

/* A store's failures, as a fault's poisoning or a sync reports them. */
Test(strerror, store_errors_say_store)
{
	static const int errs[] = {-ENODATA,   -EBADMSG, -EHOSTUNREACH,
				   -ETIMEDOUT, -ENOSPC,	 -EROFS};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		cr_assert_not_null(strstr(umove_strerror(errs[i]), "store"),
				   "umove_strerror(%d): \"%s\"", errs[i],
				   umove_strerror(errs[i]));
}

Test(strerror, unknown_values_have_text)
{
	expect_text(0);
	expect_text(1);
	expect_text(-4000);
	expect_text(-123456);
	expect_text(123456);
	/* Negating it overflows: a plain "-err" would be undefined. */
	expect_text(-2147483647 - 1);
}
