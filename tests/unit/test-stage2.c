// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/stage2: stage-2 translation tables (4 KiB granule), VTCR_EL2/VTTBR_EL2
 * values, the software walker, TLB maintenance reports and VMID allocation.
 *
 * The tests do not trust lib/stage2's own definitions for what they check: descriptor and register
 * fields are written out below from the Arm ARM (DDI 0487, D8 "The AArch64 Virtual Memory System
 * Architecture", the stage 2 block/page/table descriptor formats, and register VTCR_EL2), and a
 * second, test-only table walker (ref_walk) checks every translation the library's walker reports.
 *
 * Table pages come from an arena with made-up physical addresses (host pointers and "physical"
 * addresses differ, as at EL2 with an offset map), which counts pages, can fail the Nth allocation,
 * fills new pages with garbage, and (under AddressSanitizer) poisons freed pages so that any access
 * to a freed table is caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "stage2/stage2.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)
#define PAGE KiB(4)

/* ---------------------------------------------------------------------------------------------
 * Architectural encodings, from the Arm ARM (not from stage2.h).
 *
 * Stage 2 block/page descriptor: [0] valid, [1] 1 = table (levels 0-2) / page (level 3), 0 = block,
 * [5:2] MemAttr, [7:6] S2AP (bit 6 read, bit 7 write), [9:8] SH, [10] AF, [47:12] output address,
 * [54:53] XN[1:0] (FEAT_XNX; bit 54 alone without it).
 */
#define D_VALID (UINT64_C(1) << 0)
#define D_TYPE (UINT64_C(1) << 1)
#define D_MEMATTR(d) (((d) >> 2) & 0xf)
#define D_S2AP(d) (((d) >> 6) & 3)
#define D_SH(d) (((d) >> 8) & 3)
#define D_AF (UINT64_C(1) << 10)
#define D_OA_MASK UINT64_C(0x0000fffffffff000)
#define D_XN(d) (((d) >> 53) & 3)

/* S2AP: 00 no access, 01 read-only, 10 write-only, 11 read/write. */
#define S2AP_NONE 0
#define S2AP_RO 1
#define S2AP_WO 2
#define S2AP_RW 3
/* MemAttr with HCR_EL2.FWB = 0: 0b1111 Normal WB (outer, inner), 0b0101 Normal NC, 0b0001
 * Device-nGnRE, 0b0000 Device-nGnRnE. */
#define MEMATTR_NORMAL_WB 0xf
#define MEMATTR_NORMAL_NC 0x5
#define MEMATTR_DEV_nGnRE 0x1
#define MEMATTR_DEV_nGnRnE 0x0

/* VTCR_EL2: T0SZ [5:0], SL0 [7:6], IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12], TG0 [15:14], PS [18:16],
 * VS [19], bit 31 RES1. */
#define VTCR_T0SZ(v) ((v)&0x3f)
#define VTCR_SL0(v) (((v) >> 6) & 3)
#define VTCR_IRGN0(v) (((v) >> 8) & 3)
#define VTCR_ORGN0(v) (((v) >> 10) & 3)
#define VTCR_SH0(v) (((v) >> 12) & 3)
#define VTCR_TG0(v) (((v) >> 14) & 3)
#define VTCR_PS(v) (((v) >> 16) & 7)
#define VTCR_VS (UINT64_C(1) << 19)
#define VTCR_RES1 (UINT64_C(1) << 31)
#define VTCR_KNOWN (UINT64_C(0x800fffff))

/* ID_AA64MMFR0_EL1.PARange [3:0]: 0b0101 = 48 bits; VMIDBits [7:4]: 0b0010 = 16 bits. */
#define MMFR0_PA48 UINT64_C(5)
#define MMFR0_VMID16 (UINT64_C(2) << 4)
/* ID_AA64MMFR1_EL1.XNX [31:28] = 1. */
#define MMFR1_XNX (UINT64_C(1) << 28)

static unsigned int shift_of(int level)
{
	return 12 + 9 * (unsigned int)(3 - level);
}

static uint64_t size_of(int level)
{
	return UINT64_C(1) << shift_of(level);
}

/* ---------------------------------------------------------------------------------------------
 * The test environment: an arena allocator with fake physical addresses, and a TLB log.
 */

#define ARENA_PAGES 16384u
#define ARENA_PA UINT64_C(0x80000000) /* fits every PA size, 32 bits included */
#define ST_FREE 0
#define ST_SINGLE 1
#define ST_INSIDE 0xff /* a page inside a multi-page run (its first page holds the count) */
#define TLB_LOG_MAX 8192u

struct tlb_rec {
	bool vmid;
	hyp_ipa_t ipa;
	int level;
	/* What a walk of @ipa gave when the flush was requested. */
	enum hyp_s2_fault fault_then;
	int level_then;
	uint64_t desc_then;
	size_t live_then;
};

struct env {
	uint8_t *mem;
	uint8_t state[ARENA_PAGES];
	size_t cursor;
	size_t live;	/* pages currently allocated */
	size_t calls;	/* allocation calls since the counter was reset */
	size_t fail_at; /* fail the allocation call with this number (1-based); 0 = never */
	size_t pages_calls;
	/* Tables freed by an operation must follow a TLB report in it (tlb_reset() before it). */
	bool check_free_after_flush;

	struct hyp_s2_mm_ops ops;
	struct hyp_s2 s2;

	size_t ntlb;
	size_t nvmid;
	struct tlb_rec tlb[TLB_LOG_MAX];
};

static void *arena_get(struct env *e, unsigned int n)
{
	size_t start = (e->cursor / n) * n;

	e->calls++;
	if (e->fail_at && e->calls == e->fail_at)
		return NULL;
	for (size_t k = 0; k < ARENA_PAGES; k += n) {
		size_t i = (start + k) % ARENA_PAGES, j;
		uint8_t *p;

		for (j = 0; j < n && e->state[i + j] == ST_FREE; j++)
			;
		if (j < n)
			continue;
		for (j = 0; j < n; j++)
			e->state[i + j] = ST_INSIDE;
		e->state[i] = (uint8_t)n;
		e->cursor = i + n;
		e->live += n;
		p = e->mem + i * PAGE;
		UNPOISON(p, n * PAGE);
		memset(p, 0x5a, n * PAGE); /* the library must initialise what it takes */
		return p;
	}
	fail_msg("test arena exhausted");
	return NULL;
}

static size_t arena_index(struct env *e, void *p)
{
	uintptr_t off = (uintptr_t)((uint8_t *)p - e->mem);

	if ((uint8_t *)p < e->mem || off >= (uintptr_t)ARENA_PAGES * PAGE || (off & (PAGE - 1)))
		fail_msg("pointer %p is not an arena page", p);
	return off / PAGE;
}

static void arena_put(struct env *e, void *p, unsigned int n)
{
	size_t i = arena_index(e, p);

	if (e->state[i] != n)
		fail_msg("freeing page %zu with count %u, state %u", i, n, e->state[i]);
	for (unsigned int j = 0; j < n; j++)
		e->state[i + j] = ST_FREE;
	e->live -= n;
	memset(p, 0xdd, n * PAGE);
	POISON(p, n * PAGE);
}

static void *t_alloc_page(void *opaque)
{
	return arena_get(opaque, 1);
}

static void t_free_page(void *opaque, void *page)
{
	struct env *e = opaque;

	/* After a failed allocation, the pages freed are the unused pre-allocated ones. Any other
	 * page was a table: it may only go back once its removal has been reported. */
	if (e->check_free_after_flush && !(e->fail_at && e->calls >= e->fail_at) &&
	    e->ntlb + e->nvmid == 0)
		fail_msg("table page freed before any TLB maintenance was reported");
	arena_put(e, page, 1);
}

static void *t_alloc_pages(void *opaque, unsigned int count)
{
	struct env *e = opaque;

	assert_true(count >= 2 && count <= 16 && !(count & (count - 1)));
	e->pages_calls++;
	return arena_get(e, count);
}

static void t_free_pages(void *opaque, void *pages, unsigned int count)
{
	arena_put(opaque, pages, count);
}

static hyp_pa_t t_v2p(void *opaque, void *va)
{
	struct env *e = opaque;
	size_t i = arena_index(e, (void *)((uintptr_t)va & ~(uintptr_t)(PAGE - 1)));

	if (e->state[i] == ST_FREE)
		fail_msg("virt_to_phys of a free page");
	return ARENA_PA + (hyp_pa_t)((uint8_t *)va - e->mem);
}

static void *t_p2v(void *opaque, hyp_pa_t pa)
{
	struct env *e = opaque;

	if (pa < ARENA_PA || pa >= ARENA_PA + (uint64_t)ARENA_PAGES * PAGE)
		return NULL;
	if (e->state[(pa - ARENA_PA) / PAGE] == ST_FREE)
		return NULL;
	return e->mem + (pa - ARENA_PA);
}

static void t_flush_ipa(void *opaque, hyp_ipa_t ipa, int level)
{
	struct env *e = opaque;
	struct hyp_s2_walk w;
	struct tlb_rec *r;

	assert_true(level >= -1 && level <= 3);
	assert_true(e->ntlb < TLB_LOG_MAX);
	r = &e->tlb[e->ntlb++];
	r->vmid = false;
	r->ipa = ipa;
	r->level = level;
	assert_int_equal(hyp_s2_walk(&e->s2, ipa, &w), 0);
	r->fault_then = w.fault;
	r->level_then = w.level;
	r->desc_then = w.desc;
	r->live_then = e->live;
}

static void t_flush_vmid(void *opaque)
{
	struct env *e = opaque;

	e->nvmid++;
}

static const struct hyp_s2_mm_ops base_ops = {
	.alloc_page = t_alloc_page,
	.free_page = t_free_page,
	.alloc_pages = t_alloc_pages,
	.free_pages = t_free_pages,
	.virt_to_phys = t_v2p,
	.phys_to_virt = t_p2v,
	.tlb_flush_ipa = t_flush_ipa,
	.tlb_flush_vmid = t_flush_vmid,
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->mem = aligned_alloc(64 * 1024, (size_t)ARENA_PAGES * PAGE);
	assert_non_null(e->mem);
	POISON(e->mem, (size_t)ARENA_PAGES * PAGE);
	e->ops = base_ops;
	e->ops.opaque = e;
	return e;
}

static void env_free(struct env *e)
{
	UNPOISON(e->mem, (size_t)ARENA_PAGES * PAGE);
	free(e->mem);
	free(e);
}

static int env_init(struct env *e, uint32_t ipa_bits, uint64_t mmfr0, uint64_t mmfr1)
{
	struct hyp_s2_config cfg = { .ipa_bits = ipa_bits, .mmfr0 = mmfr0, .mmfr1 = mmfr1 };

	return hyp_s2_init(&e->s2, &cfg, &e->ops);
}

/* A fresh environment with a 40-bit IPA space, 48-bit PAs. */
static struct env *env_40(void)
{
	struct env *e = env_new();

	assert_int_equal(env_init(e, 40, MMFR0_PA48, 0), 0);
	return e;
}

static void env_done(struct env *e)
{
	e->check_free_after_flush = false;
	hyp_s2_destroy(&e->s2);
	assert_int_equal(e->live, 0);
	env_free(e);
}

static void tlb_reset(struct env *e)
{
	e->ntlb = 0;
	e->nvmid = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Independent checks: a reference walk, and a scan of the whole tree.
 */

static const uint64_t *ref_table(struct env *e, hyp_pa_t pa)
{
	const uint64_t *t = t_p2v(e, pa);

	if (!t)
		fail_msg("table at PA 0x%llx is not a live arena page", (unsigned long long)pa);
	return t;
}

/* Walk from VTCR/the root as the architecture describes, with the literal field positions. */
static bool ref_walk(struct env *e, uint64_t ipa, uint64_t *pa, int *level, uint64_t *desc)
{
	uint64_t vtcr = e->s2.vtcr;
	unsigned int ipa_bits = 64 - (unsigned int)VTCR_T0SZ(vtcr);
	int lvl =
		2 - (int)VTCR_SL0(vtcr); /* 4 KiB granule: SL0 0b00 = level 2 ... 0b10 = level 0 */
	const uint64_t *t = ref_table(e, e->s2.root_pa);
	uint64_t idx = ipa >> shift_of(lvl);

	if (ipa >> ipa_bits)
		return false;
	for (;;) {
		uint64_t d = t[idx];

		if (!(d & D_VALID))
			return false;
		if (lvl < 3 && (d & D_TYPE)) {
			t = ref_table(e, d & D_OA_MASK);
			lvl++;
			idx = (ipa >> shift_of(lvl)) & 511;
			continue;
		}
		assert_true(lvl >= 1);
		if (lvl == 3)
			assert_true(d & D_TYPE);
		*pa = (d & D_OA_MASK & ~(size_of(lvl) - 1)) | (ipa & (size_of(lvl) - 1));
		*level = lvl;
		*desc = d;
		return true;
	}
}

typedef void (*leaf_fn)(void *ctx, uint64_t ipa, uint64_t desc, int level);

struct scan {
	size_t tables;
	size_t leaves;
	uint64_t mapped;
	uint64_t hash;
	leaf_fn fn;
	void *ctx;
};

static bool table_empty(const uint64_t *t)
{
	for (unsigned int i = 0; i < 512; i++)
		if (t[i] & D_VALID)
			return false;
	return true;
}

static void scan_table(struct env *e, const uint64_t *t, size_t n, int level, uint64_t base,
		       struct scan *sc)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t d = t[i], ipa = base + ((uint64_t)i << shift_of(level));

		if (!(d & D_VALID)) {
			if (d != 0)
				fail_msg("invalid descriptor 0x%llx is not 0",
					 (unsigned long long)d);
			continue;
		}
		if (level < 3 && (d & D_TYPE)) {
			const uint64_t *child = ref_table(e, d & D_OA_MASK);

			/* A single page, allocated (ref_table checked it is in the arena). */
			assert_int_equal(e->state[((d & D_OA_MASK) - ARENA_PA) / PAGE], ST_SINGLE);
			/* Stage 2 table descriptors carry nothing but the address. */
			assert_int_equal(d & ~(D_OA_MASK | D_VALID | D_TYPE), 0);
			/* Tables left empty are freed. */
			if (table_empty(child))
				fail_msg("empty table left at level %d for IPA 0x%llx", level + 1,
					 (unsigned long long)ipa);
			sc->tables++;
			scan_table(e, child, 512, level + 1, ipa, sc);
			continue;
		}
		if (level == 0 || (level == 3 && !(d & D_TYPE)))
			fail_msg("bad leaf 0x%llx at level %d", (unsigned long long)d, level);
		assert_true(d & D_AF);
		assert_int_equal(D_SH(d), 3);
		/* Block output addresses have no bits below the block size. */
		assert_int_equal(d & D_OA_MASK & (size_of(level) - 1), 0);
		sc->leaves++;
		sc->mapped += size_of(level);
		sc->hash = (sc->hash ^ ipa ^ (d * UINT64_C(0x9e3779b97f4a7c15))) *
				   UINT64_C(0x100000001b3) +
			   (uint64_t)level;
		if (sc->fn)
			sc->fn(sc->ctx, ipa, d, level);
	}
}

