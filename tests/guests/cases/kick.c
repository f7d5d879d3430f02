/* SPDX-License-Identifier: MIT */
/*
 * kick: a vCPU that never exits on its own must still be stoppable. After arming, the guest spins
 * on a flag in RAM with no MMIO, no HVC, no WFI: from the hypervisor's point of view it runs
 * forever. Only hyp_vcpu_kick(), called by the driver from another thread LHT_KICK_DELAY_MS
 * later, can make hyp_vcpu_run() return (HYP_EXIT_KICKED); the driver then sets the flag with
 * hyp_vm_write_guest() and resumes the vCPU, which must carry on exactly where it was.
 * The driver reports the kick itself as a check.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

static volatile uint64_t flag;

void guest_main(void)
{
	uint64_t start, spins = 0, elapsed_us;

	lht_reg_write(LHT_REG_KICK_ARM, (uint64_t)&flag);
	lht_check_eq("the VMM armed the kick", lht_reg_read(LHT_REG_STATUS), 0);
	start = lht_counter();
	while (!__atomic_load_n(&flag, __ATOMIC_ACQUIRE))
		spins++;
	elapsed_us = (lht_counter() - start) * 1000000 / lht_freq();
	lht_note("spins", spins);
	lht_note("microseconds spent spinning", elapsed_us);
	lht_check_eq("resumed after the kick with the flag the VMM set", flag, 1);
	/* The kick came LHT_KICK_DELAY_MS after arming; allow for a coarse clock. */
	lht_check_ge("spun until the kick (at least half the kick delay)", elapsed_us,
		     LHT_KICK_DELAY_MS * 1000 / 2);
}
