/* SPDX-License-Identifier: MIT */
/*
 * API misuse (see test-api-misuse.h): callbacks and interrupts: MMIO, SMCCC, sysreg and exit
 * handlers, SPI/PPI/SGI injection.
 */
#define _POSIX_C_SOURCE 200809L

#include "test-api-misuse.h"

/* ---- MMIO handlers ----------------------------------------------------------------------- */

static void test_mmio_add_misuse(void **state)
{
	struct fx *f = *state;
	const hyp_ipa_t top = 1ull << HYP_DEFAULT_IPA_BITS; /* the fixture's IPA space ends here */

	assert_int_equal(hyp_vm_add_mmio_handler(NULL, MMIO_BASE, 0x1000, never_mmio, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, MMIO_BASE, 0x1000, NULL, NULL), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, MMIO_BASE, 0, never_mmio, NULL), -EINVAL);
	/* Wrapping ranges. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, UINT64_MAX, 2, never_mmio, NULL), -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0xfffffffffffff000ull, 0x1001, never_mmio,
						 NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0x1000, UINT64_MAX, never_mmio, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 2, UINT64_MAX, never_mmio, NULL), -EINVAL);
	/* Beyond the IPA space without wrapping: -ERANGE. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 1, UINT64_MAX, never_mmio, NULL), -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0xfffffffffffff000ull, 0x1000, never_mmio,
						 NULL),
			 -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, top, 1, never_mmio, NULL), -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, top - 0x1000, 0x1001, never_mmio, NULL),
			 -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0, top + 1, never_mmio, NULL), -ERANGE);
	/* Ranges that end exactly at the top of the IPA space fit. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, top - 0x1000, 0x1000, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0, top, never_mmio, NULL), -EEXIST);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, top - 0x1000), 0);
	/* A range covering the whole IPA space (the fixture's RAM is mapped memory, not MMIO). */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, 0, top, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, top - 1, 1, never_mmio, NULL), -EEXIST);
}

static void test_mmio_add_ipa_limit_32(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock", .ipa_bits = 32 };
	struct hyp_vm *vm = create_vm_with(&cfg);

	(void)state;
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0xffffffffull, 2, never_mmio, NULL), -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0x100000000ull, 0x1000, never_mmio, NULL),
			 -ERANGE);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0xffffffffull, 1, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0xfffff000ull, 0xfff, never_mmio, NULL), 0);
	hyp_vm_destroy(vm);
}

static void test_mmio_overlap(void **state)
{
	struct fx *f = *state;
	const hyp_ipa_t b = MMIO_BASE, s = 0x1000; /* [b, b + s) */

	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b, s, never_mmio, NULL), 0);
	/* Exact. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b, s, never_mmio, NULL), -EEXIST);
	/* Partial overlap at the low edge: the new range's last byte is b. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 0x100, 0x101, never_mmio, NULL),
			 -EEXIST);
	/* Partial overlap at the high edge: the new range starts at the last byte. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + s - 1, 0x100, never_mmio, NULL),
			 -EEXIST);
	/* Contained, one byte, containing. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + 0x100, 0x10, never_mmio, NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + 0x800, 1, never_mmio, NULL), -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 0x1000, 0x3000, never_mmio, NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b, s + 1, never_mmio, NULL), -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 1, s + 1, never_mmio, NULL), -EEXIST);
	/* Adjacent on both sides is fine... */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 0x100, 0x100, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + s, 0x100, never_mmio, NULL), 0);
	/* ...and the neighbours are ranges too. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 0x101, 2, never_mmio, NULL), -EEXIST);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + s + 0xff, 2, never_mmio, NULL),
			 -EEXIST);
	/* A range spanning all three. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b - 0x200, s + 0x400, never_mmio, NULL),
			 -EEXIST);
	/* Filling a gap exactly between two ranges is fine. */
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + s + 0x200, 0x100, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, b + s + 0x100, 0x100, never_mmio, NULL), 0);
}

