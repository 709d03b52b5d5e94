/* SPDX-License-Identifier: MIT */
/*
 * The resident limit: charge accounting, victim choice, eviction by page
 * move into staging pages (which the next fetch then reuses), write-back,
 * and the page hashes that tell a changed page from a clean one. Victims
 * that cannot be moved out are copied out instead (copyout.c).
 *
 * Ordering rules:
 *  - A victim is owned by the thread that moved it RESIDENT -> EVICTING;
 *    a fault on it is dropped by the handler that reads it (as for a
 *    FILLING page) and the owner wakes the page once it is EMPTY again or
 *    back to RESIDENT. The owner lets go only after the store has the
 *    page's bytes: a refetch must never read what was there before.
 *  - The move out is the atomic step: from then on an application access
 *    faults, so a write cannot slip in between the dirty check and the
 *    page leaving. The dirty check is therefore made on the moved page,
 *    in the staging slot, by comparing its hash with the hash of what the
 *    store holds (set by the fill, and by a sync's write).
 *  - A page a sync is writing is SYNCING, never a victim: the sync's write
 *    of older bytes could otherwise land after the eviction's write of
 *    newer ones.
 *  - Staging slots must be empty for a move into them. They are registered
 *    on pool_um only, which reports no events, so emptying them with
 *    MADV_DONTNEED cannot block on a REMOVE event no one reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "region.h"

#define UM_EVICT_BATCH 64 /* victims per call, and evict_area pages */

/* ---- charge ------------------------------------------------------------- */

/*
 * The process-wide limit (umove_set_global_limit) and what all regions
 * hold, in pages: with region.c's live list, the library's only state
 * outside its handles (umove(7)).
 */
static _Atomic size_t global_limit, global_charged;

static void charge(struct umove_region *r, uint8_t from, uint8_t to)
{
	bool was = um_charged(from), is = um_charged(to);

	if (is && !was) {
		atomic_fetch_add(&r->charged, 1);
		atomic_fetch_add(&global_charged, 1);
	} else if (was && !is) {
		atomic_fetch_sub(&r->charged, 1);
		atomic_fetch_sub(&global_charged, 1);
	}
}

/* Pages over the process-wide limit, at most max; 0 without a limit. */
size_t um_global_excess(size_t max)
{
	size_t limit = atomic_load(&global_limit);
	size_t charged = atomic_load(&global_charged);

	if (!limit || charged <= limit)
		return 0;
	return charged - limit < max ? charged - limit : max;
}

void um_state_set(struct umove_region *r, size_t p, size_t n, uint8_t to)
{
	for (size_t i = 0; i < n; i++)
		charge(r, atomic_exchange(&r->state[p + i], to), to);
}

bool um_state_cas(struct umove_region *r, size_t p, uint8_t from, uint8_t to)
{
	uint8_t expect = from;

	if (!atomic_compare_exchange_strong(&r->state[p], &expect, to))
		return false;
	charge(r, from, to);
	return true;
}

/* ---- page hashes -------------------------------------------------------- */

void um_hash_pages(struct umove_region *r, size_t p, size_t n, const char *buf)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(
			&r->hash[p + i],
			um_page_hash(buf + i * r->page_size, r->page_size),
			memory_order_relaxed);
}

/* ---- setup -------------------------------------------------------------- */

int um_register_staging(struct umove_region *r, void *staging, size_t pages)
{
	if (!r->pool_um)
		return 0;
	return umove_register(r->pool_um, staging, pages * r->page_size,
			      UMOVE_REGISTER_WP);
}

static size_t evict_area_len(const struct umove_region *r)
{
	return UM_EVICT_BATCH * r->page_size;
}

static void evict_area_free(struct umove_region *r)
{
	if (r->evict_area)
		munmap(r->evict_area, evict_area_len(r));
	r->evict_area = NULL;
}

