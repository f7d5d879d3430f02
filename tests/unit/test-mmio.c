/* SPDX-License-Identifier: MIT */
/* MMIO dispatch through the public API on the mock backend: widths, extension, XZR, range edges,
 * callbacks that decline, exits the caller completes, accesses without a syndrome. */
#include "test-helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "test-stub-backend.h"

#define DEV_BASE 0x09000000ull
#define DEV_SIZE 0x100u

struct device {
	unsigned calls;
	struct hyp_mmio_access last;
	uint64_t read_value;
	enum hyp_handler_result result;
	struct hyp_vcpu *last_vcpu;
};

static enum hyp_handler_result device_mmio(void *opaque, struct hyp_vcpu *vcpu,
					   struct hyp_mmio_access *a)
{
	struct device *dev = opaque;

	dev->calls++;
	dev->last = *a;
	dev->last_vcpu = vcpu;
	if (!a->is_write)
		a->data = dev->read_value;
	return dev->result;
}

static void add_device(struct test_vm *t, struct device *dev, hyp_ipa_t base, uint64_t size)
{
	memset(dev, 0, sizeof(*dev));
	dev->result = HYP_HANDLED;
	assert_int_equal(hyp_vm_add_mmio_handler(t->vm, base, size, device_mmio, dev), 0);
}

static void test_store_every_width(void **state)
{
	static const struct {
		uint32_t len;
		uint32_t flags;
		uint64_t expect;
	} cases[] = {
		{ 1, 0, 0x88 },
		{ 2, 0, 0x7788 },
		{ 4, 0, 0x55667788 },
		{ 8, HYP_MOCK_MMIO_REG64, 0x1122334455667788 },
	};
	struct test_vm t;
	struct device dev;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		test_vm_create(&t);
		add_device(&t, &dev, DEV_BASE, DEV_SIZE);
		assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(2), 0x1122334455667788), 0);
		assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 8, cases[i].len, 2,
						    HYP_MOCK_MMIO_WRITE | cases[i].flags),
				 0);
		test_run_to_end(t.vcpu);
		assert_int_equal(dev.calls, 1);
		assert_true(dev.last.is_write);
		assert_int_equal(dev.last.len, cases[i].len);
		assert_int_equal(dev.last.ipa, DEV_BASE + 8);
		assert_int_equal(dev.last.offset, 8);
		assert_int_equal(dev.last.reg, 2);
		assert_int_equal(dev.last.data, cases[i].expect);
		assert_ptr_equal(dev.last_vcpu, t.vcpu);
		/* The store completed: PC moved past it, the source register is untouched. */
		assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 4);
		assert_int_equal(test_reg(t.vcpu, HYP_REG_X(2)), 0x1122334455667788);
		test_vm_destroy(&t);
	}
}

struct load_case {
	uint32_t len;
	uint32_t flags;
	uint64_t device_value;
	uint64_t expect;
};

static void check_load(const struct load_case *c)
{
	struct test_vm t;
	struct device dev;

	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	dev.read_value = c->device_value;
	/* Junk in the destination must not survive the load. */
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(7), 0xa5a5a5a5a5a5a5a5), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, c->len, 7, c->flags), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_false(dev.last.is_write);
	assert_int_equal(dev.last.len, c->len);
	assert_int_equal(dev.last.sign_extend, !!(c->flags & HYP_MOCK_MMIO_SIGN_EXTEND));
	assert_int_equal(dev.last.reg64, !!(c->flags & HYP_MOCK_MMIO_REG64));
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(7)), c->expect);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 4);
	test_vm_destroy(&t);
}

