/* SPDX-License-Identifier: MIT */
/*
 * Virtual machines: creation, capabilities, guest memory.
 */
#ifndef LIBHYP_VM_H
#define LIBHYP_VM_H

#include <libhyp/log.h>
#include <libhyp/platform.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

struct hyp_backend_ops;

/**
 * struct hyp_alloc_ops - where the library gets memory for its own objects (handles, tables).
 * @alloc: return @size bytes aligned to @align (a power of two ≤ 4096), or NULL.
 * @free: release a block from @alloc; @size is the size that was asked for.
 * @opaque: passed to both.
 *
 * Hosted builds may leave this out (malloc/free are used). The freestanding build has no heap and
 * requires it.
 */
struct hyp_alloc_ops {
	void *(*alloc)(void *opaque, size_t size, size_t align);
	void (*free)(void *opaque, void *ptr, size_t size);
	void *opaque;
};

/** Which interrupt controller model the VM gets (struct hyp_vm_config.irqchip). */
enum hyp_irqchip {
	/** The backend's own GICv3 if it has one (KVM's in-kernel vGIC), else libhyp's. */
	HYP_IRQCHIP_AUTO = 0,
	/** Require the backend's own GICv3; -ENOTSUP if it has none. */
	HYP_IRQCHIP_BACKEND,
	/** Require libhyp's emulated GICv3 (lib/vgic): the el2 backend's (also what AUTO gives
	 *  there; see libhyp/el2.h for what the firmware must provide), and the mock's on request
	 *  (software CPU interface; hyp_mock_gic_irq_state()). kvm refuses it with -ENOTSUP (its
	 *  in-kernel vGIC is the one). */
	HYP_IRQCHIP_LIBRARY,
	/** No interrupt controller: injection calls fail with -ENOTSUP. */
	HYP_IRQCHIP_NONE,
};

/* What zero means in struct hyp_vm_config.ipa_bits and .max_vcpus. */
#define HYP_DEFAULT_IPA_BITS 40u
#define HYP_DEFAULT_MAX_VCPUS 8u
/** The largest vCPU count any backend supports (GICv3 affinity routing limits this far higher). */
#define HYP_MAX_VCPUS 512u

/** VM-wide policies (struct hyp_vm_config.flags). */
enum hyp_vm_flags {
	/**
	 * Answer guest accesses nobody claims with the architected fault instead of returning them
	 * to the caller: a load/store to an IPA with no memory and no MMIO or generic callback, an
	 * instruction fetch from one, or a load/store form that cannot be performed on a device
	 * (HYP_FAULT_NO_SYNDROME: exclusives, atomics, DC ZVA...) gets a synchronous external
	 * abort injected into the guest (as a bus with nothing there would), and hyp_vcpu_run()
	 * does not return. For an element of an emulated LDP/STP the abort reports that element's
	 * address, and the instruction has no further effect. Useful for partitions and VMMs
	 * that must not be stoppable by a stray access (hyp-run sets it by default). Needs
	 * HYP_CAP_INJECT_EXCEPTIONS for the kinds concerned (where it is missing, the exit is
	 * returned as usual).
	 */
	HYP_VM_ABORT_UNCLAIMED = 1u << 0,
};

