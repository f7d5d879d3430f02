/* SPDX-License-Identifier: MIT */
/*
 * A backend written outside the library, through <libhyp/backend.h> only (this file sees no
 * lib/ header). It proves the pluggable interface: an older, smaller ops table works and its
 * missing methods answer -ENOTSUP; raw-syndrome and backend-decoded exits both reach the
 * callbacks; completion, kicks, private state and errors behave as documented.
 */
#include <libhyp/backend.h>

#include "test-helpers.h"

struct toy_exit {
	bool decoded;
	struct hyp_exit exit; /* decoded exits */
	uint64_t esr, far, hpfar;
};

struct toy_vm {
	unsigned init_calls;
	unsigned map_calls;
	unsigned unmap_calls;
	uint32_t last_slot;
	int fail_vm_init;
	char padding[4000]; /* must be fully writable */
};

struct toy_vcpu {
	struct hyp_gp_regs regs;
	struct toy_exit script[8];
	unsigned next, count;
	unsigned completions;
	bool last_advance;
	uint64_t last_completed_data;
	unsigned kicks;
	bool register_gp;
	/* Core registers kept by the backend itself (no register file registered), and what the
	 * library asked for them. */
	uint64_t core[HYP_REG_COUNT];
	unsigned get_reg_calls, set_reg_calls, get_regs_calls, set_regs_calls;
	enum hyp_reg last_batch[HYP_REG_COUNT];
	unsigned last_batch_count;
	int fail_batch;
};

static int toy_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct toy_vm *toy = hyp_backend_vm_state(vm);
	const int *fail = config->backend_config;

	memset(toy->padding, 0xa5, sizeof(toy->padding));
	toy->init_calls++;
	if (fail && *fail) {
		hyp_vm_log(vm, HYP_LOG_ERROR, "toy: refusing to create a VM (%d)", *fail);
		return *fail;
	}
	return 0;
}

static int toy_mem_map(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	struct toy_vm *toy = hyp_backend_vm_state(vm);

	toy->map_calls++;
	toy->last_slot = region->slot;
	return 0;
}

static int toy_mem_unmap(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	struct toy_vm *toy = hyp_backend_vm_state(vm);

	(void)region;
	toy->unmap_calls++;
	return 0;
}

static int toy_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->regs.pstate = HYP_PSTATE_EL1H_DAIF;
	tv->register_gp = true;
	return hyp_backend_vcpu_set_gp_regs(vcpu, &tv->regs);
}

static int toy_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);
	struct toy_exit *next;

	if (hyp_backend_vcpu_kick_pending(vcpu)) {
		exit->reason = HYP_EXIT_KICKED;
		return 0;
	}
	if (tv->next == tv->count)
		return -ENODATA;
	next = &tv->script[tv->next++];
	if (next->decoded) {
		uint32_t index = exit->vcpu_index;

		*exit = next->exit;
		exit->vcpu_index = index;
		return 0;
	}
	exit->raw.esr = next->esr;
	exit->raw.far = next->far;
	exit->raw.hpfar = next->hpfar;
	exit->raw.valid = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
	return 0;
}

static int toy_vcpu_complete(struct hyp_vcpu *vcpu, const struct hyp_exit *exit, bool advance_pc)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->completions++;
	tv->last_advance = advance_pc;
	tv->last_completed_data = exit->mmio.data;
	return 0;
}

/*
 * A table as a backend compiled against an older libhyp would have it: version 1, and a size that
 * stops before vcpu_kick. Everything after is "missing" even though the struct has room.
 */
static const struct hyp_backend_ops toy_ops = {
	.version = 1,
	.size = offsetof(struct hyp_backend_ops, vcpu_kick),
	.name = "toy",
	.vm_state_size = sizeof(struct toy_vm),
	.vcpu_state_size = sizeof(struct toy_vcpu),
	.vm_init = toy_vm_init,
	.mem_map = toy_mem_map,
	.mem_unmap = toy_mem_unmap,
	.vcpu_init = toy_vcpu_init,
	.vcpu_enter = toy_vcpu_enter,
	.vcpu_complete = toy_vcpu_complete,
};

/* The same backend, with methods placed beyond its declared size: they must be ignored. */
static int never_called_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu,
				   enum hyp_backend_irq kind, uint32_t intid, bool level)
{
	(void)vm;
	(void)vcpu;
	(void)kind;
	(void)intid;
	(void)level;
	fail_msg("a method past the table's size was called");
	return 0;
}

