/* SPDX-License-Identifier: MIT */
/*
 * The libhyp test device ("LHT") and guest image header: the contract between the conformance
 * guests (tests/guests/cases/ *.c, freestanding aarch64) and the driver (tests/guests/driver.c,
 * a VMM linked against libhyp).
 *
 * Both sides include this file, so it uses nothing but <stdint.h>.
 *
 * Guest physical memory map (QEMU virt-like, see ARCHITECTURE.md "The guest platform"):
 *
 *   0x0800_0000  GICv3 distributor (the backend's or libhyp's)
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU
 *   0x0b00_0000  the test device (this file), 12 KiB:
 *                  0x0000..0x0fff  registers, below
 *                  0x1000..0x1fff  scratch window: reads return lht_scratch_byte() patterns,
 *                                  writes are recorded (LHT_REG_SCRATCH_*)
 *                  0x2000..0x2fff  memory window: a device that behaves like RAM (any width,
 *                                  little-endian; reads return what was written, initially 0),
 *                                  so a guest can run the same instruction on RAM and on MMIO
 *                                  and compare
 *   0x0c00_0000  one read-only page (HYP_MEM_RO | HYP_MEM_EXEC), filled with lht_rom_byte(),
 *                if the backend has HYP_CAP_READONLY_MEM (LHT_CAP_ROM)
 *   0x0c01_0000  the remap window (LHT_REG_REMAP), one page, with LHT_CAP_ROM: MMIO until the
 *                guest asks the device to map the read-only page's memory there
 *   0x0d00_0000  a hole: no memory, no MMIO handler. The driver answers accesses to the lower
 *                half with an external data abort (guests go there only with
 *                LHT_CAP_INJECT_DABT), and to the upper half as RAZ/WI.
 *   0x4000_0000  RAM, 16 MiB, HYP_MEM_RWX; the image is loaded at its start and entered there.
 *
 * Register access rules: every register is 64 bits wide and is accessed with a single 64-bit
 * LDR/STR (LHT_REG_CONSOLE also takes narrower stores). Guests must use plain [Xn] addressing:
 * compilers like to emit writeback forms for volatile pointer loops, and those carry no
 * instruction syndrome (Arm ARM D17.2.37, ESR_ELx.ISV), so the hypervisor could not emulate them.
 *
 * Strings (check names, console lines) are passed by address: the guest writes the IPA of a
 * NUL-terminated string in RAM and the driver reads it with hyp_vm_read_guest(). Guests run with
 * an identity map, so a pointer is its IPA.
 */
#ifndef LHT_PROTOCOL_H
#define LHT_PROTOCOL_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* ---- guest platform ---- */
#define LHT_RAM_BASE 0x40000000ull
#define LHT_RAM_SIZE (16ull << 20)
#define LHT_GICD_BASE 0x08000000ull
#define LHT_GICR_BASE 0x080a0000ull
#define LHT_GICR_STRIDE 0x20000ull

#define LHT_DEV_BASE 0x0b000000ull
#define LHT_DEV_SIZE 0x3000ull
#define LHT_SCRATCH_OFF 0x1000ull
#define LHT_SCRATCH_SIZE 0x1000ull
#define LHT_SCRATCH_BASE (LHT_DEV_BASE + LHT_SCRATCH_OFF)
#define LHT_MEMWIN_OFF 0x2000ull
#define LHT_MEMWIN_SIZE 0x1000ull
#define LHT_MEMWIN_BASE (LHT_DEV_BASE + LHT_MEMWIN_OFF)

#define LHT_ROM_BASE 0x0c000000ull
#define LHT_ROM_SIZE 0x1000ull

#define LHT_HOLE_BASE 0x0d000000ull
#define LHT_HOLE_SIZE 0x10000ull
/* Accesses at or above this address in the hole read as zero and ignore writes. */
#define LHT_HOLE_RAZWI (LHT_HOLE_BASE + LHT_HOLE_SIZE / 2)

/* The most vCPUs a guest may ask for. */
#define LHT_MAX_VCPUS 8

