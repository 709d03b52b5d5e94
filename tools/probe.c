/* SPDX-License-Identifier: MIT */
/*
 * umove probe: what this system offers for user-space paging. Everything
 * is gathered into struct probe first and printed afterwards, as text or
 * as JSON, so that the two outputs cannot tell different stories.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <umove.h>

#include "cli.h"

#define VIA_COUNT 3
#define PROBE_QUICK_RUNS 3

struct via_check {
	int via;
	const char *key;   /* JSON name */
	const char *label; /* text name */
	int err;	   /* umove_check_via() */
	char hint[192];	   /* why it failed, or what a success means */
};

struct probe {
	struct utsname uts;
	long page_size;
	struct via_check via[VIA_COUNT];
	int open_err; /* umove_open() with default flags */
	struct umove *um;
	int features_err; /* umove_probe_features() */
	uint64_t supported;
	bool bench_ok;
	struct bench_move_result bench;
};

struct probe_opts {
	bool json, quick;
	unsigned long runs; /* 0: default for the mode */
};

static const struct {
	unsigned bit;
	const char *key, *label;
} caps_table[] = {
	{UMOVE_CAP_NATIVE_MOVE, "native_move", "native move (UFFDIO_MOVE)"},
	{UMOVE_CAP_POISON, "poison", "POISON (UFFDIO_POISON)"},
	{UMOVE_CAP_WP_ASYNC, "wp_async", "WP_ASYNC"},
	{UMOVE_CAP_PAGEMAP_SCAN, "pagemap_scan", "PAGEMAP_SCAN"},
	{UMOVE_CAP_THP, "thp", "transparent huge pages (THP)"},
};

#define CAPS_COUNT (sizeof(caps_table) / sizeof(caps_table[0]))

/* ---- gathering ---------------------------------------------------------- */

/* The first line of a small file without its newline; "?" if unreadable. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	snprintf(buf, size, "?");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* The kernel decides by the effective set, so that is what we read. */
static bool has_cap_sys_ptrace(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ull << CAP_SYS_PTRACE);
}

static void syscall_hint(int err, char *h, size_t n)
{
	char knob[16];
	bool ptrace = has_cap_sys_ptrace();

	read_line("/proc/sys/vm/unprivileged_userfaultfd", knob, sizeof(knob));
	if (!err && ptrace)
		snprintf(h, n, "allowed by CAP_SYS_PTRACE");
	else if (!err)
		snprintf(h, n, "allowed by vm.unprivileged_userfaultfd=%s",
			 knob);
	else if (err == -EPERM && !ptrace && !strcmp(knob, "0"))
		snprintf(h, n,
			 "vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE "
			 "(root, CAP_SYS_PTRACE or the sysctl at 1 allow it)");
	else if (err == -EPERM)
		snprintf(h, n,
			 "refused although vm.unprivileged_userfaultfd=%s%s: "
			 "a seccomp filter (container?) or an LSM policy",
			 knob, ptrace ? " and CAP_SYS_PTRACE" : "");
	else if (err == -ENOSYS)
		snprintf(h, n,
			 "kernel without CONFIG_USERFAULTFD, or a seccomp "
			 "filter hides the system call");
}

static void device_hint(int err, char *h, size_t n)
{
	struct stat st;

	if (err == -ENOENT)
		snprintf(h, n,
			 "/dev/userfaultfd does not exist (Linux 6.1+ with "
			 "devtmpfs or udev creates it)");
	else if ((err == -EACCES || err == -EPERM) &&
		 !stat("/dev/userfaultfd", &st))
		snprintf(h, n,
			 "no permission on /dev/userfaultfd (mode %04o, "
			 "uid %u, gid %u): give this user access to it",
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
			 (unsigned)st.st_gid);
	else if (err == -ENODEV || err == -ENXIO)
		snprintf(h, n,
			 "the node exists but no driver answers "
			 "(kernel without CONFIG_USERFAULTFD?)");
	else if (err == -ENOTTY || err == -EINVAL)
		snprintf(h, n, "/dev/userfaultfd refused USERFAULTFD_IOC_NEW");
}

static void user_only_hint(int err, char *h, size_t n)
{
	if (!err)
		snprintf(h, n,
			 "kernel-mode faults (e.g. read(2) into a range) "
			 "are not reported: they fail with EFAULT");
	else if (err == -EINVAL)
		snprintf(h, n,
			 "kernel older than 5.11: no UFFD_USER_MODE_ONLY");
	else if (err == -ENOSYS)
		snprintf(h, n,
			 "kernel without CONFIG_USERFAULTFD, or a seccomp "
			 "filter hides the system call");
	else if (err == -EPERM)
		snprintf(h, n,
			 "a seccomp filter (container?) or an LSM policy "
			 "refuses it");
}

