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
 * ARCHITECTURE.md "Pitfalls"). A watchdog kicks every vCPU when the guest's time is up. The test
 * device, the checks, the TAP stream and the verdicts are lht-device.c's, which the el2 firmware's
 * harness (examples/el2-firmware/harness.c) shares.
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
#include <libhyp/kvm.h>

#include "lht-device.h"
#include "protocol.h"

#define DEFAULT_TIMEOUT_MS 20000u
/* After the watchdog fires, how long vCPU threads get to come back before we give up. */
#define STOP_GRACE_MS 5000u

/* ---------------------------------------------------------------- the host of lht-device.c */

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_stdout(const char *text)
{
	fputs(text, stdout);
	fflush(stdout);
}

static void lock_mutex(void *m)
{
	pthread_mutex_lock(m);
}

static void unlock_mutex(void *m)
{
	pthread_mutex_unlock(m);
}

/* ---------------------------------------------------------------- per-guest state */

struct guest {
	struct lht_dev dev; /* the test device and the run's verdict (lht-device.h) */
	void *ram;
	void *rom;
	pthread_t threads[LHT_MAX_VCPUS];
	bool thread_started[LHT_MAX_VCPUS];
	_Atomic pid_t tids[LHT_MAX_VCPUS]; /* each vCPU thread's, for the stuck-thread report */
	pthread_barrier_t created;
	_Atomic bool create_failed;

	/* @dev's lock; also for @threads_done, with @cond. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t threads_done;

	/* The kick test's kicker (LHT_REG_KICK_ARM). */
	pthread_t kick_thread;
	bool kick_thread_started;
};

static struct guest *guest_of(struct lht_dev *d)
{
	return lht_container_of(d, struct guest, dev);
}

static const struct {
	uint32_t lht, kvm;
	const char *name;
} cpu_features[] = {
	{ LHT_FEAT_PMU, HYP_KVM_CPU_PMU, "a PMUv3" },
	{ LHT_FEAT_SVE, HYP_KVM_CPU_SVE, "SVE" },
	{ LHT_FEAT_PAUTH, HYP_KVM_CPU_PTRAUTH, "pointer authentication" },
	{ LHT_FEAT_MTE, HYP_KVM_CPU_MTE, "MTE" },
};

/* The names of the LHT_FEAT_* bits in @features, for a skip reason. */
static const char *feature_names(uint32_t features, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(cpu_features) / sizeof(cpu_features[0]); i++)
		if (features & cpu_features[i].lht)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
						len ? ", " : "", cpu_features[i].name);
	return buf;
}

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
	[LHT_DEPENDS_VTIMER_WAKEUP] = { "nested-vtimer",
					"known platform defect: nested KVM on QEMU TCG sometimes "
					"never delivers the virtual timer interrupt to a WFI" },
	[LHT_DEPENDS_KVM_VGIC] = { "kvm-vgic",
				   "known platform defect: Linux KVM's vGICv3 (SGI1R RS ignored; "
				   "6.1: IRM broadcast by creation index; a listed edge SPI not "
				   "pending in ISPENDR)" },
};
static bool known_defect[LHT_DEPENDS_COUNT];

static const char *defect_todo(uint64_t d)
{
	return d && d < LHT_DEPENDS_COUNT && known_defect[d] ? defects[d].reason : NULL;
}

/* ---------------------------------------------------------------- the kick test */

static void *kicker_thread(void *arg)
{
	struct guest *g = arg;
	struct timespec delay = { .tv_sec = LHT_KICK_DELAY_MS / 1000,
				  .tv_nsec = (long)(LHT_KICK_DELAY_MS % 1000) * 1000000L };

	nanosleep(&delay, NULL);
	lht_kick_now(&g->dev);
	return NULL;
}

/* struct lht_host.start_kicker: a thread kicks the vCPU. */
static void start_kicker(struct lht_dev *d, struct lht_vcpu *c)
{
	struct guest *g = guest_of(d);

	if (pthread_create(&g->kick_thread, NULL, kicker_thread, g)) {
		lht_fail(d, "cannot start the kicker thread");
		c->status = -EAGAIN;
		return;
	}
	g->kick_thread_started = true;
	c->status = 0;
}

/* ---------------------------------------------------------------- exits */

