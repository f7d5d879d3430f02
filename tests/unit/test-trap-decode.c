// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/trap/decode.c: ESR_EL2 decoding, MMIO/sysreg/SMCCC completion and
 * synchronous exception injection.
 *
 * Syndromes are built two ways: from the ISS field definitions of the Arm ARM (register ESR_EL2,
 * "ISS encoding for an exception from a Data Abort", "... from MSR, MRS, or System instruction
 * execution in AArch64 state", ...), and as literal 32-bit ESR values derived by hand for concrete
 * instructions, with the derivation written next to each one. The literals are also checked
 * against the field builder, so a mistake in either shows up.
 *
 * ESR_EL2 = EC[31:26] | IL[25] | ISS[24:0].
 * Data Abort ISS: ISV[24] SAS[23:22] SSE[21] SRT[20:16] SF[15] AR[14] VNCR[13] FnV[10] EA[9] CM[8]
 *		   S1PTW[7] WnR[6] DFSC[5:0].
 * EC 0x18 ISS: Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10] Rt[9:5] CRm[4:1] Direction[0].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <libhyp/smccc.h>
#include <libhyp/sysreg.h>

#include "trap/fast.h"
#include "trap/trap.h"

#define VALID_ALL (HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR)

/* ---------------------------------------------------------------------------------------------
 * Builders
 */

static uint64_t mk_esr(uint32_t ec, uint32_t il, uint32_t iss)
{
	return ((uint64_t)ec << 26) | ((uint64_t)il << 25) | iss;
}

struct dabt {
	unsigned int isv, sas, sse, srt, sf, ar, vncr, fnv, ea, cm, s1ptw, wnr, dfsc;
};

static uint32_t dabt_iss(struct dabt f)
{
	return (f.isv << 24) | (f.sas << 22) | (f.sse << 21) | (f.srt << 16) | (f.sf << 15) |
	       (f.ar << 14) | (f.vncr << 13) | (f.fnv << 10) | (f.ea << 9) | (f.cm << 8) |
	       (f.s1ptw << 7) | (f.wnr << 6) | f.dfsc;
}

static uint32_t sys_iss(unsigned int op0, unsigned int op1, unsigned int crn, unsigned int crm,
			unsigned int op2, unsigned int rt, unsigned int is_read)
{
	return (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) |
	       is_read;
}

/* WFx ISS from AArch64: CV = 1, COND = 0b1110 (as the Arm ARM requires for AArch64), TI[1:0]. */
static uint32_t wfx_iss(unsigned int ti)
{
	return (1u << 24) | (0xeu << 20) | ti;
}

static void decode(uint64_t esr, uint64_t far, uint64_t hpfar, uint32_t valid,
		   struct hyp_exit *exit, struct hyp_trap_info *info)
{
	struct hyp_syndrome raw = { .esr = esr, .far = far, .hpfar = hpfar, .valid = valid };

	/* Poison everything the decoder is supposed to set or clear. */
	memset(exit, 0xa5, sizeof(*exit));
	exit->vcpu_index = 7;
	info->pc_advance = 0xee;
	hyp_trap_decode(&raw, exit, info);
	assert_int_equal(exit->vcpu_index, 7);
}

/* An IPA for MMIO tests: the PL011 data register at 0x0900_0000, FAR a kernel VA with the same
 * page offset (0x000). HPFAR_EL2.FIPA = IPA >> 12 = 0x9000, in bits [43:4]: 0x90000. */
#define UART_IPA UINT64_C(0x09000000)
#define UART_VA UINT64_C(0xffff800009000000)
#define UART_HPFAR UINT64_C(0x90000)

/* A distinct, recognisable value in every register. */
static void fill_regs(struct hyp_gp_regs *r)
{
	for (unsigned int i = 0; i < 31; i++)
		r->x[i] = (UINT64_C(0x0101010101010101) * (i + 1)) ^ UINT64_C(0xa5a5a5a5a5a5a5a5);
	r->sp_el0 = UINT64_C(0x0000ffffcafe0000);
	r->pc = UINT64_C(0x40081000);
	r->pstate = 0x3c5;
}

/* Every X register and SP_EL0 equal, except those in @except (bit n = Xn). */
static void assert_regs_same_except(const struct hyp_gp_regs *a, const struct hyp_gp_regs *b,
				    uint32_t except)
{
	for (unsigned int i = 0; i < 31; i++) {
		if (except & (1u << i))
			continue;
		assert_int_equal(a->x[i], b->x[i]);
	}
	assert_int_equal(a->sp_el0, b->sp_el0);
}

/* ---------------------------------------------------------------------------------------------
 * Data abort ISS and IPA
 */

static void test_dabt_iss_fields_one_by_one(void **state)
{
	struct hyp_dabt_iss d;
	(void)state;

	hyp_trap_decode_dabt_iss(0, &d);
	assert_false(d.isv || d.sse || d.sf || d.ar || d.vncr || d.fnv || d.ea || d.cm || d.s1ptw ||
		     d.wnr);
	assert_int_equal(d.sas, 0);
	assert_int_equal(d.srt, 0);
	assert_int_equal(d.dfsc, 0);

	hyp_trap_decode_dabt_iss(1u << 24, &d);
	assert_true(d.isv);
	hyp_trap_decode_dabt_iss(3u << 22, &d);
	assert_int_equal(d.sas, 3);
	assert_false(d.isv);
	hyp_trap_decode_dabt_iss(2u << 22, &d);
	assert_int_equal(d.sas, 2);
	hyp_trap_decode_dabt_iss(1u << 21, &d);
	assert_true(d.sse);
	assert_int_equal(d.sas, 0);
	hyp_trap_decode_dabt_iss(0x1fu << 16, &d);
	assert_int_equal(d.srt, 31);
	assert_false(d.sse);
	assert_false(d.sf);
	hyp_trap_decode_dabt_iss(0x15u << 16, &d);
	assert_int_equal(d.srt, 21);
	hyp_trap_decode_dabt_iss(1u << 15, &d);
	assert_true(d.sf);
	assert_int_equal(d.srt, 0);
	hyp_trap_decode_dabt_iss(1u << 14, &d);
	assert_true(d.ar);
	hyp_trap_decode_dabt_iss(1u << 13, &d);
	assert_true(d.vncr);
	hyp_trap_decode_dabt_iss(1u << 10, &d);
	assert_true(d.fnv);
	hyp_trap_decode_dabt_iss(1u << 9, &d);
	assert_true(d.ea);
	hyp_trap_decode_dabt_iss(1u << 8, &d);
	assert_true(d.cm);
	hyp_trap_decode_dabt_iss(1u << 7, &d);
	assert_true(d.s1ptw);
	hyp_trap_decode_dabt_iss(1u << 6, &d);
	assert_true(d.wnr);
	assert_int_equal(d.dfsc, 0);
	hyp_trap_decode_dabt_iss(0x3f, &d);
	assert_int_equal(d.dfsc, 0x3f);
	assert_false(d.wnr);

	/* All ones, and bits above the ISS (EC/IL of a whole ESR passed by mistake) ignored. */
	hyp_trap_decode_dabt_iss(0xffffffffu, &d);
	assert_true(d.isv && d.sse && d.sf && d.ar && d.vncr && d.fnv && d.ea && d.cm && d.s1ptw &&
		    d.wnr);
	assert_int_equal(d.sas, 3);
	assert_int_equal(d.srt, 31);
	assert_int_equal(d.dfsc, 0x3f);
}

/* Hand-built literals for concrete instructions; each is also rebuilt from fields. */
static void test_dabt_literals_match_fields(void **state)
{
	(void)state;
	/* str w1, [x0]: ISV=1 SAS=2 (word) SRT=1 SF=0 WnR=1, DFSC=0x07 (translation L3).
	 * ISS = 1<<24 | 2<<22 | 1<<16 | 1<<6 | 7 = 0x1810047; EC 0x24<<26 | IL = 0x92000000. */
	assert_int_equal(0x93810047,
			 mk_esr(0x24, 1,
				dabt_iss((struct dabt){
					.isv = 1, .sas = 2, .srt = 1, .wnr = 1, .dfsc = 7 })));
	/* ldrsb x2, [x3]: ISV SAS=0 SSE SRT=2 SF, DFSC=0x06 (translation L2).
	 * ISS = 0x1000000 | 0x200000 | 0x20000 | 0x8000 | 6 = 0x1228006. */
	assert_int_equal(0x93228006,
			 mk_esr(0x24, 1,
				dabt_iss((struct dabt){
					.isv = 1, .sse = 1, .srt = 2, .sf = 1, .dfsc = 6 })));
	/* ldrsh w4, [x5]: ISV SAS=1 SSE SRT=4 SF=0. ISS = 0x1000000|0x400000|0x200000|0x40000|7. */
	assert_int_equal(0x93640007,
			 mk_esr(0x24, 1,
				dabt_iss((struct dabt){
					.isv = 1, .sas = 1, .sse = 1, .srt = 4, .dfsc = 7 })));
	/* ldr x5, [x6]: ISV SAS=3 SRT=5 SF. ISS = 0x1000000|0xc00000|0x50000|0x8000|7. */
	assert_int_equal(0x93c58007,
			 mk_esr(0x24, 1,
				dabt_iss((struct dabt){
					.isv = 1, .sas = 3, .srt = 5, .sf = 1, .dfsc = 7 })));
	/* strb wzr, [x0]: ISV SAS=0 SRT=31 WnR. ISS = 0x1000000|0x1f0000|0x40|7. */
	assert_int_equal(0x931f0047, mk_esr(0x24, 1,
					    dabt_iss((struct dabt){
						    .isv = 1, .srt = 31, .wnr = 1, .dfsc = 7 })));
	/* ldp x0, x1, [x2]: no syndrome (ISV=0), read. ISS = 7. */
	assert_int_equal(0x92000007, mk_esr(0x24, 1, dabt_iss((struct dabt){ .dfsc = 7 })));
}

