/* SPDX-License-Identifier: MIT */
/*
 * Internal definitions of the core objects. Only the core (the files in lib/) and the built-in backends see
 * this header; the public API and out-of-tree backends see opaque handles.
 */
#ifndef HYP_INTERNAL_H
#define HYP_INTERNAL_H

#include <stdatomic.h>

#include <libhyp/backend.h>
#include <libhyp/handlers.h>
#include <libhyp/hyp.h>

#include "hyp_base.h"
#include "hyp_errno.h"
#include "hyp_gic_layout.h"
#include "hyp_sized_config.h"
#include "trap/insn.h"
#include "trap/psci.h"
#include "trap/trap.h"

/* The most memory regions one VM may have (KVM allows 512 user memslots on arm64). */
#define HYP_MAX_MEM_REGIONS 512u
/* Registration limits: keep lookups bounded and the tables small. */
#define HYP_MAX_MMIO_RANGES 1024u
#define HYP_MAX_SMCCC_RANGES 256u
#define HYP_MAX_SYSREG_HANDLERS 1024u

struct hyp_mmio_range {
	hyp_ipa_t base;
	uint64_t last; /* inclusive, so a range may end at 2^64 - 1 */
	hyp_mmio_fn fn;
	void *opaque;
	/* The part whose writes the backend may defer (hyp_vm_defer_mmio_writes()); size 0:
	 * none. */
	hyp_ipa_t defer_base;
	uint64_t defer_size;
	/* Eventfds registered inside the range (hyp_vm_add_mmio_eventfd()): the exit path looks
	 * them up only when there are some. */
	uint32_t nr_eventfds;
};

/* A doorbell register whose matching writes signal an eventfd (hyp_vm_add_mmio_eventfd()). */
struct hyp_mmio_eventfd {
	hyp_ipa_t ipa;
	uint64_t value;
	uint32_t len;
	uint32_t flags;
	int fd;
};

struct hyp_smccc_range {
	uint32_t first;
	uint32_t last;
	uint32_t conduits;
	hyp_smccc_fn fn;
	void *opaque;
};

struct hyp_sysreg_handler {
	uint32_t encoding;
	hyp_sysreg_fn fn;
	void *opaque;
};

struct hyp_exit_handler {
	hyp_exit_fn fn;
	void *opaque;
};

/* A growable array of fixed-size elements, allocated through the VM's allocator. */
struct hyp_vec {
	void *data;
	uint32_t count;
	uint32_t capacity;
};

/* vm->users: the number of vCPUs inside hyp_vcpu_run() (HYP_VM_VCPUS_MASK), the number of
 * hyp_vm_hold_memory() holds (in units of HYP_VM_HOLD), plus this bit while the configuration
 * (memory map, handler tables, vCPU set) is being changed. A running vCPU and a change exclude each
 * other (-EBUSY); a change waits for holds to go, and a hold for a change to end. */
#define HYP_VM_RECONFIGURING (1u << 31)
#define HYP_VM_HOLD (1u << 16)
#define HYP_VM_HOLDS_MASK (HYP_VM_MAX_HOLDS << 16)
#define HYP_VM_VCPUS_MASK (HYP_VM_HOLD - 1)
/* ...set with it when the change comes from an exit callback (hyp_vcpu_exit_map()): the one vCPU
 * inside hyp_vcpu_run() is the caller, and a vCPU entering run waits for the end instead of
 * failing with -EBUSY. */
#define HYP_VM_EXIT_RECONFIGURING (1u << 30)

struct hyp_vm {
	/* A full-size copy of the backend's table: methods past the backend's @size are NULL. */
	struct hyp_backend_ops ops;
	struct hyp_alloc_ops alloc;
	size_t alloc_size;

	hyp_log_fn log_fn;
	void *log_opaque;
	int log_priority;

	uint32_t flags; /* enum hyp_vm_flags */
	/* The backend is one of this library's own (lib/core/builtin.c): only those may use
	 * internal signals such as HYP__ENTER_DISPATCHED. */
	bool builtin_backend;
	uint32_t ipa_bits;
	uint32_t max_vcpus;
	uint32_t irqchip;
	hyp_ipa_t gicd_base;
	hyp_ipa_t gicr_base;

	_Atomic uint32_t users;
	/* 0, or once the guest powered off or reset: the enum hyp_system_event_type in bits [31:0]
	 * and its data (e.g. the SYSTEM_RESET2 type, 32 bits) in [63:32]. One word, so a vCPU that
	 * sees the event also sees its data. */
	_Atomic uint64_t system_event;

