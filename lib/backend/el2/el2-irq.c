/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend's interrupt controller and timers: lib/vgic delivered through the GIC's
 * virtual CPU interface, lib/timer on the CPU's generic timers.
 *
 * The list registers follow the protocol of lib/vgic/vgic.h: every exit that reaches the ordinary
 * path syncs them (ICH_LR<n>_EL2 and ICH_HCR_EL2 folded back, ICH_HCR_EL2 then zeroed so no
 * maintenance interrupt stays asserted while EL2 runs), every entry after one flushes them again.
 * Exits served in place (MMIO callbacks, SMCCC, trapped SGI/DIR/timer registers, physical IRQs
 * the firmware's handler takes from the vector) leave the list registers in the hardware and
 * flush only when something changed for the vCPU (vgic_dirty: set by notify, and by the vCPU's
 * own GIC accesses, which "are not notified to it"). That refill is
 * hyp_vgic_update() when it can be: the news goes into a free LR, the LRs the guest is done with
 * (ICH_ELRSR_EL2) are folded back, the others stay; WFI folds back with hyp_vgic_fold_empty()
 * when every LR is done with, and the LRs stay loaded (parked) while the vCPU sleeps.
 *
 * References: GICv3 spec (IHI 0069) "Virtual interrupt handling" (ICH_LR<n>_EL2, ICH_HCR_EL2,
 * ICH_VMCR_EL2, ICH_AP<g>R<n>_EL2, maintenance interrupts), "Software Generated Interrupts" (with
 * HCR_EL2.IMO/FMO set, EL1 writes of ICC_SGI0R/SGI1R/ASGI1R_EL1 trap to EL2: the accessibility
 * pseudocode of those registers), and the Arm ARM D11 (CNTHCTL_EL2, CNTVOFF_EL2, CNTV_*).
 */
#include "hyp_string.h"

#include "fast-exit.h"
#include "trap/fast.h"
#include "backend/el2/el2-state.h"

/* ICH_* registers by their encodings (op0 3, op1 4, CRn 12): assemblers that know no GICv3
 * names accept these. */
#define ICH_HCR_EL2 S3_4_C12_C11_0
#define ICH_VTR_EL2 S3_4_C12_C11_1
#define ICH_MISR_EL2 S3_4_C12_C11_2
#define ICH_ELRSR_EL2 S3_4_C12_C11_5
#define ICH_VMCR_EL2 S3_4_C12_C11_7
#define ICC_SRE_EL1 S3_0_C12_C12_5
#define ICC_DIR_EL1 S3_0_C12_C11_1
/* The physical CPU interface, as EL2 sees it: for the kick SGI libhyp takes itself. */
#define ICC_IAR1_EL1 S3_0_C12_C12_0
#define ICC_EOIR1_EL1 S3_0_C12_C12_1
#define ICC_CTLR_EL1 S3_0_C12_C12_4
#define ICC_CTLR_EOIMODE (1u << 1)
#define ICC_IAR_INTID_MASK 0xffffffu
#define ICC_INTID_SPECIAL 1020u /* 1020..1023: special (no interrupt to handle) */
/* host_irq(): the platform's handle_irq acknowledges the interrupt itself. */
#define HOST_IRQ_UNACKED UINT32_MAX
/* Expand the names above before read_sysreg()/write_sysreg() stringify them. */
#define RD(reg) read_sysreg_x(reg)
#define WR(v, reg) write_sysreg_x(v, reg)
#define read_sysreg_x(reg) read_sysreg(reg)
#define write_sysreg_x(v, reg) write_sysreg(v, reg)

/* ICH_LR<n>_EL2: CRm 12 for n = 0..7, CRm 13 for n = 8..15, op2 = n % 8. */
#define LR_CASES(X)                                                                                \
	X(0, S3_4_C12_C12_0)                                                                       \
	X(1, S3_4_C12_C12_1)                                                                       \
	X(2, S3_4_C12_C12_2)                                                                       \
	X(3, S3_4_C12_C12_3)                                                                       \
	X(4, S3_4_C12_C12_4)                                                                       \
	X(5, S3_4_C12_C12_5)                                                                       \
	X(6, S3_4_C12_C12_6)                                                                       \
	X(7, S3_4_C12_C12_7)                                                                       \
	X(8, S3_4_C12_C13_0)                                                                       \
	X(9, S3_4_C12_C13_1)                                                                       \
	X(10, S3_4_C12_C13_2)                                                                      \
	X(11, S3_4_C12_C13_3)                                                                      \
	X(12, S3_4_C12_C13_4)                                                                      \
	X(13, S3_4_C12_C13_5)                                                                      \
	X(14, S3_4_C12_C13_6)                                                                      \
	X(15, S3_4_C12_C13_7)

static uint64_t read_lr(unsigned int n)
{
	switch (n) {
#define X(i, reg)                                                                                  \
	case i:                                                                                    \
		return RD(reg);
		LR_CASES(X)
#undef X
	default:
		return 0;
	}
}

static void write_lr(unsigned int n, uint64_t v)
{
	switch (n) {
#define X(i, reg)                                                                                  \
	case i:                                                                                    \
		WR(v, reg);                                                                        \
		break;
		LR_CASES(X)
#undef X
	default:
		break;
	}
}

/* ICH_AP0R<n>_EL2 is S3_4_C12_C8_<n>, ICH_AP1R<n>_EL2 is S3_4_C12_C9_<n>, n = 0..3. */
static void save_aprs(const struct el2_vm *m, struct hyp_vgic_cpu_state *cs)
{
	cs->ap0r[0] = RD(S3_4_C12_C8_0);
	cs->ap1r[0] = RD(S3_4_C12_C9_0);
	if (m->nr_aprs > 1) {
		cs->ap0r[1] = RD(S3_4_C12_C8_1);
		cs->ap1r[1] = RD(S3_4_C12_C9_1);
	}
	if (m->nr_aprs > 2) {
		cs->ap0r[2] = RD(S3_4_C12_C8_2);
		cs->ap1r[2] = RD(S3_4_C12_C9_2);
		cs->ap0r[3] = RD(S3_4_C12_C8_3);
		cs->ap1r[3] = RD(S3_4_C12_C9_3);
	}
}

static void load_aprs(const struct el2_vm *m, const struct hyp_vgic_cpu_state *cs)
{
	WR(cs->ap0r[0], S3_4_C12_C8_0);
	WR(cs->ap1r[0], S3_4_C12_C9_0);
	if (m->nr_aprs > 1) {
		WR(cs->ap0r[1], S3_4_C12_C8_1);
		WR(cs->ap1r[1], S3_4_C12_C9_1);
	}
	if (m->nr_aprs > 2) {
		WR(cs->ap0r[2], S3_4_C12_C8_2);
		WR(cs->ap1r[2], S3_4_C12_C9_2);
		WR(cs->ap0r[3], S3_4_C12_C8_3);
		WR(cs->ap1r[3], S3_4_C12_C9_3);
	}
}

static inline struct el2_vm *vm_of(const struct el2_vcpu *v)
{
	return el2_vm(v->vcpu->vm);
}

/* ---- callbacks of lib/vgic and lib/timer ---- */

static uint64_t el2_clock(void *opaque)
{
	(void)opaque;
	isb();
	return read_sysreg(cntpct_el0);
}

static void el2_timer_set_ppi(void *opaque, uint32_t vcpu, uint32_t intid, bool level)
{
	struct el2_vm *m = opaque;

	if (m->vgic)
		hyp_vgic_set_level(m->vgic, vcpu, intid, level);
}

/*
 * Something changed for vCPU @index (lib/vgic's lock is held: no call back into it). It looks at
 * vgic_dirty before it next enters its guest; if it is in its guest, or asleep in WFI, on another
 * CPU, that CPU gets the kick IPI (an IRQ at EL2 ends both). The vCPU's own CPU needs no IPI: it
 * is at EL2 and will look.
 */
static void el2_vgic_notify(void *opaque, uint32_t index)
{
	struct hyp_vm *vm = opaque;
	struct el2_vm *m = el2_vm(vm);
	struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, index);
	struct hyp_el2_cpu *cpu;
	struct el2_vcpu *v;

	if (!vcpu)
		return;
	v = el2_vcpu(vcpu);
	/* Already dirty: whoever made it so kicked the CPU (or is that vCPU's own CPU, at EL2,
	 * which looks at the flag before it enters the guest again). */
	if (atomic_exchange(&v->vgic_dirty, true))
		return;
	cpu = atomic_load(&v->loaded_on);
	if (cpu &&
	    atomic_load_explicit(&v->loaded_mpidr, memory_order_relaxed) != read_sysreg(mpidr_el1))
		hyp__el2_kick_cpu(m, v, cpu);
}

