/* SPDX-License-Identifier: MIT */
/*
 * The dirty ring through the public API on the mock backend (the library's own rings, the same
 * code the el2 backend uses): the ring size is checked at VM creation, harvests return exactly the
 * pages the vCPU stored to, in order and in as many calls as the caller's buffer needs, a full ring
 * spills into the regions' logs (hyp_vm_dirty_log_fetch() reports the rest, nothing is lost), a
 * fetch drains the rings, a vCPU that goes away leaves its pages in the logs, bad input gets its
 * documented error, and a vCPU storing all the time while another thread harvests and fetches
 * loses no page.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <libhyp/backend.h>
#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM_BASE 0x40000000ull
#define RAM_PAGES 640u
#define RAM2_BASE 0x48000000ull
#define RAM2_PAGES 4u
#define WORDS ((RAM_PAGES + 63) / 64)
#define RING 256u
#define PROGRESS 0x0b000000ull

struct fx {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	void *ram, *ram2;
};

static int create(struct fx *f, uint32_t ring)
{
	struct hyp_mock_config mock = { .size = sizeof(mock), .max_script_steps = 1u << 17 };
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.backend_config = &mock,
					.dirty_ring_entries = ring };

	return hyp_vm_create(&config, &f->vm);
}

/* A pause after each round of stores, so the harvests interleave with the vCPU's appends. */
static enum hyp_handler_result progress(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *a)
{
	struct timespec pause = { .tv_nsec = 20000 };

	(void)opaque;
	(void)vcpu;
	(void)a;
	nanosleep(&pause, NULL);
	return HYP_HANDLED;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(HYP_PAGE_SIZE, RAM_PAGES * HYP_PAGE_SIZE);
	f->ram2 = aligned_alloc(HYP_PAGE_SIZE, RAM2_PAGES * HYP_PAGE_SIZE);
	assert_true(f->ram && f->ram2);
	assert_int_equal(create(f, RING), 0);
	assert_int_equal(
		hyp_vm_map(f->vm, RAM_BASE, f->ram, RAM_PAGES * HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(
		hyp_vm_map(f->vm, RAM2_BASE, f->ram2, RAM2_PAGES * HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, PROGRESS, 0x1000, progress, NULL), 0);
	assert_int_equal(hyp_vcpu_create(f->vm, NULL, &f->vcpu), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_vm_destroy(f->vm), 0);
	free(f->ram);
	free(f->ram2);
	free(f);
	return 0;
}

static void store(struct hyp_vcpu *vcpu, hyp_ipa_t ipa)
{
	assert_int_equal(
		hyp_mock_push_mmio(vcpu, ipa, 8, 1, HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_REG64), 0);
}

static void run_script(struct hyp_vcpu *vcpu)
{
	while (hyp_mock_script_length(vcpu) > 0) {
		int r = hyp_vcpu_run(vcpu);

		assert_true(r == 0 || r == -ENODATA);
		if (r == -ENODATA)
			break;
	}
}

static hyp_ipa_t page(unsigned n)
{
	return RAM_BASE + (hyp_ipa_t)n * HYP_PAGE_SIZE;
}

static void stats(struct fx *f, struct hyp_dirty_ring_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	assert_int_equal(hyp_vm_dirty_ring_stats(f->vm, s), 0);
}

static void test_config(void **state)
{
	static const uint32_t bad[] = {
		1, 100, 128, 255, 257, 384, HYP_DIRTY_RING_MAX_ENTRIES * 2, 0x80000000u, 0xffffffffu
	};
	struct fx g = { 0 };
	struct hyp_vm_config old = { .size = offsetof(struct hyp_vm_config, dirty_ring_entries),
				     .backend = "mock" };
	uint64_t cap = 0;
	hyp_ipa_t pages[4];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g.vm = NULL;
		assert_int_equal(create(&g, bad[i]), -EINVAL);
		assert_null(g.vm);
	}
	assert_int_equal(create(&g, HYP_DIRTY_RING_MIN_ENTRIES), 0);
	assert_int_equal(hyp_vm_query_cap(g.vm, HYP_CAP_DIRTY_RING, &cap), 0);
	assert_int_equal(cap, HYP_DIRTY_RING_MAX_ENTRIES);
	assert_int_equal(hyp_vm_destroy(g.vm), 0);
	assert_int_equal(create(&g, HYP_DIRTY_RING_MAX_ENTRIES), 0);
	assert_int_equal(hyp_vm_destroy(g.vm), 0);
	/* A caller built before the field existed gets no ring, and the ring calls say so. */
	assert_int_equal(hyp_vm_create(&old, &g.vm), 0);
	assert_int_equal(hyp_vm_dirty_ring_harvest(g.vm, pages, 4), -EINVAL);
	assert_int_equal(hyp_vm_query_cap(g.vm, HYP_CAP_DIRTY_RING, &cap), 0);
	assert_int_equal(cap, HYP_DIRTY_RING_MAX_ENTRIES); /* what it could have had */
	assert_int_equal(hyp_vm_destroy(g.vm), 0);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct hyp_dirty_ring_stats s = { .size = sizeof(s) };
	hyp_ipa_t pages[4];
	struct fx g = { 0 };

	assert_int_equal(hyp_vm_dirty_ring_harvest(NULL, pages, 4), -EINVAL);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, NULL, 4), -EINVAL);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 0), -EINVAL);
	assert_int_equal(hyp_vm_dirty_ring_stats(NULL, &s), -EINVAL);
	assert_int_equal(hyp_vm_dirty_ring_stats(f->vm, NULL), -EINVAL);
	s.size = offsetof(struct hyp_dirty_ring_stats, spilled);
	assert_int_equal(hyp_vm_dirty_ring_stats(f->vm, &s), -EINVAL);
	/* A VM without a ring. */
	assert_int_equal(create(&g, 0), 0);
	s.size = sizeof(s);
	assert_int_equal(hyp_vm_dirty_ring_harvest(g.vm, pages, 4), -EINVAL);
	assert_int_equal(hyp_vm_dirty_ring_stats(g.vm, &s), -EINVAL);
	assert_int_equal(hyp_vm_destroy(g.vm), 0);
	/* Nothing written yet: an empty harvest. */
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 4), 0);
}

