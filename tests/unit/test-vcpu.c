/* SPDX-License-Identifier: MIT */
/*
 * vCPUs through the public API on the mock backend: PSCI power management across threads
 * (CPU_ON, the CPU_ON race, CPU_OFF, AFFINITY_INFO, SYSTEM_OFF reaching every vCPU), kicks from
 * threads and signal handlers, system-register traps, WFx, faults, debug exits, registers, and a
 * hostile-syndrome soak through the whole exit path.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "test-helpers.h"

#define ENTRY (TEST_RAM_BASE + 0x1000)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (bounded) until @pred holds; a test never hangs on a broken library. */
#define WAIT_FOR(pred)                                                                             \
	do {                                                                                       \
		int waited_ = 0;                                                                   \
		while (!(pred) && waited_++ < 5000)                                                \
			sleep_ms(1);                                                               \
		assert_true(pred);                                                                 \
	} while (0)

static struct hyp_vm *create_smp_vm(unsigned nr, void **ram, struct hyp_vcpu **vcpus,
				    const uint32_t *power)
{
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.max_vcpus = nr };
	struct hyp_vm *vm;

	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	*ram = aligned_alloc(HYP_PAGE_SIZE, TEST_RAM_SIZE);
	assert_non_null(*ram);
	memset(*ram, 0, TEST_RAM_SIZE);
	assert_int_equal(hyp_vm_map(vm, TEST_RAM_BASE, *ram, TEST_RAM_SIZE, HYP_MEM_RWX), 0);
	for (unsigned i = 0; i < nr; i++) {
		struct hyp_vcpu_config vc = { .size = sizeof(vc),
					      .index = i,
					      .power = power ? power[i] : 0 };

		assert_int_equal(hyp_vcpu_create(vm, &vc, &vcpus[i]), 0);
		assert_int_equal(hyp_vcpu_set_reg(vcpus[i], HYP_REG_PC, TEST_RAM_BASE), 0);
	}
	return vm;
}

static uint64_t psci(struct hyp_vcpu *vcpu, uint32_t fid, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t args[7] = { a0, a1, a2 };

	assert_int_equal(hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, fid, args), 0);
	test_run_to_end(vcpu);
	return test_reg(vcpu, HYP_REG_X0);
}

struct runner {
	pthread_t thread;
	struct hyp_vcpu *vcpu;
	int result;
	uint32_t reason;
	pthread_barrier_t *barrier;
};

static void *run_thread(void *opaque)
{
	struct runner *r = opaque;

	if (r->barrier)
		pthread_barrier_wait(r->barrier);
	r->result = hyp_vcpu_run(r->vcpu);
	r->reason = hyp_vcpu_exit(r->vcpu)->reason;
	return NULL;
}

