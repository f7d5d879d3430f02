/* SPDX-License-Identifier: MIT */
/*
 * cpu-sve: a VM given SVE (kvm: HYP_KVM_CPU_SVE, vector lengths up to LHT_SVE_MAX_VL bytes) has it:
 * ID_AA64PFR0_EL1.SVE = 1, SVE instructions execute once CPACR_EL1.ZEN allows them, the largest
 * vector length ZCR_EL1.LEN can ask for is the configured maximum, and the smallest, 128 bits, is
 * always there (Arm ARM "The Scalable Vector Extension", ZCR_EL1). RDVL/CNTB through an
 * .arch_extension directive; the guests are otherwise built for plain Armv8.0.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .cpu_features = LHT_FEAT_SVE);

#define CPACR_ZEN (3ull << 16)
#define CPACR_FPEN (3ull << 20)

static uint64_t rdvl(void)
{
	uint64_t vl;

	__asm__ volatile(".arch_extension sve\n\trdvl %0, #1" : "=r"(vl));
	return vl;
}

static uint64_t cntb(void)
{
	uint64_t n;

	__asm__ volatile(".arch_extension sve\n\tcntb %0" : "=r"(n));
	return n;
}

void guest_main(void)
{
	uint64_t pfr0 = read_sysreg(s3_0_c0_c4_0);

	lht_note("ID_AA64PFR0_EL1", pfr0);
	lht_check_eq("ID_AA64PFR0_EL1.SVE = 1", (pfr0 >> 32) & 0xf, 1);
	lht_note("ID_AA64ZFR0_EL1", read_sysreg(s3_0_c0_c4_4));

	write_sysreg(cpacr_el1, read_sysreg(cpacr_el1) | CPACR_ZEN | CPACR_FPEN);
	isb();
	/* ZCR_EL1.LEN = 0x1f: the longest the VM allows (Arm ARM: the effective length is the
	 * largest supported one not above the request). */
	write_sysreg(s3_0_c1_c2_0, 0x1f);
	isb();
	lht_check_eq("RDVL: the configured maximum vector length (bytes)", rdvl(), LHT_SVE_MAX_VL);
	lht_check_eq("CNTB agrees", cntb(), LHT_SVE_MAX_VL);
	write_sysreg(s3_0_c1_c2_0, 0);
	isb();
	lht_check_eq("ZCR_EL1.LEN = 0: 128-bit vectors", rdvl(), 16);
}
