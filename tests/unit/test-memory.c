/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: hyp_vm_map(), hyp_vm_unmap(), hyp_vm_read_guest(), hyp_vm_write_guest(),
 * hyp_vm_guest_ptr(), and guest loads/stores scripted through the mock backend.
 *
 * Every check asserts the exact errno of include/libhyp/vm.h, and that failed calls change nothing
 * (no bytes copied, no region added or removed, out-parameters untouched).
 */
#define _POSIX_C_SOURCE 200809L

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

#define PAGE HYP_PAGE_SIZE
#define RAM_BASE 0x40000000ull
#define MMIO_BASE 0x09000000ull

/* An address no library call may ever return: proves a pointer out-parameter was not written. */
static char sentinel_object;
#define PTR_SENTINEL ((void *)&sentinel_object)

static void *pages(size_t n)
{
	void *p = aligned_alloc(PAGE, n * PAGE);

	assert_non_null(p);
	memset(p, 0, n * PAGE);
	return p;
}

static void fill(void *p, size_t len, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7u);
}

static bool all_bytes(const void *p, size_t len, uint8_t value)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != value)
			return false;
	return true;
}

static struct hyp_vm *create_vm(uint32_t ipa_bits, uint32_t mock_flags)
{
	struct hyp_mock_config mcfg = { .size = sizeof(mcfg), .flags = mock_flags };
	struct hyp_vm_config cfg = { .size = sizeof(cfg),
				     .backend = "mock",
				     .backend_config = &mcfg,
				     .ipa_bits = ipa_bits };
	struct hyp_vm *vm = NULL;

	assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
	assert_non_null(vm);
	return vm;
}

/* A VM with nothing mapped, plus a pool of host pages for the test to map. */
struct fx {
	struct hyp_vm *vm;
	uint8_t *pool;
	size_t pool_pages;
};

#define POOL_PAGES 16

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->vm = create_vm(0, 0);
	f->pool = pages(POOL_PAGES);
	f->pool_pages = POOL_PAGES;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hyp_vm_destroy(f->vm);
	free(f->pool);
	free(f);
	return 0;
}

static void *pool_page(struct fx *f, size_t i)
{
	assert_true(i < f->pool_pages);
	return f->pool + i * PAGE;
}

/* Is @ipa backed (one byte readable)? */
static bool mapped(struct hyp_vm *vm, hyp_ipa_t ipa)
{
	uint8_t b;
	int r = hyp_vm_read_guest(vm, ipa, &b, 1);

	assert_true(r == 0 || r == -EFAULT);
	return r == 0;
}

/* ---- hyp_vm_map: argument checks ------------------------------------------------------- */

static void test_map_null(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_vm_map(NULL, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), -EINVAL);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, NULL, PAGE, HYP_MEM_RWX), -EINVAL);
	assert_false(mapped(f->vm, RAM_BASE));
}

static void test_map_alignment(void **state)
{
	static const uint64_t bad_ipa_off[] = { 1, 8, 0x800, PAGE - 1 };
	static const uint64_t bad_size[] = { 1, 0x800, PAGE - 1, PAGE + 1, 3 * PAGE + 0x10 };
	static const size_t bad_host_off[] = { 1, 16, 0x800, PAGE - 1 };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad_ipa_off) / sizeof(bad_ipa_off[0]); i++)
		assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + bad_ipa_off[i], pool_page(f, 0), PAGE,
					    HYP_MEM_RWX),
				 -EINVAL);
	for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
		assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), bad_size[i],
					    HYP_MEM_RWX),
				 -EINVAL);
	for (size_t i = 0; i < sizeof(bad_host_off) / sizeof(bad_host_off[0]); i++)
		assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, f->pool + bad_host_off[i], PAGE,
					    HYP_MEM_RWX),
				 -EINVAL);
	assert_false(mapped(f->vm, RAM_BASE));
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 1), 2 * PAGE, HYP_MEM_RWX), 0);
	assert_true(mapped(f->vm, RAM_BASE));
}

static void test_map_zero_size(void **state)
{
	struct fx *f = *state;

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), 0, HYP_MEM_RWX), -EINVAL);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), 0, HYP_MEM_READ), -EINVAL);
}

static void test_map_flags(void **state)
{
	static const uint32_t bad[] = {
		0,
		HYP_MEM_WRITE,
		HYP_MEM_EXEC,
		HYP_MEM_WRITE | HYP_MEM_EXEC,
		HYP_MEM_READ | (1u << 3),
		HYP_MEM_RWX | (1u << 4),
		HYP_MEM_READ | 0x80000000u,
		0xffffffffu,
	};
	static const uint32_t good[] = { HYP_MEM_READ, HYP_MEM_READ | HYP_MEM_WRITE, HYP_MEM_RX,
					 HYP_MEM_RWX, HYP_MEM_RO };
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, bad[i]),
				 -EINVAL);
	assert_false(mapped(f->vm, RAM_BASE));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		hyp_ipa_t ipa = RAM_BASE + i * PAGE;

		assert_int_equal(hyp_vm_map(f->vm, ipa, pool_page(f, i), PAGE, good[i]), 0);
		assert_true(mapped(f->vm, ipa));
	}
}

/* ---- hyp_vm_map: IPA space ------------------------------------------------------------- */

static void check_ipa_limit(uint32_t ipa_bits)
{
	struct hyp_vm *vm = create_vm(ipa_bits, 0);
	const hyp_ipa_t top = 1ull << ipa_bits;
	uint8_t *ram = pages(2);

	/* Exactly at the limit: the last page of the space. */
	assert_int_equal(hyp_vm_map(vm, top - PAGE, ram, PAGE, HYP_MEM_RWX), 0);
	assert_true(mapped(vm, top - 1));
	assert_int_equal(hyp_vm_unmap(vm, top - PAGE, PAGE), 0);
	/* One page over. */
	assert_int_equal(hyp_vm_map(vm, top - PAGE, ram, 2 * PAGE, HYP_MEM_RWX), -ERANGE);
	assert_int_equal(hyp_vm_map(vm, top, ram, PAGE, HYP_MEM_RWX), -ERANGE);
	assert_int_equal(hyp_vm_map(vm, top + PAGE, ram, PAGE, HYP_MEM_RWX), -ERANGE);
	assert_false(mapped(vm, top - 1));
	/* Both pages just below the limit fit. */
	assert_int_equal(hyp_vm_map(vm, top - 2 * PAGE, ram, 2 * PAGE, HYP_MEM_RWX), 0);
	hyp_vm_destroy(vm);
	free(ram);
}

