/* SPDX-License-Identifier: MIT */
/*
 * API misuse (see test-api-misuse.h): vCPUs: creation, accessors, registers and running.
 */
#define _POSIX_C_SOURCE 200809L

#include "test-api-misuse.h"

/* ---- vCPU creation ----------------------------------------------------------------------- */

static void expect_vcpu_create_fails(struct hyp_vm *vm, const struct hyp_vcpu_config *cfg, int err)
{
	struct hyp_vcpu *vcpu = PTR_SENTINEL;

	assert_int_equal(hyp_vcpu_create(vm, cfg, &vcpu), err);
	assert_ptr_equal(vcpu, PTR_SENTINEL);
}

static void test_vcpu_create_null(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg), .index = 1 };

	expect_vcpu_create_fails(NULL, &cfg, -EINVAL);
	expect_vcpu_create_fails(NULL, NULL, -EINVAL);
	assert_int_equal(hyp_vcpu_create(f->vm, &cfg, NULL), -EINVAL);
	assert_int_equal(hyp_vcpu_create(f->vm, NULL, NULL), -EINVAL);
	/* Nothing was created at index 1 by the failed calls. */
	hyp_vcpu_destroy(create_vcpu_index(f->vm, 1));
}

static void test_vcpu_create_size(void **state)
{
	struct fx *f = *state;
	struct {
		struct hyp_vcpu_config c;
		uint8_t tail[16];
	} big;
	struct hyp_vcpu *vcpu = PTR_SENTINEL;

	memset(&big, 0, sizeof(big));
	big.c.index = 1;
	big.c.size = 0;
	expect_vcpu_create_fails(f->vm, &big.c, -EINVAL);
	big.c.size = 4;
	expect_vcpu_create_fails(f->vm, &big.c, -EINVAL);
	big.c.size = offsetof(struct hyp_vcpu_config, mpidr);
	expect_vcpu_create_fails(f->vm, &big.c, -EINVAL);
	big.c.size = sizeof(struct hyp_vcpu_config) - 1;
	expect_vcpu_create_fails(f->vm, &big.c, -EINVAL);

	big.c.size = sizeof(big);
	big.tail[0] = 1;
	expect_vcpu_create_fails(f->vm, &big.c, -E2BIG);
	big.tail[0] = 0;
	big.tail[15] = 0x80;
	expect_vcpu_create_fails(f->vm, &big.c, -E2BIG);
	big.tail[15] = 0;
	assert_int_equal(hyp_vcpu_create(f->vm, &big.c, &vcpu), 0);
	assert_int_equal(hyp_vcpu_index(vcpu), 1);
}

static void test_vcpu_create_index_range(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg) };
	struct hyp_vcpu *vcpu;

	cfg.index = HYP_DEFAULT_MAX_VCPUS;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	cfg.index = HYP_MAX_VCPUS;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	cfg.index = UINT32_MAX;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	vcpu = create_vcpu_index(f->vm, HYP_DEFAULT_MAX_VCPUS - 1);
	assert_int_equal(hyp_vcpu_index(vcpu), HYP_DEFAULT_MAX_VCPUS - 1);
}

static void test_vcpu_create_duplicate_index(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg), .index = 0 };

	/* The fixture created vCPU 0. */
	expect_vcpu_create_fails(f->vm, &cfg, -EEXIST);
	cfg.mpidr = 0x77; /* a free affinity does not make a taken index usable */
	expect_vcpu_create_fails(f->vm, &cfg, -EEXIST);
	create_vcpu_index(f->vm, 3);
	cfg.index = 3;
	cfg.mpidr = 0;
	expect_vcpu_create_fails(f->vm, &cfg, -EEXIST);
}

static void test_vcpu_create_duplicate_mpidr(void **state)
{
	struct hyp_vm_config vcfg = { .size = sizeof(vcfg), .backend = "mock", .max_vcpus = 32 };
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg) };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;

	(void)state;
	vm = create_vm_with(&vcfg);
	/* Explicit affinity equal to another explicit one. */
	cfg.index = 1;
	cfg.mpidr = 0x100000000ull; /* Aff3 = 1 */
	assert_int_equal(hyp_vcpu_create(vm, &cfg, &vcpu), 0);
	cfg.index = 2;
	expect_vcpu_create_fails(vm, &cfg, -EEXIST);

	/* Explicit affinity equal to the one derived from another vCPU's index (index 5 -> 5). */
	create_vcpu_index(vm, 5);
	cfg.index = 6;
	cfg.mpidr = 5;
	expect_vcpu_create_fails(vm, &cfg, -EEXIST);

	/* The other order: index 16 derives Aff1 = 1 (0x100), which vCPU 7 took explicitly. */
	cfg.index = 7;
	cfg.mpidr = 0x100;
	assert_int_equal(hyp_vcpu_create(vm, &cfg, &vcpu), 0);
	assert_int_equal(hyp_backend_vcpu_mpidr(vcpu), 0x100);
	cfg.index = 16;
	cfg.mpidr = 0;
	expect_vcpu_create_fails(vm, &cfg, -EEXIST);
	/* Index 17 derives 0x101: free. */
	vcpu = create_vcpu_index(vm, 17);
	assert_int_equal(hyp_backend_vcpu_mpidr(vcpu), 0x101);
	hyp_vm_destroy(vm);
}