static struct hyp_vm *toy_create(const void *backend_config)
{
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend_ops = &toy_ops,
					.backend_config = backend_config };
	struct hyp_vm *vm = NULL;

	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_string_equal(hyp_vm_backend_name(vm), "toy");
	return vm;
}

static void test_private_state_and_memory_slots(void **state)
{
	static char ram[2 * HYP_PAGE_SIZE] __attribute__((aligned(HYP_PAGE_SIZE)));
	struct hyp_vm *vm = toy_create(NULL);
	struct toy_vm *toy = hyp_backend_vm_state(vm);

	(void)state;
	assert_int_equal(toy->init_calls, 1);
	assert_int_equal((unsigned char)toy->padding[sizeof(toy->padding) - 1], 0xa5);
	assert_int_equal(hyp_vm_map(vm, 0x1000, ram, HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(toy->last_slot, 0);
	assert_int_equal(hyp_vm_map(vm, 0x3000, ram + HYP_PAGE_SIZE, HYP_PAGE_SIZE, HYP_MEM_RWX),
			 0);
	assert_int_equal(toy->last_slot, 1);
	assert_int_equal(hyp_vm_unmap(vm, 0x1000, HYP_PAGE_SIZE), 0);
	/* Slot 0 is free again and is reused. */
	assert_int_equal(hyp_vm_map(vm, 0x5000, ram, HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(toy->last_slot, 0);
	assert_int_equal(toy->map_calls, 3);
	assert_int_equal(toy->unmap_calls, 1);
	/* No vm_query_cap: read-only memory is not claimed, so it is refused. */
	assert_int_equal(hyp_vm_map(vm, 0x9000, ram, HYP_PAGE_SIZE, HYP_MEM_RO), -ENOTSUP);
	hyp_vm_destroy(vm);
}

static void test_missing_methods_are_enotsup(void **state)
{
	struct hyp_backend_ops ops = toy_ops;
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ops };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;
	uint64_t value = 99;

	(void)state;
	ops.inject_irq = never_called_inject_irq;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vm_set_spi(vm, 40, true), -ENOTSUP);
	assert_int_equal(hyp_vcpu_set_ppi(vcpu, 27, true), -ENOTSUP);
	assert_int_equal(hyp_vcpu_raise_sgi(vcpu, 1), -ENOTSUP);
	assert_int_equal(hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &value), -ENOTSUP);
	assert_int_equal(value, 99);
	assert_int_equal(hyp_vcpu_set_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, 0), -ENOTSUP);
	assert_int_equal(hyp_vcpu_get_reg(vcpu, HYP_REG_SP_EL1, &value), -ENOTSUP);
	assert_int_equal(hyp_vcpu_inject_exception(vcpu, HYP_INJECT_UNDEF, 0), -ENOTSUP);
	/* Capabilities the backend does not answer are absent; the core's own are reported. */
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_SYSREG_TRAPS, &value), 0);
	assert_int_equal(value, 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_MAX_VCPUS, &value), 0);
	assert_int_equal(value, HYP_DEFAULT_MAX_VCPUS);
	assert_int_equal(hyp_vm_add_sysreg_handler(
				 vm, HYP_SYSREG_SCTLR_EL1,
				 (hyp_sysreg_fn)(void (*)(void))never_called_inject_irq, NULL),
			 -ENOTSUP);
	/* Where the core provides a capability itself, it says so. */
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_CUSTOM_MPIDR, &value), 0);
	assert_int_equal(value, 1);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_INJECT_EXCEPTIONS, &value), 0);
	assert_int_equal(value, 0); /* no sysreg access: the core cannot build an exception */
	/* Core registers still work through the registered register file. */
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_X(3), 33), 0);
	assert_int_equal(test_reg(vcpu, HYP_REG_X(3)), 33);
	hyp_vm_destroy(vm);
}

struct counting_device {
	unsigned calls;
};

static enum hyp_handler_result count_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *a)
{
	struct counting_device *dev = opaque;

	(void)vcpu;
	dev->calls++;
	if (!a->is_write)
		a->data = 0x1234;
	return HYP_HANDLED;
}

