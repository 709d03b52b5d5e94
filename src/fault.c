/* SPDX-License-Identifier: MIT */
/*
 * The fault service: handler threads that read a region's userfaultfd,
 * fetch missing pages (plus read-ahead) from the store into a private
 * staging area, and install the run with one move or copy, which also wakes
 * the faulting threads.
 *
 * Concurrency rules:
 *  - Every handler reads the same userfaultfd; the kernel hands each message
 *    to one reader. Faults on one page may still reach several handlers
 *    (a woken thread that faults again is reported again).
 *  - Only the handler that moves a page EMPTY -> FILLING fetches it; a fault
 *    on a FILLING page is left to that handler, whose install wakes every
 *    thread waiting anywhere in the run.
 *  - A fault on a RESIDENT page is usually a message queued before the
 *    install woke its thread: wake again. If pagemap shows the page absent
 *    the application discarded it behind our back: fill it again.
 *  - Staging pages are private to one handler: no lock guards them.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "region.h"
#include "uffd_compat.h"

#define UM_MSG_BATCH 16

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uintptr_t page_addr(const struct umove_region *r, size_t p)
{
	return (uintptr_t)r->base + p * r->page_size;
}

static bool claim(struct umove_region *r, size_t p, uint8_t from)
{
	return um_state_cas(r, p, from, UM_FILLING);
}

/*
 * The faulting page and as many following EMPTY pages as read-ahead
 * allows, and a resident limit: a run never needs more room than it has.
 */
static size_t claim_run(struct umove_region *r, size_t p)
{
	size_t n = 1, max = 1 + r->cfg.readahead;
	size_t limit = atomic_load(&r->limit);

	if (limit && max > limit)
		max = limit;

	while (n < max && p + n < r->npages && claim(r, p + n, UM_EMPTY))
		n++;
	return n;
}

/*
 * Installed: resident, and spared by the clock hand's next pass. Only a
 * page still FILLING becomes RESIDENT: one the application unmapped
 * meanwhile stays GONE.
 */
static void set_resident(struct umove_region *r, size_t p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		atomic_store_explicit(&r->ref[p + i], 1, memory_order_relaxed);
		um_state_cas(r, p + i, UM_FILLING, UM_RESIDENT);
	}
}

static int fetch(struct um_worker *w, size_t p, size_t n)
{
	struct umove_region *r = w->region;
	int err = 0;

	for (unsigned attempt = 0; attempt <= r->cfg.retries; attempt++) {
		err = um_store_read(r->store, r->first + p, n, w->staging);
		if (!err) {
			/* What the store holds: a page still matching is clean.
			 */
			um_hash_pages(r, p, n, w->staging);
			count(&w->c.bytes_read, n * r->page_size);
			if (!r->store->direct)
				count(&w->c.buffered_reads, 1);
			return 0;
		}
		count(&w->c.read_errors, 1);
	}
	return err;
}

/*
 * SIGBUS for every thread that touches the page from now on. Without
 * UFFDIO_POISON (before 6.6) the page is made inaccessible instead, which
 * raises SIGSEGV: a signal either way, never a hang or silent zeros.
 */
static void poison(struct um_worker *w, uintptr_t addr)
{
	struct umove_region *r = w->region;

	if (umove_poison(r->um, (void *)addr, r->page_size, 0) != 0) {
		mprotect((void *)addr, r->page_size, PROT_NONE);
		umove_wake(r->um, (void *)addr, r->page_size);
	}
	count(&w->c.pages_poisoned, 1);
}

static void apply_event(struct um_worker *w, const struct uffd_msg *m);

/*
 * Read and apply the events pending on the region's userfaultfd, waiting
 * up to timeout_ms for some. A fault message read on the way is answered
 * with a wake, so that its thread faults again and is reported afresh.
 * For a handler that cannot go on until the events are read: an install
 * or a write-protection that failed with EAGAIN.
 */
void um_worker_drain(struct um_worker *w, int timeout_ms)
{
	struct umove_region *r = w->region;
	struct pollfd pfd = {umove_fd(r->um), POLLIN, 0};
	struct uffd_msg msgs[UM_MSG_BATCH];
	ssize_t n;

	if (timeout_ms && poll(&pfd, 1, timeout_ms) <= 0)
		return;
	n = read(umove_fd(r->um), msgs, sizeof(msgs));
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
		const struct uffd_msg *m = &msgs[i];

		if (m->event == UFFD_EVENT_PAGEFAULT)
			umove_wake(
				r->um,
				(void *)(uintptr_t)(m->arg.pagefault.address &
						    ~(uint64_t)(r->page_size -
								1)),
				r->page_size);
		else
			apply_event(w, m);
	}
}

