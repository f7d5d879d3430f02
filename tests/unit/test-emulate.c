// SPDX-License-Identifier: MIT
/*
 * Emulation of loads and stores without an instruction syndrome (lib/core/emulate.c), end to end on
 * the mock backend through the public API: the instruction word sits in guest RAM at the PC, the
 * mock delivers the stage-2 data abort with ESR_EL2.ISS.ISV = 0 that hardware would, and the
 * library must perform the instruction exactly as the Arm ARM pseudocode does (LDR/STR, LDP/STP,
 * LDPSW, writeback, register offsets), through the MMIO callback of a device that behaves like
 * memory, so every result can be predicted.
 *
 * The random test encodes instructions itself from the Arm ARM field layouts and predicts their
 * effect with its own model of the register file and memory; it does not use lib/trap's decoder.
 */
#include "test-helpers.h"

#include <libhyp/sysreg.h>

#define DEV_BASE 0x3ffff000ull /* one page of MMIO right below RAM */
#define DEV_SIZE 0x1000u
#define CODE_IPA (TEST_RAM_BASE + 0x10000)
#define HOLE_IPA 0x20000000ull /* nothing there */

struct access {
	uint64_t ipa;
	uint64_t data;
	uint8_t len;
	uint8_t is_write;
};

struct dev {
	uint8_t mem[DEV_SIZE];
	bool decline;
	unsigned count;
	struct access log[8];
};

static enum hyp_handler_result dev_access(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *a)
{
	struct dev *d = opaque;

	(void)vcpu;
	if (d->count < 8)
		d->log[d->count] = (struct access){ a->ipa, a->data, a->len, a->is_write };
	d->count++;
	if (d->decline)
		return HYP_NOT_HANDLED;
	assert_true(a->offset + a->len <= DEV_SIZE);
	if (a->is_write) {
		for (unsigned i = 0; i < a->len; i++)
			d->mem[a->offset + i] = (uint8_t)(a->data >> (8 * i));
	} else {
		a->data = 0;
		for (unsigned i = 0; i < a->len; i++)
			a->data |= (uint64_t)d->mem[a->offset + i] << (8 * i);
	}
	return HYP_HANDLED;
}

struct fx {
	struct test_vm t;
	struct dev dev;
};

static void fx_init_config(struct fx *f, const struct hyp_vm_config *config)
{
	memset(f, 0, sizeof(*f));
	test_vm_create_with(&f->t, config);
	assert_int_equal(hyp_vm_add_mmio_handler(f->t.vm, DEV_BASE, DEV_SIZE, dev_access, &f->dev),
			 0);
	for (unsigned i = 0; i < DEV_SIZE; i++)
		f->dev.mem[i] = (uint8_t)(i * 7 + 3);
	/* Vectors for injected exceptions. */
	assert_int_equal(hyp_vcpu_set_sysreg(f->t.vcpu, HYP_SYSREG_VBAR_EL1, TEST_RAM_BASE + 0x800),
			 0);
}

static void fx_init_flags(struct fx *f, uint32_t flags)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend = "mock", .flags = flags };

	fx_init_config(f, &config);
}

static void fx_init(struct fx *f)
{
	fx_init_flags(f, 0);
}

static void fx_fini(struct fx *f)
{
	test_vm_destroy(&f->t);
}

static void set(struct fx *f, unsigned n, uint64_t v)
{
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(n), v), 0);
}

static uint64_t x(struct fx *f, unsigned n)
{
	return test_reg(f->t.vcpu, HYP_REG_X(n));
}

static uint64_t dev64(struct fx *f, uint64_t off)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)f->dev.mem[off + i] << (8 * i);
	return v;
}

/* Put @insn at @pc (an IPA in RAM, or a VA the test mapped to @code_ipa) and make the guest
 * execute it: a data abort without syndrome at @fault_ipa. */
static void place(struct fx *f, uint64_t pc, uint64_t code_ipa, uint32_t insn)
{
	assert_int_equal(hyp_vm_write_guest(f->t.vm, code_ipa, &insn, 4), 0);
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_PC, pc), 0);
	assert_int_equal(hyp_mock_push_mmio(f->t.vcpu, DEV_BASE, 8, 0,
					    HYP_MOCK_MMIO_NO_SYNDROME | HYP_MOCK_MMIO_REG64),
			 0);
}

static void exec(struct fx *f, uint32_t insn)
{
	place(f, CODE_IPA, CODE_IPA, insn);
	test_run_to_end(f->t.vcpu);
	assert_int_equal(test_reg(f->t.vcpu, HYP_REG_PC), CODE_IPA + 4);
}

