/* SPDX-License-Identifier: MIT */
/*
 * Emulation of guest loads and stores that trapped without an instruction syndrome.
 *
 * A stage-2 data abort on an MMIO address describes the access only for single-register loads and
 * stores without writeback (ESR_EL2.ISS.ISV = 1). LDP/STP, pre/post-index writeback and the other
 * forms arrive with ISV = 0, and a hypervisor that does not emulate them leaves its VMM nothing to
 * do but kill or fault a guest that did nothing wrong. Here the core fetches the instruction
 * (through the guest's stage-1 tables, lib/trap/s1walk.c), decodes it (lib/trap/insn.c) and
 * performs it element by element: an element in guest RAM is copied, an element in MMIO space
 * goes through the ordinary MMIO dispatch as an exit of its own (callbacks see a plain
 * HYP_EXIT_MMIO; one a callback does not handle is returned to the caller, and the emulation
 * resumes when the vCPU next runs). Then the loaded registers, the base register writeback and
 * the PC are written, in that order.
 *
 * Everything goes through the public register and memory accessors, so every backend gets the
 * same behaviour: el2 and mock keep registers in memory, kvm reads and writes them with ONE_REG.
 */
#include "hyp_bytes.h"
#include "hyp_string.h"

#include "internal.h"
#include "trap/iss.h"
#include "trap/s1walk.h"

#include <libhyp/sysreg.h>

#define EMUL_PAGE_SIZE 4096u

/* The walk's descriptor accessors (hyp_s1_read_fn, hyp_s1_write_fn): @opaque is the vCPU whose
 * access is emulated. */
static int read_desc(void *opaque, hyp_ipa_t ipa, uint64_t *desc)
{
	const struct hyp_vcpu *vcpu = opaque;
	uint8_t b[8];
	int r;

	if (ipa & 7)
		return -EINVAL;
	r = hyp_vm_read_guest(vcpu->vm, ipa, b, sizeof(b));
	if (r)
		return r;
	*desc = hyp__le_load(b, 8);
	return 0;
}

/*
 * Hardware access flag and dirty state updates (TCR_EL1.HA/HD) the walk makes: an atomic
 * compare-and-swap of the aligned 64-bit descriptor, as the MMU's update is an atomic
 * read-modify-write. A plain store could undo what another vCPU wrote in between (Linux clearing
 * a PTE to unmap a page would see it come back, pointing at memory it has freed). Only into
 * memory the guest may write: a table in read-only memory (a ROM) is never modified, and the walk
 * then fails as the hardware's would on a stage-2 write fault, with an abort on the walk.
 */
static int write_desc(void *opaque, hyp_ipa_t ipa, uint64_t old, uint64_t desc)
{
	struct hyp_vcpu *vcpu = opaque;
	uint8_t b[8];
	uint64_t expected, raw;
	void *host;
	int r;

	if (ipa & 7)
		return -EINVAL;
	r = hyp_vm_guest_ptr(vcpu->vm, ipa, 8, true, &host);
	if (r)
		return r;
	/* The guest's descriptors are little-endian, whatever the host's order. */
	hyp__le_store(b, old, 8);
	memcpy(&expected, b, 8);
	hyp__le_store(b, desc, 8);
	memcpy(&raw, b, 8);
	if (!__atomic_compare_exchange_n((uint64_t *)host, &expected, raw, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return -EAGAIN;
	/* The MMU's write on the vCPU's behalf: a live copy must see it, in the vCPU's dirty ring
	 * where it has one, as the vCPU's own stores. */
	hyp__dirty_mark_vcpu(vcpu, ipa, 8);
	return 0;
}

static int load_regime(struct hyp_vcpu *vcpu, struct hyp_s1_regime *regime)
{
	uint64_t mmfr0;
	int r;

	r = hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &regime->sctlr_el1);
	if (r || !(regime->sctlr_el1 & 1))
		return r; /* MMU off: the other registers do not matter */
	/* The implemented PA size decides whether 52-bit output addresses exist (FEAT_LPA). */
	regime->pa_bits_max = 48;
	if (hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_ID_AA64MMFR0_EL1, &mmfr0) == 0)
		regime->pa_bits_max = hyp_trap_pa_bits((unsigned)mmfr0 & 7);
	r = hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_TCR_EL1, &regime->tcr_el1);
	if (!r)
		r = hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_TTBR0_EL1, &regime->ttbr0_el1);
	if (!r)
		r = hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_TTBR1_EL1, &regime->ttbr1_el1);
	return r;
}

