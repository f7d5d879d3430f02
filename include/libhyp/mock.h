/* SPDX-License-Identifier: MIT */
/*
 * The mock backend: unit-test a VMM without a hypervisor.
 *
 * A test creates a VM with backend "mock", maps memory, registers its callbacks, then scripts what
 * the guest "does" on each vCPU: each hyp_mock_push_*() queues one guest instruction that traps, at
 * the vCPU's current PC. hyp_vcpu_run() delivers the queued traps one by one as a real backend
 * would: a raw ESR/FAR/HPFAR syndrome, decoded by the same lib/trap code, dispatched to the same
 * callbacks and built-in PSCI/SMCCC services, completed on the mock's register file (destination
 * register written, PC advanced by 4). Then the test inspects the outcome: registers
 * (hyp_vcpu_get_reg()), memory (hyp_vm_read_guest()), interrupts (hyp_mock_irq_level()...) and
 * the exits run returned.
 *
 * When a vCPU's script is empty, hyp_vcpu_run() returns -ENODATA (nothing more for the guest to
 * do). A powered-off vCPU waits for CPU_ON like on a real backend, so multi-vCPU tests run each
 * vCPU on its own thread, or script CPU_ON before running the target.
 */
#ifndef LIBHYP_MOCK_H
#define LIBHYP_MOCK_H

#include <libhyp/exit.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Flags for struct hyp_mock_config. */
enum hyp_mock_flags {
	/** Report HYP_CAP_SYSREG_TRAPS as absent and refuse sysreg handlers, like KVM. */
	HYP_MOCK_NO_SYSREG_TRAPS = 1u << 0,
	/** Refuse read-only memory (HYP_CAP_READONLY_MEM = 0). */
	HYP_MOCK_NO_READONLY_MEM = 1u << 1,
	/** No interrupt controller (HYP_CAP_IRQ_INJECTION = 0). */
	HYP_MOCK_NO_IRQCHIP = 1u << 2,
};

/**
 * struct hyp_mock_config - optional settings, passed as hyp_vm_config.backend_config.
 * @size: sizeof(struct hyp_mock_config).
 * @flags: enum hyp_mock_flags.
 * @max_script_steps: the most steps queued per vCPU at once; 0 means 1024.
 */
struct hyp_mock_config {
	uint32_t size;
	uint32_t flags;
	uint32_t max_script_steps;
	uint32_t reserved;
};

/** Flags for hyp_mock_push_mmio(). */
enum hyp_mock_mmio_flags {
	HYP_MOCK_MMIO_WRITE = 1u << 0,
	/** Load sign-extends (LDRSB/LDRSH/LDRSW). */
	HYP_MOCK_MMIO_SIGN_EXTEND = 1u << 1,
	/** The transfer register is X (64-bit) rather than W. */
	HYP_MOCK_MMIO_REG64 = 1u << 2,
	/** Acquire/release (LDAR/STLR). */
	HYP_MOCK_MMIO_ACQ_REL = 1u << 3,
	/** The instruction gives no syndrome (ESR.ISS.ISV = 0, e.g. LDP/STP). */
	HYP_MOCK_MMIO_NO_SYNDROME = 1u << 4,
};

/**
 * hyp_mock_push_mmio() - the guest loads or stores @len bytes at @ipa with register @reg.
 * @vcpu: a mock vCPU.
 * @ipa: the accessed guest physical address.
 * @len: 1, 2, 4 or 8.
 * @reg: transfer register 0..31 (31 = XZR/WZR). For a store, set its value first with
 *	 hyp_vcpu_set_reg(); for a load, read it back after run.
 * @flags: enum hyp_mock_mmio_flags.
 *
 * Delivered as a stage-2 data abort (EC 0x24, translation fault) if @ipa is not mapped, or a
 * permission fault for a store to read-only memory. A load or store to mapped RAM does not trap
 * on real hardware, so the mock performs it on the mapped memory instead (little-endian, with the
 * same extension rules) and moves on to the next step.
 *
 * Return: 0; -EINVAL for NULL, a bad @len/@reg/@flags, an access beyond the VM's IPA space, or a
 * vCPU of another backend; -ENOSPC if the script is full.
 */
HYP_API int hyp_mock_push_mmio(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint32_t len, uint32_t reg,
			       uint32_t flags);

/**
 * hyp_mock_push_smccc() - the guest makes an SMCCC call: sets W0 = @function_id, X1..X7 = @args
 * (NULL means zeros) when the step is reached, then executes HVC or SMC #@imm.
 * @conduit: HYP_CONDUIT_HVC or HYP_CONDUIT_SMC.
 *
 * Return: as hyp_mock_push_mmio().
 */
HYP_API int hyp_mock_push_smccc(struct hyp_vcpu *vcpu, uint32_t conduit, uint16_t imm,
				uint32_t function_id, const uint64_t args[7]);

