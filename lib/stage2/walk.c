// SPDX-License-Identifier: MIT
/*
 * lib/stage2/walk.c: a software stage-2 table walk, from VTCR_EL2 and VTTBR_EL2 alone.
 *
 * It follows the architecture's walk (Arm ARM D8, "Translation table walk" and the stage 2
 * VMSAv8-64 descriptor formats) rather than anything lib/stage2 knows about how it built the
 * tables, so the tests use it as an independent check of the VTCR value and of the descriptors,
 * and the EL2 backend can use it on whatever the hardware is really walking.
 */
#include "s2-internal.h"

static uint32_t s2_decode_attrs(uint64_t desc, bool xnx)
{
	uint32_t attrs = 0;
	unsigned int xn = (unsigned int)((desc & HYP_S2_DESC_XN_MASK) >> HYP_S2_DESC_XN_SHIFT);

	if (desc & HYP_S2_DESC_S2AP_R)
		attrs |= HYP_S2_R;
	if (desc & HYP_S2_DESC_S2AP_W)
		attrs |= HYP_S2_W;
	/* Without FEAT_XNX, bit 53 is RES0 and only XN (bit 54) counts. */
	if (!xnx)
		xn &= 2;
	switch (xn) {
	case 0:
		attrs |= HYP_S2_X;
		break;
	case 1: /* PXN: EL1 may not execute */
		attrs |= HYP_S2_X_EL0;
		break;
	case 3: /* UXN: EL0 may not execute */
		attrs |= HYP_S2_X_EL1;
		break;
	default:
		break;
	}
	switch ((desc & HYP_S2_DESC_MEMATTR_MASK) >> HYP_S2_DESC_MEMATTR_SHIFT) {
	case HYP_S2_MEMATTR_NORMAL_WB:
		return attrs | HYP_S2_MEM_NORMAL;
	case HYP_S2_MEMATTR_NORMAL_NC:
		return attrs | HYP_S2_MEM_NORMAL_NC;
	case HYP_S2_MEMATTR_DEVICE_nGnRE:
		return attrs | HYP_S2_MEM_DEVICE;
	case HYP_S2_MEMATTR_DEVICE_nGnRnE:
		return attrs | HYP_S2_MEM_DEVICE_nGnRnE;
	default:
		return attrs | HYP_S2_MEM_OTHER;
	}
}

int hyp_s2_walk_tables(const struct hyp_s2_mm_ops *ops, uint64_t vtcr, uint64_t vttbr, bool xnx,
		       hyp_ipa_t ipa, struct hyp_s2_walk *out)
{
	struct hyp_s2_walk w = { .fault = HYP_S2_FAULT_NONE };
	unsigned int ipa_bits, pa_bits, top, root_bits;
	uint64_t sl0, root_align, table_pa, idx;
	int level;

	if (!ops || !ops->phys_to_virt || !out)
		return -EINVAL;
	if ((vtcr & VTCR_TG0_MASK) != VTCR_TG0_4K)
		return -ENOTSUP;
	if ((vtcr & VTCR_T0SZ_MASK) < 64 - S2_MAX_IPA_BITS)
		return -ENOTSUP; /* above 48 bits needs FEAT_LPA2 (VTCR_EL2.DS) */
	ipa_bits = 64 - (unsigned int)(vtcr & VTCR_T0SZ_MASK);

	/* SL0 with the 4 KiB granule: 0b00 level 2, 0b01 level 1, 0b10 level 0; 0b11 is level 3
	 * with FEAT_TTST, not handled here. */
	sl0 = (vtcr & VTCR_SL0_MASK) >> VTCR_SL0_SHIFT;
	if (sl0 == 3)
		return -ENOTSUP;
	level = 2 - (int)sl0;

	/* The start level must resolve 1..13 bits: at most 16 concatenated tables. Otherwise the
	 * configuration is inconsistent and the hardware faults every access. */
	top = s2_level_shift(level);
	if (ipa_bits <= top || ipa_bits - top > 9 + 4)
		return -EINVAL;
	root_bits = ipa_bits - top;

	pa_bits = s2_parange_bits((unsigned int)((vtcr & VTCR_PS_MASK) >> VTCR_PS_SHIFT));
	if (!pa_bits)
		return -EINVAL;
	if (pa_bits > S2_MAX_IPA_BITS)
		pa_bits = S2_MAX_IPA_BITS;

	/* BADDR bits below the root table's size are RES0 (and ignored): a root resolving n bits
	 * is 8 << n bytes, aligned to at least 64 bytes. */
	root_align = UINT64_C(8) << root_bits;
	if (root_align < 64)
		root_align = 64;
	table_pa = vttbr & VTTBR_BADDR_MASK & ~(root_align - 1);

	w.start_level = level;
	w.level = level;
	if (ipa >> ipa_bits) {
		w.fault = HYP_S2_FAULT_TRANSLATION;
		w.level = 0;
		goto done;
	}
	if (table_pa >> pa_bits) {
		w.fault = HYP_S2_FAULT_ADDR_SIZE;
		goto done;
	}

	idx = ipa >> top;
	for (;;) {
		const uint64_t *table = ops->phys_to_virt(ops->opaque, table_pa);
		uint64_t desc, oa;

		w.level = level;
		if (!table) {
			w.fault = HYP_S2_FAULT_WALK_ABORT;
			break;
		}
		desc = s2_read(&table[idx]);
		w.desc = desc;
		if (!(desc & HYP_S2_DESC_VALID)) {
			w.fault = HYP_S2_FAULT_TRANSLATION;
			break;
		}
		if (level < S2_MAX_LEVEL && (desc & HYP_S2_DESC_TABLE)) {
			table_pa = desc & HYP_S2_DESC_OA_MASK;
			if (table_pa >> pa_bits) {
				w.fault = HYP_S2_FAULT_ADDR_SIZE;
				break;
			}
			level++;
			idx = (ipa >> s2_level_shift(level)) & (S2_PTRS_PER_TABLE - 1);
			continue;
		}
		/* No level-0 blocks with 4 KiB granules; bit 1 clear at level 3 is reserved. */
		if (level == 0 || (level == S2_MAX_LEVEL && !(desc & HYP_S2_DESC_PAGE))) {
			w.fault = HYP_S2_FAULT_TRANSLATION;
			break;
		}
		w.size = s2_level_size(level);
		oa = desc & HYP_S2_DESC_OA_MASK & ~(w.size - 1);
		if (oa >> pa_bits) {
			w.fault = HYP_S2_FAULT_ADDR_SIZE;
			w.size = 0;
			break;
		}
		w.pa = oa | (ipa & (w.size - 1));
		w.attrs = s2_decode_attrs(desc, xnx);
		if (!(desc & HYP_S2_DESC_AF))
			w.fault = HYP_S2_FAULT_ACCESS_FLAG;
		break;
	}
done:
	*out = w;
	return 0;
}

int hyp_s2_walk(const struct hyp_s2 *s2, hyp_ipa_t ipa, struct hyp_s2_walk *out)
{
	if (!s2 || !s2->root)
		return -EINVAL;
	return hyp_s2_walk_tables(&s2->ops, s2->vtcr, s2->root_pa, s2->xnx, ipa, out);
}
