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
#include <sys/mman.h>
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

/*
 * The dirty ring (Documentation/virt/kvm/api.rst, KVM_CAP_DIRTY_LOG_RING): KVM appends a struct
 * kvm_dirty_gfn (slot, page offset) to the running vCPU's ring the first time it sees a write to a
 * page of a logged memslot, and write-protects the page again only when userspace has marked the
 * entry harvested and called KVM_RESET_DIRTY_RINGS. arm64 offers only the _ACQ_REL flavour: the
 * entry's flags are read with acquire (KVM publishes slot and offset with a release store of
 * DIRTY) and set to RESET with release (KVM may reuse the entry once it sees that). Writes KVM
 * makes without a running vCPU (on arm64, the vGIC/ITS table saves) cannot go into a ring: they
 * go into the memslot's bitmap, which exists only with KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP (then
 * KVM_GET_DIRTY_LOG keeps working, and hyp__kvm_dirty_log_fetch() reports them). Both must be
 * enabled before any vCPU (the ring) and any memslot (the bitmap) exists: at VM creation.
 *
 * A ring that reaches its soft limit (its size less KVM's 64 reserved entries) makes KVM_RUN
 * return KVM_EXIT_DIRTY_RING_FULL until it is reset: hyp__kvm_dirty_ring_full() moves the ring's
 * entries into the library's logs on the vCPU's thread and resets, and the vCPU goes on.
 */
#ifndef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
#define KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP 225 /* Linux 6.3; Debian 12's headers are 6.1's */
#endif
/* Where a vCPU's ring is mapped, in host pages of its fd: arm64's KVM_DIRTY_LOG_PAGE_OFFSET since
 * Linux 6.3 (6.1's arm64 headers leave the generic 0, meaning "no ring"). */
#define RING_PAGE_OFFSET 64

static int vm_check(struct kvm_vm_state *k, long cap)
{
	int r = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

uint32_t hyp__kvm_dirty_ring_max(struct kvm_vm_state *k)
{
	long bytes;
	uint32_t entries;

	if (!hyp__kvm_dirty_log_supported() || vm_check(k, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP) <= 0)
		return 0;
	/* The answer is the largest ring in bytes. */
	bytes = vm_check(k, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	if (bytes <= 0)
		return 0;
	entries = (uint32_t)((unsigned long)bytes / sizeof(struct kvm_dirty_gfn));
	if (entries > HYP_DIRTY_RING_MAX_ENTRIES)
		entries = HYP_DIRTY_RING_MAX_ENTRIES;
	/* Sizes are powers of two: round a strange answer down to one. */
	while (entries & (entries - 1))
		entries &= entries - 1;
	return entries >= HYP_DIRTY_RING_MIN_ENTRIES ? entries : 0;
}

int hyp__kvm_dirty_ring_enable(struct hyp_vm *vm, uint32_t entries)
{
	struct kvm_vm_state *k = vm_state(vm);
	struct kvm_enable_cap ring = {
		.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
		.args = { (uint64_t)entries * sizeof(struct kvm_dirty_gfn) },
	};
	struct kvm_enable_cap bitmap = { .cap = KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP };
	uint32_t max = hyp__kvm_dirty_ring_max(k);

	if (entries > max) {
		hyp_vm_log(vm, HYP_LOG_ERROR,
			   "kvm: no dirty ring of %u entries on this host (largest: %u)", entries,
			   max);
		return -ENOTSUP;
	}
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &ring) || ioctl(k->vm_fd, KVM_ENABLE_CAP, &bitmap))
		return sys_err();
	k->ring_entries = entries;
	return 0;
}

