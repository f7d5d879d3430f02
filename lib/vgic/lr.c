// SPDX-License-Identifier: MIT
/*
 * lib/vgic: the virtual CPU interface through hardware list registers (IHI 0069, "Virtual
 * interrupt handling", ICH_LR<n>_EL2, ICH_HCR_EL2).
 *
 * Ownership moves with the list registers. Flush hands an interrupt's pending latch to the LR (an
 * edge's pending state is then the LR's; a new edge meanwhile latches again in the distributor)
 * and marks the interrupt listed, which pins it to this vCPU. While the guest runs, the hardware
 * acknowledges, EOIs and deactivates on its own. Sync reads the outcome back: the active state
 * comes from the LR; a pending state still in the LR gives the latch back. Distributor writes to a
 * listed interrupt's pending or active state (another vCPU, the VMM) are recorded in "won" and
 * win over the LR at sync. Level interrupts are not latched: their pending state is recomputed
 * from the line at every flush, and their LRs ask for an EOI maintenance interrupt so the line is
 * looked at again as soon as the guest deactivates them.
 */
#include "vgic-internal.h"

struct pick {
	struct vgic_irq *irq;
	uint32_t key; /* priority << 16 | INTID: lower is better */
};

/* Insert into a sorted array of at most @max entries; the worst falls off the end. */
static void pick_insert(struct pick *arr, unsigned int *n, unsigned int max, struct vgic_irq *irq)
{
	uint32_t key = (uint32_t)irq->priority << 16 | irq->intid;
	unsigned int i;

	if (!max)
		return;
	if (*n == max) {
		if (key >= arr[max - 1].key)
			return;
		(*n)--;
	}
	for (i = *n; i > 0 && arr[i - 1].key > key; i--)
		arr[i] = arr[i - 1];
	arr[i].irq = irq;
	arr[i].key = key;
	(*n)++;
}

static inline uint64_t lr_value(const struct vgic_irq *irq, bool pending)
{
	uint64_t lr = irq->intid | (uint64_t)irq->priority << HYP_VGIC_LR_PRIORITY_SHIFT;

	if (irq->flags & IRQ_GROUP1)
		lr |= HYP_VGIC_LR_GROUP1;
	if (pending)
		lr |= HYP_VGIC_LR_PENDING;
	if (irq->flags & IRQ_ACTIVE)
		lr |= HYP_VGIC_LR_ACTIVE;
	if (irq->flags & IRQ_HW)
		lr |= HYP_VGIC_LR_HW | (uint64_t)irq->pintid << HYP_VGIC_LR_PINTID_SHIFT;
	else if (!(irq->flags & IRQ_EDGE))
		lr |= HYP_VGIC_LR_EOI;
	return lr;
}

/* A flush without a sync of the one before (a backend bug): take the old LRs back as the guest
 * never touched them. */
static void unlist_stale(struct hyp_vgic *vgic, uint32_t vcpu, struct vgic_vcpu *vc)
{
	for (unsigned int i = 0; i < vc->nr_listed; i++) {
		struct vgic_irq *irq = vgic_irq(vgic, vcpu, vc->lr_intid[i]);

		if (!irq || irq->listed != vcpu + 1)
			continue;
		irq->listed = 0;
		irq->won = 0;
		irq->flags &= (uint8_t)~IRQ_LR_PENDING;
		if (vc->lr_took_latch[i])
			irq->flags |= IRQ_LATCH;
		hyp__vgic_irq_commit(vgic, irq, irq->flags);
	}
	vc->nr_listed = 0;
	vc->relist = false;
}

/* Hand @irq to list register @i of @vc (lock held). */
static inline __attribute__((always_inline)) void list_irq(struct hyp_vgic *vgic,
							   struct vgic_vcpu *vc, uint32_t vcpu,
							   unsigned int i, struct vgic_irq *irq,
							   struct hyp_vgic_lrs *out)
{
	bool pending = irq_pending(irq) && (irq->flags & IRQ_ENABLED) &&
		       vgic_group_enabled(vgic, irq);

