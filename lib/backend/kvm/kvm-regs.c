/* SPDX-License-Identifier: MIT */
/*
 * The kvm backend's register access: libhyp's register names (enum hyp_reg, HYP_SYSREG()
 * encodings, struct hyp_fp_regs) mapped to KVM_{GET,SET}_ONE_REG ids, one ioctl per register
 * (arm64 KVM has no multi-register ioctl). Documentation/virt/kvm/api.rst, "KVM_SET_ONE_REG",
 * gives the id layout: KVM_REG_ARM_CORE for struct kvm_regs offsets, KVM_REG_ARM64_SYSREG for the
 * op0/op1/CRn/CRm/op2 encoding.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <libhyp/backend.h>
#include <libhyp/kvm.h>

#include "internal.h"
#include "kvm-internal.h"

uint64_t hyp__kvm_core_reg_id(size_t offset)
{
	return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(uint32_t));
}

int hyp__kvm_set_one_reg(struct kvm_vcpu_state *kv, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	return ioctl(kv->fd, KVM_SET_ONE_REG, &reg) ? sys_err() : 0;
}

int hyp__kvm_get_one_reg(struct kvm_vcpu_state *kv, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)value };

	return ioctl(kv->fd, KVM_GET_ONE_REG, &reg) ? sys_err() : 0;
}

/* The SIMD&FP registers through KVM_REG_ARM_CORE's fp_regs: 128-bit V registers, 32-bit FPSR
 * and FPCR. With SVE they live in the Z registers and these ids are refused: -ENOTSUP. */
static uint64_t fp_reg_id(size_t offset, uint64_t size)
{
	return KVM_REG_ARM64 | size | KVM_REG_ARM_CORE | (offset / sizeof(uint32_t));
}

static int kvm_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs, bool write)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	unsigned long request = write ? KVM_SET_ONE_REG : KVM_GET_ONE_REG;
	uint32_t fpsr = (uint32_t)regs->fpsr, fpcr = (uint32_t)regs->fpcr;
	struct kvm_one_reg reg;

	if (k->cpu_features & HYP_KVM_CPU_SVE)
		return -ENOTSUP;
	for (unsigned n = 0; n < 32; n++) {
		reg = (struct kvm_one_reg){ .id = fp_reg_id(offsetof(struct kvm_regs,
								     fp_regs.vregs[n]),
							    KVM_REG_SIZE_U128),
					    .addr = (uint64_t)(uintptr_t)regs->v[n] };
		if (ioctl(kv->fd, request, &reg))
			return sys_err();
	}
	reg = (struct kvm_one_reg){ .id = fp_reg_id(offsetof(struct kvm_regs, fp_regs.fpsr),
						    KVM_REG_SIZE_U32),
				    .addr = (uint64_t)(uintptr_t)&fpsr };
	if (ioctl(kv->fd, request, &reg))
		return sys_err();
	reg = (struct kvm_one_reg){ .id = fp_reg_id(offsetof(struct kvm_regs, fp_regs.fpcr),
						    KVM_REG_SIZE_U32),
				    .addr = (uint64_t)(uintptr_t)&fpcr };
	if (ioctl(kv->fd, request, &reg))
		return sys_err();
	regs->fpsr = fpsr;
	regs->fpcr = fpcr;
	return 0;
}

int hyp__kvm_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs)
{
	return kvm_fp_regs(vcpu, regs, false);
}

int hyp__kvm_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs)
{
	struct hyp_fp_regs copy = *regs;

	return kvm_fp_regs(vcpu, &copy, true);
}

static int core_reg_offset(enum hyp_reg reg, size_t *offset)
{
	if (reg <= HYP_REG_X30)
		*offset = offsetof(struct kvm_regs, regs.regs[0]) + (size_t)reg * sizeof(uint64_t);
	else if (reg == HYP_REG_SP_EL0)
		*offset = offsetof(struct kvm_regs, regs.sp);
	else if (reg == HYP_REG_PC)
		*offset = offsetof(struct kvm_regs, regs.pc);
	else if (reg == HYP_REG_PSTATE)
		*offset = offsetof(struct kvm_regs, regs.pstate);
	else if (reg == HYP_REG_SP_EL1)
		*offset = offsetof(struct kvm_regs, sp_el1);
	else if (reg == HYP_REG_ELR_EL1)
		*offset = offsetof(struct kvm_regs, elr_el1);
	else if (reg == HYP_REG_SPSR_EL1)
		*offset = offsetof(struct kvm_regs, spsr[KVM_SPSR_EL1]);
	else
		return -EINVAL;
	return 0;
}

