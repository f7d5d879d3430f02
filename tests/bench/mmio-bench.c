/* SPDX-License-Identifier: MIT */
/*
 * mmio-bench: instructions per MMIO exit round trip, libhyp vs a raw KVM_RUN loop, on the same
 * guest (bench-guest.S). Run it on an arm64 KVM host; for figures that mean something on
 * emulated hardware run it under QEMU -icount shift=0 (tests/kvm-host/run-in-arm64-host.sh
 * --icount), where one CNTVCT tick is 16 instructions.
 *
 *   mmio-bench GUEST.bin [ROUNDS]
 *
 * Prints, per variant, the guest-measured ticks for all iterations and the instructions per round
 * trip (median of ROUNDS runs), then the libhyp/raw ratio. A benchmark, not a test: it fails only
 * if it could not measure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libhyp/hyp.h>
#include <libhyp/kvm.h>

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (16u << 20)
#define BENCH_MMIO_BASE 0x0b000000ull
#define BENCH_REG_DOORBELL 0x00
#define BENCH_REG_ITERATIONS 0x08
#define BENCH_REG_TICKS 0x10
#define INSNS_PER_TICK 16 /* 1 GHz icount clock / 62.5 MHz CNTFRQ */
#define MAX_ROUNDS 15

struct result {
	uint64_t iterations;
	uint64_t ticks;
	uint64_t doorbells;
};

static void *guest_ram(const char *path)
{
	void *ram =
		mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (ram == MAP_FAILED || fd < 0) {
		fprintf(stderr, "mmio-bench: cannot load %s: %s\n", path, strerror(errno));
		exit(2);
	}
	n = read(fd, ram, RAM_SIZE);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "mmio-bench: empty guest %s\n", path);
		exit(2);
	}
	return ram;
}

static void record(struct result *res, uint64_t offset, uint64_t data)
{
	if (offset == BENCH_REG_DOORBELL)
		res->doorbells++;
	else if (offset == BENCH_REG_ITERATIONS)
		res->iterations = data;
	else if (offset == BENCH_REG_TICKS)
		res->ticks = data;
}

/* The baseline: the least a VMM can do with /dev/kvm. */
static int run_raw(const char *guest, struct result *res)
{
	struct kvm_userspace_memory_region mr = { .slot = 0,
						  .guest_phys_addr = RAM_BASE,
						  .memory_size = RAM_SIZE };
	struct kvm_vcpu_init init;
	uint64_t pc = RAM_BASE;
	struct kvm_one_reg reg = {
		.id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
		      (offsetof(struct kvm_regs, regs.pc) / sizeof(uint32_t)),
		.addr = (uint64_t)(uintptr_t)&pc,
	};
	int kvm, vm, vcpu, run_size;
	struct kvm_run *run;
	void *ram = guest_ram(guest);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return -errno;
	mr.userspace_addr = (uint64_t)(uintptr_t)ram;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr))
		return -errno;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0 || ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init))
		return -errno;
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) || ioctl(vcpu, KVM_SET_ONE_REG, &reg))
		return -errno;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return -errno;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0))
			return -errno;
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write) {
			uint64_t data = 0;

			memcpy(&data, run->mmio.data, run->mmio.len);
			record(res, run->mmio.phys_addr - BENCH_MMIO_BASE, data);
			continue;
		}
		if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT)
			break;
		fprintf(stderr, "mmio-bench: raw: unexpected exit %u\n", run->exit_reason);
		return -EPROTO;
	}
	munmap(run, (size_t)run_size);
	close(vcpu);
	close(vm);
	close(kvm);
	munmap(ram, RAM_SIZE);
	return 0;
}

static enum hyp_handler_result bench_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *a)
{
	(void)vcpu;
	if (a->is_write)
		record(opaque, a->offset, a->data);
	else
		a->data = 0;
	return HYP_HANDLED;
}

/* The same guest through libhyp: a registered callback absorbs every exit inside run. */
static int run_libhyp(const char *guest, struct result *res, enum hyp_irqchip irqchip)
{
	struct hyp_vm_config config = {
		.size = sizeof(config), .backend = "kvm", .irqchip = irqchip, .max_vcpus = 1
	};
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;
	void *ram = guest_ram(guest);
	int r;

	r = hyp_vm_create(&config, &vm);
	if (r)
		return r;
	if ((r = hyp_vm_map(vm, RAM_BASE, ram, RAM_SIZE, HYP_MEM_RWX)) ||
	    (r = hyp_vm_add_mmio_handler(vm, BENCH_MMIO_BASE, 0x1000, bench_mmio, res)) ||
	    (r = hyp_vcpu_create(vm, NULL, &vcpu)) ||
	    (r = hyp_vcpu_set_reg(vcpu, HYP_REG_PC, RAM_BASE)))
		goto out;
	r = hyp_vcpu_run(vcpu);
	if (!r && hyp_vcpu_exit(vcpu)->reason != HYP_EXIT_SYSTEM_EVENT)
		r = -EPROTO;
out:
	if (hyp_vm_destroy(vm) && !r)
		r = -EBUSY;
	munmap(ram, RAM_SIZE);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Runs one variant @rounds times; returns the median instructions per round trip (x100). */
static long measure(const char *name, const char *guest, int rounds, int variant)
{
	uint64_t per_exit[MAX_ROUNDS];

	for (int i = 0; i < rounds; i++) {
		struct result res = { 0 };
		int r = variant == 0 ?
				run_raw(guest, &res) :
				run_libhyp(guest, &res,
					   variant == 1 ? HYP_IRQCHIP_NONE : HYP_IRQCHIP_BACKEND);

		if (r || !res.iterations || res.doorbells != res.iterations) {
			fprintf(stderr, "mmio-bench: %s: run failed (%s), %llu/%llu exits\n", name,
				r ? hyp_strerror(r) : "no result",
				(unsigned long long)res.doorbells,
				(unsigned long long)res.iterations);
			return -1;
		}
		per_exit[i] = res.ticks * INSNS_PER_TICK * 100 / res.iterations;
	}
	qsort(per_exit, (size_t)rounds, sizeof(per_exit[0]), cmp_u64);
	printf("# %-34s %8.1f instructions per MMIO write round trip (median of %d, min %.1f, "
	       "max %.1f)\n",
	       name, per_exit[rounds / 2] / 100.0, rounds, per_exit[0] / 100.0,
	       per_exit[rounds - 1] / 100.0);
	return (long)per_exit[rounds / 2];
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	long raw, lib, lib_gic;

	if (argc < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: mmio-bench GUEST.bin [ROUNDS 1..%d]\n", MAX_ROUNDS);
		return 2;
	}
	if (!getenv("LIBHYP_KVM_HOST_ICOUNT"))
		printf("# note: not under -icount; the figures are CNTVCT ticks x 16, not "
		       "instructions\n");
	/* Warm up once: the first KVM_RUN of a process pays one-off kernel costs. */
	measure("warm-up (raw KVM_RUN loop)", argv[1], 1, 0);
	raw = measure("raw KVM_RUN loop", argv[1], rounds, 0);
	lib = measure("libhyp, MMIO callback", argv[1], rounds, 1);
	lib_gic = measure("libhyp, MMIO callback, in-kernel GIC", argv[1], rounds, 2);
	if (raw <= 0 || lib <= 0)
		return 1;
	printf("# libhyp / raw = %.4f (target <= 1.03)\n", (double)lib / (double)raw);
	(void)lib_gic;
	printf("1..1\nok 1 - mmio-bench measured both variants\n");
	return 0;
}
