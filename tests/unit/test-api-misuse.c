/* SPDX-License-Identifier: MIT */
/*
 * API misuse: every public entry point given NULL handles, NULL out-parameters, bad sizes,
 * out-of-range fields, duplicate registrations and wrong keys. Each check asserts the exact errno
 * the header documents, and that out-parameters are untouched on failure (they are pre-filled
 * with a sentinel).
 *
 * Only the public headers are used, and only the mock backend plus a minimal external backend
 * (libhyp/backend.h) that gives us a VM and vCPUs that are not the mock's.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libhyp/backend.h>

#include "test-stub-backend.h"
#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (64u * 1024u)
#define MMIO_BASE 0x09000000ull

#define U64_SENTINEL 0x5a5a5a5a5a5a5a5aull

/* An address no library call may ever return: proves a pointer out-parameter was not written. */
static char sentinel_object;
#define PTR_SENTINEL ((void *)&sentinel_object)

/* ---- Fixtures ---------------------------------------------------------------------------- */

struct fx {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	void *ram;
};

static struct hyp_vm *create_vm_with(const struct hyp_vm_config *cfg)
{
	struct hyp_vm *vm = PTR_SENTINEL;

	assert_int_equal(hyp_vm_create(cfg, &vm), 0);
	assert_non_null(vm);
	assert_ptr_not_equal(vm, PTR_SENTINEL);
	return vm;
}

static struct hyp_vm *create_mock_vm(void)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	return create_vm_with(&cfg);
}

static struct hyp_vm *create_mock_vm_flags(uint32_t mock_flags, uint32_t max_steps)
{
	struct hyp_mock_config mcfg = { .size = sizeof(mcfg),
					.flags = mock_flags,
					.max_script_steps = max_steps };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .backend_config = &mcfg };

	return create_vm_with(&cfg);
}

static struct hyp_vcpu *create_vcpu_index(struct hyp_vm *vm, uint32_t index)
{
	struct hyp_vcpu_config vcfg = { .size = sizeof(vcfg), .index = index };
	struct hyp_vcpu *vcpu = PTR_SENTINEL;

