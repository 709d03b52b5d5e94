/* SPDX-License-Identifier: MIT */
/*
 * The move contract without UFFDIO_MOVE: UFFDIO_COPY into dst, then
 * MADV_DONTNEED on src, run by run, with the kernel's checks redone in user
 * space so that results and error codes match the native path.
 *
 * Ordering rules, from move_pages() in mm/userfaultfd.c (Linux 6.18):
 *  1. ranges outside the user address space: EINVAL, before anything else;
 *  2. an address in no mapping: ENOENT;
 *  3. non-cooperative events pending on the userfaultfd: EAGAIN;
 *  4. mapping checks (private, anonymous, writable, same protection, within
 *     one VMA, dst registered with this userfaultfd): EINVAL;
 *  5. page by page in ascending order: an occupied dst page stops with
 *     EEXIST, checked before the src page; then a src hole stops with ENOENT
 *     unless holes are allowed, in which case it counts as moved.
 * Bytes moved before a stop are returned instead of the error.
 *
 * Emulated moves through one handle are serialised by emulate_lock, from
 * the checks to the last discard, so that two moves of one src page cannot
 * both find it present: as with UFFDIO_MOVE, one moves it and the other
 * finds a hole.
 *
 * What cannot match (see umove_move(3)): the copy and the discard are two
 * steps, so a write to src between them is lost; shared src pages are
 * copied rather than refused with EBUSY; huge pages arrive as base pages.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "uffd_compat.h"

#define UM_CHUNK_PAGES 512

static bool fits_private(const struct um_vma *vma, uintptr_t start, size_t len)
{
	return vma->perms[3] == 'p' && start + len <= vma->end;
}

/* UFFDIO_WAKE validates a range exactly as UFFDIO_MOVE does (rule 1). */
static int unmapped_error(struct umove *um, const struct um_vma *vma,
			  uintptr_t start, size_t len)
{
	if (vma->end == 0 && um_uffd_wake(um->fd, start, len) == -EINVAL)
		return -EINVAL;
	return 0;
}

/*
 * Rules 3 and part of 4 in one ioctl without side effects: a UFFDIO_COPY of
 * one page from an unreadable page. The kernel checks for pending events
 * first (EAGAIN), then that the dst mapping is registered with a
 * userfaultfd (ENOENT if not), and only then reads the source, which fails
 * (EFAULT) before anything is installed. A dst that was unmapped and mapped
 * again after umove_register() is caught here, not by the handle's record.
 */
static int probe_fill(struct umove *um, uintptr_t dst)
{
	ssize_t r = um_uffd_copy(um->fd, dst, (uintptr_t)um->unreadable,
				 um->page_size, UFFDIO_COPY_MODE_DONTWAKE);

	if (r == -EFAULT)
		return 0;
	if (r == -ENOENT)
		return -EINVAL;
	if (r >= 0) /* cannot happen: the source is PROT_NONE */
		return -EIO;
	return (int)r;
}

static int check_areas(struct umove *um, uintptr_t dst, uintptr_t src,
		       size_t len)
{
	struct um_vma dv, sv;
	int r = um_vma_find2(dst, &dv, src, &sv);
	int fill;

	if (r == -ENOENT) {
		r = unmapped_error(um, &dv, dst, len);
		if (!r)
			r = unmapped_error(um, &sv, src, len);
		return r ? r : -ENOENT;
	}
	if (r)
		return r;
	fill = probe_fill(um, dst);
	if (fill == -EAGAIN)
		return fill;
	if (!fits_private(&sv, src, len) || !fits_private(&dv, dst, len))
		return -EINVAL;
	if (memcmp(sv.perms, dv.perms, 3) || sv.perms[1] != 'w')
		return -EINVAL;
	if (!sv.anonymous || !dv.anonymous)
		return -EINVAL;
	if (!um_ranges_cover(&um->registered, dst, dst + len))
		return -EINVAL;
	return fill;
}

static bool occupied(uint64_t pagemap_entry)
{
	return pagemap_entry & (UM_PM_PRESENT | UM_PM_SWAPPED);
}

/*
 * Copy a run of present src pages into dst and discard them from src.
 * Threads faulting on dst are woken once by the caller, for the whole move.
 * COPY's ENOENT means the dst mapping is registered with no userfaultfd
 * (it was replaced after registering): UFFDIO_MOVE says EINVAL for that.
 */
static int copy_run(struct umove *um, uintptr_t dst, uintptr_t src, size_t len,
		    size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t r =
			um_uffd_copy(um->fd, dst + *done, src + *done,
				     len - *done, UFFDIO_COPY_MODE_DONTWAKE);

		if (r < 0)
			return r == -ENOENT ? -EINVAL : (int)r;
		/* dst holds the data now: count it even if src stays. */
		*done += (size_t)r;
		if (madvise((void *)(src + *done - (size_t)r), (size_t)r,
			    MADV_DONTNEED))
			return -errno;
	}
	return 0;
}

/* Rule 4 over one chunk of at most UM_CHUNK_PAGES pages. */
static int move_chunk(struct umove *um, uintptr_t dst, uintptr_t src,
		      size_t npages, unsigned flags, size_t *moved)
{
	uint64_t dpm[UM_CHUNK_PAGES], spm[UM_CHUNK_PAGES];
	size_t ps = um->page_size, run = 0, i, done;
	int stop = 0, r;

	r = um_pagemap_read(um->pagemap_fd, dst, npages, ps, dpm);
	if (!r)
		r = um_pagemap_read(um->pagemap_fd, src, npages, ps, spm);
	if (r)
		return r;
	for (i = 0; i < npages; i++) {
		if (occupied(dpm[i])) {
			stop = -EEXIST;
			break;
		}
		if (occupied(spm[i]))
			continue;
		if (!(flags & UMOVE_ALLOW_SRC_HOLES)) {
			stop = -ENOENT;
			break;
		}
		r = copy_run(um, dst + run * ps, src + run * ps, (i - run) * ps,
			     &done);
		*moved += done;
		if (r)
			return r;
		*moved += ps; /* the hole itself */
		run = i + 1;
	}
	r = copy_run(um, dst + run * ps, src + run * ps, (i - run) * ps, &done);
	*moved += done;
	return r ? r : stop;
}

ssize_t um_move_emulated(struct umove *um, uintptr_t dst, uintptr_t src,
			 size_t len, unsigned flags)
{
	size_t moved = 0, chunk = UM_CHUNK_PAGES * um->page_size;
	int err;

	pthread_mutex_lock(&um->emulate_lock);
	err = check_areas(um, dst, src, len);
	while (!err && moved < len) {
		size_t n = len - moved < chunk ? len - moved : chunk;

		err = move_chunk(um, dst + moved, src + moved,
				 n / um->page_size, flags, &moved);
	}
	pthread_mutex_unlock(&um->emulate_lock);
	if (moved && !(flags & UMOVE_DONTWAKE))
		um_uffd_wake(um->fd, dst, moved);
	return moved ? (ssize_t)moved : err;
}
