/* SPDX-License-Identifier: MIT */
/*
 * The Linux partition (firmware-linux.elf): an unmodified Debian arm64 kernel with 2 vCPUs on
 * the partition's CPUs, booted from the Image and initramfs QEMU staged in physical memory
 * (fw-layout.h, FW_LINUX_*), with a device tree built by hyp_fdt_build() and loaded by
 * hyp_boot_load(). Its RAM is mapped IPA == PA. It gets libhyp's GICv3 (lib/vgic), timers
 * (lib/timer) and a PL011 of its own (hyp_pl011_create()) whose output the firmware prints on the
 * physical UART line by line, tagged with the partition's name ("[linux] ...").
 *
 * The staged files are untrusted: the information block's sizes are checked against the staging
 * slots before anything is read, and libhyp's loader checks the Image. The firmware watches the
 * console for what tests/linux-guest/guest-init.c prints (its marker, the CPU count, the power-off)
 * and reports TAP: /init reached, both CPUs online, the partition powered off with PSCI
 * SYSTEM_OFF, the VM destroyed without leaks.
 */
#include <libhyp/boot.h>
#include <libhyp/dev.h>
#include <libhyp/fdt.h>
#include <libhyp/hyp.h>

#include "channel.h"
#include "harness.h"
#include "lht-device.h"

#define LINUX_NR_VCPUS 2u
/* TCG without KVM on a busy 2-core machine: Linux reaches /init in about a minute; give it
 * generous room, the test script's QEMU timeout is longer still. */
#define LINUX_TIMEOUT_S 480u
#define LINUX_STOP_GRACE_MS 5000u
#define LINUX_REKICK_MS 100u
#define LINUX_DTB_SPACE (64u << 10)
#define LINUX_LINE_MAX 200u
/* The kernel command line: the kvm rig's (tests/kvm-host/run-in-arm64-host.sh): the console on
 * the PL011, quiet (printing costs exits), a reboot (SYSTEM_RESET) at once on a panic. The
 * firmware adds libhyp_nodisk (guest-init.c: no disk to wait for) when the partition owns no
 * disk, and what the boot's plan adds. */
#define LINUX_BOOTARGS "console=ttyAMA0 panic=-1 quiet rdinit=/init"
#define LINUX_MAX_DEVICES 8u
/* The benchmark: how long the other partition runs alone before Linux starts. */
#define LINUX_BENCH_ALONE_MS 40u
#define LINUX_BENCH_QUANTUM_US 20u
#define LINUX_MAX_VIRTIO 8u

/* A virtio-mmio transport's registers (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976u /* "virt" */
#define VIRTIO_ID_BLOCK 2u

/* What tests/linux-guest/guest-init.c prints. */
#define MARK_HELLO "LIBHYP-GUEST: hello from Linux"
#define MARK_CPUS "LIBHYP-GUEST: cpus "
#define MARK_OFF "LIBHYP-GUEST: powering off"
#define MARK_DISK "LIBHYP-GUEST: disk: "
#define MARK_ERROR "LIBHYP-GUEST: error: "
#define MARK_ISOLATION "LIBHYP-GUEST: isolation: "
#define MARK_STORM_DONE "LIBHYP-GUEST: storm: done"
/* What Linux prints when it panics (anywhere in the line: after the printk timestamp). */
#define MARK_PANIC "Kernel panic - not syncing"

struct linux_part {
	const struct fw_partition_config *cfg;
	struct fw_cpu *const *cpus;
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpus[LINUX_NR_VCPUS];
	struct hyp_pl011 *uart;
	/* What each vCPU's CPU runs (vcpu_work()); here, not on a stack: a CPU that never came back
	 * may still read it. */
	struct vcpu_job {
		struct linux_part *lp;
		unsigned int index;
	} jobs[LINUX_NR_VCPUS];
	bool spi_given[LINUX_MAX_DEVICES]; /* fw_spi_give() done for cfg->devices[i] */
	bool has_disk;
	uint64_t deadline; /* CNTPCT */
	bool stopping, timed_out;
	bool reported[LINUX_NR_VCPUS]; /* the watchdog logged the vCPU's state (this boot) */

	/* The console line being assembled (any vCPU may write the UART). */
	struct fw_lock out_lock;
	char line[LINUX_LINE_MAX + 1];
	unsigned int len;
	uint64_t lines;
	bool saw_hello, saw_off, saw_disk, saw_error, crashed, saw_storm_done;
	unsigned int isolation_probes; /* addresses given to /init to probe (2 accesses each) */
	long isolation_refused, isolation_tried; /* what it reported; -1: nothing */
	/* CNTPCT: building began, the boot vCPU's first entry, /init's first line, the system
	 * event */
	uint64_t t_build, t_start, t_hello, t_event;
	long cpus_online; /* -1: not reported */

	/* The console self-test's capture (console_self_test()); NULL: the physical UART. */
	char *capture;
	size_t capture_size, capture_used;

	/* Exits the firmware answered, for the report. */
	struct fw_lock lock;
	bool event_seen;
	uint32_t event;
	uint64_t sysreg_undefs, last_sysreg_esr, smccc_unknown, failures;
	uint32_t last_smccc_fid;
	char failure[160];
};

