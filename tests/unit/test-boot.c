/* SPDX-License-Identifier: MIT */
/*
 * Guest loading on the mock backend with real guest RAM: hyp_boot_plan(), hyp_boot_load(),
 * hyp_boot_setup_vcpu().
 *
 * Synthetic arm64 Images (plain, EFI-stub "MZ", pre-v3.17), ELF64 files and raw binaries are built
 * in memory. Every bad input asserts the exact errno of include/libhyp/boot.h AND that guest RAM is
 * byte-for-byte what it was (RAM starts filled with a pattern, so even a zero-fill would show), and
 * that the layout out-parameter is untouched. The real Debian arm64 kernel from the libhyp cache is
 * loaded too when present (else that test reports a TAP skip with the reason).
 */

#include <libfdt.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test-helpers.h"

#include <libhyp/backend.h>

#include "test-stub-backend.h"

#define RAM (TEST_RAM_BASE)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define SZ_2M (2 * MiB)

/* A mock VM with @size bytes of RAM at @base (in one region, or split in two adjacent ones),
 * filled with a recognisable pattern. */
struct fx {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	uint8_t *ram;
	uint8_t *snapshot;
	uint64_t base;
	size_t size;
};

static void fx_init(struct fx *f, uint64_t base, size_t size, bool split)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };

	memset(f, 0, sizeof(*f));
	f->base = base;
	f->size = size;
	assert_int_equal(hyp_vm_create(&cfg, &f->vm), 0);
	f->ram = aligned_alloc(HYP_PAGE_SIZE, size);
	f->snapshot = malloc(size);
	assert_non_null(f->ram);
	assert_non_null(f->snapshot);
	for (size_t i = 0; i < size; i++)
		f->ram[i] = (uint8_t)(0x5a ^ (i * 13) ^ (i >> 12));
	if (split) {
		size_t half = size / 2;

		assert_int_equal(hyp_vm_map(f->vm, base, f->ram, half, HYP_MEM_RWX), 0);
		assert_int_equal(
			hyp_vm_map(f->vm, base + half, f->ram + half, size - half, HYP_MEM_RWX), 0);
	} else {
		assert_int_equal(hyp_vm_map(f->vm, base, f->ram, size, HYP_MEM_RWX), 0);
	}
	assert_int_equal(hyp_vcpu_create(f->vm, NULL, &f->vcpu), 0);
	memcpy(f->snapshot, f->ram, size);
}

static void fx_fini(struct fx *f)
{
	hyp_vm_destroy(f->vm);
	free(f->ram);
	free(f->snapshot);
}

static bool ram_unchanged(const struct fx *f)
{
	return memcmp(f->ram, f->snapshot, f->size) == 0;
}

static uint8_t *ram_at(const struct fx *f, uint64_t ipa)
{
	assert_true(ipa >= f->base && ipa - f->base < f->size);
	return f->ram + (ipa - f->base);
}

/* Every byte outside the given ranges still holds the pattern. */
static void assert_rest_unchanged(const struct fx *f, const uint64_t (*ranges)[2], int n)
{
	for (size_t i = 0; i < f->size; i++) {
		uint64_t ipa = f->base + i;
		bool covered = false;

		for (int j = 0; j < n && !covered; j++)
			covered = ipa >= ranges[j][0] && ipa < ranges[j][1];
		if (!covered && f->ram[i] != f->snapshot[i])
			fail_msg("guest byte 0x%llx changed outside the plan",
				 (unsigned long long)ipa);
	}
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
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

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void fill_payload(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* ---- arm64 Image ---- */

/* booting.rst's 64-byte header; @efi adds the "MZ" / PE pointer of EFI-stub kernels. */
static uint8_t *make_image(size_t file_size, uint64_t text_offset, uint64_t image_size,
			   uint64_t flags, bool efi)
{
	uint8_t *img = malloc(file_size);

	assert_non_null(img);
	fill_payload(img, file_size, 0x11);
	if (file_size < 64)
		return img;
	memset(img, 0, 64);
	put32(img, efi ? 0xfa405a4du : 0x14000010u); /* "MZ" + ccmp, or b +0x40 */
	put32(img + 4, 0x14000000u);
	put64(img + 0x08, text_offset);
	put64(img + 0x10, image_size);
	put64(img + 0x18, flags);
	put32(img + 0x38, 0x644d5241u); /* "ARM\x64" */
	if (efi) {
		put32(img + 0x3c, 0x40);
		/* A consistent PE/COFF header: "PE\0\0", machine AArch64 (0xaa64), one section,
		 * no optional header, and the section's file data running to the end of the
		 * file, as in a real EFI-stub kernel. */
		if (file_size >= 0x80) {
			memset(img + 0x40, 0, 0x40);
			memcpy(img + 0x40, "PE\0\0\x64\xaa\x01\0", 8);
			put32(img + 0x58 + 16, (uint32_t)(file_size - 0x80)); /* SizeOfRawData */
			put32(img + 0x58 + 20, 0x80);			      /* PointerToRawData */
		}
	}
	return img;
}

/* A small, valid DTB for load tests. */
static void *make_dtb(size_t size)
{
	void *dtb = aligned_alloc(8, size);

	assert_non_null(dtb);
	assert_int_equal(fdt_create_empty_tree(dtb, (int)size), 0);
	assert_int_equal(fdt_pack(dtb), 0);
	return dtb;
}

static struct hyp_boot_config image_config(const void *img, size_t size)
{
	struct hyp_boot_config bc = {
		.size = sizeof(bc),
		.ram_base = RAM,
		.ram_size = 32 * MiB,
		.kernel = img,
		.kernel_size = size,
		.dtb_size = 64 << 10,
	};

	return bc;
}

#define LAYOUT_INIT                                                                                \
	{                                                                                          \
		.size = sizeof(struct hyp_boot_layout), .format = 0xdead                           \
	}

static void expect_plan_error(const struct hyp_boot_config *bc, int err)
{
	struct hyp_boot_layout lay = LAYOUT_INIT, before = lay;

	assert_int_equal(hyp_boot_plan(bc, &lay), err);
	assert_memory_equal(&lay, &before, sizeof(lay));
}

/* Both steps fail with @err; guest RAM and the layout are untouched. */
static void expect_load_error(struct fx *f, const struct hyp_boot_config *bc, const void *dtb,
			      size_t dtb_len, int err)
{
	struct hyp_boot_layout lay = LAYOUT_INIT, before = lay;

	assert_int_equal(hyp_boot_load(f->vm, bc, dtb, dtb_len, &lay), err);
	assert_memory_equal(&lay, &before, sizeof(lay));
	assert_true(ram_unchanged(f));
}

static void expect_error(struct fx *f, const struct hyp_boot_config *bc, int err)
{
	void *dtb = make_dtb(4096);

	expect_plan_error(bc, err);
	expect_load_error(f, bc, (bc->flags & HYP_BOOT_NO_DTB) ? NULL : dtb,
			  (bc->flags & HYP_BOOT_NO_DTB) ? 0 : fdt_totalsize(dtb), err);
	free(dtb);
}

/* expect_error() for table-driven tests: says which row failed. */
static void expect_case(struct fx *f, const struct hyp_boot_config *bc, int err, size_t row)
{
	struct hyp_boot_layout lay = LAYOUT_INIT;
	int r = hyp_boot_plan(bc, &lay);

	if (r != err)
		fail_msg("case %zu: hyp_boot_plan() returned %d, expected %d", row, r, err);
	expect_error(f, bc, err);
}

static void test_image_load(void **state)
{
	const size_t file = 256 << 10, initrd_size = 300000;
	uint8_t *img = make_image(file, 0, 4 * MiB, 0xa, false);
	uint8_t *initrd = malloc(initrd_size);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout plan = LAYOUT_INIT, lay = LAYOUT_INIT;
	struct hyp_fdt_mem_range mem = { RAM, 32 * MiB };
	struct hyp_fdt_config fc = { .size = sizeof(fc), .num_cpus = 1, .mem = &mem, .num_mem = 1 };
	uint8_t dtb[64 << 10] __attribute__((aligned(8)));
	size_t dtb_size;
	struct fx f;
	int chosen;

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	fill_payload(initrd, initrd_size, 0x77);
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;

	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.size, sizeof(plan));
	assert_int_equal(plan.format, HYP_BOOT_FORMAT_ARM64_IMAGE);
	assert_int_equal(plan.kernel_start, RAM);
	assert_int_equal(plan.kernel_end, RAM + 4 * MiB);
	assert_int_equal(plan.entry, RAM);
	assert_int_equal(plan.image_flags, 0xa);
	/* DTB right above the footprint, the initrd above the DTB space: page aligned, disjoint. */
	assert_int_equal(plan.dtb_addr, RAM + 4 * MiB);
	assert_int_equal(plan.dtb_size, 64 << 10);
	assert_int_equal(plan.initrd_start, RAM + 4 * MiB + (64 << 10));
	assert_int_equal(plan.initrd_end, plan.initrd_start + initrd_size);
	assert_true(ram_unchanged(&f)); /* planning writes nothing */

	/* The DTB describes the initrd where the plan put it. */
	fc.initrd_start = plan.initrd_start;
	fc.initrd_end = plan.initrd_end;
	fc.bootargs = "console=ttyAMA0";
	assert_int_equal(hyp_fdt_build(&fc, dtb, sizeof(dtb), &dtb_size), 0);

	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, sizeof(dtb), &lay), 0);
	assert_memory_equal(&lay, &plan, sizeof(lay));
	assert_memory_equal(ram_at(&f, RAM), img, file);
	assert_true(all_zero(ram_at(&f, RAM + file), 4 * MiB - file)); /* BSS up to image_size */
	assert_memory_equal(ram_at(&f, plan.initrd_start), initrd, initrd_size);
	assert_memory_equal(ram_at(&f, plan.dtb_addr), dtb, dtb_size);
	{
		const uint64_t written[3][2] = {
			{ RAM, RAM + 4 * MiB },
			{ plan.dtb_addr, plan.dtb_addr + dtb_size },
			{ plan.initrd_start, plan.initrd_end },
		};

		assert_rest_unchanged(&f, written, 3);
	}
	chosen = fdt_path_offset(ram_at(&f, plan.dtb_addr), "/chosen");
	assert_true(chosen >= 0);
	assert_int_equal(
		fdt64_ld(fdt_getprop(ram_at(&f, plan.dtb_addr), chosen, "linux,initrd-end", NULL)),
		plan.initrd_end);

	/* The boot vCPU. */
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_X(0)), plan.dtb_addr);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PC), RAM);
	free(img);
	free(initrd);
	fx_fini(&f);
}

