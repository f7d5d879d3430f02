/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map: regions of caller-owned host memory, sorted by IPA, never overlapping.
 * The core validates and records every region so all backends give the same answers to bad
 * requests, and so device models can reach guest RAM through hyp_vm_read/write_guest().
 */
#include "hyp_string.h"

#include "internal.h"

static struct hyp_mem_region *regions(const struct hyp_vm *vm)
{
	return vm->regions.data;
}

/* Index of the first region whose last byte is >= @ipa (regions are sorted and disjoint). */
static uint32_t lower_bound(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	const struct hyp_mem_region *r = regions(vm);
	uint32_t lo = 0, hi = vm->regions.count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r[mid].ipa + (r[mid].size - 1) < ipa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct hyp_mem_region *hyp__mem_find(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	uint32_t i = lower_bound(vm, ipa);

	if (i < vm->regions.count && regions(vm)[i].ipa <= ipa)
		return &regions(vm)[i];
	return NULL;
}

const struct hyp_mem_region *hyp__mem_next(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	uint32_t i = lower_bound(vm, ipa);

	return i < vm->regions.count ? &regions(vm)[i] : NULL;
}

static uint32_t free_slot(const struct hyp_vm *vm)
{
	/* Smallest slot number not in use: O(n^2) over at most HYP_MAX_MEM_REGIONS, only at map
	 * time. */
	for (uint32_t slot = 0;; slot++) {
		bool used = false;

		for (uint32_t i = 0; i < vm->regions.count && !used; i++)
			used = regions(vm)[i].slot == slot;
		if (!used)
			return slot;
	}
}

/*
 * Exclusive access to the configuration. From a VMM thread: no vCPU may be running. From an exit
 * callback on @self: @self, stopped in its exit, must be the only vCPU inside hyp_vcpu_run(); the
 * others are held out (they wait in vm_run_begin()) until the change is done. That exclusion is
 * the library's own need: other vCPUs' exit paths read the region table without a lock. KVM itself
 * would allow KVM_SET_USER_MEMORY_REGION with vCPUs in the guest.
 */
static bool reconfigure_begin(struct hyp_vm *vm, struct hyp_vcpu *self)
{
	if (!self)
		return hyp__vm_reconfigure_begin(vm);
	for (;;) {
		uint32_t one = 1;

		if (atomic_compare_exchange_strong(&vm->users, &one,
						   1u | HYP_VM_RECONFIGURING |
							   HYP_VM_EXIT_RECONFIGURING))
			return true;
		/* Another vCPU inside hyp_vcpu_run(): -EBUSY. Holds of the map (a device's I/O
		 * thread in the middle of a request): wait for them to be released. */
		if ((one & HYP_VM_VCPUS_MASK) != 1)
			return false;
		hyp__cpu_relax();
	}
}

HYP_API int hyp_vm_hold_memory(struct hyp_vm *vm)
{
	uint32_t users;

	if (!vm)
		return -EINVAL;
	users = atomic_load(&vm->users);
	for (;;) {
		/* A change under way: let it finish first. */
		if (users & HYP_VM_RECONFIGURING) {
			hyp__cpu_relax();
			users = atomic_load(&vm->users);
			continue;
		}
		if ((users & HYP_VM_HOLDS_MASK) == HYP_VM_HOLDS_MASK)
			return -EAGAIN;
		if (atomic_compare_exchange_weak(&vm->users, &users, users + HYP_VM_HOLD))
			return 0;
	}
}

HYP_API int hyp_vm_release_memory(struct hyp_vm *vm)
{
	uint32_t users;

	if (!vm)
		return -EINVAL;
	users = atomic_load(&vm->users);
	do {
		/* Nothing to release: a caller's mistake, refused rather than letting the count
		 * wrap into the other fields. */
		if (!(users & HYP_VM_HOLDS_MASK))
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(&vm->users, &users, users - HYP_VM_HOLD));
	return 0;
}

static int vm_map(struct hyp_vm *vm, struct hyp_vcpu *self, hyp_ipa_t ipa, void *host,
		  uint64_t size, uint32_t flags)
{
	struct hyp_mem_region region;
	uint64_t value;
	uint32_t at;
	int r;

	if (!vm || !host || !size)
		return -EINVAL;
	if ((ipa | size | (uintptr_t)host) & (HYP_PAGE_SIZE - 1))
		return -EINVAL;
	if ((flags & ~(uint32_t)HYP_MEM_RWX) || !(flags & HYP_MEM_READ))
		return -EINVAL;
	if (ipa + size < ipa || (uintptr_t)host + size < (uintptr_t)host)
		return -ERANGE;
	if (vm->ipa_bits < 64 && ipa + size > (1ull << vm->ipa_bits))
		return -ERANGE;
	if (!(flags & HYP_MEM_WRITE) &&
	    (hyp_vm_query_cap(vm, HYP_CAP_READONLY_MEM, &value) || !value))
		return -ENOTSUP;

	if (!reconfigure_begin(vm, self))
		return -EBUSY;
	at = lower_bound(vm, ipa);
	if (at < vm->regions.count && regions(vm)[at].ipa < ipa + size) {
		r = -EEXIST;
		goto out;
	}
	region = (struct hyp_mem_region){
		.ipa = ipa,
		.host = host,
		.size = size,
		.flags = flags,
		.slot = free_slot(vm),
	};
	r = hyp__vec_insert(vm, &vm->regions, sizeof(region), at, &region, HYP_MAX_MEM_REGIONS);
	if (r)
		goto out;
	if (vm->ops.mem_map) {
		r = vm->ops.mem_map(vm, &regions(vm)[at]);
		if (r) {
			hyp__vec_remove(&vm->regions, sizeof(region), at);
			hyp__err(vm, "mapping %#llx+%#llx failed: %s", (unsigned long long)ipa,
				 (unsigned long long)size, hyp_strerror(r));
		}
	}
out:
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_map(struct hyp_vm *vm, hyp_ipa_t ipa, void *host, uint64_t size, uint32_t flags)
{
	return vm_map(vm, NULL, ipa, host, size, flags);
}

static int vm_unmap(struct hyp_vm *vm, struct hyp_vcpu *self, hyp_ipa_t ipa, uint64_t size)
{
	struct hyp_mem_region *region;
	uint32_t at;
	int r = 0;

	if (!vm)
		return -EINVAL;
	if (!reconfigure_begin(vm, self))
		return -EBUSY;
	at = lower_bound(vm, ipa);
	region = at < vm->regions.count ? &regions(vm)[at] : NULL;
	if (!region || region->ipa != ipa || region->size != size) {
		r = -ENOENT;
		goto out;
	}
	if (vm->ops.mem_unmap) {
		r = vm->ops.mem_unmap(vm, region);
		if (r)
			goto out;
	}
	hyp__dirty_forget(vm, region->slot);
	hyp__vec_remove(&vm->regions, sizeof(*region), at);
out:
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_unmap(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t size)
{
	return vm_unmap(vm, NULL, ipa, size);
}

HYP_API int hyp_vcpu_exit_map(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, void *host, uint64_t size,
			      uint32_t flags)
{
	if (!vcpu || !vcpu->in_exit)
		return -EINVAL;
	return vm_map(vcpu->vm, vcpu, ipa, host, size, flags);
}

HYP_API int hyp_vcpu_exit_unmap(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint64_t size)
{
	if (!vcpu || !vcpu->in_exit)
		return -EINVAL;
	return vm_unmap(vcpu->vm, vcpu, ipa, size);
}

/*
 * Walk [ipa, ipa + len) across adjacent regions. With @copy NULL only checks. Returns -EFAULT if
 * any byte is unbacked, so callers check first and copy second: nothing is copied unless all is.
 */
static int walk_guest(const struct hyp_vm *vm, hyp_ipa_t ipa, size_t len, bool to_guest, void *buf,
		      bool copy)
{
	char *cursor = buf;

	if (ipa + len < ipa)
		return -EFAULT;
	while (len) {
		const struct hyp_mem_region *region = hyp__mem_find(vm, ipa);
		uint64_t offset, chunk;

		if (!region)
			return -EFAULT;
		offset = ipa - region->ipa;
		chunk = region->size - offset;
		if (chunk > len)
			chunk = len;
		if (copy) {
			char *host = (char *)region->host + offset;

			if (to_guest)
				memcpy(host, cursor, chunk);
			else
				memcpy(cursor, host, chunk);
			cursor += chunk;
		}
		ipa += chunk;
		len -= chunk;
	}
	return 0;
}

HYP_API int hyp_vm_write_guest(struct hyp_vm *vm, hyp_ipa_t ipa, const void *src, size_t len)
{
	int r;

	if (!vm || (!src && len))
		return -EINVAL;
	r = walk_guest(vm, ipa, len, true, (void *)src, false);
	if (r)
		return r;
	r = walk_guest(vm, ipa, len, true, (void *)src, true);
	/* The VMM's own writes (device models) are guest memory changes a live copy must see. */
	if (!r)
		hyp__dirty_mark(vm, ipa, len);
	return r;
}

HYP_API int hyp_vm_read_guest(const struct hyp_vm *vm, hyp_ipa_t ipa, void *dst, size_t len)
{
	int r;

	if (!vm || (!dst && len))
		return -EINVAL;
	r = walk_guest(vm, ipa, len, false, dst, false);
	if (r)
		return r;
	return walk_guest(vm, ipa, len, false, dst, true);
}

HYP_API int hyp_vm_guest_span(const struct hyp_vm *vm, hyp_ipa_t ipa, bool writable, void **host,
			      uint64_t *len)
{
	const struct hyp_mem_region *region;

	if (!vm || !host || !len)
		return -EINVAL;
	region = hyp__mem_find(vm, ipa);
	if (!region || (writable && !(region->flags & HYP_MEM_WRITE)))
		return -EFAULT;
	*host = (char *)region->host + (ipa - region->ipa);
	*len = region->size - (ipa - region->ipa);
	return 0;
}

HYP_API int hyp_vm_guest_ptr(const struct hyp_vm *vm, hyp_ipa_t ipa, size_t len, bool writable,
			     void **ret)
{
	const struct hyp_mem_region *region;

	if (!vm || !ret || !len)
		return -EINVAL;
	region = hyp__mem_find(vm, ipa);
	if (!region || len > region->size - (ipa - region->ipa))
		return -EFAULT;
	if (writable && !(region->flags & HYP_MEM_WRITE))
		return -EFAULT;
	*ret = (char *)region->host + (ipa - region->ipa);
	return 0;
}
