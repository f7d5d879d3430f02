/* SPDX-License-Identifier: MIT */
/*
 * Callback registration. Each table is a sorted array so the exit path can binary-search it;
 * registration happens rarely and only while no vCPU runs (vm->users), so the exit path reads the
 * tables without locks.
 */
#include "internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#endif

/* Index of the first MMIO range whose last byte is >= @ipa. */
static uint32_t mmio_lower_bound(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	const struct hyp_mmio_range *r = vm->mmio.data;
	uint32_t lo = 0, hi = vm->mmio.count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r[mid].last < ipa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

HYP_API int hyp_vm_add_mmio_handler(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size,
				    hyp_mmio_fn fn, void *opaque)
{
	struct hyp_mmio_range range = {
		.base = base, .last = base + size - 1, .fn = fn, .opaque = opaque
	};
	const struct hyp_mmio_range *ranges;
	uint32_t at;
	int r;

	if (!vm || !fn || !size || range.last < base)
		return -EINVAL;
	/* Guest accesses carry IPAs of at most ipa_bits bits (HPFAR_EL2.FIPA): a range beyond
	 * could never be reached. */
	if (range.last >> vm->ipa_bits)
		return -ERANGE;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	ranges = vm->mmio.data;
	at = mmio_lower_bound(vm, base);
	if (at < vm->mmio.count && ranges[at].base <= range.last)
		r = -EEXIST;
	else
		r = hyp__vec_insert(vm, &vm->mmio, sizeof(range), at, &range, HYP_MAX_MMIO_RANGES);
	hyp__vm_reconfigure_end(vm);
	return r;
}

/* ---- Doorbells signalling eventfds (hyp_vm_add_mmio_eventfd()) ---- */

/* The registered range holding @ipa, or NULL. */
static struct hyp_mmio_range *range_holding(const struct hyp_vm *vm, hyp_ipa_t ipa)
{
	struct hyp_mmio_range *ranges = vm->mmio.data;
	uint32_t at = mmio_lower_bound(vm, ipa);

	return at < vm->mmio.count && ranges[at].base <= ipa ? &ranges[at] : NULL;
}

/* The library's own descriptor for a caller's eventfd: a caller that closes its own, and a number
 * reused for a file meanwhile, cannot make guest writes land in that file. */
static int own_fd(int fd)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return own < 0 ? -errno : own;
#else
	(void)fd;
	return -ENOTSUP;
#endif
}

static void close_own_fd(int fd)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	close(fd);
#else
	(void)fd;
#endif
}

/* Add 1 to an eventfd's counter. A counter at its maximum (a non-blocking eventfd nobody reads)
 * refuses the write: the reader has a wake-up pending already, so nothing is lost. */
static void eventfd_signal(int fd)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
#else
	(void)fd;
#endif
}

static struct hyp_mmio_eventfd *eventfd_at(const struct hyp_vm *vm, uint32_t i)
{
	return (struct hyp_mmio_eventfd *)vm->mmio_eventfds.data + i;
}

/* Take registration @i away (the backend's too), the configuration held. */
static void eventfd_remove(struct hyp_vm *vm, uint32_t i)
{
	struct hyp_mmio_eventfd *e = eventfd_at(vm, i);
	struct hyp_mmio_range *range = range_holding(vm, e->ipa);
	int r = vm->ops.mmio_eventfd ?
			vm->ops.mmio_eventfd(vm, e->ipa, e->len, e->value, e->flags, e->fd, false) :
			0;

	/* The backend may go on taking the writes (they then never reach the callback). */
	if (r)
		hyp__log(vm, HYP_LOG_ERROR,
			 "MMIO eventfd at %#llx (%u bytes): the backend kept it: %s",
			 (unsigned long long)e->ipa, e->len, hyp_strerror(r));
	if (range)
		range->nr_eventfds--;
	close_own_fd(e->fd);
	hyp__vec_remove(&vm->mmio_eventfds, sizeof(*e), i);
}

/* The range [@base, @last] goes: so do its eventfds. */
static void remove_eventfds_in(struct hyp_vm *vm, hyp_ipa_t base, uint64_t last)
{
	for (uint32_t i = vm->mmio_eventfds.count; i-- > 0;) {
		const struct hyp_mmio_eventfd *e = eventfd_at(vm, i);

		if (e->ipa >= base && e->ipa <= last)
			eventfd_remove(vm, i);
	}
}

