/* SPDX-License-Identifier: MIT */
/*
 * Exit callbacks.
 *
 * A VMM registers callbacks per VM; they run on the vCPU thread inside hyp_vcpu_run(). Each returns
 * HYP_HANDLED (the library completes the instruction and the guest resumes without run returning)
 * or HYP_NOT_HANDLED (the exit is returned to the caller of hyp_vcpu_run(), whatever the callback
 * filled in stays in the exit record).
 *
 * Registration and removal are not allowed while any vCPU of the VM is inside hyp_vcpu_run():
 * they return -EBUSY then. Register everything before starting vCPU threads.
 *
 * Lookup order for an exit: the specific callback (MMIO range, SMCCC range, sysreg), then the
 * built-in services (PSCI, SMCCC arch calls), then the generic exit callback for the reason, then
 * the caller.
 *
 * One convention for every callback of the API (these, the log handler, device callbacks, the
 * allocator and the el2 platform ops): the caller's `void *opaque`, given at registration, is the
 * first parameter. A binding can then route every callback through one trampoline shape.
 */
#ifndef LIBHYP_HANDLERS_H
#define LIBHYP_HANDLERS_H

#include <libhyp/exit.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** What a callback did with an exit. */
enum hyp_handler_result {
	/** Return the exit to the caller of hyp_vcpu_run(). */
	HYP_NOT_HANDLED = 0,
	/** Complete the instruction and resume the guest. */
	HYP_HANDLED = 1,
};

/**
 * hyp_mmio_fn - an MMIO callback.
 * @opaque: the registration's pointer.
 * @vcpu: the vCPU that made the access.
 * @access: the decoded access; @access->offset is relative to the registered base. For a read,
 *	    set @access->data.
 *
 * Returning HYP_NOT_HANDLED passes the access on as if no range had claimed it: to the generic
 * HYP_EXIT_MMIO callback (hyp_vm_set_exit_handler()) if there is one, else to the caller of
 * hyp_vcpu_run(); from then on @access->offset is the absolute IPA. (HYP_VM_ABORT_UNCLAIMED does
 * not apply to a declined access.)
 */
typedef enum hyp_handler_result (*hyp_mmio_fn)(void *opaque, struct hyp_vcpu *vcpu,
					       struct hyp_mmio_access *access);

/**
 * hyp_vm_add_mmio_handler() - route guest accesses to [@base, @base + @size) to @fn.
 * @vm: the VM.
 * @base: the first IPA of the range (any alignment).
 * @size: the length in bytes (non-zero, must not wrap).
 * @fn: the callback.
 * @opaque: passed to @fn.
 *
 * Accesses are delivered as the guest made them: an access that straddles the end of the range is
 * delivered with its full length and an @offset near the end; the callback decides. Ranges should
 * not overlap mapped memory (accesses to memory never fault, so the callback would never run).
 *
 * Return: 0; -EINVAL for NULL @vm/@fn, @size 0 or a wrapping range; -ERANGE if the range extends
 * beyond the VM's IPA space (struct hyp_vm_config.ipa_bits); -EEXIST if the range overlaps another
 * MMIO range; -EBUSY; -ENOMEM.
 */
HYP_API int hyp_vm_add_mmio_handler(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size,
				    hyp_mmio_fn fn, void *opaque);

/**
 * hyp_vm_remove_mmio_handler() - remove the MMIO range registered at exactly @base.
 *
 * Return: 0; -EINVAL for NULL; -ENOENT if no range starts at @base; -EBUSY.
 */
HYP_API int hyp_vm_remove_mmio_handler(struct hyp_vm *vm, hyp_ipa_t base);

/**
 * hyp_vm_defer_mmio_writes() - let the backend collect the guest's writes to [@base, @base +
 * @size) and deliver them later, instead of an exit for each.
 * @vm: the VM.
 * @base: the first IPA; [@base, @base + @size) must lie inside one range registered with
 *	  hyp_vm_add_mmio_handler(), whose callback receives the writes.
 * @size: the length in bytes (non-zero).
 *
 * For registers whose write the guest never waits on and whose effect it can only observe
 * through an access that exits: an interrupt acknowledgement is the model (lib/dev's virtio-mmio
 * devices use it for InterruptACK). Reads in the part still exit. The collected writes reach the
 * callback in the order the guest made them: before the next exit of the vCPU that wrote them is
 * dispatched (and before that of any vCPU whose exit came after the write was collected), before
 * the vCPU or the range goes; possibly on another vCPU's thread, with that vCPU as @vcpu. A write
 * collected while every vCPU waits in the guest waits too. One part per range.
 *
 * On kvm it is KVM's coalesced MMIO (KVM_REGISTER_COALESCED_MMIO; a full ring falls back to an
 * exit). Exits are cheap on el2 and scripted on mock: there it is -ENOTSUP, and the writes exit
 * as before, so a device model can ask everywhere and ignore -ENOTSUP.
 *
 * Return: 0; -EINVAL for NULL @vm, @size 0 or a wrapping range (and on kvm a @size of 4 GiB or
 * more); -ENOENT if no single registered range holds it; -EEXIST if the range has a deferred part
 * already; -ENOTSUP; -EBUSY while a vCPU runs; a backend error (e.g. -ENOMEM).
 */