static void start_runner(struct runner *r, struct hyp_vcpu *vcpu, pthread_barrier_t *barrier)
{
	r->vcpu = vcpu;
	r->barrier = barrier;
	r->result = 1;
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void test_default_power_and_mpidr(void **state)
{
	struct hyp_vcpu *vcpus[20];
	struct hyp_vm *vm;
	uint64_t mpidr;
	void *ram;

	(void)state;
	vm = create_smp_vm(20, &ram, vcpus, NULL);
	assert_int_equal(hyp_vcpu_is_powered_on(vcpus[0]), 1);
	assert_int_equal(hyp_vcpu_is_powered_on(vcpus[1]), 0);
	/* MPIDR_EL1: RES1 bit 31 plus the affinity; index 17 is Aff1 = 1, Aff0 = 1. */
	assert_int_equal(hyp_vcpu_get_sysreg(vcpus[17], HYP_SYSREG_MPIDR_EL1, &mpidr), 0);
	assert_int_equal(mpidr, 0x80000101ull);
	assert_int_equal(hyp_vcpu_get_sysreg(vcpus[0], HYP_SYSREG_MPIDR_EL1, &mpidr), 0);
	assert_int_equal(mpidr, 0x80000000ull);
	assert_int_equal(hyp_vcpu_set_sysreg(vcpus[0], HYP_SYSREG_MPIDR_EL1, 5), -EPERM);
	hyp_vm_destroy(vm);
	free(ram);
}

static void test_cpu_on_starts_secondary(void **state)
{
	struct hyp_vcpu *vcpus[2];
	struct hyp_exit *exit;
	struct hyp_vm *vm;
	void *ram;

	(void)state;
	vm = create_smp_vm(2, &ram, vcpus, NULL);
	assert_int_equal(hyp_vcpu_set_reg(vcpus[1], HYP_REG_X(5), 0x5555), 0);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0), HYP_PSCI_AFFINITY_OFF);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY, 0xc0ffee), HYP_PSCI_SUCCESS);
	assert_int_equal(hyp_vcpu_is_powered_on(vcpus[1]), 1);
	/* Not yet running its entry: AFFINITY_INFO says ON_PENDING, a second CPU_ON says so too. */
	assert_int_equal(psci(vcpus[0], HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0),
			 HYP_PSCI_AFFINITY_ON_PENDING);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY, 0),
			 (uint64_t)(int64_t)HYP_PSCI_ON_PENDING);

	assert_int_equal(hyp_mock_push_wfx(vcpus[1], false), 0);
	exit = test_run_expect(vcpus[1], HYP_EXIT_WFX);
	assert_int_equal(exit->vcpu_index, 1);
	/* PSCI 1.1 section 6.4: entry point, X0 = context_id, EL1h with DAIF masked, registers
	 * otherwise reset. */
	assert_int_equal(test_reg(vcpus[1], HYP_REG_PC), ENTRY);
	assert_int_equal(test_reg(vcpus[1], HYP_REG_X0), 0xc0ffee);
	assert_int_equal(test_reg(vcpus[1], HYP_REG_X(5)), 0);
	assert_int_equal(test_reg(vcpus[1], HYP_REG_PSTATE), HYP_PSTATE_EL1H_DAIF);

	assert_int_equal(psci(vcpus[0], HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0), HYP_PSCI_AFFINITY_ON);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY, 0),
			 (uint64_t)(int64_t)HYP_PSCI_ALREADY_ON);
	hyp_vm_destroy(vm);
	free(ram);
}

static void test_cpu_on_errors(void **state)
{
	struct hyp_vcpu *vcpus[2];
	struct hyp_vm *vm;
	void *ram, *data_page;

	(void)state;
	vm = create_smp_vm(2, &ram, vcpus, NULL);
	data_page = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);
	assert_non_null(data_page);
	assert_int_equal(hyp_vm_map(vm, 0x20000000, data_page, HYP_PAGE_SIZE,
				    HYP_MEM_READ | HYP_MEM_WRITE),
			 0);
	/* No CPU with that affinity; bits outside Aff3..Aff0. */
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 7, ENTRY, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_PARAMETERS);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1ull << 24 | 1, ENTRY, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_PARAMETERS);
	/* Entry not in guest memory, in non-executable memory, or not instruction-aligned. */
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, 0x1000, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_ADDRESS);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, 0x20000000, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_ADDRESS);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY + 2, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_ADDRESS);
	assert_int_equal(hyp_vcpu_is_powered_on(vcpus[1]), 0);
	/* AFFINITY_INFO of a CPU that does not exist. */
	assert_int_equal(psci(vcpus[0], HYP_PSCI_AFFINITY_INFO_64, 9, 0, 0),
			 (uint64_t)(int64_t)HYP_PSCI_INVALID_PARAMETERS);
	hyp_vm_destroy(vm);
	free(ram);
	free(data_page);
}