/**
 * struct hyp_vm_config - how to create a VM. Zero-initialise, set @size, fill what you need.
 * @size: sizeof(struct hyp_vm_config) as the caller compiled it. Lets the struct grow: a library
 *	  reading an older, smaller struct treats missing fields as 0; a newer, larger struct is
 *	  accepted if every byte the library does not know is 0 (else -E2BIG).
 * @flags: enum hyp_vm_flags.
 * @backend: "kvm", "el2", "mock", or NULL / "auto" for the first built-in backend usable here
 *	     (kvm, then el2). The mock is never chosen automatically.
 * @backend_ops: a backend supplied by the caller (include/libhyp/backend.h); overrides @backend.
 * @backend_config: backend-specific settings (e.g. struct hyp_mock_config), or NULL; the backend
 *		    documents its type. Read during hyp_vm_create() only, unless that backend says
 *		    otherwise.
 * @alloc: allocator for the library's own objects, or NULL for malloc (hosted only).
 * @log_fn: log handler active from the start of creation (see hyp_vm_set_log_handler()).
 * @log_opaque: passed to @log_fn.
 * @log_priority: the least severe priority passed to @log_fn (an enum hyp_log_priority value); 0
 *		  means HYP_LOG_WARNING.
 * @ipa_bits: size of the guest physical address space in bits (32..52); 0 means 40.
 * @max_vcpus: the most vCPUs this VM will have (1..HYP_MAX_VCPUS); 0 means 8.
 * @irqchip: enum hyp_irqchip.
 * @gicd_base: GICv3 distributor IPA (64 KiB, 64 KiB aligned); 0 means HYP_DEFAULT_GICD_BASE.
 * @gicr_base: GICv3 redistributor region IPA (128 KiB per vCPU, 64 KiB aligned); 0 means
 *	       HYP_DEFAULT_GICR_BASE, which holds HYP_DEFAULT_GICR_MAX_VCPUS (123): a bigger VM
 *	       names its own (e.g. HYP_HIGH_GICR_BASE) and gives the same to hyp_fdt_build().
 * @dirty_ring_entries: 0, or give every vCPU a dirty-page ring of this many entries (a power of
 *			two from HYP_DIRTY_RING_MIN_ENTRIES to the VM's HYP_CAP_DIRTY_RING; see
 *			hyp_vm_dirty_ring_harvest()). Chosen here because KVM only lets a ring be
 *			enabled before the first vCPU exists.
 */
struct hyp_vm_config {
	uint32_t size;
	uint32_t flags;
	const char *backend;
	const struct hyp_backend_ops *backend_ops;
	const void *backend_config;
	const struct hyp_alloc_ops *alloc;
	hyp_log_fn log_fn;
	void *log_opaque;
	int32_t log_priority;
	uint32_t ipa_bits;
	uint32_t max_vcpus;
	uint32_t irqchip;
	hyp_ipa_t gicd_base;
	hyp_ipa_t gicr_base;
	uint32_t dirty_ring_entries;
};

/** The smallest dirty ring (struct hyp_vm_config.dirty_ring_entries): KVM's, one 4 KiB page of its
 *  16-byte entries. */
#define HYP_DIRTY_RING_MIN_ENTRIES 256u
/** The largest dirty ring any backend offers (KVM's limit, 1 MiB of entries). */
#define HYP_DIRTY_RING_MAX_ENTRIES 65536u

/**
 * hyp_vm_create() - create a virtual machine.
 * @config: the configuration (read only during the call).
 * @ret: on success, the new VM. Untouched on failure.
 *
 * The VM starts with no memory, no vCPUs and the built-in PSCI/SMCCC services active.
 *
 * Return: 0 on success; -EINVAL for a NULL argument, a @size too small for the first version of the
 * struct, or a field out of range (including GIC frames that overlap, or more than
 * HYP_DEFAULT_GICR_MAX_VCPUS vCPUs at the default redistributor base); -ERANGE for GIC frames
 * beyond the IPA space; -E2BIG for a larger struct with unknown non-zero fields; -ENOENT for a
 * backend name that is unknown or not built into this library; -ENODEV if no backend can run here
 * (automatic selection) or
 * the named one cannot; -ENOTSUP if the backend cannot provide what was asked (e.g. @irqchip,
 * @ipa_bits, a dirty ring: none on this host, or larger than its HYP_CAP_DIRTY_RING); -ENOMEM.
 * @dirty_ring_entries that is not 0 nor a power of two in [HYP_DIRTY_RING_MIN_ENTRIES,
 * HYP_DIRTY_RING_MAX_ENTRIES] is -EINVAL.
 */
HYP_API int hyp_vm_create(const struct hyp_vm_config *config, struct hyp_vm **ret);

