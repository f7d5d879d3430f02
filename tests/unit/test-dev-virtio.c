/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio (version 2) with the console and block devices, driven on the mock backend like
 * Linux's virtio_mmio + virtio_console / virtio_blk drivers drive them: real split virtqueues
 * built in guest RAM (descriptor table, available and used rings), the status and feature
 * handshake, notifications, the used ring and the interrupt line. Then the guest turns hostile:
 * descriptor loops, chains longer than the queue, buffers outside RAM or wrapping, bad queue
 * sizes and rings, requests beyond the disk, writes to a read-only disk, short headers. Each case
 * checks the virtio answer and that guest memory outside the intended buffers did not change.
 * References: virtio 1.2, sections 2.1 (status), 2.7 (split virtqueues), 4.2 (MMIO), 5.2 (block),
 * 5.3 (console).
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test-helpers.h"

#define VBASE HYP_VIRTIO_MMIO_SLOT_BASE(3)
#define VINTID HYP_VIRTIO_MMIO_SLOT_INTID(3)

/* Registers (4.2.2). */
#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define VENDOR_ID 0x00c
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC_LOW 0x080
#define QUEUE_DESC_HIGH 0x084
#define QUEUE_DRIVER_LOW 0x090
#define QUEUE_DRIVER_HIGH 0x094
#define QUEUE_DEVICE_LOW 0x0a0
#define QUEUE_DEVICE_HIGH 0x0a4
#define SHM_SEL 0x0ac
#define SHM_LEN_LOW 0x0b0
#define SHM_LEN_HIGH 0x0b4
#define CONFIG_GENERATION 0x0fc
#define CONFIG 0x100

#define S_ACKNOWLEDGE 0x01u
#define S_DRIVER 0x02u
#define S_DRIVER_OK 0x04u
#define S_FEATURES_OK 0x08u
#define S_NEEDS_RESET 0x40u

#define F_INDIRECT_DESC (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)
#define F_CONSOLE_EMERG_WRITE (1ull << 2)
#define F_BLK_SEG_MAX (1ull << 2)
#define F_BLK_RO (1ull << 5)
#define F_BLK_FLUSH (1ull << 9)

#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u

#define BLK_T_IN 0u
#define BLK_T_OUT 1u
#define BLK_T_FLUSH 4u
#define BLK_T_GET_ID 8u
#define BLK_T_DISCARD 11u
#define BLK_S_OK 0u
#define BLK_S_IOERR 1u
#define BLK_S_UNSUPP 2u

/* Guest memory layout. */
#define RINGS (TEST_RAM_BASE + 0x10000)
#define RING_STRIDE 0x8000u
#define INDIRECT (TEST_RAM_BASE + 0x30000)
#define HDR (TEST_RAM_BASE + 0x38000)
#define STATUS_BYTE (TEST_RAM_BASE + 0x38100)
#define DATA (TEST_RAM_BASE + 0x40000)
#define UNMAPPED 0x1000ull
/* A read-only page (a "ROM") and a region adjacent to the end of RAM. */
#define ROM (0x50000000ull)
#define EXTRA (TEST_RAM_BASE + TEST_RAM_SIZE)
#define EXTRA_SIZE 0x10000u

#define DISK_SECTORS 128u
#define DISK_TAIL 100u /* bytes after the last whole sector: not visible */

struct vq {
	uint64_t desc, avail, used;
	uint16_t num;
	uint16_t avail_idx;
};

struct drv {
	struct test_vm t;
	void *rom;
	void *extra;
	struct vq vq[2];
	bool event_idx; /* negotiated: the device also writes avail_event after the used ring */

	/* console */
	struct hyp_virtio_console *con;
	char out[65536];
	size_t out_len;
	unsigned rx_ready;

	/* block */
	struct hyp_virtio_blk *blk;
	bool io_thread; /* HYP_DEV_IO_THREAD: requests complete on the device's thread */
	char path[64];
	int fd;
};

/* ---- Guest side: MMIO and memory ------------------------------------------------------------- */

