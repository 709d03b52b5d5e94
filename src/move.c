/* SPDX-License-Identifier: MIT */
/*
 * The move contract (umove_move(3)): argument rules shared by both paths,
 * the native path through UFFDIO_MOVE, and the loops built on one attempt.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"
#include "uffd_compat.h"

#define UM_MOVE_FLAGS (UMOVE_DONTWAKE | UMOVE_ALLOW_SRC_HOLES | UMOVE_DST_EMPTY)
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

#define UM_MOVE_CHUNK 512 /* pages per kernel call on the public path */

/*
 * Which of pages [addr, addr + pages) hold something (a page, a migration
 * or marker entry), one byte each; false if that cannot be known (part of
 * the range is unmapped: the move itself will say so).
 */
static bool presence(const struct umove *um, uintptr_t addr, size_t pages,
		     unsigned char *vec)
{
	return !mincore((void *)addr, pages * um->page_size, vec);
}

/*
 * Linux 6.18's UFFDIO_MOVE can report less than it moved. When a step
 * has to be retried inside the kernel (EAGAIN: a source page under
 * migration, a pte whose accessed bit changed, a lock it could not take),
 * the retry's error is not cleared: the batch the retry then moves is not
 * counted, and the next step, on the page already moved, fails with
 * EEXIST. The call returns a short count or -EEXIST for pages that did
 * move, and wakes none of them (docs/DESIGN.md). A caller that believed it
 * would lose them.
 *
 * The uncounted pages directly follow the counted ones, each now a page
 * at dst over a hole at src where dst was empty before the call: count
 * them whenever a move did not finish, and wake them. before[] says which
 * dst pages held something before the call; NULL: none did (the caller
 * said UMOVE_DST_EMPTY, as the library's own fills and evictions do).
 * Without it a page already at dst over a src hole, an honest EEXIST,
 * would look moved.
 */
static size_t count_uncounted(const struct umove *um, uintptr_t dst,
			      uintptr_t src, size_t pages,
			      const unsigned char *before)
{
	unsigned char d[UM_MOVE_CHUNK], s[UM_MOVE_CHUNK];
	size_t n = 0;

	if (pages > UM_MOVE_CHUNK)
		pages = UM_MOVE_CHUNK; /* one kernel batch never crosses a PMD
					*/
	if (!presence(um, dst, pages, d) || !presence(um, src, pages, s))
		return 0;
	while (n < pages && (d[n] & 1) && !(s[n] & 1) &&
	       !(before && (before[n] & 1)))
		n++;
	return n;
}

static ssize_t settle(const struct umove *um, uintptr_t dst, uintptr_t src,
		      size_t len, unsigned flags, ssize_t got,
		      const unsigned char *before)
{
	size_t done = got > 0 ? (size_t)got : 0, extra;

	if (got == (ssize_t)len || got == -EINVAL)
		return got;
	extra = count_uncounted(um, dst + done, src + done,
				(len - done) / um->page_size,
				before ? before + done / um->page_size : NULL) *
		um->page_size;
	if (!extra)
		return got;
	if (!(flags & UMOVE_DONTWAKE))
		um_uffd_wake(um->fd, dst + done, extra);
	return (ssize_t)(done + extra);
}

/* One kernel call of at most UM_MOVE_CHUNK pages, settled. */
static ssize_t move_chunk(struct umove *um, uintptr_t dst, uintptr_t src,
			  size_t len, unsigned flags)
{
	unsigned char before[UM_MOVE_CHUNK];
	bool known = presence(um, dst, len / um->page_size, before);
	ssize_t got = um_uffd_move(um->fd, dst, src, len, move_mode(flags));

	if (!known)
		return got; /* an unmapped dst: nothing can have moved there */
	return settle(um, dst, src, len, flags, got, before);
}

/*
 * The native move, in kernel calls of UM_MOVE_CHUNK pages (2 MiB: a huge
 * page still moves whole when both sides are aligned), each with the dst
 * snapshot that settle() needs, unless the caller vouches that dst is
 * empty: then one call, no snapshot. A chunk that does not finish ends the
 * move with what moved so far.
 */
static ssize_t move_native(struct umove *um, uintptr_t dst, uintptr_t src,
			   size_t len, unsigned flags)
{
	size_t chunk = UM_MOVE_CHUNK * um->page_size, done = 0;

	if (flags & UMOVE_DST_EMPTY)
		return settle(
			um, dst, src, len, flags,
			um_uffd_move(um->fd, dst, src, len, move_mode(flags)),
			NULL);
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t got = move_chunk(um, dst + done, src + done, n, flags);

		if (got != (ssize_t)n)
			return got > 0 ? (ssize_t)(done + (size_t)got)
			       : done  ? (ssize_t)done
				       : got;
		done += n;
	}
	return (ssize_t)done;
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
	return move_native(um, d, s, len, flags);
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
