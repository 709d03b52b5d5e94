/* SPDX-License-Identifier: MIT */
/*
 * Store failures. A page whose store read keeps failing is poisoned: the
 * thread touching it gets SIGBUS (SIGSEGV before Linux 6.6, without
 * UFFDIO_POISON), never a hang and never zeros; retries, read-ahead around
 * a bad page, and a failing write-back that releases nothing.
 *
 * Anything that may end in a signal runs in a forked child. The child forks
 * first and creates its store and region itself: a region is MADV_DONTFORK,
 * so a child cannot inherit one. The child catches the signals it expects
 * (siglongjmp out of the faulting access) to check what follows, reports
 * through a MAP_SHARED page that the parent reads even if the child hangs,
 * and may end with a deliberate fatal touch under the default handlers.
 */
#include "helpers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(region_fail, .timeout = TEST_TIMEOUT);

#define SEED 0x46
#define SEED2 0x47
#define BAD 5 /* the store page whose reads fail */
#define CHILD_MS 8000

/* --- a store whose reads of one page fail ------------------------------ */

struct bad {
	char *data;
	size_t pages;
	uint64_t bad_page;  /* a read that includes it fails... */
	int fail_reads;	    /* ...this many times; -1: always */
	long read_delay_ms; /* every read sleeps first */
	atomic_int failed;  /* reads that failed */
	_Atomic unsigned *reads;
	_Atomic unsigned *writes;
	atomic_int write_err; /* returned by write, 0: writes work */
	atomic_int sync_err;  /* returned by sync */
	atomic_uint syncs;
};

static int bad_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct bad *b = priv;

	if (b->read_delay_ms)
		sleep_ms(b->read_delay_ms);
	if (b->bad_page >= index && b->bad_page < index + count &&
	    (b->fail_reads < 0 || atomic_load(&b->failed) < b->fail_reads)) {
		atomic_fetch_add(&b->failed, 1);
		return -EIO;
	}
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&b->reads[index + i], 1);
	memcpy(buf, b->data + index * PG, count * PG);
	return 0;
}

static int bad_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct bad *b = priv;
	int err = atomic_load(&b->write_err);

	if (err)
		return err;
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&b->writes[index + i], 1);
	memcpy(b->data + index * PG, buf, count * PG);
	return 0;
}

static int bad_sync(void *priv)
{
	struct bad *b = priv;

	atomic_fetch_add(&b->syncs, 1);
	return atomic_load(&b->sync_err);
}

static const struct umove_store_ops bad_ops = {
	.read = bad_read, .write = bad_write, .sync = bad_sync};

/* No Criterion asserts: also used in children. NULL on failure. */
static struct bad *bad_new(size_t pages, int fail_reads)
{
	struct bad *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	hold(b);
	b->pages = pages;
	b->bad_page = BAD;
	b->fail_reads = fail_reads;
	b->data = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->reads = calloc(pages, sizeof(*b->reads));
	b->writes = calloc(pages, sizeof(*b->writes));
	hold(b->reads);
	hold(b->writes);
	if (b->data == MAP_FAILED || !b->reads || !b->writes)
		return NULL;
	fill_pages(b->data, pages, SEED);
	return b;
}

static void bad_free(struct bad *b)
{
	munmap(b->data, b->pages * PG);
	drop(b->reads);
	drop(b->writes);
	drop(b);
	free(b->reads);
	free(b->writes);
	free(b);
}

struct setup {
	enum um_path path;
	unsigned threads, readahead, retries;
	int fail_reads;
	long read_delay_ms;
	size_t pages;
	int want_sig; /* SIGBUS, or SIGSEGV without UFFDIO_POISON */
};

/* --- the child ---------------------------------------------------------- */

/* Shared with the parent: where the child got to, and what went wrong. */
struct report {
	struct child_log log; /* first: child_log points here */
	struct umove_stats stats;
	uintptr_t fatal_addr; /* non-zero: touch it last, default handlers */
};

