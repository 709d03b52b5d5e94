/* SPDX-License-Identifier: MIT */
/*
 * The kernel interface: every userfaultfd system call and ioctl umove makes
 * goes through here, and every one returns 0 (or a count) or -errno. The
 * layers above never look at errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "uffd_compat.h"

/* O_NONBLOCK: fault readers poll; a blocking read would hang a shutdown. */
#define UM_UFFD_FLAGS (O_CLOEXEC | O_NONBLOCK)

static int open_syscall(int extra)
{
#ifdef SYS_userfaultfd
	int fd = (int)syscall(SYS_userfaultfd, UM_UFFD_FLAGS | extra);

	return fd < 0 ? -errno : fd;
#else
	(void)extra;
	return -ENOSYS;
#endif
}

static int open_device(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	int fd;

	if (dev < 0)
		return -errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, UM_UFFD_FLAGS);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

int um_uffd_open(int via, int *fd)
{
	int r;

	switch (via) {
	case UMOVE_VIA_SYSCALL:
		r = open_syscall(0);
		break;
	case UMOVE_VIA_DEVICE:
		r = open_device();
		break;
	case UMOVE_VIA_USER_ONLY:
		r = open_syscall(UFFD_USER_MODE_ONLY);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*fd = r;
	return 0;
}

/*
 * The handshake. On success the kernel reports every feature it has, not
 * the ones this fd got: the caller knows what it asked for.
 */
int um_uffd_api(int fd, uint64_t request, uint64_t *offered)
{
	struct uffdio_api api = {.api = UFFD_API, .features = request};

	if (ioctl(fd, UFFDIO_API, &api))
		return -errno;
	if (offered)
		*offered = api.features;
	return 0;
}

int um_uffd_register(int fd, uintptr_t start, size_t len, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = {.start = start, .len = len},
		.mode = mode,
	};

	return ioctl(fd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

int um_uffd_unregister(int fd, uintptr_t start, size_t len)
{
	struct uffdio_range range = {.start = start, .len = len};

	return ioctl(fd, UFFDIO_UNREGISTER, &range) ? -errno : 0;
}

int um_uffd_wake(int fd, uintptr_t start, size_t len)
{
	struct uffdio_range range = {.start = start, .len = len};

	return ioctl(fd, UFFDIO_WAKE, &range) ? -errno : 0;
}

/*
 * MOVE and COPY share one result convention. The kernel fails the ioctl with
 * EAGAIN when it stopped after a partial count and stores that count in the
 * struct; it stores a negative errno there when nothing happened. The field
 * is only written once the operation ran, so an argument error leaves it 0
 * and the ioctl's errno is the answer.
 */
static ssize_t fill_result(int rc, size_t len, int64_t done)
{
	if (rc == 0)
		return (ssize_t)len;
	if (done != 0)
		return (ssize_t)done;
	return -errno;
}

ssize_t um_uffd_move(int fd, uintptr_t dst, uintptr_t src, size_t len,
		     uint64_t mode)
{
	struct uffdio_move mv = {
		.dst = dst, .src = src, .len = len, .mode = mode, .move = 0};
	int rc = ioctl(fd, UFFDIO_MOVE, &mv);

	return fill_result(rc, len, mv.move);
}

ssize_t um_uffd_copy(int fd, uintptr_t dst, uintptr_t src, size_t len,
		     uint64_t mode)
{
	struct uffdio_copy cp = {
		.dst = dst, .src = src, .len = len, .mode = mode, .copy = 0};
	int rc = ioctl(fd, UFFDIO_COPY, &cp);

	return fill_result(rc, len, cp.copy);
}

/*
 * Write-protects [start, start+len) (protect) or lifts it without a wake
 * (the kernel refuses DONTWAKE with WP: protecting wakes no one anyway).
 */
int um_uffd_writeprotect(int fd, uintptr_t start, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = {.start = start, .len = len},
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP
				: UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

int um_uffd_poison(int fd, uintptr_t start, size_t len, uint64_t mode)
{
	struct uffdio_poison po = {.range = {.start = start, .len = len},
				   .mode = mode};

	return ioctl(fd, UFFDIO_POISON, &po) ? -errno : 0;
}

/* A scan of the stack page we stand on: harmless, and ENOTTY if absent. */
bool um_pagemap_scan_works(int pagemap_fd)
{
	uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)&page_size & ~(page_size - 1);
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = start + page_size,
		.category_anyof_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};

	if (pagemap_fd < 0)
		return false;
	return ioctl(pagemap_fd, PAGEMAP_SCAN, &arg) >= 0;
}