/**
 * hyp_mock_push_sysreg() - the guest executes MRS Xt, <reg> (@is_write false) or MSR <reg>, Xt
 * (@is_write true; set Xt first), and the access traps.
 * @encoding: HYP_SYSREG(...).
 * @reg: Xt, 0..31 (31 = XZR).
 *
 * Return: as hyp_mock_push_mmio().
 */
HYP_API int hyp_mock_push_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, bool is_write,
				 uint32_t reg);

/** hyp_mock_push_wfx() - the guest executes WFI (@is_wfe false) or WFE, and it traps. */
HYP_API int hyp_mock_push_wfx(struct hyp_vcpu *vcpu, bool is_wfe);

/**
 * hyp_mock_push_exec_fault() - the guest fetches an instruction from @ipa, which has no executable
 * memory: a stage-2 instruction abort.
 */
HYP_API int hyp_mock_push_exec_fault(struct hyp_vcpu *vcpu, hyp_ipa_t ipa);

/**
 * hyp_mock_push_raw() - deliver exactly this syndrome (any EC, any ISS, hostile values too).
 */
HYP_API int hyp_mock_push_raw(struct hyp_vcpu *vcpu, uint64_t esr, uint64_t far, uint64_t hpfar);

/** hyp_mock_script_length() - steps still queued on a vCPU; negative errno for a bad vCPU. */
HYP_API int hyp_mock_script_length(const struct hyp_vcpu *vcpu);

/** Interrupt state bits returned by hyp_mock_gic_irq_state(). */
enum hyp_mock_gic_state {
	HYP_MOCK_GIC_PENDING = 1u << 0,
	HYP_MOCK_GIC_ACTIVE = 1u << 1,
	HYP_MOCK_GIC_ENABLED = 1u << 2,
};

/**
 * hyp_mock_gic_irq_state() - an interrupt's state in libhyp's GIC, for a VM created with
 * hyp_vm_config.irqchip = HYP_IRQCHIP_LIBRARY.
 *
 * Such a mock VM runs lib/vgic with its software CPU interface: guest accesses to the distributor
 * and redistributors (hyp_mock_push_mmio() at the VM's gicd_base/gicr_base) and to the GIC CPU
 * interface registers (hyp_mock_push_sysreg() of ICC_IAR1_EL1, ICC_EOIR1_EL1, ICC_PMR_EL1,
 * ICC_IGRPEN1_EL1, ICC_SGI1R_EL1...: registered as sysreg handlers of the VM) are answered by it,
 * and hyp_vm_set_spi() / hyp_vcpu_set_ppi() / hyp_vcpu_raise_sgi() drive its lines (and are still
 * recorded for hyp_mock_irq_level()).
 * @vm: a mock VM.
 * @vcpu: the vCPU whose SGI/PPI (INTID < 32) is meant; ignored for SPIs.
 * @intid: the INTID.
 * Return: enum hyp_mock_gic_state bits (0: inactive, not pending, disabled); -EINVAL for a bad
 * argument or an INTID the GIC does not have; -ENOTSUP if the VM has no library GIC.
 */
HYP_API int hyp_mock_gic_irq_state(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu,
				   uint32_t intid);

/**
 * hyp_mock_gic_irq_line() - would the vCPU take an IRQ now: its CPU interface has a pending,
 * enabled interrupt of an enabled group above its priority mask and running priority (what a
 * real guest with PSTATE.I clear would be interrupted by).
 * Return: 1 or 0; -EINVAL for a bad vCPU; -ENOTSUP if its VM has no library GIC.
 */
HYP_API int hyp_mock_gic_irq_line(const struct hyp_vcpu *vcpu);

/**
 * hyp_mock_irq_level() - the level the VMM last drove on an interrupt line.
 * @vm: a mock VM.
 * @vcpu: the target vCPU for SGIs/PPIs (INTID < 32); ignored (may be NULL) for SPIs.
 * @intid: the INTID.
 *
 * Return: 1 if asserted (for an SGI: raised at least once), 0 if not; -EINVAL for a bad argument.
 */
HYP_API int hyp_mock_irq_level(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu,
			       uint32_t intid);

/** hyp_mock_irq_count() - how many times the line was asserted (SPI/PPI rising edges, SGI
 *  raises); negative errno for a bad argument. */
HYP_API int hyp_mock_irq_count(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu,
			       uint32_t intid);

/**
 * hyp_mock_last_injection() - the last exception the VMM injected into @vcpu with
 * hyp_vcpu_inject_exception(), as the guest would see it.
 * @esr: receives ESR_EL1. @far: receives FAR_EL1.
 *
 * Return: 1 if one was injected since the vCPU was created, 0 if not, negative errno.
 */
HYP_API int hyp_mock_last_injection(struct hyp_vcpu *vcpu, uint64_t *esr, uint64_t *far);

HYP_END_DECLS

#endif /* LIBHYP_MOCK_H */
