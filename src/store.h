/* SPDX-License-Identifier: MIT */
/*
 * The store abstraction shared by the generic code (store.c), the built-in
 * stores (store_file.c, store_mem.c) and the regions that page from them.
 * A store never includes region code: arrows point down only.
 */
#ifndef UM_STORE_H
#define UM_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "umove.h"

struct umove_store {
	struct umove_store_ops ops; /* the caller's, zero beyond its size */
	void *priv;
	uint64_t pages;
	size_t page_size;
	/* Regions mapped on this store: it cannot close under them. */
	atomic_uint mapped;
	/* Reads go straight from storage to the caller's page (O_DIRECT). */
	bool direct;
};

/* Creates a store around ops/priv; on failure ops->close(priv) is NOT called.
 */
int um_store_new(struct umove_store **out, const struct umove_store_ops *ops,
		 size_t ops_size, void *priv, uint64_t pages);

/* Bounds-checked calls into the ops, for regions (no alignment checks). */
int um_store_read(struct umove_store *st, uint64_t index, size_t count,
		  void *buf);
int um_store_write(struct umove_store *st, uint64_t index, size_t count,
		   const void *buf);

#endif /* UM_STORE_H */
