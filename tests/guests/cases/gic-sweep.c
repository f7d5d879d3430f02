/* SPDX-License-Identifier: MIT */
/*
 * gic-sweep: hostile writes to the GIC, then proof that the vCPU and its GIC still work.
 *
 * Every naturally aligned access of 1, 2, 4 and 8 bytes, reads and writes of all-ones and zeros,
 * to the distributor's register blocks (GICD_CTLR..GICD_ICFGR and the other per-interrupt tables,
 * part of GICD_IROUTER, the ID registers), to this vCPU's redistributor (RD_base control registers,
 * SGI_base tables) and to reserved offsets. The GICv3 spec allows 32-bit accesses everywhere and
 * 8-bit ones to the byte-wide tables; what the GIC does with the others is its choice (RAZ/WI on
 * KVM and lib/vgic), but the guest must keep running: no abort the guest did not ask for, no
 * hang, no host crash. Afterwards the GIC is set up again and an SPI is delivered as usual.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP);

#define SPI_TEST 48

static uint64_t accesses;

static void access(uint64_t addr, unsigned int len, uint64_t value)
{
	switch (len) {
	case 1:
		(void)mmio_read8(addr);
		mmio_write8(addr, (uint8_t)value);
		break;
	case 2:
		(void)mmio_read16(addr);
		mmio_write16(addr, (uint16_t)value);
		break;
	case 4:
		(void)mmio_read32(addr);
		mmio_write32(addr, (uint32_t)value);
		break;
	default:
		(void)mmio_read64(addr);
		mmio_write64(addr, value);
		break;
	}
	accesses += 2;
}

/* Every aligned access of every width in [start, end) of a frame, with @value. */
static void sweep(uint64_t base, uint64_t start, uint64_t end, uint64_t value)
{
	for (uint64_t off = start; off < end; off += 8)
		for (unsigned int len = 1; len <= 8; len *= 2)
			for (uint64_t sub = 0; sub < 8; sub += len)
				access(base + off + sub, len, value);
}

static void sweep_all(uint64_t rd, uint64_t value)
{
	/* Distributor: CTLR..ICFGR/IGRPMODR/NSACR, the first IROUTERs, reserved space, IDs. */
	sweep(LHT_GICD_BASE, 0x0000, 0x1000, value);
	sweep(LHT_GICD_BASE, 0x6000, 0x6200, value);
	sweep(LHT_GICD_BASE, 0x8000, 0x8040, value);
	sweep(LHT_GICD_BASE, 0xffc0, 0x10000, value);
	/* Redistributor: RD_base (CTLR, IIDR, TYPER, WAKER, PROPBASER/PENDBASER...) and the
	 * SGI_base tables. */
	sweep(rd, 0x0000, 0x0100, value);
	sweep(rd, 0xffc0, 0x10000, value);
	sweep(rd, GICR_SGI_BASE, GICR_SGI_BASE + 0x1000, value);
}

static uint32_t ack(void)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(100000);
	uint32_t intid;

	do {
		intid = (uint32_t)read_sysreg(S3_0_C12_C12_0) & 0xffffffu;
	} while (intid == 1023 && lht_counter() < deadline);
	return intid;
}

void guest_main(void)
{
	uint64_t rd, typer;

	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	rd = gic_redist();
	irq_disable();

	sweep_all(rd, ~0ull);
	lht_check_true("the vCPU runs after all-ones writes to every GIC register", true);
	sweep_all(rd, 0);
	lht_note("GIC accesses made", accesses);
	lht_check_true("the vCPU runs after zero writes to every GIC register", true);

	/* The GIC still works once set up again. */
	typer = mmio_read32(LHT_GICD_BASE + GICD_TYPER);
	lht_check_ne("GICD_TYPER still reads as a GIC with SPIs", typer & 0x1f, 0);
	lht_check_true("distributor enabled again", gic_dist_init());
	lht_check_true("redistributor awake again", gic_cpu_init());
	for (uint32_t n = 0; n < 32 * ((typer & 0x1f) + 1); n += 32) {
		mmio_write32(LHT_GICD_BASE + GICD_ICENABLER(n), ~0u);
		mmio_write32(LHT_GICD_BASE + GICD_ICPENDR(n), ~0u);
		mmio_write32(LHT_GICD_BASE + 0x0380 + 4 * (n / 32), ~0u); /* GICD_ICACTIVER */
	}
	mmio_write32(rd + GICR_ICENABLER0, ~0u);
	mmio_write32(rd + GICR_ICPENDR0, ~0u);
	mmio_write32(rd + GICR_SGI_BASE + 0x0380, ~0u); /* GICR_ICACTIVER0 */
	dsb(sy);
	gic_enable_spi(SPI_TEST, true, lht_mpidr_aff());
	mmio_write32(LHT_GICD_BASE + GICD_ISPENDR(SPI_TEST), 1u << (SPI_TEST % 32));
	dsb(sy);
	lht_check_eq("an SPI is acknowledged as usual after the sweep", ack(), SPI_TEST);
	write_sysreg(S3_0_C12_C12_1, SPI_TEST);
	isb();
}
