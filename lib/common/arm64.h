/* SPDX-License-Identifier: MIT */
/*
 * lib/common/arm64.h: architecture facts the whole library shares, in one place: ESR_ELx exception
 * classes and ISS field layouts, fault status codes, HPFAR, PSTATE, exception vector offsets, the
 * generic timer's control bits and MPIDR affinity (with the rule that gives vCPU n its default
 * MPIDR). Constants and pure helpers only; the core, the subsystems and every backend take them
 * from here.
 *
 * Field layouts cite the Arm ARM (DDI 0487), register ESR_EL2 (section D24.2.40 in recent issues),
 * "ISS encoding for an exception from ...", and section D1.10 for exception entry.
 */
#ifndef HYP_ARM64_H
#define HYP_ARM64_H

#include <stdint.h>

/* ESR_ELx.EC values a lower-EL AArch64 guest can cause (Arm ARM D24.2.40, ESR_EL2). */
enum hyp_ec {
	HYP_EC_UNKNOWN = 0x00,
	HYP_EC_WFX = 0x01,
	HYP_EC_CP15_32 = 0x03,
	HYP_EC_CP15_64 = 0x04,
	HYP_EC_CP14_MR = 0x05,
	HYP_EC_CP14_LS = 0x06,
	HYP_EC_FP_ASIMD = 0x07,
	HYP_EC_CP10_ID = 0x08,
	HYP_EC_PAC = 0x09,
	HYP_EC_LS64 = 0x0a,
	HYP_EC_CP14_64 = 0x0c,
	HYP_EC_BTI = 0x0d,
	HYP_EC_ILLEGAL_STATE = 0x0e,
	HYP_EC_SVC32 = 0x11,
	HYP_EC_HVC32 = 0x12,
	HYP_EC_SMC32 = 0x13,
	HYP_EC_SVC64 = 0x15,
	HYP_EC_HVC64 = 0x16,
	HYP_EC_SMC64 = 0x17,
	HYP_EC_SYS64 = 0x18,
	HYP_EC_SVE = 0x19,
	HYP_EC_ERET = 0x1a,
	HYP_EC_FPAC = 0x1c,
	HYP_EC_SME = 0x1d,
	HYP_EC_IABT_LOW = 0x20,
	HYP_EC_IABT_CUR = 0x21,
	HYP_EC_PC_ALIGN = 0x22,
	HYP_EC_DABT_LOW = 0x24,
	HYP_EC_DABT_CUR = 0x25,
	HYP_EC_SP_ALIGN = 0x26,
	HYP_EC_FP32 = 0x28,
	HYP_EC_FP64 = 0x2c,
	HYP_EC_SERROR = 0x2f,
	HYP_EC_BREAKPT_LOW = 0x30,
	HYP_EC_BREAKPT_CUR = 0x31,
	HYP_EC_SOFTSTP_LOW = 0x32,
	HYP_EC_SOFTSTP_CUR = 0x33,
	HYP_EC_WATCHPT_LOW = 0x34,
	HYP_EC_WATCHPT_CUR = 0x35,
	HYP_EC_BKPT32 = 0x38,
	HYP_EC_VECTOR32 = 0x3a,
	HYP_EC_BRK64 = 0x3c,
};

#define HYP_ESR_EC(esr) ((uint32_t)(((esr) >> 26) & 0x3f))
#define HYP_ESR_IL(esr) ((uint32_t)(((esr) >> 25) & 1))
#define HYP_ESR_ISS(esr) ((uint32_t)((esr)&0x1ffffff))

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

/* DFSC/IFSC values (ESR_EL2.ISS.DFSC). Translation, access flag and permission faults carry the
 * level in bits [1:0]; FSC_TYPE_MASK keeps the fault type. */
