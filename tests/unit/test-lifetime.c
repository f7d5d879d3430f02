/* SPDX-License-Identifier: MIT */
/*
 * Object lifetime against concurrency (issue 10 items 2 and 3): destroying a VM or vCPU that is
 * inside hyp_vcpu_run() (another thread, or its own callback) is refused with -EBUSY and changes
 * nothing; a kick still returning when its vCPU is destroyed is waited for. The suite also runs
 * under ThreadSanitizer (scripts/run-tests.sh), which is what catches a lost ordering.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include <libhyp/backend.h>

#include "test-helpers.h"

#define MMIO_BASE 0x09000000ull

/* ---- Destroy from inside a callback ------------------------------------------------------- */

struct self_destroy {
	struct hyp_vcpu *other;
	int calls;
	int vcpu_self, vcpu_other, vm;
};

static enum hyp_handler_result self_destroy_mmio(void *opaque, struct hyp_vcpu *vcpu,
						 struct hyp_mmio_access *access)
{
	struct self_destroy *p = opaque;

	p->calls++;
	p->vcpu_self = hyp_vcpu_destroy(vcpu);
	p->vcpu_other = hyp_vcpu_destroy(p->other);
	p->vm = hyp_vm_destroy(hyp_vcpu_vm(vcpu));
	access->data = 0x55;
	return HYP_HANDLED;
}

static void test_destroy_from_callback_is_busy(void **state)
{
	struct self_destroy p = { 0 };
	struct hyp_vcpu_config vc = { .size = sizeof(vc), .index = 1 };
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vcpu_create(t.vm, &vc, &p.other), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, MMIO_BASE, 0x1000, self_destroy_mmio, &p),
			 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, MMIO_BASE, 4, 3, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, MMIO_BASE, 4, 4, 0), 0);
	test_run_to_end(t.vcpu);

	/* Refused every time, and nothing was destroyed: the run went on through the second
	 * access, and the handler and both vCPUs still work. */
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.vcpu_self, -EBUSY);
	assert_int_equal(p.vcpu_other, -EBUSY);
	assert_int_equal(p.vm, -EBUSY);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(3)), 0x55);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(4)), 0x55);
	assert_int_equal(hyp_vcpu_index(p.other), 1);
	assert_int_equal(hyp_vm_remove_mmio_handler(t.vm, MMIO_BASE), 0);
	assert_int_equal(hyp_vcpu_destroy(p.other), 0);
	test_vm_destroy(&t);
}

/* ---- Destroy from another thread while a vCPU runs --------------------------------------- */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int inside;
	bool release;
};

static enum hyp_handler_result gate_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	struct gate *g = opaque;

	(void)vcpu;
	pthread_mutex_lock(&g->lock);
	g->inside++;
	pthread_cond_broadcast(&g->cond);
	while (!g->release)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	access->data = 7;
	return HYP_HANDLED;
}

struct runner {
	struct hyp_vcpu *vcpu;
	pthread_t thread;
	int result;
	uint32_t reason;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	/* hyp_vcpu_run() answers -EBUSY while a VMM thread is changing the VM at that instant (the
	 * powered-off test's own probe may be): a moment later it gets in. */
	do
		r->result = hyp_vcpu_run(r->vcpu);
	while (r->result == -EBUSY);
	r->reason = hyp_vcpu_exit(r->vcpu)->reason;
	return NULL;
}

static void test_destroy_while_running_elsewhere_is_busy(void **state)
{
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };
	struct hyp_vcpu_config vc = { .size = sizeof(vc), .index = 1 };
	struct hyp_vcpu *idle;
	struct runner r;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_vcpu_create(t.vm, &vc, &idle), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(t.vm, MMIO_BASE, 0x1000, gate_mmio, &g), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, MMIO_BASE, 4, 5, 0), 0);
	r.vcpu = t.vcpu;
	assert_int_equal(pthread_create(&r.thread, NULL, run_thread, &r), 0);

	pthread_mutex_lock(&g.lock);
	while (!g.inside)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);
	/* The vCPU is inside hyp_vcpu_run(), in a callback, on the other thread. */
	assert_int_equal(hyp_vm_destroy(t.vm), -EBUSY);
	assert_int_equal(hyp_vcpu_destroy(t.vcpu), -EBUSY);
	assert_int_equal(hyp_vcpu_destroy(idle), -EBUSY);

	pthread_mutex_lock(&g.lock);
	g.release = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	assert_int_equal(pthread_join(r.thread, NULL), 0);
	assert_int_equal(r.result, -ENODATA);
	assert_int_equal(test_reg(t.vcpu, HYP_REG_X(5)), 7);
	/* Stopped: now both go. */
	assert_int_equal(hyp_vcpu_destroy(idle), 0);
	test_vm_destroy(&t);
}

