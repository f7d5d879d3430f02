/* SPDX-License-Identifier: MIT */
/*
 * Guest loading (include/libhyp/boot.h): parse an arm64 Image, an ELF64 or a raw binary, plan every
 * placement, verify the plan against guest RAM, and only then write.
 *
 * The kernel and initrd are untrusted files. Every field read from them goes through
 * overflow-checked arithmetic, and nothing is written to the guest until the whole plan is known to
 * fit, so a bad file costs an error code and nothing else.
 *
 * A client of the public API, like a VMM's own loader would be: libhyp's headers plus the
 * freestanding helpers (strings, sized configs, architecture constants), never internal.h.
 */
#include <stdbool.h>
#include <stdint.h>

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <libhyp/boot.h>
#include <libhyp/hyp.h>

#include "arm64.h"
#include "hyp_base.h"
#include "hyp_errno.h"
#include "hyp_sized_config.h"
#include "hyp_string.h"

/* Not in the freestanding errno set of lib/common/hyp_errno.h: use the Linux number, like it does. */
#ifndef ENOEXEC
#define ENOEXEC 8
#endif

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_512M 0x20000000ull
#define SZ_1G 0x40000000ull
#define SZ_32G 0x800000000ull

/* booting.rst: the 64-byte arm64 Image header. */
#define IMAGE_HDR_SIZE 64u
#define IMAGE_TEXT_OFFSET 0x08u
#define IMAGE_IMAGE_SIZE 0x10u
#define IMAGE_FLAGS 0x18u
#define IMAGE_MAGIC_OFF 0x38u
#define IMAGE_MAGIC 0x644d5241u /* "ARM\x64" */
/* Kernels before v3.17 have image_size 0 and were linked at this offset. */
#define IMAGE_LEGACY_TEXT_OFFSET 0x80000ull
/* Flags bit 3 = 1 still requires the footprint within the 48-bit physical range. */
#define IMAGE_MAX_END (1ull << 48)

/* ELF64 (System V gABI; AArch64 ELF ABI for EM_AARCH64). */
#define EHDR_SIZE 64u
#define PHDR_SIZE 56u
#define ELFCLASS64 2u
#define ELFDATA2LSB 1u
#define EV_CURRENT 1u
#define ET_EXEC 2u
#define ET_DYN 3u
#define EM_AARCH64 183u
#define PT_LOAD 1u

/* An Image or a raw binary is one segment. */
#define MAX_SEGMENTS HYP_BOOT_ELF_MAX_SEGMENTS

/* FDT header: magic and totalsize, big-endian (DT spec 5.2). */
#define FDT_MAGIC 0xd00dfeedu
#define FDT_HEADER_SIZE 40u

struct segment {
	uint64_t offset; /* in the kernel file */
	uint64_t filesz;
	uint64_t paddr;
	uint64_t memsz;
};

struct plan {
	struct hyp_boot_layout layout;
	uint32_t nseg;
	struct segment seg[MAX_SEGMENTS];
};

/*
 * The kernel as the planner sees it: @avail bytes readable at @k, of a file of @size bytes. From
 * memory the whole file is there (@avail == @size); from a descriptor only its first
 * HYP_BOOT_FD_HEADER_MAX bytes, so headers are read from @k within @avail and file ranges are
 * checked against @size.
 */
struct kernel_view {
	const uint8_t *k;
	uint64_t avail;
	uint64_t size;
};

/* A validated configuration with the sizes filled in, and the kernel's header bytes. */
struct source {
	struct hyp_boot_config cfg;
	struct kernel_view kv;
	uint8_t *head; /* read from kernel_fd (freed by release_source()), else NULL */
};

static const uint8_t zero_page[4096];

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Round @v up to @align (a power of two); false if that wraps. */
static bool align_up(uint64_t v, uint64_t align, uint64_t *out)
{
	uint64_t r;

	if (__builtin_add_overflow(v, align - 1, &r))
		return false;
	*out = r & ~(align - 1);
	return true;
}

static uint64_t align_down(uint64_t v, uint64_t align)
{
	return v & ~(align - 1);
}

/* True if [base, base + len) lies within [lo, hi); len may be 0 only for a base within. */
static bool inside(uint64_t base, uint64_t len, uint64_t lo, uint64_t hi)
{
	uint64_t end;

	return !__builtin_add_overflow(base, len, &end) && base >= lo && end <= hi;
}

