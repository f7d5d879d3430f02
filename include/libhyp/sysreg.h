/* SPDX-License-Identifier: MIT */
/*
 * System register encodings.
 *
 * A system register is named by its MRS/MSR operands (op0, op1, CRn, CRm, op2), packed into 16 bits
 * by HYP_SYSREG(). This is the same order the fields take in the instruction and in ESR_EL2.ISS for
 * EC 0x18 traps, so a trapped access maps to a register without a lookup table.
 */
#ifndef LIBHYP_SYSREG_H
#define LIBHYP_SYSREG_H

#include <libhyp/types.h>

/** Pack MRS/MSR operands into a libhyp system register encoding. */
#define HYP_SYSREG(op0, op1, crn, crm, op2)                                                        \
	((uint32_t)((((op0)&3u) << 14) | (((op1)&7u) << 11) | (((crn)&15u) << 7) |                 \
		    (((crm)&15u) << 3) | ((op2)&7u)))

/* The operands back out of an encoding made by HYP_SYSREG(). */
#define HYP_SYSREG_OP0(enc) (((enc) >> 14) & 3u)
#define HYP_SYSREG_OP1(enc) (((enc) >> 11) & 7u)
#define HYP_SYSREG_CRN(enc) (((enc) >> 7) & 15u)
#define HYP_SYSREG_CRM(enc) (((enc) >> 3) & 15u)
#define HYP_SYSREG_OP2(enc) ((enc)&7u)

/* Identification (read-only to the guest). */
#define HYP_SYSREG_MIDR_EL1 HYP_SYSREG(3, 0, 0, 0, 0)
#define HYP_SYSREG_MPIDR_EL1 HYP_SYSREG(3, 0, 0, 0, 5)
#define HYP_SYSREG_REVIDR_EL1 HYP_SYSREG(3, 0, 0, 0, 6)
#define HYP_SYSREG_ID_AA64PFR0_EL1 HYP_SYSREG(3, 0, 0, 4, 0)
#define HYP_SYSREG_ID_AA64DFR0_EL1 HYP_SYSREG(3, 0, 0, 5, 0)
#define HYP_SYSREG_ID_AA64ISAR0_EL1 HYP_SYSREG(3, 0, 0, 6, 0)
#define HYP_SYSREG_ID_AA64MMFR0_EL1 HYP_SYSREG(3, 0, 0, 7, 0)
#define HYP_SYSREG_CTR_EL0 HYP_SYSREG(3, 3, 0, 0, 1)
#define HYP_SYSREG_DCZID_EL0 HYP_SYSREG(3, 3, 0, 0, 7)

/* EL1 execution context. */
#define HYP_SYSREG_SCTLR_EL1 HYP_SYSREG(3, 0, 1, 0, 0)
#define HYP_SYSREG_ACTLR_EL1 HYP_SYSREG(3, 0, 1, 0, 1)
#define HYP_SYSREG_CPACR_EL1 HYP_SYSREG(3, 0, 1, 0, 2)
#define HYP_SYSREG_TTBR0_EL1 HYP_SYSREG(3, 0, 2, 0, 0)
#define HYP_SYSREG_TTBR1_EL1 HYP_SYSREG(3, 0, 2, 0, 1)
#define HYP_SYSREG_TCR_EL1 HYP_SYSREG(3, 0, 2, 0, 2)
#define HYP_SYSREG_SPSR_EL1 HYP_SYSREG(3, 0, 4, 0, 0)
#define HYP_SYSREG_ELR_EL1 HYP_SYSREG(3, 0, 4, 0, 1)
#define HYP_SYSREG_SP_EL0 HYP_SYSREG(3, 0, 4, 1, 0)
#define HYP_SYSREG_SP_EL1 HYP_SYSREG(3, 4, 4, 1, 0)
#define HYP_SYSREG_AFSR0_EL1 HYP_SYSREG(3, 0, 5, 1, 0)
#define HYP_SYSREG_AFSR1_EL1 HYP_SYSREG(3, 0, 5, 1, 1)
#define HYP_SYSREG_ESR_EL1 HYP_SYSREG(3, 0, 5, 2, 0)
#define HYP_SYSREG_FAR_EL1 HYP_SYSREG(3, 0, 6, 0, 0)
#define HYP_SYSREG_PAR_EL1 HYP_SYSREG(3, 0, 7, 4, 0)
#define HYP_SYSREG_MAIR_EL1 HYP_SYSREG(3, 0, 10, 2, 0)
#define HYP_SYSREG_AMAIR_EL1 HYP_SYSREG(3, 0, 10, 3, 0)
#define HYP_SYSREG_VBAR_EL1 HYP_SYSREG(3, 0, 12, 0, 0)
#define HYP_SYSREG_CONTEXTIDR_EL1 HYP_SYSREG(3, 0, 13, 0, 1)
#define HYP_SYSREG_TPIDR_EL1 HYP_SYSREG(3, 0, 13, 0, 4)
#define HYP_SYSREG_CNTKCTL_EL1 HYP_SYSREG(3, 0, 14, 1, 0)
#define HYP_SYSREG_CSSELR_EL1 HYP_SYSREG(3, 2, 0, 0, 0)
#define HYP_SYSREG_TPIDR_EL0 HYP_SYSREG(3, 3, 13, 0, 2)
#define HYP_SYSREG_TPIDRRO_EL0 HYP_SYSREG(3, 3, 13, 0, 3)

/* Generic timer. */
#define HYP_SYSREG_CNTFRQ_EL0 HYP_SYSREG(3, 3, 14, 0, 0)
#define HYP_SYSREG_CNTPCT_EL0 HYP_SYSREG(3, 3, 14, 0, 1)
#define HYP_SYSREG_CNTVCT_EL0 HYP_SYSREG(3, 3, 14, 0, 2)
/* FEAT_ECV self-synchronised counter views. */
#define HYP_SYSREG_CNTPCTSS_EL0 HYP_SYSREG(3, 3, 14, 0, 5)
#define HYP_SYSREG_CNTVCTSS_EL0 HYP_SYSREG(3, 3, 14, 0, 6)
#define HYP_SYSREG_CNTP_TVAL_EL0 HYP_SYSREG(3, 3, 14, 2, 0)
#define HYP_SYSREG_CNTP_CTL_EL0 HYP_SYSREG(3, 3, 14, 2, 1)
#define HYP_SYSREG_CNTP_CVAL_EL0 HYP_SYSREG(3, 3, 14, 2, 2)
#define HYP_SYSREG_CNTV_TVAL_EL0 HYP_SYSREG(3, 3, 14, 3, 0)
#define HYP_SYSREG_CNTV_CTL_EL0 HYP_SYSREG(3, 3, 14, 3, 1)
#define HYP_SYSREG_CNTV_CVAL_EL0 HYP_SYSREG(3, 3, 14, 3, 2)

/* Debug and GIC CPU interface registers guests commonly touch. */
#define HYP_SYSREG_MDSCR_EL1 HYP_SYSREG(2, 0, 0, 2, 2)
#define HYP_SYSREG_OSLAR_EL1 HYP_SYSREG(2, 0, 1, 0, 4)
#define HYP_SYSREG_OSDLR_EL1 HYP_SYSREG(2, 0, 1, 3, 4)
#define HYP_SYSREG_ICC_SGI1R_EL1 HYP_SYSREG(3, 0, 12, 11, 5)

#endif /* LIBHYP_SYSREG_H */
