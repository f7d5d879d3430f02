// SPDX-License-Identifier: MIT
/*
 * lib/vgic: the software CPU interface (ICC_*_EL1 answered from a struct hyp_vgic_cpu_state, for
 * hosts without list registers) and the "would this vCPU take an interrupt" query.
 *
 * The state is kept in the ICH_VMCR_EL2 / ICH_AP<g>R<n>_EL2 layout, so the same query reads a
 * vCPU's saved hardware state too. Priorities follow IHI 0069 "Interrupt prioritization": an
 * interrupt is signalled if its priority is higher (numerically lower) than ICC_PMR_EL1 and its
 * group priority (the priority with the subpriority bits of ICC_BPR<g>_EL1 cleared) is higher
 * than the running priority, which is the highest priority set in the active priority registers.
 * Acknowledging sets the interrupt's active-priority bit; an EOI clears the highest one (priority
 * drop) and, with EOImode 0, also deactivates the interrupt; with EOImode 1 ICC_DIR_EL1 does.
 */
#include "vgic-internal.h"

#define ICC_CTLR_EOIMODE (UINT64_C(1) << 1)
#define ICC_CTLR_PRIBITS_SHIFT 8
#define ICC_CTLR_A3V (UINT64_C(1) << 15)
#define ICC_CTLR_RSS (UINT64_C(1) << 18)
#define ICC_SRE_VALUE UINT64_C(0x7) /* SRE, DFB, DIB: system registers only */
#define IDLE_PRIORITY 0xffu
#define INTID_MASK 0xffffffu

static unsigned int vmcr_field(uint64_t vmcr, unsigned int shift, unsigned int bits)
{
	return (unsigned int)(vmcr >> shift) & ((1u << bits) - 1);
}

static uint64_t vmcr_set(uint64_t vmcr, unsigned int shift, unsigned int bits, uint64_t v)
{
	uint64_t mask = ((UINT64_C(1) << bits) - 1) << shift;

	return (vmcr & ~mask) | ((v << shift) & mask);
}

/* BPR minimums for 5 priority bits: BPR0 = 7 - 5 = 2, BPR1 = BPR0 + 1. */
static unsigned int bpr_min(bool group1)
{
	return 7 - HYP_VGIC_PRI_BITS + group1;
}

/* The group priority of @prio under the vCPU's BPR for its group (ICC_BPR0_EL1 = n: group
 * priority is bits [7:n+1]; ICC_BPR1_EL1 = n: bits [7:n]). */
static uint8_t group_priority(const struct hyp_vgic_cpu_state *cpu, uint8_t prio, bool group1)
{
	unsigned int bpr = group1 ? vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VBPR1_SHIFT, 3) :
				    vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VBPR0_SHIFT, 3) + 1;

	return (uint8_t)(prio & (0xffu << bpr));
}

/* Active-priority bit index of a group priority with @prebits preemption bits. */
static unsigned int apr_index(unsigned int prebits, uint8_t gprio)
{
	return gprio >> (8 - prebits);
}

static unsigned int apr_words(unsigned int prebits)
{
	return (1u << prebits) / 32;
}

/* The running priority: the highest active priority of either group, or idle. */
static unsigned int running_priority(const struct hyp_vgic *vgic,
				     const struct hyp_vgic_cpu_state *cpu)
{
	for (unsigned int w = 0; w < apr_words(vgic->prebits); w++) {
		uint32_t bits = (uint32_t)(cpu->ap0r[w] | cpu->ap1r[w]);

		if (bits)
			return (w * 32 + (unsigned int)__builtin_ctz(bits)) << (8 - vgic->prebits);
	}
	return IDLE_PRIORITY;
}

struct vgic_irq *hyp__vgic_hppi(struct hyp_vgic *vgic, uint32_t vcpu, bool cpu_enables)
{
	struct vgic_vcpu *vc = &vgic->vcpus[vcpu];
	struct vgic_cand_iter it = vgic_cand_iter(vgic, vc);
	struct vgic_irq *best = NULL, *irq;

