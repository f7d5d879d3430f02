/* SPDX-License-Identifier: MIT */
/*
 * Guest device tree generation: hyp_fdt_build().
 *
 * Trees for a few configurations are decompiled with dtc and compared with the reviewed trees in
 * tests/unit/fdt-expected/ (HYP_FDT_EXPECTED_DIR; HYP_FDT_UPDATE_EXPECTED=1 rewrites them), and dtc
 * must find nothing to warn about. libfdt then checks the properties guests depend on (phandles
 * resolve, MPIDRs, interrupt specifiers, /chosen). Every configuration error gives -EINVAL with the
 * buffer and *out_size untouched; a short buffer gives -ENOSPC without a byte written past it; no
 * configuration produces a tree over the 2 MiB arm64 Linux limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#include <libhyp/hyp.h>

#define RAM_BASE HYP_DEFAULT_RAM_BASE
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define BUF_SIZE (64u << 10)
/* Bytes after the buffer handed to the library, which it must never write. */
#define GUARD 4096u
#define FILL 0xa5
#define SIZE_SENTINEL ((size_t)0x5eed)

static uint8_t *new_buf(size_t size)
{
	uint8_t *buf = aligned_alloc(8, (size + 7) & ~(size_t)7);

	assert_non_null(buf);
	memset(buf, FILL, size);
	return buf;
}

static bool all_fill(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != FILL)
			return false;
	return true;
}

/* Build and check the blob is a valid, self-consistent tree. Returns a malloc'd DTB. */
static void *build(const struct hyp_fdt_config *cfg, size_t *size)
{
	uint8_t *buf = new_buf(BUF_SIZE + GUARD);
	size_t n = SIZE_SENTINEL;

	assert_int_equal(hyp_fdt_build(cfg, buf, BUF_SIZE, &n), 0);
	assert_true(n > sizeof(struct fdt_header) && n <= BUF_SIZE);
	assert_int_equal(fdt_check_header(buf), 0);
	assert_int_equal(fdt_totalsize(buf), n);
	assert_int_equal(fdt_check_full(buf, n), 0);
	/* The space between the tree and BUF_SIZE is scratch; past BUF_SIZE is not ours. */
	assert_true(all_fill(buf + BUF_SIZE, GUARD));
	*size = n;
	return buf;
}

/* ---- dtc comparison ---- */

static bool have_dtc(void)
{
	return system("dtc --version >/dev/null 2>&1") == 0;
}