/* A host interrupt assigned to the VM was deactivated in software (GICD_ICACTIVER, or its
 * assignment ended while active): deactivate the physical one (the firmware runs EOImode 1, so
 * ICC_DIR_EL1 does it; an SPI may be deactivated from any CPU). */
static void el2_vgic_deactivate_hw(void *opaque, uint32_t pintid)
{
	(void)opaque;
	WR((uint64_t)pintid, ICC_DIR_EL1);
	isb();
}

/* ---- the GIC's frames: MMIO handlers of the VM, so they take the in-place fast path ---- */

static enum hyp_handler_result gic_access(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					  bool redist)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);

	/* The vCPU sees its own interrupts' state exactly (vgic.h): fold its LRs back first. */
	hyp__el2_vgic_sync_hw(v);
	/* A width the register does not allow is RAZ/WI (HYP_VGIC_MMIO_BAD_ACCESS, a documented
	 * choice of lib/vgic); -EINVAL cannot happen for an access inside the frame. */
	hyp_vgic_mmio(vm_of(v)->vgic, vcpu->index, redist, a->offset, a->len, a->is_write,
		      &a->data);
	atomic_store_explicit(&v->vgic_dirty, true, memory_order_relaxed);
	return HYP_HANDLED;
}

static enum hyp_handler_result gicd_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	(void)opaque;
	return gic_access(vcpu, access, false);
}

static enum hyp_handler_result gicr_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	(void)opaque;
	return gic_access(vcpu, access, true);
}

/* ---- VM ---- */

int hyp__el2_irq_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct el2_vm *m = el2_vm(vm);
	struct hyp_timer_config tcfg = {
		.clock = el2_clock,
		.set_ppi = el2_timer_set_ppi,
		.opaque = m,
		.freq = (uint32_t)(read_sysreg(cntfrq_el0) & CNT_FRQ_MASK),
	};
	struct hyp_vgic_config gcfg;
	uint64_t vtr;
	int r;

	r = hyp_timer_vm_init(&m->timer, &tcfg);
	if (r)
		return r;
	if (config->irqchip == HYP_IRQCHIP_BACKEND)
		return -ENOTSUP; /* the CPU's GIC is the firmware's: libhyp's is the only one */
	if (config->irqchip == HYP_IRQCHIP_NONE)
		return 0;
	/* Without a handler a physical interrupt would stop the guest again and again. */
	if (!m->platform.set_ppi_masked || !m->platform.set_wakeup || !m->platform.handle_irq)
		return config->irqchip == HYP_IRQCHIP_LIBRARY ? -ENOTSUP : 0;

	vtr = RD(ICH_VTR_EL2);
	m->nr_lrs = (uint32_t)(vtr & ICH_VTR_LISTREGS_MASK) + 1;
	if (m->nr_lrs > HYP_VGIC_MAX_LRS)
		m->nr_lrs = HYP_VGIC_MAX_LRS;
	/* PREbits + 1 = 5, 6 or 7 preemption bits: 1, 2 or 4 active priority registers. */
	switch ((vtr >> ICH_VTR_PREBITS_SHIFT) & ICH_VTR_PREBITS_MASK) {
	case 6:
		m->nr_aprs = 4;
		break;
	case 5:
		m->nr_aprs = 2;
		break;
	default:
		m->nr_aprs = 1;
		break;
	}
	gcfg = (struct hyp_vgic_config){
		.nr_vcpus = vm->max_vcpus,
		.nr_spis = EL2_NR_SPIS,
		.ich_vtr = vtr,
		.alloc = &vm->alloc,
		.ops = { .notify = el2_vgic_notify,
			 .deactivate_hw = el2_vgic_deactivate_hw,
			 .opaque = vm },
	};
	r = hyp_vgic_create(&gcfg, &m->vgic);
	if (r)
		return r;
	r = hyp_vm_add_mmio_handler(vm, vm->gicd_base, HYP_GICD_SIZE, gicd_mmio, NULL);
	if (!r)
		r = hyp_vm_add_mmio_handler(vm, vm->gicr_base,
					    (uint64_t)HYP_GICR_SIZE_PER_VCPU * vm->max_vcpus,
					    gicr_mmio, NULL);
	if (r) {
		/* hyp_vm_create() frees the VM without its handler table on a failed init. */
		hyp__vec_release(vm, &vm->mmio, sizeof(struct hyp_mmio_range));
		hyp_vgic_destroy(m->vgic);
		m->vgic = NULL;
	}
	return r;
}

