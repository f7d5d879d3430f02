// SPDX-License-Identifier: MIT
/*
 * lib/vgic: the distributor and redistributor frames, as tables of registers.
 *
 * One row per register or per array of per-interrupt registers: its offset, the bytes it spans,
 * bits per interrupt (0 for a plain register), the access widths the spec allows (IHI 0069,
 * "GIC memory-mapped register access": 32-bit accesses everywhere, byte accesses to IPRIORITYR,
 * 64-bit registers as a whole or as 32-bit halves), and the read and write handlers. A missing
 * write handler is WI. Offsets no row covers are reserved, or registers of features this GIC does
 * not have (LPIs, message-based SPIs, GICv2 compatibility registers, which are RES0 with affinity
 * routing): RAZ/WI.
 */
#include "vgic-internal.h"

/* Access widths, as bit masks equal to the width in bytes. */
#define W1 1u
#define W4 4u
#define W8 8u

#define GICD_IIDR_VALUE 0x48001000u /* ProductID 'H', Revision 1, no JEP106 implementer code */
#define GIC_PIDR2_GICV3 0x30u	    /* PIDR2.ArchRev [7:4] = 3: GICv3 */

/* GICR_WAKER */
#define WAKER_PROCESSOR_SLEEP (1u << 1)
#define WAKER_CHILDREN_ASLEEP (1u << 2)

/* GICR_TYPER */
#define GICR_TYPER_LAST (UINT64_C(1) << 4)
#define GICR_TYPER_PROC_NUM_SHIFT 8
#define GICR_TYPER_AFF_SHIFT 32

/* GICD_TYPER */
#define GICD_TYPER_IDBITS_SHIFT 19
#define GICD_TYPER_A3V (1u << 24)
#define GICD_TYPER_RSS (1u << 26)

#define RD_FRAME_SIZE 0x20000u
#define SGI_FRAME_OFFSET 0x10000u

struct vgic_mmio {
	struct hyp_vgic *vgic;
	uint32_t rd;	/* the redistributor's vCPU (redistributor frames) */
	uint32_t intid; /* per-interrupt rows: the first INTID */
	unsigned int n; /* per-interrupt rows: how many interrupts */
};

struct vgic_reg {
	uint32_t offset;
	uint32_t size;
	uint8_t bits;
	uint8_t widths;
	uint64_t (*read)(const struct vgic_mmio *m);
	void (*write)(const struct vgic_mmio *m, uint64_t val);
};

static struct vgic_irq *irq_at(const struct vgic_mmio *m, unsigned int k)
{
	return vgic_irq(m->vgic, m->rd, m->intid + k);
}

/* The vCPU whose list registers hold @irq must exit, so the change is seen. */
static void kick_listed(const struct vgic_mmio *m, struct vgic_irq *irq, uint8_t won)
{
	if (!irq->listed)
		return;
	irq->won |= won | WON_RELIST;
	m->vgic->ops.notify(m->vgic->ops.opaque, irq->listed - 1u);
}

/* ---------------------------------------------------------------------------------------------
 * Per-interrupt registers.
 */

static uint64_t read_flag_bits(const struct vgic_mmio *m, uint8_t flag)
{
	uint64_t v = 0;

	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		if (irq && (irq->flags & flag))
			v |= UINT64_C(1) << k;
	}
	return v;
}

static uint64_t read_group(const struct vgic_mmio *m)
{
	return read_flag_bits(m, IRQ_GROUP1);
}

static void write_group(const struct vgic_mmio *m, uint64_t val)
{
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq)
			continue;
		old = irq->flags;
		if ((val >> k) & 1)
			irq->flags |= IRQ_GROUP1;
		else
			irq->flags &= (uint8_t)~IRQ_GROUP1;
		/* Now forwarded under the other group's enable: let its PE look again. */
		if (old != irq->flags && irq_pending(irq) && (irq->flags & IRQ_ENABLED) &&
		    irq->target != VGIC_NO_VCPU) {
			vgic_news(&m->vgic->vcpus[irq->target], irq->intid);
			m->vgic->ops.notify(m->vgic->ops.opaque, irq->target);
		}
		kick_listed(m, irq, 0);
	}
}

static uint64_t read_enable(const struct vgic_mmio *m)
{
	return read_flag_bits(m, IRQ_ENABLED);
}

