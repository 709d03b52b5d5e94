/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *path_label = "any";

const char *ret_str(long long v, char buf[static 48])
{
	const char *name = v < 0 ? strerrorname_np((int)-v) : NULL;

	if (v < 0 && name)
		snprintf(buf, 48, "-%s", name);
	else if (v < 0)
		snprintf(buf, 48, "-errno %lld", -v);
	else
		snprintf(buf, 48, "%lld (%lld pages)", v, v / (long long)PG);
	return buf;
}

/* Handles still open; the test process is single-use, so a table is enough. */
static struct umove *tracked[16];

struct umove *track_um(struct umove *um)
{
	for (size_t i = 0; i < 16; i++)
		if (!tracked[i]) {
			tracked[i] = um;
			return um;
		}
	cr_assert_fail("more than 16 handles open in one test");
	return um;
}

void close_um(struct umove *um)
{
	for (size_t i = 0; i < 16; i++)
		if (tracked[i] == um)
			tracked[i] = NULL;
	umove_close(um);
}

void release_handles(void)
{
	for (size_t i = 0; i < 16; i++)
		if (tracked[i])
			close_um(tracked[i]);
}

static void skip_unusable(int ret)
{
	if (ret == -EPERM || ret == -EACCES)
		cr_skip_test("userfaultfd not permitted here (%s)",
			     strerror(-ret));
	if (ret == -ENOSYS)
		cr_skip_test("kernel without userfaultfd");
}

static void require_page_size(void)
{
	if (sysconf(_SC_PAGESIZE) != (long)PG)
		cr_skip_test("tests assume 4 KiB pages");
}

struct umove *open_default(void)
{
	struct umove *um = NULL;
	int ret;

	require_page_size();
	ret = umove_open(&um, 0);
	skip_unusable(ret);
	expect_ret(ret, 0);
	cr_assert_not_null(um);
	return track_um(um);
}

static bool env_forces_emulation(void)
{
	const char *v = getenv("UMOVE_EMULATE");

	return v && *v && strcmp(v, "0") != 0;
}

static void require_native(struct umove *um)
{
	if (!(umove_caps(um) & UMOVE_CAP_NATIVE_MOVE)) {
		close_um(um);
		cr_skip_test("kernel lacks UFFDIO_MOVE (Linux < 6.8)");
	}
	if (env_forces_emulation()) {
		close_um(um);
		cr_skip_test("UMOVE_EMULATE set in the environment");
	}
	cr_assert(umove_native_move(um),
		  "[native] umove_native_move() false although the kernel "
		  "has UFFDIO_MOVE");
}

/* "UFFD_FEATURE_A UFFD_FEATURE_B" for a skip message. */
static const char *feature_list(uint64_t mask, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int bit = 0; bit < 64 && used < size; bit++) {
		const char *name = umove_feature_name(mask & (1ull << bit));

		if (name)
			used += (size_t)snprintf(buf + used, size - used,
						 "%sUFFD_FEATURE_%s",
						 used ? " " : "", name);
	}
	return buf;
}

struct umove *open_path_extra(enum um_path path, uint64_t extra)
{
	unsigned flags = path == EMULATED ? UMOVE_EMULATE : 0;
	struct umove *um = NULL;
	char names[256];
	int ret;

	path_label = path == NATIVE ? "native" : "emulated";
	require_page_size();
	ret = umove_open_features(&um, flags, extra);
	skip_unusable(ret);
	if (ret == -EOPNOTSUPP)
		cr_skip_test("kernel lacks %s",
			     feature_list(extra, names, sizeof(names)));
	expect_ret(ret, 0);
	cr_assert_not_null(um);
	track_um(um);
	if (path == NATIVE)
		require_native(um);
	else
		cr_assert(!umove_native_move(um),
			  "[emulated] UMOVE_EMULATE ignored");
	return um;
}

struct umove *open_path(enum um_path path)
{
	return open_path_extra(path, 0);
}

