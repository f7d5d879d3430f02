/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM the library allocates for the caller (hyp_vm_ram_alloc()): the backend's own method
 * where it has one (kvm: 2 MiB aligned, huge pages; el2: the firmware's pages), else plain
 * anonymous memory in hosted builds. The VM keeps a list so hyp_vm_destroy() frees what is left.
 */
#if defined(HYP_HOSTED) && HYP_HOSTED
#include <sys/mman.h>
#endif

#include "internal.h"

#define RAM_FLAGS_KNOWN ((uint32_t)HYP_RAM_HUGETLB)
/* More allocations than any VM's memory map can use are a caller bug, not a need. */
#define MAX_RAM_ALLOCATIONS 4096u

static struct hyp__ram *ram_list(const struct hyp_vm *vm)
{
	return vm->ram.data;
}

static int generic_alloc(uint64_t size, uint32_t flags, void **ret)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	void *p;

	if (flags)
		return -ENOTSUP;
	if (size > SIZE_MAX)
		return -ENOMEM;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*ret = p;
	return 0;
#else
	(void)size;
	(void)flags;
	(void)ret;
	return -ENOTSUP;
#endif
}

static void release(struct hyp_vm *vm, const struct hyp__ram *r)
{
	if (r->backend) {
		vm->ops.ram_free(vm, r->host, r->size, r->flags);
		return;
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	munmap(r->host, (size_t)r->size);
#endif
}

HYP_API int hyp_vm_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret)
{
	struct hyp__ram r = { .size = size, .flags = flags };
	int err;

	if (!vm || !ret || !size || size % HYP_PAGE_SIZE || (flags & ~RAM_FLAGS_KNOWN))
		return -EINVAL;
	if (vm->ops.ram_alloc) {
		err = vm->ops.ram_alloc(vm, size, flags, &r.host);
		r.backend = true;
	} else {
		err = generic_alloc(size, flags, &r.host);
	}
	if (err)
		return err;
	/* The list is configuration, changed under the same exclusion as the memory map (the
	 * allocation itself, possibly long for hugetlbfs pages, is outside it). Appended: it is
	 * only searched at free time. */
	if (!hyp__vm_reconfigure_begin(vm)) {
		release(vm, &r);
		return -EBUSY;
	}
	err = hyp__vec_insert(vm, &vm->ram, sizeof(r), vm->ram.count, &r, MAX_RAM_ALLOCATIONS);
	hyp__vm_reconfigure_end(vm);
	if (err) {
		release(vm, &r);
		return err == -ENOSPC ? -ENOMEM : err;
	}
	*ret = r.host;
	return 0;
}

/* Whether any mapped region uses bytes of [host, host + size). */
static bool ram_mapped(const struct hyp_vm *vm, const void *host, uint64_t size)
{
	const struct hyp_mem_region *regions = vm->regions.data;
	uintptr_t lo = (uintptr_t)host, hi = lo + (uintptr_t)(size - 1);

	for (uint32_t i = 0; i < vm->regions.count; i++) {
		uintptr_t r_lo = (uintptr_t)regions[i].host;
		uintptr_t r_hi = r_lo + (uintptr_t)(regions[i].size - 1);

		if (r_lo <= hi && lo <= r_hi)
			return true;
	}
	return false;
}

HYP_API int hyp_vm_ram_free(struct hyp_vm *vm, void *host, uint64_t size)
{
	int r = -ENOENT;

	if (!vm || !host)
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	for (uint32_t i = 0; i < vm->ram.count; i++) {
		struct hyp__ram e = ram_list(vm)[i];

		if (e.host != host || e.size != size)
			continue;
		if (ram_mapped(vm, host, size)) {
			r = -EBUSY;
			break;
		}
		hyp__vec_remove(&vm->ram, sizeof(e), i);
		release(vm, &e);
		r = 0;
		break;
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

void hyp__ram_release_all(struct hyp_vm *vm)
{
	for (uint32_t i = 0; i < vm->ram.count; i++)
		release(vm, &ram_list(vm)[i]);
	hyp__vec_release(vm, &vm->ram, sizeof(struct hyp__ram));
}