/* A powered-off vCPU waits inside hyp_vcpu_run() with no callback: still running. */
static void test_destroy_while_waiting_powered_off_is_busy(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
	struct hyp_vcpu_config vc = { .size = sizeof(vc), .power = HYP_VCPU_POWER_OFF };
	struct runner r;
	struct hyp_vm *vm;
	int busy = 0;

	(void)state;
	assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, &vc, &r.vcpu), 0);
	assert_int_equal(pthread_create(&r.thread, NULL, run_thread, &r), 0);
	/* Not knowing when the thread gets there, probe with a reconfiguration that changes
	 * nothing when it succeeds (an unmap of nothing says -ENOENT). */
	while (hyp_vm_unmap(vm, 0x40000000, HYP_PAGE_SIZE) != -EBUSY)
		sched_yield();
	busy = hyp_vm_destroy(vm);
	assert_int_equal(busy, -EBUSY);
	assert_int_equal(hyp_vcpu_destroy(r.vcpu), -EBUSY);
	assert_int_equal(hyp_vcpu_kick(r.vcpu), 0);
	assert_int_equal(pthread_join(r.thread, NULL), 0);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.reason, HYP_EXIT_KICKED);
	assert_int_equal(hyp_vm_destroy(vm), 0);
}

/* ---- A kick still returning when its vCPU is destroyed ------------------------------------- */

/*
 * A backend whose kick method is slow: it is still running after the kicked hyp_vcpu_run() has
 * returned. Destroy must wait for it, or the method and the library's own code after it would
 * use a freed vCPU and VM.
 */
static atomic_bool slow_vcpu_destroyed;
static atomic_bool slow_kick_saw_destroyed;
static atomic_int slow_kicks_done;

static int slow_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	(void)vm;
	(void)config;
	return 0;
}

static int slow_vcpu_init(struct hyp_vcpu *vcpu)
{
	(void)vcpu;
	return 0;
}

static void slow_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	(void)vcpu;
	atomic_store(&slow_vcpu_destroyed, true);
}

static int slow_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	/* "The guest runs" until kicked. */
	while (!hyp_backend_vcpu_kick_pending(vcpu))
		sched_yield();
	exit->reason = HYP_EXIT_KICKED;
	return 0;
}

static int slow_vcpu_kick(struct hyp_vcpu *vcpu)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	/* The flag is already up: the run returns and its thread is joined meanwhile. */
	nanosleep(&ts, NULL);
	if (atomic_load(&slow_vcpu_destroyed))
		atomic_store(&slow_kick_saw_destroyed, true);
	(void)hyp_backend_vcpu_state(vcpu);
	atomic_fetch_add(&slow_kicks_done, 1);
	return 0;
}

static const struct hyp_backend_ops slow_ops = {
	.version = HYP_BACKEND_OPS_VERSION,
	.size = sizeof(struct hyp_backend_ops),
	.name = "slow-kick",
	.vcpu_state_size = 64,
	.vm_init = slow_vm_init,
	.vcpu_init = slow_vcpu_init,
	.vcpu_destroy = slow_vcpu_destroy,
	.vcpu_enter = slow_vcpu_enter,
	.vcpu_kick = slow_vcpu_kick,
};

static void *kick_thread(void *arg)
{
	hyp_vcpu_kick(arg);
	return NULL;
}

static void test_destroy_waits_for_kick_in_flight(void **state)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend_ops = &slow_ops };
	pthread_t kicker;
	struct runner r;
	struct hyp_vm *vm;

	(void)state;
	atomic_store(&slow_vcpu_destroyed, false);
	atomic_store(&slow_kick_saw_destroyed, false);
	atomic_store(&slow_kicks_done, 0);
	assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &r.vcpu), 0);
	assert_int_equal(pthread_create(&r.thread, NULL, run_thread, &r), 0);
	assert_int_equal(pthread_create(&kicker, NULL, kick_thread, r.vcpu), 0);
	/* The VMM's shutdown: the vCPU thread returns for the kick, is joined, the VM destroyed,
	 * all while the kick is still inside the backend. */
	assert_int_equal(pthread_join(r.thread, NULL), 0);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.reason, HYP_EXIT_KICKED);
	assert_int_equal(hyp_vm_destroy(vm), 0);
	/* Destroy returned only after the kick was done with the vCPU. */
	assert_int_equal(atomic_load(&slow_kicks_done), 1);
	assert_false(atomic_load(&slow_kick_saw_destroyed));
	assert_true(atomic_load(&slow_vcpu_destroyed));
	assert_int_equal(pthread_join(kicker, NULL), 0);
}