/* Scan everything: structure invariants, no leaked or dangling page, and a fingerprint. */
static struct scan check_tables_fn(struct env *e, leaf_fn fn, void *ctx)
{
	struct scan sc = { .fn = fn, .ctx = ctx };

	scan_table(e, e->s2.root, (size_t)e->s2.root_pages * 512, e->s2.start_level, 0, &sc);
	assert_int_equal(sc.tables + e->s2.root_pages, e->live);
	assert_int_equal(e->s2.pages, e->live);
	return sc;
}

static struct scan check_tables(struct env *e)
{
	return check_tables_fn(e, NULL, NULL);
}

static void expect_map(struct env *e, uint64_t ipa, uint64_t pa, int level, uint32_t attrs)
{
	struct hyp_s2_walk w;
	uint64_t rpa, rdesc;
	int rlevel;

	assert_int_equal(hyp_s2_walk(&e->s2, ipa, &w), 0);
	if (w.fault != HYP_S2_FAULT_NONE)
		fail_msg("IPA 0x%llx: fault %d at level %d", (unsigned long long)ipa, w.fault,
			 w.level);
	assert_int_equal(w.pa, pa);
	assert_int_equal(w.level, level);
	assert_int_equal(w.size, size_of(level));
	assert_int_equal(w.attrs, attrs);
	assert_true(ref_walk(e, ipa, &rpa, &rlevel, &rdesc));
	assert_int_equal(rpa, pa);
	assert_int_equal(rlevel, level);
	assert_int_equal(rdesc, w.desc);
}

