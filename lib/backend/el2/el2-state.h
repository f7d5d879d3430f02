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
	X(MDSCR_EL1, mdscr_el1)                                                                    \
	X(CNTV_CTL_EL0, cntv_ctl_el0)                                                              \
	X(CNTV_CVAL_EL0, cntv_cval_el0)

enum el1_sysreg_index {
#define X(name, asmname) EL1_##name,
	EL1_SYSREGS(X)
#undef X
		EL1_NR_SYSREGS
};

/* The per-physical-CPU words libhyp keeps in struct hyp_el2_cpu. */
enum { CPU_LOADED_VCPU = 0 };

struct el2_vm {
	struct hyp_el2_config cfg;
	struct hyp_el2_platform platform;
	struct hyp_s2 s2;
	uint64_t hcr, vtcr, vttbr, vpidr;
	uint32_t vmid;
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
	uint64_t loaded_mpidr;
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