static struct report *rep;

static const char *sig_name(int sig)
{
	return sig ? sigabbrev_np(sig) : "no signal";
}

/* Page `page` reads back as store page `page`; records a failure if not. */
static bool expect_good(const char *base, size_t page)
{
	static char copy[PG];
	void *addr = NULL;
	int sig;

	child_step("touch page %zu (good)", page);
	sig = touch_page(base + page * PG, copy, &addr);
	if (sig)
		return child_fail("page %zu raised SIG%s at %p", page,
				  sig_name(sig), addr);
	if (!page_matches(copy, SEED, page))
		return child_fail("page %zu does not hold the store's bytes",
				  page);
	return true;
}

/* Page `page` raises want_sig at an address inside it. */
static bool expect_signal(const char *base, size_t page, int want_sig)
{
	static char copy[PG];
	void *addr = NULL;
	int sig;

	child_step("touch page %zu (poisoned)", page);
	sig = touch_page(base + page * PG, copy, &addr);
	if (sig != want_sig)
		return child_fail(
			"page %zu: SIG%s, want SIG%s%s", page, sig_name(sig),
			sig_name(want_sig),
			sig ? ""
			    : (page_matches(copy, SEED, page)
				       ? " (read the store's bytes)"
				       : " (read bytes that are not the "
					 "store's)"));
	if ((char *)addr < base + page * PG ||
	    (char *)addr >= base + (page + 1) * PG)
		return child_fail("page %zu: SIG%s at %p, outside the page",
				  page, sig_name(sig), addr);
	return true;
}

/*
 * The statistics into the report, once they stop changing: a fill is
 * counted just after its install wakes the faulting thread.
 */
static bool get_stats(struct umove_region *r)
{
	struct umove_stats prev;
	int ret;

	memset(&prev, 0xff, sizeof(prev));
	for (int i = 0; i < 400; i++) {
		memset(&rep->stats, 0, sizeof(rep->stats));
		rep->stats.size = sizeof(rep->stats);
		ret = umove_region_stats(r, &rep->stats);
		if (ret)
			return child_fail("umove_region_stats: %d", ret);
		if (!memcmp(&prev, &rep->stats, sizeof(prev)))
			break;
		prev = rep->stats;
		sleep_ms(5);
	}
	return true;
}

/* A store and a region in the child, as `s` says. */
static struct umove_region *child_region(const struct setup *s,
					 struct bad **out)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct bad *b = bad_new(s->pages, s->fail_reads);
	int ret;

	child_step("create store and region");
	if (!b) {
		child_fail("out of memory");
		return NULL;
	}
	b->read_delay_ms = s->read_delay_ms;
	ret = umove_store_open(&st, &bad_ops, sizeof(bad_ops), b, s->pages);
	if (!ret)
		ret = umove_region_config_new(&cfg);
	if (!ret)
		ret = umove_region_config_set_threads(cfg, s->threads);
	if (!ret)
		ret = umove_region_config_set_readahead(cfg, s->readahead);
	if (!ret)
		ret = umove_region_config_set_retries(cfg, s->retries);
	if (!ret)
		ret = umove_region_config_set_fill(cfg, UMOVE_FILL_MOVE);
	if (!ret)
		ret = umove_region_config_set_flags(
			cfg, s->path == EMULATED ? UMOVE_EMULATE : 0);
	if (!ret)
		ret = umove_map(&r, st, 0, s->pages * PG, cfg);
	umove_region_config_free(cfg);
	if (ret) {
		child_fail("setting up the region: %d", ret);
		return NULL;
	}
	*out = b;
	return r;
}

typedef void (*scenario)(const struct setup *s);

struct child {
	pid_t pid;
};

