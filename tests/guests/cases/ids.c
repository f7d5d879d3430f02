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