static void test_cpu_off_waits_until_kicked_or_on(void **state)
{
	struct hyp_vcpu *vcpus[2];
	struct runner runner;
	struct hyp_vm *vm;
	void *ram;

	(void)state;
	vm = create_smp_vm(2, &ram, vcpus, NULL);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY, 1), HYP_PSCI_SUCCESS);
	/* vCPU 1 turns itself off, then (once on again) reports with WFI. */
	assert_int_equal(hyp_mock_push_smccc(vcpus[1], HYP_CONDUIT_HVC, 0, HYP_PSCI_CPU_OFF, NULL),
			 0);
	assert_int_equal(hyp_mock_push_wfx(vcpus[1], true), 0);
	start_runner(&runner, vcpus[1], NULL);
	WAIT_FOR(hyp_vcpu_is_powered_on(vcpus[1]) == 0);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0), HYP_PSCI_AFFINITY_OFF);
	/* The off vCPU is waiting inside hyp_vcpu_run; CPU_ON wakes it at the new entry. */
	sleep_ms(20);
	assert_int_equal(runner.result, 1);
	assert_int_equal(psci(vcpus[0], HYP_PSCI_CPU_ON_64, 1, ENTRY + 0x40, 2), HYP_PSCI_SUCCESS);
	assert_int_equal(pthread_join(runner.thread, NULL), 0);
	assert_int_equal(runner.result, 0);
	assert_int_equal(runner.reason, HYP_EXIT_WFX);
	assert_int_equal(test_reg(vcpus[1], HYP_REG_PC), ENTRY + 0x40);
	assert_int_equal(test_reg(vcpus[1], HYP_REG_X0), 2);

	/* Off again, and this time the VMM kicks the waiting thread out. */
	assert_int_equal(hyp_mock_push_smccc(vcpus[1], HYP_CONDUIT_HVC, 0, HYP_PSCI_CPU_OFF, NULL),
			 0);
	start_runner(&runner, vcpus[1], NULL);
	WAIT_FOR(hyp_vcpu_is_powered_on(vcpus[1]) == 0);
	assert_int_equal(hyp_vcpu_kick(vcpus[1]), 0);
	assert_int_equal(pthread_join(runner.thread, NULL), 0);
	assert_int_equal(runner.result, 0);
	assert_int_equal(runner.reason, HYP_EXIT_KICKED);
	hyp_vm_destroy(vm);
	free(ram);
}

static void test_cpu_on_race_has_one_winner(void **state)
{
	static const uint32_t power[4] = { HYP_VCPU_POWER_ON, HYP_VCPU_POWER_ON, HYP_VCPU_POWER_ON,
					   HYP_VCPU_POWER_OFF };

	(void)state;
	for (int round = 0; round < 50; round++) {
		struct hyp_vcpu *vcpus[4];
		struct runner runners[3];
		pthread_barrier_t barrier;
		unsigned success = 0, lost = 0;
		uint64_t winner_ctx = 0;
		struct hyp_vm *vm;
		void *ram;

		vm = create_smp_vm(4, &ram, vcpus, power);
		assert_int_equal(pthread_barrier_init(&barrier, NULL, 3), 0);
		for (int i = 0; i < 3; i++) {
			uint64_t args[7] = { 3, ENTRY + 0x100 * (uint64_t)i, 0x100 + (uint64_t)i };

			assert_int_equal(hyp_mock_push_smccc(vcpus[i], HYP_CONDUIT_HVC, 0,
							     HYP_PSCI_CPU_ON_64, args),
					 0);
			start_runner(&runners[i], vcpus[i], &barrier);
		}
		for (int i = 0; i < 3; i++) {
			int64_t x0;

			assert_int_equal(pthread_join(runners[i].thread, NULL), 0);
			assert_int_equal(runners[i].result, -ENODATA);
			x0 = (int64_t)test_reg(vcpus[i], HYP_REG_X0);
			if (x0 == HYP_PSCI_SUCCESS) {
				success++;
				winner_ctx = 0x100 + (uint64_t)i;
			} else if (x0 == HYP_PSCI_ALREADY_ON || x0 == HYP_PSCI_ON_PENDING) {
				lost++;
			}
		}
		assert_int_equal(success, 1);
		assert_int_equal(lost, 2);
		/* The target starts with the winner's entry point and context. */
		assert_int_equal(hyp_mock_push_wfx(vcpus[3], false), 0);
		test_run_expect(vcpus[3], HYP_EXIT_WFX);
		assert_int_equal(test_reg(vcpus[3], HYP_REG_X0), winner_ctx);
		assert_int_equal(test_reg(vcpus[3], HYP_REG_PC),
				 ENTRY + 0x100 * (winner_ctx - 0x100));
		pthread_barrier_destroy(&barrier);
		hyp_vm_destroy(vm);
		free(ram);
	}
}

