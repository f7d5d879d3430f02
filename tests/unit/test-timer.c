// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/timer: the EL1 virtual and physical generic timers of a vCPU, driven by a
 * fake clock, with every set_ppi call recorded.
 *
 * The expectations are written from the Arm ARM (DDI 0487, D11 "The Generic Timer in AArch64
 * state" and the CNTx_CTL/CVAL/TVAL_EL0 register descriptions), not from lib/timer's definitions:
 * the register encodings and CTL bits are spelled out below, and a random sweep checks the
 * library against a reference model written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include <libhyp/sysreg.h>

#include "timer/timer.h"

/* MRS/MSR operands (op0, op1, CRn, CRm, op2) of the timer registers, in HYP_SYSREG packing:
 * op0 [15:14], op1 [13:11], CRn [10:7], CRm [6:3], op2 [2:0]. */
#define ENC(op0, op1, crn, crm, op2)                                                               \
	((uint32_t)((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2)))
#define R_CNTFRQ ENC(3, 3, 14, 0, 0)
#define R_CNTPCT ENC(3, 3, 14, 0, 1)
#define R_CNTVCT ENC(3, 3, 14, 0, 2)
#define R_CNTPCTSS ENC(3, 3, 14, 0, 5)
#define R_CNTVCTSS ENC(3, 3, 14, 0, 6)
#define R_CNTP_TVAL ENC(3, 3, 14, 2, 0)
#define R_CNTP_CTL ENC(3, 3, 14, 2, 1)
#define R_CNTP_CVAL ENC(3, 3, 14, 2, 2)
#define R_CNTV_TVAL ENC(3, 3, 14, 3, 0)
#define R_CNTV_CTL ENC(3, 3, 14, 3, 1)
#define R_CNTV_CVAL ENC(3, 3, 14, 3, 2)
#define R_CNTKCTL ENC(3, 0, 14, 1, 0)

/* CNTx_CTL_EL0: ENABLE [0], IMASK [1], ISTATUS [2] (read-only); the rest RES0. */
#define CTL_ENABLE 1u
#define CTL_IMASK 2u
#define CTL_ISTATUS 4u

#define VIRT_PPI 27u
#define PHYS_PPI 30u
#define FREQ 62500000u

/* ---------------------------------------------------------------------------------------------
 * Fixture: a fake clock and a recorder of interrupt lines.
 */

#define MAX_CALLS 64

struct ppi_call {
	uint32_t vcpu;
	uint32_t intid;
	bool level;
};

struct fx {
	uint64_t now;
	unsigned int clock_reads;
	struct ppi_call calls[MAX_CALLS];
	unsigned int ncalls;
	struct hyp_timer_vm vm;
	struct hyp_timer_vcpu vcpu;
};

static uint64_t fake_clock(void *opaque)
{
	struct fx *f = opaque;

	f->clock_reads++;
	return f->now;
}

static void record_ppi(void *opaque, uint32_t vcpu, uint32_t intid, bool level)
{
	struct fx *f = opaque;

	assert_true(f->ncalls < MAX_CALLS);
	f->calls[f->ncalls++] = (struct ppi_call){ vcpu, intid, level };
}

static struct hyp_timer_config config(struct fx *f)
{
	return (struct hyp_timer_config){
		.clock = fake_clock,
		.set_ppi = record_ppi,
		.opaque = f,
		.freq = FREQ,
	};
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct hyp_timer_config cfg = config(f);

	assert_non_null(f);
	f->now = 1000000;
	assert_int_equal(hyp_timer_vm_init(&f->vm, &cfg), 0);
	hyp_timer_vcpu_init(&f->vcpu, &f->vm, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint64_t rd(struct fx *f, uint32_t enc)
{
	uint64_t v = 0xbadbadbadbadull;

	assert_int_equal(hyp_timer_sysreg_read(&f->vcpu, enc, &v), 0);
	return v;
}

static void wr(struct fx *f, uint32_t enc, uint64_t v)
{
	assert_int_equal(hyp_timer_sysreg_write(&f->vcpu, enc, v), 0);
}

/* The next recorded call is exactly (vcpu 3, @intid, @level); no more calls follow. */
static void expect_only_call(struct fx *f, uint32_t intid, bool level)
{
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].vcpu, 3);
	assert_int_equal(f->calls[0].intid, intid);
	assert_int_equal(f->calls[0].level, level);
	f->ncalls = 0;
}

static void expect_no_call(struct fx *f)
{
	assert_int_equal(f->ncalls, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Configuration.
 */

/* The public encodings a backend passes are the Arm ARM's operands. */
static void test_encodings(void **state)
{
	(void)state;
	assert_int_equal(HYP_SYSREG_CNTFRQ_EL0, R_CNTFRQ);
	assert_int_equal(HYP_SYSREG_CNTPCT_EL0, R_CNTPCT);
	assert_int_equal(HYP_SYSREG_CNTVCT_EL0, R_CNTVCT);
	assert_int_equal(HYP_SYSREG_CNTPCTSS_EL0, R_CNTPCTSS);
	assert_int_equal(HYP_SYSREG_CNTVCTSS_EL0, R_CNTVCTSS);
	assert_int_equal(HYP_SYSREG_CNTP_TVAL_EL0, R_CNTP_TVAL);
	assert_int_equal(HYP_SYSREG_CNTP_CTL_EL0, R_CNTP_CTL);
	assert_int_equal(HYP_SYSREG_CNTP_CVAL_EL0, R_CNTP_CVAL);
	assert_int_equal(HYP_SYSREG_CNTV_TVAL_EL0, R_CNTV_TVAL);
	assert_int_equal(HYP_SYSREG_CNTV_CTL_EL0, R_CNTV_CTL);
	assert_int_equal(HYP_SYSREG_CNTV_CVAL_EL0, R_CNTV_CVAL);
}

static void test_vm_init(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_config cfg = config(f);
	struct hyp_timer_vm vm, before;

	memset(&vm, 0x5a, sizeof(vm));
	before = vm;
	assert_int_equal(hyp_timer_vm_init(NULL, &cfg), -EINVAL);
	assert_int_equal(hyp_timer_vm_init(&vm, NULL), -EINVAL);
	cfg.clock = NULL;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
	cfg = config(f);
	cfg.set_ppi = NULL;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
	cfg = config(f);
	cfg.freq = 0;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
	/* PPIs are INTIDs 16..31; SGIs and SPIs are not timer lines. */
	static const uint32_t bad[] = { 1, 15, 32, 33, 1020, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = config(f);
		cfg.virt_intid = bad[i];
		assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
		cfg = config(f);
		cfg.phys_intid = bad[i];
		assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
	}
	cfg = config(f);
	cfg.virt_intid = 30; /* the physical timer's default line */
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), -EINVAL);
	assert_memory_equal(&vm, &before, sizeof(vm));

	/* Defaults: the virt board's PPI 11 and 14 (INTIDs 27 and 30). */
	cfg = config(f);
	cfg.cntvoff = 1234;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	assert_int_equal(hyp_timer_vm_intid(&vm, HYP_TIMER_VIRT), VIRT_PPI);
	assert_int_equal(hyp_timer_vm_intid(&vm, HYP_TIMER_PHYS), PHYS_PPI);
	assert_int_equal(hyp_timer_vm_cntvoff(&vm), 1234);
	cfg.virt_intid = 16;
	cfg.phys_intid = 31;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	assert_int_equal(hyp_timer_vm_intid(&vm, HYP_TIMER_VIRT), 16);
	assert_int_equal(hyp_timer_vm_intid(&vm, HYP_TIMER_PHYS), 31);
}

static void test_initial_state(void **state)
{
	struct fx *f = *state;
	uint64_t d = 77;

	for (int i = 0; i < 2; i++) {
		uint32_t ctl = i ? R_CNTV_CTL : R_CNTP_CTL, cval = i ? R_CNTV_CVAL : R_CNTP_CVAL;

		assert_int_equal(rd(f, ctl), 0);
		assert_int_equal(rd(f, cval), 0);
	}
	assert_false(hyp_timer_level(&f->vcpu, HYP_TIMER_VIRT));
	assert_false(hyp_timer_level(&f->vcpu, HYP_TIMER_PHYS));
	assert_false(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, f->now, &d));
	assert_int_equal(d, 77);
	expect_no_call(f);
}