/*
 * PC and KVM's MMIO retirement: after KVM_EXIT_MMIO, the next KVM_RUN first steps the guest past
 * the MMIO instruction (kvm_handle_mmio_return()), even if userspace has set the PC meanwhile. A
 * PC set while such a retirement is pending is therefore stored 4 lower, and reads add the bias
 * back, so the guest resumes exactly at the PC the VMM chose, whenever it chose it.
 */
int hyp__kvm_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value)
{
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	size_t offset;
	int r = core_reg_offset(reg, &offset);

	if (!r)
		r = hyp__kvm_get_one_reg(kv, hyp__kvm_core_reg_id(offset), value);
	if (!r && reg == HYP_REG_PC)
		*value += kv->pc_bias;
	return r;
}

int hyp__kvm_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value)
{
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	uint64_t bias = 0;
	size_t offset;
	int r = core_reg_offset(reg, &offset);

	if (r)
		return r;
	if (reg == HYP_REG_PC && kv->run->exit_reason == KVM_EXIT_MMIO)
		bias = 4;
	r = hyp__kvm_set_one_reg(kv, hyp__kvm_core_reg_id(offset), value - bias);
	if (!r && reg == HYP_REG_PC)
		kv->pc_bias = bias;
	return r;
}

/*
 * The ONE_REG id of a system register. The EL1 banked registers KVM keeps among its core
 * registers, and the timer registers whose KVM ids have CNT and CVAL swapped (a historical ABI
 * accident, see KVM_REG_ARM_TIMER_CNT in asm/kvm.h), need translating.
 */
static int sysreg_id(uint32_t encoding, uint64_t *id, enum hyp_reg *core)
{
	const uint64_t base = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG;

	*core = HYP_REG_COUNT;
	switch (encoding) {
	case HYP_SYSREG_SP_EL1:
		*core = HYP_REG_SP_EL1;
		return 0;
	case HYP_SYSREG_ELR_EL1:
		*core = HYP_REG_ELR_EL1;
		return 0;
	case HYP_SYSREG_SPSR_EL1:
		*core = HYP_REG_SPSR_EL1;
		return 0;
	case HYP_SYSREG_SP_EL0:
		*core = HYP_REG_SP_EL0;
		return 0;
	case HYP_SYSREG_CNTVCT_EL0:
		*id = KVM_REG_ARM_TIMER_CNT;
		return 0;
	case HYP_SYSREG_CNTV_CVAL_EL0:
		*id = KVM_REG_ARM_TIMER_CVAL;
		return 0;
	default:
		*id = base | encoding;
		return 0;
	}
}

int hyp__kvm_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	enum hyp_reg core;
	uint64_t id;
	int r;

	sysreg_id(encoding, &id, &core);
	if (core != HYP_REG_COUNT)
		return hyp__kvm_get_reg(vcpu, core, value);
	r = hyp__kvm_get_one_reg(vcpu_state(vcpu), id, value);
	/* KVM answers an id it does not hold with ENOENT, or EINVAL for one outside its tables. */
	return r == -HYP_EHOST(ENOENT) || r == -HYP_EHOST(EINVAL) ? -ENOENT : r;
}

int hyp__kvm_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	enum hyp_reg core;
	uint64_t id;
	int r;

	sysreg_id(encoding, &id, &core);
	if (core != HYP_REG_COUNT)
		return hyp__kvm_set_reg(vcpu, core, value);
	r = hyp__kvm_set_one_reg(vcpu_state(vcpu), id, value);
	return r == -HYP_EHOST(ENOENT) ? -ENOENT : r;
}
