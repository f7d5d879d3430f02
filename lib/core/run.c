/* SPDX-License-Identifier: MIT */
/*
 * The exit path: enter the guest, decode the exit, dispatch it to a callback or built-in service,
 * complete the trapped instruction, and go round again until an exit the caller must see.
 *
 * This loop is the hot path every backend shares: it does no allocation, takes no locks and
 * touches only the vCPU, its VM's lookup tables and the exit record.
 */
#include "hyp_string.h"

#include "internal.h"
#include "trap/fast.h"

static bool vm_run_begin(struct hyp_vm *vm)
{
	for (;;) {
		uint32_t users = atomic_fetch_add(&vm->users, 1);

		if (!(users & HYP_VM_RECONFIGURING))
			return true;
		atomic_fetch_sub(&vm->users, 1);
		/* A VMM thread changing the VM: its mistake or ours to report, -EBUSY. A callback
		 * of the one running vCPU changing the memory map: a few system calls, wait. */
		if (!(users & HYP_VM_EXIT_RECONFIGURING))
			return false;
		while (atomic_load(&vm->users) & HYP_VM_EXIT_RECONFIGURING)
			hyp__cpu_relax();
	}
}

static void vm_run_end(struct hyp_vm *vm)
{
	atomic_fetch_sub(&vm->users, 1);
}

void hyp__vm_signal_system_event(struct hyp_vm *vm, uint32_t type, uint64_t data)
{
	uint64_t none = 0;

	/* The first event wins; a SYSTEM_RESET racing a SYSTEM_OFF on another vCPU is lost. */
	if (!atomic_compare_exchange_strong(&vm->system_event, &none,
					    (uint64_t)type | (uint64_t)(uint32_t)data << 32))
		return;
	/* Every other vCPU must leave the guest and report the event too. */
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

		if (!vcpu)
			continue;
		if (vm->ops.vcpu_kick)
			vm->ops.vcpu_kick(vcpu);
		if (vm->ops.vcpu_wake)
			vm->ops.vcpu_wake(vcpu);
	}
}

static void report_system_event(struct hyp_vcpu *vcpu)
{
	uint64_t event = atomic_load(&vcpu->vm->system_event);
	struct hyp_exit *exit = &vcpu->exit;

	memset(exit, 0, sizeof(*exit));
	exit->reason = HYP_EXIT_SYSTEM_EVENT;
	exit->vcpu_index = vcpu->index;
	exit->system_event.type = (uint32_t)event;
	exit->system_event.data = event >> 32;
	vcpu->completion = HYP_COMPLETE_NONE;
}

static void report_kick(struct hyp_vcpu *vcpu)
{
	struct hyp_exit *exit = &vcpu->exit;

	/* An exchange: it synchronises with the kickers' exchanges, so whoever sees this run
	 * return also sees their kicks_in_flight count (hyp_vcpu_kick()). */
	atomic_exchange(&vcpu->kick, false);
	memset(exit, 0, sizeof(*exit));
	exit->reason = HYP_EXIT_KICKED;
	exit->vcpu_index = vcpu->index;
}

/* Returns 0, HYP_EMUL_EXIT when an emulated instruction produced another exit for the caller,
 * or a negative errno. */
static int complete_exit(struct hyp_vcpu *vcpu)
{
	int r = 0;

	switch (vcpu->completion) {
	case HYP_COMPLETE_EMULATION:
		/* The rest of the instruction's accesses may reach callbacks. */
		vcpu->in_exit = true;
		r = hyp__emulate_resume(vcpu);
		vcpu->in_exit = false;
		switch (r) {
		case HYP_EMUL_DONE:
			return 0;
		case HYP_EMUL_EXIT:
			return HYP_EMUL_EXIT;
		default:
			vcpu->completion = HYP_COMPLETE_NONE;
			return -EIO;
		}
	case HYP_COMPLETE_REGS:
		hyp_trap_complete(&vcpu->exit, &vcpu->trap_info, vcpu->regs, !vcpu->pc_moved);
		break;
	case HYP_COMPLETE_BACKEND:
		r = vcpu->vm->ops.vcpu_complete(vcpu, &vcpu->exit, !vcpu->pc_moved);
		break;
	default:
		break;
	}
	vcpu->completion = HYP_COMPLETE_NONE;
	vcpu->pc_moved = false;
	return r;
}