/* Answer a refused access with the architected external abort (hyp_vcpu_inject_exception()). */
static enum hyp_handler_result inject_abort(struct lht_dev *d, struct hyp_vcpu *vcpu,
					    const struct hyp_exit *exit, uint64_t ipa,
					    uint64_t *answer)
{
	int r = hyp_vcpu_inject_exception(vcpu, HYP_INJECT_DATA_ABORT, ipa);

	(void)exit;
	if (r) {
		lht_fail(d, "vCPU %u: hyp_vcpu_inject_exception(DATA_ABORT, %#" PRIx64 "): %s",
			 hyp_vcpu_index(vcpu), ipa, hyp_strerror(r));
		*answer = LHT_ANSWER_REFUSED;
		return HYP_NOT_HANDLED;
	}
	*answer = LHT_ANSWER_ABORT;
	return HYP_HANDLED;
}

/* Stage-2 faults the library could not turn into MMIO or emulate (hyp_exit_fn for
 * HYP_EXIT_MEM_FAULT): an access without a syndrome the library does not emulate (exclusives,
 * atomics) gets an external abort, as a device that cannot honour it would give. A hostile guest's
 * cache maintenance on an address with nothing there is completed (skipped, lib/trap/decode.c). */
static enum hyp_handler_result mem_fault(void *opaque, struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct guest *g = opaque;
	struct hyp_mem_fault *f = &exit->fault;
	uint64_t type = f->kind == HYP_FAULT_NO_SYNDROME ? LHT_FOREIGN_NO_SYNDROME :
							   LHT_FOREIGN_OTHER_FAULT;
	uint64_t answer;
	enum hyp_handler_result res;

	if (verbose)
		lht_tap_comment("%s: vCPU %u: memory fault kind %u at IPA %#" PRIx64
				" (valid %u), %s, ESR %#" PRIx64,
				g->dev.name, hyp_vcpu_index(vcpu), f->kind, f->ipa, f->ipa_valid,
				f->is_write ? "write" : "read", exit->raw.esr);
	if (g->dev.hostile && f->kind == HYP_FAULT_OTHER && (exit->raw.valid & HYP_SYNDROME_ESR) &&
	    ((exit->raw.esr >> 26) & 0x3f) == 0x24 && ((exit->raw.esr >> 8) & 1)) {
		answer = LHT_ANSWER_COMPLETED;
		res = HYP_HANDLED;
	} else {
		if (f->kind != HYP_FAULT_NO_SYNDROME && !g->dev.hostile)
			lht_fail(&g->dev,
				 "vCPU %u: unexpected memory fault kind %u at IPA %#" PRIx64,
				 hyp_vcpu_index(vcpu), f->kind, f->ipa);
		res = inject_abort(&g->dev, vcpu, exit, f->ipa_valid ? f->ipa : 0, &answer);
	}
	lht_log_foreign(&g->dev, exit, type, f->ipa_valid ? f->ipa : ~0ull, 0, f->is_write, 0,
			answer);
	return res;
}

/* struct lht_host.vcpu_exit: every other exit a vCPU's run returns is a failure. */
static bool vcpu_exit(struct lht_vcpu *c, struct hyp_exit *exit)
{
	lht_fail(c->dev,
		 "vCPU %u: unexpected exit %s (ESR %#" PRIx64 " valid %#x, FAR %#" PRIx64 ")",
		 c->index, hyp_exit_reason_name(exit->reason), exit->raw.esr, exit->raw.valid,
		 exit->raw.far);
	if (exit->reason == HYP_EXIT_MMIO || exit->reason == HYP_EXIT_MEM_FAULT)
		lht_tap_comment("  at IPA %#" PRIx64,
				exit->reason == HYP_EXIT_MMIO ? exit->mmio.ipa : exit->fault.ipa);
	return false;
}

static const struct lht_host host = {
	.vsnprintf = vsnprintf,
	.write = write_stdout,
	.lock = lock_mutex,
	.unlock = unlock_mutex,
	.tap_lock = &tap_lock,
	.now_us = now_us,
	.depends_todo = defect_todo,
	.inject_abort = inject_abort,
	.start_kicker = start_kicker,
	.vcpu_exit = vcpu_exit,
};

/* ---------------------------------------------------------------- vCPU threads */

