/* SPDX-License-Identifier: MIT */
/*
 * Guest accesses to KVM's in-kernel GICv3 that the library emulated.
 *
 * KVM serves guest accesses to its vGIC distributor and redistributors inside the kernel, but only
 * those with an instruction syndrome: an LDP, a post-index LDR or any other form without one
 * (ESR_EL2.ISS.ISV = 0) leaves the kernel as KVM_EXIT_ARM_NISV, the library emulates it
 * (lib/core/emulate.c) and each element ends up here. We perform it through the vGIC's register
 * interface for userspace (Documentation/virt/kvm/devices/arm-vgic-v3.rst,
 * KVM_DEV_ARM_VGIC_GRP_DIST_REGS / _REDIST_REGS): 32-bit registers addressed by offset, and for a
 * redistributor the target's affinity in attr[63:32].
 *
 * KVM refuses that interface with -EBUSY while any vCPU of the VM is inside KVM_RUN (it needs all
 * vCPU mutexes), so the accessing thread stops the world: it holds every other vCPU out of
 * KVM_RUN (hyp__kvm_run_enter() makes them wait), kicks those inside, performs the access and lets
 * them go. Emulated GIC accesses are rare (guests use plain LDR/STR for device registers almost
 * always), so the cost is acceptable where the alternative is an abort.
 *
 * Widths (GICv3 architecture specification, IHI 0069, 12.1.3 "GIC register access"): 32-bit
 * accesses as they are; 64-bit accesses as two 32-bit halves, low first; byte accesses only to the
 * byte-accessible priority (and legacy target) registers, by read-modify-write of their word, and
 * reading as the byte of the word elsewhere; halfword and unaligned accesses, which the GIC does
 * not support, read as zero and ignore writes. Known difference from the guest's own interface:
 * KVM reports GICD_ISPENDR/ICPENDR reads through this interface as the pending latch, without the
 * level of level-sensitive inputs.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <linux/kvm.h>

#include "internal.h"
#include "kvm-internal.h"

#define GICD_SIZE 0x10000u
#define GICR_STRIDE 0x20000u /* RD_base + SGI_base frames */
#define GICD_IPRIORITYR 0x400u
#define GICD_ITARGETSR_END 0xc00u /* IPRIORITYR 0x400..0x7ff, ITARGETSR 0x800..0xbff */
#define GICR_SGI_IPRIORITYR 0x10400u
#define GICR_SGI_IPRIORITYR_END 0x10420u

/* How long an accessing vCPU waits for the others to leave the guest, and KVM to accept. */
#define STOP_WORLD_TIMEOUT_NS 2000000000ll
#define KICK_INTERVAL_NS 1000000ll

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* hyp__kvm_run_enter() found the world stopped. */
bool hyp__kvm_run_enter_slow(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(vcpu->vm);
	struct timespec until;

	atomic_store(&vcpu_state(vcpu)->in_run, false);
	/* Held back: wait until the world restarts, but stay prompt for a kick (the backend
	 * contract of vcpu_enter). */
	pthread_mutex_lock(&k->pause_lock);
	while (atomic_load(&k->pausers) && !hyp_backend_vcpu_kick_pending(vcpu)) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&k->pause_cond, &k->pause_lock, &until);
	}
	pthread_mutex_unlock(&k->pause_lock);
	return false;
}

/* Every other vCPU out of KVM_RUN, and held out until restart_world(). The kick signal is sent
 * again every millisecond, not in a tight loop: it is a real-time signal, and a storm of queued
 * ones would keep the vCPU threads busy in their handler. */
static int stop_world(struct hyp_vcpu *self)
{
	struct hyp_vm *vm = self->vm;
	struct kvm_vm_state *k = vm_state(vm);
	int64_t start = now_ns(), next_kick = start;

	atomic_fetch_add(&k->pausers, 1);
	for (;;) {
		int64_t t = now_ns();
		unsigned running = 0;
		bool kick = t >= next_kick;

		for (uint32_t i = 0; i < vm->max_vcpus; i++) {
			struct hyp_vcpu *v = hyp__vm_vcpu(vm, i);

			if (!v || v == self || !atomic_load(&vcpu_state(v)->in_run))
				continue;
			running++;
			if (kick && atomic_load(&vcpu_state(v)->tid))
				hyp__kvm_vcpu_kick(v);
		}
		if (!running)
			return 0;
		if (kick)
			next_kick = t + KICK_INTERVAL_NS;
		if (t - start > STOP_WORLD_TIMEOUT_NS) {
			hyp_vm_log(vm, HYP_LOG_WARNING,
				   "kvm: %u vCPU(s) did not leave KVM_RUN for a vGIC access",
				   running);
			return -EBUSY;
		}
		sched_yield();
	}
}

static void restart_world(struct hyp_vcpu *self)
{
	struct kvm_vm_state *k = vm_state(self->vm);

	pthread_mutex_lock(&k->pause_lock);
	atomic_fetch_sub(&k->pausers, 1);
	pthread_cond_broadcast(&k->pause_cond);
	pthread_mutex_unlock(&k->pause_lock);
}

