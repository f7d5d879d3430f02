/* SPDX-License-Identifier: MIT */
/*
 * lib/trap: the built-in SMCCC 1.1 architecture calls and the PSCI 1.1 dispatcher.
 *
 * References: SMC Calling Convention, Arm DEN 0028 (v1.1 and later); Power State Coordination
 * Interface, Arm DEN 0022D (PSCI 1.1). Spec sections are cited by function name because the
 * numbering moves between document issues.
 *
 * Everything here is a pure function of its arguments plus the per-CPU power state, which is a
 * single atomic word per CPU. There are no locks and no global state: the same file runs in a
 * hosted process (one thread per vCPU) and at EL2 (one physical CPU per vCPU).
 *
 * Power state protocol (struct hyp_psci_cpu.state):
 *
 *   OFF --CPU_ON wins CAS--> ON_PENDING --entry published (release)--> STARTING
 *   STARTING --hyp_psci_claim_start() CAS (acquire)--> ON --CPU_OFF (release)--> OFF
 *
 * Only the CPU_ON caller that wins the OFF -> ON_PENDING compare-and-swap writes @entry and
 * @context_id, and only the target CPU itself (in STARTING, after an acquire) reads them, so the
 * plain fields need no further synchronisation. CPU_OFF's release store pairs with the next
 * CPU_ON's acquiring CAS, so a new entry point is never written while the previous one is still
 * being read.
 */
#include <stdatomic.h>

#include <libhyp/smccc.h>

#include "arm64.h"
#include "trap/psci.h"

/* SMCCC_VERSION answer: v1.1 (bits [30:16] major, [15:0] minor; DEN 0028, SMCCC_VERSION). */
#define SMCCC_VERSION_1_1 0x00010001
/* PSCI_VERSION answer: 1.1 (bits [30:16] major, [15:0] minor; DEN 0022D, PSCI_VERSION). */
#define PSCI_VERSION_1_1 0x00010001

/* CPU_ON and AFFINITY_INFO take a target in MPIDR_EL1 affinity format (MPIDR_AFF_MASK, arm64.h),
 * and the other bits must be zero (DEN 0022D, CPU_ON: target_cpu; AFFINITY_INFO:
 * target_affinity). */

/*
 * CPU_SUSPEND power_state, original format (DEN 0022D, CPU_SUSPEND, "power_state parameter
 * encoding"): StateID [15:0], StateType [16] (0 standby, 1 powerdown), PowerLevel [25:24]. Bits
 * [31:26] and [23:17] are reserved and must be zero. We advertise the original format through
 * PSCI_FEATURES (flags bit 1 clear), so a caller using the extended format (StateType in bit 30)
 * hits a reserved bit and is told so.
 */
#define PSCI_POWER_STATE_RESERVED 0xfcfe0000u

/*
 * CPU_SUSPEND feature flags for PSCI_FEATURES (DEN 0022D, PSCI_FEATURES): bit 1 = 0 means the
 * original power_state format, bit 0 = 0 means OS-initiated mode is not supported.
 */
#define PSCI_CPU_SUSPEND_FEATURES 0

/* SYSTEM_RESET2 reset_type (DEN 0022D, SYSTEM_RESET2): bit 31 set selects a vendor reset. */
#define PSCI_RESET2_VENDOR (1u << 31)
#define PSCI_RESET2_SYSTEM_WARM_RESET 0u

/*
 * Fetch argument @i (0 = X1). A 32-bit function ID (SMC32/HVC32) passes W registers: only the low
 * 32 bits are arguments (DEN 0028, "SMC32/HVC32 argument passing"). The caller already truncates,
 * but the guest controls these registers, so do not rely on it.
 */
static uint64_t arg(const struct hyp_smccc_call *call, unsigned int i)
{
	if (call->function_id & HYP_SMCCC_64BIT)
		return call->args[i];
	return (uint32_t)call->args[i];
}

