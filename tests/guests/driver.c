/* SPDX-License-Identifier: MIT */
/*
 * The conformance guest driver: runs each guest image in its own libhyp VM and prints TAP.
 *
 *   driver [--backend NAME] [--timeout SECONDS] [--verbose] PATH...
 *
 * PATH is a guest image (*.bin, built by tests/guests/build.sh) or a directory of them. For each
 * guest the driver reads struct lht_header from the image, creates a VM on the backend (default
 * "kvm"), maps 16 MiB of RAM (HYP_MEM_RWX) at LHT_RAM_BASE and the read-only page, registers the
 * test device (protocol.h) and the vendor SMCCC call, and runs one thread per vCPU; each thread
 * creates its own vCPU (a vCPU's first KVM_RUN from a thread other than its creator's is slow,
 * ARCHITECTURE.md "Pitfalls"). A watchdog kicks every vCPU when the guest's time is up.
 *
 * What a guest may expect follows the backend's capabilities: custom vCPU affinities only with
 * HYP_CAP_CUSTOM_MPIDR (otherwise the driver checks that libhyp refuses them with -ENOTSUP and
 * gives the guest the defaults), external aborts for refused accesses only with
 * HYP_INJECT_DATA_ABORT in HYP_CAP_INJECT_EXCEPTIONS.
 *
 * Output: one TAP line per check a guest reports, plus the driver's own: one per guest for the
 * run as a whole (completed, ended with the expected PSCI system event, no unexpected exit, no
 * timeout), one per refused custom affinity, one per multi-vCPU guest for how its vCPUs stopped,
 * one for the kick test. The plan comes last. Exit status: 0 if nothing failed, 1 if something
 * did, 2 for usage errors.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libhyp/hyp.h>

#include "protocol.h"

#define DEFAULT_TIMEOUT_MS 20000u
/* After the watchdog fires, how long vCPU threads get to come back before we give up. */
#define STOP_GRACE_MS 5000u
#define MAX_NAME 200

/* ---------------------------------------------------------------- TAP output */

static struct {
	pthread_mutex_t lock;
	unsigned int n;
	unsigned int failed;
	unsigned int skipped;
	unsigned int todo;
} tap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Print a comment line (or several: every line gets its "# "). */
static void tap_vcomment(const char *fmt, va_list ap)
{
	char buf[1024];
	char *line, *save = NULL;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&tap.lock);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
	pthread_mutex_unlock(&tap.lock);
}

__attribute__((format(printf, 1, 2))) static void tap_comment(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vcomment(fmt, ap);
	va_end(ap);
}

/* One test point. @skip_reason / @todo_reason are mutually exclusive directives (NULL = none);
 * @diag, if not NULL, is printed as comment lines after a failure. */
