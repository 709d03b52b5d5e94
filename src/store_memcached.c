/* SPDX-License-Identifier: MIT */
/*
 * A store on a pool of memcached servers, through libmemcached.
 *
 * An image of N pages lives in the pool under a namespace and a region
 * name: page i is the key "NAMESPACE:REGION:i" (i in hex), its value
 * exactly one page, or the page compressed by LZ4 when that is smaller.
 * The item's 32-bit flags say which (bits 28..31) and hold a 28-bit check
 * of the key and the page (bits 0..27): a value of the wrong size, or one
 * whose check fails, is an error for that page, never data.
 *
 * Placement: libmemcached's ketama continuum over all servers names the
 * first server of a key; its R replicas go to the next R servers in the
 * spec's sorted order (memcached_spec.c), so every copy is on another
 * server, whatever order the spec lists them in. The image's meta key
 * records the servers (by name) and the replicas: a spec that disagrees
 * is refused, since it would look for keys where they are not
 * (memcached_image.c). Reads ask the first copy, and the next one for
 * what is missing or failed; writes go to every copy and succeed only if
 * every copy took them (a write that fails leaves the page resident and
 * changed, so nothing is lost, and a server that missed a write never
 * serves the older bytes as current). A server that failed or timed out
 * is passed over for a second: reads ask the next copy at once, writes to
 * it fail at once.
 *
 * A server without the image's mark key has lost what it held (restarted
 * empty): a key it misses is then an error, not a never-written page,
 * even in a sparse image.
 *
 * Threads: each read or write takes a set of connections (one handle per
 * server) from the idle list and puts it back; libmemcached handles are
 * not shared between threads. The ketama continuum is read under
 * ring_lock; the counters and suspect_until are relaxed atomics.
 */
#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memcached.h"
#include "store.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void um_mc_warn(const struct mc_store *ms, const char *fmt, ...)
{
	va_list ap;

	if (ms->quiet)
		return;
	va_start(ap, fmt);
	fputs("umove: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- errors -------------------------------------------------------------- */

/* A libmemcached result as a negative errno: what a caller can act on. */
static int mc_errno(memcached_return_t rc)
{
	switch (rc) {
	case MEMCACHED_SUCCESS:
	case MEMCACHED_END:
	case MEMCACHED_STORED:
		return 0;
	case MEMCACHED_NOTFOUND:
		return -ENODATA;
	case MEMCACHED_TIMEOUT:
		return -ETIMEDOUT;
	case MEMCACHED_MEMORY_ALLOCATION_FAILURE:
		return -ENOMEM;
	case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE:
	case MEMCACHED_E2BIG:
	case MEMCACHED_NOTSTORED:
		return -ENOSPC;
	default:
		return -EHOSTUNREACH; /* refused, reset, marked dead, ... */
	}
}

/*
 * The same for a call on m that failed: a connection refused or reset is
 * said as such, as the system said it, and a server that ran out of
 * memory (libmemcached reports its refusal as an allocation failure) is a
 * full store, not a client out of memory.
 */
int um_mc_fail(const memcached_st *m, memcached_return_t rc)
{
	int err = mc_errno(rc), sys = memcached_last_error_errno(m);

	if (rc == MEMCACHED_MEMORY_ALLOCATION_FAILURE)
		return -ENOSPC;
	if (err == -EHOSTUNREACH &&
	    (sys == ECONNREFUSED || sys == ECONNRESET || sys == ENETUNREACH))
		return -sys;
	return err;
}

static void suspect(struct mc_store *ms, unsigned s)
{
	atomic_store_explicit(&ms->suspect_until[s], now_ns() + MC_SUSPECT_NS,
			      memory_order_relaxed);
}

static bool is_suspect(struct mc_store *ms, unsigned s)
{
	return atomic_load_explicit(&ms->suspect_until[s],
				    memory_order_relaxed) > now_ns();
}

/* "host:port", or "[v6]:port". */
const char *um_mc_server_name(const struct um_mc_server *sv, char *buf,
			      size_t len)
{
	bool v6 = strchr(sv->host, ':');

	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", sv->host, v6 ? "]" : "",
		 sv->port);
	return buf;
}

/* ---- keys, placement and values ------------------------------------------ */

