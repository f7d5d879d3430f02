/* SPDX-License-Identifier: MIT */
/*
 * lib/trap: pure decoding of guest traps and completion of trapped instructions.
 *
 * Nothing here touches hardware or a backend: every function is a function of the syndrome
 * registers and a struct hyp_gp_regs, so the unit tests feed it architectural values and the EL2
 * backend runs it unchanged.
 */
#ifndef HYP_TRAP_TRAP_H
#define HYP_TRAP_TRAP_H

#include <libhyp/backend.h>
#include <libhyp/exit.h>

#include "arm64.h"

/**
 * struct hyp_dabt_iss - ESR_EL2.ISS of a data abort (EC 0x24/0x25), field by field.
 * Names as the Arm ARM spells them. @sas is the raw field (0..3 = byte..doubleword).
 */
struct hyp_dabt_iss {
	bool isv;
	uint8_t sas;
	bool sse;
	uint8_t srt;
	bool sf;
	bool ar;
	bool vncr;
	bool fnv;
	bool ea;
	bool cm;
	bool s1ptw;
	bool wnr;
	uint8_t dfsc;
};

/** hyp_trap_decode_dabt_iss() - split a data-abort ISS into its fields. */
void hyp_trap_decode_dabt_iss(uint32_t iss, struct hyp_dabt_iss *out);

/**
 * hyp_trap_fault_ipa() - the faulting IPA of a stage-2 abort.
 * HPFAR_EL2.FIPA (bits [43:4], IPA[51:12]) gives the page; FAR_EL2[11:0] the offset in it.
 */
hyp_ipa_t hyp_trap_fault_ipa(uint64_t hpfar, uint64_t far);

/**
 * struct hyp_trap_info - what decoding tells the completion step.
 * @pc_advance: bytes to add to the PC when the trapped instruction completes (4 for A64
 *		instructions that trap before executing: MMIO, MSR/MRS, WFx, trapped SMC; 0 for
 *		HVC, whose preferred return address is already the next instruction).
 */
struct hyp_trap_info {
	uint8_t pc_advance;
};

/**
 * hyp_trap_decode() - turn a raw syndrome into a decoded exit.
 * @raw: ESR/FAR/HPFAR as the hardware reported them (raw->valid says which are meaningful).
 * @exit: receives reason and the union member; exit->raw is set from @raw. Register-sourced fields
 *	  (MMIO write data, MSR value, SMCCC args) are left 0: see hyp_trap_load_operands().
 * @info: receives completion information.
 *
 * Pure function. Handles every EC; anything without a decoded view becomes HYP_EXIT_EXCEPTION
 * (or HYP_EXIT_DEBUG for debug ECs).
 */
void hyp_trap_decode(const struct hyp_syndrome *raw, struct hyp_exit *exit,
		     struct hyp_trap_info *info);

/**
 * hyp_trap_load_operands() - fill the register-sourced fields of a decoded exit.
 * MMIO write data from Rt truncated to the access size (0 for XZR/WZR); MSR value from Rt (0 for
 * XZR); SMCCC: function ID from W0, args from X1..X7 (truncated to 32 bits for SMC32/HVC32 function
 * IDs, bit 30 clear), ret[] pre-set to {NOT_SUPPORTED, X1, X2, X3}.
 */
void hyp_trap_load_operands(struct hyp_exit *exit, const struct hyp_gp_regs *regs);

/**
 * hyp_trap_mmio_read_value() - the 64-bit value an MMIO load puts in its destination register:
 * @data truncated to @len bytes, then sign-extended (to 32 bits for a W destination, 64 for X) if
 * the load sign-extends, and zero-extended to 64 bits.
 */
uint64_t hyp_trap_mmio_read_value(const struct hyp_mmio_access *access);

/**
 * hyp_trap_complete() - finish a decoded exit on the guest's registers.
 * @exit: the exit, with in/out fields as the caller/callback left them.
 * @info: from hyp_trap_decode().
 * @regs: the guest's registers.
 * @advance_pc: false if the caller moved the PC since the exit (then the PC is left alone).
 *
 * MMIO read: Rt (unless XZR) gets hyp_trap_mmio_read_value(). MRS: Rt gets the value. SMCCC: X0..X3
 * get ret[]. Then PC += info->pc_advance if @advance_pc. Other reasons: PC advance only when the
 * decoder said so.
 */
void hyp_trap_complete(const struct hyp_exit *exit, const struct hyp_trap_info *info,
		       struct hyp_gp_regs *regs, bool advance_pc);

/**
 * struct hyp_el1_sysregs - the EL1 registers exception injection reads and writes.
 */
struct hyp_el1_sysregs {
	uint64_t vbar_el1;
	uint64_t elr_el1;
	uint64_t spsr_el1;
	uint64_t esr_el1;
	uint64_t far_el1;
};

