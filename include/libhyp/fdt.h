/* SPDX-License-Identifier: MIT */
/*
 * Guest device tree generation: the flattened device tree (DTB) a guest such as Linux needs to find
 * its CPUs, memory and the devices of the libhyp virt platform (ARCHITECTURE.md, "The guest
 * platform"), laid out like QEMU's virt board.
 *
 *	struct hyp_fdt_mem_range ram = { .base = 0x40000000, .size = 256 << 20 };
 *	struct hyp_fdt_config fc = { .size = sizeof(fc), .num_cpus = 2, .mem = &ram, .num_mem = 1,
 *				     .bootargs = "console=ttyAMA0" };
 *	static uint8_t dtb[64 << 10] __attribute__((aligned(8)));
 *	size_t dtb_size;
 *
 *	hyp_fdt_build(&fc, dtb, sizeof(dtb), &dtb_size);
 *
 * Every build has it, the freestanding one (EL2 firmware) included: the library writes the tree
 * itself (no libfdt).
 */
#ifndef LIBHYP_FDT_H
#define LIBHYP_FDT_H

#include <libhyp/platform.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** The largest DTB arm64 Linux accepts (Documentation/arch/arm64/booting.rst). */
#define HYP_FDT_MAX_SIZE (2u << 20)
/** The longest /chosen/bootargs, NUL included (arm64 Linux's COMMAND_LINE_SIZE). */
#define HYP_FDT_MAX_BOOTARGS 2048u
/** Limits that keep validation bounded. */
#define HYP_FDT_MAX_MEM_RANGES 64u
#define HYP_FDT_MAX_VIRTIO 64u

/** A range of guest RAM (struct hyp_fdt_config.mem). */
struct hyp_fdt_mem_range {
	hyp_ipa_t base;
	uint64_t size;
};

/**
 * struct hyp_fdt_virtio - one virtio-mmio transport (HYP_VIRTIO_MMIO_SIZE bytes of registers).
 * @base: its IPA, HYP_VIRTIO_MMIO_SIZE aligned; 0 means HYP_DEFAULT_VIRTIO_MMIO_BASE plus the
 *	  entry's index times HYP_VIRTIO_MMIO_SIZE.
 * @intid: its SPI's INTID (32..1019); 0 means HYP_DEFAULT_VIRTIO_MMIO_INTID plus the index.
 * @reserved: must be 0.
 */
struct hyp_fdt_virtio {
	hyp_ipa_t base;
	uint32_t intid;
	uint32_t reserved;
};

/** Flags for struct hyp_fdt_config. */
enum hyp_fdt_flags {
	/** Leave out the PL011 (and /chosen/stdout-path, /aliases/serial0). */
	HYP_FDT_NO_UART = 1u << 0,
	/** Leave out the PL031 RTC. */
	HYP_FDT_NO_RTC = 1u << 1,
	/** Describe the two CFI flash banks (hyp_cfi_flash_create() in libhyp/dev.h): one
	 *  "cfi-flash" node with both banks in its reg and bank-width 4, as QEMU's virt board. */
	HYP_FDT_FLASH = 1u << 2,
};