static void linux_fail(struct linux_part *lp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void linux_fail(struct linux_part *lp, const char *fmt, ...)
{
	va_list ap;

	fw_lock(&lp->lock);
	if (!lp->failures++) {
		va_start(ap, fmt);
		fw_vsnprintf(lp->failure, sizeof(lp->failure), fmt, ap);
		va_end(ap);
	}
	fw_unlock(&lp->lock);
}

/* ---------------------------------------------------------------- the console */

static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

static void stop_all(struct linux_part *lp);

/*
 * Whether a console line is the kernel's panic message: "Kernel panic - not syncing" at the
 * start, or after a printk timestamp ("[    3.141592] "). Anything that can write the console
 * could forge it (an echo of typed input too), but only the partition's own console: it could as
 * well crash itself.
 */
static bool is_panic_line(const char *s)
{
	if (*s == '[') {
		for (s++; *s == ' ' || (*s >= '0' && *s <= '9') || *s == '.'; s++)
			;
		if (*s++ != ']' || *s++ != ' ')
			return false;
	}
	return starts_with(s, MARK_PANIC);
}

/* A decimal number at @s (the CPU count); -1 if there is none. */
static long parse_count(const char *s)
{
	long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9' && v < 100000; s++)
		v = v * 10 + (*s - '0');
	return *s ? -1 : v;
}

/* "N of M accesses refused". */
static void parse_isolation(struct linux_part *lp, const char *s)
{
	char n[12] = "", m[12] = "";
	unsigned int i = 0, j = 0;

	while (*s >= '0' && *s <= '9' && i < sizeof(n) - 1)
		n[i++] = *s++;
	if (!starts_with(s, " of "))
		return;
	s += 4;
	while (*s >= '0' && *s <= '9' && j < sizeof(m) - 1)
		m[j++] = *s++;
	if (!starts_with(s, " accesses refused") || s[17])
		return;
	lp->isolation_refused = parse_count(n);
	lp->isolation_tried = parse_count(m);
}

/* With out_lock held. */
static void flush_line(struct linux_part *lp)
{
	lp->line[lp->len] = 0;
	/* The tag keeps a guest's line from ever starting with "ok" or "not ok" on the TAP
	 * console. */
	if (lp->capture) {
		int n = fw_snprintf(lp->capture + lp->capture_used,
				    lp->capture_size - lp->capture_used, "[%s] %s\n", lp->cfg->name,
				    lp->line);

		if (n > 0)
			lp->capture_used += (size_t)n;
		if (lp->capture_used >= lp->capture_size)
			lp->capture_used = lp->capture_size - 1;
	} else {
		fw_printf("[%s] %s\n", lp->cfg->name, lp->line);
		fw_channel_linux_line(lp->line);
	}
	lp->lines++;
	if (starts_with(lp->line, MARK_HELLO) && !lp->saw_hello) {
		lp->saw_hello = true;
		lp->t_hello = fw_now();
	} else if (starts_with(lp->line, MARK_CPUS))
		lp->cpus_online = parse_count(lp->line + sizeof(MARK_CPUS) - 1);
	else if (starts_with(lp->line, MARK_OFF))
		lp->saw_off = true;
	else if (starts_with(lp->line, MARK_DISK))
		lp->saw_disk = true;
	else if (starts_with(lp->line, MARK_ERROR))
		lp->saw_error = true;
	else if (starts_with(lp->line, MARK_STORM_DONE))
		lp->saw_storm_done = true;
	else if (starts_with(lp->line, MARK_ISOLATION))
		parse_isolation(lp, lp->line + sizeof(MARK_ISOLATION) - 1);
	if (is_panic_line(lp->line) && !lp->crashed && !lp->capture) {
		/* The kernel died: nothing it does from here is worth running. */
		lp->crashed = true;
		stop_all(lp);
	}
	lp->len = 0;
}

/* struct hyp_pl011_config.tx_fn: guest output, one byte per UARTDR write, from any vCPU. */
static void console_tx(void *opaque, const void *bytes, size_t len)
{
	struct linux_part *lp = opaque;
	const uint8_t *b = bytes;

	fw_lock(&lp->out_lock);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];

		if (c == '\n') {
			flush_line(lp);
			continue;
		}
		if (c == '\r')
			continue;
		/* Hostile output stays one printable line: no escapes reach the physical UART. */
		lp->line[lp->len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '?';
		if (lp->len == LINUX_LINE_MAX)
			flush_line(lp);
	}
	fw_unlock(&lp->out_lock);
}

static unsigned int partition_index(const struct linux_part *lp)
{
	return (unsigned int)(lp->cfg - fw_partitions);
}

/* The firmware's console input (fw_console_input_attach()): into the PL011's receive FIFO. */
static size_t console_rx(void *opaque, const uint8_t *bytes, size_t len)
{
	struct linux_part *lp = opaque;
	int took = hyp_pl011_receive(lp->uart, bytes, len);

	return took > 0 ? (size_t)took : 0;
}

/* struct hyp_pl011_config.rx_ready_fn: the guest made room in the FIFO. */
static void console_rx_ready(void *opaque)
{
	fw_console_input_ready(partition_index(opaque));
}

/*
 * The console path on hostile output, before any partition runs: a forged TAP line, escape and
 * control bytes, a line longer than the limit, a missing final newline. What reaches the UART
 * must be tagged, printable, and cut into lines of at most LINUX_LINE_MAX characters.
 */
static void console_self_test(const struct fw_partition_config *cfg)
{
	static const char input[] = "ok 1 - forged\r\nnot ok 2\n\x1b[2J\x07"
				    "bell\tx\x80\n"
				    "LIBHYP-GUEST: cpus 12x\n";
	static const char want_head[] = "[t] ok 1 - forged\n[t] not ok 2\n[t] ?[2J?bell\tx?\n"
					"[t] LIBHYP-GUEST: cpus 12x\n[t] ";
	struct fw_partition_config tcfg = *cfg;
	struct linux_part *lp = fw_malloc(sizeof(*lp), 16);
	char *out = fw_malloc(1024, 8), long_line[250];
	bool ok;

	if (!lp || !out)
		fw_panic("out of pool memory for the console self-test");
	memset(lp, 0, sizeof(*lp));
	tcfg.name = "t";
	lp->cfg = &tcfg;
	lp->cpus_online = -1;
	lp->capture = out;
	lp->capture_size = 1024;
	console_tx(lp, input, sizeof(input) - 1);
	memset(long_line, 'A', sizeof(long_line));
	console_tx(lp, long_line, sizeof(long_line)); /* no newline: flushed at the limit */
	fw_lock(&lp->out_lock);
	if (lp->len)
		flush_line(lp); /* what the partition's end does with a last partial line */
	fw_unlock(&lp->out_lock);
	out[lp->capture_used] = 0;
	ok = lp->lines == 6 && !memcmp(out, want_head, sizeof(want_head) - 1) &&
	     lp->cpus_online == -1; /* "12x" is not a count */
	if (ok) {
		const char *p = out + sizeof(want_head) - 1;

		for (unsigned int i = 0; i < LINUX_LINE_MAX; i++)
			ok &= p[i] == 'A';
		p += LINUX_LINE_MAX;
		ok &= !memcmp(p, "\n[t] ", 5);
		p += 5;
		for (unsigned int i = 0; i < sizeof(long_line) - LINUX_LINE_MAX; i++)
			ok &= p[i] == 'A';
		ok &= !strcmp(p + sizeof(long_line) - LINUX_LINE_MAX, "\n");
	}
	lht_tap_result(ok, NULL, NULL, NULL,
		       "[%s] the console turns hostile output into tagged, printable lines of at "
		       "most %u characters (forged TAP, escapes, controls, an over-long line)",
		       cfg->name, LINUX_LINE_MAX);
	fw_free(out, 1024);
	fw_free(lp, sizeof(*lp));
}

/* ---------------------------------------------------------------- exits */

/* A trapped system register nothing emulates: the architected UNDEF, counted (a real guest that
 * gets one probes something the backend hides; the report names the last one). */
