/* SPDX-License-Identifier: MIT */
/* vCPU objects: creation, register access, kicks, exception injection. */
#include "hyp_string.h"

#include "internal.h"

static bool mpidr_taken(const struct hyp_vm *vm, uint64_t mpidr)
{
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		const struct hyp_vcpu *other = hyp__vm_vcpu(vm, i);

		if (other && other->psci.mpidr == mpidr)
			return true;
	}
	return false;
}

/* hyp_vcpu_create() with its arguments checked and the VM's configuration lock held. */
static int create_locked(struct hyp_vm *vm, const struct hyp_vcpu_config *cfgp,
			 struct hyp_vcpu **ret)
{
	struct hyp_vcpu_config cfg = *cfgp;
	size_t state_offset, total;
	struct hyp_vcpu *vcpu, *expected = NULL;
	uint32_t power;
	int r;

	if (hyp__vm_vcpu(vm, cfg.index) || mpidr_taken(vm, cfg.mpidr))
		return -EEXIST;
	power = cfg.power;
	if (power == HYP_VCPU_POWER_DEFAULT)
		power = cfg.index == 0 ? HYP_VCPU_POWER_ON : HYP_VCPU_POWER_OFF;

	state_offset = (sizeof(*vcpu) + 15) & ~(size_t)15;
	total = state_offset + vm->ops.vcpu_state_size;
	vcpu = hyp__alloc(vm, total, 16);
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->index = cfg.index;
	vcpu->alloc_size = total;
	vcpu->backend_state = (char *)vcpu + state_offset;
	vcpu->exit.vcpu_index = cfg.index;
	vcpu->psci.mpidr = cfg.mpidr;
	atomic_init(&vcpu->psci.state,
		    power == HYP_VCPU_POWER_ON ? HYP_PSCI_POWER_ON : HYP_PSCI_POWER_OFF);

	r = vm->ops.vcpu_init(vcpu);
	if (r) {
		hyp__err(vm, "vCPU %u: backend init failed: %s", cfg.index, hyp_strerror(r));
		hyp__free(vm, vcpu, total);
		return r;
	}
	r = hyp__dirty_ring_vcpu_init(vcpu);
	if (r) {
		if (vm->ops.vcpu_destroy)
			vm->ops.vcpu_destroy(vcpu);
		hyp__free(vm, vcpu, total);
		return r;
	}
	vcpu->initialised = true;
	/* Publish last, and only if nobody took the index meanwhile. */
	if (!atomic_compare_exchange_strong_explicit(&vm->vcpus[cfg.index], &expected, vcpu,
						     memory_order_release, memory_order_relaxed)) {
		hyp__dirty_ring_vcpu_release(vcpu);
		if (vm->ops.vcpu_destroy)
			vm->ops.vcpu_destroy(vcpu);
		hyp__free(vm, vcpu, total);
		return -EEXIST;
	}
	*ret = vcpu;
	return 0;
}

HYP_API int hyp_vcpu_create(struct hyp_vm *vm, const struct hyp_vcpu_config *config,
			    struct hyp_vcpu **ret)
{
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg) };
	int r;

	if (!vm || !ret)
		return -EINVAL;
	if (config) {
		r = hyp__copy_sized_config(&cfg, sizeof(cfg),
					   offsetof(struct hyp_vcpu_config, mpidr) +
						   sizeof(cfg.mpidr),
					   config, config->size);
		if (r)
			return r;
	} else {
		while (cfg.index < vm->max_vcpus && hyp__vm_vcpu(vm, cfg.index))
			cfg.index++;
	}
	if (!config && cfg.index >= vm->max_vcpus)
		return -ENOSPC;
	if (cfg.index >= vm->max_vcpus || cfg.power > HYP_VCPU_POWER_OFF || cfg.reserved ||
	    (cfg.mpidr & ~MPIDR_AFF_MASK))
		return -EINVAL;
	if (!cfg.mpidr)
		cfg.mpidr = hyp__default_mpidr(cfg.index);
	/* The vCPU set is configuration: not while any vCPU runs (PSCI and system events look
	 * vCPUs up on the exit path). This also makes the index and MPIDR checks atomic. */
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	r = create_locked(vm, &cfg, ret);
	hyp__vm_reconfigure_end(vm);
	return r;
}