static char *read_stream(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (;;) {
		size_t got = fread(s + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			cap *= 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
	}
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;

	if (!f)
		return NULL;
	s = read_stream(f, NULL);
	fclose(f);
	return s;
}

/* dtc -I dtb -O dts of @blob; *warnings receives what dtc printed on stderr. */
static char *decompile(const void *blob, size_t size, char **warnings)
{
	char in[] = "/tmp/hyp-fdt-XXXXXX", err[] = "/tmp/hyp-fdt-err-XXXXXX";
	char cmd[256];
	int fd_in = mkstemp(in), fd_err = mkstemp(err);
	FILE *p, *e;
	char *out;

	assert_true(fd_in >= 0 && fd_err >= 0);
	assert_int_equal(write(fd_in, blob, size), (ssize_t)size);
	close(fd_in);
	close(fd_err);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts -o - %s 2>%s", in, err);
	p = popen(cmd, "r");
	assert_non_null(p);
	out = read_stream(p, NULL);
	assert_int_equal(pclose(p), 0);
	e = fopen(err, "r");
	assert_non_null(e);
	*warnings = read_stream(e, NULL);
	fclose(e);
	unlink(in);
	unlink(err);
	return out;
}

static void compare_with_expected(const void *blob, size_t size, const char *name)
{
	const char *dir = getenv("HYP_FDT_EXPECTED_DIR");
	char path[4096];
	char *dts, *warnings, *expected;

	if (!have_dtc()) {
		print_message("# dtc (device-tree-compiler) is not installed: cannot decompile\n");
		skip();
	}
	/* meson sets it (tests/unit/meson.build); without it the comparison cannot run. */
	if (!dir)
		fail_msg("HYP_FDT_EXPECTED_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s.dts", dir, name);
	dts = decompile(blob, size, &warnings);
	if (warnings[0])
		fail_msg("dtc warns about the %s tree:\n%s", name, warnings);
	if (getenv("HYP_FDT_UPDATE_EXPECTED")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(dts, f);
		fclose(f);
	}
	expected = read_file(path);
	if (!expected)
		fail_msg("cannot read %s", path);
	if (strcmp(dts, expected)) {
		fprintf(stderr, "%s differs from the generated tree:\n%s", path, dts);
		fail_msg("tree %s does not match %s", name, path);
	}
	free(dts);
	free(warnings);
	free(expected);
}

/* ---- configurations ---- */

static const struct hyp_fdt_mem_range one_ram = { RAM_BASE, 256 * MiB };

static struct hyp_fdt_config minimal_config(void)
{
	struct hyp_fdt_config cfg = {
		.size = sizeof(cfg), .num_cpus = 1, .mem = &one_ram, .num_mem = 1
	};

	return cfg;
}

static const struct hyp_fdt_mem_range two_rams[2] = {
	{ RAM_BASE, 1 * GiB },
	{ 0x100000000ull, 512 * MiB },
};

static const struct hyp_fdt_virtio three_virtio[3] = {
	{ 0, 0, 0 },				       /* default slot 0: 0x0a000000, INTID 48 */
	{ 0, 0, 0 },				       /* default slot 1: 0x0a000200, INTID 49 */
	{ 0x0a003e00ull, HYP_INTID_SPI_BASE + 47, 0 }, /* QEMU's last slot, SPI 47 */
};

static struct hyp_fdt_config full_config(void)
{
	struct hyp_fdt_config cfg = {
		.size = sizeof(cfg),
		.num_cpus = 4,
		.mem = two_rams,
		.num_mem = 2,
		.virtio = three_virtio,
		.num_virtio = 3,
		.bootargs = "console=ttyAMA0 earlycon rdinit=/init",
		.initrd_start = 0x48000000,
		.initrd_end = 0x48123457,
	};

	return cfg;
}

/* Aff3 in use: /cpus needs #address-cells 2. No UART or RTC; moved GIC, other timer PPIs. */
static const uint64_t aff3_mpidrs[3] = { 0x0100000000ull, 0x0100000001ull, 0x0200010000ull };

static struct hyp_fdt_config aff3_config(void)
{
	struct hyp_fdt_config cfg = {
		.size = sizeof(cfg),
		.flags = HYP_FDT_NO_UART | HYP_FDT_NO_RTC,
		.num_cpus = 3,
		.mpidrs = aff3_mpidrs,
		.mem = &one_ram,
		.num_mem = 1,
		.gicd_base = 0x2f000000,
		.gicr_base = 0x2f100000,
		.timer_intids = { 0, 0, 20, 0 },
	};

	return cfg;
}

/* ---- tests: expected trees ---- */

static void test_minimal_tree(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	size_t n;
	void *dtb = build(&cfg, &n);

	(void)state;
	compare_with_expected(dtb, n, "minimal");
	free(dtb);
}

static void test_full_tree(void **state)
{
	struct hyp_fdt_config cfg = full_config();
	size_t n;
	void *dtb = build(&cfg, &n);

	(void)state;
	compare_with_expected(dtb, n, "full");
	free(dtb);
}

static void test_aff3_tree(void **state)
{
	struct hyp_fdt_config cfg = aff3_config();
	size_t n;
	void *dtb = build(&cfg, &n);

	(void)state;
	compare_with_expected(dtb, n, "aff3-no-uart");
	free(dtb);
}

/* ---- tests: properties through libfdt ---- */

static const void *prop(const void *fdt, int node, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node, name, len);

	if (!p)
		fail_msg("property %s missing (node %s)", name, fdt_get_name(fdt, node, NULL));
	return p;
}

static uint32_t prop_u32(const void *fdt, int node, const char *name)
{
	int len;
	const fdt32_t *p = prop(fdt, node, name, &len);

	assert_int_equal(len, 4);
	return fdt32_ld(p);
}

static uint64_t prop_u64(const void *fdt, int node, const char *name)
{
	int len;
	const fdt64_t *p = prop(fdt, node, name, &len);

	assert_int_equal(len, 8);
	return fdt64_ld(p);
}

static uint32_t cell(const void *p, int i)
{
	return fdt32_ld((const fdt32_t *)p + i);
}

static void assert_stringlist(const void *fdt, int node, const char *name, const char *const *want,
			      int count)
{
	assert_int_equal(fdt_stringlist_count(fdt, node, name), count);
	for (int i = 0; i < count; i++)
		assert_string_equal(fdt_stringlist_get(fdt, node, name, i, NULL), want[i]);
}

