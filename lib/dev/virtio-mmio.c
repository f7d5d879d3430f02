/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio, version 2 (virtio 1.2, 4.2.2), and split virtqueues (2.7).
 *
 * Every ring index, descriptor field and buffer comes from guest memory that other vCPUs may be
 * changing while we look. So each ring entry and descriptor is copied out once and only the copy
 * is used; every index is range-checked against the queue; a chain may not visit more descriptors
 * than the queue holds (which also ends loops); rings are checked against guest RAM when the
 * driver enables the queue, buffers when a device uses them. Guest memory is only reached
 * through hyp_vm_read_guest()/write_guest()/guest_ptr(), which refuse anything outside RAM; ring
 * indexes and entries with single atomic accesses (ring_load16()).
 */
#include "hyp_string.h"

#include <libhyp/backend.h>

#include "virtio.h"

/* Register offsets (4.2.2, table "MMIO Device Register Layout"). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
/* VendorID: "LHYP" as a little-endian word; drivers match on DeviceID only. */
#define VIRTIO_MMIO_VENDOR 0x5059484cu

/* Split virtqueue layout (2.7.5, 2.7.6, 2.7.8). */
#define VIRTQ_DESC_SIZE 16u
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_ELEM_SIZE 8u

#define CONFIG_SPACE_MAX 64u

/* The rings a queue of @num entries occupies, with the trailing used_event / avail_event words
 * when VIRTIO_RING_F_EVENT_IDX is negotiated (2.7.10). */
static uint64_t avail_bytes(uint32_t num, bool event_idx)
{
	return 4 + 2 * (uint64_t)num + (event_idx ? 2 : 0);
}

static uint64_t used_bytes(uint32_t num, bool event_idx)
{
	return 4 + VIRTQ_USED_ELEM_SIZE * (uint64_t)num + (event_idx ? 2 : 0);
}

static bool event_idx(const struct hyp__virtio *vdev)
{
	return vdev->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
}

static void vq_reset(struct hyp__vq *vq)
{
	uint32_t gen = vq->gen;

	memset(vq, 0, sizeof(*vq));
	vq->num = HYP__VQ_MAX_SIZE;
	vq->gen = gen + 1;
}

bool hyp__virtio_live(const struct hyp__virtio *vdev)
{
	return (vdev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |
				VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) ==
	       (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK);
}

bool hyp__vq_usable(const struct hyp__virtio *vdev, uint32_t q)
{
	return q < vdev->ops->num_queues && vdev->vq[q].ready && hyp__virtio_live(vdev);
}

/*
 * An event for the driver: its InterruptStatus bit, which the driver's next read of the register
 * sees; until then the bit is "unseen" and an acknowledgement cannot clear it (see the ACK
 * register). Each event gets an edge of its own (the virtio interrupt is edge-triggered in the
 * device tree) unless one the driver has not read yet covers it: the line is lowered here and
 * raised by the caller's hyp__virtio_update_irq(). Without that, an event raised after the driver
 * read InterruptStatus but before its acknowledgement arrived (late, when the backend defers it:
 * hyp__virtio_attach()) would find the line high and never interrupt.
 */
static void raise_isr(struct hyp__virtio *vdev, uint32_t bit)
{
	if (!(vdev->isr_unseen & bit))
		hyp__dev_irq_set(&vdev->irq, false);
	vdev->isr |= bit;
	vdev->isr_unseen |= bit;
}

void hyp__virtio_update_irq(struct hyp__virtio *vdev)
{
	hyp__dev_irq_set(&vdev->irq, vdev->isr != 0);
}

void hyp__virtio_needs_reset(struct hyp__virtio *vdev, const char *why)
{
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* The first time is worth a warning; a guest that keeps provoking it only earns debug
	 * messages, so it cannot flood the VMM's log. */
	hyp_vm_log(vdev->vm, vdev->warned ? HYP_LOG_DEBUG : HYP_LOG_WARNING,
		   "%s@%#llx: %s; device needs reset", vdev->name, (unsigned long long)vdev->base,
		   why);
	vdev->warned = true;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		raise_isr(vdev, VIRTIO_MMIO_INT_CONFIG);
	hyp__virtio_update_irq(vdev);
}