/*
 * An EFI-stub Image is also a PE/COFF executable ("MZ" at 0, the PE header's offset at 0x3c,
 * "PE\0\0", the COFF file header, then the section table; PE/COFF specification sections 3-4).
 * Its sections' file data must all be present: a shorter file is a truncated kernel, which the
 * arm64 header alone cannot reveal (image_size legitimately exceeds the file by the BSS).
 * Returns false for a truncated or inconsistent PE image; true for a complete one or no PE at all.
 */
static bool pe_sections_complete(const struct kernel_view *v)
{
	const uint8_t *k = v->k;
	uint64_t pe, sections, nsec, opt_size, size = v->size, avail = v->avail;

	if (avail < 0x40 || k[0] != 'M' || k[1] != 'Z')
		return true;
	pe = le32(k + 0x3c);
	if (pe > size || size - pe < 24)
		return true; /* an MZ prefix without a PE header: nothing more to check */
	if (pe > avail || avail - pe < 24)
		return false; /* a PE header beyond what was read: cannot be checked */
	if (memcmp(k + pe, "PE\0\0", 4))
		return true;
	nsec = le16(k + pe + 6);
	opt_size = le16(k + pe + 20);
	sections = pe + 24 + opt_size;
	if (sections > size || (size - sections) / 40 < nsec)
		return false;
	if (sections > avail || (avail - sections) / 40 < nsec)
		return false;
	for (uint64_t i = 0; i < nsec; i++) {
		const uint8_t *sh = k + sections + 40 * i;
		uint64_t raw_size = le32(sh + 16), raw_ptr = le32(sh + 20);

		if (raw_size && (raw_ptr > size || raw_size > size - raw_ptr))
			return false;
	}
	return true;
}

/*
 * arm64 Image (booting.rst section 4). The EFI stub variant only differs in its first bytes
 * ("MZ" and a branch over the PE header); the arm64 header is the same, so it needs no special
 * case: entered directly, code0 branches to the kernel proper.
 */
static int plan_image(const struct hyp_boot_config *cfg, const struct kernel_view *v,
		      struct plan *plan, bool *legacy)
{
	const uint8_t *k = v->k;
	uint64_t text_offset, image_size, flags, base, lowest, start, end, ram_end;

	if (v->avail < IMAGE_HDR_SIZE || le32(k + IMAGE_MAGIC_OFF) != IMAGE_MAGIC)
		return -ENOEXEC;
	if (!pe_sections_complete(v))
		return -ENOEXEC; /* a truncated EFI-stub kernel */
	text_offset = le64(k + IMAGE_TEXT_OFFSET);
	image_size = le64(k + IMAGE_IMAGE_SIZE);
	flags = le64(k + IMAGE_FLAGS);
	*legacy = image_size == 0;
	if (*legacy) {
		/* Pre-v3.17: text_offset is in the kernel's endianness and flags did not exist;
		 * booting.rst says to assume 0x80000, and the file is all we know of the size. */
		text_offset = IMAGE_LEGACY_TEXT_OFFSET;
		image_size = v->size;
		flags = 0;
	}
	/* text_offset is an offset into the 2 MiB block the Image is placed in, at an instruction
	 * boundary; image_size covers at least the header and fits the 48-bit physical range. */
	if (text_offset >= SZ_2M || (text_offset & 3) || image_size < IMAGE_HDR_SIZE ||
	    image_size > IMAGE_MAX_END)
		return -ENOEXEC;

	ram_end = cfg->ram_base + cfg->ram_size;
	if (!align_up(cfg->ram_base, SZ_2M, &lowest) || lowest >= ram_end)
		return -ENOSPC;
	if (cfg->load_addr) {
		if (cfg->load_addr & (SZ_2M - 1))
			return -EINVAL;
		if (cfg->load_addr < cfg->ram_base || cfg->load_addr >= ram_end)
			return -ERANGE;
		/* Flags bit 3 clear: memory below the kernel is not in its linear map, so it must
		 * sit as low as possible. */
		if (!(flags & HYP_BOOT_IMAGE_ANY_PLACEMENT) && cfg->load_addr != lowest)
			return -EINVAL;
		base = cfg->load_addr;
	} else {
		base = lowest;
	}
	start = base + text_offset;
	if (__builtin_add_overflow(start, image_size, &end) || end > ram_end)
		return -ENOSPC;
	if (end > IMAGE_MAX_END)
		return -ERANGE;

	plan->nseg = 1;
	plan->seg[0] = (struct segment){
		.offset = 0,
		.filesz = v->size < image_size ? v->size : image_size,
		.paddr = start,
		.memsz = image_size,
	};
	plan->layout.kernel_start = start;
	plan->layout.kernel_end = end;
	plan->layout.entry = start;
	plan->layout.image_flags = flags;
	return 0;
}

