/* SPDX-License-Identifier: MIT */
/*
 * Pending non-cooperative events: while a REMOVE event is unread the kernel
 * refuses to fill, and umove_move() returns -EAGAIN with nothing moved (it
 * must not spin). Once the event is read the same move succeeds.
 */
#include "helpers.h"

#include <sys/mman.h>

TestSuite(eagain, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0xc4

struct remover {
	pthread_t tid;
	char *addr;
	int ret;
};

/* madvise() blocks in the kernel until the REMOVE event is read. */
static void *remover_main(void *arg)
{
	struct remover *r = arg;

	r->ret = madvise(r->addr, PG, MADV_DONTNEED);
	return NULL;
}

PATH_TEST(eagain, pending_remove_event_gives_eagain)
{
	struct umove *um = open_path_extra(*path, UMOVE_FEATURE_EVENT_REMOVE);
	char *src = map_pages(1), *dst = map_registered(um, 2);
	struct remover r = {.addr = dst + PG, .ret = -1};
	struct uffd_msg msg;
	ssize_t ret;

	fill_page(src, SEED, 0);
	cr_assert_eq(pthread_create(&r.tid, NULL, remover_main, &r), 0);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS), "[%s] no REMOVE event",
		  path_label);

	ret = umove_move(um, dst, src, PG, 0);
	read_msg(umove_fd(um), &msg);
	/* The kernel clears its "mmap changing" state when madvise resumes. */
	pthread_join(r.tid, NULL);
	expect_ret_as(ret, -EAGAIN, "umove_move with a REMOVE event pending");
	expect_page(src, SEED, 0, "src after EAGAIN");
	expect_hole(dst, "dst after EAGAIN");
	cr_assert_eq(msg.event, UFFD_EVENT_REMOVE, "[%s] event %u", path_label,
		     msg.event);
	cr_assert_eq(msg.arg.remove.start, (uintptr_t)(dst + PG));
	cr_assert_eq(msg.arg.remove.end, (uintptr_t)(dst + 2 * PG));
	cr_assert_eq(r.ret, 0, "madvise(MADV_DONTNEED) failed");

	expect_ret(umove_move(um, dst, src, PG, 0), (ssize_t)PG);
	expect_page(dst, SEED, 0, "dst after the events were read");
	expect_hole(src, "src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 2);
	close_um(um);
}

/* umove_move_all() passes -EAGAIN on too, with nothing moved. */
PATH_TEST(eagain, move_all_returns_eagain)
{
	struct umove *um = open_path_extra(*path, UMOVE_FEATURE_EVENT_REMOVE);
	char *src = map_pages(2), *dst = map_registered(um, 3);
	struct remover r = {.addr = dst + 2 * PG, .ret = -1};
	struct uffd_msg msg;
	size_t moved = 12345;
	int ret;

	fill_pages(src, 2, SEED);
	cr_assert_eq(pthread_create(&r.tid, NULL, remover_main, &r), 0);
	cr_assert(fd_readable(umove_fd(um), WAIT_MS), "[%s] no REMOVE event",
		  path_label);
	ret = umove_move_all(um, dst, src, 2 * PG, 0, &moved);
	read_msg(umove_fd(um), &msg);
	pthread_join(r.tid, NULL);
	expect_ret_as(ret, -EAGAIN,
		      "umove_move_all with a REMOVE event pending");
	cr_assert_eq(moved, 0, "[%s] moved %zu", path_label, moved);
	expect_pages(src, 2, SEED, "src after EAGAIN");
	expect_holes(dst, 2, "dst after EAGAIN");
	cr_assert_eq(msg.event, UFFD_EVENT_REMOVE);
	cr_assert_eq(r.ret, 0);
	expect_ret(umove_move_all(um, dst, src, 2 * PG, 0, &moved), 0);
	cr_assert_eq(moved, 2 * PG);
	expect_pages(dst, 2, SEED, "dst");
	unmap_pages(src, 2);
	unmap_pages(dst, 3);
	close_um(um);
}

/*
 * The kernel refuses a move while events are pending before it looks at any
 * page, so -EAGAIN also wins over what the pages would have said.
 */
struct pending {
	struct umove *um;
	char *src;
	char *dst; /* 2 pages registered; a REMOVE event pends on page 1 */
	struct remover r;
};

static void pending_start(struct pending *p, enum um_path path, bool occupied)
{
	p->um = open_path_extra(path, UMOVE_FEATURE_EVENT_REMOVE);
	p->src = map_pages(1);
	p->dst = map_pages(2);
	if (occupied)
		fill_page(p->dst, SEED + 1, 0);
	expect_ret(
		umove_register(p->um, p->dst, 2 * PG, UMOVE_REGISTER_MISSING),
		0);
	p->r = (struct remover){.addr = p->dst + PG, .ret = -1};
	cr_assert_eq(pthread_create(&p->r.tid, NULL, remover_main, &p->r), 0);
	cr_assert(fd_readable(umove_fd(p->um), WAIT_MS), "[%s] no REMOVE event",
		  path_label);
}

/* Reads the event and lets madvise finish, so no thread outlives a failure. */
static void pending_drain(struct pending *p)
{
	struct uffd_msg msg;

	read_msg(umove_fd(p->um), &msg);
	pthread_join(p->r.tid, NULL);
	cr_assert_eq(msg.event, UFFD_EVENT_REMOVE);
	cr_assert_eq(p->r.ret, 0);
}

static void pending_free(struct pending *p)
{
	unmap_pages(p->src, 1);
	unmap_pages(p->dst, 2);
	close_um(p->um);
}

PATH_TEST(eagain, pending_events_win_over_src_hole)
{
	struct pending p;
	ssize_t ret;

	pending_start(&p, *path, false);
	ret = umove_move(p.um, p.dst, p.src, PG, 0);
	pending_drain(&p);
	expect_ret_as(ret, -EAGAIN, "move from a src hole, REMOVE pending");
	expect_hole(p.dst, "dst");
	pending_free(&p);
}

PATH_TEST(eagain, pending_events_win_over_allowed_holes)
{
	struct pending p;
	ssize_t ret;

	pending_start(&p, *path, false);
	ret = umove_move(p.um, p.dst, p.src, PG, UMOVE_ALLOW_SRC_HOLES);
	pending_drain(&p);
	expect_ret_as(ret, -EAGAIN,
		      "ALLOW_SRC_HOLES move of a hole, REMOVE pending");
	expect_hole(p.dst, "dst");
	pending_free(&p);
}

PATH_TEST(eagain, pending_events_win_over_occupied_dst)
{
	struct pending p;
	ssize_t ret;

	pending_start(&p, *path, true);
	fill_page(p.src, SEED, 0);
	ret = umove_move(p.um, p.dst, p.src, PG, 0);
	pending_drain(&p);
	expect_ret_as(ret, -EAGAIN,
		      "move into an occupied page, REMOVE pending");
	expect_page(p.dst, SEED + 1, 0, "occupied dst");
	expect_page(p.src, SEED, 0, "src");
	pending_free(&p);
}
