/* SPDX-License-Identifier: MIT */
/*
 * Shared plumbing of the device models (lib/dev): a per-device lock, the interrupt line, the output
 * sink, and host access to guest buffers. lib/dev is a client of the public API, as a VMM author's
 * own device would be: it never sees the core's internals (internal.h), only libhyp's headers and
 * the freestanding helpers below (byte order, sized configs, assertions).
 */
#ifndef HYP_DEV_INTERNAL_H
#define HYP_DEV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libhyp/dev.h>
#include <libhyp/hyp.h>

#include "hyp_base.h"
#include "hyp_bytes.h"
#include "hyp_errno.h"
#include "hyp_sized_config.h"
#include "hyp_string.h"

/* Logging through the VM's handler (hyp_vm_log()). */
#define dev_err(vm, ...) hyp_vm_log(vm, HYP_LOG_ERROR, __VA_ARGS__)
#define dev_warn(vm, ...) hyp_vm_log(vm, HYP_LOG_WARNING, __VA_ARGS__)
#define dev_dbg(vm, ...) hyp_vm_log(vm, HYP_LOG_DEBUG, __VA_ARGS__)

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <pthread.h>
#endif

/*
 * A device lock. vCPU threads (MMIO) and VMM threads (input, polling) meet here. Hosted builds
 * sleep on a mutex, since a holder may be writing to a file; at EL2 there is no scheduler and the
 * critical sections are short, so a spinlock.
 */
struct hyp__dev_lock {
#if defined(HYP_HOSTED) && HYP_HOSTED
	pthread_mutex_t mutex;
#else
	atomic_flag flag;
#endif
};

int hyp__dev_lock_init(struct hyp__dev_lock *lock);
void hyp__dev_lock_fini(struct hyp__dev_lock *lock);
void hyp__dev_lock(struct hyp__dev_lock *lock);
void hyp__dev_unlock(struct hyp__dev_lock *lock);
/* Lock for an entry point a device's own callback may call: -EDEADLK, and not locked, if the
 * calling thread already holds it. Hosted builds only: the EL2 spinlock has no owner to compare. */
int hyp__dev_lock_checked(struct hyp__dev_lock *lock);

/* An SPI line driven through hyp_vm_set_spi(), remembering its level so that only changes reach
 * the backend. Callers hold the device lock, which orders the changes. */
struct hyp__dev_irq {
	struct hyp_vm *vm;
	uint32_t intid; /* 0: no line (HYP_DEV_NO_IRQ) */
	bool level;
#if defined(HYP_HOSTED) && HYP_HOSTED
	/* HYP_DEV_IO_THREAD: rising edges write this eventfd, registered with hyp_vm_add_irqfd()
	 * at the first one (the GIC is set up by then: registering earlier would fix the vCPU
	 * count on kvm); -1 while there is none. @irqfd_wanted: not tried yet. */
	int irqfd;
	bool irqfd_wanted;
#endif
};

/* Check @intid is an SPI and the VM can inject interrupts (unless @flags has HYP_DEV_NO_IRQ). */
int hyp__dev_irq_init(struct hyp__dev_irq *irq, struct hyp_vm *vm, uint32_t intid, uint32_t flags);
void hyp__dev_irq_set(struct hyp__dev_irq *irq, bool level);
/* Lower the line and give back an irqfd. */
void hyp__dev_irq_fini(struct hyp__dev_irq *irq);

/* Where guest output goes: a callback, a file descriptor (hosted), or nowhere. */
struct hyp__dev_sink {
	hyp_dev_tx_fn fn;
	void *opaque;
	int fd; /* -1: none */
};

int hyp__dev_sink_init(struct hyp__dev_sink *sink, uint32_t flags, hyp_dev_tx_fn fn, void *opaque,
		       int32_t fd);
void hyp__dev_sink_write(struct hyp_vm *vm, const struct hyp__dev_sink *sink, const void *bytes,
			 size_t len);

/*
 * The host address of the guest range starting at @ipa: the longest prefix of [@ipa, @ipa + @len)
 * that lies in one memory region (hyp_vm_guest_span()). Returns the prefix length (> 0) and
 * *@host, or -EFAULT if the first byte is not (writable, if asked) guest RAM or the range wraps.
 */
int64_t hyp__dev_guest_span(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len, bool writable,
			    void **host);

/* Whether all of [@ipa, @ipa + @len) is (writable) guest RAM. */
bool hyp__dev_guest_range_ok(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len, bool writable);

/* The bytes of a 32-bit register seen by a narrower access at byte @offset within it. */
static inline uint64_t hyp__dev_subword(uint32_t value, uint64_t offset)
{
	return (uint64_t)(value >> ((offset & 3) * 8));
}

/* Common validation and allocation of a device config: copy the caller's sized struct. */
int hyp__dev_copy_config(void *dst, size_t dst_size, size_t min_size, const void *src);

#endif /* HYP_DEV_INTERNAL_H */
