/* SPDX-License-Identifier: MIT */
/*
 * umove_store_memcached(): a store on a pool of memcached servers that the
 * tests start themselves (memcached_pool.h) on free 127.0.0.1 ports.
 *
 * The spec and its refusals; opening (every server must answer, an image
 * exists or pages=N creates it, a spec that disagrees with the pool's
 * image is refused); byte-exact round trips, through umove_store_read and
 * through regions, with 8 threads on 256 MiB; replicas that keep every
 * byte readable when a server dies; pages that cannot be read (a dead
 * server without replicas, a hung one, one restarted empty, values of the
 * wrong size or with a failing check) are errors and SIGBUS in a region,
 * never zeros and never other bytes; sparse images, LZ4, write failures
 * that keep the page, the warning for servers that evict, the statistics.
 *
 * The tests look into the pool with libmemcached directly, to find which
 * server holds a page and to plant wrong values. Anything that may end in
 * a signal runs in a forked child that opens its own store and region and
 * reports through a MAP_SHARED page (as test_region_events.c does).
 */
#include "helpers.h"
#include "memcached_pool.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEED 0x4d  /* what the tests write first: page i is (SEED, i) */
#define SEED2 0x4e /* what they write over it */
#define WHY 512	   /* a why buffer */
#define CHILD_MS 15000
#define FORMAT_RAW 1u /* flags >> 28 of a value that is the page */
#define FORMAT_LZ4 2u /* flags >> 28 of an LZ4 page */
#define CHECK_MASK 0x0fffffffu

static void fini(void);

TestSuite(store_memcached, .timeout = TEST_TIMEOUT, .init = need_4k,
	  .fini = fini);

/* --- what a test holds, released by fini() whatever happened -------------- */

static struct umove_region *regions[4];
static memcached_st *clients[8];
static int saved_stderr = -1;
static pid_t child; /* a child running a scenario, 0 if none */

static struct umove_region *track_region(struct umove_region *r)
{
	for (size_t i = 0; i < 4; i++)
		if (!regions[i]) {
			regions[i] = r;
			return r;
		}
	cr_assert_fail("more than 4 regions in one test");
	return r;
}

static void untrack_region(struct umove_region *r)
{
	for (size_t i = 0; i < 4; i++)
		if (regions[i] == r)
			regions[i] = NULL;
}

/* umove_unmap, which writes back; asserts it succeeded. */
static void unmap_region(struct umove_region *r)
{
	expect_ret(umove_unmap(r), 0);
	untrack_region(r);
}