/*
 * Write the result. Every value this file returns (versions, feature words, AFFINITY_INFO states,
 * negative error codes) fits in 32 bits and is formed as a signed 32-bit value, then
 * sign-extended into X0 for both calling conventions:
 * - SMC64/HVC64: negative codes are 64-bit negative numbers in X0.
 * - SMC32/HVC32: the result is W0. The convention requires the "Unknown Function Identifier"
 *   answer to be a sign-extended -1 in R0/W0/X0 (DEN 0028 v1.3 section 5.2), and callers such as
 *   Linux compare the whole X0 against -1 (`res.a0 == SMCCC_RET_NOT_SUPPORTED`), so the upper
 *   half is the sign extension rather than zero. Positive results are identical either way.
 * X1..X3 carry no result for any built-in call; they are zeroed, which is what KVM's in-kernel
 * PSCI does, so a guest sees the same registers on every backend.
 */
static void set_result(struct hyp_smccc_call *call, int32_t value)
{
	call->ret[0] = (uint64_t)(int64_t)value;
	call->ret[1] = 0;
	call->ret[2] = 0;
	call->ret[3] = 0;
}

static void set_action(struct hyp_psci_action *action, enum hyp_psci_action_kind kind,
		       struct hyp_psci_cpu *target, uint64_t reset_type)
{
	action->kind = kind;
	action->target = target;
	action->reset_type = reset_type;
}

static uint32_t power_load(const struct hyp_psci_cpu *cpu)
{
	return atomic_load_explicit(&cpu->state, memory_order_acquire);
}

/* SMCCC_ARCH_FEATURES (DEN 0028, SMCCC_ARCH_FEATURES). */
static int32_t smccc_arch_features(uint32_t arch_func_id)
{
	switch (arch_func_id) {
	case HYP_SMCCC_VERSION:
	case HYP_SMCCC_ARCH_FEATURES:
		return HYP_SMCCC_SUCCESS;
	default:
		/*
		 * ARCH_WORKAROUND_1/2/3 and SOC_ID included: answering SUCCESS (or
		 * NOT_REQUIRED) would tell the guest that a Spectre mitigation is performed, or is
		 * unnecessary, on hardware we know nothing about. NOT_SUPPORTED makes the guest
		 * fall back to its own mitigations or report itself vulnerable, which is honest.
		 */
		return HYP_SMCCC_NOT_SUPPORTED;
	}
}

static bool smccc_arch_call(struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	int32_t ret;

	switch (call->function_id) {
	case HYP_SMCCC_VERSION:
		ret = SMCCC_VERSION_1_1;
		break;
	case HYP_SMCCC_ARCH_FEATURES:
		ret = smccc_arch_features((uint32_t)arg(call, 0));
		break;
	default:
		/* Not built in: the caller's NOT_SUPPORTED answer (or a user handler) applies. */
		return false;
	}
	set_result(call, ret);
	set_action(action, HYP_PSCI_ACTION_NONE, NULL, 0);
	return true;
}

/* The CPU whose affinity is exactly @mpidr (already checked to hold only affinity bits). */
static struct hyp_psci_cpu *find_cpu(const struct hyp_psci_platform *platform, uint64_t mpidr)
{
	uint32_t i;

	if (!platform->cpu_at)
		return NULL;
	for (i = 0; i < platform->cpu_count; i++) {
		struct hyp_psci_cpu *cpu = platform->cpu_at(platform->opaque, i);

		if (cpu && (cpu->mpidr & MPIDR_AFF_MASK) == mpidr)
			return cpu;
	}
	return NULL;
}