void hyp__vcpu_free(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = vcpu->vm;

	/* The caller holds the reconfiguring bit, so no run can be inside the loop; but one that
	 * lost the race for the VM still clears its running flag, and a kick that made a run
	 * return may still be on its way out through the backend's methods and vm->ops. Both end
	 * in a few instructions. */
	while (atomic_load(&vcpu->running) || atomic_load(&vcpu->kicks_in_flight))
		hyp__cpu_relax();
	hyp__dirty_ring_vcpu_release(vcpu);
	if (vm->ops.vcpu_destroy)
		vm->ops.vcpu_destroy(vcpu);
	hyp__free(vm, vcpu, vcpu->alloc_size);
}

HYP_API int hyp_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm;

	if (!vcpu)
		return 0;
	vm = vcpu->vm;
	/* Never free a vCPU that is running, or that another vCPU's exit path might look up
	 * (PSCI, system events): the caller hears -EBUSY and keeps a valid handle. */
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	atomic_store_explicit(&vm->vcpus[vcpu->index], NULL, memory_order_release);
	/* Freed before the bit is dropped: a racing hyp_vcpu_run() must not get in meanwhile. */
	hyp__vcpu_free(vcpu);
	hyp__vm_reconfigure_end(vm);
	return 0;
}

HYP_API uint32_t hyp_vcpu_index(const struct hyp_vcpu *vcpu)
{
	return vcpu ? vcpu->index : 0;
}

HYP_API struct hyp_vm *hyp_vcpu_vm(const struct hyp_vcpu *vcpu)
{
	return vcpu ? vcpu->vm : NULL;
}

/* Registers the core serves from the backend's in-memory register file. */
static uint64_t *gp_reg_slot(struct hyp_vcpu *vcpu, enum hyp_reg reg)
{
	struct hyp_gp_regs *regs = vcpu->regs;

	if (!regs)
		return NULL;
	if (reg <= HYP_REG_X30)
		return &regs->x[reg];
	switch (reg) {
	case HYP_REG_SP_EL0:
		return &regs->sp_el0;
	case HYP_REG_PC:
		return &regs->pc;
	case HYP_REG_PSTATE:
		return &regs->pstate;
	default:
		return NULL;
	}
}

/*
 * SP_EL1, ELR_EL1 and SPSR_EL1 are core registers in this API (as in KVM's) but system registers
 * to the architecture: a backend without its own core-register accessors serves them as such.
 */
static uint32_t banked_el1_sysreg(enum hyp_reg reg)
{
	switch (reg) {
	case HYP_REG_SP_EL1:
		return HYP_SYSREG_SP_EL1;
	case HYP_REG_ELR_EL1:
		return HYP_SYSREG_ELR_EL1;
	case HYP_REG_SPSR_EL1:
		return HYP_SYSREG_SPSR_EL1;
	default:
		return 0;
	}
}

/* A register outside the registered register file, through the backend's single-register
 * methods. */
static int backend_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value)
{
	if (vcpu->vm->ops.vcpu_get_reg)
		return vcpu->vm->ops.vcpu_get_reg(vcpu, reg, value);
	if (banked_el1_sysreg(reg) && vcpu->vm->ops.vcpu_get_sysreg)
		return vcpu->vm->ops.vcpu_get_sysreg(vcpu, banked_el1_sysreg(reg), value);
	return -ENOTSUP;
}

HYP_API int hyp_vcpu_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value)
{
	uint64_t *slot;

	if (!vcpu || !value || (unsigned)reg >= HYP_REG_COUNT)
		return -EINVAL;
	slot = gp_reg_slot(vcpu, reg);
	if (slot) {
		*value = *slot;
		return 0;
	}
	return backend_get_reg(vcpu, reg, value);
}

