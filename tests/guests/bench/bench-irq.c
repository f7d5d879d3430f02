/* SPDX-License-Identifier: MIT */
/*
 * bench-irq: the interrupt benchmark, the same image on every backend with a GIC (LHT_F_BENCH,
 * LHT_F_NEEDS_IRQCHIP). Counted in CNTVCT ticks, which the VMM turns into instructions (under
 * QEMU -icount shift=0 one instruction is 1 ns, ARCHITECTURE.md "Measuring speed honestly"):
 *
 *   SPI      N times: a 64-bit store to LHT_BENCH_SPI_PULSE makes the VMM's MMIO callback pulse
 *            edge-triggered SPI 40 (hyp_vm_set_spi() 1 then 0); the guest resumes, takes the IRQ
 *            (rt.c: vector, ICC_IAR1_EL1, handler, ICC_EOIR1_EL1) and sees the count move. The
 *            same loop storing to the no-op register is measured too: the difference is the
 *            interrupt's share (injection, delivery, acknowledge, EOI, exception return).
 *   SGI      N round trips: vCPU 0 sends SGI 1 to vCPU 1 (ICC_SGI1R_EL1) and waits in WFI;
 *            vCPU 1, asleep in WFI, takes it and its handler sends SGI 2 back. With both vCPUs
 *            asleep while the other works, only the round trip's path executes (on el2 each
 *            vCPU has its own physical CPU, which sleeps in WFI: no instruction is counted
 *            there; on KVM the rig's vCPU threads share one CPU). Includes the loop (a few
 *            instructions).
 *   vtimer   N expiries of the EL1 virtual timer (PPI 27) armed 256 ticks ahead while the vCPU
 *            spins with IRQs unmasked, then N armed 4096 ticks ahead while it waits in WFI:
 *            the sum of (CNTVCT read first thing in the handler - CNTV_CVAL_EL0). Includes the
 *            guest's own vector and acknowledge (~50 instructions) and is quantised to one tick
 *            (16 instructions) per expiry. The WFI waits have a backstop, the EL1 physical
 *            timer 1 ms later (nested KVM under QEMU TCG sometimes loses a virtual timer
 *            wake-up, tests/guests/README.md), the spinning ones a 1 ms deadline: a wait they
 *            end is counted as lost, not measured (nested KVM on the rig loses many: the
 *            checks on the lost count depend on "nested-vtimer").
 *   idle     the proof that WFI puts the physical CPU to sleep: while vCPU 1 waits in WFI (its
 *            virtual and physical timers armed 1 s ahead, far beyond the interval), vCPU 0 runs
 *            a loop of exactly IDLE_INSNS instructions and reads CNTVCT around it. Under
 *            -icount every instruction any CPU executes advances the clock by 1 ns, so
 *            (ticks x 16) - IDLE_INSNS is what the rest of the machine executed meanwhile: the
 *            idle vCPU's CPU, its hypervisor and anything they woke for. A hypervisor that
 *            polled instead of sleeping would show about IDLE_INSNS (it would get every other
 *            time slice). The check allows 1% of the interval (10,000 instructions): room for a
 *            stray interrupt's handling, far below any polling loop. On el2 each vCPU has its
 *            own physical CPU; on the KVM rig both vCPU threads share one, so the figure there
 *            can also hold the host kernel's own work (a timer tick, ~19,000 instructions): the
 *            best of three intervals is taken.
 */
#include "rt/rt.h"

#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 2, .flags = LHT_F_BENCH | LHT_F_NEEDS_IRQCHIP, .timeout_ms = 600000);