static bool segments_overlap(const struct segment *a, const struct segment *b)
{
	/* Both are known not to wrap. */
	return a->paddr < b->paddr + b->memsz && b->paddr < a->paddr + a->memsz;
}

/*
 * Where a position-independent ELF (ET_DYN) goes: @cfg->load_addr, or the lowest boundary in RAM
 * aligned to 2 MiB and to the largest PT_LOAD p_align. A base that breaks the segments' own
 * alignment would break the program's PC-relative addressing.
 */
static int pie_base(const struct hyp_boot_config *cfg, const uint8_t *phdrs, uint16_t phnum,
		    uint64_t *base)
{
	uint64_t align = SZ_4K, ram_end = cfg->ram_base + cfg->ram_size;

	for (uint32_t i = 0; i < phnum; i++) {
		const uint8_t *ph = phdrs + (uint64_t)i * PHDR_SIZE;
		uint64_t a = le64(ph + 48);

		if (le32(ph) != PT_LOAD || a <= 1)
			continue;
		/* p_align is a power of two (gABI); more than 1 GiB is absurd for a program. */
		if ((a & (a - 1)) || a > SZ_1G)
			return -ENOEXEC;
		if (a > align)
			align = a;
	}
	if (cfg->load_addr) {
		if (cfg->load_addr & (align - 1))
			return -EINVAL;
		*base = cfg->load_addr;
	} else if (!align_up(cfg->ram_base, align > SZ_2M ? align : SZ_2M, base)) {
		return -ENOSPC;
	}
	if (*base < cfg->ram_base || *base >= ram_end)
		return cfg->load_addr ? -ERANGE : -ENOSPC;
	return 0;
}

static int plan_elf(const struct hyp_boot_config *cfg, const struct kernel_view *v,
		    struct plan *plan)
{
	const uint8_t *k = v->k;
	uint64_t entry_va, phoff, table_end, lo = UINT64_MAX, hi = 0, ram_end, base = 0;
	uint16_t phentsize, phnum, type;
	bool entry_found = false;
	int r;

	if (v->avail < EHDR_SIZE || k[0] != 0x7f || k[1] != 'E' || k[2] != 'L' || k[3] != 'F')
		return -ENOEXEC;
	type = le16(k + 16);
	if (k[4] != ELFCLASS64 || k[5] != ELFDATA2LSB || k[6] != EV_CURRENT ||
	    (type != ET_EXEC && type != ET_DYN) || le16(k + 18) != EM_AARCH64 ||
	    le32(k + 20) != EV_CURRENT)
		return -ENOEXEC;
	/* An executable is linked for its addresses: a load address would be ignored. */
	if (type == ET_EXEC && cfg->load_addr)
		return -EINVAL;
	entry_va = le64(k + 24);
	phoff = le64(k + 32);
	phentsize = le16(k + 54);
	phnum = le16(k + 56);
	if (phentsize != PHDR_SIZE || phnum == 0 || phnum > HYP_BOOT_ELF_MAX_PHDRS ||
	    __builtin_add_overflow(phoff, (uint64_t)phnum * PHDR_SIZE, &table_end) ||
	    table_end > v->avail)
		return -ENOEXEC; /* (from a descriptor: beyond HYP_BOOT_FD_HEADER_MAX, too) */
	if (type == ET_DYN) {
		r = pie_base(cfg, k + phoff, phnum, &base);
		if (r)
			return r;
	}

	plan->nseg = 0;
	for (uint32_t i = 0; i < phnum; i++) {
		const uint8_t *ph = k + phoff + (uint64_t)i * PHDR_SIZE;
		uint64_t offset = le64(ph + 8), vaddr = le64(ph + 16), paddr = le64(ph + 24);
		uint64_t filesz = le64(ph + 32), memsz = le64(ph + 40), end;
		struct segment *seg;

		if (le32(ph) != PT_LOAD)
			continue;
		if (filesz > memsz || __builtin_add_overflow(offset, filesz, &end) ||
		    end > v->size || __builtin_add_overflow(paddr, memsz, &end) ||
		    __builtin_add_overflow(vaddr, memsz, &end))
			return -ENOEXEC;
		/* Position-independent: each segment at the base plus its link-time address. */
		if (type == ET_DYN && (__builtin_add_overflow(base, vaddr, &paddr) ||
				       __builtin_add_overflow(paddr, memsz, &end)))
			return -ERANGE;
		if (memsz == 0)
			continue;
		if (plan->nseg == MAX_SEGMENTS)
			return -ENOEXEC;
		seg = &plan->seg[plan->nseg];
		*seg = (struct segment){ offset, filesz, paddr, memsz };
		for (uint32_t j = 0; j < plan->nseg; j++)
			if (segments_overlap(seg, &plan->seg[j]))
				return -ENOEXEC;
		plan->nseg++;
		/* e_entry is a virtual address (vmlinux links at its kernel VA): the guest starts
		 * with the MMU off, so enter at the physical address of the same byte. */
		if (!entry_found && entry_va >= vaddr && entry_va - vaddr < memsz) {
			plan->layout.entry = paddr + (entry_va - vaddr);
			entry_found = true;
		}
		if (paddr < lo)
			lo = paddr;
		if (paddr + memsz > hi)
			hi = paddr + memsz;
	}
	if (plan->nseg == 0 || !entry_found || (plan->layout.entry & 3))
		return -ENOEXEC;