static void test_map_ipa_limit_default(void **state)
{
	struct hyp_vm *vm = create_vm(0, 0);
	uint8_t *ram = pages(1);

	(void)state;
	/* ipa_bits 0 means 40. */
	assert_int_equal(hyp_vm_map(vm, 1ull << 40, ram, PAGE, HYP_MEM_RWX), -ERANGE);
	assert_int_equal(hyp_vm_map(vm, (1ull << 40) - PAGE, ram, PAGE, HYP_MEM_RWX), 0);
	hyp_vm_destroy(vm);
	free(ram);
	check_ipa_limit(HYP_DEFAULT_IPA_BITS);
}

static void test_map_ipa_limit_32(void **state)
{
	(void)state;
	check_ipa_limit(32);
}

static void test_map_ipa_limit_52(void **state)
{
	(void)state;
	check_ipa_limit(52);
}

static void test_map_wrapping(void **state)
{
	struct fx *f = *state;

	/* Regions whose end wraps past 2^64. */
	assert_int_equal(hyp_vm_map(f->vm, 0xfffffffffffff000ull, pool_page(f, 0), 2 * PAGE,
				    HYP_MEM_RWX),
			 -ERANGE);
	assert_int_equal(hyp_vm_map(f->vm, 0xfffffffffffff000ull, pool_page(f, 0), PAGE,
				    HYP_MEM_RWX),
			 -ERANGE);
	assert_int_equal(hyp_vm_map(f->vm, PAGE, pool_page(f, 0), 0xfffffffffffff000ull,
				    HYP_MEM_RWX),
			 -ERANGE);
	assert_int_equal(hyp_vm_map(f->vm, 0x8000000000000000ull, pool_page(f, 0),
				    0x8000000000000000ull, HYP_MEM_RWX),
			 -ERANGE);
	assert_false(mapped(f->vm, 0));
	assert_false(mapped(f->vm, PAGE));
	assert_false(mapped(f->vm, 0xfffffffffffff000ull));
}

/* ---- hyp_vm_map: overlaps -------------------------------------------------------------- */

static void test_map_overlap(void **state)
{
	struct fx *f = *state;
	/* The existing region: [A, A + 4 pages). */
	const hyp_ipa_t a = RAM_BASE + 4 * PAGE;
	uint8_t *big = pages(8);

	assert_int_equal(hyp_vm_map(f->vm, a, pool_page(f, 0), 4 * PAGE, HYP_MEM_RWX), 0);
	/* Exact. */
	assert_int_equal(hyp_vm_map(f->vm, a, pool_page(f, 4), 4 * PAGE, HYP_MEM_RWX), -EEXIST);
	/* Partial at the low edge (one page overlap). */
	assert_int_equal(hyp_vm_map(f->vm, a - PAGE, pool_page(f, 4), 2 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a - 3 * PAGE, pool_page(f, 4), 4 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	/* Partial at the high edge (one page overlap). */
	assert_int_equal(hyp_vm_map(f->vm, a + 3 * PAGE, pool_page(f, 4), 2 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	/* Contained: first page, a middle page, last page. */
	assert_int_equal(hyp_vm_map(f->vm, a, pool_page(f, 4), PAGE, HYP_MEM_RWX), -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a + PAGE, pool_page(f, 4), 2 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a + 3 * PAGE, pool_page(f, 4), PAGE, HYP_MEM_RWX),
			 -EEXIST);
	/* Containing. */
	assert_int_equal(hyp_vm_map(f->vm, a - PAGE, big, 6 * PAGE, HYP_MEM_RWX), -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a, big, 5 * PAGE, HYP_MEM_RWX), -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a - PAGE, big, 5 * PAGE, HYP_MEM_RWX), -EEXIST);
	/* The read-only attribute makes no difference. */
	assert_int_equal(hyp_vm_map(f->vm, a + PAGE, pool_page(f, 4), PAGE, HYP_MEM_RO), -EEXIST);
	assert_false(mapped(f->vm, a - PAGE));
	assert_false(mapped(f->vm, a + 4 * PAGE));

	/* Adjacent on both sides is fine. */
	assert_int_equal(hyp_vm_map(f->vm, a - PAGE, pool_page(f, 4), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, a + 4 * PAGE, pool_page(f, 5), PAGE, HYP_MEM_RWX), 0);
	/* A gap between two regions can be filled exactly, not more. */
	assert_int_equal(hyp_vm_map(f->vm, a + 6 * PAGE, pool_page(f, 6), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, a + 5 * PAGE, pool_page(f, 7), 2 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a + 4 * PAGE, pool_page(f, 7), 2 * PAGE, HYP_MEM_RWX),
			 -EEXIST);
	assert_int_equal(hyp_vm_map(f->vm, a + 5 * PAGE, pool_page(f, 7), PAGE, HYP_MEM_RWX), 0);
	/* A region spanning several existing ones. */
	assert_int_equal(hyp_vm_map(f->vm, a - 2 * PAGE, big, 8 * PAGE, HYP_MEM_RWX), -EEXIST);
	hyp_vm_destroy(f->vm);
	f->vm = NULL;
	free(big);
}

/* ---- hyp_vm_unmap ---------------------------------------------------------------------- */

static void test_unmap_exact_only(void **state)
{
	struct fx *f = *state;
	const hyp_ipa_t a = RAM_BASE;

	assert_int_equal(hyp_vm_unmap(NULL, a, 4 * PAGE), -EINVAL);
	assert_int_equal(hyp_vm_unmap(f->vm, a, 4 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_map(f->vm, a, pool_page(f, 0), 4 * PAGE, HYP_MEM_RWX), 0);
	/* Same start, wrong size. */
	assert_int_equal(hyp_vm_unmap(f->vm, a, PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a, 3 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a, 5 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a, 0), -ENOENT);
	/* Part of it, starting inside. */
	assert_int_equal(hyp_vm_unmap(f->vm, a + PAGE, 3 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a + PAGE, PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a + 3 * PAGE, PAGE), -ENOENT);
	/* Covering it. */
	assert_int_equal(hyp_vm_unmap(f->vm, a - PAGE, 5 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_unmap(f->vm, a - PAGE, 6 * PAGE), -ENOENT);
	/* Still fully mapped. */
	assert_true(mapped(f->vm, a));
	assert_true(mapped(f->vm, a + 4 * PAGE - 1));
	assert_int_equal(hyp_vm_unmap(f->vm, a, 4 * PAGE), 0);
	assert_false(mapped(f->vm, a));
	assert_false(mapped(f->vm, a + 4 * PAGE - 1));
	assert_int_equal(hyp_vm_unmap(f->vm, a, 4 * PAGE), -ENOENT);
}

static void test_unmap_two_regions_not_one(void **state)
{
	struct fx *f = *state;

	/* Two adjacent regions are not one region: unmapping their union fails. */
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, pool_page(f, 1), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE, 2 * PAGE), -ENOENT);
	assert_true(mapped(f->vm, RAM_BASE));
	assert_true(mapped(f->vm, RAM_BASE + PAGE));
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE + PAGE, PAGE), 0);
	assert_true(mapped(f->vm, RAM_BASE));
	assert_false(mapped(f->vm, RAM_BASE + PAGE));
}