#ifndef N
#define N 1000u
#endif
#define SPI 40
#define SGI_PING 1
#define SGI_PONG 2
#define SGI_READY 3
#define PPI_VTIMER 27
#define PPI_PTIMER 30
#define WAIT_US 5000000
#define VTIMER_AHEAD 256
#define VTIMER_AHEAD_WFI 4096
#define BACKSTOP_AHEAD 62500 /* 1 ms at 62.5 MHz */
#define FAR_AHEAD 62500000   /* 1 s */
#define IDLE_LOOPS 500000u   /* two instructions each */
#define IDLE_INSNS (2ull * IDLE_LOOPS)
#define IDLE_BOUND (IDLE_INSNS / 100)
#define TICK_INSNS 16 /* instructions per CNTVCT tick at 62.5 MHz under -icount shift=0 */

/* CNT*_CTL_EL0 (Arm ARM D11.2): ENABLE, IMASK. */
#define CTL_ENABLE 1u

static volatile uint64_t spi_count, pong_count, vtimer_count, backstop_count;
static volatile uint64_t vtimer_ticks;
static volatile uint64_t secondary_ready, secondary_done, stop;
/* vCPU 0's affinity, read once: the test device is MMIO, not to be read in the handler. */
static uint64_t mpidr0;

static void irq(unsigned int cpu, uint32_t intid)
{
	uint64_t now;

	switch (intid) {
	case PPI_VTIMER:
		now = lht_counter();
		vtimer_ticks += now - read_sysreg(cntv_cval_el0);
		write_sysreg(cntv_ctl_el0, 0); /* the level drops: no re-pend after EOI */
		vtimer_count++;
		break;
	case PPI_PTIMER:
		write_sysreg(cntp_ctl_el0, 0);
		backstop_count++;
		break;
	case SPI:
		spi_count++;
		break;
	case SGI_PING:
		if (cpu == 1)
			gic_send_sgi(SGI_PONG, mpidr0);
		break;
	case SGI_PONG:
		pong_count++;
		break;
	case SGI_READY:
		break;
	default:
		break;
	}
}

/* Wait in WFI with IRQs masked until *@p != @v (lht_wfi_masked()). */
static void wfi_until_changed(const volatile uint64_t *p, uint64_t v)
{
	while (*p == v)
		lht_wfi_masked();
}

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)cpu;
	(void)context_id;
	lht_check_true("vCPU 1: redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(SGI_PING);
	gic_enable_private(PPI_VTIMER);
	gic_enable_private(PPI_PTIMER);
	/* Both timers far ahead: the idle measurement's "WFI with a far deadline". */
	write_sysreg(cntv_cval_el0, lht_counter() + FAR_AHEAD);
	write_sysreg(cntv_ctl_el0, CTL_ENABLE);
	write_sysreg(cntp_cval_el0, lht_counter() + FAR_AHEAD);
	write_sysreg(cntp_ctl_el0, CTL_ENABLE);
	irq_disable();
	__atomic_store_n(&secondary_ready, 1, __ATOMIC_RELEASE);
	gic_send_sgi(SGI_READY, mpidr0);
	wfi_until_changed(&stop, 0);
	write_sysreg(cntv_ctl_el0, 0);
	write_sysreg(cntp_ctl_el0, 0);
	__atomic_store_n(&secondary_done, 1, __ATOMIC_RELEASE);
	gic_send_sgi(SGI_READY, mpidr0);
}

static uint64_t spi_loop(uint64_t off, const volatile uint64_t *count)
{
	uint64_t t0, t1, base = *count;

	t0 = lht_counter();
	for (uint64_t i = 1; i <= N; i++) {
		mmio_write64(LHT_BENCH_MMIO_BASE + off, SPI);
		while (*count != base + i)
			;
	}
	t1 = lht_counter();
	return t1 - t0;
}

static volatile uint64_t no_count;

/* Wait for the other vCPU in WFI, never spinning: under -icount a spinning CPU takes turns with
 * the one it waits for (100 ms slices of virtual time). vCPU 1 signals with SGI 3. */
static bool wait_secondary(const volatile uint64_t *flag)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(WAIT_US);

	irq_disable();
	while (!*flag && lht_counter() < deadline)
		lht_wfi_masked();
	irq_enable();
	return *flag;
}

