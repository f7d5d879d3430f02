/* SPDX-License-Identifier: MIT */
/*
 * hostile-traps: every trap, with bad values, gets the architected answer.
 *
 * - Unaligned MMIO (through a Normal-memory alias, so stage 1 lets it through, Arm ARM B2.5.2):
 *   the access reaches the device as made (same bytes, same size); a malformed register access
 *   (wrong size, misaligned) is refused with an external abort.
 * - No syndrome (ISV = 0, Arm ARM D17.2.37) into the hole: LDP, STP and pre-index writeback are
 *   emulated by the library, and their first element reaches the VMM as an ordinary MMIO access
 *   to the hole (found through the guest's own stage-1 alias mapping), which the VMM refuses with
 *   an external abort; DC ZVA cannot be emulated and reaches the VMM as an access without
 *   syndrome, refused the same way. Either way: no effect (registers, base, device).
 * - Cache maintenance (DC CIVAC) on an IPA with nothing there: no effect, no fault (a Device
 *   region is never cached), whether or not the CPU reports it to EL2.
 * - Instruction fetch from an IPA with nothing there: a prefetch abort (EC 0x21, IFSC 0x10).
 * - PSCI with a wrong MPIDR (another partition's CPUs, non-affinity bits) or a wrong entry point
 *   (unaligned, not RAM, past the IPA size): INVALID_PARAMETERS / INVALID_ADDRESS (Arm DEN
 *   0022D 5.6), and the target stays off; SMC32 arguments ignore their upper halves (DEN 0028
 *   2.6).
 * - Unknown SMCCC function IDs of every owner, 32- and 64-bit, fast and yielding: NOT_SUPPORTED,
 *   in all 64 bits of X0; HVC with a non-zero immediate is not an SMCCC call and reaches the VMM,
 *   which answers NOT_SUPPORTED with X1..X3 unchanged.
 * - SMC: never reaches the machine's own firmware (it could power the machine off or start CPUs
 *   of other partitions): it traps to the VMM (HYP_CAP_SMCCC_SMC_EXITS) or is UNDEFINED.
 */
#include "rt/hostile.h"

LHT_GUEST(.nr_vcpus = 2);

#define SENTINEL_A 0x1111aaaa2222bbbbull
#define SENTINEL_B 0x3333cccc4444ddddull

#define PSCI_AFFINITY_INFO_32 0x84000004u
#define PSCI_INVALID_ADDRESS (-9)

static volatile uint64_t secondary_ran;

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)cpu;
	__atomic_store_n(&secondary_ran, context_id, __ATOMIC_RELEASE);
}

static uint64_t scratch_alias(uint64_t off)
{
	return ALIAS_VA + LHT_SCRATCH_BASE + off;
}

static void unaligned_mmio(void)
{
	uint64_t v, before;

	/* 8 bytes at scratch offset 3, 4 bytes at offset 0x7f5: the device sees the access as
	 * the instruction made it. */
	__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(scratch_alias(3)) : "memory");
	lht_check_eq("unaligned 8-byte MMIO read: the device's bytes at offset 3", v,
		     lht_scratch_value(3, 8));
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(scratch_alias(0x7f5)) : "memory");
	lht_check_eq(
		"unaligned 4-byte MMIO read: the device's bytes at offset 0x7f5, zero-extended", v,
		lht_scratch_value(0x7f5, 4));
	before = lht_reg_read(LHT_REG_SCRATCH_COUNT);
	__asm__ volatile("str %w0, [%1]" ::"r"(0x89abcdefu), "r"(scratch_alias(0x7f5)) : "memory");
	lht_check_eq("unaligned 4-byte MMIO write: one device write",
		     lht_reg_read(LHT_REG_SCRATCH_COUNT), before + 1);
	lht_check_eq("unaligned 4-byte MMIO write: at offset 0x7f5",
		     lht_reg_read(LHT_REG_SCRATCH_WOFF), 0x7f5);
	lht_check_eq("unaligned 4-byte MMIO write: 4 bytes", lht_reg_read(LHT_REG_SCRATCH_WLEN), 4);
	lht_check_eq("unaligned 4-byte MMIO write: the data", lht_reg_read(LHT_REG_SCRATCH_WDATA),
		     0x89abcdefu);
}