/* A second userfaultfd that staging is registered on, for moves into it. */
static void open_pool(struct umove_region *r)
{
	if (!umove_native_move(r->um))
		return;
	if (!umove_open_features(&r->pool_um, 0, 0) &&
	    umove_native_move(r->pool_um))
		return;
	umove_close(r->pool_um);
	r->pool_um = NULL;
}

/*
 * Eviction needs a way out for victims: UFFDIO_MOVE into staging pages,
 * or copy-out (a region registered for write-protection). A region with
 * neither refuses a limit (EOPNOTSUPP). The evict_area holds the victims
 * of evictions outside the handlers.
 */
int um_evict_setup(struct umove_region *r)
{
	r->ref = calloc(r->npages, sizeof(*r->ref));
	r->hash = calloc(r->npages, sizeof(*r->hash));
	if (!r->ref || !r->hash)
		return -ENOMEM;
	open_pool(r);
	if (!um_can_evict(r))
		return 0;
	r->evict_area = mmap(NULL, evict_area_len(r), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->evict_area == MAP_FAILED) {
		r->evict_area = NULL;
		return -ENOMEM;
	}
	madvise(r->evict_area, evict_area_len(r), MADV_DONTFORK);
	madvise(r->evict_area, evict_area_len(r), MADV_NOHUGEPAGE);
	if (!um_register_staging(r, r->evict_area, UM_EVICT_BATCH))
		return 0;
	/* A kernel that cannot write-protect anonymous memory: no pool. */
	umove_close(r->pool_um);
	r->pool_um = NULL;
	return 0;
}

void um_evict_teardown(struct umove_region *r)
{
	evict_area_free(r);
	umove_close(r->pool_um);
	r->pool_um = NULL;
	free(r->ref);
	free(r->hash);
}

/* ---- victims ------------------------------------------------------------ */

/*
 * CLOCK over the region's pages: the hand passes RESIDENT pages; one
 * filled since the hand last passed it gets a second chance. A userfaultfd
 * reports no accesses to present pages, so "filled" is the only reference
 * bit there is: the order is close to FIFO. Two sweeps without a victim
 * mean every page is busy (filling, evicting, syncing): give up.
 */
static size_t pick(struct umove_region *r, size_t *v, size_t max)
{
	size_t n = 0;

	for (size_t seen = 0; n < max && seen < 2 * r->npages; seen++) {
		size_t p = atomic_fetch_add(&r->hand, 1) % r->npages;

		if (atomic_load(&r->state[p]) != UM_RESIDENT)
			continue;
		if (atomic_exchange(&r->ref[p], 0))
			continue;
		if (um_state_cas(r, p, UM_RESIDENT, UM_EVICTING))
			v[n++] = p;
	}
	return n;
}

static uintptr_t page_addr(const struct umove_region *r, size_t p)
{
	return (uintptr_t)r->base + p * r->page_size;
}

/*
 * Move one victim into its slot. A slot is never emptied here: if it is
 * occupied (EEXIST: the emptying before failed), the victim stays. A page
 * the kernel will not move (EBUSY: pinned, KSM) is left for copy-out.
 */
static enum um_fate move_one(struct umove_region *r, struct umove *pool,
			     char *slot, size_t p, struct um_counters *c)
{
	ssize_t got =
		umove_move(pool, slot, (void *)page_addr(r, p), r->page_size,
			   UMOVE_DONTWAKE | UMOVE_DST_EMPTY);

	if (got > 0)
		return UM_MOVED;
	if (got == -ENOENT)
		return UM_ABSENT; /* discarded by the application */
	if (got == -EBUSY)
		return UM_BUSY;
	/* EINVAL: an mlocked region; EEXIST: an occupied slot. Keep it. */
	atomic_fetch_add_explicit(&c->evict_busy, 1, memory_order_relaxed);
	return UM_KEPT;
}