	assert_int_equal(hyp_vcpu_create(vm, &vcfg, &vcpu), 0);
	assert_non_null(vcpu);
	assert_ptr_not_equal(vcpu, PTR_SENTINEL);
	return vcpu;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->vm = create_mock_vm();
	f->ram = aligned_alloc(HYP_PAGE_SIZE, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, f->ram, RAM_SIZE, HYP_MEM_RWX), 0);
	f->vcpu = create_vcpu_index(f->vm, 0);
	assert_int_equal(hyp_vcpu_set_reg(f->vcpu, HYP_REG_PC, RAM_BASE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hyp_vm_destroy(f->vm);
	free(f->ram);
	free(f);
	return 0;
}

/* Callbacks that must never run in the tests that only register them. */
static enum hyp_handler_result never_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *access)
{
	(void)vcpu;
	(void)access;
	(void)opaque;
	fail_msg("MMIO callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static enum hyp_handler_result never_smccc(void *opaque, struct hyp_vcpu *vcpu,
					   struct hyp_smccc_call *call)
{
	(void)vcpu;
	(void)call;
	(void)opaque;
	fail_msg("SMCCC callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static enum hyp_handler_result never_sysreg(void *opaque, struct hyp_vcpu *vcpu,
					    struct hyp_sysreg_access *access)
{
	(void)vcpu;
	(void)access;
	(void)opaque;
	fail_msg("sysreg callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static enum hyp_handler_result never_exit(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_exit *exit)
{
	(void)vcpu;
	(void)exit;
	(void)opaque;
	fail_msg("exit callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

/* ---- A minimal external backend (libhyp/backend.h), for "not a mock" handles and logging --- */

struct ext_config {
	int vm_init_result; /* what vm_init returns */
	int log_priority;   /* if non-zero, vm_init logs one message at this priority */
};

static int ext_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	const struct ext_config *ec = config->backend_config;

	if (!ec)
		return 0;
	if (ec->log_priority)
		hyp_vm_log(vm, (enum hyp_log_priority)ec->log_priority, "ext vm_init %d", 42);
	return ec->vm_init_result;
}

static const struct hyp_backend_ops ext_ops = {
	TEST_STUB_BACKEND("ext-test"),
	.vm_init = ext_vm_init,
};

/* ---- Version and strings ----------------------------------------------------------------- */

static void test_version(void **state)
{
	char expect[32];

	(void)state;
	assert_int_equal(hyp_version(), HYP_VERSION);
	assert_int_equal(HYP_VERSION,
			 (HYP_VERSION_MAJOR << 16) | (HYP_VERSION_MINOR << 8) | HYP_VERSION_MICRO);
	snprintf(expect, sizeof(expect), "%d.%d.%d", HYP_VERSION_MAJOR, HYP_VERSION_MINOR,
		 HYP_VERSION_MICRO);
	assert_non_null(hyp_version_string());
	assert_string_equal(hyp_version_string(), expect);
	/* Static storage: the same answer every time. */
	assert_ptr_equal(hyp_version_string(), hyp_version_string());
}

/* Every errno a public header mentions. */
static const int documented_errnos[] = {
	EINVAL, E2BIG, ENOENT, ENODEV, ENOTSUP, ENOMEM,	 ERANGE,
	EEXIST, EBUSY, EFAULT, ENOSPC, EPERM,	ENODATA,
};

static void test_strerror_documented(void **state)
{
	size_t n = sizeof(documented_errnos) / sizeof(documented_errnos[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *neg = hyp_strerror(-documented_errnos[i]);
		const char *pos = hyp_strerror(documented_errnos[i]);

		assert_non_null(neg);
		assert_non_null(pos);
		assert_true(strlen(neg) > 0);
		assert_string_not_equal(neg, "Unknown error");
		/* "a positive value is accepted too" */
		assert_string_equal(neg, pos);
		/* Distinct errors get distinct descriptions. */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(neg, hyp_strerror(-documented_errnos[j]));
	}
}

static void test_strerror_unknown(void **state)
{
	static const int unknown[] = { -9999, 9999, 100000, -100000, INT_MAX, -INT_MAX, INT_MIN };

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		const char *s = hyp_strerror(unknown[i]);

		assert_non_null(s);
		assert_string_equal(s, "Unknown error");
	}
	assert_non_null(hyp_strerror(0));
}

/* A backend's failed host system call is -HYP_EHOST(errno): never equal to a libhyp errno, and
 * the host errno can be recovered (the kvm suite checks a real one: KVM_RUN's EFAULT). */
static void test_host_errors(void **state)
{
	static const int host[] = { 1, EFAULT, ENOENT, EINVAL, 4095 };

	(void)state;
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
		int err = -HYP_EHOST(host[i]);

		assert_int_equal(hyp_error_host_errno(err), host[i]);
		assert_int_equal(hyp_error_host_errno(-err), host[i]);
		for (size_t j = 0; j < sizeof(documented_errnos) / sizeof(documented_errnos[0]);
		     j++)
			assert_int_not_equal(err, -documented_errnos[j]);
		assert_string_not_equal(hyp_strerror(err), "Unknown error");
		assert_string_not_equal(hyp_strerror(err), hyp_strerror(-host[i]));
	}
	/* libhyp's own errors, success and values outside the range are not host errors. */
	for (size_t j = 0; j < sizeof(documented_errnos) / sizeof(documented_errnos[0]); j++)
		assert_int_equal(hyp_error_host_errno(-documented_errnos[j]), 0);
	assert_int_equal(hyp_error_host_errno(0), 0);
	assert_int_equal(hyp_error_host_errno(-HYP_EHOST(0)), 0);
	assert_int_equal(hyp_error_host_errno(-HYP_EHOST(4096)), 0);
	assert_int_equal(hyp_error_host_errno(INT_MIN), 0);
}

static void test_exit_reason_name(void **state)
{
	(void)state;
	for (uint32_t r = HYP_EXIT_NONE; r < HYP_EXIT_REASON_COUNT; r++) {
		const char *name = hyp_exit_reason_name(r);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_string_not_equal(name, "invalid");
		for (uint32_t s = HYP_EXIT_NONE; s < r; s++)
			assert_string_not_equal(name, hyp_exit_reason_name(s));
	}
	assert_string_equal(hyp_exit_reason_name(HYP_EXIT_MMIO), "mmio");
	assert_string_equal(hyp_exit_reason_name(HYP_EXIT_SMCCC), "smccc");
	assert_string_equal(hyp_exit_reason_name(HYP_EXIT_REASON_COUNT), "invalid");
	assert_string_equal(hyp_exit_reason_name(HYP_EXIT_REASON_COUNT + 1), "invalid");
	assert_string_equal(hyp_exit_reason_name(0x80000000u), "invalid");
	assert_string_equal(hyp_exit_reason_name(UINT32_MAX), "invalid");
}

/* ---- hyp_vm_create ----------------------------------------------------------------------- */

/* Expect hyp_vm_create() to fail with @err and leave the out-parameter alone. */
static void expect_create_fails(const struct hyp_vm_config *cfg, int err)
{
	struct hyp_vm *vm = PTR_SENTINEL;

	assert_int_equal(hyp_vm_create(cfg, &vm), err);
	assert_ptr_equal(vm, PTR_SENTINEL);
}

static void test_vm_create_null(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	(void)state;
	expect_create_fails(NULL, -EINVAL);
	assert_int_equal(hyp_vm_create(&cfg, NULL), -EINVAL);
	assert_int_equal(hyp_vm_create(NULL, NULL), -EINVAL);
}

static void test_vm_create_size_too_small(void **state)
{
	static const uint32_t sizes[] = {
		0,
		1,
		4,
		8,
		offsetof(struct hyp_vm_config, gicr_base),
		sizeof(struct hyp_vm_config) - 1,
	};
	struct hyp_vm_config cfg = { .backend = "mock" };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cfg.size = sizes[i];
		expect_create_fails(&cfg, -EINVAL);
	}
}

/* A caller compiled against a newer library: the struct is followed by fields we do not know. */
struct big_vm_config {
	struct hyp_vm_config cfg;
	uint8_t tail[40];
};

static void test_vm_create_size_larger_zero_tail(void **state)
{
	struct big_vm_config big;
	struct hyp_vm *vm;

	(void)state;
	memset(&big, 0, sizeof(big));
	big.cfg.size = sizeof(big);
	big.cfg.backend = "mock";
	big.cfg.ipa_bits = 36;
	vm = create_vm_with(&big.cfg);
	assert_string_equal(hyp_vm_backend_name(vm), "mock");
	{
		uint64_t v = 0;

		/* The known fields were read. */
		assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IPA_BITS, &v), 0);
		assert_int_equal(v, 36);
	}
	hyp_vm_destroy(vm);
}

static void test_vm_create_size_larger_nonzero_tail(void **state)
{
	static const size_t positions[] = { 0, 1, 7, 39 };
	struct big_vm_config big;

	(void)state;
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		memset(&big, 0, sizeof(big));
		big.cfg.size = sizeof(big);
		big.cfg.backend = "mock";
		big.tail[positions[i]] = 0x01;
		expect_create_fails(&big.cfg, -E2BIG);
	}
	/* A non-zero byte past @size is not part of the struct and must not matter. */
	memset(&big, 0, sizeof(big));
	big.cfg.size = sizeof(big) - 1;
	big.cfg.backend = "mock";
	big.tail[39] = 0xff;
	hyp_vm_destroy(create_vm_with(&big.cfg));
}

