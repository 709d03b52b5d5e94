/* SPDX-License-Identifier: MIT */
/*
 * Map a file through umove: its pages are fetched on first touch by
 * handler threads (O_DIRECT where the filesystem allows it) and installed
 * by page moves; writes go back to the file on umove_unmap().
 *
 *	cc file_region.c $(pkg-config --cflags --libs umove)
 *	./file_region [FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umove.h>
#include <unistd.h>

static int make_demo_file(char *path, size_t size)
{
	int fd = mkstemp(path);
	char line[65]; /* 64 bytes a line, and snprintf's terminator */

	if (fd < 0)
		return -1;
	for (size_t off = 0; off < size; off += 64) {
		snprintf(line, sizeof(line), "%-63zu\n", off);
		if (pwrite(fd, line, 64, (off_t)off) != 64)
			return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char demo[] = "/tmp/umove-demo.XXXXXX";
	const char *path = argc > 1 ? argv[1] : demo;
	struct umove_store *st;
	struct umove_region *r;
	int err;

	if (argc < 2 && make_demo_file(demo, 1 << 20) != 0)
		return 1;
	err = umove_store_file(&st, path, UMOVE_STORE_RDONLY);
	if (err == 0)
		err = umove_map(&r, st, 0,
				umove_store_pages(st) * sysconf(_SC_PAGESIZE),
				NULL);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, umove_strerror(err));
		return 1;
	}
	const char *data = umove_region_addr(r);
	size_t len = umove_region_len(r);

	/* Each touch faults once; read-ahead brings the next pages along. */
	printf("first line: %.20s\n", data);
	printf("last line:  %.20s\n", data + len - 64);

	struct umove_stats s = {.size = sizeof(s)};
	umove_region_stats(r, &s);
	printf("%llu faults served, %llu pages filled\n",
	       (unsigned long long)s.faults_served,
	       (unsigned long long)s.pages_filled);

	err = umove_unmap(r);
	umove_store_close(st);
	if (argc < 2)
		unlink(demo);
	return err ? 1 : 0;
}