static void thread_finished(struct guest *g)
{
	pthread_mutex_lock(&g->lock);
	g->threads_done++;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void *vcpu_thread(void *arg)
{
	struct lht_vcpu *c = arg;
	struct guest *g = guest_of(c->dev);

	atomic_store(&g->tids[c->index], gettid());
	if (!lht_create_vcpu(c))
		atomic_store(&g->create_failed, true);
	/* KVM wants every vCPU created before any runs (the vGIC is initialised at the first
	 * run), and handlers cannot be registered while vCPUs run. */
	pthread_barrier_wait(&g->created);
	if (c->vcpu && !atomic_load(&g->create_failed))
		lht_run_vcpu(c);
	thread_finished(g);
	return NULL;
}

/* ---------------------------------------------------------------- one guest */

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
	if (n < LHT_HEADER_OFFSET + sizeof(g->dev.hdr))
		return -ENOEXEC;
	memcpy(&g->dev.hdr, (char *)g->ram + LHT_HEADER_OFFSET, sizeof(g->dev.hdr));
	return lht_header_ok(&g->dev.hdr) ? 0 : -ENOEXEC;
}

static void query_caps(struct guest *g)
{
	char line[512];

	lht_query_caps(&g->dev, line, sizeof(line), false);
	lht_tap_comment("%s: backend %s, caps:%s", g->dev.name, hyp_vm_backend_name(g->dev.vm),
			line);
}

/* Register everything the guests use, before any vCPU exists. */
static int setup_vm(struct guest *g)
{
	int r = lht_setup_vm(&g->dev, g->ram, g->rom);

	if (r)
		return r;
	r = hyp_vm_set_exit_handler(g->dev.vm, HYP_EXIT_MEM_FAULT, mem_fault, g);
	if (r)
		lht_fail(&g->dev, "registering callbacks: %s", hyp_strerror(r));
	return r;
}

/* The first line of a /proc file of thread @tid (its state, wchan, kernel stack...), or "?". */
static void task_file(pid_t tid, const char *what, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, what);
	f = fopen(path, "r");
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* Threads that stay stuck after every kick: where each vCPU thread is, as TAP comments (its
 * scheduler state and kernel wait channel, and its kernel stack where the kernel shows it), so a
 * rare hang says whether a thread is blocked in the kernel or in user space. */
