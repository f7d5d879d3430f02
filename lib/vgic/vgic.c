// SPDX-License-Identifier: MIT
/*
 * lib/vgic: creation, the per-interrupt state machine, routing, SGI generation and the interrupt
 * sources (lines, edges, HW mapping).
 *
 * The state of an interrupt is the IHI 0069 "Interrupt handling state machine": inactive,
 * pending, active, active and pending. Pending is derived, not stored: "latch or (level-sensitive
 * and line high)". Every change of an interrupt's state ends in hyp__vgic_irq_commit(), which
 * keeps two derived facts right: which vCPU the interrupt belongs to (routing), and whether it is
 * in that vCPU's candidate bitmap (pending and enabled, or active), which is what flush, the
 * software CPU interface and the wake-up query scan instead of every INTID.
 */
#include "arm64.h"
#include "hyp_string.h"
#include "vgic-internal.h"

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void notify(struct hyp_vgic *vgic, uint32_t vcpu)
{
	if (vcpu != vgic->flushing)
		vgic->ops.notify(vgic->ops.opaque, vcpu);
}

uint16_t hyp__vgic_find_mpidr(const struct hyp_vgic *vgic, uint64_t aff)
{
	aff &= AFF_MASK;
	for (uint32_t i = 0; i < vgic->nr_vcpus; i++)
		if (vgic->vcpus[i].mpidr == aff)
			return (uint16_t)i;
	return VGIC_NO_VCPU;
}

static bool flags_pending(uint8_t f)
{
	return (f & IRQ_ENABLED) && ((f & IRQ_LATCH) || (f & (IRQ_EDGE | IRQ_LINE)) == IRQ_LINE);
}

void hyp__vgic_irq_commit(struct hyp_vgic *vgic, struct vgic_irq *irq, uint8_t old_flags)
{
	uint16_t old_target = irq->target;
	uint16_t target = old_target;
	bool pend_old = flags_pending(old_flags), pend_new = flags_pending(irq->flags);
	/* Deliverable: pending, enabled, and not active (an active interrupt is not signalled
	 * again until it is deactivated). */
	bool was = pend_old && !(old_flags & IRQ_ACTIVE);
	bool now = pend_new && !(irq->flags & IRQ_ACTIVE);

	/* An SPI keeps its PE while it is active or in a list register: the guest that acknowledged
	 * it must be the one that deactivates it. */
	if (irq->intid >= HYP_VGIC_NR_PRIVATE &&
	    (!(irq->flags & IRQ_ACTIVE) || target == VGIC_NO_VCPU) && !irq->listed)
		target = hyp__vgic_spi_route(vgic, irq);

	if (old_target != VGIC_NO_VCPU && old_target != target)
		vgic_cand_set(&vgic->vcpus[old_target], irq->intid, false);
	irq->target = target;
	if (target == VGIC_NO_VCPU)
		return;
	vgic_cand_set(&vgic->vcpus[target], irq->intid, pend_new || (irq->flags & IRQ_ACTIVE));
	if ((pend_new || (irq->flags & IRQ_ACTIVE)) && !irq->listed)
		vgic_news(&vgic->vcpus[target], irq->intid);
	/* Tell the PE when it has something new to take, and the one whose list register holds the
	 * interrupt when it became pending again (the LR has to be rewritten as active and pending:
	 * the guest would not see it otherwise until its next exit). */
	if ((now && (!was || old_target != target)) || (irq->listed && pend_new && !pend_old)) {
		irq->won |= irq->listed ? WON_RELIST : 0;
		notify(vgic, target);
	}
}

void hyp__vgic_irq_deactivate(struct hyp_vgic *vgic, struct vgic_irq *irq)
{
	uint8_t old = irq->flags;

	if (!(old & IRQ_ACTIVE))
		return;
	irq->flags &= (uint8_t)~IRQ_ACTIVE;
	if ((old & IRQ_HW) && vgic->ops.deactivate_hw)
		vgic->ops.deactivate_hw(vgic->ops.opaque, irq->pintid);
	hyp__vgic_irq_commit(vgic, irq, old);
}

void hyp__vgic_notify_all(struct hyp_vgic *vgic)
{
	for (uint32_t v = 0; v < vgic->nr_vcpus; v++) {
		uint64_t any = 0;

		for (unsigned int w = 0; w < VGIC_BITMAP_WORDS; w++)
			any |= vgic->vcpus[v].cand[w];
		if (any) {
			vgic_news(&vgic->vcpus[v], VGIC_LR_HOLE);
			notify(vgic, v);
		}
	}
}

