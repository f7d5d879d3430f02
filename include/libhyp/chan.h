/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel: a shared-memory region with two byte rings and doorbells between
 * code running beside the backend (the "host end": EL2 firmware, or a hosted VMM on kvm or mock)
 * and a guest that uses the region directly (the layout and registers are <libhyp/chan-layout.h>,
 * which a bare-metal guest includes on its own).
 *
 *	struct hyp_chan_config cc = { .size = sizeof(cc), .region = page_aligned_buf,
 *				      .region_size = 3 * 4096, .notify_fn = rang, .notify_opaque = me };
 *	struct hyp_chan_attach_config ac = { .size = sizeof(ac), .ipa = 0x48000000,
 *					     .doorbell = 0x0b200000, .intid = 80 };
 *	struct hyp_chan *chan;
 *
 *	hyp_chan_create(&cc, &chan);      // the region's header written, both rings empty
 *	hyp_chan_attach(chan, vm, &ac);   // region mapped at ac.ipa, doorbell window, SPI claimed
 *	... hyp_chan_send(chan, "hi", 2); in rang(): n = hyp_chan_recv(chan, buf, sizeof(buf)) ...
 *	hyp_chan_detach(chan);            // before hyp_vm_destroy(), no vCPU running
 *	hyp_chan_destroy(chan);
 *
 * A channel outlives the VMs attached to it (one at a time): bytes sent while no VM is attached
 * wait in the ring, so a peer can be restarted without the host end losing anything.
 *
 * It is a pure user of the public API (hyp_vm_map(), hyp_vm_add_mmio_handler(),
 * hyp_vm_set_spi()), so it works on every backend. Threads: hyp_chan_send(), _recv(), _peek(),
 * _consume() and _get_stats() are safe from any thread, concurrently with the guest's doorbell;
 * the notify callback runs on the vCPU thread that rang, without the channel's lock, and may call
 * them.
 *
 * The guest is hostile. The host never reads back what it wrote in the region; it validates every
 * index the guest wrote, each read once with a single atomic load, and copies data out of the
 * region before anyone uses it. An index out of range is ignored (the ring reads as empty, or as
 * full) and counted (struct hyp_chan_stats.bad_indexes); the guest can repair it by writing a
 * valid one. Each call does at most ring_size bytes of copying; a doorbell costs one MMIO exit
 * and one notify callback, whatever the region holds.
 *
 * A full ring is backpressure, never a silent drop: hyp_chan_send() takes what fits and returns
 * the count; the rest is the caller's to offer again after the guest consumed (it rings the
 * doorbell: the notify callback).
 */
#ifndef LIBHYP_CHAN_H
#define LIBHYP_CHAN_H

#include <libhyp/chan-layout.h>
#include <libhyp/types.h>
#include <libhyp/vm.h>

HYP_BEGIN_DECLS

struct hyp_chan;

/**
 * hyp_chan_notify_fn - the guest rang the doorbell (wrote HYP_CHAN_DB_RING).
 * @opaque: the config's @notify_opaque.
 * @chan: the channel.
 *
 * Runs on the vCPU thread that rang, inside hyp_vcpu_run(), without the channel's lock held: it
 * may call hyp_chan_recv(), hyp_chan_send() and friends, but not hyp_chan_detach() or
 * hyp_chan_destroy(). Called once per ring: a guest ringing in a loop gets one call per ring, so
 * keep it short (bounded by what the rings hold).
 */
typedef void (*hyp_chan_notify_fn)(void *opaque, struct hyp_chan *chan);

/**
 * struct hyp_chan_config - a channel over a region of memory. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_chan_config); same growth rules as struct hyp_vm_config.
 * @flags: must be 0.
 * @ring_size: bytes per direction: a power of two from HYP_CHAN_RING_MIN to HYP_CHAN_RING_MAX
 *	       with HYP_CHAN_HEADER_SIZE + 2 * @ring_size <= @region_size; 0 means the largest
 *	       that fits.
 * @region: the shared memory, 4 KiB aligned (the caller's: it must outlive the channel; the
 *	    channel writes its header and zeroes both rings' indexes at creation).
 * @region_size: its size, a non-zero multiple of 4 KiB.
 * @alloc: where the channel's handle comes from; NULL means malloc() (hosted builds; required in
 *	   the freestanding build).
 * @notify_fn: optional: called when the guest rings the doorbell.
 * @notify_opaque: passed to @notify_fn.
 */
