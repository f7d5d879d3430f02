/* SPDX-License-Identifier: MIT */
/*
 * lib/trap/iss.h: the small register helpers the decoder (decode.c) and its in-line fast path
 * (fast.h) share. Internal to lib/trap and the code that includes fast.h. The field layouts they
 * use are lib/common/arm64.h's.
 */
#ifndef HYP_TRAP_ISS_H
#define HYP_TRAP_ISS_H

#include <stdbool.h>
#include <stdint.h>

#include <libhyp/backend.h>

#include "arm64.h"

/* For the exit fast path: functions that must fold into their caller, whatever the number of
 * call sites (trap/fast.h, fast-exit.h). */
#define HYP_ALWAYS_INLINE inline __attribute__((always_inline))

/* Bytes of the trapped instruction: ESR_EL2.IL = 0 only for a 16-bit T32 instruction. */
static inline uint8_t insn_len(uint32_t il)
{
	return il ? 4 : 2;
}

/* The value of general-purpose register @n as an operand: 31 is XZR/WZR in every form we decode
 * (a load/store transfer register, an MSR/MRS Rt), never SP, and reads as zero. */
static inline uint64_t gpr_read(const struct hyp_gp_regs *regs, uint32_t n)
{
	return n < 31 ? regs->x[n] : 0;
}

/* Write register @n as a destination: writes to XZR/WZR are discarded. */
static inline void gpr_write(struct hyp_gp_regs *regs, uint32_t n, uint64_t value)
{
	if (n < 31)
		regs->x[n] = value;
}

/* The low @len bytes of @value. Any @len is defined: 0 gives 0, 8 or more the whole value. */
static inline uint64_t truncate_bytes(uint64_t value, uint32_t len)
{
	if (len >= 8)
		return value;
	return value & ((UINT64_C(1) << (len * 8)) - 1);
}

/* The IPA of a stage-2 abort: the page from HPFAR_EL2.FIPA, the offset in it from FAR_EL2 (see
 * hyp_trap_fault_ipa()). */
static inline hyp_ipa_t fault_ipa(uint64_t hpfar, uint64_t far)
{
	return (((hpfar >> HPFAR_FIPA_SHIFT) & HPFAR_FIPA_MASK) << 12) | (far & PAGE_OFFSET_MASK);
}

#endif /* HYP_TRAP_ISS_H */
