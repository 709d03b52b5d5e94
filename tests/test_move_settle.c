/* SPDX-License-Identifier: MIT */
/*
 * A native move that the kernel reports short counts every page it moved.
 *
 * Linux 6.18's UFFDIO_MOVE can report less than it moved when a step was
 * retried inside the kernel (a source page under migration, say): a short
 * count or -EEXIST for pages that did move. umove_move() counts the
 * uncounted pages (mincore) and wakes them. The kernel's misreport
 * is rare and needs a migration at the right moment, so the first tests
 * make it happen on purpose: this program's own ioctl() (which the library,
 * linked statically, calls instead of libc's) does the real move and then
 * reports what the buggy kernel reports. The last test provokes real
 * migrations (root only) and checks every result against pagemap.
 */
#include "helpers.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

TestSuite(move_settle, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x53

#ifndef UFFDIO_MOVE /* Linux < 6.8 headers */
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

/* What the next UFFDIO_MOVE reports after moving for real. */
enum misreport { HONEST, SAY_EEXIST, SAY_ONE_PAGE };
static _Atomic enum misreport next_report = HONEST;

static long real_ioctl(int fd, unsigned long req, void *arg)
{
	return syscall(SYS_ioctl, fd, req, arg);
}

/* The kernel moved mv->len bytes; report what the 6.18 bug reports. */
static int misreport(struct uffdio_move *mv, enum misreport how)
{
	switch (how) {
	case SAY_EEXIST:
		mv->move = -EEXIST;
		errno = EEXIST;
		return -1;
	case SAY_ONE_PAGE:
		mv->move = (__s64)PG;
		errno = EAGAIN;
		return -1;
	default:
		return 0;
	}
}

int ioctl(int fd, unsigned long req, ...)
{
	enum misreport how = HONEST;
	struct uffdio_move *mv;
	va_list ap;
	void *arg;
	long rc;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == UFFDIO_MOVE)
		how = atomic_exchange(&next_report, HONEST);
	if (how == HONEST)
		return (int)real_ioctl(fd, req, arg);
	mv = arg;
	/* The real move, without its wake: the buggy kernel wakes none. */
	mv->mode |= 1; /* UFFDIO_MOVE_MODE_DONTWAKE */
	rc = real_ioctl(fd, req, arg);
	cr_assert_eq(rc, 0, "the real move under the misreport failed: %s",
		     strerror(errno));
	return misreport(mv, how);
}

static struct umove *open_native(void)
{
	return open_path(NATIVE); /* skips without UFFDIO_MOVE */
}