/* EAGAIN from an install: the kernel refuses fills until events are read. */
static void drain_events(struct um_worker *w)
{
	um_worker_drain(w, 0);
	sched_yield();
}

static ssize_t install_call(struct um_worker *w, size_t p, size_t off, size_t n,
			    int fill)
{
	struct umove_region *r = w->region;
	void *dst = (void *)page_addr(r, p + off);
	void *src = w->staging + off * r->page_size;
	size_t len = n * r->page_size;

	/* DONTWAKE: the state must say RESIDENT before any waiter runs on. */
	if (fill == UMOVE_FILL_COPY) {
		count(&w->c.copies, 1);
		return umove_copy(r->um, dst, src, len, UMOVE_DONTWAKE);
	}
	count(&w->c.moves, 1);
	return umove_move(r->um, dst, src, len,
			  UMOVE_DONTWAKE | UMOVE_DST_EMPTY);
}

/*
 * Wake the threads waiting on pages [p, p+n). Done after their state
 * changed: a woken writer followed by a sync must find its page RESIDENT,
 * and a thread woken on a page put back to EMPTY faults again and is
 * served afresh.
 */
static void wake_pages(struct um_worker *w, size_t p, size_t n)
{
	struct umove_region *r = w->region;

	if (n)
		umove_wake(r->um, (void *)page_addr(r, p), n * r->page_size);
}

/* The page cannot be installed: no thread may be left waiting on it. */
static void give_up(struct um_worker *w, size_t p, ssize_t err)
{
	struct umove_region *r = w->region;
	uintptr_t addr = page_addr(r, p);

	if (err == -ENOENT) { /* unmapped (munmap, mremap) */
		um_state_set(r, p, 1, UM_GONE);
	} else {
		um_state_set(r, p, 1, UM_POISONED);
		poison(w, addr);
	}
	umove_wake(r->um, (void *)addr, r->page_size);
}

/*
 * Install pages [p, p+n) from staging. Every page ends RESIDENT, GONE or
 * POISONED, and its waiters are woken: a page left FILLING, or a waiter
 * left unwoken, would hang a thread for good.
 *  - EEXIST: the page is there already (a racing install, or a write after
 *    a discard): leave it, wake it, go on after it.
 *  - EAGAIN: events are pending: read them, retry.
 *  - Another error on a run: the run may cross a boundary the application
 *    made (mprotect, mlock, madvise split the mapping): go page by page.
 *  - On one page, a refused move (the region is mlocked and the staging
 *    page is not, say) is retried as a copy; then give up on the page.
 */
static void install(struct um_worker *w, size_t p, size_t n, int first_fill)
{
	struct umove_region *r = w->region;
	size_t done = 0, step = n;
	int fill = first_fill;

	while (done < n) {
		size_t want = step < n - done ? step : n - done;
		ssize_t got = install_call(w, p, done, want, fill);

		if (got > 0) {
			size_t pages = (size_t)got / r->page_size;

			set_resident(r, p + done, pages);
			wake_pages(w, p + done, pages);
			count(&w->c.pages_filled, pages);
			done += pages;
			fill = first_fill;
		} else if (got == -EEXIST) {
			count(&w->c.races_lost, 1);
			set_resident(r, p + done, 1);
			wake_pages(w, p + done, 1);
			done++;
		} else if (got == -EAGAIN) {
			drain_events(w);
		} else if (want > 1) {
			step = 1;
		} else if (fill == UMOVE_FILL_MOVE) {
			fill = UMOVE_FILL_COPY;
		} else {
			give_up(w, p + done, got);
			done++;
			fill = first_fill;
		}
	}
}

static bool page_present(struct umove_region *r, size_t p)
{
	uint64_t entry = 0;

	if (um_pagemap_read(r->um->pagemap_fd, page_addr(r, p), 1, r->page_size,
			    &entry))
		return true; /* unknown: a wake is harmless, a refill is not */
	return entry & (UM_PM_PRESENT | UM_PM_SWAPPED);
}

