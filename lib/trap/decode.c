// SPDX-License-Identifier: MIT
/*
 * lib/trap/decode.c: ESR_EL2 decoding, completion of trapped instructions, and synchronous
 * exception injection into an AArch64 EL1.
 *
 * Everything here is a pure function of its arguments (the syndrome registers, a struct
 * hyp_gp_regs, a struct hyp_el1_sysregs): no globals, no hardware access, no libc beyond memset.
 * The syndrome is guest-controlled input (the guest chooses the instruction that traps), so every
 * possible ESR/FAR/HPFAR value must decode to a defined exit, and no field read from it (SRT, Rt,
 * SAS) is ever used to index anything without a bound.
 *
 * Field layouts cite the Arm ARM (DDI 0487), register ESR_EL2 (section D24.2.40 in recent issues),
 * "ISS encoding for an exception from ...", and section D1.10 for exception entry.
 */
#include "hyp_string.h"

#include <libhyp/smccc.h>
#include <libhyp/sysreg.h>
#include <libhyp/vcpu.h>

#include "fast.h"
#include "iss.h"
#include "trap.h"

/*
 * The fault status codes a stage-2 MMIO emulation can answer: a Translation fault (nothing
 * mapped), an Access flag fault, or a Permission fault (a store to memory mapped read-only), at
 * any lookup level, including level -1 with FEAT_LPA2. Everything else (Address size faults,
 * external aborts, alignment, TLB conflict, tag check, granule protection...) says the access
 * itself is wrong, not that a device should answer it.
 */
static bool fsc_is_emulable(uint8_t fsc)
{
	return (fsc >= 0x04 && fsc <= 0x0f) || fsc == FSC_TRANS_LM1;
}

void hyp_trap_decode_dabt_iss(uint32_t iss, struct hyp_dabt_iss *out)
{
	out->isv = iss & DABT_ISV;
	out->sas = (uint8_t)((iss >> DABT_SAS_SHIFT) & 3u);
	out->sse = iss & DABT_SSE;
	out->srt = (uint8_t)((iss >> DABT_SRT_SHIFT) & 31u);
	out->sf = iss & DABT_SF;
	out->ar = iss & DABT_AR;
	out->vncr = iss & DABT_VNCR;
	out->fnv = iss & DABT_FNV;
	out->ea = iss & DABT_EA;
	out->cm = iss & DABT_CM;
	out->s1ptw = iss & DABT_S1PTW;
	out->wnr = iss & DABT_WNR;
	out->dfsc = (uint8_t)(iss & ABT_FSC_MASK);
}

hyp_ipa_t hyp_trap_fault_ipa(uint64_t hpfar, uint64_t far)
{
	return fault_ipa(hpfar, far);
}

/*
 * Fill @f's addresses. HPFAR_EL2 gives only the page; the offset in it comes from FAR_EL2, which
 * holds a VA whose low 12 bits equal the IPA's (stage 1 pages are at least 4 KiB). FAR is UNKNOWN
 * when ISS.FnV is set. For a fault on a stage-1 table walk (S1PTW) HPFAR names the page holding
 * the descriptor while FAR is the VA the guest was accessing, so only the page is known.
 */
static void fault_addresses(const struct hyp_syndrome *s, bool fnv, bool s1ptw,
			    struct hyp_mem_fault *f)
{
	bool far_ok = (s->valid & HYP_SYNDROME_FAR) && !fnv;
	bool hpfar_ok = s->valid & HYP_SYNDROME_HPFAR;

	f->va = far_ok ? s->far : 0;
	if (s1ptw) {
		if (hpfar_ok) {
			f->ipa = hyp_trap_fault_ipa(s->hpfar, 0);
			f->ipa_valid = 1;
		}
	} else if (hpfar_ok && far_ok) {
		f->ipa = hyp_trap_fault_ipa(s->hpfar, s->far);
		f->ipa_valid = 1;
	}
}

