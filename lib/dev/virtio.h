/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport (version 2) and split virtqueues, shared by the virtio device models.
 * References are to the virtio 1.2 specification: 2.1 status, 2.2 feature bits, 2.7 split
 * virtqueues, 4.2.2 the MMIO register layout.
 *
 * A device embeds struct hyp__virtio first and supplies struct hyp__virtio_ops. Everything here
 * runs with the device lock held: the transport takes it around every MMIO access before calling
 * the device, and device entry points called by the VMM take it themselves.
 */
#ifndef HYP_DEV_VIRTIO_H
#define HYP_DEV_VIRTIO_H

#include "dev-internal.h"

/* Feature bits (2.2, 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* InterruptStatus bits (4.2.2). */
#define VIRTIO_MMIO_INT_VRING 0x1u
#define VIRTIO_MMIO_INT_CONFIG 0x2u

/* The most queues a libhyp virtio device has, and the largest queue it offers. */
#define HYP__VIRTIO_MAX_QUEUES 2u
#define HYP__VQ_MAX_SIZE 256u

/* One buffer of a descriptor chain, as the guest described it (not yet validated). */
struct hyp__vq_seg {
	uint64_t addr;
	uint32_t len;
	bool writable; /* VIRTQ_DESC_F_WRITE: the device writes it */
};

/*
 * A descriptor chain taken from the available ring. Device-readable buffers form one byte stream
 * (the request), device-writable ones another (the response), whatever their arrangement in
 * descriptors (VERSION_1 implies any layout, 2.7.4).
 */
struct hyp__vq_chain {
	uint16_t head;
	uint32_t nseg;
	const struct hyp__vq_seg *seg;
	uint64_t readable; /* bytes in the readable stream */
	uint64_t writable; /* bytes in the writable stream */
	bool misordered;   /* a readable buffer follows a writable one (2.7.4.2 forbids it) */
};

struct hyp__vq {
	uint32_t num; /* QueueNum */
	bool ready;   /* QueueReady */
	uint64_t desc, avail, used;
	uint16_t last_avail; /* the next available ring slot to consume */
	uint16_t used_idx;   /* our copy of used->idx */
	uint32_t gen;	     /* changes whenever the queue is reset or enabled again */
	/* The device stopped serving it with buffers perhaps left (its budget per call ran out):
	 * serve it again soon, since the driver, told by avail_event that we are busy, may not
	 * notify again (hyp__virtio_serve_unfinished(), the I/O thread). */
	bool unfinished;
};

struct hyp__virtio;
struct hyp__virtio_worker;

/* The QueueNotify register's offset in the virtio-mmio window (4.2.2). */
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050

struct hyp__virtio_ops {
	uint32_t device_id;
	uint32_t num_queues;
	uint32_t config_size; /* bytes of device configuration space, <= 64 */
	/* Fill @config (config_size bytes) with the current configuration space. */
	void (*get_config)(struct hyp__virtio *vdev, uint8_t *config);
	/* A driver write of @len bytes at @offset inside the configuration space (may be NULL). */
	void (*set_config)(struct hyp__virtio *vdev, uint32_t offset, uint32_t len, uint64_t value);
	/* Serve queue @queue: called when the driver notifies it, and when DRIVER_OK is set,
	 * only while the device is live and the queue ready. */
	void (*queue_notify)(struct hyp__virtio *vdev, uint32_t queue);
	/* The driver reset the device (may be NULL). */
	void (*reset)(struct hyp__virtio *vdev);
	/* Called without the lock after an MMIO access during which the device set
	 * @host_notify_pending (may be NULL). */
	void (*host_notify)(struct hyp__virtio *vdev);
};

struct hyp__virtio {
	struct hyp_vm *vm;
	const struct hyp__virtio_ops *ops;
	const char *name;
	hyp_ipa_t base;
	uint64_t device_features;
	struct hyp__dev_lock lock;
	struct hyp__dev_irq irq;
	bool io_thread; /* HYP_DEV_IO_THREAD: notifications go to @worker */
	struct hyp__virtio_worker *worker;
	bool host_notify_pending;
	bool warned;

	uint32_t status;
	uint32_t isr;
	uint32_t isr_unseen; /* set in @isr since the driver last read InterruptStatus */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t config_generation;
	struct hyp__vq vq[HYP__VIRTIO_MAX_QUEUES];
	/* Scratch for the chain being served: a chain never has more buffers than the queue. */
	struct hyp__vq_seg seg[HYP__VQ_MAX_SIZE];
};