/* ---- registers (offsets from LHT_DEV_BASE) ---- */
/* W: one character (low 8 bits); the driver prints complete lines as TAP comments. */
#define LHT_REG_CONSOLE 0x000
/* W: the IPA of a NUL-terminated line to print as a TAP comment. */
#define LHT_REG_PUTS 0x008
/* W: the guest has finished its work: 0, or an LHT_EXIT_* failure code. It powers off (or
 *  resets) next. */
#define LHT_REG_EXIT 0x010
/* W: the operands of the next check, then LHT_REG_CHECK with an enum lht_check_op. */
#define LHT_REG_CHECK_NAME 0x018
#define LHT_REG_CHECK_ACTUAL 0x020
#define LHT_REG_CHECK_EXPECT 0x028
#define LHT_REG_CHECK 0x030
/* R: LHT_CAP_* bits: what the driver found the backend can do. */
#define LHT_REG_CAPS 0x038
/* R: the number of vCPUs the driver created. */
#define LHT_REG_NR_VCPUS 0x040
/* R: the index of the vCPU making the access (struct hyp_exit.vcpu_index). */
#define LHT_REG_VCPU_INDEX 0x048
/* R: MIDR_EL1 of the accessing vCPU as the VMM reads it (hyp_vcpu_get_sysreg()); 0 if it could
 *  not. */
#define LHT_REG_MIDR 0x050
/* W: an SPI INTID: the driver calls hyp_vm_set_spi(intid, true) / (intid, false). */
#define LHT_REG_SPI_RAISE 0x058
#define LHT_REG_SPI_LOWER 0x060
/* R: what the last library call made for the accessing vCPU's request returned (0 or -errno). */
#define LHT_REG_STATUS 0x068
/* W: the IPA of a 64-bit flag in RAM. The driver starts a thread that calls hyp_vcpu_kick() on
 *  this vCPU after LHT_KICK_DELAY_MS; when hyp_vcpu_run() has returned HYP_EXIT_KICKED, the driver
 *  stores 1 into the flag with hyp_vm_write_guest() and resumes the vCPU. */
#define LHT_REG_KICK_ARM 0x070

/* R: the log of guest accesses that left RAM and the test device (the ROM page, the hole, and
 *  accesses without a syndrome anywhere): a count, then the last one's details. */
#define LHT_REG_FOREIGN_COUNT 0x080
#define LHT_REG_FOREIGN_TYPE 0x088 /* enum lht_foreign_type */
#define LHT_REG_FOREIGN_IPA 0x090
#define LHT_REG_FOREIGN_LEN 0x098 /* bytes; 0 when the exit did not say */
#define LHT_REG_FOREIGN_WRITE 0x0a0
#define LHT_REG_FOREIGN_DATA 0x0a8 /* the stored value, for writes */
/* R: the answer the driver gave: enum lht_foreign_answer. */
#define LHT_REG_FOREIGN_ANSWER 0x0b0
/* R: the raw ESR_EL2 the exit carried (struct hyp_syndrome.esr), or ~0 if the backend marked it
 *  not valid. */
#define LHT_REG_FOREIGN_ESR 0x0b8

/* R: the log of writes to the scratch window. */
#define LHT_REG_SCRATCH_COUNT 0x0c0
#define LHT_REG_SCRATCH_WOFF 0x0c8 /* offset inside the window */
#define LHT_REG_SCRATCH_WLEN 0x0d0
#define LHT_REG_SCRATCH_WDATA 0x0d8

/* W: enum lht_depends for the next check on this vCPU only: the check relies on a platform
 *  behaviour some test platforms (or backends) are known to lack. The driver reports such a
 *  check as TODO (not a failure) when told of that defect (driver --known-defect). */
#define LHT_REG_CHECK_DEPENDS 0x0e0

/* W: LHT_REMAP_MAP: the device maps the read-only page's memory at LHT_REMAP_BASE (read-only) from
 *  its exit callback with hyp_vcpu_exit_map(); LHT_REMAP_UNMAP: it removes it with
 *  hyp_vcpu_exit_unmap(). R: what the last such call returned (0 or a negative errno; 1 before
 *  any). Unmapped, the window is MMIO: reads return LHT_REMAP_MMIO_BYTE in every byte, writes are
 *  dropped, and both are logged as foreign accesses. Only with LHT_CAP_ROM. */
