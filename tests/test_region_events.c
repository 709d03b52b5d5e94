/* SPDX-License-Identifier: MIT */
/*
 * The application's own memory calls on a region, and their events: fork
 * (the child has no region), MADV_DONTNEED and MADV_FREE (pages refetched,
 * or written back), munmap of part of it (no hang, sync writes back only
 * what is still mapped, a later mapping in the hole survives umove_unmap),
 * mremap, and umove_unmap while other threads are faulting.
 *
 * Whatever may end in a signal or a hang runs in a forked child, which
 * reports through a MAP_SHARED page the parent reads even if it hangs. A
 * child creates its own store and region (a region is MADV_DONTFORK, so a
 * child never has its parent's), unless the test is about exactly that.
 */
#include "helpers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(region_events, .timeout = TEST_TIMEOUT);

#define SEED 0x45  /* store page i holds (SEED, i) */
#define SEED2 0x56 /* written by the tests */
#define SEED3 0x57
#define CHILD_MS 10000
#define ROUNDS 100 /* tries at a race between an event and the next call */

/* --- a store in memory that counts reads and writes per page ---------- */

struct arr {
	char *data;
	size_t pages;
	long read_delay_ms;
	_Atomic unsigned *reads;
	_Atomic unsigned *writes;
};

static int arr_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct arr *a = priv;

	if (a->read_delay_ms)
		sleep_ms(a->read_delay_ms);
	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&a->reads[index + i], 1);
	memcpy(buf, a->data + index * PG, count * PG);
	return 0;
}

static int arr_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct arr *a = priv;

	for (size_t i = 0; i < count; i++)
		atomic_fetch_add(&a->writes[index + i], 1);
	memcpy(a->data + index * PG, buf, count * PG);
	return 0;
}

static const struct umove_store_ops arr_ops = {.read = arr_read,
					       .write = arr_write};

/* No Criterion asserts: children use it too. False when out of memory. */
static bool arr_init(struct arr *a, size_t pages)
{
	memset(a, 0, sizeof(*a));
	a->pages = pages;
	a->data = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a->reads = calloc(pages, sizeof(*a->reads));
	a->writes = calloc(pages, sizeof(*a->writes));
	hold(a->reads);
	hold(a->writes);
	if (a->data == MAP_FAILED || !a->reads || !a->writes)
		return false;
	fill_pages(a->data, pages, SEED);
	return true;
}

static void arr_fini(struct arr *a)
{
	munmap(a->data, a->pages * PG);
	drop(a->reads);
	drop(a->writes);
	free(a->reads);
	free(a->writes);
}

/* --- regions ------------------------------------------------------------ */

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

/* Returns 0 or the first error; no Criterion asserts (children use it). */
static int open_region(struct umove_region **r, struct umove_store **st,
		       struct arr *a, enum um_path path, unsigned threads,
		       unsigned readahead)
{
	struct umove_region_config *cfg = NULL;
	int ret = umove_store_open(st, &arr_ops, sizeof(arr_ops), a, a->pages);

	if (!ret)
		ret = umove_region_config_new(&cfg);
	if (!ret)
		ret = umove_region_config_set_threads(cfg, threads);
	if (!ret)
		ret = umove_region_config_set_readahead(cfg, readahead);
	if (!ret)
		ret = umove_region_config_set_fill(cfg, UMOVE_FILL_MOVE);
	if (!ret)
		ret = umove_region_config_set_flags(
			cfg, path == EMULATED ? UMOVE_EMULATE : 0);
	if (!ret)
		ret = umove_map(r, *st, 0, a->pages * PG, cfg);
	umove_region_config_free(cfg);
	if (*st)
		hold(*st);
	if (!ret)
		hold(*r);
	return ret;
}

/* --- children ----------------------------------------------------------- */

struct report {
	struct child_log log; /* first: child_log points here */
	long values[8];	      /* scenario-specific results */
};

static struct report *rep;

typedef void (*scenario)(const void *arg);

