// SPDX-License-Identifier: MIT
/*
 * Fuzz lib/dev's virtio-mmio transport with a virtio-console and a virtio-blk behind it, driven
 * by a hostile guest: the input is a program of guest RAM writes (descriptor tables, rings,
 * request headers, any bytes), MMIO register accesses of any offset and width to either device,
 * queue notifications, console input, and a shortcut that performs the driver's initialisation
 * (virtio 1.2 section 3.1.1) with rings where the input puts them, so the fuzzer spends its time
 * on the rings rather than on the handshake.
 *
 * Guest RAM is one heap block of exactly its size, so AddressSanitizer reports any access the
 * device makes outside it; a read-only page ("ROM") must never change. The disk is the caller's
 * (struct hyp_blk_ops), and its methods check what include/libhyp/dev.h promises: the range is
 * inside the disk, the buffer is guest memory, and nothing is written to a read-only disk. Every
 * MMIO access must be answered by the device (the run consumes the script without an exit), and
 * every transmitted chunk is non-empty.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-input.h"

#include <libhyp/dev.h>
#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM 0x40000000ull
#define RAM_SIZE 0x10000u
#define ROM 0x40010000ull /* right after RAM */
#define DISK_SIZE (8 * 512 + 100)

/* Register offsets (virtio 1.2, 4.2.2), the ones the initialisation shortcut uses. */
#define R_DEVICE_FEATURES_SEL 0x014
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INTERRUPT_ACK 0x064
#define R_STATUS 0x070
#define R_QUEUE_DESC_LOW 0x080
#define R_QUEUE_DRIVER_LOW 0x090
#define R_QUEUE_DEVICE_LOW 0x0a0

static const uint16_t reg_offsets[] = { 0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024,
					0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
					0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0,
					0x0b4, 0x0fc, 0x100, 0x108, 0x110, 0x114, 0x120, 0x13c };

struct world {
	uint8_t *ram;
	uint8_t *rom;
	uint8_t disk[DISK_SIZE];
	bool read_only;
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	struct hyp_virtio_console *con;
	struct hyp_virtio_blk *blk;
	size_t tx_bytes;
};

static struct world w;

static void check_guest_buf(const void *buf, size_t len)
{
	const uint8_t *b = buf;

	FUZZ_CHECK(b >= w.ram && b + len <= w.ram + RAM_SIZE, "disk I/O buffer is not guest RAM");
}

static int disk_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	(void)opaque;
	FUZZ_CHECK(offset <= DISK_SIZE && len <= DISK_SIZE - offset, "read %#llx+%zu past the disk",
		   (unsigned long long)offset, len);
	check_guest_buf(buf, len);
	memcpy(buf, w.disk + offset, len);
	return 0;
}

static int disk_write(void *opaque, uint64_t offset, const void *buf, size_t len)
{
	(void)opaque;
	FUZZ_CHECK(!w.read_only, "write to a read-only disk");
	FUZZ_CHECK(offset <= DISK_SIZE && len <= DISK_SIZE - offset,
		   "write %#llx+%zu past the disk", (unsigned long long)offset, len);
	check_guest_buf(buf, len);
	memcpy(w.disk + offset, buf, len);
	return 0;
}

static int disk_flush(void *opaque)
{
	(void)opaque;
	return 0;
}

static const struct hyp_blk_ops disk_ops = { disk_read, disk_write, disk_flush };

static void tx(void *opaque, const void *bytes, size_t len)
{
	(void)opaque;
	(void)bytes;
	FUZZ_CHECK(len > 0, "empty transmit");
	w.tx_bytes += len;
}