static void expect_unmapped(struct env *e, uint64_t ipa, int level)
{
	struct hyp_s2_walk w;
	uint64_t rpa, rdesc;
	int rlevel;

	assert_int_equal(hyp_s2_walk(&e->s2, ipa, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
	if (level >= 0)
		assert_int_equal(w.level, level);
	assert_false(ref_walk(e, ipa, &rpa, &rlevel, &rdesc));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static void seed_rng(uint64_t seed)
{
	const char *s = getenv("S2_SEED");

	rng_state = s ? strtoull(s, NULL, 0) : seed;
	if (!rng_state)
		rng_state = 1;
	print_message("# seed 0x%llx (S2_SEED to override)\n", (unsigned long long)rng_state);
}

/* ---------------------------------------------------------------------------------------------
 * Configuration: VTCR_EL2, start level, concatenated roots, VTTBR_EL2.
 */

static void test_vtcr_every_ipa_size(void **state)
{
	(void)state;
	for (unsigned int ipa_bits = 32; ipa_bits <= 48; ipa_bits++) {
		struct env *e = env_new();
		/* Arm ARM, VTCR_EL2.SL0 with TG0 = 4 KiB: the chosen start level 1 (SL0 = 0b01)
		 * resolves IPA bits [ipa_bits-1:30], at most 9 + 4 (16 concatenated tables): 31..43
		 * bits; level 0 (SL0 = 0b10) above that. */
		int start = ipa_bits <= 43 ? 1 : 0;
		unsigned int roots = ipa_bits > 39 && ipa_bits <= 43 ? 1u << (ipa_bits - 39) : 1;
		uint64_t vtcr, top = (UINT64_C(1) << ipa_bits), vttbr;
		struct hyp_s2_walk w;
		const uint64_t *root;
		uint64_t idx;

		print_message("# IPA %u bits\n", ipa_bits);
		assert_int_equal(env_init(e, ipa_bits, MMFR0_PA48, 0), 0);
		vtcr = hyp_s2_vtcr(&e->s2);
		assert_int_equal(VTCR_T0SZ(vtcr), 64 - ipa_bits);
		assert_int_equal(VTCR_SL0(vtcr), start == 1 ? 1 : 2);
		assert_int_equal(VTCR_IRGN0(vtcr), 1); /* Write-Back RA WA */
		assert_int_equal(VTCR_ORGN0(vtcr), 1);
		assert_int_equal(VTCR_SH0(vtcr), 3); /* Inner Shareable */
		assert_int_equal(VTCR_TG0(vtcr), 0); /* 4 KiB */
		assert_int_equal(VTCR_PS(vtcr), 5);  /* 48 bits */
		assert_false(vtcr & VTCR_VS);
		assert_true(vtcr & VTCR_RES1);
		assert_int_equal(vtcr & ~VTCR_KNOWN, 0);
		assert_int_equal(vtcr & 0x7ff00000u, 0); /* HA, HD, ... */

		assert_int_equal(e->s2.start_level, start);
		assert_int_equal(e->s2.root_pages, roots);
		assert_int_equal(e->live, roots);
		assert_int_equal(e->pages_calls, roots > 1 ? 1 : 0);
		assert_int_equal(e->s2.root_pa & (roots * PAGE - 1), 0);
		assert_int_equal(hyp_s2_vttbr(&e->s2, 1, &vttbr), 0);
		assert_int_equal(vttbr, e->s2.root_pa | (UINT64_C(1) << 48));

		/* The walker derives the start level from VTCR alone. */
		assert_int_equal(hyp_s2_walk(&e->s2, 0, &w), 0);
		assert_int_equal(w.start_level, start);
		assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
		assert_int_equal(w.level, start);

		/* The last page and the last 1 GiB block of the space land in the last root entry
		 * used: with concatenation, in the last root page. */
		assert_int_equal(hyp_s2_map(&e->s2, top - PAGE, GiB(7), PAGE, HYP_S2_RW), 0);
		assert_int_equal(hyp_s2_map(&e->s2, top - GiB(2), GiB(8), GiB(1), HYP_S2_RW), 0);
		assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(9), MiB(2), HYP_S2_R), 0);
		root = e->s2.root;
		idx = (top - 1) >> shift_of(start);
		assert_true(idx < (uint64_t)roots * 512);
		assert_true(idx >= (uint64_t)(roots - 1) * 512);
		assert_true(root[idx] & D_VALID);
		assert_true(root[idx] & D_TYPE);
		expect_map(e, top - PAGE, GiB(7), 3, HYP_S2_RW);
		expect_map(e, top - GiB(2) + MiB(5) + 0x123, GiB(8) + MiB(5) + 0x123, 1, HYP_S2_RW);
		expect_map(e, 0x1000, GiB(9) + 0x1000, 2, HYP_S2_R);
		assert_int_equal(hyp_s2_walk(&e->s2, top - PAGE, &w), 0);
		assert_int_equal(w.start_level, start);

		/* Nothing exists at or above 2^ipa_bits. */
		assert_int_equal(hyp_s2_map(&e->s2, top, GiB(1), PAGE, HYP_S2_RW), -ERANGE);
		assert_int_equal(hyp_s2_map(&e->s2, top - PAGE, GiB(1), 2 * PAGE, HYP_S2_RW),
				 -ERANGE);
		assert_int_equal(hyp_s2_walk(&e->s2, top, &w), 0);
		assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
		assert_int_equal(w.level, 0);
		check_tables(e);
		env_done(e);
	}
}

static void test_config_parange_and_limits(void **state)
{
	static const unsigned int pa_of[] = { 32, 36, 40, 42, 44, 48, 52 };
	struct hyp_s2_config cfg = { 0 };
	struct hyp_s2 poison;
	struct env *e = env_new();

	(void)state;
	/* ipa_bits 0: the PA size, capped at 48 (PS too: no 52-bit descriptors without LPA2). */
	for (unsigned int pr = 0; pr < 7; pr++) {
		unsigned int expect = pa_of[pr] > 48 ? 48 : pa_of[pr];

		assert_int_equal(env_init(e, 0, pr, 0), 0);
		assert_int_equal(e->s2.ipa_bits, expect);
		assert_int_equal(e->s2.pa_bits, expect);
		assert_int_equal(64 - VTCR_T0SZ(e->s2.vtcr), expect);
		assert_int_equal(VTCR_PS(e->s2.vtcr), pr > 5 ? 5 : pr);
		hyp_s2_destroy(&e->s2);
		assert_int_equal(e->live, 0);
	}
	/* A PARange value this code does not know (future, larger): treated as 48 bits. */
	assert_int_equal(env_init(e, 0, 0xf, 0), 0);
	assert_int_equal(e->s2.ipa_bits, 48);
	hyp_s2_destroy(&e->s2);

	/* Errors leave the output untouched and allocate nothing. */
	memset(&e->s2, 0xa5, sizeof(e->s2));
	memcpy(&poison, &e->s2, sizeof(poison));
	assert_int_equal(env_init(e, 33, 0 /* 32-bit PA */, 0), -ERANGE);
	assert_int_equal(env_init(e, 44, 2 /* 40-bit PA */, 0), -ERANGE);
	assert_int_equal(env_init(e, 31, MMFR0_PA48, 0), -EINVAL);
	assert_int_equal(env_init(e, 53, MMFR0_PA48, 0), -EINVAL);
	for (unsigned int b = 49; b <= 52; b++)
		assert_int_equal(env_init(e, b, 6 /* 52-bit PA */, 0), -ENOTSUP);
	cfg.mmfr0 = MMFR0_PA48;
	cfg.vmid_bits = 16;
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), -ENOTSUP); /* VMIDBits = 8 */
	cfg.vmid_bits = 12;
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), -EINVAL);
	cfg.vmid_bits = 0;
	/* TGran4_2 = 0b0001: no 4 KiB granule at stage 2; 0b0000 defers to TGran4 (0xf = none). */
	cfg.mmfr0 = MMFR0_PA48 | (UINT64_C(1) << 40);
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), -ENOTSUP);
	cfg.mmfr0 = MMFR0_PA48 | (UINT64_C(0xf) << 28);
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), -ENOTSUP);
	assert_int_equal(hyp_s2_init(NULL, &cfg, &e->ops), -EINVAL);
	assert_int_equal(hyp_s2_init(&e->s2, NULL, &e->ops), -EINVAL);
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, NULL), -EINVAL);
	e->ops.phys_to_virt = NULL;
	assert_int_equal(env_init(e, 40, MMFR0_PA48, 0), -EINVAL);
	e->ops = base_ops;
	e->ops.opaque = e;
	/* Concatenated roots need alloc_pages. */
	e->ops.alloc_pages = NULL;
	assert_int_equal(env_init(e, 41, MMFR0_PA48, 0), -ENOTSUP);
	assert_int_equal(env_init(e, 39, MMFR0_PA48, 0), 0);
	hyp_s2_destroy(&e->s2);
	e->ops = base_ops;
	e->ops.opaque = e;
	memset(&e->s2, 0xa5, sizeof(e->s2));
	/* Root allocation failure. */
	e->calls = 0;
	e->fail_at = 1;
	assert_int_equal(env_init(e, 43, MMFR0_PA48, 0), -ENOMEM);
	e->calls = 0;
	assert_int_equal(env_init(e, 36, MMFR0_PA48, 0), -ENOMEM);
	e->fail_at = 0;
	assert_int_equal(e->live, 0);
	assert_memory_equal(&e->s2, &poison, sizeof(poison));

	/* VMID size: from VMIDBits when not asked, VS set for 16 bits. */
	cfg.mmfr0 = MMFR0_PA48 | MMFR0_VMID16;
	cfg.vmid_bits = 0;
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), 0);
	assert_int_equal(e->s2.vmid_bits, 16);
	assert_true(e->s2.vtcr & VTCR_VS);
	hyp_s2_destroy(&e->s2);
	cfg.vmid_bits = 8;
	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), 0);
	assert_int_equal(e->s2.vmid_bits, 8);
	assert_false(e->s2.vtcr & VTCR_VS);
	hyp_s2_destroy(&e->s2);
	hyp_s2_destroy(&e->s2); /* twice: harmless */
	hyp_s2_destroy(NULL);
	env_done(e);
}

static void test_vttbr(void **state)
{
	struct env *e = env_40();
	struct hyp_s2_config cfg = { .ipa_bits = 40, .mmfr0 = MMFR0_PA48 | MMFR0_VMID16 };
	uint64_t v = 0x1234;

	(void)state;
	assert_int_equal(hyp_s2_vttbr(&e->s2, 5, &v), 0);
	/* BADDR = root PA (2 concatenated tables: 8 KiB aligned), VMID at [55:48], CnP = 0. */
	assert_int_equal(v, e->s2.root_pa | (UINT64_C(5) << 48));
	assert_int_equal(v & 1, 0);
	assert_int_equal(v & 0x1fff, 0);
	v = 0x1234;
	assert_int_equal(hyp_s2_vttbr(&e->s2, 256, &v), -ERANGE);
	assert_int_equal(v, 0x1234);
	assert_int_equal(hyp_s2_vttbr(&e->s2, 255, &v), 0);
	assert_int_equal(v >> 48, 255);
	assert_int_equal(hyp_s2_vttbr(NULL, 1, &v), -EINVAL);
	assert_int_equal(hyp_s2_vttbr(&e->s2, 1, NULL), -EINVAL);
	hyp_s2_destroy(&e->s2);

	assert_int_equal(hyp_s2_init(&e->s2, &cfg, &e->ops), 0);
	assert_int_equal(hyp_s2_vttbr(&e->s2, 0xffff, &v), 0);
	assert_int_equal(v, e->s2.root_pa | (UINT64_C(0xffff) << 48));
	assert_int_equal(hyp_s2_vttbr(&e->s2, 0x10000, &v), -ERANGE);
	env_done(e);
}

/* ---------------------------------------------------------------------------------------------
 * Mapping: block sizes, translations, attributes.
 */

