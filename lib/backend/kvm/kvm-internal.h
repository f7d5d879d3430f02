/* SPDX-License-Identifier: MIT */
/*
 * Private to the kvm backend (lib/backend/kvm/): per-VM and per-vCPU state shared by kvm.c (the
 * VM, vCPUs, run loop) and kvm-vgic.c (guest accesses to the in-kernel GIC that the library
 * emulated).
 */
#ifndef HYP_KVM_INTERNAL_H
#define HYP_KVM_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include <libhyp/backend.h>

#include "internal.h"

struct kvm_vm_state {
	int kvm_fd;
	int vm_fd;
	int vgic_fd;
	int kick_signal;
	size_t run_size;
	uint32_t nr_irqs;
	uint32_t cpu_features;
	uint32_t sve_max_vq; /* 0: every vector length the host has */
	/* KVM_CHECK_EXTENSION answers asked on first use (kvm_cap_lazy()): 0 not yet asked, 1 no,
	 * 2 yes. Creation only asks what it needs itself. */
	_Atomic int8_t readonly_mem;
	_Atomic int8_t nisv_to_user; /* as readonly_mem, but enabled (kvm_nisv_enable()) */
	_Atomic int8_t inject_dabt;
	_Atomic int8_t smccc_filter;  /* KVM_ARM_VM_SMCCC_FILTER exists: as readonly_mem */
	_Atomic bool smccc_installed; /* the filter is final: a vCPU is about to run */
	pthread_mutex_t vgic_lock;
	_Atomic bool vgic_ready;
	/* "Stop the world" for vGIC register accesses through the device attribute interface,
	 * which KVM refuses (-EBUSY) while any vCPU is inside KVM_RUN (kvm-vgic.c): the number of
	 * threads that need every vCPU out of the guest, and where held-back vCPUs wait. */
	_Atomic unsigned pausers;
	/* KVM_CREATE_VCPU calls that succeeded: KVM gives each new vCPU the next redistributor
	 * frame of the region, in creation order, whatever its vCPU id. */
	_Atomic uint32_t vcpus_created;
	/* The dirty ring's size per vCPU (0: none), and the vCPU the next harvest starts with
	 * (kvm-dirty.c, under the library's ring lock). */
	uint32_t ring_entries;
	uint32_t ring_next;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	/* Deferred MMIO writes (kvm-coalesced.c): zones registered, the ring's page in the vCPU
	 * mapping, the host's page size, and who empties the ring. */
	_Atomic uint32_t coalesced_zones;
	uint32_t coalesced_page;
	size_t page_size;
	pthread_mutex_t coalesced_lock;
};

struct kvm_vcpu_state {
	int fd;
	struct kvm_run *run;
	/* PMUv3 set up after the vGIC is initialised (KVM requires that order). */
	bool pmu_pending;
	/* Added to the PC on reads while KVM still has to retire an MMIO access (kvm_set_reg()). */
	uint64_t pc_bias;
	/* The thread inside vcpu_enter (0 otherwise): where a kick sends its signal. */
	_Atomic pid_t tid;
	/* Which frame of the redistributor region KVM gave this vCPU (kvm-vgic.c). */
	uint32_t redist_frame;
	/* Inside KVM_RUN, or about to enter it (hyp__kvm_run_enter()). */
	_Atomic bool in_run;
	/* X1..X3 at the last SMCCC exit (kvm-smccc.c): results equal to them need no ioctl. */
	uint64_t smccc_x[4];
	/* This vCPU's dirty ring, mapped from its fd (NULL: none), and the index of the next
	 * entry to harvest (kvm-dirty.c, under the library's ring lock). */
	struct kvm_dirty_gfn *gfns;
	uint32_t ring_fetch;
};

static inline struct kvm_vm_state *vm_state(struct hyp_vm *vm)
{
	return hyp_backend_vm_state(vm);
}

static inline struct kvm_vcpu_state *vcpu_state(struct hyp_vcpu *vcpu)
{
	return hyp_backend_vcpu_state(vcpu);
}

/*
 * The libhyp error for the system call that just failed: -ENOMEM keeps its meaning (the host is
 * out of memory, as libhyp's own allocations say), anything else is -HYP_EHOST(errno), so that a
 * host's EFAULT or ENOENT is never read as libhyp's -EFAULT or -ENOENT (libhyp/error.h). Callers
 * that give a host errno a libhyp meaning test errno themselves first.
 */
static inline int sys_err(void)
{
	int e = errno ? errno : EIO;

	return e == ENOMEM ? -ENOMEM : -HYP_EHOST(e);
}

