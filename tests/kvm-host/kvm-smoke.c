/* SPDX-License-Identifier: MIT */
/*
 * kvm-smoke: prove that /dev/kvm works on an arm64 Linux host, using nothing but
 * <linux/kvm.h>.  Statically linked, runs as a test inside the nested arm64 KVM
 * host built by run-in-arm64-host.sh (or natively on any arm64 box with /dev/kvm).
 *
 * It creates a VM with 64 KiB of RAM at IPA 0x40000000 holding a tiny guest whose
 * instructions are encoded below by hand, runs it and checks every exit:
 *
 *   guest 1 (functional): 32/16/8/64-bit MMIO stores to 0x09000000.., an MMIO load
 *     whose data userspace supplies (and the guest stores back), PSCI_VERSION handled
 *     in the kernel (result stored to MMIO), then PSCI SYSTEM_OFF, which must arrive
 *     as KVM_EXIT_SYSTEM_EVENT / SHUTDOWN.
 *   guest 2 (baseline): BENCH_N MMIO write exits and BENCH_N in-kernel HVC
 *     PSCI_VERSION calls, each loop bracketed by "isb; mrs cntvct_el0".  Under QEMU
 *     -icount shift=0 (env LIBHYP_KVM_HOST_ICOUNT=1), one CNTVCT tick at 62.5 MHz is
 *     16 instructions, so the figures are instructions per operation.
 *
 * Both guests install exception vectors that report ESR_EL1 over MMIO, and every
 * KVM_RUN is guarded by a SIGALRM watchdog (kvm_run->immediate_exit), so a broken
 * guest becomes a failed test, never a hang.
 *
 * Output is TAP.  Exit status 0 only if every test passed.
 *
 * Build: aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -o kvm-smoke kvm-smoke.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/kvm.h>

#define RAM_IPA 0x40000000ULL
#define RAM_SIZE 0x10000ULL
#define VEC_OFF 0x800u /* VBAR_EL1 needs 2 KiB alignment */
#define MMIO_BASE 0x09000000ULL
#define EXC_VEC_REG 0xff0u /* guest exception: vector index written here */
#define EXC_ESR_REG 0xff8u /* ... then ESR_EL1 here */

#define FN_PSCI_VERSION 0x84000000u
#define FN_PSCI_SYSTEM_OFF 0x84000008u

#define BENCH_N 2000u
#define WATCHDOG_SECS 60u

/* ------------------------------------------------------------------------- */
/* A64 instruction encoders (from the Arm ARM encoding tables).               */

enum { X0 = 0, X1, X2, X3, X4, X9 = 9, X10, X11, X20 = 20, X21, X22, X23, X24, X25, X26 };

/* Register use: an HVC to KVM's PSCI returns in x0-x3 (x1-x3 zeroed) and SMCCC 1.0
 * allows x4-x17 to be clobbered, so whatever lives across an HVC is in x19+:
 * x21 = MMIO base, x22 = loop counter, x23-x26 = timestamps. */

static uint32_t a64_movz(unsigned rd, uint16_t imm, unsigned lsl)
{
	/* MOVZ Xd, #imm, LSL #lsl: sf=1 opc=10 100101 hw imm16 Rd */
	return 0xd2800000u | (lsl / 16u) << 21 | (uint32_t)imm << 5 | rd;
}

static uint32_t a64_movk(unsigned rd, uint16_t imm, unsigned lsl)
{
	/* MOVK Xd, #imm, LSL #lsl: sf=1 opc=11 100101 hw imm16 Rd */
	return 0xf2800000u | (lsl / 16u) << 21 | (uint32_t)imm << 5 | rd;
}

/* STR{B,H,W,X} Rt, [Xn, #off]: size 00/01/10/11 111 0 01 00 imm12 Rn Rt */
static uint32_t a64_str(unsigned size_log2, unsigned rt, unsigned rn, unsigned off)
{
	return (uint32_t)size_log2 << 30 | 0x39000000u | (off >> size_log2) << 10 | rn << 5 | rt;
}

/* LDR{B,H,W,X} Rt, [Xn, #off]: as STR with opc=01 */
static uint32_t a64_ldr(unsigned size_log2, unsigned rt, unsigned rn, unsigned off)
{
	return (uint32_t)size_log2 << 30 | 0x39400000u | (off >> size_log2) << 10 | rn << 5 | rt;
}