void hyp__el2_irq_vm_destroy(struct hyp_vm *vm)
{
	struct el2_vm *m = el2_vm(vm);

	/* Assigned host interrupts the guest left active are deactivated (vgic.h: map_hw). */
	for (unsigned int i = 0; i < HYP_MAX_ASSIGNED_IRQS; i++) {
		uint32_t a = atomic_load(&m->assigned[i]);

		if (a && m->vgic)
			hyp_vgic_map_hw(m->vgic, 0, a & 0xffffu, 0);
	}

	hyp_vgic_destroy(m->vgic);
	m->vgic = NULL;
}

void hyp__el2_irq_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct el2_vm *m = el2_vm(vcpu->vm);

	hyp_timer_vcpu_init(&v->timer, &m->timer, vcpu->index);
	if (m->vgic) {
		hyp_vgic_set_mpidr(m->vgic, vcpu->index, hyp_backend_vcpu_mpidr(vcpu));
		atomic_store(&v->vgic_dirty, true);
	}
}

/* ---- the list registers ---- */

/* ICH_HCR_EL2 as the guest left it: the hardware's, or the copy parked at an ordinary exit. */
static uint64_t hcr_of(struct el2_vcpu *v)
{
	if (v->lrs_parked) {
		v->lrs_parked = false;
		return v->parked_hcr;
	}
	return RD(ICH_HCR_EL2);
}

/* An ordinary exit: the list registers stay loaded (most exits change nothing in the GIC, and
 * the entry after them then costs one write), but ICH_HCR_EL2 is zeroed so no maintenance
 * interrupt stays asserted while EL2 and the firmware run. Whoever needs the state folded back
 * (WFI, a GIC access, put) syncs, from the parked copy. */
static void park_lrs(struct el2_vcpu *v)
{
	if (!v->lrs_in_hw || v->lrs_parked)
		return;
	/* The active state of a host interrupt must be known to lib/vgic whoever looks next (a
	 * VM destroyed from another CPU deactivates what the guest left active). */
	if (v->lrs_hw) {
		hyp__el2_vgic_sync_hw(v);
		return;
	}
	v->parked_hcr = RD(ICH_HCR_EL2);
	WR(0, ICH_HCR_EL2);
	v->lrs_parked = true;
}

void hyp__el2_vgic_sync_hw(struct el2_vcpu *v)
{
	struct el2_vm *m;
	struct hyp_vgic_lrs lrs;

	if (!v->lrs_in_hw)
		return;
	/* Parked with nothing listed (WFI's fold, or an empty flush): nothing to fold back, and
	 * ICH_HCR_EL2 is 0 already. */
	if (v->lrs_parked && !v->lrs_used && v->parked_hcr == HYP_VGIC_HCR_EN)
		return;
	m = vm_of(v);
	lrs.hcr = hcr_of(v);
	lrs.nr = v->lrs_used;
	for (unsigned int i = 0; i < v->lrs_used; i++)
		lrs.lr[i] = read_lr(i);
	/* En = 0: no maintenance interrupt stays asserted while EL2 runs (the firmware's handler
	 * would take it again and again); the next flush writes it back. */
	WR(0, ICH_HCR_EL2);
	hyp_vgic_sync(m->vgic, v->vcpu->index, &lrs);
	v->lrs_in_hw = false;
}

/* Before WFI judges lib/vgic's IRQ line: when every LR the guest was given is done with (empty,
 * ICH_ELRSR_EL2), fold just those back and keep the LRs loaded and parked, so the entry after the
 * wake-up lists the news into a free LR (hyp_vgic_update()); otherwise the full sync. */
static void fold_for_wfi(struct el2_vcpu *v)
{
	uint64_t hcr;

	if (!v->lrs_in_hw)
		return;
	hcr = v->lrs_parked ? v->parked_hcr : RD(ICH_HCR_EL2);
	if (hyp_vgic_fold_empty(vm_of(v)->vgic, v->vcpu->index, hcr, (uint32_t)RD(ICH_ELRSR_EL2),
				NULL)) {
		if (!v->lrs_parked) {
			v->parked_hcr = hcr;
			WR(0, ICH_HCR_EL2);
			v->lrs_parked = true;
		}
		v->lrs_used = 0;
		v->lrs_hw = false;
		return;
	}
	hyp__el2_vgic_sync_hw(v);
}

/* lib/vgic judges WFI wake-ups with the vCPU's PMR, group enables and active priorities (its
 * software copy of ICH_VMCR_EL2 and the APRs): bring it up to date where it is needed, in WFI and
 * at put, not at every sync. */
static void save_cpu_state(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_vgic_cpu_state *cs = hyp_vgic_cpu_state(m->vgic, v->vcpu->index);

	cs->vmcr = RD(ICH_VMCR_EL2);
	save_aprs(m, cs);
}

/* Write a flush's result to the hardware. */
static void write_lrs(struct el2_vcpu *v, const struct hyp_vgic_lrs *lrs)
{
	/* LRs beyond both the new and the previous count already hold 0. */
	unsigned int n = lrs->nr > v->lrs_used ? lrs->nr : v->lrs_used;
	uint64_t any = 0;

	for (unsigned int i = 0; i < n; i++) {
		write_lr(i, lrs->lr[i]);
		any |= lrs->lr[i];
	}
	v->lrs_hw = any & HYP_VGIC_LR_HW;
	WR(lrs->hcr, ICH_HCR_EL2);
	v->lrs_used = lrs->nr;
	v->lrs_in_hw = true;
}

static void flush_hw(struct el2_vcpu *v);

/* Something changed for the vCPU: fold back what the hardware holds and refill it, in one step
 * (hyp_vgic_resync()) when the list registers are loaded. */
