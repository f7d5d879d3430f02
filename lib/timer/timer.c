// SPDX-License-Identifier: MIT
/*
 * lib/timer: the EL1 virtual and physical timers of a vCPU (see timer.h for the model and the
 * backend's duties). Arm ARM references are to DDI 0487, chapter D11.
 */
#include <libhyp/platform.h>
#include <libhyp/sysreg.h>

#include "arm64.h"
#include "hyp_base.h"
#include "hyp_errno.h"
#include "timer/timer.h"

static const uint64_t NSEC_PER_SEC = 1000000000u;

int hyp_timer_vm_init(struct hyp_timer_vm *vm, const struct hyp_timer_config *cfg)
{
	uint32_t virt, phys;

	if (!vm || !cfg || !cfg->clock || !cfg->set_ppi || !cfg->freq)
		return -EINVAL;
	virt = cfg->virt_intid ? cfg->virt_intid : HYP_DEFAULT_TIMER_VIRT_INTID;
	phys = cfg->phys_intid ? cfg->phys_intid : HYP_DEFAULT_TIMER_PHYS_INTID;
	/* PPIs are INTIDs 16..31 (GICv3 without the extended PPI range). Two timers on one line
	 * would make one's level hide the other's. */
	if (virt < 16 || virt > 31 || phys < 16 || phys > 31 || virt == phys)
		return -EINVAL;
	vm->clock = cfg->clock;
	vm->set_ppi = cfg->set_ppi;
	vm->opaque = cfg->opaque;
	vm->freq = cfg->freq;
	vm->intid[HYP_TIMER_VIRT] = virt;
	vm->intid[HYP_TIMER_PHYS] = phys;
	atomic_store_explicit(&vm->cntvoff, cfg->cntvoff, memory_order_relaxed);
	return 0;
}

uint64_t hyp_timer_vm_cntvoff(const struct hyp_timer_vm *vm)
{
	return atomic_load_explicit(&vm->cntvoff, memory_order_relaxed);
}

void hyp_timer_vm_set_cntvoff(struct hyp_timer_vm *vm, uint64_t cntvoff)
{
	atomic_store_explicit(&vm->cntvoff, cntvoff, memory_order_relaxed);
}

void hyp_timer_vm_set_cntvct(struct hyp_timer_vm *vm, uint64_t now, uint64_t cntvct)
{
	/* CNTVCT = CNTPCT - CNTVOFF, modulo 2^64 (D11, "The virtual counter"). */
	hyp_timer_vm_set_cntvoff(vm, now - cntvct);
}

uint32_t hyp_timer_vm_intid(const struct hyp_timer_vm *vm, enum hyp_timer_id id)
{
	hyp__assert(id == HYP_TIMER_VIRT || id == HYP_TIMER_PHYS);
	return vm->intid[id];
}

uint64_t hyp_timer_ticks_to_ns(const struct hyp_timer_vm *vm, uint64_t ticks)
{
	uint64_t secs = ticks / vm->freq, rem = ticks % vm->freq;
	/* rem < freq < 2^32, so rem * 10^9 < 2^62: no 128-bit division (a libgcc call at EL2). */
	uint64_t ns = rem * NSEC_PER_SEC / vm->freq;

	if (secs > (UINT64_MAX - ns) / NSEC_PER_SEC)
		return UINT64_MAX;
	return secs * NSEC_PER_SEC + ns;
}

/* ---------------------------------------------------------------------------------------------
 * One timer.
 */

/* The count a timer compares against: CNTVCT for the virtual timer, CNTPCT for the physical one
 * (no CNTPOFF_EL2: FEAT_ECV's physical offset is not modelled). */
static uint64_t timer_count(const struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id, uint64_t now)
{
	return id == HYP_TIMER_VIRT ? now - hyp_timer_vm_cntvoff(vcpu->vm) : now;
}

/* The timer condition in the CompareValue view: counter - CVAL >= 0 with both taken as unsigned
 * 64-bit integers, i.e. counter >= CVAL (D11, "Operation in CompareValue view"). So CVAL =
 * UINT64_MAX is met only at the counter's last value, and a counter that wraps (CNTVCT, with an
 * offset above CNTPCT) stops meeting it. */
static bool condition_met(const struct hyp_timer_ctx *t, uint64_t count)
{
	return count >= t->cval;
}

