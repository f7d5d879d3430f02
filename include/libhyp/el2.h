/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend: libhyp linked into bare-metal firmware that owns EL2 (an RTOS partitioning
 * firmware, a boot loader, a test harness). libhyp provides the exception vectors, the world
 * switch, stage-2 translation (lib/stage2), VMIDs and the exit path; the firmware provides the
 * platform: memory for page tables, the identity of the calling CPU, and an inter-processor
 * interrupt to kick a CPU out of its guest.
 *
 * Model: vCPUs are pinned. A vCPU runs on the physical CPU that calls hyp_vcpu_run() for it, and
 * that CPU runs nothing else at EL1: the vCPU's EL1 system registers and FP/SIMD registers stay
 * in the hardware between runs and are switched only when another vCPU runs on that CPU. The
 * firmware must be built without FP/SIMD use at EL2 (-mgeneral-regs-only) and run with
 * HCR_EL2.E2H = 0 (non-VHE). While a guest runs, libhyp's vector table is installed in VBAR_EL2;
 * the firmware's is restored on every return.
 *
 * Between runs the firmware must leave alone what the backend set up for the guest on that CPU:
 * HCR_EL2, VTCR_EL2, VTTBR_EL2, VPIDR_EL2, VMPIDR_EL2, CPTR_EL2, CNTHCTL_EL2, CNTVOFF_EL2, the
 * EL1 system registers and the FP/SIMD registers (they are reloaded only when another vCPU is
 * loaded there). The EL2 physical timer (CNTHP_*, PPI 26) is the firmware's: libhyp never uses
 * it, so it is the natural watchdog.
 *
 * Destroy a vCPU (or its VM) on the physical CPU it ran on, or while that CPU runs no vCPU: the
 * CPU saves the loaded vCPU's state when it loads another one.
 *
 * MMIO and SMCCC callbacks registered with hyp_vm_add_mmio_handler()/hyp_vm_add_smccc_handler()
 * are called straight from libhyp's exception vector, at EL2 with interrupts masked, on the stack
 * of the hyp_vcpu_run() call (below its frame), before the guest is re-entered: they must not
 * block or take an exception, and should be short (a pending kick is seen when they return).
 * The guest's ID registers (HCR_EL2.TID3) are answered there too: features this backend traps
 * (SVE, SME, MTE, PMU, SPE, trace, AMU, MPAM) read as not implemented.
 *
 * Physical interrupts are routed to EL2 while a guest runs (HCR_EL2.IMO/FMO/AMO): one that
 * arrives makes the guest exit, libhyp calls the platform's @handle_irq, and the guest resumes
 * (or hyp_vcpu_run() returns HYP_EXIT_KICKED if it was a kick).
 *
 * Interrupt controller: HYP_IRQCHIP_AUTO and HYP_IRQCHIP_LIBRARY give the VM libhyp's GICv3
 * (lib/vgic, 224 SPIs, distributor and redistributors at the VM's gicd_base/gicr_base, served
 * in place like MMIO callbacks; the ranges are registered as MMIO handlers of the VM) delivered
 * through the GIC's virtual CPU interface (ICH_LR<n>_EL2), and the EL1 timers (lib/timer): the
 * virtual timer runs in the hardware while the vCPU is loaded, the physical timer is emulated
 * (CNTHCTL_EL2.EL1PCEN = 0) with a software deadline. HYP_IRQCHIP_NONE gives no GIC (and
 * HYP_IRQCHIP_BACKEND is refused: there is no other). A VM with the GIC needs the platform's
 * @handle_irq, @set_ppi_masked and @set_wakeup (without them AUTO means NONE and LIBRARY is
 * -ENOTSUP), and the firmware's GIC must:
 * - deliver PPI 25 (GIC maintenance interrupt) and PPI 27 (EL1 virtual timer) to EL2 as Group 1
 *   interrupts once libhyp unmasks them with @set_ppi_masked; its @handle_irq acknowledges and
 *   EOIs them like any other (libhyp has dealt with their cause before calling it), and should
 *   mask PPI 27 itself if it takes it while no guest runs (the timer of a loaded vCPU that fired
 *   between runs: libhyp unmasks it again when the vCPU next runs);
 * - run with ICC_SRE_EL2.Enable = 1 (EL1 uses the system register interface).
 * A device can be passed through: its MMIO mapped with hyp_vm_map(), its physical SPI given to
 * the VM with hyp_vm_assign_irq() (delivered with the list register HW bit; the firmware's
 * handler drops the priority only, EOImode 1, and calls hyp_vm_host_irq()). With no SMMU, a VM
 * that owns a DMA-capable device must have its RAM mapped IPA == PA.
 * A vCPU's WFI then sleeps in libhyp (WFI at EL2 with the next timer deadline armed through
 * @set_wakeup) until an interrupt the vCPU can take is pending, or it is kicked; the VMM sees no
 * WFI exits. With HYP_EL2_NATIVE_WFI it does not trap at all: the guest's own WFI sleeps. WFE
 * exits as before (unless HYP_EL2_NATIVE_WFE).
 */
