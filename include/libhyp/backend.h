/* SPDX-License-Identifier: MIT */
/*
 * The backend interface.
 *
 * A backend is a struct hyp_backend_ops table. The built-in ones (kvm, el2, mock) are static const
 * tables inside the library; a program can supply its own through struct hyp_vm_config.backend_ops
 * using only this header. The library allocates every VM and vCPU and reserves @vm_state_size /
 * @vcpu_state_size bytes of private state for the backend beside them (hyp_backend_vm_state(),
 * hyp_backend_vcpu_state()), so a backend never needs the library's internal structures.
 *
 * Versioning: methods are only ever appended. A backend sets @version and @size to what it was
 * compiled against; the library treats methods past @size as missing. A missing (NULL) method
 * makes the public call that needs it return -ENOTSUP.
 *
 * Exits: vcpu_enter() runs the guest and reports one exit, either
 *  - raw: leave exit->reason as HYP_EXIT_NONE and fill exit->raw (ESR/FAR/HPFAR). The library
 *    decodes it (lib/trap), reads and writes guest registers through the struct hyp_gp_regs the
 *    backend registered with hyp_backend_vcpu_set_gp_regs(), and completes the instruction itself
 *    (EL2 and mock backends work this way); or
 *  - decoded: set exit->reason and the union member (KVM reports MMIO this way). The library then
 *    calls vcpu_complete() before the next vcpu_enter() so the backend can finish the instruction.
 */
#ifndef LIBHYP_BACKEND_H
#define LIBHYP_BACKEND_H

#include <libhyp/exit.h>
#include <libhyp/log.h>
#include <libhyp/types.h>
#include <libhyp/vcpu.h>
#include <libhyp/vm.h>

HYP_BEGIN_DECLS

/** The current version of struct hyp_backend_ops. */
#define HYP_BACKEND_OPS_VERSION 6u

/**
 * struct hyp_gp_regs - a guest's general-purpose state kept in memory by a backend.
 * @x: X0..X30.
 * @sp_el0: SP_EL0.
 * @pc: the PC (ELR_EL2 at a trap).
 * @pstate: PSTATE in SPSR_EL2 layout.
 */
struct hyp_gp_regs {
	uint64_t x[31];
	uint64_t sp_el0;
	uint64_t pc;
	uint64_t pstate;
};

/**
 * struct hyp_mem_region - one guest memory region, as passed to mem_map()/mem_unmap().
 * @ipa: first IPA.
 * @host: backing memory.
 * @size: bytes.
 * @flags: enum hyp_mem_flags.
 * @slot: a small integer unique among the VM's live regions (reused after unmap), e.g. a KVM slot.
 */
struct hyp_mem_region {
	hyp_ipa_t ipa;
	void *host;
	uint64_t size;
	uint32_t flags;
	uint32_t slot;
};

/** Interrupt injection kinds for the inject_irq() method. */
enum hyp_backend_irq {
	HYP_BACKEND_IRQ_SPI = 1,
	HYP_BACKEND_IRQ_PPI,
	HYP_BACKEND_IRQ_SGI,
};

/** Backend feature flags (struct hyp_backend_ops.flags). */
enum hyp_backend_flags {
	/** The backend answers PSCI itself and keeps vCPU power state (KVM's in-kernel PSCI). The
	 *  library's PSCI dispatcher and power-off wait are then not used. */
	HYP_BACKEND_OWN_PSCI = 1u << 0,
};

