/* SPDX-License-Identifier: MIT */
/*
 * mmio-nisv: device accesses whose instruction gives the hypervisor no syndrome.
 *
 * A stage-2 data abort reports the access (size, register, sign extension) in ESR_EL2.ISS only
 * for single-register loads and stores without writeback; for LDP/STP, the pre/post-index forms
 * and the rest ISV is 0 (Arm ARM D17.2.37, ESR_ELx "ISV"). libhyp fetches and decodes such an
 * instruction itself and performs it through the device's MMIO callback. This guest runs every
 * form twice, on a buffer in RAM (where the CPU does it) and on the test device's memory window
 * (where libhyp does it), and checks that registers, the written-back base and the memory agree:
 * the CPU is the reference.
 *
 * Forms a device cannot honour (exclusives, atomics) get the architected answer instead: the
 * VMM sees HYP_FAULT_NO_SYNDROME and the driver injects an external data abort. What must never
 * happen there is a silent half-emulation: registers written, the base updated, a device write.
 */
#include "rt/gic.h"
#include "rt/rt.h"

/* vCPU 1 spins in the guest while vCPU 0 makes the GIC accesses: on kvm the library must get it
 * out of KVM_RUN for each of them, and it must go on afterwards. */
LHT_GUEST(.nr_vcpus = 2);

static volatile uint64_t spins, stop_spinning;

