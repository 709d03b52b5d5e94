/* SPDX-License-Identifier: MIT */
/* Helpers shared by the benchmarks: see bench_common.h. */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "cli.h"

static void *watchdog_main(void *arg)
{
	struct cli_watchdog *w = arg;
	unsigned last_step = 0, still = 0;
	size_t last_pos = 0;
	struct timespec ts;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		unsigned step = atomic_load(w->step);
		size_t pos = atomic_load(w->pos);
		int active = atomic_load(w->active);

		if (active < 0 || step != last_step || pos != last_pos)
			still = 0;
		else if (++still >= w->stall_s)
			w->fire(w->arg, active, pos);
		last_step = step;
		last_pos = pos;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec++;
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void cli_watchdog_start(struct cli_watchdog *w, unsigned stall_s,
			atomic_uint *step, atomic_size_t *pos,
			atomic_int *active, cli_watchdog_fire_fn *fire,
			void *arg)
{
	pthread_condattr_t attr;

	memset(w, 0, sizeof(*w));
	w->stall_s = stall_s;
	w->step = step;
	w->pos = pos;
	w->active = active;
	w->fire = fire;
	w->arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	w->started = !pthread_create(&w->thread, NULL, watchdog_main, w);
}

void cli_watchdog_stop(struct cli_watchdog *w)
{
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void cli_fault_quantiles(uint32_t *lat, size_t n, uint64_t misses, double *p50,
			 double *p99)
{
	size_t f = misses < n ? (size_t)misses : n;

	*p50 = *p99 = NAN;
	if (!f)
		return;
	qsort(lat, n, sizeof(*lat), cmp_u32);
	*p50 = lat[n - f + (size_t)ceil(0.50 * (double)f) - 1];
	*p99 = lat[n - f + (size_t)ceil(0.99 * (double)f) - 1];
}

static const int stop_signals[CLI_STOP_SIGNALS] = {SIGINT, SIGTERM, SIGHUP};
static void (*stop_cleanup)(void);

/* Interrupted: undo the changes, then die of the signal as before. */
static void on_stop_signal(int sig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	stop_cleanup();
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig); /* blocked until the handler returns */
}

void cli_catch_stop_signals(struct sigaction old[CLI_STOP_SIGNALS],
			    void (*cleanup)(void))
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	stop_cleanup = cleanup;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < CLI_STOP_SIGNALS; i++) {
		sigaction(stop_signals[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL);
	}
}

void cli_restore_stop_signals(const struct sigaction old[CLI_STOP_SIGNALS])
{
	for (int i = 0; i < CLI_STOP_SIGNALS; i++)
		sigaction(stop_signals[i], &old[i], NULL);
}

static const int fault_signals[CLI_FAULT_SIGNALS] = {SIGBUS, SIGSEGV};
/* Written before the handler is installed: it only writes them out. */
static char fault_msg[CLI_FAULT_SIGNALS][256];
static size_t fault_msg_len[CLI_FAULT_SIGNALS];
static void (*fault_cleanup)(void);

static void on_fault_signal(int sig)
{
	int i = sig == SIGBUS ? 0 : 1;
	ssize_t n = write(STDERR_FILENO, fault_msg[i], fault_msg_len[i]);

	(void)n;
	if (fault_cleanup)
		fault_cleanup();
	_exit(CLI_EXIT_FAIL);
}

void cli_catch_fault_signals(struct sigaction old[CLI_FAULT_SIGNALS],
			     const char *cmd, const char *bus_hint,
			     void (*cleanup)(void))
{
	struct sigaction sa = {.sa_handler = on_fault_signal};

	for (int i = 0; i < CLI_FAULT_SIGNALS; i++) {
		const char *hint = i == 0 && bus_hint ? bus_hint : "";
		int len =
			snprintf(fault_msg[i], sizeof(fault_msg[i]),
				 "%s: SIG%s reading a page: a fill failed%s\n",
				 cmd, i == 0 ? "BUS" : "SEGV", hint);

		fault_msg_len[i] = len < 0 ? 0
				   : (size_t)len < sizeof(fault_msg[i])
					   ? (size_t)len
					   : sizeof(fault_msg[i]) - 1;
	}
	fault_cleanup = cleanup;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < CLI_FAULT_SIGNALS; i++)
		sigaction(fault_signals[i], &sa, &old[i]);
}

void cli_restore_fault_signals(const struct sigaction old[CLI_FAULT_SIGNALS])
{
	for (int i = 0; i < CLI_FAULT_SIGNALS; i++)
		sigaction(fault_signals[i], &old[i], NULL);
}

double cli_tlb_shootdowns(void)
{
	FILE *f = fopen("/proc/interrupts", "re");
	char line[8192];
	double sum = NAN;

	if (!f)
		return NAN;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "TLB:", 4))
			continue;
		sum = 0;
		for (p += 4;; p = end) {
			unsigned long long n = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += (double)n;
		}
		break;
	}
	fclose(f);
	return sum;
}

int cli_pin_cpu(unsigned long cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE)
		return EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}
