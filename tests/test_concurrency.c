/* SPDX-License-Identifier: MIT */
/*
 * One handle, many threads: registering, moving and unregistering ranges
 * concurrently must give every thread the single-threaded results (the
 * header promises thread safety; the emulated path keeps its own table of
 * registered ranges).
 */
#include "helpers.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

TestSuite(concurrency, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define THREADS 4
#define ROUNDS 40
#define NPAGES 4

struct worker {
	pthread_t tid;
	struct umove *um;
	uint32_t seed;
	char err[160]; /* first failure, "" if none */
};

static void *map_raw(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* One round in a thread: no Criterion asserts here, only a message. */
static bool round_trip(struct worker *w, uint32_t seed)
{
	const size_t len = NPAGES * PG;
	char *src = map_raw(len), *dst = map_raw(len);
	ssize_t r = -1;
	int reg = -1, unreg = -1;
	bool ok = src && dst;

	if (ok) {
		fill_pages(src, NPAGES, seed);
		reg = umove_register(w->um, dst, len, UMOVE_REGISTER_MISSING);
		r = umove_move(w->um, dst, src, len, 0);
		unreg = umove_unregister(w->um, dst, len);
		ok = reg == 0 && r == (ssize_t)len && unreg == 0;
	}
	for (size_t i = 0; ok && i < NPAGES; i++)
		ok = page_matches(dst + i * PG, seed, i);
	if (!ok)
		snprintf(w->err, sizeof(w->err),
			 "seed %u: register %d, move %zd, unregister %d%s",
			 seed, reg, r, unreg,
			 r == (ssize_t)len ? ", dst bytes differ" : "");
	if (src)
		munmap(src, len);
	if (dst)
		munmap(dst, len);
	return ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (uint32_t k = 0; k < ROUNDS; k++)
		if (!round_trip(w, w->seed + k))
			break;
	return NULL;
}

PATH_TEST(concurrency, register_move_unregister_in_parallel)
{
	struct umove *um = open_path(*path);
	struct worker w[THREADS];

	for (size_t i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.um = um, .seed = (uint32_t)i * 1000};
		cr_assert_eq(
			pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
	}
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(w[i].tid, NULL);
	for (size_t i = 0; i < THREADS; i++)
		cr_assert_str_empty(w[i].err, "[%s] thread %zu: %s", path_label,
				    i, w[i].err);
	close_um(um);
}

/*
 * Several threads move the same src page, each to its own dst page: the
 * page must arrive exactly once; the others find a hole in src.
 */
#define RACERS 4
#define RACE_ROUNDS 256

struct same_src {
	struct umove *um;
	char *src;
	char *dst; /* RACERS pages, one per racer */
	atomic_int ready;
	atomic_bool go;
	ssize_t ret[RACERS];
};

struct racer {
	struct same_src *race;
	size_t idx;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct same_src *s = r->race;

	/* Spinning, not a barrier: the moves then start closer together. */
	atomic_fetch_add(&s->ready, 1);
	while (!atomic_load(&s->go))
		sched_yield();
	s->ret[r->idx] = umove_move(s->um, s->dst + r->idx * PG, s->src, PG, 0);
	return NULL;
}

static void run_same_src(struct same_src *s)
{
	pthread_t tid[RACERS];
	struct racer r[RACERS];

	for (size_t i = 0; i < RACERS; i++) {
		r[i] = (struct racer){s, i};
		cr_assert_eq(pthread_create(&tid[i], NULL, racer_main, &r[i]),
			     0);
	}
	while (atomic_load(&s->ready) < RACERS)
		sched_yield();
	atomic_store(&s->go, true);
	for (size_t i = 0; i < RACERS; i++)
		pthread_join(tid[i], NULL);
}

static void expect_moved_once_at(struct same_src *s, uint32_t seed, size_t idx)
{
	size_t winners = 0, filled = 0, intact = 0;
	char rets[RACERS * 50] = "", *p = rets, buf[48];

	for (size_t i = 0; i < RACERS; i++) {
		winners += s->ret[i] == (ssize_t)PG;
		p += sprintf(p, " %s", ret_str(s->ret[i], buf));
		if (page_is_hole(s->dst + i * PG))
			continue;
		filled++;
		intact += page_matches(s->dst + i * PG, seed, idx);
	}
	cr_assert(
		winners == 1 && filled == 1 && intact == 1,
		"[%s] one src page moved by %d threads: returns%s; dst filled "
		"%zu times, %zu of them with the src bytes",
		path_label, RACERS, rets, filled, intact);
	for (size_t i = 0; i < RACERS; i++)
		if (s->ret[i] != (ssize_t)PG)
			expect_ret_as(s->ret[i], -ENOENT, "a losing racer");
	expect_hole(s->src, "src after the race");
}

PATH_TEST(concurrency, racing_moves_of_one_src_page)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(RACE_ROUNDS);
	char *dst = map_registered(um, RACE_ROUNDS * RACERS);

	/* Valgrind runs threads one at a time, ~50x slower: fewer rounds. */
	size_t rounds = getenv("UMOVE_TEST_UNDER_VALGRIND") ? RACE_ROUNDS / 8
							    : RACE_ROUNDS;

	fill_pages(src, RACE_ROUNDS, 0x99);
	for (size_t k = 0; k < rounds; k++) {
		struct same_src s = {
			.um = um,
			.src = src + k * PG,
			.dst = dst + k * RACERS * PG,
		};

		run_same_src(&s);
		/* fill_pages gave page k the pattern (seed, k). */
		expect_moved_once_at(&s, 0x99, k);
	}
	unmap_pages(src, RACE_ROUNDS);
	unmap_pages(dst, RACE_ROUNDS * RACERS);
	close_um(um);
}