static void check_vias(struct probe *p)
{
	static const struct via_check init[VIA_COUNT] = {
		{UMOVE_VIA_SYSCALL, "syscall", "userfaultfd(2)", 0, ""},
		{UMOVE_VIA_DEVICE, "device", "/dev/userfaultfd", 0, ""},
		{UMOVE_VIA_USER_ONLY, "user_only",
		 "userfaultfd(2), user mode only", 0, ""},
	};
	static void (*const hint[VIA_COUNT])(int, char *, size_t) = {
		syscall_hint, device_hint, user_only_hint};

	for (int i = 0; i < VIA_COUNT; i++) {
		struct via_check *v = &p->via[i];

		*v = init[i];
		v->err = umove_check_via(v->via);
		hint[i](v->err, v->hint, sizeof(v->hint));
	}
}

static const char *via_label(const struct probe *p, int via, bool json)
{
	for (int i = 0; i < VIA_COUNT; i++)
		if (p->via[i].via == via)
			return json ? p->via[i].key : p->via[i].label;
	return "unknown";
}

static void gather(struct probe *p, const struct probe_opts *o)
{
	unsigned runs = (unsigned)o->runs;

	memset(p, 0, sizeof(*p));
	if (uname(&p->uts))
		snprintf(p->uts.release, sizeof(p->uts.release), "?");
	p->page_size = sysconf(_SC_PAGESIZE);
	check_vias(p);
	p->open_err = umove_open(&p->um, 0);
	if (p->open_err) {
		p->um = NULL;
		return;
	}
	p->features_err = umove_probe_features(&p->supported);
	if (!runs)
		runs = o->quick ? PROBE_QUICK_RUNS : BENCH_MOVE_RUNS;
	p->bench_ok = !bench_move_run(
		runs, o->quick ? BENCH_MOVE_MIN_PAGES : BENCH_MOVE_PAGES,
		&p->bench);
}

/* ---- text --------------------------------------------------------------- */

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_kernel(const struct probe *p)
{
	printf("kernel\n");
	printf("  %-32s %s\n", "release", p->uts.release);
	printf("  %-32s %s\n", "machine", p->uts.machine);
	printf("  %-32s %ld bytes\n", "page size", p->page_size);
}

static void print_vias(const struct probe *p)
{
	printf("\nopening a userfaultfd\n");
	for (int i = 0; i < VIA_COUNT; i++) {
		const struct via_check *v = &p->via[i];

		if (v->err)
			printf("  %-32s no: %s\n", v->label, strerror(-v->err));
		else
			printf("  %-32s yes\n", v->label);
		if (v->hint[0])
			printf("    %s\n", v->hint);
	}
	if (p->open_err)
		printf("  %-32s fails: %s\n", "umove_open()",
		       umove_strerror(p->open_err));
	else
		printf("  %-32s %s\n", "umove_open() uses",
		       via_label(p, umove_via(p->um), false));
}

static void print_features(const struct probe *p)
{
	uint64_t neg = umove_features(p->um);

	printf("\n%-34s %-7s %s\n", "features", "kernel", "default handle");
	if (p->features_err)
		printf("  kernel features unknown: %s\n",
		       umove_strerror(p->features_err));
	for (int i = 0; i < UMOVE_FEATURE_COUNT; i++) {
		uint64_t bit = 1ull << i;
		const char *name = umove_feature_name(bit);

		printf("  %-32s %-7s %s%s\n", name ? name : "?",
		       p->features_err ? "?" : yes_no(p->supported & bit),
		       yes_no(neg & bit),
		       bit & UMOVE_FEATURES_BEHAVIOURAL && !(neg & bit)
			       ? " (behavioural: only on request)"
			       : "");
	}
	/* A kernel newer than this tool may offer bits we cannot name. */
	if (!p->features_err && p->supported >> UMOVE_FEATURE_COUNT)
		printf("  %-32s 0x%" PRIx64 "\n", "unnamed kernel bits",
		       p->supported >> UMOVE_FEATURE_COUNT
					       << UMOVE_FEATURE_COUNT);
}

static void print_caps(const struct probe *p)
{
	unsigned caps = umove_caps(p->um);
	const char *why = cli_emulation_reason(p->um);
	const char *env = getenv("UMOVE_EMULATE");

	printf("\ncapabilities\n");
	for (size_t i = 0; i < CAPS_COUNT; i++)
		printf("  %-32s %s\n", caps_table[i].label,
		       yes_no(caps & caps_table[i].bit));
	if (why)
		printf("  %-32s emulated (UFFDIO_COPY + MADV_DONTNEED): %s\n",
		       "move path", why);
	else
		printf("  %-32s native (UFFDIO_MOVE)\n", "move path");
	if (env)
		printf("  %-32s \"%s\"%s\n", "UMOVE_EMULATE", env,
		       cli_env_emulate() ? "" : " (no effect)");
}

static int print_text(const struct probe *p)
{
	print_kernel(p);
	print_vias(p);
	if (p->open_err) {
		printf("\nno userfaultfd can be opened here: %s\n",
		       umove_strerror(p->open_err));
		return CLI_EXIT_FAIL;
	}
	print_features(p);
	print_caps(p);
	printf("\nmove cost\n");
	if (!p->bench_ok) {
		printf("  not measured: see the error above\n");
		return CLI_EXIT_FAIL;
	}
	bench_move_print(&p->bench, stdout);
	return 0;
}

