/* SPDX-License-Identifier: MIT */
/*
 * linux-bench: the whole-VMM benchmark, run in the arm64 KVM test host under QEMU -icount
 * (tests/bench/run-kvm-bench.sh), one emulated CPU. Figures, never pass/fail on time.
 *
 *   linux-bench HYP_RUN KERNEL INITRD DISK
 *
 * 1. boot → PSCI power-off of the Debian kernel under hyp-run (256 MiB, 1 and then 2 vCPUs, the
 *    guest's /init is tests/bench/linux-bench-init.c and powers off at once): instructions from
 *    fork to reaping hyp-run (CNTVCT ticks × 16: one tick is 16 instructions under -icount;
 *    idle time the emulator skips to the next timer is included, as in any wall-clock
 *    measurement) and hyp-run's peak RSS (getrusage of the child).
 * 2. one more 1-vCPU boot with the kvm:kvm_guest_fault trace event on: stage-2 faults per boot
 *    (guest aborts on RAM, split into data and instruction aborts; MMIO aborts are not counted).
 * 3. the disk workloads (the guest's /init with libhyp_bench_disk): per request, instructions as
 *    the guest timed them with CNTVCT, and KVM's exit counters (debugfs, per VM) read while the
 *    guest sleeps around each window, minus an empty window's (the markers' own cost).
 * 4. VM create → first exit (1 vCPU, 64 MiB, a guest whose first instruction stores to an
 *    unbacked IPA), libhyp vs a raw /dev/kvm twin doing the same ioctls, without and with the
 *    in-kernel vGICv3; median of ROUNDS on this thread.
 *
 * Reference figures (kvmtool b48735e, measured on this rig, see issue 15) are printed beside
 * ours with the ratio.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libhyp/hyp.h>

#define INSNS_PER_TICK 16u
#define TRACING "/sys/kernel/tracing"
#define DEBUGFS_KVM "/sys/kernel/debug/kvm"
#define CMDLINE "console=ttyAMA0 panic=-1 quiet"
#define RAM_BASE 0x40000000ull
#define CREATE_RAM (64u << 20)
#define CREATE_ROUNDS 7
#define MMIO_IPA 0x0b000000ull

static const char *hyp_run, *kernel, *initrd, *disk;
/* Diagnostics only: more hyp-run options (LIBHYP_BENCH_ONLY=boot-timeline,--sve=off,...). */
static char *extra_args[8];
static unsigned nr_extra_args;

static inline uint64_t cntvct(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
	return v;
}

static void print_vs(const char *what, double ours, double kvmtool, const char *unit)
{
	if (kvmtool > 0)
		printf("linux-bench: %-44s %12.1f%s  kvmtool %12.1f%s  ratio %.3f\n", what, ours,
		       unit, kvmtool, unit, ours / kvmtool);
	else
		printf("linux-bench: %-44s %12.1f%s\n", what, ours, unit);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* ------------------------------------------------------------------------- hyp-run runs */

struct run {
	unsigned cpus;
	bool disk;
	bool io_thread; /* the disk with ",iothread" (HYP_DEV_IO_THREAD) */
	bool timeline;	/* the guest prints its idle time and kernel log (boot-timeline) */
	uint64_t ticks;
	uint64_t cpu_ns; /* hyp-run's CPU time, all threads, guest time included */
	long maxrss_kb;
	int status;
};

enum spawn_mode {
	SPAWN_PLAIN,
	SPAWN_PTRACED, /* under PTRACE_TRACEME: stops at the exec */
	SPAWN_STOPPED, /* stops itself (SIGSTOP) before the exec, to be traced from the start */
};

/* Start hyp-run with its console on @out_fd. */
static pid_t spawn(const struct run *run, int out_fd, enum spawn_mode mode)
{
	char cpus[8], cmdline[160], disk_arg[PATH_MAX + 16];
	const char *argv[28];
	unsigned n = 0;
	pid_t pid;

	snprintf(cpus, sizeof(cpus), "%u", run->cpus);
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", CMDLINE, run->disk ? " libhyp_bench_disk" : "",
		 run->timeline ? " libhyp_bench_timeline initcall_debug" : "");
	argv[n++] = hyp_run;
	argv[n++] = "--backend";
	argv[n++] = "kvm";
	argv[n++] = "--cpus";
	argv[n++] = cpus;
	argv[n++] = "--mem";
	argv[n++] = "256M";
	argv[n++] = "--kernel";
	argv[n++] = kernel;
	argv[n++] = "--initrd";
	argv[n++] = initrd;
	if (run->disk) {
		snprintf(disk_arg, sizeof(disk_arg), "%s%s", disk,
			 run->io_thread ? ",iothread" : "");
		argv[n++] = "--disk";
		argv[n++] = disk_arg;
	}
	argv[n++] = "--cmdline";
	argv[n++] = cmdline;
	for (unsigned i = 0; i < nr_extra_args; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(out_fd, 1);
		dup2(out_fd, 2);
		if (mode == SPAWN_PTRACED)
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		else if (mode == SPAWN_STOPPED)
			raise(SIGSTOP);
		execv(hyp_run, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int finish(struct run *run, pid_t pid, uint64_t t0)
{
	struct rusage ru;
	int status;

	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
		return -1;
	run->ticks = cntvct() - t0;
	run->maxrss_kb = ru.ru_maxrss;
	run->cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
		      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
	run->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return run->status == 0 ? 0 : -1;
}

static void show_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# %s", line);
	fclose(f);
}

/* A boot to power-off with the console in a file (the driver does nothing meanwhile). */
static int boot(struct run *run)
{
	const char *log = "/tmp/linux-bench-boot.log";
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint64_t t0;
	pid_t pid;

	if (fd < 0)
		return -1;
	t0 = cntvct();
	pid = spawn(run, fd, SPAWN_PLAIN);
	close(fd);
	if (finish(run, pid, t0)) {
		printf("linux-bench: hyp-run (%u vCPUs) failed with status %d:\n", run->cpus,
		       run->status);
		show_log(log);
		return -1;
	}
	return 0;
}

/*
 * Where the peak RSS is: the 1-vCPU boot once more with hyp-run's main thread traced
 * (PTRACE_SYSCALL), so that when it unmaps a region of 16 MiB or more (the guest RAM, at VM
 * destruction) or else at its exit, /proc/PID/smaps is read: the resident size of each mapping
 * (64 KiB or more), the rest summed, and VmHWM beside VmRSS (if they differ, the peak was
 * something freed before). Diagnostic only (LIBHYP_BENCH_ONLY=rss): the tracing stops hyp-run
 * at every system call and signal of that thread, so its time is not a figure.
 */
static void print_smaps(pid_t pid)
{
	char path[64], line[512], name[256] = "";
	unsigned long long lo = 0, hi = 0, rss_kb, small_kb = 0, anon_huge_kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, v;
		int off = 0;

		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &a, &b, &off) == 2 && off > 0) {
			lo = a;
			hi = b;
			snprintf(name, sizeof(name), "%s", line + off);
			name[strcspn(name, "\n")] = 0;
		} else if (sscanf(line, "Rss: %llu kB", &rss_kb) == 1) {
			if (rss_kb >= 64)
				printf("linux-bench: rss %8llu kB  %12llx-%12llx (%7llu kB) %s\n",
				       rss_kb, lo, hi, (hi - lo) >> 10, name[0] ? name : "[anon]");
			else
				small_kb += rss_kb;
		} else if (sscanf(line, "AnonHugePages: %llu kB", &v) == 1) {
			anon_huge_kb += v;
		}
	}
	fclose(f);
	printf("linux-bench: rss %8llu kB  in mappings under 64 kB; AnonHugePages %llu kB\n",
	       small_kb, anon_huge_kb);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM", 5) || !strncmp(line, "VmRSS", 5) ||
		    !strncmp(line, "RssAnon", 7) || !strncmp(line, "RssFile", 7) ||
		    !strncmp(line, "Threads", 7))
			printf("linux-bench: %s", line);
	fclose(f);
}