void hyp__vgic_update_awake(struct hyp_vgic *vgic)
{
	uint16_t first = 0;

	for (uint32_t v = 0; v < vgic->nr_vcpus; v++) {
		if (!vgic->vcpus[v].asleep) {
			first = (uint16_t)v;
			break;
		}
	}
	if (first == vgic->first_awake)
		return;
	vgic->first_awake = first;
	/* 1-of-N SPIs not yet delivered follow the choice. */
	for (uint32_t i = 0; i < vgic->nr_spis; i++) {
		struct vgic_irq *irq = &vgic->spis[i];

		if (irq->route & IROUTER_IRM)
			hyp__vgic_irq_commit(vgic, irq, irq->flags);
	}
}

/* SGI @intid generated for vCPU @v. With a single security state, SGI1R sets a Group 1 SGI
 * pending, SGI0R (and ASGI1R, there being no other Security state to name) a Group 0 one; an SGI
 * of the other group on the target is not forwarded (IHI 0069, ICC_SGI0R_EL1/ICC_SGI1R_EL1). */
static void sgi_pend(struct hyp_vgic *vgic, uint32_t v, uint32_t intid, bool group1)
{
	struct vgic_irq *irq = &vgic->vcpus[v].priv[intid];
	uint8_t old = irq->flags;

	if (!!(old & IRQ_GROUP1) != group1)
		return;
	irq->flags |= IRQ_LATCH;
	hyp__vgic_irq_commit(vgic, irq, old);
}

void hyp__vgic_sgi(struct hyp_vgic *vgic, uint32_t src, uint64_t val, bool group1)
{
	/* ICC_SGI1R_EL1: TargetList [15:0], Aff1 [23:16], INTID [27:24], Aff2 [39:32], IRM [40],
	 * RS [47:44], Aff3 [55:48]. A target list names Aff0 = RS * 16 + bit under Aff3.Aff2.Aff1;
	 * IRM = 1 is every PE but the sender (IHI 0069, "Software Generated Interrupts"). Targets
	 * that do not exist are ignored. */
	uint32_t intid = (uint32_t)(val >> 24) & 0xf;
	uint32_t aff1 = (uint32_t)(val >> 16) & 0xff, aff2 = (uint32_t)(val >> 32) & 0xff;
	uint32_t aff3 = (uint32_t)(val >> 48) & 0xff, rs = (uint32_t)(val >> 44) & 0xf;
	uint64_t aff321 = (uint64_t)aff3 << 32 | aff2 << 16 | aff1 << 8;
	uint32_t list = (uint32_t)val & 0xffff;

	if ((val >> 40) & 1) {
		for (uint32_t v = 0; v < vgic->nr_vcpus; v++)
			if (v != src)
				sgi_pend(vgic, v, intid, group1);
		return;
	}
	/* Each target where libhyp's default numbering puts it (hyp__default_mpidr(): Aff0 = index
	 * bits 3:0, Aff1 = bits 11:4, Aff2 = bits 19:12, so RS and Aff3 are 0), one lookup each;
	 * from the first that is not there, one pass over the vCPUs for the rest of the list. */
	while (list && !rs && !aff3) {
		uint32_t aff0 = (uint32_t)__builtin_ctz(list), v = aff2 << 12 | aff1 << 4 | aff0;

		if (v >= vgic->nr_vcpus || vgic->vcpus[v].mpidr != (aff321 | aff0))
			break;
		list &= list - 1;
		sgi_pend(vgic, v, intid, group1);
	}
	for (uint32_t v = 0; list && v < vgic->nr_vcpus; v++) {
		uint64_t m = vgic->vcpus[v].mpidr;

		if ((m & ~UINT64_C(0xff)) == aff321 && ((m & 0xff) >> 4) == rs &&
		    (list & (1u << (m & 0xf))))
			sgi_pend(vgic, v, intid, group1);
	}
}

static void irq_init(struct vgic_irq *irq, uint32_t intid, uint16_t target)
{
	memset(irq, 0, sizeof(*irq));
	irq->intid = (uint16_t)intid;
	irq->target = target;
	irq->route_vcpu = target;
	/* Group 1 at reset, as KVM's vGICv3 (the architecture leaves it to the implementation);
	 * SGIs are edge-triggered and, as on KVM, enabled. */
	irq->flags = IRQ_GROUP1;
	if (intid < 16)
		irq->flags |= IRQ_EDGE | IRQ_ENABLED;
}

