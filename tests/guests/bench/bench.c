/* SPDX-License-Identifier: MIT */
/*
 * bench: the benchmark guest, the same image on every backend (LHT_F_BENCH: the VMM maps the
 * benchmark's MMIO window and vendor call, tests/guests/protocol.h). Five loops of N operations
 * between reads of CNTVCT_EL0, each with the same loop body around the operation:
 *   empty       mov x0, fid; nop;        subs; b.ne
 *   HVC         mov x0, fid; hvc #0;     ...   the vendor call LHT_BENCH_FID: a registered SMCCC
 *                                              handler, or the backend's own answer where it
 *                                              has no SMCCC exits (KVM on Linux < 6.4)
 *   MMIO write  mov x0, fid; str;        ...   a registered MMIO callback
 *   MMIO read   mov x0, fid; ldr;        ...
 *   PSCI        mov x0, PSCI_VERSION; hvc #0   the backend's PSCI (libhyp's, or KVM's)
 * The VMM turns ticks into instructions (under -icount shift=0 one instruction is 1 ns) after
 * subtracting the empty loop. Run by examples/el2-firmware (firmware-bench.elf) and, on KVM, by
 * tests/bench/run-kvm-bench.sh with the conformance driver.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_BENCH, .timeout_ms = 600000);

#define N 20000u

#define LOOP(op, fid)                                                                              \
	({                                                                                         \
		uint64_t t0, t1, n = N;                                                            \
                                                                                                   \
		__asm__ volatile("isb\n\t"                                                         \
				 "mrs %0, cntvct_el0\n"                                            \
				 "1:\tmov x0, %3\n\t" op "\n\t"                                    \
				 "subs %2, %2, #1\n\t"                                             \
				 "b.ne 1b\n\t"                                                     \
				 "isb\n\t"                                                         \
				 "mrs %1, cntvct_el0"                                              \
				 : "=&r"(t0), "=&r"(t1), "+r"(n)                                   \
				 : "r"((uint64_t)(fid)), "r"(LHT_BENCH_MMIO_BASE)                  \
				 : "x0", "x1", "x2", "x3", "x5", "memory");                        \
		t1 - t0;                                                                           \
	})

void guest_main(void)
{
	uint64_t empty, hvc, wr, rd, psci;

	/* Warm up every path once (first-touch costs are not the round trip). The vendor call is
	 * the VMM's handler where the backend lets it see HVCs, the backend's NOT_SUPPORTED
	 * elsewhere. */
	lht_check_eq(
		"bench HVC answers as the backend's caps say",
		lht_hvc(LHT_BENCH_FID, (const uint64_t[7]){ 0 }).x[0],
		(lht_caps() & LHT_CAP_SMCCC_HVC) ?
			0 :
			(uint64_t)(int64_t)PSCI_NOT_SUPPORTED); /* SMCCC NOT_SUPPORTED is -1 too */
	mmio_write64(LHT_BENCH_MMIO_BASE, 1);
	lht_check_eq("bench MMIO reads 0", mmio_read64(LHT_BENCH_MMIO_BASE), 0);

	empty = LOOP("nop", LHT_BENCH_FID);
	hvc = LOOP("hvc #0", LHT_BENCH_FID);
	wr = LOOP("str x1, [%4]", LHT_BENCH_FID);
	rd = LOOP("ldr x5, [%4]", LHT_BENCH_FID);
	psci = LOOP("hvc #0", PSCI_VERSION);

	lht_reg_write(LHT_REG_BENCH_ITERATIONS, N);
	lht_reg_write(LHT_REG_BENCH_CNTFRQ, lht_freq());
	lht_reg_write(LHT_REG_BENCH_TICKS_EMPTY, empty);
	lht_reg_write(LHT_REG_BENCH_TICKS_HVC, hvc);
	lht_reg_write(LHT_REG_BENCH_TICKS_MMIO_WRITE, wr);
	lht_reg_write(LHT_REG_BENCH_TICKS_MMIO_READ, rd);
	lht_reg_write(LHT_REG_BENCH_TICKS_PSCI, psci);
	lht_note("ticks: empty loop", empty);
	lht_note("ticks: HVC loop", hvc);
	lht_note("ticks: MMIO write loop", wr);
	lht_note("ticks: MMIO read loop", rd);
	lht_note("ticks: PSCI_VERSION loop", psci);
	lht_check_ge("the HVC loop took longer than the empty one", hvc, empty);
}