	/* vcpus[index], published with release stores so running vCPUs can look peers up. */
	struct hyp_vcpu *_Atomic *vcpus;
	struct hyp_psci_platform psci;

	struct hyp_vec regions;	      /* struct hyp_mem_region, sorted by ipa */
	struct hyp_vec mmio;	      /* struct hyp_mmio_range, sorted by base */
	struct hyp_vec mmio_eventfds; /* struct hyp_mmio_eventfd (hyp_vm_add_mmio_eventfd()) */
	struct hyp_vec smccc;	      /* struct hyp_smccc_range, sorted by first */
	struct hyp_vec sysregs;	      /* struct hyp_sysreg_handler, sorted by encoding */
	struct hyp_vec ram;	      /* struct hyp__ram: guest RAM from hyp_vm_ram_alloc() */
	/* The highest SPI a device model claimed (hyp__vm_claim_spi()), 0 if none: backends with
	 * their own GIC size it from this. */
	_Atomic uint32_t max_claimed_spi;
	struct hyp_exit_handler exit_handlers[HYP_EXIT_REASON_COUNT];
	/* Dirty-page logs, one per memory slot, allocated at the first hyp_vm_dirty_log_enable()
	 * (lib/core/dirty.c). */
	struct hyp_dirty_log *_Atomic dirty;
	/* Dirty rings (hyp_vm_config.dirty_ring_entries, 0: none): consumers of the rings
	 * (harvests, fetches, a full ring's spill) take turns under dirty_ring_lock. */
	uint32_t dirty_ring_entries;
	uint32_t dirty_ring_next; /* the vCPU the next harvest starts with (fairness) */
	atomic_flag dirty_ring_lock;
	_Atomic uint64_t dirty_ring_harvested, dirty_ring_full, dirty_ring_spilled;

	void *backend_state;
};

/* What must happen to the guest before it re-enters after an exit. */
enum hyp_completion {
	HYP_COMPLETE_NONE = 0,
	/* A raw syndrome decoded by lib/trap: finish it on the registered struct hyp_gp_regs. */
	HYP_COMPLETE_REGS,
	/* A backend-decoded exit: the backend's vcpu_complete() finishes it. */
	HYP_COMPLETE_BACKEND,
	/* An emulated instruction (lib/core/emulate.c) waits for the caller's answer to one of its
	 * MMIO elements: hyp__emulate_resume() goes on with it. */
	HYP_COMPLETE_EMULATION,
};

/* The most accesses one emulated instruction makes: LDP/STP of Q registers, each 16-byte register
 * as two 8-byte accesses. */
#define HYP_EMUL_MAX_ACCESSES 4

/* The load/store being emulated (lib/core/emulate.c); meaningful while it is in progress. */
struct hyp_emulation {
	struct hyp_ldst insn;
	uint64_t pstate;
	uint64_t va;	   /* the first access's virtual address */
	uint64_t wb_value; /* the base register's new value, if @writeback */
	/* The transfer registers' bytes, little-endian, register i at [16 * i]: store data, or
	 * loaded data as it arrives. */
	uint8_t data[32];
	hyp_ipa_t ipa[HYP_EMUL_MAX_ACCESSES];
	uint8_t nr_accesses; /* consecutive accesses of access_size bytes from @va */
	uint8_t access_size;
	uint8_t next; /* the access being performed */
	bool writeback;
};

/* What hyp__emulate_start()/resume() did. */
enum hyp_emul_result {
	/* The instruction completed (or an abort replaced it): the guest goes on. */
	HYP_EMUL_DONE = 0,
	/* An MMIO element went to the caller: hyp_vcpu_run() returns the exit record. */
	HYP_EMUL_EXIT,
	/* Not an instruction the library emulates: the exit stays a HYP_FAULT_NO_SYNDROME. */
	HYP_EMUL_UNEMULATABLE,
	/* A register or memory accessor failed (a backend error). */
	HYP_EMUL_FAILED,
};

struct hyp_vcpu {
	struct hyp_vm *vm;
	uint32_t index;
	struct hyp_gp_regs *regs;

	struct hyp_exit exit;
	struct hyp_trap_info trap_info;
	uint8_t completion; /* enum hyp_completion */
	bool pc_moved;
	/* The MMIO and SMCCC ranges that matched last: the next exit almost always hits the same.
	 * NULL after any reconfiguration (hyp__vm_reconfigure_end()), which is the only time the
	 * tables move. */
	const struct hyp_mmio_range *mmio_hint;
	const struct hyp_smccc_range *smccc_hint;

