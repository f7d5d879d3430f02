/* SPDX-License-Identifier: MIT */
/*
 * lib/trap: the built-in SMCCC 1.1 architecture calls and the PSCI 1.1 dispatcher.
 *
 * Pure logic over a table of per-CPU power states. Every backend that lets libhyp answer PSCI (el2,
 * mock) uses it; the power-state transitions are lock-free atomics so concurrent CPU_ON calls from
 * several vCPU threads (or physical CPUs at EL2) resolve to exactly one winner.
 */
#ifndef HYP_TRAP_PSCI_H
#define HYP_TRAP_PSCI_H

#include <stdatomic.h>

#include <libhyp/exit.h>

/** PSCI power states of one CPU. */
enum hyp_psci_power {
	HYP_PSCI_POWER_OFF = 0,
	/** A CPU_ON won the race and is publishing the entry point. */
	HYP_PSCI_POWER_ON_PENDING,
	/** Entry point published: the CPU must start at it when it next runs. */
	HYP_PSCI_POWER_STARTING,
	HYP_PSCI_POWER_ON,
};

/**
 * struct hyp_psci_cpu - one CPU as PSCI sees it.
 * @mpidr: affinity (Aff3..Aff0 bits of MPIDR_EL1).
 * @state: enum hyp_psci_power.
 * @entry: start address published by CPU_ON (valid in STARTING).
 * @context_id: X0 value published by CPU_ON.
 */
struct hyp_psci_cpu {
	uint64_t mpidr;
	_Atomic uint32_t state;
	uint64_t entry;
	uint64_t context_id;
};

/**
 * struct hyp_psci_platform - what the dispatcher needs from the VM.
 * @cpu_at: the CPU at index @i (0 .. @cpu_count - 1) or NULL for an empty slot.
 * @cpu_count: number of slots.
 * @entry_valid: whether a guest may start at @entry (executable guest memory).
 * @opaque: passed to the callbacks.
 */
struct hyp_psci_platform {
	struct hyp_psci_cpu *(*cpu_at)(void *opaque, uint32_t i);
	uint32_t cpu_count;
	bool (*entry_valid)(void *opaque, uint64_t entry);
	void *opaque;
};

/** What the caller of hyp_smccc_builtin_call() must do after writing the results. */
enum hyp_psci_action_kind {
	HYP_PSCI_ACTION_NONE = 0,
	/** The calling CPU turned itself off (CPU_OFF): stop running it until CPU_ON. */
	HYP_PSCI_ACTION_CPU_OFF,
	/** A CPU was turned on (STARTING): wake @target. */
	HYP_PSCI_ACTION_CPU_ON,
	/** CPU_SUSPEND: behave as WFI (the call returns SUCCESS). */
	HYP_PSCI_ACTION_SUSPEND,
	HYP_PSCI_ACTION_SYSTEM_OFF,
	/** SYSTEM_RESET or SYSTEM_RESET2 (@reset_type holds SYSTEM_RESET2's type, else 0). */
	HYP_PSCI_ACTION_SYSTEM_RESET,
};

struct hyp_psci_action {
	enum hyp_psci_action_kind kind;
	struct hyp_psci_cpu *target;
	uint64_t reset_type;
};

/**
 * hyp_smccc_builtin_call() - answer an SMCCC call if it is one of the built-in services.
 * @platform: the VM's CPUs.
 * @caller: the calling CPU.
 * @call: the call (function_id, args) with ret[] pre-set; ret[] is written when handled.
 * @action: receives what to do next (HYP_PSCI_ACTION_NONE if nothing).
 *
 * Built-in services: SMCCC_VERSION (1.1), SMCCC_ARCH_FEATURES, and PSCI 1.1: PSCI_VERSION,
 * CPU_SUSPEND, CPU_OFF, CPU_ON, AFFINITY_INFO, MIGRATE, MIGRATE_INFO_TYPE, MIGRATE_INFO_UP_CPU,
 * SYSTEM_OFF, SYSTEM_RESET, SYSTEM_RESET2, PSCI_FEATURES. Calls with a non-zero immediate are
 * never handled.
 *
 * Return: true if handled (ret[] and @action are set), false if the function ID is not built in.
 */
bool hyp_smccc_builtin_call(const struct hyp_psci_platform *platform, struct hyp_psci_cpu *caller,
			    struct hyp_smccc_call *call, struct hyp_psci_action *action);

/**
 * hyp_psci_claim_start() - called by a CPU about to run: if it is STARTING, take the published
 * entry point and context and move it to ON.
 * Return: true (with *@entry, *@context_id) if the CPU must reset and start there.
 */
bool hyp_psci_claim_start(struct hyp_psci_cpu *cpu, uint64_t *entry, uint64_t *context_id);

/** hyp_psci_is_on() - true unless the CPU is OFF (what AFFINITY_INFO-style queries report). */
bool hyp_psci_is_on(const struct hyp_psci_cpu *cpu);

/** hyp_psci_is_running() - true only once the CPU is ON: a CPU still ON_PENDING (its entry
 *  point not yet published) or STARTING (not yet claimed) must not run guest code. */
bool hyp_psci_is_running(const struct hyp_psci_cpu *cpu);

#endif /* HYP_TRAP_PSCI_H */