	out->lr[i] = lr_value(irq, pending);
	if (pending)
		irq->flags |= IRQ_LR_PENDING;
	vc->lr_intid[i] = irq->intid;
	vc->lr_took_latch[i] = pending && (irq->flags & IRQ_LATCH);
	if (vc->lr_took_latch[i])
		irq->flags &= (uint8_t)~IRQ_LATCH;
	irq->listed = (uint16_t)(vcpu + 1);
	irq->won = 0;
}

/* What a flush lists: an active interrupt (the guest must be able to EOI and deactivate it), or a
 * pending, enabled one whose group is enabled. */
static inline __attribute__((always_inline)) bool listable(const struct hyp_vgic *vgic,
							   const struct vgic_irq *irq)
{
	return (irq->flags & IRQ_ACTIVE) ||
	       ((irq->flags & IRQ_ENABLED) && irq_pending(irq) && vgic_group_enabled(vgic, irq));
}

/* More candidates than list registers: the best ones, by the rules of hyp_vgic_flush(). Returns
 * ICH_HCR_EL2's maintenance bits. */
static uint64_t flush_selected(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu,
			       unsigned int nr_lrs, struct hyp_vgic_lrs *out)
{
	struct pick act[HYP_VGIC_MAX_LRS], pend[HYP_VGIC_MAX_LRS];
	unsigned int n_act = 0, n_pend = 0, tot_act = 0, tot_pend = 0, slots;
	struct vgic_cand_iter it = vgic_cand_iter(vgic, vc);
	struct vgic_irq *irq;
	uint64_t hcr = 0;

	while ((irq = vgic_cand_next(vgic, vcpu, &it))) {
		if (irq->listed)
			continue;
		if (irq->flags & IRQ_ACTIVE) {
			tot_act++;
			pick_insert(act, &n_act, nr_lrs, irq);
		} else if (listable(vgic, irq)) {
			tot_pend++;
			pick_insert(pend, &n_pend, nr_lrs, irq);
		}
	}

	/* Active interrupts first, so the guest can EOI and deactivate what it acknowledged, but
	 * one LR stays for the best pending interrupt (it may preempt them). */
	slots = nr_lrs;
	if (tot_pend && n_act >= slots && slots)
		n_act = slots - 1;
	if (n_pend > slots - n_act)
		n_pend = slots - n_act;
	for (unsigned int i = 0; i < n_act + n_pend; i++)
		list_irq(vgic, vc, vcpu, i, i < n_act ? act[i].irq : pend[i - n_act].irq, out);
	vc->nr_listed = n_act + n_pend;

	/* More pending than listed: a maintenance interrupt when no LR is pending any more
	 * (NPIE). Active ones left out: EOIs of them count in EOIcount (LRENPIE) and their
	 * deactivations trap (TDIR), both then handled in software. */
	if (n_pend < tot_pend)
		hcr |= HYP_VGIC_HCR_NPIE;
	if (n_act < tot_act)
		hcr |= HYP_VGIC_HCR_LRENPIE | HYP_VGIC_HCR_TDIR;
	return hcr;
}

/* hyp_vgic_flush() with the lock held, up to the LRs' values: returns ICH_HCR_EL2. */
static uint64_t flush_locked(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu,
			     unsigned int nr_lrs, struct hyp_vgic_lrs *out)
{
	struct vgic_irq *fit[HYP_VGIC_MAX_LRS], *irq;
	struct vgic_cand_iter it;
	unsigned int n = 0;

	if (vc->nr_listed)
		unlist_stale(vgic, vcpu, vc);
	vc->news = false; /* every candidate is looked at below */
	/* The common case: every candidate fits, in any order (the hardware picks the highest
	 * priority among the LRs); only when they do not is there a choice to make. */
	it = vgic_cand_iter(vgic, vc);
	while ((irq = vgic_cand_next(vgic, vcpu, &it))) {
		if (irq->listed || !listable(vgic, irq))
			continue;
		if (n == nr_lrs)
			return HYP_VGIC_HCR_EN | flush_selected(vgic, vc, vcpu, nr_lrs, out);
		fit[n++] = irq;
	}
	for (unsigned int i = 0; i < n; i++)
		list_irq(vgic, vc, vcpu, i, fit[i], out);
	vc->nr_listed = n;
	return HYP_VGIC_HCR_EN;
}