/* Malformed accesses to a 64-bit test register: refused with an external abort. */
static void bad_register_access(const char *name, uint64_t va, uint64_t ipa, bool narrow)
{
	uint64_t v = SENTINEL_A, insn, before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	struct lht_abort ab;
	char buf[112];

	lht_expect_abort();
	if (narrow)
		__asm__ volatile("adr %1, 1f\n"
				 "1:\tldr %w0, [%2]"
				 : "+r"(v), "=&r"(insn)
				 : "r"(va)
				 : "memory");
	else
		__asm__ volatile("adr %1, 1f\n"
				 "1:\tldr %0, [%2]"
				 : "+r"(v), "=&r"(insn)
				 : "r"(va)
				 : "memory");
	ab = lht_abort_take();
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": external data abort"),
		     (ab.count << 16) | (ESR_EC(ab.esr) << 8) | ESR_DFSC(ab.esr),
		     (1ull << 16) | (ESR_EC_DABT_CUR << 8) | DFSC_SEA);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": at the instruction"), ab.elr, insn);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": no data"), v, SENTINEL_A);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": the VMM saw it at the IPA"),
		     (lht_reg_read(LHT_REG_FOREIGN_COUNT) - before) << 32 |
			     (lht_reg_read(LHT_REG_FOREIGN_IPA) & 0xffffffff),
		     1ull << 32 | (ipa & 0xffffffff));
}

/* An access without syndrome to the hole (through the alias): an abort, and no effect. */
static void no_syndrome(const char *name, int form, uint64_t foreign_type, uint64_t ipa)
{
	uint64_t base = ALIAS_VA + LHT_HOLE_BASE + 0x40, b = base, r1 = SENTINEL_A, r2 = SENTINEL_B,
		 insn, before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	struct lht_abort ab;
	char buf[112];

	lht_expect_abort();
	switch (form) {
	case 0:
		__asm__ volatile("adr %2, 1f\n"
				 "1:\tldp %0, %1, [%3]"
				 : "+r"(r1), "+r"(r2), "=&r"(insn)
				 : "r"(b)
				 : "memory");
		break;
	case 1:
		__asm__ volatile("adr %0, 1f\n"
				 "1:\tstp %1, %2, [%3]"
				 : "=&r"(insn)
				 : "r"(r1), "r"(r2), "r"(b)
				 : "memory");
		break;
	case 2:
		__asm__ volatile("adr %2, 1f\n"
				 "1:\tldr %0, [%1, #8]!"
				 : "+r"(r1), "+r"(b), "=&r"(insn)
				 :
				 : "memory");
		break;
	default:
		__asm__ volatile("adr %0, 1f\n"
				 "1:\tdc zva, %1"
				 : "=&r"(insn)
				 : "r"(b)
				 : "memory");
		break;
	}
	ab = lht_abort_take();
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": external data abort at the instruction"),
		     (ab.count << 16) | (ESR_EC(ab.esr) << 8) | ESR_DFSC(ab.esr),
		     (1ull << 16) | (ESR_EC_DABT_CUR << 8) | DFSC_SEA);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": ELR_EL1 = the instruction"), ab.elr,
		     insn);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": registers untouched"), r1 ^ r2 ^ b,
		     SENTINEL_A ^ SENTINEL_B ^ base);
	lht_check_eq(lht_concat(buf, sizeof(buf), name,
				foreign_type == LHT_FOREIGN_MMIO ?
					": the VMM saw one MMIO access (emulated instruction)" :
					": the VMM saw one access without syndrome"),
		     (lht_reg_read(LHT_REG_FOREIGN_COUNT) - before) << 8 |
			     lht_reg_read(LHT_REG_FOREIGN_TYPE),
		     1ull << 8 | foreign_type);
	lht_check_eq(lht_concat(buf, sizeof(buf), name, ": ... at the IPA"),
		     lht_reg_read(LHT_REG_FOREIGN_IPA), ipa);
}

