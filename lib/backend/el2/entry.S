/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend's world switch and exception vectors: the only assembly in libhyp.
 *
 * Entry saves the firmware's callee-saved registers, DAIF, TPIDR_EL2 and VBAR_EL2 in a frame on
 * its own stack, points TPIDR_EL2 at the vCPU context and VBAR_EL2 at the table below, loads the
 * guest's general-purpose state and ERETs. Any exception from the guest lands in the lower-EL
 * half of the table, which saves the guest's registers into the context (found via TPIDR_EL2),
 * records the syndrome and either serves the exit in place (the fast paths below: C called on the
 * EL2 stack, then straight back into the guest) or restores the firmware's state from the frame
 * and returns from hyp__el2_enter_guest() as if it were an ordinary call. Everything else
 * (dispatch, completion) is C. Structure offsets come from asm-offsets.c (asm-offsets.h is
 * generated).
 *
 * The guest's X18 is left in X18 at the ordinary exit (the firmware must not reserve X18, e.g.
 * for a shadow call stack); its X29 is cleared before the fast paths call C, so no frame-pointer
 * walk in firmware code reached from them (a callback, the IRQ handler) follows the guest's.
 */
#include "asm-offsets.h"

	.arch	armv8-a+simd

/* The entry frame: X19-X30 at 0..88, then the firmware's TPIDR_EL2 and VBAR_EL2 (FRAME_TPIDR,
 * FRAME_VBAR: asm-offsets.h, the C side reads them too) and DAIF. */
#define FRAME_SIZE	128
#define FRAME_DAIF	112

