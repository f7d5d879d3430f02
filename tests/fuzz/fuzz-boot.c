// SPDX-License-Identifier: MIT
/*
 * Fuzz lib/boot: hyp_boot_plan() and hyp_boot_load() on hostile kernels (arm64 Image, EFI-stub
 * Image, ELF ET_EXEC/ET_DYN, raw), initrds and DTBs, into guest RAM of hostile shapes.
 *
 * Guest RAM sits between two guard regions that AddressSanitizer treats as poisoned, so a write
 * (or read) past either end is reported where it happens. Guest RAM starts filled with a pattern
 * and the checks are those of include/libhyp/boot.h: the plan is inside RAM, its pieces are
 * disjoint and aligned as documented, hyp_boot_load() computes the same layout as
 * hyp_boot_plan(), a failed load leaves RAM byte-for-byte as it was, and a successful one changes
 * nothing outside the plan's kernel footprint, initrd and DTB space, with the bytes there being
 * the files' (and zeros for BSS). The same files are then given again as file descriptors
 * (HYP_BOOT_KERNEL_FD, HYP_BOOT_INITRD_FD, sizes given or asked for): the answers, the layout and
 * the guest RAM afterwards must be exactly those of the load from memory.
 *
 * Input: a shape byte (RAM base/size/split, format, flags), header fields, then file bytes.
 */
#include <errno.h>
#include <libfdt.h>
#include <sanitizer/asan_interface.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz-input.h"

#include <libhyp/boot.h>
#include <libhyp/hyp.h>

#define GUARD (64u << 10)
#define MiB (1ull << 20)
#define RAM_MAX (4 * MiB)
#define KERNEL_MAX (64u << 10)

static uint8_t *arena; /* GUARD + RAM_MAX + GUARD */
static uint8_t *after; /* RAM after the load from memory */
static int kernel_fd = -1, initrd_fd = -1;
static uint8_t *snapshot; /* RAM before the load: a fixed pattern */
static uint8_t *guard;	  /* what the guard regions hold */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void fill_rest(uint8_t *p, size_t len, struct fuzz_in *in)
{
	for (size_t i = 0; i < len; i++)
		p[i] = fuzz_done(in) ? (uint8_t)(i * 7 + 1) : fuzz_u8(in);
}

/* An arm64 Image header (booting.rst) with fields from the input, biased towards sane ones. */
static size_t make_image(uint8_t *k, struct fuzz_in *in)
{
	uint8_t f = fuzz_u8(in);
	size_t len = 64 + (fuzz_u16(in) % (KERNEL_MAX - 64));
	uint64_t text_offset = (f & 1) ? fuzz_u64(in) : (uint64_t)(fuzz_u8(in) % 4) * 0x80000;
	uint64_t image_size = (f & 2) ? fuzz_u64(in) : len + fuzz_u16(in) * 16ull;

	fill_rest(k, len, in);
	memset(k, 0, 64);
	put32(k, (f & 4) ? 0xfa405a4du : 0x14000010u); /* "MZ" (EFI stub) or a branch */
	put64(k + 8, (f & 8) ? 0 : text_offset);
	put64(k + 16, (f & 8) ? 0 : image_size); /* pre-v3.17: both 0 */
	put64(k + 24, (f & 0x10) ? fuzz_u64(in) : (fuzz_u8(in) & 0xe));
	memcpy(k + 56, (f & 0x20) ? "ARMd" : "ARM\x64", 4);
	if (f & 4)
		put32(k + 60, (f & 0x40) ? fuzz_u32(in) : 0x40);
	return len;
}