static void check_misreport(enum misreport how, const char *what)
{
	struct umove *um = open_native();
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_pages(src, 4, SEED);
	atomic_store(&next_report, how);
	expect_ret_as(umove_move(um, dst, src, 4 * PG, UMOVE_DONTWAKE), 4 * PG,
		      what);
	expect_pages(dst, 4, SEED, "dst after a misreported move");
	expect_holes(src, 4, "src after a misreported move");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

Test(move_settle, eexist_for_moved_pages_counts_them)
{
	check_misreport(SAY_EEXIST, "move reported -EEXIST");
}

Test(move_settle, short_count_for_moved_pages_counts_them)
{
	check_misreport(SAY_ONE_PAGE, "move reported one page of four");
}

/* A caller that vouches dst is empty gets the same count, no snapshot. */
Test(move_settle, dst_empty_counts_without_snapshot)
{
	struct umove *um = open_native();
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_pages(src, 4, SEED);
	atomic_store(&next_report, SAY_EEXIST);
	expect_ret(umove_move(um, dst, src, 4 * PG,
			      UMOVE_DONTWAKE | UMOVE_DST_EMPTY),
		   4 * PG);
	expect_pages(dst, 4, SEED, "dst after a misreported move");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/* A thread waiting on a page the kernel moved but did not count. */
Test(move_settle, uncounted_pages_are_woken)
{
	struct umove *um = open_native();
	char *src = map_pages(2), *dst = map_registered(um, 2);
	struct toucher t;
	struct uffd_msg msg;

	fill_pages(src, 2, SEED);
	toucher_start(&t, dst + PG, false, 0);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS), "no fault queued");
	read_msg(umove_fd(um), &msg);
	atomic_store(&next_report, SAY_EEXIST);
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), 2 * PG);
	toucher_finish(&t, um, "reader of an uncounted page");
	cr_assert_eq(t.value, pattern_word(SEED, 1, 0));
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* Honest failures stay what they are: nothing moved there. */
Test(move_settle, real_eexist_is_kept)
{
	struct umove *um = open_native();
	char *src = map_pages(4), *dst = map_registered(um, 4);
	char *other = map_pages(1);

	fill_pages(src, 4, SEED);
	fill_page(other, SEED + 1, 2);
	expect_ret(umove_move(um, dst + 2 * PG, other, PG, UMOVE_DONTWAKE), PG);
	expect_ret(umove_move(um, dst, src, 4 * PG, UMOVE_DONTWAKE), 2 * PG);
	expect_ret(umove_move(um, dst + 2 * PG, src + 2 * PG, 2 * PG,
			      UMOVE_DONTWAKE),
		   -EEXIST);
	expect_page(src + 2 * PG, SEED, 2, "src page that could not move");
	unmap_pages(other, 1);
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

Test(move_settle, real_enoent_is_kept)
{
	struct umove *um = open_native();
	char *src = map_pages(4), *dst = map_registered(um, 4);

	fill_page(src, SEED, 0);
	expect_ret(umove_move(um, dst, src, 4 * PG, UMOVE_DONTWAKE), PG);
	expect_ret(umove_move(um, dst + PG, src + PG, 3 * PG, UMOVE_DONTWAKE),
		   -ENOENT);
	expect_holes(dst + PG, 3, "dst behind a source hole");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

/* --- real migrations ----------------------------------------------------- */

#define RUNS 256 /* 16-page runs moved back and forth */
#define RUN_PAGES 16
#define MIGRATE_MS 4000

static uint64_t elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)((t.tv_sec - t0->tv_sec) * 1000 +
			  (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * Whether pagemap agrees with a result: the first got bytes moved (dst
 * present, src a hole) and, if the move stopped short, the next page did
 * not (dst still empty).
 */
static void expect_result_matches(const char *to, const char *from, ssize_t got,
				  size_t len)
{
	size_t moved = got > 0 ? (size_t)got / PG : 0;

	for (size_t j = 0; j < moved; j++)
		cr_assert(!page_is_hole(to + j * PG) &&
				  page_is_hole(from + j * PG),
			  "page %zu of a move that returned %zd did not move",
			  j, got);
	if (moved < len / PG)
		cr_assert(page_is_hole(to + moved * PG),
			  "a move returned %zd, yet page %zu moved too", got,
			  moved);
}

/* Moves a run until it has all moved; transient refusals are retried. */
static void move_run(struct umove *um, char *to, char *from, size_t len)
{
	size_t done = 0;

	for (int tries = 0; done < len; tries++) {
		ssize_t got = umove_move(um, to + done, from + done, len - done,
					 UMOVE_DONTWAKE);

		expect_result_matches(to + done, from + done, got, len - done);
		if (got > 0)
			done += (size_t)got;
		else
			cr_assert((got == -EBUSY || got == -EAGAIN) &&
					  tries < 1000,
				  "move failed: %zd", got);
	}
}

/*
 * Runs of pages go back and forth between two registered areas while the
 * kernel migrates them. Every result must say exactly what pagemap shows,
 * and every byte must survive.
 */
Test(move_settle, moves_under_migration_report_what_moved)
{
	struct umove *um = open_native();
	const size_t n = RUNS * RUN_PAGES;
	char *a = map_registered(um, 2 * n), *b = a + n * PG;
	char *fill = map_pages(n);
	bool on_b[RUNS] = {false};
	struct compactor comp;
	struct timespec t0;

	if (!compactor_start(&comp))
		cr_skip_test("needs root: migrations come from "
			     "/proc/sys/vm/compact_memory");
	fill_pages(fill, n, SEED);
	expect_ret(umove_copy(um, a, fill, n * PG, 0), n * PG);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; elapsed_ms(&t0) < MIGRATE_MS; i++) {
		size_t k = i % RUNS, off = k * RUN_PAGES * PG;

		move_run(um, (on_b[k] ? a : b) + off, (on_b[k] ? b : a) + off,
			 RUN_PAGES * PG);
		on_b[k] = !on_b[k];
	}
	compactor_stop(&comp);
	for (size_t k = 0; k < RUNS; k++)
		for (size_t j = 0; j < RUN_PAGES; j++)
			expect_page((on_b[k] ? b : a) +
					    (k * RUN_PAGES + j) * PG,
				    SEED, k * RUN_PAGES + j,
				    "page moved under migration");
	unmap_pages(fill, n);
	unmap_pages(a, 2 * n);
	close_um(um);
}