/* Per 2 MiB block of the region being unmapped (the guest RAM): 4 KiB pages not all zero. */
static void print_touched(pid_t pid, unsigned long long addr, unsigned long long len)
{
	static uint8_t page[4096];
	char path[64], line[1024];
	unsigned total = 0, blocks = 0;
	size_t used = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	line[0] = 0;
	for (unsigned long long b = 0; b < len; b += 2u << 20) {
		unsigned n = 0;

		for (unsigned long long p = b; p < b + (2u << 20) && p < len; p += 4096) {
			bool zero = true;

			if (pread(fd, page, sizeof(page), (off_t)(addr + p)) !=
			    (ssize_t)sizeof(page))
				break;
			for (unsigned i = 0; i < sizeof(page) && zero; i++)
				zero = !page[i];
			n += !zero;
		}
		total += n;
		blocks += n > 0;
		used += (size_t)snprintf(line + used, sizeof(line) - used, " %u", n);
		if (used > sizeof(line) - 8 || b + (2u << 20) >= len) {
			printf("linux-bench: nonzero 4K pages per 2M block:%s\n", line);
			used = 0;
			line[0] = 0;
		}
	}
	printf("linux-bench: guest RAM: %u nonzero 4 KiB pages (%u kB) in %u 2 MiB blocks\n", total,
	       total * 4, blocks);
	close(fd);
}

static int rss_breakdown(void)
{
	struct run run = { .cpus = 1 };
	int fd = open("/tmp/linux-bench-boot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool shown = false, in_syscall = false;
	int status, sig;
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = spawn(&run, fd, SPAWN_PTRACED);
	close(fd);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return -1;
	/* Stopped at exec. */
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD)))
		return -1;
	sig = 0;
	for (;;) {
		if (ptrace(shown ? PTRACE_CONT : PTRACE_SYSCALL, pid, NULL, (void *)(long)sig))
			return -1;
		if (waitpid(pid, &status, 0) != pid || WIFEXITED(status) || WIFSIGNALED(status))
			return -1;
		sig = 0;
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			if (!shown)
				print_smaps(pid);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			waitpid(pid, &status, 0);
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		}
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			unsigned long long regs[34];
			struct iovec iov = { regs, sizeof(regs) };

			in_syscall = !in_syscall;
			/* aarch64: x8 the number (215: munmap), x1 the length. */
			if (in_syscall &&
			    !ptrace(PTRACE_GETREGSET, pid, (void *)1 /* NT_PRSTATUS */, &iov) &&
			    regs[8] == 215 && regs[1] >= (16ull << 20)) {
				printf("linux-bench: at munmap of %llu MiB:\n", regs[1] >> 20);
				print_smaps(pid);
				print_touched(pid, regs[0], regs[1]);
				shown = true;
			}
			continue;
		}
		sig = WSTOPSIG(status);
	}
}

/* ------------------------------------------------------------------------- stage-2 faults */

struct faults {
	unsigned long data, insn, mmio;
};

