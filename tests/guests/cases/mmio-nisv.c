/* SPDX-License-Identifier: MIT */
/*
 * mmio-nisv: device accesses whose instruction gives the hypervisor no syndrome.
 *
 * A stage-2 data abort reports the access (size, register, sign extension) in ESR_EL2.ISS only
 * for single-register loads and stores without writeback; for LDP/STP and the pre/post-index
 * forms ISV is 0 (Arm ARM D17.2.37, ESR_ELx "ISV"). The hypervisor would have to decode the
 * instruction itself. libhyp refuses to guess: the VMM sees HYP_EXIT_MEM_FAULT with
 * HYP_FAULT_NO_SYNDROME, and the driver answers with an external data abort
 * (hyp_vcpu_inject_exception(HYP_INJECT_DATA_ABORT)). What must never happen is a silent
 * half-emulation: registers written, the base register updated, or the device seeing a write.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

#define SENTINEL_A 0x5555aaaa5555aaaaull
#define SENTINEL_B 0x3333cccc3333ccccull

struct outcome {
	uint64_t insn_addr; /* where the instruction under test is */
	uint64_t r1, r2;    /* the transfer registers after it */
	uint64_t base;	    /* the base register after it */
};

static void expect_refused(const char *what, const struct outcome *o, uint64_t addr, bool is_write,
			   uint64_t foreign_before, uint64_t scratch_before)
{
	struct lht_abort ab = lht_abort_take();
	char name[112];
	uint64_t esr;

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": the guest took exactly one data abort"), ab.count, 1);
	lht_check_eq(NAME(": ESR_EL1.EC = data abort from EL1 (0x25)"), ESR_EC(ab.esr),
		     ESR_EC_DABT_CUR);
	lht_check_eq(NAME(": ESR_EL1.DFSC = synchronous external abort (0x10)"), ESR_DFSC(ab.esr),
		     DFSC_SEA);
	lht_check_depends(LHT_DEPENDS_ESR_UPPER_CLEAR);
	lht_check_eq(NAME(": ESR_EL1[63:32] clear"), ab.esr >> 32, 0);
	lht_check_eq(NAME(": FAR_EL1 = the address"), ab.far, addr);
	lht_check_eq(NAME(": ELR_EL1 = the instruction"), ab.elr, o->insn_addr);
	lht_check_eq(NAME(": first register untouched"), o->r1, SENTINEL_A);
	lht_check_eq(NAME(": second register untouched"), o->r2, SENTINEL_B);
	lht_check_eq(NAME(": base register not written back"), o->base, addr);
	lht_check_eq(NAME(": the VMM saw one exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT),
		     foreign_before + 1);
	lht_check_eq(NAME(": ... reported as an access without syndrome"),
		     lht_reg_read(LHT_REG_FOREIGN_TYPE), LHT_FOREIGN_NO_SYNDROME);
	lht_check_eq(NAME(": ... at the right IPA"), lht_reg_read(LHT_REG_FOREIGN_IPA), addr);
	lht_check_eq(NAME(": ... in the right direction"), lht_reg_read(LHT_REG_FOREIGN_WRITE),
		     is_write);
	lht_check_eq(NAME(": ... answered with an abort"), lht_reg_read(LHT_REG_FOREIGN_ANSWER),
		     LHT_ANSWER_ABORT);
	esr = lht_reg_read(LHT_REG_FOREIGN_ESR);
	if (esr == ~0ull) {
		lht_skip(NAME(": the VMM's raw ESR_EL2"), "the backend gave no raw ESR");
	} else {
		/* The raw syndrome the VMM gets is ESR_EL2 of a data abort from EL1 (a lower EL
		 * for EL2): EC 0x24, ISV (bit 24) clear, WnR (bit 6) the direction. */
		lht_check_eq(NAME(": the VMM's raw ESR_EL2.EC = 0x24"), ESR_EC(esr), 0x24);
		lht_check_eq(NAME(": the VMM's raw ESR_EL2.ISV = 0"), (esr >> 24) & 1, 0);
		lht_check_eq(NAME(": the VMM's raw ESR_EL2.WnR = the direction"), (esr >> 6) & 1,
			     is_write);
	}
	lht_check_eq(NAME(": the device saw no write"), lht_reg_read(LHT_REG_SCRATCH_COUNT),
		     scratch_before);
#undef NAME
}

