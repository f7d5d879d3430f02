/* SPDX-License-Identifier: MIT */
/*
 * lib/trap/iss.h: ESR_EL2 syndrome field layouts, PSTATE bits and the small register helpers the
 * decoder (decode.c) and its in-line fast path (fast.h) share. Internal to lib/trap and the code
 * that includes fast.h.
 *
 * Field layouts cite the Arm ARM (DDI 0487), register ESR_EL2 (section D24.2.40 in recent issues),
 * "ISS encoding for an exception from ...", and section D1.10 for exception entry.
 */
#ifndef HYP_TRAP_ISS_H
#define HYP_TRAP_ISS_H

#include <stdbool.h>
#include <stdint.h>

#include <libhyp/backend.h>

/* For the exit fast path: functions that must fold into their caller, whatever the number of
 * call sites (trap/fast.h, fast-exit.h). */
#define HYP_ALWAYS_INLINE inline __attribute__((always_inline))

/* ESR_ELx.IL: 1 for a trapped 32-bit instruction (all of A64), 0 for a 16-bit T32 one. */
#define ESR_IL (UINT64_C(1) << 25)
#define ESR_EC_SHIFT 26

/* ISS of a Data Abort (EC 0x24/0x25). */
#define DABT_ISV (1u << 24)
#define DABT_SAS_SHIFT 22
#define DABT_SSE (1u << 21)
#define DABT_SRT_SHIFT 16
#define DABT_SF (1u << 15)
#define DABT_AR (1u << 14)
#define DABT_VNCR (1u << 13)
#define DABT_FNV (1u << 10)
#define DABT_EA (1u << 9)
#define DABT_CM (1u << 8)
#define DABT_S1PTW (1u << 7)
#define DABT_WNR (1u << 6)
#define ABT_FSC_MASK 0x3fu

/* ISS of an Instruction Abort (EC 0x20/0x21): FnV, EA, S1PTW and IFSC sit where a DABT has them. */
#define IABT_FNV DABT_FNV
#define IABT_S1PTW DABT_S1PTW

/* DFSC/IFSC values (ESR_EL2.ISS.DFSC). */
#define FSC_EXTABT 0x10u    /* Synchronous External abort, not on translation table walk. */
#define FSC_TRANS_LM1 0x2bu /* Translation fault, level -1 (FEAT_LPA2). */

/* ISS of a trapped MSR, MRS or System instruction (EC 0x18). */
#define SYS_OP0(iss) (((iss) >> 20) & 3u)
#define SYS_OP2(iss) (((iss) >> 17) & 7u)
#define SYS_OP1(iss) (((iss) >> 14) & 7u)
#define SYS_CRN(iss) (((iss) >> 10) & 15u)
#define SYS_RT(iss) (((iss) >> 5) & 31u)
#define SYS_CRM(iss) (((iss) >> 1) & 15u)
#define SYS_DIR_READ 1u /* Direction: 1 = read (MRS, SYSL). */

/* ISS of a trapped WFI/WFE/WFIT/WFET (EC 0x01): TI[1:0] = 00 WFI, 01 WFE, 10 WFIT, 11 WFET. */
#define WFX_TI_WFE 1u
#define WFX_TI_TIMEOUT 2u

/* ISS[15:0] of HVC64, SMC64, BRK64 and BKPT32: the instruction's immediate / comment. */
#define ISS_IMM16(iss) ((uint16_t)((iss)&0xffffu))

/* HPFAR_EL2.FIPA, bits [43:4]: IPA[51:12]. Bit 63 (NS, FEAT_SEL2) and the rest are not address. */
#define HPFAR_FIPA_SHIFT 4
#define HPFAR_FIPA_MASK ((UINT64_C(1) << 40) - 1)
#define PAGE_OFFSET_MASK UINT64_C(0xfff)

/* PSTATE as SPSR_ELx lays it out (AArch64 format unless noted). */
#define PSTATE_M_EL_SHIFT 2	      /* M[3:2]: Exception level. */
#define PSTATE_M_SP 1u		      /* M[0]: 0 = SP_EL0 ("t"), 1 = SP_ELx ("h"). */
#define PSTATE_NRW (UINT64_C(1) << 4) /* M[4]: 1 = taken from AArch32. */
#define PSTATE_BTYPE (UINT64_C(3) << 10)
#define PSTATE_SS (UINT64_C(1) << 21)
#define PSTATE_PAN (UINT64_C(1) << 22)
#define PSTATE_DIT (UINT64_C(1) << 24)
#define PSTATE_NZCV (UINT64_C(0xf) << 28)
/* AArch32 format: ITSTATE is split, IT[1:0] in bits [26:25], IT[7:2] in bits [15:10]. */
#define PSTATE_AA32_IT_LO_SHIFT 25
#define PSTATE_AA32_IT_HI_SHIFT 10
#define PSTATE_AA32_IT_MASK ((UINT64_C(3) << 25) | (UINT64_C(0x3f) << 10))

/* Exception vector offsets from VBAR_EL1 for a synchronous exception (Arm ARM D1.10.2). */
#define VECTOR_CUR_SP0 0x000u
#define VECTOR_CUR_SPX 0x200u
#define VECTOR_LOWER_A64 0x400u
#define VECTOR_LOWER_A32 0x600u
/* VBAR_EL1[10:0] are RES0: the table is 2 KiB aligned. */
#define VBAR_ADDR_MASK (~UINT64_C(0x7ff))

/* Bytes of the trapped instruction: ESR_EL2.IL = 0 only for a 16-bit T32 instruction. */
static inline uint8_t insn_len(uint32_t il)
{
	return il ? 4 : 2;
}

/* The value of general-purpose register @n as an operand: 31 is XZR/WZR in every form we decode
 * (a load/store transfer register, an MSR/MRS Rt), never SP, and reads as zero. */
static inline uint64_t gpr_read(const struct hyp_gp_regs *regs, uint32_t n)
{
	return n < 31 ? regs->x[n] : 0;
}

/* Write register @n as a destination: writes to XZR/WZR are discarded. */
static inline void gpr_write(struct hyp_gp_regs *regs, uint32_t n, uint64_t value)
{
	if (n < 31)
		regs->x[n] = value;
}

/* The low @len bytes of @value. Any @len is defined: 0 gives 0, 8 or more the whole value. */
static inline uint64_t truncate_bytes(uint64_t value, uint32_t len)
{
	if (len >= 8)
		return value;
	return value & ((UINT64_C(1) << (len * 8)) - 1);
}

/* The IPA of a stage-2 abort: the page from HPFAR_EL2.FIPA, the offset in it from FAR_EL2 (see
 * hyp_trap_fault_ipa()). */
static inline hyp_ipa_t fault_ipa(uint64_t hpfar, uint64_t far)
{
	return (((hpfar >> HPFAR_FIPA_SHIFT) & HPFAR_FIPA_MASK) << 12) | (far & PAGE_OFFSET_MASK);
}

#endif /* HYP_TRAP_ISS_H */