static void restore_stderr(void)
{
	if (saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

static void client_free(memcached_st *m)
{
	for (size_t i = 0; i < 8; i++)
		if (clients[i] == m)
			clients[i] = NULL;
	memcached_free(m);
}

static void fini(void)
{
	restore_stderr();
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	for (size_t i = 0; i < 4; i++)
		if (regions[i]) {
			umove_unmap_discard(regions[i]);
			regions[i] = NULL;
		}
	close_stores();
	for (size_t i = 0; i < 8; i++)
		if (clients[i])
			client_free(clients[i]);
	pool_stop_all();
}

/* --- opening stores ------------------------------------------------------- */

/* umove_store_memcached() that must succeed; the store is tracked. */
static struct umove_store *mc_open(const char *spec, unsigned flags)
{
	struct umove_store *st = NULL;
	char why[WHY] = "";
	char rb[48];
	int ret = umove_store_memcached(&st, spec, flags, why, sizeof(why));

	cr_assert_eq(ret, 0, "umove_store_memcached(\"%s\"): %s (%s)", spec,
		     ret_str(ret, rb), why);
	cr_assert_not_null(st);
	return track(st);
}

/* The pool's spec with options from a format. */
static const char *spec_of(struct mc_pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *spec_of(struct mc_pool *p, const char *fmt, ...)
{
	char opts[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(opts, sizeof(opts), fmt, ap);
	va_end(ap);
	return pool_spec(p, opts);
}

/* umove_store_memcached() that must fail with want; returns why. */
static const char *mc_refused(const char *spec, unsigned flags, int want)
{
	static char why[WHY];
	struct umove_store *st = NULL;
	char rb[48], wb[48];
	int ret;

	memset(why, 0, sizeof(why));
	ret = umove_store_memcached(&st, spec, flags, why, sizeof(why));
	if (!ret)
		track(st);
	cr_assert_eq(ret, want, "umove_store_memcached(\"%s\"): %s, want %s",
		     spec, ret_str(ret, rb), ret_str(want, wb));
	cr_assert_null(st, "a refused open set *out");
	cr_assert(why[0],
		  "umove_store_memcached(\"%s\") failed with %s and "
		  "an empty why",
		  spec, ret_str(ret, rb));
	return why;
}

static struct umove_pool_stats pstats(const struct umove_store *st)
{
	struct umove_pool_stats s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	expect_ret(umove_store_memcached_stats(st, &s), 0);
	return s;
}

static struct umove_region *region_on(struct umove_store *st, size_t pages,
				      unsigned threads, unsigned readahead,
				      size_t limit)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;

	expect_ret(umove_region_config_new(&cfg), 0);
	expect_ret(umove_region_config_set_threads(cfg, threads), 0);
	expect_ret(umove_region_config_set_readahead(cfg, readahead), 0);
	expect_ret(umove_region_config_set_limit(cfg, limit), 0);
	int ret = umove_map(&r, st, 0, pages * PG, cfg);

	umove_region_config_free(cfg);
	if (ret == -EPERM || ret == -EACCES || ret == -ENOSYS)
		cr_skip_test("userfaultfd not usable here (%s)",
			     strerror(-ret));
	if (limit && ret == -EOPNOTSUPP)
		cr_skip_test(
			"no eviction on this kernel (no anonymous uffd-wp)");
	expect_ret(ret, 0);
	return track_region(r);
}

/* --- buffers -------------------------------------------------------------- */

static char *pages_new(size_t n)
{
	char *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap %zu pages: %s", n, strerror(errno));
	return p;
}

static void pages_free(char *p, size_t n)
{
	munmap(p, n * PG);
}

static bool is_zero_page(const char *page)
{
	for (size_t i = 0; i < PG; i++)
		if (page[i])
			return false;
	return true;
}

/* Writes pages [0, n) of pattern seed, batch pages per call. */
static void write_pattern(struct umove_store *st, size_t n, uint32_t seed,
			  size_t batch)
{
	char *buf = pages_new(batch);

	for (size_t i = 0; i < n; i += batch) {
		size_t k = n - i < batch ? n - i : batch;

		for (size_t j = 0; j < k; j++)
			fill_page(buf + j * PG, seed, i + j);
		expect_ret(umove_store_write(st, i, k, buf), 0);
	}
	pages_free(buf, batch);
}

/* Reads pages [0, n) back, batch per call, and checks every byte. */
static void expect_pattern(struct umove_store *st, size_t n, uint32_t seed,
			   size_t batch, const char *what)
{
	char *buf = pages_new(batch);

	for (size_t i = 0; i < n; i += batch) {
		size_t k = n - i < batch ? n - i : batch;

		memset(buf, 0xa5, k * PG);
		expect_ret(umove_store_read(st, i, k, buf), 0);
		for (size_t j = 0; j < k; j++)
			expect_page(buf + j * PG, seed, i + j, what);
	}
	pages_free(buf, batch);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- looking into the pool with libmemcached ------------------------------ */

static memcached_st *direct(unsigned port)
{
	memcached_st *m = memcached_create(NULL);

	cr_assert_not_null(m);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 2000);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 2000);
	cr_assert_eq(memcached_server_add(m, "127.0.0.1", (in_port_t)port),
		     MEMCACHED_SUCCESS);
	for (size_t i = 0; i < 8; i++)
		if (!clients[i]) {
			clients[i] = m;
			return m;
		}
	memcached_free(m);
	cr_assert_fail("more than 8 libmemcached clients in one test");
	return NULL;
}

/* The key of page idx: "NAMESPACE:REGION:INDEX", the index in hex. */
static size_t key_of(char *key, size_t len, const char *ns, uint64_t idx)
{
	return (size_t)snprintf(key, len, "%s:0:%" PRIx64, ns, idx);
}

/*
 * The value of a key on one server, NULL if it holds none; held (hold())
 * until raw_free().
 */
static char *raw_get(unsigned port, const char *key, size_t *len,
		     uint32_t *flags)
{
	memcached_st *m = direct(port);
	memcached_return_t rc;
	char *v = memcached_get(m, key, strlen(key), len, flags, &rc);

	cr_assert(rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND,
		  "get %s from 127.0.0.1:%u: %s", key, port,
		  memcached_strerror(m, rc));
	client_free(m);
	if (rc != MEMCACHED_SUCCESS)
		return NULL;
	hold(v);
	return v;
}

static void raw_free(char *v)
{
	drop(v);
	free(v);
}

static void raw_set(unsigned port, const char *key, const void *value,
		    size_t len, uint32_t flags)
{
	memcached_st *m = direct(port);
	memcached_return_t rc =
		memcached_set(m, key, strlen(key), value, len, 0, flags);

	cr_assert_eq(rc, MEMCACHED_SUCCESS, "set %s on 127.0.0.1:%u: %s", key,
		     port, memcached_strerror(m, rc));
	client_free(m);
}

/*
 * Which servers hold pages [0, n) of namespace ns: mask[i] bit s for pool
 * server s. Servers not running are not asked.
 */
static void holders(const struct mc_pool *p, const char *ns, size_t n,
		    uint8_t *mask)
{
	enum { BATCH = 128 };

	memset(mask, 0, n);
	for (unsigned s = 0; s < p->n; s++) {
		memcached_st *m;

		if (!p->pid[s])
			continue;
		m = direct(p->port[s]);
		for (size_t first = 0; first < n; first += BATCH) {
			size_t k = n - first < BATCH ? n - first : BATCH;
			char keys[BATCH][64];
			const char *kp[BATCH];
			size_t lens[BATCH];
			memcached_result_st *res;
			memcached_return_t rc;

			for (size_t i = 0; i < k; i++) {
				lens[i] = key_of(keys[i], sizeof(keys[i]), ns,
						 first + i);
				kp[i] = keys[i];
			}
			rc = memcached_mget(m, kp, lens, k);
			cr_assert_eq(rc, MEMCACHED_SUCCESS, "mget: %s",
				     memcached_strerror(m, rc));
			while ((res = memcached_fetch_result(m, NULL, &rc))) {
				const char *key =
					memcached_result_key_value(res);
				size_t klen = memcached_result_key_length(res);
				char text[64];
				uint64_t idx;

				/* The key is not terminated. */
				snprintf(text, sizeof(text), "%.*s", (int)klen,
					 key);
				idx = strtoull(strrchr(text, ':') + 1, NULL,
					       16);

				cr_assert_lt(
					idx, n, "key %.*s",
					(int)memcached_result_key_length(res),
					key);
				mask[idx] |= (uint8_t)(1u << s);
				memcached_result_free(res);
			}
			cr_assert(rc == MEMCACHED_END ||
					  rc == MEMCACHED_NOTFOUND,
				  "fetch: %s", memcached_strerror(m, rc));
		}
		client_free(m);
	}
}

/*
 * The pool's servers in the spec's sorted order (by port, all on
 * 127.0.0.1): copy r of a page whose copy 0 is on order[k] is on
 * order[(k + r) % n].
 */
static void sorted_order(const struct mc_pool *p, unsigned *order)
{
	for (unsigned i = 0; i < p->n; i++)
		order[i] = i;
	for (unsigned i = 1; i < p->n; i++)
		for (unsigned j = i;
		     j > 0 && p->port[order[j - 1]] > p->port[order[j]]; j--) {
			unsigned t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/*
 * The server of copy 0 of a page held by the servers of mask, with one
 * replica: the one whose successor in sorted order holds the other copy.
 */
static unsigned first_copy(const struct mc_pool *p, uint8_t mask)
{
	unsigned order[POOL_MAX];

	sorted_order(p, order);
	for (unsigned k = 0; k < p->n; k++) {
		uint8_t pair =
			(uint8_t)(1u << order[k] | 1u << order[(k + 1) % p->n]);

		if (mask == pair)
			return order[k];
	}
	cr_assert_fail("mask 0x%x is not two neighbours in sorted order", mask);
	return 0;
}

/* --- stderr --------------------------------------------------------------- */

static int capture_pipe[2];

static void capture_start(void)
{
	fflush(stderr);
	cr_assert_eq(pipe2(capture_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(saved_stderr, 0);
	cr_assert_geq(dup2(capture_pipe[1], STDERR_FILENO), 0);
}

/* What was written to stderr since capture_start(). */
static const char *capture_end(void)
{
	static char text[8192];
	size_t len = 0;
	ssize_t n;

	restore_stderr();
	close(capture_pipe[1]);
	while (len < sizeof(text) - 1 && (n = read(capture_pipe[0], text + len,
						   sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	close(capture_pipe[0]);
	return text;
}

/* --- children ------------------------------------------------------------- */

#define CHILD_PAGES 1024

/* What a child saw on each page it touched. */
enum seen { UNTOUCHED, GOOD, SIGNALLED, ZEROS, WRONG };

struct report {
	struct child_log log; /* first: child_log points here */
	uint8_t seen[CHILD_PAGES];
	uint8_t again[CHILD_PAGES]; /* touched a second time */
	bool resident[CHILD_PAGES]; /* at the kill (read ahead before it) */
	struct umove_stats rs;
	struct umove_pool_stats ps;
	double elapsed_s;      /* touching every page */
	int sig;	       /* the last signal a touch raised */
	atomic_bool ready, go; /* wait_parent: the child waits, the parent */
};

static struct report *rep;

/* What a child does: touch every page of a region on spec. */
struct scenario {
	const char *spec;
	size_t pages;
	uint32_t seed; /* page i should hold (seed, i) */
	unsigned threads, readahead, retries;
	pid_t kill_pid; /* killed (SIGKILL) before page kill_at is touched */
	unsigned kill_port;
	size_t kill_at;
	bool wait_parent; /* before page kill_at: until the parent says go */
};

static bool port_refuses(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool refused;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	refused = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (fd >= 0)
		close(fd);
	return refused;
}

static enum seen look(const char *copy, uint32_t seed, size_t idx, int sig)
{
	if (sig) {
		rep->sig = sig;
		return SIGNALLED;
	}
	if (page_matches(copy, seed, idx))
		return GOOD;
	return is_zero_page(copy) ? ZEROS : WRONG;
}

/* No Criterion asserts in here: it runs in the child. */
static void child_main(const struct scenario *sc)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	static char copy[PG];
	char why[WHY] = "";
	const char *base;
	double t0;
	int ret;

	child_step("open %s", sc->spec);
	ret = umove_store_memcached(&st, sc->spec, UMOVE_STORE_QUIET, why,
				    sizeof(why));
	if (ret) {
		child_fail("open %s: %d (%s)", sc->spec, ret, why);
		return;
	}
	child_step("map %zu pages", sc->pages);
	ret = umove_region_config_new(&cfg);
	if (!ret)
		ret = umove_region_config_set_threads(cfg, sc->threads);
	if (!ret)
		ret = umove_region_config_set_readahead(cfg, sc->readahead);
	if (!ret)
		ret = umove_region_config_set_retries(cfg, sc->retries);
	if (!ret)
		ret = umove_map(&r, st, 0, sc->pages * PG, cfg);
	umove_region_config_free(cfg);
	if (ret) {
		child_fail("umove_map: %d", ret);
		return;
	}
	base = umove_region_addr(r);
	t0 = now_s();
	for (size_t i = 0; i < sc->pages; i++) {
		if (sc->kill_pid && i == sc->kill_at) {
			for (size_t j = 0; j < sc->pages; j++)
				rep->resident[j] =
					present_pages(base + j * PG, 1) == 1;
			child_step("kill the server on port %u", sc->kill_port);
			kill(sc->kill_pid, SIGKILL);
			for (int ms = 0;
			     ms < 3000 && !port_refuses(sc->kill_port); ms += 5)
				sleep_ms(5);
		}
		if (sc->wait_parent && i == sc->kill_at) {
			child_step("wait for the parent");
			atomic_store(&rep->ready, true);
			for (int ms = 0;
			     ms < CHILD_MS && !atomic_load(&rep->go); ms++)
				sleep_ms(1);
		}
		child_step("touch page %zu", i);
		int sig = touch_page(base + i * PG, copy, NULL);

		rep->seen[i] = (uint8_t)look(copy, sc->seed, i, sig);
	}
	rep->elapsed_s = now_s() - t0;
	/* What was read before the kill stays resident and right. */
	for (size_t i = 0; sc->kill_pid && i < sc->kill_at; i++) {
		child_step("touch page %zu again", i);
		int sig = touch_page(base + i * PG, copy, NULL);

		rep->again[i] = (uint8_t)look(copy, sc->seed, i, sig);
	}
	/* Settled: a fill or a poison is counted just after its wake. */
	for (int k = 0; k < 200; k++) {
		struct umove_stats t;

		memset(&t, 0, sizeof(t));
		t.size = sizeof(t);
		umove_region_stats(r, &t);
		if (k && !memcmp(&t, &rep->rs, sizeof(t)))
			break;
		rep->rs = t;
		sleep_ms(5);
	}
	rep->ps.size = sizeof(rep->ps);
	umove_store_memcached_stats(st, &rep->ps);
	child_step("done");
}

static pid_t child_start(const struct scenario *sc)
{
	pid_t pid;

	cr_assert_leq(sc->pages, CHILD_PAGES);
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rep, MAP_FAILED);
	memset(rep, 0, sizeof(*rep));
	child_log = &rep->log;
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid) {
		child = pid;
		return pid;
	}
	alarm(TEST_TIMEOUT); /* never outlive the test */
	catch_fault_signals(true);
	child_main(sc);
	_exit(0);
}

/* Waits up to ms; a child still running is killed and the test fails. */
static void child_wait(pid_t pid, int ms, const char *what)
{
	int status = 0;
	bool ended = child_reap(pid, ms, &status);

	child = 0;
	if (!ended)
		cr_assert_fail("%s: child hung at step %d (%s) for %d ms", what,
			       atomic_load(&rep->log.stage), rep->log.what, ms);
	cr_assert_eq(rep->log.err[0], '\0', "%s: %s", what, rep->log.err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: child status 0x%x at step %d (%s)", what, status,
		  atomic_load(&rep->log.stage), rep->log.what);
}

static void child_release(void)
{
	munmap(rep, sizeof(*rep));
	rep = NULL;
	child_log = NULL;
}

static const char *seen_name(uint8_t s)
{
	static const char *const names[] = {"untouched", "good", "a signal",
					    "zeros", "other bytes"};

	return s < 5 ? names[s] : "?";
}

/* The signal a page that can never be served raises. */
static int poison_signal(void)
{
	struct umove *um = open_default();
	unsigned caps = umove_caps(um);

	close_um(um);
	return caps & UMOVE_CAP_POISON ? SIGBUS : SIGSEGV;
}

/* --- the spec ------------------------------------------------------------- */

struct bad_spec {
	const char *spec;
	const char *why; /* a part of the sentence that says what is wrong */
};

#define H "memcached://127.0.0.1:11211"

static const struct bad_spec bad_specs[] = {
	{"127.0.0.1:11211", "starts with \"memcached://\""},
	{"memcache://127.0.0.1:11211", "starts with \"memcached://\""},
	{"", "starts with \"memcached://\""},
	{"memcached://", "server 1 is empty"},
	{"memcached://?pages=1", "server 1 is empty"},
	{H ",,127.0.0.1:11212", "server 2 is empty"},
	{H ",", "server 2 is empty"},
	{"memcached://127.0.0.1:99999",
	 "port \"99999\" is not a number in 1..65535"},
	{"memcached://127.0.0.1:0", "port \"0\" is not a number in 1..65535"},
	{"memcached://127.0.0.1:", "port \"\" is not a number"},
	{"memcached://127.0.0.1:11211x", "port \"11211x\" is not a number"},
	{"memcached://127.0.0.1:-1", "port \"-1\" is not a number"},
	{"memcached://::1:11211", "an IPv6 address goes in brackets"},
	{"memcached://fe80::1", "an IPv6 address goes in brackets"},
	{"memcached://[::1:11211", "'[' without ']'"},
	{"memcached://[::1]x11211", "unexpected \"x11211\" after the address"},
	{"memcached://bad_host:11211", "\"bad_host\" is not a host name"},
	{"memcached://:11211", "\"\" is not a host name"},
	{H "?colour=red", "unknown option \"colour\""},
	{H "?Replicas=1", "unknown option \"Replicas\""},
	{H "?replicas=0&replicas=0", "option replicas is given twice"},
	{H "?pages=8&namespace=a&pages=8", "option pages is given twice"},
	{H "?replicas", "option replicas has no value"},
	{H "?replicas=1",
	 "replicas=1 needs at least 2 servers; the spec has 1"},
	{H ",127.0.0.1:11212?replicas=2",
	 "replicas=2 needs at least 3 servers; the spec has 2"},
	{H "?replicas=64", "option replicas: \"64\" is not a number in 0..63"},
	{H "?replicas=-1", "option replicas: \"-1\" is not a number"},
	{H "?namespace=a:b",
	 "option namespace: \"a:b\" is not 1 to 64 letters"},
	{H "?namespace=", "option namespace: \"\" is not 1 to 64"},
	{H "?namespace=job 1", "option namespace: \"job 1\""},
	{H "?region=a/b", "option region: \"a/b\" is not 1 to 64"},
	{H "?region=0123456789012345678901234567890123456789012345678901234567"
	   "890123456789",
	 "option region: \"0123456789"},
	{H "?pages=0", "option pages: \"0\" is not a number of pages >= 1"},
	{H "?pages=1k", "option pages: \"1k\" is not a number of pages"},
	{H "?pages=99999999999999999999999", "option pages: \"9999"},
	{H "?pages=4503599627370497", "option pages: \"4503599627370497\""},
	{H "?sparse=2", "option sparse: \"2\" is not 0 or 1"},
	{H "?sparse=yes", "option sparse: \"yes\" is not 0 or 1"},
	{H "?compress=zstd", "option compress: \"zstd\" is not none or lz4"},
	{H "?compress=LZ4", "option compress: \"LZ4\" is not none or lz4"},
	{H "?timeout_ms=0", "option timeout_ms: \"0\" is not a number in "
			    "1..60000"},
	{H "?timeout_ms=60001", "option timeout_ms: \"60001\""},
	{H ",127.0.0.1:11211", "servers 1 and 2 are both 127.0.0.1:11211"},
	{H ",localhost:5,127.0.0.1:11211", "are both 127.0.0.1:11211"},
	{H "?", "option 1 is empty"},
	{H "?replicas=0&&sparse=1", "option 2 is empty"},
	{H "?sparse=1&", "option 2 is empty"},
};

/*
 * Every bad spec is -EINVAL before any server is asked (the ports here
 * have no server), with a sentence naming the bad part.
 */
Test(store_memcached, bad_specs_refused)
{
	for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
		const struct bad_spec *b = &bad_specs[i];
		const char *why = mc_refused(b->spec, 0, -EINVAL);

		cr_assert(strstr(why, b->why),
			  "spec \"%s\": why \"%s\" does not say \"%s\"",
			  b->spec, why, b->why);
		cr_assert_lt(strlen(why), (size_t)WHY);
	}
}

/* 65 servers, one more than a pool can have. */
Test(store_memcached, too_many_servers_refused)
{
	char spec[2048] = "memcached://";
	size_t len = strlen(spec);

	for (unsigned i = 0; i < 65; i++)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len,
					"%s127.0.0.1:%u", i ? "," : "",
					20000 + i);
	cr_assert(strstr(mc_refused(spec, 0, -EINVAL), "more than 64 servers"));
	/* 64 are allowed by the spec: refused later, for want of servers. */
	*strrchr(spec, ',') = '\0';
	cr_assert_neq(umove_store_memcached(&(struct umove_store *){NULL}, spec,
					    UMOVE_STORE_QUIET, NULL, 0),
		      -EINVAL);
}

/*
 * What the grammar allows: the default port, an IPv6 address in brackets,
 * a host name, names of 64 letters, digits, '.', '_' and '-', the largest
 * timeout; the default namespace and region are "umove" and "0", and a
 * page's key is NAMESPACE:REGION:INDEX with the index in lowercase hex.
 */
Test(store_memcached, good_specs_accepted)
{
	static const char name64[] = "a.b_c-D9a.b_c-D9a.b_c-D9a.b_c-D9a.b_c-"
				     "D9a.b_c-D9a.b_c-D9a.b_c-D9";
	struct mc_pool p;
	struct umove_store *st = NULL;
	char spec[512], key[256], *v, *buf = pages_new(1);
	size_t len;
	uint32_t flags;
	unsigned port = unused_port();

	/* Parsed, then refused for want of a server: not -EINVAL. */
	snprintf(spec, sizeof(spec), "memcached://[::1]:%u?pages=1", port);
	cr_assert_neq(umove_store_memcached(&st, spec, 0, NULL, 0), -EINVAL,
		      "%s", spec);
	snprintf(spec, sizeof(spec), "memcached://[::1]?pages=1");
	cr_assert_neq(umove_store_memcached(&st, spec, 0, NULL, 0), -EINVAL,
		      "%s", spec);
	cr_assert_null(st);

	pool_start(&p, 2, 16);
	snprintf(spec, sizeof(spec),
		 "memcached://localhost:%u,127.0.0.1:%u?namespace=%s&region=%s&"
		 "pages=300&timeout_ms=60000&replicas=1&sparse=0&compress=none",
		 p.port[0], p.port[1], name64, name64);
	st = mc_open(spec, 0);
	fill_page(buf, SEED, 0xab);
	expect_ret(umove_store_write(st, 0xab, 1, buf), 0);
	close_store(st);
	snprintf(key, sizeof(key), "%s:%s:ab", name64, name64);
	v = raw_get(p.port[0], key, &len, &flags);
	cr_assert_not_null(v, "no key %s", key);
	cr_assert_eq(len, PG);
	cr_assert_eq(memcmp(v, buf, PG), 0);
	raw_free(v);
	snprintf(key, sizeof(key), "%s:%s:AB", name64, name64);
	cr_assert_null(raw_get(p.port[0], key, &len, &flags));

	/* The defaults. */
	st = mc_open(spec_of(&p, "pages=300"), 0);
	expect_ret(umove_store_write(st, 0xab, 1, buf), 0);
	close_store(st);
	v = raw_get(p.port[0], "umove:0:meta", &len, &flags);
	cr_assert_not_null(v, "no key umove:0:meta");
	raw_free(v);
	v = NULL;
	for (unsigned s = 0; s < 2 && !v; s++)
		v = raw_get(p.port[s], "umove:0:ab", &len, &flags);
	cr_assert_not_null(v, "no key umove:0:ab on any server");
	cr_assert_eq(memcmp(v, buf, PG), 0);
	raw_free(v);
	pages_free(buf, 1);
}

/*
 * NULL arguments and flags that are not memcached flags are -EINVAL before
 * the spec is even looked at (here: a valid spec with no server behind it,
 * which would be another error); a why too short is cut, terminated, and
 * never written past; why NULL or of length 0 is not written.
 */
Test(store_memcached, bad_arguments_refused)
{
	struct umove_store *st = NULL;
	char spec[128], why[64];

	snprintf(spec, sizeof(spec), "memcached://127.0.0.1:%u?pages=8",
		 unused_port());
	expect_ret(umove_store_memcached(NULL, spec, 0, why, sizeof(why)),
		   -EINVAL);
	expect_ret(umove_store_memcached(&st, NULL, 0, why, sizeof(why)),
		   -EINVAL);
	cr_assert_null(st);
	expect_ret(umove_store_memcached(&st, spec, UMOVE_STORE_BUFFERED, why,
					 sizeof(why)),
		   -EINVAL);
	expect_ret(umove_store_memcached(&st, spec, 1u << 3, why, sizeof(why)),
		   -EINVAL);
	expect_ret(umove_store_memcached(&st, spec, 1u << 31, why, sizeof(why)),
		   -EINVAL);
	cr_assert_null(st);

	/* A short why: cut and terminated, nothing written after it. */
	memset(why, 'x', sizeof(why));
	expect_ret(umove_store_memcached(&st, H "?sparse=2", 0, why, 16),
		   -EINVAL);
	cr_assert_eq(strlen(why), 15, "why \"%.16s\"", why);
	for (size_t i = 16; i < sizeof(why); i++)
		cr_assert_eq(why[i], 'x', "why written past its length at %zu",
			     i);
	/* No why, or a why of length 0: still -EINVAL, nothing written. */
	expect_ret(umove_store_memcached(&st, H "?sparse=2", 0, NULL, 0),
		   -EINVAL);
	expect_ret(umove_store_memcached(&st, H "?sparse=2", 0, NULL, 100),
		   -EINVAL);
	memset(why, 'x', sizeof(why));
	expect_ret(umove_store_memcached(&st, H "?sparse=2", 0, why, 0),
		   -EINVAL);
	cr_assert_eq(why[0], 'x');
	cr_assert_null(st);
}

/* --- servers that do not answer at open ----------------------------------- */

/*
 * Opening asks every server: one where nothing listens is an error (not
 * -EINVAL, not -ENOENT, with or without pages=), and why names it, not
 * the servers that answer.
 */
Test(store_memcached, unreachable_server_named)
{
	struct mc_pool p;
	struct umove_store *st = NULL;
	unsigned dead = unused_port();
	char spec[256], name[64], why[WHY];
	int ret;

	snprintf(spec, sizeof(spec), "memcached://127.0.0.1:%u?pages=8", dead);
	snprintf(name, sizeof(name), "127.0.0.1:%u", dead);
	ret = umove_store_memcached(&st, spec, 0, why, sizeof(why));
	/* Refused where loopback is up; unreachable where it is down (a VM
	 * guest booted without networking). */
	cr_assert(ret == -ECONNREFUSED || ret == -ENETUNREACH ||
			  ret == -EHOSTUNREACH,
		  "opening on a port where nothing listens: %d (%s)", ret,
		  umove_strerror(ret));
	cr_assert(strstr(why, name), "why \"%s\" does not name %s", why, name);
	cr_assert_null(st);

	pool_start(&p, 2, 16);
	for (int k = 0; k < 2; k++) {
		snprintf(spec, sizeof(spec),
			 "memcached://127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u%s",
			 p.port[0], dead, p.port[1], k ? "?pages=8" : "");
		ret = umove_store_memcached(&st, spec, 0, why, sizeof(why));
		expect_ret(ret, -ECONNREFUSED);
		cr_assert(strstr(why, name), "why \"%s\" does not name %s", why,
			  name);
		for (unsigned s = 0; s < 2; s++) {
			char live[64];

			snprintf(live, sizeof(live), "127.0.0.1:%u", p.port[s]);
			cr_assert(!strstr(why, live),
				  "why \"%s\" names %s, which answers", why,
				  live);
		}
		cr_assert_null(st);
	}
}

/* --- images: create, reopen, refuse --------------------------------------- */

/*
 * pages=64 creates an image; reopened without pages= it has 64 pages, its
 * replicas from the pool, and every byte written; a spec that disagrees
 * with the pool (pages, replicas, sparse, compress, the number of servers)
 * is -EEXIST with a why; an image never created is -ENOENT; the servers'
 * order in the spec does not matter.
 */
Test(store_memcached, create_reopen_and_mismatch)
{
	static const char *const differ[] = {
		"namespace=t3&pages=65",     "namespace=t3&pages=1",
		"namespace=t3&replicas=0",   "namespace=t3&sparse=1",
		"namespace=t3&compress=lz4", "namespace=t3&pages=64&sparse=1",
	};
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps;
	char spec[256], *buf = pages_new(64);
	const char *why;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=t3&pages=64&replicas=1"), 0);
	expect_ret(umove_store_pages(st), 64);
	ps = pstats(st);
	cr_assert_eq(ps.servers, 2);
	cr_assert_eq(ps.replicas, 1);
	write_pattern(st, 64, SEED, 16);
	close_store(st);

	/* Reopened: the pool says how big, and how many copies. */
	st = mc_open(spec_of(&p, "namespace=t3"), 0);
	expect_ret(umove_store_pages(st), 64);
	cr_assert_eq(pstats(st).replicas, 1);
	memset(buf, 0, 64 * PG);
	expect_ret(umove_store_read(st, 0, 64, buf), 0);
	expect_pages(buf, 64, SEED, "reopened image, one read");
	expect_pattern(st, 64, SEED, 1, "reopened image, page by page");
	expect_ret(umove_store_read(st, 64, 1, buf), -EINVAL);
	expect_ret(umove_store_read(st, 60, 5, buf), -EINVAL);
	close_store(st);

	/* What the spec says must be what the pool holds. */
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		why = mc_refused(pool_spec(&p, differ[i]), 0, -EEXIST);
		cr_assert(strstr(why, "t3:0") && strstr(why, "64 pages") &&
				  strstr(why, "replicas=1"),
			  "%s: why \"%s\"", differ[i], why);
	}
	/* The same, said in full: accepted. */
	close_store(mc_open(spec_of(&p, "namespace=t3&pages=64&replicas=1&"
					"sparse=0&compress=none&region=0"),
			    0));
	/* One server of the two: the keys would be looked for elsewhere. */
	snprintf(spec, sizeof(spec), "memcached://127.0.0.1:%u?namespace=t3",
		 p.port[1]);
	why = mc_refused(spec, 0, -EEXIST);
	cr_assert(strstr(why, "on 2 servers"), "why \"%s\"", why);
	/* The servers in the other order: the same pool. */
	snprintf(spec, sizeof(spec),
		 "memcached://127.0.0.1:%u,127.0.0.1:%u?namespace=t3",
		 p.port[1], p.port[0]);
	st = mc_open(spec, 0);
	expect_pattern(st, 64, SEED, 8, "servers in the other order");
	close_store(st);

	/* Never created: another namespace, another region. */
	why = mc_refused(pool_spec(&p, "namespace=never"), 0, -ENOENT);
	cr_assert(strstr(why, "never:0"), "why \"%s\"", why);
	why = mc_refused(pool_spec(&p, "namespace=t3&region=r2"), 0, -ENOENT);
	cr_assert(strstr(why, "t3:r2"), "why \"%s\"", why);
	pages_free(buf, 64);
}

/*
 * UMOVE_STORE_RDONLY: an existing image reads as written, writes are
 * -EROFS and change nothing; it never creates an image, even with pages=.
 */
Test(store_memcached, rdonly)
{
	struct mc_pool p;
	struct umove_store *st;
	char *buf = pages_new(4);

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=ro&pages=32"), 0);
	write_pattern(st, 32, SEED, 8);
	close_store(st);

	st = mc_open(spec_of(&p, "namespace=ro"), UMOVE_STORE_RDONLY);
	expect_ret(umove_store_pages(st), 32);
	expect_pattern(st, 32, SEED, 4, "read-only store");
	fill_pages(buf, 4, SEED2);
	expect_ret(umove_store_write(st, 0, 4, buf), -EROFS);
	expect_ret(umove_store_write(st, 31, 1, buf), -EROFS);
	cr_assert_eq(pstats(st).sets, 0, "a read-only store sent a set");
	expect_pattern(st, 32, SEED, 32, "after refused writes");
	close_store(st);
	st = mc_open(spec_of(&p, "namespace=ro&pages=32"),
		     UMOVE_STORE_RDONLY | UMOVE_STORE_QUIET);
	expect_pattern(st, 32, SEED, 32, "read-only store with pages=");
	close_store(st);

	mc_refused(spec_of(&p, "namespace=ro2&pages=8"), UMOVE_STORE_RDONLY,
		   -ENOENT);
	mc_refused(spec_of(&p, "namespace=ro2"), 0, -ENOENT);
	pages_free(buf, 4);
}

/*
 * Two regions of one namespace, and two namespaces, are separate images
 * on the same servers: pages of one never show in another.
 */
Test(store_memcached, images_are_separate)
{
	struct mc_pool p;
	struct umove_store *a, *b, *c;

	pool_start(&p, 2, 16);
	a = mc_open(spec_of(&p, "namespace=n1&region=a&pages=16"), 0);
	b = mc_open(spec_of(&p, "namespace=n1&region=b&pages=32"), 0);
	c = mc_open(spec_of(&p, "namespace=n2&region=a&pages=8&sparse=1"), 0);
	write_pattern(a, 16, SEED, 4);
	write_pattern(b, 32, SEED2, 4);
	expect_pattern(a, 16, SEED, 16, "namespace n1 region a");
	expect_pattern(b, 32, SEED2, 16, "namespace n1 region b");
	char *buf = pages_new(8);

	memset(buf, 0xa5, 8 * PG);
	expect_ret(umove_store_read(c, 0, 8, buf), 0);
	for (size_t i = 0; i < 8; i++)
		expect_zero_page(buf + i * PG, "namespace n2 region a");
	expect_ret(umove_store_pages(b), 32);
	close_store(a);
	close_store(b);
	close_store(c);
	pages_free(buf, 8);
}

/* Of pages [0, n) written with seed: how many read back, as zeros, failed. */
struct read_tally {
	size_t good, zeros, errors;
};

static struct read_tally tally_reads(struct umove_store *st, size_t n,
				     uint32_t seed)
{
	struct read_tally t = {0, 0, 0};
	char *buf = pages_new(1);

	for (size_t i = 0; i < n; i++) {
		memset(buf, 0xa5, PG);
		if (umove_store_read(st, i, 1, buf))
			t.errors++;
		else if (page_matches(buf, seed, i))
			t.good++;
		else if (is_zero_page(buf))
			t.zeros++;
	}
	pages_free(buf, 1);
	return t;
}

/*
 * Another set of servers, of the same size, places keys elsewhere: the
 * pool's image must be refused (-EEXIST) like a spec with another number
 * of servers. If it were opened, a sparse image would read pages written
 * on the server left out as zeros (the server they are now looked for on
 * holds its mark), so the test says how many did.
 */
Test(store_memcached, other_servers_same_count_refused)
{
	struct mc_pool p;
	struct umove_store *st = NULL;
	char spec[256], why[WHY] = "";
	struct read_tally t = {0, 0, 0};
	int ret;

	pool_start(&p, 3, 16);
	snprintf(spec, sizeof(spec),
		 "memcached://127.0.0.1:%u,127.0.0.1:%u?namespace=sw&pages=64&"
		 "sparse=1",
		 p.port[0], p.port[1]);
	st = mc_open(spec, 0);
	write_pattern(st, 64, SEED, 8);
	close_store(st);
	st = NULL;

	snprintf(spec, sizeof(spec),
		 "memcached://127.0.0.1:%u,127.0.0.1:%u?namespace=sw",
		 p.port[0], p.port[2]);
	ret = umove_store_memcached(&st, spec, UMOVE_STORE_QUIET, why,
				    sizeof(why));
	if (!ret) {
		track(st);
		t = tally_reads(st, 64, SEED);
	}
	cr_assert_eq(ret, -EEXIST,
		     "a pool of other servers (same count) opened: %d; of 64 "
		     "written pages %zu read back, %zu read as zeros, %zu "
		     "failed",
		     ret, t.good, t.zeros, t.errors);
}

/*
 * The same servers spelled otherwise ("localhost" for "127.0.0.1"): keys
 * are placed by name, so either the image is refused, or every page
 * written reads back. A page that reads as zeros is lost data.
 */
Test(store_memcached, same_servers_other_names)
{
	struct mc_pool p;
	struct umove_store *st = NULL;
	char spec[256], why[WHY] = "";
	struct read_tally t;
	int ret;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=nm&pages=64&sparse=1"), 0);
	write_pattern(st, 64, SEED, 8);
	close_store(st);
	st = NULL;

	snprintf(spec, sizeof(spec),
		 "memcached://localhost:%u,localhost:%u?namespace=nm",
		 p.port[0], p.port[1]);
	ret = umove_store_memcached(&st, spec, UMOVE_STORE_QUIET, why,
				    sizeof(why));
	if (ret == -EEXIST)
		return;
	expect_ret_as(ret, 0, "open by other names (or -EEXIST)");
	track(st);
	t = tally_reads(st, 64, SEED);
	cr_assert_eq(t.good, 64,
		     "the same servers by other names: of 64 written pages "
		     "%zu read back, %zu read as zeros, %zu failed",
		     t.good, t.zeros, t.errors);
	close_store(st);
}

/*
 * A meta key that umove did not write, on any server, is -EBADMSG at
 * open, naming the server that holds it (a read-only open too); a meta
 * that disagrees with the others (another image under the same name) is
 * refused too, not overwritten.
 */
Test(store_memcached, bad_meta_refused)
{
	struct mc_pool p;
	unsigned order[POOL_MAX];
	char name[64], *good;
	size_t len;
	uint32_t flags;

	struct umove_store *st = NULL;
	char wb[WHY], rb[48];
	int ret;

	pool_start(&p, 2, 16);
	sorted_order(&p, order);
	close_store(mc_open(spec_of(&p, "namespace=bm&pages=8"), 0));
	good = raw_get(p.port[0], "bm:0:meta", &len, &flags);
	cr_assert_not_null(good);
	for (unsigned k = 0; k < 2; k++) {
		unsigned s = order[k];

		snprintf(name, sizeof(name), "127.0.0.1:%u", p.port[s]);
		raw_set(p.port[s], "bm:0:meta", "umove-image 1 pages=oops", 24,
			0);
		ret = umove_store_memcached(&st, spec_of(&p, "namespace=bm"), 0,
					    wb, sizeof(wb));
		if (!ret)
			track(st);
		cr_assert_eq(ret, -EBADMSG,
			     "a meta umove did not write on %s (the %s server "
			     "in sorted order): %s",
			     name, k ? "second" : "first", ret_str(ret, rb));
		cr_assert(strstr(wb, name), "why \"%s\" does not name %s", wb,
			  name);
		mc_refused(spec_of(&p, "namespace=bm"), UMOVE_STORE_RDONLY,
			   -EBADMSG);
		raw_set(p.port[s], "bm:0:meta", "", 0, 0);
		mc_refused(spec_of(&p, "namespace=bm"), 0, -EBADMSG);
		raw_set(p.port[s], "bm:0:meta", good, len, flags);
	}
	/* Another image's meta (the same, but 9 pages) on the second server. */
	{
		char other[256];
		const char *at = strstr(good, "pages=");

		cr_assert_not_null(at);
		snprintf(other, sizeof(other), "%.*spages=9%s",
			 (int)(at - good), good, strchr(at, ' '));
		raw_set(p.port[order[1]], "bm:0:meta", other, strlen(other), 0);
	}
	mc_refused(spec_of(&p, "namespace=bm"), 0, -EEXIST);
	raw_free(good);
}

/* --- 256 MiB, byte for byte, 8 threads ------------------------------------ */

#define BIG_PAGES 65536 /* 256 MiB */
#define BIG_THREADS 8
#define BIG_BATCH 64

struct share {
	pthread_t tid;
	struct umove_store *st;
	char *base; /* the region, for checkers and painters */
	uint32_t seed;
	size_t first, n;
	int err;
	size_t bad, first_bad;
};

/*
 * Writes its share with umove_store_write (pattern SEED), or reads it with
 * umove_store_read and checks every byte (pattern s->seed), BIG_BATCH
 * pages a call.
 */
static void store_share(struct share *s, bool write)
{
	char *buf = mmap(NULL, BIG_BATCH * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED) {
		s->err = -ENOMEM;
		return;
	}
	for (size_t i = s->first; i < s->first + s->n && !s->err;
	     i += BIG_BATCH) {
		size_t k = s->first + s->n - i;

		k = k < BIG_BATCH ? k : BIG_BATCH;
		if (write) {
			for (size_t j = 0; j < k; j++)
				fill_page(buf + j * PG, SEED, i + j);
			s->err = umove_store_write(s->st, i, k, buf);
			continue;
		}
		s->err = umove_store_read(s->st, i, k, buf);
		for (size_t j = 0; j < k && !s->err; j++)
			if (!page_matches(buf + j * PG, s->seed, i + j) &&
			    !s->bad++)
				s->first_bad = i + j;
	}
	munmap(buf, BIG_BATCH * PG);
}

static void *writer_main(void *arg)
{
	store_share(arg, true);
	return NULL;
}

/* Touches and checks every byte of its share of the region. */
static void *checker_main(void *arg)
{
	struct share *s = arg;

	for (size_t i = s->first; i < s->first + s->n; i++)
		if (!page_matches(s->base + i * PG, s->seed, i) && !s->bad++)
			s->first_bad = i;
	return NULL;
}

/* Writes pattern seed over its share of the region. */
static void *painter_main(void *arg)
{
	struct share *s = arg;

	for (size_t i = s->first; i < s->first + s->n; i++)
		fill_page(s->base + i * PG, s->seed, i);
	return NULL;
}

static void *reader_main(void *arg)
{
	store_share(arg, false);
	return NULL;
}

static void run_shares(struct share *sh, void *(*fn)(void *))
{
	for (unsigned t = 0; t < BIG_THREADS; t++)
		cr_assert_eq(pthread_create(&sh[t].tid, NULL, fn, &sh[t]), 0);
	for (unsigned t = 0; t < BIG_THREADS; t++)
		pthread_join(sh[t].tid, NULL);
}

/*
 * 65536 pages (256 MiB) through 3 servers: 8 threads write them with
 * umove_store_write, then a region with read-ahead and 4 handler threads
 * serves 8 threads that check every byte. Multi-gets batch the read-ahead
 * runs, nothing fails over. Then the 8 threads write other bytes over the
 * whole region, umove_unmap writes back every page, and 8 threads read
 * them all back with umove_store_read.
 */
Test(store_memcached, big_round_trip_8_threads)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_region *r;
	struct umove_pool_stats ps0, ps;
	struct umove_stats rs;
	struct share sh[BIG_THREADS];
	size_t per = BIG_PAGES / BIG_THREADS;
	double t0, t_write, t_read;

	pool_start(&p, 3, 256);
	st = mc_open(spec_of(&p, "namespace=big&pages=%d", BIG_PAGES), 0);
	ps0 = pstats(st);
	memset(sh, 0, sizeof(sh));
	for (unsigned t = 0; t < BIG_THREADS; t++) {
		sh[t].st = st;
		sh[t].seed = SEED;
		sh[t].first = t * per;
		sh[t].n = per;
	}
	t0 = now_s();
	run_shares(sh, writer_main);
	t_write = now_s() - t0;
	for (unsigned t = 0; t < BIG_THREADS; t++)
		expect_ret_as(sh[t].err, 0, "a writer's umove_store_write");
	ps = pstats(st);
	cr_assert_eq(ps.sets - ps0.sets, BIG_PAGES, "sets %" PRIu64,
		     ps.sets - ps0.sets);
	cr_assert_eq(ps.write_failures, 0);

	r = region_on(st, BIG_PAGES, 4, 15, 0);
	ps0 = pstats(st);
	for (unsigned t = 0; t < BIG_THREADS; t++)
		sh[t].base = umove_region_addr(r);
	t0 = now_s();
	run_shares(sh, checker_main);
	t_read = now_s() - t0;
	for (unsigned t = 0; t < BIG_THREADS; t++)
		cr_assert_eq(sh[t].bad, 0,
			     "%zu pages of thread %u differ, the first page "
			     "%zu",
			     sh[t].bad, t, sh[t].first_bad);
	rs = settled_stats(r, BIG_PAGES);
	ps = pstats(st);
	cr_assert_eq(rs.pages_filled, BIG_PAGES);
	cr_assert_eq(rs.read_errors, 0);
	cr_assert_eq(rs.pages_poisoned, 0);
	cr_assert_gt(rs.readahead_pages, 0);
	cr_assert_eq(ps.mget_keys - ps0.mget_keys, BIG_PAGES,
		     "mget_keys %" PRIu64, ps.mget_keys - ps0.mget_keys);
	cr_assert_gt(ps.mget_keys - ps0.mget_keys, ps.mgets - ps0.mgets,
		     "no batching: %" PRIu64 " keys in %" PRIu64 " multi-gets",
		     ps.mget_keys - ps0.mget_keys, ps.mgets - ps0.mgets);
	cr_assert_geq(ps.round_trips - ps0.round_trips, ps.mgets - ps0.mgets);
	cr_assert_gt(ps.round_trips, 0);
	cr_assert_eq(ps.failovers, 0);
	cr_assert_eq(ps.misses, 0);
	cr_assert_eq(ps.corrupt, 0);
	cr_assert_eq(ps.read_failures, 0);
	cr_assert_geq(ps.bytes_received - ps0.bytes_received,
		      (uint64_t)BIG_PAGES * PG);
	cr_assert_gt(ps.rtt_ns_p50, 0);
	cr_assert_geq(ps.rtt_ns_p99, ps.rtt_ns_p50);
	cr_log_info("256 MiB: written in %.2f s by 8 threads, read through a "
		    "region in %.2f s (%" PRIu64 " keys in %" PRIu64
		    " multi-gets, rtt p50 %" PRIu64 " us)",
		    t_write, t_read, ps.mget_keys - ps0.mget_keys,
		    ps.mgets - ps0.mgets, ps.rtt_ns_p50 / 1000);

	/* Other bytes over all of it, written back by umove_unmap. */
	for (unsigned t = 0; t < BIG_THREADS; t++)
		sh[t].seed = SEED2;
	t0 = now_s();
	run_shares(sh, painter_main);
	unmap_region(r);
	t_write = now_s() - t0;
	ps0 = ps;
	ps = pstats(st);
	cr_assert_eq(ps.sets - ps0.sets, BIG_PAGES,
		     "unmap wrote %" PRIu64 " pages back", ps.sets - ps0.sets);
	cr_assert_eq(ps.write_failures, 0);
	close_store(st);

	st = mc_open(spec_of(&p, "namespace=big"), 0);
	t0 = now_s();
	for (unsigned t = 0; t < BIG_THREADS; t++)
		sh[t].st = st;
	run_shares(sh, reader_main);
	t_read = now_s() - t0;
	for (unsigned t = 0; t < BIG_THREADS; t++) {
		expect_ret_as(sh[t].err, 0, "a reader's umove_store_read");
		cr_assert_eq(sh[t].bad, 0,
			     "%zu pages of thread %u differ after the write "
			     "back, the first page %zu",
			     sh[t].bad, t, sh[t].first_bad);
	}
	cr_log_info("256 MiB: painted and written back by umove_unmap in %.2f "
		    "s, read back by 8 threads in %.2f s",
		    t_write, t_read);
	close_store(st);
}

/* --- servers that die ----------------------------------------------------- */

#define KILL_PAGES 4096 /* 16 MiB */

/*
 * replicas=1 on 3 servers: every page is on exactly two servers, the
 * second the next one in sorted order. One server killed: every byte
 * still reads back, by umove_store_read and through a region, from the
 * other copy (one failover for each page whose first copy was on the dead
 * server); a write that cannot reach every copy fails, but the live copy
 * took it and reads back.
 */
Test(store_memcached, replica_survives_killed_server)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_region *r;
	struct umove_pool_stats ps0, ps;
	struct umove_stats rs;
	uint8_t *mask = malloc(KILL_PAGES);
	size_t first_on_dead = 0, on_dead = 0;
	const unsigned dead = 1;
	char *buf = pages_new(1);
	const char *base;

	hold(mask);
	pool_start(&p, 3, 64);
	st = mc_open(
		spec_of(&p, "namespace=rk&pages=%d&replicas=1", KILL_PAGES), 0);
	write_pattern(st, KILL_PAGES, SEED, 64);
	holders(&p, "rk", KILL_PAGES, mask);
	for (size_t i = 0; i < KILL_PAGES; i++) {
		cr_assert_eq(__builtin_popcount(mask[i]), 2,
			     "page %zu is on servers 0x%x", i, mask[i]);
		first_on_dead += first_copy(&p, mask[i]) == dead;
		on_dead += !!(mask[i] & (1u << dead));
	}
	cr_assert_gt(first_on_dead, 0);

	pool_kill(&p, dead);
	ps0 = pstats(st);
	expect_pattern(st, KILL_PAGES, SEED, 64, "a copy on a dead server");
	ps = pstats(st);
	cr_assert_eq(ps.failovers - ps0.failovers, first_on_dead,
		     "failovers %" PRIu64 ", pages first on the dead server "
		     "%zu",
		     ps.failovers - ps0.failovers, first_on_dead);
	cr_assert_gt(ps.read_failures, ps0.read_failures);
	cr_assert_eq(ps.corrupt, 0);

	r = region_on(st, KILL_PAGES, 2, 15, 0);
	base = umove_region_addr(r);
	for (size_t i = 0; i < KILL_PAGES; i++)
		expect_page(base + i * PG, SEED, i, "region, a server dead");
	rs = settled_stats(r, KILL_PAGES);
	cr_assert_eq(rs.read_errors, 0);
	cr_assert_eq(rs.pages_filled, KILL_PAGES);
	cr_assert_eq(pstats(st).failovers - ps.failovers, first_on_dead);
	expect_ret(umove_unmap_discard(r), 0);
	untrack_region(r);

	/* Writes: those with a copy on the dead server fail, yet stick. */
	ps0 = pstats(st);
	for (size_t i = 0; i < 64; i++) {
		fill_page(buf, SEED2, i);
		int e = umove_store_write(st, i, 1, buf);

		if (mask[i] & (1u << dead))
			cr_assert_lt(e, 0,
				     "page %zu: a write with a copy on "
				     "the dead server succeeded",
				     i);
		else
			expect_ret_as(e, 0, "write with both copies alive");
	}
	ps = pstats(st);
	cr_assert_gt(ps.write_failures, ps0.write_failures);
	for (size_t i = 0; i < 64; i++) {
		memset(buf, 0, PG);
		expect_ret(umove_store_read(st, i, 1, buf), 0);
		expect_page(buf, SEED2, i, "rewritten with a server dead");
	}
	close_store(st);
	cr_log_info("replicas=1: %zu of %d pages had their first copy on the "
		    "killed server, %zu a copy",
		    first_on_dead, KILL_PAGES, on_dead);
	drop(mask);
	free(mask);
	pages_free(buf, 1);
}

/* replicas=2 on 3 servers: every page on all three; two may die. */
Test(store_memcached, two_replicas_survive_two_dead)
{
	struct mc_pool p;
	struct umove_store *st;
	uint8_t mask[512];

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=r2&pages=512&replicas=2"), 0);
	write_pattern(st, 512, SEED, 64);
	holders(&p, "r2", 512, mask);
	for (size_t i = 0; i < 512; i++)
		cr_assert_eq(mask[i], 7, "page %zu on servers 0x%x", i,
			     mask[i]);
	pool_kill(&p, 0);
	pool_kill(&p, 2);
	expect_pattern(st, 512, SEED, 16, "two servers of three dead");
	expect_pattern(st, 512, SEED, 1, "two dead, page by page");
	cr_assert_gt(pstats(st).failovers, 0);
	close_store(st);
}

/*
 * replicas=1, a hung server (timeout_ms=200): a page whose first copy is
 * on it is read from the other copy once the first times out: data, not
 * an error.
 */
Test(store_memcached, hung_server_replica_fails_over)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps;
	const unsigned hung = 1;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=hr&pages=32&replicas=1&"
				 "timeout_ms=200"),
		     0);
	write_pattern(st, 32, SEED, 8);
	pool_freeze(&p, hung, true);
	expect_pattern(st, 32, SEED, 32, "a copy hung, one read");
	expect_pattern(st, 32, SEED, 4, "a copy hung, 4 pages a read");
	ps = pstats(st);
	cr_assert_gt(ps.failovers, 0);
	cr_assert_gt(ps.read_failures, 0);
	cr_assert_eq(ps.corrupt, 0);
	pool_freeze(&p, hung, false);
	close_store(st);
}

