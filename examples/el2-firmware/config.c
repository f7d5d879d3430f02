/* SPDX-License-Identifier: MIT */
/*
 * The static partition table: which CPUs, which RAM, which VMID, which guests.
 *
 * Phase 0 runs partitions A and B side by side, two CPUs each: the conformance guests that need
 * at most two vCPUs and no interrupt controller, split between them, plus the hostile guests of
 * tests/el2/guests in both (each attacks the other). Phase 1 gives all four CPUs to partition C
 * for the guests that want four vCPUs (smp, psci-race, gic-routing): vCPUs are pinned one to a CPU
 * (libhyp/el2.h), and a two-CPU partition cannot hold them; then the interrupt guests run there
 * again with native WFI (HYP_EL2_NATIVE_WFI).
 *
 * RAM carve-outs (host physical, never overlapping, each mapped at guest IPA 0x4000_0000):
 *   A 0x4800_0000, B 0x4a00_0000, C 0x4c00_0000: 16 MiB of guest RAM, the partition's private
 *   page, the read-only page (harness.h).
 */
#include "harness.h"

#ifdef FW_BENCH
/* The benchmark build: the exit benchmark on one CPU, then the interrupt benchmark (two vCPUs,
 * for the SGI round trip) on two. The other CPUs are never started; a CPU without a vCPU to run
 * sleeps in WFI, so under -icount only the measured path counts. */
static const struct fw_guest_entry guests_bench[] = {
	{ "bench", 0 }, /* its header asks for the benchmark's device (LHT_F_BENCH) */
	{ NULL, 0 },
};

/* Twice: WFI trapped (the default), then native (HYP_EL2_NATIVE_WFI, its lines say so). */
static const struct fw_guest_entry guests_bench_irq[] = {
	{ "bench-irq", 0 },
	{ "bench-irq", FW_GUEST_NATIVE_WFI },
	{ NULL, 0 },
};

const struct fw_partition_config fw_partitions[] = {
	{
		.name = "bench",
		.phase = 0,
		.nr_cpus = 1,
		.cpus = { 0 },
		.ram_pa = 0x48000000,
		.vmid = 1,
		.guests = guests_bench,
	},
	{
		.name = "bench-irq",
		.phase = 1,
		.nr_cpus = 2,
		.cpus = { 0, 1 },
		.ram_pa = 0x4a000000,
		.vmid = 2,
		.guests = guests_bench_irq,
	},
};
#elif defined(FW_LINUX)
/* firmware-linux.elf: Linux (2 vCPUs) on CPUs 0-1, bare-metal guests beside it on CPUs 2-3: first
 * the inter-partition channel's peer for all of Linux's boots (chan-peer ends when channel.c says
 * Linux has finished; its vCPU 1 storms libhyp with MMIO exits and SGIs during Linux's first
 * boot), then conformance guests; the hostile guest probes the
 * Linux partition's RAM and canary too. */
static const struct fw_guest_entry guests_rt[] = {
	{ "chan-peer", FW_GUEST_CHANNEL },	   { "mmio", 0 }, { "timer", 0 }, { "gic-sgi", 0 },
	{ "hostile-isolation", FW_GUEST_HOSTILE }, { "psci", 0 }, { NULL, 0 },
};

/* The Linux partition's disk: QEMU's virtio-blk-device (tests/el2/run-el2.sh --linux), on the
 * virtio-mmio slot QEMU gives its first virtio device. */
static const struct fw_device devices_linux[] = {
	{
		.name = "disk",
		.pa = FW_VIRTIO_MMIO_BASE + 31 * FW_VIRTIO_MMIO_SLOT_SIZE,
		.size = FW_VIRTIO_MMIO_SLOT_SIZE,
		.intid = FW_VIRTIO_MMIO_INTID0 + 31,
		.flags = FW_DEV_DMA | FW_DEV_VIRTIO_MMIO,
		.virtio_id = 2,
	},
};

/* The benchmark (run-el2.sh --linux --icount): the real-time partition's timer latency, alone
 * and beside Linux (tests/el2/guests/timer-latency.c; linux.c sets the phases). */
static const struct fw_guest_entry guests_rt_bench[] = {
	{ "timer-latency", 0 },
	{ NULL, 0 },
};