static size_t page_key(const struct mc_store *ms, uint64_t index, char *key)
{
	return (size_t)snprintf(key, MC_KEY_MAX, "%s:%s:%" PRIx64, ms->spec.ns,
				ms->spec.region, index);
}

/* The server that holds copy r (0: the first) of key. */
static unsigned server_of(struct mc_store *ms, const char *key, size_t klen,
			  unsigned r)
{
	uint32_t first;

	pthread_mutex_lock(&ms->ring_lock);
	first = memcached_generate_hash(ms->ring, key, klen);
	pthread_mutex_unlock(&ms->ring_lock);
	return (first + r) % ms->spec.nservers;
}

/* FNV-1a of the key, mixed into the page's check: a value stored under
 * another key fails it. */
static uint32_t check_of(const char *key, size_t klen, const void *page,
			 size_t page_size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
	h ^= um_page_hash(page, page_size);
	return (uint32_t)(h ^ (h >> 32)) & MC_CHECK_MASK;
}

/*
 * The value to store for a page: the page, or (with compression) its LZ4
 * form in tmp when that is smaller. Returns the value; *len, *flags set.
 */
static const char *encode(const struct mc_store *ms, const char *key,
			  size_t klen, const char *page, char *tmp, size_t *len,
			  uint32_t *flags)
{
	uint32_t check = check_of(key, klen, page, ms->page_size);
	int n = 0;

	if (ms->compress)
		n = LZ4_compress_default(page, tmp, (int)ms->page_size,
					 (int)ms->page_size - 1);
	if (n > 0) {
		*len = (size_t)n;
		*flags = MC_FORMAT_LZ4 << 28 | check;
		return tmp;
	}
	*len = ms->page_size;
	*flags = MC_FORMAT_RAW << 28 | check;
	return page;
}

/* A value read for key into page: 0, or -EBADMSG if it is not one. */
static int decode(const struct mc_store *ms, const char *key, size_t klen,
		  const char *value, size_t len, uint32_t flags, char *page)
{
	unsigned format = flags >> 28;

	if (format == MC_FORMAT_RAW && len == ms->page_size)
		memcpy(page, value, len);
	else if (format != MC_FORMAT_LZ4 || len >= ms->page_size ||
		 LZ4_decompress_safe(value, page, (int)len,
				     (int)ms->page_size) != (int)ms->page_size)
		return -EBADMSG;
	if (check_of(key, klen, page, ms->page_size) != (flags & MC_CHECK_MASK))
		return -EBADMSG;
	return 0;
}

/* ---- connections --------------------------------------------------------- */

static void set_timeouts(memcached_st *m, unsigned ms)
{
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000ull);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000ull);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, MC_RETRY_S);
}

static void conn_free(struct mc_conn *c)
{
	if (!c)
		return;
	for (unsigned s = 0; s < UM_MC_MAX_SERVERS; s++)
		if (c->srv[s])
			memcached_free(c->srv[s]);
	free(c->want);
	free(c->ask);
	free(c);
}

static struct mc_conn *conn_new(const struct mc_store *ms)
{
	struct mc_conn *c = calloc(1, sizeof(*c));

	for (unsigned s = 0; c && s < ms->spec.nservers; s++) {
		const struct um_mc_server *sv = &ms->spec.server[s];

		c->srv[s] = memcached_create(NULL);
		if (!c->srv[s])
			goto fail;
		set_timeouts(c->srv[s], ms->spec.timeout_ms);
		if (memcached_server_add(c->srv[s], sv->host,
					 (in_port_t)sv->port) !=
		    MEMCACHED_SUCCESS)
			goto fail;
	}
	return c;
fail:
	conn_free(c);
	return NULL;
}

struct mc_conn *um_mc_conn_get(struct mc_store *ms)
{
	struct mc_conn *c;

	pthread_mutex_lock(&ms->conn_lock);
	c = ms->idle;
	if (c)
		ms->idle = c->next;
	pthread_mutex_unlock(&ms->conn_lock);
	return c ? c : conn_new(ms);
}

void um_mc_conn_put(struct mc_store *ms, struct mc_conn *c)
{
	pthread_mutex_lock(&ms->conn_lock);
	c->next = ms->idle;
	ms->idle = c;
	pthread_mutex_unlock(&ms->conn_lock);
}

