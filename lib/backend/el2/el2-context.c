/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend's vCPU context: a vCPU's EL1 system registers and FP/SIMD registers live in the
 * hardware of the physical CPU it is loaded on, and in memory otherwise. This file switches them
 * (load a vCPU, saving the one it displaces) and reads and writes registers wherever they are.
 */
#include "hyp_string.h"

#include "backend/el2/el2-state.h"

static void save_el1(uint64_t *el1)
{
#define X(name, asmname) el1[EL1_##name] = read_sysreg(asmname);
	EL1_SYSREGS(X)
#undef X
}

static void load_el1(const uint64_t *el1)
{
#define X(name, asmname) write_sysreg(el1[EL1_##name], asmname);
	EL1_SYSREGS(X)
#undef X
}

void hyp__el2_reset_state(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);

	memset(&v->ctx.regs, 0, sizeof(v->ctx.regs));
	v->ctx.regs.pstate = HYP_PSTATE_EL1H_DAIF;
	memset(v->el1, 0, sizeof(v->el1));
	v->el1[EL1_SCTLR_EL1] = SCTLR_EL1_RESET;
	memset(v->fp, 0, sizeof(v->fp));
}

/* Save the state of the vCPU loaded on @cpu (if any) and forget it. */
void hyp__el2_unload_cpu(struct hyp_el2_cpu *cpu)
{
	struct el2_vcpu *prev = (struct el2_vcpu *)(uintptr_t)cpu->opaque[CPU_LOADED_VCPU];

	if (!prev)
		return;
	save_el1(prev->el1);
	hyp__el2_save_fp(prev->fp);
	hyp__el2_irq_put(prev);
	atomic_store(&prev->loaded_on, NULL);
	cpu->opaque[CPU_LOADED_VCPU] = 0;
}

/* Make @vcpu the one whose state the calling CPU's hardware holds. */
int hyp__el2_load_vcpu(struct hyp_vcpu *vcpu, struct hyp_el2_cpu *cpu)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *elsewhere = atomic_load(&v->loaded_on);

	if (elsewhere && elsewhere != cpu) {
		hyp_vm_log(hyp_vcpu_vm(vcpu), HYP_LOG_ERROR,
			   "el2: vCPU %u is pinned to another physical CPU", hyp_vcpu_index(vcpu));
		return -EBUSY;
	}
	/* FP/SIMD must be accessible at EL2 to switch it. */
	write_sysreg(CPTR_EL2_VALUE, cptr_el2);
	isb();
	hyp__el2_unload_cpu(cpu);
	write_sysreg(m->hcr, hcr_el2);
	write_sysreg(m->vtcr, vtcr_el2);
	write_sysreg(m->vttbr, vttbr_el2);
	write_sysreg(m->vpidr, vpidr_el2);
	write_sysreg(v->vmpidr, vmpidr_el2);
	write_sysreg(CNTHCTL_EL2_VALUE, cnthctl_el2);
	write_sysreg((read_sysreg(mdcr_el2) & 0x1f) | MDCR_EL2_TRAPS, mdcr_el2);
	load_el1(v->el1);
	hyp__el2_load_fp(v->fp);
	cpu->opaque[CPU_LOADED_VCPU] = (uint64_t)(uintptr_t)v;
	/* At EL2, MPIDR_EL1 reads the physical CPU's (VMPIDR_EL2 only affects EL1). */
	atomic_store_explicit(&v->loaded_mpidr, read_sysreg(mpidr_el1), memory_order_relaxed);
	atomic_store(&v->loaded_on, cpu);
	/* CNTVOFF_EL2, the virtual timer, the GIC's virtual CPU interface. */
	hyp__el2_irq_load(v);
	isb();
	return 0;
}

/* Which EL1 register an encoding names, or -1. */
static int el1_index(uint32_t encoding)
{
	switch (encoding) {
#define X(name, asmname)                                                                           \
	case HYP_SYSREG_##name:                                                                    \
		return EL1_##name;
		EL1_SYSREGS(X)
#undef X
	default:
		return -1;
	}
}

/* Where a loaded vCPU's register lives: the calling CPU's hardware (1), memory (0), or another
 * CPU's hardware (-EBUSY). */
static int state_location(struct hyp_vcpu *vcpu)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct hyp_el2_cpu *cpu = atomic_load(&el2_vcpu(vcpu)->loaded_on);

	if (!cpu)
		return 0;
	return cpu == this_cpu(m) ? 1 : -EBUSY;
}