/* text_offset above a 2 MiB base that is not the start of RAM; the EFI-stub "MZ" form. */
static void test_image_text_offset_and_efi_stub(void **state)
{
	const size_t file = 96 << 10;
	uint8_t *img = make_image(file, 0x80000, 3 * MiB, 0x2, true);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	struct fx f;

	(void)state;
	fx_init(&f, RAM + MiB, 16 * MiB, false);
	bc.ram_base = RAM + MiB;
	bc.ram_size = 16 * MiB;
	bc.dtb_size = 4096;
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
	assert_int_equal(lay.format, HYP_BOOT_FORMAT_ARM64_IMAGE);
	assert_int_equal(lay.kernel_start, RAM + SZ_2M + 0x80000); /* lowest 2 MiB boundary */
	assert_int_equal(lay.entry, lay.kernel_start);
	assert_int_equal(lay.kernel_end, lay.kernel_start + 3 * MiB);
	assert_int_equal(lay.dtb_addr, lay.kernel_end);
	assert_int_equal(lay.initrd_start, 0);
	assert_int_equal(lay.initrd_end, 0);
	assert_memory_equal(ram_at(&f, lay.kernel_start), img, file);
	assert_int_equal(memcmp(ram_at(&f, lay.kernel_start), "MZ", 2), 0);
	{
		const uint64_t written[2][2] = { { lay.kernel_start, lay.kernel_end },
						 { lay.dtb_addr,
						   lay.dtb_addr + fdt_totalsize(dtb) } };

		assert_rest_unchanged(&f, written, 2);
	}
	/* Forcing the format gives the same; forcing ELF on it is refused. */
	bc.kernel_format = HYP_BOOT_FORMAT_ARM64_IMAGE;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	bc.kernel_format = HYP_BOOT_FORMAT_ELF;
	expect_plan_error(&bc, -ENOEXEC);
	free(img);
	free(dtb);
	fx_fini(&f);
}

/* An EFI-stub kernel cut short: its PE section table says where the file must end, so the
 * truncation is caught (the arm64 header alone cannot tell it from BSS). */
static void test_image_truncated_efi_stub(void **state)
{
	const size_t file = 96 << 10;
	uint8_t *img = make_image(file, 0x80000, 3 * MiB, 0x2, true);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct hyp_boot_config bc;

	(void)state;
	bc = image_config(img, file / 2);
	bc.ram_base = RAM;
	bc.ram_size = 16 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), -ENOEXEC);
	/* A section table that runs off the end of the file is as bad. */
	put32(img + 0x40 + 6, 0xffff);
	bc = image_config(img, file);
	bc.ram_base = RAM;
	bc.ram_size = 16 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), -ENOEXEC);
	/* The intact file plans fine. */
	put32(img + 0x40 + 6, 1);
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	free(img);
}

/* Flags bit 3: a kernel that may live anywhere takes the requested base; one that must sit at
 * the start of RAM refuses any other. */
static void test_image_placement_flag(void **state)
{
	const size_t file = 64 << 10;
	uint8_t *img = make_image(file, 0, 2 * MiB, 0x8 | 0x2, false);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	bc.load_addr = RAM + 8 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.kernel_start, RAM + 8 * MiB);
	assert_int_equal(lay.dtb_addr, RAM + 10 * MiB);

	bc.load_addr = RAM + 8 * MiB + 0x1000; /* not 2 MiB aligned */
	expect_error(&f, &bc, -EINVAL);
	bc.load_addr = RAM + 32 * MiB; /* just past RAM */
	expect_error(&f, &bc, -ERANGE);
	bc.load_addr = RAM - SZ_2M;
	expect_error(&f, &bc, -ERANGE);
	bc.load_addr = RAM + 30 * MiB; /* 2 MiB footprint fits, the DTB space does not */
	expect_error(&f, &bc, -ENOSPC);

	put64(img + 0x18, 0x2); /* bit 3 clear */
	bc.load_addr = RAM + 8 * MiB;
	expect_error(&f, &bc, -EINVAL);
	bc.load_addr = RAM; /* the lowest boundary is the only choice, and fine */
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.kernel_start, RAM);
	assert_int_equal(lay.image_flags, 0x2);
	free(img);
	fx_fini(&f);
}

/* Before v3.17: image_size 0, text_offset taken as 0x80000 whatever the header says, footprint
 * the file; initrd at the top of RAM, DTB below it within 512 MiB of the base. */
static void test_image_legacy(void **state)
{
	const size_t file = 128 << 10, initrd_size = 5000;
	uint8_t *img = make_image(file, 0x12345, 0, 0xff, false);
	uint8_t initrd[5000];
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	fill_payload(initrd, sizeof(initrd), 3);
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	bc.dtb_size = 8192;
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
	assert_int_equal(lay.kernel_start, RAM + 0x80000);
	assert_int_equal(lay.kernel_end, RAM + 0x80000 + file);
	assert_int_equal(lay.image_flags, 0);
	assert_int_equal(lay.initrd_end, lay.initrd_start + initrd_size);
	assert_int_equal(lay.initrd_start, (RAM + 32 * MiB - initrd_size) & ~0xfffull);
	assert_int_equal(lay.dtb_addr, lay.initrd_start - 8192);
	assert_memory_equal(ram_at(&f, lay.kernel_start), img, file);
	assert_memory_equal(ram_at(&f, lay.initrd_start), initrd, initrd_size);

	/* With 1 GiB of RAM (never touched: planning only) the DTB stays within 512 MiB. */
	bc.ram_size = GiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.initrd_start, (RAM + GiB - initrd_size) & ~0xfffull);
	assert_int_equal(lay.dtb_addr, RAM + 512 * MiB - 8192);
	free(img);
	free(dtb);
	fx_fini(&f);
}

/* Corrupt or absurd Image headers: -ENOEXEC, or "does not fit": -ENOSPC. Nothing written. */
static void test_image_bad_headers(void **state)
{
	const size_t file = 64 << 10;
	uint8_t *img = make_image(file, 0, 2 * MiB, 0xa, false);
	uint8_t *bad = calloc(1, file);
	struct hyp_boot_config bc = image_config(bad, file);
	struct fx f;
	static const struct {
		size_t off;
		uint64_t value;
		int width;
		int err;
	} cases[] = {
		{ 0x38, 0x644d5240, 4, -ENOEXEC },	 /* magic */
		{ 0x08, SZ_2M, 8, -ENOEXEC },		 /* text_offset past the 2 MiB block */
		{ 0x08, UINT64_MAX, 8, -ENOEXEC },	 /* ...absurdly */
		{ 0x08, 0x80002, 8, -ENOEXEC },		 /* not an instruction boundary */
		{ 0x10, 16, 8, -ENOEXEC },		 /* image_size smaller than the header */
		{ 0x10, UINT64_MAX, 8, -ENOEXEC },	 /* overflowing */
		{ 0x10, (1ull << 48) + 1, 8, -ENOEXEC }, /* past the 48-bit range */
		{ 0x10, 32 * MiB - 0x8000, 8, -ENOSPC }, /* no room left for the DTB */
		{ 0x10, 33 * MiB, 8, -ENOSPC },		 /* larger than RAM */
		{ 0x10, (1ull << 48), 8, -ENOSPC },	 /* plausible-looking, far too big */
	};

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, img, file);
		if (cases[i].width == 4)
			put32(bad + cases[i].off, (uint32_t)cases[i].value);
		else
			put64(bad + cases[i].off, cases[i].value);
		expect_case(&f, &bc, cases[i].err, i);
	}

	/* Truncated: shorter than the 64-byte header. AUTO does not recognise it at all. */
	memcpy(bad, img, file);
	for (size_t len = 1; len < 64; len += 7) {
		bc.kernel_size = len;
		bc.kernel_format = HYP_BOOT_FORMAT_AUTO;
		expect_error(&f, &bc, -ENOEXEC);
		bc.kernel_format = HYP_BOOT_FORMAT_ARM64_IMAGE;
		expect_error(&f, &bc, -ENOEXEC);
	}
	/* A file longer than image_size: the excess is not the kernel's and is not loaded. */
	bc.kernel_format = HYP_BOOT_FORMAT_AUTO;
	bc.kernel_size = file;
	put64(bad + 0x10, 4096);
	{
		struct hyp_boot_layout lay = LAYOUT_INIT;
		void *dtb = make_dtb(4096);

		assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
		assert_int_equal(lay.kernel_end, RAM + 4096);
		assert_memory_equal(ram_at(&f, RAM), bad, 4096);
		assert_memory_equal(ram_at(&f, RAM + 4096 + 4096), f.snapshot + 8192, 4096);
		free(dtb);
	}
	free(img);
	free(bad);
	fx_fini(&f);
}

