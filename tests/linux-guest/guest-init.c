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
 * With "libhyp_chan=N" (N >= 1) it exchanges N messages each way with the bare-metal peer of the
 * EL2 firmware's inter-partition channel over /dev/hvc0 (Linux's virtio_console), checks every
 * byte (tests/el2/guests/chan-proto.h) and prints
 *
 *   LIBHYP-GUEST: channel <N> messages ok, <H> heartbeats in order
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
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
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
	int nodisk = 0;

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
		if (!strcmp(argv[i], "libhyp_hang")) {
			say("hanging until the VMM stops the guest");
			for (;;)
				pause();
		}
	}
	guest_load_modules(say);
	if (!nodisk)
		read_disk();
	/* "libhyp_chan=N": unknown kernel parameters with a value reach init as environment. */
	if (getenv("libhyp_chan")) {
		long n = strtol(getenv("libhyp_chan"), NULL, 10);

		if (n >= 1)
			channel_exchange(n);
		else
			say("channel error: bad libhyp_chan=%s", getenv("libhyp_chan"));
	}
	say("powering off");
	sync();
	/* Linux turns this into PSCI SYSTEM_OFF. */
	reboot(RB_POWER_OFF);
	say("error: still running after power-off");
	return 1;
}
