/* SPDX-License-Identifier: MIT */
/*
 * Arm PrimeCell real-time clock (PL031), per its Technical Reference Manual (ARM DDI 0224).
 *
 * The counter is the caller's clock plus an offset that RTCLR writes move. It is kept as a 64-bit
 * count of seconds so the alarm can tell "the counter passed RTCMR since we last looked" even
 * when nobody looked for a while; the guest sees the low 32 bits, as the hardware's counter wraps.
 */
#include "hyp_string.h"

#include "dev-internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <time.h>
#endif

#define RTCDR 0x000
#define RTCMR 0x004
#define RTCLR 0x008
#define RTCCR 0x00c
#define RTCIMSC 0x010
#define RTCRIS 0x014
#define RTCMIS 0x018
#define RTCICR 0x01c
#define RTCPERIPHID0 0xfe0
#define RTCPCELLID3 0xffc

#define RTC_INT (1u << 0)

/* RTCPeriphID0-3 then RTCPCellID0-3: part 0x031, designer 0x41, revision 1. */
static const uint8_t pl031_id[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct hyp_pl031 {
	struct hyp_vm *vm;
	hyp_ipa_t base;
	struct hyp__dev_lock lock;
	struct hyp__dev_irq irq;
	hyp_dev_clock_fn clock_fn;
	void *clock_opaque;

	uint64_t offset;  /* counter = clock + offset (mod 2^64) */
	uint64_t checked; /* the counter value up to which the alarm has been evaluated */
	uint32_t mr, lr, imsc, ris;
};

#if defined(HYP_HOSTED) && HYP_HOSTED
static uint64_t host_clock(void *opaque)
{
	time_t now = time(NULL);

	(void)opaque;
	return now > 0 ? (uint64_t)now : 0;
}
#endif

static uint64_t counter_now(const struct hyp_pl031 *rtc)
{
	return rtc->clock_fn(rtc->clock_opaque) + rtc->offset;
}

/* Latch the alarm if the counter reached RTCMR in (checked, now]. A clock that went backwards
 * fires nothing and restarts the evaluation from the new value. */
static uint64_t evaluate(struct hyp_pl031 *rtc)
{
	uint64_t now = counter_now(rtc);

	if ((int64_t)(now - rtc->checked) > 0) {
		uint64_t to_match = (uint32_t)(rtc->mr - (uint32_t)rtc->checked);

		if (!to_match)
			to_match = 1ull << 32;
		if (to_match <= now - rtc->checked)
			rtc->ris |= RTC_INT;
	}
	rtc->checked = now;
	return now;
}

static void update_irq(struct hyp_pl031 *rtc)
{
	hyp__dev_irq_set(&rtc->irq, (rtc->ris & rtc->imsc) != 0);
}

static uint32_t reg_read(struct hyp_pl031 *rtc, uint64_t reg)
{
	switch (reg) {
	case RTCDR:
		return (uint32_t)rtc->checked; /* the caller evaluated the alarm just now */
	case RTCMR:
		return rtc->mr;
	case RTCLR:
		return rtc->lr;
	case RTCCR:
		return 1; /* started at reset; writes of 0 cannot stop it (TRM: RTCCR) */
	case RTCIMSC:
		return rtc->imsc;
	case RTCRIS:
		return rtc->ris;
	case RTCMIS:
		return rtc->ris & rtc->imsc;
	default:
		if (reg >= RTCPERIPHID0 && reg <= RTCPCELLID3)
			return pl031_id[(reg - RTCPERIPHID0) / 4];
		return 0;
	}
}

static void reg_write(struct hyp_pl031 *rtc, uint64_t reg, uint32_t value)
{
	uint64_t now;

	switch (reg) {
	case RTCMR:
		now = evaluate(rtc);
		rtc->mr = value;
		if ((uint32_t)now == value)
			rtc->ris |= RTC_INT;
		break;
	case RTCLR:
		evaluate(rtc);
		rtc->lr = value;
		/* Rebase so the counter reads @value now; jumping is not passing through RTCMR. */
		now = rtc->clock_fn(rtc->clock_opaque);
		rtc->offset = (uint64_t)value - now;
		rtc->checked = value;
		if (value == rtc->mr)
			rtc->ris |= RTC_INT;
		break;
	case RTCIMSC:
		rtc->imsc = value & RTC_INT;
		break;
	case RTCICR:
		rtc->ris &= ~(value & RTC_INT);
		break;
	default:
		break; /* RTCDR, RTCCR, RIS, MIS, ID and reserved registers ignore writes */
	}
}

static enum hyp_handler_result pl031_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *access)
{
	struct hyp_pl031 *rtc = opaque;
	uint64_t offset = access->offset;

