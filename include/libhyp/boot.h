/* SPDX-License-Identifier: MIT */
/*
 * Guest loading: place an arm64 Linux Image, an ELF64 or a raw binary, an initrd and a device tree
 * in guest RAM, and set up the boot vCPU's entry registers.
 *
 * Three steps, so the device tree can describe where the initrd went:
 *
 *	struct hyp_boot_config bc = { .size = sizeof(bc), .ram_base = 0x40000000,
 *				      .ram_size = 256 << 20, .kernel = image, .kernel_size = n,
 *				      .initrd = rd, .initrd_size = m, .dtb_size = 64 << 10 };
 *	struct hyp_boot_layout lay = { .size = sizeof(lay) };
 *
 *	hyp_boot_plan(&bc, &lay);			// where everything goes; nothing written
 *	fdt.initrd_start = lay.initrd_start;		// describe it (libhyp/fdt.h)
 *	fdt.initrd_end = lay.initrd_end;
 *	hyp_fdt_build(&fdt, dtb, bc.dtb_size, &dtb_size);
 *	hyp_boot_load(vm, &bc, dtb, dtb_size, NULL);	// same plan, then write guest RAM
 *	hyp_boot_setup_vcpu(vcpu0, &lay);		// x0 = DTB, PC = entry, EL1h, DAIF masked
 *
 * Without copies: the kernel and the initrd may be given as file descriptors (HYP_BOOT_KERNEL_FD,
 * HYP_BOOT_INITRD_FD): hyp_boot_plan() then reads only the headers, and hyp_boot_load() reads the
 * files straight into guest RAM (pread(), no buffer in between). A mapping of the file (mmap())
 * passed as @kernel / @initrd works the same way without a descriptor. Either way the library
 * keeps nothing once the call returns: the caller closes or unmaps the files after loading.
 *
 * The kernel, initrd and DTB are untrusted input: every header field is checked with
 * overflow-safe arithmetic, and every placement is verified against guest RAM before the first
 * byte is written. A failed hyp_boot_load() leaves guest memory exactly as it was.
 *
 * Errors, for every function here: -EINVAL for bad arguments; -E2BIG for a sized struct with
 * unknown non-zero fields; -ENOEXEC for a kernel that is not a recognised image or is corrupt
 * (short or bad header, absurd fields, segments outside the file, overlapping segments, an
 * unaligned or stray entry point); -ERANGE for an address the image or the caller fixed (an ELF
 * segment, the raw load address, a requested Image base) that lies outside guest RAM; -ENOSPC
 * when guest RAM is too small for the kernel's footprint, the initrd or the DTB space; -EFAULT
 * (hyp_boot_load()) when part of the plan is not backed by memory mapped into the VM. (The
 * freestanding build uses the Linux errno numbers: ENOEXEC is 8.)
 */
#ifndef LIBHYP_BOOT_H
#define LIBHYP_BOOT_H

#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Kernel image formats (struct hyp_boot_config.kernel_format). */
enum hyp_boot_format {
	/** Recognise an arm64 Linux Image (incl. EFI-stub "MZ" Images) or an ELF64 by its magic. */
	HYP_BOOT_FORMAT_AUTO = 0,
	/** arm64 Linux Image (Documentation/arch/arm64/booting.rst), optionally EFI-stub. */
	HYP_BOOT_FORMAT_ARM64_IMAGE,
	/** ELF64, little-endian, EM_AARCH64. ET_EXEC: PT_LOAD segments at their p_paddr. ET_DYN
	 *  (position-independent): at struct hyp_boot_config.load_addr + p_vaddr, entered at
	 *  load_addr + e_entry (the program relocates itself, as PIE firmware and kernels do). */
	HYP_BOOT_FORMAT_ELF,
	/** Raw bytes loaded at struct hyp_boot_config.load_addr and entered there. Never chosen
	 *  by HYP_BOOT_FORMAT_AUTO. */
	HYP_BOOT_FORMAT_RAW,
};

