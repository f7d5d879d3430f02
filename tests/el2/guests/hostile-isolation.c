/* SPDX-License-Identifier: MIT */
/*
 * hostile-isolation: a guest tries to reach what is not its own.
 *
 * The firmware tells it (el2-lht.h, LHT_EL2_REG_PROBE_*) the host physical addresses of the
 * other partitions' RAM and private pages, of its own RAM (which it may only see at its IPA),
 * the physical GIC distributor and PL011, and an IPA past the VM's IPA size. Each is read and
 * written as an IPA. None has a stage-2 mapping, so each access must leave the guest as an exit
 * the VMM answers with an external data abort (Arm ARM D17.2.40: EC 0x25, DFSC 0x10, FAR the
 * address): no data comes back (the destination register keeps its sentinel) and nothing is
 * written (the firmware checks every partition's private page afterwards).
 */
#include "rt/hostile.h"

LHT_GUEST(.nr_vcpus = 1);

#define SENTINEL 0x0123456789abcdefull
#define PATTERN 0xdeadbeefcafef00dull

static const char *const kind_names[LHT_EL2_PROBE_COUNT] = {
	[LHT_EL2_PROBE_OTHER_RAM] = "another partition's RAM",
	[LHT_EL2_PROBE_OTHER_PRIVATE] = "another partition's private page",
	[LHT_EL2_PROBE_OWN_RAM_PA] = "its own RAM by host PA",
	[LHT_EL2_PROBE_FW_TEXT] = "firmware code",
	[LHT_EL2_PROBE_FW_DATA] = "firmware data",
	[LHT_EL2_PROBE_FW_POOL] = "libhyp's pool",
	[LHT_EL2_PROBE_GICD] = "the physical GIC distributor",
	[LHT_EL2_PROBE_UART] = "the physical PL011",
	[LHT_EL2_PROBE_BEYOND_IPA] = "an IPA past the IPA size",
};

static void expect_refused(const char *what, const char *op, uint64_t ipa, uint64_t va,
			   uint64_t insn, uint64_t before, bool write)
{
	struct lht_abort ab = lht_abort_take();
	char name[160], prefix[112];

	lht_concat(prefix, sizeof(prefix), op, what);
#define NAME(s) lht_concat(name, sizeof(name), prefix, s)
	lht_check_eq(NAME(": the guest took one data abort"), ab.count, 1);
	lht_check_eq(NAME(": ESR_EL1.EC = 0x25, DFSC = external abort"),
		     (ESR_EC(ab.esr) << 8) | ESR_DFSC(ab.esr), (ESR_EC_DABT_CUR << 8) | DFSC_SEA);
	lht_check_eq(NAME(": FAR_EL1 = the virtual address"), ab.far, va);
	lht_check_eq(NAME(": ELR_EL1 = the instruction"), ab.elr, insn);
	lht_check_eq(NAME(": the VMM saw exactly one exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT),
		     before + 1);
	lht_check_eq(NAME(": ... at this IPA"), lht_reg_read(LHT_REG_FOREIGN_IPA), ipa);
	lht_check_eq(NAME(": ... in this direction"), lht_reg_read(LHT_REG_FOREIGN_WRITE), write);
	lht_check_eq(NAME(": ... and refused it with an abort"),
		     lht_reg_read(LHT_REG_FOREIGN_ANSWER), LHT_ANSWER_ABORT);
#undef NAME
}

static void probe(uint64_t kind, uint64_t ipa, uint64_t high)
{
	const char *what = kind < LHT_EL2_PROBE_COUNT && kind_names[kind] ? kind_names[kind] :
									    "an unnamed probe";
	uint64_t va = ipa, val, insn, before;
	char name[160];

	if (ipa >= high && ipa - high < (1ull << 30))
		va = HIGH_VA + (ipa - high);
	else if (ipa >= (2ull << 30)) {
		lht_skip(lht_concat(name, sizeof(name), "probe ", what),
			 "no stage-1 window for it");
		return;
	}
	lht_print_hex(lht_concat(name, sizeof(name), what, ": IPA "), ipa);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_expect_abort();
	__asm__ volatile("mov %0, %2\n\t"
			 "adr %1, 1f\n"
			 "1:\tldr %0, [%3]"
			 : "=&r"(val), "=&r"(insn)
			 : "r"(SENTINEL), "r"(va)
			 : "memory");
	expect_refused(what, "read of ", ipa, va, insn, before, false);
	lht_check_eq(lht_concat(name, sizeof(name), what, ": no data came back"), val, SENTINEL);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_expect_abort();
	__asm__ volatile("adr %0, 1f\n"
			 "1:\tstr %1, [%2]"
			 : "=&r"(insn)
			 : "r"(PATTERN), "r"(va)
			 : "memory");
	expect_refused(what, "write to ", ipa, va, insn, before, true);
}

void guest_main(void)
{
	uint64_t n = lht_reg_read(LHT_EL2_REG_PROBE_COUNT);
	uint64_t ipa_bits = lht_reg_read(LHT_EL2_REG_IPA_BITS);
	uint64_t high = ipa_bits >= 32 && ipa_bits < 48 ? 1ull << ipa_bits : 0;

	if (!(lht_caps() & LHT_CAP_INJECT_DABT)) {
		lht_skip("isolation probes", "the VMM cannot inject data aborts");
		return;
	}
	lht_note("partition", lht_reg_read(LHT_EL2_REG_PARTITION));
	lht_note("IPA bits", ipa_bits);
	lht_check_ge("the firmware gave us something to attack", n, 3);
	hostile_map(high);
	for (uint64_t i = 0; i < n && i < LHT_EL2_MAX_PROBES; i++)
		probe(lht_reg_read(LHT_EL2_REG_PROBE_KIND(i)),
		      lht_reg_read(LHT_EL2_REG_PROBE_ADDR(i)), high);
}