/**
 * struct hyp_backend_ops - one backend.
 * @version: HYP_BACKEND_OPS_VERSION as compiled by the backend.
 * @size: sizeof(struct hyp_backend_ops) as compiled by the backend.
 * @name: short name ("kvm", "mock"...).
 * @flags: enum hyp_backend_flags.
 * @vm_state_size: bytes of private per-VM state to reserve (zeroed).
 * @vcpu_state_size: bytes of private per-vCPU state to reserve (zeroed).
 *
 * Methods (all optional unless marked required; errors are negative errno values):
 * @probe: 0 if this backend can run on this host now, else -ENODEV. Asked by automatic
 *	    selection only: a backend chosen by name is not probed, so its @vm_init must itself
 *	    fail with -ENODEV where it cannot run.
 * @vm_init: required. Set up the VM from @config, which has every default filled in (ipa_bits,
 *	     max_vcpus, GIC addresses...) and is valid only during the call. On failure the backend
 *	     releases what it acquired; the library then frees the VM without calling @vm_destroy.
 * @vm_destroy: release the VM's backend resources (vCPUs are already destroyed).
 * @vm_query_cap: answer a capability (0 + *value). -EINVAL/-ENOTSUP mean "0".
 * @mem_map / @mem_unmap: add/remove a region (the library has validated it and checked
 *			 overlaps).
 * @vcpu_init: required. Set up a vCPU in the architected reset state.
 * @vcpu_destroy: release it.
 * @vcpu_reset: put the vCPU back in the architected reset state (PSCI CPU_ON); when NULL the library
 *		clears the registered struct hyp_gp_regs and sets the EL1 reset PSTATE itself.
 * @vcpu_get_reg / @vcpu_set_reg: core registers not in the registered struct hyp_gp_regs (or all,
 *				  if none is registered).
 * @vcpu_get_sysreg / @vcpu_set_sysreg: system registers; -ENOENT if not held.
 * @vcpu_enter: required. Run the guest until one exit and report it (see above): 0, or a
 *		negative errno that hyp_vcpu_run() returns. A positive value is a protocol error
 *		(hyp_vcpu_run() says -EPROTO). Must report HYP_EXIT_KICKED promptly once
 *		hyp_backend_vcpu_kick_pending() is true (check it right before entering the guest
 *		and make @vcpu_kick interrupt a guest already running).
 * @vcpu_complete: finish a decoded exit before re-entry: @exit is the record as the caller or
 *		   callback left it; @advance_pc is false if the caller moved the PC.
 * @vcpu_kick: interrupt @vcpu_enter on another thread. Must be async-signal-safe.
 * @vcpu_wait: block a powered-off vCPU until hyp_backend_vcpu_should_wake() becomes true.
 *	       When NULL the library polls.
 * @vcpu_wake: the vCPU's power state or kick flag changed: end a @vcpu_wait in progress.
 * @vcpu_inject: inject an exception, to be taken when the guest next runs; replaces completing
 *		 the last exit (the PC is not advanced).
 * @inject_irq: drive an interrupt: SPI (@vcpu NULL), PPI level or SGI (level ignored).
 * @vcpu_power_state: for HYP_BACKEND_OWN_PSCI backends: 1 if the vCPU is on, 0 if off.
 * @vcpu_device_access: (version 2) perform @access on a device the backend emulates itself (KVM's
 *			in-kernel GIC), as the guest's own access would have: the library calls it for
 *			each element of a load/store it emulated from an instruction without syndrome
 *			(those never reach the backend's device otherwise). Return 0 when done (a
 *			read's value in @access->data), -ENOENT if no such device is at
 *			@access->ipa (the library then dispatches the element as usual), another
 *			negative errno if the device refused (the guest gets an external abort).
 * @vcpu_get_fp_regs / @vcpu_set_fp_regs: (version 2) the SIMD&FP registers
 *					  (hyp_vcpu_get_fp_regs()).
 * @vcpu_get_regs / @vcpu_set_regs: (version 3) read or write @count core registers in one call
 *				    (hyp_vcpu_get_regs()): @regs[i] is read into, or written from,
 *				    @values[i]. The library passes only registers that are not in
 *				    the registered struct hyp_gp_regs, each once, in ascending
 *				    order, with every id and value already validated; a backend
 *				    should still apply all or none where it can. A read may leave
 *				    @values partly written on failure (the library discards it).
 *				    When NULL, the library calls @vcpu_get_reg / @vcpu_set_reg (or
 *				    the EL1 system register methods for SP_EL1, ELR_EL1, SPSR_EL1)
 *				    once per register. The kvm backend leaves them NULL: arm64 KVM
 *				    has no multi-register ioctl (KVM_GET_REGS/KVM_SET_REGS answer
 *				    -EINVAL), so one KVM_{GET,SET}_ONE_REG per register is the
 *				    least it can do.
 * @smccc_route: (version 4) an SMCCC range [@first, @last] on @conduits is about to be added
 *		 (@add true; hyp_vm_add_smccc_handler()) or removed (hyp_vm_remove_smccc_handler()):
 *		 0 lets the change happen; a negative errno refuses it and is what the public call
 *		 returns (-ENOTSUP: calls in that range can never reach the library on this host;
 *		 -EBUSY: not any more, e.g. after the first run). When NULL every change is allowed
 *		 (the backend reports every HVC/SMC). The kvm backend uses it for KVM's SMCCC
 *		 filter (libhyp/kvm.h).
 * @dirty_log_enable: (version 4) start or stop dirty logging of @region
 *		      (hyp_vm_dirty_log_enable()); required for HYP_CAP_DIRTY_LOG. A backend
 *		      that sees guest writes itself reports each with hyp_backend_mark_dirty().
 * @dirty_log_fetch: (version 4) for a backend that keeps its own log (KVM): OR the pages of
 *		     @region written since the last call into @bitmap (one bit per page, zeroed by
 *		     the library, sized for the region) and clear them. NULL: the library's log
 *		     (hyp_backend_mark_dirty()) is the only one.
 * @dirty_log_clear: (version 4) a fetch just reported (and cleared) the pages set in @bitmap:
 *		     make the guest's next write to each of them seen again (the el2 backend
 *		     write-protects them). Called after the library cleared its own log, so a write
 *		     that lands in between is either seen again or already in memory when the VMM
 *		     copies the page. @region may also be a single page of a logged region (same
 *		     flags, @bitmap one word with bit 0 set): the library's own dirty rings arm
 *		     each harvested page again that way. Optional.
 * @assign_irq: (version 4) hyp_vm_assign_irq(), arguments validated against the INTID ranges
 *		(not against the VM's SPI count); NULL: -ENOTSUP.
 * @host_irq: (version 4) hyp_vm_host_irq(); NULL: -ENOTSUP.
 * @ram_alloc / @ram_free: (version 4) guest RAM as this backend wants it (hyp_vm_ram_alloc()):
 *			   @size is a non-zero multiple of HYP_PAGE_SIZE and @flags holds only
 *			   known enum hyp_ram_flags bits (the library checked both). Return 0 and
 *			   the memory, zeroed, in *@ret; -ENOTSUP for a flag the backend cannot
 *			   honour; -ENOMEM. @ram_free gets exactly what @ram_alloc returned (and
 *			   was given), after the region is unmapped. When NULL, hosted builds use
 *			   plain anonymous mmap() and freestanding builds answer -ENOTSUP.
 * @dirty_ring_harvest: (version 4) for a backend with its own per-vCPU dirty rings (KVM): take up
 *			to @max entries (@max ≥ 1) from the vCPUs' rings, store the IPA of each page in
 *			@pages, and arm those pages again (KVM_RESET_DIRTY_RINGS) before returning
 *			the count. The library drops entries outside logged regions, serialises the
 *			calls, and asks for hyp_vm_dirty_ring_harvest(), for fetches and when a ring
 *			filled. The backend enables its rings in @vm_init from
 *			hyp_vm_config.dirty_ring_entries and reports their largest size as
 *			HYP_CAP_DIRTY_RING. When NULL and the backend reports HYP_CAP_DIRTY_RING, the
 *			library keeps a ring per vCPU itself, filled by the writes a built-in backend
 *			reports on the vCPU's thread (el2, mock); hyp_backend_mark_dirty() marks the
 *			regions' logs directly.
 * @mmio_defer: (version 5) hyp_vm_defer_mmio_writes(): start (@on) collecting the guest's writes
 *		to [@base, @base + @size), a part of one registered MMIO range the library
 *		checked, or stop. Collected writes are delivered, in order, as MMIO write exits
 *		to hyp_backend_dispatch_deferred_write() before the backend returns the next exit
 *		of any vCPU; stopping delivers what is held first (no vCPU runs then). NULL:
 *		-ENOTSUP.
 * @mmio_eventfd: (version 6) hyp_vm_add_mmio_eventfd() (@on) / remove: signal @fd at matching
 *		  writes without an exit (arguments checked by the library, the registration inside
 *		  one registered MMIO range). A write the backend exits for anyway reaches the
 *		  library, which signals the registration itself; so NULL is valid in hosted builds
 *		  (the library alone serves it, at the exit).
 * @irqfd: (version 6) hyp_vm_add_irqfd() (@on) / remove: writes to @fd make SPI @intid pending
 *	   as an edge, without the library (@intid checked to be an SPI). NULL: -ENOTSUP.
 * @vcpu_log_state: (version 6) hyp_vcpu_log_state(): log the vCPU's state (hyp_vm_log(), at
 *		    HYP_LOG_WARNING), from any thread. NULL: the library says there is no report.
 */
