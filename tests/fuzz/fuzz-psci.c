// SPDX-License-Identifier: MIT
/*
 * Fuzz the SMCCC/PSCI dispatch (lib/trap/psci.c through lib/core/run.c) on multi-vCPU mock VMs,
 * against a model of PSCI 1.1 (Arm DEN 0022D) and SMCCC 1.1 (Arm DEN 0028).
 *
 * The input picks 2..4 vCPUs (MPIDRs and initial power states), then a sequence of calls: which
 * vCPU makes it, the function ID (mostly the ones libhyp implements), conduit and immediate, and
 * arguments drawn from the vCPUs' MPIDRs, executable RAM, non-executable RAM and noise. Each call
 * is scripted on the mock backend and run; the guest's X0..X3 afterwards (or the exit returned to
 * the caller, for calls libhyp does not answer) must be what the model says, and the model's
 * power states must match hyp_vcpu_is_powered_on() and what a started vCPU sees (PC = entry,
 * X0 = context_id).
 *
 * CPU_OFF does not return to the guest: the vCPU's thread waits until PSCI turns it back on. A
 * helper thread kicks it once the call has turned it off, so the run returns.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "fuzz-input.h"

#include <libhyp/backend.h>
#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define NCPU_MAX 4
#define RAM_X 0x40000000ull  /* RWX: a valid entry point */
#define RAM_NX 0x40100000ull /* RW only: CPU_ON there is INVALID_ADDRESS */
#define RAM_SIZE 0x10000ull
#define AFF_MASK 0xff00ffffffull

enum power { OFF, STARTING, ON };

struct cpu {
	struct hyp_vcpu *vcpu;
	uint64_t mpidr;
	enum power power;
	uint64_t entry, ctx;
};

static const uint32_t fids[] = {
	HYP_PSCI_VERSION,
	HYP_PSCI_CPU_SUSPEND_32,
	HYP_PSCI_CPU_SUSPEND_64,
	HYP_PSCI_CPU_OFF,
	HYP_PSCI_CPU_ON_32,
	HYP_PSCI_CPU_ON_64,
	HYP_PSCI_CPU_ON_64,
	HYP_PSCI_AFFINITY_INFO_32,
	HYP_PSCI_AFFINITY_INFO_64,
	HYP_PSCI_MIGRATE_32,
	HYP_PSCI_MIGRATE_INFO_TYPE,
	HYP_PSCI_MIGRATE_INFO_UP_CPU_64,
	HYP_PSCI_SYSTEM_OFF,
	HYP_PSCI_SYSTEM_RESET,
	HYP_PSCI_FEATURES,
	HYP_PSCI_SYSTEM_RESET2_32,
	HYP_PSCI_SYSTEM_RESET2_64,
	HYP_SMCCC_VERSION,
	HYP_SMCCC_ARCH_FEATURES,
	HYP_SMCCC_ARCH_WORKAROUND_1,
	0x8400001fu,
	0xc4000010u,
};

static const uint64_t mpidr_pool[8] = { 0x0, 0x1, 0x100, 0x101, 0x10000, 0x100000000ull, 0x2, 0xff };

struct kicker {
	struct hyp_vcpu *vcpu;
	atomic_bool stop;
};

/* Kick the vCPU once it is off (its CPU_OFF went through), or give up when told to. */
static void *kicker_main(void *arg)
{
	struct kicker *k = arg;

	while (!atomic_load(&k->stop)) {
		if (hyp_vcpu_is_powered_on(k->vcpu) == 0) {
			hyp_vcpu_kick(k->vcpu);
			break;
		}
		sched_yield();
	}
	return NULL;
}

static bool is_feature(uint32_t fid)
{
	switch (fid) {
	case HYP_PSCI_VERSION:
	case HYP_PSCI_CPU_SUSPEND_32:
	case HYP_PSCI_CPU_SUSPEND_64:
	case HYP_PSCI_CPU_OFF:
	case HYP_PSCI_CPU_ON_32:
	case HYP_PSCI_CPU_ON_64:
	case HYP_PSCI_AFFINITY_INFO_32:
	case HYP_PSCI_AFFINITY_INFO_64:
	case HYP_PSCI_MIGRATE_INFO_TYPE:
	case HYP_PSCI_SYSTEM_OFF:
	case HYP_PSCI_SYSTEM_RESET:
	case HYP_PSCI_SYSTEM_RESET2_32:
	case HYP_PSCI_SYSTEM_RESET2_64:
	case HYP_PSCI_FEATURES:
	case HYP_SMCCC_VERSION:
		return true;
	default:
		return false;
	}
}

