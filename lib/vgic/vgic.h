/* SPDX-License-Identifier: MIT */
/*
 * lib/vgic: a GICv3 for backends without their own (el2, mock).
 *
 * Pure logic, as every subsystem: no backend include, no core internals. Memory comes from the
 * caller's struct hyp_alloc_ops, and the one thing the vGIC asks of its environment is the
 * notify callback ("an interrupt became pending for vCPU n: kick or wake it"). Every function takes
 * and returns plain values (MMIO offsets and data, system register values, list register values),
 * so the unit tests run the whole thing on any host and the EL2 backend runs it unchanged; the
 * backend does the MMIO decoding, the MSR/MRS and the kicks.
 *
 * References are to the GICv3/v4 architecture specification (Arm IHI 0069), by section title:
 * "Interrupt handling state machine", "Affinity routing", "Interrupt prioritization",
 * "Software Generated Interrupts", "Virtual interrupt handling" (list registers), and the register
 * descriptions of the distributor (GICD_*), redistributor (GICR_*), CPU interface (ICC_*) and
 * virtualization control (ICH_*) registers.
 *
 * The model
 * ---------
 * - One distributor (64 KiB frame) and one redistributor per vCPU (128 KiB: RD_base, then SGI_base
 *   at +64 KiB), affinity routing always on (GICD_CTLR.ARE RAO/WI), and a single Security state
 *   (GICD_CTLR.DS RAO/WI, GICD_TYPER.SecurityExtn 0): what a guest at Non-secure EL1 needs, with
 *   Group 0 and Group 1 both usable through EnableGrp0/EnableGrp1, and IGRPMODR and NSACR RAZ/WI.
 *   No LPIs, no ITS, no message-based SPIs, no extended INTID ranges.
 * - SPIs: config.nr_spis, a multiple of 32 up to 960, or 988 (INTIDs 32..1019, the most GICv3 has).
 *   GICD_TYPER.ITLinesNumber says so; INTIDs beyond are RAZ/WI everywhere.
 * - 5 bits of priority (IPRIORITYR keeps bits [7:3]; bits [2:0] RAZ/WI), the minimum a virtual CPU
 *   interface implements (ICH_VTR_EL2.PRIbits >= 4), so list register priorities are exact on any
 *   hardware. The software CPU interface reports ICC_CTLR_EL1.PRIbits = 4 (5 bits) and has 32
 *   active priority levels (one ICC_AP<g>R0_EL1).
 * - Each interrupt: enabled, group, edge/level, priority, a software pending latch (edges,
 *   ISPENDR, SGIs), the input line (level interrupts: pending while high), active. Pending is
 *   "latch or (level and line)", so a level interrupt re-pends after deactivation while its line
 *   is high, and an edge latches once per rising edge.
 * - Reset values: every interrupt Group 1 (as KVM presents its vGICv3, so guests that never write
 *   IGROUPR work the same on both; the architecture leaves the reset value to the
 *   implementation), priority 0, SPIs and PPIs level and disabled, SGIs edge (ICFGR0 read-only)
 *   and enabled (as on KVM), IROUTER 0, GICR_WAKER.ProcessorSleep = 1, GICD_CTLR groups off.
 * - Routing: IROUTER with IRM = 0 names a vCPU by affinity (one that does not exist: the SPI is
 *   delivered to nobody until retargeted). IRM = 1 (1 of N): the lowest-numbered vCPU whose
 *   redistributor is awake (GICR_WAKER.ProcessorSleep = 0), else vCPU 0; the choice is made while
 *   the SPI is neither active nor in a list register, and kept until it is deactivated.
 * - Accesses of a width or alignment the spec does not allow for the register (GIC "memory-mapped
 *   register access" rules: 32-bit everywhere, 8-bit for IPRIORITYR, 64-bit or 32-bit halves for
 *   IROUTER and GICR_TYPER) are RAZ/WI and return HYP_VGIC_MMIO_BAD_ACCESS, so the backend can log
 *   or, if it prefers, inject an external abort instead. Reserved offsets are RAZ/WI at any
 *   aligned width and return 0.
 *
 * Locking
 * -------
 * The distributor state (every interrupt's state, routing, GICD_CTLR, each GICR_WAKER, which vCPU
 * an interrupt is pending for) is shared by all vCPUs, the VMM's threads and device models: one
 * spinlock per vGIC (C11 atomics, no scheduler needed, so the same code runs hosted and at EL2),
 * held only for short, bounded sections and never across a callback into the backend other than
 * notify. The per-vCPU CPU-interface state (struct hyp_vgic_cpu_state: PMR, EOImode, group
 * enables, active priorities; and the record of what the last flush put in the list registers) is
 * private to that vCPU and lock-free: hyp_vgic_flush(), hyp_vgic_sync(), hyp_vgic_cpu_state(),
 * hyp_vgic_icc_read()/hyp_vgic_icc_write() for the CPU-interface registers and
 * hyp_vgic_irq_line() must be called by the thread running that vCPU, or while it is stopped.
 * Everything else may be called from any thread.
 *
 * notify(opaque, vcpu) is called with the lock held whenever something changes for @vcpu that it
 * cannot see without looking again: an interrupt became deliverable to it (pending, enabled, not
 * active), or an interrupt its list registers hold became pending again or was changed by a
 * distributor write. It must not call back into the vGIC; kicking (hyp_vcpu_kick(), an SGI to
 * the physical CPU) or waking a sleeping vCPU is what it is for. It may name the calling vCPU
 * itself (the backend may ignore that: a vCPU re-evaluates after each of its own exits anyway, see
 * below). Folding list registers back at sync is not news and notifies nobody.
 *
 * How a backend uses it
 * ---------------------
 * - Create with hyp_vgic_create() (nr_vcpus = the VM's max_vcpus: the redistributor region holds
 *   that many frames, the last with GICR_TYPER.Last) and give each vCPU its MPIDR with
 *   hyp_vgic_set_mpidr() (default: hyp__default_mpidr(index)).
 * - MMIO: accesses to the distributor frame go to hyp_vgic_dist_read()/hyp_vgic_dist_write(),
 *   accesses to the redistributor region to hyp_vgic_redist_read()/hyp_vgic_redist_write(), with
 *   the offset in the frame or region, the width in bytes and the data.
 * - Trapped ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 / ICC_SGI0R_EL1 writes go to hyp_vgic_icc_write() (in
 *   both modes below).
 * - Interrupt sources: hyp_vgic_set_level() for device lines (SPIs, PPIs such as timers),
 *   hyp_vgic_raise() for an edge (an SGI from the VMM, a physical interrupt forwarded to the guest),
 *   hyp_vgic_map_hw() to tie a virtual interrupt to a physical one (list register HW bit).
 * - With hardware list registers (el2): after every exit, read ICH_LR<n>_EL2 (n < the count the
 *   last flush used) and ICH_HCR_EL2 into struct hyp_vgic_lrs and call hyp_vgic_sync(); before every
 *   entry call hyp_vgic_flush() with ICH_VTR_EL2.ListRegs + 1 and write back ICH_HCR_EL2 and all
 *   the LRs it returned. When ICH_HCR_EL2.TDIR is set by flush, a trapped ICC_DIR_EL1 write goes to
 *   hyp_vgic_deactivate(). On a vCPU switch, save/restore ICH_VMCR_EL2 and ICH_AP0R/AP1R<n>_EL2
 *   in hyp_vgic_cpu_state(). A maintenance interrupt needs no handling beyond the exit and sync.
 *   Cheaper forms for a vCPU whose LRs stay loaded: hyp_vgic_resync() (sync then flush under one
 *   lock), hyp_vgic_update() (news into free LRs, the empty ones, as ICH_ELRSR_EL2 says, folded
 *   back; -EAGAIN when only a resync will do) and, before WFI, hyp_vgic_fold_empty().
 * - Without list registers (mock): trap the ICC_* registers to hyp_vgic_icc_read()/
 *   hyp_vgic_icc_write() (the software CPU interface), and signal the vCPU's IRQ line when
 *   hyp_vgic_irq_line() says so.
 * - WFI: the vCPU may sleep until hyp_vgic_irq_line() is true (after a sync in LR mode; the
 *   notify callback wakes it when that may have changed).
 * - After every exit it handled (an MMIO access, an ICC_* trap, a sync), the vCPU's thread looks
 *   again (flush, or hyp_vgic_irq_line()): changes a vCPU makes itself are not notified to it.
 * - The CPU-interface state out of reset (PMR 0, groups off, BPRs at their minimum, no active
 *   priority) is valid to load into ICH_VMCR_EL2/ICH_AP<g>R<n>_EL2 for a vCPU's first entry.
 *
 * While an interrupt is in a loaded vCPU's list register (a vCPU running, asleep in a WFI that
 * does not trap, or stopped at an exit that left its list registers in place), the distributor's
 * view of its pending/active state (GICD_ISPENDR reads from other vCPUs, hyp_vgic_irq_info()) is
 * as of the last flush; the vCPU itself is synced before its own accesses are dispatched, so it
 * sees its own state exactly.
 */