static int trace_faults(bool on)
{
	if (access(TRACING "/trace", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	if (on &&
	    (write_file(TRACING "/buffer_size_kb", "32768\n") || write_file(TRACING "/trace", "")))
		return -1;
	return write_file(TRACING "/events/kvm/kvm_guest_fault/enable", on ? "1\n" : "0\n");
}

/* Count the kvm_guest_fault events in the trace buffer: RAM (stage 2) by ESR class, or MMIO. */
static int count_faults(struct faults *f)
{
	FILE *t = fopen(TRACING "/trace", "r");
	char line[512];

	memset(f, 0, sizeof(*f));
	if (!t)
		return -1;
	while (fgets(line, sizeof(line), t)) {
		unsigned long long ipa, esr;
		char *p = strstr(line, "kvm_guest_fault: ipa ");

		if (!p || sscanf(p, "kvm_guest_fault: ipa %llx, hsr %llx", &ipa, &esr) != 2)
			continue;
		if (ipa < RAM_BASE)
			f->mmio++;
		else if ((esr >> 26) == 0x20)
			f->insn++;
		else
			f->data++;
	}
	fclose(t);
	return 0;
}

/* ------------------------------------------------------------------------- exit counters */

static const char *const stat_names[] = { "exits",	   "mmio_exit_user", "mmio_exit_kernel",
					  "wfi_exit_stat", "hvc_exit_stat",  "signal_exits" };
#define NR_STATS (sizeof(stat_names) / sizeof(stat_names[0]))

struct stats {
	uint64_t v[NR_STATS];
	struct faults f;
};

/* LIBHYP_BENCH_ONLY=disk-split (below). */
static bool split_mode;

/* KVM's per-VM debugfs directory is "<pid>-<vm fd>". */
static int read_stats(pid_t pid, struct stats *s)
{
	char prefix[32], path[512];
	struct dirent *e;
	DIR *d = opendir(DEBUGFS_KVM);
	int found = -1;

	if (!d)
		return -1;
	snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		found = 0;
		for (unsigned i = 0; i < NR_STATS; i++) {
			FILE *f;

			snprintf(path, sizeof(path), DEBUGFS_KVM "/%s/%s", e->d_name,
				 stat_names[i]);
			f = fopen(path, "r");
			if (!f || fscanf(f, "%" SCNu64, &s->v[i]) != 1)
				found = -1;
			if (f)
				fclose(f);
		}
		break;
	}
	closedir(d);
	/* (The split's trace is long: read once, after the run.) */
	if (!split_mode)
		count_faults(&s->f);
	else
		memset(&s->f, 0, sizeof(s->f));
	return found;
}

#define MAX_WINDOWS 8

/*
 * LIBHYP_BENCH_ONLY=disk-split (diagnostic): where each disk workload's instructions go, from the
 * trace of its window (between trace_marker lines written at the guest's markers): the vCPU
 * thread's time in the guest (kvm_entry → kvm_exit), in KVM_RUN outside the guest (KVM's exit
 * handling, L1 kernel), in its other system calls (preadv, pwritev, eventfd...: L1 kernel), and
 * in hyp-run itself (user space), beside other L1 tasks and idle time (sched_switch), each per
 * request. Under -icount shift=0 a nanosecond is an instruction; trace timestamps have
 * microseconds, and the tracing adds its own cost to each event.
 */
enum split_part {
	SPLIT_GUEST,
	SPLIT_KVM,
	SPLIT_SYSCALL,
	SPLIT_USER,
	SPLIT_OTHER,
	SPLIT_IDLE,
	SPLIT_PARTS
};
static const char *const split_names[SPLIT_PARTS] = { "guest",	 "kvm",		"syscalls",
						      "hyp-run", "other-tasks", "idle" };

static void write_marker(const char *what, const char *name)
{
	char text[96];

	snprintf(text, sizeof(text), "libhyp-split %s %.63s\n", what, name);
	write_file(TRACING "/trace_marker", text);
}

/* @detail: also each MMIO access and trapped system register (boot-split). */
static int split_trace(pid_t pid, bool on, bool detail)
{
	char filter[64];
	static const char *const events[] = { "raw_syscalls/sys_enter", "raw_syscalls/sys_exit",
					      "kvm/kvm_entry",		"kvm/kvm_exit",
					      "kvm/kvm_mmio",		"kvm/kvm_sys_access" };
	char path[128];

	snprintf(filter, sizeof(filter), "common_pid == %d\n", (int)pid);
	for (unsigned i = 0; i < (detail ? 6u : 4u); i++) {
		snprintf(path, sizeof(path), TRACING "/events/%s/filter", events[i]);
		if (on && write_file(path, filter))
			return -1;
		snprintf(path, sizeof(path), TRACING "/events/%s/enable", events[i]);
		if (write_file(path, on ? "1\n" : "0\n"))
			return -1;
	}
	return write_file(TRACING "/events/sched/sched_switch/enable", on ? "1\n" : "0\n");
}

struct window {
	char name[64];
	struct stats begin, diff;
	bool open, done;
	unsigned long long requests;
};

/* Beyond the parts (LIBHYP_BENCH_ONLY=boot-split): system call time and count by number, and
 * guest exits by reason as the kvm_exit event words it. */
#define SPLIT_MAX_NR 512
#define SPLIT_MAX_REASONS 64
struct split_detail {
	uint64_t sys_ns[SPLIT_MAX_NR], sys_count[SPLIT_MAX_NR];
	char reason[SPLIT_MAX_REASONS][48];
	uint64_t reason_count[SPLIT_MAX_REASONS];
	unsigned reasons;
	/* Stretches of 1 ms or more off the CPU, with the event of hyp-run's before each. */
	struct {
		uint64_t since, ns;
		char before[160];
		char stack[400]; /* the kernel stack it left the CPU with (a sched_switch trigger) */
	} off[16];
	/* Trigger stacks come just before or just after their sched_switch line: the last one
	 * seen, and whether lines that follow belong to off[offs] too. */
	char cur_stack[400];
	bool stack_open, stack_fresh;
	unsigned offs;
	char last_own[160];
	uint64_t first_ts;
	/* hyp-run's first system calls, with when they started. */
	char first_calls[200][96];
	uint64_t first_call_ts[200];
	unsigned first_count;
};

static void count_exit_reason(struct split_detail *d, const char *text)
{
	char r[48];
	size_t n = strcspn(text, ",\n");
	unsigned i;

	snprintf(r, sizeof(r), "%.*s", (int)(n < sizeof(r) - 1 ? n : sizeof(r) - 1), text);
	for (i = 0; i < d->reasons; i++)
		if (!strcmp(d->reason[i], r))
			break;
	if (i == d->reasons) {
		if (d->reasons == SPLIT_MAX_REASONS)
			i = SPLIT_MAX_REASONS - 1; /* the last row takes the rest */
		else
			snprintf(d->reason[d->reasons++], sizeof(r), "%s", r);
	}
	d->reason_count[i]++;
}

/* Parse the trace between the "libhyp-split begin NAME" and "end NAME" markers into @ns per part
 * (and @d, if not NULL). */
static int split_parse(pid_t pid, const char *name, uint64_t ns[SPLIT_PARTS],
		       struct split_detail *d)
{
	unsigned long long sys_nr = 0;
	uint64_t sys_since = 0;
	char begin[96], end[96];
	FILE *t = fopen(TRACING "/trace", "r");
	char line[512];
	bool inside = false, in_guest = false, in_run = false, in_sys = false;
	int on_cpu = -1; /* -1 unknown/other, 0 idle, 1 the vCPU thread */
	uint64_t last = 0;

	memset(ns, 0, sizeof(uint64_t) * SPLIT_PARTS);
	snprintf(begin, sizeof(begin), "libhyp-split begin %.63s\n", name);
	snprintf(end, sizeof(end), "libhyp-split end %.63s\n", name);
	if (!t)
		return -1;
	while (fgets(line, sizeof(line), t)) {
		unsigned long long sec, usec, nr, cmd;
		int prev, next;
		uint64_t ts;
		char *p = strstr(line, "]");
		enum split_part part;

		if (d && strstr(line, " => ")) {
			char *f = strstr(line, " => ") + 4;
			char *bufs[2] = { d->cur_stack, d->stack_open && d->offs < 16 ?
								d->off[d->offs].stack :
								NULL };

			for (int b = 0; b < 2; b++) {
				size_t used = bufs[b] ? strlen(bufs[b]) : 0;

				if (bufs[b])
					snprintf(bufs[b] + used, sizeof(d->cur_stack) - used,
						 "%s%.*s", used ? " < " : "",
						 (int)strcspn(f, "+\n"), f);
			}
			continue;
		}
		if (d && strstr(line, "<stack trace>")) {
			d->cur_stack[0] = 0;
			if (d->stack_open && d->stack_fresh && d->offs < 16)
				d->off[d->offs].stack[0] = 0;
			d->stack_fresh = false;
			continue;
		}
		if (d)
			d->stack_open = false;
		if (line[0] == '#' || !p)
			continue;
		/* "<task>-<pid> [cpu] <flags> <sec>.<usec>: <event>: ..." */
		p = strchr(p, ':');
		while (p && p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		while (p && p > line && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9')))
			p--;
		if (!p || sscanf(p, "%llu.%llu:", &sec, &usec) != 2)
			continue;
		ts = (uint64_t)sec * 1000000000ull + (uint64_t)usec * 1000ull;
		if (inside && last) {
			if (on_cpu == 0)
				part = SPLIT_IDLE;
			else if (on_cpu < 0)
				part = SPLIT_OTHER;
			else if (in_guest)
				part = SPLIT_GUEST;
			else if (in_run)
				part = SPLIT_KVM;
			else if (in_sys)
				part = SPLIT_SYSCALL;
			else
				part = SPLIT_USER;
			ns[part] += ts - last;
		}
		last = ts;
		if (strstr(line, begin)) {
			if (d)
				d->first_ts = ts;
			inside = true;
			continue;
		}
		if (inside && strstr(line, end))
			break;
		if ((p = strstr(line, "sched_switch: ")) && (p = strstr(p, "prev_pid=")) &&
		    sscanf(p, "prev_pid=%d", &prev) == 1 && (p = strstr(p, "next_pid=")) &&
		    sscanf(p, "next_pid=%d", &next) == 1) {
			if (d && prev == pid && next != pid && d->offs < 16) {
				d->off[d->offs].since = ts;
				snprintf(d->off[d->offs].before, sizeof(d->off[0].before), "%s",
					 d->last_own);
				snprintf(d->off[d->offs].stack, sizeof(d->off[0].stack), "%s",
					 d->cur_stack);
				d->stack_open = d->stack_fresh = true;
			}
			if (d && next == pid && prev != pid && d->offs < 16 &&
			    d->off[d->offs].since) {
				d->off[d->offs].ns = ts - d->off[d->offs].since;
				if (d->off[d->offs].ns >= 1000000)
					d->offs++;
				else
					d->off[d->offs].since = 0;
			}
			on_cpu = next == pid ? 1 : next == 0 ? 0 : -1;
		} else if ((p = strstr(line, "sys_enter: NR ")) &&
			   sscanf(p, "sys_enter: NR %llu", &nr) == 1) {
			if (d)
				snprintf(d->last_own, sizeof(d->last_own), "%.*s",
					 (int)strcspn(p, "\n"), p);
			if (d && inside && d->first_count < 200) {
				snprintf(d->first_calls[d->first_count], sizeof(d->first_calls[0]),
					 "%.*s", (int)strcspn(p, "\n"), p);
				d->first_call_ts[d->first_count++] = ts;
			}
			on_cpu = 1;
			in_sys = true;
			sys_nr = nr;
			sys_since = ts;
			/* ioctl (29 on arm64) with KVM_RUN */
			in_run = nr == 29 && sscanf(p, "sys_enter: NR %*u (%*x, %llx", &cmd) == 1 &&
				 cmd == KVM_RUN;
		} else if (strstr(line, "sys_exit: NR ")) {
			if (d && in_sys && sys_nr < SPLIT_MAX_NR) {
				d->sys_ns[sys_nr] += ts - sys_since;
				d->sys_count[sys_nr]++;
			}
			on_cpu = 1;
			in_sys = in_run = in_guest = false;
		} else if (strstr(line, "kvm_entry: ")) {
			on_cpu = 1;
			in_guest = true;
		} else if (d && (p = strstr(line, "kvm_mmio: "))) {
			char kind[32], key[64];
			unsigned len;
			unsigned long long gpa;

			/* "mmio read len 4 gpa 0x9000fe0 val 0x11": counted per 4 KiB page. */
			if (sscanf(p, "kvm_mmio: mmio %31s len %u gpa %llx", kind, &len, &gpa) ==
			    3) {
				snprintf(key, sizeof(key), "MMIO %s page %#llx", kind,
					 gpa & ~0xfffull);
				count_exit_reason(d, key);
			}
		} else if (d && (p = strstr(line, "kvm_sys_access: "))) {
			char key[48];
			const char *what = strstr(p, ", ");

			/* Without the PC: one row per register and direction. */
			snprintf(key, sizeof(key), "sysreg%.*s",
				 (int)strcspn(what ? what : "", "\n"), what ? what : "");
			for (char *c = key; *c; c++)
				if (*c == ',')
					*c = ';';
			count_exit_reason(d, key);
		} else if ((p = strstr(line, "kvm_exit: "))) {
			if (d)
				count_exit_reason(d, p + strlen("kvm_exit: "));
			on_cpu = 1;
			in_guest = false;
		}
	}
	fclose(t);
	return inside ? 0 : -1;
}

/* The kernel stack with which @pid leaves the CPU, into the trace (a sched_switch trigger), or
 * no more. */
static void trace_switch_stacks(pid_t pid, bool on)
{
	char trigger[64];

	snprintf(trigger, sizeof(trigger), "%sstacktrace if prev_pid == %d\n", on ? "" : "!",
		 (int)pid);
	write_file(TRACING "/events/sched/sched_switch/trigger", trigger);
}

/*
 * LIBHYP_BENCH_ONLY=boot-split (diagnostic): where the instructions of one 1-vCPU boot go, as
 * disk-split splits a request: hyp-run starts stopped, the trace is set on its pid, and the split
 * runs from its exec to its reaping; then the system calls that took the most time, and the
 * guest's exits by reason. The tracing adds its own cost to every event, so the total is above an
 * untraced boot's.
 */
static int boot_split(void)
{
	static struct split_detail d;
	struct run run = { .cpus = 1 };
	uint64_t ns[SPLIT_PARTS], total = 0, t0;
	int fd = open("/tmp/linux-bench-boot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int status;
	pid_t pid;

	if (fd < 0)
		return -1;
	if (access(TRACING "/trace", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	write_file(TRACING "/buffer_size_kb", "65536\n");
	write_file(TRACING "/trace", "");
	t0 = cntvct();
	pid = spawn(&run, fd, SPAWN_STOPPED);
	close(fd);
	if (pid < 0 || waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status))
		return -1;
	if (split_trace(pid, true, true)) {
		printf("linux-bench: boot-split: cannot enable the trace events\n");
		kill(pid, SIGKILL);
		finish(&run, pid, t0);
		return -1;
	}
	trace_switch_stacks(pid, true);
	write_marker("begin", "boot");
	kill(pid, SIGCONT);
	if (finish(&run, pid, t0)) {
		split_trace(pid, false, true);
		printf("linux-bench: boot-split: hyp-run failed with status %d\n", run.status);
		show_log("/tmp/linux-bench-boot.log");
		return -1;
	}
	write_marker("end", "boot");
	split_trace(pid, false, true);
	trace_switch_stacks(pid, false);
	if (split_parse(pid, "boot", ns, &d)) {
		printf("linux-bench: boot-split: no trace between the markers\n");
		return -1;
	}
	for (unsigned k = 0; k < SPLIT_PARTS; k++)
		total += ns[k];
	printf("linux-bench: boot-split: %.1fM insns traced (%.1fM by CNTVCT):",
	       (double)total / 1e6, (double)run.ticks * INSNS_PER_TICK / 1e6);
	for (unsigned k = 0; k < SPLIT_PARTS; k++)
		printf(" %s %.1fM", split_names[k], (double)ns[k] / 1e6);
	printf("\n");
	/* The ten system calls with the most time. */
	for (unsigned rank = 0; rank < 10; rank++) {
		unsigned best = SPLIT_MAX_NR;

		for (unsigned nr = 0; nr < SPLIT_MAX_NR; nr++)
			if (d.sys_ns[nr] && (best == SPLIT_MAX_NR || d.sys_ns[nr] > d.sys_ns[best]))
				best = nr;
		if (best == SPLIT_MAX_NR)
			break;
		printf("linux-bench:   system call %u: %" PRIu64 " calls, %.2fM insns\n", best,
		       d.sys_count[best], (double)d.sys_ns[best] / 1e6);
		d.sys_ns[best] = 0;
	}
	for (unsigned i = 0; i < d.reasons; i++)
		printf("linux-bench:   guest exits %s: %" PRIu64 "\n", d.reason[i],
		       d.reason_count[i]);
	for (unsigned i = 0; i < d.first_count; i++)
		printf("linux-bench:   +%.2fM %s\n",
		       (double)(d.first_call_ts[i] - d.first_ts) / 1e6, d.first_calls[i]);
	for (unsigned i = 0; i < d.offs; i++)
		printf("linux-bench:   off the CPU %.2fM insns at +%.1fM, after %s; in %s\n",
		       (double)d.off[i].ns / 1e6, (double)(d.off[i].since - d.first_ts) / 1e6,
		       d.off[i].before, d.off[i].stack);
	return 0;
}

/* kvmtool (virtio-pci) per-request instructions from issue 15, by workload. */
static double kvmtool_per_request(const char *name)
{
	if (!strcmp(name, "seq-read-1m"))
		return 765.5e3;
	if (!strcmp(name, "rand-read-4k"))
		return 53.1e3;
	if (!strcmp(name, "scatter-read-1m-128seg"))
		return 683.2e3;
	if (!strcmp(name, "write-1m-128seg-fsync16"))
		return 773.7e3;
	return 0;
}

/* The disk workloads; @io_thread: served by the device's I/O thread (ioeventfd + irqfd), the
 * figures labelled so. */
static int disk_run(bool io_thread)
{
	struct window w[MAX_WINDOWS] = { 0 };
	struct window *calib = NULL;
	struct run run = { .cpus = 1, .disk = true, .io_thread = io_thread };
	const char *tag = io_thread ? " [I/O thread]" : "";
	unsigned nw = 0, results = 0;
	char line[512];
	int pipefd[2];
	uint64_t t0;
	FILE *in;
	pid_t pid;

	if (access(DEBUGFS_KVM, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (pipe(pipefd) || trace_faults(true))
		return -1;
	t0 = cntvct();
	pid = spawn(&run, pipefd[1], SPAWN_PLAIN);
	close(pipefd[1]);
	if (split_mode && split_trace(pid, true, false))
		printf("linux-bench: disk-split: cannot enable the trace events\n");
	in = fdopen(pipefd[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		char what[16], name[64], label[96];
		unsigned long long requests, ticks;
		char *p;

		if ((p = strstr(line, "LIBHYP-BENCH-MARK ")) &&
		    sscanf(p, "LIBHYP-BENCH-MARK %15s %63s", what, name) == 2) {
			struct window *x = NULL;

			for (unsigned i = 0; i < nw; i++)
				if (!strcmp(w[i].name, name))
					x = &w[i];
			if (!strcmp(what, "begin") && !x && nw < MAX_WINDOWS) {
				x = &w[nw++];
				snprintf(x->name, sizeof(x->name), "%s", name);
				if (!split_mode)
					write_file(TRACING "/trace", "");
				x->open = read_stats(pid, &x->begin) == 0;
				if (split_mode)
					write_marker("begin", name);
			} else if (!strcmp(what, "end") && x && x->open) {
				struct stats end;

				if (split_mode)
					write_marker("end", name);

				if (read_stats(pid, &end) == 0) {
					for (unsigned i = 0; i < NR_STATS; i++)
						x->diff.v[i] = end.v[i] - x->begin.v[i];
					x->diff.f = end.f;
					x->done = true;
				}
			}
			continue;
		}
		if ((p = strstr(line, "LIBHYP-BENCH: disk ")) &&
		    sscanf(p, "LIBHYP-BENCH: disk %63s requests %llu ticks %llu", name, &requests,
			   &ticks) == 3) {
			struct window *x = NULL;

			for (unsigned i = 0; i < nw; i++)
				if (!strcmp(w[i].name, name))
					x = &w[i];
			if (!strcmp(name, "calibrate")) {
				calib = x && x->done ? x : NULL;
				continue;
			}
			results++;
			snprintf(label, sizeof(label), "%s%s", name, tag);
			print_vs(label, (double)ticks * INSNS_PER_TICK / (double)requests,
				 kvmtool_per_request(name), " insns/req");
			if (x && x->done && calib) {
				printf("linux-bench:   %s exits per request:", label);
				for (unsigned i = 0; i < NR_STATS; i++)
					printf(" %s %.2f", stat_names[i],
					       ((double)x->diff.v[i] - (double)calib->diff.v[i]) /
						       (double)requests);
				if (split_mode)
					printf(" s2-faults (not traced here)\n");
				else
					printf(" s2-faults %.2f\n",
					       (double)(x->diff.f.data + x->diff.f.insn) /
						       (double)requests);
			} else {
				printf("linux-bench:   %s: no exit counters (debugfs?)\n", label);
			}
			if (x)
				x->requests = requests;
			continue;
		}
		if (strstr(line, "LIBHYP-BENCH: error") || strstr(line, "hyp-run:"))
			printf("# %s", line);
	}
	if (in)
		fclose(in);
	trace_faults(false);
	if (split_mode) {
		split_trace(pid, false, false);
		for (unsigned i = 0; i < nw; i++) {
			uint64_t ns[SPLIT_PARTS];

			if (!strcmp(w[i].name, "calibrate") || !w[i].requests ||
			    split_parse(pid, w[i].name, ns, NULL))
				continue;
			printf("linux-bench:   %s split per request (K insns, traced):", w[i].name);
			for (unsigned k = 0; k < SPLIT_PARTS; k++)
				printf(" %s %.1f", split_names[k],
				       (double)ns[k] / (double)w[i].requests / 1e3);
			printf("\n");
		}
	}
	if (finish(&run, pid, t0) || results != 4) {
		printf("linux-bench: disk run failed (status %d, %u results)\n", run.status,
		       results);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------- create → exit */

static const uint32_t create_guest[] = {
	0xd2a16001, /* movz x1, #0x0b00, lsl #16 */
	0xf9000020, /* str x0, [x1] */
	0x14000000, /* b . */
};

static void *create_ram;

static int raw_create(bool vgic)
{
	struct kvm_userspace_memory_region mr = { .slot = 0,
						  .guest_phys_addr = RAM_BASE,
						  .memory_size = CREATE_RAM,
						  .userspace_addr = (uintptr_t)create_ram };
	struct kvm_vcpu_init init;
	uint64_t pc = RAM_BASE, dist = HYP_DEFAULT_GICD_BASE, redist = HYP_DEFAULT_GICR_BASE;
	struct kvm_one_reg reg = { .id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
					 (offsetof(struct kvm_regs, regs.pc) / 4),
				   .addr = (uintptr_t)&pc };
	int kvm, vm, vcpu = -1, gic = -1, ok = -1;
	struct kvm_run *run = MAP_FAILED;
	long size;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr))
		goto out;
	if (vgic) {
		struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
		struct kvm_device_attr a = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
					     .attr = KVM_VGIC_V3_ADDR_TYPE_DIST,
					     .addr = (uintptr_t)&dist };

		if (ioctl(vm, KVM_CREATE_DEVICE, &dev))
			goto out;
		gic = (int)dev.fd;
		if (ioctl(gic, KVM_SET_DEVICE_ATTR, &a))
			goto out;
		a.attr = KVM_VGIC_V3_ADDR_TYPE_REDIST;
		a.addr = (uintptr_t)&redist;
		if (ioctl(gic, KVM_SET_DEVICE_ATTR, &a))
			goto out;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || size <= 0)
		goto out;
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init))
		goto out;
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) || ioctl(vcpu, KVM_SET_ONE_REG, &reg))
		goto out;
	if (vgic) {
		/* The same 64 lines libhyp gives a VM with no devices (KVM's default is 256). */
		uint32_t nr_irqs = 64;
		struct kvm_device_attr n = { .group = KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
					     .addr = (uintptr_t)&nr_irqs };
		struct kvm_device_attr a = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL,
					     .attr = KVM_DEV_ARM_VGIC_CTRL_INIT };

		if (ioctl(gic, KVM_SET_DEVICE_ATTR, &n) || ioctl(gic, KVM_SET_DEVICE_ATTR, &a))
			goto out;
	}
	if (ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_MMIO &&
	    run->mmio.phys_addr == MMIO_IPA)
		ok = 0;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)size);
	if (vcpu >= 0)
		close(vcpu);
	if (gic >= 0)
		close(gic);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return ok;
}

