/* SPDX-License-Identifier: MIT */
/*
 * The conformance-guest harness: tests/guests/driver.c's logic for a firmware without threads.
 *
 * Per guest: load the image into the partition's RAM, create a VM on the el2 backend with the
 * partition's VMID, map RAM and the read-only page, register the test device (protocol.h), the
 * vendor SMCCC call and the generic exit callbacks, create every vCPU, then run vCPU i on the
 * partition's i-th CPU (posted work) and vCPU 0 here. Each CPU running a vCPU arms its EL2 timer
 * as a watchdog: when it fires, the IRQ takes the guest out to handle_irq, which kicks every vCPU
 * of the guest (hyp_vcpu_kick), so no guest can keep a CPU. The TAP lines are the driver's, with
 * the partition in front ("[A] mmio: ..."), numbered in one stream for the whole machine. The test
 * device, the checks, the TAP stream and the verdicts are tests/guests/lht-device.c, shared with
 * the driver; this file is the firmware's host for it (struct lht_host) and what only the firmware
 * does: partitions, CPUs, watchdogs, hostile guests.
 */
#include <libhyp/hyp.h>

#include "channel.h"
#include "harness.h"
#include "lht-device.h"

#define DEFAULT_TIMEOUT_MS 20000u
#define STOP_GRACE_MS 5000u
#define REKICK_MS 100u

/* ---------------------------------------------------------------- the host of lht-device.c */

static struct fw_lock tap_lock;
/* fw_harness_set_phase() */
static uint64_t host_phase;

static void write_console(const char *text)
{
	fw_printf("%s", text);
}

static void lock(void *l)
{
	fw_lock(l);
}

static void unlock(void *l)
{
	fw_unlock(l);
}

static uint64_t now_us(void)
{
	return fw_ticks_to_us(fw_now());
}

/* ---------------------------------------------------------------- state */

struct part_rt {
	const struct fw_partition_config *cfg;
	unsigned int index;
	struct fw_cpu *cpus[FW_MAX_CPUS];
	uint8_t *ram, *private_page, *rom;
	struct fw_acct acct;
	struct hyp_alloc_ops alloc_ops;
	struct hyp_el2_platform platform;
	bool dead; /* a VM could not be stopped: the partition's CPUs are lost */
	unsigned int guests_run;
};

struct guest {
	struct lht_dev dev; /* the test device and the run's verdict (lht-device.h) */
	struct part_rt *p;
	uint32_t flags;
	uint64_t ipa_bits, smc_exits;
	uint64_t deadline; /* CNTPCT */

	/* @dev's lock; also for the fields below. */
	struct fw_lock lock;
	uint64_t smccc_exits, smccc_imm, smccc_conduit;
	uint64_t injected, injected_kind;
	unsigned int wfx_exits[LHT_MAX_VCPUS];

	uint64_t timeout_seen_us; /* when a watchdog first fired */
	uint64_t probes[LHT_EL2_MAX_PROBES], probe_kinds[LHT_EL2_MAX_PROBES];
	unsigned int nr_probes;

	/* The kick test's kicker: an idle CPU, or (@kick_self) this CPU's own timer. */
	bool kick_self;
	struct fw_cpu *kicker;

	/* What the watchdogs' reports (hyp_vcpu_log_state() of the vCPU on their CPU) showed:
	 * reports made, and those with the guest's PC and with the hardware's list registers. */
	unsigned int reports, reports_pc, reports_hw;
	unsigned int reporting; /* watchdogs reporting now: guest_log() counts */
};

static struct part_rt parts[8];

/* ---------------------------------------------------------------- helpers */

static bool hostile(const struct guest *g)
{
	return (g->flags & FW_GUEST_HOSTILE) || (g->dev.hdr.flags & LHT_F_HOSTILE);
}

static struct guest *guest_of(struct lht_dev *d)
{
	return lht_container_of(d, struct guest, dev);
}

/* ---------------------------------------------------------------- the kick test */

/* Posted to an idle CPU of the partition: kick from another CPU, as the driver's thread does;
 * this is what exercises the platform's kick_cpu (an SGI to the vCPU's CPU). */
static void kicker_work(void *arg)
{
	struct guest *g = arg;
	uint64_t at = g->dev.kick.armed_us + LHT_KICK_DELAY_MS * 1000u;

	while (now_us() < at && !__atomic_load_n(&g->dev.stopping, __ATOMIC_ACQUIRE))
		fw_cpu_idle(fw_now() + fw_us_to_ticks(at - now_us()));
	if (!__atomic_load_n(&g->dev.stopping, __ATOMIC_ACQUIRE))
		lht_kick_now(&g->dev);
}

/* The vCPU's own CPU timer kicks (no CPU of the partition is idle). Runs in handle_irq. */
static void self_kick(void *arg)
{
	struct guest *g = arg;

	lht_kick_now(&g->dev);
}

/* struct lht_host.start_kicker */
static void start_kicker(struct lht_dev *d, struct lht_vcpu *c)
{
	struct guest *g = guest_of(d);
	struct part_rt *p = g->p;
	struct fw_cpu *cpu = p->cpus[c->index];

	/* CPUs past the guest's vCPUs are idle. */
	for (unsigned int i = d->nr_vcpus; i < p->cfg->nr_cpus; i++) {
		if (!fw_cpu_busy(p->cpus[i])) {
			g->kicker = p->cpus[i];
			fw_cpu_post(p->cpus[i], kicker_work, g);
			c->status = 0;
			return;
		}
	}
	g->kick_self = true;
	cpu->timer.on_kick = self_kick;
	cpu->timer.kick_arg = g;
	cpu->timer.kick = fw_now() + fw_us_to_ticks(LHT_KICK_DELAY_MS * 1000u);
	fw_timer_program();
	c->status = 0;
}

/* ---------------------------------------------------------------- the test device */

/* struct lht_host.read_reg: the registers of el2-lht.h. */
static bool el2_read(struct lht_dev *d, struct lht_vcpu *c, uint64_t off, uint64_t *v)
{
	struct guest *g = guest_of(d);
	struct part_rt *p = g->p;

	(void)c;
	if (off >= LHT_EL2_REG_PROBE_ADDR(0) && off < LHT_EL2_REG_PROBE_ADDR(LHT_EL2_MAX_PROBES)) {
		uint64_t i = (off - LHT_EL2_REG_PROBE_ADDR(0)) / 8;

		*v = i < g->nr_probes ? g->probes[i] : 0;
		return true;
	}
	if (off >= LHT_EL2_REG_PROBE_KIND(0) && off < LHT_EL2_REG_PROBE_KIND(LHT_EL2_MAX_PROBES)) {
		uint64_t i = (off - LHT_EL2_REG_PROBE_KIND(0)) / 8;

		*v = i < g->nr_probes ? g->probe_kinds[i] : 0;
		return true;
	}
	switch (off) {
	case LHT_EL2_REG_PROBE_COUNT:
		*v = g->nr_probes;
		return true;
	case LHT_EL2_REG_SMCCC_EXITS:
		*v = g->smccc_exits;
		return true;
	case LHT_EL2_REG_SMCCC_IMM:
		*v = g->smccc_imm;
		return true;
	case LHT_EL2_REG_SMCCC_CONDUIT:
		*v = g->smccc_conduit;
		return true;
	case LHT_EL2_REG_IPA_BITS:
		*v = g->ipa_bits;
		return true;
	case LHT_EL2_REG_SMC_EXITS:
		*v = g->smc_exits;
		return true;
	case LHT_EL2_REG_PARTITION:
		*v = p->index;
		return true;
	case LHT_EL2_REG_PARTITION_CPUS:
		*v = p->cfg->nr_cpus;
		return true;
	case LHT_EL2_REG_INJECTED:
		*v = g->injected;
		return true;
	case LHT_EL2_REG_INJECTED_KIND:
		*v = g->injected_kind;
		return true;
	case LHT_EL2_REG_HOST_PHASE:
		*v = __atomic_load_n(&host_phase, __ATOMIC_ACQUIRE);
		return true;
	default:
		return false;
	}
}

