/* SPDX-License-Identifier: MIT */
/* The callback convention of the whole API (libhyp/handlers.h): the caller's opaque pointer is
 * the first parameter of every callback. Checked at compile time for every public callback type,
 * and at run time for the four exit callbacks on the mock backend. */
#include "test-helpers.h"

#include <libhyp/el2.h>

/* True when the pointer-to-function type @fn is exactly @ret (*)(void *opaque, rest...). */
#define OPAQUE_FIRST(fn, ret, ...) __builtin_types_compatible_p(fn, ret (*)(void *, __VA_ARGS__))
#define OPAQUE_ONLY(fn, ret) __builtin_types_compatible_p(fn, ret (*)(void *))
#define MEMBER(type, m) __typeof__(((type *)0)->m)

_Static_assert(OPAQUE_FIRST(hyp_mmio_fn, enum hyp_handler_result, struct hyp_vcpu *,
			    struct hyp_mmio_access *),
	       "hyp_mmio_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(hyp_smccc_fn, enum hyp_handler_result, struct hyp_vcpu *,
			    struct hyp_smccc_call *),
	       "hyp_smccc_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(hyp_sysreg_fn, enum hyp_handler_result, struct hyp_vcpu *,
			    struct hyp_sysreg_access *),
	       "hyp_sysreg_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(hyp_exit_fn, enum hyp_handler_result, struct hyp_vcpu *,
			    struct hyp_exit *),
	       "hyp_exit_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(hyp_log_fn, void, enum hyp_log_priority, const char *, va_list),
	       "hyp_log_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(hyp_dev_tx_fn, void, const void *, size_t),
	       "hyp_dev_tx_fn takes opaque first");
_Static_assert(OPAQUE_ONLY(hyp_dev_notify_fn, void), "hyp_dev_notify_fn takes opaque first");
_Static_assert(OPAQUE_ONLY(hyp_dev_clock_fn, uint64_t), "hyp_dev_clock_fn takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_blk_ops, read), int, uint64_t, void *, size_t),
	       "hyp_blk_ops.read takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_blk_ops, write), int, uint64_t, const void *, size_t),
	       "hyp_blk_ops.write takes opaque first");
_Static_assert(OPAQUE_ONLY(MEMBER(struct hyp_blk_ops, flush), int),
	       "hyp_blk_ops.flush takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_alloc_ops, alloc), void *, size_t, size_t),
	       "hyp_alloc_ops.alloc takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_alloc_ops, free), void, void *, size_t),
	       "hyp_alloc_ops.free takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, alloc_pages), void *, unsigned int),
	       "hyp_el2_platform.alloc_pages takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, free_pages), void, void *,
			    unsigned int),
	       "hyp_el2_platform.free_pages takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, virt_to_phys), hyp_pa_t, void *),
	       "hyp_el2_platform.virt_to_phys takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, phys_to_virt), void *, hyp_pa_t),
	       "hyp_el2_platform.phys_to_virt takes opaque first");
_Static_assert(OPAQUE_ONLY(MEMBER(struct hyp_el2_platform, this_cpu), struct hyp_el2_cpu *),
	       "hyp_el2_platform.this_cpu takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, kick_cpu), void, struct hyp_el2_cpu *),
	       "hyp_el2_platform.kick_cpu takes opaque first");
_Static_assert(OPAQUE_ONLY(MEMBER(struct hyp_el2_platform, handle_irq), void),
	       "hyp_el2_platform.handle_irq takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, set_ppi_masked), void, uint32_t, bool),
	       "hyp_el2_platform.set_ppi_masked takes opaque first");
_Static_assert(OPAQUE_FIRST(MEMBER(struct hyp_el2_platform, set_wakeup), void, uint64_t),
	       "hyp_el2_platform.set_wakeup takes opaque first");