static uint32_t a64_add_imm(unsigned rd, unsigned rn, unsigned imm12)
{
	return 0x91000000u | imm12 << 10 | rn << 5 | rd; /* ADD Xd, Xn, #imm */
}

static uint32_t a64_subs_imm(unsigned rd, unsigned rn, unsigned imm12)
{
	return 0xf1000000u | imm12 << 10 | rn << 5 | rd; /* SUBS Xd, Xn, #imm */
}

#define COND_NE 1u
static uint32_t a64_bcond(unsigned cond, int32_t byte_off)
{
	return 0x54000000u | ((uint32_t)(byte_off / 4) & 0x7ffffu) << 5 | cond;
}

static uint32_t a64_b(int32_t byte_off)
{
	return 0x14000000u | ((uint32_t)(byte_off / 4) & 0x3ffffffu);
}

#define A64_HVC0 0xd4000002u /* HVC #0 */
#define A64_ISB 0xd5033fdfu  /* ISB SY */
/* MRS/MSR: 1101 0101 00 L 1 o0 op1 CRn CRm op2 Rt, with op0 = 2 + o0 */
static uint32_t a64_mrs_cntvct(unsigned rt)
{
	return 0xd53be040u | rt;
} /* 3,3,c14,c0,2 */
static uint32_t a64_mrs_esr_el1(unsigned rt)
{
	return 0xd5385200u | rt;
} /* 3,0,c5,c2,0 */
static uint32_t a64_msr_vbar_el1(unsigned rt)
{
	return 0xd518c000u | rt;
} /* 3,0,c12,c0,0 */

struct asm_buf {
	uint32_t *mem; /* guest RAM base (host view) */
	size_t pos;    /* in instructions */
};

static void emit(struct asm_buf *a, uint32_t insn)
{
	a->mem[a->pos++] = insn;
}
static size_t here(const struct asm_buf *a)
{
	return a->pos * 4u;
}

/* mov Xd, #imm64 as MOVZ + MOVKs for the non-zero 16-bit chunks */
static void emit_mov64(struct asm_buf *a, unsigned rd, uint64_t v)
{
	emit(a, a64_movz(rd, (uint16_t)v, 0));
	for (unsigned sh = 16; sh < 64; sh += 16)
		if ((uint16_t)(v >> sh))
			emit(a, a64_movk(rd, (uint16_t)(v >> sh), sh));
}

/* Vectors at VEC_OFF: each of the 16 entries reports its index and ESR_EL1 over
 * MMIO and then spins.  Then the prologue points VBAR_EL1 at them. */
static void emit_vectors_and_prologue(struct asm_buf *a)
{
	for (unsigned v = 0; v < 16; v++) {
		struct asm_buf e = { a->mem, (VEC_OFF + v * 0x80u) / 4u };
		emit(&e, a64_movz(X10, (uint16_t)(MMIO_BASE >> 16), 16));
		emit(&e, a64_movz(X11, (uint16_t)v, 0));
		emit(&e, a64_str(3, X11, X10, EXC_VEC_REG));
		emit(&e, a64_mrs_esr_el1(X9));
		emit(&e, a64_str(3, X9, X10, EXC_ESR_REG));
		emit(&e, a64_b(0));
	}
	emit_mov64(a, X20, RAM_IPA + VEC_OFF);
	emit(a, a64_msr_vbar_el1(X20));
	emit(a, A64_ISB);
}

/* ------------------------------------------------------------------------- */
/* TAP helpers                                                                */

static unsigned tap_n, tap_failed;

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %u - ", ok ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok)
		tap_failed++;
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* ------------------------------------------------------------------------- */
/* A VM with one vCPU                                                         */

struct vm {
	int vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *ram;
	char err[160]; /* why setup failed */
};

static int kvm_fd = -1;
static volatile struct kvm_run *volatile watchdog_run;

static void on_alarm(int sig)
{
	(void)sig;
	if (watchdog_run)
		watchdog_run->immediate_exit = 1;
}

static inline uint64_t read_cntvct(void)
{
	uint64_t v;
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
	return v;
}

static inline uint64_t read_cntfrq(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}

static void vm_destroy(struct vm *vm)
{
	if (vm->run && vm->run != MAP_FAILED)
		munmap(vm->run, vm->run_size);
	if (vm->ram && vm->ram != MAP_FAILED)
		munmap(vm->ram, RAM_SIZE);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->run = NULL;
	vm->ram = NULL;
	vm->vm_fd = vm->vcpu_fd = -1;
}