	bool initialised; /* the backend's vcpu_init succeeded */
	/* An exit of this vCPU is being dispatched on its thread (callbacks may run): what
	 * hyp_vcpu_exit_map() requires. Written and read by that thread only. */
	bool in_exit;
	_Atomic bool running;
	_Atomic bool kick;
	/* hyp_vcpu_kick() calls between their first and last touch of this vCPU or its VM: destroy
	 * waits for zero before freeing either (the lifetime rule in libhyp/vcpu.h). */
	_Atomic uint32_t kicks_in_flight;
	struct hyp_psci_cpu psci;
	struct hyp_emulation emul;
	/* Set only inside hyp__vcpu_inject_abort_fsc(): the fault status an abort built from the
	 * registers reports instead of a synchronous external abort. */
	bool inject_fsc_valid;
	uint8_t inject_fsc;
	/* The library's dirty ring for backends without their own (lib/core/dirty.c), or NULL. */
	struct hyp_dirty_ring *dirty_ring;

	size_t alloc_size;
	void *backend_state;
};

/* lib/core/ram.c */
struct hyp__ram {
	void *host;
	uint64_t size;
	uint32_t flags;
	bool backend; /* from ops.ram_alloc (else the generic hosted mmap) */
};
void hyp__ram_release_all(struct hyp_vm *vm);

/* lib/core/alloc.c */
void *hyp__alloc(struct hyp_vm *vm, size_t size, size_t align);

/* dirty.c: mark the pages of [@ipa, @ipa + @len) written (after the write), where logged; drop
 * a slot's log when its region goes; free every log with the VM. */
void hyp__dirty_mark(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t len);
/* memory.c: the first region that ends at or after @ipa (it may start after it), or NULL. */
const struct hyp_mem_region *hyp__mem_next(const struct hyp_vm *vm, hyp_ipa_t ipa);
void hyp__dirty_forget(struct hyp_vm *vm, uint32_t slot);
void hyp__dirty_release(struct hyp_vm *vm);
/* The same, for a write a vCPU made, seen on its thread: into its dirty ring if it has one. */
void hyp__dirty_mark_vcpu(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint64_t len);
/* The library's dirty ring of a new vCPU (if the VM needs one), and its end: the entries left are
 * moved into the regions' logs. */
int hyp__dirty_ring_vcpu_init(struct hyp_vcpu *vcpu);
void hyp__dirty_ring_vcpu_release(struct hyp_vcpu *vcpu);
/* Around a backend's own consumption of its rings outside ops.dirty_ring_harvest (kvm: a full
 * ring, a vCPU going away); @spilled pages moved into the logs, @full: a ring-full event. */
void hyp__dirty_ring_lock(struct hyp_vm *vm);
void hyp__dirty_ring_unlock(struct hyp_vm *vm, uint64_t spilled, bool full);
void hyp__free(struct hyp_vm *vm, void *ptr, size_t size);
int hyp__vec_insert(struct hyp_vm *vm, struct hyp_vec *vec, size_t elem_size, uint32_t at,
		    const void *elem, uint32_t max_count);
void hyp__vec_remove(struct hyp_vec *vec, size_t elem_size, uint32_t at);
void hyp__vec_release(struct hyp_vm *vm, struct hyp_vec *vec, size_t elem_size);
#if defined(HYP_HOSTED) && HYP_HOSTED
extern const struct hyp_alloc_ops hyp__malloc_ops;
#endif