/* ---------------------------------------------------------------------------------------------
 * CTL, CVAL, TVAL.
 */

static void test_ctl_bits(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 2; i++) {
		uint32_t ctl = i ? R_CNTV_CTL : R_CNTP_CTL, cval = i ? R_CNTV_CVAL : R_CNTP_CVAL;
		uint32_t ppi = i ? VIRT_PPI : PHYS_PPI;

		/* Not yet due: ENABLE reads back, ISTATUS 0. */
		wr(f, cval, UINT64_MAX);
		wr(f, ctl, CTL_ENABLE);
		assert_int_equal(rd(f, ctl), CTL_ENABLE);
		/* RES0 bits and ISTATUS are ignored on writes. */
		wr(f, ctl, ~(uint64_t)0);
		assert_int_equal(rd(f, ctl), CTL_ENABLE | CTL_IMASK);
		wr(f, ctl, CTL_ISTATUS);
		assert_int_equal(rd(f, ctl), 0);
		wr(f, ctl, UINT64_C(0xfffffffffffffff8) | CTL_ENABLE);
		assert_int_equal(rd(f, ctl), CTL_ENABLE);
		expect_no_call(f);

		/* Due: ISTATUS 1 and the line goes high, once. */
		wr(f, cval, 0);
		expect_only_call(f, ppi, true);
		assert_int_equal(rd(f, ctl), CTL_ENABLE | CTL_ISTATUS);
		/* Writing ISTATUS = 0 neither clears it nor lowers the line. */
		wr(f, ctl, CTL_ENABLE);
		assert_int_equal(rd(f, ctl), CTL_ENABLE | CTL_ISTATUS);
		expect_no_call(f);
		/* Disabled: ISTATUS reads 0 (UNKNOWN architecturally) and the line drops. */
		wr(f, ctl, 0);
		expect_only_call(f, ppi, false);
		assert_int_equal(rd(f, ctl), 0);
		wr(f, ctl, CTL_ISTATUS | CTL_IMASK);
		assert_int_equal(rd(f, ctl), CTL_IMASK);
		expect_no_call(f);
		wr(f, ctl, 0);
	}
}