#define SETUP_FAIL(...)                                                                            \
	do {                                                                                       \
		snprintf(vm->err, sizeof(vm->err), __VA_ARGS__);                                   \
		vm_destroy(vm);                                                                    \
		return -1;                                                                         \
	} while (0)

/* Create the VM and RAM; the caller writes the guest into vm->ram and then calls
 * vm_start().  Split so that KVM_CREATE_VM -> first exit can be timed. */
static int vm_create(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->vcpu_fd = -1;

	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0UL);
	if (vm->vm_fd < 0)
		SETUP_FAIL("KVM_CREATE_VM: %s", strerror(errno));

	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ram == MAP_FAILED)
		SETUP_FAIL("mmap guest RAM: %s", strerror(errno));
	return 0;
}

static int vm_start(struct vm *vm)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = 0,
		.guest_phys_addr = RAM_IPA,
		.memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		SETUP_FAIL("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0UL);
	if (vm->vcpu_fd < 0)
		SETUP_FAIL("KVM_CREATE_VCPU: %s", strerror(errno));

	int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0UL);
	if (sz < (int)sizeof(struct kvm_run))
		SETUP_FAIL("KVM_GET_VCPU_MMAP_SIZE: %d (%s)", sz, strerror(errno));
	vm->run_size = (size_t)sz;
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		SETUP_FAIL("mmap kvm_run: %s", strerror(errno));

	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		SETUP_FAIL("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(vm->vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		SETUP_FAIL("KVM_ARM_VCPU_INIT (target %u): %s", init.target, strerror(errno));

	uint64_t pc = RAM_IPA;
	struct kvm_one_reg reg = {
		.id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
		      KVM_REG_ARM_CORE_REG(regs.pc),
		.addr = (uint64_t)(uintptr_t)&pc,
	};
	if (ioctl(vm->vcpu_fd, KVM_SET_ONE_REG, &reg) < 0)
		SETUP_FAIL("KVM_SET_ONE_REG(PC): %s", strerror(errno));

	uint64_t back = 0;
	reg.addr = (uint64_t)(uintptr_t)&back;
	if (ioctl(vm->vcpu_fd, KVM_GET_ONE_REG, &reg) < 0 || back != pc)
		SETUP_FAIL("KVM_GET_ONE_REG(PC) = 0x%" PRIx64 " (%s)", back, strerror(errno));
	return 0;
}

/* The watchdog covers a whole guest run (armed once, not per exit, so that the
 * baseline loop stays a bare KVM_RUN loop): SIGALRM sets immediate_exit, and
 * KVM_RUN then returns EINTR, whether the signal came during or between runs. */
static void watchdog_arm(struct vm *vm, unsigned secs)
{
	watchdog_run = vm->run;
	alarm(secs);
}

static void watchdog_disarm(void)
{
	alarm(0);
	watchdog_run = NULL;
}

/* One KVM_RUN.  Returns 0, or -1 with errno (ETIMEDOUT: the watchdog fired). */
static int vcpu_run(struct vm *vm)
{
	int r = ioctl(vm->vcpu_fd, KVM_RUN, 0UL);
	if (r < 0) {
		int e = errno;
		if (e == EINTR && vm->run->immediate_exit)
			e = ETIMEDOUT;
		errno = e;
		return -1;
	}
	return 0;
}

static uint64_t mmio_value(const struct kvm_run *run)
{
	uint64_t v = 0;
	memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8); /* little endian */
	return v;
}

/* Describe the current exit into buf (for failure messages). */
static const char *describe_exit(const struct vm *vm, char *buf, size_t n)
{
	const struct kvm_run *run = vm->run;
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		if (run->mmio.is_write && run->mmio.phys_addr == MMIO_BASE + EXC_ESR_REG)
			snprintf(buf, n, "guest took an exception, ESR_EL1=0x%" PRIx64,
				 mmio_value(run));
		else
			snprintf(buf, n, "MMIO %s addr=0x%llx len=%u data=0x%" PRIx64,
				 run->mmio.is_write ? "write" : "read",
				 (unsigned long long)run->mmio.phys_addr, run->mmio.len,
				 run->mmio.is_write ? mmio_value(run) : 0);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(buf, n, "system event type %u", run->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, n, "FAIL_ENTRY reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, n, "INTERNAL_ERROR suberror %u", run->internal.suberror);
		break;
	default:
		snprintf(buf, n, "exit_reason %u", run->exit_reason);
	}
	return buf;
}