static void test_vcpu_create_mpidr_bad_bits(void **state)
{
	static const uint64_t bad[] = {
		1ull << 24,
		1ull << 30,
		1ull << 31 /* MPIDR_EL1.RES1, not affinity */,
		1ull << 40,
		1ull << 63,
		0xff000000ull,
		0xffffffffffffffffull,
		0x80000001ull,
	};
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg), .index = 1 };
	struct hyp_vcpu *vcpu;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.mpidr = bad[i];
		expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	}
	/* All four affinity fields at their maximum is fine. */
	cfg.mpidr = 0xff00ffffffull;
	assert_int_equal(hyp_vcpu_create(f->vm, &cfg, &vcpu), 0);
	assert_int_equal(hyp_backend_vcpu_mpidr(vcpu), 0xff00ffffffull);
}

static void test_vcpu_create_bad_power_and_reserved(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg), .index = 1 };

	cfg.power = HYP_VCPU_POWER_OFF + 1;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	cfg.power = UINT32_MAX;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
	cfg.power = 0;
	cfg.reserved = 1;
	expect_vcpu_create_fails(f->vm, &cfg, -EINVAL);
}

static void test_vcpu_create_null_config_lowest_free(void **state)
{
	struct hyp_vm_config vcfg = { .size = sizeof(vcfg), .backend = "mock", .max_vcpus = 4 };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;

	(void)state;
	vm = create_vm_with(&vcfg);
	create_vcpu_index(vm, 0);
	create_vcpu_index(vm, 2);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vcpu_index(vcpu), 1);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vcpu_index(vcpu), 3);
	/* Full: there is no free index. No errno is documented for this case; it must fail and
	 * leave the out-parameter alone. */
	vcpu = PTR_SENTINEL;
	assert_true(hyp_vcpu_create(vm, NULL, &vcpu) < 0);
	assert_ptr_equal(vcpu, PTR_SENTINEL);
	hyp_vm_destroy(vm);
}

/* ---- vCPU accessors and registers -------------------------------------------------------- */

static void test_vcpu_accessors_null(void **state)
{
	(void)state;
	assert_int_equal(hyp_vcpu_index(NULL), 0);
	assert_null(hyp_vcpu_vm(NULL));
	assert_null(hyp_vcpu_exit(NULL));
	assert_int_equal(hyp_vcpu_kick(NULL), -EINVAL);
	assert_int_equal(hyp_vcpu_is_powered_on(NULL), -EINVAL);
	assert_int_equal(hyp_vcpu_run(NULL), -EINVAL);
}