struct hyp_chan_config {
	uint32_t size;
	uint32_t flags;
	uint32_t ring_size;
	uint32_t reserved;
	void *region;
	uint64_t region_size;
	const struct hyp_alloc_ops *alloc;
	hyp_chan_notify_fn notify_fn;
	void *notify_opaque;
};

/**
 * hyp_chan_create() - set up a channel over a region.
 * @config: the configuration (read during the call only).
 * @ret: receives the channel. Untouched on failure.
 *
 * Writes the header (struct hyp_chan_header) and empties both rings.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, non-zero @flags or reserved field, a
 * misaligned or empty region, a @ring_size that is not a power of two in range or does not fit;
 * -E2BIG (see struct hyp_vm_config); -ENOTSUP without @alloc in the freestanding build; -ENOMEM.
 */
HYP_API int hyp_chan_create(const struct hyp_chan_config *config, struct hyp_chan **ret);

/** Flags of struct hyp_chan_attach_config. */
enum hyp_chan_attach_flags {
	/** No doorbell interrupt: the guest polls (@intid is ignored). */
	HYP_CHAN_NO_IRQ = 1u << 0,
};

/**
 * struct hyp_chan_attach_config - where a VM sees the channel. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_chan_attach_config).
 * @flags: enum hyp_chan_attach_flags.
 * @intid: the doorbell SPI's INTID (32..1019), unless HYP_CHAN_NO_IRQ.
 * @ipa: where the region is mapped, 4 KiB aligned: read-write, and not executable on backends
 *	 that can refuse execution (el2, mock; kvm's stage 2 is always executable).
 * @doorbell: the IPA of the HYP_CHAN_DB_SIZE-byte doorbell window, 4 KiB aligned.
 */
struct hyp_chan_attach_config {
	uint32_t size;
	uint32_t flags;
	uint32_t intid;
	uint32_t reserved;
	hyp_ipa_t ipa;
	hyp_ipa_t doorbell;
};

/**
 * hyp_chan_attach() - give a VM the channel's guest end.
 * @chan: the channel (not attached).
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration (read during the call only).
 *
 * Maps the region at @config->ipa with hyp_vm_map(), registers the doorbell window and claims the
 * SPI (the line starts low; any notification pending from before is raised when the VM rings or
 * the host end next sends or consumes). The channel's contents are kept: the guest finds what was
 * sent while nothing was attached.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, unknown @flags, a non-zero reserved field,
 * misaligned IPAs or a bad @intid; -E2BIG; -EBUSY if @chan is attached already or a vCPU of @vm
 * is running; -ENOTSUP if the VM has no interrupt controller (use HYP_CHAN_NO_IRQ); -EEXIST if
 * the region or the window overlaps memory or an MMIO range of the VM; -ENOMEM. Nothing is left
 * attached on failure.
 */
HYP_API int hyp_chan_attach(struct hyp_chan *chan, struct hyp_vm *vm,
			    const struct hyp_chan_attach_config *config);

/**
 * hyp_chan_detach() - take the guest end away from its VM.
 * @chan: the channel.
 *
 * Lowers the SPI, removes the doorbell window and unmaps the region. Call it before
 * hyp_vm_destroy(), while no vCPU of the VM runs. The rings keep their contents.
 *
 * Return: 0 (also when nothing is attached); -EINVAL for a NULL @chan; -EBUSY if a vCPU is
 * running (nothing is changed).
 */
HYP_API int hyp_chan_detach(struct hyp_chan *chan);

