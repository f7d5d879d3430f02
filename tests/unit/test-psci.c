/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/trap/psci.c: the SMCCC 1.1 architecture calls and the PSCI 1.1 dispatcher.
 *
 * A fake platform provides the CPUs (MPIDR affinities chosen per test) and an entry-point check
 * (RAM at [RAM_BASE, RAM_BASE + RAM_SIZE)). Calls are built exactly as the library's exit path
 * builds them: ret[0] pre-set to NOT_SUPPORTED, ret[1..3] to the guest's X1..X3.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libhyp/smccc.h>

#include "trap/psci.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x100000000ull /* 4 GiB: reaches above 4 GiB so 64-bit entries matter */
#define ENTRY 0x40080000ull
#define ENTRY_HIGH 0x100001000ull /* only reachable through CPU_ON_64 */

/* 64-bit views of the sign-extended results. */
#define R(v) ((uint64_t)(int64_t)(v))
#define R_NOT_SUPPORTED R(HYP_PSCI_NOT_SUPPORTED)
#define R_INVALID_PARAMETERS R(HYP_PSCI_INVALID_PARAMETERS)
#define R_DENIED R(HYP_PSCI_DENIED)
#define R_ALREADY_ON R(HYP_PSCI_ALREADY_ON)
#define R_ON_PENDING R(HYP_PSCI_ON_PENDING)
#define R_INTERNAL_FAILURE R(HYP_PSCI_INTERNAL_FAILURE)
#define R_INVALID_ADDRESS R(HYP_PSCI_INVALID_ADDRESS)

#define MAX_CPUS 8
/* A value the dispatcher never writes, to prove it wrote (or did not write) the action. */
#define ACTION_POISON ((enum hyp_psci_action_kind)0x5a5a)

struct fake_platform {
	struct hyp_psci_cpu cpus[MAX_CPUS];
	/* Slot -> cpus[] index, or -1 for an empty slot. */
	int slot[MAX_CPUS];
	struct hyp_psci_platform platform;
	atomic_uint entry_checks;
};

static struct hyp_psci_cpu *fake_cpu_at(void *opaque, uint32_t i)
{
	struct fake_platform *f = opaque;

	if (i >= MAX_CPUS || f->slot[i] < 0)
		return NULL;
	return &f->cpus[f->slot[i]];
}

static bool fake_entry_valid(void *opaque, uint64_t entry)
{
	struct fake_platform *f = opaque;

	atomic_fetch_add_explicit(&f->entry_checks, 1, memory_order_relaxed);
	return entry >= RAM_BASE && entry - RAM_BASE < RAM_SIZE;
}

/* Build a platform with @n CPUs of the given affinities; CPU 0 is ON (the boot CPU). */
static struct fake_platform *fake_new(const uint64_t *mpidrs, uint32_t n)
{
	struct fake_platform *f = calloc(1, sizeof(*f));
	uint32_t i;

	assert_non_null(f);
	assert_true(n <= MAX_CPUS);
	for (i = 0; i < MAX_CPUS; i++)
		f->slot[i] = i < n ? (int)i : -1;
	for (i = 0; i < n; i++) {
		f->cpus[i].mpidr = mpidrs[i];
		atomic_init(&f->cpus[i].state, HYP_PSCI_POWER_OFF);
	}
	atomic_store(&f->cpus[0].state, HYP_PSCI_POWER_ON);
	atomic_init(&f->entry_checks, 0);
	f->platform.cpu_at = fake_cpu_at;
	f->platform.cpu_count = n;
	f->platform.entry_valid = fake_entry_valid;
	f->platform.opaque = f;
	return f;
}

static const uint64_t flat4[] = { 0, 1, 2, 3 };

static int setup_flat4(void **state)
{
	*state = fake_new(flat4, 4);
	return 0;
}

/* Aff0, Aff1, Aff2 and Aff3 in use: two clusters of two, a CPU in Aff2 = 1, one in Aff3 = 1. */
static const uint64_t topo[] = { 0x0, 0x1, 0x100, 0x101, 0x10000, 0x100000000ull };

