/* SPDX-License-Identifier: MIT */
/*
 * Constants shared by the firmware's assembly, C and linker script: sizes, and the EL2 system
 * register values the boot path programs. Values only (usable from .S and .ld).
 */
#ifndef FW_LAYOUT_H
#define FW_LAYOUT_H

/* QEMU virt with -smp up to 8; CPUs are identified by MPIDR Aff0 (+ 8 * Aff1). */
#define FW_MAX_CPUS 8
#define FW_PAGE_SIZE 4096
/* Per-CPU stacks, each below an unmapped guard page so an overflow faults instead of silently
 * overwriting the neighbour. */
#define FW_STACK_SIZE 0x8000
#define FW_STACK_SLOT (FW_STACK_SIZE + FW_PAGE_SIZE)
/* Per-CPU emergency stacks for the fatal exception path (the normal stack may be the reason we
 * are there). */
#define FW_EMERG_STACK_SIZE 0x2000
/* The static pool libhyp's objects and stage-2 tables come from. */
#define FW_POOL_SIZE (8 << 20)

/* Physical memory of QEMU virt: RAM from 1 GiB, -m 1G. */
#define FW_RAM_BASE 0x40000000
#define FW_RAM_SIZE 0x40000000
#define FW_UART_BASE 0x09000000
#define FW_UART_INTID 33u
#define FW_GICD_BASE 0x08000000
/* QEMU virt's PL031 RTC and its interrupt (SPI 2): the device passed through to a guest. */
#define FW_RTC_BASE 0x09010000
#define FW_RTC_INTID 34u
/*
 * The Linux partition (firmware-linux.elf, linux.c). Its RAM is mapped IPA == PA (a partition that
 * is later given a DMA-capable device needs that: there is no SMMU). QEMU places the kernel Image
 * and the initramfs in the staging area with -device loader (tests/el2/run-el2.sh --linux) and
 * writes the boot information block: FW_LINUX_INFO_MAGIC, then the Image's size, then the
 * initramfs's size, then flags (8 bytes each, little endian). The staging area is never mapped into a guest:
 * it stays the pristine copy the partition is loaded from.
 */
#define FW_LINUX_RAM_BASE 0x50000000
#define FW_LINUX_RAM_SIZE 0x10000000
/* (The partition's private and read-only pages follow its RAM, at 0x6000_0000.) */
#define FW_LINUX_KERNEL_STAGE 0x61000000
#define FW_LINUX_KERNEL_MAX 0x03000000
#define FW_LINUX_INITRD_STAGE 0x64000000
#define FW_LINUX_INITRD_MAX 0x0bf00000
#define FW_LINUX_INFO 0x6ff00000
#define FW_LINUX_INFO_MAGIC 0x4f464e4958554e4cull /* "LNUXINFO" */
/* The fourth word of the information block: flags. BENCH: one boot, measured (run-el2.sh --linux
 * --icount). */
#define FW_LINUX_INFO_BENCH 1u
/* QEMU virt's 32 virtio-mmio transports, 0x200 bytes each, slot n's SPI is INTID 48 + n. QEMU puts
 * the first -device virtio-*-device on the last slot (31). */
#define FW_VIRTIO_MMIO_BASE 0x0a000000
#define FW_VIRTIO_MMIO_SLOT_SIZE 0x200
#define FW_VIRTIO_MMIO_SLOTS 32
#define FW_VIRTIO_MMIO_INTID0 48u
#define FW_GIC_ITS_BASE 0x08080000
#define FW_GICR_BASE 0x080a0000
#define FW_GICR_STRIDE 0x20000
/* The device window the firmware maps: GICD up to 11 redistributors (2 MiB block). */
#define FW_GIC_WINDOW_BASE 0x08000000
#define FW_GIC_WINDOW_SIZE 0x00200000

/* HCR_EL2 outside guest runs: RW (EL1 is AArch64), and nothing else: E2H = 0 (non-VHE, which
 * the el2 backend requires), TGE = 0, no routing of interrupts to EL2 (the firmware polls). */
#define FW_HCR_EL2 (1 << 31)
#define HCR_EL2_E2H_BIT 34

/* SCTLR_EL2 (non-VHE layout): RES1 bits 4, 5, 11, 16, 18, 22, 23, 28, 29; EE = 0 (little
 * endian), A = 0 (no alignment checks), everything optional off. */
#define FW_SCTLR_EL2_RES1 0x30c50830
/* With the MMU: M (0), C (2), SA (3), I (12), WXN (19: writable memory is never executable). */
#define FW_SCTLR_EL2_MMU                                                                           \
	(FW_SCTLR_EL2_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19))

/* MAIR_EL2: Attr0 Device-nGnRE (0x04), Attr1 Normal Inner/Outer Write-Back RW-allocate (0xff),
 * Attr2 Device-nGnRnE (0x00). */
#define FW_MAIR_EL2 0x000000000000ff04
#define FW_ATTR_DEVICE 0
#define FW_ATTR_NORMAL 1

/* TCR_EL2 (non-VHE): T0SZ = 32 (4 GiB of VA: a level-1 start with the 4 KiB granule), IRGN0 =
 * ORGN0 = 1 (walks write-back cacheable), SH0 = 3 (inner shareable), TG0 = 0 (4 KiB), PS = 0
 * (32-bit PA: everything the firmware touches is below 4 GiB), RES1 bits 23 and 31. */
#define FW_TCR_EL2 (32 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (1 << 31))

/* CPTR_EL2 (non-VHE): only the RES1 bits (13, 9, 7:0): no traps of FP/SIMD, SVE or SME at this
 * level; the backend sets what guests need. */
#define FW_CPTR_EL2 0x22ff
/* CNTHCTL_EL2 (non-VHE): EL1PCTEN, EL1PCEN: EL1 may use the physical counter and timer. */
#define FW_CNTHCTL_EL2 0x3

#endif /* FW_LAYOUT_H */