static void test_imask(void **state)
{
	struct fx *f = *state;

	wr(f, R_CNTP_CVAL, f->now - 1);
	wr(f, R_CNTP_CTL, CTL_ENABLE | CTL_IMASK);
	/* Masked: ISTATUS still reports the condition, but the output stays low. */
	assert_int_equal(rd(f, R_CNTP_CTL), CTL_ENABLE | CTL_IMASK | CTL_ISTATUS);
	assert_false(hyp_timer_level(&f->vcpu, HYP_TIMER_PHYS));
	hyp_timer_update(&f->vcpu, f->now);
	expect_no_call(f);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	expect_only_call(f, PHYS_PPI, true);
	assert_true(hyp_timer_level(&f->vcpu, HYP_TIMER_PHYS));
	wr(f, R_CNTP_CTL, CTL_ENABLE | CTL_IMASK);
	expect_only_call(f, PHYS_PPI, false);
	assert_int_equal(rd(f, R_CNTP_CTL), CTL_ENABLE | CTL_IMASK | CTL_ISTATUS);
	expect_no_call(f);
}

static void test_cval_condition(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = f->now;

	wr(f, R_CNTP_CVAL, t0 + 500);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	assert_int_equal(rd(f, R_CNTP_CVAL), t0 + 500);
	hyp_timer_update(&f->vcpu, t0 + 499);
	expect_no_call(f);
	/* counter >= CVAL: met at equality. */
	hyp_timer_update(&f->vcpu, t0 + 500);
	expect_only_call(f, PHYS_PPI, true);
	for (int i = 0; i < 100; i++)
		hyp_timer_update(&f->vcpu, t0 + 500 + (uint64_t)i * 7);
	expect_no_call(f);
	/* The guest acknowledges by moving CVAL on: the line drops. */
	f->now = t0 + 600;
	wr(f, R_CNTP_CVAL, t0 + 1000);
	expect_only_call(f, PHYS_PPI, false);
	assert_int_equal(rd(f, R_CNTP_CTL), CTL_ENABLE);
	/* Full 64-bit CVAL. */
	wr(f, R_CNTP_CVAL, UINT64_C(0x8000000000000001));
	assert_int_equal(rd(f, R_CNTP_CVAL), UINT64_C(0x8000000000000001));
	expect_no_call(f);
}

static void test_tval_write(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = f->now;

	for (int i = 0; i < 2; i++) {
		uint32_t tval = i ? R_CNTV_TVAL : R_CNTP_TVAL, cval = i ? R_CNTV_CVAL : R_CNTP_CVAL;

		/* CVAL = counter + SignExtend(TVAL[31:0]); value bits [63:32] are ignored. */
		wr(f, tval, 100);
		assert_int_equal(rd(f, cval), t0 + 100);
		wr(f, tval, UINT64_C(0xdeadbeef00000064));
		assert_int_equal(rd(f, cval), t0 + 100);
		wr(f, tval, 0xffffffffu); /* -1 */
		assert_int_equal(rd(f, cval), t0 - 1);
		wr(f, tval, 0x7fffffffu); /* INT32_MAX */
		assert_int_equal(rd(f, cval), t0 + 0x7fffffffu);
		wr(f, tval,
		   0x80000000u); /* INT32_MIN: below 0 for a small counter, so CVAL wraps */
		assert_int_equal(rd(f, cval), t0 - UINT64_C(0x80000000));
		wr(f, tval, 0);
		assert_int_equal(rd(f, cval), t0);
	}
	/* A TVAL write works with the timer disabled, and arms it once enabled. */
	wr(f, R_CNTP_TVAL, 10);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	expect_no_call(f);
	hyp_timer_update(&f->vcpu, t0 + 10);
	expect_only_call(f, PHYS_PPI, true);
	/* A negative TVAL on an enabled timer fires at once; INT32_MIN with a counter below 2^31
	 * gives a CVAL near 2^64, which is never due. */
	f->now = t0 + 10;
	wr(f, R_CNTP_TVAL, 0x80000000u);
	expect_only_call(f, PHYS_PPI, false);
	wr(f, R_CNTP_TVAL, 0xfffffff0u);
	expect_only_call(f, PHYS_PPI, true);
}

static void test_tval_read(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = f->now;

	wr(f, R_CNTP_CVAL, t0 + 1000);
	assert_int_equal(rd(f, R_CNTP_TVAL), 1000);
	f->now += 400;
	assert_int_equal(rd(f, R_CNTP_TVAL), 600);
	/* Past the deadline: (CVAL - counter)[31:0], a negative 32-bit value, bits [63:32] zero. */
	f->now = t0 + 1001;
	assert_int_equal(rd(f, R_CNTP_TVAL), 0xffffffffu);
	f->now = t0 + 1000 + 0x80000000u;
	assert_int_equal(rd(f, R_CNTP_TVAL), 0x80000000u);
	/* Truncation: a CVAL more than 2^32 ahead reads modulo 2^32. */
	f->now = t0;
	wr(f, R_CNTP_CVAL, t0 + (UINT64_C(1) << 32) + 5);
	assert_int_equal(rd(f, R_CNTP_TVAL), 5);
	wr(f, R_CNTP_CVAL, UINT64_MAX);
	assert_int_equal(rd(f, R_CNTP_TVAL), (uint32_t)(UINT64_MAX - t0));
	/* Readable while disabled (UNKNOWN there; this model keeps the arithmetic). */
	assert_int_equal(rd(f, R_CNTP_CTL), 0);
	/* The virtual view counts from CNTVCT. */
	hyp_timer_vm_set_cntvoff(&f->vm, 300);
	wr(f, R_CNTV_CVAL, t0);
	assert_int_equal(rd(f, R_CNTV_TVAL), 300);
	expect_no_call(f);
}