static void device_reset(struct hyp__virtio *vdev)
{
	vdev->status = 0;
	vdev->isr = vdev->isr_unseen = 0;
	vdev->device_features_sel = vdev->driver_features_sel = 0;
	vdev->driver_features = 0;
	vdev->queue_sel = vdev->shm_sel = 0;
	for (uint32_t q = 0; q < HYP__VIRTIO_MAX_QUEUES; q++)
		vq_reset(&vdev->vq[q]);
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	hyp__virtio_update_irq(vdev);
}

/* ---- Virtqueues ------------------------------------------------------------------------------ */

/*
 * The ring indexes, flags and entries are shared with a driver running on other CPUs: each is read
 * and written as one atomic access of its own width, never copied byte by byte (which may tear a
 * 16-bit index into a value the driver never wrote and make a correct queue look broken). The
 * ordering is virtio's (2.7.13, 2.7.8, 2.7.7), stated at each use. Guest memory is little-endian:
 * the raw value goes through the LE helpers whatever the host's byte order.
 *
 * queue_enable() refused rings whose base breaks the alignment 2.7 requires, so every field is
 * naturally aligned in the guest, and in the host since guest RAM is page-aligned there
 * (hyp_vm_map()). A field that is not (or not in RAM) fails as memory outside RAM would.
 */
static void *ring_field(struct hyp__virtio *vdev, uint64_t ipa, size_t size, bool writable)
{
	void *p;

	if (hyp_vm_guest_ptr(vdev->vm, ipa, size, writable, &p) || ((uintptr_t)p & (size - 1)))
		return NULL;
	return p;
}

static bool ring_load16(struct hyp__virtio *vdev, uint64_t ipa, int order, uint16_t *value)
{
	uint16_t *p = ring_field(vdev, ipa, sizeof(*p), false);
	uint16_t raw;
	uint8_t b[2];

	if (!p)
		return false;
	raw = __atomic_load_n(p, order);
	memcpy(b, &raw, sizeof(b));
	*value = hyp__get_le16(b);
	return true;
}

static bool ring_store16(struct hyp__virtio *vdev, uint64_t ipa, uint16_t value, int order)
{
	uint16_t *p = ring_field(vdev, ipa, sizeof(*p), true);
	uint16_t raw;
	uint8_t b[2];

	if (!p)
		return false;
	hyp__put_le16(b, value);
	memcpy(&raw, b, sizeof(raw));
	__atomic_store_n(p, raw, order);
	hyp_backend_mark_dirty(vdev->vm, ipa, sizeof(*p)); /* device writes count as dirty */
	return true;
}

static bool ring_store32(struct hyp__virtio *vdev, uint64_t ipa, uint32_t value, int order)
{
	uint32_t *p = ring_field(vdev, ipa, sizeof(*p), true);
	uint32_t raw;
	uint8_t b[4];

	if (!p)
		return false;
	hyp__put_le32(b, value);
	memcpy(&raw, b, sizeof(raw));
	__atomic_store_n(p, raw, order);
	hyp_backend_mark_dirty(vdev->vm, ipa, sizeof(*p));
	return true;
}

/* The driver enables a queue (QueueReady = 1): check what it configured (2.7, 4.2.3.2). */
static void queue_enable(struct hyp__virtio *vdev, uint32_t q)
{
	struct hyp__vq *vq = &vdev->vq[q];
	const char *why = NULL;

	if (!vq->num || vq->num > HYP__VQ_MAX_SIZE || (vq->num & (vq->num - 1)))
		why = "queue size is not a power of two up to QueueNumMax";
	else if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3))
		why = "misaligned ring";
	else if (!hyp__dev_guest_range_ok(vdev->vm, vq->desc, VIRTQ_DESC_SIZE * vq->num, false) ||
		 !hyp__dev_guest_range_ok(vdev->vm, vq->avail,
					  avail_bytes(vq->num, event_idx(vdev)), false) ||
		 !hyp__dev_guest_range_ok(vdev->vm, vq->used, used_bytes(vq->num, event_idx(vdev)),
					  true))
		why = "ring outside guest RAM";
	if (why) {
		hyp__virtio_needs_reset(vdev, why);
		return;
	}
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->gen++;
	vq->ready = true;
}

