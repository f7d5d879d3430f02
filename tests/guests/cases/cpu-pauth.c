/* SPDX-License-Identifier: MIT */
/*
 * cpu-pauth: a VM given pointer authentication (kvm: HYP_KVM_CPU_PTRAUTH) has it: the ID
 * registers advertise address authentication, and with a key set and SCTLR_EL1.EnIA on, PACIA
 * signs a pointer (its address bits unchanged, a code in the upper bits), AUTIA with the same
 * modifier gives the pointer back, and AUTIA of a corrupted pointer or with another modifier
 * fails: an authentication fault (EC 0x1C) with FEAT_FPAC, otherwise a pointer that is not the
 * original (Arm ARM D8.8, "Pointer authentication").
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .cpu_features = LHT_FEAT_PAUTH);

#define SCTLR_ENIA (1ull << 31)
#define EC_FPAC 0x1c

static uint64_t pacia(uint64_t ptr, uint64_t modifier)
{
	__asm__ volatile(".arch armv8.3-a\n\tpacia %0, %1" : "+r"(ptr) : "r"(modifier));
	return ptr;
}

static uint64_t autia(uint64_t ptr, uint64_t modifier)
{
	__asm__ volatile(".arch armv8.3-a\n\tautia %0, %1" : "+r"(ptr) : "r"(modifier));
	return ptr;
}

static uint64_t target;

/* AUTIA that must fail: with FPAC the fault, without it a pointer that is not @ptr. */
static void expect_failure(const char *what, uint64_t signed_ptr, uint64_t modifier, uint64_t ptr,
			   bool fpac)
{
	char name[112];

	if (fpac) {
		struct lht_abort a;

		lht_expect_exception(EC_FPAC);
		(void)autia(signed_ptr, modifier);
		a = lht_abort_take();
		lht_check_eq(lht_concat(name, sizeof(name), what,
					": an authentication fault (FPAC)"),
			     a.count, 1);
	} else {
		lht_check_ne(lht_concat(name, sizeof(name), what, ": AUTIA does not give it back"),
			     autia(signed_ptr, modifier), ptr);
	}
}

void guest_main(void)
{
	uint64_t isar1 = read_sysreg(s3_0_c0_c6_1), isar2 = read_sysreg(s3_0_c0_c6_2);
	uint64_t apa = (isar1 >> 4) & 0xf, api = (isar1 >> 8) & 0xf, apa3 = (isar2 >> 12) & 0xf;
	uint64_t ptr = (uint64_t)&target, modifier = 0x1234, signed_ptr;
	/* FEAT_FPAC is level 4 and up of whichever algorithm field is implemented. */
	bool fpac = apa >= 4 || api >= 4 || apa3 >= 4;

	lht_note("ID_AA64ISAR1_EL1", isar1);
	lht_note("ID_AA64ISAR2_EL1", isar2);
	lht_check_ne("address authentication is advertised (APA, API or APA3)", apa | api | apa3,
		     0);

	write_sysreg(s3_0_c2_c1_0, 0x0123456789abcdefull); /* APIAKEYLo_EL1 */
	write_sysreg(s3_0_c2_c1_1, 0xfedcba9876543210ull); /* APIAKEYHi_EL1 */
	write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) | SCTLR_ENIA);
	isb();

	signed_ptr = pacia(ptr, modifier);
	lht_note("signed pointer", signed_ptr);
	lht_check_ne("PACIA puts a code in the pointer", signed_ptr, ptr);
	lht_check_eq("... and keeps its address bits", signed_ptr & 0xffffffffull, ptr);
	lht_check_eq("AUTIA with the same modifier gives the pointer back",
		     autia(signed_ptr, modifier), ptr);
	expect_failure("another modifier", signed_ptr, modifier + 1, ptr, fpac);
	/* Flip one bit of the code (bit 50 is in it whatever the VA size up to 48 bits). */
	expect_failure("a corrupted pointer", signed_ptr ^ (1ull << 50), modifier, ptr, fpac);

	write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) & ~SCTLR_ENIA);
	isb();
	lht_check_eq("with EnIA clear PACIA leaves the pointer alone", pacia(ptr, modifier), ptr);
}