/* ---------------------------------------------------------------------------------------------
 * The virtual counter and CNTVOFF.
 */

static void test_cntvoff(void **state)
{
	struct fx *f = *state;
	uint64_t d = 0;

	assert_int_equal(rd(f, R_CNTVCT), f->now);
	hyp_timer_vm_set_cntvoff(&f->vm, 400000);
	assert_int_equal(hyp_timer_vm_cntvoff(&f->vm), 400000);
	assert_int_equal(rd(f, R_CNTVCT), f->now - 400000);
	assert_int_equal(rd(f, R_CNTVCTSS), f->now - 400000);
	assert_int_equal(rd(f, R_CNTPCT), f->now);
	assert_int_equal(rd(f, R_CNTPCTSS), f->now);
	hyp_timer_vm_set_cntvct(&f->vm, f->now, 5);
	assert_int_equal(rd(f, R_CNTVCT), 5);
	assert_int_equal(hyp_timer_vm_cntvoff(&f->vm), f->now - 5);

	/* The virtual timer fires when CNTVCT reaches CVAL: at CNTPCT = CVAL + CNTVOFF. */
	hyp_timer_vm_set_cntvoff(&f->vm, 400000);
	wr(f, R_CNTV_CVAL, 700000);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	expect_no_call(f);
	assert_true(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_int_equal(d, 1100000);
	hyp_timer_update(&f->vcpu, 1099999);
	expect_no_call(f);
	hyp_timer_update(&f->vcpu, 1100000);
	expect_only_call(f, VIRT_PPI, true);
	/* The physical timer ignores CNTVOFF. */
	wr(f, R_CNTP_CVAL, 700000);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	expect_only_call(f, PHYS_PPI, true);
	/* A larger offset moves CNTVCT back: the line drops at the next evaluation. */
	hyp_timer_vm_set_cntvoff(&f->vm, 800000);
	expect_no_call(f);
	hyp_timer_update(&f->vcpu, f->now);
	expect_only_call(f, VIRT_PPI, false);
}

static void test_cntvoff_wrap(void **state)
{
	struct fx *f = *state;
	uint64_t d = 0, t0 = f->now;

	/* CNTVOFF above CNTPCT: CNTVCT = 2^64 - 10, about to wrap. */
	hyp_timer_vm_set_cntvoff(&f->vm, t0 + 10);
	assert_int_equal(rd(f, R_CNTVCT), UINT64_MAX - 9);
	/* The comparison is unsigned: CVAL = 5 is met now (CNTVCT is huge)... */
	wr(f, R_CNTV_CVAL, 5);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	expect_only_call(f, VIRT_PPI, true);
	assert_int_equal(rd(f, R_CNTV_CTL), CTL_ENABLE | CTL_ISTATUS);
	/* ...no longer once CNTVCT wraps to 0.. 4... */
	hyp_timer_update(&f->vcpu, t0 + 10);
	expect_only_call(f, VIRT_PPI, false);
	assert_true(hyp_timer_next_deadline(&f->vcpu, t0 + 10, &d));
	assert_int_equal(d, t0 + 15);
	/* ...and again from CNTVCT = 5. */
	hyp_timer_update(&f->vcpu, t0 + 15);
	expect_only_call(f, VIRT_PPI, true);

	/* A TVAL written near the wrap gives a CVAL past it: small, so met at once. */
	f->now = t0;
	wr(f, R_CNTV_CTL, 0);
	expect_only_call(f, VIRT_PPI, false);
	wr(f, R_CNTV_TVAL, 100);
	assert_int_equal(rd(f, R_CNTV_CVAL), 90);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	expect_only_call(f, VIRT_PPI, true);

	/* A deadline beyond the physical counter's range is no deadline. CNTPCT = 2^63 and
	 * CNTVOFF = 2^63 make CNTVCT 0; CVAL = 2^63 + 5 would be reached at CNTPCT = 2^64 + 5. */
	f->now = UINT64_C(1) << 63;
	hyp_timer_vm_set_cntvoff(&f->vm, UINT64_C(1) << 63);
	wr(f, R_CNTV_CVAL, (UINT64_C(1) << 63) + 5);
	expect_only_call(f, VIRT_PPI, false);
	d = 42;
	assert_false(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, f->now, &d));
	assert_int_equal(d, 42);
	/* Exactly at the end of the range it still is one. */
	wr(f, R_CNTV_CVAL, (UINT64_C(1) << 63) - 1);
	assert_true(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_int_equal(d, UINT64_MAX);
	expect_no_call(f);
}

/* ---------------------------------------------------------------------------------------------
 * Deadlines and WFI.
 */

static void test_deadlines(void **state)
{
	struct fx *f = *state;
	uint64_t d = 0, t0 = f->now;

	hyp_timer_vm_set_cntvoff(&f->vm, 1000);
	wr(f, R_CNTV_CVAL, t0 - 1000 + 700); /* physical t0 + 700 */
	wr(f, R_CNTP_CVAL, t0 + 300);
	/* Disabled or masked timers have no deadline. */
	wr(f, R_CNTV_CTL, CTL_ENABLE | CTL_IMASK);
	wr(f, R_CNTP_CTL, CTL_IMASK);
	assert_false(hyp_timer_next_deadline(&f->vcpu, t0, &d));
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	assert_true(hyp_timer_next_deadline(&f->vcpu, t0, &d));
	assert_int_equal(d, t0 + 700);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	assert_true(hyp_timer_next_deadline(&f->vcpu, t0, &d));
	assert_int_equal(d, t0 + 300);
	assert_true(hyp_timer_wfi_sleep_until(&f->vcpu, t0, &d));
	assert_int_equal(d, t0 + 300);
	expect_no_call(f);

	/* The physical timer is due (not yet updated): the query says "now". */
	assert_true(hyp_timer_next_deadline(&f->vcpu, t0 + 400, &d));
	assert_int_equal(d, t0 + 400);
	/* WFI at t0 + 400: the physical line goes high, the virtual timer bounds the sleep. */
	assert_true(hyp_timer_wfi_sleep_until(&f->vcpu, t0 + 400, &d));
	expect_only_call(f, PHYS_PPI, true);
	assert_int_equal(d, t0 + 700);
	/* Both high: no timer wakes the vCPU (the GIC decides about the pending ones). */
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, t0 + 800, &d));
	expect_only_call(f, VIRT_PPI, true);
	assert_int_equal(d, t0 + 700);
	/* The plain query still reports "due now" for the firing timers. */
	assert_true(hyp_timer_next_deadline(&f->vcpu, t0 + 800, &d));
	assert_int_equal(d, t0 + 800);

	/* CVAL = UINT64_MAX: due at the very last count of the physical counter. */
	f->now = t0 + 800;
	wr(f, R_CNTP_CVAL, UINT64_MAX);
	expect_only_call(f, PHYS_PPI, false);
	wr(f, R_CNTV_CTL, 0);
	expect_only_call(f, VIRT_PPI, false);
	assert_true(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_int_equal(d, UINT64_MAX);
	/* The virtual timer with CVAL = UINT64_MAX and CNTVOFF > 0 never gets there first. */
	wr(f, R_CNTP_CTL, 0);
	wr(f, R_CNTV_CVAL, UINT64_MAX);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	assert_false(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	expect_no_call(f);
}

static void test_continuous_fire(void **state)
{
	struct fx *f = *state;
	uint64_t d = 99;

	/* The hostile guest: CVAL in the past, IMASK clear, never acknowledged. */
	wr(f, R_CNTV_CVAL, 0);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	wr(f, R_CNTP_TVAL, 0xfffff000u); /* -4096 */
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	assert_int_equal(f->ncalls, 2);
	f->ncalls = 0;
	for (int i = 0; i < 10000; i++) {
		f->now += 3;
		hyp_timer_update(&f->vcpu, f->now);
		assert_int_equal(rd(f, R_CNTV_CTL), CTL_ENABLE | CTL_ISTATUS);
		assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, f->now, &d));
	}
	/* The level was reported once per line, not per poll, and WFI never became a busy wait. */
	expect_no_call(f);
	assert_int_equal(d, 99);
	assert_true(hyp_timer_level(&f->vcpu, HYP_TIMER_VIRT));
	assert_true(hyp_timer_level(&f->vcpu, HYP_TIMER_PHYS));
}