	ram_end = cfg->ram_base + cfg->ram_size;
	for (uint32_t i = 0; i < plan->nseg; i++)
		if (!inside(plan->seg[i].paddr, plan->seg[i].memsz, cfg->ram_base, ram_end))
			/* Addresses the file or the caller fixed: out of range; a base we chose:
			 * RAM too small. */
			return type == ET_DYN && !cfg->load_addr ? -ENOSPC : -ERANGE;
	plan->layout.kernel_start = lo;
	plan->layout.kernel_end = hi;
	return 0;
}

static int plan_raw(const struct hyp_boot_config *cfg, const struct kernel_view *v,
		    struct plan *plan)
{
	uint64_t ram_end = cfg->ram_base + cfg->ram_size;
	/* The file is loaded; its footprint (BSS, stack...) is zeroed and kept clear. */
	uint64_t footprint = cfg->footprint > v->size ? cfg->footprint : v->size;

	if (cfg->load_addr & 3)
		return -EINVAL;
	if (cfg->load_addr < cfg->ram_base || cfg->load_addr >= ram_end)
		return -ERANGE;
	if (!inside(cfg->load_addr, footprint, cfg->ram_base, ram_end))
		return -ENOSPC;
	plan->nseg = 1;
	plan->seg[0] = (struct segment){ 0, v->size, cfg->load_addr, footprint };
	plan->layout.kernel_start = cfg->load_addr;
	plan->layout.kernel_end = cfg->load_addr + footprint;
	plan->layout.entry = cfg->load_addr;
	return 0;
}

/*
 * Place the DTB space and the initrd (either may be absent: size 0) in the free RAM around the
 * kernel's footprint. Above the kernel first, ascending; if @allow_below, whatever does not fit
 * there goes below the kernel, descending. Page alignment for both: 8 bytes would do for the DTB,
 * but some kernels clear the whole page an initrd ends in (QEMU's hw/arm/boot.c learnt that).
 */
static int place_around(const struct hyp_boot_config *cfg, struct hyp_boot_layout *lay,
			uint64_t dtb_size, uint64_t initrd_size, bool allow_below)
{
	const uint64_t sizes[2] = { dtb_size, initrd_size };
	uint64_t addrs[2] = { 0, 0 };
	uint64_t ram_end = cfg->ram_base + cfg->ram_size;
	uint64_t up = lay->kernel_end, down = lay->kernel_start;

	for (int i = 0; i < 2; i++) {
		uint64_t a, end;

		if (!sizes[i])
			continue;
		if (align_up(up, SZ_4K, &a) && !__builtin_add_overflow(a, sizes[i], &end) &&
		    end <= ram_end) {
			addrs[i] = a;
			up = end;
			continue;
		}
		if (!allow_below || down - cfg->ram_base < sizes[i])
			return -ENOSPC;
		a = align_down(down - sizes[i], SZ_4K);
		if (a < cfg->ram_base)
			return -ENOSPC;
		addrs[i] = a;
		down = a;
	}
	lay->dtb_addr = addrs[0];
	lay->initrd_start = addrs[1];
	return 0;
}

/*
 * HYP_BOOT_PLACE_HIGH: the DTB at the top of RAM, clipped to the 1 GiB aligned 32 GiB window from
 * the kernel's start (booting.rst's window for the initrd), the initrd right below it, both page
 * aligned. Returns false, placing nothing, if they do not both fit above the kernel's footprint.
 */