	(void)vcpu;
	if ((access->len != 1 && access->len != 2 && access->len != 4) ||
	    (offset & (access->len - 1u)) || offset >= HYP_RTC_SIZE) {
		dev_dbg(rtc->vm, "pl031@%#llx: ignored %u-byte access at offset %#llx",
			(unsigned long long)rtc->base, (unsigned)access->len,
			(unsigned long long)offset);
		if (!access->is_write)
			access->data = 0;
		return HYP_HANDLED;
	}
	hyp__dev_lock(&rtc->lock);
	if (access->is_write) {
		/* Registers are 32 bits wide: only a full-width store has a defined effect. */
		if (access->len == 4)
			reg_write(rtc, offset, (uint32_t)access->data);
	} else {
		evaluate(rtc);
		access->data = hyp__dev_subword(reg_read(rtc, offset & ~3ull), offset);
	}
	update_irq(rtc);
	hyp__dev_unlock(&rtc->lock);
	return HYP_HANDLED;
}

HYP_API int hyp_pl031_create(struct hyp_vm *vm, const struct hyp_pl031_config *config,
			     struct hyp_pl031 **ret)
{
	struct hyp_pl031_config cfg;
	struct hyp_pl031 *rtc;
	int r;

	if (!vm || !config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(
		&cfg, sizeof(cfg),
		offsetof(struct hyp_pl031_config, clock_opaque) + sizeof(cfg.clock_opaque), config);
	if (r)
		return r;
	if ((cfg.flags & ~(uint32_t)HYP_DEV_NO_IRQ) || cfg.reserved)
		return -EINVAL;
	if (!cfg.base)
		cfg.base = HYP_DEFAULT_RTC_BASE;
	if (!cfg.intid)
		cfg.intid = HYP_DEFAULT_RTC_INTID;
	if (!cfg.clock_fn) {
#if defined(HYP_HOSTED) && HYP_HOSTED
		cfg.clock_fn = host_clock;
#else
		return -ENOTSUP;
#endif
	}

	rtc = hyp_vm_alloc(vm, sizeof(*rtc), _Alignof(struct hyp_pl031));
	if (!rtc)
		return -ENOMEM;
	rtc->vm = vm;
	rtc->base = cfg.base;
	rtc->clock_fn = cfg.clock_fn;
	rtc->clock_opaque = cfg.clock_opaque;
	rtc->checked = counter_now(rtc);
	r = hyp__dev_irq_init(&rtc->irq, vm, cfg.intid, cfg.flags);
	if (!r)
		r = hyp__dev_lock_init(&rtc->lock);
	if (r) {
		hyp_vm_free(vm, rtc, sizeof(*rtc));
		return r;
	}
	r = hyp_vm_add_mmio_handler(vm, cfg.base, HYP_RTC_SIZE, pl031_mmio, rtc);
	if (r) {
		hyp__dev_lock_fini(&rtc->lock);
		hyp_vm_free(vm, rtc, sizeof(*rtc));
		return r;
	}
	*ret = rtc;
	return 0;
}

HYP_API int hyp_pl031_poll(struct hyp_pl031 *rtc, uint64_t *next)
{
	uint64_t now;
	int asserted;

	if (!rtc)
		return -EINVAL;
	hyp__dev_lock(&rtc->lock);
	now = evaluate(rtc);
	update_irq(rtc);
	asserted = (rtc->ris & rtc->imsc) != 0;
	if (next) {
		uint64_t left = (uint32_t)(rtc->mr - (uint32_t)now);

		*next = rtc->imsc ? (left ? left : 1ull << 32) : UINT64_MAX;
	}
	hyp__dev_unlock(&rtc->lock);
	return asserted;
}

HYP_API void hyp_pl031_destroy(struct hyp_pl031 *rtc)
{
	int r;

	if (!rtc)
		return;
	r = hyp_vm_remove_mmio_handler(rtc->vm, rtc->base);
	if (r) {
		dev_err(rtc->vm, "pl031@%#llx: cannot detach (%s); device left attached",
			(unsigned long long)rtc->base, hyp_strerror(r));
		return;
	}
	hyp__dev_irq_set(&rtc->irq, false);
	hyp__dev_lock_fini(&rtc->lock);
	hyp_vm_free(rtc->vm, rtc, sizeof(*rtc));
}
