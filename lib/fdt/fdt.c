/* SPDX-License-Identifier: MIT */
/*
 * The guest's flattened device tree (include/libhyp/fdt.h), written sequentially straight into the
 * caller's buffer (fdt-writer.h: no libfdt, so the freestanding build has it too). The whole configuration is validated before the first
 * byte is written.
 */
#include "hyp_string.h"
#include "arm64.h"
#include "hyp_base.h"
#include "hyp_errno.h"
#include "hyp_gic_layout.h"
#include "hyp_sized_config.h"
#include "fdt-writer.h"

#include <libhyp/fdt.h>
#include <libhyp/hyp.h>

/* Interrupt specifier cells of the GICv3 binding (arm,gic-v3.yaml): type, number, flags. */
#define GIC_SPI 0u
#define GIC_PPI 1u
#define IRQ_TYPE_EDGE_RISING 1u
#define IRQ_TYPE_LEVEL_HIGH 4u

#define PHANDLE_GIC 1u
#define PHANDLE_CLOCK 2u

/* A node name is at most 31 characters before the '@' (DT spec 2.2.1); ours are shorter. */
#define NODE_NAME_MAX 48

/* The fully resolved configuration: every default applied. */
struct fdt_plan {
	const struct hyp_fdt_config *cfg;
	uint32_t flags;
	hyp_ipa_t gicd_base, gicr_base, uart_base, rtc_base;
	uint32_t uart_intid, rtc_intid, uart_clock_hz;
	uint32_t timer_intids[4];
	hyp_ipa_t flash_base;
	uint64_t flash_bank_size;
	struct hyp_fdt_virtio virtio[HYP_FDT_MAX_VIRTIO];
	bool cpus_need_aff3;
};

struct range {
	uint64_t base;
	uint64_t size;
};

static const uint32_t default_timer_intids[4] = {
	HYP_DEFAULT_TIMER_SEC_PHYS_INTID,
	HYP_DEFAULT_TIMER_PHYS_INTID,
	HYP_DEFAULT_TIMER_VIRT_INTID,
	HYP_DEFAULT_TIMER_HYP_INTID,
};

/* The affinity struct hyp_vcpu_config documents for mpidr = 0 (KVM's layout). */
static uint64_t cpu_mpidr(const struct hyp_fdt_config *cfg, uint32_t index)
{
	return cfg->mpidrs ? cfg->mpidrs[index] : hyp__default_mpidr(index);
}

static bool range_valid(uint64_t base, uint64_t size, uint64_t align)
{
	uint64_t end;

	return size && !(base & (align - 1)) && !__builtin_add_overflow(base, size, &end);
}

static bool ranges_overlap(const struct range *a, const struct range *b)
{
	/* Both are known not to wrap. */
	return a->base < b->base + b->size && b->base < a->base + a->size;
}

static bool spi_valid(uint32_t intid)
{
	return intid >= 32 && intid <= 1019;
}

static bool ppi_valid(uint32_t intid)
{
	return intid >= 16 && intid <= 31;
}

static size_t bounded_strlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static int validate_cpus(const struct hyp_fdt_config *cfg, struct fdt_plan *plan)
{
	if (cfg->num_cpus == 0 || cfg->num_cpus > HYP_MAX_VCPUS)
		return -EINVAL;
	plan->cpus_need_aff3 = false;
	for (uint32_t i = 0; i < cfg->num_cpus; i++) {
		uint64_t mpidr = cpu_mpidr(cfg, i);

		if (mpidr & ~MPIDR_AFF_MASK)
			return -EINVAL;
		if (mpidr >> 32)
			plan->cpus_need_aff3 = true;
		for (uint32_t j = 0; j < i; j++)
			if (cpu_mpidr(cfg, j) == mpidr)
				return -EINVAL;
	}
	return 0;
}