/**
 * hyp_chan_send() - write bytes into the to_guest ring.
 * @chan: the channel.
 * @bytes: the data (may be NULL when @len is 0).
 * @len: how many bytes.
 *
 * Takes as many bytes as the ring has room for, publishes them, and raises the doorbell SPI if
 * any were taken. A full ring (or a to_guest.cons index out of range, which counts as full) takes
 * nothing: offer the rest again after the guest rang.
 *
 * Return: the number of bytes taken (0..@len, at most the ring size); -EINVAL for a NULL @chan,
 * or NULL @bytes with a non-zero @len.
 */
HYP_API int hyp_chan_send(struct hyp_chan *chan, const void *bytes, size_t len);

/**
 * hyp_chan_peek() - copy bytes out of the to_host ring without consuming them.
 * @chan: the channel.
 * @buf: where to copy (may be NULL when @len is 0).
 * @len: at most this many.
 *
 * Return: the number of bytes copied (0 when the ring is empty or the guest's to_host.prod index
 * is out of range); -EINVAL for a NULL @chan, or NULL @buf with a non-zero @len.
 */
HYP_API int hyp_chan_peek(struct hyp_chan *chan, void *buf, size_t len);

/**
 * hyp_chan_consume() - drop bytes from the to_host ring (after hyp_chan_peek() copied them).
 * @chan: the channel.
 * @len: how many.
 *
 * Publishes the new to_host.cons and raises the doorbell SPI (the guest has room again).
 *
 * Return: the number of bytes consumed: @len, or fewer if the ring (as the last validated
 * to_host.prod says) holds fewer; -EINVAL for a NULL @chan.
 */
HYP_API int hyp_chan_consume(struct hyp_chan *chan, size_t len);

/**
 * hyp_chan_recv() - hyp_chan_peek() then hyp_chan_consume() of what was copied.
 * @chan: the channel.
 * @buf: where to copy.
 * @len: at most this many.
 *
 * Return: the number of bytes received; -EINVAL as hyp_chan_peek().
 */
HYP_API int hyp_chan_recv(struct hyp_chan *chan, void *buf, size_t len);

/**
 * struct hyp_chan_stats - what a channel has seen (hyp_chan_get_stats()).
 * @size: set by the caller to sizeof(struct hyp_chan_stats); the library fills what fits.
 * @ring_size: bytes per ring.
 * @readable: bytes waiting in to_host now (0 if its index is out of range).
 * @writable: room in to_guest now (0 if its index is out of range).
 * @bytes_sent: bytes hyp_chan_send() took.
 * @bytes_received: bytes hyp_chan_consume() (and _recv()) consumed.
 * @doorbells: doorbell rings by the guest.
 * @interrupts: times the doorbell SPI was raised (low to high).
 * @bad_indexes: guest-written indexes found out of range and ignored.
 * @send_short: hyp_chan_send() calls that could not take every byte (backpressure).
 * @bad_accesses: doorbell window accesses of a bad width, alignment or offset (ignored).
 */
struct hyp_chan_stats {
	uint32_t size;
	uint32_t ring_size;
	uint32_t readable;
	uint32_t writable;
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t doorbells;
	uint64_t interrupts;
	uint64_t bad_indexes;
	uint64_t send_short;
	uint64_t bad_accesses;
};

/**
 * hyp_chan_get_stats() - the channel's counters and current ring levels.
 * @chan: the channel.
 * @stats: filled up to @stats->size bytes (which the caller sets).
 *
 * Return: 0; -EINVAL for NULL arguments or a @stats->size smaller than the first four fields.
 */
HYP_API int hyp_chan_get_stats(struct hyp_chan *chan, struct hyp_chan_stats *stats);

/**
 * hyp_chan_destroy() - free the channel (detaching it first). NULL does nothing.
 * @chan: the channel.
 *
 * The region is the caller's and stays as it is. If the channel cannot be detached (a vCPU is
 * running), it is left alone and not freed, and nothing else happens.
 */
HYP_API void hyp_chan_destroy(struct hyp_chan *chan);

HYP_END_DECLS

#endif /* LIBHYP_CHAN_H */