#define VENDOR_FID 0xc6000020u
#define DEV_BASE 0x09000000ull
#define SYSREG_ID HYP_SYSREG(3, 0, 15, 2, 1)

/* What each callback saw, in the positions the convention gives them. */
struct seen {
	void *opaque;
	struct hyp_vcpu *vcpu;
	unsigned calls;
};

static enum hyp_handler_result on_mmio(void *opaque, struct hyp_vcpu *vcpu,
				       struct hyp_mmio_access *access)
{
	struct seen *s = opaque;

	s->opaque = opaque;
	s->vcpu = vcpu;
	s->calls++;
	if (!access->is_write)
		access->data = 0;
	return HYP_HANDLED;
}

static enum hyp_handler_result on_smccc(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_smccc_call *call)
{
	struct seen *s = opaque;

	s->opaque = opaque;
	s->vcpu = vcpu;
	s->calls++;
	call->ret[0] = 0;
	return HYP_HANDLED;
}

static enum hyp_handler_result on_sysreg(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_sysreg_access *access)
{
	struct seen *s = opaque;

	s->opaque = opaque;
	s->vcpu = vcpu;
	s->calls++;
	if (!access->is_write)
		access->value = 0;
	return HYP_HANDLED;
}

static enum hyp_handler_result on_wfx(void *opaque, struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct seen *s = opaque;

	s->opaque = opaque;
	s->vcpu = vcpu;
	s->calls++;
	assert_int_equal(exit->reason, HYP_EXIT_WFX);
	return HYP_HANDLED;
}

/* Each kind of exit callback gets its own registration pointer first and the vCPU second. */
static void test_exit_callbacks_get_opaque_first(void **state)
{
	static const uint64_t args[7];
	struct seen mmio = { 0 }, smccc = { 0 }, sysreg = { 0 }, wfx = { 0 };
	struct test_vm t;
	uint64_t traps = 0;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, DEV_BASE, 0x1000, on_mmio, &mmio), 0);
	assert_int_equal(hyp_vm_add_smccc_handler(t.vm, HYP_CONDUIT_HVC, VENDOR_FID, VENDOR_FID,
						  on_smccc, &smccc),
			 0);
	assert_int_equal(hyp_vm_query_cap(t.vm, HYP_CAP_SYSREG_TRAPS, &traps), 0);
	assert_int_equal(traps, 1);
	assert_int_equal(hyp_vm_add_sysreg_handler(t.vm, SYSREG_ID, on_sysreg, &sysreg), 0);
	assert_int_equal(hyp_vm_set_exit_handler(t.vm, HYP_EXIT_WFX, on_wfx, &wfx), 0);

	assert_int_equal(hyp_mock_push_mmio(t.vcpu, DEV_BASE + 8, 4, 1, 0), 0);
	assert_int_equal(hyp_mock_push_smccc(t.vcpu, HYP_CONDUIT_HVC, 0, VENDOR_FID, args), 0);
	assert_int_equal(hyp_mock_push_sysreg(t.vcpu, SYSREG_ID, false, 2), 0);
	assert_int_equal(hyp_mock_push_wfx(t.vcpu, false), 0);
	test_run_to_end(t.vcpu);

	assert_int_equal(mmio.calls, 1);
	assert_ptr_equal(mmio.opaque, &mmio);
	assert_ptr_equal(mmio.vcpu, t.vcpu);
	assert_int_equal(smccc.calls, 1);
	assert_ptr_equal(smccc.opaque, &smccc);
	assert_ptr_equal(smccc.vcpu, t.vcpu);
	assert_int_equal(sysreg.calls, 1);
	assert_ptr_equal(sysreg.opaque, &sysreg);
	assert_ptr_equal(sysreg.vcpu, t.vcpu);
	assert_int_equal(wfx.calls, 1);
	assert_ptr_equal(wfx.opaque, &wfx);
	assert_ptr_equal(wfx.vcpu, t.vcpu);
	test_vm_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_callbacks_get_opaque_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
