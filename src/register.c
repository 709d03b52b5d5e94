/* SPDX-License-Identifier: MIT */
/* Registering ranges with a handle's userfaultfd. */
#include <errno.h>

#include "internal.h"
#include "uffd_compat.h"

#define UM_REGISTER_MODES \
	(UMOVE_REGISTER_MISSING | UMOVE_REGISTER_WP | UMOVE_REGISTER_MINOR)

static bool range_ok(const struct umove *um, uintptr_t addr, size_t len)
{
	uintptr_t mask = um->page_size - 1;

	return addr && len && !(addr & mask) && !(len & mask) &&
	       addr + len > addr;
}

static uint64_t kernel_mode(unsigned mode)
{
	uint64_t m = 0;

	if (mode & UMOVE_REGISTER_MISSING)
		m |= UFFDIO_REGISTER_MODE_MISSING;
	if (mode & UMOVE_REGISTER_WP)
		m |= UFFDIO_REGISTER_MODE_WP;
	if (mode & UMOVE_REGISTER_MINOR)
		m |= UFFDIO_REGISTER_MODE_MINOR;
	return m;
}

int umove_register(struct umove *um, void *addr, size_t len, unsigned mode)
{
	uintptr_t start = (uintptr_t)addr;
	int r;

	if (!um || !range_ok(um, start, len) || !mode ||
	    (mode & ~UM_REGISTER_MODES))
		return -EINVAL;
	r = um_uffd_register(um->fd, start, len, kernel_mode(mode));
	if (r)
		return r;
	/*
	 * Out of memory here would leave a registration the emulated move
	 * cannot see; undo it so that the handle and the kernel agree.
	 */
	r = um_ranges_add(&um->registered, start, start + len);
	if (r)
		um_uffd_unregister(um->fd, start, len);
	return r;
}

int umove_unregister(struct umove *um, void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr;
	int r;

	if (!um || !range_ok(um, start, len))
		return -EINVAL;
	r = um_uffd_unregister(um->fd, start, len);
	if (r)
		return r;
	return um_ranges_remove(&um->registered, start, start + len);
}
