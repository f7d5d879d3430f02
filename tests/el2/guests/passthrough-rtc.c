/* SPDX-License-Identifier: MIT */
/*
 * passthrough-rtc: a real device given to the guest (el2 firmware, FW_GUEST_PASSTHROUGH_RTC):
 * QEMU virt's PL031 RTC, its page mapped at its own address (0x0901_0000) and its SPI (INTID 34)
 * assigned with hyp_vm_assign_irq(): the physical interrupt reaches the guest as its SPI 34 in a
 * list register with the HW bit, and the guest's EOI deactivates the physical one.
 *
 * The PL031 interrupt is level-sensitive and the physical SPI stays active until the guest is
 * done, so a second alarm can only be delivered if the first deactivation reached the physical
 * GIC: three alarms in a row, each taken exactly once, prove it. The last alarm is acknowledged
 * and never EOId (IRQs masked, ICC_IAR1_EL1 read by hand): the firmware checks that destroying
 * the VM deactivated the physical SPI.
 *
 * PL031 registers (Arm PrimeCell RTC, DDI 0224): RTCDR 0x00 (seconds), RTCMR 0x04 (match),
 * RTCIMSC 0x10 (interrupt mask set/clear, 1 = enabled), RTCRIS 0x14, RTCICR 0x1c (clear).
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP, .timeout_ms = 60000);

#define RTC_BASE 0x09010000ull
#define RTCDR 0x00
#define RTCMR 0x04
#define RTCIMSC 0x10
#define RTCRIS 0x14
#define RTCICR 0x1c
#define RTC_SPI 34u
#define ALARMS 3
#define WAIT_US 4000000 /* an alarm one second ahead, rounding of the seconds counter, slack */

static volatile uint64_t taken;

static void irq(unsigned int cpu, uint32_t intid)
{
	(void)cpu;
	if (intid != RTC_SPI)
		return;
	/* The device's line drops before the EOI (rt.c EOIs after the handler). */
	mmio_write32(RTC_BASE + RTCICR, 1);
	taken++;
}

static void arm_alarm(void)
{
	mmio_write32(RTC_BASE + RTCMR, mmio_read32(RTC_BASE + RTCDR) + 1);
	dsb(sy);
}

void guest_main(void)
{
	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_spi(RTC_SPI, false, lht_mpidr_aff());
	lht_check_eq("the passed-through RTC reads a time (RTCDR != 0)",
		     mmio_read32(RTC_BASE + RTCDR) != 0, 1);
	mmio_write32(RTC_BASE + RTCICR, 1);
	mmio_write32(RTC_BASE + RTCIMSC, 1);
	irq_enable();
	for (uint64_t n = 1; n <= ALARMS; n++) {
		arm_alarm();
		lht_check_true("the device's alarm arrived as SPI 34 (HW-mapped)",
			       lht_wait_eq(&taken, n, WAIT_US));
	}
	lht_check_eq("each alarm taken exactly once", taken, ALARMS);

	/* The last one: acknowledged by hand and left active. */
	irq_disable();
	arm_alarm();
	{
		uint64_t deadline = lht_counter() + lht_us_to_ticks(WAIT_US);
		uint32_t intid = 1023;

		while (lht_counter() < deadline) {
			intid = (uint32_t)read_sysreg(S3_0_C12_C12_0) & 0xffffff; /* ICC_IAR1_EL1 */
			if (intid != 1023)
				break;
		}
		lht_check_eq("a fourth alarm acknowledged with IRQs masked", intid, RTC_SPI);
	}
	mmio_write32(RTC_BASE + RTCIMSC, 0);
	/* Ends with SPI 34 active in the guest, so the physical one too. */
}