/* ---- Stress: run, refuse, kick all, join, destroy ------------------------------------------ */

#define STRESS_VCPUS 3
#define STRESS_ROUNDS 200

static atomic_int stress_inside;

/* Holds the vCPU inside hyp_vcpu_run() until it is kicked. */
static enum hyp_handler_result hold_until_kicked(void *opaque, struct hyp_vcpu *vcpu,
						 struct hyp_mmio_access *access)
{
	(void)opaque;
	atomic_fetch_add(&stress_inside, 1);
	while (!hyp_backend_vcpu_kick_pending(vcpu))
		sched_yield();
	access->data = 1;
	return HYP_HANDLED;
}

struct kick_all {
	struct hyp_vcpu **vcpus;
	unsigned count;
};

static void *kick_all_thread(void *arg)
{
	struct kick_all *k = arg;

	for (unsigned i = 0; i < k->count; i++)
		hyp_vcpu_kick(k->vcpus[i]);
	return NULL;
}

static void test_stress_kick_join_destroy(void **state)
{
	(void)state;
	for (unsigned round = 0; round < STRESS_ROUNDS; round++) {
		struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
		struct runner runners[STRESS_VCPUS];
		struct hyp_vcpu *vcpus[STRESS_VCPUS];
		struct kick_all k = { vcpus, STRESS_VCPUS };
		pthread_t kicker;
		struct hyp_vm *vm;

		atomic_store(&stress_inside, 0);
		assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
		assert_int_equal(
			hyp_vm_add_mmio_handler(vm, MMIO_BASE, 0x1000, hold_until_kicked, NULL), 0);
		for (unsigned i = 0; i < STRESS_VCPUS; i++) {
			struct hyp_vcpu_config vc = { .size = sizeof(vc),
						      .index = i,
						      .power = HYP_VCPU_POWER_ON };

			assert_int_equal(hyp_vcpu_create(vm, &vc, &vcpus[i]), 0);
			assert_int_equal(hyp_mock_push_mmio(vcpus[i], MMIO_BASE, 4, 1, 0), 0);
			runners[i].vcpu = vcpus[i];
		}
		/* Only once the vCPU set is complete: it cannot change while one runs. */
		for (unsigned i = 0; i < STRESS_VCPUS; i++)
			assert_int_equal(pthread_create(&runners[i].thread, NULL, run_thread,
							&runners[i]),
					 0);
		/* Half the rounds refuse a destroy while every vCPU is held inside its run; the
		 * other half kick at once, racing the vCPUs' way in. */
		if (round & 1) {
			while (atomic_load(&stress_inside) < STRESS_VCPUS)
				sched_yield();
			assert_int_equal(hyp_vm_destroy(vm), -EBUSY);
			assert_int_equal(hyp_vcpu_destroy(vcpus[round % STRESS_VCPUS]), -EBUSY);
		}
		assert_int_equal(pthread_create(&kicker, NULL, kick_all_thread, &k), 0);
		for (unsigned i = 0; i < STRESS_VCPUS; i++) {
			assert_int_equal(pthread_join(runners[i].thread, NULL), 0);
			assert_int_equal(runners[i].result, 0);
			assert_int_equal(runners[i].reason, HYP_EXIT_KICKED);
		}
		/* The kicker may still be inside its last hyp_vcpu_kick(). */
		assert_int_equal(hyp_vm_destroy(vm), 0);
		assert_int_equal(pthread_join(kicker, NULL), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_destroy_from_callback_is_busy),
		cmocka_unit_test(test_destroy_while_running_elsewhere_is_busy),
		cmocka_unit_test(test_destroy_while_waiting_powered_off_is_busy),
		cmocka_unit_test(test_destroy_waits_for_kick_in_flight),
		cmocka_unit_test(test_stress_kick_join_destroy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