static void test_system_off_reaches_every_vcpu(void **state)
{
	struct hyp_vcpu *vcpus[3];
	struct runner waiting;
	struct hyp_exit *exit;
	struct hyp_vm *vm;
	void *ram;

	(void)state;
	vm = create_smp_vm(3, &ram, vcpus, NULL);
	/* vCPU 2 is off and waiting for CPU_ON in its thread. */
	start_runner(&waiting, vcpus[2], NULL);
	assert_int_equal(
		hyp_mock_push_smccc(vcpus[0], HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL), 0);
	assert_int_equal(hyp_mock_push_wfx(vcpus[0], false), 0);
	exit = test_run_expect(vcpus[0], HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(exit->system_event.type, HYP_SYSTEM_EVENT_OFF);
	assert_int_equal(pthread_join(waiting.thread, NULL), 0);
	assert_int_equal(waiting.result, 0);
	assert_int_equal(waiting.reason, HYP_EXIT_SYSTEM_EVENT);
	/* Every later run reports it again without entering the guest: the WFI never runs. */
	exit = test_run_expect(vcpus[0], HYP_EXIT_SYSTEM_EVENT);
	exit = test_run_expect(vcpus[1], HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(exit->vcpu_index, 1);
	assert_int_equal(hyp_mock_script_length(vcpus[0]), 1);
	hyp_vm_destroy(vm);
	free(ram);
}

static void test_system_reset_and_reset2(void **state)
{
	uint64_t args[7] = { 0x80000001u /* vendor-specific reset type */ };
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_RESET2_64,
					     args),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(exit->system_event.type, HYP_SYSTEM_EVENT_RESET);
	assert_int_equal(exit->system_event.data, 0x80000001u);
	test_vm_destroy(&t);
}

static void test_kick_semantics(void **state)
{
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_wfx(t.vcpu, false), 0);
	/* A kick before run returns at once and leaves the guest's work queued. */
	assert_int_equal(hyp_vcpu_kick(t.vcpu), 0);
	assert_int_equal(hyp_vcpu_kick(t.vcpu), 0);
	test_run_expect(t.vcpu, HYP_EXIT_KICKED);
	assert_int_equal(hyp_mock_script_length(t.vcpu), 1);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE);
	/* Kicks do not queue: the next run goes into the guest. */
	test_run_expect(t.vcpu, HYP_EXIT_WFX);
	test_run_to_end(t.vcpu);
	test_vm_destroy(&t);
}

static struct hyp_vcpu *signal_target;

static void kick_from_signal(int sig)
{
	(void)sig;
	hyp_vcpu_kick(signal_target);
}

static void test_kick_from_signal_handler(void **state)
{
	struct sigaction sa = { .sa_handler = kick_from_signal }, old;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	signal_target = t.vcpu;
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	test_run_expect(t.vcpu, HYP_EXIT_KICKED);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	test_vm_destroy(&t);
}

static void test_run_twice_concurrently_is_busy(void **state)
{
	struct hyp_vcpu *vcpus[2];
	struct runner runner;
	struct hyp_vm *vm;
	void *ram;

	(void)state;
	vm = create_smp_vm(2, &ram, vcpus, NULL);
	start_runner(&runner, vcpus[1], NULL); /* off: waits inside run */
	sleep_ms(10);
	assert_int_equal(hyp_vcpu_run(vcpus[1]), -EBUSY);
	/* And the VM cannot be reconfigured under it. */
	assert_int_equal(hyp_vm_unmap(vm, TEST_RAM_BASE, TEST_RAM_SIZE), -EBUSY);
	assert_int_equal(hyp_vcpu_kick(vcpus[1]), 0);
	assert_int_equal(pthread_join(runner.thread, NULL), 0);
	assert_int_equal(runner.reason, HYP_EXIT_KICKED);
	assert_int_equal(hyp_vm_unmap(vm, TEST_RAM_BASE, TEST_RAM_SIZE), 0);
	hyp_vm_destroy(vm);
	free(ram);
}

struct sysreg_dev {
	unsigned reads, writes;
	uint64_t value;
};

static enum hyp_handler_result sysreg_cb(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_sysreg_access *a)
{
	struct sysreg_dev *dev = opaque;

	(void)vcpu;
	if (a->is_write) {
		dev->writes++;
		dev->value = a->value;
	} else {
		dev->reads++;
		a->value = dev->value + 1;
	}
	return HYP_HANDLED;
}