void hyp__el2_vgic_refill_hw(struct el2_vcpu *v)
{
	struct el2_vm *m;
	struct hyp_vgic_lrs lrs;
	uint64_t hcr;

	if (!v->lrs_in_hw) {
		flush_hw(v);
		return;
	}
	m = vm_of(v);
	/* Most news is one interrupt for a vCPU whose LRs have room: list it into a free one,
	 * leaving the others (hyp_vgic_update()); the full fold and refill when that will not do. */
	hcr = v->lrs_parked ? v->parked_hcr : RD(ICH_HCR_EL2);
	if (hcr == HYP_VGIC_HCR_EN) {
		int w = hyp_vgic_update(m->vgic, v->vcpu->index, m->nr_lrs, hcr,
					(uint32_t)RD(ICH_ELRSR_EL2), &lrs);

		if (w >= 0) {
			uint64_t any = 0;

			/* LR 0 alone (an interrupt relisted in place, most often): no lookup. */
			if (w == 1) {
				WR(lrs.lr[0], S3_4_C12_C12_0);
				any = lrs.lr[0];
				w = 0;
			}
			while (w) {
				unsigned int i = (unsigned int)__builtin_ctz((unsigned int)w);

				w &= w - 1;
				write_lr(i, lrs.lr[i]);
				any |= lrs.lr[i];
			}
			v->lrs_hw = lrs.nr && (v->lrs_hw || (any & HYP_VGIC_LR_HW));
			v->lrs_used = lrs.nr;
			if (v->lrs_parked) {
				WR(hcr, ICH_HCR_EL2);
				v->lrs_parked = false;
			}
			return;
		}
	}
	lrs.hcr = hcr_of(v);
	for (unsigned int i = 0; i < v->lrs_used; i++)
		lrs.lr[i] = read_lr(i);
	hyp_vgic_resync(m->vgic, v->vcpu->index, m->nr_lrs, &lrs, &lrs);
	write_lrs(v, &lrs);
}

static void flush_hw(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_vgic_lrs lrs;

	hyp_vgic_flush(m->vgic, v->vcpu->index, m->nr_lrs, &lrs);
	write_lrs(v, &lrs);
}

/* ---- timers ---- */

/* Mask or unmask the virtual timer's physical PPI. While it is masked (the timer's level is
 * high: the guest has its interrupt to take or is handling it), nothing tells the CPU when the
 * guest re-arms the timer, so a native WFI (HYP_EL2_NATIVE_WFI) could sleep through the next
 * expiry: WFI traps meanwhile, and the trapped WFI brings the timer up to date before it sleeps. */
static void set_vtimer_masked(struct el2_vcpu *v, bool mask)
{
	struct el2_vm *m = vm_of(v);

	m->platform.set_ppi_masked(m->platform.opaque, GIC_PPI_VTIMER, mask);
	v->vtimer_masked = mask;
	/* TWI acts at EL1 only: the ERET into the guest synchronises it. */
	if (!(m->hcr & HCR_TWI))
		write_sysreg(mask ? m->hcr | HCR_TWI : m->hcr, hcr_el2);
}

/* The hardware virtual timer into lib/timer; its physical PPI masked while its level is high
 * (timer.h step 4). */
static inline void vtimer_sync(struct el2_vcpu *v)
{
	const struct hyp_timer_ctx *t = &v->timer.timer[HYP_TIMER_VIRT];
	uint64_t ctl = read_sysreg(cntv_ctl_el0), cval = read_sysreg(cntv_cval_el0);
	bool mask;

	/* Not firing, programmed as lib/timer last saw it, its level low there and PPI 27 unmasked:
	 * nothing to bring up to date (if it fires from now on, PPI 27 says so). */
	if (v->vtimer_masked == 0 && !(ctl & CNT_CTL_ISTATUS) && !t->level &&
	    (ctl & CNT_CTL_RW_MASK) == t->ctl && cval == t->cval)
		return;
	mask = hyp_timer_vcpu_sync(&v->timer, ctl, cval);
	if (v->vtimer_masked != (int)mask)
		set_vtimer_masked(v, mask);
}

static void set_wakeup(struct el2_vcpu *v, uint64_t deadline)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_el2_cpu *cpu = atomic_load_explicit(&v->loaded_on, memory_order_relaxed);

	if (cpu && cpu->opaque[CPU_WAKEUP] == deadline)
		return;
	if (cpu)
		cpu->opaque[CPU_WAKEUP] = deadline;
	m->platform.set_wakeup(m->platform.opaque, deadline);
}

/* Bring the timers' levels up to date and arm the CPU for the next deadline of the emulated
 * physical timer: a timer already firing is the GIC's to deliver and arms nothing (timer.h). */
static void arm_deadline_before(struct el2_vcpu *v, uint64_t limit)
{
	uint64_t until;

	if (!hyp_timer_wfi_sleep_until(&v->timer, el2_clock(NULL), &until) || until > limit)
		until = limit == UINT64_MAX ? 0 : limit;
	set_wakeup(v, until);
}

static void arm_deadline(struct el2_vcpu *v)
{
	arm_deadline_before(v, UINT64_MAX);
}

/* WFIT (FEAT_WFxT) ends its wait once CNTVCT_EL0 reaches Xt at the latest (Arm ARM, WFIT): the
 * physical count at which that happens; UINT64_MAX for WFI, or if never before CNTPCT wraps.
 * A syndrome without a valid register (ISS.RV 0) times out at once. */
static uint64_t wfit_deadline(const struct el2_vcpu *v)
{
	uint32_t iss = HYP_ESR_ISS(v->ctx.esr);
	uint64_t xt, deadline;

	if ((iss & 3u) != WFX_TI_TIMEOUT)
		return UINT64_MAX;
	if (!(iss & WFX_RV))
		return 0;
	xt = gpr_read(&v->ctx.regs, WFX_RN(iss));
	deadline = xt + hyp_timer_vm_cntvoff(&vm_of(v)->timer);
	return deadline < xt ? UINT64_MAX : deadline;
}

/* ---- the vCPU's life on this CPU ---- */