static void test_map_largest_blocks(void **state)
{
	struct env *e = env_40();
	const uint64_t *root = e->s2.root;
	uint64_t d;

	(void)state;
	/* Both addresses 1 GiB aligned: 1 GiB + 2 MiB + 4 KiB is a 1 GiB block, a 2 MiB block and
	 * a page, in one level-2 and one level-3 table. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(4), GiB(1) + MiB(2) + PAGE, HYP_S2_RWX), 0);
	assert_int_equal(e->live, 2 + 2);
	expect_map(e, GiB(1), GiB(4), 1, HYP_S2_RWX);
	expect_map(e, GiB(2) - 1, GiB(5) - 1, 1, HYP_S2_RWX);
	expect_map(e, GiB(2), GiB(5), 2, HYP_S2_RWX);
	expect_map(e, GiB(2) + MiB(2) - 8, GiB(5) + MiB(2) - 8, 2, HYP_S2_RWX);
	expect_map(e, GiB(2) + MiB(2), GiB(5) + MiB(2), 3, HYP_S2_RWX);
	expect_unmapped(e, GiB(2) + MiB(2) + PAGE, 3);
	expect_unmapped(e, GiB(1) - PAGE, 1);
	/* The 1 GiB block descriptor itself: root index 1 (IPA[39:30]), bit 1 clear. */
	d = root[1];
	assert_true(d & D_VALID);
	assert_false(d & D_TYPE);
	assert_int_equal(d & D_OA_MASK, GiB(4));
	assert_true(d & D_AF);
	assert_int_equal(D_SH(d), 3);
	assert_int_equal(D_S2AP(d), S2AP_RW);
	assert_int_equal(D_MEMATTR(d), MEMATTR_NORMAL_WB);
	assert_int_equal(D_XN(d), 0);
	assert_int_equal(d & ~(D_OA_MASK | 0x7ff | (UINT64_C(3) << 53)), 0);

	/* PA only 2 MiB aligned: 2 MiB blocks, even with a 1 GiB aligned IPA. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(8), GiB(16) + MiB(2), GiB(1), HYP_S2_RW), 0);
	for (uint64_t off = 0; off < GiB(1); off += MiB(2))
		expect_map(e, GiB(8) + off + 0x40, GiB(16) + MiB(2) + off + 0x40, 2, HYP_S2_RW);

	/* IPA and PA congruent modulo 2 MiB but not aligned: pages up to the first 2 MiB boundary,
	 * then a block, then pages. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(20) + PAGE, GiB(32) + PAGE, MiB(4), HYP_S2_R), 0);
	expect_map(e, GiB(20) + PAGE, GiB(32) + PAGE, 3, HYP_S2_R);
	expect_map(e, GiB(20) + MiB(2) - PAGE, GiB(32) + MiB(2) - PAGE, 3, HYP_S2_R);
	expect_map(e, GiB(20) + MiB(2), GiB(32) + MiB(2), 2, HYP_S2_R);
	expect_map(e, GiB(20) + MiB(4), GiB(32) + MiB(4), 3, HYP_S2_R);
	expect_unmapped(e, GiB(20) + MiB(4) + PAGE, 3);
	expect_unmapped(e, GiB(20), 3);

	/* Aligned IPA, PA off by a page: nothing but pages. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(24), GiB(40) + PAGE, MiB(4), HYP_S2_R), 0);
	for (uint64_t off = 0; off < MiB(4); off += PAGE)
		expect_map(e, GiB(24) + off, GiB(40) + PAGE + off, 3, HYP_S2_R);
	check_tables(e);
	env_done(e);
}

struct region {
	uint64_t ipa, pa, size;
	uint32_t attrs;
};

static const struct region *find_region(const struct region *r, size_t n, uint64_t ipa)
{
	for (size_t i = 0; i < n; i++)
		if (ipa >= r[i].ipa && ipa - r[i].ipa < r[i].size)
			return &r[i];
	return NULL;
}

/* The largest descriptor the mapping can use at @ipa, given the region's alignment. */
static int best_level(const struct region *r, uint64_t ipa)
{
	for (int level = 1; level < 3; level++) {
		uint64_t sz = size_of(level), base = ipa & ~(sz - 1);

		if (base >= r->ipa && base + sz <= r->ipa + r->size &&
		    !((r->pa + (base - r->ipa)) & (sz - 1)))
			return level;
	}
	return 3;
}

static void test_map_translate_random(void **state)
{
	const struct region regions[] = {
		/* 3 GiB + 6 MiB + 12 KiB, IPA and PA congruent modulo 1 GiB. */
		{ GiB(1) - MiB(2) - PAGE, GiB(100) - MiB(2) - PAGE, GiB(3) + MiB(6) + 3 * PAGE,
		  HYP_S2_RWX },
		/* Across the boundary between the two concatenated root tables (2^39). */
		{ GiB(512) - GiB(1) - MiB(2), GiB(200) - MiB(2), GiB(2) + MiB(4), HYP_S2_RW },
		/* Congruent modulo 2 MiB only. */
		{ GiB(700) + MiB(3) + PAGE, GiB(300) + MiB(1) + PAGE, GiB(1) + MiB(7), HYP_S2_R },
		/* Device registers. */
		{ GiB(900), UINT64_C(0x09000000), MiB(2) + 5 * PAGE,
		  HYP_S2_RW | HYP_S2_MEM_DEVICE },
		/* The very top of the 40-bit space. */
		{ GiB(1024) - MiB(10), GiB(400) + MiB(2), MiB(10),
		  HYP_S2_R | HYP_S2_MEM_NORMAL_NC },
	};
	const size_t n = sizeof(regions) / sizeof(regions[0]);
	struct env *e = env_40();

	(void)state;
	seed_rng(0x5eed0001);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(hyp_s2_map(&e->s2, regions[i].ipa, regions[i].pa, regions[i].size,
					    regions[i].attrs),
				 0);
	check_tables(e);

	for (int i = 0; i < 20000; i++) {
		const struct region *r = &regions[rnd() % n];
		uint64_t ipa, off;

		/* Mostly inside a region, sometimes just around it. */
		switch (rnd() % 8) {
		case 0:
			ipa = r->ipa - 1 - rnd() % MiB(3);
			break;
		case 1:
			ipa = r->ipa + r->size + rnd() % MiB(3);
			break;
		case 2:
			ipa = r->ipa + (rnd() % 4) * PAGE + rnd() % PAGE;
			break;
		case 3:
			ipa = r->ipa + r->size - 1 - (rnd() % 4) * PAGE - rnd() % PAGE;
			break;
		default:
			ipa = r->ipa + rnd() % r->size;
			break;
		}
		if (ipa >> 40)
			continue;
		r = find_region(regions, n, ipa);
		if (!r) {
			expect_unmapped(e, ipa, -1);
			continue;
		}
		off = ipa - r->ipa;
		expect_map(e, ipa, r->pa + off, best_level(r, ipa), r->attrs);
	}
	env_done(e);
}

static void test_attributes(void **state)
{
	static const struct {
		uint32_t attrs;
		unsigned int s2ap, xn, memattr;
	} cases[] = {
		{ HYP_S2_RWX, S2AP_RW, 0, MEMATTR_NORMAL_WB },
		{ HYP_S2_RW, S2AP_RW, 2, MEMATTR_NORMAL_WB },
		{ HYP_S2_R, S2AP_RO, 2, MEMATTR_NORMAL_WB },
		{ HYP_S2_R | HYP_S2_X, S2AP_RO, 0, MEMATTR_NORMAL_WB },
		{ HYP_S2_W, S2AP_WO, 2, MEMATTR_NORMAL_WB },
		{ 0, S2AP_NONE, 2, MEMATTR_NORMAL_WB },
		{ HYP_S2_X, S2AP_NONE, 0, MEMATTR_NORMAL_WB },
		{ HYP_S2_RW | HYP_S2_MEM_NORMAL_NC, S2AP_RW, 2, MEMATTR_NORMAL_NC },
		{ HYP_S2_RWX | HYP_S2_MEM_NORMAL_NC, S2AP_RW, 0, MEMATTR_NORMAL_NC },
		{ HYP_S2_RW | HYP_S2_MEM_DEVICE, S2AP_RW, 2, MEMATTR_DEV_nGnRE },
		{ HYP_S2_R | HYP_S2_MEM_DEVICE, S2AP_RO, 2, MEMATTR_DEV_nGnRE },
		{ HYP_S2_RW | HYP_S2_MEM_DEVICE_nGnRnE, S2AP_RW, 2, MEMATTR_DEV_nGnRnE },
	};
	struct env *e = env_40();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* A page and a 2 MiB block for each. */
		uint64_t page_ipa = GiB(2) + i * MiB(2), block_ipa = GiB(4) + i * MiB(2);
		uint64_t rpa, d;
		int level;

		assert_int_equal(hyp_s2_map(&e->s2, page_ipa, GiB(9) + PAGE, PAGE, cases[i].attrs),
				 0);
		assert_int_equal(hyp_s2_map(&e->s2, block_ipa, GiB(10), MiB(2), cases[i].attrs), 0);
		expect_map(e, page_ipa, GiB(9) + PAGE, 3, cases[i].attrs);
		expect_map(e, block_ipa, GiB(10), 2, cases[i].attrs);
		for (int k = 0; k < 2; k++) {
			assert_true(ref_walk(e, k ? block_ipa : page_ipa, &rpa, &level, &d));
			assert_int_equal(D_S2AP(d), cases[i].s2ap);
			assert_int_equal(D_XN(d), cases[i].xn);
			assert_int_equal(D_MEMATTR(d), cases[i].memattr);
			assert_int_equal(D_SH(d), 3);
			assert_true(d & D_AF);
			assert_true(d & D_VALID);
			assert_int_equal(!!(d & D_TYPE), level == 3);
			/* Nothing else: no contiguous hint, DBM, software bits. */
			assert_int_equal(d & ~(D_OA_MASK | 0x7ff | (UINT64_C(3) << 53)), 0);
		}
	}

	/* Refused: executable Device memory, unknown bits, unknown memory types, and EL0-only or
	 * EL1-only execution without FEAT_XNX. Nothing changes. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE, HYP_S2_RWX | HYP_S2_MEM_DEVICE),
			 -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE,
				    HYP_S2_X_EL1 | HYP_S2_MEM_DEVICE_nGnRnE),
			 -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE, HYP_S2_RW | (1u << 5)), -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE, HYP_S2_RW | (4u << 8)), -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE, HYP_S2_R | HYP_S2_X_EL0),
			 -ENOTSUP);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(7), GiB(9), PAGE, HYP_S2_R | HYP_S2_X_EL1),
			 -ENOTSUP);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(2), PAGE, HYP_S2_RWX | HYP_S2_MEM_DEVICE),
			 -EINVAL);
	expect_unmapped(e, GiB(7), 1);
	check_tables(e);
	env_done(e);

	/* FEAT_XNX: XN[1:0] = 0b01 (PXN: EL0 only) and 0b11 (UXN: EL1 only). */
	e = env_new();
	assert_int_equal(env_init(e, 40, MMFR0_PA48, MMFR1_XNX), 0);
	assert_true(e->s2.xnx);
	assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(1), PAGE, HYP_S2_R | HYP_S2_X_EL0), 0);
	assert_int_equal(hyp_s2_map(&e->s2, PAGE, GiB(1), PAGE, HYP_S2_R | HYP_S2_X_EL1), 0);
	assert_int_equal(hyp_s2_map(&e->s2, 2 * PAGE, GiB(1), PAGE, HYP_S2_RWX), 0);
	assert_int_equal(hyp_s2_map(&e->s2, 3 * PAGE, GiB(1), PAGE, HYP_S2_RW), 0);
	expect_map(e, 0, GiB(1), 3, HYP_S2_R | HYP_S2_X_EL0);
	expect_map(e, PAGE, GiB(1), 3, HYP_S2_R | HYP_S2_X_EL1);
	expect_map(e, 2 * PAGE, GiB(1), 3, HYP_S2_RWX);
	expect_map(e, 3 * PAGE, GiB(1), 3, HYP_S2_RW);
	{
		const uint64_t expect_xn[] = { 1, 3, 0, 2 };
		struct hyp_s2_walk w;
		uint64_t pa, d;
		int level;

		for (int i = 0; i < 4; i++) {
			assert_true(ref_walk(e, (uint64_t)i * PAGE, &pa, &level, &d));
			assert_int_equal(D_XN(d), expect_xn[i]);
		}
		/* Read without FEAT_XNX, bit 53 is RES0: 0b01 means executable everywhere,
		 * 0b11 nowhere. */
		assert_int_equal(
			hyp_s2_walk_tables(&e->ops, e->s2.vtcr, e->s2.root_pa, false, 0, &w), 0);
		assert_int_equal(w.attrs, HYP_S2_R | HYP_S2_X);
		assert_int_equal(
			hyp_s2_walk_tables(&e->ops, e->s2.vtcr, e->s2.root_pa, false, PAGE, &w), 0);
		assert_int_equal(w.attrs, HYP_S2_R);
	}
	env_done(e);
}

/* ---------------------------------------------------------------------------------------------
 * Splitting blocks: unmap and set_attrs in the middle of 1 GiB and 2 MiB blocks.
 */

static void expect_tlb(struct env *e, size_t i, uint64_t ipa, int level)
{
	assert_true(i < e->ntlb);
	assert_false(e->tlb[i].vmid);
	assert_int_equal(e->tlb[i].ipa, ipa);
	assert_int_equal(e->tlb[i].level, level);
}