static void test_sysreg_traps(void **state)
{
	const uint32_t reg = HYP_SYSREG(3, 0, 15, 2, 1); /* an IMPLEMENTATION DEFINED register */
	struct sysreg_dev dev = { 0 };
	struct test_vm t;
	struct hyp_exit *exit;
	uint64_t value;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_query_cap(t.vm, HYP_CAP_SYSREG_TRAPS, &value), 0);
	assert_int_equal(value, 1);
	assert_int_equal(hyp_vm_add_sysreg_handler(t.vm, reg, sysreg_cb, &dev), 0);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(9), 0x99), 0);
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, reg, true, 9), 0);   /* MSR reg, X9 */
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, reg, false, 10), 0); /* MRS X10, reg */
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, reg, true, 31), 0);  /* MSR reg, XZR */
	test_run_to_end(t.vcpu);
	assert_int_equal(dev.writes, 2);
	assert_int_equal(dev.reads, 1);
	assert_int_equal(dev.value, 0);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(10)), 0x9a);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 12);

	/* A register without a handler goes to the caller, who supplies the value. */
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, HYP_SYSREG_ID_AA64MMFR0_EL1, false, 3), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_SYSREG);
	assert_int_equal(exit->sysreg.encoding, HYP_SYSREG_ID_AA64MMFR0_EL1);
	assert_false(exit->sysreg.is_write);
	assert_int_equal(exit->sysreg.reg, 3);
	exit->sysreg.value = 0x1122;
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), 0x1122);

	/* Or refuses it the architected way: UNDEF at the MRS. */
	assert_int_equal(hyp_vcpu_set_sysreg(t.vcpu, HYP_SYSREG_VBAR_EL1, TEST_RAM_BASE + 0x800),
			 0);
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, HYP_SYSREG(3, 7, 15, 15, 7), false, 4), 0);
	test_run_expect(t.vcpu, HYP_EXIT_SYSREG);
	assert_int_equal(hyp_vcpu_inject_exception(t.vcpu, HYP_INJECT_UNDEF, 0), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x800 + 0x200);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG_ESR_EL1, &value), 0);
	assert_int_equal(value >> 26, 0); /* EC 0: unknown reason */
	assert_int_equal(hyp_vcpu_get_reg(t.vcpu, HYP_REG_ELR_EL1, &value), 0);
	assert_int_equal(value, TEST_RAM_BASE + 16);
	test_vm_destroy(&t);
}

static void test_sysreg_traps_absent(void **state)
{
	struct hyp_mock_config mock = { .size = sizeof(mock), .flags = HYP_MOCK_NO_SYSREG_TRAPS };
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.backend_config = &mock };
	struct sysreg_dev dev;
	struct test_vm t;
	uint64_t value = 7;

	(void)state;
	test_vm_create_with(&t, &config);
	assert_int_equal(hyp_vm_query_cap(t.vm, HYP_CAP_SYSREG_TRAPS, &value), 0);
	assert_int_equal(value, 0);
	assert_int_equal(hyp_vm_add_sysreg_handler(t.vm, HYP_SYSREG_SCTLR_EL1, sysreg_cb, &dev),
			 -ENOTSUP);
	test_vm_destroy(&t);
}

static void test_wfx_fault_and_debug_exits(void **state)
{
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_wfx(t.vcpu, false), 0);
	assert_int_equal(hyp_mock_push_wfx(t.vcpu, true), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_WFX);
	assert_false(exit->wfx.is_wfe);
	exit = test_run_expect(t.vcpu, HYP_EXIT_WFX);
	assert_true(exit->wfx.is_wfe);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 8);

	/* Fetch from an IPA with no memory: a fault exit, PC left on the faulting address. */
	assert_int_equal(hyp_mock_push_exec_fault(t.vcpu, 0x30000040), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MEM_FAULT);
	assert_int_equal(exit->fault.kind, HYP_FAULT_EXEC);
	assert_true(exit->fault.ipa_valid);
	assert_int_equal(exit->fault.ipa, 0x30000040);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 8);

	/* BRK #0x3e8 (EC 0x3c, comment in ISS[15:0]). */
	assert_int_equal(hyp_mock_push_raw(t.vcpu, (0x3cull << 26) | (1ull << 25) | 0x3e8, 0, 0),
			 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_DEBUG);
	assert_int_equal(exit->exception.ec, 0x3c);
	assert_int_equal(exit->exception.imm, 0x3e8);
	/* EC 0: an instruction the hardware could not execute. */
	assert_int_equal(hyp_mock_push_raw(t.vcpu, 1ull << 25, 0, 0), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_EXCEPTION);
	assert_int_equal(exit->exception.ec, 0);
	test_vm_destroy(&t);
}