static void test_remap_after_unmap(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16];
	void *p;

	fill(pool_page(f, 0), PAGE, 0x10);
	fill(pool_page(f, 2), PAGE, 0x80);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pool_page(f, 0), sizeof(buf));
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE, PAGE), 0);
	/* The same IPA with other memory, another size and other flags. */
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 2), 2 * PAGE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, pool_page(f, 2), sizeof(buf));
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE, 8, false, &p), 0);
	assert_ptr_equal(p, pool_page(f, 3));
	/* Now read-only. */
	p = PTR_SENTINEL;
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 8, true, &p), -EFAULT);
	assert_ptr_equal(p, PTR_SENTINEL);
	/* The old memory is no longer the guest's: a write goes to the new memory only. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE, buf, sizeof(buf)), 0);
	assert_true(all_bytes(pool_page(f, 2), sizeof(buf), 0xee));
	assert_false(all_bytes(pool_page(f, 0), sizeof(buf), 0xee));
}

/* ---- Slots, many regions, the limit ---------------------------------------------------- */

static void check_region_content(struct hyp_vm *vm, hyp_ipa_t ipa, uint8_t seed)
{
	uint8_t expect[64], got[64];

	fill(expect, sizeof(expect), seed);
	memset(got, 0, sizeof(got));
	assert_int_equal(hyp_vm_read_guest(vm, ipa, got, sizeof(got)), 0);
	assert_memory_equal(got, expect, sizeof(expect));
}

static void test_slot_reuse_invisible(void **state)
{
	struct fx *f = *state;
	void *p;

	for (size_t i = 0; i < 4; i++) {
		fill(pool_page(f, i), PAGE, (uint8_t)(i * 0x21));
		assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + i * 0x100000, pool_page(f, i), PAGE,
					    HYP_MEM_RWX),
				 0);
	}
	/* Free the second region's slot and take it with a new region elsewhere. */
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE + 0x100000, PAGE), 0);
	fill(pool_page(f, 4), PAGE, 0x99);
	assert_int_equal(hyp_vm_map(f->vm, 0x10000000, pool_page(f, 4), PAGE, HYP_MEM_RWX), 0);
	fill(pool_page(f, 5), PAGE, 0x77);
	assert_int_equal(hyp_vm_map(f->vm, 0x20000000, pool_page(f, 5), PAGE, HYP_MEM_RWX), 0);

	check_region_content(f->vm, RAM_BASE, 0x00);
	assert_false(mapped(f->vm, RAM_BASE + 0x100000));
	check_region_content(f->vm, RAM_BASE + 0x200000, 0x42);
	check_region_content(f->vm, RAM_BASE + 0x300000, 0x63);
	check_region_content(f->vm, 0x10000000, 0x99);
	check_region_content(f->vm, 0x20000000, 0x77);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, 0x10000000 + 5, 1, true, &p), 0);
	assert_ptr_equal(p, (uint8_t *)pool_page(f, 4) + 5);
	/* And each can still be unmapped exactly. */
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE, PAGE), 0);
	assert_int_equal(hyp_vm_unmap(f->vm, 0x10000000, PAGE), 0);
	check_region_content(f->vm, 0x20000000, 0x77);
	check_region_content(f->vm, RAM_BASE + 0x300000, 0x63);
}

static void test_many_regions(void **state)
{
	enum { N = 300 };
	struct hyp_vm *vm = create_vm(0, 0);
	uint8_t *host = pages(N);
	uint32_t order[N];

	(void)state;
	/* Map in a scrambled order (a permutation: 7 is coprime with 300), each region with a gap
	 * after it. */
	for (uint32_t i = 0; i < N; i++)
		order[i] = (i * 7u) % N;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t k = order[i];

		fill(host + k * PAGE, PAGE, (uint8_t)k);
		assert_int_equal(hyp_vm_map(vm, RAM_BASE + k * 2ull * PAGE, host + k * PAGE, PAGE,
					    k % 3 ? HYP_MEM_RWX : HYP_MEM_RO),
				 0);
	}
	for (uint32_t k = 0; k < N; k++) {
		void *p = NULL;

		check_region_content(vm, RAM_BASE + k * 2ull * PAGE, (uint8_t)k);
		assert_false(mapped(vm, RAM_BASE + k * 2ull * PAGE + PAGE));
		assert_int_equal(
			hyp_vm_guest_ptr(vm, RAM_BASE + k * 2ull * PAGE + 100, 10, false, &p), 0);
		assert_ptr_equal(p, host + k * PAGE + 100);
		p = PTR_SENTINEL;
		assert_int_equal(hyp_vm_guest_ptr(vm, RAM_BASE + k * 2ull * PAGE, 1, true, &p),
				 k % 3 ? 0 : -EFAULT);
	}
	/* Unmap every other one and check the rest are intact. */
	for (uint32_t k = 0; k < N; k += 2)
		assert_int_equal(hyp_vm_unmap(vm, RAM_BASE + k * 2ull * PAGE, PAGE), 0);
	for (uint32_t k = 0; k < N; k++) {
		if (k % 2)
			check_region_content(vm, RAM_BASE + k * 2ull * PAGE, (uint8_t)k);
		else
			assert_false(mapped(vm, RAM_BASE + k * 2ull * PAGE));
	}
	hyp_vm_destroy(vm);
	free(host);
}

