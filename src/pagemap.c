/* SPDX-License-Identifier: MIT */
/*
 * Page state from /proc/self/pagemap: one 64-bit entry per page. Readable
 * without privileges (only the frame numbers are hidden), on every kernel
 * umove supports, which is what the emulated move needs to tell holes
 * from pages exactly as the kernel's page-table walk does.
 */
#include <errno.h>
#include <unistd.h>

#include "internal.h"

int um_pagemap_read(int fd, uintptr_t addr, size_t npages, size_t page_size,
		    uint64_t *out)
{
	size_t want = npages * sizeof(*out);
	off_t off = (off_t)(addr / page_size * sizeof(*out));
	size_t got = 0;

	if (fd < 0)
		return -EOPNOTSUPP;
	while (got < want) {
		ssize_t n = pread(fd, (char *)out + got, want - got,
				  off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}
