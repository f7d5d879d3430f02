/* SPDX-License-Identifier: MIT */
/*
 * Guest exits: why hyp_vcpu_run() returned, or what a callback is being asked to handle.
 *
 * Every exit carries the decoded view (a union selected by @reason) and the raw syndrome the
 * hardware (or kernel) reported. The record is owned by the library, one per vCPU, and stays valid
 * until the next hyp_vcpu_run() on that vCPU. Fields documented as "in/out" are read back by the
 * library when the vCPU next runs, to complete the guest instruction.
 */
#ifndef LIBHYP_EXIT_H
#define LIBHYP_EXIT_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Why a vCPU stopped running guest code. */
enum hyp_exit_reason {
	/** No exit yet (the record of a vCPU that never ran). */
	HYP_EXIT_NONE = 0,
	/** A load or store to an IPA with no memory, or a store to read-only memory: .mmio. */
	HYP_EXIT_MMIO,
	/** An HVC or SMC (SMCCC call) no handler answered: .smccc. */
	HYP_EXIT_SMCCC,
	/** A trapped MSR/MRS to a system register: .sysreg. */
	HYP_EXIT_SYSREG,
	/** The guest executed WFI or WFE and the backend did not absorb it: .wfx. */
	HYP_EXIT_WFX,
	/** A stage-2 fault the library cannot turn into MMIO (no syndrome, instruction fetch, page
	 *  table walk, external abort): .fault. */
	HYP_EXIT_MEM_FAULT,
	/** PSCI SYSTEM_OFF / SYSTEM_RESET, or a backend's shutdown report: .system_event. */
	HYP_EXIT_SYSTEM_EVENT,
	/** hyp_vcpu_kick() was called (no guest state is pending). */
	HYP_EXIT_KICKED,
	/** A debug exception: BRK, breakpoint, watchpoint, single step: .exception. */
	HYP_EXIT_DEBUG,
	/** Any other trapped exception class: .exception, and the raw syndrome. */
	HYP_EXIT_EXCEPTION,
	HYP_EXIT_REASON_COUNT
};

/** Bits of struct hyp_syndrome.valid. */
enum hyp_syndrome_valid {
	HYP_SYNDROME_ESR = 1u << 0,
	HYP_SYNDROME_FAR = 1u << 1,
	HYP_SYNDROME_HPFAR = 1u << 2,
};

/**
 * struct hyp_syndrome - the raw exception syndrome, as ESR_EL2/FAR_EL2/HPFAR_EL2 held it.
 * @esr: ESR_EL2 (EC in bits [31:26], IL bit 25, ISS below).
 * @far: FAR_EL2: the faulting virtual address for aborts.
 * @hpfar: HPFAR_EL2: FIPA (IPA bits [51:12]) in bits [43:4].
 * @valid: which fields the backend could report (KVM, for instance, does not expose FAR for
 *	   ordinary MMIO exits). A field not marked valid reads 0.
 */
struct hyp_syndrome {
	uint64_t esr;
	uint64_t far;
	uint64_t hpfar;
	uint32_t valid;
	uint32_t reserved;
};

/**
 * struct hyp_mmio_access - a decoded MMIO access.
 *
 * Accesses whose instruction gave the hypervisor no syndrome (LDP/STP, writeback forms...) are
 * emulated by the library and arrive here one element at a time, in the architected order, each
 * with its own @ipa, @len and @reg; the instruction completes (registers, base writeback, PC) when
 * the last element has been answered. The exit's raw syndrome is the one of the original abort.
 * @ipa: the faulting guest physical address.
 * @offset: @ipa minus the base of the callback range (for an exit returned to the caller: @ipa).
 * @data: in/out. For writes, the value stored (already truncated to @len bytes). For reads, the
 *	  value to load: the caller or callback fills the low @len bytes; the library truncates it,
 *	  then sign- or zero-extends it into the destination register as the instruction requires.
 * @len: access size in bytes: 1, 2, 4 or 8.
 * @is_write: 1 for a store, 0 for a load.
 * @sign_extend: the load sign-extends (LDRSB/LDRSH/LDRSW); informative, the library applies it.
 * @reg: the transfer register number (31 = XZR/WZR), informative.
 * @reg64: the destination is an X register (else W, zero-extended to 64 bits).
 * @acquire_release: the instruction has acquire/release semantics.
 */
struct hyp_mmio_access {
	hyp_ipa_t ipa;
	uint64_t offset;
	uint64_t data;
	uint8_t len;
	uint8_t is_write;
	uint8_t sign_extend;
	uint8_t reg;
	uint8_t reg64;
	uint8_t acquire_release;
	uint8_t reserved[2];
};

/** Which instruction made an SMCCC call. */
enum hyp_smccc_conduit {
	HYP_CONDUIT_HVC = 1u << 0,
	HYP_CONDUIT_SMC = 1u << 1,
};

/**
 * struct hyp_smccc_call - a decoded SMCCC call (HVC or SMC).
 * @function_id: W0, the SMCCC function identifier.
 * @conduit: HYP_CONDUIT_HVC or HYP_CONDUIT_SMC.
 * @imm: the instruction's 16-bit immediate; SMCCC calls use 0, anything else is not an SMCCC call
 *	 and is never answered by the built-in PSCI/SMCCC services.
 * @args: X1..X7 (for SMC32/HVC32 function IDs only the low 32 bits are meaningful).
 * @ret: in/out: the values for X0..X3 when the guest resumes. Pre-set to NOT_SUPPORTED (-1) in
 *	 ret[0] and the unchanged X1..X3 values, which is the architected answer to an unknown call.
 */