static void test_unmap_in_1g_block(void **state)
{
	struct env *e = env_40();
	const uint64_t base = GiB(2), pa = GiB(6), hole = base + 0x12345000;
	const uint64_t hole_2m = hole & ~(MiB(2) - 1);

	(void)state;
	seed_rng(0x5eed0002);
	assert_int_equal(hyp_s2_map(&e->s2, base, pa, GiB(1), HYP_S2_RW), 0);
	assert_int_equal(e->live, 2);
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, hole, PAGE), 0);
	/* One level-2 table (511 2 MiB blocks + a table), one level-3 table (511 pages). */
	assert_int_equal(e->live, 4);
	/* Break-before-make: the block was reported (and invalid when it was) before the table
	 * went in. */
	assert_int_equal(e->ntlb, 1);
	assert_int_equal(e->nvmid, 0);
	expect_tlb(e, 0, base, 1);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_TRANSLATION);
	assert_int_equal(e->tlb[0].level, 1);

	expect_unmapped(e, hole, 3);
	expect_unmapped(e, hole + PAGE - 1, 3);
	expect_map(e, hole - PAGE, pa + (hole - PAGE - base), 3, HYP_S2_RW);
	expect_map(e, hole + PAGE, pa + (hole + PAGE - base), 3, HYP_S2_RW);
	expect_map(e, hole_2m, pa + (hole_2m - base), 3, HYP_S2_RW);
	expect_map(e, hole_2m + MiB(2) - 1, pa + (hole_2m + MiB(2) - 1 - base), 3, HYP_S2_RW);
	expect_map(e, hole_2m - 1, pa + (hole_2m - 1 - base), 2, HYP_S2_RW);
	expect_map(e, hole_2m + MiB(2), pa + (hole_2m + MiB(2) - base), 2, HYP_S2_RW);
	expect_map(e, base, pa, 2, HYP_S2_RW);
	expect_map(e, base + GiB(1) - 1, pa + GiB(1) - 1, 2, HYP_S2_RW);
	for (int i = 0; i < 5000; i++) {
		uint64_t ipa = base + rnd() % GiB(1);

		if ((ipa & ~(PAGE - 1)) == hole)
			continue;
		expect_map(e, ipa, pa + (ipa - base), (ipa & ~(MiB(2) - 1)) == hole_2m ? 3 : 2,
			   HYP_S2_RW);
	}
	check_tables(e);

	/* Remap the hole (overlap rules see it free now), then a second map is refused. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_map(&e->s2, hole, pa + (hole - base), PAGE, HYP_S2_RW), 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);
	expect_map(e, hole, pa + (hole - base), 3, HYP_S2_RW);
	assert_int_equal(hyp_s2_map(&e->s2, hole, pa, PAGE, HYP_S2_RW), -EEXIST);

	/* Unmap all of it: every table is freed again. */
	assert_int_equal(hyp_s2_unmap(&e->s2, base, GiB(1)), 0);
	assert_int_equal(e->live, 2);
	expect_unmapped(e, hole, 1);
	check_tables(e);
	env_done(e);
}

static void test_unmap_in_2m_blocks(void **state)
{
	struct env *e = env_40();
	const uint64_t base = GiB(3) + MiB(10), pa = GiB(9) + MiB(4);

	(void)state;
	/* Four 2 MiB blocks (the PA is not 1 GiB aligned). */
	assert_int_equal(hyp_s2_map(&e->s2, base, pa, MiB(8), HYP_S2_R | HYP_S2_MEM_NORMAL_NC), 0);
	assert_int_equal(e->live, 3);
	tlb_reset(e);
	/* Two pages in the middle of the first block. */
	assert_int_equal(hyp_s2_unmap(&e->s2, base + MiB(1), 2 * PAGE), 0);
	assert_int_equal(e->live, 4);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, base, 2);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_TRANSLATION);
	expect_unmapped(e, base + MiB(1), 3);
	expect_unmapped(e, base + MiB(1) + PAGE, 3);
	expect_map(e, base + MiB(1) - PAGE, pa + MiB(1) - PAGE, 3, HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	expect_map(e, base + MiB(1) + 2 * PAGE, pa + MiB(1) + 2 * PAGE, 3,
		   HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	expect_map(e, base, pa, 3, HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	expect_map(e, base + MiB(2), pa + MiB(2), 2, HYP_S2_R | HYP_S2_MEM_NORMAL_NC);

	/* A range straddling the boundary of blocks 2 and 3: both split. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, base + MiB(6) - PAGE, 2 * PAGE), 0);
	assert_int_equal(e->live, 6);
	assert_int_equal(e->ntlb, 2);
	expect_tlb(e, 0, base + MiB(4), 2);
	expect_tlb(e, 1, base + MiB(6), 2);
	expect_unmapped(e, base + MiB(6) - PAGE, 3);
	expect_unmapped(e, base + MiB(6), 3);
	expect_map(e, base + MiB(6) - 2 * PAGE, pa + MiB(6) - 2 * PAGE, 3,
		   HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	expect_map(e, base + MiB(6) + PAGE, pa + MiB(6) + PAGE, 3, HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	expect_map(e, base + MiB(2), pa + MiB(2), 2, HYP_S2_R | HYP_S2_MEM_NORMAL_NC);
	check_tables(e);

	/* Unmapping a whole block is one report at level 2; no table needed. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, base + MiB(2), MiB(2)), 0);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, base + MiB(2), 2);
	assert_int_equal(e->live, 6);
	/* Remap after unmap, with other attributes. */
	assert_int_equal(hyp_s2_map(&e->s2, base + MiB(2), GiB(20), MiB(2), HYP_S2_RWX), 0);
	expect_map(e, base + MiB(3), GiB(20) + MiB(1), 2, HYP_S2_RWX);
	check_tables(e);
	env_done(e);
}

static void test_set_attrs_splits(void **state)
{
	struct env *e = env_40();
	const uint64_t base = GiB(5), pa = GiB(11), mid = base + MiB(200);
	struct scan before;

	(void)state;
	assert_int_equal(hyp_s2_map(&e->s2, base, pa, GiB(1), HYP_S2_RWX), 0);
	tlb_reset(e);
	/* Read-only on two pages straddling a 2 MiB boundary inside the 1 GiB block. */
	assert_int_equal(hyp_s2_set_attrs(&e->s2, mid - PAGE, 2 * PAGE, HYP_S2_R), 0);
	assert_int_equal(e->live, 2 + 3);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, base, 1);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_TRANSLATION);
	expect_map(e, mid - PAGE, pa + MiB(200) - PAGE, 3, HYP_S2_R);
	expect_map(e, mid, pa + MiB(200), 3, HYP_S2_R);
	expect_map(e, mid - 2 * PAGE, pa + MiB(200) - 2 * PAGE, 3, HYP_S2_RWX);
	expect_map(e, mid + PAGE, pa + MiB(200) + PAGE, 3, HYP_S2_RWX);
	expect_map(e, mid - MiB(2), pa + MiB(198), 3, HYP_S2_RWX);
	expect_map(e, mid + MiB(2) - PAGE, pa + MiB(202) - PAGE, 3, HYP_S2_RWX);
	expect_map(e, mid - MiB(2) - PAGE, pa + MiB(198) - PAGE, 2, HYP_S2_RWX);
	expect_map(e, mid + MiB(2), pa + MiB(202), 2, HYP_S2_RWX);
	expect_map(e, base, pa, 2, HYP_S2_RWX);
	check_tables(e);

	/* Back to RWX: permissions change in place, each page reported at level 3 while already
	 * carrying its new descriptor. The tables stay (no merging back into a block). */
	tlb_reset(e);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, mid - PAGE, 2 * PAGE, HYP_S2_RWX), 0);
	assert_int_equal(e->live, 5);
	assert_int_equal(e->ntlb, 2);
	expect_tlb(e, 0, mid - PAGE, 3);
	expect_tlb(e, 1, mid, 3);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_NONE);
	assert_int_equal(D_S2AP(e->tlb[0].desc_then), S2AP_RW);
	expect_map(e, mid, pa + MiB(200), 3, HYP_S2_RWX);

	/* Setting what is already there: no split, no allocation, no report. */
	before = check_tables(e);
	tlb_reset(e);
	e->calls = 0;
	assert_int_equal(hyp_s2_set_attrs(&e->s2, base + PAGE, GiB(1) - 2 * PAGE, HYP_S2_RWX), 0);
	assert_int_equal(e->calls, 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);
	assert_int_equal(check_tables(e).hash, before.hash);

	/* A memory type change on a whole block: break-before-make at level 2. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(30), GiB(50), MiB(2), HYP_S2_RW), 0);
	tlb_reset(e);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(30), MiB(2), HYP_S2_RW | HYP_S2_MEM_DEVICE),
			 0);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, GiB(30), 2);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_TRANSLATION);
	expect_map(e, GiB(30) + 8, GiB(50) + 8, 2, HYP_S2_RW | HYP_S2_MEM_DEVICE);
	/* A permission change on a whole block: in place at level 2. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(30), MiB(2), HYP_S2_R | HYP_S2_MEM_DEVICE),
			 0);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, GiB(30), 2);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_NONE);
	/* Holes in the range are skipped, not mapped. */
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(29), GiB(2), HYP_S2_R), 0);
	expect_unmapped(e, GiB(29), 1);
	expect_map(e, GiB(30), GiB(50), 2, HYP_S2_R);

	/* Split a 2 MiB block for a memory type change on one page. */
	tlb_reset(e);
	assert_int_equal(
		hyp_s2_set_attrs(&e->s2, GiB(30) + MiB(1), PAGE, HYP_S2_R | HYP_S2_MEM_DEVICE), 0);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, GiB(30), 2);
	expect_map(e, GiB(30) + MiB(1), GiB(50) + MiB(1), 3, HYP_S2_R | HYP_S2_MEM_DEVICE);
	expect_map(e, GiB(30) + MiB(1) + PAGE, GiB(50) + MiB(1) + PAGE, 3, HYP_S2_R);
	check_tables(e);
	env_done(e);
}

/* ---------------------------------------------------------------------------------------------
 * Overlaps, bad arguments, allocation failures, freeing.
 */