static void test_vm_create_ipa_bits(void **state)
{
	static const uint32_t bad[] = { 1, 12, 31, 53, 64, 0x80000000u, UINT32_MAX };
	static const uint32_t good[] = { 32, 40, 48, 52 };
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
	struct hyp_vm *vm;
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.ipa_bits = bad[i];
		expect_create_fails(&cfg, -EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg.ipa_bits = good[i];
		vm = create_vm_with(&cfg);
		v = U64_SENTINEL;
		assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IPA_BITS, &v), 0);
		assert_int_equal(v, good[i]);
		hyp_vm_destroy(vm);
	}
	cfg.ipa_bits = 0;
	vm = create_vm_with(&cfg);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IPA_BITS, &v), 0);
	assert_int_equal(v, HYP_DEFAULT_IPA_BITS);
	hyp_vm_destroy(vm);
}

static void test_vm_create_max_vcpus(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
	struct hyp_vm *vm;
	uint64_t v;

	(void)state;
	cfg.max_vcpus = HYP_MAX_VCPUS + 1;
	expect_create_fails(&cfg, -EINVAL);
	cfg.max_vcpus = UINT32_MAX;
	expect_create_fails(&cfg, -EINVAL);

	/* The default redistributor region ends where the default PL011 starts: 123 vCPUs. */
	cfg.max_vcpus = HYP_DEFAULT_GICR_MAX_VCPUS + 1;
	expect_create_fails(&cfg, -EINVAL);
	cfg.max_vcpus = HYP_MAX_VCPUS;
	expect_create_fails(&cfg, -EINVAL);
	cfg.max_vcpus = HYP_DEFAULT_GICR_MAX_VCPUS;
	vm = create_vm_with(&cfg);
	hyp_vm_destroy(vm);
	assert_true(HYP_DEFAULT_GICR_BASE + HYP_DEFAULT_GICR_MAX_VCPUS * HYP_GICR_SIZE_PER_VCPU <=
		    HYP_DEFAULT_UART_BASE);

	/* A bigger VM names its own region. */
	cfg.max_vcpus = HYP_MAX_VCPUS;
	cfg.gicr_base = HYP_HIGH_GICR_BASE;
	vm = create_vm_with(&cfg);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_MAX_VCPUS, &v), 0);
	assert_int_equal(v, HYP_MAX_VCPUS);
	hyp_vm_destroy(vm);
	/* ... inside the IPA space (256 GiB + 64 MiB needs 39 bits), */
	cfg.ipa_bits = 38;
	expect_create_fails(&cfg, -ERANGE);
	cfg.ipa_bits = 0;
	/* ... not overlapping the distributor. */
	cfg.gicd_base = HYP_HIGH_GICR_BASE + 100 * HYP_GICR_SIZE_PER_VCPU;
	expect_create_fails(&cfg, -EINVAL);
	cfg.gicd_base = HYP_HIGH_GICR_BASE - HYP_GICD_SIZE;
	vm = create_vm_with(&cfg);
	hyp_vm_destroy(vm);
	cfg.gicd_base = 0;
	cfg.gicr_base = 0;

	cfg.max_vcpus = 1;
	vm = create_vm_with(&cfg);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_MAX_VCPUS, &v), 0);
	assert_int_equal(v, 1);
	hyp_vm_destroy(vm);

	cfg.max_vcpus = 0;
	vm = create_vm_with(&cfg);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_MAX_VCPUS, &v), 0);
	assert_int_equal(v, HYP_DEFAULT_MAX_VCPUS);
	hyp_vm_destroy(vm);
}