static void test_region_limit(void **state)
{
	enum { LIMIT = 512 };
	struct hyp_vm *vm = create_vm(0, 0);
	uint8_t *host = pages(LIMIT + 1);
	void *p;

	(void)state;
	for (uint32_t k = 0; k < LIMIT; k++)
		assert_int_equal(hyp_vm_map(vm, RAM_BASE + k * 2ull * PAGE, host + k * PAGE, PAGE,
					    HYP_MEM_RWX),
				 0);
	/* The 513th region: no space. Even one adjacent to an existing region. */
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + LIMIT * 2ull * PAGE, host + LIMIT * PAGE, PAGE,
				    HYP_MEM_RWX),
			 -ENOSPC);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + PAGE, host + LIMIT * PAGE, PAGE, HYP_MEM_RWX),
			 -ENOSPC);
	assert_false(mapped(vm, RAM_BASE + LIMIT * 2ull * PAGE));
	assert_false(mapped(vm, RAM_BASE + PAGE));
	/* Other errors keep their priority over the full table. */
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, host + LIMIT * PAGE, PAGE, HYP_MEM_RWX), -EEXIST);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + 1, host + LIMIT * PAGE, PAGE, HYP_MEM_RWX),
			 -EINVAL);
	/* Free one, and the next map succeeds (and lands where asked). */
	assert_int_equal(hyp_vm_unmap(vm, RAM_BASE + 100 * 2ull * PAGE, PAGE), 0);
	memset(host + LIMIT * PAGE, 0xab, PAGE);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + LIMIT * 2ull * PAGE, host + LIMIT * PAGE, PAGE,
				    HYP_MEM_RWX),
			 0);
	assert_int_equal(hyp_vm_guest_ptr(vm, RAM_BASE + LIMIT * 2ull * PAGE, PAGE, true, &p), 0);
	assert_ptr_equal(p, host + LIMIT * PAGE);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + 100 * 2ull * PAGE, host + 100 * PAGE, PAGE,
				    HYP_MEM_RWX),
			 -ENOSPC);
	hyp_vm_destroy(vm);
	free(host);
}

/* ---- Read-only memory ------------------------------------------------------------------ */

static void test_readonly_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t cap = 0;

	assert_int_equal(hyp_vm_query_cap(f->vm, HYP_CAP_READONLY_MEM, &cap), 0);
	assert_int_equal(cap, 1);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, pool_page(f, 1), PAGE, HYP_MEM_RX), 0);
	assert_true(mapped(f->vm, RAM_BASE));
	assert_true(mapped(f->vm, RAM_BASE + PAGE));
}

static void test_readonly_refused(void **state)
{
	struct hyp_vm *vm = create_vm(0, HYP_MOCK_NO_READONLY_MEM);
	uint8_t *ram = pages(3);
	uint64_t cap = 1;

	(void)state;
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_READONLY_MEM, &cap), 0);
	assert_int_equal(cap, 0);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, ram, PAGE, HYP_MEM_RO), -ENOTSUP);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, ram, PAGE, HYP_MEM_RX), -ENOTSUP);
	assert_false(mapped(vm, RAM_BASE));
	/* Argument errors are still -EINVAL. */
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + 1, ram, PAGE, HYP_MEM_RO), -EINVAL);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, ram, PAGE, HYP_MEM_RO | (1u << 7)), -EINVAL);
	/* Writable memory is fine. */
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, ram, PAGE, HYP_MEM_READ | HYP_MEM_WRITE), 0);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE + PAGE, ram + PAGE, 2 * PAGE, HYP_MEM_RWX), 0);
	hyp_vm_destroy(vm);
	free(ram);
}

/* ---- read_guest / write_guest ---------------------------------------------------------- */

static void test_rw_across_adjacent_regions(void **state)
{
	struct fx *f = *state;
	uint8_t src[64], dst[64];
	uint8_t *lo = pool_page(f, 0), *hi = pool_page(f, 5); /* not adjacent on the host */

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, lo, PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, hi, PAGE, HYP_MEM_RWX), 0);
	fill(src, sizeof(src), 0x30);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + PAGE - 24, src, sizeof(src)), 0);
	assert_memory_equal(lo + PAGE - 24, src, 24);
	assert_memory_equal(hi, src + 24, 40);
	assert_true(all_bytes(lo + PAGE - 25, 1, 0));
	assert_true(all_bytes(hi + 40, 1, 0));
	memset(dst, 0, sizeof(dst));
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE + PAGE - 24, dst, sizeof(dst)), 0);
	assert_memory_equal(dst, src, sizeof(src));
}

static void test_rw_across_three_regions(void **state)
{
	struct fx *f = *state;
	uint8_t *src = malloc(PAGE + 2), *dst = malloc(PAGE + 2);

	assert_non_null(src);
	assert_non_null(dst);
	/* A whole middle region plus a byte on each side; the middle one is read-only. */
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 2), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, pool_page(f, 0), PAGE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + 2 * PAGE, pool_page(f, 7), PAGE, HYP_MEM_RWX),
			 0);
	fill(src, PAGE + 2, 0x5);
	/* The VMM's view: read-only regions are written too. */
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + PAGE - 1, src, PAGE + 2), 0);
	assert_int_equal(((uint8_t *)pool_page(f, 2))[PAGE - 1], src[0]);
	assert_memory_equal(pool_page(f, 0), src + 1, PAGE);
	assert_int_equal(((uint8_t *)pool_page(f, 7))[0], src[PAGE + 1]);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE + PAGE - 1, dst, PAGE + 2), 0);
	assert_memory_equal(dst, src, PAGE + 2);
	free(src);
	free(dst);
}