/* ---- ELF ---- */

struct phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

/* An ELF64 AArch64 executable: header, program headers, then each segment's bytes. */
static uint8_t *make_elf(const struct phdr *ph, int n, uint64_t entry, size_t *size)
{
	size_t data = 64 + (size_t)n * 56, total = data;
	uint8_t *elf;

	for (int i = 0; i < n; i++)
		total += ph[i].filesz;
	total += 16;
	elf = calloc(1, total);
	assert_non_null(elf);
	memcpy(elf,
	       "\x7f"
	       "ELF\x02\x01\x01",
	       7);
	put16(elf + 16, 2);   /* ET_EXEC */
	put16(elf + 18, 183); /* EM_AARCH64 */
	put32(elf + 20, 1);
	put64(elf + 24, entry);
	put64(elf + 32, 64);
	put16(elf + 52, 64);
	put16(elf + 54, 56);
	put16(elf + 56, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		uint8_t *p = elf + 64 + i * 56;
		uint64_t off = ph[i].offset ? ph[i].offset : data;

		put32(p, ph[i].type);
		put32(p + 4, ph[i].flags);
		put64(p + 8, off);
		put64(p + 16, ph[i].vaddr);
		put64(p + 24, ph[i].paddr);
		put64(p + 32, ph[i].filesz);
		put64(p + 40, ph[i].memsz);
		put64(p + 48, 0x1000);
		if (!ph[i].offset && ph[i].filesz) {
			fill_payload(elf + data, ph[i].filesz, (uint8_t)(0x30 + i));
			data += ph[i].filesz;
		}
	}
	*size = total;
	return elf;
}

static const struct phdr elf_segments[3] = {
	{ 1, 5, 0, RAM + 0x80000, RAM + 0x80000, 0x3000, 0x3000 },  /* text */
	{ 4, 4, 0, 0, 0, 0x40, 0x40 },				    /* PT_NOTE: ignored */
	{ 1, 6, 0, RAM + 0x100000, RAM + 0x100000, 0x800, 0x5000 }, /* data + BSS */
};

static struct hyp_boot_config elf_config(const void *elf, size_t size)
{
	struct hyp_boot_config bc = {
		.size = sizeof(bc),
		.ram_base = RAM,
		.ram_size = 4 * MiB,
		.kernel = elf,
		.kernel_size = size,
		.dtb_size = 16 << 10,
	};

	return bc;
}

static void test_elf_load(void **state)
{
	size_t size;
	uint8_t *elf = make_elf(elf_segments, 3, RAM + 0x80100, &size);
	uint8_t initrd[10000];
	struct hyp_boot_config bc = elf_config(elf, size);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	const uint8_t *text = elf + 64 + 3 * 56, *data = text + 0x3000 + 0x40;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 4 * MiB, true); /* two adjacent regions: writes span them */
	fill_payload(initrd, sizeof(initrd), 9);
	bc.initrd = initrd;
	bc.initrd_size = sizeof(initrd);
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
	assert_int_equal(lay.format, HYP_BOOT_FORMAT_ELF);
	assert_int_equal(lay.entry, RAM + 0x80100);
	assert_int_equal(lay.kernel_start, RAM + 0x80000);
	assert_int_equal(lay.kernel_end, RAM + 0x105000);
	assert_int_equal(lay.dtb_addr, RAM + 0x105000);
	assert_int_equal(lay.initrd_start, RAM + 0x105000 + (16 << 10));
	assert_memory_equal(ram_at(&f, RAM + 0x80000), text, 0x3000);
	assert_memory_equal(ram_at(&f, RAM + 0x100000), data, 0x800);
	assert_true(all_zero(ram_at(&f, RAM + 0x100800), 0x4800)); /* BSS */
	assert_memory_equal(ram_at(&f, lay.initrd_start), initrd, sizeof(initrd));
	{
		const uint64_t written[4][2] = {
			{ RAM + 0x80000, RAM + 0x83000 },
			{ RAM + 0x100000, RAM + 0x105000 },
			{ lay.dtb_addr, lay.dtb_addr + 4096 },
			{ lay.initrd_start, lay.initrd_end },
		};

		assert_rest_unchanged(&f, written, 4);
	}
	free(elf);
	free(dtb);
	fx_fini(&f);
}

/* A vmlinux-style ELF: linked at kernel virtual addresses, loaded at p_paddr; the entry point is
 * translated through its segment. A segment at the top of RAM leaves the DTB and initrd below. */
static void test_elf_virtual_entry_and_placement_below(void **state)
{
	const uint64_t va = 0xffff800008000000ull;
	const struct phdr ph[1] = { { 1, 7, 0, va, RAM + 3 * MiB, 0x2000, MiB } };
	size_t size;
	uint8_t *elf = make_elf(ph, 1, va + 0x40, &size);
	uint8_t initrd[6000];
	struct hyp_boot_config bc = elf_config(elf, size);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 4 * MiB, false);
	bc.initrd = initrd;
	bc.initrd_size = sizeof(initrd);
	fill_payload(initrd, sizeof(initrd), 1);
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
	assert_int_equal(lay.entry, RAM + 3 * MiB + 0x40);
	assert_int_equal(lay.kernel_end, RAM + 4 * MiB);
	/* Below the kernel, descending: DTB space first, then the initrd. */
	assert_int_equal(lay.dtb_addr, RAM + 3 * MiB - (16 << 10));
	assert_int_equal(lay.initrd_start, (lay.dtb_addr - sizeof(initrd)) & ~0xfffull);
	assert_memory_equal(ram_at(&f, lay.initrd_start), initrd, sizeof(initrd));
	assert_memory_equal(ram_at(&f, lay.dtb_addr), dtb, fdt_totalsize(dtb));

	/* An Image never goes below: no room above means -ENOSPC (test_image_placement_flag). */
	free(elf);
	free(dtb);
	fx_fini(&f);
}

