/* SPDX-License-Identifier: MIT */
/*
 * smp: bringing secondary vCPUs up and down with PSCI (Arm DEN 0022D 5.5 CPU_OFF, 5.6 CPU_ON,
 * 5.8 AFFINITY_INFO) and the identity each one sees.
 *
 * vCPU 2 asks for a non-default affinity (0x010203), which it gets where the backend allows custom
 * affinities (HYP_CAP_CUSTOM_MPIDR; elsewhere the driver checks the refusal and configures the
 * default). PSCI must find every vCPU by its configured affinity (LHT_REG_MPIDR), and the vCPU must
 * read it in MPIDR_EL1 once started, PSCI CPU_ON's reset notwithstanding (Arm ARM D17.2.101:
 * Aff3 [39:32], Aff2..Aff0 [23:0]; bit 31 is RES1). Every vCPU also compares MIDR_EL1 with what
 * the VMM reads for it.
 *
 * Then vCPU 1 is turned off and on again: a CPU restarted by CPU_ON begins afresh at the new
 * entry point with the new context id (DEN 0022D 6.4), not where it stopped.
 */
#include "rt/rt.h"

#define NR 4
LHT_GUEST(.nr_vcpus = NR, .mpidr = { [2] = 0x010203 });

/* What each secondary saw; written by it, read by vCPU 0. */
static struct {
	volatile uint64_t context; /* the context id it started with, 0 until it runs */
	volatile uint64_t go_off;  /* vCPU 0 sets the round after which it may turn off */
} cpu[NR];

static bool wait_affinity(uint64_t mpidr, int64_t want)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(5000000);

	while (lht_psci(PSCI_AFFINITY_INFO_64, mpidr, 0, 0) != want)
		if (lht_counter() > deadline)
			return false;
	return true;
}

static void identity_checks(unsigned int index)
{
	uint64_t mpidr = read_sysreg(mpidr_el1);

	/* A secondary was reset by PSCI CPU_ON: its configured affinity must have survived. */
	lht_check_eq("MPIDR_EL1 affinity = the one the VMM configured", mpidr & MPIDR_AFF_MASK,
		     lht_cfg_mpidr(index));
	lht_check_eq("MPIDR_EL1 bit 31 (RES1) is set", (mpidr >> 31) & 1, 1);
	lht_check_eq("the test device sees this vCPU's index", lht_reg_read(LHT_REG_VCPU_INDEX),
		     index);
	lht_check_eq("MIDR_EL1 = what the VMM reads for this vCPU", read_sysreg(midr_el1),
		     lht_reg_read(LHT_REG_MIDR));
}

void guest_secondary(unsigned int index, uint64_t context_id)
{
	uint64_t round = context_id >> 8;

	identity_checks(index);
	__atomic_store_n(&cpu[index].context, context_id, __ATOMIC_RELEASE);
	/* Wait for permission to turn off, then return: the runtime calls CPU_OFF. */
	while (__atomic_load_n(&cpu[index].go_off, __ATOMIC_ACQUIRE) < round)
		;
}

/* Check names with the vCPU number in them. */
static const char *cpu_name(char *buf, const char *what, unsigned int i)
{
	return lht_concat(buf, 96, what, (const char[]){ (char)('0' + i), 0 });
}

static void start(unsigned int i, uint64_t round)
{
	uint64_t mpidr = lht_cfg_mpidr(i), ctx = i | (round << 8);
	char name[96];

	lht_check_eq(cpu_name(name, "AFFINITY_INFO before CPU_ON = OFF, vCPU ", i),
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, mpidr, 0, 0), PSCI_AFF_OFF);
	lht_check_eq(cpu_name(name, "CPU_ON = SUCCESS, vCPU ", i),
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, mpidr, (uint64_t)lht_secondary_entry, ctx),
		     PSCI_SUCCESS);
	lht_check_true(cpu_name(name, "started with our context id, vCPU ", i),
		       lht_wait_eq(&cpu[i].context, ctx, 5000000));
	/* PSCI must still know the CPU by the affinity it was configured with. */
	lht_check_eq(cpu_name(name, "AFFINITY_INFO once running = ON, vCPU ", i),
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, mpidr, 0, 0), PSCI_AFF_ON);
	lht_check_eq(cpu_name(name, "a second CPU_ON = ALREADY_ON, vCPU ", i),
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, mpidr, (uint64_t)lht_secondary_entry, ctx),
		     (uint64_t)PSCI_ALREADY_ON);
}

static void stop(unsigned int i, uint64_t round)
{
	char name[96];

	__atomic_store_n(&cpu[i].go_off, round, __ATOMIC_RELEASE);
	lht_check_true(cpu_name(name, "AFFINITY_INFO after CPU_OFF = OFF, vCPU ", i),
		       wait_affinity(lht_cfg_mpidr(i), PSCI_AFF_OFF));
}

void guest_main(void)
{
	lht_check_eq("the VMM created 4 vCPUs", lht_reg_read(LHT_REG_NR_VCPUS), NR);
	lht_note("configured affinity of vCPU 2", lht_cfg_mpidr(2));
	identity_checks(0);

	for (unsigned int i = 1; i < NR; i++)
		start(i, 1);
	for (unsigned int i = 1; i < NR; i++)
		stop(i, 1);

	/* Round 2: vCPU 1 again, with a new context id. */
	cpu[1].context = 0;
	start(1, 2);
	stop(1, 2);
}