/*
 * A PSTATE a guest may be entered with (SPSR_EL2 layout, Arm ARM C5.2.19): AArch64 EL0t, EL1t or
 * EL1h, and only bits that exist. Anything else could make the ERET land at EL2 (the el2
 * backend would then run guest code as the hypervisor) or in an illegal state.
 */
static bool guest_pstate_valid(uint64_t pstate)
{
	const uint64_t known = PSTATE_NZCV | PSTATE_TCO | PSTATE_DIT | PSTATE_UAO | PSTATE_PAN |
			       PSTATE_SS | PSTATE_IL | PSTATE_ALLINT | PSTATE_SSBS | PSTATE_BTYPE |
			       PSTATE_DAIF | PSTATE_M_MASK;
	uint64_t mode = pstate & PSTATE_M_MASK;

	return !(pstate & ~known) &&
	       (mode == PSTATE_M_EL0T || mode == PSTATE_M_EL1T || mode == PSTATE_M_EL1H);
}

static int backend_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value)
{
	if (vcpu->vm->ops.vcpu_set_reg)
		return vcpu->vm->ops.vcpu_set_reg(vcpu, reg, value);
	if (banked_el1_sysreg(reg) && vcpu->vm->ops.vcpu_set_sysreg)
		return vcpu->vm->ops.vcpu_set_sysreg(vcpu, banked_el1_sysreg(reg), value);
	return -ENOTSUP;
}

HYP_API int hyp_vcpu_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value)
{
	uint64_t *slot;
	int r;

	if (!vcpu || (unsigned)reg >= HYP_REG_COUNT)
		return -EINVAL;
	if (reg == HYP_REG_PSTATE && !guest_pstate_valid(value))
		return -EINVAL;
	slot = gp_reg_slot(vcpu, reg);
	if (slot) {
		*slot = value;
		r = 0;
	} else {
		r = backend_set_reg(vcpu, reg, value);
	}
	/* The caller redirected the guest: do not also step over the trapped instruction. */
	if (!r && reg == HYP_REG_PC)
		vcpu->pc_moved = true;
	return r;
}

/* The register ids of a list as a set: one bit per enum hyp_reg. */
_Static_assert(HYP_REG_COUNT <= 64, "a register set fits in a uint64_t");

static int reg_set_of(const enum hyp_reg *regs, unsigned int count, uint64_t *set)
{
	uint64_t bits = 0;

	for (unsigned int i = 0; i < count; i++) {
		if ((unsigned)regs[i] >= HYP_REG_COUNT)
			return -EINVAL;
		bits |= 1ull << regs[i];
	}
	*set = bits;
	return 0;
}

/* Whether the backend can reach a register outside the register file at all, checked for the
 * whole list before anything changes so that -ENOTSUP, too, leaves the vCPU untouched. */
static bool backend_has_reg(const struct hyp_backend_ops *ops, enum hyp_reg reg, bool write)
{
	bool banked = banked_el1_sysreg(reg) != 0;

	if (write)
		return ops->vcpu_set_regs || ops->vcpu_set_reg || (banked && ops->vcpu_set_sysreg);
	return ops->vcpu_get_regs || ops->vcpu_get_reg || (banked && ops->vcpu_get_sysreg);
}

/*
 * Split a register set into the registers the core holds (the registered struct hyp_gp_regs) and
 * the rest, which go to the backend in ascending order (the contract of vcpu_get_regs()).
 * Returns the number of the rest, or -ENOTSUP.
 */
static int split_regs(struct hyp_vcpu *vcpu, uint64_t set, bool write, enum hyp_reg *rest)
{
	int n = 0;

	for (unsigned int reg = 0; reg < HYP_REG_COUNT; reg++) {
		if (!(set & (1ull << reg)) || gp_reg_slot(vcpu, (enum hyp_reg)reg))
			continue;
		if (!backend_has_reg(&vcpu->vm->ops, (enum hyp_reg)reg, write))
			return -ENOTSUP;
		rest[n++] = (enum hyp_reg)reg;
	}
	return n;
}

/* The backend's share of a batch: one call where the backend has the method (version 3),
 * else one call per register. */