static int setup_topo(void **state)
{
	*state = fake_new(topo, 6);
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

struct result {
	bool handled;
	struct hyp_smccc_call call;
	struct hyp_psci_action action;
};

/* One call from @caller with the guest's X1..X3 = a0..a2 and immediate @imm. */
static struct result call_imm(struct fake_platform *f, struct hyp_psci_cpu *caller, uint32_t fid,
			      uint16_t imm, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	r.call.function_id = fid;
	r.call.conduit = HYP_CONDUIT_HVC;
	r.call.imm = imm;
	r.call.args[0] = a0;
	r.call.args[1] = a1;
	r.call.args[2] = a2;
	r.call.ret[0] = R_NOT_SUPPORTED;
	r.call.ret[1] = a0;
	r.call.ret[2] = a1;
	r.call.ret[3] = a2;
	r.action.kind = ACTION_POISON;
	r.action.target = (struct hyp_psci_cpu *)&r; /* any non-NULL sentinel */
	r.action.reset_type = 0xdeadbeef;
	r.handled = hyp_smccc_builtin_call(&f->platform, caller, &r.call, &r.action);
	return r;
}

static struct result call3(struct fake_platform *f, uint32_t fid, uint64_t a0, uint64_t a1,
			   uint64_t a2)
{
	return call_imm(f, &f->cpus[0], fid, 0, a0, a1, a2);
}

static struct result call0(struct fake_platform *f, uint32_t fid)
{
	return call3(f, fid, 0x1111, 0x2222, 0x3333);
}

/* Handled, X0 = @x0, X1..X3 zeroed, action @kind. */
static void check_handled(const struct result *r, uint64_t x0, enum hyp_psci_action_kind kind)
{
	assert_true(r->handled);
	assert_int_equal(r->call.ret[0], x0);
	assert_int_equal(r->call.ret[1], 0);
	assert_int_equal(r->call.ret[2], 0);
	assert_int_equal(r->call.ret[3], 0);
	assert_int_equal(r->action.kind, kind);
	if (kind == HYP_PSCI_ACTION_NONE || kind == HYP_PSCI_ACTION_SUSPEND ||
	    kind == HYP_PSCI_ACTION_SYSTEM_OFF || kind == HYP_PSCI_ACTION_SYSTEM_RESET)
		assert_null(r->action.target);
}

/* Not handled: results and action untouched. */
static void check_not_handled(const struct result *r)
{
	assert_false(r->handled);
	assert_int_equal(r->call.ret[0], R_NOT_SUPPORTED);
	assert_int_equal(r->call.ret[1], r->call.args[0]);
	assert_int_equal(r->call.ret[2], r->call.args[1]);
	assert_int_equal(r->call.ret[3], r->call.args[2]);
	assert_int_equal(r->action.kind, ACTION_POISON);
	assert_int_equal(r->action.reset_type, 0xdeadbeef);
}

static uint32_t power(const struct hyp_psci_cpu *cpu)
{
	return atomic_load(&cpu->state);
}

/* CPU_ON (64-bit) of @mpidr that must succeed, then the target claims its start. */
static void turn_on(struct fake_platform *f, uint64_t mpidr, struct hyp_psci_cpu *cpu,
		    uint64_t entry, uint64_t ctx)
{
	struct result r = call3(f, HYP_PSCI_CPU_ON_64, mpidr, entry, ctx);
	uint64_t e = 0, c = 0;

	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	assert_ptr_equal(r.action.target, cpu);
	assert_true(hyp_psci_claim_start(cpu, &e, &c));
	assert_int_equal(e, entry);
	assert_int_equal(c, ctx);
	assert_int_equal(power(cpu), HYP_PSCI_POWER_ON);
}

/* ---- SMCCC architecture calls ---- */

static void test_smccc_version(void **state)
{
	struct fake_platform *f = *state;
	struct result r = call0(f, HYP_SMCCC_VERSION);

	check_handled(&r, 0x10001, HYP_PSCI_ACTION_NONE);
}

static void test_smccc_arch_features(void **state)
{
	struct fake_platform *f = *state;
	static const struct {
		uint64_t fid;
		uint64_t ret;
	} cases[] = {
		{ HYP_SMCCC_VERSION, 0 },
		{ HYP_SMCCC_ARCH_FEATURES, 0 },
		/* Upper half of X1 is not part of an SMC32 argument. */
		{ 0xffffffff00000000ull | HYP_SMCCC_VERSION, 0 },
		{ 0x0000000100000000ull | HYP_SMCCC_ARCH_FEATURES, 0 },
		/* No mitigation claimed: not "supported", not "not required". */
		{ HYP_SMCCC_ARCH_WORKAROUND_1, R_NOT_SUPPORTED },
		{ HYP_SMCCC_ARCH_WORKAROUND_2, R_NOT_SUPPORTED },
		{ HYP_SMCCC_ARCH_WORKAROUND_3, R_NOT_SUPPORTED },
		{ HYP_SMCCC_ARCH_SOC_ID, R_NOT_SUPPORTED },
		{ 0x80000003, R_NOT_SUPPORTED },
		{ 0xc0000000, R_NOT_SUPPORTED },
		/* ARCH_FEATURES is about arch calls only; PSCI is discovered with PSCI_FEATURES. */
		{ HYP_PSCI_VERSION, R_NOT_SUPPORTED },
		{ HYP_PSCI_FEATURES, R_NOT_SUPPORTED },
		{ 0, R_NOT_SUPPORTED },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r = call3(f, HYP_SMCCC_ARCH_FEATURES, cases[i].fid, 7, 8);

		check_handled(&r, cases[i].ret, HYP_PSCI_ACTION_NONE);
	}
}

static void test_smccc_arch_not_builtin(void **state)
{
	struct fake_platform *f = *state;
	static const uint32_t fids[] = {
		HYP_SMCCC_ARCH_SOC_ID,
		HYP_SMCCC_ARCH_WORKAROUND_1,
		HYP_SMCCC_ARCH_WORKAROUND_2,
		HYP_SMCCC_ARCH_WORKAROUND_3,
		0x80000003, /* unassigned arch call */
		0x8000ffff,
		0x80010000, /* bits [23:16] of a fast call must be zero */
		0xc0000000, /* no SMC64 arch calls are built in */
		0xc0000001,
	};
	size_t i;

	for (i = 0; i < sizeof(fids) / sizeof(fids[0]); i++) {
		struct result r = call0(f, fids[i]);

		check_not_handled(&r);
	}
}

static void test_imm_nonzero_not_handled(void **state)
{
	struct fake_platform *f = *state;
	static const uint32_t fids[] = { HYP_SMCCC_VERSION, HYP_PSCI_VERSION, HYP_PSCI_CPU_ON_64,
					 HYP_PSCI_SYSTEM_OFF, 0x8400001f };
	static const uint16_t imms[] = { 1, 0x8000, 0xffff };
	size_t i, j;

	for (i = 0; i < sizeof(fids) / sizeof(fids[0]); i++) {
		for (j = 0; j < sizeof(imms) / sizeof(imms[0]); j++) {
			struct result r = call_imm(f, &f->cpus[0], fids[i], imms[j], 1, ENTRY, 0);

			check_not_handled(&r);
		}
	}
	/* Nothing happened to CPU 1. */
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_OFF);
}

static void test_unknown_ids_not_handled(void **state)
{
	struct fake_platform *f = *state;
	static const uint32_t fids[] = {
		0x00000000, /* yielding call, owner 0 */
		0x04000000, /* yielding call, standard service */
		0x44000000, /* yielding, 64-bit, standard service */
		0x81000000, /* CPU service */
		0x82000000, /* SiP */
		0xc2000000, /* SiP, 64-bit */
		0x83000000, /* OEM */
		0x84000020, /* just past PSCI */
		0x8400ffff, /* end of the standard service range */
		0xc4000020, /* just past 64-bit PSCI */
		0x85000000, /* standard hypervisor service */
		0xc6000000, /* vendor hypervisor service */
		0xbf00ff01, /* trusted OS */
		0xffffffff, /* everything set */
		0x7fffffff, /* yielding, everything else set */
	};
	size_t i;

	for (i = 0; i < sizeof(fids) / sizeof(fids[0]); i++) {
		struct result r = call0(f, fids[i]);

		check_not_handled(&r);
	}
}

/* ---- PSCI: discovery ---- */

static void test_psci_version(void **state)
{
	struct fake_platform *f = *state;
	struct result r = call0(f, HYP_PSCI_VERSION);

	check_handled(&r, 0x10001, HYP_PSCI_ACTION_NONE);
}

static bool implemented(uint32_t fid)
{
	switch (fid) {
	case HYP_PSCI_VERSION:
	case HYP_PSCI_CPU_SUSPEND_32:
	case HYP_PSCI_CPU_SUSPEND_64:
	case HYP_PSCI_CPU_OFF:
	case HYP_PSCI_CPU_ON_32:
	case HYP_PSCI_CPU_ON_64:
	case HYP_PSCI_AFFINITY_INFO_32:
	case HYP_PSCI_AFFINITY_INFO_64:
	case HYP_PSCI_MIGRATE_INFO_TYPE:
	case HYP_PSCI_SYSTEM_OFF:
	case HYP_PSCI_SYSTEM_RESET:
	case HYP_PSCI_SYSTEM_RESET2_32:
	case HYP_PSCI_SYSTEM_RESET2_64:
	case HYP_PSCI_FEATURES:
		return true;
	default:
		return false;
	}
}