/*
 * CPU_SUSPEND (DEN 0022D, CPU_SUSPEND). Every request is served as standby: the caller behaves as
 * WFI, keeps its context, and the call returns SUCCESS in place instead of restarting at
 * entry_point_address. The specification lets an implementation do this: a powerdown request may
 * be satisfied by a shallower state, in which case the call returns as from standby (first stated
 * in DEN 0022A section 5.4.2, clause 3; KVM relies on the same clause). We never enter a real
 * powerdown state, so entry_point_address and context_id (X2, X3) are never used and need no
 * validation.
 *
 * power_state is a 32-bit parameter in both conventions, so the upper half of X1 in the 64-bit
 * call is ignored. Reserved bits must be zero; StateID is not interpreted because we publish no
 * idle states (no idle-states node in the device tree), and any PowerLevel is acceptable since
 * standby at any level is still standby for this CPU.
 */
static int32_t psci_cpu_suspend(const struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	uint32_t power_state = (uint32_t)arg(call, 0);

	if (power_state & PSCI_POWER_STATE_RESERVED)
		return HYP_PSCI_INVALID_PARAMETERS;
	set_action(action, HYP_PSCI_ACTION_SUSPEND, NULL, 0);
	return HYP_PSCI_SUCCESS;
}

/*
 * CPU_OFF (DEN 0022D, CPU_OFF). The calling CPU is running, so it is ON; only the CPU itself
 * leaves ON, hence the compare-and-swap cannot lose a race in a correct integration. If the
 * integrator let a CPU run without claiming its start (state not ON), refuse with DENIED (the only
 * error CPU_OFF defines) instead of corrupting the state machine. The release pairs with the next
 * CPU_ON's acquire, see the protocol at the top of the file.
 */
static int32_t psci_cpu_off(struct hyp_psci_cpu *caller, struct hyp_psci_action *action)
{
	uint32_t expected = HYP_PSCI_POWER_ON;

	if (!atomic_compare_exchange_strong_explicit(&caller->state, &expected, HYP_PSCI_POWER_OFF,
						     memory_order_release, memory_order_relaxed))
		return HYP_PSCI_DENIED;
	/* On success the call does not return to the guest; X0 = 0 only if it is resumed anyway. */
	set_action(action, HYP_PSCI_ACTION_CPU_OFF, caller, 0);
	return HYP_PSCI_SUCCESS;
}

static bool entry_valid(const struct hyp_psci_platform *platform, uint64_t entry)
{
	/*
	 * The target starts in AArch64 (the caller's state), where a PC that is not 4-byte
	 * aligned takes a PC alignment fault on the first fetch: the address is known to be
	 * invalid, which is what INVALID_ADDRESS reports (DEN 0022D, CPU_ON).
	 */
	if (entry & 3)
		return false;
	/* No callback: no memory map to check against; a bad entry then faults in the guest. */
	if (!platform->entry_valid)
		return true;
	return platform->entry_valid(platform->opaque, entry);
}

/*
 * CPU_ON (DEN 0022D, CPU_ON).
 *
 * Check order. The specification lists the error codes but does not rank them. We follow Arm's
 * reference implementation (Trusted Firmware-A): first the target (INVALID_PARAMETERS: bits outside
 * Aff3..Aff0, or no such CPU), then the entry point (INVALID_ADDRESS), and only then the target's
 * power state (ALREADY_ON / ON_PENDING). So a bad entry point aimed at a CPU that is already on
 * answers INVALID_ADDRESS, and a bad MPIDR always answers INVALID_PARAMETERS.
 *
 * Racing callers: exactly one wins the OFF -> ON_PENDING compare-and-swap. A failed CAS hands back
 * the state it saw, which is the re-read the losers answer from: ON is ALREADY_ON; ON_PENDING and
 * STARTING (entry published, CPU not yet running) are ON_PENDING.
 */