static void cache_maintenance(void)
{
	uint64_t before = lht_reg_read(LHT_REG_FOREIGN_COUNT), after;
	struct lht_abort ab;

	lht_expect_abort();
	__asm__ volatile("dc civac, %0" ::"r"(ALIAS_VA + LHT_HOLE_BASE + 0x80) : "memory");
	ab = lht_abort_take();
	after = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_check_eq("DC CIVAC on an IPA with nothing there: no abort", ab.count, 0);
	lht_check_le("DC CIVAC on an IPA with nothing there: at most one exit", after - before, 1);
	if (after != before)
		lht_check_eq("DC CIVAC: the exit was a fault the VMM completed (skipped)",
			     lht_reg_read(LHT_REG_FOREIGN_TYPE) << 8 |
				     lht_reg_read(LHT_REG_FOREIGN_ANSWER),
			     LHT_FOREIGN_OTHER_FAULT << 8 | LHT_ANSWER_COMPLETED);
}

static void exec_from_hole(void)
{
	uint64_t va = ALIAS_VA + LHT_HOLE_BASE + 0x100;
	uint64_t injected = lht_reg_read(LHT_EL2_REG_INJECTED);

	catch_on();
	catch_call(va);
	catch_off();
	lht_check_eq("fetch from an IPA with nothing there: one exception", catch_rec.count, 1);
	lht_check_eq("... a prefetch abort from EL1 (EC 0x21), synchronous external (IFSC 0x10)",
		     (ESR_EC(catch_rec.esr) << 8) | (catch_rec.esr & 0x3f), (0x21u << 8) | 0x10);
	lht_check_eq("... ELR_EL1 = the address fetched", catch_rec.elr, va);
	lht_check_eq("... FAR_EL1 = the address fetched", catch_rec.far, va);
	lht_check_eq("... injected by the VMM (HYP_INJECT_PREFETCH_ABORT)",
		     (lht_reg_read(LHT_EL2_REG_INJECTED) - injected) << 8 |
			     lht_reg_read(LHT_EL2_REG_INJECTED_KIND),
		     1u << 8 | 3u);
}

static void psci_bad_arguments(void)
{
	uint64_t other = lht_cfg_mpidr(1), entry = (uint64_t)lht_secondary_entry;
	uint64_t cpus = lht_reg_read(LHT_EL2_REG_PARTITION_CPUS);

	/* Physical CPUs of other partitions are not vCPUs of ours: MPIDR 2 and 3 with a
	 * two-vCPU VM, an Aff1 CPU, Aff3. */
	lht_check_eq("CPU_ON(MPIDR 2: no such vCPU) = INVALID_PARAMETERS",
		     lht_psci(PSCI_CPU_ON_64, 2, entry, 1), PSCI_INVALID_PARAMETERS);
	lht_check_eq("CPU_ON(MPIDR 3: no such vCPU) = INVALID_PARAMETERS",
		     lht_psci(PSCI_CPU_ON_64, 3, entry, 1), PSCI_INVALID_PARAMETERS);
	lht_check_eq("CPU_ON(MPIDR 0x100) = INVALID_PARAMETERS",
		     lht_psci(PSCI_CPU_ON_64, 0x100, entry, 1), PSCI_INVALID_PARAMETERS);
	lht_check_eq("CPU_ON(MPIDR with Aff3 = 0xff) = INVALID_PARAMETERS",
		     lht_psci(PSCI_CPU_ON_64, other | (0xffull << 32), entry, 1),
		     PSCI_INVALID_PARAMETERS);
	lht_check_eq("AFFINITY_INFO(MPIDR 2) = INVALID_PARAMETERS",
		     lht_psci(PSCI_AFFINITY_INFO_64, 2, 0, 0), PSCI_INVALID_PARAMETERS);
	lht_check_eq("CPU_ON(vCPU 1, entry not 4-byte aligned) = INVALID_ADDRESS",
		     lht_psci(PSCI_CPU_ON_64, other, entry + 2, 1), PSCI_INVALID_ADDRESS);
	lht_check_eq("CPU_ON(vCPU 1, entry in the hole, not memory) = INVALID_ADDRESS",
		     lht_psci(PSCI_CPU_ON_64, other, LHT_HOLE_BASE, 1), PSCI_INVALID_ADDRESS);
	lht_check_eq("CPU_ON(vCPU 1, entry at the test device) = INVALID_ADDRESS",
		     lht_psci(PSCI_CPU_ON_64, other, LHT_DEV_BASE, 1), PSCI_INVALID_ADDRESS);
	lht_check_eq("CPU_ON(vCPU 1, entry past RAM) = INVALID_ADDRESS",
		     lht_psci(PSCI_CPU_ON_64, other, LHT_RAM_BASE + LHT_RAM_SIZE, 1),
		     PSCI_INVALID_ADDRESS);
	lht_check_eq("CPU_ON(vCPU 1, entry at 2^48) = INVALID_ADDRESS",
		     lht_psci(PSCI_CPU_ON_64, other, 1ull << 48, 1), PSCI_INVALID_ADDRESS);
	lht_check_eq("vCPU 1 is still OFF after the refused CPU_ONs",
		     lht_psci(PSCI_AFFINITY_INFO_64, other, 0, 0), PSCI_AFF_OFF);
	lht_check_eq("vCPU 1 never ran", secondary_ran, 0);
	/* SMC32/HVC32: only the low 32 bits of an argument count (DEN 0028 2.6). */
	lht_check_eq("AFFINITY_INFO_32(self | garbage << 32) = ON",
		     lht_psci(PSCI_AFFINITY_INFO_32, lht_mpidr_aff() | (0xdeadull << 32), 0, 0),
		     PSCI_AFF_ON);
	/* A good call still works, and starts exactly what it says. */
	lht_check_eq("CPU_ON(vCPU 1, good entry) = SUCCESS",
		     lht_psci(PSCI_CPU_ON_64, other, entry, 0x5501), PSCI_SUCCESS);
	lht_check_true("vCPU 1 started with our context id",
		       lht_wait_eq(&secondary_ran, 0x5501, 5000000));
	lht_note("physical CPUs in this partition", cpus);
}

