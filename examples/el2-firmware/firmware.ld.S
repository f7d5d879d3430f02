/* SPDX-License-Identifier: MIT */
/*
 * The firmware's link map: one image at the start of QEMU virt's RAM (0x4000_0000), entered by
 * QEMU's -kernel at _start on CPU 0 at EL2. Preprocessed (cpp -P) for fw-layout.h.
 *
 *   .text      RX   (EL2 stage 1: read-only, executable)
 *   .rodata    R    (guest images included: .guests)
 *   .data .bss RW
 *   .stacks    RW   per-CPU stacks below unmapped guard pages; emergency stacks
 *   .pgtables  RW   the EL2 stage-1 tables
 *   .pool      RW   libhyp's objects and stage-2 tables (2 MiB aligned, not loaded)
 * .bss, .stacks, .pgtables and .pool are NOLOAD: QEMU loads nothing there; .bss is zeroed by
 * the boot CPU once the MMU is on, the tables are built before, the pool needs no zeroing.
 */
#include "fw-layout.h"

OUTPUT_ARCH(aarch64)
ENTRY(_start)

SECTIONS
{
	. = FW_RAM_BASE;
	__text_start = .;
	.text : {
		KEEP(*(.text.entry))
		*(.text .text.*)
	}
	. = ALIGN(FW_PAGE_SIZE);
	__text_end = .;

	__rodata_start = .;
	.rodata : { *(.rodata .rodata.*) }
	.guests : ALIGN(16) { KEEP(*(.guests)) }
	. = ALIGN(FW_PAGE_SIZE);
	__rodata_end = .;

	__data_start = .;
	.data : { *(.data .data.*) }
	.bss (NOLOAD) : ALIGN(16) {
		__bss_start = .;
		*(.bss .bss.* COMMON)
		. = ALIGN(16);
		__bss_end = .;
	}
	.stacks (NOLOAD) : ALIGN(FW_PAGE_SIZE) {
		__stacks_start = .;
		. += FW_STACK_SLOT * FW_MAX_CPUS;
		__emerg_stacks = .;
		. += FW_EMERG_STACK_SIZE * FW_MAX_CPUS;
		__stacks_end = .;
	}
	.pgtables (NOLOAD) : ALIGN(FW_PAGE_SIZE) {
		__pgtables_start = .;
		KEEP(*(.pgtables))
		. = ALIGN(FW_PAGE_SIZE);
		__pgtables_end = .;
	}
	. = ALIGN(0x200000);
	__image_end = .;
	.pool (NOLOAD) : {
		__pool_start = .;
		. += FW_POOL_SIZE;
		__pool_end = .;
	}
	/DISCARD/ : { *(.comment) *(.note*) *(.eh_frame*) *(.ARM.attributes) }
}

/* The partitions' RAM carve-outs start at 0x4800_0000 (config.c). */
ASSERT(__pool_end <= 0x48000000, "firmware image overlaps the partitions' RAM")
ASSERT(__image_end - FW_RAM_BASE <= 0x01000000, "mmu.c maps at most 16 MiB of image with pages")