/**
 * hyp_trap_inject_sync() - take a synchronous exception to EL1 as the hardware would.
 * @regs: guest registers (PC = the faulting instruction, PSTATE = the current state).
 * @el1: EL1 registers, updated: ELR_EL1 = PC, SPSR_EL1 = PSTATE, ESR_EL1 = @esr, FAR_EL1 = @far if
 *	 @far_valid.
 * @esr: the syndrome to report (EC, IL, ISS).
 * @far: the fault address.
 * @far_valid: set FAR_EL1.
 *
 * The vector is VBAR_EL1 + 0x000/0x200/0x400 for "current EL with SP_EL0", "current EL with
 * SP_ELx", "lower EL using AArch64" (Arm ARM D1.10.2). PSTATE becomes EL1h with DAIF masked.
 */
void hyp_trap_inject_sync(struct hyp_gp_regs *regs, struct hyp_el1_sysregs *el1, uint64_t esr,
			  uint64_t far, bool far_valid);

/**
 * hyp_trap_is_id_reg() - whether @encoding (HYP_SYSREG()) is in the ID register space whose reads
 * HCR_EL2.TID3 traps: Op0 3, Op1 0, CRn 0, CRm 1..7 (ID_PFR0_EL1 .. ID_AA64*; the unallocated
 * encodings there read as zero).
 */
bool hyp_trap_is_id_reg(uint32_t encoding);

/**
 * hyp_trap_id_reg_visible() - the value a guest reads from ID register @encoding whose hardware
 * value is @hw, when its hypervisor traps what it hides: the fields of features a guest cannot use
 * under a backend that traps them (SVE and SME, which CPTR_EL2 traps; MTE, without HCR_EL2.ATA;
 * the PMU, SPE, trace, BRBE and AMU, which MDCR_EL2/CPTR_EL2 trap; MPAM) read as "not
 * implemented", and ID_AA64ZFR0_EL1/ID_AA64SMFR0_EL1 as zero. Everything else as the hardware has
 * it. Encodings outside hyp_trap_is_id_reg() are returned unchanged.
 */
uint64_t hyp_trap_id_reg_visible(uint32_t encoding, uint64_t hw);

/**
 * struct hyp_trap_debug_regs - a vCPU's self-hosted debug registers, kept in memory by a
 * hypervisor that traps guest accesses to them (MDCR_EL2.TDA, TDOSA, TDRA) because it does not
 * switch the hardware's per CPU. The values are stored and read back; they are never loaded into
 * the hardware, so the guest's breakpoints, watchpoints and software step do not fire. A guest
 * OS still boots: Linux writes MDSCR_EL1 and OSLAR_EL1 in its CPU setup and clears every
 * breakpoint and watchpoint ID_AA64DFR0_EL1 reports, and KVM answers the same way when the host
 * does not debug the guest.
 * @nr_brps: breakpoints (ID_AA64DFR0_EL1.BRPs + 1), @nr_wrps: watchpoints (WRPs + 1).
 */
struct hyp_trap_debug_regs {
	uint64_t mdscr_el1, mdccint_el1;
	uint8_t os_lock, os_double_lock, claim, prcr_corepurq;
	uint32_t nr_brps, nr_wrps;
	uint64_t bvr[16], bcr[16], wvr[16], wcr[16];
};

/**
 * hyp_trap_debug_reset() - the registers' reset state for a guest whose ID_AA64DFR0_EL1 reads
 * @dfr0 (what hyp_trap_id_reg_visible() shows it): all zero, the OS lock locked (the architected
 * cold reset state; an OS unlocks it with OSLAR_EL1).
 */
void hyp_trap_debug_reset(struct hyp_trap_debug_regs *d, uint64_t dfr0);

/**
 * hyp_trap_debug_access() - emulate a trapped MSR/MRS of a debug register.
 * @d: the vCPU's registers.
 * @encoding: HYP_SYSREG() of the access.
 * @is_write: MSR (true) or MRS.
 * @value: the value written, or receives the value read.
 *
 * Handles MDSCR_EL1, MDCCINT_EL1, OSLAR_EL1 (write only), OSLSR_EL1 and MDRAR_EL1 (read only),
 * OSDLR_EL1, OSECCR_EL1 (RAZ/WI), DBGPRCR_EL1, DBGCLAIMSET_EL1/DBGCLAIMCLR_EL1,
 * DBGAUTHSTATUS_EL1 (read only: no debug allowed), the DBGBVR/BCR<n>_EL1 and DBGWVR/WCR<n>_EL1 of
 * implemented breakpoints and watchpoints, and the debug communications channel (MDCCSR_EL0 read
 * only, DBGDTR_EL0, DBGDTRRX_EL0 read only, DBGDTRTX_EL0 write only: an absent debugger, RAZ/WI).
 *
 * Return: true if handled (a read fills @value); false for any other encoding and for the wrong
 * direction or an unimplemented breakpoint/watchpoint (the architected answer is UNDEFINED).
 */
bool hyp_trap_debug_access(struct hyp_trap_debug_regs *d, uint32_t encoding, bool is_write,
			   uint64_t *value);

/** hyp_trap_undef_esr() / hyp_trap_ext_abort_esr() - ESR values for injected exceptions. */
uint64_t hyp_trap_undef_esr(void);
uint64_t hyp_trap_ext_abort_esr(bool is_data, bool is_write, bool from_lower_el);

#endif /* HYP_TRAP_TRAP_H */
