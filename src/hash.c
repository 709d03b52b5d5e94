/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit page hash that tells a changed page from a clean one
 * (regions) and a corrupt value from a good one (the memcached store).
 */
#include "internal.h"

static uint64_t rotl(uint64_t x, unsigned k)
{
	return (x << k) | (x >> (64 - k));
}

/*
 * A 64-bit hash of a page, four independent lanes so that the multiplies
 * overlap. Not cryptographic: two different contents share a hash with a
 * probability of about 2^-64, and such a changed page would be taken for
 * clean (umove_region_sync(3) says so).
 */
uint64_t um_page_hash(const void *page, size_t len)
{
	const uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xc2b2ae3d27d4eb4full;
	uint64_t a = k1, b = k2, c = ~k1, d = ~k2, h;
	const uint64_t *w = page;
	size_t words = len / sizeof(uint64_t);

	for (size_t i = 0; i + 4 <= words; i += 4) {
		a = rotl((a ^ w[i]) * k2, 31);
		b = rotl((b ^ w[i + 1]) * k2, 29);
		c = rotl((c ^ w[i + 2]) * k2, 27);
		d = rotl((d ^ w[i + 3]) * k2, 33);
	}
	h = rotl(a, 1) ^ rotl(b, 7) ^ rotl(c, 12) ^ rotl(d, 18);
	h ^= h >> 33;
	h *= k1;
	h ^= h >> 29;
	return h;
}