static enum hyp_handler_result sysreg_exit(void *opaque, struct hyp_vcpu *vcpu,
					   struct hyp_exit *exit)
{
	struct linux_part *lp = opaque;
	int r = hyp_vcpu_inject_exception(vcpu, HYP_INJECT_UNDEF, 0);

	fw_lock(&lp->lock);
	lp->sysreg_undefs++;
	lp->last_sysreg_esr = exit->raw.esr;
	fw_unlock(&lp->lock);
	return r ? HYP_NOT_HANDLED : HYP_HANDLED;
}

/* An SMCCC call nothing answered (the Linux's probes of firmware services: TRNG, SOC_ID, the
 * vendor hypervisor services...): it comes back with NOT_SUPPORTED pre-set (libhyp/exit.h), the
 * answer KVM gives to calls it does not know. Counted for the report. */
static enum hyp_handler_result smccc_exit(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_exit *exit)
{
	struct linux_part *lp = opaque;

	(void)vcpu;
	fw_lock(&lp->lock);
	lp->smccc_unknown++;
	lp->last_smccc_fid = exit->smccc.function_id;
	fw_unlock(&lp->lock);
	return HYP_HANDLED;
}

static void stop_all(struct linux_part *lp)
{
	__atomic_store_n(&lp->stopping, true, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < LINUX_NR_VCPUS; i++)
		if (lp->vcpus[i])
			hyp_vcpu_kick(lp->vcpus[i]);
}

static void vcpu_diag(struct linux_part *lp, struct hyp_vcpu *vcpu, const struct hyp_exit *exit)
{
	uint64_t pc = 0, pstate = 0, esr1 = 0, far1 = 0, elr1 = 0;

	hyp_vcpu_get_reg(vcpu, HYP_REG_PC, &pc);
	hyp_vcpu_get_reg(vcpu, HYP_REG_PSTATE, &pstate);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_ESR_EL1, &esr1);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_FAR_EL1, &far1);
	hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_ELR_EL1, &elr1);
	lht_tap_comment("[%s] vCPU %u: exit %s: ESR_EL2 %#lx FAR_EL2 %#lx HPFAR_EL2 %#lx; PC %#lx "
			"PSTATE %#lx; ESR_EL1 %#lx FAR_EL1 %#lx ELR_EL1 %#lx",
			lp->cfg->name, hyp_vcpu_index(vcpu), hyp_exit_reason_name(exit->reason),
			exit->raw.esr, exit->raw.far, exit->raw.hpfar, pc, pstate, esr1, far1,
			elr1);
}

static void run_vcpu(struct linux_part *lp, struct hyp_vcpu *vcpu)
{
	for (;;) {
		struct hyp_exit *exit;
		int r = hyp_vcpu_run(vcpu);

		if (r) {
			linux_fail(lp, "vCPU %u: hyp_vcpu_run: %s", hyp_vcpu_index(vcpu),
				   hyp_strerror(r));
			stop_all(lp);
			return;
		}
		exit = hyp_vcpu_exit(vcpu);
		switch (exit->reason) {
		case HYP_EXIT_SYSTEM_EVENT:
			fw_lock(&lp->lock);
			if (!lp->event_seen) {
				lp->event_seen = true;
				lp->event = exit->system_event.type;
				lp->t_event = fw_now();
			}
			fw_unlock(&lp->lock);
			stop_all(lp);
			return;
		case HYP_EXIT_KICKED:
			if (__atomic_load_n(&lp->stopping, __ATOMIC_SEQ_CST))
				return;
			continue;
		case HYP_EXIT_WFX:
			/* WFE traps only without HYP_EL2_NATIVE_WFE, WFI sleeps in the backend. */
			continue;
		default:
			linux_fail(lp, "vCPU %u: unexpected exit %s (ESR %#lx)",
				   hyp_vcpu_index(vcpu), hyp_exit_reason_name(exit->reason),
				   exit->raw.esr);
			vcpu_diag(lp, vcpu, exit);
			stop_all(lp);
			return;
		}
	}
}

/* The watchdog fired on this CPU: report the vCPU that runs here (hyp_vcpu_log_state(), its
 * state read from the hardware; the first time only), stop the partition, and keep kicking until
 * it is down. */
static void watchdog_fired(void *arg)
{
	struct linux_part *lp = arg;

	for (unsigned int i = 0; i < LINUX_NR_VCPUS; i++) {
		if (lp->vcpus[i] && lp->cpus[i] == fw_this_cpu() && !lp->reported[i]) {
			lp->reported[i] = true;
			hyp_vcpu_log_state(lp->vcpus[i]);
		}
	}

	lp->timed_out = true;
	stop_all(lp);
	fw_this_cpu()->timer.watchdog = fw_now() + fw_us_to_ticks(LINUX_REKICK_MS * 1000u);
}

/* Runs on the CPU vCPU @index is pinned to. */
static void vcpu_work(void *arg)
{
	struct vcpu_job *job = arg;
	struct linux_part *lp = job->lp;
	struct fw_cpu *cpu = fw_this_cpu();

	if (cpu != lp->cpus[job->index])
		fw_panic("[%s] vCPU %u runs on CPU %u", lp->cfg->name, job->index, cpu->index);
	cpu->timer.on_watchdog = watchdog_fired;
	cpu->timer.watchdog_arg = lp;
	cpu->timer.watchdog = lp->deadline;
	fw_timer_program();
	run_vcpu(lp, lp->vcpus[job->index]);
	cpu->timer.watchdog = 0;
	cpu->timer.hyp_wake = 0;
	fw_timer_program();
}

/* ---------------------------------------------------------------- passed-through devices */

/* A virtio-mmio device's transport reset: Status 0 (virtio 1.2, 4.2.3.1) stops it, DMA included. */
static void virtio_mmio_reset(const struct fw_device *d)
{
	mmio_write32(d->pa + VIRTIO_MMIO_STATUS, 0);
	dsb(sy);
}

/* Whether @d is what the table says, filling @why if not. */
static bool device_present(const struct fw_device *d, char *why, size_t why_size)
{
	uint32_t magic, version, id;

	if (!(d->flags & FW_DEV_VIRTIO_MMIO))
		return true;
	magic = mmio_read32(d->pa + VIRTIO_MMIO_MAGIC);
	version = mmio_read32(d->pa + VIRTIO_MMIO_VERSION);
	id = mmio_read32(d->pa + VIRTIO_MMIO_DEVICE_ID);
	if (magic == VIRTIO_MMIO_MAGIC_VALUE && (version == 1 || version == 2) &&
	    id == d->virtio_id)
		return true;
	fw_snprintf(why, why_size,
		    "device %s: no virtio-mmio device ID %u at %#lx (magic %#x, version %u, ID "
		    "%u); QEMU needs its -device virtio-*-device there",
		    d->name, d->virtio_id, d->pa, magic, version, id);
	return false;
}

