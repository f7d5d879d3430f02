/* SPDX-License-Identifier: MIT */
/*
 * lib/trap/fast.h: the decoder's fast path, in line.
 *
 * The exits a running guest makes most (an MMIO access with a full syndrome, an SMCCC call with
 * HVC/SMC #0) are decoded and completed here by functions the exit path can inline, so a backend
 * that serves them from its exception vector pays no calls and no re-validation between the
 * syndrome and the callback. Each function gives exactly the result of its out-of-line
 * counterpart in decode.c (test-trap-decode compares them on random syndromes).
 */
#ifndef HYP_TRAP_FAST_H
#define HYP_TRAP_FAST_H

#include <stddef.h>

#include <libhyp/smccc.h>

#include "hyp_string.h"
#include "iss.h"
#include "trap.h"

/*
 * hyp_trap_mmio_value() - the value an MMIO load puts in its destination register (see
 * hyp_trap_mmio_read_value() in trap.h).
 */
static HYP_ALWAYS_INLINE uint64_t hyp_trap_mmio_value(const struct hyp_mmio_access *access)
{
	uint32_t len = access->len;
	uint64_t value = truncate_bytes(access->data, len);

	/* LDRSB/LDRSH/LDRSW: replicate bit (8 * len - 1) upwards. */
	if (access->sign_extend && len > 0 && len < 8 && (value >> (len * 8 - 1)) & 1)
		value |= ~((UINT64_C(1) << (len * 8)) - 1);
	/*
	 * A W destination holds the 32-bit result and writing it clears X[63:32] (Arm ARM,
	 * "Register size"), so LDRSB Wt of 0x80 yields 0x00000000ffffff80, not 0xffffffffffffff80.
	 */
	if (!access->reg64)
		value &= UINT64_C(0xffffffff);
	return value;
}

/*
 * hyp_trap_smccc_results() - X0..X3 get ret[] as 64-bit values whatever the calling convention.
 * SMCCC defines only W0..W3 as results of an SMC32/HVC32 call, so a conforming caller ignores the
 * upper halves; writing the value unmodified is what KVM and TF-A do, keeps -1 all ones for
 * callers that compare X0 against (unsigned long)-1, and keeps 32-bit results with bit 31 set
 * (UID words) zero-extended for callers that compare X0 with an unsigned 32-bit constant. A
 * handler that wants other upper halves sets them.
 */
static HYP_ALWAYS_INLINE void hyp_trap_smccc_results(const struct hyp_smccc_call *call,
						     struct hyp_gp_regs *regs)
{
	regs->x[0] = call->ret[0];
	regs->x[1] = call->ret[1];
	regs->x[2] = call->ret[2];
	regs->x[3] = call->ret[3];
}

/* A syndrome the fast decoders take: ESR reported, nothing reserved or unknown set. */
static HYP_ALWAYS_INLINE bool hyp_trap_syndrome_plain(const struct hyp_syndrome *s)
{
	const uint32_t all = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;

	return (s->valid & HYP_SYNDROME_ESR) && !(s->valid & ~all) && !s->reserved &&
	       !(s->esr >> 32);
}

/*
 * hyp_trap_decode_fast_mmio() - the MMIO half of hyp_trap_decode_fast(): a Data Abort from a
 * lower EL with ISV set, nothing that makes it more than a plain access (S1PTW, EA, VNCR, CM,
 * FnV), an emulable fault status, and ESR, FAR and HPFAR all reported.
 */
static HYP_ALWAYS_INLINE bool hyp_trap_decode_fast_mmio(struct hyp_exit *exit,
							const struct hyp_gp_regs *regs,
							struct hyp_trap_info *info)
{
	const uint32_t all = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
	const uint32_t must_be_clear = DABT_S1PTW | DABT_EA | DABT_VNCR | DABT_CM | DABT_FNV;
	const struct hyp_syndrome *s = &exit->raw;
	uint32_t iss = HYP_ESR_ISS(s->esr);
	struct hyp_mmio_access *m = &exit->mmio;
	bool wnr = iss & DABT_WNR;
	uint32_t len = 1u << ((iss >> DABT_SAS_SHIFT) & 3u);
	uint32_t rt = (iss >> DABT_SRT_SHIFT) & 31u;

	if (!hyp_trap_syndrome_plain(s) || HYP_ESR_EC(s->esr) != HYP_EC_DABT_LOW ||
	    s->valid != all || (iss & (DABT_ISV | must_be_clear)) != DABT_ISV ||
	    (uint32_t)(iss & ABT_FSC_MASK) - 0x04u >= 0x0cu)
		return false;

	exit->reason = HYP_EXIT_MMIO;
	m->ipa = fault_ipa(s->hpfar, s->far);
	m->offset = m->ipa;
	m->data = wnr ? truncate_bytes(gpr_read(regs, rt), len) : 0;
	m->len = (uint8_t)len;
	m->is_write = wnr;
	m->sign_extend = (iss & DABT_SSE) && !wnr;
	m->reg = (uint8_t)rt;
	m->reg64 = !!(iss & DABT_SF);
	m->acquire_release = !!(iss & DABT_AR);
	m->reserved[0] = m->reserved[1] = 0;
	/* The rest of the union reads 0, as after hyp_trap_decode(). */
	hyp__clear_words((char *)&exit->mmio + sizeof(exit->mmio),
			 sizeof(*exit) - offsetof(struct hyp_exit, mmio) - sizeof(exit->mmio));
	info->pc_advance = insn_len(HYP_ESR_IL(s->esr));
	return true;
}

