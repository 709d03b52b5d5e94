/* SPDX-License-Identifier: MIT */
/*
 * A minimal user-space pager on umove: a region whose pages appear on first
 * touch. A handler thread reads fault events, writes the page's contents
 * into a private staging page, and moves that page into place: zero-copy,
 * atomic, and the faulting thread is woken by the move.
 *
 *	cc lazy_fill.c $(pkg-config --cflags --libs umove)
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umove.h>
#include <unistd.h>

#define PAGES 64

struct pager {
	struct umove *um;
	char *region;
	size_t page_size;
	char *staging; /* one private page, refilled for every fault */
	int stop[2];   /* a pipe: written once to end the handler */
};

static void fill_page(char *page, size_t size, size_t index)
{
	snprintf(page, size, "page %zu, filled by the pager", index);
}

static int serve(struct pager *p, uintptr_t addr)
{
	uintptr_t page = addr & ~(uintptr_t)(p->page_size - 1);
	size_t index = (page - (uintptr_t)p->region) / p->page_size;
	ssize_t r;

	fill_page(p->staging, p->page_size, index);
	r = umove_move(p->um, (void *)page, p->staging, p->page_size, 0);
	/* EEXIST: another thread resolved it first; waking is all we owe. */
	if (r == -EEXIST)
		return umove_wake(p->um, (void *)page, p->page_size);
	return r < 0 ? (int)r : 0;
}

static void *handler(void *arg)
{
	struct pager *p = arg;
	struct pollfd fds[2] = {{umove_fd(p->um), POLLIN, 0},
				{p->stop[0], POLLIN, 0}};
	struct uffd_msg msg;

	while (poll(fds, 2, -1) > 0 && !fds[1].revents) {
		if (read(fds[0].fd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT &&
		    serve(p, msg.arg.pagefault.address) < 0)
			fprintf(stderr, "fault not served\n");
	}
	return NULL;
}

int main(void)
{
	struct pager p = {.page_size = (size_t)sysconf(_SC_PAGESIZE)};
	size_t len = PAGES * p.page_size;
	int prot = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
	pthread_t thread;
	int r;

	r = umove_open(&p.um, 0);
	if (r < 0) {
		fprintf(stderr, "umove_open: %s\n", umove_strerror(r));
		return 1;
	}
	p.region = mmap(NULL, len, prot, anon, -1, 0);
	p.staging = mmap(NULL, p.page_size, prot, anon, -1, 0);
	if (p.region == MAP_FAILED || p.staging == MAP_FAILED ||
	    pipe(p.stop) != 0)
		return 1;
	/* A fork must not share the staging page: a move would then be EBUSY.
	 */
	madvise(p.staging, p.page_size, MADV_DONTFORK);
	r = umove_register(p.um, p.region, len, UMOVE_REGISTER_MISSING);
	if (r < 0) {
		fprintf(stderr, "umove_register: %s\n", umove_strerror(r));
		return 1;
	}
	pthread_create(&thread, NULL, handler, &p);

	printf("%s move\n", umove_native_move(p.um) ? "native" : "emulated");
	for (size_t i = 0; i < PAGES; i += 21)
		printf("%s\n", p.region + i * p.page_size);

	if (write(p.stop[1], "", 1) != 1)
		return 1;
	pthread_join(thread, NULL);
	munmap(p.region, len); /* before closing: see umove_open(3) */
	umove_close(p.um);
	return 0;
}