/*
 * Give the partition its devices (config.c): each one checked, reset, its pages mapped at their
 * own address, its SPI assigned as the same SPI of the VM, and a virtio transport described in
 * @virtio for the device tree. The physical SPIs are routed later (devices_start()).
 */
static int devices_attach(struct linux_part *lp, struct hyp_fdt_virtio *virtio, uint32_t *nr_virtio,
			  char *why, size_t why_size)
{
	const struct fw_partition_config *cfg = lp->cfg;

	*nr_virtio = 0;
	if (cfg->nr_devices > LINUX_MAX_DEVICES) {
		fw_snprintf(why, why_size, "%u devices, at most %u", cfg->nr_devices,
			    LINUX_MAX_DEVICES);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < cfg->nr_devices; i++) {
		const struct fw_device *d = &cfg->devices[i];
		uint64_t p0 = d->pa & ~(uint64_t)(FW_PAGE_SIZE - 1);
		uint64_t p1 = (d->pa + d->size + FW_PAGE_SIZE - 1) & ~(uint64_t)(FW_PAGE_SIZE - 1);
		int r;

		if (!device_present(d, why, why_size))
			return -ENODEV;
		if (d->flags & FW_DEV_VIRTIO_MMIO) {
			/* Whatever an earlier owner (or boot) started stops before the guest
			 * sees it. */
			virtio_mmio_reset(d);
			if (*nr_virtio == LINUX_MAX_VIRTIO) {
				fw_snprintf(why, why_size, "more than %u virtio devices",
					    LINUX_MAX_VIRTIO);
				return -E2BIG;
			}
			virtio[(*nr_virtio)++] =
				(struct hyp_fdt_virtio){ .base = d->pa, .intid = d->intid };
			if (d->virtio_id == VIRTIO_ID_BLOCK)
				lp->has_disk = true;
		}
		r = hyp_vm_map(lp->vm, p0, (void *)(uintptr_t)p0, p1 - p0,
			       HYP_MEM_READ | HYP_MEM_WRITE);
		if (!r)
			r = hyp_vm_assign_irq(lp->vm, d->intid, d->intid);
		if (r) {
			fw_snprintf(why, why_size, "device %s: %s", d->name,
				    r == -EEXIST ? "its pages overlap another mapping" :
						   hyp_strerror(r));
			return r;
		}
	}
	return 0;
}

/* Route the devices' physical SPIs to the CPU of vCPU 0 and forward them to the VM. */
static bool devices_start(struct linux_part *lp, char *why, size_t why_size)
{
	for (unsigned int i = 0; i < lp->cfg->nr_devices; i++) {
		const struct fw_device *d = &lp->cfg->devices[i];

		if (!fw_spi_give(d->intid, lp->vm, lp->cpus[0]->mpidr)) {
			fw_snprintf(why, why_size, "device %s: SPI %u is given to another VM",
				    d->name, d->intid);
			return false;
		}
		lp->spi_given[i] = true;
	}
	return true;
}

/* The partition is stopped (no vCPU runs): stop forwarding, and quieten the devices. */
static void devices_stop(struct linux_part *lp)
{
	for (unsigned int i = 0; i < lp->cfg->nr_devices && i < LINUX_MAX_DEVICES; i++) {
		const struct fw_device *d = &lp->cfg->devices[i];

		if (lp->spi_given[i])
			fw_spi_take(d->intid);
		lp->spi_given[i] = false;
		if ((d->flags & FW_DEV_VIRTIO_MMIO) &&
		    mmio_read32(d->pa + VIRTIO_MMIO_MAGIC) == VIRTIO_MMIO_MAGIC_VALUE)
			virtio_mmio_reset(d);
	}
}

/* ---------------------------------------------------------------- loading */

struct staged {
	const void *kernel, *initrd;
	size_t kernel_size, initrd_size;
	uint64_t flags; /* FW_LINUX_INFO_* */
};

/* The information block QEMU wrote (fw-layout.h): untrusted sizes, checked against the slots. */
static int read_staged(struct staged *st, char *why, size_t why_size)
{
	const volatile uint64_t *info = (const volatile uint64_t *)(uintptr_t)FW_LINUX_INFO;
	uint64_t magic = info[0], ksize = info[1], isize = info[2], flags = info[3];

	if (magic != FW_LINUX_INFO_MAGIC) {
		fw_snprintf(why, why_size,
			    "no boot information at %#x (magic %#lx): QEMU staged no kernel "
			    "(run with tests/el2/run-el2.sh --linux)",
			    FW_LINUX_INFO, magic);
		return -EINVAL;
	}
	if (!ksize || ksize > FW_LINUX_KERNEL_MAX || isize > FW_LINUX_INITRD_MAX) {
		fw_snprintf(why, why_size,
			    "staged sizes out of range: kernel %lu (1..%u), initramfs %lu (..%u)",
			    ksize, FW_LINUX_KERNEL_MAX, isize, FW_LINUX_INITRD_MAX);
		return -EINVAL;
	}
	if (flags & ~(uint64_t)FW_LINUX_INFO_BENCH) {
		fw_snprintf(why, why_size, "unknown flags %#lx in the boot information", flags);
		return -EINVAL;
	}
	st->flags = flags;
	st->kernel = (const void *)(uintptr_t)FW_LINUX_KERNEL_STAGE;
	st->kernel_size = (size_t)ksize;
	st->initrd = isize ? (const void *)(uintptr_t)FW_LINUX_INITRD_STAGE : NULL;
	st->initrd_size = (size_t)isize;
	return 0;
}

/*
 * " libhyp_isolation=PA,..." for guest-init.c: physical addresses this partition must not reach
 * (read or write): the RAM (its first and last word) and a CPU's redistributor of every partition
 * running beside it, the firmware, the staged pristine image and the physical GIC's ITS (its own
 * GIC is libhyp's, at the same addresses as the physical one).
 */