/* The no-op store in the same loop: the count it waits for is already there. */
static uint64_t spi_base_loop(void)
{
	uint64_t t0, t1;

	no_count = 0;
	t0 = lht_counter();
	for (uint64_t i = 1; i <= N; i++) {
		mmio_write64(LHT_BENCH_MMIO_BASE, SPI);
		no_count = i;
		while (no_count != i)
			;
	}
	t1 = lht_counter();
	return t1 - t0;
}

static uint64_t sgi_loop(void)
{
	uint64_t t0, t1, mpidr1 = lht_cfg_mpidr(1);

	irq_disable();
	t0 = lht_counter();
	for (uint64_t i = 0; i < N; i++) {
		gic_send_sgi(SGI_PING, mpidr1);
		wfi_until_changed(&pong_count, i);
	}
	t1 = lht_counter();
	irq_enable();
	return t1 - t0;
}

/* IDLE_INSNS instructions, no memory access, nothing to trap; the ticks they took. */
static uint64_t idle_interval(void)
{
	uint64_t t0, t1, n = IDLE_LOOPS;

	__asm__ volatile("isb\n\t"
			 "mrs %0, cntvct_el0\n"
			 "1:\tsubs %2, %2, #1\n\t"
			 "b.ne 1b\n\t"
			 "isb\n\t"
			 "mrs %1, cntvct_el0"
			 : "=&r"(t0), "=&r"(t1), "+r"(n)
			 :
			 : "memory");
	return t1 - t0;
}

static void vtimer_loop(bool sleep, uint64_t *lost)
{
	*lost = 0;
	vtimer_ticks = 0;
	if (sleep)
		irq_disable();
	for (uint64_t i = 0; i < N; i++) {
		uint64_t fired = vtimer_count, backstops = backstop_count;
		uint64_t cval = lht_counter() + (sleep ? VTIMER_AHEAD_WFI : VTIMER_AHEAD);

		write_sysreg(cntv_cval_el0, cval);
		write_sysreg(cntv_ctl_el0, CTL_ENABLE);
		if (sleep) {
			write_sysreg(cntp_cval_el0, cval + BACKSTOP_AHEAD);
			write_sysreg(cntp_ctl_el0, CTL_ENABLE);
		}
		isb();
		if (!sleep) {
			while (vtimer_count == fired && lht_counter() < cval + BACKSTOP_AHEAD)
				;
			if (vtimer_count == fired) {
				write_sysreg(cntv_ctl_el0, 0);
				(*lost)++;
				/* Ten in a row: the interrupt does not come on this platform;
				 * the rest would not either. */
				if (*lost == i + 1 && *lost >= 10) {
					*lost = N;
					break;
				}
			}
			continue;
		}
		while (vtimer_count == fired && backstop_count == backstops)
			wfi_until_changed(&vtimer_count, fired);
		write_sysreg(cntp_ctl_el0, 0);
		if (vtimer_count == fired) {
			write_sysreg(cntv_ctl_el0, 0);
			(*lost)++;
		}
	}
	irq_enable();
}