static void test_vcpu_accessors(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg) };
	struct hyp_vcpu *v1, *v2, *v3;
	struct hyp_exit *exit;
	uint64_t mpidr;

	assert_int_equal(hyp_vcpu_index(f->vcpu), 0);
	assert_ptr_equal(hyp_vcpu_vm(f->vcpu), f->vm);
	exit = hyp_vcpu_exit(f->vcpu);
	assert_non_null(exit);
	assert_int_equal(exit->reason, HYP_EXIT_NONE);
	assert_int_equal(exit->vcpu_index, 0);

	v1 = create_vcpu_index(f->vm, 1);
	assert_int_equal(hyp_vcpu_exit(v1)->vcpu_index, 1);
	assert_int_equal(hyp_vcpu_exit(v1)->reason, HYP_EXIT_NONE);
	cfg.index = 2;
	cfg.power = HYP_VCPU_POWER_ON;
	assert_int_equal(hyp_vcpu_create(f->vm, &cfg, &v2), 0);
	cfg.index = 5;
	cfg.power = HYP_VCPU_POWER_OFF;
	cfg.mpidr = 0x10203ull;
	assert_int_equal(hyp_vcpu_create(f->vm, &cfg, &v3), 0);

	/* vCPU 0 starts on, others off, unless asked. */
	assert_int_equal(hyp_vcpu_is_powered_on(f->vcpu), 1);
	assert_int_equal(hyp_vcpu_is_powered_on(v1), 0);
	assert_int_equal(hyp_vcpu_is_powered_on(v2), 1);
	assert_int_equal(hyp_vcpu_is_powered_on(v3), 0);

	/* The guest reads the affinity in MPIDR_EL1 (Aff3..Aff0 bits). */
	assert_int_equal(hyp_vcpu_get_sysreg(v3, HYP_SYSREG_MPIDR_EL1, &mpidr), 0);
	assert_int_equal(mpidr & 0xff00ffffffull, 0x10203ull);
	assert_int_equal(hyp_vcpu_get_sysreg(v1, HYP_SYSREG_MPIDR_EL1, &mpidr), 0);
	assert_int_equal(mpidr & 0xff00ffffffull, 1);
	assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, HYP_SYSREG_MPIDR_EL1, &mpidr), 0);
	assert_int_equal(mpidr & 0xff00ffffffull, 0);
}

static void test_vcpu_reset_state(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu *v1 = create_vcpu_index(f->vm, 1);
	uint64_t v = U64_SENTINEL;

	/* "PSTATE = EL1h with DAIF masked, MMU off, PC = 0 until the caller sets it." */
	assert_int_equal(hyp_vcpu_get_reg(v1, HYP_REG_PSTATE, &v), 0);
	assert_int_equal(v, HYP_PSTATE_EL1H_DAIF);
	assert_int_equal(hyp_vcpu_get_reg(v1, HYP_REG_PC, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(hyp_vcpu_get_sysreg(v1, HYP_SYSREG_SCTLR_EL1, &v), 0);
	assert_int_equal(v & 1, 0); /* SCTLR_EL1.M */
}

static void test_get_reg_misuse(void **state)
{
	static const uint32_t bad[] = { HYP_REG_COUNT, HYP_REG_COUNT + 1, 100, 0x7fffffff,
					0xffffffffu };
	struct fx *f = *state;
	uint64_t v = U64_SENTINEL;

	assert_int_equal(hyp_vcpu_get_reg(NULL, HYP_REG_X0, &v), -EINVAL);
	assert_int_equal(v, U64_SENTINEL);
	assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_X0, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hyp_vcpu_get_reg(f->vcpu, (enum hyp_reg)bad[i], &v), -EINVAL);
		assert_int_equal(v, U64_SENTINEL);
	}
}

/* A guest is never entered at EL2, in AArch32 or with bits that do not exist in PSTATE. */
static void test_set_reg_pstate_validated(void **state)
{
	static const uint64_t bad[] = { 0x3c9 /* EL2h */,	0x3c8 /* EL2t */,
					0x3cd /* EL3h */,	0x3d0 /* AArch32 usr */,
					0x3c1 /* reserved M */, 0x3c5ull | (1ull << 32),
					0x3c5ull | (1ull << 14) };
	struct fx *f = *state;
	uint64_t v = U64_SENTINEL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vcpu_set_reg(f->vcpu, HYP_REG_PSTATE, bad[i]), -EINVAL);
	assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_PSTATE, &v), 0);
	assert_int_equal(v, 0x3c5);					       /* unchanged */
	assert_int_equal(hyp_vcpu_set_reg(f->vcpu, HYP_REG_PSTATE, 0x3c0), 0); /* EL0t */
	assert_int_equal(hyp_vcpu_set_reg(f->vcpu, HYP_REG_PSTATE, 0xf0000004), 0);
}

static void test_set_reg_misuse(void **state)
{
	static const uint32_t bad[] = { HYP_REG_COUNT, HYP_REG_COUNT + 1, 0x7fffffff, 0xffffffffu };
	struct fx *f = *state;

	assert_int_equal(hyp_vcpu_set_reg(NULL, HYP_REG_X0, 1), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vcpu_set_reg(f->vcpu, (enum hyp_reg)bad[i], 1), -EINVAL);
}

/* A value every register accepts (PSTATE only takes a valid EL1/EL0 mode). */
static uint64_t roundtrip_value(uint32_t r)
{
	return r == HYP_REG_PSTATE ? 0x600003c4ull /* Z C, DAIF, EL1t */
				     :
				     0x1000000000000000ull + r * 0x10101ull;
}

