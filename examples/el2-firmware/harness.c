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
 * the partition in front ("[A] mmio: ..."), numbered in one stream for the whole machine.
 */
#include <libhyp/hyp.h>

#include "harness.h"

#define DEFAULT_TIMEOUT_MS 20000u
#define STOP_GRACE_MS 5000u
#define REKICK_MS 100u
#define MAX_NAME 200

/* ---------------------------------------------------------------- TAP */

static struct {
	struct fw_lock lock;
	unsigned int n, failed, skipped, todo;
} tap;

void fw_tap_comment(const char *fmt, ...)
{
	char buf[480];
	va_list ap;
	char *line = buf;

	va_start(ap, fmt);
	fw_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fw_lock(&tap.lock);
	/* Every line gets its "# ". */
	for (char *p = buf;; p++) {
		if (*p == '\n' || !*p) {
			char end = *p;

			*p = 0;
			fw_printf("# %s\n", line);
			if (!end)
				break;
			line = p + 1;
		}
	}
	fw_unlock(&tap.lock);
}

void fw_tap_result(bool ok, const char *skip, const char *todo, const char *diag, const char *fmt,
		   ...)
{
	char desc[400];
	va_list ap;

	va_start(ap, fmt);
	fw_vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	for (char *p = desc; *p; p++)
		if (*p == '#')
			*p = '_';
	fw_lock(&tap.lock);
	tap.n++;
	if (skip) {
		tap.skipped++;
		fw_printf("ok %u - %s # SKIP %s\n", tap.n, desc, skip);
	} else if (todo) {
		tap.todo++;
		fw_printf("%s %u - %s # TODO %s\n", ok ? "ok" : "not ok", tap.n, desc, todo);
	} else {
		if (!ok)
			tap.failed++;
		fw_printf("%s %u - %s\n", ok ? "ok" : "not ok", tap.n, desc);
	}
	if (!ok && diag && *diag) {
		char buf[400];
		char *line = buf;

		fw_snprintf(buf, sizeof(buf), "%s", diag);
		for (char *p = buf;; p++) {
			if (*p == '\n' || !*p) {
				char end = *p;

				*p = 0;
				if (*line)
					fw_printf("#   %s\n", line);
				if (!end)
					break;
				line = p + 1;
			}
		}
	}
	fw_unlock(&tap.lock);
}

