/* SPDX-License-Identifier: MIT */
/*
 * psci: the PSCI 1.1 calls that need no second CPU (Arm DEN 0022D, chapter 5), then SYSTEM_OFF.
 * The driver checks that the VM ended with HYP_SYSTEM_EVENT_OFF.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 2);

#define PSCI_CPU_SUSPEND_64 0xc4000001u
#define PSCI_UNASSIGNED 0x8400001fu /* inside the PSCI range, no function */
/* MIGRATE_INFO_TYPE: 2 = no Trusted OS, or one that needs no migration (DEN 0022D 5.9). */
#define PSCI_TOS_NOT_PRESENT_MP 2

static void feature(const char *name, uint32_t fid, int64_t want)
{
	lht_check_eq(name, (uint64_t)lht_psci(PSCI_FEATURES, fid, 0, 0), (uint64_t)want);
}

void guest_main(void)
{
	uint64_t self = lht_mpidr_aff(), other = lht_cfg_mpidr(1);

	lht_check_eq("PSCI_VERSION = 1.1", (uint64_t)lht_psci(PSCI_VERSION, 0, 0, 0), 0x10001);

	feature("PSCI_FEATURES(PSCI_VERSION) = SUCCESS", PSCI_VERSION, PSCI_SUCCESS);
	feature("PSCI_FEATURES(CPU_ON_64) = SUCCESS", PSCI_CPU_ON_64, PSCI_SUCCESS);
	feature("PSCI_FEATURES(CPU_OFF) = SUCCESS", PSCI_CPU_OFF, PSCI_SUCCESS);
	feature("PSCI_FEATURES(AFFINITY_INFO_64) = SUCCESS", PSCI_AFFINITY_INFO_64, PSCI_SUCCESS);
	feature("PSCI_FEATURES(SYSTEM_OFF) = SUCCESS", PSCI_SYSTEM_OFF, PSCI_SUCCESS);
	feature("PSCI_FEATURES(SYSTEM_RESET) = SUCCESS", PSCI_SYSTEM_RESET, PSCI_SUCCESS);
	feature("PSCI_FEATURES(MIGRATE_INFO_TYPE) = SUCCESS", PSCI_MIGRATE_INFO_TYPE, PSCI_SUCCESS);
	feature("PSCI_FEATURES(PSCI_FEATURES) = SUCCESS", PSCI_FEATURES, PSCI_SUCCESS);
	/* For CPU_SUSPEND the answer is a flags word: bit 1 = extended power_state format,
	 * bit 0 = OS-initiated mode; both 0 on every backend so far. */
	feature("PSCI_FEATURES(CPU_SUSPEND_64) = original format, no OSI", PSCI_CPU_SUSPEND_64, 0);
	feature("PSCI_FEATURES(unassigned PSCI ID) = NOT_SUPPORTED", PSCI_UNASSIGNED,
		PSCI_NOT_SUPPORTED);
	feature("PSCI_FEATURES(non-PSCI ID) = NOT_SUPPORTED", 0xc6000a11u, PSCI_NOT_SUPPORTED);

	lht_check_eq("MIGRATE_INFO_TYPE = 2 (no Trusted OS to migrate)",
		     (uint64_t)lht_psci(PSCI_MIGRATE_INFO_TYPE, 0, 0, 0), PSCI_TOS_NOT_PRESENT_MP);
	lht_check_eq("unassigned PSCI function returns NOT_SUPPORTED",
		     (uint64_t)lht_psci(PSCI_UNASSIGNED, 0, 0, 0), (uint64_t)PSCI_NOT_SUPPORTED);

	lht_check_eq("AFFINITY_INFO(self, level 0) = ON",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, self, 0, 0), PSCI_AFF_ON);
	lht_check_eq("AFFINITY_INFO(vCPU 1, never started) = OFF",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, other, 0, 0), PSCI_AFF_OFF);
	lht_check_eq("AFFINITY_INFO(no such CPU) = INVALID_PARAMETERS",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, 0xf0f0f, 0, 0),
		     (uint64_t)PSCI_INVALID_PARAMETERS);
	lht_check_eq("AFFINITY_INFO(self, level 4) = INVALID_PARAMETERS",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, self, 4, 0),
		     (uint64_t)PSCI_INVALID_PARAMETERS);

	lht_check_eq("CPU_ON(self) = ALREADY_ON",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, self, (uint64_t)lht_secondary_entry, 0),
		     (uint64_t)PSCI_ALREADY_ON);
	lht_check_eq("CPU_ON(no such CPU) = INVALID_PARAMETERS",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, 0xf0f0f, (uint64_t)lht_secondary_entry, 1),
		     (uint64_t)PSCI_INVALID_PARAMETERS);
	lht_check_eq("CPU_ON(MPIDR with non-affinity bits) = INVALID_PARAMETERS",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, other | (1ull << 31),
					(uint64_t)lht_secondary_entry, 1),
		     (uint64_t)PSCI_INVALID_PARAMETERS);
	lht_check_eq("AFFINITY_INFO(vCPU 1) still OFF after the refused CPU_ONs",
		     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, other, 0, 0), PSCI_AFF_OFF);
	/* Returning ends with lht_done(): PSCI SYSTEM_OFF; the driver checks the event type. */
}