/* Move a run of victims out with one call, page by page if that fails. */
static void move_run(struct umove_region *r, struct umove *pool, char *slots,
		     const size_t *v, size_t k, enum um_fate *fate,
		     struct um_counters *c)
{
	ssize_t got =
		umove_move(pool, slots, (void *)page_addr(r, v[0]),
			   k * r->page_size, UMOVE_DONTWAKE | UMOVE_DST_EMPTY);
	size_t done = got > 0 ? (size_t)got / r->page_size : 0;

	for (size_t i = 0; i < done; i++)
		fate[i] = UM_MOVED;
	for (size_t i = done; i < k; i++)
		fate[i] = move_one(r, pool, slots + i * r->page_size, v[i], c);
}

/* The runs of consecutive victims, each moved out with one call. */
static void move_out(struct umove_region *r, const struct um_slots *to,
		     const size_t *v, size_t n, enum um_fate *fate,
		     struct um_counters *c)
{
	size_t i = 0;

	/* Slots may hold pages from the last fetch (COPY fill) or eviction. */
	madvise(to->slots, n * r->page_size, MADV_DONTNEED);
	while (i < n) {
		size_t k = 1;

		while (i + k < n && v[i + k] == v[i] + k)
			k++;
		move_run(r, to->pool, to->slots + i * r->page_size, v + i, k,
			 fate + i, c);
		i += k;
	}
}

/*
 * A write-back failed: the pages go back where they were, still changed,
 * so nothing is lost; the error shows in write_errors. A moved page that
 * cannot go back lost its address (the application unmapped it
 * meanwhile); a copied one is still there, write-protected.
 */
static void keep(struct umove_region *r, const struct um_slots *to,
		 const char *slot, size_t p, enum um_fate fate)
{
	void *dst = (void *)page_addr(r, p);

	if (fate == UM_COPIED) {
		um_unprotect(r, to, p, 1);
		um_state_cas(r, p, UM_EVICTING, UM_RESIDENT);
	} else if (umove_move(r->um, dst, (void *)slot, r->page_size,
			      UMOVE_DONTWAKE | UMOVE_DST_EMPTY) > 0 ||
		   umove_copy(r->um, dst, slot, r->page_size, UMOVE_DONTWAKE) >
			   0) {
		um_state_cas(r, p, UM_EVICTING, UM_RESIDENT);
	} else {
		um_state_cas(r, p, UM_EVICTING, UM_EMPTY);
	}
}

static bool changed(const struct umove_region *r, const char *slot, size_t p,
		    enum um_fate fate)
{
	return (fate == UM_MOVED || fate == UM_COPIED) &&
	       um_page_hash(slot, r->page_size) !=
		       atomic_load_explicit(&r->hash[p], memory_order_relaxed);
}

/* Writes n pages of victims, counted: 0 or the store's error. */
static int write_pages(struct umove_region *r, const char *slots, size_t p,
		       size_t n, struct um_counters *c)
{
	int err = um_store_write(r->store, r->first + p, n, slots);

	if (err) {
		atomic_fetch_add(&c->write_errors, 1);
		return err;
	}
	atomic_fetch_add(&c->bytes_written, n * r->page_size);
	atomic_fetch_add(&c->evict_writes, n);
	return 0;
}

/*
 * Write back the changed pages among the run v[0..k), whose bytes are in
 * slots; ok[j] says whether page j is safe (clean, or written). A run of
 * changed pages goes in one write; if that fails, page by page, so that
 * one page the store refuses (a server of a pool that is down) keeps only
 * itself resident. Returns the first write error.
 */
