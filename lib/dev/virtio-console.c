/* SPDX-License-Identifier: MIT */
/*
 * virtio console (virtio 1.2, 5.3): one port, receiveq 0 and transmitq 1, plus the emergency
 * write register. Input waits in a small holding ring until the driver posts receive buffers.
 */
#include "hyp_string.h"

#include "virtio.h"

#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

#define RECEIVEQ 0u
#define TRANSMITQ 1u

/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr (5.3.4). */
#define CONFIG_EMERG_WR 8u
#define CONFIG_SIZE 12u

#define RX_HOLD 4096u

struct hyp_virtio_console {
	struct hyp__virtio vdev; /* first: the transport's callbacks get this pointer */
	struct hyp__dev_sink sink;
	hyp_dev_notify_fn rx_ready_fn;
	void *rx_ready_opaque;
	bool rx_waiting; /* the VMM offered more input than we could hold */

	uint8_t hold[RX_HOLD];
	uint32_t hold_head, hold_count;

	/* Output with backpressure (tx_try_fn): the transmit buffer being sent, copied out of the
	 * scratch chain, how much of it the sink took, and the queue generation it came from. */
	hyp_dev_tx_try_fn tx_try_fn;
	void *tx_opaque;
	bool tx_held;
	uint32_t tx_gen;
	uint64_t tx_done;
	struct hyp__vq_chain tx_chain;
	struct hyp__vq_seg tx_seg[HYP__VQ_MAX_SIZE];
};

static struct hyp_virtio_console *to_console(struct hyp__virtio *vdev)
{
	return hyp__container_of(vdev, struct hyp_virtio_console, vdev);
}

static void console_get_config(struct hyp__virtio *vdev, uint8_t *config)
{
	/* Without VIRTIO_CONSOLE_F_SIZE / F_MULTIPORT the fields are not valid: zeros. */
	(void)vdev;
	memset(config, 0, CONFIG_SIZE);
}

static void console_set_config(struct hyp__virtio *vdev, uint32_t offset, uint32_t len,
			       uint64_t value)
{
	struct hyp_virtio_console *con = to_console(vdev);
	uint8_t c = (uint8_t)value;

	/* emerg_wr: one character, usable even before the driver set up any queue (5.3.6); it
	 * cannot wait, so a full tx_try_fn loses it (documented). */
	if (offset == CONFIG_EMERG_WR && len == 4) {
		if (con->tx_try_fn)
			con->tx_try_fn(con->tx_opaque, &c, 1);
		else
			hyp__dev_sink_write(vdev->vm, &con->sink, &c, 1);
	}
}

struct tx_ctx {
	struct hyp_vm *vm;
	const struct hyp__dev_sink *sink;
};

static int tx_piece(void *opaque, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	struct tx_ctx *ctx = opaque;

	(void)pos;
	(void)ipa;
	hyp__dev_sink_write(ctx->vm, ctx->sink, host, len);
	return 0;
}

static int tx_try_piece(void *opaque, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	struct hyp_virtio_console *con = opaque;
	size_t took = con->tx_try_fn(con->tx_opaque, host, len);

	(void)pos;
	(void)ipa;
	if (took > len)
		took = len;
	con->tx_done += took;
	return took < len; /* full: stop here, the rest waits */
}

/*
 * Send what is left of the held buffer. True when it is all gone (or the buffer went bad: it is
 * then returned unsent), false while the sink is full.
 */
static bool send_held(struct hyp_virtio_console *con)
{
	struct hyp__virtio *vdev = &con->vdev;
	int r;

	if (con->tx_gen != vdev->vq[TRANSMITQ].gen) {
		/* The queue was reset or re-enabled: the buffer is not the driver's any more. */
		con->tx_held = false;
		return false;
	}
	r = hyp__vq_walk(vdev, &con->tx_chain, false, con->tx_done,
			 con->tx_chain.readable - con->tx_done, tx_try_piece, con);
	if (r > 0)
		return false;
	if (r < 0)
		dev_dbg(vdev->vm, "virtio-console@%#llx: held transmit buffer left guest RAM",
			(unsigned long long)vdev->base);
	hyp__vq_push(vdev, TRANSMITQ, &con->tx_chain, 0);
	con->tx_held = false;
	return true;
}

/* tx_try_fn: one buffer at a time, kept (copied out of the scratch chain) until the sink took
 * all of it; nothing behind it is looked at meanwhile. */
