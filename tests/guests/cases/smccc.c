/* SPDX-License-Identifier: MIT */
/*
 * smccc: hypervisor calls over HVC #0 (SMC Calling Convention, Arm DEN 0028).
 *
 * - A vendor-specific hypervisor service call (owner 6) with seven arguments in X1..X7 and four
 *   results in X0..X3, answered by the driver's hyp_vm_add_smccc_handler() callback. Backends
 *   that answer HVC in the kernel without telling userspace (KVM before the SMCCC filter of
 *   Linux 6.4) cannot route it (HYP_CAP_SMCCC_HVC_EXITS = 0): that is a SKIP, never a pass.
 * - Calls nobody implements must return NOT_SUPPORTED (-1, sign-extended into all of X0 even
 *   for SMC32/HVC32 IDs: DEN 0028 "Unknown Function Identifier"), whatever the backend.
 * - SMCCC_VERSION, discovered as DEN 0028 prescribes: PSCI_FEATURES(SMCCC_VERSION) first.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

static void vendor_call(void)
{
	const uint64_t args[7] = {
		0x0101010101010101ull, 0xfedcba9876543210ull, 0x8000000000000001ull,
		0x0123456789abcdefull, 0xffffffffffffffffull, 0x00000000ffffffffull,
		0x7fffffffffffffffull,
	};
	uint64_t want[4];
	struct lht_smccc_res r;

	lht_vendor_results(args, want);
	r = lht_hvc(LHT_VENDOR_FID, args);
	if (!(lht_caps() & LHT_CAP_SMCCC_HVC)) {
		lht_skip(
			"vendor HVC with 7 arguments and 4 results reaches the VMM's SMCCC handler",
			"the backend answers HVC itself (HYP_CAP_SMCCC_HVC_EXITS = 0; KVM needs "
			"the SMCCC filter of Linux 6.4+)");
		lht_check_eq("vendor HVC without a reachable handler: X0 = NOT_SUPPORTED", r.x[0],
			     (uint64_t)-1);
		return;
	}
	lht_check_eq("vendor HVC: X0 = f(X1..X7)", r.x[0], want[0]);
	lht_check_eq("vendor HVC: X1 = f(X1..X7)", r.x[1], want[1]);
	lht_check_eq("vendor HVC: X2 = X7 - X1", r.x[2], want[2]);
	lht_check_eq("vendor HVC: X3 = magic ^ X4", r.x[3], want[3]);
}

static void unknown(const char *name, uint32_t fid)
{
	const uint64_t args[7] = { 1, 2, 3, 4, 5, 6, 7 };

	lht_check_eq(name, lht_hvc(fid, args).x[0], (uint64_t)-1);
}

void guest_main(void)
{
	int64_t feat;

	vendor_call();

	unknown("unknown vendor hypervisor call (HVC64, owner 6) returns NOT_SUPPORTED",
		0xc6000a12u);
	unknown("unknown SiP call (HVC32, owner 2) returns NOT_SUPPORTED, sign-extended",
		0x82000fffu);
	unknown("unknown OEM call (HVC64, owner 3) returns NOT_SUPPORTED", 0xc3001234u);
	unknown("unknown standard secure service call outside PSCI returns NOT_SUPPORTED",
		0x84000100u);
	unknown("unknown Arm architecture call returns NOT_SUPPORTED", 0x80001234u);

	feat = lht_psci(PSCI_FEATURES, SMCCC_VERSION, 0, 0);
	lht_check_eq("PSCI_FEATURES(SMCCC_VERSION) = SUCCESS (SMCCC 1.1 discovery)", feat,
		     PSCI_SUCCESS);
	if (feat == PSCI_SUCCESS) {
		int64_t v = lht_psci(SMCCC_VERSION, 0, 0, 0);

		lht_note("SMCCC_VERSION", (uint64_t)v);
		lht_check_ge("SMCCC_VERSION >= 1.1", (uint64_t)v, 0x10001);
		lht_check_eq("SMCCC_VERSION is positive (bit 31 clear)", (uint64_t)v >> 31, 0);
	}
}