#ifndef HYP_VGIC_VGIC_H
#define HYP_VGIC_VGIC_H

#include <libhyp/sysreg.h>
#include <libhyp/types.h>
#include <libhyp/vm.h>

struct hyp_vgic;

/* Limits. */
#define HYP_VGIC_MAX_VCPUS 512u
#define HYP_VGIC_MAX_SPIS 988u
#define HYP_VGIC_MAX_LRS 16u
#define HYP_VGIC_NR_PRIVATE 32u
/* Implemented priority bits (see the model above). */
#define HYP_VGIC_PRI_BITS 5u
#define HYP_VGIC_PRI_MASK 0xf8u
/* INTID read from ICC_IAR/HPPIR when nothing is pending ("spurious"). */
#define HYP_VGIC_INTID_SPURIOUS 1023u

/* Positive return of the MMIO functions: the width/alignment is not one the spec allows for the
 * register; the access was treated as RAZ/WI (reads return 0). */
#define HYP_VGIC_MMIO_BAD_ACCESS 1

/* GIC CPU interface system registers, as libhyp system register encodings (libhyp/sysreg.h). */
#define HYP_VGIC_ICC_PMR_EL1 HYP_SYSREG(3, 0, 4, 6, 0)
#define HYP_VGIC_ICC_IAR0_EL1 HYP_SYSREG(3, 0, 12, 8, 0)
#define HYP_VGIC_ICC_EOIR0_EL1 HYP_SYSREG(3, 0, 12, 8, 1)
#define HYP_VGIC_ICC_HPPIR0_EL1 HYP_SYSREG(3, 0, 12, 8, 2)
#define HYP_VGIC_ICC_BPR0_EL1 HYP_SYSREG(3, 0, 12, 8, 3)
#define HYP_VGIC_ICC_AP0R0_EL1 HYP_SYSREG(3, 0, 12, 8, 4) /* AP0R<n>: op2 = 4 + n */
#define HYP_VGIC_ICC_AP1R0_EL1 HYP_SYSREG(3, 0, 12, 9, 0) /* AP1R<n>: op2 = n */
#define HYP_VGIC_ICC_DIR_EL1 HYP_SYSREG(3, 0, 12, 11, 1)
#define HYP_VGIC_ICC_RPR_EL1 HYP_SYSREG(3, 0, 12, 11, 3)
#define HYP_VGIC_ICC_SGI1R_EL1 HYP_SYSREG(3, 0, 12, 11, 5)
#define HYP_VGIC_ICC_ASGI1R_EL1 HYP_SYSREG(3, 0, 12, 11, 6)
#define HYP_VGIC_ICC_SGI0R_EL1 HYP_SYSREG(3, 0, 12, 11, 7)
#define HYP_VGIC_ICC_IAR1_EL1 HYP_SYSREG(3, 0, 12, 12, 0)
#define HYP_VGIC_ICC_EOIR1_EL1 HYP_SYSREG(3, 0, 12, 12, 1)
#define HYP_VGIC_ICC_HPPIR1_EL1 HYP_SYSREG(3, 0, 12, 12, 2)
#define HYP_VGIC_ICC_BPR1_EL1 HYP_SYSREG(3, 0, 12, 12, 3)
#define HYP_VGIC_ICC_CTLR_EL1 HYP_SYSREG(3, 0, 12, 12, 4)
#define HYP_VGIC_ICC_SRE_EL1 HYP_SYSREG(3, 0, 12, 12, 5)
#define HYP_VGIC_ICC_IGRPEN0_EL1 HYP_SYSREG(3, 0, 12, 12, 6)
#define HYP_VGIC_ICC_IGRPEN1_EL1 HYP_SYSREG(3, 0, 12, 12, 7)

