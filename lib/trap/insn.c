/* SPDX-License-Identifier: MIT */
/*
 * A64 load/store decoding for the emulation of accesses without an instruction syndrome.
 * Encodings: Arm ARM DDI 0487, C4.1.94 "Loads and Stores" and the class tables under it
 * (C4.1.94.x). Field names as the Arm ARM spells them.
 */
#include "insn.h"

static inline uint32_t bits(uint32_t insn, unsigned hi, unsigned lo)
{
	return (insn >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int64_t sign_extend(uint64_t value, unsigned width)
{
	uint64_t sign = UINT64_C(1) << (width - 1);

	value &= (sign << 1) - 1;
	return (int64_t)((value ^ sign) - sign);
}

uint64_t hyp_trap_ldst_extend_reg(uint64_t value, uint8_t extend, uint8_t shift)
{
	unsigned len = 8u << (extend & 3);

	if (len < 64) {
		value &= (UINT64_C(1) << len) - 1;
		if (extend & 4)
			value = (uint64_t)sign_extend(value, len);
	}
	return shift < 64 ? value << shift : 0;
}

/*
 * size:V:opc of the single-register classes (immediate, unscaled, register offset, unprivileged):
 * direction, element size and extension, shared by all of them (C4.1.94, "Load/store register
 * (unsigned immediate)" table). Returns HYP_LDST_EMULATE or the class that answers otherwise.
 */
static enum hyp_ldst_class single_size_opc(uint32_t size, bool v, uint32_t opc, bool may_prefetch,
					   struct hyp_ldst *l)
{
	l->simd = v;
	l->nregs = 1;
	l->sign_extend = false;
	l->dest64 = true;
	if (v) {
		if (opc >= 2) {
			if (size != 0)
				return HYP_LDST_UNEMULATABLE; /* unallocated */
			l->size = 16;
			l->is_load = opc == 3;
		} else {
			l->size = (uint8_t)(1u << size);
			l->is_load = opc == 1;
		}
		return HYP_LDST_EMULATE;
	}
	l->size = (uint8_t)(1u << size);
	switch (opc) {
	case 0: /* STRB/STRH/STR */
		l->is_load = false;
		return HYP_LDST_EMULATE;
	case 1: /* LDRB/LDRH/LDR: zero-extended */
		l->is_load = true;
		return HYP_LDST_EMULATE;
	case 2: /* LDRSB/LDRSH/LDRSW to X; size 3 is PRFM */
		if (size == 3)
			return may_prefetch ? HYP_LDST_PREFETCH : HYP_LDST_UNEMULATABLE;
		l->is_load = true;
		l->sign_extend = true;
		return HYP_LDST_EMULATE;
	default: /* LDRSB/LDRSH to W */
		if (size >= 2)
			return HYP_LDST_UNEMULATABLE; /* unallocated */
		l->is_load = true;
		l->sign_extend = true;
		l->dest64 = false;
		return HYP_LDST_EMULATE;
	}
}

static uint8_t log2_size(uint8_t size)
{
	return (uint8_t)__builtin_ctz(size);
}

/* Load/store register: unsigned immediate, unscaled, pre/post-index, unprivileged, register
 * offset (bits [29:27] = 111, bit 25 = 0). */
static enum hyp_ldst_class decode_single(uint32_t insn, struct hyp_ldst *l)
{
	uint32_t size = bits(insn, 31, 30), opc = bits(insn, 23, 22);
	bool v = bits(insn, 26, 26);
	enum hyp_ldst_class c;

	l->rt = (uint8_t)bits(insn, 4, 0);
	l->rn = (uint8_t)bits(insn, 9, 5);
	if (bits(insn, 24, 24)) {
		/* Unsigned immediate: imm12 scaled by the access size. */
		c = single_size_opc(size, v, opc, true, l);
		if (c != HYP_LDST_EMULATE)
			return c;
		l->addressing = HYP_ADDR_OFFSET;
		l->imm = (int64_t)((uint64_t)bits(insn, 21, 10) << log2_size(l->size));
		return HYP_LDST_EMULATE;
	}
	if (bits(insn, 21, 21)) {
		uint32_t option = bits(insn, 15, 13);

		/* Atomic memory operations (op4 00), LDRAA/LDRAB (op4 x1): not plain accesses. */
		if (bits(insn, 11, 10) != 2)
			return HYP_LDST_UNEMULATABLE;
		/* Register offset: option<1> must be 1 (UXTW, LSL, SXTW, SXTX). */
		if (!(option & 2))
			return HYP_LDST_UNEMULATABLE;
		c = single_size_opc(size, v, opc, true, l);
		if (c != HYP_LDST_EMULATE)
			return c;
		l->addressing = HYP_ADDR_REGISTER;
		l->rm = (uint8_t)bits(insn, 20, 16);
		l->extend = (uint8_t)option;
		l->shift = bits(insn, 12, 12) ? log2_size(l->size) : 0;
		return HYP_LDST_EMULATE;
	}
	switch (bits(insn, 11, 10)) {
	case 0: /* LDUR/STUR, PRFUM */
		c = single_size_opc(size, v, opc, true, l);
		l->addressing = HYP_ADDR_OFFSET;
		break;
	case 1: /* post-index */
		c = single_size_opc(size, v, opc, false, l);
		l->addressing = HYP_ADDR_POST_INDEX;
		break;
	case 2: /* LDTR/STTR: general-purpose registers only */
		if (v)
			return HYP_LDST_UNEMULATABLE;
		c = single_size_opc(size, v, opc, false, l);
		l->addressing = HYP_ADDR_OFFSET;
		l->unprivileged = true;
		break;
	default: /* pre-index */
		c = single_size_opc(size, v, opc, false, l);
		l->addressing = HYP_ADDR_PRE_INDEX;
		break;
	}
	if (c != HYP_LDST_EMULATE)
		return c;
	l->imm = sign_extend(bits(insn, 20, 12), 9);
	return HYP_LDST_EMULATE;
}

/* opc of the SIMD&FP pair and literal forms: 00 S, 01 D, 10 Q (11 unallocated). */
static bool simd_s_d_q(uint32_t opc, struct hyp_ldst *l)
{
	if (opc == 3)
		return false;
	l->size = (uint8_t)(4u << opc);
	return true;
}

/* Load/store pair (bits [29:27] = 101, bit 25 = 0): LDP/STP/LDPSW/LDNP/STNP. */
static enum hyp_ldst_class decode_pair(uint32_t insn, struct hyp_ldst *l)
{
	static const uint8_t addressing[4] = { HYP_ADDR_OFFSET, HYP_ADDR_POST_INDEX,
					       HYP_ADDR_OFFSET, HYP_ADDR_PRE_INDEX };
	uint32_t opc = bits(insn, 31, 30), type = bits(insn, 24, 23);
	bool v = bits(insn, 26, 26), load = bits(insn, 22, 22);

	l->simd = v;
	l->nregs = 2;
	l->is_load = load;
	l->sign_extend = false;
	l->dest64 = true;
	if (v) {
		if (!simd_s_d_q(opc, l))
			return HYP_LDST_UNEMULATABLE;
	} else if (opc == 0) {
		l->size = 4;
	} else if (opc == 2) {
		l->size = 8;
	} else if (opc == 1 && load && type != 0) {
		l->size = 4; /* LDPSW */
		l->sign_extend = true;
	} else {
		/* STGP (tags), LDNP/STNP opc 01, opc 11: not plain pairs. */
		return HYP_LDST_UNEMULATABLE;
	}
	l->rt = (uint8_t)bits(insn, 4, 0);
	l->rn = (uint8_t)bits(insn, 9, 5);
	l->rt2 = (uint8_t)bits(insn, 14, 10);
	l->addressing = addressing[type];
	l->imm = (int64_t)((uint64_t)sign_extend(bits(insn, 21, 15), 7) << log2_size(l->size));
	return HYP_LDST_EMULATE;
}

/* LDR (literal) / LDRSW (literal) / PRFM (literal): bits [29:27] = 011, bits [25:24] = 00. */
static enum hyp_ldst_class decode_literal(uint32_t insn, struct hyp_ldst *l)
{
	uint32_t opc = bits(insn, 31, 30);
	bool v = bits(insn, 26, 26);

	l->simd = v;
	l->nregs = 1;
	l->is_load = true;
	l->sign_extend = false;
	l->dest64 = true;
	if (v) {
		if (!simd_s_d_q(opc, l))
			return HYP_LDST_UNEMULATABLE;
	} else if (opc == 3) {
		return HYP_LDST_PREFETCH;
	} else {
		l->size = opc == 1 ? 8 : 4;
		l->sign_extend = opc == 2;
	}
	l->rt = (uint8_t)bits(insn, 4, 0);
	l->addressing = HYP_ADDR_LITERAL;
	l->imm = sign_extend((uint64_t)bits(insn, 23, 5) << 2, 21);
	return HYP_LDST_EMULATE;
}

/* Load/store ordered (LDAR/STLR/LDLAR/STLLR) among the exclusives (bits [29:24] = 001000):
 * o2 = 1, o1 = 0. Exclusives (o2 = 0) and compare-and-swap (o1 = 1) need a monitor or an atomic
 * read-modify-write. */
static enum hyp_ldst_class decode_ordered(uint32_t insn, struct hyp_ldst *l)
{
	if (!bits(insn, 23, 23) || bits(insn, 21, 21))
		return HYP_LDST_UNEMULATABLE;
	l->simd = false;
	l->nregs = 1;
	l->size = (uint8_t)(1u << bits(insn, 31, 30));
	l->is_load = bits(insn, 22, 22);
	l->sign_extend = false;
	l->dest64 = true;
	l->acquire_release = true;
	l->rt = (uint8_t)bits(insn, 4, 0);
	l->rn = (uint8_t)bits(insn, 9, 5);
	l->addressing = HYP_ADDR_OFFSET;
	l->imm = 0;
	return HYP_LDST_EMULATE;
}

/* LDAPUR/STLUR (FEAT_LRCPC2): bits [29:24] = 011001, bit 21 = 0, bits [11:10] = 00. */
static enum hyp_ldst_class decode_rcpc_unscaled(uint32_t insn, struct hyp_ldst *l)
{
	uint32_t size = bits(insn, 31, 30), opc = bits(insn, 23, 22);

	if (bits(insn, 21, 21) || bits(insn, 11, 10))
		return HYP_LDST_UNEMULATABLE;
	l->simd = false;
	l->nregs = 1;
	l->size = (uint8_t)(1u << size);
	l->is_load = opc != 0;
	l->sign_extend = opc >= 2;
	l->dest64 = opc != 3;
	/* LDAPURSW is the only opc 10 form of size 2; size 3 has no sign-extending form, and
	 * opc 11 (to W) exists for bytes and halfwords only. */
	if ((opc == 2 && size == 3) || (opc == 3 && size >= 2))
		return HYP_LDST_UNEMULATABLE;
	l->acquire_release = true;
	l->rt = (uint8_t)bits(insn, 4, 0);
	l->rn = (uint8_t)bits(insn, 9, 5);
	l->addressing = HYP_ADDR_OFFSET;
	l->imm = sign_extend(bits(insn, 20, 12), 9);
	return HYP_LDST_EMULATE;
}

enum hyp_ldst_class hyp_trap_decode_ldst(uint32_t insn, struct hyp_ldst *out)
{
	struct hyp_ldst l = { 0 };
	enum hyp_ldst_class c;

	/* The load/store group: op0 = x1x0 in bits [28:25] (C4.1, "A64 instruction set
	 * encoding"): bit 27 set, bit 25 clear. */
	if (!bits(insn, 27, 27) || bits(insn, 25, 25))
		return HYP_LDST_NOT_LDST;
	switch (bits(insn, 29, 27)) {
	case 7:
		/* LDAPR/LDAPRH/LDAPRB (FEAT_LRCPC) sit among the atomics: a plain load-acquire. */
		if ((insn & 0x3ffffc00u) == 0x38bfc000u) {
			c = decode_ordered(0x08dffc00u | (insn & 0xc00003ffu), &l);
			break;
		}
		c = decode_single(insn, &l);
		break;
	case 5:
		c = decode_pair(insn, &l);
		break;
	case 3:
		if (bits(insn, 25, 24) == 0)
			c = decode_literal(insn, &l);
		else if (bits(insn, 25, 24) == 1 && !bits(insn, 26, 26))
			c = decode_rcpc_unscaled(insn, &l);
		else
			c = HYP_LDST_UNEMULATABLE; /* FEAT_MOPS CPY/SET, RCpc3 SIMD... */
		break;
	case 1:
		if (bits(insn, 26, 24) == 0)
			c = decode_ordered(insn, &l);
		else
			c = HYP_LDST_UNEMULATABLE; /* SIMD structures, LDAPR/STLR (RCpc3)... */
		break;
	default: /* unreachable: bit 27 is set */
		c = HYP_LDST_UNEMULATABLE;
		break;
	}
	if (c == HYP_LDST_EMULATE)
		*out = l;
	return c;
}