static int validate_layout(const struct hyp_fdt_config *cfg, struct fdt_plan *plan)
{
	struct range ranges[5 + HYP_FDT_MAX_MEM_RANGES + HYP_FDT_MAX_VIRTIO];
	uint32_t spis[2 + HYP_FDT_MAX_VIRTIO];
	uint32_t nr = 0, ns = 0;
	bool initrd_in_ram = false;

	if (hyp__gic_layout_check(plan->gicd_base, plan->gicr_base, cfg->num_cpus, 0))
		return -EINVAL;
	ranges[nr++] = (struct range){ plan->gicd_base, HYP_GICD_SIZE };
	ranges[nr++] =
		(struct range){ plan->gicr_base, (uint64_t)HYP_GICR_SIZE_PER_VCPU * cfg->num_cpus };
	if (!(plan->flags & HYP_FDT_NO_UART)) {
		if (!range_valid(plan->uart_base, HYP_UART_SIZE, 0x1000) ||
		    !spi_valid(plan->uart_intid))
			return -EINVAL;
		ranges[nr++] = (struct range){ plan->uart_base, HYP_UART_SIZE };
		spis[ns++] = plan->uart_intid;
	}
	if (!(plan->flags & HYP_FDT_NO_RTC)) {
		if (!range_valid(plan->rtc_base, HYP_RTC_SIZE, 0x1000) ||
		    !spi_valid(plan->rtc_intid))
			return -EINVAL;
		ranges[nr++] = (struct range){ plan->rtc_base, HYP_RTC_SIZE };
		spis[ns++] = plan->rtc_intid;
	}
	if (plan->flags & HYP_FDT_FLASH) {
		uint64_t bank = plan->flash_bank_size;

		if (bank < (512u << 10) || (bank & (bank - 1)) || bank > (1ull << 62) ||
		    !range_valid(plan->flash_base, 2 * bank, bank))
			return -EINVAL;
		ranges[nr++] = (struct range){ plan->flash_base, 2 * bank };
	} else if (cfg->flash_base || cfg->flash_bank_size) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->num_virtio; i++) {
		const struct hyp_fdt_virtio *v = &plan->virtio[i];

		if (!range_valid(v->base, HYP_VIRTIO_MMIO_SIZE, HYP_VIRTIO_MMIO_SIZE) ||
		    !spi_valid(v->intid))
			return -EINVAL;
		ranges[nr++] = (struct range){ v->base, HYP_VIRTIO_MMIO_SIZE };
		spis[ns++] = v->intid;
	}
	for (uint32_t i = 0; i < cfg->num_mem; i++) {
		const struct hyp_fdt_mem_range *m = &cfg->mem[i];

		if (!range_valid(m->base, m->size, HYP_PAGE_SIZE) ||
		    (m->size & (HYP_PAGE_SIZE - 1)))
			return -EINVAL;
		ranges[nr++] = (struct range){ m->base, m->size };
		if (cfg->initrd_start >= m->base && cfg->initrd_end <= m->base + m->size)
			initrd_in_ram = true;
	}
	for (uint32_t i = 0; i < nr; i++)
		for (uint32_t j = 0; j < i; j++)
			if (ranges_overlap(&ranges[i], &ranges[j]))
				return -EINVAL;
	for (uint32_t i = 0; i < ns; i++)
		for (uint32_t j = 0; j < i; j++)
			if (spis[i] == spis[j])
				return -EINVAL;
	for (uint32_t i = 0; i < 4; i++)
		if (!ppi_valid(plan->timer_intids[i]))
			return -EINVAL;
	if (cfg->initrd_start || cfg->initrd_end) {
		if (cfg->initrd_start >= cfg->initrd_end || !initrd_in_ram)
			return -EINVAL;
	}
	return 0;
}