void guest_secondary(unsigned int index, uint64_t context_id)
{
	(void)index;
	(void)context_id;
	while (!__atomic_load_n(&stop_spinning, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&spins, 1, __ATOMIC_RELAXED);
}

#define SENTINEL_A 0x5555aaaa5555aaaaull
#define SENTINEL_B 0x3333cccc3333ccccull
#define INDEX_VALUE 0xfffffffeull /* W22 = -2, X22 = 2^32 - 2 */

/* The window part both runs use: [WIN_LO, WIN_HI) around the base offset. */
#define WIN_LO 0x100u
#define WIN_HI 0x400u
#define BASE_OFF 0x200u

static uint8_t twin[LHT_MEMWIN_SIZE] __attribute__((aligned(4096)));

struct outcome {
	uint64_t r1, r2; /* X19, X20 after the instruction */
	uint64_t base;	 /* X21 after it */
};

/* X19/X20 transfer registers (preset to sentinels), X21 the base, X22 an index register. */
#define RUN(insn, o, addr)                                                                         \
	__asm__ volatile(                                                                          \
		"mov x19, %[sa]\n\t"                                                               \
		"mov x20, %[sb]\n\t"                                                               \
		"mov x21, %[a]\n\t"                                                                \
		"mov x22, %[ix]\n\t" insn "\n\t"                                                   \
		"mov %[r1], x19\n\t"                                                               \
		"mov %[r2], x20\n\t"                                                               \
		"mov %[b], x21"                                                                    \
		: [r1] "=&r"((o)->r1), [r2] "=&r"((o)->r2), [b] "=&r"((o)->base)                   \
		: [sa] "r"(SENTINEL_A), [sb] "r"(SENTINEL_B), [a] "r"(addr), [ix] "r"(INDEX_VALUE) \
		: "x19", "x20", "x21", "x22", "memory")

#define FORM(fn, insn)                                                                             \
	static void fn(struct outcome *o, uint64_t a)                                              \
	{                                                                                          \
		RUN(insn, o, a);                                                                   \
	}

FORM(ldp_x, "ldp x19, x20, [x21]")
FORM(ldp_w_off, "ldp w19, w20, [x21, #8]")
FORM(ldpsw_neg, "ldpsw x19, x20, [x21, #-8]")
FORM(ldpsw_post, "ldpsw x19, x20, [x21], #8")
FORM(stp_x_off, "stp x19, x20, [x21, #16]")
FORM(stp_w_pre, "stp w19, w20, [x21, #-16]!")
FORM(ldp_x_post, "ldp x19, x20, [x21], #32")
FORM(stp_x_pre, "stp x19, x20, [x21, #-32]!")
FORM(ldnp_x, "ldnp x19, x20, [x21, #64]")
FORM(stnp_w, "stnp w19, w20, [x21]")
FORM(ldr_x_post, "ldr x19, [x21], #8")
FORM(ldr_w_pre, "ldr w19, [x21, #-4]!")
FORM(ldrh_post, "ldrh w19, [x21], #-2")
FORM(ldrb_pre, "ldrb w19, [x21, #255]!")
FORM(ldrsb_x_post, "ldrsb x19, [x21], #1")
FORM(ldrsb_w_pre, "ldrsb w19, [x21, #-1]!")
FORM(ldrsh_w_pre, "ldrsh w19, [x21, #2]!")
FORM(ldrsh_x_post, "ldrsh x19, [x21], #-256")
FORM(ldrsw_post, "ldrsw x19, [x21], #4")
FORM(str_x_pre, "str x19, [x21, #16]!")
FORM(str_w_post, "str w19, [x21], #-4")
FORM(strb_post, "strb w19, [x21], #-1")
FORM(strh_pre, "strh w19, [x21, #6]!")
FORM(ldr_reg_lsl, "ldr x19, [x21, x22, lsl #3]")
FORM(ldr_reg_sxtw, "ldr w19, [x21, w22, sxtw #2]")
FORM(ldrsh_reg_sxtw, "ldrsh x19, [x21, w22, sxtw]")
FORM(strh_reg_sxtw, "strh w19, [x21, w22, sxtw #1]")
FORM(ldur_neg, "ldur x19, [x21, #-8]")
FORM(stur_w, "stur w19, [x21, #12]")

/* SIMD&FP forms, as words (the guests build with -mgeneral-regs-only): the loaded register is
 * copied to X19/X20 afterwards, the stored one filled from X19/X20 before. V0/V1 are free: the
 * runtime never uses FP. */
#define FMOV_X19_D0 ".inst 0x9e660013\n\t"
#define MOV_X20_V0D1 ".inst 0x4e183c14\n\t"
#define MOV_X20_V1D1 ".inst 0x4e183c34\n\t"
#define FMOV_D0_X19 ".inst 0x9e670260\n\t"
#define MOV_V0D1_X20 ".inst 0x4e181e80\n\t"
#define FMOV_D1_X20 ".inst 0x9e670281\n\t"
#define MOV_V1D1_X19 ".inst 0x4e181e61\n\t"
FORM(ldr_q_post, ".inst 0x3cc106a0\n\t" FMOV_X19_D0 MOV_X20_V0D1) /* ldr q0, [x21], #16 */
FORM(ldp_q, ".inst 0xad4006a0\n\t" FMOV_X19_D0 MOV_X20_V1D1)	  /* ldp q0, q1, [x21] */
FORM(stp_q_off, FMOV_D0_X19 MOV_V0D1_X20 FMOV_D1_X20 MOV_V1D1_X19
     ".inst 0xad0106a0")					 /* stp q0, q1, [x21, #32] */
FORM(ldr_d_off, ".inst 0xfd4006a0\n\t" FMOV_X19_D0 MOV_X20_V0D1) /* ldr d0, [x21, #8] */
FORM(str_s_post, FMOV_D0_X19 ".inst 0xbc1fc6a0")		 /* str s0, [x21], #-4 */
FORM(ldur_q, ".inst 0x3cdf02a0\n\t" FMOV_X19_D0 MOV_X20_V0D1)	 /* ldur q0, [x21, #-16] */
FORM(stp_s_pre, FMOV_D0_X19 FMOV_D1_X20 ".inst 0x2dbf06a0")	 /* stp s0, s1, [x21, #-8]! */

struct form {
	const char *name;
	void (*run)(struct outcome *, uint64_t);
};

static const struct form forms[] = {
	{ "LDP X19, X20, [X21]", ldp_x },
	{ "LDP W19, W20, [X21, #8]", ldp_w_off },
	{ "LDPSW X19, X20, [X21, #-8]", ldpsw_neg },
	{ "LDPSW X19, X20, [X21], #8", ldpsw_post },
	{ "STP X19, X20, [X21, #16]", stp_x_off },
	{ "STP W19, W20, [X21, #-16]!", stp_w_pre },
	{ "LDP X19, X20, [X21], #32", ldp_x_post },
	{ "STP X19, X20, [X21, #-32]!", stp_x_pre },
	{ "LDNP X19, X20, [X21, #64]", ldnp_x },
	{ "STNP W19, W20, [X21]", stnp_w },
	{ "LDR X19, [X21], #8", ldr_x_post },
	{ "LDR W19, [X21, #-4]!", ldr_w_pre },
	{ "LDRH W19, [X21], #-2", ldrh_post },
	{ "LDRB W19, [X21, #255]!", ldrb_pre },
	{ "LDRSB X19, [X21], #1", ldrsb_x_post },
	{ "LDRSB W19, [X21, #-1]!", ldrsb_w_pre },
	{ "LDRSH W19, [X21, #2]!", ldrsh_w_pre },
	{ "LDRSH X19, [X21], #-256", ldrsh_x_post },
	{ "LDRSW X19, [X21], #4", ldrsw_post },
	{ "STR X19, [X21, #16]!", str_x_pre },
	{ "STR W19, [X21], #-4", str_w_post },
	{ "STRB W19, [X21], #-1", strb_post },
	{ "STRH W19, [X21, #6]!", strh_pre },
	{ "LDR X19, [X21, X22, LSL #3]", ldr_reg_lsl },
	{ "LDR W19, [X21, W22, SXTW #2]", ldr_reg_sxtw },
	{ "LDRSH X19, [X21, W22, SXTW]", ldrsh_reg_sxtw },
	{ "STRH W19, [X21, W22, SXTW #1]", strh_reg_sxtw },
	{ "LDUR X19, [X21, #-8]", ldur_neg },
	{ "STUR W19, [X21, #12]", stur_w },
	{ "LDR Q0, [X21], #16", ldr_q_post },
	{ "LDP Q0, Q1, [X21]", ldp_q },
	{ "STP Q0, Q1, [X21, #32]", stp_q_off },
	{ "LDR D0, [X21, #8]", ldr_d_off },
	{ "STR S0, [X21], #-4", str_s_post },
	{ "LDUR Q0, [X21, #-16]", ldur_q },
	{ "STP S0, S1, [X21, #-8]!", stp_s_pre },
};

/* Bytes with the sign bit set in every other position, so sign extension shows. */
static uint64_t pattern(uint64_t off)
{
	return 0x8091a2b3c4d5e6f7ull ^ (off * 0x0101010101010101ull);
}

/* The register offset forms use X22 = 2^32 - 2: with LSL #3 that is far outside the window, so
 * they run with the base moved back by the same amount (the effective address is the same). */
static uint64_t base_bias(const struct form *f)
{
	return f->run == ldr_reg_lsl ? INDEX_VALUE << 3 : 0;
}

static void same_on_ram_and_device(const struct form *f)
{
	uint64_t win = LHT_MEMWIN_BASE, ram = (uint64_t)(uintptr_t)twin;
	uint64_t bias = base_bias(f), mismatches = 0;
	struct outcome on_ram, on_dev;
	struct lht_abort ab;
	char name[128];

	for (uint64_t off = WIN_LO; off < WIN_HI; off += 8) {
		*(volatile uint64_t *)(uintptr_t)(ram + off) = pattern(off);
		mmio_write64(win + off, pattern(off));
	}
	f->run(&on_ram, ram + BASE_OFF - bias);
	lht_expect_abort();
	f->run(&on_dev, win + BASE_OFF - bias);
	ab = lht_abort_take();

#define NAME(s) lht_concat(name, sizeof(name), f->name, s)
	lht_check_eq(NAME(": on the device, no abort"), ab.count, 0);
	lht_check_eq(NAME(": X19 as on RAM"), on_dev.r1, on_ram.r1);
	lht_check_eq(NAME(": X20 as on RAM"), on_dev.r2, on_ram.r2);
	lht_check_eq(NAME(": X21 written back as on RAM"), on_dev.base - win, on_ram.base - ram);
	for (uint64_t off = WIN_LO; off < WIN_HI; off += 8)
		mismatches += mmio_read64(win + off) !=
			      *(volatile uint64_t *)(uintptr_t)(ram + off);
	lht_check_eq(NAME(": device memory as RAM after it"), mismatches, 0);
#undef NAME
}

/* ---- forms a device cannot honour ---- */

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
		 * for EL2): EC 0x24, ISV (bit 24) clear. */
		lht_check_eq(NAME(": the VMM's raw ESR_EL2.EC = 0x24"), ESR_EC(esr), 0x24);
		lht_check_eq(NAME(": the VMM's raw ESR_EL2.ISV = 0"), (esr >> 24) & 1, 0);
	}
	lht_check_eq(NAME(": the device saw no write"), lht_reg_read(LHT_REG_SCRATCH_COUNT),
		     scratch_before);
