/* SPDX-License-Identifier: MIT */
/*
 * /init of the Linux guest the boot and disk benchmark (linux-bench.c) runs under hyp-run. A
 * static aarch64 program, the only process.
 *
 * Kernel command line (passed to init as arguments):
 *   (nothing)        power off at once: "boot → PSCI power-off" is the whole kernel boot.
 *   libhyp_bench_disk  load the modules in /modules/order, then run the disk workloads on the raw
 *                    /dev/vda with O_DIRECT, one request in flight, and power off.
 *
 * Each workload is timed by the guest with CNTVCT_EL0 (under QEMU -icount one tick is 16
 * instructions of the emulated CPU, whatever level runs them) and printed as
 *   LIBHYP-BENCH: disk NAME requests N ticks T
 * Around each one it prints "LIBHYP-BENCH-MARK begin NAME" / "... end NAME" and sleeps briefly,
 * so that the benchmark driver in the L1 host can read KVM's exit counters while the guest is
 * idle; an empty window ("calibrate") measures what the markers themselves cost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/klog.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../linux-guest/guest-modules.h"

#define MIB (1u << 20)
#define SEGMENTS 128u
#define SEG_BYTES (MIB / SEGMENTS)

static void say(const char *fmt, ...)
{
	va_list args;

	printf("LIBHYP-BENCH: ");
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
	fflush(stdout);
}

static inline uint64_t cntvct(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The driver reads KVM's counters while the guest sleeps after a marker. */
static void mark(const char *what, const char *name)
{
	printf("LIBHYP-BENCH-MARK %s %s\n", what, name);
	fflush(stdout);
	sleep_ms(30);
}

/* 128 buffers of 8 KiB at a 16 KiB stride inside one 2 MiB transparent huge page: each buffer
 * is physically contiguous, no two are adjacent, so a 1 MiB request has 128 segments. */
static void scattered_iov(uint8_t *base, struct iovec *iov)
{
	for (unsigned i = 0; i < SEGMENTS; i++)
		iov[i] = (struct iovec){ .iov_base = base + (size_t)i * 2 * SEG_BYTES,
					 .iov_len = SEG_BYTES };
}

enum op { SEQ_READ, RAND_READ, SCATTER_READ, SCATTER_WRITE };

static int one_request(int fd, enum op op, unsigned i, uint64_t disk, uint8_t *buf,
		       struct iovec *iov, uint64_t *rng)
{
	ssize_t n;

	switch (op) {
	case SEQ_READ:
		n = pread(fd, buf, MIB, (off_t)(((uint64_t)i * MIB) % disk));
		return n == (ssize_t)MIB ? 0 : -1;
	case RAND_READ:
		*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
		n = pread(fd, buf, 4096, (off_t)(((*rng >> 33) % (disk / 4096)) * 4096));
		return n == 4096 ? 0 : -1;
	case SCATTER_READ:
		n = preadv(fd, iov, SEGMENTS, (off_t)(((uint64_t)i * MIB) % disk));
		return n == (ssize_t)MIB ? 0 : -1;
	case SCATTER_WRITE:
		n = pwritev(fd, iov, SEGMENTS, (off_t)(((uint64_t)i * MIB) % disk));
		if (n != (ssize_t)MIB)
			return -1;
		/* 16 writes, then one fsync (the cache flush request). */
		return (i % 16 == 15 && fsync(fd)) ? -1 : 0;
	}
	return -1;
}

static void workload(int fd, const char *name, enum op op, unsigned requests, uint64_t disk,
		     uint8_t *buf, struct iovec *iov)
{
	uint64_t rng = 12345, t0, t1;
	unsigned i;

	/* One untimed request first: page tables, the block layer's first use. */
	if (one_request(fd, op, requests, disk, buf, iov, &rng)) {
		say("error: %s: %s", name, strerror(errno));
		return;
	}
	mark("begin", name);
	t0 = cntvct();
	for (i = 0; i < requests; i++) {
		if (one_request(fd, op, i, disk, buf, iov, &rng))
			break;
	}
	t1 = cntvct();
	mark("end", name);
	if (i < requests)
		say("error: %s: request %u: %s", name, i, strerror(errno));
	else
		say("disk %s requests %u ticks %llu", name, requests,
		    (unsigned long long)(t1 - t0));
}

static void run_disk(void)
{
	uint8_t *area, *buf;
	struct iovec iov[SEGMENTS];
	uint64_t disk = 0;
	int fd, i;

	for (i = 0; i < 500 && access("/dev/vda", F_OK); i++)
		sleep_ms(10);
	fd = open("/dev/vda", O_RDWR | O_DIRECT);
	if (fd < 0) {
		say("error: opening /dev/vda: %s", strerror(errno));
		return;
	}
	disk = (uint64_t)lseek(fd, 0, SEEK_END);
	if (disk < 16 * MIB) {
		say("error: disk of %llu bytes is too small", (unsigned long long)disk);
		close(fd);
		return;
	}
	disk &= ~(uint64_t)(MIB - 1);
	/* 4 MiB, of which the 2 MiB aligned middle is one huge page where THP is on. */
	area = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		say("error: mmap: %s", strerror(errno));
		close(fd);
		return;
	}
	buf = (uint8_t *)(((uintptr_t)area + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
	madvise(buf, 2 * MIB, MADV_HUGEPAGE);
	memset(buf, 0x5a, 2 * MIB);
	scattered_iov(buf, iov);

	mark("begin", "calibrate");
	mark("end", "calibrate");
	say("disk calibrate requests 1 ticks 0");
	workload(fd, "seq-read-1m", SEQ_READ, 32, disk, buf, iov);
	workload(fd, "rand-read-4k", RAND_READ, 256, disk, buf, iov);
	workload(fd, "scatter-read-1m-128seg", SCATTER_READ, 32, disk, buf, iov);
	workload(fd, "write-1m-128seg-fsync16", SCATTER_WRITE, 32, disk, buf, iov);
	close(fd);
}

/* libhyp_bench_timeline (linux-bench's boot-timeline diagnostic): how long the boot was idle, and
 * the kernel's log with its timestamps, after the fact (printing costs exits of its own). */
static void timeline(void)
{
	static char log[1 << 18];
	char text[128] = "";
	int fd, n;

	mount("proc", "/proc", "proc", 0, NULL);
	fd = open("/proc/uptime", O_RDONLY);
	if (fd >= 0) {
		n = (int)read(fd, text, sizeof(text) - 1);
		text[n > 0 ? n : 0] = 0;
		text[strcspn(text, "\n")] = 0;
		close(fd);
	}
	say("uptime and idle seconds: %s", text);
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	for (char *line = log, *end; n > 0 && line < log + n; line = end + 1) {
		end = memchr(line, '\n', (size_t)(log + n - line));
		if (!end)
			end = log + n;
		*end = 0;
		say("dmesg %s", line);
	}
}

int main(int argc, char **argv)
{
	bool disk = false;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	for (int i = 1; i < argc; i++) {
		disk |= !strcmp(argv[i], "libhyp_bench_disk");
		if (!strcmp(argv[i], "libhyp_bench_timeline"))
			timeline();
	}
	if (disk) {
		mount("proc", "/proc", "proc", 0, NULL);
		mount("sysfs", "/sys", "sysfs", 0, NULL);
		guest_load_modules(say);
		run_disk();
		say("done");
	}
	/* Linux turns this into PSCI SYSTEM_OFF. */
	reboot(RB_POWER_OFF);
	return 1;
}