struct hyp_backend_ops {
	uint32_t version;
	uint32_t size;
	const char *name;
	uint32_t flags;
	uint32_t reserved;
	size_t vm_state_size;
	size_t vcpu_state_size;

	int (*probe)(void);
	int (*vm_init)(struct hyp_vm *vm, const struct hyp_vm_config *config);
	void (*vm_destroy)(struct hyp_vm *vm);
	int (*vm_query_cap)(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value);
	int (*mem_map)(struct hyp_vm *vm, const struct hyp_mem_region *region);
	int (*mem_unmap)(struct hyp_vm *vm, const struct hyp_mem_region *region);
	int (*vcpu_init)(struct hyp_vcpu *vcpu);
	void (*vcpu_destroy)(struct hyp_vcpu *vcpu);
	int (*vcpu_reset)(struct hyp_vcpu *vcpu);
	int (*vcpu_get_reg)(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t *value);
	int (*vcpu_set_reg)(struct hyp_vcpu *vcpu, enum hyp_reg reg, uint64_t value);
	int (*vcpu_get_sysreg)(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value);
	int (*vcpu_set_sysreg)(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value);
	int (*vcpu_enter)(struct hyp_vcpu *vcpu, struct hyp_exit *exit);
	int (*vcpu_complete)(struct hyp_vcpu *vcpu, const struct hyp_exit *exit, bool advance_pc);
	int (*vcpu_kick)(struct hyp_vcpu *vcpu);
	int (*vcpu_wait)(struct hyp_vcpu *vcpu);
	void (*vcpu_wake)(struct hyp_vcpu *vcpu);
	int (*vcpu_inject)(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr);
	int (*inject_irq)(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			  uint32_t intid, bool level);
	int (*vcpu_power_state)(struct hyp_vcpu *vcpu);
	/* Version 2. */
	int (*vcpu_device_access)(struct hyp_vcpu *vcpu, struct hyp_mmio_access *access);
	int (*vcpu_get_fp_regs)(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs);
	int (*vcpu_set_fp_regs)(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs);
	/* Version 3. */
	int (*vcpu_get_regs)(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			     unsigned int count);
	int (*vcpu_set_regs)(struct hyp_vcpu *vcpu, const enum hyp_reg *regs,
			     const uint64_t *values, unsigned int count);
	/* Version 4. */
	int (*smccc_route)(struct hyp_vm *vm, uint32_t conduits, uint32_t first, uint32_t last,
			   bool add);
	int (*dirty_log_enable)(struct hyp_vm *vm, const struct hyp_mem_region *region,
				bool enable);
	int (*dirty_log_fetch)(struct hyp_vm *vm, const struct hyp_mem_region *region,
			       uint64_t *bitmap);
	int (*dirty_log_clear)(struct hyp_vm *vm, const struct hyp_mem_region *region,
			       const uint64_t *bitmap);
	int (*assign_irq)(struct hyp_vm *vm, uint32_t host_irq, uint32_t intid);
	int (*host_irq)(struct hyp_vm *vm, uint32_t host_irq);
	int (*ram_alloc)(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret);
	void (*ram_free)(struct hyp_vm *vm, void *host, uint64_t size, uint32_t flags);
	int (*dirty_ring_harvest)(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max);
	/* Version 5. */
	int (*mmio_defer)(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size, bool on);
	/* Version 6. */
	int (*mmio_eventfd)(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t value,
			    uint32_t flags, int fd, bool on);
	int (*irqfd)(struct hyp_vm *vm, uint32_t intid, int fd, bool on);
	void (*vcpu_log_state)(struct hyp_vcpu *vcpu);
};