/* ---- reads --------------------------------------------------------------- */

enum want_state { W_PENDING, W_DONE, W_MISSED, W_FAILED };

/* A page a read still needs. */
struct want {
	char key[MC_KEY_MAX];
	size_t klen;
	char *page;
	unsigned first;	  /* the server of copy 0 */
	int state;	  /* enum want_state after the last copy tried */
	int err;	  /* why the last copy tried did not serve it */
	bool missed_only; /* every copy tried answered "not found" */
};

/* The want a result is for: its key ends in the page index. */
static struct want *want_of(struct want *w, size_t n, uint64_t first_index,
			    const char *key, size_t klen)
{
	const char *colon = memrchr(key, ':', klen);
	uint64_t index = 0;

	if (!colon)
		return NULL;
	for (const char *p = colon + 1; p < key + klen; p++) {
		int d = *p <= '9' ? *p - '0' : *p - 'a' + 10;

		if (d < 0 || d > 15)
			return NULL;
		index = index << 4 | (uint64_t)d;
	}
	if (index < first_index || index - first_index >= n)
		return NULL;
	w += index - first_index;
	return w->klen == klen && !memcmp(w->key, key, klen) ? w : NULL;
}

static void deliver(struct mc_store *ms, struct want *all, size_t n,
		    uint64_t first_index, const memcached_result_st *res,
		    unsigned r)
{
	struct want *w =
		want_of(all, n, first_index, memcached_result_key_value(res),
			memcached_result_key_length(res));
	size_t len = memcached_result_length(res);

	um_mc_count(&ms->c.bytes_received,
		    MC_HEADER + len + memcached_result_key_length(res));
	if (!w || w->state != W_PENDING)
		return;
	if (decode(ms, w->key, w->klen, memcached_result_value(res), len,
		   memcached_result_flags(res), w->page)) {
		um_mc_count(&ms->c.corrupt, 1);
		w->err = -EBADMSG;
		w->missed_only = false;
		return;
	}
	w->state = W_DONE;
	if (r)
		um_mc_count(&ms->c.failovers, 1);
}

/* The wants of one copy that one server is asked for. */
struct batch {
	unsigned server;
	struct want **ask;
	size_t k;
	memcached_return_t rc; /* of sending the multi-get */
};

static void send_mget(struct mc_store *ms, struct mc_conn *c, struct batch *b)
{
	const char *keys[b->k];
	size_t lens[b->k];

	for (size_t i = 0; i < b->k; i++) {
		keys[i] = b->ask[i]->key;
		lens[i] = b->ask[i]->klen;
		um_mc_count(&ms->c.bytes_sent, MC_HEADER + lens[i]);
	}
	um_mc_count(&ms->c.mgets, 1);
	um_mc_count(&ms->c.mget_keys, b->k);
	b->rc = memcached_mget(c->srv[b->server], keys, lens, b->k);
}

/*
 * The answers to one multi-get: one round trip, timed from t0, when every
 * server was asked. Wants it does not serve stay pending, with why in err.
 */
static void receive(struct mc_store *ms, struct mc_conn *c,
		    const struct batch *b, struct want *all, size_t n,
		    uint64_t first_index, unsigned r, uint64_t t0)
{
	memcached_st *m = c->srv[b->server];
	memcached_return_t rc = b->rc;
	memcached_result_st res;
	int err;

	/*
	 * A result of ours, not libmemcached's: it frees the results it
	 * allocated itself when a fetch ends.
	 */
	memcached_result_create(m, &res);
	while (rc == MEMCACHED_SUCCESS && memcached_fetch_result(m, &res, &rc))
		deliver(ms, all, n, first_index, &res, r);
	memcached_result_free(&res);
	um_mc_count(&ms->c.round_trips, 1);
	um_hist_add(ms->c.rtt, now_ns() - t0);
	/* END: the server answered for every key; any other, it failed. */
	err = rc == MEMCACHED_END ? -ENODATA : um_mc_fail(m, rc);
	if (err != -ENODATA) {
		um_mc_count(&ms->c.read_failures, 1);
		suspect(ms, b->server);
		/* What the server still sends must not answer a later call. */
		memcached_quit(m);
	}
	for (size_t i = 0; i < b->k; i++)
		if (b->ask[i]->state == W_PENDING && !b->ask[i]->err) {
			b->ask[i]->err = err;
			if (err == -ENODATA)
				um_mc_count(&ms->c.misses, 1);
			else
				b->ask[i]->missed_only = false;
		}
}