void hyp__el2_irq_load(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);
	struct hyp_timer_hw hw;

	hyp_timer_vcpu_load(&v->timer, &hw);
	write_sysreg(hw.cntvoff, cntvoff_el2);
	write_sysreg(hw.cval, cntv_cval_el0);
	write_sysreg(hw.ctl, cntv_ctl_el0);
	if (!m->vgic)
		return;
	WR(0, ICH_HCR_EL2);
	for (unsigned int i = 0; i < m->nr_lrs; i++)
		write_lr(i, 0);
	v->lrs_used = 0;
	v->lrs_in_hw = false;
	v->lrs_parked = false;
	{
		const struct hyp_vgic_cpu_state *cs = hyp_vgic_cpu_state(m->vgic, v->vcpu->index);

		WR(cs->vmcr, ICH_VMCR_EL2);
		load_aprs(m, cs);
	}
	/* EL1 uses the system register interface (a GICv3 guest sets SRE; KVM sets it too). */
	WR(ICC_SRE_SRE, ICC_SRE_EL1);
	if (cpu)
		cpu->opaque[CPU_WAKEUP] = UINT64_MAX; /* unknown: the next arm writes it */
	set_vtimer_masked(v, hw.mask_irq);
	m->platform.set_ppi_masked(m->platform.opaque, GIC_PPI_MAINTENANCE, false);
	atomic_store(&v->vgic_dirty, true);
}

void hyp__el2_irq_put(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);

	if (m->vgic) {
		hyp__el2_vgic_sync_hw(v);
		save_cpu_state(v);
		WR(0, ICH_HCR_EL2);
	}
	hyp_timer_vcpu_put(&v->timer, read_sysreg(cntv_ctl_el0), read_sysreg(cntv_cval_el0));
	write_sysreg(0, cntv_ctl_el0);
	if (m->vgic)
		set_wakeup(v, 0);
	isb();
}

/* A vCPU of this CPU goes away without being put: nothing of it may keep firing here. */
void hyp__el2_irq_quiesce(void)
{
	write_sysreg(0, cntv_ctl_el0);
	WR(0, ICH_HCR_EL2);
	isb();
}

/* PSCI CPU_ON: the timers as after reset, the CPU interface off; the distributor and
 * redistributor keep their state (a CPU's power-up does not reset the GIC). Called on the
 * vCPU's own CPU, before its loaded state is discarded. */
void hyp__el2_irq_reset(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);

	if (v->timer.loaded)
		hyp__el2_irq_put(v);
	hyp_timer_vcpu_reset(&v->timer);
	if (m->vgic) {
		struct hyp_vgic_cpu_state *cs = hyp_vgic_cpu_state(m->vgic, v->vcpu->index);

		memset(cs, 0, sizeof(*cs));
		atomic_store(&v->vgic_dirty, true);
	}
}

void hyp__el2_irq_before_entry(struct el2_vcpu *v)
{
	if (!vm_of(v)->vgic)
		return;
	/* Straight from WFI, which has just done both with nothing run since. */
	if (!v->timers_fresh) {
		vtimer_sync(v);
		arm_deadline(v);
	}
	v->timers_fresh = false;
	if (!v->lrs_in_hw || atomic_load_explicit(&v->vgic_dirty, memory_order_relaxed)) {
		atomic_store_explicit(&v->vgic_dirty, false, memory_order_relaxed);
		hyp__el2_vgic_refill_hw(v);
	} else if (v->lrs_parked) {
		WR(v->parked_hcr, ICH_HCR_EL2);
		v->lrs_parked = false;
	}
}

void hyp__el2_irq_after_exit(struct el2_vcpu *v)
{
	if (!vm_of(v)->vgic)
		return;
	if (v->ctx.exit_kind == HYP_EL2_EXIT_IRQ || v->ctx.exit_kind == HYP_EL2_EXIT_FIQ) {
		/* A maintenance interrupt, a kick or the virtual timer: fold back now. The timer's
		 * physical PPI may be what stopped the guest: mask it before the firmware's handler
		 * looks, or a level that stays high would be taken again and again. */
		if (RD(ICH_MISR_EL2))
			hyp__el2_vgic_sync_hw(v);
		else
			park_lrs(v);
		vtimer_sync(v);
	} else if (HYP_ESR_EC(v->ctx.esr) == HYP_EC_WFX &&
		   !(HYP_ESR_ISS(v->ctx.esr) & WFX_TI_WFE)) {
		fold_for_wfi(v); /* WFI judges the IRQ line on folded-back state */
	} else {
		park_lrs(v);
	}
}

/* A trapped write of ICC_SGI1R_EL1, ICC_ASGI1R_EL1 or ICC_SGI0R_EL1 (ICC_SGIR_ISS_MATCH), answered
 * in place: true if it was (the PC is past the instruction). */
bool hyp__el2_irq_sgi(struct el2_vcpu *v, uint32_t iss)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_gp_regs *regs = &v->ctx.regs;

	if (!m->vgic || (regs->pstate & PSTATE_NRW))
		return false;
	hyp_vgic_icc_write(m->vgic, v->vcpu->index, HYP_SYSREG(3, 0, 12, 11, SYS_OP2(iss)),
			   gpr_read(regs, SYS_RT(iss)));
	hyp_trap_skip_a64_insn(regs, 4);
	hyp__el2_irq_refresh(v);
	return true;
}

/*
 * A trapped MSR/MRS that belongs to the GIC or the timers, answered in place: SGI generation
 * (ICC_SGI0R/SGI1R/ASGI1R_EL1), ICC_DIR_EL1 (trapped by ICH_HCR_EL2.TDIR when lib/vgic keeps
 * active interrupts out of the list registers) and the emulated EL1 physical timer. Returns true
 * if it did (the PC is past the instruction).
 */
bool hyp__el2_irq_sysreg(struct el2_vcpu *v, uint32_t iss)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_gp_regs *regs = &v->ctx.regs;
	uint32_t encoding =
		HYP_SYSREG(SYS_OP0(iss), SYS_OP1(iss), SYS_CRN(iss), SYS_CRM(iss), SYS_OP2(iss));
	uint32_t rt = SYS_RT(iss), index = v->vcpu->index;
	bool read = iss & SYS_DIR_READ;

	if (!m->vgic || (regs->pstate & PSTATE_NRW))
		return false;
	switch (encoding) {
	case HYP_VGIC_ICC_SGI1R_EL1:
	case HYP_VGIC_ICC_ASGI1R_EL1:
	case HYP_VGIC_ICC_SGI0R_EL1:
		/* Writes never get here (hyp__el2_fast_exit() gives them to hyp__el2_irq_sgi()
		 * first); a read (write-only: UNDEFINED) is the ordinary path's. */
		return false;
	case HYP_VGIC_ICC_DIR_EL1:
		if (read)
			return false;
		hyp__el2_vgic_sync_hw(v);
		hyp_vgic_deactivate(m->vgic, index, (uint32_t)gpr_read(regs, rt) & 0xffffffu);
		atomic_store_explicit(&v->vgic_dirty, true, memory_order_relaxed);
		break;
	default: {
		struct hyp_sysreg_access access = {
			.encoding = encoding,
			.is_write = !read,
			.reg = (uint8_t)rt,
			.value = read ? 0 : gpr_read(regs, rt),
		};

		/* -ENOENT (not a timer register) and -EPERM (UNDEFINED) take the ordinary path. */
		if (hyp_timer_handle_sysreg(&v->timer, &access))
			return false;
		if (read)
			gpr_write(regs, rt, access.value);
		arm_deadline(v);
		break;
	}
	}
	hyp_trap_skip_a64_insn(regs, 4);
	hyp__el2_irq_refresh(v);
	return true;
}