/* The rest of hyp_vgic_flush(), after the lock is dropped. */
static void flush_finish(struct vgic_vcpu *vc, unsigned int nr_lrs, uint64_t hcr,
			 struct hyp_vgic_lrs *out)
{
	/* The rest of the CPU's LRs empty (struct hyp_vgic_lrs); not all HYP_VGIC_MAX_LRS: this
	 * runs before every guest entry that follows news. */
	for (unsigned int i = vc->nr_listed; i < nr_lrs; i++)
		out->lr[i] = 0;
	out->hcr = hcr;
	out->nr = vc->nr_listed;
}

void hyp_vgic_flush(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs,
		    struct hyp_vgic_lrs *out)
{
	struct vgic_vcpu *vc;
	uint64_t hcr;

	if (!vgic || !out || vcpu >= vgic->nr_vcpus)
		return;
	if (nr_lrs > HYP_VGIC_MAX_LRS)
		nr_lrs = HYP_VGIC_MAX_LRS;
	vc = &vgic->vcpus[vcpu];
	vgic_lock(vgic);
	hcr = flush_locked(vgic, vc, vcpu, nr_lrs, out);
	vgic_unlock(vgic);
	flush_finish(vc, nr_lrs, hcr, out);
}

/* The highest-priority active interrupt of @vcpu that no LR held: what an EOI the hardware could
 * not match (counted in ICH_HCR_EL2.EOIcount) was for. */
static struct vgic_irq *unlisted_active(struct hyp_vgic *vgic, uint32_t vcpu,
					const struct vgic_vcpu *vc, unsigned int nr_listed)
{
	struct vgic_cand_iter it = vgic_cand_iter(vgic, vc);
	struct vgic_irq *best = NULL, *irq;

	while ((irq = vgic_cand_next(vgic, vcpu, &it))) {
		bool was_listed = false;

		if (!(irq->flags & IRQ_ACTIVE))
			continue;
		for (unsigned int i = 0; i < nr_listed; i++)
			was_listed |= vc->lr_intid[i] == irq->intid;
		if (!was_listed && (!best || irq->priority < best->priority))
			best = irq;
	}
	return best;
}

/* Fold list register @i of @vc, read back as @lr, into its interrupt's state (lock held). */
static void fold_lr(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu, unsigned int i,
		    uint64_t lr)
{
	struct vgic_irq *irq = vgic_irq(vgic, vcpu, vc->lr_intid[i]);
	uint8_t old;

	if (!irq || irq->listed != vcpu + 1)
		return;
	/* The state the interrupt had while listed, as the LR says: folding it back is no news for
	 * notify. */
	irq->flags &= (uint8_t)~IRQ_LR_PENDING;
	old = (uint8_t)(irq->flags & ~(IRQ_ACTIVE | IRQ_LATCH));
	if (lr & HYP_VGIC_LR_ACTIVE)
		old |= IRQ_ACTIVE;
	if (lr & HYP_VGIC_LR_PENDING)
		old |= IRQ_LATCH;
	irq->listed = 0;
	if (!(irq->won & WON_ACTIVE)) {
		if (lr & HYP_VGIC_LR_ACTIVE)
			irq->flags |= IRQ_ACTIVE;
		else
			irq->flags &= (uint8_t)~IRQ_ACTIVE;
	} else if ((lr & HYP_VGIC_LR_ACTIVE) && !(irq->flags & IRQ_ACTIVE) &&
		   (irq->flags & IRQ_HW) && vgic->ops.deactivate_hw) {
		/* Deactivated by a distributor write while the LR still held it active: the
		 * physical interrupt is ours to deactivate. */
		vgic->ops.deactivate_hw(vgic->ops.opaque, irq->pintid);
	}
	/* Still pending in the LR: the guest has not acknowledged it, the latch it took goes back
	 * (unless a distributor write cleared the pending state meanwhile). */
	if ((lr & HYP_VGIC_LR_PENDING) && vc->lr_took_latch[i] && !(irq->won & WON_PENDING))
		irq->flags |= IRQ_LATCH;
	irq->won = 0;
	hyp__vgic_irq_commit(vgic, irq, old);
}

