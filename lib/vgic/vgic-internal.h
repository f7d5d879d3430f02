/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared by the files of lib/vgic and nothing else.
 */
#ifndef HYP_VGIC_VGIC_INTERNAL_H
#define HYP_VGIC_VGIC_INTERNAL_H

#include <stdatomic.h>

#include "hyp_base.h"
#include "hyp_errno.h"
#include "vgic/vgic.h"

#define VGIC_NO_VCPU 0xffffu
/* struct vgic_vcpu.mpidr of a vCPU that answers to no affinity: bits outside Aff3..Aff0, so no
 * comparison with a masked affinity matches it. */
#define VGIC_MPIDR_NONE UINT64_MAX
#define VGIC_MAX_INTID 1020u /* INTIDs 1020..1023 are special */
#define VGIC_BITMAP_WORDS (VGIC_MAX_INTID / 64 + 1)
/* struct vgic_vcpu.lr_intid of a list register that holds nothing (hyp_vgic_update() folded it
 * back): no interrupt has this INTID. */
#define VGIC_LR_HOLE 0xffffu

/* struct vgic_irq.flags */
#define IRQ_ENABLED (1u << 0)
#define IRQ_GROUP1 (1u << 1)
#define IRQ_EDGE (1u << 2)
#define IRQ_LATCH (1u << 3) /* software pending state: edges, ISPENDR, SGIs */
#define IRQ_LINE (1u << 4)  /* input line level */
#define IRQ_ACTIVE (1u << 5)
#define IRQ_HW (1u << 6)
/* Listed in a list register as pending (the LR holds its pending state): what a read of
 * GICD_ISPENDR/GICR_ISPENDR0 shows while it is listed, as of the flush. Not part of the state
 * machine (irq_pending() ignores it). */
#define IRQ_LR_PENDING (1u << 7)

/* struct vgic_irq.won: a distributor write changed the state of an interrupt held in a list
 * register; at sync the distributor's value of that part wins over the LR's. */
#define WON_PENDING (1u << 0)
#define WON_ACTIVE (1u << 1)
/* ...or something else changed for it that the LR must show (pending again, priority, group,
 * enable, routing): hyp_vgic_update() cannot rewrite an occupied LR, only a full sync and flush. */
#define WON_RELIST (1u << 2)

/* GICD_IROUTER: Aff3 [39:32], IRM [31], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0]. */
#define IROUTER_IRM (UINT64_C(1) << 31)
#define IROUTER_MASK UINT64_C(0x000000ff80ffffff)
#define AFF_MASK UINT64_C(0x000000ff00ffffff)

struct vgic_irq {
	uint64_t route; /* SPIs: GICD_IROUTER as written (implemented bits) */
	uint16_t intid;
	uint16_t target;     /* vCPU it is pending/active for; VGIC_NO_VCPU */
	uint16_t route_vcpu; /* SPIs, IRM == 0: the vCPU @route names; VGIC_NO_VCPU */
	uint16_t pintid;     /* IRQ_HW: physical INTID */
	uint16_t listed;     /* vCPU index + 1 whose list registers hold it; 0 */
	uint8_t priority;
	uint8_t flags;
	uint8_t won;
};

struct vgic_vcpu {
	struct vgic_irq priv[HYP_VGIC_NR_PRIVATE];
	/* Interrupts targeting this vCPU that are pending and enabled, or active. Under the lock. */
	uint64_t cand[VGIC_BITMAP_WORDS];
	uint32_t nr_cand; /* bits set in @cand (vgic_cand_set()) */
	uint64_t mpidr;	  /* Aff3..Aff0; VGIC_MPIDR_NONE: none (see hyp_vgic_set_mpidr()) */
	bool mpidr_given; /* by hyp_vgic_set_mpidr(), not the default */
	bool asleep;	  /* GICR_WAKER.ProcessorSleep; under the lock */
	/* The distributor's group enables changed: what the list registers hold was listed under
	 * the old ones (hyp_vgic_update() then defers to a full sync and flush). Under the lock. */
	bool relist;
	/* An interrupt became a candidate for this vCPU (pending or active) and no list register
	 * holds it: hyp_vgic_update() walks the candidates only then. Under the lock. */
	bool news;
	/* With @news: the one interrupt that is news, or VGIC_LR_HOLE (several, or unknown). */
	uint16_t news_intid;