static void tap_result(bool ok, const char *skip_reason, const char *todo_reason, const char *diag,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void tap_result(bool ok, const char *skip_reason, const char *todo_reason, const char *diag,
		       const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	/* A '#' in the description would start a directive. */
	for (char *p = desc; *p; p++)
		if (*p == '#')
			*p = '_';
	pthread_mutex_lock(&tap.lock);
	tap.n++;
	if (skip_reason) {
		tap.skipped++;
		printf("ok %u - %s # SKIP %s\n", tap.n, desc, skip_reason);
	} else if (todo_reason) {
		tap.todo++;
		printf("%s %u - %s # TODO %s\n", ok ? "ok" : "not ok", tap.n, desc, todo_reason);
	} else {
		if (!ok)
			tap.failed++;
		printf("%s %u - %s\n", ok ? "ok" : "not ok", tap.n, desc);
	}
	if (!ok && diag && *diag) {
		char buf[1024];
		char *line, *save = NULL;

		snprintf(buf, sizeof(buf), "%s", diag);
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			printf("#   %s\n", line);
	}
	fflush(stdout);
	pthread_mutex_unlock(&tap.lock);
}

/* ---------------------------------------------------------------- per-guest state */

struct guest;

struct vcpu_ctx {
	struct guest *g;
	uint32_t index;
	pthread_t thread;
	bool thread_started;
	struct hyp_vcpu *_Atomic vcpu;
	/* The affinity this vCPU has: hyp_vcpu_config.mpidr, or libhyp's default for the index. */
	uint64_t mpidr;
	/* The guest header asks for a custom affinity the backend does not allow
	 * (HYP_CAP_CUSTOM_MPIDR = 0): check that libhyp refuses it, then use the default. */
	bool refused_mpidr_expected;
	uint64_t midr;

	/* Check operands being staged (LHT_REG_CHECK_*). */
	uint64_t check_name, check_actual, check_expect, check_depends;
	int64_t status;
	char line[256];
	size_t line_len;
	unsigned int spurious_kicks;
};

struct guest {
	char name[128];
	struct lht_header hdr;
	void *ram;
	void *rom;
	struct hyp_vm *vm;
	uint64_t caps;
	bool custom_mpidr;    /* HYP_CAP_CUSTOM_MPIDR */
	uint64_t inject_mask; /* HYP_CAP_INJECT_EXCEPTIONS */
	uint32_t nr_vcpus;
	struct vcpu_ctx vcpus[LHT_MAX_VCPUS];
	pthread_barrier_t created;
	_Atomic bool create_failed;

	/* Everything below is written by vCPU threads under @lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t threads_done;

	uint64_t foreign_count, foreign_type, foreign_ipa, foreign_len, foreign_write, foreign_data,
		foreign_answer, foreign_esr;
	uint64_t scratch_count, scratch_woff, scratch_wlen, scratch_wdata;
	uint64_t vendor_calls;

	unsigned int checks, check_failures;
	bool exit_written;
	uint64_t exit_value;
	uint32_t event_type; /* the first HYP_EXIT_SYSTEM_EVENT a vCPU saw */
	uint32_t events_seen;
	char failure[1024]; /* why the run as a whole failed (first few reasons) */

	_Atomic bool stopping;
	bool timed_out;

	/* The kick test (LHT_REG_KICK_ARM). */
	struct {
		bool armed;
		uint32_t vcpu;
		uint64_t flag_ipa;
		uint64_t armed_us;
		_Atomic uint64_t kicked_us; /* 0 until the kicker thread called hyp_vcpu_kick() */
		uint64_t exit_us;	    /* when run returned HYP_EXIT_KICKED after it */
		bool handled;
		int kick_status;
		pthread_t thread;
		bool thread_started;
	} kick;
};

static const char *backend_name = "kvm";
static unsigned int timeout_override_ms;
static bool verbose;

/*
 * Defects of the test platform that the caller told us about (--known-defect): checks that depend
 * on the behaviour (enum lht_depends) are reported as TODO with this reason instead of failing.
 * Only the platform's: a libhyp bug fails its check until it is fixed.
 */
static const struct {
	const char *name;
	const char *reason;
} defects[LHT_DEPENDS_COUNT] = {
	[LHT_DEPENDS_ISS_SSE] = { "iss-sse",
				  "known platform defect: ESR_EL2.ISS.SSE not reported for "
				  "sign-extending loads (nested KVM on QEMU TCG)" },
	[LHT_DEPENDS_ESR_UPPER_CLEAR] = { "kvm-esr-upper",
					  "known platform defect: Linux 6.1 KVM injects the "
					  "external abort with ESR_EL1[63:32] all ones" },
};
static bool known_defect[LHT_DEPENDS_COUNT];

static const char *defect_todo(uint64_t d)
{
	return d && d < LHT_DEPENDS_COUNT && known_defect[d] ? defects[d].reason : NULL;
}

/* Record a reason the run failed; the first few are kept for the summary line. Caller holds no
 * lock. */
__attribute__((format(printf, 2, 3))) static void guest_fail(struct guest *g, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	size_t used;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_comment("%s: %s", g->name, msg);
	pthread_mutex_lock(&g->lock);
	used = strlen(g->failure);
	if (used + 4 < sizeof(g->failure))
		snprintf(g->failure + used, sizeof(g->failure) - used, "%s\n", msg);
	pthread_mutex_unlock(&g->lock);
}

static struct hyp_vcpu *vcpu_of(struct guest *g, uint32_t i)
{
	return atomic_load(&g->vcpus[i].vcpu);
}

/* Stop the VM: every vCPU thread leaves its run loop at its next exit; kick them out of the
 * guest. Safe from any thread. */
static void guest_stop(struct guest *g)
{
	atomic_store(&g->stopping, true);
	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		struct hyp_vcpu *v = vcpu_of(g, i);

		if (v)
			hyp_vcpu_kick(v);
	}
}

/* The NUL-terminated guest string at @ipa, made printable. */
static void read_guest_string(struct guest *g, uint64_t ipa, char *out, size_t size)
{
	size_t n = 0;

	for (; n + 1 < size; n++) {
		char c;

		if (hyp_vm_read_guest(g->vm, ipa + n, &c, 1))
			break;
		if (!c)
			break;
		out[n] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[n] = 0;
	if (!n)
		snprintf(out, size, "(unreadable string at %#" PRIx64 ")", ipa);
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
	char name[MAX_NAME], who[16] = "", diag[256];
	uint64_t a = c->check_actual, e = c->check_expect, depends = c->check_depends;
	const char *todo = NULL;
	bool ok;

	c->check_depends = 0;
	todo = defect_todo(depends);

	read_guest_string(g, c->check_name, name, sizeof(name));
	if (g->nr_vcpus > 1)
		snprintf(who, sizeof(who), " [vCPU %u]", c->index);
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
		tap_comment("%s%s: %s: %#" PRIx64 " (%" PRId64 ")", g->name, who, name, a,
			    (int64_t)a);
		return;
	case LHT_CHECK_SKIP: {
		char reason[MAX_NAME];

		read_guest_string(g, a, reason, sizeof(reason));
		pthread_mutex_lock(&g->lock);
		g->checks++;
		pthread_mutex_unlock(&g->lock);
		tap_result(true, reason, NULL, NULL, "%s: %s%s", g->name, name, who);
		return;
	}
	default:
		guest_fail(g, "vCPU %u: unknown check operation %" PRIu64 " for '%s'", c->index, op,
			   name);
		return;
	}
	pthread_mutex_lock(&g->lock);
	g->checks++;
	if (!ok && !todo)
		g->check_failures++;
	pthread_mutex_unlock(&g->lock);
	snprintf(diag, sizeof(diag),
		 "actual   %#" PRIx64 " (%" PRId64 ")\nexpected %s %#" PRIx64 " (%" PRId64 ")", a,
		 (int64_t)a, check_op_name(op), e, (int64_t)e);
	tap_result(ok, NULL, todo, diag, "%s: %s%s", g->name, name, who);
}