static pid_t child_start(scenario fn, const void *arg, bool catch_faults)
{
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rep, MAP_FAILED);
	memset(rep, 0, sizeof(*rep));
	child_log = &rep->log;
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid)
		return pid;
	alarm(TEST_TIMEOUT); /* never outlive the test */
	catch_fault_signals(catch_faults);
	fn(arg);
	atomic_store(&rep->log.done, true);
	_exit(0);
}

/* Waits up to ms; a child still running is killed and the test fails. */
static int child_wait(pid_t pid, int ms, const char *what)
{
	int status = 0;

	if (!child_reap(pid, ms, &status))
		cr_assert_fail("[%s] %s: child hung at step %d (%s) for %d ms",
			       path_label, what, atomic_load(&rep->log.stage),
			       rep->log.what, ms);
	cr_assert_eq(rep->log.err[0], '\0', "[%s] %s: %s", path_label, what,
		     rep->log.err);
	return status;
}

static void child_release(void)
{
	munmap(rep, sizeof(*rep));
}

/* --- fork ---------------------------------------------------------------- */

/* In a child forked with the parent's region: touch one of its pages. */
static void touch_inherited(const void *arg)
{
	const char *page = arg;
	static char copy[PG];
	bool store_bytes = false, zeros = true;

	child_step("touch the parent's region at %p", (const void *)page);
	memcpy(copy, page, PG); /* SIGSEGV, under the default handler */
	for (size_t i = 0; i < PG; i++)
		zeros &= !copy[i];
	for (size_t i = 0; i < 64; i++)
		store_bytes |= page_matches(copy, SEED, i);
	child_fail("the child read the parent's region: %s",
		   zeros ? "a page of zeros"
			 : (store_bytes ? "the store's bytes" : "other bytes"));
}

/*
 * The child of a process with a region has no region: a resident page and
 * a page never filled are both SIGSEGV there, never zeros. The parent goes
 * on filling pages by move afterwards (its staging area is not shared with
 * the child either, so no move is refused).
 */
PATH_TEST(region_events, fork_child_has_no_region)
{
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s;
	struct arr a;
	char *base;
	int status;

	require_path(*path);
	cr_assert(arr_init(&a, 64));
	expect_ret(open_region(&r, &st, &a, *path, 2, 3), 0);
	base = umove_region_addr(r);
	expect_pages(base, 32, SEED, "parent before fork");

	for (int k = 0; k < 2; k++) {
		const char *page = base + (k ? 48 : 5) * PG;
		pid_t pid = child_start(touch_inherited, page, false);

		status = child_wait(pid, CHILD_MS, "child touching the region");
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
			  "[%s] child touching a %s page: status 0x%x, want "
			  "SIGSEGV",
			  path_label, k ? "never filled" : "resident", status);
		child_release();
	}

	expect_pages(base, 64, SEED, "parent after fork");
	s = settled_stats(r, 64);
	cr_assert_eq(s.pages_filled, 64);
	cr_assert_eq(s.copies, 0,
		     "[%s] %llu moves were refused after the fork and copied",
		     path_label, (unsigned long long)s.copies);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

/* --- madvise ------------------------------------------------------------- */

/*
 * MADV_DONTNEED on resident pages: they are fetched again on the next touch,
 * with the store's bytes (unsynced writes discarded, as the call asks);
 * pages outside the range keep what was written; a sync writes back only
 * what is resident.
 */
