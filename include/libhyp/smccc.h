/* SPDX-License-Identifier: MIT */
/*
 * SMC Calling Convention (Arm DEN 0028) and PSCI (Arm DEN 0022) constants.
 */
#ifndef LIBHYP_SMCCC_H
#define LIBHYP_SMCCC_H

#include <libhyp/types.h>

/* Function identifier fields (SMCCC section 2.5). */
#define HYP_SMCCC_FAST_CALL (1u << 31)
#define HYP_SMCCC_64BIT (1u << 30)
#define HYP_SMCCC_OWNER(fid) (((fid) >> 24) & 0x3fu)
#define HYP_SMCCC_FUNC_NUM(fid) ((fid)&0xffffu)

/* Owning entity numbers. */
#define HYP_SMCCC_OWNER_ARCH 0u
#define HYP_SMCCC_OWNER_CPU 1u
#define HYP_SMCCC_OWNER_SIP 2u
#define HYP_SMCCC_OWNER_OEM 3u
#define HYP_SMCCC_OWNER_STANDARD 4u
#define HYP_SMCCC_OWNER_STANDARD_HYP 5u
#define HYP_SMCCC_OWNER_VENDOR_HYP 6u

/* Return codes (x0). */
#define HYP_SMCCC_SUCCESS 0
#define HYP_SMCCC_NOT_SUPPORTED (-1)
#define HYP_SMCCC_NOT_REQUIRED (-2)
#define HYP_SMCCC_INVALID_PARAMETER (-3)

/* Arm architecture calls. */
#define HYP_SMCCC_VERSION 0x80000000u
#define HYP_SMCCC_ARCH_FEATURES 0x80000001u
#define HYP_SMCCC_ARCH_SOC_ID 0x80000002u
#define HYP_SMCCC_ARCH_WORKAROUND_1 0x80008000u
#define HYP_SMCCC_ARCH_WORKAROUND_2 0x80007fffu
#define HYP_SMCCC_ARCH_WORKAROUND_3 0x80003fffu

/* PSCI function IDs (PSCI 1.1, section 5.1). 64-bit variants where both exist. */
#define HYP_PSCI_VERSION 0x84000000u
#define HYP_PSCI_CPU_SUSPEND_32 0x84000001u
#define HYP_PSCI_CPU_SUSPEND_64 0xc4000001u
#define HYP_PSCI_CPU_OFF 0x84000002u
#define HYP_PSCI_CPU_ON_32 0x84000003u
#define HYP_PSCI_CPU_ON_64 0xc4000003u
#define HYP_PSCI_AFFINITY_INFO_32 0x84000004u
#define HYP_PSCI_AFFINITY_INFO_64 0xc4000004u
#define HYP_PSCI_MIGRATE_32 0x84000005u
#define HYP_PSCI_MIGRATE_64 0xc4000005u
#define HYP_PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define HYP_PSCI_MIGRATE_INFO_UP_CPU_32 0x84000007u
#define HYP_PSCI_MIGRATE_INFO_UP_CPU_64 0xc4000007u
#define HYP_PSCI_SYSTEM_OFF 0x84000008u
#define HYP_PSCI_SYSTEM_RESET 0x84000009u
#define HYP_PSCI_FEATURES 0x8400000au
#define HYP_PSCI_SYSTEM_RESET2_32 0x84000012u
#define HYP_PSCI_SYSTEM_RESET2_64 0xc4000012u

/* The whole standard-service range PSCI lives in, for overriding it with a handler. */
#define HYP_PSCI_FID_FIRST_32 0x84000000u
#define HYP_PSCI_FID_LAST_32 0x8400001fu
#define HYP_PSCI_FID_FIRST_64 0xc4000000u
#define HYP_PSCI_FID_LAST_64 0xc400001fu

/* PSCI return codes. */
#define HYP_PSCI_SUCCESS 0
#define HYP_PSCI_NOT_SUPPORTED (-1)
#define HYP_PSCI_INVALID_PARAMETERS (-2)
#define HYP_PSCI_DENIED (-3)
#define HYP_PSCI_ALREADY_ON (-4)
#define HYP_PSCI_ON_PENDING (-5)
#define HYP_PSCI_INTERNAL_FAILURE (-6)
#define HYP_PSCI_NOT_PRESENT (-7)
#define HYP_PSCI_DISABLED (-8)
#define HYP_PSCI_INVALID_ADDRESS (-9)

/* AFFINITY_INFO results. */
#define HYP_PSCI_AFFINITY_ON 0
#define HYP_PSCI_AFFINITY_OFF 1
#define HYP_PSCI_AFFINITY_ON_PENDING 2

/* MIGRATE_INFO_TYPE result: no Trusted OS, migration not required. */
#define HYP_PSCI_TOS_NOT_PRESENT_MP 2

#endif /* LIBHYP_SMCCC_H */