static void test_ldp_stp(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	/* ldp x19, x20, [x21]: two 8-byte reads, in order, base unchanged. */
	set(&f, 21, DEV_BASE + 0x40);
	exec(&f, 0xa94052b3);
	assert_int_equal(x(&f, 19), dev64(&f, 0x40));
	assert_int_equal(x(&f, 20), dev64(&f, 0x48));
	assert_int_equal(x(&f, 21), DEV_BASE + 0x40);
	assert_int_equal(f.dev.count, 2);
	assert_int_equal(f.dev.log[0].ipa, DEV_BASE + 0x40);
	assert_int_equal(f.dev.log[1].ipa, DEV_BASE + 0x48);
	assert_false(f.dev.log[0].is_write);
	assert_int_equal(f.dev.log[0].len, 8);

	/* stp x19, x20, [x21, #-512] */
	f.dev.count = 0;
	set(&f, 19, 0x1111222233334444ull);
	set(&f, 20, 0x5555666677778888ull);
	set(&f, 21, DEV_BASE + 0x300);
	exec(&f, 0xa92052b3);
	assert_int_equal(dev64(&f, 0x100), 0x1111222233334444ull);
	assert_int_equal(dev64(&f, 0x108), 0x5555666677778888ull);
	assert_int_equal(f.dev.log[0].ipa, DEV_BASE + 0x100);
	assert_true(f.dev.log[0].is_write);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x300);

	/* ldp w1, w2, [x3, #252]: 32-bit elements, zero-extended. */
	set(&f, 1, ~0ull);
	set(&f, 2, ~0ull);
	set(&f, 3, DEV_BASE);
	exec(&f, 0x295f8861);
	assert_int_equal(x(&f, 1), dev64(&f, 252) & 0xffffffff);
	assert_int_equal(x(&f, 2), dev64(&f, 256) & 0xffffffff);

	/* ldpsw x1, x2, [x3], #8 with negative words: sign-extended, base + 8. */
	f.dev.mem[0x200 + 3] = 0x80;
	f.dev.mem[0x204 + 3] = 0x7f;
	set(&f, 3, DEV_BASE + 0x200);
	exec(&f, 0x68c10861);
	assert_int_equal(x(&f, 1), (uint64_t)(int64_t)(int32_t)(dev64(&f, 0x200) & 0xffffffff));
	assert_true(x(&f, 1) >> 63);
	assert_int_equal(x(&f, 2), dev64(&f, 0x204) & 0xffffffff);
	assert_int_equal(x(&f, 3), DEV_BASE + 0x208);
	fx_fini(&f);
}

static void test_stack_pair_writeback(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	/* stp x29, x30, [sp, #-16]! in EL1h: SP_EL1 moves down first. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_SP_EL1, DEV_BASE + 0x810), 0);
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_SP_EL0, 0x1234), 0);
	set(&f, 29, 0xaaaa);
	set(&f, 30, 0xbbbb);
	exec(&f, 0xa9bf7bfd);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL1), DEV_BASE + 0x800);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL0), 0x1234);
	assert_int_equal(dev64(&f, 0x800), 0xaaaa);
	assert_int_equal(dev64(&f, 0x808), 0xbbbb);
	/* ldp x29, x30, [sp], #16 */
	set(&f, 29, 0);
	set(&f, 30, 0);
	exec(&f, 0xa8c17bfd);
	assert_int_equal(x(&f, 29), 0xaaaa);
	assert_int_equal(x(&f, 30), 0xbbbb);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL1), DEV_BASE + 0x810);
	/* In EL1t, SP means SP_EL0. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c4), 0);
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_SP_EL0, DEV_BASE + 0x900), 0);
	exec(&f, 0xa9bf7bfd);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL0), DEV_BASE + 0x8f0);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL1), DEV_BASE + 0x810);
	fx_fini(&f);
}

static void test_single_forms(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	/* ldrsb x19, [x21], #1 on 0x80: sign-extended to 64 bits, base + 1. */
	f.dev.mem[0x151] = 0x80;
	set(&f, 21, DEV_BASE + 0x151);
	exec(&f, 0x388016b3);
	assert_int_equal(x(&f, 19), 0xffffffffffffff80ull);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x152);
	assert_int_equal(f.dev.log[0].len, 1);
	/* ldrsb w9, [x10, #1]: sign-extended to 32 bits, upper half zero. */
	set(&f, 10, DEV_BASE + 0x150);
	exec(&f, 0x39c00549);
	assert_int_equal(x(&f, 9), 0xffffff80ull);
	/* ldr x1, [x2], #-8 (post-index) */
	set(&f, 2, DEV_BASE + 0x18);
	exec(&f, 0xf85f8441);
	assert_int_equal(x(&f, 1), dev64(&f, 0x18));
	assert_int_equal(x(&f, 2), DEV_BASE + 0x10);
	/* strb w5, [x6, #-256]! (pre-index) */
	set(&f, 5, 0x1ee);
	set(&f, 6, DEV_BASE + 0x300);
	exec(&f, 0x38100cc5);
	assert_int_equal(f.dev.mem[0x200], 0xee);
	assert_int_equal(x(&f, 6), DEV_BASE + 0x200);
	/* strb wzr, [x0]: stores zero. */
	set(&f, 0, DEV_BASE + 0x201);
	exec(&f, 0x3900001f);
	assert_int_equal(f.dev.mem[0x201], 0);
	/* ldr w1, [x2, w3, sxtw #2] with W3 = -1 (upper half of X3 is garbage). */
	set(&f, 2, DEV_BASE + 0x104);
	set(&f, 3, 0x12345678ffffffffull);
	exec(&f, 0xb863d841);
	assert_int_equal(x(&f, 1), dev64(&f, 0x100) & 0xffffffff);
	/* ldr x1, [x1], #8: writeback into the loaded register is CONSTRAINED UNPREDICTABLE; the
	 * library suppresses the writeback and the loaded value stays. */
	set(&f, 1, DEV_BASE + 0x20);
	exec(&f, 0xf8408421);
	assert_int_equal(x(&f, 1), dev64(&f, 0x20));
	/* ldar x1, [x2]: acquire reported to the callback. */
	set(&f, 2, DEV_BASE + 0x28);
	exec(&f, 0xc8dffc41);
	assert_int_equal(x(&f, 1), dev64(&f, 0x28));
	fx_fini(&f);
}