static void isolation_args(struct linux_part *lp, char *buf, size_t size)
{
	uint64_t pa[3 * 4 + 3];
	unsigned int n = 0;
	size_t used;

	for (unsigned int i = 0; i < fw_nr_partitions && n + 3 <= 3 * 4; i++) {
		const struct fw_partition_config *other = &fw_partitions[i];

		if (other == lp->cfg || other->phase != lp->cfg->phase)
			continue;
		pa[n++] = other->ram_pa;
		pa[n++] = other->ram_pa + fw_partition_ram_size(other) - 4;
		/* Its first CPU's redistributor (RD_base: GICR_CTLR first). */
		pa[n++] = FW_GICR_BASE + (uint64_t)FW_GICR_STRIDE * other->cpus[0];
	}
	pa[n++] = FW_RAM_BASE;
	pa[n++] = FW_LINUX_KERNEL_STAGE;
	pa[n++] = FW_GIC_ITS_BASE;
	lp->isolation_probes = n;
	used = (size_t)fw_snprintf(buf, size, " libhyp_isolation=");
	for (unsigned int i = 0; i < n && used < size; i++)
		used += (size_t)fw_snprintf(buf + used, size - used, "%s%#lx", i ? "," : "", pa[i]);
	if (used >= size) {
		buf[0] = 0; /* cut: no probe rather than a wrong one */
		lp->isolation_probes = 0;
	}
}

bool fw_linux_benchmark(void)
{
	const volatile uint64_t *info = (const volatile uint64_t *)(uintptr_t)FW_LINUX_INFO;

	return info[0] == FW_LINUX_INFO_MAGIC && info[3] == FW_LINUX_INFO_BENCH;
}

static const char *step_name;
static char device_why[200];

/* Create the VM, its devices and vCPUs, and load the kernel. On failure @step_name says what
 * failed. */
static int build_partition(struct linux_part *lp, const struct staged *st, const char *extra_args,
			   bool probe_isolation, bool channel,
			   const struct hyp_el2_platform *platform,
			   const struct hyp_alloc_ops *alloc, struct hyp_boot_layout *layout)
{
	struct hyp_el2_config el2 = {
		.size = sizeof(el2),
		/* Linux's spinlocks wait in WFE, its idle loop in WFI: neither traps, each vCPU
		 * having its CPU to itself. */
		.flags = HYP_EL2_NATIVE_WFE | HYP_EL2_NATIVE_WFI,
		.platform = platform,
		.vmid = lp->cfg->vmid,
	};
	struct hyp_vm_config cfg = {
		.size = sizeof(cfg),
		.flags = HYP_VM_ABORT_UNCLAIMED,
		.backend = "el2",
		.backend_config = &el2,
		.alloc = alloc,
		.log_fn = lht_log,
		.log_opaque = (void *)lp->cfg->name,
		.log_priority = HYP_LOG_WARNING,
		.max_vcpus = LINUX_NR_VCPUS,
		.irqchip = HYP_IRQCHIP_LIBRARY,
	};
	struct hyp_pl011_config uc = {
		.size = sizeof(uc),
		.tx_fn = console_tx,
		.tx_opaque = lp,
		.rx_ready_fn = console_rx_ready,
		.rx_ready_opaque = lp,
	};
	struct hyp_boot_config bc = {
		.size = sizeof(bc),
		.ram_base = lp->cfg->ram_pa,
		.ram_size = fw_partition_ram_size(lp->cfg),
		.kernel = st->kernel,
		.kernel_size = st->kernel_size,
		.kernel_format = HYP_BOOT_FORMAT_ARM64_IMAGE,
		.initrd = st->initrd,
		.initrd_size = st->initrd_size,
		.dtb_size = LINUX_DTB_SPACE,
	};
	struct hyp_fdt_mem_range mem = { .base = bc.ram_base, .size = bc.ram_size };
	struct hyp_fdt_virtio virtio[LINUX_MAX_VIRTIO];
	struct hyp_fdt_config fc = {
		.size = sizeof(fc),
		.flags = HYP_FDT_NO_RTC,
		.num_cpus = LINUX_NR_VCPUS,
		.num_mem = 1,
		.mem = &mem,
		.virtio = virtio,
	};
	char bootargs[512];
	size_t used;
	void *dtb;
	size_t dtb_size;
	int r;

	step_name = "hyp_vm_create";
	r = hyp_vm_create(&cfg, &lp->vm);
	if (r)
		return r;
	step_name = "hyp_vm_map (RAM, IPA == PA)";
	r = hyp_vm_map(lp->vm, bc.ram_base, (void *)(uintptr_t)bc.ram_base, bc.ram_size,
		       HYP_MEM_READ | HYP_MEM_WRITE | HYP_MEM_EXEC);
	if (r)
		return r;
	step_name = "the partition's devices";
	r = devices_attach(lp, virtio, &fc.num_virtio, device_why, sizeof(device_why));
	if (r)
		return r;
	/* The inter-partition channel's console (channel.c); /init exchanges messages over it. */
	if (channel) {
		step_name = "fw_channel_linux_attach (the channel's virtio console)";
		if (fc.num_virtio == LINUX_MAX_VIRTIO)
			return -E2BIG;
		r = fw_channel_linux_attach(lp->vm, &virtio[fc.num_virtio]);
		if (r)
			return r;
		fc.num_virtio++;
	}
	/* guest-init.c waits for /dev/vda unless told there is none. */
	used = (size_t)fw_snprintf(bootargs, sizeof(bootargs), "%s%s%s%s", LINUX_BOOTARGS,
				   lp->has_disk ? "" : " libhyp_nodisk",
				   channel ? " libhyp_chan=1000" : "", extra_args);
	if (probe_isolation && used < sizeof(bootargs))
		isolation_args(lp, bootargs + used, sizeof(bootargs) - used);
	fc.bootargs = bootargs;
	step_name = "hyp_pl011_create";
	r = hyp_pl011_create(lp->vm, &uc, &lp->uart);
	if (r)
		return r;
	step_name = "hyp_vm_set_exit_handler";
	r = hyp_vm_set_exit_handler(lp->vm, HYP_EXIT_SYSREG, sysreg_exit, lp);
	if (!r)
		r = hyp_vm_set_exit_handler(lp->vm, HYP_EXIT_SMCCC, smccc_exit, lp);
	if (r)
		return r;
	step_name = "hyp_vcpu_create";
	for (unsigned int i = 0; i < LINUX_NR_VCPUS; i++) {
		struct hyp_vcpu_config vc = { .size = sizeof(vc), .index = i };

		r = hyp_vcpu_create(lp->vm, &vc, &lp->vcpus[i]);
		if (r)
			return r;
	}
	step_name = "hyp_boot_plan";
	r = hyp_boot_plan(&bc, layout);
	if (r)
		return r;
	fc.initrd_start = layout->initrd_start;
	fc.initrd_end = layout->initrd_end;
	step_name = "hyp_fdt_build";
	dtb = fw_malloc(LINUX_DTB_SPACE, 8);
	if (!dtb)
		return -ENOMEM;
	r = hyp_fdt_build(&fc, dtb, LINUX_DTB_SPACE, &dtb_size);
	if (!r) {
		step_name = "hyp_boot_load";
		/* No leftovers of an earlier run: the partition starts from zeroed RAM. */
		memset((void *)(uintptr_t)bc.ram_base, 0, bc.ram_size);
		r = hyp_boot_load(lp->vm, &bc, dtb, dtb_size, layout);
	}
	fw_free(dtb, LINUX_DTB_SPACE);
	if (r)
		return r;
	/* Linux starts with its MMU and caches off: everything it reads must be at the PoC. */
	fw_dcache_clean_inval_poc((void *)(uintptr_t)bc.ram_base, bc.ram_size);
	fw_icache_inval_all();
	step_name = "hyp_boot_setup_vcpu";
	return hyp_boot_setup_vcpu(lp->vcpus[0], layout);
}