static void test_psci_features_each_id(void **state)
{
	struct fake_platform *f = *state;
	static const struct {
		uint32_t fid;
		uint64_t ret;
	} cases[] = {
		{ HYP_PSCI_VERSION, 0 },
		/* Feature flags: original power_state format, no OS-initiated mode. */
		{ HYP_PSCI_CPU_SUSPEND_32, 0 },
		{ HYP_PSCI_CPU_SUSPEND_64, 0 },
		{ HYP_PSCI_CPU_OFF, 0 },
		{ HYP_PSCI_CPU_ON_32, 0 },
		{ HYP_PSCI_CPU_ON_64, 0 },
		{ HYP_PSCI_AFFINITY_INFO_32, 0 },
		{ HYP_PSCI_AFFINITY_INFO_64, 0 },
		{ HYP_PSCI_MIGRATE_32, R_NOT_SUPPORTED },
		{ HYP_PSCI_MIGRATE_64, R_NOT_SUPPORTED },
		{ HYP_PSCI_MIGRATE_INFO_TYPE, 0 },
		{ HYP_PSCI_MIGRATE_INFO_UP_CPU_32, R_NOT_SUPPORTED },
		{ HYP_PSCI_MIGRATE_INFO_UP_CPU_64, R_NOT_SUPPORTED },
		{ HYP_PSCI_SYSTEM_OFF, 0 },
		{ HYP_PSCI_SYSTEM_RESET, 0 },
		{ HYP_PSCI_FEATURES, 0 },
		{ HYP_PSCI_SYSTEM_RESET2_32, 0 },
		{ HYP_PSCI_SYSTEM_RESET2_64, 0 },
		{ 0x8400000b, R_NOT_SUPPORTED }, /* CPU_FREEZE */
		{ 0x8400000c, R_NOT_SUPPORTED }, /* CPU_DEFAULT_SUSPEND */
		{ 0x8400000e, R_NOT_SUPPORTED }, /* SYSTEM_SUSPEND */
		{ 0xc400000e, R_NOT_SUPPORTED },
		{ 0x84000013, R_NOT_SUPPORTED }, /* MEM_PROTECT */
		{ 0xc4000000, R_NOT_SUPPORTED }, /* no 64-bit PSCI_VERSION */
		{ 0xc4000002, R_NOT_SUPPORTED }, /* no 64-bit CPU_OFF */
		{ 0xc400000a, R_NOT_SUPPORTED }, /* no 64-bit PSCI_FEATURES */
		/* SMCCC_VERSION is discovered through PSCI_FEATURES; other arch calls are not. */
		{ HYP_SMCCC_VERSION, 0 },
		{ HYP_SMCCC_ARCH_FEATURES, R_NOT_SUPPORTED },
		{ HYP_SMCCC_ARCH_WORKAROUND_1, R_NOT_SUPPORTED },
		{ 0, R_NOT_SUPPORTED },
		{ 0xffffffff, R_NOT_SUPPORTED },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r = call3(f, HYP_PSCI_FEATURES, cases[i].fid, 0, 0);

		check_handled(&r, cases[i].ret, HYP_PSCI_ACTION_NONE);
		/* PSCI_FEATURES is SMC32: the upper half of X1 is ignored. */
		r = call3(f, HYP_PSCI_FEATURES, 0xabcd000000000000ull | cases[i].fid, 0, 0);
		check_handled(&r, cases[i].ret, HYP_PSCI_ACTION_NONE);
	}
}

static void test_psci_features_whole_range(void **state)
{
	struct fake_platform *f = *state;
	uint32_t n;

	for (n = 0; n <= 0x1f; n++) {
		uint32_t fids[2] = { HYP_PSCI_FID_FIRST_32 + n, HYP_PSCI_FID_FIRST_64 + n };
		int k;

		for (k = 0; k < 2; k++) {
			struct result r = call3(f, HYP_PSCI_FEATURES, fids[k], 0, 0);

			check_handled(&r, implemented(fids[k]) ? 0 : R_NOT_SUPPORTED,
				      HYP_PSCI_ACTION_NONE);
		}
	}
}

static void test_psci_range_unimplemented(void **state)
{
	struct fake_platform *f = *state;
	uint32_t n;
	unsigned int count = 0;

	/* Every ID of the PSCI ranges that we do not implement is answered NOT_SUPPORTED. */
	for (n = 0; n <= 0x1f; n++) {
		uint32_t fids[2] = { HYP_PSCI_FID_FIRST_32 + n, HYP_PSCI_FID_FIRST_64 + n };
		int k;

		for (k = 0; k < 2; k++) {
			struct result r;

			if (implemented(fids[k]))
				continue;
			r = call0(f, fids[k]);
			check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
			count++;
		}
	}
	/* 64 IDs, of which 14 are implemented (10 SMC32, 4 SMC64). */
	assert_int_equal(count, 64 - 14);
}

/* ---- PSCI: MIGRATE family ---- */

static void test_migrate(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	r = call3(f, HYP_PSCI_MIGRATE_32, 1, 0, 0);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_MIGRATE_64, 1, 0, 0);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
	r = call0(f, HYP_PSCI_MIGRATE_INFO_TYPE);
	check_handled(&r, 2, HYP_PSCI_ACTION_NONE);
	r = call0(f, HYP_PSCI_MIGRATE_INFO_UP_CPU_32);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
	r = call0(f, HYP_PSCI_MIGRATE_INFO_UP_CPU_64);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
}

/* ---- PSCI: CPU_SUSPEND ---- */

static void test_cpu_suspend(void **state)
{
	struct fake_platform *f = *state;
	static const uint64_t good[] = {
		0x00000000,	       /* standby, level 0 */
		0x0000ffff,	       /* any StateID */
		0x00010000,	       /* powerdown: served as standby */
		0x01010000,	       /* powerdown, level 1 */
		0x03000001,	       /* level 3 */
		0xffffffff00000000ull, /* CPU_SUSPEND_64: upper half is not power_state */
	};
	static const uint64_t reserved[] = {
		1u << 17,   /* lowest reserved bit above StateType */
		1u << 23,   /* highest reserved bit below PowerLevel */
		0x00fe0000, /* all of [23:17] */
		1u << 26,   /* lowest reserved bit above PowerLevel */
		1u << 30,   /* StateType of the extended format, which we do not advertise */
		1u << 31,   /* highest bit */
		0xfc000000, /* all of [31:26] */
	};
	static const uint32_t fids[] = { HYP_PSCI_CPU_SUSPEND_32, HYP_PSCI_CPU_SUSPEND_64 };
	size_t i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			/* A bogus entry point does not matter: it is never used. */
			struct result r = call3(f, fids[k], good[i], 3, 0x42);

			check_handled(&r, 0, HYP_PSCI_ACTION_SUSPEND);
			assert_int_equal(power(&f->cpus[0]), HYP_PSCI_POWER_ON);
		}
		for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
			struct result r = call3(f, fids[k], reserved[i], ENTRY, 0);

			check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
		}
	}
	assert_int_equal(atomic_load(&f->entry_checks), 0);
}

/* ---- PSCI: CPU_ON / claim / AFFINITY_INFO / CPU_OFF ---- */

