/* SPDX-License-Identifier: MIT */
/*
 * Regions: mapping, write-back, statistics and teardown. The fault service
 * that fills them is fault.c.
 *
 * Teardown order (umove_unmap), and why:
 *  1. sync: while the region is mapped and served, so nothing is lost;
 *  2. munmap: handler threads still run, and the kernel makes munmap wait
 *     until one of them has read the UNMAP event;
 *  3. stop the handlers;
 *  4. close the userfaultfd: this wakes any thread still waiting on a
 *     fault, which then retries on an unmapped address and gets SIGSEGV,
 *     as after any munmap, instead of waiting forever.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "region.h"

#define UM_MAX_THREADS 64
#define UM_MAX_READAHEAD 1023
#define UM_SYNC_CHUNK 64 /* pages copied out per write during sync */

static const struct umove_region_config defaults = {
	.threads = 1,
	.readahead =
		15, /* 16-page runs: MOVE costs ~1/6 per page of 1-page calls */
	.retries = 2,
	.flags = 0,
	.fill = UMOVE_FILL_AUTO,
};

int umove_region_config_new(struct umove_region_config **out)
{
	if (!out)
		return -EINVAL;
	*out = malloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	**out = defaults;
	return 0;
}

void umove_region_config_free(struct umove_region_config *cfg)
{
	free(cfg);
}

int umove_region_config_set_threads(struct umove_region_config *cfg,
				    unsigned threads)
{
	if (!cfg || !threads || threads > UM_MAX_THREADS)
		return -EINVAL;
	cfg->threads = threads;
	return 0;
}

int umove_region_config_set_readahead(struct umove_region_config *cfg,
				      unsigned pages)
{
	if (!cfg || pages > UM_MAX_READAHEAD)
		return -EINVAL;
	cfg->readahead = pages;
	return 0;
}

int umove_region_config_set_fill(struct umove_region_config *cfg, int fill)
{
	if (!cfg || fill < UMOVE_FILL_AUTO || fill > UMOVE_FILL_COPY)
		return -EINVAL;
	cfg->fill = fill;
	return 0;
}

int umove_region_config_set_flags(struct umove_region_config *cfg,
				  unsigned flags)
{
	if (!cfg || (flags & ~(UMOVE_EMULATE | UMOVE_EVICT_COPY)))
		return -EINVAL;
	cfg->flags = flags;
	return 0;
}

int umove_region_config_set_retries(struct umove_region_config *cfg,
				    unsigned retries)
{
	if (!cfg || retries > 100)
		return -EINVAL;
	cfg->retries = retries;
	return 0;
}

int umove_region_config_set_limit(struct umove_region_config *cfg, size_t bytes)
{
	if (!cfg || (bytes && bytes < (size_t)sysconf(_SC_PAGESIZE)))
		return -EINVAL;
	cfg->limit = bytes;
	return 0;
}

/*
 * AUTO is COPY, measured (docs/BENCHMARKS.md, `umove bench fault`): a move
 * empties the staging page, and refilling it costs a fault and a zeroed
 * page, more than the copy it saves. A move pays once emptied staging pages
 * are refilled with pages moved out of a region (a recycling pool): then
 * AUTO moves (move_recycled, `umove bench evict`). The emulated move is a
 * copy plus checks: never cheaper than COPY.
 */
static int resolve_fill(const struct umove_region *r)
{
	return r->cfg.fill == UMOVE_FILL_AUTO ? UMOVE_FILL_COPY : r->cfg.fill;
}

static bool resolve_move_recycled(const struct umove_region *r)
{
	return r->cfg.fill == UMOVE_FILL_AUTO && umove_native_move(r->um) &&
	       !(r->cfg.flags & UMOVE_EVICT_COPY);
}