static bool entry_ok(uint64_t e)
{
	return !(e & 3) && e >= RAM_X && e < RAM_X + RAM_SIZE;
}

/* What the model expects of a call. */
enum outcome { RESULT, UNHANDLED, CPU_OFF_DONE, SYS_OFF, SYS_RESET };

static enum outcome model_call(struct cpu *cpus, int n, int caller, uint32_t fid, uint16_t imm,
			       const uint64_t *a, int64_t *ret)
{
	bool is64 = fid & HYP_SMCCC_64BIT;
	uint64_t x1 = is64 ? a[0] : (uint32_t)a[0], x2 = is64 ? a[1] : (uint32_t)a[1];
	uint64_t x3 = is64 ? a[2] : (uint32_t)a[2];
	bool psci = (fid >= 0x84000000u && fid <= 0x8400001fu) ||
		    (fid >= 0xc4000000u && fid <= 0xc400001fu);
	int i;

	(void)caller;
	if (imm)
		return UNHANDLED;
	if (fid == HYP_SMCCC_VERSION) {
		*ret = 0x10001;
		return RESULT;
	}
	if (fid == HYP_SMCCC_ARCH_FEATURES) {
		uint32_t f = (uint32_t)x1;

		*ret = (f == HYP_SMCCC_VERSION || f == HYP_SMCCC_ARCH_FEATURES) ? 0 : -1;
		return RESULT;
	}
	if (!psci)
		return UNHANDLED;
	switch (fid) {
	case HYP_PSCI_VERSION:
		*ret = 0x10001;
		return RESULT;
	case HYP_PSCI_CPU_SUSPEND_32:
	case HYP_PSCI_CPU_SUSPEND_64:
		/* Original power_state format: bits [31:26] and [23:17] reserved. */
		*ret = ((uint32_t)x1 & 0xfcfe0000u) ? HYP_PSCI_INVALID_PARAMETERS : 0;
		return RESULT;
	case HYP_PSCI_CPU_OFF:
		return CPU_OFF_DONE;
	case HYP_PSCI_CPU_ON_32:
	case HYP_PSCI_CPU_ON_64:
		*ret = HYP_PSCI_INVALID_PARAMETERS;
		if (x1 & ~AFF_MASK)
			return RESULT;
		for (i = 0; i < n && cpus[i].mpidr != x1; i++)
			;
		if (i == n)
			return RESULT;
		if (!entry_ok(x2))
			*ret = HYP_PSCI_INVALID_ADDRESS;
		else if (cpus[i].power == ON)
			*ret = HYP_PSCI_ALREADY_ON;
		else if (cpus[i].power == STARTING)
			*ret = HYP_PSCI_ON_PENDING;
		else {
			*ret = 0;
			cpus[i].power = STARTING;
			cpus[i].entry = x2;
			cpus[i].ctx = x3;
		}
		return RESULT;
	case HYP_PSCI_AFFINITY_INFO_32:
	case HYP_PSCI_AFFINITY_INFO_64: {
		static const uint64_t masks[4] = { 0xff00ffffffull, 0xff00ffff00ull,
						   0xff00ff0000ull, 0xff00000000ull };
		uint32_t level = (uint32_t)x2;
		bool found = false, on = false, pending = false;

		*ret = HYP_PSCI_INVALID_PARAMETERS;
		if ((x1 & ~AFF_MASK) || level > 3)
			return RESULT;
		for (i = 0; i < n; i++) {
			if ((cpus[i].mpidr & masks[level]) != (x1 & masks[level]))
				continue;
			found = true;
			on |= cpus[i].power == ON;
			pending |= cpus[i].power == STARTING;
		}
		if (found)
			*ret = on ? 0 : pending ? 2 : 1;
		return RESULT;
	}
	case HYP_PSCI_MIGRATE_INFO_TYPE:
		*ret = 2; /* Trusted OS not present or does not require migration */
		return RESULT;
	case HYP_PSCI_SYSTEM_OFF:
		return SYS_OFF;
	case HYP_PSCI_SYSTEM_RESET:
		return SYS_RESET;
	case HYP_PSCI_SYSTEM_RESET2_32:
	case HYP_PSCI_SYSTEM_RESET2_64:
		if (((uint32_t)x1 & (1u << 31)) || (uint32_t)x1 == 0)
			return SYS_RESET;
		*ret = HYP_PSCI_INVALID_PARAMETERS;
		return RESULT;
	case HYP_PSCI_FEATURES:
		*ret = is_feature((uint32_t)x1) ? 0 : HYP_PSCI_NOT_SUPPORTED;
		return RESULT;
	default:
		*ret = HYP_PSCI_NOT_SUPPORTED;
		return RESULT;
	}
}