static void test_fault_ipa(void **state)
{
	(void)state;
	/* 32-bit IPA: page from HPFAR, offset from FAR[11:0] only. */
	assert_int_equal(hyp_trap_fault_ipa(UART_HPFAR, UART_VA | 0x18), UART_IPA | 0x18);
	assert_int_equal(hyp_trap_fault_ipa(0x90000, 0xffffffffffffffff), 0x09000fff);
	assert_int_equal(hyp_trap_fault_ipa(0, 0x1234), 0x234);

	/* 48-bit IPA 0x0000_ffff_f000_1234: FIPA = 0xffff_f0001, HPFAR = FIPA << 4. The VA in FAR
	 * has a different page but the same offset 0x234. */
	assert_int_equal(hyp_trap_fault_ipa(UINT64_C(0xfffff00010), UINT64_C(0xffff8000deadb234)),
			 UINT64_C(0x0000fffff0001234));

	/* 52-bit IPA 0x000f_edcb_a987_6543 (FEAT_LPA): FIPA = 0xf_edcb_a987 fills bits [43:4]. */
	assert_int_equal(hyp_trap_fault_ipa(UINT64_C(0xfedcba98760), UINT64_C(0x543)),
			 UINT64_C(0x000fedcba9876543));

	/* HPFAR.NS (bit 63), bits [62:44] and [3:0] are not part of the address. */
	assert_int_equal(hyp_trap_fault_ipa(UINT64_C(0xfff00fedcba9876f), UINT64_C(0x543)),
			 UINT64_C(0x000fedcba9876543));
	assert_int_equal(hyp_trap_fault_ipa(UINT64_MAX, UINT64_MAX), UINT64_C(0x000fffffffffffff));
}

/* ---------------------------------------------------------------------------------------------
 * MMIO decode and completion
 */

static void test_mmio_str_w1(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* str w1, [x0] -> 0x93810047 (see test_dabt_literals_match_fields). */
	decode(0x93810047, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UART_IPA);
	assert_int_equal(e.mmio.offset, UART_IPA);
	assert_int_equal(e.mmio.len, 4);
	assert_int_equal(e.mmio.is_write, 1);
	assert_int_equal(e.mmio.sign_extend, 0);
	assert_int_equal(e.mmio.reg, 1);
	assert_int_equal(e.mmio.reg64, 0);
	assert_int_equal(e.mmio.acquire_release, 0);
	assert_int_equal(e.mmio.data, 0);
	assert_int_equal(e.mmio.reserved[0], 0);
	assert_int_equal(e.mmio.reserved[1], 0);
	assert_int_equal(info.pc_advance, 4);
	assert_int_equal(e.raw.esr, 0x93810047);
	assert_int_equal(e.raw.far, UART_VA);
	assert_int_equal(e.raw.hpfar, UART_HPFAR);
	assert_int_equal(e.raw.valid, VALID_ALL);

	fill_regs(&regs);
	regs.x[1] = UINT64_C(0xdeadbeefcafebabe);
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.mmio.data, 0xcafebabe);
	assert_memory_equal(&regs, &before, sizeof(regs));

	/* A store writes no register; only the PC moves. */
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
	assert_int_equal(regs.pstate, before.pstate);
}

static void test_mmio_ldrsb_x2(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* ldrsb x2, [x3] -> 0x93228006: a byte, sign-extended into an X register. */
	decode(0x93228006, UART_VA | 0x7, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UART_IPA + 7);
	assert_int_equal(e.mmio.len, 1);
	assert_int_equal(e.mmio.is_write, 0);
	assert_int_equal(e.mmio.sign_extend, 1);
	assert_int_equal(e.mmio.reg, 2);
	assert_int_equal(e.mmio.reg64, 1);
	assert_int_equal(info.pc_advance, 4);

	fill_regs(&regs);
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.mmio.data, 0); /* loads take nothing from registers */

	before = regs;
	e.mmio.data = 0x80;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[2], UINT64_C(0xffffffffffffff80));
	assert_regs_same_except(&regs, &before, 1u << 2);
	assert_int_equal(regs.pc, before.pc + 4);

	/* Positive byte; bytes above @len the device left in @data are ignored. */
	e.mmio.data = UINT64_C(0xffffffffffff127f);
	hyp_trap_complete(&e, &info, &regs, false);
	assert_int_equal(regs.x[2], 0x7f);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void test_mmio_ldrsb_w11(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	/* ldrsb w11, [x0]: ISV SAS=0 SSE SRT=11 SF=0. ISS = 0x1000000|0x200000|0xb0000|7 ->
	 * ESR 0x932b0007. 0x80 becomes 0xffffff80 in W11, and X11[63:32] is zero. */
	decode(0x932b0007, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.len, 1);
	assert_int_equal(e.mmio.sign_extend, 1);
	assert_int_equal(e.mmio.reg, 11);
	assert_int_equal(e.mmio.reg64, 0);

	fill_regs(&regs);
	e.mmio.data = 0x80;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[11], UINT64_C(0x00000000ffffff80));
}

static void test_mmio_ldrsh_w4(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* ldrsh w4, [x5] -> 0x93640007. */
	decode(0x93640007, UART_VA | 0x2, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UART_IPA + 2);
	assert_int_equal(e.mmio.len, 2);
	assert_int_equal(e.mmio.sign_extend, 1);
	assert_int_equal(e.mmio.reg, 4);
	assert_int_equal(e.mmio.reg64, 0);

	fill_regs(&regs);
	before = regs;
	e.mmio.data = UINT64_C(0x1234567800008001);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[4], UINT64_C(0x00000000ffff8001));
	assert_regs_same_except(&regs, &before, 1u << 4);
}

static void test_mmio_ldr_x5(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* ldr x5, [x6] -> 0x93c58007. */
	decode(0x93c58007, UART_VA | 0x8, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.len, 8);
	assert_int_equal(e.mmio.sign_extend, 0);
	assert_int_equal(e.mmio.reg, 5);
	assert_int_equal(e.mmio.reg64, 1);
	assert_int_equal(e.mmio.ipa, UART_IPA + 8);

	fill_regs(&regs);
	before = regs;
	e.mmio.data = UINT64_C(0xfedcba9876543210);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[5], UINT64_C(0xfedcba9876543210));
	assert_regs_same_except(&regs, &before, 1u << 5);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void test_mmio_ldrh_ldrsw(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	/* ldrh w9, [x0]: ISV SAS=1 SRT=9 -> ISS 0x1490007, ESR 0x93490007. Zero-extends. */
	decode(0x93490007, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.mmio.len, 2);
	assert_int_equal(e.mmio.sign_extend, 0);
	assert_int_equal(e.mmio.reg, 9);
	fill_regs(&regs);
	e.mmio.data = UINT64_C(0xffffffffffff8001);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[9], 0x8001);

	/* ldrsw x10, [x0]: ISV SAS=2 SSE SRT=10 SF -> ISS 0x1aa8007, ESR 0x93aa8007. */
	decode(0x93aa8007, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.mmio.len, 4);
	assert_int_equal(e.mmio.sign_extend, 1);
	assert_int_equal(e.mmio.reg, 10);
	assert_int_equal(e.mmio.reg64, 1);
	e.mmio.data = 0x80000000;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[10], UINT64_C(0xffffffff80000000));
	e.mmio.data = UINT64_C(0xffffffff7fffffff);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[10], 0x7fffffff);
}

static void test_mmio_stlr_acquire_release(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	/* stlr x7, [x8]: ISV SAS=3 SRT=7 SF AR WnR -> ISS 0x1c7c047, ESR 0x93c7c047. */
	assert_int_equal(0x93c7c047, mk_esr(0x24, 1,
					    dabt_iss((struct dabt){ .isv = 1,
								    .sas = 3,
								    .srt = 7,
								    .sf = 1,
								    .ar = 1,
								    .wnr = 1,
								    .dfsc = 7 })));
	decode(0x93c7c047, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.acquire_release, 1);
	assert_int_equal(e.mmio.is_write, 1);
	assert_int_equal(e.mmio.len, 8);
	assert_int_equal(e.mmio.reg, 7);
	fill_regs(&regs);
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.mmio.data, regs.x[7]);

	/* SSE on a store (not something hardware reports) never reaches the decoded view. */
	decode(0x93c7c047 | (1u << 21), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.is_write, 1);
	assert_int_equal(e.mmio.sign_extend, 0);
}

static void test_mmio_strb_wzr(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* strb wzr, [x0] -> 0x931f0047: register 31 as a transfer register is WZR, stores 0. */
	decode(0x931f0047, UART_VA | 0x3, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.len, 1);
	assert_int_equal(e.mmio.is_write, 1);
	assert_int_equal(e.mmio.reg, 31);
	assert_int_equal(e.mmio.ipa, UART_IPA + 3);

	fill_regs(&regs);
	regs.sp_el0 = UINT64_MAX; /* must not be mistaken for register 31 */
	before = regs;
	e.mmio.data = 0x55;
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.mmio.data, 0);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void test_mmio_load_to_wzr_discarded(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* ldr wzr, [x0]: ISV SAS=2 SRT=31 -> ISS 0x19f0007, ESR 0x939f0007. The read happens (a
	 * device may have read side effects), the result goes nowhere. */
	assert_int_equal(0x939f0007, mk_esr(0x24, 1,
					    dabt_iss((struct dabt){
						    .isv = 1, .sas = 2, .srt = 31, .dfsc = 7 })));
	decode(0x939f0007, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.is_write, 0);
	assert_int_equal(e.mmio.reg, 31);
	fill_regs(&regs);
	before = regs;
	e.mmio.data = UINT64_MAX;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
}