/* An ELF64 AArch64 file with up to 5 program headers placed near the start of RAM. */
static size_t make_elf(uint8_t *k, struct fuzz_in *in, uint64_t ram_base, bool *dyn)
{
	uint8_t f = fuzz_u8(in);
	unsigned int n = 1 + (f & 3) + ((f >> 2) & 1);
	size_t data = 64 + n * 56, len = data + fuzz_u16(in) % (KERNEL_MAX - data);
	uint64_t base = (f & 0x20) ? 0 : ram_base;

	*dyn = f & 0x20;
	fill_rest(k, len, in);
	memset(k, 0, data);
	memcpy(k,
	       "\x7f"
	       "ELF\x02\x01\x01",
	       7);
	put16(k + 16, *dyn ? 3 : 2);
	put16(k + 18, (f & 0x40) ? fuzz_u16(in) : 183);
	put32(k + 20, 1);
	put64(k + 24, base + (fuzz_u32(in) & ~3u) % (4 * MiB));
	put64(k + 32, 64);
	put16(k + 52, 64);
	put16(k + 54, 56);
	put16(k + 56, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = k + 64 + i * 56;
		uint8_t g = fuzz_u8(in);
		uint64_t addr = base + (fuzz_u32(in) % (4 * MiB));
		uint64_t filesz = fuzz_u16(in) % 0x2000, memsz = filesz + fuzz_u16(in);

		if (!(g & 1))
			addr &= ~0xfffull;
		put32(p, (g & 6) ? 1 : fuzz_u8(in)); /* PT_LOAD mostly */
		put32(p + 4, 5);
		put64(p + 8, (g & 8) ? fuzz_u64(in) : data + fuzz_u16(in) % (len - data + 1));
		put64(p + 16, addr);
		put64(p + 24, (g & 0x10) ? fuzz_u64(in) : addr);
		put64(p + 32, (g & 0x20) ? fuzz_u64(in) : filesz);
		put64(p + 40, (g & 0x40) ? fuzz_u64(in) : memsz);
		put64(p + 48, (g & 0x80) ? 1ull << (fuzz_u8(in) % 64) : 0x1000);
	}
	return len;
}

static bool in_range(uint64_t a, uint64_t lo, uint64_t hi)
{
	return a >= lo && a < hi;
}

static bool disjoint(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 == a1 || b0 == b1 || a1 <= b0 || b1 <= a0;
}