	/* Private to the vCPU's thread. */
	struct hyp_vgic_cpu_state cpu;
	uint32_t nr_listed;
	uint16_t lr_intid[HYP_VGIC_MAX_LRS];
	bool lr_took_latch[HYP_VGIC_MAX_LRS];
};

struct hyp_vgic {
	atomic_flag lock;
	uint32_t nr_vcpus;
	uint32_t nr_spis;
	uint32_t nr_irqs;     /* 32 + nr_spis */
	unsigned int prebits; /* preemption bits of the APR layout in struct hyp_vgic_cpu_state */
	struct hyp_vgic_ops ops;
	const struct hyp_alloc_ops *alloc;
	size_t alloc_size;

	uint32_t gicd_ctlr;   /* EnableGrp0 / EnableGrp1 */
	uint16_t first_awake; /* lowest vCPU with ProcessorSleep == 0, or 0 */
	/* The vCPU whose list registers hyp_vgic_resync() is refilling under the lock: changes the
	 * fold makes are not news to it. VGIC_NO_VCPU otherwise. */
	uint16_t flushing;

	struct vgic_vcpu *vcpus;
	struct vgic_irq *spis;
};

/* GICD_CTLR with DS == 1 (IHI 0069, GICD_CTLR, "when GICD_CTLR.DS == 1"). */
#define GICD_CTLR_ENABLE_GRP0 (1u << 0)
#define GICD_CTLR_ENABLE_GRP1 (1u << 1)
#define GICD_CTLR_ARE (1u << 4)
#define GICD_CTLR_DS (1u << 6)

static inline void vgic_lock(struct hyp_vgic *vgic)
{
	while (atomic_flag_test_and_set_explicit(&vgic->lock, memory_order_acquire))
		hyp__cpu_relax();
}

static inline void vgic_unlock(struct hyp_vgic *vgic)
{
	atomic_flag_clear_explicit(&vgic->lock, memory_order_release);
}

static inline bool irq_pending(const struct vgic_irq *irq)
{
	return (irq->flags & IRQ_LATCH) || ((irq->flags & (IRQ_EDGE | IRQ_LINE)) == IRQ_LINE);
}

/* Pending as the distributor reports it: an interrupt a list register holds pending counts. */
static inline bool irq_pending_view(const struct vgic_irq *irq)
{
	return irq_pending(irq) || (irq->listed && (irq->flags & IRQ_LR_PENDING));
}

/* The interrupt @intid as seen by vCPU @vcpu (private interrupts are banked); NULL if it does not
 * exist. */
static inline struct vgic_irq *vgic_irq(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid)
{
	if (intid < HYP_VGIC_NR_PRIVATE)
		return vcpu < vgic->nr_vcpus ? &vgic->vcpus[vcpu].priv[intid] : NULL;
	if (intid < vgic->nr_irqs)
		return &vgic->spis[intid - HYP_VGIC_NR_PRIVATE];
	return NULL;
}

/* Set or clear @intid in @vc's candidate bitmap, keeping the count (lock held). */
static inline void vgic_cand_set(struct vgic_vcpu *vc, uint32_t intid, bool on)
{
	uint64_t bit = UINT64_C(1) << (intid % 64), *w = &vc->cand[intid / 64];

	if (!!(*w & bit) == on)
		return;
	*w ^= bit;
	if (on)
		vc->nr_cand++;
	else
		vc->nr_cand--;
}

/* @intid (VGIC_LR_HOLE: unknown) became a candidate of @vc that no LR holds (lock held). */
static inline void vgic_news(struct vgic_vcpu *vc, uint32_t intid)
{
	/* A second, different one: the update walks every candidate. */
	vc->news_intid = (!vc->news || vc->news_intid == intid) ? (uint16_t)intid : VGIC_LR_HOLE;
	vc->news = true;
}

