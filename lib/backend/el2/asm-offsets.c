/* SPDX-License-Identifier: MIT */
/*
 * Structure offsets for entry.S. Compiled to assembly only (never linked): each DEFINE leaves a
 * "->NAME value" marker that gen-asm-offsets.py turns into asm-offsets.h, so the assembly always
 * agrees with the C layout.
 */
#include <stddef.h>

#include "el2-internal.h"

#define DEFINE(sym, val) __asm__ volatile("\n.ascii \"->" #sym " %0\"" : : "i"(val))

void hyp__el2_asm_offsets(void);

void hyp__el2_asm_offsets(void)
{
	DEFINE(CTX_X0, offsetof(struct hyp_el2_ctx, regs.x[0]));
	DEFINE(CTX_X30, offsetof(struct hyp_el2_ctx, regs.x[30]));
	DEFINE(CTX_SP_EL0, offsetof(struct hyp_el2_ctx, regs.sp_el0));
	DEFINE(CTX_PC, offsetof(struct hyp_el2_ctx, regs.pc));
	DEFINE(CTX_PSTATE, offsetof(struct hyp_el2_ctx, regs.pstate));
	DEFINE(CTX_HOST_SP, offsetof(struct hyp_el2_ctx, host_sp));
	DEFINE(CTX_ESR, offsetof(struct hyp_el2_ctx, esr));
	DEFINE(CTX_FAR, offsetof(struct hyp_el2_ctx, far));
	DEFINE(CTX_HPFAR, offsetof(struct hyp_el2_ctx, hpfar));
	DEFINE(CTX_EXIT_KIND, offsetof(struct hyp_el2_ctx, exit_kind));
	DEFINE(EXIT_SYNC, HYP_EL2_EXIT_SYNC);
	DEFINE(EXIT_IRQ, HYP_EL2_EXIT_IRQ);
	DEFINE(EXIT_FIQ, HYP_EL2_EXIT_FIQ);
	DEFINE(EXIT_SERROR, HYP_EL2_EXIT_SERROR);
	DEFINE(FRAME_TPIDR, HYP_EL2_FRAME_TPIDR);
	DEFINE(FRAME_VBAR, HYP_EL2_FRAME_VBAR);
}
