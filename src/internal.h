/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared between umove's source files. Public names are
 * umove_*, cross-file internal ones um_*, file-local ones are static.
 */
#ifndef UM_INTERNAL_H
#define UM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "umove.h"

/* Disjoint, sorted, coalesced address ranges [start, end). */
struct um_ranges {
	pthread_mutex_t lock; /* protects v, n and cap */
	struct um_span {
		uintptr_t start, end;
	} * v;
	size_t n, cap;
};

struct umove {
	int fd;		    /* the userfaultfd */
	int pagemap_fd;	    /* /proc/self/pagemap, -1 if unavailable */
	int via;	    /* enum umove_via */
	bool native;	    /* moves use UFFDIO_MOVE */
	unsigned caps;	    /* UMOVE_CAP_* */
	size_t page_size;   /* the base page size of this process */
	uint64_t features;  /* negotiated UFFD_FEATURE_* */
	uint64_t supported; /* what the kernel offered */
	void *unreadable;   /* one PROT_NONE page: see probe_fill() in emulate.c
			     */
	/*
	 * Serialises emulated moves through this handle: the copy and the
	 * discard of src are two steps, and two moves of one src page must not
	 * both see it present. Not taken by the native path.
	 */
	pthread_mutex_t emulate_lock;
	/*
	 * Ranges registered through this handle. The kernel does not say which
	 * userfaultfd a range belongs to, and the emulated move must refuse a
	 * destination of another userfaultfd exactly as UFFDIO_MOVE does.
	 */
	struct um_ranges registered;
};

/* uffd.c: the only file that issues userfaultfd system calls and ioctls. */
int um_uffd_open(int via, int *fd);
int um_uffd_api(int fd, uint64_t request, uint64_t *offered);
int um_uffd_register(int fd, uintptr_t start, size_t len, uint64_t mode);
int um_uffd_unregister(int fd, uintptr_t start, size_t len);
int um_uffd_wake(int fd, uintptr_t start, size_t len);
ssize_t um_uffd_move(int fd, uintptr_t dst, uintptr_t src, size_t len,
		     uint64_t mode);
ssize_t um_uffd_copy(int fd, uintptr_t dst, uintptr_t src, size_t len,
		     uint64_t mode);
int um_uffd_writeprotect(int fd, uintptr_t start, size_t len, bool protect);
int um_uffd_poison(int fd, uintptr_t start, size_t len, uint64_t mode);
bool um_pagemap_scan_works(int pagemap_fd);

/* ranges.c */
void um_ranges_init(struct um_ranges *r);
void um_ranges_fini(struct um_ranges *r);
int um_ranges_add(struct um_ranges *r, uintptr_t start, uintptr_t end);
int um_ranges_remove(struct um_ranges *r, uintptr_t start, uintptr_t end);
bool um_ranges_cover(struct um_ranges *r, uintptr_t start, uintptr_t end);

/* vma.c: mappings as /proc/self/maps shows them. */
struct um_vma {
	uintptr_t start, end;
	char perms[5]; /* "rwxp" or "rw-s" ... */
	bool anonymous;
};
int um_vma_find2(uintptr_t a, struct um_vma *va, uintptr_t b,
		 struct um_vma *vb);

/* pagemap.c: per-page state from /proc/self/pagemap. */
#define UM_PM_PRESENT (1ull << 63)
#define UM_PM_SWAPPED (1ull << 62) /* also pte markers: uffd-wp, poison */
int um_pagemap_read(int fd, uintptr_t addr, size_t npages, size_t page_size,
		    uint64_t *out);

/* move.c / emulate.c */
int um_check_pair(const struct umove *um, uintptr_t dst, uintptr_t src,
		  size_t len);
ssize_t um_move_emulated(struct umove *um, uintptr_t dst, uintptr_t src,
			 size_t len, unsigned flags);

/* hash.c: a 64-bit hash of a page (not cryptographic). */
uint64_t um_page_hash(const void *page, size_t len);

/* hist.c: latency histograms, 4 buckets per power of two of ns. */
#define UM_HIST_BUCKETS 160
void um_hist_add(_Atomic uint64_t *hist, uint64_t ns);
uint64_t um_hist_quantile(const uint64_t *hist, double q);

#endif /* UM_INTERNAL_H */
