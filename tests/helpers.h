/* SPDX-License-Identifier: MIT */
/*
 * Shared fixtures of the umove conformance tests: handles per move path,
 * private anonymous mappings, page patterns, pagemap and smaps readers, and a
 * thread that touches a page so that tests can watch it block and wake,
 * a table of heap objects held for LeakSanitizer, and sleep_ms().
 */
#ifndef UMOVE_TESTS_HELPERS_H
#define UMOVE_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <umove.h>

/* The contract speaks in 4 KiB pages; open_*() skip on any other size. */
#define PG ((size_t)4096)
#define HPAGE ((size_t)2 << 20)

/* Generous: a userfaultfd bug hangs a test rather than failing it. */
#define TEST_TIMEOUT 20
/* How long a test waits for something the kernel does at once. */
#define WAIT_MS 3000

enum um_path { NATIVE, EMULATED };

/*
 * One test body, run once per move path. Criterion needs a parameter
 * generator per test, so the macro writes it; `path` points to the path.
 */
#define PATH_TEST(suite, name)                                      \
	ParameterizedTestParameters(suite, name)                    \
	{                                                           \
		static enum um_path paths[] = {NATIVE, EMULATED};   \
		return cr_make_param_array(enum um_path, paths, 2); \
	}                                                           \
	ParameterizedTest(enum um_path *path, suite, name)

/* "native" or "emulated" once a path handle is open; prefixes failures. */
extern const char *path_label;

/* Formats a umove return value: "-EEXIST" or "8192 (2 pages)". */
const char *ret_str(long long v, char buf[static 48]);

/* Asserts a umove return value, naming both values symbolically. */
#define expect_ret(expr, want) expect_ret_as(expr, want, #expr)

/* The same for a value kept in a variable: `what` names the call. */
#define expect_ret_as(expr, want, what)                                   \
	do {                                                              \
		long long got_ = (long long)(expr);                       \
		long long want_ = (long long)(want);                      \
		char gb_[48], wb_[48];                                    \
		cr_assert_eq(got_, want_, "[%s] %s: expected %s, got %s", \
			     path_label, what, ret_str(want_, wb_),       \
			     ret_str(got_, gb_));                         \
	} while (0)

/*
 * Handles: skip when userfaultfd is not allowed or the path is missing.
 * Every handle they return is tracked: close it with close_um(); a suite's
 * .fini = release_handles closes what a failed assertion left open, so that
 * LeakSanitizer reports only real leaks.
 */
struct umove *open_default(void);
struct umove *open_path(enum um_path path);
struct umove *open_path_extra(enum um_path path, uint64_t extra);
struct umove *track_um(struct umove *um);
void close_um(struct umove *um);
void release_handles(void);

/* Private anonymous RW pages between PROT_NONE guards (no VMA merging). */
void *map_pages(size_t n);
void unmap_pages(void *addr, size_t n);
void *map_registered(struct umove *um, size_t n);
/* len bytes aligned to align, nothing else mapped around them by us. */
void *map_aligned(size_t len, size_t align);
/* A page-aligned address with nothing mapped there. */
void *unmapped_address(void);
/* An unlinked temporary file of size bytes (under /tmp). */
int temp_file(size_t size);

/* Page i of a run holds pattern (seed, i); never all zeros. */
uint64_t pattern_word(uint32_t seed, size_t idx, size_t word);
void fill_page(void *page, uint32_t seed, size_t idx);
void fill_pages(void *addr, size_t n, uint32_t seed);
bool page_matches(const void *page, uint32_t seed, size_t idx);
/* A page LZ4 shrinks a lot: text with a little variation per page idx. */
void fill_text_page(void *page, size_t idx);
void expect_page(const void *page, uint32_t seed, size_t idx, const char *what);
void expect_pages(const void *addr, size_t n, uint32_t seed, const char *what);
void expect_zero_page(const void *page, const char *what);
uint64_t checksum(const void *addr, size_t len);

/* /proc/self/pagemap: bit 63 present, 62 swapped, 57 uffd-wp. */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_UFFD_WP (1ull << 57)
uint64_t pagemap_entry(const void *addr);
bool page_is_hole(const void *addr);
size_t count_non_holes(const void *addr, size_t n);
/*
 * The same without assertions, for threads other than the test's: SIZE_MAX
 * if pagemap cannot be read. One pread: while pages come and go the count
 * may include pages filled during the walk.
 */
