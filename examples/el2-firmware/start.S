/* SPDX-License-Identifier: MIT */
/*
 * Entry at EL2, MMU bring-up, and the firmware's own EL2 vector table.
 *
 * QEMU's -kernel with virtualization=on enters the ELF at _start on CPU 0 at EL2 with the MMU
 * off; the other CPUs are powered off until PSCI CPU_ON (SMC) starts them at
 * fw_secondary_entry with X0 = their index. Both paths:
 *   - mask DAIF, check CurrentEL = 2 (anything else cannot run libhyp: report and stop),
 *   - HCR_EL2 = RW only (E2H = 0: the el2 backend is non-VHE), SCTLR_EL2 = RES1 (MMU and caches
 *     off, little-endian) so nothing a previous stage left behind applies,
 *   - pick the per-CPU stack from MPIDR_EL1 (index = Aff0 + 8 * Aff1, QEMU virt's layout),
 *   - turn the EL2 MMU on with the identity map the boot CPU built (mmu.c): with the MMU off all
 *     data accesses are Device-nGnRnE (Arm ARM D8.2.10), so unaligned accesses fault and
 *     exclusives (the locks) need not work.
 */
#include "fw-layout.h"

	.section .text.entry, "ax"
	.global	_start
_start:
	msr	daifset, #0xf
	bl	el2_checks
	bl	set_stack
	/* void fw_mmu_build(void): C compiled with -mstrict-align, runs with the MMU off. */
	bl	fw_mmu_build
	bl	mmu_enable
	adr	x0, fw_vectors
	msr	vbar_el2, x0
	isb
	/* void fw_main(void): zeroes .bss first; does not return. */
	bl	fw_main
	b	park

	.text
/* Secondary CPUs: PSCI CPU_ON entry point, X0 = context id (unused: MPIDR says who we are). */
	.global	fw_secondary_entry
fw_secondary_entry:
	msr	daifset, #0xf
	bl	el2_checks
	bl	set_stack
	bl	mmu_enable
	adr	x0, fw_vectors
	msr	vbar_el2, x0
	isb
	/* void fw_secondary_main(void); does not return. */
	bl	fw_secondary_main
	b	park

/* CurrentEL must be EL2; put HCR_EL2/SCTLR_EL2 and friends in a known state. Uses x0-x2. */
el2_checks:
	mrs	x0, CurrentEL
	ubfx	x0, x0, #2, #2
	cmp	x0, #2
	b.ne	not_el2
	ldr	x0, =FW_HCR_EL2
	msr	hcr_el2, x0
	isb
	mrs	x0, hcr_el2
	tbnz	x0, #HCR_EL2_E2H_BIT, e2h_stuck
	ldr	x0, =FW_SCTLR_EL2_RES1
	msr	sctlr_el2, x0
	ldr	x0, =FW_CPTR_EL2
	msr	cptr_el2, x0
	mov	x0, #FW_CNTHCTL_EL2
	msr	cnthctl_el2, x0
	msr	cntvoff_el2, xzr
	msr	cnthp_ctl_el2, xzr
	msr	vttbr_el2, xzr
	msr	mdcr_el2, xzr
	isb
	ret

/* x0 = the CPU index from MPIDR_EL1; SP = the top of its stack. Parks CPUs it has no stack for. */
set_stack:
	mrs	x1, mpidr_el1
	ubfx	x0, x1, #0, #8		/* Aff0 */
	ubfx	x2, x1, #8, #8		/* Aff1 */
	cmp	x0, #8
	b.hs	park
	add	x0, x0, x2, lsl #3
	cmp	x0, #FW_MAX_CPUS
	b.hs	park
	ubfx	x2, x1, #16, #8		/* Aff2 */
	cbnz	x2, park
	ubfx	x2, x1, #32, #8		/* Aff3 */
	cbnz	x2, park
	adrp	x1, __stacks_start
	add	x1, x1, :lo12:__stacks_start
	ldr	x2, =FW_STACK_SLOT
	madd	x1, x0, x2, x1
	add	sp, x1, x2
	ret

/* Turn on the EL2 stage-1 MMU with the tables in fw_pgd. Uses x0. */
mmu_enable:
	ldr	x0, =FW_MAIR_EL2
	msr	mair_el2, x0
	ldr	x0, =FW_TCR_EL2
	msr	tcr_el2, x0
	adrp	x0, fw_pgd
	add	x0, x0, :lo12:fw_pgd
	msr	ttbr0_el2, x0
	isb
	/* Nothing of an earlier life may linger in this CPU's EL2 TLB. */
	tlbi	alle2
	dsb	nsh
	isb
	ldr	x0, =FW_SCTLR_EL2_MMU
	msr	sctlr_el2, x0
	isb
	ic	iallu
	dsb	nsh
	isb
	ret

/* Not at EL2: say so on the UART (MMU off: Device accesses, byte stores are fine) and stop. */
not_el2:
	adr	x1, msg_not_el2
	b	early_fail
e2h_stuck:
	adr	x1, msg_e2h
early_fail:
	ldr	x2, =FW_UART_BASE
1:	ldrb	w3, [x1], #1
	cbz	w3, 2f
	strb	w3, [x2]
	b	1b
2:	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF: SMC at EL2, HVC would be ours */
	smc	#0
park:
	wfi
	b	park

msg_not_el2:
	.asciz	"el2-firmware: FATAL: not entered at EL2 (need -M virt,virtualization=on)\r\n"
msg_e2h:
	.asciz	"el2-firmware: FATAL: HCR_EL2.E2H cannot be cleared (VHE-only CPU)\r\n"
	.balign	4

/*
 * The firmware's EL2 vectors (Arm ARM D1.10.2): 16 slots of 0x80 bytes. The firmware runs with
 * DAIF masked and libhyp installs its own vectors while a guest runs, so every exception that
 * arrives here is a bug: switch to this CPU's emergency stack (the normal one may be what broke),
 * then report ESR/ELR/FAR/SPSR in C and power off. X0-X2 are lost in the process.
 *   void fw_fatal_exception(unsigned long slot);   // noreturn
 */
	.macro	fatal_slot slot
	.balign	0x80
	mov	x0, #\slot
	b	fatal_common
	.endm

	.balign	0x800
	.global	fw_vectors
fw_vectors:
	fatal_slot 0
	fatal_slot 1
	fatal_slot 2
	fatal_slot 3
	fatal_slot 4
	fatal_slot 5
	fatal_slot 6
	fatal_slot 7
	fatal_slot 8
	fatal_slot 9
	fatal_slot 10
	fatal_slot 11
	fatal_slot 12
	fatal_slot 13
	fatal_slot 14
	fatal_slot 15

	.if	FW_EMERG_STACK_SIZE != 0x2000
	.error	"fatal_common shifts by 13 for FW_EMERG_STACK_SIZE"
	.endif
fatal_common:
	mrs	x1, mpidr_el1
	and	x2, x1, #0xff
	ubfx	x1, x1, #8, #8
	add	x1, x2, x1, lsl #3
	and	x1, x1, #(FW_MAX_CPUS - 1)
	adrp	x2, __emerg_stacks
	add	x2, x2, :lo12:__emerg_stacks
	add	x1, x1, #1
	lsl	x1, x1, #13		/* * FW_EMERG_STACK_SIZE */
	add	x2, x2, x1
	mov	sp, x2
	bl	fw_fatal_exception
	b	park
	.ltorg
