/* SPDX-License-Identifier: MIT */
/*
 * Guest entry, MMU bring-up and the EL1 exception vectors for the conformance guests.
 *
 * Every CPU, the boot vCPU and the ones PSCI CPU_ON starts, enters here in the state PSCI and the
 * boot protocol give it (PSCI 1.1 section 6.4, "CPU_ON"): EL1h, DAIF masked, MMU and caches off,
 * X0 = context id. The context id's low byte is the CPU's logical index (0 for the boot vCPU,
 * which the driver enters with X0 = 0).
 *
 * We turn the MMU on before touching the stack because with SCTLR_EL1.M = 0 every data access is
 * Device-nGnRnE (Arm ARM D8.2.10 "Behavior when stage 1 address translation is disabled"):
 * unaligned accesses fault, and exclusives need not work. One identity map serves every CPU:
 *   VA 0x0000_0000 .. 0x3fff_ffff  Device-nGnRnE, execute-never (GIC, test device, ROM, hole)
 *   VA 0x4000_0000 .. 0x7fff_ffff  Normal write-back (RAM)
 */
#include "../protocol.h"

#define STACK_SIZE 0x4000

/* MAIR_EL1: Attr0 = Device-nGnRnE (0x00), Attr1 = Normal, inner/outer write-back RW-allocate. */
#define MAIR_VALUE 0xff00
/* TCR_EL1: T0SZ = 32 (4 GiB of VA, so the 4 KiB-granule walk starts at level 1, Arm ARM D8.2.7),
 * table walks non-cacheable (IRGN0 = ORGN0 = 0: the tables are written with the MMU off, so no
 * cache maintenance is needed before the walker reads them), TG0 = 4 KiB, EPD1 = 1 (no TTBR1
 * walks), IPS = 0 (32-bit PA). */
#define TCR_VALUE ((32 << 0) | (1 << 23))
/* Level 1 block descriptors (Arm ARM D8.3.1): valid block (0b01), AttrIndx in [4:2], SH in [9:8],
 * AF in [10], PXN [53], UXN [54]. */
#define BLOCK_DEVICE ((1 << 10) | (0 << 2) | 1)
#define BLOCK_XN (3 << 21) /* PXN | UXN, in the high word */
#define BLOCK_NORMAL ((1 << 10) | (3 << 8) | (1 << 2) | 1)
/* SCTLR_EL1: M (0), C (2), I (12) on; A (1, alignment check) and WXN (19) off. */
#define SCTLR_SET ((1 << 0) | (1 << 2) | (1 << 12))
#define SCTLR_CLEAR ((1 << 1) | (1 << 19))

	.section .text.lht_entry, "ax"
	.global _start
_start:
	b	lht_boot
	.word	0			/* struct lht_header follows at LHT_HEADER_OFFSET */

	.text
/* The boot vCPU: clear .bss and build the page table, then join the common path. */
lht_boot:
	mov	x19, #0			/* context id */
	mov	x20, #1			/* boot CPU */
	adrp	x0, __bss_start
	add	x0, x0, :lo12:__bss_start
	adrp	x1, __bss_end
	add	x1, x1, :lo12:__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:
	/* Stale clean lines for .bss (e.g. from the loader) must not shadow the zeroes once the
	 * caches are on: invalidate the range to the point of coherency (Arm ARM D7.5.9). */
	mrs	x3, ctr_el0
	ubfx	x3, x3, #16, #4		/* DminLine: log2(words) of the smallest D-cache line */
	mov	x2, #4
	lsl	x2, x2, x3
	adrp	x0, __bss_start
	add	x0, x0, :lo12:__bss_start
	sub	x3, x2, #1
	bic	x0, x0, x3
3:	cmp	x0, x1
	b.hs	4f
	dc	ivac, x0
	add	x0, x0, x2
	b	3b
