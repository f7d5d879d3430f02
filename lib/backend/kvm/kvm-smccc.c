/* SPDX-License-Identifier: MIT */
/*
 * SMCCC calls to the VMM on kvm: KVM's SMCCC filter (Linux 6.4+, Documentation/virt/kvm/devices/
 * vm.rst, KVM_ARM_VM_SMCCC_CTRL).
 *
 * Without the filter KVM answers every HVC and SMC in the kernel (PSCI, its own services,
 * NOT_SUPPORTED for the rest), so a VMM never sees one: HYP_CAP_SMCCC_HVC_EXITS/SMC_EXITS are 0
 * and hyp_vm_add_smccc_handler() says -ENOTSUP. With it, a function-ID range whose action is
 * KVM_SMCCC_FILTER_FWD_TO_USER exits to userspace as KVM_EXIT_HYPERCALL (function ID in
 * hypercall.nr, the conduit in hypercall.flags, arguments in the guest's X1..X7), on both
 * conduits. The exit becomes the same HYP_EXIT_SMCCC record the el2 and mock backends decode from
 * ESR_EL2, so the core dispatches it the same way (handler ranges, generic callback, caller).
 *
 * KVM lets the filter change only until a vCPU first runs, and never removes a range, so the
 * ranges registered by then are installed at the first run and later changes are refused
 * (-EBUSY). KVM keeps the Arm architecture calls (SMCCC_VERSION, ARCH_FEATURES, the workaround
 * calls; owner 0, SMC32 and SMC64) to itself and refuses a filter on them (-EEXIST), as it keeps
 * the Spectre mitigation state it reports honest: such ranges are refused here up front.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <libhyp/backend.h>

#include "internal.h"
#include "kvm-internal.h"

/* The UAPI of Linux 6.4 (include/uapi/linux/kvm.h, arch/arm64/include/uapi/asm/kvm.h), for
 * builds against older headers (Debian 12 ships 6.1's). */
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL 0
#define KVM_ARM_VM_SMCCC_FILTER 0
#endif
#ifndef KVM_SMCCC_FILTER_FWD_TO_USER
#define KVM_SMCCC_FILTER_FWD_TO_USER 2
#endif
#ifndef KVM_HYPERCALL_EXIT_SMC
#define KVM_HYPERCALL_EXIT_SMC (1u << 0)
#endif

/* struct kvm_smccc_filter, the same layout under our own name. */
struct kvm_smccc_filter_abi {
	uint32_t base;
	uint32_t nr_functions;
	uint8_t action;
	uint8_t pad[15];
};

/* The Arm architecture calls, owner 0 (SMCCC 1.4 section 6): KVM's own. */
static const struct {
	uint32_t first, last;
} kvm_reserved[] = {
	{ 0x80000000u, 0x8000ffffu }, /* SMC32/HVC32 */
	{ 0xc0000000u, 0xc000ffffu }, /* SMC64/HVC64 */
};

/* Asked on first use, not at creation: most VMs never route an SMCCC call to the VMM, and those
 * that do not need not pay the ioctl. Racing askers get and store the same answer. */
bool hyp__kvm_smccc_filter(struct kvm_vm_state *k)
{
	struct kvm_device_attr attr = { .group = KVM_ARM_VM_SMCCC_CTRL,
					.attr = KVM_ARM_VM_SMCCC_FILTER };
	int8_t v = atomic_load_explicit(&k->smccc_filter, memory_order_relaxed);

	if (!v) {
		/* Linux 6.1 has no VM-level device attributes on arm64: the ioctl fails there. */
		v = ioctl(k->vm_fd, KVM_HAS_DEVICE_ATTR, &attr) == 0 ? 2 : 1;
		atomic_store_explicit(&k->smccc_filter, v, memory_order_relaxed);
	}
	return v == 2;
}