/* Claims the faulting page; false when someone else has it in hand. */
static bool claim_fault(struct um_worker *w, size_t p, uintptr_t page)
{
	struct umove_region *r = w->region;
	uint8_t s = atomic_load(&r->state[p]);

	if (s == UM_EMPTY && claim(r, p, UM_EMPTY))
		return true;
	/*
	 * Present pages do not fault: the application discarded this one
	 * (MADV_DONTNEED or MADV_FREE, which raise no event here: see
	 * setup() in region.c). Fill it again, with the store's bytes.
	 */
	if ((s == UM_RESIDENT || s == UM_SYNCING) && !page_present(r, p) &&
	    claim(r, p, s)) {
		/*
		 * The page may have been evicted and filled again between the
		 * look and the claim: then it is there, and stays as it is.
		 */
		if (!page_present(r, p))
			return true;
		um_state_cas(r, p, UM_FILLING, s);
	}
	/* The owner of a page in flight wakes it when it lets go. */
	if (s == UM_FILLING || s == UM_EVICTING) {
		count(&w->c.faults_joined, 1);
		return false;
	}
	/* RESIDENT (stale message), POISONED (re-raise), GONE: wake. */
	umove_wake(r->um, (void *)page, r->page_size);
	return false;
}

/*
 * Over the resident limit with a run claimed: evict as many pages as the
 * excess (at most the run) into this handler's staging pages, which the
 * fetch then reads into. Pages that cannot be evicted now (all busy, or a
 * write-back failed) leave the region over its limit, counted.
 */
static void make_room(struct um_worker *w, size_t n)
{
	struct umove_region *r = w->region;
	size_t limit = atomic_load(&r->limit), charged, need = 0, got = 0;

	w->recycled = 0;
	charged = atomic_load(&r->charged);
	if (limit && um_can_evict(r) && charged > limit) {
		need = charged - limit < n ? charged - limit : n;
		got = um_evict(r, &w->slots, need, &w->c, NULL);
	}
	/* Then the process-wide limit, from whichever region holds most. */
	for (size_t g = um_global_excess(n); g; g = um_global_excess(n)) {
		size_t k = um_evict_global(r, &w->slots, &w->c, g);

		need += g;
		got += k;
		if (!k)
			break;
	}
	if (got < need)
		count(&w->c.limit_overshoot, need - got);
}

/*
 * A write to a write-protected page: only a victim being copied out is
 * protected (copyout.c), and its owner wakes it when it lets go. A page
 * in any other state was un-protected before it got there: the message
 * is stale, and a wake lets the thread write.
 */
static void serve_wp_fault(struct um_worker *w, uintptr_t page)
{
	struct umove_region *r = w->region;
	size_t p = (page - (uintptr_t)r->base) / r->page_size;

	if (page >= (uintptr_t)r->base && page < (uintptr_t)r->base + r->len &&
	    atomic_load(&r->state[p]) == UM_EVICTING) {
		count(&w->c.faults_joined, 1);
		return;
	}
	umove_wake(r->um, (void *)page, r->page_size);
}

/*
 * How to install a run of n pages: the region's fill, except that AUTO
 * moves a run whose staging pages all hold pages this fault's eviction
 * moved out. Moving those costs no fresh page: the next eviction refills
 * the slots. Copying them would leave the victims' pages idle in staging
 * and take fresh ones for the region.
 */
static int fill_for(const struct um_worker *w, size_t n)
{
	const struct umove_region *r = w->region;

	return r->move_recycled && w->recycled >= n ? UMOVE_FILL_MOVE : r->fill;
}

static void serve_fault(struct um_worker *w, uint64_t address, uint64_t t0)
{
	struct umove_region *r = w->region;
	uintptr_t page = (uintptr_t)address & ~(uintptr_t)(r->page_size - 1);
	size_t p, n;
	int err;

	if (page < (uintptr_t)r->base || page >= (uintptr_t)r->base + r->len) {
		/* Outside the region: its mapping was moved by mremap. */
		poison(w, page);
		return;
	}
	p = (page - (uintptr_t)r->base) / r->page_size;
	if (!claim_fault(w, p, page))
		return;
	n = claim_run(r, p);
	make_room(w, n);
	count(&w->c.faults_served, 1);
	err = fetch(w, p, n);
	if (err && n > 1) {
		/* A bad page ahead must not fail this fault: fetch it alone. */
		um_state_set(r, p + 1, n - 1, UM_EMPTY);
		wake_pages(w, p + 1, n - 1);
		n = 1;
		err = fetch(w, p, n);
	}
	if (err) {
		um_state_set(r, p, 1, UM_POISONED);
		poison(w, page);
		return;
	}
	install(w, p, n, fill_for(w, n));
	count(&w->c.readahead_pages, n - 1);
	um_hist_add(w->c.hist, now_ns() - t0);
}