static void mmio(int dev, uint32_t offset, uint32_t len, bool write, uint64_t value)
{
	uint32_t flags = (write ? HYP_MOCK_MMIO_WRITE : 0) | (len == 8 ? HYP_MOCK_MMIO_REG64 : 0);
	int r;

	FUZZ_CHECK(hyp_vcpu_set_reg(w.vcpu, HYP_REG_X0 + 1, value) == 0, "set_reg");
	FUZZ_CHECK(hyp_mock_push_mmio(w.vcpu, HYP_VIRTIO_MMIO_SLOT_BASE(dev) + offset, len, 1,
				      flags) == 0,
		   "push");
	r = hyp_vcpu_run(w.vcpu);
	/* The device answers every access in its window: the guest never traps to the VMM. */
	FUZZ_CHECK(r == -ENODATA, "MMIO %s dev %d offset %#x len %u: run %d (reason %u)",
		   write ? "write" : "read", dev, offset, len, r, hyp_vcpu_exit(w.vcpu)->reason);
}

static void wr32(int dev, uint32_t offset, uint32_t v)
{
	mmio(dev, offset, 4, true, v);
}

static uint64_t gen_ipa(struct fuzz_in *in)
{
	uint16_t v = fuzz_u16(in);

	/* Mostly inside RAM, sometimes in the ROM, past it, or anywhere. */
	if (v < 0xf000)
		return RAM + (v % RAM_SIZE);
	if (v < 0xf800)
		return ROM + (v & 0xfff);
	return fuzz_u64(in);
}