/* The stack pointer an A64 instruction means by register 31 in a base-register position: SP_EL0
 * at EL0 and in EL1t, SP_EL1 in EL1h (PSTATE.SP). */
static enum hyp_reg sp_reg(uint64_t pstate)
{
	return (pstate & PSTATE_M_SP) && (pstate & 0xc) ? HYP_REG_SP_EL1 : HYP_REG_SP_EL0;
}

static int get_gpr(struct hyp_vcpu *vcpu, unsigned n, uint64_t *value)
{
	if (n == 31) {
		*value = 0;
		return 0;
	}
	return hyp_vcpu_get_reg(vcpu, HYP_REG_X(n), value);
}

static int set_gpr(struct hyp_vcpu *vcpu, unsigned n, uint64_t value)
{
	return n == 31 ? 0 : hyp_vcpu_set_reg(vcpu, HYP_REG_X(n), value);
}

/* The value a GPR load leaves in its destination: the same rule as for an MMIO load with a
 * syndrome (zero- or sign-extended to the W or X register, lib/trap). */
static uint64_t loaded_value(const struct hyp_ldst *l, const uint8_t *bytes)
{
	const struct hyp_mmio_access a = { .data = hyp__le_load(bytes, l->size),
					   .len = l->size,
					   .sign_extend = l->sign_extend,
					   .reg64 = l->dest64 };

	return hyp_trap_mmio_read_value(&a);
}

/*
 * The instruction cannot complete: the guest takes a data abort on the element's address, with
 * @fsc (a stage-1 fault the walk found: translation, access flag, permission...) or, for
 * @fsc < 0, a synchronous external abort (the device refused the access). A backend that cannot
 * choose the fault status (KVM injects external aborts only) reports an external abort.
 */
static enum hyp_emul_result abort_instruction(struct hyp_vcpu *vcpu, uint64_t va, int fsc)
{
	int r;

	/* The abort reports the direction of the instruction (ESR_EL1.ISS.WnR), whatever the
	 * syndrome of the exit said. */
	if (vcpu->exit.reason == HYP_EXIT_MEM_FAULT)
		vcpu->exit.fault.is_write = !vcpu->emul.insn.is_load;
	vcpu->completion = HYP_COMPLETE_NONE;
	r = hyp__vcpu_inject_abort_fsc(vcpu, HYP_INJECT_DATA_ABORT, va, fsc);
	return r ? HYP_EMUL_FAILED : HYP_EMUL_DONE;
}

/* Where access @k's bytes sit in e->data, and which register it belongs to. */
static unsigned access_reg(const struct hyp_emulation *e, unsigned k)
{
	return e->insn.size > 8 ? k / 2 : k;
}

static uint8_t *access_bytes(struct hyp_emulation *e, unsigned k)
{
	return &e->data[16 * access_reg(e, k) + (e->insn.size > 8 ? 8 * (k % 2) : 0)];
}

/* A loaded SIMD&FP register: the bytes loaded, zero-extended to 128 bits (Arm ARM, LDR (SIMD&FP):
 * V[t] = the element, upper bits cleared). */
static int write_loaded_vregs(struct hyp_vcpu *vcpu, const struct hyp_emulation *e)
{
	const struct hyp_ldst *l = &e->insn;
	struct hyp_fp_regs fp;
	int r = hyp_vcpu_get_fp_regs(vcpu, &fp);

	if (r)
		return r;
	for (unsigned i = 0; i < l->nregs; i++) {
		uint8_t *v = fp.v[i == 0 ? l->rt : l->rt2];

		memset(v, 0, 16);
		memcpy(v, &e->data[16 * i], l->size);
	}
	return hyp_vcpu_set_fp_regs(vcpu, &fp);
}

/* Registers, writeback and PC, once every access has been performed. */
static enum hyp_emul_result finish(struct hyp_vcpu *vcpu)
{
	struct hyp_emulation *e = &vcpu->emul;
	const struct hyp_ldst *l = &e->insn;
	uint64_t pc;
	int r = 0;