static void console_char(struct guest *g, struct vcpu_ctx *c, char ch)
{
	if (ch == '\n' || c->line_len + 1 >= sizeof(c->line)) {
		c->line[c->line_len] = 0;
		tap_comment("%s[%u]: %s", g->name, c->index, c->line);
		c->line_len = 0;
		if (ch == '\n')
			return;
	}
	c->line[c->line_len++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
}

/* ---------------------------------------------------------------- the kick test */

static void *kicker_thread(void *arg)
{
	struct guest *g = arg;
	struct timespec delay = { .tv_sec = LHT_KICK_DELAY_MS / 1000,
				  .tv_nsec = (long)(LHT_KICK_DELAY_MS % 1000) * 1000000L };

	nanosleep(&delay, NULL);
	/* Publish the time before kicking: the vCPU thread may see the exit at once. */
	atomic_store(&g->kick.kicked_us, now_us());
	g->kick.kick_status = hyp_vcpu_kick(vcpu_of(g, g->kick.vcpu));
	return NULL;
}

static void arm_kick(struct guest *g, struct vcpu_ctx *c, uint64_t flag_ipa)
{
	pthread_mutex_lock(&g->lock);
	if (g->kick.armed) {
		pthread_mutex_unlock(&g->lock);
		guest_fail(g, "LHT_REG_KICK_ARM written twice");
		c->status = -EBUSY;
		return;
	}
	g->kick.armed = true;
	g->kick.vcpu = c->index;
	g->kick.flag_ipa = flag_ipa;
	g->kick.armed_us = now_us();
	pthread_mutex_unlock(&g->lock);
	if (pthread_create(&g->kick.thread, NULL, kicker_thread, g)) {
		guest_fail(g, "cannot start the kicker thread");
		c->status = -EAGAIN;
		return;
	}
	g->kick.thread_started = true;
	c->status = 0;
}

/* hyp_vcpu_run() returned HYP_EXIT_KICKED on @c: the kick test's, or someone else's. */
static void on_kicked(struct guest *g, struct vcpu_ctx *c)
{
	uint64_t kicked = atomic_load(&g->kick.kicked_us), one = 1;

	if (g->kick.armed && !g->kick.handled && c->index == g->kick.vcpu && kicked) {
		g->kick.exit_us = now_us();
		g->kick.handled = true;
		/* Let the spinning guest go on: it polls this flag in RAM. */
		if (hyp_vm_write_guest(g->vm, g->kick.flag_ipa, &one, sizeof(one)))
			guest_fail(g, "cannot write the kick flag at %#" PRIx64, g->kick.flag_ipa);
		return;
	}
	c->spurious_kicks++;
}

/* ---------------------------------------------------------------- the test device */

static void log_foreign(struct guest *g, const struct hyp_exit *exit, uint64_t type, uint64_t ipa,
			uint64_t len, bool write, uint64_t data, uint64_t answer)
{
	pthread_mutex_lock(&g->lock);
	g->foreign_esr = exit && (exit->raw.valid & HYP_SYNDROME_ESR) ? exit->raw.esr : ~0ull;
	g->foreign_count++;
	g->foreign_type = type;
	g->foreign_ipa = ipa;
	g->foreign_len = len;
	g->foreign_write = write;
	g->foreign_data = data;
	g->foreign_answer = answer;
	pthread_mutex_unlock(&g->lock);
}

static uint64_t dev_read(struct guest *g, struct vcpu_ctx *c, uint64_t off, bool *known)
{
	uint64_t v = 0;

	*known = true;
	if (off >= LHT_REG_MPIDR(0) && off < LHT_REG_MPIDR(LHT_MAX_VCPUS)) {
		uint64_t i = (off - LHT_REG_MPIDR(0)) / 8;

		return i < g->nr_vcpus ? g->vcpus[i].mpidr : 0;
	}
	pthread_mutex_lock(&g->lock);
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
		*known = false;
		break;
	}
	pthread_mutex_unlock(&g->lock);
	return v;
}

static bool dev_write(struct guest *g, struct vcpu_ctx *c, uint64_t off, uint64_t v)
{
	char line[MAX_NAME];
	int r;

	switch (off) {
	case LHT_REG_PUTS:
		read_guest_string(g, v, line, sizeof(line));
		tap_comment("%s[%u]: %s", g->name, c->index, line);
		return true;
	case LHT_REG_EXIT:
		pthread_mutex_lock(&g->lock);
		if (g->exit_written) {
			pthread_mutex_unlock(&g->lock);
			guest_fail(g, "vCPU %u wrote LHT_REG_EXIT a second time", c->index);
			return true;
		}
		g->exit_written = true;
		g->exit_value = v;
		pthread_mutex_unlock(&g->lock);
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
		r = hyp_vm_set_spi(g->vm, (uint32_t)v, off == LHT_REG_SPI_RAISE);
		c->status = r;
		if (r)
			tap_comment("%s: hyp_vm_set_spi(%" PRIu64 ", %d): %s", g->name, v,
				    off == LHT_REG_SPI_RAISE, hyp_strerror(r));
		return true;
	case LHT_REG_KICK_ARM:
		arm_kick(g, c, v);
		return true;
	default:
		return false;
	}
}

/* The test device's MMIO callback (hyp_mmio_fn). */
static enum hyp_handler_result dev_mmio(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					void *opaque)
{
	struct guest *g = opaque;
	struct vcpu_ctx *c = &g->vcpus[hyp_vcpu_index(vcpu) % LHT_MAX_VCPUS];
	bool known;

