/* SPDX-License-Identifier: MIT */
/*
 * A store in compressed RAM. Each page is a slot holding NULL (never
 * written, or written as zeros: reads as zeros) or a blob with the page
 * compressed by LZ4, or the page itself when it does not compress below a
 * page. The slot table is an anonymous mapping, so that a large store costs
 * nothing until its pages are written.
 */
#include <errno.h>
#include <lz4.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"

/* Locks striped by page index: concurrent pages rarely share one. */
#define STRIPES 64

struct blob {
	uint32_t len; /* bytes in data */
	bool raw;     /* data is the page itself, not LZ4 */
	char data[];
};

struct mem_store {
	/* stripe[i % STRIPES] guards slot[i]: read locked to decompress it,
	 * write locked to replace it. */
	pthread_rwlock_t stripe[STRIPES];
	struct blob **slot;
	size_t slot_bytes; /* of the mapping */
	/* Bit j: page j of the slot table has held a blob (close scans
	 * only those; the others were never touched). */
	_Atomic uint64_t *touched;
	size_t page_size;
};

/* Slots per page of the slot table. */
static size_t slots_per_page(const struct mem_store *ms)
{
	return ms->page_size / sizeof(*ms->slot);
}

static void mark_touched(struct mem_store *ms, uint64_t index)
{
	uint64_t j = index / slots_per_page(ms);
	_Atomic uint64_t *w = &ms->touched[j / 64];
	uint64_t bit = 1ull << (j % 64);

	/* Read first: the common case, already set, writes no cache line. */
	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
}

static pthread_rwlock_t *stripe_of(struct mem_store *ms, uint64_t index)
{
	return &ms->stripe[index % STRIPES];
}

static bool all_zero(const char *page, size_t len)
{
	return !page[0] && !memcmp(page, page + 1, len - 1);
}

static int unpack(const struct blob *b, char *page, size_t page_size)
{
	int n;

	if (b->raw) {
		if (b->len != page_size)
			return -EIO;
		memcpy(page, b->data, page_size);
		return 0;
	}
	n = LZ4_decompress_safe(b->data, page, (int)b->len, (int)page_size);
	/* Anything but exactly one page is corruption, never a short page. */
	return n == (int)page_size ? 0 : -EIO;
}

static int mem_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct mem_store *ms = priv;
	char *page = buf;

	for (size_t i = 0; i < count; i++, page += ms->page_size) {
		pthread_rwlock_t *lock = stripe_of(ms, index + i);
		const struct blob *b;
		int ret = 0;

		pthread_rwlock_rdlock(lock);
		b = ms->slot[index + i];
		if (b)
			ret = unpack(b, page, ms->page_size);
		else
			memset(page, 0, ms->page_size);
		pthread_rwlock_unlock(lock);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The blob for one page, made outside any lock: NULL in *out for a page of
 * zeros. tmp holds a page.
 */
static int pack(struct mem_store *ms, const char *page, char *tmp,
		struct blob **out)
{
	struct blob *b;
	int n;

	*out = NULL;
	if (all_zero(page, ms->page_size))
		return 0;
	/* Stored raw unless LZ4 saves at least a byte. */
	n = LZ4_compress_default(page, tmp, (int)ms->page_size,
				 (int)ms->page_size - 1);
	if (n <= 0)
		n = (int)ms->page_size;
	b = malloc(sizeof(*b) + (size_t)n);
	if (!b)
		return -ENOMEM;
	b->len = (uint32_t)n;
	b->raw = n == (int)ms->page_size;
	memcpy(b->data, b->raw ? page : tmp, (size_t)n);
	*out = b;
	return 0;
}

static int mem_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct mem_store *ms = priv;
	const char *page = buf;
	char *tmp = malloc(ms->page_size);

	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++, page += ms->page_size) {
		pthread_rwlock_t *lock = stripe_of(ms, index + i);
		struct blob *b, *old;
		int ret = pack(ms, page, tmp, &b);

		if (ret) {
			free(tmp);
			return ret; /* this page and those after it untouched */
		}
		if (b)
			mark_touched(ms, index + i);
		pthread_rwlock_wrlock(lock);
		old = ms->slot[index + i];
		ms->slot[index + i] = b;
		pthread_rwlock_unlock(lock);
		free(old);
	}
	free(tmp);
	return 0;
}

static void mem_close(void *priv)
{
	struct mem_store *ms = priv;
	size_t pages = ms->slot_bytes / sizeof(*ms->slot);
	size_t per = slots_per_page(ms);

	for (size_t i = 0; i < pages; i += per) {
		size_t j = i / per, end = pages - i < per ? pages : i + per;

		if (!(atomic_load(&ms->touched[j / 64]) & (1ull << (j % 64))))
			continue;
		for (size_t k = i; k < end; k++)
			free(ms->slot[k]);
	}
	munmap(ms->slot, ms->slot_bytes);
	free(ms->touched);
	for (size_t i = 0; i < STRIPES; i++)
		pthread_rwlock_destroy(&ms->stripe[i]);
	free(ms);
}

static int mem_new(struct mem_store **out, uint64_t pages)
{
	struct mem_store *ms;
	size_t i, table_pages;

	if (pages > SIZE_MAX / sizeof(*ms->slot))
		return -ENOMEM;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->page_size = (size_t)sysconf(_SC_PAGESIZE);
	ms->slot_bytes = (size_t)pages * sizeof(*ms->slot);
	table_pages = (ms->slot_bytes + ms->page_size - 1) / ms->page_size;
	ms->touched = calloc((table_pages + 63) / 64, sizeof(*ms->touched));
	if (!ms->touched) {
		free(ms);
		return -ENOMEM;
	}
	/* Untouched slots stay unbacked zero pages: NULL, never written. */
	ms->slot = mmap(NULL, ms->slot_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ms->slot == MAP_FAILED) {
		free(ms->touched);
		free(ms);
		return -ENOMEM;
	}
	for (i = 0; i < STRIPES; i++)
		if (pthread_rwlock_init(&ms->stripe[i], NULL))
			break;
	if (i < STRIPES) {
		while (i--)
			pthread_rwlock_destroy(&ms->stripe[i]);
		munmap(ms->slot, ms->slot_bytes);
		free(ms->touched);
		free(ms);
		return -ENOMEM;
	}
	*out = ms;
	return 0;
}

int umove_store_mem(struct umove_store **out, uint64_t pages, unsigned flags)
{
	static const struct umove_store_ops ops = {
		.read = mem_read,
		.write = mem_write,
		.close = mem_close,
	};
	struct mem_store *ms;
	int ret;

	if (!out || !pages || flags)
		return -EINVAL;
	ret = mem_new(&ms, pages);
	if (ret)
		return ret;
	ret = um_store_new(out, &ops, sizeof(ops), ms, pages);
	if (ret)
		mem_close(ms);
	return ret;
}
