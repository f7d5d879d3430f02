/* SPDX-License-Identifier: MIT */
/*
 * Virtual CPUs: creation, registers, running, kicking.
 */
#ifndef LIBHYP_VCPU_H
#define LIBHYP_VCPU_H

#include <libhyp/exit.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Initial power state (struct hyp_vcpu_config.power). */
enum hyp_vcpu_power {
	/** vCPU 0 starts on, every other vCPU starts off and waits for PSCI CPU_ON, as a Linux guest
	 *  expects. */
	HYP_VCPU_POWER_DEFAULT = 0,
	HYP_VCPU_POWER_ON,
	HYP_VCPU_POWER_OFF,
};

/**
 * struct hyp_vcpu_config - how to create a vCPU. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_vcpu_config); same growth rules as struct hyp_vm_config.
 * @index: the vCPU's index in the VM, 0 .. max_vcpus - 1; each index once.
 * @power: enum hyp_vcpu_power.
 * @mpidr: the affinity the guest reads in MPIDR_EL1 (Aff3..Aff0 bits only), and the id PSCI calls
 *	   use. 0 derives it from @index as KVM does: Aff0 = index[3:0], Aff1 = index[11:4],
 *	   Aff2 = index[19:12]. (vCPU 0 always gets 0.) Must be unique within the VM. The kvm
 *	   backend accepts only the derived value (KVM resets MPIDR to it on PSCI CPU_ON).
 */
struct hyp_vcpu_config {
	uint32_t size;
	uint32_t index;
	uint32_t power;
	uint32_t reserved;
	uint64_t mpidr;
};

/**
 * hyp_vcpu_create() - add a vCPU to a VM.
 * @vm: the VM.
 * @config: the configuration, or NULL for the defaults of the lowest free index.
 * @ret: receives the vCPU. Untouched on failure.
 *
 * The vCPU starts in the architected reset state for an AArch64 EL1 guest: PSTATE = EL1h with DAIF
 * masked, MMU off, PC = 0 until the caller sets it. Create every vCPU before any runs: with the
 * in-kernel GIC (kvm) the VM's vCPU set is frozen at the first hyp_vcpu_run().
 *
 * Return: 0; -EINVAL for NULL @vm/@ret, a bad @size, an @index ≥ max_vcpus, an unknown @power, a
 * non-zero reserved field, an @mpidr with bits outside Aff3..Aff0; -ENOSPC if @config is NULL and
 * every index is taken; -EEXIST if @index or @mpidr is taken; -EBUSY if a vCPU of @vm is running;
 * -ENOMEM or a backend error.
 */
HYP_API int hyp_vcpu_create(struct hyp_vm *vm, const struct hyp_vcpu_config *config,
			    struct hyp_vcpu **ret);

/**
 * hyp_vcpu_destroy() - destroy a vCPU.
 * @vcpu: the vCPU, or NULL (does nothing).
 *
 * The vCPU set is configuration that running vCPUs read (PSCI, system events), so this refuses,
 * changing nothing, while @vcpu or any other vCPU of its VM is inside hyp_vcpu_run(), whether on
 * another thread or from one of its own callbacks. A hyp_vcpu_kick() of @vcpu still returning
 * elsewhere is waited for (the lifetime rule is hyp_vcpu_kick()'s).
 *
 * Usually unnecessary: hyp_vm_destroy() destroys the VM's vCPUs.
 *
 * Return: 0, and the handle is gone; -EBUSY if a vCPU of the VM was running (nothing destroyed).
 */
HYP_API int hyp_vcpu_destroy(struct hyp_vcpu *vcpu);

/** hyp_vcpu_index() - the vCPU's index in its VM; 0 for NULL. */
HYP_API uint32_t hyp_vcpu_index(const struct hyp_vcpu *vcpu);

/** hyp_vcpu_vm() - the VM a vCPU belongs to; NULL for NULL. */
HYP_API struct hyp_vm *hyp_vcpu_vm(const struct hyp_vcpu *vcpu);

