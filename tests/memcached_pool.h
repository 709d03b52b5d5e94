/* SPDX-License-Identifier: MIT */
/*
 * A pool of memcached servers on 127.0.0.1 for the tests, started by the
 * test itself: each server on a free port, with -M (a full server refuses
 * writes rather than evicting), killed when the test ends, and killed by
 * the kernel if the test process dies first (PR_SET_PDEATHSIG).
 */
#ifndef UMOVE_TESTS_MEMCACHED_POOL_H
#define UMOVE_TESTS_MEMCACHED_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#define POOL_MAX 8

struct mc_pool {
	unsigned n;
	unsigned mem_mib;    /* -m of each server */
	bool evict;	     /* started without -M */
	pid_t pid[POOL_MAX]; /* 0: not running */
	unsigned port[POOL_MAX];
	char spec[1024];
};

/*
 * Starts n servers of mem_mib MiB each; skips the test if memcached is not
 * installed. Every server started is recorded (by pid, not through p) for
 * pool_stop_all() (a suite's .fini). A server is ready once it answers
 * "stats" with its own pid. Start servers from the test's main thread: a
 * server dies with the thread that started it (PR_SET_PDEATHSIG).
 */
void pool_start(struct mc_pool *p, unsigned n, unsigned mem_mib);
/* The same, servers that evict when full (no -M). */
void pool_start_evicting(struct mc_pool *p, unsigned n, unsigned mem_mib);
/* SIGKILL server i and reap it. */
void pool_kill(struct mc_pool *p, unsigned i);
/* SIGSTOP / SIGCONT server i: it hangs without closing its connections. */
void pool_freeze(struct mc_pool *p, unsigned i, bool frozen);
/* Starts server i again, empty, on the same port. */
void pool_restart(struct mc_pool *p, unsigned i);
/* Kills every server started by this process and not yet killed. */
void pool_stop_all(void);
/*
 * "memcached://127.0.0.1:P1,...?OPTIONS" (OPTIONS may be NULL): in
 * p->spec, which it returns.
 */
const char *pool_spec(struct mc_pool *p, const char *options);
/* A port on 127.0.0.1 where nothing listens. */
unsigned unused_port(void);

#endif /* UMOVE_TESTS_MEMCACHED_POOL_H */
