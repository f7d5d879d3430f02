/* SPDX-License-Identifier: MIT */
/*
 * Shared plumbing of the device models (lib/dev): a per-device lock, the interrupt line, the output
 * sink, and host access to guest buffers. The models themselves only use the public API for what
 * touches the VM (MMIO ranges, SPIs, guest memory); these helpers just keep them short.
 */
#ifndef HYP_DEV_INTERNAL_H
#define HYP_DEV_INTERNAL_H

#include <libhyp/dev.h>

#include "internal.h"

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

/* An SPI line driven through hyp_vm_set_spi(), remembering its level so that only changes reach
 * the backend. Callers hold the device lock, which orders the changes. */
struct hyp__dev_irq {
	struct hyp_vm *vm;
	uint32_t intid; /* 0: no line (HYP_DEV_NO_IRQ) */
	bool level;
};

/* Check @intid is an SPI and the VM can inject interrupts (unless @flags has HYP_DEV_NO_IRQ). */
int hyp__dev_irq_init(struct hyp__dev_irq *irq, struct hyp_vm *vm, uint32_t intid, uint32_t flags);
void hyp__dev_irq_set(struct hyp__dev_irq *irq, bool level);

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
 * that lies in one memory region. Regions are page-granular (hyp_vm_map()), so a range spanning
 * several resolves page by page. Returns the prefix length (> 0) and *@host, or -EFAULT if the
 * first byte is not (writable, if asked) guest RAM or the range wraps.
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

/* Store a 16/32/64-bit little-endian value. Guests and virtio are little-endian by definition. */
static inline void hyp__put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void hyp__put_le32(uint8_t *p, uint32_t v)
{
	hyp__put_le16(p, (uint16_t)v);
	hyp__put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void hyp__put_le64(uint8_t *p, uint64_t v)
{
	hyp__put_le32(p, (uint32_t)v);
	hyp__put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t hyp__get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t hyp__get_le32(const uint8_t *p)
{
	return hyp__get_le16(p) | (uint32_t)hyp__get_le16(p + 2) << 16;
}

static inline uint64_t hyp__get_le64(const uint8_t *p)
{
	return hyp__get_le32(p) | (uint64_t)hyp__get_le32(p + 4) << 32;
}

#endif /* HYP_DEV_INTERNAL_H */