/*
 * WFI with the GIC: sleep until an interrupt the vCPU can take is pending (lib/vgic's IRQ line,
 * which covers what its timers raise), or it is kicked; WFIT also until its timeout. The CPU sleeps in WFI at EL2 with IRQs
 * masked (a pending interrupt still ends it, Arm ARM D1.16.2 "Wait for Interrupt") and the
 * emulated physical timer's deadline armed; the hardware virtual timer wakes it through its
 * PPI, unmasked while its level is low; notify() sends the kick IPI.
 */
static bool wfi_should_end(struct el2_vcpu *v)
{
	struct hyp_vcpu *vcpu = v->vcpu;

	return atomic_load(&v->vgic_dirty) || atomic_load(&vcpu->kick) ||
	       atomic_load(&vcpu->vm->system_event);
}

/* The firmware's handler, for a physical interrupt that interrupted the guest or woke its CPU.
 * It masks the virtual timer's PPI if it finds it firing (libhyp/el2.h), so the mask is
 * forgotten, unless the timer is not firing: then the handler did not take PPI 27 (a loaded
 * vCPU's timer interrupt is asserted only while it fires) and the mask is as libhyp left it. */
static void host_irq(struct el2_vcpu *v, uint32_t acked)
{
	struct el2_vm *m = vm_of(v);
	int masked = v->vtimer_masked;

	if (acked == HOST_IRQ_UNACKED)
		m->platform.handle_irq(m->platform.opaque);
	else
		m->platform.handle_acked_irq(m->platform.opaque, acked);
	hyp__el2_irq_forget_masks(v);
	if (!(read_sysreg(cntv_ctl_el0) & CNT_CTL_ISTATUS))
		v->vtimer_masked = masked;
}

void hyp__el2_irq_host(struct el2_vcpu *v)
{
	host_irq(v, HOST_IRQ_UNACKED);
}

/* host_irq() from the vector: with the firmware's TPIDR_EL2 and VBAR_EL2 for the call (what the
 * handler leaves in them is what the firmware gets back at the ordinary exit), and its interrupts
 * masked again after it (libhyp/el2.h). */
static void host_irq_in_place(struct el2_vcpu *v, uint32_t acked)
{
	uint64_t *frame = (uint64_t *)(uintptr_t)v->ctx.host_sp;
	uint64_t vbar = read_sysreg(vbar_el2);

	write_sysreg(frame[HYP_EL2_FRAME_TPIDR / 8], tpidr_el2);
	write_sysreg(frame[HYP_EL2_FRAME_VBAR / 8], vbar_el2);
	isb();
	host_irq(v, acked);
	frame[HYP_EL2_FRAME_TPIDR / 8] = read_sysreg(tpidr_el2);
	frame[HYP_EL2_FRAME_VBAR / 8] = read_sysreg(vbar_el2);
	__asm__ volatile("msr daifset, #0xf" ::: "memory");
	write_sysreg((uintptr_t)&v->ctx, tpidr_el2);
	write_sysreg(vbar, vbar_el2);
	isb();
}

/*
 * A physical IRQ interrupted the guest (entry.S's vector, on the EL2 stack below the entry frame).
 * The ordinary path would park the list registers, return through the world switch, call the
 * firmware's handler, re-arm the timers, refill and enter again: most of a kick's cost, when all
 * the kick brings is one interrupt to list. Here the handler runs in place, with the firmware's
 * TPIDR_EL2 and VBAR_EL2 back for the call (as at the ordinary exit), and the guest resumes when
 * nothing needs the run loop. What the ordinary path's steps were for, and where they went:
 * - a maintenance condition (ICH_MISR_EL2): folding back ends it; left to the ordinary path,
 *   before the handler runs (it would take the maintenance interrupt again and again);
 * - the virtual timer's PPI, masked while its level is high: vtimer_sync() before and after the
 *   handler, as at the ordinary exit and entry;
 * - the emulated physical timer: its state changes only by a trapped access (which arms its
 *   deadline at once) or by the deadline passing, whose interrupt is what arm_deadline() is for;
 * - a kick or a system event: the ordinary path, told that the handler has run (RECHECK);
 * - news for the vCPU (vgic_dirty): listed as after an exit served in place.
 * Returns 1 if the guest resumes, 0 for the ordinary exit.
 */
int hyp__el2_fast_irq(struct hyp_el2_ctx *ctx)
{
	struct el2_vcpu *v = (struct el2_vcpu *)ctx;
	struct hyp_vcpu *vcpu = v->vcpu;
	struct el2_vm *m = vm_of(v);
	struct hyp_el2_cpu *cpu;
	uint64_t wakeup;

	/* (A VM with the GIC has a handler: hyp__el2_irq_vm_init().) */
	if (!m->vgic || RD(ICH_MISR_EL2))
		return 0;
	vtimer_sync(v);
	if (m->own_kick) {
		uint32_t intid = (uint32_t)RD(ICC_IAR1_EL1) & ICC_IAR_INTID_MASK;

		if (intid == m->kick_intid) {
			/* Taking it was all it was for: end it. */
			WR(intid, ICC_EOIR1_EL1);
			if (RD(ICC_CTLR_EL1) & ICC_CTLR_EOIMODE)
				WR(intid, ICC_DIR_EL1);
		} else if (intid - ICC_INTID_SPECIAL >= 4u) {
			/* Anything but 1020..1023 (no interrupt): LPIs and extended INTIDs too. */
			host_irq_in_place(v, intid);
		}
	} else {
		host_irq_in_place(v, HOST_IRQ_UNACKED);
	}
	if (__builtin_expect(atomic_load(&vcpu->kick) || atomic_load(&vcpu->vm->system_event), 0)) {
		v->fast_result = HYP__FAST_RECHECK;
		return 0;
	}
	if (v->vtimer_masked < 0)
		vtimer_sync(v);
	cpu = atomic_load_explicit(&v->loaded_on, memory_order_relaxed);
	wakeup = cpu ? cpu->opaque[CPU_WAKEUP] : 0;
	if (wakeup && el2_clock(NULL) >= wakeup)
		arm_deadline(v);
	hyp__el2_irq_refresh(v);
	return 1;
}

