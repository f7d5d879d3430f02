/* SPDX-License-Identifier: MIT */
/* VM objects: creation from a sized config, backend selection, capabilities, teardown. */
#include "hyp_string.h"

#include "internal.h"

bool hyp__vm_reconfigure_begin(struct hyp_vm *vm)
{
	for (;;) {
		uint32_t idle = 0;

		if (atomic_compare_exchange_strong(&vm->users, &idle, HYP_VM_RECONFIGURING))
			return true;
		/* Running vCPUs: the caller's mistake, -EBUSY. Another thread reconfiguring
		 * (creating vCPUs in parallel, registering handlers), or holds of the memory map
		 * (hyp_vm_hold_memory()): wait for them, they are short. */
		if (idle & HYP_VM_VCPUS_MASK)
			return false;
		hyp__cpu_relax();
	}
}

void hyp__vm_reconfigure_end(struct hyp_vm *vm)
{
	/* The handler tables may have moved: no vCPU may keep pointing into them. No vCPU runs
	 * now (we hold the reconfiguring bit), so plain stores do. */
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

		if (vcpu) {
			vcpu->mmio_hint = NULL;
			vcpu->smccc_hint = NULL;
		}
	}
	/* Clear only our bit: a hyp_vcpu_run() that raced with us has added and will remove its
	 * own count. */
	atomic_fetch_and(&vm->users, ~(HYP_VM_RECONFIGURING | HYP_VM_EXIT_RECONFIGURING));
}

struct hyp_vcpu *hyp__vm_vcpu(const struct hyp_vm *vm, uint32_t index)
{
	if (index >= vm->max_vcpus)
		return NULL;
	return atomic_load_explicit(&vm->vcpus[index], memory_order_acquire);
}

static struct hyp_psci_cpu *psci_cpu_at(void *opaque, uint32_t i)
{
	struct hyp_vcpu *vcpu = hyp__vm_vcpu(opaque, i);

	return vcpu ? &vcpu->psci : NULL;
}

/* PSCI CPU_ON may only start a CPU where the guest has executable memory, and at an A64
 * instruction boundary (PSCI 1.1 section 5.6: INVALID_ADDRESS otherwise). */
static bool psci_entry_valid(void *opaque, uint64_t entry)
{
	const struct hyp_mem_region *region = hyp__mem_find(opaque, entry);

	return region && (region->flags & HYP_MEM_EXEC) && !(entry & 3);
}

static int validate_backend_ops(const struct hyp_backend_ops *ops)
{
	if (ops->version == 0 || ops->size < offsetof(struct hyp_backend_ops, vcpu_complete) ||
	    !ops->name)
		return -EINVAL;
	if (!ops->vm_init || !ops->vcpu_init || !ops->vcpu_enter)
		return -EINVAL;
	return 0;
}

static int select_backend(const struct hyp_vm_config *cfg, const struct hyp_backend_ops **ret)
{
	const struct hyp_backend_ops *ops;
	int r;

	if (cfg->backend_ops) {
		r = validate_backend_ops(cfg->backend_ops);
		if (r)
			return r;
		*ret = cfg->backend_ops;
		return 0;
	}
	if (!cfg->backend || !strcmp(cfg->backend, "auto")) {
		ops = hyp__builtin_backend_auto();
		if (!ops)
			return -ENODEV;
		*ret = ops;
		return 0;
	}
	ops = hyp__builtin_backend(cfg->backend);
	if (!ops)
		return -ENOENT;
	/* Named: not probed. Its vm_init finds out anyway (kvm opening its device, el2 reading
	 * CurrentEL) and says -ENODEV; a probe first would only repeat that work (a system call
	 * for kvm, and of /dev/kvm even when the configuration names another path). */
	*ret = ops;
	return 0;
}

static void copy_ops(struct hyp_backend_ops *dst, const struct hyp_backend_ops *src)
{
	size_t n = src->size < sizeof(*dst) ? src->size : sizeof(*dst);

	/* Methods the backend was compiled without read as NULL, so every call site only has to
	 * test the pointer. */
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, n);
}