#define LHT_REG_REMAP 0x0e8
#define LHT_REMAP_MAP 1
#define LHT_REMAP_UNMAP 2
#define LHT_REMAP_BASE 0x0c010000ull
#define LHT_REMAP_SIZE 0x1000ull
#define LHT_REMAP_MMIO_BYTE 0xee

/* W: dirty-page logging of RAM (hyp_vm_dirty_log_enable()/_fetch(), with LHT_CAP_DIRTY_LOG):
 *  LHT_DIRTY_ENABLE, LHT_DIRTY_FETCH (fetch and clear), LHT_DIRTY_DISABLE. R: what the last one
 *  returned (a fetch: the number of RAM pages reported; else 0; or a negative errno; 1 before
 *  any). LHT_REG_DIRTY_BITS, R: the last fetch's log of the 64 pages from LHT_DIRTY_WINDOW (bit n
 *  = page n), RAM that guests leave alone unless they test this. */
#define LHT_REG_DIRTY 0x0f0
#define LHT_REG_DIRTY_BITS 0x0f8
#define LHT_DIRTY_ENABLE 1
#define LHT_DIRTY_FETCH 2
#define LHT_DIRTY_DISABLE 3
#define LHT_DIRTY_WINDOW (LHT_RAM_BASE + (8ull << 20))

/* W: the dirty ring (hyp_vm_dirty_ring_harvest(), with LHT_CAP_DIRTY_RING: the VM was created
 *  with the ring the header asked for, struct lht_header.dirty_ring_entries). R: what the last op
 *  returned (a negative errno on failure; 1 before any):
 *  LHT_RING_COLLECT: one round of a live copy: harvest the rings until they are empty (in batches
 *   of LHT_RING_BATCH entries) and then fetch RAM's bitmap (hyp_vm_dirty_log_fetch(), which holds
 *   what a full ring spilled); the pages of LHT_RING_PAGES from LHT_DIRTY_WINDOW found either way
 *   are ORed into the device's window log (LHT_REG_RING_WORD). Returns the window pages the ring
 *   harvest reported;
 *  LHT_RING_CLEAR: empty the window log (returns 0);
 *  LHT_RING_FETCHED: the window pages the last collect found only in the bitmap;
 *  LHT_RING_FULL, LHT_RING_SPILLED, LHT_RING_HARVESTED: struct hyp_dirty_ring_stats counters;
 *  LHT_RING_ENTRIES: the ring size per vCPU.
 * LHT_REG_RING_WORD, W: a word index (0..LHT_RING_PAGES / 64 - 1); R: that word of the window log
 *  (bit n of word w = page 64 * w + n of the window). */
#define LHT_REG_RING 0x200
#define LHT_REG_RING_WORD 0x208
#define LHT_RING_COLLECT 1
#define LHT_RING_CLEAR 2
#define LHT_RING_FETCHED 3
#define LHT_RING_FULL 4
#define LHT_RING_SPILLED 5
#define LHT_RING_HARVESTED 6
#define LHT_RING_ENTRIES 7
#define LHT_RING_PAGES 1024u
#define LHT_RING_BATCH 64u

/* R: the MPIDR_EL1 affinity (Aff3..Aff0 bits) the driver configured for vCPU i: the guest
 *  header's struct lht_header.mpidr[i] when the backend accepts custom affinities
 *  (HYP_CAP_CUSTOM_MPIDR, LHT_CAP_CUSTOM_MPIDR), otherwise (or when the header leaves it 0)
 *  libhyp's documented default for the index. Guests must address CPUs by these values (PSCI,
 *  GIC), never by what their header asked for. */
#define LHT_REG_MPIDR(i) (0x100 + 8 * (i))

/* The benchmark guest (LHT_F_BENCH in its header, tests/guests/bench/bench.c). W: its results:
 * how many operations each loop did, CNTFRQ_EL0, and the CNTVCT ticks of each loop. The driver
 * turns them into instructions per operation (meaningful under QEMU -icount shift=0, where one
 * instruction is 1 ns) and prints them when the guest is done. */
