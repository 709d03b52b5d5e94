/* SPDX-License-Identifier: MIT */
/*
 * umove - user-space paging on Linux with zero-copy page moves.
 *
 * The whole public API. Handles are opaque; every function that can fail
 * returns 0 (or a byte count) on success and a negative errno on failure,
 * and never touches the global errno as its way of reporting.
 */
#ifndef UMOVE_H
#define UMOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UMOVE_VERSION_MAJOR 0
#define UMOVE_VERSION_MINOR 1

/* One userfaultfd with its negotiated features. Thread-safe: any number of
 * threads may move, wake and (un)register through one handle at once. */
struct umove;

/* umove_open() flags. */
#define UMOVE_EMULATE \
	(1u << 0) /* use the emulated move even if native exists */
/*
 * umove_region_config_set_flags() only: evict by copying pages out and
 * discarding them, as eviction does anyway where pages cannot be moved
 * (fresh pages for the next fills). For comparison (`umove bench evict`).
 */
#define UMOVE_EVICT_COPY (1u << 1)

/*
 * Features of a userfaultfd. The values are the kernel's UFFD_FEATURE_* bits,
 * so they can be compared with <linux/userfaultfd.h> where that is included.
 */
#define UMOVE_FEATURE_PAGEFAULT_FLAG_WP (1ull << 0)
#define UMOVE_FEATURE_EVENT_FORK (1ull << 1)
#define UMOVE_FEATURE_EVENT_REMAP (1ull << 2)
#define UMOVE_FEATURE_EVENT_REMOVE (1ull << 3)
#define UMOVE_FEATURE_MISSING_HUGETLBFS (1ull << 4)
#define UMOVE_FEATURE_MISSING_SHMEM (1ull << 5)
#define UMOVE_FEATURE_EVENT_UNMAP (1ull << 6)
#define UMOVE_FEATURE_SIGBUS (1ull << 7)
#define UMOVE_FEATURE_THREAD_ID (1ull << 8)
#define UMOVE_FEATURE_MINOR_HUGETLBFS (1ull << 9)
#define UMOVE_FEATURE_MINOR_SHMEM (1ull << 10)
#define UMOVE_FEATURE_EXACT_ADDRESS (1ull << 11)
#define UMOVE_FEATURE_WP_HUGETLBFS_SHMEM (1ull << 12)
#define UMOVE_FEATURE_WP_UNPOPULATED (1ull << 13)
#define UMOVE_FEATURE_POISON (1ull << 14)
#define UMOVE_FEATURE_WP_ASYNC (1ull << 15)
#define UMOVE_FEATURE_MOVE (1ull << 16)
#define UMOVE_FEATURE_COUNT 17

/*
 * Features that change how the userfaultfd behaves (events that block the
 * process until they are read, SIGBUS instead of fault events, asynchronous
 * write protection). umove_open() never asks for them; ask with
 * umove_open_features(). All other features umove_open() requests whenever
 * the kernel has them.
 */
#define UMOVE_FEATURES_BEHAVIOURAL                                \
	(UMOVE_FEATURE_EVENT_FORK | UMOVE_FEATURE_EVENT_REMAP |   \
	 UMOVE_FEATURE_EVENT_REMOVE | UMOVE_FEATURE_EVENT_UNMAP | \
	 UMOVE_FEATURE_SIGBUS | UMOVE_FEATURE_WP_UNPOPULATED |    \
	 UMOVE_FEATURE_WP_ASYNC)

/* How a userfaultfd was (or can be) opened. */
enum umove_via {
	UMOVE_VIA_SYSCALL = 1,	 /* userfaultfd(2), kernel-mode faults too */
	UMOVE_VIA_DEVICE = 2,	 /* /dev/userfaultfd (Linux 6.1+) */
	UMOVE_VIA_USER_ONLY = 3, /* userfaultfd(2) with UFFD_USER_MODE_ONLY */
};