const struct fw_blob *fw_find_blob(const char *name)
{
	for (const struct fw_blob *b = fw_guest_blobs; b->name; b++)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

static uint64_t now_us(void)
{
	return fw_ticks_to_us(fw_now());
}

/* ---------------------------------------------------------------- state */

struct guest;

/* What a partition's VMs allocated, to prove every VM gives everything back. */
struct acct {
	uint64_t bytes, allocs, pages, bad;
};

struct part_rt {
	const struct fw_partition_config *cfg;
	unsigned int index;
	struct fw_cpu *cpus[FW_MAX_CPUS];
	uint8_t *ram, *private_page, *rom;
	struct acct acct;
	struct hyp_alloc_ops alloc_ops;
	struct hyp_el2_platform platform;
	bool dead; /* a VM could not be stopped: the partition's CPUs are lost */
	unsigned int guests_run;
};

struct vcpu_ctx {
	struct guest *g;
	uint32_t index;
	struct fw_cpu *cpu;
	struct hyp_vcpu *vcpu;
	uint64_t mpidr;
	bool refused_mpidr_expected;
	uint64_t midr;
	uint64_t check_name, check_actual, check_expect, check_depends;
	int64_t status;
	char line[160];
	size_t line_len;
	unsigned int spurious_kicks;
	unsigned int wfx_exits;
};

struct guest {
	struct part_rt *p;
	uint32_t flags;
	char name[96];
	struct lht_header hdr;
	struct hyp_vm *vm;
	uint64_t caps;
	bool custom_mpidr;
	uint64_t inject_mask;
	uint64_t ipa_bits, smc_exits;
	uint32_t nr_vcpus;
	struct vcpu_ctx vcpus[LHT_MAX_VCPUS];
	uint64_t deadline; /* CNTPCT */

	struct fw_lock lock;
	uint64_t foreign_count, foreign_type, foreign_ipa, foreign_len, foreign_write, foreign_data,
		foreign_answer, foreign_esr;
	uint64_t scratch_count, scratch_woff, scratch_wlen, scratch_wdata;
	uint64_t vendor_calls;
	uint64_t smccc_exits, smccc_imm, smccc_conduit;
	uint64_t injected, injected_kind;
	unsigned int checks, check_failures;
	bool exit_written;
	uint64_t exit_value;
	uint32_t event_type;
	uint32_t events_seen;
	char failure[600];

	bool stopping;
	bool timed_out;
	uint64_t timeout_seen_us; /* when a watchdog first fired */
	uint64_t probes[LHT_EL2_MAX_PROBES], probe_kinds[LHT_EL2_MAX_PROBES];
	unsigned int nr_probes;

	uint64_t bench[6]; /* LHT_EL2_REG_BENCH_ITERATIONS.. */

	struct {
		bool armed, handled, self; /* self: this CPU's own timer kicks (no idle CPU) */
		uint32_t vcpu;
		uint64_t flag_ipa;
		uint64_t armed_us, exit_us;
		uint64_t kicked_us;
		int kick_status;
		struct fw_cpu *kicker;
	} kick;
};

static struct part_rt parts[8];

/* ---------------------------------------------------------------- helpers */

static bool hostile(const struct guest *g)
{
	return g->flags & FW_GUEST_HOSTILE;
}

__attribute__((format(printf, 2, 3))) static void guest_fail(struct guest *g, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	size_t used;

	va_start(ap, fmt);
	fw_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fw_tap_comment("%s: %s", g->name, msg);
	fw_lock(&g->lock);
	used = fw_strlen(g->failure);
	if (used + 4 < sizeof(g->failure))
		fw_snprintf(g->failure + used, sizeof(g->failure) - used, "%s\n", msg);
	fw_unlock(&g->lock);
}

/* Stop the VM: every vCPU leaves its run loop at its next exit. Safe from handle_irq. */
static void guest_stop(struct guest *g)
{
	__atomic_store_n(&g->stopping, true, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		struct hyp_vcpu *v = __atomic_load_n(&g->vcpus[i].vcpu, __ATOMIC_ACQUIRE);

		if (v)
			hyp_vcpu_kick(v);
	}
}

static void read_guest_string(struct guest *g, uint64_t ipa, char *out, size_t size)
{
	size_t n = 0;

	for (; n + 1 < size; n++) {
		char c;

		if (hyp_vm_read_guest(g->vm, ipa + n, &c, 1) || !c)
			break;
		out[n] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[n] = 0;
	if (!n)
		fw_snprintf(out, size, "(unreadable string at %#lx)", ipa);
}

static const char *check_op_name(uint64_t op)
{
	switch (op) {
	case LHT_CHECK_EQ:
		return "==";
	case LHT_CHECK_NE:
		return "!=";
	case LHT_CHECK_LE:
		return "<=";
	case LHT_CHECK_GE:
		return ">=";
	default:
		return "?";
	}
}

static void do_check(struct guest *g, struct vcpu_ctx *c, uint64_t op)
{
	char name[MAX_NAME], who[16] = "", diag[200];
	uint64_t a = c->check_actual, e = c->check_expect;
	bool ok;

	/* No platform defect is known on this rig: LHT_REG_CHECK_DEPENDS is accepted and
	 * ignored, so such checks must pass (the el2 backend injects aborts itself). */
	c->check_depends = 0;
	read_guest_string(g, c->check_name, name, sizeof(name));
	if (g->nr_vcpus > 1)
		fw_snprintf(who, sizeof(who), " [vCPU %u]", c->index);
	switch (op) {
	case LHT_CHECK_EQ:
		ok = a == e;
		break;
	case LHT_CHECK_NE:
		ok = a != e;
		break;
	case LHT_CHECK_LE:
		ok = a <= e;
		break;
	case LHT_CHECK_GE:
		ok = a >= e;
		break;
	case LHT_CHECK_NOTE:
		fw_tap_comment("%s%s: %s: %#lx (%ld)", g->name, who, name, a, (int64_t)a);
		return;
	case LHT_CHECK_SKIP: {
		char reason[MAX_NAME];

		read_guest_string(g, a, reason, sizeof(reason));
		fw_lock(&g->lock);
		g->checks++;
		fw_unlock(&g->lock);
		fw_tap_result(true, reason, NULL, NULL, "%s: %s%s", g->name, name, who);
		return;
	}
	default:
		guest_fail(g, "vCPU %u: unknown check operation %lu for '%s'", c->index, op, name);
		return;
	}
	fw_lock(&g->lock);
	g->checks++;
	if (!ok)
		g->check_failures++;
	fw_unlock(&g->lock);
	fw_snprintf(diag, sizeof(diag), "actual   %#lx (%ld)\nexpected %s %#lx (%ld)", a,
		    (int64_t)a, check_op_name(op), e, (int64_t)e);
	fw_tap_result(ok, NULL, NULL, diag, "%s: %s%s", g->name, name, who);
}

static void console_char(struct guest *g, struct vcpu_ctx *c, char ch)
{
	if (ch == '\n' || c->line_len + 1 >= sizeof(c->line)) {
		c->line[c->line_len] = 0;
		fw_tap_comment("%s[%u]: %s", g->name, c->index, c->line);
		c->line_len = 0;
		if (ch == '\n')
			return;
	}
	c->line[c->line_len++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
}

/* ---------------------------------------------------------------- the kick test */

static void kick_now(struct guest *g)
{
	__atomic_store_n(&g->kick.kicked_us, now_us(), __ATOMIC_RELEASE);
	g->kick.kick_status = hyp_vcpu_kick(g->vcpus[g->kick.vcpu].vcpu);
}

/* Posted to an idle CPU of the partition: kick from another CPU, as the driver's thread does;
 * this is what exercises the platform's kick_cpu (an SGI to the vCPU's CPU). */
static void kicker_work(void *arg)
{
	struct guest *g = arg;
	uint64_t at = g->kick.armed_us + LHT_KICK_DELAY_MS * 1000u;

	while (now_us() < at && !__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE))
		fw_cpu_idle(fw_now() + fw_us_to_ticks(at - now_us()));
	if (!__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE))
		kick_now(g);
}

/* The vCPU's own CPU timer kicks (no CPU of the partition is idle). Runs in handle_irq. */
static void self_kick(void *arg)
{
	kick_now(arg);
}

static void arm_kick(struct guest *g, struct vcpu_ctx *c, uint64_t flag_ipa)
{
	struct part_rt *p = g->p;

	fw_lock(&g->lock);
	if (g->kick.armed) {
		fw_unlock(&g->lock);
		guest_fail(g, "LHT_REG_KICK_ARM written twice");
		c->status = -EBUSY;
		return;
	}
	g->kick.armed = true;
	g->kick.vcpu = c->index;
	g->kick.flag_ipa = flag_ipa;
	g->kick.armed_us = now_us();
	fw_unlock(&g->lock);
	/* CPUs past the guest's vCPUs are idle. */
	for (unsigned int i = g->nr_vcpus; i < p->cfg->nr_cpus; i++) {
		if (!fw_cpu_busy(p->cpus[i])) {
			g->kick.kicker = p->cpus[i];
			fw_cpu_post(p->cpus[i], kicker_work, g);
			c->status = 0;
			return;
		}
	}
	g->kick.self = true;
	c->cpu->timer.on_kick = self_kick;
	c->cpu->timer.kick_arg = g;
	c->cpu->timer.kick = fw_now() + fw_us_to_ticks(LHT_KICK_DELAY_MS * 1000u);
	fw_timer_program();
	c->status = 0;
}

static void on_kicked(struct guest *g, struct vcpu_ctx *c)
{
	uint64_t kicked = __atomic_load_n(&g->kick.kicked_us, __ATOMIC_ACQUIRE), one = 1;

	if (g->kick.armed && !g->kick.handled && c->index == g->kick.vcpu && kicked) {
		g->kick.exit_us = now_us();
		g->kick.handled = true;
		if (hyp_vm_write_guest(g->vm, g->kick.flag_ipa, &one, sizeof(one)))
			guest_fail(g, "cannot write the kick flag at %#lx", g->kick.flag_ipa);
		return;
	}
	c->spurious_kicks++;
}

/* ---------------------------------------------------------------- the test device */

static void log_foreign(struct guest *g, const struct hyp_exit *exit, uint64_t type, uint64_t ipa,
			uint64_t len, bool write, uint64_t data, uint64_t answer)
{
	fw_lock(&g->lock);
	g->foreign_esr = exit && (exit->raw.valid & HYP_SYNDROME_ESR) ? exit->raw.esr : ~0ull;
	g->foreign_count++;
	g->foreign_type = type;
	g->foreign_ipa = ipa;
	g->foreign_len = len;
	g->foreign_write = write;
	g->foreign_data = data;
	g->foreign_answer = answer;
	fw_unlock(&g->lock);
}

static bool el2_read(struct guest *g, uint64_t off, uint64_t *v)
{
	struct part_rt *p = g->p;

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
	default:
		return false;
	}
}