/* The node @node's property @name points to (a phandle). */
static int follow(const void *fdt, int node, const char *name, int index)
{
	int len, target;
	const void *p = prop(fdt, node, name, &len);

	assert_true(len >= (index + 1) * 4);
	target = fdt_node_offset_by_phandle(fdt, cell(p, index));
	assert_true(target >= 0);
	return target;
}

static void assert_spi_type(const void *fdt, int node, uint32_t intid, uint32_t type)
{
	int len;
	const void *p = prop(fdt, node, "interrupts", &len);

	assert_int_equal(len, 12);
	assert_int_equal(cell(p, 0), 0); /* GIC_SPI */
	assert_int_equal(cell(p, 1), intid - 32);
	assert_int_equal(cell(p, 2), type);
}

/* PL011, PL031: IRQ_TYPE_LEVEL_HIGH. */
static void assert_spi(const void *fdt, int node, uint32_t intid)
{
	assert_spi_type(fdt, node, intid, 4);
}

/* virtio-mmio: IRQ_TYPE_EDGE_RISING (no EOI trap per interrupt on KVM's vGIC). */
static void assert_virtio_spi(const void *fdt, int node, uint32_t intid)
{
	assert_spi_type(fdt, node, intid, 1);
}

static void assert_reg(const void *fdt, int node, uint64_t base, uint64_t size)
{
	int len;
	const fdt64_t *p = prop(fdt, node, "reg", &len);

	assert_int_equal(len, 16);
	assert_int_equal(fdt64_ld(&p[0]), base);
	assert_int_equal(fdt64_ld(&p[1]), size);
}

