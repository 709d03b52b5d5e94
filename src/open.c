/* SPDX-License-Identifier: MIT */
/*
 * Opening a handle: find a way to get a userfaultfd, negotiate features,
 * probe what the running kernel can do. Nothing is assumed from the headers
 * umove was built with: the build machine's kernel is not the user's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Features that only widen what the fd can do; requested when offered. */
#define UM_FEATURES_PASSIVE                                                  \
	(UMOVE_FEATURE_PAGEFAULT_FLAG_WP | UMOVE_FEATURE_MISSING_HUGETLBFS | \
	 UMOVE_FEATURE_MISSING_SHMEM | UMOVE_FEATURE_THREAD_ID |             \
	 UMOVE_FEATURE_MINOR_HUGETLBFS | UMOVE_FEATURE_MINOR_SHMEM |         \
	 UMOVE_FEATURE_EXACT_ADDRESS | UMOVE_FEATURE_WP_HUGETLBFS_SHMEM |    \
	 UMOVE_FEATURE_POISON | UMOVE_FEATURE_MOVE)

static const int via_order[] = {
	UMOVE_VIA_SYSCALL,
	UMOVE_VIA_DEVICE,
	UMOVE_VIA_USER_ONLY,
};

/* The first way that works; the first way's error if none does. */
static int open_any(int *fd, int *via)
{
	int first = 0;

	for (size_t i = 0; i < sizeof(via_order) / sizeof(via_order[0]); i++) {
		int r = um_uffd_open(via_order[i], fd);

		if (r == 0) {
			*via = via_order[i];
			return 0;
		}
		if (!first)
			first = r;
	}
	return first;
}

int umove_check_via(int via)
{
	int fd;
	int r = um_uffd_open(via, &fd);

	if (r == 0)
		close(fd);
	return r;
}

/*
 * What the kernel offers, learnt on a throw-away fd: UFFDIO_API works once
 * per fd and fixes that fd's features for good.
 */
static int probe_offered(int *via, uint64_t *offered)
{
	int fd;
	int r = open_any(&fd, via);

	if (r)
		return r;
	r = um_uffd_api(fd, 0, offered);
	close(fd);
	return r;
}

int umove_probe_features(uint64_t *supported)
{
	int via;

	if (!supported)
		return -EINVAL;
	return probe_offered(&via, supported);
}

static int highest_bit(uint64_t mask)
{
	return 63 - __builtin_clzll(mask);
}

/*
 * Ask for required | optional. A kernel may still refuse a combination it
 * offered with EINVAL: then drop the newest optional feature and try again
 * on a fresh fd. Required features are never dropped. EPERM comes only from
 * a privilege check on a required feature (EVENT_FORK needs CAP_SYS_PTRACE),
 * which no optional feature can cure.
 */
static int negotiate(struct umove *um, uint64_t required, uint64_t optional)
{
	for (;;) {
		uint64_t request = required | optional;
		int r = um_uffd_open(um->via, &um->fd);

		if (r)
			return r;
		r = um_uffd_api(um->fd, request, NULL);
		if (r == 0) {
			um->features = request;
			if (request & UMOVE_FEATURE_WP_ASYNC)
				um->features |= UMOVE_FEATURE_WP_UNPOPULATED;
			return 0;
		}
		close(um->fd);
		um->fd = -1;
		if (r != -EINVAL || !optional)
			return r;
		optional &= ~(1ull << highest_bit(optional));
	}
}

static bool thp_usable(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

static unsigned probe_caps(const struct umove *um)
{
	unsigned caps = 0;

	if (um->features & UMOVE_FEATURE_MOVE)
		caps |= UMOVE_CAP_NATIVE_MOVE;
	if (um->supported & UMOVE_FEATURE_POISON)
		caps |= UMOVE_CAP_POISON;
	if (um->supported & UMOVE_FEATURE_WP_ASYNC)
		caps |= UMOVE_CAP_WP_ASYNC;
	if (um_pagemap_scan_works(um->pagemap_fd))
		caps |= UMOVE_CAP_PAGEMAP_SCAN;
	if (thp_usable())
		caps |= UMOVE_CAP_THP;
	return caps;
}

static bool emulation_forced(unsigned flags)
{
	const char *env = getenv("UMOVE_EMULATE");

	if (flags & UMOVE_EMULATE)
		return true;
	return env && *env && strcmp(env, "0") != 0;
}

static int open_handle(struct umove *um, unsigned flags, uint64_t extra)
{
	int r = probe_offered(&um->via, &um->supported);

	if (r)
		return r;
	if (extra & ~um->supported)
		return -EOPNOTSUPP;
	r = negotiate(um, extra, UM_FEATURES_PASSIVE & um->supported);
	if (r)
		return r;
	/* Only the emulated move needs these; a missing /proc is no failure. */
	um->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	um->unreadable = mmap(NULL, um->page_size, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (um->unreadable == MAP_FAILED) {
		um->unreadable = NULL;
		return -ENOMEM;
	}
	um->caps = probe_caps(um);
	um->native =
		(um->caps & UMOVE_CAP_NATIVE_MOVE) && !emulation_forced(flags);
	return 0;
}

int umove_open_features(struct umove **out, unsigned flags, uint64_t extra)
{
	struct umove *um;
	int r;

	if (!out || (flags & ~UMOVE_EMULATE) ||
	    (extra & ~UMOVE_FEATURES_BEHAVIOURAL))
		return -EINVAL;
	um = calloc(1, sizeof(*um));
	if (!um)
		return -ENOMEM;
	um->fd = -1;
	um->pagemap_fd = -1;
	um->page_size = (size_t)sysconf(_SC_PAGESIZE);
	um_ranges_init(&um->registered);
	pthread_mutex_init(&um->emulate_lock, NULL);
	r = open_handle(um, flags, extra);
	if (r) {
		umove_close(um);
		return r;
	}
	*out = um;
	return 0;
}

int umove_open(struct umove **out, unsigned flags)
{
	return umove_open_features(out, flags, 0);
}

/*
 * Closing the userfaultfd unregisters every range it had: pages never filled
 * then read as zeros. That is the caller's decision to make; see umove_open(3).
 */
void umove_close(struct umove *um)
{
	if (!um)
		return;
	if (um->fd >= 0)
		close(um->fd);
	if (um->pagemap_fd >= 0)
		close(um->pagemap_fd);
	if (um->unreadable)
		munmap(um->unreadable, um->page_size);
	um_ranges_fini(&um->registered);
	pthread_mutex_destroy(&um->emulate_lock);
	free(um);
}

int umove_fd(const struct umove *um)
{
	return um ? um->fd : -EINVAL;
}

uint64_t umove_features(const struct umove *um)
{
	return um ? um->features : 0;
}

bool umove_native_move(const struct umove *um)
{
	return um && um->native;
}

unsigned umove_caps(const struct umove *um)
{
	return um ? um->caps : 0;
}

int umove_via(const struct umove *um)
{
	return um ? um->via : -EINVAL;
}