static void test_overlap_rejected(void **state)
{
	struct env *e = env_40();
	struct scan before;

	(void)state;
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(3), MiB(2), HYP_S2_RW), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) + MiB(2) + PAGE, GiB(3), PAGE, HYP_S2_RW), 0);
	before = check_tables(e);
	tlb_reset(e);
	e->calls = 0;
	/* Starting before, ending inside; inside a block; covering everything; exactly the same;
	 * one page of a table's mapping. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) - PAGE, GiB(8), 2 * PAGE, HYP_S2_RW), -EEXIST);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) + MiB(1), GiB(8), PAGE, HYP_S2_RW), -EEXIST);
	assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(8), GiB(4), HYP_S2_RW), -EEXIST);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(3), MiB(2), HYP_S2_RW), -EEXIST);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) + MiB(2), GiB(8), MiB(2), HYP_S2_RW), -EEXIST);
	assert_int_equal(e->calls, 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);
	assert_int_equal(check_tables(e).hash, before.hash);
	/* Right next to them is fine. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) - PAGE, GiB(8), PAGE, HYP_S2_RW), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) + MiB(2), GiB(8), PAGE, HYP_S2_RW), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1) + MiB(2) + 2 * PAGE, GiB(8), MiB(2) - 2 * PAGE,
				    HYP_S2_RW),
			 0);
	check_tables(e);
	env_done(e);
}

static void test_bad_arguments(void **state)
{
	struct env *e = env_40();
	struct hyp_s2_walk w;
	struct scan before;
	const uint64_t top = UINT64_C(1) << 40;

	(void)state;
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(1), MiB(2), HYP_S2_RW), 0);
	before = check_tables(e);
	e->calls = 0;
	tlb_reset(e);

	assert_int_equal(hyp_s2_map(NULL, 0, 0, PAGE, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_unmap(NULL, 0, PAGE), -EINVAL);
	assert_int_equal(hyp_s2_set_attrs(NULL, 0, PAGE, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_walk(NULL, 0, &w), -EINVAL);
	assert_int_equal(hyp_s2_walk(&e->s2, 0, NULL), -EINVAL);
	/* Misaligned IPA, PA, size; empty range. */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2) + 0x800, GiB(2), PAGE, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2), GiB(2) + 8, PAGE, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2), GiB(2), PAGE + 1, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2), GiB(2), 0, HYP_S2_RW), -EINVAL);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(1) + 1, PAGE), -EINVAL);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(1), 0), -EINVAL);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(1), 0x10, HYP_S2_R), -EINVAL);
	/* Beyond the IPA space (40 bits), wrapping, beyond the PA size (48 bits). */
	assert_int_equal(hyp_s2_map(&e->s2, top - PAGE, GiB(2), 2 * PAGE, HYP_S2_RW), -ERANGE);
	assert_int_equal(hyp_s2_map(&e->s2, top, GiB(2), PAGE, HYP_S2_RW), -ERANGE);
	assert_int_equal(hyp_s2_map(&e->s2, ~(PAGE - 1), GiB(2), 2 * PAGE, HYP_S2_RW), -ERANGE);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2), (UINT64_C(1) << 48) - PAGE, 2 * PAGE,
				    HYP_S2_RW),
			 -ERANGE);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(2), ~(PAGE - 1), 2 * PAGE, HYP_S2_RW), -ERANGE);
	assert_int_equal(hyp_s2_unmap(&e->s2, top - PAGE, 2 * PAGE), -ERANGE);
	assert_int_equal(hyp_s2_unmap(&e->s2, 0, ~(PAGE - 1)), -ERANGE);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, top, PAGE, HYP_S2_R), -ERANGE);

	assert_int_equal(e->calls, 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);
	assert_int_equal(check_tables(e).hash, before.hash);
	/* The highest page, exactly, is fine. */
	assert_int_equal(hyp_s2_map(&e->s2, top - PAGE, (UINT64_C(1) << 48) - PAGE, PAGE, HYP_S2_R),
			 0);
	expect_map(e, top - 1, (UINT64_C(1) << 48) - 1, 3, HYP_S2_R);
	env_done(e);

	/* A 36-bit PA size bounds output addresses. */
	e = env_new();
	assert_int_equal(env_init(e, 36, 1, 0), 0);
	assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(64), PAGE, HYP_S2_R), -ERANGE);
	assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(64) - PAGE, PAGE, HYP_S2_R), 0);
	env_done(e);
}

typedef int (*op_fn)(struct env *e);

/* Run @op with the Nth allocation failing, for every N up to what it needs: -ENOMEM each time,
 * with the tables, the page count and the TLB untouched; then without failures. Returns the
 * number of pages the operation needed. */
static size_t enomem_everywhere(struct env *e, op_fn op)
{
	struct scan before = check_tables(e);
	size_t live = e->live, need;

	e->fail_at = 0;
	for (size_t n = 1;; n++) {
		int r;

		e->calls = 0;
		e->fail_at = n;
		tlb_reset(e);
		r = op(e);
		e->fail_at = 0;
		if (r == 0) {
			need = e->calls;
			assert_int_equal(need, n - 1);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(e->calls, n);
		assert_int_equal(e->live, live);
		assert_int_equal(e->ntlb + e->nvmid, 0);
		assert_int_equal(check_tables(e).hash, before.hash);
	}
	check_tables(e);
	return need;
}

static int op_map_unaligned(struct env *e)
{
	/* Pages up to 2 MiB, a block, pages after: level-2 table + 2 level-3 tables. */
	return hyp_s2_map(&e->s2, GiB(1) + PAGE, GiB(9) + PAGE, MiB(4), HYP_S2_RW);
}

static int op_map_many_tables(struct env *e)
{
	/* 64 MiB of pages (PA off by a page): 32 level-3 tables and a level-2 table; plus the
	 * same across a 1 GiB boundary. */
	int r = hyp_s2_map(&e->s2, GiB(4) - MiB(32), GiB(30) + PAGE, MiB(64), HYP_S2_R);

	return r;
}

static int op_unmap_in_block(struct env *e)
{
	return hyp_s2_unmap(&e->s2, GiB(16) + MiB(300) + 5 * PAGE, PAGE);
}

static int op_protect_straddle(struct env *e)
{
	return hyp_s2_set_attrs(&e->s2, GiB(17) + MiB(100) - PAGE, 2 * PAGE, HYP_S2_R);
}

static int op_unmap_two_ends(struct env *e)
{
	/* Both ends inside different 1 GiB blocks: 2 tables at each end. */
	return hyp_s2_unmap(&e->s2, GiB(18) + MiB(500) + PAGE, GiB(1) + MiB(3));
}

static void test_enomem_at_every_point(void **state)
{
	struct env *e = env_40();

	(void)state;
	assert_int_equal(enomem_everywhere(e, op_map_unaligned), 3);
	expect_map(e, GiB(1) + MiB(2), GiB(9) + MiB(2), 2, HYP_S2_RW);
	assert_int_equal(enomem_everywhere(e, op_map_many_tables), 34);
	expect_map(e, GiB(4), GiB(30) + PAGE + MiB(32), 3, HYP_S2_R);

	assert_int_equal(hyp_s2_map(&e->s2, GiB(16), GiB(40), GiB(4), HYP_S2_RW), 0);
	assert_int_equal(enomem_everywhere(e, op_unmap_in_block), 2);
	expect_unmapped(e, GiB(16) + MiB(300) + 5 * PAGE, 3);
	expect_map(e, GiB(16) + MiB(300) + 6 * PAGE, GiB(40) + MiB(300) + 6 * PAGE, 3, HYP_S2_RW);
	assert_int_equal(enomem_everywhere(e, op_protect_straddle), 3);
	expect_map(e, GiB(17) + MiB(100), GiB(41) + MiB(100), 3, HYP_S2_R);
	assert_int_equal(enomem_everywhere(e, op_unmap_two_ends), 4);
	expect_map(e, GiB(18) + MiB(500), GiB(42) + MiB(500), 3, HYP_S2_RW);
	expect_unmapped(e, GiB(18) + MiB(500) + PAGE, 3);
	expect_unmapped(e, GiB(19) + MiB(503), 3);
	expect_map(e, GiB(19) + MiB(503) + PAGE, GiB(43) + MiB(503) + PAGE, 3, HYP_S2_RW);
	/* Operations that need no page never fail for lack of one. */
	e->calls = 0;
	e->fail_at = 1;
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(18), MiB(2)), 0);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, GiB(16), GiB(1), HYP_S2_R), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(18), GiB(1), MiB(2), HYP_S2_R), 0);
	assert_int_equal(e->calls, 0);
	e->fail_at = 0;
	check_tables(e);
	env_done(e);
}

static void test_tables_freed(void **state)
{
	struct env *e = env_40();
	uint64_t pages[] = { GiB(3) + PAGE,
			     GiB(3) + MiB(7),
			     GiB(3) + MiB(7) + PAGE,
			     GiB(9) + MiB(40),
			     GiB(9) + MiB(40) + 9 * PAGE,
			     GiB(600) };

	(void)state;
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(hyp_s2_map(&e->s2, pages[i], GiB(1) + i * PAGE, PAGE, HYP_S2_RW),
				 0);
	/* Root (2), per 1 GiB region a level-2 table, per 2 MiB region a level-3 table. */
	assert_int_equal(e->live, 2 + 3 + 4);
	/* Tables freed: after page 0 its level-3 table; none after page 1 (page 2 shares its
	 * table); after page 2 that table and the level-2 table above it; likewise for pages 3, 4
	 * and for page 5, alone in both of its tables. */
	static const size_t freed[] = { 1, 0, 2, 0, 2, 2 };

	e->check_free_after_flush = true;
	for (size_t i = 0; i < 6; i++) {
		size_t live = e->live;

		tlb_reset(e);
		assert_int_equal(hyp_s2_unmap(&e->s2, pages[i], PAGE), 0);
		expect_unmapped(e, pages[i], -1);
		check_tables(e); /* no empty table left behind, no leak */
		assert_int_equal(live - e->live, freed[i]);
		/* The page, then each table that became empty, innermost first: each already
		 * unlinked, and still allocated, when reported. */
		assert_int_equal(e->ntlb, 1 + freed[i]);
		assert_int_equal(e->nvmid, 0);
		expect_tlb(e, 0, pages[i], 3);
		for (size_t k = 1; k < e->ntlb; k++) {
			assert_int_equal(e->tlb[k].level, -1);
			assert_int_equal(e->tlb[k].ipa, pages[i] & ~(size_of(3 - (int)k) - 1));
			assert_int_equal(e->tlb[k].fault_then, HYP_S2_FAULT_TRANSLATION);
			assert_int_equal(e->tlb[k].level_then, 3 - (int)k);
			assert_int_equal(e->tlb[k].live_then, live);
		}
	}
	e->check_free_after_flush = false;
	assert_int_equal(e->live, 2);

	/* A range with holes, across several tables, in one call. */
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(hyp_s2_map(&e->s2, pages[i], GiB(1) + i * PAGE, PAGE, HYP_S2_RW),
				 0);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(3), GiB(7)), 0);
	assert_int_equal(e->live, 2 + 2);
	expect_map(e, GiB(600), GiB(1) + 5 * PAGE, 3, HYP_S2_RW);
	assert_int_equal(hyp_s2_unmap(&e->s2, 0, UINT64_C(1) << 40), 0);
	assert_int_equal(e->live, 2);
	/* Unmapping nothing is fine. */
	assert_int_equal(hyp_s2_unmap(&e->s2, 0, UINT64_C(1) << 40), 0);
	check_tables(e);
	env_done(e);
}

static void test_destroy_frees_everything(void **state)
{
	(void)state;
	for (unsigned int ipa_bits = 32; ipa_bits <= 48; ipa_bits += 1) {
		struct env *e = env_new();
		uint64_t top = UINT64_C(1) << ipa_bits;

		assert_int_equal(env_init(e, ipa_bits, MMFR0_PA48, 0), 0);
		assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(2) + PAGE, MiB(6), HYP_S2_RW), 0);
		assert_int_equal(
			hyp_s2_map(&e->s2, top / 2, GiB(4), GiB(1) + MiB(2) + PAGE, HYP_S2_RWX), 0);
		assert_int_equal(hyp_s2_unmap(&e->s2, top / 2 + MiB(1), PAGE), 0);
		assert_int_equal(
			hyp_s2_set_attrs(&e->s2, top / 2 + GiB(1) - MiB(1), MiB(2), HYP_S2_R), 0);
		assert_int_equal(hyp_s2_map(&e->s2, top - PAGE, GiB(8), PAGE, HYP_S2_R), 0);
		check_tables(e);
		assert_true(e->live > e->s2.root_pages);
		hyp_s2_destroy(&e->s2);
		assert_int_equal(e->live, 0);
		assert_null(e->s2.root);
		hyp_s2_destroy(&e->s2);
		env_free(e);
	}
}

