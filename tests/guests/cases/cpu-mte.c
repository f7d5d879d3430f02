/* SPDX-License-Identifier: MIT */
/*
 * cpu-mte: a VM given memory tagging (kvm: HYP_KVM_CPU_MTE) has it: ID_AA64PFR1_EL1.MTE >= 2
 * (FEAT_MTE2: tags in memory), and with RAM made Tagged Normal memory (MAIR attribute 0xF0),
 * SCTLR_EL1.ATA and synchronous tag checks (SCTLR_EL1.TCF = 1), STG sets a granule's allocation
 * tag, LDG reads it back, an access whose pointer carries that tag goes through, and one with
 * another tag takes a synchronous tag check fault: a data abort with DFSC 0x11 (Arm ARM D10,
 * "The Memory Tagging Extension").
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .cpu_features = LHT_FEAT_MTE);

#define SCTLR_TCF_SYNC (1ull << 40)
#define SCTLR_TCF_MASK (3ull << 40)
#define SCTLR_ATA (1ull << 43)
#define TCR_TBI0 (1ull << 37)
#define MAIR_ATTR1_TAGGED 0xf000ull /* Attr1, the RAM's (rt/start.S): Tagged Normal WB */
#define DFSC_TAG_CHECK 0x11

static uint8_t granules[64] __attribute__((aligned(16)));

static inline uint64_t with_tag(uint64_t p, uint64_t tag)
{
	return (p & ~(0xfull << 56)) | (tag << 56);
}

void guest_main(void)
{
	uint64_t pfr1 = read_sysreg(s3_0_c0_c4_1);
	uint64_t p = (uint64_t)&granules[16], got;
	struct lht_abort a;

	lht_note("ID_AA64PFR1_EL1", pfr1);
	lht_check_ge("ID_AA64PFR1_EL1.MTE >= 2 (allocation tags in memory)", (pfr1 >> 8) & 0xf, 2);

	write_sysreg(mair_el1, (read_sysreg(mair_el1) & ~0xff00ull) | MAIR_ATTR1_TAGGED);
	write_sysreg(tcr_el1, read_sysreg(tcr_el1) | TCR_TBI0);
	write_sysreg(sctlr_el1, (read_sysreg(sctlr_el1) & ~SCTLR_TCF_MASK) | SCTLR_ATA);
	isb();
	__asm__ volatile("tlbi vmalle1\n\tdsb nsh\n\tisb" ::: "memory");

	/* Tag 3 on the granule, read back with LDG. */
	__asm__ volatile(".arch armv8.5-a+memtag\n\tstg %0, [%0]" ::"r"(with_tag(p, 3)) : "memory");
	got = p;
	__asm__ volatile(".arch armv8.5-a+memtag\n\tldg %0, [%1]" : "+r"(got) : "r"(p) : "memory");
	lht_check_eq("LDG reads back the tag STG set", (got >> 56) & 0xf, 3);

	write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) | SCTLR_TCF_SYNC);
	isb();
	lht_check_eq("a load with the matching tag goes through",
		     *(volatile uint8_t *)with_tag(p, 3), 0);
	lht_expect_abort();
	(void)*(volatile uint8_t *)with_tag(p, 5);
	a = lht_abort_take();
	lht_check_eq("a load with another tag faults", a.count, 1);
	lht_check_eq("... a synchronous tag check fault (DFSC 0x11)", ESR_DFSC(a.esr),
		     DFSC_TAG_CHECK);
	write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) & ~SCTLR_TCF_MASK);
	isb();
	lht_check_eq("with tag checks off the same load goes through",
		     *(volatile uint8_t *)with_tag(p, 5), 0);
}