static void test_elf_bad(void **state)
{
	size_t size;
	uint8_t *good = make_elf(elf_segments, 3, RAM + 0x80100, &size);
	uint8_t *bad = calloc(1, size);
	struct hyp_boot_config bc = elf_config(bad, size);
	struct fx f;
	const size_t ph0 = 64, ph2 = 64 + 2 * 56;
	static const struct {
		size_t off;
		uint64_t value;
		int width;
		int err;
	} cases[] = {
		{ 4, 1, 1, -ENOEXEC },			  /* ELFCLASS32 */
		{ 5, 2, 1, -ENOEXEC },			  /* big-endian */
		{ 6, 0, 1, -ENOEXEC },			  /* EI_VERSION */
		{ 16, 4, 2, -ENOEXEC },			  /* ET_CORE */
		{ 18, 62, 2, -ENOEXEC },		  /* EM_X86_64 */
		{ 20, 0, 4, -ENOEXEC },			  /* e_version */
		{ 24, RAM + 0x90000, 8, -ENOEXEC },	  /* entry in no segment */
		{ 24, RAM + 0x80102, 8, -ENOEXEC },	  /* entry not an instruction boundary */
		{ 32, 1u << 20, 8, -ENOEXEC },		  /* program headers past the file */
		{ 32, UINT64_MAX - 8, 8, -ENOEXEC },	  /* ...with overflowing arithmetic */
		{ 54, 64, 2, -ENOEXEC },		  /* e_phentsize */
		{ 56, 0, 2, -ENOEXEC },			  /* no program headers */
		{ 56, 257, 2, -ENOEXEC },		  /* too many */
		{ 56, 0xffff, 2, -ENOEXEC },		  /* PN_XNUM */
		{ ph0 + 8, 1u << 20, 8, -ENOEXEC },	  /* p_offset past the file */
		{ ph0 + 8, UINT64_MAX - 4, 8, -ENOEXEC }, /* p_offset + p_filesz wraps */
		{ ph0 + 32, 0x3001, 8, -ENOEXEC },	  /* p_filesz > p_memsz */
		{ ph0 + 32, 0x300000, 8, -ENOEXEC },	  /* p_filesz beyond the file */
		{ ph0 + 24, UINT64_MAX - 0x1000, 8, -ENOEXEC },	  /* p_paddr + p_memsz wraps */
		{ ph0 + 16, UINT64_MAX - 0x1000, 8, -ENOEXEC },	  /* p_vaddr + p_memsz wraps */
		{ ph2 + 24, RAM + 0x82000, 8, -ENOEXEC },	  /* overlaps the text segment */
		{ ph2 + 24, RAM + 0x7e000, 8, -ENOEXEC },	  /* overlaps it from below */
		{ ph2 + 24, RAM + 4 * MiB, 8, -ERANGE },	  /* just past RAM */
		{ ph2 + 24, RAM + 4 * MiB - 0x1000, 8, -ERANGE }, /* straddles the end of RAM */
		{ ph2 + 24, RAM - 0x5000, 8, -ERANGE },		  /* just below RAM */
		{ ph2 + 24, 0x1000, 8, -ERANGE },		  /* far below */
		{ ph0, 6, 4, -ENOEXEC }, /* text is PT_PHDR: the entry is in no PT_LOAD */
	};

	(void)state;
	fx_init(&f, RAM, 4 * MiB, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, good, size);
		switch (cases[i].width) {
		case 1:
			bad[cases[i].off] = (uint8_t)cases[i].value;
			break;
		case 2:
			put16(bad + cases[i].off, (uint16_t)cases[i].value);
			break;
		case 4:
			put32(bad + cases[i].off, (uint32_t)cases[i].value);
			break;
		default:
			put64(bad + cases[i].off, cases[i].value);
		}
		expect_case(&f, &bc, cases[i].err, i);
	}

	/* Truncations anywhere in the headers. */
	memcpy(bad, good, size);
	for (size_t len = 1; len < 64 + 3 * 56; len += 5) {
		bc.kernel_size = len;
		expect_error(&f, &bc, -ENOEXEC);
	}
	/* Truncated inside a segment's bytes. */
	bc.kernel_size = size - 16 - 0x100;
	expect_error(&f, &bc, -ENOEXEC);
	bc.kernel_size = size;

	/* Bad magic: AUTO does not recognise it; forced ELF refuses it. */
	bad[1] = 'e';
	expect_error(&f, &bc, -ENOEXEC);
	bc.kernel_format = HYP_BOOT_FORMAT_ELF;
	expect_error(&f, &bc, -ENOEXEC);
	bc.kernel_format = HYP_BOOT_FORMAT_AUTO;
	bad[1] = 'E';

	/* An executable (ET_EXEC) takes no load address. */
	bc.load_addr = RAM;
	expect_error(&f, &bc, -EINVAL);
	/* A footprint is for raw binaries only. */
	bc.load_addr = 0;
	bc.footprint = 0x10000;
	expect_error(&f, &bc, -EINVAL);
	bc.footprint = 0;
	bc.load_addr = 0;
	free(good);
	free(bad);
	fx_fini(&f);
}

/* A position-independent ELF (ET_DYN): link-time addresses from 0, placed at a base. */
static uint8_t *make_pie(uint64_t align, size_t *size)
{
	static const struct phdr ph[2] = {
		{ 1, 5, 0, 0, 0, 0x3000, 0x3000 },	       /* text at 0 */
		{ 1, 6, 0, 0x10000, 0x10000, 0x800, 0x20000 }, /* data + BSS at 64 KiB */
	};
	uint8_t *elf = make_elf(ph, 2, 0x100, size);

	put16(elf + 16, 3); /* ET_DYN */
	put64(elf + 64 + 48, align);
	put64(elf + 64 + 56 + 48, align);
	return elf;
}

static void test_elf_pie(void **state)
{
	size_t size;
	uint8_t *elf = make_pie(0x10000, &size);
	struct hyp_boot_config bc = elf_config(elf, size);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 4 * MiB, false);
	/* Default base: the lowest 2 MiB boundary in RAM; entry = base + e_entry. */
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.format, HYP_BOOT_FORMAT_ELF);
	assert_int_equal(lay.kernel_start, RAM);
	assert_int_equal(lay.entry, RAM + 0x100);
	/* The footprint includes the BSS: the DTB goes above it, not on it. */
	assert_int_equal(lay.kernel_end, RAM + 0x30000);
	assert_true(lay.dtb_addr >= RAM + 0x30000);

	/* A chosen base: the segments follow it, the bytes land there, the BSS is zeroed. */
	bc.load_addr = RAM + 2 * MiB;
	{
		void *dtb = make_dtb(4096);

		assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
		free(dtb);
	}
	assert_int_equal(lay.kernel_start, RAM + 2 * MiB);
	assert_int_equal(lay.entry, RAM + 2 * MiB + 0x100);
	assert_memory_equal(ram_at(&f, RAM + 2 * MiB), elf + 64 + 2 * 56, 0x3000);
	assert_int_equal(*ram_at(&f, RAM + 2 * MiB + 0x10000 + 0x800), 0);
	assert_int_equal(*ram_at(&f, RAM + 2 * MiB + 0x2ffff), 0);
	assert_true(lay.dtb_addr >= RAM + 2 * MiB + 0x30000 ||
		    lay.dtb_addr + 4096 <= RAM + 2 * MiB);

	/* A base that breaks the segments' 64 KiB alignment; one outside RAM. */
	memcpy(f.snapshot, f.ram, f.size);
	bc.load_addr = RAM + 0x1000;
	expect_error(&f, &bc, -EINVAL);
	bc.load_addr = RAM + 8 * MiB;
	expect_error(&f, &bc, -ERANGE);
	/* A base near the end of RAM: the image does not fit after it. */
	bc.load_addr = RAM + 4 * MiB - 0x10000;
	expect_error(&f, &bc, -ERANGE);
	bc.load_addr = 0;
	free(elf);

	/* p_align must be a power of two; a 4 MiB alignment pushes the default base up. */
	elf = make_pie(0x3000, &size);
	bc = elf_config(elf, size);
	expect_error(&f, &bc, -ENOEXEC);
	free(elf);
	elf = make_pie(4 * MiB, &size);
	bc = elf_config(elf, size);
	bc.ram_base = RAM + 2 * MiB; /* the next 4 MiB boundary (RAM + 4 MiB) is outside */
	bc.ram_size = 2 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), -ENOSPC);
	bc.ram_base = RAM;
	bc.ram_size = 4 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.kernel_start, RAM);
	free(elf);
	fx_fini(&f);
}

static void test_elf_segment_limits(void **state)
{
	struct phdr ph[34];
	size_t size;
	uint8_t *elf;
	struct hyp_boot_config bc;
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 4 * MiB, false);
	for (int i = 0; i < 34; i++)
		ph[i] = (struct phdr){ 1,     5,     0, RAM + i * 0x2000ull, RAM + i * 0x2000ull,
				       0x100, 0x1000 };
	/* 32 loadable segments are accepted, 33 are not; empty ones do not count. */
	elf = make_elf(ph, 32, RAM, &size);
	bc = elf_config(elf, size);
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	free(elf);
	elf = make_elf(ph, 33, RAM, &size);
	bc = elf_config(elf, size);
	expect_error(&f, &bc, -ENOEXEC);
	free(elf);
	ph[32].memsz = 0;
	ph[32].filesz = 0;
	elf = make_elf(ph, 33, RAM, &size);
	bc = elf_config(elf, size);
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	free(elf);
	/* Only empty or non-loadable segments: nothing to run. */
	ph[0].type = 4;
	elf = make_elf(ph, 1, RAM, &size);
	bc = elf_config(elf, size);
	expect_error(&f, &bc, -ENOEXEC);
	free(elf);
	fx_fini(&f);
}

/* ---- raw binaries ---- */