/* ---------------------------------------------------------------------------------------------
 * TLB maintenance reports.
 */

static void test_tlb_reports(void **state)
{
	struct env *e = env_40();
	const uint64_t base = GiB(2); /* pages with a PA off by one page: no blocks */

	(void)state;
	/* Map never reports. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_map(&e->s2, base, GiB(7) + PAGE, MiB(4), HYP_S2_RW), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(1), GiB(1), HYP_S2_RW), 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);

	/* Three separate pages in one call: one report each, level 3, in address order. */
	assert_int_equal(hyp_s2_unmap(&e->s2, base + PAGE, PAGE), 0);
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, base, 3 * PAGE), 0);
	assert_int_equal(e->ntlb, 2);
	expect_tlb(e, 0, base, 3);
	expect_tlb(e, 1, base + 2 * PAGE, 3);
	assert_int_equal(e->tlb[0].fault_then, HYP_S2_FAULT_TRANSLATION);
	assert_int_equal(e->nvmid, 0);

	/* A 1 GiB block: one report at level 1. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(1), GiB(1)), 0);
	assert_int_equal(e->ntlb, 1);
	expect_tlb(e, 0, GiB(1), 1);

	/* Up to HYP_S2_TLB_IPA_MAX changes are reported one by one... */
	tlb_reset(e);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, base + MiB(1), 64 * PAGE, HYP_S2_R), 0);
	assert_int_equal(e->ntlb, 64);
	assert_int_equal(e->nvmid, 0);
	for (size_t i = 0; i < 64; i++) {
		expect_tlb(e, i, base + MiB(1) + i * PAGE, 3);
		assert_int_equal(D_S2AP(e->tlb[i].desc_then), S2AP_RO);
	}
	/* ...more become a single VMID flush, tables freed included. */
	tlb_reset(e);
	assert_int_equal(hyp_s2_set_attrs(&e->s2, base + MiB(1), 65 * PAGE, HYP_S2_RWX), 0);
	assert_int_equal(e->ntlb, 0);
	assert_int_equal(e->nvmid, 1);
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, base, MiB(4)), 0);
	assert_int_equal(e->ntlb, 0);
	assert_int_equal(e->nvmid, 1);
	assert_int_equal(e->live, 2);

	/* A large unmap of pages: VMID flushes only, and a few of them (tables are freed in
	 * batches, each after a flush). */
	assert_int_equal(hyp_s2_map(&e->s2, GiB(4), GiB(9) + PAGE, GiB(1), HYP_S2_RW), 0);
	assert_int_equal(e->live, 2 + 1 + 512);
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(4), GiB(1)), 0);
	assert_int_equal(e->ntlb, 0);
	assert_true(e->nvmid >= 1 && e->nvmid <= 40);
	assert_int_equal(e->live, 2);

	/* Only a VMID callback: used for everything. No callbacks: still correct tables. */
	e->ops.tlb_flush_ipa = NULL;
	e->s2.ops.tlb_flush_ipa = NULL;
	assert_int_equal(hyp_s2_map(&e->s2, GiB(4), GiB(9), MiB(2), HYP_S2_RW), 0);
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(4) + PAGE, PAGE), 0);
	assert_int_equal(e->ntlb, 0);
	assert_int_equal(e->nvmid, 1);
	e->s2.ops.tlb_flush_vmid = NULL;
	tlb_reset(e);
	assert_int_equal(hyp_s2_unmap(&e->s2, GiB(4), MiB(2)), 0);
	assert_int_equal(e->ntlb + e->nvmid, 0);
	assert_int_equal(e->live, 2);
	check_tables(e);
	env_done(e);
}

/* ---------------------------------------------------------------------------------------------
 * The walker on hand-damaged tables and odd VTCR values.
 */

static uint64_t *leaf_ptr(struct env *e, uint64_t ipa)
{
	uint64_t *t = e->s2.root;
	int level = e->s2.start_level;
	uint64_t idx = ipa >> shift_of(level);

	while (level < 3 && (t[idx] & D_TYPE)) {
		t = t_p2v(e, t[idx] & D_OA_MASK);
		level++;
		idx = (ipa >> shift_of(level)) & 511;
	}
	return &t[idx];
}

static void test_walker_faults(void **state)
{
	struct env *e = env_40();
	struct hyp_s2_walk w;
	uint64_t *p, saved;
	const uint64_t vtcr = e->s2.vtcr, vttbr = e->s2.root_pa;

	(void)state;
	assert_int_equal(hyp_s2_map(&e->s2, GiB(1), GiB(2) + PAGE, MiB(2), HYP_S2_RW), 0);
	assert_int_equal(hyp_s2_map(&e->s2, GiB(5), GiB(2), MiB(2), HYP_S2_RW), 0);

	/* Unmapped: at the root (level 1), in a level-3 table. */
	assert_int_equal(hyp_s2_walk(&e->s2, GiB(3), &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
	assert_int_equal(w.level, 1);
	assert_int_equal(w.desc, 0);
	expect_unmapped(e, GiB(1) + MiB(2), 2);

	/* Access flag clear: an Access flag fault, the rest decoded. */
	p = leaf_ptr(e, GiB(1) + PAGE);
	saved = *p;
	*p &= ~D_AF;
	assert_int_equal(hyp_s2_walk(&e->s2, GiB(1) + PAGE + 4, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_ACCESS_FLAG);
	assert_int_equal(w.level, 3);
	assert_int_equal(w.pa, GiB(2) + 2 * PAGE + 4);
	/* Bit 1 clear at level 3: reserved, a Translation fault. */
	*p = saved & ~D_TYPE;
	assert_int_equal(hyp_s2_walk(&e->s2, GiB(1) + PAGE, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
	assert_int_equal(w.level, 3);
	*p = saved;
	/* A table pointer to memory that is not a table page. */
	p = leaf_ptr(e, GiB(5));
	saved = *p;
	*p = (UINT64_C(0x10000000) & D_OA_MASK) | D_VALID | D_TYPE;
	assert_int_equal(hyp_s2_walk(&e->s2, GiB(5), &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_WALK_ABORT);
	assert_int_equal(w.level, 3);
	*p = saved;
	/* Beyond the IPA size. */
	assert_int_equal(hyp_s2_walk(&e->s2, UINT64_C(1) << 40, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_TRANSLATION);
	assert_int_equal(w.level, 0);

	/* VTCR values the walker does not take: 64 KiB granule, SL0 = 0b11, above 48 bits, and a
	 * start level inconsistent with T0SZ (level 2 cannot resolve 40 bits). */
	assert_int_equal(hyp_s2_walk_tables(&e->ops, vtcr | (UINT64_C(1) << 14), vttbr, false, 0,
					    &w),
			 -ENOTSUP);
	assert_int_equal(hyp_s2_walk_tables(&e->ops, vtcr | (UINT64_C(3) << 6), vttbr, false, 0,
					    &w),
			 -ENOTSUP);
	assert_int_equal(hyp_s2_walk_tables(&e->ops, (vtcr & ~UINT64_C(0x3f)) | 12, vttbr, false, 0,
					    &w),
			 -ENOTSUP);
	assert_int_equal(hyp_s2_walk_tables(&e->ops, vtcr & ~(UINT64_C(3) << 6), vttbr, false, 0,
					    &w),
			 -EINVAL);
	assert_int_equal(hyp_s2_walk_tables(NULL, vtcr, vttbr, false, 0, &w), -EINVAL);
	/* The VMID and CnP bits of VTTBR do not matter. */
	assert_int_equal(hyp_s2_walk_tables(&e->ops, vtcr, vttbr | (UINT64_C(0x42) << 48) | 1,
					    false, GiB(5) + 12, &w),
			 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_NONE);
	assert_int_equal(w.pa, GiB(2) + 12);
	check_tables(e);
	env_done(e);

	/* A 40-bit PA size: output addresses at or above 2^40 are an Address size fault. */
	e = env_new();
	assert_int_equal(env_init(e, 40, 2, 0), 0);
	assert_int_equal(hyp_s2_map(&e->s2, 0, GiB(1), GiB(1), HYP_S2_RW), 0);
	p = leaf_ptr(e, 0);
	saved = *p;
	*p |= UINT64_C(1) << 41;
	assert_int_equal(hyp_s2_walk(&e->s2, 0, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_ADDR_SIZE);
	assert_int_equal(w.level, 1);
	*p = saved;
	env_done(e);
}

/* ---------------------------------------------------------------------------------------------
 * VMIDs.
 */

static void test_vmid_pool(void **state)
{
	struct hyp_vmid_pool *pool = malloc(sizeof(*pool));
	static uint8_t seen[1u << 16];
	uint16_t v = 0, a, b;

	(void)state;
	assert_non_null(pool);
	assert_int_equal(hyp_vmid_pool_init(pool, 12), -EINVAL);
	assert_int_equal(hyp_vmid_pool_init(NULL, 8), -EINVAL);

	/* 8 bits: 255 VMIDs (0 is reserved), then -ENOSPC. */
	assert_int_equal(hyp_vmid_pool_init(pool, 8), 0);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 255; i++) {
		assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
		assert_true(v >= 1 && v <= 255);
		assert_false(seen[v]);
		seen[v] = 1;
	}
	v = 777;
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), -ENOSPC);
	assert_int_equal(v, 777);
	assert_int_equal(hyp_vmid_pool_free(pool, 0), -EINVAL);
	assert_int_equal(hyp_vmid_pool_free(pool, 256), -EINVAL);
	assert_int_equal(hyp_vmid_pool_free(pool, 7), 0);
	assert_int_equal(hyp_vmid_pool_free(pool, 7), -EINVAL);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), -ENOSPC);

	/* Round-robin: a freed VMID is not handed out again while others are free. */
	assert_int_equal(hyp_vmid_pool_init(pool, 8), 0);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &a), 0);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &b), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_int_equal(hyp_vmid_pool_free(pool, a), 0);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
	assert_int_equal(v, 3);

	/* 16 bits: 65535 VMIDs. */
	assert_int_equal(hyp_vmid_pool_init(pool, 16), 0);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 65535; i++) {
		assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
		assert_true(v != 0);
		assert_false(seen[v]);
		seen[v] = 1;
	}
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), -ENOSPC);
	assert_int_equal(hyp_vmid_pool_free(pool, 2000), 0);
	assert_int_equal(hyp_vmid_pool_free(pool, 1000), 0);
	assert_int_equal(hyp_vmid_pool_free(pool, 65535), 0);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(hyp_vmid_pool_alloc(pool, &v), -ENOSPC);
	assert_int_equal(hyp_vmid_pool_alloc(NULL, &v), -EINVAL);
	assert_int_equal(hyp_vmid_pool_alloc(pool, NULL), -EINVAL);
	free(pool);
}