/* PSCI CPU_ON published an entry point for us: restart in the architected reset state there
 * (PSCI 1.1 section 6.4: EL1h... MMU off, X0 = context_id). */
static int start_at_entry(struct hyp_vcpu *vcpu, uint64_t entry, uint64_t context_id)
{
	static const enum hyp_reg regs[] = { HYP_REG_PSTATE, HYP_REG_X0, HYP_REG_PC };
	const uint64_t values[] = { HYP_PSTATE_EL1H_DAIF, context_id, entry };
	const struct hyp_backend_ops *ops = &vcpu->vm->ops;
	int r = 0;

	if (ops->vcpu_reset)
		r = ops->vcpu_reset(vcpu);
	else if (vcpu->regs)
		memset(vcpu->regs, 0, sizeof(*vcpu->regs));
	if (!r)
		r = hyp_vcpu_set_regs(vcpu, regs, values, HYP_ARRAY_SIZE(regs));
	vcpu->completion = HYP_COMPLETE_NONE;
	vcpu->pc_moved = false;
	return r;
}

static void wait_until_powered_on(struct hyp_vcpu *vcpu)
{
	if (vcpu->vm->ops.vcpu_wait) {
		vcpu->vm->ops.vcpu_wait(vcpu);
		return;
	}
	while (!hyp_backend_vcpu_should_wake(vcpu))
		hyp__cpu_relax();
}

/*
 * HYP_VM_ABORT_UNCLAIMED: an access nobody claimed gets what a bus with nothing there gives, a
 * synchronous external abort (data or instruction side), and the guest goes on in its handler.
 */
static enum hyp_handler_result abort_unclaimed(struct hyp_vcpu *vcpu, const struct hyp_exit *exit)
{
	enum hyp_inject_kind kind;
	uint64_t addr;
	int fsc = -1; /* a synchronous external abort */

	if (!(vcpu->vm->flags & HYP_VM_ABORT_UNCLAIMED))
		return HYP_NOT_HANDLED;
	if (exit->reason == HYP_EXIT_MMIO) {
		kind = HYP_INJECT_DATA_ABORT;
		addr = vcpu->completion == HYP_COMPLETE_EMULATION ? hyp__emulate_element_va(vcpu) :
								    exit->raw.far;
	} else if (exit->reason == HYP_EXIT_MEM_FAULT) {
		bool fetch = exit->fault.kind == HYP_FAULT_EXEC ||
			     ((exit->raw.valid & HYP_SYNDROME_ESR) &&
			      HYP_ESR_EC(exit->raw.esr) == HYP_EC_IABT_LOW);

		kind = fetch ? HYP_INJECT_PREFETCH_ABORT : HYP_INJECT_DATA_ABORT;
		addr = exit->fault.va;
		/* The guest's own table walk read nothing: that is an external abort on the
		 * walk, at the level the walk reached (FSC 0x14 + level), found by walking the
		 * tables as the MMU did (Arm ARM D8.15, "synchronous External abort on
		 * translation table walk"). */
		if (exit->fault.kind == HYP_FAULT_PAGE_TABLE_WALK)
			fsc = hyp__emulate_walk_abort_fsc(vcpu, addr, fetch);
	} else {
		return HYP_NOT_HANDLED;
	}
	return hyp__vcpu_inject_abort_fsc(vcpu, kind, addr, fsc) == 0 ? HYP_HANDLED :
									HYP_NOT_HANDLED;
}

static enum hyp_handler_result call_exit_handler(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	const struct hyp_exit_handler *h = &vcpu->vm->exit_handlers[exit->reason];

	if (h->fn)
		return h->fn(h->opaque, vcpu, exit);
	return abort_unclaimed(vcpu, exit);
}

