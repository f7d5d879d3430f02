/* SPDX-License-Identifier: MIT */
/*
 * The PL031 RTC model on the mock backend, with a clock the test moves by hand: the ID registers
 * rtc-pl031 probes, the counter, RTCLR, the match alarm (through guest accesses and
 * hyp_pl031_poll()), wrap-around, and hostile accesses. Register semantics: ARM DDI 0224.
 */
#define _POSIX_C_SOURCE 200809L

#include <time.h>

#include "test-helpers.h"

#define RTC 0x09010000ull
#define INTID 34u

#define DR 0x000
#define MR 0x004
#define LR 0x008
#define CR 0x00c
#define IMSC 0x010
#define RIS 0x014
#define MIS 0x018
#define ICR 0x01c

struct clock {
	uint64_t now;
	unsigned reads;
};

static uint64_t clock_now(void *opaque)
{
	struct clock *c = opaque;

	c->reads++;
	return c->now;
}

static void wr(struct test_vm *t, uint64_t offset, uint32_t len, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_X(1), value), 0);
	assert_int_equal(hyp_mock_push_mmio(t->vcpu, RTC + offset, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(t->vcpu);
}

static uint64_t rd(struct test_vm *t, uint64_t offset, uint32_t len)
{
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_X(2), 0xdeadbeefdeadbeefull), 0);
	assert_int_equal(hyp_mock_push_mmio(t->vcpu, RTC + offset, len, 2,
					    len == 8 ? HYP_MOCK_MMIO_REG64 : 0),
			 0);
	test_run_to_end(t->vcpu);
	return test_reg(t->vcpu, HYP_REG_X(2));
}

static int spi(struct test_vm *t)
{
	return hyp_mock_irq_level(t->vm, NULL, INTID);
}

static struct hyp_pl031 *create(struct test_vm *t, struct clock *c, uint64_t start)
{
	struct hyp_pl031_config cfg = {
		.size = sizeof(cfg),
		.clock_fn = clock_now,
		.clock_opaque = c,
	};
	struct hyp_pl031 *rtc = NULL;

	c->now = start;
	c->reads = 0;
	test_vm_create(t);
	assert_int_equal(hyp_pl031_create(t->vm, &cfg, &rtc), 0);
	assert_non_null(rtc);
	return rtc;
}