static int resolve(const struct hyp_fdt_config *cfg, struct fdt_plan *plan)
{
	int r;

	if (cfg->flags & ~(uint32_t)(HYP_FDT_NO_UART | HYP_FDT_NO_RTC | HYP_FDT_FLASH))
		return -EINVAL;
	if (cfg->num_mem == 0 || cfg->num_mem > HYP_FDT_MAX_MEM_RANGES || !cfg->mem)
		return -EINVAL;
	if (cfg->num_virtio > HYP_FDT_MAX_VIRTIO || (cfg->num_virtio && !cfg->virtio))
		return -EINVAL;
	if (cfg->bootargs &&
	    bounded_strlen(cfg->bootargs, HYP_FDT_MAX_BOOTARGS) >= HYP_FDT_MAX_BOOTARGS)
		return -EINVAL;
	r = validate_cpus(cfg, plan);
	if (r)
		return r;

	plan->cfg = cfg;
	plan->flags = cfg->flags;
	plan->gicd_base = cfg->gicd_base ? cfg->gicd_base : HYP_DEFAULT_GICD_BASE;
	plan->gicr_base = cfg->gicr_base ? cfg->gicr_base : HYP_DEFAULT_GICR_BASE;
	plan->uart_base = cfg->uart_base ? cfg->uart_base : HYP_DEFAULT_UART_BASE;
	plan->rtc_base = cfg->rtc_base ? cfg->rtc_base : HYP_DEFAULT_RTC_BASE;
	plan->uart_intid = cfg->uart_intid ? cfg->uart_intid : HYP_DEFAULT_UART_INTID;
	plan->rtc_intid = cfg->rtc_intid ? cfg->rtc_intid : HYP_DEFAULT_RTC_INTID;
	plan->uart_clock_hz = cfg->uart_clock_hz ? cfg->uart_clock_hz : HYP_DEFAULT_UART_CLOCK_HZ;
	plan->flash_base = cfg->flash_base;
	plan->flash_bank_size = cfg->flash_bank_size ? cfg->flash_bank_size :
						       HYP_DEFAULT_FLASH_BANK_SIZE;
	for (uint32_t i = 0; i < 4; i++)
		plan->timer_intids[i] = cfg->timer_intids[i] ? cfg->timer_intids[i] :
							       default_timer_intids[i];
	for (uint32_t i = 0; i < cfg->num_virtio; i++) {
		const struct hyp_fdt_virtio *v = &cfg->virtio[i];

		if (v->reserved)
			return -EINVAL;
		plan->virtio[i].base =
			v->base ? v->base : HYP_DEFAULT_VIRTIO_MMIO_BASE + i * HYP_VIRTIO_MMIO_SIZE;
		plan->virtio[i].intid = v->intid ? v->intid : HYP_DEFAULT_VIRTIO_MMIO_INTID + i;
		plan->virtio[i].reserved = 0;
	}
	return validate_layout(cfg, plan);
}

/* "name@<hex unit address>", the DT spec's node-name form. */
static void node_name(char *out, const char *name, uint64_t unit)
{
	static const char digits[] = "0123456789abcdef";
	char hex[16];
	size_t n = 0, len = 0;

	while (name[n])
		out[len++] = name[n++];
	out[len++] = '@';
	n = 0;
	do {
		hex[n++] = digits[unit & 0xf];
		unit >>= 4;
	} while (unit);
	while (n)
		out[len++] = hex[--n];
	out[len] = '\0';
}

/* Properties are big-endian cells (DT spec 2.2.4). */
static uint32_t be32(uint32_t v)
{
	return hyp__fdt_be32(v);
}

static int prop_reg(struct hyp__fdtw *fdt, uint64_t base, uint64_t size)
{
	const uint64_t reg[2] = { hyp__fdt_be64(base), hyp__fdt_be64(size) };

	return hyp__fdtw_property(fdt, "reg", reg, sizeof(reg));
}

static int prop_spi_type(struct hyp__fdtw *fdt, uint32_t intid, uint32_t type)
{
	const uint32_t irq[3] = { be32(GIC_SPI), be32(intid - 32), be32(type) };

	return hyp__fdtw_property(fdt, "interrupts", irq, sizeof(irq));
}

static int prop_spi(struct hyp__fdtw *fdt, uint32_t intid)
{
	const uint32_t irq[3] = { be32(GIC_SPI), be32(intid - 32), be32(IRQ_TYPE_LEVEL_HIGH) };

	return hyp__fdtw_property(fdt, "interrupts", irq, sizeof(irq));
}

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ < 0)                                                                        \
			return r_;                                                                 \
	} while (0)