static bool place_high(const struct hyp_boot_config *cfg, struct hyp_boot_layout *lay,
		       uint64_t dtb_size, uint64_t initrd_size)
{
	uint64_t top = cfg->ram_base + cfg->ram_size, window_end, dtb = 0, initrd = 0;

	if (!__builtin_add_overflow(align_down(lay->kernel_start, SZ_1G), SZ_32G, &window_end) &&
	    window_end < top)
		top = window_end;
	if (dtb_size) {
		if (top < lay->kernel_end || top - lay->kernel_end < dtb_size)
			return false;
		dtb = align_down(top - dtb_size, SZ_4K);
		top = dtb;
	}
	if (initrd_size) {
		if (top < lay->kernel_end || top - lay->kernel_end < initrd_size)
			return false;
		initrd = align_down(top - initrd_size, SZ_4K);
	}
	if ((dtb && dtb < lay->kernel_end) || (initrd && initrd < lay->kernel_end))
		return false;
	lay->dtb_addr = dtb;
	lay->initrd_start = initrd;
	return true;
}

/*
 * Pre-v3.17 Images give no image_size: the BSS that follows the file is of unknown size, so
 * booting.rst asks to keep as much memory as possible free right after the kernel. The initrd
 * goes to the top of RAM (of the 32 GiB window), the DTB below it but within the 512 MiB above
 * the 2 MiB base that kernels before v4.2 required.
 */
static int place_legacy(const struct hyp_boot_config *cfg, struct hyp_boot_layout *lay,
			uint64_t dtb_size, uint64_t initrd_size)
{
	uint64_t base = align_down(lay->kernel_start, SZ_2M);
	uint64_t top = cfg->ram_base + cfg->ram_size, window_end, dtb_top;

	window_end = align_down(lay->kernel_start, SZ_1G) + SZ_32G;
	if (top > window_end)
		top = window_end;
	if (top < lay->kernel_end)
		return -ENOSPC;
	if (initrd_size) {
		if (top - lay->kernel_end < initrd_size)
			return -ENOSPC;
		lay->initrd_start = align_down(top - initrd_size, SZ_4K);
		if (lay->initrd_start < lay->kernel_end)
			return -ENOSPC;
		top = lay->initrd_start;
	}
	if (dtb_size) {
		dtb_top = top;
		if (base + SZ_512M < dtb_top)
			dtb_top = base + SZ_512M;
		if (dtb_top < lay->kernel_end || dtb_top - lay->kernel_end < dtb_size)
			return -ENOSPC;
		lay->dtb_addr = align_down(dtb_top - dtb_size, SZ_4K);
		if (lay->dtb_addr < lay->kernel_end)
			return -ENOSPC;
	}
	return 0;
}

#define KNOWN_FLAGS                                                                                \
	((uint32_t)(HYP_BOOT_NO_DTB | HYP_BOOT_KERNEL_FD | HYP_BOOT_INITRD_FD |                    \
		    HYP_BOOT_PLACE_HIGH))

#if defined(HYP_HOSTED) && HYP_HOSTED
/* The length of a descriptor's file when the caller gave 0: a regular file's size. */
static int fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fd < 0)
		return -EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 0)
		return -EIO;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Read exactly @len bytes at @offset; a short file is -EIO like a failing one. */
static int read_exact(int fd, void *dst, uint64_t len, uint64_t offset)
{
	uint8_t *p = dst;

	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n;

		if (offset > (uint64_t)INT64_MAX - len)
			return -EIO;
		n = pread(fd, p, chunk, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}
#endif

static void release_source(struct source *src)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	free(src->head);
#endif
	src->head = NULL;
}

