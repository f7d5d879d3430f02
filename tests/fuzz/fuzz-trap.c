// SPDX-License-Identifier: MIT
/*
 * Fuzz lib/trap: the decoder and completion a hostile guest drives on every exit.
 *
 * Differential: hyp_trap_decode_fast() (the in-line path the exit vectors use) against
 * hyp_trap_decode() + hyp_trap_load_operands(), and hyp_trap_complete_fast() against
 * hyp_trap_complete(), on the same ESR/FAR/HPFAR and registers. Model-checked: the value an MMIO
 * load leaves in its register (width mask, sign extension, W-register zeroing) against C's own
 * integer conversions, the registers completion may touch, the A64 load/store decoder's output
 * ranges, and ExtendReg.
 *
 * Input: a selector byte (biases the syndrome towards the forms the fast path takes, so the
 * fuzzer does not have to guess a 6-bit EC and a 4-bit fault status), the syndrome, registers,
 * what a callback answers, then an instruction word for the load/store decoder.
 */
#include <string.h>

#include "fuzz-input.h"

#include "trap/fast.h"
#include "trap/insn.h"
#include "trap/trap.h"

static const uint32_t biased_ecs[] = { HYP_EC_DABT_LOW, HYP_EC_HVC64, HYP_EC_SMC64,
				       HYP_EC_DABT_CUR, HYP_EC_SYS64, HYP_EC_WFX,
				       HYP_EC_IABT_LOW, HYP_EC_HVC32 };

/* The value a load of @len bytes leaves in X[t], written from the Arm ARM's pseudocode with C's
 * conversions: SignExtend/ZeroExtend to the register size, and a W write zeroes X[63:32]. */
static uint64_t model_load_value(uint64_t data, unsigned int len, bool sign, bool reg64)
{
	uint64_t v;

	switch (len) {
	case 1:
		v = sign ? (uint64_t)(int64_t)(int8_t)data : (uint8_t)data;
		break;
	case 2:
		v = sign ? (uint64_t)(int64_t)(int16_t)data : (uint16_t)data;
		break;
	case 4:
		v = sign ? (uint64_t)(int64_t)(int32_t)data : (uint32_t)data;
		break;
	default:
		v = data;
		break;
	}
	return reg64 ? v : (uint32_t)v;
}

/* ExtendReg(): option<2> signed, option<1:0> the source width, then the left shift. */
static uint64_t model_extend(uint64_t v, unsigned int extend, unsigned int shift)
{
	static const unsigned int width[4] = { 8, 16, 32, 64 };
	unsigned int w = width[extend & 3];
	uint64_t r;

	if (w == 64)
		r = v;
	else if (extend & 4)
		r = w == 8  ? (uint64_t)(int64_t)(int8_t)v :
		    w == 16 ? (uint64_t)(int64_t)(int16_t)v :
			      (uint64_t)(int64_t)(int32_t)v;
	else
		r = w == 8 ? (uint8_t)v : w == 16 ? (uint16_t)v : (uint32_t)v;
	return r << shift;
}

static void check_mmio_value(struct fuzz_in *in)
{
	static const uint8_t lens[4] = { 1, 2, 4, 8 };
	struct hyp_mmio_access a;
	uint8_t f = fuzz_u8(in);
	uint64_t expect;

	memset(&a, 0, sizeof(a));
	a.len = lens[f & 3];
	a.sign_extend = !!(f & 4);
	a.reg64 = !!(f & 8);
	a.data = fuzz_u64(in);
	expect = model_load_value(a.data, a.len, a.sign_extend, a.reg64);
	FUZZ_CHECK(hyp_trap_mmio_read_value(&a) == expect, "len %u sign %u reg64 %u data %#llx",
		   a.len, a.sign_extend, a.reg64, (unsigned long long)a.data);
	FUZZ_CHECK(hyp_trap_mmio_value(&a) == expect, "fast value differs");
}