static int32_t psci_cpu_on(const struct hyp_psci_platform *platform,
			   const struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	uint64_t target_cpu = arg(call, 0);
	uint64_t entry = arg(call, 1);
	uint64_t context_id = arg(call, 2);
	uint32_t seen = HYP_PSCI_POWER_OFF;
	struct hyp_psci_cpu *cpu;

	if (target_cpu & ~MPIDR_AFF_MASK)
		return HYP_PSCI_INVALID_PARAMETERS;
	cpu = find_cpu(platform, target_cpu);
	if (!cpu)
		return HYP_PSCI_INVALID_PARAMETERS;
	if (!entry_valid(platform, entry))
		return HYP_PSCI_INVALID_ADDRESS;

	/* Acquire: pairs with the target's CPU_OFF release (see the top of the file). */
	if (!atomic_compare_exchange_strong_explicit(&cpu->state, &seen, HYP_PSCI_POWER_ON_PENDING,
						     memory_order_acquire, memory_order_acquire))
		return seen == HYP_PSCI_POWER_ON ? HYP_PSCI_ALREADY_ON : HYP_PSCI_ON_PENDING;

	cpu->entry = entry;
	cpu->context_id = context_id;
	/* Release: the target's acquiring claim sees entry and context_id once it sees STARTING. */
	atomic_store_explicit(&cpu->state, HYP_PSCI_POWER_STARTING, memory_order_release);

	set_action(action, HYP_PSCI_ACTION_CPU_ON, cpu, 0);
	return HYP_PSCI_SUCCESS;
}

/*
 * AFFINITY_INFO (DEN 0022D, AFFINITY_INFO).
 *
 * lowest_affinity_level is a 32-bit parameter in both conventions. From PSCI 1.0 on, support for
 * levels above 0 is optional; we support 0..3 like KVM's in-kernel PSCI, so the answer does not
 * depend on the backend. Level 4 and up does not exist in MPIDR_EL1: INVALID_PARAMETERS.
 *
 * The affinity fields below lowest_affinity_level are not part of the query and are ignored. The
 * instance is ON if any CPU in it is ON, ON_PENDING if none is ON but one is being turned on
 * (ON_PENDING or STARTING: it has not begun executing), and OFF if all are OFF. A target that
 * names no CPU, or has bits outside Aff3..Aff0, is INVALID_PARAMETERS.
 */
static int32_t psci_affinity_info(const struct hyp_psci_platform *platform,
				  const struct hyp_smccc_call *call)
{
	/* Affinity fields at levels >= n; Aff3 sits at MPIDR_EL1 bits [39:32], not [31:24]. */
	static const uint64_t level_mask[4] = {
		0xff00ffffffull, /* Aff3..Aff0 */
		0xff00ffff00ull, /* Aff3..Aff1 */
		0xff00ff0000ull, /* Aff3, Aff2 */
		0xff00000000ull, /* Aff3 */
	};
	uint64_t target = arg(call, 0);
	uint32_t level = (uint32_t)arg(call, 1);
	bool found = false, pending = false;
	uint64_t mask;
	uint32_t i;

	if (target & ~MPIDR_AFF_MASK)
		return HYP_PSCI_INVALID_PARAMETERS;
	if (level > 3)
		return HYP_PSCI_INVALID_PARAMETERS;
	mask = level_mask[level];
	target &= mask;

	for (i = 0; platform->cpu_at && i < platform->cpu_count; i++) {
		const struct hyp_psci_cpu *cpu = platform->cpu_at(platform->opaque, i);

		if (!cpu || (cpu->mpidr & mask) != target)
			continue;
		found = true;
		switch (power_load(cpu)) {
		case HYP_PSCI_POWER_ON:
			return HYP_PSCI_AFFINITY_ON;
		case HYP_PSCI_POWER_ON_PENDING:
		case HYP_PSCI_POWER_STARTING:
			pending = true;
			break;
		default:
			break;
		}
	}
	if (!found)
		return HYP_PSCI_INVALID_PARAMETERS;
	return pending ? HYP_PSCI_AFFINITY_ON_PENDING : HYP_PSCI_AFFINITY_OFF;
}