static void test_reg_roundtrip_all(void **state)
{
	struct fx *f = *state;

	for (uint32_t r = 0; r < HYP_REG_COUNT; r++)
		assert_int_equal(hyp_vcpu_set_reg(f->vcpu, (enum hyp_reg)r, roundtrip_value(r)), 0);
	for (uint32_t r = 0; r < HYP_REG_COUNT; r++) {
		uint64_t v = U64_SENTINEL;

		assert_int_equal(hyp_vcpu_get_reg(f->vcpu, (enum hyp_reg)r, &v), 0);
		assert_int_equal(v, roundtrip_value(r));
	}
	/* HYP_REG_X(n) names the same registers. */
	{
		uint64_t v;

		assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_X(7), &v), 0);
		assert_int_equal(v, 0x1000000000000000ull + 7 * 0x10101ull);
	}
}

static void test_sysreg_misuse(void **state)
{
	static const uint32_t bad_enc[] = { 0x10000, 0x1ffff, 0x80000000u, 0xffffffffu };
	struct fx *f = *state;
	uint64_t v = U64_SENTINEL;

	assert_int_equal(hyp_vcpu_get_sysreg(NULL, HYP_SYSREG_SCTLR_EL1, &v), -EINVAL);
	assert_int_equal(v, U64_SENTINEL);
	assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, HYP_SYSREG_SCTLR_EL1, NULL), -EINVAL);
	assert_int_equal(hyp_vcpu_set_sysreg(NULL, HYP_SYSREG_SCTLR_EL1, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_enc) / sizeof(bad_enc[0]); i++) {
		assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, bad_enc[i], &v), -EINVAL);
		assert_int_equal(v, U64_SENTINEL);
		assert_int_equal(hyp_vcpu_set_sysreg(f->vcpu, bad_enc[i], 0), -EINVAL);
	}
	/* An encoding with SCTLR_EL1 in its low 16 bits is still out of range. */
	assert_int_equal(hyp_vcpu_set_sysreg(f->vcpu, 0x10000 | HYP_SYSREG_SCTLR_EL1, 1), -EINVAL);
	assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, HYP_SYSREG_SCTLR_EL1, &v), 0);
	assert_int_not_equal(v, 1);
}

static void test_sysreg_unknown(void **state)
{
	/* Op0 = 1 is the system-instruction space (DC/IC/TLBI...): no register lives there. */
	static const uint32_t unknown[] = { HYP_SYSREG(1, 0, 7, 5, 0), HYP_SYSREG(1, 3, 8, 7, 1),
					    0x0000 };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		uint64_t v = U64_SENTINEL;

		assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, unknown[i], &v), -ENOENT);
		assert_int_equal(v, U64_SENTINEL);
		assert_int_equal(hyp_vcpu_set_sysreg(f->vcpu, unknown[i], 1), -ENOENT);
	}
}

static void test_sysreg_read_only(void **state)
{
	static const uint32_t ro[] = { HYP_SYSREG_MIDR_EL1, HYP_SYSREG_MPIDR_EL1 };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint64_t before, after;

		assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, ro[i], &before), 0);
		assert_int_equal(hyp_vcpu_set_sysreg(f->vcpu, ro[i], before ^ 0xff), -EPERM);
		assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, ro[i], &after), 0);
		assert_int_equal(after, before);
	}
	/* A writable one round-trips. */
	{
		uint64_t v;

		assert_int_equal(hyp_vcpu_set_sysreg(f->vcpu, HYP_SYSREG_TPIDR_EL1, 0xabcdef), 0);
		assert_int_equal(hyp_vcpu_get_sysreg(f->vcpu, HYP_SYSREG_TPIDR_EL1, &v), 0);
		assert_int_equal(v, 0xabcdef);
	}
}

static void test_inject_exception_misuse(void **state)
{
	static const uint32_t bad[] = { 0, HYP_INJECT_PREFETCH_ABORT + 1, 100, 0xffffffffu };
	struct fx *f = *state;
	uint64_t esr = U64_SENTINEL, far = U64_SENTINEL;
	uint64_t pc;

	assert_int_equal(hyp_vcpu_inject_exception(NULL, HYP_INJECT_UNDEF, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vcpu_inject_exception(f->vcpu, (enum hyp_inject_kind)bad[i],
							   0x1000),
				 -EINVAL);
	/* Nothing was injected by the failed calls, and the guest did not move. */
	assert_int_equal(hyp_mock_last_injection(f->vcpu, &esr, &far), 0);
	assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_PC, &pc), 0);
	assert_int_equal(pc, RAM_BASE);

	assert_int_equal(hyp_vcpu_inject_exception(f->vcpu, HYP_INJECT_DATA_ABORT, 0x1234000), 0);
	assert_int_equal(hyp_mock_last_injection(f->vcpu, &esr, &far), 1);
	assert_int_equal(far, 0x1234000);
	assert_int_equal((esr >> 26) & 0x3f, 0x25); /* data abort, current EL (EL1h) */
}