static void test_properties(void **state)
{
	static const char *const psci_compat[] = { "arm,psci-1.0", "arm,psci-0.2" };
	static const char *const uart_compat[] = { "arm,pl011", "arm,primecell" };
	static const char *const clock_names[] = { "uartclk", "apb_pclk" };
	static const uint32_t timer_ppis[4] = { 13, 14, 11, 10 };
	struct hyp_fdt_config cfg = full_config();
	int root = 0, node, gic, clk, uart, len, i;
	const void *p;
	size_t n;
	void *fdt = build(&cfg, &n);

	(void)state;
	assert_string_equal(prop(fdt, root, "compatible", NULL), "linux,dummy-virt");
	assert_int_equal(prop_u32(fdt, root, "#address-cells"), 2);
	assert_int_equal(prop_u32(fdt, root, "#size-cells"), 2);

	/* interrupt-parent is the GICv3, with the distributor and a 128 KiB frame per vCPU. */
	gic = follow(fdt, root, "interrupt-parent", 0);
	assert_string_equal(prop(fdt, gic, "compatible", NULL), "arm,gic-v3");
	assert_non_null(fdt_getprop(fdt, gic, "interrupt-controller", &len));
	assert_int_equal(len, 0);
	assert_int_equal(prop_u32(fdt, gic, "#interrupt-cells"), 3);
	p = prop(fdt, gic, "reg", &len);
	assert_int_equal(len, 32);
	assert_int_equal(fdt64_ld((const fdt64_t *)p + 0), HYP_DEFAULT_GICD_BASE);
	assert_int_equal(fdt64_ld((const fdt64_t *)p + 1), 0x10000);
	assert_int_equal(fdt64_ld((const fdt64_t *)p + 2), HYP_DEFAULT_GICR_BASE);
	assert_int_equal(fdt64_ld((const fdt64_t *)p + 3), 4 * 0x20000);

	node = fdt_path_offset(fdt, "/psci");
	assert_true(node >= 0);
	assert_stringlist(fdt, node, "compatible", psci_compat, 2);
	assert_string_equal(prop(fdt, node, "method", NULL), "hvc");

	/* One memory node per range. */
	node = fdt_path_offset(fdt, "/memory@40000000");
	assert_true(node >= 0);
	assert_string_equal(prop(fdt, node, "device_type", NULL), "memory");
	assert_reg(fdt, node, RAM_BASE, 1 * GiB);
	node = fdt_path_offset(fdt, "/memory@100000000");
	assert_true(node >= 0);
	assert_reg(fdt, node, 0x100000000ull, 512 * MiB);

	/* CPUs in index order, reg = MPIDR affinity, PSCI enable method. */
	node = fdt_path_offset(fdt, "/cpus");
	assert_true(node >= 0);
	assert_int_equal(prop_u32(fdt, node, "#address-cells"), 1);
	assert_int_equal(prop_u32(fdt, node, "#size-cells"), 0);
	i = 0;
	fdt_for_each_subnode(node, fdt, fdt_path_offset(fdt, "/cpus"))
	{
		assert_string_equal(prop(fdt, node, "device_type", NULL), "cpu");
		assert_int_equal(prop_u32(fdt, node, "reg"), i);
		assert_string_equal(prop(fdt, node, "enable-method", NULL), "psci");
		i++;
	}
	assert_int_equal(i, 4);

	/* Timer: four PPI triplets, secure-phys 13, phys 14, virt 11, hyp 10, level-high. */
	node = fdt_path_offset(fdt, "/timer");
	assert_true(node >= 0);
	assert_string_equal(prop(fdt, node, "compatible", NULL), "arm,armv8-timer");
	p = prop(fdt, node, "interrupts", &len);
	assert_int_equal(len, 48);
	for (i = 0; i < 4; i++) {
		assert_int_equal(cell(p, i * 3), 1); /* GIC_PPI */
		assert_int_equal(cell(p, i * 3 + 1), timer_ppis[i]);
		assert_int_equal(cell(p, i * 3 + 2), 4);
	}

	/* PL011 with both clocks resolving to a fixed clock, SPI 1 (INTID 33). */
	uart = fdt_path_offset(fdt, "/pl011@9000000");
	assert_true(uart >= 0);
	assert_stringlist(fdt, uart, "compatible", uart_compat, 2);
	assert_reg(fdt, uart, HYP_DEFAULT_UART_BASE, 0x1000);
	assert_spi(fdt, uart, 33);
	assert_stringlist(fdt, uart, "clock-names", clock_names, 2);
	for (i = 0; i < 2; i++) {
		clk = follow(fdt, uart, "clocks", i);
		assert_string_equal(prop(fdt, clk, "compatible", NULL), "fixed-clock");
		assert_int_equal(prop_u32(fdt, clk, "#clock-cells"), 0);
		assert_int_equal(prop_u32(fdt, clk, "clock-frequency"), 24000000);
	}

	node = fdt_path_offset(fdt, "/pl031@9010000");
	assert_true(node >= 0);
	assert_reg(fdt, node, HYP_DEFAULT_RTC_BASE, 0x1000);
	assert_spi(fdt, node, 34);
	assert_string_equal(prop(fdt, node, "clock-names", NULL), "apb_pclk");
	follow(fdt, node, "clocks", 0);

	/* virtio-mmio: defaults fill the slots in order. */
	node = fdt_path_offset(fdt, "/virtio_mmio@a000000");
	assert_true(node >= 0);
	assert_string_equal(prop(fdt, node, "compatible", NULL), "virtio,mmio");
	assert_reg(fdt, node, 0x0a000000, 0x200);
	assert_virtio_spi(fdt, node, 48);
	assert_non_null(fdt_getprop(fdt, node, "dma-coherent", NULL));
	node = fdt_path_offset(fdt, "/virtio_mmio@a000200");
	assert_true(node >= 0);
	assert_virtio_spi(fdt, node, 49);
	node = fdt_path_offset(fdt, "/virtio_mmio@a003e00");
	assert_true(node >= 0);
	assert_virtio_spi(fdt, node, 79);

	/* /chosen: stdout-path names the PL011 node; the initrd end is exclusive, as given. */
	node = fdt_path_offset(fdt, "/chosen");
	assert_true(node >= 0);
	assert_string_equal(prop(fdt, node, "bootargs", NULL),
			    "console=ttyAMA0 earlycon rdinit=/init");
	assert_int_equal(fdt_path_offset(fdt, prop(fdt, node, "stdout-path", NULL)), uart);
	assert_int_equal(prop_u64(fdt, node, "linux,initrd-start"), 0x48000000);
	assert_int_equal(prop_u64(fdt, node, "linux,initrd-end"), 0x48123457);
	assert_int_equal(fdt_path_offset(fdt, fdt_get_alias(fdt, "serial0")), uart);
	free(fdt);
}

static void test_minimal_has_no_optional_chosen(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	size_t n;
	void *fdt = build(&cfg, &n);
	int chosen = fdt_path_offset(fdt, "/chosen");

	(void)state;
	assert_true(chosen >= 0);
	assert_null(fdt_getprop(fdt, chosen, "bootargs", NULL));
	assert_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
	assert_null(fdt_getprop(fdt, chosen, "linux,initrd-end", NULL));
	assert_non_null(fdt_getprop(fdt, chosen, "stdout-path", NULL));
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "virtio,mmio"), -FDT_ERR_NOTFOUND);
	free(fdt);
}