/* One 32-bit vGIC register. KVM also says -EBUSY while another thread of ours holds a vCPU mutex
 * for a moment (a register access on its own exit path): try again, within the deadline. */
static int reg32(struct kvm_vm_state *k, uint32_t group, uint64_t attr, uint32_t *value, bool write)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uintptr_t)value };
	int64_t deadline = now_ns() + STOP_WORLD_TIMEOUT_NS;

	for (;;) {
		if (!ioctl(k->vgic_fd, write ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a))
			return 0;
		if (errno != EBUSY || now_ns() > deadline)
			return sys_err();
		sched_yield();
	}
}

/* The vGIC attribute interface's affinity field: Aff3.Aff2.Aff1.Aff0 in attr[63:32]. */
static uint64_t attr_mpidr(uint64_t mpidr)
{
	uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 8) & 0xff000000);

	return aff << 32;
}

/* The vCPU whose redistributor KVM put in frame @frame: KVM hands out frames in the order vCPUs
 * are created (vgic_register_redist_iodev()), which threads creating their own vCPUs do not
 * keep in index order. */
static struct hyp_vcpu *redist_owner(struct hyp_vm *vm, uint32_t frame)
{
	for (uint32_t i = 0; i < vm->max_vcpus; i++) {
		struct hyp_vcpu *v = hyp__vm_vcpu(vm, i);

		if (v && vcpu_state(v)->redist_frame == frame)
			return v;
	}
	return NULL;
}

static bool byte_accessible(uint32_t group, uint64_t off)
{
	if (group == KVM_DEV_ARM_VGIC_GRP_DIST_REGS)
		return off >= GICD_IPRIORITYR && off < GICD_ITARGETSR_END;
	return off >= GICR_SGI_IPRIORITYR && off < GICR_SGI_IPRIORITYR_END;
}

static int access_locked(struct kvm_vm_state *k, uint32_t group, uint64_t mpidr, uint64_t off,
			 struct hyp_mmio_access *a)
{
	uint64_t word_off = off & ~UINT64_C(3);
	uint32_t lo = 0, hi = 0;
	unsigned shift = (unsigned)(off & 3) * 8;
	int r;

	switch (a->len) {
	case 8:
		if (a->is_write) {
			lo = (uint32_t)a->data;
			hi = (uint32_t)(a->data >> 32);
			r = reg32(k, group, mpidr | word_off, &lo, true);
			return r ? r : reg32(k, group, mpidr | (word_off + 4), &hi, true);
		}
		r = reg32(k, group, mpidr | word_off, &lo, false);
		if (!r)
			r = reg32(k, group, mpidr | (word_off + 4), &hi, false);
		a->data = (uint64_t)hi << 32 | lo;
		return r;
	case 4:
		if (a->is_write) {
			lo = (uint32_t)a->data;
			return reg32(k, group, mpidr | word_off, &lo, true);
		}
		r = reg32(k, group, mpidr | word_off, &lo, false);
		a->data = lo;
		return r;
	case 1:
		r = reg32(k, group, mpidr | word_off, &lo, false);
		if (r || !a->is_write) {
			a->data = (lo >> shift) & 0xff;
			return r;
		}
		if (!byte_accessible(group, off))
			return 0; /* a byte write elsewhere is ignored */
		lo = (lo & ~(0xffu << shift)) | ((uint32_t)(a->data & 0xff) << shift);
		return reg32(k, group, mpidr | word_off, &lo, true);
	default:
		if (!a->is_write)
			a->data = 0;
		return 0;
	}
}

int hyp__kvm_vgic_access(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a)
{
	struct hyp_vm *vm = vcpu->vm;
	struct kvm_vm_state *k = vm_state(vm);
	uint32_t group;
	uint64_t off, mpidr = 0;
	int r;

	if (k->vgic_fd < 0)
		return -ENOENT;
	if (a->ipa >= vm->gicd_base && a->ipa - vm->gicd_base < GICD_SIZE) {
		group = KVM_DEV_ARM_VGIC_GRP_DIST_REGS;
		off = a->ipa - vm->gicd_base;
	} else if (a->ipa >= vm->gicr_base &&
		   a->ipa - vm->gicr_base < (uint64_t)GICR_STRIDE * vm->max_vcpus) {
		struct hyp_vcpu *target =
			redist_owner(vm, (uint32_t)((a->ipa - vm->gicr_base) / GICR_STRIDE));

		/* KVM places a redistributor for each vCPU that exists. */
		if (!target)
			return -ENOENT;
		group = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
		off = (a->ipa - vm->gicr_base) % GICR_STRIDE;
		mpidr = attr_mpidr(hyp_backend_vcpu_mpidr(target));
	} else {
		return -ENOENT;
	}
	/* Unaligned: not supported by the GIC (RAZ/WI). */
	if (off & (a->len - 1u)) {
		if (!a->is_write)
			a->data = 0;
		return 0;
	}
	r = stop_world(vcpu);
	if (!r)
		r = access_locked(k, group, mpidr, off, a);
	restart_world(vcpu);
	return r;
}