static void test_vm_create_irqchip(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	(void)state;
	cfg.irqchip = HYP_IRQCHIP_NONE + 1;
	expect_create_fails(&cfg, -EINVAL);
	cfg.irqchip = 0x100;
	expect_create_fails(&cfg, -EINVAL);
	cfg.irqchip = UINT32_MAX;
	expect_create_fails(&cfg, -EINVAL);
	/* The mock has no GIC of its own: "Require the backend's own GICv3; -ENOTSUP if it has
	 * none." */
	cfg.irqchip = HYP_IRQCHIP_BACKEND;
	expect_create_fails(&cfg, -ENOTSUP);

	/* libhyp's GIC: the mock runs lib/vgic through its software CPU interface, which needs
	 * sysreg traps and an interrupt controller. */
	cfg.irqchip = HYP_IRQCHIP_LIBRARY;
	hyp_vm_destroy(create_vm_with(&cfg));
	{
		struct hyp_mock_config mcfg = { .size = sizeof(mcfg),
						.flags = HYP_MOCK_NO_IRQCHIP };

		cfg.backend_config = &mcfg;
		expect_create_fails(&cfg, -ENOTSUP);
		cfg.backend_config = NULL;
	}

	cfg.irqchip = HYP_IRQCHIP_AUTO;
	hyp_vm_destroy(create_vm_with(&cfg));
	cfg.irqchip = HYP_IRQCHIP_NONE;
	hyp_vm_destroy(create_vm_with(&cfg));
}

static void test_vm_create_flags(void **state)
{
	/* Only the documented enum hyp_vm_flags bits are accepted. */
	static const uint32_t bad[] = { 2u, 1u << 16, 0x80000000u, UINT32_MAX };
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
	struct hyp_vm *vm = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.flags = bad[i];
		expect_create_fails(&cfg, -EINVAL);
	}
	cfg.flags = HYP_VM_ABORT_UNCLAIMED;
	assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
	hyp_vm_destroy(vm);
}

static void test_vm_create_log_priority(void **state)
{
	static const int32_t bad[] = { -1, 1, 2, 8, 100, INT32_MIN };
	static const int32_t good[] = { HYP_LOG_ERROR, HYP_LOG_WARNING, HYP_LOG_INFO,
					HYP_LOG_DEBUG };
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.log_priority = bad[i];
		expect_create_fails(&cfg, -EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg.log_priority = good[i];
		hyp_vm_destroy(create_vm_with(&cfg));
	}
}

/* A counting allocator: proves every object the library allocated is freed, with its size. */
struct counting_alloc {
	long live;
	long allocs;
	size_t live_bytes;
	int fail_after; /* fail every allocation after this many (-1: never) */
};

static void *counting_alloc_fn(void *opaque, size_t size, size_t align)
{
	struct counting_alloc *c = opaque;
	void *p;

	assert_true(align > 0 && (align & (align - 1)) == 0 && align <= 4096);
	if (c->fail_after >= 0 && c->allocs >= c->fail_after)
		return NULL;
	p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
	if (p) {
		c->allocs++;
		c->live++;
		c->live_bytes += size;
	}
	return p;
}

static void counting_free_fn(void *opaque, void *ptr, size_t size)
{
	struct counting_alloc *c = opaque;

	assert_non_null(ptr);
	c->live--;
	c->live_bytes -= size;
	free(ptr);
}

static void test_vm_create_alloc_ops(void **state)
{
	struct counting_alloc c = { .fail_after = -1 };
	struct hyp_alloc_ops no_alloc = { .free = counting_free_fn, .opaque = &c };
	struct hyp_alloc_ops no_free = { .alloc = counting_alloc_fn, .opaque = &c };
	struct hyp_alloc_ops ops = { .alloc = counting_alloc_fn,
				     .free = counting_free_fn,
				     .opaque = &c };
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	(void)state;
	cfg.alloc = &no_alloc;
	expect_create_fails(&cfg, -EINVAL);
	cfg.alloc = &no_free;
	expect_create_fails(&cfg, -EINVAL);
	assert_int_equal(c.allocs, 0);

	/* Out of memory at every step of creation: -ENOMEM, nothing leaked. */
	cfg.alloc = &ops;
	for (int n = 0; n < 2; n++) {
		c = (struct counting_alloc){ .fail_after = n };
		expect_create_fails(&cfg, -ENOMEM);
		assert_int_equal(c.live, 0);
		assert_int_equal(c.live_bytes, 0);
	}
	c = (struct counting_alloc){ .fail_after = -1 };
	hyp_vm_destroy(create_vm_with(&cfg));
	assert_true(c.allocs > 0);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.live_bytes, 0);
}

static void test_vm_create_backend_names(void **state)
{
	static const char *const unknown[] = {
		"xen", "", "MOCK", "mock ", " mock", "kvm2", "mockx"
	};
	struct hyp_vm_config cfg = { .size = sizeof(cfg) };

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		cfg.backend = unknown[i];
		expect_create_fails(&cfg, -ENOENT);
	}
	/* Automatic selection on this host: no kvm/el2 backend is built and the mock is never
	 * chosen automatically. */
	cfg.backend = "auto";
	expect_create_fails(&cfg, -ENODEV);
	cfg.backend = NULL;
	expect_create_fails(&cfg, -ENODEV);
}