static void child_start(struct child *c, scenario fn, const struct setup *s)
{
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rep, MAP_FAILED);
	memset(rep, 0, sizeof(*rep));
	child_log = &rep->log;
	fflush(NULL);
	c->pid = fork();
	cr_assert_geq(c->pid, 0, "fork: %s", strerror(errno));
	if (c->pid)
		return;
	/* The child: never outlive the test, whatever happens to it. */
	alarm(TEST_TIMEOUT);
	catch_fault_signals(true);
	fn(s);
	atomic_store(&rep->log.done, true);
	if (rep->fatal_addr) {
		/* Not yet unmapped: the region is still there to touch. */
		catch_fault_signals(false);
		*(volatile char *)rep->fatal_addr;
	}
	_exit(0);
}

/*
 * Waits for the child; if it is not done within ms, kills it and fails
 * naming the step it was stuck in. Returns the wait status.
 */
static int child_finish(struct child *c, int ms, const char *what)
{
	int status = 0;

	if (!child_reap(c->pid, ms, &status))
		cr_assert_fail(
			"[%s] %s: child hung at step %d (%s) for %d ms%s%s",
			path_label, what, atomic_load(&rep->log.stage),
			rep->log.what, ms, rep->log.err[0] ? "; earlier: " : "",
			rep->log.err);
	cr_assert_eq(rep->log.err[0], '\0', "[%s] %s: %s", path_label, what,
		     rep->log.err);
	cr_assert(atomic_load(&rep->log.done),
		  "[%s] %s: child ended early at step %d (%s), status 0x%x",
		  path_label, what, atomic_load(&rep->log.stage), rep->log.what,
		  status);
	return status;
}

static void child_release(void)
{
	munmap(rep, sizeof(*rep));
}

static int poison_signal(void)
{
	struct umove *um = open_default();
	unsigned caps = umove_caps(um);

	close_um(um);
	return caps & UMOVE_CAP_POISON ? SIGBUS : SIGSEGV;
}

static void require_path(enum um_path path)
{
	struct umove *um = open_default();
	unsigned caps = umove_caps(um);
	const char *env = getenv("UMOVE_EMULATE");

	close_um(um);
	path_label = path == NATIVE ? "native" : "emulated";
	if (path == NATIVE && !(caps & UMOVE_CAP_NATIVE_MOVE))
		cr_skip_test("kernel lacks UFFDIO_MOVE (Linux < 6.8)");
	if (path == NATIVE && env && *env && strcmp(env, "0") != 0)
		cr_skip_test("UMOVE_EMULATE set in the environment");
}

/* --- a page that cannot be read ----------------------------------------- */

/*
 * Read-ahead 0: page BAD raises the signal at its own address, every time;
 * its neighbours read correctly; read_errors counts 1 + retries reads and
 * the store is not read again on the second touch; a sync skips the page;
 * the child finally dies of a touch under the default handlers.
 */
static void poisoned_page_child(const struct setup *s)
{
	struct bad *b = NULL;
	struct umove_region *r = child_region(s, &b);
	const char *base;
	int ret;

	if (!r)
		return;
	base = umove_region_addr(r);
	if (!expect_good(base, BAD - 1) ||
	    !expect_signal(base, BAD, s->want_sig))
		return;
	if (atomic_load(&b->failed) != (int)s->retries + 1)
		child_fail("store reads failed: %d, want %u",
			   atomic_load(&b->failed), s->retries + 1);
	if (!expect_signal(base, BAD, s->want_sig) ||
	    !expect_good(base, BAD + 1))
		return;
	if (atomic_load(&b->failed) != (int)s->retries + 1)
		child_fail("the poisoned page was read again: %d failed reads",
			   atomic_load(&b->failed));
	child_step("sync with a poisoned page");
	ret = umove_region_sync(r);
	if (ret)
		child_fail("umove_region_sync: %d", ret);
	if (atomic_load(&b->writes[BAD]))
		child_fail("the poisoned page was written back");
	child_step("stats");
	get_stats(r);
	rep->fatal_addr = (uintptr_t)(base + BAD * PG + 123);
}

