/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel (libhyp/chan.h, layout in libhyp/chan-layout.h): two byte rings in
 * a region shared with a guest, a doorbell register the guest writes and an SPI the host end
 * raises.
 *
 * The guest may write anything into the region at any time, from other CPUs. So the host keeps
 * its own copy of every index it owns (it only ever stores them into the region, never loads
 * them), loads each guest-owned index once with a single atomic load and checks it against its
 * own copy before using it, and copies ring data out before anyone looks at it. Nothing is read
 * from the header after creation.
 */
#include "hyp_string.h"

#include <libhyp/backend.h>
#include <libhyp/chan.h>

#include "dev-internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <stdlib.h>
#endif

#define OFF_TO_GUEST_PROD offsetof(struct hyp_chan_header, to_guest_prod)
#define OFF_TO_HOST_CONS offsetof(struct hyp_chan_header, to_host_cons)
#define OFF_TO_GUEST_CONS offsetof(struct hyp_chan_header, to_guest_cons)
#define OFF_TO_HOST_PROD offsetof(struct hyp_chan_header, to_host_prod)

_Static_assert(sizeof(struct hyp_chan_header) == HYP_CHAN_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct hyp_chan_header, to_guest_prod) == 0x40, "host line");
_Static_assert(offsetof(struct hyp_chan_header, to_guest_cons) == 0x80, "guest line");

struct hyp_chan {
	struct hyp_alloc_ops alloc;
	uint8_t *region;
	uint64_t region_size;
	uint32_t ring;		     /* bytes per ring */
	uint8_t *to_guest, *to_host; /* the rings' data */
	hyp_chan_notify_fn notify_fn;
	void *notify_opaque;

	struct hyp__dev_lock lock;
	/* The host's own indexes, the truth (the region's copies are only for the guest). */
	uint32_t to_guest_prod, to_host_cons;
	/* The last valid to_host.prod the guest published: what consume() may take. */
	uint32_t to_host_avail;

	/* The attached VM (NULL: none). */
	struct hyp_vm *vm;
	hyp_ipa_t ipa, doorbell;
	uint32_t attach_flags;
	struct hyp__dev_irq irq;
	bool pending; /* notification not yet acknowledged (the line's level when attached) */

	uint64_t bytes_sent, bytes_received, doorbells, interrupts, bad_indexes, send_short,
		bad_accesses;
};

/* ---- the region ------------------------------------------------------------------------------ */

static uint32_t *field(struct hyp_chan *c, size_t off)
{
	return (uint32_t *)(void *)(c->region + off);
}

static void store_index(struct hyp_chan *c, size_t off, uint32_t v)
{
	uint8_t b[4];
	uint32_t raw;

	hyp__put_le32(b, v);
	memcpy(&raw, b, sizeof(raw));
	/* Release: the ring bytes (or the room) it publishes come first (chan-layout.h). */
	__atomic_store_n(field(c, off), raw, __ATOMIC_RELEASE);
	if (c->vm)
		hyp_backend_mark_dirty(c->vm, c->ipa + off, sizeof(raw));
}

static uint32_t load_index(struct hyp_chan *c, size_t off)
{
	uint32_t raw = __atomic_load_n(field(c, off), __ATOMIC_ACQUIRE);
	uint8_t b[4];

	memcpy(b, &raw, sizeof(b));
	return hyp__get_le32(b);
}

static void publish_host_indexes(struct hyp_chan *c)
{
	store_index(c, OFF_TO_GUEST_PROD, c->to_guest_prod);
	store_index(c, OFF_TO_HOST_CONS, c->to_host_cons);
}

static void log_bad(struct hyp_chan *c, const char *which, uint32_t value)
{
	c->bad_indexes++;
	if (c->vm)
		dev_dbg(c->vm, "chan@%#llx: guest index %s = %#x out of range; ignored",
			(unsigned long long)c->ipa, which, value);
}

/* Bytes waiting in to_host, from the guest's prod loaded once; 0 if that is out of range. */
static uint32_t to_host_level(struct hyp_chan *c, bool count)
{
	uint32_t prod = load_index(c, OFF_TO_HOST_PROD);
	uint32_t n = prod - c->to_host_cons;

	if (n > c->ring) {
		if (count)
			log_bad(c, "to_host.prod", prod);
		return 0;
	}
	return n;
}

/* Room in to_guest, from the guest's cons loaded once; 0 (full) if that is out of range. */
static uint32_t to_guest_room(struct hyp_chan *c, bool count)
{
	uint32_t cons = load_index(c, OFF_TO_GUEST_CONS);
	uint32_t used = c->to_guest_prod - cons;

	if (used > c->ring) {
		if (count)
			log_bad(c, "to_guest.cons", cons);
		return 0;
	}
	return c->ring - used;
}

