// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/trap/s1walk.c, the software stage-1 walk of the EL1&0 regime.
 *
 * Tables are built in a host buffer standing for guest RAM, from the VMSAv8-64 descriptor formats
 * (Arm ARM DDI 0487, D8.3: table descriptor bits[1:0] = 11 at levels 0-2, block = 01 at the
 * levels that allow one, page = 11 at level 3, AF bit 10, AP[2:1] bits [7:6], output address in
 * bits [47:granule], OA[51:48] in bits [15:12] with the 64K granule and 52-bit PAs), and TCR_EL1
 * field positions (D19.2.139: T0SZ [5:0], EPD0 7, TG0 [15:14], T1SZ [21:16], EPD1 23,
 * TG1 [31:30], IPS [34:32], TBI0 37, TBI1 38, HA 39, TBID0 51, TBID1 52, DS 59).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "trap/s1walk.h"

#define MEM_BASE 0x40000000ull
#define MEM_SIZE (4u << 20)

static uint8_t mem[MEM_SIZE] __attribute__((aligned(65536)));
static unsigned reads;

static int read_desc(void *opaque, hyp_ipa_t ipa, uint64_t *desc)
{
	(void)opaque;
	reads++;
	if (ipa < MEM_BASE || ipa + 8 > MEM_BASE + MEM_SIZE || (ipa & 7))
		return -EFAULT;
	memcpy(desc, &mem[ipa - MEM_BASE], 8);
	return 0;
}

static unsigned writes;
static uint64_t last_write_ipa, last_write_desc;
/* Another CPU at work: before each of the next @race_count updates, the descriptor at @race_ipa
 * is replaced with @race_desc, as if written between the walk's read and its update. */
static unsigned race_count;
static uint64_t race_ipa, race_desc, race_toggle; /* race_desc ^= race_toggle after each */

/* hyp_s1_write_fn: a compare-and-swap, as the real one (lib/core/emulate.c). */
static int write_desc(void *opaque, hyp_ipa_t ipa, uint64_t old, uint64_t desc)
{
	uint64_t now;

	(void)opaque;
	writes++;
	if (ipa < MEM_BASE || ipa + 8 > MEM_BASE + MEM_SIZE || (ipa & 7))
		return -EFAULT;
	if (race_count && ipa == race_ipa) {
		race_count--;
		memcpy(&mem[ipa - MEM_BASE], &race_desc, 8);
		race_desc ^= race_toggle;
	}
	memcpy(&now, &mem[ipa - MEM_BASE], 8);
	if (now != old)
		return -EAGAIN;
	memcpy(&mem[ipa - MEM_BASE], &desc, 8);
	last_write_ipa = ipa;
	last_write_desc = desc;
	return 0;
}

static uint64_t get(uint64_t ipa)
{
	uint64_t d;

	memcpy(&d, &mem[ipa - MEM_BASE], 8);
	return d;
}

static void put(uint64_t ipa, uint64_t desc)
{
	memcpy(&mem[ipa - MEM_BASE], &desc, 8);
}

#define TABLE 3ull
#define PAGE 3ull
#define BLOCK 1ull
#define AF (1ull << 10)
#define AP_EL0 (1ull << 6)
#define AP_RO (1ull << 7)

#define SCTLR_M 1ull
#define TCR_T0SZ(n) ((uint64_t)(n))
#define TCR_T1SZ(n) ((uint64_t)(n) << 16)
#define TCR_TG0_4K (0ull << 14)
#define TCR_TG0_64K (1ull << 14)
#define TCR_TG0_16K (2ull << 14)
#define TCR_TG1_16K (1ull << 30)
#define TCR_TG1_4K (2ull << 30)
#define TCR_TG1_64K (3ull << 30)
#define TCR_IPS(n) ((uint64_t)(n) << 32)
#define TCR_EPD0 (1ull << 7)
#define TCR_EPD1 (1ull << 23)
#define TCR_TBI0 (1ull << 37)
#define TCR_HA (1ull << 39)
#define TCR_HD (1ull << 40)
#define DBM (1ull << 51)
#define TCR_TBID0 (1ull << 51)
#define TCR_DS (1ull << 59)