/* Loads into every register (0..31) write exactly that register. */
static void test_mmio_load_every_register(void **state)
{
	(void)state;
	for (unsigned int rt = 0; rt < 32; rt++) {
		struct hyp_exit e;
		struct hyp_trap_info info;
		struct hyp_gp_regs regs, before;
		uint64_t esr = mk_esr(0x24, 1,
				      dabt_iss((struct dabt){
					      .isv = 1, .sas = 3, .srt = rt, .sf = 1, .dfsc = 7 }));

		decode(esr, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
		assert_int_equal(e.reason, HYP_EXIT_MMIO);
		assert_int_equal(e.mmio.reg, rt);
		fill_regs(&regs);
		before = regs;
		e.mmio.data = UINT64_C(0x1122334455667788) + rt;
		hyp_trap_complete(&e, &info, &regs, true);
		if (rt < 31) {
			assert_int_equal(regs.x[rt], UINT64_C(0x1122334455667788) + rt);
			assert_regs_same_except(&regs, &before, 1u << rt);
		} else {
			assert_regs_same_except(&regs, &before, 0);
		}
		assert_int_equal(regs.pc, before.pc + 4);
		assert_int_equal(regs.pstate, before.pstate);
	}
}

/* Stores of every width take exactly @len bytes of Rt. */
static void test_mmio_store_widths(void **state)
{
	static const uint64_t expect[4] = {
		0x11,
		0x2211,
		0x44332211,
		UINT64_C(0x8877665544332211),
	};
	(void)state;

	for (unsigned int sas = 0; sas < 4; sas++) {
		struct hyp_exit e;
		struct hyp_trap_info info;
		struct hyp_gp_regs regs;
		uint64_t esr = mk_esr(0x24, 1,
				      dabt_iss((struct dabt){ .isv = 1,
							      .sas = sas,
							      .srt = 6,
							      .sf = sas == 3,
							      .wnr = 1,
							      .dfsc = 7 }));

		decode(esr, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
		assert_int_equal(e.reason, HYP_EXIT_MMIO);
		assert_int_equal(e.mmio.len, 1u << sas);
		fill_regs(&regs);
		regs.x[6] = UINT64_C(0x8877665544332211);
		hyp_trap_load_operands(&e, &regs);
		assert_int_equal(e.mmio.data, expect[sas]);
	}
}

static void test_mmio_read_value_table(void **state)
{
	static const struct {
		uint8_t len, sse, sf;
		uint64_t data, expect;
	} t[] = {
		/* bytes */
		{ 1, 0, 0, 0x80, 0x80 },
		{ 1, 1, 0, 0x80, UINT64_C(0xffffff80) },
		{ 1, 1, 1, 0x80, UINT64_C(0xffffffffffffff80) },
		{ 1, 1, 1, 0x7f, 0x7f },
		{ 1, 1, 0, UINT64_C(0xffffff7f), 0x7f },
		{ 1, 0, 1, UINT64_C(0xffffffffffffffff), 0xff },
		/* halfwords */
		{ 2, 0, 0, UINT64_C(0xabcd8000), 0x8000 },
		{ 2, 1, 0, 0x8000, UINT64_C(0xffff8000) },
		{ 2, 1, 1, 0x8000, UINT64_C(0xffffffffffff8000) },
		{ 2, 1, 1, 0x7fff, 0x7fff },
		/* words */
		{ 4, 0, 0, UINT64_C(0x1234567890), UINT64_C(0x34567890) },
		{ 4, 1, 0, UINT64_C(0x80000000), UINT64_C(0x80000000) },
		{ 4, 1, 1, UINT64_C(0x80000000), UINT64_C(0xffffffff80000000) },
		{ 4, 0, 1, UINT64_C(0xffffffff80000000), UINT64_C(0x80000000) },
		/* doublewords: SSE changes nothing */
		{ 8, 0, 1, UINT64_C(0xfedcba9876543210), UINT64_C(0xfedcba9876543210) },
		{ 8, 1, 1, UINT64_C(0xfedcba9876543210), UINT64_C(0xfedcba9876543210) },
		/* values the decoder never produces still have a defined result */
		{ 0, 1, 1, UINT64_MAX, 0 },
		{ 3, 1, 1, 0x800000, UINT64_C(0xffffffffff800000) },
		{ 16, 1, 1, UINT64_MAX, UINT64_MAX },
		{ 8, 0, 0, UINT64_C(0xfedcba9876543210), UINT64_C(0x76543210) },
		{ 255, 0, 1, UINT64_C(0x0123456789abcdef), UINT64_C(0x0123456789abcdef) },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct hyp_mmio_access a = {
			.data = t[i].data,
			.len = t[i].len,
			.sign_extend = t[i].sse,
			.reg64 = t[i].sf,
		};

		assert_int_equal(hyp_trap_mmio_read_value(&a), t[i].expect);
	}
}

/* Fault status codes that make MMIO, and those that do not. */
static void test_mmio_fault_status_codes(void **state)
{
	(void)state;
	for (unsigned int fsc = 0; fsc < 64; fsc++) {
		struct hyp_exit e;
		struct hyp_trap_info info;
		bool emulable = (fsc >= 0x04 && fsc <= 0x0f) || fsc == 0x2b;
		uint64_t esr =
			mk_esr(0x24, 1,
			       dabt_iss((struct dabt){
				       .isv = 1, .sas = 2, .srt = 3, .wnr = 1, .dfsc = fsc }));

		decode(esr, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
		if (emulable) {
			assert_int_equal(e.reason, HYP_EXIT_MMIO);
			assert_int_equal(info.pc_advance, 4);
		} else {
			assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
			assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
			assert_int_equal(e.fault.fault_status, fsc);
			assert_int_equal(e.fault.is_write, 1);
			assert_int_equal(e.fault.ipa_valid, 1);
			assert_int_equal(e.fault.ipa, UART_IPA);
			assert_int_equal(info.pc_advance, 0);
		}
	}
}

static void test_mmio_store_to_readonly(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* str x3, [x0] on a read-only mapping: Permission fault L3 (DFSC 0x0f).
	 * ISS = 0x1000000 | 3<<22 | 3<<16 | 1<<15 | 1<<6 | 0xf = 0x1c3804f -> ESR 0x93c3804f.
	 * Flash at 0x0000_0000, VA 0xffff_0000_0000_0ff8. */
	decode(0x93c3804f, UINT64_C(0xffff000000000ff8), 0, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, 0xff8);
	assert_int_equal(e.mmio.len, 8);
	assert_int_equal(e.mmio.is_write, 1);
	assert_int_equal(e.mmio.reg, 3);
}

static void test_mmio_big_ipas(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* 48-bit IPA 0x0000_ffff_f000_1234 */
	decode(0x93810047, UINT64_C(0x0000ffffdead0234), UINT64_C(0xfffff00010), VALID_ALL, &e,
	       &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UINT64_C(0x0000fffff0001234));
	assert_int_equal(e.mmio.offset, UINT64_C(0x0000fffff0001234));

	/* 52-bit IPA 0x000f_edcb_a987_6543, HPFAR.NS set */
	decode(0x93810047, UINT64_C(0xffff000000000543), UINT64_C(0x8000fedcba98760), VALID_ALL, &e,
	       &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UINT64_C(0x000fedcba9876543));
}

/* A 16-bit T32 load from an AArch32 EL0 (IL = 0) advances the PC by 2. */
static void test_mmio_il0(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	/* ldr r2, [r3] (T16): ISV SAS=2 SRT=2, IL=0 -> 0x90000000 | 0x1820007 = 0x91820007. */
	decode(0x91820007, 0x9000000c, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UART_IPA + 0xc);
	assert_int_equal(info.pc_advance, 2);
	fill_regs(&regs);
	regs.pstate = 0x30; /* AArch32 User, T32, not in an IT block */
	e.mmio.data = 0xabcd;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[2], 0xabcd);
	assert_int_equal(regs.pc, 0x40081002);
	assert_int_equal(regs.pstate, 0x30);
}

/* ---------------------------------------------------------------------------------------------
 * Data aborts that are not MMIO
 */

static void test_dabt_no_syndrome(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* ldp x0, x1, [x2] -> 0x92000007. */
	decode(0x92000007, UART_VA | 0x10, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_int_equal(e.fault.ipa, UART_IPA + 0x10);
	assert_int_equal(e.fault.ipa_valid, 1);
	assert_int_equal(e.fault.va, UART_VA | 0x10);
	assert_int_equal(e.fault.is_write, 0);
	assert_int_equal(e.fault.fault_status, 7);
	assert_int_equal(info.pc_advance, 0);

	/* Completing it changes nothing: the guest re-executes the LDP. */
	fill_regs(&regs);
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_memory_equal(&regs, &before, sizeof(regs));

	/* stp x0, x1, [x2] on a level 2 hole: ISS = WnR | 6 = 0x46 -> 0x92000046. */
	decode(0x92000046, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_int_equal(e.fault.is_write, 1);
	assert_int_equal(e.fault.fault_status, 6);

	/* FnV: the FAR is not valid, so neither the VA nor the full IPA is known. */
	decode(0x92000007 | (1u << 10), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.ipa, 0);
	assert_int_equal(e.fault.va, 0);

	/* No HPFAR reported: the IPA is unknown, the VA is still there. */
	decode(0x92000007, UART_VA, UART_HPFAR, HYP_SYNDROME_ESR | HYP_SYNDROME_FAR, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, UART_VA);
	assert_int_equal(e.raw.hpfar, 0);
}

static void test_dabt_s1ptw(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* A load whose stage-1 walk read a descriptor at an unmapped IPA: S1PTW | DFSC 7, ISV=0.
	 * ISS = 0x80 | 7 -> 0x92000087. HPFAR names the descriptor's page 0x4800_0000; FAR is the
	 * VA being accessed, so its offset says nothing about the descriptor. */
	decode(0x92000087, UINT64_C(0xffff000012345678), 0x480000, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_PAGE_TABLE_WALK);
	assert_int_equal(e.fault.ipa, 0x48000000);
	assert_int_equal(e.fault.ipa_valid, 1);
	assert_int_equal(e.fault.va, UINT64_C(0xffff000012345678));
	assert_int_equal(e.fault.fault_status, 7);
	assert_int_equal(info.pc_advance, 0);

	/* S1PTW wins even with a full instruction syndrome. */
	decode(0x93810047 | 0x80, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_PAGE_TABLE_WALK);

	/* Without HPFAR there is no IPA at all. */
	decode(0x92000087, UART_VA, 0x480000, HYP_SYNDROME_ESR | HYP_SYNDROME_FAR, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_PAGE_TABLE_WALK);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.ipa, 0);
}

static void test_dabt_external_abort(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* Synchronous external abort: EA | DFSC 0x10 -> ISS 0x210, ESR 0x92000210. */
	decode(0x92000210, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.fault_status, 0x10);
	assert_int_equal(info.pc_advance, 0);

	/* EA with an otherwise perfect MMIO syndrome is still not MMIO. */
	decode(0x93810047 | (1u << 9), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.is_write, 1);
}

static void test_dabt_cache_maintenance(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* dc civac, x0 on an IPA without memory: CM, WnR (maintenance reports as a write), ISV=0.
	 * ISS = 0x100 | 0x40 | 7 = 0x147 -> 0x92000147. Not MMIO; completing it skips the DC. */
	decode(0x92000147, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.is_write, 1);
	assert_int_equal(e.fault.ipa, UART_IPA);
	assert_int_equal(info.pc_advance, 4);
	fill_regs(&regs);
	before = regs;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);

	/* Even if ISV were set, CM never makes MMIO. */
	decode(0x93810047 | 0x100, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);

	/* CM with an external abort is an ordinary fault: no skipping. */
	decode(0x92000147 | 0x200 | 0x10, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(info.pc_advance, 0);
}

static void test_dabt_vncr_fnv_missing_regs(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* VNCR (FEAT_NV2 redirected sysreg access) is never MMIO. */
	decode(0x93810047 | (1u << 13), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(info.pc_advance, 0);

	/* ISV=1 but FnV=1: no page offset, so no MMIO. */
	decode(0x93810047 | (1u << 10), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, 0);
	assert_int_equal(info.pc_advance, 0);

	/* ISV=1 but the backend reported no FAR, or no HPFAR. */
	decode(0x93810047, UART_VA, UART_HPFAR, HYP_SYNDROME_ESR | HYP_SYNDROME_HPFAR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, 0);
	assert_int_equal(e.fault.is_write, 1);
	assert_int_equal(e.raw.far, 0);
	decode(0x93810047, UART_VA, UART_HPFAR, HYP_SYNDROME_ESR | HYP_SYNDROME_FAR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, UART_VA);
}

static void test_dabt_current_el(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* EC 0x25 is EL2's own data abort, never a guest's: no decoded view. */
	decode(mk_esr(0x25, 1, 0x1810047), UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
	assert_int_equal(e.exception.ec, 0x25);
	assert_int_equal(e.exception.il, 1);
	assert_int_equal(e.exception.iss, 0x1810047);
	assert_int_equal(e.exception.imm, 0);
	assert_int_equal(info.pc_advance, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Instruction aborts
 */

static void test_iabt(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* Fetch from an unmapped IPA 0x4010_0040, translation fault L3: IFSC 0x07.
	 * ESR = 0x20<<26 | IL | 7 = 0x82000007. */
	decode(0x82000007, UINT64_C(0x40100040), 0x401000, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.kind, HYP_FAULT_EXEC);
	assert_int_equal(e.fault.ipa, 0x40100040);
	assert_int_equal(e.fault.ipa_valid, 1);
	assert_int_equal(e.fault.va, 0x40100040);
	assert_int_equal(e.fault.fault_status, 7);
	assert_int_equal(e.fault.is_write, 0);
	assert_int_equal(info.pc_advance, 0);

	/* Permission fault (execute-never at stage 2), IFSC 0x0f -> 0x8200000f. */
	decode(0x8200000f, 0x1000, 0x10, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_EXEC);
	assert_int_equal(e.fault.fault_status, 0x0f);
	assert_int_equal(e.fault.ipa, 0x1000);

	/* S1PTW on a fetch: ISS = 0x80 | 7 -> 0x82000087. */
	decode(0x82000087, UINT64_C(0xffff000000401000), 0x480000, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_PAGE_TABLE_WALK);
	assert_int_equal(e.fault.ipa, 0x48000000);

	/* FnV, and missing HPFAR. */
	decode(0x82000007 | (1u << 10), 0x40100040, 0x401000, VALID_ALL, &e, &info);
	assert_int_equal(e.fault.kind, HYP_FAULT_EXEC);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, 0);
	decode(0x82000007, 0x40100040, 0x401000, HYP_SYNDROME_ESR | HYP_SYNDROME_FAR, &e, &info);
	assert_int_equal(e.fault.ipa_valid, 0);
	assert_int_equal(e.fault.va, 0x40100040);

	/* EC 0x21 is EL2's own instruction abort. */
	decode(0x86000007, 0, 0, VALID_ALL, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
	assert_int_equal(e.exception.ec, 0x21);
}

/* ---------------------------------------------------------------------------------------------
 * HVC / SMC
 */

static void test_hvc(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* hvc #0: EC 0x16, IL, imm16 = 0 -> 0x16<<26 | 1<<25 = 0x5a000000. */
	decode(0x5a000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SMCCC);
	assert_int_equal(e.smccc.conduit, HYP_CONDUIT_HVC);
	assert_int_equal(e.smccc.imm, 0);
	assert_int_equal(info.pc_advance, 0);
	/* Register-sourced fields are left 0 by decode. */
	assert_int_equal(e.smccc.function_id, 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(e.smccc.args[i], 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e.smccc.ret[i], 0);
	assert_int_equal(e.smccc.reserved, 0);

	/* hvc #0x1234 -> 0x5a001234: still decoded, the immediate tells it is not SMCCC. */
	decode(0x5a001234, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SMCCC);
	assert_int_equal(e.smccc.imm, 0x1234);
	assert_int_equal(info.pc_advance, 0);
}

static void test_smc(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* smc #0 trapped by HCR_EL2.TSC: EC 0x17 -> 0x5c000000 | IL = 0x5e000000. ELR_EL2 points at
	 * the SMC, so completion must step over it. */
	decode(0x5e000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SMCCC);
	assert_int_equal(e.smccc.conduit, HYP_CONDUIT_SMC);
	assert_int_equal(e.smccc.imm, 0);
	assert_int_equal(info.pc_advance, 4);

	/* smc #1 -> 0x5e000001. */
	decode(0x5e000001, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.smccc.imm, 1);

	/* IL=0 (not an A64 encoding, but defined): 2 bytes. */
	decode(0x5c000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SMCCC);
	assert_int_equal(info.pc_advance, 2);

	/* ISS bits above imm16 are not part of the immediate. */
	decode(0x5e000000 | 0x1ff0000 | 0xbeef, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.smccc.imm, 0xbeef);
}

static void test_smccc_operands_64(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	decode(0x5a000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	fill_regs(&regs);
	/* PSCI CPU_ON (SMC64 convention, bit 30 set); W0 only: upper half of X0 is ignored. */
	regs.x[0] = UINT64_C(0xdeadbeef00000000) | HYP_PSCI_CPU_ON_64;
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	assert_memory_equal(&regs, &before, sizeof(regs));
	assert_int_equal(e.smccc.function_id, HYP_PSCI_CPU_ON_64);
	for (int i = 0; i < 7; i++)
		assert_int_equal(e.smccc.args[i], regs.x[i + 1]);
	assert_int_equal(e.smccc.ret[0], UINT64_MAX);
	assert_int_equal(e.smccc.ret[1], regs.x[1]);
	assert_int_equal(e.smccc.ret[2], regs.x[2]);
	assert_int_equal(e.smccc.ret[3], regs.x[3]);
	assert_int_equal(e.smccc.conduit, HYP_CONDUIT_HVC);
}

static void test_smccc_operands_32(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	decode(0x5e000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	fill_regs(&regs);
	regs.x[0] = HYP_PSCI_CPU_ON_32;
	regs.x[1] = UINT64_C(0xffffffff00000001);
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.smccc.function_id, 0x84000003);
	assert_int_equal(e.smccc.args[0], 1);
	for (int i = 1; i < 7; i++)
		assert_int_equal(e.smccc.args[i], regs.x[i + 1] & 0xffffffff);
	/* ret[] presets the untruncated X1..X3: an unhandled call changes only X0. */
	assert_int_equal(e.smccc.ret[0], UINT64_MAX);
	assert_int_equal(e.smccc.ret[1], UINT64_C(0xffffffff00000001));
	assert_int_equal(e.smccc.ret[2], regs.x[2]);
	assert_int_equal(e.smccc.ret[3], regs.x[3]);
}

static void test_smccc_complete(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* HVC: X0..X3 = ret[], nothing else, PC unchanged. */
	decode(0x5a000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	fill_regs(&regs);
	regs.x[0] = HYP_PSCI_VERSION;
	hyp_trap_load_operands(&e, &regs);
	e.smccc.ret[0] = 0x10001;
	e.smccc.ret[1] = 11;
	e.smccc.ret[2] = 22;
	e.smccc.ret[3] = UINT64_C(0x8000000000000033);
	before = regs;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[0], 0x10001);
	assert_int_equal(regs.x[1], 11);
	assert_int_equal(regs.x[2], 22);
	assert_int_equal(regs.x[3], UINT64_C(0x8000000000000033));
	assert_regs_same_except(&regs, &before, 0xf);
	assert_int_equal(regs.pc, before.pc);
	assert_int_equal(regs.pstate, before.pstate);

	/* Unhandled SMC32 call: X0 = -1 as all ones, X1..X3 as they were, PC past the SMC. */
	decode(0x5e000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	fill_regs(&regs);
	regs.x[0] = 0x82000000; /* SiP service, SMC32 */
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[0], UINT64_MAX);
	assert_regs_same_except(&regs, &before, 1u << 0);
	assert_int_equal(regs.pc, before.pc + 4);

	/* The caller moved the PC: results still land, the PC stays. */
	fill_regs(&regs);
	regs.pc = 0x1000;
	hyp_trap_load_operands(&e, &regs);
	e.smccc.ret[0] = 0;
	hyp_trap_complete(&e, &info, &regs, false);
	assert_int_equal(regs.x[0], 0);
	assert_int_equal(regs.pc, 0x1000);
}

/* ---------------------------------------------------------------------------------------------
 * MSR / MRS
 */

static void test_sysreg_mrs_mpidr(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* mrs x0, mpidr_el1 (op0=3 op1=0 CRn=0 CRm=0 op2=5), Rt=0, Direction=1:
	 * ISS = 3<<20 | 5<<17 | 1 = 0x3a0001; EC 0x18<<26 | IL = 0x62000000 -> 0x623a0001. */
	assert_int_equal(0x623a0001, mk_esr(0x18, 1, sys_iss(3, 0, 0, 0, 5, 0, 1)));
	decode(0x623a0001, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SYSREG);
	assert_int_equal(e.sysreg.encoding, HYP_SYSREG_MPIDR_EL1);
	assert_int_equal(e.sysreg.is_write, 0);
	assert_int_equal(e.sysreg.reg, 0);
	assert_int_equal(e.sysreg.value, 0);
	assert_int_equal(info.pc_advance, 4);

	fill_regs(&regs);
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.sysreg.value, 0); /* MRS takes nothing from registers */
	before = regs;
	e.sysreg.value = UINT64_C(0x80000001);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.x[0], UINT64_C(0x80000001));
	assert_regs_same_except(&regs, &before, 1u << 0);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void test_sysreg_msr_sctlr(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* msr sctlr_el1, x1 (3,0,1,0,0), Rt=1, Direction=0:
	 * ISS = 3<<20 | 1<<10 | 1<<5 = 0x300420 -> 0x62300420. */
	assert_int_equal(0x62300420, mk_esr(0x18, 1, sys_iss(3, 0, 1, 0, 0, 1, 0)));
	decode(0x62300420, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_SYSREG);
	assert_int_equal(e.sysreg.encoding, HYP_SYSREG_SCTLR_EL1);
	assert_int_equal(e.sysreg.is_write, 1);
	assert_int_equal(e.sysreg.reg, 1);
	assert_int_equal(info.pc_advance, 4);

	fill_regs(&regs);
	regs.x[1] = 0x30d00980;
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.sysreg.value, 0x30d00980);
	e.sysreg.value = 0; /* an MSR writes no register whatever the callback leaves here */
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void test_sysreg_more_literals(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* mrs x3, cntvct_el0 (3,3,14,0,2): 3<<20 | 2<<17 | 3<<14 | 14<<10 | 3<<5 | 1
	 * = 0x300000|0x40000|0xc000|0x3800|0x60|1 = 0x34f861 -> 0x6234f861. */
	decode(0x6234f861, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.sysreg.encoding, HYP_SYSREG_CNTVCT_EL0);
	assert_int_equal(e.sysreg.is_write, 0);
	assert_int_equal(e.sysreg.reg, 3);

	/* msr icc_sgi1r_el1, x2 (3,0,12,11,5): 3<<20 | 5<<17 | 12<<10 | 2<<5 | 11<<1
	 * = 0x300000|0xa0000|0x3000|0x40|0x16 = 0x3a3056 -> 0x623a3056. */
	decode(0x623a3056, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.sysreg.encoding, HYP_SYSREG_ICC_SGI1R_EL1);
	assert_int_equal(e.sysreg.is_write, 1);
	assert_int_equal(e.sysreg.reg, 2);

	/* msr sctlr_el1, xzr: 0x300420 with the Rt field 31<<5 = 0x3e0 -> 0x623007e0. Value 0. */
	decode(0x623007e0, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.sysreg.encoding, HYP_SYSREG_SCTLR_EL1);
	assert_int_equal(e.sysreg.reg, 31);
	fill_regs(&regs);
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.sysreg.value, 0);

	/* mrs xzr, mpidr_el1: 0x623a0001 | 31<<5 = 0x623a03e1. Discarded. */
	decode(0x623a03e1, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.sysreg.reg, 31);
	assert_int_equal(e.sysreg.is_write, 0);
	fill_regs(&regs);
	before = regs;
	e.sysreg.value = UINT64_MAX;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
}

static void check_sysreg_operands(unsigned int op0, unsigned int op1, unsigned int crn,
				  unsigned int crm, unsigned int op2)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	unsigned int rt = (op1 * 7 + crn * 3 + crm + op2) % 32;
	unsigned int rd = (crm ^ op2) & 1;
	uint32_t enc;

	decode(mk_esr(0x18, 1, sys_iss(op0, op1, crn, crm, op2, rt, rd)), 0, 0, HYP_SYNDROME_ESR,
	       &e, &info);
	enc = e.sysreg.encoding;
	assert_int_equal(e.reason, HYP_EXIT_SYSREG);
	assert_int_equal(enc, HYP_SYSREG(op0, op1, crn, crm, op2));
	assert_int_equal(HYP_SYSREG_OP0(enc), op0);
	assert_int_equal(HYP_SYSREG_OP1(enc), op1);
	assert_int_equal(HYP_SYSREG_CRN(enc), crn);
	assert_int_equal(HYP_SYSREG_CRM(enc), crm);
	assert_int_equal(HYP_SYSREG_OP2(enc), op2);
	assert_int_equal(e.sysreg.reg, rt);
	assert_int_equal(e.sysreg.is_write, !rd);
	assert_int_equal(info.pc_advance, 4);
}

/* Every operand combination maps to HYP_SYSREG() of the same operands. */
static void test_sysreg_all_encodings(void **state)
{
	(void)state;
	for (unsigned int op0 = 0; op0 < 4; op0++)
		for (unsigned int op1 = 0; op1 < 8; op1++)
			for (unsigned int crn = 0; crn < 16; crn++)
				for (unsigned int crm = 0; crm < 16; crm++)
					for (unsigned int op2 = 0; op2 < 8; op2++)
						check_sysreg_operands(op0, op1, crn, crm, op2);
}

/* ---------------------------------------------------------------------------------------------
 * WFx
 */

static void test_wfx(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* wfi: EC 0x01, IL, CV=1, COND=0xe, TI=00 -> 0x04000000|0x02000000|0x01e00000. */
	assert_int_equal(0x07e00000, mk_esr(0x01, 1, wfx_iss(0)));
	decode(0x07e00000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_WFX);
	assert_int_equal(e.wfx.is_wfe, 0);
	assert_int_equal(e.wfx.has_timeout, 0);
	assert_int_equal(info.pc_advance, 4);
	for (int i = 0; i < 6; i++)
		assert_int_equal(e.wfx.reserved[i], 0);

	/* wfe: TI=01 -> 0x07e00001. */
	decode(0x07e00001, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_WFX);
	assert_int_equal(e.wfx.is_wfe, 1);
	assert_int_equal(e.wfx.has_timeout, 0);

	/* wfit x3: TI=10, RV=1 (bit 2), RN=3 ([9:5]) -> 0x07e00000|0x60|0x4|2 = 0x07e00066. */
	assert_int_equal(0x07e00066, mk_esr(0x01, 1, wfx_iss(2) | (3u << 5) | (1u << 2)));
	decode(0x07e00066, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.wfx.is_wfe, 0);
	assert_int_equal(e.wfx.has_timeout, 1);

	/* wfet: TI=11. */
	decode(mk_esr(0x01, 1, wfx_iss(3)), 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.wfx.is_wfe, 1);
	assert_int_equal(e.wfx.has_timeout, 1);
	assert_int_equal(info.pc_advance, 4);

	/* Completion skips the WFI, and stepping it clears BTYPE and SS (the guest executed one
	 * non-branch instruction). N, Z, C, V, DAIF, M untouched. */
	decode(0x07e00000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	fill_regs(&regs);
	regs.pstate = UINT64_C(0x600003c5) | (UINT64_C(1) << 21) | (UINT64_C(3) << 10);
	before = regs;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);
	assert_int_equal(regs.pstate, UINT64_C(0x600003c5));

	/* Not advancing leaves PSTATE alone too. */
	regs = before;
	hyp_trap_complete(&e, &info, &regs, false);
	assert_memory_equal(&regs, &before, sizeof(regs));
}

/* ---------------------------------------------------------------------------------------------
 * Debug and the rest
 */

static void test_brk(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	(void)state;

	/* brk #0x3e8: EC 0x3c, IL, comment in ISS[15:0] -> 0xf0000000|0x02000000|0x3e8. */
	decode(0xf20003e8, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.reason, HYP_EXIT_DEBUG);
	assert_int_equal(e.exception.ec, 0x3c);
	assert_int_equal(e.exception.il, 1);
	assert_int_equal(e.exception.imm, 0x3e8);
	assert_int_equal(e.exception.iss, 0x3e8);
	assert_int_equal(info.pc_advance, 0);

	/* Linux's BUG(): brk #0x800 -> 0xf2000800. */
	decode(0xf2000800, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.exception.imm, 0x800);

	/* The BRK is the preferred return address: completion leaves everything alone. */
	fill_regs(&regs);
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_memory_equal(&regs, &before, sizeof(regs));
}

static void test_debug_ecs(void **state)
{
	static const uint8_t ecs[] = { 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38, 0x3a, 0x3c };
	(void)state;

	for (size_t i = 0; i < sizeof(ecs); i++) {
		struct hyp_exit e;
		struct hyp_trap_info info;

		/* Watchpoint-style ISS with garbage, to check it is passed through untouched. */
		decode(mk_esr(ecs[i], 1, 0x0123456), 0x1000, 0, VALID_ALL, &e, &info);
		assert_int_equal(e.reason, HYP_EXIT_DEBUG);
		assert_int_equal(e.exception.ec, ecs[i]);
		assert_int_equal(e.exception.il, 1);
		assert_int_equal(e.exception.iss, 0x0123456);
		/* BKPT (AArch32) and BRK carry a comment; the others have no immediate. */
		if (ecs[i] == 0x38 || ecs[i] == 0x3c)
			assert_int_equal(e.exception.imm, 0x3456);
		else
			assert_int_equal(e.exception.imm, 0);
		assert_int_equal(info.pc_advance, 0);
	}
}

static void test_other_exceptions(void **state)
{
	/* Unknown reason, FP/ASIMD, SVE, SME, ERET, PAC, FPAC, BTI, illegal state, SVC64 (only with
	 * TGE), AArch32 HVC/SMC/coprocessor traps, SError, PC/SP alignment, and ECs the
	 * architecture does not (yet) define. */
	static const uint8_t ecs[] = {
		0x00, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x0e, 0x11,
		0x12, 0x13, 0x15, 0x19, 0x1a, 0x1c, 0x1d, 0x21, 0x22, 0x25, 0x26, 0x28, 0x2c,
		0x2f, 0x02, 0x0b, 0x0f, 0x10, 0x14, 0x1b, 0x1e, 0x1f, 0x23, 0x27, 0x29, 0x2a,
		0x2b, 0x2d, 0x2e, 0x36, 0x37, 0x39, 0x3b, 0x3d, 0x3e, 0x3f,
	};
	(void)state;

	for (size_t i = 0; i < sizeof(ecs); i++) {
		for (uint32_t il = 0; il < 2; il++) {
			struct hyp_exit e;
			struct hyp_trap_info info;
			struct hyp_gp_regs regs, before;

			decode(mk_esr(ecs[i], il, 0x1abcdef), 0x1234, 0x5670, VALID_ALL, &e, &info);
			assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
			assert_int_equal(e.exception.ec, ecs[i]);
			assert_int_equal(e.exception.il, il);
			assert_int_equal(e.exception.iss, 0x1abcdef);
			assert_int_equal(e.exception.imm, 0);
			assert_int_equal(info.pc_advance, 0);

			fill_regs(&regs);
			before = regs;
			hyp_trap_load_operands(&e, &regs);
			hyp_trap_complete(&e, &info, &regs, true);
			assert_memory_equal(&regs, &before, sizeof(regs));
		}
	}

	/* The "unknown reason" ESR an UNDEFINED instruction gives: EC 0, IL -> 0x02000000. */
	{
		struct hyp_exit e;
		struct hyp_trap_info info;

		decode(0x02000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
		assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
		assert_int_equal(e.exception.ec, 0);
		assert_int_equal(e.exception.il, 1);
		assert_int_equal(e.exception.iss, 0);
	}
}

/* ---------------------------------------------------------------------------------------------
 * The raw syndrome, aliasing, and hostile inputs
 */

static void test_raw_normalised(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_syndrome raw = {
		.esr = 0x93810047,
		.far = UART_VA,
		.hpfar = UART_HPFAR,
		.valid = HYP_SYNDROME_ESR | 0x80000000u,
		.reserved = 0x1234,
	};
	(void)state;

	memset(&e, 0x5a, sizeof(e));
	hyp_trap_decode(&raw, &e, &info);
	/* Unreported fields read 0, unknown valid bits and reserved are dropped. */
	assert_int_equal(e.raw.esr, 0x93810047);
	assert_int_equal(e.raw.far, 0);
	assert_int_equal(e.raw.hpfar, 0);
	assert_int_equal(e.raw.valid, HYP_SYNDROME_ESR);
	assert_int_equal(e.raw.reserved, 0);
	assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e.fault.ipa_valid, 0);
	/* The caller's syndrome is not modified. */
	assert_int_equal(raw.far, UART_VA);
	assert_int_equal(raw.reserved, 0x1234);

	/* No valid ESR: whatever is in the field is ignored, and it reads as EC 0. */
	raw = (struct hyp_syndrome){ .esr = 0x5a000000, .valid = 0 };
	hyp_trap_decode(&raw, &e, &info);
	assert_int_equal(e.raw.esr, 0);
	assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
	assert_int_equal(e.exception.ec, 0);
	assert_int_equal(e.exception.il, 0);
	assert_int_equal(info.pc_advance, 0);

	/* ISS2 (ESR_EL2[55:32], e.g. FEAT_LS64 Xs) is kept in raw and does not disturb decoding. */
	raw = (struct hyp_syndrome){ .esr = UINT64_C(0x0000001f93810047),
				     .far = UART_VA,
				     .hpfar = UART_HPFAR,
				     .valid = VALID_ALL };
	hyp_trap_decode(&raw, &e, &info);
	assert_int_equal(e.raw.esr, UINT64_C(0x0000001f93810047));
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.len, 4);
}

static void test_decode_in_place(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	/* A raw backend fills exit->raw and the library decodes it in place. */
	memset(&e, 0xff, sizeof(e));
	e.vcpu_index = 3;
	e.raw = (struct hyp_syndrome){
		.esr = 0x93c58007, .far = UART_VA | 8, .hpfar = UART_HPFAR, .valid = VALID_ALL
	};
	hyp_trap_decode(&e.raw, &e, &info);
	assert_int_equal(e.vcpu_index, 3);
	assert_int_equal(e.reason, HYP_EXIT_MMIO);
	assert_int_equal(e.mmio.ipa, UART_IPA + 8);
	assert_int_equal(e.mmio.len, 8);
	assert_int_equal(e.mmio.reg, 5);
	assert_int_equal(e.mmio.data, 0);
	assert_int_equal(e.raw.esr, 0x93c58007);
	assert_int_equal(e.raw.far, UART_VA | 8);
	assert_int_equal(e.raw.hpfar, UART_HPFAR);
}

/* Union members of a decoded exit have no stale bytes in fields decode does not set. */
static void test_decode_clears_union(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	(void)state;

	decode(0x92000007, UART_VA, UART_HPFAR, VALID_ALL, &e, &info);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e.fault.reserved[i], 0);
	decode(0x623a0001, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	assert_int_equal(e.sysreg.reserved[0], 0);
	assert_int_equal(e.sysreg.reserved[1], 0);
	decode(0x5a000000, 0, 0, HYP_SYNDROME_ESR, &e, &info);
	/* The largest member: every byte past the header is decode's. */
	for (int i = 0; i < 7; i++)
		assert_int_equal(e.smccc.args[i], 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(e.smccc.ret[i], 0);
}

/* Operands with out-of-range register numbers (an exit a caller edited) stay in bounds. */
static void test_hostile_exit_records(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info = { .pc_advance = 4 };
	struct hyp_gp_regs regs, before;
	(void)state;

	memset(&e, 0, sizeof(e));
	e.reason = HYP_EXIT_MMIO;
	e.mmio.is_write = 1;
	e.mmio.reg = 200;
	e.mmio.len = 200;
	fill_regs(&regs);
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.mmio.data, 0);
	e.mmio.is_write = 0;
	e.mmio.data = UINT64_MAX;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);

	e.reason = HYP_EXIT_SYSREG;
	e.sysreg.reg = 255;
	e.sysreg.is_write = 1;
	hyp_trap_load_operands(&e, &regs);
	assert_int_equal(e.sysreg.value, 0);
	e.sysreg.is_write = 0;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);

	/* Unknown reasons: only the PC advance the decoder asked for. */
	e.reason = 12345;
	regs = before;
	hyp_trap_load_operands(&e, &regs);
	hyp_trap_complete(&e, &info, &regs, true);
	assert_regs_same_except(&regs, &before, 0);
	assert_int_equal(regs.pc, before.pc + 4);

	/* PC wraps instead of misbehaving. */
	regs.pc = UINT64_MAX - 1;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.pc, 2);
}

/* PC advance in AArch32 state moves ITSTATE along (ITAdvance()) and leaves bits [11:10] as IT. */
static void test_complete_aarch32_itstate(void **state)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs;
	(void)state;

	/* T16 ldr r2, [r3] inside an IT block: IL=0 -> 0x91820007. */
	decode(0x91820007, 0x9000000c, UART_HPFAR, VALID_ALL, &e, &info);
	assert_int_equal(info.pc_advance, 2);
	fill_regs(&regs);
	/* ITSTATE 0xa6 = 1010_0110: IT[1:0] = 0b10 -> bit 26; IT[7:2] = 0x29 -> bits [15:10] =
	 * 0xa400. Mode usr (0x10), T (0x20), SS (bit 21), Z (bit 30). */
	regs.pstate = 0x30 | (UINT64_C(1) << 26) | 0xa400 | (UINT64_C(1) << 21) |
		      (UINT64_C(1) << 30);
	hyp_trap_complete(&e, &info, &regs, true);
	/* ITAdvance: IT[2:0] != 0, so IT[4:0] <<= 1: 0xa6 -> 0xa0 | 0x0c = 0xac. IT[1:0] = 0,
	 * IT[7:2] = 0x2b -> 0xac00. SS cleared. */
	assert_int_equal(regs.pstate, 0x30 | 0xac00 | (UINT64_C(1) << 30));
	assert_int_equal(regs.pc, 0x40081002);

	/* ITSTATE 0x2c = 0010_1100: IT[2:0] = 0b100, so IT[4:0] = 0b01100 << 1 = 0b11000 and the
	 * result is 0x38: IT[1:0] = 0, IT[7:2] = 0x0e -> 0x3800. Bit 4 of the shifted mask must
	 * survive. Before: IT[1:0] = 0, IT[7:2] = 0x0b -> 0x2c00. */
	regs.pstate = 0x30 | 0x2c00;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.pstate, 0x30 | 0x3800);

	/* Last instruction of the block: IT[2:0] = 0 -> ITSTATE 0. ITSTATE 0xa8: IT[7:2] = 0x2a. */
	regs.pstate = 0x30 | 0xa800;
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.pstate, 0x30);
}

