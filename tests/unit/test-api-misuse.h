/* SPDX-License-Identifier: MIT */
/*
 * Shared by the API-misuse suites (test-api-*.c): every public entry point given NULL handles, NULL
 * out-parameters, bad sizes, out-of-range fields, duplicate registrations and wrong keys. Each
 * check asserts the exact errno the header documents, and that out-parameters are untouched on
 * failure (they are pre-filled with a sentinel). Only the public headers are used, and only the
 * mock backend plus a minimal external backend (test-stub-backend.h) that gives VMs and vCPUs
 * that are not the mock's.
 */
#ifndef HYP_TEST_API_MISUSE_H
#define HYP_TEST_API_MISUSE_H

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

static inline struct hyp_vm *create_vm_with(const struct hyp_vm_config *cfg)
{
	struct hyp_vm *vm = PTR_SENTINEL;

	assert_int_equal(hyp_vm_create(cfg, &vm), 0);
	assert_non_null(vm);
	assert_ptr_not_equal(vm, PTR_SENTINEL);
	return vm;
}

static inline struct hyp_vm *create_mock_vm(void)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	return create_vm_with(&cfg);
}

static inline struct hyp_vm *create_mock_vm_flags(uint32_t mock_flags, uint32_t max_steps)
{
	struct hyp_mock_config mcfg = { .size = sizeof(mcfg),
					.flags = mock_flags,
					.max_script_steps = max_steps };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .backend_config = &mcfg };

	return create_vm_with(&cfg);
}

static inline struct hyp_vcpu *create_vcpu_index(struct hyp_vm *vm, uint32_t index)
{
	struct hyp_vcpu_config vcfg = { .size = sizeof(vcfg), .index = index };
	struct hyp_vcpu *vcpu = PTR_SENTINEL;

	assert_int_equal(hyp_vcpu_create(vm, &vcfg, &vcpu), 0);
	assert_non_null(vcpu);
	assert_ptr_not_equal(vcpu, PTR_SENTINEL);
	return vcpu;
}

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
	struct fx *f = *state;

	hyp_vm_destroy(f->vm);
	free(f->ram);
	free(f);
	return 0;
}

/* Callbacks that must never run in the tests that only register them. */
static inline enum hyp_handler_result never_mmio(void *opaque, struct hyp_vcpu *vcpu,
						 struct hyp_mmio_access *access)
{
	(void)vcpu;
	(void)access;
	(void)opaque;
	fail_msg("MMIO callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static inline enum hyp_handler_result never_smccc(void *opaque, struct hyp_vcpu *vcpu,
						  struct hyp_smccc_call *call)
{
	(void)vcpu;
	(void)call;
	(void)opaque;
	fail_msg("SMCCC callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static inline enum hyp_handler_result never_sysreg(void *opaque, struct hyp_vcpu *vcpu,
						   struct hyp_sysreg_access *access)
{
	(void)vcpu;
	(void)access;
	(void)opaque;
	fail_msg("sysreg callback called unexpectedly");
	return HYP_NOT_HANDLED;
}

static inline enum hyp_handler_result never_exit(void *opaque, struct hyp_vcpu *vcpu,
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

static inline int ext_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
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

#endif /* HYP_TEST_API_MISUSE_H */
