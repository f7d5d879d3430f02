/* SPDX-License-Identifier: MIT */
/*
 * lib/stage2: ARMv8-A stage-2 translation tables with the 4 KiB granule, VMID allocation, and the
 * VTCR_EL2/VTTBR_EL2 values that go with them.
 *
 * Pure logic, as every subsystem: table pages come from caller-supplied ops (the model is Linux's
 * struct kvm_pgtable_mm_ops), TLB maintenance is reported through callbacks in the same ops, and
 * nothing here executes a system instruction. The unit tests run it on x86 with a page-counting
 * allocator; the EL2 backend runs it unchanged and turns the callbacks into TLBI instructions.
 *
 * References are to the Arm ARM (DDI 0487), chapter D8 "The AArch64 Virtual Memory System
 * Architecture": the VMSAv8-64 descriptor formats, the stage 2 memory attribute and access
 * permission fields, the "Break-before-make" requirements, and register VTCR_EL2.
 *
 * Configuration policy (all choices the architecture allows; see hyp_s2_init()):
 * - IPA sizes of 32 to 48 bits. The walk starts at level 1 for 32..43 bits, with 2^(ipa_bits - 39)
 *   concatenated root tables above 39 bits (2 at 40 bits, 16 at 43 bits), and at level 0 for
 *   44..48 bits with a single root table. Starting at level 1 even for a 32-bit IPA (one table of 4
 *   entries) rather than at level 2 with 4 concatenated tables keeps 1 GiB blocks available at every
 *   size and the root one page below 40 bits; for 32..34 bits it costs one lookup level more on a
 *   TLB miss than starting at level 2 would.
 * - 52-bit IPAs (FEAT_LPA2 with the 4 KiB granule) change the descriptor format and are not
 *   implemented: -ENOTSUP. PA sizes above 48 bits are capped at 48 (VTCR_EL2.PS = 0b101).
 *
 * Concurrency: a struct hyp_s2 has no lock; the caller serialises every call on it, software walks
 * included (an unmap may free a table a concurrent walk is reading). The hardware walker may run
 * at any time: every descriptor is written with a single 64-bit store, and new tables are complete
 * before they become reachable, so it sees either the old or the new descriptor of any entry.
 */
#ifndef HYP_STAGE2_STAGE2_H
#define HYP_STAGE2_STAGE2_H

#include <libhyp/types.h>

/* ---------------------------------------------------------------------------------------------
 * Descriptor format (VMSAv8-64, 4 KiB granule, 48-bit output addresses, stage 2).
 * Exposed for the EL2 backend's debug dumps and for the tests; the API below never needs them.
 */
#define HYP_S2_DESC_VALID (UINT64_C(1) << 0)
/* Bit 1: 1 = table descriptor at levels 0..2, page descriptor at level 3; 0 = block (levels 1, 2). */
#define HYP_S2_DESC_TABLE (UINT64_C(1) << 1)
#define HYP_S2_DESC_PAGE (UINT64_C(1) << 1)
#define HYP_S2_DESC_MEMATTR_SHIFT 2 /* MemAttr[3:0], bits [5:2] */
#define HYP_S2_DESC_MEMATTR_MASK (UINT64_C(0xf) << 2)
#define HYP_S2_DESC_S2AP_R (UINT64_C(1) << 6) /* S2AP[0]: reads permitted */
#define HYP_S2_DESC_S2AP_W (UINT64_C(1) << 7) /* S2AP[1]: writes permitted */
#define HYP_S2_DESC_SH_SHIFT 8		      /* SH[1:0], bits [9:8] */
#define HYP_S2_DESC_SH_MASK (UINT64_C(3) << 8)
#define HYP_S2_DESC_SH_INNER (UINT64_C(3) << 8)
#define HYP_S2_DESC_AF (UINT64_C(1) << 10)
#define HYP_S2_DESC_OA_MASK UINT64_C(0x0000fffffffff000) /* output / next-table address [47:12] */
#define HYP_S2_DESC_XN_SHIFT 53				 /* XN[1:0], bits [54:53] with FEAT_XNX */
#define HYP_S2_DESC_XN_MASK (UINT64_C(3) << 53)
#define HYP_S2_DESC_XN (UINT64_C(1) << 54) /* XN without FEAT_XNX (bit 53 is RES0 then) */

