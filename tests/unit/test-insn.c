// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/trap/insn.c: A64 load/store decoding for the emulation of accesses without
 * an instruction syndrome.
 *
 * Each row is an instruction word as the GNU assembler (binutils 2.40, -march armv8.7-a with
 * LS64, MTE, PAuth and RCpc) encodes the instruction in the comment, and the fields the Arm ARM
 * (DDI 0487, C4.1.94 and the LDR/STR/LDP/STP/LDPSW/LDAR/LDAPR/LDAPUR pages) says it has. A second
 * test checks the classification of every word around each row (one bit flipped at a time)
 * against the encoding classes, and a third feeds random words: decoding never reads or writes
 * outside its arguments and always yields a self-consistent description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trap/insn.h"

#define E HYP_LDST_EMULATE
#define U HYP_LDST_UNEMULATABLE
#define N HYP_LDST_NOT_LDST
#define P HYP_LDST_PREFETCH

#define OFF HYP_ADDR_OFFSET
#define PRE HYP_ADDR_PRE_INDEX
#define POST HYP_ADDR_POST_INDEX
#define REG HYP_ADDR_REGISTER
#define LIT HYP_ADDR_LITERAL

struct row {
	uint32_t insn;
	const char *text;
	enum hyp_ldst_class cls;
	/* Expected fields (HYP_LDST_EMULATE rows only). */
	bool is_load, simd;
	uint8_t nregs, size;
	bool sign_extend, dest64;
	uint8_t rt, rt2, rn, addressing;
	int64_t imm;
	uint8_t rm, extend, shift;
	bool acq_rel, unpriv;
};