/* The descriptor table at @table (@count descriptors) in host memory, when it lies in one RAM
 * region (the common case: one lookup per chain instead of one per descriptor); NULL otherwise. */
static const uint8_t *desc_table(struct hyp__virtio *vdev, uint64_t table, uint32_t count)
{
	void *p;

	if (hyp_vm_guest_ptr(vdev->vm, table, (size_t)count * VIRTQ_DESC_SIZE, false, &p))
		return NULL;
	return p;
}

/* Read descriptor @index of the table at @table, through @host (desc_table()) if not NULL. Each
 * descriptor is copied once, then decoded: the guest may be rewriting it. */
static bool read_desc(struct hyp__virtio *vdev, const uint8_t *host, uint64_t table, uint32_t index,
		      uint64_t *addr, uint32_t *len, uint16_t *flags, uint16_t *next)
{
	uint8_t d[VIRTQ_DESC_SIZE];

	if (host)
		memcpy(d, host + (size_t)index * VIRTQ_DESC_SIZE, sizeof(d));
	else if (hyp_vm_read_guest(vdev->vm, table + (uint64_t)index * VIRTQ_DESC_SIZE, d,
				   sizeof(d)))
		return false;
	*addr = hyp__get_le64(d);
	*len = hyp__get_le32(d + 8);
	*flags = hyp__get_le16(d + 12);
	*next = hyp__get_le16(d + 14);
	return true;
}

/* Follow the chain starting at @head (2.7.5, 2.7.5.3 for indirect tables). */
static const char *walk_chain(struct hyp__virtio *vdev, struct hyp__vq *vq, uint16_t head,
			      struct hyp__vq_chain *chain)
{
	uint64_t table = vq->desc;
	uint32_t table_len = vq->num;
	const uint8_t *host = desc_table(vdev, table, table_len);
	uint32_t index = head;
	uint32_t visited = 0;
	bool indirect = false, seen_writable = false;

	memset(chain, 0, sizeof(*chain));
	chain->head = head;
	chain->seg = vdev->seg;
	for (;;) {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;

		if (index >= table_len)
			return "descriptor index out of range";
		/* The spec caps a chain, indirect table included, at the queue size (2.7.5.3.1).
		 * We allow QueueNumMax whatever QueueNum the driver chose: seg_max is derived
		 * from the maximum, and a driver that shrank its queue (Linux may, when memory
		 * is short) still builds requests that long. A longer walk is a loop or a lie. */
		if (++visited > HYP__VQ_MAX_SIZE)
			return "descriptor chain longer than QueueNumMax (loop?)";
		if (!read_desc(vdev, host, table, index, &addr, &len, &flags, &next))
			return "descriptor table outside guest RAM";
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect)
				return "nested indirect descriptor table";
			if (flags & VIRTQ_DESC_F_NEXT)
				return "indirect descriptor with NEXT";
			if (!len || len % VIRTQ_DESC_SIZE ||
			    len / VIRTQ_DESC_SIZE > HYP__VQ_MAX_SIZE)
				return "bad indirect table length";
			if (!hyp__dev_guest_range_ok(vdev->vm, addr, len, false))
				return "indirect table outside guest RAM";
			/* The descriptor naming the table is not part of the chain itself. */
			visited--;
			indirect = true;
			table = addr;
			table_len = len / VIRTQ_DESC_SIZE;
			host = desc_table(vdev, table, table_len);
			index = 0;
			continue;
		}
		if (len) {
			struct hyp__vq_seg *seg;

			/* At most one buffer per visited descriptor. */
			hyp__assert(chain->nseg < HYP__VQ_MAX_SIZE);
			seg = &vdev->seg[chain->nseg++];
			bool writable = (flags & VIRTQ_DESC_F_WRITE) != 0;

			seg->addr = addr;
			seg->len = len;
			seg->writable = writable;
			if (writable) {
				chain->writable += len;
				seen_writable = true;
			} else {
				chain->readable += len;
				if (seen_writable)
					chain->misordered = true;
			}
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return NULL;
		index = next;
	}
}

