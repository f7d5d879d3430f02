/* SPDX-License-Identifier: MIT */
/*
 * The platform under libhyp: PSCI calls to QEMU's firmware, the GICv3 (kick IPIs, the EL2 timer),
 * per-CPU state and timed events, CPUs running posted work, and the struct hyp_el2_platform /
 * struct hyp_alloc_ops tables the VMs are created with.
 */
#include <libhyp/hyp.h>

#include "fw.h"

/* ---- PSCI (Arm DEN 0022D) over SMC: with EL2 enabled QEMU's built-in PSCI takes SMC ---- */

int64_t fw_psci_call(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	/* SMCCC 1.0 lets the callee clobber X4..X17. */
	__asm__ volatile("smc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			 :
			 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
			   "x15", "x16", "x17", "memory");
	return (int64_t)x0;
}

void fw_system_off(void)
{
	fw_psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	/* SYSTEM_OFF does not return; if it did, there is nothing left to do. */
	for (;;)
		wfi();
}

/* ---- time ---- */

uint64_t fw_us_to_ticks(uint64_t us)
{
	uint64_t f = read_sysreg(cntfrq_el0);

	return f / 1000000 * us + f % 1000000 * us / 1000000;
}

uint64_t fw_ticks_to_us(uint64_t ticks)
{
	uint64_t f = read_sysreg(cntfrq_el0);

	return ticks / f * 1000000 + ticks % f * 1000000 / f;
}

/* ---- GICv3 (Arm IHI 0069) ---- */

#define GICD_CTLR 0x0000
#define GICD_CTLR_ENABLE_G1 (1u << 1) /* EnableGrp1 (DS = 1) / EnableGrp1NS */
#define GICD_CTLR_ARE (1u << 4)	      /* ARE (DS = 1) / ARE_NS */
#define GICD_CTLR_RWP (1u << 31)

#define GICR_CTLR 0x0000
#define GICR_CTLR_RWP (1u << 3)
#define GICR_TYPER 0x0008
#define GICR_TYPER_LAST (1ull << 4)
#define GICR_WAKER 0x0014
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)
#define GICR_SGI_BASE 0x10000
#define GICR_IGROUPR0 0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_ICENABLER0 0x0180
#define GICR_IPRIORITYR 0x0400
#define GICR_IGRPMODR0 0x0d00

#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISACTIVER 0x0300
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define ICC_CTLR_EOIMODE (1u << 1)

#define GIC_PRIORITY 0x80u
#define POLL_LIMIT 1000000u