static void test_no_uart_no_rtc(void **state)
{
	struct hyp_fdt_config cfg = aff3_config();
	size_t n;
	void *fdt = build(&cfg, &n);
	int node;

	(void)state;
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "arm,pl011"), -FDT_ERR_NOTFOUND);
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "arm,pl031"), -FDT_ERR_NOTFOUND);
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "fixed-clock"), -FDT_ERR_NOTFOUND);
	assert_null(fdt_getprop(fdt, fdt_path_offset(fdt, "/chosen"), "stdout-path", NULL));
	assert_int_equal(fdt_path_offset(fdt, "/aliases"), -FDT_ERR_NOTFOUND);

	/* Aff3 needs two cells: reg = MPIDR[39:32], MPIDR[23:0]. */
	node = fdt_path_offset(fdt, "/cpus");
	assert_int_equal(prop_u32(fdt, node, "#address-cells"), 2);
	node = fdt_path_offset(fdt, "/cpus/cpu@200010000");
	assert_true(node >= 0);
	assert_int_equal(prop_u64(fdt, node, "reg"), 0x0200010000ull);

	/* Only the PL011 or the PL031 alone still gets the clock. */
	cfg.flags = HYP_FDT_NO_UART;
	free(fdt);
	fdt = build(&cfg, &n);
	node = fdt_node_offset_by_compatible(fdt, -1, "arm,pl031");
	assert_true(node >= 0);
	assert_string_equal(prop(fdt, follow(fdt, node, "clocks", 0), "compatible", NULL),
			    "fixed-clock");
	free(fdt);
}

/* KVM's default MPIDR layout: vCPU 16 is Aff1 = 1, and the first node is the boot vCPU. */
static void test_default_mpidr_layout(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	int node, i = 0;
	size_t n;
	void *fdt;

	(void)state;
	cfg.num_cpus = 20;
	fdt = build(&cfg, &n);
	fdt_for_each_subnode(node, fdt, fdt_path_offset(fdt, "/cpus"))
	{
		uint32_t want = (uint32_t)((i & 0xf) | ((i >> 4) & 0xff) << 8);
		char name[32];

		snprintf(name, sizeof(name), "cpu@%x", want);
		assert_string_equal(fdt_get_name(fdt, node, NULL), name);
		assert_int_equal(prop_u32(fdt, node, "reg"), want);
		i++;
	}
	assert_int_equal(i, 20);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@103") >= 0);
	free(fdt);
}

/* ---- tests: errors ---- */

/* -EINVAL (or @want) with the buffer and *out_size untouched. */
static void expect_error(const struct hyp_fdt_config *cfg, int want)
{
	uint8_t *buf = new_buf(BUF_SIZE);
	size_t n = SIZE_SENTINEL;

	assert_int_equal(hyp_fdt_build(cfg, buf, BUF_SIZE, &n), want);
	assert_int_equal(n, SIZE_SENTINEL);
	assert_true(all_fill(buf, BUF_SIZE));
	free(buf);
}

static void expect_ok(const struct hyp_fdt_config *cfg)
{
	size_t n;

	free(build(cfg, &n));
}

static void test_argument_errors(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	uint8_t *buf = new_buf(BUF_SIZE);
	size_t n = SIZE_SENTINEL;
	struct {
		struct hyp_fdt_config cfg;
		uint64_t extra;
	} bigger = { cfg, 0 };

	(void)state;
	assert_int_equal(hyp_fdt_build(NULL, buf, BUF_SIZE, &n), -EINVAL);
	assert_int_equal(hyp_fdt_build(&cfg, NULL, BUF_SIZE, &n), -EINVAL);
	assert_int_equal(hyp_fdt_build(&cfg, buf, BUF_SIZE, NULL), -EINVAL);
	assert_int_equal(hyp_fdt_build(&cfg, buf + 4, BUF_SIZE - 4, &n), -EINVAL);
	assert_int_equal(n, SIZE_SENTINEL);
	assert_true(all_fill(buf, BUF_SIZE));

	/* Sized struct: too small is refused, a newer caller's zero tail accepted, non-zero not. */
	cfg.size = offsetof(struct hyp_fdt_config, initrd_end);
	expect_error(&cfg, -EINVAL);
	bigger.cfg.size = sizeof(bigger);
	assert_int_equal(hyp_fdt_build(&bigger.cfg, buf, BUF_SIZE, &n), 0);
	bigger.extra = 1;
	expect_error(&bigger.cfg, -E2BIG);

	cfg = minimal_config();
	cfg.flags = 1u << 7;
	expect_error(&cfg, -EINVAL);
	free(buf);
}