/* ------------------------------------------------------------------------- */
/* Guest 1: functional checks                                                 */

struct expect {
	uint64_t off; /* from MMIO_BASE */
	uint32_t len;
	int is_write;
	uint64_t data; /* write: expected; read: supplied */
	int any_data;  /* write whose value is checked separately */
	int group;     /* which TAP line it belongs to */
};

enum { G_WRITES, G_READ, G_PSCI_VERSION };

#define READ_DATA 0x5a5aa5a5u

static const struct expect guest1_exits[] = {
	{ 0x00, 4, 1, 0xabcd1234u, 0, G_WRITES },
	{ 0x00, 4, 1, 0xabcd1235u, 0, G_WRITES },
	{ 0x02, 2, 1, 0x1235u, 0, G_WRITES },
	{ 0x04, 1, 1, 0x35u, 0, G_WRITES },
	{ 0x08, 8, 1, 0x0123456789abcdefull, 0, G_WRITES },
	{ 0x10, 4, 0, READ_DATA, 0, G_READ },
	{ 0x14, 4, 1, READ_DATA, 0, G_READ },
	{ 0x18, 8, 1, 0, 1, G_PSCI_VERSION },
};
#define GUEST1_N (sizeof(guest1_exits) / sizeof(guest1_exits[0]))

static void write_guest1(uint8_t *ram)
{
	struct asm_buf a = { (uint32_t *)(void *)ram, 0 };
	emit_vectors_and_prologue(&a);
	emit_mov64(&a, X21, MMIO_BASE);
	emit_mov64(&a, X2, 0xabcd1234u);
	emit(&a, a64_str(2, X2, X21, 0x00)); /* str w2, [x21] */
	emit(&a, a64_add_imm(X2, X2, 1));
	emit(&a, a64_str(2, X2, X21, 0x00)); /* str w2, [x21] */
	emit(&a, a64_str(1, X2, X21, 0x02)); /* strh w2, [x21, #2] */
	emit(&a, a64_str(0, X2, X21, 0x04)); /* strb w2, [x21, #4] */
	emit_mov64(&a, X3, 0x0123456789abcdefull);
	emit(&a, a64_str(3, X3, X21, 0x08)); /* str x3, [x21, #8] */
	emit(&a, a64_ldr(2, X4, X21, 0x10)); /* ldr w4, [x21, #16] */
	emit(&a, a64_str(2, X4, X21, 0x14)); /* str w4, [x21, #20] */
	emit_mov64(&a, X0, FN_PSCI_VERSION);
	emit(&a, A64_HVC0);
	emit(&a, a64_str(3, X0, X21, 0x18)); /* str x0, [x21, #24] */
	emit_mov64(&a, X0, FN_PSCI_SYSTEM_OFF);
	emit(&a, A64_HVC0);
	emit(&a, a64_b(0));
	if (here(&a) > VEC_OFF) {
		fprintf(stderr, "guest 1 overlaps its vectors\n");
		abort();
	}
}