/* hyp_vgic_sync() with the lock held. */
static void sync_locked(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu,
			const struct hyp_vgic_lrs *in)
{
	unsigned int eoicount;

	for (unsigned int i = 0; i < vc->nr_listed; i++)
		fold_lr(vgic, vc, vcpu, i, in->lr[i]);

	/* EOIs with EOImode 0 the hardware could not match to an LR: priority was dropped in the
	 * hardware's APRs, the deactivation is ours, highest active priority first. */
	eoicount = (unsigned int)((in->hcr & HYP_VGIC_HCR_EOICOUNT_MASK) >>
				  HYP_VGIC_HCR_EOICOUNT_SHIFT);
	for (unsigned int k = 0; k < eoicount; k++) {
		struct vgic_irq *irq = unlisted_active(vgic, vcpu, vc, vc->nr_listed);

		if (!irq)
			break;
		hyp__vgic_irq_deactivate(vgic, irq);
	}
	vc->nr_listed = 0;
	vc->relist = false;
}

void hyp_vgic_sync(struct hyp_vgic *vgic, uint32_t vcpu, const struct hyp_vgic_lrs *in)
{
	if (!vgic || !in || vcpu >= vgic->nr_vcpus)
		return;
	vgic_lock(vgic);
	sync_locked(vgic, &vgic->vcpus[vcpu], vcpu, in);
	vgic_unlock(vgic);
}

void hyp_vgic_resync(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs,
		     const struct hyp_vgic_lrs *in, struct hyp_vgic_lrs *out)
{
	struct vgic_vcpu *vc;
	uint64_t hcr;

	if (!vgic || !in || !out || vcpu >= vgic->nr_vcpus)
		return;
	if (nr_lrs > HYP_VGIC_MAX_LRS)
		nr_lrs = HYP_VGIC_MAX_LRS;
	vc = &vgic->vcpus[vcpu];
	vgic_lock(vgic);
	/* What the fold makes deliverable to this vCPU is listed right below: no news for it. */
	vgic->flushing = (uint16_t)vcpu;
	sync_locked(vgic, vc, vcpu, in);
	hcr = flush_locked(vgic, vc, vcpu, nr_lrs, out);
	vgic->flushing = VGIC_NO_VCPU;
	vgic_unlock(vgic);
	flush_finish(vc, nr_lrs, hcr, out);
}

/* An empty LR's interrupt that is deliverable to this vCPU again (the next edge came while it was
 * listed): what fold then list would give it, in the same LR, with no commit (its target and its
 * candidate bit stay as they are). False if anything else applies: then the plain fold. */
static inline __attribute__((always_inline)) bool
relist_in_place(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu, unsigned int i,
		struct vgic_irq *irq, struct hyp_vgic_lrs *out)
{
	/* The LR says inactive and nothing of the distributor's overrides it; still pending,
	 * enabled, its group enabled, and (an SPI) still routed here. */
	if ((irq->won & (WON_PENDING | WON_ACTIVE)) || !irq_pending(irq) ||
	    !(irq->flags & IRQ_ENABLED) || !vgic_group_enabled(vgic, irq) ||
	    (irq->intid >= HYP_VGIC_NR_PRIVATE && hyp__vgic_spi_route(vgic, irq) != vcpu) ||
	    irq->target != vcpu)
		return false;
	irq->flags &= (uint8_t)~IRQ_ACTIVE;
	out->lr[i] = lr_value(irq, true);
	irq->flags |= IRQ_LR_PENDING;
	vc->lr_took_latch[i] = irq->flags & IRQ_LATCH;
	irq->flags &= (uint8_t)~IRQ_LATCH;
	irq->won = 0;
	return true;
}

/* Fold back empty LR @i (its interrupt @irq is listed there): what fold_lr(@i, 0) does, without
 * the commit in the common case of an interrupt with nothing new (not pending again, no
 * distributor write): it is then inactive and not pending, so it is nobody's candidate, and an
 * SPI follows its routing again. */