static void mmio_wr(struct drv *d, uint64_t offset, uint32_t len, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(d->t.vcpu, HYP_REG_X(1), value), 0);
	assert_int_equal(hyp_mock_push_mmio(d->t.vcpu, VBASE + offset, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(d->t.vcpu);
}

static uint64_t mmio_rd(struct drv *d, uint64_t offset, uint32_t len)
{
	assert_int_equal(hyp_vcpu_set_reg(d->t.vcpu, HYP_REG_X(2), 0xdeadbeefdeadbeefull), 0);
	assert_int_equal(hyp_mock_push_mmio(d->t.vcpu, VBASE + offset, len, 2,
					    len == 8 ? HYP_MOCK_MMIO_REG64 : 0),
			 0);
	test_run_to_end(d->t.vcpu);
	return test_reg(d->t.vcpu, HYP_REG_X(2));
}

static void wr32(struct drv *d, uint64_t offset, uint32_t value)
{
	mmio_wr(d, offset, 4, value);
}

static uint32_t rd32(struct drv *d, uint64_t offset)
{
	return (uint32_t)mmio_rd(d, offset, 4);
}

static uint8_t *gpa(struct drv *d, uint64_t ipa, uint64_t len)
{
	assert_true(ipa >= TEST_RAM_BASE && ipa + len <= TEST_RAM_BASE + TEST_RAM_SIZE);
	return (uint8_t *)d->t.ram + (ipa - TEST_RAM_BASE);
}

static void put16(struct drv *d, uint64_t ipa, uint16_t v)
{
	uint8_t *p = gpa(d, ipa, 2);

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(struct drv *d, uint64_t ipa, uint32_t v)
{
	put16(d, ipa, (uint16_t)v);
	put16(d, ipa + 2, (uint16_t)(v >> 16));
}

static void put64(struct drv *d, uint64_t ipa, uint64_t v)
{
	put32(d, ipa, (uint32_t)v);
	put32(d, ipa + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(struct drv *d, uint64_t ipa)
{
	uint8_t *p = gpa(d, ipa, 2);

	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(struct drv *d, uint64_t ipa)
{
	return get16(d, ipa) | (uint32_t)get16(d, ipa + 2) << 16;
}

static int spi(struct drv *d)
{
	return hyp_mock_irq_level(d->t.vm, NULL, VINTID);
}

/* Snapshot all of RAM, to prove later that only the intended bytes changed. */
static uint8_t *snapshot(struct drv *d)
{
	uint8_t *s = malloc(TEST_RAM_SIZE);

	assert_non_null(s);
	memcpy(s, d->t.ram, TEST_RAM_SIZE);
	return s;
}

/* Compare RAM with @snap, ignoring the used ring of queue @q and up to two more ranges (len 0
 * for none). Frees @snap. */
static void assert_ram_unchanged_except(struct drv *d, uint8_t *snap, unsigned q, uint64_t a,
					uint64_t alen, uint64_t b, uint64_t blen)
{
	const uint8_t *now = d->t.ram;
	uint64_t used = d->vq[q].used, used_len = 4 + 8ull * d->vq[q].num + (d->event_idx ? 2 : 0);

	for (uint64_t i = 0; i < TEST_RAM_SIZE; i++) {
		uint64_t ipa = TEST_RAM_BASE + i;

		if ((ipa >= used && ipa < used + used_len) || (ipa >= a && ipa < a + alen) ||
		    (ipa >= b && ipa < b + blen))
			continue;
		if (now[i] != snap[i])
			fail_msg("guest RAM changed at %#llx", (unsigned long long)ipa);
	}
	free(snap);
}

/* ---- Guest side: a virtio driver ------------------------------------------------------------- */

static void desc(struct drv *d, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint64_t at = table + 16ull * i;

	put64(d, at, addr);
	put32(d, at + 8, len);
	put16(d, at + 12, flags);
	put16(d, at + 14, next);
}

static void avail_add(struct drv *d, unsigned q, uint16_t head)
{
	struct vq *vq = &d->vq[q];

	put16(d, vq->avail + 4 + 2ull * (vq->avail_idx % vq->num), head);
	vq->avail_idx++;
	__atomic_store_n((uint16_t *)gpa(d, vq->avail + 2, 2), vq->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct drv *d, unsigned q)
{
	return __atomic_load_n((uint16_t *)gpa(d, d->vq[q].used + 2, 2), __ATOMIC_ACQUIRE);
}

/* Wait (10 s at most) until the device has used @idx buffers of queue @q: requests complete on
 * the device's I/O thread with HYP_DEV_IO_THREAD. The interrupt is raised under the device lock
 * after the used ring is written, so the next register access sees it settled. */
static void wait_used(struct drv *d, unsigned q, uint16_t idx)
{
	for (unsigned i = 0; i < 10000 && used_idx(d, q) != idx; i++)
		usleep(1000);
	assert_int_equal(used_idx(d, q), idx);
}

static void used_elem(struct drv *d, unsigned q, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t at = d->vq[q].used + 4 + 8ull * (i % d->vq[q].num);

	*id = get32(d, at);
	*len = get32(d, at + 4);
}

static uint64_t device_features(struct drv *d)
{
	wr32(d, DEVICE_FEATURES_SEL, 1);
	uint64_t f = (uint64_t)rd32(d, DEVICE_FEATURES) << 32;
	wr32(d, DEVICE_FEATURES_SEL, 0);
	return f | rd32(d, DEVICE_FEATURES);
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (3.1.1). Returns whether it was accepted. */
static bool negotiate(struct drv *d, uint64_t features)
{
	wr32(d, STATUS, 0);
	assert_int_equal(rd32(d, STATUS), 0);
	wr32(d, STATUS, S_ACKNOWLEDGE);
	wr32(d, STATUS, S_ACKNOWLEDGE | S_DRIVER);
	wr32(d, DRIVER_FEATURES_SEL, 1);
	wr32(d, DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr32(d, DRIVER_FEATURES_SEL, 0);
	wr32(d, DRIVER_FEATURES, (uint32_t)features);
	wr32(d, STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	d->event_idx = features & F_EVENT_IDX;
	return rd32(d, STATUS) & S_FEATURES_OK;
}

static void queue_layout(struct drv *d, unsigned q, uint16_t num)
{
	struct vq *vq = &d->vq[q];

	vq->desc = RINGS + RING_STRIDE * q;
	vq->avail = vq->desc + 0x1000;
	vq->used = vq->desc + 0x2000;
	vq->num = num;
	vq->avail_idx = 0;
	memset(gpa(d, vq->desc, RING_STRIDE), 0, RING_STRIDE);
}

/* vm_setup_vq: select, check it is free, size it, give the rings, enable. */
static void queue_program(struct drv *d, unsigned q, uint32_t num, uint64_t desc, uint64_t avail,
			  uint64_t used)
{
	wr32(d, QUEUE_SEL, q);
	assert_int_equal(rd32(d, QUEUE_READY), 0);
	assert_int_equal(rd32(d, QUEUE_NUM_MAX), 256);
	wr32(d, QUEUE_NUM, num);
	wr32(d, QUEUE_DESC_LOW, (uint32_t)desc);
	wr32(d, QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr32(d, QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr32(d, QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr32(d, QUEUE_DEVICE_LOW, (uint32_t)used);
	wr32(d, QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	wr32(d, QUEUE_READY, 1);
}

static void queue_setup(struct drv *d, unsigned q, uint16_t num)
{
	queue_layout(d, q, num);
	queue_program(d, q, num, d->vq[q].desc, d->vq[q].avail, d->vq[q].used);
	assert_int_equal(rd32(d, QUEUE_READY), 1);
}

static void driver_ok(struct drv *d)
{
	wr32(d, STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void init_device(struct drv *d, unsigned queues, uint16_t num)
{
	assert_true(negotiate(d, F_VERSION_1 | F_INDIRECT_DESC));
	for (unsigned q = 0; q < queues; q++)
		queue_setup(d, q, num);
	driver_ok(d);
	assert_int_equal(rd32(d, STATUS), S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void notify(struct drv *d, unsigned q)
{
	wr32(d, QUEUE_NOTIFY, q);
}

static bool needs_reset(struct drv *d)
{
	return rd32(d, STATUS) & S_NEEDS_RESET;
}

/* The interrupt handler: read, acknowledge. */
static uint32_t ack(struct drv *d)
{
	uint32_t isr = rd32(d, INTERRUPT_STATUS);

	wr32(d, INTERRUPT_ACK, isr);
	assert_int_equal(spi(d), 0);
	return isr;
}

/* ---- Fixtures -------------------------------------------------------------------------------- */

static void vm_setup(struct drv *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	test_vm_create(&d->t);
	d->rom = aligned_alloc(HYP_PAGE_SIZE, HYP_PAGE_SIZE);
	d->extra = aligned_alloc(HYP_PAGE_SIZE, EXTRA_SIZE);
	assert_non_null(d->rom);
	assert_non_null(d->extra);
	memset(d->rom, 0x5a, HYP_PAGE_SIZE);
	memset(d->extra, 0, EXTRA_SIZE);
	assert_int_equal(hyp_vm_map(d->t.vm, ROM, d->rom, HYP_PAGE_SIZE, HYP_MEM_RO), 0);
	assert_int_equal(hyp_vm_map(d->t.vm, EXTRA, d->extra, EXTRA_SIZE, HYP_MEM_RWX), 0);
}

static void vm_teardown(struct drv *d)
{
	hyp_virtio_console_destroy(d->con);
	hyp_virtio_blk_destroy(d->blk);
	test_vm_destroy(&d->t);
	free(d->rom);
	free(d->extra);
	if (d->fd >= 0) {
		close(d->fd);
		unlink(d->path);
	}
	free(d);
}

static void out_tx(void *opaque, const void *bytes, size_t len)
{
	struct drv *d = opaque;

	assert_true(d->out_len + len <= sizeof(d->out));
	memcpy(d->out + d->out_len, bytes, len);
	d->out_len += len;
}

static void out_rx_ready(void *opaque)
{
	((struct drv *)opaque)->rx_ready++;
}

static struct drv *console_fixture(void)
{
	struct drv *d = malloc(sizeof(*d));
	struct hyp_virtio_console_config cfg = {
		.size = sizeof(cfg),
		.base = VBASE,
		.intid = VINTID,
		.tx_fn = out_tx,
		.rx_ready_fn = out_rx_ready,
	};

	assert_non_null(d);
	vm_setup(d);
	cfg.tx_opaque = cfg.rx_ready_opaque = d;
	assert_int_equal(hyp_virtio_console_create(d->t.vm, &cfg, &d->con), 0);
	return d;
}

static uint8_t disk_byte(uint64_t offset)
{
	return (uint8_t)(offset * 7 + offset / 512);
}

/* A disk image of DISK_SECTORS sectors plus a partial one, with a known pattern. */
static void make_image(struct drv *d)
{
	uint8_t buf[DISK_SECTORS * 512 + DISK_TAIL];

	for (uint64_t i = 0; i < sizeof(buf); i++)
		buf[i] = disk_byte(i);
	strcpy(d->path, "/tmp/libhyp-test-blk-XXXXXX");
	d->fd = mkstemp(d->path);
	assert_true(d->fd >= 0);
	assert_int_equal(write(d->fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
}

static struct drv *blk_fixture(uint32_t flags)
{
	struct drv *d = malloc(sizeof(*d));
	struct hyp_virtio_blk_config cfg = {
		.size = sizeof(cfg),
		.base = VBASE,
		.intid = VINTID,
		.flags = flags,
		.serial = "libhyp-disk-0",
	};

	assert_non_null(d);
	vm_setup(d);
	make_image(d);
	cfg.path = d->path;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	d->io_thread = (flags & HYP_DEV_IO_THREAD) != 0;
	return d;
}

static void assert_disk_matches_pattern(struct drv *d, uint64_t except, uint64_t except_len)
{
	uint8_t buf[DISK_SECTORS * 512];

	assert_int_equal(pread(d->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	for (uint64_t i = 0; i < sizeof(buf); i++)
		if ((i < except || i >= except + except_len) && buf[i] != disk_byte(i))
			fail_msg("disk byte %llu changed", (unsigned long long)i);
}

/* ---- Transport ------------------------------------------------------------------------------- */

static void test_probe(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	assert_int_equal(rd32(d, MAGIC), 0x74726976);
	assert_int_equal(rd32(d, VERSION), 2);
	assert_int_equal(rd32(d, DEVICE_ID), 3);
	assert_int_equal(rd32(d, VENDOR_ID), 0x5059484c);
	assert_int_equal(device_features(d),
			 F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX | F_CONSOLE_EMERG_WRITE);
	wr32(d, DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd32(d, DEVICE_FEATURES), 0);
	assert_int_equal(rd32(d, STATUS), 0);
	assert_int_equal(rd32(d, CONFIG_GENERATION), 0);
	/* Two queues of up to 256 entries; QueueNumMax 0 says there is no third. */
	for (unsigned q = 0; q < 3; q++) {
		wr32(d, QUEUE_SEL, q);
		assert_int_equal(rd32(d, QUEUE_NUM_MAX), q < 2 ? 256 : 0);
		assert_int_equal(rd32(d, QUEUE_READY), 0);
	}
	/* No shared memory regions: length -1. */
	wr32(d, SHM_SEL, 0);
	assert_int_equal(rd32(d, SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd32(d, SHM_LEN_HIGH), 0xffffffffu);
	/* Registers are 32-bit only: other widths read zero and write nothing. */
	assert_int_equal(mmio_rd(d, MAGIC, 2), 0);
	assert_int_equal(mmio_rd(d, MAGIC, 1), 0);
	assert_int_equal(mmio_rd(d, MAGIC, 8), 0);
	assert_int_equal(mmio_rd(d, MAGIC + 2, 4), 0);
	mmio_wr(d, STATUS, 1, S_ACKNOWLEDGE);
	mmio_wr(d, STATUS, 8, S_ACKNOWLEDGE);
	assert_int_equal(rd32(d, STATUS), 0);
	/* Write-only registers read zero. */
	assert_int_equal(rd32(d, QUEUE_NOTIFY), 0);
	assert_int_equal(rd32(d, INTERRUPT_ACK), 0);
	/* The console's configuration space: 12 bytes of zeros; beyond it zeros too. */
	assert_int_equal(mmio_rd(d, CONFIG, 4), 0);
	assert_int_equal(mmio_rd(d, CONFIG + 8, 4), 0);
	assert_int_equal(mmio_rd(d, CONFIG + 12, 4), 0);
	assert_int_equal(mmio_rd(d, 0x1fc, 4), 0);
	assert_int_equal(spi(d), 0);
	vm_teardown(d);
}

static void test_feature_negotiation_and_reset(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	/* A legacy driver (no VERSION_1) is refused: FEATURES_OK does not stick. */
	assert_false(negotiate(d, F_INDIRECT_DESC));
	/* So is a driver asking for what was not offered. */
	assert_false(negotiate(d, F_VERSION_1 | (1ull << 40)));
	assert_true(negotiate(d, F_VERSION_1));
	/* Once FEATURES_OK is set, the features are frozen. */
	wr32(d, DRIVER_FEATURES_SEL, 0);
	wr32(d, DRIVER_FEATURES, (uint32_t)F_INDIRECT_DESC);
	/* The driver cannot clear status bits, nor set DEVICE_NEEDS_RESET. */
	wr32(d, STATUS, S_ACKNOWLEDGE);
	assert_int_equal(rd32(d, STATUS), S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	wr32(d, STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_NEEDS_RESET);
	assert_int_equal(rd32(d, STATUS), S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	queue_setup(d, 0, 8);
	driver_ok(d);
	/* Writing 0 resets everything: status, queues. */
	wr32(d, STATUS, 0);
	assert_int_equal(rd32(d, STATUS), 0);
	wr32(d, QUEUE_SEL, 0);
	assert_int_equal(rd32(d, QUEUE_READY), 0);
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 0);
	/* Without DRIVER_OK nothing is served: a notify does not consume the buffer. */
	assert_true(negotiate(d, F_VERSION_1));
	queue_setup(d, 1, 8);
	desc(d, d->vq[1].desc, 0, DATA, 3, 0, 0);
	memcpy(gpa(d, DATA, 3), "pre", 3);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 0);
	assert_int_equal(d->out_len, 0);
	/* DRIVER_OK serves what was made available before it. */
	driver_ok(d);
	assert_int_equal(used_idx(d, 1), 1);
	assert_int_equal(d->out_len, 3);
	assert_memory_equal(d->out, "pre", 3);
	vm_teardown(d);
}

static void test_queue_config_frozen_while_ready(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	init_device(d, 2, 8);
	wr32(d, QUEUE_SEL, 1);
	wr32(d, QUEUE_NUM, 3);
	wr32(d, QUEUE_DESC_LOW, UNMAPPED);
	/* Still working with the original rings. */
	desc(d, d->vq[1].desc, 0, DATA, 2, 0, 0);
	memcpy(gpa(d, DATA, 2), "ok", 2);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 1);
	assert_memory_equal(d->out, "ok", 2);
	/* QueueReady = 0 disables the queue: notifications are ignored. */
	wr32(d, QUEUE_READY, 0);
	assert_int_equal(rd32(d, QUEUE_READY), 0);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 1);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

/* ---- Console --------------------------------------------------------------------------------- */

static void test_console_transmit(void **state)
{
	struct drv *d = console_fixture();
	uint32_t id, len;

	(void)state;
	init_device(d, 2, 16);
	/* Two chained buffers, then one through an indirect table of three. */
	memcpy(gpa(d, DATA, 6), "hello ", 6);
	memcpy(gpa(d, DATA + 0x100, 6), "world\n", 6);
	desc(d, d->vq[1].desc, 4, DATA, 6, D_NEXT, 9);
	desc(d, d->vq[1].desc, 9, DATA + 0x100, 6, 0, 0);
	avail_add(d, 1, 4);
	memcpy(gpa(d, DATA + 0x200, 9), "indirect!", 9);
	desc(d, INDIRECT, 0, DATA + 0x200, 2, D_NEXT, 2);
	desc(d, INDIRECT, 2, DATA + 0x202, 0, D_NEXT, 1); /* zero-length: nothing */
	desc(d, INDIRECT, 1, DATA + 0x202, 7, 0, 0);
	desc(d, d->vq[1].desc, 5, INDIRECT, 3 * 16, D_INDIRECT, 0);
	avail_add(d, 1, 5);
	assert_int_equal(spi(d), 0);
	notify(d, 1);
	assert_int_equal(d->out_len, 21);
	assert_memory_equal(d->out, "hello world\nindirect!", 21);
	assert_int_equal(used_idx(d, 1), 2);
	used_elem(d, 1, 0, &id, &len);
	assert_int_equal(id, 4);
	assert_int_equal(len, 0);
	used_elem(d, 1, 1, &id, &len);
	assert_int_equal(id, 5);
	assert_int_equal(len, 0);
	/* One used-buffer interrupt for the batch; level until acknowledged. */
	assert_int_equal(spi(d), 1);
	assert_int_equal(hyp_mock_irq_count(d->t.vm, NULL, VINTID), 1);
	assert_int_equal(ack(d), 1);
	/* The driver can suppress the interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT). */
	put16(d, d->vq[1].avail, 1);
	avail_add(d, 1, 9);
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 3);
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 0);
	assert_int_equal(spi(d), 0);
	vm_teardown(d);
}

/* InterruptACK clears only what the driver read from InterruptStatus: on kvm the write may
 * arrive late (hyp_vm_defer_mmio_writes()), after the device raised the event again, and that
 * event must still interrupt (its own edge) and still show. */
static void test_late_acknowledgement(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	init_device(d, 2, 16);
	memcpy(gpa(d, DATA, 3), "one", 3);
	desc(d, d->vq[1].desc, 0, DATA, 3, 0, 0);
	desc(d, d->vq[1].desc, 1, DATA, 3, 0, 0);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_int_equal(spi(d), 1);
	assert_int_equal(hyp_mock_irq_count(d->t.vm, NULL, VINTID), 1);
	/* An acknowledgement of an event the driver never read clears nothing. */
	wr32(d, INTERRUPT_ACK, 1);
	assert_int_equal(spi(d), 1);
	/* The driver's handler reads the status... */
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 1);
	/* ...the device uses another buffer before the acknowledgement lands: a new edge... */
	avail_add(d, 1, 1);
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 2);
	assert_int_equal(hyp_mock_irq_count(d->t.vm, NULL, VINTID), 2);
	assert_int_equal(spi(d), 1);
	/* ...and the late acknowledgement leaves the new event pending. */
	wr32(d, INTERRUPT_ACK, 1);
	assert_int_equal(spi(d), 1);
	assert_int_equal(ack(d), 1);
	assert_int_equal(hyp_mock_irq_count(d->t.vm, NULL, VINTID), 2);
	vm_teardown(d);
}

static void test_console_receive(void **state)
{
	struct drv *d = console_fixture();
	static char big[5000];
	uint32_t id, len;

	(void)state;
	/* Input before the driver is up is held. */
	assert_int_equal(hyp_virtio_console_receive(d->con, "abc", 3), 3);
	init_device(d, 2, 8);
	/* The driver posts two 2-byte receive buffers. */
	desc(d, d->vq[0].desc, 0, DATA, 2, D_WRITE, 0);
	desc(d, d->vq[0].desc, 1, DATA + 0x10, 2, D_WRITE, 0);
	avail_add(d, 0, 0);
	avail_add(d, 0, 1);
	notify(d, 0);
	assert_int_equal(used_idx(d, 0), 2);
	used_elem(d, 0, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 2);
	used_elem(d, 0, 1, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 1);
	assert_memory_equal(gpa(d, DATA, 2), "ab", 2);
	assert_memory_equal(gpa(d, DATA + 0x10, 1), "c", 1);
	assert_int_equal(ack(d), 1);
	/* A buffer already posted is filled at once by the next input. */
	desc(d, d->vq[0].desc, 2, DATA + 0x20, 16, D_WRITE, 0);
	avail_add(d, 0, 2);
	notify(d, 0);
	assert_int_equal(used_idx(d, 0), 2);
	assert_int_equal(hyp_virtio_console_receive(d->con, "xyz", 3), 3);
	assert_int_equal(used_idx(d, 0), 3);
	assert_memory_equal(gpa(d, DATA + 0x20, 3), "xyz", 3);
	assert_int_equal(spi(d), 1);
	ack(d);
	/* With no buffers, the 4 KiB hold fills and the rest is refused... */
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(hyp_virtio_console_receive(d->con, big, sizeof(big)), 4096);
	assert_int_equal(hyp_virtio_console_receive(d->con, "!", 1), 0);
	assert_int_equal(d->rx_ready, 0);
	/* ...until the guest posts buffers: the VMM hears about it. A buffer split over two
	 * descriptors (and through the RAM region boundary) is one stream. */
	desc(d, d->vq[0].desc, 3, EXTRA - 1000, 1000, D_WRITE | D_NEXT, 4);
	desc(d, d->vq[0].desc, 4, EXTRA, 3000, D_WRITE, 0);
	avail_add(d, 0, 3);
	notify(d, 0);
	assert_int_equal(d->rx_ready, 1);
	used_elem(d, 0, 3, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 4000);
	assert_memory_equal(gpa(d, EXTRA - 1000, 1000), big, 1000);
	assert_memory_equal(d->extra, big + 1000, 3000);
	assert_int_equal(hyp_virtio_console_receive(d->con, big + 4096, 904), 904);
	vm_teardown(d);
}

static void test_console_emergency_write(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	/* Usable before any initialisation (5.3.6). */
	mmio_wr(d, CONFIG + 8, 4, 'E');
	mmio_wr(d, CONFIG + 8, 4, 'W');
	/* Other widths/offsets do nothing. */
	mmio_wr(d, CONFIG + 8, 1, 'x');
	mmio_wr(d, CONFIG + 0, 4, 'y');
	mmio_wr(d, CONFIG + 10, 4, 'z');
	assert_int_equal(d->out_len, 2);
	assert_memory_equal(d->out, "EW", 2);
	vm_teardown(d);
}

/* A tx_fn that echoes into its own console: the device lock is held, so it is refused. */
static struct hyp_virtio_console *echo_console;
static int echo_result;

static void echo_tx(void *opaque, const void *bytes, size_t len)
{
	out_tx(opaque, bytes, len);
	echo_result = hyp_virtio_console_receive(echo_console, bytes, len);
}

static void test_console_receive_from_tx_fn(void **state)
{
	struct drv *d = malloc(sizeof(*d));
	struct hyp_virtio_console_config cfg = {
		.size = sizeof(cfg), .base = VBASE, .intid = VINTID, .tx_fn = echo_tx
	};

	(void)state;
	assert_non_null(d);
	vm_setup(d);
	cfg.tx_opaque = d;
	assert_int_equal(hyp_virtio_console_create(d->t.vm, &cfg, &d->con), 0);
	echo_console = d->con;
	echo_result = 1;
	/* An emergency write reaches tx_fn on this (the vCPU's) thread, with the lock held. */
	mmio_wr(d, CONFIG + 8, 4, 'e');
	assert_int_equal(d->out_len, 1);
	assert_int_equal(echo_result, -EDEADLK);
	/* Nothing was taken, and the console still works from outside the callback. */
	assert_int_equal(hyp_virtio_console_receive(d->con, "ok", 2), 2);
	vm_teardown(d);
}

/* Output with backpressure: a sink that takes at most @room bytes, then says "full". */
static size_t try_room;
static unsigned try_calls;

static size_t try_tx(void *opaque, const void *bytes, size_t len)
{
	size_t n = len < try_room ? len : try_room;

	try_calls++;
	if (n)
		out_tx(opaque, bytes, n);
	try_room -= n;
	return n;
}

static struct drv *try_fixture(void)
{
	struct drv *d = malloc(sizeof(*d));
	struct hyp_virtio_console_config cfg = {
		.size = sizeof(cfg), .base = VBASE, .intid = VINTID, .tx_try_fn = try_tx
	};

	assert_non_null(d);
	vm_setup(d);
	cfg.tx_opaque = d;
	assert_int_equal(hyp_virtio_console_create(d->t.vm, &cfg, &d->con), 0);
	return d;
}

static void test_console_transmit_backpressure(void **state)
{
	struct drv *d = try_fixture();
	uint32_t id, len;

	(void)state;
	init_device(d, 2, 16);
	/* Three buffers; the first split over two descriptors. */
	memcpy(gpa(d, DATA, 5), "01234", 5);
	memcpy(gpa(d, DATA + 0x100, 5), "56789", 5);
	memcpy(gpa(d, DATA + 0x200, 4), "abcd", 4);
	memcpy(gpa(d, DATA + 0x300, 3), "efg", 3);
	desc(d, d->vq[1].desc, 0, DATA, 5, D_NEXT, 1);
	desc(d, d->vq[1].desc, 1, DATA + 0x100, 5, 0, 0);
	desc(d, d->vq[1].desc, 2, DATA + 0x200, 4, 0, 0);
	desc(d, d->vq[1].desc, 3, DATA + 0x300, 3, 0, 0);
	avail_add(d, 1, 0);
	avail_add(d, 1, 2);
	avail_add(d, 1, 3);
	/* Room for 7: the first buffer is held (not used), nothing behind it is touched. */
	try_room = 7;
	notify(d, 1);
	assert_int_equal(d->out_len, 7);
	assert_memory_equal(d->out, "0123456", 7);
	assert_int_equal(used_idx(d, 1), 0);
	assert_int_equal(spi(d), 0);
	/* The driver notifies again with no room: nothing moves, nothing is sent twice. */
	notify(d, 1);
	assert_int_equal(d->out_len, 7);
	assert_int_equal(used_idx(d, 1), 0);
	/* Room for 5: the rest of buffer 0 and two bytes of buffer 2. */
	try_room = 5;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(d->out_len, 12);
	assert_int_equal(used_idx(d, 1), 1);
	used_elem(d, 1, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(spi(d), 1);
	ack(d);
	/* Plenty of room: everything, in order, every buffer returned. */
	try_room = 1000;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(d->out_len, 17);
	assert_memory_equal(d->out, "0123456789abcdefg", 17);
	assert_int_equal(used_idx(d, 1), 3);
	used_elem(d, 1, 1, &id, &len);
	assert_int_equal(id, 2);
	used_elem(d, 1, 2, &id, &len);
	assert_int_equal(id, 3);
	/* Nothing held: resuming does nothing. */
	try_calls = 0;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(try_calls, 0);
	/* A buffer held across a device reset is forgotten: the reset driver gets nothing back
	 * and no stale byte reaches the sink. */
	desc(d, d->vq[1].desc, 4, DATA, 5, 0, 0);
	avail_add(d, 1, 4);
	try_room = 2;
	notify(d, 1);
	assert_int_equal(d->out_len, 19);
	init_device(d, 2, 16);
	try_room = 1000;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(d->out_len, 19);
	assert_int_equal(used_idx(d, 1), 0);
	/* The driver rewriting a held buffer's descriptor changes nothing: the device walks the
	 * chain it took (read once), not the table again. */
	desc(d, d->vq[1].desc, 0, DATA, 5, 0, 0);
	avail_add(d, 1, 0);
	try_room = 1;
	notify(d, 1);
	assert_int_equal(d->out_len, 20);
	desc(d, d->vq[1].desc, 0, 0x90000000ull, 5, 0, 0);
	try_room = 1000;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(d->out_len, 24);
	assert_memory_equal(d->out + 19, "01234", 5);
	assert_int_equal(used_idx(d, 1), 1);
	/* A buffer held when the driver disables the queue and enables it again (new rings) is
	 * forgotten as well; the new queue works. */
	desc(d, d->vq[1].desc, 1, DATA + 0x200, 4, 0, 0);
	avail_add(d, 1, 1);
	try_room = 1;
	notify(d, 1);
	assert_int_equal(d->out_len, 25);
	wr32(d, QUEUE_SEL, 1);
	wr32(d, QUEUE_READY, 0);
	queue_setup(d, 1, 16);
	try_room = 1000;
	assert_int_equal(hyp_virtio_console_tx_resume(d->con), 0);
	assert_int_equal(d->out_len, 25);
	assert_int_equal(used_idx(d, 1), 0);
	desc(d, d->vq[1].desc, 0, DATA + 0x300, 3, 0, 0);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_int_equal(d->out_len, 28);
	assert_memory_equal(d->out + 25, "efg", 3);
	assert_int_equal(used_idx(d, 1), 1);
	/* Misuse. */
	assert_int_equal(hyp_virtio_console_tx_resume(NULL), -EINVAL);
	vm_teardown(d);
}

static void test_console_try_fn_misuse(void **state)
{
	struct hyp_virtio_console_config cfg = { .size = sizeof(cfg),
						 .base = VBASE,
						 .intid = VINTID,
						 .tx_try_fn = try_tx,
						 .tx_fn = out_tx };
	struct hyp_virtio_console *con = NULL;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.tx_fn = NULL;
	cfg.flags = HYP_DEV_TX_FD;
	cfg.tx_fd = 1;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	assert_null(con);
	test_vm_destroy(&t);
}

/* Input from a VMM thread while the guest consumes and reposts receive buffers. */
#define STREAM_BYTES 20000u
#define RX_BUFS 16u
#define RX_BUF_SIZE 48u

struct feeder {
	struct hyp_virtio_console *con;
	unsigned sent;
};

static void *feed(void *opaque)
{
	struct feeder *f = opaque;

	while (f->sent < STREAM_BYTES) {
		uint8_t chunk[100];
		unsigned n = 0;
		int r;

		while (n < sizeof(chunk) && f->sent + n < STREAM_BYTES) {
			chunk[n] = (uint8_t)((f->sent + n) % 251);
			n++;
		}
		r = hyp_virtio_console_receive(f->con, chunk, n);
		if (r < 0)
			return NULL;
		f->sent += (unsigned)r;
		if ((unsigned)r < n)
			sched_yield();
	}
	return NULL;
}

static void test_console_concurrent_input(void **state)
{
	struct drv *d = console_fixture();
	struct feeder f = { d->con, 0 };
	pthread_t thread;
	unsigned got = 0;
	uint16_t seen = 0;

	(void)state;
	init_device(d, 2, 32);
	for (uint16_t i = 0; i < RX_BUFS; i++) {
		desc(d, d->vq[0].desc, i, DATA + RX_BUF_SIZE * i, RX_BUF_SIZE, D_WRITE, 0);
		avail_add(d, 0, i);
	}
	notify(d, 0);
	assert_int_equal(pthread_create(&thread, NULL, feed, &f), 0);
	while (got < STREAM_BYTES) {
		uint16_t now = used_idx(d, 0);

		if (now == seen) {
			sched_yield();
			continue;
		}
		for (; seen != now; seen++) {
			uint32_t id, len;

			used_elem(d, 0, seen, &id, &len);
			assert_true(id < RX_BUFS && len <= RX_BUF_SIZE);
			for (uint32_t i = 0; i < len; i++, got++)
				assert_int_equal(*gpa(d, DATA + RX_BUF_SIZE * id + i, 1),
						 got % 251);
			avail_add(d, 0, (uint16_t)id);
		}
		notify(d, 0);
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(got, STREAM_BYTES);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

/* ---- Hostile drivers: queue setup ------------------------------------------------------------ */

static void expect_enable_refused(struct drv *d, uint32_t num, uint64_t desc_ipa, uint64_t avail,
				  uint64_t used)
{
	assert_true(negotiate(d, F_VERSION_1));
	queue_layout(d, 0, 8);
	queue_program(d, 0, num, desc_ipa, avail, used);
	assert_int_equal(rd32(d, QUEUE_READY), 0);
	assert_true(needs_reset(d));
	/* DRIVER_OK was not set yet, so no configuration interrupt. */
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 0);
	/* Once broken, the device ignores the driver until reset: enabling does nothing. */
	wr32(d, QUEUE_NUM, 8);
	wr32(d, QUEUE_READY, 1);
	assert_int_equal(rd32(d, QUEUE_READY), 0);
}

static void test_bad_queue_setup(void **state)
{
	struct drv *d = console_fixture();
	uint64_t desc_ipa = RINGS, avail = RINGS + 0x1000, used = RINGS + 0x2000;

	(void)state;
	/* Queue sizes: not a power of two, above QueueNumMax, zero. */
	expect_enable_refused(d, 3, desc_ipa, avail, used);
	expect_enable_refused(d, 512, desc_ipa, avail, used);
	expect_enable_refused(d, 0, desc_ipa, avail, used);
	expect_enable_refused(d, 0x10008, desc_ipa, avail, used);
	/* Misaligned rings. */
	expect_enable_refused(d, 8, desc_ipa + 8, avail, used);
	expect_enable_refused(d, 8, desc_ipa, avail + 1, used);
	expect_enable_refused(d, 8, desc_ipa, avail, used + 2);
	/* Rings outside RAM, wrapping, or running off its end; a used ring in read-only memory. */
	expect_enable_refused(d, 8, UNMAPPED, avail, used);
	expect_enable_refused(d, 8, desc_ipa, 0xfffffffffffffff0ull, used);
	expect_enable_refused(d, 256, TEST_RAM_BASE + TEST_RAM_SIZE + EXTRA_SIZE - 0x800, avail,
			      used);
	expect_enable_refused(d, 8, desc_ipa, avail, ROM);
	/* The read-only page is fine for the device-read rings. */
	assert_true(negotiate(d, F_VERSION_1));
	queue_program(d, 0, 8, ROM, ROM + 0x100, used);
	assert_int_equal(rd32(d, QUEUE_READY), 1);
	assert_false(needs_reset(d));
	/* Setting up after DRIVER_OK: the failure raises a configuration interrupt. */
	init_device(d, 1, 8);
	wr32(d, QUEUE_SEL, 1);
	wr32(d, QUEUE_NUM, 6);
	wr32(d, QUEUE_READY, 1);
	assert_true(needs_reset(d));
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 2);
	assert_int_equal(spi(d), 1);
	/* Reset recovers. */
	wr32(d, STATUS, 0);
	assert_int_equal(spi(d), 0);
	init_device(d, 2, 8);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

static void test_notify_unusable_queue(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	assert_true(negotiate(d, F_VERSION_1));
	queue_setup(d, 1, 8);
	driver_ok(d);
	/* Queue 0 was never enabled, queue 9 does not exist, 0xffffffff neither. */
	notify(d, 0);
	notify(d, 9);
	notify(d, 0xffffffff);
	assert_false(needs_reset(d));
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 0);
	assert_int_equal(hyp_virtio_console_receive(d->con, "q", 1), 1);
	vm_teardown(d);
}

/* ---- Hostile drivers: descriptor chains ------------------------------------------------------ */

/* Submit head @head on the transmit queue and expect DEVICE_NEEDS_RESET, nothing sent, no used
 * entry, guest RAM untouched, a configuration interrupt. */
static void expect_tx_chain_rejected(struct drv *d, uint16_t head)
{
	uint8_t *snap;

	avail_add(d, 1, head);
	snap = snapshot(d);
	notify(d, 1);
	assert_true(needs_reset(d));
	assert_int_equal(used_idx(d, 1), 0);
	assert_int_equal(d->out_len, 0);
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 2);
	assert_int_equal(spi(d), 1);
	assert_ram_unchanged_except(d, snap, 1, 0, 0, 0, 0);
	/* Further notifications are ignored until reset. */
	notify(d, 1);
	assert_int_equal(used_idx(d, 1), 0);
}

static void test_descriptor_loop(void **state)
{
	struct drv *d = console_fixture();

	(void)state;
	init_device(d, 2, 8);
	memcpy(gpa(d, DATA, 4), "loop", 4);
	desc(d, d->vq[1].desc, 0, DATA, 4, D_NEXT, 1);
	desc(d, d->vq[1].desc, 1, DATA, 4, D_NEXT, 2);
	desc(d, d->vq[1].desc, 2, DATA, 4, D_NEXT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* A descriptor that points at itself. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, d->vq[1].desc, 3, DATA, 4, D_NEXT, 3);
	expect_tx_chain_rejected(d, 3);
	vm_teardown(d);

	/* A loop inside an indirect table. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, INDIRECT, 0, DATA, 4, D_NEXT, 1);
	desc(d, INDIRECT, 1, DATA, 4, D_NEXT, 0);
	desc(d, d->vq[1].desc, 0, INDIRECT, 32, D_INDIRECT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);
}

/* Fill @count entries of the indirect table with 1-byte buffers of '#', chained in order. */
static void indirect_chain(struct drv *d, uint16_t count)
{
	*gpa(d, DATA, 1) = '#';
	for (uint16_t i = 0; i < count; i++)
		desc(d, INDIRECT, i, DATA, 1, i + 1 < count ? D_NEXT : 0, (uint16_t)(i + 1));
}

static void test_chain_longer_than_queue(void **state)
{
	struct drv *d;

	(void)state;
	/* An indirect table of 257 entries: longer than any queue (QueueNumMax 256). */
	d = console_fixture();
	init_device(d, 2, 256);
	indirect_chain(d, 257);
	desc(d, d->vq[1].desc, 0, INDIRECT, 257 * 16, D_INDIRECT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* Ten direct descriptors then a table of 247: 257 in all. */
	d = console_fixture();
	init_device(d, 2, 256);
	indirect_chain(d, 247);
	for (uint16_t i = 0; i < 10; i++)
		desc(d, d->vq[1].desc, i, DATA, 1, D_NEXT, (uint16_t)(i + 1));
	desc(d, d->vq[1].desc, 10, INDIRECT, 247 * 16, D_INDIRECT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* With a table of 246 it is exactly 256: served. */
	d = console_fixture();
	init_device(d, 2, 256);
	indirect_chain(d, 246);
	for (uint16_t i = 0; i < 10; i++)
		desc(d, d->vq[1].desc, i, DATA, 1, D_NEXT, (uint16_t)(i + 1));
	desc(d, d->vq[1].desc, 10, INDIRECT, 246 * 16, D_INDIRECT, 0);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_false(needs_reset(d));
	assert_int_equal(d->out_len, 256);
	assert_int_equal(used_idx(d, 1), 1);
	vm_teardown(d);

	/* A driver that chose a smaller queue (4) may still use a table up to QueueNumMax, like
	 * the seg_max the block device advertises; only loops and tables beyond it are refused. */
	d = console_fixture();
	init_device(d, 2, 4);
	indirect_chain(d, 8);
	desc(d, d->vq[1].desc, 0, INDIRECT, 8 * 16, D_INDIRECT, 0);
	avail_add(d, 1, 0);
	notify(d, 1);
	assert_false(needs_reset(d));
	assert_int_equal(d->out_len, 8);
	vm_teardown(d);
}

static void test_bad_descriptor_indices_and_indirect_tables(void **state)
{
	struct drv *d;

	(void)state;
	/* A head index beyond the queue. */
	d = console_fixture();
	init_device(d, 2, 8);
	expect_tx_chain_rejected(d, 8);
	vm_teardown(d);

	/* A next index beyond the queue. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, d->vq[1].desc, 0, DATA, 4, D_NEXT, 200);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* A next index beyond the indirect table. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, INDIRECT, 0, DATA, 4, D_NEXT, 2);
	desc(d, d->vq[1].desc, 0, INDIRECT, 32, D_INDIRECT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* Nested indirect tables. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, INDIRECT, 0, INDIRECT + 0x100, 16, D_INDIRECT, 0);
	desc(d, d->vq[1].desc, 0, INDIRECT, 16, D_INDIRECT, 0);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* INDIRECT together with NEXT. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, INDIRECT, 0, DATA, 4, 0, 0);
	desc(d, d->vq[1].desc, 0, INDIRECT, 16, D_INDIRECT | D_NEXT, 1);
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);

	/* Table lengths: not a multiple of 16, zero, outside RAM, wrapping. */
	static const struct {
		uint64_t addr;
		uint32_t len;
	} tables[] = {
		{ INDIRECT, 24 },
		{ INDIRECT, 0 },
		{ UNMAPPED, 32 },
		{ 0xfffffffffffffff0ull, 32 },
		{ TEST_RAM_BASE + TEST_RAM_SIZE + EXTRA_SIZE - 16, 32 },
	};
	for (unsigned i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		d = console_fixture();
		init_device(d, 2, 8);
		desc(d, d->vq[1].desc, 0, tables[i].addr, tables[i].len, D_INDIRECT, 0);
		expect_tx_chain_rejected(d, 0);
		vm_teardown(d);
	}

	/* The available index running more than a queue ahead. */
	d = console_fixture();
	init_device(d, 2, 8);
	desc(d, d->vq[1].desc, 0, DATA, 4, 0, 0);
	d->vq[1].avail_idx = 8; /* the next avail_add publishes 9 */
	expect_tx_chain_rejected(d, 0);
	vm_teardown(d);
}

static void test_buffers_outside_ram(void **state)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ UNMAPPED, 4 },
		{ 0xfffffffffffffffeull, 4 },  /* wraps */
		{ DATA, 0xffffffffu },	       /* runs off the end of RAM */
		{ EXTRA + EXTRA_SIZE - 2, 4 }, /* the last mapped bytes, then nothing */
	};
	uint32_t id, len;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct drv *d = console_fixture();
		uint8_t *snap;

		init_device(d, 2, 8);
		/* Transmit: a chain with one good and one bad buffer sends nothing, completes. */
		memcpy(gpa(d, DATA, 4), "good", 4);
		desc(d, d->vq[1].desc, 0, DATA, 4, D_NEXT, 1);
		desc(d, d->vq[1].desc, 1, bad[i].addr, bad[i].len, 0, 0);
		avail_add(d, 1, 0);
		notify(d, 1);
		assert_false(needs_reset(d));
		assert_int_equal(d->out_len, 0);
		assert_int_equal(used_idx(d, 1), 1);

		/* Receive: a bad buffer takes nothing; the input goes to the next good one. */
		assert_int_equal(hyp_virtio_console_receive(d->con, "in", 2), 2);
		desc(d, d->vq[0].desc, 0, bad[i].addr, bad[i].len, D_WRITE, 0);
		desc(d, d->vq[0].desc, 1, DATA + 0x100, 8, D_WRITE, 0);
		avail_add(d, 0, 0);
		snap = snapshot(d);
		notify(d, 0);
		assert_int_equal(used_idx(d, 0), 1);
		used_elem(d, 0, 0, &id, &len);
		assert_int_equal(id, 0);
		assert_int_equal(len, 0);
		assert_ram_unchanged_except(d, snap, 0, 0, 0, 0, 0);
		avail_add(d, 0, 1);
		notify(d, 0);
		used_elem(d, 0, 1, &id, &len);
		assert_int_equal(len, 2);
		assert_memory_equal(gpa(d, DATA + 0x100, 2), "in", 2);
		vm_teardown(d);
	}

	/* A receive buffer in read-only memory is not written. */
	struct drv *d = console_fixture();
	init_device(d, 2, 8);
	assert_int_equal(hyp_virtio_console_receive(d->con, "rom", 3), 3);
	desc(d, d->vq[0].desc, 0, ROM, 16, D_WRITE, 0);
	avail_add(d, 0, 0);
	notify(d, 0);
	used_elem(d, 0, 0, &id, &len);
	assert_int_equal(len, 0);
	for (unsigned i = 0; i < HYP_PAGE_SIZE; i++)
		assert_int_equal(((uint8_t *)d->rom)[i], 0x5a);
	vm_teardown(d);
}

static void test_console_api_misuse(void **state)
{
	struct hyp_virtio_console_config cfg = { .size = sizeof(cfg),
						 .base = VBASE,
						 .intid = VINTID };
	struct hyp_virtio_console *con = (struct hyp_virtio_console *)&cfg, *sentinel = con;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_virtio_console_create(NULL, &cfg, &con), -EINVAL);
	assert_int_equal(hyp_virtio_console_create(t.vm, NULL, &con), -EINVAL);
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, NULL), -EINVAL);
	cfg.base = 0;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.base = VBASE;
	cfg.intid = 0;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.intid = VINTID;
	cfg.flags = HYP_DEV_READ_ONLY;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.flags = HYP_DEV_TX_FD;
	cfg.tx_fd = -3;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.flags = 0;
	cfg.size = 0;
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EINVAL);
	cfg.size = sizeof(cfg);
	assert_ptr_equal(con, sentinel);
	assert_int_equal(hyp_virtio_console_receive(NULL, "x", 1), -EINVAL);
	hyp_virtio_console_destroy(NULL);
	/* Polled, output to a file descriptor. */
	int fds[2];
	char buf[4] = { 0 };
	assert_int_equal(pipe(fds), 0);
	cfg.flags = HYP_DEV_NO_IRQ | HYP_DEV_TX_FD;
	cfg.intid = 0;
	cfg.tx_fd = fds[1];
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), 0);
	assert_int_equal(hyp_virtio_console_create(t.vm, &cfg, &con), -EEXIST);
	assert_int_equal(hyp_vcpu_set_reg(t.vcpu, HYP_REG_X(1), 'f'), 0);
	assert_int_equal(hyp_mock_push_mmio(t.vcpu, VBASE + CONFIG + 8, 4, 1, HYP_MOCK_MMIO_WRITE),
			 0);
	test_run_to_end(t.vcpu);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'f');
	hyp_virtio_console_destroy(con);
	close(fds[0]);
	close(fds[1]);
	test_vm_destroy(&t);
}

/* ---- Block ----------------------------------------------------------------------------------- */

/*
 * Submit a request of header, data and status descriptors (no data descriptor if @data_len is 0)
 * and return the status byte. Checks that the device wrote nothing in RAM but the used ring, the
 * status byte and, if the device may write it, the data buffer.
 */
static uint8_t blk_request(struct drv *d, uint32_t type, uint64_t sector, uint64_t data,
			   uint32_t data_len, bool device_writes_data, uint32_t *used_len)
{
	uint16_t before = used_idx(d, 0);
	uint32_t id, len;
	uint8_t *snap;

	put32(d, HDR, type);
	put32(d, HDR + 4, 0);
	put64(d, HDR + 8, sector);
	*gpa(d, STATUS_BYTE, 1) = 0xee;
	desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
	if (data_len) {
		desc(d, d->vq[0].desc, 1, data, data_len,
		     D_NEXT | (device_writes_data ? D_WRITE : 0), 2);
		desc(d, d->vq[0].desc, 2, STATUS_BYTE, 1, D_WRITE, 0);
	} else {
		desc(d, d->vq[0].desc, 1, STATUS_BYTE, 1, D_WRITE, 0);
	}
	avail_add(d, 0, 0);
	snap = snapshot(d);
	notify(d, 0);
	if (d->io_thread)
		wait_used(d, 0, (uint16_t)(before + 1));
	assert_false(needs_reset(d));
	assert_int_equal(used_idx(d, 0), (uint16_t)(before + 1));
	used_elem(d, 0, before, &id, &len);
	assert_int_equal(id, 0);
	if (used_len)
		*used_len = len;
	assert_ram_unchanged_except(d, snap, 0, STATUS_BYTE, 1, data,
				    device_writes_data ? data_len : 0);
	return *gpa(d, STATUS_BYTE, 1);
}

static void test_blk_probe(void **state)
{
	struct drv *d = blk_fixture(0);

	(void)state;
	assert_int_equal(rd32(d, DEVICE_ID), 2);
	assert_int_equal(device_features(d),
			 F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX | F_BLK_SEG_MAX | F_BLK_FLUSH);
	wr32(d, QUEUE_SEL, 1);
	assert_int_equal(rd32(d, QUEUE_NUM_MAX), 0); /* one queue */
	/* Capacity in 512-byte sectors, read as two words and as one 64-bit value; seg_max. */
	assert_int_equal(mmio_rd(d, CONFIG, 4), DISK_SECTORS);
	assert_int_equal(mmio_rd(d, CONFIG + 4, 4), 0);
	assert_int_equal(mmio_rd(d, CONFIG, 8), DISK_SECTORS);
	assert_int_equal(mmio_rd(d, CONFIG + 12, 4), 254);
	assert_int_equal(mmio_rd(d, CONFIG + 1, 1), 0);
	/* Beyond the config space, and straddling its end. */
	assert_int_equal(mmio_rd(d, CONFIG + 34, 4), 0);
	assert_int_equal(mmio_rd(d, CONFIG + 0x80, 4), 0);
	/* Config writes (no writable fields offered) change nothing. */
	mmio_wr(d, CONFIG, 4, 1);
	assert_int_equal(mmio_rd(d, CONFIG, 4), DISK_SECTORS);
	vm_teardown(d);

	d = blk_fixture(HYP_DEV_READ_ONLY);
	assert_int_equal(device_features(d), F_VERSION_1 | F_INDIRECT_DESC | F_EVENT_IDX |
						     F_BLK_SEG_MAX | F_BLK_FLUSH | F_BLK_RO);
	vm_teardown(d);
}

static void blk_read_write_flush_id(uint32_t flags)
{
	struct drv *d = blk_fixture(flags);
	uint32_t used;

	init_device(d, 1, 16);
	/* Read sectors 2 and 3. */
	assert_int_equal(blk_request(d, BLK_T_IN, 2, DATA, 1024, true, &used), BLK_S_OK);
	assert_int_equal(used, 1025);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(*gpa(d, DATA + i, 1), disk_byte(1024 + i));
	assert_int_equal(ack(d), 1);
	/* Write sector 5. */
	for (unsigned i = 0; i < 512; i++)
		*gpa(d, DATA + i, 1) = (uint8_t)~i;
	assert_int_equal(blk_request(d, BLK_T_OUT, 5, DATA, 512, false, &used), BLK_S_OK);
	assert_int_equal(used, 1);
	uint8_t sector[512];
	assert_int_equal(pread(d->fd, sector, 512, 5 * 512), 512);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(sector[i], (uint8_t)~i);
	assert_disk_matches_pattern(d, 5 * 512, 512);
	/* The last sector, and a zero-length read at the end of the disk. */
	assert_int_equal(blk_request(d, BLK_T_IN, DISK_SECTORS - 1, DATA, 512, true, NULL),
			 BLK_S_OK);
	assert_int_equal(*gpa(d, DATA + 511, 1), disk_byte(DISK_SECTORS * 512 - 1));
	assert_int_equal(blk_request(d, BLK_T_IN, DISK_SECTORS, 0, 0, true, &used), BLK_S_OK);
	assert_int_equal(used, 1);
	/* Flush. */
	assert_int_equal(blk_request(d, BLK_T_FLUSH, 0, 0, 0, false, &used), BLK_S_OK);
	/* GET_ID: NUL-padded to 20 bytes. */
	memset(gpa(d, DATA, 32), 0xff, 32);
	assert_int_equal(blk_request(d, BLK_T_GET_ID, 0, DATA, 20, true, &used), BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(gpa(d, DATA, 20), "libhyp-disk-0\0\0\0\0\0\0\0", 20);
	assert_int_equal(*gpa(d, DATA + 20, 1), 0xff);
	/* An unknown request type. */
	assert_int_equal(blk_request(d, BLK_T_DISCARD, 0, DATA, 16, false, NULL), BLK_S_UNSUPP);
	assert_int_equal(blk_request(d, 0x7fffffff, 0, 0, 0, false, NULL), BLK_S_UNSUPP);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

static void test_blk_read_write_flush_id(void **state)
{
	(void)state;
	blk_read_write_flush_id(0);
}

/* The same requests served by the device's I/O thread: QueueNotify signals its eventfd (the
 * library's, on the mock) and the thread answers. */
static void test_blk_io_thread_requests(void **state)
{
	(void)state;
	blk_read_write_flush_id(HYP_DEV_IO_THREAD);
}

static void test_blk_scattered_request(void **state)
{
	struct drv *d = blk_fixture(0);
	uint32_t id, len;

	(void)state;
	init_device(d, 1, 16);
	/* Header split 8 + 8, data in odd pieces (one through the RAM region boundary and one in an
	 * indirect table), status sharing nothing: any layout is valid with VERSION_1. */
	put32(d, HDR, BLK_T_IN);
	put32(d, HDR + 4, 0);
	put64(d, HDR + 8, 7);
	desc(d, INDIRECT, 0, HDR, 8, D_NEXT, 1);
	desc(d, INDIRECT, 1, HDR + 8, 8, D_NEXT, 2);
	desc(d, INDIRECT, 2, DATA, 100, D_WRITE | D_NEXT, 3);
	desc(d, INDIRECT, 3, EXTRA - 12, 412 + 512, D_WRITE | D_NEXT, 4);
	desc(d, INDIRECT, 4, DATA + 0x1000, 0, D_WRITE | D_NEXT, 5);
	desc(d, INDIRECT, 5, STATUS_BYTE, 1, D_WRITE, 0);
	desc(d, d->vq[0].desc, 0, INDIRECT, 6 * 16, D_INDIRECT, 0);
	*gpa(d, STATUS_BYTE, 1) = 0xee;
	avail_add(d, 0, 0);
	notify(d, 0);
	assert_int_equal(used_idx(d, 0), 1);
	used_elem(d, 0, 0, &id, &len);
	assert_int_equal(len, 1024 + 1);
	assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_OK);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(*gpa(d, DATA + i, 1), disk_byte(7 * 512 + i));
	for (unsigned i = 0; i < 12; i++)
		assert_int_equal(*gpa(d, EXTRA - 12 + i, 1), disk_byte(7 * 512 + 100 + i));
	for (unsigned i = 0; i < 912; i++)
		assert_int_equal(((uint8_t *)d->extra)[i], disk_byte(7 * 512 + 112 + i));
	vm_teardown(d);
}

/* A request whose first two data buffers are good and whose third is not (outside RAM, or
 * read-only for a read): it fails, and nothing of it happened: not the good buffers' part of the
 * read, not their part of the write (the disk), however the transfer is batched. */
static void test_blk_bad_later_buffer(void **state)
{
	struct drv *d = blk_fixture(0);
	const uint64_t bad[] = { UNMAPPED, ROM };

	(void)state;
	init_device(d, 1, 16);
	memset(gpa(d, DATA, 1024), 0xcc, 1024);
	for (unsigned write = 0; write < 2; write++) {
		for (unsigned b = 0; b < 2; b++) {
			uint16_t before = used_idx(d, 0);
			uint16_t data_flags = write ? 0 : D_WRITE;
			uint32_t id, len;

			if (write && bad[b] == ROM)
				continue; /* a device-readable ROM buffer is a valid write source */
			put32(d, HDR, write ? BLK_T_OUT : BLK_T_IN);
			put32(d, HDR + 4, 0);
			put64(d, HDR + 8, 3);
			*gpa(d, STATUS_BYTE, 1) = 0xee;
			desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
			desc(d, d->vq[0].desc, 1, DATA, 512, data_flags | D_NEXT, 2);
			desc(d, d->vq[0].desc, 2, DATA + 512, 512, data_flags | D_NEXT, 3);
			desc(d, d->vq[0].desc, 3, bad[b], 512, data_flags | D_NEXT, 4);
			desc(d, d->vq[0].desc, 4, STATUS_BYTE, 1, D_WRITE, 0);
			avail_add(d, 0, 0);
			notify(d, 0);
			assert_int_equal(used_idx(d, 0), (uint16_t)(before + 1));
			used_elem(d, 0, before, &id, &len);
			assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_IOERR);
			for (unsigned i = 0; i < 1024; i++)
				assert_int_equal(*gpa(d, DATA + i, 1), 0xcc);
			assert_disk_matches_pattern(d, 0, 0);
		}
	}
	assert_false(needs_reset(d));
	vm_teardown(d);
}

/* The byte at guest address @ipa, in RAM or in the region after it. */
static uint8_t *ram_or_extra(struct drv *d, uint64_t ipa)
{
	return ipa < EXTRA ? gpa(d, ipa, 1) : (uint8_t *)d->extra + (ipa - EXTRA);
}

/* More host pieces than one preadv()/pwritev() array holds: 200 buffers of 256 bytes, each across
 * the boundary between RAM and the region after it (two pieces each). Good, the transfer is
 * done an array at a time; with the last buffer bad, nothing is done at all. */
static void test_blk_many_pieces(void **state)
{
	struct drv *d = blk_fixture(0);
	const unsigned nbuf = 200, size = 256;
	const uint64_t buf = EXTRA - size / 2;

	(void)state;
	init_device(d, 1, 16);
	for (unsigned bad = 0; bad < 2; bad++) {
		for (unsigned write = 0; write < 2; write++) {
			uint16_t before = used_idx(d, 0), flags = write ? 0 : D_WRITE;
			uint32_t id, len;
			uint16_t k = 0;

			for (unsigned i = 0; i < size; i++)
				*ram_or_extra(d, buf + i) = write ? 0x5a : 0xcc;
			put32(d, HDR, write ? BLK_T_OUT : BLK_T_IN);
			put32(d, HDR + 4, 0);
			put64(d, HDR + 8, 0);
			*gpa(d, STATUS_BYTE, 1) = 0xee;
			desc(d, INDIRECT, k, HDR, 16, D_NEXT, (uint16_t)(k + 1));
			for (k = 1; k <= nbuf; k++)
				desc(d, INDIRECT, k, bad && k == nbuf ? UNMAPPED : buf, size,
				     flags | D_NEXT, (uint16_t)(k + 1));
			desc(d, INDIRECT, k, STATUS_BYTE, 1, D_WRITE, 0);
			desc(d, d->vq[0].desc, 0, INDIRECT, (uint32_t)(k + 1) * 16, D_INDIRECT, 0);
			avail_add(d, 0, 0);
			notify(d, 0);
			assert_int_equal(used_idx(d, 0), (uint16_t)(before + 1));
			used_elem(d, 0, before, &id, &len);
			assert_int_equal(*gpa(d, STATUS_BYTE, 1), bad ? BLK_S_IOERR : BLK_S_OK);
			assert_int_equal(len, write ? 1 : bad ? 1 : nbuf * size + 1);
			if (bad) {
				/* Nothing read into the buffers, nothing written to the disk. */
				for (unsigned i = 0; i < size; i++)
					assert_int_equal(*ram_or_extra(d, buf + i),
							 write ? 0x5a : 0xcc);
				assert_disk_matches_pattern(d, 0, 0);
			} else if (!write) {
				/* Every buffer is the same bytes: the last one's data is there. */
				for (unsigned i = 0; i < size; i++)
					assert_int_equal(*ram_or_extra(d, buf + i),
							 disk_byte((nbuf - 1) * size + i));
			} else {
				uint8_t img[DISK_SECTORS * 512];

				assert_int_equal(pread(d->fd, img, nbuf * size, 0),
						 (ssize_t)(nbuf * size));
				for (unsigned i = 0; i < nbuf * size; i++)
					assert_int_equal(img[i], 0x5a);
				for (unsigned i = 0; i < sizeof(img); i++)
					img[i] = disk_byte(i);
				assert_int_equal(pwrite(d->fd, img, sizeof(img), 0),
						 (ssize_t)sizeof(img));
			}
		}
	}
	assert_false(needs_reset(d));
	vm_teardown(d);
}

/* VIRTIO_RING_F_EVENT_IDX (2.7.10): an interrupt only when the used index passes used_event, and
 * avail_event tells the driver the next index to notify about. */
static void test_blk_event_idx(void **state)
{
	struct drv *d = blk_fixture(0);
	const uint16_t num = 16;
	uint64_t used_event, avail_event;

	(void)state;
	assert_true(negotiate(d, F_VERSION_1 | F_EVENT_IDX));
	queue_setup(d, 0, num);
	driver_ok(d);
	used_event = d->vq[0].avail + 4 + 2 * num;
	avail_event = d->vq[0].used + 4 + 8 * num;
	put16(d, avail_event, 0xbeef);

	/* used_event 0: the first completion (used index 0 -> 1) interrupts. */
	put16(d, used_event, 0);
	assert_int_equal(blk_request(d, BLK_T_IN, 0, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(spi(d), 1);
	assert_int_equal(ack(d), 1);
	/* The queue drained: notify me when index 1 is made available. */
	assert_int_equal(get16(d, avail_event), 1);
	/* used_event far ahead: completions 1 -> 2 and 2 -> 3 stay quiet. */
	put16(d, used_event, 5);
	assert_int_equal(blk_request(d, BLK_T_IN, 1, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(blk_request(d, BLK_T_IN, 2, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(spi(d), 0);
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 0);
	assert_int_equal(get16(d, avail_event), 3);
	/* used_event 3: the completion 3 -> 4 crosses it. */
	put16(d, used_event, 3);
	assert_int_equal(blk_request(d, BLK_T_IN, 3, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(spi(d), 1);
	ack(d);
	/* A hostile used_event (0xffff, wrapped) only ever decides whether to interrupt. */
	put16(d, used_event, 0xffff);
	assert_int_equal(blk_request(d, BLK_T_IN, 4, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(spi(d), 0);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

static void test_blk_bad_requests(void **state)
{
	struct drv *d = blk_fixture(0);
	uint32_t used;

	(void)state;
	init_device(d, 1, 16);
	memset(gpa(d, DATA, 1024), 0xcc, 1024);
	/* Beyond the capacity: partly, wholly, and with sector numbers that overflow. */
	assert_int_equal(blk_request(d, BLK_T_IN, DISK_SECTORS - 1, DATA, 1024, true, &used),
			 BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(blk_request(d, BLK_T_IN, DISK_SECTORS, DATA, 512, true, NULL),
			 BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, DISK_SECTORS + 1, 0, 0, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, 1ull << 55, DATA, 512, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, UINT64_MAX, DATA, 512, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_OUT, DISK_SECTORS - 1, DATA, 1024, false, NULL),
			 BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_OUT, UINT64_MAX - 1, DATA, 1024, false, NULL),
			 BLK_S_IOERR);
	/* Data lengths that are not whole sectors. */
	assert_int_equal(blk_request(d, BLK_T_IN, 0, DATA, 100, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 513, false, NULL), BLK_S_IOERR);
	/* Data buffers outside RAM, wrapping, running off its end, in read-only memory. */
	assert_int_equal(blk_request(d, BLK_T_IN, 0, UNMAPPED, 512, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, 0, 0xfffffffffffffe00ull, 512, true, NULL),
			 BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, 0, EXTRA + EXTRA_SIZE - 512, 1024, true, NULL),
			 BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, 0, ROM, 512, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, UNMAPPED, 512, false, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_GET_ID, 0, UNMAPPED, 20, true, NULL), BLK_S_IOERR);
	/* IN with a device-readable data buffer: the "data" is part of the request, there is no
	 * room for it: a zero-length read of sector 0 succeeds; OUT with a writable one is a
	 * zero-length write. Neither touches the buffer. */
	assert_int_equal(blk_request(d, BLK_T_IN, 0, DATA, 512, false, &used), BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 512, true, &used), BLK_S_OK);
	/* blk_request() checked that nothing else in RAM changed; the buffers the failed requests
	 * named are intact too, and so are the read-only page and the disk. */
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(*gpa(d, DATA + i, 1), 0xcc);
	for (unsigned i = 0; i < EXTRA_SIZE; i++)
		assert_int_equal(((uint8_t *)d->extra)[i], 0);
	for (unsigned i = 0; i < HYP_PAGE_SIZE; i++)
		assert_int_equal(((uint8_t *)d->rom)[i], 0x5a);
	assert_disk_matches_pattern(d, 0, 0);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

static void test_blk_short_header_and_layout(void **state)
{
	struct drv *d = blk_fixture(0);
	uint32_t id, len;

	(void)state;
	init_device(d, 1, 16);
	/* An 8-byte header. */
	put32(d, HDR, BLK_T_OUT);
	desc(d, d->vq[0].desc, 0, HDR, 8, D_NEXT, 1);
	desc(d, d->vq[0].desc, 1, STATUS_BYTE, 1, D_WRITE, 0);
	avail_add(d, 0, 0);
	notify(d, 0);
	assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_IOERR);
	used_elem(d, 0, 0, &id, &len);
	assert_int_equal(len, 1);
	/* A header in unmapped memory. */
	*gpa(d, STATUS_BYTE, 1) = 0xee;
	desc(d, d->vq[0].desc, 0, UNMAPPED, 16, D_NEXT, 1);
	avail_add(d, 0, 0);
	notify(d, 0);
	assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_IOERR);
	/* A readable buffer after a writable one (2.7.4.2). */
	*gpa(d, STATUS_BYTE, 1) = 0xee;
	put32(d, HDR, BLK_T_IN);
	put64(d, HDR + 8, 0);
	desc(d, d->vq[0].desc, 0, DATA, 512, D_WRITE | D_NEXT, 1);
	desc(d, d->vq[0].desc, 1, HDR, 16, D_NEXT, 2);
	desc(d, d->vq[0].desc, 2, STATUS_BYTE, 1, D_WRITE, 0);
	avail_add(d, 0, 0);
	notify(d, 0);
	assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_IOERR);
	assert_false(needs_reset(d));
	vm_teardown(d);

	/* No writable status byte at all: nothing to answer with. */
	d = blk_fixture(0);
	init_device(d, 1, 16);
	put32(d, HDR, BLK_T_OUT);
	put64(d, HDR + 8, 0);
	desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
	desc(d, d->vq[0].desc, 1, DATA, 512, 0, 0);
	avail_add(d, 0, 0);
	uint8_t *snap = snapshot(d);
	notify(d, 0);
	assert_true(needs_reset(d));
	assert_int_equal(used_idx(d, 0), 0);
	assert_ram_unchanged_except(d, snap, 0, 0, 0, 0, 0);
	assert_disk_matches_pattern(d, 0, 0);
	vm_teardown(d);

	/* A status byte outside RAM, or in read-only memory. */
	static const uint64_t bad_status[] = { UNMAPPED, ROM };
	for (unsigned i = 0; i < 2; i++) {
		d = blk_fixture(0);
		init_device(d, 1, 16);
		put32(d, HDR, BLK_T_OUT);
		put64(d, HDR + 8, 0);
		desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
		desc(d, d->vq[0].desc, 1, DATA, 512, D_NEXT, 2);
		desc(d, d->vq[0].desc, 2, bad_status[i], 1, D_WRITE, 0);
		avail_add(d, 0, 0);
		notify(d, 0);
		assert_true(needs_reset(d));
		assert_disk_matches_pattern(d, 0, 0);
		assert_int_equal(((uint8_t *)d->rom)[0], 0x5a);
		vm_teardown(d);
	}
}

static void test_blk_read_only(void **state)
{
	struct drv *d = blk_fixture(HYP_DEV_READ_ONLY);

	(void)state;
	assert_true(negotiate(d, F_VERSION_1 | F_BLK_RO));
	queue_setup(d, 0, 8);
	driver_ok(d);
	memset(gpa(d, DATA, 512), 0, 512);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 512, false, NULL), BLK_S_IOERR);
	assert_disk_matches_pattern(d, 0, 0);
	assert_int_equal(blk_request(d, BLK_T_IN, 1, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(*gpa(d, DATA, 1), disk_byte(512));
	assert_int_equal(blk_request(d, BLK_T_FLUSH, 0, 0, 0, false, NULL), BLK_S_OK);
	vm_teardown(d);
}

/* A disk in memory through struct hyp_blk_ops, with an injectable failure. */
struct ram_disk {
	uint8_t bytes[8 * 512];
	int fail;
	unsigned flushes;
};

static int ram_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	struct ram_disk *disk = opaque;

	assert_true(offset + len <= sizeof(disk->bytes));
	if (disk->fail)
		return disk->fail;
	memcpy(buf, disk->bytes + offset, len);
	return 0;
}

static int ram_write(void *opaque, uint64_t offset, const void *buf, size_t len)
{
	struct ram_disk *disk = opaque;

	assert_true(offset + len <= sizeof(disk->bytes));
	if (disk->fail)
		return disk->fail;
	memcpy(disk->bytes + offset, buf, len);
	return 0;
}

static int ram_flush(void *opaque)
{
	struct ram_disk *disk = opaque;

	disk->flushes++;
	return disk->fail;
}

/* A disk whose reads wait until the test lets them go: the I/O thread blocks inside a request. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
	unsigned reads;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };

static int gated_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	pthread_mutex_lock(&gate.lock);
	gate.reads++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.go)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	return ram_read(opaque, offset, buf, len);
}

static void gate_wait_reads(unsigned n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&gate.lock);
	while (gate.reads < n)
		if (pthread_cond_timedwait(&gate.cond, &gate.lock, &until))
			break;
	pthread_mutex_unlock(&gate.lock);
	assert_true(gate.reads >= n);
}

static void gate_open(bool go)
{
	pthread_mutex_lock(&gate.lock);
	gate.go = go;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

struct remap_job {
	struct hyp_vm *vm;
	_Atomic int result;
	_Atomic bool done;
};

static void *remap_thread(void *arg)
{
	struct remap_job *job = arg;

	atomic_store(&job->result, hyp_vm_unmap(job->vm, EXTRA, EXTRA_SIZE));
	atomic_store(&job->done, true);
	return NULL;
}

/* With HYP_DEV_IO_THREAD the notifying vCPU goes on while the request is served: its QueueNotify
 * write completes (the vCPU returns from run) with the disk still reading; the interrupt comes
 * when the thread is done. Meanwhile the thread holds the memory map: an unmap
 * from another thread waits for the request (it is not refused, and the buffers it uses stay). */
static void test_blk_io_thread_is_asynchronous(void **state)
{
	static const struct hyp_blk_ops ops = { gated_read, ram_write, ram_flush };
	static struct ram_disk disk;
	struct hyp_virtio_blk_config cfg = {
		.size = sizeof(cfg),
		.flags = HYP_DEV_IO_THREAD,
		.base = VBASE,
		.intid = VINTID,
		.ops = &ops,
		.ops_opaque = &disk,
		.disk_size = sizeof(disk.bytes),
	};
	struct remap_job job = { 0 };
	struct drv *d = malloc(sizeof(*d));
	pthread_t thread;

	(void)state;
	assert_non_null(d);
	vm_setup(d);
	for (unsigned i = 0; i < sizeof(disk.bytes); i++)
		disk.bytes[i] = (uint8_t)(i * 3);
	gate.reads = 0;
	gate_open(false);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	init_device(d, 1, 16);
	put32(d, HDR, BLK_T_IN);
	put64(d, HDR + 8, 1);
	*gpa(d, STATUS_BYTE, 1) = 0xee;
	desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
	desc(d, d->vq[0].desc, 1, DATA, 512, D_NEXT | D_WRITE, 2);
	desc(d, d->vq[0].desc, 2, STATUS_BYTE, 1, D_WRITE, 0);
	avail_add(d, 0, 0);
	notify(d, 0);
	/* Back from the notification; the thread is inside the disk's read. */
	gate_wait_reads(1);
	assert_int_equal(used_idx(d, 0), 0);
	assert_int_equal(spi(d), 0);
	/* (Not a register read: the thread holds the device lock for its batch.) */
	job.vm = d->t.vm;
	assert_int_equal(pthread_create(&thread, NULL, remap_thread, &job), 0);
	usleep(50 * 1000);
	assert_false(atomic_load(&job.done));
	gate_open(true);
	wait_used(d, 0, 1);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(atomic_load(&job.result), 0);
	assert_int_equal(*gpa(d, STATUS_BYTE, 1), BLK_S_OK);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(*gpa(d, DATA + i, 1), (uint8_t)((512 + i) * 3));
	/* A register access waits for the thread's batch to end (the line is raised in it). */
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 1);
	assert_int_equal(spi(d), 1);
	assert_int_equal(ack(d), 1);
	vm_teardown(d);
}

/* Requests queued before one notification are one batch: all answered, one interrupt. A reset
 * racing the thread, and a destroy with a notification pending, leave nothing behind (the suite
 * also runs under ASan). */
static void test_blk_io_thread_batch_reset_destroy(void **state)
{
	struct drv *d = blk_fixture(HYP_DEV_IO_THREAD);
	const unsigned n = 5;
	int interrupts;

	(void)state;
	init_device(d, 1, 16);
	interrupts = hyp_mock_irq_count(d->t.vm, NULL, VINTID);
	for (unsigned r = 0; r < n; r++) {
		uint64_t hdr = HDR + 32ull * r, status = STATUS_BYTE + r, data = DATA + 512ull * r;

		put32(d, hdr, BLK_T_IN);
		put32(d, hdr + 4, 0);
		put64(d, hdr + 8, r);
		*gpa(d, status, 1) = 0xee;
		desc(d, d->vq[0].desc, (uint16_t)(3 * r), hdr, 16, D_NEXT, (uint16_t)(3 * r + 1));
		desc(d, d->vq[0].desc, (uint16_t)(3 * r + 1), data, 512, D_NEXT | D_WRITE,
		     (uint16_t)(3 * r + 2));
		desc(d, d->vq[0].desc, (uint16_t)(3 * r + 2), status, 1, D_WRITE, 0);
		avail_add(d, 0, (uint16_t)(3 * r));
	}
	notify(d, 0);
	wait_used(d, 0, (uint16_t)n);
	/* One batch, one interrupt (the register access waits for the batch's end). */
	assert_int_equal(rd32(d, INTERRUPT_STATUS), 1);
	assert_int_equal(hyp_mock_irq_count(d->t.vm, NULL, VINTID), interrupts + 1);
	for (unsigned r = 0; r < n; r++) {
		assert_int_equal(*gpa(d, STATUS_BYTE + r, 1), BLK_S_OK);
		for (unsigned i = 0; i < 512; i += 97)
			assert_int_equal(*gpa(d, DATA + 512ull * r + i, 1),
					 disk_byte(512ull * r + i));
	}
	assert_int_equal(ack(d), 1);
	assert_false(needs_reset(d));

	/* Notify and reset at once, many times: the request is served before the reset or not at
	 * all (the status byte is the request's answer or untouched), the device starts again
	 * cleanly each time, and nothing is touched after the reset (the suite also runs under
	 * ASan and TSan). */
	for (unsigned round = 0; round < 50; round++) {
		init_device(d, 1, 16);
		*gpa(d, STATUS_BYTE, 1) = 0xee;
		desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
		desc(d, d->vq[0].desc, 1, DATA, 512, D_NEXT | D_WRITE, 2);
		desc(d, d->vq[0].desc, 2, STATUS_BYTE, 1, D_WRITE, 0);
		avail_add(d, 0, 0);
		notify(d, 0);
		wr32(d, STATUS, 0);
		assert_int_equal(rd32(d, STATUS), 0);
		assert_true(*gpa(d, STATUS_BYTE, 1) == 0xee || *gpa(d, STATUS_BYTE, 1) == BLK_S_OK);
	}
	/* Destroyed with a notification on its way: the thread is stopped and joined. */
	init_device(d, 1, 16);
	desc(d, d->vq[0].desc, 0, HDR, 16, D_NEXT, 1);
	desc(d, d->vq[0].desc, 1, DATA, 512, D_NEXT | D_WRITE, 2);
	desc(d, d->vq[0].desc, 2, STATUS_BYTE, 1, D_WRITE, 0);
	avail_add(d, 0, 0);
	notify(d, 0);
	hyp_virtio_blk_destroy(d->blk);
	d->blk = NULL;
	vm_teardown(d);
}

/* A driver that keeps the ring full while the device works (another vCPU adding requests): each
 * flush the device serves makes one more flush request available, @refills_left times. */
static struct {
	struct drv *d;
	unsigned refills_left, next;
} refiller;

static int refilling_flush(void *opaque)
{
	(void)opaque;
	if (refiller.refills_left) {
		refiller.refills_left--;
		avail_add(refiller.d, 0, (uint16_t)(2 * (refiller.next++ % 8)));
	}
	return 0;
}

/* More requests than one call may serve (a ring's worth): the rest are not left waiting for a
 * notification the driver will not send (with EVENT_IDX it sees the device busy). Synchronously
 * they are served at the driver's next register access; on the I/O thread, at once. */
static void blk_refilled_ring(uint32_t flags)
{
	static const struct hyp_blk_ops ops = { ram_read, ram_write, refilling_flush };
	static struct ram_disk disk;
	struct hyp_virtio_blk_config cfg = {
		.size = sizeof(cfg),
		.flags = flags,
		.base = VBASE,
		.intid = VINTID,
		.ops = &ops,
		.ops_opaque = &disk,
		.disk_size = sizeof(disk.bytes),
	};
	struct drv *d = malloc(sizeof(*d));
	const uint16_t num = 16;
	const unsigned total = 8 + 40;

	assert_non_null(d);
	vm_setup(d);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	d->io_thread = (flags & HYP_DEV_IO_THREAD) != 0;
	assert_true(negotiate(d, F_VERSION_1 | F_EVENT_IDX));
	queue_setup(d, 0, num);
	driver_ok(d);
	/* Eight two-descriptor flush requests (header, status): heads 0, 2, ... 14. */
	for (uint16_t r = 0; r < 8; r++) {
		put32(d, HDR + 16ull * r, BLK_T_FLUSH);
		desc(d, d->vq[0].desc, (uint16_t)(2 * r), HDR + 16ull * r, 16, D_NEXT,
		     (uint16_t)(2 * r + 1));
		desc(d, d->vq[0].desc, (uint16_t)(2 * r + 1), STATUS_BYTE + r, 1, D_WRITE, 0);
	}
	refiller.d = d;
	refiller.refills_left = total - 8;
	refiller.next = 0;
	for (uint16_t r = 0; r < 8; r++)
		avail_add(d, 0, (uint16_t)(2 * r));
	notify(d, 0);
	if (d->io_thread) {
		wait_used(d, 0, (uint16_t)total);
	} else {
		/* One call serves a ring's worth (16); each access of the driver's serves more. */
		assert_int_equal(used_idx(d, 0), num);
		for (unsigned i = 0; i < 4 && used_idx(d, 0) != total; i++)
			rd32(d, INTERRUPT_STATUS);
		assert_int_equal(used_idx(d, 0), total);
	}
	assert_int_equal(refiller.refills_left, 0);
	assert_false(needs_reset(d));
	vm_teardown(d);
}

static void test_blk_refilled_ring(void **state)
{
	(void)state;
	blk_refilled_ring(0);
	blk_refilled_ring(HYP_DEV_IO_THREAD);
}

static void test_blk_caller_ops(void **state)
{
	static const struct hyp_blk_ops ops = { ram_read, ram_write, ram_flush };
	struct ram_disk disk = { .fail = 0 };
	struct hyp_virtio_blk_config cfg = {
		.size = sizeof(cfg),
		.base = VBASE,
		.intid = VINTID,
		.ops = &ops,
		.ops_opaque = &disk,
		.disk_size = sizeof(disk.bytes) + 100,
	};
	struct drv *d = malloc(sizeof(*d));

	(void)state;
	assert_non_null(d);
	vm_setup(d);
	for (unsigned i = 0; i < sizeof(disk.bytes); i++)
		disk.bytes[i] = (uint8_t)(i ^ 0x33);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	assert_int_equal(mmio_rd(d, CONFIG, 8), 8);
	init_device(d, 1, 8);
	assert_int_equal(blk_request(d, BLK_T_IN, 7, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(*gpa(d, DATA + 3, 1), (uint8_t)((7 * 512 + 3) ^ 0x33));
	memset(gpa(d, DATA, 512), 0x77, 512);
	assert_int_equal(blk_request(d, BLK_T_OUT, 1, DATA, 512, false, NULL), BLK_S_OK);
	assert_int_equal(disk.bytes[512], 0x77);
	assert_int_equal(blk_request(d, BLK_T_FLUSH, 0, 0, 0, false, NULL), BLK_S_OK);
	assert_int_equal(disk.flushes, 1);
	/* Backend failures become IOERR. */
	disk.fail = -EIO;
	assert_int_equal(blk_request(d, BLK_T_IN, 0, DATA, 512, true, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 512, false, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_FLUSH, 0, 0, 0, false, NULL), BLK_S_IOERR);
	/* The 8-sector disk ends at sector 8, whatever the partial tail. */
	disk.fail = 0;
	assert_int_equal(blk_request(d, BLK_T_IN, 8, DATA, 512, true, NULL), BLK_S_IOERR);
	vm_teardown(d);
}

/* A read-only disk never reaches the backing store's write method (the file-backed case above
 * would fail the write anyway, as its descriptor is read-only). */
static void test_blk_read_only_never_writes(void **state)
{
	static const struct hyp_blk_ops ops = { ram_read, ram_write, ram_flush };
	struct ram_disk disk = { .fail = 0 };
	struct hyp_virtio_blk_config cfg = {
		.size = sizeof(cfg),
		.flags = HYP_DEV_READ_ONLY,
		.base = VBASE,
		.intid = VINTID,
		.ops = &ops,
		.ops_opaque = &disk,
		.disk_size = sizeof(disk.bytes),
	};
	static const struct hyp_blk_ops read_only_ops = { .read = ram_read };
	struct drv *d = malloc(sizeof(*d));

	(void)state;
	assert_non_null(d);
	vm_setup(d);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	init_device(d, 1, 8);
	memset(gpa(d, DATA, 512), 0x99, 512);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 512, false, NULL), BLK_S_IOERR);
	for (unsigned i = 0; i < sizeof(disk.bytes); i++)
		assert_int_equal(disk.bytes[i], 0);
	hyp_virtio_blk_destroy(d->blk);
	/* Without a write method at all, for a read-only disk. */
	cfg.ops = &read_only_ops;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), 0);
	init_device(d, 1, 8);
	assert_int_equal(blk_request(d, BLK_T_OUT, 0, DATA, 512, false, NULL), BLK_S_IOERR);
	assert_int_equal(blk_request(d, BLK_T_IN, 0, DATA, 512, true, NULL), BLK_S_OK);
	assert_int_equal(*gpa(d, DATA, 1), 0);
	vm_teardown(d);
}

static void test_blk_create_errors(void **state)
{
	static const struct hyp_blk_ops no_write = { .read = ram_read };
	struct ram_disk disk;
	struct drv *d = malloc(sizeof(*d));
	struct hyp_virtio_blk_config cfg = { .size = sizeof(cfg), .base = VBASE, .intid = VINTID };
	struct hyp_virtio_blk *blk = (struct hyp_virtio_blk *)&cfg, *sentinel = blk;
	int fd;

	(void)state;
	assert_non_null(d);
	vm_setup(d);
	make_image(d);
	/* No backing, or two. */
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.path = d->path;
	cfg.flags = HYP_DEV_BACKING_FD;
	cfg.fd = d->fd;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.flags = 0;
	cfg.ops = &no_write;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.path = NULL;
	/* Callbacks without write for a writable disk. */
	cfg.ops_opaque = &disk;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.ops = NULL;
	/* A missing image: -ENOENT, and a message saying why. */
	cfg.path = "/nonexistent/libhyp/disk.img";
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -ENOENT);
	/* A directory is not a disk (read-only open succeeds, the type check refuses it). */
	cfg.path = "/tmp";
	cfg.flags = HYP_DEV_READ_ONLY;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.flags = 0;
	assert_true(hyp_virtio_blk_create(d->t.vm, &cfg, &blk) < 0);
	cfg.path = NULL;
	/* Descriptors: not open, write-only, read-only for a writable disk. */
	cfg.flags = HYP_DEV_BACKING_FD;
	cfg.fd = -1;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	fd = open(d->path, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	cfg.fd = fd; /* closed */
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EBADF);
	fd = open(d->path, O_WRONLY);
	cfg.fd = fd;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EBADF);
	close(fd);
	fd = open(d->path, O_RDONLY);
	cfg.fd = fd;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EBADF);
	/* A pipe is not a disk. */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	cfg.fd = fds[0];
	cfg.flags = HYP_DEV_BACKING_FD | HYP_DEV_READ_ONLY;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	close(fds[0]);
	close(fds[1]);
	/* Base and interrupt. */
	cfg.fd = fd;
	cfg.base = 0;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.base = VBASE;
	cfg.intid = 12;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.intid = VINTID;
	cfg.flags |= 1u << 20;
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), -EINVAL);
	cfg.flags &= ~(1u << 20);
	assert_int_equal(hyp_virtio_blk_create(NULL, &cfg, &blk), -EINVAL);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, NULL, &blk), -EINVAL);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, NULL), -EINVAL);
	assert_ptr_equal(blk, sentinel);
	hyp_virtio_blk_destroy(NULL);
	/* A read-only descriptor for a read-only disk works, and is not closed by destroy. */
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &blk), 0);
	assert_int_equal(hyp_virtio_blk_create(d->t.vm, &cfg, &d->blk), -EEXIST);
	hyp_virtio_blk_destroy(blk);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);
	d->blk = NULL;
	vm_teardown(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_feature_negotiation_and_reset),
		cmocka_unit_test(test_queue_config_frozen_while_ready),
		cmocka_unit_test(test_console_transmit),
		cmocka_unit_test(test_late_acknowledgement),
		cmocka_unit_test(test_console_receive),
		cmocka_unit_test(test_console_emergency_write),
		cmocka_unit_test(test_console_receive_from_tx_fn),
		cmocka_unit_test(test_console_transmit_backpressure),
		cmocka_unit_test(test_console_try_fn_misuse),
		cmocka_unit_test(test_console_concurrent_input),
		cmocka_unit_test(test_bad_queue_setup),
		cmocka_unit_test(test_notify_unusable_queue),
		cmocka_unit_test(test_descriptor_loop),
		cmocka_unit_test(test_chain_longer_than_queue),
		cmocka_unit_test(test_bad_descriptor_indices_and_indirect_tables),
		cmocka_unit_test(test_buffers_outside_ram),
		cmocka_unit_test(test_console_api_misuse),
		cmocka_unit_test(test_blk_probe),
		cmocka_unit_test(test_blk_read_write_flush_id),
		cmocka_unit_test(test_blk_io_thread_requests),
		cmocka_unit_test(test_blk_io_thread_is_asynchronous),
		cmocka_unit_test(test_blk_io_thread_batch_reset_destroy),
		cmocka_unit_test(test_blk_refilled_ring),
		cmocka_unit_test(test_blk_scattered_request),
		cmocka_unit_test(test_blk_bad_later_buffer),
		cmocka_unit_test(test_blk_many_pieces),
		cmocka_unit_test(test_blk_event_idx),
		cmocka_unit_test(test_blk_bad_requests),
		cmocka_unit_test(test_blk_short_header_and_layout),
		cmocka_unit_test(test_blk_read_only),
		cmocka_unit_test(test_blk_caller_ops),
		cmocka_unit_test(test_blk_read_only_never_writes),
		cmocka_unit_test(test_blk_create_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