/*
 * Data Abort from a lower EL (EC 0x24). It becomes an MMIO exit only when the hardware fully
 * described a single-register access to a location that simply is not (writable) memory:
 *  - ISS.ISV = 1: SAS/SSE/SRT/SF/AR are valid. ISV = 0 (LDP, writeback forms, SIMD&FP, ...) gives
 *    HYP_FAULT_NO_SYNDROME, which the core then tries to emulate from the instruction itself
 *    (lib/core/emulate.c): this decoder stays a pure function of the syndrome.
 *  - ISS.S1PTW = 0: with S1PTW the fault is on the guest's own page table, not the access.
 *  - ISS.EA = 0 and a Translation/Access flag/Permission DFSC (fsc_is_emulable()).
 *  - ISS.VNCR = 0: a fault on the FEAT_NV2 VNCR_EL2 page is a redirected system register access.
 *  - ISS.CM = 0: see below.
 *  - FAR_EL2 and HPFAR_EL2 both reported and ISS.FnV = 0 (otherwise the IPA is not known).
 *    The decoder trusts raw->valid: a backend must not mark HPFAR valid where the hardware left
 *    it UNKNOWN (on some cores, stage-2 Permission faults outside a stage-1 walk) unless it
 *    recovered the IPA another way (AT S1E1R, as KVM does).
 *
 * Cache maintenance (ISS.CM = 1: DC CIVAC and friends; ISV is 0 for them anyway) on an IPA without
 * memory is reported as HYP_FAULT_OTHER with @pc_advance = the instruction length: completing the
 * exit skips the instruction. That is what a real device region does (Device memory is never held
 * in a cache, so maintenance by VA on it has no effect) and what KVM does for the same fault; a
 * caller that prefers to fault the guest injects an abort instead, which never advances the PC.
 */
static void decode_dabt(const struct hyp_syndrome *s, uint32_t iss, uint8_t len,
			struct hyp_exit *exit, struct hyp_trap_info *info)
{
	struct hyp_dabt_iss d;
	struct hyp_mem_fault *f = &exit->fault;
	bool emulable;

	hyp_trap_decode_dabt_iss(iss, &d);
	emulable = !d.s1ptw && !d.ea && !d.vncr && fsc_is_emulable(d.dfsc);

	if (emulable && d.isv && !d.cm && !d.fnv && (s->valid & HYP_SYNDROME_FAR) &&
	    (s->valid & HYP_SYNDROME_HPFAR)) {
		struct hyp_mmio_access *m = &exit->mmio;

		exit->reason = HYP_EXIT_MMIO;
		m->ipa = hyp_trap_fault_ipa(s->hpfar, s->far);
		m->offset = m->ipa;
		m->len = (uint8_t)(1u << d.sas);
		m->is_write = d.wnr;
		/* SSE is meaningful for loads only (LDRSB/LDRSH/LDRSW). */
		m->sign_extend = d.sse && !d.wnr;
		m->reg = d.srt;
		m->reg64 = d.sf;
		m->acquire_release = d.ar;
		info->pc_advance = len;
		return;
	}

	exit->reason = HYP_EXIT_MEM_FAULT;
	f->is_write = d.wnr;
	f->fault_status = d.dfsc;
	fault_addresses(s, d.fnv, d.s1ptw, f);

	if (d.s1ptw) {
		f->kind = HYP_FAULT_PAGE_TABLE_WALK;
	} else if (!emulable) {
		f->kind = HYP_FAULT_OTHER;
	} else if (d.cm) {
		f->kind = HYP_FAULT_OTHER;
		info->pc_advance = len;
	} else if (!d.isv) {
		f->kind = HYP_FAULT_NO_SYNDROME;
	} else {
		/* A described access whose IPA is unknown (FnV, or FAR/HPFAR not reported). */
		f->kind = HYP_FAULT_OTHER;
	}
}

/*
 * Instruction Abort from a lower EL (EC 0x20): never emulated. The IFSC is passed through in
 * @fault_status so the caller can tell a missing mapping from an external abort. A stage-2 fault
 * on the stage-1 walk of a fetch (S1PTW) is reported as such, like a data-side one.
 */
