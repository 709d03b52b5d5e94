/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks share beyond cli.h: the watchdog that ends a run
 * stuck on a fault that is never served, the fault latency taken from
 * per-access timings, and undoing what a benchmark set up (servers, swap,
 * a cgroup) when it is interrupted.
 */
#ifndef UMOVE_BENCH_COMMON_H
#define UMOVE_BENCH_COMMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Called by the watchdog with its lock held when neither *step nor *pos
 * changed for stall_s seconds while *active >= 0: it reports what hangs
 * (active and pos are the values last seen) and ends the process; should
 * it return, it is called again every second for as long as the stall
 * lasts.
 */
typedef void cli_watchdog_fire_fn(void *arg, int active, size_t pos);

/*
 * A thread that looks at a benchmark's progress once a second: *step
 * changes at every stage of a cell, *pos at every access, *active names
 * the cell running (-1 between cells, when nothing is watched). The
 * counters may live in a shared mapping, so that a child reports too.
 */
struct cli_watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop, started;
	unsigned stall_s;
	atomic_uint *step;
	atomic_size_t *pos;
	atomic_int *active;
	cli_watchdog_fire_fn *fire;
	void *arg;
};

/* Without a thread (pthread_create failed) the benchmark still runs. */
void cli_watchdog_start(struct cli_watchdog *w, unsigned stall_s,
			atomic_uint *step, atomic_size_t *pos,
			atomic_int *active, cli_watchdog_fire_fn *fire,
			void *arg);
void cli_watchdog_stop(struct cli_watchdog *w);

/*
 * The faults are the slowest accesses: a fault costs microseconds, a hit
 * nanoseconds. Of the misses slowest of the n latencies in lat (sorted in
 * place), the nearest-rank p50 and p99; NAN without misses.
 */
void cli_fault_quantiles(uint32_t *lat, size_t n, uint64_t misses, double *p50,
			 double *p99);

/*
 * SIGINT, SIGTERM and SIGHUP call cleanup (which must be async-signal-safe)
 * and then end the process by the signal, as they would have; a signal
 * ignored when the command started stays ignored. old[] keeps what was
 * there, for cli_restore_stop_signals().
 */
#define CLI_STOP_SIGNALS 3
void cli_catch_stop_signals(struct sigaction old[CLI_STOP_SIGNALS],
			    void (*cleanup)(void));
void cli_restore_stop_signals(const struct sigaction old[CLI_STOP_SIGNALS]);

/*
 * SIGBUS and SIGSEGV while a benchmark reads its pages: a fill failed, and
 * the read cannot go on. The handler writes "CMD: SIGBUS reading a page: a
 * fill failed" (bus_hint, if not NULL, follows for SIGBUS), calls cleanup
 * (async-signal-safe; may be NULL) and exits with status 1. old[] keeps
 * what was there, for cli_restore_fault_signals().
 */
#define CLI_FAULT_SIGNALS 2
void cli_catch_fault_signals(struct sigaction old[CLI_FAULT_SIGNALS],
			     const char *cmd, const char *bus_hint,
			     void (*cleanup)(void));
void cli_restore_fault_signals(const struct sigaction old[CLI_FAULT_SIGNALS]);

/*
 * TLB shootdown interrupts received so far, summed over the CPUs (the
 * "TLB:" line of /proc/interrupts, x86); NAN where the line is missing,
 * as on arm64, which invalidates by broadcast instructions, not IPIs.
 */
double cli_tlb_shootdowns(void);

/*
 * Runs the calling thread, and every thread and child it creates from now
 * on, on CPU cpu only: 0, or the errno of sched_setaffinity (EINVAL: no
 * such CPU online or allowed).
 */
int cli_pin_cpu(unsigned long cpu);

#endif /* UMOVE_BENCH_COMMON_H */
