/* SPDX-License-Identifier: MIT */
/*
 * mem-unmapped: accesses to guest physical addresses where there is nothing.
 *
 * No memory and no registered MMIO range: the access must come out of hyp_vcpu_run() (or the
 * generic HYP_EXIT_MMIO callback) as a clean exit carrying the IPA, never be swallowed or crash the
 * VMM. The driver answers the lower half of the hole with an external data abort (what a bus with
 * nothing behind it does; only where the backend can inject one, LHT_CAP_INJECT_DABT) and the
 * upper half as read-as-zero / writes-ignored, and logs what it saw, which the guest reads back.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

#define SENTINEL 0x7777888899990000ull

static void expect_exit(const char *what, uint64_t before, uint64_t ipa, uint64_t len,
			bool is_write, uint64_t answer)
{
	char name[112];

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": one exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT), before + 1);
	lht_check_eq(NAME(": an MMIO exit"), lht_reg_read(LHT_REG_FOREIGN_TYPE), LHT_FOREIGN_MMIO);
	lht_check_eq(NAME(": with the IPA"), lht_reg_read(LHT_REG_FOREIGN_IPA), ipa);
	lht_check_eq(NAME(": with the size"), lht_reg_read(LHT_REG_FOREIGN_LEN), len);
	lht_check_eq(NAME(": in the right direction"), lht_reg_read(LHT_REG_FOREIGN_WRITE),
		     is_write);
	lht_check_eq(NAME(": answered as expected"), lht_reg_read(LHT_REG_FOREIGN_ANSWER), answer);
#undef NAME
}

static void expect_abort(const char *what, uint64_t addr, uint64_t insn)
{
	struct lht_abort ab = lht_abort_take();
	char name[112];

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": the guest took one data abort"), ab.count, 1);
	lht_check_eq(NAME(": ESR_EL1.EC = 0x25"), ESR_EC(ab.esr), ESR_EC_DABT_CUR);
	lht_check_eq(NAME(": ESR_EL1.DFSC = external abort"), ESR_DFSC(ab.esr), DFSC_SEA);
	lht_check_depends(LHT_DEPENDS_ESR_UPPER_CLEAR);
	lht_check_eq(NAME(": ESR_EL1[63:32] clear"), ab.esr >> 32, 0);
	lht_check_eq(NAME(": FAR_EL1 = the address"), ab.far, addr);
	lht_check_eq(NAME(": ELR_EL1 = the instruction"), ab.elr, insn);
#undef NAME
}

/* The lower half of the hole: the VMM answers with an external data abort. */
static void refused_accesses(void)
{
	uint64_t before, val, insn, addr;

	/* A read the VMM refuses: abort, destination untouched. */
	addr = LHT_HOLE_BASE + 0x100;
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_expect_abort();
	__asm__ volatile("mov %0, %2\n\t"
			 "adr %1, 1f\n"
			 "1:\tldr %0, [%3]"
			 : "=&r"(val), "=&r"(insn)
			 : "r"(SENTINEL), "r"(addr)
			 : "memory");
	expect_exit("LDR X from the hole", before, addr, 8, false, LHT_ANSWER_ABORT);
	expect_abort("LDR X from the hole", addr, insn);
	lht_check_eq("LDR X from the hole: destination untouched", val, SENTINEL);

	/* A write the VMM refuses. */
	addr = LHT_HOLE_BASE + 0x204;
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_expect_abort();
	__asm__ volatile("adr %0, 1f\n"
			 "1:\tstr %w1, [%2]"
			 : "=&r"(insn)
			 : "r"(0xcafe), "r"(addr)
			 : "memory");
	expect_exit("STR W to the hole", before, addr, 4, true, LHT_ANSWER_ABORT);
	expect_abort("STR W to the hole", addr, insn);
	lht_check_eq("STR W to the hole: data seen by the VMM", lht_reg_read(LHT_REG_FOREIGN_DATA),
		     0xcafe);
}

void guest_main(void)
{
	uint64_t before, val, addr;

	if (lht_caps() & LHT_CAP_INJECT_DABT)
		refused_accesses();
	else
		lht_skip("accesses the VMM refuses with an external abort",
			 "the backend cannot inject a data abort (HYP_CAP_INJECT_EXCEPTIONS)");

	/* Read-as-zero, write-ignored: the exit is completed and the guest just goes on. */
	addr = LHT_HOLE_RAZWI + 0x10;
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	__asm__ volatile("mov %0, %1\n\t"
			 "ldrh %w0, [%2]"
			 : "=&r"(val)
			 : "r"(SENTINEL), "r"(addr)
			 : "memory");
	expect_exit("LDRH from the RAZ/WI half", before, addr, 2, false, LHT_ANSWER_COMPLETED);
	lht_check_eq("LDRH from the RAZ/WI half: reads as zero (whole X register)", val, 0);

	addr = LHT_HOLE_RAZWI + 0x21;
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write8(addr, 0x5a);
	expect_exit("STRB to the RAZ/WI half", before, addr, 1, true, LHT_ANSWER_COMPLETED);
	lht_check_eq("STRB to the RAZ/WI half: data seen by the VMM",
		     lht_reg_read(LHT_REG_FOREIGN_DATA), 0x5a);

	/* The last doubleword of the hole: the IPA is reported exactly, not rounded. */
	addr = LHT_HOLE_BASE + LHT_HOLE_SIZE - 8;
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write64(addr, 0x1122334455667788ull);
	expect_exit("STR X at the end of the hole", before, addr, 8, true, LHT_ANSWER_COMPLETED);
}