static inline __attribute__((always_inline)) void fold_done(struct hyp_vgic *vgic,
							    struct vgic_vcpu *vc, uint32_t vcpu,
							    unsigned int i, struct vgic_irq *irq)
{
	if (irq->won || irq_pending(irq)) {
		fold_lr(vgic, vc, vcpu, i, 0);
		return;
	}
	irq->flags &= (uint8_t) ~(IRQ_ACTIVE | IRQ_LR_PENDING);
	irq->listed = 0;
	if (irq->target != VGIC_NO_VCPU)
		vgic_cand_set(&vgic->vcpus[irq->target], irq->intid, false);
	if (irq->intid >= HYP_VGIC_NR_PRIVATE)
		irq->target = hyp__vgic_spi_route(vgic, irq);
}

/*
 * Fold back the list registers of @vc that @empty (ICH_ELRSR_EL2) says hold nothing any more, and
 * make them holes (lock held). An empty LR has no pending and no active state, and, being empty,
 * no EOI maintenance interrupt to come (IHI 0069, ICH_ELRSR_EL2: State 0b00 with HW 1 or EOI 0):
 * its fold is what hyp_vgic_sync() would do with it. With @out, an interrupt pending again is
 * listed again in its LR instead (@written gets its bit). *@stale is set if an occupied LR's
 * interrupt changed since it was listed. Returns the LRs in use, one bit each.
 */
static inline __attribute__((always_inline)) uint32_t
fold_empty_locked(struct hyp_vgic *vgic, struct vgic_vcpu *vc, uint32_t vcpu, uint32_t empty,
		  bool *stale, struct hyp_vgic_lrs *out, uint32_t *written)
{
	uint32_t used = 0;

	for (unsigned int i = 0; i < vc->nr_listed; i++) {
		struct vgic_irq *irq;

		if (vc->lr_intid[i] == VGIC_LR_HOLE)
			continue;
		irq = vgic_irq(vgic, vcpu, vc->lr_intid[i]);
		if (empty & (1u << i)) {
			if (out && irq && irq->listed == vcpu + 1 &&
			    relist_in_place(vgic, vc, vcpu, i, irq, out)) {
				used |= 1u << i;
				*written |= 1u << i;
				continue;
			}
			if (irq && irq->listed == vcpu + 1)
				fold_done(vgic, vc, vcpu, i, irq);
			vc->lr_intid[i] = VGIC_LR_HOLE;
			continue;
		}
		used |= 1u << i;
		/* Changed since it was listed: the LR no longer says what it should. */
		if (irq && irq->listed == vcpu + 1 && irq->won)
			*stale = true;
	}
	/* Holes at the end are not in use: the next sync reads fewer LRs. */
	vc->nr_listed = used ? 32u - (unsigned int)__builtin_clz(used) : 0;
	if (!used)
		vc->relist = false; /* nothing listed: nothing to rewrite */
	else if (vc->relist)
		*stale = true;
	return used;
}

bool hyp_vgic_fold_empty(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t hcr, uint32_t empty,
			 uint32_t *nr)
{
	struct vgic_vcpu *vc;
	bool stale = false;
	uint32_t used;

	if (!vgic || vcpu >= vgic->nr_vcpus || hcr != HYP_VGIC_HCR_EN)
		return false;
	vc = &vgic->vcpus[vcpu];
	vgic_lock(vgic);
	vgic->flushing = (uint16_t)vcpu;
	used = fold_empty_locked(vgic, vc, vcpu, empty, &stale, NULL, NULL);
	vgic->flushing = VGIC_NO_VCPU;
	vgic_unlock(vgic);
	if (nr)
		*nr = vc->nr_listed;
	return !used;
}