static uint64_t dev_read(struct guest *g, struct vcpu_ctx *c, uint64_t off, bool *known)
{
	uint64_t v = 0;

	*known = true;
	if (off >= LHT_REG_MPIDR(0) && off < LHT_REG_MPIDR(LHT_MAX_VCPUS)) {
		uint64_t i = (off - LHT_REG_MPIDR(0)) / 8;

		return i < g->nr_vcpus ? g->vcpus[i].mpidr : 0;
	}
	fw_lock(&g->lock);
	switch (off) {
	case LHT_REG_CAPS:
		v = g->caps;
		break;
	case LHT_REG_NR_VCPUS:
		v = g->nr_vcpus;
		break;
	case LHT_REG_VCPU_INDEX:
		v = c->index;
		break;
	case LHT_REG_MIDR:
		v = c->midr;
		break;
	case LHT_REG_STATUS:
		v = (uint64_t)c->status;
		break;
	case LHT_REG_FOREIGN_COUNT:
		v = g->foreign_count;
		break;
	case LHT_REG_FOREIGN_TYPE:
		v = g->foreign_type;
		break;
	case LHT_REG_FOREIGN_IPA:
		v = g->foreign_ipa;
		break;
	case LHT_REG_FOREIGN_LEN:
		v = g->foreign_len;
		break;
	case LHT_REG_FOREIGN_WRITE:
		v = g->foreign_write;
		break;
	case LHT_REG_FOREIGN_DATA:
		v = g->foreign_data;
		break;
	case LHT_REG_FOREIGN_ANSWER:
		v = g->foreign_answer;
		break;
	case LHT_REG_FOREIGN_ESR:
		v = g->foreign_esr;
		break;
	case LHT_REG_SCRATCH_COUNT:
		v = g->scratch_count;
		break;
	case LHT_REG_SCRATCH_WOFF:
		v = g->scratch_woff;
		break;
	case LHT_REG_SCRATCH_WLEN:
		v = g->scratch_wlen;
		break;
	case LHT_REG_SCRATCH_WDATA:
		v = g->scratch_wdata;
		break;
	default:
		*known = el2_read(g, off, &v);
		break;
	}
	fw_unlock(&g->lock);
	return v;
}

static bool dev_write(struct guest *g, struct vcpu_ctx *c, uint64_t off, uint64_t v)
{
	char line[MAX_NAME];

	switch (off) {
	case LHT_REG_PUTS:
		read_guest_string(g, v, line, sizeof(line));
		fw_tap_comment("%s[%u]: %s", g->name, c->index, line);
		return true;
	case LHT_REG_EXIT:
		fw_lock(&g->lock);
		if (g->exit_written) {
			fw_unlock(&g->lock);
			guest_fail(g, "vCPU %u wrote LHT_REG_EXIT a second time", c->index);
			return true;
		}
		g->exit_written = true;
		g->exit_value = v;
		fw_unlock(&g->lock);
		return true;
	case LHT_REG_CHECK_NAME:
		c->check_name = v;
		return true;
	case LHT_REG_CHECK_ACTUAL:
		c->check_actual = v;
		return true;
	case LHT_REG_CHECK_EXPECT:
		c->check_expect = v;
		return true;
	case LHT_REG_CHECK:
		do_check(g, c, v);
		return true;
	case LHT_REG_CHECK_DEPENDS:
		c->check_depends = v;
		return true;
	case LHT_REG_SPI_RAISE:
	case LHT_REG_SPI_LOWER:
		c->status = hyp_vm_set_spi(g->vm, (uint32_t)v, off == LHT_REG_SPI_RAISE);
		return true;
	case LHT_REG_KICK_ARM:
		arm_kick(g, c, v);
		return true;
	case LHT_EL2_REG_BENCH_ITERATIONS:
	case LHT_EL2_REG_BENCH_TICKS_EMPTY:
	case LHT_EL2_REG_BENCH_TICKS_HVC:
	case LHT_EL2_REG_BENCH_TICKS_MMIO_WRITE:
	case LHT_EL2_REG_BENCH_TICKS_MMIO_READ:
	case LHT_EL2_REG_BENCH_TICKS_PSCI:
		if (!(g->flags & FW_GUEST_BENCH))
			return false;
		g->bench[(off - LHT_EL2_REG_BENCH_ITERATIONS) / 8] = v;
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
	fw_tap_comment("%s: vCPU %u: ESR_EL2 %#lx FAR_EL2 %#lx HPFAR_EL2 %#lx; PC %#lx PSTATE "
		       "%#lx; ELR_EL1 %#lx ESR_EL1 %#lx FAR_EL1 %#lx VBAR_EL1 %#lx SCTLR_EL1 %#lx",
		       g->name, hyp_vcpu_index(vcpu), exit->raw.esr, exit->raw.far, exit->raw.hpfar,
		       pc, pstate, elr, esr1, far1, vbar, sctlr);
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
		guest_fail(g, "vCPU %u: hyp_vcpu_inject_exception(%d, %#lx): %s",
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

static enum hyp_handler_result dev_mmio(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					void *opaque)
{
	struct guest *g = opaque;
	struct vcpu_ctx *c = &g->vcpus[hyp_vcpu_index(vcpu) % LHT_MAX_VCPUS];
	bool known;

	if (a->offset >= LHT_SCRATCH_OFF) {
		uint64_t off = a->offset - LHT_SCRATCH_OFF;

		if (a->is_write) {
			fw_lock(&g->lock);
			g->scratch_count++;
			g->scratch_woff = off;
			g->scratch_wlen = a->len;
			g->scratch_wdata = a->data;
			fw_unlock(&g->lock);
		} else {
			a->data = lht_scratch_value(off, a->len);
		}
		return HYP_HANDLED;
	}
	if (a->offset == LHT_REG_CONSOLE && a->is_write) {
		console_char(g, c, (char)a->data);
		return HYP_HANDLED;
	}
	if (a->len != 8 || (a->offset & 7)) {
		uint64_t answer;

		if (hostile(g)) {
			/* A device answers a malformed register access with a bus error. */
			enum hyp_handler_result r = inject(g, vcpu, HYP_INJECT_DATA_ABORT,
							   fault_va(hyp_vcpu_exit(vcpu), a->ipa),
							   &answer);

			log_foreign(g, hyp_vcpu_exit(vcpu), LHT_FOREIGN_MMIO, a->ipa, a->len,
				    a->is_write, a->is_write ? a->data : 0, answer);
			return r;
		}
		guest_fail(g, "vCPU %u: %u-byte %s of test register %#lx (registers are 64-bit)",
			   c->index, a->len, a->is_write ? "write" : "read", a->offset);
		a->data = 0;
		return HYP_HANDLED;
	}
	if (a->is_write)
		known = dev_write(g, c, a->offset, a->data);
	else
		a->data = dev_read(g, c, a->offset, &known);
	if (!known)
		guest_fail(g, "vCPU %u: %s of unknown test register %#lx", c->index,
			   a->is_write ? "write" : "read", a->offset);
	return HYP_HANDLED;
}

static enum hyp_handler_result rom_mmio(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					void *opaque)
{
	struct guest *g = opaque;

	if (!a->is_write) {
		uint64_t v = 0;

		for (unsigned int i = 0; i < a->len && a->offset + i < LHT_ROM_SIZE; i++)
			v |= (uint64_t)lht_rom_byte(a->offset + i) << (8 * i);
		a->data = v;
	}
	log_foreign(g, hyp_vcpu_exit(vcpu), LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
		    a->is_write ? a->data : 0, LHT_ANSWER_COMPLETED);
	return HYP_HANDLED;
}

static enum hyp_handler_result unclaimed_mmio(struct hyp_vcpu *vcpu, struct hyp_exit *exit,
					      void *opaque)
{
	struct guest *g = opaque;
	struct hyp_mmio_access *a = &exit->mmio;
	enum hyp_handler_result res = HYP_HANDLED;
	uint64_t answer = LHT_ANSWER_COMPLETED;

	if (a->ipa >= LHT_HOLE_RAZWI && a->ipa < LHT_HOLE_BASE + LHT_HOLE_SIZE) {
		if (!a->is_write)
			a->data = 0;
	} else {
		if (!hostile(g) &&
		    (a->ipa < LHT_HOLE_BASE || a->ipa >= LHT_HOLE_BASE + LHT_HOLE_SIZE))
			guest_fail(g, "vCPU %u: unexpected %u-byte MMIO %s at IPA %#lx",
				   hyp_vcpu_index(vcpu), a->len, a->is_write ? "write" : "read",
				   a->ipa);
		res = inject(g, vcpu, HYP_INJECT_DATA_ABORT, fault_va(exit, a->ipa), &answer);
	}
	log_foreign(g, exit, LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
		    a->is_write ? a->data : 0, answer);
	return res;
}

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define EC_DABT_LOW 0x24
#define ISS_DABT_CM (1u << 8)

static enum hyp_handler_result mem_fault(struct hyp_vcpu *vcpu, struct hyp_exit *exit, void *opaque)
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
			guest_fail(g, "vCPU %u: unexpected memory fault kind %u at IPA %#lx",
				   hyp_vcpu_index(vcpu), f->kind, f->ipa);
			vcpu_diag(g, vcpu, exit);
		}
		res = inject(g, vcpu, HYP_INJECT_DATA_ABORT, fault_va(exit, ipa), &answer);
	}
	log_foreign(g, exit, type, f->ipa_valid ? f->ipa : ~0ull, 0, f->is_write, 0, answer);
	return res;
}