static void write_enable(const struct vgic_mmio *m, uint64_t val, bool set)
{
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq || !((val >> k) & 1))
			continue;
		old = irq->flags;
		if (set) {
			irq->flags |= IRQ_ENABLED;
		} else {
			irq->flags &= (uint8_t)~IRQ_ENABLED;
			/* Re-flushed without it (its pending state returns at sync). */
			kick_listed(m, irq, 0);
		}
		hyp__vgic_irq_commit(m->vgic, irq, old);
	}
}

static void write_isenable(const struct vgic_mmio *m, uint64_t val)
{
	write_enable(m, val, true);
}

static void write_icenable(const struct vgic_mmio *m, uint64_t val)
{
	write_enable(m, val, false);
}

static uint64_t read_pending(const struct vgic_mmio *m)
{
	uint64_t v = 0;

	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		if (irq && irq_pending_view(irq))
			v |= UINT64_C(1) << k;
	}
	return v;
}

static void write_ispend(const struct vgic_mmio *m, uint64_t val)
{
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq || !((val >> k) & 1))
			continue;
		old = irq->flags;
		irq->flags |= IRQ_LATCH;
		hyp__vgic_irq_commit(m->vgic, irq, old);
	}
}

static void write_icpend(const struct vgic_mmio *m, uint64_t val)
{
	/* Clears the latch only: a level interrupt whose line is high stays pending (IHI 0069,
	 * GICD_ICPENDR<n>). */
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq || !((val >> k) & 1))
			continue;
		old = irq->flags;
		irq->flags &= (uint8_t) ~(IRQ_LATCH | IRQ_LR_PENDING);
		kick_listed(m, irq, WON_PENDING);
		hyp__vgic_irq_commit(m->vgic, irq, old);
	}
}

static uint64_t read_active(const struct vgic_mmio *m)
{
	return read_flag_bits(m, IRQ_ACTIVE);
}

static void write_isactive(const struct vgic_mmio *m, uint64_t val)
{
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq || !((val >> k) & 1))
			continue;
		old = irq->flags;
		irq->flags |= IRQ_ACTIVE;
		kick_listed(m, irq, WON_ACTIVE);
		hyp__vgic_irq_commit(m->vgic, irq, old);
	}
}

static void write_icactive(const struct vgic_mmio *m, uint64_t val)
{
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		if (!irq || !((val >> k) & 1))
			continue;
		kick_listed(m, irq, WON_ACTIVE);
		hyp__vgic_irq_deactivate(m->vgic, irq);
	}
}

static uint64_t read_priority(const struct vgic_mmio *m)
{
	uint64_t v = 0;

	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		if (irq)
			v |= (uint64_t)irq->priority << (8 * k);
	}
	return v;
}

static void write_priority(const struct vgic_mmio *m, uint64_t val)
{
	/* Unimplemented low-order priority bits are RAZ/WI (IHI 0069, "Interrupt
	 * prioritization"). */
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		uint8_t prio = (uint8_t)(val >> (8 * k)) & HYP_VGIC_PRI_MASK;

		if (!irq || irq->priority == prio)
			continue;
		irq->priority = prio;
		kick_listed(m, irq, 0);
	}
}

static uint64_t read_config(const struct vgic_mmio *m)
{
	uint64_t v = 0;

	/* Int_config[1] of each 2-bit field: 1 = edge-triggered; Int_config[0] RES0. */
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);

		if (irq && (irq->flags & IRQ_EDGE))
			v |= UINT64_C(2) << (2 * k);
	}
	return v;
}

static void write_config(const struct vgic_mmio *m, uint64_t val)
{
	/* SGIs are always edge-triggered (ICFGR0 read-only). Whether PPIs are configurable is
	 * the implementation's choice (IHI 0069, GICR_ICFGR1): here they are, as SPIs. */
	for (unsigned int k = 0; k < m->n; k++) {
		struct vgic_irq *irq = irq_at(m, k);
		uint8_t old;

		if (!irq || irq->intid < 16)
			continue;
		old = irq->flags;
		if ((val >> (2 * k)) & 2)
			irq->flags |= IRQ_EDGE;
		else
			irq->flags &= (uint8_t)~IRQ_EDGE;
		hyp__vgic_irq_commit(m->vgic, irq, old);
	}
}

static uint64_t read_router(const struct vgic_mmio *m)
{
	struct vgic_irq *irq = irq_at(m, 0);

	return irq ? irq->route : 0;
}