int hyp__kvm_dirty_ring_map(struct hyp_vm *vm, struct kvm_vcpu_state *kv)
{
	struct kvm_vm_state *k = vm_state(vm);
	void *p;

	kv->gfns = NULL;
	kv->ring_fetch = 0;
	if (!k->ring_entries)
		return 0;
	p = mmap(NULL, (size_t)k->ring_entries * sizeof(struct kvm_dirty_gfn),
		 PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd,
		 (off_t)RING_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
	if (p == MAP_FAILED)
		return sys_err();
	kv->gfns = p;
	return 0;
}

/* The IPA of page @offset of memslot @slot; UINT64_MAX (no region: dropped) if there is none. */
static hyp_ipa_t gfn_ipa(struct hyp_vm *vm, uint32_t slot, uint64_t offset)
{
	const struct hyp_mem_region *regions = vm->regions.data;

	for (uint32_t i = 0; i < vm->regions.count; i++) {
		if (regions[i].slot == slot)
			return offset < regions[i].size / HYP_PAGE_SIZE ?
				       regions[i].ipa + offset * HYP_PAGE_SIZE :
				       UINT64_MAX;
	}
	return UINT64_MAX;
}

/* Up to @max entries of one vCPU's ring, marked harvested (the caller holds the ring lock). */
static size_t ring_collect(struct hyp_vm *vm, struct kvm_vcpu_state *kv, hyp_ipa_t *pages,
			   size_t max)
{
	uint32_t mask = vm_state(vm)->ring_entries - 1;
	size_t n = 0;

	while (n < max) {
		struct kvm_dirty_gfn *e = &kv->gfns[kv->ring_fetch & mask];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		pages[n++] = gfn_ipa(vm, e->slot, e->offset);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		kv->ring_fetch++;
	}
	return n;
}

/* Every entry of @kv's ring into the library's logs, then reset: a full ring, or a vCPU that goes
 * away. The caller holds the ring lock. Returns the pages moved, or a negative errno. */
static int64_t ring_spill(struct hyp_vm *vm, struct kvm_vcpu_state *kv)
{
	hyp_ipa_t pages[64];
	int64_t spilled = 0;
	size_t n;

	if (!kv->gfns)
		return 0;
	while ((n = ring_collect(vm, kv, pages, 64)) > 0) {
		for (size_t i = 0; i < n; i++)
			hyp__dirty_mark(vm, pages[i], HYP_PAGE_SIZE);
		spilled += (int64_t)n;
	}
	if (spilled && ioctl(vm_state(vm)->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		return sys_err();
	return spilled;
}

int hyp__kvm_dirty_ring_full(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);
	int64_t r;

	hyp__dirty_ring_lock(vm);
	r = ring_spill(vm, vcpu_state(vcpu));
	hyp__dirty_ring_unlock(vm, r > 0 ? (uint64_t)r : 0, true);
	if (r < 0) {
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: KVM_RESET_DIRTY_RINGS failed: %s",
			   hyp_strerror((int)r));
		return (int)r;
	}
	return 0;
}

void hyp__kvm_dirty_ring_unmap(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	int64_t r;

	if (!kv->gfns)
		return;
	/* The vCPU's last pages stay reported, and no harvest may read the ring any more. */
	hyp__dirty_ring_lock(vm);
	r = ring_spill(vm, kv);
	munmap(kv->gfns, (size_t)vm_state(vm)->ring_entries * sizeof(struct kvm_dirty_gfn));
	kv->gfns = NULL;
	hyp__dirty_ring_unlock(vm, r > 0 ? (uint64_t)r : 0, false);
}

int hyp__kvm_dirty_ring_harvest(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max)
{
	struct kvm_vm_state *k = vm_state(vm);
	size_t n = 0;

	/* From the vCPU after the last one that filled the caller's buffer (fairness). */
	for (uint32_t j = 0; j < vm->max_vcpus && n < max; j++) {
		uint32_t i = (k->ring_next + j) % vm->max_vcpus;
		struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

		if (!vcpu || !vcpu_state(vcpu)->gfns)
			continue;
		n += ring_collect(vm, vcpu_state(vcpu), pages + n, max - n);
		if (n == max)
			k->ring_next = (i + 1) % vm->max_vcpus;
	}
	if (n && ioctl(k->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0) {
		int r = sys_err();

		/* Taken from the rings but not armed again: keep them in the logs. */
		for (size_t i = 0; i < n; i++)
			hyp__dirty_mark(vm, pages[i], HYP_PAGE_SIZE);
		return r;
	}
	return (int)n;
}