static int libhyp_create(bool vgic)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend = "kvm" };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;
	int ok = -1;

	config.max_vcpus = 1;
	config.irqchip = vgic ? HYP_IRQCHIP_BACKEND : HYP_IRQCHIP_NONE;
	if (hyp_vm_create(&config, &vm))
		return -1;
	if (!hyp_vm_map(vm, RAM_BASE, create_ram, CREATE_RAM, HYP_MEM_RWX) &&
	    !hyp_vcpu_create(vm, NULL, &vcpu) && !hyp_vcpu_set_reg(vcpu, HYP_REG_PC, RAM_BASE) &&
	    !hyp_vcpu_run(vcpu) && hyp_vcpu_exit(vcpu)->reason == HYP_EXIT_MMIO &&
	    hyp_vcpu_exit(vcpu)->mmio.ipa == MMIO_IPA)
		ok = 0;
	/* Teardown is timed too, as in a process's life; kept separate below. */
	hyp_vm_destroy(vm);
	return ok;
}

/*
 * LIBHYP_BENCH_ONLY=create-syscalls (diagnostic): the system calls of one create → first exit
 * (+ destroy) of each kind, from the raw_syscalls:sys_enter trace event of this process, as
 * "NR×count" in order of first use. Shows what libhyp does beyond the raw twin.
 */
