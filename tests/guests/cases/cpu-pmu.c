/* SPDX-License-Identifier: MIT */
/*
 * cpu-pmu: a VM given a PMUv3 (kvm: HYP_KVM_CPU_PMU) has one that works: ID_AA64DFR0_EL1.PMUVer
 * says so, and the cycle counter PMCCNTR_EL0 counts while enabled (PMCR_EL0.E and
 * PMCNTENSET_EL0.C) and stands still while disabled (Arm ARM D13, "The Performance Monitors
 * Extension"). Register names are the generic S3_3_C9_... encodings so no assembler extension is
 * needed. Skipped, with the reason, where the backend or the host cannot give a PMU.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .cpu_features = LHT_FEAT_PMU);

#define PMCR_E (1u << 0)
#define PMCR_C (1u << 2) /* reset the cycle counter */
#define PMCR_LC (1u << 6)
#define PMCNTEN_C (1u << 31)

static void spin(unsigned int n)
{
	for (volatile unsigned int i = 0; i < n; i++)
		;
}

static uint64_t cycles(void)
{
	isb();
	return read_sysreg(s3_3_c9_c13_0); /* PMCCNTR_EL0 */
}

void guest_main(void)
{
	uint64_t dfr0 = read_sysreg(s3_0_c0_c5_0), c0, c1, c2, c3;
	uint64_t pmuver = (dfr0 >> 8) & 0xf;

	lht_note("ID_AA64DFR0_EL1", dfr0);
	lht_check_ne("ID_AA64DFR0_EL1.PMUVer: a PMU is implemented", pmuver, 0);
	lht_check_ne("ID_AA64DFR0_EL1.PMUVer: ... an architected one", pmuver, 0xf);

	write_sysreg(s3_3_c14_c15_7, 0); /* PMCCFILTR_EL0: count at EL0 and EL1 */
	write_sysreg(s3_3_c9_c12_0, PMCR_E | PMCR_C | PMCR_LC); /* PMCR_EL0 */
	write_sysreg(s3_3_c9_c12_1, PMCNTEN_C);			/* PMCNTENSET_EL0 */
	isb();
	c0 = cycles();
	spin(100000);
	c1 = cycles();
	lht_note("cycles counted over 100,000 loop iterations", c1 - c0);
	lht_check_ge("PMCCNTR_EL0 counts while enabled", c1, c0 + 1000);

	write_sysreg(s3_3_c9_c12_2, PMCNTEN_C); /* PMCNTENCLR_EL0 */
	isb();
	c2 = cycles();
	spin(100000);
	c3 = cycles();
	lht_check_eq("PMCCNTR_EL0 stands still while disabled", c3, c2);
	lht_check_ge("... keeping what it had counted", c2, c1);
}
