/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel of firmware-linux.elf: Linux (partition linux, CPUs 0-1) and the
 * bare-metal peer (partition rt, CPUs 2-3) talk through one libhyp channel (<libhyp/chan.h>).
 *
 *   peer VM  --- region + doorbell + SPI (chan-layout.h) ---  host end, here at EL2
 *   host end --- libhyp's virtio console (tx_fn / hyp_virtio_console_receive()) --- Linux
 *
 * Linux uses its stock virtio_console driver (/dev/hvc0); the peer uses the region directly.
 *  - Linux -> peer: the console's tx_fn takes every byte at once into a FIFO of the firmware's,
 *    which goes into the to_guest ring as the peer makes room (its doorbell). Linux's transmit
 *    buffers are never held: its hvc driver waits for each one with interrupts masked, spinning,
 *    so a held buffer would stop that CPU until the peer reads, and the peer may be waiting for
 *    Linux to take its replies, which that CPU's interrupt handler would do (a deadlock this file
 *    allowed when it held the transmit queue back). The FIFO holds far more than Linux's
 *    exchange keeps in flight; were it full,
 *    bytes would be dropped and counted, as on a serial line, and the exchange would fail.
 *  - peer -> Linux: the doorbell callback peeks at the to_host ring, offers the bytes to the
 *    console and consumes only what it took; when Linux posts receive buffers again the console's
 *    rx_ready callback does the same. Bytes wait in the ring while no Linux console exists, and
 *    until Linux has sent its first bytes in this boot (see pump()).
 * The channel itself lives for the whole run (it outlives both VMs), so either side can start,
 * stop or restart without the other losing bytes.
 *
 * Locks: the pump lock (pump()) is taken before the console's, the FIFO's and the channel's; a
 * console callback (tx_fn, with the console's lock) takes the FIFO's, then the channel's: no
 * cycle.
 */
#include <libhyp/chan.h>
#include <libhyp/dev.h>
#include <libhyp/hyp.h>

#include "chan-peer.h"
#include "channel.h"
#include "harness.h"
#include "lht-device.h"

/* The console in the Linux partition: clear of QEMU's virtio-mmio transports (0x0a00_0000..
 * 0x0a00_3fff, whose pages a passed-through device brings along) and of their SPIs (48..79). */
#define LINUX_CON_BASE 0x0a100000ull
#define LINUX_CON_INTID 100u

#define MARK_CHANNEL "LIBHYP-GUEST: channel "

static struct {
	struct fw_lock lock; /* creation, the marker */
	struct hyp_chan *chan;
	void *region;

	struct fw_lock pump_lock;
	struct hyp_virtio_console *con; /* the Linux side, under pump_lock */
	struct hyp_vm *peer_vm;
	/* Linux sent something in this boot: its console port is set up (see pump()). Set by
	 * linux_tx(), which runs with the console's lock held, so it cannot pump itself. */
	bool linux_spoke;

	bool linux_done;
	/* Per boot of the Linux partition: consoles attached, channel markers seen and good; the
	 * first bad (or else the latest) marker's text. */
	unsigned int linux_attaches, markers_seen, markers_ok;
	bool peer_attached;
	char marker[208];
	uint64_t to_linux, from_linux, pumps;

	/* Linux's output on its way to the to_guest ring (see the top of the file). */
	struct fw_lock tx_lock;
	uint8_t tx_fifo[16384];
	uint32_t tx_head, tx_len;
	uint64_t tx_dropped;
} ch;

/* Move what the FIFO holds into the to_guest ring, in order, as much as fits. */
static void tx_drain_locked(void)
{
	while (ch.tx_len) {
		uint32_t first = sizeof(ch.tx_fifo) - ch.tx_head;
		int n = hyp_chan_send(ch.chan, ch.tx_fifo + ch.tx_head,
				      ch.tx_len < first ? ch.tx_len : first);

		if (n <= 0)
			break;
		ch.tx_head = (ch.tx_head + (uint32_t)n) % sizeof(ch.tx_fifo);
		ch.tx_len -= (uint32_t)n;
		__atomic_fetch_add(&ch.from_linux, (uint64_t)n, __ATOMIC_RELAXED);
	}
}

static void tx_drain(void)
{
	fw_lock(&ch.tx_lock);
	tx_drain_locked();
	fw_unlock(&ch.tx_lock);
}

static void peer_rang(void *opaque, struct hyp_chan *chan);

/* Create the channel on first use (whichever partition comes first). */
static int channel(void)
{
	struct hyp_chan_config cc = { .size = sizeof(cc) };
	int r = 0;

	fw_lock(&ch.lock);
	if (!ch.chan) {
		ch.region = fw_alloc_pages(PEER_CHAN_REGION_SIZE / FW_PAGE_SIZE);
		if (!ch.region) {
			r = -ENOMEM;
			goto out;
		}
		cc.region = ch.region;
		cc.region_size = PEER_CHAN_REGION_SIZE;
		cc.ring_size = PEER_CHAN_RING;
		cc.alloc = &fw_alloc_ops;
		cc.notify_fn = peer_rang;
		r = hyp_chan_create(&cc, &ch.chan);
		if (r) {
			fw_free_pages(ch.region, PEER_CHAN_REGION_SIZE / FW_PAGE_SIZE);
			ch.region = NULL;
		}
	}
out:
	fw_unlock(&ch.lock);
	return r;
}

/*
 * Move what the peer wrote into Linux's console, as much as it takes; then let Linux's held
 * output go on if the peer made room. Any CPU.
 *
 * Not before Linux has sent something in this boot. Linux's virtio_console (6.1, and since
 * 2.6.35) fills the receive queue in add_port() before it lists the port; an interrupt for used
 * receive buffers in that window finds no port, and in_intr() then empties the queue with
 * flush_bufs(), without the lock under which fill_queue() is still adding buffers on another
 * CPU. The two corrupt the queue's free list: Linux reuses descriptors still in flight, makes
 * available more buffers than the ring holds (the device sees its available index run ahead,
 * sets DEVICE_NEEDS_RESET, and Linux's hvc then spins for ever, interrupts masked, waiting for a
 * transmit buffer), or frees a buffer the device is filling (a wrong byte in the channel). The
 * peer's backlog, waiting since before Linux booted, made that window likely: it arrived with
 * the first receive buffer. Once Linux transmits, the port is listed and open.
 */
static void pump(void)
{
	uint8_t buf[256];

	fw_lock(&ch.pump_lock);
	ch.pumps++;
	if (ch.con && __atomic_load_n(&ch.linux_spoke, __ATOMIC_ACQUIRE)) {
		/* At most a ring's worth per call: bounded, whatever the peer does. */
		for (unsigned int i = 0; i < PEER_CHAN_RING / sizeof(buf); i++) {
			int n = hyp_chan_peek(ch.chan, buf, sizeof(buf)), took;

			if (n <= 0)
				break;
			took = hyp_virtio_console_receive(ch.con, buf, (size_t)n);
			if (took > 0) {
				hyp_chan_consume(ch.chan, (size_t)took);
				ch.to_linux += (uint64_t)took;
			}
			if (took < n)
				break; /* Linux's buffers are full: rx_ready calls again */
		}
	}
	/* The peer may have made room for Linux's output too. */
	tx_drain();
	fw_unlock(&ch.pump_lock);
}

/* ---- the Linux side ------------------------------------------------------------------------- */

/* struct hyp_virtio_console_config.tx_fn: Linux's output, on a Linux vCPU, console locked. All of
 * it is taken at once (queued behind what waits), so Linux never waits for the peer. */
static void linux_tx(void *opaque, const void *bytes, size_t len)
{
	const uint8_t *p = bytes;

	(void)opaque;
	__atomic_store_n(&ch.linux_spoke, true, __ATOMIC_RELEASE);
	fw_lock(&ch.tx_lock);
	for (size_t i = 0; i < len; i++) {
		if (ch.tx_len == sizeof(ch.tx_fifo)) {
			ch.tx_dropped += len - i;
			break;
		}
		ch.tx_fifo[(ch.tx_head + ch.tx_len) % sizeof(ch.tx_fifo)] = p[i];
		ch.tx_len++;
	}
	tx_drain_locked();
	fw_unlock(&ch.tx_lock);
}

/* struct hyp_virtio_console_config.rx_ready_fn: Linux posted receive buffers again. */
static void linux_rx_ready(void *opaque)
{
	(void)opaque;
	pump();
}

int fw_channel_linux_attach(struct hyp_vm *vm, struct hyp_fdt_virtio *node)
{
	struct hyp_virtio_console_config vc = {
		.size = sizeof(vc),
		.base = LINUX_CON_BASE,
		.intid = LINUX_CON_INTID,
		.tx_fn = linux_tx,
		.rx_ready_fn = linux_rx_ready,
	};
	struct hyp_virtio_console *con;
	int r = channel();

	if (r)
		return r;
	r = hyp_virtio_console_create(vm, &vc, &con);
	if (r)
		return r;
	fw_lock(&ch.pump_lock);
	ch.con = con;
	__atomic_store_n(&ch.linux_spoke, false, __ATOMIC_RELAXED);
	fw_unlock(&ch.pump_lock);
	fw_lock(&ch.lock);
	ch.linux_attaches++;
	fw_unlock(&ch.lock);
	/* What the peer sent while no console existed (before this boot, or between boots) waits
	 * in the ring until Linux has spoken (pump()); the peer, its ring full, rings once a
	 * heartbeat tick while it waits. */
	*node = (struct hyp_fdt_virtio){ .base = LINUX_CON_BASE, .intid = LINUX_CON_INTID };
	return 0;
}

void fw_channel_linux_line(const char *line)
{
	const char *p = MARK_CHANNEL, *s = line;
	unsigned long n = 0;
	bool ok;

	while (*p && *s == *p)
		p++, s++;
	if (*p)
		return;
	/* "LIBHYP-GUEST: channel <N> messages ok, ..." with N >= 1000. */
	while (*s >= '0' && *s <= '9' && n < 100000000)
		n = n * 10 + (unsigned long)(*s++ - '0');
	p = " messages ok";
	while (*p && *s == *p)
		p++, s++;
	ok = !*p && n >= 1000;
	fw_lock(&ch.lock);
	ch.markers_seen++;
	ch.markers_ok += ok;
	/* Keep the first bad one, else the latest. */
	if (ch.markers_ok == ch.markers_seen || (!ok && ch.markers_ok + 1 == ch.markers_seen)) {
		size_t i;

		for (i = 0; i + 1 < sizeof(ch.marker) && line[i]; i++)
			ch.marker[i] = line[i];
		ch.marker[i] = 0;
	}
	fw_unlock(&ch.lock);
}

void fw_channel_linux_detach(void)
{
	struct hyp_virtio_console *con;

	fw_lock(&ch.pump_lock);
	con = ch.con;
	ch.con = NULL;
	fw_unlock(&ch.pump_lock);
	hyp_virtio_console_destroy(con);
	/* What this boot's Linux wrote and the peer has not taken goes with it, as its transmit
	 * queue would have (the next boot starts a session of its own). */
	fw_lock(&ch.tx_lock);
	ch.tx_head = ch.tx_len = 0;
	fw_unlock(&ch.tx_lock);
}

void fw_channel_linux_finished(void)
{
	struct hyp_chan_stats s = { .size = sizeof(s) };
	bool markers_ok;
	char why[300];

	/* The benchmark's boot has no channel and no peer: nothing to say. */
	if (!ch.linux_attaches && !ch.peer_attached) {
		__atomic_store_n(&ch.linux_done, true, __ATOMIC_RELEASE);
		return;
	}
	if (ch.chan)
		hyp_chan_get_stats(ch.chan, &s);
	markers_ok = ch.markers_seen && ch.markers_ok == ch.markers_seen &&
		     ch.markers_seen == ch.linux_attaches && !ch.tx_dropped;
	lht_tap_comment("[chan] host end: %lu bytes Linux -> peer, %lu bytes peer -> Linux, %lu "
			"doorbells, %lu SPIs to the peer, %lu garbage indexes ignored, %lu sends "
			"held back by a full ring, %lu bad doorbell accesses, %lu bytes of Linux's "
			"dropped (its FIFO full)",
			s.bytes_sent, s.bytes_received, s.doorbells, s.interrupts, s.bad_indexes,
			s.send_short, s.bad_accesses, ch.tx_dropped);
	fw_snprintf(why, sizeof(why), "%u boots with the channel, %u markers, %u good; %s",
		    ch.linux_attaches, ch.markers_seen, ch.markers_ok,
		    ch.markers_seen ? ch.marker : "no channel marker");
	lht_tap_result(markers_ok, NULL, NULL, why,
		       "[chan] in each of the Linux partition's %u boots, Linux's stock "
		       "virtio_console (/dev/hvc0) and the bare-metal peer exchanged >= 1000 "
		       "messages each way over the channel, every byte checked by Linux (\"%s\")",
		       ch.linux_attaches, ch.markers_seen ? ch.marker : "");
	/* The peer's attack (tests/el2/guests/chan-peer.c): garbage in the header and indexes,
	 * the doorbell in a tight loop, in the middle of the first exchange. */
	lht_tap_result(
		markers_ok && s.doorbells >= PEER_STORM_RINGS && s.bad_indexes > 0, NULL, NULL,
		NULL,
		"[chan] the peer's garbage indexes (%lu ignored) and doorbell storm (%lu "
		"doorbells answered) neither stopped the firmware nor broke Linux's exchanges",
		s.bad_indexes, s.doorbells);
	__atomic_store_n(&ch.linux_done, true, __ATOMIC_RELEASE);
}

/* ---- the peer side -------------------------------------------------------------------------- */

/* struct hyp_chan_config.notify_fn: the peer rang, on its vCPU's CPU. */
static void peer_rang(void *opaque, struct hyp_chan *chan)
{
	(void)opaque;
	(void)chan;
	pump();
}

static enum hyp_handler_result peer_ctl(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *a)
{
	struct hyp_chan_stats s = { .size = sizeof(s) };

	(void)opaque;
	(void)vcpu;
	if (a->is_write)
		return HYP_HANDLED; /* read-only */
	hyp_chan_get_stats(ch.chan, &s);
	switch (a->offset) {
	case PEER_CTL_LINUX_DONE:
		a->data = __atomic_load_n(&ch.linux_done, __ATOMIC_ACQUIRE);
		break;
	case PEER_CTL_DOORBELLS:
		a->data = s.doorbells;
		break;
	case PEER_CTL_BAD_INDEXES:
		a->data = s.bad_indexes;
		break;
	case PEER_CTL_BYTES_SENT:
		a->data = s.bytes_sent;
		break;
	case PEER_CTL_BYTES_RECEIVED:
		a->data = s.bytes_received;
		break;
	case PEER_CTL_SEND_SHORT:
		a->data = s.send_short;
		break;
	default:
		a->data = 0;
		break;
	}
	return HYP_HANDLED;
}

int fw_channel_peer_attach(struct hyp_vm *vm)
{
	struct hyp_chan_attach_config ac = {
		.size = sizeof(ac),
		.ipa = PEER_CHAN_IPA,
		.doorbell = PEER_CHAN_DOORBELL,
		.intid = PEER_CHAN_INTID,
	};
	int r = channel();

	if (r)
		return r;
	r = hyp_chan_attach(ch.chan, vm, &ac);
	if (r)
		return r;
	r = hyp_vm_add_mmio_handler(vm, PEER_CTL_BASE, PEER_CTL_SIZE, peer_ctl, NULL);
	if (r) {
		hyp_chan_detach(ch.chan);
		return r;
	}
	ch.peer_vm = vm;
	ch.peer_attached = true;
	return 0;
}

void fw_channel_peer_detach(void)
{
	if (!ch.peer_vm)
		return;
	hyp_vm_remove_mmio_handler(ch.peer_vm, PEER_CTL_BASE);
	hyp_chan_detach(ch.chan);
	ch.peer_vm = NULL;
}
