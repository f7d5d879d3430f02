/* SPDX-License-Identifier: MIT */
/*
 * gic-semantics: the GICv3 interrupt state machine and priority rules as a guest sees them, read
 * straight from the CPU interface with IRQs masked (PSTATE.I only stops the exception: ICC_IAR1_EL1
 * still acknowledges, IHI 0069 "Interrupt handling state machine", "Interrupt prioritization",
 * ICC_IAR1_EL1, ICC_EOIR1_EL1, ICC_DIR_EL1, ICC_RPR_EL1, ICC_CTLR_EL1.EOImode).
 *
 * - Priority order and the running priority: of two pending SPIs the higher priority (lower
 *   value) is acknowledged first, and the other cannot be acknowledged while the first is active
 *   (it does not preempt); after the EOI it can.
 * - Preemption: a higher-priority SPI made pending while a lower one is active is acknowledged.
 * - Active and pending: an edge SPI pended again while active shows in GICD_ISPENDR and
 *   GICD_ISACTIVER at once and is acknowledged again after the EOI.
 * - Level re-assertion: a level SPI whose line is still high when it is EOId is pending again.
 * - EOImode 1: EOIR drops the priority only; the interrupt stays active until ICC_DIR_EL1.
 * - More pending interrupts than list registers (12: at least 3x the 4 LRs of the rig): all are
 *   acknowledged, in priority order.
 * - GICR_WAKER: ProcessorSleep = 1 makes ChildrenAsleep read 1 (where the register is not RAZ/WI:
 *   KVM's is); clearing it wakes again.
 *
 * A backend with list registers refills them only after an exit, so an acknowledge that follows an
 * EOI may read the spurious INTID for a moment: ack() retries for up to 100 ms.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP);

#define SPURIOUS 1023u
#define SPI_LO 40 /* priority 0xa0 */
#define SPI_HI 41 /* priority 0x80 */
#define SPI_AP 42
#define SPI_LEVEL 43
#define SPI_EOIM 44
#define SPI_MANY 64 /* 64..75 */
#define NR_MANY 12
#define ICC_CTLR_EOIMODE (1u << 1)

static uint32_t iar(void)
{
	return (uint32_t)read_sysreg(S3_0_C12_C12_0) & 0xffffffu;
}

static void eoi(uint32_t intid)
{
	write_sysreg(S3_0_C12_C12_1, intid);
	isb();
}

static void dir(uint32_t intid)
{
	write_sysreg(S3_0_C12_C11_1, intid);
	isb();
}

static uint64_t rpr(void)
{
	return read_sysreg(S3_0_C12_C11_3) & 0xff;
}

/* The next interrupt the CPU interface gives, or SPURIOUS after 100 ms of asking. */
static uint32_t ack(void)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(100000);
	uint32_t intid;

	do {
		intid = iar();
	} while (intid == SPURIOUS && lht_counter() < deadline);
	return intid;
}

/* Nothing to acknowledge: ask for 5 ms and report the first non-spurious answer. */
static uint32_t ack_none(void)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(5000);
	uint32_t intid;

	do {
		intid = iar();
	} while (intid == SPURIOUS && lht_counter() < deadline);
	return intid;
}

static void spi_config(uint32_t intid, bool edge, uint8_t prio)
{
	gic_enable_spi(intid, edge, lht_mpidr_aff());
	mmio_write8(LHT_GICD_BASE + GICD_IPRIORITYR(intid), prio);
	dsb(sy);
}

static void spi_pend(uint32_t intid)
{
	mmio_write32(LHT_GICD_BASE + GICD_ISPENDR(intid), 1u << (intid % 32));
	dsb(sy);
}

static bool spi_active(uint32_t intid)
{
	return mmio_read32(LHT_GICD_BASE + GICD_ISACTIVER(intid)) & (1u << (intid % 32));
}

static void priorities(void)
{
	spi_config(SPI_LO, true, 0xa0);
	spi_config(SPI_HI, true, 0x80);
	spi_pend(SPI_LO);
	spi_pend(SPI_HI);
	lht_check_eq("of two pending SPIs the higher priority is acknowledged first", ack(),
		     SPI_HI);
	lht_check_eq("ICC_RPR_EL1 is the active interrupt's priority", rpr(), 0x80);
	lht_check_eq("a lower priority does not preempt: IAR is spurious while it is active", iar(),
		     SPURIOUS);
	eoi(SPI_HI);
	lht_check_eq("after the EOI the lower-priority SPI is acknowledged", ack(), SPI_LO);
	/* Preemption: the higher one arrives while the lower one is active. */
	spi_pend(SPI_HI);
	lht_check_eq("a higher-priority SPI preempts an active lower-priority one", ack(), SPI_HI);
	lht_check_eq("ICC_RPR_EL1 follows the preempting interrupt", rpr(), 0x80);
	eoi(SPI_HI);
	lht_check_eq("ICC_RPR_EL1 drops back to the preempted interrupt's priority", rpr(), 0xa0);
	eoi(SPI_LO);
	lht_check_eq("ICC_RPR_EL1 is idle (0xff) with nothing active", rpr(), 0xff);
	lht_check_eq("nothing left to acknowledge", ack_none(), SPURIOUS);
}