/* One fuzz case: decode, check the reason and PC advance fit the EC, then load and complete. */
static void check_fuzz_case(uint64_t esr, uint32_t valid, uint64_t far, uint64_t hpfar)
{
	struct hyp_exit e;
	struct hyp_trap_info info;
	struct hyp_gp_regs regs, before;
	uint32_t ec = (valid & HYP_SYNDROME_ESR) ? HYP_ESR_EC(esr) : 0;
	uint8_t len = (valid & HYP_SYNDROME_ESR) && HYP_ESR_IL(esr) ? 4 : 2;

	decode(esr, far, hpfar, valid, &e, &info);
	assert_true(info.pc_advance == 0 || info.pc_advance == len);
	assert_int_equal(e.raw.valid, valid);

	switch (ec) {
	case 0x24:
		if (e.reason == HYP_EXIT_MMIO) {
			uint8_t l = e.mmio.len;

			assert_true(l == 1 || l == 2 || l == 4 || l == 8);
			assert_true(e.mmio.reg <= 31);
			assert_int_equal(e.mmio.offset, e.mmio.ipa);
			assert_int_equal(info.pc_advance, len);
			assert_int_equal(valid, VALID_ALL);
			break;
		}
		assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
		assert_true(e.fault.kind == HYP_FAULT_NO_SYNDROME ||
			    e.fault.kind == HYP_FAULT_PAGE_TABLE_WALK ||
			    e.fault.kind == HYP_FAULT_OTHER);
		/* Only the cache-maintenance case skips an instruction. */
		if (info.pc_advance)
			assert_int_equal(e.fault.kind, HYP_FAULT_OTHER);
		break;
	case 0x20:
		assert_int_equal(e.reason, HYP_EXIT_MEM_FAULT);
		assert_true(e.fault.kind == HYP_FAULT_EXEC ||
			    e.fault.kind == HYP_FAULT_PAGE_TABLE_WALK);
		assert_int_equal(info.pc_advance, 0);
		break;
	case 0x16:
		assert_int_equal(e.reason, HYP_EXIT_SMCCC);
		assert_int_equal(info.pc_advance, 0);
		break;
	case 0x17:
		assert_int_equal(e.reason, HYP_EXIT_SMCCC);
		assert_int_equal(info.pc_advance, len);
		break;
	case 0x18:
		assert_int_equal(e.reason, HYP_EXIT_SYSREG);
		assert_true(e.sysreg.encoding <= 0xffff);
		assert_int_equal(info.pc_advance, len);
		break;
	case 0x01:
		assert_int_equal(e.reason, HYP_EXIT_WFX);
		assert_int_equal(info.pc_advance, len);
		break;
	case 0x30:
	case 0x31:
	case 0x32:
	case 0x33:
	case 0x34:
	case 0x35:
	case 0x38:
	case 0x3a:
	case 0x3c:
		assert_int_equal(e.reason, HYP_EXIT_DEBUG);
		assert_int_equal(info.pc_advance, 0);
		break;
	default:
		assert_int_equal(e.reason, HYP_EXIT_EXCEPTION);
		assert_int_equal(e.exception.ec, ec);
		assert_int_equal(info.pc_advance, 0);
		break;
	}
	if (e.reason == HYP_EXIT_MEM_FAULT && e.fault.ipa_valid)
		assert_true(valid & HYP_SYNDROME_HPFAR);

	fill_regs(&regs);
	before = regs;
	hyp_trap_load_operands(&e, &regs);
	assert_memory_equal(&regs, &before, sizeof(regs));
	hyp_trap_complete(&e, &info, &regs, true);
	assert_int_equal(regs.pc, before.pc + info.pc_advance);
	assert_int_equal(regs.sp_el0, before.sp_el0);
}