/* Pages [start, end) of the region are unmapped or moved away: GONE. */
static void mark_gone(struct umove_region *r, uint64_t start, uint64_t end)
{
	uintptr_t lo = (uintptr_t)r->base, hi = lo + r->len;

	start = start < lo ? lo : start;
	end = end > hi ? hi : end;
	for (uint64_t a = start; a < end; a += r->page_size)
		um_state_set(r, (a - lo) / r->page_size, 1, UM_GONE);
}

/*
 * Events from the application's own memory calls. The kernel blocks the
 * calling thread until the message is read, so they are applied promptly.
 */
static void apply_event(struct um_worker *w, const struct uffd_msg *m)
{
	struct umove_region *r = w->region;

	switch (m->event) {
	case UFFD_EVENT_UNMAP:
		mark_gone(r, m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_REMAP:
		mark_gone(r, m->arg.remap.from,
			  m->arg.remap.from + m->arg.remap.len);
		break;
	default:
		return;
	}
	count(&w->c.events_other, 1);
}

static void handle(struct um_worker *w, const struct uffd_msg *m, uint64_t t0)
{
	uint64_t addr = m->arg.pagefault.address;

	if (m->event == UFFD_EVENT_PAGEFAULT) {
		count(&w->c.fault_events, 1);
		if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
			serve_wp_fault(
				w,
				(uintptr_t)addr &
					~(uintptr_t)(w->region->page_size - 1));
		else
			serve_fault(w, addr, t0);
	} else {
		apply_event(w, m);
	}
}

static void *worker_main(void *arg)
{
	struct um_worker *w = arg;
	struct umove_region *r = w->region;
	struct pollfd fds[2] = {{umove_fd(r->um), POLLIN, 0},
				{r->stop_fd, POLLIN, 0}};
	struct uffd_msg msgs[UM_MSG_BATCH];

	for (;;) {
		ssize_t n;
		uint64_t t0;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		/* Odd before the read: see epoch in region.h. */
		atomic_fetch_add(&w->epoch, 1);
		n = read(fds[0].fd, msgs, sizeof(msgs));
		t0 = now_ns();
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			handle(w, &msgs[i], t0);
		atomic_fetch_add(&w->epoch, 1);
	}
	return NULL;
}

/*
 * Returns once every message read before the call has been applied: each
 * handler busy at the start only has to finish its batch, so faults that
 * keep arriving cannot hold this up.
 */
void um_workers_quiesce(struct umove_region *r)
{
	for (unsigned i = 0; i < r->nworkers; i++) {
		unsigned e = atomic_load(&r->workers[i].epoch);

		while ((e & 1) && atomic_load(&r->workers[i].epoch) == e)
			sched_yield();
	}
}

/* (1 + readahead) staging pages: fetches read into them, victims land there. */
static size_t staging_len(const struct umove_region *r)
{
	return (1 + (size_t)r->cfg.readahead) * r->page_size;
}

static int worker_init(struct um_worker *w, struct umove_region *r)
{
	size_t len = staging_len(r);

	w->region = r;
	w->staging = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->staging == MAP_FAILED) {
		w->staging = NULL;
		return -ENOMEM;
	}
	/* A fork must not share staging pages: moving them would be EBUSY. */
	madvise(w->staging, len, MADV_DONTFORK);
	madvise(w->staging, len, MADV_NOHUGEPAGE);
	/* Eviction moves victims into staging: see pool_um in region.h. */
	w->slots = (struct um_slots){r->pool_um, w->staging, w};
	return um_register_staging(r, w->staging, 1 + (size_t)r->cfg.readahead);
}

/*
 * Handler threads block every signal: an application's handler must not
 * run on them (it might touch the region, and wait on its own fault).
 */
int um_workers_start(struct umove_region *r)
{
	sigset_t all, old;
	int err = 0;

	r->workers = calloc(r->cfg.threads, sizeof(*r->workers));
	if (!r->workers)
		return -ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < r->cfg.threads && !err; i++) {
		err = worker_init(&r->workers[i], r);
		if (!err)
			err = -pthread_create(&r->workers[i].thread, NULL,
					      worker_main, &r->workers[i]);
		if (!err)
			r->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void um_workers_stop(struct umove_region *r)
{
	uint64_t one = 1;

	if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail */
	for (unsigned i = 0; i < r->nworkers; i++)
		pthread_join(r->workers[i].thread, NULL);
	for (unsigned i = 0; i < r->cfg.threads && r->workers; i++)
		if (r->workers[i].staging)
			munmap(r->workers[i].staging, staging_len(r));
	r->nworkers = 0;
}