static void serve_transmitq_try(struct hyp_virtio_console *con)
{
	struct hyp__virtio *vdev = &con->vdev;
	struct hyp__vq_chain chain;

	if (!hyp__vq_usable(vdev, TRANSMITQ))
		return;
	for (uint32_t budget = vdev->vq[TRANSMITQ].num + 1; budget; budget--) {
		if (!con->tx_held) {
			if (hyp__vq_pop(vdev, TRANSMITQ, &chain) <= 0)
				break;
			if (hyp__vq_walk(vdev, &chain, false, 0, chain.readable, NULL, NULL)) {
				dev_dbg(vdev->vm,
					"virtio-console@%#llx: transmit buffer outside guest RAM",
					(unsigned long long)vdev->base);
				hyp__vq_push(vdev, TRANSMITQ, &chain, 0);
				continue;
			}
			con->tx_chain = chain;
			memcpy(con->tx_seg, chain.seg, chain.nseg * sizeof(chain.seg[0]));
			con->tx_chain.seg = con->tx_seg;
			con->tx_done = 0;
			con->tx_gen = vdev->vq[TRANSMITQ].gen;
			con->tx_held = true;
		}
		if (!send_held(con) && con->tx_held)
			break;
	}
}

static void serve_transmitq(struct hyp_virtio_console *con)
{
	struct hyp__virtio *vdev = &con->vdev;
	struct tx_ctx ctx = { vdev->vm, &con->sink };
	struct hyp__vq_chain chain;

	if (con->tx_try_fn) {
		serve_transmitq_try(con);
		return;
	}
	for (uint32_t budget = vdev->vq[TRANSMITQ].num; budget; budget--) {
		if (hyp__vq_pop(vdev, TRANSMITQ, &chain) <= 0)
			break;
		/* The whole buffer is checked before any of it is sent: one that is not guest RAM
		 * is returned unsent rather than half-printed. */
		if (hyp__vq_walk(vdev, &chain, false, 0, chain.readable, tx_piece, &ctx))
			dev_dbg(vdev->vm, "virtio-console@%#llx: transmit buffer outside guest RAM",
				(unsigned long long)vdev->base);
		hyp__vq_push(vdev, TRANSMITQ, &chain, 0);
	}
}

/* Copy held input into a receive buffer's writable stream, at most @room bytes. */
static uint32_t hold_to_chain(struct hyp_virtio_console *con, const struct hyp__vq_chain *chain,
			      uint64_t room)
{
	uint32_t n = con->hold_count < room ? con->hold_count : (uint32_t)room;
	uint32_t first = RX_HOLD - con->hold_head;

	if (first > n)
		first = n;
	if (hyp__vq_write(&con->vdev, chain, 0, con->hold + con->hold_head, first) ||
	    hyp__vq_write(&con->vdev, chain, first, con->hold, n - first))
		return 0;
	con->hold_head = (con->hold_head + n) % RX_HOLD;
	con->hold_count -= n;
	return n;
}

static void serve_receiveq(struct hyp_virtio_console *con)
{
	struct hyp__virtio *vdev = &con->vdev;
	struct hyp__vq_chain chain;

	for (uint32_t budget = vdev->vq[RECEIVEQ].num; budget && con->hold_count; budget--) {
		uint32_t n;

		if (hyp__vq_pop(vdev, RECEIVEQ, &chain) <= 0)
			break;
		/* A buffer that is not writable guest RAM takes nothing and goes back empty. */
		if (!hyp__vq_walk(vdev, &chain, true, 0, chain.writable, NULL, NULL))
			n = hold_to_chain(con, &chain, chain.writable);
		else
			n = 0;
		if (!n)
			dev_dbg(vdev->vm, "virtio-console@%#llx: unusable receive buffer",
				(unsigned long long)vdev->base);
		hyp__vq_push(vdev, RECEIVEQ, &chain, n);
	}
	if (con->rx_waiting && con->hold_count < RX_HOLD) {
		con->rx_waiting = false;
		vdev->host_notify_pending = con->rx_ready_fn != NULL;
	}
}

static void console_queue_notify(struct hyp__virtio *vdev, uint32_t queue)
{
	struct hyp_virtio_console *con = to_console(vdev);

	if (queue == TRANSMITQ)
		serve_transmitq(con);
	else
		serve_receiveq(con);
}

static void console_host_notify(struct hyp__virtio *vdev)
{
	struct hyp_virtio_console *con = to_console(vdev);

	con->rx_ready_fn(con->rx_ready_opaque);
}