static enum hyp_handler_result vendor_call(struct hyp_vcpu *vcpu, struct hyp_smccc_call *call,
					   void *opaque)
{
	struct guest *g = opaque;

	(void)vcpu;
	lht_vendor_results(call->args, call->ret);
	fw_lock(&g->lock);
	g->vendor_calls++;
	fw_unlock(&g->lock);
	return HYP_HANDLED;
}

/* SMCCC calls nothing answered (unknown function IDs, a non-zero immediate, unknown SMCs) get
 * the pre-set NOT_SUPPORTED answer (libhyp/exit.h), counted for the hostile guests. Hostile
 * guests' other unclaimed exits get the architected UNDEF. */
static enum hyp_handler_result smccc_exit(struct hyp_vcpu *vcpu, struct hyp_exit *exit,
					  void *opaque)
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

static enum hyp_handler_result undef_exit(struct hyp_vcpu *vcpu, struct hyp_exit *exit,
					  void *opaque)
{
	struct guest *g = opaque;
	uint64_t answer;

	(void)exit;
	return inject(g, vcpu, HYP_INJECT_UNDEF, 0, &answer);
}

/* The benchmark's callbacks: as little as a useful callback can do. */
static enum hyp_handler_result bench_mmio(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					  void *opaque)
{
	(void)vcpu;
	(void)opaque;
	if (!a->is_write)
		a->data = 0;
	return HYP_HANDLED;
}

static enum hyp_handler_result bench_call(struct hyp_vcpu *vcpu, struct hyp_smccc_call *call,
					  void *opaque)
{
	(void)vcpu;
	(void)opaque;
	call->ret[0] = 0;
	return HYP_HANDLED;
}

/* Instructions per operation, in hundredths, from CNTVCT ticks: under -icount shift=0 one
 * instruction is 1 ns and one tick of the 62.5 MHz counter 16 ns (ARCHITECTURE.md, "Measuring
 * speed honestly"); the empty loop's ticks are the loop itself. */
static uint64_t per_op_x100(uint64_t ticks, uint64_t empty, uint64_t n, uint64_t freq)
{
	uint64_t ns_per_tick_x100 = 100000000000ull / freq;

	if (!n || ticks < empty)
		return 0;
	return (ticks - empty) * ns_per_tick_x100 / n;
}

static void bench_report(struct guest *g)
{
	static const struct {
		unsigned int reg;
		const char *what;
		uint64_t target;
	} rows[] = {
		{ 2, "HVC round trip to a registered SMCCC handler", 150 },
		{ 3, "MMIO write round trip to a registered callback", 250 },
		{ 4, "MMIO read round trip to a registered callback", 250 },
		{ 5, "HVC PSCI_VERSION answered by libhyp's PSCI", 0 },
	};
	uint64_t n = g->bench[0], freq = read_sysreg(cntfrq_el0);

	fw_tap_comment("benchmark: %lu operations per loop, CNTFRQ %lu Hz; figures are guest "
		       "instructions per operation only under -icount shift=0",
		       n, freq);
	for (size_t i = 0; i < FW_ARRAY_SIZE(rows); i++) {
		uint64_t x = per_op_x100(g->bench[rows[i].reg], g->bench[1], n, freq);

		if (rows[i].target)
			fw_printf("bench: %-50s %5lu.%02lu instructions (target <= %lu)\n",
				  rows[i].what, x / 100, x % 100, rows[i].target);
		else
			fw_printf("bench: %-50s %5lu.%02lu instructions\n", rows[i].what, x / 100,
				  x % 100);
	}
}

/* ---------------------------------------------------------------- vCPUs */

static const char *event_name(uint32_t type)
{
	switch (type) {
	case HYP_SYSTEM_EVENT_OFF:
		return "SYSTEM_OFF";
	case HYP_SYSTEM_EVENT_RESET:
		return "SYSTEM_RESET";
	case HYP_SYSTEM_EVENT_CRASH:
		return "CRASH";
	case 0:
		return "none";
	default:
		return "unknown";
	}
}

static void run_vcpu(struct guest *g, struct vcpu_ctx *c)
{
	for (;;) {
		struct hyp_exit *exit;
		int r = hyp_vcpu_run(c->vcpu);

		if (r) {
			guest_fail(g, "vCPU %u: hyp_vcpu_run: %s", c->index, hyp_strerror(r));
			guest_stop(g);
			return;
		}
		exit = hyp_vcpu_exit(c->vcpu);
		switch (exit->reason) {
		case HYP_EXIT_SYSTEM_EVENT:
			fw_lock(&g->lock);
			if (!g->events_seen++) {
				g->event_type = exit->system_event.type;
			} else if (g->event_type != exit->system_event.type) {
				size_t used = fw_strlen(g->failure);

				fw_snprintf(g->failure + used, sizeof(g->failure) - used,
					    "vCPU %u saw system event %s after %s\n", c->index,
					    event_name(exit->system_event.type),
					    event_name(g->event_type));
			}
			fw_unlock(&g->lock);
			return;
		case HYP_EXIT_KICKED:
			if (__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE))
				return;
			on_kicked(g, c);
			continue;
		case HYP_EXIT_WFX:
			/* No virtual interrupts yet: nothing can be waited for; let the CPU
			 * breathe (an SGI or 1 ms) and resume. */
			c->wfx_exits++;
			fw_cpu_idle(fw_now() + fw_us_to_ticks(1000));
			continue;
		default:
			guest_fail(g,
				   "vCPU %u: unexpected exit %s (ESR %#lx valid %#x, FAR %#lx, "
				   "HPFAR %#lx)",
				   c->index, hyp_exit_reason_name(exit->reason), exit->raw.esr,
				   exit->raw.valid, exit->raw.far, exit->raw.hpfar);
			vcpu_diag(g, c->vcpu, exit);
			guest_stop(g);
			return;
		}
	}
}