/* ---------------------------------------------------------------- the partition */

/*
 * The boots the test plans (tests/el2/run-el2.sh --linux): each adds to the command line what
 * makes guest-init.c end it a given way, and says how the firmware must see it end. The
 * firmware's policy is general: SYSTEM_RESET restarts the partition from the pristine staged
 * image; a crash (a kernel panic on the console, or the watchdog) stops it, and it is restarted
 * too; SYSTEM_OFF ends it. The other partition runs on throughout.
 */
enum linux_end {
	LINUX_END_RESET,
	LINUX_END_CRASH,
	LINUX_END_OFF,
};

static const struct linux_boot_plan {
	const char *args;
	enum linux_end end;
	bool probe_isolation; /* /init tries to reach what is not the partition's */
	const char *what;
	bool bench;	  /* the benchmark's boot: figures, no checks of /init's lines */
	bool start_again; /* after SYSTEM_OFF, the next boot of the plan (the benchmark's) */
	uint64_t phase;	  /* fw_harness_set_phase() while it runs */
	/* The inter-partition channel: a virtio console, and /init exchanges messages over it with
	 * the rt partition's chan-peer (channel.c), which lives across all the boots. */
	bool channel;
	bool storm; /* /init storms libhyp (args: libhyp_storm=MS) */
} linux_plan[] = {
	{
		.args = " libhyp_reboot",
		.end = LINUX_END_RESET,
		.probe_isolation = true,
		.what = "rebooted with PSCI SYSTEM_RESET",
		.phase = 1,
		.channel = true,
	},
	/* panic=0: no reboot after the panic; the kernel spins with interrupts off. */
	{
		.args = " panic=0 libhyp_crash",
		.end = LINUX_END_CRASH,
		.what = "crashed (kernel panic, spinning) and the firmware stopped it",
		.phase = 2,
		.channel = true,
	},
	/* libhyp_input: /init echoes a line typed on the console (tests/el2/run-el2.sh types it).
	 * libhyp_storm: for 3 s, while it exchanges messages, /init storms libhyp (MMIO exits on
	 * the GIC distributor, IPIs between its CPUs): the peer's heartbeats must not stall. */
	{
		.args = " libhyp_input libhyp_storm=3000",
		.storm = true,
		.end = LINUX_END_OFF,
		.what = "powered its partition off with PSCI SYSTEM_OFF",
		.phase = 3,
		.channel = true,
	},
};

/* With FW_LINUX_INFO_BENCH: tests/bench/linux-bench-init.c, with the command line
 * linux-bench.c gives hyp-run on kvm: a boot that powers off at once, then one that runs the disk
 * workloads on the passed-through disk; the other partition's timer is measured beside each. */
static const struct linux_boot_plan linux_bench_plan[] = {
	{
		.args = "",
		.end = LINUX_END_OFF,
		.what = "powered off (the benchmark's boot)",
		.bench = true,
		.start_again = true,
		.phase = 1,
	},
	{
		.args = " libhyp_bench_disk",
		.end = LINUX_END_OFF,
		.what = "ran the disk workloads on the passed-through disk and powered off",
		.bench = true,
		.phase = 2,
	},
};

/* A 64-bit sum of the staged files: the pristine copy must not change between boots. */
static uint64_t staged_digest(const struct staged *st)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	const struct {
		const void *p;
		size_t n;
	} parts[2] = { { st->kernel, st->kernel_size }, { st->initrd, st->initrd_size } };

	for (unsigned int k = 0; k < 2; k++) {
		const uint64_t *w = parts[k].p;
		const uint8_t *b;
		size_t words = parts[k].n / 8;

		for (size_t i = 0; i < words; i++)
			h = (h ^ w[i]) * 0x100000001b3ull + (h >> 29);
		b = (const uint8_t *)(w + words);
		for (size_t i = 0; i < parts[k].n % 8; i++)
			h = (h ^ b[i]) * 0x100000001b3ull;
	}
	return h;
}

/*
 * One boot of the partition: build it, run it until it ends, report, tear it down. Returns how it
 * ended (LINUX_END_*), or -1 if it could not be built or torn down (the partition is then given
 * up; *@stuck tells whether a vCPU never came back, in which case @lp must stay allocated).
 */