/* ICH_LR<n>_EL2 fields (IHI 0069, ICH_LR<n>_EL2). */
#define HYP_VGIC_LR_VINTID_MASK UINT64_C(0xffffffff)
#define HYP_VGIC_LR_PINTID_SHIFT 32 /* [44:32] when HW == 1 */
#define HYP_VGIC_LR_PINTID_MASK (UINT64_C(0x1fff) << 32)
#define HYP_VGIC_LR_EOI (UINT64_C(1) << 41) /* HW == 0: maintenance interrupt on deactivation */
#define HYP_VGIC_LR_PRIORITY_SHIFT 48
#define HYP_VGIC_LR_GROUP1 (UINT64_C(1) << 60)
#define HYP_VGIC_LR_HW (UINT64_C(1) << 61)
#define HYP_VGIC_LR_PENDING (UINT64_C(1) << 62)
#define HYP_VGIC_LR_ACTIVE (UINT64_C(1) << 63)

/* ICH_HCR_EL2 fields. */
#define HYP_VGIC_HCR_EN (UINT64_C(1) << 0)
#define HYP_VGIC_HCR_UIE (UINT64_C(1) << 1)
#define HYP_VGIC_HCR_LRENPIE (UINT64_C(1) << 2)
#define HYP_VGIC_HCR_NPIE (UINT64_C(1) << 3)
#define HYP_VGIC_HCR_TDIR (UINT64_C(1) << 14)
#define HYP_VGIC_HCR_EOICOUNT_SHIFT 27
#define HYP_VGIC_HCR_EOICOUNT_MASK (UINT64_C(0x1f) << 27)