static void test_vm_create_mock_config(void **state)
{
	struct {
		struct hyp_mock_config m;
		uint8_t tail[16];
	} big;
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .backend_config = &big };

	(void)state;
	memset(&big, 0, sizeof(big));
	big.m.size = 0;
	expect_create_fails(&cfg, -EINVAL);
	big.m.size = 4;
	expect_create_fails(&cfg, -EINVAL);
	big.m.size = offsetof(struct hyp_mock_config, max_script_steps);
	expect_create_fails(&cfg, -EINVAL);

	big.m.size = sizeof(big);
	big.tail[15] = 1;
	expect_create_fails(&cfg, -E2BIG);
	big.tail[15] = 0;
	hyp_vm_destroy(create_vm_with(&cfg));

	big.m.size = sizeof(big.m);
	big.m.flags = 1u << 3;
	expect_create_fails(&cfg, -EINVAL);
	big.m.flags = 0x80000000u;
	expect_create_fails(&cfg, -EINVAL);
	big.m.flags = HYP_MOCK_NO_SYSREG_TRAPS | HYP_MOCK_NO_READONLY_MEM | HYP_MOCK_NO_IRQCHIP;
	hyp_vm_destroy(create_vm_with(&cfg));
}

static void test_vm_create_backend_ops_invalid(void **state)
{
	struct hyp_backend_ops ops;
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend_ops = &ops };
	struct hyp_vm *vm;

	(void)state;
	ops = ext_ops;
	ops.version = 0;
	expect_create_fails(&cfg, -EINVAL);
	ops = ext_ops;
	ops.size = 8;
	expect_create_fails(&cfg, -EINVAL);
	ops = ext_ops;
	ops.name = NULL;
	expect_create_fails(&cfg, -EINVAL);
	ops = ext_ops;
	ops.vm_init = NULL;
	expect_create_fails(&cfg, -EINVAL);
	ops = ext_ops;
	ops.vcpu_init = NULL;
	expect_create_fails(&cfg, -EINVAL);
	ops = ext_ops;
	ops.vcpu_enter = NULL;
	expect_create_fails(&cfg, -EINVAL);

	/* backend_ops overrides @backend, even an unknown name. */
	cfg.backend_ops = &ext_ops;
	cfg.backend = "no-such-backend";
	vm = create_vm_with(&cfg);
	assert_string_equal(hyp_vm_backend_name(vm), "ext-test");
	hyp_vm_destroy(vm);
}

static void test_vm_create_backend_init_error(void **state)
{
	struct ext_config ec = { .vm_init_result = -EIO };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend_ops = &ext_ops,
				     .backend_config = &ec };

	(void)state;
	/* "-ENOMEM or a backend error": the backend's own error is passed through. */
	expect_create_fails(&cfg, -EIO);
	ec.vm_init_result = -ENOTSUP;
	expect_create_fails(&cfg, -ENOTSUP);
}

/* ---- Destroy, names ---------------------------------------------------------------------- */

static void test_destroy_null(void **state)
{
	(void)state;
	assert_int_equal(hyp_vm_destroy(NULL), 0);
	assert_int_equal(hyp_vcpu_destroy(NULL), 0);
}

static void test_vm_destroy_with_vcpus(void **state)
{
	struct counting_alloc c = { .fail_after = -1 };
	struct hyp_alloc_ops ops = { .alloc = counting_alloc_fn,
				     .free = counting_free_fn,
				     .opaque = &c };
	struct hyp_vm_config cfg = {
		.size = sizeof(cfg), .backend = "mock", .alloc = &ops, .max_vcpus = 4
	};
	struct hyp_vm *vm;

	(void)state;
	vm = create_vm_with(&cfg);
	for (uint32_t i = 0; i < 4; i++)
		create_vcpu_index(vm, i);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, MMIO_BASE, 0x1000, never_mmio, NULL), 0);
	assert_int_equal(hyp_vm_destroy(vm), 0);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.live_bytes, 0);
}

static void test_vcpu_destroy_then_vm_destroy(void **state)
{
	struct counting_alloc c = { .fail_after = -1 };
	struct hyp_alloc_ops ops = { .alloc = counting_alloc_fn,
				     .free = counting_free_fn,
				     .opaque = &c };
	struct hyp_vm_config cfg = {
		.size = sizeof(cfg), .backend = "mock", .alloc = &ops, .max_vcpus = 3
	};
	struct hyp_vm *vm;
	struct hyp_vcpu *v1, *again;

	(void)state;
	vm = create_vm_with(&cfg);
	create_vcpu_index(vm, 0);
	v1 = create_vcpu_index(vm, 1);
	create_vcpu_index(vm, 2);
	/* Destroying a vCPU frees its index; the VM must not destroy it a second time. */
	assert_int_equal(hyp_vcpu_destroy(v1), 0);
	again = create_vcpu_index(vm, 1);
	assert_int_equal(hyp_vcpu_index(again), 1);
	assert_int_equal(hyp_vcpu_destroy(again), 0);
	assert_int_equal(hyp_vm_destroy(vm), 0);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.live_bytes, 0);
}

static void test_backend_name(void **state)
{
	struct fx *f = *state;

	assert_null(hyp_vm_backend_name(NULL));
	assert_string_equal(hyp_vm_backend_name(f->vm), "mock");
}

