/* SPDX-License-Identifier: MIT */
/*
 * Boot: the boot CPU (start.S, MMU already on) brings up the console, the allocator and the GIC,
 * starts the other CPUs with PSCI CPU_ON, runs the partitions (or the benchmark, FW_BENCH), prints
 * the result and powers the machine off with PSCI SYSTEM_OFF.
 */
#include <libhyp/hyp.h>

#include "harness.h"

#define SECONDARY_TIMEOUT_US 2000000u

void fw_main(void);
void fw_secondary_main(void);
void fw_secondary_entry(void);

static void cpu_init_self(void)
{
	struct fw_cpu *cpu = fw_this_cpu();
	int r;

	cpu->mpidr = read_sysreg(mpidr_el1) & MPIDR_AFF_MASK;
	cpu->index = fw_mpidr_to_index(cpu->mpidr);
	r = fw_gic_init_cpu();
	if (r)
		fw_panic("CPU %u: GICv3 CPU interface/redistributor setup failed (%d)", cpu->index,
			 r);
}

/* PSCI CPU_ON every other CPU QEMU has, up to @max, until it says there are no more. */
static void start_secondaries(unsigned int max)
{
	fw_nr_cpus = 1;
	for (unsigned int i = 1; i < FW_MAX_CPUS && i < max; i++) {
		/* The inverse of fw_mpidr_to_index(): Aff0 = i % 8, Aff1 = i / 8. */
		uint64_t mpidr = (i % 8) | ((uint64_t)(i / 8) << 8);
		int64_t r = fw_psci_call(PSCI_CPU_ON_64, mpidr,
					 (uint64_t)(uintptr_t)fw_secondary_entry, i);
		uint64_t deadline;

		if (r != 0)
			break; /* INVALID_PARAMETERS: no such CPU */
		deadline = fw_now() + fw_us_to_ticks(SECONDARY_TIMEOUT_US);
		while (!__atomic_load_n(&fw_cpus[i].online, __ATOMIC_ACQUIRE))
			if (fw_now() > deadline)
				fw_panic("CPU %u (MPIDR %#lx) did not come up after PSCI CPU_ON", i,
					 mpidr);
		fw_nr_cpus = i + 1;
	}
}

void fw_main(void)
{
	struct fw_cpu *cpu;
	unsigned int failed;

	memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
	fw_console_init();
	fw_pool_init();
	fw_printf("\nel2-firmware: libhyp %s, EL%lu, MIDR_EL1 %#lx, ID_AA64MMFR1_EL1 %#lx, "
		  "CNTFRQ %lu Hz, PSCI %#lx\n",
		  hyp_version_string(), (read_sysreg(CurrentEL) >> 2) & 3, read_sysreg(midr_el1),
		  read_sysreg(id_aa64mmfr1_el1), read_sysreg(cntfrq_el0),
		  (uint64_t)fw_psci_call(PSCI_VERSION, 0, 0, 0));
	fw_gic_init_dist();
	cpu_init_self();
	cpu = fw_this_cpu();
	__atomic_store_n(&cpu->online, 1, __ATOMIC_RELEASE);
	fw_printf("el2-firmware: GICv3 up, ICH_VTR_EL2 %#lx; EL2 MMU on (SCTLR_EL2 %#lx)\n",
		  read_sysreg(ich_vtr_el2), read_sysreg(sctlr_el2));

#ifdef FW_BENCH
	/* Two CPUs only, the second for the SGI round trip: a CPU with nothing to run sleeps in
	 * WFI, and under -icount a sleeping CPU executes no instruction, so the count still means
	 * one path (ARCHITECTURE.md, "Measuring speed honestly"). */
	start_secondaries(2);
#else
	start_secondaries(FW_MAX_CPUS);
#endif
	fw_printf("el2-firmware: %u CPUs online\n", fw_nr_cpus);
	failed = fw_harness_run();
	for (unsigned int i = 0; i < fw_nr_cpus; i++)
		fw_printf("# CPU %u: %lu kick SGIs (besides those libhyp took itself), %lu timer "
			  "interrupts, %lu other interrupts\n",
			  i, fw_cpus[i].irqs_kick, fw_cpus[i].irqs_timer, fw_cpus[i].irqs_other);
	fw_printf("el2-firmware: %s; powering off (PSCI SYSTEM_OFF)\n",
		  failed ? "FAILURES" : "all passed");
	fw_system_off();
}

void fw_secondary_main(void)
{
	cpu_init_self();
	__atomic_store_n(&fw_this_cpu()->online, 1, __ATOMIC_RELEASE);
	fw_cpu_loop();
}
