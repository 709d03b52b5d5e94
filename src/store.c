/* SPDX-License-Identifier: MIT */
/*
 * Generic store handling: argument checks, the mapped count that keeps a
 * store open while regions page from it, and user-supplied stores.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

int um_store_new(struct umove_store **out, const struct umove_store_ops *ops,
		 size_t ops_size, void *priv, uint64_t pages)
{
	size_t need =
		offsetof(struct umove_store_ops, read) + sizeof(ops->read);
	struct umove_store *st;

	if (!out || !ops || ops_size < need || !pages)
		return -EINVAL;
	if (ops_size > sizeof(*ops))
		ops_size = sizeof(*ops); /* a newer caller: its extras unused */
	ops_size -= ops_size % sizeof(ops->read); /* whole members only */
	if (!ops->read)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	memcpy(&st->ops, ops, ops_size);
	st->priv = priv;
	st->pages = pages;
	st->page_size = (size_t)sysconf(_SC_PAGESIZE);
	atomic_init(&st->mapped, 0);
	*out = st;
	return 0;
}

int umove_store_open(struct umove_store **out,
		     const struct umove_store_ops *ops, size_t ops_size,
		     void *priv, uint64_t pages)
{
	return um_store_new(out, ops, ops_size, priv, pages);
}

uint64_t umove_store_pages(const struct umove_store *st)
{
	return st ? st->pages : 0;
}

static bool in_bounds(const struct umove_store *st, uint64_t index,
		      size_t count)
{
	return count && index < st->pages && count <= st->pages - index;
}

int um_store_read(struct umove_store *st, uint64_t index, size_t count,
		  void *buf)
{
	if (!in_bounds(st, index, count))
		return -EINVAL;
	return st->ops.read(st->priv, index, count, buf);
}

int um_store_write(struct umove_store *st, uint64_t index, size_t count,
		   const void *buf)
{
	if (!in_bounds(st, index, count))
		return -EINVAL;
	if (!st->ops.write)
		return -EROFS;
	return st->ops.write(st->priv, index, count, buf);
}

static bool page_aligned(const struct umove_store *st, const void *buf)
{
	return buf && !((uintptr_t)buf & (st->page_size - 1));
}

int umove_store_read(struct umove_store *st, uint64_t index, size_t count,
		     void *buf)
{
	if (!st || !page_aligned(st, buf))
		return -EINVAL;
	return um_store_read(st, index, count, buf);
}

int umove_store_write(struct umove_store *st, uint64_t index, size_t count,
		      const void *buf)
{
	if (!st || !page_aligned(st, buf))
		return -EINVAL;
	return um_store_write(st, index, count, buf);
}

/* Durability for pages written with umove_store_write (no region needed). */
int umove_store_sync(struct umove_store *st)
{
	if (!st)
		return -EINVAL;
	return st->ops.sync ? st->ops.sync(st->priv) : 0;
}

int umove_store_close(struct umove_store *st)
{
	if (!st)
		return 0;
	if (atomic_load(&st->mapped))
		return -EBUSY;
	if (st->ops.close)
		st->ops.close(st->priv);
	free(st);
	return 0;
}