static void trace_syscalls_of(const char *what, int (*fn)(bool), bool vgic)
{
	char filter[64], line[512];
	unsigned nr[64], count[64], n = 0;
	FILE *t;

	snprintf(filter, sizeof(filter), "common_pid == %d\n", (int)getpid());
	if (write_file(TRACING "/events/raw_syscalls/sys_enter/filter", filter) ||
	    write_file(TRACING "/trace", "") ||
	    write_file(TRACING "/events/raw_syscalls/sys_enter/enable", "1\n"))
		return;
	fn(vgic);
	write_file(TRACING "/events/raw_syscalls/sys_enter/enable", "0\n");
	t = fopen(TRACING "/trace", "r");
	if (!t)
		return;
	while (fgets(line, sizeof(line), t)) {
		char *p = strstr(line, "sys_enter: NR ");
		unsigned v, i;

		if (!p || sscanf(p, "sys_enter: NR %u", &v) != 1)
			continue;
		for (i = 0; i < n && nr[i] != v; i++)
			;
		if (i == n && n < 64) {
			nr[n] = v;
			count[n++] = 0;
		}
		if (i < n)
			count[i]++;
	}
	fclose(t);
	printf("linux-bench: syscalls of %-26s", what);
	for (unsigned i = 0; i < n; i++)
		printf(" %u×%u", nr[i], count[i]);
	printf("\n");
}