/* The region's memory: private, never inherited by a child (see fork). */
static int map_memory(struct umove_region *r)
{
	r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -errno;
	}
	/*
	 * A child would inherit the range without its userfaultfd and read
	 * zeros where the store has data; without the mapping it faults.
	 */
	if (madvise(r->base, r->len, MADV_DONTFORK))
		return -errno;
	madvise(r->base, r->len, MADV_NOHUGEPAGE);
	/*
	 * Write-protection too, so that a page that cannot be moved out can be
	 * copied out (copyout.c); a kernel without it for anonymous memory
	 * (before 5.7) registers missing faults only.
	 */
	if (!umove_register(r->um, r->base, r->len,
			    UMOVE_REGISTER_MISSING | UMOVE_REGISTER_WP)) {
		r->wp = true;
		return 0;
	}
	return umove_register(r->um, r->base, r->len, UMOVE_REGISTER_MISSING);
}

/*
 * The region's userfaultfd reports munmap and mremap, which make pages
 * GONE. It does not ask for REMOVE events (MADV_DONTNEED, MADV_FREE): each
 * would make the discarding thread wait until a handler read it, and fills
 * fail with EAGAIN meanwhile, and copy-out eviction discards with
 * MADV_DONTNEED from handlers. A page the application discarded is found
 * instead when it faults while still RESIDENT (fault.c).
 */
static int setup(struct umove_region *r)
{
	const uint64_t events =
		UMOVE_FEATURE_EVENT_UNMAP | UMOVE_FEATURE_EVENT_REMAP;
	int err = umove_open_features(&r->um, r->cfg.flags & UMOVE_EMULATE,
				      events);

	if (err)
		return err;
	r->fill = resolve_fill(r);
	r->move_recycled = resolve_move_recycled(r);
	r->state = calloc(r->npages, sizeof(*r->state));
	if (!r->state)
		return -ENOMEM;
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0)
		return -errno;
	err = map_memory(r);
	if (err)
		return err;
	um_copyout_setup(r);
	err = um_evict_setup(r);
	if (err)
		return err;
	if (r->cfg.limit && !um_can_evict(r))
		return -EOPNOTSUPP; /* no way to evict on this kernel */
	atomic_store(&r->limit, r->cfg.limit / r->page_size);
	return um_workers_start(r);
}

/*
 * Unmap what is still ours: a range the application unmapped (GONE) may
 * hold someone else's mapping by now.
 */
static void unmap_memory(struct umove_region *r)
{
	size_t p = 0;

	while (p < r->npages) {
		size_t n = 0;

		while (p + n < r->npages &&
		       (!r->state || atomic_load(&r->state[p + n]) != UM_GONE))
			n++;
		if (n)
			munmap(r->base + p * r->page_size, n * r->page_size);
		p += n + 1;
	}
}

static void teardown(struct umove_region *r)
{
	if (r->workers)
		um_workers_quiesce(r);
	if (r->base)
		unmap_memory(r);
	if (r->workers) {
		um_workers_stop(r);
		free(r->workers);
	}
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	um_evict_teardown(r);
	um_copyout_teardown(r);
	umove_close(r->um);
	free(r->state);
	pthread_mutex_destroy(&r->sync_lock);
	pthread_mutex_destroy(&r->evict_lock);
	free(r);
}

/*
 * The live list: every region umove_map returned and umove_unmap has not
 * yet begun to release. It is the library's one piece of process-wide
 * state (umove(7)), kept so that a second umove_unmap of a region, or any
 * call on a region already unmapped, returns -EBADF instead of touching
 * freed memory. Like a file descriptor, a handle's address may be reused
 * by a later umove_map, after which a stale handle names the new region.
 * The lock is held only to link, unlink or look up: never across a sync or
 * a teardown.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct umove_region *live_head;

static void live_add(struct umove_region *r)
{
	pthread_mutex_lock(&live_lock);
	r->live_next = live_head;
	live_head = r;
	pthread_mutex_unlock(&live_lock);
}

/* Unlinks r: true if it was live, and this caller now owns its release. */
static bool live_take(struct umove_region *r)
{
	struct umove_region **p;
	bool found = false;

	pthread_mutex_lock(&live_lock);
	for (p = &live_head; *p; p = &(*p)->live_next)
		if (*p == r) {
			*p = r->live_next;
			found = true;
			break;
		}
	pthread_mutex_unlock(&live_lock);
	return found;
}

static bool live_has(const struct umove_region *r)
{
	const struct umove_region *q;

	pthread_mutex_lock(&live_lock);
	for (q = live_head; q && q != r; q = q->live_next)
		;
	pthread_mutex_unlock(&live_lock);
	return q != NULL;
}