static uint64_t reg(struct hyp_vcpu *v, unsigned int r)
{
	uint64_t x = 0xdead;

	FUZZ_CHECK(hyp_vcpu_get_reg(v, (enum hyp_reg)r, &x) == 0, "get_reg");
	return x;
}

static uint64_t gen_arg(struct fuzz_in *in, const struct cpu *cpus, int n)
{
	uint8_t s = fuzz_u8(in);

	switch (s & 7) {
	case 0:
	case 1:
		return cpus[(s >> 3) % n].mpidr;
	case 2:
		return RAM_X + (fuzz_u16(in) & ~3u);
	case 3:
		return RAM_NX + (fuzz_u16(in) & ~3u);
	case 4:
		return s >> 3;
	case 5:
		return RAM_X + fuzz_u16(in);
	default:
		return fuzz_u64(in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct fuzz_in in = { data, size };
	struct hyp_vm_config vcfg = { .size = sizeof(vcfg), .backend = "mock" };
	struct cpu cpus[NCPU_MAX];
	struct hyp_vm *vm;
	uint8_t shape = fuzz_u8(&in);
	int n = 2 + shape % 3, steps = 0;
	bool over = false;

	if (!ram) {
		ram = aligned_alloc(4096, 2 * RAM_SIZE);
		FUZZ_CHECK(ram, "out of memory");
	}
	FUZZ_CHECK(hyp_vm_create(&vcfg, &vm) == 0, "hyp_vm_create");
	FUZZ_CHECK(!hyp_vm_map(vm, RAM_X, ram, RAM_SIZE, HYP_MEM_RWX) &&
			   !hyp_vm_map(vm, RAM_NX, ram + RAM_SIZE, RAM_SIZE,
				       HYP_MEM_READ | HYP_MEM_WRITE),
		   "map");
	for (int i = 0; i < n; i++) {
		struct hyp_vcpu_config c = { .size = sizeof(c), .index = (uint32_t)i };
		uint8_t b = fuzz_u8(&in);

		c.mpidr = (shape & 0x80) ? mpidr_pool[b & 7] : 0;
		c.power = (b >> 3) % 3;
		if (hyp_vcpu_create(vm, &c, &cpus[i].vcpu)) {
			/* A duplicate MPIDR: refused, and not what this harness is about. */
			hyp_vm_destroy(vm);
			return 0;
		}
		cpus[i].mpidr = hyp_backend_vcpu_mpidr(cpus[i].vcpu);
		cpus[i].power = (c.power == HYP_VCPU_POWER_ON ||
				 (c.power == HYP_VCPU_POWER_DEFAULT && i == 0)) ?
					ON :
					OFF;
		hyp_vcpu_set_reg(cpus[i].vcpu, HYP_REG_PC, RAM_X);
	}

	while (!over && !fuzz_done(&in) && steps++ < 64) {
		uint8_t w = fuzz_u8(&in), f = fuzz_u8(&in);
		int c = w % n;
		struct cpu *cpu = &cpus[c];
		uint32_t fid = (f & 0x80) ? fuzz_u32(&in) :
					    fids[f % (sizeof(fids) / sizeof(fids[0]))];
		uint16_t imm = (w & 0x80) ? fuzz_u16(&in) : 0;
		uint32_t conduit = (w & 0x40) ? HYP_CONDUIT_SMC : HYP_CONDUIT_HVC;
		uint64_t args[7];
		struct kicker k = { .vcpu = cpu->vcpu };
		pthread_t th;
		enum outcome o;
		int64_t want = 0;
		struct hyp_exit *exit;
		int r;

		for (int i = 0; i < 7; i++)
			args[i] = i < 3 ? gen_arg(&in, cpus, n) : 0x1111ull * (uint64_t)i;
		for (int i = 0; i < n; i++)
			FUZZ_CHECK(hyp_vcpu_is_powered_on(cpus[i].vcpu) == (cpus[i].power != OFF),
				   "vCPU %d powered on %d, model %d", i,
				   hyp_vcpu_is_powered_on(cpus[i].vcpu), cpus[i].power);
		if (cpu->power == OFF)
			continue; /* would wait for CPU_ON forever */
		if (cpu->power == STARTING) {
			/* Its first run starts it where CPU_ON said, with the context in X0. */
			FUZZ_CHECK(hyp_vcpu_run(cpu->vcpu) == -ENODATA, "starting vCPU %d ran", c);
			FUZZ_CHECK(reg(cpu->vcpu, HYP_REG_PC) == cpu->entry &&
					   reg(cpu->vcpu, HYP_REG_X0) == cpu->ctx,
				   "vCPU %d started at %#llx x0 %#llx, model %#llx %#llx", c,
				   (unsigned long long)reg(cpu->vcpu, HYP_REG_PC),
				   (unsigned long long)reg(cpu->vcpu, HYP_REG_X0),
				   (unsigned long long)cpu->entry, (unsigned long long)cpu->ctx);
			cpu->power = ON;
			continue;
		}

		o = model_call(cpus, n, c, fid, imm, args, &want);
		FUZZ_CHECK(hyp_mock_push_smccc(cpu->vcpu, conduit, imm, fid, args) == 0, "push");
		if (o == CPU_OFF_DONE) {
			atomic_init(&k.stop, false);
			FUZZ_CHECK(pthread_create(&th, NULL, kicker_main, &k) == 0, "thread");
		}
		r = hyp_vcpu_run(cpu->vcpu);
		exit = hyp_vcpu_exit(cpu->vcpu);
		if (o == CPU_OFF_DONE) {
			atomic_store(&k.stop, true);
			pthread_join(th, NULL);
			FUZZ_CHECK(r == 0 && exit->reason == HYP_EXIT_KICKED,
				   "CPU_OFF: run %d reason %u", r, exit->reason);
			cpu->power = OFF;
			continue;
		}
		switch (o) {
		case SYS_OFF:
		case SYS_RESET:
			FUZZ_CHECK(r == 0 && exit->reason == HYP_EXIT_SYSTEM_EVENT &&
					   exit->system_event.type ==
						   (o == SYS_OFF ? HYP_SYSTEM_EVENT_OFF :
								   HYP_SYSTEM_EVENT_RESET),
				   "fid %#x: run %d reason %u", fid, r, exit->reason);
			over = true;
			break;
		case UNHANDLED:
			FUZZ_CHECK(r == 0 && exit->reason == HYP_EXIT_SMCCC &&
					   exit->smccc.function_id == fid &&
					   exit->smccc.imm == imm && exit->smccc.conduit == conduit,
				   "fid %#x imm %u: run %d reason %u", fid, imm, r, exit->reason);
			/* Not answered: the guest gets NOT_SUPPORTED and its X1..X3 back. */
			FUZZ_CHECK(hyp_vcpu_run(cpu->vcpu) == -ENODATA, "resume");
			FUZZ_CHECK(reg(cpu->vcpu, HYP_REG_X0) == UINT64_MAX &&
					   reg(cpu->vcpu, HYP_REG_X0 + 1) == args[0],
				   "unanswered fid %#x: x0 %#llx", fid,
				   (unsigned long long)reg(cpu->vcpu, HYP_REG_X0));
			break;
		default:
			FUZZ_CHECK(r == -ENODATA, "fid %#x: run %d reason %u", fid, r,
				   exit->reason);
			FUZZ_CHECK(reg(cpu->vcpu, HYP_REG_X0) == (uint64_t)want,
				   "vCPU %d fid %#x (%#llx, %#llx, %#llx): x0 %#llx, model %#llx",
				   c, fid, (unsigned long long)args[0], (unsigned long long)args[1],
				   (unsigned long long)args[2],
				   (unsigned long long)reg(cpu->vcpu, HYP_REG_X0),
				   (unsigned long long)want);
			for (unsigned int i = 1; i < 4; i++)
				FUZZ_CHECK(reg(cpu->vcpu, HYP_REG_X0 + i) == 0,
					   "fid %#x: x%u not zeroed", fid, i);
			break;
		}
	}
	hyp_vm_destroy(vm);
	return 0;
}