/* What the guest was doing, for a failure report. */
static void vcpu_diag(struct guest *g, struct hyp_vcpu *vcpu, const struct hyp_exit *exit)
{
	uint64_t pc = 0, pstate = 0, elr = 0, esr1 = 0, far1 = 0, vbar = 0, sctlr = 0;

	hyp_vcpu_get_reg(vcpu, HYP_REG_PC, &pc);
	hyp_vcpu_get_reg(vcpu, HYP_REG_PSTATE, &pstate);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_ELR_EL1, &elr);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_ESR_EL1, &esr1);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_FAR_EL1, &far1);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_VBAR_EL1, &vbar);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &sctlr);
	lht_tap_comment("%s: vCPU %u: ESR_EL2 %#lx FAR_EL2 %#lx HPFAR_EL2 %#lx; PC %#lx PSTATE "
			"%#lx; ELR_EL1 %#lx ESR_EL1 %#lx FAR_EL1 %#lx VBAR_EL1 %#lx SCTLR_EL1 %#lx",
			g->dev.name, hyp_vcpu_index(vcpu), exit->raw.esr, exit->raw.far,
			exit->raw.hpfar, pc, pstate, elr, esr1, far1, vbar, sctlr);
}

/* FAR_EL1 of an injected abort is the guest's virtual address (FAR_EL2), not the IPA: they
 * differ as soon as the guest maps the address elsewhere (tests/el2/guests/hostile-traps.c). */
static uint64_t fault_va(const struct hyp_exit *exit, uint64_t ipa)
{
	return exit && (exit->raw.valid & HYP_SYNDROME_FAR) ? exit->raw.far : ipa;
}

/* Answer a refused access with the architected external abort. */
static enum hyp_handler_result inject(struct guest *g, struct hyp_vcpu *vcpu,
				      enum hyp_inject_kind kind, uint64_t addr, uint64_t *answer)
{
	int r = hyp_vcpu_inject_exception(vcpu, kind, addr);

	if (r) {
		lht_fail(&g->dev, "vCPU %u: hyp_vcpu_inject_exception(%d, %#lx): %s",
			 hyp_vcpu_index(vcpu), kind, addr, hyp_strerror(r));
		*answer = LHT_ANSWER_REFUSED;
		return HYP_NOT_HANDLED;
	}
	if (kind != HYP_INJECT_DATA_ABORT) {
		fw_lock(&g->lock);
		g->injected++;
		g->injected_kind = kind;
		fw_unlock(&g->lock);
	}
	*answer = LHT_ANSWER_ABORT;
	return HYP_HANDLED;
}

/* struct lht_host.inject_abort */
static enum hyp_handler_result inject_abort(struct lht_dev *d, struct hyp_vcpu *vcpu,
					    const struct hyp_exit *exit, uint64_t ipa,
					    uint64_t *answer)
{
	return inject(guest_of(d), vcpu, HYP_INJECT_DATA_ABORT, fault_va(exit, ipa), answer);
}

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define EC_DABT_LOW 0x24
#define ISS_DABT_CM (1u << 8)

static enum hyp_handler_result mem_fault(void *opaque, struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct guest *g = opaque;
	struct hyp_mem_fault *f = &exit->fault;
	uint64_t type = f->kind == HYP_FAULT_NO_SYNDROME ? LHT_FOREIGN_NO_SYNDROME :
							   LHT_FOREIGN_OTHER_FAULT;
	uint64_t answer = LHT_ANSWER_COMPLETED, ipa = f->ipa_valid ? f->ipa : 0;
	enum hyp_handler_result res;

	if (hostile(g) && (exit->raw.valid & HYP_SYNDROME_ESR) &&
	    ESR_EC(exit->raw.esr) == EC_DABT_LOW && (exit->raw.esr & ISS_DABT_CM) &&
	    f->kind == HYP_FAULT_OTHER) {
		/* Cache maintenance by VA on an IPA with nothing there: completing the exit skips
		 * the instruction, as for a Device region (lib/trap/decode.c). */
		res = HYP_HANDLED;
	} else if (hostile(g) && f->kind == HYP_FAULT_EXEC) {
		res = inject(g, vcpu, HYP_INJECT_PREFETCH_ABORT, fault_va(exit, ipa), &answer);
	} else {
		if (f->kind != HYP_FAULT_NO_SYNDROME && !hostile(g)) {
			lht_fail(&g->dev, "vCPU %u: unexpected memory fault kind %u at IPA %#lx",
				 hyp_vcpu_index(vcpu), f->kind, f->ipa);
			vcpu_diag(g, vcpu, exit);
		}
		res = inject(g, vcpu, HYP_INJECT_DATA_ABORT, fault_va(exit, ipa), &answer);
	}
	lht_log_foreign(&g->dev, exit, type, f->ipa_valid ? f->ipa : ~0ull, 0, f->is_write, 0,
			answer);
	return res;
}

/* SMCCC calls nothing answered (unknown function IDs, a non-zero immediate, unknown SMCs) get
 * the pre-set NOT_SUPPORTED answer (libhyp/exit.h), counted for the hostile guests. Hostile
 * guests' other unclaimed exits get the architected UNDEF. */
static enum hyp_handler_result smccc_exit(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_exit *exit)
{
	struct guest *g = opaque;

	(void)vcpu;
	fw_lock(&g->lock);
	g->smccc_exits++;
	g->smccc_imm = exit->smccc.imm;
	g->smccc_conduit = exit->smccc.conduit;
	fw_unlock(&g->lock);
	return HYP_HANDLED;
}

static enum hyp_handler_result undef_exit(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_exit *exit)
{
	struct guest *g = opaque;
	uint64_t answer;

	(void)exit;
	return inject(g, vcpu, HYP_INJECT_UNDEF, 0, &answer);
}

/* ---------------------------------------------------------------- vCPUs */

/* struct lht_host.vcpu_exit */
static bool vcpu_exit(struct lht_vcpu *c, struct hyp_exit *exit)
{
	struct guest *g = guest_of(c->dev);

	if (exit->reason == HYP_EXIT_WFX) {
		/* No virtual interrupts yet: nothing can be waited for; let the CPU breathe (an
		 * SGI or 1 ms) and resume. */
		g->wfx_exits[c->index]++;
		fw_cpu_idle(fw_now() + fw_us_to_ticks(1000));
		return true;
	}
	lht_fail(c->dev, "vCPU %u: unexpected exit %s (ESR %#lx valid %#x, FAR %#lx, HPFAR %#lx)",
		 c->index, hyp_exit_reason_name(exit->reason), exit->raw.esr, exit->raw.valid,
		 exit->raw.far, exit->raw.hpfar);
	vcpu_diag(g, c->vcpu, exit);
	return false;
}

/* Does @s contain @part? */
static bool contains(const char *s, const char *part)
{
	for (; *s; s++) {
		size_t i = 0;

		while (part[i] && s[i] == part[i])
			i++;
		if (!part[i])
			return true;
	}
	return false;
}