/* Each instruction under test sits at a local label whose address we take, so ELR can be checked.
 * X19/X20 are the transfer registers (preset to sentinels), X21 the base. */
#define RUN(insn, o, addr)                                                                         \
	__asm__ volatile("mov x19, %[sa]\n\t"                                                      \
			 "mov x20, %[sb]\n\t"                                                      \
			 "mov x21, %[a]\n\t"                                                       \
			 "adr %[pc], 1f\n"                                                         \
			 "1:\t" insn "\n\t"                                                        \
			 "mov %[r1], x19\n\t"                                                      \
			 "mov %[r2], x20\n\t"                                                      \
			 "mov %[b], x21"                                                           \
			 : [pc] "=&r"((o)->insn_addr), [r1] "=&r"((o)->r1), [r2] "=&r"((o)->r2),   \
			   [b] "=&r"((o)->base)                                                    \
			 : [sa] "r"(SENTINEL_A), [sb] "r"(SENTINEL_B), [a] "r"(addr)               \
			 : "x19", "x20", "x21", "memory")

static void one(const char *what, const char *skip_reason, bool is_write, uint64_t addr,
		void (*run)(struct outcome *, uint64_t))
{
	uint64_t foreign = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	uint64_t scratch = lht_reg_read(LHT_REG_SCRATCH_COUNT);
	struct outcome o;

	if (skip_reason) {
		lht_skip(what, skip_reason);
		return;
	}
	lht_expect_abort();
	run(&o, addr);
	expect_refused(what, &o, addr, is_write, foreign, scratch);
}

static void run_ldp(struct outcome *o, uint64_t a)
{
	RUN("ldp x19, x20, [x21]", o, a);
}
static void run_stp(struct outcome *o, uint64_t a)
{
	RUN("stp x19, x20, [x21]", o, a);
}
static void run_ldr_post(struct outcome *o, uint64_t a)
{
	RUN("ldr x19, [x21], #8", o, a);
}
static void run_str_pre(struct outcome *o, uint64_t a)
{
	RUN("str x19, [x21, #16]!", o, a - 16);
	/* The pre-index form accesses base + 16: report the base as it was before. */
	o->base += 16;
}
static void run_ldrsb_post(struct outcome *o, uint64_t a)
{
	RUN("ldrsb x19, [x21], #1", o, a);
}

void guest_main(void)
{
	uint64_t caps = lht_caps();
	const char *skip = NULL;

	if (!(caps & LHT_CAP_NO_SYNDROME))
		skip = "the backend cannot report accesses without syndrome "
		       "(HYP_CAP_NO_SYNDROME_EXITS = 0): hyp_vcpu_run() fails instead";
	else if (!(caps & LHT_CAP_INJECT_DABT))
		skip = "the backend cannot inject a data abort (HYP_CAP_INJECT_EXCEPTIONS), so "
		       "the VMM has no architected answer";

	one("LDP X19, X20 from the device", skip, false, LHT_SCRATCH_BASE + 0x40, run_ldp);
	one("STP X19, X20 to the device", skip, true, LHT_SCRATCH_BASE + 0x80, run_stp);
	one("LDR X19 post-index from the device", skip, false, LHT_SCRATCH_BASE + 0xc0,
	    run_ldr_post);
	one("STR X19 pre-index to the device", skip, true, LHT_SCRATCH_BASE + 0x110, run_str_pre);
	one("LDRSB X19 post-index from the device", skip, false, LHT_SCRATCH_BASE + 0x151,
	    run_ldrsb_post);
	/* The device is still usable afterwards. */
	lht_check_eq("a plain LDR after the refused accesses works",
		     mmio_read64(LHT_SCRATCH_BASE + 0x208), lht_scratch_value(0x208, 8));
}