/* An MMIO access no range took (declined, or a deferred write nobody claims): the generic MMIO
 * callback with an absolute offset, else the caller's. */
static enum hyp_handler_result generic_mmio(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	const struct hyp_exit_handler *h = &vcpu->vm->exit_handlers[HYP_EXIT_MMIO];

	exit->mmio.offset = exit->mmio.ipa;
	return h->fn ? h->fn(h->opaque, vcpu, exit) : HYP_NOT_HANDLED;
}

enum hyp_handler_result hyp__dispatch_mmio(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	const struct hyp_mmio_range *range;

	range = hyp__mmio_find(vcpu->vm, exit->mmio.ipa, &vcpu->mmio_hint);
	if (!range) {
		exit->mmio.offset = exit->mmio.ipa;
		return call_exit_handler(vcpu, exit);
	}
	exit->mmio.offset = exit->mmio.ipa - range->base;
	if (hyp__mmio_to_eventfd(vcpu->vm, range, &exit->mmio))
		return HYP_HANDLED;
	if (range->fn(range->opaque, vcpu, &exit->mmio) == HYP_HANDLED)
		return HYP_HANDLED;
	/* Declined: passed on like an access no range claims, to the generic MMIO callback and
	 * then the caller. Not to the HYP_VM_ABORT_UNCLAIMED policy: a range did claim it, and
	 * declining means "the caller's" (handlers.h). */
	return generic_mmio(vcpu, exit);
}

HYP_API void hyp_backend_dispatch_deferred_write(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint32_t len,
						 uint64_t data)
{
	struct hyp_exit exit = { .reason = HYP_EXIT_MMIO };
	const struct hyp_mmio_range *range;

	if (!vcpu || (len != 1 && len != 2 && len != 4 && len != 8))
		return;
	exit.mmio.ipa = ipa;
	exit.mmio.len = (uint8_t)len;
	exit.mmio.is_write = true;
	exit.mmio.data = len == 8 ? data : data & ((UINT64_C(1) << (8 * len)) - 1);
	range = hyp__mmio_find(vcpu->vm, ipa, &vcpu->mmio_hint);
	if (range) {
		exit.mmio.offset = ipa - range->base;
		if (hyp__mmio_to_eventfd(vcpu->vm, range, &exit.mmio))
			return;
		if (range->fn(range->opaque, vcpu, &exit.mmio) == HYP_HANDLED)
			return;
	}
	/* There is no exit to hand back: what the generic callback does not take is dropped. */
	generic_mmio(vcpu, &exit);
}

static struct hyp_vcpu *vcpu_of_psci(struct hyp_psci_cpu *cpu)
{
	return hyp__container_of(cpu, struct hyp_vcpu, psci);
}

static enum hyp_handler_result builtin_smccc(struct hyp_vcpu *vcpu, struct hyp_exit *exit,
					     bool *answered)
{
	struct hyp_vm *vm = vcpu->vm;
	struct hyp_psci_action action = { .kind = HYP_PSCI_ACTION_NONE };
	struct hyp_vcpu *target;

	*answered = hyp_smccc_builtin_call(&vm->psci, &vcpu->psci, &exit->smccc, &action);
	if (!*answered)
		return HYP_NOT_HANDLED;
	switch (action.kind) {
	case HYP_PSCI_ACTION_CPU_ON:
		target = vcpu_of_psci(action.target);
		if (vm->ops.vcpu_wake)
			vm->ops.vcpu_wake(target);
		break;
	case HYP_PSCI_ACTION_SYSTEM_OFF:
		hyp__vm_signal_system_event(vm, HYP_SYSTEM_EVENT_OFF, 0);
		report_system_event(vcpu);
		return HYP_NOT_HANDLED;
	case HYP_PSCI_ACTION_SYSTEM_RESET:
		hyp__vm_signal_system_event(vm, HYP_SYSTEM_EVENT_RESET, action.reset_type);
		report_system_event(vcpu);
		return HYP_NOT_HANDLED;
	default:
		/* CPU_OFF: the run loop sees the OFF state and waits. CPU_SUSPEND: standby may end
		 * at once (PSCI 1.1 section 5.4.2: a wakeup can happen at any time). */
		break;
	}
	return HYP_HANDLED;
}