/* Walk over the interrupts in a vCPU's candidate bitmap, ascending INTIDs:
 *	struct vgic_cand_iter it = vgic_cand_iter(vgic, vc);
 *	while ((irq = vgic_cand_next(vgic, vcpu, &it)))
 * The bitmap may not change during the walk (lock held, or the vCPU's own thread for reads). */
struct vgic_cand_iter {
	const uint64_t *words;
	unsigned int w, nr_words;
	uint64_t bits;
};

static inline struct vgic_cand_iter vgic_cand_iter(const struct hyp_vgic *vgic,
						   const struct vgic_vcpu *vc)
{
	return (struct vgic_cand_iter){ .words = vc->cand,
					.nr_words = (vgic->nr_irqs + 63) / 64,
					.bits = vc->cand[0] };
}

static inline struct vgic_irq *vgic_cand_next(struct hyp_vgic *vgic, uint32_t vcpu,
					      struct vgic_cand_iter *it)
{
	for (;;) {
		uint32_t intid;
		struct vgic_irq *irq;

		while (!it->bits) {
			if (++it->w >= it->nr_words)
				return NULL;
			it->bits = it->words[it->w];
		}
		intid = it->w * 64 + (uint32_t)__builtin_ctzll(it->bits);
		it->bits &= it->bits - 1;
		irq = vgic_irq(vgic, vcpu, intid);
		if (irq)
			return irq;
	}
}

static inline bool vgic_group_enabled(const struct hyp_vgic *vgic, const struct vgic_irq *irq)
{
	return vgic->gicd_ctlr &
	       ((irq->flags & IRQ_GROUP1) ? GICD_CTLR_ENABLE_GRP1 : GICD_CTLR_ENABLE_GRP0);
}

/* The vCPU an SPI goes to now (routing), VGIC_NO_VCPU if none. */
static inline uint16_t hyp__vgic_spi_route(const struct hyp_vgic *vgic, const struct vgic_irq *irq)
{
	/* IRM == 1: "1 of N" (IHI 0069, "Affinity routing"): the choice of PE is the
	 * implementation's; ours is the lowest-numbered awake redistributor (see vgic.h). */
	if (irq->route & IROUTER_IRM)
		return vgic->first_awake;
	return irq->route_vcpu;
}

/* vgic.c: with the lock held. */
/* Recompute @irq's target and candidate bit after a change of its state; @old_flags is what its
 * flags were before (for the notify decision). */
void hyp__vgic_irq_commit(struct hyp_vgic *vgic, struct vgic_irq *irq, uint8_t old_flags);
/* Deactivate @irq (software: DIR, EOI, ICACTIVER, EOIcount): HW interrupts through the callback. */
void hyp__vgic_irq_deactivate(struct hyp_vgic *vgic, struct vgic_irq *irq);
/* vCPU index for an affinity, VGIC_NO_VCPU if none. */
uint16_t hyp__vgic_find_mpidr(const struct hyp_vgic *vgic, uint64_t aff);
void hyp__vgic_update_awake(struct hyp_vgic *vgic);
/* SGIs from a write of ICC_SGI1R_EL1 (@group1) or ICC_SGI0R_EL1/ICC_ASGI1R_EL1 by @src. */
void hyp__vgic_sgi(struct hyp_vgic *vgic, uint32_t src, uint64_t val, bool group1);
/* Notify every vCPU with something pending (after group enables change). */
void hyp__vgic_notify_all(struct hyp_vgic *vgic);

/* cpuif.c: the highest-priority deliverable interrupt of @vcpu's candidates (pending, enabled,
 * group enabled in the distributor and, if @cpu, in the CPU interface); NULL if none. */
struct vgic_irq *hyp__vgic_hppi(struct hyp_vgic *vgic, uint32_t vcpu, bool cpu_enables);

#endif /* HYP_VGIC_VGIC_INTERNAL_H */