static int backend_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			    int n)
{
	int r = 0;

	if (n && vcpu->vm->ops.vcpu_get_regs)
		return vcpu->vm->ops.vcpu_get_regs(vcpu, regs, values, (unsigned int)n);
	for (int i = 0; i < n && !r; i++)
		r = backend_get_reg(vcpu, regs[i], &values[i]);
	return r;
}

static int backend_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
			    int n)
{
	int r = 0;

	if (n && vcpu->vm->ops.vcpu_set_regs)
		return vcpu->vm->ops.vcpu_set_regs(vcpu, regs, values, (unsigned int)n);
	for (int i = 0; i < n && !r; i++)
		r = backend_set_reg(vcpu, regs[i], values[i]);
	return r;
}

HYP_API int hyp_vcpu_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			      unsigned int count)
{
	/* Indexed by register: the values are gathered here and copied out only on success. */
	uint64_t file[HYP_REG_COUNT], rest_values[HYP_REG_COUNT];
	enum hyp_reg rest[HYP_REG_COUNT];
	uint64_t set;
	int n, r;

	if (!vcpu || (count && (!regs || !values)))
		return -EINVAL;
	r = reg_set_of(regs, count, &set);
	if (r)
		return r;
	n = split_regs(vcpu, set, false, rest);
	if (n < 0)
		return n;
	r = backend_get_regs(vcpu, rest, rest_values, n);
	if (r)
		return r;
	for (int i = 0; i < n; i++)
		file[rest[i]] = rest_values[i];
	for (unsigned int reg = 0; reg < HYP_REG_COUNT; reg++) {
		const uint64_t *slot = gp_reg_slot(vcpu, (enum hyp_reg)reg);

		if ((set & (1ull << reg)) && slot)
			file[reg] = *slot;
	}
	for (unsigned int i = 0; i < count; i++)
		values[i] = file[regs[i]];
	return 0;
}

HYP_API int hyp_vcpu_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs,
			      const uint64_t *values, unsigned int count)
{
	uint64_t file[HYP_REG_COUNT], rest_values[HYP_REG_COUNT];
	enum hyp_reg rest[HYP_REG_COUNT];
	uint64_t set;
	int n, r;

	if (!vcpu || (count && (!regs || !values)))
		return -EINVAL;
	r = reg_set_of(regs, count, &set);
	if (r)
		return r;
	for (unsigned int i = 0; i < count; i++) {
		if (regs[i] == HYP_REG_PSTATE && !guest_pstate_valid(values[i]))
			return -EINVAL;
		file[regs[i]] = values[i]; /* in list order: the last value of a register wins */
	}
	n = split_regs(vcpu, set, true, rest);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		rest_values[i] = file[rest[i]];
	/* The backend's registers first: if the backend fails, the register file is untouched. */
	r = backend_set_regs(vcpu, rest, rest_values, n);
	if (r)
		return r;
	for (unsigned int reg = 0; reg < HYP_REG_COUNT; reg++) {
		uint64_t *slot = gp_reg_slot(vcpu, (enum hyp_reg)reg);

		if ((set & (1ull << reg)) && slot)
			*slot = file[reg];
	}
	if (set & (1ull << HYP_REG_PC))
		vcpu->pc_moved = true;
	return 0;
}

HYP_API int hyp_vcpu_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	if (!vcpu || !value || encoding > 0xffff)
		return -EINVAL;
	if (!vcpu->vm->ops.vcpu_get_sysreg)
		return -ENOTSUP;
	return vcpu->vm->ops.vcpu_get_sysreg(vcpu, encoding, value);
}

HYP_API int hyp_vcpu_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	if (!vcpu || encoding > 0xffff)
		return -EINVAL;
	if (!vcpu->vm->ops.vcpu_set_sysreg)
		return -ENOTSUP;
	return vcpu->vm->ops.vcpu_set_sysreg(vcpu, encoding, value);
}

HYP_API int hyp_vcpu_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs)
{
	struct hyp_fp_regs tmp;
	int r;

	if (!vcpu || !regs)
		return -EINVAL;
	if (!vcpu->vm->ops.vcpu_get_fp_regs)
		return -ENOTSUP;
	r = vcpu->vm->ops.vcpu_get_fp_regs(vcpu, &tmp);
	if (!r)
		*regs = tmp;
	return r;
}