	if (a->offset >= LHT_SCRATCH_OFF) {
		uint64_t off = a->offset - LHT_SCRATCH_OFF;

		if (a->is_write) {
			pthread_mutex_lock(&g->lock);
			g->scratch_count++;
			g->scratch_woff = off;
			g->scratch_wlen = a->len;
			g->scratch_wdata = a->data;
			pthread_mutex_unlock(&g->lock);
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
		guest_fail(g,
			   "vCPU %u: %u-byte %s of test register %#" PRIx64
			   " (registers are 64-bit)",
			   c->index, a->len, a->is_write ? "write" : "read", a->offset);
		a->data = 0;
		return HYP_HANDLED;
	}
	if (a->is_write)
		known = dev_write(g, c, a->offset, a->data);
	else
		a->data = dev_read(g, c, a->offset, &known);
	if (!known)
		guest_fail(g, "vCPU %u: %s of unknown test register %#" PRIx64, c->index,
			   a->is_write ? "write" : "read", a->offset);
	return HYP_HANDLED;
}

/* The read-only page: reads never exit (it is memory); writes exit as MMIO and are dropped, as a
 * ROM would. */
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

/* Answer a refused access with the architected external abort (hyp_vcpu_inject_exception()). */
static enum hyp_handler_result inject_abort(struct guest *g, struct hyp_vcpu *vcpu, uint64_t ipa,
					    uint64_t *answer)
{
	int r = hyp_vcpu_inject_exception(vcpu, HYP_INJECT_DATA_ABORT, ipa);

	if (r) {
		guest_fail(g, "vCPU %u: hyp_vcpu_inject_exception(DATA_ABORT, %#" PRIx64 "): %s",
			   hyp_vcpu_index(vcpu), ipa, hyp_strerror(r));
		*answer = LHT_ANSWER_REFUSED;
		return HYP_NOT_HANDLED;
	}
	*answer = LHT_ANSWER_ABORT;
	return HYP_HANDLED;
}

/* MMIO exits no range claimed (hyp_exit_fn for HYP_EXIT_MMIO). */
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
		if (a->ipa < LHT_HOLE_BASE || a->ipa >= LHT_HOLE_BASE + LHT_HOLE_SIZE)
			guest_fail(g, "vCPU %u: unexpected %u-byte MMIO %s at IPA %#" PRIx64,
				   hyp_vcpu_index(vcpu), a->len, a->is_write ? "write" : "read",
				   a->ipa);
		res = inject_abort(g, vcpu, a->ipa, &answer);
	}
	log_foreign(g, exit, LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
		    a->is_write ? a->data : 0, answer);
	return res;
}

/* Stage-2 faults the library could not turn into MMIO (hyp_exit_fn for HYP_EXIT_MEM_FAULT). An
 * access without a syndrome (LDP, writeback forms) gets an external abort: the library will not
 * guess what the instruction meant, and neither will we. */
static enum hyp_handler_result mem_fault(struct hyp_vcpu *vcpu, struct hyp_exit *exit, void *opaque)
{
	struct guest *g = opaque;
	struct hyp_mem_fault *f = &exit->fault;
	uint64_t type = f->kind == HYP_FAULT_NO_SYNDROME ? LHT_FOREIGN_NO_SYNDROME :
							   LHT_FOREIGN_OTHER_FAULT;
	uint64_t answer;
	enum hyp_handler_result res;

	if (verbose)
		tap_comment("%s: vCPU %u: memory fault kind %u at IPA %#" PRIx64
			    " (valid %u), %s, ESR %#" PRIx64,
			    g->name, hyp_vcpu_index(vcpu), f->kind, f->ipa, f->ipa_valid,
			    f->is_write ? "write" : "read", exit->raw.esr);
	if (f->kind != HYP_FAULT_NO_SYNDROME)
		guest_fail(g, "vCPU %u: unexpected memory fault kind %u at IPA %#" PRIx64,
			   hyp_vcpu_index(vcpu), f->kind, f->ipa);
	res = inject_abort(g, vcpu, f->ipa_valid ? f->ipa : 0, &answer);
	log_foreign(g, exit, type, f->ipa_valid ? f->ipa : ~0ull, 0, f->is_write, 0, answer);
	return res;
}

/* The vendor hypervisor call (hyp_smccc_fn): seven arguments in, four results out. */
static enum hyp_handler_result vendor_call(struct hyp_vcpu *vcpu, struct hyp_smccc_call *call,
					   void *opaque)
{
	struct guest *g = opaque;

	(void)vcpu;
	lht_vendor_results(call->args, call->ret);
	pthread_mutex_lock(&g->lock);
	g->vendor_calls++;
	pthread_mutex_unlock(&g->lock);
	return HYP_HANDLED;
}

/* ---------------------------------------------------------------- vCPU threads */

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