static void test_rw_partially_unbacked(void **state)
{
	struct fx *f = *state;
	uint8_t src[32], dst[32];
	uint8_t *lo = pool_page(f, 0), *hi = pool_page(f, 1);

	/* [RAM_BASE, +1 page) and [RAM_BASE + 2 pages, +1 page): a one-page hole between. */
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, lo, PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + 2 * PAGE, hi, PAGE, HYP_MEM_RWX), 0);
	memset(lo, 0x11, PAGE);
	memset(hi, 0x22, PAGE);
	memset(src, 0xcc, sizeof(src));

	/* Runs off the end of the first region into the hole. */
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + PAGE - 16, src, sizeof(src)),
			 -EFAULT);
	/* Starts in the hole, ends in the second region. */
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + 2 * PAGE - 16, src, sizeof(src)),
			 -EFAULT);
	/* Covers the whole hole, starting and ending in RAM. */
	{
		uint8_t *big = malloc(PAGE + 32);

		assert_non_null(big);
		memset(big, 0xcc, PAGE + 32);
		assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + PAGE - 16, big, PAGE + 32),
				 -EFAULT);
		memset(big, 0x5a, PAGE + 32);
		assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE + PAGE - 16, big, PAGE + 32),
				 -EFAULT);
		assert_true(all_bytes(big, PAGE + 32, 0x5a));
		free(big);
	}
	/* Nothing was written anywhere. */
	assert_true(all_bytes(lo, PAGE, 0x11));
	assert_true(all_bytes(hi, PAGE, 0x22));

	/* Reads: the destination is untouched. */
	memset(dst, 0x5a, sizeof(dst));
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE + PAGE - 16, dst, sizeof(dst)), -EFAULT);
	assert_true(all_bytes(dst, sizeof(dst), 0x5a));
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE + 2 * PAGE - 16, dst, sizeof(dst)),
			 -EFAULT);
	assert_true(all_bytes(dst, sizeof(dst), 0x5a));
	/* Entirely unbacked. */
	assert_int_equal(hyp_vm_read_guest(f->vm, 0, dst, sizeof(dst)), -EFAULT);
	assert_int_equal(hyp_vm_write_guest(f->vm, 0, src, sizeof(src)), -EFAULT);
	assert_true(all_bytes(dst, sizeof(dst), 0x5a));
	/* The exact edges are fine. */
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + PAGE - 16, src, 16), 0);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE + 2 * PAGE, src, 16), 0);
	assert_true(all_bytes(lo + PAGE - 16, 16, 0xcc));
	assert_true(all_bytes(hi, 16, 0xcc));
}

static void test_rw_wrapping(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_read_guest(f->vm, UINT64_MAX, buf, 2), -EFAULT);
	assert_int_equal(hyp_vm_write_guest(f->vm, UINT64_MAX - 3, buf, 8), -EFAULT);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, buf, SIZE_MAX), -EFAULT);
	assert_true(all_bytes(buf, sizeof(buf), 0x5a));
	assert_true(all_bytes(pool_page(f, 0), PAGE, 0));
}

static void test_rw_len_zero(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4] = { 1, 2, 3, 4 };

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE, buf, 0), 0);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, buf, 0), 0);
	/* "0 is allowed": no byte is accessed, so none needs backing. */
	assert_int_equal(hyp_vm_write_guest(f->vm, 0x1000, buf, 0), 0);
	assert_int_equal(hyp_vm_read_guest(f->vm, 0x1000, buf, 0), 0);
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[3], 4);
	assert_true(all_bytes(pool_page(f, 0), PAGE, 0));
}

static void test_rw_null(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4] = { 0 };

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_write_guest(NULL, RAM_BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_read_guest(NULL, RAM_BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, NULL, sizeof(buf)), -EINVAL);
	/* Argument errors take precedence over unbacked ranges. */
	assert_int_equal(hyp_vm_read_guest(f->vm, 0, NULL, sizeof(buf)), -EINVAL);
}

static void test_rw_after_unmap(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8];

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_unmap(f->vm, RAM_BASE, PAGE), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(hyp_vm_read_guest(f->vm, RAM_BASE, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(hyp_vm_write_guest(f->vm, RAM_BASE, buf, sizeof(buf)), -EFAULT);
	assert_true(all_bytes(pool_page(f, 0), PAGE, 0));
}

/* ---- guest_ptr ------------------------------------------------------------------------- */

static void test_guest_ptr_within_region(void **state)
{
	struct fx *f = *state;
	void *p = NULL;

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), 4 * PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 4 * PAGE, true, &p), 0);
	assert_ptr_equal(p, pool_page(f, 0));
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + 0x1234, 100, false, &p), 0);
	assert_ptr_equal(p, f->pool + 0x1234);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + 4 * PAGE - 1, 1, true, &p), 0);
	assert_ptr_equal(p, f->pool + 4 * PAGE - 1);
	/* One byte too many. */
	p = PTR_SENTINEL;
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + 4 * PAGE - 1, 2, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 4 * PAGE + 1, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE - 1, 2, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + 4 * PAGE, 1, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE, SIZE_MAX, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, UINT64_MAX, 1, false, &p), -EFAULT);
	assert_ptr_equal(p, PTR_SENTINEL);
}

static void test_guest_ptr_misuse(void **state)
{
	struct fx *f = *state;
	void *p = PTR_SENTINEL;

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_guest_ptr(NULL, RAM_BASE, 1, false, &p), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 1, false, NULL), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 0, false, &p), -EINVAL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, 0, 0, true, &p), -EINVAL);
	assert_ptr_equal(p, PTR_SENTINEL);
}

static void test_guest_ptr_spanning_two(void **state)
{
	struct fx *f = *state;
	void *p = PTR_SENTINEL;

	/* Adjacent in the guest AND on the host: still two regions, so no single pointer. */
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, pool_page(f, 1), PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE - 1, 2, false, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 2 * PAGE, true, &p), -EFAULT);
	assert_ptr_equal(p, PTR_SENTINEL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE, PAGE, true, &p), 0);
	assert_ptr_equal(p, pool_page(f, 1));
}

/* hyp_vm_guest_span(): the pointer for an IPA and the bytes left in its region, region by region
 * (what lib/dev and lib/boot walk guest buffers with). */