static void test_mmio_remove(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_vm_remove_mmio_handler(NULL, MMIO_BASE), -EINVAL);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE), -ENOENT);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, MMIO_BASE, 0x1000, never_mmio, NULL), 0);
	/* Only the exact base removes it. */
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE + 1), -ENOENT);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE + 0xfff), -ENOENT);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE - 1), -ENOENT);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE + 0x1000), -ENOENT);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, MMIO_BASE, 1, never_mmio, NULL), -EEXIST);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE), 0);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE), -ENOENT);
	assert_int_equal(
		hyp_vm_add_mmio_handler(f->vm, MMIO_BASE + 0x800, 0x1000, never_mmio, NULL), 0);
}

/* ---- SMCCC handlers ---------------------------------------------------------------------- */

static void test_smccc_add_misuse(void **state)
{
	static const uint32_t bad_conduits[] = { 0, 1u << 2, HYP_CONDUIT_HVC | (1u << 3),
						 HYP_CONDUIT_SMC | 0x80000000u, 0xffffffffu };
	struct fx *f = *state;

	assert_int_equal(hyp_vm_add_smccc_handler(NULL, HYP_CONDUIT_HVC, 0xc2000000, 0xc2000010,
						  never_smccc, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, 0xc2000000, 0xc2000010,
						  NULL, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, 0xc2000011, 0xc2000010,
						  never_smccc, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, UINT32_MAX, 0,
						  never_smccc, NULL),
			 -EINVAL);
	for (size_t i = 0; i < sizeof(bad_conduits) / sizeof(bad_conduits[0]); i++)
		assert_int_equal(hyp_vm_add_smccc_handler(f->vm, bad_conduits[i], 0xc2000000,
							  0xc2000010, never_smccc, NULL),
				 -EINVAL);
	/* A single ID (first == last) and the full ID space are valid ranges. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_SMC, 0x82000005, 0x82000005,
						  never_smccc, NULL),
			 0);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, 0, UINT32_MAX,
						  never_smccc, NULL),
			 0);
}

static void test_smccc_overlap(void **state)
{
	struct fx *f = *state;
	const uint32_t lo = 0xc6000100, hi = 0xc60001ff;

	assert_int_equal(
		hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo, hi, never_smccc, NULL), 0);
	/* Exact, low edge, high edge, contained, containing on the same conduit. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo, hi, never_smccc,
						  NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo - 0x10, lo,
						  never_smccc, NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, hi, hi + 0x10,
						  never_smccc, NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo + 1, hi - 1,
						  never_smccc, NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo - 1, hi + 1,
						  never_smccc, NULL),
			 -EEXIST);
	/* Both conduits share HVC with the existing range. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC, hi, hi,
						  never_smccc, NULL),
			 -EEXIST);
	/* The same range on the other conduit is fine, once. */
	assert_int_equal(
		hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_SMC, lo, hi, never_smccc, NULL), 0);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_SMC, lo + 5, lo + 5,
						  never_smccc, NULL),
			 -EEXIST);
	/* Now no conduit is free in [lo, hi]. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC, lo - 5,
						  lo, never_smccc, NULL),
			 -EEXIST);
	/* Adjacent ranges on a shared conduit are fine. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC, lo - 5,
						  lo - 1, never_smccc, NULL),
			 0);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC, hi + 1,
						  hi + 1, never_smccc, NULL),
			 0);
}

static void test_smccc_remove(void **state)
{
	struct fx *f = *state;
	const uint32_t lo = 0xc6000100, hi = 0xc60001ff;

	assert_int_equal(hyp_vm_remove_smccc_handler(NULL, HYP_CONDUIT_HVC, lo), -EINVAL);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, 0, lo), -EINVAL);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, 1u << 2, lo), -EINVAL);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC | (1u << 5), lo),
			 -EINVAL);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo), -ENOENT);

	assert_int_equal(
		hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo, hi, never_smccc, NULL), 0);
	/* Wrong key: not the first ID, or the wrong conduit. */
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo + 1), -ENOENT);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC, hi), -ENOENT);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_SMC, lo), -ENOENT);
	/* Still registered. */
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo, lo, never_smccc,
						  NULL),
			 -EEXIST);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo), 0);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo), -ENOENT);
	assert_int_equal(
		hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_HVC, lo, hi, never_smccc, NULL), 0);
}

/* ---- Sysreg handlers --------------------------------------------------------------------- */