/* ---- JSON --------------------------------------------------------------- */

static void json_kernel(const struct probe *p, struct json *j)
{
	json_open(j, "kernel", '{');
	json_str(j, "release", p->uts.release);
	json_str(j, "machine", p->uts.machine);
	json_str(j, "version", p->uts.version);
	json_int(j, "page_size", p->page_size);
	json_close(j, '}');
}

static void json_vias(const struct probe *p, struct json *j)
{
	json_open(j, "via", '{');
	for (int i = 0; i < VIA_COUNT; i++) {
		const struct via_check *v = &p->via[i];

		json_open(j, v->key, '{');
		json_bool(j, "ok", !v->err);
		json_int(j, "errno", -v->err);
		json_str(j, "error", v->err ? strerror(-v->err) : NULL);
		json_str(j, "hint", v->hint[0] ? v->hint : NULL);
		json_close(j, '}');
	}
	json_str(j, "chosen",
		 p->um ? via_label(p, umove_via(p->um), true) : NULL);
	json_str(j, "open_error",
		 p->open_err ? umove_strerror(p->open_err) : NULL);
	json_close(j, '}');
}

static void json_names(struct json *j, const char *key, uint64_t mask)
{
	json_open(j, key, '[');
	for (int i = 0; i < UMOVE_FEATURE_COUNT; i++) {
		const char *name = umove_feature_name(1ull << i);

		if (mask & (1ull << i))
			json_str(j, NULL, name ? name : "?");
	}
	json_close(j, ']');
}

static void json_features(const struct probe *p, struct json *j)
{
	uint64_t neg = umove_features(p->um);

	json_open(j, "features", '{');
	if (p->features_err) {
		json_null(j, "supported_mask");
		json_null(j, "supported");
	} else {
		json_u64(j, "supported_mask", p->supported);
		json_names(j, "supported", p->supported);
	}
	json_u64(j, "negotiated_mask", neg);
	json_names(j, "negotiated", neg);
	json_names(j, "behavioural", UMOVE_FEATURES_BEHAVIOURAL);
	json_close(j, '}');
}

static void json_caps(const struct probe *p, struct json *j)
{
	unsigned caps = umove_caps(p->um);

	json_open(j, "caps", '{');
	json_int(j, "mask", caps);
	for (size_t i = 0; i < CAPS_COUNT; i++)
		json_bool(j, caps_table[i].key, caps & caps_table[i].bit);
	json_close(j, '}');
}

static void json_handle(const struct probe *p, struct json *j)
{
	if (!p->um) {
		json_null(j, "features");
		json_null(j, "caps");
		json_null(j, "move_path");
		json_null(j, "move_path_reason");
		return;
	}
	json_features(p, j);
	json_caps(p, j);
	json_str(j, "move_path",
		 umove_native_move(p->um) ? "native" : "emulated");
	json_str(j, "move_path_reason", cli_emulation_reason(p->um));
}

static int print_json(const struct probe *p)
{
	struct json j;

	json_init(&j, stdout);
	json_open(&j, NULL, '{');
	json_str(&j, "umove_version", cli_version());
	json_kernel(p, &j);
	json_vias(p, &j);
	json_handle(p, &j);
	json_str(&j, "umove_emulate_env", getenv("UMOVE_EMULATE"));
	if (p->bench_ok)
		bench_move_json(&p->bench, &j, "bench");
	else
		json_null(&j, "bench");
	json_close(&j, '}');
	json_finish(&j);
	return p->open_err || !p->bench_ok ? CLI_EXIT_FAIL : 0;
}

/* ---- command ------------------------------------------------------------ */

static const char probe_usage[] =
	"usage: umove probe [--json] [--runs N] [--quick]\n"
	"  --json     print one JSON object on stdout\n"
	"  --runs N   runs per cost measurement; the median is reported "
	"(default 7, 3 with --quick)\n"
	"  --quick    measure 512 pages per run instead of 2048\n";

/* 0 to run, else the exit status (--help sets *done and returns 0). */
static int parse_probe(int argc, char **argv, struct probe_opts *o, bool *done)
{
	const struct cli_opt opts[] = {
		{"json", 0, CLI_OPT_FLAG, &o->json, 0, 0},
		{"runs", 0, CLI_OPT_COUNT, &o->runs, 1, BENCH_MOVE_MAX_RUNS},
		{"quick", 0, CLI_OPT_FLAG, &o->quick, 0, 0},
	};
	const char *cmd = "umove probe";
	int ret = cli_parse_options(cmd, probe_usage, argc, argv, opts,
				    sizeof(opts) / sizeof(opts[0]), done);

	if (ret || *done)
		return ret;
	return cli_no_arguments(cmd, probe_usage, argc, argv);
}

int cmd_probe(int argc, char **argv)
{
	struct probe_opts o = {false, false, 0};
	struct probe p;
	bool done = false;
	int ret = parse_probe(argc, argv, &o, &done);

	if (ret || done)
		return ret;
	gather(&p, &o);
	ret = o.json ? print_json(&p) : print_text(&p);
	umove_close(p.um);
	return ret;
}