static int write_changed(struct umove_region *r, const char *slots,
			 const size_t *v, size_t k, const enum um_fate *fate,
			 bool *ok, struct um_counters *c)
{
	int first_err = 0;
	size_t i = 0;

	for (size_t j = 0; j < k; j++)
		ok[j] = !changed(r, slots + j * r->page_size, v[j], fate[j]);
	while (i < k) {
		size_t n = 0;
		int err;

		while (i + n < k && !ok[i + n])
			n++;
		if (!n) {
			i++;
			continue;
		}
		err = write_pages(r, slots + i * r->page_size, v[i], n, c);
		for (size_t j = i; j < i + n; j++) {
			int e = err && n > 1
					? write_pages(r,
						      slots + j * r->page_size,
						      v[j], 1, c)
					: err;

			ok[j] = !e;
			if (e && !first_err)
				first_err = e;
		}
		i += n;
	}
	return first_err;
}

/*
 * Let every victim of the run go, once its bytes are safe: a moved or
 * absent page is EMPTY now, copied ones are discarded (a run of them at a
 * time), a kept or unsafe one is RESIDENT again. Returns the pages that
 * left.
 */
static size_t let_go_run(struct umove_region *r, const struct um_slots *to,
			 const char *slots, const size_t *v, size_t k,
			 const enum um_fate *fate, const bool *ok,
			 struct um_counters *c)
{
	size_t freed = 0, i = 0;

	while (i < k) {
		size_t n = 1;

		if (fate[i] == UM_COPIED && ok[i]) {
			while (i + n < k && fate[i + n] == UM_COPIED &&
			       ok[i + n])
				n++;
			freed += um_discard(r, to, v[i], n, c);
		} else if (fate[i] == UM_KEPT) {
			um_state_cas(r, v[i], UM_EVICTING, UM_RESIDENT);
		} else if (!ok[i]) {
			keep(r, to, slots + i * r->page_size, v[i], fate[i]);
		} else {
			freed += um_state_cas(r, v[i], UM_EVICTING, UM_EMPTY);
		}
		i += n;
	}
	return freed;
}

/* The leading slots that kept the page moved into them: a fill can move it. */
static size_t recycled_slots(const enum um_fate *fate, const bool *ok, size_t n)
{
	size_t k = 0;

	while (k < n && fate[k] == UM_MOVED && ok[k])
		k++;
	return k;
}

/*
 * Evict the n victims v of region r (ascending runs; each already
 * EVICTING, owned by the caller) into the slots of to, which may belong to
 * another region: moved out where the kernel can, copied out where it
 * cannot (copyout.c). Returns the number of pages that left; *err gets the
 * first write-back error.
 */
static size_t evict_victims(struct umove_region *r, const struct um_slots *to,
			    const size_t *v, size_t n, struct um_counters *c,
			    int *err)
{
	enum um_fate fate[UM_EVICT_BATCH];
	bool ok[UM_EVICT_BATCH];
	size_t i = 0, freed = 0;

	if (to->pool && !(r->cfg.flags & UMOVE_EVICT_COPY))
		move_out(r, to, v, n, fate, c);
	else
		for (size_t j = 0; j < n; j++)
			fate[j] = UM_BUSY;
	if (r->mem_fd >= 0)
		um_copy_victims(r, to, v, n, fate, c);
	for (size_t j = 0; j < n; j++)
		if (fate[j] == UM_BUSY) {
			fate[j] = UM_KEPT;
			atomic_fetch_add(&c->evict_busy, 1);
		}
	while (i < n) {
		size_t k = 1;
		char *slots = to->slots + i * r->page_size;
		int e;

		while (i + k < n && v[i + k] == v[i] + k)
			k++;
		e = write_changed(r, slots, v + i, k, fate + i, ok + i, c);
		if (e && err && !*err)
			*err = e;
		freed +=
			let_go_run(r, to, slots, v + i, k, fate + i, ok + i, c);
		/* Faults that arrived meanwhile were dropped: retry them. */
		umove_wake(r->um, (void *)page_addr(r, v[i]), k * r->page_size);
		i += k;
	}
	if (to->w)
		to->w->recycled = recycled_slots(fate, ok, n);
	atomic_fetch_add(&c->pages_evicted, freed);
	return freed;
}