/* Every EC x a set of ISS patterns x IL x valid masks: defined, consistent results. */
static void test_fuzz_all_ecs(void **state)
{
	uint32_t isses[64] = { 0,	  0x1ffffff, 0x1000000, 0x0aaaaaa, 0x1555555,
			       0x1810047, 0x0000147, 0x1c7c047, 0x00003e8, 0x1e00003 };
	uint32_t seed = 0x12345678;
	(void)state;

	for (unsigned int i = 10; i < 64; i++) {
		seed = seed * 1664525u + 1013904223u;
		isses[i] = seed & 0x1ffffff;
	}

	for (uint32_t ec = 0; ec < 64; ec++)
		for (unsigned int k = 0; k < 64; k++)
			for (uint32_t il = 0; il < 2; il++)
				for (uint32_t valid = 0; valid < 8; valid++)
					/* ISS2 bits above 32 must not matter either. */
					check_fuzz_case(mk_esr(ec, il, isses[k]) |
								((uint64_t)seed << 32),
							valid, UINT64_MAX - k, seed ^ k);
}

/* ---------------------------------------------------------------------------------------------
 * Exception injection
 */

#define VBAR UINT64_C(0xffff800010010800)
#define FAULT_PC UINT64_C(0xffff800010234568)

static void inject_setup(struct hyp_gp_regs *regs, struct hyp_el1_sysregs *el1, uint64_t pstate)
{
	fill_regs(regs);
	regs->pc = FAULT_PC;
	regs->pstate = pstate;
	*el1 = (struct hyp_el1_sysregs){ .vbar_el1 = VBAR,
					 .elr_el1 = 0x1111,
					 .spsr_el1 = 0x2222,
					 .esr_el1 = 0x3333,
					 .far_el1 = 0x4444 };
}

