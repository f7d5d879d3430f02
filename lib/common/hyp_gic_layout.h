/* SPDX-License-Identifier: MIT */
/*
 * The one rule for where a VM's GICv3 frames may go, used by hyp_vm_create() and hyp_fdt_build()
 * alike (inline: lib/fdt is a standalone member of the static archive and shares no internal
 * symbol with the core).
 */
#ifndef HYP_GIC_LAYOUT_H
#define HYP_GIC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include <libhyp/platform.h>

#include "hyp_errno.h"

/*
 * Check a distributor at @gicd_base and a redistributor region for @nr_vcpus vCPUs at @gicr_base
 * (both already defaulted) in an IPA space of @ipa_bits bits (0: do not check the size).
 *
 * Return: 0; -EINVAL if a frame is not 64 KiB aligned, the two overlap, or the region at the
 * default redistributor base would run into the default PL011 (more than
 * HYP_DEFAULT_GICR_MAX_VCPUS vCPUs: the virt board's low redistributor region is full, and a VM
 * that big names its own @gicr_base); -ERANGE if a frame ends beyond the IPA space.
 */
static inline int hyp__gic_layout_check(uint64_t gicd_base, uint64_t gicr_base, uint32_t nr_vcpus,
					uint32_t ipa_bits)
{
	uint64_t gicr_size = (uint64_t)HYP_GICR_SIZE_PER_VCPU * nr_vcpus;
	uint64_t limit = ipa_bits && ipa_bits < 64 ? 1ull << ipa_bits : 0;

	if ((gicd_base | gicr_base) & 0xffff)
		return -EINVAL;
	if (gicd_base > UINT64_MAX - HYP_GICD_SIZE || gicr_base > UINT64_MAX - gicr_size)
		return -ERANGE;
	if (gicd_base < gicr_base + gicr_size && gicr_base < gicd_base + HYP_GICD_SIZE)
		return -EINVAL;
	if (gicr_base == HYP_DEFAULT_GICR_BASE && nr_vcpus > HYP_DEFAULT_GICR_MAX_VCPUS)
		return -EINVAL;
	if (limit && (gicd_base + HYP_GICD_SIZE > limit || gicr_base + gicr_size > limit))
		return -ERANGE;
	return 0;
}

#endif