/* ICH_VMCR_EL2 fields (the layout struct hyp_vgic_cpu_state.vmcr uses in both modes). */
#define HYP_VGIC_VMCR_VENG0 (UINT64_C(1) << 0)
#define HYP_VGIC_VMCR_VENG1 (UINT64_C(1) << 1)
#define HYP_VGIC_VMCR_VEOIM (UINT64_C(1) << 9)
#define HYP_VGIC_VMCR_VBPR1_SHIFT 18
#define HYP_VGIC_VMCR_VBPR0_SHIFT 21
#define HYP_VGIC_VMCR_VPMR_SHIFT 24

/**
 * struct hyp_vgic_ops - what the vGIC asks of the backend.
 * @notify: an interrupt became pending and enabled for @vcpu, or a distributor write changed an
 *	    interrupt held in @vcpu's list registers: make it exit (if running) and re-flush, or
 *	    wake it (if in WFI). Called with the vGIC lock held: must not call into the vGIC.
 *	    Required.
 * @deactivate_hw: optional. A HW-mapped interrupt (hyp_vgic_map_hw()) was deactivated in
 *	    software (not by the guest through a list register): deactivate physical INTID @pintid
 *	    (ICC_DIR_EL1 at EL2). Called with the lock held.
 * @opaque: passed to both.
 */
struct hyp_vgic_ops {
	void (*notify)(void *opaque, uint32_t vcpu);
	void (*deactivate_hw)(void *opaque, uint32_t pintid);
	void *opaque;
};

/**
 * struct hyp_vgic_config - the shape of the GIC.
 * @nr_vcpus: redistributors (1..HYP_VGIC_MAX_VCPUS): the VM's max_vcpus.
 * @nr_spis: SPIs: 0..960 in multiples of 32, or 988.
 * @ich_vtr: the CPU's ICH_VTR_EL2 when list registers are used (its PREbits give the layout of
 *	     ICH_AP<g>R<n>_EL2 in struct hyp_vgic_cpu_state); 0 for the software CPU interface.
 * @alloc: where the vGIC's memory comes from (required; read during create only, the ops struct
 *	   itself must stay valid until destroy).
 * @ops: callbacks (copied).
 */
struct hyp_vgic_config {
	uint32_t nr_vcpus;
	uint32_t nr_spis;
	uint64_t ich_vtr;
	const struct hyp_alloc_ops *alloc;
	struct hyp_vgic_ops ops;
};

/**
 * struct hyp_vgic_cpu_state - a vCPU's CPU-interface state, owned by that vCPU.
 * @vmcr: ICH_VMCR_EL2: VPMR, VBPR0/1, VEOIM, VENG0/1.
 * @ap0r: ICH_AP0R<n>_EL2 (active Group 0 priorities).
 * @ap1r: ICH_AP1R<n>_EL2 (active Group 1 priorities).
 *
 * With list registers the backend restores these to the hardware when it loads the vCPU and saves
 * them back when it puts it; the software CPU interface keeps its state here in the same layout
 * (one APR word: 32 levels for 5 priority bits).
 */