static void test_load_every_width_zero_extends(void **state)
{
	static const struct load_case cases[] = {
		{ 1, 0, 0xffeeddccbbaa9988, 0x88 },
		{ 2, 0, 0xffeeddccbbaa9988, 0x9988 },
		{ 4, 0, 0xffeeddccbbaa9988, 0xbbaa9988 },
		{ 8, HYP_MOCK_MMIO_REG64, 0xffeeddccbbaa9988, 0xffeeddccbbaa9988 },
		/* LDRB/LDRH into an X-form (never architecturally SF=1 without sign extension,
		 * but the decoder must still zero-extend). */
		{ 1, HYP_MOCK_MMIO_REG64, 0x1ff, 0xff },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_load(&cases[i]);
}

static void test_load_sign_extends(void **state)
{
	static const struct load_case cases[] = {
		/* LDRSB Wt: to 32 bits, upper half zero. */
		{ 1, HYP_MOCK_MMIO_SIGN_EXTEND, 0x80, 0xffffff80 },
		/* LDRSB Xt. */
		{ 1, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64, 0x80, 0xffffffffffffff80 },
		/* Positive values are unchanged. */
		{ 1, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64, 0x7f, 0x7f },
		/* LDRSH Wt / Xt; bits above the access size are ignored. */
		{ 2, HYP_MOCK_MMIO_SIGN_EXTEND, 0x12348001, 0xffff8001 },
		{ 2, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64, 0x8001, 0xffffffffffff8001 },
		/* LDRSW Xt. */
		{ 4, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64, 0x80000000,
		  0xffffffff80000000 },
		{ 4, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64, 0x7fffffff, 0x7fffffff },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_load(&cases[i]);
}

static void test_zero_register(void **state)
{
	uint64_t before[31];
	struct test_vm t;
	struct device dev;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	for (int i = 0; i < 31; i++) {
		before[i] = 0x1000 + (uint64_t)i;
		assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(i), before[i]), 0);
	}
	/* STR XZR stores zero. */
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 8, 31,
					    HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_REG64),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_int_equal(dev.last.data, 0);
	assert_int_equal(dev.last.reg, 31);

	/* LDR XZR discards the value: no register changes. */
	dev.read_value = 0xffffffffffffffff;
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 8, 31, HYP_MOCK_MMIO_REG64), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 4, 31, HYP_MOCK_MMIO_WRITE), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 3);
	assert_int_equal(dev.last.data, 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(test_reg(t.vcpu, HYP_REG_X(i)), before[i]);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 12);
	test_vm_destroy(&t);
}

static void test_range_edges(void **state)
{
	struct test_vm t;
	struct device dev;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 1, 0, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + DEV_SIZE - 1, 1, 0, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 2);
	assert_int_equal(dev.last.offset, DEV_SIZE - 1);

	/* One byte either side is not the device's: the caller gets the exit, absolute offset. */
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE - 1, 1, 0, HYP_MOCK_MMIO_WRITE), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + DEV_SIZE, 1, 0, 0), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(exit->mmio.ipa, DEV_BASE - 1);
	assert_int_equal(exit->mmio.offset, DEV_BASE - 1);
	assert_true(exit->mmio.is_write);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(exit->mmio.ipa, DEV_BASE + DEV_SIZE);
	assert_false(exit->mmio.is_write);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 2);
	test_vm_destroy(&t);
}

static void test_top_of_address_space(void **state)
{
	/* The default IPA space is 40 bits: the last device byte is 2^40 - 1. */
	const hyp_ipa_t top = 1ull << 40;
	struct test_vm t;
	struct device dev;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, top - 0x1000, 0x1001, device_mmio, &dev),
			 -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, 0xfffffffffffff000ull, 0x1001, device_mmio,
						 &dev),
			 -EINVAL);
	add_device(&t, &dev, top - 0x1000, 0x1000);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, top - 8, 8, 0,
					    HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_REG64),
			 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, top - 4, 8, 0, HYP_MOCK_MMIO_REG64), -EINVAL);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_int_equal(dev.last.offset, 0xff8);
	assert_int_equal(dev.last.ipa, top - 8);
	test_vm_destroy(&t);
}

static void test_adjacent_devices_and_lookup_hint(void **state)
{
	struct device a, b, c;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &b, DEV_BASE + 0x1000, 0x1000);
	add_device(&t, &a, DEV_BASE, 0x1000);
	add_device(&t, &c, DEV_BASE + 0x2000, 0x1000);
	/* Alternate so the last-hit shortcut is both taken and missed. */
	for (int i = 0; i < 30; i++) {
		hyp_ipa_t base = DEV_BASE + 0x1000 * (uint64_t)(i % 3);

		assert_int_equal(hyp_mock_push_mmio(t.vcpu, base + 0xffc, 4, 0, 0), 0);
		assert_int_equal(hyp_mock_push_mmio(t.vcpu, base, 4, 0, 0), 0);
	}
	test_run_to_end(t.vcpu);
	assert_int_equal(a.calls, 20);
	assert_int_equal(b.calls, 20);
	assert_int_equal(c.calls, 20);
	assert_int_equal(c.last.offset, 0);

	/* Removing the middle device returns its accesses to the caller. */
	assert_int_equal(hyp_vm_remove_mmio_handler(t.vm, DEV_BASE + 0x1000), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x1004, 4, 0, 0), 0);
	test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(b.calls, 20);
	test_vm_destroy(&t);
}

/* The last-hit shortcut must forget a range once it is removed, even the one it points at. */
static void test_removed_range_not_served_from_hint(void **state)
{
	struct device a, b;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &a, DEV_BASE, 0x1000);
	add_device(&t, &b, DEV_BASE + 0x1000, 0x1000);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x1008, 4, 0, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(b.calls, 1);

	/* b was the last hit: remove it, then touch it again. */
	assert_int_equal(hyp_vm_remove_mmio_handler(t.vm, DEV_BASE + 0x1000), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x1008, 4, 0, 0), 0);
	test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(b.calls, 1);

	/* And a range added where it was is the one that answers. */
	add_device(&t, &b, DEV_BASE + 0x1000, 0x100);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x1008, 4, 0, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.last.offset, 8);
	assert_int_equal(a.calls, 0);
	test_vm_destroy(&t);
}