static int malformed(struct hyp__virtio *vdev, const char *why)
{
	hyp__virtio_needs_reset(vdev, why);
	return -EPROTO;
}

int hyp__vq_pop(struct hyp__virtio *vdev, uint32_t q, struct hyp__vq_chain *chain)
{
	struct hyp__vq *vq = &vdev->vq[q];
	uint16_t avail_idx, head;
	const char *why;

	if (!hyp__vq_usable(vdev, q))
		return 0;
	/* Acquire: the ring entry and the descriptors it names were written before the index that
	 * publishes them (2.7.13), and are read only after it. */
	if (!ring_load16(vdev, vq->avail + 2, __ATOMIC_ACQUIRE, &avail_idx))
		return malformed(vdev, "available ring outside guest RAM");
	if (avail_idx == vq->last_avail && event_idx(vdev)) {
		/* Drained: ask to be notified of the next buffer (avail_event, 2.7.10), then look
		 * again, with a full barrier in between, so that a buffer the driver made available
		 * while it still saw the old avail_event is not left waiting for a notification
		 * that will not come. */
		if (!ring_store16(vdev, vq->used + 4 + VIRTQ_USED_ELEM_SIZE * (uint64_t)vq->num,
				  vq->last_avail, __ATOMIC_RELAXED))
			return malformed(vdev, "used ring outside guest RAM");
		atomic_thread_fence(memory_order_seq_cst);
		if (!ring_load16(vdev, vq->avail + 2, __ATOMIC_ACQUIRE, &avail_idx))
			return malformed(vdev, "available ring outside guest RAM");
	}
	if (avail_idx == vq->last_avail)
		return 0;
	/* The driver can be at most a full ring ahead of us (2.7.13.3). */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
		/* The numbers tell a driver that published too much from a device that lost count. */
		hyp_vm_log(
			vdev->vm, vdev->warned ? HYP_LOG_DEBUG : HYP_LOG_WARNING,
			"%s@%#llx: queue %u: available index %u, last consumed %u, size %u, used "
			"index %u",
			vdev->name, (unsigned long long)vdev->base, (unsigned)q,
			(unsigned)avail_idx, (unsigned)vq->last_avail, (unsigned)vq->num,
			(unsigned)vq->used_idx);
		return malformed(vdev, "available index ran ahead");
	}
	if (!ring_load16(vdev, vq->avail + 4 + 2 * (uint64_t)(vq->last_avail % vq->num),
			 __ATOMIC_RELAXED, &head))
		return malformed(vdev, "available ring outside guest RAM");
	why = walk_chain(vdev, vq, head, chain);
	if (why)
		return malformed(vdev, why);
	vq->last_avail++;
	return 1;
}