static int linux_boot(struct linux_part *lp, const struct staged *st, unsigned int boot,
		      const struct linux_boot_plan *plan, const struct hyp_el2_platform *platform,
		      const struct hyp_alloc_ops *alloc, const struct fw_acct *acct, bool *stuck)
{
	const struct fw_partition_config *cfg = lp->cfg;
	struct hyp_boot_layout layout = { .size = sizeof(layout) };
	uint64_t t0 = fw_now(), grace;
	bool healthy = true, ended_as_planned;
	int end = -1, r;
	char why[200];

	*stuck = false;
	device_why[0] = 0;
	lp->t_build = fw_now();
	r = build_partition(lp, st, plan->args, plan->probe_isolation, plan->channel, platform,
			    alloc, &layout);
	if (!r && !devices_start(lp, device_why, sizeof(device_why)))
		r = -EBUSY;
	if (!r)
		fw_console_input_attach(partition_index(lp), console_rx, lp);
	if (device_why[0])
		fw_snprintf(why, sizeof(why), "%s", device_why);
	else
		fw_snprintf(why, sizeof(why), "%s: %s (staged Image starts %#lx, magic %#x)",
			    step_name, hyp_strerror(r), *(const volatile uint64_t *)st->kernel,
			    *(const volatile uint32_t *)((const uint8_t *)st->kernel + 0x38));
	lht_tap_result(
		!r, NULL, NULL, r ? why : NULL,
		"[%s] boot %u: the partition is built: Image %lu bytes, initramfs %lu bytes, "
		"device tree from hyp_fdt_build(), loaded with hyp_boot_load()",
		cfg->name, boot, (uint64_t)st->kernel_size, (uint64_t)st->initrd_size);
	if (r)
		goto destroy;
	lht_tap_comment("[%s] kernel %#lx-%#lx entry %#lx, initramfs %#lx-%#lx, DTB %#lx; "
			"CPUs %u-%u, RAM %#lx-%#lx (IPA == PA), VMID %u",
			cfg->name, layout.kernel_start, layout.kernel_end, layout.entry,
			layout.initrd_start, layout.initrd_end, layout.dtb_addr, cfg->cpus[0],
			cfg->cpus[LINUX_NR_VCPUS - 1], cfg->ram_pa,
			cfg->ram_pa + fw_partition_ram_size(cfg) - 1, cfg->vmid);

	lp->t_start = fw_now();
	lp->deadline = lp->t_start + fw_us_to_ticks(LINUX_TIMEOUT_S * 1000000ull);
	for (unsigned int i = 0; i < LINUX_NR_VCPUS; i++) {
		lp->jobs[i] = (struct vcpu_job){ lp, i };
		lp->reported[i] = false;
	}
	for (unsigned int i = 1; i < LINUX_NR_VCPUS; i++)
		fw_cpu_post(lp->cpus[i], vcpu_work, &lp->jobs[i]);
	vcpu_work(&lp->jobs[0]);
	/* vCPU 0 is back: the others follow (a system event, a crash or the watchdog stopped
	 * them all). */
	stop_all(lp);
	grace = fw_now() + fw_us_to_ticks(LINUX_STOP_GRACE_MS * 1000u);
	for (unsigned int i = 1; i < LINUX_NR_VCPUS && healthy; i++) {
		while (!fw_cpu_wait_idle(lp->cpus[i],
					 fw_now() + fw_us_to_ticks(LINUX_REKICK_MS * 1000u))) {
			stop_all(lp);
			if (fw_now() >= grace) {
				healthy = false;
				break;
			}
		}
	}
	fw_lock(&lp->out_lock);
	if (lp->len)
		flush_line(lp);
	fw_unlock(&lp->out_lock);

	lht_tap_comment("[%s] boot %u: %lu console lines in %lu ms; %lu system register accesses "
			"answered with UNDEF (last ESR %#lx); %lu SMCCC calls answered "
			"NOT_SUPPORTED (last function ID %#x)%s%s",
			cfg->name, boot, lp->lines, fw_ticks_to_us(fw_now() - t0) / 1000,
			lp->sysreg_undefs, lp->last_sysreg_esr, lp->smccc_unknown,
			lp->last_smccc_fid, lp->failures ? "; failure: " : "",
			lp->failures ? lp->failure : "");
	if (lp->saw_hello)
		/* Under -icount shift=0 one counter tick is 16 instructions of whichever CPU ran
		 * (ARCHITECTURE.md): all levels, both of the partition's CPUs, the other partition's
		 * too while it runs. */
		lht_tap_comment(
			"[%s] boot %u: boot to /init: %lu ms, %lu counter ticks (x 16 = %lu "
			"instructions under -icount shift=0)",
			cfg->name, boot, fw_ticks_to_us(lp->t_hello - lp->t_start) / 1000,
			lp->t_hello - lp->t_start, (lp->t_hello - lp->t_start) * 16);
	if (lp->event_seen && plan->bench)
		/* The benchmark's figure (run-el2.sh --linux --icount; tests/bench/bench-table.py
		 * puts it beside hyp-run's on kvm, tests/bench/linux-bench.c). */
		lht_tap_comment("linux-el2: boot %u: to PSCI %s: %lu instructions from the first "
				"entry, %lu from the start of loading (x 16 counter ticks, -icount "
				"shift=0); loading took %lu ticks",
				boot, lht_event_name(lp->event), (lp->t_event - lp->t_start) * 16,
				(lp->t_event - lp->t_build) * 16, lp->t_start - lp->t_build);
	if (plan->bench)
		goto ended;
	lht_tap_result(lp->saw_hello, NULL, NULL, NULL,
		       "[%s] boot %u: Linux reached /init (\"" MARK_HELLO "\")", cfg->name, boot);
	fw_snprintf(why, sizeof(why), "/init reported %ld", lp->cpus_online);
	lht_tap_result(lp->cpus_online == LINUX_NR_VCPUS, NULL, NULL, why,
		       "[%s] boot %u: %u CPUs online in Linux", cfg->name, boot, LINUX_NR_VCPUS);
	for (unsigned int i = 0; i < cfg->nr_devices && i < LINUX_MAX_DEVICES; i++)
		lht_tap_comment("[%s] device %s: %lu interrupts of SPI %u forwarded since start "
				"(physical, deactivated by the guest through the HW bit)",
				cfg->name, cfg->devices[i].name,
				fw_spi_forwarded(cfg->devices[i].intid), cfg->devices[i].intid);
	if (plan->probe_isolation) {
		fw_snprintf(why, sizeof(why), "/init reported %ld of %ld refused, %u addresses",
			    lp->isolation_refused, lp->isolation_tried, lp->isolation_probes);
		lht_tap_result(
			lp->isolation_probes &&
				lp->isolation_tried == 2 * (long)lp->isolation_probes &&
				lp->isolation_refused == lp->isolation_tried,
			NULL, NULL, why,
			"[%s] boot %u: Linux's CPUs can neither read nor write the other partition's "
			"RAM, the firmware, the staged image, the physical GIC's ITS or "
			"the other partition's redistributor (%u addresses through /dev/mem: "
			"SIGBUS each time)",
			cfg->name, boot, lp->isolation_probes);
	}
	if (plan->storm)
		lht_tap_result(
			lp->saw_storm_done && !lp->saw_error, NULL, NULL, NULL,
			"[%s] boot %u: Linux stormed libhyp (reads of an address with nothing "
			"behind it, each an exit and an external abort; IPIs between its CPUs) "
			"beside the rt partition (whose heartbeats chan-peer checks)",
			cfg->name, boot);
	if (lp->has_disk)
		lht_tap_result(
			lp->saw_disk && !lp->saw_error, NULL, NULL,
			lp->saw_error ? "/init reported an error" : "no disk line",
			"[%s] boot %u: Linux mounted the ext4 filesystem of the passed-through "
			"virtio-blk disk and read a file (\"" MARK_DISK "...\")",
			cfg->name, boot);

ended:
	/* How it ended, for the restart policy (fw_linux_run()): a panic, the watchdog or a failed
	 * run are crashes. */
	if (lp->crashed || lp->timed_out || lp->failures || !lp->event_seen)
		end = LINUX_END_CRASH;
	else if (lp->event == HYP_SYSTEM_EVENT_RESET)
		end = LINUX_END_RESET;
	else
		end = LINUX_END_OFF;
	/* What the test planned; /init says it powers off (linux-bench-init.c says nothing). */
	ended_as_planned = end == (int)plan->end && !lp->timed_out && healthy && !lp->failures &&
			   (end != LINUX_END_OFF || plan->bench || lp->saw_off);
	fw_snprintf(why, sizeof(why), "system event %s, crash %s, timed out %s, vCPUs back %s%s%s",
		    lp->event_seen ? lht_event_name(lp->event) : "none", lp->crashed ? "yes" : "no",
		    lp->timed_out ? "yes" : "no", healthy ? "yes" : "no", lp->failures ? ", " : "",
		    lp->failures ? lp->failure : "");
	lht_tap_result(ended_as_planned, NULL, NULL, why, "[%s] boot %u: Linux %s", cfg->name, boot,
		       plan->what);
	if (!healthy) {
		lht_tap_comment("Bail out of partition %s: a vCPU is stuck; its VM cannot be "
				"destroyed",
				cfg->name);
		/* Its devices stop all the same: no more interrupts forwarded, no more DMA. */
		devices_stop(lp);
		*stuck = true;
		return -1;
	}
destroy:
	fw_console_input_detach(partition_index(lp));
	devices_stop(lp);
	fw_channel_linux_detach();
	if (lp->uart)
		hyp_pl011_destroy(lp->uart);
	if (lp->vm) {
		r = hyp_vm_destroy(lp->vm);
		fw_snprintf(why, sizeof(why),
			    "destroy %d; still allocated: %lu bytes in %lu blocks, %lu pages", r,
			    acct->bytes, acct->allocs, acct->pages);
		lht_tap_result(!r && !acct->bytes && !acct->allocs && !acct->pages, NULL, NULL, why,
			       "[%s] boot %u: hyp_vm_destroy() gave back every byte and page",
			       cfg->name, boot);
		if (r || acct->bytes || acct->allocs || acct->pages)
			end = -1;
	}
	return end;
}