/* Load the guest's X0-X30 from the context at x0 and enter it (ELR_EL2, SPSR_EL2 and SP_EL0
 * already set up). No speculation past the ERET. */
	.macro	load_guest_and_eret
	ldp	x2, x3, [x0, #CTX_X0 + 16]
	ldp	x4, x5, [x0, #CTX_X0 + 32]
	ldp	x6, x7, [x0, #CTX_X0 + 48]
	ldp	x8, x9, [x0, #CTX_X0 + 64]
	ldp	x10, x11, [x0, #CTX_X0 + 80]
	ldp	x12, x13, [x0, #CTX_X0 + 96]
	ldp	x14, x15, [x0, #CTX_X0 + 112]
	ldp	x16, x17, [x0, #CTX_X0 + 128]
	ldp	x18, x19, [x0, #CTX_X0 + 144]
	ldp	x20, x21, [x0, #CTX_X0 + 160]
	ldp	x22, x23, [x0, #CTX_X0 + 176]
	ldp	x24, x25, [x0, #CTX_X0 + 192]
	ldp	x26, x27, [x0, #CTX_X0 + 208]
	ldp	x28, x29, [x0, #CTX_X0 + 224]
	ldr	x30, [x0, #CTX_X30]
	ldp	x0, x1, [x0, #CTX_X0]
	eret
	dsb	nsh
	isb
	.endm

/* The context at x0 <-> ELR_EL2, SPSR_EL2 and SP_EL0 (save clobbers x2, x3; load x1, x2). */
	.macro	save_guest_pc_sp
	mrs	x2, elr_el2
	mrs	x3, spsr_el2
	stp	x2, x3, [x0, #CTX_PC]
	mrs	x2, sp_el0
	str	x2, [x0, #CTX_SP_EL0]
	.endm

	.macro	load_guest_pc_sp
	ldp	x1, x2, [x0, #CTX_PC]		/* PC and PSTATE are adjacent */
	msr	elr_el2, x1
	msr	spsr_el2, x2
	ldr	x1, [x0, #CTX_SP_EL0]
	msr	sp_el0, x1
	.endm

	.text

/* void hyp__el2_enter_guest(struct hyp_el2_ctx *ctx) */
	.globl	hyp__el2_enter_guest
	.hidden	hyp__el2_enter_guest
	.type	hyp__el2_enter_guest, %function
	.balign	16
hyp__el2_enter_guest:
	sub	sp, sp, #FRAME_SIZE
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	mrs	x1, tpidr_el2
	mrs	x2, vbar_el2
	stp	x1, x2, [sp, #FRAME_TPIDR]
	/* Nothing may interrupt EL2 between switching vectors and the ERET. */
	mrs	x3, daif
	str	x3, [sp, #FRAME_DAIF]
	msr	daifset, #0xf
	mov	x1, sp
	str	x1, [x0, #CTX_HOST_SP]
	msr	tpidr_el2, x0
	adrp	x1, hyp__el2_vectors
	add	x1, x1, :lo12:hyp__el2_vectors
	msr	vbar_el2, x1
	load_guest_pc_sp
	load_guest_and_eret
	.size	hyp__el2_enter_guest, . - hyp__el2_enter_guest

/*
 * A guest exception: x0/x1 go to the EL2 stack (SP_EL2 still points just below the entry
 * frame), the rest straight into the context. 21 instructions: fits a 32-instruction slot.
 */
	.macro	guest_exit kind, target=guest_exit_common
	.balign	0x80
	stp	x0, x1, [sp, #-16]!
	mrs	x0, tpidr_el2
	stp	x2, x3, [x0, #CTX_X0 + 16]
	stp	x4, x5, [x0, #CTX_X0 + 32]
	stp	x6, x7, [x0, #CTX_X0 + 48]
	stp	x8, x9, [x0, #CTX_X0 + 64]
	stp	x10, x11, [x0, #CTX_X0 + 80]
	stp	x12, x13, [x0, #CTX_X0 + 96]
	stp	x14, x15, [x0, #CTX_X0 + 112]
	stp	x16, x17, [x0, #CTX_X0 + 128]
	stp	x18, x19, [x0, #CTX_X0 + 144]
	stp	x20, x21, [x0, #CTX_X0 + 160]
	stp	x22, x23, [x0, #CTX_X0 + 176]
	stp	x24, x25, [x0, #CTX_X0 + 192]
	stp	x26, x27, [x0, #CTX_X0 + 208]
	stp	x28, x29, [x0, #CTX_X0 + 224]
	str	x30, [x0, #CTX_X30]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0, #CTX_X0]
	mov	x1, #\kind
	b	\target
	.endm

/*
 * An exception taken at EL2 itself while this table is installed (a libhyp bug, or a fault in a
 * callback the fast paths called: MMIO and SMCCC handlers, the platform's callbacks): hand it to
 * the firmware's own vector for the same offset, with its VBAR_EL2 back, so its handler reports
 * it. x0/x1 are lost; ESR/ELR/FAR are intact.
 */
	.macro	forward_to_firmware offset
	.balign	0x80
	mrs	x0, tpidr_el2
	ldr	x1, [x0, #CTX_HOST_SP]
	ldr	x1, [x1, #FRAME_VBAR]
	msr	vbar_el2, x1
	add	x1, x1, #\offset
	isb
	br	x1
	.endm

	.balign	0x800
	.globl	hyp__el2_vectors
	.hidden	hyp__el2_vectors
hyp__el2_vectors:
	forward_to_firmware 0x000	/* current EL, SP_EL0: sync */
	forward_to_firmware 0x080	/* IRQ */
	forward_to_firmware 0x100	/* FIQ */
	forward_to_firmware 0x180	/* SError */
	forward_to_firmware 0x200	/* current EL, SP_ELx: sync */
	forward_to_firmware 0x280
	forward_to_firmware 0x300
	forward_to_firmware 0x380
	guest_exit EXIT_SYNC, guest_sync_fast	/* lower EL, AArch64 */
	guest_exit EXIT_IRQ, guest_irq_fast
	guest_exit EXIT_FIQ
	guest_exit EXIT_SERROR
	forward_to_firmware 0x600	/* lower EL, AArch32: guests are AArch64 only (HCR_EL2.RW) */
	forward_to_firmware 0x680
	forward_to_firmware 0x700
	forward_to_firmware 0x780

/*
 * A synchronous exit first tries the fast path: hyp__el2_fast_exit() (C, on the EL2 stack below
 * the entry frame, guest registers in the context) handles the common exits to a registered
 * callback completely. When it did, the guest goes straight back in: no unwinding of the entry
 * frame, no return through hyp_vcpu_run(). Otherwise the ordinary exit below.
 * x0 = ctx, x1 = EXIT_SYNC.
 */
	.balign	16
guest_sync_fast:
	mrs	x2, elr_el2
	mrs	x3, spsr_el2
	stp	x2, x3, [x0, #CTX_PC]
	mrs	x2, esr_el2
	str	x2, [x0, #CTX_ESR]	/* FAR/HPFAR: read by the C side when it needs them */
	mov	x29, xzr
	bl	hyp__el2_fast_exit
	cbz	w0, 1f
	/* Handled: back into the guest, at the PC/PSTATE the completion left. */
	mrs	x0, tpidr_el2
	ldp	x1, x2, [x0, #CTX_PC]
	msr	elr_el2, x1
	msr	spsr_el2, x2
	load_guest_and_eret
1:	mrs	x0, tpidr_el2
	mov	x1, #EXIT_SYNC
	b	guest_exit_common

/*
 * A physical IRQ interrupted the guest: hyp__el2_fast_irq() (C, on the EL2 stack below the entry
 * frame, guest registers, PC, PSTATE and SP_EL0 in the context) has the firmware's handler take
 * it and, when nothing needs the run loop, lists what changed for the vCPU and resumes the guest
 * in place. Otherwise the ordinary exit, with the state already saved.
 * x0 = ctx, x1 = EXIT_IRQ.
 */
	.balign	16
guest_irq_fast:
	save_guest_pc_sp
	mov	x29, xzr
	bl	hyp__el2_fast_irq
	mrs	x1, tpidr_el2
	cbz	w0, 1f
	mov	x0, x1
	load_guest_pc_sp
	load_guest_and_eret
1:	mov	x0, x1
	mov	x1, #EXIT_IRQ
	b	guest_exit_saved

	.balign	16
guest_exit_common:
	save_guest_pc_sp
guest_exit_saved:			/* PC, PSTATE and SP_EL0 are in the context */
	str	x1, [x0, #CTX_EXIT_KIND]
	mrs	x2, esr_el2
	mrs	x3, far_el2
	stp	x2, x3, [x0, #CTX_ESR]		/* ESR and FAR are adjacent */
	mrs	x2, hpfar_el2
	str	x2, [x0, #CTX_HPFAR]
	ldr	x1, [x0, #CTX_HOST_SP]
	mov	sp, x1
	ldp	x1, x2, [sp, #FRAME_TPIDR]
	msr	tpidr_el2, x1
	msr	vbar_el2, x2
	ldr	x3, [sp, #FRAME_DAIF]
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	add	sp, sp, #FRAME_SIZE
	isb
	msr	daif, x3
	ret

/* void hyp__el2_save_fp(void *area): V0-V31, then FPSR and FPCR. */
	.globl	hyp__el2_save_fp
	.hidden	hyp__el2_save_fp
	.type	hyp__el2_save_fp, %function
	.balign	16
hyp__el2_save_fp:
	stp	q0, q1, [x0, #0]
	stp	q2, q3, [x0, #32]
	stp	q4, q5, [x0, #64]
	stp	q6, q7, [x0, #96]
	stp	q8, q9, [x0, #128]
	stp	q10, q11, [x0, #160]
	stp	q12, q13, [x0, #192]
	stp	q14, q15, [x0, #224]
	stp	q16, q17, [x0, #256]
	stp	q18, q19, [x0, #288]
	stp	q20, q21, [x0, #320]
	stp	q22, q23, [x0, #352]
	stp	q24, q25, [x0, #384]
	stp	q26, q27, [x0, #416]
	stp	q28, q29, [x0, #448]
	stp	q30, q31, [x0, #480]
	mrs	x1, fpsr
	mrs	x2, fpcr
	add	x0, x0, #512
	stp	x1, x2, [x0]
	ret
	.size	hyp__el2_save_fp, . - hyp__el2_save_fp

/* void hyp__el2_load_fp(const void *area) */
	.globl	hyp__el2_load_fp
	.hidden	hyp__el2_load_fp
	.type	hyp__el2_load_fp, %function
	.balign	16
hyp__el2_load_fp:
	ldp	q0, q1, [x0, #0]
	ldp	q2, q3, [x0, #32]
	ldp	q4, q5, [x0, #64]
	ldp	q6, q7, [x0, #96]
	ldp	q8, q9, [x0, #128]
	ldp	q10, q11, [x0, #160]
	ldp	q12, q13, [x0, #192]
	ldp	q14, q15, [x0, #224]
	ldp	q16, q17, [x0, #256]
	ldp	q18, q19, [x0, #288]
	ldp	q20, q21, [x0, #320]
	ldp	q22, q23, [x0, #352]
	ldp	q24, q25, [x0, #384]
	ldp	q26, q27, [x0, #416]
	ldp	q28, q29, [x0, #448]
	ldp	q30, q31, [x0, #480]
	add	x0, x0, #512
	ldp	x1, x2, [x0]
	msr	fpsr, x1
	msr	fpcr, x2
	ret
	.size	hyp__el2_load_fp, . - hyp__el2_load_fp

	.section .note.GNU-stack, "", %progbits