/* Tell the guest (with the lock held). */
static void notify_guest(struct hyp_chan *c)
{
	if (!c->pending && c->vm && c->irq.intid)
		c->interrupts++;
	c->pending = true;
	if (c->vm)
		hyp__dev_irq_set(&c->irq, true);
}

/* ---- host end -------------------------------------------------------------------------------- */

HYP_API int hyp_chan_send(struct hyp_chan *chan, const void *bytes, size_t len)
{
	const uint8_t *src = bytes;
	uint32_t room, n, at, first;

	if (!chan || (!bytes && len))
		return -EINVAL;
	hyp__dev_lock(&chan->lock);
	room = to_guest_room(chan, true);
	n = len < room ? (uint32_t)len : room;
	if (n < len)
		chan->send_short++;
	if (n) {
		at = chan->to_guest_prod & (chan->ring - 1);
		first = chan->ring - at < n ? chan->ring - at : n;
		memcpy(chan->to_guest + at, src, first);
		memcpy(chan->to_guest, src + first, n - first);
		if (chan->vm) {
			hyp_ipa_t ring_ipa = chan->ipa + HYP_CHAN_HEADER_SIZE;

			hyp_backend_mark_dirty(chan->vm, ring_ipa + at, first);
			if (n > first)
				hyp_backend_mark_dirty(chan->vm, ring_ipa, n - first);
		}
		chan->to_guest_prod += n;
		chan->bytes_sent += n;
		store_index(chan, OFF_TO_GUEST_PROD, chan->to_guest_prod);
		notify_guest(chan);
	}
	hyp__dev_unlock(&chan->lock);
	return (int)n;
}

HYP_API int hyp_chan_peek(struct hyp_chan *chan, void *buf, size_t len)
{
	uint8_t *dst = buf;
	uint32_t avail, n, at, first;

	if (!chan || (!buf && len))
		return -EINVAL;
	hyp__dev_lock(&chan->lock);
	avail = to_host_level(chan, true);
	chan->to_host_avail = avail;
	n = len < avail ? (uint32_t)len : avail;
	at = chan->to_host_cons & (chan->ring - 1);
	first = chan->ring - at < n ? chan->ring - at : n;
	/* Copied out before anyone looks at it: the guest may be rewriting it right now. */
	memcpy(dst, chan->to_host + at, first);
	memcpy(dst + first, chan->to_host, n - first);
	hyp__dev_unlock(&chan->lock);
	return (int)n;
}

HYP_API int hyp_chan_consume(struct hyp_chan *chan, size_t len)
{
	uint32_t n;

	if (!chan)
		return -EINVAL;
	hyp__dev_lock(&chan->lock);
	/* Only what a valid prod showed (the last peek's): a later, bad prod cannot make the host
	 * skip bytes it never looked at. */
	n = len < chan->to_host_avail ? (uint32_t)len : chan->to_host_avail;
	if (n) {
		chan->to_host_avail -= n;
		chan->to_host_cons += n;
		chan->bytes_received += n;
		store_index(chan, OFF_TO_HOST_CONS, chan->to_host_cons);
		notify_guest(chan);
	}
	hyp__dev_unlock(&chan->lock);
	return (int)n;
}

HYP_API int hyp_chan_recv(struct hyp_chan *chan, void *buf, size_t len)
{
	int n = hyp_chan_peek(chan, buf, len);

	/* Another thread may consume in between: then ours consumes what is left of it, at most. */
	return n > 0 ? hyp_chan_consume(chan, (size_t)n) : n;
}

HYP_API int hyp_chan_get_stats(struct hyp_chan *chan, struct hyp_chan_stats *stats)
{
	struct hyp_chan_stats s;
	uint32_t size;

	if (!chan || !stats)
		return -EINVAL;
	size = stats->size;
	if (size < offsetof(struct hyp_chan_stats, bytes_sent))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	hyp__dev_lock(&chan->lock);
	s.ring_size = chan->ring;
	s.readable = to_host_level(chan, false);
	s.writable = to_guest_room(chan, false);
	s.bytes_sent = chan->bytes_sent;
	s.bytes_received = chan->bytes_received;
	s.doorbells = chan->doorbells;
	s.interrupts = chan->interrupts;
	s.bad_indexes = chan->bad_indexes;
	s.send_short = chan->send_short;
	s.bad_accesses = chan->bad_accesses;
	hyp__dev_unlock(&chan->lock);
	s.size = size < sizeof(s) ? size : (uint32_t)sizeof(s);
	memcpy(stats, &s, s.size);
	return 0;
}