/* ---------------------------------------------------------------------------------------------
 * The hardware virtual timer: load, sync, put.
 */

static void test_load_put_round_trip(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_hw hw;
	uint64_t d = 0, t0 = f->now;

	hyp_timer_vm_set_cntvoff(&f->vm, 777);
	wr(f, R_CNTV_CVAL, t0 + 5000);
	wr(f, R_CNTV_CTL, CTL_ENABLE | CTL_IMASK);
	memset(&hw, 0xa5, sizeof(hw));
	hyp_timer_vcpu_load(&f->vcpu, &hw);
	assert_int_equal(hw.cntvoff, 777);
	assert_int_equal(hw.cval, t0 + 5000);
	assert_int_equal(hw.ctl, CTL_ENABLE | CTL_IMASK);
	assert_false(hw.mask_irq);
	assert_true(f->vcpu.loaded);

	/* Loaded: the hardware has the virtual timer. The model neither answers for it nor
	 * evaluates its stale copy, nor reports a deadline for it. */
	uint64_t v = 1;
	assert_int_equal(hyp_timer_sysreg_read(&f->vcpu, R_CNTV_CTL, &v), -EBUSY);
	assert_int_equal(hyp_timer_sysreg_write(&f->vcpu, R_CNTV_TVAL, 0), -EBUSY);
	assert_int_equal(hyp_timer_sysreg_read(&f->vcpu, R_CNTV_CVAL, &v), -EBUSY);
	assert_int_equal(v, 1);
	assert_int_equal(hyp_timer_vcpu_reset(&f->vcpu), -EBUSY);
	assert_false(hyp_timer_next_deadline(&f->vcpu, t0, &d));
	/* The counters and the physical timer still work. */
	assert_int_equal(rd(f, R_CNTVCT), t0 - 777);
	wr(f, R_CNTP_CVAL, t0 + 10);

	/* The guest (on the hardware) unmasks the timer and moves CVAL: the model learns it at a
	 * sync. */
	f->now = t0 + 6000;
	/* An update skips the loaded virtual timer (its stale copy is masked) and the physical
	 * timer is disabled: nothing to report. */
	hyp_timer_update(&f->vcpu, f->now);
	expect_no_call(f);
	assert_true(hyp_timer_vcpu_sync(&f->vcpu, CTL_ENABLE | CTL_ISTATUS, t0 - 777 + 5500));
	expect_only_call(f, VIRT_PPI, true);
	/* Still unacknowledged at the next exit: masked, nothing re-reported. */
	assert_true(hyp_timer_vcpu_sync(&f->vcpu, CTL_ENABLE | CTL_ISTATUS, t0 - 777 + 5500));
	expect_no_call(f);
	/* Acknowledged (IMASK set by the guest's handler): unmask, line low. */
	assert_false(hyp_timer_vcpu_sync(&f->vcpu, CTL_ENABLE | CTL_IMASK | CTL_ISTATUS,
					 t0 - 777 + 5500));
	expect_only_call(f, VIRT_PPI, false);
	/* Re-armed for later, then scheduled out with stray RES0/ISTATUS bits in the read value. */
	hyp_timer_vcpu_put(&f->vcpu, UINT64_C(0xff00) | CTL_ISTATUS | CTL_ENABLE, t0 - 777 + 9000);
	expect_no_call(f);
	assert_false(f->vcpu.loaded);
	assert_int_equal(rd(f, R_CNTV_CTL), CTL_ENABLE);
	assert_int_equal(rd(f, R_CNTV_CVAL), t0 - 777 + 9000);
	assert_true(hyp_timer_next_deadline(&f->vcpu, f->now, &d));
	assert_int_equal(d, t0 + 9000);
	/* Out: the model delivers it when it is due, while the vCPU is not running. */
	f->now = t0 + 9000;
	hyp_timer_update(&f->vcpu, f->now);
	expect_only_call(f, VIRT_PPI, true);
	/* Loading a vCPU whose timer is high asks for the physical PPI to stay masked. */
	hyp_timer_vcpu_load(&f->vcpu, &hw);
	assert_true(hw.mask_irq);
	assert_int_equal(hw.ctl, CTL_ENABLE);
	assert_int_equal(hw.cval, t0 - 777 + 9000);
	hyp_timer_vcpu_put(&f->vcpu, hw.ctl, hw.cval);
	expect_no_call(f);
}