static void test_sysreg_handler_misuse(void **state)
{
	struct fx *f = *state;
	const uint32_t enc = HYP_SYSREG_ACTLR_EL1;

	assert_int_equal(hyp_vm_add_sysreg_handler(NULL, enc, never_sysreg, NULL), -EINVAL);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, enc, NULL, NULL), -EINVAL);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, 0x10000, never_sysreg, NULL), -EINVAL);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, 0x10000 | enc, never_sysreg, NULL),
			 -EINVAL);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, UINT32_MAX, never_sysreg, NULL), -EINVAL);

	assert_int_equal(hyp_vm_remove_sysreg_handler(NULL, enc), -EINVAL);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, 0x10000 | enc), -EINVAL);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, enc), -ENOENT);

	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, enc, never_sysreg, NULL), 0);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, enc, never_sysreg, &sentinel_object),
			 -EEXIST);
	/* The neighbouring encodings are other registers. */
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, enc + 1), -ENOENT);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, enc - 1), -ENOENT);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, enc + 1, never_sysreg, NULL), 0);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, enc), 0);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, enc), -ENOENT);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, enc, never_sysreg, NULL), 0);
	/* Encodings 0 and 0xffff are in range. */
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, 0, never_sysreg, NULL), 0);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, 0xffff, never_sysreg, NULL), 0);
}

static void test_sysreg_handler_no_traps(void **state)
{
	struct hyp_vm *vm = create_mock_vm_flags(HYP_MOCK_NO_SYSREG_TRAPS, 0);

	(void)state;
	assert_int_equal(hyp_vm_add_sysreg_handler(vm, HYP_SYSREG_ACTLR_EL1, never_sysreg, NULL),
			 -ENOTSUP);
	/* Argument errors still come first. */
	assert_int_equal(hyp_vm_add_sysreg_handler(vm, HYP_SYSREG_ACTLR_EL1, NULL, NULL), -EINVAL);
	assert_int_equal(hyp_vm_remove_sysreg_handler(vm, HYP_SYSREG_ACTLR_EL1), -ENOENT);
	hyp_vm_destroy(vm);
}

/* ---- Exit handlers ----------------------------------------------------------------------- */

static void test_exit_handler_misuse(void **state)
{
	/* Kicks and system events always return to the caller. */
	static const uint32_t bad[] = { HYP_EXIT_NONE,
					HYP_EXIT_KICKED,
					HYP_EXIT_SYSTEM_EVENT,
					HYP_EXIT_REASON_COUNT,
					HYP_EXIT_REASON_COUNT + 1,
					0xffff,
					0xffffffffu };
	struct fx *f = *state;

	assert_int_equal(hyp_vm_set_exit_handler(NULL, HYP_EXIT_MMIO, never_exit, NULL), -EINVAL);
	assert_int_equal(hyp_vm_set_exit_handler(NULL, HYP_EXIT_MMIO, NULL, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, (enum hyp_exit_reason)bad[i],
							 never_exit, NULL),
				 -EINVAL);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, (enum hyp_exit_reason)bad[i], NULL,
							 NULL),
				 -EINVAL);
	}
}

static void test_exit_handler_twice_and_remove(void **state)
{
	struct fx *f = *state;

	for (uint32_t r = HYP_EXIT_NONE + 1; r < HYP_EXIT_REASON_COUNT; r++) {
		enum hyp_exit_reason reason = (enum hyp_exit_reason)r;

		if (reason == HYP_EXIT_KICKED || reason == HYP_EXIT_SYSTEM_EVENT)
			continue;
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, NULL, NULL), -ENOENT);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, never_exit, NULL), 0);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, never_exit, NULL), -EEXIST);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, never_exit,
							 &sentinel_object),
				 -EEXIST);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, NULL, NULL), 0);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, NULL, NULL), -ENOENT);
		assert_int_equal(hyp_vm_set_exit_handler(f->vm, reason, never_exit, NULL), 0);
	}
}

/* ---- Interrupts -------------------------------------------------------------------------- */