int hyp__kvm_smccc_route(struct hyp_vm *vm, uint32_t conduits, uint32_t first, uint32_t last,
			 bool add)
{
	struct kvm_vm_state *k = vm_state(vm);

	(void)conduits; /* KVM filters function IDs, whatever the conduit */
	if (!hyp__kvm_smccc_filter(k)) {
		hyp_vm_log(vm, HYP_LOG_ERROR,
			   "kvm: SMCCC calls %#x-%#x cannot reach the VMM: this KVM has no SMCCC "
			   "filter (Linux 6.4+)",
			   first, last);
		return -ENOTSUP;
	}
	if (atomic_load_explicit(&k->smccc_installed, memory_order_acquire)) {
		hyp_vm_log(vm, HYP_LOG_ERROR,
			   "kvm: the SMCCC filter is fixed once a vCPU has run (%#x-%#x)", first,
			   last);
		return -EBUSY;
	}
	if (!add)
		return 0;
	for (size_t i = 0; i < sizeof(kvm_reserved) / sizeof(kvm_reserved[0]); i++) {
		if (first <= kvm_reserved[i].last && kvm_reserved[i].first <= last) {
			hyp_vm_log(vm, HYP_LOG_ERROR,
				   "kvm: SMCCC calls %#x-%#x overlap the Arm architecture calls "
				   "%#x-%#x, which KVM keeps",
				   first, last, kvm_reserved[i].first, kvm_reserved[i].last);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int install_range(struct hyp_vm *vm, struct kvm_vm_state *k, uint32_t first, uint32_t last)
{
	struct kvm_smccc_filter_abi filter = { .base = first,
					       .nr_functions = last - first + 1,
					       .action = KVM_SMCCC_FILTER_FWD_TO_USER };
	struct kvm_device_attr attr = { .group = KVM_ARM_VM_SMCCC_CTRL,
					.attr = KVM_ARM_VM_SMCCC_FILTER,
					.addr = (uint64_t)(uintptr_t)&filter };

	if (ioctl(k->vm_fd, KVM_SET_DEVICE_ATTR, &attr)) {
		int r = sys_err();

		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: SMCCC filter %#x-%#x refused: %s", first, last,
			   hyp_strerror(r));
		return r;
	}
	return 0;
}

int hyp__kvm_smccc_install(struct hyp_vm *vm)
{
	struct kvm_vm_state *k = vm_state(vm);
	const struct hyp_smccc_range *ranges = vm->smccc.data;
	int r = 0;

	pthread_mutex_lock(&k->vgic_lock); /* the VM's one-time setup lock */
	if (atomic_load(&k->smccc_installed))
		goto out;
	if (vm->smccc.count && hyp__kvm_smccc_filter(k)) {
		/* The ranges are sorted by first ID; HVC and SMC ranges may overlap, KVM's may not:
		 * install their union. None is empty or covers all 2^32 IDs (route() refused the
		 * reserved ranges), so the counts fit. */
		uint32_t first = ranges[0].first, last = ranges[0].last;

		for (uint32_t i = 1; i < vm->smccc.count && !r; i++) {
			if (ranges[i].first <= last || ranges[i].first == last + 1) {
				if (ranges[i].last > last)
					last = ranges[i].last;
				continue;
			}
			r = install_range(vm, k, first, last);
			first = ranges[i].first;
			last = ranges[i].last;
		}
		if (!r)
			r = install_range(vm, k, first, last);
	}
	if (!r)
		atomic_store_explicit(&k->smccc_installed, true, memory_order_release);
out:
	pthread_mutex_unlock(&k->vgic_lock);
	return r;
}

int hyp__kvm_smccc_exit(struct hyp_vcpu *vcpu, struct kvm_run *run, struct hyp_exit *exit)
{
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	struct hyp_smccc_call *call = &exit->smccc;
	uint32_t fid = (uint32_t)run->hypercall.nr;
	/* SMC32/HVC32 calls pass W1..W7 (SMCCC 1.4 section 2.6), as lib/trap decodes them. */
	uint64_t mask = (fid & HYP_SMCCC_64BIT) ? UINT64_MAX : UINT64_C(0xffffffff);
	uint64_t x[8];

	/* X1..X7 (X0 is the function ID): one KVM_GET_ONE_REG each, arm64 KVM has no other way. */
	for (unsigned int i = 1; i < 8; i++) {
		int r = hyp__kvm_get_one_reg(
			kv, hyp__kvm_core_reg_id(offsetof(struct kvm_regs, regs.regs[i])), &x[i]);

		if (r)
			return r;
	}
	exit->reason = HYP_EXIT_SMCCC;
	/* Linux 6.1's header calls the flags word "longmode"; 6.4 made it a union with flags. */
	call->conduit = (run->hypercall.longmode & KVM_HYPERCALL_EXIT_SMC) ? HYP_CONDUIT_SMC :
									     HYP_CONDUIT_HVC;
	/* KVM does not report the immediate; it forwards only what it treats as an SMCCC call. */
	call->imm = 0;
	call->function_id = fid;
	for (unsigned int i = 0; i < 7; i++)
		call->args[i] = x[i + 1] & mask;
	/* Unknown call: NOT_SUPPORTED in X0, X1..X3 unchanged (lib/trap/decode.c does the same). */
	call->ret[0] = (uint64_t)(int64_t)HYP_SMCCC_NOT_SUPPORTED;
	call->ret[1] = kv->smccc_x[1] = x[1];
	call->ret[2] = kv->smccc_x[2] = x[2];
	call->ret[3] = kv->smccc_x[3] = x[3];
	/* KVM moved the PC past the HVC or SMC before exiting (an SMC it advances itself, so both
	 * conduits look alike): nothing to complete but X0..X3. */
	return 0;
}

int hyp__kvm_smccc_complete(struct hyp_vcpu *vcpu, const struct hyp_exit *exit)
{
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);

	/* One KVM_SET_ONE_REG costs ~2,000 instructions (the benchmark): X1..X3 only if a
	 * handler changed them. */
	for (unsigned int i = 0; i < 4; i++) {
		int r;

		if (i && exit->smccc.ret[i] == kv->smccc_x[i])
			continue;
		r = hyp__kvm_set_one_reg(
			kv, hyp__kvm_core_reg_id(offsetof(struct kvm_regs, regs.regs[i])),
			exit->smccc.ret[i]);

		if (r)
			return r;
	}
	return 0;
}