/** Flags for struct hyp_boot_config. */
enum hyp_boot_flags {
	/** No device tree: no space is reserved, hyp_boot_load() takes no DTB, x0 is 0. */
	HYP_BOOT_NO_DTB = 1u << 0,
	/** Read the kernel from struct hyp_boot_config.kernel_fd (hosted builds). */
	HYP_BOOT_KERNEL_FD = 1u << 1,
	/** Read the initrd from struct hyp_boot_config.initrd_fd (hosted builds). */
	HYP_BOOT_INITRD_FD = 1u << 2,
	/** Place the DTB and the initrd at the top of RAM (the DTB highest, the initrd right below
	 *  it), within the 32 GiB window booting.rst requires, instead of right above the
	 *  kernel; if they do not fit between the kernel's footprint and that top, the default
	 *  placement is used. Linux makes its early allocations from the top of RAM down, so
	 *  this puts them in the 2 MiB blocks the guest touches anyway: with guest RAM backed
	 *  by 2 MiB pages (hyp_vm_ram_alloc() on kvm) the VMM's resident size is one huge page
	 *  smaller for a Linux boot. Not for Images before v4.2, which need the DTB within
	 *  512 MiB of the kernel's base (those before v3.17, with no image_size, are placed as
	 *  they need anyway). */
	HYP_BOOT_PLACE_HIGH = 1u << 3,
};

/** With HYP_BOOT_KERNEL_FD, the bytes at the start of the kernel file the headers must lie in (an
 *  ELF's program header table, an EFI stub's PE section table); the rest is only ever read into
 *  guest RAM. */
#define HYP_BOOT_FD_HEADER_MAX (64u << 10)

/** arm64 Image header flags (struct hyp_boot_layout.image_flags), booting.rst "flags". */
#define HYP_BOOT_IMAGE_BE (1ull << 0)
#define HYP_BOOT_IMAGE_PAGE_SIZE(flags) (((flags) >> 1) & 3u)
#define HYP_BOOT_IMAGE_ANY_PLACEMENT (1ull << 3)

/** The most DTB space a plan reserves (the arm64 Linux limit; see also HYP_FDT_MAX_SIZE). */
#define HYP_BOOT_DTB_MAX_SIZE (2u << 20)
/** The most ELF program headers accepted, and of those the most PT_LOAD segments with a
 *  non-zero p_memsz. */
#define HYP_BOOT_ELF_MAX_PHDRS 256u
#define HYP_BOOT_ELF_MAX_SEGMENTS 32u