/*
 * SYSTEM_RESET2 (DEN 0022D, SYSTEM_RESET2). reset_type is 32-bit in both conventions; cookie (X2)
 * is only meaningful to a vendor reset and is not passed on. Vendor types (bit 31) go to the VMM
 * unexamined; among architectural types only SYSTEM_WARM_RESET (0) is defined in PSCI 1.1, the
 * rest are reserved: INVALID_PARAMETERS.
 */
static int32_t psci_system_reset2(const struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	uint32_t reset_type = (uint32_t)arg(call, 0);

	if (!(reset_type & PSCI_RESET2_VENDOR) && reset_type != PSCI_RESET2_SYSTEM_WARM_RESET)
		return HYP_PSCI_INVALID_PARAMETERS;
	set_action(action, HYP_PSCI_ACTION_SYSTEM_RESET, NULL, reset_type);
	/* Does not return on success; if the VMM resumes the vCPU anyway, report a failure. */
	return HYP_PSCI_INTERNAL_FAILURE;
}

/* PSCI_FEATURES (DEN 0022D, PSCI_FEATURES): 0 (or a flags word) for what we implement. */
static int32_t psci_features(uint32_t fid)
{
	switch (fid) {
	case HYP_PSCI_CPU_SUSPEND_32:
	case HYP_PSCI_CPU_SUSPEND_64:
		return PSCI_CPU_SUSPEND_FEATURES;
	case HYP_PSCI_VERSION:
	case HYP_PSCI_CPU_OFF:
	case HYP_PSCI_CPU_ON_32:
	case HYP_PSCI_CPU_ON_64:
	case HYP_PSCI_AFFINITY_INFO_32:
	case HYP_PSCI_AFFINITY_INFO_64:
	case HYP_PSCI_MIGRATE_INFO_TYPE:
	case HYP_PSCI_SYSTEM_OFF:
	case HYP_PSCI_SYSTEM_RESET:
	case HYP_PSCI_SYSTEM_RESET2_32:
	case HYP_PSCI_SYSTEM_RESET2_64:
	case HYP_PSCI_FEATURES:
	/*
	 * SMCCC 1.1 is discovered this way: a caller checks PSCI_FEATURES(SMCCC_VERSION) before
	 * calling SMCCC_VERSION (DEN 0028, SMCCC_VERSION; DEN 0022D, PSCI_FEATURES).
	 */
	case HYP_SMCCC_VERSION:
		return HYP_PSCI_SUCCESS;
	default:
		/*
		 * Includes MIGRATE and MIGRATE_INFO_UP_CPU: they are answered (with NOT_SUPPORTED),
		 * but not implemented, and MIGRATE_INFO_TYPE tells the guest they are not needed.
		 */
		return HYP_PSCI_NOT_SUPPORTED;
	}
}

static bool is_psci_fid(uint32_t fid)
{
	return (fid >= HYP_PSCI_FID_FIRST_32 && fid <= HYP_PSCI_FID_LAST_32) ||
	       (fid >= HYP_PSCI_FID_FIRST_64 && fid <= HYP_PSCI_FID_LAST_64);
}