/* The VMs' log handler: libhyp's messages as TAP comments (lht_log()); while a watchdog reports,
 * it also notes what the report showed. */
static void guest_log(void *opaque, enum hyp_log_priority prio, const char *fmt, va_list ap)
{
	struct guest *g = opaque;

	if (__atomic_load_n(&g->reporting, __ATOMIC_ACQUIRE)) {
		char msg[512];
		va_list copy;

		va_copy(copy, ap);
		fw_vsnprintf(msg, sizeof(msg), fmt, copy);
		va_end(copy);
		if (contains(msg, ": PC "))
			__atomic_add_fetch(&g->reports_pc, 1, __ATOMIC_RELAXED);
		if (contains(msg, "ICH_HCR_EL2"))
			__atomic_add_fetch(&g->reports_hw, 1, __ATOMIC_RELAXED);
	}
	lht_log((void *)g->dev.name, prio, fmt, ap);
}

/* A watchdog fired on this CPU (handle_irq or idle): report the vCPU that runs here (its state
 * read from the hardware), the first time; stop the guest, and keep kicking. */
static void watchdog_fired(void *arg)
{
	struct guest *g = arg;
	struct fw_cpu *cpu = fw_this_cpu();

	for (uint32_t i = 0; i < g->dev.nr_vcpus; i++) {
		struct hyp_vcpu *vcpu = __atomic_load_n(&g->dev.vcpus[i].vcpu, __ATOMIC_ACQUIRE);

		if (vcpu && g->p->cpus[i] == cpu &&
		    !__atomic_load_n(&g->dev.timed_out, __ATOMIC_ACQUIRE)) {
			__atomic_add_fetch(&g->reports, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&g->reporting, 1, __ATOMIC_ACQ_REL);
			hyp_vcpu_log_state(vcpu);
			__atomic_sub_fetch(&g->reporting, 1, __ATOMIC_ACQ_REL);
		}
	}
	if (!__atomic_exchange_n(&g->dev.timed_out, true, __ATOMIC_ACQ_REL))
		g->timeout_seen_us = now_us();
	lht_stop(&g->dev);
	cpu->timer.watchdog = fw_now() + fw_us_to_ticks(REKICK_MS * 1000u);
}

/* Posted to each CPU that runs a vCPU (and called directly for vCPU 0). */
static void vcpu_work(void *arg)
{
	struct lht_vcpu *c = arg;
	struct guest *g = guest_of(c->dev);
	struct fw_cpu *cpu = fw_this_cpu(), *want = g->p->cpus[c->index];

	if (cpu != want)
		fw_panic("vCPU %u of %s posted to CPU %u, runs on CPU %u", c->index, g->dev.name,
			 want->index, cpu->index);
	cpu->timer.on_watchdog = watchdog_fired;
	cpu->timer.watchdog_arg = g;
	cpu->timer.watchdog = g->deadline;
	fw_timer_program();
	lht_run_vcpu(c);
	cpu->timer.watchdog = 0;
	cpu->timer.kick = 0;
	cpu->timer.hyp_wake = 0;
	fw_timer_program();
}

static bool create_vcpus(struct guest *g)
{
	bool ok = true;

	for (uint32_t i = 0; i < g->dev.nr_vcpus; i++)
		if (!lht_create_vcpu(&g->dev.vcpus[i]))
			ok = false;
	return ok;
}

static const struct lht_host host = {
	.vsnprintf = fw_vsnprintf,
	.write = write_console,
	.lock = lock,
	.unlock = unlock,
	.tap_lock = &tap_lock,
	.now_us = now_us,
	.read_reg = el2_read,
	.inject_abort = inject_abort,
	.start_kicker = start_kicker,
	.vcpu_exit = vcpu_exit,
};

/* ---------------------------------------------------------------- one guest */

/*
 * The PL031 passed through (@on) or taken back. On: its page mapped at its own address, SPI 34
 * assigned to the VM as its SPI 34 and routed at the physical GIC to the CPU of vCPU 0, host
 * interrupts forwarded to this VM. Off: forwarding stops and the SPI is disabled before the VM
 * goes (destroying it deactivates what the guest left active: checked by the caller), and the
 * device is quietened.
 */
static bool passthrough_rtc(struct guest *g, bool on)
{
	struct hyp_vm *vm = g->dev.vm;
	int r;

	if (!on) {
		fw_spi_take(FW_RTC_INTID);
		mmio_write32(FW_RTC_BASE + 0x010, 0); /* RTCIMSC: interrupt masked */
		mmio_write32(FW_RTC_BASE + 0x01c, 1); /* RTCICR: cleared */
		return true;
	}
	r = hyp_vm_map(vm, FW_RTC_BASE, (void *)(uintptr_t)FW_RTC_BASE, FW_PAGE_SIZE,
		       HYP_MEM_READ | HYP_MEM_WRITE);
	if (!r)
		r = hyp_vm_assign_irq(vm, FW_RTC_INTID, FW_RTC_INTID);
	if (!r)
		lht_tap_result(hyp_vm_assign_irq(vm, FW_RTC_INTID, FW_RTC_INTID + 1) == -EBUSY &&
				       hyp_vm_assign_irq(vm, FW_RTC_INTID + 1, FW_RTC_INTID) ==
					       -EBUSY &&
				       hyp_vm_assign_irq(vm, 0, FW_RTC_INTID + 1) == -EINVAL &&
				       hyp_vm_assign_irq(vm, 1020, FW_RTC_INTID + 1) == -EINVAL &&
				       hyp_vm_host_irq(vm, FW_RTC_INTID + 1) == -ENOENT,
			       NULL, NULL, NULL,
			       "%s: hyp_vm_assign_irq() refuses a second assignment of either side "
			       "and bad INTIDs",
			       g->dev.name);
	if (r) {
		lht_fail(&g->dev, "passing the PL031 through: %s", hyp_strerror(r));
		return false;
	}
	if (!fw_spi_give(FW_RTC_INTID, vm, g->p->cpus[0]->mpidr)) {
		lht_fail(&g->dev, "passing the PL031 through: its SPI %u has an owner already",
			 FW_RTC_INTID);
		return false;
	}
	return true;
}

static void query_caps(struct guest *g)
{
	char line[400];

	lht_query_caps(&g->dev, line, sizeof(line), true);
	/* The hostile guests' probes and registers (el2-lht.h); out-parameters stay 0 on failure. */
	hyp_vm_query_cap(g->dev.vm, HYP_CAP_SMCCC_SMC_EXITS, &g->smc_exits);
	hyp_vm_query_cap(g->dev.vm, HYP_CAP_IPA_BITS, &g->ipa_bits);
	if (g->p->guests_run == 0)
		lht_tap_comment("%s: backend %s, caps:%s", g->dev.name,
				hyp_vm_backend_name(g->dev.vm), line);
}

static int setup_vm(struct guest *g)
{
	struct hyp_vm *vm = g->dev.vm;
	int r = lht_setup_vm(&g->dev, g->p->ram, g->p->rom);

	if (r)
		return r;
	r = hyp_vm_set_exit_handler(vm, HYP_EXIT_MEM_FAULT, mem_fault, g);
	/* SMCCC calls nothing answered come back with NOT_SUPPORTED pre-set (libhyp/exit.h):
	 * resume with it, as KVM does for calls it does not know. */
	if (!r)
		r = hyp_vm_set_exit_handler(vm, HYP_EXIT_SMCCC, smccc_exit, g);
	if (!r && hostile(g))
		r = hyp_vm_set_exit_handler(vm, HYP_EXIT_EXCEPTION, undef_exit, g);
	if (!r && hostile(g))
		r = hyp_vm_set_exit_handler(vm, HYP_EXIT_SYSREG, undef_exit, g);
	if (r)
		lht_fail(&g->dev, "registering callbacks: %s", hyp_strerror(r));
	return r;
}

