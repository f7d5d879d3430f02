// SPDX-License-Identifier: MIT
/*
 * Fuzz lib/fdt: hyp_fdt_build() from hostile configurations.
 *
 * The output buffer is allocated at exactly the size passed, so AddressSanitizer reports any
 * write past it. When the build succeeds, libfdt's fdt_check_full() must accept the tree and the
 * facts guests depend on must be in it (one cpu node per vCPU with reg = its MPIDR, one memory
 * node per RAM range, /chosen/bootargs and the initrd range as given). When it fails with
 * anything but -ENOSPC the buffer must be untouched, and *out_size is never touched on failure.
 * A configuration refused for space alone must build in a buffer of the largest size.
 *
 * Input: a selector word, then the configuration's fields (mostly small deltas from the platform
 * defaults, so valid trees are common), then the bootargs string.
 */
#include <errno.h>
#include <libfdt.h>
#include <string.h>

#include "fuzz-input.h"

#include <libhyp/fdt.h>
#include <libhyp/platform.h>
#include <libhyp/vm.h>

#define MAX_CPUS 24
#define MAX_MEM 6
#define MAX_VIRTIO 10

static uint64_t gen_base(struct fuzz_in *in, uint64_t def, uint64_t align)
{
	uint8_t s = fuzz_u8(in);

	if (s < 0x80)
		return 0; /* the default */
	if (s < 0xe0)
		return def + (uint64_t)(s & 0x1f) * align;
	return fuzz_u64(in);
}

static uint32_t gen_intid(struct fuzz_in *in)
{
	uint8_t s = fuzz_u8(in);

	return s < 0xa0 ? 0 : s < 0xf0 ? 32 + (s & 0x3f) : fuzz_u32(in) % 1100;
}

