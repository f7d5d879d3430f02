// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/trap/debug.c: the self-hosted debug registers a hypervisor that traps them
 * (MDCR_EL2.TDA, TDOSA, TDRA) emulates in memory. Encodings from the Arm ARM (the debug
 * registers: Op0 = 2); the accesses are those Linux's CPU setup and hw_breakpoint make (the el2
 * backend's Linux partition took an UNDEF on the first MDSCR_EL1 write before this existed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <libhyp/sysreg.h>

#include "trap/trap.h"

#define MDSCR_EL1 HYP_SYSREG(2, 0, 0, 2, 2)
#define MDCCINT_EL1 HYP_SYSREG(2, 0, 0, 2, 0)
#define OSLAR_EL1 HYP_SYSREG(2, 0, 1, 0, 4)
#define OSLSR_EL1 HYP_SYSREG(2, 0, 1, 1, 4)
#define OSDLR_EL1 HYP_SYSREG(2, 0, 1, 3, 4)
#define MDRAR_EL1 HYP_SYSREG(2, 0, 1, 0, 0)
#define DBGCLAIMSET_EL1 HYP_SYSREG(2, 0, 7, 8, 6)
#define DBGCLAIMCLR_EL1 HYP_SYSREG(2, 0, 7, 9, 6)
#define DBGAUTHSTATUS_EL1 HYP_SYSREG(2, 0, 7, 14, 6)
#define MDCCSR_EL0 HYP_SYSREG(2, 3, 0, 1, 0)
#define DBGBVR(n) HYP_SYSREG(2, 0, 0, n, 4)
#define DBGBCR(n) HYP_SYSREG(2, 0, 0, n, 5)
#define DBGWVR(n) HYP_SYSREG(2, 0, 0, n, 6)
#define DBGWCR(n) HYP_SYSREG(2, 0, 0, n, 7)

/* ID_AA64DFR0_EL1 of QEMU's "max" CPU as the el2 backend shows it: BRPs = 5 (6 breakpoints),
 * WRPs = 3 (4 watchpoints), DebugVer 0x9 (PMUVer hidden). */
#define DFR0 ((3ull << 20) | (5ull << 12) | 0x9)

static uint64_t rd(struct hyp_trap_debug_regs *d, uint32_t enc)
{
	uint64_t v = 0xdeadbeef;

	assert_true(hyp_trap_debug_access(d, enc, false, &v));
	return v;
}

static void wr(struct hyp_trap_debug_regs *d, uint32_t enc, uint64_t v)
{
	assert_true(hyp_trap_debug_access(d, enc, true, &v));
}

static void test_reset_state(void **state)
{
	struct hyp_trap_debug_regs d;

	(void)state;
	memset(&d, 0xa5, sizeof(d));
	hyp_trap_debug_reset(&d, DFR0);
	assert_int_equal(d.nr_brps, 6);
	assert_int_equal(d.nr_wrps, 4);
	assert_int_equal(rd(&d, MDSCR_EL1), 0);
	/* OSLM = 0b10 (bit 3), OSLK (bit 1) set: locked at cold reset. */
	assert_int_equal(rd(&d, OSLSR_EL1), 0xa);
	for (unsigned int n = 0; n < 6; n++) {
		assert_int_equal(rd(&d, DBGBVR(n)), 0);
		assert_int_equal(rd(&d, DBGBCR(n)), 0);
	}
}

/* What Linux's __cpu_setup and debug-monitors do: MDSCR_EL1 written and read back, the OS lock
 * released through OSLAR_EL1 and seen in OSLSR_EL1. */
static void test_linux_cpu_setup(void **state)
{
	struct hyp_trap_debug_regs d;

	(void)state;
	hyp_trap_debug_reset(&d, DFR0);
	wr(&d, MDSCR_EL1, 1u << 12); /* TDCC */
	assert_int_equal(rd(&d, MDSCR_EL1), 1u << 12);
	wr(&d, MDSCR_EL1, (1u << 15) | (1u << 13) | 1u); /* MDE, KDE, SS */
	assert_int_equal(rd(&d, MDSCR_EL1), (1u << 15) | (1u << 13) | 1u);
	/* RES0 bits do not stick: what remains is SS 0, ERR 6, TDCC..MDE 15:12, SC2 19, TDA 21,
	 * INTdis 23:22, TXU 26, RXO 27, TXfull 29, RXfull 30, TFO 31, EMBWE..EHBWE 35:32. */
	wr(&d, MDSCR_EL1, ~0ull);
	assert_int_equal(rd(&d, MDSCR_EL1), 1ull | 1ull << 6 | 0xfull << 12 | 1ull << 19 |
						    1ull << 21 | 3ull << 22 | 1ull << 26 |
						    1ull << 27 | 1ull << 29 | 1ull << 30 |
						    1ull << 31 | 0xfull << 32);
	wr(&d, OSLAR_EL1, 0);
	assert_int_equal(rd(&d, OSLSR_EL1), 0x8);
	wr(&d, OSLAR_EL1, 1);
	assert_int_equal(rd(&d, OSLSR_EL1), 0xa);
	wr(&d, OSDLR_EL1, 0);
	assert_int_equal(rd(&d, OSDLR_EL1), 0);
	wr(&d, MDCCINT_EL1, ~0ull);
	assert_int_equal(rd(&d, MDCCINT_EL1), 3ull << 29);
}

