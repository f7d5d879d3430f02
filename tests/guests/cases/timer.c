/* SPDX-License-Identifier: MIT */
/*
 * timer: the EL1 virtual timer (Arm ARM D11.2.4, CNTV_CTL_EL0 / CNTV_CVAL_EL0) wakes a WFI through
 * its PPI, INTID 27 on the virt platform.
 *
 * The interrupt must not fire before the compare value (CNTVCT >= CVAL in the handler, and
 * CNTV_CTL.ISTATUS set), and the WFI must be woken by it: a backend that let WFI sleep without
 * watching the timer would hang (the watchdog turns that into a failure).
 *
 * Then a periodic tick, as an OS's idle loop has it: the handler re-arms the timer (a new CVAL,
 * no trap) and the guest goes straight back to WFI; every tick must wake it, none may wait for the
 * backstop. On el2 with native WFI (HYP_EL2_NATIVE_WFI) this is what the EOI of the timer's level
 * interrupt (a maintenance exit, where the backend unmasks the timer's physical PPI) must keep
 * working; the backend's second guard, WFI trapping while that PPI is masked, is not reached here
 * (the EOI always comes first).
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP);

#define VTIMER_PPI 27
#define PTIMER_PPI 30 /* the EL1 physical timer: a backstop wake-up */
#define CNTV_CTL_ENABLE (1u << 0)
#define CNTV_CTL_IMASK (1u << 1)
#define CNTV_CTL_ISTATUS (1u << 2)
#define DELAY_US 20000
#define PERIODIC_TICKS 8
#define PERIOD_US 5000
#define PERIODIC_MAX_LATE_US 500000 /* the backstop (3 s) is what a lost wake-up would wait for */

static volatile uint64_t fired, fired_at, ctl_at_fire, backstop;
static volatile uint64_t periodic, periodic_cval, periodic_late_max;
static volatile bool periodic_mode;

/* The periodic tick: note how late it came, re-arm it from its handler until the last. */
static void periodic_tick(void)
{
	uint64_t now = lht_counter(), late = now - periodic_cval;

	if (late > periodic_late_max)
		periodic_late_max = late;
	if (++periodic < PERIODIC_TICKS) {
		/* A CVAL in the future drops the timer's level: no mask, no CTL write. */
		periodic_cval = now + lht_us_to_ticks(PERIOD_US);
		write_sysreg(cntv_cval_el0, periodic_cval);
	} else {
		write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
	}
	isb();
}

static void irq(unsigned int cpu, uint32_t intid)
{
	(void)cpu;
	if (intid == PTIMER_PPI) {
		backstop++;
		write_sysreg(cntp_ctl_el0, CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
		isb();
		return;
	}
	if (intid != VTIMER_PPI) {
		lht_note("unexpected INTID", intid);
		return;
	}
	if (periodic_mode) {
		periodic_tick();
		return;
	}
	fired_at = lht_counter();
	ctl_at_fire = read_sysreg(cntv_ctl_el0);
	fired++;
	/* The timer output is level: mask it before EOI or it fires again at once. */
	write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
	isb();
}

/* The physical timer 3 s from now: the backstop. Its own counter (CNTPCT != CNTVCT), and CVAL:
 * TVAL is a signed 32-bit count, too small for 3 s at CNTFRQ 1 GHz (QEMU 9 and later). */
static void arm_backstop(void)
{
	isb();
	write_sysreg(cntp_cval_el0, read_sysreg(cntpct_el0) + lht_us_to_ticks(3000000));
	write_sysreg(cntp_ctl_el0, CNTV_CTL_ENABLE);
}

void guest_main(void)
{
	uint64_t freq = lht_freq(), cval, start, wfis = 0, t1, t2;

	lht_note("CNTFRQ_EL0", freq);
	lht_check_ne("CNTFRQ_EL0 is set", freq, 0);
	t1 = lht_counter();
	t2 = lht_counter();
	lht_check_ge("CNTVCT_EL0 does not go backwards", t2, t1);

	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(VTIMER_PPI);
	gic_enable_private(PTIMER_PPI);

	start = lht_counter();
	cval = start + lht_us_to_ticks(DELAY_US);
	/* A backstop: if the virtual timer's wake-up were lost, the WFI below would sleep until
	 * the watchdog; the physical timer 3 s later ends it, and the checks say what happened. */
	arm_backstop();
	write_sysreg(cntv_cval_el0, cval);
	write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE);
	isb();
	/* IRQs stay masked but for the window after each WFI (lht_wfi_masked()). */
	while (!fired && !backstop && lht_counter() < start + lht_us_to_ticks(2000000)) {
		lht_wfi_masked();
		wfis++;
	}
	write_sysreg(cntp_ctl_el0, 0);
	isb();
	lht_note("WFIs executed before the timer fired", wfis);
	if (!fired) {
		lht_note("the backstop (physical timer) ended the WFI", backstop);
		lht_check_depends(LHT_DEPENDS_VTIMER_WAKEUP);
		lht_check_eq("the virtual timer interrupt was taken once", fired, 1);
		return;
	}
	lht_check_eq("the virtual timer interrupt was taken once", fired, 1);
	lht_check_ge("not before CNTV_CVAL_EL0 (CNTVCT >= CVAL in the handler)", fired_at, cval);
	lht_check_eq("CNTV_CTL_EL0.ISTATUS was set when it fired",
		     (ctl_at_fire & CNTV_CTL_ISTATUS) != 0, 1);
	lht_check_le("the WFI was woken by the timer, not polled (at most a few WFIs)", wfis, 16);

	/* Disabled, it stays quiet. */
	write_sysreg(cntv_ctl_el0, 0);
	write_sysreg(cntv_cval_el0, lht_counter());
	isb();
	irq_enable();
	start = lht_counter();
	while (lht_counter() < start + lht_us_to_ticks(DELAY_US))
		;
	irq_disable();
	lht_check_eq("a disabled timer does not fire", fired, 1);

	/* The periodic tick, re-armed by its handler, each wait a WFI. */
	periodic_mode = true;
	start = lht_counter();
	arm_backstop();
	periodic_cval = start + lht_us_to_ticks(PERIOD_US);
	write_sysreg(cntv_cval_el0, periodic_cval);
	write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE);
	isb();
	while (periodic < PERIODIC_TICKS && !backstop &&
	       lht_counter() < start + lht_us_to_ticks(2500000))
		lht_wfi_masked();
	write_sysreg(cntp_ctl_el0, 0);
	write_sysreg(cntv_ctl_el0, 0);
	isb();
	lht_note("periodic ticks taken", periodic);
	lht_note("periodic tick: latest, in counter ticks after its CVAL", periodic_late_max);
	lht_check_eq("a timer re-armed from its own handler wakes each following WFI", periodic,
		     PERIODIC_TICKS);
	lht_check_le("each periodic tick came within 500 ms of its CVAL (not at the backstop)",
		     periodic_late_max, lht_us_to_ticks(PERIODIC_MAX_LATE_US));
}
