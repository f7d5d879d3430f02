/* SPDX-License-Identifier: MIT */
/*
 * Settings specific to the kvm backend (Linux /dev/kvm on arm64 hosts).
 */
#ifndef LIBHYP_KVM_H
#define LIBHYP_KVM_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Optional CPU features a kvm VM's vCPUs can have (struct hyp_kvm_config.cpu_features). */
enum hyp_kvm_cpu_feature {
	/** Pointer authentication (FEAT_PAuth: address and generic keys). */
	HYP_KVM_CPU_PTRAUTH = 1u << 0,
	/** SVE with every vector length the host supports. */
	HYP_KVM_CPU_SVE = 1u << 1,
	/** A PMUv3 whose overflow interrupt is PPI INTID 23 (needs the in-kernel GIC). */
	HYP_KVM_CPU_PMU = 1u << 2,
	/** Memory tagging (FEAT_MTE2, KVM_CAP_ARM_MTE). Guest RAM must be anonymous memory (or
	 *  otherwise MTE-capable: mapped with PROT_MTE) or hyp_vm_map() fails; the tags live in
	 *  the host memory's own tag storage. */
	HYP_KVM_CPU_MTE = 1u << 3,
};

/** The PPI the guest PMU's overflow interrupt uses (the QEMU virt board's choice). */
#define HYP_KVM_PMU_INTID 23u

/**
 * struct hyp_kvm_config - optional kvm settings, passed as hyp_vm_config.backend_config.
 * @size: sizeof(struct hyp_kvm_config).
 * @kick_signal: the signal hyp_vcpu_kick() sends to a vCPU thread inside KVM_RUN; 0 means
 *		 SIGRTMIN + 4. If the process has no handler for it, the backend installs one that
 *		 does nothing (its only job is to make KVM_RUN return -EINTR); an existing handler is
 *		 left alone, so a VMM using that signal itself must tolerate spurious deliveries.
 * @nr_irqs: interrupts of the in-kernel GICv3 (SGIs + PPIs + SPIs), a multiple of 32 from 64 to
 *	     1024; 0 means just enough for the SPIs claimed when the VM first runs
 *	     (hyp_vm_claim_spi(): the device models claim theirs), rounded up to a multiple of 32,
 *	     at least 64 (SPIs 32..63). Lines beyond the size cannot be driven (-EINVAL).
 * @cpu_features: enum hyp_kvm_cpu_feature bits for every vCPU. hyp_vm_create() fails with
 *		  -ENOTSUP if the host's KVM cannot provide one (KVM_CAP_ARM_PTRAUTH_*,
 *		  KVM_CAP_ARM_SVE, KVM_CAP_ARM_PMU_V3, KVM_CAP_ARM_MTE), or PMU is asked for without
 *		  the in-kernel GIC.
 * @kvm_path: the KVM device node; NULL means "/dev/kvm".
 * @sve_max_vl: with HYP_KVM_CPU_SVE, the largest vector length in bytes (a multiple of 16); the
 *		guest gets every length the host supports up to it (KVM allows no gaps below the
 *		maximum). 0 means the host's largest. -ENOTSUP if the host supports no length up
 *		to it. Applies to SVE asked for either way (@cpu_features_if_available too).
 * @cpu_features_if_available: enum hyp_kvm_cpu_feature bits each vCPU gets only if this host's
 *		  KVM offers them (the same capabilities as @cpu_features; PMU also needs the
 *		  in-kernel GIC); the others are left out without an error ("-cpu host"). Answered
 *		  from KVM_CHECK_EXTENSION on the new VM: no throwaway VM is needed to find out.
 *		  hyp_vm_query_cap(HYP_CAP_CPU_FEATURES) tells which were given. A bit in both fields is
 *		  required (@cpu_features wins). Was "reserved" (0) before version 0.2: an older
 *		  caller's zero asks for nothing.
 */
struct hyp_kvm_config {
	uint32_t size;
	int32_t kick_signal;
	uint32_t nr_irqs;
	uint32_t cpu_features;
	const char *kvm_path;
	uint32_t sve_max_vl;
	uint32_t cpu_features_if_available;
};

HYP_END_DECLS

#endif /* LIBHYP_KVM_H */
