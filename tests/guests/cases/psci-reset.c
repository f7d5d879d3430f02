/* SPDX-License-Identifier: MIT */
/*
 * psci-reset: PSCI SYSTEM_RESET (Arm DEN 0022D 5.11) ends the VM with a reset request, which
 * the VMM must be able to tell apart from a power-off. The driver expects
 * HYP_SYSTEM_EVENT_RESET on every vCPU (LHT_F_EXPECT_RESET); vCPU 1 is running at the time,
 * so the event must reach a vCPU other than the caller too.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 2, .flags = LHT_F_EXPECT_RESET);

static volatile uint64_t secondary_up;

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)cpu;
	(void)context_id;
	__atomic_store_n(&secondary_up, 1, __ATOMIC_RELEASE);
	/* Stay busy in the guest until the reset takes the whole machine down. */
	for (;;)
		wfi();
}

void guest_main(void)
{
	lht_check_eq("CPU_ON(vCPU 1)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	lht_check_true("vCPU 1 came up", lht_wait_eq(&secondary_up, 1, 5000000));
	lht_reg_write(LHT_REG_EXIT, 0);
	lht_system_reset();
}