static void test_inject_from_el1h(void **state)
{
	struct hyp_gp_regs regs, before;
	struct hyp_el1_sysregs el1;
	/* EL1h with Z, C, DIT, PAN, UAO, SS, SSBS, BTYPE=2, TCO set and DAIF clear. */
	uint64_t old = UINT64_C(0x60000005) | (UINT64_C(1) << 24) | (UINT64_C(1) << 22) |
		       (UINT64_C(1) << 23) | (UINT64_C(1) << 21) | (UINT64_C(1) << 12) |
		       (UINT64_C(2) << 10) | (UINT64_C(1) << 25);
	(void)state;

	inject_setup(&regs, &el1, old);
	before = regs;
	hyp_trap_inject_sync(&regs, &el1, 0x96000050, UINT64_C(0xffff00000badf00d), true);
	/* Current EL with SP_ELx: VBAR + 0x200. */
	assert_int_equal(regs.pc, VBAR + 0x200);
	assert_int_equal(el1.elr_el1, FAULT_PC);
	assert_int_equal(el1.spsr_el1, old);
	assert_int_equal(el1.esr_el1, 0x96000050);
	assert_int_equal(el1.far_el1, UINT64_C(0xffff00000badf00d));
	assert_int_equal(el1.vbar_el1, VBAR);
	/* EL1h, DAIF masked; NZCV, DIT and PAN kept; SS, UAO, SSBS, BTYPE, TCO cleared. */
	assert_int_equal(regs.pstate,
			 UINT64_C(0x600003c5) | (UINT64_C(1) << 24) | (UINT64_C(1) << 22));
	assert_regs_same_except(&regs, &before, 0);
}