static enum hyp_handler_result dispatch_smccc(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct hyp_smccc_call *call = &exit->smccc;

	/* An HVC/SMC with a non-zero immediate is not an SMCCC call (SMCCC 1.1 section 2.1): only
	 * the generic handler and the caller may interpret it. */
	if (call->imm == 0) {
		const struct hyp_smccc_range *range;

		range = hyp__smccc_find(vcpu->vm, call->conduit, call->function_id,
					&vcpu->smccc_hint);
		if (range)
			return range->fn(range->opaque, vcpu, call);
		if (!(vcpu->vm->ops.flags & HYP_BACKEND_OWN_PSCI)) {
			enum hyp_handler_result result;
			bool answered;

			result = builtin_smccc(vcpu, exit, &answered);
			if (answered)
				return result;
		}
	}
	return call_exit_handler(vcpu, exit);
}

static enum hyp_handler_result dispatch_sysreg(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	const struct hyp_sysreg_handler *h = hyp__sysreg_find(vcpu->vm, exit->sysreg.encoding);

	if (h)
		return h->fn(h->opaque, vcpu, &exit->sysreg);
	return call_exit_handler(vcpu, exit);
}

/*
 * A load/store the hardware could not describe: the library performs it itself (lib/core/emulate.c).
 * What it cannot emulate (exclusives, atomics, AArch32...) stays the HYP_FAULT_NO_SYNDROME exit it
 * was, for the generic handler, the HYP_VM_ABORT_UNCLAIMED policy or the caller.
 */
static enum hyp_handler_result emulate(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct hyp_exit saved = *exit;

	switch (hyp__emulate_start(vcpu)) {
	case HYP_EMUL_DONE:
		return HYP_HANDLED;
	case HYP_EMUL_EXIT:
		return HYP_NOT_HANDLED;
	case HYP_EMUL_UNEMULATABLE:
		*exit = saved;
		return call_exit_handler(vcpu, exit);
	default:
		/* A backend's register or memory accessor failed: the caller gets the fault as
		 * it came. */
		hyp__err(vcpu->vm, "vcpu %u: emulating the access without syndrome failed",
			 vcpu->index);
		vcpu->completion = HYP_COMPLETE_NONE;
		*exit = saved;
		return HYP_NOT_HANDLED;
	}
}

static enum hyp_handler_result dispatch(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	switch (exit->reason) {
	case HYP_EXIT_MMIO:
		return hyp__dispatch_mmio(vcpu, exit);
	case HYP_EXIT_SMCCC:
		return dispatch_smccc(vcpu, exit);
	case HYP_EXIT_SYSREG:
		return dispatch_sysreg(vcpu, exit);
	case HYP_EXIT_KICKED:
	case HYP_EXIT_SYSTEM_EVENT:
		/* Always the caller's: a VMM must be able to stop a guest. */
		return HYP_NOT_HANDLED;
	case HYP_EXIT_MEM_FAULT:
		if (exit->fault.kind == HYP_FAULT_NO_SYNDROME)
			return emulate(vcpu, exit);
		/* fall through */
	default:
		return call_exit_handler(vcpu, exit);
	}
}

/* A raw syndrome from the backend: decode it with lib/trap and read its register operands. */
static int decode_raw_exit(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	if (!vcpu->regs) {
		hyp__err(vcpu->vm, "backend %s reported a raw exit without a register file",
			 vcpu->vm->ops.name);
		return -EPROTO;
	}
	if (!hyp_trap_decode_fast(exit, vcpu->regs, &vcpu->trap_info)) {
		hyp_trap_decode(&exit->raw, exit, &vcpu->trap_info);
		hyp_trap_load_operands(exit, vcpu->regs);
	}
	vcpu->completion = HYP_COMPLETE_REGS;
	return 0;
}

