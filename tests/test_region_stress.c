/* SPDX-License-Identifier: MIT */
/*
 * Many threads faulting a large region at once, checked byte for byte, for
 * every combination of store {file, custom} x handler threads {1, 4} x fill
 * {MOVE, COPY} x path {native, emulated}.
 *
 * Sizes (each test is one process; 16 of them, at most two at a time under
 * run-suite.sh's --jobs 2): the file-store combos map 1 GiB, native and
 * emulated (UMOVE_TEST_STRESS_MIB overrides); the custom-store ones 256 MiB
 * native and 64 MiB emulated (an emulated move reads /proc/self/maps on
 * every call). 8 reader threads each
 * touch every page, half of them in sequence (each from a different starting
 * point), half in a random order of their own; each page is compared in full by
 * one thread and one word of it by the seven others, so every byte is checked
 * once and every page is faulted on by up to eight threads at once.
 */
#include "helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SEED 0x5e
#define READERS 8
#define FILE_BYTES ((size_t)1 << 30)
#define NATIVE_BYTES ((size_t)256 << 20)
#define EMULATED_BYTES ((size_t)64 << 20)
#define STRESS_TIMEOUT 240 /* 1 GiB under ASan on 2 busy vCPUs */

TestSuite(region_stress, .timeout = STRESS_TIMEOUT);
#define CHUNK_PAGES 256 /* pages written to the temporary file per call */

enum store_kind { FILE_STORE, CUSTOM_STORE };

struct stress {
	enum store_kind store;
	unsigned threads;
	int fill;
	enum um_path path;
};

ParameterizedTestParameters(region_stress, readers)
{
	static struct stress c[16];
	size_t i = 0;

	for (int s = 0; s < 2; s++)
		for (int t = 0; t < 2; t++)
			for (int f = 0; f < 2; f++)
				for (int p = 0; p < 2; p++)
					c[i++] = (struct stress){
						.store = s ? CUSTOM_STORE
							   : FILE_STORE,
						.threads = t ? 4 : 1,
						.fill = f ? UMOVE_FILL_COPY
							  : UMOVE_FILL_MOVE,
						.path = p ? EMULATED : NATIVE,
					};
	return cr_make_param_array(struct stress, c, i);
}

/* --- the custom store: an array in memory ------------------------------ */

struct arr {
	char *data;
	size_t pages;
	atomic_uint bad_calls;
};

static int arr_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct arr *a = priv;

	if (!count || index >= a->pages || count > a->pages - index ||
	    ((uintptr_t)buf & (PG - 1))) {
		atomic_fetch_add(&a->bad_calls, 1);
		return -EINVAL;
	}
	memcpy(buf, a->data + index * PG, count * PG);
	return 0;
}

static int arr_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct arr *a = priv;

	if (!count || index >= a->pages || count > a->pages - index) {
		atomic_fetch_add(&a->bad_calls, 1);
		return -EINVAL;
	}
	memcpy(a->data + index * PG, buf, count * PG);
	return 0;
}

static const struct umove_store_ops arr_ops = {.read = arr_read,
					       .write = arr_write};

/* --- the file store: a temporary file, unlinked once the store has it -- */

/*
 * UMOVE_TEST_STRESS_MIB shrinks the file-store combos where 1 GiB cannot
 * fit: the QEMU guest has 2 GiB of RAM and its /tmp is a tmpfs.
 */
static size_t file_bytes(void)
{
	const char *env = getenv("UMOVE_TEST_STRESS_MIB");
	unsigned long mib = env ? strtoul(env, NULL, 10) : 0;

	return mib ? (size_t)mib << 20 : FILE_BYTES;
}

static struct umove_store *file_store(size_t pages)
{
	char name[] = "/tmp/umove-stress-XXXXXX";
	struct umove_store *st = NULL;
	char *buf = aligned_alloc(PG, CHUNK_PAGES * PG);
	int fd, ret;