void hyp__el2_irq_wfi(struct el2_vcpu *v)
{
	struct el2_vm *m = vm_of(v);
	struct hyp_vcpu *vcpu = v->vcpu;

	uint64_t timeout = wfit_deadline(v);

	/* lib/vgic's IRQ line is judged on folded-back state: hyp__el2_irq_after_exit() has folded
	 * back what this WFI needs (fold_for_wfi()). */
	hyp_trap_skip_a64_insn(&v->ctx.regs, 4);
	/* The guest cannot change its CPU interface while it sleeps: one copy will do. */
	save_cpu_state(v);
	vtimer_sync(v);
	for (;;) {
		atomic_store(&v->vgic_dirty, false);
		arm_deadline_before(v, timeout);
		if (wfi_should_end(v) || hyp_vgic_irq_line(m->vgic, vcpu->index) ||
		    (timeout != UINT64_MAX && el2_clock(NULL) >= timeout))
			break;
		dsb(sy);
		__asm__ volatile("wfi" ::: "memory");
		v->wfi_sleeps++;
		if ((read_sysreg(isr_el1) & (ISR_I | ISR_F)) && m->platform.handle_irq) {
			hyp__el2_irq_host(v);
			vtimer_sync(v);
		}
		/* Woken with news (a kick, an interrupt made pending by another CPU): the entry
		 * looks at it. The emulated timer's deadline stays armed: if it passes meanwhile,
		 * its interrupt makes the guest exit at once. */
		if (wfi_should_end(v))
			break;
	}
	v->timers_fresh = true;
	/* The entry looks at lib/vgic again: the LRs may have stayed loaded (fold_for_wfi()), and
	 * what ends the wait may be an interrupt no LR holds that the loop's own check (the IRQ
	 * line) found, with the flag that announced it cleared at the top of the loop, or one the
	 * fold itself made pending again. */
	atomic_store_explicit(&v->vgic_dirty, true, memory_order_relaxed);
}

/* ---- the VMM's interrupt lines (libhyp/irq.h) ---- */

int hyp__el2_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			uint32_t intid, bool level)
{
	struct hyp_vgic *vgic = el2_vm(vm)->vgic;

	if (!vgic)
		return -ENOTSUP;
	switch (kind) {
	case HYP_BACKEND_IRQ_SPI:
		return hyp_vgic_set_level(vgic, 0, intid, level);
	case HYP_BACKEND_IRQ_PPI:
		return hyp_vgic_set_level(vgic, vcpu->index, intid, level);
	case HYP_BACKEND_IRQ_SGI:
		return hyp_vgic_raise(vgic, vcpu->index, intid);
	default:
		return -EINVAL;
	}
}

/* CNTV_CTL_EL0 / CNTV_CVAL_EL0 for hyp_vcpu_get/set_sysreg(): the hardware's while the vCPU is
 * loaded on the calling CPU (@loaded_here), lib/timer's otherwise. */
int hyp__el2_timer_reg(struct el2_vcpu *v, uint32_t encoding, uint64_t *value, bool write)
{
	if (!v->timer.loaded)
		return write ? hyp_timer_sysreg_write(&v->timer, encoding, *value) :
			       hyp_timer_sysreg_read(&v->timer, encoding, value);
	if (encoding == HYP_SYSREG_CNTV_CTL_EL0) {
		if (write)
			write_sysreg(*value & CNT_CTL_RW_MASK, cntv_ctl_el0);
		else
			*value = read_sysreg(cntv_ctl_el0);
	} else {
		if (write)
			write_sysreg(*value, cntv_cval_el0);
		else
			*value = read_sysreg(cntv_cval_el0);
	}
	isb();
	return 0;
}

/* ---- host interrupts assigned to the VM (libhyp/irq.h) ---- */

static void assign_lock(struct el2_vm *m)
{
	while (atomic_flag_test_and_set_explicit(&m->assign_lock, memory_order_acquire))
		hyp__cpu_relax();
}

static void assign_unlock(struct el2_vm *m)
{
	atomic_flag_clear_explicit(&m->assign_lock, memory_order_release);
}

int hyp__el2_assign_irq(struct hyp_vm *vm, uint32_t host_irq, uint32_t intid)
{
	struct el2_vm *m = el2_vm(vm);
	int free_slot = -1, slot = -1, r;

	if (!m->vgic)
		return -ENOTSUP;
	if (intid >= HYP_INTID_SPI_BASE + EL2_NR_SPIS)
		return -EINVAL;
	assign_lock(m);
	for (unsigned int i = 0; i < HYP_MAX_ASSIGNED_IRQS; i++) {
		uint32_t a = atomic_load_explicit(&m->assigned[i], memory_order_relaxed);

		if (!a) {
			if (free_slot < 0)
				free_slot = (int)i;
		} else if ((a & 0xffffu) == intid) {
			slot = (int)i;
		} else if (host_irq && (a >> 16) == host_irq) {
			assign_unlock(m);
			return -EBUSY;
		}
	}
	if (!host_irq) {
		/* Take it away: a physical interrupt the guest left active is deactivated. */
		r = slot < 0 ? -EINVAL : hyp_vgic_map_hw(m->vgic, 0, intid, 0);
		if (!r)
			atomic_store_explicit(&m->assigned[slot], 0, memory_order_release);
	} else if (slot >= 0) {
		r = -EBUSY;
	} else if (free_slot < 0) {
		r = -ENOSPC;
	} else {
		r = hyp_vgic_map_hw(m->vgic, 0, intid, host_irq);
		if (!r)
			atomic_store_explicit(&m->assigned[free_slot], host_irq << 16 | intid,
					      memory_order_release);
	}
	assign_unlock(m);
	return r;
}