/* A pair whose first half is the device's last 8 bytes and whose second half is RAM. */
static void test_pair_straddles_mmio_and_ram(void **state)
{
	uint64_t ram0;
	struct fx f;

	(void)state;
	fx_init(&f);
	memcpy(f.t.ram, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	set(&f, 21, DEV_BASE + DEV_SIZE - 8);
	exec(&f, 0xa94052b3);
	assert_int_equal(x(&f, 19), dev64(&f, DEV_SIZE - 8));
	assert_int_equal(x(&f, 20), 0x0807060504030201ull);
	assert_int_equal(f.dev.count, 1);
	/* stp: the second element lands in RAM. */
	set(&f, 19, 0x1122334455667788ull);
	set(&f, 20, 0x99aabbccddeeff00ull);
	exec(&f, 0xa90052b3);
	memcpy(&ram0, f.t.ram, 8);
	assert_int_equal(ram0, 0x99aabbccddeeff00ull);
	assert_int_equal(dev64(&f, DEV_SIZE - 8), 0x1122334455667788ull);
	fx_fini(&f);
}

/* Elements no callback handles reach the caller one by one as ordinary MMIO exits. */
static void test_declined_elements_reach_the_caller(void **state)
{
	struct hyp_exit *e;
	struct fx f;

	(void)state;
	fx_init(&f);
	f.dev.decline = true;
	set(&f, 21, DEV_BASE + 0x40);
	place(&f, CODE_IPA, CODE_IPA, 0xa94052b3); /* ldp x19, x20, [x21] */
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(e->mmio.ipa, DEV_BASE + 0x40);
	assert_int_equal(e->mmio.len, 8);
	assert_false(e->mmio.is_write);
	assert_int_equal(e->mmio.reg, 19);
	assert_int_equal((e->raw.esr >> 24) & 1, 0); /* the raw syndrome is the ISV = 0 abort */
	e->mmio.data = 0xa1;
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(e->mmio.ipa, DEV_BASE + 0x48);
	assert_int_equal(e->mmio.reg, 20);
	e->mmio.data = 0xb2;
	test_run_to_end(f.t.vcpu);
	assert_int_equal(x(&f, 19), 0xa1);
	assert_int_equal(x(&f, 20), 0xb2);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), CODE_IPA + 4);

	/* str x19, [x21, #16]! declined: the caller sees the write; the writeback happens when it
	 * resumes the vCPU. */
	place(&f, CODE_IPA, CODE_IPA, 0xf8010eb3);
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_true(e->mmio.is_write);
	assert_int_equal(e->mmio.data, 0xa1);
	assert_int_equal(e->mmio.ipa, DEV_BASE + 0x50);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x40);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x50);

	/* The caller may answer the first element with an abort: the instruction is abandoned. */
	set(&f, 19, 7);
	set(&f, 21, DEV_BASE + 0x40);
	place(&f, CODE_IPA, CODE_IPA, 0xa8c152b3); /* ldp x19, x20, [x21], #16 */
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(
		hyp_vcpu_inject_exception(f.t.vcpu, HYP_INJECT_DATA_ABORT, DEV_BASE + 0x40), 0);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(x(&f, 19), 7);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x40);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x800 + 0x200);
	fx_fini(&f);
}

/* The guest took a data abort from EL1 with fault status @fsc at @far. */
static void expect_abort_fsc(struct fx *f, uint64_t far, bool is_write, unsigned fsc)
{
	uint64_t esr, got_far;

	assert_int_equal(hyp_mock_last_injection(f->t.vcpu, &esr, &got_far), 1);
	assert_int_equal(esr >> 26, 0x25); /* data abort, current EL */
	assert_int_equal(esr & 0x3f, fsc);
	assert_int_equal((esr >> 6) & 1, is_write);
	assert_int_equal(got_far, far);
	assert_int_equal(test_reg(f->t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x800 + 0x200);
}

/* ... a synchronous external abort (DFSC 0x10). */
static void expect_abort(struct fx *f, uint64_t far, bool is_write)
{
	expect_abort_fsc(f, far, is_write, 0x10);
}

static void test_unemulatable_and_unclaimed(void **state)
{
	struct hyp_exit *e;
	struct fx f;

	(void)state;
	/* Default policy: exclusives and atomics come back as accesses without syndrome. */
	fx_init(&f);
	set(&f, 2, DEV_BASE + 0x10);
	set(&f, 1, 99);
	place(&f, CODE_IPA, CODE_IPA, 0xc85f7c41); /* ldxr x1, [x2] */
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MEM_FAULT);
	assert_int_equal(e->fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_int_equal(x(&f, 1), 99);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), CODE_IPA);
	assert_int_equal(f.dev.count, 0);
	/* An element with nothing behind it, no handler: an MMIO exit at the hole. */
	set(&f, 21, HOLE_IPA);
	place(&f, CODE_IPA, CODE_IPA, 0xa94052b3);
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(e->mmio.ipa, HOLE_IPA);
	fx_fini(&f);

	/* HYP_VM_ABORT_UNCLAIMED: both get the architected external abort, at the access. */
	fx_init_flags(&f, HYP_VM_ABORT_UNCLAIMED);
	set(&f, 2, DEV_BASE + 0x10);
	set(&f, 1, 99);
	place(&f, CODE_IPA, CODE_IPA, 0xc8a17c62); /* cas x1, x2, [x3] */
	set(&f, 3, DEV_BASE + 0x10);
	test_run_to_end(f.t.vcpu);
	expect_abort(&f, DEV_BASE /* the FAR the hardware (here the mock) reported */, false);
	assert_int_equal(f.dev.count, 0);
	/* stp x19, x20, [x21], #16 into the hole: abort at the first element, nothing written,
	 * no writeback. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	set(&f, 21, HOLE_IPA + 0x20);
	place(&f, CODE_IPA, CODE_IPA, 0xa88152b3);
	test_run_to_end(f.t.vcpu);
	expect_abort(&f, HOLE_IPA + 0x20, true);
	assert_int_equal(x(&f, 21), HOLE_IPA + 0x20);
	/* A pair from the device's last word into the hole: the second element aborts. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	set(&f, 19, 5);
	set(&f, 21, DEV_BASE - 8);
	place(&f, CODE_IPA, CODE_IPA, 0xa94052b3);
	test_run_to_end(f.t.vcpu);
	expect_abort(&f, DEV_BASE - 8, false);
	assert_int_equal(x(&f, 19), 5);
	fx_fini(&f);
}

/* ---------------------------------------------------------------------------------------------
 * With the guest's MMU on: the instruction and the data are found through its stage-1 tables.
 */
