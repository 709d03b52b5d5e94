/* SPDX-License-Identifier: MIT */
/*
 * `umove bench pool`: page reads from a pool of memcached servers
 * (umove_store_memcached), in pages per second and fault latency, with
 * read-ahead batches of 1, 8 and 32 pages per fault and MOVE against COPY
 * fill, against two references: the floor, a plain libmemcached loop that
 * gets the same keys into a buffer (no faults, no region), and the file
 * store, a region on umove_store_file() of a file holding the same image
 * in a warm page cache.
 *
 * The pool is 3 memcached servers the command starts on 127.0.0.1 (free
 * ports, -M so that a full server refuses writes instead of evicting,
 * PR_SET_PDEATHSIG so that they die with the command) and kills at the
 * end, also on errors and on SIGINT, SIGTERM and SIGHUP; or, with --spec,
 * a pool of the user's, in which the image goes under a region of its own
 * (bench-PID unless the spec names one) and is deleted at the end.
 *
 * The image: --size MiB of pages whose every 8-byte word is a function of
 * its place (pseudo-random, so that no page compresses), written with
 * umove_store_write(), then read through a store opened read-only. One
 * thread reads the first word of pages in two orders: every page from
 * page 0 (sequential), and half as many uniform random picks with a fixed
 * seed; each read is checked against the pattern, and a mismatch stops
 * the command with status 1. Each run maps a fresh region per variant (2
 * handler threads, no resident limit), so that every first touch faults;
 * only the reads are timed, each on its own: with F faults served, the F
 * slowest reads are the faults, and their p50/p99 is the fault latency
 * the thread saw (bench_common.c).
 *
 * The floor is the only place the CLI calls libmemcached itself: one
 * memcached_st holding every server, in the order the store adds them
 * (sorted by host, then port), with the binary protocol and the ketama
 * distribution the store places keys with, so that each key goes to the
 * server that holds it; keys are the store's ("NAMESPACE:REGION:INDEX",
 * INDEX in lowercase hex). Batch 1 is memcached_get() per access, batches
 * of 8 and 32 a memcached_mget() of the next 8 or 32 accesses' keys and
 * memcached_fetch_result() of them all. Every value must be one raw page
 * (flags >> 28 == 1: the pattern never compresses) whose first word is
 * the pattern's; a key the floor does not find means its placement
 * differs from the store's, and stops the command.
 *
 * A signal from an unfilled page and 30 seconds without progress (a fault
 * never served, a server that hangs) also stop the command with status 1.
 * As in the other benchmarks, the variants take turns run by run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libmemcached/memcached.h>
#include <math.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umove.h>

#include "bench_common.h"
#include "cli.h"

#define PB_MIB 256 /* default image size */
#define PB_RUNS 5
#define PB_MAX_MIB 8192
#define PB_MAX_RUNS 1000
#define PB_SERVERS 3
#define PB_THREADS 2 /* handler threads of every region */
#define PB_STALL_S 30
#define PB_SEED 0x706f6f6cull /* "pool": pattern and order */
#define PB_WRITE_BATCH 64     /* pages per umove_store_write() */
#define PB_MAX_BATCH 32	      /* the floor's largest mget */
#define PB_KEY_MAX 160
#define PB_CHUNK ((size_t)1 << 20) /* the file is written 1 MiB at a time */
#define PB_TIMEOUT_MS 500	   /* the floor's, as the store's default */
#define PB_READY_MS 3000	   /* a server must accept by then */
#define MEMCACHED "/usr/bin/memcached"

enum pb_kind { K_FLOOR, K_FILE, K_POOL };

enum pb_variant {
	V_FLOOR1,
	V_FLOOR8,
	V_FLOOR32,
	V_FILE0,
	V_FILE7,
	V_FILE31,
	V_MOVE0,
	V_COPY0,
	V_MOVE7,
	V_COPY7,
	V_MOVE31,
	V_COPY31,
	PB_VARIANTS
};

enum pb_order { O_SEQ, O_RANDOM, PB_ORDERS };

struct pb_def {
	const char *key, *title;
	enum pb_kind kind;
	int fill;
	unsigned readahead; /* floor: batch - 1 */
};

static const struct pb_def defs[PB_VARIANTS] = {
	{"floor_get_b1", "floor: get, batch 1", K_FLOOR, 0, 0},
	{"floor_mget_b8", "floor: mget, batch 8", K_FLOOR, 0, 7},
	{"floor_mget_b32", "floor: mget, batch 32", K_FLOOR, 0, 31},
	{"file_copy_ra0", "file store COPY, ra 0", K_FILE, UMOVE_FILL_COPY, 0},
	{"file_copy_ra7", "file store COPY, ra 7", K_FILE, UMOVE_FILL_COPY, 7},
	{"file_copy_ra31", "file store COPY, ra 31", K_FILE, UMOVE_FILL_COPY,
	 31},
	{"pool_move_ra0", "pool MOVE, ra 0", K_POOL, UMOVE_FILL_MOVE, 0},
	{"pool_copy_ra0", "pool COPY, ra 0", K_POOL, UMOVE_FILL_COPY, 0},
	{"pool_move_ra7", "pool MOVE, ra 7", K_POOL, UMOVE_FILL_MOVE, 7},
	{"pool_copy_ra7", "pool COPY, ra 7", K_POOL, UMOVE_FILL_COPY, 7},
	{"pool_move_ra31", "pool MOVE, ra 31", K_POOL, UMOVE_FILL_MOVE, 31},
	{"pool_copy_ra31", "pool COPY, ra 31", K_POOL, UMOVE_FILL_COPY, 31},
};

static const char *const order_keys[PB_ORDERS] = {"sequential", "random"};

/* What each run records, per variant and order. */
enum {
	S_RATE,	    /* accesses per second */
	S_P50,	    /* ns: fault latency (floor: one request's) */
	S_P99,	    /* ns */
	S_FAULTS,   /* faults served */
	S_RT,	    /* pool round trips per fault */
	S_KEYS,	    /* keys per multi-get */
	S_MIB,	    /* MiB received from the pool */
	S_FAILOVER, /* pages read from a later copy */
	S_COLS
};

struct pb_cell {
	struct bench_stat rate; /* pages per second; note when not measured */
	double med[S_COLS];	/* medians over the runs; NAN: not measured */
	double vs_floor;	/* rate median / the floor's, same batch */
};

struct pb_result {
	unsigned runs, servers, replicas;
	size_t size_mib, pages, page_size, accesses[PB_ORDERS];
	bool own_servers;
	int native_move; /* 1, 0, or -1 when no umove handle could be opened */
	char spec[1024]; /* the pool's spec, with pages= */
	char image[2 * CLI_MC_NAME_MAX + 2]; /* NAMESPACE:REGION */
	bool deleted;			     /* --spec: the image is gone */
	char file_dir[256];
	struct pb_cell cell[PB_VARIANTS][PB_ORDERS];
};