	vcpu->completion = HYP_COMPLETE_NONE;
	if (l->is_load && l->simd) {
		r = write_loaded_vregs(vcpu, e);
	} else if (l->is_load) {
		r = set_gpr(vcpu, l->rt, loaded_value(l, &e->data[0]));
		/* LDP with Rt == Rt2 is CONSTRAINED UNPREDICTABLE (Constraint_UNKNOWN): the second
		 * element's value stays. */
		if (!r && l->nregs == 2)
			r = set_gpr(vcpu, l->rt2, loaded_value(l, &e->data[16]));
	}
	/* A load with writeback into its own base register is CONSTRAINED UNPREDICTABLE; we
	 * take Constraint_WBSUPPRESS: the loaded value stays, no writeback (Arm ARM K1.2.6). A
	 * SIMD&FP load does not write general-purpose registers, so there is no overlap. */
	if (!r && e->writeback &&
	    !(l->is_load && !l->simd && l->rn != 31 &&
	      (l->rn == l->rt || (l->nregs == 2 && l->rn == l->rt2))))
		r = hyp_vcpu_set_reg(vcpu, l->rn == 31 ? sp_reg(e->pstate) : HYP_REG_X(l->rn),
				     e->wb_value);
	if (!r)
		r = hyp_vcpu_get_reg(vcpu, HYP_REG_PC, &pc);
	if (!r)
		r = hyp_vcpu_set_reg(vcpu, HYP_REG_PC, pc + 4);
	vcpu->pc_moved = false;
	return r ? HYP_EMUL_FAILED : HYP_EMUL_DONE;
}

/* Perform the accesses from e->next on; an MMIO access nobody handles goes to the caller. */
static enum hyp_emul_result perform(struct hyp_vcpu *vcpu)
{
	struct hyp_exit *exit = &vcpu->exit;
	struct hyp_emulation *e = &vcpu->emul;
	const struct hyp_ldst *l = &e->insn;
	const unsigned size = e->access_size;

	while (e->next < e->nr_accesses) {
		unsigned k = e->next;
		uint8_t *bytes = access_bytes(e, k);
		void *host;

		/* Guest RAM (writable RAM for a store): the access a mapped page would take. */
		if (hyp_vm_guest_ptr(vcpu->vm, e->ipa[k], size, !l->is_load, &host) == 0) {
			if (l->is_load)
				memcpy(bytes, host, size);
			else
				memcpy(host, bytes, size);
			e->next++;
			continue;
		}
		memset(&exit->mmio, 0, sizeof(exit->mmio));
		exit->reason = HYP_EXIT_MMIO;
		exit->mmio.ipa = e->ipa[k];
		exit->mmio.offset = e->ipa[k];
		exit->mmio.len = (uint8_t)size;
		exit->mmio.is_write = !l->is_load;
		exit->mmio.data = l->is_load ? 0 : hyp__le_load(bytes, size);
		exit->mmio.sign_extend = l->sign_extend;
		exit->mmio.reg = access_reg(e, k) == 0 ? l->rt : l->rt2;
		exit->mmio.reg64 = l->dest64;
		exit->mmio.acquire_release = l->acquire_release;
		vcpu->completion = HYP_COMPLETE_EMULATION;
		/* A device inside the backend (KVM's vGIC) first: it never sees these otherwise. */
		if (vcpu->vm->ops.vcpu_device_access) {
			int r = vcpu->vm->ops.vcpu_device_access(vcpu, &exit->mmio);

			if (r == 0) {
				if (l->is_load)
					hyp__le_store(bytes, exit->mmio.data, size);
				e->next++;
				continue;
			}
			if (r != -ENOENT) {
				hyp__warn(vcpu->vm,
					  "vcpu %u: the backend's device refused an access at "
					  "%#llx: %d",
					  vcpu->index, (unsigned long long)e->ipa[k], r);
				return abort_instruction(vcpu, e->va + (uint64_t)k * size, -1);
			}
		}
		if (hyp__dispatch_mmio(vcpu, exit) != HYP_HANDLED)
			return HYP_EMUL_EXIT; /* resumed by hyp__emulate_resume() */
		if (vcpu->completion != HYP_COMPLETE_EMULATION)
			return HYP_EMUL_DONE; /* a handler injected an exception instead */
		if (vcpu->pc_moved) {
			/* The callback redirected the guest: the rest of the instruction is
			 * abandoned, as resume does when the caller moves the PC. */
			vcpu->completion = HYP_COMPLETE_NONE;
			vcpu->pc_moved = false;
			return HYP_EMUL_DONE;
		}
		if (l->is_load)
			hyp__le_store(bytes, exit->mmio.data, size);
		e->next++;
	}
	return finish(vcpu);
}