/* The interrupt output: asserted while ENABLE is 1, IMASK is 0 and the condition is met. */
static bool output_level(const struct hyp_timer_ctx *t, uint64_t count)
{
	return (t->ctl & CNT_CTL_RW_MASK) == CNT_CTL_ENABLE && condition_met(t, count);
}

/* Report a change of output, once: set_ppi is called only when the level differs from the last
 * one reported, however often the same state is evaluated. */
static void set_level(struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id, bool level)
{
	struct hyp_timer_ctx *t = &vcpu->timer[id];

	if (t->level == level)
		return;
	t->level = level;
	vcpu->vm->set_ppi(vcpu->vm->opaque, vcpu->index, vcpu->vm->intid[id], level);
}

static void evaluate(struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id, uint64_t now)
{
	set_level(vcpu, id, output_level(&vcpu->timer[id], timer_count(vcpu, id, now)));
}

/*
 * The physical count at which timer @id's output goes high, for an output that is low at @now.
 * The counter climbs by one per tick: the condition is next met after CVAL - count ticks; if that
 * moment lies past the end of the physical counter's range (the virtual counter, offset, would
 * wrap to 0 first and never meet the condition before CNTPCT itself wraps), there is none.
 */
static bool timer_deadline(const struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id, uint64_t now,
			   uint64_t *deadline)
{
	const struct hyp_timer_ctx *t = &vcpu->timer[id];
	uint64_t count = timer_count(vcpu, id, now), delta;

	if ((t->ctl & CNT_CTL_RW_MASK) != CNT_CTL_ENABLE)
		return false;
	if (condition_met(t, count)) {
		*deadline = now;
		return true;
	}
	delta = t->cval - count;
	if (now + delta < now)
		return false;
	*deadline = now + delta;
	return true;
}

/* Whether the model, rather than the hardware, holds timer @id right now. */
static bool model_holds(const struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id)
{
	return id == HYP_TIMER_PHYS || !vcpu->loaded;
}

/* ---------------------------------------------------------------------------------------------
 * Life cycle and the hardware virtual timer.
 */

void hyp_timer_vcpu_init(struct hyp_timer_vcpu *vcpu, struct hyp_timer_vm *vm, uint32_t index)
{
	hyp__assert(vcpu && vm);
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->loaded = false;
	for (int id = 0; id < HYP_TIMER_COUNT; id++) {
		vcpu->timer[id].ctl = 0;
		vcpu->timer[id].cval = 0;
		vcpu->timer[id].level = false;
	}
}

int hyp_timer_vcpu_reset(struct hyp_timer_vcpu *vcpu)
{
	if (vcpu->loaded)
		return -EBUSY;
	for (int id = 0; id < HYP_TIMER_COUNT; id++) {
		vcpu->timer[id].ctl = 0;
		vcpu->timer[id].cval = 0;
		set_level(vcpu, (enum hyp_timer_id)id, false);
	}
	return 0;
}

void hyp_timer_vcpu_load(struct hyp_timer_vcpu *vcpu, struct hyp_timer_hw *hw)
{
	const struct hyp_timer_ctx *v = &vcpu->timer[HYP_TIMER_VIRT];

	hyp__assert(!vcpu->loaded);
	/* A timer that became due while the vCPU was out is pended before it runs, not one exit
	 * later when the hardware notices. */
	hyp_timer_update(vcpu, vcpu->vm->clock(vcpu->vm->opaque));
	hw->cntvoff = hyp_timer_vm_cntvoff(vcpu->vm);
	hw->cval = v->cval;
	hw->ctl = v->ctl & CNT_CTL_RW_MASK;
	hw->mask_irq = v->level;
	vcpu->loaded = true;
}

bool hyp_timer_vcpu_sync(struct hyp_timer_vcpu *vcpu, uint64_t ctl, uint64_t cval)
{
	struct hyp_timer_ctx *v = &vcpu->timer[HYP_TIMER_VIRT];
	uint64_t now = vcpu->vm->clock(vcpu->vm->opaque);

	hyp__assert(vcpu->loaded);
	/* ISTATUS (and the RES0 bits) in a value read from the hardware are not state: the model
	 * derives ISTATUS from its own clock. */
	v->ctl = ctl & CNT_CTL_RW_MASK;
	v->cval = cval;
	evaluate(vcpu, HYP_TIMER_VIRT, now);
	return v->level;
}

