/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend's per-vCPU state shared between C and the world switch (entry.S). Assembly
 * reaches it only through offsets generated from this header (asm-offsets.c), never by hand.
 */
#ifndef HYP_EL2_INTERNAL_H
#define HYP_EL2_INTERNAL_H

#include <libhyp/backend.h>

/* Why the guest stopped (struct hyp_el2_ctx.exit_kind): which vector was taken. */
#define HYP_EL2_EXIT_SYNC 0
#define HYP_EL2_EXIT_IRQ 1
#define HYP_EL2_EXIT_FIQ 2
#define HYP_EL2_EXIT_SERROR 3

/*
 * struct hyp_el2_ctx - what the world switch saves and restores on every entry and exit.
 * @regs: the guest's X0-X30, SP_EL0, PC (ELR_EL2) and PSTATE (SPSR_EL2).
 * @host_sp: the firmware's stack pointer while the guest runs (the frame holding its callee-saved
 *	     registers).
 * @esr, @far, @hpfar: the syndrome registers at the last exit.
 * @exit_kind: HYP_EL2_EXIT_*.
 */
struct hyp_el2_ctx {
	struct hyp_gp_regs regs;
	uint64_t host_sp;
	uint64_t esr;
	uint64_t far;
	uint64_t hpfar;
	uint64_t exit_kind;
};

/* entry.S: run the guest described by @ctx until it takes an exception to EL2. Installs the
 * backend's vectors for the duration and restores the firmware's VBAR_EL2 and TPIDR_EL2. */
void hyp__el2_enter_guest(struct hyp_el2_ctx *ctx);

/* Where hyp__el2_enter_guest()'s frame (at @host_sp while the guest runs) keeps the firmware's
 * TPIDR_EL2 and VBAR_EL2: byte offsets. */
#define HYP_EL2_FRAME_TPIDR 96
#define HYP_EL2_FRAME_VBAR 104

/* Called by entry.S on a guest synchronous exception (EL2 stack, interrupts masked, guest
 * registers and syndrome in @ctx): 1 if it handled the exit completely and the guest resumes at
 * once, 0 for the ordinary exit path. */
int hyp__el2_fast_exit(struct hyp_el2_ctx *ctx);

/* Called by entry.S when a physical IRQ interrupted the guest (EL2 stack, interrupts masked,
 * guest registers, PC, PSTATE and SP_EL0 in @ctx): 1 if the firmware's handler has taken it and
 * the guest resumes at once, 0 for the ordinary exit path. */
int hyp__el2_fast_irq(struct hyp_el2_ctx *ctx);

/* entry.S: FP/SIMD state (V0-V31, FPSR, FPCR): 32 * 16 + 16 bytes at @area. */
#define HYP_EL2_FP_AREA_SIZE (32 * 16 + 16)
void hyp__el2_save_fp(void *area);
void hyp__el2_load_fp(const void *area);

#endif /* HYP_EL2_INTERNAL_H */