PATH_TEST(region_events, madv_dontneed_refetches)
{
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_path(*path);
	cr_assert(arr_init(&a, 32));
	expect_ret(open_region(&r, &st, &a, *path, 1, 3), 0);
	base = umove_region_addr(r);
	expect_pages(base, 24, SEED, "first read");
	for (size_t p = 4; p < 13; p++)
		fill_page(base + p * PG, SEED2, p);

	cr_assert_eq(madvise(base + 4 * PG, 8 * PG, MADV_DONTNEED), 0,
		     "madvise: %s", strerror(errno));
	/* Pages never filled: nothing to discard, nothing breaks. */
	cr_assert_eq(madvise(base + 24 * PG, 8 * PG, MADV_DONTNEED), 0);
	/* No REMOVE event: the discarded pages are found when they fault. */
	s = settled_stats(r, 0);
	cr_assert_eq(s.events_other, 0, "[%s] events_other %llu", path_label,
		     (unsigned long long)s.events_other);

	for (size_t p = 4; p < 12; p++)
		expect_page(base + p * PG, SEED, p, "discarded page");
	expect_page(base + 12 * PG, SEED2, 12, "written page outside range");
	expect_pages(base, 4, SEED, "pages before the range");
	for (size_t p = 24; p < 32; p++)
		expect_page(base + p * PG, SEED, p, "page never filled");
	for (size_t p = 0; p < 32; p++)
		cr_assert_eq(atomic_load(&a.reads[p]), p >= 4 && p < 12 ? 2 : 1,
			     "[%s] store page %zu read %u times", path_label, p,
			     atomic_load(&a.reads[p]));
	s = settled_stats(r, 32 + 8);
	cr_assert_eq(s.pages_filled, 40);

	expect_ret(umove_region_sync(r), 0);
	for (size_t p = 0; p < 32; p++)
		expect_page(a.data + p * PG, p == 12 ? SEED2 : SEED, p,
			    "store after sync");
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

/*
 * MADV_FREE, unlike MADV_DONTNEED, frees the pages lazily, and a write
 * after it keeps the page with the new bytes (madvise(2)). Such a page is
 * ordinary written memory: sync and unmap must write it back.
 */
PATH_TEST(region_events, madv_free_then_write_is_synced)
{
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct arr a;
	char *base;

	require_path(*path);
	cr_assert(arr_init(&a, 8));
	expect_ret(open_region(&r, &st, &a, *path, 1, 7), 0);
	base = umove_region_addr(r);
	expect_pages(base, 8, SEED, "first read");
	settled_stats(r, 8);
	if (madvise(base + 2 * PG, PG, MADV_FREE) != 0) {
		int err = errno;

		expect_ret(umove_unmap(r), 0);
		drop(r);
		expect_ret(umove_store_close(st), 0);
		drop(st);
		arr_fini(&a);
		cr_skip_test("MADV_FREE: %s", strerror(err));
	}
	fill_page(base + 2 * PG, SEED3, 2);
	expect_page(base + 2 * PG, SEED3, 2, "page written after MADV_FREE");
	expect_ret(umove_region_sync(r), 0);
	expect_page(a.data + 2 * PG, SEED3, 2,
		    "store after sync: page written after MADV_FREE");
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_page(a.data + 2 * PG, SEED3, 2, "store after unmap");
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

/* --- munmap -------------------------------------------------------------- */

/*
 * munmap of pages 16..31 of 64: returns at once (a handler reads the UNMAP
 * event); the sync writes back the still-mapped changed pages only; the
 * rest of the region works; umove_unmap succeeds.
 */
PATH_TEST(region_events, munmap_part)
{
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s;
	struct arr a;
	char *base;

	require_path(*path);
	cr_assert(arr_init(&a, 64));
	expect_ret(open_region(&r, &st, &a, *path, 2, 7), 0);
	base = umove_region_addr(r);
	expect_pages(base, 40, SEED, "first read");
	for (size_t p = 0; p < 40; p++)
		fill_page(base + p * PG, SEED2, p);

	cr_assert_eq(munmap(base + 16 * PG, 16 * PG), 0, "munmap: %s",
		     strerror(errno));
	/* Counted once applied, which may be just after munmap returns. */
	s = settled_stats(r, 0);
	cr_assert_geq(s.events_other, 1, "[%s] events_other %llu", path_label,
		      (unsigned long long)s.events_other);
	/* The rest is served as before, including pages never filled. */
	for (size_t p = 40; p < 64; p++)
		expect_page(base + p * PG, SEED, p, "page after the munmap");
	settled_stats(r, 64);

	expect_ret(umove_region_sync(r), 0);
	for (size_t p = 0; p < 64; p++) {
		bool gone = p >= 16 && p < 32;

		expect_page(a.data + p * PG, p < 40 && !gone ? SEED2 : SEED, p,
			    "store after sync");
		if (gone)
			cr_assert_eq(atomic_load(&a.writes[p]), 0,
				     "[%s] unmapped page %zu written back",
				     path_label, p);
		else /* 0..39 were changed, 40..63 only read */
			cr_assert_eq(atomic_load(&a.writes[p]), p < 40,
				     "[%s] page %zu written %u times",
				     path_label, p, atomic_load(&a.writes[p]));
	}
	s = region_stats_now(r);
	cr_assert_eq(s.bytes_written, 24 * PG, "[%s] bytes_written %llu",
		     path_label, (unsigned long long)s.bytes_written);
	cr_assert_eq(s.sync_clean, 24);
	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	arr_fini(&a);
}

/*
 * Once munmap has returned, its pages are GONE for a sync that follows:
 * the sync skips them and succeeds (an EFAULT is only for an munmap that
 * runs during the sync). Repeated, since munmap returns as soon as a
 * handler has read the UNMAP event, not once it has applied it.
 */
PATH_TEST(region_events, sync_right_after_munmap)
{
	require_path(*path);
	for (int round = 0; round < ROUNDS; round++) {
		struct umove_region *r = NULL;
		struct umove_store *st = NULL;
		struct arr a;
		char *base;
		int ret;

		cr_assert(arr_init(&a, 32));
		expect_ret(open_region(&r, &st, &a, *path, 1, 7), 0);
		base = umove_region_addr(r);
		expect_pages(base, 32, SEED, "first read");
		cr_assert_eq(munmap(base + 8 * PG, 8 * PG), 0);
		ret = umove_region_sync(r);
		cr_assert_eq(ret, 0,
			     "[%s] round %d: umove_region_sync right after "
			     "munmap returned %d",
			     path_label, round, ret);
		for (size_t p = 8; p < 16; p++)
			cr_assert_eq(atomic_load(&a.writes[p]), 0);
		expect_ret(umove_unmap(r), 0);
		drop(r);
		expect_ret(umove_store_close(st), 0);
		drop(st);
		arr_fini(&a);
	}
}

/*
 * A mapping the application makes in the hole it unmapped is its own:
 * umove_unmap leaves it mapped, with its bytes (umove_unmap only unmaps
 * what is still the region's). Repeated, as above.
 */
PATH_TEST(region_events, mapping_in_unmapped_hole_survives_unmap)
{
	require_path(*path);
	for (int round = 0; round < ROUNDS; round++) {
		struct umove_region *r = NULL;
		struct umove_store *st = NULL;
		struct arr a;
		char *base, *mine;

		cr_assert(arr_init(&a, 32));
		expect_ret(open_region(&r, &st, &a, *path, 1, 3), 0);
		base = umove_region_addr(r);
		expect_pages(base, 32, SEED, "first read");
		cr_assert_eq(munmap(base + 8 * PG, 8 * PG), 0);
		mine = mmap(base + 8 * PG, 8 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			    -1, 0);
		cr_assert_eq(mine, base + 8 * PG, "mmap in the hole: %s",
			     strerror(errno));
		fill_pages(mine, 8, SEED2);

		expect_ret(umove_unmap(r), 0);
		drop(r);
		cr_assert_eq(msync(mine, 8 * PG, MS_ASYNC), 0,
			     "[%s] round %d: umove_unmap unmapped the "
			     "application's mapping in the hole (msync: %s)",
			     path_label, round, strerror(errno));
		expect_pages(mine, 8, SEED2,
			     "application's mapping after unmap");
		cr_assert_eq(munmap(mine, 8 * PG), 0);
		expect_ret(umove_store_close(st), 0);
		drop(st);
		arr_fini(&a);
	}
}

/* --- mremap -------------------------------------------------------------- */

struct remap_arg {
	enum um_path path;
	int want_sig;
};

/*
 * In a child: the region moved elsewhere by mremap takes its resident pages
 * along; a page never filled raises SIGBUS at the new address (poisoned);
 * umove_unmap succeeds and leaves the moved memory mapped.
 */
static void remap_child(const void *argp)
{
	const struct remap_arg *arg = argp;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct umove_stats s;
	static char copy[PG];
	struct arr a;
	char *base, *moved;
	int sig, ret;

	child_step("create the region");
	if (!arr_init(&a, 16)) {
		child_fail("out of memory");
		return;
	}
	ret = open_region(&r, &st, &a, arg->path, 1, 0);
	if (ret) {
		child_fail("open_region: %d", ret);
		return;
	}
	base = umove_region_addr(r);
	child_step("read pages 0..3");
	for (size_t p = 0; p < 4; p++)
		if (touch_page(base + p * PG, copy, NULL) ||
		    !page_matches(copy, SEED, p))
			child_fail("page %zu before mremap", p);
	child_step("mremap");
	moved = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     0);
	moved = mremap(base, 16 * PG, 16 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		       moved);
	if (moved == MAP_FAILED) {
		child_fail("mremap: %s", strerror(errno));
		return;
	}
	child_step("read the moved resident pages");
	for (size_t p = 0; p < 4; p++)
		if (touch_page(moved + p * PG, copy, NULL) ||
		    !page_matches(copy, SEED, p))
			child_fail("moved resident page %zu", p);
	child_step("touch a moved page never filled");
	sig = touch_page(moved + 8 * PG, copy, NULL);
	if (sig != arg->want_sig)
		child_fail("moved page never filled: %s, want SIG%s",
			   sig ? sigabbrev_np(sig) : "no signal",
			   sigabbrev_np(arg->want_sig));
	child_step("touch the old address");
	sig = touch_page(base, copy, NULL);
	if (sig != SIGSEGV)
		child_fail("old address: %s, want SIGSEGV",
			   sig ? sigabbrev_np(sig) : "no signal");
	child_step("stats");
	/* The poison is counted just after it woke the thread. */
	for (int i = 0; i < 400; i++) {
		memset(&s, 0, sizeof(s));
		s.size = sizeof(s);
		umove_region_stats(r, &s);
		if (s.pages_poisoned && s.events_other)
			break;
		sleep_ms(5);
	}
	rep->values[0] = (long)s.events_other;
	rep->values[1] = (long)s.pages_poisoned;
	child_step("umove_unmap");
	ret = umove_unmap(r);
	if (ret)
		child_fail("umove_unmap: %d", ret);
	child_step("the moved memory after umove_unmap");
	if (msync(moved, 16 * PG, MS_ASYNC))
		child_fail("umove_unmap unmapped the moved memory");
	else if (touch_page(moved, copy, NULL) || !page_matches(copy, SEED, 0))
		child_fail("moved page 0 after umove_unmap");
	if (umove_store_close(st))
		child_fail("umove_store_close");
}

PATH_TEST(region_events, mremap_moves_out_of_region)
{
	struct remap_arg arg = {.path = *path, .want_sig = SIGBUS};
	struct umove *um;
	pid_t pid;

	require_path(*path);
	um = open_default();
	if (!(umove_caps(um) & UMOVE_CAP_POISON))
		arg.want_sig = SIGSEGV;
	close_um(um);
	pid = child_start(remap_child, &arg, true);
	child_wait(pid, CHILD_MS, "mremap");
	cr_assert(atomic_load(&rep->log.done),
		  "[%s] child ended at step %d (%s)", path_label,
		  atomic_load(&rep->log.stage), rep->log.what);
	cr_assert_geq(rep->values[0], 1, "events_other %ld", rep->values[0]);
	cr_assert_eq(rep->values[1], 1, "pages_poisoned %ld", rep->values[1]);
	child_release();
}

/* --- unmap while faulting ------------------------------------------------ */

/*
 * umove_unmap from the main thread while 4 threads keep faulting on random
 * pages (store reads take 1 ms, so faults are always in flight). What
 * happens: the sync and the munmap go through; a reader touching the range
 * after the munmap gets SIGSEGV, as after any munmap; a reader still
 * waiting in a fault is woken when the userfaultfd closes and gets SIGSEGV
 * too. umove_unmap returns 0 and nothing hangs. With catching readers
 * (siglongjmp out of the access) the child then exits normally; without,
 * the first such SIGSEGV ends it.
 */
#define UF_PAGES 4096 /* 16 MiB */
#define UF_READERS 4

struct uf_reader {
	pthread_t tid;
	const char *base;
	unsigned id;
	atomic_bool *stop;
	long reads, bad, sig;
};

static void *uf_reader_main(void *arg)
{
	struct uf_reader *u = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (u->id + 1);
	static __thread char copy[PG];

	while (!atomic_load(u->stop)) {
		size_t p;
		int sig;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p = (size_t)(x % UF_PAGES);
		sig = touch_page(u->base + p * PG, copy, NULL);
		if (sig) {
			u->sig = sig;
			break;
		}
		u->reads++;
		if (!page_matches(copy, SEED, p))
			u->bad++;
	}
	return NULL;
}

struct uf_arg {
	enum um_path path;
	unsigned threads;
};

static void unmap_faulting_child(const void *argp)
{
	const struct uf_arg *arg = argp;
	struct umove_region *r = NULL;
	struct umove_store *st = NULL;
	struct uf_reader u[UF_READERS];
	atomic_bool stop = false;
	struct arr a;
	int ret;

	child_step("create the region");
	if (!arr_init(&a, UF_PAGES)) {
		child_fail("out of memory");
		return;
	}
	a.read_delay_ms = 1;
	ret = open_region(&r, &st, &a, arg->path, arg->threads, 0);
	if (ret) {
		child_fail("open_region: %d", ret);
		return;
	}
	child_step("start readers");
	for (unsigned i = 0; i < UF_READERS; i++) {
		u[i] = (struct uf_reader){
			.base = umove_region_addr(r), .id = i, .stop = &stop};
		if (pthread_create(&u[i].tid, NULL, uf_reader_main, &u[i])) {
			child_fail("pthread_create");
			return;
		}
	}
	sleep_ms(100);
	child_step("umove_unmap while readers fault");
	ret = umove_unmap(r);
	rep->values[0] = ret;
	child_step("stop readers");
	atomic_store(&stop, true);
	child_step("join readers");
	for (unsigned i = 0; i < UF_READERS; i++) {
		pthread_join(u[i].tid, NULL);
		rep->values[1] += u[i].reads;
		rep->values[2] += u[i].bad;
		rep->values[3] += u[i].sig == SIGSEGV;
		if (u[i].sig && u[i].sig != SIGSEGV)
			child_fail("reader %u: SIG%s", i,
				   sigabbrev_np(u[i].sig));
	}
	child_step("close the store");
	ret = umove_store_close(st);
	if (ret)
		child_fail("umove_store_close after unmap: %d", ret);
}

ParameterizedTestParameters(region_events, unmap_while_faulting)
{
	static struct uf_arg c[] = {
		{NATIVE, 1}, {NATIVE, 4}, {EMULATED, 1}, {EMULATED, 4}};

	return cr_make_param_array(struct uf_arg, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct uf_arg *c, region_events, unmap_while_faulting)
{
	int status;
	pid_t pid;

	require_path(c->path);

	/* Readers that catch SIGSEGV: the child reports and exits. */
	pid = child_start(unmap_faulting_child, c, true);
	status = child_wait(pid, CHILD_MS, "unmap while faulting");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			  atomic_load(&rep->log.done),
		  "[%s, %u handlers] child status 0x%x at step %d (%s)",
		  path_label, c->threads, status, atomic_load(&rep->log.stage),
		  rep->log.what);
	cr_assert_eq(rep->values[0], 0, "[%s] umove_unmap returned %ld",
		     path_label, rep->values[0]);
	cr_assert_gt(rep->values[1], 0, "[%s] no reads before the unmap",
		     path_label);
	cr_assert_eq(rep->values[2], 0, "[%s] %ld reads saw wrong bytes",
		     path_label, rep->values[2]);
	child_release();

	/* Default handlers: a reader's SIGSEGV may end the child. */
	pid = child_start(unmap_faulting_child, c, false);
	status = child_wait(pid, CHILD_MS, "unmap while faulting, no handler");
	cr_assert((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
			  (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV),
		  "[%s, %u handlers] child status 0x%x at step %d (%s)",
		  path_label, c->threads, status, atomic_load(&rep->log.stage),
		  rep->log.what);
	cr_assert_geq(atomic_load(&rep->log.stage), 3,
		      "[%s] child ended before umove_unmap (step %d, %s)",
		      path_label, atomic_load(&rep->log.stage), rep->log.what);
	child_release();
}