HYP_API int hyp_vm_defer_mmio_writes(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size);

/** Flags for hyp_vm_add_mmio_eventfd(). */
enum hyp_mmio_eventfd_flags {
	/** Only writes of this value signal (a register that names a queue, like virtio's
	 *  QueueNotify); without it every write of the length does. */
	HYP_MMIO_EVENTFD_MATCH_VALUE = 1u << 0,
};

/**
 * hyp_vm_add_mmio_eventfd() - let the guest's writes to a doorbell register signal an eventfd
 * instead of reaching the MMIO callback, so a thread of the VMM (a device's I/O thread) serves
 * them while the vCPU goes on.
 * @vm: the VM.
 * @ipa: the register's IPA, inside a range registered with hyp_vm_add_mmio_handler() and outside
 *	 its deferred part (hyp_vm_defer_mmio_writes()).
 * @len: the write's width in bytes: 1, 2, 4 or 8. Writes of another width, and every read, still
 *	 reach the callback.
 * @value: with HYP_MMIO_EVENTFD_MATCH_VALUE, the value a write must carry (zero-extended from
 *	   @len bytes); ignored otherwise (pass 0).
 * @flags: enum hyp_mmio_eventfd_flags.
 * @fd: an eventfd(2) (hosted builds). A matching write adds 1 to its counter. The library keeps a
 *	duplicate of its own (closed at removal), so the caller may close @fd when it likes.
 *
 * On kvm it is KVM_IOEVENTFD: the write completes inside KVM, with no exit to the VMM. Other
 * hosted backends (mock) get the same semantics from the library, at the write's exit: the
 * vCPU's thread signals @fd and resumes the guest. The freestanding build has no file
 * descriptors: -ENOTSUP. Several registrations may share an address with different values
 * (one per virtqueue); a value matching two of them is refused as -EEXIST.
 *
 * Return: 0; -EINVAL for NULL @vm, a bad @len, unknown @flags, @fd < 0, or @value wider than
 * @len; -ENOENT if no registered range holds [@ipa, @ipa + @len); -EEXIST for a registration
 * that would overlap one in place (same address and width, same value or either without
 * HYP_MMIO_EVENTFD_MATCH_VALUE), or a deferred part; -ENOSPC past HYP_MAX_MMIO_EVENTFDS;
 * -ENOTSUP; -EBUSY while a vCPU runs; -EBADF if @fd is not open; a backend error (kvm: -EINVAL
 * if @fd is not an eventfd). A backend's failure to remove a registration is logged.
 */
HYP_API int hyp_vm_add_mmio_eventfd(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t value,
				    uint32_t flags, int fd);

/**
 * hyp_vm_remove_mmio_eventfd() - undo hyp_vm_add_mmio_eventfd() with the same @ipa, @len,
 * @value and @flags: matching writes reach the MMIO callback again. Removing the MMIO range
 * removes its eventfds too.
 *
 * Return: 0; -EINVAL for NULL @vm; -ENOENT if no such registration exists; -EBUSY while a vCPU
 * runs.
 */
HYP_API int hyp_vm_remove_mmio_eventfd(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len,
				       uint64_t value, uint32_t flags);

/** The most eventfds hyp_vm_add_mmio_eventfd() registers in one VM. */
#define HYP_MAX_MMIO_EVENTFDS 64u

/**
 * hyp_smccc_fn - an SMCCC (HVC/SMC) callback.
 * @opaque: the registration's pointer.
 * @vcpu: the calling vCPU.
 * @call: the call; set @call->ret[0..3] (pre-set to the NOT_SUPPORTED answer).
 */
typedef enum hyp_handler_result (*hyp_smccc_fn)(void *opaque, struct hyp_vcpu *vcpu,
						struct hyp_smccc_call *call);