#undef NAME
}

/* Encoded as words: the guests build for ARMv8.0 (-march=armv8-a), which has no LSE. */
FORM(run_ldxr, "ldxr x19, [x21]")
FORM(run_ldxp, "ldxp x19, x20, [x21]")
FORM(run_ldadd, ".inst 0xf83302b4 /* ldadd x19, x20, [x21] */")
FORM(run_cas, ".inst 0xc8b37eb4 /* cas x19, x20, [x21] */")

static void refused(const char *what, const char *skip_reason, bool is_write, uint64_t addr,
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

/* ---- the interrupt controller ----
 * With the backend's own GIC (KVM's vGIC), accesses without syndrome never reach the kernel's
 * device model: the library performs them through the backend. Each form is compared with plain
 * 32/64-bit LDR/STR of the same registers (GICv3 spec 12.1.3: priority bytes are byte-accessible,
 * IROUTER is 64-bit). */
static void gic_forms(void)
{
	const uint64_t prio = LHT_GICD_BASE + GICD_IPRIORITYR(32);
	const uint64_t sgi_prio = LHT_GICR_BASE + GICR_SGI_BASE + 0x400;
	uint64_t base, a, b, plain[4], got[4], mismatches = 0;

	uint64_t spins_before;

	lht_check_eq("vCPU 1 started (CPU_ON)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	while (!__atomic_load_n(&spins, __ATOMIC_RELAXED))
		;
	/* Priorities of SPIs 32..47, four words, set with plain stores. */
	for (unsigned i = 0; i < 4; i++)
		mmio_write32(prio + 4 * i, 0x80a0c0e0u - 0x08080808u * i);
	for (unsigned i = 0; i < 4; i++)
		plain[i] = mmio_read32(prio + 4 * i);

	/* A post-index loop, as compilers write register walks. */
	base = prio;
	for (unsigned i = 0; i < 4; i++) {
		uint32_t w;

		__asm__ volatile("ldr %w0, [%1], #4" : "=r"(w), "+r"(base) : : "memory");
		got[i] = w;
	}
	for (unsigned i = 0; i < 4; i++)
		mismatches += got[i] != plain[i];
	lht_check_eq("GICD_IPRIORITYR: post-index LDR loop reads what plain LDRs read", mismatches,
		     0);
	lht_check_eq("GICD_IPRIORITYR: ... and the base advanced by 16", base - prio, 16);

	/* LDP of two priority words. */
	__asm__ volatile("ldp %w0, %w1, [%2]" : "=&r"(a), "=&r"(b) : "r"(prio + 8) : "memory");
	lht_check_eq("GICD_IPRIORITYR: LDP W reads both words", a << 32 | b,
		     plain[2] << 32 | plain[3]);

	/* STP of two words, read back plainly. */
	a = 0x10203040;
	b = 0x50607080;
	__asm__ volatile("stp %w0, %w1, [%2]" : : "r"(a), "r"(b), "r"(prio) : "memory");
	lht_check_eq("GICD_IPRIORITYR: STP W writes both words",
		     (uint64_t)mmio_read32(prio) << 32 | mmio_read32(prio + 4),
		     (a & 0xf8f8f8f8u) << 32 | (b & 0xf8f8f8f8u));

	/* A byte store with writeback: only that priority changes. */
	base = prio + 8;
	__asm__ volatile("strb %w1, [%0, #1]!" : "+r"(base) : "r"(0x48u) : "memory");
	lht_check_eq("GICD_IPRIORITYR: STRB pre-index changes one priority byte",
		     mmio_read32(prio + 8), (plain[2] & 0xffff00ffu) | 0x4800u);
	lht_check_eq("GICD_IPRIORITYR: ... base written back", base, prio + 9);
	base = prio + 9;
	__asm__ volatile("ldrb %w0, [%1], #1" : "=r"(a), "+r"(base) : : "memory");
	lht_check_eq("GICD_IPRIORITYR: LDRB post-index reads that byte", a, 0x48);

	/* GICD_IROUTER<32>, 64-bit, through a post-index LDR X. */
	mmio_write64(LHT_GICD_BASE + GICD_IROUTER(32), lht_cfg_mpidr(1));
	base = LHT_GICD_BASE + GICD_IROUTER(32);
	__asm__ volatile("ldr %0, [%1], #8" : "=r"(a), "+r"(base) : : "memory");
	lht_check_eq("GICD_IROUTER: 64-bit post-index LDR reads what a plain LDR reads", a,
		     mmio_read64(LHT_GICD_BASE + GICD_IROUTER(32)));

	/* The redistributor's SGI frame: LDP of the SGI priorities. */
	mmio_write32(sgi_prio, 0x18283848);
	mmio_write32(sgi_prio + 4, 0x58687888);
	__asm__ volatile("ldp %w0, %w1, [%2]" : "=&r"(a), "=&r"(b) : "r"(sgi_prio) : "memory");
	/* The second redistributor frame too: KVM hands frames out in vCPU creation order, which
	 * need not be index order, and the access must reach the frame's own vCPU. */
	{
		const uint64_t sgi_prio1 = LHT_GICR_BASE + LHT_GICR_STRIDE + GICR_SGI_BASE + 0x400;
		uint64_t c, d;

		mmio_write32(sgi_prio1, 0x98a8b8c8);
		mmio_write32(sgi_prio1 + 4, 0xd8e8f808);
		__asm__ volatile("ldp %w0, %w1, [%2]"
				 : "=&r"(c), "=&r"(d)
				 : "r"(sgi_prio1)
				 : "memory");
		lht_check_eq("second GICR frame (SGI frame): LDP W reads what plain LDRs read",
			     c << 32 | d,
			     (uint64_t)mmio_read32(sgi_prio1) << 32 | mmio_read32(sgi_prio1 + 4));
	}
	spins_before = __atomic_load_n(&spins, __ATOMIC_RELAXED);
	while (__atomic_load_n(&spins, __ATOMIC_RELAXED) == spins_before)
		;
	lht_check_true("vCPU 1 still runs after the GIC accesses", 1);
	__atomic_store_n(&stop_spinning, 1, __ATOMIC_RELEASE);
	lht_check_eq("GICR_IPRIORITYR0/1 (SGI frame): LDP W reads what plain LDRs read",
		     a << 32 | b,
		     (uint64_t)mmio_read32(sgi_prio) << 32 | mmio_read32(sgi_prio + 4));
}

void guest_main(void)
{
	uint64_t caps = lht_caps();
	const char *skip = NULL;
	bool lse = ((read_sysreg(id_aa64isar0_el1) >> 20) & 0xf) >= 2;

	/* FP/SIMD on for the SIMD&FP forms (CPACR_EL1.FPEN = 0b11). */
	write_sysreg(cpacr_el1, read_sysreg(cpacr_el1) | (3ull << 20));
	isb();
	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		same_on_ram_and_device(&forms[i]);
	if (caps & LHT_CAP_IRQCHIP)
		gic_forms();
	else
		lht_skip("accesses without syndrome to the GIC",
			 "the VM has no interrupt controller");

	if (!(caps & LHT_CAP_NO_SYNDROME))
		skip = "the backend cannot report accesses without syndrome "
		       "(HYP_CAP_NO_SYNDROME_EXITS = 0)";
	else if (!(caps & LHT_CAP_INJECT_DABT))
		skip = "the backend cannot inject a data abort (HYP_CAP_INJECT_EXCEPTIONS), so "
		       "the VMM has no architected answer";
	refused("LDXR X19 from the device (exclusive)", skip, false, LHT_SCRATCH_BASE + 0x40,
		run_ldxr);
	refused("LDXP X19, X20 from the device (exclusive pair)", skip, false,
		LHT_SCRATCH_BASE + 0x80, run_ldxp);
	refused("LDADD on the device (atomic)", lse ? skip : "no FEAT_LSE", true,
		LHT_SCRATCH_BASE + 0xc0, run_ldadd);
	refused("CAS on the device (compare and swap)", lse ? skip : "no FEAT_LSE", true,
		LHT_SCRATCH_BASE + 0x100, run_cas);
	/* The device is still usable afterwards. */
	lht_check_eq("a plain LDR after the refused accesses works",
		     mmio_read64(LHT_SCRATCH_BASE + 0x208), lht_scratch_value(0x208, 8));
}