/** hyp_backend_vm_state() - the backend's private per-VM state (@vm_state_size bytes). */
HYP_API void *hyp_backend_vm_state(struct hyp_vm *vm);

/** hyp_backend_vcpu_state() - the backend's private per-vCPU state (@vcpu_state_size bytes). */
HYP_API void *hyp_backend_vcpu_state(struct hyp_vcpu *vcpu);

/**
 * hyp_backend_vcpu_set_gp_regs() - tell the library where a vCPU's general-purpose registers live.
 * @vcpu: the vCPU (call from vcpu_init()).
 * @regs: memory owned by the backend that holds the guest's registers whenever the vCPU is not in
 *	  the guest. The library reads and writes it directly on the exit path, and serves
 *	  hyp_vcpu_get_reg()/set_reg() for X0-X30, SP_EL0, PC and PSTATE from it.
 *
 * Return: 0; -EINVAL for NULL.
 */
HYP_API int hyp_backend_vcpu_set_gp_regs(struct hyp_vcpu *vcpu, struct hyp_gp_regs *regs);

/** hyp_backend_vcpu_mpidr() - the MPIDR affinity value configured for the vCPU. */
HYP_API uint64_t hyp_backend_vcpu_mpidr(const struct hyp_vcpu *vcpu);

/** hyp_backend_vcpu_kick_pending() - true once hyp_vcpu_kick() was called and the kick has not
 *  been reported yet, or the VM has stopped (a system event): the guest must not be entered.
 *  Async-signal-safe. */