/*
 * hyp_trap_decode_fast_smccc() - the SMCCC half of hyp_trap_decode_fast(): HVC #0 or SMC #0 from
 * AArch64.
 */
static HYP_ALWAYS_INLINE bool hyp_trap_decode_fast_smccc(struct hyp_exit *exit,
							 const struct hyp_gp_regs *regs,
							 struct hyp_trap_info *info)
{
	struct hyp_syndrome *s = &exit->raw;
	uint32_t ec = HYP_ESR_EC(s->esr);
	struct hyp_smccc_call *c = &exit->smccc;
	uint32_t fid = (uint32_t)regs->x[0];

	if (!hyp_trap_syndrome_plain(s) || (ec != HYP_EC_HVC64 && ec != HYP_EC_SMC64) ||
	    ISS_IMM16(HYP_ESR_ISS(s->esr)) != 0)
		return false;

	/* FAR/HPFAR mean nothing for a call; unreported ones read 0, as hyp_trap_decode() leaves
	 * them. */
	if (!(s->valid & HYP_SYNDROME_FAR))
		s->far = 0;
	if (!(s->valid & HYP_SYNDROME_HPFAR))
		s->hpfar = 0;
	_Static_assert(sizeof(struct hyp_smccc_call) ==
			       sizeof(*exit) - offsetof(struct hyp_exit, smccc),
		       "the SMCCC call fills the whole union");
	exit->reason = HYP_EXIT_SMCCC;
	c->function_id = fid;
	c->conduit = ec == HYP_EC_HVC64 ? HYP_CONDUIT_HVC : HYP_CONDUIT_SMC;
	c->reserved = 0;
	c->imm = 0;
	/* Two copies rather than one with a computed mask: plain 64-bit moves for SMC64/HVC64
	 * function IDs, 32-bit ones (upper halves zero) for SMC32/HVC32. */
	if (fid & HYP_SMCCC_64BIT) {
#pragma GCC unroll 7
		for (unsigned int i = 0; i < 7; i++)
			c->args[i] = regs->x[i + 1];
	} else {
#pragma GCC unroll 7
		for (unsigned int i = 0; i < 7; i++)
			c->args[i] = (uint32_t)regs->x[i + 1];
	}
	c->ret[0] = (uint64_t)(int64_t)HYP_SMCCC_NOT_SUPPORTED;
	c->ret[1] = regs->x[1];
	c->ret[2] = regs->x[2];
	c->ret[3] = regs->x[3];
	/* HVC returns after itself; a trapped SMC has not executed. */
	info->pc_advance = ec == HYP_EC_HVC64 ? 0 : insn_len(HYP_ESR_IL(s->esr));
	return true;
}

/*
 * hyp_trap_decode_fast() - hyp_trap_decode() + hyp_trap_load_operands() in one pass, for an MMIO
 * access with a full syndrome and an SMCCC call (HVC or SMC #0).
 * @exit: the exit whose @raw the backend filled; decoded in place when the call returns true.
 * @regs: the guest's registers.
 * @info: receives completion information.
 *
 * Only syndromes with nothing reserved are taken, MMIO only when ESR, FAR and HPFAR are all
 * reported, and every byte of the exit record ends up exactly as hyp_trap_decode() followed by
 * hyp_trap_load_operands() would leave it.
 *
 * Return: true if it decoded the exit, false if the exit is of another kind or its syndrome is
 * not fully reported: use the two-step path.
 */
static HYP_ALWAYS_INLINE bool hyp_trap_decode_fast(struct hyp_exit *exit,
						   const struct hyp_gp_regs *regs,
						   struct hyp_trap_info *info)
{
	return hyp_trap_decode_fast_mmio(exit, regs, info) ||
	       hyp_trap_decode_fast_smccc(exit, regs, info);
}

/*
 * hyp_trap_skip_a64_insn() - step over the trapped instruction of a guest in AArch64 state:
 * PSTATE.SS and BTYPE become 0 as after any non-branch instruction (pstate_after_insn() in
 * decode.c, which also handles AArch32).
 */
static HYP_ALWAYS_INLINE void hyp_trap_skip_a64_insn(struct hyp_gp_regs *regs, uint8_t len)
{
	regs->pc += len;
	regs->pstate &= ~(PSTATE_SS | PSTATE_BTYPE);
}

/*
 * hyp_trap_complete_fast() - hyp_trap_complete(), in line for the exits hyp_trap_decode_fast()
 * decodes (the others, and AArch32 ones, go to hyp_trap_complete()).
 */
static HYP_ALWAYS_INLINE void hyp_trap_complete_fast(const struct hyp_exit *exit,
						     const struct hyp_trap_info *info,
						     struct hyp_gp_regs *regs, bool advance_pc)
{
	if ((exit->reason != HYP_EXIT_MMIO && exit->reason != HYP_EXIT_SMCCC) ||
	    (regs->pstate & PSTATE_NRW)) {
		hyp_trap_complete(exit, info, regs, advance_pc);
		return;
	}
	if (exit->reason == HYP_EXIT_SMCCC)
		hyp_trap_smccc_results(&exit->smccc, regs);
	else if (!exit->mmio.is_write)
		gpr_write(regs, exit->mmio.reg, hyp_trap_mmio_value(&exit->mmio));
	if (advance_pc && info->pc_advance)
		hyp_trap_skip_a64_insn(regs, info->pc_advance);
}

#endif /* HYP_TRAP_FAST_H */
