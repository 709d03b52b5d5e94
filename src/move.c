/* SPDX-License-Identifier: MIT */
/*
 * The move contract (umove_move(3)): argument rules shared by both paths,
 * the native path through UFFDIO_MOVE, and the loops built on one attempt.
 */
#include <errno.h>

#include "internal.h"
#include "uffd_compat.h"

#define UM_MOVE_FLAGS (UMOVE_DONTWAKE | UMOVE_ALLOW_SRC_HOLES)
#define UM_COPY_FLAGS (UMOVE_DONTWAKE | UMOVE_COPY_WP)

/*
 * The checks umove makes before the kernel sees anything, identical on every
 * path. Overlap is refused although UFFDIO_MOVE accepts it: the kernel walks
 * pages upwards, so an overlapping backward move carries a page twice.
 */
int um_check_pair(const struct umove *um, uintptr_t dst, uintptr_t src,
		  size_t len)
{
	uintptr_t mask = um->page_size - 1;

	if (!dst || !src || !len || ((dst | src | len) & mask))
		return -EINVAL;
	if (dst + len <= dst || src + len <= src)
		return -EINVAL;
	if (dst < src + len && src < dst + len)
		return -EINVAL;
	return 0;
}

static uint64_t move_mode(unsigned flags)
{
	uint64_t mode = 0;

	if (flags & UMOVE_DONTWAKE)
		mode |= UFFDIO_MOVE_MODE_DONTWAKE;
	if (flags & UMOVE_ALLOW_SRC_HOLES)
		mode |= UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES;
	return mode;
}

ssize_t umove_move(struct umove *um, void *dst, void *src, size_t len,
		   unsigned flags)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
	int r;

	if (!um || (flags & ~UM_MOVE_FLAGS))
		return -EINVAL;
	r = um_check_pair(um, d, s, len);
	if (r)
		return r;
	if (!um->native)
		return um_move_emulated(um, d, s, len, flags);
	return um_uffd_move(um->fd, d, s, len, move_mode(flags));
}

/*
 * Continue short moves until done or an error. EAGAIN is returned, never
 * retried here: only reading the pending events clears it, and that is the
 * caller's fault service's job.
 */
int umove_move_all(struct umove *um, void *dst, void *src, size_t len,
		   unsigned flags, size_t *moved)
{
	size_t done = 0;
	ssize_t r = 0;

	if (!moved)
		return -EINVAL;
	do {
		r = umove_move(um, (char *)dst + done, (char *)src + done,
			       len - done, flags);
		if (r < 0)
			break;
		done += (size_t)r;
	} while (done < len);
	*moved = done;
	return r < 0 ? (int)r : 0;
}

ssize_t umove_copy(struct umove *um, void *dst, const void *src, size_t len,
		   unsigned flags)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
	uint64_t mode = 0;
	int r;

	if (!um || (flags & ~UM_COPY_FLAGS))
		return -EINVAL;
	r = um_check_pair(um, d, s, len);
	if (r)
		return r;
	if (flags & UMOVE_DONTWAKE)
		mode |= UFFDIO_COPY_MODE_DONTWAKE;
	if (flags & UMOVE_COPY_WP)
		mode |= UFFDIO_COPY_MODE_WP;
	return um_uffd_copy(um->fd, d, s, len, mode);
}

int umove_wake(struct umove *um, void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, mask;

	if (!um)
		return -EINVAL;
	mask = um->page_size - 1;
	if (!a || !len || ((a | len) & mask) || a + len <= a)
		return -EINVAL;
	return um_uffd_wake(um->fd, a, len);
}

/*
 * Poisoned pages raise SIGBUS when touched: the end of a fault that can
 * never be served. The kernel's partial count is not useful here: a caller
 * poisons a page at a time, and a failure is its error.
 */
int umove_poison(struct umove *um, void *addr, size_t len, unsigned flags)
{
	uintptr_t a = (uintptr_t)addr;
	uint64_t mode = 0;

	if (!um || (flags & ~UMOVE_DONTWAKE))
		return -EINVAL;
	if (!a || !len || ((a | len) & (um->page_size - 1)) || a + len <= a)
		return -EINVAL;
	if (!(um->caps & UMOVE_CAP_POISON))
		return -EOPNOTSUPP;
	if (flags & UMOVE_DONTWAKE)
		mode |= UFFDIO_POISON_MODE_DONTWAKE;
	return um_uffd_poison(um->fd, a, len, mode);
}
