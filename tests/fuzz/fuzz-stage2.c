// SPDX-License-Identifier: MIT
/*
 * Fuzz lib/stage2: map / unmap / set_attrs sequences against an interval model.
 *
 * The model is a list of page-granular intervals (IPA range -> PA, attributes). After every
 * operation the harness walks the real tables at the operation's edges, at every model
 * interval's edges and at a random IPA, and requires exactly the model's answer. A failed
 * operation must leave the tables as they were (the model does not change).
 *
 * The page allocator checks its callers: pages come from a fixed pool, freed pages are poisoned
 * for AddressSanitizer (a table walked after being freed is reported), a free of a page that is
 * not allocated or not in the pool aborts, hyp_s2 .pages must equal the pages out, and after
 * hyp_s2_destroy() none may be left. Allocation failures are injected from the input so the
 * "a failure leaves the tables exactly as they were" promise is exercised too.
 */
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <string.h>

#include "fuzz-input.h"

#include "stage2/stage2.h"

#define PAGE 4096ull
#define POOL_PAGES 1024u
#define POOL_PA 0x80000000ull
#define MAX_IVS 256
#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)

struct pool {
	uint8_t *mem;
	bool used[POOL_PAGES];
	size_t live;
	/* Allocation attempts left before one fails (0: never fail). */
	unsigned int fail_in;
	bool refused;
};

struct iv {
	uint64_t start, end, pa;
	uint32_t attrs;
};

struct model {
	struct iv iv[MAX_IVS];
	int n;
};

static void *pool_alloc(struct pool *p, unsigned int count)
{
	if (p->fail_in && --p->fail_in == 0) {
		p->refused = true;
		return NULL;
	}
	for (unsigned int i = 0; i + count <= POOL_PAGES; i += count) {
		unsigned int j;

		for (j = 0; j < count && !p->used[i + j]; j++)
			;
		if (j < count)
			continue;
		for (j = 0; j < count; j++)
			p->used[i + j] = true;
		p->live += count;
		__asan_unpoison_memory_region(p->mem + i * PAGE, count * PAGE);
		/* Whatever a real allocator hands out: the library must initialise it. */
		memset(p->mem + i * PAGE, 0xa5, count * PAGE);
		return p->mem + i * PAGE;
	}
	p->refused = true;
	return NULL;
}

static void pool_free(struct pool *p, void *page, unsigned int count)
{
	uint8_t *b = page;
	size_t i;

	FUZZ_CHECK(b >= p->mem && b < p->mem + POOL_PAGES * PAGE,
		   "free of a page not from the pool");
	FUZZ_CHECK((size_t)(b - p->mem) % (count * PAGE) == 0, "free of a misaligned page");
	i = (size_t)(b - p->mem) / PAGE;
	FUZZ_CHECK(i + count <= POOL_PAGES, "free past the pool");
	for (unsigned int j = 0; j < count; j++) {
		FUZZ_CHECK(p->used[i + j], "double free of pool page %zu", i + j);
		p->used[i + j] = false;
	}
	p->live -= count;
	__asan_poison_memory_region(b, count * PAGE);
}

static void *op_alloc_page(void *o)
{
	return pool_alloc(o, 1);
}

static void op_free_page(void *o, void *page)
{
	pool_free(o, page, 1);
}

static void *op_alloc_pages(void *o, unsigned int count)
{
	FUZZ_CHECK(count >= 2 && count <= 16 && !(count & (count - 1)), "alloc_pages(%u)", count);
	return pool_alloc(o, count);
}

static void op_free_pages(void *o, void *pages, unsigned int count)
{
	pool_free(o, pages, count);
}

static hyp_pa_t op_v2p(void *o, void *va)
{
	struct pool *p = o;
	uint8_t *b = va;

	FUZZ_CHECK(b >= p->mem && b < p->mem + POOL_PAGES * PAGE, "virt_to_phys outside the pool");
	FUZZ_CHECK(p->used[(size_t)(b - p->mem) / PAGE], "virt_to_phys of a free page");
	return POOL_PA + (hyp_pa_t)(b - p->mem);
}