static void test_declined_read_completed_by_caller(void **state)
{
	struct test_vm t;
	struct device dev;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	dev.result = HYP_NOT_HANDLED;
	dev.read_value = 0x1234;
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x10, 2, 3,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	assert_int_equal(dev.calls, 1);
	/* What the callback left is visible; offsets are absolute once returned. */
	assert_int_equal(exit->mmio.data, 0x1234);
	assert_int_equal(exit->mmio.offset, DEV_BASE + 0x10);
	assert_int_equal(exit->vcpu_index, 0);
	assert_int_equal(exit->raw.valid & HYP_SYNDROME_ESR, HYP_SYNDROME_ESR);
	assert_int_equal(exit->raw.esr >> 26, 0x24);
	/* Not completed yet: register and PC untouched until the next run. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE);
	exit->mmio.data = 0xfffe; /* the caller answers -2 */
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), (uint64_t)-2);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 4);
	test_vm_destroy(&t);
}

static void test_caller_moving_pc_cancels_advance(void **state)
{
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 4, 5, 0), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	exit->mmio.data = 77;
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_PC, TEST_RAM_BASE + 0x800), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(5)), 77);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x800);
	test_vm_destroy(&t);
}

static enum hyp_handler_result catch_all(void *opaque, struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	unsigned *count = opaque;

	(void)vcpu;
	(*count)++;
	if (exit->reason == HYP_EXIT_MMIO && !exit->mmio.is_write)
		exit->mmio.data = 0xabcd;
	return HYP_HANDLED;
}

static void test_generic_exit_handler_gets_unclaimed(void **state)
{
	struct test_vm t;
	struct device dev;
	unsigned generic = 0;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vm_set_exit_handler(t.vm, HYP_EXIT_MMIO, catch_all, &generic), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 4, 0, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, 0x20000000, 4, 1, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_int_equal(generic, 1);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(1)), 0xabcd);
	test_vm_destroy(&t);
}

/* A range callback that declines passes the access to the generic MMIO callback (absolute
 * offset), as for an unclaimed one; without a generic callback it reaches the caller. */
static unsigned generic_calls;
static uint64_t generic_offset;

static enum hyp_handler_result record_generic(void *opaque, struct hyp_vcpu *vcpu,
					      struct hyp_exit *exit)
{
	(void)vcpu;
	(void)opaque;
	generic_calls++;
	generic_offset = exit->mmio.offset;
	exit->mmio.data = 0x5a;
	return HYP_HANDLED;
}

static void test_declined_goes_to_generic_handler(void **state)
{
	struct test_vm t;
	struct device dev;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	dev.result = HYP_NOT_HANDLED;
	generic_calls = 0;
	assert_int_equal(hyp_vm_set_exit_handler(t.vm, HYP_EXIT_MMIO, record_generic, NULL), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x18, 4, 2, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_int_equal(generic_calls, 1);
	assert_int_equal(generic_offset, DEV_BASE + 0x18);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(2)), 0x5a);
	test_vm_destroy(&t);
}

/* The instruction at the PC (zeroed RAM: UDF) is not a load/store the library can perform. */
static void test_no_syndrome_is_a_fault_not_a_guess(void **state)
{
	struct test_vm t;
	struct device dev;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(4), 99), 0);
	/* e.g. LDP x4, x5, [x0]: ISV = 0. */
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x20, 8, 4,
					    HYP_MOCK_MMIO_REG64 | HYP_MOCK_MMIO_NO_SYNDROME),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MEM_FAULT);
	assert_int_equal(exit->fault.kind, HYP_FAULT_NO_SYNDROME);
	assert_true(exit->fault.ipa_valid);
	assert_int_equal(exit->fault.ipa, DEV_BASE + 0x20);
	assert_int_equal(dev.calls, 0);
	/* The caller refuses it the architected way: an external abort into the guest. */
	assert_int_equal(hyp_vcpu_inject_exception(t.vcpu, HYP_INJECT_DATA_ABORT, DEV_BASE + 0x20),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(4)), 99);
	test_vm_destroy(&t);
}

static enum hyp_handler_result abort_device(void *opaque, struct hyp_vcpu *vcpu,
					    struct hyp_mmio_access *a)
{
	(void)opaque;
	assert_int_equal(hyp_vcpu_inject_exception(vcpu, HYP_INJECT_DATA_ABORT, a->ipa), 0);
	return HYP_HANDLED;
}

