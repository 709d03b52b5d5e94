/* SPDX-License-Identifier: MIT */
/*
 * Occupied dst pages: a move never overwrites one. It stops there with
 * -EEXIST (or the count moved before it) and leaves the rest of src alone;
 * of several racing moves into one page exactly one wins.
 */
#include "helpers.h"

TestSuite(move_eexist, .timeout = TEST_TIMEOUT, .fini = release_handles);

#define SEED 0x2e
#define OTHER 0x77

PATH_TEST(move_eexist, occupied_page_gives_partial_count)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(4), *dst = map_pages(4);

	fill_pages(src, 4, SEED);
	/* Written before registering: a write to a registered hole faults. */
	fill_page(dst + 2 * PG, OTHER, 2);
	expect_ret(umove_register(um, dst, 4 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, 4 * PG, 0), (ssize_t)(2 * PG));
	expect_page(dst, SEED, 0, "dst page 0");
	expect_page(dst + PG, SEED, 1, "dst page 1");
	expect_page(dst + 2 * PG, OTHER, 2, "occupied dst page 2");
	expect_hole(dst + 3 * PG, "dst page 3 (not reached)");
	expect_holes(src, 2, "src pages 0-1 (moved)");
	expect_page(src + 2 * PG, SEED, 2, "src page 2 (not moved)");
	expect_page(src + 3 * PG, SEED, 3, "src page 3 (not moved)");

	expect_ret(umove_move(um, dst + 2 * PG, src + 2 * PG, 2 * PG, 0),
		   -EEXIST);
	expect_page(dst + 2 * PG, OTHER, 2, "occupied dst page 2");
	expect_hole(dst + 3 * PG, "dst page 3");
	expect_page(src + 2 * PG, SEED, 2, "src page 2 after continuation");
	expect_page(src + 3 * PG, SEED, 3, "src page 3 after continuation");
	unmap_pages(src, 4);
	unmap_pages(dst, 4);
	close_um(um);
}

PATH_TEST(move_eexist, occupied_first_page_moves_nothing)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(2), *dst = map_pages(2);

	fill_pages(src, 2, SEED);
	fill_page(dst, OTHER, 0);
	expect_ret(umove_register(um, dst, 2 * PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, 2 * PG, 0), -EEXIST);
	expect_page(dst, OTHER, 0, "occupied dst page 0");
	expect_hole(dst + PG, "dst page 1");
	expect_pages(src, 2, SEED, "src");
	unmap_pages(src, 2);
	unmap_pages(dst, 2);
	close_um(um);
}

/* A read-touched dst maps the zero page: that is occupied too. */
PATH_TEST(move_eexist, zero_page_in_dst_is_occupied)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(1), *dst = map_pages(1);

	fill_page(src, SEED, 0);
	cr_assert_eq(*(volatile char *)dst, 0);
	expect_ret(umove_register(um, dst, PG, UMOVE_REGISTER_MISSING), 0);
	expect_ret(umove_move(um, dst, src, PG, 0), -EEXIST);
	expect_present(dst, "zero-page dst");
	expect_zero_page(dst, "zero-page dst");
	expect_page(src, SEED, 0, "src");
	unmap_pages(src, 1);
	unmap_pages(dst, 1);
	close_um(um);
}

#define RACERS 8

struct race {
	struct umove *um;
	char *dst;
	char *src;
	pthread_barrier_t start;
	ssize_t ret[RACERS];
};

struct racer {
	struct race *race;
	size_t idx;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct race *race = r->race;

	pthread_barrier_wait(&race->start);
	race->ret[r->idx] =
		umove_move(race->um, race->dst, race->src + r->idx * PG, PG, 0);
	return NULL;
}

static size_t run_race(struct race *race)
{
	pthread_t tid[RACERS];
	struct racer r[RACERS];
	size_t winners = 0, winner = RACERS;

	pthread_barrier_init(&race->start, NULL, RACERS);
	for (size_t i = 0; i < RACERS; i++) {
		r[i] = (struct racer){race, i};
		cr_assert_eq(pthread_create(&tid[i], NULL, racer_main, &r[i]),
			     0);
	}
	for (size_t i = 0; i < RACERS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&race->start);
	for (size_t i = 0; i < RACERS; i++) {
		if (race->ret[i] == (ssize_t)PG) {
			winners++;
			winner = i;
			continue;
		}
		expect_ret_as(race->ret[i], -EEXIST, "a losing racer");
	}
	cr_assert_eq(winners, 1, "[%s] %zu racers won, expected exactly 1",
		     path_label, winners);
	return winner;
}

/* Several rounds, each into a fresh dst page, to give races a chance. */
#define ROUNDS 16

PATH_TEST(move_eexist, racing_moves_into_one_page)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(ROUNDS * RACERS),
	     *dst = map_registered(um, ROUNDS);

	fill_pages(src, ROUNDS * RACERS, SEED);
	for (size_t k = 0; k < ROUNDS; k++) {
		struct race race = {.um = um, .dst = dst + k * PG};
		size_t base = k * RACERS, w;

		race.src = src + base * PG;
		w = run_race(&race);
		expect_page(race.dst, SEED, base + w, "dst (winner's page)");
		expect_hole(race.src + w * PG, "winner's src");
		for (size_t i = 0; i < RACERS; i++)
			if (i != w)
				expect_page(race.src + i * PG, SEED, base + i,
					    "loser's src");
	}
	unmap_pages(src, ROUNDS * RACERS);
	unmap_pages(dst, ROUNDS);
	close_um(um);
}

/* An occupied page far into a large move: the count is exact. */
#define DEEP_PAGES 1024
#define DEEP_BUSY 900

PATH_TEST(move_eexist, occupied_page_deep_in_large_move)
{
	struct umove *um = open_path(*path);
	char *src = map_pages(DEEP_PAGES), *dst = map_pages(DEEP_PAGES);

	fill_pages(src, DEEP_PAGES, SEED);
	fill_page(dst + DEEP_BUSY * PG, OTHER, DEEP_BUSY);
	expect_ret(umove_register(um, dst, DEEP_PAGES * PG,
				  UMOVE_REGISTER_MISSING),
		   0);
	expect_ret(umove_move(um, dst, src, DEEP_PAGES * PG, 0),
		   (ssize_t)(DEEP_BUSY * PG));
	expect_pages(dst, DEEP_BUSY, SEED, "dst before the occupied page");
	cr_assert_eq(count_non_holes(src, DEEP_BUSY), 0,
		     "[%s] moved src pages are not holes", path_label);
	expect_page(dst + DEEP_BUSY * PG, OTHER, DEEP_BUSY, "occupied page");
	cr_assert_eq(count_non_holes(dst + (DEEP_BUSY + 1) * PG,
				     DEEP_PAGES - DEEP_BUSY - 1),
		     0, "[%s] dst pages past the occupied one were filled",
		     path_label);
	for (size_t i = DEEP_BUSY; i < DEEP_PAGES; i++)
		expect_page(src + i * PG, SEED, i, "src not moved");
	unmap_pages(src, DEEP_PAGES);
	unmap_pages(dst, DEEP_PAGES);
	close_um(um);
}