	while ((irq = vgic_cand_next(vgic, vcpu, &it))) {
		bool g1;

		/* An active interrupt is not signalled again until it is deactivated, even if it is
		 * pending too. */
		if (irq->listed || (irq->flags & (IRQ_ACTIVE | IRQ_ENABLED)) != IRQ_ENABLED ||
		    !irq_pending(irq) || !vgic_group_enabled(vgic, irq))
			continue;
		g1 = irq->flags & IRQ_GROUP1;
		if (cpu_enables &&
		    !(vc->cpu.vmcr & (g1 ? HYP_VGIC_VMCR_VENG1 : HYP_VGIC_VMCR_VENG0)))
			continue;
		/* Ascending INTIDs: on equal priority the lowest INTID wins. */
		if (!best || irq->priority < best->priority)
			best = irq;
	}
	return best;
}

/* Would @irq, the HPPI, be signalled to the vCPU now (PMR and preemption)? */
static bool can_signal(const struct hyp_vgic *vgic, const struct hyp_vgic_cpu_state *cpu,
		       const struct vgic_irq *irq)
{
	unsigned int pmr = vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VPMR_SHIFT, 8);

	return irq->priority < pmr && group_priority(cpu, irq->priority, irq->flags & IRQ_GROUP1) <
					      running_priority(vgic, cpu);
}

bool hyp_vgic_irq_line(struct hyp_vgic *vgic, uint32_t vcpu)
{
	struct vgic_irq *irq;
	bool ret;

	if (!vgic || vcpu >= vgic->nr_vcpus)
		return false;
	vgic_lock(vgic);
#if defined(HYP_HOSTED) && HYP_HOSTED
	{
		/* The count the shortcut below trusts (host builds: the unit tests check it). */
		uint32_t n = 0;

		for (unsigned int w = 0; w < VGIC_BITMAP_WORDS; w++)
			n += (uint32_t)__builtin_popcountll(vgic->vcpus[vcpu].cand[w]);
		hyp__assert(n == vgic->vcpus[vcpu].nr_cand);
	}
#endif
	/* No candidate at all (a vCPU about to sleep, usually): nothing to look for. */
	irq = vgic->vcpus[vcpu].nr_cand ? hyp__vgic_hppi(vgic, vcpu, true) : NULL;
	ret = irq && can_signal(vgic, &vgic->vcpus[vcpu].cpu, irq);
	vgic_unlock(vgic);
	return ret;
}

static uint64_t *apr(struct hyp_vgic_cpu_state *cpu, bool group1)
{
	return group1 ? cpu->ap1r : cpu->ap0r;
}

/* ICC_IAR<g>_EL1: acknowledge the HPPI if it is of group @g1 and may be signalled. */
static uint32_t acknowledge(struct hyp_vgic *vgic, uint32_t vcpu, bool g1)
{
	struct hyp_vgic_cpu_state *cpu = &vgic->vcpus[vcpu].cpu;
	struct vgic_irq *irq;
	unsigned int idx;
	uint8_t old;

	vgic_lock(vgic);
	irq = hyp__vgic_hppi(vgic, vcpu, true);
	if (!irq || !!(irq->flags & IRQ_GROUP1) != g1 || !can_signal(vgic, cpu, irq)) {
		vgic_unlock(vgic);
		return HYP_VGIC_INTID_SPURIOUS;
	}
	/* Pending -> active (or active and pending, for a level interrupt whose line is still
	 * high): the acknowledge consumes the latch. */
	old = irq->flags;
	irq->flags = (uint8_t)((irq->flags & ~IRQ_LATCH) | IRQ_ACTIVE);
	idx = apr_index(vgic->prebits, group_priority(cpu, irq->priority, g1));
	apr(cpu, g1)[idx / 32] |= UINT64_C(1) << (idx % 32);
	hyp__vgic_irq_commit(vgic, irq, old);
	vgic_unlock(vgic);
	return irq->intid;
}

static void deactivate(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid)
{
	struct vgic_irq *irq = vgic_irq(vgic, vcpu, intid);

	/* Deactivating an interrupt that is not active, or not this vCPU's, does nothing. */
	if (!irq)
		return;
	vgic_lock(vgic);
	if (irq->target == vcpu && !irq->listed)
		hyp__vgic_irq_deactivate(vgic, irq);
	vgic_unlock(vgic);
}

/* ICC_EOIR<g>_EL1. EOIs of special INTIDs (1020..1023) are ignored; with no active priority the
 * write is ignored; otherwise the highest active priority of the group drops, whichever INTID was
 * written (the spec leaves an out-of-order EOI UNPREDICTABLE; this is the simple choice). */