#ifndef LIBHYP_EL2_H
#define LIBHYP_EL2_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Per-physical-CPU storage libhyp needs; the firmware keeps one per CPU (zeroed). */
struct hyp_el2_cpu {
	uint64_t opaque[8];
};

/**
 * struct hyp_el2_platform - what the embedding firmware provides. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_el2_platform).
 * @kick_sgi: HYP_EL2_KICK_SGI(n) if @kick_cpu sends Group 1 SGI n and taking it is all the
 *	      firmware does with it while a guest runs (0: not so). libhyp then sends it itself
 *	      (a DSB, then ICC_SGI1R_EL1 to the vCPU's physical CPU) and, when a physical IRQ
 *	      stops a guest, acknowledges it itself (ICC_IAR1_EL1): SGI n it ends there
 *	      (ICC_EOIR1_EL1, then ICC_DIR_EL1 under ICC_CTLR_EL1.EOImode 1), any other
 *	      interrupt goes to @handle_acked_irq (one interrupt per IRQ exception: the others
 *	      stay pending and stop the guest again; a spurious read, 1020..1023, calls nothing).
 *	      @kick_cpu is then not called. A kick costs neither side a call into the firmware.
 *	      The SGI is addressed by the target CPU's MPIDR: Aff0 above 15 needs the GIC's
 *	      range selector support (ICC_CTLR_EL1.RSS). Needs @handle_acked_irq.
 * @alloc_pages: return @count physically contiguous, 4 KiB aligned pages, or NULL. Used for
 *		 stage-2 tables. Any CPU may call it (keep it reentrant or lock it).
 * @free_pages: give back a block from @alloc_pages.
 * @virt_to_phys: the physical address of firmware memory at @va; NULL means identity mapping.
 * @phys_to_virt: the reverse; NULL means identity mapping.
 * @this_cpu: the calling physical CPU's struct hyp_el2_cpu (required).
 * @kick_cpu: make the physical CPU owning @cpu take an IRQ exception at EL2 soon (an SGI):
 *	      how hyp_vcpu_kick() and PSCI interrupt a running guest. NULL: kicks only take
 *	      effect when the guest next exits on its own. The caller's earlier stores must be
 *	      visible to that CPU before the interrupt is (a DSB before the ICC_SGI1R_EL1 write).
 * @handle_irq: called on the guest's CPU, at EL2 with interrupts masked, when a physical IRQ
 *		interrupted the guest or woke a sleeping vCPU: acknowledge and handle it (e.g. the
 *		kick SGI). For VMs with libhyp's GIC it is usually called straight from libhyp's
 *		exception vector, deeper on the stack hyp_vcpu_run() runs on, with the firmware's
 *		TPIDR_EL2 and VBAR_EL2 in place for the call and the guest's registers readable;
 *		the guest resumes right after it unless a kick or system event needs
 *		hyp_vcpu_run() to return. It may raise interrupts and kick vCPUs; it must not run,
 *		reset or destroy a vCPU or VM, block, switch context or unmask interrupts. What it
 *		leaves in TPIDR_EL2 and VBAR_EL2 is kept. Required for a VM with libhyp's GIC.
 * @opaque: passed to every callback.
 * @set_ppi_masked: (VMs with libhyp's GIC) mask (@masked) or unmask PPI @intid (25: GIC
 *		    maintenance, 27: EL1 virtual timer) for the calling CPU at the physical GIC
 *		    (GICR_ICENABLER0 / GICR_ISENABLER0 of its redistributor). Called on the vCPU's
 *		    CPU at EL2 with interrupts masked, often: skip the write if nothing changes.
 * @set_wakeup: (VMs with libhyp's GIC) make the calling CPU take an IRQ at EL2 once CNTPCT_EL0
 *		reaches @deadline (0: no longer needed): the emulated EL1 physical timer of the
 *		vCPU running there, or the end of its WFI. The firmware merges it with its own use
 *		of its timer (e.g. CNTHP, PPI 26). Called only when the deadline changes.
 * @handle_acked_irq: (with @kick_sgi) handle interrupt @intid, which libhyp has acknowledged
 *		      where @handle_irq would have: as @handle_irq would handle it after its
 *		      own ICC_IAR1_EL1 read, ending it too; called as @handle_irq is.
 *
 * Except @handle_irq and @handle_acked_irq, the callbacks may be called from libhyp's exception
 * vector while a guest's exit is served in place, with TPIDR_EL2 and VBAR_EL2 still libhyp's:
 * find per-CPU data another way (e.g. from MPIDR_EL1). The firmware must not reserve X18: a guest's X18 may still be in it.
 */