#define LHT_REG_BENCH_ITERATIONS 0x180
#define LHT_REG_BENCH_CNTFRQ 0x188
#define LHT_REG_BENCH_TICKS_EMPTY 0x190 /* the loop with a NOP: subtracted from the others */
#define LHT_REG_BENCH_TICKS_HVC 0x198	/* HVC #0 to LHT_BENCH_FID */
#define LHT_REG_BENCH_TICKS_MMIO_WRITE 0x1a0
#define LHT_REG_BENCH_TICKS_MMIO_READ 0x1a8
#define LHT_REG_BENCH_TICKS_PSCI 0x1b0 /* HVC #0 with PSCI_VERSION: the backend's PSCI */
/* The interrupt benchmark (tests/guests/bench/bench-irq.c): loops of LHT_REG_BENCH_ITERATIONS
 * operations, the same loop shape for the MMIO write it is compared with. */
#define LHT_REG_BENCH_TICKS_SPI 0x1b8	   /* LHT_BENCH_SPI_PULSE write -> handler -> EOI */
#define LHT_REG_BENCH_TICKS_SPI_BASE 0x1c0 /* the same loop writing the no-op register */
#define LHT_REG_BENCH_TICKS_SGI 0x1c8	   /* SGI round trips vCPU 0 -> 1 -> 0, both in WFI */
/* Sums over the iterations of (handler entry - CNTV_CVAL_EL0), in ticks: not loops. */
#define LHT_REG_BENCH_TICKS_VTIMER 0x1d0     /* the vCPU spinning */
#define LHT_REG_BENCH_TICKS_VTIMER_WFI 0x1d8 /* the vCPU in WFI */
/* Timer iterations that did not count: the backstop ended them, not the virtual timer (a lost
 * interrupt), in WFI and running. */
#define LHT_REG_BENCH_VTIMER_LOST 0x1e0
#define LHT_REG_BENCH_VTIMER_LOST_RUNNING 0x1e8
#define LHT_BENCH_RESULTS 14

#ifndef __ASSEMBLER__
/* ---- values ---- */
/* LHT_REG_CAPS bits: the read-only page is mapped; HYP_CAP_NO_SYNDROME_EXITS;
 * HYP_CAP_SMCCC_HVC_EXITS (the vendor call reaches the driver's hyp_vm_add_smccc_handler()
 * callback); HYP_CAP_IRQ_INJECTION; HYP_CAP_CUSTOM_MPIDR (the header's affinities are in use);
 * HYP_CAP_INJECT_EXCEPTIONS has HYP_INJECT_DATA_ABORT (the driver can answer a refused access
 * with an external abort; without it, guests must not make such accesses). */
#define LHT_CAP_ROM (1u << 0)
#define LHT_CAP_NO_SYNDROME (1u << 1)
#define LHT_CAP_SMCCC_HVC (1u << 2)
#define LHT_CAP_IRQCHIP (1u << 3)
#define LHT_CAP_CUSTOM_MPIDR (1u << 4)
#define LHT_CAP_INJECT_DABT (1u << 5)
#define LHT_CAP_DIRTY_LOG (1u << 6)  /* HYP_CAP_DIRTY_LOG */
#define LHT_CAP_DIRTY_RING (1u << 7) /* the VM has the dirty ring the header asked for */

/* LHT_REG_CHECK operations. The driver prints one TAP line per check. */
enum lht_check_op {
	LHT_CHECK_EQ = 1, /* actual == expect */
	LHT_CHECK_NE,	  /* actual != expect */
	LHT_CHECK_LE,	  /* actual <= expect, unsigned */
	LHT_CHECK_GE,	  /* actual >= expect, unsigned */
	LHT_CHECK_SKIP,	  /* a skipped test: NAME, and ACTUAL = IPA of the reason string */
	LHT_CHECK_NOTE,	  /* no test: print "NAME: ACTUAL" as a TAP comment */
};