	cr_assert_not_null(buf);
	hold(buf);
	fd = mkstemp(name);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	for (size_t i = 0; i < pages; i += CHUNK_PAGES) {
		size_t n = pages - i < CHUNK_PAGES ? pages - i : CHUNK_PAGES;

		for (size_t k = 0; k < n; k++)
			fill_page(buf + k * PG, SEED, i + k);
		if (pwrite(fd, buf, n * PG, (off_t)(i * PG)) !=
		    (ssize_t)(n * PG)) {
			unlink(name);
			cr_assert_fail("writing %s: %s", name, strerror(errno));
		}
	}
	drop(buf);
	free(buf);
	close(fd);
	ret = umove_store_file(&st, name, UMOVE_STORE_RDONLY);
	/* The store holds the file open: nothing is left behind. */
	cr_assert_eq(unlink(name), 0);
	expect_ret(ret, 0);
	hold(st);
	cr_assert_eq(umove_store_pages(st), pages);
	return st;
}

/* --- readers ------------------------------------------------------------ */

struct reader {
	pthread_t tid;
	unsigned id;
	const char *base;
	size_t pages;
	pthread_barrier_t *start;
	uint32_t *order; /* NULL: sequential */
	size_t bad, first_bad;
	size_t full_checks;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void shuffle(uint32_t *v, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(xorshift(&seed) % (i + 1));
		uint32_t t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Full comparison by one reader, one word by the others. */
static bool check_page(struct reader *rd, size_t p)
{
	const uint64_t *w = (const uint64_t *)(rd->base + p * PG);
	size_t word = (p * 61 + rd->id * 7) % (PG / 8);

	if (p % READERS == rd->id) {
		rd->full_checks++;
		return page_matches(w, SEED, p);
	}
	return w[word] == pattern_word(SEED, p, word);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	size_t start = rd->id / 2 * (rd->pages / (READERS / 2));

	pthread_barrier_wait(rd->start);
	for (size_t i = 0; i < rd->pages; i++) {
		size_t p = rd->order ? rd->order[i] : (start + i) % rd->pages;

		if (!check_page(rd, p) && !rd->bad++)
			rd->first_bad = p;
	}
	return NULL;
}

static const char *combo_name(const struct stress *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s store, %u handler%s, %s, %s",
		 c->store == FILE_STORE ? "file" : "custom", c->threads,
		 c->threads > 1 ? "s" : "",
		 c->fill == UMOVE_FILL_MOVE ? "MOVE" : "COPY",
		 c->path == NATIVE ? "native" : "emulated");
	return buf;
}

static unsigned probe_caps(void)
{
	struct umove *um = open_default();
	unsigned caps = umove_caps(um);

	close_um(um);
	return caps;
}

ParameterizedTest(struct stress *c, region_stress, readers)
{
	size_t len = c->store == FILE_STORE ? file_bytes()
		     : c->path == NATIVE    ? NATIVE_BYTES
					    : EMULATED_BYTES;
	size_t pages = len / PG;
	struct umove_region_config *cfg = NULL;
	struct umove_region *r = NULL;
	struct umove_store *st;
	struct reader rd[READERS];
	pthread_barrier_t start;
	struct umove_stats s;
	struct arr a = {0};
	size_t full = 0;
	char name[96];
	const char *env = getenv("UMOVE_EMULATE");

	combo_name(c, name, sizeof(name));
	path_label = name;
	if (c->path == NATIVE && !(probe_caps() & UMOVE_CAP_NATIVE_MOVE))
		cr_skip_test("kernel lacks UFFDIO_MOVE (Linux < 6.8)");
	if (c->path == NATIVE && env && *env && strcmp(env, "0") != 0)
		cr_skip_test("UMOVE_EMULATE set in the environment");

	if (c->store == FILE_STORE) {
		st = file_store(pages);
	} else {
		a.pages = pages;
		a.data = mmap(NULL, len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(a.data, MAP_FAILED);
		fill_pages(a.data, pages, SEED);
		expect_ret(umove_store_open(&st, &arr_ops, sizeof(arr_ops), &a,
					    pages),
			   0);
		hold(st);
	}
	expect_ret(umove_region_config_new(&cfg), 0);
	hold(cfg);
	expect_ret(umove_region_config_set_threads(cfg, c->threads), 0);
	expect_ret(umove_region_config_set_fill(cfg, c->fill), 0);
	expect_ret(umove_region_config_set_flags(
			   cfg, c->path == EMULATED ? UMOVE_EMULATE : 0),
		   0);
	expect_ret(umove_map(&r, st, 0, len, cfg), 0);
	hold(r);
	drop(cfg);
	umove_region_config_free(cfg);

	pthread_barrier_init(&start, NULL, READERS);
	for (unsigned i = 0; i < READERS; i++) {
		rd[i] = (struct reader){.id = i,
					.base = umove_region_addr(r),
					.pages = pages,
					.start = &start};
		if (i % 2) {
			rd[i].order = malloc(pages * sizeof(*rd[i].order));
			cr_assert_not_null(rd[i].order);
			hold(rd[i].order);
			shuffle(rd[i].order, pages, 0x9e3779b9u * (i + 1));
		}
		cr_assert_eq(
			pthread_create(&rd[i].tid, NULL, reader_main, &rd[i]),
			0);
	}
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(rd[i].tid, NULL);
	pthread_barrier_destroy(&start);

	for (unsigned i = 0; i < READERS; i++) {
		drop(rd[i].order);
		free(rd[i].order);
		full += rd[i].full_checks;
		cr_assert_eq(rd[i].bad, 0,
			     "[%s] reader %u (%s): %zu pages with wrong "
			     "bytes, first page %zu",
			     name, i, rd[i].order ? "random" : "sequential",
			     rd[i].bad, rd[i].first_bad);
	}
	cr_assert_eq(full, pages, "every page compared in full once");

	s = settled_stats(r, pages);
	cr_assert_eq(s.pages_filled, pages, "[%s] pages_filled %llu of %zu",
		     name, (unsigned long long)s.pages_filled, pages);
	cr_assert_eq(s.bytes_read, len,
		     "[%s] bytes_read %llu: pages read "
		     "more than once",
		     name, (unsigned long long)s.bytes_read);
	cr_assert_eq(s.races_lost, 0, "[%s] races_lost %llu", name,
		     (unsigned long long)s.races_lost);
	cr_assert_eq(s.read_errors, 0);
	cr_assert_eq(s.pages_poisoned, 0);
	cr_assert_geq(s.faults_served, pages / 16);
	cr_assert_leq(s.faults_served, pages);
	cr_assert_eq(s.faults_served + s.readahead_pages, pages);
	if (c->fill == UMOVE_FILL_MOVE) {
		cr_assert_gt(s.moves, 0, "[%s] no moves", name);
		/*
		 * A page whose move is refused is copied instead. That can
		 * happen to an O_DIRECT staging page the block layer still
		 * pins after the read returned (it releases read pages from
		 * a work queue); a custom store's page is never pinned.
		 */
		if (c->store == CUSTOM_STORE)
			cr_assert_eq(s.copies, 0, "[%s] copies with FILL_MOVE",
				     name);
	} else {
		cr_assert_gt(s.copies, 0, "[%s] no copies", name);
		cr_assert_eq(s.moves, 0, "[%s] moves with FILL_COPY", name);
	}

	expect_ret(umove_unmap(r), 0);
	drop(r);
	expect_ret(umove_store_close(st), 0);
	drop(st);
	if (c->store == CUSTOM_STORE) {
		/* The unmap wrote every page back: still the same bytes. */
		for (size_t p = 0; p < pages; p += 97)
			expect_page(a.data + p * PG, SEED, p,
				    "custom store after unmap");
		cr_assert_eq(atomic_load(&a.bad_calls), 0,
			     "store called out of bounds or unaligned");
		munmap(a.data, len);
	}
}
