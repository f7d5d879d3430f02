/* SPDX-License-Identifier: MIT */
/*
 * mem-ro: read-only guest memory (hyp_vm_map() without HYP_MEM_WRITE).
 *
 * Reads are ordinary memory reads and never leave the guest. A store is a stage-2 permission
 * fault, which libhyp reports as an MMIO write (HYP_CAP_READONLY_MEM), so a VMM can emulate a ROM
 * or flash device on top of it; the driver's callback drops the write. The memory must be
 * unchanged afterwards and the guest must simply continue (no abort: the write was completed by
 * the VMM, as a ROM ignores writes).
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

static uint64_t rom_value(uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)lht_rom_byte(off + i) << (8 * i);
	return v;
}

static void expect_write(const char *what, uint64_t before, uint64_t off, uint64_t len,
			 uint64_t data)
{
	char name[112];

#define NAME(s) lht_concat(name, sizeof(name), what, s)
	lht_check_eq(NAME(": exactly one exit"), lht_reg_read(LHT_REG_FOREIGN_COUNT), before + 1);
	lht_check_eq(NAME(": reported as an MMIO write"), lht_reg_read(LHT_REG_FOREIGN_TYPE),
		     LHT_FOREIGN_MMIO);
	lht_check_eq(NAME(": ... that is a write"), lht_reg_read(LHT_REG_FOREIGN_WRITE), 1);
	lht_check_eq(NAME(": ... at the IPA"), lht_reg_read(LHT_REG_FOREIGN_IPA),
		     LHT_ROM_BASE + off);
	lht_check_eq(NAME(": ... of the size"), lht_reg_read(LHT_REG_FOREIGN_LEN), len);
	lht_check_eq(NAME(": ... with the data"), lht_reg_read(LHT_REG_FOREIGN_DATA), data);
	lht_check_eq(NAME(": memory unchanged"), mmio_read64(LHT_ROM_BASE + (off & ~7ull)),
		     rom_value(off & ~7ull, 8));
#undef NAME
}

void guest_main(void)
{
	uint64_t before;

	if (!(lht_caps() & LHT_CAP_ROM)) {
		lht_skip("read-only memory", "the backend has no read-only memory "
					     "(HYP_CAP_READONLY_MEM = 0)");
		return;
	}

	/* Reads: the contents the VMM put there, and no exit. */
	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	lht_check_eq("LDR X of the first doubleword", mmio_read64(LHT_ROM_BASE), rom_value(0, 8));
	lht_check_eq("LDRH of an odd halfword", mmio_read16(LHT_ROM_BASE + 0x302),
		     rom_value(0x302, 2));
	lht_check_eq("LDRB of the last byte", mmio_read8(LHT_ROM_BASE + LHT_ROM_SIZE - 1),
		     rom_value(LHT_ROM_SIZE - 1, 1));
	lht_check_eq("reads did not exit to the VMM", lht_reg_read(LHT_REG_FOREIGN_COUNT), before);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write8(LHT_ROM_BASE + 0x11, 0xa5);
	expect_write("STRB to read-only memory", before, 0x11, 1, 0xa5);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write16(LHT_ROM_BASE + 0x222, 0x1234);
	expect_write("STRH to read-only memory", before, 0x222, 2, 0x1234);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write32(LHT_ROM_BASE + 0x444, 0xdeadbeef);
	expect_write("STR W to read-only memory", before, 0x444, 4, 0xdeadbeef);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	mmio_write64(LHT_ROM_BASE + 0xff8, 0x0123456789abcdefull);
	expect_write("STR X to read-only memory", before, 0xff8, 8, 0x0123456789abcdefull);

	before = lht_reg_read(LHT_REG_FOREIGN_COUNT);
	__asm__ volatile("str xzr, [%0]" ::"r"(LHT_ROM_BASE + 0x800) : "memory");
	expect_write("STR XZR to read-only memory", before, 0x800, 8, 0);

	/* The whole page is still what the VMM wrote. */
	{
		uint64_t bad = 0;

		for (uint64_t off = 0; off < LHT_ROM_SIZE; off += 8)
			if (mmio_read64(LHT_ROM_BASE + off) != rom_value(off, 8))
				bad++;
		lht_check_eq("no doubleword of the page changed", bad, 0);
	}
}