/*
 * Up to MC_MGET_MAX wants of server s for copy r, from *next on. A want
 * whose server is suspect is not asked while a later copy remains: it
 * stays pending for that copy.
 */
static size_t gather(struct mc_store *ms, struct want *w, size_t n,
		     size_t *next, unsigned s, unsigned r, struct want **ask)
{
	bool pass_over = r < ms->replicas && is_suspect(ms, s);
	size_t k = 0;

	for (; *next < n && k < MC_MGET_MAX; (*next)++) {
		struct want *x = &w[*next];

		if (x->state != W_PENDING ||
		    (x->first + r) % ms->spec.nservers != s)
			continue;
		if (pass_over) {
			x->err = -EHOSTUNREACH;
			x->missed_only = false;
			continue;
		}
		x->err = 0;
		ask[k++] = x;
	}
	return k;
}

/*
 * Ask copy r of every pending want: in rounds of at most MC_MGET_MAX keys
 * per server, one multi-get per server per round, all sent before any
 * answer is read, so that the servers work at once and a round costs the
 * slowest round trip, not their sum. (Sending every key of a huge read at
 * once would fill both sides' socket buffers: the server stops reading
 * while its answers wait, and the send never ends.)
 */
static void ask_copy(struct mc_store *ms, struct mc_conn *c, struct want *w,
		     size_t n, uint64_t first_index, unsigned r)
{
	size_t next[UM_MC_MAX_SERVERS] = {0};

	for (;;) {
		struct batch b[UM_MC_MAX_SERVERS];
		struct want **ask = c->ask;
		unsigned nb = 0;
		uint64_t t0 = now_ns();

		for (unsigned s = 0; s < ms->spec.nservers; s++) {
			size_t k = gather(ms, w, n, &next[s], s, r, ask);

			if (!k)
				continue;
			b[nb] = (struct batch){s, ask, k, MEMCACHED_SUCCESS};
			send_mget(ms, c, &b[nb++]);
			ask += k;
		}
		if (!nb)
			return;
		for (unsigned i = 0; i < nb; i++)
			receive(ms, c, &b[i], w, n, first_index, r, t0);
	}
}

/* Room in c's buffers for a read of n pages. */
static bool plan_room(struct mc_conn *c, size_t n)
{
	struct want *w;
	struct want **a;

	if (n <= c->cap)
		return true;
	w = realloc(c->want, n * sizeof(*w));
	if (w)
		c->want = w;
	a = w ? realloc(c->ask, n * sizeof(*a)) : NULL;
	if (a)
		c->ask = a;
	if (!w || !a)
		return false;
	c->cap = n;
	return true;
}

/* Whether server s still holds everything written to it (its mark). */
bool um_mc_intact(struct mc_store *ms, struct mc_conn *c, unsigned s)
{
	size_t len = 0;
	uint32_t flags;
	memcached_return_t rc;
	char *v = memcached_get(c->srv[s], ms->mark_key, strlen(ms->mark_key),
				&len, &flags, &rc);

	um_mc_count(&ms->c.round_trips, 1);
	free(v);
	return rc == MEMCACHED_SUCCESS;
}

/* The same, asked once per read: 0 not asked yet, 1 intact, -1 not. */
static bool intact_once(struct mc_store *ms, struct mc_conn *c, unsigned s,
			signed char *known)
{
	if (!known[s])
		known[s] = um_mc_intact(ms, c, s) ? 1 : -1;
	return known[s] > 0;
}

/*
 * A page that no copy holds reads as zeros only in a sparse image, and
 * only if every server asked still has its mark: a server restarted empty
 * has lost pages, which must not come back as zeros.
 */