static void driver_init(int dev, struct fuzz_in *in)
{
	uint8_t f = fuzz_u8(in);

	wr32(dev, R_STATUS, 0);
	wr32(dev, R_STATUS, 1);
	wr32(dev, R_STATUS, 3);
	wr32(dev, R_DRIVER_FEATURES_SEL, 1);
	wr32(dev, R_DRIVER_FEATURES, 1 | ((f & 1) ? fuzz_u32(in) & ~1u : 0)); /* VERSION_1 */
	wr32(dev, R_DRIVER_FEATURES_SEL, 0);
	/* INDIRECT_DESC, EVENT_IDX, and the device bits, as the input says. */
	wr32(dev, R_DRIVER_FEATURES, (f & 2) ? fuzz_u32(in) : (uint32_t)(f & 0x0c) << 26 | 0x204);
	wr32(dev, R_STATUS, 0xb);
	for (uint32_t q = 0; q < 2; q++) {
		uint64_t d = gen_ipa(in), a = gen_ipa(in), u = gen_ipa(in);

		wr32(dev, R_QUEUE_SEL, q);
		wr32(dev, R_QUEUE_NUM, (f & 0x10) ? fuzz_u16(in) : 1u << (fuzz_u8(in) % 9));
		wr32(dev, R_QUEUE_DESC_LOW, (uint32_t)d);
		wr32(dev, R_QUEUE_DESC_LOW + 4, (uint32_t)(d >> 32));
		wr32(dev, R_QUEUE_DRIVER_LOW, (uint32_t)a);
		wr32(dev, R_QUEUE_DRIVER_LOW + 4, (uint32_t)(a >> 32));
		wr32(dev, R_QUEUE_DEVICE_LOW, (uint32_t)u);
		wr32(dev, R_QUEUE_DEVICE_LOW + 4, (uint32_t)(u >> 32));
		wr32(dev, R_QUEUE_READY, 1);
	}
	wr32(dev, R_STATUS, 0xf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hyp_vm_config vcfg = { .size = sizeof(vcfg), .backend = "mock" };
	struct hyp_virtio_console_config ccfg = {
		.size = sizeof(ccfg),
		.base = HYP_VIRTIO_MMIO_SLOT_BASE(0),
		.intid = HYP_VIRTIO_MMIO_SLOT_INTID(0),
		.tx_fn = tx,
	};
	struct hyp_virtio_blk_config bcfg = {
		.size = sizeof(bcfg),
		.base = HYP_VIRTIO_MMIO_SLOT_BASE(1),
		.intid = HYP_VIRTIO_MMIO_SLOT_INTID(1),
		.ops = &disk_ops,
		.disk_size = DISK_SIZE,
		.serial = "fuzz-disk",
	};
	struct fuzz_in in = { data, size };
	uint8_t shape = fuzz_u8(&in);
	int steps = 0;

	if (!w.ram) {
		w.ram = aligned_alloc(4096, RAM_SIZE);
		w.rom = aligned_alloc(4096, 4096);
		FUZZ_CHECK(w.ram && w.rom, "out of memory");
		memset(w.rom, 0x5a, 4096);
	}
	memset(w.ram, 0, RAM_SIZE);
	for (size_t i = 0; i < DISK_SIZE; i++)
		w.disk[i] = (uint8_t)(i * 7 + i / 512);
	w.read_only = shape & 1;
	w.tx_bytes = 0;
	bcfg.flags = w.read_only ? HYP_DEV_READ_ONLY : 0;
	FUZZ_CHECK(hyp_vm_create(&vcfg, &w.vm) == 0, "hyp_vm_create");
	FUZZ_CHECK(!hyp_vm_map(w.vm, RAM, w.ram, RAM_SIZE, HYP_MEM_RWX) &&
			   !hyp_vm_map(w.vm, ROM, w.rom, 4096, HYP_MEM_RO),
		   "map");
	FUZZ_CHECK(hyp_vcpu_create(w.vm, NULL, &w.vcpu) == 0, "vcpu");
	FUZZ_CHECK(hyp_vcpu_set_reg(w.vcpu, HYP_REG_PC, RAM) == 0, "pc");
	FUZZ_CHECK(hyp_virtio_console_create(w.vm, &ccfg, &w.con) == 0, "console");
	FUZZ_CHECK(hyp_virtio_blk_create(w.vm, &bcfg, &w.blk) == 0, "blk");

	while (!fuzz_done(&in) && steps++ < 256) {
		uint8_t op = fuzz_u8(&in);
		int dev = (op >> 7) & 1;

		switch (op & 7) {
		case 0:
		case 1: { /* guest writes RAM: descriptors, rings, headers... */
			uint16_t at = fuzz_u16(&in) % RAM_SIZE;
			unsigned int n = 1 + fuzz_u8(&in) % 32;

			for (unsigned int i = 0; i < n && at + i < RAM_SIZE; i++)
				w.ram[at + i] = fuzz_u8(&in);
			break;
		}
		case 2: { /* any register access */
			static const uint8_t lens[4] = { 4, 1, 2, 8 };
			uint8_t s = fuzz_u8(&in);
			uint32_t off = (s & 0x80) ? fuzz_u16(&in) % 0x200 :
						    reg_offsets[s % (sizeof(reg_offsets) / 2)];
			uint32_t len = lens[(op >> 3) & 3];

			mmio(dev, off, len, op & 0x20, (op & 0x40) ? fuzz_u64(&in) : fuzz_u32(&in));
			break;
		}
		case 3:
			driver_init(dev, &in);
			break;
		case 4:
		case 5: /* kick a queue, then the interrupt handler's acknowledge */
			wr32(dev, R_QUEUE_NOTIFY, (op & 0x08) ? fuzz_u16(&in) : (op >> 4) & 1);
			if (op & 0x40)
				wr32(dev, R_INTERRUPT_ACK, 3);
			break;
		case 6: { /* console input from the host */
			uint8_t buf[64];
			size_t n = fuzz_u8(&in) % sizeof(buf);
			int r;

			for (size_t i = 0; i < n; i++)
				buf[i] = fuzz_u8(&in);
			r = hyp_virtio_console_receive(w.con, buf, n);
			FUZZ_CHECK(r >= 0 && (size_t)r <= n, "receive: %d of %zu", r, n);
			break;
		}
		default: { /* a reset in the middle of everything */
			wr32(dev, R_STATUS, 0);
			break;
		}
		}
	}
	hyp_virtio_console_destroy(w.con);
	hyp_virtio_blk_destroy(w.blk);
	hyp_vm_destroy(w.vm);
	for (int i = 0; i < 4096; i++)
		FUZZ_CHECK(w.rom[i] == 0x5a, "ROM byte %d changed", i);
	return 0;
}