void *map_pages(size_t n)
{
	char *raw = mmap(NULL, (n + 2) * PG, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(raw, MAP_FAILED, "mmap %zu pages: %s", n,
		      strerror(errno));
	cr_assert_eq(mprotect(raw + PG, n * PG, PROT_READ | PROT_WRITE), 0,
		     "mprotect: %s", strerror(errno));
	return raw + PG;
}

void unmap_pages(void *addr, size_t n)
{
	cr_assert_eq(munmap((char *)addr - PG, (n + 2) * PG), 0);
}

void *map_registered(struct umove *um, size_t n)
{
	void *p = map_pages(n);

	expect_ret(umove_register(um, p, n * PG, UMOVE_REGISTER_MISSING), 0);
	return p;
}

void *map_aligned(size_t len, size_t align)
{
	size_t span = len + align;
	char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p, *end;

	cr_assert_neq(raw, MAP_FAILED, "mmap: %s", strerror(errno));
	p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	end = raw + span;
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (end > p + len)
		munmap(p + len, (size_t)(end - (p + len)));
	return p;
}

void *unmapped_address(void)
{
	void *p = map_pages(1);

	unmap_pages(p, 1);
	return p;
}

int temp_file(size_t size)
{
	char name[] = "/tmp/umove-test-XXXXXX";
	int fd = mkstemp(name);

	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	/* Unlinked at once: nothing is left behind even if the test dies. */
	unlink(name);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t pattern_word(uint32_t seed, size_t idx, size_t word)
{
	return splitmix64(((uint64_t)seed << 40) ^ ((uint64_t)idx << 9) ^
			  word) |
	       1;
}

void fill_page(void *page, uint32_t seed, size_t idx)
{
	uint64_t *w = page;

	for (size_t i = 0; i < PG / 8; i++)
		w[i] = pattern_word(seed, idx, i);
}

void fill_pages(void *addr, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		fill_page((char *)addr + i * PG, seed, i);
}

bool page_matches(const void *page, uint32_t seed, size_t idx)
{
	const uint64_t *w = page;

	for (size_t i = 0; i < PG / 8; i++)
		if (w[i] != pattern_word(seed, idx, i))
			return false;
	return true;
}

static bool page_is_zero(const void *page)
{
	const uint64_t *w = page;

	for (size_t i = 0; i < PG / 8; i++)
		if (w[i])
			return false;
	return true;
}

void expect_page(const void *page, uint32_t seed, size_t idx, const char *what)
{
	uint8_t want[PG];
	const uint8_t *got = page;

	size_t i = 0;

	fill_page(want, seed, idx);
	if (memcmp(got, want, PG) == 0)
		return;
	while (got[i] == want[i])
		i++;
	cr_assert_fail("[%s] %s (pattern seed %u page %zu): byte %zu "
		       "expected 0x%02x, got 0x%02x%s",
		       path_label, what, seed, idx, i, want[i], got[i],
		       page_is_zero(got) ? " (whole page is zeros)" : "");
}

void expect_pages(const void *addr, size_t n, uint32_t seed, const char *what)
{
	for (size_t i = 0; i < n; i++)
		expect_page((const char *)addr + i * PG, seed, i, what);
}

void expect_zero_page(const void *page, const char *what)
{
	const uint8_t *b = page;
	size_t i = 0;

	if (page_is_zero(page))
		return;
	while (b[i] == 0)
		i++;
	cr_assert_fail("[%s] %s: byte %zu expected 0, got 0x%02x", path_label,
		       what, i, b[i]);
}

uint64_t checksum(const void *addr, size_t len)
{
	const uint64_t *w = addr;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	return h;
}

static int pagemap_fd(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open pagemap: %s", strerror(errno));
	return fd;
}

static void pagemap_read(const void *addr, uint64_t *out, size_t n)
{
	int fd = pagemap_fd();
	off_t off = (off_t)((uintptr_t)addr / PG * 8);
	ssize_t r = pread(fd, out, n * 8, off);

	close(fd);
	cr_assert_eq(r, (ssize_t)(n * 8), "pread pagemap: %s", strerror(errno));
}

uint64_t pagemap_entry(const void *addr)
{
	uint64_t e;

	pagemap_read(addr, &e, 1);
	return e;
}

bool page_is_hole(const void *addr)
{
	return !(pagemap_entry(addr) & (PM_PRESENT | PM_SWAPPED));
}

size_t present_pages(const void *addr, size_t n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t *e = malloc(n * sizeof(*e));
	off_t off = (off_t)((uintptr_t)addr / PG * sizeof(*e));
	size_t count = SIZE_MAX;

	if (fd >= 0 && e &&
	    pread(fd, e, n * sizeof(*e), off) == (ssize_t)(n * sizeof(*e))) {
		count = 0;
		for (size_t j = 0; j < n; j++)
			count += !!(e[j] & (PM_PRESENT | PM_SWAPPED));
	}
	free(e);
	if (fd >= 0)
		close(fd);
	return count;
}

size_t count_non_holes(const void *addr, size_t n)
{
	size_t count = present_pages(addr, n);

	cr_assert_neq(count, SIZE_MAX, "pagemap could not be read");
	return count;
}

void expect_hole(const void *addr, const char *what)
{
	uint64_t e = pagemap_entry(addr);

	cr_assert(!(e & (PM_PRESENT | PM_SWAPPED)),
		  "[%s] %s: expected a hole, pagemap 0x%016llx (%s)",
		  path_label, what, (unsigned long long)e,
		  e & PM_PRESENT ? "present" : "swapped");
}

void expect_holes(const void *addr, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		expect_hole((const char *)addr + i * PG, what);
}

void expect_present(const void *addr, const char *what)
{
	uint64_t e = pagemap_entry(addr);

	cr_assert(e & PM_PRESENT,
		  "[%s] %s: expected a present page, pagemap 0x%016llx",
		  path_label, what, (unsigned long long)e);
}

long smaps_anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long start, end, a = (uintptr_t)addr;
	char *line = NULL, perms[8];
	size_t cap = 0;
	bool inside = false;
	long kb = -1;

	cr_assert_not_null(f, "open smaps: %s", strerror(errno));
	while (kb < 0 && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3)
			inside = a >= start && a < end;
		else if (inside)
			sscanf(line, "AnonHugePages: %ld kB", &kb);
	}
	free(line);
	fclose(f);
	return kb;
}

bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	cr_assert_geq(r, 0, "poll: %s", strerror(errno));
	return r == 1 && (p.revents & POLLIN);
}

void read_msg(int fd, struct uffd_msg *msg)
{
	ssize_t r = read(fd, msg, sizeof(*msg));

	cr_assert_eq(r, (ssize_t)sizeof(*msg), "read uffd_msg: %zd (%s)", r,
		     r < 0 ? strerror(errno) : "short");
}

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;

	if (t->write)
		*t->addr = t->value;
	else
		t->value = *t->addr;
	atomic_store(&t->done, true);
	return NULL;
}

void toucher_start(struct toucher *t, void *addr, bool write, uint64_t v)
{
	t->addr = addr;
	t->write = write;
	t->value = v;
	atomic_init(&t->done, false);
	cr_assert_eq(pthread_create(&t->tid, NULL, toucher_main, t), 0);
}

bool toucher_join(struct toucher *t, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t->tid, NULL, &ts) == 0;
}

void toucher_finish(struct toucher *t, struct umove *um, const char *what)
{
	if (toucher_join(t, WAIT_MS))
		return;
	/* Closing the userfaultfd wakes the thread, so the test can end. */
	close_um(um);
	toucher_join(t, WAIT_MS);
	cr_assert_fail("[%s] %s: the faulting thread was not woken", path_label,
		       what);
}

/*
 * Heap objects the running test holds. A failed assertion abandons the
 * test's frame; kept reachable from here, what it held is not reported as
 * a leak by LeakSanitizer on top of the failure.
 */
static void *held[32];

void hold(void *p)
{
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (!held[i]) {
			held[i] = p;
			return;
		}
}

void drop(void *p)
{
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (held[i] == p)
			held[i] = NULL;
}

void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

struct umove_stats region_stats_now(const struct umove_region *r)
{
	struct umove_stats s;

	memset(&s, 0xa5, sizeof(s));
	s.size = sizeof(s);
	cr_assert_eq(umove_region_stats(r, &s), 0);
	cr_assert_eq(s.size, sizeof(s));
	cr_assert_eq(s.version, UMOVE_STATS_VERSION);
	return s;
}

