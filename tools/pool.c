/* SPDX-License-Identifier: MIT */
/*
 * `umove pool put|get|check SPEC FILE`: page images in a pool of memcached
 * servers (umove_store_memcached(3)), the far-memory and snapshot-restore
 * workflow: put a file on one machine, get it (or map the image) on
 * another.
 *
 * put copies FILE into the pool with umove_store_write(), 64 pages per
 * call, creating the image with pages=N (the file's pages) unless the spec
 * says pages. FILE must be a whole number of pages: a shorter last page is
 * refused (pad the file first), since get could not tell padding from
 * data.
 *
 * get and check go through the paging path, as a program mapping the
 * image would: they map the image on the store opened read-only
 * (umove_map, read-ahead 31, 2 handler threads by default), 64 MiB at a
 * time so that memory stays bounded, read the region's memory and write(2)
 * it to FILE, or compare it with FILE. The pages of a chunk are touched
 * from user space before write(2) reads them, so that a userfaultfd that
 * serves user-mode faults only (unprivileged, UFFD_USER_MODE_ONLY) works
 * too. A page the store cannot deliver raises SIGBUS in the reader: the
 * command names the page and exits with status 1.
 *
 * Progress goes to stderr: a bar (percent, MiB/s) when stderr is a
 * terminal, a line every 5 seconds otherwise, nothing with --quiet. The
 * report goes to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <umove.h>

#include "cli.h"

#define POOL_BATCH 64		/* pages per umove_store_write() */
#define POOL_CHUNK 256		/* pages per write(2) or comparison */
#define POOL_WINDOW (64u << 20) /* bytes mapped at a time by get, check */
#define POOL_READAHEAD 31
#define POOL_THREADS 2
#define POOL_MAX_THREADS 64
#define POOL_MAX_READAHEAD 1023
#define BAR_WIDTH 30
#define BAR_EVERY_NS 100000000ull   /* a terminal's bar: 10 times a second */
#define LINE_EVERY_NS 5000000000ull /* otherwise: a line every 5 s */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

static double secs_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

static double mib_per_s(uint64_t bytes, double s)
{
	return s > 0 ? mib(bytes) / s : 0;
}

/* ---- progress on stderr ------------------------------------------------- */

struct progress {
	const char *cmd;
	bool quiet, tty, drawn;
	uint64_t total, t0, last;
};

static void progress_start(struct progress *p, const char *cmd, bool quiet,
			   uint64_t total)
{
	*p = (struct progress){.cmd = cmd,
			       .quiet = quiet,
			       .tty = isatty(STDERR_FILENO),
			       .total = total,
			       .t0 = now_ns()};
	p->last = p->t0;
}

static void progress(struct progress *p, uint64_t done)
{
	uint64_t now = now_ns();
	double pct = p->total ? 100.0 * (double)done / (double)p->total : 100,
	       rate = mib_per_s(done, (double)(now - p->t0) / 1e9);

	if (p->quiet || now - p->last < (p->tty ? BAR_EVERY_NS : LINE_EVERY_NS))
		return;
	p->last = now;
	if (p->tty) {
		char bar[BAR_WIDTH + 1];
		int fill = (int)(pct / 100 * BAR_WIDTH);

		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		fprintf(stderr,
			"\r%s: [%s] %3.0f%%  %.1f of %.1f MiB  %.1f MiB/s ",
			p->cmd, bar, pct, mib(done), mib(p->total), rate);
		p->drawn = true;
	} else {
		fprintf(stderr, "%s: %.0f%%, %.1f of %.1f MiB, %.1f MiB/s\n",
			p->cmd, pct, mib(done), mib(p->total), rate);
	}
}

/* The bar is erased: the report says it all. */
static void progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

/* ---- shared pieces ------------------------------------------------------- */

struct pool_opts {
	const char *spec, *file;
	unsigned long threads, readahead;
	bool quiet;
};