static void check_ldst(uint32_t insn, uint64_t v)
{
	struct hyp_ldst l, poison;
	enum hyp_ldst_class c;

	memset(&l, 0x5a, sizeof(l));
	poison = l;
	c = hyp_trap_decode_ldst(insn, &l);
	FUZZ_CHECK(c <= HYP_LDST_PREFETCH, "class %d", c);
	if (c != HYP_LDST_EMULATE) {
		/* Documented: @out untouched unless the instruction is emulated. */
		FUZZ_CHECK(!memcmp(&l, &poison, sizeof(l)), "insn %#x: out written for class %d",
			   insn, c);
		return;
	}
	FUZZ_CHECK(l.size == 1 || l.size == 2 || l.size == 4 || l.size == 8 || l.size == 16,
		   "insn %#x size %u", insn, l.size);
	FUZZ_CHECK(l.size != 16 || l.simd, "insn %#x: 16-byte GPR transfer", insn);
	FUZZ_CHECK(l.nregs == 1 || l.nregs == 2, "insn %#x nregs %u", insn, l.nregs);
	FUZZ_CHECK(l.rt < 32 && l.rt2 < 32 && l.rn < 32 && l.rm < 32, "insn %#x regs", insn);
	FUZZ_CHECK(l.addressing <= HYP_ADDR_LITERAL, "insn %#x addressing %u", insn, l.addressing);
	/* Only GPR loads narrower than X sign-extend (LDRSB/H/W, LDPSW). */
	FUZZ_CHECK(!l.sign_extend || (l.is_load && !l.simd && l.size < 8),
		   "insn %#x: bad sign extension", insn);
	/* Pairs have only immediate-offset forms (C4.1.94, load/store register pair). */
	FUZZ_CHECK(l.nregs == 1 ||
			   (l.addressing != HYP_ADDR_REGISTER && l.addressing != HYP_ADDR_LITERAL),
		   "insn %#x: pair with register/literal addressing", insn);
	if (l.addressing == HYP_ADDR_REGISTER) {
		FUZZ_CHECK(l.extend == 2 || l.extend == 3 || l.extend == 6 || l.extend == 7,
			   "insn %#x extend %u", insn, l.extend);
		FUZZ_CHECK(l.shift <= 4, "insn %#x shift %u", insn, l.shift);
		FUZZ_CHECK(hyp_trap_ldst_extend_reg(v, l.extend, l.shift) ==
				   model_extend(v, l.extend, l.shift),
			   "ExtendReg(%#llx, %u, %u)", (unsigned long long)v, l.extend, l.shift);
	}
	if (l.addressing == HYP_ADDR_LITERAL)
		FUZZ_CHECK(l.is_load && !(l.imm & 3), "insn %#x: literal", insn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct hyp_exit fast, slow, orig;
	struct hyp_trap_info fi = { 0xee }, si = { 0xee };
	struct hyp_gp_regs regs, r_fast, r_slow;
	uint8_t sel = fuzz_u8(&in);
	uint64_t esr = fuzz_u64(&in);
	bool advance;

	if (sel & 1) {
		/* A plain syndrome of a biased EC: ISV set, a translation/access/permission fault
		 * status for aborts (what hardware reports for MMIO), 32-bit ESR. */
		uint32_t ec = biased_ecs[(sel >> 1) & 7];
		uint32_t iss = (uint32_t)esr & 0x1ffffffu;

		if (ec == HYP_EC_DABT_LOW || ec == HYP_EC_DABT_CUR)
			iss = (iss & ~0x3fu) | (1u << 24) | (0x04 + (iss & 0x3f) % 12);
		if ((sel & 0x10) && ec != HYP_EC_DABT_LOW && ec != HYP_EC_DABT_CUR)
			iss &= ~0xffffu;
		esr = ((uint64_t)ec << 26) | (esr & (1u << 25)) | iss;
	}
	memset(&orig, 0xa5, sizeof(orig));
	orig.reason = 0;
	orig.vcpu_index = fuzz_u8(&in);
	orig.raw.esr = esr;
	orig.raw.far = fuzz_u64(&in);
	orig.raw.hpfar = fuzz_u64(&in);
	orig.raw.valid = (sel & 0x20) ? 7 : fuzz_u8(&in);
	orig.raw.reserved = (sel & 0x40) ? 0 : fuzz_u8(&in);
	for (int i = 0; i < 31; i++)
		regs.x[i] = (i < 8 || (sel & 0x80)) ? fuzz_u64(&in) : 0x1111111111111111ull * i;
	regs.sp_el0 = fuzz_u64(&in);
	regs.pc = fuzz_u64(&in);
	regs.pstate = fuzz_u32(&in);
	advance = fuzz_u8(&in) & 1;

	fast = orig;
	slow = orig;
	hyp_trap_decode(&slow.raw, &slow, &si);
	hyp_trap_load_operands(&slow, &regs);
	FUZZ_CHECK(slow.reason < HYP_EXIT_REASON_COUNT, "reason %u", slow.reason);
	if (hyp_trap_decode_fast(&fast, &regs, &fi)) {
		FUZZ_CHECK(!memcmp(&fast, &slow, sizeof(fast)),
			   "fast decode differs from two-step (esr %#llx)",
			   (unsigned long long)esr);
		FUZZ_CHECK(fi.pc_advance == si.pc_advance, "pc_advance %u vs %u", fi.pc_advance,
			   si.pc_advance);
	} else {
		/* A declined exit goes to the two-step path, which needs the syndrome intact. */
		FUZZ_CHECK(!memcmp(&fast, &orig, sizeof(fast)),
			   "declining fast path wrote the exit");
	}

	/* Completion with what a callback may answer. */
	if (slow.reason == HYP_EXIT_MMIO) {
		FUZZ_CHECK(slow.mmio.len == 1 || slow.mmio.len == 2 || slow.mmio.len == 4 ||
				   slow.mmio.len == 8,
			   "mmio len %u", slow.mmio.len);
		FUZZ_CHECK(slow.mmio.len == 8 || slow.mmio.data >> (8 * slow.mmio.len) == 0,
			   "write data %#llx not truncated to %u bytes",
			   (unsigned long long)slow.mmio.data, slow.mmio.len);
		FUZZ_CHECK(!slow.mmio.sign_extend || !slow.mmio.is_write, "store sign-extends");
		slow.mmio.data = fuzz_u64(&in);
	} else if (slow.reason == HYP_EXIT_SMCCC) {
		for (int i = 0; i < 4; i++)
			slow.smccc.ret[i] = fuzz_u64(&in);
	} else if (slow.reason == HYP_EXIT_SYSREG) {
		slow.sysreg.value = fuzz_u64(&in);
	}
	r_fast = r_slow = regs;
	hyp_trap_complete(&slow, &si, &r_slow, advance);
	hyp_trap_complete_fast(&slow, &si, &r_fast, advance);
	FUZZ_CHECK(!memcmp(&r_fast, &r_slow, sizeof(r_fast)), "fast completion differs");
	FUZZ_CHECK(r_slow.sp_el0 == regs.sp_el0, "completion changed SP_EL0");
	if (slow.reason == HYP_EXIT_MMIO) {
		const struct hyp_mmio_access *m = &slow.mmio;

		for (unsigned int i = 0; i < 31; i++) {
			uint64_t want = regs.x[i];

			if (!m->is_write && i == m->reg && !(regs.pstate & PSTATE_NRW))
				want = model_load_value(m->data, m->len, m->sign_extend, m->reg64);
			if (regs.pstate & PSTATE_NRW) {
				/* AArch32 completion has its own register rules; only check that
				 * nothing but the destination changed. */
				if (!m->is_write && i == m->reg)
					continue;
			}
			FUZZ_CHECK(r_slow.x[i] == want, "MMIO completion: x%u = %#llx, want %#llx",
				   i, (unsigned long long)r_slow.x[i], (unsigned long long)want);
		}
		if (!advance)
			FUZZ_CHECK(r_slow.pc == regs.pc, "PC moved without advance_pc");
		else if (!(regs.pstate & PSTATE_NRW))
			FUZZ_CHECK(r_slow.pc == regs.pc + si.pc_advance, "PC %#llx",
				   (unsigned long long)r_slow.pc);
	}

	check_mmio_value(&in);
	check_ldst(fuzz_u32(&in), fuzz_u64(&in));
	return 0;
}