static int settle_missing(struct mc_store *ms, struct mc_conn *c,
			  struct want *w, signed char *known)
{
	if (!ms->sparse || !w->missed_only)
		return w->err ? w->err : -EIO;
	for (unsigned r = 0; r <= ms->replicas; r++)
		if (!intact_once(ms, c, (w->first + r) % ms->spec.nservers,
				 known))
			return -ENODATA;
	memset(w->page, 0, ms->page_size);
	return 0;
}

static int mc_read(void *priv, uint64_t index, size_t count_, void *buf)
{
	struct mc_store *ms = priv;
	struct mc_conn *c = um_mc_conn_get(ms);
	signed char known[UM_MC_MAX_SERVERS] = {0};
	struct want *w;
	int err = 0;

	if (!c || !plan_room(c, count_)) {
		if (c)
			um_mc_conn_put(ms, c);
		return -ENOMEM;
	}
	w = c->want;
	memset(w, 0, count_ * sizeof(*w));
	for (size_t i = 0; i < count_; i++) {
		w[i].klen = page_key(ms, index + i, w[i].key);
		w[i].page = (char *)buf + i * ms->page_size;
		w[i].first = server_of(ms, w[i].key, w[i].klen, 0);
		w[i].missed_only = true;
	}
	for (unsigned r = 0; r <= ms->replicas; r++)
		ask_copy(ms, c, w, count_, index, r);
	for (size_t i = 0; i < count_; i++)
		if (w[i].state != W_DONE) {
			int e = settle_missing(ms, c, &w[i], known);

			if (e && !err)
				err = e;
		}
	um_mc_conn_put(ms, c);
	return err;
}

/* ---- writes -------------------------------------------------------------- */

/* A suspect server fails the write at once (see suspect_until). */
int um_mc_set(struct mc_store *ms, struct mc_conn *c, unsigned s,
	      const char *key, size_t klen, const char *value, size_t len,
	      uint32_t flags)
{
	uint64_t t0 = now_ns();
	memcached_return_t rc;
	int err;

	if (is_suspect(ms, s)) {
		um_mc_count(&ms->c.write_failures, 1);
		return -EHOSTUNREACH;
	}
	rc = memcached_set(c->srv[s], key, klen, value, len, 0, flags);
	err = um_mc_fail(c->srv[s], rc);
	um_mc_count(&ms->c.round_trips, 1);
	um_mc_count(&ms->c.sets, 1);
	um_mc_count(&ms->c.bytes_sent, MC_HEADER + klen + len);
	um_hist_add(ms->c.rtt, now_ns() - t0);
	if (err) {
		um_mc_count(&ms->c.write_failures, 1);
		if (err != -ENOSPC)
			suspect(ms, s);
		memcached_quit(c->srv[s]);
	}
	return err;
}

/* Every copy of every page; the first error, after trying them all. */
static int mc_write(void *priv, uint64_t index, size_t count_, const void *buf)
{
	struct mc_store *ms = priv;
	struct mc_conn *c = um_mc_conn_get(ms);
	char *tmp = malloc(ms->page_size);
	int err = 0;

	if (!c || !tmp) {
		if (c)
			um_mc_conn_put(ms, c);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count_; i++) {
		const char *page = (const char *)buf + i * ms->page_size;
		char key[MC_KEY_MAX];
		size_t klen = page_key(ms, index + i, key), len;
		uint32_t flags;
		const char *v = encode(ms, key, klen, page, tmp, &len, &flags);
		unsigned first = server_of(ms, key, klen, 0);

		for (unsigned r = 0; r <= ms->replicas; r++) {
			int e = um_mc_set(ms, c,
					  (first + r) % ms->spec.nservers, key,
					  klen, v, len, flags);

			if (e && !err)
				err = e;
		}
	}
	um_mc_conn_put(ms, c);
	free(tmp);
	return err;
}

/* ---- the store ----------------------------------------------------------- */

static void mc_free(struct mc_store *ms)
{
	while (ms->idle) {
		struct mc_conn *c = ms->idle;

		ms->idle = c->next;
		conn_free(c);
	}
	if (ms->ring)
		memcached_free(ms->ring);
	pthread_mutex_destroy(&ms->ring_lock);
	pthread_mutex_destroy(&ms->conn_lock);
	free(ms);
}

static void mc_close(void *priv)
{
	mc_free(priv);
}