static void test_cpu_on_claim_affinity(void **state)
{
	struct fake_platform *f = *state;
	struct hyp_psci_cpu *cpu1 = &f->cpus[1];
	struct result r;
	uint64_t e = 0x77, c = 0x88;

	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	assert_false(hyp_psci_is_on(cpu1));
	/* Nothing to claim while OFF; outputs untouched. */
	assert_false(hyp_psci_claim_start(cpu1, &e, &c));
	assert_int_equal(e, 0x77);
	assert_int_equal(c, 0x88);

	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY_HIGH, 0xfeedfacecafef00dull);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	assert_ptr_equal(r.action.target, cpu1);
	assert_int_equal(power(cpu1), HYP_PSCI_POWER_STARTING);
	assert_true(hyp_psci_is_on(cpu1));

	/* Published but not running: AFFINITY_INFO and CPU_ON both say ON_PENDING. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON_PENDING, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY, 5);
	check_handled(&r, R_ON_PENDING, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_32, 1, ENTRY, 5);
	check_handled(&r, R_ON_PENDING, HYP_PSCI_ACTION_NONE);

	/* The loser did not overwrite the winner's entry point. */
	assert_true(hyp_psci_claim_start(cpu1, &e, &c));
	assert_int_equal(e, ENTRY_HIGH);
	assert_int_equal(c, 0xfeedfacecafef00dull);
	assert_int_equal(power(cpu1), HYP_PSCI_POWER_ON);
	/* Claimed once only. */
	e = c = 0x99;
	assert_false(hyp_psci_claim_start(cpu1, &e, &c));
	assert_int_equal(e, 0x99);
	assert_int_equal(c, 0x99);

	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY, 0);
	check_handled(&r, R_ALREADY_ON, HYP_PSCI_ACTION_NONE);
	/* The boot CPU, and a CPU asking to turn itself on. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 0, ENTRY, 0);
	check_handled(&r, R_ALREADY_ON, HYP_PSCI_ACTION_NONE);
	r = call_imm(f, cpu1, HYP_PSCI_CPU_ON_32, 0, 1, ENTRY, 0);
	check_handled(&r, R_ALREADY_ON, HYP_PSCI_ACTION_NONE);

	/* The other CPUs are unaffected. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 2, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 3, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 0, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
}

static void test_cpu_on_pending_states(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* A CPU_ON on another vCPU is between its CAS and its publication. */
	atomic_store(&f->cpus[2].state, HYP_PSCI_POWER_ON_PENDING);
	r = call3(f, HYP_PSCI_CPU_ON_64, 2, ENTRY, 0);
	check_handled(&r, R_ON_PENDING, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 2, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON_PENDING, HYP_PSCI_ACTION_NONE);
	assert_true(hyp_psci_is_on(&f->cpus[2]));
	/* Not yet claimable: the entry point is not published. */
	{
		uint64_t e = 1, c = 2;

		assert_false(hyp_psci_claim_start(&f->cpus[2], &e, &c));
		assert_int_equal(e, 1);
		assert_int_equal(c, 2);
	}
	assert_int_equal(power(&f->cpus[2]), HYP_PSCI_POWER_ON_PENDING);
}

static void test_cpu_on_bad_mpidr_bits(void **state)
{
	struct fake_platform *f = *state;
	static const uint64_t targets[] = {
		1ull << 24,	       /* MPIDR_EL1.MT/U/RES1 area: not affinity */
		(1ull << 24) | 1,      /* bits [31:24] are not Aff3 */
		(1ull << 30) | 1,      /* U bit */
		(1ull << 31) | 1,      /* RES1 bit of MPIDR_EL1 */
		(1ull << 40) | 1,      /* above Aff3 */
		(1ull << 63) | 2,      /* top bit */
		0xffffffffffffffffull, /* everything */
	};
	size_t i;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct result r = call3(f, HYP_PSCI_CPU_ON_64, targets[i], ENTRY, 0);

		check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
		r = call3(f, HYP_PSCI_AFFINITY_INFO_64, targets[i], 0, 0);
		check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	}
	for (i = 1; i < 4; i++)
		assert_int_equal(power(&f->cpus[i]), HYP_PSCI_POWER_OFF);
	/* Rejected before the entry point was looked at. */
	assert_int_equal(atomic_load(&f->entry_checks), 0);
}

static void test_cpu_on_unknown_mpidr(void **state)
{
	struct fake_platform *f = *state;
	static const uint64_t targets[] = {
		4, 0xff, 0x100, 0x10000, 0x100000000ull, 0xff00ffffffull,
	};
	size_t i;

	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct result r = call3(f, HYP_PSCI_CPU_ON_64, targets[i], ENTRY, 0);

		check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
		r = call3(f, HYP_PSCI_AFFINITY_INFO_64, targets[i], 0, 0);
		check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	}
	assert_int_equal(atomic_load(&f->entry_checks), 0);
}

static void test_cpu_on_bad_entry(void **state)
{
	struct fake_platform *f = *state;
	static const uint64_t entries[] = {
		0, /* below RAM */
		RAM_BASE - 4,
		RAM_BASE + RAM_SIZE, /* just past RAM */
		0xfffffffffffffffcull,
		ENTRY + 1, /* in RAM, misaligned */
		ENTRY + 2,
		ENTRY + 3,
	};
	size_t i;

	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		struct result r = call3(f, HYP_PSCI_CPU_ON_64, 1, entries[i], 0);

		check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE);
		assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_OFF);
	}
	/* The first and last RAM words are fine. */
	turn_on(f, 1, &f->cpus[1], RAM_BASE, 0);
	turn_on(f, 2, &f->cpus[2], RAM_BASE + RAM_SIZE - 4, 0);
}

static void test_cpu_on_check_order(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* Bad MPIDR and bad entry: the target is checked first. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 1ull << 31, 0, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 9, ENTRY + 2, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* Target ON (the caller itself) and bad entry: the entry point comes first. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 0, 0, 0);
	check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 0, ENTRY + 1, 0);
	check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE);
	/* Target pending and bad entry: likewise, and the pending start is left alone. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY, 11);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, 0, 12);
	check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE);
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_STARTING);
	assert_int_equal(f->cpus[1].entry, ENTRY);
	assert_int_equal(f->cpus[1].context_id, 11);
}

static void test_cpu_on_32_vs_64(void **state)
{
	struct fake_platform *f = *state;
	struct result r;
	uint64_t e, c;

	/* CPU_ON_32: only W1..W3 count. */
	r = call3(f, HYP_PSCI_CPU_ON_32, 0xdead000000000001ull, 0x1000000000000000ull | ENTRY,
		  0xffffffff12345678ull);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	assert_ptr_equal(r.action.target, &f->cpus[1]);
	assert_true(hyp_psci_claim_start(&f->cpus[1], &e, &c));
	assert_int_equal(e, ENTRY);
	assert_int_equal(c, 0x12345678);

	/* CPU_ON_64: the same registers are a bad target (bits above Aff3). */
	r = call3(f, HYP_PSCI_CPU_ON_64, 0xdead000000000002ull, ENTRY, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* ... and a 64-bit entry point above 4 GiB truncated by CPU_ON_32 lands in low RAM. */
	r = call3(f, HYP_PSCI_CPU_ON_32, 2, ENTRY_HIGH, 0);
	check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE); /* 0x1000: below RAM */
	turn_on(f, 2, &f->cpus[2], ENTRY_HIGH, 0xffffffffffffffffull);

	/* Error codes of a 32-bit call are sign-extended to 64 bits, like the 64-bit ones. */
	r = call3(f, HYP_PSCI_CPU_ON_32, 2, ENTRY, 0);
	check_handled(&r, 0xfffffffffffffffcull, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_32, 7, ENTRY, 0);
	check_handled(&r, 0xfffffffffffffffeull, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_32, 3, 0, 0);
	check_handled(&r, 0xfffffffffffffff7ull, HYP_PSCI_ACTION_NONE);
	r = call0(f, 0x8400001f);
	check_handled(&r, 0xffffffffffffffffull, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 2, ENTRY, 0);
	check_handled(&r, 0xfffffffffffffffcull, HYP_PSCI_ACTION_NONE);
}