static void test_raw(void **state)
{
	uint8_t bin[5000];
	struct hyp_boot_config bc = {
		.size = sizeof(bc),
		.flags = HYP_BOOT_NO_DTB,
		.ram_base = RAM,
		.ram_size = MiB,
		.kernel = bin,
		.kernel_size = sizeof(bin),
		.kernel_format = HYP_BOOT_FORMAT_RAW,
		.load_addr = RAM + 0x10000,
	};
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, MiB, false);
	fill_payload(bin, sizeof(bin), 0x42);
	assert_int_equal(hyp_boot_load(f.vm, &bc, NULL, 0, &lay), 0);
	assert_int_equal(lay.format, HYP_BOOT_FORMAT_RAW);
	assert_int_equal(lay.entry, RAM + 0x10000);
	assert_int_equal(lay.kernel_end, RAM + 0x10000 + sizeof(bin));
	assert_int_equal(lay.dtb_addr, 0);
	assert_int_equal(lay.dtb_size, 0);
	assert_memory_equal(ram_at(&f, RAM + 0x10000), bin, sizeof(bin));
	{
		const uint64_t written[1][2] = { { RAM + 0x10000, RAM + 0x10000 + sizeof(bin) } };

		assert_rest_unchanged(&f, written, 1);
	}
	/* x0 = 0 without a DTB. */
	assert_int_equal(hyp_vcpu_set_reg(f.vcpu, HYP_REG_X(0), 0x1234), 0);
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_X(0)), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PC), RAM + 0x10000);

	memcpy(f.snapshot, f.ram, f.size);
	bc.load_addr = RAM + 2;
	expect_error(&f, &bc, -EINVAL); /* not an instruction boundary */
	bc.load_addr = RAM + MiB;
	expect_error(&f, &bc, -ERANGE);
	bc.load_addr = RAM - 4096;
	expect_error(&f, &bc, -ERANGE);
	bc.load_addr = RAM + MiB - 4096; /* starts inside, does not fit */
	expect_error(&f, &bc, -ENOSPC);
	/* Never recognised by AUTO: random bytes are not a kernel. */
	bc.load_addr = RAM;
	bc.kernel_format = HYP_BOOT_FORMAT_AUTO;
	expect_error(&f, &bc, -ENOEXEC);

	/* A stated footprint (BSS, stack): zeroed, and the DTB and initrd kept above it. */
	bc.kernel_format = HYP_BOOT_FORMAT_RAW;
	bc.flags = 0;
	bc.dtb_size = 4096;
	bc.load_addr = RAM + 0x10000;
	bc.footprint = 0x40000;
	{
		uint8_t rd[100];
		void *dtb = make_dtb(4096);

		memset(rd, 0x77, sizeof(rd));
		bc.initrd = rd;
		bc.initrd_size = sizeof(rd);
		assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), 0);
		free(dtb);
		assert_int_equal(lay.kernel_end, RAM + 0x50000);
		assert_true(lay.dtb_addr >= RAM + 0x50000);
		assert_true(lay.initrd_start >= RAM + 0x50000);
		assert_memory_equal(ram_at(&f, RAM + 0x10000), bin, sizeof(bin));
		for (uint64_t a = RAM + 0x10000 + sizeof(bin); a < RAM + 0x50000; a += 997)
			assert_int_equal(*ram_at(&f, a), 0);
		bc.initrd = NULL;
		bc.initrd_size = 0;
	}
	/* A footprint below the file size is the file size; one past RAM does not fit. */
	bc.footprint = 16;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.kernel_end, RAM + 0x10000 + sizeof(bin));
	bc.footprint = MiB;
	memcpy(f.snapshot, f.ram, f.size);
	expect_error(&f, &bc, -ENOSPC);
	fx_fini(&f);
}

/* ---- placement limits and the load step's own checks ---- */

static void test_does_not_fit(void **state)
{
	const size_t file = 64 << 10;
	uint8_t *img = make_image(file, 0, 8 * MiB, 0xa, false);
	uint8_t *initrd = calloc(1, 20 * MiB);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	struct fx f;

	(void)state;
	assert_non_null(initrd);
	fx_init(&f, RAM, 32 * MiB, false);
	bc.initrd = initrd;
	bc.initrd_size = 24 * MiB - (64 << 10); /* fills RAM exactly */
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_int_equal(lay.initrd_end, RAM + 32 * MiB);
	bc.initrd_size += 1;
	expect_error(&f, &bc, -ENOSPC);
	bc.initrd_size = 1;

	bc.dtb_size = HYP_BOOT_DTB_MAX_SIZE + 8; /* more than Linux accepts */
	expect_error(&f, &bc, -EINVAL);
	bc.dtb_size = 24 * MiB; /* cannot be: over the limit anyway */
	expect_error(&f, &bc, -EINVAL);

	/* RAM so small no 2 MiB boundary is inside it. */
	bc.dtb_size = 4096;
	bc.ram_base = RAM + 4096;
	bc.ram_size = MiB;
	expect_plan_error(&bc, -ENOSPC);
	free(img);
	free(initrd);
	fx_fini(&f);
}

/* HYP_BOOT_PLACE_HIGH: DTB at the top, initrd right below; the default where they do not fit. */
static void test_place_high(void **state)
{
	const size_t file = 256 << 10, initrd_size = 300000;
	uint8_t *img = make_image(file, 0, 4 * MiB, 0xa, false);
	uint8_t *initrd = malloc(initrd_size);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout plan = LAYOUT_INIT, lay = LAYOUT_INIT, low = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	struct fx f;

	(void)state;
	assert_non_null(initrd);
	fx_init(&f, RAM, 32 * MiB, false);
	fill_payload(initrd, initrd_size, 0x55);
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	bc.flags = HYP_BOOT_PLACE_HIGH;
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.kernel_start, RAM);
	assert_int_equal(plan.kernel_end, RAM + 4 * MiB);
	assert_int_equal(plan.dtb_addr, RAM + 32 * MiB - (64 << 10));
	assert_int_equal(plan.dtb_size, 64 << 10);
	assert_int_equal(plan.initrd_start,
			 (RAM + 32 * MiB - (64 << 10) - initrd_size) & ~0xfffull);
	assert_int_equal(plan.initrd_end, plan.initrd_start + initrd_size);
	assert_true(plan.initrd_end <= plan.dtb_addr);
	assert_true(ram_unchanged(&f));
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, fdt_totalsize(dtb), &lay), 0);
	assert_memory_equal(&lay, &plan, sizeof(lay));
	assert_memory_equal(ram_at(&f, RAM), img, file);
	assert_memory_equal(ram_at(&f, plan.initrd_start), initrd, initrd_size);
	assert_memory_equal(ram_at(&f, plan.dtb_addr), dtb, fdt_totalsize(dtb));
	{
		const uint64_t written[3][2] = {
			{ RAM, RAM + 4 * MiB },
			{ plan.dtb_addr, plan.dtb_addr + fdt_totalsize(dtb) },
			{ plan.initrd_start, plan.initrd_end },
		};

		assert_rest_unchanged(&f, written, 3);
	}

	/* No initrd: the DTB alone at the top. No DTB: the initrd at the top. */
	bc.initrd = NULL;
	bc.initrd_size = 0;
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.dtb_addr, RAM + 32 * MiB - (64 << 10));
	assert_int_equal(plan.initrd_start, 0);
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	bc.flags |= HYP_BOOT_NO_DTB;
	bc.dtb_size = 0;
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.dtb_addr, 0);
	assert_int_equal(plan.initrd_start, (RAM + 32 * MiB - initrd_size) & ~0xfffull);

	/* Exactly filling the room above the kernel, and one byte more: then the default
	 * placement (which also fails here: there is no room below an Image). */
	bc.flags = HYP_BOOT_PLACE_HIGH;
	bc.dtb_size = 64 << 10;
	bc.initrd = calloc(1, 28 * MiB);
	assert_non_null(bc.initrd);
	bc.initrd_size = 28 * MiB - (64 << 10);
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.initrd_start, RAM + 4 * MiB);
	assert_int_equal(plan.dtb_addr, RAM + 32 * MiB - (64 << 10));
	bc.initrd_size += 1;
	memcpy(f.snapshot, f.ram, f.size); /* RAM as the load above left it */
	expect_error(&f, &bc, -ENOSPC);
	free((void *)bc.initrd);

	/* An Image placed high in RAM: no room above it, so the default puts nothing below an
	 * Image either; a raw binary with room below gets the default (below) placement. */
	bc = image_config(img, file);
	bc.flags = HYP_BOOT_PLACE_HIGH;
	bc.load_addr = RAM + 28 * MiB;
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	assert_int_equal(hyp_boot_plan(&bc, &plan), -ENOSPC);
	bc = image_config(img, file);
	bc.kernel_format = HYP_BOOT_FORMAT_RAW;
	bc.load_addr = RAM + 31 * MiB;
	bc.footprint = MiB;
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	assert_int_equal(hyp_boot_plan(&bc, &low), 0);
	bc.flags = HYP_BOOT_PLACE_HIGH;
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_memory_equal(&plan, &low, sizeof(plan));
	assert_true(plan.initrd_end <= RAM + 31 * MiB);

	/* The 32 GiB window from the kernel's 1 GiB aligned base bounds the top. */
	bc = image_config(img, file);
	bc.flags = HYP_BOOT_PLACE_HIGH | HYP_BOOT_NO_DTB;
	bc.dtb_size = 0;
	bc.ram_size = 40ull << 30;
	bc.initrd = initrd;
	bc.initrd_size = initrd_size;
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.initrd_start,
			 ((RAM & ~((1ull << 30) - 1)) + (32ull << 30) - initrd_size) & ~0xfffull);
	free(dtb);
	free(img);
	free(initrd);
	fx_fini(&f);
}