static void report_stuck_threads(struct guest *g)
{
	for (uint32_t i = 0; i < g->dev.nr_vcpus; i++) {
		pid_t tid = atomic_load(&g->tids[i]);
		char stat[256], wchan[64], path[64], line[128];
		const char *state;
		FILE *f;

		if (!tid)
			continue;
		task_file(tid, "stat", stat, sizeof(stat));
		task_file(tid, "wchan", wchan, sizeof(wchan));
		/* The state follows the command name's closing parenthesis. */
		state = strrchr(stat, ')');
		printf("# %s: vCPU %u thread %d: state %.1s, wchan %s\n", g->dev.name, i, (int)tid,
		       state && state[1] ? state + 2 : "?", wchan);
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", (int)tid);
		f = fopen(path, "r");
		for (int n = 0; f && n < 12 && fgets(line, sizeof(line), f); n++)
			printf("#   %s", line);
		if (f)
			fclose(f);
	}
	fflush(stdout);
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

		if (!g->dev.timed_out && t >= deadline) {
			g->dev.timed_out = true;
			pthread_mutex_unlock(&g->lock);
			lht_fail(&g->dev,
				 "watchdog: the guest did not finish within %u ms; kicking its "
				 "vCPUs",
				 timeout_ms);
			lht_stop(&g->dev);
			pthread_mutex_lock(&g->lock);
			grace_end = now_us() + STOP_GRACE_MS * 1000u;
			continue;
		}
		if (g->dev.timed_out && t >= grace_end) {
			ok = false;
			break;
		}
		until = g->dev.timed_out ? t + 100000u : deadline; /* re-kick every 100 ms */
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t wait = until > t ? until - t : 0;
			uint64_t ns = (uint64_t)ts.tv_nsec + (wait % 1000000u) * 1000u;

			ts.tv_sec += (time_t)(wait / 1000000u + ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
		if (g->dev.timed_out && g->threads_done < started) {
			pthread_mutex_unlock(&g->lock);
			lht_stop(&g->dev);
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
	struct hyp_kvm_config kvm_cfg = { .size = sizeof(kvm_cfg) };
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct lht_dev *d;
	uint32_t started = 0, timeout_ms;
	uint64_t t0 = now_us();
	bool healthy = true;
	char text[200];
	int r;

	if (!g) {
		lht_tap_result(false, NULL, NULL, NULL, "%s: out of memory", base);
		return true;
	}
	d = &g->dev;
	lht_dev_init(d, &g->lock);
	snprintf(d->name, sizeof(d->name), "%.*s", (int)(strcspn(base, ".")), base);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->ram = mmap(NULL, LHT_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	g->rom = mmap(NULL, LHT_ROM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	if (g->ram == MAP_FAILED || g->rom == MAP_FAILED) {
		lht_tap_result(false, NULL, NULL, NULL, "%s: cannot allocate guest memory",
			       d->name);
		goto out_free;
	}
	for (uint64_t i = 0; i < LHT_ROM_SIZE; i++)
		((uint8_t *)g->rom)[i] = lht_rom_byte(i);
	r = load_image(path, g);
	if (r) {
		lht_tap_result(false, NULL, NULL, NULL, "%s: load %s: %s", d->name, path,
			       r == -ENOEXEC ? "not a conformance guest image (bad header)" :
					       strerror(-r));
		goto out_free;
	}
	d->nr_vcpus = d->hdr.nr_vcpus;
	timeout_ms = timeout_override_ms ? timeout_override_ms :
		     d->hdr.timeout_ms	 ? d->hdr.timeout_ms :
					   DEFAULT_TIMEOUT_MS;

	cfg.backend = backend_name;
	cfg.log_fn = lht_log;
	cfg.log_opaque = d->name;
	cfg.log_priority = verbose ? HYP_LOG_DEBUG : HYP_LOG_WARNING;
	cfg.max_vcpus = d->nr_vcpus;
	cfg.dirty_ring_entries = d->hdr.dirty_ring_entries;
	if (d->hdr.cpu_features) {
		/* Only the kvm backend takes CPU features (struct hyp_kvm_config). */
		char names[128], reason[256];

		feature_names(d->hdr.cpu_features, names, sizeof(names));
		if (strcmp(backend_name, "kvm")) {
			snprintf(reason, sizeof(reason),
				 "the %s backend has no option for guest CPU features (%s)",
				 backend_name, names);
			lht_tap_result(true, reason, NULL, NULL, "%s", d->name);
			goto out_free;
		}
		for (size_t i = 0; i < sizeof(cpu_features) / sizeof(cpu_features[0]); i++)
			if (d->hdr.cpu_features & cpu_features[i].lht)
				kvm_cfg.cpu_features |= cpu_features[i].kvm;
		if (d->hdr.cpu_features & LHT_FEAT_SVE)
			kvm_cfg.sve_max_vl = LHT_SVE_MAX_VL;
		cfg.backend_config = &kvm_cfg;
		r = hyp_vm_create(&cfg, &d->vm);
		if (r == -ENOTSUP) {
			/* The host's KVM lacks it: a skip, never a pass. */
			snprintf(reason, sizeof(reason),
				 "the host's KVM does not offer %s (hyp_vm_create: %s)", names,
				 hyp_strerror(r));
			lht_tap_result(true, reason, NULL, NULL, "%s", d->name);
			goto out_free;
		}
	} else {
		r = hyp_vm_create(&cfg, &d->vm);
	}
	if (r == -ENOTSUP && cfg.dirty_ring_entries) {
		/* Only a host without a ring this large may refuse it: the VM created without one
		 * must say so (HYP_CAP_DIRTY_RING), and the guest then sees no LHT_CAP_DIRTY_RING
		 * (its checks become a SKIP with the reason, never a pass). */
		uint64_t max = 0;

		cfg.dirty_ring_entries = 0;
		r = hyp_vm_create(&cfg, &d->vm);
		if (!r && (hyp_vm_query_cap(d->vm, HYP_CAP_DIRTY_RING, &max) ||
			   max >= d->hdr.dirty_ring_entries)) {
			lht_tap_result(false, NULL, NULL, NULL,
				       "%s: hyp_vm_create refused a dirty ring of %u entries, yet "
				       "HYP_CAP_DIRTY_RING = %llu",
				       d->name, d->hdr.dirty_ring_entries, (unsigned long long)max);
			goto out_destroy;
		}
		if (!r)
			lht_tap_comment("%s: no dirty ring of %u entries here (-ENOTSUP; "
					"HYP_CAP_DIRTY_RING = %llu)",
					d->name, d->hdr.dirty_ring_entries,
					(unsigned long long)max);
	}
	if (!r)
		d->ring_entries = cfg.dirty_ring_entries;
	if (r) {
		lht_tap_result(false, NULL, NULL, NULL, "%s: hyp_vm_create(backend %s): %s",
			       d->name, backend_name, hyp_strerror(r));
		goto out_free;
	}
	query_caps(g);
	lht_plan_vcpus(d);
	if ((d->hdr.flags & LHT_F_NEEDS_IRQCHIP) && !(d->caps & LHT_CAP_IRQCHIP)) {
		lht_tap_result(true,
			       "the VM has no interrupt controller (HYP_CAP_IRQ_INJECTION = 0)",
			       NULL, NULL, "%s", d->name);
		goto out_destroy;
	}
	if (setup_vm(g))
		goto report;

	pthread_barrier_init(&g->created, NULL, d->nr_vcpus);
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		if (pthread_create(&g->threads[i], NULL, vcpu_thread, &d->vcpus[i])) {
			/* The barrier counts nr_vcpus parties: without this thread the others
			 * would wait forever. Nothing sensible is left to do. */
			lht_tap_result(false, NULL, NULL, NULL, "%s: pthread_create failed",
				       d->name);
			printf("Bail out! cannot create threads\n");
			exit(1);
		}
		g->thread_started[i] = true;
		started++;
	}
	healthy = wait_threads(g, started, timeout_ms);
	if (!healthy) {
		lht_fail(d, "vCPU threads did not return after kicks for %u ms", STOP_GRACE_MS);
		goto report;
	}
	for (uint32_t i = 0; i < d->nr_vcpus; i++)
		if (g->thread_started[i])
			pthread_join(g->threads[i], NULL);
	if (g->kick_thread_started)
		pthread_join(g->kick_thread, NULL);
	pthread_barrier_destroy(&g->created);

report:
	/* The run as a whole (the watchdog reported its own failure when it fired). */
	snprintf(text, sizeof(text), "%.2f s", (double)(now_us() - t0) / 1e6);
	lht_report_run(d, healthy, NULL, text);
	/* The kick test is judged by the driver: only it knows when it kicked. */
	if (d->kick.armed) {
		char diag[160];
		uint64_t latency;
		bool kick_ok = lht_kick_verdict(d, diag, sizeof(diag), &latency);

		lht_tap_result(kick_ok, NULL, NULL, diag,
			       "%s: hyp_vcpu_kick() from another thread made hyp_vcpu_run() return "
			       "HYP_EXIT_KICKED (%.1f ms after the kick)",
			       d->name, kick_ok ? (double)latency / 1e3 : -1.0);
	}
	if (!healthy) {
		/* Threads still inside hyp_vcpu_run(): the VM cannot be destroyed safely. */
		report_stuck_threads(g);
		printf("Bail out! %s: vCPU threads stuck\n", d->name);
		return false;
	}
out_destroy:
	if (hyp_vm_destroy(d->vm)) {
		printf("Bail out! %s: hyp_vm_destroy() refused: a vCPU still runs\n", d->name);
		return false;
	}
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
		"                   aborts have ESR_EL1[63:32] set), kvm-vgic (Linux KVM's\n"
		"                   vGICv3 departs from the GIC architecture), nested-vtimer (nested KVM on\n"
		"                   QEMU TCG: a lost virtual timer wake-up)\n",
		DEFAULT_TIMEOUT_MS / 1000);
}

int main(int argc, char **argv)
{
	char **guests = NULL;
	struct lht_tap_counts tap;
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
	lht_init(&host);
	/* TAP version 13 lets the plan come last; we only know the count at the end. */
	printf("TAP version 13\n");
	lht_tap_comment("libhyp %s conformance guests on backend %s: %zu guest(s)",
			hyp_version_string(), backend_name, n);
	for (size_t i = 0; i < n; i++) {
		if (!run_guest(guests[i]))
			return 1;
		free(guests[i]);
	}
	free(guests);
	tap = lht_tap_counts();
	printf("1..%u\n", tap.n);
	lht_tap_comment(
		"%u passed, %u failed, %u skipped, %u TODO (known platform defects) in %.2f s",
		tap.n - tap.failed - tap.skipped - tap.todo, tap.failed, tap.skipped, tap.todo,
		(double)(now_us() - t0) / 1e6);
	return tap.failed ? 1 : 0;
}