static void test_cpu_off_then_on_again(void **state)
{
	struct fake_platform *f = *state;
	struct hyp_psci_cpu *cpu1 = &f->cpus[1];
	struct result r;
	uint64_t e, c;

	turn_on(f, 1, cpu1, ENTRY, 1);

	r = call_imm(f, cpu1, HYP_PSCI_CPU_OFF, 0, 0, 0, 0);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_OFF);
	assert_ptr_equal(r.action.target, cpu1);
	assert_int_equal(power(cpu1), HYP_PSCI_POWER_OFF);
	assert_false(hyp_psci_is_on(cpu1));

	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	assert_false(hyp_psci_claim_start(cpu1, &e, &c));

	/* A second CPU_OFF from a CPU that is not ON is refused and changes nothing. */
	r = call_imm(f, cpu1, HYP_PSCI_CPU_OFF, 0, 0, 0, 0);
	check_handled(&r, R_DENIED, HYP_PSCI_ACTION_NONE);
	assert_int_equal(power(cpu1), HYP_PSCI_POWER_OFF);

	/* On again, with a new entry point and context. */
	r = call3(f, HYP_PSCI_CPU_ON_32, 1, ENTRY + 0x100, 2);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	assert_ptr_equal(r.action.target, cpu1);
	assert_true(hyp_psci_claim_start(cpu1, &e, &c));
	assert_int_equal(e, ENTRY + 0x100);
	assert_int_equal(c, 2);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 1, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);

	/* The boot CPU may turn itself off too. */
	r = call0(f, HYP_PSCI_CPU_OFF);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_OFF);
	assert_ptr_equal(r.action.target, &f->cpus[0]);
	r = call_imm(f, cpu1, HYP_PSCI_AFFINITY_INFO_64, 0, 0, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
}

static void test_cpu_off_while_starting_denied(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* An integration bug: CPU 1 runs without claiming its start. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY, 0);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	r = call_imm(f, &f->cpus[1], HYP_PSCI_CPU_OFF, 0, 0, 0, 0);
	check_handled(&r, R_DENIED, HYP_PSCI_ACTION_NONE);
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_STARTING);
}

static void test_affinity_info_params(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0, 4, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 0, 0xffffffff, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* lowest_affinity_level is 32-bit in both conventions. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0, 0x100000000ull, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	/* AFFINITY_INFO_32 truncates the target. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 0xffffffff00000002ull, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0xffffffff00000002ull, 0, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* Unknown CPU: 32-bit result sign-extended. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 5, 0, 0);
	check_handled(&r, 0xfffffffffffffffeull, HYP_PSCI_ACTION_NONE);
	/* Level 1 over the flat platform: cluster 0 holds all four, and CPU 0 is ON. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 3, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100, 1, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
}

/* ---- Topology with Aff1, Aff2 and Aff3 ---- */

static void test_topology_cpu_on(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* MPIDRs with Aff1/Aff2/Aff3 resolve to the right CPU; Aff0 alone does not match. */
	turn_on(f, 0x101, &f->cpus[3], ENTRY, 0x101);
	turn_on(f, 0x10000, &f->cpus[4], ENTRY, 0x10000);
	turn_on(f, 0x100000000ull, &f->cpus[5], ENTRY, 3);
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_OFF);
	assert_int_equal(power(&f->cpus[2]), HYP_PSCI_POWER_OFF);
	r = call3(f, HYP_PSCI_CPU_ON_64, 0x201, ENTRY, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_CPU_ON_64, 0x100000001ull, ENTRY, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* Aff3 cannot be named by CPU_ON_32: it is truncated away, leaving CPU 0 (ON). */
	r = call3(f, HYP_PSCI_CPU_ON_32, 0x100000000ull, ENTRY, 0);
	check_handled(&r, R_ALREADY_ON, HYP_PSCI_ACTION_NONE);
}

static void test_topology_affinity_levels(void **state)
{
	struct fake_platform *f = *state;
	struct result r;
	uint64_t e, c;

	/* Cluster 1 (Aff1 = 1): both OFF. Fields below the level are ignored. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x1ff, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);

	/* One CPU of the cluster STARTING, the other OFF: the cluster is ON_PENDING. */
	r = call3(f, HYP_PSCI_CPU_ON_64, 0x101, ENTRY, 0);
	check_handled(&r, HYP_PSCI_SUCCESS, HYP_PSCI_ACTION_CPU_ON);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON_PENDING, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x101, 0, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON_PENDING, HYP_PSCI_ACTION_NONE);

	/* Running: the cluster is ON, whatever the other CPU does. */
	assert_true(hyp_psci_claim_start(&f->cpus[3], &e, &c));
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_32, 0x1ab, 1, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);

	/* Level 2: Aff2 = 1 holds only CPU 0x10000 (OFF); Aff2 = 0 holds CPU 0 (ON). */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x10000, 2, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x0ffff, 2, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x20000, 2, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);

	/* Level 3: Aff3 = 1 holds one CPU, OFF; Aff3 = 0 holds the rest. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100000000ull, 3, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100ffffffull, 3, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_OFF, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x00ffffff, 3, 0);
	check_handled(&r, HYP_PSCI_AFFINITY_ON, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x200000000ull, 3, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	/* Bits outside the affinity fields are an error at every level. */
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 0x100 | (1ull << 24), 1, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
}

static void test_empty_slots_and_full_mpidr(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* Slots 1 and 2 empty; CPU 3 stored with the full MPIDR_EL1 value (RES1 bit 31, U). */
	f->slot[1] = -1;
	f->slot[2] = -1;
	f->cpus[3].mpidr = 0x80000003ull | (1ull << 30);
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, ENTRY, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	r = call3(f, HYP_PSCI_AFFINITY_INFO_64, 2, 0, 0);
	check_handled(&r, R_INVALID_PARAMETERS, HYP_PSCI_ACTION_NONE);
	turn_on(f, 3, &f->cpus[3], ENTRY, 0);
}

static void test_no_entry_callback(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	/* Without a memory map only alignment is checked. */
	f->platform.entry_valid = NULL;
	r = call3(f, HYP_PSCI_CPU_ON_64, 1, 0x6, 0);
	check_handled(&r, R_INVALID_ADDRESS, HYP_PSCI_ACTION_NONE);
	turn_on(f, 1, &f->cpus[1], 0x4, 0);
}

/* ---- System calls ---- */

static void test_system_off_reset(void **state)
{
	struct fake_platform *f = *state;
	struct result r;

	r = call0(f, HYP_PSCI_SYSTEM_OFF);
	check_handled(&r, R_INTERNAL_FAILURE, HYP_PSCI_ACTION_SYSTEM_OFF);
	assert_int_equal(r.action.reset_type, 0);
	r = call0(f, HYP_PSCI_SYSTEM_RESET);
	check_handled(&r, R_INTERNAL_FAILURE, HYP_PSCI_ACTION_SYSTEM_RESET);
	assert_int_equal(r.action.reset_type, 0);
	/* No 64-bit variants exist. */
	r = call0(f, 0xc4000008);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
	r = call0(f, 0xc4000009);
	check_handled(&r, R_NOT_SUPPORTED, HYP_PSCI_ACTION_NONE);
}