#define DEAD_PAGES 512

/*
 * No replicas: a server killed while a child touches every page of a
 * region. What was read before stays right; after the kill, exactly the
 * pages the dead server held raise SIGBUS (after the region's retries,
 * without hanging), the others read right; the parent is unharmed.
 */
Test(store_memcached, dead_server_sigbus_in_child)
{
	struct mc_pool p;
	struct umove_store *st;
	uint8_t mask[DEAD_PAGES];
	const unsigned dead = 2;
	struct scenario sc = {.pages = DEAD_PAGES,
			      .seed = SEED,
			      .threads = 2,
			      .readahead = 15,
			      .retries = 2,
			      .kill_at = DEAD_PAGES / 2};
	size_t signalled = 0, lost = 0;
	int want_sig = poison_signal();
	pid_t pid;

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=dd&pages=%d", DEAD_PAGES), 0);
	write_pattern(st, DEAD_PAGES, SEED, 64);
	close_store(st);
	holders(&p, "dd", DEAD_PAGES, mask);
	sc.spec = spec_of(&p, "namespace=dd");
	sc.kill_pid = p.pid[dead];
	sc.kill_port = p.port[dead];

	pid = child_start(&sc);
	child_wait(pid, CHILD_MS, "touching a region while a server dies");
	pool_kill(&p, dead); /* reaps it */
	for (size_t i = 0; i < DEAD_PAGES; i++) {
		bool on_dead = mask[i] == (1u << dead);

		cr_assert_eq(__builtin_popcount(mask[i]), 1);
		if (i < sc.kill_at) {
			cr_assert_eq(rep->seen[i], GOOD,
				     "page %zu before the kill: %s", i,
				     seen_name(rep->seen[i]));
			cr_assert_eq(rep->again[i], GOOD,
				     "page %zu again after the kill: %s", i,
				     seen_name(rep->again[i]));
			continue;
		}
		/* Read ahead before the kill: resident, so it stays. */
		on_dead &= !rep->resident[i];
		lost += on_dead;
		cr_assert_eq(rep->seen[i], on_dead ? SIGNALLED : GOOD,
			     "page %zu (on the dead server: %d, resident "
			     "at the kill: %d): %s",
			     i, on_dead, rep->resident[i],
			     seen_name(rep->seen[i]));
		signalled += rep->seen[i] == SIGNALLED;
	}
	cr_assert_gt(lost, 0);
	cr_assert_eq(rep->sig, want_sig, "signal %d, want %d", rep->sig,
		     want_sig);
	cr_assert_eq(rep->rs.pages_poisoned, signalled);
	cr_assert_geq(rep->rs.read_errors, 3 * signalled,
		      "read_errors %" PRIu64 " for %zu pages, 2 retries",
		      rep->rs.read_errors, signalled);
	cr_assert_gt(rep->ps.read_failures, 0);
	cr_log_info("dead server: %zu of %d pages SIGBUS, %.2f s to touch "
		    "them all",
		    signalled, DEAD_PAGES, rep->elapsed_s);
	child_release();
}

