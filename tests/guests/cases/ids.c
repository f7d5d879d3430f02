/* SPDX-License-Identifier: MIT */
/*
 * ids: the identification registers of the boot vCPU, which asks for a non-default affinity with
 * every field in use, Aff3 included (MPIDR_EL1, Arm ARM D17.2.101). It gets it where the backend
 * allows custom affinities (HYP_CAP_CUSTOM_MPIDR); elsewhere the driver checks the refusal and
 * gives it the default (0), and the same checks run against that.
 *
 * MPIDR_EL1 is what a guest OS keys everything per-CPU on: the device tree's cpu@N reg, PSCI
 * targets, GIC redistributor lookup (GICR_TYPER.Affinity_Value, IHI 0069 12.11.37) and SGI
 * routing. All of them must agree with what the VMM configured.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .mpidr = { 0x0a0b0cull | (0x02ull << 32) });

/*
 * The ID registers describe a CPU this VM can use: no SVE or SME (the driver never enables them;
 * el2 traps them with CPTR_EL2, KVM leaves them off unless asked), no PMU, pointer authentication
 * or MTE (not requested; el2 traps the first with HCR_EL2.API/APK, has no tags), but the
 * rest of the real CPU: AArch64 at EL0 and EL1, FP and Advanced SIMD. Generic names
 * (S3_0_C0_C<m>_<n>) so no assembler extension is needed.
 */
static void check_id_registers(void)
{
	uint64_t pfr0 = read_sysreg(s3_0_c0_c4_0), pfr1 = read_sysreg(s3_0_c0_c4_1);
	uint64_t zfr0 = read_sysreg(s3_0_c0_c4_4), smfr0 = read_sysreg(s3_0_c0_c4_5);
	uint64_t dfr0 = read_sysreg(s3_0_c0_c5_0), mmfr0 = read_sysreg(s3_0_c0_c7_0);
	uint64_t isar1 = read_sysreg(s3_0_c0_c6_1), isar2 = read_sysreg(s3_0_c0_c6_2);

	lht_note("ID_AA64PFR0_EL1", pfr0);
	lht_note("ID_AA64PFR1_EL1", pfr1);
	lht_note("ID_AA64DFR0_EL1", dfr0);
	lht_check_eq("ID_AA64PFR0_EL1.SVE = 0", (pfr0 >> 32) & 0xf, 0);
	lht_check_eq("ID_AA64PFR1_EL1.SME = 0", (pfr1 >> 24) & 0xf, 0);
	lht_check_eq("ID_AA64ZFR0_EL1 = 0", zfr0, 0);
	lht_check_eq("ID_AA64SMFR0_EL1 = 0", smfr0, 0);
	lht_check_eq("ID_AA64DFR0_EL1.PMUVer = 0 (no PMU asked for)", (dfr0 >> 8) & 0xf, 0);
	/* Pointer authentication and MTE: not asked for either (kvm), trapped (el2). */
	lht_note("ID_AA64ISAR1_EL1", isar1);
	lht_check_eq("ID_AA64ISAR1_EL1.{APA,API,GPA,GPI} = 0 (no pointer authentication)",
		     isar1 & 0xff000ff0ull, 0);
	lht_check_eq("ID_AA64ISAR2_EL1.{GPA3,APA3} = 0", isar2 & 0xff00ull, 0);
	lht_check_eq("ID_AA64PFR1_EL1.MTE = 0 (no memory tagging)", (pfr1 >> 8) & 0xf, 0);
	lht_check_ne("ID_AA64PFR0_EL1.EL1 says AArch64", (pfr0 >> 4) & 0xf, 0);
	lht_check_ne("ID_AA64PFR0_EL1.EL0 says AArch64", pfr0 & 0xf, 0);
	lht_check_ne("ID_AA64PFR0_EL1.FP is implemented", (pfr0 >> 16) & 0xf, 0xf);
	lht_check_ne("ID_AA64PFR0_EL1.AdvSIMD is implemented", (pfr0 >> 20) & 0xf, 0xf);
	lht_check_ne("ID_AA64MMFR0_EL1 describes the MMU", mmfr0, 0);
}

void guest_main(void)
{
	uint64_t mpidr = read_sysreg(mpidr_el1), midr = read_sysreg(midr_el1);

	lht_note("MPIDR_EL1", mpidr);
	lht_note("MIDR_EL1", midr);
	lht_note("configured affinity", lht_cfg_mpidr(0));
	if (lht_caps() & LHT_CAP_CUSTOM_MPIDR)
		lht_check_eq("the header's custom affinity is the configured one", lht_cfg_mpidr(0),
			     lht_header.mpidr[0]);
	lht_check_eq("MPIDR_EL1 affinity (Aff3..Aff0) = the configured one", mpidr & MPIDR_AFF_MASK,
		     lht_cfg_mpidr(0));
	lht_check_eq("MPIDR_EL1 bit 31 (RES1) is set", (mpidr >> 31) & 1, 1);
	lht_check_eq("MIDR_EL1 = what the VMM reads", midr, lht_reg_read(LHT_REG_MIDR));
	lht_check_ne("MIDR_EL1 is not zero", midr, 0);
	lht_check_eq("PSCI AFFINITY_INFO finds this CPU by its affinity",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, lht_cfg_mpidr(0), 0, 0),
		     PSCI_AFF_ON);
	lht_check_eq("PSCI CPU_ON by this affinity says ALREADY_ON",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(0),
					(uint64_t)lht_secondary_entry, 1),
		     (uint64_t)PSCI_ALREADY_ON);
	check_id_registers();
	if (lht_caps() & LHT_CAP_IRQCHIP) {
		lht_note("GICR_TYPER of the first redistributor",
			 mmio_read64(LHT_GICR_BASE + GICR_TYPER));
		lht_check_ne("the GIC has a redistributor with this affinity (GICR_TYPER)",
			     gic_redist(), 0);
	} else {
		lht_skip("the GIC has a redistributor with this affinity (GICR_TYPER)",
			 "no interrupt controller");
	}
}
