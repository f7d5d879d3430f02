/* SPDX-License-Identifier: MIT */
/*
 * Where the el2 firmware's Linux build (examples/el2-firmware/channel.c) puts the inter-partition
 * channel in the bare-metal peer's VM (tests/el2/guests/chan-peer.c), and the firmware's small
 * control window beside it. The region is in the guest's Normal-memory half of the address space
 * (tests/guests/rt/start.S maps 0x4000_0000.. as RAM), outside its 16 MiB of RAM; the doorbell
 * and the control window are in the Device half.
 */
#ifndef CHAN_PEER_H
#define CHAN_PEER_H

/* The shared region (libhyp/chan-layout.h), its doorbell window and doorbell SPI. */
#define PEER_CHAN_IPA 0x48000000ull
#define PEER_CHAN_REGION_SIZE 0x3000ull /* header + two 4 KiB rings */
#define PEER_CHAN_RING 4096u
#define PEER_CHAN_DOORBELL 0x0e000000ull
#define PEER_CHAN_INTID 96u

/*
 * The firmware's control window (64-bit registers, LDR with [Xn]), read-only:
 *   LINUX_DONE   1 once the Linux partition has finished (powered off or stopped): the peer
 *                reports and ends
 *   DOORBELLS, BAD_INDEXES, BYTES_SENT, BYTES_RECEIVED, SEND_SHORT   the host end's counters
 *                (struct hyp_chan_stats), so the peer can check what its attack did
 */
#define PEER_CTL_BASE 0x0e001000ull
#define PEER_CTL_SIZE 0x1000ull
#define PEER_CTL_LINUX_DONE 0x00
#define PEER_CTL_DOORBELLS 0x08
#define PEER_CTL_BAD_INDEXES 0x10
#define PEER_CTL_BYTES_SENT 0x18
#define PEER_CTL_BYTES_RECEIVED 0x20
#define PEER_CTL_SEND_SHORT 0x28

/* The doorbell storm of the peer's hostile phase. */
#define PEER_STORM_RINGS 20000u

#endif /* CHAN_PEER_H */