#define PT_IPA (TEST_RAM_BASE + 0x20000) /* L1, L2, L3 at +0, +0x1000, +0x2000 */
#define CODE_VA 0xffffffffc0201000ull
#define DEV_VA 0xffffffffc0203000ull

static void put_desc(struct fx *f, uint64_t ipa, uint64_t desc)
{
	assert_int_equal(hyp_vm_write_guest(f->t.vm, ipa, &desc, 8), 0);
}

/* TTBR1, 4K granule, 39-bit VAs: VA 0xffffffffc0200000 is L1 index 511, L2 index 1. */
static void mmu_on(struct fx *f)
{
	const uint64_t page = 3 | (1 << 10); /* page, AF */

	put_desc(f, PT_IPA + 511 * 8, (PT_IPA + 0x1000) | 3);
	put_desc(f, PT_IPA + 0x1000 + 1 * 8, (PT_IPA + 0x2000) | 3);
	put_desc(f, PT_IPA + 0x2000 + 1 * 8, CODE_IPA | page);
	put_desc(f, PT_IPA + 0x2000 + 3 * 8, DEV_BASE | page);
	/* VA page 4 is unmapped. */
	assert_int_equal(hyp_vcpu_set_sysreg(f->t.vcpu, HYP_SYSREG_TTBR1_EL1, PT_IPA), 0);
	assert_int_equal(hyp_vcpu_set_sysreg(f->t.vcpu, HYP_SYSREG_TCR_EL1,
					     (25ull << 16) | (2ull << 30) | (5ull << 32) | 0x80),
			 0);
	assert_int_equal(hyp_vcpu_set_sysreg(f->t.vcpu, HYP_SYSREG_SCTLR_EL1, 0x30d00801), 0);
}

