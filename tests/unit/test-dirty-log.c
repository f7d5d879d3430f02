/* SPDX-License-Identifier: MIT */
/*
 * Dirty-page logging through the public API on the mock backend: scripted guest stores mark
 * exactly their pages, the VMM's own writes too, a fetch clears, bad input gets its documented
 * error, and a vCPU storing all the time while another thread fetches in rounds and toggles
 * logging loses no page.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#define RAM_PAGES 200u /* not a multiple of 64: the last word is partial */
#define RAM2_BASE (RAM_BASE + RAM_PAGES * HYP_PAGE_SIZE)
#define RAM2_PAGES 8u
#define ROM_BASE 0x50000000ull
#define PROGRESS 0x0b000000ull
#define WORDS ((RAM_PAGES + 63) / 64)

struct fx {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	void *ram, *ram2, *rom;
	_Atomic uint32_t rounds;
};

static enum hyp_handler_result progress(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *a)
{
	struct fx *f = opaque;

	(void)vcpu;
	if (a->is_write) {
		/* A pause per round, so the VMM thread's logging periods interleave with the
		 * rounds instead of one period covering the whole script. */
		struct timespec pause = { .tv_nsec = 10000 };

		atomic_fetch_add(&f->rounds, 1);
		nanosleep(&pause, NULL);
	}
	return HYP_HANDLED;
}

static int setup(void **state)
{
	struct hyp_mock_config mock = { .size = sizeof(mock), .max_script_steps = 1u << 16 };
	struct hyp_vm_config config = { .size = sizeof(config),
					.backend = "mock",
					.backend_config = &mock };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(HYP_PAGE_SIZE, RAM_PAGES * HYP_PAGE_SIZE);
	f->ram2 = aligned_alloc(HYP_PAGE_SIZE, RAM2_PAGES * HYP_PAGE_SIZE);
	f->rom = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);
	assert_true(f->ram && f->ram2 && f->rom);
	assert_int_equal(hyp_vm_create(&config, &f->vm), 0);
	assert_int_equal(
		hyp_vm_map(f->vm, RAM_BASE, f->ram, RAM_PAGES * HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(
		hyp_vm_map(f->vm, RAM2_BASE, f->ram2, RAM2_PAGES * HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, ROM_BASE, f->rom, HYP_PAGE_SIZE, HYP_MEM_RX), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(f->vm, PROGRESS, 0x1000, progress, f), 0);
	assert_int_equal(hyp_vcpu_create(f->vm, NULL, &f->vcpu), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_vm_destroy(f->vm), 0);
	free(f->ram);
	free(f->ram2);
	free(f->rom);
	free(f);
	return 0;
}

static void store(struct fx *f, hyp_ipa_t ipa, uint32_t len)
{
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, ipa, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
}

static void run_script(struct fx *f)
{
	while (hyp_mock_script_length(f->vcpu) > 0) {
		int r = hyp_vcpu_run(f->vcpu);

		assert_true(r == 0 || r == -ENODATA);
		if (r == -ENODATA)
			break;
	}
}

static bool bit(const uint64_t *bitmap, unsigned page)
{
	return bitmap[page / 64] >> (page % 64) & 1;
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	uint64_t bitmap[WORDS];
	uint64_t cap = 0;

	assert_int_equal(hyp_vm_query_cap(f->vm, HYP_CAP_DIRTY_LOG, &cap), 0);
	assert_int_equal(cap, 1);
	assert_int_equal(hyp_vm_dirty_log_enable(NULL, RAM_BASE, true), -EINVAL);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE + HYP_PAGE_SIZE, true), -ENOENT);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, 0x1000, true), -ENOENT);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, ROM_BASE, true), -EINVAL);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), -EINVAL);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0); /* already on */
	assert_int_equal(hyp_vm_dirty_log_fetch(NULL, RAM_BASE, bitmap, WORDS), -EINVAL);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, NULL, WORDS), -EINVAL);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS - 1), -ERANGE);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE + 8, bitmap, WORDS), -ENOENT);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, false), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), -EINVAL);
}