static void write_router(const struct vgic_mmio *m, uint64_t val)
{
	struct vgic_irq *irq = irq_at(m, 0);

	if (!irq)
		return;
	irq->route = val & IROUTER_MASK;
	irq->route_vcpu = hyp__vgic_find_mpidr(m->vgic, irq->route);
	/* A pending SPI moves to its new PE now; an active or listed one when it is deactivated or
	 * synced (IHI 0069, GICD_IROUTER<n>: a change affects interrupts not yet forwarded). */
	kick_listed(m, irq, 0);
	hyp__vgic_irq_commit(m->vgic, irq, irq->flags);
}

/* ---------------------------------------------------------------------------------------------
 * Plain registers.
 */

static uint64_t read_zero(const struct vgic_mmio *m)
{
	(void)m;
	return 0;
}

static uint64_t read_gicd_ctlr(const struct vgic_mmio *m)
{
	/* Affinity routing is always on, and there is one Security state (DS = 1), both RAO/WI.
	 * RWP reads 0: writes take effect at once. */
	return m->vgic->gicd_ctlr | GICD_CTLR_ARE | GICD_CTLR_DS;
}

static void write_gicd_ctlr(const struct vgic_mmio *m, uint64_t val)
{
	uint32_t old = m->vgic->gicd_ctlr;

	m->vgic->gicd_ctlr = (uint32_t)val & (GICD_CTLR_ENABLE_GRP0 | GICD_CTLR_ENABLE_GRP1);
	/* What the list registers hold was listed under the old enables. */
	if (m->vgic->gicd_ctlr != old)
		for (uint32_t v = 0; v < m->vgic->nr_vcpus; v++)
			m->vgic->vcpus[v].relist = true;
	if (m->vgic->gicd_ctlr & ~old)
		hyp__vgic_notify_all(m->vgic);
}

static uint64_t read_gicd_typer(const struct vgic_mmio *m)
{
	/* ITLinesNumber: 32 * (N + 1) INTIDs; IDbits = 10 - 1; no LPIs, MBIS, ESPI, security
	 * extensions; Aff3 supported; SGI target lists with Range Selector. */
	uint32_t itlines = (m->vgic->nr_irqs + 31) / 32 - 1;

	return itlines | 9u << GICD_TYPER_IDBITS_SHIFT | GICD_TYPER_A3V | GICD_TYPER_RSS;
}

static uint64_t read_iidr(const struct vgic_mmio *m)
{
	(void)m;
	return GICD_IIDR_VALUE;
}

static uint64_t read_pidr2(const struct vgic_mmio *m)
{
	(void)m;
	return GIC_PIDR2_GICV3;
}

static uint64_t read_gicr_typer(const struct vgic_mmio *m)
{
	const struct hyp_vgic *vgic = m->vgic;
	uint64_t mpidr = vgic->vcpus[m->rd].mpidr;
	/* Affinity_Value [63:32] is Aff3.Aff2.Aff1.Aff0; the MPIDR keeps Aff3 at [39:32]. */
	uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;
	uint64_t v = aff << GICR_TYPER_AFF_SHIFT | (uint64_t)m->rd << GICR_TYPER_PROC_NUM_SHIFT;

	if (m->rd == vgic->nr_vcpus - 1)
		v |= GICR_TYPER_LAST;
	return v;
}

static uint64_t read_gicr_waker(const struct vgic_mmio *m)
{
	/* ChildrenAsleep follows ProcessorSleep at once: there is nothing to quiesce. */
	return m->vgic->vcpus[m->rd].asleep ? WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP : 0;
}

static void write_gicr_waker(const struct vgic_mmio *m, uint64_t val)
{
	m->vgic->vcpus[m->rd].asleep = val & WAKER_PROCESSOR_SLEEP;
	hyp__vgic_update_awake(m->vgic);
}

/* ---------------------------------------------------------------------------------------------
 * The frames.
 */

#define PER_IRQ(off, sz, b, w, rd, wr)                                                             \
	{                                                                                          \
		.offset = (off), .size = (sz), .bits = (b), .widths = (w), .read = (rd),           \
		.write = (wr)                                                                      \
	}
#define REG(off, sz, w, rd, wr)                                                                    \
	{                                                                                          \
		.offset = (off), .size = (sz), .bits = 0, .widths = (w), .read = (rd),             \
		.write = (wr)                                                                      \
	}

