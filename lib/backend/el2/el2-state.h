/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend's C-side state, shared by its files: el2.c (VM and vCPU objects, the run loop,
 * the ops table) and el2-context.c (switching a vCPU's EL1 and FP/SIMD state in and out of the
 * physical CPU, and register access wherever that state currently lives). The part entry.S sees
 * is el2-internal.h.
 */
#ifndef HYP_EL2_STATE_H
#define HYP_EL2_STATE_H

#include <libhyp/el2.h>

#include "internal.h"
#include "backend/el2/el2-internal.h"
#include "stage2/stage2.h"
#include "timer/timer.h"
#include "vgic/vgic.h"

#define read_sysreg(reg)                                                                           \
	({                                                                                         \
		uint64_t v_;                                                                       \
		__asm__ volatile("mrs %0, " #reg : "=r"(v_));                                      \
		v_;                                                                                \
	})
#define write_sysreg(v, reg) __asm__ volatile("msr " #reg ", %0" : : "r"((uint64_t)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

/* HCR_EL2 (Arm ARM D19.2.46): stage 2 on, AArch64 EL1, physical interrupts to EL2, set/way
 * invalidation upgraded to clean+invalidate, broadcast TLB/IC maintenance and inner-shareable
 * barriers (vCPUs of one VM run on several CPUs), SMC and WFI (and WFE) trapped. */
#define HCR_VM (1ull << 0)
#define HCR_SWIO (1ull << 1)
#define HCR_FMO (1ull << 3)
#define HCR_IMO (1ull << 4)
#define HCR_AMO (1ull << 5)
#define HCR_FB (1ull << 9)
#define HCR_BSU_IS (1ull << 10)
#define HCR_TWI (1ull << 13)
#define HCR_TWE (1ull << 14)
#define HCR_TID3 (1ull << 18)
#define HCR_TSC (1ull << 19)
#define HCR_RW (1ull << 31)
#define HCR_E2H (1ull << 34)

/* CPTR_EL2 (non-VHE): RES1 bits, FP/SIMD not trapped (TFP = 0), SVE (TZ) and SME (TSM) trapped:
 * their state is not switched here. */
#define CPTR_EL2_VALUE 0x33ffull
/* CNTHCTL_EL2 (non-VHE): EL1 may read the physical counter (EL1PCTEN) but its physical timer
 * traps (EL1PCEN = 0): the CPU's physical timer is the firmware's. */
#define CNTHCTL_EL2_VALUE 0x1ull

/* MDCR_EL2: guest accesses to the debug registers (TDA, TDOSA, TDRA) and the PMU (TPM, TPMCR) trap:
 * that state is per physical CPU and not switched, so one VM could otherwise read or plant
 * another's breakpoints and counters. HPMN [4:0] is kept as the firmware set it. */
#define MDCR_EL2_TRAPS ((1ull << 11) | (1ull << 10) | (1ull << 9) | (1ull << 6) | (1ull << 5))

/* The EL1 (and EL0) system registers a guest owns, switched with the vCPU. */
#define EL1_SYSREGS(X)                                                                             \
	X(SCTLR_EL1, sctlr_el1)                                                                    \
	X(CPACR_EL1, cpacr_el1)                                                                    \
	X(TTBR0_EL1, ttbr0_el1)                                                                    \
	X(TTBR1_EL1, ttbr1_el1)                                                                    \
	X(TCR_EL1, tcr_el1)                                                                        \
	X(ESR_EL1, esr_el1)                                                                        \
	X(AFSR0_EL1, afsr0_el1)                                                                    \
	X(AFSR1_EL1, afsr1_el1)                                                                    \
	X(FAR_EL1, far_el1)                                                                        \
	X(MAIR_EL1, mair_el1)                                                                      \
	X(AMAIR_EL1, amair_el1)                                                                    \
	X(VBAR_EL1, vbar_el1)                                                                      \
	X(CONTEXTIDR_EL1, contextidr_el1)                                                          \
	X(TPIDR_EL0, tpidr_el0)                                                                    \
	X(TPIDRRO_EL0, tpidrro_el0)                                                                \
	X(TPIDR_EL1, tpidr_el1)                                                                    \
	X(PAR_EL1, par_el1)                                                                        \
	X(CNTKCTL_EL1, cntkctl_el1)                                                                \
	X(SP_EL1, sp_el1)                                                                          \
	X(ELR_EL1, elr_el1)                                                                        \
	X(SPSR_EL1, spsr_el1)                                                                      \
	X(CSSELR_EL1, csselr_el1)                                                                  \
	X(MDSCR_EL1, mdscr_el1)

enum el1_sysreg_index {
#define X(name, asmname) EL1_##name,
	EL1_SYSREGS(X)
#undef X
		EL1_NR_SYSREGS
};

/* The per-physical-CPU words libhyp keeps in struct hyp_el2_cpu: the loaded vCPU, and the
 * CNTHP deadline last asked of the platform for it (set_wakeup). */
enum { CPU_LOADED_VCPU = 0, CPU_WAKEUP = 1 };

/* The SPIs of lib/vgic's GIC: as many as the kvm backend gives KVM's (256 INTIDs). */
#define EL2_NR_SPIS 224u

struct el2_vm {
	struct hyp_el2_config cfg;
	struct hyp_el2_platform platform;
	struct hyp_s2 s2;
	uint64_t hcr, vtcr, vttbr, vpidr;
	uint32_t vmid;
	/* HYP_IRQCHIP_LIBRARY: lib/vgic and lib/timer; NULL vgic: no interrupt controller. */
	struct hyp_vgic *vgic;
	struct hyp_timer_vm timer;
	uint32_t nr_lrs;  /* ICH_VTR_EL2.ListRegs + 1 */
	uint32_t nr_aprs; /* ICH_AP<g>R<n>_EL2 registers per group */
	/* Serialises the dirty log's stage-2 changes (write-protection faults on any vCPU, the
	 * VMM's enable and fetch): lib/stage2 is not safe against itself. */
	atomic_flag s2_lock;
	/* Host interrupts assigned to the VM (hyp_vm_assign_irq()): physical SPI -> the VM's SPI.
	 * Written under assign_lock, read locklessly by hyp_vm_host_irq() (each entry is one
	 * 32-bit word: physical INTID << 16 | virtual INTID; 0 = free). */
	_Atomic uint32_t assigned[HYP_MAX_ASSIGNED_IRQS];
	atomic_flag assign_lock;
	/* The platform's kick_sgi: libhyp sends and takes the kick SGI @kick_intid itself. */
	bool own_kick;
	uint32_t kick_intid;
};

struct el2_vcpu {
	struct hyp_el2_ctx ctx; /* first: entry.S's context pointer is the el2_vcpu's too */
	struct hyp_vcpu *vcpu;
	/* What the fast path did with the exit the ordinary path is now returning (HYP__FAST_*). */
	int fast_result;
	uint64_t el1[EL1_NR_SYSREGS];
	uint64_t vmpidr;
	/* The physical CPU whose hardware holds this vCPU's EL1 and FP/SIMD state, or NULL, and
	 * that CPU's MPIDR_EL1 (a cheap way to tell, on entry, whether it is this CPU). */
	struct hyp_el2_cpu *_Atomic loaded_on;
	_Atomic uint64_t loaded_mpidr; /* read by other CPUs to kick this one */
	/* Interrupt state (VMs with lib/vgic). @vgic_dirty: something changed for this vCPU
	 * (notify, or its own GIC access): sync and flush the list registers before it runs.
	 * @lrs_in_hw: the last flush is in ICH_LR<n>_EL2 / ICH_HCR_EL2 and not synced yet.
	 * @lrs_parked: ...with ICH_HCR_EL2 saved in @parked_hcr and zeroed (an ordinary exit: no
	 * maintenance interrupt may stay asserted while EL2 runs, and nothing may need folding
	 * back before the vCPU runs again). */
	struct hyp_timer_vcpu timer;
	_Atomic bool vgic_dirty;
	bool lrs_in_hw;
	bool lrs_parked;
	bool lrs_hw; /* an LR in the hardware holds a host interrupt (HW = 1): never parked */
	uint64_t parked_hcr;
	uint32_t lrs_used;
	uint64_t wfi_sleeps; /* WFIs that slept (the idle proof: a sleeping vCPU loops this) */
	/* Whether PPI 27 is masked at the physical GIC as far as this vCPU last told the platform
	 * (-1: unknown; the firmware's own handler may have masked it). */
	int vtimer_masked;
	/* WFI has just synced the virtual timer and armed the deadline: the entry need not. */
	bool timers_fresh;
	/* The debug registers MDCR_EL2 traps (MDCR_EL2_TRAPS), kept here (lib/trap). */
	struct hyp_trap_debug_regs debug;
	uint8_t fp[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));
};

