/* SPDX-License-Identifier: MIT */
/*
 * hostile-sibling-spin: vCPU 1 spins forever with interrupts masked (it never exits on its own)
 * while vCPU 0 finishes with PSCI SYSTEM_OFF. The system event must still reach vCPU 1: libhyp
 * kicks it, the platform's kick_cpu sends an SGI to its physical CPU, and its hyp_vcpu_run()
 * returns HYP_EXIT_SYSTEM_EVENT long before the watchdog (timeout 2 s) would have to.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 2, .timeout_ms = 2000);

static volatile uint64_t spinning;

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)cpu;
	(void)context_id;
	__atomic_store_n(&spinning, 1, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

void guest_main(void)
{
	lht_check_eq("CPU_ON(vCPU 1)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	lht_check_true("vCPU 1 is spinning", lht_wait_eq(&spinning, 1, 1000000));
	/* Returning powers the VM off with vCPU 1 still spinning. */
}