static void thread_finished(struct guest *g)
{
	pthread_mutex_lock(&g->lock);
	g->threads_done++;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void run_vcpu(struct guest *g, struct vcpu_ctx *c, struct hyp_vcpu *vcpu)
{
	for (;;) {
		struct hyp_exit *exit;
		int r = hyp_vcpu_run(vcpu);

		if (r) {
			guest_fail(g, "vCPU %u: hyp_vcpu_run: %s", c->index, hyp_strerror(r));
			guest_stop(g);
			return;
		}
		exit = hyp_vcpu_exit(vcpu);
		switch (exit->reason) {
		case HYP_EXIT_SYSTEM_EVENT:
			pthread_mutex_lock(&g->lock);
			if (!g->events_seen++)
				g->event_type = exit->system_event.type;
			else if (g->event_type != exit->system_event.type)
				snprintf(g->failure + strlen(g->failure),
					 sizeof(g->failure) - strlen(g->failure),
					 "vCPU %u saw system event %s after %s\n", c->index,
					 event_name(exit->system_event.type),
					 event_name(g->event_type));
			pthread_mutex_unlock(&g->lock);
			return;
		case HYP_EXIT_KICKED:
			if (atomic_load(&g->stopping))
				return;
			on_kicked(g, c);
			continue;
		default:
			guest_fail(g,
				   "vCPU %u: unexpected exit %s (ESR %#" PRIx64 " valid %#x, "
				   "FAR %#" PRIx64 ")",
				   c->index, hyp_exit_reason_name(exit->reason), exit->raw.esr,
				   exit->raw.valid, exit->raw.far);
			if (exit->reason == HYP_EXIT_MMIO || exit->reason == HYP_EXIT_MEM_FAULT)
				tap_comment("  at IPA %#" PRIx64, exit->reason == HYP_EXIT_MMIO ?
									  exit->mmio.ipa :
									  exit->fault.ipa);
			guest_stop(g);
			return;
		}
	}
}

/*
 * The backend says a vCPU cannot have a custom affinity (HYP_CAP_CUSTOM_MPIDR = 0): asking for one
 * must fail with exactly -ENOTSUP, neither succeed (on KVM the affinity would silently revert at
 * PSCI CPU_ON, and its vGICv3 ignores Aff3) nor fail for another reason. Returns the vCPU if the
 * backend accepted the affinity after all (the check has failed; the guest then runs with it).
 */
static struct hyp_vcpu *expect_mpidr_refused(struct guest *g, struct vcpu_ctx *c)
{
	struct hyp_vcpu_config cfg = {
		.size = sizeof(cfg),
		.index = c->index,
		.mpidr = g->hdr.mpidr[c->index],
	};
	struct hyp_vcpu *vcpu = NULL;
	char diag[128];
	int r;

	tap_comment(
		"%s: vCPU %u: asking for custom MPIDR %#" PRIx64 " although "
		"HYP_CAP_CUSTOM_MPIDR = 0; libhyp should refuse it (errors it logs are expected)",
		g->name, c->index, cfg.mpidr);
	r = hyp_vcpu_create(g->vm, &cfg, &vcpu);

	snprintf(diag, sizeof(diag), "hyp_vcpu_create() returned %d (%s)", r,
		 r ? hyp_strerror(r) : "success");
	tap_result(r == -ENOTSUP, NULL, NULL, diag,
		   "%s: hyp_vcpu_create(index %u, custom MPIDR %#" PRIx64
		   ") = -ENOTSUP, as HYP_CAP_CUSTOM_MPIDR = 0 says",
		   g->name, c->index, cfg.mpidr);
	if (r)
		return NULL;
	c->mpidr = cfg.mpidr;
	return vcpu;
}

/* HYP_CAP_INJECT_EXCEPTIONS must not overstate either: a kind it leaves out is refused with
 * -ENOTSUP (and so not injected). The kinds it includes are exercised by the guests. */
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

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int r;

		if (g->inject_mask & (1ull << kinds[i].kind))
			continue;
		r = hyp_vcpu_inject_exception(vcpu, kinds[i].kind, LHT_RAM_BASE);
		if (r != -ENOTSUP)
			guest_fail(g,
				   "HYP_CAP_INJECT_EXCEPTIONS = %#" PRIx64 " leaves out %s, but "
				   "hyp_vcpu_inject_exception() returned %d (%s), not -ENOTSUP",
				   g->inject_mask, kinds[i].name, r,
				   r ? hyp_strerror(r) : "success");
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_ctx *c = arg;
	struct guest *g = c->g;
	struct hyp_vcpu_config cfg = {
		.size = sizeof(cfg),
		.index = c->index,
		/* 0 (libhyp's default, which c->mpidr then holds) unless a custom one is allowed. */
		.mpidr = c->refused_mpidr_expected ? 0 : g->hdr.mpidr[c->index],
	};
	struct hyp_vcpu *vcpu = NULL;
	int r = 0;

	if (c->refused_mpidr_expected)
		vcpu = expect_mpidr_refused(g, c);
	if (!vcpu)
		r = hyp_vcpu_create(g->vm, &cfg, &vcpu);
	if (r) {
		guest_fail(g, "hyp_vcpu_create(index %u, mpidr %#" PRIx64 "): %s", c->index,
			   cfg.mpidr, hyp_strerror(r));
		atomic_store(&g->create_failed, true);
	} else {
		/* What the VMM reads as this vCPU's MIDR_EL1; the guest compares it with its own. */
		if (hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_MIDR_EL1, &c->midr))
			c->midr = 0;
		if (c->index == 0) {
			/* The boot vCPU enters the image at its first byte with X0 = 0 (a secondary
			 * starts where PSCI CPU_ON says). */
			r = hyp_vcpu_set_reg(vcpu, HYP_REG_PC, LHT_RAM_BASE);
			if (!r)
				r = hyp_vcpu_set_reg(vcpu, HYP_REG_X0, 0);
			if (r) {
				guest_fail(g, "vCPU 0: setting PC/X0: %s", hyp_strerror(r));
				atomic_store(&g->create_failed, true);
			}
			check_inject_cap(g, vcpu);
		}
		atomic_store(&c->vcpu, vcpu);
	}
	/* KVM wants every vCPU created before any runs (the vGIC is initialised at the first
	 * run), and handlers cannot be registered while vCPUs run. */
	pthread_barrier_wait(&g->created);
	if (vcpu && !atomic_load(&g->create_failed))
		run_vcpu(g, c, vcpu);
	thread_finished(g);
	return NULL;
}

/* ---------------------------------------------------------------- one guest */