static const struct vgic_reg dist_regs[] = {
	REG(0x0000, 4, W4, read_gicd_ctlr, write_gicd_ctlr),	   /* GICD_CTLR */
	REG(0x0004, 4, W4, read_gicd_typer, NULL),		   /* GICD_TYPER */
	REG(0x0008, 4, W4, read_iidr, NULL),			   /* GICD_IIDR */
	REG(0x000c, 4, W4, read_zero, NULL),			   /* GICD_TYPER2: no vPEs, vSGIs */
	PER_IRQ(0x0080, 0x80, 1, W4, read_group, write_group),	   /* GICD_IGROUPR<n> */
	PER_IRQ(0x0100, 0x80, 1, W4, read_enable, write_isenable), /* GICD_ISENABLER<n> */
	PER_IRQ(0x0180, 0x80, 1, W4, read_enable, write_icenable), /* GICD_ICENABLER<n> */
	PER_IRQ(0x0200, 0x80, 1, W4, read_pending, write_ispend),  /* GICD_ISPENDR<n> */
	PER_IRQ(0x0280, 0x80, 1, W4, read_pending, write_icpend),  /* GICD_ICPENDR<n> */
	PER_IRQ(0x0300, 0x80, 1, W4, read_active, write_isactive), /* GICD_ISACTIVER<n> */
	PER_IRQ(0x0380, 0x80, 1, W4, read_active, write_icactive), /* GICD_ICACTIVER<n> */
	PER_IRQ(0x0400, 0x400, 8, W1 | W4, read_priority, write_priority), /* GICD_IPRIORITYR<n> */
	PER_IRQ(0x0c00, 0x100, 2, W4, read_config, write_config),	   /* GICD_ICFGR<n> */
	PER_IRQ(0x0d00, 0x80, 1, W4, read_zero, NULL), /* GICD_IGRPMODR<n>: RAZ/WI with DS = 1 */
	PER_IRQ(0x6000, 0x2000, 64, W4 | W8, read_router, write_router), /* GICD_IROUTER<n> */
	REG(0xffe8, 4, W4, read_pidr2, NULL),				 /* GICD_PIDR2 */
};

static const struct vgic_reg rd_regs[] = {
	REG(0x0000, 4, W4, read_zero, NULL),		       /* GICR_CTLR: no LPIs, RWP 0 */
	REG(0x0004, 4, W4, read_iidr, NULL),		       /* GICR_IIDR */
	REG(0x0008, 8, W4 | W8, read_gicr_typer, NULL),	       /* GICR_TYPER */
	REG(0x0014, 4, W4, read_gicr_waker, write_gicr_waker), /* GICR_WAKER */
	REG(0xffe8, 4, W4, read_pidr2, NULL),		       /* GICR_PIDR2 */
};

static const struct vgic_reg sgi_regs[] = {
	PER_IRQ(0x0080, 4, 1, W4, read_group, write_group),		  /* GICR_IGROUPR0 */
	PER_IRQ(0x0100, 4, 1, W4, read_enable, write_isenable),		  /* GICR_ISENABLER0 */
	PER_IRQ(0x0180, 4, 1, W4, read_enable, write_icenable),		  /* GICR_ICENABLER0 */
	PER_IRQ(0x0200, 4, 1, W4, read_pending, write_ispend),		  /* GICR_ISPENDR0 */
	PER_IRQ(0x0280, 4, 1, W4, read_pending, write_icpend),		  /* GICR_ICPENDR0 */
	PER_IRQ(0x0300, 4, 1, W4, read_active, write_isactive),		  /* GICR_ISACTIVER0 */
	PER_IRQ(0x0380, 4, 1, W4, read_active, write_icactive),		  /* GICR_ICACTIVER0 */
	PER_IRQ(0x0400, 0x20, 8, W1 | W4, read_priority, write_priority), /* GICR_IPRIORITYR<n> */
	PER_IRQ(0x0c00, 8, 2, W4, read_config, write_config),		  /* GICR_ICFGR0/1 */
	PER_IRQ(0x0d00, 4, 1, W4, read_zero, NULL), /* GICR_IGRPMODR0: DS = 1 */
};

static const struct vgic_reg *find_reg(const struct vgic_reg *regs, size_t nr, uint32_t off)
{
	for (size_t i = 0; i < nr; i++)
		if (off >= regs[i].offset && off - regs[i].offset < regs[i].size)
			return &regs[i];
	return NULL;
}

static bool valid_len(unsigned int len)
{
	return len == 1 || len == 2 || len == 4 || len == 8;
}

/*
 * One access to a frame. @m has vgic and rd set. Returns 0, or HYP_VGIC_MMIO_BAD_ACCESS for a
 * width or alignment the register does not allow (RAZ/WI).
 */