void guest_main(void)
{
	uint64_t spi, spi_base, sgi, vt, vt_wfi, lost, lost_run, idle, others;

	lht_set_irq_handler(irq);
	mpidr0 = lht_cfg_mpidr(0);
	lht_check_true("distributor enabled (ARE, Group 1)", gic_dist_init());
	lht_check_true("vCPU 0: redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_spi(SPI, true, lht_cfg_mpidr(0));
	gic_enable_private(SGI_PONG);
	gic_enable_private(SGI_READY);
	gic_enable_private(PPI_VTIMER);
	gic_enable_private(PPI_PTIMER);
	irq_enable();

	/* Warm up every path once. */
	mmio_write64(LHT_BENCH_MMIO_BASE + LHT_BENCH_SPI_PULSE, SPI);
	lht_check_true("the pulsed SPI arrived", lht_wait_eq(&spi_count, 1, 1000000));

	spi_base = spi_base_loop();
	spi = spi_loop(LHT_BENCH_SPI_PULSE, &spi_count);
	lht_check_eq("every pulsed SPI was taken once", spi_count, N + 1);

	lht_check_eq("CPU_ON(vCPU 1)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	lht_check_true("vCPU 1 ready", wait_secondary(&secondary_ready));
	sgi = sgi_loop();
	lht_check_eq("every SGI round trip completed once", pong_count, N);
	/* vCPU 1 is back in WFI (it went there after its last handler; its pong came from it). */
	idle_interval(); /* warm */
	/* The best of three: a host's timer tick (the KVM rig's, every 4 ms) may land in one
	 * interval; a hypervisor that polled would fill every one. */
	idle = idle_interval();
	for (int i = 0; i < 2; i++) {
		uint64_t again = idle_interval();

		if (again < idle)
			idle = again;
	}
	others = idle * TICK_INSNS > IDLE_INSNS ? idle * TICK_INSNS - IDLE_INSNS : 0;
	lht_note("idle: ticks for a loop of 1,000,000 instructions (best of 3)", idle);
	lht_note("idle: instructions the rest of the machine executed meanwhile (vCPU 1 in WFI)",
		 others);
	lht_check_le("idle: a vCPU in WFI costs its CPU <= 1% of an interval (-icount)", others,
		     IDLE_BOUND);
	stop = 1;
	dsb(ish);
	gic_send_sgi(SGI_PING, lht_cfg_mpidr(1)); /* wake it to see @stop (its pong is harmless) */
	lht_check_true("vCPU 1 finished", wait_secondary(&secondary_done));

	vtimer_loop(false, &lost_run);
	vt = vtimer_ticks;
	lht_check_depends(LHT_DEPENDS_VTIMER_WAKEUP);
	lht_check_le("virtual timer interrupts lost while running (backstop)", lost_run, N / 10);
	if (lost_run < N) {
		vtimer_loop(true, &lost);
		vt_wfi = vtimer_ticks;
	} else {
		/* A WFI whose wake-up never comes would hang (the backstop is a timer too). */
		lht_skip("virtual timer in WFI", "its interrupt never arrived while running");
		lost = N;
		vt_wfi = 0;
	}
	lht_check_depends(LHT_DEPENDS_VTIMER_WAKEUP);
	lht_check_le("virtual timer wake-ups lost in WFI (backstop)", lost, N / 10);

	lht_reg_write(LHT_REG_BENCH_ITERATIONS, N);
	lht_reg_write(LHT_REG_BENCH_CNTFRQ, lht_freq());
	lht_reg_write(LHT_REG_BENCH_TICKS_EMPTY, 0);
	lht_reg_write(LHT_REG_BENCH_TICKS_SPI, spi);
	lht_reg_write(LHT_REG_BENCH_TICKS_SPI_BASE, spi_base);
	lht_reg_write(LHT_REG_BENCH_TICKS_SGI, sgi);
	lht_reg_write(LHT_REG_BENCH_TICKS_VTIMER, vt);
	lht_reg_write(LHT_REG_BENCH_TICKS_VTIMER_WFI, vt_wfi);
	lht_reg_write(LHT_REG_BENCH_VTIMER_LOST, lost);
	lht_reg_write(LHT_REG_BENCH_VTIMER_LOST_RUNNING, lost_run);
	lht_note("ticks: SPI loop", spi);
	lht_note("ticks: no-op store loop", spi_base);
	lht_note("ticks: SGI round trips", sgi);
	lht_note("ticks: virtual timer latencies (running)", vt);
	lht_note("ticks: virtual timer latencies (WFI)", vt_wfi);
	lht_check_ge("the SPI loop took longer than the no-op store loop", spi, spi_base);
}
