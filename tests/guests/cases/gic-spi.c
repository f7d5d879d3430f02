/* SPDX-License-Identifier: MIT */
/*
 * gic-spi: a shared peripheral interrupt driven by the VMM (hyp_vm_set_spi()) reaches a guest
 * that programmed the GICv3 itself (IHI 0069: distributor 12.9, redistributor 12.10/12.11, CPU
 * interface system registers 12.2).
 *
 * Level-sensitive SPI 48: raised while PSTATE.I masks IRQs it must show as pending in
 * GICD_ISPENDR and be taken once unmasked; the handler lowers the line before EOI, so it is
 * taken exactly once. Edge-triggered SPI 49: a raise/lower pulse while masked must be latched and
 * taken once.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP);

#define SPI_LEVEL 48
#define SPI_EDGE 49

static volatile uint64_t count[64];
static volatile uint64_t last_intid;

static void irq(unsigned int cpu, uint32_t intid)
{
	(void)cpu;
	if (intid < 64)
		count[intid]++;
	last_intid = intid;
	/* A level interrupt stays asserted until the device is told: do it before the EOI the
	 * runtime issues after we return. */
	if (intid == SPI_LEVEL)
		lht_reg_write(LHT_REG_SPI_LOWER, SPI_LEVEL);
}

/* Wait (WFI) until @intid was taken @n times or 2 s passed; called and returning with IRQs
 * masked, it unmasks them only to take what woke it (lht_wfi_masked()). */
static bool take(uint32_t intid, uint64_t n)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(2000000);

	while (count[intid] < n && lht_counter() < deadline)
		lht_wfi_masked();
	return count[intid] >= n;
}

/* Let any further (wrong) delivery happen: 50 ms with IRQs unmasked. */
static void settle(void)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(50000);

	irq_enable();
	while (lht_counter() < deadline)
		;
	irq_disable();
}

void guest_main(void)
{
	uint64_t self = lht_mpidr_aff();

	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	lht_note("GICD_TYPER", mmio_read32(LHT_GICD_BASE + GICD_TYPER));

	/* Level. */
	gic_enable_spi(SPI_LEVEL, false, self);
	lht_check_eq("SPI 48 not pending before the VMM raises it", gic_spi_pending(SPI_LEVEL), 0);
	lht_reg_write(LHT_REG_SPI_RAISE, SPI_LEVEL);
	lht_check_eq("hyp_vm_set_spi(48, 1) succeeded", lht_reg_read(LHT_REG_STATUS), 0);
	lht_check_eq("raised SPI 48 pending while IRQs are masked", gic_spi_pending(SPI_LEVEL), 1);
	lht_check_eq("not taken while masked", count[SPI_LEVEL], 0);
	lht_check_true("level SPI 48 taken once unmasked", take(SPI_LEVEL, 1));
	lht_check_eq("ICC_IAR1_EL1 gave INTID 48", last_intid, SPI_LEVEL);
	lht_check_eq("hyp_vm_set_spi(48, 0) succeeded", lht_reg_read(LHT_REG_STATUS), 0);
	settle();
	lht_check_eq("lowered before EOI: SPI 48 taken exactly once", count[SPI_LEVEL], 1);
	lht_check_eq("SPI 48 no longer pending", gic_spi_pending(SPI_LEVEL), 0);

	/* Edge: a pulse while masked is latched. */
	gic_enable_spi(SPI_EDGE, true, self);
	lht_reg_write(LHT_REG_SPI_RAISE, SPI_EDGE);
	lht_reg_write(LHT_REG_SPI_LOWER, SPI_EDGE);
	lht_check_eq("edge SPI 49 pulse latched as pending", gic_spi_pending(SPI_EDGE), 1);
	lht_check_true("edge SPI 49 taken once unmasked", take(SPI_EDGE, 1));
	settle();
	lht_check_eq("edge SPI 49 taken exactly once", count[SPI_EDGE], 1);

	/* A disabled SPI is not delivered. */
	gic_disable_spi(SPI_LEVEL);
	lht_reg_write(LHT_REG_SPI_RAISE, SPI_LEVEL);
	settle();
	lht_check_eq("a disabled SPI is not taken", count[SPI_LEVEL], 1);
	lht_reg_write(LHT_REG_SPI_LOWER, SPI_LEVEL);

	/* The VMM cannot raise what is not an SPI of this GIC. */
	lht_reg_write(LHT_REG_SPI_RAISE, 1019);
	lht_note("hyp_vm_set_spi(1019) (beyond the GIC's lines) returned",
		 lht_reg_read(LHT_REG_STATUS));
	lht_check_ne("hyp_vm_set_spi(1019) (beyond the GIC's lines) fails",
		     lht_reg_read(LHT_REG_STATUS), 0);
}
