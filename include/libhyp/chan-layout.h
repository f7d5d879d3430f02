/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel's guest-visible contract (the host end's API is <libhyp/chan.h>):
 * the layout of the shared region and the doorbell registers. It needs nothing but <stdint.h>,
 * so a bare-metal guest includes it as it is and drives the channel directly.
 *
 * The region, at the IPA the VMM chose, is a header followed by two byte rings of ring_size bytes
 * each (a power of two): to_guest (the host writes, the guest reads) and to_host (the other way).
 * Every field is little endian and 32 bits, naturally aligned:
 *
 *	0x000  magic HYP_CHAN_MAGIC, version HYP_CHAN_VERSION, ring_size, to_guest_off, to_host_off
 *	0x040  written by the host only:  to_guest.prod, to_host.cons
 *	0x080  written by the guest only: to_guest.cons, to_host.prod
 *	0x100  the to_guest ring, then the to_host ring (the offsets are in the header)
 *
 * prod and cons are free-running byte counts (they wrap at 2^32): a ring holds prod - cons bytes,
 * the byte of count n at offset n % ring_size. A producer writes its bytes, then stores prod with
 * release semantics (a DMB before the store); a consumer loads prod with acquire semantics, copies
 * the bytes out, then stores cons with release semantics. The host writes the header once, at
 * hyp_chan_create(), and never reads it back: it keeps its own copy of everything and validates
 * every index the guest writes (an index that would make a ring hold more than ring_size bytes is
 * ignored and counted, see struct hyp_chan_stats), so garbage in the region can only hurt the
 * guest that wrote it. The host stores its two indexes again on every doorbell ring, so a guest
 * that overwrote them gets them back by ringing.
 *
 * Doorbells: the guest writes HYP_CHAN_DB_RING to tell the host end it produced or consumed
 * bytes; the host end raises the guest's doorbell SPI (level) when it did the same, and the line
 * stays up until the guest writes HYP_CHAN_DB_ACK. A guest's handler acknowledges first, then
 * looks at both rings, so nothing the host publishes in between is missed.
 */
#ifndef LIBHYP_CHAN_LAYOUT_H
#define LIBHYP_CHAN_LAYOUT_H

#include <stdint.h>

/** The header's magic value: "LHCH" read as a little-endian 32-bit word. */
#define HYP_CHAN_MAGIC 0x4843484cu
/** The layout version this header describes. */
#define HYP_CHAN_VERSION 1u
/** Bytes before the first ring (the header): the to_guest ring starts here. */
#define HYP_CHAN_HEADER_SIZE 0x100u
/** The smallest and largest ring sizes (bytes per direction, a power of two). */
#define HYP_CHAN_RING_MIN 64u
#define HYP_CHAN_RING_MAX (1u << 24)

/**
 * struct hyp_chan_header - the start of the shared region (HYP_CHAN_HEADER_SIZE bytes).
 * @magic: HYP_CHAN_MAGIC.
 * @version: HYP_CHAN_VERSION.
 * @ring_size: bytes in each ring, a power of two.
 * @to_guest_off: the to_guest ring's offset from the start of the region.
 * @to_host_off: the to_host ring's offset.
 * @reserved0: 0.
 * @to_guest_prod: bytes the host has produced into to_guest (written by the host).
 * @to_host_cons: bytes the host has consumed from to_host (written by the host).
 * @reserved1: 0.
 * @to_guest_cons: bytes the guest has consumed from to_guest (written by the guest).
 * @to_host_prod: bytes the guest has produced into to_host (written by the guest).
 * @reserved2: 0.
 *
 * Each side's indexes sit in a 64-byte line of their own, so the two ends never write the same
 * cache line.
 */
struct hyp_chan_header {
	uint32_t magic;
	uint32_t version;
	uint32_t ring_size;
	uint32_t to_guest_off;
	uint32_t to_host_off;
	uint32_t reserved0[11];
	uint32_t to_guest_prod;
	uint32_t to_host_cons;
	uint32_t reserved1[14];
	uint32_t to_guest_cons;
	uint32_t to_host_prod;
	uint32_t reserved2[30];
};

/*
 * The doorbell window (HYP_CHAN_DB_SIZE bytes at the IPA the VMM chose): 32-bit registers,
 * accessed with aligned 32-bit loads and stores; other accesses read as zero and write nothing.
 */
/** The size of the doorbell register window. */
#define HYP_CHAN_DB_SIZE 0x1000u
/** W: ring the doorbell (any value): the host end looks at both rings. Reads as 0. */
#define HYP_CHAN_DB_RING 0x00u
/** R: 1 while the host end's notification is pending (the SPI's level), else 0. */
#define HYP_CHAN_DB_PENDING 0x04u
/** W: acknowledge the notification (any value): PENDING reads 0 and the SPI goes low. */
#define HYP_CHAN_DB_ACK 0x08u
/** R: the region's IPA (low and high halves), its size in bytes, the ring size, the SPI's INTID
 *  (0 if it has none): what a guest needs to find the channel without a device tree. */
#define HYP_CHAN_DB_REGION_LO 0x10u
#define HYP_CHAN_DB_REGION_HI 0x14u
#define HYP_CHAN_DB_REGION_SIZE 0x18u
#define HYP_CHAN_DB_RING_SIZE 0x1cu
#define HYP_CHAN_DB_INTID 0x20u
/** R: HYP_CHAN_MAGIC, to recognise the window. */
#define HYP_CHAN_DB_MAGIC 0x24u

#endif /* LIBHYP_CHAN_LAYOUT_H */