/* Set up the transport in @vdev (zeroed by the caller): lock, interrupt line, reset state. */
int hyp__virtio_init(struct hyp__virtio *vdev, struct hyp_vm *vm, const struct hyp__virtio_ops *ops,
		     const char *name, uint64_t device_features, hyp_ipa_t base, uint32_t intid,
		     uint32_t flags);
/* Register the MMIO window; on failure the transport is released (as by hyp__virtio_fini). */
int hyp__virtio_attach(struct hyp__virtio *vdev);
/* Remove the MMIO window and release the transport; -EBUSY (and nothing done) while running. */
int hyp__virtio_detach(struct hyp__virtio *vdev);
/* Release what hyp__virtio_init() set up. */
void hyp__virtio_fini(struct hyp__virtio *vdev);

/* The driver finished initialisation and the device works: buffers may be consumed (2.1). */
bool hyp__virtio_live(const struct hyp__virtio *vdev);
/* Live, and queue @q exists and is ready. */
bool hyp__vq_usable(const struct hyp__virtio *vdev, uint32_t q);

/* virtio-worker.c: the I/O thread (HYP_DEV_IO_THREAD). Start it once the MMIO window is
 * registered (its queue notifications become eventfds); stop it once the window is gone or
 * before. Start fails with -ENOTSUP in the freestanding build. */
int hyp__virtio_worker_start(struct hyp__virtio *vdev);
void hyp__virtio_worker_stop(struct hyp__virtio *vdev);

/* The device cannot go on: set DEVICE_NEEDS_RESET and tell the driver (2.1.2). */
void hyp__virtio_needs_reset(struct hyp__virtio *vdev, const char *why);
/* Serve, once more, each queue of @queues (a bit mask) the device left unfinished (struct
 * hyp__vq.unfinished); lock held. Returns those still unfinished, as a bit mask. */
uint32_t hyp__virtio_serve_unfinished(struct hyp__virtio *vdev, uint32_t queues);
/* Drive the interrupt line from InterruptStatus. */
void hyp__virtio_update_irq(struct hyp__virtio *vdev);
/* The end of an access under the lock (an MMIO access, an I/O thread's batch): the interrupt line
 * brought up to date, the lock dropped, then the device's host_notify if it asked for one. */
void hyp__virtio_end_access(struct hyp__virtio *vdev);

/*
 * Take the next chain from queue @q's available ring into @chain (which points into vdev->seg).
 * Returns 1 with a chain, 0 if the ring is empty, or -EPROTO if the ring or the chain is malformed;
 * the device is then in DEVICE_NEEDS_RESET.
 */
int hyp__vq_pop(struct hyp__virtio *vdev, uint32_t q, struct hyp__vq_chain *chain);
/* Return a chain to the driver through the used ring: @written bytes of its writable stream were
 * filled. Marks the used-buffer interrupt unless the driver suppressed it. */
void hyp__vq_push(struct hyp__virtio *vdev, uint32_t q, const struct hyp__vq_chain *chain,
		  uint32_t written);

/* Called for each host-contiguous piece of a stream range: @pos is the piece's offset from the
 * start of the range, @ipa its guest address. A non-zero return stops the walk and is
 * returned. */
typedef int (*hyp__vq_piece_fn)(void *ctx, void *host, size_t len, uint64_t pos, uint64_t ipa);

/*
 * Walk [@offset, @offset + @len) of the chain's writable (@writable) or readable stream in host
 * pieces. Validates the whole range first: returns -EFAULT without calling @fn if the range is
 * beyond the stream or any byte of it is not guest RAM (writable guest RAM for the writable
 * stream). Otherwise returns 0 or @fn's first non-zero result.
 */
int hyp__vq_walk(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, bool writable,
		 uint64_t offset, uint64_t len, hyp__vq_piece_fn fn, void *ctx);
/* hyp__vq_walk() in one pass: @fn sees each piece as soon as it is checked, so a bad byte later
 * in the range fails the walk after @fn has seen the pieces before it. For an @fn that does
 * nothing irreversible until the walk has ended (gathering an iovec array). @fn NULL: the check
 * alone. Unlike hyp__vq_walk(), it marks nothing dirty: whoever writes the guest's pieces later
 * marks them (hyp_backend_mark_dirty()) once written. */
int hyp__vq_walk_once(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, bool writable,
		      uint64_t offset, uint64_t len, hyp__vq_piece_fn fn, void *ctx);
/* Copy out of the readable stream / into the writable stream; 0 or -EFAULT (nothing copied). */
int hyp__vq_read(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, uint64_t offset,
		 void *dst, size_t len);
int hyp__vq_write(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, uint64_t offset,
		  const void *src, size_t len);

#endif /* HYP_DEV_VIRTIO_H */