/* is_load simd nregs size sext dest64 rt rt2 rn addressing imm rm extend shift acqrel unpriv */
static const struct row rows[] = {
	{ 0xf9400041, "ldr x1, [x2]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, 0 },
	{ 0xb94ffc83, "ldr w3, [x4, #4092]", E, 1, 0, 1, 4, 0, 1, 3, 0, 4, OFF, 4092 },
	{ 0x397ffcc5, "ldrb w5, [x6, #4095]", E, 1, 0, 1, 1, 0, 1, 5, 0, 6, OFF, 4095 },
	{ 0x79400507, "ldrh w7, [x8, #2]", E, 1, 0, 1, 2, 0, 1, 7, 0, 8, OFF, 2 },
	{ 0x39800549, "ldrsb x9, [x10, #1]", E, 1, 0, 1, 1, 1, 1, 9, 0, 10, OFF, 1 },
	{ 0x39c00549, "ldrsb w9, [x10, #1]", E, 1, 0, 1, 1, 1, 0, 9, 0, 10, OFF, 1 },
	{ 0x79800d8b, "ldrsh x11, [x12, #6]", E, 1, 0, 1, 2, 1, 1, 11, 0, 12, OFF, 6 },
	{ 0x79c00d8b, "ldrsh w11, [x12, #6]", E, 1, 0, 1, 2, 1, 0, 11, 0, 12, OFF, 6 },
	{ 0xb98009cd, "ldrsw x13, [x14, #8]", E, 1, 0, 1, 4, 1, 1, 13, 0, 14, OFF, 8 },
	{ 0xf93fffef, "str x15, [sp, #32760]", E, 0, 0, 1, 8, 0, 1, 15, 0, 31, OFF, 32760 },
	{ 0x3900001f, "strb wzr, [x0]", E, 0, 0, 1, 1, 0, 1, 31, 0, 0, OFF, 0 },
	{ 0x79000841, "strh w1, [x2, #4]", E, 0, 0, 1, 2, 0, 1, 1, 0, 2, OFF, 4 },
	{ 0xb9000083, "str w3, [x4]", E, 0, 0, 1, 4, 0, 1, 3, 0, 4, OFF, 0 },
	{ 0xf8500041, "ldur x1, [x2, #-256]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, -256 },
	{ 0xb80ff083, "stur w3, [x4, #255]", E, 0, 0, 1, 4, 0, 1, 3, 0, 4, OFF, 255 },
	{ 0x38dff0c5, "ldursb w5, [x6, #-1]", E, 1, 0, 1, 1, 1, 0, 5, 0, 6, OFF, -1 },
	{ 0xf85f8441, "ldr x1, [x2], #-8", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, POST, -8 },
	{ 0xf8408c41, "ldr x1, [x2, #8]!", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, PRE, 8 },
	{ 0xb80ff483, "str w3, [x4], #255", E, 0, 0, 1, 4, 0, 1, 3, 0, 4, POST, 255 },
	{ 0x38100cc5, "strb w5, [x6, #-256]!", E, 0, 0, 1, 1, 0, 1, 5, 0, 6, PRE, -256 },
	{ 0x388016b3, "ldrsb x19, [x21], #1", E, 1, 0, 1, 1, 1, 1, 19, 0, 21, POST, 1 },
	{ 0xb8804420, "ldrsw x0, [x1], #4", E, 1, 0, 1, 4, 1, 1, 0, 0, 1, POST, 4 },
	{ 0xf8408841, "ldtr x1, [x2, #8]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, 8, .unpriv = 1 },
	{ 0x381ff883, "sttrb w3, [x4, #-1]", E, 0, 0, 1, 1, 0, 1, 3, 0, 4, OFF, -1, .unpriv = 1 },
	{ 0xf8636841, "ldr x1, [x2, x3]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, REG, 0, 3, 3, 0 },
	{ 0xf8637841, "ldr x1, [x2, x3, lsl #3]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, REG, 0, 3, 3, 3 },
	{ 0xb8634841, "ldr w1, [x2, w3, uxtw]", E, 1, 0, 1, 4, 0, 1, 1, 0, 2, REG, 0, 3, 2, 0 },
	{ 0xb863d841, "ldr w1, [x2, w3, sxtw #2]", E, 1, 0, 1, 4, 0, 1, 1, 0, 2, REG, 0, 3, 6, 2 },
	{ 0x7863f841, "ldrh w1, [x2, x3, sxtx #1]", E, 1, 0, 1, 2, 0, 1, 1, 0, 2, REG, 0, 3, 7, 1 },
	{ 0x38236841, "strb w1, [x2, x3]", E, 0, 0, 1, 1, 0, 1, 1, 0, 2, REG, 0, 3, 3, 0 },
	{ 0x38a34841, "ldrsb x1, [x2, w3, uxtw]", E, 1, 0, 1, 1, 1, 1, 1, 0, 2, REG, 0, 3, 2, 0 },
	{ 0xa94052b3, "ldp x19, x20, [x21]", E, 1, 0, 2, 8, 0, 1, 19, 20, 21, OFF, 0 },
	{ 0xa92052b3, "stp x19, x20, [x21, #-512]", E, 0, 0, 2, 8, 0, 1, 19, 20, 21, OFF, -512 },
	{ 0x295f8861, "ldp w1, w2, [x3, #252]", E, 1, 0, 2, 4, 0, 1, 1, 2, 3, OFF, 252 },
	{ 0xa8c17bfd, "ldp x29, x30, [sp], #16", E, 1, 0, 2, 8, 0, 1, 29, 30, 31, POST, 16 },
	{ 0xa9bf7bfd, "stp x29, x30, [sp, #-16]!", E, 0, 0, 2, 8, 0, 1, 29, 30, 31, PRE, -16 },
	{ 0x697f0861, "ldpsw x1, x2, [x3, #-8]", E, 1, 0, 2, 4, 1, 1, 1, 2, 3, OFF, -8 },
	{ 0x68c10861, "ldpsw x1, x2, [x3], #8", E, 1, 0, 2, 4, 1, 1, 1, 2, 3, POST, 8 },
	{ 0xa8410861, "ldnp x1, x2, [x3, #16]", E, 1, 0, 2, 8, 0, 1, 1, 2, 3, OFF, 16 },
	{ 0x28000861, "stnp w1, w2, [x3]", E, 0, 0, 2, 4, 0, 1, 1, 2, 3, OFF, 0 },
	{ 0xc8dffc41, "ldar x1, [x2]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x889ffc41, "stlr w1, [x2]", E, 0, 0, 1, 4, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x08dffc41, "ldarb w1, [x2]", E, 1, 0, 1, 1, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x489ffc41, "stlrh w1, [x2]", E, 0, 0, 1, 2, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0xf8bfc041, "ldapr x1, [x2]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x38bfc041, "ldaprb w1, [x2]", E, 1, 0, 1, 1, 0, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0xd95f8041, "ldapur x1, [x2, #-8]", E, 1, 0, 1, 8, 0, 1, 1, 0, 2, OFF, -8, .acq_rel = 1 },
	{ 0x99003041, "stlur w1, [x2, #3]", E, 0, 0, 1, 4, 0, 1, 1, 0, 2, OFF, 3, .acq_rel = 1 },
	{ 0x99800041, "ldapursw x1, [x2]", E, 1, 0, 1, 4, 1, 1, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x19c00041, "ldapursb w1, [x2]", E, 1, 0, 1, 1, 1, 0, 1, 0, 2, OFF, 0, .acq_rel = 1 },
	{ 0x3dc00020, "ldr q0, [x1]", E, 1, 1, 1, 16, 0, 1, 0, 0, 1, OFF, 0 },
	{ 0xfd400441, "ldr d1, [x2, #8]", E, 1, 1, 1, 8, 0, 1, 1, 0, 2, OFF, 8 },
	{ 0xbc004462, "str s2, [x3], #4", E, 0, 1, 1, 4, 0, 1, 2, 0, 3, POST, 4 },
	{ 0xad400420, "ldp q0, q1, [x1]", E, 1, 1, 2, 16, 0, 1, 0, 1, 1, OFF, 0 },
	{ 0x3c626820, "ldr b0, [x1, x2]", E, 1, 1, 1, 1, 0, 1, 0, 0, 1, REG, 0, 2, 3, 0 },
	/* Literal loads at 0x108 / 0x10c / 0x114 of the assembled section: PC-relative. */
	{ 0x58000041, "ldr x1, .+8", E, 1, 0, 1, 8, 0, 1, 1, 0, 0, LIT, 8 },
	{ 0x98ffffe1, "ldrsw x1, .-4", E, 1, 0, 1, 4, 1, 1, 1, 0, 0, LIT, -4 },
	{ 0x9c000101, "ldr q1, .+32", E, 1, 1, 1, 16, 0, 1, 1, 0, 0, LIT, 32 },
	{ 0xf9800020, "prfm pldl1keep, [x1]", P },
	{ 0xf89ff020, "prfum pldl1keep, [x1, #-1]", P },
	{ 0xd8000080, "prfm pldl1keep, .+16", P },
	{ 0xc85f7c41, "ldxr x1, [x2]", U },
	{ 0xc8037c41, "stxr w3, x1, [x2]", U },
	{ 0xc87f8861, "ldaxp x1, x2, [x3]", U },
	{ 0xc8a17c62, "cas x1, x2, [x3]", U },
	{ 0xf8210062, "ldadd x1, x2, [x3]", U },
	{ 0xb8218062, "swp w1, w2, [x3]", U },
	{ 0xf8200441, "ldraa x1, [x2]", U },
	{ 0x4c407020, "ld1 {v0.16b}, [x1]", U },
	{ 0x0d009020, "st1 {v0.s}[1], [x1]", U },
	{ 0x69000861, "stgp x1, x2, [x3]", U },
	{ 0xf83fd020, "ld64b x0, [x1]", U },
	{ 0xd50b7421, "dc zva, x1", N },
	{ 0xd50b7e21, "dc civac, x1", N },
	{ 0xd503201f, "nop", N },
	{ 0x8b030041, "add x1, x2, x3", N },
};

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct hyp_ldst l;
		enum hyp_ldst_class c;

		memset(&l, 0xa5, sizeof(l));
		c = hyp_trap_decode_ldst(r->insn, &l);
		if (c != r->cls)
			fail_msg("%s (%08x): class %d, expected %d", r->text, r->insn, c, r->cls);
		if (c != E)
			continue;
#define FIELD(f)                                                                                   \
	do {                                                                                       \
		if ((int64_t)l.f != (int64_t)r->f)                                                 \
			fail_msg("%s (%08x): " #f " = %lld, expected %lld", r->text, r->insn,      \
				 (long long)l.f, (long long)r->f);                                 \
	} while (0)
		FIELD(is_load);
		FIELD(simd);
		FIELD(nregs);
		FIELD(size);
		FIELD(sign_extend);
		FIELD(rt);
		FIELD(rn);
		FIELD(addressing);
		FIELD(imm);
		if (r->sign_extend)
			FIELD(dest64);
		if (r->nregs == 2)
			FIELD(rt2);
		if (r->addressing == REG) {
			FIELD(rm);
			FIELD(extend);
			FIELD(shift);
		}
		if (l.acquire_release != r->acq_rel || l.unprivileged != r->unpriv)
			fail_msg("%s: ordering/unprivileged flags", r->text);
#undef FIELD
	}
}

/* Anything outside bits [27] = 1, [25] = 0 is not in the load/store group, whatever else it is. */
static void test_outside_group(void **state)
{
	uint32_t seed = 12345;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		struct hyp_ldst l;
		uint32_t insn;

		seed = seed * 1103515245u + 12345u;
		insn = seed ^ (seed >> 13) * 2654435761u;
		if ((insn >> 27 & 1) && !(insn >> 25 & 1))
			continue;
		assert_int_equal(hyp_trap_decode_ldst(insn, &l), N);
	}
}

/* Random words of the group: every description the decoder gives is one the emulator can act on
 * safely (sizes, register numbers, scaled offsets within the architected ranges). */
static void test_random_group_words(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned emulated = 0;

	(void)state;
	for (int i = 0; i < 1000000; i++) {
		struct hyp_ldst l;
		enum hyp_ldst_class c;
		uint32_t insn;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		insn = ((uint32_t)x | (1u << 27)) & ~(1u << 25);
		memset(&l, 0, sizeof(l));
		c = hyp_trap_decode_ldst(insn, &l);
		assert_true(c == E || c == U || c == P);
		if (c != E)
			continue;
		emulated++;
		assert_true(l.nregs == 1 || l.nregs == 2);
		assert_true(l.size == 1 || l.size == 2 || l.size == 4 || l.size == 8 ||
			    (l.size == 16 && l.simd));
		assert_true(l.rt < 32 && l.rt2 < 32 && l.rn < 32 && l.rm < 32);
		assert_true(l.addressing <= LIT);
		assert_true(l.imm >= -(1 << 20) && l.imm < (1 << 20));
		assert_true(l.shift <= 4);
		if (l.nregs == 2)
			assert_true(l.addressing != REG && l.addressing != LIT);
		if (l.sign_extend)
			assert_true(l.is_load && !l.simd && l.size < 8);
		/* Scaled forms are multiples of the element size. */
		if (l.addressing == OFF && l.nregs == 2)
			assert_int_equal(l.imm % l.size, 0);
	}
	/* A healthy share of the group is plain loads and stores. */
	assert_true(emulated > 100000);
}

static void test_extend_reg(void **state)
{
	(void)state;
	/* UXTW #2, SXTW, SXTW #3, LSL #3, SXTX; UXTB/UXTH/SXTB/SXTH for completeness. */
	assert_int_equal(hyp_trap_ldst_extend_reg(0xffffffff80000001ull, 2, 2), 0x200000004ull);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x00000000fffffffcull, 6, 0), (uint64_t)-4);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x0000000080000000ull, 6, 3),
			 0xfffffffc00000000ull);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x1000, 3, 3), 0x8000);
	assert_int_equal(hyp_trap_ldst_extend_reg((uint64_t)-16, 7, 1), (uint64_t)-32);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x1ff, 0, 0), 0xff);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x18000, 1, 0), 0x8000);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x80, 4, 0), (uint64_t)-128);
	assert_int_equal(hyp_trap_ldst_extend_reg(0x18000, 5, 1), (uint64_t)-0x10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_outside_group),
		cmocka_unit_test(test_random_group_words),
		cmocka_unit_test(test_extend_reg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