void hyp__vq_push(struct hyp__virtio *vdev, uint32_t q, const struct hyp__vq_chain *chain,
		  uint32_t written)
{
	struct hyp__vq *vq = &vdev->vq[q];
	uint64_t elem = vq->used + 4 + VIRTQ_USED_ELEM_SIZE * (uint64_t)(vq->used_idx % vq->num);
	uint16_t flags;

	if (!ring_store32(vdev, elem, chain->head, __ATOMIC_RELAXED) ||
	    !ring_store32(vdev, elem + 4, written, __ATOMIC_RELAXED)) {
		hyp__virtio_needs_reset(vdev, "used ring outside guest RAM");
		return;
	}
	vq->used_idx++;
	/* Release: the element (and the data written into the buffers) must be visible before the
	 * index that publishes it (2.7.8). */
	if (!ring_store16(vdev, vq->used + 2, vq->used_idx, __ATOMIC_RELEASE)) {
		hyp__virtio_needs_reset(vdev, "used ring outside guest RAM");
		return;
	}
	/* A full barrier between publishing the index and sampling the driver's wish for an
	 * interrupt (2.7.7, and 2.7.10 for used_event): otherwise the read may pass the store, and
	 * a driver that just re-enabled interrupts after finding nothing new would miss both. */
	atomic_thread_fence(memory_order_seq_cst);
	if (event_idx(vdev)) {
		uint16_t used_event;

		/* Interrupt only when this used index passes the driver's used_event (2.7.10:
		 * vring_need_event() with old = new - 1). A field outside RAM cannot be: the ring
		 * was checked when enabled; interrupt rather than lose a completion. */
		if (ring_load16(vdev, vq->avail + 4 + 2 * (uint64_t)vq->num, __ATOMIC_RELAXED,
				&used_event) &&
		    (uint16_t)(vq->used_idx - used_event - 1) != 0)
			return;
	} else if (ring_load16(vdev, vq->avail, __ATOMIC_RELAXED, &flags) &&
		   (flags & VIRTQ_AVAIL_F_NO_INTERRUPT)) {
		return;
	}
	raise_isr(vdev, VIRTIO_MMIO_INT_VRING);
}

/* Locate byte @offset of a stream: the index of its buffer and the offset inside it. */
static bool stream_seek(const struct hyp__vq_chain *chain, bool writable, uint64_t offset,
			uint32_t *seg_index, uint64_t *seg_offset)
{
	for (uint32_t i = 0; i < chain->nseg; i++) {
		const struct hyp__vq_seg *seg = &chain->seg[i];

		if (seg->writable != writable)
			continue;
		if (offset < seg->len) {
			*seg_index = i;
			*seg_offset = offset;
			return true;
		}
		offset -= seg->len;
	}
	return false;
}

/* Run @fn over the pieces of the stream range, or with @fn NULL just check them. */
static int stream_walk(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, bool writable,
		       uint64_t offset, uint64_t len, hyp__vq_piece_fn fn, void *ctx, bool mark)
{
	uint64_t pos = 0, in_seg;
	/* The guest RAM the last piece was found in (to the end of its region): the next piece is
	 * almost always there too, and needs no lookup. */
	uint64_t span_ipa = 0, span_len = 0;
	uint8_t *span_host = NULL;
	uint32_t i;

	if (!len)
		return 0;
	if (!stream_seek(chain, writable, offset, &i, &in_seg))
		return -EFAULT;
	for (; i < chain->nseg && pos < len; i++, in_seg = 0) {
		const struct hyp__vq_seg *seg = &chain->seg[i];
		uint64_t ipa, left;

		if (seg->writable != writable)
			continue;
		ipa = seg->addr + in_seg;
		left = seg->len - in_seg;
		if (left > len - pos)
			left = len - pos;
		while (left) {
			void *host;
			int64_t n;
			int r;

			if (ipa - span_ipa < span_len) {
				host = span_host + (ipa - span_ipa);
				n = (int64_t)(left < span_len - (ipa - span_ipa) ?
						      left :
						      span_len - (ipa - span_ipa));
			} else {
				if (hyp_vm_guest_span(vdev->vm, ipa, writable, &host, &span_len))
					return -EFAULT;
				span_ipa = ipa;
				span_host = host;
				n = (int64_t)(left < span_len ? left : span_len);
			}
			if (fn) {
				r = fn(ctx, host, (size_t)n, pos, ipa);
				if (r)
					return r;
				/* The device wrote guest RAM behind the guest's back: a live copy
				 * (hyp_vm_dirty_log_fetch()) must see it. */
				if (writable && mark)
					hyp_backend_mark_dirty(vdev->vm, ipa, (uint64_t)n);
			}
			ipa += (uint64_t)n;
			left -= (uint64_t)n;
			pos += (uint64_t)n;
		}
	}
	return pos == len ? 0 : -EFAULT;
}

