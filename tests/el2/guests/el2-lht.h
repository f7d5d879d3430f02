/* SPDX-License-Identifier: MIT */
/*
 * What the el2 firmware's test device offers beyond tests/guests/protocol.h: registers for the
 * hostile guests of tests/el2/guests/ (where to probe, what the VMM saw). Only the el2 firmware
 * (examples/el2-firmware) implements them; the conformance guests of tests/guests/ never touch
 * them.
 *
 * Register offsets are from LHT_DEV_BASE, in the part of the register page protocol.h leaves
 * free; same access rules (64-bit LDR/STR with [Xn] addressing).
 */
#ifndef LHT_EL2_H
#define LHT_EL2_H

#include "protocol.h"

/* R: how many addresses the guest should try to reach (at most LHT_EL2_MAX_PROBES), and each
 * one: an IPA that must not give the guest anything (it has no stage-2 mapping), and what it is
 * (enum lht_el2_probe). */
#define LHT_EL2_REG_PROBE_COUNT 0x800
#define LHT_EL2_REG_PROBE_ADDR(i) (0x808 + 8 * (i))
#define LHT_EL2_REG_PROBE_KIND(i) (0x888 + 8 * (i))
#define LHT_EL2_MAX_PROBES 16

/* R: SMCCC calls (HVC/SMC) that no handler and no built-in service answered and that the VMM
 * then answered itself (NOT_SUPPORTED, X1..X3 unchanged): a count, and the last one's immediate
 * and conduit (HYP_CONDUIT_*). */
#define LHT_EL2_REG_SMCCC_EXITS 0x908
#define LHT_EL2_REG_SMCCC_IMM 0x910
#define LHT_EL2_REG_SMCCC_CONDUIT 0x918
/* R: HYP_CAP_IPA_BITS of the VM. */
#define LHT_EL2_REG_IPA_BITS 0x920
/* R: HYP_CAP_SMCCC_SMC_EXITS of the VM (SMC reaches the VMM instead of being UNDEFINED). */
#define LHT_EL2_REG_SMC_EXITS 0x928
/* R: the index of the partition running the guest, and how many physical CPUs it has. */
#define LHT_EL2_REG_PARTITION 0x930
#define LHT_EL2_REG_PARTITION_CPUS 0x938
/* R: exceptions other than data aborts the VMM injected (prefetch aborts, UNDEF) for this
 * guest, and the kind of the last one (enum hyp_inject_kind). */
#define LHT_EL2_REG_INJECTED 0x940
#define LHT_EL2_REG_INJECTED_KIND 0x948
/* R: what the firmware says the rest of the machine is doing, for a guest that measures itself
 * against it (timer-latency.c): a small number the firmware defines, or LHT_EL2_PHASE_STOP when
 * the guest should finish. 0 unless the firmware sets one (fw_harness_set_phase()). */
#define LHT_EL2_REG_HOST_PHASE 0x950
#define LHT_EL2_PHASE_STOP 0xffffffffffffffffull

enum lht_el2_probe {
	LHT_EL2_PROBE_NONE = 0,
	LHT_EL2_PROBE_OTHER_RAM,     /* another partition's guest RAM, by its host PA */
	LHT_EL2_PROBE_OTHER_PRIVATE, /* another partition's private (firmware-only) page */
	LHT_EL2_PROBE_OWN_RAM_PA,    /* this guest's own RAM, by its host PA (not its IPA) */
	LHT_EL2_PROBE_FW_TEXT,	     /* the firmware's code */
	LHT_EL2_PROBE_FW_DATA,	     /* the firmware's data (per-CPU state, partition table) */
	LHT_EL2_PROBE_FW_POOL,	     /* the pool: libhyp's objects and stage-2 tables */
	LHT_EL2_PROBE_GICD,	     /* the physical GIC distributor */
	LHT_EL2_PROBE_UART,	     /* the physical PL011 */
	LHT_EL2_PROBE_BEYOND_IPA,    /* an IPA past the VM's IPA size */
	LHT_EL2_PROBE_COUNT
};

#endif /* LHT_EL2_H */
