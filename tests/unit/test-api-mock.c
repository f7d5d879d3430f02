/* SPDX-License-Identifier: MIT */
/*
 * API misuse (see test-api-misuse.h): the mock backend's scripting API.
 */
#define _POSIX_C_SOURCE 200809L

#include "test-api-misuse.h"

/* ---- Mock scripting ---------------------------------------------------------------------- */

static void test_push_mmio_misuse(void **state)
{
	static const struct {
		uint32_t len, reg, flags;
	} bad[] = {
		{ 0, 0, 0 },
		{ 3, 0, 0 },
		{ 5, 0, 0 },
		{ 16, 0, HYP_MOCK_MMIO_REG64 },
		{ UINT32_MAX, 0, 0 },
		{ 4, 32, 0 },
		{ 4, UINT32_MAX, 0 },
		{ 4, 0, 1u << 5 },
		{ 4, 0, 0x80000000u },
		/* Sign extension is for loads only. */
		{ 1, 0, HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_SIGN_EXTEND },
		{ 4, 0, HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64 },
		/* An 8-byte access is always to an X register. */
		{ 8, 0, 0 },
		{ 8, 0, HYP_MOCK_MMIO_WRITE },
		/* No 8-byte load sign-extends. */
		{ 8, 0, HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64 },
	};
	struct fx *f = *state;

	assert_int_equal(hyp_mock_push_mmio(NULL, MMIO_BASE, 4, 0, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE, bad[i].len, bad[i].reg,
						    bad[i].flags),
				 -EINVAL);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 0);
	/* The valid neighbours of those. */
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE, 1, 31, HYP_MOCK_MMIO_WRITE), 0);
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE, 8, 0,
					    HYP_MOCK_MMIO_REG64 | HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE, 2, 0,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE, 4, 0,
					    HYP_MOCK_MMIO_ACQ_REL | HYP_MOCK_MMIO_NO_SYNDROME),
			 0);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 4);
}

static void test_push_smccc_misuse(void **state)
{
	static const uint32_t bad[] = { 0, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC, 1u << 2, 8,
					UINT32_MAX };
	struct fx *f = *state;
	const uint64_t args[7] = { 1, 2, 3, 4, 5, 6, 7 };

	assert_int_equal(hyp_mock_push_smccc(NULL, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL),
			 -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_mock_push_smccc(f->vcpu, bad[i], 0, HYP_PSCI_VERSION, args),
				 -EINVAL);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 0);
	assert_int_equal(hyp_mock_push_smccc(f->vcpu, HYP_CONDUIT_SMC, 0xffff, 0, args), 0);
	assert_int_equal(hyp_mock_push_smccc(f->vcpu, HYP_CONDUIT_HVC, 0, UINT32_MAX, NULL), 0);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 2);
}

static void test_push_beyond_ipa_space(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock", .ipa_bits = 32 };
	struct hyp_vm *vm = create_vm_with(&cfg);
	struct hyp_vcpu *vcpu = create_vcpu_index(vm, 0);

	(void)state;
	/* "-EINVAL for ... an access beyond the VM's IPA space". */
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0x100000000ull, 1, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0xfffffffeull, 4, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0xfffffff9ull, 8, 0, HYP_MOCK_MMIO_REG64),
			 -EINVAL);
	assert_int_equal(hyp_mock_push_mmio(vcpu, UINT64_MAX, 2, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_exec_fault(vcpu, 0x100000000ull), -EINVAL);
	assert_int_equal(hyp_mock_push_exec_fault(vcpu, UINT64_MAX), -EINVAL);
	assert_int_equal(hyp_mock_script_length(vcpu), 0);
	/* The last bytes of the space are reachable. */
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0xffffffffull, 1, 0, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0xfffffff8ull, 8, 0, HYP_MOCK_MMIO_REG64), 0);
	assert_int_equal(hyp_mock_push_exec_fault(vcpu, 0xfffffffcull), 0);
	assert_int_equal(hyp_mock_script_length(vcpu), 3);
	hyp_vm_destroy(vm);
}

static void test_push_sysreg_misuse(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_mock_push_sysreg(NULL, HYP_SYSREG_ACTLR_EL1, false, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_sysreg(f->vcpu, 0x10000, false, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_sysreg(f->vcpu, UINT32_MAX, true, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_sysreg(f->vcpu, HYP_SYSREG_ACTLR_EL1, false, 32), -EINVAL);
	assert_int_equal(hyp_mock_push_sysreg(f->vcpu, HYP_SYSREG_ACTLR_EL1, true, UINT32_MAX),
			 -EINVAL);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 0);
	assert_int_equal(hyp_mock_push_sysreg(f->vcpu, 0xffff, true, 31), 0);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 1);
}