static int make_ring(struct mc_store *ms)
{
	ms->ring = memcached_create(NULL);
	if (!ms->ring)
		return -ENOMEM;
	memcached_behavior_set(ms->ring, MEMCACHED_BEHAVIOR_DISTRIBUTION,
			       MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
	for (unsigned s = 0; s < ms->spec.nservers; s++)
		if (memcached_server_add(ms->ring, ms->spec.server[s].host,
					 (in_port_t)ms->spec.server[s].port) !=
		    MEMCACHED_SUCCESS)
			return -EINVAL;
	return 0;
}

static int mc_new(struct mc_store **out, const char *spec, unsigned flags,
		  char *why, size_t why_len)
{
	struct mc_store *ms = calloc(1, sizeof(*ms));
	int err;

	if (!ms)
		return -ENOMEM;
	pthread_mutex_init(&ms->ring_lock, NULL);
	pthread_mutex_init(&ms->conn_lock, NULL);
	ms->page_size = (size_t)sysconf(_SC_PAGESIZE);
	ms->quiet = flags & UMOVE_STORE_QUIET;
	err = um_mc_parse(spec, &ms->spec, why, why_len);
	if (!err) {
		ms->pages = ms->spec.pages;
		ms->replicas =
			ms->spec.replicas > 0 ? (unsigned)ms->spec.replicas : 0;
		ms->sparse = ms->spec.sparse > 0;
		ms->compress = ms->spec.compress > 0;
		snprintf(ms->meta_key, MC_KEY_MAX, "%s:%s:meta", ms->spec.ns,
			 ms->spec.region);
		snprintf(ms->mark_key, MC_KEY_MAX, "%s:%s:mark", ms->spec.ns,
			 ms->spec.region);
		err = make_ring(ms);
	}
	if (!err)
		err = um_mc_open_image(ms, flags & UMOVE_STORE_RDONLY, why,
				       why_len);
	if (err) {
		mc_free(ms);
		return err;
	}
	*out = ms;
	return 0;
}

#define MC_FLAGS (UMOVE_STORE_RDONLY | UMOVE_STORE_QUIET)

int umove_store_memcached(struct umove_store **out, const char *spec,
			  unsigned flags, char *why, size_t why_len)
{
	struct umove_store_ops ops = {
		.read = mc_read, .write = mc_write, .close = mc_close};
	struct mc_store *ms;
	int err;

	if (why && why_len)
		why[0] = '\0';
	if (!out || !spec || (flags & ~MC_FLAGS)) {
		if (why && why_len)
			snprintf(why, why_len, "%s",
				 !out ? "no place for the store (out is NULL)"
				 : !spec ? "no spec (spec is NULL)"
					 : "unknown flags");
		return -EINVAL;
	}
	err = mc_new(&ms, spec, flags, why, why_len);
	if (err)
		return err;
	if (flags & UMOVE_STORE_RDONLY)
		ops.write = NULL;
	err = um_store_new(out, &ops, sizeof(ops), ms, ms->pages);
	if (err)
		mc_free(ms);
	return err;
}

int umove_store_memcached_stats(const struct umove_store *st,
				struct umove_pool_stats *out)
{
	const struct mc_store *ms;
	uint64_t rtt[UM_HIST_BUCKETS];
	struct umove_pool_stats s = {0};
	uint32_t size;

	if (!st || !out || out->size < sizeof(uint64_t) ||
	    st->ops.read != mc_read)
		return -EINVAL;
	ms = st->priv;
	size = out->size;
#define MC_GET(name, doc) s.name = atomic_load(&ms->c.name);
	UMOVE_POOL_STATS_COUNTERS(MC_GET)
#undef MC_GET
	for (unsigned b = 0; b < UM_HIST_BUCKETS; b++)
		rtt[b] = atomic_load(&ms->c.rtt[b]);
	s.rtt_ns_p50 = um_hist_quantile(rtt, 0.50);
	s.rtt_ns_p99 = um_hist_quantile(rtt, 0.99);
	s.servers = ms->spec.nservers;
	s.replicas = ms->replicas;
	s.version = UMOVE_POOL_STATS_VERSION;
	memset(out, 0, size);
	memcpy(out, &s, size < sizeof(s) ? size : sizeof(s));
	out->size = size;
	return 0;
}
