/* SPDX-License-Identifier: MIT */
/* SMCCC dispatch through the public API on the mock backend: handler ranges, conduits, 7
 * arguments and 4 results, overriding the built-in PSCI, non-SMCCC immediates, defaults. */
#include "test-helpers.h"

#define VENDOR_FID 0xc6000010u

struct service {
	unsigned calls;
	struct hyp_smccc_call last;
	enum hyp_handler_result result;
};

static enum hyp_handler_result service_call(void *opaque, struct hyp_vcpu *vcpu,
					    struct hyp_smccc_call *call)
{
	struct service *svc = opaque;

	(void)vcpu;
	svc->calls++;
	svc->last = *call;
	/* Answer with something derived from every argument so none can be dropped unseen. */
	call->ret[0] = 0;
	call->ret[1] = call->args[0] + call->args[1];
	call->ret[2] = call->args[2] ^ call->args[3] ^ call->args[4];
	call->ret[3] = call->args[5] * call->args[6];
	return svc->result;
}

static const uint64_t seven_args[7] = { 1, 2, 0x300, 0x4000, 0x50000, 6, 7 };

static void test_seven_arguments_four_results(void **state)
{
	struct service svc = { .result = HYP_HANDLED };
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, VENDOR_FID,
						  VENDOR_FID + 0xf, service_call, &svc),
			 0);
	assert_int_equal(
		hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, VENDOR_FID + 3, seven_args), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(svc.calls, 1);
	assert_int_equal(svc.last.function_id, VENDOR_FID + 3);
	assert_int_equal(svc.last.conduit, HYP_CONDUIT_HVC);
	for (int i = 0; i < 7; i++)
		assert_int_equal(svc.last.args[i], seven_args[i]);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(1)), 3);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(2)), 0x300 ^ 0x4000 ^ 0x50000);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), 42);
	/* X4..X7 are preserved across an SMCCC 1.1 call. */
	for (int i = 4; i < 8; i++)
		assert_int_equal(test_reg(t.vcpu, HYP_REG_X(i)), seven_args[i - 1]);
	/* HVC's return address is the next instruction: the PC moved by one instruction. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 4);
	test_vm_destroy(&t);
}

static void test_smc_conduit_and_pc(void **state)
{
	struct service hvc = { .result = HYP_HANDLED }, smc = { .result = HYP_HANDLED };
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	/* The same IDs on different conduits are different services. */
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, VENDOR_FID, VENDOR_FID,
						  service_call, &hvc),
			 0);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_SMC, VENDOR_FID, VENDOR_FID,
						  service_call, &smc),
			 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_SMC, 0, VENDOR_FID, seven_args),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(smc.calls, 1);
	assert_int_equal(hvc.calls, 0);
	assert_int_equal(smc.last.conduit, HYP_CONDUIT_SMC);
	/* A trapped SMC reports its own address; completion steps over it. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 4);
	test_vm_destroy(&t);
}

static void test_unknown_call_gets_not_supported(void **state)
{
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, VENDOR_FID, seven_args),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_SMCCC);
	assert_int_equal(exit->smccc.function_id, VENDOR_FID);
	assert_int_equal(exit->smccc.imm, 0);
	/* Pre-set to the architected answer; a caller that does nothing gives it. */
	assert_int_equal(exit->smccc.ret[0], (uint64_t)(int64_t)HYP_SMCCC_NOT_SUPPORTED);
	assert_int_equal(exit->smccc.ret[1], seven_args[0]);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), (uint64_t)-1);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(1)), seven_args[0]);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), seven_args[2]);
	test_vm_destroy(&t);
}

static void test_caller_answers_returned_call(void **state)
{
	struct service svc = { .result = HYP_NOT_HANDLED };
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC | HYP_CONDUIT_SMC,
						  VENDOR_FID, VENDOR_FID, service_call, &svc),
			 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, VENDOR_FID, seven_args),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_SMCCC);
	assert_int_equal(svc.calls, 1);
	assert_int_equal(exit->smccc.ret[3], 42); /* what the callback wrote is kept */
	exit->smccc.ret[0] = 0x77;
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0x77);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), 42);
	test_vm_destroy(&t);
}