static void test_callback_injects_abort(void **state)
{
	uint64_t esr = 0, far = 0, elr = 0, vbar = TEST_RAM_BASE + 0x800;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vcpu_set_sysreg(t.vcpu, HYP_SYSREG_VBAR_EL1, vbar), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, DEV_BASE, DEV_SIZE, abort_device, NULL), 0);
	assert_int_equal(hyp_mock_last_injection(t.vcpu, &esr, &far), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 4, 4, 1, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(hyp_mock_last_injection(t.vcpu, &esr, &far), 1);
	/* From EL1h: a data abort taken without a change in EL (EC 0x25), synchronous external
	 * abort (DFSC 0x10), to VBAR_EL1 + 0x200, ELR at the faulting load. */
	assert_int_equal(esr >> 26, 0x25);
	assert_int_equal(esr & 0x3f, 0x10);
	assert_int_equal(far, DEV_BASE + 4);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), vbar + 0x200);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG_ELR_EL1, &elr), 0);
	assert_int_equal(elr, TEST_RAM_BASE);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PSTATE), HYP_PSTATE_EL1H_DAIF);
	test_vm_destroy(&t);
}

static void test_readonly_memory_write_exits(void **state)
{
	struct test_vm t;
	struct hyp_exit *exit;
	void *rom = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);
	uint32_t value = 0;

	(void)state;
	assert_non_null(rom);
	memset(rom, 0x5a, HYP_PAGE_SIZE);
	test_vm_create(&t);
	assert_int_equal(hyp_vm_map(t.vm, 0x10000000, rom, HYP_PAGE_SIZE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(1), 0xcafef00d), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, 0x10000010, 4, 2, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, 0x10000010, 4, 1, HYP_MOCK_MMIO_WRITE), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	/* The load was served from the ROM without an exit. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(2)), 0x5a5a5a5a);
	assert_true(exit->mmio.is_write);
	assert_int_equal(exit->mmio.ipa, 0x10000010);
	assert_int_equal(exit->mmio.data, 0xcafef00d);
	test_run_to_end(t.vcpu);
	memcpy(&value, (char *)rom + 0x10, 4);
	assert_int_equal(value, 0x5a5a5a5a);
	test_vm_destroy(&t);
	free(rom);
}

/* HYP_VM_ABORT_UNCLAIMED: what nobody claims gets an external abort; the run goes on. */
static void test_abort_unclaimed_policy(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.flags = HYP_VM_ABORT_UNCLAIMED };
	uint64_t vbar = TEST_RAM_BASE + 0x800, esr = 0, far = 0;
	struct test_vm t;
	struct device dev;

	(void)state;
	test_vm_create_with(&t, &config);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vcpu_set_sysreg(t.vcpu, HYP_SYSREG_VBAR_EL1, vbar), 0);
	/* A claimed access is served as usual... */
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE, 4, 1, 0), 0);
	/* ...an unclaimed load becomes a data abort, an unclaimed fetch a prefetch abort, and
	 * hyp_vcpu_run() never returns for either. */
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, 0x20000010, 4, 2, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 1);
	assert_int_equal(hyp_mock_last_injection(t.vcpu, &esr, &far), 1);
	assert_int_equal(esr >> 26, 0x25); /* data abort, same EL */
	assert_int_equal(far, 0x20000010);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), vbar + 0x200);
	assert_int_equal(hyp_mock_push_exec_fault(t.vcpu, 0x30000000), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(hyp_mock_last_injection(t.vcpu, &esr, &far), 1);
	assert_int_equal(esr >> 26, 0x21); /* instruction abort, same EL */
	test_vm_destroy(&t);
}

/* ---- deferred writes (hyp_vm_defer_mmio_writes()) ---- */

/* A backend that collects deferred writes: it records what the library asked of it, and when a
 * part is stopped it delivers the write it holds (as KVM's ring would be emptied). */
static struct {
	unsigned on, off;
	hyp_ipa_t base;
	uint64_t size;
	int fail_with;
	struct hyp_vcpu *vcpu; /* through which it delivers (a backend would take any) */
	bool holding;
	hyp_ipa_t held_ipa;
	uint64_t held_data;
} collector;

static int collector_defer(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size, bool on)
{
	(void)vm;
	if (collector.fail_with)
		return collector.fail_with;
	collector.base = base;
	collector.size = size;
	if (on) {
		collector.on++;
		return 0;
	}
	collector.off++;
	if (collector.holding) {
		hyp_backend_dispatch_deferred_write(collector.vcpu, collector.held_ipa, 4,
						    collector.held_data);
		collector.holding = false;
	}
	return 0;
}

static const struct hyp_backend_ops collector_ops = {
	TEST_STUB_BACKEND("collector"),
	.vm_init = test_stub_vm_init,
	.mmio_defer = collector_defer,
};