static void test_load_checks(void **state)
{
	const size_t file = 64 << 10;
	uint8_t *img = make_image(file, 0, MiB, 0xa, false);
	struct hyp_boot_config bc = image_config(img, file);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	uint8_t *dtb = make_dtb(8192);
	uint8_t *big = aligned_alloc(8, HYP_BOOT_DTB_MAX_SIZE + 4096);
	uint8_t *big_initrd = calloc(1, 15 * MiB);
	uint8_t initrd[100];
	struct fx f;

	(void)state;
	assert_non_null(big);
	assert_non_null(big_initrd);
	fx_init(&f, RAM, 16 * MiB, false);
	bc.initrd = initrd;
	bc.initrd_size = sizeof(initrd);
	memset(initrd, 0xee, sizeof(initrd));

	/* The configuration claims more RAM than the VM has mapped: the plan is fine, loading is
	 * refused before any write (the kernel and the DTB alone would have fitted). */
	bc.ram_size = 32 * MiB;
	bc.initrd = big_initrd;
	bc.initrd_size = 15 * MiB;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	assert_true(lay.initrd_end > RAM + 16 * MiB);
	expect_load_error(&f, &bc, dtb, 8192, -EFAULT);
	bc.initrd = initrd;
	bc.initrd_size = sizeof(initrd);
	bc.ram_base = RAM + 16 * MiB; /* nothing mapped there at all */
	bc.ram_size = 16 * MiB;
	expect_load_error(&f, &bc, dtb, 8192, -EFAULT);
	bc.ram_base = RAM;

	/* A hole in the middle of the kernel's footprint. */
	assert_int_equal(hyp_vm_unmap(f.vm, RAM, 16 * MiB), 0);
	assert_int_equal(hyp_vm_map(f.vm, RAM, f.ram, 512 << 10, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_map(f.vm, RAM + 516 * 1024, f.ram + 516 * 1024,
				    16 * MiB - 516 * 1024, HYP_MEM_RWX),
			 0);
	expect_load_error(&f, &bc, dtb, 8192, -EFAULT);
	assert_int_equal(hyp_vm_map(f.vm, RAM + 512 * 1024, f.ram + 512 * 1024, 4096, HYP_MEM_RWX),
			 0);

	/* DTB header checks. */
	expect_load_error(&f, &bc, NULL, 0, -EINVAL);
	expect_load_error(&f, &bc, dtb, 39, -EINVAL); /* shorter than a header */
	dtb[0] ^= 1;
	expect_load_error(&f, &bc, dtb, 8192, -EINVAL); /* magic */
	dtb[0] ^= 1;
	expect_load_error(&f, &bc, dtb, fdt_totalsize(dtb) - 1, -EINVAL); /* truncated */
	fdt_set_totalsize(dtb, 20);
	expect_load_error(&f, &bc, dtb, 8192, -EINVAL); /* totalsize below the header */
	assert_int_equal(fdt_create_empty_tree(big, HYP_BOOT_DTB_MAX_SIZE + 4096), 0);
	expect_load_error(&f, &bc, big, HYP_BOOT_DTB_MAX_SIZE + 4096, -ENOSPC); /* > reserved */
	bc.dtb_size = 0; /* reserve the 2 MiB maximum */
	expect_load_error(&f, &bc, big, HYP_BOOT_DTB_MAX_SIZE + 4096, -ENOSPC); /* > 2 MiB */
	fdt_set_totalsize(big, HYP_BOOT_DTB_MAX_SIZE);
	assert_int_equal(hyp_boot_load(f.vm, &bc, big, HYP_BOOT_DTB_MAX_SIZE, &lay), 0);
	assert_int_equal(lay.dtb_size, HYP_BOOT_DTB_MAX_SIZE);
	assert_memory_equal(ram_at(&f, lay.dtb_addr), big, HYP_BOOT_DTB_MAX_SIZE);
	assert_memory_equal(ram_at(&f, lay.initrd_start), initrd, sizeof(initrd));
	memcpy(f.snapshot, f.ram, f.size);

	/* HYP_BOOT_NO_DTB takes no DTB; without it one is required. */
	bc.flags = HYP_BOOT_NO_DTB;
	expect_load_error(&f, &bc, big, HYP_BOOT_DTB_MAX_SIZE, -EINVAL);
	expect_load_error(&f, &bc, NULL, 16, -EINVAL);
	free(img);
	free(dtb);
	free(big);
	free(big_initrd);
	fx_fini(&f);
}

static void test_argument_errors(void **state)
{
	const size_t file = 64 << 10;
	uint8_t *img = make_image(file, 0, MiB, 0xa, false);
	struct hyp_boot_config bc = image_config(img, file), good = bc;
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	struct {
		struct hyp_boot_config bc;
		uint64_t extra;
	} bigger = { bc, 0 };
	uint8_t initrd[16];
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	assert_int_equal(hyp_boot_plan(NULL, &lay), -EINVAL);
	assert_int_equal(hyp_boot_plan(&bc, NULL), -EINVAL);
	assert_int_equal(hyp_boot_load(NULL, &bc, dtb, 4096, NULL), -EINVAL);
	assert_int_equal(hyp_boot_load(f.vm, NULL, dtb, 4096, NULL), -EINVAL);
	lay.size = offsetof(struct hyp_boot_layout, image_flags);
	assert_int_equal(hyp_boot_plan(&bc, &lay), -EINVAL);
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, 4096, &lay), -EINVAL);
	assert_true(ram_unchanged(&f));

	/* A bigger layout is filled up to what the library knows; the rest is left alone. */
	{
		struct {
			struct hyp_boot_layout lay;
			uint64_t extra;
		} big_lay = { .lay = { .size = sizeof(big_lay) }, .extra = 77 };

		assert_int_equal(hyp_boot_plan(&bc, &big_lay.lay), 0);
		assert_int_equal(big_lay.lay.size, sizeof(big_lay));
		assert_int_equal(big_lay.lay.entry, RAM);
		assert_int_equal(big_lay.extra, 77);
	}

	/* The sized config. */
	bc.size = offsetof(struct hyp_boot_config, dtb_size);
	expect_error(&f, &bc, -EINVAL);
	bigger.bc.size = sizeof(bigger);
	lay.size = sizeof(lay);
	assert_int_equal(hyp_boot_plan(&bigger.bc, &lay), 0);
	bigger.extra = 1;
	expect_error(&f, &bigger.bc, -E2BIG);

	bc = good;
	bc.flags = 1u << 5;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.reserved = 1;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.kernel_format = HYP_BOOT_FORMAT_RAW + 1;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.kernel = NULL;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.kernel_size = 0;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.initrd_size = 16; /* no bytes */
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.initrd = initrd; /* no size */
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.ram_size = 0;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.ram_base = RAM + 8;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.ram_size = 32 * MiB + 1;
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.ram_base = 0xfffffffffff00000ull;
	bc.ram_size = 2 * MiB; /* wraps */
	expect_error(&f, &bc, -EINVAL);
	bc = good;
	bc.kernel_format = HYP_BOOT_FORMAT_RAW;
	bc.load_addr = RAM;
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	free(img);
	free(dtb);
	fx_fini(&f);
}

/* ---- the boot vCPU ---- */

static void test_setup_vcpu(void **state)
{
	struct hyp_boot_layout lay = { .size = sizeof(lay),
				       .entry = RAM + 0x80000,
				       .dtb_addr = RAM + 0x4000000 };
	uint64_t sctlr, reset;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, MiB, false);
	assert_int_equal(hyp_vcpu_get_sysreg(f.vcpu, HYP_SYSREG_SCTLR_EL1, &reset), 0);
	/* A vCPU left in some other state: MMU and caches on, garbage in x0-x3, EL0, unmasked. */
	assert_int_equal(hyp_vcpu_set_sysreg(f.vcpu, HYP_SYSREG_SCTLR_EL1, reset | 0x1005), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(hyp_vcpu_set_reg(f.vcpu, HYP_REG_X(i), 0xdead0000 + i), 0);
	assert_int_equal(hyp_vcpu_set_reg(f.vcpu, HYP_REG_X(4), 0x4444), 0);
	assert_int_equal(hyp_vcpu_set_reg(f.vcpu, HYP_REG_PSTATE, 0), 0);

	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_X(0)), RAM + 0x4000000);
	for (int i = 1; i < 4; i++)
		assert_int_equal(test_reg(f.vcpu, HYP_REG_X(i)), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_X(4)), 0x4444); /* not the loader's business */
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PC), RAM + 0x80000);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PSTATE), 0x3c5);
	assert_int_equal(hyp_vcpu_get_sysreg(f.vcpu, HYP_SYSREG_SCTLR_EL1, &sctlr), 0);
	assert_int_equal(sctlr, reset | 0x1000); /* M and C off, I (bit 12) as it was */

	/* Already off: left alone. */
	assert_int_equal(hyp_vcpu_set_sysreg(f.vcpu, HYP_SYSREG_SCTLR_EL1, reset), 0);
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), 0);
	assert_int_equal(hyp_vcpu_get_sysreg(f.vcpu, HYP_SYSREG_SCTLR_EL1, &sctlr), 0);
	assert_int_equal(sctlr, reset);

	assert_int_equal(hyp_boot_setup_vcpu(NULL, &lay), -EINVAL);
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, NULL), -EINVAL);
	lay.entry = RAM + 2;
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), -EINVAL);
	lay.entry = RAM;
	lay.dtb_addr = RAM + 4;
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), -EINVAL);
	lay.dtb_addr = RAM;
	lay.size = 8;
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), -EINVAL);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PC), RAM + 0x80000); /* untouched by failures */
	fx_fini(&f);
}