static int walk(const struct hyp_s1_regime *r, uint64_t va, unsigned access,
		struct hyp_s1_result *res)
{
	reads = 0;
	writes = 0;
	return hyp_trap_s1_translate(r, va, access, read_desc, write_desc, NULL, res);
}

static void expect_ipa(const struct hyp_s1_regime *r, uint64_t va, unsigned access, uint64_t ipa)
{
	struct hyp_s1_result res;

	assert_int_equal(walk(r, va, access, &res), 0);
	assert_int_equal(res.ipa, ipa);
}

static void expect_fault(const struct hyp_s1_regime *r, uint64_t va, unsigned access, int err,
			 unsigned fsc)
{
	struct hyp_s1_result res;

	assert_int_equal(walk(r, va, access, &res), err);
	assert_int_equal(res.fsc, fsc);
}

static void test_mmu_off(void **state)
{
	struct hyp_s1_regime r = { .sctlr_el1 = 0, .tcr_el1 = ~0ull };

	(void)state;
	expect_ipa(&r, 0x09000010, 0, 0x09000010);
	expect_ipa(&r, 0xfffffffffffffull, HYP_S1_WRITE, 0xfffffffffffffull);
	expect_fault(&r, 1ull << 52, 0, -EFAULT, 0x00);
	assert_int_equal(reads, 0);
}

/* 4K granule, 39-bit VAs (T0SZ 25): the walk starts at level 1. */
static struct hyp_s1_regime regime_4k_39(void)
{
	memset(mem, 0, sizeof(mem));
	/* L1 at +0, L2 at +0x1000, L3 at +0x2000. */
	put(MEM_BASE + 0 * 8, (MEM_BASE + 0x1000) | TABLE);
	/* VA 0x12345678: L2 index 0x91, L3 index 0x145. */
	put(MEM_BASE + 0x1000 + 0x91 * 8, (MEM_BASE + 0x2000) | TABLE);
	put(MEM_BASE + 0x2000 + 0x145 * 8, 0x09000000ull | PAGE | AF | AP_EL0);
	/* VA 0x12346000 (L3 index 0x146): read-only, EL1 only. */
	put(MEM_BASE + 0x2000 + 0x146 * 8, 0x09001000ull | PAGE | AF | AP_RO);
	/* VA 0x12347000: access flag clear. */
	put(MEM_BASE + 0x2000 + 0x147 * 8, 0x09002000ull | PAGE);
	/* VA 0x12348000: reserved level-3 encoding (bits[1:0] = 01). */
	put(MEM_BASE + 0x2000 + 0x148 * 8, 0x09003000ull | BLOCK | AF);
	/* VA 0x40200000 + x: a 2 MiB block at level 2 (L1 index 1 -> L2 at +0x3000, index 1). */
	put(MEM_BASE + 1 * 8, (MEM_BASE + 0x3000) | TABLE);
	put(MEM_BASE + 0x3000 + 1 * 8, 0x80200000ull | BLOCK | AF);
	/* VA 0x80000000 + x: a 1 GiB block at level 1. */
	put(MEM_BASE + 2 * 8, 0xc0000000ull | BLOCK | AF);
	/* VA 0xc0000000: a table pointer outside guest RAM. */
	put(MEM_BASE + 3 * 8, 0x1000000000ull | TABLE);
	return (struct hyp_s1_regime){ .sctlr_el1 = SCTLR_M,
				       .tcr_el1 = TCR_T0SZ(25) | TCR_TG0_4K | TCR_IPS(5),
				       .ttbr0_el1 = MEM_BASE | 1 /* CnP */ | (0x42ull << 48) };
}

static void test_4k_pages_and_blocks(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();

	(void)state;
	expect_ipa(&r, 0x12345678, 0, 0x09000678);
	assert_int_equal(reads, 3);
	expect_ipa(&r, 0x12345ff8, HYP_S1_WRITE | HYP_S1_EL0, 0x09000ff8);
	expect_ipa(&r, 0x40200000 + 0x1abcde, 0, 0x80200000 + 0x1abcde);
	assert_int_equal(reads, 2);
	expect_ipa(&r, 0x80000000 + 0x3fffffff, HYP_S1_FETCH, 0xc0000000 + 0x3fffffff);
	assert_int_equal(reads, 1);
}

