/* SPDX-License-Identifier: MIT */
/*
 * storm-beside: a partition that storms its VMM while another partition works (the Linux
 * partition's test, examples/el2-firmware/config.c): vCPU 0 reads a register of the test device
 * in a loop (every read is an MMIO exit the VMM answers), vCPU 1 sends itself an SGI in a loop and
 * takes each one (a trapped ICC_SGI1R_EL1 write, an interrupt to deliver, an EOI). It goes on
 * until the firmware's phase (LHT_EL2_REG_HOST_PHASE) reaches STORM_UNTIL_PHASE, i.e. for Linux's
 * whole first boot, so that boot is what shows the storm stalls nothing beside it; then it
 * reports how much it did.
 */
#include "rt/rt.h"

#include "el2-lht.h"
#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 2, .flags = LHT_F_NEEDS_IRQCHIP, .timeout_ms = 600000);

/* linux.c: phase n while Linux's boot n runs. */
#define STORM_UNTIL_PHASE 2u
#define STORM_SGI 3u
/* The phase is read once per this many iterations (it is an MMIO exit too). */
#define STORM_BATCH 256u

static volatile uint64_t sgis_taken, sgis_sent, secondary_done, stop;

static void irq(unsigned int cpu, uint32_t intid)
{
	if (cpu == 1 && intid == STORM_SGI)
		sgis_taken++;
}

static bool storm_over(void)
{
	uint64_t phase = lht_reg_read(LHT_EL2_REG_HOST_PHASE);

	return phase >= STORM_UNTIL_PHASE || __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)context_id;
	if (cpu != 1 || !gic_cpu_init()) {
		__atomic_store_n(&secondary_done, 2, __ATOMIC_RELEASE);
		return;
	}
	gic_enable_private(STORM_SGI);
	irq_enable();
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		gic_send_sgi(STORM_SGI, lht_cfg_mpidr(1));
		sgis_sent++;
		/* Taken as soon as IRQs are unmasked: the trapped write made it pending. */
	}
	irq_disable();
	__atomic_store_n(&secondary_done, 1, __ATOMIC_RELEASE);
}

void guest_main(void)
{
	uint64_t reads = 0, t0, ticks;

	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled", gic_dist_init());
	lht_check_true("vCPU 0: redistributor awake, CPU interface on", gic_cpu_init());
	lht_check_eq("CPU_ON(vCPU 1)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	t0 = lht_counter();
	while (!storm_over())
		for (unsigned int i = 0; i < STORM_BATCH; i++, reads++)
			(void)lht_reg_read(LHT_REG_SCRATCH_COUNT);
	ticks = lht_counter() - t0;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	lht_check_true("vCPU 1 stopped storming", lht_wait_eq(&secondary_done, 1, 5000000));
	lht_note("storm: counter ticks it lasted", ticks);
	lht_note("storm: MMIO reads (exits) by vCPU 0", reads);
	lht_note("storm: SGIs vCPU 1 sent itself", sgis_sent);
	lht_note("storm: SGIs vCPU 1 took", sgis_taken);
	lht_check_true("vCPU 0 stormed (over 10,000 MMIO exits)", reads > 10000);
	lht_check_true("vCPU 1 stormed (over 1,000 SGIs taken)", sgis_taken > 1000);
	/* Every SGI sent is taken: pending once more while pending merges, so at least one per
	 * write that found it inactive; never more than were sent. */
	lht_check_true("no SGI taken that was not sent", sgis_taken <= sgis_sent);
}