static void test_raw_and_decoded_exits(void **state)
{
	struct counting_device dev = { 0 };
	struct hyp_vm *vm = toy_create(NULL);
	struct hyp_vcpu *vcpu;
	struct toy_vcpu *tv;
	struct hyp_exit *exit;

	(void)state;
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0x9000000, 0x1000, count_mmio, &dev), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	tv = hyp_backend_vcpu_state(vcpu);
	/* 1: raw syndrome: LDR W5, [x] at IPA 0x9000010 (EC 0x24, ISV, SAS=2, SRT=5, DFSC
	 * translation fault level 3). The core decodes and completes it on our registers. */
	tv->script[0] = (struct toy_exit){ .esr = (0x24ull << 26) | (1ull << 25) | (1ull << 24) |
						  (2ull << 22) | (5ull << 16) | 0x07,
					   .far = 0x10,
					   .hpfar = (0x9000010ull >> 12) << 4 };
	/* 2: decoded by the backend (as KVM does): a read the core dispatches, then hands back
	 * to vcpu_complete. */
	tv->script[1].decoded = true;
	tv->script[1].exit.reason = HYP_EXIT_MMIO;
	tv->script[1].exit.mmio = (struct hyp_mmio_access){ .ipa = 0x9000020, .len = 4 };
	/* 3: decoded, unclaimed: returned to the caller. */
	tv->script[2].decoded = true;
	tv->script[2].exit.reason = HYP_EXIT_MMIO;
	tv->script[2].exit.mmio = (struct hyp_mmio_access){ .ipa = 0x7000000, .len = 8 };
	tv->count = 3;

	exit = test_run_expect(vcpu, HYP_EXIT_MMIO);
	assert_int_equal(dev.calls, 2);
	assert_int_equal(tv->regs.x[5], 0x1234);
	assert_int_equal(tv->regs.pc, 4);
	assert_int_equal(tv->completions, 1);
	assert_int_equal(tv->last_completed_data, 0x1234);
	assert_true(tv->last_advance);
	assert_int_equal(exit->mmio.ipa, 0x7000000);
	exit->mmio.data = 0x55;
	/* The caller moved the PC: the backend is told not to advance. */
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_PC, 0x100), 0);
	assert_int_equal(hyp_vcpu_run(vcpu), -ENODATA);
	assert_int_equal(tv->completions, 2);
	assert_int_equal(tv->last_completed_data, 0x55);
	assert_false(tv->last_advance);
	hyp_vm_destroy(vm);
}

static void test_kick_without_kick_method(void **state)
{
	struct hyp_vm *vm = toy_create(NULL);
	struct hyp_vcpu *vcpu;
	struct toy_vcpu *tv;

	(void)state;
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	tv = hyp_backend_vcpu_state(vcpu);
	tv->count = 1; /* one EC 0 exit */
	assert_int_equal(hyp_vcpu_kick(vcpu), 0);
	assert_true(hyp_backend_vcpu_kick_pending(vcpu));
	test_run_expect(vcpu, HYP_EXIT_KICKED);
	assert_false(hyp_backend_vcpu_kick_pending(vcpu));
	assert_int_equal(tv->next, 0);
	test_run_expect(vcpu, HYP_EXIT_EXCEPTION);
	hyp_vm_destroy(vm);
}

static void test_backend_system_event_stops_every_vcpu(void **state)
{
	struct hyp_vcpu_config second = { .size = sizeof(second),
					  .index = 1,
					  .power = HYP_VCPU_POWER_ON };
	struct hyp_vm *vm = toy_create(NULL);
	struct hyp_vcpu *vcpu0, *vcpu1;
	struct toy_vcpu *tv;
	struct hyp_exit *exit;

	(void)state;
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu0), 0);
	assert_int_equal(hyp_vcpu_create(vm, &second, &vcpu1), 0);
	/* A backend with its own PSCI reports SYSTEM_OFF on the calling vCPU only... */
	tv = hyp_backend_vcpu_state(vcpu0);
	tv->script[0].decoded = true;
	tv->script[0].exit.reason = HYP_EXIT_SYSTEM_EVENT;
	tv->script[0].exit.system_event.type = HYP_SYSTEM_EVENT_OFF;
	tv->count = 1;
	((struct toy_vcpu *)hyp_backend_vcpu_state(vcpu1))->count = 1;
	exit = test_run_expect(vcpu0, HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(exit->system_event.type, HYP_SYSTEM_EVENT_OFF);
	/* ...and the library stops the others without entering their guest code. */
	exit = test_run_expect(vcpu1, HYP_EXIT_SYSTEM_EVENT);
	assert_int_equal(exit->system_event.type, HYP_SYSTEM_EVENT_OFF);
	assert_int_equal(((struct toy_vcpu *)hyp_backend_vcpu_state(vcpu1))->next, 0);
	hyp_vm_destroy(vm);
}

struct log_capture {
	unsigned messages;
	char last[256];
	enum hyp_log_priority priority;
};