static void run_guest1(void)
{
	struct vm vmv, *vm = &vmv;
	char buf[200];
	int setup_ok = vm_create(vm) == 0;
	if (setup_ok) {
		write_guest1(vm->ram);
		setup_ok = vm_start(vm) == 0;
	}
	tap(setup_ok, "create VM, 64 KiB RAM at 0x%llx, vCPU with PSCI 0.2, PC set%s%s",
	    (unsigned long long)RAM_IPA, setup_ok ? "" : ": ", setup_ok ? "" : vm->err);
	if (!setup_ok) {
		tap(0, "MMIO write exits (skipped: no VM)");
		tap(0, "MMIO read exit returns userspace data (skipped: no VM)");
		tap(0, "PSCI_VERSION handled in the kernel (skipped: no VM)");
		tap(0, "PSCI SYSTEM_OFF -> KVM_EXIT_SYSTEM_EVENT (skipped: no VM)");
		return;
	}

	int group_ok[3] = { 1, 1, 1 };
	char group_why[3][200] = { "", "", "" };
	unsigned n_seen = 0;
	uint64_t psci_version = 0;
	int shutdown_ok = 0;
	char end_why[200] = "";

	watchdog_arm(vm, WATCHDOG_SECS);
	for (;;) {
		if (vcpu_run(vm) < 0) {
			snprintf(end_why, sizeof(end_why), "KVM_RUN: %s", strerror(errno));
			break;
		}
		struct kvm_run *run = vm->run;
		if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN &&
			    n_seen == GUEST1_N)
				shutdown_ok = 1;
			else
				snprintf(end_why, sizeof(end_why),
					 "system event type %u after %u of %zu MMIO exits",
					 run->system_event.type, n_seen, GUEST1_N);
			break;
		}
		if (run->exit_reason != KVM_EXIT_MMIO || n_seen >= GUEST1_N) {
			snprintf(end_why, sizeof(end_why), "unexpected %s",
				 describe_exit(vm, buf, sizeof(buf)));
			break;
		}
		const struct expect *e = &guest1_exits[n_seen++];
		uint64_t got = run->mmio.is_write ? mmio_value(run) : 0;
		int ok = run->mmio.phys_addr == MMIO_BASE + e->off && run->mmio.len == e->len &&
			 !!run->mmio.is_write == e->is_write &&
			 (e->any_data || !e->is_write || got == e->data);
		if (!ok) {
			group_ok[e->group] = 0;
			snprintf(group_why[e->group], sizeof(group_why[0]),
				 "exit %u: expected %s 0x%llx/%u data 0x%" PRIx64 ", got %s",
				 n_seen, e->is_write ? "write" : "read",
				 (unsigned long long)(MMIO_BASE + e->off), e->len, e->data,
				 describe_exit(vm, buf, sizeof(buf)));
			snprintf(end_why, sizeof(end_why), "stopped after mismatch");
			break;
		}
		if (!e->is_write) {
			uint64_t d = e->data;
			memcpy(run->mmio.data, &d, e->len);
		}
		if (e->group == G_PSCI_VERSION)
			psci_version = got;
	}
	watchdog_disarm();

	/* A group passes only if all its exits were seen and matched. */
	for (size_t i = 0; i < GUEST1_N; i++) {
		if (i >= n_seen && group_ok[guest1_exits[i].group]) {
			group_ok[guest1_exits[i].group] = 0;
			snprintf(group_why[guest1_exits[i].group], sizeof(group_why[0]),
				 "exit %zu never came: %s", i + 1, end_why);
		}
	}
	unsigned major = (unsigned)(psci_version >> 16) & 0x7fffu,
		 minor = (unsigned)psci_version & 0xffffu;
	if (group_ok[G_PSCI_VERSION] && !((major == 0 && minor >= 2) || major >= 1)) {
		group_ok[G_PSCI_VERSION] = 0;
		snprintf(group_why[G_PSCI_VERSION], sizeof(group_why[0]),
			 "PSCI_VERSION returned 0x%" PRIx64, psci_version);
	}

	tap(group_ok[G_WRITES],
	    "MMIO write exits: 32/32/16/8/64-bit with address, length and data%s%s",
	    group_ok[G_WRITES] ? "" : ": ", group_why[G_WRITES]);
	tap(group_ok[G_READ], "MMIO read exit: data supplied by userspace reaches the guest%s%s",
	    group_ok[G_READ] ? "" : ": ", group_why[G_READ]);
	if (group_ok[G_PSCI_VERSION])
		tap(1, "PSCI_VERSION handled in the kernel: %u.%u", major, minor);
	else
		tap(0, "PSCI_VERSION handled in the kernel: %s", group_why[G_PSCI_VERSION]);
	tap(shutdown_ok, "PSCI SYSTEM_OFF -> KVM_EXIT_SYSTEM_EVENT/SHUTDOWN%s%s",
	    shutdown_ok ? "" : ": ", end_why);
	vm_destroy(vm);
}

/* ------------------------------------------------------------------------- */
/* Guest 2: raw KVM_RUN loop baseline                                         */

#define BENCH_MMIO_OFF 0x20u
#define BENCH_TS_OFF 0x30u /* four 64-bit timestamps at 0x30..0x48 */