#define FSC_TYPE_MASK 0x3cu
#define FSC_ADDR_SIZE 0x00u   /* Address size fault, level 0..3 in [1:0]. */
#define FSC_TRANS 0x04u	      /* Translation fault, level 0..3 in [1:0]. */
#define FSC_ACCESS 0x08u      /* Access flag fault, level 0..3. */
#define FSC_PERM 0x0cu	      /* Permission fault, level 0..3. */
#define FSC_EXTABT 0x10u      /* Synchronous External abort, not on translation table walk. */
#define FSC_EXTABT_WALK 0x14u /* Synchronous External abort on a walk, level 0..3 in [1:0]. */
#define FSC_TRANS_LM1 0x2bu   /* Translation fault, level -1 (FEAT_LPA2). */

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
/* ISS.RV (bit 2): ISS.RN (bits [9:5]) names WFIT/WFET's timeout register Xt. */
#define WFX_RV (1u << 2)
#define WFX_RN(iss) (((iss) >> 5) & 31u)
/* ISS.CV (bit 24) and ISS.COND (bits [23:20]): a trapped A64 WFx reports "condition valid,
 * always" (COND 0b1110). */
#define WFX_CV_AL ((1u << 24) | (0xeu << 20))

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
#define PSTATE_M_MASK UINT64_C(0xf)   /* M[3:0]: EL and SP selection. */
#define PSTATE_M_EL0T UINT64_C(0x0)
#define PSTATE_M_EL1T UINT64_C(0x4)
#define PSTATE_M_EL1H UINT64_C(0x5)
#define PSTATE_DAIF (UINT64_C(0xf) << 6)
#define PSTATE_BTYPE (UINT64_C(3) << 10)
#define PSTATE_SSBS (UINT64_C(1) << 12)
#define PSTATE_ALLINT (UINT64_C(1) << 13)
#define PSTATE_IL (UINT64_C(1) << 20)
#define PSTATE_SS (UINT64_C(1) << 21)
#define PSTATE_PAN (UINT64_C(1) << 22)
#define PSTATE_UAO (UINT64_C(1) << 23)
#define PSTATE_DIT (UINT64_C(1) << 24)
#define PSTATE_TCO (UINT64_C(1) << 25)
#define PSTATE_NZCV (UINT64_C(0xf) << 28)

/* SCTLR_EL1 bits the library reads. */
#define SCTLR_M (UINT64_C(1) << 0)     /* stage-1 MMU enable */
#define SCTLR_C (UINT64_C(1) << 2)     /* data and unified caches enable */
#define SCTLR_SPAN (UINT64_C(1) << 23) /* 0: exception entry to EL1 sets PSTATE.PAN. */
#define SCTLR_E0E (UINT64_C(1) << 24)  /* EL0 data accesses big-endian */
#define SCTLR_EE (UINT64_C(1) << 25)   /* EL1 data accesses and table walks big-endian */
/* SCTLR_EL1 out of reset as a hypervisor sets it: the RES1 bits (11, 20, 22, 23, 28, 29), MMU
 * and caches off, little-endian. */
#define SCTLR_EL1_RESET UINT64_C(0x30d00800)
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

/*
 * Generic timer (Arm ARM D11, "The Generic Timer in AArch64 state", and the register descriptions
 * of CNTP_CTL_EL0, CNTV_CTL_EL0, CNTx_TVAL_EL0, CNTFRQ_EL0 and CNTHCTL_EL2).
 *
 * CNTx_CTL_EL0: ENABLE and IMASK are read/write; ISTATUS is read-only (writes ignored), the timer
 * condition when ENABLE is 1; bits [63:3] are RES0.
 */
