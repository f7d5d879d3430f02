/* SPDX-License-Identifier: MIT */
/*
 * The EL2 stage-1 identity map, built by the boot CPU with the MMU still off.
 *
 * Runs before the MMU is on, when every data access is Device-nGnRnE (Arm ARM D8.2.10): this file
 * is compiled with -mstrict-align (no unaligned accesses) and -fno-tree-loop-distribute-patterns
 * (no calls to memset, which is built without -mstrict-align), and calls nothing but the PSCI
 * SMC wrapper on its failure path.
 *
 * The map (VMSAv8-64, 4 KiB granule, T0SZ = 32: level 1 start, Arm ARM D8.2):
 *   GIC distributor + redistributors   2 MiB block, Device-nGnRE, XN
 *   PL011                               one page, Device-nGnRE, XN
 *   firmware image                      pages: .text RO+X, .rodata RO, the rest RW; the guard page
 *                                       under each CPU stack is left unmapped
 *   rest of RAM                         2 MiB blocks, Normal write-back, RW, XN
 * Everything else faults (into fw_vectors, which reports it).
 */
#include "fw.h"

/* Descriptor bits (Arm ARM D8.3): valid, table/page, AttrIndx[4:2], AP[7:6], SH[9:8], AF[10],
 * XN[54] (the EL2 regime has a single privilege level: XN is bit 54, AP[1] is RES1). */
#define D_VALID (1ull << 0)
#define D_TABLE (1ull << 1)
#define D_PAGE (1ull << 1)
#define D_ATTR(i) ((uint64_t)(i) << 2)
#define D_AP_RW (1ull << 6)
#define D_AP_RO (3ull << 6)
#define D_SH_INNER (3ull << 8)
#define D_AF (1ull << 10)
#define D_XN (1ull << 54)

#define PROT_DEVICE (D_ATTR(FW_ATTR_DEVICE) | D_AP_RW | D_AF | D_XN)
#define PROT_RW (D_ATTR(FW_ATTR_NORMAL) | D_SH_INNER | D_AP_RW | D_AF | D_XN)
#define PROT_RO (D_ATTR(FW_ATTR_NORMAL) | D_SH_INNER | D_AP_RO | D_AF | D_XN)
#define PROT_RX (D_ATTR(FW_ATTR_NORMAL) | D_SH_INNER | D_AP_RO | D_AF)

#define BLOCK_2M 0x200000ull
#define NR_TABLES 16

/* fw_pgd is the level-1 table (TTBR0_EL2, start.S); the others are level 2 and 3 tables. */
uint64_t fw_pgd[512] __attribute__((section(".pgtables"), aligned(FW_PAGE_SIZE)));
static uint64_t tables[NR_TABLES][512] __attribute__((section(".pgtables"), aligned(FW_PAGE_SIZE)));
static unsigned int tables_used;

static uint64_t *new_table(void)
{
	uint64_t *t;

	if (tables_used >= NR_TABLES)
		return 0;
	t = tables[tables_used++];
	for (unsigned int i = 0; i < 512; i++)
		t[i] = 0;
	return t;
}

/* The next-level table under @entry, made if missing. */
static uint64_t *next_table(uint64_t *entry)
{
	uint64_t *t;

	if (*entry & D_VALID)
		return (uint64_t *)(uintptr_t)(*entry & 0x0000fffffffff000ull);
	t = new_table();
	if (t)
		*entry = (uint64_t)(uintptr_t)t | D_TABLE | D_VALID;
	return t;
}

/* Identity-map [base, base + size) with @prot: 2 MiB blocks where aligned, pages elsewhere.
 * Returns false if the tables ran out. */
static bool map(uint64_t base, uint64_t size, uint64_t prot)
{
	uint64_t end = base + size;

	while (base < end) {
		uint64_t *l2 = next_table(&fw_pgd[(base >> 30) & 511]);
		uint64_t *l3;

		if (!l2)
			return false;
		if (!(base & (BLOCK_2M - 1)) && end - base >= BLOCK_2M &&
		    !(l2[(base >> 21) & 511] & D_VALID)) {
			l2[(base >> 21) & 511] = base | prot | D_VALID;
			base += BLOCK_2M;
			continue;
		}
		l3 = next_table(&l2[(base >> 21) & 511]);
		if (!l3)
			return false;
		l3[(base >> 12) & 511] = base | prot | D_PAGE | D_VALID;
		base += FW_PAGE_SIZE;
	}
	return true;
}

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Called from start.S on the boot CPU, MMU off. */
void fw_mmu_build(void)
{
	uint64_t stacks = addr(__stacks_start), line;
	bool ok = true;

	for (unsigned int i = 0; i < 512; i++)
		fw_pgd[i] = 0;
	tables_used = 0;

	ok &= map(FW_GIC_WINDOW_BASE, FW_GIC_WINDOW_SIZE, PROT_DEVICE);
	ok &= map(FW_UART_BASE, FW_PAGE_SIZE, PROT_DEVICE);
	ok &= map(FW_RTC_BASE, FW_PAGE_SIZE, PROT_DEVICE);
	ok &= map(FW_VIRTIO_MMIO_BASE, FW_VIRTIO_MMIO_SLOTS * FW_VIRTIO_MMIO_SLOT_SIZE,
		  PROT_DEVICE);

	ok &= map(addr(__text_start), addr(__text_end) - addr(__text_start), PROT_RX);
	ok &= map(addr(__rodata_start), addr(__rodata_end) - addr(__rodata_start), PROT_RO);
	ok &= map(addr(__data_start), stacks - addr(__data_start), PROT_RW);
	for (unsigned int cpu = 0; cpu < FW_MAX_CPUS; cpu++)
		ok &= map(stacks + (uint64_t)cpu * FW_STACK_SLOT + FW_PAGE_SIZE, FW_STACK_SIZE,
			  PROT_RW);
	ok &= map(stacks + (uint64_t)FW_MAX_CPUS * FW_STACK_SLOT,
		  addr(__image_end) - (stacks + (uint64_t)FW_MAX_CPUS * FW_STACK_SLOT), PROT_RW);
	/* The pool, the partitions' RAM and whatever else there is. */
	ok &= map(addr(__image_end), FW_RAM_BASE + (uint64_t)FW_RAM_SIZE - addr(__image_end),
		  PROT_RW);
	if (!ok) {
		/* Out of table pages: the image grew past what NR_TABLES covers. Say so with
		 * plain stores to the UART (nothing else is safe yet) and stop. */
		static const char msg[] = "el2-firmware: FATAL: mmu.c ran out of table pages\r\n";

		for (const char *p = msg; *p; p++)
			mmio_write32(FW_UART_BASE, (uint8_t)*p);
		fw_psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
		for (;;)
			wfi();
	}

	/* The tables were written with the MMU off (non-cacheable), the walker will read them
	 * through the caches (TCR_EL2.IRGN0/ORGN0 = write-back): drop any stale line first
	 * (Arm ARM D7.5.9, data cache maintenance). */
	line = 4ull << ((read_sysreg(ctr_el0) >> 16) & 0xf); /* CTR_EL0.DminLine, in words */
	dsb(sy);
	for (uint64_t a = addr(__pgtables_start); a < addr(__pgtables_end); a += line)
		__asm__ volatile("dc ivac, %0" ::"r"(a) : "memory");
	dsb(sy);
}
