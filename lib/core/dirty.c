/* SPDX-License-Identifier: MIT */
/*
 * Dirty-page logging: which pages of a memory region were written since the VMM last asked.
 *
 * The library keeps one bitmap per logged region (by slot), set by whoever sees a write the
 * backend cannot report itself: the mock's scripted stores, the el2 backend's write-protection
 * faults, and the VMM's own hyp_vm_write_guest() (device models writing guest RAM, which a live
 * copy must see as well). A backend that logs in hardware or in a kernel (kvm: KVM_GET_DIRTY_LOG)
 * supplies dirty_log_fetch(), and a fetch reports the union of both.
 *
 * Ordering, so that no write is lost between a fetch and the VMM's copy of the page: a writer
 * marks the page after its store, and a fetch clears each word with an atomic exchange. A store
 * whose mark a fetch missed is then already in memory when the VMM copies the page it did report,
 * or its mark is still set for the next fetch.
 */
#include "hyp_string.h"

#include "internal.h"

struct hyp_dirty_log {
	_Atomic bool on;
	uint64_t words;
	_Atomic uint64_t *bits;
};

/* Not __builtin_popcountll: built with -mgeneral-regs-only (EL2) it becomes a libgcc call. */
static uint64_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (x * UINT64_C(0x0101010101010101)) >> 56;
}

static uint64_t region_words(const struct hyp_mem_region *region)
{
	return (region->size / HYP_PAGE_SIZE + 63) / 64;
}

/* The region that starts exactly at @ipa. */
static const struct hyp_mem_region *region_at(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	const struct hyp_mem_region *region = hyp__mem_find(vm, ipa);

	return region && region->ipa == ipa ? region : NULL;
}

void hyp__dirty_mark(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len)
{
	struct hyp_dirty_log *logs = atomic_load_explicit(&vm->dirty, memory_order_acquire);
	hyp_ipa_t last;

	if (__builtin_expect(!logs || !len, 1))
		return;
	last = ipa + len - 1 < ipa ? UINT64_MAX : ipa + len - 1;
	/* Region by region (a range may span several, or holes): the work is bounded by the
	 * guest memory the range covers, whatever @len a caller passes. */
	for (;;) {
		const struct hyp_mem_region *region = hyp__mem_next(vm, ipa);
		struct hyp_dirty_log *log;
		uint64_t first, end;

		if (!region || region->ipa > last)
			return;
		log = &logs[region->slot];
		first = (ipa > region->ipa ? ipa - region->ipa : 0) / HYP_PAGE_SIZE;
		end = (last - region->ipa < region->size - 1 ? last - region->ipa :
							       region->size - 1) /
		      HYP_PAGE_SIZE;
		if (atomic_load_explicit(&log->on, memory_order_acquire)) {
			for (uint64_t n = first; n <= end; n++)
				atomic_fetch_or_explicit(&log->bits[n / 64],
							 UINT64_C(1) << (n % 64),
							 memory_order_release);
		}
		if (last - region->ipa <= region->size - 1)
			return;
		ipa = region->ipa + region->size;
	}
}

HYP_API void hyp_backend_mark_dirty(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len)
{
	if (vm)
		hyp__dirty_mark(vm, ipa, len);
}

void hyp__dirty_forget(struct hyp_vm *vm, uint32_t slot)
{
	struct hyp_dirty_log *logs = atomic_load(&vm->dirty);
	struct hyp_dirty_log *log;

	if (!logs)
		return;
	log = &logs[slot];
	atomic_store(&log->on, false);
	if (log->bits)
		hyp__free(vm, (void *)log->bits, log->words * sizeof(uint64_t));
	log->bits = NULL;
	log->words = 0;
}

void hyp__dirty_release(struct hyp_vm *vm)
{
	struct hyp_dirty_log *logs = atomic_load(&vm->dirty);

	if (!logs)
		return;
	for (uint32_t slot = 0; slot < HYP_MAX_MEM_REGIONS; slot++)
		hyp__dirty_forget(vm, slot);
	hyp__free(vm, logs, HYP_MAX_MEM_REGIONS * sizeof(*logs));
	atomic_store(&vm->dirty, NULL);
}