/* A built-in backend reaches its state directly (internal.h) rather than through the exported
 * accessors: these run on every exit. */
static inline struct el2_vm *el2_vm(struct hyp_vm *vm)
{
	return vm->backend_state;
}

static inline struct el2_vcpu *el2_vcpu(struct hyp_vcpu *vcpu)
{
	return vcpu->backend_state;
}

static inline struct hyp_el2_cpu *this_cpu(const struct el2_vm *m)
{
	return m->platform.this_cpu(m->platform.opaque);
}

/* Interrupt physical CPU @cpu, where vCPU @v is loaded (the kick): the firmware's kick SGI sent
 * here if the platform gave it (kick_sgi), else its kick_cpu. */
static inline void hyp__el2_kick_cpu(const struct el2_vm *m, const struct el2_vcpu *v,
				     struct hyp_el2_cpu *cpu)
{
	if (m->own_kick) {
		/* ICC_SGI1R_EL1 (IHI 0069): TargetList [15:0] (Aff0 % 16), Aff1 [23:16], INTID
		 * [27:24], Aff2 [39:32], RS [47:44] (Aff0 / 16), Aff3 [55:48]. */
		uint64_t mpidr = atomic_load_explicit(&v->loaded_mpidr, memory_order_relaxed);
		uint64_t aff0 = mpidr & 0xff;
		uint64_t sgi = UINT64_C(1) << (aff0 & 15) | ((mpidr >> 8) & 0xff) << 16 |
			       (uint64_t)m->kick_intid << 24 | ((mpidr >> 16) & 0xff) << 32 |
			       (aff0 >> 4) << 44 | ((mpidr >> 32) & 0xff) << 48;

		/* What the CPU is to look at must be visible before the interrupt is. */
		dsb(ishst);
		write_sysreg(sgi, S3_0_C12_C11_5);
		isb(); /* sent now, not at the next context synchronisation */
	} else if (m->platform.kick_cpu) {
		m->platform.kick_cpu(m->platform.opaque, cpu);
	}
}

