/* SPDX-License-Identifier: MIT */
/*
 * lib/trap/insn.h: decoding of the A64 load/store instructions a hypervisor must emulate itself.
 *
 * A stage-2 data abort describes the access in ESR_EL2.ISS only for single-register loads and
 * stores without writeback (ISS.ISV = 1). For everything else (LDP/STP, pre/post-index
 * writeback, register-offset forms on some CPUs, SIMD&FP registers) ISV is 0 and the hypervisor
 * must fetch and decode the instruction to perform the access. This decoder covers the A64
 * "Loads and Stores" encoding group (Arm ARM DDI 0487, section C4.1.94 and the per-class tables
 * that follow it), and classifies the rest of the group (exclusives, atomics, SIMD structure
 * loads, LD64B...) as forms that cannot be emulated on device memory.
 *
 * Pure: a function of the 32-bit instruction word. Host-tested (tests/unit/test-insn.c).
 */
#ifndef HYP_TRAP_INSN_H
#define HYP_TRAP_INSN_H

#include <stdbool.h>
#include <stdint.h>

/** What hyp_trap_decode_ldst() found. */
enum hyp_ldst_class {
	/** Not an instruction of the load/store group. */
	HYP_LDST_NOT_LDST = 0,
	/** A load/store the emulator performs: struct hyp_ldst describes it. */
	HYP_LDST_EMULATE,
	/** A load/store whose semantics need more than a plain access (exclusive monitors,
	 *  atomic read-modify-write, compare-and-swap, multi-structure SIMD, 64-byte
	 *  single-copy-atomic LD64B/ST64B, pointer-authenticated LDRAA/LDRAB, tag stores):
	 *  answered architecturally, never emulated. */
	HYP_LDST_UNEMULATABLE,
	/** PRFM/PRFUM: a hint, no access at all. */
	HYP_LDST_PREFETCH,
};

/** How the address is formed (struct hyp_ldst.addressing). */
enum hyp_ldst_addressing {
	/** [Xn|SP, #imm]: address = base + imm, no writeback. */
	HYP_ADDR_OFFSET = 0,
	/** [Xn|SP, #imm]!: address = base + imm, base written back. */
	HYP_ADDR_PRE_INDEX,
	/** [Xn|SP], #imm: address = base, base + imm written back. */
	HYP_ADDR_POST_INDEX,
	/** [Xn|SP, Rm{, extend {#amount}}]: address = base + extend(Rm) << shift. */
	HYP_ADDR_REGISTER,
	/** label: address = PC + imm (LDR literal). */
	HYP_ADDR_LITERAL,
};

/**
 * struct hyp_ldst - a decoded load/store.
 * @is_load: a load (else a store).
 * @simd: the transfer registers are SIMD&FP registers (B/H/S/D/Q), else general-purpose.
 * @nregs: 1 (LDR/STR and friends) or 2 (LDP/STP/LDPSW/LDNP/STNP).
 * @size: bytes per register transferred: 1, 2, 4, 8 or 16 (Q, SIMD only).
 * @sign_extend: the load sign-extends each element (LDRSB/LDRSH/LDRSW/LDPSW).
 * @dest64: for sign-extending loads, the destination is an X register (else W, whose upper
 *	    half is zeroed). Zero-extending GPR loads always zero the whole X register.
 * @acquire_release: LDAR/STLR-class ordering semantics (informative for device models).
 * @unprivileged: LDTR/STTR: at EL1 the access is checked as if from EL0 (informative).
 * @rt: the (first) transfer register; 31 is XZR/WZR for GPRs.
 * @rt2: the second transfer register of a pair.
 * @rn: the base register; 31 is SP (the SP of the current exception level).
 * @addressing: enum hyp_ldst_addressing.
 * @rm: the offset register (HYP_ADDR_REGISTER); 31 is XZR.
 * @extend: the ExtendType of the offset register (HYP_ADDR_REGISTER): option<2:0>,
 *	    2 UXTW, 3 LSL/UXTX, 6 SXTW, 7 SXTX.
 * @shift: left shift of the extended offset register (HYP_ADDR_REGISTER).
 * @imm: the byte offset (already scaled) for the immediate and literal forms.
 */
struct hyp_ldst {
	bool is_load;
	bool simd;
	uint8_t nregs;
	uint8_t size;
	bool sign_extend;
	bool dest64;
	bool acquire_release;
	bool unprivileged;
	uint8_t rt;
	uint8_t rt2;
	uint8_t rn;
	uint8_t addressing;
	uint8_t rm;
	uint8_t extend;
	uint8_t shift;
	int64_t imm;
};

/**
 * hyp_trap_decode_ldst() - decode one A64 instruction of the load/store group.
 * @insn: the instruction word (little-endian as fetched).
 * @out: filled when the result is HYP_LDST_EMULATE; untouched otherwise.
 *
 * Emulated forms: LDR/STR (immediate: unsigned offset, pre- and post-index; register offset with
 * UXTW/LSL/SXTW/SXTX and the optional scale; unscaled LDUR/STUR; unprivileged LDTR/STTR; literal),
 * every size and sign-extension (B, H, W, SB, SH, SW; SIMD&FP B/H/S/D/Q), LDP/STP/LDPSW/LDNP/STNP
 * in all addressing forms (GPR and SIMD&FP), LDAR/STLR/LDLAR/STLLR, LDAPR and the RCpc unscaled
 * forms (LDAPUR/STLUR). Encodings the Arm ARM lists as UNALLOCATED within those classes are
 * reported as HYP_LDST_UNEMULATABLE. CONSTRAINED UNPREDICTABLE combinations (a load with
 * writeback into its own base, LDP with Rt == Rt2, LDAR with non-ones Rs/Rt2) decode as the
 * plain form; the emulator picks one of the permitted behaviours (lib/core/emulate.c).
 *
 * Return: enum hyp_ldst_class.
 */
enum hyp_ldst_class hyp_trap_decode_ldst(uint32_t insn, struct hyp_ldst *out);

/**
 * hyp_trap_ldst_extend_reg() - the offset a register-offset form adds: ExtendReg(@value, @extend,
 * @shift) (Arm ARM shared pseudocode, aarch64/instrs/extendreg).
 */
uint64_t hyp_trap_ldst_extend_reg(uint64_t value, uint8_t extend, uint8_t shift);

#endif /* HYP_TRAP_INSN_H */
