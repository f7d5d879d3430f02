/* SPDX-License-Identifier: MIT */
/*
 * wfit: WFIT (FEAT_WFxT, Arm ARM "WFIT"): a WFI that also ends once CNTVCT_EL0 reaches the value
 * of its register. Linux waits with it in its delay loops where the CPU has it. Where the
 * hypervisor traps WFI the wait is the hypervisor's to end: by the deadline with nothing pending,
 * at once for a deadline already passed, and early for an interrupt, as for WFI. A WFIT may also
 * end early for no reason (as WFI may), so each wait is a loop; what is checked is that it ends,
 * not late, and not by polling (a few WFITs, not thousands).
 *
 * Skipped where ID_AA64ISAR2_EL1.WFxT says the CPU has no WFIT (QEMU 7.2's -cpu max); QEMU 10
 * has it.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP);

#define VTIMER_PPI 27
#define CNTV_CTL_ENABLE (1u << 0)
#define CNTV_CTL_IMASK (1u << 1)
#define WAIT_US 10000
#define LATE_MAX_US 200000
#define WFITS_MAX 16

static volatile uint64_t fired;

static inline void wfit(uint64_t deadline)
{
	register uint64_t x0 __asm__("x0") = deadline;

	/* WFIT X0, as an instruction word: the guests are built for Armv8.0. */
	__asm__ volatile(".inst 0xd5031020" : : "r"(x0) : "memory");
}

/* WFIT until CNTVCT_EL0 reaches @deadline (or @stop is set), at most @max times: how many. */
static uint64_t wait_until(uint64_t deadline, const volatile uint64_t *stop, uint64_t max)
{
	uint64_t n = 0;

	while (lht_counter() < deadline && !(stop && *stop) && n < max) {
		wfit(deadline);
		n++;
	}
	return n;
}

static void irq(unsigned int cpu, uint32_t intid)
{
	(void)cpu;
	if (intid != VTIMER_PPI)
		return;
	fired++;
	/* Level: masked before the EOI or it fires again at once. */
	write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
	isb();
}

void guest_main(void)
{
	uint64_t isar2 = read_sysreg(s3_0_c0_c6_2), deadline, end, n;

	lht_note("ID_AA64ISAR2_EL1", isar2);
	if ((isar2 & 0xf) < 2) {
		lht_skip("WFIT", "the CPU has no FEAT_WFxT (ID_AA64ISAR2_EL1.WFxT = 0)");
		return;
	}

	/* Nothing pending, nothing armed: the timeout alone ends the wait. */
	deadline = lht_counter() + lht_us_to_ticks(WAIT_US);
	n = wait_until(deadline, NULL, 1000000);
	end = lht_counter();
	lht_note("WFITs to wait 10 ms", n);
	lht_check_ge("WFIT with nothing pending: the wait reaches its deadline", end, deadline);
	lht_check_le("...and ends within 200 ms of it", end - deadline,
		     lht_us_to_ticks(LATE_MAX_US));
	lht_check_le("...in a few WFITs, not a poll", n, WFITS_MAX);

	/* A deadline already passed: no wait at all. */
	deadline = lht_counter();
	wfit(deadline - 1);
	end = lht_counter();
	lht_check_le("WFIT with its deadline passed returns at once (within 10 ms)", end - deadline,
		     lht_us_to_ticks(10000));

	/* An interrupt ends it long before its deadline (2 s). */
	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(VTIMER_PPI);
	deadline = lht_counter() + lht_us_to_ticks(2000000);
	write_sysreg(cntv_cval_el0, lht_counter() + lht_us_to_ticks(WAIT_US));
	write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE);
	isb();
	irq_enable();
	n = wait_until(deadline, &fired, WFITS_MAX * 4);
	irq_disable();
	end = lht_counter();
	write_sysreg(cntv_ctl_el0, 0);
	isb();
	lht_check_eq("the virtual timer's interrupt was taken once", fired, 1);
	lht_check_le("...and ended the WFIT long before its 2 s deadline", end,
		     deadline - lht_us_to_ticks(1000000));
	lht_note("WFITs until the interrupt", n);
}