/* A watchdog fired on this CPU (handle_irq or idle): stop the guest, and keep kicking. */
static void watchdog_fired(void *arg)
{
	struct guest *g = arg;
	struct fw_cpu *cpu = fw_this_cpu();

	if (!__atomic_exchange_n(&g->timed_out, true, __ATOMIC_ACQ_REL))
		g->timeout_seen_us = now_us();
	guest_stop(g);
	cpu->timer.watchdog = fw_now() + fw_us_to_ticks(REKICK_MS * 1000u);
}

/* Posted to each CPU that runs a vCPU (and called directly for vCPU 0). */
static void vcpu_work(void *arg)
{
	struct vcpu_ctx *c = arg;
	struct guest *g = c->g;
	struct fw_cpu *cpu = fw_this_cpu();

	if (cpu != c->cpu)
		fw_panic("vCPU %u of %s posted to CPU %u, runs on CPU %u", c->index, g->name,
			 c->cpu->index, cpu->index);
	cpu->timer.on_watchdog = watchdog_fired;
	cpu->timer.watchdog_arg = g;
	cpu->timer.watchdog = g->deadline;
	fw_timer_program();
	run_vcpu(g, c);
	cpu->timer.watchdog = 0;
	cpu->timer.kick = 0;
	fw_timer_program();
}

static struct hyp_vcpu *expect_mpidr_refused(struct guest *g, struct vcpu_ctx *c)
{
	struct hyp_vcpu_config cfg = {
		.size = sizeof(cfg),
		.index = c->index,
		.mpidr = g->hdr.mpidr[c->index],
	};
	struct hyp_vcpu *vcpu = NULL;
	char diag[96];
	int r;

	fw_tap_comment("%s: vCPU %u: asking for custom MPIDR %#lx although HYP_CAP_CUSTOM_MPIDR = "
		       "0; libhyp should refuse it",
		       g->name, c->index, cfg.mpidr);
	r = hyp_vcpu_create(g->vm, &cfg, &vcpu);
	fw_snprintf(diag, sizeof(diag), "hyp_vcpu_create() returned %d (%s)", r,
		    r ? hyp_strerror(r) : "success");
	fw_tap_result(r == -ENOTSUP, NULL, NULL, diag,
		      "%s: hyp_vcpu_create(index %u, custom MPIDR %#lx) = -ENOTSUP, as "
		      "HYP_CAP_CUSTOM_MPIDR = 0 says",
		      g->name, c->index, cfg.mpidr);
	if (r)
		return NULL;
	c->mpidr = cfg.mpidr;
	return vcpu;
}

static void check_inject_cap(struct guest *g, struct hyp_vcpu *vcpu)
{
	static const struct {
		enum hyp_inject_kind kind;
		const char *name;
	} kinds[] = {
		{ HYP_INJECT_UNDEF, "HYP_INJECT_UNDEF" },
		{ HYP_INJECT_DATA_ABORT, "HYP_INJECT_DATA_ABORT" },
		{ HYP_INJECT_PREFETCH_ABORT, "HYP_INJECT_PREFETCH_ABORT" },
	};

	for (size_t i = 0; i < FW_ARRAY_SIZE(kinds); i++) {
		int r;

		if (g->inject_mask & (1ull << kinds[i].kind))
			continue;
		r = hyp_vcpu_inject_exception(vcpu, kinds[i].kind, LHT_RAM_BASE);
		if (r != -ENOTSUP)
			guest_fail(g,
				   "HYP_CAP_INJECT_EXCEPTIONS = %#lx leaves out %s, but "
				   "hyp_vcpu_inject_exception() returned %d, not -ENOTSUP",
				   g->inject_mask, kinds[i].name, r);
	}
}

static bool create_vcpus(struct guest *g)
{
	bool ok = true;

	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		struct vcpu_ctx *c = &g->vcpus[i];
		struct hyp_vcpu_config cfg = {
			.size = sizeof(cfg),
			.index = i,
			.mpidr = c->refused_mpidr_expected ? 0 : g->hdr.mpidr[i],
		};
		struct hyp_vcpu *vcpu = NULL;
		int r = 0;

		if (c->refused_mpidr_expected)
			vcpu = expect_mpidr_refused(g, c);
		if (!vcpu)
			r = hyp_vcpu_create(g->vm, &cfg, &vcpu);
		if (r) {
			guest_fail(g, "hyp_vcpu_create(index %u, mpidr %#lx): %s", i, cfg.mpidr,
				   hyp_strerror(r));
			ok = false;
			continue;
		}
		if (hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_MIDR_EL1, &c->midr))
			c->midr = 0;
		if (i == 0) {
			r = hyp_vcpu_set_reg(vcpu, HYP_REG_PC, LHT_RAM_BASE);
			if (!r)
				r = hyp_vcpu_set_reg(vcpu, HYP_REG_X0, 0);
			if (r) {
				guest_fail(g, "vCPU 0: setting PC/X0: %s", hyp_strerror(r));
				ok = false;
			}
			check_inject_cap(g, vcpu);
		}
		__atomic_store_n(&c->vcpu, vcpu, __ATOMIC_RELEASE);
	}
	return ok;
}

/* ---------------------------------------------------------------- one guest */

static void log_handler(void *opaque, enum hyp_log_priority prio, const char *fmt, va_list ap)
{
	char msg[300];

	fw_vsnprintf(msg, sizeof(msg), fmt, ap);
	fw_tap_comment("libhyp(%s) [%s]: %s", (const char *)opaque,
		       prio <= HYP_LOG_ERROR   ? "error" :
		       prio <= HYP_LOG_WARNING ? "warning" :
						 "info",
		       msg);
}

static uint64_t default_mpidr(uint32_t index)
{
	return (index & 0xf) | ((uint64_t)((index >> 4) & 0xff) << 8) |
	       ((uint64_t)((index >> 12) & 0xff) << 16);
}