struct poison_combo {
	enum um_path path;
	unsigned retries;
};

ParameterizedTestParameters(region_fail, read_error_poisons_page)
{
	static struct poison_combo c[] = {
		{NATIVE, 2}, {EMULATED, 2}, {NATIVE, 0}, {EMULATED, 5}};

	return cr_make_param_array(struct poison_combo, c,
				   sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct poison_combo *c, region_fail, read_error_poisons_page)
{
	struct setup s = {.path = c->path,
			  .threads = 1,
			  .readahead = 0,
			  .retries = c->retries,
			  .fail_reads = -1,
			  .pages = 16};
	struct umove_region *mine = NULL;
	struct umove_store *st = NULL;
	struct umove_stats ms = {.size = sizeof(ms)};
	struct child ch;
	struct bad *b;
	int status;

	require_path(c->path);
	s.want_sig = poison_signal();
	child_start(&ch, poisoned_page_child, &s);

	/* Meanwhile the parent pages its own region from its own store. */
	b = bad_new(16, 0);
	cr_assert_not_null(b);
	expect_ret(umove_store_open(&st, &bad_ops, sizeof(bad_ops), b, 16), 0);
	hold(st);
	expect_ret(umove_map(&mine, st, 0, 16 * PG, NULL), 0);
	hold(mine);
	expect_pages(umove_region_addr(mine), 16, SEED, "parent's own region");

	status = child_finish(&ch, CHILD_MS, "poisoned page");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == s.want_sig,
		  "[%s] the last touch of the poisoned page: status 0x%x, "
		  "want death by SIG%s",
		  path_label, status, sigabbrev_np(s.want_sig));
	cr_assert_eq(rep->stats.read_errors, c->retries + 1,
		     "[%s] read_errors %llu with retries %u", path_label,
		     (unsigned long long)rep->stats.read_errors, c->retries);
	cr_assert_eq(rep->stats.pages_poisoned, 1, "[%s] pages_poisoned %llu",
		     path_label, (unsigned long long)rep->stats.pages_poisoned);
	cr_assert_eq(rep->stats.pages_filled, 2);
	child_release();

	expect_ret(umove_region_stats(mine, &ms), 0);
	cr_assert_eq(ms.read_errors, 0, "the parent's region saw read errors");
	cr_assert_eq(ms.pages_poisoned, 0);
	expect_ret(umove_unmap(mine), 0);
	drop(mine);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	bad_free(b);
}

/*
 * Read-ahead 15: the run of the bad page fails, the bad page alone fails
 * too and is poisoned; the pages after it (its released read-ahead) are
 * not poisoned and read correctly when touched.
 */
static void readahead_after_bad_child(const struct setup *s)
{
	struct bad *b = NULL;
	struct umove_region *r = child_region(s, &b);
	const char *base;

	if (!r)
		return;
	base = umove_region_addr(r);
	if (!expect_signal(base, BAD, s->want_sig))
		return;
	for (size_t p = BAD + 1; p < s->pages; p++)
		if (!expect_good(base, p))
			return;
	for (size_t p = 0; p < BAD; p++)
		if (!expect_good(base, p))
			return;
	child_step("stats");
	get_stats(r);
	rep->fatal_addr = (uintptr_t)(base + BAD * PG);
}

PATH_TEST(region_fail, readahead_after_bad_page_not_poisoned)
{
	struct setup s = {.path = *path,
			  .threads = 1,
			  .readahead = 15,
			  .retries = 2,
			  .fail_reads = -1,
			  .pages = 40};
	struct child ch;
	int status;

	require_path(*path);
	s.want_sig = poison_signal();
	child_start(&ch, readahead_after_bad_child, &s);
	status = child_finish(&ch, CHILD_MS, "read-ahead after a bad page");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == s.want_sig,
		  "[%s] status 0x%x", path_label, status);
	cr_assert_eq(rep->stats.pages_poisoned, 1, "[%s] pages_poisoned %llu",
		     path_label, (unsigned long long)rep->stats.pages_poisoned);
	/* The run 5..20 fails 3 times, then page 5 alone 3 times. */
	cr_assert_eq(rep->stats.read_errors, 6, "[%s] read_errors %llu",
		     path_label, (unsigned long long)rep->stats.read_errors);
	cr_assert_eq(rep->stats.pages_filled, s.pages - 1);
	child_release();
}