static void *op_p2v(void *o, hyp_pa_t pa)
{
	struct pool *p = o;

	if (pa < POOL_PA || pa - POOL_PA >= POOL_PAGES * PAGE || !p->used[(pa - POOL_PA) / PAGE])
		return NULL;
	return p->mem + (pa - POOL_PA);
}

static const struct iv *model_find(const struct model *m, uint64_t ipa)
{
	for (int i = 0; i < m->n; i++)
		if (ipa >= m->iv[i].start && ipa < m->iv[i].end)
			return &m->iv[i];
	return NULL;
}

static bool model_overlaps(const struct model *m, uint64_t start, uint64_t end)
{
	for (int i = 0; i < m->n; i++)
		if (start < m->iv[i].end && m->iv[i].start < end)
			return true;
	return false;
}

/*
 * Cut [start, end) out of the model; with @attrs >= 0, put the pieces that were mapped back with
 * the new attributes (set_attrs). Returns false when the model is full.
 */
static bool model_cut(struct model *m, uint64_t start, uint64_t end, int64_t attrs)
{
	struct iv add[2 * MAX_IVS];
	int na = 0, n = 0;

	for (int i = 0; i < m->n; i++) {
		struct iv v = m->iv[i];
		uint64_t lo = v.start > start ? v.start : start;
		uint64_t hi = v.end < end ? v.end : end;

		if (lo >= hi) {
			add[na++] = v;
			continue;
		}
		if (v.start < lo)
			add[na++] = (struct iv){ v.start, lo, v.pa, v.attrs };
		if (hi < v.end)
			add[na++] = (struct iv){ hi, v.end, v.pa + (hi - v.start), v.attrs };
		if (attrs >= 0)
			add[na++] = (struct iv){ lo, hi, v.pa + (lo - v.start), (uint32_t)attrs };
	}
	if (na > MAX_IVS)
		return false;
	for (int i = 0; i < na; i++)
		m->iv[n++] = add[i];
	m->n = n;
	return true;
}

static void check_ipa(const struct hyp_s2 *s2, const struct model *m, uint64_t ipa)
{
	const struct iv *v = model_find(m, ipa);
	struct hyp_s2_walk w;
	int r;

	if (ipa >> s2->ipa_bits)
		return;
	memset(&w, 0, sizeof(w));
	r = hyp_s2_walk(s2, ipa, &w);
	FUZZ_CHECK(r == 0, "walk of %#llx: %d", (unsigned long long)ipa, r);
	if (!v) {
		FUZZ_CHECK(w.fault == HYP_S2_FAULT_TRANSLATION,
			   "ipa %#llx: unmapped in the model, fault %d", (unsigned long long)ipa,
			   w.fault);
		return;
	}
	FUZZ_CHECK(w.fault == HYP_S2_FAULT_NONE,
		   "ipa %#llx: mapped in the model, fault %d level %d", (unsigned long long)ipa,
		   w.fault, w.level);
	FUZZ_CHECK(w.pa == v->pa + (ipa - v->start), "ipa %#llx -> pa %#llx, model %#llx",
		   (unsigned long long)ipa, (unsigned long long)w.pa,
		   (unsigned long long)(v->pa + (ipa - v->start)));
	FUZZ_CHECK(w.attrs == v->attrs, "ipa %#llx attrs %#x, model %#x", (unsigned long long)ipa,
		   w.attrs, v->attrs);
	/* The leaf never maps beyond what the model has with the same translation. */
	FUZZ_CHECK(w.size == PAGE || w.size == SZ_2M || w.size == SZ_1G, "leaf size %#llx",
		   (unsigned long long)w.size);
}

static void check_around(const struct hyp_s2 *s2, const struct model *m, uint64_t start,
			 uint64_t end)
{
	check_ipa(s2, m, start);
	check_ipa(s2, m, start - PAGE);
	check_ipa(s2, m, end - PAGE);
	check_ipa(s2, m, end);
	check_ipa(s2, m, start + (end - start) / 2);
}

/* Addresses and sizes that hit page, 2 MiB and 1 GiB boundaries often enough to matter. */
static uint64_t gen_addr(struct fuzz_in *in)
{
	uint8_t a = fuzz_u8(in), b = fuzz_u8(in);

	return ((uint64_t)(a & 0xf) << 30) | ((uint64_t)(a >> 4) << 21) |
	       ((uint64_t)(b & 0x1f) << 12) | ((b & 0x80) ? 1 : 0) * 0x800; /* rarely unaligned */
}

static uint64_t gen_size(struct fuzz_in *in)
{
	static const uint64_t units[4] = { PAGE, SZ_2M, SZ_1G, PAGE };
	uint8_t s = fuzz_u8(in);
	uint64_t size = units[s & 3] * (1 + ((s >> 2) & 3));

	if (s & 0x10)
		size += PAGE;
	if (s & 0x20)
		size -= PAGE; /* 0 for a single page: an invalid size */
	if ((s & 0xc0) == 0xc0)
		size |= 0x10; /* unaligned */
	return size;
}

static uint32_t gen_attrs(struct fuzz_in *in)
{
	static const uint32_t mem[8] = { HYP_S2_MEM_NORMAL, HYP_S2_MEM_NORMAL_NC,
					 HYP_S2_MEM_DEVICE, HYP_S2_MEM_DEVICE_nGnRnE,
					 HYP_S2_MEM_NORMAL, HYP_S2_MEM_NORMAL,
					 HYP_S2_MEM_OTHER,  HYP_S2_MEM_NORMAL | (1u << 20) };
	uint8_t a = fuzz_u8(in);

	return (a & HYP_S2_PERM_MASK) | mem[(a >> 4) & 7];
}

/* Whether the attributes are acceptable, from the documentation of hyp_s2_map(). */
static int attrs_error(uint32_t attrs, bool xnx)
{
	uint32_t mem = attrs & HYP_S2_MEM_MASK, x = attrs & HYP_S2_X;
	bool device = mem == HYP_S2_MEM_DEVICE || mem == HYP_S2_MEM_DEVICE_nGnRnE;

	if (attrs & ~(HYP_S2_PERM_MASK | HYP_S2_MEM_MASK))
		return -EINVAL;
	if (mem != HYP_S2_MEM_NORMAL && mem != HYP_S2_MEM_NORMAL_NC && !device)
		return -EINVAL;
	if (device && x)
		return -EINVAL;
	if (x && x != HYP_S2_X && !xnx)
		return -ENOTSUP;
	return 0;
}