/* Exactly the stored pages, once; loads, MMIO and pages of unlogged regions never. */
static void test_exact_pages(void **state)
{
	static const unsigned pages[] = { 0, 3, 63, 64, 130, RAM_PAGES - 1 };
	struct fx *f = *state;
	uint64_t bitmap[WORDS + 1];

	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		store(f, RAM_BASE + pages[i] * HYP_PAGE_SIZE + 8 * i, 8);
	store(f, RAM_BASE + 3 * HYP_PAGE_SIZE + 100, 1); /* page 3 again */
	store(f, RAM_BASE + 100 * HYP_PAGE_SIZE - 4, 8); /* straddles pages 99 and 100 */
	assert_int_equal(hyp_mock_push_mmio(f->vcpu, RAM_BASE + 7 * HYP_PAGE_SIZE, 8, 2,
					    HYP_MOCK_MMIO_REG64),
			 0);	/* a load: page 7 stays clean */
	store(f, RAM2_BASE, 8); /* another region, not logged */
	store(f, PROGRESS, 4);	/* MMIO */
	run_script(f);
	memset(bitmap, 0xa5, sizeof(bitmap));
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS + 1), 8);
	for (unsigned p = 0; p < RAM_PAGES; p++) {
		bool want = p == 99 || p == 100;

		for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
			want |= pages[i] == p;
		assert_int_equal(bit(bitmap, p), want);
	}
	assert_int_equal(bitmap[WORDS], 0xa5a5a5a5a5a5a5a5ull); /* past the region: untouched */
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 0);
	for (unsigned w = 0; w < WORDS; w++)
		assert_int_equal(bitmap[w], 0);
}

/* The VMM's hyp_vm_write_guest() across two logged regions; a disabled log misses nothing it
 * should see; unmapping ends the log, and the slot's next region starts without one. */
static void test_vmm_writes_toggle_unmap(void **state)
{
	struct fx *f = *state;
	uint64_t bitmap[WORDS], b2[1];
	char buf[16] = "0123456789abcdef";

	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM2_BASE, true), 0);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM2_BASE - 8, buf, sizeof(buf)), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 1);
	assert_true(bit(bitmap, RAM_PAGES - 1));
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM2_BASE, b2, 1), 1);
	assert_int_equal(b2[0], 1);

	/* Off: stores are not logged; on again: the log starts empty. */
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, false), 0);
	store(f, RAM_BASE + 5 * HYP_PAGE_SIZE, 4);
	run_script(f);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 0);
	store(f, RAM_BASE + 6 * HYP_PAGE_SIZE, 4);
	run_script(f);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 1);
	assert_true(bit(bitmap, 6) && !bit(bitmap, 5));

	assert_int_equal(hyp_vm_unmap(f->vm, RAM2_BASE, RAM2_PAGES * HYP_PAGE_SIZE), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM2_BASE, b2, 1), -ENOENT);
	assert_int_equal(
		hyp_vm_map(f->vm, RAM2_BASE, f->ram2, RAM2_PAGES * HYP_PAGE_SIZE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM2_BASE, b2, 1), -EINVAL);
}

/* hyp_backend_mark_dirty() as a backend might misuse it: any range, holes, the whole IPA space
 * (which must not take 2^52 steps), NULL; only logged regions' pages are marked. */