static void decode_iabt(const struct hyp_syndrome *s, uint32_t iss, struct hyp_exit *exit)
{
	struct hyp_mem_fault *f = &exit->fault;
	bool s1ptw = iss & IABT_S1PTW;

	exit->reason = HYP_EXIT_MEM_FAULT;
	f->kind = s1ptw ? HYP_FAULT_PAGE_TABLE_WALK : HYP_FAULT_EXEC;
	f->is_write = 0;
	f->fault_status = (uint8_t)(iss & ABT_FSC_MASK);
	fault_addresses(s, iss & IABT_FNV, s1ptw, f);
}

static bool ec_is_debug(uint32_t ec)
{
	switch (ec) {
	case HYP_EC_BREAKPT_LOW:
	case HYP_EC_BREAKPT_CUR:
	case HYP_EC_SOFTSTP_LOW:
	case HYP_EC_SOFTSTP_CUR:
	case HYP_EC_WATCHPT_LOW:
	case HYP_EC_WATCHPT_CUR:
	case HYP_EC_BKPT32:
	case HYP_EC_VECTOR32:
	case HYP_EC_BRK64:
		return true;
	default:
		return false;
	}
}

void hyp_trap_decode(const struct hyp_syndrome *raw, struct hyp_exit *exit,
		     struct hyp_trap_info *info)
{
	/* Work on a copy: @raw may be &exit->raw, and a caller's own syndrome is never modified. */
	struct hyp_syndrome s = *raw;
	uint32_t ec, il, iss;
	uint8_t len;

	/* struct hyp_syndrome promises that a field not marked valid reads 0: make it true. */
	s.valid &= HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
	s.reserved = 0;
	if (!(s.valid & HYP_SYNDROME_ESR))
		s.esr = 0;
	if (!(s.valid & HYP_SYNDROME_FAR))
		s.far = 0;
	if (!(s.valid & HYP_SYNDROME_HPFAR))
		s.hpfar = 0;

	/* Clear the whole union (it is the last member) so unused and reserved fields read 0. */
	/* On every exit: a few inline stores rather than a memset() call. */
	_Static_assert((sizeof(*exit) - offsetof(struct hyp_exit, mmio)) % 8 == 0 &&
			       offsetof(struct hyp_exit, mmio) % 8 == 0,
		       "the exit union is cleared in 64-bit words");
	hyp__clear_words(&exit->mmio, sizeof(*exit) - offsetof(struct hyp_exit, mmio));
	exit->raw = s;
	info->pc_advance = 0;

	ec = HYP_ESR_EC(s.esr);
	il = HYP_ESR_IL(s.esr);
	iss = HYP_ESR_ISS(s.esr);
	len = insn_len(il);

	switch (ec) {
	case HYP_EC_DABT_LOW:
		decode_dabt(&s, iss, len, exit, info);
		return;
	case HYP_EC_IABT_LOW:
		decode_iabt(&s, iss, exit);
		return;
	case HYP_EC_HVC64:
		/* HVC traps after it executes: ELR_EL2 already points at the next instruction. */
		exit->reason = HYP_EXIT_SMCCC;
		exit->smccc.conduit = HYP_CONDUIT_HVC;
		exit->smccc.imm = ISS_IMM16(iss);
		return;
	case HYP_EC_SMC64:
		/* An SMC trapped by HCR_EL2.TSC has not executed: ELR_EL2 points at the SMC. */
		exit->reason = HYP_EXIT_SMCCC;
		exit->smccc.conduit = HYP_CONDUIT_SMC;
		exit->smccc.imm = ISS_IMM16(iss);
		info->pc_advance = len;
		return;
	case HYP_EC_SYS64:
		/* The ISS holds the MSR/MRS operand fields; HYP_SYSREG() repacks them. SYS/SYSL
		 * (op0 = 1: DC, IC, AT, TLBI) arrive the same way and keep their encoding. */
		exit->reason = HYP_EXIT_SYSREG;
		exit->sysreg.encoding = HYP_SYSREG(SYS_OP0(iss), SYS_OP1(iss), SYS_CRN(iss),
						   SYS_CRM(iss), SYS_OP2(iss));
		exit->sysreg.is_write = !(iss & SYS_DIR_READ);
		exit->sysreg.reg = (uint8_t)SYS_RT(iss);
		info->pc_advance = len;
		return;
	case HYP_EC_WFX:
		exit->reason = HYP_EXIT_WFX;
		exit->wfx.is_wfe = (iss & WFX_TI_WFE) != 0;
		exit->wfx.has_timeout = (iss & WFX_TI_TIMEOUT) != 0;
		info->pc_advance = len;
		return;
	default:
		break;
	}