/* Guest memory misuse in depth lives in test-memory.c; here only the NULL handles. */
static void test_memory_api_null(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4] = { 1, 2, 3, 4 };
	void *p = PTR_SENTINEL;

	assert_int_equal(hyp_vm_map(NULL, RAM_BASE + RAM_SIZE, f->ram, HYP_PAGE_SIZE, HYP_MEM_RWX),
			 -EINVAL);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + RAM_SIZE, NULL, HYP_PAGE_SIZE, HYP_MEM_RWX),
			 -EINVAL);
	assert_int_equal(hyp_vm_unmap(NULL, RAM_BASE, RAM_SIZE), -EINVAL);
	assert_int_equal(hyp_vm_write_guest(NULL, RAM_BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_read_guest(NULL, RAM_BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(NULL, RAM_BASE, 4, false, &p), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 4, false, NULL), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 0, false, &p), -EINVAL);
	assert_ptr_equal(p, PTR_SENTINEL);
	assert_int_equal(buf[0], 1);
	/* The fixture's RAM is still mapped and untouched. */
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 4, true, &p), 0);
	assert_ptr_equal(p, f->ram);
}

/* ---- Capabilities ------------------------------------------------------------------------ */

static void test_query_cap_null(void **state)
{
	struct fx *f = *state;
	uint64_t v = U64_SENTINEL;

	assert_int_equal(hyp_vm_query_cap(NULL, HYP_CAP_IPA_BITS, &v), -EINVAL);
	assert_int_equal(v, U64_SENTINEL);
	assert_int_equal(hyp_vm_query_cap(f->vm, HYP_CAP_IPA_BITS, NULL), -EINVAL);
}

static void test_query_cap_invalid(void **state)
{
	static const uint32_t bad[] = { 0,    HYP_CAP_COUNT, HYP_CAP_COUNT + 1,
					1000, 0x7fffffff,    0xffffffffu };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = U64_SENTINEL;

		assert_int_equal(hyp_vm_query_cap(f->vm, (enum hyp_cap)bad[i], &v), -EINVAL);
		assert_int_equal(v, U64_SENTINEL);
	}
}

static void test_query_cap_all_mock(void **state)
{
	static const struct {
		enum hyp_cap cap;
		uint64_t value;
	} expect[] = {
		{ HYP_CAP_IRQCHIP_BACKEND, 0 }, /* the mock has no GIC of its own */
		{ HYP_CAP_IRQ_INJECTION, 1 },
		{ HYP_CAP_SYSREG_TRAPS, 1 },
		{ HYP_CAP_SMCCC_HVC_EXITS, 1 },
		{ HYP_CAP_SMCCC_SMC_EXITS, 1 },
		{ HYP_CAP_PSCI_OVERRIDE, 1 },
		{ HYP_CAP_READONLY_MEM, 1 },
		{ HYP_CAP_DIRTY_LOG, 0 },
		{ HYP_CAP_WFX_EXITS, 1 },
		{ HYP_CAP_MAX_VCPUS, HYP_DEFAULT_MAX_VCPUS },
		{ HYP_CAP_IPA_BITS, HYP_DEFAULT_IPA_BITS },
		{ HYP_CAP_NO_SYNDROME_EXITS, 1 },
		{ HYP_CAP_INJECT_EXCEPTIONS, 1u << HYP_INJECT_UNDEF | 1u << HYP_INJECT_DATA_ABORT |
						     1u << HYP_INJECT_PREFETCH_ABORT },
		{ HYP_CAP_CUSTOM_MPIDR, 1 },
	};
	struct fx *f = *state;

	/* The table covers every capability. */
	assert_int_equal(sizeof(expect) / sizeof(expect[0]), HYP_CAP_COUNT - 1);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		uint64_t v = U64_SENTINEL;

		assert_int_equal(hyp_vm_query_cap(f->vm, expect[i].cap, &v), 0);
		assert_int_equal(v, expect[i].value);
	}
}

static void test_query_cap_mock_flags(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .irqchip = HYP_IRQCHIP_NONE };
	struct hyp_vm *vm;
	uint64_t v;

	(void)state;
	vm = create_mock_vm_flags(HYP_MOCK_NO_SYSREG_TRAPS, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_SYSREG_TRAPS, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_READONLY_MEM, &v), 0);
	assert_int_equal(v, 1);
	hyp_vm_destroy(vm);

	vm = create_mock_vm_flags(HYP_MOCK_NO_READONLY_MEM, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_READONLY_MEM, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_SYSREG_TRAPS, &v), 0);
	assert_int_equal(v, 1);
	hyp_vm_destroy(vm);

	vm = create_mock_vm_flags(HYP_MOCK_NO_IRQCHIP, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IRQ_INJECTION, &v), 0);
	assert_int_equal(v, 0);
	hyp_vm_destroy(vm);

	vm = create_vm_with(&cfg);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IRQ_INJECTION, &v), 0);
	assert_int_equal(v, 0);
	hyp_vm_destroy(vm);
}

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

/* ---- Logging ----------------------------------------------------------------------------- */

