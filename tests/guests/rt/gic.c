/* SPDX-License-Identifier: MIT */
#include "gic.h"

/* How long to wait for the GIC to finish a register write (RWP) or a redistributor to wake. */
#define GIC_TIMEOUT_US 1000000

static uint64_t gicd(uint32_t off)
{
	return LHT_GICD_BASE + off;
}

static bool wait_bits_clear32(uint64_t addr, uint32_t bits)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(GIC_TIMEOUT_US);

	while (mmio_read32(addr) & bits) {
		if (lht_counter() > deadline)
			return false;
	}
	return true;
}

bool gic_dist_init(void)
{
	/* Groups off while we change the configuration, then ARE + EnableGrp1 (with a single
	 * security state, as a VM sees it, bit 1 is EnableGrp1; IHI 0069 12.9.4). */
	mmio_write32(gicd(GICD_CTLR), 0);
	if (!wait_bits_clear32(gicd(GICD_CTLR), GICD_CTLR_RWP))
		return false;
	mmio_write32(gicd(GICD_CTLR), GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1);
	return wait_bits_clear32(gicd(GICD_CTLR), GICD_CTLR_RWP);
}

uint64_t gic_redist(void)
{
	uint64_t mpidr = lht_mpidr_aff();
	/* GICR_TYPER[63:32] holds Aff3.Aff2.Aff1.Aff0, one byte each (IHI 0069 12.11.37). */
	uint64_t want = ((mpidr >> 8) & 0xff000000) | (mpidr & 0xffffff);

	for (unsigned int i = 0; i < LHT_MAX_VCPUS; i++) {
		uint64_t rd = LHT_GICR_BASE + i * LHT_GICR_STRIDE;
		uint64_t typer = mmio_read64(rd + GICR_TYPER);

		if ((typer >> 32) == want)
			return rd;
		if (typer & GICR_TYPER_LAST)
			break;
	}
	return 0;
}

bool gic_cpu_init(void)
{
	uint64_t rd = gic_redist();
	uint64_t sre;

	if (!rd)
		return false;
	/* ProcessorSleep = 0, then wait until ChildrenAsleep reads 0 (IHI 0069 12.11.43). */
	mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
	if (!wait_bits_clear32(rd + GICR_WAKER, GICR_WAKER_CHILDREN_ASLEEP))
		return false;
	/* System register interface on (ICC_SRE_EL1.SRE, IHI 0069 12.2.23). */
	__asm__ volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre));
	__asm__ volatile("msr S3_0_C12_C12_5, %0" ::"r"(sre | 1));
	isb();
	__asm__ volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre));
	if (!(sre & 1))
		return false;
	/* Priority mask: let everything through (ICC_PMR_EL1), no preemption grouping
	 * (ICC_BPR1_EL1 = 0), Group 1 on (ICC_IGRPEN1_EL1). */
	__asm__ volatile("msr S3_0_C4_C6_0, %0" ::"r"(0xffull));
	__asm__ volatile("msr S3_0_C12_C12_3, %0" ::"r"(0ull));
	__asm__ volatile("msr S3_0_C12_C12_7, %0" ::"r"(1ull));
	isb();
	return true;
}

void gic_enable_private(uint32_t intid)
{
	uint64_t rd = gic_redist();

	mmio_write32(rd + GICR_IGROUPR0, mmio_read32(rd + GICR_IGROUPR0) | (1u << intid));
	mmio_write8(rd + GICR_IPRIORITYR(intid), GIC_PRIO_DEFAULT);
	mmio_write32(rd + GICR_ISENABLER0, 1u << intid);
	dsb(sy);
}

void gic_enable_spi(uint32_t intid, bool edge, uint64_t mpidr)
{
	uint32_t bit = 1u << (intid % 32);
	uint32_t cfg_shift = 2 * (intid % 16) + 1; /* Int_config[1]: 1 = edge (IHI 0069 12.9.7) */
	uint32_t cfg = mmio_read32(gicd(GICD_ICFGR(intid)));

	mmio_write32(gicd(GICD_IGROUPR(intid)), mmio_read32(gicd(GICD_IGROUPR(intid))) | bit);
	mmio_write8(gicd(GICD_IPRIORITYR(intid)), GIC_PRIO_DEFAULT);
	cfg = edge ? (cfg | (1u << cfg_shift)) : (cfg & ~(1u << cfg_shift));
	mmio_write32(gicd(GICD_ICFGR(intid)), cfg);
	/* IROUTER takes the affinity in MPIDR layout, Interrupt_Routing_Mode = 0 (IHI 0069
	 * 12.9.22). */
	mmio_write64(gicd(GICD_IROUTER(intid)), mpidr & MPIDR_AFF_MASK);
	mmio_write32(gicd(GICD_ISENABLER(intid)), bit);
	dsb(sy);
}

void gic_disable_spi(uint32_t intid)
{
	mmio_write32(gicd(GICD_ICENABLER(intid)), 1u << (intid % 32));
	wait_bits_clear32(gicd(GICD_CTLR), GICD_CTLR_RWP);
}

bool gic_spi_pending(uint32_t intid)
{
	return mmio_read32(gicd(GICD_ISPENDR(intid))) & (1u << (intid % 32));
}

void gic_send_sgi(uint32_t intid, uint64_t mpidr)
{
	uint64_t aff3 = (mpidr >> 32) & 0xff, aff2 = (mpidr >> 16) & 0xff;
	uint64_t aff1 = (mpidr >> 8) & 0xff, aff0 = mpidr & 0xff;
	uint64_t v = (aff3 << 48) | (aff2 << 32) | ((uint64_t)(intid & 0xf) << 24) | (aff1 << 16) |
		     (1ull << (aff0 & 0xf));

	dsb(ish);
	__asm__ volatile("msr S3_0_C12_C11_5, %0" ::"r"(v) : "memory");
	isb();
}