static void test_push_other_null(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_mock_push_wfx(NULL, false), -EINVAL);
	assert_int_equal(hyp_mock_push_wfx(NULL, true), -EINVAL);
	assert_int_equal(hyp_mock_push_exec_fault(NULL, 0x1000), -EINVAL);
	assert_int_equal(hyp_mock_push_raw(NULL, 0, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_script_length(NULL), -EINVAL);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 0);
	/* Hostile syndromes are accepted by push_raw (delivered as is). */
	assert_int_equal(hyp_mock_push_raw(f->vcpu, UINT64_MAX, UINT64_MAX, UINT64_MAX), 0);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 1);
}

static void test_script_full(void **state)
{
	struct hyp_vm *vm = create_mock_vm_flags(0, 3);
	struct hyp_vcpu *vcpu = create_vcpu_index(vm, 0);
	const uint64_t args[7] = { 0 };

	(void)state;
	assert_int_equal(hyp_mock_push_wfx(vcpu, false), 0);
	assert_int_equal(hyp_mock_push_wfx(vcpu, true), 0);
	assert_int_equal(hyp_mock_push_raw(vcpu, 0, 0, 0), 0);
	assert_int_equal(hyp_mock_script_length(vcpu), 3);
	/* Every push fails the same way once full. */
	assert_int_equal(hyp_mock_push_wfx(vcpu, false), -ENOSPC);
	assert_int_equal(hyp_mock_push_mmio(vcpu, MMIO_BASE, 4, 0, 0), -ENOSPC);
	assert_int_equal(hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, args),
			 -ENOSPC);
	assert_int_equal(hyp_mock_push_sysreg(vcpu, HYP_SYSREG_ACTLR_EL1, false, 0), -ENOSPC);
	assert_int_equal(hyp_mock_push_exec_fault(vcpu, 0x1000), -ENOSPC);
	assert_int_equal(hyp_mock_push_raw(vcpu, 0, 0, 0), -ENOSPC);
	assert_int_equal(hyp_mock_script_length(vcpu), 3);
	/* Argument errors are still argument errors. */
	assert_int_equal(hyp_mock_push_mmio(vcpu, MMIO_BASE, 3, 0, 0), -EINVAL);

	/* Running one step makes room for one more. */
	assert_int_equal(hyp_vcpu_run(vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(vcpu)->reason, HYP_EXIT_WFX);
	assert_int_equal(hyp_vcpu_exit(vcpu)->wfx.is_wfe, 0);
	assert_int_equal(hyp_mock_script_length(vcpu), 2);
	assert_int_equal(hyp_mock_push_wfx(vcpu, false), 0);
	assert_int_equal(hyp_mock_push_wfx(vcpu, false), -ENOSPC);
	/* The queue keeps its order across the wrap. */
	assert_int_equal(hyp_vcpu_run(vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(vcpu)->reason, HYP_EXIT_WFX);
	assert_int_equal(hyp_vcpu_exit(vcpu)->wfx.is_wfe, 1);
	hyp_vm_destroy(vm);
}

static void test_mock_functions_non_mock(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend_ops = &ext_ops };
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	uint64_t esr = U64_SENTINEL, far = U64_SENTINEL;

	(void)state;
	vm = create_vm_with(&cfg);
	vcpu = create_vcpu_index(vm, 0);
	assert_int_equal(hyp_mock_push_mmio(vcpu, MMIO_BASE, 4, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL),
			 -EINVAL);
	assert_int_equal(hyp_mock_push_sysreg(vcpu, HYP_SYSREG_ACTLR_EL1, false, 0), -EINVAL);
	assert_int_equal(hyp_mock_push_wfx(vcpu, false), -EINVAL);
	assert_int_equal(hyp_mock_push_exec_fault(vcpu, 0x1000), -EINVAL);
	assert_int_equal(hyp_mock_push_raw(vcpu, 0, 0, 0), -EINVAL);
	assert_int_equal(hyp_mock_script_length(vcpu), -EINVAL);
	assert_int_equal(hyp_mock_irq_level(vm, NULL, 33), -EINVAL);
	assert_int_equal(hyp_mock_irq_count(vm, vcpu, 20), -EINVAL);
	assert_int_equal(hyp_mock_last_injection(vcpu, &esr, &far), -EINVAL);
	assert_int_equal(esr, U64_SENTINEL);
	assert_int_equal(far, U64_SENTINEL);
	/* The external backend has no inject_irq method: -ENOTSUP. */
	assert_int_equal(hyp_vm_set_spi(vm, 33, true), -ENOTSUP);
	/* It holds no system registers either. */
	assert_int_equal(hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &esr), -ENOTSUP);
	assert_int_equal(esr, U64_SENTINEL);
	/* Its enter method fails: the backend error comes back from run. */
	assert_int_equal(hyp_vcpu_run(vcpu), -ENODATA);
	hyp_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_mmio_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_smccc_misuse, setup, teardown),
		cmocka_unit_test(test_push_beyond_ipa_space),
		cmocka_unit_test_setup_teardown(test_push_sysreg_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_other_null, setup, teardown),
		cmocka_unit_test(test_script_full),
		cmocka_unit_test(test_mock_functions_non_mock),
	};

	return cmocka_run_group_tests_name("api-mock", tests, NULL, NULL);
}