static void test_4k_faults(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();

	(void)state;
	/* Invalid descriptors at level 1, 2 and 3. */
	expect_fault(&r, 5ull << 30, 0, -EFAULT, 0x05);
	expect_fault(&r, 0x00200000, 0, -EFAULT, 0x06);
	expect_fault(&r, 0x12349000, 0, -EFAULT, 0x07);
	/* Reserved level-3 encoding: a translation fault at level 3. */
	expect_fault(&r, 0x12348000, 0, -EFAULT, 0x07);
	/* Access flag clear: access flag fault, unless hardware AF management is on. */
	expect_fault(&r, 0x12347000, 0, -EFAULT, 0x0b);
	r.tcr_el1 |= TCR_HA;
	expect_ipa(&r, 0x12347004, 0, 0x09002004);
	/* Read-only: writes fault (permission, level 3); EL1-only: EL0 reads fault. */
	expect_ipa(&r, 0x12346000, 0, 0x09001000);
	expect_fault(&r, 0x12346000, HYP_S1_WRITE, -EFAULT, 0x0f);
	expect_fault(&r, 0x12346000, HYP_S1_EL0, -EFAULT, 0x0f);
	/* Above the 39-bit input range of TTBR0: translation fault at level 0. */
	expect_fault(&r, 1ull << 39, 0, -EFAULT, 0x04);
	assert_int_equal(reads, 0);
	/* A table outside guest RAM: external abort on the walk, at the level read. */
	expect_fault(&r, 0xc0000000ull, 0, -EIO, 0x16);
	/* EPD0: walks through TTBR0 are disabled. */
	r.tcr_el1 |= TCR_EPD0;
	expect_fault(&r, 0x12345678, 0, -EFAULT, 0x04);
}

static void test_4k_output_size(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();

	(void)state;
	/* IPS = 32 bits: the 1 GiB block at 0xc0000000 is in range, a page at 0x1_0000_0000 is
	 * not (address size fault at the level of the descriptor). */
	r.tcr_el1 = (r.tcr_el1 & ~TCR_IPS(7)) | TCR_IPS(0);
	expect_ipa(&r, 0x80000000, 0, 0xc0000000);
	put(MEM_BASE + 2 * 8, 0x100000000ull | BLOCK | AF);
	expect_fault(&r, 0x80000000, 0, -EFAULT, 0x01);
}

/* Top-byte-ignore: data accesses drop the tag; fetches too unless TBID0. */
static void test_tbi(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();
	uint64_t tagged = 0x5a00000012345678ull;

	(void)state;
	expect_fault(&r, tagged, 0, -EFAULT, 0x04);
	r.tcr_el1 |= TCR_TBI0;
	expect_ipa(&r, tagged, 0, 0x09000678);
	expect_ipa(&r, tagged, HYP_S1_FETCH, 0x09000678);
	r.tcr_el1 |= TCR_TBID0;
	expect_ipa(&r, tagged, 0, 0x09000678);
	expect_fault(&r, tagged, HYP_S1_FETCH, -EFAULT, 0x04);
}

/* 4K granule, 48-bit VAs through TTBR1 (T1SZ 16): four levels from level 0. */
static void test_4k_48_ttbr1(void **state)
{
	uint64_t va = 0xffff800000001230ull; /* L0 index 0x100, L1 0, L2 0, L3 1 */
	struct hyp_s1_regime r = { .sctlr_el1 = SCTLR_M,
				   .tcr_el1 = TCR_T0SZ(16) | TCR_T1SZ(16) | TCR_TG1_4K |
					      TCR_IPS(5) | TCR_EPD0,
				   .ttbr1_el1 = MEM_BASE + 0x10000 };

	(void)state;
	memset(mem, 0, sizeof(mem));
	put(MEM_BASE + 0x10000 + 0x100 * 8, (MEM_BASE + 0x11000) | TABLE);
	put(MEM_BASE + 0x11000, (MEM_BASE + 0x12000) | TABLE);
	put(MEM_BASE + 0x12000, (MEM_BASE + 0x13000) | TABLE);
	put(MEM_BASE + 0x13000 + 8, 0x0000fedcba987000ull | PAGE | AF);
	expect_ipa(&r, va, 0, 0x0000fedcba987230ull);
	assert_int_equal(reads, 4);
	/* A block at level 0 does not exist with 4K pages (without FEAT_LPA2). */
	put(MEM_BASE + 0x10000 + 0x100 * 8, 0x8000000000ull | BLOCK | AF);
	expect_fault(&r, va, 0, -EFAULT, 0x04);
	/* Bits [63:48] must be all ones for TTBR1. */
	expect_fault(&r, 0xfffe800000001230ull, 0, -EFAULT, 0x04);
	/* TTBR0 is disabled (EPD0) in this regime. */
	expect_fault(&r, 0x1230, 0, -EFAULT, 0x04);
}