static void query_caps(struct guest *g)
{
	static const struct {
		enum hyp_cap cap;
		const char *name;
	} caps[] = {
		{ HYP_CAP_IRQCHIP_BACKEND, "irqchip-backend" },
		{ HYP_CAP_IRQ_INJECTION, "irq-injection" },
		{ HYP_CAP_SYSREG_TRAPS, "sysreg-traps" },
		{ HYP_CAP_SMCCC_HVC_EXITS, "smccc-hvc-exits" },
		{ HYP_CAP_SMCCC_SMC_EXITS, "smccc-smc-exits" },
		{ HYP_CAP_PSCI_OVERRIDE, "psci-override" },
		{ HYP_CAP_READONLY_MEM, "readonly-mem" },
		{ HYP_CAP_NO_SYNDROME_EXITS, "no-syndrome-exits" },
		{ HYP_CAP_WFX_EXITS, "wfx-exits" },
		{ HYP_CAP_MAX_VCPUS, "max-vcpus" },
		{ HYP_CAP_IPA_BITS, "ipa-bits" },
		{ HYP_CAP_INJECT_EXCEPTIONS, "inject-exceptions" },
		{ HYP_CAP_CUSTOM_MPIDR, "custom-mpidr" },
	};
	char line[400];
	size_t used = 0;

	for (size_t i = 0; i < FW_ARRAY_SIZE(caps); i++) {
		uint64_t v = 0;
		int r = hyp_vm_query_cap(g->vm, caps[i].cap, &v);

		if (used < sizeof(line) && r)
			used += (size_t)fw_snprintf(line + used, sizeof(line) - used, " %s=(%s)",
						    caps[i].name, hyp_strerror(r));
		else if (used < sizeof(line))
			used += (size_t)fw_snprintf(line + used, sizeof(line) - used, " %s=%#lx",
						    caps[i].name, v);
		if (r)
			continue;
		if (caps[i].cap == HYP_CAP_NO_SYNDROME_EXITS && v)
			g->caps |= LHT_CAP_NO_SYNDROME;
		if (caps[i].cap == HYP_CAP_SMCCC_HVC_EXITS && v)
			g->caps |= LHT_CAP_SMCCC_HVC;
		if (caps[i].cap == HYP_CAP_SMCCC_SMC_EXITS)
			g->smc_exits = v;
		if (caps[i].cap == HYP_CAP_IPA_BITS)
			g->ipa_bits = v;
		if (caps[i].cap == HYP_CAP_IRQ_INJECTION && v)
			g->caps |= LHT_CAP_IRQCHIP;
		if (caps[i].cap == HYP_CAP_CUSTOM_MPIDR && v) {
			g->custom_mpidr = true;
			g->caps |= LHT_CAP_CUSTOM_MPIDR;
		}
		if (caps[i].cap == HYP_CAP_INJECT_EXCEPTIONS) {
			g->inject_mask = v;
			if (v & (1ull << HYP_INJECT_DATA_ABORT))
				g->caps |= LHT_CAP_INJECT_DABT;
		}
	}
	if (g->p->guests_run == 0)
		fw_tap_comment("%s: backend %s, caps:%s", g->name, hyp_vm_backend_name(g->vm),
			       line);
}

static int setup_vm(struct guest *g)
{
	uint64_t ro = 0;
	int r;

	r = hyp_vm_map(g->vm, LHT_RAM_BASE, g->p->ram, LHT_RAM_SIZE, HYP_MEM_RWX);
	if (r) {
		guest_fail(g, "hyp_vm_map(RAM): %s", hyp_strerror(r));
		return r;
	}
	if (!hyp_vm_query_cap(g->vm, HYP_CAP_READONLY_MEM, &ro) && ro) {
		r = hyp_vm_map(g->vm, LHT_ROM_BASE, g->p->rom, LHT_ROM_SIZE,
			       HYP_MEM_RO | HYP_MEM_EXEC);
		if (!r)
			r = hyp_vm_add_mmio_handler(g->vm, LHT_ROM_BASE, LHT_ROM_SIZE, rom_mmio, g);
		if (r) {
			guest_fail(g, "mapping the read-only page: %s", hyp_strerror(r));
			return r;
		}
		g->caps |= LHT_CAP_ROM;
	}
	r = hyp_vm_add_mmio_handler(g->vm, LHT_DEV_BASE, LHT_DEV_SIZE, dev_mmio, g);
	if (!r)
		r = hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MMIO, unclaimed_mmio, g);
	if (!r)
		r = hyp_vm_set_exit_handler(g->vm, HYP_EXIT_MEM_FAULT, mem_fault, g);
	if (!r)
		r = hyp_vm_add_smccc_handler(g->vm, HYP_CONDUIT_HVC, LHT_VENDOR_FID, LHT_VENDOR_FID,
					     vendor_call, g);
	if (!r && (g->flags & FW_GUEST_BENCH))
		r = hyp_vm_add_mmio_handler(g->vm, LHT_EL2_BENCH_MMIO_BASE, LHT_EL2_BENCH_MMIO_SIZE,
					    bench_mmio, g);
	if (!r && (g->flags & FW_GUEST_BENCH))
		r = hyp_vm_add_smccc_handler(g->vm, HYP_CONDUIT_HVC, LHT_EL2_BENCH_FID,
					     LHT_EL2_BENCH_FID, bench_call, g);
	/* SMCCC calls nothing answered come back with NOT_SUPPORTED pre-set (libhyp/exit.h):
	 * resume with it, as KVM does for calls it does not know. */
	if (!r)
		r = hyp_vm_set_exit_handler(g->vm, HYP_EXIT_SMCCC, smccc_exit, g);
	if (!r && hostile(g))
		r = hyp_vm_set_exit_handler(g->vm, HYP_EXIT_EXCEPTION, undef_exit, g);
	if (!r && hostile(g))
		r = hyp_vm_set_exit_handler(g->vm, HYP_EXIT_SYSREG, undef_exit, g);
	if (r)
		guest_fail(g, "registering callbacks: %s", hyp_strerror(r));
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
		PROBE(LHT_EL2_PROBE_OTHER_PRIVATE, o->ram_pa + LHT_RAM_SIZE);
	}
	PROBE(LHT_EL2_PROBE_OWN_RAM_PA, self->ram_pa);
	if (!(g->caps & LHT_CAP_IRQCHIP))
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
	struct acct *a = opaque;
	void *p = fw_malloc(size, align);

	if (p) {
		__atomic_fetch_add(&a->bytes, size, __ATOMIC_RELAXED);
		__atomic_fetch_add(&a->allocs, 1, __ATOMIC_RELAXED);
	}
	return p;
}

static void acct_free(void *opaque, void *ptr, size_t size)
{
	struct acct *a = opaque;

	if (!ptr)
		return;
	__atomic_fetch_sub(&a->bytes, size, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&a->allocs, 1, __ATOMIC_RELAXED);
	fw_free(ptr, size);
}

static void *acct_alloc_pages(void *opaque, unsigned int count)
{
	struct acct *a = opaque;
	void *p = fw_alloc_pages(count);

	if (p)
		__atomic_fetch_add(&a->pages, count, __ATOMIC_RELAXED);
	return p;
}

static void acct_free_pages(void *opaque, void *pages, unsigned int count)
{
	struct acct *a = opaque;

	if (!pages)
		return;
	__atomic_fetch_sub(&a->pages, count, __ATOMIC_RELAXED);
	fw_free_pages(pages, count);
}

/* Load the image: zero the partition's RAM (no leftovers of the previous guest), copy, then
 * make it visible to a guest that starts with its MMU off. */