static void test_builtin_psci_and_smccc_version(void **state)
{
	struct test_vm t;
	uint64_t args[7] = { HYP_PSCI_CPU_ON_64 };

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0x10001);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_SMCCC_VERSION, NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0x10001);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_FEATURES, args),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_MIGRATE_INFO_TYPE,
					     NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), HYP_PSCI_TOS_NOT_PRESENT_MP);
	/* Every call above resumed the guest without returning: four HVCs, four instructions. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 16);
	test_vm_destroy(&t);
}

static void test_handler_overrides_psci(void **state)
{
	struct service svc = { .result = HYP_HANDLED };
	struct test_vm t;
	uint64_t value;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_query_cap(t.vm, HYP_CAP_PSCI_OVERRIDE, &value), 0);
	assert_int_equal(value, 1);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, HYP_PSCI_FID_FIRST_32,
						  HYP_PSCI_FID_LAST_32, service_call, &svc),
			 0);
	/* SYSTEM_OFF now reaches the VMM's handler instead of powering the VM off. */
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL),
			 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(svc.calls, 2);
	assert_int_equal(svc.last.function_id, HYP_PSCI_VERSION);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0);
	/* The 64-bit PSCI range was not overridden. */
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_AFFINITY_INFO_64,
					     NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), HYP_PSCI_AFFINITY_ON);
	assert_int_equal(svc.calls, 2);
	/* After removal, the built-in PSCI answers again. */
	assert_int_equal(hyp_vm_remove_smccc_handler(t.vm, HYP_CONDUIT_HVC, HYP_PSCI_FID_FIRST_32),
			 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), 0x10001);
	test_vm_destroy(&t);
}

static void test_nonzero_immediate_is_not_smccc(void **state)
{
	struct service svc = { .result = HYP_HANDLED };
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, 0, 0xffffffffu,
						  service_call, &svc),
			 0);
	/* HVC #1 with a PSCI ID in W0: neither the handler nor PSCI may act on it. */
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 1, HYP_PSCI_SYSTEM_OFF, NULL),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_SMCCC);
	assert_int_equal(exit->smccc.imm, 1);
	assert_int_equal(svc.calls, 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X0), (uint64_t)-1);
	test_vm_destroy(&t);
}

static void test_smc32_arguments_truncated(void **state)
{
	struct service svc = { .result = HYP_HANDLED };
	struct test_vm t;
	uint64_t args[7] = { 0xffffffff00000001ull, 0x1234567800000002ull };

	(void)state;
	test_vm_create(&t);
	/* A fast SMC32 call (bit 30 clear): only W1..W7 carry arguments. */
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, 0x86000000u, 0x86000000u,
						  service_call, &svc),
			 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, 0x86000000u, args), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(svc.calls, 1);
	assert_int_equal(svc.last.args[0], 1);
	assert_int_equal(svc.last.args[1], 2);
	test_vm_destroy(&t);
}

static void test_w0_is_the_function_id(void **state)
{
	struct service svc = { .result = HYP_HANDLED };
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, VENDOR_FID, VENDOR_FID,
						  service_call, &svc),
			 0);
	/* Junk in X0[63:32] must not change which function is called (SMCCC: W0). */
	assert_int_equal(hyp_mock_push_raw(t.vcpu, (0x16ull << 26) | (1ull << 25), 0, 0), 0);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X0, 0xabcd000000000000ull | VENDOR_FID),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(svc.calls, 1);
	assert_int_equal(svc.last.function_id, VENDOR_FID);
	test_vm_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seven_arguments_four_results),
		cmocka_unit_test(test_smc_conduit_and_pc),
		cmocka_unit_test(test_unknown_call_gets_not_supported),
		cmocka_unit_test(test_caller_answers_returned_call),
		cmocka_unit_test(test_builtin_psci_and_smccc_version),
		cmocka_unit_test(test_handler_overrides_psci),
		cmocka_unit_test(test_nonzero_immediate_is_not_smccc),
		cmocka_unit_test(test_smc32_arguments_truncated),
		cmocka_unit_test(test_w0_is_the_function_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