static void log_handler(void *opaque, enum hyp_log_priority prio, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tap_comment("libhyp(%s) [%s]: %s", (const char *)opaque,
		    prio <= HYP_LOG_ERROR   ? "error" :
		    prio <= HYP_LOG_WARNING ? "warning" :
					      "info",
		    msg);
}

static int load_image(const char *path, struct guest *g)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int r;

	if (!f)
		return -errno;
	n = fread(g->ram, 1, LHT_RAM_SIZE, f);
	r = ferror(f) ? -EIO : !feof(f) ? -EFBIG : 0;
	fclose(f);
	if (r)
		return r;
	if (n < LHT_HEADER_OFFSET + sizeof(g->hdr))
		return -ENOEXEC;
	memcpy(&g->hdr, (char *)g->ram + LHT_HEADER_OFFSET, sizeof(g->hdr));
	if (g->hdr.magic != LHT_HEADER_MAGIC || g->hdr.version != LHT_HEADER_VERSION ||
	    !g->hdr.nr_vcpus || g->hdr.nr_vcpus > LHT_MAX_VCPUS)
		return -ENOEXEC;
	return 0;
}

static uint64_t default_mpidr(uint32_t index)
{
	/* libhyp's documented default (vcpu.h, struct hyp_vcpu_config.mpidr). */
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
	char line[512];
	size_t used = 0;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		uint64_t v = 0;
		int r = hyp_vm_query_cap(g->vm, caps[i].cap, &v);

		if (r)
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=(%s)",
						 caps[i].name, hyp_strerror(r));
		else if (caps[i].cap == HYP_CAP_INJECT_EXCEPTIONS)
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%#" PRIx64,
						 caps[i].name, v);
		else
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%" PRIu64,
						 caps[i].name, v);
		if (used >= sizeof(line))
			break;
		if (r)
			continue;
		if (caps[i].cap == HYP_CAP_NO_SYNDROME_EXITS && v)
			g->caps |= LHT_CAP_NO_SYNDROME;
		if (caps[i].cap == HYP_CAP_SMCCC_HVC_EXITS && v)
			g->caps |= LHT_CAP_SMCCC_HVC;
		if (caps[i].cap == HYP_CAP_IRQ_INJECTION && v)
			g->caps |= LHT_CAP_IRQCHIP;
		/* A failed query counts as "cannot": custom affinities are then expected to be
		 * refused, and no abort injection is attempted. */
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
	tap_comment("%s: backend %s, caps:%s", g->name, hyp_vm_backend_name(g->vm), line);
}