static void test_spi_bad_intid(void **state)
{
	static const uint32_t bad[] = { 0, 15, 16, 31, 1020, 1023, 1024, 8192, UINT32_MAX };
	struct fx *f = *state;

	assert_int_equal(hyp_vm_set_spi(NULL, 32, true), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vm_set_spi(f->vm, bad[i], true), -EINVAL);
	assert_int_equal(hyp_vm_set_spi(f->vm, HYP_INTID_SPI_BASE, true), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, HYP_INTID_SPI_BASE), 1);
	assert_int_equal(hyp_vm_set_spi(f->vm, HYP_INTID_MAX_SPI, true), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, HYP_INTID_MAX_SPI), 1);
	assert_int_equal(hyp_vm_set_spi(f->vm, HYP_INTID_MAX_SPI, false), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, HYP_INTID_MAX_SPI), 0);
	assert_int_equal(hyp_mock_irq_count(f->vm, NULL, HYP_INTID_MAX_SPI), 1);
}

/* Host interrupts: validated first, then refused by a backend that cannot deliver them (the mock:
 * there is no host interrupt to give; el2 is tested under QEMU, passthrough-rtc). */
static void test_assign_irq_refused(void **state)
{
	static const uint32_t bad[] = { 0, 15, 31, 1020, UINT32_MAX };
	struct fx *f = *state;

	assert_int_equal(hyp_vm_assign_irq(NULL, 40, 40), -EINVAL);
	assert_int_equal(hyp_vm_host_irq(NULL, 40), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hyp_vm_assign_irq(f->vm, 40, bad[i]), -EINVAL);
		if (bad[i])
			assert_int_equal(hyp_vm_assign_irq(f->vm, bad[i], 40), -EINVAL);
	}
	assert_int_equal(hyp_vm_assign_irq(f->vm, 40, 40), -ENOTSUP);
	assert_int_equal(hyp_vm_assign_irq(f->vm, 0, 40), -ENOTSUP);
	assert_int_equal(hyp_vm_host_irq(f->vm, 40), -ENOTSUP);
}

static void test_ppi_bad_intid(void **state)
{
	static const uint32_t bad[] = { 0, 1, 15, 32, 33, 1019, UINT32_MAX };
	struct fx *f = *state;

	assert_int_equal(hyp_vcpu_set_ppi(NULL, 27, true), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vcpu_set_ppi(f->vcpu, bad[i], true), -EINVAL);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(hyp_mock_irq_level(f->vm, f->vcpu, i), 0);
	assert_int_equal(hyp_vcpu_set_ppi(f->vcpu, HYP_INTID_PPI_BASE, true), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, f->vcpu, HYP_INTID_PPI_BASE), 1);
	assert_int_equal(hyp_vcpu_set_ppi(f->vcpu, 31, true), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, f->vcpu, 31), 1);
}

static void test_sgi_bad_intid(void **state)
{
	static const uint32_t bad[] = { 16, 17, 31, 32, 1019, UINT32_MAX };
	struct fx *f = *state;

	assert_int_equal(hyp_vcpu_raise_sgi(NULL, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vcpu_raise_sgi(f->vcpu, bad[i]), -EINVAL);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(hyp_mock_irq_count(f->vm, f->vcpu, i), 0);
	assert_int_equal(hyp_vcpu_raise_sgi(f->vcpu, 0), 0);
	assert_int_equal(hyp_vcpu_raise_sgi(f->vcpu, 15), 0);
	assert_int_equal(hyp_mock_irq_count(f->vm, f->vcpu, 0), 1);
	assert_int_equal(hyp_mock_irq_count(f->vm, f->vcpu, 15), 1);
}

static void check_no_injection(struct hyp_vm *vm)
{
	struct hyp_vcpu *vcpu = create_vcpu_index(vm, 0);

	assert_int_equal(hyp_vm_set_spi(vm, 33, true), -ENOTSUP);
	assert_int_equal(hyp_vm_set_spi(vm, 33, false), -ENOTSUP);
	assert_int_equal(hyp_vcpu_set_ppi(vcpu, 27, true), -ENOTSUP);
	assert_int_equal(hyp_vcpu_raise_sgi(vcpu, 1), -ENOTSUP);
	assert_int_equal(hyp_mock_irq_level(vm, NULL, 33), 0);
	assert_int_equal(hyp_mock_irq_level(vm, vcpu, 27), 0);
	assert_int_equal(hyp_mock_irq_count(vm, vcpu, 1), 0);
}

static void test_irq_irqchip_none(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .irqchip = HYP_IRQCHIP_NONE };
	struct hyp_vm *vm = create_vm_with(&cfg);

	(void)state;
	check_no_injection(vm);
	hyp_vm_destroy(vm);
}