/* A trapped MSR to ICC_SGI1R_EL1 (op2 5), ICC_ASGI1R_EL1 (6) or ICC_SGI0R_EL1 (7): its ISS
 * (ESR_EL2, EC 0x18) with Rt and Op2 masked out. */
#define ICC_SGIR_ISS_MASK 0x31fc1fu
#define ICC_SGIR_ISS_MATCH (3u << 20 | 12u << 10 | 11u << 1)

/* el2-irq.c: lib/vgic and lib/timer on this CPU's GIC virtual interface and timers. */
int hyp__el2_irq_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config);
void hyp__el2_irq_vm_destroy(struct hyp_vm *vm);
void hyp__el2_irq_vcpu_init(struct hyp_vcpu *vcpu);
void hyp__el2_irq_load(struct el2_vcpu *v);
void hyp__el2_irq_put(struct el2_vcpu *v);
void hyp__el2_irq_quiesce(void);
void hyp__el2_irq_reset(struct el2_vcpu *v);
void hyp__el2_irq_before_entry(struct el2_vcpu *v);
void hyp__el2_irq_after_exit(struct el2_vcpu *v);
void hyp__el2_vgic_sync_hw(struct el2_vcpu *v);
void hyp__el2_vgic_refill_hw(struct el2_vcpu *v);
bool hyp__el2_irq_sysreg(struct el2_vcpu *v, uint32_t iss);
bool hyp__el2_irq_sgi(struct el2_vcpu *v, uint32_t iss);
void hyp__el2_irq_wfi(struct el2_vcpu *v);
void hyp__el2_irq_host(struct el2_vcpu *v);
void hyp__el2_vcpu_log_state(struct hyp_vcpu *vcpu);
int hyp__el2_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			uint32_t intid, bool level);
int hyp__el2_timer_reg(struct el2_vcpu *v, uint32_t encoding, uint64_t *value, bool write);
int hyp__el2_assign_irq(struct hyp_vm *vm, uint32_t host_irq, uint32_t intid);
int hyp__el2_host_irq(struct hyp_vm *vm, uint32_t host_irq);

/* The firmware's code ran (its IRQ handler, or anything between runs): what libhyp last asked of
 * the physical GIC may no longer hold, and time has passed. */
static inline void hyp__el2_irq_forget_masks(struct el2_vcpu *v)
{
	v->vtimer_masked = -1;
	v->timers_fresh = false;
}

/* The fast path's look after a handled exit: flush what changed for the vCPU in place. */
static inline void hyp__el2_irq_refresh(struct el2_vcpu *v)
{
	if (__builtin_expect(atomic_load_explicit(&v->vgic_dirty, memory_order_relaxed), 0)) {
		atomic_store_explicit(&v->vgic_dirty, false, memory_order_relaxed);
		hyp__el2_vgic_refill_hw(v);
	}
}

/* el2-context.c */
void hyp__el2_reset_state(struct hyp_vcpu *vcpu);
void hyp__el2_unload_cpu(struct hyp_el2_cpu *cpu);
int hyp__el2_load_vcpu(struct hyp_vcpu *vcpu, struct hyp_el2_cpu *cpu);
int hyp__el2_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value);
int hyp__el2_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value);
int hyp__el2_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs);
int hyp__el2_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs);
int hyp__el2_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
		      unsigned int count);
int hyp__el2_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
		      unsigned int count);

#endif /* HYP_EL2_STATE_H */