static void test_system_reset2(void **state)
{
	struct fake_platform *f = *state;
	static const struct {
		uint64_t type;
		uint64_t ret;
		uint64_t reset_type; /* meaningful when ret is INTERNAL_FAILURE */
	} cases[] = {
		{ 0, R_INTERNAL_FAILURE, 0 },			/* SYSTEM_WARM_RESET */
		{ 0x80000000, R_INTERNAL_FAILURE, 0x80000000 }, /* vendor */
		{ 0x80001234, R_INTERNAL_FAILURE, 0x80001234 },
		{ 0xffffffff, R_INTERNAL_FAILURE, 0xffffffff },
		{ 0xffffffff00000000ull, R_INTERNAL_FAILURE, 0 }, /* reset_type is 32-bit */
		{ 1, R_INVALID_PARAMETERS, 0 },			  /* reserved architectural */
		{ 0x7fffffff, R_INVALID_PARAMETERS, 0 },
		{ 0x100000001ull, R_INVALID_PARAMETERS, 0 },
	};
	static const uint32_t fids[] = { HYP_PSCI_SYSTEM_RESET2_32, HYP_PSCI_SYSTEM_RESET2_64 };
	size_t i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct result r = call3(f, fids[k], cases[i].type, 0xc00c1e, 0);

			if (cases[i].ret == R_INTERNAL_FAILURE) {
				check_handled(&r, R_INTERNAL_FAILURE, HYP_PSCI_ACTION_SYSTEM_RESET);
				assert_int_equal(r.action.reset_type, cases[i].reset_type);
			} else {
				check_handled(&r, cases[i].ret, HYP_PSCI_ACTION_NONE);
			}
		}
	}
}

static void test_null_arguments(void **state)
{
	struct fake_platform *f = *state;
	struct hyp_smccc_call call;
	struct hyp_psci_action action;
	uint64_t e = 5, c = 6;

	memset(&call, 0, sizeof(call));
	call.function_id = HYP_PSCI_VERSION;
	assert_false(hyp_smccc_builtin_call(&f->platform, &f->cpus[0], NULL, &action));
	assert_false(hyp_smccc_builtin_call(&f->platform, &f->cpus[0], &call, NULL));
	assert_false(hyp_smccc_builtin_call(NULL, &f->cpus[0], &call, &action));
	assert_false(hyp_smccc_builtin_call(&f->platform, NULL, &call, &action));
	/* SMCCC arch calls need no platform. */
	call.function_id = HYP_SMCCC_VERSION;
	assert_true(hyp_smccc_builtin_call(NULL, NULL, &call, &action));
	assert_int_equal(call.ret[0], 0x10001);

	assert_false(hyp_psci_claim_start(NULL, &e, &c));
	assert_false(hyp_psci_is_on(NULL));
	atomic_store(&f->cpus[1].state, HYP_PSCI_POWER_STARTING);
	assert_false(hyp_psci_claim_start(&f->cpus[1], NULL, &c));
	assert_false(hyp_psci_claim_start(&f->cpus[1], &e, NULL));
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_STARTING);
}

/* ---- Concurrency ---- */

/*
 * Race bodies never call cmocka's assert macros from a worker thread, and the main thread does not
 * assert until every worker has been joined: a failed assert longjmps to the teardown, which frees
 * the fixture the workers are still using. Failures are counted per round and checked at the end.
 */

#define RACE_THREADS 8
#define RACE_ROUNDS 2000

/* Per-thread entry point and context, distinct for every round and thread. */
static uint64_t race_entry(unsigned int round, unsigned int id)
{
	return ENTRY + ((uint64_t)round << 12) + ((uint64_t)id << 4);
}

static uint64_t race_ctx(unsigned int round, unsigned int id)
{
	return ((uint64_t)round << 32) | id;
}

struct race {
	struct fake_platform *f;
	pthread_barrier_t start, done;
	/* Per round: what each caller got back, and how many callers have returned. */
	uint64_t ret[RACE_THREADS];
	struct hyp_psci_cpu *target[RACE_THREADS];
	atomic_uint returned;
	/* The target vCPU's view. */
	bool claimed;
	uint64_t claimed_entry, claimed_ctx;
};

struct race_arg {
	struct race *race;
	unsigned int id;
};

static void *race_caller(void *p)
{
	struct race_arg *a = p;
	struct race *race = a->race;
	unsigned int round;

	for (round = 0; round < RACE_ROUNDS; round++) {
		/* Mix the conventions: both variants go through the same transition. */
		uint32_t fid = (round + a->id) & 1 ? HYP_PSCI_CPU_ON_64 : HYP_PSCI_CPU_ON_32;
		struct result r;

		pthread_barrier_wait(&race->start);
		r = call3(race->f, fid, 1, race_entry(round, a->id), race_ctx(round, a->id));
		race->ret[a->id] = r.handled ? r.call.ret[0] : 0xbad;
		race->target[a->id] = r.action.kind == HYP_PSCI_ACTION_CPU_ON ? r.action.target :
										NULL;
		atomic_fetch_add(&race->returned, 1);
		pthread_barrier_wait(&race->done);
	}
	return NULL;
}

/*
 * The target vCPU, spinning to claim its start while the callers race, so that late callers see
 * ALREADY_ON. It stops trying once every caller has returned and a last claim fails, so a broken
 * dispatcher that lets nobody win fails the test instead of hanging it.
 */
static void *race_claimer(void *p)
{
	struct race *race = p;
	unsigned int round;

	for (round = 0; round < RACE_ROUNDS; round++) {
		uint64_t e = 0, c = 0;
		bool got;

		pthread_barrier_wait(&race->start);
		for (;;) {
			bool all_returned = atomic_load(&race->returned) == RACE_THREADS;

			got = hyp_psci_claim_start(&race->f->cpus[1], &e, &c);
			if (got || all_returned)
				break;
		}
		race->claimed = got;
		race->claimed_entry = e;
		race->claimed_ctx = c;
		pthread_barrier_wait(&race->done);
	}
	return NULL;
}

/* Checks one round of test_race_cpu_on(); returns the number of violations. */
static unsigned int race_check_round(struct race *race, unsigned int round,
				     unsigned int *already_on, unsigned int *on_pending)
{
	struct hyp_psci_cpu *cpu1 = &race->f->cpus[1];
	unsigned int i, winners = 0, winner = 0, bad = 0;
	uint64_t want_ctx;

	for (i = 0; i < RACE_THREADS; i++) {
		if (race->ret[i] == HYP_PSCI_SUCCESS) {
			winners++;
			winner = i;
			bad += race->target[i] != cpu1;
		} else if (race->ret[i] == R_ALREADY_ON) {
			(*already_on)++;
			bad += race->target[i] != NULL;
		} else if (race->ret[i] == R_ON_PENDING) {
			(*on_pending)++;
			bad += race->target[i] != NULL;
		} else {
			bad++;
		}
	}
	if (winners != 1 || !race->claimed)
		return bad + 1;
	/* The published start is the winner's; a 32-bit winner's context is truncated to W3. */
	want_ctx = race_ctx(round, winner);
	if (!((round + winner) & 1))
		want_ctx = (uint32_t)want_ctx;
	bad += race->claimed_entry != race_entry(round, winner);
	bad += race->claimed_ctx != want_ctx;
	bad += power(cpu1) != HYP_PSCI_POWER_ON;
	return bad;
}