HYP_API int hyp_vcpu_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs)
{
	if (!vcpu || !regs)
		return -EINVAL;
	if (!vcpu->vm->ops.vcpu_set_fp_regs)
		return -ENOTSUP;
	return vcpu->vm->ops.vcpu_set_fp_regs(vcpu, regs);
}

HYP_API struct hyp_exit *hyp_vcpu_exit(struct hyp_vcpu *vcpu)
{
	return vcpu ? &vcpu->exit : NULL;
}

HYP_API void hyp_vcpu_log_state(struct hyp_vcpu *vcpu)
{
	if (!vcpu)
		return;
	if (vcpu->vm->ops.vcpu_log_state)
		vcpu->vm->ops.vcpu_log_state(vcpu);
	else
		hyp__log(vcpu->vm, HYP_LOG_WARNING, "vCPU %u: the %s backend has no state report",
			 vcpu->index, vcpu->vm->ops.name);
}

HYP_API int hyp_vcpu_kick(struct hyp_vcpu *vcpu)
{
	const struct hyp_backend_ops *ops;

	if (!vcpu)
		return -EINVAL;
	/* Counted before the flag is raised: a run that returns for this kick takes the flag with
	 * an atomic exchange (report_kick()), so a thread that joins it and then destroys the vCPU
	 * sees the count and waits until we are done with the vCPU and its VM. Only atomics: this
	 * must stay async-signal-safe. */
	atomic_fetch_add(&vcpu->kicks_in_flight, 1);
	ops = &vcpu->vm->ops;
	/* Flag first, then interrupt: a vCPU about to enter sees the flag, one already in the guest
	 * is interrupted by the backend and sees it on the way out. An exchange rather than a
	 * store, so that concurrent kicks form one release sequence. */
	atomic_exchange(&vcpu->kick, true);
	if (ops->vcpu_kick)
		ops->vcpu_kick(vcpu);
	if (ops->vcpu_wake)
		ops->vcpu_wake(vcpu);
	/* The last touch of the vCPU. */
	atomic_fetch_sub(&vcpu->kicks_in_flight, 1);
	return 0;
}

HYP_API int hyp_vcpu_is_powered_on(const struct hyp_vcpu *vcpu)
{
	if (!vcpu)
		return -EINVAL;
	/* A backend with its own PSCI keeps the truth; before it exists (vcpu_init) ours is the
	 * requested initial state. */
	if ((vcpu->vm->ops.flags & HYP_BACKEND_OWN_PSCI) && vcpu->vm->ops.vcpu_power_state &&
	    vcpu->initialised)
		return vcpu->vm->ops.vcpu_power_state((struct hyp_vcpu *)vcpu);
	return hyp_psci_is_on(&vcpu->psci) ? 1 : 0;
}

