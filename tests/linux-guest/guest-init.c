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
 * With "libhyp_storm=MS" it storms the hypervisor for MS ms beside what it does next (MMIO reads
 * of the GIC distributor, IPIs between its CPUs) and reports "storm: done".
 * With "libhyp_chan=N" (N >= 1) it exchanges N messages each way with the bare-metal peer of the
 * EL2 firmware's inter-partition channel over /dev/hvc0 (Linux's virtio_console), checks every
 * byte (tests/el2/guests/chan-proto.h) and prints
 *
 *   LIBHYP-GUEST: channel <N> messages ok, <H> heartbeats in order ...
 *
 * or "LIBHYP-GUEST: channel error: ..." with the first thing that was wrong.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../el2/guests/chan-proto.h"

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

/* ---- a storm of exits (libhyp_storm=MS) ---- */

/* An address with nothing behind it in the EL2 firmware's Linux partition (a virtio-mmio page it
 * does not own): every access is a stage-2 abort the VMM answers with an external abort. */
#define STORM_HOLE 0x0a001000ul

static pid_t storm_pids[3];
static sigjmp_buf storm_env;

static void storm_sigbus(int sig)
{
	(void)sig;
	siglongjmp(storm_env, 1);
}

static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * "libhyp_storm=MS": for MS milliseconds, beside whatever /init does next, storm the hypervisor:
 * one child on CPU 0 reads an address with nothing behind it through /dev/mem in a loop (every
 * read an exit to the VMM, which answers with an external abort: SIGBUS, caught), two more
 * ping-pong a byte over pipes between CPU 1 and CPU 0 (every wake-up of the other CPU an IPI: a
 * trapped SGI). (Linux keeps its GIC's and devices' registers from /dev/mem.) Each child reports
 * what it did, then exits.
 */
static void start_storm(long ms)
{
	int ab[2], ba[2];
	long until = now_ms() + ms;

	if (pipe(ab) || pipe(ba)) {
		say("error: storm: pipe: %s", strerror(errno));
		return;
	}
	storm_pids[0] = fork();
	if (storm_pids[0] == 0) {
		int fd = open("/dev/mem", O_RDONLY | O_SYNC);
		struct sigaction sa = { .sa_handler = storm_sigbus };
		volatile uint32_t *hole;
		volatile unsigned long reads = 0, aborts = 0;

		close(ab[0]);
		close(ab[1]);
		close(ba[0]);
		close(ba[1]);
		pin_to_cpu(0);
		hole = fd < 0 ? MAP_FAILED :
				mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)STORM_HOLE);
		if (hole == MAP_FAILED) {
			say("error: storm: mapping %#lx: %s", STORM_HOLE, strerror(errno));
			_exit(1);
		}
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		while (now_ms() < until) {
			reads++;
			if (sigsetjmp(storm_env, 1) == 0)
				(void)*hole;
			else
				aborts++;
		}
		say("storm: %lu reads of %#lx, %lu external aborts", reads, STORM_HOLE, aborts);
		_exit(aborts == reads ? 0 : 1);
	}
	for (int side = 0; side < 2; side++) {
		storm_pids[1 + side] = fork();
		if (storm_pids[1 + side] == 0) {
			int in = side ? ba[0] : ab[0], out = side ? ab[1] : ba[1];
			unsigned long trips = 0;
			char c = 'x';

			/* Only this side's ends stay open, so the other's close ends our read. */
			close(side ? ba[1] : ab[1]);
			close(side ? ab[0] : ba[0]);

			pin_to_cpu(side ? 0 : 1);
			if (side && write(out, &c, 1) != 1)
				_exit(1);
			while (read(in, &c, 1) == 1) {
				if (now_ms() >= until)
					break;
				if (write(out, &c, 1) != 1)
					break;
				trips++;
			}
			close(out); /* the other side's read ends */
			if (!side)
				say("storm: %lu pipe round trips between CPU 1 and CPU 0", trips);
			_exit(0);
		}
	}
	close(ab[0]);
	close(ab[1]);
	close(ba[0]);
	close(ba[1]);
}

