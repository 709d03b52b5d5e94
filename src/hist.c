/* SPDX-License-Identifier: MIT */
/*
 * Latency histograms: 4 buckets per power of two of nanoseconds, counted
 * with relaxed atomics by the thread that measures, merged by whoever
 * reports (regions' fill latency, the memcached store's round trips).
 */
#include <stdatomic.h>

#include "internal.h"

/* Bucket: 4 * log2(ns) plus the next two bits of the mantissa. */
void um_hist_add(_Atomic uint64_t *hist, uint64_t ns)
{
	unsigned b = 0;

	if (ns >= 4) {
		unsigned lg = 63u - (unsigned)__builtin_clzll(ns);

		b = 4 * lg + (unsigned)((ns >> (lg - 2)) & 3);
	}
	if (b >= UM_HIST_BUCKETS)
		b = UM_HIST_BUCKETS - 1;
	atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
}

/* The lower bound of the bucket holding quantile q, in ns. */
uint64_t um_hist_quantile(const uint64_t *hist, double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned b = 0; b < UM_HIST_BUCKETS; b++)
		total += hist[b];
	if (!total)
		return 0;
	for (unsigned b = 0; b < UM_HIST_BUCKETS; b++) {
		seen += hist[b];
		if ((double)seen >= q * (double)total) {
			unsigned lg = b / 4;

			if (lg < 2)
				return b;
			return (4ull + (b & 3)) << (lg - 2);
		}
	}
	return 0;
}