/**
 * hyp_vm_destroy() - destroy a VM and all its vCPUs.
 * @vm: the VM, or NULL (does nothing).
 *
 * Refuses, changing nothing, while any vCPU of @vm is inside hyp_vcpu_run(): on another thread,
 * or the caller's own vCPU when called from one of its callbacks. Stop the vCPUs first (kick them,
 * let their hyp_vcpu_run() return, join their threads). A hyp_vcpu_kick() of one of its vCPUs
 * that is still returning on another thread or in a signal handler is waited for, so "kick all,
 * join, destroy" is safe even when the kicker is a watchdog thread; but no call on @vm or its
 * vCPUs may start once destroy has been called (see hyp_vcpu_kick()). Not async-signal-safe.
 * Guest memory is the caller's and is not freed. Devices (libhyp/dev.h) are destroyed first.
 *
 * Return: 0, and @vm and its vCPUs are gone; -EBUSY if a vCPU was running (nothing destroyed).
 */
HYP_API int hyp_vm_destroy(struct hyp_vm *vm);

/** hyp_vm_backend_name() - the name of the backend a VM runs on ("kvm", "mock", ...); NULL if @vm
 *  is NULL. */
HYP_API const char *hyp_vm_backend_name(const struct hyp_vm *vm);

/** Capabilities (hyp_vm_query_cap()). Booleans report 1 or 0; the others a number. */
enum hyp_cap {
	/** The backend provides its own GICv3 (e.g. KVM's in-kernel vGIC). */
	HYP_CAP_IRQCHIP_BACKEND = 1,
	/** The VM has an interrupt controller of either kind; SPI/PPI/SGI injection works. */
	HYP_CAP_IRQ_INJECTION,
	/** System-register accesses can trap to hyp_vm_add_sysreg_handler() callbacks. */
	HYP_CAP_SYSREG_TRAPS,
	/** HVC calls outside the backend's own services reach SMCCC handlers and exits. */
	HYP_CAP_SMCCC_HVC_EXITS,
	/** SMC calls reach SMCCC handlers and exits. */
	HYP_CAP_SMCCC_SMC_EXITS,
	/** PSCI calls are answered by libhyp's dispatcher (and so can be overridden by handlers);
	 *  0 means the backend answers PSCI itself (with the same semantics). */
	HYP_CAP_PSCI_OVERRIDE,
	/** hyp_vm_map() accepts read-only regions and guest writes to them exit as MMIO. */
	HYP_CAP_READONLY_MEM,
	/** Dirty-page logging works: hyp_vm_dirty_log_enable() and hyp_vm_dirty_log_fetch() (kvm
	 *  with 4 KiB host pages, el2, mock). */
	HYP_CAP_DIRTY_LOG,
	/** WFI/WFE can be returned to the caller. */
	HYP_CAP_WFX_EXITS,
	/** Number: the largest vCPU count for this VM. */
	HYP_CAP_MAX_VCPUS,
	/** Number: the VM's IPA size in bits. */
	HYP_CAP_IPA_BITS,
	/** Accesses without an instruction syndrome (ISV=0) are reported as HYP_FAULT_NO_SYNDROME
	 *  exits instead of failing the run. */
	HYP_CAP_NO_SYNDROME_EXITS,
	/** Bit mask: (1 << kind) for each enum hyp_inject_kind hyp_vcpu_inject_exception() can
	 *  inject on this VM. */
	HYP_CAP_INJECT_EXCEPTIONS,
	/** hyp_vcpu_config.mpidr may name any affinity (0: only the index-derived default). */
	HYP_CAP_CUSTOM_MPIDR,
	/** Number: the largest per-vCPU dirty ring (struct hyp_vm_config.dirty_ring_entries) this
	 *  backend and host offer, whether or not this VM has one; 0: none (kvm before Linux 6.3,
	 *  or without KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, or with host pages other than 4 KiB). */
	HYP_CAP_DIRTY_RING,
	/** Bits: the optional CPU features this VM's vCPUs have. kvm: enum hyp_kvm_cpu_feature
	 *  (struct hyp_kvm_config: those required plus those wanted that the host offered);
	 *  0 on the other backends, which have none to choose. */
	HYP_CAP_CPU_FEATURES,
	HYP_CAP_COUNT
};

/**
 * hyp_vm_query_cap() - ask what a VM's backend can do.
 * @vm: the VM.
 * @cap: enum hyp_cap.
 * @value: receives 1/0 for a boolean capability, or the number.
 *
 * Return: 0 and *@value; -EINVAL for NULL arguments or an unknown @cap.
 */