/**
 * struct hyp_boot_config - what to load where. Zero-initialise, set @size, fill what you need.
 * @size: sizeof(struct hyp_boot_config); same growth rules as struct hyp_vm_config.
 * @flags: enum hyp_boot_flags.
 * @ram_base: the guest RAM range everything is placed in (HYP_PAGE_SIZE aligned). It must be
 *	      mapped into the VM (hyp_vm_map(), possibly as several adjacent regions) before
 *	      hyp_boot_load().
 * @ram_size: its size in bytes: a non-zero multiple of HYP_PAGE_SIZE.
 * @kernel: the kernel file's bytes (the caller's; read during the calls only).
 * @kernel_size: its length.
 * @kernel_format: enum hyp_boot_format.
 * @reserved: must be 0.
 * @load_addr: HYP_BOOT_FORMAT_RAW: where the bytes go and the entry point (4-byte aligned, in
 *	       RAM). HYP_BOOT_FORMAT_ARM64_IMAGE: the 2 MiB aligned base the Image is placed
 *	       text_offset bytes above; 0 means the lowest 2 MiB boundary in RAM. A kernel whose
 *	       header says it must sit near the start of RAM (flags bit 3 clear) only accepts
 *	       that lowest base. ELF ET_DYN: the base the image is placed at, aligned to its
 *	       largest segment alignment (at least 4 KiB); 0 means the lowest 2 MiB boundary in
 *	       RAM (or higher, for an alignment above 2 MiB). ELF ET_EXEC: must be 0.
 * @initrd: the initrd / initramfs bytes, or NULL for none.
 * @initrd_size: their length (0 when @initrd is NULL).
 * @dtb_size: bytes reserved for the DTB, 8..HYP_BOOT_DTB_MAX_SIZE (rounded up to 8); 0 means
 *	      HYP_BOOT_DTB_MAX_SIZE. Ignored with HYP_BOOT_NO_DTB.
 * @footprint: HYP_BOOT_FORMAT_RAW: the bytes the program occupies from @load_addr once running
 *	       (its file plus BSS, stack, heap...), kept clear of the DTB and initrd; 0 means the
 *	       file size, and a value below it is raised to it. Other formats must leave it 0
 *	       (their headers say: Image image_size, ELF p_memsz).
 * @kernel_fd: with HYP_BOOT_KERNEL_FD: a readable file descriptor of the kernel (the caller's;
 *	       read with pread() at offsets from 0, its file offset is not used or changed). @kernel
 *	       must then be NULL; @kernel_size is the file's length to use, or 0 for its whole size
 *	       (fstat(), a regular file). Ignored without the flag.
 * @initrd_fd: with HYP_BOOT_INITRD_FD: the same for the initrd (@initrd NULL, @initrd_size its
 *	       length or 0 for the whole file). Ignored without the flag.
 */
struct hyp_boot_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t ram_base;
	uint64_t ram_size;
	const void *kernel;
	size_t kernel_size;
	uint32_t kernel_format;
	uint32_t reserved;
	hyp_ipa_t load_addr;
	const void *initrd;
	size_t initrd_size;
	uint64_t dtb_size;
	uint64_t footprint;
	int32_t kernel_fd;
	int32_t initrd_fd;
};

/**
 * struct hyp_boot_layout - where a plan puts things. Set @size before passing it to be filled.
 * @size: sizeof(struct hyp_boot_layout) as the caller compiled it; the library fills at most
 *	  that many bytes.
 * @format: the enum hyp_boot_format the kernel was recognised as (never AUTO).
 * @kernel_start: the lowest guest address the kernel occupies (Image: the 2 MiB aligned base plus
 *		  text_offset; ELF: the lowest PT_LOAD p_paddr, or base + p_vaddr for ET_DYN; raw:
 *		  the load address).
 * @kernel_end: the first address after its footprint (Image: start plus image_size, BSS
 *		included; ELF: the highest segment end, p_memsz included; raw: the load address
 *		plus the footprint).
 * @entry: the guest PC to start at.
 * @dtb_addr: the DTB's address (8-byte aligned, in RAM, outside the kernel and initrd); 0 with
 *	      HYP_BOOT_NO_DTB.
 * @dtb_size: the bytes reserved there (the most hyp_boot_load() accepts).
 * @initrd_start: the initrd's first byte (page aligned); 0 when there is none.
 * @initrd_end: the first byte after it, as /chosen/linux,initrd-end wants; 0 when none.
 * @image_flags: an arm64 Image's header flags (HYP_BOOT_IMAGE_*), else 0.
 *
 * Placement: an Image goes text_offset above the lowest 2 MiB boundary in RAM (or @load_addr);
 * the DTB follows the kernel's footprint at the next page boundary, and the initrd follows the
 * DTB space at the next page boundary. The DTB thus sits right above the kernel, within the 512
 * MiB pre-v4.2 kernels required, and the initrd in the same 32 GiB window as the kernel
 * (booting.rst). For an ELF or a raw binary that leaves no room above, the DTB and the initrd go
 * below the kernel instead. Kernels from before v3.17 (image_size 0, text_offset taken as 0x80000)
 * have an unknown BSS, so the initrd goes to the top of RAM and the DTB just below it.
 */