/* Build the EL1 exception with lib/trap on backends that keep registers in memory. */
int hyp__vcpu_inject_via_regs(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr)
{
	static const uint32_t el1_regs[] = { HYP_SYSREG_VBAR_EL1, HYP_SYSREG_ELR_EL1,
					     HYP_SYSREG_SPSR_EL1, HYP_SYSREG_ESR_EL1,
					     HYP_SYSREG_FAR_EL1 };
	struct hyp_el1_sysregs el1;
	uint64_t *fields[] = { &el1.vbar_el1, &el1.elr_el1, &el1.spsr_el1, &el1.esr_el1,
			       &el1.far_el1 };
	/* PSTATE.M[3:0] = 0 is EL0t: the exception comes from a lower EL. */
	uint64_t esr, sctlr;
	bool from_el0, is_write;
	int r;

	if (!vcpu->regs)
		return -ENOTSUP;
	for (size_t i = 0; i < HYP_ARRAY_SIZE(el1_regs); i++) {
		r = hyp_vcpu_get_sysreg(vcpu, el1_regs[i], fields[i]);
		if (r)
			return r;
	}
	from_el0 = (vcpu->regs->pstate & 0xf) == 0;
	/* A data abort answers the access that just exited: report its direction (ESR.WnR). */
	is_write = (vcpu->exit.reason == HYP_EXIT_MMIO && vcpu->exit.mmio.is_write) ||
		   (vcpu->exit.reason == HYP_EXIT_MEM_FAULT && vcpu->exit.fault.is_write);
	if (kind == HYP_INJECT_UNDEF)
		esr = hyp_trap_undef_esr();
	else
		esr = hyp_trap_ext_abort_esr(kind == HYP_INJECT_DATA_ABORT,
					     kind == HYP_INJECT_DATA_ABORT && is_write, from_el0);
	/* DFSC and IFSC share ISS[5:0]. */
	if (kind != HYP_INJECT_UNDEF && vcpu->inject_fsc_valid)
		esr = (esr & ~(uint64_t)ABT_FSC_MASK) | vcpu->inject_fsc;
	hyp_trap_inject_sync(vcpu->regs, &el1, esr, addr, kind != HYP_INJECT_UNDEF);
	/* Exception entry sets PSTATE.PAN when SCTLR_EL1.SPAN is 0 (Arm ARM D1.10.2, FEAT_PAN);
	 * without FEAT_PAN the bit is RES1 and nothing changes. */
	if (hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &sctlr) == 0 && !(sctlr & SCTLR_SPAN))
		vcpu->regs->pstate |= PSTATE_PAN;
	for (size_t i = 1; i < HYP_ARRAY_SIZE(el1_regs); i++) {
		r = hyp_vcpu_set_sysreg(vcpu, el1_regs[i], *fields[i]);
		if (r)
			return r;
	}
	return 0;
}

int hyp__vcpu_inject_abort_fsc(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr,
			       int fsc)
{
	int r;

	vcpu->inject_fsc_valid = fsc >= 0;
	vcpu->inject_fsc = (uint8_t)(fsc & ABT_FSC_MASK);
	r = hyp_vcpu_inject_exception(vcpu, kind, addr);
	vcpu->inject_fsc_valid = false;
	return r;
}

HYP_API int hyp_vcpu_inject_exception(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind,
				      uint64_t addr)
{
	int r;

	if (!vcpu || kind < HYP_INJECT_UNDEF || kind > HYP_INJECT_PREFETCH_ABORT)
		return -EINVAL;
	if (vcpu->vm->ops.vcpu_inject)
		r = vcpu->vm->ops.vcpu_inject(vcpu, kind, addr);
	else
		r = hyp__vcpu_inject_via_regs(vcpu, kind, addr);
	if (!r) {
		/* The exception replaces the instruction's completion. */
		vcpu->completion = HYP_COMPLETE_NONE;
		vcpu->pc_moved = false;
	}
	return r;
}

HYP_API void *hyp_backend_vcpu_state(struct hyp_vcpu *vcpu)
{
	return vcpu ? vcpu->backend_state : NULL;
}

HYP_API int hyp_backend_vcpu_set_gp_regs(struct hyp_vcpu *vcpu, struct hyp_gp_regs *regs)
{
	if (!vcpu || !regs)
		return -EINVAL;
	vcpu->regs = regs;
	return 0;
}

HYP_API uint64_t hyp_backend_vcpu_mpidr(const struct hyp_vcpu *vcpu)
{
	return vcpu ? vcpu->psci.mpidr : 0;
}

HYP_API bool hyp_backend_vcpu_kick_pending(const struct hyp_vcpu *vcpu)
{
	/* A system event on another vCPU stops this one as a kick does. */
	return vcpu && (atomic_load(&((struct hyp_vcpu *)vcpu)->kick) ||
			atomic_load(&vcpu->vm->system_event));
}

HYP_API bool hyp_backend_vcpu_should_wake(const struct hyp_vcpu *vcpu)
{
	if (!vcpu)
		return true;
	return hyp_psci_is_on(&vcpu->psci) || atomic_load(&((struct hyp_vcpu *)vcpu)->kick) ||
	       atomic_load(&vcpu->vm->system_event);
}