/*
 * A server that hangs (SIGSTOP) with timeout_ms=200: a read of a page on
 * it is an error, not data, and returns (the test's timeout catches a
 * hang); pages on the other server read as usual meanwhile; once the
 * server runs again, every page reads back right (no answer meant for an
 * abandoned request is taken for a later one).
 */
Test(store_memcached, hung_server_times_out)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps;
	uint8_t mask[64];
	const unsigned hung = 0;
	size_t on_hung[64], n_hung = 0, on_live = 64;
	char *buf = pages_new(1);
	double t0, t_read, t_again, t_write;
	int ret;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=hg&pages=64&timeout_ms=200"), 0);
	write_pattern(st, 64, SEED, 8);
	holders(&p, "hg", 64, mask);
	for (size_t i = 0; i < 64; i++)
		if (mask[i] == 1u << hung)
			on_hung[n_hung++] = i;
		else
			on_live = i;
	cr_assert_geq(n_hung, 2);
	cr_assert_lt(on_live, 64);

	pool_freeze(&p, hung, true);
	memset(buf, 0xa5, PG);
	t0 = now_s();
	ret = umove_store_read(st, on_hung[0], 1, buf);
	t_read = now_s() - t0;
	expect_ret(ret, -ETIMEDOUT);
	ps = pstats(st);
	cr_assert_lt(ret, 0,
		     "a read from a hung server returned %d after %.3f s, "
		     "the page %s; read_failures %" PRIu64 " misses %" PRIu64
		     " round_trips %" PRIu64 " mgets %" PRIu64,
		     ret, t_read,
		     page_matches(buf, SEED, on_hung[0]) ? "right"
		     : is_zero_page(buf)		 ? "zeros"
							 : "other bytes",
		     ps.read_failures, ps.misses, ps.round_trips, ps.mgets);
	cr_assert(!page_matches(buf, SEED, on_hung[0]) && !is_zero_page(buf),
		  "a failed read filled the caller's page");
	/* The other server still serves, the hung one still fails. */
	expect_ret(umove_store_read(st, on_live, 1, buf), 0);
	expect_page(buf, SEED, on_live, "a page on the live server");
	t0 = now_s();
	cr_assert_lt(umove_store_read(st, on_hung[1], 1, buf), 0);
	t_again = now_s() - t0;
	fill_page(buf, SEED2, on_hung[1]);
	t0 = now_s();
	cr_assert_lt(umove_store_write(st, on_hung[1], 1, buf), 0,
		     "a write to a hung server succeeded");
	t_write = now_s() - t0;
	ps = pstats(st);
	cr_assert_gt(ps.read_failures, 0);
	cr_assert_gt(ps.write_failures, 0);
	cr_assert_eq(ps.corrupt, 0);

	pool_freeze(&p, hung, false);
	/* Reachable again after the store's retry delay (1 s). */
	for (int i = 0; i < 100; i++) {
		if (!umove_store_read(st, on_hung[0], 1, buf))
			break;
		sleep_ms(50);
	}
	for (size_t i = 0; i < 64; i++) {
		memset(buf, 0xa5, PG);
		expect_ret(umove_store_read(st, i, 1, buf), 0);
		/* The write that timed out may have landed after all. */
		if (i == on_hung[1] && page_matches(buf, SEED2, i))
			continue;
		expect_page(buf, SEED, i, "after the server resumed");
	}
	/*
	 * A server that timed out is passed over for a second (writes to it
	 * fail at once): the write succeeds once that has passed.
	 */
	fill_page(buf, SEED, on_hung[1]);
	for (int tries = 0;
	     (ret = umove_store_write(st, on_hung[1], 1, buf)) && tries < 100;
	     tries++)
		sleep_ms(50);
	expect_ret(ret, 0);
	expect_pattern(st, 64, SEED, 64, "all at once");
	cr_log_info("hung server, timeout_ms=200: a read failed (%d) after "
		    "%.3f s, the next after %.3f s, a write after %.3f s",
		    ret, t_read, t_again, t_write);
	close_store(st);
	pages_free(buf, 1);
}

