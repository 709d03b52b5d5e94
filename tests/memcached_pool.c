/* SPDX-License-Identifier: MIT */
/* The tests' memcached servers: see memcached_pool.h. */
#include "memcached_pool.h"
#include "helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEMCACHED "/usr/bin/memcached"
#define READY_MS 3000
#define RUNNING_MAX 32

/*
 * Every server started and not yet reaped, by pid. Kept here rather than
 * through the callers' pools: a pool on a test's stack is gone once a
 * failed assertion abandons the test's frame, and pool_stop_all() (run by
 * the suite's .fini) must not kill pids read from a dead frame.
 */
static pid_t running[RUNNING_MAX];

static void running_add(pid_t pid)
{
	for (size_t i = 0; i < RUNNING_MAX; i++)
		if (!running[i]) {
			running[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_fail("more than %d memcached servers in one test",
		       RUNNING_MAX);
}

static void running_del(pid_t pid)
{
	for (size_t i = 0; i < RUNNING_MAX; i++)
		if (running[i] == pid)
			running[i] = 0;
}

/* SIGKILL and reap one of ours (also a stopped one). */
static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	running_del(pid);
}

static struct sockaddr_in loopback(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

unsigned unused_port(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * The pid of the memcached answering on port ("stats" of the text
 * protocol), 0 if none answers. Accepting connections is not enough: with
 * tests running in parallel, another test's server may hold a port ours
 * failed to bind.
 */
static pid_t server_pid(unsigned port)
{
	struct sockaddr_in a = loopback(port);
	struct timeval tv = {1, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[8192];
	size_t len = 0;
	const char *p;
	long pid = 0;

	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, "stats\r\n", 7) != 7) {
		close(fd);
		return 0;
	}
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "END\r\n"))
			break;
	}
	buf[len] = '\0';
	close(fd);
	p = strstr(buf, "STAT pid ");
	if (p)
		pid = strtol(p + 9, NULL, 10);
	return (pid_t)pid;
}

struct argv {
	char port[16], mem[16];
	const char *v[16];
	bool drop; /* root: become nobody before the exec */
	uid_t uid;
	gid_t gid;
};

/* Built before the fork: the child of a threaded process only execs. */
static void make_argv(const struct mc_pool *p, unsigned i, struct argv *a)
{
	int n = 0;

	snprintf(a->port, sizeof(a->port), "%u", p->port[i]);
	snprintf(a->mem, sizeof(a->mem), "%u", p->mem_mib);
	a->v[n++] = MEMCACHED;
	a->v[n++] = "-l";
	a->v[n++] = "127.0.0.1";
	a->v[n++] = "-p";
	a->v[n++] = a->port;
	a->v[n++] = "-U";
	a->v[n++] = "0";
	a->v[n++] = "-m";
	a->v[n++] = a->mem;
	a->v[n++] = "-t";
	a->v[n++] = "2";
	if (!p->evict)
		a->v[n++] = "-M";
	a->v[n] = NULL;
	/*
	 * memcached run as root needs -u, and its setuid() then clears the
	 * parent-death signal: a server would outlive a test that crashed.
	 * So the child drops to nobody itself, then asks for the signal.
	 */
	a->drop = geteuid() == 0;
	if (a->drop) {
		struct passwd *pw = getpwnam("nobody");

		cr_assert_not_null(pw, "no user nobody to run memcached as");
		a->uid = pw->pw_uid;
		a->gid = pw->pw_gid;
	}
}

/* In the child: no Criterion, no allocation; exits if anything fails. */
static void exec_server(const struct argv *a, int null, pid_t parent)
{
	if (a->drop && (setgroups(0, NULL) || setgid(a->gid) || setuid(a->uid)))
		_exit(126);
	/* Killed with the thread that started it, even if it died already. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	/*
	 * Quiet: a server resumed after SIGSTOP complains of the connections
	 * its clients gave up meanwhile.
	 */
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	execv(MEMCACHED, (char *const *)a->v);
	_exit(127);
}

/* One server on a free port; a port taken meanwhile is tried again. */
static void start_one(struct mc_pool *p, unsigned i, bool same_port)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct argv a;
		pid_t pid, parent = getpid();
		int null;

		if (!same_port)
			p->port[i] = unused_port();
		make_argv(p, i, &a);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		fflush(NULL);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			exec_server(&a, null, parent);
		if (null >= 0)
			close(null);
		running_add(pid);
		p->pid[i] = pid;
		for (int ms = 0; ms < READY_MS; ms += 5) {
			int status;

			if (server_pid(p->port[i]) == pid)
				return;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				running_del(pid);
				p->pid[i] = 0;
				break; /* exited: port taken, or no binary */
			}
			sleep_ms(5);
		}
		pool_kill(p, i);
	}
	cr_assert_fail("memcached did not start on 127.0.0.1:%u", p->port[i]);
}

static void start(struct mc_pool *p, unsigned n, unsigned mem_mib, bool evict)
{
	if (access(MEMCACHED, X_OK))
		cr_skip_test("memcached is not installed (" MEMCACHED ")");
	cr_assert_leq(n, POOL_MAX);
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->mem_mib = mem_mib;
	p->evict = evict;
	for (unsigned i = 0; i < n; i++)
		start_one(p, i, false);
}

void pool_start(struct mc_pool *p, unsigned n, unsigned mem_mib)
{
	start(p, n, mem_mib, false);
}

void pool_start_evicting(struct mc_pool *p, unsigned n, unsigned mem_mib)
{
	start(p, n, mem_mib, true);
}

void pool_kill(struct mc_pool *p, unsigned i)
{
	if (!p->pid[i])
		return;
	reap(p->pid[i]);
	p->pid[i] = 0;
}

void pool_freeze(struct mc_pool *p, unsigned i, bool frozen)
{
	int status;

	if (!p->pid[i])
		return;
	kill(p->pid[i], frozen ? SIGSTOP : SIGCONT);
	/*
	 * kill() returns before the server has stopped (or resumed): wait
	 * for it, or a request sent just after may still be answered.
	 */
	cr_assert_eq(
		waitpid(p->pid[i], &status, frozen ? WUNTRACED : WCONTINUED),
		p->pid[i], "waitpid memcached: %s", strerror(errno));
	cr_assert(frozen ? WIFSTOPPED(status) : WIFCONTINUED(status),
		  "memcached on port %u: status 0x%x", p->port[i], status);
}

void pool_restart(struct mc_pool *p, unsigned i)
{
	pool_kill(p, i);
	start_one(p, i, true);
}

void pool_stop_all(void)
{
	for (size_t i = 0; i < RUNNING_MAX; i++)
		if (running[i])
			reap(running[i]);
}

const char *pool_spec(struct mc_pool *p, const char *options)
{
	size_t len = (size_t)snprintf(p->spec, sizeof(p->spec), "memcached://");

	for (unsigned i = 0; i < p->n; i++)
		len += (size_t)snprintf(p->spec + len, sizeof(p->spec) - len,
					"%s127.0.0.1:%u", i ? "," : "",
					p->port[i]);
	if (options)
		snprintf(p->spec + len, sizeof(p->spec) - len, "?%s", options);
	return p->spec;
}
