/* SPDX-License-Identifier: MIT */
/*
 * hostile-spin: a guest that never exits. Interrupts masked, no MMIO, no HVC, no WFI: nothing
 * brings its CPU back to the hypervisor but a physical interrupt. The firmware's watchdog (the
 * EL2 timer of the CPU running it, LHT header timeout) must take the CPU back, and the
 * partition goes on with its next guest (FW_GUEST_EXPECT_TIMEOUT).
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .timeout_ms = 500);

void guest_main(void)
{
	lht_puts("spinning with interrupts masked, forever");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