/* HVC #imm with X0..X3 as given; returns X0..X3 in @r. */
#define HVC_RAW(imm, a0, a1, a2, a3, r)                                                            \
	do {                                                                                       \
		register uint64_t x0 __asm__("x0") = (a0);                                         \
		register uint64_t x1 __asm__("x1") = (a1);                                         \
		register uint64_t x2 __asm__("x2") = (a2);                                         \
		register uint64_t x3 __asm__("x3") = (a3);                                         \
                                                                                                   \
		__asm__ volatile("hvc #" #imm                                                      \
				 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)                          \
				 :                                                                 \
				 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", \
				   "x14", "x15", "x16", "x17", "memory");                          \
		(r)[0] = x0;                                                                       \
		(r)[1] = x1;                                                                       \
		(r)[2] = x2;                                                                       \
		(r)[3] = x3;                                                                       \
	} while (0)

static void unknown_calls(void)
{
	static const uint64_t args[7] = { 11, 22, 33, 44, 55, 66, 77 };
	unsigned int bad = 0, tried = 0;
	uint64_t first_bad = 0, before, r[4];

	/* Function number 0xfff0 of every owning entity: fast/yielding, SMC32/SMC64. */
	for (uint64_t owner = 0; owner < 64; owner++) {
		for (uint64_t kind = 0; kind < 4; kind++) {
			uint32_t fid = (uint32_t)((kind & 1) << 31 | (kind & 2) << 29 |
						  owner << 24 | 0xfff0);

			tried++;
			if (lht_hvc(fid, args).x[0] != ~0ull && !bad++)
				first_bad = fid;
		}
	}
	lht_note("unknown function IDs tried", tried);
	if (bad)
		lht_note("first function ID not answered NOT_SUPPORTED", first_bad);
	lht_check_eq("every unknown SMCCC function ID returns NOT_SUPPORTED in all of X0", bad, 0);

	/* W0 is the function ID: garbage in X0[63:32] must not change the answer. */
	HVC_RAW(0, 0xabcd00008000fff0ull, 1, 2, 3, r);
	lht_check_eq("unknown call with garbage in X0[63:32]: NOT_SUPPORTED", r[0], ~0ull);
	HVC_RAW(0, 0xabcd000084000000ull, 1, 2, 3, r); /* PSCI_VERSION in W0 */
	lht_check_eq("PSCI_VERSION with garbage in X0[63:32] still answers 1.1", r[0], 0x10001);

	/* HVC #1: not an SMCCC call (SMCCC 1.1 2.1); the VMM answers NOT_SUPPORTED. */
	before = lht_reg_read(LHT_EL2_REG_SMCCC_EXITS);
	HVC_RAW(1, PSCI_VERSION, 0x1111, 0x2222, 0x3333, r);
	lht_check_eq("HVC #1 (PSCI_VERSION in X0) is not answered as PSCI: NOT_SUPPORTED", r[0],
		     ~0ull);
	lht_check_eq("HVC #1: X1..X3 unchanged", (r[1] << 32) ^ (r[2] << 16) ^ r[3],
		     (0x1111ull << 32) ^ (0x2222ull << 16) ^ 0x3333);
	lht_check_eq("HVC #1 reached the VMM with its immediate",
		     (lht_reg_read(LHT_EL2_REG_SMCCC_EXITS) - before) << 16 |
			     lht_reg_read(LHT_EL2_REG_SMCCC_IMM),
		     1u << 16 | 1);
}

static void smc(void)
{
	uint64_t rest[3], before = lht_reg_read(LHT_EL2_REG_SMCCC_EXITS), x0;
	bool exits = lht_reg_read(LHT_EL2_REG_SMC_EXITS);

	/* AFFINITY_INFO of physical CPU 2: if this reached QEMU's PSCI it would answer ON (0)
	 * about a CPU of another partition. */
	catch_on();
	x0 = catch_smc(PSCI_AFFINITY_INFO_64, 2, 0, 0, rest);
	catch_off();
	lht_note("SMC exits (HYP_CAP_SMCCC_SMC_EXITS)", exits);
	if (catch_rec.count) {
		lht_check_eq("SMC is UNDEFINED for the guest (EC 0x00)", ESR_EC(catch_rec.esr), 0);
		lht_check_eq("... so the VMM must not claim SMC exits", exits, 0);
	} else {
		/* libhyp: INVALID_PARAMETERS (no vCPU 2) if its PSCI takes SMC too, else the
		 * VMM's NOT_SUPPORTED; QEMU's firmware would say ON (0). */
		lht_note("SMC AFFINITY_INFO(MPIDR 2) returned", x0);
		lht_check_true("SMC AFFINITY_INFO(physical CPU 2) is answered by the VMM, not the "
			       "machine's firmware",
			       x0 == (uint64_t)PSCI_INVALID_PARAMETERS || x0 == ~0ull);
		lht_check_eq("... and the VMM claims SMC exits", exits, 1);
	}
	/* An unknown SMC: NOT_SUPPORTED from the VMM, never the machine's firmware. */
	catch_on();
	x0 = catch_smc(0x82000ff0, 1, 2, 3, rest);
	catch_off();
	if (catch_rec.count)
		lht_check_eq("unknown SMC: UNDEFINED", ESR_EC(catch_rec.esr), 0);
	else
		lht_check_eq("unknown SMC: NOT_SUPPORTED", x0, ~0ull);
	lht_note("SMCCC exits the VMM answered during the SMC tests",
		 lht_reg_read(LHT_EL2_REG_SMCCC_EXITS) - before);
}

void guest_main(void)
{
	if (!(lht_caps() & LHT_CAP_INJECT_DABT)) {
		lht_skip("hostile traps", "the VMM cannot inject data aborts");
		return;
	}
	hostile_map(0);
	unaligned_mmio();
	bad_register_access("4-byte read of a 64-bit test register", LHT_DEV_BASE + LHT_REG_CAPS,
			    LHT_DEV_BASE + LHT_REG_CAPS, true);
	bad_register_access("8-byte read of a test register at a misaligned offset",
			    ALIAS_VA + LHT_DEV_BASE + LHT_REG_CAPS + 4,
			    LHT_DEV_BASE + LHT_REG_CAPS + 4, false);
	if (lht_caps() & LHT_CAP_NO_SYNDROME) {
		no_syndrome("LDP from the hole", 0, LHT_FOREIGN_MMIO, LHT_HOLE_BASE + 0x40);
		no_syndrome("STP to the hole", 1, LHT_FOREIGN_MMIO, LHT_HOLE_BASE + 0x40);
		no_syndrome("LDR pre-index writeback from the hole", 2, LHT_FOREIGN_MMIO,
			    LHT_HOLE_BASE + 0x48);
		no_syndrome("DC ZVA on the hole", 3, LHT_FOREIGN_NO_SYNDROME, LHT_HOLE_BASE + 0x40);
	} else {
		lht_skip("accesses without syndrome", "HYP_CAP_NO_SYNDROME_EXITS = 0");
	}
	cache_maintenance();
	exec_from_hole();
	psci_bad_arguments();
	unknown_calls();
	smc();
}