size_t present_pages(const void *addr, size_t n);
void expect_hole(const void *addr, const char *what);
void expect_holes(const void *addr, size_t n, const char *what);
void expect_present(const void *addr, const char *what);

/* AnonHugePages (kB) of the mapping holding addr in smaps; -1 if none. */
long smaps_anon_huge_kb(const void *addr);

/* The userfaultfd has something to read within timeout_ms. */
bool fd_readable(int fd, int timeout_ms);
/* Reads one message; asserts a whole one arrived. */
void read_msg(int fd, struct uffd_msg *msg);

/*
 * Heap objects the running test holds. A failed assertion abandons the
 * test's frame; kept reachable from here, what it held is not reported as
 * a leak by LeakSanitizer on top of the failure. hold() keeps p reachable
 * (up to 32 objects), drop() forgets it.
 */
void hold(void *p);
void drop(void *p);

/* Sleeps ms milliseconds, resuming after signals. */
void sleep_ms(long ms);

/* A thread that reads (or writes) one word and records it. */
struct toucher {
	pthread_t tid;
	volatile uint64_t *addr;
	bool write;
	uint64_t value;
	atomic_bool done;
};
void toucher_start(struct toucher *t, void *addr, bool write, uint64_t v);
bool toucher_join(struct toucher *t, int timeout_ms);
/* Joins; if the thread stays blocked, closes um to free it and fails. */
void toucher_finish(struct toucher *t, struct umove *um, const char *what);

/*
 * Stores still open: a suite's .fini calls close_stores() to close what a
 * failed assertion left open, so that LeakSanitizer reports only real leaks.
 */
struct umove_store *track(struct umove_store *st);
void close_store(struct umove_store *st);
void close_stores(void);
/* A region's statistics now (size and version checked). */
struct umove_stats region_stats_now(const struct umove_region *r);
/*
 * The statistics once the handlers are done: poll until pages_filled
 * reaches want_filled, then until two snapshots 5 ms apart agree. A fill
 * is counted just after its install wakes the faulting thread, which may
 * read the statistics first (umove_region_stats(3), Consistency).
 */
struct umove_stats settled_stats(const struct umove_region *r,
				 uint64_t want_filled);

/* Skips a test that assumes 4 KiB pages. */
void need_4k(void);

/*
 * A thread that makes the kernel migrate pages (compaction, every 50 ms)
 * while a test runs: moves then retry inside the kernel, which is where
 * Linux 6.18 misreports them. Root only: compactor_start() returns false,
 * and starts nothing, where /proc/sys/vm/compact_memory is not writable.
 */
struct compactor {
	pthread_t tid;
	atomic_bool stop;
	bool running;
};
bool compactor_start(struct compactor *c);
void compactor_stop(struct compactor *c);

/*
 * What a test's forked child tells the parent through shared memory: the
 * step it is at (named when it hangs), whether it finished, and its first
 * failure ("" if none). A test's report starts with one; child_log points
 * to it in both processes.
 */
struct child_log {
	atomic_int stage;
	atomic_bool done;
	char what[160];
	char err[256];
};
extern struct child_log *child_log;
__attribute__((format(printf, 1, 2))) void child_step(const char *fmt, ...);
/* Records the first failure only; returns false, for `return child_fail()`. */
__attribute__((format(printf, 1, 2))) bool child_fail(const char *fmt, ...);

/*
 * Waits up to ms for child pid to end: true, with its wait status; false
 * once it has been killed (SIGKILL) and reaped instead.
 */
bool child_reap(pid_t pid, int ms, int *status);

/*
 * SIGBUS and SIGSEGV in this process: caught (for touch_page) or back to
 * their default action, unblocked in the calling thread either way.
 */
void catch_fault_signals(bool catch);
/*
 * Copies the page at page into copy with fault signals caught: 0, or the
 * signal the access raised, and then *addr (if not NULL) the address.
 */
int touch_page(const void *page, void *copy, void **addr);

#endif /* UMOVE_TESTS_HELPERS_H */