/* ---------------------------------------------------------------------------------------------
 * Random operations against a model of every page.
 */

#define FZ_BASE (GiB(512) - GiB(2)) /* across the two concatenated root tables */
#define FZ_SIZE GiB(4)
#define FZ_PAGES (FZ_SIZE / PAGE)
#define FZ_UNMAPPED UINT64_MAX

struct model {
	uint64_t *pa;	 /* per page, FZ_UNMAPPED if unmapped */
	uint32_t *attrs; /* per page */
	uint64_t checked;
};

static const uint32_t fz_attrs[] = {
	HYP_S2_RWX,
	HYP_S2_RW,
	HYP_S2_R,
	HYP_S2_R | HYP_S2_X,
	0,
	HYP_S2_W,
	HYP_S2_RW | HYP_S2_MEM_DEVICE,
	HYP_S2_R | HYP_S2_MEM_NORMAL_NC,
	HYP_S2_RW | HYP_S2_MEM_DEVICE_nGnRnE,
};

static void model_leaf(void *ctx, uint64_t ipa, uint64_t desc, int level)
{
	struct model *m = ctx;
	uint64_t size = size_of(level), pa = desc & D_OA_MASK;
	uint64_t first, n;

	assert_true(ipa >= FZ_BASE && ipa + size <= FZ_BASE + FZ_SIZE);
	first = (ipa - FZ_BASE) / PAGE;
	n = size / PAGE;
	for (uint64_t i = 0; i < n; i++) {
		if (m->pa[first + i] != pa + i * PAGE)
			fail_msg("IPA 0x%llx: tables say PA 0x%llx, model 0x%llx",
				 (unsigned long long)(ipa + i * PAGE),
				 (unsigned long long)(pa + i * PAGE),
				 (unsigned long long)m->pa[first + i]);
	}
	m->checked += n;
	(void)desc;
}

static void model_compare_all(struct env *e, struct model *m)
{
	uint64_t mapped = 0;
	struct scan sc;

	for (uint64_t i = 0; i < FZ_PAGES; i++)
		mapped += m->pa[i] != FZ_UNMAPPED;
	m->checked = 0;
	sc = check_tables_fn(e, model_leaf, m);
	assert_int_equal(m->checked, mapped);
	assert_int_equal(sc.mapped, mapped * PAGE);
}

static void model_check_page(struct env *e, struct model *m, uint64_t ipa)
{
	uint64_t i;
	struct hyp_s2_walk w;

	if (ipa < FZ_BASE || ipa >= FZ_BASE + FZ_SIZE)
		return;
	i = (ipa - FZ_BASE) / PAGE;
	if (m->pa[i] == FZ_UNMAPPED) {
		expect_unmapped(e, ipa, -1);
		return;
	}
	assert_int_equal(hyp_s2_walk(&e->s2, ipa, &w), 0);
	assert_int_equal(w.fault, HYP_S2_FAULT_NONE);
	assert_int_equal(w.pa, m->pa[i] + (ipa & (PAGE - 1)));
	assert_int_equal(w.attrs, m->attrs[i]);
}

/* Was the page at @ipa reported, by a VMID flush or a per-IPA flush covering it? */
static bool tlb_covered(struct env *e, uint64_t ipa)
{
	if (e->nvmid)
		return true;
	for (size_t k = 0; k < e->ntlb; k++) {
		if (e->tlb[k].level < 0)
			continue;
		if (ipa >= e->tlb[k].ipa && ipa - e->tlb[k].ipa < size_of(e->tlb[k].level))
			return true;
	}
	return false;
}

static uint64_t fz_pick(uint64_t *size)
{
	static const uint64_t aligns[] = { PAGE, MiB(2), GiB(1) };
	uint64_t a = aligns[rnd() % 3], start, sz;

	start = FZ_BASE + (rnd() % (FZ_SIZE / a)) * a;
	switch (rnd() % 4) {
	case 0:
		sz = (1 + rnd() % 16) * PAGE;
		break;
	case 1:
		sz = MiB(2) * (1 + rnd() % 4);
		break;
	case 2:
		sz = GiB(1) * (1 + rnd() % 2);
		break;
	default:
		sz = (1 + rnd() % 2048) * PAGE * 16;
		break;
	}
	/* Nudge either end off the alignment now and then. */
	if (rnd() % 3 == 0)
		start += (rnd() % 8) * PAGE;
	if (rnd() % 3 == 0)
		sz += (rnd() % 8) * PAGE;
	if (rnd() % 3 == 0 && sz > 8 * PAGE)
		sz -= (rnd() % 8) * PAGE;
	if (start >= FZ_BASE + FZ_SIZE)
		start = FZ_BASE + FZ_SIZE - PAGE;
	if (start + sz > FZ_BASE + FZ_SIZE)
		sz = FZ_BASE + FZ_SIZE - start;
	*size = sz;
	return start;
}

static void test_random_against_model(void **state)
{
	struct env *e = env_40();
	struct model m;
	int ops = 1000, nomem = 0, exist = 0, done[3] = { 0 };

	(void)state;
	seed_rng(0x5eed0003);
	m.pa = malloc(FZ_PAGES * sizeof(*m.pa));
	m.attrs = calloc(FZ_PAGES, sizeof(*m.attrs));
	assert_non_null(m.pa);
	assert_non_null(m.attrs);
	for (uint64_t i = 0; i < FZ_PAGES; i++)
		m.pa[i] = FZ_UNMAPPED;
	e->check_free_after_flush = true;

	for (int n = 0; n < ops; n++) {
		uint64_t size, ipa = fz_pick(&size), first = (ipa - FZ_BASE) / PAGE;
		uint64_t npages = size / PAGE, pa = 0;
		uint32_t attrs = fz_attrs[rnd() % (sizeof(fz_attrs) / sizeof(fz_attrs[0]))];
		int op = (int)(rnd() % 3), r;
		bool overlap = false;
		struct scan before = check_tables(e);
		size_t live = e->live;

		if (op == 0) {
			/* Output: congruent with the IPA modulo 1 GiB or 2 MiB, or any page. */
			uint64_t pbase = GiB(1 + rnd() % 60000);

			switch (rnd() % 3) {
			case 0:
				pa = pbase + (ipa & (GiB(1) - 1));
				break;
			case 1:
				pa = pbase + (ipa & (MiB(2) - 1));
				break;
			default:
				pa = pbase + (rnd() % 512) * PAGE;
				break;
			}
			for (uint64_t i = 0; i < npages && !overlap; i++)
				overlap = m.pa[first + i] != FZ_UNMAPPED;
		}
		e->fail_at = rnd() % 3 == 0 ? 1 + rnd() % 3 : 0;
		e->calls = 0;
		tlb_reset(e);
		if (op == 0)
			r = hyp_s2_map(&e->s2, ipa, pa, size, attrs);
		else if (op == 1)
			r = hyp_s2_unmap(&e->s2, ipa, size);
		else
			r = hyp_s2_set_attrs(&e->s2, ipa, size, attrs);
		e->fail_at = 0;

		if (r == -ENOMEM || r == -EEXIST) {
			if (r == -ENOMEM)
				nomem++;
			else
				exist++;
			/* Overlaps are found before anything is allocated. */
			assert_int_equal(r, op == 0 && overlap ? -EEXIST : -ENOMEM);
			assert_int_equal(e->live, live);
			assert_int_equal(e->ntlb + e->nvmid, 0);
			assert_int_equal(check_tables(e).hash, before.hash);
			continue;
		}
		if (r)
			fail_msg("op %d on [0x%llx, +0x%llx): %d", op, (unsigned long long)ipa,
				 (unsigned long long)size, r);
		assert_false(op == 0 && overlap);
		done[op]++;
		if (op == 0)
			assert_int_equal(e->ntlb + e->nvmid, 0);
		for (uint64_t i = 0; i < npages; i++) {
			uint64_t *mp = &m.pa[first + i];
			uint32_t *ma = &m.attrs[first + i];

			if (op == 0) {
				*mp = pa + i * PAGE;
				*ma = attrs;
			} else if (op == 1) {
				if (*mp != FZ_UNMAPPED && !tlb_covered(e, ipa + i * PAGE))
					fail_msg("unmapped page 0x%llx not reported",
						 (unsigned long long)(ipa + i * PAGE));
				*mp = FZ_UNMAPPED;
			} else if (*mp != FZ_UNMAPPED && *ma != attrs) {
				if (!tlb_covered(e, ipa + i * PAGE))
					fail_msg("changed page 0x%llx not reported",
						 (unsigned long long)(ipa + i * PAGE));
				*ma = attrs;
			}
		}
		check_tables(e);
		/* The ends of the range and their neighbours, and a random sample. */
		model_check_page(e, &m, ipa - PAGE);
		model_check_page(e, &m, ipa);
		model_check_page(e, &m, ipa + size - PAGE);
		model_check_page(e, &m, ipa + size);
		for (int k = 0; k < 64; k++)
			model_check_page(e, &m, FZ_BASE + (rnd() % FZ_PAGES) * PAGE);
		if (n % 25 == 24)
			model_compare_all(e, &m);
	}
	model_compare_all(e, &m);
	print_message("# %d maps, %d unmaps, %d set_attrs, %d -ENOMEM, %d -EEXIST\n", done[0],
		      done[1], done[2], nomem, exist);
	assert_true(done[0] > 20 && done[1] > 20 && done[2] > 20 && nomem > 5 && exist > 5);
	free(m.pa);
	free(m.attrs);
	env_done(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vtcr_every_ipa_size),
		cmocka_unit_test(test_config_parange_and_limits),
		cmocka_unit_test(test_vttbr),
		cmocka_unit_test(test_map_largest_blocks),
		cmocka_unit_test(test_map_translate_random),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_unmap_in_1g_block),
		cmocka_unit_test(test_unmap_in_2m_blocks),
		cmocka_unit_test(test_set_attrs_splits),
		cmocka_unit_test(test_overlap_rejected),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_enomem_at_every_point),
		cmocka_unit_test(test_tables_freed),
		cmocka_unit_test(test_destroy_frees_everything),
		cmocka_unit_test(test_tlb_reports),
		cmocka_unit_test(test_walker_faults),
		cmocka_unit_test(test_vmid_pool),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests_name("stage2", tests, NULL, NULL);
}