4:	dsb	sy
	adrp	x0, lht_page_table
	add	x0, x0, :lo12:lht_page_table
	ldr	x1, =BLOCK_DEVICE
	mov	x2, #BLOCK_XN
	orr	x1, x1, x2, lsl #32
	str	x1, [x0]
	ldr	x1, =(0x40000000 | BLOCK_NORMAL)
	str	x1, [x0, #8]
	dsb	sy
	b	lht_common

/* Secondary vCPUs: PSCI CPU_ON entry point; X0 = context id. */
	.global lht_secondary_entry
lht_secondary_entry:
	mov	x19, x0
	mov	x20, #0

lht_common:
	msr	daifset, #0xf
	ldr	x0, =MAIR_VALUE
	msr	mair_el1, x0
	ldr	x0, =TCR_VALUE
	msr	tcr_el1, x0
	adrp	x0, lht_page_table
	add	x0, x0, :lo12:lht_page_table
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x0, sctlr_el1
	ldr	x1, =SCTLR_SET
	orr	x0, x0, x1
	ldr	x1, =SCTLR_CLEAR
	bic	x0, x0, x1
	msr	sctlr_el1, x0
	isb
	ic	iallu
	dsb	nsh
	isb

	/* Logical index from the context id; an index we have no stack for cannot run C. */
	and	x0, x19, #0xff
	cmp	x0, #LHT_MAX_VCPUS
	b.hs	lht_park
	cmp	x0, x20			/* index 0 with boot = 0: a secondary on vCPU 0's stack */
	b.eq	lht_park
	msr	tpidr_el1, x0
	adrp	x1, lht_stacks
	add	x1, x1, :lo12:lht_stacks
	mov	x2, #STACK_SIZE
	madd	x1, x0, x2, x1
	add	sp, x1, x2
	adr	x1, lht_vectors
	msr	vbar_el1, x1
	isb
	mov	x1, x19
	mov	x2, x20
	/* void lht_cpu_main(unsigned cpu, uint64_t context_id, bool boot); does not return. */
	bl	lht_cpu_main
lht_park:
	wfi
	b	lht_park

/*
 * Exception vectors (Arm ARM D1.10.2): 16 slots of 0x80 bytes, 0x800-aligned. Each slot saves
 * X0/X1, passes its slot number and joins lht_exc_common, which saves the rest and calls
 *   void lht_exception(struct lht_frame *frame, unsigned long slot);
 * whose changes to the frame (ELR, registers) take effect at ERET.
 */
#define FRAME_SIZE (34 * 8)	/* X0..X30, ELR_EL1, SPSR_EL1, padding: struct lht_frame */

	.macro	vector slot
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x0, #\slot
	b	lht_exc_common
	.endm

	.balign	0x800
	.global	lht_vectors
lht_vectors:
	vector	0
	vector	1
	vector	2
	vector	3
	vector	4
	vector	5
	vector	6
	vector	7
	vector	8
	vector	9
	vector	10
	vector	11
	vector	12
	vector	13
	vector	14
	vector	15

lht_exc_common:
	stp	x2, x3, [sp, #16 * 1]
	stp	x4, x5, [sp, #16 * 2]
	stp	x6, x7, [sp, #16 * 3]
	stp	x8, x9, [sp, #16 * 4]
	stp	x10, x11, [sp, #16 * 5]
	stp	x12, x13, [sp, #16 * 6]
	stp	x14, x15, [sp, #16 * 7]
	stp	x16, x17, [sp, #16 * 8]
	stp	x18, x19, [sp, #16 * 9]
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x2, elr_el1
	mrs	x3, spsr_el1
	stp	x30, x2, [sp, #16 * 15]
	str	x3, [sp, #16 * 16]
	mov	x1, x0
	mov	x0, sp
	bl	lht_exception
	ldp	x30, x2, [sp, #16 * 15]
	ldr	x3, [sp, #16 * 16]
	msr	elr_el1, x2
	msr	spsr_el1, x3
	ldp	x0, x1, [sp, #16 * 0]
	ldp	x2, x3, [sp, #16 * 1]
	ldp	x4, x5, [sp, #16 * 2]
	ldp	x6, x7, [sp, #16 * 3]
	ldp	x8, x9, [sp, #16 * 4]
	ldp	x10, x11, [sp, #16 * 5]
	ldp	x12, x13, [sp, #16 * 6]
	ldp	x14, x15, [sp, #16 * 7]
	ldp	x16, x17, [sp, #16 * 8]
	ldp	x18, x19, [sp, #16 * 9]
	ldp	x20, x21, [sp, #16 * 10]
	ldp	x22, x23, [sp, #16 * 11]
	ldp	x24, x25, [sp, #16 * 12]
	ldp	x26, x27, [sp, #16 * 13]
	ldp	x28, x29, [sp, #16 * 14]
	add	sp, sp, #FRAME_SIZE
	eret

	.bss
	.balign	4096
lht_page_table:
	.skip	4096
	.balign	16
	.global	lht_stacks
lht_stacks:
	.skip	STACK_SIZE * LHT_MAX_VCPUS