void hyp_timer_vcpu_put(struct hyp_timer_vcpu *vcpu, uint64_t ctl, uint64_t cval)
{
	hyp_timer_vcpu_sync(vcpu, ctl, cval);
	vcpu->loaded = false;
	hyp_timer_update(vcpu, vcpu->vm->clock(vcpu->vm->opaque));
}

/* ---------------------------------------------------------------------------------------------
 * Time.
 */

void hyp_timer_update(struct hyp_timer_vcpu *vcpu, uint64_t now)
{
	for (int id = 0; id < HYP_TIMER_COUNT; id++) {
		if (model_holds(vcpu, (enum hyp_timer_id)id))
			evaluate(vcpu, (enum hyp_timer_id)id, now);
	}
}

bool hyp_timer_next_deadline(const struct hyp_timer_vcpu *vcpu, uint64_t now, uint64_t *deadline)
{
	bool found = false;
	uint64_t best = 0, d;

	for (int id = 0; id < HYP_TIMER_COUNT; id++) {
		if (!model_holds(vcpu, (enum hyp_timer_id)id))
			continue;
		if (timer_deadline(vcpu, (enum hyp_timer_id)id, now, &d) && (!found || d < best)) {
			best = d;
			found = true;
		}
	}
	if (found)
		*deadline = best;
	return found;
}

bool hyp_timer_wfi_sleep_until(struct hyp_timer_vcpu *vcpu, uint64_t now, uint64_t *until)
{
	const struct hyp_timer_ctx *p = &vcpu->timer[HYP_TIMER_PHYS];
	bool found = false;
	uint64_t best = 0, d;

	/* Loaded, the model holds only the physical timer: off or masked with its output low, it
	 * has nothing to update and no deadline (what the general case finds, cheaply: an OS that
	 * uses the virtual timer leaves it so). */
	if (vcpu->loaded && (p->ctl & CNT_CTL_RW_MASK) != CNT_CTL_ENABLE && !p->level)
		return false;
	hyp_timer_update(vcpu, now);
	for (int id = 0; id < HYP_TIMER_COUNT; id++) {
		/* A high output is already with the interrupt controller. After the update, every
		 * low output the model holds has its deadline strictly after @now. */
		if (!model_holds(vcpu, (enum hyp_timer_id)id) || vcpu->timer[id].level)
			continue;
		if (timer_deadline(vcpu, (enum hyp_timer_id)id, now, &d) && (!found || d < best)) {
			best = d;
			found = true;
		}
	}
	if (found)
		*until = best;
	return found;
}

bool hyp_timer_level(const struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id)
{
	hyp__assert(id == HYP_TIMER_VIRT || id == HYP_TIMER_PHYS);
	return vcpu->timer[id].level;
}

/* ---------------------------------------------------------------------------------------------
 * Register accesses.
 */

enum timer_reg {
	REG_NONE,
	REG_CTL,
	REG_CVAL,
	REG_TVAL,
	REG_PCT,
	REG_VCT,
	REG_FRQ,
};

static enum timer_reg classify(uint32_t encoding, enum hyp_timer_id *id)
{
	*id = HYP_TIMER_PHYS;
	switch (encoding) {
	case HYP_SYSREG_CNTV_CTL_EL0:
		*id = HYP_TIMER_VIRT;
		return REG_CTL;
	case HYP_SYSREG_CNTV_CVAL_EL0:
		*id = HYP_TIMER_VIRT;
		return REG_CVAL;
	case HYP_SYSREG_CNTV_TVAL_EL0:
		*id = HYP_TIMER_VIRT;
		return REG_TVAL;
	case HYP_SYSREG_CNTP_CTL_EL0:
		return REG_CTL;
	case HYP_SYSREG_CNTP_CVAL_EL0:
		return REG_CVAL;
	case HYP_SYSREG_CNTP_TVAL_EL0:
		return REG_TVAL;
	/* The self-synchronised views (FEAT_ECV) read the same counters. */
	case HYP_SYSREG_CNTPCT_EL0:
	case HYP_SYSREG_CNTPCTSS_EL0:
		return REG_PCT;
	case HYP_SYSREG_CNTVCT_EL0:
	case HYP_SYSREG_CNTVCTSS_EL0:
		return REG_VCT;
	case HYP_SYSREG_CNTFRQ_EL0:
		return REG_FRQ;
	default:
		return REG_NONE;
	}
}