/* hw_breakpoint clears every breakpoint and watchpoint ID_AA64DFR0_EL1 reports; the values are
 * kept per register; one past the last is UNDEFINED (not handled). */
static void test_breakpoints(void **state)
{
	struct hyp_trap_debug_regs d;
	uint64_t v = 0;

	(void)state;
	hyp_trap_debug_reset(&d, DFR0);
	for (unsigned int n = 0; n < 6; n++) {
		wr(&d, DBGBVR(n), 0x1000u * (n + 1));
		wr(&d, DBGBCR(n), n);
	}
	for (unsigned int n = 0; n < 4; n++) {
		wr(&d, DBGWVR(n), 0x2000u * (n + 1));
		wr(&d, DBGWCR(n), n + 100);
	}
	for (unsigned int n = 0; n < 6; n++) {
		assert_int_equal(rd(&d, DBGBVR(n)), 0x1000u * (n + 1));
		assert_int_equal(rd(&d, DBGBCR(n)), n);
	}
	for (unsigned int n = 0; n < 4; n++) {
		assert_int_equal(rd(&d, DBGWVR(n)), 0x2000u * (n + 1));
		assert_int_equal(rd(&d, DBGWCR(n)), n + 100);
	}
	assert_false(hyp_trap_debug_access(&d, DBGBVR(6), true, &v));
	assert_false(hyp_trap_debug_access(&d, DBGBCR(15), false, &v));
	assert_false(hyp_trap_debug_access(&d, DBGWVR(4), true, &v));
	assert_false(hyp_trap_debug_access(&d, DBGWCR(4), false, &v));
	/* With all 16 implemented, CRm 15 is the last. */
	hyp_trap_debug_reset(&d, (15ull << 20) | (15ull << 12));
	wr(&d, DBGBVR(15), 7);
	assert_int_equal(rd(&d, DBGBVR(15)), 7);
	wr(&d, DBGWCR(15), 9);
	assert_int_equal(rd(&d, DBGWCR(15)), 9);
}

static void test_directions_and_others(void **state)
{
	struct hyp_trap_debug_regs d;
	uint64_t v = 5;

	(void)state;
	hyp_trap_debug_reset(&d, DFR0);
	/* Write-only and read-only registers: the other direction is UNDEFINED. */
	assert_false(hyp_trap_debug_access(&d, OSLAR_EL1, false, &v));
	assert_false(hyp_trap_debug_access(&d, OSLSR_EL1, true, &v));
	assert_false(hyp_trap_debug_access(&d, MDRAR_EL1, true, &v));
	assert_false(hyp_trap_debug_access(&d, DBGAUTHSTATUS_EL1, true, &v));
	assert_false(hyp_trap_debug_access(&d, MDCCSR_EL0, true, &v));
	assert_int_equal(rd(&d, MDRAR_EL1), 0);
	assert_int_equal(rd(&d, DBGAUTHSTATUS_EL1), 0);
	assert_int_equal(rd(&d, MDCCSR_EL0), 0);
	/* Claim tags: SET reads the implemented tags, CLR the set ones. */
	assert_int_equal(rd(&d, DBGCLAIMSET_EL1), 0xff);
	wr(&d, DBGCLAIMSET_EL1, 0x81);
	assert_int_equal(rd(&d, DBGCLAIMCLR_EL1), 0x81);
	wr(&d, DBGCLAIMCLR_EL1, 0x01);
	assert_int_equal(rd(&d, DBGCLAIMCLR_EL1), 0x80);
	/* Not debug registers: not handled, @value untouched. */
	v = 5;
	assert_false(hyp_trap_debug_access(&d, HYP_SYSREG(3, 0, 1, 0, 0), false, &v));
	assert_false(hyp_trap_debug_access(&d, HYP_SYSREG(2, 1, 0, 0, 4), false, &v));
	assert_false(hyp_trap_debug_access(&d, HYP_SYSREG(2, 0, 1, 0, 5), false, &v));
	assert_int_equal(v, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state),
		cmocka_unit_test(test_linux_cpu_setup),
		cmocka_unit_test(test_breakpoints),
		cmocka_unit_test(test_directions_and_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