static void test_guest_span(void **state)
{
	struct fx *f = *state;
	void *p = PTR_SENTINEL;
	uint64_t len = 0x5eed;

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), 2 * PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + 2 * PAGE, pool_page(f, 2), PAGE, HYP_MEM_RO),
			 0);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE, false, &p, &len), 0);
	assert_ptr_equal(p, pool_page(f, 0));
	assert_int_equal(len, 2 * PAGE);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE + 0x1234, true, &p, &len), 0);
	assert_ptr_equal(p, f->pool + 0x1234);
	assert_int_equal(len, 2 * PAGE - 0x1234);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE + 2 * PAGE - 1, true, &p, &len), 0);
	assert_int_equal(len, 1);
	/* The adjacent region is another span, even though host memory is contiguous too. */
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE + 2 * PAGE, false, &p, &len), 0);
	assert_ptr_equal(p, pool_page(f, 2));
	assert_int_equal(len, PAGE);
	/* Read-only for a device that would write, holes, the end of the IPA space, misuse:
	 * errors, and the out-parameters untouched. */
	p = PTR_SENTINEL;
	len = 0x5eed;
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE + 2 * PAGE + 8, true, &p, &len),
			 -EFAULT);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE + 3 * PAGE, false, &p, &len), -EFAULT);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE - 1, false, &p, &len), -EFAULT);
	assert_int_equal(hyp_vm_guest_span(f->vm, UINT64_MAX, false, &p, &len), -EFAULT);
	assert_int_equal(hyp_vm_guest_span(NULL, RAM_BASE, false, &p, &len), -EINVAL);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE, false, NULL, &len), -EINVAL);
	assert_int_equal(hyp_vm_guest_span(f->vm, RAM_BASE, false, &p, NULL), -EINVAL);
	assert_ptr_equal(p, PTR_SENTINEL);
	assert_int_equal(len, 0x5eed);
}

static void test_guest_ptr_readonly(void **state)
{
	struct fx *f = *state;
	void *p = PTR_SENTINEL;

	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE, pool_page(f, 0), PAGE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vm_map(f->vm, RAM_BASE + PAGE, pool_page(f, 1), PAGE, HYP_MEM_RX), 0);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 8, true, &p), -EFAULT);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE + 8, 8, true, &p), -EFAULT);
	assert_ptr_equal(p, PTR_SENTINEL);
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE, 8, false, &p), 0);
	assert_ptr_equal(p, pool_page(f, 0));
	assert_int_equal(hyp_vm_guest_ptr(f->vm, RAM_BASE + PAGE + 8, 8, false, &p), 0);
	assert_ptr_equal(p, (uint8_t *)pool_page(f, 1) + 8);
}

/* ---- Guest loads and stores through the mock ------------------------------------------- */

/* A mock VM with RAM and one vCPU at PC = RAM_BASE. */
struct guest {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	uint8_t *ram;
	size_t ram_size;
	void *extra; /* more host memory a test mapped, freed with the guest */
};

/* The guest of the running test, in static storage so that guest_teardown() can release it even
 * when a failed assertion left the test function early. */
static struct guest the_guest;
static struct guest *live_guest;

static struct guest *guest_new(uint32_t ram_flags)
{
	struct guest *g = &the_guest;

	memset(g, 0, sizeof(*g));
	live_guest = g;
	g->vm = create_vm(0, 0);
	g->ram_size = 4 * PAGE;
	g->ram = pages(4);
	assert_int_equal(hyp_vm_map(g->vm, RAM_BASE, g->ram, g->ram_size, ram_flags), 0);
	assert_int_equal(hyp_vcpu_create(g->vm, NULL, &g->vcpu), 0);
	assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_PC, RAM_BASE), 0);
	return g;
}

static void guest_fini(struct guest *g)
{
	hyp_vm_destroy(g->vm);
	free(g->ram);
	free(g->extra);
	memset(g, 0, sizeof(*g));
	live_guest = NULL;
}

static int guest_teardown(void **state)
{
	(void)state;
	if (live_guest)
		guest_fini(live_guest);
	return 0;
}

static uint64_t reg(struct hyp_vcpu *vcpu, uint32_t n)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aull;

	assert_int_equal(hyp_vcpu_get_reg(vcpu, (enum hyp_reg)n, &v), 0);
	return v;
}

/* Any exit reaching the caller fails the test: memory accesses must not exit. */
static enum hyp_handler_result no_mmio_exit(void *opaque, struct hyp_vcpu *vcpu,
					    struct hyp_exit *exit)
{
	(void)vcpu;
	(void)opaque;
	fail_msg("unexpected MMIO exit at %#llx", (unsigned long long)exit->mmio.ipa);
	return HYP_NOT_HANDLED;
}

static void test_mock_load_from_ram(void **state)
{
	struct guest *g;
	static const uint8_t data[16] = { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
					  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };

	(void)state;
	g = guest_new(HYP_MEM_RWX);
	assert_int_equal(hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MMIO, no_mmio_exit, NULL), 0);
	assert_int_equal(hyp_vm_write_guest(g->vm, RAM_BASE + 0x100, data, sizeof(data)), 0);
	for (uint32_t r = 0; r < 31; r++)
		assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_X(r), 0xdeadbeefdeadbeefull), 0);

	/* LDRB W1 */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x100, 1, 1, 0), 0);
	/* LDRSB W2 / LDRSB X3 */
	assert_int_equal(
		hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x100, 1, 2, HYP_MOCK_MMIO_SIGN_EXTEND), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x100, 1, 3,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	/* LDRH W4, LDRSH X5 */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x102, 2, 4, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x102, 2, 5,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	/* LDR W6, LDRSW X7, LDR X8 */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x104, 4, 6, 0), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x104, 4, 7,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x108, 8, 8, HYP_MOCK_MMIO_REG64),
			 0);
	/* LDRSH X9 of a positive halfword: nothing to extend. */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x108, 2, 9,
					    HYP_MOCK_MMIO_SIGN_EXTEND | HYP_MOCK_MMIO_REG64),
			 0);
	/* LDAR X10 (acquire), and a load into XZR that must change no register. */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x100, 8, 10,
					    HYP_MOCK_MMIO_REG64 | HYP_MOCK_MMIO_ACQ_REL),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x100, 8, 31, HYP_MOCK_MMIO_REG64),
			 0);

	/* Everything happens in memory: the script runs dry without an exit. */
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(hyp_mock_script_length(g->vcpu), 0);
	assert_int_equal(reg(g->vcpu, 1), 0x80);
	assert_int_equal(reg(g->vcpu, 2), 0xffffff80ull);
	assert_int_equal(reg(g->vcpu, 3), 0xffffffffffffff80ull);
	assert_int_equal(reg(g->vcpu, 4), 0x8382);
	assert_int_equal(reg(g->vcpu, 5), 0xffffffffffff8382ull);
	assert_int_equal(reg(g->vcpu, 6), 0x87868584ull);
	assert_int_equal(reg(g->vcpu, 7), 0xffffffff87868584ull);
	assert_int_equal(reg(g->vcpu, 8), 0x0807060504030201ull);
	assert_int_equal(reg(g->vcpu, 9), 0x0201);
	assert_int_equal(reg(g->vcpu, 10), 0x8786858483828180ull);
	for (uint32_t r = 11; r < 31; r++)
		assert_int_equal(reg(g->vcpu, r), 0xdeadbeefdeadbeefull);
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE + 11 * 4);
	guest_fini(g);
}