HYP_API bool hyp_backend_vcpu_kick_pending(const struct hyp_vcpu *vcpu);

/** hyp_backend_vcpu_should_wake() - true if a waiting powered-off vCPU must return from
 *  vcpu_wait(): it was turned on, kicked, or the VM stopped. */
HYP_API bool hyp_backend_vcpu_should_wake(const struct hyp_vcpu *vcpu);

/**
 * hyp_backend_mark_dirty() - the guest wrote [@ipa, @ipa + @len): mark those pages in the dirty
 * logs of the regions that are being logged (hyp_vm_dirty_log_enable()); other pages are ignored.
 * Call it after the write is in memory. Safe on any vCPU thread; does nothing for a NULL @vm.
 */
HYP_API void hyp_backend_mark_dirty(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len);

/**
 * hyp_backend_dispatch_deferred_write() - deliver a guest write the backend collected
 * (@mmio_defer): @len (1, 2, 4 or 8) bytes of @data, little-endian, written to @ipa. It goes to
 * the callback of the MMIO range that holds @ipa, with @vcpu as the accessing vCPU; one that
 * declines passes it to the generic HYP_EXIT_MMIO callback, if any; otherwise it is dropped
 * (there is no exit to hand back). Call it on @vcpu's thread, or with no vCPU running.
 */
HYP_API void hyp_backend_dispatch_deferred_write(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint32_t len,
						 uint64_t data);

/* A backend allocates with hyp_vm_alloc() (libhyp/vm.h) and logs with hyp_vm_log()
 * (libhyp/log.h), as device models do. */

HYP_END_DECLS

#endif /* LIBHYP_BACKEND_H */