void fw_linux_run(const struct fw_partition_config *cfg, struct fw_cpu *const *cpus,
		  const struct hyp_el2_platform *platform, const struct hyp_alloc_ops *alloc,
		  const struct fw_acct *acct)
{
	struct linux_part *lp = fw_malloc(sizeof(*lp), 16);
	const struct linux_boot_plan *plans;
	unsigned int nr_plans;
	uint64_t digest = 0;
	struct staged st;
	bool bench = false;
	char why[200];
	int r;

	if (!lp)
		fw_panic("out of pool memory for the Linux partition");
	console_self_test(cfg);
	if (cfg->nr_cpus < LINUX_NR_VCPUS) {
		lht_tap_result(false, NULL, NULL, NULL, "[%s] needs %u CPUs, has %u (config.c)",
			       cfg->name, LINUX_NR_VCPUS, cfg->nr_cpus);
		goto out;
	}
	r = read_staged(&st, why, sizeof(why));
	if (r) {
		lht_tap_result(false, NULL, NULL, why, "[%s] a staged kernel", cfg->name);
		goto out;
	}
	bench = st.flags & FW_LINUX_INFO_BENCH;
	plans = bench ? linux_bench_plan : linux_plan;
	nr_plans = bench ? FW_ARRAY_SIZE(linux_bench_plan) : FW_ARRAY_SIZE(linux_plan);
	if (bench) {
		/* Under -icount the emulator's turns between CPUs would decide the other
		 * partition's interrupt latency (fw.h): keep them at 20 us. */
		fw_set_idle_quantum(fw_us_to_ticks(LINUX_BENCH_QUANTUM_US));
		/* The other partition measures itself alone first (phase 0). */
		uint64_t until = fw_now() + fw_us_to_ticks(LINUX_BENCH_ALONE_MS * 1000u);

		while (fw_now() < until)
			fw_cpu_idle(until);
	}
	for (unsigned int boot = 1; boot <= nr_plans; boot++) {
		const struct linux_boot_plan *plan = &plans[boot - 1];
		uint64_t now_digest = staged_digest(&st);
		bool stuck;
		int end;

		if (boot == 1) {
			digest = now_digest;
		} else {
			/* No partition ever maps the staging area; a DMA master could still
			 * write it (no SMMU): the restart checks, and refuses a changed image. */
			fw_snprintf(why, sizeof(why), "digest %#lx, first boot's %#lx", now_digest,
				    digest);
			lht_tap_result(now_digest == digest, NULL, NULL, why,
				       "[%s] boot %u: the staged image is unchanged: the partition "
				       "restarts from a pristine copy",
				       cfg->name, boot);
			if (now_digest != digest)
				break;
		}
		fw_harness_set_phase(plan->phase);
		memset(lp, 0, sizeof(*lp));
		lp->cfg = cfg;
		lp->cpus = cpus;
		lp->cpus_online = -1;
		lp->isolation_refused = lp->isolation_tried = -1;
		end = linux_boot(lp, &st, boot, plan, platform, alloc, acct, &stuck);
		if (stuck) {
			fw_channel_linux_finished();
			fw_harness_set_phase(FW_HOST_PHASE_STOP);
			return; /* @lp stays: the stuck CPU may still use it */
		}
		/* The policy: SYSTEM_RESET and crashes restart the partition, SYSTEM_OFF ends it
		 * (the benchmark starts it again: its plan says so); the plan's length is the
		 * restart budget, past it the partition is given up; a partition that could not be
		 * built or torn down is given up at once. */
		if (end < 0 || (end == LINUX_END_OFF && !plan->start_again))
			break;
		if (boot == nr_plans) {
			lht_tap_comment(
				"[%s] boot %u ended (%s) and the plan has no more boots: the "
				"partition is given up",
				cfg->name, boot, end == LINUX_END_RESET ? "SYSTEM_RESET" : "crash");
			break;
		}
		lht_tap_comment("[%s] boot %u ended (%s): restarting the partition", cfg->name,
				boot,
				end == LINUX_END_RESET ? "SYSTEM_RESET" :
				end == LINUX_END_CRASH ? "crash" :
							 "SYSTEM_OFF, started again as planned");
	}
out:
	if (bench)
		fw_set_idle_quantum(0);
	fw_channel_linux_finished();
	/* Whatever measured itself against Linux is done. */
	fw_harness_set_phase(FW_HOST_PHASE_STOP);
	fw_free(lp, sizeof(*lp));
}
