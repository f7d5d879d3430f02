/* SPDX-License-Identifier: MIT */
/*
 * mmio-sweep (hostile): every load/store form a guest can aim at a device, at every kind of
 * device address, with the MMU on and off. Nothing here may stop the VMM: each access either
 * completes or is answered with one synchronous exception the guest survives, and the guest must
 * reach its end (the driver's "ran to completion" line).
 *
 * Forms: LDP/STP, pre/post-index writeback, LDRSB, exclusives (LDXR/STXR/LDXP), atomics
 * (LDADD/CAS/SWPAL, FEAT_LSE), acquire/release (LDAPR/STLR), unprivileged (LDTR), SIMD&FP
 * (LDR Q post-index, LDP Q, LD1), cache maintenance (DC CIVAC), DC ZVA, PRFM.
 * Targets: the GIC distributor and redistributor (the backend's or the library's), the test
 * device's scratch window, the hole (the half the driver aborts and the half it reads as zero),
 * and the read-only page (stores to it are MMIO exits).
 *
 * The words are encoded with .inst: the guests build for ARMv8.0. X19/X20 are the transfer
 * registers, X21 the base; V0/V1 for the SIMD forms (FP is enabled for the sweep).
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_HOSTILE);

struct form {
	const char *name;
	uint32_t insn;
	bool lse; /* needs FEAT_LSE */
};

static const struct form forms[] = {
	{ "LDP X19, X20, [X21]", 0xa94052b3, false },
	{ "STP X19, X20, [X21], #16", 0xa88152b3, false },
	{ "LDR X19, [X21], #8", 0xf84086b3, false },
	{ "STR X19, [X21, #8]!", 0xf8008eb3, false },
	{ "LDRSB X19, [X21], #1", 0x388016b3, false },
	{ "LDXR X19, [X21]", 0xc85f7eb3, false },
	{ "STXR W20, X19, [X21]", 0xc8147eb3, false },
	{ "LDXP X19, X20, [X21]", 0xc87f52b3, false },
	{ "LDADD X19, X20, [X21]", 0xf83302b4, true },
	{ "CAS X19, X20, [X21]", 0xc8b37eb4, true },
	{ "SWPAL W19, W20, [X21]", 0xb8f382b4, true },
	{ "LDAPR X19, [X21]", 0xf8bfc2b3, false },
	{ "STLR X19, [X21]", 0xc89ffeb3, false },
	{ "LDTR X19, [X21]", 0xf8400ab3, false },
	{ "LDR Q0, [X21], #16", 0x3cc106a0, false },
	{ "LDP Q0, Q1, [X21]", 0xad4006a0, false },
	{ "LD1 {V0.2D}, [X21]", 0x4c407ea0, false },
	{ "DC CIVAC, X21", 0xd50b7e35, false },
	{ "DC ZVA, X21", 0xd50b7435, false },
	{ "PRFM PLDL1KEEP, [X21]", 0xf98002a0, false },
};

static const uint64_t targets[] = {
	LHT_GICD_BASE + 0x400,		 /* GICD_IPRIORITYR */
	LHT_GICR_BASE + 0x10000 + 0x400, /* GICR_IPRIORITYR0 (SGI_base frame) */
	LHT_SCRATCH_BASE + 0x100,
	LHT_HOLE_BASE + 0x100,	/* aborted by the driver */
	LHT_HOLE_RAZWI + 0x100, /* reads as zero */
	LHT_ROM_BASE + 0x100,	/* read-only memory (or a hole without it) */
};

/* The instruction is copied into this executable slot, followed by RET: one word per form. */
static uint32_t slot[2] __attribute__((aligned(64)));

extern char __bss_end[];

/* With the MMU off, data accesses are Device-nGnRnE and bypass the caches (Arm ARM D8.2.10): the
 * abort handler's view of the guest's data must not differ from what the cached side wrote, and
 * the cached side must not keep stale lines of what the handler wrote. Clean and invalidate the
 * whole image to the point of coherency around the MMU-off window. */
static void clean_invalidate_image(void)
{
	for (uint64_t a = LHT_RAM_BASE; a < (uint64_t)(uintptr_t)__bss_end; a += 64)
		__asm__ volatile("dc civac, %0" ::"r"(a) : "memory");
	dsb(sy);
}

/* Run the word in @slot with X21 = @addr; with @mmu_off, with SCTLR_EL1.M clear around it
 * (the code and stack are identity-mapped, so they stay where they are). */
static void run(uint64_t addr, bool mmu_off)
{
	if (mmu_off)
		clean_invalidate_image();
	__asm__ volatile("mov x21, %0\n\t"
			 "mov x19, #0x19\n\t"
			 "mov x20, #0x20\n\t"
			 "mrs x9, sctlr_el1\n\t"
			 "bic x10, x9, #1\n\t"
			 "cbz %1, 1f\n\t"
			 "msr sctlr_el1, x10\n\t"
			 "isb\n"
			 "1:\tblr %2\n\t"
			 "msr sctlr_el1, x9\n\t"
			 "isb"
			 :
			 : "r"(addr), "r"((uint64_t)mmu_off), "r"(slot)
			 : "x9", "x10", "x19", "x20", "x21", "x30", "memory");
	if (mmu_off)
		clean_invalidate_image();
}

static void install(uint32_t insn)
{
	slot[0] = insn;
	slot[1] = 0xd65f03c0; /* ret */
	/* New code: clean to the point of unification, invalidate the I-cache (Arm ARM
	 * B2.4.4, "Concurrent modification and execution of instructions"). */
	__asm__ volatile("dc cvau, %0\n\t"
			 "dsb ish\n\t"
			 "ic ivau, %0\n\t"
			 "dsb ish\n\t"
			 "isb" ::"r"(slot)
			 : "memory");
}

void guest_main(void)
{
	bool lse = ((read_sysreg(id_aa64isar0_el1) >> 20) & 0xf) >= 2;
	char name[128];

	/* FP/SIMD on for the SIMD forms (CPACR_EL1.FPEN = 0b11). */
	write_sysreg(cpacr_el1, read_sysreg(cpacr_el1) | (3ull << 20));
	isb();

	for (unsigned mmu = 0; mmu < 2; mmu++) {
		for (unsigned f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			uint64_t worst = 0;

			if (forms[f].lse && !lse) {
				lht_skip(forms[f].name, "no FEAT_LSE");
				continue;
			}
			install(forms[f].insn);
			for (unsigned t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
				struct lht_abort ab;

				lht_expect_abort();
				run(targets[t], mmu == 1);
				ab = lht_abort_take();
				if (ab.count > worst)
					worst = ab.count;
			}
			lht_check_le(
				lht_concat(name, sizeof(name), forms[f].name,
					   mmu ? ": MMU off: completes or one abort, everywhere" :
						 ": MMU on: completes or one abort, everywhere"),
				worst, 1);
		}
	}
}