static int load_image(struct guest *g, const struct fw_blob *blob)
{
	struct part_rt *p = g->p;
	size_t size = (size_t)(blob->end - blob->start);

	if (size < LHT_HEADER_OFFSET + sizeof(g->hdr))
		return -ENOEXEC;
	if (size > LHT_RAM_SIZE)
		return -EFBIG;
	memset(p->ram, 0, LHT_RAM_SIZE);
	memcpy(p->ram, blob->start, size);
	memcpy(&g->hdr, blob->start + LHT_HEADER_OFFSET, sizeof(g->hdr));
	if (g->hdr.magic != LHT_HEADER_MAGIC || g->hdr.version != LHT_HEADER_VERSION ||
	    !g->hdr.nr_vcpus || g->hdr.nr_vcpus > LHT_MAX_VCPUS)
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
	uint32_t want = (g->hdr.flags & LHT_F_EXPECT_RESET) ? HYP_SYSTEM_EVENT_RESET :
							      HYP_SYSTEM_EVENT_OFF;
	char diag[640];
	bool ok;

	if (g->flags & FW_GUEST_EXPECT_TIMEOUT) {
		uint64_t late = g->timeout_seen_us &&
						g->timeout_seen_us > fw_ticks_to_us(g->deadline) ?
					g->timeout_seen_us - fw_ticks_to_us(g->deadline) :
					0;

		fw_snprintf(diag, sizeof(diag),
			    "timed out: %s, system event: %s, threads back: %s\n%s",
			    g->timed_out ? "yes" : "no", event_name(g->event_type),
			    healthy ? "yes" : "no", g->failure);
		fw_tap_result(
			g->timed_out && healthy && !g->events_seen && !g->check_failures, NULL,
			NULL, diag,
			"%s: a guest that never exits is stopped by the watchdog (%lu us after "
			"its deadline) and its CPUs come back",
			g->name, late);
		return;
	}
	if (!g->exit_written)
		guest_fail(g, "the guest never wrote LHT_REG_EXIT (it did not finish)");
	else if (g->exit_value == LHT_EXIT_UNEXPECTED_EXCEPTION)
		guest_fail(g, "the guest stopped on an unexpected exception");
	else if (g->exit_value)
		guest_fail(g, "the guest finished with failure code %lu", g->exit_value);
	if (g->timed_out)
		guest_fail(g, "watchdog: the guest did not finish in time; its vCPUs were kicked");
	if (g->events_seen && g->event_type != want)
		guest_fail(g, "the VM ended with system event %s, expected %s",
			   event_name(g->event_type), event_name(want));
	if (!g->events_seen && !g->timed_out && healthy)
		guest_fail(g, "no vCPU reported a system event");
	if (!g->checks)
		guest_fail(g, "the guest reported no checks");
	if (g->vendor_calls && !(g->caps & LHT_CAP_SMCCC_HVC))
		guest_fail(g, "the SMCCC handler ran although HYP_CAP_SMCCC_HVC_EXITS = 0");
	ok = !g->failure[0];
	fw_snprintf(diag, sizeof(diag), "%s", g->failure);
	fw_tap_result(ok, NULL, NULL, diag,
		      "%s: ran to completion (%u vCPU%s, %u checks, ended with %s) in %lu ms",
		      g->name, g->nr_vcpus, g->nr_vcpus > 1 ? "s" : "", g->checks,
		      event_name(g->event_type), (now_us() - t0) / 1000);
	if (g->nr_vcpus > 1 && g->events_seen) {
		unsigned int spurious = 0;

		for (uint32_t i = 0; i < g->nr_vcpus; i++)
			spurious += g->vcpus[i].spurious_kicks;
		fw_snprintf(diag, sizeof(diag), "%u HYP_EXIT_KICKED exit(s) nobody asked for",
			    spurious);
		fw_tap_result(!spurious, NULL, NULL, diag,
			      "%s: every vCPU stopped with HYP_EXIT_SYSTEM_EVENT, no unrequested "
			      "HYP_EXIT_KICKED",
			      g->name);
	}
	if (g->kick.armed) {
		uint64_t kicked = g->kick.kicked_us;
		bool kick_ok = kicked && g->kick.handled && g->kick.kick_status == 0 &&
			       g->kick.exit_us >= kicked;

		fw_snprintf(diag, sizeof(diag),
			    "armed at +0, kicked at +%ld us (status %d), exit seen %s",
			    kicked ? (int64_t)(kicked - g->kick.armed_us) : -1, g->kick.kick_status,
			    g->kick.handled ? "yes" : "no");
		fw_tap_result(kick_ok, NULL, NULL, diag,
			      "%s: hyp_vcpu_kick() from %s made hyp_vcpu_run() return "
			      "HYP_EXIT_KICKED (%lu us after the kick)",
			      g->name,
			      g->kick.self ? "this CPU's timer interrupt" :
					     "another CPU (kick_cpu SGI)",
			      kick_ok ? g->kick.exit_us - kicked : 0);
	}
}