static void write_guest2(uint8_t *ram)
{
	struct asm_buf a = { (uint32_t *)(void *)ram, 0 };
	emit_vectors_and_prologue(&a);
	emit_mov64(&a, X21, MMIO_BASE);

	/* loop 1: BENCH_N MMIO writes of the down-counter */
	emit_mov64(&a, X22, BENCH_N);
	emit(&a, A64_ISB);
	emit(&a, a64_mrs_cntvct(X23));
	size_t loop1 = here(&a);
	emit(&a, a64_str(2, X22, X21, BENCH_MMIO_OFF));
	emit(&a, a64_subs_imm(X22, X22, 1));
	emit(&a, a64_bcond(COND_NE, (int32_t)loop1 - (int32_t)here(&a)));
	emit(&a, A64_ISB);
	emit(&a, a64_mrs_cntvct(X24));

	/* loop 2: BENCH_N PSCI_VERSION HVCs, answered inside KVM */
	emit_mov64(&a, X22, BENCH_N);
	emit(&a, A64_ISB);
	emit(&a, a64_mrs_cntvct(X25));
	size_t loop2 = here(&a);
	emit(&a, a64_movz(X0, 0x8400, 16));
	emit(&a, A64_HVC0);
	emit(&a, a64_subs_imm(X22, X22, 1));
	emit(&a, a64_bcond(COND_NE, (int32_t)loop2 - (int32_t)here(&a)));
	emit(&a, A64_ISB);
	emit(&a, a64_mrs_cntvct(X26));

	emit(&a, a64_str(3, X23, X21, BENCH_TS_OFF + 0));
	emit(&a, a64_str(3, X24, X21, BENCH_TS_OFF + 8));
	emit(&a, a64_str(3, X25, X21, BENCH_TS_OFF + 16));
	emit(&a, a64_str(3, X26, X21, BENCH_TS_OFF + 24));
	emit_mov64(&a, X0, FN_PSCI_SYSTEM_OFF);
	emit(&a, A64_HVC0);
	emit(&a, a64_b(0));
	if (here(&a) > VEC_OFF) {
		fprintf(stderr, "guest 2 overlaps its vectors\n");
		abort();
	}
}

static void run_guest2(int icount)
{
	struct vm vmv, *vm = &vmv;
	char buf[200], why[240] = "";
	uint64_t t_create = read_cntvct();
	int ok = vm_create(vm) == 0;
	if (ok) {
		write_guest2(vm->ram);
		ok = vm_start(vm) == 0;
	}
	if (!ok) {
		tap(0, "baseline: %u MMIO write exits, %u in-kernel HVCs: %s", BENCH_N, BENCH_N,
		    vm->err);
		return;
	}

	uint64_t t_first_exit = 0, ts[4] = { 0 };
	unsigned n_mmio = 0, n_ts = 0;
	int done = 0;
	watchdog_arm(vm, WATCHDOG_SECS);
	while (!done) {
		if (vcpu_run(vm) < 0) {
			snprintf(why, sizeof(why), "KVM_RUN: %s", strerror(errno));
			break;
		}
		if (!t_first_exit)
			t_first_exit = read_cntvct();
		struct kvm_run *run = vm->run;
		uint64_t off = run->mmio.phys_addr - MMIO_BASE;
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
		    off == BENCH_MMIO_OFF && run->mmio.len == 4 && n_ts == 0) {
			if (mmio_value(run) != BENCH_N - n_mmio) {
				snprintf(why, sizeof(why),
					 "MMIO exit %u carried 0x%" PRIx64 ", expected %u",
					 n_mmio + 1, mmio_value(run), BENCH_N - n_mmio);
				break;
			}
			n_mmio++;
		} else if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
			   off == BENCH_TS_OFF + 8u * n_ts && run->mmio.len == 8 && n_ts < 4) {
			ts[n_ts++] = mmio_value(run);
		} else if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT &&
			   run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			done = 1;
		} else {
			snprintf(why, sizeof(why), "unexpected %s",
				 describe_exit(vm, buf, sizeof(buf)));
			break;
		}
	}
	watchdog_disarm();
	vm_destroy(vm);

	ok = done && n_mmio == BENCH_N && n_ts == 4 && ts[1] > ts[0] && ts[3] > ts[2] &&
	     ts[2] >= ts[1];
	if (done && !ok)
		snprintf(why, sizeof(why),
			 "%u MMIO exits, %u timestamps (%" PRIu64 ",%" PRIu64 ",%" PRIu64
			 ",%" PRIu64 ")",
			 n_mmio, n_ts, ts[0], ts[1], ts[2], ts[3]);
	tap(ok, "baseline: %u MMIO write exits, %u in-kernel HVCs, then SYSTEM_OFF%s%s", BENCH_N,
	    BENCH_N, ok ? "" : ": ", why);
	if (!ok)
		return;

	uint64_t frq = read_cntfrq();
	double mmio_ticks = (double)(ts[1] - ts[0]) / BENCH_N;
	double hvc_ticks = (double)(ts[3] - ts[2]) / BENCH_N;
	double create_ticks = (double)(t_first_exit - t_create);
	diag("CNTFRQ_EL0 = %" PRIu64 " Hz; ticks per MMIO write exit %.2f, per in-kernel HVC %.2f, "
	     "KVM_CREATE_VM -> first exit %.0f",
	     frq, mmio_ticks, hvc_ticks, create_ticks);
	if (icount && frq) {
		/* -icount shift=0: 1 instruction = 1 ns, so instructions = ticks * 1e9 / CNTFRQ */
		double ipt = 1e9 / (double)frq;
		diag("instructions per MMIO write exit -> userspace -> guest: %.0f (loop overhead 3 included)",
		     mmio_ticks * ipt);
		diag("instructions per HVC PSCI_VERSION handled in KVM: %.0f (loop overhead 4 included)",
		     hvc_ticks * ipt);
		diag("instructions KVM_CREATE_VM -> first guest exit (1 vCPU, 64 KiB): %.0f",
		     create_ticks * ipt);
		printf("KVM-SMOKE-FIGURES: mmio_write_exit=%.0f hvc_in_kernel=%.0f create_to_first_exit=%.0f\n",
		       mmio_ticks * ipt, hvc_ticks * ipt, create_ticks * ipt);
	} else {
		diag("not under -icount (LIBHYP_KVM_HOST_ICOUNT unset): tick figures are wall-clock, "
		     "not instruction counts");
	}
	fflush(stdout);
}