static void capture_log(void *opaque, enum hyp_log_priority priority, const char *fmt, va_list args)
{
	struct log_capture *cap = opaque;

	cap->messages++;
	cap->priority = priority;
	vsnprintf(cap->last, sizeof(cap->last), fmt, args);
}

static void test_backend_errors_propagate_and_log(void **state)
{
	struct log_capture cap = { 0 };
	int fail = -EIO;
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend_ops = &toy_ops,
					.backend_config = &fail,
					.log_fn = capture_log,
					.log_opaque = &cap };
	struct hyp_vm *vm = (struct hyp_vm *)0x1;

	(void)state;
	assert_int_equal(hyp_vm_create(&config, &vm), -EIO);
	assert_ptr_equal(vm, (struct hyp_vm *)0x1);
	/* The backend's own message and the core's summary, both through the handler. */
	assert_int_equal(cap.messages, 2);
	assert_int_equal(cap.priority, HYP_LOG_ERROR);
	assert_non_null(strstr(cap.last, "toy"));
	/* Below the threshold nothing is formatted. */
	config.log_priority = HYP_LOG_ERROR;
	fail = -ENOMEM;
	assert_int_equal(hyp_vm_create(&config, &vm), -ENOMEM);
	assert_int_equal(cap.messages, 4);
}

static void test_invalid_ops_tables(void **state)
{
	struct hyp_backend_ops ops = toy_ops;
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ops };
	struct hyp_vm *vm = NULL;

	(void)state;
	ops.version = 0;
	assert_int_equal(hyp_vm_create(&config, &vm), -EINVAL);
	ops = toy_ops;
	ops.vcpu_enter = NULL;
	assert_int_equal(hyp_vm_create(&config, &vm), -EINVAL);
	ops = toy_ops;
	ops.name = NULL;
	assert_int_equal(hyp_vm_create(&config, &vm), -EINVAL);
	ops = toy_ops;
	ops.size = 8; /* too small to hold even the required methods */
	assert_int_equal(hyp_vm_create(&config, &vm), -EINVAL);
	assert_null(vm);
}

static int bad_reason_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	(void)vcpu;
	exit->reason = 1000;
	return 0;
}

static int positive_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	(void)vcpu;
	(void)exit;
	return 1; /* the value the library's own el2 fast path uses internally */
}

static int no_regs_vcpu_init(struct hyp_vcpu *vcpu)
{
	(void)vcpu;
	return 0;
}

static void test_protocol_violations(void **state)
{
	struct hyp_backend_ops ops = toy_ops;
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ops };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;

	(void)state;
	/* A backend reporting a reason the library does not know. */
	ops.vcpu_enter = bad_reason_enter;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vcpu_run(vcpu), -EPROTO);
	hyp_vm_destroy(vm);
	/* A positive return from vcpu_enter: not success, not an exit. */
	ops = toy_ops;
	ops.vcpu_enter = positive_enter;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vcpu_run(vcpu), -EPROTO);
	hyp_vm_destroy(vm);
	/* A raw exit from a backend that never registered its register file. */
	ops = toy_ops;
	ops.vcpu_init = no_regs_vcpu_init;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	{
		struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

		tv->count = 1;
	}
	assert_int_equal(hyp_vcpu_run(vcpu), -EPROTO);
	hyp_vm_destroy(vm);
}

static int toy_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->get_reg_calls++;
	*value = tv->core[reg];
	return 0;
}

static int toy_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->set_reg_calls++;
	tv->core[reg] = value;
	return 0;
}

static void record_batch(struct toy_vcpu *tv, const enum hyp_reg *regs, unsigned int count)
{
	assert_true(count > 0 && count <= HYP_REG_COUNT);
	memcpy(tv->last_batch, regs, count * sizeof(*regs));
	tv->last_batch_count = count;
	/* The contract: distinct, valid registers in ascending order. */
	for (unsigned int i = 0; i < count; i++) {
		assert_true((unsigned)regs[i] < HYP_REG_COUNT);
		assert_true(i == 0 || regs[i] > regs[i - 1]);
	}
}

static int toy_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			unsigned int count)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->get_regs_calls++;
	record_batch(tv, regs, count);
	for (unsigned int i = 0; i < count; i++)
		values[i] = tv->core[regs[i]];
	return tv->fail_batch;
}