HYP_API int hyp_vm_create(const struct hyp_vm_config *config, struct hyp_vm **ret)
{
	const struct hyp_backend_ops *ops;
	struct hyp_alloc_ops alloc;
	struct hyp_vm_config cfg;
	size_t state_offset, total;
	struct hyp_vm *vm;
	int r;

	if (!config || !ret)
		return -EINVAL;
	r = hyp__copy_sized_config(&cfg, sizeof(cfg),
				   offsetof(struct hyp_vm_config, gicr_base) +
					   sizeof(cfg.gicr_base),
				   config, config->size);
	if (r)
		return r;
	if ((cfg.flags & ~(uint32_t)HYP_VM_ABORT_UNCLAIMED) || cfg.irqchip > HYP_IRQCHIP_NONE)
		return -EINVAL;
	if (cfg.ipa_bits == 0)
		cfg.ipa_bits = HYP_DEFAULT_IPA_BITS;
	if (cfg.ipa_bits < 32 || cfg.ipa_bits > 52)
		return -EINVAL;
	if (cfg.dirty_ring_entries && (cfg.dirty_ring_entries & (cfg.dirty_ring_entries - 1) ||
				       cfg.dirty_ring_entries < HYP_DIRTY_RING_MIN_ENTRIES ||
				       cfg.dirty_ring_entries > HYP_DIRTY_RING_MAX_ENTRIES))
		return -EINVAL;
	if (cfg.max_vcpus == 0)
		cfg.max_vcpus = HYP_DEFAULT_MAX_VCPUS;
	if (cfg.max_vcpus > HYP_MAX_VCPUS)
		return -EINVAL;
	if (!cfg.gicd_base)
		cfg.gicd_base = HYP_DEFAULT_GICD_BASE;
	if (!cfg.gicr_base)
		cfg.gicr_base = HYP_DEFAULT_GICR_BASE;
	r = hyp__gic_layout_check(cfg.gicd_base, cfg.gicr_base, cfg.max_vcpus, cfg.ipa_bits);
	if (r)
		return r;
	if (cfg.log_priority == 0)
		cfg.log_priority = HYP_LOG_WARNING;
	if (!hyp__log_priority_valid(cfg.log_priority))
		return -EINVAL;
	if (cfg.alloc) {
		if (!cfg.alloc->alloc || !cfg.alloc->free)
			return -EINVAL;
		alloc = *cfg.alloc;
	} else {
#if defined(HYP_HOSTED) && HYP_HOSTED
		alloc = hyp__malloc_ops;
#else
		return -EINVAL; /* no heap at EL2: the firmware must say where memory comes from */
#endif
	}
	r = select_backend(&cfg, &ops);
	if (r)
		return r;

	state_offset = (sizeof(*vm) + 15) & ~(size_t)15;
	total = state_offset + ops->vm_state_size;
	vm = alloc.alloc(alloc.opaque, total, 16);
	if (!vm)
		return -ENOMEM;
	memset(vm, 0, total);
	copy_ops(&vm->ops, ops);
	vm->builtin_backend = !cfg.backend_ops;
	vm->alloc = alloc;
	vm->alloc_size = total;
	vm->backend_state = (char *)vm + state_offset;
	vm->flags = cfg.flags;
	vm->log_fn = cfg.log_fn;
	vm->log_opaque = cfg.log_opaque;
	vm->log_priority = cfg.log_priority;
	vm->ipa_bits = cfg.ipa_bits;
	vm->max_vcpus = cfg.max_vcpus;
	vm->irqchip = cfg.irqchip;
	vm->gicd_base = cfg.gicd_base;
	vm->gicr_base = cfg.gicr_base;
	vm->dirty_ring_entries = cfg.dirty_ring_entries;
	vm->psci.cpu_at = psci_cpu_at;
	vm->psci.cpu_count = vm->max_vcpus;
	vm->psci.entry_valid = psci_entry_valid;
	vm->psci.opaque = vm;

	vm->vcpus = hyp__alloc(vm, sizeof(*vm->vcpus) * vm->max_vcpus, 16);
	if (!vm->vcpus) {
		r = -ENOMEM;
		goto fail;
	}
	r = vm->ops.vm_init(vm, &cfg);
	if (r) {
		hyp__err(vm, "backend %s: VM creation failed: %s", vm->ops.name, hyp_strerror(r));
		goto fail;
	}
	if (cfg.dirty_ring_entries) {
		/* A backend that knows the field refused in vm_init already; one that does not
		 * must at least say it can keep rings this large. */
		uint64_t max = 0;

		if (!vm->ops.vm_query_cap || vm->ops.vm_query_cap(vm, HYP_CAP_DIRTY_RING, &max) ||
		    max < cfg.dirty_ring_entries) {
			hyp__err(vm, "backend %s: no dirty ring of %u entries (largest: %llu)",
				 vm->ops.name, cfg.dirty_ring_entries, (unsigned long long)max);
			if (vm->ops.vm_destroy)
				vm->ops.vm_destroy(vm);
			r = -ENOTSUP;
			goto fail;
		}
	}
	*ret = vm;
	return 0;

fail:
	hyp__free(vm, vm->vcpus, sizeof(*vm->vcpus) * vm->max_vcpus);
	alloc.free(alloc.opaque, vm, total);
	return r;
}

