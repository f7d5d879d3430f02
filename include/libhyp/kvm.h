/* SPDX-License-Identifier: MIT */
/*
 * Settings specific to the kvm backend (Linux /dev/kvm on arm64 hosts).
 */
#ifndef LIBHYP_KVM_H
#define LIBHYP_KVM_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/**
 * struct hyp_kvm_config - optional kvm settings, passed as hyp_vm_config.backend_config.
 * @size: sizeof(struct hyp_kvm_config).
 * @kick_signal: the signal hyp_vcpu_kick() sends to a vCPU thread inside KVM_RUN; 0 means
 *		 SIGRTMIN + 4. If the process has no handler for it, the backend installs one that
 *		 does nothing (its only job is to make KVM_RUN return -EINTR); an existing handler is
 *		 left alone, so a VMM using that signal itself must tolerate spurious deliveries.
 * @nr_irqs: interrupts of the in-kernel GICv3 (SGIs + PPIs + SPIs), a multiple of 32 from 64 to
 *	     1024; 0 means 256 (SPIs 32..255).
 * @kvm_path: the KVM device node; NULL means "/dev/kvm".
 */
struct hyp_kvm_config {
	uint32_t size;
	int32_t kick_signal;
	uint32_t nr_irqs;
	uint32_t reserved;
	const char *kvm_path;
};

HYP_END_DECLS

#endif /* LIBHYP_KVM_H */
