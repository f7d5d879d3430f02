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

/*
 * The library's dirty ring of one vCPU (backends without their own: el2, mock). Single producer
 * (the vCPU's thread appends at @head) and consumers that take turns under vm->dirty_ring_lock
 * (they advance @tail): the producer publishes an entry with a release store of @head, a consumer
 * frees its slot with a release store of @tail after reading it.
 */
struct hyp_dirty_ring {
	uint32_t mask; /* entries - 1 */
	bool full;     /* the producer's last write found the ring full (one event per filling) */
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	hyp_ipa_t ipa[];
};

/* A vCPU wrote @page (in a logged region, bit @n of @log): into its ring, or, when the ring is
 * full, into the region's log, where the next fetch finds it. */
static void ring_push(struct hyp_vm *vm, struct hyp_dirty_ring *ring, struct hyp_dirty_log *log,
		      uint64_t n, hyp_ipa_t page)
{
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);

	if (head - atomic_load_explicit(&ring->tail, memory_order_acquire) > ring->mask) {
		if (!ring->full)
			atomic_fetch_add_explicit(&vm->dirty_ring_full, 1, memory_order_relaxed);
		ring->full = true;
		atomic_fetch_add_explicit(&vm->dirty_ring_spilled, 1, memory_order_relaxed);
		atomic_fetch_or_explicit(&log->bits[n / 64], UINT64_C(1) << (n % 64),
					 memory_order_release);
		return;
	}
	ring->full = false;
	ring->ipa[head & ring->mask] = page;
	atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

static void mark(struct hyp_vm *vm, struct hyp_dirty_ring *ring, hyp_ipa_t ipa, uint64_t len)
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
			for (uint64_t n = first; n <= end; n++) {
				if (ring)
					ring_push(vm, ring, log, n,
						  region->ipa + n * HYP_PAGE_SIZE);
				else
					atomic_fetch_or_explicit(&log->bits[n / 64],
								 UINT64_C(1) << (n % 64),
								 memory_order_release);
			}
		}
		if (last - region->ipa <= region->size - 1)
			return;
		ipa = region->ipa + region->size;
	}
}

void hyp__dirty_mark(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len)
{
	mark(vm, NULL, ipa, len);
}

void hyp__dirty_mark_vcpu(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint64_t len)
{
	mark(vcpu->vm, vcpu->dirty_ring, ipa, len);
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

/* ---- Dirty rings ---- */

void hyp__dirty_ring_lock(struct hyp_vm *vm)
{
	while (atomic_flag_test_and_set_explicit(&vm->dirty_ring_lock, memory_order_acquire))
		hyp__cpu_relax();
}

void hyp__dirty_ring_unlock(struct hyp_vm *vm, uint64_t spilled, bool full)
{
	if (spilled)
		atomic_fetch_add_explicit(&vm->dirty_ring_spilled, spilled, memory_order_relaxed);
	if (full)
		atomic_fetch_add_explicit(&vm->dirty_ring_full, 1, memory_order_relaxed);
	atomic_flag_clear_explicit(&vm->dirty_ring_lock, memory_order_release);
}

int hyp__dirty_ring_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = vcpu->vm;
	struct hyp_dirty_ring *ring;

	if (!vm->dirty_ring_entries || vm->ops.dirty_ring_harvest)
		return 0;
	ring = hyp__alloc(vm, sizeof(*ring) + vm->dirty_ring_entries * sizeof(hyp_ipa_t), 16);
	if (!ring)
		return -ENOMEM;
	ring->mask = vm->dirty_ring_entries - 1;
	ring->full = false;
	atomic_init(&ring->head, 0);
	atomic_init(&ring->tail, 0);
	vcpu->dirty_ring = ring;
	return 0;
}

/* Take up to @max entries of one library ring (under the lock). */
static size_t ring_take(struct hyp_dirty_ring *ring, hyp_ipa_t *pages, size_t max)
{
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	size_t n = 0;

	for (; tail != head && n < max; tail++)
		pages[n++] = ring->ipa[tail & ring->mask];
	atomic_store_explicit(&ring->tail, tail, memory_order_release);
	return n;
}

void hyp__dirty_ring_vcpu_release(struct hyp_vcpu *vcpu)
{
	struct hyp_dirty_ring *ring = vcpu->dirty_ring;
	struct hyp_vm *vm = vcpu->vm;
	hyp_ipa_t pages[64];
	uint64_t spilled = 0;
	size_t n;

	if (!ring)
		return;
	/* The vCPU's last writes stay reported: into the regions' logs. */
	hyp__dirty_ring_lock(vm);
	while ((n = ring_take(ring, pages, 64)) > 0) {
		for (size_t i = 0; i < n; i++)
			hyp__dirty_mark(vm, pages[i], HYP_PAGE_SIZE);
		spilled += n;
	}
	vcpu->dirty_ring = NULL;
	hyp__dirty_ring_unlock(vm, spilled, false);
	hyp__free(vm, ring, sizeof(*ring) + (ring->mask + 1) * sizeof(hyp_ipa_t));
}