static void check_tree(const void *fdt, size_t len, const struct hyp_fdt_config *c)
{
	const struct hyp_fdt_mem_range *mem = c->mem;
	int cpus, node, n = 0, plen;
	const void *p;

	FUZZ_CHECK(fdt_check_full(fdt, len) == 0, "fdt_check_full: %d", fdt_check_full(fdt, len));
	FUZZ_CHECK(fdt_totalsize(fdt) == len, "totalsize %u, out_size %zu", fdt_totalsize(fdt),
		   len);
	cpus = fdt_path_offset(fdt, "/cpus");
	FUZZ_CHECK(cpus >= 0, "no /cpus");
	fdt_for_each_subnode(node, fdt, cpus)
	{
		const char *name = fdt_get_name(fdt, node, NULL);
		uint64_t want, reg;

		if (!name || strncmp(name, "cpu@", 4))
			continue;
		FUZZ_CHECK((uint32_t)n < c->num_cpus, "more cpu nodes than vCPUs");
		want = c->mpidrs ? c->mpidrs[n] :
				   ((n & 0xfull) | ((uint64_t)(n >> 4) & 0xff) << 8 |
				    ((uint64_t)(n >> 12) & 0xff) << 16);
		p = fdt_getprop(fdt, node, "reg", &plen);
		FUZZ_CHECK(p && (plen == 4 || plen == 8), "cpu reg");
		reg = plen == 4 ? fdt32_ld(p) : fdt64_ld(p);
		FUZZ_CHECK(reg == want, "cpu %d reg %#llx, want %#llx", n, (unsigned long long)reg,
			   (unsigned long long)want);
		n++;
	}
	FUZZ_CHECK((uint32_t)n == c->num_cpus, "%d cpu nodes for %u vCPUs", n, c->num_cpus);

	n = 0;
	fdt_for_each_subnode(node, fdt, 0)
	{
		const char *type = fdt_getprop(fdt, node, "device_type", NULL);
		const fdt64_t *reg;

		if (!type || strcmp(type, "memory"))
			continue;
		reg = fdt_getprop(fdt, node, "reg", &plen);
		FUZZ_CHECK(reg && plen == 16, "memory reg");
		FUZZ_CHECK((uint32_t)n < c->num_mem && fdt64_ld(&reg[0]) == mem[n].base &&
				   fdt64_ld(&reg[1]) == mem[n].size,
			   "memory node %d", n);
		n++;
	}
	FUZZ_CHECK((uint32_t)n == c->num_mem, "%d memory nodes for %u ranges", n, c->num_mem);

	node = fdt_path_offset(fdt, "/chosen");
	FUZZ_CHECK(node >= 0, "no /chosen");
	p = fdt_getprop(fdt, node, "bootargs", &plen);
	if (c->bootargs)
		FUZZ_CHECK(p && (size_t)plen == strlen(c->bootargs) + 1 &&
				   !memcmp(p, c->bootargs, plen),
			   "bootargs");
	p = fdt_getprop(fdt, node, "linux,initrd-start", &plen);
	if (c->initrd_end) {
		FUZZ_CHECK(p && (plen == 4 || plen == 8), "initrd-start");
		FUZZ_CHECK((plen == 4 ? fdt32_ld(p) : fdt64_ld(p)) == c->initrd_start,
			   "initrd-start");
		p = fdt_getprop(fdt, node, "linux,initrd-end", &plen);
		FUZZ_CHECK(p && (plen == 4 || plen == 8), "initrd-end");
		FUZZ_CHECK((plen == 4 ? fdt32_ld(p) : fdt64_ld(p)) == c->initrd_end, "initrd-end");
	} else {
		FUZZ_CHECK(!p, "initrd-start without an initrd");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t mpidrs[MAX_CPUS];
	static struct hyp_fdt_mem_range mem[MAX_MEM];
	static struct hyp_fdt_virtio virtio[MAX_VIRTIO];
	static char bootargs[HYP_FDT_MAX_BOOTARGS + 16];
	struct fuzz_in in = { data, size };
	struct hyp_fdt_config c = { .size = sizeof(c) };
	uint32_t sel = fuzz_u32(&in);
	size_t buf_size, out = 0x5a5a, out2 = 0x5a5a;
	uint8_t *buf;
	int r;

	c.flags = (sel & 0x100) ? fuzz_u32(&in) : sel & 3;
	c.num_cpus = (sel & 0x200) ? fuzz_u16(&in) % (HYP_MAX_VCPUS + 2) :
				     1 + fuzz_u8(&in) % MAX_CPUS;
	if (c.num_cpus <= MAX_CPUS && (sel & 0x400)) {
		for (uint32_t i = 0; i < c.num_cpus; i++)
			mpidrs[i] = (sel & 0x800) ? fuzz_u64(&in) :
						    (uint64_t)fuzz_u8(&in) |
							    (uint64_t)(fuzz_u8(&in) & 3) << 8;
		c.mpidrs = mpidrs;
	}
	c.num_mem = (sel & 0x1000) ? fuzz_u8(&in) % (HYP_FDT_MAX_MEM_RANGES + 2) :
				     1 + fuzz_u8(&in) % MAX_MEM;
	if (c.num_mem <= MAX_MEM) {
		uint64_t base = HYP_DEFAULT_RAM_BASE;

		for (uint32_t i = 0; i < c.num_mem; i++) {
			uint8_t s = fuzz_u8(&in);

			mem[i].base = (s & 0x80) ? fuzz_u64(&in) : base + (s & 0x7) * 0x1000000ull;
			mem[i].size = (s & 0x40) ? fuzz_u64(&in) : (1 + fuzz_u8(&in)) * 0x100000ull;
			base = mem[i].base + mem[i].size;
		}
		c.mem = mem;
	} else if (!(sel & 0x2000)) {
		c.mem = mem; /* a count beyond what is given: must be refused, not read */
		c.num_mem = HYP_FDT_MAX_MEM_RANGES + 1;
	}
	c.gicd_base = gen_base(&in, HYP_DEFAULT_GICD_BASE, 0x10000);
	c.gicr_base = gen_base(&in, HYP_DEFAULT_GICR_BASE, 0x10000);
	c.uart_base = gen_base(&in, HYP_DEFAULT_UART_BASE, 0x1000);
	c.rtc_base = gen_base(&in, HYP_DEFAULT_RTC_BASE, 0x1000);
	c.uart_intid = gen_intid(&in);
	c.rtc_intid = gen_intid(&in);
	if (sel & 0x4000)
		for (int i = 0; i < 4; i++)
			c.timer_intids[i] = fuzz_u8(&in) % 40;
	if (sel & 0x8000) {
		c.num_virtio = fuzz_u8(&in) % (MAX_VIRTIO + 1);
		for (uint32_t i = 0; i < c.num_virtio; i++) {
			virtio[i].base = gen_base(&in, HYP_DEFAULT_VIRTIO_MMIO_BASE, 0x200);
			virtio[i].intid = gen_intid(&in);
			virtio[i].reserved = (fuzz_u8(&in) == 0xff);
		}
		c.virtio = virtio;
	}
	c.uart_clock_hz = (sel & 0x10000) ? fuzz_u32(&in) : 0;
	if (sel & 0x20000) {
		c.initrd_start = HYP_DEFAULT_RAM_BASE + fuzz_u32(&in);
		c.initrd_end = c.initrd_start + fuzz_u16(&in);
	}
	/* buf_size: from tiny to the largest, exact, so ASan sees every overrun. */
	buf_size = (sel & 0x40000) ? fuzz_u32(&in) % (HYP_FDT_MAX_SIZE + 64) : 4096 + fuzz_u16(&in);
	if (sel & 0x80000) {
		size_t n = 0;

		while (!fuzz_done(&in) && n < sizeof(bootargs) - 1) {
			char ch = (char)fuzz_u8(&in);

			if (!ch)
				break;
			bootargs[n++] = ch;
		}
		if ((sel & 0x100000) && n < 16) {
			memset(bootargs + n, 'x', sizeof(bootargs) - 1 - n);
			n = sizeof(bootargs) - 1 - (sel >> 28);
		}
		bootargs[n] = 0;
		c.bootargs = bootargs;
	}

	/* 16-byte aligned (malloc), exactly buf_size long. */
	buf = malloc(buf_size ? buf_size : 1);
	FUZZ_CHECK(buf, "malloc");
	memset(buf, 0xa5, buf_size);
	r = hyp_fdt_build(&c, buf, buf_size, &out);
	if (r == 0) {
		FUZZ_CHECK(out <= buf_size && out <= HYP_FDT_MAX_SIZE, "out_size %zu", out);
		check_tree(buf, out, &c);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ENOSPC || r == -E2BIG, "error %d", r);
		FUZZ_CHECK(out == 0x5a5a, "out_size written on failure");
		if (r != -ENOSPC)
			for (size_t i = 0; i < buf_size; i++)
				FUZZ_CHECK(buf[i] == 0xa5, "buffer written for error %d", r);
	}
	free(buf);
	if (r == -ENOSPC && buf_size < HYP_FDT_MAX_SIZE) {
		/* The configuration was acceptable: with all the room allowed it builds, unless
		 * the tree really exceeds the largest DTB Linux takes. */
		buf = malloc(HYP_FDT_MAX_SIZE);
		FUZZ_CHECK(buf, "malloc");
		r = hyp_fdt_build(&c, buf, HYP_FDT_MAX_SIZE, &out2);
		FUZZ_CHECK(r == 0 || r == -ENOSPC, "-ENOSPC for %zu bytes, then %d", buf_size, r);
		if (r == 0)
			check_tree(buf, out2, &c);
		free(buf);
	}
	return 0;
}