static void test_cpu_errors(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	uint64_t mpidrs[3] = { 0, 1, 2 };

	(void)state;
	cfg.num_cpus = 0;
	expect_error(&cfg, -EINVAL);
	cfg.num_cpus = HYP_MAX_VCPUS + 1;
	expect_error(&cfg, -EINVAL);

	cfg.num_cpus = 3;
	cfg.mpidrs = mpidrs;
	mpidrs[2] = 1; /* duplicate */
	expect_error(&cfg, -EINVAL);
	mpidrs[2] = 1ull << 24; /* MPIDR bits 31:24 are not affinity */
	expect_error(&cfg, -EINVAL);
	mpidrs[2] = 1ull << 31; /* the RES1 bit is not part of the affinity either */
	expect_error(&cfg, -EINVAL);
	mpidrs[2] = 1ull << 40;
	expect_error(&cfg, -EINVAL);
	mpidrs[2] = 0xff00ffffffull;
	expect_ok(&cfg); /* the largest affinity is fine */
}

static void test_memory_errors(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	struct hyp_fdt_mem_range mem[2] = { { RAM_BASE, 256 * MiB }, { 0, 0 } };
	struct hyp_fdt_mem_range many[HYP_FDT_MAX_MEM_RANGES + 1];

	(void)state;
	cfg.num_mem = 0;
	expect_error(&cfg, -EINVAL);
	cfg.num_mem = 1;
	cfg.mem = NULL;
	expect_error(&cfg, -EINVAL);

	cfg.mem = mem;
	cfg.num_mem = 2;
	mem[1] = (struct hyp_fdt_mem_range){ 0x80000000ull + 0x800, MiB }; /* misaligned base */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0x80000000ull, MiB + 1 }; /* ragged size */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0x80000000ull, 0 }; /* empty */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0xfffffffffff00000ull, 2 * MiB }; /* wraps */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ RAM_BASE + 255 * MiB, 2 * MiB }; /* overlaps RAM */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0x08000000ull, MiB }; /* overlaps the GIC */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0x09000000ull, 0x1000 }; /* overlaps the PL011 */
	expect_error(&cfg, -EINVAL);
	mem[1] = (struct hyp_fdt_mem_range){ 0x80000000ull, MiB }; /* fine */
	expect_ok(&cfg);

	for (uint32_t i = 0; i <= HYP_FDT_MAX_MEM_RANGES; i++)
		many[i] = (struct hyp_fdt_mem_range){ RAM_BASE + i * 2 * MiB, MiB };
	cfg.mem = many;
	cfg.num_mem = HYP_FDT_MAX_MEM_RANGES + 1;
	expect_error(&cfg, -EINVAL);
}