/*
 * Evict up to max pages (at most UM_EVICT_BATCH) of r, chosen by the
 * clock, into the slots of to.
 */
size_t um_evict(struct umove_region *r, const struct um_slots *to, size_t max,
		struct um_counters *c, int *err)
{
	size_t v[UM_EVICT_BATCH], n;

	n = pick(r, v, max > UM_EVICT_BATCH ? UM_EVICT_BATCH : max);
	return n ? evict_victims(r, to, v, n, c, err) : 0;
}

/* The slots of a region's evict_area (evict_lock held). */
static struct um_slots area_slots(struct umove_region *r)
{
	return (struct um_slots){r->pool_um, r->evict_area, NULL};
}

/*
 * Evict the resident pages of [p, p+n) (UMOVE_ADV_DONTNEED). Pages in
 * flight are left alone. 0, or the first write-back error.
 */
int um_evict_range(struct umove_region *r, size_t p, size_t n)
{
	size_t v[UM_EVICT_BATCH];
	int err = 0;

	if (!um_can_evict(r))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&r->evict_lock);
	while (n) {
		size_t k = 0;

		for (; n && k < UM_EVICT_BATCH; p++, n--)
			if (um_state_cas(r, p, UM_RESIDENT, UM_EVICTING))
				v[k++] = p;
		if (k) {
			struct um_slots to = area_slots(r);

			evict_victims(r, &to, v, k, &r->evict_c, &err);
		}
	}
	pthread_mutex_unlock(&r->evict_lock);
	return err;
}

/*
 * Evict up to max pages for the process-wide limit from the region that
 * holds the most. With to (a handler's staging), the pages land there, to
 * be reused by its fetch; without, in the victim region's evict_area.
 */
size_t um_evict_global(struct umove_region *self, const struct um_slots *to,
		       struct um_counters *self_c, size_t max)
{
	struct umove_region *q = um_region_hold_largest();
	struct um_counters *c;
	size_t got;

	if (!q)
		return 0;
	c = q == self ? self_c : &q->evict_c;
	if (to) {
		got = um_evict(q, to, max, c, NULL);
	} else {
		struct um_slots area;

		pthread_mutex_lock(&q->evict_lock);
		area = area_slots(q);
		got = um_evict(q, &area, max, c, NULL);
		pthread_mutex_unlock(&q->evict_lock);
	}
	um_region_put(q);
	return got;
}

int umove_set_global_limit(size_t bytes)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), pages = bytes / ps;

	if (bytes && bytes < ps)
		return -EINVAL;
	atomic_store(&global_limit, pages);
	while (um_global_excess(SIZE_MAX))
		if (!um_evict_global(NULL, NULL, NULL,
				     um_global_excess(UM_EVICT_BATCH)))
			return -EBUSY;
	return 0;
}

size_t umove_global_resident(void)
{
	return atomic_load(&global_charged) * (size_t)sysconf(_SC_PAGESIZE);
}

/* UMOVE_ADV_COLD: no second chance, and the hand goes there next. */
void um_mark_cold(struct umove_region *r, size_t p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store(&r->ref[p + i], 0);
	atomic_store(&r->hand, p);
}

/*
 * Evict until at most target pages are charged, from a thread that is
 * not a handler (umove_region_set_limit, advice). 0, the first write-back
 * error, or EBUSY when the remaining pages cannot be evicted now.
 */
int um_evict_to(struct umove_region *r, size_t target)
{
	int err = 0;

	if (!um_can_evict(r))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&r->evict_lock);
	while (atomic_load(&r->charged) > target) {
		size_t need = atomic_load(&r->charged) - target;
		struct um_slots to = area_slots(r);

		if (!um_evict(r, &to, need, &r->evict_c, &err))
			break;
	}
	pthread_mutex_unlock(&r->evict_lock);
	if (atomic_load(&r->charged) <= target)
		return 0;
	return err ? err : -EBUSY;
}