struct hyp_el2_platform {
	uint32_t size;
	uint32_t kick_sgi;
	void *(*alloc_pages)(void *opaque, unsigned int count);
	void (*free_pages)(void *opaque, void *pages, unsigned int count);
	hyp_pa_t (*virt_to_phys)(void *opaque, void *va);
	void *(*phys_to_virt)(void *opaque, hyp_pa_t pa);
	struct hyp_el2_cpu *(*this_cpu)(void *opaque);
	void (*kick_cpu)(void *opaque, struct hyp_el2_cpu *cpu);
	void (*handle_irq)(void *opaque);
	void *opaque;
	void (*set_ppi_masked)(void *opaque, uint32_t intid, bool masked);
	void (*set_wakeup)(void *opaque, uint64_t deadline);
	void (*handle_acked_irq)(void *opaque, uint32_t intid);
};

/** struct hyp_el2_platform.kick_sgi for SGI @n (0..15). */
#define HYP_EL2_KICK_SGI(n) (0x80000000u | (uint32_t)(n))

/** Flags for struct hyp_el2_config. */
enum hyp_el2_flags {
	/** Let WFE execute natively instead of trapping. */
	HYP_EL2_NATIVE_WFE = 1u << 0,
	/**
	 * Let WFI (and WFIT) execute natively instead of trapping, in a VM with libhyp's GIC
	 * (ignored without it: WFI keeps trapping, as a native one could wait for nothing). For
	 * vCPUs that have their physical CPU to themselves, as in a partitioning firmware: a vCPU
	 * in WFI keeps its CPU until an interrupt ends the wait, so a firmware that shares a CPU
	 * between vCPUs should leave this off and get the CPU back at each WFI. What ends the
	 * wait is what ends a trapped one: a virtual interrupt in the list registers the guest can
	 * take (the hardware ends the wait itself), and, taken to EL2 as physical interrupts and
	 * listed there: the kick IPI (hyp_vcpu_kick(), an interrupt made pending by another CPU),
	 * the virtual timer's PPI, the @set_wakeup deadline of the emulated physical timer, and
	 * the maintenance interrupt that asks for more when more interrupts are pending than the
	 * list registers hold. While the virtual timer's PPI is masked (its interrupt pending or
	 * being handled) WFI traps as without the flag. It saves the exit and the sleep at EL2:
	 * the SGI round trip of the interrupt benchmark is almost half as long.
	 */
	HYP_EL2_NATIVE_WFI = 1u << 1,
};

/**
 * struct hyp_el2_config - el2 backend settings, passed as hyp_vm_config.backend_config
 * (required: there is no platform to guess).
 * @size: sizeof(struct hyp_el2_config).
 * @flags: enum hyp_el2_flags.
 * @platform: the firmware's services; must stay valid for the VM's lifetime.
 * @vmid: the VM's VMID, 1..255 (or 1..65535 where ID_AA64MMFR1_EL1.VMIDBits says 16 bits are
 *	  implemented). VMIDs are the firmware's static partition configuration: each live VM
 *	  needs its own.
 */
struct hyp_el2_config {
	uint32_t size;
	uint32_t flags;
	const struct hyp_el2_platform *platform;
	uint32_t vmid;
	uint32_t reserved;
};

HYP_END_DECLS

#endif /* LIBHYP_EL2_H */