static enum hyp_handler_result absorb_wfx(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_exit *exit)
{
	(void)vcpu;
	(void)exit;
	(*(unsigned *)opaque)++;
	return HYP_HANDLED;
}

static void test_exit_handler_absorbs(void **state)
{
	struct test_vm t;
	unsigned count = 0;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_set_exit_handler(t.vm, HYP_EXIT_WFX, absorb_wfx, &count), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hyp_mock_push_wfx(t.vcpu, i & 1), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(count, 5);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 20);
	assert_int_equal(hyp_vm_set_exit_handler(t.vm, HYP_EXIT_WFX, NULL, NULL), 0);
	assert_int_equal(hyp_mock_push_wfx(t.vcpu, false), 0);
	test_run_expect(t.vcpu, HYP_EXIT_WFX);
	test_vm_destroy(&t);
}

static void test_el1_registers(void **state)
{
	struct test_vm t;
	uint64_t v;

	(void)state;
	test_vm_create(&t);
	/* SP_EL1/ELR_EL1/SPSR_EL1 are reachable as core registers and as system registers. */
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_SP_EL1, 0x4000f000), 0);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG_SP_EL1, &v), 0);
	assert_int_equal(v, 0x4000f000);
	assert_int_equal(hyp_vcpu_set_sysreg(t.vcpu, HYP_SYSREG_SPSR_EL1, 0x3c5), 0);
	assert_int_equal(hyp_vcpu_get_reg(t.vcpu, HYP_REG_SPSR_EL1, &v), 0);
	assert_int_equal(v, 0x3c5);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_SP_EL0, 0x1234), 0);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_SP_EL0), 0x1234);
	/* Reset state: EL1h, DAIF masked, MMU off. */
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PSTATE), HYP_PSTATE_EL1H_DAIF);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG_SCTLR_EL1, &v), 0);
	assert_int_equal(v & 1, 0);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG(3, 1, 15, 0, 0), &v), -ENOENT);
	test_vm_destroy(&t);
}

/* Every core register, in no particular order, with a value unique to it. */
static const enum hyp_reg all_regs[] = {
	HYP_REG_SPSR_EL1, HYP_REG_PC,	  HYP_REG_X(0),	  HYP_REG_X(7),	   HYP_REG_X(30),
	HYP_REG_SP_EL0,	  HYP_REG_PSTATE, HYP_REG_SP_EL1, HYP_REG_ELR_EL1, HYP_REG_X(15),
};
#define NR_ALL_REGS (sizeof(all_regs) / sizeof(all_regs[0]))

static uint64_t reg_value(enum hyp_reg reg)
{
	switch (reg) {
	case HYP_REG_PSTATE:
		return 0x80000000ull | HYP_PSTATE_EL1H_DAIF; /* N set: not the reset value */
	case HYP_REG_PC:
		return TEST_RAM_BASE + 0x100;
	default:
		return 0x1111000000000000ull * ((uint64_t)reg % 15 + 1) + (uint64_t)reg;
	}
}

static void test_batched_regs(void **state)
{
	uint64_t values[NR_ALL_REGS], got[NR_ALL_REGS], v;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	for (size_t i = 0; i < NR_ALL_REGS; i++)
		values[i] = reg_value(all_regs[i]);
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, all_regs, values, NR_ALL_REGS), 0);
	/* Each register took its own value, whichever way it is read. */
	for (size_t i = 0; i < NR_ALL_REGS; i++)
		assert_int_equal(test_reg(t.vcpu, all_regs[i]), values[i]);
	assert_int_equal(hyp_vcpu_get_sysreg(t.vcpu, HYP_SYSREG_ELR_EL1, &v), 0);
	assert_int_equal(v, reg_value(HYP_REG_ELR_EL1));
	memset(got, 0, sizeof(got));
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, all_regs, got, NR_ALL_REGS), 0);
	assert_memory_equal(got, values, sizeof(values));

	/* A register may be named twice: a read fills both slots, a write keeps the last value. */
	{
		const enum hyp_reg twice[] = { HYP_REG_X(3), HYP_REG_SP_EL1, HYP_REG_X(3) };
		const uint64_t set[] = { 1, 2, 3 };
		uint64_t out[3] = { 0 };

		assert_int_equal(hyp_vcpu_set_regs(t.vcpu, twice, set, 3), 0);
		assert_int_equal(hyp_vcpu_get_regs(t.vcpu, twice, out, 3), 0);
		assert_int_equal(out[0], 3);
		assert_int_equal(out[1], 2);
		assert_int_equal(out[2], 3);
	}
	/* Nothing to do is not an error, and needs no arrays. */
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, NULL, NULL, 0), 0);
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, NULL, NULL, 0), 0);
	test_vm_destroy(&t);
}

