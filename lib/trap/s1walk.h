/* SPDX-License-Identifier: MIT */
/*
 * lib/trap/s1walk.h: a software walk of a guest's EL1&0 stage-1 translation tables.
 *
 * To emulate an instruction that trapped without a syndrome the hypervisor must fetch it (the PC
 * is a virtual address) and find where each of its accesses goes (the address is virtual too).
 * This walker does what the MMU did: VMSAv8-64 translation for the EL1&0 regime with 4K, 16K and
 * 64K granules, TTBR0/TTBR1 selection, top-byte-ignore, the IPS output size (52-bit output
 * addresses with the 64K granule where the implementation has FEAT_LPA), block and page
 * descriptors, the access flag and the leaf AP[2:1] permissions, and hardware management of the
 * access flag and dirty state (TCR_EL1.HA/HD, DBM). Not modelled (the walk says -ENOTSUP): FEAT_LPA2 (TCR_EL1.DS = 1)
 * and big-endian table walks (SCTLR_EL1.EE = 1). Hierarchical permissions (APTable, PXN/UXN,
 * PAN) are not applied: the guest's own access already passed them for the page that faulted.
 *
 * Pure: descriptors are read through a callback, so the unit tests walk tables in a host buffer
 * and the core walks them in guest RAM (Arm ARM DDI 0487, chapter D8, "The AArch64 Virtual Memory
 * System Architecture").
 */
#ifndef HYP_TRAP_S1WALK_H
#define HYP_TRAP_S1WALK_H

#include <stdbool.h>
#include <stdint.h>

#include <libhyp/types.h>

/**
 * struct hyp_s1_regime - the EL1 registers that control a stage-1 translation.
 * @pa_bits_max: the implemented physical address size (ID_AA64MMFR0_EL1.PARange: 32..52); 0 means
 *		 48. It decides whether 52-bit output addresses (FEAT_LPA, 64K granule) exist.
 */
struct hyp_s1_regime {
	uint64_t sctlr_el1;
	uint64_t tcr_el1;
	uint64_t ttbr0_el1;
	uint64_t ttbr1_el1;
	unsigned pa_bits_max;
};

/** What kind of access is translated (bits of hyp_trap_s1_translate()'s @access). */
enum hyp_s1_access {
	HYP_S1_WRITE = 1u << 0,
	/** An instruction fetch (TCR_EL1.TBIDx decide whether the top byte is ignored). */
	HYP_S1_FETCH = 1u << 1,
	/** Checked as an EL0 access (from EL0, or LDTR/STTR at EL1). */
	HYP_S1_EL0 = 1u << 2,
};

/**
 * Reads the 8-byte descriptor at guest physical address @ipa (little-endian); 0 or negative
 * errno (the address is not guest RAM).
 */
typedef int (*hyp_s1_read_fn)(void *opaque, hyp_ipa_t ipa, uint64_t *desc);

/**
 * Writes back a descriptor the walk updated as the hardware would (the access flag with
 * TCR_EL1.HA, the dirty state with TCR_EL1.HD and DBM): the descriptor at @ipa, which the walk
 * read as @old, becomes @desc in one atomic compare-and-swap. The hardware's update is an atomic
 * read-modify-write (Arm ARM D8.4.6, D8.4.7): a change another CPU made to the descriptor since the
 * walk read it (an unmap, a remap) must not be overwritten. 0; -EAGAIN if the descriptor no
 * longer holds @old (the walk then reads it again); another negative errno if it cannot be
 * written.
 */
typedef int (*hyp_s1_write_fn)(void *opaque, hyp_ipa_t ipa, uint64_t old, uint64_t desc);

/**
 * struct hyp_s1_result - the outcome of a walk.
 * @ipa: the output address (valid when the walk returned 0).
 * @fsc: when the walk failed with -EFAULT or -EIO: the fault status code a data or instruction
 *	 abort taken to EL1 reports (ESR_EL1.ISS.DFSC/IFSC): address size (0x00 + level),
 *	 translation (0x04 + level), access flag (0x08 + level), permission (0x0c + level), or
 *	 synchronous external abort on the walk (0x14 + level).
 */
struct hyp_s1_result {
	hyp_ipa_t ipa;
	uint8_t fsc;
};

/**
 * hyp_trap_pa_bits() - the address size a PARange / IPS encoding stands for
 * (ID_AA64MMFR0_EL1.PARange, TCR_EL1.IPS: 0 = 32 bits ... 5 = 48, 6 = 52; reserved 7 reads as 52).
 */
unsigned hyp_trap_pa_bits(unsigned encoding);

/**
 * hyp_trap_s1_translate() - translate @va as the guest's EL1&0 stage 1 would.
 * @regime: SCTLR_EL1, TCR_EL1, TTBR0_EL1, TTBR1_EL1.
 * @va: the virtual address.
 * @access: enum hyp_s1_access bits.
 * @read: reads a descriptor; @opaque is passed to it.
 * @write: writes back an updated leaf descriptor (hardware access flag and dirty state
 *	   management); NULL: the walk does not update descriptors.
 * @out: the result.
 *
 * With SCTLR_EL1.M = 0 the output address is @va (an address size fault beyond 52 bits).
 * The walk reads at most four descriptors. Instruction fetches are not permission-checked (the
 * CPU fetched the instruction already; EL0 execute permission is UXN, not AP[1]).
 *
 * Return: 0; -EFAULT on a translation, address size, access flag or permission fault; -EIO if
 * @read failed (a table outside guest RAM); -ENOTSUP for a configuration not modelled (see above).
 * @out->fsc says which fault.
 */
int hyp_trap_s1_translate(const struct hyp_s1_regime *regime, uint64_t va, unsigned access,
			  hyp_s1_read_fn read, hyp_s1_write_fn write, void *opaque,
			  struct hyp_s1_result *out);

#endif /* HYP_TRAP_S1WALK_H */
