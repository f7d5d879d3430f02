/* SPDX-License-Identifier: MIT */
/*
 * The guest platform every libhyp VMM presents by default: a machine shaped like QEMU's "virt"
 * board, so guests built for it run unchanged (ARCHITECTURE.md, "The guest platform"). The
 * device tree generator (fdt.h), the device models (dev.h) and the VM's GIC placement (vm.h) all
 * take their defaults from here. Interrupts are GICv3 INTIDs, the numbers hyp_vm_set_spi() takes:
 * the PL011's "SPI 1" is INTID 33.
 */
#ifndef LIBHYP_PLATFORM_H
#define LIBHYP_PLATFORM_H

#include <libhyp/types.h>

/* GICv3: distributor (64 KiB) and redistributors (128 KiB per vCPU). */
#define HYP_DEFAULT_GICD_BASE 0x08000000ull
#define HYP_DEFAULT_GICR_BASE 0x080a0000ull
#define HYP_GICD_SIZE 0x10000u
#define HYP_GICR_SIZE_PER_VCPU 0x20000u
/**
 * The vCPUs the default redistributor region holds before it would reach the default PL011
 * (0x080a0000 + 123 * 128 KiB = 0x08ff0000), as on QEMU's virt board. A VM or device tree with more
 * vCPUs must name its own redistributor base (struct hyp_vm_config.gicr_base and
 * struct hyp_fdt_config.gicr_base, the same value), e.g. HYP_HIGH_GICR_BASE.
 */
#define HYP_DEFAULT_GICR_MAX_VCPUS 123u
/** Where QEMU's virt board puts its second redistributor region (256 GiB): room for 512 vCPUs,
 *  inside a 39-bit or larger IPA space. */
#define HYP_HIGH_GICR_BASE 0x4000000000ull

/* PL011 UART and PL031 RTC: PrimeCell 4 KiB windows, ID registers at the top. */
#define HYP_DEFAULT_UART_BASE 0x09000000ull
#define HYP_DEFAULT_UART_INTID 33u
#define HYP_DEFAULT_RTC_BASE 0x09010000ull
#define HYP_DEFAULT_RTC_INTID 34u
#define HYP_UART_SIZE 0x1000u
#define HYP_RTC_SIZE 0x1000u
/** The rate of the fixed clock fed to the PL011 and PL031 (as QEMU). */
#define HYP_DEFAULT_UART_CLOCK_HZ 24000000u

/* virtio-mmio transports: slot n at BASE + n * SIZE, INTID 48 + n ("SPI 16" onwards). */
#define HYP_DEFAULT_VIRTIO_MMIO_BASE 0x0a000000ull
#define HYP_DEFAULT_VIRTIO_MMIO_INTID 48u
#define HYP_VIRTIO_MMIO_SIZE 0x200u
#define HYP_VIRTIO_MMIO_SLOT_BASE(n)                                                               \
	(HYP_DEFAULT_VIRTIO_MMIO_BASE + (uint64_t)(n)*HYP_VIRTIO_MMIO_SIZE)
#define HYP_VIRTIO_MMIO_SLOT_INTID(n) (HYP_DEFAULT_VIRTIO_MMIO_INTID + (uint32_t)(n))

/* Two CFI NOR flash banks (QEMU virt's pflash0/pflash1): firmware executes from bank 0 at IPA 0,
 * bank 1 keeps its variable store. 64 MiB each, 4-byte wide (two x16 chips), 256 KiB blocks. */
#define HYP_DEFAULT_FLASH_BASE 0x00000000ull
#define HYP_DEFAULT_FLASH_BANK_SIZE (64ull << 20)

/* RAM starts at 1 GiB. */
#define HYP_DEFAULT_RAM_BASE 0x40000000ull

/* Generic timer PPIs: secure physical, non-secure physical, virtual, hypervisor. */
#define HYP_DEFAULT_TIMER_SEC_PHYS_INTID 29u
#define HYP_DEFAULT_TIMER_PHYS_INTID 30u
#define HYP_DEFAULT_TIMER_VIRT_INTID 27u
#define HYP_DEFAULT_TIMER_HYP_INTID 26u

#endif /* LIBHYP_PLATFORM_H */