static int toy_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
			unsigned int count)
{
	struct toy_vcpu *tv = hyp_backend_vcpu_state(vcpu);

	tv->set_regs_calls++;
	record_batch(tv, regs, count);
	if (tv->fail_batch)
		return tv->fail_batch;
	for (unsigned int i = 0; i < count; i++)
		tv->core[regs[i]] = values[i];
	return 0;
}

static int never_called_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			     unsigned int count)
{
	(void)vcpu;
	(void)regs;
	(void)values;
	(void)count;
	fail_msg("a batched register method past the table's size was called");
	return 0;
}

static int never_called_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs,
				 const uint64_t *values, unsigned int count)
{
	return never_called_regs(vcpu, regs, (uint64_t *)(uintptr_t)values, count);
}

/*
 * Dirty rings on an external backend: one that cannot say how large a ring it offers gets none
 * (-ENOTSUP, the VM torn down through its vm_destroy), one that answers HYP_CAP_DIRTY_RING without
 * a dirty_ring_harvest method gets the library's rings up to that size.
 */
static unsigned ring_vm_destroys;

static int ring_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	(void)vm;
	if (cap != HYP_CAP_DIRTY_RING)
		return -ENOTSUP;
	*value = 512;
	return 0;
}

static void ring_vm_destroy(struct hyp_vm *vm)
{
	(void)vm;
	ring_vm_destroys++;
}

static void test_dirty_ring_on_external_backends(void **state)
{
	struct hyp_backend_ops ops = toy_ops;
	struct hyp_vm_config config = { .size = sizeof(config), .dirty_ring_entries = 256 };
	struct hyp_dirty_ring_stats s = { .size = sizeof(s) };
	struct hyp_vm *vm = NULL;
	struct hyp_vcpu *vcpu = NULL;
	hyp_ipa_t pages[4];
	uint64_t cap = 0;

	(void)state;
	/* toy_ops: no vm_query_cap (an old table), so no ring. */
	config.backend_ops = &toy_ops;
	assert_int_equal(hyp_vm_create(&config, &vm), -ENOTSUP);
	assert_null(vm);

	ops.version = HYP_BACKEND_OPS_VERSION;
	ops.size = sizeof(ops);
	ops.vm_query_cap = ring_query_cap;
	ops.vm_destroy = ring_vm_destroy;
	config.backend_ops = &ops;
	config.dirty_ring_entries = 1024;
	ring_vm_destroys = 0;
	assert_int_equal(hyp_vm_create(&config, &vm), -ENOTSUP);
	assert_null(vm);
	assert_int_equal(ring_vm_destroys, 1); /* what vm_init built is released */

	config.dirty_ring_entries = 512;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_DIRTY_RING, &cap), 0);
	assert_int_equal(cap, 512);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vm_dirty_ring_harvest(vm, pages, 4), 0);
	assert_int_equal(hyp_vm_dirty_ring_stats(vm, &s), 0);
	assert_int_equal(s.entries, 512);
	assert_int_equal(hyp_vm_destroy(vm), 0);
	assert_int_equal(ring_vm_destroys, 2);
}

/* A backend that keeps every core register itself, as kvm does. */
static struct hyp_backend_ops toy_reg_ops(void)
{
	struct hyp_backend_ops ops = toy_ops;

	ops.version = HYP_BACKEND_OPS_VERSION;
	ops.size = sizeof(ops);
	ops.vcpu_init = no_regs_vcpu_init;
	ops.vcpu_get_reg = toy_get_reg;
	ops.vcpu_set_reg = toy_set_reg;
	ops.vcpu_get_regs = toy_get_regs;
	ops.vcpu_set_regs = toy_set_regs;
	return ops;
}

/* The loader's entry state (X0-X3, PSTATE, PC): one batched call where the backend has the
 * method, one call per register through an older table that ends before it. */