/* Would registrations @a and @b both take some write? */
static bool eventfds_overlap(const struct hyp_mmio_eventfd *a, const struct hyp_mmio_eventfd *b)
{
	if (a->ipa != b->ipa || a->len != b->len)
		return false;
	if (!(a->flags & HYP_MMIO_EVENTFD_MATCH_VALUE) ||
	    !(b->flags & HYP_MMIO_EVENTFD_MATCH_VALUE))
		return true;
	return a->value == b->value;
}

static bool eventfd_args_ok(uint32_t len, uint64_t value, uint32_t flags)
{
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	if (flags & ~(uint32_t)HYP_MMIO_EVENTFD_MATCH_VALUE)
		return false;
	return len == 8 || !(value >> (8 * len));
}

HYP_API int hyp_vm_add_mmio_eventfd(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t value,
				    uint32_t flags, int fd)
{
	struct hyp_mmio_eventfd reg = {
		.ipa = ipa, .value = value, .len = len, .flags = flags, .fd = fd
	};
	struct hyp_mmio_range *range;
	int r = 0;

	if (!vm || fd < 0 || !eventfd_args_ok(len, value, flags) || ipa + len - 1 < ipa)
		return -EINVAL;
#if !(defined(HYP_HOSTED) && HYP_HOSTED)
	/* No file descriptors: nothing to signal. */
	return -ENOTSUP;
#endif
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	range = range_holding(vm, ipa);
	if (!range || range->last < ipa + len - 1) {
		r = -ENOENT;
		goto out;
	}
	if (range->defer_size && ipa + len - 1 >= range->defer_base &&
	    ipa <= range->defer_base + range->defer_size - 1) {
		r = -EEXIST;
		goto out;
	}
	for (uint32_t i = 0; i < vm->mmio_eventfds.count; i++) {
		if (eventfds_overlap(eventfd_at(vm, i), &reg)) {
			r = -EEXIST;
			goto out;
		}
	}
	if (vm->mmio_eventfds.count >= HYP_MAX_MMIO_EVENTFDS) {
		r = -ENOSPC;
		goto out;
	}
	reg.fd = own_fd(fd);
	if (reg.fd < 0) {
		r = reg.fd;
		goto out;
	}
	if (vm->ops.mmio_eventfd)
		r = vm->ops.mmio_eventfd(vm, ipa, len, value, flags, reg.fd, true);
	if (!r) {
		r = hyp__vec_insert(vm, &vm->mmio_eventfds, sizeof(reg), vm->mmio_eventfds.count,
				    &reg, HYP_MAX_MMIO_EVENTFDS);
		if (r && vm->ops.mmio_eventfd)
			vm->ops.mmio_eventfd(vm, ipa, len, value, flags, reg.fd, false);
	}
	if (r)
		close_own_fd(reg.fd);
	else
		range->nr_eventfds++;
out:
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_remove_mmio_eventfd(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len,
				       uint64_t value, uint32_t flags)
{
	int r = -ENOENT;

	if (!vm)
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	for (uint32_t i = 0; i < vm->mmio_eventfds.count; i++) {
		const struct hyp_mmio_eventfd *e = eventfd_at(vm, i);

		if (e->ipa == ipa && e->len == len && e->flags == flags &&
		    (!(flags & HYP_MMIO_EVENTFD_MATCH_VALUE) || e->value == value)) {
			eventfd_remove(vm, i);
			r = 0;
			break;
		}
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

void hyp__mmio_eventfds_release(struct hyp_vm *vm)
{
	for (uint32_t i = 0; i < vm->mmio_eventfds.count; i++)
		close_own_fd(eventfd_at(vm, i)->fd);
	hyp__vec_release(vm, &vm->mmio_eventfds, sizeof(struct hyp_mmio_eventfd));
}

/* A write the backend did not take itself (a backend without its own eventfds, or one that
 * exited anyway): signal a matching registration's eventfd. True if one took it. */
bool hyp__mmio_eventfd_write(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t data)
{
	for (uint32_t i = 0; i < vm->mmio_eventfds.count; i++) {
		const struct hyp_mmio_eventfd *e = eventfd_at(vm, i);

		if (e->ipa != ipa || e->len != len)
			continue;
		if ((e->flags & HYP_MMIO_EVENTFD_MATCH_VALUE) && e->value != data)
			continue;
		eventfd_signal(e->fd);
		return true;
	}
	return false;
}

HYP_API int hyp_vm_remove_mmio_handler(struct hyp_vm *vm, hyp_ipa_t base)
{
	const struct hyp_mmio_range *ranges;
	uint32_t at;
	int r = -ENOENT;

	if (!vm)
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	ranges = vm->mmio.data;
	at = mmio_lower_bound(vm, base);
	if (at < vm->mmio.count && ranges[at].base == base) {
		/* Writes the backend still holds for the range reach its callback first. */
		if (ranges[at].defer_size)
			vm->ops.mmio_defer(vm, ranges[at].defer_base, ranges[at].defer_size, false);
		remove_eventfds_in(vm, base, ranges[at].last);
		hyp__vec_remove(&vm->mmio, sizeof(*ranges), at);
		r = 0;
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_defer_mmio_writes(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size)
{
	struct hyp_mmio_range *ranges;
	uint32_t at;
	int r;

	if (!vm || !size || base + size - 1 < base)
		return -EINVAL;
	if (!vm->ops.mmio_defer)
		return -ENOTSUP;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	ranges = vm->mmio.data;
	at = mmio_lower_bound(vm, base);
	if (at >= vm->mmio.count || ranges[at].base > base || ranges[at].last < base + size - 1)
		r = -ENOENT;
	else if (ranges[at].defer_size)
		r = -EEXIST;
	else
		r = vm->ops.mmio_defer(vm, base, size, true);
	if (!r) {
		ranges[at].defer_base = base;
		ranges[at].defer_size = size;
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

static bool conduits_valid(uint32_t conduits)
{
	return conduits && !(conduits & ~(uint32_t)(HYP_CONDUIT_HVC | HYP_CONDUIT_SMC));
}

HYP_API int hyp_vm_add_smccc_handler(struct hyp_vm *vm, uint32_t conduits, uint32_t first,
				     uint32_t last, hyp_smccc_fn fn, void *opaque)
{
	struct hyp_smccc_range range = {
		.first = first, .last = last, .conduits = conduits, .fn = fn, .opaque = opaque
	};
	const struct hyp_smccc_range *ranges;
	uint32_t at = 0;
	int r = 0;

	if (!vm || !fn || first > last || !conduits_valid(conduits))
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	/* Ranges on different conduits may overlap, so keep it simple: a linear scan, sorted by
	 * first ID for the lookup. */
	ranges = vm->smccc.data;
	for (uint32_t i = 0; i < vm->smccc.count; i++) {
		if ((ranges[i].conduits & conduits) && ranges[i].first <= last &&
		    first <= ranges[i].last) {
			r = -EEXIST;
			break;
		}
		if (ranges[i].first <= first)
			at = i + 1;
	}
	if (!r && vm->ops.smccc_route)
		r = vm->ops.smccc_route(vm, conduits, first, last, true);
	if (!r)
		r = hyp__vec_insert(vm, &vm->smccc, sizeof(range), at, &range,
				    HYP_MAX_SMCCC_RANGES);
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_remove_smccc_handler(struct hyp_vm *vm, uint32_t conduits, uint32_t first)
{
	const struct hyp_smccc_range *ranges;
	int r = -ENOENT;

	if (!vm || !conduits_valid(conduits))
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	ranges = vm->smccc.data;
	for (uint32_t i = 0; i < vm->smccc.count; i++) {
		if (ranges[i].first == first && ranges[i].conduits == conduits) {
			r = vm->ops.smccc_route ? vm->ops.smccc_route(vm, conduits, first,
								      ranges[i].last, false) :
						  0;
			if (!r)
				hyp__vec_remove(&vm->smccc, sizeof(*ranges), i);
			break;
		}
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

/* Index of the first sysreg handler with encoding >= @encoding. */
static uint32_t sysreg_lower_bound(const struct hyp_vm *vm, uint32_t encoding)
{
	const struct hyp_sysreg_handler *h = vm->sysregs.data;
	uint32_t lo = 0, hi = vm->sysregs.count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (h[mid].encoding < encoding)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

HYP_API int hyp_vm_add_sysreg_handler(struct hyp_vm *vm, uint32_t encoding, hyp_sysreg_fn fn,
				      void *opaque)
{
	struct hyp_sysreg_handler handler = { .encoding = encoding, .fn = fn, .opaque = opaque };
	const struct hyp_sysreg_handler *handlers;
	uint64_t can_trap;
	uint32_t at;
	int r;

	if (!vm || !fn || encoding > 0xffff)
		return -EINVAL;
	if (hyp_vm_query_cap(vm, HYP_CAP_SYSREG_TRAPS, &can_trap) || !can_trap)
		return -ENOTSUP;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	handlers = vm->sysregs.data;
	at = sysreg_lower_bound(vm, encoding);
	if (at < vm->sysregs.count && handlers[at].encoding == encoding)
		r = -EEXIST;
	else
		r = hyp__vec_insert(vm, &vm->sysregs, sizeof(handler), at, &handler,
				    HYP_MAX_SYSREG_HANDLERS);
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_remove_sysreg_handler(struct hyp_vm *vm, uint32_t encoding)
{
	const struct hyp_sysreg_handler *handlers;
	uint32_t at;
	int r = -ENOENT;

	if (!vm || encoding > 0xffff)
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	handlers = vm->sysregs.data;
	at = sysreg_lower_bound(vm, encoding);
	if (at < vm->sysregs.count && handlers[at].encoding == encoding) {
		hyp__vec_remove(&vm->sysregs, sizeof(*handlers), at);
		r = 0;
	}
	hyp__vm_reconfigure_end(vm);
	return r;
}

HYP_API int hyp_vm_set_exit_handler(struct hyp_vm *vm, enum hyp_exit_reason reason, hyp_exit_fn fn,
				    void *opaque)
{
	struct hyp_exit_handler *slot;
	int r = 0;

	if (!vm || reason <= HYP_EXIT_NONE || reason >= HYP_EXIT_REASON_COUNT ||
	    reason == HYP_EXIT_KICKED || reason == HYP_EXIT_SYSTEM_EVENT)
		return -EINVAL;
	if (!hyp__vm_reconfigure_begin(vm))
		return -EBUSY;
	slot = &vm->exit_handlers[reason];
	if (fn && slot->fn)
		r = -EEXIST;
	else if (!fn && !slot->fn)
		r = -ENOENT;
	else
		*slot = (struct hyp_exit_handler){ .fn = fn, .opaque = opaque };
	hyp__vm_reconfigure_end(vm);
	return r;
}

/* Lookups used by the exit path (lib/core/run.c). */
const struct hyp_mmio_range *hyp__mmio_find_slow(const struct hyp_vm *vm, hyp_ipa_t ipa,
						 const struct hyp_mmio_range **hint)
{
	const struct hyp_mmio_range *ranges = vm->mmio.data;
	uint32_t at = mmio_lower_bound(vm, ipa);

	if (at < vm->mmio.count && ranges[at].base <= ipa) {
		*hint = &ranges[at];
		return *hint;
	}
	return NULL;
}

const struct hyp_smccc_range *hyp__smccc_find_slow(const struct hyp_vm *vm, uint32_t conduit,
						   uint32_t function_id,
						   const struct hyp_smccc_range **hint)
{
	const struct hyp_smccc_range *ranges = vm->smccc.data;

	for (uint32_t i = 0; i < vm->smccc.count && ranges[i].first <= function_id; i++) {
		if ((ranges[i].conduits & conduit) && function_id <= ranges[i].last) {
			*hint = &ranges[i];
			return *hint;
		}
	}
	return NULL;
}

const struct hyp_sysreg_handler *hyp__sysreg_find(const struct hyp_vm *vm, uint32_t encoding)
{
	const struct hyp_sysreg_handler *handlers = vm->sysregs.data;
	uint32_t at = sysreg_lower_bound(vm, encoding);

	if (at < vm->sysregs.count && handlers[at].encoding == encoding)
		return &handlers[at];
	return NULL;
}