static void test_mmu_on(void **state)
{
	struct fx f;

	(void)state;
	fx_init_flags(&f, HYP_VM_ABORT_UNCLAIMED);
	mmu_on(&f);
	set(&f, 21, DEV_VA + 0x40);
	place(&f, CODE_VA, CODE_IPA, 0xa94052b3);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), CODE_VA + 4);
	assert_int_equal(x(&f, 19), dev64(&f, 0x40));
	assert_int_equal(x(&f, 20), dev64(&f, 0x48));
	assert_int_equal(f.dev.log[0].ipa, DEV_BASE + 0x40);
	assert_int_equal(f.dev.log[1].ipa, DEV_BASE + 0x48);

	/* The second element's page is not mapped at stage 1: the instruction takes the
	 * translation fault (level 3) the MMU would have given at it, and the first element is
	 * not performed either. */
	f.dev.count = 0;
	set(&f, 19, 1);
	set(&f, 21, DEV_VA + DEV_SIZE - 8);
	place(&f, CODE_VA, CODE_IPA, 0xa90052b3); /* stp */
	test_run_to_end(f.t.vcpu);
	expect_abort_fsc(&f, DEV_VA + DEV_SIZE, true, 0x07);
	assert_int_equal(f.dev.count, 0);

	/* The same with the next page mapped but its access flag clear: an access flag fault. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	put_desc(&f, PT_IPA + 0x2000 + 4 * 8, (DEV_BASE + DEV_SIZE) | 3);
	place(&f, CODE_VA, CODE_IPA, 0xa90052b3);
	test_run_to_end(f.t.vcpu);
	expect_abort_fsc(&f, DEV_VA + DEV_SIZE, true, 0x0b);
	assert_int_equal(f.dev.count, 0);

	/* With hardware access flag management (TCR_EL1.HA) the walk sets the flag in guest RAM
	 * and the access goes ahead ... */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	assert_int_equal(hyp_vcpu_set_sysreg(f.t.vcpu, HYP_SYSREG_TCR_EL1,
					     (25ull << 16) | (2ull << 30) | (5ull << 32) | 0x80 |
						     (1ull << 39)),
			 0);
	set(&f, 21, DEV_VA + 0x40);
	put_desc(&f, PT_IPA + 0x2000 + 3 * 8, DEV_BASE | 3); /* AF clear */
	place(&f, CODE_VA, CODE_IPA, 0xa94052b3);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), CODE_VA + 4);
	{
		uint64_t d;

		assert_int_equal(hyp_vm_read_guest(f.t.vm, PT_IPA + 0x2000 + 3 * 8, &d, 8), 0);
		assert_int_equal(d, DEV_BASE | 3 | (1 << 10));
	}
	/* ... but never writes a table the guest keeps in read-only memory: there the walk
	 * fails, as the MMU's write would, and the guest gets an abort on its walk (level 3). */
	{
		static uint8_t rom[4096] __attribute__((aligned(4096)));
		const uint64_t rom_ipa = 0x50000000, desc = DEV_BASE | 3; /* AF clear */
		uint64_t d;

		memcpy(rom + 3 * 8, &desc, 8);
		assert_int_equal(hyp_vm_map(f.t.vm, rom_ipa, rom, sizeof(rom), HYP_MEM_RO), 0);
		put_desc(&f, PT_IPA + 0x1000 + 1 * 8, rom_ipa | 3); /* L2 entry 1 -> the ROM */
		place(&f, CODE_VA, CODE_IPA, 0xa94052b3);
		/* (the code page's own entry is in the ROM table now: give it one with AF set) */
		d = CODE_IPA | 3 | (1 << 10);
		memcpy(rom + 1 * 8, &d, 8);
		test_run_to_end(f.t.vcpu);
		expect_abort_fsc(&f, DEV_VA + 0x40, false, 0x17);
		memcpy(&d, rom + 3 * 8, 8);
		assert_int_equal(d, desc);
		assert_int_equal(hyp_vm_unmap(f.t.vm, rom_ipa, sizeof(rom)), 0);
		put_desc(&f, PT_IPA + 0x1000 + 1 * 8, (PT_IPA + 0x2000) | 3);
	}
	assert_int_equal(hyp_vcpu_set_sysreg(f.t.vcpu, HYP_SYSREG_TCR_EL1,
					     (25ull << 16) | (2ull << 30) | (5ull << 32) | 0x80),
			 0);

	/* Big-endian data at EL1 (SCTLR_EL1.EE) is not emulated: the exit comes back. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	assert_int_equal(hyp_vcpu_set_sysreg(f.t.vcpu, HYP_SYSREG_SCTLR_EL1, 0x32d00801), 0);
	set(&f, 21, DEV_VA + 0x40);
	place(&f, CODE_VA, CODE_IPA, 0xa94052b3);
	/* (The walk is little-endian only too.) Under HYP_VM_ABORT_UNCLAIMED that is an external
	 * abort at the faulting address the hardware reported. */
	test_run_to_end(f.t.vcpu);
	expect_abort(&f, DEV_BASE, false);
	fx_fini(&f);
}

/* The walk's access flag update is the vCPU's write: with a dirty ring, the descriptor's page is
 * in that vCPU's ring (a live copy learns of it as of the guest's own stores), not only in the
 * region's log. */
static void test_walk_update_in_dirty_ring(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.dirty_ring_entries = 256 };
	hyp_ipa_t pages[8];
	struct fx f;
	uint64_t d;

	(void)state;
	fx_init_config(&f, &config);
	mmu_on(&f);
	assert_int_equal(hyp_vcpu_set_sysreg(f.t.vcpu, HYP_SYSREG_TCR_EL1,
					     (25ull << 16) | (2ull << 30) | (5ull << 32) | 0x80 |
						     (1ull << 39)),
			 0);
	put_desc(&f, PT_IPA + 0x2000 + 3 * 8, DEV_BASE | 3); /* AF clear */
	assert_int_equal(hyp_vm_dirty_log_enable(f.t.vm, TEST_RAM_BASE, true), 0);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f.t.vm, pages, 8), 0);
	set(&f, 21, DEV_VA + 0x40);
	place(&f, CODE_VA, CODE_IPA, 0xa94052b3);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(test_reg(f.t.vcpu, HYP_REG_PC), CODE_VA + 4);
	assert_int_equal(hyp_vm_read_guest(f.t.vm, PT_IPA + 0x2000 + 3 * 8, &d, 8), 0);
	assert_int_equal(d, DEV_BASE | 3 | (1 << 10));
	assert_int_equal(hyp_vm_dirty_ring_harvest(f.t.vm, pages, 8), 1);
	assert_int_equal(pages[0], PT_IPA + 0x2000);
	fx_fini(&f);
}

/* SIMD&FP register forms: Q registers as two 8-byte accesses, smaller ones zero-extend the
 * vector register on loads; the registers come and go through hyp_vcpu_get/set_fp_regs(). */