static int run_loop(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = vcpu->vm;
	struct hyp_exit *exit = &vcpu->exit;
	bool vm_owns_psci = !(vm->ops.flags & HYP_BACKEND_OWN_PSCI);
	uint64_t entry, context_id;
	int r;

	r = complete_exit(vcpu);
	if (r)
		return r == HYP_EMUL_EXIT ? 0 : r;
	for (;;) {
		if (__builtin_expect(atomic_load_explicit(&vm->system_event,
							  memory_order_acquire) != 0,
				     0)) {
			report_system_event(vcpu);
			return 0;
		}
		if (__builtin_expect(atomic_load_explicit(&vcpu->kick, memory_order_relaxed), 0)) {
			report_kick(vcpu);
			return 0;
		}
		/* The common case, a running vCPU, costs one load; power transitions take the
		 * slow path. */
		if (vm_owns_psci && __builtin_expect(!hyp_psci_is_running(&vcpu->psci), 0)) {
			if (hyp_psci_claim_start(&vcpu->psci, &entry, &context_id)) {
				r = start_at_entry(vcpu, entry, context_id);
				if (r)
					return r;
			}
			/* Not hyp_psci_is_on(): between a CPU_ON winning the race and it
			 * publishing the entry point the CPU is ON_PENDING, and must not start
			 * at whatever PC it has. */
			if (!hyp_psci_is_running(&vcpu->psci))
				wait_until_powered_on(vcpu);
			continue;
		}

		exit->reason = HYP_EXIT_NONE;
		exit->raw.valid = 0;
		r = vm->ops.vcpu_enter(vcpu, exit);
		if (r > 0) {
			/* Only a built-in backend's fast path may say it dispatched the exit itself;
			 * for anyone else a positive return breaks the method's contract. */
			if (r == HYP__ENTER_DISPATCHED && vm->builtin_backend)
				return 0;
			hyp__err(vm, "backend %s: vcpu_enter returned %d", vm->ops.name, r);
			return -EPROTO;
		}
		if (r)
			return r;
		exit->vcpu_index = vcpu->index;
		if (exit->reason == HYP_EXIT_NONE) {
			r = decode_raw_exit(vcpu, exit);
			if (r)
				return r;
		} else if (exit->reason == HYP_EXIT_KICKED) {
			/* The backend was interrupted: by hyp_vcpu_kick(), by a system event on
			 * another vCPU, or spuriously. The loop top tells them apart. */
			continue;
		} else if (exit->reason == HYP_EXIT_SYSTEM_EVENT) {
			/* A backend that answers PSCI itself (KVM) reports SYSTEM_OFF on the
			 * calling vCPU only: latch it so every vCPU stops, as with ours. */
			hyp__vm_signal_system_event(vm, exit->system_event.type,
						    exit->system_event.data);
			/* Every vCPU reports the one event that won, this one included. */
			report_system_event(vcpu);
			return 0;
		} else if (exit->reason >= HYP_EXIT_REASON_COUNT) {
			hyp__err(vm, "backend %s reported exit reason %u", vm->ops.name,
				 exit->reason);
			return -EPROTO;
		} else {
			vcpu->completion = vm->ops.vcpu_complete ? HYP_COMPLETE_BACKEND :
								   HYP_COMPLETE_NONE;
		}

		vcpu->in_exit = true;
		if (dispatch(vcpu, exit) != HYP_HANDLED) {
			vcpu->in_exit = false;
			return 0;
		}
		vcpu->in_exit = false;
		r = complete_exit(vcpu);
		if (r)
			return r == HYP_EMUL_EXIT ? 0 : r;
	}
}

HYP_API int hyp_vcpu_run(struct hyp_vcpu *vcpu)
{
	int r;

	if (!vcpu)
		return -EINVAL;
	if (atomic_exchange(&vcpu->running, true))
		return -EBUSY;
	if (!vm_run_begin(vcpu->vm)) {
		atomic_store(&vcpu->running, false);
		return -EBUSY;
	}
	r = run_loop(vcpu);
	vm_run_end(vcpu->vm);
	atomic_store(&vcpu->running, false);
	return r;
}