static void test_race_cpu_on(void **state)
{
	struct fake_platform *f = *state;
	struct race *race = calloc(1, sizeof(*race));
	struct race_arg args[RACE_THREADS];
	pthread_t threads[RACE_THREADS + 1];
	unsigned int i, round, bad_rounds = 0, already_on = 0, on_pending = 0;

	assert_non_null(race);
	race->f = f;
	atomic_init(&race->returned, 0);
	/* The callers, the claimer, and this thread, which resets CPU 1 between rounds. */
	assert_int_equal(pthread_barrier_init(&race->start, NULL, RACE_THREADS + 2), 0);
	assert_int_equal(pthread_barrier_init(&race->done, NULL, RACE_THREADS + 2), 0);
	for (i = 0; i < RACE_THREADS; i++) {
		args[i].race = race;
		args[i].id = i;
		assert_int_equal(pthread_create(&threads[i], NULL, race_caller, &args[i]), 0);
	}
	assert_int_equal(pthread_create(&threads[RACE_THREADS], NULL, race_claimer, race), 0);

	for (round = 0; round < RACE_ROUNDS; round++) {
		atomic_store(&f->cpus[1].state, HYP_PSCI_POWER_OFF);
		atomic_store(&race->returned, 0);
		pthread_barrier_wait(&race->start);
		pthread_barrier_wait(&race->done);
		bad_rounds += race_check_round(race, round, &already_on, &on_pending) != 0;
	}
	for (i = 0; i <= RACE_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&race->start);
	pthread_barrier_destroy(&race->done);
	free(race);

	assert_int_equal(bad_rounds, 0);
	/* Every loser got one of the two answers. */
	assert_int_equal(already_on + on_pending, RACE_ROUNDS * (RACE_THREADS - 1));
}

/*
 * hyp_psci_claim_start() from several threads at once (say, the vCPU thread and a wake-up path of
 * the VMM): one published start is claimed exactly once, with the published values.
 */
struct claim_race {
	struct hyp_psci_cpu *cpu;
	pthread_barrier_t start, done;
	bool won[RACE_THREADS];
	uint64_t entry[RACE_THREADS], ctx[RACE_THREADS];
};

struct claim_arg {
	struct claim_race *race;
	unsigned int id;
};

static void *claim_racer(void *p)
{
	struct claim_arg *a = p;
	struct claim_race *race = a->race;
	unsigned int round;

	for (round = 0; round < RACE_ROUNDS; round++) {
		pthread_barrier_wait(&race->start);
		race->won[a->id] =
			hyp_psci_claim_start(race->cpu, &race->entry[a->id], &race->ctx[a->id]);
		pthread_barrier_wait(&race->done);
	}
	return NULL;
}

static void test_race_claim_start(void **state)
{
	struct fake_platform *f = *state;
	struct claim_race *race = calloc(1, sizeof(*race));
	struct claim_arg args[RACE_THREADS];
	pthread_t threads[RACE_THREADS];
	unsigned int i, round, bad_rounds = 0;

	assert_non_null(race);
	race->cpu = &f->cpus[2];
	assert_int_equal(pthread_barrier_init(&race->start, NULL, RACE_THREADS + 1), 0);
	assert_int_equal(pthread_barrier_init(&race->done, NULL, RACE_THREADS + 1), 0);
	for (i = 0; i < RACE_THREADS; i++) {
		args[i].race = race;
		args[i].id = i;
		assert_int_equal(pthread_create(&threads[i], NULL, claim_racer, &args[i]), 0);
	}
	for (round = 0; round < RACE_ROUNDS; round++) {
		unsigned int winners = 0, bad = 0;
		struct result r;

		atomic_store(&race->cpu->state, HYP_PSCI_POWER_OFF);
		r = call3(f, HYP_PSCI_CPU_ON_64, 2, race_entry(round, 0), race_ctx(round, 0));
		bad += !r.handled || r.call.ret[0] != HYP_PSCI_SUCCESS;
		pthread_barrier_wait(&race->start);
		pthread_barrier_wait(&race->done);
		for (i = 0; i < RACE_THREADS; i++) {
			if (!race->won[i])
				continue;
			winners++;
			bad += race->entry[i] != race_entry(round, 0);
			bad += race->ctx[i] != race_ctx(round, 0);
		}
		bad += winners != 1;
		bad += power(race->cpu) != HYP_PSCI_POWER_ON;
		bad_rounds += bad != 0;
	}
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&race->start);
	pthread_barrier_destroy(&race->done);
	free(race);

	assert_int_equal(bad_rounds, 0);
}

/*
 * The same two races with the starting gun fired much more precisely. pthread_barrier_wait() wakes
 * waiters one by one, microseconds apart, which is far wider than the few instructions a broken
 * (load-then-store) transition would leave open. Here one thread per online CPU spins on a shared
 * generation counter, so all leave the gate within a cache-line transfer of each other; over many
 * rounds that catches a non-atomic CPU_ON or claim with high probability (such a bug can only ever
 * be caught probabilistically). Spinners yield now and then so a loaded machine still progresses.
 */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
/* Under TSan these rounds check the memory orderings; each costs ~20x more, so run fewer. */
#define TIGHT_ROUNDS 10000
#else
#define TIGHT_ROUNDS 100000
#endif
#define TIGHT_MAX 8

struct tight {
	struct fake_platform *f;
	unsigned int n;
	bool claim; /* race hyp_psci_claim_start() rather than CPU_ON */
	atomic_uint gen, arrived;
	uint64_t ret[TIGHT_MAX];
};

struct tight_arg {
	struct tight *t;
	unsigned int id;
};

static void spin_until(atomic_uint *v, unsigned int want)
{
	unsigned int spins = 0;

	while (atomic_load_explicit(v, memory_order_acquire) != want)
		if (++spins % 1024 == 0)
			sched_yield();
}

static void tight_round(struct tight *t, unsigned int id)
{
	struct hyp_psci_cpu *cpu = &t->f->cpus[1];

	if (t->claim) {
		uint64_t e, c;

		t->ret[id] = hyp_psci_claim_start(cpu, &e, &c);
	} else {
		struct hyp_smccc_call call;
		struct hyp_psci_action action;

		memset(&call, 0, sizeof(call));
		call.function_id = HYP_PSCI_CPU_ON_64;
		call.args[0] = 1;
		call.args[1] = ENTRY;
		if (hyp_smccc_builtin_call(&t->f->platform, &t->f->cpus[0], &call, &action))
			t->ret[id] = call.ret[0];
		else
			t->ret[id] = 0xbad;
	}
}

static void *tight_racer(void *p)
{
	struct tight_arg *a = p;
	struct tight *t = a->t;
	unsigned int round;

	for (round = 1; round <= TIGHT_ROUNDS; round++) {
		spin_until(&t->gen, round);
		tight_round(t, a->id);
		atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel);
	}
	return NULL;
}

