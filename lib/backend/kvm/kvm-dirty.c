/* SPDX-License-Identifier: MIT */
/*
 * Dirty-page logging on kvm: KVM_MEM_LOG_DIRTY_PAGES on the region's memslot, and
 * KVM_GET_DIRTY_LOG, which returns the slot's bitmap and clears it, write-protecting the reported
 * pages again in the same step (Documentation/virt/kvm/api.rst; without
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled, the fetch-and-clear the library's API asks for). KVM
 * logs in host pages: only 4 KiB host pages map one bit to one HYP_PAGE_SIZE page, so other hosts
 * report HYP_CAP_DIRTY_LOG = 0.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libhyp/backend.h>

#include "internal.h"
#include "kvm-internal.h"

bool hyp__kvm_dirty_log_supported(void)
{
	return sysconf(_SC_PAGESIZE) == HYP_PAGE_SIZE;
}

int hyp__kvm_dirty_log_enable(struct hyp_vm *vm, const struct hyp_mem_region *region, bool enable)
{
	/* The memslot as kvm_mem_map() made it, with the logging flag changed: KVM lets a live
	 * slot change only that flag. */
	struct kvm_userspace_memory_region mr = {
		.slot = region->slot,
		.flags = ((region->flags & HYP_MEM_WRITE) ? 0 : KVM_MEM_READONLY) |
			 (enable ? KVM_MEM_LOG_DIRTY_PAGES : 0),
		.guest_phys_addr = region->ipa,
		.memory_size = region->size,
		.userspace_addr = (uint64_t)(uintptr_t)region->host,
	};

	if (!hyp__kvm_dirty_log_supported())
		return -ENOTSUP;
	return ioctl(vm_state(vm)->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) ? sys_err() : 0;
}

int hyp__kvm_dirty_log_fetch(struct hyp_vm *vm, const struct hyp_mem_region *region,
			     uint64_t *bitmap)
{
	/* KVM writes (pages + 63) / 64 words, the size the library gives us. */
	struct kvm_dirty_log log = { .slot = region->slot, .dirty_bitmap = bitmap };

	return ioctl(vm_state(vm)->vm_fd, KVM_GET_DIRTY_LOG, &log) ? sys_err() : 0;
}