static void test_defer_writes_arguments(void **state)
{
	struct test_vm t;
	struct device dev;

	(void)state;
	assert_int_equal(hyp_vm_defer_mmio_writes(NULL, DEV_BASE, 4), -EINVAL);
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vm_defer_mmio_writes(t.vm, DEV_BASE, 0), -EINVAL);
	assert_int_equal(hyp_vm_defer_mmio_writes(t.vm, UINT64_MAX - 1, 4), -EINVAL);
	/* The mock scripts its exits: nothing to collect, the writes stay exits. */
	assert_int_equal(hyp_vm_defer_mmio_writes(t.vm, DEV_BASE + 0x64, 4), -ENOTSUP);
	test_vm_destroy(&t);
}

static void test_defer_writes_needs_one_range(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &collector_ops };
	struct hyp_vm *vm;
	struct device dev = { .result = HYP_HANDLED };

	(void)state;
	memset(&collector, 0, sizeof(collector));
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE, 4), -ENOENT);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, DEV_BASE, DEV_SIZE, device_mmio, &dev), 0);
	/* Straddling the range's end, or before it: no single range holds it. */
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE + DEV_SIZE - 2, 4), -ENOENT);
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE - 4, 8), -ENOENT);
	/* A backend error is the answer, and nothing is recorded: the next try is not -EEXIST. */
	collector.fail_with = -ENOMEM;
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE + 0x64, 4), -ENOMEM);
	collector.fail_with = 0;
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE + 0x64, 4), 0);
	assert_int_equal(collector.on, 1);
	assert_int_equal(collector.base, DEV_BASE + 0x64);
	assert_int_equal(collector.size, 4);
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE + 0x70, 4), -EEXIST);
	assert_int_equal(collector.on, 1);
	hyp_vm_destroy(vm);
}

/* What a backend collected reaches the range's callback as a write, at the right offset, with
 * the bytes of its width; one the callback declines goes to the generic MMIO callback; one
 * nobody claims is dropped; removing the range first stops the part, delivering what is held. */
static void test_deferred_write_delivery(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &collector_ops };
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	struct device dev = { .result = HYP_HANDLED };

	(void)state;
	memset(&collector, 0, sizeof(collector));
	generic_calls = 0;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, DEV_BASE, DEV_SIZE, device_mmio, &dev), 0);
	assert_int_equal(hyp_vm_defer_mmio_writes(vm, DEV_BASE + 0x64, 4), 0);

	hyp_backend_dispatch_deferred_write(vcpu, DEV_BASE + 0x64, 2, 0xdeadbeef);
	assert_int_equal(dev.calls, 1);
	assert_true(dev.last.is_write);
	assert_int_equal(dev.last.offset, 0x64);
	assert_int_equal(dev.last.len, 2);
	assert_int_equal(dev.last.data, 0xbeef);
	assert_ptr_equal(dev.last_vcpu, vcpu);
	/* Widths a store cannot have, and no vCPU: ignored. */
	hyp_backend_dispatch_deferred_write(vcpu, DEV_BASE + 0x64, 3, 1);
	hyp_backend_dispatch_deferred_write(NULL, DEV_BASE + 0x64, 4, 1);
	assert_int_equal(dev.calls, 1);

	/* Declined: the generic MMIO callback, with the absolute address. */
	assert_int_equal(hyp_vm_set_exit_handler(vm, HYP_EXIT_MMIO, record_generic, NULL), 0);
	dev.result = HYP_NOT_HANDLED;
	hyp_backend_dispatch_deferred_write(vcpu, DEV_BASE + 0x64, 4, 7);
	assert_int_equal(dev.calls, 2);
	assert_int_equal(generic_calls, 1);
	assert_int_equal(generic_offset, DEV_BASE + 0x64);
	/* Unclaimed, with no generic callback: dropped, the vCPU untouched. */
	assert_int_equal(hyp_vm_set_exit_handler(vm, HYP_EXIT_MMIO, NULL, NULL), 0);
	hyp_backend_dispatch_deferred_write(vcpu, 0x20000000, 4, 7);
	assert_int_equal(generic_calls, 1);

	/* Removal: the backend is told first and delivers what it holds to the range. */
	dev.result = HYP_HANDLED;
	collector.vcpu = vcpu;
	collector.holding = true;
	collector.held_ipa = DEV_BASE + 0x64;
	collector.held_data = 0x1234;
	assert_int_equal(hyp_vm_remove_mmio_handler(vm, DEV_BASE), 0);
	assert_int_equal(collector.off, 1);
	assert_int_equal(dev.calls, 3);
	assert_int_equal(dev.last.data, 0x1234);
	hyp_vcpu_destroy(vcpu);
	hyp_vm_destroy(vm);
}

/* ---- doorbells signalling eventfds (hyp_vm_add_mmio_eventfd()) ---- */

static uint64_t eventfd_count(int fd)
{
	uint64_t n = 0;

	/* Non-blocking: 0 when nothing was signalled. */
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0;
	return n;
}