struct hyp_boot_layout {
	uint32_t size;
	uint32_t format;
	hyp_ipa_t kernel_start;
	hyp_ipa_t kernel_end;
	hyp_ipa_t entry;
	hyp_ipa_t dtb_addr;
	uint64_t dtb_size;
	hyp_ipa_t initrd_start;
	hyp_ipa_t initrd_end;
	uint64_t image_flags;
};

/**
 * hyp_boot_plan() - check a kernel (and initrd) and compute where everything goes.
 * @config: what to load (read only during the call).
 * @layout: receives the placements; set its @size first. Untouched on failure.
 *
 * Pure: touches no VM. hyp_boot_load() with the same @config computes the same layout.
 *
 * Return: 0; an error listed at the top of this header (-EINVAL also for a @layout whose @size is
 * too small).
 */
HYP_API int hyp_boot_plan(const struct hyp_boot_config *config, struct hyp_boot_layout *layout);

/**
 * hyp_boot_load() - plan, verify, then copy the kernel, initrd and DTB into guest RAM.
 * @vm: the VM; the RAM range of @config must be mapped. No vCPU of @vm may be running.
 * @config: what to load, exactly as given to hyp_boot_plan().
 * @dtb: the flattened device tree (its header is checked: magic, totalsize ≤ @dtb_len), or NULL
 *	 with HYP_BOOT_NO_DTB.
 * @dtb_len: bytes at @dtb; only the header's totalsize bytes are copied.
 * @layout: receives the layout as hyp_boot_plan() would (set its @size first), or NULL.
 *
 * Writes the kernel's bytes (an Image's file up to image_size; each ELF PT_LOAD segment's file
 * bytes), zeroes the rest of the footprint (an Image's BSS up to image_size, each segment's
 * p_memsz beyond p_filesz), then the initrd and the DTB. Nothing else in guest memory changes.
 *
 * Return: 0; an error listed at the top of this header; also -EINVAL for a DTB with a bad header
 * or missing without HYP_BOOT_NO_DTB (or given with it), -ENOSPC for a DTB larger than the space
 * reserved (@config's dtb_size), -EFAULT if any planned byte is not backed by mapped memory.
 * Guest memory is unchanged on every error (barring a failing backend), except -EIO: a file
 * descriptor that could not be read, or a file that shrank after it was planned; the planned
 * ranges of guest RAM may then be partly written.
 */
HYP_API int hyp_boot_load(struct hyp_vm *vm, const struct hyp_boot_config *config, const void *dtb,
			  size_t dtb_len, struct hyp_boot_layout *layout);

/**
 * hyp_boot_setup_vcpu() - put the boot vCPU in the state booting.rst asks for.
 * @vcpu: the boot vCPU (the first in the device tree), not running.
 * @layout: a layout from hyp_boot_plan() or hyp_boot_load(); its entry and dtb_addr are used.
 *
 * Sets x0 = dtb_addr, x1 = x2 = x3 = 0, PC = entry, PSTATE = EL1h with D, A, I, F masked
 * (HYP_PSTATE_EL1H_DAIF), and turns the MMU and data cache off (SCTLR_EL1.M and .C) if the backend
 * reports them on; a backend that does not expose SCTLR_EL1 keeps its architected reset state
 * (MMU off). Secondary vCPUs start through PSCI CPU_ON and need none of this.
 *
 * Return: 0; -EINVAL for NULL, a @layout whose @size is too small, an entry that is not 4-byte
 * aligned or a dtb_addr that is not 8-byte aligned; a backend error (registers may then be
 * partly set).
 */
HYP_API int hyp_boot_setup_vcpu(struct hyp_vcpu *vcpu, const struct hyp_boot_layout *layout);

HYP_END_DECLS

#endif /* LIBHYP_BOOT_H */