static void run_guest(struct part_rt *p, const struct fw_guest_entry *e)
{
	struct guest *g = (struct guest *)fw_malloc(sizeof(struct guest), 16);
	struct hyp_el2_config el2 = {
		.size = sizeof(el2),
		.platform = &p->platform,
		.vmid = p->cfg->vmid,
	};
	struct hyp_vm_config cfg = { .size = sizeof(cfg) };
	const struct fw_blob *blob = fw_find_blob(e->name);
	uint64_t t0 = now_us(), timeout_ms, grace;
	bool healthy = true;
	char diag[160];
	int r;

	if (!g)
		fw_panic("out of pool memory for the harness");
	memset(g, 0, sizeof(*g));
	g->p = p;
	g->flags = e->flags;
	fw_snprintf(g->name, sizeof(g->name), "[%s] %s", p->cfg->name, e->name);
	if (!blob) {
		fw_tap_result(false, NULL, NULL, NULL,
			      "%s: the image is not built into the firmware", g->name);
		goto out;
	}
	r = load_image(g, blob);
	if (r) {
		fw_tap_result(false, NULL, NULL, NULL, "%s: load: %s", g->name,
			      r == -EFBIG ? "the image is larger than guest RAM" :
					    "not a conformance guest image (bad header)");
		goto out;
	}
	g->nr_vcpus = g->hdr.nr_vcpus;
	if (g->nr_vcpus > p->cfg->nr_cpus) {
		fw_tap_result(false, NULL, NULL, NULL,
			      "%s: needs %u vCPUs, the partition has %u CPUs (config.c)", g->name,
			      g->nr_vcpus, p->cfg->nr_cpus);
		goto out;
	}
	timeout_ms = g->hdr.timeout_ms ? g->hdr.timeout_ms : DEFAULT_TIMEOUT_MS;

	cfg.backend = "el2";
	cfg.backend_config = &el2;
	cfg.alloc = &p->alloc_ops;
	cfg.log_fn = log_handler;
	cfg.log_opaque = g->name;
	cfg.log_priority = HYP_LOG_WARNING;
	cfg.max_vcpus = g->nr_vcpus;
	r = hyp_vm_create(&cfg, &g->vm);
	if (r) {
		fw_tap_result(false, NULL, NULL, NULL,
			      "%s: hyp_vm_create(backend el2, VMID %u): %s", g->name, p->cfg->vmid,
			      hyp_strerror(r));
		goto out;
	}
	query_caps(g);
	if (hostile(g))
		make_probes(g);
	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		struct vcpu_ctx *c = &g->vcpus[i];
		uint64_t want = g->hdr.mpidr[i];

		c->g = g;
		c->index = i;
		c->cpu = p->cpus[i];
		c->mpidr = default_mpidr(i);
		if (want && want != c->mpidr) {
			if (g->custom_mpidr)
				c->mpidr = want;
			else
				c->refused_mpidr_expected = true;
		}
	}
	if ((g->hdr.flags & LHT_F_NEEDS_IRQCHIP) && !(g->caps & LHT_CAP_IRQCHIP)) {
		fw_tap_result(true,
			      "the VM has no interrupt controller (HYP_CAP_IRQ_INJECTION = 0)",
			      NULL, NULL, "%s", g->name);
		goto destroy;
	}
	if (setup_vm(g) || !create_vcpus(g)) {
		report(g, true, t0);
		goto destroy;
	}

	g->deadline = fw_now() + fw_us_to_ticks(timeout_ms * 1000u);
	for (uint32_t i = 1; i < g->nr_vcpus; i++)
		fw_cpu_post(g->vcpus[i].cpu, vcpu_work, &g->vcpus[i]);
	vcpu_work(&g->vcpus[0]);

	/* The other vCPUs' CPUs. Their own timers are their watchdogs; this is the backstop for
	 * a CPU that cannot take its timer interrupt (e.g. waiting inside the backend). */
	grace = g->deadline + fw_us_to_ticks(STOP_GRACE_MS * 1000u);
	for (uint32_t i = 1; i < g->nr_vcpus; i++) {
		while (!fw_cpu_wait_idle(g->vcpus[i].cpu,
					 fw_now() + fw_us_to_ticks(REKICK_MS * 1000u))) {
			if (fw_now() >= g->deadline) {
				if (!__atomic_exchange_n(&g->timed_out, true, __ATOMIC_ACQ_REL))
					g->timeout_seen_us = now_us();
				guest_stop(g);
			}
			if (fw_now() >= grace) {
				healthy = false;
				break;
			}
		}
		if (!healthy)
			break;
	}
	if (healthy && g->kick.kicker) {
		/* The kicker gives up once the guest is stopping. */
		__atomic_store_n(&g->stopping, true, __ATOMIC_RELEASE);
		fw_cpu_wait_idle(g->kick.kicker, 0);
	}
	if (!healthy) {
		guest_fail(g, "vCPUs did not come back from hyp_vcpu_run() after kicks for %u ms",
			   STOP_GRACE_MS);
		report(g, false, t0);
		fw_tap_comment("Bail out of partition %s: %s is stuck; its VM cannot be destroyed",
			       p->cfg->name, g->name);
		p->dead = true;
		return; /* the guest struct stays: stuck CPUs may still use it */
	}
	report(g, healthy, t0);
	if (g->flags & FW_GUEST_BENCH)
		bench_report(g);
	if (hostile(g)) {
		unsigned int bad = damaged_private_pages();

		fw_snprintf(diag, sizeof(diag), "%u partition(s) with a changed private page", bad);
		fw_tap_result(!bad, NULL, NULL, diag,
			      "%s: every partition's private page is intact after the attack",
			      g->name);
	}
destroy:
	hyp_vm_destroy(g->vm);
	{
		struct acct a = p->acct;

		fw_snprintf(
			diag, sizeof(diag),
			"still allocated: %lu bytes in %lu blocks, %lu pages; pool bad frees %lu",
			a.bytes, a.allocs, a.pages, fw_pool_stats().bad_frees);
		fw_tap_result(!a.bytes && !a.allocs && !a.pages && !fw_pool_stats().bad_frees, NULL,
			      NULL, diag, "%s: hyp_vm_destroy() gave back every byte and page",
			      g->name);
	}
out:
	p->guests_run++;
	fw_free(g, sizeof(*g));
}

/* ---------------------------------------------------------------- partitions */

static void run_partition(void *arg)
{
	struct part_rt *p = arg;

	for (const struct fw_guest_entry *e = p->cfg->guests; e->name; e++) {
		if (p->dead) {
			fw_tap_result(false, NULL, NULL, NULL,
				      "[%s] %s: not run (the partition lost its CPUs)",
				      p->cfg->name, e->name);
			continue;
		}
		run_guest(p, e);
	}
}

static bool partition_ok(const struct fw_partition_config *cfg)
{
	if (!cfg->nr_cpus || cfg->nr_cpus > FW_MAX_CPUS)
		return false;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++)
		if (cfg->cpus[i] >= fw_nr_cpus || !fw_cpus[cfg->cpus[i]].online)
			return false;
	return (cfg->ram_pa & (FW_PAGE_SIZE - 1)) == 0 && cfg->vmid;
}

unsigned int fw_harness_run(void)
{
	unsigned int last_phase = 0;
	uint64_t t0 = now_us();

	fw_printf("TAP version 13\n");
	fw_tap_comment(
		"libhyp %s conformance guests on the el2 backend: %u partition(s), %u CPU(s)",
		hyp_version_string(), fw_nr_partitions, fw_nr_cpus);
	if (fw_nr_partitions > FW_ARRAY_SIZE(parts))
		fw_panic("too many partitions");
	for (unsigned int i = 0; i < fw_nr_partitions; i++) {
		struct part_rt *p = &parts[i];
		const struct fw_partition_config *cfg = &fw_partitions[i];

		p->cfg = cfg;
		p->index = i;
		p->ram = (uint8_t *)(uintptr_t)cfg->ram_pa;
		p->private_page = p->ram + LHT_RAM_SIZE;
		p->rom = p->private_page + FW_PAGE_SIZE;
		p->alloc_ops = (struct hyp_alloc_ops){ acct_alloc, acct_free, &p->acct };
		p->platform = fw_el2_platform;
		p->platform.alloc_pages = acct_alloc_pages;
		p->platform.free_pages = acct_free_pages;
		p->platform.opaque = &p->acct;
		if (!partition_ok(cfg)) {
			fw_tap_result(
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
		fw_tap_comment("[%s] phase %u: CPUs %u..%u (%u), RAM %#lx..%#lx, VMID %u",
			       cfg->name, cfg->phase, cfg->cpus[0], cfg->cpus[cfg->nr_cpus - 1],
			       cfg->nr_cpus, (uint64_t)cfg->ram_pa,
			       (uint64_t)(cfg->ram_pa + LHT_RAM_SIZE - 1), cfg->vmid);
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
		fw_tap_result(!bad, NULL, NULL, diag,
			      "every partition's private page is intact at the end");
	}
	fw_printf("1..%u\n", tap.n);
	fw_tap_comment("%u passed, %u failed, %u skipped, %u TODO in %lu ms",
		       tap.n - tap.failed - tap.skipped - tap.todo, tap.failed, tap.skipped,
		       tap.todo, (now_us() - t0) / 1000);
	return tap.failed;
}