static void test_exact_in_order(void **state)
{
	static const unsigned order[] = { 7, 3, 500, 0, 639, 64, 65 };
	struct fx *f = *state;
	struct hyp_dirty_ring_stats s;
	hyp_ipa_t pages[16];
	uint64_t bitmap[WORDS];
	uint32_t unsmall = 0xa5;
	int n;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		store(f->vcpu, page(order[i]) + 8 * i);
	store(f->vcpu, RAM2_BASE); /* not logged */
	run_script(f->vcpu);
	/* The VMM's own write goes to the region's log, not to a ring. */
	assert_int_equal(hyp_vm_write_guest(f->vm, page(9) + 1, &unsmall, sizeof(unsmall)), 0);
	n = hyp_vm_dirty_ring_harvest(f->vm, pages, 16);
	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++)
		assert_int_equal(pages[i], page(order[i]));
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 16), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 1);
	assert_int_equal(bitmap[0], 1ull << 9);
	stats(f, &s);
	assert_int_equal(s.entries, RING);
	assert_int_equal(s.harvested, 7);
	assert_int_equal(s.full, 0);
	assert_int_equal(s.spilled, 0);

	/* A small buffer takes the entries in turn, in order. */
	for (unsigned i = 0; i < 10; i++)
		store(f->vcpu, page(100 + i));
	run_script(f->vcpu);
	for (unsigned i = 0; i < 10; i += 3) {
		n = hyp_vm_dirty_ring_harvest(f->vm, pages, 3);
		assert_int_equal(n, i + 3 <= 10 ? 3 : 1);
		for (int j = 0; j < n; j++)
			assert_int_equal(pages[j], page(100 + i + (unsigned)j));
	}
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 3), 0);

	/* Logging off: the entries still in the ring for that region are dropped, none new. */
	store(f->vcpu, page(1));
	run_script(f->vcpu);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, false), 0);
	store(f->vcpu, page(2));
	run_script(f->vcpu);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 16), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	store(f->vcpu, page(3));
	run_script(f->vcpu);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 16), 1);
	assert_int_equal(pages[0], page(3));
}

/* More pages than the ring holds between two harvests: the ring keeps the first RING, the rest
 * go to the region's log, and harvest + fetch report every page exactly once. */
static void test_full_ring_spills(void **state)
{
	struct fx *f = *state;
	struct hyp_dirty_ring_stats s;
	hyp_ipa_t *pages = calloc(RAM_PAGES, sizeof(*pages));
	uint64_t seen[WORDS] = { 0 }, bitmap[WORDS];
	int n, total = 0;

	assert_non_null(pages);
	for (unsigned p = 0; p < 600; p++)
		store(f->vcpu, page(p));
	run_script(f->vcpu);
	while ((n = hyp_vm_dirty_ring_harvest(f->vm, pages, 100)) > 0) {
		for (int i = 0; i < n; i++) {
			unsigned p = (unsigned)((pages[i] - RAM_BASE) / HYP_PAGE_SIZE);

			assert_true(p < 600);
			assert_false(seen[p / 64] >> (p % 64) & 1);
			seen[p / 64] |= 1ull << (p % 64);
		}
		total += n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(total, RING);
	n = hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS);
	assert_int_equal(n, 600 - RING);
	for (unsigned w = 0; w < WORDS; w++) {
		assert_int_equal(seen[w] & bitmap[w], 0);
		seen[w] |= bitmap[w];
	}
	for (unsigned p = 0; p < RAM_PAGES; p++)
		assert_int_equal(seen[p / 64] >> (p % 64) & 1, p < 600);
	stats(f, &s);
	assert_int_equal(s.harvested, RING);
	assert_int_equal(s.full, 1); /* it filled up once */
	assert_int_equal(s.spilled, 600 - RING);
	free(pages);
}