/**
 * hyp_vm_add_smccc_handler() - route SMCCC calls with function IDs in [@first, @last] to @fn.
 * @vm: the VM.
 * @conduits: HYP_CONDUIT_HVC, HYP_CONDUIT_SMC or both.
 * @first: the first function ID (W0 value) of the range.
 * @last: the last function ID, inclusive (≥ @first).
 * @fn: the callback.
 * @opaque: passed to @fn.
 *
 * A range may cover function IDs of the built-in services (PSCI, SMCCC_VERSION...): the callback
 * then overrides them. Calls with a non-zero immediate are not SMCCC calls and never reach these
 * callbacks (only the generic exit callback and the caller see them).
 *
 * On kvm, calls reach the library only through KVM's SMCCC filter (Linux 6.4+,
 * HYP_CAP_SMCCC_HVC_EXITS): registrations are taken until the VM's first hyp_vcpu_run() and
 * installed then (the filter forwards the IDs on both conduits; a call on a conduit without a
 * handler reaches the generic callback or the caller, pre-set to NOT_SUPPORTED, as on el2).
 * KVM keeps the Arm architecture calls (0x80000000-0x8000ffff, 0xc0000000-0xc000ffff) to itself.
 *
 * Return: 0; -EINVAL for NULL @vm/@fn, @first > @last, or no/unknown conduit bits; -EEXIST if the
 * range overlaps another SMCCC range on a shared conduit; -ENOTSUP if the backend cannot route
 * these calls to the library (kvm without the SMCCC filter, or a range touching the Arm
 * architecture calls there); -EBUSY (on kvm also once a vCPU has run); -ENOMEM.
 */
HYP_API int hyp_vm_add_smccc_handler(struct hyp_vm *vm, uint32_t conduits, uint32_t first,
				     uint32_t last, hyp_smccc_fn fn, void *opaque);

/**
 * hyp_vm_remove_smccc_handler() - remove the SMCCC range starting at exactly @first on @conduits.
 *
 * Return: 0; -EINVAL; -ENOENT if there is none; -EBUSY (on kvm also once a vCPU has run: KVM's
 * SMCCC filter cannot be changed then).
 */
HYP_API int hyp_vm_remove_smccc_handler(struct hyp_vm *vm, uint32_t conduits, uint32_t first);

/**
 * hyp_sysreg_fn - a system register trap callback.
 * @opaque: the registration's pointer.
 * @vcpu: the vCPU.
 * @access: the access; for a read, set @access->value.
 */
typedef enum hyp_handler_result (*hyp_sysreg_fn)(void *opaque, struct hyp_vcpu *vcpu,
						 struct hyp_sysreg_access *access);

/**
 * hyp_vm_add_sysreg_handler() - handle trapped accesses to one system register.
 * @vm: the VM.
 * @encoding: HYP_SYSREG(...) of the register.
 * @fn: the callback.
 * @opaque: passed to @fn.
 *
 * Only registers the backend traps reach callbacks; see HYP_CAP_SYSREG_TRAPS.
 *
 * Return: 0; -EINVAL for NULL or a bad encoding; -EEXIST if the register has a callback;
 * -ENOTSUP if the backend cannot trap system registers; -EBUSY; -ENOMEM.
 */
HYP_API int hyp_vm_add_sysreg_handler(struct hyp_vm *vm, uint32_t encoding, hyp_sysreg_fn fn,
				      void *opaque);

/** hyp_vm_remove_sysreg_handler() - remove a register's callback. Return: 0; -EINVAL; -ENOENT;
 *  -EBUSY. */
HYP_API int hyp_vm_remove_sysreg_handler(struct hyp_vm *vm, uint32_t encoding);

/**
 * hyp_exit_fn - a generic exit callback.
 * @opaque: the registration's pointer.
 * @vcpu: the vCPU.
 * @exit: the exit record (fill in/out fields as for the caller of hyp_vcpu_run()).
 */
typedef enum hyp_handler_result (*hyp_exit_fn)(void *opaque, struct hyp_vcpu *vcpu,
					       struct hyp_exit *exit);

/**
 * hyp_vm_set_exit_handler() - set the generic callback for one exit reason.
 * @vm: the VM.
 * @reason: enum hyp_exit_reason other than HYP_EXIT_NONE, HYP_EXIT_KICKED and
 *	    HYP_EXIT_SYSTEM_EVENT (kicks and system events always return to the caller: a VMM must
 *	    be able to stop a guest).
 * @fn: the callback; NULL removes it.
 * @opaque: passed to @fn.
 *
 * Runs for exits of that reason that no specific callback or built-in service handled.
 *
 * Return: 0; -EINVAL for NULL @vm or a bad @reason; -EEXIST if @fn is non-NULL and the reason has a
 * callback already (remove it first); -ENOENT when removing a callback that is not there; -EBUSY.
 */
HYP_API int hyp_vm_set_exit_handler(struct hyp_vm *vm, enum hyp_exit_reason reason, hyp_exit_fn fn,
				    void *opaque);

HYP_END_DECLS

#endif /* LIBHYP_HANDLERS_H */