/* Stage 2 MemAttr[3:0] with HCR_EL2.FWB == 0: [3:2] = outer (00 Device), [1:0] = inner/device. */
#define HYP_S2_MEMATTR_DEVICE_nGnRnE 0x0u
#define HYP_S2_MEMATTR_DEVICE_nGnRE 0x1u
#define HYP_S2_MEMATTR_NORMAL_NC 0x5u /* Outer and Inner Non-cacheable */
#define HYP_S2_MEMATTR_NORMAL_WB 0xfu /* Outer and Inner Write-Back Cacheable */

/* ---------------------------------------------------------------------------------------------
 * Mapping attributes: permission bits ORed with one memory type.
 */
#define HYP_S2_R (1u << 0)
#define HYP_S2_W (1u << 1)
/* Instruction fetches from EL0 / EL1. Only both or neither without FEAT_XNX (config.mmfr1). */
#define HYP_S2_X_EL0 (1u << 2)
#define HYP_S2_X_EL1 (1u << 3)
#define HYP_S2_X (HYP_S2_X_EL0 | HYP_S2_X_EL1)
#define HYP_S2_RW (HYP_S2_R | HYP_S2_W)
#define HYP_S2_RWX (HYP_S2_R | HYP_S2_W | HYP_S2_X)
#define HYP_S2_PERM_MASK (HYP_S2_RW | HYP_S2_X)

#define HYP_S2_MEM_SHIFT 8
#define HYP_S2_MEM_MASK (0xfu << HYP_S2_MEM_SHIFT)
/* Normal, Inner and Outer Write-Back Cacheable, Inner Shareable (the default: 0). */
#define HYP_S2_MEM_NORMAL (0u << HYP_S2_MEM_SHIFT)
/* Normal, Inner and Outer Non-cacheable. */
#define HYP_S2_MEM_NORMAL_NC (1u << HYP_S2_MEM_SHIFT)
/* Device-nGnRE: emulated or passed-through device registers. Never executable. */
#define HYP_S2_MEM_DEVICE (2u << HYP_S2_MEM_SHIFT)
/* Device-nGnRnE. Never executable. */
#define HYP_S2_MEM_DEVICE_nGnRnE (3u << HYP_S2_MEM_SHIFT)
/* Only reported by the walker: a MemAttr value none of the above produces. */
#define HYP_S2_MEM_OTHER (0xfu << HYP_S2_MEM_SHIFT)

/* ---------------------------------------------------------------------------------------------
 * Caller-supplied page allocation and TLB maintenance.
 */

/**
 * struct hyp_s2_mm_ops - what the stage-2 code needs from its environment.
 * @alloc_page:	Return one 4 KiB page, 4 KiB aligned (physically), or NULL. The contents do not
 *		matter: the library initialises every page it takes.
 * @free_page:	Give back a page from @alloc_page.
 * @alloc_pages: Return @count (2..16, a power of two) physically contiguous pages whose physical
 *		address is aligned to @count * 4 KiB, or NULL. Only needed for concatenated root
 *		tables (IPA sizes of 40..43 bits); may be NULL otherwise.
 * @free_pages:	Give back @count pages from @alloc_pages.
 * @virt_to_phys: The physical address of a page from the allocator (at any offset in it).
 * @phys_to_virt: A pointer through which the library can read and write the table page at @pa;
 *		used to walk and change existing tables. NULL if @pa is not a table page.
 * @tlb_flush_ipa: Optional. A valid descriptor for @ipa was removed or changed: invalidate the
 *		stage-2 (and combined stage-1+2) TLB and walk-cache entries for @ipa in this VMID
 *		and wait for completion before returning (EL2: DSB ISHST; TLBI IPAS2E1IS; DSB ISH;
 *		TLBI VMALLE1IS; DSB ISH; ISB, since IPAS2E1IS leaves combined entries alone).
 *		@level is the level (0..3) of the block or page descriptor that changed, usable as
 *		the FEAT_TTL hint; it is -1 when a table descriptor was removed, and then no level
 *		hint may be used (the entries to remove are walk-cache entries).
 * @tlb_flush_vmid: Optional. Invalidate every stage-1 and stage-2 entry of this VMID (TLBI
 *		VMALLS12E1IS) and wait for completion. Used instead of many @tlb_flush_ipa calls when
 *		an operation changes more than HYP_S2_TLB_IPA_MAX mappings, and when @tlb_flush_ipa
 *		is NULL.
 * @opaque:	Passed to every callback.
 *
 * With neither TLB callback the tables are still updated correctly (break-before-make included),
 * but nothing is invalidated: fine while no CPU has ever run with these tables, wrong otherwise.
 */
