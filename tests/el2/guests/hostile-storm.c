/* SPDX-License-Identifier: MIT */
/*
 * hostile-storm: an exception storm. VBAR_EL1 points at an IPA with no memory (through a Normal,
 * executable stage-1 alias, so the fetch reaches stage 2), then the guest takes an exception:
 * every vector fetch is a stage-2 instruction abort, the VMM answers each with a prefetch abort,
 * whose vector fetch faults again. The exits never stop and each is handled inside
 * hyp_vcpu_run() (ARCHITECTURE.md pitfall, VBAR_EL1 with no RAM there). The watchdog's kick must
 * still end the run (FW_GUEST_EXPECT_TIMEOUT).
 */
#include "rt/hostile.h"

LHT_GUEST(.nr_vcpus = 1, .timeout_ms = 500);

void guest_main(void)
{
	hostile_map(0);
	lht_puts("VBAR_EL1 into the hole, then BRK");
	write_sysreg(vbar_el1, ALIAS_VA + LHT_HOLE_BASE);
	isb();
	__asm__ volatile("brk #0x42" ::: "memory");
	for (;;)
		;
}