static void console_reset(struct hyp__virtio *vdev)
{
	/* A held buffer belongs to the driver's old queue: forget it (the bytes already sent were
	 * sent; the driver reset the device and gets nothing back). */
	to_console(vdev)->tx_held = false;
}

static const struct hyp__virtio_ops console_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.config_size = CONFIG_SIZE,
	.get_config = console_get_config,
	.set_config = console_set_config,
	.queue_notify = console_queue_notify,
	.host_notify = console_host_notify,
	.reset = console_reset,
};

HYP_API int hyp_virtio_console_create(struct hyp_vm *vm,
				      const struct hyp_virtio_console_config *config,
				      struct hyp_virtio_console **ret)
{
	struct hyp_virtio_console_config cfg;
	struct hyp_virtio_console *con;
	int r;

	if (!vm || !config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(&cfg, sizeof(cfg),
				 offsetof(struct hyp_virtio_console_config, rx_ready_opaque) +
					 sizeof(cfg.rx_ready_opaque),
				 config);
	if (r)
		return r;
	if (cfg.flags & ~(uint32_t)(HYP_DEV_NO_IRQ | HYP_DEV_TX_FD))
		return -EINVAL;
	if (cfg.tx_try_fn && (cfg.tx_fn || (cfg.flags & HYP_DEV_TX_FD)))
		return -EINVAL;

	con = hyp_vm_alloc(vm, sizeof(*con), _Alignof(struct hyp_virtio_console));
	if (!con)
		return -ENOMEM;
	con->rx_ready_fn = cfg.rx_ready_fn;
	con->rx_ready_opaque = cfg.rx_ready_opaque;
	con->tx_try_fn = cfg.tx_try_fn;
	con->tx_opaque = cfg.tx_opaque;
	r = hyp__dev_sink_init(&con->sink, cfg.flags, cfg.tx_fn, cfg.tx_opaque, cfg.tx_fd);
	if (!r)
		r = hyp__virtio_init(&con->vdev, vm, &console_ops, "virtio-console",
				     (1ull << VIRTIO_F_VERSION_1) |
					     (1ull << VIRTIO_F_INDIRECT_DESC) |
					     (1ull << VIRTIO_CONSOLE_F_EMERG_WRITE),
				     cfg.base, cfg.intid, cfg.flags);
	if (!r)
		r = hyp__virtio_attach(&con->vdev);
	if (r) {
		hyp_vm_free(vm, con, sizeof(*con));
		return r;
	}
	*ret = con;
	return 0;
}

HYP_API int hyp_virtio_console_receive(struct hyp_virtio_console *console, const void *bytes,
				       size_t len)
{
	const uint8_t *p = bytes;
	size_t accepted = 0;

	if (!console || (!bytes && len))
		return -EINVAL;
	if (len > INT32_MAX)
		len = INT32_MAX; /* the count must fit the return value */
	/* From the console's own tx_fn (an echo), on the thread that holds the lock: refuse rather
	 * than deadlock. */
	if (hyp__dev_lock_checked(&console->vdev.lock))
		return -EDEADLK;
	for (;;) {
		while (accepted < len && console->hold_count < RX_HOLD) {
			console->hold[(console->hold_head + console->hold_count) % RX_HOLD] =
				p[accepted++];
			console->hold_count++;
		}
		if (hyp__vq_usable(&console->vdev, RECEIVEQ))
			serve_receiveq(console);
		/* Go round again only if the guest's buffers made room for more. */
		if (accepted == len || console->hold_count == RX_HOLD)
			break;
	}
	if (accepted < len)
		console->rx_waiting = true;
	/* Input arriving from the VMM's thread needs no "room again" callback. */
	console->vdev.host_notify_pending = false;
	hyp__virtio_update_irq(&console->vdev);
	hyp__dev_unlock(&console->vdev.lock);
	return (int)accepted;
}

HYP_API int hyp_virtio_console_tx_resume(struct hyp_virtio_console *console)
{
	if (!console)
		return -EINVAL;
	if (hyp__dev_lock_checked(&console->vdev.lock))
		return -EDEADLK;
	if (console->tx_held)
		serve_transmitq_try(console);
	hyp__virtio_update_irq(&console->vdev);
	hyp__dev_unlock(&console->vdev.lock);
	return 0;
}

HYP_API void hyp_virtio_console_destroy(struct hyp_virtio_console *console)
{
	if (!console)
		return;
	if (hyp__virtio_detach(&console->vdev))
		return;
	hyp_vm_free(console->vdev.vm, console, sizeof(*console));
}