/*
 * A good page whose read-ahead run covers the bad page is served: the run
 * fails, the faulting page is read alone (umove_map(3), "a bad page ahead
 * never fails a good fault").
 */
static void good_before_bad_child(const struct setup *s)
{
	struct bad *b = NULL;
	struct umove_region *r = child_region(s, &b);
	const char *base;

	if (!r)
		return;
	base = umove_region_addr(r);
	/* Runs 3..18 and 4..19 fail (3 reads each): 3 and 4 are read alone. */
	if (!expect_good(base, BAD - 2) || !expect_good(base, BAD - 1))
		return;
	/* 6..21 does not include the bad page. */
	if (!expect_good(base, BAD + 1))
		return;
	child_step("stats before the bad page");
	get_stats(r);
	if (rep->stats.pages_poisoned || rep->stats.read_errors != 6)
		child_fail("before touching the bad page: pages_poisoned %llu, "
			   "read_errors %llu (want 0, 6)",
			   (unsigned long long)rep->stats.pages_poisoned,
			   (unsigned long long)rep->stats.read_errors);
	/* Its run is the page alone (page 6 is resident): 3 reads. */
	if (!expect_signal(base, BAD, s->want_sig))
		return;
	for (size_t p = 0; p < s->pages; p++)
		if (p != BAD && !expect_good(base, p))
			return;
	child_step("stats");
	get_stats(r);
}

PATH_TEST(region_fail, readahead_over_bad_page_serves_good_fault)
{
	struct setup s = {.path = *path,
			  .threads = 1,
			  .readahead = 15,
			  .retries = 2,
			  .fail_reads = -1,
			  .pages = 32};
	struct child ch;
	int status;

	require_path(*path);
	s.want_sig = poison_signal();
	child_start(&ch, good_before_bad_child, &s);
	status = child_finish(&ch, CHILD_MS, "good fault before a bad page");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "[%s] status 0x%x", path_label, status);
	cr_assert_eq(rep->stats.pages_poisoned, 1);
	cr_assert_eq(rep->stats.read_errors, 9, "[%s] read_errors %llu",
		     path_label, (unsigned long long)rep->stats.read_errors);
	child_release();
}

/*
 * A thread faulting on a read-ahead page of a run whose read then fails
 * must be served (or at least woken). Two handlers; every store read takes
 * 100 ms. Thread A touches the bad page: handler 1 claims the run BAD..
 * BAD+15 and reads it. 30 ms later thread B touches BAD+1: handler 2 finds
 * it FILLING and leaves it to handler 1. The run fails, BAD+1 goes back to
 * EMPTY, BAD alone fails and is poisoned; B must then get BAD+1's bytes.
 */
struct waiter {
	pthread_t tid;
	const char *base;
	size_t page;
	long delay_ms;
	int want_sig;
	atomic_bool finished;
	int sig;
	bool ok;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	static __thread char copy[PG];
	void *addr = NULL;

	sleep_ms(w->delay_ms);
	w->sig = touch_page(w->base + w->page * PG, copy, &addr);
	w->ok = !w->sig && page_matches(copy, SEED, w->page);
	atomic_store(&w->finished, true);
	return NULL;
}