/* Capabilities of the running system, probed once per handle. */
#define UMOVE_CAP_NATIVE_MOVE (1u << 0)	 /* UFFDIO_MOVE (Linux 6.8+) */
#define UMOVE_CAP_POISON (1u << 1)	 /* UFFDIO_POISON (Linux 6.6+) */
#define UMOVE_CAP_WP_ASYNC (1u << 2)	 /* UFFD_FEATURE_WP_ASYNC (6.7+) */
#define UMOVE_CAP_PAGEMAP_SCAN (1u << 3) /* PAGEMAP_SCAN ioctl (6.7+) */
#define UMOVE_CAP_THP (1u << 4)		 /* transparent huge pages usable */

/* umove_register() modes. */
#define UMOVE_REGISTER_MISSING (1u << 0) /* report faults on missing pages */
#define UMOVE_REGISTER_WP (1u << 1)	 /* report writes to protected pages */
#define UMOVE_REGISTER_MINOR (1u << 2)	 /* minor faults (shmem, hugetlbfs) */

/* umove_move() flags. */
#define UMOVE_DONTWAKE (1u << 0) /* do not wake threads faulting on dst */
#define UMOVE_ALLOW_SRC_HOLES (1u << 1) /* a hole in src moves as a hole */
/*
 * The caller vouches that dst holds no page: umove skips the snapshot it
 * otherwise takes to count what Linux 6.18 moved without reporting it
 * (umove_move(3), RETURN VALUE).
 */
#define UMOVE_DST_EMPTY (1u << 3)

/* umove_copy() flags (UMOVE_DONTWAKE applies too). */
#define UMOVE_COPY_WP (1u << 2) /* install the copy write-protected */

/* Open and close. */
int umove_open(struct umove **out, unsigned flags);
int umove_open_features(struct umove **out, unsigned flags, uint64_t extra);
void umove_close(struct umove *um);

/* What a handle is. */
int umove_fd(const struct umove *um);
uint64_t umove_features(const struct umove *um);
bool umove_native_move(const struct umove *um);
unsigned umove_caps(const struct umove *um);
int umove_via(const struct umove *um);

/* Probes that need no handle. */
int umove_probe_features(uint64_t *supported);
int umove_check_via(int via);
const char *umove_feature_name(uint64_t feature);

/* Ranges. */
int umove_register(struct umove *um, void *addr, size_t len, unsigned mode);
int umove_unregister(struct umove *um, void *addr, size_t len);

/* The move contract (see umove_move(3)). */
ssize_t umove_move(struct umove *um, void *dst, void *src, size_t len,
		   unsigned flags);
int umove_move_all(struct umove *um, void *dst, void *src, size_t len,
		   unsigned flags, size_t *moved);
int umove_wake(struct umove *um, void *addr, size_t len);

/* Fill dst by copying (UFFDIO_COPY); src is left as it was. */
ssize_t umove_copy(struct umove *um, void *dst, const void *src, size_t len,
		   unsigned flags);

/*
 * Stores: where a region's pages live when they are not resident. A store
 * is an array of pages of the system page size, addressed by index.
 */
struct umove_store;

/* A store of your own. Every callback returns 0 or a negative errno. */
struct umove_store_ops {
	/* Fill buf (page aligned, count pages) with pages index.. */
	int (*read)(void *priv, uint64_t index, size_t count, void *buf);
	/* Store count pages from buf at index; NULL for a read-only store. */
	int (*write)(void *priv, uint64_t index, size_t count, const void *buf);
	/* Make written pages durable; may be NULL. */
	int (*sync)(void *priv);
	/* Release priv; may be NULL. */
	void (*close)(void *priv);
};

/* umove_store_file() and umove_store_memcached() flags. */
#define UMOVE_STORE_RDONLY (1u << 0)   /* open the file read-only */
#define UMOVE_STORE_BUFFERED (1u << 1) /* never use O_DIRECT */
#define UMOVE_STORE_QUIET (1u << 2)    /* memcached: no warnings on stderr */