struct hyp_s2_mm_ops {
	void *(*alloc_page)(void *opaque);
	void (*free_page)(void *opaque, void *page);
	void *(*alloc_pages)(void *opaque, unsigned int count);
	void (*free_pages)(void *opaque, void *pages, unsigned int count);
	hyp_pa_t (*virt_to_phys)(void *opaque, void *va);
	void *(*phys_to_virt)(void *opaque, hyp_pa_t pa);
	void (*tlb_flush_ipa)(void *opaque, hyp_ipa_t ipa, int level);
	void (*tlb_flush_vmid)(void *opaque);
	void *opaque;
};

/* One operation reporting more changed mappings than this flushes the whole VMID, once. */
#define HYP_S2_TLB_IPA_MAX 64u

/* ---------------------------------------------------------------------------------------------
 * Configuration and the tables object.
 */

/**
 * struct hyp_s2_config - what the stage-2 tables should look like.
 * @ipa_bits:	The guest physical address size, 32..48; 0 = as large as the PA size allows (capped
 *		at 48). Guests whose EL1 runs in AArch32 need at least 40 (VTCR_EL2.T0SZ <= 24).
 * @vmid_bits:	8 or 16 (VTCR_EL2.VS); 0 = 16 if @mmfr0 says the CPU has 16-bit VMIDs, else 8.
 * @mmfr0:	The CPU's ID_AA64MMFR0_EL1. PARange [3:0] gives the PA size (VTCR_EL2.PS, and the
 *		bound for IPA size, output and table addresses); VMIDBits [7:4] whether 16-bit VMIDs
 *		exist; TGran4 [31:28] and TGran4_2 [43:40] whether stage 2 supports the 4 KiB granule.
 *		Tests pass just a PARange value.
 * @mmfr1:	The CPU's ID_AA64MMFR1_EL1: XNX [31:28] == 1 allows HYP_S2_X_EL0 and HYP_S2_X_EL1
 *		alone (FEAT_XNX). 0 is fine.
 */
struct hyp_s2_config {
	uint32_t ipa_bits;
	uint32_t vmid_bits;
	uint64_t mmfr0;
	uint64_t mmfr1;
};

/**
 * struct hyp_s2 - one stage-2 address space (one VM). Caller-owned storage; the fields are
 * read-only outside lib/stage2.
 * @ops:	A copy of the ops given to hyp_s2_init().
 * @root:	The root table (@root_pages concatenated pages) through the allocator's pointer.
 * @root_pa:	Its physical address, aligned to @root_pages * 4 KiB.
 * @vtcr:	The VTCR_EL2 value for these tables.
 * @pages:	Table pages currently held, the root included.
 * @ipa_bits:	Input (guest physical) address size.
 * @pa_bits:	Output address size (VTCR_EL2.PS), at most 48.
 * @start_level: Level of the root table, 0 or 1.
 * @root_pages:	Number of concatenated root tables, 1..16.
 * @vmid_bits:	8 or 16.
 * @xnx:	FEAT_XNX: XN[1:0] distinguishes EL0 and EL1 instruction fetches.
 */
