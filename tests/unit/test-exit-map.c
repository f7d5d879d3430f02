/* SPDX-License-Identifier: MIT */
/*
 * hyp_vcpu_exit_map() and hyp_vcpu_exit_unmap() on the mock backend: a device's MMIO callback
 * turning a range into memory and back (what the CFI flash model does at every mode change), the
 * misuses refused with -EINVAL, another vCPU inside hyp_vcpu_run() refused with -EBUSY, and a
 * vCPU entering hyp_vcpu_run() while a callback remaps waiting instead of failing.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>

#include "test-helpers.h"

#define DEV_BASE 0x10000000ull /* the device's registers */
#define WINDOW 0x20000000ull   /* where the callback maps and unmaps its memory */
#define WINDOW_SIZE (4 * HYP_PAGE_SIZE)

enum { OP_NONE, OP_MAP, OP_UNMAP, OP_MAP_RW, OP_MAP_OVER_RAM, OP_BLOCK };

struct device {
	struct test_vm t;
	uint8_t *memory;
	/* What the last exit_map/unmap returned. Atomic: the racing test reads it from the other
	 * vCPU's thread (a read access) while this one writes it. */
	_Atomic int result;
	/* OP_BLOCK: the callback waits here until released (it keeps its vCPU inside run). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool blocked, release;
};

static enum hyp_handler_result dev_mmio(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *access)
{
	struct device *d = opaque;

	if (!access->is_write) {
		access->data = (uint64_t)(int64_t)d->result;
		return HYP_HANDLED;
	}
	switch (access->data) {
	case OP_MAP:
		d->result = hyp_vcpu_exit_map(vcpu, WINDOW, d->memory, WINDOW_SIZE, HYP_MEM_RX);
		break;
	case OP_MAP_RW:
		d->result = hyp_vcpu_exit_map(vcpu, WINDOW, d->memory, WINDOW_SIZE, HYP_MEM_RWX);
		break;
	case OP_MAP_OVER_RAM:
		d->result =
			hyp_vcpu_exit_map(vcpu, TEST_RAM_BASE, d->memory, WINDOW_SIZE, HYP_MEM_RX);
		break;
	case OP_UNMAP:
		d->result = hyp_vcpu_exit_unmap(vcpu, WINDOW, WINDOW_SIZE);
		break;
	case OP_BLOCK:
		pthread_mutex_lock(&d->lock);
		d->blocked = true;
		pthread_cond_broadcast(&d->cond);
		while (!d->release)
			pthread_cond_wait(&d->cond, &d->lock);
		pthread_mutex_unlock(&d->lock);
		break;
	default:
		break;
	}
	return HYP_HANDLED;
}

static void setup_device(struct device *d)
{
	memset(d, 0, sizeof(*d));
	test_vm_create(&d->t);
	d->memory = aligned_alloc(HYP_PAGE_SIZE, WINDOW_SIZE);
	assert_non_null(d->memory);
	for (unsigned i = 0; i < WINDOW_SIZE; i++)
		d->memory[i] = (uint8_t)(i * 13 + 1);
	d->result = 1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	assert_int_equal(hyp_vm_add_mmio_handler(d->t.vm, DEV_BASE, 0x1000, dev_mmio, d), 0);
}

/* A second vCPU, powered on (one waiting for CPU_ON is inside hyp_vcpu_run() too). */
static struct hyp_vcpu *second_vcpu(struct device *d)
{
	struct hyp_vcpu_config cfg = { .size = sizeof(cfg),
				       .index = 1,
				       .power = HYP_VCPU_POWER_ON };
	struct hyp_vcpu *vcpu;

	assert_int_equal(hyp_vcpu_create(d->t.vm, &cfg, &vcpu), 0);
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_PC, TEST_RAM_BASE), 0);
	return vcpu;
}

static void teardown_device(struct device *d)
{
	test_vm_destroy(&d->t);
	free(d->memory);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
}

/* The guest writes @op to the device; the callback's result comes back. */
static int guest_op(struct device *d, struct hyp_vcpu *vcpu, uint64_t op)
{
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_X(1), op), 0);
	assert_int_equal(hyp_mock_push_mmio(vcpu, DEV_BASE, 8, 1,
					    HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_REG64),
			 0);
	test_run_to_end(vcpu);
	return d->result;
}

static void test_map_and_unmap_from_a_callback(void **state)
{
	struct device d;
	uint8_t got[64];

	(void)state;
	setup_device(&d);
	/* Not mapped yet: the window is no memory. */
	assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW, got, sizeof(got)), -EFAULT);
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP), 0);
	/* In effect when the callback returns: the guest reads the memory, and a store to the
	 * read-only window comes back as MMIO (no callback claims it: the caller's exit). */
	assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW + 100, got, sizeof(got)), 0);
	assert_memory_equal(got, d.memory + 100, sizeof(got));
	assert_int_equal(hyp_mock_push_mmio(d.t.vcpu, WINDOW + 8, 4, 3, HYP_MOCK_MMIO_WRITE), 0);
	{
		struct hyp_exit *exit = test_run_expect(d.t.vcpu, HYP_EXIT_MMIO);

		assert_int_equal(exit->mmio.ipa, WINDOW + 8);
		assert_true(exit->mmio.is_write);
	}
	test_run_to_end(d.t.vcpu);
	/* Mapping twice overlaps; so does mapping over guest RAM. */
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP_RW), -EEXIST);
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP_OVER_RAM), -EEXIST);
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_UNMAP), 0);
	assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW, got, sizeof(got)), -EFAULT);
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_UNMAP), -ENOENT);
	/* And back, writable this time: a guest store lands in the memory. */
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP_RW), 0);
	assert_int_equal(hyp_vcpu_set_reg(d.t.vcpu, HYP_REG_X(4), 0xa5a5a5a5), 0);
	assert_int_equal(hyp_mock_push_mmio(d.t.vcpu, WINDOW + 16, 4, 4, HYP_MOCK_MMIO_WRITE), 0);
	test_run_to_end(d.t.vcpu);
	assert_int_equal(d.memory[16], 0xa5);
	/* The VMM can undo it with the VM idle, as any region. */
	assert_int_equal(hyp_vm_unmap(d.t.vm, WINDOW, WINDOW_SIZE), 0);
	teardown_device(&d);
}