enum hyp_emul_result hyp__emulate_resume(struct hyp_vcpu *vcpu)
{
	struct hyp_emulation *e = &vcpu->emul;

	/* The caller moved the PC while an element was out: it took the guest elsewhere, and
	 * the rest of the instruction is abandoned. */
	if (vcpu->pc_moved) {
		vcpu->completion = HYP_COMPLETE_NONE;
		vcpu->pc_moved = false;
		return HYP_EMUL_DONE;
	}
	if (e->insn.is_load)
		hyp__le_store(access_bytes(e, e->next), vcpu->exit.mmio.data, e->access_size);
	e->next++;
	return perform(vcpu);
}

/* Fetch the A64 instruction at the PC: through stage 1 when the guest's MMU is on. */
static int fetch(struct hyp_vcpu *vcpu, const struct hyp_s1_regime *regime, uint64_t pc, bool el0,
		 uint32_t *insn)
{
	struct hyp_s1_result res;
	uint8_t b[4];
	int r;

	if (pc & 3)
		return -EFAULT;
	r = hyp_trap_s1_translate(regime, pc, HYP_S1_FETCH | (el0 ? HYP_S1_EL0 : 0), read_desc,
				  write_desc, vcpu, &res);
	if (r)
		return r;
	r = hyp_vm_read_guest(vcpu->vm, res.ipa, b, sizeof(b));
	if (r)
		return r;
	*insn = (uint32_t)hyp__le_load(b, 4);
	return 0;
}

enum hyp_emul_result hyp__emulate_start(struct hyp_vcpu *vcpu)
{
	struct hyp_emulation *e = &vcpu->emul;
	struct hyp_ldst *l = &e->insn;
	struct hyp_s1_regime regime = { 0 };
	uint64_t pc, base, offset, address;
	uint32_t insn;
	bool el0;
	unsigned access;

	if (hyp_vcpu_get_reg(vcpu, HYP_REG_PSTATE, &e->pstate) ||
	    hyp_vcpu_get_reg(vcpu, HYP_REG_PC, &pc))
		return HYP_EMUL_UNEMULATABLE;
	/* AArch32 guests (T32/A32 decoding) are not emulated. */
	if (e->pstate & PSTATE_NRW)
		return HYP_EMUL_UNEMULATABLE;
	el0 = (e->pstate & 0xc) == 0;
	if (load_regime(vcpu, &regime) || fetch(vcpu, &regime, pc, el0, &insn))
		return HYP_EMUL_UNEMULATABLE;
	/* Big-endian data (SCTLR_EL1.EE at EL1, E0E at EL0) is not emulated: element byte order
	 * would differ from the little-endian MMIO record and RAM copy below. */
	if (regime.sctlr_el1 & (el0 ? SCTLR_E0E : SCTLR_EE))
		return HYP_EMUL_UNEMULATABLE;
	memset(l, 0, sizeof(*l));
	switch (hyp_trap_decode_ldst(insn, l)) {
	case HYP_LDST_EMULATE:
		break;
	case HYP_LDST_PREFETCH:
		/* A hint never faults architecturally; if one trapped, it does nothing. */
		if (hyp_vcpu_set_reg(vcpu, HYP_REG_PC, pc + 4))
			return HYP_EMUL_FAILED;
		vcpu->completion = HYP_COMPLETE_NONE;
		vcpu->pc_moved = false;
		return HYP_EMUL_DONE;
	default:
		return HYP_EMUL_UNEMULATABLE;
	}

