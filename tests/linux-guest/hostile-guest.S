/* SPDX-License-Identifier: MIT */
/*
 * A hostile bare-metal guest for hyp-run (ELF64, MMU off): load/store forms without an instruction
 * syndrome aimed at the PL011, the GIC distributor and an address with nothing behind it, exclusive
 * and atomic accesses to the UART, an unknown SMCCC call. hyp-run must answer each architecturally
 * (emulate it, or inject an external abort the guest's vector survives) and keep running, until
 * the guest powers itself off with PSCI SYSTEM_OFF. The console shows "HOSTILE: start", one line
 * per step and "HOSTILE: done, aborts <n>" (tests/linux-guest/boot-linux.sh checks them).
 *
 * X20 = PL011 base, X28 = aborts taken. The vector handler steps over the faulting instruction.
 */
#define UART 0x09000000
#define GICD 0x08000000
#define HOLE 0x0d000000 /* no device at 0x0d00_0000 on hyp-run's platform */

	.macro	puts label
	adr	x1, \label
	bl	putstr
	.endm

	.text
	.global _start
_start:
	adr	x0, vectors
	msr	vbar_el1, x0
	isb
	mov	x28, #0
	mov	x20, #UART
	adr	x0, stack_top
	mov	sp, x0
	puts	msg_start

	/* LDP from the PL011 data and receive-status registers: emulated, two reads. */
	mov	x21, x20
	ldp	w1, w2, [x21]
	puts	msg_ldp

	/* STP of two characters to UARTDR and UARTRSR/ECR (an error clear): emulated. */
	mov	w1, #'<'
	mov	w2, #0
	stp	w1, w2, [x21]
	mov	w1, #'>'
	str	w1, [x20]
	puts	msg_stp

	/* Post-index reads walking the PL011's ID registers (0xfe0..0xffc): emulated, base
	 * advances. */
	add	x21, x20, #0xfe0
	mov	x3, #8
1:	ldr	w1, [x21], #4
	subs	x3, x3, #1
	b.ne	1b
	sub	x21, x21, x20
	cmp	x21, #0x1000
	b.ne	fail
	puts	msg_post

	/* Pre-index write to the UART: emulated. */
	mov	x21, x20
	mov	w1, #'!'
	str	w1, [x21, #0]!
	puts	msg_pre

	/* Exclusive and atomic on the UART: cannot be emulated on a device; an abort each. */
	ldxr	x1, [x20]
	.inst	0xf83402a1		/* ldadd x20, x1, [x21] */
	puts	msg_excl

	/* Post-index from the GIC distributor (the backend's in-kernel GIC on kvm). */
	mov	x21, #GICD
	ldr	w1, [x21], #64
	puts	msg_gic

	/* LDP, STP and a plain load from an address with nothing behind it: aborts. */
	mov	x21, #HOLE
	ldp	x1, x2, [x21]
	stp	x1, x2, [x21, #16]!
	ldr	x1, [x21]
	puts	msg_hole

	/* An SMCCC call nobody implements: NOT_SUPPORTED. */
	ldr	x0, =0xc6001234
	hvc	#0
	cmn	x0, #1
	b.ne	fail
	puts	msg_smccc

	/* Report the abort count as one digit (6 expected: LDXR, LDADD, GICD?, 3 hole). */
	puts	msg_done
	add	w1, w28, #'0'
	str	w1, [x20]
	mov	w1, #'\n'
	str	w1, [x20]
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.

fail:
	puts	msg_fail
	ldr	x0, =0x84000008
	hvc	#0
	b	.

/* putstr: X1 = NUL-terminated string, to UARTDR one byte at a time. Clobbers X1, X2. */
putstr:
	ldrb	w2, [x1], #1
	cbz	w2, 2f
	str	w2, [x20]
	b	putstr
2:	ret

	.balign	2048
vectors:
	.rept	16
	/* Any exception: count it and return past the instruction. */
	mrs	x9, elr_el1
	add	x9, x9, #4
	msr	elr_el1, x9
	add	x28, x28, #1
	eret
	.balign	128
	.endr

	.section .rodata
msg_start:	.asciz "HOSTILE: start\n"
msg_ldp:	.asciz "HOSTILE: LDP from the UART\n"
msg_stp:	.asciz "\nHOSTILE: STP to the UART\n"
msg_post:	.asciz "HOSTILE: post-index loop over the UART ID registers\n"
msg_pre:	.asciz "\nHOSTILE: pre-index store to the UART\n"
msg_excl:	.asciz "HOSTILE: exclusive and atomic on the UART\n"
msg_gic:	.asciz "HOSTILE: post-index load from the GIC distributor\n"
msg_hole:	.asciz "HOSTILE: LDP/STP/LDR at an address with nothing there\n"
msg_smccc:	.asciz "HOSTILE: unknown SMCCC call answered NOT_SUPPORTED\n"
msg_done:	.asciz "HOSTILE: done, aborts "
msg_fail:	.asciz "HOSTILE: FAILED\n"

	.bss
	.balign	16
stack:	.space	4096
stack_top:
