// SPDX-License-Identifier: MIT
/*
 * lib/stage2/stage2.c: building and changing stage-2 translation tables (4 KiB granule).
 *
 * Every operation (map, unmap, set_attrs) runs twice over the same range with the same code:
 *  1. a dry run that changes nothing, and finds out whether the operation is possible (-EEXIST),
 *     how many table pages it will take, and how many live mappings it will change;
 *  2. after every page has been allocated up front (a failure frees them and returns -ENOMEM with
 *     the tables untouched), the real run, which cannot fail.
 * In the dry run, tables the real run would create are "virtual": a NULL pointer plus the
 * descriptor their first entry would hold (0 for a new empty table, the split block's attributes
 * and output address for a table replacing a block), which is all it takes to know what entry i
 * would be.
 *
 * New tables are filled completely while nothing points at them ("offline": no TLB can hold
 * their entries, so changing them needs no maintenance) and then published with one store-release
 * of the table descriptor, so the hardware walker sees either the old descriptor or a finished
 * table. Replacing a valid block by a table, or changing a mapping's memory type, goes through
 * break-before-make (Arm ARM D8, "Break-before-make"): invalid descriptor, TLB invalidation
 * reported and completed, new descriptor.
 *
 * Freed tables: after an unmap, a table with no valid entry left is unlinked, the walk caches are
 * told (tlb_flush_ipa with level -1, or the VMID flush), and only then is the page given back.
 */
#include "hyp_string.h"

#include "s2-internal.h"

/* Attribute bits of a block or page descriptor, as hyp_s2_map()/hyp_s2_set_attrs() set them. */
#define S2_ATTR_MASK                                                                               \
	(HYP_S2_DESC_MEMATTR_MASK | HYP_S2_DESC_S2AP_R | HYP_S2_DESC_S2AP_W |                      \
	 HYP_S2_DESC_SH_MASK | HYP_S2_DESC_AF | HYP_S2_DESC_XN_MASK)
/* Changing these in a valid descriptor needs break-before-make: memory type and shareability.
 * Permissions (S2AP, XN) may change in place (Arm ARM D8, "Break-before-make"). */
#define S2_BBM_MASK (HYP_S2_DESC_MEMATTR_MASK | HYP_S2_DESC_SH_MASK)

/* Tables an operation has freed but whose TLB maintenance is still pending, at most. */
#define S2_DEFER_MAX 16u

enum s2_op {
	S2_MAP,
	S2_UNMAP,
	S2_SET_ATTRS,
};

struct s2_ctx {
	struct hyp_s2 *s2;
	enum s2_op op;
	bool dry;
	/* S2_MAP: the start of the range and where it goes. */
	hyp_ipa_t ipa;
	hyp_pa_t pa;
	/* S2_MAP, S2_SET_ATTRS: the descriptor attribute bits (S2_ATTR_MASK) to write. */
	uint64_t attrs;
	/* Dry run results. */
	size_t need;	/* table pages the real run takes */
	size_t changes; /* valid descriptors of live tables it removes or changes */
	/* Real run. */
	void *cache; /* pre-allocated pages, linked through their first word */
	bool use_vmid_flush;
	bool vmid_pending;
	unsigned int ndeferred;
	void *deferred[S2_DEFER_MAX];
};

static void s2_write(uint64_t *ptep, uint64_t desc)
{
	__atomic_store_n(ptep, desc, __ATOMIC_RELAXED);
}

/* Publish a descriptor whose target (a freshly filled table) must be visible first: the
 * store-release orders the table's contents before the descriptor for every observer, the
 * hardware walker included. */
static void s2_publish(uint64_t *ptep, uint64_t desc)
{
	__atomic_store_n(ptep, desc, __ATOMIC_RELEASE);
}

static bool s2_is_table(uint64_t desc, int level)
{
	return level < S2_MAX_LEVEL && (desc & (HYP_S2_DESC_VALID | HYP_S2_DESC_TABLE)) ==
					       (HYP_S2_DESC_VALID | HYP_S2_DESC_TABLE);
}

/* A valid block (levels 1, 2) or page (level 3). A valid descriptor with bit 1 clear at level 0
 * or 3 is a reserved encoding the hardware treats as invalid; so does this code (it never writes
 * one). */
static bool s2_is_leaf(uint64_t desc, int level)
{
	if (!(desc & HYP_S2_DESC_VALID))
		return false;
	if (level == S2_MAX_LEVEL)
		return desc & HYP_S2_DESC_PAGE;
	return level > 0 && !(desc & HYP_S2_DESC_TABLE);
}

static uint64_t s2_leaf(uint64_t attrs, hyp_pa_t pa, int level)
{
	return attrs | (pa & HYP_S2_DESC_OA_MASK) | HYP_S2_DESC_VALID |
	       (level == S2_MAX_LEVEL ? HYP_S2_DESC_PAGE : 0);
}

/* The first entry of the table that replaces @block at @level: the same attributes and output
 * address, one level down. Entry i adds i * s2_level_size(level + 1). */
static uint64_t s2_split_template(uint64_t block, int level)
{
	uint64_t desc = block & ~HYP_S2_DESC_TABLE;

	return level + 1 == S2_MAX_LEVEL ? desc | HYP_S2_DESC_PAGE : desc;
}

static uint64_t *s2_table_ptr(const struct hyp_s2 *s2, uint64_t desc)
{
	uint64_t *table = s2->ops.phys_to_virt(s2->ops.opaque, desc & HYP_S2_DESC_OA_MASK);

	s2_bug_on(!table);
	return table;
}

static bool s2_table_empty(const uint64_t *table)
{
	for (unsigned int i = 0; i < S2_PTRS_PER_TABLE; i++)
		if (s2_read(&table[i]) & HYP_S2_DESC_VALID)
			return false;
	return true;
}

static void s2_free_table(struct hyp_s2 *s2, void *table)
{
	s2->ops.free_page(s2->ops.opaque, table);
	s2->pages--;
}

/* ---------------------------------------------------------------------------------------------
 * Pages: all allocated before the real run.
 */

static void s2_release_cache(struct s2_ctx *ctx)
{
	const struct hyp_s2_mm_ops *ops = &ctx->s2->ops;

	while (ctx->cache) {
		void *page = ctx->cache;

		ctx->cache = *(void **)page;
		ops->free_page(ops->opaque, page);
	}
}

static int s2_prealloc(struct s2_ctx *ctx)
{
	const struct hyp_s2 *s2 = ctx->s2;
	const struct hyp_s2_mm_ops *ops = &s2->ops;

	for (size_t i = 0; i < ctx->need; i++) {
		void *page = ops->alloc_page(ops->opaque);
		hyp_pa_t pa;

		if (!page) {
			s2_release_cache(ctx);
			return -ENOMEM;
		}
		/* A table address must fit VTCR_EL2.PS, or the walk takes an Address size fault. */
		pa = ops->virt_to_phys(ops->opaque, page);
		if ((pa & (S2_PAGE_SIZE - 1)) || (pa >> s2->pa_bits)) {
			ops->free_page(ops->opaque, page);
			s2_release_cache(ctx);
			return -ERANGE;
		}
		*(void **)page = ctx->cache;
		ctx->cache = page;
	}
	return 0;
}

static uint64_t *s2_take_page(struct s2_ctx *ctx)
{
	void *page = ctx->cache;

	s2_bug_on(!page); /* the dry run counted wrong */
	ctx->cache = *(void **)page;
	ctx->s2->pages++;
	return page;
}

/* ---------------------------------------------------------------------------------------------
 * TLB maintenance reports.
 */

/* A valid descriptor at @level covering @ipa was removed or changed (@level -1: a table). */
static void s2_tlb_report(struct s2_ctx *ctx, hyp_ipa_t ipa, int level)
{
	const struct hyp_s2_mm_ops *ops = &ctx->s2->ops;

	if (ctx->use_vmid_flush)
		ctx->vmid_pending = true;
	else if (ops->tlb_flush_ipa)
		ops->tlb_flush_ipa(ops->opaque, ipa, level);
}

/* Make every report so far complete, then free the tables that were waiting for it. */
static void s2_tlb_sync(struct s2_ctx *ctx)
{
	const struct hyp_s2_mm_ops *ops = &ctx->s2->ops;

	if (ctx->vmid_pending) {
		ops->tlb_flush_vmid(ops->opaque);
		ctx->vmid_pending = false;
	}
	while (ctx->ndeferred)
		s2_free_table(ctx->s2, ctx->deferred[--ctx->ndeferred]);
}

/* Replace the valid block or page at *@ptep (@level, covering @ipa) by @desc. */
static void s2_break_before_make(struct s2_ctx *ctx, uint64_t *ptep, uint64_t desc, hyp_ipa_t ipa,
				 int level)
{
	s2_write(ptep, 0);
	s2_tlb_report(ctx, ipa, level);
	s2_tlb_sync(ctx);
	s2_publish(ptep, desc);
}

/* Unlink a table that no longer maps anything; free it once no walk cache can point at it. */
static void s2_retire_table(struct s2_ctx *ctx, uint64_t *ptep, uint64_t *table, hyp_ipa_t ipa,
			    bool live)
{
	s2_write(ptep, 0);
	if (!live) {
		s2_free_table(ctx->s2, table);
		return;
	}
	s2_tlb_report(ctx, ipa, -1);
	if (ctx->ndeferred == S2_DEFER_MAX)
		s2_tlb_sync(ctx);
	ctx->deferred[ctx->ndeferred++] = table;
}

/* ---------------------------------------------------------------------------------------------
 * The range walk shared by every operation and by both runs.
 *
 * @table is the table at @level covering IPAs from @base (the root: base 0, up to 16 concatenated
 * pages), or NULL in the dry run for a table that does not exist yet; then @tmpl is what its
 * entry 0 would hold. @live: the table is reachable by the hardware (offline tables are not).
 */
static int s2_walk_range(struct s2_ctx *ctx, uint64_t *table, uint64_t tmpl, int level,
			 hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live);

/* Give *@ptep (at @level, covering [@base, +size)) a new table whose entries start from @tmpl,
 * apply the operation to [@start, @end) inside it, then publish it. */
static int s2_install_table(struct s2_ctx *ctx, uint64_t *ptep, uint64_t tmpl, int level,
			    hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	uint64_t child_size = s2_level_size(level + 1);
	uint64_t *table, desc;
	int r;

	if (ctx->dry) {
		ctx->need++;
		if (live && tmpl)
			ctx->changes++;
		return s2_walk_range(ctx, NULL, tmpl, level + 1, base, start, end, false);
	}

	table = s2_take_page(ctx);
	if (tmpl) {
		for (unsigned int i = 0; i < S2_PTRS_PER_TABLE; i++)
			table[i] = tmpl + i * child_size;
	} else {
		memset(table, 0, S2_PAGE_SIZE);
	}
	r = s2_walk_range(ctx, table, 0, level + 1, base, start, end, false);
	s2_bug_on(r);

	desc = (ctx->s2->ops.virt_to_phys(ctx->s2->ops.opaque, table) & HYP_S2_DESC_OA_MASK) |
	       HYP_S2_DESC_TABLE | HYP_S2_DESC_VALID;
	if (live && tmpl)
		s2_break_before_make(ctx, ptep, desc, base, level);
	else
		s2_publish(ptep, desc); /* the entry was invalid, or nothing can see it yet */
	return 0;
}

static int s2_map_entry(struct s2_ctx *ctx, uint64_t *ptep, uint64_t desc, int level,
			hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	uint64_t size = s2_level_size(level);
	hyp_pa_t pa = ctx->pa + (start - ctx->ipa);

	if (s2_is_leaf(desc, level)) {
		s2_bug_on(!ctx->dry); /* the dry run returns -EEXIST first */
		return -EEXIST;
	}
	/* Largest block: the whole entry is in the range, and the output address is aligned. There
	 * are no level-0 blocks with the 4 KiB granule (without FEAT_LPA2). */
	if (start == base && end - start == size && level > 0 && !(pa & (size - 1))) {
		if (!ctx->dry)
			s2_write(ptep, s2_leaf(ctx->attrs, pa, level));
		return 0;
	}
	s2_bug_on(level == S2_MAX_LEVEL); /* pages always fit */
	return s2_install_table(ctx, ptep, 0, level, base, start, end, live);
}

static int s2_unmap_entry(struct s2_ctx *ctx, uint64_t *ptep, uint64_t desc, int level,
			  hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	if (!s2_is_leaf(desc, level))
		return 0;
	if (start == base && end - start == s2_level_size(level)) {
		if (ctx->dry) {
			ctx->changes += live;
		} else {
			s2_write(ptep, 0);
			if (live)
				s2_tlb_report(ctx, base, level);
		}
		return 0;
	}
	/* The block straddles an end of the range: split it, keeping the rest mapped. */
	return s2_install_table(ctx, ptep, s2_split_template(desc, level), level, base, start, end,
				live);
}

static int s2_set_attrs_entry(struct s2_ctx *ctx, uint64_t *ptep, uint64_t desc, int level,
			      hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	uint64_t new;

	if (!s2_is_leaf(desc, level))
		return 0;
	new = (desc & ~S2_ATTR_MASK) | ctx->attrs;
	if (new == desc)
		return 0; /* nothing to do: in particular, no split */
	if (start == base && end - start == s2_level_size(level)) {
		if (ctx->dry)
			ctx->changes += live;
		else if (!live)
			s2_write(ptep, new);
		else if ((desc ^ new) & S2_BBM_MASK)
			s2_break_before_make(ctx, ptep, new, base, level);
		else {
			s2_write(ptep, new);
			s2_tlb_report(ctx, base, level);
		}
		return 0;
	}
	return s2_install_table(ctx, ptep, s2_split_template(desc, level), level, base, start, end,
				live);
}

static int s2_entry(struct s2_ctx *ctx, uint64_t *ptep, uint64_t desc, int level, hyp_ipa_t base,
		    hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	if (s2_is_table(desc, level)) {
		uint64_t *child = s2_table_ptr(ctx->s2, desc);
		bool whole = start == base && end - start == s2_level_size(level);
		int r = s2_walk_range(ctx, child, 0, level + 1, base, start, end, live);

		if (r || ctx->dry || ctx->op != S2_UNMAP)
			return r;
		/* Unmapping the whole entry emptied the table; otherwise it may have been. */
		if (whole || s2_table_empty(child))
			s2_retire_table(ctx, ptep, child, base, live);
		return 0;
	}

	switch (ctx->op) {
	case S2_MAP:
		return s2_map_entry(ctx, ptep, desc, level, base, start, end, live);
	case S2_UNMAP:
		return s2_unmap_entry(ctx, ptep, desc, level, base, start, end, live);
	case S2_SET_ATTRS:
		return s2_set_attrs_entry(ctx, ptep, desc, level, base, start, end, live);
	}
	s2_bug_on(1);
	return -EINVAL;
}

static int s2_walk_range(struct s2_ctx *ctx, uint64_t *table, uint64_t tmpl, int level,
			 hyp_ipa_t base, hyp_ipa_t start, hyp_ipa_t end, bool live)
{
	unsigned int shift = s2_level_shift(level);
	uint64_t size = UINT64_C(1) << shift;

	/* Nothing at level 3 of a table that does not exist yet can fail, allocate or need
	 * maintenance: the dry run need not look. */
	if (ctx->dry && !table && level == S2_MAX_LEVEL)
		return 0;

	for (hyp_ipa_t addr = start; addr < end;) {
		uint64_t idx = (addr - base) >> shift;
		hyp_ipa_t entry_base = base + (idx << shift);
		hyp_ipa_t entry_end = entry_base + size;
		hyp_ipa_t next = end < entry_end ? end : entry_end;
		uint64_t *ptep = table ? &table[idx] : NULL;
		uint64_t desc = table ? s2_read(ptep) : (tmpl ? tmpl + idx * size : 0);
		int r = s2_entry(ctx, ptep, desc, level, entry_base, addr, next, live);

		if (r)
			return r;
		addr = next;
	}
	return 0;
}

static int s2_run(struct s2_ctx *ctx, hyp_ipa_t start, hyp_ipa_t end)
{
	struct hyp_s2 *s2 = ctx->s2;
	const struct hyp_s2_mm_ops *ops = &s2->ops;
	int r;

	ctx->dry = true;
	r = s2_walk_range(ctx, s2->root, 0, s2->start_level, 0, start, end, true);
	if (r)
		return r;
	r = s2_prealloc(ctx);
	if (r)
		return r;

	/* Many changes: one VMID-wide invalidation beats a TLBI per page. */
	ctx->use_vmid_flush = ops->tlb_flush_vmid &&
			      (!ops->tlb_flush_ipa || ctx->changes > HYP_S2_TLB_IPA_MAX);
	ctx->dry = false;
	r = s2_walk_range(ctx, s2->root, 0, s2->start_level, 0, start, end, true);
	s2_bug_on(r || ctx->cache);
	s2_tlb_sync(ctx);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Argument checks.
 */

static int s2_encode_attrs(const struct hyp_s2 *s2, uint32_t attrs, uint64_t *out)
{
	uint64_t desc = HYP_S2_DESC_AF | HYP_S2_DESC_SH_INNER;
	uint32_t exec = attrs & HYP_S2_X;
	uint64_t memattr, xn;
	bool device = false;

	if (attrs & ~(HYP_S2_PERM_MASK | HYP_S2_MEM_MASK))
		return -EINVAL;
	switch (attrs & HYP_S2_MEM_MASK) {
	case HYP_S2_MEM_NORMAL:
		memattr = HYP_S2_MEMATTR_NORMAL_WB;
		break;
	case HYP_S2_MEM_NORMAL_NC:
		memattr = HYP_S2_MEMATTR_NORMAL_NC;
		break;
	case HYP_S2_MEM_DEVICE:
		memattr = HYP_S2_MEMATTR_DEVICE_nGnRE;
		device = true;
		break;
	case HYP_S2_MEM_DEVICE_nGnRnE:
		memattr = HYP_S2_MEMATTR_DEVICE_nGnRnE;
		device = true;
		break;
	default:
		return -EINVAL;
	}
	/* The architecture only stops speculative instruction fetches from Device memory that is
	 * execute-never: executable Device mappings are refused. */
	if (device && exec)
		return -EINVAL;

	/* XN[1:0]: 0b00 executable at EL0 and EL1, 0b10 at neither; with FEAT_XNX 0b01 only at EL0
	 * (PXN) and 0b11 only at EL1 (UXN). 0b10 is bit 54 alone: plain XN without FEAT_XNX. */
	if (exec == HYP_S2_X)
		xn = 0;
	else if (!exec)
		xn = 2;
	else if (!s2->xnx)
		return -ENOTSUP;
	else
		xn = exec == HYP_S2_X_EL0 ? 1 : 3;

	if (attrs & HYP_S2_R)
		desc |= HYP_S2_DESC_S2AP_R;
	if (attrs & HYP_S2_W)
		desc |= HYP_S2_DESC_S2AP_W;
	*out = desc | (memattr << HYP_S2_DESC_MEMATTR_SHIFT) | (xn << HYP_S2_DESC_XN_SHIFT);
	return 0;
}

static bool s2_range_fits(hyp_ipa_t addr, uint64_t size, unsigned int bits)
{
	uint64_t limit = UINT64_C(1) << bits;

	return size <= limit && addr <= limit - size;
}

static int s2_check_range(const struct hyp_s2 *s2, hyp_ipa_t ipa, uint64_t size)
{
	if (!s2 || !s2->root || !size || ((ipa | size) & (S2_PAGE_SIZE - 1)))
		return -EINVAL;
	return s2_range_fits(ipa, size, s2->ipa_bits) ? 0 : -ERANGE;
}

/* ---------------------------------------------------------------------------------------------
 * Operations.
 */

int hyp_s2_map(struct hyp_s2 *s2, hyp_ipa_t ipa, hyp_pa_t pa, uint64_t size, uint32_t attrs)
{
	struct s2_ctx ctx = { .s2 = s2, .op = S2_MAP, .ipa = ipa, .pa = pa };
	int r;

	if (s2 && (pa & (S2_PAGE_SIZE - 1)))
		return -EINVAL;
	r = s2_check_range(s2, ipa, size);
	if (!r)
		r = s2_encode_attrs(s2, attrs, &ctx.attrs);
	if (!r && !s2_range_fits(pa, size, s2->pa_bits))
		r = -ERANGE;
	return r ? r : s2_run(&ctx, ipa, ipa + size);
}

int hyp_s2_unmap(struct hyp_s2 *s2, hyp_ipa_t ipa, uint64_t size)
{
	struct s2_ctx ctx = { .s2 = s2, .op = S2_UNMAP };
	int r = s2_check_range(s2, ipa, size);

	return r ? r : s2_run(&ctx, ipa, ipa + size);
}

int hyp_s2_set_attrs(struct hyp_s2 *s2, hyp_ipa_t ipa, uint64_t size, uint32_t attrs)
{
	struct s2_ctx ctx = { .s2 = s2, .op = S2_SET_ATTRS };
	int r = s2_check_range(s2, ipa, size);

	if (!r)
		r = s2_encode_attrs(s2, attrs, &ctx.attrs);
	return r ? r : s2_run(&ctx, ipa, ipa + size);
}

/* ---------------------------------------------------------------------------------------------
 * Configuration, creation, destruction.
 */

#define MMFR0_PARANGE(v) ((unsigned int)((v)&0xf))
#define MMFR0_VMIDBITS(v) ((unsigned int)(((v) >> 4) & 0xf))
#define MMFR0_VMIDBITS_16 2u
#define MMFR0_TGRAN4(v) ((unsigned int)(((v) >> 28) & 0xf))
#define MMFR0_TGRAN4_NI 0xfu
#define MMFR0_TGRAN4_2(v) ((unsigned int)(((v) >> 40) & 0xf))
#define MMFR0_TGRAN4_2_AS_STAGE1 0u
#define MMFR0_TGRAN4_2_NI 1u
#define MMFR1_XNX(v) ((unsigned int)(((v) >> 28) & 0xf))

static void *s2_alloc_root(const struct hyp_s2_mm_ops *ops, unsigned int pages)
{
	return pages == 1 ? ops->alloc_page(ops->opaque) : ops->alloc_pages(ops->opaque, pages);
}

static void s2_free_root(const struct hyp_s2_mm_ops *ops, void *root, unsigned int pages)
{
	if (pages == 1)
		ops->free_page(ops->opaque, root);
	else
		ops->free_pages(ops->opaque, root, pages);
}

int hyp_s2_init(struct hyp_s2 *s2, const struct hyp_s2_config *cfg, const struct hyp_s2_mm_ops *ops)
{
	struct hyp_s2 n = { 0 };
	unsigned int pa_bits, ipa_bits, ps, sl0;
	bool vmid16_ok;
	uint64_t root_size;

	if (!s2 || !cfg || !ops || !ops->alloc_page || !ops->free_page || !ops->virt_to_phys ||
	    !ops->phys_to_virt)
		return -EINVAL;

	/* Stage-2 support for the 4 KiB granule: TGran4_2, or TGran4 when TGran4_2 defers to it. */
	if (MMFR0_TGRAN4_2(cfg->mmfr0) == MMFR0_TGRAN4_2_NI ||
	    (MMFR0_TGRAN4_2(cfg->mmfr0) == MMFR0_TGRAN4_2_AS_STAGE1 &&
	     MMFR0_TGRAN4(cfg->mmfr0) == MMFR0_TGRAN4_NI))
		return -ENOTSUP;

	/* PA size: 4 KiB descriptors without FEAT_LPA2 hold 48 output address bits, so a larger
	 * PARange (52 bits, or a value this code does not know yet) is used as 48. */
	pa_bits = s2_parange_bits(MMFR0_PARANGE(cfg->mmfr0));
	if (!pa_bits || pa_bits > S2_MAX_IPA_BITS)
		pa_bits = S2_MAX_IPA_BITS;
	for (ps = 0; s2_parange_bits(ps) != pa_bits; ps++)
		;

	ipa_bits = cfg->ipa_bits ? cfg->ipa_bits : pa_bits;
	if (ipa_bits < 32 || ipa_bits > 52)
		return -EINVAL;
	if (ipa_bits > S2_MAX_IPA_BITS)
		return -ENOTSUP;
	/* An IPA size above the PA size is CONSTRAINED UNPREDICTABLE for stage 2. */
	if (ipa_bits > pa_bits)
		return -ERANGE;

	vmid16_ok = MMFR0_VMIDBITS(cfg->mmfr0) == MMFR0_VMIDBITS_16;
	switch (cfg->vmid_bits) {
	case 0:
		n.vmid_bits = vmid16_ok ? 16 : 8;
		break;
	case 8:
		n.vmid_bits = 8;
		break;
	case 16:
		if (!vmid16_ok)
			return -ENOTSUP;
		n.vmid_bits = 16;
		break;
	default:
		return -EINVAL;
	}

	/* Start level (VTCR_EL2.SL0 with TG0 = 4 KiB: 0b01 level 1, 0b10 level 0). Level 1 resolves
	 * IPA bits [ipa_bits-1:30]: 1..13 bits for 31..43-bit IPAs, up to 9 in one table and up to
	 * 16 tables concatenated beyond that. Level 0 takes 44..48 bits (it resolves 5..9 bits in
	 * one table); the architecture allows SL0 = 0b10 only when PARange is at least 44 bits,
	 * which ipa_bits <= pa_bits guarantees here. */
	if (ipa_bits <= 43) {
		n.start_level = 1;
		n.root_pages = ipa_bits > 39 ? (uint8_t)(1u << (ipa_bits - 39)) : 1;
		sl0 = 1;
	} else {
		n.start_level = 0;
		n.root_pages = 1;
		sl0 = 2;
	}
	if (n.root_pages > 1 && (!ops->alloc_pages || !ops->free_pages))
		return -ENOTSUP;

	n.ops = *ops;
	n.ipa_bits = (uint8_t)ipa_bits;
	n.pa_bits = (uint8_t)pa_bits;
	n.xnx = MMFR1_XNX(cfg->mmfr1) == 1;
	n.vtcr = (uint64_t)(64 - ipa_bits) | ((uint64_t)sl0 << VTCR_SL0_SHIFT) | VTCR_IRGN0_WBWA |
		 VTCR_ORGN0_WBWA | VTCR_SH0_INNER | VTCR_TG0_4K | ((uint64_t)ps << VTCR_PS_SHIFT) |
		 (n.vmid_bits == 16 ? VTCR_VS : 0) | VTCR_RES1;

	n.root = s2_alloc_root(ops, n.root_pages);
	if (!n.root)
		return -ENOMEM;
	/* Concatenated tables must be aligned to their total size (VTTBR_EL2.BADDR). */
	root_size = n.root_pages * S2_PAGE_SIZE;
	n.root_pa = ops->virt_to_phys(ops->opaque, n.root);
	if ((n.root_pa & (root_size - 1)) || !s2_range_fits(n.root_pa, root_size, pa_bits)) {
		s2_free_root(ops, n.root, n.root_pages);
		return -ERANGE;
	}
	memset(n.root, 0, root_size);
	n.pages = n.root_pages;
	*s2 = n;
	return 0;
}

static void s2_free_tree(struct hyp_s2 *s2, uint64_t *table, unsigned int entries, int level)
{
	for (unsigned int i = 0; i < entries; i++) {
		uint64_t desc = s2_read(&table[i]);

		if (s2_is_table(desc, level)) {
			uint64_t *child = s2_table_ptr(s2, desc);

			s2_free_tree(s2, child, S2_PTRS_PER_TABLE, level + 1);
			s2_free_table(s2, child);
		}
	}
}

void hyp_s2_destroy(struct hyp_s2 *s2)
{
	if (!s2 || !s2->root)
		return;
	s2_free_tree(s2, s2->root, s2->root_pages * S2_PTRS_PER_TABLE, s2->start_level);
	s2_free_root(&s2->ops, s2->root, s2->root_pages);
	memset(s2, 0, sizeof(*s2));
}

uint64_t hyp_s2_vtcr(const struct hyp_s2 *s2)
{
	return s2 ? s2->vtcr : 0;
}

int hyp_s2_vttbr(const struct hyp_s2 *s2, uint32_t vmid, uint64_t *vttbr)
{
	if (!s2 || !s2->root || !vttbr)
		return -EINVAL;
	if (vmid >> s2->vmid_bits)
		return -ERANGE;
	/* CnP (bit 0) stays 0: these tables are not promised to be identical on every CPU. */
	*vttbr = s2->root_pa | ((uint64_t)vmid << VTTBR_VMID_SHIFT);
	return 0;
}
