/* SPDX-License-Identifier: MIT */
/*
 * Regions and their fault service, shared by region.c (lifecycle, sync,
 * statistics) and fault.c (the handler threads).
 */
#ifndef UM_REGION_H
#define UM_REGION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"
#include "store.h"

/*
 * Page states. Transitions (all by compare-and-swap or exchange on the
 * state byte, through um_state_cas/um_state_set, which keep the charge):
 *   EMPTY -> FILLING       a handler claims the page for a fill
 *   FILLING -> RESIDENT    installed (or found installed: EEXIST)
 *   FILLING -> EMPTY       the fill failed and may be retried
 *   FILLING -> POISONED    the fill can never succeed: accesses SIGBUS
 *   RESIDENT -> EMPTY      the application discarded it (MADV_DONTNEED)
 *   RESIDENT -> EVICTING   chosen as a victim (evict.c)
 *   EVICTING -> EMPTY      moved out and, if changed, written back
 *   EVICTING -> RESIDENT   could not be moved out, or written back
 *   RESIDENT|EMPTY -> SYNCING -> RESIDENT   a sync is writing it back
 *   any -> GONE            the application unmapped or moved it away
 * A page in FILLING, RESIDENT, EVICTING or SYNCING is charged against the
 * resident limit; a fault on a FILLING or EVICTING page waits for the
 * thread that owns it, which wakes the page when it lets go.
 */
enum um_page_state {
	UM_EMPTY = 0,
	UM_FILLING,
	UM_RESIDENT,
	UM_EVICTING,
	UM_POISONED,
	UM_GONE,
	UM_SYNCING,
};

static inline bool um_charged(uint8_t s)
{
	return s == UM_FILLING || s == UM_RESIDENT || s == UM_EVICTING ||
	       s == UM_SYNCING;
}

struct umove_region_config {
	unsigned threads;
	unsigned readahead;
	unsigned retries;
	unsigned flags;
	int fill;
	size_t limit; /* bytes; 0: no limit */
};

/*
 * Where an eviction puts its victims: staging pages registered on pool,
 * moved into (native) or copied into (copy-out), one per victim. w is the
 * handler evicting, NULL for another thread: a handler that must wait for
 * events to be read reads them itself (see copyout.c).
 */
struct um_slots {
	struct umove *pool;
	char *slots;
	struct um_worker *w;
};

/* Counters written by one thread only, read by umove_region_stats. */
struct um_counters {
#define UM_COUNTER(name, doc) _Atomic uint64_t name;
	UMOVE_STATS_COUNTERS(UM_COUNTER)
#undef UM_COUNTER
	_Atomic uint64_t hist[UM_HIST_BUCKETS];
};

struct um_worker {
	struct umove_region *region;
	pthread_t thread;
	char *staging;	       /* (1 + readahead) pages */
	struct um_slots slots; /* staging as eviction slots */
	/* Leading staging pages holding a page the last eviction moved out. */
	size_t recycled;
	struct um_counters c;
	/*
	 * Odd while the handler holds messages it has read but not applied.
	 * The kernel lets an application's munmap return once its event is
	 * read, not applied: sync and unmap wait for each busy handler's epoch
	 * to move on before trusting page states (um_workers_quiesce).
	 */
	atomic_uint epoch;
};

struct umove_region {
	struct umove *um; /* this region's own userfaultfd */
	struct umove_store *store;
	uint64_t first; /* store page of region page 0 */
	char *base;
	size_t len, npages, page_size;
	_Atomic uint8_t *state; /* enum um_page_state per page */
	struct umove_region_config cfg;
	int fill;	    /* UMOVE_FILL_MOVE or UMOVE_FILL_COPY */
	bool move_recycled; /* AUTO: move a run whose staging was recycled */
	int stop_fd;	    /* eventfd: readable once unmap begins */
	unsigned nworkers;
	struct um_worker *workers;
	pthread_mutex_t sync_lock;	/* one sync at a time; guards sync_c */
	struct um_counters sync_c;	/* counters of sync and unmap */
	struct umove_region *live_next; /* the live list; see region.c */
	atomic_uint users; /* other regions' evictions in progress here */

