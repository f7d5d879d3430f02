/* SPDX-License-Identifier: MIT */
/*
 * The smallest backend the unit tests build on, written against <libhyp/backend.h> only, as an
 * out-of-tree backend would be: vCPUs keep their registers in memory (so the register API works),
 * entering the guest reports a pending kick and otherwise -ENODATA (there is no guest). A test
 * starts its table with TEST_STUB_BACKEND("name") and adds what it studies: a vm_init that fails
 * or logs, state of its own, an inject_irq that counts... (test-external-backend.c has the full
 * scripted backend.)
 */
#ifndef HYP_TEST_STUB_BACKEND_H
#define HYP_TEST_STUB_BACKEND_H

#include <errno.h>

#include <libhyp/backend.h>

struct test_stub_vcpu {
	struct hyp_gp_regs regs;
};

static inline int test_stub_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	(void)vm;
	(void)config;
	return 0;
}

static inline int test_stub_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct test_stub_vcpu *sv = hyp_backend_vcpu_state(vcpu);

	sv->regs.pstate = HYP_PSTATE_EL1H_DAIF;
	return hyp_backend_vcpu_set_gp_regs(vcpu, &sv->regs);
}

static inline int test_stub_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	if (hyp_backend_vcpu_kick_pending(vcpu)) {
		exit->reason = HYP_EXIT_KICKED;
		return 0;
	}
	return -ENODATA;
}

/* The members every stub table has; the table adds .vm_init (test_stub_vm_init or its own). */
#define TEST_STUB_BACKEND(backend_name)                                                            \
	.version = HYP_BACKEND_OPS_VERSION, .size = sizeof(struct hyp_backend_ops),                \
	.name = (backend_name), .vcpu_state_size = sizeof(struct test_stub_vcpu),                  \
	.vcpu_init = test_stub_vcpu_init, .vcpu_enter = test_stub_vcpu_enter

#endif /* HYP_TEST_STUB_BACKEND_H */