static bool range_ok(uint64_t a, uint64_t size, unsigned int bits)
{
	uint64_t limit = 1ull << bits;

	return size <= limit && a <= limit - size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ipa_choice[8] = { 0, 32, 36, 39, 40, 42, 44, 48 };
	struct fuzz_in in = { data, size };
	static struct model m;
	static struct pool p;
	struct hyp_s2_mm_ops ops = {
		.alloc_page = op_alloc_page,
		.free_page = op_free_page,
		.alloc_pages = op_alloc_pages,
		.free_pages = op_free_pages,
		.virt_to_phys = op_v2p,
		.phys_to_virt = op_p2v,
		.opaque = &p,
	};
	struct hyp_s2_config cfg = { 0 };
	struct hyp_s2 s2;
	uint8_t c = fuzz_u8(&in);
	int steps = 0;

	if (!p.mem) {
		p.mem = aligned_alloc(16 * PAGE, POOL_PAGES * PAGE);
		FUZZ_CHECK(p.mem, "no pool");
	}
	memset(p.used, 0, sizeof(p.used));
	p.live = 0;
	p.fail_in = 0;
	__asan_poison_memory_region(p.mem, POOL_PAGES * PAGE);
	m.n = 0;

	cfg.ipa_bits = ipa_choice[c & 7];
	cfg.mmfr0 = 2 + ((c >> 3) & 3); /* PARange 40, 42, 44, 48 bits */
	cfg.mmfr1 = (c & 0x20) ? 1u << 28 : 0;
	if (hyp_s2_init(&s2, &cfg, &ops))
		return 0;
	FUZZ_CHECK(s2.pages == p.live, "pages %zu, allocator says %zu", s2.pages, p.live);

	while (!fuzz_done(&in) && steps++ < 48) {
		uint8_t op = fuzz_u8(&in);
		uint64_t ipa = gen_addr(&in), sz = gen_size(&in), pa = 0;
		uint32_t attrs = 0;
		bool valid = sz && !((ipa | sz) & (PAGE - 1)) && range_ok(ipa, sz, s2.ipa_bits);
		size_t pages_before = s2.pages;
		int r, aerr = 0;

		p.refused = false;
		p.fail_in = (op & 0x30) == 0x30 ? 1 + (op >> 6) : 0;
		switch (op & 3) {
		case 0:
		case 1: /* map */
			pa = POOL_PA * 2 + gen_addr(&in);
			attrs = gen_attrs(&in);
			aerr = attrs_error(attrs, s2.xnx);
			valid = valid && !(pa & (PAGE - 1));
			r = hyp_s2_map(&s2, ipa, pa, sz, attrs);
			if (r == 0) {
				FUZZ_CHECK(valid && !aerr && range_ok(pa, sz, s2.pa_bits),
					   "map accepted bad arguments");
				FUZZ_CHECK(!model_overlaps(&m, ipa, ipa + sz),
					   "map over a mapping");
				if (m.n == MAX_IVS)
					goto out;
				m.iv[m.n++] = (struct iv){ ipa, ipa + sz, pa, attrs };
			} else if (r == -EEXIST) {
				FUZZ_CHECK(model_overlaps(&m, ipa, ipa + sz),
					   "-EEXIST without overlap");
			} else if (r == -ENOMEM) {
				FUZZ_CHECK(p.refused, "-ENOMEM without a refused allocation");
			} else {
				FUZZ_CHECK(!valid || aerr || !range_ok(pa, sz, s2.pa_bits),
					   "map of a valid range failed: %d", r);
				FUZZ_CHECK(!aerr || r == aerr || r == -EINVAL || r == -ERANGE,
					   "map: %d for attrs %#x", r, attrs);
			}
			break;
		case 2: /* unmap */
			r = hyp_s2_unmap(&s2, ipa, sz);
			if (r == 0) {
				FUZZ_CHECK(valid, "unmap accepted a bad range");
				if (!model_cut(&m, ipa, ipa + sz, -1))
					goto out;
			} else {
				FUZZ_CHECK(valid ? r == -ENOMEM && p.refused :
						   r == -EINVAL || r == -ERANGE,
					   "unmap: %d (valid %d)", r, valid);
			}
			break;
		default: /* set_attrs */
			attrs = gen_attrs(&in);
			aerr = attrs_error(attrs, s2.xnx);
			r = hyp_s2_set_attrs(&s2, ipa, sz, attrs);
			if (r == 0) {
				FUZZ_CHECK(valid && !aerr, "set_attrs accepted bad arguments");
				if (!model_cut(&m, ipa, ipa + sz, attrs))
					goto out;
			} else if (r == -ENOMEM) {
				FUZZ_CHECK(p.refused, "-ENOMEM without a refused allocation");
			} else {
				FUZZ_CHECK(!valid || aerr, "set_attrs of a valid range failed: %d",
					   r);
			}
			break;
		}
		p.fail_in = 0;
		if (r)
			FUZZ_CHECK(s2.pages == pages_before, "failed op changed the table count");
		FUZZ_CHECK(s2.pages == p.live, "pages %zu, allocator says %zu", s2.pages, p.live);
		if (sz && sz < (1ull << 40))
			check_around(&s2, &m, ipa & ~(PAGE - 1),
				     (ipa + sz + PAGE - 1) & ~(PAGE - 1));
		for (int i = 0; i < m.n && i < 16; i++)
			check_around(&s2, &m, m.iv[i].start, m.iv[i].end);
		check_ipa(&s2, &m, gen_addr(&in) & ~(PAGE - 1));
	}
out:
	hyp_s2_destroy(&s2);
	FUZZ_CHECK(p.live == 0, "%zu table pages leaked", p.live);
	return 0;
}
