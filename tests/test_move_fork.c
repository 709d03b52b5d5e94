/* SPDX-License-Identifier: MIT */
/*
 * A src page shared with a forked child: the native move refuses it with
 * -EBUSY; the emulated move copies it (documented divergence) and the child
 * keeps its own bytes. MADV_DONTFORK keeps src out of the child: both move.
 */
#include "helpers.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(move_fork, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x6b

/* A child holding src mapped until the parent says its move returned. */
struct child {
	pid_t pid;
	int ready; /* child -> parent */
	int go;	   /* parent -> child */
};

/*
 * In the child: wait for the parent, then check its own copy of src (NULL:
 * the child has no src, MADV_DONTFORK kept it out).
 */
static void child_main(int ready, int go, const char *src)
{
	char c = 'r';

	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);
	_exit(!src || page_matches(src, SEED, 0) ? 0 : 1);
}

static void child_start(struct child *ch, const char *src)
{
	int up[2], down[2];
	char c;

	cr_assert_eq(pipe(up), 0);
	cr_assert_eq(pipe(down), 0);
	ch->pid = fork();
	cr_assert_geq(ch->pid, 0, "fork failed");
	if (ch->pid == 0) {
		close(up[0]);
		close(down[1]);
		child_main(up[1], down[0], src);
	}
	close(up[1]);
	close(down[0]);
	ch->ready = up[0];
	ch->go = down[1];
	cr_assert_eq(read(ch->ready, &c, 1), 1, "child did not start");
}

/* Lets the child check its copy and reaps it; returns its exit status. */
static int child_finish(struct child *ch)
{
	char c = 'g';
	int status = 0;

	cr_assert_eq(write(ch->go, &c, 1), 1);
	close(ch->go);
	close(ch->ready);
	cr_assert_eq(waitpid(ch->pid, &status, 0), ch->pid);
	cr_assert(WIFEXITED(status), "child did not exit (status 0x%x)",
		  status);
	return WEXITSTATUS(status);
}

Test(move_fork, native_shared_page_is_ebusy)
{
	struct umove *um = open_path(NATIVE);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct child ch;
	ssize_t ret;

	fill_page(src, SEED, 0);
	child_start(&ch, src);
	ret = umove_move(um, dst, src, PG, 0);
	cr_assert_eq(child_finish(&ch), 0, "[native] child's src copy changed");
	expect_ret_as(ret, -EBUSY, "move of a page shared with a child");
	expect_page(src, SEED, 0, "src after EBUSY");
	expect_hole(dst, "dst after EBUSY");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

Test(move_fork, emulated_shared_page_moves_child_keeps_copy)
{
	struct umove *um = open_path(EMULATED);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct child ch;
	ssize_t ret;

	fill_page(src, SEED, 0);
	child_start(&ch, src);
	ret = umove_move(um, dst, src, PG, 0);
	cr_assert_eq(child_finish(&ch), 0,
		     "[emulated] child's src copy changed by the move");
	expect_ret_as(ret, (ssize_t)PG, "move of a page shared with a child");
	expect_page(dst, SEED, 0, "dst after move");
	expect_hole(src, "parent's src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

PATH_TEST(move_fork, dontfork_src_moves_after_fork)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_registered(um, 1);
	struct child ch;
	ssize_t ret;

	fill_page(src, SEED, 0);
	cr_assert_eq(madvise(src, PG, MADV_DONTFORK), 0);
	child_start(&ch, NULL);
	ret = umove_move(um, dst, src, PG, 0);
	cr_assert_eq(child_finish(&ch), 0);
	expect_ret_as(ret, (ssize_t)PG, "move of a MADV_DONTFORK page");
	expect_page(dst, SEED, 0, "dst after move");
	expect_hole(src, "src after move");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}