	/*
	 * The resident limit (evict.c). Eviction moves victims out of the
	 * region into empty staging pages, which the next fetch reads into:
	 * recycled pages. UFFDIO_MOVE needs its destination registered on the
	 * userfaultfd it is called on, so the staging areas are registered
	 * (write-protect mode only, never protected: a handler's own read into
	 * an empty staging page must not fault to itself) on pool_um, a second
	 * userfaultfd without events. NULL: no native move, no eviction.
	 */
	struct umove *pool_um;
	_Atomic size_t limit;	/* pages; 0: no limit */
	_Atomic size_t charged; /* pages in a charged state (um_charged) */
	_Atomic size_t hand;	/* the clock hand: next page to consider */
	_Atomic uint8_t *ref;	/* per page: filled since the hand passed */
	/*
	 * Per page, a hash of the contents the store holds for it (set by a
	 * fill and by a sync's write): a page whose hash still matches is
	 * clean, and is dropped on eviction without a write.
	 */
	_Atomic uint64_t *hash;
	pthread_mutex_t evict_lock; /* guards evict_area and evict_c */
	char *evict_area;	    /* staging for evictions outside handlers */
	struct um_counters evict_c;

	/*
	 * Eviction by copy-out (copyout.c), where a page cannot be moved out:
	 * without UFFDIO_MOVE, for pages the kernel will not move (pinned,
	 * KSM), and for UMOVE_EVICT_COPY. Needs the region registered for
	 * write-protection too (wp) and /proc/self/mem (mem_fd).
	 */
	bool wp;
	int mem_fd; /* -1: no copy-out */
};

/* The region can evict: by move, or by copy-out. */
static inline bool um_can_evict(const struct umove_region *r)
{
	return r->pool_um || r->mem_fd >= 0;
}

/* evict.c */
void um_state_set(struct umove_region *r, size_t p, size_t n, uint8_t to);
bool um_state_cas(struct umove_region *r, size_t p, uint8_t from, uint8_t to);
void um_hash_pages(struct umove_region *r, size_t p, size_t n, const char *buf);
int um_evict_setup(struct umove_region *r);
void um_evict_teardown(struct umove_region *r);
int um_register_staging(struct umove_region *r, void *staging, size_t pages);
size_t um_evict(struct umove_region *r, const struct um_slots *to, size_t max,
		struct um_counters *c, int *err);
int um_evict_to(struct umove_region *r, size_t target);
int um_evict_range(struct umove_region *r, size_t p, size_t n);
size_t um_global_excess(size_t max);
size_t um_evict_global(struct umove_region *self, const struct um_slots *to,
		       struct um_counters *self_c, size_t max);

/* copyout.c */
enum um_fate { UM_KEPT, UM_MOVED, UM_ABSENT, UM_BUSY, UM_COPIED };
void um_copyout_setup(struct umove_region *r);
void um_copyout_teardown(struct umove_region *r);
void um_copy_victims(struct umove_region *r, const struct um_slots *to,
		     const size_t *v, size_t n, enum um_fate *fate,
		     struct um_counters *c);
void um_unprotect(struct umove_region *r, const struct um_slots *to, size_t p,
		  size_t n);
size_t um_discard(struct umove_region *r, const struct um_slots *to, size_t p,
		  size_t n, struct um_counters *c);

/* region.c */
struct umove_region *um_region_hold_largest(void);
void um_region_put(struct umove_region *r);
void um_mark_cold(struct umove_region *r, size_t p, size_t n);

/* fault.c */
int um_workers_start(struct umove_region *r);
void um_workers_stop(struct umove_region *r);
void um_workers_quiesce(struct umove_region *r);
void um_worker_drain(struct um_worker *w, int timeout_ms);

#endif /* UM_REGION_H */
