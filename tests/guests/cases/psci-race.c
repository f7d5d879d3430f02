/* SPDX-License-Identifier: MIT */
/*
 * psci-race: several CPUs call CPU_ON on the same powered-off CPU at the same moment.
 *
 * PSCI serialises them: exactly one call returns SUCCESS and powers the target on; each other
 * one returns ALREADY_ON (the target is on) or ON_PENDING (it is being turned on), never SUCCESS
 * and never a second start (Arm DEN 0022D 5.6, CPU_ON return values). The context id names the
 * caller, so the target can tell us whose call won, which must be the one that got SUCCESS.
 *
 * vCPUs 0, 1 and 2 race for vCPU 3, several rounds; vCPU 3 stays on until all three have their
 * answer, then turns itself off for the next round.
 */
#include "rt/rt.h"

#define NR 4
#define RACERS 3
#define ROUNDS 4
LHT_GUEST(.nr_vcpus = NR);

static volatile uint64_t ready[RACERS];	 /* racer i has arrived for round ready[i] */
static volatile uint64_t go;		 /* the round vCPU 0 has started */
static volatile int64_t result[RACERS];	 /* CPU_ON's return value, per racer */
static volatile uint64_t done[RACERS];	 /* racer i has a result for round done[i] */
static volatile uint64_t target_ctx;	 /* the context vCPU 3 last started with */
static volatile uint64_t target_starts;	 /* how often vCPU 3 started */
static volatile uint64_t target_release; /* the round after which vCPU 3 may turn off */

/* CPU_ON(vCPU 3) for @round, as racer @me: context = 3 | caller << 8 | round << 16. */
static void race(unsigned int me, uint64_t round)
{
	uint64_t ctx = 3 | ((uint64_t)me << 8) | (round << 16);

	__atomic_store_n(&ready[me], round, __ATOMIC_RELEASE);
	while (__atomic_load_n(&go, __ATOMIC_ACQUIRE) < round)
		;
	result[me] = lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(3), (uint64_t)lht_secondary_entry, ctx);
	__atomic_store_n(&done[me], round, __ATOMIC_RELEASE);
}

void guest_secondary(unsigned int index, uint64_t context_id)
{
	if (index == 3) {
		/* The target: say who started us, and stay on until every racer has its answer
		 * (an early CPU_OFF would let a late CPU_ON legitimately succeed again); then
		 * turn off for the next round. */
		__atomic_store_n(&target_ctx, context_id, __ATOMIC_RELEASE);
		__atomic_fetch_add(&target_starts, 1, __ATOMIC_ACQ_REL);
		while (__atomic_load_n(&target_release, __ATOMIC_ACQUIRE) < (context_id >> 16))
			;
		return;
	}
	for (uint64_t round = 1; round <= ROUNDS; round++)
		race(index, round);
}

static bool wait_all(volatile uint64_t *arr, uint64_t round)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(5000000);

	for (unsigned int i = 0; i < RACERS; i++)
		while (__atomic_load_n(&arr[i], __ATOMIC_ACQUIRE) < round)
			if (lht_counter() > deadline)
				return false;
	return true;
}

void guest_main(void)
{
	uint64_t mpidr3 = lht_cfg_mpidr(3);

	for (unsigned int i = 1; i < RACERS; i++)
		lht_check_eq("CPU_ON(racer)",
			     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(i),
						(uint64_t)lht_secondary_entry, i),
			     PSCI_SUCCESS);

	for (uint64_t round = 1; round <= ROUNDS; round++) {
		unsigned int successes = 0, others_ok = 0, winner = RACERS;
		uint64_t deadline;

		__atomic_store_n(&ready[0], round, __ATOMIC_RELEASE);
		lht_check_true("all racers ready", wait_all(ready, round));
		/* Release everyone at once, and race ourselves. */
		__atomic_store_n(&go, round, __ATOMIC_RELEASE);
		race(0, round);
		lht_check_true("all racers have a result", wait_all(done, round));

		for (unsigned int i = 0; i < RACERS; i++) {
			if (result[i] == PSCI_SUCCESS) {
				successes++;
				winner = i;
			} else if (result[i] == PSCI_ALREADY_ON || result[i] == PSCI_ON_PENDING) {
				others_ok++;
			} else {
				lht_note("unexpected CPU_ON result", (uint64_t)result[i]);
			}
		}
		lht_check_eq("exactly one racing CPU_ON returned SUCCESS", successes, 1);
		lht_check_eq("the others returned ALREADY_ON or ON_PENDING", others_ok, RACERS - 1);

		/* The target must have started once, with the winner's context. */
		deadline = lht_counter() + lht_us_to_ticks(5000000);
		while ((__atomic_load_n(&target_ctx, __ATOMIC_ACQUIRE) >> 16) != round &&
		       lht_counter() < deadline)
			;
		lht_check_eq("the target started with the winner's context id",
			     (target_ctx >> 8) & 0xff, winner);
		lht_check_eq("the target started exactly once per round", target_starts, round);
		/* Let it turn itself off before the next round. */
		__atomic_store_n(&target_release, round, __ATOMIC_RELEASE);
		deadline = lht_counter() + lht_us_to_ticks(5000000);
		while (lht_psci(PSCI_AFFINITY_INFO_64, mpidr3, 0, 0) != PSCI_AFF_OFF &&
		       lht_counter() < deadline)
			;
		lht_check_eq("the target is OFF again",
			     (uint64_t)lht_psci(PSCI_AFFINITY_INFO_64, mpidr3, 0, 0), PSCI_AFF_OFF);
	}
}
