/* SPDX-License-Identifier: MIT */
/*
 * Interrupt injection. Works the same whether the VM uses the backend's own GICv3 or libhyp's.
 * INTIDs follow GICv3: SGIs 0-15, PPIs 16-31, SPIs 32-1019.
 */
#ifndef LIBHYP_IRQ_H
#define LIBHYP_IRQ_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** The first SPI INTID. hyp_vm_set_spi() takes INTIDs, so the PL011's "SPI 1" is 33. */
#define HYP_INTID_SPI_BASE 32u
#define HYP_INTID_PPI_BASE 16u
#define HYP_INTID_MAX_SPI 1019u

/**
 * hyp_vm_set_spi() - drive a shared peripheral interrupt line.
 * @vm: the VM.
 * @intid: the SPI's INTID, 32..1019.
 * @level: true to assert, false to deassert (level-sensitive line; for edge-triggered SPIs assert
 *	   then deassert).
 *
 * Safe from any thread.
 *
 * Return: 0; -EINVAL for NULL or an INTID that is not an SPI the VM's GIC implements; -ENOTSUP if
 * the VM has no interrupt controller; a backend error.
 */
HYP_API int hyp_vm_set_spi(struct hyp_vm *vm, uint32_t intid, bool level);

/**
 * hyp_vm_claim_spi() - say that an SPI line will be used, before the VM first runs.
 * @vm: the VM.
 * @intid: the SPI's INTID, 32..1019.
 *
 * A backend that sizes its interrupt controller when the VM first runs (kvm: the in-kernel
 * GICv3's line count, fixed by KVM_DEV_ARM_VGIC_CTRL_INIT) makes it just big enough for the
 * lines claimed, rounded up to a multiple of 32 (at least 64 lines, SPIs 32..63), unless
 * struct hyp_kvm_config.nr_irqs asks for a size. A guest programs fewer GIC registers for a
 * smaller GIC. The device models (libhyp/dev.h) claim their lines when created; a VMM driving
 * other lines with hyp_vm_set_spi() claims them too (or sets nr_irqs). A claim after the GIC is
 * sized changes nothing (hyp_vm_set_spi() then fails with -EINVAL for a line beyond it). Other
 * backends implement every SPI and ignore claims. Safe from any thread.
 *
 * Return: 0; -EINVAL for NULL or an INTID that is not an SPI.
 */
HYP_API int hyp_vm_claim_spi(struct hyp_vm *vm, uint32_t intid);

/**
 * hyp_vcpu_set_ppi() - drive a private peripheral interrupt line of one vCPU.
 * @vcpu: the target vCPU.
 * @intid: 16..31.
 * @level: line level.
 *
 * Return: as hyp_vm_set_spi().
 */
HYP_API int hyp_vcpu_set_ppi(struct hyp_vcpu *vcpu, uint32_t intid, bool level);

/**
 * hyp_vcpu_raise_sgi() - make a software-generated interrupt pending on one vCPU, as if another
 * CPU had written ICC_SGI1R_EL1.
 * @vcpu: the target vCPU.
 * @intid: 0..15.
 *
 * Return: as hyp_vm_set_spi(); -ENOTSUP on a backend whose GIC does not let the host inject SGIs
 * (KVM: guests send SGIs themselves).
 */
HYP_API int hyp_vcpu_raise_sgi(struct hyp_vcpu *vcpu, uint32_t intid);

HYP_END_DECLS

#endif /* LIBHYP_IRQ_H */