/* --- servers restarted empty ---------------------------------------------- */

#define RS_PAGES 256

/*
 * Reads every page one at a time: a page the restarted server held (mask
 * bit `lost`) must fail, with want if want is not 0; any other page must
 * read right (or as zeros where zero[i]). Returns the pages that failed.
 */
static size_t read_after_restart(struct umove_store *st, const uint8_t *mask,
				 unsigned lost, int want, const bool *zero,
				 const char *what)
{
	char *buf = pages_new(1);
	char rb[48];
	size_t failed = 0;

	for (size_t i = 0; i < RS_PAGES; i++) {
		bool gone = mask[i] == 1u << lost;
		int ret;

		memset(buf, 0xa5, PG);
		ret = umove_store_read(st, i, 1, buf);
		if (gone) {
			cr_assert_lt(ret, 0,
				     "%s: page %zu was on the restarted "
				     "server, and read with 0 as %s",
				     what, i,
				     is_zero_page(buf) ? "zeros"
				     : page_matches(buf, SEED, i)
					     ? "its bytes"
					     : "other bytes");
			if (want)
				cr_assert_eq(ret, want, "%s: page %zu: %s",
					     what, i, ret_str(ret, rb));
			failed++;
		} else {
			expect_ret_as(ret, 0, what);
			if (zero && zero[i])
				expect_zero_page(buf, what);
			else
				expect_page(buf, SEED, i, what);
		}
	}
	pages_free(buf, 1);
	return failed;
}