struct pb_ctx {
	size_t ps, words, npages, len, nacc[PB_ORDERS];
	uint32_t *seq[PB_ORDERS]; /* page of each access */
	uint32_t *lat;		  /* ns of each access or request */
	char *spec;		  /* the pool's, with pages= (and region=) */
	struct cli_mc_spec mc;	  /* where its keys are */
	bool cleanup;		  /* delete the image at the end (--spec) */
	bool user_pool;		  /* --spec */
	bool own_region_given;	  /* --spec names the region */
	unsigned replicas;	  /* the image's, once written */
	struct umove_store *pool, *file;
	struct umove_region_config *cfg[PB_VARIANTS];
	memcached_st *floor;
	char *buf; /* the floor's values land here: PB_MAX_BATCH pages */
	int fd;	   /* the file, unlinked */
	char path[64];
	bool skip[PB_VARIANTS];
	bool status;	 /* a status line on stderr (a terminal) */
	double *samples; /* [variant][order][run][S_COLS] */
};

/* ---- the servers, and what must go when the command ends ----------------- */

static struct {
	unsigned n;
	pid_t pid[PB_SERVERS];
	unsigned port[PB_SERVERS];
} srv;

/* Async-signal-safe: kill and reap every server started. */
static void servers_kill(void)
{
	int saved = errno;

	for (unsigned i = 0; i < srv.n; i++) {
		if (srv.pid[i] <= 0)
			continue;
		kill(srv.pid[i], SIGKILL);
		while (waitpid(srv.pid[i], NULL, 0) < 0 && errno == EINTR)
			;
		srv.pid[i] = 0;
	}
	errno = saved;
}