static int libhyp_create(bool vgic);
static int raw_create(bool vgic);

static int create_syscalls(void)
{
	uint8_t *area = mmap(NULL, CREATE_RAM + (2u << 20), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (area == MAP_FAILED)
		return -1;
	if (access(TRACING "/trace", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	create_ram = (void *)(((uintptr_t)area + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	memset(create_ram, 0, CREATE_RAM);
	memcpy(create_ram, create_guest, sizeof(create_guest));
	for (int vgic = 0; vgic < 2; vgic++) {
		raw_create(vgic);
		libhyp_create(vgic); /* warm: first-use costs */
		trace_syscalls_of(vgic ? "raw, vGICv3" : "raw, no vGIC", raw_create, vgic);
		trace_syscalls_of(vgic ? "libhyp, vGICv3" : "libhyp, no vGIC", libhyp_create, vgic);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int create_bench(void)
{
	/* Guest RAM the same for both: 2 MiB aligned, populated once, outside the timing. */
	uint8_t *area = mmap(NULL, CREATE_RAM + (2u << 20), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double libhyp_ratio[2];

	if (area == MAP_FAILED)
		return -1;
	create_ram = (void *)(((uintptr_t)area + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	memset(create_ram, 0, CREATE_RAM);
	memcpy(create_ram, create_guest, sizeof(create_guest));
	for (int vgic = 0; vgic < 2; vgic++) {
		uint64_t raw[CREATE_ROUNDS], lib[CREATE_ROUNDS];

		/* Warm up both paths once (first-use costs in the kernel and the library). */
		if (raw_create(vgic) || libhyp_create(vgic)) {
			printf("linux-bench: create → first exit (%s) failed\n",
			       vgic ? "vGICv3" : "no vGIC");
			return -1;
		}
		for (int i = 0; i < CREATE_ROUNDS; i++) {
			uint64_t t0 = cntvct();

			raw_create(vgic);
			raw[i] = cntvct() - t0;
			t0 = cntvct();
			libhyp_create(vgic);
			lib[i] = cntvct() - t0;
		}
		qsort(raw, CREATE_ROUNDS, sizeof(raw[0]), cmp_u64);
		qsort(lib, CREATE_ROUNDS, sizeof(lib[0]), cmp_u64);
		libhyp_ratio[vgic] =
			(double)lib[CREATE_ROUNDS / 2] / (double)raw[CREATE_ROUNDS / 2];
		printf("linux-bench: create → first exit + destroy, %-8s raw %10" PRIu64
		       " insns  libhyp %10" PRIu64 " insns  ratio %.3f (kvmtool-era hyp-run: %s)\n",
		       vgic ? "vGICv3" : "no vGIC", raw[CREATE_ROUNDS / 2] * INSNS_PER_TICK,
		       lib[CREATE_ROUNDS / 2] * INSNS_PER_TICK, libhyp_ratio[vgic],
		       vgic ? "1.064" : "1.079");
	}
	munmap(area, CREATE_RAM + (2u << 20));
	return 0;
}

int main(int argc, char **argv)
{
	struct run b1 = { .cpus = 1 }, b2 = { .cpus = 2 }, traced = { .cpus = 1 };
	struct faults f;
	int failed = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: linux-bench HYP_RUN KERNEL INITRD DISK\n");
		return 2;
	}
	hyp_run = argv[1];
	kernel = argv[2];
	initrd = argv[3];
	disk = argv[4];
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* LIBHYP_BENCH_ONLY=boot2: just the 2-vCPU boot, for a test host with 2 CPUs (there the
	 * two vCPU threads run side by side instead of taking turns on one CPU, and the count
	 * is the instructions of both). */
	if (getenv("LIBHYP_BENCH_ONLY") && !strcmp(getenv("LIBHYP_BENCH_ONLY"), "boot2")) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		if (boot(&b2))
			return 1;
		printf("linux-bench: boot → power-off, 2 vCPUs on %ld L1 CPUs          %8.1fM insns  "
		       "kvmtool %8.1fM insns  ratio %.3f\n",
		       cpus, (double)b2.ticks * INSNS_PER_TICK / 1e6, 895.4,
		       (double)b2.ticks * INSNS_PER_TICK / 1e6 / 895.4);
		printf("linux-bench:   (hyp-run's own CPU time, guest included: %.1fM insns)\n",
		       (double)b2.cpu_ns / 1e6);
		return 0;
	}

	if (getenv("LIBHYP_BENCH_ONLY") && !strcmp(getenv("LIBHYP_BENCH_ONLY"), "rss"))
		return rss_breakdown() ? 1 : 0;
	if (getenv("LIBHYP_BENCH_ONLY") && !strcmp(getenv("LIBHYP_BENCH_ONLY"), "create-syscalls"))
		return create_syscalls() ? 1 : 0;
	if (getenv("LIBHYP_BENCH_ONLY") && !strcmp(getenv("LIBHYP_BENCH_ONLY"), "boot-split"))
		return boot_split() ? 1 : 0;
	/* The guest's own view of the boot: its idle time and kernel log, printed by /init. */
	if (getenv("LIBHYP_BENCH_ONLY") &&
	    !strncmp(getenv("LIBHYP_BENCH_ONLY"), "boot-timeline", strlen("boot-timeline"))) {
		struct run t = { .cpus = 1, .timeline = true };
		char *save, *arg = strtok_r(strdup(getenv("LIBHYP_BENCH_ONLY")), ",", &save);

		while ((arg = strtok_r(NULL, ",", &save)) && nr_extra_args < 8)
			extra_args[nr_extra_args++] = arg;

		if (boot(&t))
			return 1;
		show_log("/tmp/linux-bench-boot.log");
		return 0;
	}
	if (getenv("LIBHYP_BENCH_ONLY") && !strcmp(getenv("LIBHYP_BENCH_ONLY"), "disk-split")) {
		split_mode = true;
		return disk_run(false) ? 1 : 0;
	}
	if (create_bench())
		failed++;
	if (boot(&b1) == 0) {
		print_vs("boot → power-off, 1 vCPU", (double)b1.ticks * INSNS_PER_TICK / 1e6, 886.8,
			 "M insns");
		printf("linux-bench:   (of which hyp-run's own CPU time, guest included: %.1fM insns; "
		       "the rest is idle time skipped and other L1 tasks)\n",
		       (double)b1.cpu_ns / 1e6);
		print_vs("peak RSS of that boot", (double)b1.maxrss_kb / 1000.0, 64.6, " MB");
	} else {
		failed++;
	}
	if (boot(&b2) == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		char what[64];

		/* kvmtool's figure is a 2-vCPU boot on CPUs enough for both: on one L1 CPU the
		 * vCPUs take turns and spin for each other, which is no comparison (the
		 * LIBHYP_BENCH_ONLY=boot2 run on a 2-CPU test host is). */
		snprintf(what, sizeof(what), "boot → power-off, 2 vCPUs on %ld L1 CPU%s", cpus,
			 cpus == 1 ? "" : "s");
		print_vs(what, (double)b2.ticks * INSNS_PER_TICK / 1e6, cpus >= 2 ? 895.4 : 0,
			 "M insns");
		printf("linux-bench:   (of which hyp-run's own CPU time, guest included: %.1fM insns)\n",
		       (double)b2.cpu_ns / 1e6);
	} else {
		failed++;
	}
	if (trace_faults(true) == 0 && boot(&traced) == 0 && count_faults(&f) == 0) {
		printf("linux-bench: stage-2 faults per boot (1 vCPU): %lu data aborts, %lu "
		       "instruction aborts (kvmtool: 615, 11; MMIO aborts: %lu)\n",
		       f.data, f.insn, f.mmio);
		printf("linux-bench:   (that boot with the trace event on: %.1fM insns)\n",
		       (double)traced.ticks * INSNS_PER_TICK / 1e6);
	} else {
		printf("linux-bench: could not count stage-2 faults (tracefs?)\n");
		failed++;
	}
	trace_faults(false);
	if (disk_run(false))
		failed++;
	/* The same workloads through the device's I/O thread: with one request in flight at a
	 * time the vCPU waits for it either way, so this shows what the hand-over costs. */
	if (disk_run(true))
		failed++;
	printf("linux-bench: %s\n", failed ? "some figures are missing" : "all figures measured");
	return failed ? 1 : 0;
}