	if (l->addressing == HYP_ADDR_LITERAL) {
		base = pc;
	} else if (hyp_vcpu_get_reg(vcpu, l->rn == 31 ? sp_reg(e->pstate) : HYP_REG_X(l->rn),
				    &base)) {
		return HYP_EMUL_UNEMULATABLE;
	}
	if (l->addressing == HYP_ADDR_REGISTER) {
		uint64_t rm;

		if (get_gpr(vcpu, l->rm, &rm))
			return HYP_EMUL_UNEMULATABLE;
		offset = hyp_trap_ldst_extend_reg(rm, l->extend, l->shift);
	} else {
		offset = (uint64_t)l->imm;
	}
	address = l->addressing == HYP_ADDR_POST_INDEX ? base : base + offset;
	e->writeback = l->addressing == HYP_ADDR_PRE_INDEX || l->addressing == HYP_ADDR_POST_INDEX;
	e->wb_value = base + offset;
	e->va = address;
	e->next = 0;
	/* A 16-byte register (Q) is two 8-byte accesses: a 128-bit access to Device memory is
	 * not single-copy atomic as a whole (Arm ARM B2.2.1), and MMIO callbacks take 8 bytes. */
	e->access_size = l->size > 8 ? 8 : l->size;
	e->nr_accesses = (uint8_t)(l->nregs * (l->size > 8 ? 2 : 1));
	memset(e->data, 0, sizeof(e->data));
	if (!l->is_load && l->simd) {
		struct hyp_fp_regs fp;

		if (hyp_vcpu_get_fp_regs(vcpu, &fp))
			return HYP_EMUL_UNEMULATABLE;
		for (unsigned i = 0; i < l->nregs; i++)
			memcpy(&e->data[16 * i], fp.v[i == 0 ? l->rt : l->rt2], l->size);
	} else if (!l->is_load) {
		for (unsigned i = 0; i < l->nregs; i++) {
			uint64_t v;

			if (get_gpr(vcpu, i == 0 ? l->rt : l->rt2, &v))
				return HYP_EMUL_UNEMULATABLE;
			hyp__le_store(&e->data[16 * i], v, l->size);
		}
	} else if (l->simd) {
		struct hyp_fp_regs fp;

		/* The registers must be writable at the end: find out now, before any side
		 * effect, rather than after the device has been read. */
		if (hyp_vcpu_get_fp_regs(vcpu, &fp))
			return HYP_EMUL_UNEMULATABLE;
	}

	/* Translate every element before any side effect, so a fault on the second element of a
	 * pair leaves the first undone. An element that straddles a page would need two
	 * translations and, on MMIO, two accesses of odd sizes: Device memory requires
	 * alignment anyway, so it is answered like an unaligned Device access, with an abort. */
	access = (l->is_load ? 0 : HYP_S1_WRITE) | (el0 || l->unprivileged ? HYP_S1_EL0 : 0);
	for (unsigned k = 0; k < e->nr_accesses; k++) {
		uint64_t va = address + (uint64_t)k * e->access_size;
		struct hyp_s1_result res;
		int r;

		if ((va & (EMUL_PAGE_SIZE - 1)) + e->access_size > EMUL_PAGE_SIZE)
			return abort_instruction(vcpu, va, -1);
		r = hyp_trap_s1_translate(&regime, va, access, read_desc, write_desc, vcpu, &res);
		if (r == -ENOTSUP)
			return HYP_EMUL_UNEMULATABLE;
		if (r)
			return abort_instruction(vcpu, va, res.fsc);
		e->ipa[k] = res.ipa;
	}
	return perform(vcpu);
}

int hyp__emulate_walk_abort_fsc(struct hyp_vcpu *vcpu, uint64_t va, bool fetch)
{
	struct hyp_s1_regime regime = { 0 };
	struct hyp_s1_result res;
	uint64_t pstate;

	if (load_regime(vcpu, &regime) || hyp_vcpu_get_reg(vcpu, HYP_REG_PSTATE, &pstate))
		return -1;
	/* Read only: a walk that is being reported as failed updates no descriptor. */
	if (hyp_trap_s1_translate(&regime, va,
				  (fetch ? HYP_S1_FETCH : 0) |
					  ((pstate & 0xc) == 0 ? HYP_S1_EL0 : 0),
				  read_desc, NULL, vcpu, &res) != -EIO)
		return -1;
	return res.fsc;
}

uint64_t hyp__emulate_element_va(const struct hyp_vcpu *vcpu)
{
	return vcpu->emul.va + (uint64_t)vcpu->emul.next * vcpu->emul.access_size;
}