/* LHT_REG_CHECK_DEPENDS. */
enum lht_depends {
	LHT_DEPENDS_NONE = 0,
	/* The hardware reports ESR_EL2.ISS.SSE for sign-extending loads (Arm ARM D17.2.37), so
	 * the hypervisor can complete LDRSB/LDRSH/LDRSW. Driver name: "iss-sse". */
	LHT_DEPENDS_ISS_SSE,
	/* An external abort injected by the hypervisor has ESR_EL1[63:32] clear (ISS2 is RES0
	 * for it, Arm ARM D17.2.40). Driver name: "kvm-esr-upper". */
	LHT_DEPENDS_ESR_UPPER_CLEAR,
	/* The virtual timer's interrupt wakes a vCPU blocked in WFI inside KVM: nested under
	 * QEMU 7.2 TCG, Linux 6.1 KVM occasionally (about one suite run in ten) never delivers it.
	 * Driver name: "nested-vtimer". */
	LHT_DEPENDS_VTIMER_WAKEUP,
	/* The GIC follows the architecture where Linux KVM's vGICv3 (the rig's host kernels, 6.1
	 * and 6.12) is seen not to: it ignores ICC_SGI1R_EL1.RS (RS 1 bit 2 reaches Aff0 2); on
	 * 6.1 its IRM = 1 broadcast leaves out the vCPU created at the sender's index instead of
	 * the sender (with vCPUs created out of id order the sender gets its own SGI and another
	 * vCPU none); an edge SPI it holds in a list register reads as not pending in
	 * GICD_ISPENDR. Driver name: "kvm-vgic". */
	LHT_DEPENDS_KVM_VGIC,
	LHT_DEPENDS_COUNT
};

/* LHT_REG_EXIT values other than 0. */
#define LHT_EXIT_UNEXPECTED_EXCEPTION 1

/* LHT_REG_FOREIGN_TYPE. */
enum lht_foreign_type {
	LHT_FOREIGN_NONE = 0,
	LHT_FOREIGN_MMIO,	 /* an MMIO exit (HYP_EXIT_MMIO) */
	LHT_FOREIGN_NO_SYNDROME, /* HYP_EXIT_MEM_FAULT, HYP_FAULT_NO_SYNDROME */
	LHT_FOREIGN_OTHER_FAULT, /* HYP_EXIT_MEM_FAULT of another kind */
};

/* LHT_REG_FOREIGN_ANSWER. */
enum lht_foreign_answer {
	LHT_ANSWER_NONE = 0,
	LHT_ANSWER_COMPLETED, /* reads got data (zero, or ROM bytes), writes were dropped */
	LHT_ANSWER_ABORT,     /* hyp_vcpu_inject_exception(HYP_INJECT_DATA_ABORT) */
	LHT_ANSWER_REFUSED,   /* injection failed: the driver stopped the VM */
};

/* For a guest with LHT_F_BENCH: an MMIO window whose callback does nothing (writes dropped, reads
 * 0), and a vendor hypervisor call whose handler only sets X0 = 0 (reached where the backend has
 * HYP_CAP_SMCCC_HVC_EXITS; elsewhere the backend answers it, NOT_SUPPORTED). */
#define LHT_BENCH_MMIO_BASE 0x0b100000ull
#define LHT_BENCH_MMIO_SIZE 0x1000ull
#define LHT_BENCH_FID 0xc6000b00u
/* In that window (LHT_F_BENCH): a 64-bit write of an SPI INTID here makes the VMM's callback
 * pulse that SPI (hyp_vm_set_spi() to 1, then to 0), as a device model signalling an edge. */
#define LHT_BENCH_SPI_PULSE 0x8ull

/* The vendor-specific hypervisor call the driver registers with hyp_vm_add_smccc_handler():
 * SMC64/HVC64 fast call, owner 6 (Vendor Specific Hypervisor Service, SMCCC section 6). It takes
 * X1..X7 and returns in X0..X3: */
