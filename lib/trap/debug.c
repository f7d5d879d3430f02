/* SPDX-License-Identifier: MIT */
/*
 * The self-hosted debug registers of a vCPU, emulated in memory (trap.h, struct
 * hyp_trap_debug_regs). Encodings: Arm ARM D23.3 (the debug registers, Op0 = 2) and C5.3.
 */
#include "trap.h"

#include <libhyp/sysreg.h>

/* MDSCR_EL1 bits that exist (Arm ARM D23.3.20): SS, ERR, TDCC, KDE, HDE, MDE, SC2, TDA, INTdis,
 * TXU, RXO, TXfull, RXfull, TFO, EMBWE, TTA, EnSPM, EHBWE. The rest is RES0. */
#define MDSCR_EL1_MASK 0xece8f041ull
#define MDSCR_EL1_MASK_HI (0xfull << 32)
/* OSLSR_EL1: OSLM = 0b10 (the OS lock is implemented, OSLAR_EL1 locks it) in bits 3 and 0,
 * OSLK in bit 1. */
#define OSLSR_OSLM_IMPLEMENTED (1u << 3)
#define OSLSR_OSLK (1u << 1)

#define DBG(crn, crm, op2) HYP_SYSREG(2, 0, crn, crm, op2)
#define MDCCINT_EL1 DBG(0, 2, 0)
#define MDSCR_EL1 DBG(0, 2, 2)
#define OSECCR_EL1 DBG(0, 6, 2)
#define MDRAR_EL1 DBG(1, 0, 0)
#define OSLAR_EL1 DBG(1, 0, 4)
#define OSLSR_EL1 DBG(1, 1, 4)
#define OSDLR_EL1 DBG(1, 3, 4)
#define DBGPRCR_EL1 DBG(1, 4, 4)
#define DBGCLAIMSET_EL1 DBG(7, 8, 6)
#define DBGCLAIMCLR_EL1 DBG(7, 9, 6)
#define DBGAUTHSTATUS_EL1 DBG(7, 14, 6)
#define MDCCSR_EL0 HYP_SYSREG(2, 3, 0, 1, 0)
#define DBGDTR_EL0 HYP_SYSREG(2, 3, 0, 4, 0)
#define DBGDTRRXTX_EL0 HYP_SYSREG(2, 3, 0, 5, 0)

void hyp_trap_debug_reset(struct hyp_trap_debug_regs *d, uint64_t dfr0)
{
	*d = (struct hyp_trap_debug_regs){
		.os_lock = 1,
		/* ID_AA64DFR0_EL1.BRPs [15:12], WRPs [23:20]: the number minus one. */
		.nr_brps = (uint32_t)((dfr0 >> 12) & 0xf) + 1,
		.nr_wrps = (uint32_t)((dfr0 >> 20) & 0xf) + 1,
	};
}

/* DBGBVR/BCR/WVR/WCR<n>_EL1: Op0 2, Op1 0, CRn 0, CRm n, Op2 4/5/6/7. */
static bool bp_wp_access(struct hyp_trap_debug_regs *d, uint32_t encoding, bool is_write,
			 uint64_t *value)
{
	uint32_t n = HYP_SYSREG_CRM(encoding), op2 = HYP_SYSREG_OP2(encoding);
	uint64_t *reg;

	if (HYP_SYSREG_OP0(encoding) != 2 || HYP_SYSREG_OP1(encoding) != 0 ||
	    HYP_SYSREG_CRN(encoding) != 0 || op2 < 4)
		return false;
	if (op2 <= 5 && n >= d->nr_brps)
		return false;
	if (op2 >= 6 && n >= d->nr_wrps)
		return false;
	switch (op2) {
	case 4:
		reg = &d->bvr[n];
		break;
	case 5:
		reg = &d->bcr[n];
		break;
	case 6:
		reg = &d->wvr[n];
		break;
	default:
		reg = &d->wcr[n];
		break;
	}
	if (is_write)
		*reg = *value;
	else
		*value = *reg;
	return true;
}

bool hyp_trap_debug_access(struct hyp_trap_debug_regs *d, uint32_t encoding, bool is_write,
			   uint64_t *value)
{
	switch (encoding) {
	case MDSCR_EL1:
		if (is_write)
			d->mdscr_el1 = *value & (MDSCR_EL1_MASK | MDSCR_EL1_MASK_HI);
		else
			*value = d->mdscr_el1;
		return true;
	case MDCCINT_EL1:
		/* RX [30], TX [29]: the channel's interrupt enables. */
		if (is_write)
			d->mdccint_el1 = *value & (3ull << 29);
		else
			*value = d->mdccint_el1;
		return true;
	case OSLAR_EL1:
		if (!is_write)
			return false;
		d->os_lock = *value & 1;
		return true;
	case OSLSR_EL1:
		if (is_write)
			return false;
		*value = OSLSR_OSLM_IMPLEMENTED | (d->os_lock ? OSLSR_OSLK : 0);
		return true;
	case OSDLR_EL1:
		if (is_write)
			d->os_double_lock = *value & 1;
		else
			*value = d->os_double_lock;
		return true;
	case DBGPRCR_EL1:
		if (is_write)
			d->prcr_corepurq = *value & 1;
		else
			*value = d->prcr_corepurq;
		return true;
	case DBGCLAIMSET_EL1:
		/* Reads show which claim tags are implemented (all eight); writes set tags. */
		if (is_write)
			d->claim |= (uint8_t)*value;
		else
			*value = 0xff;
		return true;
	case DBGCLAIMCLR_EL1:
		if (is_write)
			d->claim &= (uint8_t) ~*value;
		else
			*value = d->claim;
		return true;
	case MDRAR_EL1:
	case DBGAUTHSTATUS_EL1:
	case MDCCSR_EL0:
		/* No memory-mapped debug, no debug allowed, no debugger attached. */
		if (is_write)
			return false;
		*value = 0;
		return true;
	case OSECCR_EL1:
	case DBGDTR_EL0:
		if (!is_write)
			*value = 0;
		return true;
	case DBGDTRRXTX_EL0:
		/* DBGDTRRX_EL0 reads (nothing received), DBGDTRTX_EL0 writes (dropped). */
		if (!is_write)
			*value = 0;
		return true;
	default:
		return bp_wp_access(d, encoding, is_write, value);
	}
}
