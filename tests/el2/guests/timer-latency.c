/* SPDX-License-Identifier: MIT */
/*
 * timer-latency: the real-time partition's figure (the Linux partition's benchmark,
 * examples/el2-firmware/linux.c, run-el2.sh --linux --icount). The virtual timer is armed
 * LATENCY_PERIOD_US ahead, again and again, with the vCPU in WFI in between (what a tick-driven
 * real-time kernel does); each expiry is one sample: CNTVCT_EL0 read first thing in the interrupt
 * handler minus the CNTV_CVAL_EL0 it fired for. Under -icount shift=0 one counter tick is 16
 * instructions of whichever emulated CPU ran, so a sample is the instructions the machine spent
 * from the expiry to the handler: libhyp's path and whatever else ran meanwhile.
 *
 * The firmware says what the rest of the machine is doing (LHT_EL2_REG_HOST_PHASE): 0 while the
 * partition runs alone, 1 while Linux boots beside it, 2 while Linux boots and runs disk I/O, and
 * LHT_EL2_PHASE_STOP when it is done. Samples are kept per phase (the phase read before arming
 * the timer); at the end each phase's count, minimum, median, 99th percentile (of the first
 * LATENCY_MAX_SAMPLES) and maximum (of all) are reported as notes.
 */
#include "rt/rt.h"

#include "el2-lht.h"
#include "rt/gic.h"

LHT_GUEST(.nr_vcpus = 1, .flags = LHT_F_NEEDS_IRQCHIP, .timeout_ms = 900000);

#define LATENCY_PERIOD_US 200
#define LATENCY_PHASES 3
#define LATENCY_MAX_SAMPLES 16384
#define VTIMER_PPI 27u
#define CNTV_CTL_ENABLE 1u

static uint32_t samples[LATENCY_PHASES][LATENCY_MAX_SAMPLES];
static uint64_t counts[LATENCY_PHASES], lost[LATENCY_PHASES];
/* When each phase's first sample was armed, and when its worst one fired (CNTVCT). */
static uint64_t phase_start[LATENCY_PHASES], worst[LATENCY_PHASES], worst_at[LATENCY_PHASES];
static volatile uint64_t fired_at;

static void irq(unsigned int cpu, uint32_t intid)
{
	(void)cpu;
	if (intid != VTIMER_PPI)
		return;
	fired_at = read_sysreg(cntvct_el0);
	/* Level-sensitive: the line drops once the timer is off (before rt.c's EOI). */
	write_sysreg(cntv_ctl_el0, 0);
	isb();
}

/* Shell sort: a few thousand samples, no allocation. */
static void sort(uint32_t *v, uint64_t n)
{
	for (uint64_t gap = n / 2; gap; gap /= 2)
		for (uint64_t i = gap; i < n; i++) {
			uint32_t x = v[i];
			uint64_t j = i;

			for (; j >= gap && v[j - gap] > x; j -= gap)
				v[j] = v[j - gap];
			v[j] = x;
		}
}

static void report(unsigned int phase)
{
	static const char *const what[LATENCY_PHASES] = {
		"alone",
		"beside Linux booting",
		"beside Linux booting and doing disk I/O",
	};
	char name[120];
	uint64_t n = counts[phase];

	lht_note(lht_concat(name, sizeof(name), "timer-latency samples ", what[phase]), n);
	if (!n)
		return;
	sort(samples[phase], n);
	lht_note(lht_concat(name, sizeof(name), "timer-latency ticks min ", what[phase]),
		 samples[phase][0]);
	lht_note(lht_concat(name, sizeof(name), "timer-latency ticks median ", what[phase]),
		 samples[phase][n / 2]);
	lht_note(lht_concat(name, sizeof(name), "timer-latency ticks p99 ", what[phase]),
		 samples[phase][n * 99 / 100]);
	/* Every sample counts for the worst, kept or not. */
	lht_note(lht_concat(name, sizeof(name), "timer-latency ticks max ", what[phase]),
		 worst[phase]);
	if (phase && counts[0]) {
		uint64_t over = 0;

		for (uint64_t i = 0; i < n; i++)
			over += samples[phase][i] > 2 * samples[0][counts[0] - 1];
		lht_note(lht_concat(name, sizeof(name),
				    "timer-latency samples over twice the max alone ", what[phase]),
			 over);
	}
	lht_note(lht_concat(name, sizeof(name), "timer-latency samples beyond the buffer ",
			    what[phase]),
		 lost[phase]);
	lht_note(lht_concat(name, sizeof(name), "timer-latency ticks from the start to the worst ",
			    what[phase]),
		 worst_at[phase] - phase_start[phase]);
}

void guest_main(void)
{
	uint64_t period = lht_us_to_ticks(LATENCY_PERIOD_US);

	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	gic_enable_private(VTIMER_PPI);
	/* IRQs masked but for the window after each WFI (lht_wfi_masked()). */
	irq_disable();
	for (;;) {
		uint64_t phase = lht_reg_read(LHT_EL2_REG_HOST_PHASE), cval;

		if (phase >= LATENCY_PHASES)
			break; /* LHT_EL2_PHASE_STOP, or anything else: done */
		fired_at = 0;
		cval = read_sysreg(cntvct_el0) + period;
		write_sysreg(cntv_cval_el0, cval);
		write_sysreg(cntv_ctl_el0, CNTV_CTL_ENABLE);
		isb();
		while (!fired_at)
			lht_wfi_masked();
		if (!counts[phase] && !lost[phase])
			phase_start[phase] = cval - period;
		if (fired_at - cval > worst[phase]) {
			worst[phase] = fired_at - cval;
			worst_at[phase] = fired_at;
		}
		if (counts[phase] < LATENCY_MAX_SAMPLES) {
			uint64_t lat = fired_at - cval;

			samples[phase][counts[phase]++] = lat > UINT32_MAX ? UINT32_MAX :
									     (uint32_t)lat;
		} else {
			lost[phase]++;
		}
	}
	for (unsigned int p = 0; p < LATENCY_PHASES; p++)
		report(p);
	lht_check_true("samples taken while the partition ran alone", counts[0] >= 50);
}