struct umove_stats settled_stats(const struct umove_region *r,
				 uint64_t want_filled)
{
	struct umove_stats s = region_stats_now(r), t;

	for (int i = 0; i < 2000 && s.pages_filled < want_filled; i++) {
		sleep_ms(1);
		s = region_stats_now(r);
	}
	for (int i = 0; i < 200; i++) {
		sleep_ms(5);
		t = region_stats_now(r);
		if (!memcmp(&s, &t, sizeof(s)))
			break;
		s = t;
	}
	return s;
}

#define COMPACT_PATH "/proc/sys/vm/compact_memory"

static void *compactor_main(void *arg)
{
	struct compactor *c = arg;

	while (!atomic_load(&c->stop)) {
		int fd = open(COMPACT_PATH, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				break;
			close(fd);
		}
		sleep_ms(50);
	}
	return NULL;
}

bool compactor_start(struct compactor *c)
{
	memset(c, 0, sizeof(*c));
	if (access(COMPACT_PATH, W_OK))
		return false;
	c->running = !pthread_create(&c->tid, NULL, compactor_main, c);
	return c->running;
}

void compactor_stop(struct compactor *c)
{
	if (!c->running)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->tid, NULL);
	c->running = false;
}

static struct umove_store *stores[8];

struct umove_store *track(struct umove_store *st)
{
	for (size_t i = 0; i < 8; i++)
		if (!stores[i]) {
			stores[i] = st;
			return st;
		}
	cr_assert_fail("more than 8 stores open in one test");
	return st;
}

void close_store(struct umove_store *st)
{
	for (size_t i = 0; i < 8; i++)
		if (stores[i] == st)
			stores[i] = NULL;
	expect_ret(umove_store_close(st), 0);
}

void close_stores(void)
{
	for (size_t i = 0; i < 8; i++)
		if (stores[i])
			umove_store_close(stores[i]);
}

void need_4k(void)
{
	if (sysconf(_SC_PAGESIZE) != (long)PG)
		cr_skip_test("page size is not 4 KiB");
}

struct child_log *child_log;

void child_step(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&child_log->stage, 1);
	va_start(ap, fmt);
	vsnprintf(child_log->what, sizeof(child_log->what), fmt, ap);
	va_end(ap);
}

bool child_fail(const char *fmt, ...)
{
	va_list ap;

	if (child_log->err[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(child_log->err, sizeof(child_log->err), fmt, ap);
	va_end(ap);
	return false;
}

/* volatile: the stores around an inlined copy must not be optimised out. */
static __thread sigjmp_buf *volatile catch_jb;
static __thread volatile int caught_sig;
static __thread void *volatile caught_addr;

static void on_fault_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	caught_sig = sig;
	caught_addr = si->si_addr;
	if (catch_jb)
		siglongjmp(*catch_jb, 1);
	signal(sig, SIG_DFL); /* not expected: die of it on return */
}

void catch_fault_signals(bool catch)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	if (catch) {
		sa.sa_sigaction = on_fault_signal;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	} else {
		sa.sa_handler = SIG_DFL;
	}
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	sigaddset(&set, SIGSEGV);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int touch_page(const void *page, void *copy, void **addr)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		catch_jb = NULL;
		if (addr)
			*addr = caught_addr;
		return caught_sig;
	}
	catch_jb = &jb;
	__asm__ volatile("" ::: "memory");
	memcpy(copy, page, PG);
	__asm__ volatile("" ::: "memory");
	catch_jb = NULL;
	return 0;
}

void fill_text_page(void *page, size_t idx)
{
	char *p = page;
	size_t n = 0;

	while (n < PG) {
		int w = snprintf(p + n, PG - n, "page %zu line %zu of umove. ",
				 idx, n / 32);

		n += (size_t)w < PG - n ? (size_t)w : PG - n;
	}
}

bool child_reap(pid_t pid, int ms, int *status)
{
	for (int waited = 0; waited < ms; waited += 5) {
		if (waitpid(pid, status, WNOHANG)) /* ended, or no child */
			return true;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}