struct hyp_s2 {
	struct hyp_s2_mm_ops ops;
	uint64_t *root;
	hyp_pa_t root_pa;
	uint64_t vtcr;
	size_t pages;
	uint8_t ipa_bits;
	uint8_t pa_bits;
	uint8_t start_level;
	uint8_t root_pages;
	uint8_t vmid_bits;
	bool xnx;
};

/**
 * hyp_s2_init() - create empty stage-2 tables.
 * @s2:		Storage for the tables object; written only on success.
 * @cfg:	The configuration.
 * @ops:	Page allocation and TLB callbacks; copied.
 *
 * Allocates the root table (one page, or @ops->alloc_pages for concatenated roots) and computes
 * VTCR_EL2: T0SZ = 64 - ipa_bits, SL0 for the start level, IRGN0 = ORGN0 = 0b01 (Write-Back
 * Read-Allocate Write-Allocate), SH0 = 0b11 (Inner Shareable), TG0 = 0b00 (4 KiB), PS, VS, and
 * bit 31 (RES1). HA, HD, DS and the rest stay 0.
 *
 * Return: 0; -EINVAL for NULL pointers, missing required ops, an IPA size below 32 or above 52,
 * a VMID size other than 0/8/16; -ENOTSUP for a 49..52-bit IPA, 16-bit VMIDs the CPU lacks, no
 * 4 KiB stage-2 granule, or concatenated roots without @ops->alloc_pages; -ERANGE for an IPA size
 * above the PA size (CONSTRAINED UNPREDICTABLE in the architecture) or a root page outside the PA
 * size or misaligned; -ENOMEM if the root cannot be allocated.
 */
int hyp_s2_init(struct hyp_s2 *s2, const struct hyp_s2_config *cfg,
		const struct hyp_s2_mm_ops *ops);

/**
 * hyp_s2_destroy() - free every table page, the root included.
 * @s2:	The tables, or NULL. Left zeroed: destroying twice is harmless.
 *
 * Reports nothing to the TLB callbacks: the caller must already have stopped every CPU from using
 * the tables (VTTBR_EL2 no longer holds them) and invalidated the VMID (TLBI VMALLS12E1IS), because
 * the pages go straight back to the allocator.
 */
void hyp_s2_destroy(struct hyp_s2 *s2);

/** hyp_s2_vtcr() - the VTCR_EL2 value for @s2. */
uint64_t hyp_s2_vtcr(const struct hyp_s2 *s2);

/**
 * hyp_s2_vttbr() - the VTTBR_EL2 value for @s2 running as @vmid.
 * BADDR = the root's physical address, VMID in bits [63:48] (bits [55:48] with 8-bit VMIDs),
 * CnP (bit 0) = 0.
 * Return: 0; -EINVAL for NULL pointers; -ERANGE if @vmid does not fit the VMID size.
 */
int hyp_s2_vttbr(const struct hyp_s2 *s2, uint32_t vmid, uint64_t *vttbr);

/**
 * hyp_s2_map() - map [ipa, ipa + size) to [pa, pa + size).
 * @attrs: HYP_S2_R/W/X... permission bits ORed with one HYP_S2_MEM_* type.
 *
 * Uses the largest descriptors the alignment of both addresses allows: 1 GiB blocks at level 1,
 * 2 MiB blocks at level 2, 4 KiB pages at level 3. Every descriptor gets AF = 1 and SH = Inner
 * Shareable (Device memory ignores SH).
 *
 * Overlaps are refused, never replaced: if any page of the range is already mapped, nothing
 * changes and the call returns -EEXIST (unmap first). The same is true of every other error: the
 * tables needed are counted and allocated before the first descriptor is written, so a failure
 * leaves the tables exactly as they were. Mapping only turns invalid descriptors into valid ones,
 * which needs no TLB maintenance; the new mappings are visible to the hardware walker once the
 * backend executes a DSB ISHST (as it does before entering the guest).
 *
 * Return: 0; -EINVAL for a NULL @s2, a zero size, addresses or size not 4 KiB aligned, unknown
 * attribute bits, or an executable Device mapping (speculative instruction fetches from Device
 * memory are not prevented unless it is execute-never); -ENOTSUP for X_EL0 or X_EL1 alone without
 * FEAT_XNX; -ERANGE if the IPA range passes 2^ipa_bits or the PA range 2^pa_bits; -EEXIST;
 * -ENOMEM.
 */