/* WFI of a loaded vCPU: only the emulated physical timer is the model's. Off or masked and low,
 * it gives no deadline; firing, then turned off, its line drops at the WFI; enabled, its deadline
 * bounds the sleep and, once passed, its line rises. */
static void test_wfi_loaded_physical(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_hw hw;
	uint64_t d = 0, t0 = f->now;

	wr(f, R_CNTV_CVAL, t0 + 100); /* the hardware's: never a deadline while loaded */
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	hyp_timer_vcpu_load(&f->vcpu, &hw);
	expect_no_call(f);
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, t0, &d));
	wr(f, R_CNTP_CVAL, t0 + 50);
	wr(f, R_CNTP_CTL, CTL_ENABLE | CTL_IMASK);
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, t0 + 60, &d));
	expect_no_call(f);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	assert_true(hyp_timer_wfi_sleep_until(&f->vcpu, t0, &d));
	assert_int_equal(d, t0 + 50);
	expect_no_call(f);
	/* Passed: the line rises, and a firing timer is no deadline of its own. */
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, t0 + 60, &d));
	expect_only_call(f, PHYS_PPI, true);
	/* The guest turns it off (the trapped write drops the line) and sleeps again. */
	wr(f, R_CNTP_CTL, 0);
	expect_only_call(f, PHYS_PPI, false);
	assert_false(hyp_timer_wfi_sleep_until(&f->vcpu, t0 + 70, &d));
	expect_no_call(f);
	hyp_timer_vcpu_put(&f->vcpu, hw.ctl, hw.cval);
}

static void test_load_catches_up(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_hw hw;

	wr(f, R_CNTV_CVAL, f->now + 50);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	expect_no_call(f);
	/* Due while out, with no update in between: the load pends it before the vCPU runs. */
	f->now += 60;
	hyp_timer_vcpu_load(&f->vcpu, &hw);
	expect_only_call(f, VIRT_PPI, true);
	assert_true(hw.mask_irq);
	hyp_timer_vcpu_put(&f->vcpu, hw.ctl, hw.cval);
	expect_no_call(f);
}

static void test_reset(void **state)
{
	struct fx *f = *state;

	wr(f, R_CNTV_CVAL, 0);
	wr(f, R_CNTV_CTL, CTL_ENABLE);
	wr(f, R_CNTP_CVAL, 0);
	wr(f, R_CNTP_CTL, CTL_ENABLE);
	assert_int_equal(f->ncalls, 2);
	f->ncalls = 0;
	assert_int_equal(hyp_timer_vcpu_reset(&f->vcpu), 0);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[0].intid, VIRT_PPI);
	assert_false(f->calls[0].level);
	assert_int_equal(f->calls[1].intid, PHYS_PPI);
	assert_false(f->calls[1].level);
	f->ncalls = 0;
	assert_int_equal(rd(f, R_CNTV_CTL), 0);
	assert_int_equal(rd(f, R_CNTP_CVAL), 0);
	assert_int_equal(hyp_timer_vcpu_reset(&f->vcpu), 0);
	expect_no_call(f);
}

