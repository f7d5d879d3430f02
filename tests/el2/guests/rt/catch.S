/* SPDX-License-Identifier: MIT */
/*
 * A second EL1 vector table for the hostile guests: a synchronous exception from EL1h (slot 4) is
 * recorded in catch_rec (ESR_EL1, FAR_EL1, ELR_EL1, a count) and the guest resumes at
 * catch_rec.resume, which the code under test sets right before the instruction that may fault
 * (hostile.h). Every other slot goes on to the conformance runtime's vectors (tests/guests/rt/
 * start.S), which report it as unexpected. Slot 4 clobbers X16 and X17 (the intra-procedure-call
 * registers: the callers declare them clobbered).
 */
	.bss
	.balign	8
	.global	catch_rec
catch_rec:
	.skip	5 * 8			/* esr, far, elr, count, resume */

	.text
	.macro	pass slot
	.balign	0x80
	b	lht_vectors + \slot * 0x80
	.endm

	.balign	0x800
	.global	catch_vectors
catch_vectors:
	pass	0
	pass	1
	pass	2
	pass	3
	.balign	0x80
	adrp	x16, catch_rec
	add	x16, x16, :lo12:catch_rec
	mrs	x17, esr_el1
	str	x17, [x16]
	mrs	x17, far_el1
	str	x17, [x16, #8]
	mrs	x17, elr_el1
	str	x17, [x16, #16]
	ldr	x17, [x16, #24]
	add	x17, x17, #1
	str	x17, [x16, #24]
	ldr	x17, [x16, #32]
	msr	elr_el1, x17
	eret
	pass	5
	pass	6
	pass	7
	pass	8
	pass	9
	pass	10
	pass	11
	pass	12
	pass	13
	pass	14
	pass	15
