/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared by the files of lib/stage2 and nothing else.
 */
#ifndef HYP_STAGE2_S2_INTERNAL_H
#define HYP_STAGE2_S2_INTERNAL_H

#include "hyp_errno.h"
#include "stage2/stage2.h"

/* A broken invariant here is a library bug: trap, at EL2 and in the tests alike. */
#define s2_bug_on(cond)                                                                            \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			__builtin_trap();                                                          \
	} while (0)

#define S2_PAGE_SHIFT 12
#define S2_PAGE_SIZE (UINT64_C(1) << S2_PAGE_SHIFT)
#define S2_PTRS_PER_TABLE 512u
#define S2_MAX_LEVEL 3
#define S2_MAX_IPA_BITS 48

/* VTCR_EL2 fields. */
#define VTCR_T0SZ_MASK UINT64_C(0x3f)
#define VTCR_SL0_SHIFT 6
#define VTCR_SL0_MASK (UINT64_C(3) << VTCR_SL0_SHIFT)
#define VTCR_IRGN0_WBWA (UINT64_C(1) << 8)
#define VTCR_ORGN0_WBWA (UINT64_C(1) << 10)
#define VTCR_SH0_INNER (UINT64_C(3) << 12)
#define VTCR_TG0_SHIFT 14
#define VTCR_TG0_MASK (UINT64_C(3) << VTCR_TG0_SHIFT)
#define VTCR_TG0_4K (UINT64_C(0) << VTCR_TG0_SHIFT)
#define VTCR_PS_SHIFT 16
#define VTCR_PS_MASK (UINT64_C(7) << VTCR_PS_SHIFT)
#define VTCR_VS (UINT64_C(1) << 19)
#define VTCR_RES1 (UINT64_C(1) << 31)

/* VTTBR_EL2: BADDR [47:1] (its low bits RES0 up to the root table's alignment), VMID [63:48]. */
#define VTTBR_BADDR_MASK UINT64_C(0x0000fffffffffffe)
#define VTTBR_VMID_SHIFT 48

/* Address bits below a descriptor at @level: 39, 30, 21, 12 for levels 0..3. */
static inline unsigned int s2_level_shift(int level)
{
	return S2_PAGE_SHIFT + 9u * (unsigned int)(S2_MAX_LEVEL - level);
}

static inline uint64_t s2_level_size(int level)
{
	return UINT64_C(1) << s2_level_shift(level);
}

/* Descriptors are read and written with single 64-bit accesses: the hardware walker (and a
 * concurrent software walk) must never see a torn descriptor. */
static inline uint64_t s2_read(const uint64_t *ptep)
{
	return __atomic_load_n(ptep, __ATOMIC_RELAXED);
}

/* 0b0000..0b0110 = 32, 36, 40, 42, 44, 48, 52 bits: ID_AA64MMFR0_EL1.PARange and VTCR_EL2.PS. */
static inline unsigned int s2_parange_bits(unsigned int parange)
{
	static const unsigned char bits[] = { 32, 36, 40, 42, 44, 48, 52 };

	return parange < sizeof(bits) ? bits[parange] : 0;
}

#endif /* HYP_STAGE2_S2_INTERNAL_H */