/** Core registers (hyp_vcpu_get_reg()). */
enum hyp_reg {
	HYP_REG_X0 = 0,
	/* X1..X29 are HYP_REG_X0 + n. */
	HYP_REG_X30 = 30,
	HYP_REG_LR = HYP_REG_X30,
	/** SP_EL0, the stack pointer used at EL0 (and at EL1 with PSTATE.SP = 0). */
	HYP_REG_SP_EL0 = 31,
	HYP_REG_PC = 32,
	/** PSTATE in SPSR_EL2 layout (M[3:0], nRW, DAIF, NZCV...). */
	HYP_REG_PSTATE = 33,
	HYP_REG_SP_EL1 = 34,
	HYP_REG_ELR_EL1 = 35,
	HYP_REG_SPSR_EL1 = 36,
	HYP_REG_COUNT
};

/** Selects Xn in enum hyp_reg. */
#define HYP_REG_X(n) ((enum hyp_reg)(HYP_REG_X0 + (n)))

/** PSTATE values for entering an EL1 guest: EL1h with D, A, I, F masked (0x3c5). */
#define HYP_PSTATE_EL1H_DAIF 0x3c5ull

/**
 * hyp_vcpu_get_reg() - read a core register.
 * @vcpu: a vCPU that is not running (or the vCPU a callback was called for, from that callback).
 * @reg: enum hyp_reg.
 * @value: receives the value. Untouched on failure.
 *
 * Return: 0; -EINVAL for NULL or an unknown @reg; a backend error.
 */
HYP_API int hyp_vcpu_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value);

/**
 * hyp_vcpu_set_reg() - write a core register. Same rules as hyp_vcpu_get_reg().
 *
 * Writing PC between an exit and the next hyp_vcpu_run() cancels that exit's PC advance: the guest
 * resumes exactly at the new PC (MMIO read data and SMCCC results are still written). PSTATE must
 * name AArch64 EL0t, EL1t or EL1h and set no bit outside NZCV, TCO, DIT, UAO, PAN, SS, IL, ALLINT,
 * SSBS, BTYPE and DAIF: anything else is -EINVAL (a guest never runs at EL2 or in AArch32).
 */
HYP_API int hyp_vcpu_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value);

/**
 * hyp_vcpu_get_regs() - read several core registers in one call.
 * @vcpu: as for hyp_vcpu_get_reg().
 * @regs: @count register ids (enum hyp_reg), in any order; a register may appear more than once.
 * @values: receives the value of @regs[i] in @values[i]. Untouched on failure.
 * @count: the number of registers; 0 does nothing (@regs and @values may then be NULL).
 *
 * Every id is checked before any register is read. A backend with a batched accessor serves the
 * whole list in one round trip; kvm has no multi-register ioctl on arm64 (KVM_GET_REGS answers
 * -EINVAL there), so it still pays one KVM_GET_ONE_REG per register.
 *
 * Return: 0; -EINVAL for a NULL @vcpu, NULL @regs/@values with @count non-zero, or an unknown id
 * anywhere in @regs; -ENOTSUP if the backend cannot read one of them; a backend error.
 */
HYP_API int hyp_vcpu_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			      unsigned int count);

/**
 * hyp_vcpu_set_regs() - write several core registers in one call.
 * @vcpu: as for hyp_vcpu_get_reg().
 * @regs: @count register ids (enum hyp_reg); if one appears more than once, its last value wins.
 * @values: the value for @regs[i] in @values[i].
 * @count: the number of registers; 0 does nothing (@regs and @values may then be NULL).
 *
 * All or nothing: every id and value is checked (PSTATE as for hyp_vcpu_set_reg()) before any
 * register changes, so a bad entry anywhere leaves the vCPU as it was. Writing PC cancels the
 * pending PC advance as hyp_vcpu_set_reg() does. On kvm the registers are written with one
 * KVM_SET_ONE_REG each (there is no multi-register ioctl on arm64); if the host fails part-way,
 * the registers written before the failure keep their new values.
 *
 * Return: 0; -EINVAL for a NULL @vcpu, NULL @regs/@values with @count non-zero, an unknown id or
 * an invalid PSTATE anywhere in the list; -ENOTSUP if the backend cannot write one of them; a
 * backend error.
 */