int umove_store_open(struct umove_store **out,
		     const struct umove_store_ops *ops, size_t ops_size,
		     void *priv, uint64_t pages);
int umove_store_file(struct umove_store **out, const char *path,
		     unsigned flags);
int umove_store_mem(struct umove_store **out, uint64_t pages, unsigned flags);
/*
 * A store on a pool of memcached servers, from a spec such as
 * "memcached://127.0.0.1:11211,127.0.0.1:11212?replicas=1&namespace=job42"
 * (umove_store_memcached(3) has the grammar). why, if not NULL, gets a
 * sentence on what went wrong (the bad part of the spec, the server that
 * does not answer).
 */
int umove_store_memcached(struct umove_store **out, const char *spec,
			  unsigned flags, char *why, size_t why_len);

/* What a memcached store has done since it was opened. */
#define UMOVE_POOL_STATS_COUNTERS(X)                                        \
	X(round_trips, "requests answered or failed, one per multi-get")    \
	X(mgets, "multi-gets sent")                                         \
	X(mget_keys, "keys asked for in them")                              \
	X(sets, "page copies written, one server each")                     \
	X(bytes_sent, "bytes sent: keys, values, 24-byte headers")          \
	X(bytes_received, "bytes received: keys, values, 24-byte headers")  \
	X(failovers, "pages read from a later copy after the first failed") \
	X(misses, "keys a server answered it does not hold")                \
	X(corrupt, "values of the wrong size or failing their check")       \
	X(read_failures, "multi-gets a server failed: timeout, connection") \
	X(write_failures, "page copies a server did not take")

struct umove_pool_stats {
	uint32_t size;	  /* sizeof(struct umove_pool_stats) of the caller */
	uint32_t version; /* UMOVE_POOL_STATS_VERSION */
#define UMOVE_POOL_STATS_FIELD(name, doc) uint64_t name;
	UMOVE_POOL_STATS_COUNTERS(UMOVE_POOL_STATS_FIELD)
#undef UMOVE_POOL_STATS_FIELD
	uint64_t rtt_ns_p50; /* round trip, median */
	uint64_t rtt_ns_p99; /* round trip, 99th percentile */
	uint32_t servers, replicas;
};
#define UMOVE_POOL_STATS_VERSION 1

int umove_store_memcached_stats(const struct umove_store *st,
				struct umove_pool_stats *out);
uint64_t umove_store_pages(const struct umove_store *st);
int umove_store_read(struct umove_store *st, uint64_t index, size_t count,
		     void *buf);
int umove_store_write(struct umove_store *st, uint64_t index, size_t count,
		      const void *buf);
int umove_store_sync(struct umove_store *st);
int umove_store_close(struct umove_store *st);

/*
 * Regions: an mmap-like range whose pages are fetched from a store on first
 * touch by handler threads, installed by a move (or a copy), and written
 * back by umove_region_sync() and umove_unmap().
 */
struct umove_region;
struct umove_region_config;

/* How fetched pages are installed. */
enum umove_fill {
	UMOVE_FILL_AUTO = 0, /* the faster one measured: COPY (BENCHMARKS.md) */
	UMOVE_FILL_MOVE = 1, /* UFFDIO_MOVE, or its emulation */
	UMOVE_FILL_COPY = 2, /* UFFDIO_COPY */
};

int umove_region_config_new(struct umove_region_config **out);
void umove_region_config_free(struct umove_region_config *cfg);
int umove_region_config_set_threads(struct umove_region_config *cfg,
				    unsigned threads);
int umove_region_config_set_readahead(struct umove_region_config *cfg,
				      unsigned pages);
int umove_region_config_set_fill(struct umove_region_config *cfg, int fill);
int umove_region_config_set_flags(struct umove_region_config *cfg,
				  unsigned flags);
int umove_region_config_set_retries(struct umove_region_config *cfg,
				    unsigned retries);