/* 16K granule, 36-bit VAs (T0SZ 28): levels 2 and 3, 2048 entries a table. */
static void test_16k(void **state)
{
	uint64_t va = (5ull << 25) | (0x7ffull << 14) | 0x3ffc;
	struct hyp_s1_regime r = { .sctlr_el1 = SCTLR_M,
				   .tcr_el1 = TCR_T0SZ(28) | TCR_TG0_16K | TCR_IPS(2),
				   .ttbr0_el1 = MEM_BASE };

	(void)state;
	memset(mem, 0, sizeof(mem));
	put(MEM_BASE + 5 * 8, (MEM_BASE + 0x4000) | TABLE);
	put(MEM_BASE + 0x4000 + 0x7ff * 8, 0x0123450000ull | PAGE | AF);
	expect_ipa(&r, va, 0, 0x0123450000ull | 0x3ffc);
	assert_int_equal(reads, 2);
	/* A 32 MiB block at level 2. */
	put(MEM_BASE + 6 * 8, (0x0002000000ull * 7) | BLOCK | AF);
	expect_ipa(&r, (6ull << 25) + 0x1234567, 0, 0x0e000000ull + 0x1234567);
}

/* 64K granule, 42-bit VAs (T0SZ 22), and 52-bit output addresses (IPS 6) on an implementation
 * with FEAT_LPA (PAMax 52). */
static void test_64k(void **state)
{
	uint64_t va = (3ull << 29) | (0x1fffull << 16) | 0xfff8;
	struct hyp_s1_regime r = { .sctlr_el1 = SCTLR_M,
				   .tcr_el1 = TCR_T0SZ(22) | TCR_TG0_64K | TCR_IPS(6),
				   .ttbr0_el1 = MEM_BASE,
				   .pa_bits_max = 52 };

	(void)state;
	memset(mem, 0, sizeof(mem));
	put(MEM_BASE + 3 * 8, (MEM_BASE + 0x10000) | TABLE);
	/* OA[51:48] = 0xa in descriptor bits [15:12]. */
	put(MEM_BASE + 0x10000 + 0x1fff * 8, 0x0000123456780000ull | (0xaull << 12) | PAGE | AF);
	expect_ipa(&r, va, 0, 0x000a123456780000ull | 0xfff8);
	/* FEAT_LPA with a 48-bit IPS: those bits are address, and out of range. */
	r.tcr_el1 = (r.tcr_el1 & ~TCR_IPS(7)) | TCR_IPS(5);
	expect_fault(&r, va, 0, -EFAULT, 0x03);
	/* Without FEAT_LPA (PAMax 48) they are not address, and IPS 6 means 48 bits. */
	r.pa_bits_max = 48;
	expect_ipa(&r, va, 0, 0x0000123456780000ull | 0xfff8);
	r.tcr_el1 = (r.tcr_el1 & ~TCR_IPS(7)) | TCR_IPS(6);
	expect_ipa(&r, va, 0, 0x0000123456780000ull | 0xfff8);
	/* A 512 MiB block at level 2. */
	put(MEM_BASE + 4 * 8, (0x20000000ull * 9) | BLOCK | AF);
	expect_ipa(&r, (4ull << 29) + 0x1234560, 0, 0x20000000ull * 9 + 0x1234560);
}

/* 64K granule with 52-bit VAs and PAs: TTBR0 bits [5:2] are BADDR[51:48], and the first table
 * is at least 64-byte aligned (its low BADDR bits are RES0, taken as zero); level-1 blocks exist
 * only with FEAT_LPA. */