struct hyp_vgic_cpu_state {
	uint64_t vmcr;
	uint64_t ap0r[4];
	uint64_t ap1r[4];
};

/**
 * struct hyp_vgic_lrs - list register values between the vGIC and the backend.
 * @hcr: flush: ICH_HCR_EL2 to write; sync: ICH_HCR_EL2 as read on exit (EOIcount).
 * @nr: flush: how many LRs (from 0) hold an interrupt; sync: ignored (the vGIC remembers).
 * @lr: flush: ICH_LR<n>_EL2 values for every LR of the CPU (0 beyond @nr); sync: the values read
 *	back, at least the first @nr the flush used.
 */
struct hyp_vgic_lrs {
	uint64_t hcr;
	uint32_t nr;
	uint64_t lr[HYP_VGIC_MAX_LRS];
};

/**
 * struct hyp_vgic_irq_info - one interrupt as the distributor sees it (tests, mock inspection).
 * @pending: pending (latch, or level line high), as the distributor last knew it.
 * @active: active.
 * @enabled: enabled.
 * @group1: Group 1 (else Group 0).
 * @edge: edge-triggered (else level-sensitive).
 * @line: the input line level.
 * @hw: mapped to a physical interrupt.
 * @priority: priority (bits [7:3]).
 * @target: the vCPU it is delivered to; UINT32_MAX if none.
 */
struct hyp_vgic_irq_info {
	bool pending, active, enabled, group1, edge, line, hw;
	uint8_t priority;
	uint32_t target;
};

/**
 * hyp_vgic_create() - a vGIC in its reset state.
 * @config: the shape (read during the call).
 * @ret: the vGIC; untouched on failure.
 * Return: 0; -EINVAL for a NULL pointer, no notify callback, or a count out of range; -ENOMEM.
 */
int hyp_vgic_create(const struct hyp_vgic_config *config, struct hyp_vgic **ret);

/** hyp_vgic_destroy() - free a vGIC (NULL: nothing). No other call may be running on it. */
void hyp_vgic_destroy(struct hyp_vgic *vgic);

/**
 * hyp_vgic_set_mpidr() - the affinity vCPU @vcpu answers to (GICR_TYPER, IROUTER, SGI targets).
 * Only MPIDR_EL1.Aff3..Aff0 are used. A vCPU that holds the affinity by default only (never given
 * one) gives it up and answers to none (GICR_TYPER reads all-ones affinity) until it is given its
 * own, so vCPUs can swap affinities one call at a time. Return: 0; -EINVAL for a bad vCPU index;
 * -EEXIST if another vCPU was given the same affinity.
 */
int hyp_vgic_set_mpidr(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t mpidr);

/**
 * hyp_vgic_dist_read() - a guest read of the distributor frame.
 * @vcpu: the accessing vCPU; @offset: in the 64 KiB frame; @len: 1, 2, 4 or 8; @val: the data.
 * Return: 0; HYP_VGIC_MMIO_BAD_ACCESS (RAZ, see above); -EINVAL for @offset/@len outside the
 * frame or a bad vCPU index (a backend bug: @val untouched).
 */
int hyp_vgic_dist_read(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
		       uint64_t *val);
/** hyp_vgic_dist_write() - a guest write of the distributor frame (as hyp_vgic_dist_read()). */
int hyp_vgic_dist_write(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			uint64_t val);
/**
 * hyp_vgic_redist_read() - a guest read of the redistributor region.
 * @offset: in the region (nr_vcpus * 128 KiB): frame n belongs to vCPU n, whatever its MPIDR.
 * Otherwise as hyp_vgic_dist_read().
 */
int hyp_vgic_redist_read(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			 uint64_t *val);
/** hyp_vgic_redist_write() - a guest write of the redistributor region. */
int hyp_vgic_redist_write(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t offset, unsigned int len,
			  uint64_t val);
/**
 * hyp_vgic_mmio() - one guest access to the distributor (@redist false) or the redistributor
 * region (@redist true), as a backend's MMIO handler receives it: a write of *@data, or a read
 * into *@data (0 when the frame answers the access with an error). Returns what the read or write
 * function returned.
 */
int hyp_vgic_mmio(struct hyp_vgic *vgic, uint32_t vcpu, bool redist, uint64_t offset,
		  unsigned int len, bool is_write, uint64_t *data);