	/*
	 * No decoded view. These exceptions have not "completed" in any sense the library could
	 * emulate: FP/SVE/SME access traps want the same instruction re-executed after the trap is
	 * lifted, and debug exceptions, ERET/PAC traps, SErrors and the rest return to the
	 * preferred return address the hardware chose, so @pc_advance stays 0. AArch32 HVC/SMC
	 * (EC 0x12/0x13) land here too: libhyp guests are AArch64 at EL1, where neither can occur.
	 */
	exit->reason = ec_is_debug(ec) ? HYP_EXIT_DEBUG : HYP_EXIT_EXCEPTION;
	exit->exception.ec = (uint8_t)ec;
	exit->exception.il = (uint8_t)il;
	exit->exception.iss = iss;
	/* BRK (A64) and BKPT (AArch32) carry their comment in ISS[15:0]. */
	if (ec == HYP_EC_BRK64 || ec == HYP_EC_BKPT32)
		exit->exception.imm = ISS_IMM16(iss);
}

void hyp_trap_load_operands(struct hyp_exit *exit, const struct hyp_gp_regs *regs)
{
	switch (exit->reason) {
	case HYP_EXIT_MMIO:
		if (exit->mmio.is_write)
			exit->mmio.data =
				truncate_bytes(gpr_read(regs, exit->mmio.reg), exit->mmio.len);
		break;
	case HYP_EXIT_SYSREG:
		if (exit->sysreg.is_write)
			exit->sysreg.value = gpr_read(regs, exit->sysreg.reg);
		break;
	case HYP_EXIT_SMCCC: {
		struct hyp_smccc_call *c = &exit->smccc;
		/* SMCCC section 2.5: the function identifier is W0; the upper half is ignored. */
		uint32_t fid = (uint32_t)regs->x[0];
		/* SMC32/HVC32 calls pass W1..W7: the upper halves are not arguments. */
		uint64_t mask = (fid & HYP_SMCCC_64BIT) ? UINT64_MAX : UINT64_C(0xffffffff);
		unsigned int i;

		c->function_id = fid;
#pragma GCC unroll 7
		for (i = 0; i < 7; i++)
			c->args[i] = regs->x[i + 1] & mask;
		/*
		 * The answer to an unknown call: NOT_SUPPORTED in X0 and X1..X3 as they were (whole
		 * 64-bit values, so a 32-bit call that nobody handles changes only X0).
		 */
		c->ret[0] = (uint64_t)(int64_t)HYP_SMCCC_NOT_SUPPORTED;
		c->ret[1] = regs->x[1];
		c->ret[2] = regs->x[2];
		c->ret[3] = regs->x[3];
		break;
	}
	default:
		break;
	}
}

uint64_t hyp_trap_mmio_read_value(const struct hyp_mmio_access *access)
{
	return hyp_trap_mmio_value(access);
}

/*
 * PSTATE after the library "executes" the trapped instruction (skips it):
 *  - PSTATE.SS is cleared, as executing an instruction in the active-not-pending software step
 *    state does, so a guest single-stepping itself takes its step exception on the next one.
 *  - AArch64: PSTATE.BTYPE becomes 0, as after any instruction that is not a branch (FEAT_BTI).
 *  - AArch32 (EL0 only): ITSTATE advances as ITAdvance() does, so an emulated access inside an IT
 *    block does not leave the rest of the block conditional on the wrong slot. Bits [11:10]
 *    are IT[3:2] there, not BTYPE.
 */