static void active_and_pending(void)
{
	spi_config(SPI_AP, true, 0xa0);
	spi_pend(SPI_AP);
	lht_check_eq("edge SPI acknowledged", ack(), SPI_AP);
	spi_pend(SPI_AP);
	lht_check_true("pended again while active: GICD_ISPENDR shows it", gic_spi_pending(SPI_AP));
	lht_check_true("... and GICD_ISACTIVER too (active and pending)", spi_active(SPI_AP));
	eoi(SPI_AP);
	lht_check_eq("after the EOI it is acknowledged again", ack(), SPI_AP);
	eoi(SPI_AP);
	lht_check_eq("then it is inactive", spi_active(SPI_AP), 0);
	lht_check_eq("... and not pending", gic_spi_pending(SPI_AP), 0);
}

static void level_reassertion(void)
{
	spi_config(SPI_LEVEL, false, 0xa0);
	lht_reg_write(LHT_REG_SPI_RAISE, SPI_LEVEL);
	lht_check_eq("level SPI acknowledged", ack(), SPI_LEVEL);
	eoi(SPI_LEVEL);
	lht_check_eq("EOI with the line still high: pending again", ack(), SPI_LEVEL);
	lht_reg_write(LHT_REG_SPI_LOWER, SPI_LEVEL);
	eoi(SPI_LEVEL);
	lht_check_eq("line lowered before the EOI: not pending again", ack_none(), SPURIOUS);
	lht_check_eq("... and inactive", spi_active(SPI_LEVEL), 0);
}

static void eoimode1(void)
{
	uint64_t ctlr = read_sysreg(S3_0_C12_C12_4);

	write_sysreg(S3_0_C12_C12_4, ctlr | ICC_CTLR_EOIMODE);
	isb();
	lht_check_eq("ICC_CTLR_EL1.EOImode reads back 1",
		     (read_sysreg(S3_0_C12_C12_4) & ICC_CTLR_EOIMODE) != 0, 1);
	spi_config(SPI_EOIM, true, 0xa0);
	spi_pend(SPI_EOIM);
	lht_check_eq("EOImode 1: SPI acknowledged", ack(), SPI_EOIM);
	eoi(SPI_EOIM);
	lht_check_eq("EOImode 1: EOIR drops the running priority", rpr(), 0xff);
	lht_check_true("EOImode 1: ... but the SPI stays active", spi_active(SPI_EOIM));
	lht_check_eq("EOImode 1: an active SPI is not acknowledged again", ack_none(), SPURIOUS);
	dir(SPI_EOIM);
	lht_check_eq("EOImode 1: ICC_DIR_EL1 deactivates it", spi_active(SPI_EOIM), 0);
	write_sysreg(S3_0_C12_C12_4, ctlr & ~(uint64_t)ICC_CTLR_EOIMODE);
	isb();
}

static void many(void)
{
	uint32_t bits = 0, seen = 0, in_order = 1, prev_prio = 0;

	/* Priorities 0x10..0x68 in a shuffled order: acknowledging them is sorting them. */
	for (uint32_t i = 0; i < NR_MANY; i++) {
		spi_config(SPI_MANY + i, true, (uint8_t)(0x10 + 8 * ((i * 5) % NR_MANY)));
		bits |= 1u << i;
	}
	mmio_write32(LHT_GICD_BASE + GICD_ISPENDR(SPI_MANY), bits << (SPI_MANY % 32));
	dsb(sy);
	for (uint32_t n = 0; n < NR_MANY; n++) {
		uint32_t intid = ack(), i = intid - SPI_MANY, prio;

		if (intid < SPI_MANY || i >= NR_MANY) {
			lht_note("unexpected INTID", intid);
			break;
		}
		prio = 0x10 + 8 * ((i * 5) % NR_MANY);
		if (prio < prev_prio)
			in_order = 0;
		prev_prio = prio;
		seen |= 1u << i;
		eoi(intid);
	}
	lht_check_eq("12 pending SPIs (more than the list registers): all acknowledged", seen,
		     bits);
	lht_check_eq("... in priority order", in_order, 1);
	lht_check_eq(
		"... and none left pending",
		mmio_read32(LHT_GICD_BASE + GICD_ISPENDR(SPI_MANY)) & (bits << (SPI_MANY % 32)), 0);
}

static void waker(void)
{
	uint64_t rd = gic_redist(), deadline;
	uint32_t v;

	mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) | GICR_WAKER_PROCESSOR_SLEEP);
	deadline = lht_counter() + lht_us_to_ticks(100000);
	while (!((v = mmio_read32(rd + GICR_WAKER)) & GICR_WAKER_CHILDREN_ASLEEP) &&
	       lht_counter() < deadline)
		;
	lht_note("GICR_WAKER after ProcessorSleep = 1", v);
	/* KVM (Linux 6.1) makes GICR_WAKER RAZ/WI, a virtual redistributor that never sleeps;
	 * one that keeps ProcessorSleep must complete the handshake. */
	if (v & GICR_WAKER_PROCESSOR_SLEEP)
		lht_check_eq("GICR_WAKER: ProcessorSleep = 1 -> ChildrenAsleep reads 1",
			     (v & GICR_WAKER_CHILDREN_ASLEEP) != 0, 1);
	else
		lht_skip("GICR_WAKER: ProcessorSleep = 1 -> ChildrenAsleep reads 1",
			 "GICR_WAKER is RAZ/WI on this GIC (as on KVM)");
	lht_check_true("GICR_WAKER: ProcessorSleep = 0 -> ChildrenAsleep reads 0 again",
		       gic_cpu_init());
}

void guest_main(void)
{
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	irq_disable();
	priorities();
	active_and_pending();
	level_reassertion();
	eoimode1();
	many();
	waker();
}