/**
 * hyp_vgic_set_level() - drive an interrupt line (PPI 16..31 of @vcpu, or SPI; @vcpu ignored).
 * A level-sensitive interrupt is pending while the line is high; an edge-triggered one latches
 * pending on each rising edge. Return: 0; -EINVAL for an SGI, an INTID beyond the SPIs or a bad
 * vCPU index.
 */
int hyp_vgic_set_level(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid, bool level);

/**
 * hyp_vgic_raise() - make an interrupt pending as an edge would (like a GICD_ISPENDR write): an SGI
 * or PPI of @vcpu, or an SPI. Return: 0; -EINVAL as hyp_vgic_set_level().
 */
int hyp_vgic_raise(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid);

/**
 * hyp_vgic_map_hw() - tie virtual PPI/SPI @intid to physical INTID @pintid (16..1019), so that a
 * list register carries HW = 1 and the guest's deactivation deactivates the physical interrupt;
 * @pintid 0 removes the tie. The backend raises the virtual interrupt (hyp_vgic_raise()) each time
 * the physical one is taken (and left active) at EL2: the physical GIC does the level re-sampling.
 * Removing the tie of an interrupt that is active deactivates the physical one (deactivate_hw);
 * a list register that still holds it with HW = 1 keeps it until the vCPU's next exit.
 * Return: 0; -EINVAL for a bad INTID, @pintid or vCPU index.
 */
int hyp_vgic_map_hw(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid, uint32_t pintid);

/**
 * hyp_vgic_irq_info() - the distributor's view of one interrupt (SGI/PPI of @vcpu, or an SPI).
 * Return: 0; -EINVAL for a bad INTID or vCPU index (@out untouched).
 */
int hyp_vgic_irq_info(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid,
		      struct hyp_vgic_irq_info *out);

/**
 * hyp_vgic_flush() - fill the list registers for entering @vcpu.
 * @nr_lrs: the CPU's list registers (ICH_VTR_EL2.ListRegs + 1; at most HYP_VGIC_MAX_LRS used).
 * @out: ICH_HCR_EL2 and every LR value to write.
 *
 * When every active and deliverable pending interrupt fits, all are listed, in INTID order (the
 * CPU interface takes the highest priority among the LRs whatever their order). When they do not:
 * active interrupts first (a guest must be able to EOI/deactivate what it acknowledged; one LR is
 * kept for pending interrupts when any are pending), then the highest-priority pending ones
 * (lowest value, then lowest INTID), each group best first. If pending interrupts are left over, NPIE asks for a
 * maintenance interrupt once the guest has taken every listed one; if active ones are left over,
 * LRENPIE counts their EOIs (folded in by sync) and TDIR traps ICC_DIR_EL1 to EL2. Level
 * interrupts carry the EOI bit, so their deactivation exits and the line is sampled again.
 * Each flush should be followed by a sync; a flush without one treats the previous LRs as
 * untouched by the guest.
 */
void hyp_vgic_flush(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs,
		    struct hyp_vgic_lrs *out);

/**
 * hyp_vgic_sync() - fold the list registers read back after an exit into the interrupt states.
 * @in: ICH_HCR_EL2 and ICH_LR<n>_EL2 (n < the count the last flush used) as read.
 */
void hyp_vgic_sync(struct hyp_vgic *vgic, uint32_t vcpu, const struct hyp_vgic_lrs *in);

/**
 * hyp_vgic_resync() - hyp_vgic_sync() of @in then hyp_vgic_flush() into @out, in one step: what a
 * backend does when something changed for a vCPU whose list registers are loaded (after an exit
 * it served in place). Cheaper than the two calls: one lock, and the fold's changes for @vcpu
 * itself are listed at once instead of notified. @in and @out may be the same struct.
 */
void hyp_vgic_resync(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs,
		     const struct hyp_vgic_lrs *in, struct hyp_vgic_lrs *out);