static void test_irq_mock_no_irqchip(void **state)
{
	struct hyp_vm *vm = create_mock_vm_flags(HYP_MOCK_NO_IRQCHIP, 0);

	(void)state;
	check_no_injection(vm);
	hyp_vm_destroy(vm);
}

static void test_mock_irq_query_misuse(void **state)
{
	struct fx *f = *state;
	struct hyp_vm *other = create_mock_vm();
	struct hyp_vcpu *other_vcpu = create_vcpu_index(other, 0);

	assert_int_equal(hyp_mock_irq_level(NULL, NULL, 33), -EINVAL);
	assert_int_equal(hyp_mock_irq_count(NULL, NULL, 33), -EINVAL);
	assert_int_equal(hyp_mock_irq_level(NULL, f->vcpu, 20), -EINVAL);
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, 1020), -EINVAL);
	assert_int_equal(hyp_mock_irq_count(f->vm, NULL, 1020), -EINVAL);
	assert_int_equal(hyp_mock_irq_level(f->vm, f->vcpu, UINT32_MAX), -EINVAL);
	/* SGIs and PPIs need a target vCPU, of this VM. */
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, 27), -EINVAL);
	assert_int_equal(hyp_mock_irq_count(f->vm, NULL, 1), -EINVAL);
	assert_int_equal(hyp_mock_irq_level(f->vm, other_vcpu, 27), -EINVAL);
	assert_int_equal(hyp_mock_irq_count(f->vm, other_vcpu, 0), -EINVAL);
	/* For SPIs the vCPU is ignored. */
	assert_int_equal(hyp_vm_set_spi(f->vm, 40, true), 0);
	assert_int_equal(hyp_mock_irq_level(f->vm, NULL, 40), 1);
	assert_int_equal(hyp_mock_irq_level(f->vm, other_vcpu, 40), 1);
	assert_int_equal(hyp_mock_irq_count(f->vm, other_vcpu, 40), 1);
	assert_int_equal(hyp_mock_irq_level(other, NULL, 40), 0);
	hyp_vm_destroy(other);
}

static void test_mock_last_injection_misuse(void **state)
{
	struct fx *f = *state;
	uint64_t esr = U64_SENTINEL, far = U64_SENTINEL;

	assert_int_equal(hyp_mock_last_injection(NULL, &esr, &far), -EINVAL);
	assert_int_equal(hyp_mock_last_injection(f->vcpu, NULL, &far), -EINVAL);
	assert_int_equal(hyp_mock_last_injection(f->vcpu, &esr, NULL), -EINVAL);
	assert_int_equal(esr, U64_SENTINEL);
	assert_int_equal(far, U64_SENTINEL);
	assert_int_equal(hyp_vcpu_inject_exception(f->vcpu, HYP_INJECT_UNDEF, 0), 0);
	assert_int_equal(hyp_mock_last_injection(NULL, &esr, &far), -EINVAL);
	assert_int_equal(hyp_mock_last_injection(f->vcpu, NULL, &far), -EINVAL);
	assert_int_equal(esr, U64_SENTINEL);
	assert_int_equal(far, U64_SENTINEL);
	assert_int_equal(hyp_mock_last_injection(f->vcpu, &esr, &far), 1);
	assert_int_equal((esr >> 26) & 0x3f, 0x00); /* EC 0: Unknown reason (UNDEF) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mmio_add_misuse, setup, teardown),
		cmocka_unit_test(test_mmio_add_ipa_limit_32),
		cmocka_unit_test_setup_teardown(test_mmio_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smccc_add_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smccc_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smccc_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysreg_handler_misuse, setup, teardown),
		cmocka_unit_test(test_sysreg_handler_no_traps),
		cmocka_unit_test_setup_teardown(test_exit_handler_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_handler_twice_and_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_spi_bad_intid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assign_irq_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ppi_bad_intid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgi_bad_intid, setup, teardown),
		cmocka_unit_test(test_irq_irqchip_none),
		cmocka_unit_test(test_irq_mock_no_irqchip),
		cmocka_unit_test_setup_teardown(test_mock_irq_query_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_last_injection_misuse, setup, teardown),
	};

	return cmocka_run_group_tests_name("api-handlers", tests, NULL, NULL);
}