static void tight_run(struct fake_platform *f, bool claim)
{
	struct tight *t = calloc(1, sizeof(*t));
	struct tight_arg args[TIGHT_MAX];
	pthread_t threads[TIGHT_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int i, round, bad_rounds = 0;

	assert_non_null(t);
	t->f = f;
	t->claim = claim;
	/* The fake's entry check bumps a shared counter, which would stagger the racers. */
	f->platform.entry_valid = NULL;
	t->n = cpus < 2 ? 2 : cpus > TIGHT_MAX ? TIGHT_MAX : (unsigned int)cpus;
	atomic_init(&t->gen, 0);
	atomic_init(&t->arrived, 0);
	/* This thread is racer 0. */
	for (i = 1; i < t->n; i++) {
		args[i].t = t;
		args[i].id = i;
		assert_int_equal(pthread_create(&threads[i], NULL, tight_racer, &args[i]), 0);
	}
	for (round = 1; round <= TIGHT_ROUNDS; round++) {
		unsigned int wins = 0, bad = 0;

		/* The others are spinning for this generation: nobody touches CPU 1 now. */
		if (claim) {
			f->cpus[1].entry = ENTRY;
			f->cpus[1].context_id = round;
			atomic_store(&f->cpus[1].state, HYP_PSCI_POWER_STARTING);
		} else {
			atomic_store(&f->cpus[1].state, HYP_PSCI_POWER_OFF);
		}
		atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
		atomic_store_explicit(&t->gen, round, memory_order_release);
		tight_round(t, 0);
		spin_until(&t->arrived, t->n - 1);
		for (i = 0; i < t->n; i++) {
			if (claim)
				wins += t->ret[i] == 1;
			else if (t->ret[i] == HYP_PSCI_SUCCESS)
				wins++;
			else
				bad += t->ret[i] != R_ON_PENDING;
		}
		bad_rounds += bad != 0 || wins != 1;
	}
	for (i = 1; i < t->n; i++)
		pthread_join(threads[i], NULL);
	free(t);

	assert_int_equal(bad_rounds, 0);
}

static void test_race_tight_cpu_on(void **state)
{
	tight_run(*state, false);
}

static void test_race_tight_claim(void **state)
{
	tight_run(*state, true);
}

/*
 * The whole cycle under contention: callers keep turning CPU 1 on while CPU 1 keeps claiming its
 * start and turning itself off. Every SUCCESS must be consumed by exactly one claim, and each
 * claim must see an (entry, context) pair written together by one caller, never a mix.
 */
#define CYCLE_CALLERS 6
#define CYCLE_CALLS 20000

struct cycle {
	struct fake_platform *f;
	atomic_uint successes;
	atomic_bool stop;
	unsigned int claims;
	unsigned int torn;
};

static uint64_t cycle_key(uint64_t entry)
{
	return entry * 0x9e3779b97f4a7c15ull;
}

static void *cycle_caller(void *p)
{
	struct cycle *cy = p;
	unsigned int i;

	for (i = 0; i < CYCLE_CALLS; i++) {
		uint64_t entry = ENTRY + ((uint64_t)(i & 0xffff) << 4);
		struct result r = call3(cy->f, HYP_PSCI_CPU_ON_64, 1, entry, cycle_key(entry));

		if (r.handled && r.call.ret[0] == HYP_PSCI_SUCCESS)
			atomic_fetch_add(&cy->successes, 1);
	}
	return NULL;
}

static void *cycle_target(void *p)
{
	struct cycle *cy = p;
	struct hyp_psci_cpu *cpu = &cy->f->cpus[1];

	for (;;) {
		uint64_t e, c;

		if (hyp_psci_claim_start(cpu, &e, &c)) {
			struct result r;

			if (c != cycle_key(e))
				cy->torn++;
			cy->claims++;
			r = call_imm(cy->f, cpu, HYP_PSCI_CPU_OFF, 0, 0, 0, 0);
			if (!r.handled || r.call.ret[0] != 0)
				cy->torn++;
		} else if (atomic_load(&cy->stop) &&
			   atomic_load(&cpu->state) != HYP_PSCI_POWER_STARTING) {
			/* The callers are done: nothing can become STARTING any more. */
			break;
		}
	}
	return NULL;
}

static void test_race_on_off_cycle(void **state)
{
	struct fake_platform *f = *state;
	struct cycle cy;
	pthread_t callers[CYCLE_CALLERS], target;
	unsigned int i;

	memset(&cy, 0, sizeof(cy));
	cy.f = f;
	atomic_init(&cy.successes, 0);
	atomic_init(&cy.stop, false);
	assert_int_equal(pthread_create(&target, NULL, cycle_target, &cy), 0);
	for (i = 0; i < CYCLE_CALLERS; i++)
		assert_int_equal(pthread_create(&callers[i], NULL, cycle_caller, &cy), 0);
	for (i = 0; i < CYCLE_CALLERS; i++)
		pthread_join(callers[i], NULL);
	atomic_store(&cy.stop, true);
	pthread_join(target, NULL);

	assert_int_equal(cy.torn, 0);
	assert_true(atomic_load(&cy.successes) > 0);
	assert_int_equal(cy.claims, atomic_load(&cy.successes));
	assert_int_equal(power(&f->cpus[1]), HYP_PSCI_POWER_OFF);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_smccc_version, setup_flat4),
		T(test_smccc_arch_features, setup_flat4),
		T(test_smccc_arch_not_builtin, setup_flat4),
		T(test_imm_nonzero_not_handled, setup_flat4),
		T(test_unknown_ids_not_handled, setup_flat4),
		T(test_psci_version, setup_flat4),
		T(test_psci_features_each_id, setup_flat4),
		T(test_psci_features_whole_range, setup_flat4),
		T(test_psci_range_unimplemented, setup_flat4),
		T(test_migrate, setup_flat4),
		T(test_cpu_suspend, setup_flat4),
		T(test_cpu_on_claim_affinity, setup_flat4),
		T(test_cpu_on_pending_states, setup_flat4),
		T(test_cpu_on_bad_mpidr_bits, setup_flat4),
		T(test_cpu_on_unknown_mpidr, setup_flat4),
		T(test_cpu_on_bad_entry, setup_flat4),
		T(test_cpu_on_check_order, setup_flat4),
		T(test_cpu_on_32_vs_64, setup_flat4),
		T(test_cpu_off_then_on_again, setup_flat4),
		T(test_cpu_off_while_starting_denied, setup_flat4),
		T(test_affinity_info_params, setup_flat4),
		T(test_topology_cpu_on, setup_topo),
		T(test_topology_affinity_levels, setup_topo),
		T(test_empty_slots_and_full_mpidr, setup_flat4),
		T(test_no_entry_callback, setup_flat4),
		T(test_system_off_reset, setup_flat4),
		T(test_system_reset2, setup_flat4),
		T(test_null_arguments, setup_flat4),
		T(test_race_cpu_on, setup_flat4),
		T(test_race_claim_start, setup_flat4),
		T(test_race_tight_cpu_on, setup_flat4),
		T(test_race_tight_claim, setup_flat4),
		T(test_race_on_off_cycle, setup_flat4),
	};

	return cmocka_run_group_tests_name("psci", tests, NULL, NULL);
}