HYP_API int hyp_vm_query_cap(const struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value);

/** Guest memory flags (hyp_vm_map()). */
enum hyp_mem_flags {
	HYP_MEM_READ = 1u << 0,
	HYP_MEM_WRITE = 1u << 1,
	HYP_MEM_EXEC = 1u << 2,
	/** Shorthands. */
	HYP_MEM_RWX = HYP_MEM_READ | HYP_MEM_WRITE | HYP_MEM_EXEC,
	HYP_MEM_RX = HYP_MEM_READ | HYP_MEM_EXEC,
	HYP_MEM_RO = HYP_MEM_READ,
};

/** The granule every hyp_vm_map() argument must be aligned to. */
#define HYP_PAGE_SIZE 4096u

/**
 * hyp_vm_map() - give the guest memory.
 * @vm: the VM.
 * @ipa: guest physical address of the region; HYP_PAGE_SIZE aligned.
 * @host: the memory backing it (a host virtual address; at EL2 the firmware's address of it);
 *	  HYP_PAGE_SIZE aligned. The caller keeps ownership and must keep it valid until the region
 *	  is unmapped or the VM destroyed.
 * @size: bytes; a non-zero multiple of HYP_PAGE_SIZE.
 * @flags: HYP_MEM_READ is required; add HYP_MEM_WRITE and/or HYP_MEM_EXEC. Without WRITE the region
 *	   is read-only: guest writes exit as MMIO (see HYP_CAP_READONLY_MEM).
 *
 * Not while a vCPU of @vm runs (-EBUSY); an exit callback changes the map with
 * hyp_vcpu_exit_map() instead.
 *
 * Alignment and speed: HYP_PAGE_SIZE alignment is all that is required, but on kvm a region whose
 * @host address and @ipa are not congruent modulo 2 MiB (HYP_RAM_ALIGN), or whose memory may not
 * use transparent huge pages, is mapped at stage 2 in 4 KiB pages: a Linux guest then takes some
 * 15,000 extra stage-2 faults per boot (about 5% of it). hyp_vm_ram_alloc() returns memory that
 * avoids this; memory from elsewhere should be 2 MiB aligned (and madvise(MADV_HUGEPAGE)d) and
 * mapped at a 2 MiB aligned @ipa.
 *
 * Return: 0; -EINVAL for NULL, misalignment, zero size, unknown flags or missing READ; -ERANGE if
 * the region does not fit in the IPA space (or wraps); -EEXIST if it overlaps a mapped region;
 * -ENOTSUP for read-only or non-executable memory on a backend without it; -EBUSY if a vCPU is
 * running; -ENOMEM or a backend error.
 */
HYP_API int hyp_vm_map(struct hyp_vm *vm, hyp_ipa_t ipa, void *host, uint64_t size, uint32_t flags);

/** Flags for hyp_vm_ram_alloc(). */
enum hyp_ram_flags {
	/** kvm: back the memory with explicit huge pages (a hugetlbfs memfd,
	 *  memfd_create(MFD_HUGETLB)) instead of transparent huge pages. The host must have enough
	 *  2 MiB pages reserved (/proc/sys/vm/nr_hugepages), else -ENOMEM; @size is rounded up to
	 *  2 MiB. Other backends: -ENOTSUP. */
	HYP_RAM_HUGETLB = 1u << 0,
};

/** The alignment hyp_vm_ram_alloc() gives on kvm, and the one to map guest RAM at. */
#define HYP_RAM_ALIGN (2u << 20)

