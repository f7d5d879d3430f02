/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel of firmware-linux.elf (channel.c): one libhyp channel
 * (<libhyp/chan.h>) whose guest end is the bare-metal peer in partition rt
 * (tests/el2/guests/chan-peer.c, FW_GUEST_CHANNEL) and whose host end feeds a virtio console in
 * the Linux partition (Linux's stock virtio_console driver, /dev/hvc0).
 */
#ifndef FW_CHANNEL_H
#define FW_CHANNEL_H

#include <libhyp/fdt.h>
#include <libhyp/hyp.h>

/* The Linux side (linux.c). Attach: create the virtio console in @vm (before its vCPUs run) and
 * fill @node, its device-tree entry; returns 0 or a negative errno. Line: every console line of
 * the partition (the channel marker of guest-init.c is looked for). Detach: destroy the console
 * (before hyp_vm_destroy(), no vCPU running; NULL-safe). Finished: the partition is over for good:
 * report the TAP results and let the peer end. */
int fw_channel_linux_attach(struct hyp_vm *vm, struct hyp_fdt_virtio *node);
void fw_channel_linux_line(const char *line);
void fw_channel_linux_detach(void);
void fw_channel_linux_finished(void);

/* The peer side (harness.c, FW_GUEST_CHANNEL): give the guest's VM the channel's guest end and
 * the control window (chan-peer.h); take them away before its VM is destroyed. */
int fw_channel_peer_attach(struct hyp_vm *vm);
void fw_channel_peer_detach(void);

#endif /* FW_CHANNEL_H */