static void test_misuse(void **state)
{
	struct device d;

	(void)state;
	setup_device(&d);
	/* Outside any callback: not an exit being dispatched. */
	assert_int_equal(hyp_vcpu_exit_map(d.t.vcpu, WINDOW, d.memory, WINDOW_SIZE, HYP_MEM_RX),
			 -EINVAL);
	assert_int_equal(hyp_vcpu_exit_unmap(d.t.vcpu, TEST_RAM_BASE, TEST_RAM_SIZE), -EINVAL);
	assert_int_equal(hyp_vcpu_exit_map(NULL, WINDOW, d.memory, WINDOW_SIZE, HYP_MEM_RX),
			 -EINVAL);
	assert_int_equal(hyp_vcpu_exit_unmap(NULL, WINDOW, WINDOW_SIZE), -EINVAL);
	/* The RAM region is still there, the window still empty. */
	{
		uint8_t b;

		assert_int_equal(hyp_vm_read_guest(d.t.vm, TEST_RAM_BASE, &b, 1), 0);
		assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW, &b, 1), -EFAULT);
	}
	/* After a callback has returned, the same vCPU is no longer in an exit. */
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_NONE), 1);
	assert_int_equal(hyp_vcpu_exit_map(d.t.vcpu, WINDOW, d.memory, WINDOW_SIZE, HYP_MEM_RX),
			 -EINVAL);
	teardown_device(&d);
}

struct runner {
	struct device *d;
	struct hyp_vcpu *vcpu;
	unsigned rounds;
	int busy;  /* hyp_vcpu_run() returned -EBUSY this many times */
	int other; /* ... or something else than -ENODATA */
};

static void *run_blocking(void *opaque)
{
	struct runner *r = opaque;

	guest_op(r->d, r->vcpu, OP_BLOCK);
	return NULL;
}

static void test_busy_while_another_vcpu_runs(void **state)
{
	struct device d;
	struct runner r = { .d = &d };
	pthread_t thread;

	(void)state;
	setup_device(&d);
	r.vcpu = second_vcpu(&d);
	assert_int_equal(pthread_create(&thread, NULL, run_blocking, &r), 0);
	pthread_mutex_lock(&d.lock);
	while (!d.blocked)
		pthread_cond_wait(&d.cond, &d.lock);
	pthread_mutex_unlock(&d.lock);
	/* The second vCPU sits in its callback, inside hyp_vcpu_run(). */
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP), -EBUSY);
	{
		uint8_t b;

		assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW, &b, 1), -EFAULT);
	}
	pthread_mutex_lock(&d.lock);
	d.release = true;
	pthread_cond_broadcast(&d.cond);
	pthread_mutex_unlock(&d.lock);
	assert_int_equal(pthread_join(thread, NULL), 0);
	/* Alone again: allowed. */
	assert_int_equal(guest_op(&d, d.t.vcpu, OP_MAP), 0);
	teardown_device(&d);
}

static void *run_often(void *opaque)
{
	struct runner *r = opaque;

	for (unsigned i = 0; i < r->rounds; i++) {
		int ret;

		if (hyp_mock_push_mmio(r->vcpu, DEV_BASE, 8, 1, HYP_MOCK_MMIO_REG64)) {
			r->other++;
			break;
		}
		ret = hyp_vcpu_run(r->vcpu);
		if (ret == -EBUSY)
			r->busy++;
		else if (ret != -ENODATA)
			r->other++;
		if (ret != -ENODATA)
			break;
	}
	return NULL;
}

/*
 * One vCPU remaps from its callbacks as fast as it can while another enters and leaves
 * hyp_vcpu_run() as fast as it can: the remapper sees -EBUSY whenever the other is inside, the
 * other never sees -EBUSY (it waits for a remap to end), and nothing else goes wrong.
 */
static void test_entering_run_waits(void **state)
{
	struct device d;
	struct runner r = { .d = &d, .rounds = 20000 };
	pthread_t thread;
	unsigned done = 0, refused = 0;
	bool mapped = false;

	(void)state;
	setup_device(&d);
	r.vcpu = second_vcpu(&d);
	assert_int_equal(pthread_create(&thread, NULL, run_often, &r), 0);
	for (unsigned i = 0; i < 20000; i++) {
		int ret = guest_op(&d, d.t.vcpu, mapped ? OP_UNMAP : OP_MAP);

		if (ret == 0) {
			mapped = !mapped;
			done++;
		} else {
			assert_int_equal(ret, -EBUSY);
			refused++;
		}
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	print_message("# %u remaps done, %u refused while the other vCPU ran\n", done, refused);
	assert_int_equal(r.busy, 0);
	assert_int_equal(r.other, 0);
	assert_true(done > 0);
	{
		uint8_t b;

		assert_int_equal(hyp_vm_read_guest(d.t.vm, WINDOW, &b, 1), mapped ? 0 : -EFAULT);
	}
	teardown_device(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_and_unmap_from_a_callback),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_busy_while_another_vcpu_runs),
		cmocka_unit_test(test_entering_run_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