/**
 * hyp_vm_ram_alloc() - allocate guest RAM the way the VM's backend wants it.
 * @vm: the VM.
 * @size: bytes; a non-zero multiple of HYP_PAGE_SIZE.
 * @flags: enum hyp_ram_flags.
 * @ret: receives the memory (zeroed, HYP_PAGE_SIZE aligned). Untouched on failure.
 *
 * The memory is then given to the guest with hyp_vm_map() as usual. What each backend returns:
 * kvm: anonymous memory aligned to HYP_RAM_ALIGN with transparent huge pages requested
 * (madvise(MADV_HUGEPAGE)), reserved lazily (pages are only taken when touched), so that KVM maps
 * it at stage 2 in 2 MiB blocks when mapped at a 2 MiB aligned IPA; or hugetlbfs pages with
 * HYP_RAM_HUGETLB. el2: physically contiguous pages from the firmware's
 * struct hyp_el2_platform.alloc_pages. mock and other hosted backends: plain anonymous memory.
 *
 * The VM owns the memory: hyp_vm_destroy() frees what hyp_vm_ram_free() did not, after the VM
 * stopped using it. The caller must not free it otherwise. Like hyp_vm_map(), not while a vCPU
 * of @vm runs.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size or unknown @flags; -ENOTSUP if the backend
 * cannot honour @flags or (freestanding build) has no allocator for guest RAM; -EBUSY if a vCPU
 * is running; -ENOMEM.
 */
HYP_API int hyp_vm_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret);

/**
 * hyp_vm_ram_free() - free guest RAM from hyp_vm_ram_alloc() before the VM is destroyed.
 * @vm: the VM.
 * @host: the pointer hyp_vm_ram_alloc() returned.
 * @size: the size that was asked for.
 *
 * Return: 0; -EINVAL for NULL; -ENOENT if (@host, @size) is not an allocation of @vm;
 * -EBUSY if part of it is still mapped into the VM (hyp_vm_unmap() it first) or a vCPU is
 * running.
 */
HYP_API int hyp_vm_ram_free(struct hyp_vm *vm, void *host, uint64_t size);

/**
 * hyp_vm_unmap() - remove a region added by hyp_vm_map().
 * @vm: the VM.
 * @ipa: the region's IPA, exactly as mapped.
 * @size: its size, exactly as mapped.
 *
 * Return: 0; -EINVAL for a NULL @vm; -ENOENT if no region was mapped with exactly this IPA and size;
 * -EBUSY if a vCPU is running (from an exit callback: hyp_vcpu_exit_unmap()).
 */
HYP_API int hyp_vm_unmap(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t size);

/**
 * hyp_vcpu_exit_map() - hyp_vm_map() from inside an exit callback.
 * @vcpu: the vCPU whose exit callback (MMIO, SMCCC, sysreg or generic) is running, on its thread.
 * @ipa: as hyp_vm_map().
 * @host: as hyp_vm_map().
 * @size: as hyp_vm_map().
 * @flags: as hyp_vm_map().
 *
 * What a device does when it changes what the guest sees at an address, like a flash leaving
 * read-array mode (its memory becomes registers) or returning to it, without stopping the VM:
 * hyp_vm_map() itself refuses while any vCPU runs. Allowed while @vcpu is the only vCPU of its VM
 * inside hyp_vcpu_run(), because other vCPUs' exit paths read the memory map without a lock (the
 * backends themselves would allow more: KVM updates stage 2 under its own lock). A vCPU entering
 * hyp_vcpu_run() meanwhile waits until the change is done. Works on every backend: callbacks run
 * between two guest entries, where the backend's mem_map method is as safe as with the VM idle.
 * When the call returns the change is in effect: the guest's next access sees it.
 *
 * Return: as hyp_vm_map(); -EINVAL also for a NULL @vcpu or one not stopped in an exit being
 * dispatched (outside its callbacks; calling from another thread while the vCPU is in a callback
 * is a misuse the library cannot detect); -EBUSY if another vCPU of the VM is inside
 * hyp_vcpu_run() (the caller keeps its previous view and must cope, e.g. by serving the range
 * through MMIO or rewriting the memory's contents).
 */
HYP_API int hyp_vcpu_exit_map(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, void *host, uint64_t size,
			      uint32_t flags);

/**
 * hyp_vcpu_exit_unmap() - hyp_vm_unmap() from inside an exit callback on @vcpu.
 *
 * The rules of hyp_vcpu_exit_map() apply: the guest's next access to the range exits (as MMIO if
 * a callback claims it). Return: as hyp_vm_unmap(); -EINVAL for a NULL @vcpu or one not stopped in
 * an exit being dispatched; -EBUSY if another vCPU of the VM is inside hyp_vcpu_run().
 */