HYP_API int hyp_vcpu_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs,
			      const uint64_t *values, unsigned int count);

/**
 * hyp_vcpu_get_sysreg() - read a system register by encoding (HYP_SYSREG(), libhyp/sysreg.h).
 * @vcpu: as for hyp_vcpu_get_reg().
 * @encoding: the register.
 * @value: receives the value. Untouched on failure.
 *
 * Return: 0; -EINVAL for NULL or an encoding with bits above 15; -ENOENT for a register the backend
 * does not hold; a backend error.
 */
HYP_API int hyp_vcpu_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value);

/** hyp_vcpu_set_sysreg() - write a system register. Same rules as hyp_vcpu_get_sysreg(); a
 *  read-only register (ID registers on some backends) gives -EPERM. */
HYP_API int hyp_vcpu_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value);

/**
 * struct hyp_fp_regs - the SIMD&FP register file.
 * @v: V0..V31, each as its 16 bytes in little-endian order (v[n][0] is bits [7:0] of Vn).
 * @fpsr: FPSR.
 * @fpcr: FPCR.
 */
struct hyp_fp_regs {
	uint8_t v[32][16];
	uint64_t fpsr;
	uint64_t fpcr;
};

/**
 * hyp_vcpu_get_fp_regs() - read a vCPU's SIMD&FP registers (all of them: one call, so a snapshot,
 * a debugger or an emulator pays one backend round trip).
 * @vcpu: as for hyp_vcpu_get_reg().
 * @regs: receives them. Untouched on failure.
 *
 * Return: 0; -EINVAL for NULL; -ENOTSUP if the backend does not expose them (kvm with SVE enabled
 * keeps them in the SVE registers); a backend error.
 */
HYP_API int hyp_vcpu_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs);

/** hyp_vcpu_set_fp_regs() - write a vCPU's SIMD&FP registers. Same rules as
 *  hyp_vcpu_get_fp_regs(). */
HYP_API int hyp_vcpu_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs);

/**
 * hyp_vcpu_run() - run a vCPU until an exit the caller must see.
 * @vcpu: the vCPU. Only one thread may run a given vCPU at a time.
 *
 * Completes the previous exit first (MMIO read data or sysreg value into the destination register,
 * SMCCC results into X0..X3, PC past the trapping instruction), then enters the guest. Exits that a
 * registered callback handles, and the built-in PSCI/SMCCC services, resume the guest without
 * returning. A powered-off vCPU waits inside this call until PSCI CPU_ON turns it on (then starts
 * at the requested entry point) or until hyp_vcpu_kick().
 *
 * Once a system event (PSCI SYSTEM_OFF/SYSTEM_RESET) has ended the VM, every vCPU's run returns
 * that HYP_EXIT_SYSTEM_EVENT (vCPUs inside run are kicked out) and never enters the guest again.
 *
 * Return: 0 with the exit in hyp_vcpu_exit(); -EINVAL for NULL; -EBUSY if the vCPU is already
 * running on another thread, or the VM is being reconfigured; a backend error (the exit record is
 * then unspecified; the mock returns -ENODATA when its script is exhausted; kvm returns
 * -HYP_EHOST(errno) when KVM_RUN itself fails, e.g. -HYP_EHOST(EFAULT) for guest RAM whose host
 * pages were unmapped).
 */
HYP_API int hyp_vcpu_run(struct hyp_vcpu *vcpu);

/**
 * hyp_vcpu_exit() - the record of the vCPU's last exit.
 * @vcpu: the vCPU.
 *
 * Return: the library-owned record, valid until the vCPU runs again; NULL for NULL. The caller may
 * write the fields documented as in/out in libhyp/exit.h.
 */