static void test_simd_forms(void **state)
{
	struct hyp_fp_regs fp;
	struct hyp_exit *e;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(hyp_vcpu_get_fp_regs(NULL, &fp), -EINVAL);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, NULL), -EINVAL);
	assert_int_equal(hyp_vcpu_set_fp_regs(f.t.vcpu, NULL), -EINVAL);
	/* A vCPU's SIMD&FP registers start at zero. */
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	assert_int_equal(fp.v[31][15] | fp.fpsr | fp.fpcr, 0);
	memset(&fp, 0xee, sizeof(fp));
	assert_int_equal(hyp_vcpu_set_fp_regs(f.t.vcpu, &fp), 0);

	/* ldr q0, [x21], #16 */
	set(&f, 21, DEV_BASE + 0x100);
	exec(&f, 0x3cc106a0);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	assert_memory_equal(fp.v[0], &f.dev.mem[0x100], 16);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x110);
	assert_int_equal(f.dev.count, 2);
	assert_int_equal(f.dev.log[0].len, 8);
	assert_int_equal(f.dev.log[1].ipa, DEV_BASE + 0x108);

	/* ldp q0, q1, [x21]: four 8-byte reads. */
	f.dev.count = 0;
	exec(&f, 0xad4006a0);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	assert_memory_equal(fp.v[0], &f.dev.mem[0x110], 16);
	assert_memory_equal(fp.v[1], &f.dev.mem[0x120], 16);
	assert_int_equal(f.dev.count, 4);

	/* ldr d0, [x21, #8]: V0's upper 64 bits cleared. */
	exec(&f, 0xfd4006a0);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	assert_memory_equal(fp.v[0], &f.dev.mem[0x118], 8);
	for (unsigned i = 8; i < 16; i++)
		assert_int_equal(fp.v[0][i], 0);
	/* ... and the other registers untouched. */
	assert_int_equal(fp.v[2][0], 0xee);

	/* stp q0, q1, [x21, #32] with known values. */
	for (unsigned i = 0; i < 16; i++) {
		fp.v[0][i] = (uint8_t)(0x10 + i);
		fp.v[1][i] = (uint8_t)(0x40 + i);
	}
	assert_int_equal(hyp_vcpu_set_fp_regs(f.t.vcpu, &fp), 0);
	exec(&f, 0xad0106a0);
	assert_memory_equal(&f.dev.mem[0x130], fp.v[0], 16);
	assert_memory_equal(&f.dev.mem[0x140], fp.v[1], 16);

	/* str s0, [x21], #-4: four bytes, post-index. */
	exec(&f, 0xbc1fc6a0);
	assert_memory_equal(&f.dev.mem[0x110], fp.v[0], 4);
	assert_int_equal(x(&f, 21), DEV_BASE + 0x10c);

	/* ldr b0, [x21, x22]: register offset. */
	set(&f, 22, 0x34);
	exec(&f, 0x3c767aa0);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	assert_int_equal(fp.v[0][0], f.dev.mem[0x140]);
	assert_int_equal(fp.v[0][1], 0);

	/* Declined: the caller sees the 8-byte halves of a Q register as MMIO exits. */
	f.dev.decline = true;
	set(&f, 21, DEV_BASE + 0x200);
	place(&f, CODE_IPA, CODE_IPA, 0x3cc106a0);
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(e->mmio.len, 8);
	assert_int_equal(e->mmio.ipa, DEV_BASE + 0x200);
	e->mmio.data = 0x0706050403020100ull;
	e = test_run_expect(f.t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(e->mmio.ipa, DEV_BASE + 0x208);
	e->mmio.data = 0x0f0e0d0c0b0a0908ull;
	test_run_to_end(f.t.vcpu);
	assert_int_equal(hyp_vcpu_get_fp_regs(f.t.vcpu, &fp), 0);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(fp.v[0][i], i);
	fx_fini(&f);
}

/* HYP_VM_ABORT_UNCLAIMED on a stage-2 fault of the guest's own table walk (ISS.S1PTW): the
 * guest gets an external abort on the walk, with the level its walk reached, as a data or an
 * instruction abort after the access that walked (issue 10, item 11). */
static void test_walk_fault_policy(void **state)
{
	const uint64_t va = 0xffffffffc0600000ull; /* L1 index 511, L2 index 3 */
	uint64_t esr, far;
	struct fx f;

	(void)state;
	fx_init_flags(&f, HYP_VM_ABORT_UNCLAIMED);
	mmu_on(&f);
	/* L2 entry 3 points to a level-3 table in the hole. */
	put_desc(&f, PT_IPA + 0x1000 + 3 * 8, HOLE_IPA | 3);
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PC, CODE_VA), 0);
	/* Data side: ESR_EL2 = DABT_LOW, IL, S1PTW, DFSC = stage-2 translation fault level 3;
	 * HPFAR = the hole's page, FAR = the VA being translated. */
	assert_int_equal(hyp_mock_push_raw(f.t.vcpu,
					   (0x24ull << 26) | (1ull << 25) | (1u << 7) | 0x07,
					   va + 0x10, (HOLE_IPA >> 12) << 4),
			 0);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(hyp_mock_last_injection(f.t.vcpu, &esr, &far), 1);
	assert_int_equal(esr >> 26, 0x25);  /* data abort, current EL */
	assert_int_equal(esr & 0x3f, 0x17); /* external abort on the walk, level 3 */
	assert_int_equal(far, va + 0x10);
	/* Instruction side: an instruction abort, not a data abort. */
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PSTATE, 0x3c5), 0);
	assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_PC, va + 0x20), 0);
	assert_int_equal(hyp_mock_push_raw(f.t.vcpu,
					   (0x20ull << 26) | (1ull << 25) | (1u << 7) | 0x07,
					   va + 0x20, (HOLE_IPA >> 12) << 4),
			 0);
	test_run_to_end(f.t.vcpu);
	assert_int_equal(hyp_mock_last_injection(f.t.vcpu, &esr, &far), 1);
	assert_int_equal(esr >> 26, 0x21); /* instruction abort, current EL */
	assert_int_equal(esr & 0x3f, 0x17);
	assert_int_equal(far, va + 0x20);
	fx_fini(&f);
}

