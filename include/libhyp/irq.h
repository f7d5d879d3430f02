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

/**
 * hyp_vm_assign_irq() - give the VM a host interrupt: host interrupt @host_irq is delivered to
 * the guest as its SPI @intid, and the guest's deactivation of @intid deactivates @host_irq in
 * the hardware, with no exit (GICv3 list registers with the HW bit). The way to pass a device
 * through (its MMIO mapped with hyp_vm_map(), its interrupt assigned here).
 * @vm: the VM (its GIC must be libhyp's).
 * @host_irq: el2: a physical SPI INTID, 32..1019, of the GIC the firmware owns. 0 takes the
 *	      assignment of @intid away.
 * @intid: the VM's SPI, 32..1019, within the SPIs its GIC implements.
 *
 * el2: when the firmware's interrupt handler takes @host_irq it must drop its priority only
 * (run its CPU interface with ICC_CTLR_EL1.EOImode = 1 and write ICC_EOIR1_EL1, not ICC_DIR_EL1)
 * and call hyp_vm_host_irq(): the physical interrupt then stays active until the guest is done
 * with it, so a level-sensitive device cannot interrupt again before the guest served it. Route
 * the physical SPI to the CPU that runs the vCPU @intid is routed to, or each one costs a kick.
 * If the VM deactivates @intid by other means (GICD_ICACTIVER), when the assignment is taken
 * away, and when the VM is destroyed, libhyp deactivates an active @host_irq itself (ICC_DIR_EL1
 * on the calling CPU). At most HYP_MAX_ASSIGNED_IRQS assignments per VM.
 *
 * Return: 0; -EINVAL for NULL, an INTID out of range, or (@host_irq 0) an @intid not assigned;
 * -EBUSY if @intid or @host_irq is assigned already; -ENOSPC past HYP_MAX_ASSIGNED_IRQS;
 * -ENOTSUP on kvm and mock, and for a VM without libhyp's GIC.
 */
HYP_API int hyp_vm_assign_irq(struct hyp_vm *vm, uint32_t host_irq, uint32_t intid);

/** The most host interrupts hyp_vm_assign_irq() gives one VM. */
#define HYP_MAX_ASSIGNED_IRQS 32u

/**
 * hyp_vm_host_irq() - host interrupt @host_irq, assigned to @vm with hyp_vm_assign_irq(), was
 * taken (el2: acknowledged and its priority dropped by the firmware's handler): make the VM's
 * SPI pending. Safe from any CPU, at EL2 with interrupts masked (the firmware's handler).
 *
 * Return: 0; -ENOENT if @host_irq is not assigned to @vm (the firmware should deactivate it
 * itself); -EINVAL for NULL; -ENOTSUP as hyp_vm_assign_irq().
 */
HYP_API int hyp_vm_host_irq(struct hyp_vm *vm, uint32_t host_irq);

/**
 * hyp_vm_add_irqfd() - let a write to an eventfd raise an SPI, from any thread, without a call
 * into the library (a device's I/O thread completing a request).
 * @vm: the VM.
 * @intid: the SPI (HYP_INTID_SPI_BASE..HYP_INTID_MAX_SPI), within the GIC's lines
 *	   (hyp_vm_claim_spi()).
 * @fd: an eventfd(2). Each write makes the SPI pending as an edge: a rising and a falling edge of
 *	its line. Use it for SPIs the guest configures as edge-triggered (say so in the device
 *	tree); a level-triggered SPI sees a pulse it may miss. Do not also drive the line with
 *	hyp_vm_set_spi(). The library neither duplicates nor closes @fd.
 *
 * On kvm it is KVM_IRQFD (the in-kernel GIC takes the write: the interrupt reaches a vCPU in the
 * guest without the VMM). The GIC is set up by the call if it was not yet (as by the first
 * injection): register after the last vCPU is created. May be called while vCPUs run.
 * Elsewhere -ENOTSUP: drive the line with hyp_vm_set_spi() instead (it may be called from any
 * thread).
 *
 * Return: 0; -EINVAL for NULL @vm, @fd < 0 or @intid not an SPI the GIC has; -ENOTSUP; a backend
 * error (kvm: -EBUSY if @fd is registered already or the GIC could not be set up, -EBADF or
 * -EINVAL for an @fd that is not an eventfd).
 */
HYP_API int hyp_vm_add_irqfd(struct hyp_vm *vm, uint32_t intid, int fd);

/**
 * hyp_vm_remove_irqfd() - undo hyp_vm_add_irqfd(@vm, @intid, @fd). The VM's end removes them
 * all.
 *
 * Return: 0 (on kvm also when no such registration exists); -EINVAL for NULL @vm or a bad
 * @intid; -ENOTSUP.
 */
HYP_API int hyp_vm_remove_irqfd(struct hyp_vm *vm, uint32_t intid, int fd);

HYP_END_DECLS

#endif /* LIBHYP_IRQ_H */