/* A batch is validated as a whole: one bad entry anywhere and no register changes, and a failed
 * read leaves the caller's array alone. */
static void test_batched_regs_all_or_nothing(void **state)
{
	enum hyp_reg regs[NR_ALL_REGS + 1];
	uint64_t values[NR_ALL_REGS + 1], before[NR_ALL_REGS], after[NR_ALL_REGS], got[NR_ALL_REGS];
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, all_regs, before, NR_ALL_REGS), 0);
	for (size_t bad = 0; bad <= NR_ALL_REGS; bad++) {
		/* An unknown id at position @bad among valid registers with new values. */
		for (size_t i = 0, j = 0; i <= NR_ALL_REGS; i++) {
			if (i == bad) {
				regs[i] = HYP_REG_COUNT;
				values[i] = 0;
				continue;
			}
			regs[i] = all_regs[j];
			values[i] = reg_value(all_regs[j++]);
		}
		assert_int_equal(hyp_vcpu_set_regs(t.vcpu, regs, values, NR_ALL_REGS + 1), -EINVAL);
		assert_int_equal(hyp_vcpu_get_regs(t.vcpu, all_regs, after, NR_ALL_REGS), 0);
		assert_memory_equal(after, before, sizeof(before));

		memset(got, 0xa5, sizeof(got));
		assert_int_equal(hyp_vcpu_get_regs(t.vcpu, regs, got, NR_ALL_REGS + 1), -EINVAL);
		for (size_t i = 0; i < NR_ALL_REGS; i++)
			assert_int_equal(got[i], 0xa5a5a5a5a5a5a5a5ull);
	}
	/* A negative id is as unknown as a large one. */
	regs[0] = (enum hyp_reg) - 1;
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, regs, values, 1), -EINVAL);

	/* A PSTATE that names EL2 fails the whole batch, wherever it comes. */
	for (size_t i = 0; i < NR_ALL_REGS; i++)
		values[i] = all_regs[i] == HYP_REG_PSTATE ? 0x3c9 : reg_value(all_regs[i]);
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, all_regs, values, NR_ALL_REGS), -EINVAL);
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, all_regs, after, NR_ALL_REGS), 0);
	assert_memory_equal(after, before, sizeof(before));

	/* NULL arrays with a count, and no vCPU. */
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, NULL, values, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, all_regs, NULL, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, NULL, got, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_get_regs(t.vcpu, all_regs, NULL, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_set_regs(NULL, all_regs, values, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_get_regs(NULL, all_regs, got, 1), -EINVAL);
	test_vm_destroy(&t);
}

/* A PC written in a batch between an exit and the next run cancels the exit's PC advance, as a
 * single write does; the rest of the completion (the load into X5) still happens. */
static void test_batched_pc_cancels_advance(void **state)
{
	const enum hyp_reg regs[] = { HYP_REG_X(9), HYP_REG_PC };
	const uint64_t values[] = { 99, TEST_RAM_BASE + 0x800 };
	struct test_vm t;
	struct hyp_exit *exit;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, 0x09000000, 4, 5, 0), 0);
	exit = test_run_expect(t.vcpu, HYP_EXIT_MMIO);
	exit->mmio.data = 77;
	assert_int_equal(hyp_vcpu_set_regs(t.vcpu, regs, values, 2), 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(5)), 77);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(9)), 99);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_PC), TEST_RAM_BASE + 0x800);
	test_vm_destroy(&t);
}

static enum hyp_handler_result accept_all_mmio(void *opaque, struct hyp_vcpu *vcpu,
					       struct hyp_mmio_access *a)
{
	(void)vcpu;
	(void)opaque;
	if (!a->is_write)
		a->data = 0xfedcba9876543210ull;
	return HYP_HANDLED;
}