#define CNT_CTL_ENABLE (UINT64_C(1) << 0)
#define CNT_CTL_IMASK (UINT64_C(1) << 1)
#define CNT_CTL_ISTATUS (UINT64_C(1) << 2)
#define CNT_CTL_RW_MASK (CNT_CTL_ENABLE | CNT_CTL_IMASK)
/* CNTx_TVAL_EL0: TimerValue [31:0], a signed 32-bit view of CVAL - counter; [63:32] RES0. */
#define CNT_TVAL_MASK UINT64_C(0xffffffff)
/* CNTFRQ_EL0: the counter frequency in Hz in bits [31:0]; [63:32] RES0. */
#define CNT_FRQ_MASK UINT64_C(0xffffffff)
/* CNTHCTL_EL2 with HCR_EL2.E2H == 0: a 0 traps EL1 and EL0 reads of CNTPCT_EL0 (EL1PCTEN) and
 * accesses to CNTP_CTL/CVAL/TVAL_EL0 (EL1PCEN) to EL2. */
#define CNTHCTL_EL1PCTEN (UINT64_C(1) << 0)
#define CNTHCTL_EL1PCEN (UINT64_C(1) << 1)
#define CNTHCTL_EVNTEN (UINT64_C(1) << 2)
/* The same two controls with HCR_EL2.E2H == 1 (FEAT_VHE): EL1PCTEN at bit 10, EL1PTEN at bit 11. */
#define CNTHCTL_E2H_EL1PCTEN (UINT64_C(1) << 10)
#define CNTHCTL_E2H_EL1PTEN (UINT64_C(1) << 11)
/* FEAT_ECV: a 1 traps EL1 accesses to the virtual timer (EL1TVT) and reads of CNTVCT_EL0
 * (EL1TVCT) to EL2. */
#define CNTHCTL_ECV (UINT64_C(1) << 12)
#define CNTHCTL_EL1TVT (UINT64_C(1) << 13)
#define CNTHCTL_EL1TVCT (UINT64_C(1) << 14)

/*
 * GICv3 virtualization control (IHI 0069, ICH_VTR_EL2 and ICH_HCR_EL2; the list register and
 * ICH_HCR_EL2 fields lib/vgic fills in are in lib/vgic/vgic.h).
 * ICH_VTR_EL2.ListRegs [4:0]: list registers implemented, minus one; PREbits [28:26]: preemption
 * bits implemented, minus one (5, 6 or 7 bits give 1, 2 or 4 ICH_AP<g>R<n>_EL2 registers).
 */
#define ICH_VTR_LISTREGS_MASK UINT64_C(0x1f)
#define ICH_VTR_PREBITS_SHIFT 26
#define ICH_VTR_PREBITS_MASK UINT64_C(7)
/* ICC_SRE_EL1.SRE: the System register interface to the (virtual) CPU interface is used. */
#define ICC_SRE_SRE UINT64_C(1)
/* ISR_EL1.I / ISR_EL1.F: a physical IRQ / FIQ is pending (read at EL2). */
#define ISR_I (UINT64_C(1) << 7)
#define ISR_F (UINT64_C(1) << 6)
/* PPIs of the virt board's GICv3 wiring (Arm BSA / SBSA recommended INTIDs): the GIC
 * virtualization maintenance interrupt and the EL1 virtual timer. */
#define GIC_PPI_MAINTENANCE 25u
#define GIC_PPI_VTIMER 27u

/* MPIDR_EL1 affinity fields: Aff3 [39:32], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0]. */
#define MPIDR_AFF_MASK UINT64_C(0xff00ffffff)

/*
 * The MPIDR a vCPU gets by default from its index: Aff0 = index[3:0], Aff1 = index[11:4],
 * Aff2 = index[19:12] (at most 16 CPUs per Aff0 cluster: a GICv3 SGI target list has 16 bits).
 * KVM derives the same from its vCPU id, so kvm requires it; hyp_fdt_build() describes it.
 */
static inline uint64_t hyp__default_mpidr(uint32_t index)
{
	return (uint64_t)(index & 0xfu) | (uint64_t)((index >> 4) & 0xffu) << 8 |
	       (uint64_t)((index >> 12) & 0xffu) << 16;
}

#endif /* HYP_ARM64_H */
