/* SPDX-License-Identifier: MIT */
/*
 * The MMIO round-trip benchmark guest. Loaded at the start of RAM, entered at EL1 with the MMU
 * off. It stores to an MMIO register BENCH_ITERATIONS times between two reads of the virtual
 * counter, reports the tick count through another register, then powers off with PSCI.
 *
 * Under QEMU -icount shift=0 one guest-visible CNTVCT tick (62.5 MHz) is 16 instructions of the
 * whole machine, so ticks * 16 / iterations is the software path length of one exit round trip
 * (ARCHITECTURE.md, "Measuring speed honestly").
 */
#define BENCH_MMIO_BASE 0x0b000000
#define BENCH_REG_DOORBELL 0x00 /* each store is one exit */
#define BENCH_REG_ITERATIONS 0x08 /* the guest reports how many it did */
#define BENCH_REG_TICKS 0x10 /* and how long they took */
#define PSCI_SYSTEM_OFF 0x84000008

	.text
	.globl _start
_start:
	/* A vector table first: any unexpected exception powers off instead of looping
	 * (ARCHITECTURE.md pitfall: VBAR_EL1 = 0 with no RAM there loops forever). */
	adr	x0, vectors
	msr	vbar_el1, x0
	isb

	mov	x1, #BENCH_MMIO_BASE
	ldr	x2, =BENCH_ITERATIONS
	mov	x3, x2
	isb
	mrs	x4, cntvct_el0
1:	str	w3, [x1, #BENCH_REG_DOORBELL]
	subs	x3, x3, #1
	b.ne	1b
	isb
	mrs	x5, cntvct_el0
	sub	x5, x5, x4
	str	x2, [x1, #BENCH_REG_ITERATIONS]
	str	x5, [x1, #BENCH_REG_TICKS]
poweroff:
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
	b	poweroff

	.balign	0x800
vectors:
	.rept	16
	b	poweroff
	.balign	0x80
	.endr
	.ltorg
