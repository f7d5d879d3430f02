/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the hostile guests (tests/el2/guests): extra stage-1 mappings that let the guest
 * reach IPAs its runtime's identity map does not cover, with the memory type it chooses, and a
 * way to survive exceptions the conformance runtime would call unexpected (rt/catch.S).
 */
#ifndef LHT_EL2_HOSTILE_H
#define LHT_EL2_HOSTILE_H

#include "rt/rt.h"

#include "el2-lht.h"

/* VA [2 GiB, 3 GiB) -> IPA [0, 1 GiB) as Normal write-back, executable memory: the device
 * window reached with accesses Device memory would refuse at stage 1 (unaligned, DC ZVA,
 * instruction fetches). */
#define ALIAS_VA 0x80000000ull
/* VA [3 GiB, 4 GiB) -> IPA [high, high + 1 GiB) (hostile_map()), Device-nGnRnE. */
#define HIGH_VA 0xc0000000ull

/* Stage-1 level 1 block descriptors as rt/start.S writes them (Arm ARM D8.3.1). */
#define S1_BLOCK_NORMAL ((1ull << 10) | (3ull << 8) | (1ull << 2) | 1)
#define S1_BLOCK_DEVICE_XN ((1ull << 10) | (3ull << 53) | 1)

/* Add the two windows to the runtime's page table (found through TTBR0_EL1: the guest is
 * identity-mapped) and allow 48-bit output addresses (TCR_EL1.IPS = 0b101). @high must be
 * 1 GiB aligned. */
static inline void hostile_map(uint64_t high)
{
	uint64_t *l1 = (uint64_t *)(uintptr_t)(read_sysreg(ttbr0_el1) & 0x0000fffffffff000ull);
	uint64_t tcr = read_sysreg(tcr_el1);

	l1[2] = 0 | S1_BLOCK_NORMAL;
	l1[3] = high ? (high | S1_BLOCK_DEVICE_XN) : 0;
	write_sysreg(tcr_el1, (tcr & ~(7ull << 32)) | (5ull << 32));
	dsb(ishst);
	__asm__ volatile("tlbi vmalle1" ::: "memory");
	dsb(nsh);
	isb();
}

struct catch_rec {
	uint64_t esr, far, elr, count, resume;
};
extern volatile struct catch_rec catch_rec;
extern char catch_vectors[];
extern char lht_vectors[];

static inline void catch_on(void)
{
	catch_rec.count = 0;
	write_sysreg(vbar_el1, (uint64_t)(uintptr_t)catch_vectors);
	isb();
}

static inline void catch_off(void)
{
	write_sysreg(vbar_el1, (uint64_t)(uintptr_t)lht_vectors);
	isb();
}

/* Branch to @va; an exception there comes back here (catch_rec tells). */
static inline void catch_call(uint64_t va)
{
	__asm__ volatile("adr x17, 1f\n\t"
			 "str x17, [%0, #32]\n\t"
			 "blr %1\n"
			 "1:"
			 :
			 : "r"(&catch_rec), "r"(va)
			 : "x16", "x17", "x30", "memory");
}

/* SMC #0 with X0..X3; returns X0 (X1..X3 in @r). An UNDEF comes back here with X0 = @fid. */
static inline uint64_t catch_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t r[3])
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	__asm__ volatile("adr x17, 1f\n\t"
			 "str x17, [%4, #32]\n\t"
			 "smc #0\n"
			 "1:"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			 : "r"(&catch_rec)
			 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
			   "x15", "x16", "x17", "memory");
	r[0] = x1;
	r[1] = x2;
	r[2] = x3;
	return x0;
}

#endif /* LHT_EL2_HOSTILE_H */