static void test_inject_from_el1t(void **state)
{
	struct hyp_gp_regs regs, before;
	struct hyp_el1_sysregs el1;
	(void)state;

	/* EL1t (M = 0b0100) with DAIF masked: current EL with SP_EL0, VBAR + 0x000. */
	inject_setup(&regs, &el1, 0x3c4);
	before = regs;
	hyp_trap_inject_sync(&regs, &el1, hyp_trap_undef_esr(), 0, false);
	assert_int_equal(regs.pc, VBAR);
	assert_int_equal(regs.pstate, 0x3c5);
	assert_int_equal(el1.elr_el1, FAULT_PC);
	assert_int_equal(el1.spsr_el1, 0x3c4);
	assert_int_equal(el1.esr_el1, 0x02000000);
	assert_int_equal(el1.far_el1, 0x4444); /* no fault address: FAR_EL1 untouched */
	assert_regs_same_except(&regs, &before, 0);
}

static void test_inject_from_el0t(void **state)
{
	struct hyp_gp_regs regs;
	struct hyp_el1_sysregs el1;
	(void)state;

	/* EL0t (M = 0) with N set and DAIF clear: lower EL using AArch64, VBAR + 0x400. */
	inject_setup(&regs, &el1, UINT64_C(0x80000000));
	regs.pc = 0x400abc;
	hyp_trap_inject_sync(&regs, &el1, hyp_trap_ext_abort_esr(true, false, true), 0x5000, true);
	assert_int_equal(regs.pc, VBAR + 0x400);
	assert_int_equal(regs.pstate, UINT64_C(0x800003c5));
	assert_int_equal(el1.elr_el1, 0x400abc);
	assert_int_equal(el1.spsr_el1, UINT64_C(0x80000000));
	assert_int_equal(el1.esr_el1, 0x92000010);
	assert_int_equal(el1.far_el1, 0x5000);
}

static void test_inject_from_aarch32_el0(void **state)
{
	struct hyp_gp_regs regs;
	struct hyp_el1_sysregs el1;
	/* AArch32 User (M = 0b1_0000), T32, in an IT block, Z set. */
	uint64_t old = 0x30 | (UINT64_C(1) << 26) | 0xa400 | (UINT64_C(1) << 30);
	(void)state;

	inject_setup(&regs, &el1, old);
	regs.pc = 0x8002;
	hyp_trap_inject_sync(&regs, &el1, 0x02000000, 0, false);
	/* Lower EL using AArch32: VBAR + 0x600. IT, T and mode bits do not survive. */
	assert_int_equal(regs.pc, VBAR + 0x600);
	assert_int_equal(regs.pstate, UINT64_C(0x400003c5));
	assert_int_equal(el1.spsr_el1, old);
	assert_int_equal(el1.elr_el1, 0x8002);
}

static void test_inject_odd_inputs(void **state)
{
	struct hyp_gp_regs regs;
	struct hyp_el1_sysregs el1;
	(void)state;

	/* VBAR_EL1[10:0] are RES0: the vector is 2 KiB aligned whatever the register holds. */
	inject_setup(&regs, &el1, 0x3c5);
	el1.vbar_el1 = UINT64_C(0x40000fff);
	hyp_trap_inject_sync(&regs, &el1, 0, 0, false);
	assert_int_equal(regs.pc, UINT64_C(0x40000a00));

	/* EL2h/EL2t values (not a guest's): defined, "current EL" by M[0]. */
	inject_setup(&regs, &el1, 0x9);
	hyp_trap_inject_sync(&regs, &el1, 0, 0, false);
	assert_int_equal(regs.pc, VBAR + 0x200);
	assert_int_equal(regs.pstate, 0x3c5);
	inject_setup(&regs, &el1, 0x8);
	hyp_trap_inject_sync(&regs, &el1, 0, 0, false);
	assert_int_equal(regs.pc, VBAR);
	/* Reserved EL0 values (M = 0b0001, 0b0011) are still EL0: lower EL. */
	inject_setup(&regs, &el1, 0x1);
	hyp_trap_inject_sync(&regs, &el1, 0, 0, false);
	assert_int_equal(regs.pc, VBAR + 0x400);
	inject_setup(&regs, &el1, 0x3);
	hyp_trap_inject_sync(&regs, &el1, 0, 0, false);
	assert_int_equal(regs.pc, VBAR + 0x400);

	/* An injected exception taken while already in the handler (nested): SPSR gets the
	 * handler's EL1h state, the PC goes back to VBAR + 0x200. */
	inject_setup(&regs, &el1, 0x3c5);
	regs.pc = VBAR + 0x200;
	hyp_trap_inject_sync(&regs, &el1, 0x02000000, 0, false);
	assert_int_equal(el1.elr_el1, VBAR + 0x200);
	assert_int_equal(el1.spsr_el1, 0x3c5);
	assert_int_equal(regs.pc, VBAR + 0x200);
}

static void test_injected_esr_values(void **state)
{
	struct hyp_dabt_iss d;
	(void)state;

	/* UNDEFINED: EC 0 (Unknown reason), IL = 1. */
	assert_int_equal(hyp_trap_undef_esr(), 0x02000000);

	/* Data abort from EL0 (lower EL), write: 0x24<<26 | IL | WnR (0x40) | DFSC 0x10. */
	assert_int_equal(hyp_trap_ext_abort_esr(true, true, true), 0x92000050);
	assert_int_equal(hyp_trap_ext_abort_esr(true, false, true), 0x92000010);
	/* From EL1 (same EL): EC 0x25 -> 0x94000000 | IL. */
	assert_int_equal(hyp_trap_ext_abort_esr(true, true, false), 0x96000050);
	assert_int_equal(hyp_trap_ext_abort_esr(true, false, false), 0x96000010);
	/* Instruction aborts: EC 0x20 / 0x21, no WnR whatever @is_write says. */
	assert_int_equal(hyp_trap_ext_abort_esr(false, false, true), 0x82000010);
	assert_int_equal(hyp_trap_ext_abort_esr(false, true, true), 0x82000010);
	assert_int_equal(hyp_trap_ext_abort_esr(false, false, false), 0x86000010);
	assert_int_equal(hyp_trap_ext_abort_esr(false, true, false), 0x86000010);

	/* Read back through the data-abort view: no syndrome, synchronous external abort. */
	hyp_trap_decode_dabt_iss(HYP_ESR_ISS(hyp_trap_ext_abort_esr(true, true, true)), &d);
	assert_false(d.isv);
	assert_false(d.ea); /* EA is IMPLEMENTATION DEFINED classification; we report 0 */
	assert_false(d.s1ptw);
	assert_true(d.wnr);
	assert_int_equal(d.dfsc, 0x10);
}

/* hyp_trap_decode_fast() must be exactly the two-step path wherever it says it decoded, and must
 * decline everything else: random syndromes biased towards the kinds it takes. */