/* ------------------------------------------------------------------------- */

static void report_host(void)
{
	struct utsname u;
	if (uname(&u) == 0)
		diag("host kernel: %s %s %s (%s)", u.sysname, u.release, u.version, u.machine);

	/* KVM logs its mode at boot: "VHE mode initialized successfully",
	 * "Hyp mode initialized successfully" (nVHE) or "Protected nVHE mode ...". */
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	const char *mode = "unknown (kernel log not readable)";
	if (len > 0) {
		char *log = malloc((size_t)len + 1);
		if (log) {
			int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, len);
			if (n >= 0) {
				log[n] = '\0';
				if (strstr(log, "Protected nVHE mode"))
					mode = "nVHE (protected)";
				else if (strstr(log, "VHE mode initialized"))
					mode = "VHE";
				else if (strstr(log, "Hyp mode initialized"))
					mode = "nVHE";
				else
					mode = "unknown (no kvm mode line in kernel log)";
			}
			free(log);
		}
	}
	diag("KVM mode: %s", mode);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *ic = getenv("LIBHYP_KVM_HOST_ICOUNT");
	int icount = ic && *ic && strcmp(ic, "0") != 0;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	printf("1..7\n");
	report_host();

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int api = kvm_fd >= 0 ? ioctl(kvm_fd, KVM_GET_API_VERSION, 0UL) : -1;
	if (kvm_fd < 0) {
		tap(0, "open /dev/kvm: %s", strerror(errno));
	} else {
		tap(api == KVM_API_VERSION, "open /dev/kvm, KVM_GET_API_VERSION = %d (want %d)",
		    api, KVM_API_VERSION);
		int ipa =
			ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)KVM_CAP_ARM_VM_IPA_SIZE);
		int vcpus = ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)KVM_CAP_NR_VCPUS);
		int psci02 =
			ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)KVM_CAP_ARM_PSCI_0_2);
		int el1_32 =
			ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)KVM_CAP_ARM_EL1_32BIT);
		diag("caps: ARM_VM_IPA_SIZE=%d NR_VCPUS=%d ARM_PSCI_0_2=%d ARM_EL1_32BIT=%d", ipa,
		     vcpus, psci02, el1_32);
	}

	if (kvm_fd >= 0 && api == KVM_API_VERSION) {
		run_guest1();
		run_guest2(icount);
	} else {
		for (int i = 0; i < 6; i++)
			tap(0, "skipped: /dev/kvm unusable");
	}

	if (kvm_fd >= 0)
		close(kvm_fd);
	diag("%u of %u tests failed", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}