int hyp_s2_map(struct hyp_s2 *s2, hyp_ipa_t ipa, hyp_pa_t pa, uint64_t size, uint32_t attrs);

/**
 * hyp_s2_unmap() - remove every mapping in [ipa, ipa + size).
 *
 * Unmapped holes in the range are fine. A block that straddles either end of the range is split
 * (break-before-make, see hyp_s2_set_attrs()), so the pages outside the range keep their
 * translation and attributes; this needs up to two new tables per end, allocated before anything
 * changes (-ENOMEM leaves the tables untouched). Tables left with no valid entry are freed, after
 * the walk caches are told to forget them. Every removed mapping is reported to the TLB callbacks
 * before the call returns.
 *
 * Return: 0; -EINVAL (NULL, zero or unaligned size or address); -ERANGE (beyond 2^ipa_bits);
 * -ENOMEM.
 */
int hyp_s2_unmap(struct hyp_s2 *s2, hyp_ipa_t ipa, uint64_t size);

/**
 * hyp_s2_set_attrs() - change permissions and memory type of the mappings in [ipa, ipa + size).
 * @attrs: the new attributes, as for hyp_s2_map(); they replace the old ones.
 *
 * Unmapped holes stay unmapped. Blocks straddling the ends are split as for hyp_s2_unmap(); blocks
 * already carrying @attrs are left alone (no split, no TLB maintenance).
 *
 * Break-before-make (Arm ARM D8, "Break-before-make"): a valid descriptor may not be replaced by
 * one with a different block size, output address, memory type or shareability while a TLB may
 * hold the old one. So when a block becomes a table, or a mapping's MemAttr changes, the library
 * writes an invalid descriptor, reports it (tlb_flush_ipa, or tlb_flush_vmid), and only after the
 * callback has returned writes the new descriptor. A table that replaces a block is filled
 * completely (the neighbours' mappings, this call's changes) before it is published with a
 * store-release. Permission-only changes are written in place and then reported.
 *
 * Return: as hyp_s2_unmap(), plus the attribute errors of hyp_s2_map().
 */
int hyp_s2_set_attrs(struct hyp_s2 *s2, hyp_ipa_t ipa, uint64_t size, uint32_t attrs);

/* ---------------------------------------------------------------------------------------------
 * Software table walk.
 */

enum hyp_s2_fault {
	HYP_S2_FAULT_NONE = 0,
	/* Invalid descriptor, the reserved level-3 encoding, a block at level 0, or an IPA above
	 * 2^ipa_bits (reported at level 0). */
	HYP_S2_FAULT_TRANSLATION,
	/* A table or output address at or above 2^PS. */
	HYP_S2_FAULT_ADDR_SIZE,
	/* A block or page descriptor with AF == 0 (the other fields are filled in as on success). */
	HYP_S2_FAULT_ACCESS_FLAG,
	/* phys_to_virt() had no pointer for a table address (hardware: external abort on walk). */
	HYP_S2_FAULT_WALK_ABORT,
};