int hyp__el2_host_irq(struct hyp_vm *vm, uint32_t host_irq)
{
	struct el2_vm *m = el2_vm(vm);

	if (!m->vgic)
		return -ENOTSUP;
	for (unsigned int i = 0; i < HYP_MAX_ASSIGNED_IRQS; i++) {
		uint32_t a = atomic_load_explicit(&m->assigned[i], memory_order_acquire);

		if (a && (a >> 16) == host_irq)
			return hyp_vgic_raise(m->vgic, 0, a & 0xffffu);
	}
	return -ENOENT;
}

/* ---- a diagnosis (hyp_vcpu_log_state()) ---- */

#define ICC_RPR_EL1 S3_0_C12_C11_3
#define ICC_HPPIR1_EL1 S3_0_C12_C12_2

/* The list registers and the CPU interface as the hardware holds them (on the vCPU's CPU). */
static void log_hw_state(struct el2_vcpu *v)
{
	struct hyp_vm *vm = v->vcpu->vm;
	struct el2_vm *m = el2_vm(vm);
	unsigned int index = v->vcpu->index;

	hyp__log(vm, HYP_LOG_WARNING,
		 "vCPU %u: ICH_HCR_EL2 %#llx%s, ICH_VMCR_EL2 %#llx, ICH_MISR_EL2 %#llx, "
		 "ICH_ELRSR_EL2 %#llx, ICH_AP0R0 %#llx, ICH_AP1R0 %#llx; HCR_EL2 %#llx",
		 index, (unsigned long long)(v->lrs_parked ? v->parked_hcr : RD(ICH_HCR_EL2)),
		 v->lrs_parked ? " (parked)" : "", (unsigned long long)RD(ICH_VMCR_EL2),
		 (unsigned long long)RD(ICH_MISR_EL2), (unsigned long long)RD(ICH_ELRSR_EL2),
		 (unsigned long long)RD(S3_4_C12_C8_0), (unsigned long long)RD(S3_4_C12_C9_0),
		 (unsigned long long)read_sysreg(hcr_el2));
	for (unsigned int i = 0; i < m->nr_lrs; i++) {
		uint64_t lr = read_lr(i);

		if (lr)
			hyp__log(vm, HYP_LOG_WARNING, "vCPU %u: ICH_LR%u_EL2 %#llx", index, i,
				 (unsigned long long)lr);
	}
	hyp__log(vm, HYP_LOG_WARNING,
		 "vCPU %u: CNTV_CTL_EL0 %#llx, CNTV_CVAL_EL0 %#llx, CNTVCT_EL0 %#llx; this CPU's "
		 "ICC_RPR_EL1 %#llx, ICC_HPPIR1_EL1 %#llx",
		 index, (unsigned long long)read_sysreg(cntv_ctl_el0),
		 (unsigned long long)read_sysreg(cntv_cval_el0),
		 (unsigned long long)read_sysreg(cntvct_el0), (unsigned long long)RD(ICC_RPR_EL1),
		 (unsigned long long)RD(ICC_HPPIR1_EL1));
}

void hyp__el2_vcpu_log_state(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_vm *vm = vcpu->vm;
	struct el2_vm *m = el2_vm(vm);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);
	bool here = cpu && v->timer.loaded &&
		    atomic_load_explicit(&v->loaded_mpidr, memory_order_relaxed) ==
			    read_sysreg(mpidr_el1);
	const struct hyp_timer_ctx *vt = &v->timer.timer[HYP_TIMER_VIRT];

	hyp__log(vm, HYP_LOG_WARNING,
		 "vCPU %u: PC %#llx, PSTATE %#llx (as of its last exit or interrupt); %s; news "
		 "for its GIC %s, its virtual timer's PPI %s, %llu WFI sleeps",
		 vcpu->index, (unsigned long long)v->ctx.regs.pc,
		 (unsigned long long)v->ctx.regs.pstate,
		 here ? "loaded on this CPU" :
		 cpu  ? "loaded on another CPU" :
			"not loaded",
		 atomic_load(&v->vgic_dirty) ? "pending" : "none",
		 v->vtimer_masked < 0 ? "masked (as far as the firmware said)" :
		 v->vtimer_masked     ? "masked" :
					"unmasked",
		 (unsigned long long)v->wfi_sleeps);
	hyp__log(vm, HYP_LOG_WARNING,
		 "vCPU %u: list registers %s, %u in use%s; lib/timer: CNTV_CTL %#llx, CVAL %#llx, "
		 "level %d",
		 vcpu->index, v->lrs_in_hw ? "loaded" : "synced", v->lrs_used,
		 v->lrs_hw ? ", one with a host interrupt" : "", (unsigned long long)vt->ctl,
		 (unsigned long long)vt->cval, vt->level);
	if (here && m->vgic)
		log_hw_state(v);
	if (!m->vgic)
		return;
	if (!here) {
		const struct hyp_vgic_cpu_state *cs = hyp_vgic_cpu_state(m->vgic, vcpu->index);

		hyp__log(vm, HYP_LOG_WARNING,
			 "vCPU %u: saved ICH_VMCR_EL2 %#llx, ICH_AP1R0 %#llx (as of its last put "
			 "or WFI)",
			 vcpu->index, (unsigned long long)cs->vmcr,
			 (unsigned long long)cs->ap1r[0]);
	}
	for (uint32_t intid = 0; intid < HYP_INTID_SPI_BASE + EL2_NR_SPIS; intid++) {
		struct hyp_vgic_irq_info info;

		if (hyp_vgic_irq_info(m->vgic, vcpu->index, intid, &info) ||
		    (!info.pending && !info.active))
			continue;
		/* SPIs: those that target this vCPU. */
		if (intid >= HYP_INTID_SPI_BASE && info.target != vcpu->index)
			continue;
		hyp__log(vm, HYP_LOG_WARNING, "vCPU %u: INTID %u%s%s, %s, priority %#x, %s%s%s",
			 vcpu->index, intid, info.pending ? " pending" : "",
			 info.active ? " active" : "", info.enabled ? "enabled" : "disabled",
			 info.priority, info.group1 ? "group 1" : "group 0",
			 info.edge ? ", edge" : ", level", info.hw ? ", a host interrupt" : "");
	}
}