static void test_probe_and_counter(void **state)
{
	static const uint8_t ids[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;

	(void)state;
	rtc = create(&t, &c, 1700000000);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(&t, 0xfe0 + 4 * i, 4), ids[i]);
	/* Running from reset with the clock's value, as firmware would have left it. */
	assert_int_equal(rd(&t, CR, 4), 1);
	assert_int_equal(rd(&t, DR, 4), 1700000000);
	assert_int_equal(rd(&t, IMSC, 4), 0);
	assert_int_equal(rd(&t, RIS, 4), 0);
	assert_int_equal(rd(&t, MIS, 4), 0);
	c.now += 5;
	assert_int_equal(rd(&t, DR, 4), 1700000005);
	/* rtc-pl031 writes RTC_CR_EN at probe; writing 0 cannot stop it. */
	wr(&t, CR, 4, 1);
	wr(&t, CR, 4, 0);
	assert_int_equal(rd(&t, CR, 4), 1);
	c.now += 1;
	assert_int_equal(rd(&t, DR, 4), 1700000006);
	assert_int_equal(spi(&t), 0);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_load(void **state)
{
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;

	(void)state;
	rtc = create(&t, &c, 1000);
	/* set_time: RTCLR moves the counter, which keeps counting from there. */
	wr(&t, LR, 4, 50);
	assert_int_equal(rd(&t, DR, 4), 50);
	assert_int_equal(rd(&t, LR, 4), 50);
	c.now += 10;
	assert_int_equal(rd(&t, DR, 4), 60);
	/* DR is read-only. */
	wr(&t, DR, 4, 7);
	assert_int_equal(rd(&t, DR, 4), 60);
	/* Jumping past RTCMR with RTCLR is not reaching it. */
	wr(&t, MR, 4, 100);
	wr(&t, LR, 4, 200);
	assert_int_equal(rd(&t, RIS, 4), 0);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_alarm_through_poll(void **state)
{
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;
	uint64_t next = 0;

	(void)state;
	rtc = create(&t, &c, 5000);
	/* set_alarm: MR, clear, unmask. */
	wr(&t, MR, 4, 5003);
	wr(&t, ICR, 4, 1);
	wr(&t, IMSC, 4, 1);
	assert_int_equal(hyp_pl031_poll(rtc, &next), 0);
	assert_int_equal(next, 3);
	c.now += 2;
	assert_int_equal(hyp_pl031_poll(rtc, &next), 0);
	assert_int_equal(next, 1);
	assert_int_equal(spi(&t), 0);
	c.now += 1;
	assert_int_equal(hyp_pl031_poll(rtc, NULL), 1);
	assert_int_equal(spi(&t), 1);
	assert_int_equal(rd(&t, RIS, 4), 1);
	assert_int_equal(rd(&t, MIS, 4), 1);
	/* Latched: still set a second later, until cleared. */
	c.now += 1;
	assert_int_equal(hyp_pl031_poll(rtc, &next), 1);
	assert_int_equal(next, (1ull << 32) - 1);
	wr(&t, ICR, 4, 1);
	assert_int_equal(spi(&t), 0);
	assert_int_equal(rd(&t, RIS, 4), 0);
	assert_int_equal(hyp_pl031_poll(rtc, NULL), 0);
	/* Masked: the raw status latches, the line stays low, nothing to wait for. */
	wr(&t, IMSC, 4, 0);
	wr(&t, MR, 4, 5010);
	assert_int_equal(hyp_pl031_poll(rtc, &next), 0);
	assert_int_equal(next, UINT64_MAX);
	c.now = 5010;
	assert_int_equal(hyp_pl031_poll(rtc, NULL), 0);
	assert_int_equal(rd(&t, RIS, 4), 1);
	assert_int_equal(rd(&t, MIS, 4), 0);
	assert_int_equal(spi(&t), 0);
	/* Unmasking a pending alarm raises the line. */
	wr(&t, IMSC, 4, 1);
	assert_int_equal(spi(&t), 1);
	assert_int_equal(hyp_mock_irq_count(t.vm, NULL, INTID), 2);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_alarm_seen_by_guest_access(void **state)
{
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;

	(void)state;
	rtc = create(&t, &c, 100);
	wr(&t, IMSC, 4, 1);
	wr(&t, MR, 4, 150);
	/* Nobody polls; the clock runs far past the match; the guest's next access sees it. */
	c.now = 400;
	assert_int_equal(spi(&t), 0);
	assert_int_equal(rd(&t, RIS, 4), 1);
	assert_int_equal(spi(&t), 1);
	wr(&t, ICR, 4, 1);
	/* A clock that goes backwards fires nothing, even across the match value. */
	wr(&t, MR, 4, 300);
	c.now = 250;
	assert_int_equal(rd(&t, RIS, 4), 0);
	assert_int_equal(rd(&t, DR, 4), 250);
	/* ...and counting forward again from there does. */
	c.now = 300;
	assert_int_equal(rd(&t, RIS, 4), 1);
	/* Writing RTCMR equal to the counter matches at once. */
	wr(&t, ICR, 4, 1);
	wr(&t, MR, 4, 300);
	assert_int_equal(rd(&t, RIS, 4), 1);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_wrap(void **state)
{
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;
	uint64_t next;

	(void)state;
	rtc = create(&t, &c, 0x100000000ull + 7); /* the host clock beyond 32 bits */
	assert_int_equal(rd(&t, DR, 4), 7);
	wr(&t, LR, 4, 0xfffffffe);
	wr(&t, MR, 4, 1);
	wr(&t, IMSC, 4, 1);
	assert_int_equal(hyp_pl031_poll(rtc, &next), 0);
	assert_int_equal(next, 3);
	c.now += 3;
	assert_int_equal(rd(&t, DR, 4), 1);
	assert_int_equal(spi(&t), 1);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_hostile_accesses(void **state)
{
	struct test_vm t;
	struct clock c;
	struct hyp_pl031 *rtc;

	(void)state;
	rtc = create(&t, &c, 42);
	wr(&t, MR, 4, 1000);
	/* 64-bit, misaligned and straddling accesses: zero, no effect. */
	assert_int_equal(rd(&t, DR, 8), 0);
	assert_int_equal(rd(&t, DR + 1, 4), 0);
	assert_int_equal(rd(&t, 0xffe, 4), 0);
	wr(&t, MR, 8, 5);
	wr(&t, MR + 2, 4, 5);
	/* Narrow stores to 32-bit registers are ignored; narrow loads see their bytes. */
	wr(&t, MR, 2, 5);
	wr(&t, IMSC, 1, 1);
	assert_int_equal(rd(&t, MR, 4), 1000);
	assert_int_equal(rd(&t, MR, 2), 1000);
	assert_int_equal(rd(&t, MR + 1, 1), 1000 >> 8);
	assert_int_equal(rd(&t, IMSC, 4), 0);
	/* Reserved space, write-only ICR, read-only RIS/MIS/IDs. */
	assert_int_equal(rd(&t, 0x020, 4), 0);
	assert_int_equal(rd(&t, ICR, 4), 0);
	wr(&t, RIS, 4, 1);
	wr(&t, MIS, 4, 1);
	wr(&t, 0xfe0, 4, 0);
	assert_int_equal(rd(&t, RIS, 4), 0);
	assert_int_equal(rd(&t, 0xfe0, 4), 0x31);
	/* Only bit 0 of IMSC exists. */
	wr(&t, IMSC, 4, 0xffffffff);
	assert_int_equal(rd(&t, IMSC, 4), 1);
	assert_int_equal(rd(&t, DR, 4), 42);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

static void test_api_misuse_and_host_clock(void **state)
{
	struct hyp_pl031_config cfg = { .size = sizeof(cfg) };
	struct hyp_pl031 *rtc = (struct hyp_pl031 *)&cfg, *sentinel = rtc;
	struct test_vm t;
	uint64_t dr, now;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_pl031_create(NULL, &cfg, &rtc), -EINVAL);
	assert_int_equal(hyp_pl031_create(t.vm, NULL, &rtc), -EINVAL);
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, NULL), -EINVAL);
	cfg.reserved = 1;
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, &rtc), -EINVAL);
	cfg.reserved = 0;
	cfg.flags = HYP_DEV_TX_FD;
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, &rtc), -EINVAL);
	cfg.flags = 0;
	cfg.intid = 5;
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, &rtc), -EINVAL);
	cfg.intid = 0;
	cfg.size = 8;
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, &rtc), -EINVAL);
	cfg.size = sizeof(cfg);
	assert_ptr_equal(rtc, sentinel);
	assert_int_equal(hyp_pl031_poll(NULL, NULL), -EINVAL);
	hyp_pl031_destroy(NULL);

	/* No clock given: the host's. */
	assert_int_equal(hyp_pl031_create(t.vm, &cfg, &rtc), 0);
	now = (uint64_t)time(NULL);
	dr = rd(&t, DR, 4);
	assert_true(dr >= (uint32_t)now && dr <= (uint32_t)now + 2);
	hyp_pl031_destroy(rtc);
	test_vm_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_and_counter),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_alarm_through_poll),
		cmocka_unit_test(test_alarm_seen_by_guest_access),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_hostile_accesses),
		cmocka_unit_test(test_api_misuse_and_host_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
