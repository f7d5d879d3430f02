/* SPDX-License-Identifier: MIT */
/* Shared fixtures for the public-API unit tests: a mock VM with RAM and one vCPU. */
#ifndef HYP_TEST_HELPERS_H
#define HYP_TEST_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define TEST_RAM_BASE 0x40000000ull
#define TEST_RAM_SIZE (1u << 20)

struct test_vm {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	void *ram;
};

static inline void test_vm_create_with(struct test_vm *t, const struct hyp_vm_config *config)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(hyp_vm_create(config, &t->vm), 0);
	t->ram = aligned_alloc(HYP_PAGE_SIZE, TEST_RAM_SIZE);
	assert_non_null(t->ram);
	memset(t->ram, 0, TEST_RAM_SIZE);
	assert_int_equal(hyp_vm_map(t->vm, TEST_RAM_BASE, t->ram, TEST_RAM_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vcpu_create(t->vm, NULL, &t->vcpu), 0);
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_PC, TEST_RAM_BASE), 0);
}

static inline void test_vm_create(struct test_vm *t)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend = "mock" };

	test_vm_create_with(t, &config);
}

static inline void test_vm_destroy(struct test_vm *t)
{
	assert_int_equal(hyp_vm_destroy(t->vm), 0);
	free(t->ram);
}

static inline uint64_t test_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(hyp_vcpu_get_reg(vcpu, reg, &v), 0);
	return v;
}

/* Run and expect an exit of @reason. */
static inline struct hyp_exit *test_run_expect(struct hyp_vcpu *vcpu, uint32_t reason)
{
	struct hyp_exit *exit;

	assert_int_equal(hyp_vcpu_run(vcpu), 0);
	exit = hyp_vcpu_exit(vcpu);
	assert_non_null(exit);
	assert_string_equal(hyp_exit_reason_name(exit->reason), hyp_exit_reason_name(reason));
	return exit;
}

/* Run until the script is exhausted; the guest made no exit the caller had to see. */
static inline void test_run_to_end(struct hyp_vcpu *vcpu)
{
	assert_int_equal(hyp_vcpu_run(vcpu), -ENODATA);
}

#endif /* HYP_TEST_HELPERS_H */