/*
 * The live region holding the most pages that can evict, held against
 * unmapping until um_region_put: the victim of the process-wide limit.
 */
struct umove_region *um_region_hold_largest(void)
{
	struct umove_region *best = NULL, *q;

	pthread_mutex_lock(&live_lock);
	for (q = live_head; q; q = q->live_next)
		if (um_can_evict(q) &&
		    (!best ||
		     atomic_load(&q->charged) > atomic_load(&best->charged)))
			best = q;
	if (best)
		atomic_fetch_add(&best->users, 1);
	pthread_mutex_unlock(&live_lock);
	return best;
}

void um_region_put(struct umove_region *r)
{
	atomic_fetch_sub(&r->users, 1);
}

/* Off the live list: wait for evictions other threads began in it. */
static void wait_unused(struct umove_region *r)
{
	while (atomic_load(&r->users))
		sched_yield();
}

int umove_map(struct umove_region **out, struct umove_store *st,
	      uint64_t first_page, size_t len,
	      const struct umove_region_config *cfg)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct umove_region *r;
	int err;

	if (!out || !st || !len || (len & (ps - 1)))
		return -EINVAL;
	if (first_page >= st->pages || len / ps > st->pages - first_page)
		return -ERANGE;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->store = st;
	r->first = first_page;
	r->len = len;
	r->page_size = ps;
	r->npages = len / ps;
	r->cfg = cfg ? *cfg : defaults;
	r->stop_fd = -1;
	r->mem_fd = -1;
	pthread_mutex_init(&r->sync_lock, NULL);
	pthread_mutex_init(&r->evict_lock, NULL);
	err = setup(r);
	if (err) {
		teardown(r);
		return err;
	}
	atomic_fetch_add(&st->mapped, 1);
	live_add(r);
	*out = r;
	return 0;
}

void *umove_region_addr(const struct umove_region *r)
{
	return r && live_has(r) ? r->base : NULL;
}

size_t umove_region_len(const struct umove_region *r)
{
	return r && live_has(r) ? r->len : 0;
}

/*
 * Copy out through process_vm_readv rather than reading the region
 * directly: if the application unmaps part of it meanwhile, this returns
 * EFAULT where a plain read would crash the library.
 */
static bool copy_out(struct umove_region *r, char *bounce, size_t p, size_t n)
{
	struct iovec local = {bounce, n * r->page_size};
	struct iovec remote = {r->base + p * r->page_size, n * r->page_size};

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) ==
	       (ssize_t)(n * r->page_size);
}

static int write_pages(struct umove_region *r, const char *buf, size_t p,
		       size_t n)
{
	int err = um_store_write(r->store, r->first + p, n, buf);

	if (err)
		atomic_fetch_add(&r->sync_c.write_errors, 1);
	else
		atomic_fetch_add(&r->sync_c.bytes_written, n * r->page_size);
	return err;
}

/*
 * Write back the changed pages of a run copied into bounce: a page whose
 * hash still matches what the store holds is skipped. A written page's
 * hash becomes the written bytes' hash. ok[i] false: not copied (the
 * application unmapped it just now).
 */
static int write_changed(struct umove_region *r, const char *bounce, size_t p,
			 size_t n, const bool *ok)
{
	uint64_t h[UM_SYNC_CHUNK];
	int first_err = 0;
	size_t i = 0;

	for (size_t j = 0; j < n; j++) {
		h[j] = um_page_hash(bounce + j * r->page_size, r->page_size);
		if (ok[j] && h[j] == atomic_load_explicit(&r->hash[p + j],
							  memory_order_relaxed))
			atomic_fetch_add(&r->sync_c.sync_clean, 1);
	}
	while (i < n) {
		size_t k = 0;
		int err;

		while (i + k < n && ok[i + k] &&
		       h[i + k] != atomic_load_explicit(&r->hash[p + i + k],
							memory_order_relaxed))
			k++;
		if (!k) {
			i++;
			continue;
		}
		err = write_pages(r, bounce + i * r->page_size, p + i, k);
		if (!err)
			for (size_t j = i; j < i + k; j++)
				atomic_store_explicit(&r->hash[p + j], h[j],
						      memory_order_relaxed);
		else if (!first_err)
			first_err = err;
		i += k;
	}
	return first_err;
}