HYP_API int hyp_vcpu_exit_unmap(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint64_t size);

/**
 * hyp_vm_write_guest() - copy bytes into guest memory.
 * @vm: the VM.
 * @ipa: destination guest physical address.
 * @src: source bytes (may be NULL when @len is 0).
 * @len: byte count (0 is allowed).
 *
 * The whole range must be mapped RAM (it may span adjacent regions; read-only regions are written
 * too, this is the VMM's view). Nothing is written unless the whole range is valid. Safe from any
 * thread (device threads, vCPU callbacks) as long as no hyp_vm_map()/hyp_vm_unmap() on the same VM
 * runs concurrently: those change the region table these read, and the VMM serialises them.
 *
 * Return: 0; -EINVAL for NULL arguments; -EFAULT if any byte is not backed by mapped memory.
 */
HYP_API int hyp_vm_write_guest(struct hyp_vm *vm, hyp_ipa_t ipa, const void *src, size_t len);

/**
 * hyp_vm_read_guest() - copy bytes out of guest memory.
 *
 * The counterpart of hyp_vm_write_guest(), with the same rules and errors; @dst is untouched on
 * failure.
 */
HYP_API int hyp_vm_read_guest(const struct hyp_vm *vm, hyp_ipa_t ipa, void *dst, size_t len);

/**
 * hyp_vm_guest_span() - the host address of @ipa and how far its memory region goes from there.
 * @vm: the VM.
 * @ipa: a guest physical address.
 * @writable: require a region the guest may write (device DMA into guest RAM).
 * @host: receives the host pointer backing @ipa. Untouched on failure.
 * @len: receives the bytes from @ipa to the end of the region that contains it (at least 1).
 *	 Untouched on failure.
 *
 * The primitive for device models that walk guest buffers spread over several regions: the
 * buffer's bytes from @ipa on are at *@host for *@len bytes, and the rest starts at @ipa + *@len in
 * another region (or nowhere). Adjacent regions are not merged: each hyp_vm_map() call is one.
 *
 * Return: 0; -EINVAL for NULL arguments; -EFAULT if @ipa is not in mapped memory (or @writable and
 * its region is read-only).
 */
HYP_API int hyp_vm_guest_span(const struct hyp_vm *vm, hyp_ipa_t ipa, bool writable, void **host,
			      uint64_t *len);

/**
 * hyp_vm_hold_memory() - keep the VM's memory map as it is while this thread uses guest memory
 * outside a vCPU's exit (a device's I/O thread serving a request).
 * @vm: the VM.
 *
 * A vCPU inside hyp_vcpu_run() holds the map already: hyp_vm_map() and the other changes of the
 * VM's configuration fail with -EBUSY then. A hold is gentler: such a change from a VMM thread,
 * or hyp_vcpu_exit_map()/unmap() from an exit callback, waits until every hold is released
 * (holds are meant to last one batch of work, not longer), and a hold taken while a change is
 * under way waits for its end. Pointers from hyp_vm_guest_span() and hyp_vm_guest_ptr() stay
 * valid until the release. Holds nest and may come from several threads (up to
 * HYP_VM_MAX_HOLDS at a time); do not call hyp_vm_map() or the like while holding (it would wait
 * for itself), nor hold from inside an exit callback (use the vCPU's own hold).
 *
 * Return: 0; -EINVAL for NULL; -EAGAIN if HYP_VM_MAX_HOLDS holds are taken already.
 */
HYP_API int hyp_vm_hold_memory(struct hyp_vm *vm);

/** The most hyp_vm_hold_memory() holds of one VM at a time. */
#define HYP_VM_MAX_HOLDS 16383u

/**
 * hyp_vm_release_memory() - end one hyp_vm_hold_memory().
 *
 * Return: 0; -EINVAL for NULL or a VM that has no hold to release (nothing changes).
 */
HYP_API int hyp_vm_release_memory(struct hyp_vm *vm);