/* The addresses a hostile guest tries (tests/el2/guests/el2-lht.h): nothing it has a mapping
 * for, everything someone else owns. */
static void make_probes(struct guest *g)
{
	const struct fw_partition_config *self = g->p->cfg;

#define PROBE(kind, addr)                                                                          \
	do {                                                                                       \
		if (g->nr_probes < LHT_EL2_MAX_PROBES) {                                           \
			g->probe_kinds[g->nr_probes] = (kind);                                     \
			g->probes[g->nr_probes++] = (addr);                                        \
		}                                                                                  \
	} while (0)
	for (unsigned int i = 0; i < fw_nr_partitions; i++) {
		const struct fw_partition_config *o = &fw_partitions[i];

		if (o == self)
			continue;
		PROBE(LHT_EL2_PROBE_OTHER_RAM, o->ram_pa + 0x1000);
		PROBE(LHT_EL2_PROBE_OTHER_PRIVATE, o->ram_pa + fw_partition_ram_size(o));
	}
	PROBE(LHT_EL2_PROBE_OWN_RAM_PA, self->ram_pa);
	if (!(g->dev.caps & LHT_CAP_IRQCHIP))
		PROBE(LHT_EL2_PROBE_GICD, FW_GICD_BASE);
	PROBE(LHT_EL2_PROBE_UART, FW_UART_BASE);
	if (g->ipa_bits && g->ipa_bits < 48)
		PROBE(LHT_EL2_PROBE_BEYOND_IPA, (1ull << g->ipa_bits) + 0x1000);
#undef PROBE
}

/* The private page: a pattern no guest may ever change (checked after hostile guests). */
static uint8_t private_byte(unsigned int part, uint64_t off)
{
	return (uint8_t)(0xa5 ^ (part * 0x3b) ^ (off * 7) ^ (off >> 8));
}

static void fill_private(struct part_rt *p)
{
	for (uint64_t i = 0; i < FW_PAGE_SIZE; i++)
		p->private_page[i] = private_byte(p->index, i);
	fw_dcache_clean_inval_poc(p->private_page, FW_PAGE_SIZE);
}