struct log_capture {
	int count;
	enum hyp_log_priority last_priority;
	char last[256];
};

static void capture_log(void *opaque, enum hyp_log_priority priority, const char *fmt, va_list args)
{
	struct log_capture *c = opaque;

	assert_non_null(c);
	assert_non_null(fmt);
	c->count++;
	c->last_priority = priority;
	vsnprintf(c->last, sizeof(c->last), fmt, args);
}

static void test_log_handler_misuse(void **state)
{
	static const int bad[] = { 0, 1, 2, 5, 8, 100, -1, INT_MIN };
	struct fx *f = *state;
	struct log_capture first = { 0 }, second = { 0 };

	assert_int_equal(hyp_vm_set_log_handler(NULL, capture_log, &first, HYP_LOG_DEBUG), -EINVAL);
	assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &first, HYP_LOG_WARNING), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &second,
							(enum hyp_log_priority)bad[i]),
				 -EINVAL);
	/* The failed calls did not replace the handler or its priority. */
	hyp_vm_log(f->vm, HYP_LOG_WARNING, "still %s", "here");
	hyp_vm_log(f->vm, HYP_LOG_INFO, "filtered");
	assert_int_equal(first.count, 1);
	assert_string_equal(first.last, "still here");
	assert_int_equal(first.last_priority, HYP_LOG_WARNING);
	assert_int_equal(second.count, 0);
}

static void test_log_handler_receives(void **state)
{
	struct fx *f = *state;
	struct log_capture c = { 0 };

	assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &c, HYP_LOG_DEBUG), 0);
	hyp_vm_log(f->vm, HYP_LOG_DEBUG, "debug %d %s", 7, "x");
	assert_int_equal(c.count, 1);
	assert_int_equal(c.last_priority, HYP_LOG_DEBUG);
	assert_string_equal(c.last, "debug 7 x");

	/* Messages less severe than the maximum are dropped. */
	assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &c, HYP_LOG_ERROR), 0);
	hyp_vm_log(f->vm, HYP_LOG_WARNING, "warning");
	hyp_vm_log(f->vm, HYP_LOG_INFO, "info");
	hyp_vm_log(f->vm, HYP_LOG_DEBUG, "debug");
	assert_int_equal(c.count, 1);
	hyp_vm_log(f->vm, HYP_LOG_ERROR, "error %#x", 0x10);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.last_priority, HYP_LOG_ERROR);
	assert_string_equal(c.last, "error 0x10");

	assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &c, HYP_LOG_INFO), 0);
	hyp_vm_log(f->vm, HYP_LOG_INFO, "info");
	hyp_vm_log(f->vm, HYP_LOG_DEBUG, "debug");
	assert_int_equal(c.count, 3);
	assert_string_equal(c.last, "info");

	/* NULL discards; misuse of hyp_vm_log is harmless. */
	assert_int_equal(hyp_vm_set_log_handler(f->vm, NULL, NULL, HYP_LOG_DEBUG), 0);
	hyp_vm_log(f->vm, HYP_LOG_ERROR, "dropped");
	hyp_vm_log(NULL, HYP_LOG_ERROR, "no vm");
	assert_int_equal(c.count, 3);
}

static void test_log_during_creation_library(void **state)
{
	struct log_capture c = { 0 };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .irqchip = HYP_IRQCHIP_BACKEND,
				     .log_fn = capture_log,
				     .log_opaque = &c };

	(void)state;
	/* The mock refuses HYP_IRQCHIP_BACKEND; the library reports the failed creation to the
	 * handler given in the config (log_priority 0 = WARNING lets errors through). */
	expect_create_fails(&cfg, -ENOTSUP);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.last_priority, HYP_LOG_ERROR);
	assert_true(strlen(c.last) > 0);
}

static void test_log_during_creation_backend(void **state)
{
	struct log_capture c = { 0 };
	struct ext_config ec = { .vm_init_result = 0, .log_priority = HYP_LOG_INFO };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend_ops = &ext_ops,
				     .backend_config = &ec,
				     .log_fn = capture_log,
				     .log_opaque = &c,
				     .log_priority = HYP_LOG_INFO };
	struct hyp_vm *vm;

	(void)state;
	vm = create_vm_with(&cfg);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.last_priority, HYP_LOG_INFO);
	assert_string_equal(c.last, "ext vm_init 42");
	hyp_vm_destroy(vm);

	/* Default priority (WARNING) filters the backend's INFO message. */
	c = (struct log_capture){ 0 };
	cfg.log_priority = 0;
	vm = create_vm_with(&cfg);
	assert_int_equal(c.count, 0);
	hyp_vm_destroy(vm);

	/* A failing backend: its own WARNING is filtered at ERROR, the library's ERROR is not. */
	c = (struct log_capture){ 0 };
	ec.log_priority = HYP_LOG_WARNING;
	ec.vm_init_result = -EIO;
	cfg.log_priority = HYP_LOG_ERROR;
	expect_create_fails(&cfg, -EIO);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.last_priority, HYP_LOG_ERROR);
}

/* ---- Backend helpers (libhyp/backend.h) -------------------------------------------------- */