/* hyp_vgic_update() past its common case, lock held (released here). */
static __attribute__((noinline)) int update_locked(struct hyp_vgic *vgic, struct vgic_vcpu *vc,
						   uint32_t vcpu, unsigned int nr_lrs, uint64_t hcr,
						   uint32_t empty, struct hyp_vgic_lrs *out)
{
	uint32_t used, free, written = 0;
	bool stale = false;

	/* What the fold makes deliverable to this vCPU is listed right below: no news for it. */
	vgic->flushing = (uint16_t)vcpu;
	used = fold_empty_locked(vgic, vc, vcpu, empty, &stale, out, &written);
	/* An interrupt an occupied LR holds changed (pending again, a distributor write): only
	 * the full fold and refill rewrites it. */
	if (stale)
		goto again;
	free = ~used & (uint32_t)((1u << nr_lrs) - 1);
	if (vc->news) {
		struct vgic_cand_iter it = vgic_cand_iter(vgic, vc);
		struct vgic_irq *irq;

		if (vc->news_intid != VGIC_LR_HOLE) {
			/* One interrupt is the news (the common case): the walk covers its bit
			 * alone (none if it is no candidate any more). */
			it.w = vc->news_intid / 64u;
			it.nr_words = it.w + 1;
			it.bits = vc->cand[it.w] & (UINT64_C(1) << (vc->news_intid % 64u));
		}
		vc->news = false;
		while ((irq = vgic_cand_next(vgic, vcpu, &it))) {
			unsigned int i;

			if (irq->listed || !listable(vgic, irq))
				continue;
			/* No LR left: which candidates deserve the LRs is hyp_vgic_flush()'s
			 * choice. */
			if (!free) {
				vgic_news(vc, VGIC_LR_HOLE);
				goto again;
			}
			i = (unsigned int)__builtin_ctz(free);
			free &= free - 1;
			list_irq(vgic, vc, vcpu, i, irq, out);
			written |= 1u << i;
			if (i >= vc->nr_listed) {
				/* LRs between the old end and @i hold nothing (flush and holes). */
				for (unsigned int k = vc->nr_listed; k < i; k++)
					vc->lr_intid[k] = VGIC_LR_HOLE;
				vc->nr_listed = i + 1;
			}
		}
	}
	vgic->flushing = VGIC_NO_VCPU;
	vgic_unlock(vgic);
	out->hcr = hcr;
	out->nr = vc->nr_listed;
	return (int)written;
again:
	/* Nothing is written: what was listed into an LR above goes back as if the guest had not
	 * run (the LR still holds nothing), so the full fold finds the hardware as it was. */
	while (written) {
		unsigned int i = (unsigned int)__builtin_ctz(written);

		written &= written - 1;
		fold_lr(vgic, vc, vcpu, i, out->lr[i]);
		vc->lr_intid[i] = VGIC_LR_HOLE;
	}
	while (vc->nr_listed && vc->lr_intid[vc->nr_listed - 1] == VGIC_LR_HOLE)
		vc->nr_listed--;
	vgic->flushing = VGIC_NO_VCPU;
	vgic_unlock(vgic);
	return -EAGAIN;
}

int hyp_vgic_update(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs, uint64_t hcr,
		    uint32_t empty, struct hyp_vgic_lrs *out)
{
	struct vgic_vcpu *vc;
	struct vgic_irq *irq;

	if (!vgic || !out || vcpu >= vgic->nr_vcpus)
		return -EINVAL;
	/* Maintenance requested (more candidates than LRs) or EOIs to count: the full fold. */
	if (hcr != HYP_VGIC_HCR_EN)
		return -EAGAIN;
	if (nr_lrs > HYP_VGIC_MAX_LRS)
		nr_lrs = HYP_VGIC_MAX_LRS;
	vc = &vgic->vcpus[vcpu];
	vgic_lock(vgic);
	/* The common case of an interrupt that comes again and again (an IPI, a device's edge):
	 * the one LR in use holds it, the guest is done with it, it is pending again and nothing
	 * else is news. What the general path below does then, without its walk: relist it in
	 * place. */
	if (vc->nr_listed == 1 && (empty & 1) && !vc->news && !vc->relist) {
		irq = vgic_irq(vgic, vcpu, vc->lr_intid[0]);
		if (irq && irq->listed == vcpu + 1 &&
		    relist_in_place(vgic, vc, vcpu, 0, irq, out)) {
			vgic_unlock(vgic);
			out->hcr = hcr;
			out->nr = 1;
			return 1;
		}
	}
	return update_locked(vgic, vc, vcpu, nr_lrs, hcr, empty, out);
}