static unsigned int damaged_private_pages(void)
{
	unsigned int bad = 0;

	for (unsigned int i = 0; i < fw_nr_partitions; i++) {
		for (uint64_t off = 0; off < FW_PAGE_SIZE; off++) {
			if (parts[i].private_page[off] != private_byte(i, off)) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

/* Per-partition accounting wrappers around the pool. */
static void *acct_alloc(void *opaque, size_t size, size_t align)
{
	struct fw_acct *a = opaque;
	void *p = fw_malloc(size, align);

	if (p) {
		__atomic_fetch_add(&a->bytes, size, __ATOMIC_RELAXED);
		__atomic_fetch_add(&a->allocs, 1, __ATOMIC_RELAXED);
	}
	return p;
}

static void acct_free(void *opaque, void *ptr, size_t size)
{
	struct fw_acct *a = opaque;

	if (!ptr)
		return;
	__atomic_fetch_sub(&a->bytes, size, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&a->allocs, 1, __ATOMIC_RELAXED);
	fw_free(ptr, size);
}

static void *acct_alloc_pages(void *opaque, unsigned int count)
{
	struct fw_acct *a = opaque;
	void *p = fw_alloc_pages(count);

	if (p)
		__atomic_fetch_add(&a->pages, count, __ATOMIC_RELAXED);
	return p;
}

static void acct_free_pages(void *opaque, void *pages, unsigned int count)
{
	struct fw_acct *a = opaque;

	if (!pages)
		return;
	__atomic_fetch_sub(&a->pages, count, __ATOMIC_RELAXED);
	fw_free_pages(pages, count);
}

const struct fw_blob *fw_find_blob(const char *name)
{
	for (const struct fw_blob *b = fw_guest_blobs; b->name; b++)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

/* Load the image: zero the partition's RAM (no leftovers of the previous guest), copy, then
 * make it visible to a guest that starts with its MMU off. */
static int load_image(struct guest *g, const struct fw_blob *blob)
{
	struct part_rt *p = g->p;
	size_t size = (size_t)(blob->end - blob->start);

	if (size < LHT_HEADER_OFFSET + sizeof(g->dev.hdr))
		return -ENOEXEC;
	if (size > LHT_RAM_SIZE)
		return -EFBIG;
	memset(p->ram, 0, LHT_RAM_SIZE);
	memcpy(p->ram, blob->start, size);
	memcpy(&g->dev.hdr, blob->start + LHT_HEADER_OFFSET, sizeof(g->dev.hdr));
	if (!lht_header_ok(&g->dev.hdr))
		return -ENOEXEC;
	for (uint64_t i = 0; i < LHT_ROM_SIZE; i++)
		p->rom[i] = lht_rom_byte(i);
	fw_dcache_clean_inval_poc(p->ram, LHT_RAM_SIZE);
	fw_dcache_clean_inval_poc(p->rom, LHT_ROM_SIZE);
	fw_icache_inval_all();
	return 0;
}

static void report(struct guest *g, bool healthy, uint64_t t0)
{
	struct lht_dev *d = &g->dev;
	char text[1200];

	if (g->flags & FW_GUEST_EXPECT_TIMEOUT) {
		uint64_t late = g->timeout_seen_us &&
						g->timeout_seen_us > fw_ticks_to_us(g->deadline) ?
					g->timeout_seen_us - fw_ticks_to_us(g->deadline) :
					0;

		fw_snprintf(text, sizeof(text),
			    "timed out: %s, system event: %s, threads back: %s\n%s",
			    d->timed_out ? "yes" : "no", lht_event_name(d->event_type),
			    healthy ? "yes" : "no", d->failure);
		lht_tap_result(
			d->timed_out && healthy && !d->events_seen && !d->check_failures, NULL,
			NULL, text,
			"%s: a guest that never exits is stopped by the watchdog (%lu us after "
			"its deadline) and its CPUs come back",
			d->name, late);
		lht_tap_result(g->reports && g->reports_pc == g->reports &&
				       g->reports_hw == g->reports,
			       NULL, NULL, NULL,
			       "%s: the watchdog reported the state of the vCPU it stopped "
			       "(hyp_vcpu_log_state(): %u report(s), %u with the guest's PC, %u "
			       "with the list registers read on its CPU)",
			       d->name, g->reports, g->reports_pc, g->reports_hw);
		return;
	}
	fw_snprintf(text, sizeof(text), "%lu ms", (now_us() - t0) / 1000);
	lht_report_run(d, healthy,
		       "watchdog: the guest did not finish in time; its vCPUs were kicked", text);
	if (d->kick.armed) {
		uint64_t latency;
		bool kick_ok = lht_kick_verdict(d, text, sizeof(text), &latency);

		lht_tap_result(kick_ok, NULL, NULL, text,
			       "%s: hyp_vcpu_kick() from %s made hyp_vcpu_run() return "
			       "HYP_EXIT_KICKED (%lu us after the kick)",
			       d->name,
			       g->kick_self ? "this CPU's timer interrupt" :
					      "another CPU (kick_cpu SGI)",
			       latency);
	}
}

static void run_guest(struct part_rt *p, const struct fw_guest_entry *e)
{
	struct guest *g = (struct guest *)fw_malloc(sizeof(struct guest), 16);
	struct hyp_el2_config el2 = {
		.size = sizeof(el2),
		.flags = (e->flags & FW_GUEST_NATIVE_WFI) ? HYP_EL2_NATIVE_WFI : 0,
		.platform = &p->platform,
		.vmid = p->cfg->vmid,
	};
	struct hyp_vm_config cfg = { .size = sizeof(cfg) };
	const struct fw_blob *blob = fw_find_blob(e->name);
	uint64_t t0 = now_us(), timeout_ms, grace;
	struct lht_dev *d;
	bool healthy = true;
	int destroyed;
	char diag[160];
	int r;

	if (!g)
		fw_panic("out of pool memory for the harness");
	memset(g, 0, sizeof(*g));
	d = &g->dev;
	lht_dev_init(d, &g->lock);
	g->p = p;
	g->flags = e->flags;
	d->hostile = hostile(g);
	fw_snprintf(d->name, sizeof(d->name), "[%s] %s%s", p->cfg->name, e->name,
		    (e->flags & FW_GUEST_NATIVE_WFI) ? " (native WFI)" : "");
	if (e->flags & FW_GUEST_NATIVE_WFI)
		d->bench_variant = "native WFI";
	if (!blob) {
		lht_tap_result(false, NULL, NULL, NULL,
			       "%s: the image is not built into the firmware", d->name);
		goto out;
	}
	r = load_image(g, blob);
	if (r) {
		lht_tap_result(false, NULL, NULL, NULL, "%s: load: %s", d->name,
			       r == -EFBIG ? "the image is larger than guest RAM" :
					     "not a conformance guest image (bad header)");
		goto out;
	}
	d->nr_vcpus = d->hdr.nr_vcpus;
	if (d->nr_vcpus > p->cfg->nr_cpus) {
		lht_tap_result(false, NULL, NULL, NULL,
			       "%s: needs %u vCPUs, the partition has %u CPUs (config.c)", d->name,
			       d->nr_vcpus, p->cfg->nr_cpus);
		goto out;
	}
	timeout_ms = d->hdr.timeout_ms ? d->hdr.timeout_ms : DEFAULT_TIMEOUT_MS;

	cfg.backend = "el2";
	cfg.backend_config = &el2;
	cfg.alloc = &p->alloc_ops;
	cfg.log_fn = guest_log;
	cfg.log_opaque = g;
	cfg.log_priority = HYP_LOG_WARNING;
	cfg.max_vcpus = d->nr_vcpus;
	cfg.dirty_ring_entries = d->hdr.dirty_ring_entries; /* el2 always has the library's rings */
	r = hyp_vm_create(&cfg, &d->vm);
	if (r) {
		lht_tap_result(false, NULL, NULL, NULL,
			       "%s: hyp_vm_create(backend el2, VMID %u): %s", d->name, p->cfg->vmid,
			       hyp_strerror(r));
		goto out;
	}
	d->ring_entries = cfg.dirty_ring_entries;
	query_caps(g);
	if (hostile(g))
		make_probes(g);
	lht_plan_vcpus(d);
	if ((d->hdr.flags & LHT_F_NEEDS_IRQCHIP) && !(d->caps & LHT_CAP_IRQCHIP)) {
		lht_tap_result(true,
			       "the VM has no interrupt controller (HYP_CAP_IRQ_INJECTION = 0)",
			       NULL, NULL, "%s", d->name);
		goto destroy;
	}
	if (d->hdr.cpu_features) {
		lht_tap_result(
			true,
			"the el2 backend gives guests no PMU, SVE, pointer authentication or "
			"MTE (it traps them and hides them from the ID registers)",
			NULL, NULL, "%s", d->name);
		goto destroy;
	}
	if (setup_vm(g) || !create_vcpus(g)) {
		report(g, true, t0);
		goto destroy;
	}
	if ((g->flags & FW_GUEST_PASSTHROUGH_RTC) && !passthrough_rtc(g, true)) {
		report(g, true, t0);
		goto destroy;
	}
	if (g->flags & FW_GUEST_CHANNEL) {
		r = fw_channel_peer_attach(d->vm);
		if (r) {
			lht_fail(d, "attaching the channel: %s", hyp_strerror(r));
			report(g, true, t0);
			goto destroy;
		}
	}

	g->deadline = fw_now() + fw_us_to_ticks(timeout_ms * 1000u);
	for (uint32_t i = 1; i < d->nr_vcpus; i++)
		fw_cpu_post(p->cpus[i], vcpu_work, &d->vcpus[i]);
	vcpu_work(&d->vcpus[0]);

	/* The other vCPUs' CPUs. Their own timers are their watchdogs; this is the backstop for
	 * a CPU that cannot take its timer interrupt (e.g. waiting inside the backend). */
	grace = g->deadline + fw_us_to_ticks(STOP_GRACE_MS * 1000u);
	for (uint32_t i = 1; i < d->nr_vcpus; i++) {
		while (!fw_cpu_wait_idle(p->cpus[i],
					 fw_now() + fw_us_to_ticks(REKICK_MS * 1000u))) {
			if (fw_now() >= g->deadline) {
				if (!__atomic_exchange_n(&d->timed_out, true, __ATOMIC_ACQ_REL))
					g->timeout_seen_us = now_us();
				lht_stop(d);
			}
			if (fw_now() >= grace) {
				healthy = false;
				break;
			}
		}
		if (!healthy)
			break;
	}
	if (healthy && g->kicker) {
		/* The kicker gives up once the guest is stopping. */
		__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
		fw_cpu_wait_idle(g->kicker, 0);
	}
	if (!healthy) {
		lht_fail(d, "vCPUs did not come back from hyp_vcpu_run() after kicks for %u ms",
			 STOP_GRACE_MS);
		report(g, false, t0);
		lht_tap_comment("Bail out of partition %s: %s is stuck; its VM cannot be destroyed",
				p->cfg->name, d->name);
		p->dead = true;
		return; /* the guest struct stays: stuck CPUs may still use it */
	}
	report(g, healthy, t0);
	if (hostile(g)) {
		unsigned int bad = damaged_private_pages();

		fw_snprintf(diag, sizeof(diag), "%u partition(s) with a changed private page", bad);
		lht_tap_result(!bad, NULL, NULL, diag,
			       "%s: every partition's private page is intact after the attack",
			       d->name);
	}
destroy:
	if (g->flags & FW_GUEST_PASSTHROUGH_RTC)
		passthrough_rtc(g, false);
	if (g->flags & FW_GUEST_CHANNEL)
		fw_channel_peer_detach();
	/* No vCPU runs here: a refusal (-EBUSY) would be a library bug, and a leak. */
	destroyed = hyp_vm_destroy(d->vm);
	if (g->flags & FW_GUEST_PASSTHROUGH_RTC)
		lht_tap_result(!fw_gic_spi_active(FW_RTC_INTID), NULL, NULL, NULL,
			       "%s: the physical SPI the guest left active is inactive once its VM "
			       "is destroyed",
			       d->name);
	{
		struct fw_acct a = p->acct;

		fw_snprintf(diag, sizeof(diag),
			    "destroy %d; still allocated: %lu bytes in %lu blocks, %lu pages; "
			    "pool bad frees %lu",
			    destroyed, a.bytes, a.allocs, a.pages, fw_pool_stats().bad_frees);
		lht_tap_result(!destroyed && !a.bytes && !a.allocs && !a.pages &&
				       !fw_pool_stats().bad_frees,
			       NULL, NULL, diag,
			       "%s: hyp_vm_destroy() gave back every byte and page", d->name);
	}
out:
	p->guests_run++;
	fw_free(g, sizeof(*g));
}

/* ---------------------------------------------------------------- partitions */

void fw_harness_set_phase(uint64_t phase)
{
	__atomic_store_n(&host_phase, phase, __ATOMIC_RELEASE);
}

static void run_partition(void *arg)
{
	struct part_rt *p = arg;

	if (p->cfg->kind == FW_PART_LINUX) {
		fw_linux_run(p->cfg, p->cpus, &p->platform, &p->alloc_ops, &p->acct);
		p->guests_run++;
		return;
	}
	for (const struct fw_guest_entry *e = p->cfg->guests_bench && fw_linux_benchmark() ?
						      p->cfg->guests_bench :
						      p->cfg->guests;
	     e->name; e++) {
		if (p->dead) {
			lht_tap_result(false, NULL, NULL, NULL,
				       "[%s] %s: not run (the partition lost its CPUs)",
				       p->cfg->name, e->name);
			continue;
		}
		run_guest(p, e);
	}
}

/* ---------------------------------------------------------------- the partition table */

/* The physical range a partition takes: its RAM, private page and read-only page. */
static void carveout(const struct fw_partition_config *c, uint64_t *start, uint64_t *end)
{
	*start = c->ram_pa;
	*end = c->ram_pa + fw_partition_ram_size(c) + 2 * FW_PAGE_SIZE;
}

static bool ranges_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 < b1 && b0 < a1;
}

/* The pages a device's window touches. */
static void device_pages(const struct fw_device *d, uint64_t *start, uint64_t *end)
{
	*start = d->pa & ~(uint64_t)(FW_PAGE_SIZE - 1);
	*end = (d->pa + d->size + FW_PAGE_SIZE - 1) & ~(uint64_t)(FW_PAGE_SIZE - 1);
}

/* A device of partition @c on its own: a sane window outside what the firmware keeps (RAM, the
 * GIC, its UART), an SPI, and for a DMA master RAM mapped IPA == PA. */
static bool device_error(const struct fw_partition_config *c, const struct fw_device *d, char *why,
			 size_t why_size)
{
	uint64_t p0, p1;

	/* Checked before rounding: a window near the top of the address space would wrap. */
	if (!d->size || d->pa >= 0x100000000ull || d->size > 0x100000000ull - d->pa) {
		fw_snprintf(why, why_size, "[%s] device %s: window %#lx+%#lx is not below 4 GiB",
			    c->name, d->name, d->pa, d->size);
		return true;
	}
	device_pages(d, &p0, &p1);
	if (ranges_overlap(p0, p1, FW_RAM_BASE, FW_RAM_BASE + (uint64_t)FW_RAM_SIZE) ||
	    ranges_overlap(p0, p1, FW_GIC_WINDOW_BASE, FW_GIC_WINDOW_BASE + FW_GIC_WINDOW_SIZE) ||
	    ranges_overlap(p0, p1, FW_UART_BASE, FW_UART_BASE + FW_PAGE_SIZE)) {
		fw_snprintf(why, why_size,
			    "[%s] device %s: pages %#lx..%#lx overlap RAM, the GIC or the "
			    "firmware's UART",
			    c->name, d->name, p0, p1 - 1);
		return true;
	}
	if (d->intid < 32 || d->intid >= 1020 || d->intid == FW_UART_INTID) {
		fw_snprintf(why, why_size, "[%s] device %s: INTID %u is not an SPI it may own",
			    c->name, d->name, d->intid);
		return true;
	}
	if ((d->flags & FW_DEV_DMA) && fw_partition_ram_ipa(c) != c->ram_pa) {
		fw_snprintf(
			why, why_size,
			"[%s] device %s masters the bus (DMA) and there is no SMMU: its owner's "
			"RAM must be mapped IPA == PA",
			c->name, d->name);
		return true;
	}
	if (c->kind != FW_PART_LINUX) {
		fw_snprintf(why, why_size, "[%s] device %s: only a Linux partition owns devices",
			    c->name, d->name);
		return true;
	}
	return false;
}

/* Two devices (of partitions @ci and @cj, maybe the same) that share a page or an SPI. */
static bool devices_clash(const struct fw_partition_config *ci, const struct fw_device *di,
			  const struct fw_partition_config *cj, const struct fw_device *dj,
			  char *why, size_t why_size)
{
	uint64_t a0, a1, b0, b1;

	device_pages(di, &a0, &a1);
	device_pages(dj, &b0, &b1);
	if (di->intid == dj->intid) {
		fw_snprintf(why, why_size, "[%s] device %s and [%s] device %s share SPI %u",
			    cj->name, dj->name, ci->name, di->name, di->intid);
		return true;
	}
	/* Within one partition too: each device's pages are mapped on their own. */
	if (ranges_overlap(a0, a1, b0, b1)) {
		fw_snprintf(why, why_size,
			    "[%s] device %s and [%s] device %s share a page (%#lx..%#lx): a page "
			    "belongs to one device",
			    cj->name, dj->name, ci->name, di->name, a0 > b0 ? a0 : b0,
			    (a1 < b1 ? a1 : b1) - 1);
		return true;
	}
	return false;
}

/* The devices of partition @i against each other and those of partitions 0..@i-1. */
static bool devices_error(const struct fw_partition_config *t, unsigned int i, char *why,
			  size_t why_size)
{
	const struct fw_partition_config *c = &t[i];

	for (unsigned int k = 0; k < c->nr_devices; k++) {
		if (device_error(c, &c->devices[k], why, why_size))
			return true;
		for (unsigned int l = 0; l < k; l++)
			if (devices_clash(c, &c->devices[k], c, &c->devices[l], why, why_size))
				return true;
		for (unsigned int j = 0; j < i; j++)
			for (unsigned int l = 0; l < t[j].nr_devices; l++)
				if (devices_clash(c, &c->devices[k], &t[j], &t[j].devices[l], why,
						  why_size))
					return true;
	}
	return false;
}

/*
 * Whether the static table @t (@n partitions) is consistent; if not, @why says what is wrong and
 * the index of a partition at fault is returned (else -1). Refused: a carve-out outside the RAM
 * after the firmware image or over the staging area of the Linux kernel (fw-layout.h), two
 * carve-outs that overlap (in any phases: a later phase's guest could read what an earlier one
 * left), within one phase a CPU or a VMID in two partitions, and devices (devices_error()): one
 * in two partitions (a shared page or SPI, in any phases), over what the firmware keeps, or a DMA
 * master in a partition whose RAM is not mapped IPA == PA.
 */
static int table_error(const struct fw_partition_config *t, unsigned int n, char *why,
		       size_t why_size)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a0, a1;

		carveout(&t[i], &a0, &a1);
		if (a0 < (uint64_t)(uintptr_t)__pool_end ||
		    a1 > FW_RAM_BASE + (uint64_t)FW_RAM_SIZE || a1 < a0) {
			fw_snprintf(why, why_size,
				    "[%s] RAM %#lx..%#lx is not in the partitions' RAM %#lx..%#lx",
				    t[i].name, a0, a1 - 1, (uint64_t)(uintptr_t)__pool_end,
				    FW_RAM_BASE + (uint64_t)FW_RAM_SIZE - 1);
			return (int)i;
		}
		if (ranges_overlap(a0, a1, FW_LINUX_KERNEL_STAGE, FW_LINUX_INFO + FW_PAGE_SIZE)) {
			fw_snprintf(why, why_size,
				    "[%s] RAM %#lx..%#lx overlaps the kernel staging area %#x..%#x",
				    t[i].name, a0, a1 - 1, FW_LINUX_KERNEL_STAGE,
				    FW_LINUX_INFO + FW_PAGE_SIZE - 1);
			return (int)i;
		}
		if (devices_error(t, i, why, why_size))
			return (int)i;
		for (unsigned int j = 0; j < i; j++) {
			uint64_t b0, b1;

			carveout(&t[j], &b0, &b1);
			if (ranges_overlap(a0, a1, b0, b1)) {
				fw_snprintf(why, why_size, "[%s] and [%s] overlap in RAM",
					    t[j].name, t[i].name);
				return (int)i;
			}
			if (t[i].phase != t[j].phase)
				continue;
			if (t[i].vmid == t[j].vmid) {
				fw_snprintf(why, why_size,
					    "[%s] and [%s] share VMID %u in phase %u", t[j].name,
					    t[i].name, t[i].vmid, t[i].phase);
				return (int)i;
			}
			for (unsigned int ci = 0; ci < t[i].nr_cpus && ci < FW_MAX_CPUS; ci++) {
				for (unsigned int cj = 0; cj < t[j].nr_cpus && cj < FW_MAX_CPUS;
				     cj++) {
					if (t[i].cpus[ci] != t[j].cpus[cj])
						continue;
					fw_snprintf(why, why_size,
						    "[%s] and [%s] share CPU %u in phase %u",
						    t[j].name, t[i].name, t[i].cpus[ci],
						    t[i].phase);
					return (int)i;
				}
			}
		}
	}
	return -1;
}

static bool has_text(const char *s, const char *text)
{
	for (; *s; s++) {
		size_t i = 0;

		while (text[i] && s[i] == text[i])
			i++;
		if (!text[i])
			return true;
	}
	return false;
}

/* The checker itself, on tables it must refuse and one it must accept. */
static void table_self_test(void)
{
	const uint64_t base = 0x4a000000, size = LHT_RAM_SIZE;
	const struct fw_partition_config ok_pair[2] = {
		{ .name = "p", .nr_cpus = 2, .cpus = { 0, 1 }, .ram_pa = base, .vmid = 1 },
		/* Another phase may reuse CPUs and the VMID, never RAM. */
		{ .name = "q",
		  .phase = 1,
		  .nr_cpus = 2,
		  .cpus = { 0, 1 },
		  .ram_pa = base + 2 * size,
		  .vmid = 1 },
	};
	/* A Linux-like partition (RAM IPA == PA) owning a DMA-capable virtio disk and an RTC. */
	static const struct fw_device disk_rtc[2] = {
		{ "disk", FW_VIRTIO_MMIO_BASE + 31 * FW_VIRTIO_MMIO_SLOT_SIZE,
		  FW_VIRTIO_MMIO_SLOT_SIZE, FW_VIRTIO_MMIO_INTID0 + 31,
		  FW_DEV_DMA | FW_DEV_VIRTIO_MMIO, 2 },
		{ "rtc", FW_RTC_BASE, FW_PAGE_SIZE, FW_RTC_INTID, 0, 0 },
	};
	/* Slot 30 shares slot 31's page; the UART's page is the firmware's. */
	static const struct fw_device slot30 = { "net",
						 FW_VIRTIO_MMIO_BASE +
							 30 * FW_VIRTIO_MMIO_SLOT_SIZE,
						 FW_VIRTIO_MMIO_SLOT_SIZE,
						 FW_VIRTIO_MMIO_INTID0 + 30,
						 FW_DEV_VIRTIO_MMIO,
						 1 };
	static const struct fw_device uart = { "uart", FW_UART_BASE, FW_PAGE_SIZE, 40, 0, 0 };
	static const struct fw_device same_spi = { "other", FW_VIRTIO_MMIO_BASE,
						   0x200,   FW_RTC_INTID,
						   0,	    0 };
	struct fw_partition_config bad[2], good_dev[2];
	char why[200], all[3000] = "";
	size_t used = 0;
	bool ok = table_error(ok_pair, 2, why, sizeof(why)) < 0;

	memcpy(good_dev, ok_pair, sizeof(good_dev));
	good_dev[0].kind = FW_PART_LINUX;
	good_dev[0].devices = disk_rtc;
	good_dev[0].nr_devices = 2;
	good_dev[1].kind = FW_PART_LINUX;
	ok &= table_error(good_dev, 2, why, sizeof(why)) < 0;

	/* What each case's refusal must say: the rule that caught it. */
	static const char *const because[14] = {
		"overlap in RAM",
		"share CPU",
		"share VMID",
		"is not in the partitions' RAM",
		"is not in the partitions' RAM",
		"staging area",
		"share SPI",
		"share a page",
		"no SMMU",
		"the firmware's UART",
		"share SPI",
		"not below 4 GiB",
		"not below 4 GiB",
		"share a page",
	};
	/* Two devices of one partition in one page (virtio slots 0 and 1). */
	static const struct fw_device slots01[2] = {
		{ "net0", FW_VIRTIO_MMIO_BASE, FW_VIRTIO_MMIO_SLOT_SIZE, FW_VIRTIO_MMIO_INTID0,
		  FW_DEV_VIRTIO_MMIO, 1 },
		{ "net1", FW_VIRTIO_MMIO_BASE + FW_VIRTIO_MMIO_SLOT_SIZE, FW_VIRTIO_MMIO_SLOT_SIZE,
		  FW_VIRTIO_MMIO_INTID0 + 1, FW_DEV_VIRTIO_MMIO, 1 },
	};

	/* Each case: the good pair with one thing broken, refused with partition 1 at fault (or
	 * 0 for a partition that is wrong on its own), for the right reason. */
	for (unsigned int k = 0; k < FW_ARRAY_SIZE(because); k++) {
		int want = 1, got;

		memcpy(bad, good_dev, sizeof(bad));
		switch (k) {
		case 0: /* RAM overlap across phases (the read-only page included) */
			bad[1].ram_pa = base + size;
			break;
		case 1: /* a CPU twice in one phase */
			bad[1].phase = 0;
			bad[1].vmid = 2;
			bad[1].cpus[1] = 3;
			break;
		case 2: /* a VMID twice in one phase */
			bad[1].phase = 0;
			bad[1].cpus[0] = 2;
			bad[1].cpus[1] = 3;
			break;
		case 3: /* RAM over the firmware */
			bad[0].ram_pa = FW_RAM_BASE;
			want = 0;
			break;
		case 4: /* RAM past the end of memory */
			bad[0].ram_pa = FW_RAM_BASE + (uint64_t)FW_RAM_SIZE - size;
			want = 0;
			break;
		case 5: /* RAM over the staged kernel */
			bad[0].ram_pa = FW_LINUX_KERNEL_STAGE - size;
			want = 0;
			break;
		case 6: /* the disk given to both partitions */
			bad[1].devices = disk_rtc;
			bad[1].nr_devices = 1;
			break;
		case 7: /* another device in a page of the disk's */
			bad[1].devices = &slot30;
			bad[1].nr_devices = 1;
			break;
		case 8: /* a DMA master where RAM is not IPA == PA */
			bad[0].kind = FW_PART_GUESTS;
			bad[0].guests = NULL;
			want = 0;
			break;
		case 9: /* the firmware's UART */
			bad[1].devices = &uart;
			bad[1].nr_devices = 1;
			break;
		case 10: /* the RTC's SPI claimed by another device */
			bad[1].devices = &same_spi;
			bad[1].nr_devices = 1;
			break;
		case 11: /* a window past 4 GiB */
			bad[1].devices =
				&(const struct fw_device){ "far", 0xfffff000ull, 0x2000, 90, 0, 0 };
			bad[1].nr_devices = 1;
			break;
		case 12: /* a window whose end wraps around the address space */
			bad[1].devices = &(const struct fw_device){ "wrap", 0xfffffffffffff001ull,
								    0x10,   90,
								    0,	    0 };
			bad[1].nr_devices = 1;
			break;
		default: /* two devices of one partition in one page */
			bad[1].devices = slots01;
			bad[1].nr_devices = 2;
			break;
		}
		got = table_error(bad, 2, why, sizeof(why));
		ok &= got == want && got >= 0 && has_text(why, because[k]);
		used += (size_t)fw_snprintf(all + used, sizeof(all) - used, "%s%s",
					    used ? "\n" : "", got < 0 ? "accepted!" : why);
		if (used >= sizeof(all))
			used = sizeof(all) - 1;
	}
	lht_tap_result(ok, NULL, NULL, all,
		       "the partition table check refuses overlapping RAM, a CPU or VMID in two "
		       "partitions of a phase, RAM over the firmware, past the end or over the "
		       "staged kernel, a device in two partitions (same device, a shared page or "
		       "SPI), two devices in one page, a DMA master without IPA == PA, the "
		       "firmware's UART, a window past 4 GiB or wrapping, each for its own reason, "
		       "and accepts valid tables");
}

static bool partition_ok(const struct fw_partition_config *cfg)
{
	if (!cfg->nr_cpus || cfg->nr_cpus > FW_MAX_CPUS)
		return false;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++)
		if (cfg->cpus[i] >= fw_nr_cpus || !fw_cpus[cfg->cpus[i]].online)
			return false;
	if (cfg->kind == FW_PART_GUESTS && !cfg->guests)
		return false;
	return (cfg->ram_pa & (FW_PAGE_SIZE - 1)) == 0 &&
	       (fw_partition_ram_size(cfg) & (FW_PAGE_SIZE - 1)) == 0 && cfg->vmid;
}