/* SignExtend(value[31:0]) to 64 bits, without an implementation-defined signed conversion. */
static uint64_t sext32(uint64_t value)
{
	return ((value & CNT_TVAL_MASK) ^ UINT64_C(0x80000000)) - UINT64_C(0x80000000);
}

/* A CNTV_* register while the hardware holds the virtual timer: the model's copy is stale. */
static bool hw_owned(const struct hyp_timer_vcpu *vcpu, enum timer_reg reg, enum hyp_timer_id id)
{
	return (reg == REG_CTL || reg == REG_CVAL || reg == REG_TVAL) && !model_holds(vcpu, id);
}

int hyp_timer_sysreg_read(struct hyp_timer_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	enum hyp_timer_id id;
	enum timer_reg reg = classify(encoding, &id);
	struct hyp_timer_ctx *t = &vcpu->timer[id];
	uint64_t now, count;

	if (reg == REG_NONE)
		return -ENOENT;
	if (hw_owned(vcpu, reg, id))
		return -EBUSY;
	now = vcpu->vm->clock(vcpu->vm->opaque);
	count = timer_count(vcpu, id, now);
	switch (reg) {
	case REG_CTL:
		/* ISTATUS is UNKNOWN while ENABLE is 0 (the register description): report 0. */
		*value = t->ctl;
		if ((t->ctl & CNT_CTL_ENABLE) && condition_met(t, count))
			*value |= CNT_CTL_ISTATUS;
		break;
	case REG_CVAL:
		*value = t->cval;
		break;
	case REG_TVAL:
		/* TimerValue view: (CVAL - counter)[31:0]; [63:32] are RES0, so a past CVAL
		 * reads as a large 32-bit value the guest sign-extends itself. */
		*value = (t->cval - count) & CNT_TVAL_MASK;
		break;
	case REG_PCT:
		*value = now;
		return 0;
	case REG_VCT:
		*value = now - hyp_timer_vm_cntvoff(vcpu->vm);
		return 0;
	case REG_FRQ:
		*value = vcpu->vm->freq & CNT_FRQ_MASK;
		return 0;
	default:
		return -ENOENT;
	}
	/* A guest polling ISTATUS sees its interrupt line agree with what it reads. */
	evaluate(vcpu, id, now);
	return 0;
}

int hyp_timer_sysreg_write(struct hyp_timer_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	enum hyp_timer_id id;
	enum timer_reg reg = classify(encoding, &id);
	struct hyp_timer_ctx *t = &vcpu->timer[id];
	uint64_t now;

	if (reg == REG_NONE)
		return -ENOENT;
	/* The counters and CNTFRQ_EL0 are read-only at EL1 (CNTFRQ_EL0 is writable only at the
	 * highest implemented Exception level): an MSR to them is UNDEFINED. */
	if (reg == REG_PCT || reg == REG_VCT || reg == REG_FRQ)
		return -EPERM;
	if (hw_owned(vcpu, reg, id))
		return -EBUSY;
	now = vcpu->vm->clock(vcpu->vm->opaque);
	switch (reg) {
	case REG_CTL:
		/* ISTATUS is read-only and bits [63:3] are RES0: both ignored on a write. */
		t->ctl = value & CNT_CTL_RW_MASK;
		break;
	case REG_CVAL:
		t->cval = value;
		break;
	case REG_TVAL:
		/* TimerValue view: CVAL = counter + SignExtend(TVAL[31:0]), modulo 2^64, whether or
		 * not the timer is enabled. */
		t->cval = timer_count(vcpu, id, now) + sext32(value);
		break;
	default:
		return -ENOENT;
	}
	evaluate(vcpu, id, now);
	return 0;
}

int hyp_timer_handle_sysreg(struct hyp_timer_vcpu *vcpu, struct hyp_sysreg_access *access)
{
	uint64_t value;
	int ret;

	if (access->is_write)
		return hyp_timer_sysreg_write(vcpu, access->encoding, access->value);
	ret = hyp_timer_sysreg_read(vcpu, access->encoding, &value);
	if (ret == 0)
		access->value = value;
	return ret;
}