static uint64_t pstate_after_insn(uint64_t pstate)
{
	pstate &= ~PSTATE_SS;
	if (!(pstate & PSTATE_NRW))
		return pstate & ~PSTATE_BTYPE;

	{
		uint32_t it = (uint32_t)(((pstate >> PSTATE_AA32_IT_LO_SHIFT) & 3u) |
					 (((pstate >> PSTATE_AA32_IT_HI_SHIFT) & 0x3fu) << 2));

		if ((it & 7u) == 0)
			it = 0;
		else
			it = (it & 0xe0u) | ((it << 1) & 0x1fu);
		pstate &= ~PSTATE_AA32_IT_MASK;
		pstate |= ((uint64_t)(it & 3u) << PSTATE_AA32_IT_LO_SHIFT) |
			  ((uint64_t)(it >> 2) << PSTATE_AA32_IT_HI_SHIFT);
	}
	return pstate;
}

void hyp_trap_complete(const struct hyp_exit *exit, const struct hyp_trap_info *info,
		       struct hyp_gp_regs *regs, bool advance_pc)
{
	switch (exit->reason) {
	case HYP_EXIT_MMIO:
		/* A load into XZR/WZR (SRT = 31) performs the access and discards the data. */
		if (!exit->mmio.is_write)
			gpr_write(regs, exit->mmio.reg, hyp_trap_mmio_read_value(&exit->mmio));
		break;
	case HYP_EXIT_SYSREG:
		if (!exit->sysreg.is_write)
			gpr_write(regs, exit->sysreg.reg, exit->sysreg.value);
		break;
	case HYP_EXIT_SMCCC:
		hyp_trap_smccc_results(&exit->smccc, regs);
		break;
	default:
		break;
	}

	if (advance_pc && info->pc_advance) {
		regs->pc += info->pc_advance;
		regs->pstate = pstate_after_insn(regs->pstate);
	}
}

/*
 * Exception entry to EL1 (Arm ARM D1.10, pseudocode AArch64.TakeException()). The new PSTATE is
 * EL1h with D, A, I, F set. Of the other PSTATE bits:
 *  - N, Z, C, V, DIT and PAN are not written by exception entry, so they keep their values (they
 *    sit at the same positions in the AArch32 SPSR layout). PAN is additionally *set* when
 *    SCTLR_EL1.SPAN == 0; this function cannot see SCTLR_EL1, so a caller whose guest runs with
 *    SPAN == 0 (Linux with PAN does) must OR in PSTATE.PAN (bit 22) itself.
 *  - SS, IL, BTYPE, UAO and the AArch32 IT/T/E/GE/Q bits become 0.
 *  - SSBS becomes SCTLR_EL1.DSSBS and TCO becomes 1 with FEAT_MTE: both depend on state this
 *    function does not have. It leaves them 0 (SSBS = 0 is the speculation-safe value); a caller
 *    that exposes those features sets them.
 */
void hyp_trap_inject_sync(struct hyp_gp_regs *regs, struct hyp_el1_sysregs *el1, uint64_t esr,
			  uint64_t far, bool far_valid)
{
	uint64_t old = regs->pstate;
	uint32_t offset;

	if (old & PSTATE_NRW)
		offset = VECTOR_LOWER_A32;
	else if (((old >> PSTATE_M_EL_SHIFT) & 3u) == 0)
		offset = VECTOR_LOWER_A64;
	else if (old & PSTATE_M_SP)
		offset = VECTOR_CUR_SPX;
	else
		offset = VECTOR_CUR_SP0;
	/*
	 * The choice goes by M[3:2] (the EL) and M[0] (the SP) alone, so reserved M values have a
	 * defined result: M[3:2] = 0 is EL0 whatever M[1:0] say, and the EL2/EL3 values, which a
	 * guest never has, take the "current EL" vectors.
	 */

	el1->elr_el1 = regs->pc;
	el1->spsr_el1 = old;
	el1->esr_el1 = esr;
	/* Without a fault address FAR_EL1 is UNKNOWN: leaving it unchanged is one such value. */
	if (far_valid)
		el1->far_el1 = far;

	regs->pstate = HYP_PSTATE_EL1H_DAIF | (old & (PSTATE_NZCV | PSTATE_DIT | PSTATE_PAN));
	regs->pc = (el1->vbar_el1 & VBAR_ADDR_MASK) + offset;
}