static void check_plan(const struct hyp_boot_config *bc, const struct hyp_boot_layout *l)
{
	uint64_t lo = bc->ram_base, hi = bc->ram_base + bc->ram_size;

	FUZZ_CHECK(l->format >= HYP_BOOT_FORMAT_ARM64_IMAGE && l->format <= HYP_BOOT_FORMAT_RAW,
		   "format %u", l->format);
	FUZZ_CHECK(lo <= l->kernel_start && l->kernel_start < l->kernel_end && l->kernel_end <= hi,
		   "kernel [%#llx, %#llx) outside RAM", (unsigned long long)l->kernel_start,
		   (unsigned long long)l->kernel_end);
	FUZZ_CHECK(in_range(l->entry, lo, hi) && !(l->entry & 3), "entry %#llx",
		   (unsigned long long)l->entry);
	if (bc->flags & HYP_BOOT_NO_DTB) {
		FUZZ_CHECK(!l->dtb_addr, "a DTB address with HYP_BOOT_NO_DTB");
	} else {
		FUZZ_CHECK(!(l->dtb_addr & 7) && l->dtb_size >= 8 &&
				   l->dtb_size <= HYP_BOOT_DTB_MAX_SIZE && l->dtb_addr >= lo &&
				   l->dtb_addr + l->dtb_size <= hi,
			   "DTB at %#llx + %#llx", (unsigned long long)l->dtb_addr,
			   (unsigned long long)l->dtb_size);
		FUZZ_CHECK(disjoint(l->dtb_addr, l->dtb_addr + l->dtb_size, l->kernel_start,
				    l->kernel_end),
			   "DTB overlaps the kernel");
	}
	if (bc->initrd_size) {
		FUZZ_CHECK(!(l->initrd_start & 0xfff) &&
				   l->initrd_end - l->initrd_start == bc->initrd_size &&
				   l->initrd_start >= lo && l->initrd_end <= hi,
			   "initrd [%#llx, %#llx)", (unsigned long long)l->initrd_start,
			   (unsigned long long)l->initrd_end);
		FUZZ_CHECK(disjoint(l->initrd_start, l->initrd_end, l->kernel_start, l->kernel_end),
			   "initrd overlaps the kernel");
		FUZZ_CHECK((bc->flags & HYP_BOOT_NO_DTB) ||
				   disjoint(l->initrd_start, l->initrd_end, l->dtb_addr,
					    l->dtb_addr + l->dtb_size),
			   "initrd overlaps the DTB");
	} else {
		FUZZ_CHECK(!l->initrd_start && !l->initrd_end,
			   "an initrd placement without initrd");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t bases[4] = { 0x40000000, 0x40001000, 0x80000000, 0x40200000 };
	static const uint64_t sizes[4] = { 256u << 10, 1 * MiB, 3 * MiB, RAM_MAX };
	static uint8_t kernel[KERNEL_MAX], initrd[16384], dtb[8192];
	struct fuzz_in in = { data, size };
	struct hyp_vm_config vcfg = { .size = sizeof(vcfg), .backend = "mock" };
	struct hyp_boot_config bc = { .size = sizeof(bc) };
	struct hyp_boot_layout plan = { .size = sizeof(plan) }, lay = { .size = sizeof(lay) };
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	uint8_t shape = fuzz_u8(&in), g = fuzz_u8(&in);
	uint8_t *ram;
	size_t dtb_len = 0;
	bool dyn = false, hole;
	int rp, rl;

	if (!arena) {
		arena = aligned_alloc(4096, GUARD + RAM_MAX + GUARD);
		snapshot = malloc(RAM_MAX);
		guard = malloc(GUARD);
		FUZZ_CHECK(arena && snapshot && guard, "out of memory");
		memset(arena, 0xee, GUARD + RAM_MAX + GUARD);
		memset(guard, 0xee, GUARD);
		for (size_t i = 0; i < RAM_MAX; i++)
			snapshot[i] = (uint8_t)(0x5a ^ (i * 13) ^ (i >> 12));
	}
	ram = arena + GUARD;
	bc.ram_base = bases[shape & 3];
	bc.ram_size = sizes[(shape >> 2) & 3];
	if (g & 0x80)
		bc.ram_size -= 4096;
	/* RAM surrounded by poison: the guard regions and the part of the arena this RAM does not
	 * use. */
	__asan_poison_memory_region(arena, GUARD + RAM_MAX + GUARD);
	__asan_unpoison_memory_region(ram, bc.ram_size);
	memcpy(ram, snapshot, bc.ram_size);

	switch ((shape >> 4) & 3) {
	case 0:
		bc.kernel_format = (g & 1) ? HYP_BOOT_FORMAT_AUTO : HYP_BOOT_FORMAT_ARM64_IMAGE;
		bc.kernel_size = make_image(kernel, &in);
		if (g & 2)
			bc.load_addr = bc.ram_base + (uint64_t)(fuzz_u8(&in) % 8) * 2 * MiB;
		break;
	case 1:
		bc.kernel_format = (g & 1) ? HYP_BOOT_FORMAT_AUTO : HYP_BOOT_FORMAT_ELF;
		bc.kernel_size = make_elf(kernel, &in, bc.ram_base, &dyn);
		if (dyn && (g & 2))
			bc.load_addr = bc.ram_base + (uint64_t)(fuzz_u8(&in) % 8) * 2 * MiB;
		break;
	default:
		bc.kernel_format = (g & 1) ? HYP_BOOT_FORMAT_AUTO : HYP_BOOT_FORMAT_RAW;
		bc.kernel_size = 1 + fuzz_u16(&in) % KERNEL_MAX;
		fill_rest(kernel, bc.kernel_size, &in);
		bc.load_addr = bc.ram_base + (fuzz_u32(&in) % (bc.ram_size + 8192));
		if (!(g & 2))
			bc.load_addr &= ~3ull;
		if (g & 4)
			bc.footprint = fuzz_u32(&in) % (bc.ram_size * 2);
		break;
	}
	bc.kernel = kernel;
	if (g & 0x40)
		bc.flags |= HYP_BOOT_PLACE_HIGH;
	if (g & 8) {
		bc.initrd_size = 1 + fuzz_u16(&in) % sizeof(initrd);
		bc.initrd = initrd;
		memset(initrd, 0xc3, bc.initrd_size);
		initrd[0] = fuzz_u8(&in);
	}
	if (g & 0x10) {
		bc.flags |= HYP_BOOT_NO_DTB;
	} else {
		uint16_t want = fuzz_u16(&in);

		bc.dtb_size = (g & 0x20) ? fuzz_u32(&in) % (3 * MiB) : 8192;
		dtb_len = 128 + want % (sizeof(dtb) - 128);
		FUZZ_CHECK(fdt_create_empty_tree(dtb, (int)dtb_len) == 0, "fdt_create_empty_tree");
		/* Say the tree is larger than the space, or corrupt its header, now and then. */
		if (want & 0x8000)
			fdt_set_totalsize(dtb, (uint32_t)dtb_len);
		if ((want & 0x6000) == 0x6000)
			dtb[1] ^= 1;
	}
	hole = (shape & 0xc0) == 0xc0 && bc.ram_size > 2 * 4096;

	FUZZ_CHECK(hyp_vm_create(&vcfg, &vm) == 0, "hyp_vm_create");
	if ((shape & 0xc0) == 0x40 && bc.ram_size >= 8192) {
		uint64_t half = (bc.ram_size / 2) & ~4095ull;

		FUZZ_CHECK(!hyp_vm_map(vm, bc.ram_base, ram, half, HYP_MEM_RWX) &&
				   !hyp_vm_map(vm, bc.ram_base + half, ram + half,
					       bc.ram_size - half, HYP_MEM_RWX),
			   "map");
	} else if (hole) {
		/* One page in the middle is not guest memory: loads that reach it must fail with
		 * -EFAULT and write nothing. */
		uint64_t mid = (bc.ram_size / 2) & ~4095ull;

		FUZZ_CHECK(!hyp_vm_map(vm, bc.ram_base, ram, mid, HYP_MEM_RWX) &&
				   !hyp_vm_map(vm, bc.ram_base + mid + 4096, ram + mid + 4096,
					       bc.ram_size - mid - 4096, HYP_MEM_RWX),
			   "map");
	} else {
		FUZZ_CHECK(!hyp_vm_map(vm, bc.ram_base, ram, bc.ram_size, HYP_MEM_RWX), "map");
	}
	FUZZ_CHECK(hyp_vcpu_create(vm, NULL, &vcpu) == 0, "hyp_vcpu_create");

	memset(&plan, 0x77, sizeof(plan));
	plan.size = sizeof(plan);
	rp = hyp_boot_plan(&bc, &plan);
	if (rp == 0)
		check_plan(&bc, &plan);
	else
		FUZZ_CHECK(rp == -EINVAL || rp == -ENOEXEC || rp == -ERANGE || rp == -ENOSPC ||
				   rp == -E2BIG,
			   "plan: undocumented error %d", rp);

	memset(&lay, 0x66, sizeof(lay));
	lay.size = sizeof(lay);
	rl = hyp_boot_load(vm, &bc, (bc.flags & HYP_BOOT_NO_DTB) ? NULL : dtb, dtb_len, &lay);
	/* Which of two problems (kernel and DTB) a load reports first is not specified. */
	if (rp)
		FUZZ_CHECK(rl == rp || rl == -EINVAL || rl == -ENOSPC, "plan said %d, load %d", rp,
			   rl);
	if (rl) {
		FUZZ_CHECK(!memcmp(ram, snapshot, bc.ram_size),
			   "failed load (%d) changed guest RAM", rl);
		FUZZ_CHECK(rp || rl == -EFAULT || rl == -EINVAL || rl == -ENOSPC,
			   "planned load failed: %d", rl);
		FUZZ_CHECK(rl != -EFAULT || hole, "-EFAULT with all RAM mapped");
	} else {
		uint64_t k0 = plan.kernel_start - bc.ram_base, k1 = plan.kernel_end - bc.ram_base;
		uint64_t d0 = plan.dtb_addr - bc.ram_base, i0 = plan.initrd_start - bc.ram_base;

		FUZZ_CHECK(rp == 0 && !memcmp(&lay, &plan, sizeof(lay)), "load's layout != plan");
		for (uint64_t i = 0; i < bc.ram_size; i++) {
			uint64_t a = bc.ram_base + i;

			/* Whole pages first: most of RAM is untouched. */
			if (!(i & 4095) && !memcmp(ram + i, snapshot + i, 4096)) {
				i += 4095;
				continue;
			}
			if (ram[i] == snapshot[i] ||
			    in_range(a, plan.kernel_start, plan.kernel_end) ||
			    in_range(a, plan.initrd_start, plan.initrd_end) ||
			    (plan.dtb_addr &&
			     in_range(a, plan.dtb_addr, plan.dtb_addr + plan.dtb_size)))
				continue;
			FUZZ_CHECK(false, "guest byte %#llx written outside the plan",
				   (unsigned long long)a);
		}
		if (bc.initrd_size)
			FUZZ_CHECK(!memcmp(ram + i0, initrd, bc.initrd_size), "initrd bytes");
		if (!(bc.flags & HYP_BOOT_NO_DTB))
			FUZZ_CHECK(!memcmp(ram + d0, dtb, fdt_totalsize(dtb)), "DTB bytes");
		if (plan.format == HYP_BOOT_FORMAT_RAW) {
			FUZZ_CHECK(!memcmp(ram + k0, kernel, bc.kernel_size), "raw kernel bytes");
		} else if (plan.format == HYP_BOOT_FORMAT_ARM64_IMAGE) {
			uint64_t n = k1 - k0 < bc.kernel_size ? k1 - k0 : bc.kernel_size;

			FUZZ_CHECK(!memcmp(ram + k0, kernel, n), "Image bytes");
			FUZZ_CHECK(get64(kernel + 16) == 0 || k1 - k0 == get64(kernel + 16),
				   "Image footprint %#llx, image_size %#llx",
				   (unsigned long long)(k1 - k0),
				   (unsigned long long)get64(kernel + 16));
		}
		{
			uint64_t pc = 0, x0 = 1;

			FUZZ_CHECK(hyp_boot_setup_vcpu(vcpu, &lay) == 0, "setup_vcpu");
			hyp_vcpu_get_reg(vcpu, HYP_REG_PC, &pc);
			hyp_vcpu_get_reg(vcpu, HYP_REG_X0, &x0);
			FUZZ_CHECK(pc == plan.entry && x0 == plan.dtb_addr, "entry registers");
		}
	}

	/* Again from descriptors: the same answers, the same RAM. */
	{
		struct hyp_boot_config fdc = bc;
		struct hyp_boot_layout plan2 = { .size = sizeof(plan2) },
				       lay2 = { .size = sizeof(lay2) };
		uint8_t h = fuzz_u8(&in);
		int rp2, rl2;

		if (kernel_fd < 0) {
			kernel_fd = (int)syscall(SYS_memfd_create, "fuzz-kernel", 0u);
			initrd_fd = (int)syscall(SYS_memfd_create, "fuzz-initrd", 0u);
			after = malloc(RAM_MAX);
			FUZZ_CHECK(kernel_fd >= 0 && initrd_fd >= 0 && after, "memfd");
		}
		FUZZ_CHECK(!ftruncate(kernel_fd, 0) && pwrite(kernel_fd, kernel, bc.kernel_size,
							      0) == (ssize_t)bc.kernel_size,
			   "memfd write");
		fdc.flags |= HYP_BOOT_KERNEL_FD;
		fdc.kernel = NULL;
		fdc.kernel_fd = kernel_fd;
		if (h & 1)
			fdc.kernel_size = 0; /* the library asks the file */
		if (bc.initrd_size && (h & 2)) {
			FUZZ_CHECK(!ftruncate(initrd_fd, 0) &&
					   pwrite(initrd_fd, initrd, bc.initrd_size, 0) ==
						   (ssize_t)bc.initrd_size,
				   "memfd write");
			fdc.flags |= HYP_BOOT_INITRD_FD;
			fdc.initrd = NULL;
			fdc.initrd_fd = initrd_fd;
			if (h & 4)
				fdc.initrd_size = 0;
		}
		memcpy(after, ram, bc.ram_size);
		memcpy(ram, snapshot, bc.ram_size);
		rp2 = hyp_boot_plan(&fdc, &plan2);
		FUZZ_CHECK(rp2 == rp, "plan from memory %d, from a descriptor %d", rp, rp2);
		FUZZ_CHECK(rp || !memcmp(&plan2, &plan, sizeof(plan)), "plans differ");
		rl2 = hyp_boot_load(vm, &fdc, (bc.flags & HYP_BOOT_NO_DTB) ? NULL : dtb, dtb_len,
				    &lay2);
		FUZZ_CHECK(rl2 == rl, "load from memory %d, from a descriptor %d", rl, rl2);
		FUZZ_CHECK(rl || !memcmp(&lay2, &lay, sizeof(lay)), "layouts differ");
		FUZZ_CHECK(!memcmp(ram, after, bc.ram_size), "guest RAM differs after the loads");
	}
	hyp_vm_destroy(vm);
	__asan_unpoison_memory_region(arena, GUARD + RAM_MAX + GUARD);
	FUZZ_CHECK(!memcmp(arena, guard, GUARD) && !memcmp(arena + GUARD + RAM_MAX, guard, GUARD),
		   "guard region written");
	return 0;
}