/* Check @config, fill in the descriptors' sizes and read the kernel's headers. */
static int prepare_source(const struct hyp_boot_config *config, struct source *src)
{
	struct hyp_boot_config *cfg = &src->cfg;
	uint64_t ram_end;
	int r;

	src->head = NULL;
	if (!config)
		return -EINVAL;
	r = hyp__copy_sized_config(cfg, sizeof(*cfg),
				   offsetof(struct hyp_boot_config, dtb_size) +
					   sizeof(cfg->dtb_size),
				   config, config->size);
	if (r)
		return r;
	if ((cfg->flags & ~KNOWN_FLAGS) || cfg->reserved ||
	    cfg->kernel_format > HYP_BOOT_FORMAT_RAW)
		return -EINVAL;
	if (cfg->flags & HYP_BOOT_KERNEL_FD) {
		if (cfg->kernel || cfg->kernel_fd < 0)
			return -EINVAL;
	} else if (!cfg->kernel || !cfg->kernel_size) {
		return -EINVAL;
	}
	if (cfg->flags & HYP_BOOT_INITRD_FD) {
		if (cfg->initrd || cfg->initrd_fd < 0)
			return -EINVAL;
	} else if (!cfg->initrd != !cfg->initrd_size) {
		return -EINVAL;
	}
	if (!cfg->ram_size || ((cfg->ram_base | cfg->ram_size) & (HYP_PAGE_SIZE - 1)) ||
	    __builtin_add_overflow(cfg->ram_base, cfg->ram_size, &ram_end))
		return -EINVAL;
	if (cfg->flags & HYP_BOOT_NO_DTB) {
		cfg->dtb_size = 0;
	} else {
		if (cfg->dtb_size == 0)
			cfg->dtb_size = HYP_BOOT_DTB_MAX_SIZE;
		if (cfg->dtb_size > HYP_BOOT_DTB_MAX_SIZE)
			return -EINVAL;
		cfg->dtb_size = (cfg->dtb_size + 7) & ~7ull;
	}
	if (!(cfg->flags & (HYP_BOOT_KERNEL_FD | HYP_BOOT_INITRD_FD))) {
		src->kv = (struct kernel_view){ cfg->kernel, cfg->kernel_size, cfg->kernel_size };
		return 0;
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	if ((cfg->flags & HYP_BOOT_INITRD_FD) && !cfg->initrd_size) {
		r = fd_size(cfg->initrd_fd, &cfg->initrd_size);
		if (r)
			return r;
		if (!cfg->initrd_size)
			return -EINVAL; /* an empty initrd, as initrd_size 0 with bytes */
	}
	if (cfg->initrd_size > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (!(cfg->flags & HYP_BOOT_KERNEL_FD)) {
		src->kv = (struct kernel_view){ cfg->kernel, cfg->kernel_size, cfg->kernel_size };
		return 0;
	}
	if (!cfg->kernel_size) {
		r = fd_size(cfg->kernel_fd, &cfg->kernel_size);
		if (r)
			return r;
		if (!cfg->kernel_size)
			return -ENOEXEC; /* an empty file is no kernel */
	}
	if (cfg->kernel_size > (uint64_t)INT64_MAX)
		return -EINVAL;
	src->kv.size = cfg->kernel_size;
	src->kv.avail = cfg->kernel_size < HYP_BOOT_FD_HEADER_MAX ? cfg->kernel_size :
								    HYP_BOOT_FD_HEADER_MAX;
	src->head = malloc((size_t)src->kv.avail);
	if (!src->head)
		return -ENOMEM;
	r = read_exact(cfg->kernel_fd, src->head, src->kv.avail, 0);
	if (r) {
		release_source(src);
		return r;
	}
	src->kv.k = src->head;
	return 0;
#else
	return -ENOTSUP;
#endif
}

static uint32_t detect_format(const struct hyp_boot_config *cfg, const struct kernel_view *v)
{
	const uint8_t *k = v->k;

	if (cfg->kernel_format != HYP_BOOT_FORMAT_AUTO)
		return cfg->kernel_format;
	if (v->avail >= 4 && k[0] == 0x7f && k[1] == 'E' && k[2] == 'L' && k[3] == 'F')
		return HYP_BOOT_FORMAT_ELF;
	if (v->avail >= IMAGE_HDR_SIZE && le32(k + IMAGE_MAGIC_OFF) == IMAGE_MAGIC)
		return HYP_BOOT_FORMAT_ARM64_IMAGE;
	return HYP_BOOT_FORMAT_AUTO;
}

/* The whole plan from a validated configuration. */
static int make_plan(const struct source *src, struct plan *plan)
{
	const struct hyp_boot_config *cfg = &src->cfg;
	const struct kernel_view *v = &src->kv;
	struct hyp_boot_layout *lay = &plan->layout;
	uint64_t lo, hi;
	bool legacy = false;
	int r;

	memset(plan, 0, sizeof(*plan));
	lay->size = sizeof(*lay);
	lay->format = detect_format(cfg, v);
	/* Only a raw binary has no header to state its footprint. */
	if (cfg->footprint && lay->format != HYP_BOOT_FORMAT_RAW)
		return -EINVAL;
	switch (lay->format) {
	case HYP_BOOT_FORMAT_ARM64_IMAGE:
		r = plan_image(cfg, v, plan, &legacy);
		break;
	case HYP_BOOT_FORMAT_ELF:
		r = plan_elf(cfg, v, plan);
		break;
	case HYP_BOOT_FORMAT_RAW:
		r = plan_raw(cfg, v, plan);
		break;
	default:
		return -ENOEXEC;
	}
	if (r)
		return r;

	lay->dtb_size = cfg->dtb_size;
	if (legacy)
		r = place_legacy(cfg, lay, cfg->dtb_size, cfg->initrd_size);
	else if ((cfg->flags & HYP_BOOT_PLACE_HIGH) &&
		 place_high(cfg, lay, cfg->dtb_size, cfg->initrd_size))
		r = 0;
	else
		r = place_around(cfg, lay, cfg->dtb_size, cfg->initrd_size,
				 lay->format != HYP_BOOT_FORMAT_ARM64_IMAGE);
	if (r)
		return r;

	if (cfg->initrd_size) {
		lay->initrd_end = lay->initrd_start + cfg->initrd_size;
		/* booting.rst: the initrd must lie in a 1 GiB aligned window of at most 32 GiB that
		 * also covers the kernel Image. */
		lo = lay->initrd_start < lay->kernel_start ? lay->initrd_start : lay->kernel_start;
		hi = lay->initrd_end > lay->kernel_end ? lay->initrd_end : lay->kernel_end;
		if (hi - align_down(lo, SZ_1G) > SZ_32G)
			return -ENOSPC;
	}
	return 0;
}

/* Fill as much of the caller's layout as its @size says it has room for. */
static void copy_layout_out(const struct plan *plan, struct hyp_boot_layout *layout)
{
	struct hyp_boot_layout out = plan->layout;
	uint32_t n = layout->size < sizeof(out) ? layout->size : (uint32_t)sizeof(out);

	out.size = layout->size;
	memcpy(layout, &out, n);
}

static bool layout_size_ok(const struct hyp_boot_layout *layout)
{
	return layout->size >=
	       offsetof(struct hyp_boot_layout, image_flags) + sizeof(layout->image_flags);
}

HYP_API int hyp_boot_plan(const struct hyp_boot_config *config, struct hyp_boot_layout *layout)
{
	struct source src;
	struct plan plan;
	int r;

	if (!layout || !layout_size_ok(layout))
		return -EINVAL;
	r = prepare_source(config, &src);
	if (r)
		return r;
	r = make_plan(&src, &plan);
	release_source(&src);
	if (r)
		return r;
	copy_layout_out(&plan, layout);
	return 0;
}

/* Is every byte of [ipa, ipa + len) backed by memory mapped into @vm? */
static int check_mapped(const struct hyp_vm *vm, uint64_t ipa, uint64_t len)
{
	/* Region by region: the range may span several adjacent ones. */
	while (len) {
		uint64_t span;
		void *p;

		if (hyp_vm_guest_span(vm, ipa, false, &p, &span))
			return -EFAULT;
		if (span >= len)
			return 0;
		ipa += span;
		len -= span;
	}
	return 0;
}

static int write_zeroes(struct hyp_vm *vm, uint64_t ipa, uint64_t len)
{
	void *p;
	int r;

	if (!len)
		return 0;
	if (len <= SIZE_MAX && !hyp_vm_guest_ptr(vm, ipa, (size_t)len, false, &p)) {
		memset(p, 0, (size_t)len);
		return 0;
	}
	while (len) {
		uint64_t chunk = len < sizeof(zero_page) ? len : sizeof(zero_page);

		r = hyp_vm_write_guest(vm, ipa, zero_page, (size_t)chunk);
		if (r)
			return r;
		ipa += chunk;
		len -= chunk;
	}
	return 0;
}

/* The DTB's own header, enough to know how many bytes it is (DT spec 5.2). */
static int dtb_total_size(const void *dtb, size_t len, uint64_t *total)
{
	const uint8_t *d = dtb;
	uint32_t t;

	if (len < FDT_HEADER_SIZE || be32(d) != FDT_MAGIC)
		return -EINVAL;
	t = be32(d + 4);
	if (t < FDT_HEADER_SIZE || t > len)
		return -EINVAL;
	*total = t;
	return 0;
}

/* Copy file bytes into guest RAM: from memory, or read from a descriptor straight into the
 * regions backing [ipa, ipa + len) (already checked to be mapped). */
static int load_bytes(struct hyp_vm *vm, uint64_t ipa, const void *bytes, int fd, uint64_t offset,
		      uint64_t len)
{
	if (!len)
		return 0;
	if (bytes)
		return hyp_vm_write_guest(vm, ipa, (const uint8_t *)bytes + offset, (size_t)len);
#if defined(HYP_HOSTED) && HYP_HOSTED
	while (len) {
		uint64_t span;
		void *p;
		int r;

		if (hyp_vm_guest_span(vm, ipa, false, &p, &span))
			return -EFAULT;
		if (span > len)
			span = len;
		r = read_exact(fd, p, span, offset);
		if (r)
			return r;
		ipa += span;
		offset += span;
		len -= span;
	}
	return 0;
#else
	(void)fd;
	return -ENOTSUP;
#endif
}

static int load(struct hyp_vm *vm, const struct source *src, const void *dtb, size_t dtb_len,
		struct hyp_boot_layout *layout)
{
	const struct hyp_boot_config *cfg = &src->cfg;
	const bool kernel_fd = cfg->flags & HYP_BOOT_KERNEL_FD;
	const bool initrd_fd = cfg->flags & HYP_BOOT_INITRD_FD;
	const struct hyp_boot_layout *lay;
	struct plan plan;
	uint64_t dtb_bytes = 0;
	int r;

	if (cfg->flags & HYP_BOOT_NO_DTB) {
		if (dtb || dtb_len)
			return -EINVAL;
	} else {
		if (!dtb)
			return -EINVAL;
		r = dtb_total_size(dtb, dtb_len, &dtb_bytes);
		if (r)
			return r;
	}
	r = make_plan(src, &plan);
	if (r)
		return r;
	lay = &plan.layout;
	if (dtb_bytes > lay->dtb_size)
		return -ENOSPC;

	/* Verify all, then write all: a plan that does not match the VM's memory map changes
	 * nothing. */
	for (uint32_t i = 0; i < plan.nseg; i++) {
		r = check_mapped(vm, plan.seg[i].paddr, plan.seg[i].memsz);
		if (r)
			return r;
	}
	r = check_mapped(vm, lay->initrd_start, cfg->initrd_size);
	if (r)
		return r;
	r = check_mapped(vm, lay->dtb_addr, dtb_bytes);
	if (r)
		return r;

	for (uint32_t i = 0; i < plan.nseg; i++) {
		const struct segment *s = &plan.seg[i];

		r = load_bytes(vm, s->paddr, kernel_fd ? NULL : cfg->kernel, cfg->kernel_fd,
			       s->offset, s->filesz);
		if (!r)
			r = write_zeroes(vm, s->paddr + s->filesz, s->memsz - s->filesz);
		if (r)
			return r;
	}
	r = load_bytes(vm, lay->initrd_start, initrd_fd ? NULL : cfg->initrd, cfg->initrd_fd, 0,
		       cfg->initrd_size);
	if (r)
		return r;
	if (dtb_bytes) {
		r = hyp_vm_write_guest(vm, lay->dtb_addr, dtb, (size_t)dtb_bytes);
		if (r)
			return r;
	}
	if (layout)
		copy_layout_out(&plan, layout);
	return 0;
}

HYP_API int hyp_boot_load(struct hyp_vm *vm, const struct hyp_boot_config *config, const void *dtb,
			  size_t dtb_len, struct hyp_boot_layout *layout)
{
	struct source src;
	int r;

	if (!vm || (layout && !layout_size_ok(layout)))
		return -EINVAL;
	r = prepare_source(config, &src);
	if (r)
		return r;
	r = load(vm, &src, dtb, dtb_len, layout);
	release_source(&src);
	return r;
}

HYP_API int hyp_boot_setup_vcpu(struct hyp_vcpu *vcpu, const struct hyp_boot_layout *layout)
{
	/* booting.rst: x0 = the DTB's physical address, x1..x3 = 0 (reserved). */
	static const enum hyp_reg regs[] = { HYP_REG_X(0), HYP_REG_X(1),   HYP_REG_X(2),
					     HYP_REG_X(3), HYP_REG_PSTATE, HYP_REG_PC };
	uint64_t values[] = { 0, 0, 0, 0, HYP_PSTATE_EL1H_DAIF, 0 };
	uint64_t sctlr;
	int r;

	_Static_assert(sizeof(values) / sizeof(values[0]) == sizeof(regs) / sizeof(regs[0]),
		       "a value per register");
	if (!vcpu || !layout || !layout_size_ok(layout) || (layout->entry & 3) ||
	    (layout->dtb_addr & 7))
		return -EINVAL;
	values[0] = layout->dtb_addr;
	values[5] = layout->entry;
	/* One call, all or nothing (kvm still pays one ioctl per register: arm64 KVM has no
	 * multi-register ioctl). */
	r = hyp_vcpu_set_regs(vcpu, regs, values, sizeof(regs) / sizeof(regs[0]));
	if (r)
		return r;

	/* The MMU must be off. vCPUs are created with it off; a reused vCPU may have it on. A
	 * backend without SCTLR_EL1 access keeps the architected reset state. */
	r = hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &sctlr);
	if (r == -ENOTSUP || r == -ENOENT)
		return 0;
	if (r)
		return r;
	if (sctlr & (SCTLR_M | SCTLR_C))
		return hyp_vcpu_set_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1,
					   sctlr & ~(SCTLR_M | SCTLR_C));
	return 0;
}