/* A run that cannot be copied out whole loses only its unmapped pages. */
static int write_run(struct umove_region *r, char *bounce, size_t p, size_t n)
{
	bool ok[UM_SYNC_CHUNK];
	bool all = copy_out(r, bounce, p, n);

	for (size_t i = 0; i < n; i++)
		ok[i] = all || copy_out(r, bounce + i * r->page_size, p + i, 1);
	return write_changed(r, bounce, p, n, ok);
}

/*
 * A page is written back if it is present, whatever its state says: after
 * MADV_FREE the kernel may keep a page (and a write to it) that the REMOVE
 * event made EMPTY. Such a page, and every RESIDENT one, becomes SYNCING
 * for the time of its write, so that no eviction writes it concurrently
 * (an older copy could land last).
 */
static bool sync_claim(struct umove_region *r, size_t p, uint64_t pm)
{
	if (!(pm & (UM_PM_PRESENT | UM_PM_SWAPPED)))
		return false;
	return um_state_cas(r, p, UM_RESIDENT, UM_SYNCING) ||
	       um_state_cas(r, p, UM_EMPTY, UM_SYNCING);
}

static int sync_chunk(struct umove_region *r, char *bounce, size_t first,
		      size_t count)
{
	uint64_t pm[UM_SYNC_CHUNK];
	bool mine[UM_SYNC_CHUNK];
	int first_err = 0, err;
	size_t i = 0;

	err = um_pagemap_read(r->um->pagemap_fd,
			      (uintptr_t)r->base + first * r->page_size, count,
			      r->page_size, pm);
	if (err)
		return err;
	for (size_t j = 0; j < count; j++)
		mine[j] = sync_claim(r, first + j, pm[j]);
	while (i < count) {
		size_t n = 0;

		while (i + n < count && mine[i + n])
			n++;
		if (!n) {
			i++;
			continue;
		}
		err = write_run(r, bounce, first + i, n);
		if (err && !first_err)
			first_err = err;
		i += n;
	}
	for (size_t j = 0; j < count; j++)
		if (mine[j])
			um_state_cas(r, first + j, UM_SYNCING, UM_RESIDENT);
	return first_err;
}

static int sync_locked(struct umove_region *r, char *bounce)
{
	int first_err = 0;

	um_workers_quiesce(r);
	for (size_t p = 0; p < r->npages; p += UM_SYNC_CHUNK) {
		size_t n = r->npages - p < UM_SYNC_CHUNK ? r->npages - p
							 : UM_SYNC_CHUNK;
		int err = sync_chunk(r, bounce, p, n);

		if (err && !first_err)
			first_err = err;
	}
	if (!first_err)
		first_err = umove_store_sync(r->store);
	return first_err;
}

static int sync_region(struct umove_region *r)
{
	size_t blen;
	char *bounce;
	int err;

	if (!r->store->ops.write)
		return 0; /* a read-only store: nothing can be written back */
	blen = UM_SYNC_CHUNK * r->page_size;
	bounce = mmap(NULL, blen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bounce == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&r->sync_lock);
	err = sync_locked(r, bounce);
	pthread_mutex_unlock(&r->sync_lock);
	munmap(bounce, blen);
	return err;
}

int umove_region_sync(struct umove_region *r)
{
	if (!r)
		return -EINVAL;
	if (!live_has(r))
		return -EBADF;
	return sync_region(r);
}

/*
 * Syncs, unmaps and releases the region. If the sync fails nothing is
 * released: the region stays mapped and served, and the error is returned,
 * so that no written page is lost.
 */
int umove_unmap(struct umove_region *r)
{
	int err;

	if (!r)
		return -EINVAL;
	/* Taken off the list first: a concurrent second unmap gets EBADF. */
	if (!live_take(r))
		return -EBADF;
	wait_unused(r);
	err = sync_region(r);
	if (err) {
		live_add(r);
		return err;
	}
	atomic_fetch_sub(&r->store->mapped, 1);
	teardown(r);
	return 0;
}