bool hyp_trap_is_id_reg(uint32_t encoding)
{
	uint32_t crm = HYP_SYSREG_CRM(encoding);

	return HYP_SYSREG_OP0(encoding) == 3 && HYP_SYSREG_OP1(encoding) == 0 &&
	       HYP_SYSREG_CRN(encoding) == 0 && crm >= 1 && crm <= 7;
}

/* A 4-bit ID field at bit @shift. */
#define ID_FIELD(shift) (UINT64_C(0xf) << (shift))

uint64_t hyp_trap_id_reg_visible(uint32_t encoding, uint64_t hw)
{
	switch (encoding) {
	case HYP_SYSREG(3, 0, 0, 4, 0): /* ID_AA64PFR0_EL1: SVE, MPAM, AMU */
		return hw & ~(ID_FIELD(32) | ID_FIELD(40) | ID_FIELD(44));
	case HYP_SYSREG(3, 0, 0, 4, 1): /* ID_AA64PFR1_EL1: MTE, MPAM_frac, SME, MTE_frac */
		return hw & ~(ID_FIELD(8) | ID_FIELD(16) | ID_FIELD(24) | ID_FIELD(40));
	case HYP_SYSREG(3, 0, 0, 4, 4): /* ID_AA64ZFR0_EL1: SVE features */
	case HYP_SYSREG(3, 0, 0, 4, 5): /* ID_AA64SMFR0_EL1: SME features */
		return 0;
	case HYP_SYSREG(3, 0, 0, 5, 0):
		/* ID_AA64DFR0_EL1: TraceVer, PMUVer, PMSVer, TraceFilt, TraceBuffer, BRBE. */
		return hw & ~(ID_FIELD(4) | ID_FIELD(8) | ID_FIELD(32) | ID_FIELD(40) |
			      ID_FIELD(44) | ID_FIELD(52));
	case HYP_SYSREG(3, 0, 0, 6, 1):
		/* ID_AA64ISAR1_EL1: pointer authentication, APA, API, GPA, GPI. A backend that
		 * traps it (HCR_EL2.API and APK clear: the keys are not switched per guest) must not
		 * advertise it; with EnIA..EnDB clear the guest's PAC hints stay NOPs and never trap
		 * (Arm ARM D8.8). */
		return hw & ~(ID_FIELD(4) | ID_FIELD(8) | ID_FIELD(24) | ID_FIELD(28));
	case HYP_SYSREG(3, 0, 0, 6, 2): /* ID_AA64ISAR2_EL1: GPA3, APA3 (QARMA3 PAC) */
		return hw & ~(ID_FIELD(8) | ID_FIELD(12));
	default:
		return hw;
	}
}

uint64_t hyp_trap_undef_esr(void)
{
	/* EC 0x00 "Unknown reason" is how an UNDEFINED instruction is reported; IL = 1 (A64). */
	return ((uint64_t)HYP_EC_UNKNOWN << ESR_EC_SHIFT) | ESR_IL;
}

uint64_t hyp_trap_ext_abort_esr(bool is_data, bool is_write, bool from_lower_el)
{
	/*
	 * @from_lower_el is relative to EL1, the level taking the injected exception: a guest
	 * interrupted at EL0 gets the "lower EL" classes, one at EL1 the "same EL" ones.
	 * ISV = 0: an external abort gives no instruction syndrome.
	 */
	uint64_t ec;
	uint64_t esr;

	if (is_data)
		ec = from_lower_el ? HYP_EC_DABT_LOW : HYP_EC_DABT_CUR;
	else
		ec = from_lower_el ? HYP_EC_IABT_LOW : HYP_EC_IABT_CUR;

	esr = (ec << ESR_EC_SHIFT) | ESR_IL | FSC_EXTABT;
	if (is_data && is_write)
		esr |= DABT_WNR;
	return esr;
}