/* kvm-regs.c: registers through KVM_{GET,SET}_ONE_REG. */
uint64_t hyp__kvm_core_reg_id(size_t offset);
int hyp__kvm_get_one_reg(struct kvm_vcpu_state *kv, uint64_t id, uint64_t *value);
int hyp__kvm_set_one_reg(struct kvm_vcpu_state *kv, uint64_t id, uint64_t value);
int hyp__kvm_get_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value);
int hyp__kvm_set_reg(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value);
int hyp__kvm_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value);
int hyp__kvm_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value);
int hyp__kvm_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs);
int hyp__kvm_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs);

/* kvm-smccc.c: SMCCC calls to the VMM through KVM's SMCCC filter. */
bool hyp__kvm_smccc_filter(struct kvm_vm_state *k);
int hyp__kvm_smccc_route(struct hyp_vm *vm, uint32_t conduits, uint32_t first, uint32_t last,
			 bool add);
int hyp__kvm_smccc_install(struct hyp_vm *vm);
int hyp__kvm_smccc_exit(struct hyp_vcpu *vcpu, struct kvm_run *run, struct hyp_exit *exit);
int hyp__kvm_smccc_complete(struct hyp_vcpu *vcpu, const struct hyp_exit *exit);

/* kvm-dirty.c: dirty-page logging through KVM's memslot log. */
bool hyp__kvm_dirty_log_supported(void);
int hyp__kvm_dirty_log_enable(struct hyp_vm *vm, const struct hyp_mem_region *region, bool enable);
uint32_t hyp__kvm_dirty_ring_max(struct kvm_vm_state *k);
int hyp__kvm_dirty_ring_enable(struct hyp_vm *vm, uint32_t entries);
int hyp__kvm_dirty_ring_map(struct hyp_vm *vm, struct kvm_vcpu_state *kv);
void hyp__kvm_dirty_ring_unmap(struct hyp_vcpu *vcpu);
int hyp__kvm_dirty_ring_full(struct hyp_vcpu *vcpu);
int hyp__kvm_dirty_ring_harvest(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max);
int hyp__kvm_dirty_log_fetch(struct hyp_vm *vm, const struct hyp_mem_region *region,
			     uint64_t *bitmap);

/* kvm-coalesced.c: deferred MMIO writes through KVM's coalesced MMIO ring. */
int hyp__kvm_mmio_defer(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size, bool on);
void hyp__kvm_coalesced_drain_slow(struct hyp_vcpu *vcpu);
void hyp__kvm_coalesced_release(struct hyp_vcpu *vcpu);

/* Deliver the deferred writes KVM collected, before the exit that follows is handled. */
static inline void hyp__kvm_coalesced_drain(struct hyp_vcpu *vcpu)
{
	if (atomic_load_explicit(&vm_state(hyp_vcpu_vm(vcpu))->coalesced_zones,
				 memory_order_relaxed))
		hyp__kvm_coalesced_drain_slow(vcpu);
}

/* kvm.c: kick one vCPU out of KVM_RUN (async-signal-safe). */
int hyp__kvm_vcpu_kick(struct hyp_vcpu *vcpu);

/* kvm-vgic.c */
/* Perform @access, a guest load or store the library emulated, on the in-kernel GICv3 if it falls
 * in its distributor or a redistributor: 0 (read data in access->data), -ENOENT if the address is
 * not the GIC's, another negative errno if KVM refused. */
int hyp__kvm_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret);
void hyp__kvm_ram_free(struct hyp_vm *vm, void *host, uint64_t size, uint32_t flags);
int hyp__kvm_vgic_access(struct hyp_vcpu *vcpu, struct hyp_mmio_access *access);
bool hyp__kvm_run_enter_slow(struct hyp_vcpu *vcpu);

/*
 * Around KVM_RUN: a vCPU must not enter the guest while another thread holds the world stopped.
 * A Dekker pair with stop_world(): the vCPU publishes in_run, then reads pausers; the pauser
 * raises pausers, then reads every in_run. Sequentially consistent accesses (STLR then LDAR on
 * arm64: two instructions, no barrier, no call) make at least one of them see the other. This is
 * on every exit's path: keep it in line.
 */
static inline bool hyp__kvm_run_enter(struct hyp_vcpu *vcpu)
{
	struct kvm_vcpu_state *kv = vcpu->backend_state;
	struct kvm_vm_state *k = vcpu->vm->backend_state;

	atomic_store_explicit(&kv->in_run, true, memory_order_seq_cst);
	if (__builtin_expect(!atomic_load_explicit(&k->pausers, memory_order_seq_cst), 1))
		return true;
	return hyp__kvm_run_enter_slow(vcpu);
}

static inline void hyp__kvm_run_exit(struct hyp_vcpu *vcpu)
{
	struct kvm_vcpu_state *kv = vcpu->backend_state;

	atomic_store_explicit(&kv->in_run, false, memory_order_release);
}

#endif /* HYP_KVM_INTERNAL_H */