static bool backend_logs(struct hyp_vm *vm)
{
	uint64_t cap = 0;

	return vm->ops.dirty_log_enable && vm->ops.vm_query_cap &&
	       vm->ops.vm_query_cap(vm, HYP_CAP_DIRTY_LOG, &cap) == 0 && cap;
}

HYP_API int hyp_vm_dirty_log_enable(struct hyp_vm *vm, hyp_ipa_t ipa, bool enable)
{
	const struct hyp_mem_region *region;
	struct hyp_dirty_log *logs, *log;
	int r;

	if (!vm)
		return -EINVAL;
	region = region_at(vm, ipa);
	if (!region)
		return -ENOENT;
	if (!(region->flags & HYP_MEM_WRITE))
		return -EINVAL; /* the guest cannot write it: nothing to log */
	if (!backend_logs(vm))
		return -ENOTSUP;
	logs = atomic_load_explicit(&vm->dirty, memory_order_acquire);
	if (!logs) {
		logs = hyp__alloc(vm, HYP_MAX_MEM_REGIONS * sizeof(*logs), 16);
		if (!logs)
			return -ENOMEM;
		atomic_store_explicit(&vm->dirty, logs, memory_order_release);
	}
	log = &logs[region->slot];
	if (atomic_load(&log->on) == enable)
		return 0;
	if (!enable) {
		/* The backend stops first; the bitmap stays until the region goes, as a vCPU may
		 * still be marking it. */
		r = vm->ops.dirty_log_enable(vm, region, false);
		if (!r)
			atomic_store_explicit(&log->on, false, memory_order_release);
		return r;
	}
	if (!log->bits) {
		log->words = region_words(region);
		log->bits = hyp__alloc(vm, log->words * sizeof(uint64_t), 16);
		if (!log->bits) {
			log->words = 0;
			return -ENOMEM;
		}
	}
	for (uint64_t i = 0; i < log->words; i++)
		atomic_store_explicit(&log->bits[i], 0, memory_order_relaxed);
	/* Logging is on before the backend starts trapping writes, so no mark is dropped. */
	atomic_store_explicit(&log->on, true, memory_order_release);
	r = vm->ops.dirty_log_enable(vm, region, true);
	if (r)
		atomic_store_explicit(&log->on, false, memory_order_release);
	return r;
}

HYP_API int hyp_vm_dirty_log_fetch(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t *bitmap, size_t words)
{
	const struct hyp_mem_region *region;
	struct hyp_dirty_log *logs, *log;
	uint64_t need, count = 0;
	int r;

	if (!vm || !bitmap)
		return -EINVAL;
	region = region_at(vm, ipa);
	if (!region)
		return -ENOENT;
	logs = atomic_load_explicit(&vm->dirty, memory_order_acquire);
	log = logs ? &logs[region->slot] : NULL;
	if (!log || !atomic_load_explicit(&log->on, memory_order_acquire))
		return -EINVAL;
	need = region_words(region);
	if (words < need)
		return -ERANGE;
	memset(bitmap, 0, need * sizeof(uint64_t));
	if (vm->ops.dirty_log_fetch) {
		r = vm->ops.dirty_log_fetch(vm, region, bitmap);
		if (r)
			return r;
	}
	for (uint64_t i = 0; i < need; i++)
		bitmap[i] |= atomic_exchange_explicit(&log->bits[i], 0, memory_order_acq_rel);
	/* Bits past the region's last page are never set (a backend that sets them is wrong). */
	if ((region->size / HYP_PAGE_SIZE) % 64)
		bitmap[need - 1] &= (UINT64_C(1) << ((region->size / HYP_PAGE_SIZE) % 64)) - 1;
	for (uint64_t i = 0; i < need; i++)
		count += popcount64(bitmap[i]);
	if (count && vm->ops.dirty_log_clear) {
		r = vm->ops.dirty_log_clear(vm, region, bitmap);
		if (r)
			return r;
	}
	return count > INT32_MAX ? INT32_MAX : (int)count;
}