static void test_backend_helpers_null(void **state)
{
	struct fx *f = *state;
	struct hyp_gp_regs regs;

	assert_int_equal(hyp_backend_vcpu_set_gp_regs(NULL, &regs), -EINVAL);
	assert_int_equal(hyp_backend_vcpu_set_gp_regs(f->vcpu, NULL), -EINVAL);
	/* The mock's register file is still in place. */
	assert_int_equal(hyp_vcpu_set_reg(f->vcpu, HYP_REG_X(3), 0x33), 0);
	{
		uint64_t v;

		assert_int_equal(hyp_vcpu_get_reg(f->vcpu, HYP_REG_X(3), &v), 0);
		assert_int_equal(v, 0x33);
	}
	assert_null(hyp_backend_vm_state(NULL));
	assert_null(hyp_backend_vcpu_state(NULL));
	assert_int_equal(hyp_backend_vcpu_mpidr(NULL), 0);
	assert_false(hyp_backend_vcpu_kick_pending(NULL));
	assert_null(hyp_vm_alloc(NULL, 16, 16));
	hyp_vm_free(NULL, NULL, 0);
	hyp_vm_free(f->vm, NULL, 16);
	hyp_vm_log(NULL, HYP_LOG_ERROR, "nothing");
	assert_non_null(hyp_backend_vm_state(f->vm));
	assert_non_null(hyp_backend_vcpu_state(f->vcpu));
}

static void test_backend_vm_alloc(void **state)
{
	struct counting_alloc c = { .fail_after = -1 };
	struct hyp_alloc_ops ops = { .alloc = counting_alloc_fn,
				     .free = counting_free_fn,
				     .opaque = &c };
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock", .alloc = &ops };
	struct hyp_vm *vm;
	long base;
	void *p;

	(void)state;
	vm = create_vm_with(&cfg);
	base = c.live;
	/* @align: a power of two <= 4096 (struct hyp_alloc_ops). */
	assert_null(hyp_vm_alloc(vm, 16, 0));
	assert_null(hyp_vm_alloc(vm, 16, 3));
	assert_null(hyp_vm_alloc(vm, 16, 48));
	assert_null(hyp_vm_alloc(vm, 16, 8192));
	assert_int_equal(c.live, base);
	p = hyp_vm_alloc(vm, 100, 4096);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p & 4095, 0);
	assert_int_equal(c.live, base + 1);
	hyp_vm_free(vm, p, 100);
	assert_int_equal(c.live, base);
	hyp_vm_destroy(vm);
	assert_int_equal(c.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_strerror_documented),
		cmocka_unit_test(test_strerror_unknown),
		cmocka_unit_test(test_host_errors),
		cmocka_unit_test(test_exit_reason_name),
		cmocka_unit_test(test_vm_create_null),
		cmocka_unit_test(test_vm_create_size_too_small),
		cmocka_unit_test(test_vm_create_size_larger_zero_tail),
		cmocka_unit_test(test_vm_create_size_larger_nonzero_tail),
		cmocka_unit_test(test_vm_create_ipa_bits),
		cmocka_unit_test(test_vm_create_max_vcpus),
		cmocka_unit_test(test_vm_create_irqchip),
		cmocka_unit_test(test_vm_create_flags),
		cmocka_unit_test(test_vm_create_log_priority),
		cmocka_unit_test(test_vm_create_alloc_ops),
		cmocka_unit_test(test_vm_create_backend_names),
		cmocka_unit_test(test_vm_create_mock_config),
		cmocka_unit_test(test_vm_create_backend_ops_invalid),
		cmocka_unit_test(test_vm_create_backend_init_error),
		cmocka_unit_test(test_destroy_null),
		cmocka_unit_test(test_vm_destroy_with_vcpus),
		cmocka_unit_test(test_vcpu_destroy_then_vm_destroy),
		cmocka_unit_test_setup_teardown(test_backend_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_api_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_cap_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_cap_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_cap_all_mock, setup, teardown),
		cmocka_unit_test(test_query_cap_mock_flags),
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
		cmocka_unit_test_setup_teardown(test_ppi_bad_intid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgi_bad_intid, setup, teardown),
		cmocka_unit_test(test_irq_irqchip_none),
		cmocka_unit_test(test_irq_mock_no_irqchip),
		cmocka_unit_test_setup_teardown(test_mock_irq_query_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_last_injection_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_mmio_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_smccc_misuse, setup, teardown),
		cmocka_unit_test(test_push_beyond_ipa_space),
		cmocka_unit_test_setup_teardown(test_push_sysreg_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_other_null, setup, teardown),
		cmocka_unit_test(test_script_full),
		cmocka_unit_test(test_mock_functions_non_mock),
		cmocka_unit_test_setup_teardown(test_log_handler_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_handler_receives, setup, teardown),
		cmocka_unit_test(test_log_during_creation_library),
		cmocka_unit_test(test_log_during_creation_backend),
		cmocka_unit_test_setup_teardown(test_backend_helpers_null, setup, teardown),
		cmocka_unit_test(test_backend_vm_alloc),
	};

	return cmocka_run_group_tests_name("api-misuse", tests, NULL, NULL);
}