/**
 * hyp_vgic_update() - the cheap form of hyp_vgic_resync() for a vCPU whose list registers are
 * loaded, when something changed for it: list what became deliverable into free list registers,
 * leaving the others as they are.
 * @nr_lrs: the CPU's list registers, as for hyp_vgic_flush().
 * @hcr: ICH_HCR_EL2 as the guest left it.
 * @empty: ICH_ELRSR_EL2: the LRs that hold no interrupt (state inactive, and HW 1 or EOI 0).
 * @out: the values of the LRs to write (bit n of the result set: write @out->lr[n]); @out->nr,
 *	 how many LRs (from 0) the next sync must read; @out->hcr, @hcr (unchanged).
 *
 * The empty LRs are folded back (what hyp_vgic_sync() would do with them) and become free, except
 * that an interrupt pending again is listed again in its own LR; the rest keep their interrupts.
 * The new candidates go into free LRs; the CPU interface picks the highest priority among all
 * LRs, so this delivers what a full flush would as long as every candidate fits. It answers
 * -EAGAIN, with nothing to write (what it listed is taken back as if the guest had not run; some
 * empty LRs may have been folded, which the next sync or resync skips), when only
 * hyp_vgic_resync() will do: @hcr is
 * not plain En (maintenance requested, or EOIs the hardware could not match), an interrupt an
 * occupied LR holds changed (pending again, a distributor write), or a candidate finds no free
 * LR (which candidates get the LRs is flush's choice). -EINVAL for a bad argument. Like flush,
 * on the vCPU's own thread.
 */
int hyp_vgic_update(struct hyp_vgic *vgic, uint32_t vcpu, unsigned int nr_lrs, uint64_t hcr,
		    uint32_t empty, struct hyp_vgic_lrs *out);

/**
 * hyp_vgic_fold_empty() - fold back the list registers of a loaded vCPU that hold nothing any more
 * (before a WFI judges hyp_vgic_irq_line()).
 * @hcr: ICH_HCR_EL2 as the guest left it; @empty: ICH_ELRSR_EL2 (see hyp_vgic_update()).
 * @nr: if not NULL, how many LRs (from 0) the next sync must read.
 *
 * Returns true if nothing is listed any more: the vGIC's state is then as after hyp_vgic_sync()
 * (and the LRs need no sync: they hold nothing). False if some LRs still hold interrupts, or @hcr
 * is not plain En (then nothing was folded): hyp_vgic_sync() is needed. On the vCPU's thread.
 */
bool hyp_vgic_fold_empty(struct hyp_vgic *vgic, uint32_t vcpu, uint64_t hcr, uint32_t empty,
			 uint32_t *nr);

/**
 * hyp_vgic_deactivate() - deactivate @intid for @vcpu in software (a trapped ICC_DIR_EL1 under
 * ICH_HCR_EL2.TDIR). Nothing happens for an interrupt that is not active. Return: 0; -EINVAL.
 */
int hyp_vgic_deactivate(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t intid);

/** hyp_vgic_cpu_state() - @vcpu's CPU-interface state (see struct hyp_vgic_cpu_state); NULL for a
 *  bad index. */
struct hyp_vgic_cpu_state *hyp_vgic_cpu_state(struct hyp_vgic *vgic, uint32_t vcpu);

/**
 * hyp_vgic_icc_read() - a read of a GIC CPU interface register by @vcpu (software CPU interface).
 * @reg: a HYP_VGIC_ICC_* encoding. Reading ICC_IAR<g>_EL1 acknowledges an interrupt.
 * Return: 0; -ENOENT if @reg is not one of them, or is write-only (the backend answers UNDEF);
 * -EINVAL for a bad vCPU index.
 */
int hyp_vgic_icc_read(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t reg, uint64_t *val);

/**
 * hyp_vgic_icc_write() - a write of a GIC CPU interface register by @vcpu. ICC_SGI1R_EL1,
 * ICC_ASGI1R_EL1 and ICC_SGI0R_EL1 generate SGIs (used with list registers too); the rest is the
 * software CPU interface. Return: as hyp_vgic_icc_read() (-ENOENT for read-only registers).
 */
int hyp_vgic_icc_write(struct hyp_vgic *vgic, uint32_t vcpu, uint32_t reg, uint64_t val);

/**
 * hyp_vgic_irq_line() - would @vcpu's CPU interface signal an interrupt now: the highest-priority
 * pending, enabled interrupt for it has its group enabled (distributor and CPU interface), a
 * priority above ICC_PMR_EL1 and above the running priority. The IRQ (or FIQ, Group 0) line of the
 * software CPU interface, and the WFI wake-up condition in both modes.
 */
bool hyp_vgic_irq_line(struct hyp_vgic *vgic, uint32_t vcpu);

#endif /* HYP_VGIC_VGIC_H */