static void guest_write(struct test_vm *t, hyp_ipa_t ipa, uint32_t len, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_X(3), value), 0);
	assert_int_equal(hyp_mock_push_mmio(t->vcpu, ipa, len, 3,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(t->vcpu);
}

/* On the mock the library serves the registration at the exit: a matching write signals the
 * eventfd and never reaches the callback; another value, another width, a read, or the same
 * address once removed, reach it as before. */
static void test_eventfd_doorbell(void **state)
{
	struct test_vm t;
	struct device dev;
	int q0 = eventfd(0, EFD_NONBLOCK), q1 = eventfd(0, EFD_NONBLOCK),
	    any = eventfd(0, EFD_NONBLOCK);

	(void)state;
	assert_true(q0 >= 0 && q1 >= 0 && any >= 0);
	test_vm_create(&t);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 0x50, 4, 0,
						 HYP_MMIO_EVENTFD_MATCH_VALUE, q0),
			 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 0x50, 4, 1,
						 HYP_MMIO_EVENTFD_MATCH_VALUE, q1),
			 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 0x60, 2, 0, 0, any), 0);

	guest_write(&t, DEV_BASE + 0x50, 4, 1);
	guest_write(&t, DEV_BASE + 0x50, 4, 1);
	guest_write(&t, DEV_BASE + 0x50, 4, 0);
	assert_int_equal(dev.calls, 0);
	assert_int_equal(eventfd_count(q1), 2);
	assert_int_equal(eventfd_count(q0), 1);
	/* The PC moved on past each store, as for a handled write. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 12);
	/* Another value, another width, a read: the callback. */
	guest_write(&t, DEV_BASE + 0x50, 4, 2);
	guest_write(&t, DEV_BASE + 0x50, 2, 1);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 0x50, 4, 4, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.calls, 3);
	assert_int_equal(eventfd_count(q0) + eventfd_count(q1), 0);
	/* Without MATCH_VALUE any value of the width signals. */
	guest_write(&t, DEV_BASE + 0x60, 2, 0xffff);
	guest_write(&t, DEV_BASE + 0x60, 2, 7);
	assert_int_equal(eventfd_count(any), 2);
	assert_int_equal(dev.calls, 3);

	/* Removed: the callback again. Only an exact registration is removed. */
	assert_int_equal(hyp_vm_remove_mmio_eventfd(t.vm, DEV_BASE + 0x50, 4, 2,
						    HYP_MMIO_EVENTFD_MATCH_VALUE),
			 -ENOENT);
	assert_int_equal(hyp_vm_remove_mmio_eventfd(t.vm, DEV_BASE + 0x50, 4, 1,
						    HYP_MMIO_EVENTFD_MATCH_VALUE),
			 0);
	guest_write(&t, DEV_BASE + 0x50, 4, 1);
	assert_int_equal(dev.calls, 4);
	assert_int_equal(eventfd_count(q1), 0);
	guest_write(&t, DEV_BASE + 0x50, 4, 0);
	assert_int_equal(eventfd_count(q0), 1);

	/* Removing the range removes its eventfds: a new range there starts without them. */
	assert_int_equal(hyp_vm_remove_mmio_handler(t.vm, DEV_BASE), 0);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	guest_write(&t, DEV_BASE + 0x50, 4, 0);
	guest_write(&t, DEV_BASE + 0x60, 2, 0);
	assert_int_equal(dev.calls, 2);
	assert_int_equal(eventfd_count(q0) + eventfd_count(any), 0);
	assert_int_equal(hyp_vm_remove_mmio_eventfd(t.vm, DEV_BASE + 0x50, 4, 0,
						    HYP_MMIO_EVENTFD_MATCH_VALUE),
			 -ENOENT);
	test_vm_destroy(&t);
	close(q0);
	close(q1);
	close(any);
}