int hyp__el2_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int index = el1_index(encoding), where;

	switch (encoding) {
	case HYP_SYSREG_MPIDR_EL1:
		*value = v->vmpidr;
		return 0;
	case HYP_SYSREG_MIDR_EL1:
		*value = el2_vm(vcpu->vm)->vpidr;
		return 0;
	default:
		break;
	}
	if (encoding == HYP_SYSREG_CNTV_CTL_EL0 || encoding == HYP_SYSREG_CNTV_CVAL_EL0) {
		where = state_location(vcpu);
		return where < 0 ? where : hyp__el2_timer_reg(v, encoding, value, false);
	}
	if (index < 0)
		return -ENOENT;
	where = state_location(vcpu);
	if (where < 0)
		return where;
	if (where) {
		uint64_t el1[EL1_NR_SYSREGS];

		/* Reading every register to return one keeps the accessor table-driven; this
		 * is not a hot path. */
		save_el1(el1);
		*value = el1[index];
	} else {
		*value = v->el1[index];
	}
	return 0;
}

/* The FP save area has struct hyp_fp_regs' layout (entry.S: V0-V31, FPSR, FPCR). */
_Static_assert(sizeof(struct hyp_fp_regs) == HYP_EL2_FP_AREA_SIZE, "FP area layout");

int hyp__el2_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	if (where) {
		uint8_t area[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));

		hyp__el2_save_fp(area);
		memcpy(regs, area, sizeof(area));
	} else {
		memcpy(regs, v->fp, sizeof(v->fp));
	}
	return 0;
}

int hyp__el2_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	if (where) {
		uint8_t area[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));

		memcpy(area, regs, sizeof(area));
		hyp__el2_load_fp(area);
	} else {
		memcpy(v->fp, regs, sizeof(v->fp));
	}
	return 0;
}

int hyp__el2_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int index = el1_index(encoding), where;

	if (encoding == HYP_SYSREG_MPIDR_EL1 || encoding == HYP_SYSREG_MIDR_EL1)
		return -EPERM;
	if (encoding == HYP_SYSREG_CNTV_CTL_EL0 || encoding == HYP_SYSREG_CNTV_CVAL_EL0) {
		where = state_location(vcpu);
		return where < 0 ? where : hyp__el2_timer_reg(v, encoding, &value, true);
	}
	if (index < 0)
		return -ENOENT;
	where = state_location(vcpu);
	if (where < 0)
		return where;
	if (where) {
		uint64_t el1[EL1_NR_SYSREGS];

		save_el1(el1);
		el1[index] = value;
		load_el1(el1);
		isb();
	} else {
		v->el1[index] = value;
	}
	return 0;
}

/* The core registers the library does not serve from the register file: the EL1 banked ones,
 * kept with the other EL1 system registers. */
static int banked_index(enum hyp_reg reg)
{
	switch (reg) {
	case HYP_REG_SP_EL1:
		return EL1_SP_EL1;
	case HYP_REG_ELR_EL1:
		return EL1_ELR_EL1;
	case HYP_REG_SPSR_EL1:
		return EL1_SPSR_EL1;
	default:
		return -1;
	}
}

/* One save (and for a write one load) of a loaded vCPU's EL1 state serves the whole list, where
 * the single-register accessors pay that per register. */
int hyp__el2_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
		      unsigned int count)
{
	uint64_t live[EL1_NR_SYSREGS];
	const uint64_t *el1 = el2_vcpu(vcpu)->el1;
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	for (unsigned int i = 0; i < count; i++)
		if (banked_index(regs[i]) < 0)
			return -EINVAL;
	if (where) {
		save_el1(live);
		el1 = live;
	}
	for (unsigned int i = 0; i < count; i++)
		values[i] = el1[banked_index(regs[i])];
	return 0;
}

int hyp__el2_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
		      unsigned int count)
{
	uint64_t live[EL1_NR_SYSREGS];
	uint64_t *el1 = el2_vcpu(vcpu)->el1;
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	for (unsigned int i = 0; i < count; i++)
		if (banked_index(regs[i]) < 0)
			return -EINVAL;
	if (where) {
		save_el1(live);
		el1 = live;
	}
	for (unsigned int i = 0; i < count; i++)
		el1[banked_index(regs[i])] = values[i];
	if (where) {
		load_el1(live);
		isb();
	}
	return 0;
}