#define LHT_VENDOR_FID 0xc6000a11u
#define LHT_VENDOR_MAGIC 0x4c48542d534d4343ull /* "LHT-SMCC" */
static inline void lht_vendor_results(const uint64_t a[7], uint64_t r[4])
{
	uint64_t sum = 0, x = 0;

	for (int i = 0; i < 7; i++) {
		sum += a[i] * (uint64_t)(2 * i + 1);
		x ^= a[i] << i;
	}
	r[0] = sum;
	r[1] = x;
	r[2] = a[6] - a[0];
	r[3] = LHT_VENDOR_MAGIC ^ a[3];
}

/* How long the driver waits after LHT_REG_KICK_ARM before kicking. */
#define LHT_KICK_DELAY_MS 200u

/* The byte at offset @off of the scratch window. Bit 7 is always set, so every LDRSB/LDRSH/LDRSW
 * of it has something to sign-extend. */
static inline uint8_t lht_scratch_byte(uint64_t off)
{
	return (uint8_t)(0x80u | ((off * 0x35u + 0x1bu) & 0x7fu));
}

/* The little-endian value of @len bytes at scratch offset @off. */
static inline uint64_t lht_scratch_value(uint64_t off, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)lht_scratch_byte(off + i) << (8 * i);
	return v;
}

/* The byte at offset @off of the read-only page. */
static inline uint8_t lht_rom_byte(uint64_t off)
{
	return (uint8_t)((off * 0x9du) ^ (off >> 8) ^ 0x5au);
}

/* ---- guest image header ----
 *
 * A guest image is a flat binary loaded at LHT_RAM_BASE and entered at its first byte with
 * X0 = 0 on vCPU 0. The first instruction branches over this header, which sits at byte offset
 * LHT_HEADER_OFFSET and tells the driver how to run the guest. */
#define LHT_HEADER_OFFSET 8
#define LHT_HEADER_MAGIC 0x4754484cu /* "LHTG" */
#define LHT_HEADER_VERSION 1u

/* struct lht_header.flags */
#define LHT_F_EXPECT_RESET (1u << 0)  /* the guest ends with PSCI SYSTEM_RESET, not SYSTEM_OFF */
#define LHT_F_NEEDS_IRQCHIP (1u << 1) /* skip the guest when the VM has no interrupt controller */
#define LHT_F_BENCH (1u << 2)	      /* the benchmark: LHT_BENCH_* and LHT_REG_BENCH_* */
/* The guest touches unclaimed addresses and makes faults on purpose: the VMM answers them
 * architecturally (aborts, skipped cache maintenance) instead of failing the guest. */
#define LHT_F_HOSTILE (1u << 3)

/* struct lht_header.cpu_features: CPU features the guest needs. The driver gives them to the VM
 * where the backend can (kvm: struct hyp_kvm_config.cpu_features; SVE with vector lengths up to
 * LHT_SVE_MAX_VL bytes) and reports the guest as skipped, with the reason, where it cannot (a
 * host without the feature, a backend without the option). */
#define LHT_FEAT_PMU (1u << 0)
#define LHT_FEAT_SVE (1u << 1)
#define LHT_FEAT_PAUTH (1u << 2)
#define LHT_FEAT_MTE (1u << 3)
#define LHT_SVE_MAX_VL 32u

struct lht_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nr_vcpus; /* 1..LHT_MAX_VCPUS */
	uint32_t flags;
	uint32_t timeout_ms;   /* the watchdog; 0 means the driver's default */
	uint32_t cpu_features; /* LHT_FEAT_* */
	/* Affinity for each vCPU's hyp_vcpu_config.mpidr; 0 keeps libhyp's default. A request:
	 * on a backend without HYP_CAP_CUSTOM_MPIDR the driver checks that libhyp refuses it
	 * and uses the default (see LHT_REG_MPIDR). */
	uint64_t mpidr[LHT_MAX_VCPUS];
	/* struct hyp_vm_config.dirty_ring_entries for the VM (0: none). A host without a ring that
	 * large gets a VM without one (-ENOTSUP checked against HYP_CAP_DIRTY_RING) and the guest
	 * sees no LHT_CAP_DIRTY_RING. */
	uint32_t dirty_ring_entries;
};

#endif /* !__ASSEMBLER__ */

#endif /* LHT_PROTOCOL_H */