static void test_mock_store_to_ram(void **state)
{
	struct guest *g;
	uint8_t got[24];
	static const uint8_t expect[24] = {
		0x88, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, /* STRB W1 at +0 */
		0x88, 0x77, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, /* STRH W1 at +8 */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* STR X1 at +16 */
	};

	(void)state;
	g = guest_new(HYP_MEM_RWX);
	assert_int_equal(hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MMIO, no_mmio_exit, NULL), 0);
	memset(g->ram + 0x200, 0xee, 0x40);
	assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_X(1), 0x1122334455667788ull), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x200, 1, 1, HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x208, 2, 1, HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x210, 8, 1,
					    HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_REG64),
			 0);
	/* STR WZR at +0x20, STLR W1 at +0x24 */
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x220, 4, 31, HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x224, 4, 1,
					    HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_ACQ_REL),
			 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(hyp_vm_read_guest(g->vm, RAM_BASE + 0x200, got, sizeof(got)), 0);
	assert_memory_equal(got, expect, sizeof(expect));
	assert_true(all_bytes(g->ram + 0x220, 4, 0));
	assert_int_equal(g->ram[0x224], 0x88);
	assert_int_equal(g->ram[0x227], 0x55);
	assert_int_equal(g->ram[0x228], 0xee);
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE + 5 * 4);
	guest_fini(g);
}

static void test_mock_access_across_adjacent_regions(void **state)
{
	struct guest *g;
	uint8_t *hi;

	(void)state;
	/* RAM is [RAM_BASE, +4 pages); a second region, elsewhere on the host, follows it. Stage 2
	 * translates each page on its own, so a guest access that straddles the boundary of two
	 * RAM regions does not fault on hardware. */
	g = guest_new(HYP_MEM_RWX);
	g->extra = hi = pages(1);
	assert_int_equal(hyp_vm_map(g->vm, RAM_BASE + g->ram_size, hi, PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MMIO, no_mmio_exit, NULL), 0);
	assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_X(1), 0x44332211), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + g->ram_size - 2, 4, 1,
					    HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + g->ram_size - 2, 4, 2, 0), 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(g->ram[g->ram_size - 2], 0x11);
	assert_int_equal(g->ram[g->ram_size - 1], 0x22);
	assert_int_equal(hi[0], 0x33);
	assert_int_equal(hi[1], 0x44);
	assert_int_equal(reg(g->vcpu, 2), 0x44332211);
	guest_fini(g);
}

static void test_mock_load_from_readonly(void **state)
{
	struct guest *g;

	(void)state;
	g = guest_new(HYP_MEM_RO);
	assert_int_equal(hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MMIO, no_mmio_exit, NULL), 0);
	g->ram[0x40] = 0xa5;
	g->ram[0x41] = 0x5a;
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x40, 2, 3, 0), 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(reg(g->vcpu, 3), 0x5aa5);
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE + 4);
	guest_fini(g);
}

static void test_mock_store_to_readonly_exits(void **state)
{
	struct guest *g;
	struct hyp_exit *exit;

	(void)state;
	g = guest_new(HYP_MEM_RX);
	memset(g->ram + 0x80, 0xee, 16);
	assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_X(4), 0xcafef00d12345678ull), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x84, 4, 4, HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_mock_push_wfx(g->vcpu, false), 0);

	assert_int_equal(hyp_vcpu_run(g->vcpu), 0);
	exit = hyp_vcpu_exit(g->vcpu);
	assert_int_equal(exit->reason, HYP_EXIT_MMIO);
	assert_int_equal(exit->vcpu_index, 0);
	assert_int_equal(exit->mmio.ipa, RAM_BASE + 0x84);
	assert_int_equal(exit->mmio.offset, RAM_BASE + 0x84); /* no callback range: absolute */
	assert_int_equal(exit->mmio.is_write, 1);
	assert_int_equal(exit->mmio.len, 4);
	assert_int_equal(exit->mmio.data, 0x12345678);
	assert_int_equal(exit->mmio.reg, 4);
	assert_int_equal(exit->mmio.sign_extend, 0);
	/* The raw syndrome: a data abort from a lower EL, a write (WNR), permission fault. */
	assert_true(exit->raw.valid & HYP_SYNDROME_ESR);
	assert_int_equal((exit->raw.esr >> 26) & 0x3f, 0x24);
	assert_int_equal((exit->raw.esr >> 6) & 1, 1);
	assert_int_equal(exit->raw.esr & 0x3c, 0x0c); /* DFSC: permission fault, any level */
	/* The store did not happen, and the guest has not moved on yet. */
	assert_true(all_bytes(g->ram + 0x80, 16, 0xee));
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE);
	assert_int_equal(hyp_mock_script_length(g->vcpu), 1);

	/* Resuming completes the store (PC + 4) and reaches the WFI. */
	assert_int_equal(hyp_vcpu_run(g->vcpu), 0);
	assert_int_equal(hyp_vcpu_exit(g->vcpu)->reason, HYP_EXIT_WFX);
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE + 4);
	assert_true(all_bytes(g->ram + 0x80, 16, 0xee));
	guest_fini(g);
}

static enum hyp_handler_result ro_store_mmio(void *opaque, struct hyp_vcpu *vcpu,
					     struct hyp_mmio_access *access)
{
	struct hyp_mmio_access *seen = opaque;

	(void)vcpu;
	*seen = *access;
	return HYP_HANDLED;
}