/* A fetch alone is complete: it drains the rings first. */
static void test_fetch_drains(void **state)
{
	struct fx *f = *state;
	struct hyp_dirty_ring_stats s;
	uint64_t bitmap[WORDS];
	hyp_ipa_t pages[4];

	store(f->vcpu, page(10));
	store(f->vcpu, page(70));
	run_script(f->vcpu);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 2);
	assert_int_equal(bitmap[0], 1ull << 10);
	assert_int_equal(bitmap[1], 1ull << 6);
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 4), 0);
	stats(f, &s);
	assert_int_equal(s.spilled, 2);
	assert_int_equal(s.harvested, 0);
	/* A vCPU that goes away leaves its entries in the logs. */
	store(f->vcpu, page(11));
	run_script(f->vcpu);
	assert_int_equal(hyp_vcpu_destroy(f->vcpu), 0);
	f->vcpu = NULL;
	assert_int_equal(hyp_vm_dirty_ring_harvest(f->vm, pages, 4), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 1);
	assert_int_equal(bitmap[0], 1ull << 11);
}

/*
 * A vCPU thread stores to WINDOW pages per round, more than the ring holds, while the main thread
 * harvests with a small buffer and fetches now and then: at the end (one more harvest and fetch
 * after the vCPU stopped) every page of the window was reported, none outside it, and the ring
 * filled on the way.
 */
#define WINDOW 400u
#define ROUNDS 200u

struct runner {
	struct hyp_vcpu *vcpu;
	int result;
	_Atomic bool done;
};

static void *run_vcpu(void *opaque)
{
	struct runner *r = opaque;

	r->result = 0;
	while (r->result == 0 && hyp_mock_script_length(r->vcpu) > 0)
		r->result = hyp_vcpu_run(r->vcpu);
	if (r->result == -ENODATA)
		r->result = 0;
	atomic_store(&r->done, true);
	return NULL;
}

static void collect(struct fx *f, uint64_t *seen, uint64_t *harvested, bool fetch)
{
	hyp_ipa_t pages[37];
	uint64_t bitmap[WORDS];
	int n;

	while ((n = hyp_vm_dirty_ring_harvest(f->vm, pages, 37)) > 0) {
		for (int i = 0; i < n; i++) {
			uint64_t p = (pages[i] - RAM_BASE) / HYP_PAGE_SIZE;

			assert_true(pages[i] >= RAM_BASE && p < RAM_PAGES);
			seen[p / 64] |= 1ull << (p % 64);
		}
		*harvested += (uint64_t)n;
		if (n < 37)
			break;
	}
	assert_true(n >= 0);
	if (!fetch)
		return;
	assert_true(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS) >= 0);
	for (unsigned w = 0; w < WORDS; w++)
		seen[w] |= bitmap[w];
}

static void test_no_lost_page_under_load(void **state)
{
	struct fx *f = *state;
	struct runner r = { .vcpu = f->vcpu };
	struct hyp_dirty_ring_stats s;
	uint64_t seen[WORDS] = { 0 }, harvested = 0;
	unsigned loops = 0;
	pthread_t thread;

	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned p = 0; p < WINDOW; p++)
			store(f->vcpu, page(p) + 8 * (round % 512));
		assert_int_equal(hyp_mock_push_mmio(f->vcpu, PROGRESS, 4, 1, HYP_MOCK_MMIO_WRITE),
				 0);
	}
	assert_int_equal(pthread_create(&thread, NULL, run_vcpu, &r), 0);
	while (!atomic_load(&r.done)) {
		uint64_t round_seen[WORDS] = { 0 };

		/* Mostly harvests (racing the vCPU's appends), a fetch now and then. */
		collect(f, round_seen, &harvested, loops % 64 == 63);
		for (unsigned w = 0; w < WORDS; w++)
			seen[w] |= round_seen[w];
		loops++;
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(r.result, 0);
	collect(f, seen, &harvested, true);
	for (unsigned p = 0; p < RAM_PAGES; p++)
		assert_int_equal(seen[p / 64] >> (p % 64) & 1, p < WINDOW);
	stats(f, &s);
	print_message("# %u harvest loops while the vCPU ran; %llu pages harvested, ring full %llu "
		      "times, %llu pages spilled to the log\n",
		      loops, (unsigned long long)s.harvested, (unsigned long long)s.full,
		      (unsigned long long)s.spilled);
	assert_int_equal(s.harvested, harvested);
	/* Whether the ring filled here depends on how the threads were scheduled (a loaded CI
	 * machine: sometimes never); test_full_ring_spills covers that path deterministically. */
	/* The mock reports every store: each one was either harvested or moved into the log
	 * (ring full, or drained by a fetch). None vanished. */
	assert_int_equal(s.harvested + s.spilled, (uint64_t)ROUNDS * WINDOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_ring_spills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lost_page_under_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