/* lib/core/log.c */
void hyp__log(struct hyp_vm *vm, enum hyp_log_priority priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool hyp__log_priority_valid(int priority);
#define hyp__err(vm, ...) hyp__log(vm, HYP_LOG_ERROR, __VA_ARGS__)
#define hyp__warn(vm, ...) hyp__log(vm, HYP_LOG_WARNING, __VA_ARGS__)
#define hyp__dbg(vm, ...) hyp__log(vm, HYP_LOG_DEBUG, __VA_ARGS__)

/* lib/core/vm.c */
bool hyp__vm_reconfigure_begin(struct hyp_vm *vm);
void hyp__vm_reconfigure_end(struct hyp_vm *vm);
struct hyp_vcpu *hyp__vm_vcpu(const struct hyp_vm *vm, uint32_t index);

/* lib/core/vcpu.c: free a vCPU already unpublished from vm->vcpus, with the VM's reconfiguring bit
 * held, once nothing else can be touching it. */
void hyp__vcpu_free(struct hyp_vcpu *vcpu);
/* lib/core/vcpu.c: inject an EL1 exception on a backend that keeps registers in memory, using
 * lib/trap and the backend's sysreg accessors. */
int hyp__vcpu_inject_via_regs(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr);
/* hyp_vcpu_inject_exception() of an abort reporting fault status @fsc (ESR_EL1.ISS[5:0]) instead
 * of a synchronous external abort where the backend builds the ESR from the registers; @fsc < 0
 * means the external abort. Backends that inject themselves (KVM) report their own. */
int hyp__vcpu_inject_abort_fsc(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr,
			       int fsc);

/* lib/core/memory.c */
const struct hyp_mem_region *hyp__mem_find(const struct hyp_vm *vm, hyp_ipa_t ipa);

/* lib/core/handlers.c: exit-path lookups. */
const struct hyp_mmio_range *hyp__mmio_find_slow(const struct hyp_vm *vm, hyp_ipa_t ipa,
						 const struct hyp_mmio_range **hint);
const struct hyp_smccc_range *hyp__smccc_find_slow(const struct hyp_vm *vm, uint32_t conduit,
						   uint32_t function_id,
						   const struct hyp_smccc_range **hint);

/* The VM's end: the library's copies of the registered eventfds closed, the table freed. */
void hyp__mmio_eventfds_release(struct hyp_vm *vm);
/* A write that hyp_vm_add_mmio_eventfd() registered signals its eventfd; true if one took it. */
bool hyp__mmio_eventfd_write(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t data);

/* Before an MMIO callback: does an eventfd registered in @range take this access instead? (Hosted
 * builds only: the freestanding build registers none.) */
static inline bool hyp__mmio_to_eventfd(struct hyp_vm *vm, const struct hyp_mmio_range *range,
					const struct hyp_mmio_access *a)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (__builtin_expect(range->nr_eventfds != 0, 0) && a->is_write)
		return hyp__mmio_eventfd_write(vm, a->offset + range->base, a->len, a->data);
#else
	(void)vm;
	(void)range;
	(void)a;
#endif
	return false;
}

/* The range a vCPU hit last is almost always the one it hits next: check it in line. */
static inline const struct hyp_mmio_range *hyp__mmio_find(const struct hyp_vm *vm, hyp_ipa_t ipa,
							  const struct hyp_mmio_range **hint)
{
	const struct hyp_mmio_range *last = *hint;

	if (last && last->base <= ipa && ipa <= last->last)
		return last;
	return hyp__mmio_find_slow(vm, ipa, hint);
}

static inline const struct hyp_smccc_range *hyp__smccc_find(const struct hyp_vm *vm,
							    uint32_t conduit, uint32_t function_id,
							    const struct hyp_smccc_range **hint)
{
	const struct hyp_smccc_range *last = *hint;

	if (last && (last->conduits & conduit) && last->first <= function_id &&
	    function_id <= last->last)
		return last;
	return hyp__smccc_find_slow(vm, conduit, function_id, hint);
}
const struct hyp_sysreg_handler *hyp__sysreg_find(const struct hyp_vm *vm, uint32_t encoding);

/* lib/core/run.c */
enum hyp_handler_result hyp__dispatch_mmio(struct hyp_vcpu *vcpu, struct hyp_exit *exit);

/* lib/core/emulate.c: loads and stores without an instruction syndrome (HYP_FAULT_NO_SYNDROME). */
enum hyp_emul_result hyp__emulate_start(struct hyp_vcpu *vcpu);
enum hyp_emul_result hyp__emulate_resume(struct hyp_vcpu *vcpu);
/* The virtual address of the element being performed. */
uint64_t hyp__emulate_element_va(const struct hyp_vcpu *vcpu);
/* The fault status (0x14 + level) of an external abort on the guest's stage-1 walk of @va, by
 * walking its tables the way its MMU did; -1 if that walk does not fail on a table read now. */
int hyp__emulate_walk_abort_fsc(struct hyp_vcpu *vcpu, uint64_t va, bool fetch);

/* vcpu_enter's answer when the backend's fast path (fast-exit.h) already dispatched the exit to
 * the caller: hyp_vcpu_run() returns it as it stands. */
#define HYP__ENTER_DISPATCHED 1
void hyp__vm_signal_system_event(struct hyp_vm *vm, uint32_t type, uint64_t data);

/* lib/platform.c: a polite busy-wait step (sched_yield hosted, YIELD at EL2). */

/* lib/core/builtin.c: the backends compiled into this library. */
const struct hyp_backend_ops *hyp__builtin_backend(const char *name);
const struct hyp_backend_ops *hyp__builtin_backend_auto(void);

#endif /* HYP_INTERNAL_H */
