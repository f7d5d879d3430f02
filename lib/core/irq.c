/* SPDX-License-Identifier: MIT */
/* Interrupt injection: validate INTIDs once here, then hand over to the backend's GIC. */
#include "internal.h"

static int inject(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
		  uint32_t intid, bool level)
{
	if (vm->irqchip == HYP_IRQCHIP_NONE || !vm->ops.inject_irq)
		return -ENOTSUP;
	return vm->ops.inject_irq(vm, vcpu, kind, intid, level);
}

HYP_API int hyp_vm_set_spi(struct hyp_vm *vm, uint32_t intid, bool level)
{
	if (!vm || intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	return inject(vm, NULL, HYP_BACKEND_IRQ_SPI, intid, level);
}

HYP_API int hyp_vm_claim_spi(struct hyp_vm *vm, uint32_t intid)
{
	uint32_t cur;

	if (!vm || intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	cur = atomic_load_explicit(&vm->max_claimed_spi, memory_order_relaxed);
	while (cur < intid &&
	       !atomic_compare_exchange_weak_explicit(&vm->max_claimed_spi, &cur, intid,
						      memory_order_relaxed, memory_order_relaxed))
		;
	return 0;
}

HYP_API int hyp_vcpu_set_ppi(struct hyp_vcpu *vcpu, uint32_t intid, bool level)
{
	if (!vcpu || intid < HYP_INTID_PPI_BASE || intid >= HYP_INTID_SPI_BASE)
		return -EINVAL;
	return inject(vcpu->vm, vcpu, HYP_BACKEND_IRQ_PPI, intid, level);
}

HYP_API int hyp_vcpu_raise_sgi(struct hyp_vcpu *vcpu, uint32_t intid)
{
	if (!vcpu || intid >= HYP_INTID_PPI_BASE)
		return -EINVAL;
	return inject(vcpu->vm, vcpu, HYP_BACKEND_IRQ_SGI, intid, true);
}

HYP_API int hyp_vm_assign_irq(struct hyp_vm *vm, uint32_t host_irq, uint32_t intid)
{
	if (!vm || intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI ||
	    (host_irq && (host_irq < HYP_INTID_SPI_BASE || host_irq > HYP_INTID_MAX_SPI)))
		return -EINVAL;
	if (vm->irqchip == HYP_IRQCHIP_NONE || !vm->ops.assign_irq)
		return -ENOTSUP;
	return vm->ops.assign_irq(vm, host_irq, intid);
}

HYP_API int hyp_vm_add_irqfd(struct hyp_vm *vm, uint32_t intid, int fd)
{
	if (!vm || fd < 0 || intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	if (vm->irqchip == HYP_IRQCHIP_NONE || !vm->ops.irqfd)
		return -ENOTSUP;
	return vm->ops.irqfd(vm, intid, fd, true);
}

HYP_API int hyp_vm_remove_irqfd(struct hyp_vm *vm, uint32_t intid, int fd)
{
	if (!vm || fd < 0 || intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	if (vm->irqchip == HYP_IRQCHIP_NONE || !vm->ops.irqfd)
		return -ENOTSUP;
	return vm->ops.irqfd(vm, intid, fd, false);
}

HYP_API int hyp_vm_host_irq(struct hyp_vm *vm, uint32_t host_irq)
{
	if (!vm)
		return -EINVAL;
	if (vm->irqchip == HYP_IRQCHIP_NONE || !vm->ops.host_irq)
		return -ENOTSUP;
	return vm->ops.host_irq(vm, host_irq);
}