/* ---- the doorbell window --------------------------------------------------------------------- */

static enum hyp_handler_result doorbell_mmio(void *opaque, struct hyp_vcpu *vcpu,
					     struct hyp_mmio_access *a)
{
	struct hyp_chan *c = opaque;
	bool rang = false;
	uint64_t v = 0;

	(void)vcpu;
	hyp__dev_lock(&c->lock);
	if (a->len != 4 || (a->offset & 3)) {
		c->bad_accesses++;
	} else if (a->is_write) {
		switch (a->offset) {
		case HYP_CHAN_DB_RING:
			c->doorbells++;
			/* The guest may have scribbled over our indexes: it gets them back. */
			publish_host_indexes(c);
			rang = true;
			break;
		case HYP_CHAN_DB_ACK:
			c->pending = false;
			hyp__dev_irq_set(&c->irq, false);
			break;
		default:
			c->bad_accesses++;
			break;
		}
	} else {
		switch (a->offset) {
		case HYP_CHAN_DB_PENDING:
			v = c->pending;
			break;
		case HYP_CHAN_DB_REGION_LO:
			v = (uint32_t)c->ipa;
			break;
		case HYP_CHAN_DB_REGION_HI:
			v = (uint32_t)(c->ipa >> 32);
			break;
		case HYP_CHAN_DB_REGION_SIZE:
			v = (uint32_t)c->region_size;
			break;
		case HYP_CHAN_DB_RING_SIZE:
			v = c->ring;
			break;
		case HYP_CHAN_DB_INTID:
			v = c->irq.intid;
			break;
		case HYP_CHAN_DB_MAGIC:
			v = HYP_CHAN_MAGIC;
			break;
		default:
			break; /* HYP_CHAN_DB_RING, ACK and reserved offsets read as zero */
		}
	}
	if (!a->is_write)
		a->data = v;
	hyp__dev_unlock(&c->lock);
	if (rang && c->notify_fn)
		c->notify_fn(c->notify_opaque, c);
	return HYP_HANDLED;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static bool page_aligned(uint64_t v)
{
	return (v & (HYP_PAGE_SIZE - 1)) == 0;
}

HYP_API int hyp_chan_create(const struct hyp_chan_config *config, struct hyp_chan **ret)
{
	struct hyp_chan_config cfg;
	struct hyp_alloc_ops ops = { 0 };
	struct hyp_chan_header h;
	struct hyp_chan *c;
	uint64_t ring;
	int r;

	if (!config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(&cfg, sizeof(cfg),
				 offsetof(struct hyp_chan_config, notify_opaque) +
					 sizeof(cfg.notify_opaque),
				 config);
	if (r)
		return r;
	if (cfg.flags || cfg.reserved || !cfg.region || !page_aligned((uintptr_t)cfg.region) ||
	    !cfg.region_size || !page_aligned(cfg.region_size) ||
	    cfg.region_size > (uint64_t)SIZE_MAX)
		return -EINVAL;
	ring = cfg.ring_size;
	if (!ring) {
		/* The largest power of two that fits twice after the header. */
		ring = HYP_CHAN_RING_MAX;
		while (ring >= HYP_CHAN_RING_MIN &&
		       HYP_CHAN_HEADER_SIZE + 2 * ring > cfg.region_size)
			ring >>= 1;
	}
	if (ring < HYP_CHAN_RING_MIN || ring > HYP_CHAN_RING_MAX || (ring & (ring - 1)) ||
	    HYP_CHAN_HEADER_SIZE + 2 * ring > cfg.region_size)
		return -EINVAL;
	if (cfg.alloc) {
		if (!cfg.alloc->alloc || !cfg.alloc->free)
			return -EINVAL;
		ops = *cfg.alloc;
	}
#if !(defined(HYP_HOSTED) && HYP_HOSTED)
	if (!ops.alloc)
		return -ENOTSUP;
#endif
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (!ops.alloc) {
		c = malloc(sizeof(*c));
	} else
#endif
		c = ops.alloc(ops.opaque, sizeof(*c), _Alignof(struct hyp_chan));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->alloc = ops;
	r = hyp__dev_lock_init(&c->lock);
	if (r) {
		if (ops.free)
			ops.free(ops.opaque, c, sizeof(*c));
#if defined(HYP_HOSTED) && HYP_HOSTED
		else
			free(c);
#endif
		return r;
	}
	c->region = cfg.region;
	c->region_size = cfg.region_size;
	c->ring = (uint32_t)ring;
	c->to_guest = c->region + HYP_CHAN_HEADER_SIZE;
	c->to_host = c->to_guest + ring;
	c->notify_fn = cfg.notify_fn;
	c->notify_opaque = cfg.notify_opaque;

	memset(&h, 0, sizeof(h));
	hyp__put_le32((uint8_t *)&h.magic, HYP_CHAN_MAGIC);
	hyp__put_le32((uint8_t *)&h.version, HYP_CHAN_VERSION);
	hyp__put_le32((uint8_t *)&h.ring_size, c->ring);
	hyp__put_le32((uint8_t *)&h.to_guest_off, HYP_CHAN_HEADER_SIZE);
	hyp__put_le32((uint8_t *)&h.to_host_off, HYP_CHAN_HEADER_SIZE + c->ring);
	memcpy(c->region, &h, sizeof(h));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*ret = c;
	return 0;
}

HYP_API int hyp_chan_attach(struct hyp_chan *chan, struct hyp_vm *vm,
			    const struct hyp_chan_attach_config *config)
{
	struct hyp_chan_attach_config cfg;
	struct hyp__dev_irq irq;
	int r;

	if (!chan || !vm || !config)
		return -EINVAL;
	r = hyp__dev_copy_config(
		&cfg, sizeof(cfg),
		offsetof(struct hyp_chan_attach_config, doorbell) + sizeof(cfg.doorbell), config);
	if (r)
		return r;
	if ((cfg.flags & ~(uint32_t)HYP_CHAN_NO_IRQ) || cfg.reserved || !page_aligned(cfg.ipa) ||
	    !page_aligned(cfg.doorbell))
		return -EINVAL;
	if (chan->vm)
		return -EBUSY;
	r = hyp__dev_irq_init(&irq, vm, cfg.intid,
			      (cfg.flags & HYP_CHAN_NO_IRQ) ? HYP_DEV_NO_IRQ : 0);
	if (r)
		return r;
	r = hyp_vm_map(vm, cfg.ipa, chan->region, chan->region_size, HYP_MEM_READ | HYP_MEM_WRITE);
	/* Data, never code: not executable where the backend can say so. kvm cannot (its stage 2
	 * is always executable, so it refuses a mapping without HYP_MEM_EXEC): there the region
	 * is mapped as everything else is. */
	if (r == -ENOTSUP)
		r = hyp_vm_map(vm, cfg.ipa, chan->region, chan->region_size, HYP_MEM_RWX);
	if (r)
		return r;
	r = hyp_vm_add_mmio_handler(vm, cfg.doorbell, HYP_CHAN_DB_SIZE, doorbell_mmio, chan);
	if (r) {
		hyp_vm_unmap(vm, cfg.ipa, chan->region_size);
		return r;
	}
	hyp__dev_lock(&chan->lock);
	chan->vm = vm;
	chan->ipa = cfg.ipa;
	chan->doorbell = cfg.doorbell;
	chan->attach_flags = cfg.flags;
	chan->irq = irq;
	/* The line starts low (devices never touch it while being created: dev.h); a pending
	 * notification is raised again at the next event. */
	hyp__dev_unlock(&chan->lock);
	return 0;
}

HYP_API int hyp_chan_detach(struct hyp_chan *chan)
{
	struct hyp_vm *vm;
	int r;

	if (!chan)
		return -EINVAL;
	vm = chan->vm;
	if (!vm)
		return 0;
	r = hyp_vm_remove_mmio_handler(vm, chan->doorbell);
	if (r)
		return r;
	r = hyp_vm_unmap(vm, chan->ipa, chan->region_size);
	if (r)
		dev_err(vm, "chan@%#llx: unmapping the region: %s", (unsigned long long)chan->ipa,
			hyp_strerror(r));
	hyp__dev_lock(&chan->lock);
	hyp__dev_irq_set(&chan->irq, false);
	chan->vm = NULL;
	chan->irq.intid = 0;
	hyp__dev_unlock(&chan->lock);
	return 0;
}

HYP_API void hyp_chan_destroy(struct hyp_chan *chan)
{
	struct hyp_alloc_ops ops;

	if (!chan || hyp_chan_detach(chan))
		return;
	ops = chan->alloc;
	hyp__dev_lock_fini(&chan->lock);
	if (ops.free) {
		ops.free(ops.opaque, chan, sizeof(*chan));
		return;
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	free(chan);
#endif
}
