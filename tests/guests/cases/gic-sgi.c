/* SPDX-License-Identifier: MIT */
/*
 * gic-sgi: software-generated interrupts between vCPUs through ICC_SGI1R_EL1 (IHI 0069 12.2.21),
 * addressed by affinity. vCPU 1 asks for a non-default affinity (Aff1 = 1, Aff0 = 3), so where the
 * backend allows it (HYP_CAP_CUSTOM_MPIDR) delivery only works if the GIC routes by the MPIDR the
 * vCPU has, not by its index. Elsewhere the driver gives it the default affinity; either way the
 * guest addresses each CPU by the affinity the driver says it configured (LHT_REG_MPIDR).
 *
 * vCPU 0 sends SGI 5 to vCPU 1; vCPU 1 answers with SGI 6 to vCPU 0. Each must arrive exactly
 * once, on the right CPU only.
 *
 * Then the same exchange PING_PONG_ROUNDS times, each vCPU asleep in WFI until the other's SGI
 * wakes it: a backend that loses one wake-up in a race between the sender and the sleeper (the
 * kick, the sleeper's last look at the GIC before WFI) hangs here, and the watchdog fails it.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 2, .flags = LHT_F_NEEDS_IRQCHIP, .mpidr = { [1] = 0x0103 });

#define SGI_PING 5
#define SGI_PONG 6
#define PING_PONG_ROUNDS 1000

static volatile uint64_t count[2][16];
static volatile uint64_t secondary_ready, secondary_checked, secondary_result;

static void irq(unsigned int cpu, uint32_t intid)
{
	if (cpu < 2 && intid < 16)
		count[cpu][intid]++;
}

/* Wait until @intid was taken @n times on @cpu or @us passed; called and returning with IRQs
 * unmasked. With @sleep, wait in WFI, which the interrupt must wake (checked and slept with IRQs
 * masked: lht_wfi_masked()); without, poll (WFI would never return if nothing comes). */
static bool wait_count(unsigned int cpu, uint32_t intid, uint64_t n, uint64_t us, bool sleep)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(us);

	if (sleep)
		irq_disable();
	while (count[cpu][intid] < n && lht_counter() < deadline)
		if (sleep)
			lht_wfi_masked();
	irq_enable();
	return count[cpu][intid] >= n;
}

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)context_id;
	/* PSCI CPU_ON reset this CPU: the configured affinity must have survived it. */
	lht_check_eq("MPIDR_EL1 affinity = the configured one, after CPU_ON", lht_mpidr_aff(),
		     lht_cfg_mpidr(cpu));
	lht_check_true("vCPU 1: redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(SGI_PING);
	irq_enable();
	__atomic_store_n(&secondary_ready, 1, __ATOMIC_RELEASE);
	lht_check_true("SGI 5 from vCPU 0 arrived and woke WFI",
		       wait_count(1, SGI_PING, 1, 5000000, true));
	gic_send_sgi(SGI_PONG, lht_cfg_mpidr(0));
	/* Any duplicate would come now. */
	wait_count(1, SGI_PING, 2, 50000, false);
	lht_check_eq("SGI 5 arrived exactly once", count[1][SGI_PING], 1);
	__atomic_store_n(&secondary_checked, 1, __ATOMIC_RELEASE);

	for (uint64_t n = 2; n <= PING_PONG_ROUNDS + 1; n++) {
		if (!wait_count(1, SGI_PING, n, 2000000, true))
			break;
		gic_send_sgi(SGI_PONG, lht_cfg_mpidr(0));
	}
	lht_check_eq("ping-pong: every SGI 5 woke vCPU 1 from WFI, once", count[1][SGI_PING],
		     PING_PONG_ROUNDS + 1);
	irq_disable();
	__atomic_store_n(&secondary_result, 1, __ATOMIC_RELEASE);
}

void guest_main(void)
{
	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("vCPU 0: redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(SGI_PONG);
	gic_enable_private(SGI_PING); /* so a misrouted SGI 5 would be seen here */
	irq_enable();

	lht_note("configured affinity of vCPU 1", lht_cfg_mpidr(1));
	if (!(lht_caps() & LHT_CAP_CUSTOM_MPIDR))
		lht_puts("custom affinities refused by the backend (HYP_CAP_CUSTOM_MPIDR = 0): "
			 "routing by the default ones");
	lht_check_eq("CPU_ON(vCPU 1 by its configured affinity)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	lht_check_true("vCPU 1 ready", lht_wait_eq(&secondary_ready, 1, 5000000));
	/* Address vCPU 1 by its configured affinity (the device tree's cpu@1 reg): the GIC must
	 * route by it. */
	gic_send_sgi(SGI_PING, lht_cfg_mpidr(1));
	lht_check_true("SGI 6 from vCPU 1 arrived and woke WFI",
		       wait_count(0, SGI_PONG, 1, 5000000, true));
	lht_check_true("vCPU 1 checked for duplicates",
		       lht_wait_eq(&secondary_checked, 1, 5000000));
	lht_check_eq("SGI 6 arrived exactly once", count[0][SGI_PONG], 1);

	/* Each SGI 5 only after the last SGI 6: never one still pending, so none may merge. */
	for (uint64_t n = 2; n <= PING_PONG_ROUNDS + 1; n++) {
		gic_send_sgi(SGI_PING, lht_cfg_mpidr(1));
		if (!wait_count(0, SGI_PONG, n, 2000000, true))
			break;
	}
	lht_check_eq("ping-pong: every SGI 6 woke vCPU 0 from WFI, once", count[0][SGI_PONG],
		     PING_PONG_ROUNDS + 1);
	lht_check_true("vCPU 1 finished", lht_wait_eq(&secondary_result, 1, 5000000));
	lht_check_eq("SGI 5 was never delivered to vCPU 0", count[0][SGI_PING], 0);
	irq_disable();
}