int hyp__vq_walk(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, bool writable,
		 uint64_t offset, uint64_t len, hyp__vq_piece_fn fn, void *ctx)
{
	int r = stream_walk(vdev, chain, writable, offset, len, NULL, NULL, false);

	return r ? r : stream_walk(vdev, chain, writable, offset, len, fn, ctx, true);
}

int hyp__vq_walk_once(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, bool writable,
		      uint64_t offset, uint64_t len, hyp__vq_piece_fn fn, void *ctx)
{
	return stream_walk(vdev, chain, writable, offset, len, fn, ctx, false);
}

static int copy_out(void *ctx, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	(void)ipa;
	memcpy((uint8_t *)ctx + pos, host, len);
	return 0;
}

static int copy_in(void *ctx, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	(void)ipa;
	memcpy(host, (const uint8_t *)ctx + pos, len);
	return 0;
}

int hyp__vq_read(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, uint64_t offset,
		 void *dst, size_t len)
{
	return hyp__vq_walk(vdev, chain, false, offset, len, copy_out, dst);
}

int hyp__vq_write(struct hyp__virtio *vdev, const struct hyp__vq_chain *chain, uint64_t offset,
		  const void *src, size_t len)
{
	return hyp__vq_walk(vdev, chain, true, offset, len, copy_in, (void *)src);
}

/* ---- Registers ------------------------------------------------------------------------------- */

static bool features_acceptable(const struct hyp__virtio *vdev)
{
	/* Only offered features, and a modern driver (a version 2 device requires VERSION_1). */
	return !(vdev->driver_features & ~vdev->device_features) &&
	       (vdev->driver_features & (1ull << VIRTIO_F_VERSION_1));
}

static void write_status(struct hyp__virtio *vdev, uint32_t value)
{
	uint32_t old = vdev->status & ~VIRTIO_STATUS_NEEDS_RESET;
	uint32_t now;

	if (!value) {
		device_reset(vdev);
		return;
	}
	/* DEVICE_NEEDS_RESET is the device's to set; the driver may only add bits (2.1.1). */
	now = value & 0xff & ~VIRTIO_STATUS_NEEDS_RESET;
	if (old & ~now) {
		dev_dbg(vdev->vm, "%s@%#llx: status write %#x clears bits of %#x; ignored",
			vdev->name, (unsigned long long)vdev->base, value, old);
		return;
	}
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(vdev))
		now &= ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
	vdev->status = now | (vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	/* Buffers made available before DRIVER_OK were not looked at: serve them now. */
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (uint32_t q = 0; q < vdev->ops->num_queues; q++)
			if (hyp__vq_usable(vdev, q))
				vdev->ops->queue_notify(vdev, q);
}

static struct hyp__vq *selected_queue(struct hyp__virtio *vdev)
{
	return vdev->queue_sel < vdev->ops->num_queues ? &vdev->vq[vdev->queue_sel] : NULL;
}

static void set_half(uint64_t *field, bool high, uint32_t value)
{
	if (high)
		*field = (*field & 0xffffffffull) | (uint64_t)value << 32;
	else
		*field = (*field & ~0xffffffffull) | value;
}