static void test_eventfd_arguments(void **state)
{
	struct test_vm t;
	struct device dev;
	int fd = eventfd(0, EFD_NONBLOCK);
	const uint32_t match = HYP_MMIO_EVENTFD_MATCH_VALUE;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(NULL, DEV_BASE, 4, 0, 0, fd), -EINVAL);
	assert_int_equal(hyp_vm_remove_mmio_eventfd(NULL, DEV_BASE, 4, 0, 0), -EINVAL);
	test_vm_create(&t);
	/* No range there yet. */
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 0, 0, fd), -ENOENT);
	add_device(&t, &dev, DEV_BASE, DEV_SIZE);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 3, 0, 0, fd), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 0, 0, 0, fd), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 0, 1u << 5, fd), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 0, 0, -1), -EINVAL);
	/* A value wider than the write could carry. */
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 2, 0x10000, match, fd), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, UINT64_MAX - 1, 4, 0, 0, fd), -EINVAL);
	/* Straddling the range's end. */
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + DEV_SIZE - 2, 4, 0, 0, fd),
			 -ENOENT);
	/* Overlaps: same value, or either side matching every value. Different widths at one
	 * address are different registers as far as writes go. */
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 5, match, fd), 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 5, match, fd), -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 4, 0, 0, fd), -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE, 8, 5, match, fd), 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 8, 4, 0, 0, fd), 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 8, 4, 9, match, fd), -EEXIST);
	/* The VM's limit. */
	for (uint32_t i = 3; i < HYP_MAX_MMIO_EVENTFDS; i++)
		assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 0x80, 4, i, match, fd),
				 0);
	assert_int_equal(hyp_vm_add_mmio_eventfd(t.vm, DEV_BASE + 0x80, 4, 0, match, fd), -ENOSPC);
	/* No irqfds on the mock: devices drive their lines with hyp_vm_set_spi(). */
	assert_int_equal(hyp_vm_add_irqfd(t.vm, 40, fd), -ENOTSUP);
	assert_int_equal(hyp_vm_add_irqfd(t.vm, 20, fd), -EINVAL);
	assert_int_equal(hyp_vm_add_irqfd(t.vm, 40, -1), -EINVAL);
	assert_int_equal(hyp_vm_add_irqfd(NULL, 40, fd), -EINVAL);
	assert_int_equal(hyp_vm_remove_irqfd(t.vm, 40, fd), -ENOTSUP);
	test_vm_destroy(&t);
	close(fd);
}

/* A backend with eventfds of its own is asked for each registration and told of each removal,
 * the range's too; its refusal is the answer and leaves nothing registered. */
static struct {
	unsigned on, off;
	int fail_with;
	hyp_ipa_t ipa;
	uint32_t len, flags;
	uint64_t value;
	int fd;
} efd_backend;

static int efd_backend_op(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t value,
			  uint32_t flags, int fd, bool on)
{
	(void)vm;
	if (on && efd_backend.fail_with)
		return efd_backend.fail_with;
	efd_backend.ipa = ipa;
	efd_backend.len = len;
	efd_backend.value = value;
	efd_backend.flags = flags;
	efd_backend.fd = fd;
	if (on)
		efd_backend.on++;
	else
		efd_backend.off++;
	return 0;
}

static const struct hyp_backend_ops efd_ops = {
	TEST_STUB_BACKEND("eventfds"),
	.vm_init = test_stub_vm_init,
	.mmio_eventfd = efd_backend_op,
};

static void test_eventfd_backend(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &efd_ops };
	struct hyp_vm *vm;
	struct device dev = { .result = HYP_HANDLED };
	int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK), closed = eventfd(0, 0);
	int seen;

	(void)state;
	assert_true(a >= 0 && b >= 0 && closed >= 0);
	close(closed);
	memset(&efd_backend, 0, sizeof(efd_backend));
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, DEV_BASE, DEV_SIZE, device_mmio, &dev), 0);
	/* Not an open descriptor: refused before the backend is asked. */
	assert_int_equal(hyp_vm_add_mmio_eventfd(vm, DEV_BASE + 0x50, 4, 3,
						 HYP_MMIO_EVENTFD_MATCH_VALUE, closed),
			 -EBADF);
	assert_int_equal(efd_backend.on, 0);
	efd_backend.fail_with = -EINVAL;
	assert_int_equal(hyp_vm_add_mmio_eventfd(vm, DEV_BASE + 0x50, 4, 3,
						 HYP_MMIO_EVENTFD_MATCH_VALUE, a),
			 -EINVAL);
	assert_int_equal(hyp_vm_remove_mmio_eventfd(vm, DEV_BASE + 0x50, 4, 3,
						    HYP_MMIO_EVENTFD_MATCH_VALUE),
			 -ENOENT);
	efd_backend.fail_with = 0;
	assert_int_equal(hyp_vm_add_mmio_eventfd(vm, DEV_BASE + 0x50, 4, 3,
						 HYP_MMIO_EVENTFD_MATCH_VALUE, a),
			 0);
	assert_int_equal(efd_backend.on, 1);
	assert_int_equal(efd_backend.ipa, DEV_BASE + 0x50);
	assert_int_equal(efd_backend.len, 4);
	assert_int_equal(efd_backend.value, 3);
	assert_int_equal(efd_backend.flags, HYP_MMIO_EVENTFD_MATCH_VALUE);
	/* The backend gets the library's own copy of the descriptor, not the caller's number. */
	seen = efd_backend.fd;
	assert_true(seen >= 0 && seen != a);
	assert_int_equal(hyp_vm_add_mmio_eventfd(vm, DEV_BASE + 0x54, 4, 0, 0, b), 0);
	assert_int_equal(hyp_vm_remove_mmio_eventfd(vm, DEV_BASE + 0x54, 4, 0, 0), 0);
	assert_int_equal(efd_backend.off, 1);
	assert_true(efd_backend.fd != b);
	/* The range goes: so does its registration, at the backend too, and the copy is closed. */
	assert_int_equal(hyp_vm_remove_mmio_handler(vm, DEV_BASE), 0);
	assert_int_equal(efd_backend.off, 2);
	assert_int_equal(efd_backend.fd, seen);
	assert_int_equal(fcntl(seen, F_GETFD), -1);
	hyp_vm_destroy(vm);
	close(a);
	close(b);
}