/* A callback that redirects the guest (sets the PC) ends the emulated instruction there, as on
 * the path with a syndrome: no further element, no writeback, no PC advance. */
static enum hyp_handler_result redirecting_access(void *opaque, struct hyp_vcpu *vcpu,
						  struct hyp_mmio_access *a)
{
	unsigned *calls = opaque;

	(*calls)++;
	a->data = 0x77;
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_PC, TEST_RAM_BASE + 0x3000), 0);
	return HYP_HANDLED;
}

static void test_callback_moves_pc(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend = "mock" };
	unsigned calls = 0;
	struct test_vm t;

	(void)state;
	test_vm_create_with(&t, &config);
	assert_int_equal(
		hyp_vm_add_mmio_handler(t.vm, DEV_BASE, DEV_SIZE, redirecting_access, &calls), 0);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(21), DEV_BASE + 0x40), 0);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(19), 5), 0);
	{
		uint32_t insn = 0xa8c152b3; /* ldp x19, x20, [x21], #16 */

		assert_int_equal(hyp_vm_write_guest(t.vm, CODE_IPA, &insn, 4), 0);
	}
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_PC, CODE_IPA), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 8, 0,
					    HYP_MOCK_MMIO_NO_SYNDROME | HYP_MOCK_MMIO_REG64),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(calls, 1);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x3000);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(19)), 5);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(21)), DEV_BASE + 0x40);
	test_vm_destroy(&t);
}

/* ---------------------------------------------------------------------------------------------
 * Random instructions against a model.
 */
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct model {
	uint64_t x[31];
	uint64_t sp;
	uint8_t mem[DEV_SIZE];
};

static uint64_t model_reg(const struct model *m, unsigned n, bool sp)
{
	return n == 31 ? (sp ? m->sp : 0) : m->x[n];
}

static uint64_t ld(const struct model *m, uint64_t addr, unsigned size, bool sext, bool dest64)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)m->mem[addr - DEV_BASE + i] << (8 * i);
	if (sext && size < 8) {
		v = (uint64_t)((int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size));
		if (!dest64)
			v &= 0xffffffffu;
	}
	return v;
}

static void st(struct model *m, uint64_t addr, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		m->mem[addr - DEV_BASE + i] = (uint8_t)(v >> (8 * i));
}

static unsigned pick_reg(unsigned avoid1, unsigned avoid2)
{
	unsigned r;

	do
		r = (unsigned)(rnd() % 32);
	while (r == avoid1 || r == avoid2);
	return r;
}

/* One random instruction: encode it, set up the registers it needs in @m, predict its effect in
 * @post, return the word. */