/* Options, then exactly SPEC and FILE. 0 to run, else the exit status. */
static int parse_pool(const char *cmd, const char *usage, bool reads, int argc,
		      char **argv, struct pool_opts *o, bool *done)
{
	/* Writes (put) take the last one only. */
	const struct cli_opt opts[] = {
		{"threads", 0, CLI_OPT_COUNT, &o->threads, 1, POOL_MAX_THREADS},
		{"readahead", 0, CLI_OPT_COUNT, &o->readahead, 0,
		 POOL_MAX_READAHEAD},
		{"quiet", 'q', CLI_OPT_FLAG, &o->quiet, 0, 0},
	};
	size_t n = sizeof(opts) / sizeof(opts[0]), first = reads ? 0 : n - 1;
	int ret = cli_parse_options(cmd, usage, argc, argv, opts + first,
				    n - first, done);

	if (ret || *done)
		return ret;
	if (argc - optind != 2) {
		fprintf(stderr, "%s: %s\n", cmd,
			argc - optind < 2 ? "wants SPEC and FILE"
					  : "wants only SPEC and FILE");
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	o->spec = argv[optind];
	o->file = argv[optind + 1];
	return 0;
}

/* A spec the library refuses is a usage error; a pool that fails, not. */
static int open_pool(const char *cmd, const char *spec, const char *shown,
		     unsigned flags, struct umove_store **st)
{
	char why[512];
	int err = umove_store_memcached(st, spec, flags, why, sizeof(why));

	if (!err)
		return 0;
	fprintf(stderr, "%s: %s: %s\n", cmd, shown,
		why[0] ? why : umove_strerror(err));
	if (err == -EINVAL)
		fputs("(the spec's grammar: umove_store_memcached(3))\n",
		      stderr);
	return err == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

static int pool_stats(const struct umove_store *st, struct umove_pool_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return umove_store_memcached_stats(st, s);
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENODATA;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *alloc_pages(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void print_rtt(const struct umove_pool_stats *s)
{
	printf("round trip p50/p99 %.1f/%.1f us\n", (double)s->rtt_ns_p50 / 1e3,
	       (double)s->rtt_ns_p99 / 1e3);
}

/* ---- put ----------------------------------------------------------------- */

static const char pool_put_usage[] =
	"usage: umove pool put [--quiet] SPEC FILE\n"
	"  copies FILE into the pool as an image of its pages; SPEC is\n"
	"  memcached://SERVER[,SERVER...][?OPTION[&OPTION...]]\n"
	"  (umove_store_memcached(3)); pages=N, the file's page count, is\n"
	"  added unless SPEC says pages (then it must match). FILE must be\n"
	"  a whole number of pages (pad it first: truncate -s %PAGESIZE "
	"FILE)\n"
	"  --quiet     no progress on stderr\n";

/*
 * A batch failed: write its pages one by one to name the first that
 * fails; 0 (the batch went through the second time) or that error.
 */
static int failed_page(struct umove_store *st, uint64_t idx, size_t n,
		       const char *buf, size_t ps, uint64_t *page)
{
	for (size_t i = 0; i < n; i++) {
		int err = umove_store_write(st, idx + i, 1, buf + i * ps);

		if (err) {
			*page = idx + i;
			return err;
		}
	}
	return 0;
}

static int put_pages(const char *cmd, struct umove_store *st, int fd,
		     uint64_t pages, size_t ps, bool quiet)
{
	char *buf = alloc_pages(POOL_BATCH * ps);
	struct progress p;
	int ret = 0;

	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		return -1;
	}
	progress_start(&p, cmd, quiet, pages * ps);
	for (uint64_t idx = 0; idx < pages && !ret; idx += POOL_BATCH) {
		size_t n = pages - idx < POOL_BATCH ? (size_t)(pages - idx)
						    : POOL_BATCH;
		int err = pread_full(fd, buf, n * ps, (off_t)(idx * ps));
		uint64_t page = idx;

		if (err) {
			progress_end(&p);
			fprintf(stderr, "%s: reading page %" PRIu64 ": %s\n",
				cmd, idx,
				err == -ENODATA ? "the file got shorter"
						: strerror(-err));
			ret = -1;
			break;
		}
		err = umove_store_write(st, idx, n, buf);
		if (err) {
			int again = failed_page(st, idx, n, buf, ps, &page);

			progress_end(&p);
			if (again)
				fprintf(stderr,
					"%s: writing page %" PRIu64 ": %s\n",
					cmd, page, umove_strerror(again));
			else
				fprintf(stderr,
					"%s: writing pages %" PRIu64
					" to %" PRIu64
					": %s (a second try went through)\n",
					cmd, idx, idx + n - 1,
					umove_strerror(err));
			ret = -1;
			break;
		}
		progress(&p, (idx + n) * ps);
	}
	progress_end(&p);
	munmap(buf, POOL_BATCH * ps);
	return ret;
}

int cmd_pool_put(int argc, char **argv)
{
	const char *cmd = "umove pool put";
	struct pool_opts o = {0};
	struct cli_mc_spec spec;
	struct umove_pool_stats s;
	struct umove_store *st = NULL;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *full = NULL, opt[40];
	bool done = false;
	uint64_t pages, t0;
	struct stat sb;
	double secs;
	int fd, ret = parse_pool(cmd, pool_put_usage, false, argc, argv, &o,
				 &done);

	if (ret || done)
		return ret;
	fd = open(o.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb)) {
		fprintf(stderr, "%s: %s: %s\n", cmd, o.file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_FAIL;
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0 ||
	    (size_t)sb.st_size % ps) {
		if (!S_ISREG(sb.st_mode))
			fprintf(stderr, "%s: %s: not a regular file\n", cmd,
				o.file);
		else if (sb.st_size == 0)
			fprintf(stderr, "%s: %s: empty\n", cmd, o.file);
		else
			fprintf(stderr,
				"%s: %s: %lld bytes, not a whole number of "
				"%zu-byte pages (pad it first: truncate -s "
				"%%%zu %s)\n",
				cmd, o.file, (long long)sb.st_size, ps, ps,
				o.file);
		goto out;
	}
	pages = (uint64_t)sb.st_size / ps;
	/* The library refuses a bad spec, with why: this reader is lenient. */
	if (cli_mc_spec_parse(o.spec, &spec) || spec.has_pages) {
		full = strdup(o.spec);
	} else {
		snprintf(opt, sizeof(opt), "pages=%" PRIu64, pages);
		full = cli_mc_spec_add(o.spec, opt);
	}
	if (!full) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	ret = open_pool(cmd, full, full, 0, &st);
	if (ret)
		goto out;
	ret = CLI_EXIT_FAIL;
	if (umove_store_pages(st) != pages) {
		fprintf(stderr,
			"%s: the image has %" PRIu64 " pages (pages= of the "
			"spec), %s has %" PRIu64 "\n",
			cmd, umove_store_pages(st), o.file, pages);
		goto out;
	}
	t0 = now_ns();
	if (put_pages(cmd, st, fd, pages, ps, o.quiet))
		goto out;
	secs = secs_since(t0);
	if (pool_stats(st, &s)) {
		fprintf(stderr, "%s: umove_store_memcached_stats failed\n",
			cmd);
		goto out;
	}
	printf("%s: %s -> %s\n", cmd, o.file, full);
	printf("  %" PRIu64 " pages of %zu bytes (%" PRIu64
	       " bytes, %.1f MiB) in %.3f s: %.1f MiB/s\n",
	       pages, ps, pages * ps, mib(pages * ps), secs,
	       mib_per_s(pages * ps, secs));
	printf("  pool: %u servers, %u replicas; %" PRIu64
	       " round trips (%" PRIu64 " sets), %.1f MiB sent, %" PRIu64
	       " write failures; ",
	       s.servers, s.replicas, s.round_trips, s.sets, mib(s.bytes_sent),
	       s.write_failures);
	print_rtt(&s);
	ret = s.write_failures ? CLI_EXIT_FAIL : 0;
out:
	if (st)
		umove_store_close(st);
	free(full);
	close(fd);
	return ret;
}

/* ---- get and check ------------------------------------------------------- */

static const char pool_get_usage[] =
	"usage: umove pool get [--threads N] [--readahead N] [--quiet] SPEC "
	"FILE\n"
	"  maps the image SPEC names (umove_store_memcached(3), read-only)\n"
	"  and writes its pages to FILE (created or truncated)\n"
	"  --threads N    handler threads of the region, 1 to 64 (default 2)\n"
	"  --readahead N  pages fetched after each faulting page, 0 to 1023\n"
	"                 (default 31: 32 pages per fault)\n"
	"  --quiet        no progress on stderr\n";

static const char pool_check_usage[] =
	"usage: umove pool check [--threads N] [--readahead N] [--quiet] "
	"SPEC FILE\n"
	"  maps the image SPEC names (umove_store_memcached(3), read-only)\n"
	"  and compares its pages with FILE: status 0 if they are the same,\n"
	"  1 if any page differs (the first one and the count are printed)\n"
	"  --threads N    handler threads of the region, 1 to 64 (default 2)\n"
	"  --readahead N  pages fetched after each faulting page, 0 to 1023\n"
	"                 (default 31: 32 pages per fault)\n"
	"  --quiet        no progress on stderr\n";

/* The page being read, for the SIGBUS handler. */
static volatile uint64_t bus_page;
static const char *bus_cmd;

static size_t put_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, len = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		buf[len++] = tmp[--n];
	return len;
}

/* A page the store could not deliver: async-signal-safe, then exit 1. */
static void on_bus(int sig)
{
	static const char what[] = ": page ",
			  why[] = " could not be read from the pool (SIGBUS): "
				  "the store failed to fetch it (a server down "
				  "or not answering, no replica to fail over "
				  "to)\n";
	char msg[256];
	size_t len = 0, n = strlen(bus_cmd);

	(void)sig;
	memcpy(msg + len, bus_cmd, n);
	len += n;
	memcpy(msg + len, what, sizeof(what) - 1);
	len += sizeof(what) - 1;
	len += put_u64(msg + len, bus_page);
	if (write(STDERR_FILENO, msg, len) < 0 ||
	    write(STDERR_FILENO, why, sizeof(why) - 1) < 0)
		_exit(CLI_EXIT_FAIL);
	_exit(CLI_EXIT_FAIL);
}

struct reader {
	const char *cmd;
	bool check;
	int fd;
	size_t ps;
	uint64_t pages, file_pages; /* check: FILE's whole pages */
	off_t file_size;
	char *cmp; /* check: POOL_CHUNK pages of FILE */
	uint64_t differ, first_diff;
	struct umove_stats total; /* of all windows */
	unsigned windows;
};

/* Faults the chunk in from user space; the volatile loads stay. */
static void touch(const char *base, size_t n, size_t ps, uint64_t first)
{
	for (size_t i = 0; i < n; i++) {
		bus_page = first + i;
		(void)*(const volatile char *)(base + i * ps);
	}
}

static void note_diff(struct reader *rd, uint64_t page)
{
	if (!rd->differ++)
		rd->first_diff = page;
}

/* Compares n pages of the image at page idx with FILE. */
static int compare(struct reader *rd, const char *mem, uint64_t idx, size_t n)
{
	size_t ps = rd->ps;
	uint64_t have = idx < rd->file_pages ? rd->file_pages - idx : 0;
	size_t m = have < n ? (size_t)have : n;
	int err =
		m ? pread_full(rd->fd, rd->cmp, m * ps, (off_t)(idx * ps)) : 0;

	if (err) {
		fprintf(stderr,
			"%s: reading page %" PRIu64 " of the file: %s\n",
			rd->cmd, idx, strerror(-err));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (i >= m || memcmp(mem + i * ps, rd->cmp + i * ps, ps))
			note_diff(rd, idx + i);
	return 0;
}

static void add_stats(struct umove_stats *t, const struct umove_stats *s)
{
	t->faults_served += s->faults_served;
	t->faults_joined += s->faults_joined;
	t->pages_filled += s->pages_filled;
	t->readahead_pages += s->readahead_pages;
	t->read_errors += s->read_errors;
	t->moves += s->moves;
	t->copies += s->copies;
}

/* One window: map, stream or compare chunk by chunk, unmap. */
static int window(struct reader *rd, struct umove_store *st,
		  const struct umove_region_config *cfg, uint64_t first,
		  size_t n, struct progress *p)
{
	struct umove_region *r;
	struct umove_stats s = {.size = sizeof(s)};
	int err = umove_map(&r, st, first, n * rd->ps, cfg), ret = 0;
	const char *base;

	if (err) {
		fprintf(stderr, "%s: umove_map: %s\n", rd->cmd,
			umove_strerror(err));
		return -1;
	}
	base = umove_region_addr(r);
	for (size_t i = 0; i < n && !ret; i += POOL_CHUNK) {
		size_t k = n - i < POOL_CHUNK ? n - i : POOL_CHUNK;
		const char *mem = base + i * rd->ps;

		touch(mem, k, rd->ps, first + i);
		if (rd->check) {
			ret = compare(rd, mem, first + i, k);
		} else {
			err = write_full(rd->fd, mem, k * rd->ps);
			if (err) {
				progress_end(p);
				fprintf(stderr,
					"%s: writing page %" PRIu64
					" to the file: %s\n",
					rd->cmd, first + i, strerror(-err));
				ret = -1;
			}
		}
		progress(p, (first + i + k) * rd->ps);
	}
	if (!umove_region_stats(r, &s))
		add_stats(&rd->total, &s);
	rd->windows++;
	err = umove_unmap(r);
	if (err && !ret) {
		fprintf(stderr, "%s: umove_unmap: %s\n", rd->cmd,
			umove_strerror(err));
		ret = -1;
	}
	return ret;
}

static int make_config(const char *cmd, const struct pool_opts *o,
		       struct umove_region_config **cfg)
{
	int err = umove_region_config_new(cfg);

	if (!err)
		err = umove_region_config_set_threads(*cfg,
						      (unsigned)o->threads);
	if (!err)
		err = umove_region_config_set_readahead(*cfg,
							(unsigned)o->readahead);
	if (err)
		fprintf(stderr, "%s: region config: %s\n", cmd,
			umove_strerror(err));
	return err;
}

static void report_read(const struct reader *rd, const struct pool_opts *o,
			double secs, const struct umove_pool_stats *s)
{
	uint64_t bytes = rd->pages * rd->ps;

	printf("%s: %s %s %s\n", rd->cmd, o->spec, rd->check ? "vs" : "->",
	       o->file);
	printf("  %" PRIu64 " pages of %zu bytes (%" PRIu64
	       " bytes, %.1f MiB) in %.3f s: %.1f MiB/s\n",
	       rd->pages, rd->ps, bytes, mib(bytes), secs,
	       mib_per_s(bytes, secs));
	printf("  region: %u window%s of up to %u MiB, %lu handler thread%s, "
	       "read-ahead %lu: %" PRIu64 " faults served, %" PRIu64
	       " pages read ahead, %" PRIu64 " store read errors\n",
	       rd->windows, rd->windows == 1 ? "" : "s", POOL_WINDOW >> 20,
	       o->threads, o->threads == 1 ? "" : "s", o->readahead,
	       rd->total.faults_served, rd->total.readahead_pages,
	       rd->total.read_errors);
	printf("  pool: %u servers, %u replicas; %" PRIu64
	       " round trips, %" PRIu64 " mgets of %.1f keys each, %.1f MiB "
	       "received, %" PRIu64 " failovers, %" PRIu64 " misses, %" PRIu64
	       " corrupt, %" PRIu64 " read failures; ",
	       s->servers, s->replicas, s->round_trips, s->mgets,
	       s->mgets ? (double)s->mget_keys / (double)s->mgets : 0.0,
	       mib(s->bytes_received), s->failovers, s->misses, s->corrupt,
	       s->read_failures);
	print_rtt(s);
	if (!rd->check)
		return;
	if (rd->file_size != (off_t)bytes)
		printf("  sizes differ: the image is %" PRIu64
		       " bytes, %s %lld\n",
		       bytes, o->file, (long long)rd->file_size);
	if (rd->differ)
		printf("  differ: %" PRIu64
		       " page%s, the first is page %" PRIu64 " (byte %" PRIu64
		       ")\n",
		       rd->differ, rd->differ == 1 ? "" : "s", rd->first_diff,
		       rd->first_diff * rd->ps);
	else if (rd->file_size == (off_t)bytes)
		printf("  identical: all %" PRIu64 " pages\n", rd->pages);
}

static int open_file(struct reader *rd, const char *file)
{
	struct stat sb;

	rd->fd = rd->check
			 ? open(file, O_RDONLY | O_CLOEXEC)
			 : open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0666);
	if (rd->fd < 0 || (rd->check && fstat(rd->fd, &sb))) {
		fprintf(stderr, "%s: %s: %s\n", rd->cmd, file, strerror(errno));
		return -1;
	}
	if (rd->check) {
		rd->file_size = sb.st_size;
		rd->file_pages = (uint64_t)sb.st_size / rd->ps;
		rd->cmp = alloc_pages(POOL_CHUNK * rd->ps);
		if (!rd->cmp) {
			fprintf(stderr, "%s: out of memory\n", rd->cmd);
			return -1;
		}
	}
	return 0;
}

static int pool_read(const char *cmd, const char *usage, bool check, int argc,
		     char **argv)
{
	struct pool_opts o = {.threads = POOL_THREADS,
			      .readahead = POOL_READAHEAD};
	struct reader rd = {.cmd = cmd, .check = check, .fd = -1};
	struct sigaction sa = {.sa_handler = on_bus}, old_bus;
	struct umove_region_config *cfg = NULL;
	struct umove_store *st = NULL;
	struct umove_pool_stats s;
	struct progress p;
	uint64_t win, t0;
	bool done = false;
	int ret = parse_pool(cmd, usage, true, argc, argv, &o, &done);

	if (ret || done)
		return ret;
	rd.ps = (size_t)sysconf(_SC_PAGESIZE);
	win = POOL_WINDOW / rd.ps;
	ret = open_pool(cmd, o.spec, o.spec, UMOVE_STORE_RDONLY, &st);
	if (ret)
		return ret;
	ret = CLI_EXIT_FAIL;
	rd.pages = umove_store_pages(st);
	if (make_config(cmd, &o, &cfg) || open_file(&rd, o.file))
		goto out;
	bus_cmd = cmd;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	progress_start(&p, cmd, o.quiet, rd.pages * rd.ps);
	t0 = now_ns();
	for (uint64_t first = 0; first < rd.pages; first += win) {
		size_t n = rd.pages - first < win ? (size_t)(rd.pages - first)
						  : (size_t)win;

		if (window(&rd, st, cfg, first, n, &p)) {
			progress_end(&p);
			sigaction(SIGBUS, &old_bus, NULL);
			goto out;
		}
	}
	progress_end(&p);
	sigaction(SIGBUS, &old_bus, NULL);
	if (check && rd.file_size > (off_t)(rd.pages * rd.ps)) {
		/* Pages of FILE past the image's end differ too. */
		uint64_t extra = ((uint64_t)rd.file_size - rd.pages * rd.ps +
				  rd.ps - 1) /
				 rd.ps;

		if (!rd.differ)
			rd.first_diff = rd.pages;
		rd.differ += extra;
	}
	if (!check && close(rd.fd)) {
		rd.fd = -1;
		fprintf(stderr, "%s: %s: %s\n", cmd, o.file, strerror(errno));
		goto out;
	}
	if (!check)
		rd.fd = -1;
	if (pool_stats(st, &s)) {
		fprintf(stderr, "%s: umove_store_memcached_stats failed\n",
			cmd);
		goto out;
	}
	report_read(&rd, &o, secs_since(t0), &s);
	ret = check && (rd.differ || rd.file_size != (off_t)(rd.pages * rd.ps))
		      ? CLI_EXIT_FAIL
		      : 0;
out:
	if (rd.fd >= 0)
		close(rd.fd);
	if (rd.cmp)
		munmap(rd.cmp, POOL_CHUNK * rd.ps);
	umove_region_config_free(cfg);
	umove_store_close(st);
	return ret;
}

int cmd_pool_get(int argc, char **argv)
{
	return pool_read("umove pool get", pool_get_usage, false, argc, argv);
}

int cmd_pool_check(int argc, char **argv)
{
	return pool_read("umove pool check", pool_check_usage, true, argc,
			 argv);
}
