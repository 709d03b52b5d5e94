/* SPDX-License-Identifier: MIT */
/*
 * The memcached pool store: its spec (memcached_spec.c), the store's
 * reads and writes (store_memcached.c) and its image in the pool: meta
 * and mark keys, the checks made at open (memcached_image.c).
 */
#ifndef UM_MEMCACHED_H
#define UM_MEMCACHED_H

#include <libmemcached/memcached.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define UM_MC_MAX_SERVERS 64
#define UM_MC_NAME_MAX 64  /* namespace and region names */
#define UM_MC_HOST_MAX 255 /* a DNS name */
#define UM_MC_DEFAULT_PORT 11211
#define UM_MC_DEFAULT_TIMEOUT_MS 500

struct um_mc_server {
	char host[UM_MC_HOST_MAX + 1];
	unsigned port;
};

/*
 * A parsed spec: memcached://SERVER[,SERVER...][?OPTION[&OPTION...]]. The
 * servers are sorted (by host, then port), so that their order in the
 * spec does not change where copies go.
 */
struct um_mc_spec {
	struct um_mc_server server[UM_MC_MAX_SERVERS];
	unsigned nservers;
	int replicas;	     /* copies besides the first; -1: the pool says */
	unsigned timeout_ms; /* every network call */
	char ns[UM_MC_NAME_MAX + 1];
	char region[UM_MC_NAME_MAX + 1];
	uint64_t pages; /* 0: the pool says (the image's meta key) */
	int sparse;	/* -1: the pool says (default 0), else 0 or 1 */
	int compress;	/* -1: the pool says (default 0), else 0 or 1 (lz4) */
};

/*
 * 0, or -EINVAL with why (if not NULL) saying which part is wrong and how,
 * e.g. "server 2 (\"h:99999\"): port 99999 is not in 1..65535".
 */
int um_mc_parse(const char *spec, struct um_mc_spec *out, char *why,
		size_t why_len);

/* ---- the store ---------------------------------------------------------- */

#define MC_KEY_MAX 160	 /* NAMESPACE:REGION:index */
#define MC_HEADER 24	 /* bytes of a binary protocol header */
#define MC_FORMAT_RAW 1u /* flags >> 28: the value is the page */
#define MC_FORMAT_LZ4 2u /* flags >> 28: the page, LZ4-compressed */
#define MC_CHECK_MASK 0x0fffffffu
#define MC_META_MAX 200
#define MC_RETRY_S 1	/* a failed server is skipped this long */
#define MC_MGET_MAX 128 /* keys per multi-get: answers fit socket buffers */
#define MC_SUSPECT_NS 1000000000ull /* a server that failed is passed over */

struct want;

/*
 * One caller's connections, a libmemcached handle per server, and the
 * buffers its reads plan in (kept, so that a fault allocates nothing).
 */
struct mc_conn {
	memcached_st *srv[UM_MC_MAX_SERVERS];
	struct want *want;
	struct want **ask;
	size_t cap; /* entries in want and ask */
	struct mc_conn *next;
};

struct mc_counters {
#define MC_COUNTER(name, doc) _Atomic uint64_t name;
	UMOVE_POOL_STATS_COUNTERS(MC_COUNTER)
#undef MC_COUNTER
	_Atomic uint64_t rtt[UM_HIST_BUCKETS];
};

struct mc_store {
	struct um_mc_spec spec;
	size_t page_size;
	uint64_t pages;
	unsigned replicas; /* copies besides the first */
	bool sparse, compress, quiet;
	char meta_key[MC_KEY_MAX], mark_key[MC_KEY_MAX];
	memcached_st *ring;	   /* placement only */
	pthread_mutex_t ring_lock; /* guards ring */
	pthread_mutex_t conn_lock; /* guards idle */
	struct mc_conn *idle;
	struct mc_counters c;
	/*
	 * Per server, until when (CLOCK_MONOTONIC ns) it is passed over: it
	 * failed or timed out just now. A read then asks the next copy at once,
	 * and a write fails at once, instead of waiting out timeout_ms again.
	 */
	_Atomic uint64_t suspect_until[UM_MC_MAX_SERVERS];
};

static inline void um_mc_count(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* store_memcached.c */
void um_mc_warn(const struct mc_store *ms, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int um_mc_fail(const memcached_st *m, memcached_return_t rc);
const char *um_mc_server_name(const struct um_mc_server *sv, char *buf,
			      size_t len);
struct mc_conn *um_mc_conn_get(struct mc_store *ms);
void um_mc_conn_put(struct mc_store *ms, struct mc_conn *c);
int um_mc_set(struct mc_store *ms, struct mc_conn *c, unsigned s,
	      const char *key, size_t klen, const char *value, size_t len,
	      uint32_t flags);
bool um_mc_intact(struct mc_store *ms, struct mc_conn *c, unsigned s);

/* memcached_image.c */
int um_mc_open_image(struct mc_store *ms, bool rdonly, char *why,
		     size_t why_len);

#endif /* UM_MEMCACHED_H */