const struct fw_partition_config fw_partitions[] = {
	{
		.name = "linux",
		.phase = 0,
		.nr_cpus = 2,
		.cpus = { 0, 1 },
		.ram_pa = FW_LINUX_RAM_BASE,
		.ram_size = FW_LINUX_RAM_SIZE,
		.vmid = 1,
		.kind = FW_PART_LINUX,
		.devices = devices_linux,
		.nr_devices = FW_ARRAY_SIZE(devices_linux),
	},
	{
		.name = "rt",
		.phase = 0,
		.nr_cpus = 2,
		.cpus = { 2, 3 },
		.ram_pa = 0x4a000000,
		.vmid = 2,
		.guests = guests_rt,
		.guests_bench = guests_rt_bench,
	},
};
#else
static const struct fw_guest_entry guests_a[] = {
	{ "mmio", 0 },
	{ "mem-ro", 0 },
	{ "mem-remap", 0 },
	{ "dirty-log", 0 },
	{ "dirty-ring", 0 },
	{ "smccc", 0 },
	{ "psci", 0 },
	{ "ids", 0 },
	{ "kick", 0 },
	{ "hostile-isolation", FW_GUEST_HOSTILE },
	{ "hostile-spin", FW_GUEST_EXPECT_TIMEOUT },
	{ "hostile-sibling-spin", 0 },
	{ "mmio", 0 }, /* again: the CPUs the watchdog took back still run guests */
	{ NULL, 0 },
};

static const struct fw_guest_entry guests_b[] = {
	{ "mmio-nisv", 0 },
	{ "mem-unmapped", 0 },
	{ "psci-reset", 0 },
	{ "smccc", 0 },
	{ "gic-spi", 0 },
	{ "gic-sgi", 0 },
	{ "timer", 0 },
	{ "gic-semantics", 0 },
	{ "gic-sweep", 0 },
	{ "cpu-pmu", 0 }, /* the CPU-feature guests: reported as skipped (harness.c) */
	{ "cpu-sve", 0 },
	{ "cpu-pauth", 0 },
	{ "cpu-mte", 0 },
	{ "hostile-isolation", FW_GUEST_HOSTILE },
	{ "hostile-storm", FW_GUEST_EXPECT_TIMEOUT | FW_GUEST_HOSTILE },
	{ "hostile-traps", FW_GUEST_HOSTILE },
	{ "passthrough-rtc", FW_GUEST_PASSTHROUGH_RTC },
	{ "psci", 0 },
	{ NULL, 0 },
};

/* Then the interrupt guests again with HYP_EL2_NATIVE_WFI: their vCPUs are pinned one to a
 * CPU, and what ends a WFI must now reach the CPU as a physical interrupt. */
static const struct fw_guest_entry guests_c[] = {
	{ "smp", 0 },
	{ "psci-race", 0 },
	{ "gic-routing", 0 },
	{ "gic-routing", FW_GUEST_NATIVE_WFI },
	{ "gic-sgi", FW_GUEST_NATIVE_WFI },
	{ "gic-spi", FW_GUEST_NATIVE_WFI },
	{ "gic-semantics", FW_GUEST_NATIVE_WFI },
	{ "timer", FW_GUEST_NATIVE_WFI },
	/* Native only: QEMU (10.0) reports a trapped WFIT with WFI's syndrome (ISS.TI 0, no
	 * register), so with WFI trapped its timeout is invisible to libhyp and the guest sleeps
	 * until an interrupt. On hardware ISS.TI = 0b10 and hyp__el2_irq_wfi() honours it. */
	{ "wfit", FW_GUEST_NATIVE_WFI },
	{ "kick", FW_GUEST_NATIVE_WFI },
	{ "gic-sweep", FW_GUEST_NATIVE_WFI },
	{ "hostile-traps", FW_GUEST_HOSTILE | FW_GUEST_NATIVE_WFI },
	{ NULL, 0 },
};

const struct fw_partition_config fw_partitions[] = {
	{
		.name = "A",
		.phase = 0,
		.nr_cpus = 2,
		.cpus = { 0, 1 },
		.ram_pa = 0x48000000,
		.vmid = 1,
		.guests = guests_a,
	},
	{
		.name = "B",
		.phase = 0,
		.nr_cpus = 2,
		.cpus = { 2, 3 },
		.ram_pa = 0x4a000000,
		.vmid = 2,
		.guests = guests_b,
		/* The GIC guests with the firmware's handler taking every interrupt (the others:
		 * libhyp takes the kick itself). */
		.firmware_kick = true,
	},
	{
		.name = "C",
		.phase = 1,
		.nr_cpus = 4,
		.cpus = { 0, 1, 2, 3 },
		.ram_pa = 0x4c000000,
		.vmid = 3,
		.guests = guests_c,
	},
};

#endif

const unsigned int fw_nr_partitions = FW_ARRAY_SIZE(fw_partitions);