static void test_backend_mark(void **state)
{
	struct fx *f = *state;
	uint64_t bitmap[WORDS], b2[1];

	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
	assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM2_BASE, true), 0);
	hyp_backend_mark_dirty(NULL, RAM_BASE, 1);
	hyp_backend_mark_dirty(f->vm, RAM_BASE, 0);
	hyp_backend_mark_dirty(f->vm, 0x1000, 0x1000);		/* a hole */
	hyp_backend_mark_dirty(f->vm, ROM_BASE, HYP_PAGE_SIZE); /* not logged */
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 0);
	hyp_backend_mark_dirty(f->vm, RAM_BASE + HYP_PAGE_SIZE - 1, 2); /* pages 0 and 1 */
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), 2);
	assert_int_equal(bitmap[0], 3);
	hyp_backend_mark_dirty(f->vm, 0, UINT64_MAX);
	hyp_backend_mark_dirty(f->vm, UINT64_MAX - 10, 100); /* wraps: clamped */
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS), RAM_PAGES);
	assert_int_equal(hyp_vm_dirty_log_fetch(f->vm, RAM2_BASE, b2, 1), RAM2_PAGES);
	assert_int_equal(b2[0], (1u << RAM2_PAGES) - 1);
}

/*
 * A vCPU stores to every page of a 16-page window, round after round, reporting each finished
 * round over MMIO, while this thread fetches the log in rounds and turns it off and on. Every
 * round that begins after an enable returned and ends before the next disable started must show
 * all 16 pages in the fetches of that period; pages outside the window never appear.
 */
#define HAMMER_PAGES 16u
#define HAMMER_ROUNDS 3000u

struct hammer {
	struct fx *f;
	int result;
};

static void *hammer_vcpu(void *opaque)
{
	struct hammer *h = opaque;

	h->result = 0;
	while (h->result == 0 && hyp_mock_script_length(h->f->vcpu) > 0)
		h->result = hyp_vcpu_run(h->f->vcpu);
	if (h->result == -ENODATA)
		h->result = 0;
	return NULL;
}

static void test_no_lost_page_under_load(void **state)
{
	struct fx *f = *state;
	struct hammer h = { .f = f };
	pthread_t thread;
	unsigned periods = 0, checked = 0;

	for (unsigned r = 0; r < HAMMER_ROUNDS; r++) {
		for (unsigned p = 0; p < HAMMER_PAGES; p++)
			store(f, RAM_BASE + (32 + p) * HYP_PAGE_SIZE + 8 * (r % 512), 8);
		store(f, PROGRESS, 4);
	}
	atomic_store(&f->rounds, 0);
	assert_int_equal(pthread_create(&thread, NULL, hammer_vcpu, &h), 0);
	while (atomic_load(&f->rounds) < HAMMER_ROUNDS - 50) {
		uint64_t seen[WORDS] = { 0 }, bitmap[WORDS];
		uint32_t start, end;

		assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, true), 0);
		start = atomic_load(&f->rounds);
		/* Long periods (a few rounds) and short ones (toggling while stores go on). */
		for (int i = 0; i < 2 || ((periods & 1) && atomic_load(&f->rounds) < start + 4 &&
					  atomic_load(&f->rounds) < HAMMER_ROUNDS);
		     i++) {
			int n = hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS);

			assert_true(n >= 0 && n <= (int)HAMMER_PAGES);
			for (unsigned w = 0; w < WORDS; w++)
				seen[w] |= bitmap[w];
		}
		/* Rounds up to @end marked their pages before reporting: one more fetch sees them. */
		end = atomic_load(&f->rounds);
		assert_true(hyp_vm_dirty_log_fetch(f->vm, RAM_BASE, bitmap, WORDS) >= 0);
		for (unsigned w = 0; w < WORDS; w++)
			seen[w] |= bitmap[w];
		assert_int_equal(hyp_vm_dirty_log_enable(f->vm, RAM_BASE, false), 0);
		periods++;
		for (unsigned p = 0; p < RAM_PAGES; p++) {
			bool in_window = p >= 32 && p < 32 + HAMMER_PAGES;

			if (!in_window)
				assert_false(bit(seen, p)); /* no clean page */
			else if (end >= start + 3)	    /* a whole round inside the period */
				assert_true(bit(seen, p));
		}
		if (end >= start + 3)
			checked++;
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(h.result, 0);
	print_message("# %u logging periods, %u with a whole round checked\n", periods, checked);
	assert_true(checked >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exact_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmm_writes_toggle_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_lost_page_under_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