int hyp_vgic_create(const struct hyp_vgic_config *config, struct hyp_vgic **ret)
{
	size_t off_vcpus, off_spis, size;
	struct hyp_vgic *vgic;
	uint32_t nr_spis;
	char *mem;

	if (!config || !ret || !config->alloc || !config->alloc->alloc || !config->alloc->free ||
	    !config->ops.notify)
		return -EINVAL;
	nr_spis = config->nr_spis;
	if (config->nr_vcpus < 1 || config->nr_vcpus > HYP_VGIC_MAX_VCPUS ||
	    (nr_spis % 32 && nr_spis != HYP_VGIC_MAX_SPIS) || nr_spis > HYP_VGIC_MAX_SPIS)
		return -EINVAL;

	off_vcpus = align_up(sizeof(*vgic), 64);
	off_spis = align_up(off_vcpus + config->nr_vcpus * sizeof(struct vgic_vcpu), 64);
	size = off_spis + nr_spis * sizeof(struct vgic_irq);
	mem = config->alloc->alloc(config->alloc->opaque, size, 64);
	if (!mem)
		return -ENOMEM;
	memset(mem, 0, size);
	vgic = (struct hyp_vgic *)(void *)mem;
	atomic_flag_clear(&vgic->lock);
	vgic->flushing = VGIC_NO_VCPU;
	vgic->nr_vcpus = config->nr_vcpus;
	vgic->nr_spis = nr_spis;
	vgic->nr_irqs = HYP_VGIC_NR_PRIVATE + nr_spis;
	vgic->ops = config->ops;
	vgic->alloc = config->alloc;
	vgic->alloc_size = size;
	vgic->vcpus = (struct vgic_vcpu *)(void *)(mem + off_vcpus);
	vgic->spis = nr_spis ? (struct vgic_irq *)(void *)(mem + off_spis) : NULL;
	/* ICH_VTR_EL2.PREbits [28:26] = preemption bits - 1; the software interface has 5. */
	vgic->prebits = config->ich_vtr ? (unsigned int)((config->ich_vtr >> 26) & 7) + 1 :
					  HYP_VGIC_PRI_BITS;

	for (uint32_t v = 0; v < vgic->nr_vcpus; v++) {
		struct vgic_vcpu *vc = &vgic->vcpus[v];

		for (uint32_t i = 0; i < HYP_VGIC_NR_PRIVATE; i++)
			irq_init(&vc->priv[i], i, (uint16_t)v);
		vc->mpidr = hyp__default_mpidr(v) & AFF_MASK;
		vc->asleep = true;
		/* The CPU interface out of reset: PMR 0 (everything masked), BPRs at their minimum
		 * (IHI 0069, ICC_BPR0_EL1/ICC_BPR1_EL1: reset to the minimum value, BPR1 = BPR0 + 1),
		 * groups disabled, EOImode 0. */
		vc->cpu.vmcr = (uint64_t)(7 - HYP_VGIC_PRI_BITS) << HYP_VGIC_VMCR_VBPR0_SHIFT |
			       (uint64_t)(8 - HYP_VGIC_PRI_BITS) << HYP_VGIC_VMCR_VBPR1_SHIFT;
	}
	/* IROUTER resets to 0: affinity 0.0.0.0, which is vCPU 0 with the default MPIDRs. */
	for (uint32_t i = 0; i < nr_spis; i++)
		irq_init(&vgic->spis[i], HYP_VGIC_NR_PRIVATE + i, hyp__vgic_find_mpidr(vgic, 0));
	*ret = vgic;
	return 0;
}

void hyp_vgic_destroy(struct hyp_vgic *vgic)
{
	if (!vgic)
		return;
	vgic->alloc->free(vgic->alloc->opaque, vgic, vgic->alloc_size);
}

int hyp_vgic_set_mpidr(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t mpidr)
{
	uint16_t other;

	if (!vgic || vcpu >= vgic->nr_vcpus)
		return -EINVAL;
	mpidr &= AFF_MASK;
	vgic_lock(vgic);
	other = hyp__vgic_find_mpidr(vgic, mpidr);
	if (other != VGIC_NO_VCPU && other != vcpu) {
		if (vgic->vcpus[other].mpidr_given) {
			vgic_unlock(vgic);
			return -EEXIST;
		}
		/* It had the affinity by default only (a vCPU not set up yet): it answers to none
		 * until it is given its own. */
		vgic->vcpus[other].mpidr = VGIC_MPIDR_NONE;
	}
	vgic->vcpus[vcpu].mpidr = mpidr;
	vgic->vcpus[vcpu].mpidr_given = true;
	for (uint32_t i = 0; i < vgic->nr_spis; i++) {
		struct vgic_irq *irq = &vgic->spis[i];

		irq->route_vcpu = hyp__vgic_find_mpidr(vgic, irq->route);
		hyp__vgic_irq_commit(vgic, irq, irq->flags);
	}
	vgic_unlock(vgic);
	return 0;
}

/* The interrupt a source names, or NULL: SGIs only when @sgi_ok. */
static struct vgic_irq *source_irq(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid,
				   bool sgi_ok)
{
	if (!vgic || (intid < 16 && !sgi_ok))
		return NULL;
	return vgic_irq(vgic, vcpu, intid);
}

