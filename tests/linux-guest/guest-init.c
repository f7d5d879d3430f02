/* SPDX-License-Identifier: MIT */
/*
 * /init of the Linux guest that hyp-run boots in the demo and the integration test. A static
 * aarch64 program, the only process: it reports what the guest sees and powers off.
 *
 *   LIBHYP-GUEST: hello from <uname -r> on <machine>
 *   LIBHYP-GUEST: cpus <N>
 *   LIBHYP-GUEST: disk: <first line of /hello.txt on the virtio-blk disk>
 *   LIBHYP-GUEST: powering off
 *
 * With "libhyp_hang" on the kernel command line it stays up instead, until the VMM stops it.
 * With "libhyp_reboot" it reboots (PSCI SYSTEM_RESET) where it would power off; with
 * "libhyp_crash" it crashes the kernel there instead (sysrq "c": a kernel panic), for VMMs and
 * firmware that restart or stop a partition that does either. "libhyp_isolation=PA,..." makes it
 * check that it can neither read nor write those physical addresses ("isolation: N of M
 * accesses refused"). "libhyp_input" makes it wait for a line typed on its console and print it
 * ("input: ...").
 * With "libhyp_nodisk" it has no disk to look for (no "disk:" line): a VMM that gives it none,
 * such as the EL2 firmware's Linux partition, does not wait for one.
 *
 * Modules listed in /modules/order (one file name per line, dependencies first) are loaded
 * before the disk is mounted: the Debian kernel builds virtio-mmio, virtio-blk and ext4 as
 * modules. Failures are reported as "LIBHYP-GUEST: error: ..." and the guest still powers off,
 * so a broken setup shows up as a missing line, never as a hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-modules.h"

static void say(const char *fmt, ...)
{
	va_list args;

	printf("LIBHYP-GUEST: ");
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
	fflush(stdout);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void read_disk(void)
{
	char line[256] = "";
	FILE *f;
	int i;

	/* The block device appears asynchronously once virtio-blk has probed. */
	for (i = 0; i < 500 && access("/dev/vda", F_OK); i++)
		sleep_ms(10);
	if (i == 500) {
		say("error: no /dev/vda");
		return;
	}
	mkdir("/mnt", 0755);
	if (mount("/dev/vda", "/mnt", "ext4", MS_RDONLY, NULL)) {
		say("error: mounting /dev/vda: %s", strerror(errno));
		return;
	}
	f = fopen("/mnt/hello.txt", "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		say("error: reading /mnt/hello.txt: %s", strerror(errno));
	} else {
		line[strcspn(line, "\n")] = '\0';
		say("disk: %s", line);
	}
	if (f)
		fclose(f);
	umount("/mnt");
}

/* One access to physical address @pa through /dev/mem, in a child; whether the child died of
 * SIGBUS (the external abort a VMM gives for memory the guest does not own). */
static int access_refused(unsigned long pa, int write_it, unsigned long *value)
{
	long page = sysconf(_SC_PAGESIZE);
	int status = 0;
	pid_t pid;

	*value = 0;
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/mem", O_RDWR | O_SYNC);
		volatile unsigned int *p;

		if (fd < 0)
			_exit(2);
		p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)(pa & ~(unsigned long)(page - 1)));
		if (p == MAP_FAILED)
			_exit(3);
		p += (pa & (unsigned long)(page - 1)) / sizeof(*p);
		if (write_it)
			*p = 0x5a5a5a5a;
		else
			_exit(*p == 0 ? 4 : 5);
		_exit(6);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 0;
	if (WIFEXITED(status))
		*value = (unsigned long)WEXITSTATUS(status);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

/*
 * "libhyp_isolation=PA[,PA...]" (the kernel hands unknown name=value parameters to init as
 * environment variables): physical addresses the VMM says this guest does not own: another
 * partition's RAM, the firmware, the physical GIC. Each is read and written through /dev/mem in
 * a child process, which must die of SIGBUS both times.
 */
static void probe_isolation(const char *list)
{
	unsigned int tried = 0, refused = 0;
	char *copy = strdup(list), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long pa = strtoul(tok, NULL, 0), how_r, how_w;
		int r = access_refused(pa, 0, &how_r), w = access_refused(pa, 1, &how_w);

		tried += 2;
		refused += (unsigned int)(r + w);
		if (!r || !w)
			say("error: isolation: %#lx: read %s (%lu), write %s (%lu)", pa,
			    r ? "refused" : "not refused", how_r, w ? "refused" : "not refused",
			    how_w);
	}
	free(copy);
	say("isolation: %u of %u accesses refused", refused, tried);
}

/* "libhyp_input": one line typed on the console, echoed back (waits up to 120 s). */
static void echo_a_line(void)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	char line[256] = "";

	say("waiting for a line of input");
	if (poll(&pfd, 1, 120000) != 1 || !fgets(line, sizeof(line), stdin)) {
		say("error: no input");
		return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	say("input: %s", line);
}

int main(int argc, char **argv)
{
	struct utsname u;
	int nodisk = 0, reboot_instead = 0, crash_instead = 0, echo_input = 0;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	uname(&u);
	say("hello from Linux %s on %s", u.release, u.machine);
	say("cpus %ld", sysconf(_SC_NPROCESSORS_ONLN));
	/* "libhyp_hang" on the kernel command line (passed to init as an argument): stay up until
	 * the VMM stops the guest, to test exactly that. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "libhyp_nodisk"))
			nodisk = 1;
		if (!strcmp(argv[i], "libhyp_reboot"))
			reboot_instead = 1;
		if (!strcmp(argv[i], "libhyp_crash"))
			crash_instead = 1;
		if (!strcmp(argv[i], "libhyp_input"))
			echo_input = 1;
		if (!strcmp(argv[i], "libhyp_hang")) {
			say("hanging until the VMM stops the guest");
			for (;;)
				pause();
		}
	}
	if (getenv("libhyp_isolation"))
		probe_isolation(getenv("libhyp_isolation"));
	guest_load_modules(say);
	if (!nodisk)
		read_disk();
	if (echo_input)
		echo_a_line();
	sync();
	if (crash_instead) {
		int fd = open("/proc/sysrq-trigger", O_WRONLY);

		say("crashing the kernel");
		if (fd < 0 || write(fd, "c", 1) != 1)
			say("error: /proc/sysrq-trigger: %s", strerror(errno));
	}
	if (reboot_instead) {
		say("rebooting");
		/* Linux turns this into PSCI SYSTEM_RESET. */
		reboot(RB_AUTOBOOT);
		say("error: still running after reboot");
	}
	say("powering off");
	/* Linux turns this into PSCI SYSTEM_OFF. */
	reboot(RB_POWER_OFF);
	say("error: still running after power-off");
	return 1;
}