HYP_API int hyp_vm_destroy(struct hyp_vm *vm)
{
	struct hyp_alloc_ops alloc;

	if (!vm)
		return 0;
	/* A running vCPU (on another thread, or the caller's own from inside a callback) still
	 * reads the handler tables, the vCPUs and the VM: refuse, with everything intact. Taken
	 * and never released, so no run can start while we tear down. */
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

		if (!vcpu)
			continue;
		atomic_store_explicit(&vm->vcpus[i], NULL, memory_order_release);
		hyp__vcpu_free(vcpu);
	}
	if (vm->ops.vm_destroy)
		vm->ops.vm_destroy(vm);
	hyp__dirty_release(vm);
	/* The guest can no longer touch its RAM: free what hyp_vm_ram_alloc() gave. */
	hyp__ram_release_all(vm);
	hyp__vec_release(vm, &vm->regions, sizeof(struct hyp_mem_region));
	hyp__vec_release(vm, &vm->mmio, sizeof(struct hyp_mmio_range));
	hyp__mmio_eventfds_release(vm);
	hyp__vec_release(vm, &vm->smccc, sizeof(struct hyp_smccc_range));
	hyp__vec_release(vm, &vm->sysregs, sizeof(struct hyp_sysreg_handler));
	hyp__free(vm, vm->vcpus, sizeof(*vm->vcpus) * vm->max_vcpus);
	alloc = vm->alloc;
	alloc.free(alloc.opaque, vm, vm->alloc_size);
	return 0;
}

HYP_API const char *hyp_vm_backend_name(const struct hyp_vm *vm)
{
	return vm ? vm->ops.name : NULL;
}

/* Capabilities the core itself decides, whatever the backend says. */
static bool core_cap(const struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	switch (cap) {
	case HYP_CAP_MAX_VCPUS:
		*value = vm->max_vcpus;
		return true;
	case HYP_CAP_IPA_BITS:
		*value = vm->ipa_bits;
		return true;
	case HYP_CAP_PSCI_OVERRIDE:
		*value = !(vm->ops.flags & HYP_BACKEND_OWN_PSCI);
		return true;
	default:
		return false;
	}
}

/* What the core itself provides when the backend does not answer a capability. */
static uint64_t core_fallback_cap(const struct hyp_vm *vm, enum hyp_cap cap)
{
	switch (cap) {
	case HYP_CAP_CUSTOM_MPIDR:
		/* hyp_vcpu_create() accepts any affinity and libhyp's PSCI uses it. */
		return 1;
	case HYP_CAP_INJECT_EXCEPTIONS:
		/* hyp__vcpu_inject_via_regs() builds any of them on an in-memory register
		 * file, given the EL1 system registers. */
		if (vm->ops.vcpu_inject || !vm->ops.vcpu_get_sysreg || !vm->ops.vcpu_set_sysreg)
			return 0;
		return 1u << HYP_INJECT_UNDEF | 1u << HYP_INJECT_DATA_ABORT |
		       1u << HYP_INJECT_PREFETCH_ABORT;
	default:
		/* A backend that cannot answer does not have it. */
		return 0;
	}
}

HYP_API int hyp_vm_query_cap(const struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	uint64_t v = 0;

	if (!vm || !value || (int)cap <= 0 || cap >= HYP_CAP_COUNT)
		return -EINVAL;
	if (!core_cap(vm, cap, &v) &&
	    (!vm->ops.vm_query_cap || vm->ops.vm_query_cap((struct hyp_vm *)vm, cap, &v) < 0))
		v = core_fallback_cap(vm, cap);
	*value = v;
	return 0;
}

HYP_API void *hyp_backend_vm_state(struct hyp_vm *vm)
{
	return vm ? vm->backend_state : NULL;
}

HYP_API void *hyp_vm_alloc(struct hyp_vm *vm, size_t size, size_t align)
{
	if (!vm || !size || !align || (align & (align - 1)) || align > 4096)
		return NULL;
	return hyp__alloc(vm, size, align);
}

HYP_API void hyp_vm_free(struct hyp_vm *vm, void *ptr, size_t size)
{
	if (vm)
		hyp__free(vm, ptr, size);
}