static uint32_t random_insn(struct model *m, struct model *post)
{
	unsigned kind = (unsigned)(rnd() % 6);
	unsigned rn = (unsigned)(rnd() % 32), rt, rt2 = 32;
	bool pair = kind >= 4;
	unsigned size, opc, mode;
	bool load, sext = false, dest64 = true;
	uint64_t base, target, offset_bits = 0;
	int64_t imm;
	uint32_t insn;

	if (pair) {
		/* opc 00 W, 10 X, 01 LDPSW (loads only). */
		static const unsigned pair_opc[3] = { 0, 2, 1 };
		opc = pair_opc[rnd() % 3];
		load = opc == 1 || (rnd() & 1);
		size = opc == 2 ? 8 : 4;
		sext = opc == 1;
		mode = 1 + (unsigned)(rnd() % 3); /* 1 post, 2 offset, 3 pre */
		rt = pick_reg(mode != 2 && rn != 31 ? rn : 32, 32);
		rt2 = pick_reg(mode != 2 && rn != 31 ? rn : 32, load ? rt : 32);
		imm = (int64_t)(rnd() % 128) - 64;
		target = DEV_BASE + (rnd() % (DEV_SIZE / size - 1)) * size;
		base = mode == 1 ? target : target - (uint64_t)(imm * (int64_t)size);
		insn = (opc << 30) | (0x5u << 27) | (mode << 23) | ((unsigned)load << 22) |
		       (((uint32_t)imm & 0x7f) << 15) | (rt2 << 10) | (rn << 5) | rt;
	} else {
		unsigned lg = (unsigned)(rnd() % 4);

		size = 1u << lg;
		/* opc: 0 store, 1 load, 2 load signed to X (not for 8 bytes), 3 to W (1, 2). */
		do
			opc = (unsigned)(rnd() % 4);
		while ((opc == 2 && lg == 3) || (opc == 3 && lg >= 2));
		load = opc != 0;
		sext = opc >= 2;
		dest64 = opc != 3;
		mode = kind; /* 0 unsigned offset, 1 imm9 (unscaled/pre/post), 2 register, 3 pre */
		rt = pick_reg(kind == 1 || kind == 3 ? (rn != 31 ? rn : 32) : 32, 32);
		target = DEV_BASE + (rnd() % (DEV_SIZE / size)) * size;
		if (kind == 0) {
			imm = (int64_t)(rnd() % 4096);
			base = target - (uint64_t)imm * size;
			insn = (lg << 30) | (0x7u << 27) | (1u << 24) | (opc << 22) |
			       ((uint32_t)imm << 10) | (rn << 5) | rt;
		} else if (kind == 2) {
			/* [Xn, Rm, SXTW #s] or [Xn, Xm, LSL #s]: Rm differs from Rn and Rt. */
			unsigned rm = pick_reg(rn, rt);
			bool sxtw = rnd() & 1, s = rnd() & 1;
			int64_t idx = (int64_t)(rnd() % 512) - 256;
			uint64_t rmv;

			if (rm == 31)
				idx = 0;
			base = target - ((uint64_t)idx << (s ? lg : 0));
			rmv = sxtw ? ((rnd() << 32) | (uint32_t)idx) : (uint64_t)idx;
			if (rm != 31)
				m->x[rm] = rmv;
			insn = (lg << 30) | (0x7u << 27) | (opc << 22) | (1u << 21) | (rm << 16) |
			       ((sxtw ? 6u : 3u) << 13) | ((unsigned)s << 12) | (2u << 10) |
			       (rn << 5) | rt;
			mode = 2;
		} else {
			/* op4: 0 unscaled, 1 post-index, 3 pre-index. */
			static const unsigned op4s[3] = { 0, 1, 3 };
			unsigned op4 = op4s[rnd() % 3];

			if (op4 == 0)
				rt = pick_reg(32, 32);
			imm = (int64_t)(rnd() % 512) - 256;
			base = op4 == 1 ? target : target - (uint64_t)imm;
			insn = (lg << 30) | (0x7u << 27) | (opc << 22) |
			       (((uint32_t)imm & 0x1ff) << 12) | (op4 << 10) | (rn << 5) | rt;
			mode = op4 == 1 ? 1 : op4 == 3 ? 3 : 2;
		}
	}
	(void)offset_bits;
	/* The base register holds @base. With rn = 31 (SP) the model's SP does. */
	if (rn == 31)
		m->sp = base;
	else
		m->x[rn] = base;

	/* Predict. */
	*post = *m;
	m = post;
	{
		uint64_t addr = target;
		uint64_t v1 = model_reg(m, rt, false), v2 = pair ? model_reg(m, rt2, false) : 0;
		uint64_t new_base = mode == 1 ? base + (pair ? (uint64_t)(imm * (int64_t)size) :
							       (uint64_t)imm) :
						target;

		if (load) {
			uint64_t a = ld(m, addr, size, sext, dest64);
			uint64_t b = pair ? ld(m, addr + size, size, sext, dest64) : 0;

			if (rt != 31)
				m->x[rt] = a;
			if (pair && rt2 != 31)
				m->x[rt2] = b;
		} else {
			st(m, addr, size, v1 & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1));
			if (pair)
				st(m, addr + size, size,
				   v2 & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1));
		}
		if (mode == 1 || mode == 3) {
			if (rn == 31)
				m->sp = new_base;
			else
				m->x[rn] = new_base;
		}
	}
	return insn;
}

static void test_random_against_model(void **state)
{
	static struct model pre, post;
	unsigned counts[2] = { 0 };
	struct fx f;

	(void)state;
	fx_init(&f);
	for (int iter = 0; iter < 20000; iter++) {
		uint32_t insn;

		for (unsigned i = 0; i < 31; i++)
			pre.x[i] = rnd();
		pre.sp = rnd();
		memcpy(pre.mem, f.dev.mem, DEV_SIZE);
		insn = random_insn(&pre, &post);
		for (unsigned i = 0; i < 31; i++)
			set(&f, i, pre.x[i]);
		assert_int_equal(hyp_vcpu_set_reg(f.t.vcpu, HYP_REG_SP_EL1, pre.sp), 0);
		f.dev.count = 0;
		exec(&f, insn);
		for (unsigned i = 0; i < 31; i++) {
			if (x(&f, i) != post.x[i])
				fail_msg("insn %08x: X%u = %#llx, expected %#llx", insn, i,
					 (unsigned long long)x(&f, i),
					 (unsigned long long)post.x[i]);
		}
		assert_int_equal(test_reg(f.t.vcpu, HYP_REG_SP_EL1), post.sp);
		if (memcmp(f.dev.mem, post.mem, DEV_SIZE))
			fail_msg("insn %08x: device memory differs", insn);
		assert_true(f.dev.count == 1 || f.dev.count == 2);
		counts[f.dev.count - 1]++;
	}
	/* Both singles and pairs were exercised. */
	assert_true(counts[0] > 5000 && counts[1] > 5000);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ldp_stp),
		cmocka_unit_test(test_stack_pair_writeback),
		cmocka_unit_test(test_single_forms),
		cmocka_unit_test(test_pair_straddles_mmio_and_ram),
		cmocka_unit_test(test_declined_elements_reach_the_caller),
		cmocka_unit_test(test_unemulatable_and_unclaimed),
		cmocka_unit_test(test_mmu_on),
		cmocka_unit_test(test_walk_update_in_dirty_ring),
		cmocka_unit_test(test_callback_moves_pc),
		cmocka_unit_test(test_simd_forms),
		cmocka_unit_test(test_walk_fault_policy),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