struct hyp_smccc_call {
	uint32_t function_id;
	uint8_t conduit;
	uint8_t reserved;
	uint16_t imm;
	uint64_t args[7];
	uint64_t ret[4];
};

/**
 * struct hyp_sysreg_access - a trapped MSR/MRS (ESR_EL2.EC 0x18).
 * @encoding: HYP_SYSREG(op0, op1, CRn, CRm, op2).
 * @is_write: 1 for MSR (guest writes @value), 0 for MRS.
 * @reg: Rt (31 = XZR).
 * @value: in/out. For MSR, the value written. For MRS, the value to return: the caller or callback
 *	   sets it; the library writes it to Rt.
 */
struct hyp_sysreg_access {
	uint32_t encoding;
	uint8_t is_write;
	uint8_t reg;
	uint8_t reserved[2];
	uint64_t value;
};

/** struct hyp_wfx - WFI/WFE. @is_wfe: WFE rather than WFI. @has_timeout: WFIT/WFET. */
struct hyp_wfx {
	uint8_t is_wfe;
	uint8_t has_timeout;
	uint8_t reserved[6];
};

/** Why a stage-2 fault could not be emulated as MMIO (struct hyp_mem_fault.kind). */
enum hyp_mem_fault_kind {
	/** A data abort on MMIO space whose instruction gives no syndrome (ESR.ISS.ISV = 0) and
	 *  that the library could not emulate. The library fetches and performs the common forms
	 *  itself (LDR/STR of every size with pre/post-index writeback and register offsets,
	 *  LDP/STP/LDPSW/LDNP/STNP, LDUR/STUR, LDAR/STLR/LDAPR, and the SIMD&FP register forms
	 *  where the backend exposes those registers), each element as an ordinary
	 *  HYP_EXIT_MMIO; what reaches the caller as this fault are the forms a device cannot
	 *  honour (exclusives, atomics, DC ZVA, SIMD structure loads), AArch32 guests,
	 *  big-endian data, and instructions the library cannot fetch (the PC not in RAM, a
	 *  guest stage-1 configuration the walker does not model). */
	HYP_FAULT_NO_SYNDROME = 1,
	/** An instruction fetch from an IPA with no executable memory. */
	HYP_FAULT_EXEC,
	/** The fault happened while the stage-1 walk read a page table (S1PTW). */
	HYP_FAULT_PAGE_TABLE_WALK,
	/** A synchronous external abort, or a fault status the library does not emulate. */
	HYP_FAULT_OTHER,
};

/**
 * struct hyp_mem_fault - a stage-2 fault returned to the caller.
 * @ipa: the faulting IPA (valid if @ipa_valid).
 * @va: the faulting virtual address from FAR (valid if the syndrome marks FAR valid).
 * @kind: enum hyp_mem_fault_kind.
 * @is_write: the access was a write (data aborts).
 * @fault_status: DFSC/IFSC from the ISS.
 * @ipa_valid: @ipa is meaningful.
 */
struct hyp_mem_fault {
	hyp_ipa_t ipa;
	uint64_t va;
	uint8_t kind;
	uint8_t is_write;
	uint8_t fault_status;
	uint8_t ipa_valid;
	uint8_t reserved[4];
};

/** System events (struct hyp_system_event.type). */
enum hyp_system_event_type {
	/** PSCI SYSTEM_OFF: the guest asked to power the machine off. */
	HYP_SYSTEM_EVENT_OFF = 1,
	/** PSCI SYSTEM_RESET (or SYSTEM_RESET2): the guest asked for a reboot. */
	HYP_SYSTEM_EVENT_RESET,
	/** The backend reports that the guest crashed or the VM can no longer run. */
	HYP_SYSTEM_EVENT_CRASH,
};

/** struct hyp_system_event - @type: enum hyp_system_event_type; @data: e.g. the SYSTEM_RESET2
 *  type (32 bits). */
struct hyp_system_event {
	uint32_t type;
	uint32_t reserved;
	uint64_t data;
};

/**
 * struct hyp_exception - an exception the library has no decoded view for.
 * @ec: ESR_EL2.EC.
 * @il: ESR_EL2.IL (1 = 32-bit instruction).
 * @iss: ESR_EL2.ISS.
 * @imm: for BRK, the comment immediate; else 0.
 */
struct hyp_exception {
	uint8_t ec;
	uint8_t il;
	uint16_t imm;
	uint32_t iss;
};

/**
 * struct hyp_exit - one exit of one vCPU.
 * @reason: enum hyp_exit_reason; selects the union member.
 * @vcpu_index: the index of the vCPU that exited.
 * @raw: the raw syndrome.
 */
struct hyp_exit {
	uint32_t reason;
	uint32_t vcpu_index;
	struct hyp_syndrome raw;
	union {
		struct hyp_mmio_access mmio;
		struct hyp_smccc_call smccc;
		struct hyp_sysreg_access sysreg;
		struct hyp_wfx wfx;
		struct hyp_mem_fault fault;
		struct hyp_system_event system_event;
		struct hyp_exception exception;
	};
};

/** hyp_exit_reason_name() - "mmio", "smccc", ...; "invalid" for values out of range. */
HYP_API const char *hyp_exit_reason_name(uint32_t reason);

HYP_END_DECLS

#endif /* LIBHYP_EXIT_H */