/*
 * replicas=0, not sparse: a server restarted empty loses its pages. The
 * store that was open reads them as errors (at first the broken
 * connection's, then -ENODATA), a store opened afterwards as -ENODATA,
 * never zeros; the other pages read right. Opening warns of the server
 * that lost the image, unless UMOVE_STORE_QUIET.
 */
Test(store_memcached, restarted_server_pages_fail)
{
	struct mc_pool p;
	struct umove_store *st, *st2;
	uint8_t mask[RS_PAGES];
	const unsigned lost = 1;
	char name[64];
	const char *err;
	size_t n_lost = 0;
	uint64_t misses;

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=rs&pages=%d", RS_PAGES), 0);
	write_pattern(st, RS_PAGES, SEED, 32);
	holders(&p, "rs", RS_PAGES, mask);
	for (size_t i = 0; i < RS_PAGES; i++)
		n_lost += mask[i] == 1u << lost;
	cr_assert_gt(n_lost, 0);

	pool_restart(&p, lost);
	cr_assert_eq(read_after_restart(st, mask, lost, 0, NULL,
					"the store open across the restart"),
		     n_lost);

	snprintf(name, sizeof(name), "127.0.0.1:%u", p.port[lost]);
	capture_start();
	st2 = mc_open(spec_of(&p, "namespace=rs"), 0);
	err = capture_end();
	cr_assert(strstr(err, name) && strstr(err, "does not hold image rs:0"),
		  "the warning for a server restarted empty: \"%s\"", err);
	misses = pstats(st2).misses;
	cr_assert_eq(read_after_restart(st2, mask, lost, -ENODATA, NULL,
					"a store opened after the restart"),
		     n_lost);
	cr_assert_eq(pstats(st2).misses - misses, n_lost);
	cr_assert_eq(pstats(st2).read_failures, 0);
	close_store(st2);

	capture_start();
	st2 = mc_open(spec_of(&p, "namespace=rs"), UMOVE_STORE_QUIET);
	err = capture_end();
	cr_assert_str_empty(err, "UMOVE_STORE_QUIET, yet: \"%s\"", err);
	close_store(st2);
	close_store(st);
}

/*
 * sparse=1: a page missing from a server restarted empty is not a page
 * never written, since that server lost the image's mark: an error, not
 * zeros. Pages never written read as zeros on the servers that kept the
 * mark, and as errors on the restarted one.
 */
Test(store_memcached, restarted_server_sparse_not_zeros)
{
	struct mc_pool p;
	struct umove_store *st, *st2;
	uint8_t mask[RS_PAGES], later[RS_PAGES];
	const unsigned lost = 0;
	bool zero[RS_PAGES];
	char *buf = pages_new(1);
	size_t n_lost = 0, n_zero = 0, n_err = 0;

	pool_start(&p, 3, 16);
	st = mc_open(
		spec_of(&p, "namespace=sp&pages=%d&sparse=1", 2 * RS_PAGES), 0);
	write_pattern(st, RS_PAGES, SEED, 32);
	holders(&p, "sp", RS_PAGES, mask);
	for (size_t i = 0; i < RS_PAGES; i++)
		n_lost += mask[i] == 1u << lost;
	cr_assert_gt(n_lost, 0);

	pool_restart(&p, lost);
	memset(zero, 0, sizeof(zero));
	cr_assert_eq(read_after_restart(st, mask, lost, 0, zero,
					"sparse, open across the restart"),
		     n_lost);
	st2 = mc_open(spec_of(&p, "namespace=sp"), UMOVE_STORE_QUIET);
	cr_assert_eq(read_after_restart(st2, mask, lost, -ENODATA, zero,
					"sparse, opened after the restart"),
		     n_lost);

	/* Never written: zeros, or -ENODATA where the mark was lost. */
	bool failed[RS_PAGES];

	for (size_t i = 0; i < RS_PAGES; i++) {
		int ret;

		memset(buf, 0xa5, PG);
		ret = umove_store_read(st2, RS_PAGES + i, 1, buf);
		failed[i] = ret != 0;
		if (ret) {
			expect_ret_as(ret, -ENODATA, "a never written page");
			n_err++;
		} else {
			expect_zero_page(buf, "a never written page");
			n_zero++;
		}
	}
	/* Where they would have been: write them now, and look. */
	for (size_t i = 0; i < RS_PAGES; i++) {
		fill_page(buf, SEED2, RS_PAGES + i);
		expect_ret(umove_store_write(st2, RS_PAGES + i, 1, buf), 0);
	}
	{
		uint8_t all[2 * RS_PAGES];

		holders(&p, "sp", 2 * RS_PAGES, all);
		memcpy(later, all + RS_PAGES, RS_PAGES);
	}
	for (size_t i = 0; i < RS_PAGES; i++)
		cr_assert_eq(failed[i], later[i] == 1u << lost,
			     "never written page %zu: %s, and it goes to "
			     "servers 0x%x",
			     RS_PAGES + i, failed[i] ? "-ENODATA" : "zeros",
			     later[i]);
	cr_assert_gt(n_zero, 0);
	cr_assert_gt(n_err, 0);
	close_store(st2);
	close_store(st);
	pages_free(buf, 1);
}

/* replicas=1: a server restarted empty loses nothing. */
Test(store_memcached, restarted_server_replicated_reads_back)
{
	struct mc_pool p;
	struct umove_store *st, *st2;
	uint64_t f0;

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=rr&pages=%d&replicas=1", RS_PAGES),
		     0);
	write_pattern(st, RS_PAGES, SEED, 32);
	pool_restart(&p, 2);
	f0 = pstats(st).failovers;
	expect_pattern(st, RS_PAGES, SEED, 1, "replicated, open across");
	cr_assert_gt(pstats(st).failovers, f0);
	st2 = mc_open(spec_of(&p, "namespace=rr"), UMOVE_STORE_QUIET);
	expect_pattern(st2, RS_PAGES, SEED, 1, "replicated, opened after");
	expect_pattern(st2, RS_PAGES, SEED, 64, "replicated, in batches");
	cr_assert_gt(pstats(st2).failovers, 0);
	cr_assert_eq(pstats(st2).read_failures, 0);
	close_store(st2);
	close_store(st);
}

/* --- sparse images -------------------------------------------------------- */

/*
 * sparse=1: pages never written read as zeros, alone or among written
 * ones, and so does a page of zeros written; without it (the default) a
 * page never written is -ENODATA, and so is any read that includes one.
 * A region on the dense image raises SIGBUS for it (in a child).
 */
Test(store_memcached, sparse_zeros_dense_enodata)
{
	struct mc_pool p;
	struct umove_store *sp, *dn;
	struct umove_pool_stats ps0, ps;
	char *buf = pages_new(64);
	struct scenario sc = {.pages = 64,
			      .seed = SEED,
			      .threads = 1,
			      .readahead = 15,
			      .retries = 1};
	int want_sig = poison_signal();
	pid_t pid;

	pool_start(&p, 2, 16);
	sp = mc_open(spec_of(&p, "namespace=sz&pages=64&sparse=1"), 0);
	dn = mc_open(spec_of(&p, "namespace=dz&pages=64"), 0);
	for (size_t i = 10; i < 20; i++) {
		fill_page(buf, SEED, i);
		expect_ret(umove_store_write(sp, i, 1, buf), 0);
		expect_ret(umove_store_write(dn, i, 1, buf), 0);
	}
	memset(buf, 0, PG);
	expect_ret(umove_store_write(sp, 30, 1, buf), 0);

	ps0 = pstats(sp);
	memset(buf, 0xa5, 64 * PG);
	expect_ret(umove_store_read(sp, 0, 64, buf), 0);
	for (size_t i = 0; i < 64; i++)
		if (i >= 10 && i < 20)
			expect_page(buf + i * PG, SEED, i, "sparse, written");
		else
			expect_zero_page(buf + i * PG, "sparse, never written");
	ps = pstats(sp);
	cr_assert_eq(ps.misses - ps0.misses, 64 - 11);
	cr_assert_eq(ps.mget_keys - ps0.mget_keys, 64);
	memset(buf, 0xa5, PG);
	expect_ret(umove_store_read(sp, 63, 1, buf), 0);
	expect_zero_page(buf, "sparse, one page never written");

	memset(buf, 0xa5, 64 * PG);
	expect_ret(umove_store_read(dn, 10, 10, buf), 0);
	for (size_t i = 0; i < 10; i++)
		expect_page(buf + i * PG, SEED, 10 + i, "dense, written");
	expect_ret(umove_store_read(dn, 5, 1, buf), -ENODATA);
	expect_ret(umove_store_read(dn, 9, 2, buf), -ENODATA);
	expect_ret(umove_store_read(dn, 19, 2, buf), -ENODATA);
	expect_ret(umove_store_read(dn, 0, 64, buf), -ENODATA);
	close_store(sp);
	close_store(dn);

	sc.spec = spec_of(&p, "namespace=dz");
	pid = child_start(&sc);
	child_wait(pid, CHILD_MS, "a region on a dense image");
	for (size_t i = 0; i < 64; i++)
		cr_assert_eq(rep->seen[i], i >= 10 && i < 20 ? GOOD : SIGNALLED,
			     "dense image, page %zu: %s", i,
			     seen_name(rep->seen[i]));
	cr_assert_eq(rep->sig, want_sig);
	cr_assert_eq(rep->rs.pages_poisoned, 54);
	child_release();

	sc.spec = spec_of(&p, "namespace=sz");
	pid = child_start(&sc);
	child_wait(pid, CHILD_MS, "a region on a sparse image");
	for (size_t i = 0; i < 64; i++)
		cr_assert_eq(rep->seen[i], i >= 10 && i < 20 ? GOOD : ZEROS,
			     "sparse image, page %zu: %s", i,
			     seen_name(rep->seen[i]));
	cr_assert_eq(rep->rs.pages_poisoned, 0);
	child_release();
	pages_free(buf, 64);
}