static void end_of_interrupt(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t val, bool g1)
{
	struct hyp_vgic_cpu_state *cpu = &vgic->vcpus[vcpu].cpu;
	uint32_t intid = (uint32_t)val & INTID_MASK;
	uint64_t *ap = apr(cpu, g1);
	bool dropped = false;

	if (intid >= VGIC_MAX_INTID)
		return;
	for (unsigned int w = 0; w < apr_words(vgic->prebits) && !dropped; w++) {
		if ((uint32_t)ap[w]) {
			ap[w] &= ap[w] - 1;
			dropped = true;
		}
	}
	if (dropped && !(cpu->vmcr & HYP_VGIC_VMCR_VEOIM))
		deactivate(vgic, vcpu, intid);
}

static uint64_t hppir(struct hyp_vgic *vgic, uint32_t vcpu, bool g1)
{
	struct vgic_irq *irq;
	uint64_t v = HYP_VGIC_INTID_SPURIOUS;

	/* The highest-priority pending interrupt as the distributor forwards it, whatever PMR,
	 * the running priority and the CPU interface's group enables say. */
	vgic_lock(vgic);
	irq = hyp__vgic_hppi(vgic, vcpu, false);
	if (irq && !!(irq->flags & IRQ_GROUP1) == g1)
		v = irq->intid;
	vgic_unlock(vgic);
	return v;
}

/* ICC_AP<g>R<n>_EL1 index for @reg, or -1. */
static int apr_reg(uint32_t reg, bool *g1)
{
	if (reg >= HYP_VGIC_ICC_AP0R0_EL1 && reg < HYP_VGIC_ICC_AP0R0_EL1 + 4) {
		*g1 = false;
		return (int)(reg - HYP_VGIC_ICC_AP0R0_EL1);
	}
	if (reg >= HYP_VGIC_ICC_AP1R0_EL1 && reg < HYP_VGIC_ICC_AP1R0_EL1 + 4) {
		*g1 = true;
		return (int)(reg - HYP_VGIC_ICC_AP1R0_EL1);
	}
	return -1;
}

int hyp_vgic_icc_read(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t reg, uint64_t *val)
{
	struct hyp_vgic_cpu_state *cpu;
	uint64_t v;
	bool g1;
	int n;

	if (!vgic || !val || vcpu >= vgic->nr_vcpus)
		return -EINVAL;
	cpu = &vgic->vcpus[vcpu].cpu;
	switch (reg) {
	case HYP_VGIC_ICC_IAR0_EL1:
	case HYP_VGIC_ICC_IAR1_EL1:
		v = acknowledge(vgic, vcpu, reg == HYP_VGIC_ICC_IAR1_EL1);
		break;
	case HYP_VGIC_ICC_HPPIR0_EL1:
	case HYP_VGIC_ICC_HPPIR1_EL1:
		v = hppir(vgic, vcpu, reg == HYP_VGIC_ICC_HPPIR1_EL1);
		break;
	case HYP_VGIC_ICC_PMR_EL1:
		v = vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VPMR_SHIFT, 8);
		break;
	case HYP_VGIC_ICC_RPR_EL1:
		v = running_priority(vgic, cpu);
		break;
	case HYP_VGIC_ICC_BPR0_EL1:
		v = vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VBPR0_SHIFT, 3);
		break;
	case HYP_VGIC_ICC_BPR1_EL1:
		v = vmcr_field(cpu->vmcr, HYP_VGIC_VMCR_VBPR1_SHIFT, 3);
		break;
	case HYP_VGIC_ICC_CTLR_EL1:
		/* PRIbits = 5 - 1, IDbits 0 (16-bit INTID field), A3V, RSS (Range Selector
		 * targets), no SEIS, CBPR 0. */
		v = (cpu->vmcr & HYP_VGIC_VMCR_VEOIM ? ICC_CTLR_EOIMODE : 0) |
		    (uint64_t)(HYP_VGIC_PRI_BITS - 1) << ICC_CTLR_PRIBITS_SHIFT | ICC_CTLR_A3V |
		    ICC_CTLR_RSS;
		break;
	case HYP_VGIC_ICC_SRE_EL1:
		v = ICC_SRE_VALUE;
		break;
	case HYP_VGIC_ICC_IGRPEN0_EL1:
		v = !!(cpu->vmcr & HYP_VGIC_VMCR_VENG0);
		break;
	case HYP_VGIC_ICC_IGRPEN1_EL1:
		v = !!(cpu->vmcr & HYP_VGIC_VMCR_VENG1);
		break;
	default:
		n = apr_reg(reg, &g1);
		if (n < 0)
			return -ENOENT;
		/* Five preemption bits: only AP<g>R0 is implemented, the others RAZ/WI. */
		v = n == 0 ? (uint32_t)apr(cpu, g1)[0] : 0;
		break;
	}
	*val = v;
	return 0;
}