int hyp_vgic_set_level(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid, bool level)
{
	struct vgic_irq *irq;
	uint8_t old;

	if (intid >= HYP_VGIC_NR_PRIVATE)
		vcpu = 0;
	irq = source_irq(vgic, vcpu, intid, false);
	if (!irq)
		return -EINVAL;
	vgic_lock(vgic);
	old = irq->flags;
	if (!level && (old & IRQ_EDGE)) {
		/* An edge-triggered interrupt's state does not follow its line: only the next
		 * rising edge needs to know it fell (the common "pulse" of a device model). */
		irq->flags &= (uint8_t)~IRQ_LINE;
		vgic_unlock(vgic);
		return 0;
	}
	if (level) {
		/* An edge-triggered interrupt latches on the rising edge only. */
		if ((old & (IRQ_EDGE | IRQ_LINE)) == IRQ_EDGE)
			irq->flags |= IRQ_LATCH;
		irq->flags |= IRQ_LINE;
	} else {
		irq->flags &= (uint8_t)~IRQ_LINE;
	}
	hyp__vgic_irq_commit(vgic, irq, old);
	vgic_unlock(vgic);
	return 0;
}

int hyp_vgic_raise(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid)
{
	struct vgic_irq *irq;
	uint8_t old;

	if (intid >= HYP_VGIC_NR_PRIVATE)
		vcpu = 0;
	irq = source_irq(vgic, vcpu, intid, true);
	if (!irq)
		return -EINVAL;
	vgic_lock(vgic);
	old = irq->flags;
	irq->flags |= IRQ_LATCH;
	hyp__vgic_irq_commit(vgic, irq, old);
	vgic_unlock(vgic);
	return 0;
}

int hyp_vgic_map_hw(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid, uint32_t pintid)
{
	struct vgic_irq *irq;

	if (intid >= HYP_VGIC_NR_PRIVATE)
		vcpu = 0;
	irq = source_irq(vgic, vcpu, intid, false);
	/* pINTID is 13 bits in the LR; physical SGIs cannot be forwarded. */
	if (!irq || (pintid && (pintid < 16 || pintid >= VGIC_MAX_INTID)))
		return -EINVAL;
	vgic_lock(vgic);
	/* Untied while the guest still has it active: the physical interrupt would stay active for
	 * ever, so it is deactivated now (the virtual one stays active until the guest is done). */
	if (!pintid && (irq->flags & (IRQ_HW | IRQ_ACTIVE)) == (IRQ_HW | IRQ_ACTIVE) &&
	    vgic->ops.deactivate_hw)
		vgic->ops.deactivate_hw(vgic->ops.opaque, irq->pintid);
	irq->pintid = (uint16_t)pintid;
	if (pintid)
		irq->flags |= IRQ_HW;
	else
		irq->flags &= (uint8_t)~IRQ_HW;
	vgic_unlock(vgic);
	return 0;
}

int hyp_vgic_irq_info(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid,
		      struct hyp_vgic_irq_info *out)
{
	struct vgic_irq *irq;

	if (intid >= HYP_VGIC_NR_PRIVATE)
		vcpu = 0;
	irq = source_irq(vgic, vcpu, intid, true);
	if (!irq || !out)
		return -EINVAL;
	vgic_lock(vgic);
	out->pending = irq_pending_view(irq);
	out->active = irq->flags & IRQ_ACTIVE;
	out->enabled = irq->flags & IRQ_ENABLED;
	out->group1 = irq->flags & IRQ_GROUP1;
	out->edge = irq->flags & IRQ_EDGE;
	out->line = irq->flags & IRQ_LINE;
	out->hw = irq->flags & IRQ_HW;
	out->priority = irq->priority;
	out->target = irq->target == VGIC_NO_VCPU ? UINT32_MAX : irq->target;
	vgic_unlock(vgic);
	return 0;
}

int hyp_vgic_deactivate(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid)
{
	struct vgic_irq *irq;

	if (!vgic || vcpu >= vgic->nr_vcpus)
		return -EINVAL;
	irq = vgic_irq(vgic, vcpu, intid);
	if (!irq)
		return intid < 1024 ? 0 : -EINVAL;
	vgic_lock(vgic);
	if (irq->target == vcpu && !irq->listed)
		hyp__vgic_irq_deactivate(vgic, irq);
	vgic_unlock(vgic);
	return 0;
}

struct hyp_vgic_cpu_state *hyp_vgic_cpu_state(struct hyp_vgic *vgic, uint32_t vcpu)
{
	if (!vgic || vcpu >= vgic->nr_vcpus)
		return NULL;
	return &vgic->vcpus[vcpu].cpu;
}