static void test_device_errors(void **state)
{
	struct hyp_fdt_config cfg;
	struct hyp_fdt_virtio v[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

	(void)state;
	cfg = minimal_config();
	cfg.gicd_base = 0x08008000; /* not 64 KiB aligned */
	expect_error(&cfg, -EINVAL);
	cfg = minimal_config();
	cfg.gicr_base = 0x080a1000;
	expect_error(&cfg, -EINVAL);
	cfg = minimal_config();
	cfg.gicr_base = HYP_DEFAULT_GICD_BASE; /* on top of the distributor */
	expect_error(&cfg, -EINVAL);
	cfg = minimal_config();
	cfg.uart_base = 0x09000800;
	expect_error(&cfg, -EINVAL);
	cfg = minimal_config();
	cfg.rtc_base = HYP_DEFAULT_UART_BASE; /* on top of the PL011 */
	expect_error(&cfg, -EINVAL);
	cfg.flags = HYP_FDT_NO_UART; /* ...unless there is no PL011 */
	expect_ok(&cfg);

	/* The redistributor region grows with the vCPUs: QEMU's layout fits 123 before the PL011. */
	cfg = minimal_config();
	cfg.num_cpus = 123;
	expect_ok(&cfg);
	cfg.num_cpus = 124;
	expect_error(&cfg, -EINVAL);

	/* INTIDs: SPIs are 32..1019, PPIs 16..31, and no SPI is used twice. */
	cfg = minimal_config();
	cfg.uart_intid = 31;
	expect_error(&cfg, -EINVAL);
	cfg.uart_intid = 1020;
	expect_error(&cfg, -EINVAL);
	cfg.uart_intid = 1019;
	expect_ok(&cfg);
	cfg.uart_intid = HYP_DEFAULT_RTC_INTID;
	expect_error(&cfg, -EINVAL);
	cfg = minimal_config();
	cfg.timer_intids[1] = 15;
	expect_error(&cfg, -EINVAL);
	cfg.timer_intids[1] = 32;
	expect_error(&cfg, -EINVAL);

	/* virtio-mmio transports. */
	cfg = minimal_config();
	cfg.num_virtio = 2;
	expect_error(&cfg, -EINVAL); /* NULL array */
	cfg.virtio = v;
	expect_ok(&cfg);
	v[1].base = 0x0a000100; /* not 0x200 aligned */
	expect_error(&cfg, -EINVAL);
	v[1].base = 0x0a000000; /* same slot as entry 0's default */
	expect_error(&cfg, -EINVAL);
	v[1].base = 0;
	v[1].intid = HYP_DEFAULT_VIRTIO_MMIO_INTID; /* entry 0's default INTID */
	expect_error(&cfg, -EINVAL);
	v[1].intid = HYP_DEFAULT_UART_INTID;
	expect_error(&cfg, -EINVAL);
	v[1].intid = 0;
	v[1].reserved = 1;
	expect_error(&cfg, -EINVAL);
	v[1].reserved = 0;
	v[1].base = HYP_DEFAULT_RTC_BASE; /* on the PL031 */
	expect_error(&cfg, -EINVAL);
	v[1].base = 0;
	cfg.num_virtio = HYP_FDT_MAX_VIRTIO + 1;
	expect_error(&cfg, -EINVAL);
}

static void test_chosen_errors(void **state)
{
	struct hyp_fdt_config cfg = minimal_config();
	char *args = malloc(HYP_FDT_MAX_BOOTARGS + 1);
	size_t n;
	void *fdt;

	(void)state;
	assert_non_null(args);
	memset(args, 'x', HYP_FDT_MAX_BOOTARGS);
	args[HYP_FDT_MAX_BOOTARGS] = '\0';
	cfg.bootargs = args;
	expect_error(&cfg, -EINVAL);
	args[HYP_FDT_MAX_BOOTARGS - 1] = '\0'; /* 2047 characters and the NUL: the limit */
	fdt = build(&cfg, &n);
	assert_int_equal(
		strlen(fdt_getprop(fdt, fdt_path_offset(fdt, "/chosen"), "bootargs", NULL)),
		HYP_FDT_MAX_BOOTARGS - 1);
	free(fdt);
	free(args);

	cfg = minimal_config();
	cfg.initrd_start = RAM_BASE + MiB;
	expect_error(&cfg, -EINVAL); /* no end */
	cfg.initrd_end = RAM_BASE + MiB;
	expect_error(&cfg, -EINVAL); /* empty */
	cfg.initrd_end = RAM_BASE;
	expect_error(&cfg, -EINVAL); /* backwards */
	cfg.initrd_start = 0;
	cfg.initrd_end = RAM_BASE + MiB;
	expect_error(&cfg, -EINVAL); /* no start */
	cfg.initrd_start = RAM_BASE + 255 * MiB;
	cfg.initrd_end = RAM_BASE + 257 * MiB;
	expect_error(&cfg, -EINVAL); /* past the end of RAM */
	cfg.initrd_end = RAM_BASE + 256 * MiB;
	expect_ok(&cfg); /* up to the last byte */
}

/* A short buffer: -ENOSPC at every size below the tree's, never a byte written past it. */
static void test_short_buffer(void **state)
{
	struct hyp_fdt_config cfg = full_config();
	size_t need, n;
	void *ref = build(&cfg, &need);
	uint8_t *buf = new_buf(need + 64);

	(void)state;
	for (size_t size = 0; size < need; size += (size < 128 ? 1 : 37)) {
		n = SIZE_SENTINEL;
		memset(buf, FILL, need + 64);
		assert_int_equal(hyp_fdt_build(&cfg, buf, size, &n), -ENOSPC);
		assert_int_equal(n, SIZE_SENTINEL);
		assert_true(all_fill(buf + size, need + 64 - size));
	}
	n = SIZE_SENTINEL;
	assert_int_equal(hyp_fdt_build(&cfg, buf, need - 1, &n), -ENOSPC);
	assert_int_equal(hyp_fdt_build(&cfg, buf, need, &n), 0);
	assert_int_equal(n, need);
	assert_memory_equal(buf, ref, need);
	free(buf);
	free(ref);
}

/* The largest configuration the API allows still fits the arm64 Linux limit, and a buffer over
 * 2 MiB is only used up to it. */
/* The same rule as hyp_vm_create(): the default redistributor region holds 123 vCPUs, whether or
 * not the tree has a UART where the region would otherwise run into it. */
static void test_default_gicr_capacity(void **state)
{
	static uint64_t mpidrs[HYP_DEFAULT_GICR_MAX_VCPUS + 1];
	struct hyp_fdt_config cfg = minimal_config();
	size_t size = HYP_FDT_MAX_SIZE, n = SIZE_SENTINEL;
	uint8_t *buf = new_buf(size);

	(void)state;
	for (uint32_t i = 0; i <= HYP_DEFAULT_GICR_MAX_VCPUS; i++)
		mpidrs[i] = (uint64_t)(i >> 4) << 8 | (i & 0xf);
	cfg.mpidrs = mpidrs;
	cfg.num_cpus = HYP_DEFAULT_GICR_MAX_VCPUS;
	assert_int_equal(hyp_fdt_build(&cfg, buf, size, &n), 0);
	cfg.num_cpus = HYP_DEFAULT_GICR_MAX_VCPUS + 1;
	n = SIZE_SENTINEL;
	assert_int_equal(hyp_fdt_build(&cfg, buf, size, &n), -EINVAL);
	assert_int_equal(n, SIZE_SENTINEL);
	cfg.flags |= HYP_FDT_NO_UART | HYP_FDT_NO_RTC;
	assert_int_equal(hyp_fdt_build(&cfg, buf, size, &n), -EINVAL);
	cfg.gicr_base = HYP_HIGH_GICR_BASE;
	assert_int_equal(hyp_fdt_build(&cfg, buf, size, &n), 0);
	free(buf);
}

static void test_size_limit(void **state)
{
	static struct hyp_fdt_mem_range mem[HYP_FDT_MAX_MEM_RANGES];
	static struct hyp_fdt_virtio virtio[HYP_FDT_MAX_VIRTIO];
	static uint64_t mpidrs[HYP_MAX_VCPUS];
	struct hyp_fdt_config cfg = minimal_config();
	size_t big = 2 * HYP_FDT_MAX_SIZE, n = SIZE_SENTINEL;
	uint8_t *buf = new_buf(big);
	char *args = malloc(HYP_FDT_MAX_BOOTARGS);

	(void)state;
	assert_non_null(args);
	memset(args, 'y', HYP_FDT_MAX_BOOTARGS - 1);
	args[HYP_FDT_MAX_BOOTARGS - 1] = '\0';
	for (uint32_t i = 0; i < HYP_FDT_MAX_MEM_RANGES; i++)
		mem[i] = (struct hyp_fdt_mem_range){ 0x1000000000ull + i * GiB, GiB };
	for (uint32_t i = 0; i < HYP_MAX_VCPUS; i++)
		mpidrs[i] = 0xff00000000ull | (uint64_t)(i >> 8) << 16 | (uint64_t)(i & 0xff) << 8 |
			    0x0f;
	cfg.num_cpus = HYP_MAX_VCPUS;
	cfg.mpidrs = mpidrs;
	cfg.gicr_base = 0x200000000ull; /* 64 MiB of redistributors */
	cfg.mem = mem;
	cfg.num_mem = HYP_FDT_MAX_MEM_RANGES;
	cfg.virtio = virtio;
	cfg.num_virtio = HYP_FDT_MAX_VIRTIO;
	cfg.bootargs = args;
	cfg.initrd_start = 0x1000000000ull;
	cfg.initrd_end = 0x1000000000ull + GiB;

	assert_int_equal(hyp_fdt_build(&cfg, buf, big, &n), 0);
	assert_true(n <= HYP_FDT_MAX_SIZE);
	assert_int_equal(fdt_check_full(buf, n), 0);
	assert_true(all_fill(buf + HYP_FDT_MAX_SIZE, big - HYP_FDT_MAX_SIZE));
	assert_true(fdt_path_offset(buf, "/cpus/cpu@ff0001ff0f") >= 0);
	print_message("# largest tree: %zu bytes for %u vCPUs\n", n, HYP_MAX_VCPUS);
	free(args);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_tree),
		cmocka_unit_test(test_full_tree),
		cmocka_unit_test(test_aff3_tree),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_minimal_has_no_optional_chosen),
		cmocka_unit_test(test_no_uart_no_rtc),
		cmocka_unit_test(test_default_mpidr_layout),
		cmocka_unit_test(test_argument_errors),
		cmocka_unit_test(test_cpu_errors),
		cmocka_unit_test(test_memory_errors),
		cmocka_unit_test(test_device_errors),
		cmocka_unit_test(test_chosen_errors),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_default_gicr_capacity),
		cmocka_unit_test(test_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