/* ---- Running ----------------------------------------------------------------------------- */

static void test_run_empty_script(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_mock_script_length(f->vcpu), 0);
	assert_int_equal(hyp_vcpu_run(f->vcpu), -ENODATA);
	assert_int_equal(hyp_vcpu_run(f->vcpu), -ENODATA);
}

static void test_run_kick(void **state)
{
	struct fx *f = *state;

	assert_false(hyp_backend_vcpu_kick_pending(f->vcpu));
	assert_int_equal(hyp_vcpu_kick(f->vcpu), 0);
	assert_true(hyp_backend_vcpu_kick_pending(f->vcpu));
	assert_int_equal(hyp_vcpu_kick(f->vcpu), 0);
	/* Kicks do not queue: two kicks, one HYP_EXIT_KICKED. */
	assert_int_equal(hyp_vcpu_run(f->vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(f->vcpu)->reason, HYP_EXIT_KICKED);
	assert_int_equal(hyp_vcpu_exit(f->vcpu)->vcpu_index, 0);
	assert_false(hyp_backend_vcpu_kick_pending(f->vcpu));
	assert_int_equal(hyp_vcpu_run(f->vcpu), -ENODATA);
}

static void test_run_kick_powered_off(void **state)
{
	struct fx *f = *state;
	struct hyp_vcpu *v1 = create_vcpu_index(f->vm, 1);

	/* A powered-off vCPU waits inside run "until PSCI CPU_ON ... or until hyp_vcpu_kick()". */
	assert_false(hyp_backend_vcpu_should_wake(v1));
	assert_int_equal(hyp_vcpu_kick(v1), 0);
	assert_true(hyp_backend_vcpu_should_wake(v1));
	assert_int_equal(hyp_vcpu_run(v1), 0);
	assert_int_equal(hyp_vcpu_exit(v1)->reason, HYP_EXIT_KICKED);
	assert_int_equal(hyp_vcpu_exit(v1)->vcpu_index, 1);
	assert_int_equal(hyp_vcpu_is_powered_on(v1), 0);
}

static void test_run_after_system_off(void **state)
{
	struct fx *f = *state;

	assert_int_equal(
		hyp_mock_push_smccc(f->vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL), 0);
	assert_int_equal(hyp_mock_push_wfx(f->vcpu, false), 0);
	assert_int_equal(hyp_vcpu_run(f->vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(f->vcpu)->reason, HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(hyp_vcpu_exit(f->vcpu)->system_event.type, HYP_SYSTEM_EVENT_OFF);
	/* vcpu.h: every further run reports the same system event and never enters the guest
	 * (the WFI stays queued), kicked or not. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(hyp_vcpu_run(f->vcpu), 0);
		assert_int_equal(hyp_vcpu_exit(f->vcpu)->reason, HYP_EXIT_SYSTEM_EVENT);
		assert_int_equal(hyp_vcpu_exit(f->vcpu)->system_event.type, HYP_SYSTEM_EVENT_OFF);
		assert_int_equal(hyp_mock_script_length(f->vcpu), 1);
	}
	assert_int_equal(hyp_vcpu_kick(f->vcpu), 0);
	assert_int_equal(hyp_vcpu_run(f->vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(f->vcpu)->reason, HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(hyp_mock_script_length(f->vcpu), 1);
}

/* What an MMIO callback observed when it called back into the API while its vCPU runs. */
struct busy_probe {
	int calls;
	int run_self;
	int add_mmio, remove_mmio;
	int add_smccc, remove_smccc;
	int add_sysreg, remove_sysreg;
	int set_exit, clear_exit;
	int map, unmap;
	void *page;
};

static enum hyp_handler_result busy_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	struct busy_probe *p = opaque;
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);

	p->calls++;
	p->run_self = hyp_vcpu_run(vcpu);
	p->add_mmio = hyp_vm_add_mmio_handler(vm, 0x0a000000, 0x200, never_mmio, NULL);
	p->remove_mmio = hyp_vm_remove_mmio_handler(vm, MMIO_BASE);
	p->add_smccc = hyp_vm_add_smccc_handler(vm, HYP_CONDUIT_HVC, 0xc6000000, 0xc600ffff,
						never_smccc, NULL);
	p->remove_smccc = hyp_vm_remove_smccc_handler(vm, HYP_CONDUIT_SMC, 0x82000000);
	p->add_sysreg = hyp_vm_add_sysreg_handler(vm, HYP_SYSREG_ACTLR_EL1, never_sysreg, NULL);
	p->remove_sysreg = hyp_vm_remove_sysreg_handler(vm, HYP_SYSREG_TPIDR_EL1);
	p->set_exit = hyp_vm_set_exit_handler(vm, HYP_EXIT_WFX, never_exit, NULL);
	p->clear_exit = hyp_vm_set_exit_handler(vm, HYP_EXIT_DEBUG, NULL, NULL);
	p->map = hyp_vm_map(vm, 0x80000000ull, p->page, HYP_PAGE_SIZE, HYP_MEM_RWX);
	p->unmap = hyp_vm_unmap(vm, RAM_BASE, RAM_SIZE);
	access->data = 0x1234;
	return HYP_HANDLED;
}

static void test_reconfigure_while_running_busy(void **state)
{
	struct fx *f = *state;
	struct busy_probe p = { 0 };

	p.page = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);
	assert_non_null(p.page);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, MMIO_BASE, 0x1000, busy_mmio, &p), 0);
	assert_int_equal(hyp_vm_add_smccc_handler(f->vm, HYP_CONDUIT_SMC, 0x82000000, 0x82000010,
						  never_smccc, NULL),
			 0);
	assert_int_equal(hyp_vm_add_sysreg_handler(f->vm, HYP_SYSREG_TPIDR_EL1, never_sysreg, NULL),
			 0);
	assert_int_equal(hyp_vm_set_exit_handler(f->vm, HYP_EXIT_DEBUG, never_exit, NULL), 0);
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, MMIO_BASE + 8, 4, 2, 0), 0);

	assert_int_equal(hyp_vcpu_run(f->vcpu), -ENODATA);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.run_self, -EBUSY);
	assert_int_equal(p.add_mmio, -EBUSY);
	assert_int_equal(p.remove_mmio, -EBUSY);
	assert_int_equal(p.add_smccc, -EBUSY);
	assert_int_equal(p.remove_smccc, -EBUSY);
	assert_int_equal(p.add_sysreg, -EBUSY);
	assert_int_equal(p.remove_sysreg, -EBUSY);
	assert_int_equal(p.set_exit, -EBUSY);
	assert_int_equal(p.clear_exit, -EBUSY);
	assert_int_equal(p.map, -EBUSY);
	assert_int_equal(p.unmap, -EBUSY);
	{
		uint64_t x2;

		/* The load completed with the callback's data. */
		assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_X(2), &x2), 0);
		assert_int_equal(x2, 0x1234);
	}
	/* Nothing changed, and once the vCPU stopped, reconfiguring works again. */
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, 0x0a000000), -ENOENT);
	assert_int_equal(hyp_vm_remove_smccc_handler(f->vm, HYP_CONDUIT_SMC, 0x82000000), 0);
	assert_int_equal(hyp_vm_remove_sysreg_handler(f->vm, HYP_SYSREG_TPIDR_EL1), 0);
	assert_int_equal(hyp_vm_set_exit_handler(f->vm, HYP_EXIT_DEBUG, NULL, NULL), 0);
	assert_int_equal(hyp_vm_remove_mmio_handler(f->vm, MMIO_BASE), 0);
	assert_int_equal(hyp_vm_map(f->vm, 0x80000000ull, p.page, HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	hyp_vm_destroy(f->vm);
	f->vm = NULL;
	free(p.page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vcpu_create_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_index_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_duplicate_index, setup, teardown),
		cmocka_unit_test(test_vcpu_create_duplicate_mpidr),
		cmocka_unit_test_setup_teardown(test_vcpu_create_mpidr_bad_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_create_bad_power_and_reserved, setup,
						teardown),
		cmocka_unit_test(test_vcpu_create_null_config_lowest_free),
		cmocka_unit_test(test_vcpu_accessors_null),
		cmocka_unit_test_setup_teardown(test_vcpu_accessors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_reg_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_reg_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_reg_pstate_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_roundtrip_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysreg_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysreg_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysreg_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject_exception_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_empty_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_kick_powered_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_after_system_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconfigure_while_running_busy, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("api-vcpu", tests, NULL, NULL);
}
