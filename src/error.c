/* SPDX-License-Identifier: MIT */
/* Human words for umove's return codes and feature bits. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

struct um_errtext {
	int err;
	const char *text;
};

/* What each code means when a umove call returns it; see umove_move(3). */
static const struct um_errtext errtexts[] = {
	{EINVAL, "invalid argument: misaligned, empty, wrapping or "
		 "overlapping range, unknown flag, or a destination not "
		 "registered with this handle, or areas that are not both "
		 "private anonymous writable memory with the same protection"},
	{ENOENT, "a hole in the source range (or an address not mapped "
		 "at all)"},
	{EEXIST, "the destination already holds a page: another thread "
		 "resolved this fault first"},
	{EBUSY, "a source page is not exclusively owned (shared after fork, "
		"pinned or KSM-merged); MADV_DONTFORK on the source avoids the "
		"fork case"},
	{EAGAIN, "non-cooperative events are pending on the userfaultfd: "
		 "read them, then retry"},
	{ENOMEM, "out of memory"},
	{EPERM,
	 "not permitted: opening a userfaultfd needs "
	 "vm.unprivileged_userfaultfd=1, CAP_SYS_PTRACE or access to "
	 "/dev/userfaultfd; UMOVE_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE"},
	{ENOSYS, "no userfaultfd system call: a kernel without "
		 "CONFIG_USERFAULTFD, or one blocked by a seccomp filter"},
	{EOPNOTSUPP, "the running kernel lacks a feature this call needs"},
	{ESRCH, "the process owning the userfaultfd is exiting"},
	{EINTR, "interrupted by a fatal signal"},
	{EFAULT, "a bad address was passed"},
	{ERANGE, "the range does not fit in the store"},
	{EBADF, "the region is no longer mapped"},
	{EROFS, "the store is read-only"},
	{ENODATA, "the store holds no such page: a key missing from a pool "
		  "that is not sparse, or kept by a server that lost it"},
	{EBADMSG, "a page read from the store is corrupt or of the wrong "
		  "size"},
	{EHOSTUNREACH, "a store's server cannot be reached"},
	{ECONNREFUSED, "a store's server refused the connection (not "
		       "running?)"},
	{ECONNRESET, "a store's server dropped the connection"},
	{ENETUNREACH, "a store's server is on a network this machine cannot "
		      "reach"},
	{ETIMEDOUT, "a store's server did not answer in time"},
	{ENOSPC, "the store is full"},
};

const char *umove_strerror(int err)
{
	int code;

	if (err == INT_MIN) /* has no positive counterpart */
		return "unknown error";
	code = err < 0 ? -err : err;
	for (size_t i = 0; i < sizeof(errtexts) / sizeof(errtexts[0]); i++)
		if (errtexts[i].err == code)
			return errtexts[i].text;
	if (err == 0)
		return "success";
	return strerror(code);
}

static const char *const feature_names[UMOVE_FEATURE_COUNT] = {
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

const char *umove_feature_name(uint64_t feature)
{
	if (feature == 0 || (feature & (feature - 1)))
		return NULL;
	int bit = __builtin_ctzll(feature);

	return bit < UMOVE_FEATURE_COUNT ? feature_names[bit] : NULL;
}