static bool psci_call(const struct hyp_psci_platform *platform, struct hyp_psci_cpu *caller,
		      struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	int32_t ret;

	set_action(action, HYP_PSCI_ACTION_NONE, NULL, 0);

	switch (call->function_id) {
	case HYP_PSCI_VERSION:
		ret = PSCI_VERSION_1_1;
		break;
	case HYP_PSCI_CPU_SUSPEND_32:
	case HYP_PSCI_CPU_SUSPEND_64:
		ret = psci_cpu_suspend(call, action);
		break;
	case HYP_PSCI_CPU_OFF:
		ret = psci_cpu_off(caller, action);
		break;
	case HYP_PSCI_CPU_ON_32:
	case HYP_PSCI_CPU_ON_64:
		ret = psci_cpu_on(platform, call, action);
		break;
	case HYP_PSCI_AFFINITY_INFO_32:
	case HYP_PSCI_AFFINITY_INFO_64:
		ret = psci_affinity_info(platform, call);
		break;
	case HYP_PSCI_MIGRATE_INFO_TYPE:
		/* No Trusted OS to migrate (DEN 0022D, MIGRATE_INFO_TYPE: type 2). */
		ret = HYP_PSCI_TOS_NOT_PRESENT_MP;
		break;
	case HYP_PSCI_SYSTEM_OFF:
		set_action(action, HYP_PSCI_ACTION_SYSTEM_OFF, NULL, 0);
		/* Does not return; a vCPU resumed anyway sees a failure, as with KVM. */
		ret = HYP_PSCI_INTERNAL_FAILURE;
		break;
	case HYP_PSCI_SYSTEM_RESET:
		set_action(action, HYP_PSCI_ACTION_SYSTEM_RESET, NULL, 0);
		ret = HYP_PSCI_INTERNAL_FAILURE;
		break;
	case HYP_PSCI_SYSTEM_RESET2_32:
	case HYP_PSCI_SYSTEM_RESET2_64:
		ret = psci_system_reset2(call, action);
		break;
	case HYP_PSCI_FEATURES:
		ret = psci_features((uint32_t)arg(call, 0));
		break;
	default:
		/*
		 * MIGRATE and MIGRATE_INFO_UP_CPU (meaningless for MIGRATE_INFO_TYPE 2), the
		 * optional PSCI 1.0+ functions, and every unassigned ID of the range: the range
		 * belongs to PSCI, so we answer for it rather than passing it on.
		 */
		ret = HYP_PSCI_NOT_SUPPORTED;
		break;
	}
	set_result(call, ret);
	return true;
}

bool hyp_smccc_builtin_call(const struct hyp_psci_platform *platform, struct hyp_psci_cpu *caller,
			    struct hyp_smccc_call *call, struct hyp_psci_action *action)
{
	uint32_t fid;

	if (!call || !action)
		return false;
	/* HVC #imm / SMC #imm with imm != 0 is not an SMCCC call (DEN 0028: imm is 0). */
	if (call->imm != 0)
		return false;

	fid = call->function_id;
	/* Arm Architecture Calls: fast, SMC32, owner 0 (DEN 0028, function identifier). */
	if ((fid & (HYP_SMCCC_FAST_CALL | HYP_SMCCC_64BIT)) == HYP_SMCCC_FAST_CALL &&
	    HYP_SMCCC_OWNER(fid) == HYP_SMCCC_OWNER_ARCH)
		return smccc_arch_call(call, action);
	if (is_psci_fid(fid)) {
		if (!platform || !caller)
			return false;
		return psci_call(platform, caller, call, action);
	}
	return false;
}

bool hyp_psci_claim_start(struct hyp_psci_cpu *cpu, uint64_t *entry, uint64_t *context_id)
{
	uint32_t expected = HYP_PSCI_POWER_STARTING;

	if (!cpu || !entry || !context_id)
		return false;
	/* Acquire: pairs with CPU_ON's release of STARTING, making entry/context_id visible. */
	if (!atomic_compare_exchange_strong_explicit(&cpu->state, &expected, HYP_PSCI_POWER_ON,
						     memory_order_acquire, memory_order_relaxed))
		return false;
	/* Now ON: nobody writes these until this CPU calls CPU_OFF. */
	*entry = cpu->entry;
	*context_id = cpu->context_id;
	return true;
}

bool hyp_psci_is_on(const struct hyp_psci_cpu *cpu)
{
	return cpu && power_load(cpu) != HYP_PSCI_POWER_OFF;
}

bool hyp_psci_is_running(const struct hyp_psci_cpu *cpu)
{
	/* Acquire pairs with the release that published ON in hyp_psci_claim_start(). */
	return atomic_load_explicit(&((struct hyp_psci_cpu *)cpu)->state, memory_order_acquire) ==
	       HYP_PSCI_POWER_ON;
}