unsigned int fw_harness_run(void)
{
	unsigned int last_phase = 0;
	uint64_t t0 = now_us();
	struct lht_tap_counts tap;

	lht_init(&host);
	fw_printf("TAP version 13\n");
	lht_tap_comment(
		"libhyp %s conformance guests on the el2 backend: %u partition(s), %u CPU(s)",
		hyp_version_string(), fw_nr_partitions, fw_nr_cpus);
	if (fw_nr_partitions > FW_ARRAY_SIZE(parts))
		fw_panic("too many partitions");
	table_self_test();
	{
		char why[160];
		int bad = table_error(fw_partitions, fw_nr_partitions, why, sizeof(why));

		/* A broken table is the firmware's own bug: nothing may run on it. */
		lht_tap_result(bad < 0, NULL, NULL, bad < 0 ? NULL : why,
			       "the partition table (config.c) is consistent");
		if (bad >= 0) {
			fw_printf("Bail out! the partition table is inconsistent: %s\n", why);
			return 1;
		}
	}
	for (unsigned int i = 0; i < fw_nr_partitions; i++) {
		struct part_rt *p = &parts[i];
		const struct fw_partition_config *cfg = &fw_partitions[i];

		p->cfg = cfg;
		p->index = i;
		p->ram = (uint8_t *)(uintptr_t)cfg->ram_pa;
		p->private_page = p->ram + fw_partition_ram_size(cfg);
		p->rom = p->private_page + FW_PAGE_SIZE;
		p->alloc_ops = (struct hyp_alloc_ops){ acct_alloc, acct_free, &p->acct };
		p->platform = fw_el2_platform;
		p->platform.alloc_pages = acct_alloc_pages;
		p->platform.free_pages = acct_free_pages;
		p->platform.opaque = &p->acct;
		if (cfg->firmware_kick)
			p->platform.kick_sgi = 0;
		if (!partition_ok(cfg)) {
			lht_tap_result(
				false, NULL, NULL, NULL,
				"[%s] partition configuration is usable (CPUs online, RAM, VMID)",
				cfg->name);
			p->dead = true;
			continue;
		}
		for (unsigned int c = 0; c < cfg->nr_cpus; c++)
			p->cpus[c] = &fw_cpus[cfg->cpus[c]];
		fill_private(p);
		if (cfg->phase > last_phase)
			last_phase = cfg->phase;
		lht_tap_comment("[%s] phase %u: CPUs %u..%u (%u), RAM %#lx..%#lx, VMID %u",
				cfg->name, cfg->phase, cfg->cpus[0], cfg->cpus[cfg->nr_cpus - 1],
				cfg->nr_cpus, (uint64_t)cfg->ram_pa,
				(uint64_t)(cfg->ram_pa + fw_partition_ram_size(cfg) - 1),
				cfg->vmid);
	}

	/* Console input goes to the first Linux partition (else the first partition) until the
	 * user selects another (fw.h, FW_INPUT_ESCAPE); the UART's interrupt is taken here. */
	{
		unsigned int selected = 0;

		for (unsigned int i = fw_nr_partitions; i-- > 0;)
			if (fw_partitions[i].kind == FW_PART_LINUX)
				selected = i;
		fw_console_input_init(fw_nr_partitions, selected);
		fw_gic_spi_route(FW_UART_INTID, fw_this_cpu()->mpidr, true);
	}

	for (unsigned int phase = 0; phase <= last_phase; phase++) {
		struct part_rt *mine = NULL;
		struct fw_cpu *self = fw_this_cpu();

		/* Each partition's first CPU runs its guests; this CPU takes its own. */
		for (unsigned int i = 0; i < fw_nr_partitions; i++) {
			struct part_rt *p = &parts[i];

			if (p->cfg->phase != phase || p->dead)
				continue;
			if (p->cpus[0] == self)
				mine = p;
			else
				fw_cpu_post(p->cpus[0], run_partition, p);
		}
		if (mine)
			run_partition(mine);
		for (unsigned int i = 0; i < fw_nr_partitions; i++) {
			struct part_rt *p = &parts[i];

			if (p->cfg->phase == phase && p != mine && !p->dead)
				fw_cpu_wait_idle(p->cpus[0], 0);
		}
	}

	{
		unsigned int bad = damaged_private_pages();
		char diag[80];

		fw_snprintf(diag, sizeof(diag), "%u partition(s) with a changed private page", bad);
		lht_tap_result(!bad, NULL, NULL, diag,
			       "every partition's private page is intact at the end");
	}
	fw_gic_spi_route(FW_UART_INTID, 0, false);
	if (fw_console_input_errors())
		lht_tap_comment("console input: %lu characters dropped for receive errors",
				fw_console_input_errors());
	for (unsigned int i = 0; i < fw_nr_partitions && i < FW_INPUT_MAX_PARTITIONS; i++) {
		uint64_t delivered, pending, dropped;

		fw_console_input_stats(i, &delivered, &pending, &dropped);
		lht_tap_comment("[%s] console input: %lu bytes delivered, %lu never read, %lu "
				"dropped",
				fw_partitions[i].name, delivered, pending, dropped);
	}
	tap = lht_tap_counts();
	fw_printf("1..%u\n", tap.n);
	lht_tap_comment("%u passed, %u failed, %u skipped, %u TODO in %lu ms",
			tap.n - tap.failed - tap.skipped - tap.todo, tap.failed, tap.skipped,
			tap.todo, (now_us() - t0) / 1000);
	return tap.failed;
}