/* Releases without a sync: what was written since the last one is dropped. */
int umove_unmap_discard(struct umove_region *r)
{
	if (!r)
		return -EINVAL;
	if (!live_take(r))
		return -EBADF;
	wait_unused(r);
	atomic_fetch_sub(&r->store->mapped, 1);
	teardown(r);
	return 0;
}

static void add_counters(struct umove_stats *out, uint64_t *hist,
			 const struct um_counters *c)
{
#define UM_ADD(name, doc) out->name += atomic_load(&c->name);
	UMOVE_STATS_COUNTERS(UM_ADD)
#undef UM_ADD
	for (unsigned b = 0; b < UM_HIST_BUCKETS; b++)
		hist[b] += atomic_load(&c->hist[b]);
}

_Static_assert(offsetof(struct umove_stats, pages_evicted) ==
		       UMOVE_STATS_V1_SIZE,
	       "version 1 of struct umove_stats ends before pages_evicted");

int umove_region_stats(const struct umove_region *r, struct umove_stats *out)
{
	uint64_t hist[UM_HIST_BUCKETS] = {0};
	struct umove_stats s;
	uint32_t size;

	if (!r || !out || out->size < UMOVE_STATS_V1_SIZE)
		return -EINVAL;
	if (!live_has(r))
		return -EBADF;
	size = out->size;
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < r->nworkers; i++)
		add_counters(&s, hist, &r->workers[i].c);
	add_counters(&s, hist, &r->sync_c);
	add_counters(&s, hist, &r->evict_c);
	s.fill_ns_p50 = um_hist_quantile(hist, 0.50);
	s.fill_ns_p99 = um_hist_quantile(hist, 0.99);
	s.resident_pages = atomic_load(&r->charged);
	s.limit_pages = atomic_load(&r->limit);
	s.version = UMOVE_STATS_VERSION;
	/* An older caller gets the fields it knows; a newer one zeros after. */
	memset(out, 0, size);
	memcpy(out, &s, size < sizeof(s) ? size : sizeof(s));
	out->size = size;
	return 0;
}

/*
 * Lowering the limit evicts down to it before returning; raising it, or
 * lifting it (0), takes effect at once.
 */
int umove_region_set_limit(struct umove_region *r, size_t bytes)
{
	size_t pages;

	if (!r)
		return -EINVAL;
	if (!live_has(r))
		return -EBADF;
	if (bytes && bytes < r->page_size)
		return -EINVAL;
	if (!um_can_evict(r))
		return bytes ? -EOPNOTSUPP : 0;
	pages = bytes / r->page_size;
	atomic_store(&r->limit, pages);
	return pages ? um_evict_to(r, pages) : 0;
}

size_t umove_region_resident(const struct umove_region *r)
{
	if (!r || !live_has(r))
		return 0;
	return atomic_load(&r->charged) * r->page_size;
}

/* MADV_POPULATE_READ (5.14): faults the range in as reads would. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

static int will_need(struct umove_region *r, size_t p, size_t n)
{
	if (!madvise(r->base + p * r->page_size, n * r->page_size,
		     MADV_POPULATE_READ))
		return 0;
	/* EFAULT: a poisoned page; ENOMEM: a page unmapped meanwhile. */
	return errno == EINVAL ? -EOPNOTSUPP : -errno;
}

int umove_region_advise(struct umove_region *r, size_t offset, size_t len,
			int advice)
{
	size_t p, n;

	if (!r)
		return -EINVAL;
	if (!live_has(r))
		return -EBADF;
	if (!len || ((offset | len) & (r->page_size - 1)) || offset > r->len ||
	    len > r->len - offset)
		return -EINVAL;
	p = offset / r->page_size;
	n = len / r->page_size;
	switch (advice) {
	case UMOVE_ADV_DONTNEED:
		return um_evict_range(r, p, n);
	case UMOVE_ADV_COLD:
		if (!um_can_evict(r))
			return -EOPNOTSUPP;
		um_mark_cold(r, p, n);
		return 0;
	case UMOVE_ADV_WILLNEED:
		return will_need(r, p, n);
	default:
		return -EINVAL;
	}
}