/* ---------------------------------------------------------------------------------------------
 * The trapped-register path, as a backend calls it.
 */

static int trap(struct fx *f, uint32_t enc, bool write, uint64_t *value)
{
	struct hyp_sysreg_access a = { .encoding = enc, .is_write = write, .reg = 2 };
	int ret;

	a.value = *value;
	ret = hyp_timer_handle_sysreg(&f->vcpu, &a);
	*value = a.value;
	return ret;
}

static void test_physical_timer_trapped(void **state)
{
	struct fx *f = *state;
	uint64_t v, t0 = f->now;

	/* The guest's timer driver: read the counter, program TVAL, enable, wait, acknowledge. */
	v = 0;
	assert_int_equal(trap(f, R_CNTPCT, false, &v), 0);
	assert_int_equal(v, t0);
	v = 0;
	assert_int_equal(trap(f, R_CNTFRQ, false, &v), 0);
	assert_int_equal(v, FREQ);
	v = 625000; /* 10 ms */
	assert_int_equal(trap(f, R_CNTP_TVAL, true, &v), 0);
	v = CTL_ENABLE;
	assert_int_equal(trap(f, R_CNTP_CTL, true, &v), 0);
	v = 0;
	assert_int_equal(trap(f, R_CNTP_CVAL, false, &v), 0);
	assert_int_equal(v, t0 + 625000);
	expect_no_call(f);

	f->now = t0 + 625000;
	hyp_timer_update(&f->vcpu, f->now);
	expect_only_call(f, PHYS_PPI, true);
	v = 0;
	assert_int_equal(trap(f, R_CNTP_CTL, false, &v), 0);
	assert_int_equal(v, CTL_ENABLE | CTL_ISTATUS);
	v = 625000;
	assert_int_equal(trap(f, R_CNTP_TVAL, true, &v), 0);
	expect_only_call(f, PHYS_PPI, false);

	/* Read-only registers: the MSR is UNDEFINED, and nothing changes. */
	static const uint32_t ro[] = { R_CNTPCT, R_CNTVCT, R_CNTPCTSS, R_CNTVCTSS, R_CNTFRQ };
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		v = 12345;
		assert_int_equal(trap(f, ro[i], true, &v), -EPERM);
		assert_int_equal(v, 12345);
	}
	/* Not a timer register: left to the backend's other handlers, untouched. */
	static const uint32_t other[] = { R_CNTKCTL, ENC(3, 3, 14, 2, 3), ENC(3, 3, 14, 1, 0),
					  ENC(3, 4, 14, 2, 1), ENC(3, 0, 1, 0, 0) };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		v = 777;
		assert_int_equal(trap(f, other[i], false, &v), -ENOENT);
		assert_int_equal(v, 777);
		assert_int_equal(trap(f, other[i], true, &v), -ENOENT);
	}
	assert_int_equal(rd(f, R_CNTP_CVAL), t0 + 2 * 625000);
	expect_no_call(f);
}

static void test_ppi_routing(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_config cfg = config(f);
	struct hyp_timer_vm vm;
	struct hyp_timer_vcpu a, b;
	uint64_t v = 0;

	cfg.virt_intid = 20;
	cfg.phys_intid = 21;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	hyp_timer_vcpu_init(&a, &vm, 0);
	hyp_timer_vcpu_init(&b, &vm, 7);
	assert_int_equal(hyp_timer_sysreg_write(&b, R_CNTV_CTL, CTL_ENABLE), 0);
	assert_int_equal(f->ncalls, 1);
	assert_int_equal(f->calls[0].vcpu, 7);
	assert_int_equal(f->calls[0].intid, 20);
	assert_true(f->calls[0].level);
	assert_int_equal(hyp_timer_sysreg_write(&a, R_CNTP_CTL, CTL_ENABLE), 0);
	assert_int_equal(f->ncalls, 2);
	assert_int_equal(f->calls[1].vcpu, 0);
	assert_int_equal(f->calls[1].intid, 21);
	/* vCPUs are independent. */
	assert_int_equal(hyp_timer_sysreg_read(&a, R_CNTV_CTL, &v), 0);
	assert_int_equal(v, 0);
	assert_false(hyp_timer_level(&a, HYP_TIMER_VIRT));
	assert_true(hyp_timer_level(&b, HYP_TIMER_VIRT));
	f->ncalls = 0;
}

static void test_ticks_to_ns(void **state)
{
	struct fx *f = *state;
	struct hyp_timer_config cfg = config(f);
	struct hyp_timer_vm vm;

	assert_int_equal(hyp_timer_ticks_to_ns(&f->vm, 0), 0);
	assert_int_equal(hyp_timer_ticks_to_ns(&f->vm, 1), 16); /* 62.5 MHz */
	assert_int_equal(hyp_timer_ticks_to_ns(&f->vm, FREQ), 1000000000u);
	assert_int_equal(hyp_timer_ticks_to_ns(&f->vm, 3 * FREQ / 2 + 1), 1500000016u);
	assert_int_equal(hyp_timer_ticks_to_ns(&f->vm, UINT64_MAX), UINT64_MAX);
	cfg.freq = 1000000000u;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, UINT64_MAX), UINT64_MAX);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, UINT64_MAX - 1), UINT64_MAX - 1);
	cfg.freq = UINT32_MAX;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, UINT32_MAX - 1), 999999999u);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, UINT64_MAX), 4294967297000000000u);
	cfg.freq = 1;
	assert_int_equal(hyp_timer_vm_init(&vm, &cfg), 0);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, 18446744073u), 18446744073000000000u);
	assert_int_equal(hyp_timer_ticks_to_ns(&vm, 18446744074u), UINT64_MAX);
}