static void test_64k_52(void **state)
{
	/* T0SZ 12: 52-bit VAs, level 1 first (2^4 entries... 52 - 16 - 2 * 13 = 10 bits). */
	struct hyp_s1_regime r = { .sctlr_el1 = SCTLR_M,
				   .tcr_el1 = TCR_T0SZ(12) | TCR_TG0_64K | TCR_IPS(6),
				   .ttbr0_el1 = (MEM_BASE + 0x10000) | (0x8ull << 2) |
						(0x5ull << 3),
				   .pa_bits_max = 52 };
	struct hyp_s1_result res;

	(void)state;
	memset(mem, 0, sizeof(mem));
	/* BADDR[51:48] = 8 is outside our buffer: the walk reads there and fails. */
	assert_int_equal(walk(&r, 0x1230, 0, &res), -EIO);
	assert_int_equal(res.fsc, 0x15);
	/* BADDR[51:48] = 0 and stray bits below the 8 KiB table size (and CnP): the table is at
	 * MEM_BASE + 0x10000. */
	r.ttbr0_el1 = (MEM_BASE + 0x10000) | 0x1fc0 | 1;
	/* A 4 TiB block at level 1 (VA bits [41:0]): index 1. */
	put(MEM_BASE + 0x10000 + 1 * 8, (0x40000000000ull * 3) | BLOCK | AF);
	expect_ipa(&r, 0x40000000000ull + 0x123456789ull, 0, 0x40000000000ull * 3 + 0x123456789ull);
	assert_int_equal(reads, 1);
	/* Without FEAT_LPA, a level-1 block does not exist with 64K pages. */
	r.pa_bits_max = 48;
	r.tcr_el1 = TCR_T0SZ(16) | TCR_TG0_64K | TCR_IPS(5);
	put(MEM_BASE + 0x10000 + 0 * 8, 0 | BLOCK | AF);
	expect_fault(&r, 0x1230, 0, -EFAULT, 0x05);
}

/* Hardware management of the access flag (TCR_EL1.HA) and dirty state (HD + DBM): the walk
 * updates the descriptor as the MMU would, and allows the access. */
static void test_hardware_flags(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();
	const uint64_t l3 = MEM_BASE + 0x2000;

	(void)state;
	/* VA 0x12347000: AF clear. With HA, the walk sets it. */
	r.tcr_el1 |= TCR_HA;
	expect_ipa(&r, 0x12347008, 0, 0x09002008);
	assert_int_equal(writes, 1);
	assert_int_equal(last_write_ipa, l3 + 0x147 * 8);
	assert_true(get(l3 + 0x147 * 8) & AF);
	/* Set now: no more writes. */
	expect_ipa(&r, 0x12347008, 0, 0x09002008);
	assert_int_equal(writes, 0);
	/* VA 0x12346000 read-only: a write faults unless HA+HD and DBM. */
	expect_fault(&r, 0x12346000, HYP_S1_WRITE, -EFAULT, 0x0f);
	put(l3 + 0x146 * 8, get(l3 + 0x146 * 8) | DBM);
	expect_fault(&r, 0x12346000, HYP_S1_WRITE, -EFAULT, 0x0f);
	r.tcr_el1 |= TCR_HD;
	expect_ipa(&r, 0x12346000, HYP_S1_WRITE, 0x09001000);
	assert_int_equal(writes, 1);
	assert_false(get(l3 + 0x146 * 8) & AP_RO); /* dirty: writable now */
	/* Reads of a DBM page do not dirty it. */
	put(l3 + 0x146 * 8, get(l3 + 0x146 * 8) | AP_RO);
	expect_ipa(&r, 0x12346000, 0, 0x09001000);
	assert_int_equal(writes, 0);
}

/* The update is a compare-and-swap: a descriptor another CPU changed between the walk's read and
 * its update is read again, never overwritten with the stale one (Linux unmapping a page must
 * not see the mapping come back), and a descriptor that changes without end fails the walk with
 * an external abort on it instead of looping. */