/* A backend that exposes no system registers: the architected reset state (MMU off) stands. */
static void test_setup_vcpu_without_sysregs(void **state)
{
	static const struct hyp_backend_ops ops = {
		TEST_STUB_BACKEND("no-sysregs"),
		.vm_init = test_stub_vm_init,
	};
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend_ops = &ops };
	struct hyp_boot_layout lay = { .size = sizeof(lay), .entry = RAM, .dtb_addr = RAM + 8 };
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	uint64_t v;

	(void)state;
	assert_int_equal(hyp_vm_create(&cfg, &vm), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_SCTLR_EL1, &v), -ENOTSUP);
	assert_int_equal(hyp_boot_setup_vcpu(vcpu, &lay), 0);
	assert_int_equal(test_reg(vcpu, HYP_REG_PC), RAM);
	assert_int_equal(test_reg(vcpu, HYP_REG_X(0)), RAM + 8);
	assert_int_equal(test_reg(vcpu, HYP_REG_PSTATE), 0x3c5);
	hyp_vm_destroy(vm);
}

/* ---- hostile files: mutated headers never crash, never write on failure ---- */

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void fuzz(struct fx *f, const uint8_t *good, size_t size, size_t span, uint32_t seed)
{
	uint8_t *bad = calloc(1, size);
	struct hyp_boot_config bc = elf_config(bad, size);
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	int ok = 0;

	bc.ram_base = f->base;
	bc.ram_size = f->size;
	bc.dtb_size = 4096;
	for (int iter = 0; iter < 400; iter++) {
		int r;

		memcpy(bad, good, size);
		for (int k = 1 + (int)(rng_next(&seed) % 4); k > 0; k--) {
			size_t at = rng_next(&seed) % span;

			bad[at] = (uint8_t)rng_next(&seed);
			if (rng_next(&seed) & 1) /* extreme values are more interesting */
				bad[at] = (rng_next(&seed) & 1) ? 0xff : 0;
		}
		r = hyp_boot_load(f->vm, &bc, dtb, 4096, &lay);
		if (r == 0) {
			ok++;
			assert_true(lay.kernel_start >= f->base && lay.entry >= lay.kernel_start);
			assert_true(lay.dtb_addr + 4096 <= f->base + f->size);
			memcpy(f->snapshot, f->ram, f->size);
			continue;
		}
		assert_true(r == -ENOEXEC || r == -ERANGE || r == -ENOSPC || r == -EINVAL);
		assert_true(ram_unchanged(f));
	}
	print_message("# %d of 400 mutants loaded\n", ok);
	free(bad);
	free(dtb);
}

static void test_fuzz_headers(void **state)
{
	const struct phdr ph[2] = {
		{ 1, 5, 0, RAM + 0x10000, RAM + 0x10000, 0x400, 0x400 },
		{ 1, 6, 0, RAM + 0x20000, RAM + 0x20000, 0x100, 0x3000 },
	};
	size_t size;
	uint8_t *elf = make_elf(ph, 2, RAM + 0x10000, &size);
	uint8_t *img = make_image(0x2000, 0, 0x80000, 0xa, true);
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 2 * MiB, false);
	fuzz(&f, elf, size, 64 + 2 * 56, 0x1234567);
	fuzz(&f, img, 0x2000, 64, 0xabcdef1);
	free(elf);
	free(img);
	fx_fini(&f);
}

/* ---- loading from file descriptors ---- */

/* A memfd holding @len bytes of @bytes. */
static int memfd_with(const void *bytes, size_t len)
{
	int fd = (int)syscall(SYS_memfd_create, "test-boot", 0u);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	/* The loader must not depend on (or move) the file offset. */
	assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
	return fd;
}

/* Load @bc from memory into @a and the same files through descriptors into @b: same result,
 * same layout, same guest RAM. */
static void load_both_ways(struct fx *a, struct fx *b, const struct hyp_boot_config *bc,
			   bool initrd_fd, bool give_sizes, int expect)
{
	struct hyp_boot_config fdc = *bc;
	struct hyp_boot_layout la = LAYOUT_INIT, lb = LAYOUT_INIT, pa = LAYOUT_INIT,
			       pb = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	int kfd = memfd_with(bc->kernel, bc->kernel_size), ifd = -1;

	fdc.flags |= HYP_BOOT_KERNEL_FD;
	fdc.kernel = NULL;
	fdc.kernel_fd = kfd;
	if (!give_sizes)
		fdc.kernel_size = 0;
	if (initrd_fd && bc->initrd) {
		ifd = memfd_with(bc->initrd, bc->initrd_size);
		fdc.flags |= HYP_BOOT_INITRD_FD;
		fdc.initrd = NULL;
		fdc.initrd_fd = ifd;
		if (!give_sizes)
			fdc.initrd_size = 0;
	}
	assert_int_equal(hyp_boot_plan(bc, &pa), expect);
	assert_int_equal(hyp_boot_plan(&fdc, &pb), expect);
	assert_memory_equal(&pa, &pb, sizeof(pa));
	assert_int_equal(hyp_boot_load(a->vm, bc, dtb, 4096, &la), expect);
	assert_int_equal(hyp_boot_load(b->vm, &fdc, dtb, 4096, &lb), expect);
	assert_memory_equal(&la, &lb, sizeof(la));
	assert_memory_equal(a->ram, b->ram, a->size);
	if (expect)
		assert_true(ram_unchanged(b));
	memcpy(a->snapshot, a->ram, a->size);
	memcpy(b->snapshot, b->ram, b->size);
	assert_int_equal(lseek(kfd, 0, SEEK_CUR), 7);
	close(kfd);
	if (ifd >= 0)
		close(ifd);
	free(dtb);
}

static void test_fd_same_as_memory(void **state)
{
	/* Larger than HYP_BOOT_FD_HEADER_MAX: most of it never passes through a buffer. */
	const size_t file = 3 * HYP_BOOT_FD_HEADER_MAX + 123;
	uint8_t *img = make_image(file, 0x80000, 4 * MiB, 0xa, true);
	uint8_t *initrd = malloc(300000);
	struct hyp_boot_config bc = image_config(img, file);
	const struct phdr ph[2] = {
		{ 1, 5, 0, RAM + 0x10000, RAM + 0x10000, 0x11000, 0x11000 },
		{ 1, 6, 0, RAM + 0x40000, RAM + 0x40000, 0x100, 0x3000 },
	};
	size_t elf_size;
	uint8_t *elf = make_elf(ph, 2, RAM + 0x10000, &elf_size);
	struct fx a, b;

	(void)state;
	assert_non_null(initrd);
	fill_payload(initrd, 300000, 0x77);
	bc.initrd = initrd;
	bc.initrd_size = 300000;
	for (int way = 0; way < 4; way++) {
		fx_init(&a, RAM, 32 * MiB, false);
		fx_init(&b, RAM, 32 * MiB, way == 3); /* split RAM: reads span two regions */
		load_both_ways(&a, &b, &bc, way & 1, way & 2, 0);
		assert_memory_equal(ram_at(&b, RAM + 0x80000), img, file);
		fx_fini(&a);
		fx_fini(&b);
	}
	/* An ELF, and the same ELF with its segment bytes cut short: -ENOEXEC both ways. */
	bc = elf_config(elf, elf_size);
	fx_init(&a, RAM, 4 * MiB, false);
	fx_init(&b, RAM, 4 * MiB, false);
	load_both_ways(&a, &b, &bc, false, true, 0);
	bc.kernel_size = elf_size - 0x200;
	load_both_ways(&a, &b, &bc, false, true, -ENOEXEC);
	fx_fini(&a);
	fx_fini(&b);
	free(img);
	free(elf);
	free(initrd);
}