/* ---------------------------------------------------------------------------------------------
 * Hostile sweep against a reference model.
 */

struct ref_timer {
	uint64_t ctl, cval;
	bool line; /* the level as the recorded set_ppi calls say */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Values a hostile guest or VMM likes: extremes, around the counter, and noise. */
static uint64_t interesting(uint64_t now)
{
	static const uint64_t fixed[] = { 0,
					  1,
					  0x7fffffff,
					  0x80000000,
					  0xffffffff,
					  UINT64_MAX,
					  UINT64_MAX - 1,
					  UINT64_C(1) << 63,
					  0x100000000ull };
	switch (rnd() % 4) {
	case 0:
		return fixed[rnd() % (sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return now + (rnd() % 64) - 32;
	default:
		return rnd();
	}
}

static bool ref_output(const struct ref_timer *t, uint64_t count)
{
	return (t->ctl & 1) && !(t->ctl & 2) && count >= t->cval;
}

static void test_hostile_sweep(void **state)
{
	struct fx *f = *state;
	struct ref_timer ref[2] = { 0 }; /* [0] virtual, [1] physical */
	static const uint32_t regs[2][3] = { { R_CNTV_CTL, R_CNTV_CVAL, R_CNTV_TVAL },
					     { R_CNTP_CTL, R_CNTP_CVAL, R_CNTP_TVAL } };
	uint64_t off = 0;

	for (int step = 0; step < 200000; step++) {
		unsigned int op = (unsigned int)(rnd() % 8), which = (unsigned int)(rnd() % 2);
		struct ref_timer *t = &ref[which];
		uint64_t v = interesting(f->now), count, d;

		f->ncalls = 0;
		switch (op) {
		case 0:
			wr(f, regs[which][0], v);
			t->ctl = v & 3;
			break;
		case 1:
			wr(f, regs[which][1], v);
			t->cval = v;
			break;
		case 2:
			wr(f, regs[which][2], v);
			count = which ? f->now : f->now - off;
			t->cval = count + (uint64_t)(int64_t)(int32_t)(v & 0xffffffffu);
			break;
		case 3:
			f->now += rnd() % 1000;
			hyp_timer_update(&f->vcpu, f->now);
			break;
		case 4:
			if (rnd() % 16 == 0) {
				off = interesting(f->now);
				hyp_timer_vm_set_cntvoff(&f->vm, off);
			}
			hyp_timer_update(&f->vcpu, f->now);
			break;
		case 5: {
			uint64_t ctl = rd(f, regs[which][0]), exp;

			count = which ? f->now : f->now - off;
			exp = t->ctl | (((t->ctl & 1) && count >= t->cval) ? CTL_ISTATUS : 0);
			assert_int_equal(ctl, exp);
			assert_int_equal(rd(f, regs[which][2]), (t->cval - count) & 0xffffffffu);
			break;
		}
		case 6:
			if (hyp_timer_wfi_sleep_until(&f->vcpu, f->now, &d))
				assert_true(d > f->now);
			break;
		default:
			if (hyp_timer_next_deadline(&f->vcpu, f->now, &d))
				assert_true(d >= f->now);
			break;
		}
		/* Every call changes a line, once: each recorded call flips the reference line. */
		for (unsigned int i = 0; i < f->ncalls; i++) {
			unsigned int w = f->calls[i].intid == PHYS_PPI;

			assert_true(f->calls[i].intid == VIRT_PPI || f->calls[i].intid == PHYS_PPI);
			assert_int_equal(f->calls[i].vcpu, 3);
			assert_int_not_equal(f->calls[i].level, ref[w].line);
			ref[w].line = f->calls[i].level;
		}
		/* After an access, the accessed timer's line is what the architecture says;
		 * after an update, both are. */
		if (op <= 2 || op == 5) {
			count = which ? f->now : f->now - off;
			assert_int_equal(t->line, ref_output(t, count));
		}
		if (op == 3 || op == 4 || op == 6) {
			assert_int_equal(ref[0].line, ref_output(&ref[0], f->now - off));
			assert_int_equal(ref[1].line, ref_output(&ref[1], f->now));
		}
		assert_int_equal(hyp_timer_level(&f->vcpu, HYP_TIMER_VIRT), ref[0].line);
		assert_int_equal(hyp_timer_level(&f->vcpu, HYP_TIMER_PHYS), ref[1].line);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encodings),
		cmocka_unit_test_setup_teardown(test_vm_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cval_condition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tval_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tval_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cntvoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cntvoff_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_continuous_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_put_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wfi_loaded_physical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_catches_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_physical_timer_trapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ppi_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticks_to_ns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_sweep, setup, teardown),
	};

	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