/* --- values that are not pages -------------------------------------------- */

/* Copies a page's value and flags from the one server holding it. */
static unsigned value_of(const struct mc_pool *p, const char *ns, size_t idx,
			 char **value, size_t *len, uint32_t *flags)
{
	char key[64];
	unsigned found = p->n;

	key_of(key, sizeof(key), ns, idx);
	*value = NULL;
	for (unsigned s = 0; s < p->n; s++) {
		size_t l = 0;
		uint32_t f = 0;
		char *v = raw_get(p->port[s], key, &l, &f);

		if (!v)
			continue;
		cr_assert_eq(found, p->n, "%s on two servers", key);
		found = s;
		*value = v;
		*len = l;
		*flags = f;
	}
	cr_assert_lt(found, p->n, "%s is on no server", key);
	return found;
}

/*
 * A value of the wrong size, one with a byte changed, one whose flags name
 * no format (or the wrong one), one moved from another key: each is
 * -EBADMSG for its page, counted as corrupt, while the pages around it
 * read right; a region raises SIGBUS for it (in a child). The original
 * value put back reads right again.
 */
Test(store_memcached, wrong_values_ebadmsg)
{
	struct mc_pool p;
	struct umove_store *st;
	char *orig, *other, *bad = malloc(2 * PG), *buf = pages_new(16);
	size_t len, olen;
	uint32_t flags, oflags;
	unsigned s;
	char key[64];
	const size_t victim = 3;
	struct scenario sc = {.pages = 16,
			      .seed = SEED,
			      .threads = 1,
			      .readahead = 7,
			      .retries = 2};
	int want_sig = poison_signal();
	pid_t pid;

	hold(bad);
	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=wv&pages=16"), 0);
	write_pattern(st, 16, SEED, 16);
	s = value_of(&p, "wv", victim, &orig, &len, &flags);
	value_of(&p, "wv", victim + 1, &other, &olen, &oflags);
	cr_assert_eq(len, PG);
	cr_assert_eq(flags >> 28, FORMAT_RAW, "flags 0x%x", flags);
	key_of(key, sizeof(key), "wv", victim);

	struct {
		const char *what;
		const void *value;
		size_t len;
		uint32_t flags;
	} cases[] = {
		{"100 bytes", orig, 100, flags},
		{"a page less one byte", orig, PG - 1, flags},
		{"a page and one byte", bad, PG + 1, flags},
		{"two pages", bad, 2 * PG, flags},
		{"no bytes", orig, 0, flags},
		{"a byte changed", bad, PG, flags},
		{"the check changed", orig, PG, flags ^ 1},
		{"format 0", orig, PG, flags & CHECK_MASK},
		{"format 3", orig, PG, 3u << 28 | (flags & CHECK_MASK)},
		{"format 15", orig, PG, 15u << 28 | (flags & CHECK_MASK)},
		{"format LZ4 on a raw page", orig, PG,
		 FORMAT_LZ4 << 28 | (flags & CHECK_MASK)},
		{"format LZ4 on garbage", orig, 1000,
		 FORMAT_LZ4 << 28 | (flags & CHECK_MASK)},
		{"the next page's value and flags", other, olen, oflags},
	};

	memcpy(bad, orig, PG);
	memcpy(bad + PG, orig, PG);
	bad[1234] ^= 0x10;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t corrupt = pstats(st).corrupt;

		raw_set(p.port[s], key, cases[c].value, cases[c].len,
			cases[c].flags);
		memset(buf, 0xa5, 16 * PG);
		expect_ret_as(umove_store_read(st, victim, 1, buf), -EBADMSG,
			      cases[c].what);
		cr_assert_eq(pstats(st).corrupt, corrupt + 1, "%s: corrupt",
			     cases[c].what);
		expect_ret_as(umove_store_read(st, 0, 16, buf), -EBADMSG,
			      cases[c].what);
		for (size_t i = 0; i < 16; i++)
			if (i != victim) {
				expect_ret(umove_store_read(st, i, 1, buf), 0);
				expect_page(buf, SEED, i, cases[c].what);
			}
	}

	/* A byte changed, seen by a region. */
	raw_set(p.port[s], key, bad, PG, flags);
	sc.spec = spec_of(&p, "namespace=wv");
	pid = child_start(&sc);
	child_wait(pid, CHILD_MS, "a region over a corrupt value");
	for (size_t i = 0; i < 16; i++)
		cr_assert_eq(rep->seen[i], i == victim ? SIGNALLED : GOOD,
			     "page %zu: %s", i, seen_name(rep->seen[i]));
	cr_assert_eq(rep->sig, want_sig);
	cr_assert_eq(rep->rs.pages_poisoned, 1);
	cr_assert_geq(rep->ps.corrupt, 3, "corrupt %" PRIu64 " (2 retries)",
		      rep->ps.corrupt);
	child_release();

	raw_set(p.port[s], key, orig, len, flags);
	expect_pattern(st, 16, SEED, 16, "the original value put back");
	close_store(st);
	raw_free(orig);
	raw_free(other);
	drop(bad);
	free(bad);
	pages_free(buf, 16);
}

/*
 * replicas=1: a corrupt first copy is an error for that copy only: the
 * page is read from the other one (a failover for each), every byte right.
 */
Test(store_memcached, corrupt_copy_fails_over)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps;
	char junk[100];
	const unsigned s = 0;

	memset(junk, 0x5a, sizeof(junk));
	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=cf&pages=32&replicas=1"), 0);
	write_pattern(st, 32, SEED, 8);
	for (size_t i = 0; i < 32; i++) {
		char key[64];

		key_of(key, sizeof(key), "cf", i);
		raw_set(p.port[s], key, junk, sizeof(junk), FORMAT_RAW << 28);
	}
	expect_pattern(st, 32, SEED, 1, "one copy corrupt");
	ps = pstats(st);
	/* Only the pages whose first copy is on server s were looked at. */
	cr_assert_gt(ps.corrupt, 0);
	cr_assert_eq(ps.failovers, ps.corrupt);
	cr_assert_lt(ps.corrupt, 32);
	expect_pattern(st, 32, SEED, 32, "one copy corrupt, one read");
	cr_assert_eq(pstats(st).failovers, 2 * ps.failovers);
	close_store(st);
}

/* --- compression ---------------------------------------------------------- */

/*
 * compress=lz4: text pages and zero pages are stored compressed (format
 * LZ4, fewer bytes than a page, fewer bytes sent), random pages as they
 * are (format raw, a page); all read back byte for byte, also reopened
 * without the option (the pool says). A compressed value cut short or
 * with a byte changed is -EBADMSG.
 */
Test(store_memcached, lz4_round_trip)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps0, ps;
	char *buf = pages_new(32), *v, key[64];
	size_t len;
	uint32_t flags;
	unsigned s;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=lz&pages=32&compress=lz4"), 0);
	for (size_t i = 0; i < 32; i++) {
		if (i < 8)
			fill_text_page(buf + i * PG, i);
		else if (i < 16)
			memset(buf + i * PG, 0, PG);
		else
			fill_page(buf + i * PG, SEED, i);
	}
	ps0 = pstats(st);
	expect_ret(umove_store_write(st, 0, 1, buf), 0);
	ps = pstats(st);
	key_of(key, sizeof(key), "lz", 0);
	s = value_of(&p, "lz", 0, &v, &len, &flags);
	cr_assert_eq(flags >> 28, FORMAT_LZ4, "text page: flags 0x%x", flags);
	cr_assert_lt(len, PG / 2, "text page: %zu bytes stored", len);
	cr_assert_eq(ps.bytes_sent - ps0.bytes_sent, 24 + strlen(key) + len,
		     "bytes_sent %" PRIu64 " for a value of %zu",
		     ps.bytes_sent - ps0.bytes_sent, len);
	raw_free(v);
	expect_ret(umove_store_write(st, 1, 31, buf + PG), 0);
	close_store(st);

	st = mc_open(spec_of(&p, "namespace=lz"), 0);
	char *back = pages_new(32);

	expect_ret(umove_store_read(st, 0, 32, back), 0);
	cr_assert_eq(memcmp(back, buf, 32 * PG), 0, "LZ4 image read back");
	for (size_t i = 0; i < 32; i++) {
		memset(back, 0xa5, PG);
		expect_ret(umove_store_read(st, i, 1, back), 0);
		cr_assert_eq(memcmp(back, buf + i * PG, PG), 0, "page %zu", i);
		value_of(&p, "lz", i, &v, &len, &flags);
		if (i < 16) {
			cr_assert_eq(flags >> 28, FORMAT_LZ4, "page %zu", i);
			cr_assert_lt(len, PG, "page %zu", i);
		} else {
			cr_assert_eq(flags >> 28, FORMAT_RAW, "page %zu", i);
			cr_assert_eq(len, PG, "page %zu", i);
		}
		if (i == 8)
			cr_assert_lt(len, 64, "a zero page: %zu bytes", len);
		raw_free(v);
	}

	/* Compressed values cut short, or changed. */
	s = value_of(&p, "lz", 2, &v, &len, &flags);
	key_of(key, sizeof(key), "lz", 2);
	raw_set(p.port[s], key, v, len - 1, flags);
	expect_ret(umove_store_read(st, 2, 1, back), -EBADMSG);
	v[len / 2] ^= 0x01;
	raw_set(p.port[s], key, v, len, flags);
	expect_ret(umove_store_read(st, 2, 1, back), -EBADMSG);
	cr_assert_eq(pstats(st).corrupt, 2);
	raw_free(v);
	close_store(st);
	pages_free(buf, 32);
	pages_free(back, 32);
}

/* --- write-back that fails ------------------------------------------------ */

#define WF_PAGES 512
#define WF_LIMIT 32 /* pages resident at most */

/*
 * replicas=1 and a resident limit: with a server dead, evicting a changed
 * page whose copies include it fails (write_errors, write_failures), and
 * the page stays resident with its new bytes: every byte written reads
 * back from the region. Once the server is back (empty), lowering the
 * limit evicts again and umove_unmap writes everything back: a store
 * opened afresh reads the new bytes.
 */
Test(store_memcached, failed_write_back_keeps_pages)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_region *r;
	struct umove_stats rs;
	struct umove_pool_stats ps;
	const unsigned dead = 1;
	char *base;
	int ret = -1;

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=wf&pages=%d&replicas=1", WF_PAGES),
		     UMOVE_STORE_QUIET);
	write_pattern(st, WF_PAGES, SEED, 64);
	r = region_on(st, WF_PAGES, 1, 3, WF_LIMIT * PG);
	base = umove_region_addr(r);

	pool_kill(&p, dead);
	for (size_t i = 0; i < WF_PAGES; i++)
		fill_page(base + i * PG, SEED2, i);
	rs = settled_stats(r, 0);
	ps = pstats(st);
	cr_assert_gt(rs.write_errors, 0, "no write-back failed");
	cr_assert_gt(ps.write_failures, 0);
	cr_log_info("write-back with a server dead: write_errors %" PRIu64
		    ", pages evicted %" PRIu64 ", resident %" PRIu64
		    " pages for a limit of %d",
		    rs.write_errors, rs.pages_evicted, rs.resident_pages,
		    WF_LIMIT);
	cr_assert_gt(rs.resident_pages, WF_LIMIT,
		     "pages that could not be written back were dropped");
	for (size_t i = 0; i < WF_PAGES; i++)
		expect_page(base + i * PG, SEED2, i,
			    "a page written while its write-back fails");

	pool_restart(&p, dead);
	/* The store skips a failed server for a second; then it is back. */
	for (int i = 0; i < 100 && ret; i++) {
		ret = umove_region_set_limit(r, WF_LIMIT * PG);
		if (ret)
			sleep_ms(100);
	}
	expect_ret_as(ret, 0, "umove_region_set_limit once the server is back");
	cr_assert_leq(umove_region_resident(r), WF_LIMIT * PG);
	for (size_t i = 0; i < WF_PAGES; i++)
		expect_page(base + i * PG, SEED2, i,
			    "after the server is back");
	unmap_region(r);
	close_store(st);

	st = mc_open(spec_of(&p, "namespace=wf"), UMOVE_STORE_QUIET);
	expect_pattern(st, WF_PAGES, SEED2, 64, "written back at last");
	cr_assert_eq(pstats(st).failovers, 0,
		     "a copy on the restarted server was not written");
	close_store(st);
}