static void released_readahead_child(const struct setup *s)
{
	struct bad *b = NULL;
	struct umove_region *r = child_region(s, &b);
	struct waiter a, w;

	if (!r)
		return;
	a = (struct waiter){.base = umove_region_addr(r), .page = BAD};
	w = (struct waiter){.base = a.base, .page = BAD + 1, .delay_ms = 30};
	child_step("thread A on page %d, thread B on page %d 30 ms later", BAD,
		   BAD + 1);
	if (pthread_create(&a.tid, NULL, waiter_main, &a) ||
	    pthread_create(&w.tid, NULL, waiter_main, &w)) {
		child_fail("pthread_create");
		return;
	}
	child_step("waiting for thread A (the bad page)");
	pthread_join(a.tid, NULL);
	if (a.sig != s->want_sig)
		child_fail("thread A on the bad page: SIG%s, want SIG%s",
			   sig_name(a.sig), sig_name(s->want_sig));
	child_step(
		"waiting for thread B (page %d, read-ahead of the failed run)",
		BAD + 1);
	pthread_join(w.tid, NULL);
	if (!w.ok)
		child_fail("thread B on page %d: %s", BAD + 1,
			   w.sig ? sig_name(w.sig) : "wrong bytes");
	child_step("stats");
	get_stats(r);
}

PATH_TEST(region_fail, waiter_on_released_readahead_page_is_served)
{
	struct setup s = {.path = *path,
			  .threads = 2,
			  .readahead = 15,
			  .retries = 0,
			  .fail_reads = -1,
			  .read_delay_ms = 100,
			  .pages = 32};
	struct child ch;

	require_path(*path);
	s.want_sig = poison_signal();
	child_start(&ch, released_readahead_child, &s);
	child_finish(&ch, 3000, "thread waiting on a released read-ahead page");
	cr_assert_eq(rep->stats.pages_poisoned, 1);
	child_release();
}

/* --- failures that recover --------------------------------------------- */

/* Two failed reads, two retries: the third read serves the page. */
PATH_TEST(region_fail, transient_read_error_is_retried)
{
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s = {.size = sizeof(s)};
	struct bad *b;
	char *base;

	require_path(*path);
	b = bad_new(16, 2);
	cr_assert_not_null(b);
	expect_ret(umove_store_open(&st, &bad_ops, sizeof(bad_ops), b, 16), 0);
	hold(st);
	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_readahead(cfg, 0), 0);
	expect_ret(umove_region_config_set_retries(cfg, 2), 0);
	expect_ret(umove_region_config_set_fill(cfg, UMOVE_FILL_MOVE), 0);
	expect_ret(umove_region_config_set_flags(
			   cfg, *path == EMULATED ? UMOVE_EMULATE : 0),
		   0);
	expect_ret(umove_map(&r, st, 0, 16 * PG, cfg), 0);
	hold(r);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	expect_page(base + BAD * PG, SEED, BAD, "page after two failed reads");
	expect_pages(base, 16, SEED, "whole region");
	cr_assert_eq(atomic_load(&b->failed), 2);
	cr_assert_eq(atomic_load(&b->reads[BAD]), 1);
	/* Fill counters trail the wake (umove_region_stats(3)). */
	for (int i = 0; i < 1000 && s.pages_filled < 16; i++) {
		sleep_ms(2);
		expect_ret(umove_region_stats(r, &s), 0);
	}
	cr_assert_eq(s.read_errors, 2, "[%s] read_errors %llu", path_label,
		     (unsigned long long)s.read_errors);
	cr_assert_eq(s.pages_poisoned, 0);
	cr_assert_eq(s.pages_filled, 16);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	bad_free(b);
}

/*
 * A failing write-back releases nothing: umove_region_sync and umove_unmap
 * return the store's error, the region stays mapped and served with the
 * written bytes, the store stays busy; once writes work, umove_unmap
 * succeeds and the store has the bytes. A failing store sync callback is
 * returned too, and is not called after a failed write.
 */