static uint32_t reg_read(struct hyp__virtio *vdev, uint64_t reg)
{
	struct hyp__vq *vq = selected_queue(vdev);

	switch (reg) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (vdev->device_features_sel > 1)
			return 0;
		return (uint32_t)(vdev->device_features >> (32 * vdev->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? HYP__VQ_MAX_SIZE : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_READY:
		return vq && vq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		vdev->isr_unseen = 0;
		return vdev->isr;
	case VIRTIO_MMIO_STATUS:
		return vdev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffffu; /* a length of -1: no shared memory region (4.2.2) */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdev->config_generation;
	default:
		return 0; /* write-only and reserved registers */
	}
}

static void reg_write(struct hyp__virtio *vdev, uint64_t reg, uint32_t value)
{
	struct hyp__vq *vq = selected_queue(vdev);
	/* A queue's configuration is frozen while it is enabled (4.2.3.2). */
	struct hyp__vq *cfg = vq && !vq->ready ? vq : NULL;

	switch (reg) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vdev->device_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Features are fixed once FEATURES_OK is set (3.1.1). */
		if (vdev->status & VIRTIO_STATUS_FEATURES_OK)
			break;
		if (vdev->driver_features_sel <= 1)
			set_half(&vdev->driver_features, vdev->driver_features_sel == 1, value);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vdev->driver_features_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		vdev->queue_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (cfg)
			cfg->num = value;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!vq)
			break;
		if (!(value & 1))
			vq->ready = false;
		else if (!vq->ready && !(vdev->status & VIRTIO_STATUS_NEEDS_RESET))
			queue_enable(vdev, vdev->queue_sel);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (hyp__vq_usable(vdev, value))
			vdev->ops->queue_notify(vdev, value);
		else
			dev_dbg(vdev->vm, "%s@%#llx: notify of unusable queue %u ignored",
				vdev->name, (unsigned long long)vdev->base, value);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		/* The driver acknowledges what it read. An event it has not read yet survives
		 * (with its own edge, raise_isr()): the write may arrive late
		 * (hyp_vm_defer_mmio_writes(), hyp__virtio_attach()), after the device raised
		 * that event again. */
		vdev->isr &= ~(value & ~vdev->isr_unseen);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(vdev, value);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (cfg)
			set_half(&cfg->desc, reg == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (cfg)
			set_half(&cfg->avail, reg == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (cfg)
			set_half(&cfg->used, reg == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, value);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		vdev->shm_sel = value;
		break;
	default:
		break; /* read-only and reserved registers */
	}
}

static void config_access(struct hyp__virtio *vdev, struct hyp_mmio_access *access)
{
	uint8_t config[CONFIG_SPACE_MAX];
	uint64_t offset = access->offset - VIRTIO_MMIO_CONFIG;

	if (offset >= vdev->ops->config_size || access->len > vdev->ops->config_size - offset) {
		if (!access->is_write)
			access->data = 0;
		return;
	}
	if (access->is_write) {
		if (vdev->ops->set_config)
			vdev->ops->set_config(vdev, (uint32_t)offset, access->len, access->data);
		return;
	}
	vdev->ops->get_config(vdev, config);
	access->data = 0;
	for (uint32_t i = 0; i < access->len; i++)
		access->data |= (uint64_t)config[offset + i] << (8 * i);
}

/* The queues left unfinished (struct hyp__vq.unfinished), as a bit mask. */
static uint32_t unfinished_queues(const struct hyp__virtio *vdev)
{
	uint32_t mask = 0;

	for (uint32_t q = 0; q < vdev->ops->num_queues; q++)
		if (vdev->vq[q].unfinished)
			mask |= 1u << q;
	return mask;
}

static enum hyp_handler_result virtio_mmio(void *opaque, struct hyp_vcpu *vcpu,
					   struct hyp_mmio_access *access)
{
	struct hyp__virtio *vdev = opaque;
	uint64_t offset = access->offset;
	uint32_t unfinished;

	(void)vcpu;
	hyp__dev_lock(&vdev->lock);
	unfinished = vdev->worker ? 0 : unfinished_queues(vdev);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		/* Configuration space: any width the field has (4.2.2.2). */
		config_access(vdev, access);
	} else if (access->len != 4 || (offset & 3)) {
		/* Registers are 32-bit and aligned only (4.2.2.2): anything else reads as zero
		 * and writes nothing. */
		dev_dbg(vdev->vm, "%s@%#llx: ignored %u-byte access at offset %#llx", vdev->name,
			(unsigned long long)vdev->base, (unsigned)access->len,
			(unsigned long long)offset);
		if (!access->is_write)
			access->data = 0;
	} else if (access->is_write) {
		reg_write(vdev, offset, (uint32_t)access->data);
	} else {
		access->data = reg_read(vdev, offset);
	}
	/* Synchronous service: what a notification left unfinished is served at the driver's
	 * next access (its interrupt handler reads InterruptStatus after each batch). */
	if (unfinished)
		hyp__virtio_serve_unfinished(vdev, unfinished);
	hyp__virtio_end_access(vdev);
	return HYP_HANDLED;
}