static void test_mock_store_to_readonly_callback(void **state)
{
	struct guest *g;
	struct hyp_mmio_access seen;

	(void)state;
	/* A ROM with a device behind it (flash command interface): stores reach the MMIO
	 * callback covering the ROM's range. */
	g = guest_new(HYP_MEM_RO);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(
		hyp_vm_add_mmio_handler(g->vm, RAM_BASE, g->ram_size, ro_store_mmio, &seen), 0);
	assert_int_equal(hyp_vcpu_set_reg(g->vcpu, HYP_REG_X(6), 0x98), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x2aa, 1, 6, HYP_MOCK_MMIO_WRITE),
			 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(seen.ipa, RAM_BASE + 0x2aa);
	assert_int_equal(seen.offset, 0x2aa);
	assert_int_equal(seen.is_write, 1);
	assert_int_equal(seen.len, 1);
	assert_int_equal(seen.data, 0x98);
	assert_int_equal(g->ram[0x2aa], 0);
	assert_int_equal(reg(g->vcpu, HYP_REG_PC), RAM_BASE + 4);
	guest_fini(g);
}

static void test_mock_access_after_unmap_exits(void **state)
{
	struct guest *g;
	struct hyp_exit *exit;

	(void)state;
	g = guest_new(HYP_MEM_RWX);
	assert_int_equal(hyp_vm_unmap(g->vm, RAM_BASE, g->ram_size), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, RAM_BASE + 0x10, 4, 0, 0), 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), 0);
	exit = hyp_vcpu_exit(g->vcpu);
	assert_int_equal(exit->reason, HYP_EXIT_MMIO);
	assert_int_equal(exit->mmio.ipa, RAM_BASE + 0x10);
	assert_int_equal(exit->mmio.is_write, 0);
	assert_int_equal(exit->raw.esr & 0x3c, 0x04); /* DFSC: translation fault */
	exit->mmio.data = 0x11223344;
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(reg(g->vcpu, 0), 0x11223344);
	guest_fini(g);
}

/* ---- Map/unmap while a vCPU runs -------------------------------------------------------- */

struct busy_probe {
	int calls;
	int map, map_ro, unmap, unmap_absent;
	int read, write, ptr;
	uint8_t read_byte;
	void *page;
};

static enum hyp_handler_result busy_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	struct busy_probe *p = opaque;
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);
	uint8_t b = 0x42;
	void *ptr;

	p->calls++;
	p->map = hyp_vm_map(vm, 0x80000000ull, p->page, PAGE, HYP_MEM_RWX);
	p->map_ro = hyp_vm_map(vm, 0x80001000ull, p->page, PAGE, HYP_MEM_RO);
	p->unmap = hyp_vm_unmap(vm, RAM_BASE, 4 * PAGE);
	p->unmap_absent = hyp_vm_unmap(vm, 0x90000000ull, PAGE);
	/* Device models may still reach guest RAM from a callback. */
	p->read = hyp_vm_read_guest(vm, RAM_BASE + 0x10, &p->read_byte, 1);
	p->write = hyp_vm_write_guest(vm, RAM_BASE + 0x11, &b, 1);
	p->ptr = hyp_vm_guest_ptr(vm, RAM_BASE, 16, true, &ptr);
	access->data = 0;
	return HYP_HANDLED;
}

static void test_map_unmap_while_running(void **state)
{
	struct guest *g;
	struct busy_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	g = guest_new(HYP_MEM_RWX);
	g->extra = p.page = pages(1);
	g->ram[0x10] = 0x7e;
	assert_int_equal(hyp_vm_add_mmio_handler(g->vm, MMIO_BASE, 0x1000, busy_mmio, &p), 0);
	assert_int_equal(hyp_mock_push_mmio(g->vcpu, MMIO_BASE, 4, 0, 0), 0);
	assert_int_equal(hyp_vcpu_run(g->vcpu), -ENODATA);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.map, -EBUSY);
	assert_int_equal(p.map_ro, -EBUSY);
	assert_int_equal(p.unmap, -EBUSY);
	assert_int_equal(p.unmap_absent, -EBUSY);
	assert_int_equal(p.read, 0);
	assert_int_equal(p.read_byte, 0x7e);
	assert_int_equal(p.write, 0);
	assert_int_equal(g->ram[0x11], 0x42);
	assert_int_equal(p.ptr, 0);
	/* Nothing changed in the map... */
	assert_false(mapped(g->vm, 0x80000000ull));
	assert_true(mapped(g->vm, RAM_BASE));
	/* ...and once the vCPU is out of run, the same calls work. */
	assert_int_equal(hyp_vm_map(g->vm, 0x80000000ull, p.page, PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_unmap(g->vm, RAM_BASE, 4 * PAGE), 0);
	assert_int_equal(hyp_vm_unmap(g->vm, 0x90000000ull, PAGE), -ENOENT);
	guest_fini(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_zero_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_flags, setup, teardown),
		cmocka_unit_test(test_map_ipa_limit_default),
		cmocka_unit_test(test_map_ipa_limit_32),
		cmocka_unit_test(test_map_ipa_limit_52),
		cmocka_unit_test_setup_teardown(test_map_wrapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_exact_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_two_regions_not_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remap_after_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_reuse_invisible, setup, teardown),
		cmocka_unit_test(test_many_regions),
		cmocka_unit_test(test_region_limit),
		cmocka_unit_test_setup_teardown(test_readonly_accepted, setup, teardown),
		cmocka_unit_test(test_readonly_refused),
		cmocka_unit_test_setup_teardown(test_rw_across_adjacent_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_across_three_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_partially_unbacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_wrapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_len_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_after_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_ptr_within_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_ptr_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_ptr_spanning_two, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_ptr_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_span, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_load_from_ram, NULL, guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_store_to_ram, NULL, guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_access_across_adjacent_regions, NULL,
						guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_load_from_readonly, NULL, guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_store_to_readonly_exits, NULL,
						guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_store_to_readonly_callback, NULL,
						guest_teardown),
		cmocka_unit_test_setup_teardown(test_mock_access_after_unmap_exits, NULL,
						guest_teardown),
		cmocka_unit_test_setup_teardown(test_map_unmap_while_running, NULL, guest_teardown),
	};

	return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