/* Register everything the guests use, before any vCPU exists. */
static int setup_vm(struct guest *g)
{
	uint64_t ro = 0;
	int r;

	r = hyp_vm_map(g->vm, LHT_RAM_BASE, g->ram, LHT_RAM_SIZE, HYP_MEM_RWX);
	if (r) {
		guest_fail(g, "hyp_vm_map(RAM): %s", hyp_strerror(r));
		return r;
	}
	/* The read-only page: HYP_MEM_RO plus EXEC, because KVM cannot enforce no-execute at
	 * stage 2 and refuses what it cannot enforce. */
	if (!hyp_vm_query_cap(g->vm, HYP_CAP_READONLY_MEM, &ro) && ro) {
		r = hyp_vm_map(g->vm, LHT_ROM_BASE, g->rom, LHT_ROM_SIZE,
			       HYP_MEM_RO | HYP_MEM_EXEC);
		if (r) {
			guest_fail(g, "hyp_vm_map(read-only page): %s", hyp_strerror(r));
			return r;
		}
		r = hyp_vm_add_mmio_handler(g->vm, LHT_ROM_BASE, LHT_ROM_SIZE, rom_mmio, g);
		if (r) {
			guest_fail(g, "hyp_vm_add_mmio_handler(read-only page): %s",
				   hyp_strerror(r));
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
	if (r)
		guest_fail(g, "registering callbacks: %s", hyp_strerror(r));
	return r;
}

/* Wait for every vCPU thread; the watchdog. Returns false if threads are stuck for good. */
static bool wait_threads(struct guest *g, uint32_t started, uint32_t timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u, grace_end = 0;
	bool ok = true;

	pthread_mutex_lock(&g->lock);
	while (g->threads_done < started) {
		uint64_t t = now_us(), until;
		struct timespec ts;

		if (!g->timed_out && t >= deadline) {
			g->timed_out = true;
			pthread_mutex_unlock(&g->lock);
			guest_fail(g,
				   "watchdog: the guest did not finish within %u ms; kicking its "
				   "vCPUs",
				   timeout_ms);
			guest_stop(g);
			pthread_mutex_lock(&g->lock);
			grace_end = now_us() + STOP_GRACE_MS * 1000u;
			continue;
		}
		if (g->timed_out && t >= grace_end) {
			ok = false;
			break;
		}
		until = g->timed_out ? t + 100000u : deadline; /* re-kick every 100 ms */
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t wait = until > t ? until - t : 0;
			uint64_t ns = (uint64_t)ts.tv_nsec + (wait % 1000000u) * 1000u;

			ts.tv_sec += (time_t)(wait / 1000000u + ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
		if (g->timed_out && g->threads_done < started) {
			pthread_mutex_unlock(&g->lock);
			guest_stop(g);
			pthread_mutex_lock(&g->lock);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

/* Runs one guest; false means the process must give up (threads stuck in the library). */
static bool run_guest(const char *path)
{
	struct guest *g = calloc(1, sizeof(*g));
	struct hyp_vm_config cfg = { .size = sizeof(cfg) };
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint32_t started = 0, timeout_ms;
	uint64_t t0 = now_us();
	bool healthy = true, ok;
	char diag[1400];
	int r;

	if (!g) {
		tap_result(false, NULL, NULL, NULL, "%s: out of memory", base);
		return true;
	}
	snprintf(g->name, sizeof(g->name), "%.*s", (int)(strcspn(base, ".")), base);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->ram = mmap(NULL, LHT_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	g->rom = mmap(NULL, LHT_ROM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	if (g->ram == MAP_FAILED || g->rom == MAP_FAILED) {
		tap_result(false, NULL, NULL, NULL, "%s: cannot allocate guest memory", g->name);
		goto out_free;
	}
	for (uint64_t i = 0; i < LHT_ROM_SIZE; i++)
		((uint8_t *)g->rom)[i] = lht_rom_byte(i);
	r = load_image(path, g);
	if (r) {
		tap_result(false, NULL, NULL, NULL, "%s: load %s: %s", g->name, path,
			   r == -ENOEXEC ? "not a conformance guest image (bad header)" :
					   strerror(-r));
		goto out_free;
	}
	g->nr_vcpus = g->hdr.nr_vcpus;
	timeout_ms = timeout_override_ms ? timeout_override_ms :
		     g->hdr.timeout_ms	 ? g->hdr.timeout_ms :
					   DEFAULT_TIMEOUT_MS;

	cfg.backend = backend_name;
	cfg.log_fn = log_handler;
	cfg.log_opaque = g->name;
	cfg.log_priority = verbose ? HYP_LOG_DEBUG : HYP_LOG_WARNING;
	cfg.max_vcpus = g->nr_vcpus;
	r = hyp_vm_create(&cfg, &g->vm);
	if (r) {
		tap_result(false, NULL, NULL, NULL, "%s: hyp_vm_create(backend %s): %s", g->name,
			   backend_name, hyp_strerror(r));
		goto out_free;
	}
	query_caps(g);
	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		struct vcpu_ctx *c = &g->vcpus[i];
		uint64_t want = g->hdr.mpidr[i];

		c->g = g;
		c->index = i;
		c->mpidr = default_mpidr(i);
		if (want && want != c->mpidr) {
			if (g->custom_mpidr)
				c->mpidr = want;
			else
				c->refused_mpidr_expected = true;
		}
	}
	if ((g->hdr.flags & LHT_F_NEEDS_IRQCHIP) && !(g->caps & LHT_CAP_IRQCHIP)) {
		tap_result(true, "the VM has no interrupt controller (HYP_CAP_IRQ_INJECTION = 0)",
			   NULL, NULL, "%s", g->name);
		goto out_destroy;
	}
	if (setup_vm(g))
		goto report;

	pthread_barrier_init(&g->created, NULL, g->nr_vcpus);
	for (uint32_t i = 0; i < g->nr_vcpus; i++) {
		if (pthread_create(&g->vcpus[i].thread, NULL, vcpu_thread, &g->vcpus[i])) {
			/* The barrier counts nr_vcpus parties: without this thread the others
			 * would wait forever. Nothing sensible is left to do. */
			tap_result(false, NULL, NULL, NULL, "%s: pthread_create failed", g->name);
			printf("Bail out! cannot create threads\n");
			exit(1);
		}
		g->vcpus[i].thread_started = true;
		started++;
	}
	healthy = wait_threads(g, started, timeout_ms);
	if (!healthy) {
		guest_fail(g, "vCPU threads did not return after kicks for %u ms", STOP_GRACE_MS);
		goto report;
	}
	for (uint32_t i = 0; i < g->nr_vcpus; i++)
		if (g->vcpus[i].thread_started)
			pthread_join(g->vcpus[i].thread, NULL);
	if (g->kick.thread_started)
		pthread_join(g->kick.thread, NULL);
	pthread_barrier_destroy(&g->created);

report:
	/* The run as a whole. */
	{
		uint32_t want = (g->hdr.flags & LHT_F_EXPECT_RESET) ? HYP_SYSTEM_EVENT_RESET :
								      HYP_SYSTEM_EVENT_OFF;

		if (!g->exit_written)
			guest_fail(g, "the guest never wrote LHT_REG_EXIT (it did not finish)");
		else if (g->exit_value == LHT_EXIT_UNEXPECTED_EXCEPTION)
			guest_fail(g, "the guest stopped on an unexpected exception");
		else if (g->exit_value)
			guest_fail(g, "the guest finished with failure code %" PRIu64,
				   g->exit_value);
		if (g->events_seen && g->event_type != want)
			guest_fail(g, "the VM ended with system event %s, expected %s",
				   event_name(g->event_type), event_name(want));
		if (!g->events_seen && !g->timed_out && healthy)
			guest_fail(g, "no vCPU reported a system event");
		if (!g->checks)
			guest_fail(g, "the guest reported no checks");
		/* A capability must not understate either: a handler that runs although the
		 * backend said HVC calls cannot reach it means HYP_CAP_SMCCC_HVC_EXITS lies. */
		if (g->vendor_calls && !(g->caps & LHT_CAP_SMCCC_HVC))
			guest_fail(g, "the SMCCC handler ran although HYP_CAP_SMCCC_HVC_EXITS = 0");
		ok = !g->failure[0];
		snprintf(diag, sizeof(diag), "%s", g->failure);
		tap_result(ok, NULL, NULL, diag,
			   "%s: ran to completion (%u vCPU%s, %u checks, ended with %s) in %.2f s",
			   g->name, g->nr_vcpus, g->nr_vcpus > 1 ? "s" : "", g->checks,
			   event_name(g->event_type), (double)(now_us() - t0) / 1e6);
	}
	/* hyp_vcpu_run() documents that once a system event ended the VM, every vCPU's run returns
	 * it; HYP_EXIT_KICKED means hyp_vcpu_kick() was called. Only the kick test kicks. */
	if (g->nr_vcpus > 1 && g->events_seen) {
		unsigned int spurious = 0;

		for (uint32_t i = 0; i < g->nr_vcpus; i++)
			spurious += g->vcpus[i].spurious_kicks;
		snprintf(diag, sizeof(diag), "%u HYP_EXIT_KICKED exit(s) nobody asked for",
			 spurious);
		tap_result(!spurious, NULL, NULL, diag,
			   "%s: every vCPU stopped with HYP_EXIT_SYSTEM_EVENT, no unrequested "
			   "HYP_EXIT_KICKED",
			   g->name);
	}
	/* The kick test is judged by the driver: only it knows when it kicked. */
	if (g->kick.armed) {
		uint64_t kicked = atomic_load(&g->kick.kicked_us);
		bool kick_ok = kicked && g->kick.handled && g->kick.kick_status == 0 &&
			       g->kick.exit_us >= kicked;

		snprintf(diag, sizeof(diag),
			 "armed at +0, kicked at +%" PRId64 " us (status %d), exit seen %s",
			 kicked ? (int64_t)(kicked - g->kick.armed_us) : -1, g->kick.kick_status,
			 g->kick.handled ? "yes" : "no");
		tap_result(kick_ok, NULL, NULL, diag,
			   "%s: hyp_vcpu_kick() from another thread made hyp_vcpu_run() return "
			   "HYP_EXIT_KICKED (%.1f ms after the kick)",
			   g->name, kick_ok ? (double)(g->kick.exit_us - kicked) / 1e3 : -1.0);
	}
	if (!healthy) {
		/* Threads still inside hyp_vcpu_run(): the VM cannot be destroyed safely. */
		printf("Bail out! %s: vCPU threads stuck\n", g->name);
		return false;
	}
out_destroy:
	hyp_vm_destroy(g->vm);
out_free:
	if (g->ram && g->ram != MAP_FAILED)
		munmap(g->ram, LHT_RAM_SIZE);
	if (g->rom && g->rom != MAP_FAILED)
		munmap(g->rom, LHT_ROM_SIZE);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
	return true;
}

/* ---------------------------------------------------------------- main */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the guests in @path (a file, or every *.bin in a directory, sorted). */
static int collect(const char *path, char ***list, size_t *n)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	size_t first = *n;

	if (stat(path, &st)) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*list = realloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = strdup(path);
		return 0;
	}
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *full;

		if (len < 5 || strcmp(e->d_name + len - 4, ".bin"))
			continue;
		if (asprintf(&full, "%s/%s", path, e->d_name) < 0)
			break;
		*list = realloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = full;
	}
	closedir(d);
	qsort(*list + first, *n - first, sizeof(**list), cmp_str);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: driver [--backend NAME] [--timeout SECONDS] [--verbose] PATH...\n"
		"  PATH: a conformance guest image (*.bin) or a directory of them\n"
		"  --backend NAME   libhyp backend (default kvm)\n"
		"  --timeout SECS   watchdog per guest (default: the guest's, else %u s)\n"
		"  --verbose        libhyp debug messages and driver detail as TAP comments\n"
		"  --known-defect NAME\n"
		"                   the platform is known to lack a behaviour: checks that need it\n"
		"                   are reported as TODO. NAME: iss-sse (QEMU TCG under nested KVM:\n"
		"                   no ESR_EL2.ISS.SSE), kvm-esr-upper (Linux 6.1 KVM: injected\n"
		"                   aborts have ESR_EL1[63:32] set)\n",
		DEFAULT_TIMEOUT_MS / 1000);
}

int main(int argc, char **argv)
{
	char **guests = NULL;
	size_t n = 0;
	uint64_t t0 = now_us();

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			backend_name = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_override_ms = (unsigned int)strtoul(argv[++i], NULL, 10) * 1000u;
		} else if (!strcmp(argv[i], "--known-defect") && i + 1 < argc) {
			int d;

			i++;
			for (d = 1; d < LHT_DEPENDS_COUNT; d++)
				if (defects[d].name && !strcmp(argv[i], defects[d].name))
					break;
			if (d == LHT_DEPENDS_COUNT) {
				fprintf(stderr, "driver: unknown defect name %s\n", argv[i]);
				return 2;
			}
			known_defect[d] = true;
		} else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else if (collect(argv[i], &guests, &n)) {
			return 2;
		}
	}
	if (!n) {
		usage(stderr);
		return 2;
	}
	/* TAP version 13 lets the plan come last; we only know the count at the end. */
	printf("TAP version 13\n");
	tap_comment("libhyp %s conformance guests on backend %s: %zu guest(s)",
		    hyp_version_string(), backend_name, n);
	for (size_t i = 0; i < n; i++) {
		if (!run_guest(guests[i]))
			return 1;
		free(guests[i]);
	}
	free(guests);
	printf("1..%u\n", tap.n);
	tap_comment("%u passed, %u failed, %u skipped, %u TODO (known platform defects) in %.2f s",
		    tap.n - tap.failed - tap.skipped - tap.todo, tap.failed, tap.skipped, tap.todo,
		    (double)(now_us() - t0) / 1e6);
	return tap.failed ? 1 : 0;
}