static void test_hardware_flags_race(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();
	const uint64_t l3 = MEM_BASE + 0x2000, pte = l3 + 0x147 * 8;
	uint64_t mapped = get(pte) & ~AF;
	struct hyp_s1_result res;

	(void)state;
	r.tcr_el1 |= TCR_HA;
	/* Unmapped under us: the walk sees the invalid descriptor and faults (translation,
	 * level 3); the old mapping is not written back. */
	put(pte, mapped);
	race_count = 1, race_ipa = pte, race_desc = 0;
	expect_fault(&r, 0x12347008, 0, -EFAULT, 0x07);
	assert_int_equal(get(pte), 0);
	/* Remapped under us to another page, AF clear: the walk takes the new page and sets AF on
	 * the new descriptor. */
	put(pte, mapped);
	race_count = 1, race_ipa = pte, race_desc = (0x09005000ull | PAGE | (mapped & 0xfc0));
	expect_ipa(&r, 0x12347008, 0, 0x09005008);
	assert_int_equal(get(pte), race_desc | AF);
	/* A descriptor that changes at every attempt: a bounded number of tries, then an external
	 * abort on the walk (level 3). */
	put(pte, mapped);
	race_count = 1000, race_ipa = pte, race_toggle = 1ull << 55; /* a software bit */
	race_desc = mapped ^ race_toggle;
	reads = 0;
	writes = 0;
	assert_int_equal(
		hyp_trap_s1_translate(&r, 0x12347008, 0, read_desc, write_desc, NULL, &res), -EIO);
	assert_int_equal(res.fsc, 0x17);
	assert_true(writes > 1 && writes <= 16);
	race_count = 0;
	race_toggle = 0;
}

/* Instruction fetches are not checked against AP[2:1]: EL0 may execute a page it cannot read
 * (execute-only, AP[1] = 0), which only UXN forbids. */
static void test_fetch_permissions(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();

	(void)state;
	expect_fault(&r, 0x12346000, HYP_S1_EL0, -EFAULT, 0x0f);
	expect_ipa(&r, 0x12346000, HYP_S1_EL0 | HYP_S1_FETCH, 0x09001000);
}

static void test_not_modelled(void **state)
{
	struct hyp_s1_regime r = regime_4k_39();
	struct hyp_s1_result res;

	(void)state;
	r.sctlr_el1 |= 1ull << 25; /* EE: big-endian walks */
	assert_int_equal(walk(&r, 0x12345678, 0, &res), -ENOTSUP);
	r = regime_4k_39();
	r.tcr_el1 |= TCR_DS;
	assert_int_equal(walk(&r, 0x12345678, 0, &res), -ENOTSUP);
}

/* Hostile registers and tables: any TCR, any TTBR, random descriptors. The walk ends (at most
 * five reads) and never reads outside what the callback allows. */
static uint64_t xorshift_state = 88172645463325252ull;

static uint64_t next_random(void)
{
	uint64_t x = xorshift_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return xorshift_state = x;
}

static void test_random(void **state)
{
	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct hyp_s1_regime r;
		struct hyp_s1_result res;
		int ret;

		if (i % 1000 == 0) {
			for (size_t j = 0; j < 65536; j += 8) {
				uint64_t d = next_random();
				/* Mostly valid descriptors pointing back into the buffer. */
				if (d & 1)
					d = (d & 0xfff000000000ffffull) |
					    ((MEM_BASE + (d >> 20) % MEM_SIZE) & ~0xffffull);
				memcpy(&mem[j], &d, 8);
			}
		}
		r.sctlr_el1 = next_random() | SCTLR_M;
		r.sctlr_el1 &= ~(1ull << 25);
		r.tcr_el1 = next_random() & ~TCR_DS;
		r.ttbr0_el1 = MEM_BASE + (next_random() % 16) * 0x1000;
		r.ttbr1_el1 = next_random();
		r.pa_bits_max = (unsigned)(next_random() % 64);
		ret = walk(&r, next_random(), (unsigned)next_random() & 7, &res);
		assert_true(ret == 0 || ret == -EFAULT || ret == -EIO);
		assert_true(reads <= 5);
		if (ret)
			assert_true(res.fsc <= 0x17);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmu_off),
		cmocka_unit_test(test_4k_pages_and_blocks),
		cmocka_unit_test(test_4k_faults),
		cmocka_unit_test(test_4k_output_size),
		cmocka_unit_test(test_tbi),
		cmocka_unit_test(test_4k_48_ttbr1),
		cmocka_unit_test(test_16k),
		cmocka_unit_test(test_64k),
		cmocka_unit_test(test_not_modelled),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_64k_52),
		cmocka_unit_test(test_hardware_flags),
		cmocka_unit_test(test_hardware_flags_race),
		cmocka_unit_test(test_fetch_permissions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