/**
 * hyp_vm_alloc() - memory from the VM's allocator, for objects that live with the VM.
 * @vm: the VM.
 * @size: bytes (non-zero); they come zeroed.
 * @align: a power of two, at most 4096.
 *
 * The allocator is struct hyp_vm_config.alloc (malloc when none was given, hosted only). Device
 * models and backends use it so that they run unchanged in firmware without a heap of its own.
 *
 * Return: the block, or NULL on failure or bad arguments.
 */
HYP_API void *hyp_vm_alloc(struct hyp_vm *vm, size_t size, size_t align);

/** hyp_vm_free() - give back a block from hyp_vm_alloc(); @size as allocated. NULL @vm or @ptr
 *  does nothing. */
HYP_API void hyp_vm_free(struct hyp_vm *vm, void *ptr, size_t size);

/**
 * hyp_vm_guest_ptr() - the host address backing a guest range, for zero-copy device models.
 * @vm: the VM.
 * @ipa: start of the range.
 * @len: its length (non-zero); the range must lie within one mapped region.
 * @writable: require a region the guest may write (device DMA into guest RAM).
 * @ret: receives the host pointer. Untouched on failure.
 *
 * Return: 0; -EINVAL for NULL arguments or @len 0; -EFAULT if the range is not inside one region
 * (or @writable and the region is read-only).
 */
HYP_API int hyp_vm_guest_ptr(const struct hyp_vm *vm, hyp_ipa_t ipa, size_t len, bool writable,
			     void **ret);

/**
 * hyp_vm_dirty_log_enable() - start or stop logging which pages of a memory region get written.
 * @vm: the VM.
 * @ipa: the region's IPA, exactly as given to hyp_vm_map().
 * @enable: true to start (the region's log starts empty), false to stop. Asking for the state the
 *	    region is already in does nothing.
 *
 * While a region is logged, each HYP_PAGE_SIZE page the guest writes is reported once by the next
 * hyp_vm_dirty_log_fetch(), and so is each page the VMM writes with hyp_vm_write_guest(). Writes
 * through pointers from hyp_vm_guest_ptr()/hyp_vm_guest_span() are the VMM's own business: the
 * library cannot see them. May be called while vCPUs run (pre-copy of a live guest: a write that
 * happens after the call returns is logged); not concurrently with hyp_vm_map()/hyp_vm_unmap() or
 * another dirty-log call on the same region (the VMM serialises those). Unmapping the region ends
 * its log.
 *
 * Return: 0; -EINVAL for a NULL @vm or a read-only region (the guest cannot write it); -ENOENT if
 * no region starts at @ipa; -ENOTSUP if the backend cannot log (HYP_CAP_DIRTY_LOG = 0); -ENOMEM;
 * a backend error.
 */
HYP_API int hyp_vm_dirty_log_enable(struct hyp_vm *vm, hyp_ipa_t ipa, bool enable);

/**
 * hyp_vm_dirty_log_fetch() - report the pages of a logged region written since the last fetch,
 * and clear them.
 * @vm: the VM.
 * @ipa: the region's IPA, exactly as given to hyp_vm_map().
 * @bitmap: receives one bit per page: bit (n % 64) of @bitmap[n / 64] is the page at
 *	    @ipa + n * HYP_PAGE_SIZE. Only the first (pages + 63) / 64 words are written.
 * @words: the number of words at @bitmap.
 *
 * A page written while the fetch runs is reported by this fetch or by the next one, never lost:
 * copy the reported pages after the fetch returns. Safe while vCPUs run. On the mock and el2
 * backends exactly the written pages are reported; kvm reports what KVM_GET_DIRTY_LOG says, which
 * can include pages KVM itself wrote for the guest.
 *
 * On a VM with a dirty ring, the fetch first moves every entry still in the vCPUs' rings (of all
 * regions) into the regions' logs, so a fetch alone still reports every written page; see
 * hyp_vm_dirty_ring_harvest() for the cheaper way.
 *
 * Return: the number of pages reported (INT32_MAX if more); -EINVAL for NULL arguments or a region
 * that is not being logged; -ENOENT if no region starts at @ipa; -ERANGE if @words is too small; a
 * backend error.
 */
HYP_API int hyp_vm_dirty_log_fetch(struct hyp_vm *vm, hyp_ipa_t ipa, uint64_t *bitmap,
				   size_t words);

