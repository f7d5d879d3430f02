/* SPDX-License-Identifier: MIT */
/*
 * lib/core/fast-exit.h: the core's fast exit path, for built-in raw-syndrome backends that can call it
 * straight from their exception vector (el2).
 *
 * It is in line so the backend's vector handler, the decoder's fast path (trap/fast.h), the
 * range lookup and the completion compile into one function: the syndrome the backend just
 * stored is not re-validated, and the only call left between guest exit and guest entry is the
 * VMM's callback. Anything unusual returns HYP__FAST_NONE before touching state, and the
 * ordinary path (run.c) handles it.
 */
#ifndef HYP_FAST_EXIT_H
#define HYP_FAST_EXIT_H

#include "internal.h"
#include "trap/fast.h"

/*
 * hyp__vcpu_fast_*() results. NONE: not an exit for the fast path, nothing done: take the
 * ordinary one. RESUME: handled and completed: the guest may go straight back in. RETURN:
 * dispatched, not handled: the exit is the caller's (vcpu_enter returns HYP__ENTER_DISPATCHED;
 * completion pending). RECHECK: handled, but a kick or system event needs the run loop
 * (vcpu_enter reports HYP_EXIT_KICKED).
 */
#define HYP__FAST_NONE 0
#define HYP__FAST_RESUME 1
#define HYP__FAST_RETURN 2
#define HYP__FAST_RECHECK 3

/*
 * After a handled fast exit: anything for the run loop? A system event (another vCPU's SYSTEM_OFF)
 * or a kick (from another thread, or from the callback itself) must make hyp_vcpu_run() return
 * even when the platform cannot interrupt the guest. The vCPU's own PSCI state needs no look: only
 * its own CPU_OFF/CPU_SUSPEND, answered by the built-in PSCI on the ordinary path, changes it
 * while it runs (CPU_ON from a sibling applies to an OFF vCPU only).
 */
static HYP_ALWAYS_INLINE int hyp__fast_exit_finish(struct hyp_vcpu *vcpu)
{
	vcpu->completion = HYP_COMPLETE_NONE;
	vcpu->pc_moved = false;
	/* Relaxed: a hint only; the run loop reads them again with the ordering they need. */
	if (__builtin_expect(atomic_load_explicit(&vcpu->vm->system_event, memory_order_relaxed) ||
				     atomic_load_explicit(&vcpu->kick, memory_order_relaxed),
			     0))
		return HYP__FAST_RECHECK;
	return HYP__FAST_RESUME;
}

/*
 * hyp__vcpu_fast_mmio() - serve the exit whose raw syndrome is in vcpu->exit.raw if it is an MMIO
 * access a registered callback handles: decode, callback, completion on vcpu->regs. Returns one
 * of HYP__FAST_*.
 */
static HYP_ALWAYS_INLINE int hyp__vcpu_fast_mmio(struct hyp_vcpu *vcpu)
{
	struct hyp_exit *exit = &vcpu->exit;
	const struct hyp_mmio_range *range;

	if (!hyp_trap_decode_fast_mmio(exit, vcpu->regs, &vcpu->trap_info))
		return HYP__FAST_NONE;
	range = hyp__mmio_find(vcpu->vm, exit->mmio.ipa, &vcpu->mmio_hint);
	if (!range)
		return HYP__FAST_NONE;
	exit->mmio.offset = exit->mmio.ipa - range->base;
	vcpu->completion = HYP_COMPLETE_REGS;
	vcpu->in_exit = true;
	if (!hyp__mmio_to_eventfd(vcpu->vm, range, &exit->mmio) &&
	    range->fn(range->opaque, vcpu, &exit->mmio) != HYP_HANDLED) {
		vcpu->in_exit = false;
		exit->mmio.offset = exit->mmio.ipa;
		return HYP__FAST_RETURN;
	}
	vcpu->in_exit = false;
	/* Completion as complete_exit() does it, unless the callback injected an exception
	 * (completion cleared); the PC advances unless the callback moved it. */
	if (vcpu->completion == HYP_COMPLETE_REGS)
		hyp_trap_complete_fast(exit, &vcpu->trap_info, vcpu->regs, !vcpu->pc_moved);
	return hyp__fast_exit_finish(vcpu);
}

/* hyp__vcpu_fast_smccc() - the same for an SMCCC #0 call a registered callback handles. */
static HYP_ALWAYS_INLINE int hyp__vcpu_fast_smccc(struct hyp_vcpu *vcpu)
{
	struct hyp_exit *exit = &vcpu->exit;
	const struct hyp_smccc_range *range;
	uint8_t pc_advance;

	if (!hyp_trap_decode_fast_smccc(exit, vcpu->regs, &vcpu->trap_info))
		return HYP__FAST_NONE;
	range = hyp__smccc_find(vcpu->vm, exit->smccc.conduit, exit->smccc.function_id,
				&vcpu->smccc_hint);
	if (!range)
		return HYP__FAST_NONE;
	/* Known before the call (0 for HVC): the callback cannot change it. */
	pc_advance = vcpu->trap_info.pc_advance;
	vcpu->completion = HYP_COMPLETE_REGS;
	vcpu->in_exit = true;
	if (range->fn(range->opaque, vcpu, &exit->smccc) != HYP_HANDLED) {
		vcpu->in_exit = false;
		return HYP__FAST_RETURN;
	}
	vcpu->in_exit = false;
	/* hyp_trap_complete_fast() for an SMCCC exit, knowing it came from AArch64 (HVC64/SMC64
	 * are taken from AArch64 only) and testing pc_moved only for an SMC, which the PC steps
	 * over (an HVC returns after itself). */
	if (vcpu->completion == HYP_COMPLETE_REGS) {
		hyp_trap_smccc_results(&exit->smccc, vcpu->regs);
		if (__builtin_expect(pc_advance, 0)) {
			if (!vcpu->pc_moved)
				hyp_trap_skip_a64_insn(vcpu->regs, pc_advance);
		}
	}
	return hyp__fast_exit_finish(vcpu);
}

#endif /* HYP_FAST_EXIT_H */