static int frame_access(const struct vgic_reg *regs, size_t nr, bool dist, struct vgic_mmio *m,
			uint32_t off, unsigned int len, uint64_t *val, bool write)
{
	uint64_t len_mask = len == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * len)) - 1;
	const struct vgic_reg *r;
	uint32_t elem, base;

	if (!write)
		*val = 0;
	/* Every GIC register access is naturally aligned. */
	if (off & (len - 1))
		return HYP_VGIC_MMIO_BAD_ACCESS;
	r = find_reg(regs, nr, off);
	if (!r)
		return 0;
	if (!(r->widths & len))
		return HYP_VGIC_MMIO_BAD_ACCESS;

	/* 64-bit registers are reached as a whole or by 32-bit halves (read-modify-write). */
	elem = r->bits == 64 ? 8 : r->bits ? len : r->size;
	base = off & ~(elem - 1);
	if (r->bits) {
		m->intid = (base - r->offset) * 8 / r->bits;
		m->n = elem * 8 / r->bits;
		/* With affinity routing, the distributor's registers for INTIDs 0..31 are RAZ/WI:
		 * the redistributors hold those (IHI 0069, "Affinity routing"). */
		if (dist && m->intid < HYP_VGIC_NR_PRIVATE)
			return 0;
	}

	vgic_lock(m->vgic);
	if (!write) {
		*val = (r->read(m) >> (8 * (off - base))) & len_mask;
	} else if (r->write) {
		uint64_t v = *val & len_mask;

		if (len < elem) {
			unsigned int shift = 8 * (off - base);

			v = (r->read(m) & ~(len_mask << shift)) | v << shift;
		}
		r->write(m, v);
	}
	vgic_unlock(m->vgic);
	return 0;
}

static int dist_access(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
		       uint64_t *val, bool write)
{
	struct vgic_mmio m = { .vgic = vgic, .rd = vcpu };

	if (!vgic || !val || vcpu >= vgic->nr_vcpus || !valid_len(len) || offset >= HYP_GICD_SIZE)
		return -EINVAL;
	return frame_access(dist_regs, HYP_ARRAY_SIZE(dist_regs), true, &m, (uint32_t)offset, len,
			    val, write);
}

static int redist_access(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			 uint64_t *val, bool write)
{
	struct vgic_mmio m = { .vgic = vgic };
	uint32_t off;

	if (!vgic || !val || vcpu >= vgic->nr_vcpus || !valid_len(len) ||
	    offset >= (uint64_t)vgic->nr_vcpus * RD_FRAME_SIZE)
		return -EINVAL;
	m.rd = (uint32_t)(offset / RD_FRAME_SIZE);
	off = (uint32_t)(offset % RD_FRAME_SIZE);
	if (off >= SGI_FRAME_OFFSET)
		return frame_access(sgi_regs, HYP_ARRAY_SIZE(sgi_regs), false, &m,
				    off - SGI_FRAME_OFFSET, len, val, write);
	return frame_access(rd_regs, HYP_ARRAY_SIZE(rd_regs), false, &m, off, len, val, write);
}

int hyp_vgic_dist_read(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
		       uint64_t *val)
{
	uint64_t v;
	int ret = dist_access(vgic, vcpu, offset, len, val ? &v : NULL, false);

	if (ret >= 0)
		*val = v;
	return ret;
}

int hyp_vgic_dist_write(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			uint64_t val)
{
	return dist_access(vgic, vcpu, offset, len, &val, true);
}

int hyp_vgic_redist_read(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			 uint64_t *val)
{
	uint64_t v;
	int ret = redist_access(vgic, vcpu, offset, len, val ? &v : NULL, false);

	if (ret >= 0)
		*val = v;
	return ret;
}

int hyp_vgic_redist_write(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			  uint64_t val)
{
	return redist_access(vgic, vcpu, offset, len, &val, true);
}

int hyp_vgic_mmio(struct hyp_vgic *vgic, uint32_t vcpu, bool redist, uint64_t offset,
		  unsigned int len, bool is_write, uint64_t *data)
{
	uint64_t val = 0;
	int r;

	if (is_write)
		return redist ? hyp_vgic_redist_write(vgic, vcpu, offset, len, *data) :
				hyp_vgic_dist_write(vgic, vcpu, offset, len, *data);
	r = redist ? hyp_vgic_redist_read(vgic, vcpu, offset, len, &val) :
		     hyp_vgic_dist_read(vgic, vcpu, offset, len, &val);
	*data = r < 0 ? 0 : val;
	return r;
}