/**
 * struct hyp_s2_walk - the result of a software walk.
 * @fault:	HYP_S2_FAULT_NONE if the IPA translates.
 * @level:	Level of the leaf descriptor, or of the lookup that faulted.
 * @start_level: The level the walk started at (from VTCR_EL2.SL0).
 * @desc:	The leaf descriptor, or the faulting one (0 when no descriptor was read).
 * @pa:		The output address of the IPA itself (block/page base + offset).
 * @size:	Bytes the leaf maps (4 KiB, 2 MiB, 1 GiB).
 * @attrs:	Decoded HYP_S2_R/W/X_EL0/X_EL1 | HYP_S2_MEM_* (HYP_S2_MEM_OTHER if unrecognised).
 */
struct hyp_s2_walk {
	enum hyp_s2_fault fault;
	int level;
	int start_level;
	uint64_t desc;
	hyp_pa_t pa;
	uint64_t size;
	uint32_t attrs;
};

/**
 * hyp_s2_walk_tables() - translate @ipa as the hardware would, from register values alone.
 * @ops:	Only @ops->phys_to_virt and @ops->opaque are used.
 * @vtcr:	VTCR_EL2 (T0SZ, SL0, TG0, PS are used).
 * @vttbr:	VTTBR_EL2 (BADDR; VMID and CnP are ignored).
 * @xnx:	Interpret XN[1:0] as FEAT_XNX does (else only bit 54 counts).
 * @ipa:	The address to translate.
 * @out:	The translation or the fault.
 *
 * Meant for the tests and for the EL2 backend's debugging: it trusts nothing it reads, and does
 * not check permissions (compare @out->attrs with the access).
 * Return: 0 (translated or faulted: see @out->fault); -EINVAL for NULL pointers or a VTCR whose
 * T0SZ and SL0 are inconsistent; -ENOTSUP for a granule other than 4 KiB, SL0 = 0b11, or an IPA
 * size above 48 bits.
 */
int hyp_s2_walk_tables(const struct hyp_s2_mm_ops *ops, uint64_t vtcr, uint64_t vttbr, bool xnx,
		       hyp_ipa_t ipa, struct hyp_s2_walk *out);

/** hyp_s2_walk() - hyp_s2_walk_tables() on @s2's own tables and VTCR. */
int hyp_s2_walk(const struct hyp_s2 *s2, hyp_ipa_t ipa, struct hyp_s2_walk *out);

/* ---------------------------------------------------------------------------------------------
 * VMID allocation.
 */

#define HYP_VMID_MAX (1u << 16)

/**
 * struct hyp_vmid_pool - the VMIDs in use, one bit each. Caller-owned (8 KiB); no lock: the
 * caller serialises.
 */
struct hyp_vmid_pool {
	uint32_t bits;
	uint32_t next; /* where the next search starts: VMIDs are handed out round-robin */
	uint32_t used;
	uint64_t map[HYP_VMID_MAX / 64];
};

/**
 * hyp_vmid_pool_init() - an empty pool of @bits-bit VMIDs (8 or 16, as VTCR_EL2.VS).
 * VMID 0 is reserved and never handed out: it is what VTTBR_EL2 holds while no guest is loaded,
 * and EL1&0 TLB entries made then are tagged with it, so no guest may share it.
 * Return: 0; -EINVAL for NULL or @bits not 8 or 16.
 */
int hyp_vmid_pool_init(struct hyp_vmid_pool *pool, unsigned int bits);

/**
 * hyp_vmid_pool_alloc() - take a free VMID.
 * Search starts after the last VMID handed out, so a freed VMID is reused as late as possible.
 * The caller must still have invalidated a freed VMID's TLB entries (TLBI VMALLS12E1IS) before
 * freeing it.
 * Return: 0 and *@vmid; -EINVAL for NULL; -ENOSPC when every VMID is in use.
 */
int hyp_vmid_pool_alloc(struct hyp_vmid_pool *pool, uint16_t *vmid);

/**
 * hyp_vmid_pool_free() - give back a VMID.
 * Return: 0; -EINVAL for NULL, VMID 0, a VMID out of range or not allocated.
 */
int hyp_vmid_pool_free(struct hyp_vmid_pool *pool, uint16_t vmid);

#endif /* HYP_STAGE2_STAGE2_H */