/* ---- holds of the memory map (hyp_vm_hold_memory()) ---- */

struct map_job {
	struct hyp_vm *vm;
	void *host;
	_Atomic int result;
	_Atomic bool done;
};

static void *map_thread(void *arg)
{
	struct map_job *job = arg;

	atomic_store(&job->result,
		     hyp_vm_map(job->vm, 0x80000000, job->host, HYP_PAGE_SIZE, HYP_MEM_RWX));
	atomic_store(&job->done, true);
	return NULL;
}

/* A change of the map waits for holds (it does not fail); a hold waits for a change under way;
 * holds nest; a running vCPU still makes the change fail at once. */
static void test_hold_memory(void **state)
{
	struct test_vm t;
	struct map_job job = { 0 };
	pthread_t thread;
	void *page = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);

	(void)state;
	assert_non_null(page);
	assert_int_equal(hyp_vm_hold_memory(NULL), -EINVAL);
	assert_int_equal(hyp_vm_release_memory(NULL), -EINVAL);
	test_vm_create(&t);
	/* A release without a hold is refused, and changes nothing (the map is free). */
	assert_int_equal(hyp_vm_release_memory(t.vm), -EINVAL);
	assert_int_equal(hyp_vm_map(t.vm, 0x80000000, page, HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_unmap(t.vm, 0x80000000, HYP_PAGE_SIZE), 0);
	/* At most HYP_VM_MAX_HOLDS at a time. */
	for (uint32_t i = 0; i < HYP_VM_MAX_HOLDS; i++)
		assert_int_equal(hyp_vm_hold_memory(t.vm), 0);
	assert_int_equal(hyp_vm_hold_memory(t.vm), -EAGAIN);
	for (uint32_t i = 0; i < HYP_VM_MAX_HOLDS; i++)
		assert_int_equal(hyp_vm_release_memory(t.vm), 0);
	assert_int_equal(hyp_vm_release_memory(t.vm), -EINVAL);
	job.vm = t.vm;
	job.host = page;
	assert_int_equal(hyp_vm_hold_memory(t.vm), 0);
	assert_int_equal(hyp_vm_hold_memory(t.vm), 0);
	assert_int_equal(pthread_create(&thread, NULL, map_thread, &job), 0);
	usleep(50 * 1000);
	assert_false(atomic_load(&job.done));
	assert_int_equal(hyp_vm_release_memory(t.vm), 0);
	usleep(50 * 1000);
	assert_false(atomic_load(&job.done)); /* one hold left */
	assert_int_equal(hyp_vm_release_memory(t.vm), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_true(atomic_load(&job.done));
	assert_int_equal(atomic_load(&job.result), 0);
	/* Released: the map is the VMM's again at once. */
	assert_int_equal(hyp_vm_unmap(t.vm, 0x80000000, HYP_PAGE_SIZE), 0);
	test_vm_destroy(&t);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_every_width),
		cmocka_unit_test(test_load_every_width_zero_extends),
		cmocka_unit_test(test_load_sign_extends),
		cmocka_unit_test(test_zero_register),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test(test_top_of_address_space),
		cmocka_unit_test(test_adjacent_devices_and_lookup_hint),
		cmocka_unit_test(test_removed_range_not_served_from_hint),
		cmocka_unit_test(test_declined_read_completed_by_caller),
		cmocka_unit_test(test_declined_goes_to_generic_handler),
		cmocka_unit_test(test_caller_moving_pc_cancels_advance),
		cmocka_unit_test(test_generic_exit_handler_gets_unclaimed),
		cmocka_unit_test(test_no_syndrome_is_a_fault_not_a_guess),
		cmocka_unit_test(test_callback_injects_abort),
		cmocka_unit_test(test_readonly_memory_write_exits),
		cmocka_unit_test(test_abort_unclaimed_policy),
		cmocka_unit_test(test_defer_writes_arguments),
		cmocka_unit_test(test_defer_writes_needs_one_range),
		cmocka_unit_test(test_deferred_write_delivery),
		cmocka_unit_test(test_eventfd_doorbell),
		cmocka_unit_test(test_eventfd_arguments),
		cmocka_unit_test(test_eventfd_backend),
		cmocka_unit_test(test_hold_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