uint32_t hyp__virtio_serve_unfinished(struct hyp__virtio *vdev, uint32_t queues)
{
	uint32_t again = 0;

	for (uint32_t q = 0; q < vdev->ops->num_queues; q++) {
		if (!(queues & (1u << q)) || !vdev->vq[q].unfinished)
			continue;
		vdev->vq[q].unfinished = false;
		if (!hyp__vq_usable(vdev, q))
			continue;
		vdev->ops->queue_notify(vdev, q);
		if (vdev->vq[q].unfinished)
			again |= 1u << q;
	}
	return again;
}

void hyp__virtio_end_access(struct hyp__virtio *vdev)
{
	bool notify;

	hyp__virtio_update_irq(vdev);
	notify = vdev->host_notify_pending;
	vdev->host_notify_pending = false;
	hyp__dev_unlock(&vdev->lock);
	if (notify && vdev->ops->host_notify)
		vdev->ops->host_notify(vdev);
}

/* ---- Life cycle ------------------------------------------------------------------------------ */

int hyp__virtio_init(struct hyp__virtio *vdev, struct hyp_vm *vm, const struct hyp__virtio_ops *ops,
		     const char *name, uint64_t device_features, hyp_ipa_t base, uint32_t intid,
		     uint32_t flags)
{
	int r;

	hyp__assert(ops->num_queues <= HYP__VIRTIO_MAX_QUEUES);
	hyp__assert(ops->config_size <= CONFIG_SPACE_MAX);
	if (!base)
		return -EINVAL;
	vdev->vm = vm;
	vdev->ops = ops;
	vdev->name = name;
	vdev->base = base;
	vdev->io_thread = (flags & HYP_DEV_IO_THREAD) != 0;
	/* Every device gets the transport's own features: used_event / avail_event. */
	vdev->device_features = device_features | (1ull << VIRTIO_RING_F_EVENT_IDX);
	r = hyp__dev_irq_init(&vdev->irq, vm, intid, flags);
	if (r)
		return r;
	r = hyp__dev_lock_init(&vdev->lock);
	if (r)
		return r;
	device_reset(vdev);
	return 0;
}

void hyp__virtio_fini(struct hyp__virtio *vdev)
{
	hyp__dev_irq_fini(&vdev->irq);
	hyp__dev_lock_fini(&vdev->lock);
}

int hyp__virtio_attach(struct hyp__virtio *vdev)
{
	int r = hyp_vm_add_mmio_handler(vdev->vm, vdev->base, HYP_VIRTIO_MMIO_SIZE, virtio_mmio,
					vdev);

	if (r) {
		hyp__virtio_fini(vdev);
		return r;
	}
	/* Linux's driver reads InterruptStatus and writes it back to InterruptACK at every
	 * interrupt: the write need not be an exit of its own where the backend can collect it
	 * (kvm: one userspace exit less per request). Elsewhere it stays an exit. */
	r = hyp_vm_defer_mmio_writes(vdev->vm, vdev->base + VIRTIO_MMIO_INTERRUPT_ACK, 4);
	if (r && r != -ENOTSUP)
		dev_dbg(vdev->vm, "%s@%#llx: InterruptACK writes not deferred: %s", vdev->name,
			(unsigned long long)vdev->base, hyp_strerror(r));
	if (vdev->io_thread) {
		r = hyp__virtio_worker_start(vdev);
		if (r) {
			hyp_vm_remove_mmio_handler(vdev->vm, vdev->base);
			hyp__virtio_fini(vdev);
			return r;
		}
	}
	return 0;
}

int hyp__virtio_detach(struct hyp__virtio *vdev)
{
	int r = hyp_vm_remove_mmio_handler(vdev->vm, vdev->base);

	if (r) {
		dev_err(vdev->vm, "%s@%#llx: cannot detach (%s); device left attached", vdev->name,
			(unsigned long long)vdev->base, hyp_strerror(r));
		return r;
	}
	hyp__virtio_worker_stop(vdev);
	hyp__virtio_fini(vdev);
	return 0;
}