/**
 * hyp_vm_dirty_ring_harvest() - collect the pages the vCPUs wrote, from their dirty rings.
 * @vm: a VM created with struct hyp_vm_config.dirty_ring_entries.
 * @pages: receives the IPA of each page reported (HYP_PAGE_SIZE aligned), in the order each
 *	   vCPU wrote them, vCPU after vCPU.
 * @max: room at @pages, in entries (at least 1).
 *
 * The dirty ring is the log for a VMM that copies a guest's memory often (live migration,
 * snapshots): its cost follows the number of pages written, not the size of guest memory as a
 * bitmap fetch does. Logging is still switched per region with hyp_vm_dirty_log_enable(); a
 * vCPU's first write to a page of a logged region appends that page to the vCPU's ring (on kvm,
 * KVM's own ring, KVM_CAP_DIRTY_LOG_RING_ACQ_REL; on el2 and mock, a ring the library keeps).
 * Every page returned is armed again before the call returns: copy it afterwards, and a later
 * write reports it again. A page may be reported more than once (written again after a harvest,
 * or a stale entry of a region whose logging was switched off and on; entries of regions no longer
 * logged are dropped). Safe while vCPUs run, and from several threads (harvests of one VM take
 * turns); like a fetch, not concurrently with a change of the VM's memory map (hyp_vm_map(),
 * hyp_vm_unmap(), hyp_vcpu_exit_map()), which the VMM serialises.
 *
 * What the ring does not carry goes to the regions' logs, which hyp_vm_dirty_log_fetch() reports:
 * pages written outside a vCPU (the VMM's hyp_vm_write_guest(), the virtio devices; on kvm, pages
 * KVM writes for the VM without a vCPU, such as the ITS tables), and the pages of a ring that
 * filled up: when a vCPU's ring is full (KVM_EXIT_DIRTY_RING_FULL on kvm) the library moves its
 * entries into the logs on the vCPU's thread and lets the guest go on; nothing is lost and the
 * vCPU never waits for the VMM (hyp_vm_dirty_ring_stats() counts it). So a complete round is:
 * harvest until the call returns less than @max, then fetch the logged regions' bitmaps.
 *
 * Return: the number of pages written to @pages (0..@max; @max means more may be waiting);
 * -EINVAL for a NULL @vm or @pages, @max 0, or a VM without a dirty ring; a backend error (the
 * entries already taken are then in the regions' logs, not lost).
 */
HYP_API int hyp_vm_dirty_ring_harvest(struct hyp_vm *vm, hyp_ipa_t *pages, size_t max);

/**
 * struct hyp_dirty_ring_stats - what a VM's dirty rings did since its creation.
 * @size: sizeof(struct hyp_dirty_ring_stats) as the caller compiled it.
 * @entries: the ring size of each vCPU (struct hyp_vm_config.dirty_ring_entries).
 * @harvested: pages returned by hyp_vm_dirty_ring_harvest().
 * @full: times a vCPU's ring filled up (kvm: KVM_EXIT_DIRTY_RING_FULL exits; el2, mock: writes
 *	  that found the ring full after one that did not).
 * @spilled: pages moved from a ring (or, el2 and mock, not appended to a full ring) into the
 *	     regions' logs: by a full ring, or by hyp_vm_dirty_log_fetch().
 */
struct hyp_dirty_ring_stats {
	uint32_t size;
	uint32_t entries;
	uint64_t harvested;
	uint64_t full;
	uint64_t spilled;
};

/**
 * hyp_vm_dirty_ring_stats() - read a VM's dirty ring counters (to size the ring: a ring that fills
 * often costs the VMM bitmap fetches and, on kvm, the vCPU an exit each time).
 * @vm: a VM with a dirty ring.
 * @stats: set @stats->size first; receives the counters (fields past @size are not written).
 *
 * Return: 0; -EINVAL for NULL arguments, a @size smaller than the first version of the struct, or a
 * VM without a dirty ring.
 */
HYP_API int hyp_vm_dirty_ring_stats(const struct hyp_vm *vm, struct hyp_dirty_ring_stats *stats);

HYP_END_DECLS

#endif /* LIBHYP_VM_H */