static void end_storm(void)
{
	int ok = 1;

	for (int i = 0; i < 3; i++) {
		int status = 0;

		if (storm_pids[i] <= 0 || waitpid(storm_pids[i], &status, 0) != storm_pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ok = 0;
	}
	if (ok)
		say("storm: done");
	else
		say("error: a storm process failed");
}

/* ---- the inter-partition channel (libhyp_chan=N) ---- */

#define CHAN_WINDOW 16 /* requests in flight */
#define CHAN_TIMEOUT_MS 30000

struct chan_rx {
	uint8_t nonce[8];
	uint8_t win[CHAN_HDR + 8]; /* before the sync: the last bytes seen */
	size_t win_len;
	int synced;
	uint8_t frame[CHAN_FRAME_MAX];
	size_t flen;
	uint32_t next_reply, next_beat, beats;
	uint64_t stale;
	char error[200];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void chan_fail(struct chan_rx *rx, const char *fmt, ...)
{
	va_list ap;

	if (rx->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rx->error, sizeof(rx->error), fmt, ap);
	va_end(ap);
}

/* One byte from the peer. Before the sync: look for our sync frame (its nonce). After: only
 * replies, in order, and heartbeats, numbered on from the sync's, every byte as predicted. */
static void chan_byte(struct chan_rx *rx, uint8_t b)
{
	uint32_t len, seq;

	if (!rx->synced) {
		if (rx->win_len == sizeof(rx->win)) {
			memmove(rx->win, rx->win + 1, sizeof(rx->win) - 1);
			rx->win_len--;
			rx->stale++;
		}
		rx->win[rx->win_len++] = b;
		if (rx->win_len == sizeof(rx->win) && rx->win[0] == CHAN_FRAME_MAGIC &&
		    rx->win[1] == CHAN_T_SYNC && rx->win[2] == 8 && rx->win[3] == 0 &&
		    !memcmp(rx->win + CHAN_HDR, rx->nonce, 8)) {
			rx->synced = 1;
			rx->next_beat = chan_get32(rx->win + 4);
		}
		return;
	}
	rx->frame[rx->flen++] = b;
	if (rx->flen < CHAN_HDR)
		return;
	len = rx->frame[2] | (uint32_t)rx->frame[3] << 8;
	seq = chan_get32(rx->frame + 4);
	if (rx->flen == CHAN_HDR) {
		if (rx->frame[0] != CHAN_FRAME_MAGIC)
			chan_fail(rx, "frame magic %#x after %u replies", rx->frame[0],
				  rx->next_reply);
		else if (rx->frame[1] == CHAN_T_REPLY &&
			 (seq != rx->next_reply || len != chan_req_len(seq)))
			chan_fail(rx, "reply %u (length %u) where reply %u (length %u) was due",
				  seq, len, rx->next_reply, chan_req_len(rx->next_reply));
		else if (rx->frame[1] == CHAN_T_BEAT && (seq != rx->next_beat || len != 8))
			chan_fail(rx, "heartbeat %u (length %u) where heartbeat %u was due", seq,
				  len, rx->next_beat);
		else if (rx->frame[1] != CHAN_T_REPLY && rx->frame[1] != CHAN_T_BEAT)
			chan_fail(rx, "frame type %#x after %u replies", rx->frame[1],
				  rx->next_reply);
		if (rx->error[0])
			rx->flen = 0;
		return;
	}
	if (rx->flen < CHAN_HDR + len)
		return;
	if (rx->frame[1] == CHAN_T_REPLY) {
		for (uint32_t i = 0; i < len; i++) {
			uint8_t want = chan_reply_byte(seq, i, chan_req_byte(seq, i));

			if (rx->frame[CHAN_HDR + i] != want) {
				chan_fail(rx, "reply %u byte %u is %#x, expected %#x", seq, i,
					  rx->frame[CHAN_HDR + i], want);
				break;
			}
		}
		rx->next_reply++;
	} else {
		rx->next_beat++;
		rx->beats++;
	}
	rx->flen = 0;
}

static void channel_exchange(long want)
{
	static struct chan_rx rx;
	uint8_t out[CHAN_WINDOW * CHAN_FRAME_MAX], in[4096];
	struct termios tio;
	struct timespec ts, t_end;
	uint32_t sent = 0;
	int fd = -1, i;

	/* The port appears once virtio_console has probed the device. */
	for (i = 0; i < 500 && (fd = open("/dev/hvc0", O_RDWR | O_NOCTTY)) < 0; i++)
		sleep_ms(10);
	if (fd < 0) {
		say("channel error: opening /dev/hvc0: %s", strerror(errno));
		return;
	}
	/* Raw bytes: no echo, no line editing, no CR/LF translation. */
	if (tcgetattr(fd, &tio)) {
		say("channel error: tcgetattr: %s", strerror(errno));
		close(fd);
		return;
	}
	cfmakeraw(&tio);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	tcsetattr(fd, TCSAFLUSH, &tio);
	tcflush(fd, TCIOFLUSH);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (i = 0; i < 8; i++)
		rx.nonce[i] = (uint8_t)((uint64_t)(ts.tv_nsec ^ (ts.tv_sec << 20)) >> (8 * i)) | 1;
	chan_put_hdr(out, CHAN_T_SYNC, 8, 0);
	memcpy(out + CHAN_HDR, rx.nonce, 8);
	if (write_all(fd, out, CHAN_HDR + 8)) {
		say("channel error: writing the sync frame: %s", strerror(errno));
		close(fd);
		return;
	}
	while (!rx.error[0] && rx.next_reply < (uint32_t)want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t n = 0;
		ssize_t r;

		/* Keep CHAN_WINDOW requests in flight once synced. */
		while (rx.synced && sent < (uint32_t)want && sent - rx.next_reply < CHAN_WINDOW &&
		       n + CHAN_FRAME_MAX <= sizeof(out)) {
			uint32_t len = chan_req_len(sent);

			chan_put_hdr(out + n, CHAN_T_REQ, len, sent);
			for (uint32_t k = 0; k < len; k++)
				out[n + CHAN_HDR + k] = chan_req_byte(sent, k);
			n += CHAN_HDR + len;
			sent++;
		}
		if (n && write_all(fd, out, n)) {
			chan_fail(&rx, "writing requests: %s", strerror(errno));
			break;
		}
		r = poll(&pfd, 1, CHAN_TIMEOUT_MS);
		if (r <= 0) {
			chan_fail(&rx, "nothing from the peer for %d ms (%u replies, synced %d)",
				  CHAN_TIMEOUT_MS, rx.next_reply, rx.synced);
			break;
		}
		r = read(fd, in, sizeof(in));
		if (r <= 0) {
			chan_fail(&rx, "reading /dev/hvc0: %s",
				  r ? strerror(errno) : "end of file");
			break;
		}
		for (ssize_t k = 0; k < r && !rx.error[0]; k++)
			chan_byte(&rx, in[k]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	if (!rx.error[0] && !rx.beats)
		chan_fail(&rx, "no heartbeat during the exchange");
	/* Tell the peer how many we checked; wait until it is out of our hands. */
	chan_put_hdr(out, CHAN_T_DONE, 0, rx.error[0] ? 0 : rx.next_reply);
	write_all(fd, out, CHAN_HDR);
	tcdrain(fd);
	if (rx.error[0])
		say("channel error: %s", rx.error);
	else
		say("channel %u messages ok, %u heartbeats in order (%llu stale bytes before the "
		    "sync; %ld ms)",
		    rx.next_reply, rx.beats, (unsigned long long)rx.stale,
		    (long)((t_end.tv_sec - ts.tv_sec) * 1000 +
			   (t_end.tv_nsec - ts.tv_nsec) / 1000000));
	close(fd);
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
	if (getenv("libhyp_storm"))
		start_storm(strtol(getenv("libhyp_storm"), NULL, 10));
	/* "libhyp_chan=N": unknown kernel parameters with a value reach init as environment. */
	if (getenv("libhyp_chan")) {
		long n = strtol(getenv("libhyp_chan"), NULL, 10);

		if (n >= 1)
			channel_exchange(n);
		else
			say("channel error: bad libhyp_chan=%s", getenv("libhyp_chan"));
	}
	if (getenv("libhyp_storm"))
		end_storm();
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