static void test_fd_errors(void **state)
{
	const size_t file = 2 * HYP_BOOT_FD_HEADER_MAX;
	uint8_t *img = make_image(file, 0, 4 * MiB, 0xa, false);
	struct hyp_boot_config bc = image_config(img, file), fdc;
	struct hyp_boot_layout lay = LAYOUT_INIT;
	void *dtb = make_dtb(4096);
	int kfd = memfd_with(img, file), pipefd[2];
	uint8_t *far;
	struct fx f;

	(void)state;
	fx_init(&f, RAM, 32 * MiB, false);
	fdc = bc;
	fdc.flags |= HYP_BOOT_KERNEL_FD;
	fdc.kernel_fd = kfd;
	/* The flag with bytes as well, or a negative descriptor: -EINVAL. */
	expect_error(&f, &fdc, -EINVAL);
	fdc.kernel = NULL;
	fdc.kernel_fd = -1;
	expect_error(&f, &fdc, -EINVAL);
	fdc.kernel_fd = kfd;
	fdc.initrd_fd = -5;
	fdc.flags |= HYP_BOOT_INITRD_FD;
	expect_error(&f, &fdc, -EINVAL);
	fdc.flags &= ~(uint32_t)HYP_BOOT_INITRD_FD;
	/* A pipe has no size to ask for, and a closed descriptor cannot be read: -EIO. */
	assert_int_equal(pipe(pipefd), 0);
	fdc.kernel_fd = pipefd[0];
	fdc.kernel_size = 0;
	expect_error(&f, &fdc, -EIO);
	close(pipefd[0]);
	close(pipefd[1]);
	fdc.kernel_fd = pipefd[0];
	fdc.kernel_size = file;
	expect_error(&f, &fdc, -EIO);
	/* An empty file is not a kernel; an absurd size is refused before any read. */
	fdc.kernel_fd = memfd_with("", 0);
	fdc.kernel_size = 0;
	expect_error(&f, &fdc, -ENOEXEC);
	close(fdc.kernel_fd);
	fdc.kernel_fd = kfd;
	fdc.kernel_size = UINT64_MAX;
	expect_error(&f, &fdc, -EINVAL);
	/* A size larger than the file: the headers are there, the bytes are not: the load
	 * fails with -EIO (the kernel's range of RAM may be partly written). */
	fdc.kernel_size = file + 4096;
	assert_int_equal(hyp_boot_plan(&fdc, &lay), 0);
	assert_int_equal(hyp_boot_load(f.vm, &fdc, dtb, 4096, NULL), -EIO);
	/* The file shrinks between plan and load (its size was given): the same. Asked for
	 * (size 0), the load sizes the smaller file itself and loads what is there. */
	fdc.kernel_size = file;
	assert_int_equal(hyp_boot_plan(&fdc, &lay), 0);
	assert_int_equal(ftruncate(kfd, (off_t)(file / 2 + 4096)), 0);
	assert_int_equal(hyp_boot_load(f.vm, &fdc, dtb, 4096, NULL), -EIO);
	fdc.kernel_size = 0;
	assert_int_equal(hyp_boot_load(f.vm, &fdc, dtb, 4096, NULL), 0);
	close(kfd);

	/* An ELF whose program headers lie beyond HYP_BOOT_FD_HEADER_MAX loads from memory but
	 * not from a descriptor (-ENOEXEC, nothing written). */
	far = calloc(1, HYP_BOOT_FD_HEADER_MAX + 4096);
	assert_non_null(far);
	{
		const struct phdr ph = { 1, 5, 0, RAM + 0x10000, RAM + 0x10000, 0x100, 0x100 };
		size_t n;
		uint8_t *elf = make_elf(&ph, 1, RAM + 0x10000, &n);

		/* Move the table (and the segment's data) up. */
		memcpy(far, elf, 64);
		memcpy(far + HYP_BOOT_FD_HEADER_MAX, elf + 64, n - 64);
		put64(far + 32, HYP_BOOT_FD_HEADER_MAX);
		put64(far + HYP_BOOT_FD_HEADER_MAX + 8, HYP_BOOT_FD_HEADER_MAX + 56);
		free(elf);
	}
	fx_fini(&f);
	fx_init(&f, RAM, 4 * MiB, false);
	bc = elf_config(far, HYP_BOOT_FD_HEADER_MAX + 4096);
	assert_int_equal(hyp_boot_plan(&bc, &lay), 0);
	fdc = bc;
	fdc.flags |= HYP_BOOT_KERNEL_FD;
	fdc.kernel = NULL;
	fdc.kernel_fd = memfd_with(far, HYP_BOOT_FD_HEADER_MAX + 4096);
	expect_error(&f, &fdc, -ENOEXEC);
	close(fdc.kernel_fd);
	free(far);
	free(img);
	free(dtb);
	fx_fini(&f);
}

/* ---- the real Debian kernel, when the libhyp cache has one ---- */

static void test_debian_kernel(void **state)
{
	const char *path = getenv("HYP_TEST_DEBIAN_IMAGE");
	struct hyp_fdt_mem_range mem = { RAM, 128 * MiB };
	struct hyp_fdt_config fc = { .size = sizeof(fc),
				     .num_cpus = 2,
				     .mem = &mem,
				     .num_mem = 1,
				     .bootargs = "console=ttyAMA0" };
	struct hyp_boot_layout plan = LAYOUT_INIT, lay = LAYOUT_INIT;
	struct hyp_boot_config bc;
	uint8_t *img, *initrd, *dtb;
	size_t dtb_size;
	uint64_t image_size;
	long len;
	FILE *fp;
	struct fx f;

	(void)state;
	assert_non_null(path);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	assert_true(len > 1024 * 1024);
	rewind(fp);
	img = malloc((size_t)len);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	print_message("# %s: %ld bytes\n", path, len);
	assert_int_equal(memcmp(img, "MZ", 2), 0); /* Debian ships the EFI-stub Image */
	image_size = 0;
	for (int i = 7; i >= 0; i--)
		image_size = image_size << 8 | img[0x10 + i];

	initrd = malloc(MiB);
	assert_non_null(initrd);
	fill_payload(initrd, MiB, 0x99);
	fx_init(&f, RAM, 128 * MiB, false);
	bc = (struct hyp_boot_config){ .size = sizeof(bc),
				       .ram_base = RAM,
				       .ram_size = 128 * MiB,
				       .kernel = img,
				       .kernel_size = (size_t)len,
				       .initrd = initrd,
				       .initrd_size = MiB,
				       .dtb_size = 64 << 10 };
	assert_int_equal(hyp_boot_plan(&bc, &plan), 0);
	assert_int_equal(plan.format, HYP_BOOT_FORMAT_ARM64_IMAGE);
	assert_true(plan.image_flags & HYP_BOOT_IMAGE_ANY_PLACEMENT);
	assert_int_equal(HYP_BOOT_IMAGE_PAGE_SIZE(plan.image_flags), 1); /* 4K pages */
	assert_int_equal(plan.kernel_start, RAM); /* text_offset 0 since v5.8 */
	assert_int_equal(plan.kernel_end - plan.kernel_start, image_size);
	assert_true(image_size >= (uint64_t)len && image_size < 64 * MiB);
	print_message("# image_size %llu (~%llu MiB), DTB at 0x%llx, initrd at 0x%llx\n",
		      (unsigned long long)image_size, (unsigned long long)(image_size >> 20),
		      (unsigned long long)plan.dtb_addr, (unsigned long long)plan.initrd_start);

	fc.initrd_start = plan.initrd_start;
	fc.initrd_end = plan.initrd_end;
	dtb = aligned_alloc(8, 64 << 10);
	assert_non_null(dtb);
	assert_int_equal(hyp_fdt_build(&fc, dtb, 64 << 10, &dtb_size), 0);
	assert_int_equal(hyp_boot_load(f.vm, &bc, dtb, dtb_size, &lay), 0);
	assert_memory_equal(&lay, &plan, sizeof(lay));
	assert_memory_equal(ram_at(&f, RAM), img, (size_t)len);
	assert_true(all_zero(ram_at(&f, RAM + (uint64_t)len), image_size - (uint64_t)len));
	assert_int_equal(fdt_check_header(ram_at(&f, lay.dtb_addr)), 0);
	assert_memory_equal(ram_at(&f, lay.initrd_start), initrd, MiB);
	assert_int_equal(hyp_boot_setup_vcpu(f.vcpu, &lay), 0);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_PC), RAM);
	assert_int_equal(test_reg(f.vcpu, HYP_REG_X(0)), lay.dtb_addr);

	/* The same kernel in RAM too small for its image_size footprint plus the DTB. */
	memcpy(f.snapshot, f.ram, f.size);
	bc.initrd = NULL;
	bc.initrd_size = 0;
	bc.ram_size = image_size & ~(uint64_t)(HYP_PAGE_SIZE - 1);
	expect_load_error(&f, &bc, dtb, dtb_size, -ENOSPC);
	free(dtb);
	free(initrd);
	free(img);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_load),
		cmocka_unit_test(test_image_text_offset_and_efi_stub),
		cmocka_unit_test(test_image_truncated_efi_stub),
		cmocka_unit_test(test_image_placement_flag),
		cmocka_unit_test(test_image_legacy),
		cmocka_unit_test(test_image_bad_headers),
		cmocka_unit_test(test_elf_load),
		cmocka_unit_test(test_elf_virtual_entry_and_placement_below),
		cmocka_unit_test(test_elf_bad),
		cmocka_unit_test(test_elf_pie),
		cmocka_unit_test(test_elf_segment_limits),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_does_not_fit),
		cmocka_unit_test(test_place_high),
		cmocka_unit_test(test_load_checks),
		cmocka_unit_test(test_argument_errors),
		cmocka_unit_test(test_setup_vcpu),
		cmocka_unit_test(test_setup_vcpu_without_sysregs),
		cmocka_unit_test(test_fuzz_headers),
		cmocka_unit_test(test_fd_same_as_memory),
		cmocka_unit_test(test_fd_errors),
	};
	/* The real Debian kernel comes from the integration suite, which downloads it
	 * (tests/linux-guest/load-debian-image.sh): never from whatever cache a machine has. */
	const struct CMUnitTest debian[] = {
		cmocka_unit_test(test_debian_kernel),
	};

	if (getenv("HYP_TEST_DEBIAN_IMAGE"))
		return cmocka_run_group_tests(debian, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