static int add_root_props(struct hyp__fdtw *fdt)
{
	TRY(hyp__fdtw_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(hyp__fdtw_property_string(fdt, "model", "libhyp virt"));
	TRY(hyp__fdtw_property_u32(fdt, "#address-cells", 2));
	TRY(hyp__fdtw_property_u32(fdt, "#size-cells", 2));
	TRY(hyp__fdtw_property_u32(fdt, "interrupt-parent", PHANDLE_GIC));
	return 0;
}

static int add_psci(struct hyp__fdtw *fdt)
{
	static const char compatible[] = "arm,psci-1.0\0arm,psci-0.2";

	TRY(hyp__fdtw_begin_node(fdt, "psci"));
	TRY(hyp__fdtw_property(fdt, "compatible", compatible, sizeof(compatible)));
	TRY(hyp__fdtw_property_string(fdt, "method", "hvc"));
	return hyp__fdtw_end_node(fdt);
}

static int add_memory(struct hyp__fdtw *fdt, const struct hyp_fdt_config *cfg)
{
	char name[NODE_NAME_MAX];

	for (uint32_t i = 0; i < cfg->num_mem; i++) {
		node_name(name, "memory", cfg->mem[i].base);
		TRY(hyp__fdtw_begin_node(fdt, name));
		TRY(hyp__fdtw_property_string(fdt, "device_type", "memory"));
		TRY(prop_reg(fdt, cfg->mem[i].base, cfg->mem[i].size));
		TRY(hyp__fdtw_end_node(fdt));
	}
	return 0;
}

static int add_cpus(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	const struct hyp_fdt_config *cfg = plan->cfg;
	char name[NODE_NAME_MAX];

	/* arm/cpus.yaml: reg holds MPIDR_EL1[23:0] in one cell, or Aff3 in a first cell when any
	 * CPU has a non-zero Aff3. Linux matches it against MPIDR_EL1 & 0xff00ffffff. */
	TRY(hyp__fdtw_begin_node(fdt, "cpus"));
	TRY(hyp__fdtw_property_u32(fdt, "#address-cells", plan->cpus_need_aff3 ? 2 : 1));
	TRY(hyp__fdtw_property_u32(fdt, "#size-cells", 0));
	for (uint32_t i = 0; i < cfg->num_cpus; i++) {
		uint64_t mpidr = cpu_mpidr(cfg, i);

		node_name(name, "cpu", mpidr);
		TRY(hyp__fdtw_begin_node(fdt, name));
		TRY(hyp__fdtw_property_string(fdt, "device_type", "cpu"));
		TRY(hyp__fdtw_property_string(fdt, "compatible", "arm,arm-v8"));
		if (plan->cpus_need_aff3)
			TRY(hyp__fdtw_property_u64(fdt, "reg", mpidr));
		else
			TRY(hyp__fdtw_property_u32(fdt, "reg", (uint32_t)mpidr));
		TRY(hyp__fdtw_property_string(fdt, "enable-method", "psci"));
		TRY(hyp__fdtw_end_node(fdt));
	}
	return hyp__fdtw_end_node(fdt);
}

static int add_timer(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	uint32_t irqs[12];

	/* Binding order: secure physical, non-secure physical, virtual, hypervisor. Level-high, as
	 * QEMU's virt board says for GICv3 (the timers are level-triggered outputs; Linux 4.8-rc6
	 * and later program them as level whatever the tree says). */
	for (uint32_t i = 0; i < 4; i++) {
		irqs[i * 3] = be32(GIC_PPI);
		irqs[i * 3 + 1] = be32(plan->timer_intids[i] - 16);
		irqs[i * 3 + 2] = be32(IRQ_TYPE_LEVEL_HIGH);
	}
	TRY(hyp__fdtw_begin_node(fdt, "timer"));
	TRY(hyp__fdtw_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(hyp__fdtw_property(fdt, "interrupts", irqs, sizeof(irqs)));
	/* The virtual counter keeps running in guest idle states: no need for a broadcast timer. */
	TRY(hyp__fdtw_property(fdt, "always-on", NULL, 0));
	return hyp__fdtw_end_node(fdt);
}

static int add_gic(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	char name[NODE_NAME_MAX];
	const uint64_t reg[4] = {
		hyp__fdt_be64(plan->gicd_base),
		hyp__fdt_be64(HYP_GICD_SIZE),
		hyp__fdt_be64(plan->gicr_base),
		hyp__fdt_be64((uint64_t)HYP_GICR_SIZE_PER_VCPU * plan->cfg->num_cpus),
	};

	node_name(name, "intc", plan->gicd_base);
	TRY(hyp__fdtw_begin_node(fdt, name));
	TRY(hyp__fdtw_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(hyp__fdtw_property_u32(fdt, "#interrupt-cells", 3));
	TRY(hyp__fdtw_property(fdt, "interrupt-controller", NULL, 0));
	/* Room for an ITS child node, in the parent's address space (as QEMU's virt does); an
	 * interrupt provider also needs #address-cells for interrupt-map parsing. */
	TRY(hyp__fdtw_property_u32(fdt, "#address-cells", 2));
	TRY(hyp__fdtw_property_u32(fdt, "#size-cells", 2));
	TRY(hyp__fdtw_property(fdt, "ranges", NULL, 0));
	TRY(hyp__fdtw_property(fdt, "reg", reg, sizeof(reg)));
	TRY(hyp__fdtw_property_u32(fdt, "phandle", PHANDLE_GIC));
	return hyp__fdtw_end_node(fdt);
}

static int add_clock(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	TRY(hyp__fdtw_begin_node(fdt, "apb-pclk"));
	TRY(hyp__fdtw_property_string(fdt, "compatible", "fixed-clock"));
	TRY(hyp__fdtw_property_u32(fdt, "#clock-cells", 0));
	TRY(hyp__fdtw_property_u32(fdt, "clock-frequency", plan->uart_clock_hz));
	TRY(hyp__fdtw_property_u32(fdt, "phandle", PHANDLE_CLOCK));
	return hyp__fdtw_end_node(fdt);
}

static int add_uart(struct hyp__fdtw *fdt, const struct fdt_plan *plan, char *path)
{
	static const char compatible[] = "arm,pl011\0arm,primecell";
	static const char clock_names[] = "uartclk\0apb_pclk";
	const uint32_t clocks[2] = { be32(PHANDLE_CLOCK), be32(PHANDLE_CLOCK) };

	/* Without clocks/clock-names the AMBA bus never probes the PL011: no ttyAMA0. */
	node_name(path + 1, "pl011", plan->uart_base);
	TRY(hyp__fdtw_begin_node(fdt, path + 1));
	TRY(hyp__fdtw_property(fdt, "compatible", compatible, sizeof(compatible)));
	TRY(prop_reg(fdt, plan->uart_base, HYP_UART_SIZE));
	TRY(prop_spi(fdt, plan->uart_intid));
	TRY(hyp__fdtw_property(fdt, "clocks", clocks, sizeof(clocks)));
	TRY(hyp__fdtw_property(fdt, "clock-names", clock_names, sizeof(clock_names)));
	return hyp__fdtw_end_node(fdt);
}

static int add_rtc(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	static const char compatible[] = "arm,pl031\0arm,primecell";
	char name[NODE_NAME_MAX];

	node_name(name, "pl031", plan->rtc_base);
	TRY(hyp__fdtw_begin_node(fdt, name));
	TRY(hyp__fdtw_property(fdt, "compatible", compatible, sizeof(compatible)));
	TRY(prop_reg(fdt, plan->rtc_base, HYP_RTC_SIZE));
	TRY(prop_spi(fdt, plan->rtc_intid));
	TRY(hyp__fdtw_property_u32(fdt, "clocks", PHANDLE_CLOCK));
	TRY(hyp__fdtw_property_string(fdt, "clock-names", "apb_pclk"));
	return hyp__fdtw_end_node(fdt);
}

static int add_virtio(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	char name[NODE_NAME_MAX];

	for (uint32_t i = 0; i < plan->cfg->num_virtio; i++) {
		const struct hyp_fdt_virtio *v = &plan->virtio[i];

		node_name(name, "virtio_mmio", v->base);
		TRY(hyp__fdtw_begin_node(fdt, name));
		TRY(hyp__fdtw_property_string(fdt, "compatible", "virtio,mmio"));
		TRY(prop_reg(fdt, v->base, HYP_VIRTIO_MMIO_SIZE));
		/* Edge (as QEMU's virt board describes virtio-mmio): the device raises the line
		 * when InterruptStatus gets a bit and drops it at the driver's acknowledgement,
		 * and the rising edge is the interrupt. A level-sensitive SPI would make KVM's
		 * vGIC trap the guest's EOI of every interrupt to resample the line: one more
		 * exit per virtio interrupt, for nothing, since Linux's virtio-mmio handler
		 * acknowledges and then drains the rings. */
		TRY(prop_spi_type(fdt, v->intid, IRQ_TYPE_EDGE_RISING));
		/* Guest RAM is ordinary cacheable host memory to the VMM's device models. */
		TRY(hyp__fdtw_property(fdt, "dma-coherent", NULL, 0));
		TRY(hyp__fdtw_end_node(fdt));
	}
	return 0;
}

/* Firmware finds its flash here (U-Boot's CFI driver takes the banks from reg and the bus width
 * from bank-width; Linux's physmap-of driver does the same). */
static int add_flash(struct hyp__fdtw *fdt, const struct fdt_plan *plan)
{
	char name[NODE_NAME_MAX];
	uint64_t reg[4] = {
		hyp__fdt_be64(plan->flash_base),
		hyp__fdt_be64(plan->flash_bank_size),
		hyp__fdt_be64(plan->flash_base + plan->flash_bank_size),
		hyp__fdt_be64(plan->flash_bank_size),
	};

	node_name(name, "flash", plan->flash_base);
	TRY(hyp__fdtw_begin_node(fdt, name));
	TRY(hyp__fdtw_property_string(fdt, "compatible", "cfi-flash"));
	TRY(hyp__fdtw_property(fdt, "reg", reg, sizeof(reg)));
	TRY(hyp__fdtw_property_u32(fdt, "bank-width", 4));
	return hyp__fdtw_end_node(fdt);
}

static int add_chosen(struct hyp__fdtw *fdt, const struct fdt_plan *plan, const char *uart_path)
{
	const struct hyp_fdt_config *cfg = plan->cfg;

	if (!(plan->flags & HYP_FDT_NO_UART)) {
		TRY(hyp__fdtw_begin_node(fdt, "aliases"));
		TRY(hyp__fdtw_property_string(fdt, "serial0", uart_path));
		TRY(hyp__fdtw_end_node(fdt));
	}
	TRY(hyp__fdtw_begin_node(fdt, "chosen"));
	if (cfg->bootargs)
		TRY(hyp__fdtw_property_string(fdt, "bootargs", cfg->bootargs));
	if (!(plan->flags & HYP_FDT_NO_UART))
		TRY(hyp__fdtw_property_string(fdt, "stdout-path", uart_path));
	if (cfg->initrd_end) {
		/* Linux reads these with the property's own length: 64-bit values are fine. */
		TRY(hyp__fdtw_property_u64(fdt, "linux,initrd-start", cfg->initrd_start));
		TRY(hyp__fdtw_property_u64(fdt, "linux,initrd-end", cfg->initrd_end));
	}
	return hyp__fdtw_end_node(fdt);
}

static int write_tree(void *buf, size_t size, const struct fdt_plan *plan, size_t *out_size)
{
	const uint32_t both_off = HYP_FDT_NO_UART | HYP_FDT_NO_RTC;
	char uart_path[NODE_NAME_MAX + 1] = "/";
	struct hyp__fdtw writer, *fdt = &writer;

	TRY(hyp__fdtw_init(fdt, buf, size));
	TRY(hyp__fdtw_begin_node(fdt, ""));
	TRY(add_root_props(fdt));
	TRY(add_psci(fdt));
	TRY(add_memory(fdt, plan->cfg));
	TRY(add_cpus(fdt, plan));
	TRY(add_timer(fdt, plan));
	TRY(add_gic(fdt, plan));
	if ((plan->flags & both_off) != both_off)
		TRY(add_clock(fdt, plan));
	if (!(plan->flags & HYP_FDT_NO_UART))
		TRY(add_uart(fdt, plan, uart_path));
	if (!(plan->flags & HYP_FDT_NO_RTC))
		TRY(add_rtc(fdt, plan));
	TRY(add_virtio(fdt, plan));
	if (plan->flags & HYP_FDT_FLASH)
		TRY(add_flash(fdt, plan));
	TRY(add_chosen(fdt, plan, uart_path));
	TRY(hyp__fdtw_end_node(fdt));
	return hyp__fdtw_finish(fdt, out_size);
}

HYP_API int hyp_fdt_build(const struct hyp_fdt_config *config, void *buf, size_t buf_size,
			  size_t *out_size)
{
	struct hyp_fdt_config cfg;
	struct fdt_plan plan;
	size_t size;
	int r;

	if (!config || !buf || !out_size || ((uintptr_t)buf & 7))
		return -EINVAL;
	r = hyp__copy_sized_config(&cfg, sizeof(cfg),
				   offsetof(struct hyp_fdt_config, initrd_end) +
					   sizeof(cfg.initrd_end),
				   config, config->size);
	if (r)
		return r;
	r = resolve(&cfg, &plan);
	if (r)
		return r;

	if (buf_size > HYP_FDT_MAX_SIZE)
		buf_size = HYP_FDT_MAX_SIZE;
	r = write_tree(buf, buf_size, &plan, &size);
	if (r == -ENOSPC)
		return -ENOSPC;
	/* Any other error would be a bug here: the input was validated above. */
	hyp__assert(r == 0);
	*out_size = size;
	return 0;
}
