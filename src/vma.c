/* SPDX-License-Identifier: MIT */
/*
 * Mappings as /proc/self/maps lists them, one line per VMA in ascending
 * order. The emulated move needs the same facts the kernel checks before
 * UFFDIO_MOVE: which VMA holds an address, whether it is private, anonymous
 * and writable, and where it ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* brk heap, stacks and named anonymous memory carry a bracketed name. */
static bool anonymous_name(const char *name)
{
	return *name == '\0' || strncmp(name, "[heap]", 6) == 0 ||
	       strncmp(name, "[stack", 6) == 0 ||
	       strncmp(name, "[anon:", 6) == 0;
}

/*
 * The kernel turns a private mapping of /dev/zero into anonymous memory.
 * The name still ends in the line's newline here.
 */
static bool private_dev_zero(const char *perms, const char *name)
{
	return perms[3] == 'p' && strcmp(name, "/dev/zero\n") == 0;
}

static bool parse_line(const char *line, struct um_vma *vma)
{
	unsigned long long start, end, offset, inode;
	unsigned major, minor;
	int name_at = 0;
	const char *name;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end,
		   vma->perms, &offset, &major, &minor, &inode, &name_at) < 7)
		return false;
	name = line + name_at;
	name += strspn(name, " \t");
	vma->start = (uintptr_t)start;
	vma->end = (uintptr_t)end;
	vma->anonymous = (inode == 0 && anonymous_name(name)) ||
			 private_dev_zero(vma->perms, name);
	return true;
}

static bool holds(const struct um_vma *vma, uintptr_t addr)
{
	return vma->start <= addr && addr < vma->end;
}

/*
 * Finds the VMAs holding a and b in one pass over the file. Returns 0 when
 * both were found, -ENOENT when either is unmapped (its VMA then has
 * start == end == 0), -errno if the file cannot be read. A line longer than the
 * buffer is only a long path name: its remainder is skipped.
 */
int um_vma_find2(uintptr_t a, struct um_vma *va, uintptr_t b, struct um_vma *vb)
{
	char line[512];
	bool found_a = false, found_b = false, at_line_start = true;
	struct um_vma vma;
	FILE *f = fopen("/proc/self/maps", "re");

	*va = *vb = (struct um_vma){0};
	if (!f)
		return -errno;
	while (!(found_a && found_b) && fgets(line, sizeof(line), f)) {
		bool starts_line = at_line_start;

		at_line_start = strchr(line, '\n') != NULL;
		if (!starts_line || !parse_line(line, &vma))
			continue;
		if (!found_a && holds(&vma, a)) {
			*va = vma;
			found_a = true;
		}
		if (!found_b && holds(&vma, b)) {
			*vb = vma;
			found_b = true;
		}
	}
	fclose(f);
	return found_a && found_b ? 0 : -ENOENT;
}