HYP_API struct hyp_exit *hyp_vcpu_exit(struct hyp_vcpu *vcpu);

/**
 * hyp_vcpu_log_state() - a diagnosis of the vCPU for a report (a watchdog that fired, a guest
 * that stopped making progress): what the backend knows of its state, logged through the VM's
 * log handler at HYP_LOG_WARNING, a line per item.
 * @vcpu: the vCPU.
 *
 * The el2 backend reports where the guest was (PC, PSTATE), its list registers, CPU-interface
 * state and virtual timer (read from the hardware when called on the CPU where the vCPU is
 * loaded, e.g. from the firmware's interrupt handler; lib/vgic's copies otherwise) and every
 * interrupt pending or active for it. Other backends say that they have no report. Safe from any
 * thread and at EL2 with interrupts masked; a running vCPU's values may be changing as they are
 * read. The text is for people, not a format to parse.
 */
HYP_API void hyp_vcpu_log_state(struct hyp_vcpu *vcpu);

/**
 * hyp_vcpu_kick() - make hyp_vcpu_run() return HYP_EXIT_KICKED as soon as possible.
 * @vcpu: the vCPU.
 *
 * Safe from any thread and from a signal handler (async-signal-safe: no locks, no allocation). If
 * the vCPU is not running, the next hyp_vcpu_run() returns HYP_EXIT_KICKED without entering the
 * guest. Kicks do not queue: several before a run give one HYP_EXIT_KICKED.
 *
 * Lifetime: a kick may still be returning (inside the backend) after the hyp_vcpu_run() it ended
 * has returned. hyp_vcpu_destroy() and hyp_vm_destroy() wait for such kicks before freeing
 * anything, so the usual shutdown, kick every vCPU (from any thread or a signal handler), join the
 * vCPU threads, destroy, is safe. What the caller must guarantee is that no kick *starts* after
 * the destroy call: stop watchdogs and disarm signal handlers that kick before destroying.
 *
 * Return: 0; -EINVAL for NULL.
 */
HYP_API int hyp_vcpu_kick(struct hyp_vcpu *vcpu);

/** Exceptions a VMM can inject (hyp_vcpu_inject_exception()). */
enum hyp_inject_kind {
	/** An Undefined Instruction exception at the trapping instruction. */
	HYP_INJECT_UNDEF = 1,
	/** A synchronous external data abort on the address given. */
	HYP_INJECT_DATA_ABORT,
	/** A synchronous external instruction abort on the address given. */
	HYP_INJECT_PREFETCH_ABORT,
};

/**
 * hyp_vcpu_inject_exception() - make the guest take a synchronous exception at EL1 instead of
 * completing its last exit.
 * @vcpu: a vCPU that is not running (or the vCPU of the callback calling this).
 * @kind: enum hyp_inject_kind.
 * @addr: the faulting address reported in FAR_EL1 for aborts; ignored for UNDEF. (The kvm backend
 *	  cannot choose it: KVM reports the address of the abort that caused the last exit.)
 *
 * This is how a VMM gives the architected answer to an access it refuses: the pending exit is not
 * completed (no register written, PC not advanced) and the guest enters its exception vector with
 * ELR_EL1 pointing at the trapping instruction. A callback that injects should return HYP_HANDLED.
 *
 * Return: 0; -EINVAL for NULL or an unknown @kind; -ENOTSUP if the backend cannot inject this kind
 * (see HYP_CAP_INJECT_EXCEPTIONS; kvm injects data aborts only).
 */
HYP_API int hyp_vcpu_inject_exception(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind,
				      uint64_t addr);

/**
 * hyp_vcpu_is_powered_on() - the vCPU's PSCI power state.
 *
 * Return: 1 if on (or being turned on), 0 if off, -EINVAL for NULL.
 */
HYP_API int hyp_vcpu_is_powered_on(const struct hyp_vcpu *vcpu);

HYP_END_DECLS

#endif /* LIBHYP_VCPU_H */