static uint64_t fast_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_decode_fast_matches_two_step(void **state)
{
	static const uint32_t ecs[] = { 0x24, 0x16, 0x17, 0x20, 0x18, 0x01, 0x00, 0x25 };
	uint64_t seed = 0x0123456789abcdefull;
	unsigned taken = 0, declined = 0;

	(void)state;
	for (int n = 0; n < 200000; n++) {
		struct hyp_exit fast, slow;
		struct hyp_trap_info fi = { 0xee }, si = { 0xee };
		struct hyp_gp_regs regs;
		uint64_t r = fast_rand(&seed);
		uint32_t iss = (uint32_t)fast_rand(&seed) & 0x1ffffffu;

		for (int i = 0; i < 31; i++)
			regs.x[i] = fast_rand(&seed);
		regs.sp_el0 = regs.pc = regs.pstate = 0;
		/* Mostly well-formed: ISV set, exotic bits clear, a translation fault... */
		if (r & 1)
			iss = (iss & ~0x7ffu) | (1u << 24) | (0x04 + (unsigned)(r >> 8) % 12) |
			      (iss & (1u << 6));
		/* ...and, for HVC/SMC, immediate 0 most of the time. */
		if (r & 2)
			iss &= ~0xffffu;
		memset(&fast, 0xa5, sizeof(fast));
		fast.reason = 0;
		fast.vcpu_index = 3;
		fast.raw.esr = ((uint64_t)ecs[(r >> 4) % 8] << 26) | ((r & 4) ? 1u << 25 : 0) | iss;
		fast.raw.far = fast_rand(&seed);
		fast.raw.hpfar = fast_rand(&seed);
		fast.raw.valid = (r & 0x300) ? 7 : (uint32_t)(r >> 12) & 7;
		fast.raw.reserved = (r & 0xf000) ? 0 : 1;
		if (r & 0x10000)
			fast.raw.esr |= (uint64_t)1 << 40; /* RES0 bits set: must be declined */
		slow = fast;
		if (!hyp_trap_decode_fast(&fast, &regs, &fi)) {
			declined++;
			continue;
		}
		taken++;
		hyp_trap_decode(&slow.raw, &slow, &si);
		hyp_trap_load_operands(&slow, &regs);
		assert_memory_equal(&fast, &slow, sizeof(fast));
		assert_int_equal(fi.pc_advance, si.pc_advance);
	}
	/* Both outcomes really happened. */
	assert_true(taken > 10000);
	assert_true(declined > 10000);
}

/* hyp_trap_complete_fast() must leave the registers exactly as hyp_trap_complete() does, for whatever a callback left in the exit, from AArch64 and AArch32
 * PSTATEs, with and without the PC advance. */
static void test_complete_fast_matches_complete(void **state)
{
	static const uint32_t ecs[] = { 0x24, 0x16, 0x17 };
	uint64_t seed = 0xfedcba9876543210ull;
	unsigned mmio = 0, smccc = 0, aarch32 = 0;

	(void)state;
	for (int n = 0; n < 100000; n++) {
		struct hyp_exit exit;
		struct hyp_trap_info info;
		struct hyp_gp_regs regs, fast, slow;
		uint64_t r = fast_rand(&seed);
		uint32_t iss = (uint32_t)fast_rand(&seed) & 0x1ffffffu;
		bool advance = r & 1;

		for (int i = 0; i < 31; i++)
			regs.x[i] = fast_rand(&seed);
		regs.sp_el0 = fast_rand(&seed);
		regs.pc = fast_rand(&seed);
		regs.pstate = fast_rand(&seed) & 0xffffffffu;
		uint32_t ec = ecs[(r >> 4) % 3];

		/* A data abort the fast decoder takes (ISV, plain, emulable DFSC), or HVC/SMC #0. */
		if (ec == 0x24)
			iss = (iss & ~0x7ffu & ~(1u << 13)) | (1u << 24) |
			      (0x04 + (unsigned)(r >> 8) % 12) | (iss & (1u << 6));
		else
			iss &= ~0xffffu;
		memset(&exit, 0, sizeof(exit));
		exit.raw.esr = ((uint64_t)ec << 26) | ((r & 4) ? 1u << 25 : 0) | iss;
		exit.raw.far = fast_rand(&seed);
		exit.raw.hpfar = fast_rand(&seed);
		exit.raw.valid = 7;
		if (!hyp_trap_decode_fast(&exit, &regs, &info))
			continue;
		/* What a callback may leave: any read data, any results. */
		if (exit.reason == HYP_EXIT_MMIO) {
			exit.mmio.data = fast_rand(&seed);
			mmio++;
		} else {
			for (int i = 0; i < 4; i++)
				exit.smccc.ret[i] = fast_rand(&seed);
			smccc++;
		}
		aarch32 += !!(regs.pstate & 0x10);
		fast = slow = regs;
		hyp_trap_complete(&exit, &info, &slow, advance);
		hyp_trap_complete_fast(&exit, &info, &fast, advance);
		assert_memory_equal(&fast, &slow, sizeof(fast));
	}
	assert_true(mmio > 10000);
	assert_true(smccc > 10000);
	assert_true(aarch32 > 10000);
}

/* The ID registers a TID3-trapping backend answers: the space, and what each hides. */
static void test_id_reg_visible(void **state)
{
	const uint64_t ones = ~UINT64_C(0);

	(void)state;
	/* The space: Op0 3, Op1 0, CRn 0, CRm 1..7, any Op2; nothing next to it. */
	assert_true(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 1, 0)));  /* ID_PFR0_EL1 */
	assert_true(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 4, 0)));  /* ID_AA64PFR0_EL1 */
	assert_true(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 7, 7)));  /* last, unallocated */
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 0, 0))); /* MIDR_EL1 */
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 0, 5))); /* MPIDR_EL1 */
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(3, 1, 0, 4, 0)));
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 1, 4, 0))); /* SCTLR_EL1 area */
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(2, 0, 0, 4, 0)));
	assert_false(hyp_trap_is_id_reg(HYP_SYSREG(3, 0, 0, 8, 0)));

	/* ID_AA64PFR0_EL1: SVE [35:32], MPAM [43:40], AMU [47:44] read 0; FP, AdvSIMD, EL1..3,
	 * GIC, RAS, CSV2/3 as they are. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 0), ones),
			 ones & ~UINT64_C(0x0000ff0f00000000));
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 0), 0x1100000011111112ull),
			 0x1100000011111112ull);
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 0), 0x0000000100000000ull),
			 0);
	/* ID_AA64PFR1_EL1: MTE [11:8], MPAM_frac [19:16], SME [27:24], MTE_frac [43:40]. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 1), ones),
			 ones & ~UINT64_C(0x00000f000f0f0f00));
	/* ID_AA64ZFR0_EL1, ID_AA64SMFR0_EL1: nothing of SVE/SME. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 4), ones), 0);
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 4, 5), ones), 0);
	/* ID_AA64DFR0_EL1: DebugVer [3:0], BRPs, WRPs, CTX_CMPs, DoubleLock, MTPMU stay. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 5, 0), ones),
			 ones & ~UINT64_C(0x00f0ff0f00000ff0));
	/* ID_AA64ISAR1_EL1: APA [7:4], API [11:8], GPA [27:24], GPI [31:28] (pointer
	 * authentication); DPB, JSCVT, FCMA, LRCPC, FRINTTS, SB, ... stay. ID_AA64ISAR2_EL1:
	 * GPA3 [11:8], APA3 [15:12]; WFxT, RPRES stay. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 6, 1), ones),
			 ones & ~UINT64_C(0xff000ff0));
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 6, 1), 0x0000000000111111ull),
			 0x0000000000111001ull);
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 6, 2), ones),
			 ones & ~UINT64_C(0xff00));
	/* Others unchanged: ID_AA64ISAR0_EL1, ID_AA64MMFR0_EL1, and non-ID encodings. */
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 6, 0), ones), ones);
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 0, 7, 0), 0x1122ull), 0x1122ull);
	assert_int_equal(hyp_trap_id_reg_visible(HYP_SYSREG(3, 0, 1, 0, 0), ones), ones);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dabt_iss_fields_one_by_one),
		cmocka_unit_test(test_dabt_literals_match_fields),
		cmocka_unit_test(test_fault_ipa),
		cmocka_unit_test(test_mmio_str_w1),
		cmocka_unit_test(test_mmio_ldrsb_x2),
		cmocka_unit_test(test_mmio_ldrsb_w11),
		cmocka_unit_test(test_mmio_ldrsh_w4),
		cmocka_unit_test(test_mmio_ldr_x5),
		cmocka_unit_test(test_mmio_ldrh_ldrsw),
		cmocka_unit_test(test_mmio_stlr_acquire_release),
		cmocka_unit_test(test_mmio_strb_wzr),
		cmocka_unit_test(test_mmio_load_to_wzr_discarded),
		cmocka_unit_test(test_mmio_load_every_register),
		cmocka_unit_test(test_mmio_store_widths),
		cmocka_unit_test(test_mmio_read_value_table),
		cmocka_unit_test(test_mmio_fault_status_codes),
		cmocka_unit_test(test_mmio_store_to_readonly),
		cmocka_unit_test(test_mmio_big_ipas),
		cmocka_unit_test(test_mmio_il0),
		cmocka_unit_test(test_dabt_no_syndrome),
		cmocka_unit_test(test_dabt_s1ptw),
		cmocka_unit_test(test_dabt_external_abort),
		cmocka_unit_test(test_dabt_cache_maintenance),
		cmocka_unit_test(test_dabt_vncr_fnv_missing_regs),
		cmocka_unit_test(test_dabt_current_el),
		cmocka_unit_test(test_iabt),
		cmocka_unit_test(test_hvc),
		cmocka_unit_test(test_smc),
		cmocka_unit_test(test_smccc_operands_64),
		cmocka_unit_test(test_smccc_operands_32),
		cmocka_unit_test(test_smccc_complete),
		cmocka_unit_test(test_sysreg_mrs_mpidr),
		cmocka_unit_test(test_sysreg_msr_sctlr),
		cmocka_unit_test(test_sysreg_more_literals),
		cmocka_unit_test(test_sysreg_all_encodings),
		cmocka_unit_test(test_wfx),
		cmocka_unit_test(test_brk),
		cmocka_unit_test(test_debug_ecs),
		cmocka_unit_test(test_other_exceptions),
		cmocka_unit_test(test_raw_normalised),
		cmocka_unit_test(test_decode_in_place),
		cmocka_unit_test(test_decode_clears_union),
		cmocka_unit_test(test_hostile_exit_records),
		cmocka_unit_test(test_complete_aarch32_itstate),
		cmocka_unit_test(test_fuzz_all_ecs),
		cmocka_unit_test(test_inject_from_el1h),
		cmocka_unit_test(test_inject_from_el1t),
		cmocka_unit_test(test_inject_from_el0t),
		cmocka_unit_test(test_inject_from_aarch32_el0),
		cmocka_unit_test(test_inject_odd_inputs),
		cmocka_unit_test(test_injected_esr_values),
		cmocka_unit_test(test_decode_fast_matches_two_step),
		cmocka_unit_test(test_complete_fast_matches_complete),
		cmocka_unit_test(test_id_reg_visible),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
