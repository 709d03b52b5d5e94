/* SPDX-License-Identifier: MIT */
/*
 * Eviction by copy-out, for victims that cannot be moved out: every victim
 * on kernels without UFFDIO_MOVE (or with UMOVE_EVICT_COPY), and the pages
 * UFFDIO_MOVE refuses with EBUSY (pinned by I/O or RDMA, merged by KSM).
 * The page is write-protected, copied out, written back if it changed,
 * and discarded.
 *
 * Ordering rules:
 *  - Write-protection comes first, and UFFDIO_WRITEPROTECT returns only
 *    once the TLB is flushed: no write lands after the copy. A write
 *    meanwhile takes a WP fault, which the handler that reads it drops
 *    (the page is EVICTING, as for a move-out), and its thread is woken
 *    once the page is EMPTY, or RESIDENT and writable again.
 *  - The copy reads /proc/self/mem, not the page. If the application
 *    discarded the page since it was chosen, a read of the page would fault
 *    to the region's handlers, one of which may be this very thread; a
 *    read of /proc/self/mem fails with EIO instead (measured on 6.18: the
 *    kernel's access to another mm's pages may not wait for a userfault).
 *    Such a page is simply EMPTY: the application asked for it to go.
 *  - A page kept after all (its write-back or its discard failed) is
 *    un-protected before it becomes RESIDENT again, so that a WP fault on a
 *    page that is not EVICTING is always stale and only needs a wake.
 *  - The discard is MADV_DONTNEED of the page, made by the thread that
 *    evicts. The region's userfaultfd does not ask for REMOVE events, so
 *    the call raises none and never waits for a handler to read it (a
 *    handler may be the caller): the application's own discards are found
 *    as faults on pages still marked resident instead (fault.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "region.h"

static uintptr_t page_addr(const struct umove_region *r, size_t p)
{
	return (uintptr_t)r->base + p * r->page_size;
}

/* Once the region is registered: copy-out needs write-protection. */
void um_copyout_setup(struct umove_region *r)
{
	r->mem_fd = -1;
	if (r->wp)
		r->mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
}

void um_copyout_teardown(struct umove_region *r)
{
	if (r->mem_fd >= 0)
		close(r->mem_fd);
	r->mem_fd = -1;
}

/*
 * Events are pending (EAGAIN): the kernel refuses to change the range's
 * protection until they are read. A handler reads them; another thread
 * leaves that to the handlers.
 */
static void let_events_be_read(const struct um_slots *to)
{
	if (to && to->w)
		um_worker_drain(to->w, 0);
	else
		sched_yield();
}

static int protect(struct umove_region *r, const struct um_slots *to, size_t p,
		   size_t n, bool on)
{
	int err;

	while ((err = um_uffd_writeprotect(umove_fd(r->um), page_addr(r, p),
					   n * r->page_size, on)) == -EAGAIN)
		let_events_be_read(to);
	return err;
}

void um_unprotect(struct umove_region *r, const struct um_slots *to, size_t p,
		  size_t n)
{
	protect(r, to, p, n, false);
}

static ssize_t read_out(struct umove_region *r, char *buf, size_t p, size_t n)
{
	ssize_t got;

	do
		got = pread(r->mem_fd, buf, n * r->page_size,
			    (off_t)page_addr(r, p));
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

/* One page a run could not read whole: EIO means it is gone. */
static enum um_fate read_one(struct umove_region *r, const struct um_slots *to,
			     char *slot, size_t p)
{
	ssize_t got = read_out(r, slot, p, 1);

	if (got == (ssize_t)r->page_size)
		return UM_COPIED;
	if (got == -EIO)
		return UM_ABSENT;
	um_unprotect(r, to, p, 1);
	return UM_KEPT;
}

static void copy_run(struct umove_region *r, const struct um_slots *to,
		     char *slots, const size_t *v, size_t k, enum um_fate *fate,
		     struct um_counters *c)
{
	ssize_t got;
	size_t done;

	if (protect(r, to, v[0], k, true)) {
		for (size_t j = 0; j < k; j++)
			fate[j] = UM_KEPT;
		atomic_fetch_add(&c->evict_busy, k);
		return;
	}
	got = read_out(r, slots, v[0], k);
	done = got > 0 ? (size_t)got / r->page_size : 0;
	for (size_t j = 0; j < k; j++)
		fate[j] = j < done ? UM_COPIED
				   : read_one(r, to, slots + j * r->page_size,
					      v[j]);
}

/*
 * Copy out the victims among v[0..n) whose fate is UM_BUSY, into their
 * slots: each becomes COPIED (write-protected, its bytes in the slot),
 * ABSENT (gone meanwhile) or KEPT (cannot be protected).
 */
void um_copy_victims(struct umove_region *r, const struct um_slots *to,
		     const size_t *v, size_t n, enum um_fate *fate,
		     struct um_counters *c)
{
	size_t i = 0;

	while (i < n) {
		size_t k = 1;

		if (fate[i] != UM_BUSY) {
			i++;
			continue;
		}
		while (i + k < n && fate[i + k] == UM_BUSY &&
		       v[i + k] == v[i] + k)
			k++;
		copy_run(r, to, to->slots + i * r->page_size, v + i, k,
			 fate + i, c);
		i += k;
	}
}

/*
 * Discard the COPIED victims [p, p+n), whose bytes are safe: EMPTY. An
 * mlocked range refuses the discard: the pages stay, un-protected and
 * RESIDENT, counted busy. Returns the pages that left.
 */
size_t um_discard(struct umove_region *r, const struct um_slots *to, size_t p,
		  size_t n, struct um_counters *c)
{
	bool ok = !madvise((void *)page_addr(r, p), n * r->page_size,
			   MADV_DONTNEED);

	if (!ok) {
		um_unprotect(r, to, p, n);
		atomic_fetch_add(&c->evict_busy, n);
	}
	for (size_t i = 0; i < n; i++)
		um_state_cas(r, p + i, UM_EVICTING,
			     ok ? UM_EMPTY : UM_RESIDENT);
	return ok ? n : 0;
}