int hyp_vgic_icc_write(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t reg, uint64_t val)
{
	struct hyp_vgic_cpu_state *cpu;
	unsigned int bpr;
	bool g1;
	int n;

	if (!vgic || vcpu >= vgic->nr_vcpus)
		return -EINVAL;
	cpu = &vgic->vcpus[vcpu].cpu;
	switch (reg) {
	case HYP_VGIC_ICC_SGI1R_EL1:
	case HYP_VGIC_ICC_ASGI1R_EL1:
	case HYP_VGIC_ICC_SGI0R_EL1:
		vgic_lock(vgic);
		hyp__vgic_sgi(vgic, vcpu, val, reg == HYP_VGIC_ICC_SGI1R_EL1);
		vgic_unlock(vgic);
		break;
	case HYP_VGIC_ICC_EOIR0_EL1:
	case HYP_VGIC_ICC_EOIR1_EL1:
		end_of_interrupt(vgic, vcpu, val, reg == HYP_VGIC_ICC_EOIR1_EL1);
		break;
	case HYP_VGIC_ICC_DIR_EL1:
		/* With EOImode 0 a DIR write is UNPREDICTABLE: ignored. */
		if (cpu->vmcr & HYP_VGIC_VMCR_VEOIM)
			deactivate(vgic, vcpu, (uint32_t)val & INTID_MASK);
		break;
	case HYP_VGIC_ICC_PMR_EL1:
		cpu->vmcr =
			vmcr_set(cpu->vmcr, HYP_VGIC_VMCR_VPMR_SHIFT, 8, val & HYP_VGIC_PRI_MASK);
		break;
	case HYP_VGIC_ICC_BPR0_EL1:
	case HYP_VGIC_ICC_BPR1_EL1:
		/* A value below the minimum sets the minimum (IHI 0069, ICC_BPR0_EL1). */
		g1 = reg == HYP_VGIC_ICC_BPR1_EL1;
		bpr = (unsigned int)val & 7;
		if (bpr < bpr_min(g1))
			bpr = bpr_min(g1);
		cpu->vmcr = vmcr_set(cpu->vmcr,
				     g1 ? HYP_VGIC_VMCR_VBPR1_SHIFT : HYP_VGIC_VMCR_VBPR0_SHIFT, 3,
				     bpr);
		break;
	case HYP_VGIC_ICC_CTLR_EL1:
		cpu->vmcr = (cpu->vmcr & ~HYP_VGIC_VMCR_VEOIM) |
			    (val & ICC_CTLR_EOIMODE ? HYP_VGIC_VMCR_VEOIM : 0);
		break;
	case HYP_VGIC_ICC_SRE_EL1:
		break;
	case HYP_VGIC_ICC_IGRPEN0_EL1:
		cpu->vmcr = (cpu->vmcr & ~HYP_VGIC_VMCR_VENG0) |
			    (val & 1 ? HYP_VGIC_VMCR_VENG0 : 0);
		break;
	case HYP_VGIC_ICC_IGRPEN1_EL1:
		cpu->vmcr = (cpu->vmcr & ~HYP_VGIC_VMCR_VENG1) |
			    (val & 1 ? HYP_VGIC_VMCR_VENG1 : 0);
		break;
	case HYP_VGIC_ICC_IAR0_EL1:
	case HYP_VGIC_ICC_IAR1_EL1:
	case HYP_VGIC_ICC_HPPIR0_EL1:
	case HYP_VGIC_ICC_HPPIR1_EL1:
	case HYP_VGIC_ICC_RPR_EL1:
		return -ENOENT; /* read-only */
	default:
		n = apr_reg(reg, &g1);
		if (n < 0)
			return -ENOENT;
		if (n == 0)
			apr(cpu, g1)[0] = (uint32_t)val;
		break;
	}
	return 0;
}
