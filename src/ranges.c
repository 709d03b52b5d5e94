/* SPDX-License-Identifier: MIT */
/*
 * A small set of address ranges: sorted, disjoint, adjacent ones merged.
 * Registrations are few and change rarely, so a sorted array under one
 * mutex is enough; lookups are a binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void um_ranges_init(struct um_ranges *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->v = NULL;
	r->n = r->cap = 0;
}

void um_ranges_fini(struct um_ranges *r)
{
	pthread_mutex_destroy(&r->lock);
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

/* Index of the first span that ends at or after addr. Lock held. */
static size_t first_reaching(const struct um_ranges *r, uintptr_t addr)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].end < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Room for `more` spans beyond n. Lock held. */
static int reserve(struct um_ranges *r, size_t more)
{
	size_t cap = r->cap ? r->cap : 8;
	struct um_span *v;

	if (r->n + more <= r->cap)
		return 0;
	while (cap < r->n + more)
		cap *= 2;
	v = realloc(r->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	r->cap = cap;
	return 0;
}

/* Replace spans [i, j) by `count` spans from `with`. Lock held, room made. */
static void splice(struct um_ranges *r, size_t i, size_t j,
		   const struct um_span *with, size_t count)
{
	memmove(&r->v[i + count], &r->v[j], (r->n - j) * sizeof(*r->v));
	memcpy(&r->v[i], with, count * sizeof(*with));
	r->n = r->n - (j - i) + count;
}

int um_ranges_add(struct um_ranges *r, uintptr_t start, uintptr_t end)
{
	struct um_span merged = {start, end};
	size_t i, j;
	int err;

	pthread_mutex_lock(&r->lock);
	err = reserve(r, 1);
	if (!err) {
		i = first_reaching(r, start);
		for (j = i; j < r->n && r->v[j].start <= end; j++) {
			if (r->v[j].start < merged.start)
				merged.start = r->v[j].start;
			if (r->v[j].end > merged.end)
				merged.end = r->v[j].end;
		}
		splice(r, i, j, &merged, 1);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

int um_ranges_remove(struct um_ranges *r, uintptr_t start, uintptr_t end)
{
	struct um_span keep[2];
	size_t i, j, count = 0;
	int err;

	pthread_mutex_lock(&r->lock);
	err = reserve(r, 1);
	if (!err) {
		i = first_reaching(r, start + 1);
		for (j = i; j < r->n && r->v[j].start < end; j++)
			;
		if (i < j && r->v[i].start < start)
			keep[count++] = (struct um_span){r->v[i].start, start};
		if (i < j && r->v[j - 1].end > end)
			keep[count++] = (struct um_span){end, r->v[j - 1].end};
		splice(r, i, j, keep, count);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

bool um_ranges_cover(struct um_ranges *r, uintptr_t start, uintptr_t end)
{
	bool covered;
	size_t i;

	pthread_mutex_lock(&r->lock);
	i = first_reaching(r, start + 1);
	covered = i < r->n && r->v[i].start <= start && r->v[i].end >= end;
	pthread_mutex_unlock(&r->lock);
	return covered;
}