/* Up to @max entries from the vCPUs' rings, the backend's or the library's (under the lock). */
static int rings_take(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max)
{
	size_t n = 0;

	if (vm->ops.dirty_ring_harvest) {
		int r = vm->ops.dirty_ring_harvest(vm, pages, max);

		return r < 0 ? r : (size_t)r > max ? -EIO : r;
	}
	/* From the vCPU after the last one that filled the caller's buffer, so that a busy vCPU
	 * cannot keep the others' entries waiting. */
	for (uint32_t k = 0; k < vm->max_vcpus && n < max; k++) {
		uint32_t i = (vm->dirty_ring_next + k) % vm->max_vcpus;
		struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

		if (!vcpu || !vcpu->dirty_ring)
			continue;
		n += ring_take(vcpu->dirty_ring, pages + n, max - n);
		if (n == max)
			vm->dirty_ring_next = (i + 1) % vm->max_vcpus;
	}
	return (int)n;
}

/* Keep the entries of pages in logged regions (others are stale: the region stopped logging or
 * went); with @rearm, make the guest's next write to each seen again (the library's rings: the
 * backend's dirty_log_clear, one page at a time). Returns the count kept, packed at @pages. */
static size_t rings_filter(struct hyp_vm *vm, hyp_ipa_t *pages, size_t n, bool rearm)
{
	struct hyp_dirty_log *logs = atomic_load_explicit(&vm->dirty, memory_order_acquire);
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		const struct hyp_mem_region *region = hyp__mem_find(vm, pages[i]);

		if (!logs || !region || !(region->flags & HYP_MEM_WRITE) ||
		    !atomic_load_explicit(&logs[region->slot].on, memory_order_acquire))
			continue;
		if (rearm && vm->ops.dirty_log_clear) {
			/* The one page, as a region of its own (same flags). */
			struct hyp_mem_region page = *region;
			const uint64_t one = 1;

			page.ipa = pages[i] & ~(hyp_ipa_t)(HYP_PAGE_SIZE - 1);
			page.host = (char *)region->host + (page.ipa - region->ipa);
			page.size = HYP_PAGE_SIZE;
			if (vm->ops.dirty_log_clear(vm, &page, &one)) {
				/* Not armed again: keep it in the log so a fetch retries. */
				hyp__dirty_mark(vm, page.ipa, HYP_PAGE_SIZE);
				continue;
			}
		}
		pages[kept++] = pages[i] & ~(hyp_ipa_t)(HYP_PAGE_SIZE - 1);
	}
	return kept;
}

/* Every entry still in the rings into the regions' logs (a fetch is then complete). */
static int ring_drain(struct hyp_vm *vm)
{
	hyp_ipa_t pages[64];
	uint64_t spilled = 0;
	int n;

	hyp__dirty_ring_lock(vm);
	while ((n = rings_take(vm, pages, 64)) > 0) {
		for (int i = 0; i < n; i++)
			hyp__dirty_mark(vm, pages[i], HYP_PAGE_SIZE);
		spilled += (uint64_t)n;
		if (n < 64)
			break;
	}
	hyp__dirty_ring_unlock(vm, spilled, false);
	return n < 0 ? n : 0;
}

HYP_API int hyp_vm_dirty_ring_harvest(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max)
{
	size_t kept = 0;
	int n = 0;

	if (!vm || !pages || !max || !vm->dirty_ring_entries)
		return -EINVAL;
	if (max > INT32_MAX)
		max = INT32_MAX;
	hyp__dirty_ring_lock(vm);
	/* Stale entries are dropped: take more until @pages is full or the rings are empty. */
	while (kept < max) {
		size_t want = max - kept;

		n = rings_take(vm, pages + kept, want);
		if (n <= 0)
			break;
		kept += rings_filter(vm, pages + kept, (size_t)n, !vm->ops.dirty_ring_harvest);
		if ((size_t)n < want)
			break;
	}
	hyp__dirty_ring_unlock(vm, 0, false);
	if (n < 0 && kept) {
		/* Report nothing rather than a partial answer with an error: the pages taken go
		 * to the logs. */
		for (size_t i = 0; i < kept; i++)
			hyp__dirty_mark(vm, pages[i], HYP_PAGE_SIZE);
		atomic_fetch_add_explicit(&vm->dirty_ring_spilled, kept, memory_order_relaxed);
	}
	if (n < 0)
		return n;
	atomic_fetch_add_explicit(&vm->dirty_ring_harvested, kept, memory_order_relaxed);
	return (int)kept;
}

HYP_API int hyp_vm_dirty_ring_stats(const struct hyp_vm *vm, struct hyp_dirty_ring_stats *stats)
{
	struct hyp_dirty_ring_stats s;
	size_t n;

	if (!vm || !stats ||
	    stats->size < offsetof(struct hyp_dirty_ring_stats, spilled) + sizeof(stats->spilled) ||
	    !vm->dirty_ring_entries)
		return -EINVAL;
	s.size = stats->size;
	s.entries = vm->dirty_ring_entries;
	s.harvested = atomic_load_explicit(&vm->dirty_ring_harvested, memory_order_relaxed);
	s.full = atomic_load_explicit(&vm->dirty_ring_full, memory_order_relaxed);
	s.spilled = atomic_load_explicit(&vm->dirty_ring_spilled, memory_order_relaxed);
	n = stats->size < sizeof(s) ? stats->size : sizeof(s);
	memcpy(stats, &s, n);
	return 0;
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
	if (vm->dirty_ring_entries) {
		r = ring_drain(vm);
		if (r)
			return r;
	}
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