int umove_region_config_set_limit(struct umove_region_config *cfg,
				  size_t bytes);

int umove_map(struct umove_region **out, struct umove_store *st,
	      uint64_t first_page, size_t len,
	      const struct umove_region_config *cfg);
void *umove_region_addr(const struct umove_region *r);
size_t umove_region_len(const struct umove_region *r);
int umove_region_sync(struct umove_region *r);
int umove_unmap(struct umove_region *r);
int umove_unmap_discard(struct umove_region *r);

/* The resident limit (0: none), changed at run time; what is resident. */
int umove_region_set_limit(struct umove_region *r, size_t bytes);
size_t umove_region_resident(const struct umove_region *r);

/* A limit on what all regions of the process hold together (0: none). */
int umove_set_global_limit(size_t bytes);
size_t umove_global_resident(void);

/* Advice on a range of a region (offset and len in bytes, page aligned). */
enum umove_advice {
	UMOVE_ADV_DONTNEED = 1, /* evict now, writing back what changed */
	UMOVE_ADV_COLD = 2,	/* evict first when room is needed */
	UMOVE_ADV_WILLNEED = 3, /* fetch now; returns once resident */
};
int umove_region_advise(struct umove_region *r, size_t offset, size_t len,
			int advice);

/*
 * Statistics of a region. Counters are listed once here; the struct, the
 * names and the printers all derive from this list.
 */
#define UMOVE_STATS_COUNTERS(X)                                             \
	X(fault_events, "fault messages read from the userfaultfd")         \
	X(faults_served, "faults that started a fill")                      \
	X(faults_joined, "faults on a page another thread was filling")     \
	X(pages_filled, "pages installed, read-ahead included")             \
	X(readahead_pages, "pages installed ahead of a fault")              \
	X(moves, "install calls by move")                                   \
	X(copies, "install calls by copy")                                  \
	X(races_lost, "installs that found the page present (EEXIST)")      \
	X(bytes_read, "bytes read from the store")                          \
	X(bytes_written, "bytes written to the store")                      \
	X(read_errors, "store reads that failed (each retry counts)")       \
	X(write_errors, "store writes that failed")                         \
	X(pages_poisoned, "pages that can never be served: SIGBUS")         \
	X(buffered_reads, "store reads without O_DIRECT (0 if direct)")     \
	X(events_other, "unmap/remap events applied")                       \
	X(fill_ns_p50, "fill latency, median, ns (fault read to wake)")     \
	X(fill_ns_p99, "fill latency, 99th percentile, ns")                 \
	X(pages_evicted, "pages moved out to respect the limit")            \
	X(evict_writes, "evicted pages written back (changed ones)")        \
	X(evict_busy, "victims that could be neither moved nor copied out") \
	X(limit_overshoot, "pages filled over the limit: no victim")        \
	X(sync_clean, "pages a sync found unchanged and did not write")     \
	X(resident_pages, "pages resident or in flight, now")               \
	X(limit_pages, "the resident limit in pages, now (0: none)")

struct umove_stats {
	uint32_t size;	  /* sizeof(struct umove_stats) of the caller */
	uint32_t version; /* UMOVE_STATS_VERSION */
#define UMOVE_STATS_FIELD(name, doc) uint64_t name;
	UMOVE_STATS_COUNTERS(UMOVE_STATS_FIELD)
#undef UMOVE_STATS_FIELD
};
#define UMOVE_STATS_VERSION 2
/* The size of version 1 (up to fill_ns_p99): still accepted. */
#define UMOVE_STATS_V1_SIZE (8 + 17 * 8)

int umove_region_stats(const struct umove_region *r, struct umove_stats *out);

/* Poison: accesses to [addr, addr+len) raise SIGBUS (UFFDIO_POISON, 6.6+). */
int umove_poison(struct umove *um, void *addr, size_t len, unsigned flags);

/* What a negative return value means for a umove call, in one sentence. */
const char *umove_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* UMOVE_H */