/* --- servers that evict --------------------------------------------------- */

/*
 * A server started without -M evicts items when full, losing pages: the
 * store warns at open, naming it and -M; not the server run with -M, and
 * nothing with UMOVE_STORE_QUIET.
 */
Test(store_memcached, evicting_server_warned)
{
	struct mc_pool ev, ok;
	struct umove_store *st;
	char spec[256], evname[64], okname[64];
	const char *err;

	pool_start_evicting(&ev, 1, 16);
	pool_start(&ok, 1, 16);
	snprintf(evname, sizeof(evname), "127.0.0.1:%u", ev.port[0]);
	snprintf(okname, sizeof(okname), "127.0.0.1:%u", ok.port[0]);
	snprintf(spec, sizeof(spec), "memcached://%s,%s?namespace=ev&pages=8",
		 evname, okname);

	capture_start();
	st = mc_open(spec, 0);
	err = capture_end();
	cr_assert(strstr(err, evname) && strstr(err, "-M"),
		  "warning for an evicting server: \"%s\"", err);
	cr_assert(!strstr(err, okname), "warning for a server with -M: \"%s\"",
		  err);
	close_store(st);

	capture_start();
	st = mc_open(spec, UMOVE_STORE_QUIET);
	err = capture_end();
	cr_assert_str_empty(err, "UMOVE_STORE_QUIET, yet: \"%s\"", err);
	close_store(st);

	/* With -M only: no warning at all. */
	capture_start();
	st = mc_open(pool_spec(&ok, "namespace=ev2&pages=8"), 0);
	err = capture_end();
	cr_assert_str_empty(err, "a pool run with -M, yet: \"%s\"", err);
	close_store(st);
}

/* --- statistics ----------------------------------------------------------- */

/*
 * umove_store_memcached_stats(): -EINVAL for NULL, a size too small, a
 * store of another kind; version, servers, replicas (the pool's, when the
 * spec does not say); an older caller's smaller struct is filled up to its
 * size only, a newer caller's larger one zeroed beyond ours; the counters
 * of a write and a read, byte for byte.
 */
Test(store_memcached, stats)
{
	struct mc_pool p;
	struct umove_store *st, *mem = NULL;
	struct umove_pool_stats s, s0;
	char *buf = pages_new(1), key[64];
	union {
		struct umove_pool_stats s;
		unsigned char b[sizeof(struct umove_pool_stats) + 64];
	} u;
	uint64_t klen;

	pool_start(&p, 3, 16);
	st = mc_open(spec_of(&p, "namespace=st&pages=16&replicas=2"), 0);
	close_store(st);
	st = mc_open(spec_of(&p, "namespace=st"), 0);

	memset(&s, 0, sizeof(s));
	expect_ret(umove_store_memcached_stats(NULL, &s), -EINVAL);
	expect_ret(umove_store_memcached_stats(st, NULL), -EINVAL);
	s.size = 0;
	expect_ret(umove_store_memcached_stats(st, &s), -EINVAL);
	s.size = 4;
	expect_ret(umove_store_memcached_stats(st, &s), -EINVAL);
	s.size = 7;
	expect_ret(umove_store_memcached_stats(st, &s), -EINVAL);
	expect_ret(umove_store_mem(&mem, 4, 0), 0);
	track(mem);
	s.size = sizeof(s);
	expect_ret(umove_store_memcached_stats(mem, &s), -EINVAL);
	close_store(mem);

	s = pstats(st);
	cr_assert_eq(s.size, sizeof(s));
	cr_assert_eq(s.version, UMOVE_POOL_STATS_VERSION);
	cr_assert_eq(s.servers, 3);
	cr_assert_eq(s.replicas, 2, "replicas %u, the pool says 2", s.replicas);
	cr_assert_eq(s.failovers + s.misses + s.corrupt + s.read_failures +
			     s.write_failures,
		     0);

	/* An older caller: fields up to its size, nothing after. */
	memset(&u, 0xee, sizeof(u));
	u.s.size = offsetof(struct umove_pool_stats, mget_keys);
	expect_ret(umove_store_memcached_stats(st, &u.s), 0);
	cr_assert_eq(u.s.size, offsetof(struct umove_pool_stats, mget_keys));
	cr_assert_eq(u.s.version, UMOVE_POOL_STATS_VERSION);
	for (size_t i = u.s.size; i < sizeof(u); i++)
		cr_assert_eq(u.b[i], 0xee,
			     "byte %zu past the caller's size "
			     "written",
			     i);
	/* A newer caller: zeros after ours. */
	memset(&u, 0xee, sizeof(u));
	u.s.size = sizeof(u);
	expect_ret(umove_store_memcached_stats(st, &u.s), 0);
	cr_assert_eq(u.s.size, sizeof(u));
	cr_assert_eq(u.s.servers, 3);
	for (size_t i = sizeof(struct umove_pool_stats); i < sizeof(u); i++)
		cr_assert_eq(u.b[i], 0, "byte %zu of a newer struct", i);

	/* One page written: a set per copy, each header + key + page. */
	klen = key_of(key, sizeof(key), "st", 5);
	s0 = pstats(st);
	fill_page(buf, SEED, 5);
	expect_ret(umove_store_write(st, 5, 1, buf), 0);
	s = pstats(st);
	cr_assert_eq(s.sets - s0.sets, 3);
	cr_assert_eq(s.round_trips - s0.round_trips, 3);
	cr_assert_eq(s.bytes_sent - s0.bytes_sent, 3 * (24 + klen + PG));
	cr_assert_eq(s.bytes_received, s0.bytes_received);
	/* Read: one multi-get of one key, from the first copy. */
	s0 = s;
	memset(buf, 0, PG);
	expect_ret(umove_store_read(st, 5, 1, buf), 0);
	expect_page(buf, SEED, 5, "stats page");
	s = pstats(st);
	cr_assert_eq(s.mgets - s0.mgets, 1);
	cr_assert_eq(s.mget_keys - s0.mget_keys, 1);
	cr_assert_eq(s.round_trips - s0.round_trips, 1);
	cr_assert_eq(s.bytes_sent - s0.bytes_sent, 24 + klen);
	cr_assert_eq(s.bytes_received - s0.bytes_received, 24 + klen + PG);
	cr_assert_eq(s.sets, s0.sets);
	/* A page never written: a miss on each of the 3 copies. */
	s0 = s;
	expect_ret(umove_store_read(st, 6, 1, buf), -ENODATA);
	s = pstats(st);
	cr_assert_eq(s.mgets - s0.mgets, 3);
	cr_assert_eq(s.misses - s0.misses, 3);
	cr_assert_eq(s.failovers, 0);
	cr_assert_eq(s.read_failures, 0);
	cr_assert_gt(s.rtt_ns_p50, 0);
	cr_assert_geq(s.rtt_ns_p99, s.rtt_ns_p50);
	close_store(st);
	pages_free(buf, 1);
}

/*
 * A region on a pool with a hung server (timeout_ms=100): each page on it
 * raises SIGBUS once its reads have timed out, the others read right, and
 * the child is done in bounded time (CHILD_MS) rather than hanging.
 */
Test(store_memcached, hung_server_sigbus_in_child)
{
	struct mc_pool p;
	struct umove_store *st;
	uint8_t mask[16];
	const unsigned hung = 1;
	struct scenario sc = {.pages = 16,
			      .seed = SEED,
			      .threads = 2,
			      .readahead = 0,
			      .retries = 1,
			      .kill_at = 0,
			      .wait_parent = true};
	int want_sig = poison_signal();
	size_t n_hung = 0;
	pid_t pid;

	pool_start(&p, 2, 16);
	st = mc_open(spec_of(&p, "namespace=hc&pages=16&timeout_ms=100"), 0);
	write_pattern(st, 16, SEED, 16);
	close_store(st);
	holders(&p, "hc", 16, mask);
	sc.spec = spec_of(&p, "namespace=hc&timeout_ms=100");
	pid = child_start(&sc);
	for (int ms = 0; ms < CHILD_MS && !atomic_load(&rep->ready); ms++)
		sleep_ms(1);
	cr_assert(atomic_load(&rep->ready), "the child did not get ready: %s",
		  rep->log.err);
	pool_freeze(&p, hung, true);
	atomic_store(&rep->go, true);
	child_wait(pid, CHILD_MS, "a region on a pool with a hung server");
	pool_freeze(&p, hung, false);
	for (size_t i = 0; i < 16; i++) {
		bool on_hung = mask[i] == 1u << hung;

		n_hung += on_hung;
		cr_assert_eq(rep->seen[i], on_hung ? SIGNALLED : GOOD,
			     "page %zu (on the hung server: %d): %s", i,
			     on_hung, seen_name(rep->seen[i]));
	}
	cr_assert_gt(n_hung, 0);
	cr_assert_eq(rep->sig, want_sig);
	cr_assert_eq(rep->rs.pages_poisoned, n_hung);
	cr_log_info("hung server: %zu of 16 pages SIGBUS after %.2f s", n_hung,
		    rep->elapsed_s);
	child_release();
}

/* --- sizes ---------------------------------------------------------------- */

#define LARGE_PAGES 16384 /* 64 MiB in one call */

/*
 * One umove_store_write and one umove_store_read of 16384 pages on one
 * server (one multi-get of 16384 keys): every byte back.
 */
Test(store_memcached, large_single_calls)
{
	struct mc_pool p;
	struct umove_store *st;
	struct umove_pool_stats ps0, ps;
	char *buf = pages_new(LARGE_PAGES);
	size_t bad = 0;

	pool_start(&p, 1, 128);
	st = mc_open(spec_of(&p, "namespace=lg&pages=%d", LARGE_PAGES), 0);
	fill_pages(buf, LARGE_PAGES, SEED);
	expect_ret(umove_store_write(st, 0, LARGE_PAGES, buf), 0);
	memset(buf, 0, (size_t)LARGE_PAGES * PG);
	ps0 = pstats(st);
	expect_ret(umove_store_read(st, 0, LARGE_PAGES, buf), 0);
	ps = pstats(st);
	for (size_t i = 0; i < LARGE_PAGES; i++)
		bad += !page_matches(buf + i * PG, SEED, i);
	cr_assert_eq(bad, 0, "%zu pages of %d differ", bad, LARGE_PAGES);
	/* At most 128 keys per multi-get: the answers fit socket buffers. */
	cr_assert_eq(ps.mgets - ps0.mgets, (LARGE_PAGES + 127) / 128);
	cr_assert_eq(ps.mget_keys - ps0.mget_keys, LARGE_PAGES);
	close_store(st);
	pages_free(buf, LARGE_PAGES);
}

/*
 * A server full, run with -M: it refuses a write (-ENOSPC) rather than
 * evicting; everything written before reads back.
 */
Test(store_memcached, full_server_refuses_writes)
{
	struct mc_pool p;
	struct umove_store *st;
	char *buf = pages_new(1);
	size_t written = 0;
	int ret = 0;

	pool_start(&p, 1, 4);
	st = mc_open(spec_of(&p, "namespace=fl&pages=100000"), 0);
	while (written < 100000) {
		fill_page(buf, SEED, written);
		ret = umove_store_write(st, written, 1, buf);
		if (ret)
			break;
		written++;
	}
	expect_ret(ret, -ENOSPC);
	cr_assert_gt(written, 0);
	cr_assert_eq(pstats(st).write_failures, 1);
	expect_pattern(st, written, SEED, 64,
		       "written before the server was "
		       "full");
	cr_log_info("a server of 4 MiB took %zu pages", written);
	close_store(st);
	pages_free(buf, 1);
}

/* --- the why of a bad spec, by the spec's numbering ----------------------- */

/*
 * A duplicated server is named by its position in the spec as written
 * ("servers 1 and 3"), like every other refusal (server N is empty, ...).
 */
Test(store_memcached, duplicate_server_named_by_spec_position)
{
	const char *why = mc_refused(
		"memcached://b.example:1,a.example:2,b.example:1", 0, -EINVAL);

	cr_assert(strstr(why, "servers 1 and 3"),
		  "why \"%s\": servers 1 and 3 of the spec are the same", why);
}
