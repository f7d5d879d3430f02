/* SPDX-License-Identifier: MIT */
/*
 * The I/O thread of a virtio device (HYP_DEV_IO_THREAD): the driver's queue notifications reach
 * it through eventfds instead of the MMIO callback, and it serves the queues while the vCPUs go
 * on.
 *
 * Each queue gets an eventfd that QueueNotify writes of its index signal
 * (hyp_vm_add_mmio_eventfd(); on kvm KVM_IOEVENTFD: no exit to the VMM). The thread sleeps in
 * poll(2) on them and on a stop eventfd. At each wake-up it drains the counters and, with the
 * device lock and a hold of the VM's memory map (hyp_vm_hold_memory()), serves every queue that
 * was notified: queue_notify() takes all the requests the ring holds, so notifications that came
 * meanwhile are one batch. The interrupt goes out as the synchronous path raises it
 * (hyp__virtio_update_irq()); hyp__dev_irq_set() sends it through an irqfd where the backend has
 * them.
 *
 * Lock order: the device lock, then the hold. Nothing that holds the memory map (a running vCPU,
 * a hold) waits for this device's lock except through its MMIO callback, and a change of the map
 * waits for holds without taking device locks, so the order cannot close a cycle.
 */
#include "virtio.h"

#if defined(HYP_HOSTED) && HYP_HOSTED

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct hyp__virtio_worker {
	pthread_t thread;
	int stop_fd;
	int notify_fd[HYP__VIRTIO_MAX_QUEUES];
	uint32_t nr_queues;
	/* Registered with hyp_vm_add_mmio_eventfd(): notify_fd[0..nr_registered - 1]. */
	uint32_t nr_registered;
};

/* Take an eventfd's count (non-blocking): true if there was one. */
static bool drain(int fd)
{
	uint64_t count;
	ssize_t n;

	do
		n = read(fd, &count, sizeof(count));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(count);
}

/* One batch: the queues notified, and those a batch left unfinished (its budget ran out: the
 * driver may not notify again). Returns the queues to serve again, after the lock has been free
 * for a moment (a vCPU reading the device's registers gets in between). */
static uint32_t serve(struct hyp__virtio *vdev, uint32_t notified)
{
	uint32_t again = 0;

	hyp__dev_lock(&vdev->lock);
	/* Cannot fail: a valid VM, and one hold per device thread. */
	(void)hyp_vm_hold_memory(vdev->vm);
	for (uint32_t q = 0; q < vdev->ops->num_queues; q++) {
		if (!(notified & (1u << q)) || !hyp__vq_usable(vdev, q))
			continue;
		vdev->vq[q].unfinished = false;
		vdev->ops->queue_notify(vdev, q);
		if (vdev->vq[q].unfinished)
			again |= 1u << q;
	}
	(void)hyp_vm_release_memory(vdev->vm);
	hyp__virtio_end_access(vdev);
	return again;
}

static void *worker_main(void *arg)
{
	struct hyp__virtio *vdev = arg;
	struct hyp__virtio_worker *w = vdev->worker;
	struct pollfd pfd[HYP__VIRTIO_MAX_QUEUES + 1];

	for (uint32_t q = 0; q < w->nr_queues; q++)
		pfd[q] = (struct pollfd){ .fd = w->notify_fd[q], .events = POLLIN };
	pfd[w->nr_queues] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
	for (uint32_t again = 0;;) {
		uint32_t notified = again;

		/* Work left over from the last batch: look at the eventfds without waiting. */
		if (poll(pfd, w->nr_queues + 1, again ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot happen with valid descriptors; do not spin on it. */
			dev_err(vdev->vm, "%s@%#llx: I/O thread: poll: %s; it stops", vdev->name,
				(unsigned long long)vdev->base, hyp_strerror(-errno));
			break;
		}
		if (pfd[w->nr_queues].revents)
			break;
		for (uint32_t q = 0; q < w->nr_queues; q++)
			if (pfd[q].revents && drain(w->notify_fd[q]))
				notified |= 1u << q;
		again = notified ? serve(vdev, notified) : 0;
	}
	return NULL;
}

static void close_fds(struct hyp__virtio_worker *w)
{
	for (uint32_t q = 0; q < w->nr_queues; q++)
		if (w->notify_fd[q] >= 0)
			close(w->notify_fd[q]);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
}

static void unregister(struct hyp__virtio *vdev, struct hyp__virtio_worker *w)
{
	for (uint32_t q = 0; q < w->nr_registered; q++)
		hyp_vm_remove_mmio_eventfd(vdev->vm, vdev->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
					   HYP_MMIO_EVENTFD_MATCH_VALUE);
	w->nr_registered = 0;
}

int hyp__virtio_worker_start(struct hyp__virtio *vdev)
{
	struct hyp__virtio_worker *w =
		hyp_vm_alloc(vdev->vm, sizeof(*w), _Alignof(struct hyp__virtio_worker));
	int r = 0;

	if (!w)
		return -ENOMEM;
	w->nr_queues = vdev->ops->num_queues;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (uint32_t q = 0; q < w->nr_queues; q++)
		w->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		r = -errno;
	for (uint32_t q = 0; q < w->nr_queues && !r; q++)
		if (w->notify_fd[q] < 0)
			r = -errno;
	for (uint32_t q = 0; q < w->nr_queues && !r; q++) {
		r = hyp_vm_add_mmio_eventfd(vdev->vm, vdev->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
					    HYP_MMIO_EVENTFD_MATCH_VALUE, w->notify_fd[q]);
		if (!r)
			w->nr_registered++;
	}
	if (!r) {
		vdev->worker = w;
		r = -pthread_create(&w->thread, NULL, worker_main, vdev);
		if (r)
			vdev->worker = NULL;
	}
	if (!r)
		dev_dbg(vdev->vm,
			"%s@%#llx: I/O thread serves %u queue(s), notified through eventfds",
			vdev->name, (unsigned long long)vdev->base, w->nr_queues);
	if (r) {
		dev_err(vdev->vm, "%s@%#llx: no I/O thread: %s", vdev->name,
			(unsigned long long)vdev->base, hyp_strerror(r));
		unregister(vdev, w);
		close_fds(w);
		hyp_vm_free(vdev->vm, w, sizeof(*w));
	}
	return r;
}

void hyp__virtio_worker_stop(struct hyp__virtio *vdev)
{
	struct hyp__virtio_worker *w = vdev->worker;
	uint64_t one = 1;

	if (!w)
		return;
	/* Notifications go back to the MMIO callback first (the range may be gone already: its
	 * eventfds went with it), then the thread finishes its batch and ends. */
	unregister(vdev, w);
	while (write(w->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(w->thread, NULL);
	close_fds(w);
	vdev->worker = NULL;
	hyp_vm_free(vdev->vm, w, sizeof(*w));
}

#else /* freestanding: no threads, no file descriptors */

int hyp__virtio_worker_start(struct hyp__virtio *vdev)
{
	(void)vdev;
	return -ENOTSUP;
}

void hyp__virtio_worker_stop(struct hyp__virtio *vdev)
{
	(void)vdev;
}

#endif