PATH_TEST(region_fail, write_error_keeps_region)
{
	const size_t n = 80;
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s = {.size = sizeof(s)};
	struct bad *b;
	char *base;

	require_path(*path);
	b = bad_new(n, 0);
	cr_assert_not_null(b);
	expect_ret(umove_store_open(&st, &bad_ops, sizeof(bad_ops), b, n), 0);
	hold(st);
	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_readahead(cfg, 0), 0);
	expect_ret(umove_region_config_set_flags(
			   cfg, *path == EMULATED ? UMOVE_EMULATE : 0),
		   0);
	expect_ret(umove_map(&r, st, 0, n * PG, cfg), 0);
	hold(r);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);

	expect_pages(base, 8, SEED, "pages 0..7");
	for (int i = 0; i < 1000 && s.pages_filled < 8; i++) {
		sleep_ms(2);
		expect_ret(umove_region_stats(r, &s), 0);
	}
	fill_page(base + 2 * PG, SEED2, 2);

	atomic_store(&b->write_err, -EIO);
	expect_ret(umove_region_sync(r), -EIO);
	cr_assert_eq(atomic_load(&b->syncs), 0,
		     "store sync called after a failed write");
	expect_ret(umove_unmap(r), -EIO);
	expect_ret(umove_store_close(st), -EBUSY);
	expect_ret(umove_region_stats(r, &s), 0);
	cr_assert_eq(s.write_errors, 2, "write_errors %llu",
		     (unsigned long long)s.write_errors);
	cr_assert_eq(s.bytes_written, 0);
	/* Still mapped and served: written bytes kept, new faults served. */
	cr_assert_eq(umove_region_addr(r), base);
	expect_page(base + 2 * PG, SEED2, 2, "written page after failed unmap");
	expect_page(base + 40 * PG, SEED, 40, "new fault after failed unmap");
	expect_page(b->data + 2 * PG, SEED, 2, "store after failed writes");

	/* Writes work, the store's sync fails. */
	atomic_store(&b->write_err, 0);
	atomic_store(&b->sync_err, -ENOSPC);
	expect_ret(umove_region_sync(r), -ENOSPC);
	cr_assert_eq(atomic_load(&b->syncs), 1);
	expect_page(b->data + 2 * PG, SEED2, 2, "store after the writes");

	atomic_store(&b->sync_err, 0);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	expect_page(b->data + 2 * PG, SEED2, 2, "store after unmap");
	expect_page(b->data + 40 * PG, SEED, 40, "store after unmap");
	bad_free(b);
}

/*
 * A store that can no longer be written: umove_unmap keeps refusing, and
 * umove_unmap_discard releases the region without writing anything.
 */
PATH_TEST(region_fail, discard_releases_unwritable_region)
{
	const size_t n = 16;
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct bad *b;
	char *base;

	require_path(*path);
	b = bad_new(n, 0);
	cr_assert_not_null(b);
	expect_ret(umove_store_open(&st, &bad_ops, sizeof(bad_ops), b, n), 0);
	hold(st);
	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_flags(
			   cfg, *path == EMULATED ? UMOVE_EMULATE : 0),
		   0);
	expect_ret(umove_map(&r, st, 0, n * PG, cfg), 0);
	hold(r);
	drop(cfg);
	umove_region_config_free(cfg);
	base = umove_region_addr(r);
	fill_page(base + 3 * PG, SEED2, 3);

	atomic_store(&b->write_err, -EIO);
	expect_ret(umove_unmap(r), -EIO);
	expect_ret(umove_unmap(r), -EIO);
	expect_ret(umove_store_close(st), -EBUSY);
	expect_page(base + 3 * PG, SEED2, 3, "written page after failed unmap");

	expect_ret(umove_unmap_discard(r), 0);
	drop(r);
	expect_ret(umove_unmap_discard(r), -EBADF);
	expect_ret(umove_unmap(r), -EBADF);
	cr_assert_eq(atomic_load(&b->syncs), 0);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	expect_page(b->data + 3 * PG, SEED, 3, "store after discard");
	bad_free(b);
}
