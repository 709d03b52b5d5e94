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
 * Page states. Transitions (all by compare-and-swap on the state byte):
 *   EMPTY -> FILLING       a handler claims the page for a fill
 *   FILLING -> RESIDENT    installed (or found installed: EEXIST)
 *   FILLING -> EMPTY       the fill failed and may be retried
 *   FILLING -> POISONED    the fill can never succeed: accesses SIGBUS
 *   RESIDENT -> EMPTY      the application discarded it (MADV_DONTNEED)
 *   any -> GONE            the application unmapped or moved it away
 * EVICTING is reserved for the resident limit (RESIDENT -> EVICTING -> EMPTY).
 */
enum um_page_state {
	UM_EMPTY = 0,
	UM_FILLING,
	UM_RESIDENT,
	UM_EVICTING,
	UM_POISONED,
	UM_GONE,
};

struct umove_region_config {
	unsigned threads;
	unsigned readahead;
	unsigned retries;
	unsigned flags;
	int fill;
};

/* Fill latency histogram: 4 buckets per power of two of nanoseconds. */
#define UM_HIST_BUCKETS 160

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
	char *staging; /* (1 + readahead) pages, MADV_DONTFORK */
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
	int fill;    /* UMOVE_FILL_MOVE or UMOVE_FILL_COPY */
	int stop_fd; /* eventfd: readable once unmap begins */
	unsigned nworkers;
	struct um_worker *workers;
	pthread_mutex_t sync_lock;	/* one sync at a time; guards sync_c */
	struct um_counters sync_c;	/* counters of sync and unmap */
	struct umove_region *live_next; /* the live list; see region.c */
};

/* fault.c */
int um_workers_start(struct umove_region *r);
void um_workers_stop(struct umove_region *r);
void um_workers_quiesce(struct umove_region *r);
void um_hist_add(struct um_counters *c, uint64_t ns);
uint64_t um_hist_quantile(const uint64_t *hist, double q);

#endif /* UM_REGION_H */