static void test_batched_regs_reach_the_backend_once(void **state)
{
	static const enum hyp_reg boot_regs[] = { HYP_REG_X(0), HYP_REG_X(1), HYP_REG_X(2),
						  HYP_REG_X(3), HYP_REG_PC,   HYP_REG_PSTATE };
	struct hyp_boot_layout layout = { .size = sizeof(layout),
					  .entry = 0x40080000,
					  .dtb_addr = 0x48000000 };
	struct hyp_backend_ops ops = toy_reg_ops();
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ops };
	uint64_t values[4] = { 0 };
	struct toy_vcpu *tv;
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;

	(void)state;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	tv = hyp_backend_vcpu_state(vcpu);
	tv->core[HYP_REG_X(2)] = 0xdead;
	assert_int_equal(hyp_boot_setup_vcpu(vcpu, &layout), 0);
	assert_int_equal(tv->set_regs_calls, 1);
	assert_int_equal(tv->set_reg_calls, 0);
	assert_int_equal(tv->last_batch_count, 6);
	assert_memory_equal(tv->last_batch, boot_regs, sizeof(boot_regs));
	assert_int_equal(tv->core[HYP_REG_X(0)], 0x48000000);
	assert_int_equal(tv->core[HYP_REG_X(2)], 0);
	assert_int_equal(tv->core[HYP_REG_PC], 0x40080000);
	assert_int_equal(tv->core[HYP_REG_PSTATE], HYP_PSTATE_EL1H_DAIF);
	assert_int_equal(hyp_vcpu_get_regs(vcpu, boot_regs + 2, values, 4), 0);
	assert_int_equal(tv->get_regs_calls, 1);
	assert_int_equal(tv->get_reg_calls, 0);
	assert_int_equal(values[2], 0x40080000);
	hyp_vm_destroy(vm);

	/* Version 2: the batched methods are past the table's end; the core loops instead. */
	ops = toy_reg_ops();
	ops.version = 2;
	ops.size = offsetof(struct hyp_backend_ops, vcpu_get_regs);
	ops.vcpu_get_regs = never_called_regs;
	ops.vcpu_set_regs = never_called_set_regs;
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	tv = hyp_backend_vcpu_state(vcpu);
	assert_int_equal(hyp_boot_setup_vcpu(vcpu, &layout), 0);
	assert_int_equal(tv->set_reg_calls, 6);
	assert_int_equal(tv->core[HYP_REG_X(0)], 0x48000000);
	assert_int_equal(tv->core[HYP_REG_PC], 0x40080000);
	memset(values, 0, sizeof(values));
	assert_int_equal(hyp_vcpu_get_regs(vcpu, boot_regs + 2, values, 4), 0);
	assert_int_equal(tv->get_reg_calls, 4);
	assert_int_equal(values[2], 0x40080000);
	hyp_vm_destroy(vm);
}

/* When the backend's part of a batch fails, the part the core holds is not written either, and a
 * failed read leaves the caller's array alone. */
static void test_batched_regs_backend_failure(void **state)
{
	static const enum hyp_reg regs[] = { HYP_REG_X(1), HYP_REG_SP_EL1 };
	const uint64_t values[] = { 0x1111, 0x2222 };
	struct hyp_backend_ops ops = toy_reg_ops();
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ops };
	uint64_t got[2] = { 7, 7 };
	struct toy_vcpu *tv;
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;

	(void)state;
	ops.vcpu_init = toy_vcpu_init; /* X1 in the register file, SP_EL1 in the backend */
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	tv = hyp_backend_vcpu_state(vcpu);
	tv->fail_batch = -EIO;
	assert_int_equal(hyp_vcpu_set_regs(vcpu, regs, values, 2), -EIO);
	assert_int_equal(tv->last_batch_count, 1);
	assert_int_equal(tv->last_batch[0], HYP_REG_SP_EL1);
	assert_int_equal(tv->regs.x[1], 0);
	assert_int_equal(hyp_vcpu_get_regs(vcpu, regs, got, 2), -EIO);
	assert_int_equal(got[0], 7);
	assert_int_equal(got[1], 7);
	tv->fail_batch = 0;
	assert_int_equal(hyp_vcpu_set_regs(vcpu, regs, values, 2), 0);
	assert_int_equal(tv->regs.x[1], 0x1111);
	assert_int_equal(tv->core[HYP_REG_SP_EL1], 0x2222);
	/* A batch entirely in the register file never reaches the backend. */
	tv->set_regs_calls = 0;
	assert_int_equal(hyp_vcpu_set_regs(vcpu, regs, values, 1), 0);
	assert_int_equal(tv->set_regs_calls, 0);
	hyp_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_state_and_memory_slots),
		cmocka_unit_test(test_missing_methods_are_enotsup),
		cmocka_unit_test(test_dirty_ring_on_external_backends),
		cmocka_unit_test(test_raw_and_decoded_exits),
		cmocka_unit_test(test_kick_without_kick_method),
		cmocka_unit_test(test_backend_system_event_stops_every_vcpu),
		cmocka_unit_test(test_backend_errors_propagate_and_log),
		cmocka_unit_test(test_invalid_ops_tables),
		cmocka_unit_test(test_protocol_violations),
		cmocka_unit_test(test_batched_regs_reach_the_backend_once),
		cmocka_unit_test(test_batched_regs_backend_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