/**
 * struct hyp_fdt_config - what the guest's device tree describes. Zero-initialise, set @size, fill
 * what you need: every 0 means the platform default.
 * @size: sizeof(struct hyp_fdt_config); same growth rules as struct hyp_vm_config.
 * @flags: enum hyp_fdt_flags.
 * @num_cpus: vCPUs, 1..HYP_MAX_VCPUS. /cpus/cpu@... nodes follow index order: the first is the
 *	      boot vCPU (the one hyp_boot_setup_vcpu() prepares).
 * @num_mem: entries in @mem, 1..HYP_FDT_MAX_MEM_RANGES.
 * @mpidrs: @num_cpus MPIDR affinities (Aff3..Aff0 bits only, unique), as given to
 *	    hyp_vcpu_create(); NULL means the default of struct hyp_vcpu_config: Aff0 = i[3:0],
 *	    Aff1 = i[11:4], Aff2 = i[19:12] for vCPU i.
 * @mem: the guest RAM ranges: HYP_PAGE_SIZE aligned, non-empty, disjoint. One memory node each.
 * @gicd_base: GICv3 distributor (HYP_GICD_SIZE, 64 KiB aligned); 0 means HYP_DEFAULT_GICD_BASE.
 * @gicr_base: redistributors (HYP_GICR_SIZE_PER_VCPU per vCPU, 64 KiB aligned); 0 means
 *	       HYP_DEFAULT_GICR_BASE.
 * @uart_base: PL011 (HYP_UART_SIZE, 4 KiB aligned); 0 means HYP_DEFAULT_UART_BASE.
 * @rtc_base: PL031 (HYP_RTC_SIZE, 4 KiB aligned); 0 means HYP_DEFAULT_RTC_BASE.
 * @uart_intid: the PL011's SPI INTID; 0 means HYP_DEFAULT_UART_INTID.
 * @rtc_intid: the PL031's SPI INTID; 0 means HYP_DEFAULT_RTC_INTID.
 * @timer_intids: the generic timer's PPI INTIDs (16..31) in binding order: secure physical,
 *		  non-secure physical, virtual, hypervisor. Each 0 means its HYP_DEFAULT_TIMER_*.
 * @num_virtio: entries in @virtio, 0..HYP_FDT_MAX_VIRTIO.
 * @uart_clock_hz: the fixed clock of the PL011/PL031; 0 means HYP_DEFAULT_UART_CLOCK_HZ.
 * @virtio: the virtio-mmio transports, or NULL when @num_virtio is 0.
 * @bootargs: /chosen/bootargs (shorter than HYP_FDT_MAX_BOOTARGS), or NULL for none.
 * @initrd_start: /chosen/linux,initrd-start, e.g. struct hyp_boot_layout.initrd_start.
 * @initrd_end: /chosen/linux,initrd-end: the first byte after the initrd. Both 0: no initrd;
 *		otherwise @initrd_start < @initrd_end and the range lies in one @mem range.
 * @flash_base: with HYP_FDT_FLASH, bank 0's IPA, aligned to @flash_bank_size (0 is also the
 *		default, HYP_DEFAULT_FLASH_BASE).
 * @flash_bank_size: with HYP_FDT_FLASH, bytes per bank (a power of two, at least 512 KiB); 0 means
 *		     HYP_DEFAULT_FLASH_BANK_SIZE. Both must be 0 without the flag.
 *
 * Every device range, the redistributor region and the RAM ranges must be disjoint, and every SPI
 * INTID distinct.
 */
struct hyp_fdt_config {
	uint32_t size;
	uint32_t flags;
	uint32_t num_cpus;
	uint32_t num_mem;
	const uint64_t *mpidrs;
	const struct hyp_fdt_mem_range *mem;
	hyp_ipa_t gicd_base;
	hyp_ipa_t gicr_base;
	hyp_ipa_t uart_base;
	hyp_ipa_t rtc_base;
	uint32_t uart_intid;
	uint32_t rtc_intid;
	uint32_t timer_intids[4];
	uint32_t num_virtio;
	uint32_t uart_clock_hz;
	const struct hyp_fdt_virtio *virtio;
	const char *bootargs;
	hyp_ipa_t initrd_start;
	hyp_ipa_t initrd_end;
	hyp_ipa_t flash_base;
	uint64_t flash_bank_size;
};

/**
 * hyp_fdt_build() - write the guest's flattened device tree.
 * @config: what to describe (read only during the call).
 * @buf: where to write the DTB; 8-byte aligned (libfdt, among others, reads trees only at such
 *	 addresses).
 * @buf_size: bytes available at @buf. At most HYP_FDT_MAX_SIZE of them are used: a tree Linux
 *	      would refuse is never produced.
 * @out_size: receives the DTB's size (its header's totalsize). Untouched on failure.
 *
 * The tree has: the root (compatible "linux,dummy-virt", #address-cells and #size-cells 2,
 * interrupt-parent the GIC), /psci (PSCI 1.0 and 0.2 over HVC), one memory node per RAM range,
 * /cpus with cpu@<MPIDR> nodes (reg = the affinity, enable-method "psci"), the armv8 timer (four
 * level-triggered PPIs), the GICv3, a fixed clock, the PL011 (clocks "uartclk" and "apb_pclk")
 * and PL031, the virtio-mmio transports (edge-triggered SPIs, dma-coherent), /aliases/serial0 and
 * /chosen (bootargs, stdout-path to the PL011, the initrd range). Never writes past @buf_size;
 * the string table is built at the end of the buffer, so bytes past *@out_size may have been used
 * as scratch space.
 *
 * Return: 0; -EINVAL for a NULL argument, a misaligned @buf, a @size too small for the first
 * version of the struct, or a bad configuration (no CPUs or too many, a bad or duplicate MPIDR,
 * no RAM, a misaligned, empty, wrapping or overlapping range, an INTID out of range or used
 * twice, an over-long @bootargs, an initrd range outside RAM, unknown flags, non-zero reserved
 * fields); -E2BIG for a larger struct with unknown non-zero fields; -ENOSPC if the tree does not
 * fit in @buf_size bytes (@buf's contents are then unspecified). @buf is not written for any other
 * error.
 */
HYP_API int hyp_fdt_build(const struct hyp_fdt_config *config, void *buf, size_t buf_size,
			  size_t *out_size);

HYP_END_DECLS

#endif /* LIBHYP_FDT_H */