static enum hyp_handler_result accept_all_exits(void *opaque, struct hyp_vcpu *vcpu,
						struct hyp_exit *exit)
{
	(void)vcpu;
	(void)opaque;
	if (exit->reason == HYP_EXIT_SYSREG && !exit->sysreg.is_write)
		exit->sysreg.value = 1;
	return HYP_HANDLED;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A hostile guest: any syndrome at all, any register contents. Every exit must decode to a valid
 * reason, complete without touching memory it should not (ASan watches), and keep the loop
 * alive. */
static void test_hostile_syndromes(void **state)
{
	static const uint32_t reasons[] = { HYP_EXIT_MMIO,     HYP_EXIT_SMCCC,	   HYP_EXIT_SYSREG,
					    HYP_EXIT_WFX,      HYP_EXIT_MEM_FAULT, HYP_EXIT_DEBUG,
					    HYP_EXIT_EXCEPTION };
	struct hyp_mock_config mock = { .size = sizeof(mock), .max_script_steps = 64 };
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.backend_config = &mock };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned counts[HYP_EXIT_REASON_COUNT] = { 0 };
	struct test_vm t;
	unsigned returned = 0;

	(void)state;
	test_vm_create_with(&t, &config);
	/* Devices everywhere there is no RAM, a catch-all for every exit, and PSCI overridden so
	 * a random X0 cannot power the vCPU off. */
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, 0, TEST_RAM_BASE, accept_all_mmio, NULL), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, TEST_RAM_BASE + TEST_RAM_SIZE,
						 (1ull << 40) - TEST_RAM_BASE - TEST_RAM_SIZE,
						 accept_all_mmio, NULL),
			 0);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		assert_int_equal(hyp_vm_set_exit_handler(t.vm, reasons[i], accept_all_exits, NULL),
				 0);
	for (int i = 0; i < 20000; i++) {
		uint64_t esr = xorshift(&seed), far = xorshift(&seed), hpfar = xorshift(&seed);
		uint64_t pc_before;
		int r;

		/* Half the time keep the EC in the range guests really produce. */
		if (i & 1)
			esr &= 0xffffffffull;
		for (int reg = 0; reg < 31; reg++)
			assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(reg), xorshift(&seed)),
					 0);
		assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X0, 0xc7000000u | (i & 0xffff)),
				 0);
		assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_PC, TEST_RAM_BASE + 0x100), 0);
		pc_before = TEST_RAM_BASE + 0x100;
		assert_int_equal(hyp_mock_push_raw(t.vcpu, esr, far, hpfar), 0);
		r = hyp_vcpu_run(t.vcpu);
		if (r == 0) {
			struct hyp_exit *exit = hyp_vcpu_exit(t.vcpu);

			/* Only what nobody may absorb comes back. */
			assert_true(exit->reason == HYP_EXIT_SYSTEM_EVENT ||
				    exit->reason == HYP_EXIT_KICKED);
			returned++;
			continue;
		}
		assert_int_equal(r, -ENODATA);
		counts[0]++;
		/* The PC moved by at most one instruction (or stayed, for faults). */
		assert_true(test_reg(t.vcpu, HYP_REG_PC) - pc_before <= 4);
	}
	assert_int_equal(returned, 0);
	assert_int_equal(counts[0], 20000);
	test_vm_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_power_and_mpidr),
		cmocka_unit_test(test_cpu_on_starts_secondary),
		cmocka_unit_test(test_cpu_on_errors),
		cmocka_unit_test(test_cpu_off_waits_until_kicked_or_on),
		cmocka_unit_test(test_cpu_on_race_has_one_winner),
		cmocka_unit_test(test_system_off_reaches_every_vcpu),
		cmocka_unit_test(test_system_reset_and_reset2),
		cmocka_unit_test(test_kick_semantics),
		cmocka_unit_test(test_kick_from_signal_handler),
		cmocka_unit_test(test_run_twice_concurrently_is_busy),
		cmocka_unit_test(test_sysreg_traps),
		cmocka_unit_test(test_sysreg_traps_absent),
		cmocka_unit_test(test_wfx_fault_and_debug_exits),
		cmocka_unit_test(test_exit_handler_absorbs),
		cmocka_unit_test(test_el1_registers),
		cmocka_unit_test(test_batched_regs),
		cmocka_unit_test(test_batched_regs_all_or_nothing),
		cmocka_unit_test(test_batched_pc_cancels_advance),
		cmocka_unit_test(test_hostile_syndromes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