static struct sockaddr_in loopback(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A port on 127.0.0.1 where nothing listens now; 0 if none is found. */
static unsigned free_port(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unsigned port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool accepts(unsigned port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * The child: as root, it becomes nobody itself rather than through
 * memcached's -u, since a change of credentials clears PR_SET_PDEATHSIG
 * (prctl(2)): the death signal is set after it, and survives the exec.
 */
static void exec_server(unsigned port, unsigned mem_mib, pid_t parent,
			const struct passwd *nobody)
{
	char p[16], m[16];
	const char *argv[16];
	int n = 0;

	if (nobody && (setgroups(0, NULL) || setgid(nobody->pw_gid) ||
		       setuid(nobody->pw_uid)))
		_exit(126);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* the command died before prctl */
		_exit(127);
	snprintf(p, sizeof(p), "%u", port);
	snprintf(m, sizeof(m), "%u", mem_mib);
	argv[n++] = MEMCACHED;
	argv[n++] = "-l";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = p;
	argv[n++] = "-U";
	argv[n++] = "0";
	argv[n++] = "-M";
	argv[n++] = "-m";
	argv[n++] = m;
	argv[n++] = "-t";
	argv[n++] = "2";
	argv[n] = NULL;
	execv(MEMCACHED, (char *const *)argv);
	_exit(127);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Server i on a free port; a port taken meanwhile is tried again. */
static int start_server(unsigned i, unsigned mem_mib,
			const struct passwd *nobody)
{
	pid_t parent = getpid();
	int status = 0;

	for (int attempt = 0; attempt < 5; attempt++) {
		srv.port[i] = free_port();
		if (!srv.port[i])
			break;
		srv.pid[i] = fork();
		if (srv.pid[i] < 0) {
			srv.pid[i] = 0;
			break;
		}
		if (srv.pid[i] == 0)
			exec_server(srv.port[i], mem_mib, parent, nobody);
		for (unsigned ms = 0; ms < PB_READY_MS; ms += 5) {
			if (accepts(srv.port[i]))
				return 0;
			if (waitpid(srv.pid[i], &status, WNOHANG) ==
			    srv.pid[i]) {
				srv.pid[i] = 0; /* exited: port taken? */
				break;
			}
			sleep_ms(5);
		}
		if (srv.pid[i]) {
			kill(srv.pid[i], SIGKILL);
			waitpid(srv.pid[i], NULL, 0);
			srv.pid[i] = 0;
		}
	}
	fprintf(stderr,
		"umove bench pool: memcached did not start on 127.0.0.1:%u",
		srv.port[i]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
		fprintf(stderr, " (cannot become user nobody)");
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		fprintf(stderr, " (exit status %d)", WEXITSTATUS(status));
	fputc('\n', stderr);
	return -1;
}

/* Room for a third of the image and then some: -m only caps, it does not
 * allocate. */
static int start_servers(size_t size_mib)
{
	unsigned mem = (unsigned)(size_mib * 2 / 3 + 64);
	const struct passwd *nobody = NULL;

	/* memcached refuses to run as root: as root, the servers run as
	 * nobody (looked up here: the child only calls async-signal-safe
	 * functions before exec). */
	if (geteuid() == 0) {
		nobody = getpwnam("nobody");
		if (!nobody) {
			fprintf(stderr, "umove bench pool: no user nobody to "
					"run memcached as\n");
			return -1;
		}
	}
	srv.n = PB_SERVERS;
	for (unsigned i = 0; i < PB_SERVERS; i++)
		if (start_server(i, mem, nobody))
			return -1;
	return 0;
}

/* ---- the image ----------------------------------------------------------- */

static uint64_t mix64(uint64_t z) /* splitmix64's finalizer */
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t next_rand(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Word w of page i of the image: never 0, so that a zero page shows. */
static uint64_t pattern(const struct pb_ctx *c, size_t i, size_t w)
{
	return mix64(PB_SEED + i * c->words + w) | 1;
}

static void fill_page(const struct pb_ctx *c, size_t i, uint64_t *page)
{
	for (size_t w = 0; w < c->words; w++)
		page[w] = pattern(c, i, w);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * What the watchdog watches: step changes at every stage, pos at every
 * access (or page written); active is the variant running (PB_VARIANTS:
 * writing the image), -1 when nothing runs.
 */
static struct {
	atomic_uint step;
	atomic_size_t pos;
	atomic_int active, order;
} watch = {0, 0, -1, -1};

static void watch_cell(int v, int o)
{
	atomic_store(&watch.active, v);
	atomic_store(&watch.order, o);
	atomic_store(&watch.pos, 0);
	atomic_fetch_add(&watch.step, 1);
}

/* A status line on a terminal: what runs now. */
static void status(const struct pb_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void status(const struct pb_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->status)
		return;
	fputs("\r\033[Kumove bench pool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void status_end(const struct pb_ctx *c)
{
	if (c->status)
		fputs("\r\033[K", stderr);
}

static int pool_stats(const struct umove_store *st, struct umove_pool_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return umove_store_memcached_stats(st, s);
}

static int store_error(const char *what, int err, const char *why)
{
	fprintf(stderr, "umove bench pool: %s: %s\n", what,
		why && why[0] ? why : umove_strerror(err));
	return err == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

/* The image into the pool, through a store of its own, then closed. */
static int write_pool(struct pb_ctx *c)
{
	struct umove_pool_stats s;
	struct umove_store *st;
	char why[512];
	uint64_t *buf;
	int err = umove_store_memcached(&st, c->spec, 0, why, sizeof(why));

	if (err)
		return store_error(c->spec, err, why);
	/* A region of the benchmark's own in a user's pool: deleted at the
	 * end. One the user named is left as it is. */
	c->cleanup = !c->own_region_given && c->user_pool;
	if (!pool_stats(st, &s))
		c->replicas = s.replicas;
	buf = aligned_alloc(c->ps,
			    PB_WRITE_BATCH * c->ps); /* the store's rule */
	if (!buf) {
		umove_store_close(st);
		fprintf(stderr, "umove bench pool: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	watch_cell(PB_VARIANTS, -1);
	for (size_t i = 0; i < c->npages && !err; i += PB_WRITE_BATCH) {
		size_t n = c->npages - i < PB_WRITE_BATCH ? c->npages - i
							  : PB_WRITE_BATCH;

		for (size_t k = 0; k < n; k++)
			fill_page(c, i + k, buf + k * c->words);
		err = umove_store_write(st, i, n, buf);
		if (err)
			fprintf(stderr,
				"umove bench pool: writing the image, pages "
				"%zu to %zu: %s\n",
				i, i + n - 1, umove_strerror(err));
		atomic_store(&watch.pos, i);
		if (!(i % (64 * PB_WRITE_BATCH)))
			status(c, "writing the image to the pool: %zu%%",
			       i * 100 / c->npages);
	}
	watch_cell(-1, -1);
	free(buf);
	umove_store_close(st);
	return err ? CLI_EXIT_FAIL : 0;
}

/*
 * The same image in a file under $TMPDIR or /var/tmp, unlinked at once
 * (reached through /proc/self/fd), then read once: the page cache is warm.
 */
static int write_file(struct pb_ctx *c, struct pb_result *r)
{
	const char *dir = getenv("TMPDIR");
	char name[300];
	uint64_t *buf = malloc(PB_CHUNK);
	int err = 0;

	if (!dir || !*dir)
		dir = "/var/tmp";
	snprintf(r->file_dir, sizeof(r->file_dir), "%s", dir);
	snprintf(name, sizeof(name), "%s/umove-bench-pool-XXXXXX", dir);
	c->fd = buf ? mkostemp(name, O_CLOEXEC) : -1;
	if (c->fd < 0) {
		fprintf(stderr, "umove bench pool: cannot create %s: %s\n",
			name, buf ? strerror(errno) : "out of memory");
		free(buf);
		return -1;
	}
	unlink(name);
	snprintf(c->path, sizeof(c->path), "/proc/self/fd/%d", c->fd);
	status(c, "writing the image to a file in %s", dir);
	for (size_t off = 0; off < c->len && !err; off += PB_CHUNK) {
		size_t n = c->len - off < PB_CHUNK ? c->len - off : PB_CHUNK;

		for (size_t p = 0; p < n / c->ps; p++)
			fill_page(c, off / c->ps + p, buf + p * c->words);
		if (pwrite(c->fd, buf, n, (off_t)off) != (ssize_t)n)
			err = errno ? -errno : -EIO;
	}
	/* Written pages can sit in larger folios than read ones: out of the
	 * cache, then read once, as a file a program has read. */
	if (!err && fsync(c->fd))
		err = -errno;
	if (!err)
		err = -posix_fadvise(c->fd, 0, 0, POSIX_FADV_DONTNEED);
	for (size_t off = 0; off < c->len && !err; off += PB_CHUNK) {
		size_t n = c->len - off < PB_CHUNK ? c->len - off : PB_CHUNK;

		if (pread(c->fd, buf, n, (off_t)off) != (ssize_t)n)
			err = errno ? -errno : -EIO;
	}
	free(buf);
	if (err)
		fprintf(stderr,
			"umove bench pool: cannot write the %zu MiB file in "
			"%s: %s\n",
			c->len >> 20, dir, strerror(-err));
	return err ? -1 : 0;
}

static int make_orders(struct pb_ctx *c)
{
	uint64_t s = PB_SEED ^ 0x5eedull;

	c->nacc[O_SEQ] = c->npages;
	c->nacc[O_RANDOM] = c->npages / 2 ? c->npages / 2 : 1;
	for (int o = 0; o < PB_ORDERS; o++) {
		c->seq[o] = malloc(c->nacc[o] * sizeof(uint32_t));
		if (!c->seq[o])
			return -1;
	}
	for (size_t k = 0; k < c->nacc[O_SEQ]; k++)
		c->seq[O_SEQ][k] = (uint32_t)k;
	for (size_t k = 0; k < c->nacc[O_RANDOM]; k++)
		c->seq[O_RANDOM][k] = (uint32_t)(((next_rand(&s) >> 32) *
						  (uint64_t)c->npages) >>
						 32);
	c->lat = malloc(c->nacc[O_SEQ] * sizeof(uint32_t));
	return c->lat ? 0 : -1;
}

/* ---- the floor: libmemcached, no faults ---------------------------------- */

static size_t page_key(const struct pb_ctx *c, size_t i, char *key)
{
	return (size_t)snprintf(key, PB_KEY_MAX, "%s:%s:%zx", c->mc.ns,
				c->mc.region, i);
}

/* The page a key names: its hex digits after the last ':'. */
static bool key_page(const char *key, size_t klen, size_t *page)
{
	const char *colon = memrchr(key, ':', klen);
	size_t i = 0;

	if (!colon || colon + 1 == key + klen)
		return false;
	for (const char *p = colon + 1; p < key + klen; p++) {
		int d = *p >= '0' && *p <= '9'	 ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
						 : -1;

		if (d < 0)
			return false;
		i = i << 4 | (size_t)d;
	}
	*page = i;
	return true;
}

static memcached_st *floor_handle(const struct cli_mc_spec *mc)
{
	memcached_st *m = memcached_create(NULL);

	if (!m)
		return NULL;
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION,
			       MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
			       PB_TIMEOUT_MS);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
			       PB_TIMEOUT_MS);
	/* The store's order: the same continuum, the same server per key. */
	for (unsigned s = 0; s < mc->nservers; s++)
		if (memcached_server_add(m, mc->server[s].host,
					 (in_port_t)mc->server[s].port) !=
		    MEMCACHED_SUCCESS) {
			memcached_free(m);
			return NULL;
		}
	return m;
}

/* A value the floor got for page i: one raw page holding the pattern. */
static int floor_check(const struct pb_ctx *c, size_t i, const char *v,
		       size_t len, uint32_t flags)
{
	uint64_t first;

	if (len != c->ps || flags >> 28 != 1) {
		fprintf(stderr,
			"umove bench pool: floor: page %zu's value is %zu "
			"bytes with format %u, not one raw page (%zu bytes, "
			"format 1)\n",
			i, len, flags >> 28, c->ps);
		return -1;
	}
	memcpy(&first, v, sizeof(first));
	if (first != pattern(c, i, 0)) {
		fprintf(stderr,
			"umove bench pool: floor: page %zu starts with "
			"0x%016" PRIx64 ", the image with 0x%016" PRIx64 "\n",
			i, first, pattern(c, i, 0));
		return -1;
	}
	return 0;
}

static void floor_failed(const struct pb_ctx *c, size_t i, const char *what,
			 memcached_return_t rc)
{
	fprintf(stderr, "umove bench pool: floor: %s page %zu: %s%s\n", what, i,
		memcached_strerror(c->floor, rc),
		rc == MEMCACHED_NOTFOUND
			? " (not on the server the floor asked: its placement "
			  "differs from the store's, or the server lost it)"
			: "");
}

static int floor_get(struct pb_ctx *c, size_t i, uint64_t *bytes)
{
	char key[PB_KEY_MAX];
	size_t klen = page_key(c, i, key), len = 0;
	uint32_t flags = 0;
	memcached_return_t rc;
	char *v = memcached_get(c->floor, key, klen, &len, &flags, &rc);
	int err = 0;

	if (!v || rc != MEMCACHED_SUCCESS) {
		floor_failed(c, i, "get of", rc);
		err = -1;
	} else if (floor_check(c, i, v, len, flags)) {
		err = -1;
	} else {
		memcpy(c->buf, v, c->ps);
		*bytes += 24 + klen + len; /* counted as the store does */
	}
	free(v);
	return err;
}

/* The m pages of seq in one multi-get. */
static int floor_mget(struct pb_ctx *c, const uint32_t *seq, size_t m,
		      memcached_result_st *res, uint64_t *bytes)
{
	char keys[PB_MAX_BATCH][PB_KEY_MAX];
	const char *kp[PB_MAX_BATCH];
	size_t lens[PB_MAX_BATCH], got = 0;
	memcached_return_t rc;

	for (size_t k = 0; k < m; k++) {
		lens[k] = page_key(c, seq[k], keys[k]);
		kp[k] = keys[k];
	}
	rc = memcached_mget(c->floor, kp, lens, m);
	if (rc != MEMCACHED_SUCCESS) {
		floor_failed(c, seq[0], "mget from", rc);
		return -1;
	}
	while (memcached_fetch_result(c->floor, res, &rc)) {
		const char *key = memcached_result_key_value(res);
		size_t klen = memcached_result_key_length(res), i;
		size_t len = memcached_result_length(res);

		if (!key_page(key, klen, &i) ||
		    floor_check(c, i, memcached_result_value(res), len,
				memcached_result_flags(res)))
			return -1;
		memcpy(c->buf + (got % PB_MAX_BATCH) * c->ps,
		       memcached_result_value(res), c->ps);
		*bytes += 24 + klen + len;
		got++;
	}
	if (rc != MEMCACHED_END || got != m) {
		if (rc == MEMCACHED_END)
			rc = MEMCACHED_NOTFOUND;
		floor_failed(c, seq[0], "mget from", rc);
		return -1;
	}
	return 0;
}

/* One run of the floor: requests timed on their own. */
static int run_floor(struct pb_ctx *c, int v, int o, double *out)
{
	size_t batch = 1 + defs[v].readahead, n = c->nacc[o], reqs = 0;
	const uint32_t *seq = c->seq[o];
	memcached_result_st res;
	uint64_t bytes = 0, t0, t;
	int err = 0;

	if (!memcached_result_create(c->floor, &res)) {
		fprintf(stderr, "umove bench pool: out of memory\n");
		return -1;
	}
	t0 = t = now_ns();
	for (size_t k = 0; k < n && !err; k += batch) {
		size_t m = n - k < batch ? n - k : batch;
		uint64_t now;

		err = batch == 1 ? floor_get(c, seq[k], &bytes)
				 : floor_mget(c, seq + k, m, &res, &bytes);
		atomic_store_explicit(&watch.pos, k, memory_order_relaxed);
		now = now_ns();
		c->lat[reqs++] =
			now - t > UINT32_MAX ? UINT32_MAX : (uint32_t)(now - t);
		t = now;
	}
	memcached_result_free(&res);
	if (err)
		return -1;
	out[S_RATE] = (double)n / ((double)(t - t0) / 1e9);
	cli_fault_quantiles(c->lat, reqs, reqs, &out[S_P50], &out[S_P99]);
	out[S_FAULTS] = 0;
	out[S_RT] = NAN;
	out[S_KEYS] = batch > 1 ? (double)n / (double)reqs : NAN;
	out[S_MIB] = (double)bytes / 1048576.0;
	out[S_FAILOVER] = NAN;
	return 0;
}

/* ---- regions on the pool and on the file --------------------------------- */

/* The timed reads: each checks its page's first word and takes its time. */
static int access_loop(struct pb_ctx *c, const unsigned char *base, int v,
		       int o, unsigned run, double *secs)
{
	const uint32_t *seq = c->seq[o];
	uint64_t t0 = now_ns(), t = t0;

	for (size_t k = 0; k < c->nacc[o]; k++) {
		size_t i = seq[k];
		uint64_t got = *(const volatile uint64_t *)(base + i * c->ps),
			 now;

		if (got != pattern(c, i, 0)) {
			fprintf(stderr,
				"umove bench pool: %s, %s order, run %u: "
				"access %zu read 0x%016" PRIx64
				" in page %zu, the image holds 0x%016" PRIx64
				": a fill delivered wrong data\n",
				defs[v].title, order_keys[o], run + 1, k + 1,
				got, i, pattern(c, i, 0));
			return -1;
		}
		atomic_store_explicit(&watch.pos, k, memory_order_relaxed);
		now = now_ns();
		c->lat[k] =
			now - t > UINT32_MAX ? UINT32_MAX : (uint32_t)(now - t);
		t = now;
	}
	*secs = (double)(t - t0) / 1e9;
	return 0;
}

static int run_region(struct pb_ctx *c, int v, int o, unsigned run, double *out)
{
	bool pool = defs[v].kind == K_POOL;
	struct umove_store *st = pool ? c->pool : c->file;
	struct umove_stats rs = {.size = sizeof(rs)};
	struct umove_pool_stats s0, s1;
	struct umove_region *r;
	double secs;
	int err = umove_map(&r, st, 0, c->len, c->cfg[v]), ret;

	if (err) {
		fprintf(stderr, "umove bench pool: %s: umove_map: %s\n",
			defs[v].title, umove_strerror(err));
		return -1;
	}
	if (pool && pool_stats(st, &s0))
		pool = false;
	ret = access_loop(c, umove_region_addr(r), v, o, run, &secs);
	atomic_fetch_add(&watch.step, 1); /* unmapping may hang too */
	if (!ret) {
		err = umove_region_stats(r, &rs);
		if (err)
			fprintf(stderr,
				"umove bench pool: %s: umove_region_stats: "
				"%s\n",
				defs[v].title, umove_strerror(err));
		ret = err ? -1 : 0;
	}
	if (!ret && pool && pool_stats(st, &s1))
		pool = false;
	err = umove_unmap(r);
	if (err && !ret) {
		fprintf(stderr, "umove bench pool: %s: umove_unmap: %s\n",
			defs[v].title, umove_strerror(err));
		ret = -1;
	}
	if (ret)
		return -1;
	out[S_RATE] = (double)c->nacc[o] / secs;
	out[S_FAULTS] = (double)rs.faults_served;
	cli_fault_quantiles(c->lat, c->nacc[o], rs.faults_served, &out[S_P50],
			    &out[S_P99]);
	out[S_RT] = out[S_KEYS] = out[S_MIB] = out[S_FAILOVER] = NAN;
	if (pool) {
		uint64_t mgets = s1.mgets - s0.mgets;

		if (rs.faults_served)
			out[S_RT] = (double)(s1.round_trips - s0.round_trips) /
				    (double)rs.faults_served;
		if (mgets)
			out[S_KEYS] = (double)(s1.mget_keys - s0.mget_keys) /
				      (double)mgets;
		out[S_MIB] = (double)(s1.bytes_received - s0.bytes_received) /
			     1048576.0;
		out[S_FAILOVER] = (double)(s1.failovers - s0.failovers);
	}
	return 0;
}

/* ---- the runs ------------------------------------------------------------ */

static double *sample(const struct pb_ctx *c, unsigned runs, int v, int o,
		      unsigned run)
{
	return &c->samples[(((size_t)v * PB_ORDERS + (size_t)o) * runs + run) *
			   S_COLS];
}

static int measure(struct pb_ctx *c, struct pb_result *r)
{
	for (unsigned run = 0; run < r->runs; run++)
		for (int o = 0; o < PB_ORDERS; o++)
			for (int v = 0; v < PB_VARIANTS; v++) {
				double *out = sample(c, r->runs, v, o, run);
				int err;

				if (c->skip[v])
					continue;
				status(c, "run %u of %u, %s, %s", run + 1,
				       r->runs, order_keys[o], defs[v].title);
				watch_cell(v, o);
				err = defs[v].kind == K_FLOOR
					      ? run_floor(c, v, o, out)
					      : run_region(c, v, o, run, out);
				watch_cell(-1, -1);
				if (err)
					return -1;
			}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of a column over the runs; NAN if a run lacks it. */
static double median_of(const struct pb_ctx *c, unsigned runs, int v, int o,
			int col, double *tmp, double *lo, double *hi)
{
	for (unsigned run = 0; run < runs; run++) {
		tmp[run] = sample(c, runs, v, o, run)[col];
		if (!isfinite(tmp[run]))
			return NAN;
	}
	qsort(tmp, runs, sizeof(*tmp), cmp_double);
	if (lo)
		*lo = tmp[0];
	if (hi)
		*hi = tmp[runs - 1];
	return runs % 2 ? tmp[runs / 2]
			: (tmp[runs / 2 - 1] + tmp[runs / 2]) / 2;
}

/* The floor a variant compares with: the same pages per request. */
static int floor_of(int v)
{
	unsigned ra = defs[v].readahead;

	return ra == 0 ? V_FLOOR1 : ra == 7 ? V_FLOOR8 : V_FLOOR32;
}

static int summarize(const struct pb_ctx *c, struct pb_result *r)
{
	double *tmp = calloc(r->runs, sizeof(double));

	if (!tmp)
		return -1;
	for (int v = 0; v < PB_VARIANTS; v++)
		for (int o = 0; o < PB_ORDERS; o++) {
			struct pb_cell *cell = &r->cell[v][o];

			if (c->skip[v])
				continue;
			cell->rate.ok = true;
			for (int k = 0; k < S_COLS; k++)
				cell->med[k] = median_of(
					c, r->runs, v, o, k, tmp,
					k == S_RATE ? &cell->rate.min : NULL,
					k == S_RATE ? &cell->rate.max : NULL);
			cell->rate.median = cell->med[S_RATE];
		}
	free(tmp);
	for (int v = 0; v < PB_VARIANTS; v++)
		for (int o = 0; o < PB_ORDERS; o++) {
			struct pb_cell *cell = &r->cell[v][o],
				       *base = &r->cell[floor_of(v)][o];

			if (cell->rate.ok && base->rate.ok)
				cell->vs_floor =
					cell->rate.median / base->rate.median;
		}
	return 0;
}

static void skip_variant(struct pb_ctx *c, struct pb_result *r, int v,
			 const char *why)
{
	c->skip[v] = true;
	for (int o = 0; o < PB_ORDERS; o++)
		snprintf(r->cell[v][o].rate.note,
			 sizeof(r->cell[v][o].rate.note), "n/a: %s", why);
}

/* Which variants can run here; the stores, the configs, the floor. */
static int setup_variants(struct pb_ctx *c, struct pb_result *r)
{
	struct umove_pool_stats s;
	struct umove *um;
	char why[512];
	int err = umove_open(&um, 0);

	if (err) {
		for (int v = 0; v < PB_VARIANTS; v++)
			if (defs[v].kind != K_FLOOR)
				skip_variant(c, r, v, umove_strerror(err));
	} else {
		r->native_move = umove_native_move(um);
		if (!r->native_move)
			for (int v = 0; v < PB_VARIANTS; v++)
				if (defs[v].fill == UMOVE_FILL_MOVE)
					skip_variant(c, r, v,
						     cli_emulation_reason(um));
		umove_close(um);
	}
	err = umove_store_memcached(&c->pool, c->spec, UMOVE_STORE_RDONLY, why,
				    sizeof(why));
	if (err) {
		store_error(c->spec, err, why);
		return -1;
	}
	if (umove_store_pages(c->pool) != c->npages ||
	    pool_stats(c->pool, &s)) {
		fprintf(stderr,
			"umove bench pool: the pool's image has %" PRIu64
			" pages, not %zu\n",
			umove_store_pages(c->pool), c->npages);
		return -1;
	}
	r->servers = s.servers;
	r->replicas = s.replicas;
	err = umove_store_file(&c->file, c->path,
			       UMOVE_STORE_RDONLY | UMOVE_STORE_BUFFERED);
	if (err) {
		fprintf(stderr, "umove bench pool: umove_store_file: %s\n",
			umove_strerror(err));
		return -1;
	}
	for (int v = 0; v < PB_VARIANTS && !err; v++) {
		if (defs[v].kind == K_FLOOR)
			continue;
		err = umove_region_config_new(&c->cfg[v]);
		if (!err)
			err = umove_region_config_set_fill(c->cfg[v],
							   defs[v].fill);
		if (!err)
			err = umove_region_config_set_readahead(
				c->cfg[v], defs[v].readahead);
		if (!err)
			err = umove_region_config_set_threads(c->cfg[v],
							      PB_THREADS);
	}
	if (err) {
		fprintf(stderr, "umove bench pool: region config: %s\n",
			umove_strerror(err));
		return -1;
	}
	return 0;
}

/*
 * With --spec, the image leaves the user's pool: every copy of every page
 * (copy k of a page is on the k-th server after its first, in the store's
 * order), and the meta and mark keys on every server. Best effort, with
 * quiet deletes; what fails is said.
 */
/* A quiet delete is buffered; a key already gone is no failure. */
static bool deleted(memcached_return_t rc)
{
	return rc == MEMCACHED_SUCCESS || rc == MEMCACHED_BUFFERED ||
	       rc == MEMCACHED_NOTFOUND;
}

static int delete_image(struct pb_ctx *c, unsigned replicas)
{
	memcached_st *one[CLI_MC_MAX_SERVERS] = {NULL};
	unsigned n = c->mc.nservers, failed = 0;
	char key[PB_KEY_MAX];

	status(c, "deleting the image from the pool");
	for (unsigned s = 0; s < n; s++) {
		struct cli_mc_spec solo = {.nservers = 1};

		solo.server[0] = c->mc.server[s];
		one[s] = floor_handle(&solo);
		if (one[s])
			memcached_behavior_set(one[s],
					       MEMCACHED_BEHAVIOR_NOREPLY, 1);
	}
	for (size_t i = 0; i < c->npages; i++) {
		size_t klen = page_key(c, i, key);
		uint32_t first = memcached_generate_hash(c->floor, key, klen);

		for (unsigned k = 0; k <= replicas && k < n; k++) {
			memcached_st *m = one[(first + k) % n];

			if (!m || !deleted(memcached_delete(m, key, klen, 0)))
				failed++;
		}
	}
	for (unsigned s = 0; s < n; s++) {
		static const char *const meta[] = {"meta", "mark"};

		for (int k = 0; k < 2 && one[s]; k++) {
			size_t klen = (size_t)snprintf(key, sizeof(key),
						       "%s:%s:%s", c->mc.ns,
						       c->mc.region, meta[k]);

			/*
			 * The last delete waits for its answer, which the
			 * server sends once it has done the quiet ones.
			 */
			if (k == 1)
				memcached_behavior_set(
					one[s], MEMCACHED_BEHAVIOR_NOREPLY, 0);
			if (!deleted(memcached_delete(one[s], key, klen, 0)))
				failed++;
		}
		if (one[s])
			memcached_free(one[s]);
		else
			failed++;
	}
	status_end(c);
	if (failed)
		fprintf(stderr,
			"umove bench pool: %u deletes of the image %s:%s "
			"failed: its keys stay in the pool\n",
			failed, c->mc.ns, c->mc.region);
	return failed ? -1 : 0;
}

/* ---- the command's life -------------------------------------------------- */

static void watchdog_fire(void *arg, int v, size_t pos)
{
	const struct pb_ctx *c = arg;
	int o = atomic_load(&watch.order);

	if (v >= PB_VARIANTS)
		fprintf(stderr,
			"umove bench pool: writing the image: no progress "
			"for %d s at page %zu of %zu: a server hangs\n",
			PB_STALL_S, pos, c->npages);
	else
		fprintf(stderr,
			"umove bench pool: %s, %s order: no progress for %d "
			"s at access %zu of %zu: a fault was never served, "
			"or a server hangs (or unmapping does)\n",
			defs[v].title, order_keys[o], PB_STALL_S, pos,
			c->nacc[o]);
	servers_kill();
	_exit(CLI_EXIT_FAIL);
}

static void ctx_free(struct pb_ctx *c)
{
	for (int v = 0; v < PB_VARIANTS; v++)
		umove_region_config_free(c->cfg[v]);
	if (c->pool)
		umove_store_close(c->pool);
	if (c->file)
		umove_store_close(c->file);
	if (c->floor)
		memcached_free(c->floor);
	for (int o = 0; o < PB_ORDERS; o++)
		free(c->seq[o]);
	free(c->lat);
	free(c->buf);
	free(c->samples);
	free(c->spec);
	if (c->fd >= 0)
		close(c->fd);
}

/*
 * The pool's spec: the servers started, or the user's with a region of
 * the benchmark's own unless it names one; pages= always. 0, or the exit
 * status.
 */
static int make_spec(struct pb_ctx *c, const char *user)
{
	char opt[64], base[1024], *with_region = NULL;
	size_t len;

	if (!user) {
		len = (size_t)snprintf(base, sizeof(base), "memcached://");
		for (unsigned i = 0; i < srv.n; i++)
			len += (size_t)snprintf(base + len, sizeof(base) - len,
						"%s127.0.0.1:%u", i ? "," : "",
						srv.port[i]);
		user = base;
	} else if (!c->mc.has_region) {
		snprintf(opt, sizeof(opt), "region=bench-%ld", (long)getpid());
		with_region = cli_mc_spec_add(user, opt);
		if (!with_region)
			return CLI_EXIT_FAIL;
		user = with_region;
	}
	snprintf(opt, sizeof(opt), "pages=%zu", c->npages);
	c->spec = cli_mc_spec_add(user, opt);
	free(with_region);
	if (!c->spec || cli_mc_spec_parse(c->spec, &c->mc))
		return CLI_EXIT_FAIL;
	return 0;
}

/* A spec the CLI cannot read: the library says what is wrong with it. */
static int bad_spec(const char *spec)
{
	struct umove_store *st;
	char why[512] = "";
	int err = umove_store_memcached(&st, spec, UMOVE_STORE_RDONLY, why,
					sizeof(why));

	if (!err)
		umove_store_close(st);
	fprintf(stderr, "umove bench pool: --spec %s: %s\n", spec,
		err == -EINVAL && why[0]
			? why
			: "not a memcached spec "
			  "(memcached://SERVER[,SERVER...][?OPTIONS])");
	return CLI_EXIT_USAGE;
}

static int bench_pool_run(unsigned runs, size_t size_mib, const char *user,
			  struct pb_result *r)
{
	struct sigaction old_fault[CLI_FAULT_SIGNALS],
		old_stop[CLI_STOP_SIGNALS];
	struct pb_ctx c = {.fd = -1};
	struct cli_watchdog w;
	int ret = CLI_EXIT_FAIL;

	memset(r, 0, sizeof(*r));
	r->runs = runs;
	r->size_mib = size_mib;
	r->own_servers = !user;
	r->native_move = -1;
	r->page_size = c.ps = (size_t)sysconf(_SC_PAGESIZE);
	c.words = c.ps / sizeof(uint64_t);
	c.len = size_mib << 20;
	r->pages = c.npages = c.len / c.ps;
	c.status = isatty(STDERR_FILENO);
	for (int v = 0; v < PB_VARIANTS; v++)
		for (int o = 0; o < PB_ORDERS; o++) {
			r->cell[v][o].vs_floor = NAN;
			for (int k = 0; k < S_COLS; k++)
				r->cell[v][o].med[k] = NAN;
		}
	if (user && cli_mc_spec_parse(user, &c.mc))
		return bad_spec(user);
	if (user && c.mc.has_pages) {
		fprintf(stderr, "umove bench pool: --spec must not say pages: "
				"--size sizes the image\n");
		return CLI_EXIT_USAGE;
	}
	if (!user && access(MEMCACHED, X_OK)) {
		fprintf(stderr,
			"umove bench pool: memcached is not installed "
			"(" MEMCACHED
			": %s): install it (Debian: apt-get install "
			"memcached), or measure a pool of yours with --spec\n",
			strerror(errno));
		return CLI_EXIT_FAIL;
	}
	c.samples = calloc((size_t)PB_VARIANTS * PB_ORDERS * runs * S_COLS,
			   sizeof(double));
	c.buf = malloc(PB_MAX_BATCH * c.ps);
	if (!c.samples || !c.buf || make_orders(&c)) {
		fprintf(stderr, "umove bench pool: out of memory\n");
		goto out;
	}
	/* Forked by this thread, which lives as long as the command:
	 * PR_SET_PDEATHSIG fires when the thread that forked ends. */
	cli_catch_stop_signals(old_stop, servers_kill);
	if (!user) {
		status(&c, "starting %d memcached servers", PB_SERVERS);
		if (start_servers(size_mib))
			goto stop;
	}
	c.user_pool = user;
	c.own_region_given = c.mc.has_region;
	ret = make_spec(&c, user);
	if (!ret)
		c.floor = floor_handle(&c.mc);
	if (!c.floor) {
		fprintf(stderr, "umove bench pool: cannot set up a "
				"libmemcached handle for the servers\n");
		ret = CLI_EXIT_FAIL;
		goto stop;
	}
	snprintf(r->spec, sizeof(r->spec), "%s", c.spec);
	snprintf(r->image, sizeof(r->image), "%s:%s", c.mc.ns, c.mc.region);
	cli_catch_fault_signals(old_fault, "umove bench pool",
				" (a server down or not answering?)",
				servers_kill);
	cli_watchdog_start(&w, PB_STALL_S, &watch.step, &watch.pos,
			   &watch.active, watchdog_fire, &c);
	ret = write_pool(&c);
	if (!ret)
		ret = write_file(&c, r) || setup_variants(&c, r) ? CLI_EXIT_FAIL
								 : 0;
	if (!ret)
		ret = measure(&c, r) ? CLI_EXIT_FAIL : 0;
	status_end(&c);
	if (c.cleanup)
		r->deleted = !delete_image(&c, c.replicas);
	cli_watchdog_stop(&w);
	cli_restore_fault_signals(old_fault);
	if (!ret && summarize(&c, r)) {
		fprintf(stderr, "umove bench pool: out of memory\n");
		ret = CLI_EXIT_FAIL;
	}
	for (int o = 0; o < PB_ORDERS; o++)
		r->accesses[o] = c.nacc[o];
stop:
	status_end(&c);
	servers_kill();
	cli_restore_stop_signals(old_stop);
out:
	ctx_free(&c);
	return ret;
}

/* ---- output -------------------------------------------------------------- */

/* Thousands of pages per second, about three significant digits. */
static void format_rate(char *buf, size_t size, double per_s)
{
	double k = per_s / 1e3;

	snprintf(buf, size, k < 100 ? "%.1f" : "%.0f", k);
}

/* A number with prec decimals, or "-" when not measured. */
static void format_num(char *buf, size_t size, double x, int prec)
{
	if (isfinite(x))
		snprintf(buf, size, "%.*f", prec, x);
	else
		snprintf(buf, size, "-");
}

static void format_us(char *buf, size_t size, double ns)
{
	format_num(buf, size, ns / 1e3, ns < 100e3 ? 1 : 0);
}

#define ROW_FMT "  %-23s %-21s %-8s %-15s %-7s %-8s %-9s %-8s %s\n"

static void print_row(const struct pb_result *r, int v, int o, FILE *out)
{
	const struct pb_cell *cell = &r->cell[v][o];
	const struct bench_stat *st = &cell->rate;
	char rate[80], med[24], lo[24], hi[24], vs[16], lat[48], p50[16],
		p99[16], faults[16], rt[16], keys[16], recv[16], fail[16];

	if (!st->ok) {
		fprintf(out, "  %-23s n/a\n", defs[v].title);
		return;
	}
	format_rate(med, sizeof(med), st->median);
	format_rate(lo, sizeof(lo), st->min);
	format_rate(hi, sizeof(hi), st->max);
	snprintf(rate, sizeof(rate), "%s [%s-%s]", med, lo, hi);
	format_num(vs, sizeof(vs), cell->vs_floor, 2);
	format_us(p50, sizeof(p50), cell->med[S_P50]);
	format_us(p99, sizeof(p99), cell->med[S_P99]);
	snprintf(lat, sizeof(lat), "%s/%s", p50, p99);
	if (defs[v].kind == K_FLOOR)
		snprintf(faults, sizeof(faults), "-");
	else
		format_num(faults, sizeof(faults), cell->med[S_FAULTS], 0);
	format_num(rt, sizeof(rt), cell->med[S_RT], 2);
	if (v == V_FLOOR1)
		snprintf(keys, sizeof(keys), "(get)");
	else
		format_num(keys, sizeof(keys), cell->med[S_KEYS], 1);
	format_num(recv, sizeof(recv), cell->med[S_MIB], 1);
	format_num(fail, sizeof(fail), cell->med[S_FAILOVER], 0);
	fprintf(out, ROW_FMT, defs[v].title, rate, vs, lat, faults, rt, keys,
		recv, fail);
}

static void range_of(const struct pb_result *r, int a, int b, double *lo,
		     double *hi, int *n)
{
	for (int o = 0; o < PB_ORDERS; o++) {
		const struct pb_cell *x = &r->cell[a][o], *y = &r->cell[b][o];
		double q;

		if (!x->rate.ok || !y->rate.ok)
			continue;
		q = x->rate.median / y->rate.median;
		*lo = q < *lo ? q : *lo;
		*hi = q > *hi ? q : *hi;
		(*n)++;
	}
}

static void print_summary(const struct pb_result *r, FILE *out)
{
	static const int copy[3] = {V_COPY0, V_COPY7, V_COPY31},
			 move[3] = {V_MOVE0, V_MOVE7, V_MOVE31},
			 file[3] = {V_FILE0, V_FILE7, V_FILE31};
	double lo = INFINITY, hi = -INFINITY, flo = INFINITY, fhi = -INFINITY;
	int n = 0, fn = 0;

	fputs("summary: pool COPY / floor, same batch (ra 0, 7, 31):", out);
	for (int o = 0; o < PB_ORDERS; o++) {
		fprintf(out, " %s", order_keys[o]);
		for (int k = 0; k < 3; k++) {
			char q[16];

			format_num(q, sizeof(q), r->cell[copy[k]][o].vs_floor,
				   2);
			fprintf(out, " %s", q);
		}
		fputc(o + 1 < PB_ORDERS ? ';' : '\n', out);
	}
	for (int k = 0; k < 3; k++) {
		range_of(r, move[k], copy[k], &lo, &hi, &n);
		range_of(r, file[k], copy[k], &flo, &fhi, &fn);
	}
	if (n)
		fprintf(out,
			"         pool MOVE / pool COPY: %.2f to %.2f over %d "
			"cells",
			lo, hi, n);
	if (fn)
		fprintf(out,
			"%sfile store / pool COPY, same read-ahead: %.2f to "
			"%.2f",
			n ? "; " : "         ", flo, fhi);
	if (n || fn)
		fputc('\n', out);
}

static void bench_pool_print(const struct pb_result *r, FILE *out)
{
	fprintf(out,
		"thousands of pages per second, median [min-max] of %u runs; "
		"an image of %zu MiB (%zu pages of %zu bytes) on %u memcached "
		"servers %s, %u replica%s, keys %s:INDEX%s; one thread reads "
		"the first word of each page it accesses and checks it: "
		"sequential, every page from page 0 (%zu accesses); random, "
		"%zu uniform picks with a fixed seed\n",
		r->runs, r->size_mib, r->pages, r->page_size, r->servers,
		r->own_servers ? "started on 127.0.0.1" : "of --spec",
		r->replicas, r->replicas == 1 ? "" : "s", r->image,
		r->own_servers ? ""
		: r->deleted   ? ", deleted at the end"
			       : ", left in the pool",
		r->accesses[O_SEQ], r->accesses[O_RANDOM]);
	fprintf(out,
		"(floor: plain libmemcached, no faults: memcached_get per "
		"access, or memcached_mget of the next 8 or 32 accesses' keys, "
		"into a buffer; file store: umove_store_file of the same image "
		"in %s, read-only, buffered, page cache warm; pool: "
		"umove_store_memcached, read-only; every region: a fresh one "
		"per run, %d handler threads, no limit; ra N: read-ahead, "
		"1 + N pages per fault)\n",
		r->file_dir, PB_THREADS);
	fputs("(vs floor: median / the floor's with as many pages per request "
	      "(ra 0: 1, ra 7: 8, ra 31: 32); p50/p99 us: fault latency, the "
	      "reading thread's slowest accesses, as many as faults served "
	      "(floor: one request's time); faults: faults served; RT/fault: "
	      "pool round trips per fault; keys/mget: keys per multi-get; "
	      "MiB recv: keys, values and headers received; failover: pages "
	      "read from a later copy; all medians over the runs)\n",
	      out);
	for (int o = 0; o < PB_ORDERS; o++) {
		fprintf(out, "%s order\n", order_keys[o]);
		fprintf(out, ROW_FMT, "variant", "k pages/s", "vs floor",
			"p50/p99 us", "faults", "RT/fault", "keys/mget",
			"MiB recv", "failover");
		for (int v = 0; v < PB_VARIANTS; v++)
			print_row(r, v, o, out);
	}
	for (int v = 0; v < PB_VARIANTS; v++)
		if (!r->cell[v][0].rate.ok && r->cell[v][0].rate.note[0])
			fprintf(out, "  %s: %s\n", defs[v].title,
				r->cell[v][0].rate.note);
	print_summary(r, out);
}

static const char *const kind_keys[] = {"floor", "file", "pool"};

static void json_row(const struct pb_result *r, int v, int o, struct json *j)
{
	const struct pb_cell *cell = &r->cell[v][o];
	const struct bench_stat *st = &cell->rate;
	bool floor = defs[v].kind == K_FLOOR;

	json_open(j, NULL, '{');
	json_str(j, "variant", defs[v].key);
	json_str(j, "order", order_keys[o]);
	json_str(j, "kind", kind_keys[defs[v].kind]);
	json_str(j, "fill",
		 floor				   ? NULL
		 : defs[v].fill == UMOVE_FILL_MOVE ? "move"
						   : "copy");
	if (floor)
		json_null(j, "readahead");
	else
		json_int(j, "readahead", defs[v].readahead);
	json_int(j, "pages_per_request", 1 + defs[v].readahead);
	json_num(j, "pages_per_s", st->ok ? st->median : NAN);
	json_num(j, "min_pages_per_s", st->ok ? st->min : NAN);
	json_num(j, "max_pages_per_s", st->ok ? st->max : NAN);
	json_num(j, "vs_floor", cell->vs_floor);
	json_str(j, "latency", floor ? "request" : "fault");
	json_num(j, "latency_us_p50", cell->med[S_P50] / 1e3);
	json_num(j, "latency_us_p99", cell->med[S_P99] / 1e3);
	json_num(j, "faults", floor ? NAN : cell->med[S_FAULTS]);
	json_num(j, "round_trips_per_fault", cell->med[S_RT]);
	json_num(j, "keys_per_mget", cell->med[S_KEYS]);
	json_num(j, "mib_received", cell->med[S_MIB]);
	json_num(j, "failovers", cell->med[S_FAILOVER]);
	json_str(j, "note", st->ok || !st->note[0] ? NULL : st->note);
	json_close(j, '}');
}

static void bench_pool_json(const struct pb_result *r, struct json *j)
{
	json_open(j, NULL, '{');
	json_int(j, "size_mib", (long long)r->size_mib);
	json_int(j, "pages", (long long)r->pages);
	json_int(j, "page_size", (long long)r->page_size);
	json_int(j, "runs", r->runs);
	json_int(j, "servers", r->servers);
	json_int(j, "replicas", r->replicas);
	json_bool(j, "own_servers", r->own_servers);
	json_str(j, "spec", r->spec);
	json_str(j, "image", r->image);
	json_bool(j, "image_deleted", r->own_servers || r->deleted);
	json_str(j, "file_dir", r->file_dir);
	json_int(j, "handler_threads", PB_THREADS);
	if (r->native_move < 0)
		json_null(j, "native_move");
	else
		json_bool(j, "native_move", r->native_move);
	json_open(j, "accesses", '{');
	for (int o = 0; o < PB_ORDERS; o++)
		json_int(j, order_keys[o], (long long)r->accesses[o]);
	json_close(j, '}');
	json_str(j, "unit", "pages (accesses) per second, median over runs");
	json_str(j, "vs_floor_definition",
		 "pages_per_s / the floor's with as many pages per request, "
		 "same order");
	json_str(j, "latency_definition",
		 "fault: the reading thread's slowest accesses, as many as "
		 "faults served, p50/p99; request: one get or mget+fetch of "
		 "the floor, p50/p99; medians over the runs");
	json_str(j, "counters_definition",
		 "medians over the runs: faults served (umove_region_stats); "
		 "pool round trips per fault, keys per mget, MiB received, "
		 "failovers: deltas of umove_store_memcached_stats around the "
		 "timed reads (floor: bytes counted the same way)");
	json_str(j, "method",
		 "one thread reads the first word of each page accessed and "
		 "checks it; a fresh region per run and variant; floor: plain "
		 "libmemcached with the store's keys and placement, no faults; "
		 "file: umove_store_file, read-only, buffered, warm page "
		 "cache; variants take turns run by run");
	json_open(j, "rows", '[');
	for (int o = 0; o < PB_ORDERS; o++)
		for (int v = 0; v < PB_VARIANTS; v++)
			json_row(r, v, o, j);
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- command line -------------------------------------------------------- */

static const char bench_pool_usage[] =
	"usage: umove bench pool [--size MiB] [--runs N] [--spec SPEC] "
	"[--json]\n"
	"  --size MiB   size of the image, 1 to 8192 (default 256)\n"
	"  --runs N     runs per measurement; the median is reported "
	"(default 5)\n"
	"  --spec SPEC  a pool of yours (memcached://..., no pages=) instead "
	"of 3\n"
	"               servers started on 127.0.0.1; the image goes under "
	"region\n"
	"               bench-PID, deleted at the end, unless SPEC names a "
	"region\n"
	"               (which stays)\n"
	"  --json       print one JSON object on stdout\n";

struct bench_pool_opts {
	unsigned long runs, size;
	const char *spec;
	bool json;
};

static int parse_bench_pool(int argc, char **argv, struct bench_pool_opts *o,
			    bool *done)
{
	const struct cli_opt opts[] = {
		{"size", 0, CLI_OPT_COUNT, &o->size, 1, PB_MAX_MIB},
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, PB_MAX_RUNS},
		{"spec", 0, CLI_OPT_STRING, &o->spec, 0, 0},
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
	};
	const char *cmd = "umove bench pool";
	int ret = cli_parse_options(cmd, bench_pool_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, bench_pool_usage, argc, argv);
}

int cmd_bench_pool(int argc, char **argv)
{
	struct bench_pool_opts o = {.runs = PB_RUNS, .size = PB_MIB};
	struct pb_result *r;
	struct json j;
	bool done = false;
	int ret = parse_bench_pool(argc, argv, &o, &done);

	if (ret || done)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "umove bench pool: out of memory\n");
		return CLI_EXIT_FAIL;
	}
	ret = bench_pool_run((unsigned)o.runs, o.size, o.spec, r);
	if (!ret && !o.json) {
		bench_pool_print(r, stdout);
	} else if (!ret) {
		json_init(&j, stdout);
		bench_pool_json(r, &j);
		json_finish(&j);
	}
	free(r);
	return ret;
}
