/* SPDX-License-Identifier: MIT */
/*
 * API misuse (see test-api-misuse.h): the VM: version and error strings, hyp_vm_create, destroy,
 * capabilities, logging and the backend helpers.
 */
#define _POSIX_C_SOURCE 200809L

#include "test-api-misuse.h"

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
		/* The first version of the struct ended with gicr_base. */
		offsetof(struct hyp_vm_config, gicr_base) + sizeof(hyp_ipa_t) - 1,
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
		{ HYP_CAP_DIRTY_LOG, 1 },
		{ HYP_CAP_WFX_EXITS, 1 },
		{ HYP_CAP_MAX_VCPUS, HYP_DEFAULT_MAX_VCPUS },
		{ HYP_CAP_IPA_BITS, HYP_DEFAULT_IPA_BITS },
		{ HYP_CAP_NO_SYNDROME_EXITS, 1 },
		{ HYP_CAP_INJECT_EXCEPTIONS, 1u << HYP_INJECT_UNDEF | 1u << HYP_INJECT_DATA_ABORT |
						     1u << HYP_INJECT_PREFETCH_ABORT },
		{ HYP_CAP_CUSTOM_MPIDR, 1 },
		{ HYP_CAP_DIRTY_RING, HYP_DIRTY_RING_MAX_ENTRIES }, /* the library's rings */
		{ HYP_CAP_CPU_FEATURES, 0 },			    /* nothing to choose */
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

/* hyp_vcpu_log_state(): a backend without a report (the mock) says so, once, as a warning;
 * NULL does nothing. (The el2 backend's report is checked by the el2 suite's watchdog tests.) */
static void test_vcpu_log_state(void **state)
{
	struct fx *f = *state;
	struct log_capture c = { 0 };

	hyp_vcpu_log_state(NULL);
	assert_int_equal(hyp_vm_set_log_handler(f->vm, capture_log, &c, HYP_LOG_WARNING), 0);
	hyp_vcpu_log_state(f->vcpu);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.last_priority, HYP_LOG_WARNING);
	assert_string_equal(c.last, "vCPU 0: the mock backend has no state report");
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
		cmocka_unit_test_setup_teardown(test_log_handler_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_handler_receives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_log_state, setup, teardown),
		cmocka_unit_test(test_log_during_creation_library),
		cmocka_unit_test(test_log_during_creation_backend),
		cmocka_unit_test_setup_teardown(test_backend_helpers_null, setup, teardown),
		cmocka_unit_test(test_backend_vm_alloc),
	};

	return cmocka_run_group_tests_name("api-vm", tests, NULL, NULL);
}