static void gicd_wait_rwp(void)
{
	for (unsigned int i = 0; i < POLL_LIMIT; i++)
		if (!(mmio_read32(FW_GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP))
			return;
	fw_panic("GICD_CTLR.RWP stuck");
}

void fw_gic_init_dist(void)
{
	/* Affinity routing first, then Group 1 (GICv3 spec 12.9.4: ARE is written with the
	 * groups disabled). SPIs stay disabled: the firmware uses none. */
	mmio_write32(FW_GICD_BASE + GICD_CTLR, 0);
	gicd_wait_rwp();
	mmio_write32(FW_GICD_BASE + GICD_CTLR, GICD_CTLR_ARE);
	gicd_wait_rwp();
	mmio_write32(FW_GICD_BASE + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1);
	gicd_wait_rwp();
}

/* This CPU's redistributor: the frame whose GICR_TYPER.Affinity_Value matches MPIDR_EL1. */
static uintptr_t gicr_find(uint64_t mpidr)
{
	uint64_t aff = ((mpidr >> 8) & 0xff000000ull) | (mpidr & 0xffffffull);

	for (unsigned int i = 0; i < 64; i++) {
		uintptr_t rd = FW_GICR_BASE + (uintptr_t)i * FW_GICR_STRIDE;
		uint64_t typer;

		if (rd + FW_GICR_STRIDE > FW_GIC_WINDOW_BASE + FW_GIC_WINDOW_SIZE)
			break;
		typer = mmio_read64(rd + GICR_TYPER);
		if ((typer >> 32) == aff)
			return rd;
		if (typer & GICR_TYPER_LAST)
			break;
	}
	return 0;
}

static void set_priority(uintptr_t sgi_base, unsigned int intid)
{
	uintptr_t reg = sgi_base + GICR_IPRIORITYR + (intid & ~3u);
	unsigned int shift = 8 * (intid & 3);
	uint32_t v = mmio_read32(reg);

	mmio_write32(reg, (v & ~(0xffu << shift)) | (GIC_PRIORITY << shift));
}

int fw_gic_init_cpu(void)
{
	uintptr_t rd = gicr_find(read_sysreg(mpidr_el1)), sgi;
	uint32_t mask = (1u << FW_SGI_KICK) | (1u << FW_PPI_HYPTIMER);
	/* libhyp's two, configured like ours but left disabled until it asks (set_ppi_masked). */
	uint32_t hyp_ppis = (1u << FW_PPI_MAINTENANCE) | (1u << FW_PPI_VTIMER);
	unsigned int i;

	if (!rd)
		return -1;
	sgi = rd + GICR_SGI_BASE;
	/* Wake the redistributor (GICv3 spec 12.11.39 GICR_WAKER). */
	mmio_write32(rd + GICR_WAKER,
		     mmio_read32(rd + GICR_WAKER) & ~(uint32_t)GICR_WAKER_PROCESSOR_SLEEP);
	for (i = 0; i < POLL_LIMIT; i++)
		if (!(mmio_read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP))
			break;
	if (i == POLL_LIMIT)
		return -2;
	/* Everything off, then our two: the kick SGI and the EL2 physical timer PPI, Group 1
	 * (non-secure, IGRPMODR0 = 0), one priority. */
	mmio_write32(sgi + GICR_ICENABLER0, ~0u);
	for (i = 0; i < POLL_LIMIT; i++)
		if (!(mmio_read32(rd + GICR_CTLR) & GICR_CTLR_RWP))
			break;
	mmio_write32(sgi + GICR_IGROUPR0, mmio_read32(sgi + GICR_IGROUPR0) | mask | hyp_ppis);
	mmio_write32(sgi + GICR_IGRPMODR0, mmio_read32(sgi + GICR_IGRPMODR0) & ~(mask | hyp_ppis));
	set_priority(sgi, FW_SGI_KICK);
	set_priority(sgi, FW_PPI_HYPTIMER);
	set_priority(sgi, FW_PPI_MAINTENANCE);
	set_priority(sgi, FW_PPI_VTIMER);
	mmio_write32(sgi + GICR_ISENABLER0, mask);
	fw_this_cpu()->gicr_sgi = sgi;
	fw_this_cpu()->ppis_enabled = 0;

	/* The CPU interface through system registers at EL2 (ICC_SRE_EL2: SRE, DFB, DIB, and
	 * Enable so EL1 may use them too), then unmask every priority, EOImode 1 (EOIR drops the
	 * priority, ICC_DIR_EL1 deactivates: a host interrupt given to a guest stays active until
	 * the guest deactivates it), Group 1 on. */
	write_sysreg(icc_sre_el2, 0xf);
	isb();
	if (!(read_sysreg(icc_sre_el2) & 1))
		return -3;
	write_sysreg(icc_pmr_el1, 0xff);
	write_sysreg(icc_bpr1_el1, 0);
	write_sysreg(icc_ctlr_el1, ICC_CTLR_EOIMODE);
	write_sysreg(icc_igrpen1_el1, 1);
	isb();
	return 0;
}

void fw_gic_send_sgi(uint64_t mpidr, unsigned int intid)
{
	uint64_t aff0 = mpidr & 0xff;
	/* ICC_SGI1R_EL1: TargetList [15:0], Aff1 [23:16], INTID [27:24], Aff2 [39:32], RS [47:44],
	 * Aff3 [55:48] (GICv3 spec 12.2.24). */
	uint64_t v = (1ull << (aff0 & 15)) | (((mpidr >> 8) & 0xff) << 16) |
		     ((uint64_t)(intid & 15) << 24) | (((mpidr >> 16) & 0xff) << 32) |
		     ((aff0 >> 4) << 44) | (((mpidr >> 32) & 0xff) << 48);

	/* What the target is told to look at must be visible before the interrupt is (a write to
	 * ICC_SGI1R_EL1 is not ordered after earlier stores by itself). */
	dsb(ishst);
	write_sysreg(icc_sgi1r_el1, v);
	isb();
}

unsigned int fw_gic_ack(void)
{
	return (unsigned int)(read_sysreg(icc_iar1_el1) & 0xffffff);
}

/* The owners of passed-through SPIs (fw_spi_give()), and per SPI how many CPUs are forwarding it
 * right now (fw_spi_take() waits for them). */
static struct hyp_vm *volatile spi_owner[1020];
static unsigned int spi_forwarding[1020];
static uint64_t spi_forwards[1020];
static struct fw_lock spi_owner_lock;

bool fw_spi_give(unsigned int intid, struct hyp_vm *vm, uint64_t mpidr)
{
	bool ok;

	if (intid < 32 || intid >= FW_ARRAY_SIZE(spi_owner) || !vm)
		return false;
	fw_lock(&spi_owner_lock);
	ok = !spi_owner[intid];
	if (ok)
		__atomic_store_n(&spi_owner[intid], vm, __ATOMIC_RELEASE);
	fw_unlock(&spi_owner_lock);
	if (ok)
		fw_gic_spi_route(intid, mpidr, true);
	return ok;
}

uint64_t fw_spi_forwarded(unsigned int intid)
{
	return intid < FW_ARRAY_SIZE(spi_forwards) ?
		       __atomic_load_n(&spi_forwards[intid], __ATOMIC_RELAXED) :
		       0;
}

void fw_spi_take(unsigned int intid)
{
	if (intid < 32 || intid >= FW_ARRAY_SIZE(spi_owner))
		return;
	fw_gic_spi_route(intid, 0, false);
	__atomic_store_n(&spi_owner[intid], NULL, __ATOMIC_SEQ_CST);
	/* A handler that loaded the old owner before the store is still inside hyp_vm_host_irq(). */
	while (__atomic_load_n(&spi_forwarding[intid], __ATOMIC_SEQ_CST))
		__asm__ volatile("yield");
}

/* The IRQ handler's half: forward @intid to its owner; false if nobody owns it. */
static bool spi_forward(unsigned int intid)
{
	struct hyp_vm *vm;
	bool taken = false;

	if (intid < 32 || intid >= FW_ARRAY_SIZE(spi_owner))
		return false;
	__atomic_add_fetch(&spi_forwarding[intid], 1, __ATOMIC_SEQ_CST);
	vm = __atomic_load_n(&spi_owner[intid], __ATOMIC_SEQ_CST);
	if (vm)
		taken = hyp_vm_host_irq(vm, intid) == 0;
	if (taken)
		__atomic_add_fetch(&spi_forwards[intid], 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&spi_forwarding[intid], 1, __ATOMIC_SEQ_CST);
	return taken;
}

void fw_gic_drop_priority(unsigned int intid)
{
	write_sysreg(icc_eoir1_el1, intid);
	isb();
}

void fw_gic_spi_route(unsigned int intid, uint64_t mpidr, bool enable)
{
	uintptr_t word = 4 * (intid / 32);
	uint32_t bit = 1u << (intid % 32);
	uintptr_t cfg = FW_GICD_BASE + GICD_ICFGR + 4 * (intid / 16);
	uintptr_t pri = FW_GICD_BASE + GICD_IPRIORITYR + (intid & ~3u);
	unsigned int shift = 8 * (intid & 3);

	if (!enable) {
		mmio_write32(FW_GICD_BASE + GICD_ICENABLER + word, bit);
		gicd_wait_rwp();
		return;
	}
	mmio_write32(FW_GICD_BASE + GICD_IGROUPR + word,
		     mmio_read32(FW_GICD_BASE + GICD_IGROUPR + word) | bit);
	mmio_write32(pri, (mmio_read32(pri) & ~(0xffu << shift)) | (GIC_PRIORITY << shift));
	/* Int_config[1] = 0: level-sensitive (GICv3 spec, GICD_ICFGR<n>). */
	mmio_write32(cfg, mmio_read32(cfg) & ~(2u << (2 * (intid % 16))));
	/* GICD_IROUTER<n>: Aff3 [39:32], IRM 0, Aff2..Aff0; two 32-bit halves. */
	mmio_write32(FW_GICD_BASE + GICD_IROUTER + 8 * intid, (uint32_t)(mpidr & 0xffffff));
	mmio_write32(FW_GICD_BASE + GICD_IROUTER + 8 * intid + 4, (uint32_t)(mpidr >> 32) & 0xff);
	mmio_write32(FW_GICD_BASE + GICD_ISENABLER + word, bit);
}

bool fw_gic_spi_active(unsigned int intid)
{
	return mmio_read32(FW_GICD_BASE + GICD_ISACTIVER + 4 * (intid / 32)) & (1u << (intid % 32));
}

void fw_gic_eoi(unsigned int intid)
{
	write_sysreg(icc_eoir1_el1, intid);
	write_sysreg(icc_dir_el1, intid);
	isb();
}

/* Enable or disable PPI @intid at @cpu's redistributor (the calling CPU's), if that changes
 * anything. GICR_ICENABLER0 takes effect once GICR_CTLR.RWP reads 0 (GICv3 spec, GICR_CTLR). */
void fw_ppi_set_masked(struct fw_cpu *cpu, unsigned int intid, bool masked)
{
	uint32_t bit = 1u << (intid & 31);

	if (!cpu->gicr_sgi || !(cpu->ppis_enabled & bit) == masked)
		return;
	if (masked) {
		cpu->ppis_enabled &= ~bit;
		mmio_write32(cpu->gicr_sgi + GICR_ICENABLER0, bit);
		for (unsigned int i = 0; i < POLL_LIMIT; i++)
			if (!(mmio_read32(cpu->gicr_sgi - GICR_SGI_BASE + GICR_CTLR) &
			      GICR_CTLR_RWP))
				break;
	} else {
		cpu->ppis_enabled |= bit;
		mmio_write32(cpu->gicr_sgi + GICR_ISENABLER0, bit);
	}
}

/* ---- per-CPU state ---- */

struct fw_cpu fw_cpus[FW_MAX_CPUS];
unsigned int fw_nr_cpus;

unsigned int fw_mpidr_to_index(uint64_t mpidr)
{
	/* start.S's rule: Aff0 + 8 * Aff1 (QEMU virt: 8 CPUs a cluster with GICv3). */
	return (unsigned int)(((mpidr & 0xff) + 8 * ((mpidr >> 8) & 0xff)) % FW_MAX_CPUS);
}

struct fw_cpu *fw_this_cpu(void)
{
	return &fw_cpus[fw_mpidr_to_index(read_sysreg(mpidr_el1))];
}

/* ---- the EL2 physical timer (CNTHP, Arm ARM D11.2.4) and timed events ---- */

#define CNTHP_CTL_ENABLE (1u << 0)

static uint64_t earliest(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

void fw_timer_program(void)
{
	struct fw_cpu_timer *t = &fw_this_cpu()->timer;
	uint64_t when = earliest(earliest(earliest(t->watchdog, t->kick), t->wake), t->hyp_wake);

	if (when) {
		write_sysreg(cnthp_cval_el2, when);
		write_sysreg(cnthp_ctl_el2, CNTHP_CTL_ENABLE);
	} else {
		write_sysreg(cnthp_ctl_el2, 0);
	}
	isb();
}

static void timer_expired(struct fw_cpu *cpu)
{
	struct fw_cpu_timer *t = &cpu->timer;
	uint64_t now = fw_now();

	if (t->watchdog && now >= t->watchdog) {
		t->watchdog = 0;
		if (t->on_watchdog)
			t->on_watchdog(t->watchdog_arg);
	}
	if (t->kick && now >= t->kick) {
		t->kick = 0;
		if (t->on_kick)
			t->on_kick(t->kick_arg);
	}
	if (t->wake && now >= t->wake)
		t->wake = 0;
	/* Taking the interrupt is all libhyp needs: it looks at its timers when it resumes. */
	if (t->hyp_wake && now >= t->hyp_wake)
		t->hyp_wake = 0;
	fw_timer_program();
}

/* Interrupt @intid, acknowledged. */
static void handle_acked(struct fw_cpu *cpu, unsigned int intid)
{
	if (intid == FW_SGI_KICK) {
		/* Nothing to do: the kick's purpose (leave the guest, wake from WFI) is
		 * served by taking it. libhyp looks at its own kick flag. */
		cpu->irqs_kick++;
		fw_gic_eoi(intid);
	} else if (intid == FW_PPI_HYPTIMER) {
		cpu->irqs_timer++;
		/* Level-sensitive: stop it before the EOI, then run what is due (which
		 * may program it again). */
		write_sysreg(cnthp_ctl_el2, 0);
		isb();
		fw_gic_eoi(intid);
		timer_expired(cpu);
	} else if (intid == FW_PPI_VTIMER) {
		/* A vCPU's virtual timer fired while libhyp was not looking (between runs):
		 * it is level-sensitive, so mask it or it comes back at once; libhyp
		 * unmasks it when that vCPU runs again (libhyp/el2.h). */
		cpu->irqs_other++;
		fw_ppi_set_masked(cpu, intid, true);
		fw_gic_eoi(intid);
	} else if (intid == FW_UART_INTID) {
		cpu->irqs_other++;
		fw_console_rx_irq();
		fw_gic_eoi(intid);
	} else if (spi_forward(intid)) {
		/* A device given to a guest: drop the priority only; the guest's
		 * deactivation of its virtual SPI deactivates this one (HW bit). */
		cpu->irqs_other++;
		fw_gic_drop_priority(intid);
	} else {
		/* The maintenance interrupt lands here too: libhyp has already dealt
		 * with its cause. */
		cpu->irqs_other++;
		fw_gic_eoi(intid);
	}
}

void fw_handle_irqs(void)
{
	struct fw_cpu *cpu = fw_this_cpu();

	for (;;) {
		unsigned int intid = fw_gic_ack();

		if (intid >= 1020)
			break;
		handle_acked(cpu, intid);
	}
}

static uint64_t fw_idle_quantum_ticks;

void fw_set_idle_quantum(uint64_t ticks)
{
	__atomic_store_n(&fw_idle_quantum_ticks, ticks, __ATOMIC_SEQ_CST);
	/* CPUs asleep with no deadline look again. */
	for (unsigned int i = 0; i < fw_nr_cpus; i++)
		if (&fw_cpus[i] != fw_this_cpu() && fw_cpus[i].online)
			fw_gic_send_sgi(fw_cpus[i].mpidr, FW_SGI_KICK);
}

void fw_cpu_idle(uint64_t deadline)
{
	struct fw_cpu *cpu = fw_this_cpu();
	uint64_t quantum = __atomic_load_n(&fw_idle_quantum_ticks, __ATOMIC_RELAXED);

	if (quantum && (!deadline || deadline > fw_now() + quantum))
		deadline = fw_now() + quantum;

	cpu->timer.wake = deadline;
	fw_timer_program();
	/* WFI wakes on a pending interrupt whatever PSTATE.I says (Arm ARM D1.16.2); we then
	 * take them by polling the CPU interface. */
	dsb(sy);
	wfi();
	fw_handle_irqs();
	cpu->timer.wake = 0;
	fw_timer_program();
}

/* ---- posted work ---- */

void fw_cpu_post(struct fw_cpu *cpu, fw_work_fn fn, void *arg)
{
	cpu->work_fn = fn;
	cpu->work_arg = arg;
	cpu->poster_mpidr = fw_this_cpu()->mpidr;
	/* Only the poster writes @posted; the release publishes fn/arg with it. */
	__atomic_store_n(&cpu->posted, cpu->posted + 1, __ATOMIC_RELEASE);
	fw_gic_send_sgi(cpu->mpidr, FW_SGI_KICK);
}

bool fw_cpu_busy(const struct fw_cpu *cpu)
{
	return __atomic_load_n(&cpu->posted, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&cpu->finished, __ATOMIC_ACQUIRE);
}

bool fw_cpu_wait_idle(struct fw_cpu *cpu, uint64_t deadline)
{
	while (fw_cpu_busy(cpu)) {
		if (deadline && fw_now() >= deadline)
			return false;
		/* The finishing CPU sends us an SGI; the 10 ms timer is a safety net. */
		fw_cpu_idle(earliest(deadline, fw_now() + fw_us_to_ticks(10000)));
	}
	return true;
}

void fw_cpu_loop(void)
{
	struct fw_cpu *cpu = fw_this_cpu();

	for (;;) {
		uint32_t seen = cpu->finished;

		while (__atomic_load_n(&cpu->posted, __ATOMIC_ACQUIRE) == seen)
			fw_cpu_idle(0);
		cpu->work_fn(cpu->work_arg);
		__atomic_store_n(&cpu->finished, seen + 1, __ATOMIC_RELEASE);
		fw_gic_send_sgi(cpu->poster_mpidr, FW_SGI_KICK);
	}
}

/* ---- what libhyp gets ---- */

static void *plat_alloc_pages(void *opaque, unsigned int count)
{
	(void)opaque;
	return fw_alloc_pages(count);
}

static void plat_free_pages(void *opaque, void *pages, unsigned int count)
{
	(void)opaque;
	fw_free_pages(pages, count);
}

static struct hyp_el2_cpu *plat_this_cpu(void *opaque)
{
	(void)opaque;
	return &fw_this_cpu()->hyp;
}

static void plat_kick_cpu(void *opaque, struct hyp_el2_cpu *hcpu)
{
	struct fw_cpu *cpu = fw_container_of(hcpu, struct fw_cpu, hyp);

	(void)opaque;
	if (cpu < fw_cpus || cpu >= fw_cpus + FW_MAX_CPUS)
		fw_panic("kick_cpu: %p is not a struct hyp_el2_cpu of ours", (void *)hcpu);
	fw_gic_send_sgi(cpu->mpidr, FW_SGI_KICK);
}

static void plat_handle_irq(void *opaque)
{
	(void)opaque;
	fw_handle_irqs();
}

/* With kick_sgi: libhyp took the interrupt that stopped a guest, and it was not the kick. */
static void plat_handle_acked_irq(void *opaque, uint32_t intid)
{
	(void)opaque;
	handle_acked(fw_this_cpu(), intid);
}

static void plat_set_ppi_masked(void *opaque, uint32_t intid, bool masked)
{
	(void)opaque;
	if (intid == FW_PPI_MAINTENANCE || intid == FW_PPI_VTIMER)
		fw_ppi_set_masked(fw_this_cpu(), intid, masked);
}

static void plat_set_wakeup(void *opaque, uint64_t deadline)
{
	(void)opaque;
	fw_this_cpu()->timer.hyp_wake = deadline;
	fw_timer_program();
}

const struct hyp_el2_platform fw_el2_platform = {
	.size = sizeof(struct hyp_el2_platform),
	.alloc_pages = plat_alloc_pages,
	.free_pages = plat_free_pages,
	/* Identity-mapped: NULL virt_to_phys/phys_to_virt. */
	.this_cpu = plat_this_cpu,
	.kick_cpu = plat_kick_cpu,
	.handle_irq = plat_handle_irq,
	.set_ppi_masked = plat_set_ppi_masked,
	.set_wakeup = plat_set_wakeup,
	/* The kick SGI only makes a CPU take an interrupt: libhyp may send and take it itself
	 * (a partition with firmware_kick keeps it in the firmware's hands). */
	.kick_sgi = HYP_EL2_KICK_SGI(FW_SGI_KICK),
	.handle_acked_irq = plat_handle_acked_irq,
};

static void *alloc_bytes(void *opaque, size_t size, size_t align)
{
	(void)opaque;
	return fw_malloc(size, align);
}

static void free_bytes(void *opaque, void *ptr, size_t size)
{
	(void)opaque;
	fw_free(ptr, size);
}

const struct hyp_alloc_ops fw_alloc_ops = {
	.alloc = alloc_bytes,
	.free = free_bytes,
};
