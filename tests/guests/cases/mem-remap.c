/* SPDX-License-Identifier: MIT */
/*
 * mem-remap: the memory map changed from inside an exit callback (hyp_vcpu_exit_map() and
 * hyp_vcpu_exit_unmap()), what a flash device does when it leaves read-array mode and returns.
 *
 * The remap window starts as MMIO. A write to LHT_REG_REMAP makes the device's callback map the
 * read-only page's memory there: from the next instruction on, reads are memory (no exit) and a
 * store exits as an MMIO write (read-only memory). Unmapping turns it back into MMIO at once. The
 * callback's calls return 0, and the errors of hyp_vm_map()/hyp_vm_unmap() where due (-EEXIST,
 * -ENOENT). One vCPU: with others inside hyp_vcpu_run() the calls return -EBUSY (unit-tested on
 * the mock backend).
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

/* libhyp's errno values are Linux's on every build (<libhyp/errno.h>). */
#define ENOENT 2
#define EEXIST 17

static uint64_t rom_value(uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)lht_rom_byte(off + i) << (8 * i);
	return v;
}

static void expect_mmio(const char *what, uint64_t off)
{
	uint64_t before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	char name[112];

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": the device's answer"), mmio_read64(LHT_REMAP_BASE + off),
		     0x0101010101010101ull * LHT_REMAP_MMIO_BYTE);
	lht_check_eq(NAME(": one exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT), before + 1);
	lht_check_eq(NAME(": ... at the IPA"), lht_reg_read(LHT_REG_FOREIGN_IPA),
		     LHT_REMAP_BASE + off);
#undef NAME
}

static void expect_memory(const char *what)
{
	uint64_t before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	char name[112];

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": LDR X reads the memory"), mmio_read64(LHT_REMAP_BASE),
		     rom_value(0, 8));
	lht_check_eq(NAME(": LDRH of an odd halfword"), mmio_read16(LHT_REMAP_BASE + 0x402),
		     rom_value(0x402, 2));
	lht_check_eq(NAME(": LDRB of the last byte"),
		     mmio_read8(LHT_REMAP_BASE + LHT_REMAP_SIZE - 1),
		     rom_value(LHT_REMAP_SIZE - 1, 1));
	lht_check_eq(NAME(": no exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT), before);
#undef NAME
}

void guest_main(void)
{
	uint64_t before, rounds = 0;

	if (!(lht_caps() & LHT_CAP_ROM)) {
		lht_skip("changing the memory map from an exit callback",
			 "the backend has no read-only memory (HYP_CAP_READONLY_MEM = 0)");
		return;
	}
	lht_check_eq("no call yet", lht_reg_read(LHT_REG_REMAP), 1);
	expect_mmio("before any map", 0x10);

	lht_reg_write(LHT_REG_REMAP, LHT_REMAP_MAP);
	lht_check_eq("hyp_vcpu_exit_map() from the callback", lht_reg_read(LHT_REG_REMAP), 0);
	expect_memory("mapped");

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write32(LHT_REMAP_BASE + 0x20, 0x12345678);
	lht_check_eq("a store to the read-only mapping exits", lht_reg_read(LHT_REG_FOREIGN_COUNT),
		     before + 1);
	lht_check_eq("... as an MMIO write", lht_reg_read(LHT_REG_FOREIGN_WRITE), 1);
	lht_check_eq("... and the memory is unchanged", mmio_read32(LHT_REMAP_BASE + 0x20),
		     rom_value(0x20, 4));

	lht_reg_write(LHT_REG_REMAP, LHT_REMAP_MAP);
	lht_check_eq("mapping twice overlaps", lht_reg_read(LHT_REG_REMAP), (uint64_t)-EEXIST);
	expect_memory("still mapped");

	lht_reg_write(LHT_REG_REMAP, LHT_REMAP_UNMAP);
	lht_check_eq("hyp_vcpu_exit_unmap() from the callback", lht_reg_read(LHT_REG_REMAP), 0);
	/* The first access after the unmap, right after the store that made it. */
	expect_mmio("unmapped", 0);
	expect_mmio("unmapped, elsewhere in the page", 0xff8);
	lht_reg_write(LHT_REG_REMAP, LHT_REMAP_UNMAP);
	lht_check_eq("unmapping twice finds nothing", lht_reg_read(LHT_REG_REMAP),
		     (uint64_t)-ENOENT);

	/* Back and forth, as firmware switching a flash between modes does. */
	for (unsigned int i = 0; i < 50; i++) {
		lht_reg_write(LHT_REG_REMAP, LHT_REMAP_MAP);
		if (lht_reg_read(LHT_REG_REMAP) != 0 ||
		    mmio_read64(LHT_REMAP_BASE + 8 * i) != rom_value(8 * i, 8))
			break;
		lht_reg_write(LHT_REG_REMAP, LHT_REMAP_UNMAP);
		if (lht_reg_read(LHT_REG_REMAP) != 0 ||
		    mmio_read64(LHT_REMAP_BASE + 8 * i) !=
			    0x0101010101010101ull * LHT_REMAP_MMIO_BYTE)
			break;
		rounds++;
	}
	lht_check_eq("50 map/unmap rounds", rounds, 50);
}
