/* SPDX-License-Identifier: MIT */
/* Plumbing shared by the device models: locks, interrupt lines, output sinks, guest buffers. */
#include "hyp_string.h"

#include "dev-internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <sys/eventfd.h>
#include <unistd.h>
#endif

int hyp__dev_lock_init(struct hyp__dev_lock *lock)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	pthread_mutexattr_t attr;
	int r = pthread_mutexattr_init(&attr);

	/* Error-checking, so that a thread re-entering a device it holds (a callback calling back
	 * in) can be told apart from contention: hyp__dev_lock_checked(). */
	if (!r)
		r = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(&lock->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return r ? -r : 0;
#else
	atomic_flag_clear(&lock->flag);
	return 0;
#endif
}

void hyp__dev_lock_fini(struct hyp__dev_lock *lock)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	pthread_mutex_destroy(&lock->mutex);
#else
	(void)lock;
#endif
}

void hyp__dev_lock(struct hyp__dev_lock *lock)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	int r = pthread_mutex_lock(&lock->mutex);

	hyp__assert(r == 0);
#else
	while (atomic_flag_test_and_set_explicit(&lock->flag, memory_order_acquire))
		hyp__cpu_relax();
#endif
}

int hyp__dev_lock_checked(struct hyp__dev_lock *lock)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	int r = pthread_mutex_lock(&lock->mutex);

	if (r == EDEADLK)
		return -EDEADLK;
	hyp__assert(r == 0);
#else
	hyp__dev_lock(lock);
#endif
	return 0;
}

void hyp__dev_unlock(struct hyp__dev_lock *lock)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	int r = pthread_mutex_unlock(&lock->mutex);

	hyp__assert(r == 0);
#else
	atomic_flag_clear_explicit(&lock->flag, memory_order_release);
#endif
}

int hyp__dev_irq_init(struct hyp__dev_irq *irq, struct hyp_vm *vm, uint32_t intid, uint32_t flags)
{
	uint64_t can_inject = 0;

	irq->vm = vm;
	irq->level = false;
	irq->intid = 0;
#if defined(HYP_HOSTED) && HYP_HOSTED
	irq->irqfd = -1;
	irq->irqfd_wanted = (flags & HYP_DEV_IO_THREAD) != 0;
#endif
	if (flags & HYP_DEV_NO_IRQ)
		return 0;
	if (intid < HYP_INTID_SPI_BASE || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	/* Ask, but do not touch the line: on KVM the first injection initialises the in-kernel
	 * GIC, after which no vCPU can be added, and devices are usually created before vCPUs.
	 * Lines start low, so the first change is an assertion. */
	if (hyp_vm_query_cap(vm, HYP_CAP_IRQ_INJECTION, &can_inject) || !can_inject)
		return -ENOTSUP;
	/* A GIC sized when the VM first runs includes this line. */
	hyp_vm_claim_spi(vm, intid);
	irq->intid = intid;
	return 0;
}

#if defined(HYP_HOSTED) && HYP_HOSTED
/* The first rising edge of a line that wants an irqfd: register one (the line is low). Where the
 * backend has none (-ENOTSUP: mock), hyp_vm_set_spi() goes on serving the line. */
static void irqfd_setup(struct hyp__dev_irq *irq)
{
	int fd, r;

	irq->irqfd_wanted = false;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		dev_dbg(irq->vm, "dev: INTID %u: eventfd: %s; no irqfd", irq->intid,
			hyp_strerror(-errno));
		return;
	}
	r = hyp_vm_add_irqfd(irq->vm, irq->intid, fd);
	if (r) {
		dev_dbg(irq->vm, "dev: INTID %u: no irqfd (%s): hyp_vm_set_spi() it is", irq->intid,
			hyp_strerror(r));
		close(fd);
		return;
	}
	dev_dbg(irq->vm, "dev: INTID %u: raised through an irqfd", irq->intid);
	irq->irqfd = fd;
}
#endif

void hyp__dev_irq_set(struct hyp__dev_irq *irq, bool level)
{
	int r;

	if (!irq->intid || irq->level == level)
		return;
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (level && irq->irqfd_wanted)
		irqfd_setup(irq);
	if (irq->irqfd >= 0) {
		/* An edge: the GIC latches it, and the falling half comes with it. */
		uint64_t one = 1;

		if (level)
			while (write(irq->irqfd, &one, sizeof(one)) < 0 && errno == EINTR)
				;
		irq->level = level;
		return;
	}
#endif
	r = hyp_vm_set_spi(irq->vm, irq->intid, level);
	if (r) {
		/* E.g. an INTID beyond the SPIs the GIC implements: the guest sees no interrupt,
		 * as on hardware wired to a missing line. Tried again at the next change. */
		dev_dbg(irq->vm, "dev: INTID %u: hyp_vm_set_spi: %s", irq->intid, hyp_strerror(r));
		return;
	}
	irq->level = level;
}

void hyp__dev_irq_fini(struct hyp__dev_irq *irq)
{
	hyp__dev_irq_set(irq, false);
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (irq->irqfd >= 0) {
		hyp_vm_remove_irqfd(irq->vm, irq->intid, irq->irqfd);
		close(irq->irqfd);
		irq->irqfd = -1;
	}
#endif
}

int hyp__dev_sink_init(struct hyp__dev_sink *sink, uint32_t flags, hyp_dev_tx_fn fn, void *opaque,
		       int32_t fd)
{
	sink->fn = fn;
	sink->opaque = opaque;
	sink->fd = -1;
	if (!(flags & HYP_DEV_TX_FD))
		return 0;
	if (fn || fd < 0)
		return -EINVAL;
#if defined(HYP_HOSTED) && HYP_HOSTED
	sink->fd = fd;
	return 0;
#else
	return -ENOTSUP;
#endif
}

void hyp__dev_sink_write(struct hyp_vm *vm, const struct hyp__dev_sink *sink, const void *bytes,
			 size_t len)
{
	if (!len)
		return;
	if (sink->fn) {
		sink->fn(sink->opaque, bytes, len);
		return;
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (sink->fd >= 0) {
		const char *p = bytes;

		while (len) {
			ssize_t n = write(sink->fd, p, len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* A console that cannot keep up loses output, like a real line. */
				dev_dbg(vm, "dev: output to fd %d dropped (%zu bytes)", sink->fd,
					len);
				return;
			}
			p += n;
			len -= (size_t)n;
		}
	}
#else
	(void)vm;
#endif
}

int64_t hyp__dev_guest_span(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len, bool writable,
			    void **host)
{
	uint64_t span;
	void *p;

	if (!len || ipa + len < ipa || len > (uint64_t)SIZE_MAX || len > (uint64_t)INT64_MAX)
		return -EFAULT;
	if (hyp_vm_guest_span(vm, ipa, writable, &p, &span))
		return -EFAULT;
	*host = p;
	return (int64_t)(span < len ? span : len);
}

bool hyp__dev_guest_range_ok(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len, bool writable)
{
	while (len) {
		void *host;
		int64_t n = hyp__dev_guest_span(vm, ipa, len, writable, &host);

		if (n < 0)
			return false;
		ipa += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return true;
}

int hyp__dev_copy_config(void *dst, size_t dst_size, size_t min_size, const void *src)
{
	uint32_t size;

	/* Every device config starts with its uint32_t size, like struct hyp_vm_config. */
	memcpy(&size, src, sizeof(size));
	return hyp__copy_sized_config(dst, dst_size, min_size, src, size);
}
