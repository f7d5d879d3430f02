/* SPDX-License-Identifier: MIT */
/*
 * Lifecycle soak (issue 10 item 20): many cycles of create VM / map / create vCPUs and the
 * library's devices (PL011, PL031, virtio-blk, virtio-console) / run / destroy, on the mock
 * backend. Every cycle drives each device from the guest side (a virtio-blk read request through
 * a real split queue included), runs a second vCPU on its own thread until the guest's
 * SYSTEM_OFF stops it, and tears everything down. The VM's allocator counts: a cycle that leaves
 * one block behind fails here, in any build; scripts/run-tests.sh also runs this under
 * LeakSanitizer, which sees what bypasses the allocator.
 *
 *   soak-lifecycle [CYCLES]      (default 10000; prints TAP)
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (256u << 10)
#define DISK_SIZE (64u << 10)

#define BLK_BASE HYP_VIRTIO_MMIO_SLOT_BASE(0)
#define CON_BASE HYP_VIRTIO_MMIO_SLOT_BASE(1)

/* virtio-mmio registers (virtio 1.2, 4.2.2) and split-queue layout (2.7) the guest side uses. */
#define VIO_MAGIC 0x000
#define VIO_DEVICE_ID 0x008
#define VIO_DRIVER_FEATURES 0x020
#define VIO_DRIVER_FEATURES_SEL 0x024
#define VIO_QUEUE_SEL 0x030
#define VIO_QUEUE_NUM 0x038
#define VIO_QUEUE_READY 0x044
#define VIO_QUEUE_NOTIFY 0x050
#define VIO_STATUS 0x070
#define VIO_QUEUE_DESC 0x080
#define VIO_QUEUE_DRIVER 0x090
#define VIO_QUEUE_DEVICE 0x0a0
#define VIO_CONFIG 0x100

#define DESC (RAM_BASE + 0x1000)
#define AVAIL (RAM_BASE + 0x2000)
#define USED (RAM_BASE + 0x3000)
#define REQ_HDR (RAM_BASE + 0x4000)
#define REQ_DATA (RAM_BASE + 0x5000)
#define REQ_STATUS (RAM_BASE + 0x6000)

struct counting_alloc {
	long live_blocks;
	long live_bytes;
	long total;
};

static void *count_alloc(void *opaque, size_t size, size_t align)
{
	struct counting_alloc *c = opaque;
	void *p = aligned_alloc(align < sizeof(void *) ? sizeof(void *) : align,
				(size + align - 1) / align * align);

	if (p) {
		c->live_blocks++;
		c->live_bytes += (long)size;
		c->total++;
	}
	return p;
}

static void count_free(void *opaque, void *ptr, size_t size)
{
	struct counting_alloc *c = opaque;

	if (!ptr)
		return;
	c->live_blocks--;
	c->live_bytes -= (long)size;
	free(ptr);
}

static uint8_t disk[DISK_SIZE];

static int disk_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	(void)opaque;
	memcpy(buf, disk + offset, len);
	return 0;
}

static int disk_write(void *opaque, uint64_t offset, const void *buf, size_t len)
{
	(void)opaque;
	memcpy(disk + offset, buf, len);
	return 0;
}

static size_t out_bytes;

static void count_tx(void *opaque, const void *bytes, size_t len)
{
	(void)opaque;
	(void)bytes;
	out_bytes += len;
}

static uint64_t fixed_clock(void *opaque)
{
	(void)opaque;
	return 1700000000ull;
}

struct cycle {
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu[2];
	uint8_t *ram;
	const char *failed;
};

#define CHECK(c, cond)                                                                             \
	do {                                                                                       \
		if (!(cond) && !(c)->failed)                                                       \
			(c)->failed = #cond;                                                       \
	} while (0)

/* The guest stores @value (@len bytes) at @ipa: one trapped access, run to the end of the script. */
static void guest_write(struct cycle *c, uint64_t ipa, unsigned len, uint64_t value)
{
	CHECK(c, hyp_vcpu_set_reg(c->vcpu[0], HYP_REG_X(1), value) == 0);
	CHECK(c, hyp_mock_push_mmio(c->vcpu[0], ipa, len, 1, HYP_MOCK_MMIO_WRITE) == 0);
	CHECK(c, hyp_vcpu_run(c->vcpu[0]) == -ENODATA);
}

static uint64_t guest_read(struct cycle *c, uint64_t ipa, unsigned len)
{
	uint64_t value = ~0ull;

	CHECK(c, hyp_mock_push_mmio(c->vcpu[0], ipa, len, 2, 0) == 0);
	CHECK(c, hyp_vcpu_run(c->vcpu[0]) == -ENODATA);
	CHECK(c, hyp_vcpu_get_reg(c->vcpu[0], HYP_REG_X(2), &value) == 0);
	return value;
}

static void put_le(uint8_t *p, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *gpa(struct cycle *c, uint64_t ipa)
{
	return c->ram + (ipa - RAM_BASE);
}

static void desc(struct cycle *c, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = gpa(c, DESC + 16 * i);

	put_le(d, addr, 8);
	put_le(d + 8, len, 4);
	put_le(d + 12, flags, 2);
	put_le(d + 14, next, 2);
}

/* A virtio driver's bring-up (3.1.1) and one VIRTIO_BLK_T_IN of sector 1 (5.2.6). */
static void drive_blk(struct cycle *c)
{
	CHECK(c, guest_read(c, BLK_BASE + VIO_MAGIC, 4) == 0x74726976);
	CHECK(c, guest_read(c, BLK_BASE + VIO_DEVICE_ID, 4) == 2);
	guest_write(c, BLK_BASE + VIO_STATUS, 4, 0x3); /* ACKNOWLEDGE | DRIVER */
	guest_write(c, BLK_BASE + VIO_DRIVER_FEATURES_SEL, 4, 1);
	guest_write(c, BLK_BASE + VIO_DRIVER_FEATURES, 4, 1); /* VIRTIO_F_VERSION_1 */
	guest_write(c, BLK_BASE + VIO_STATUS, 4, 0xb);	      /* + FEATURES_OK */
	CHECK(c, guest_read(c, BLK_BASE + VIO_STATUS, 4) == 0xb);
	guest_write(c, BLK_BASE + VIO_QUEUE_SEL, 4, 0);
	guest_write(c, BLK_BASE + VIO_QUEUE_NUM, 4, 8);
	guest_write(c, BLK_BASE + VIO_QUEUE_DESC, 4, (uint32_t)DESC);
	guest_write(c, BLK_BASE + VIO_QUEUE_DRIVER, 4, (uint32_t)AVAIL);
	guest_write(c, BLK_BASE + VIO_QUEUE_DEVICE, 4, (uint32_t)USED);
	guest_write(c, BLK_BASE + VIO_QUEUE_READY, 4, 1);
	guest_write(c, BLK_BASE + VIO_STATUS, 4, 0xf); /* + DRIVER_OK */

	memset(gpa(c, REQ_HDR), 0, 16);
	put_le(gpa(c, REQ_HDR) + 8, 1, 8); /* type IN, sector 1 */
	*gpa(c, REQ_STATUS) = 0xff;
	desc(c, 0, REQ_HDR, 16, 1 /* NEXT */, 1);
	desc(c, 1, REQ_DATA, 512, 3 /* NEXT | WRITE */, 2);
	desc(c, 2, REQ_STATUS, 1, 2 /* WRITE */, 0);
	put_le(gpa(c, AVAIL), 0, 2);
	put_le(gpa(c, AVAIL) + 4, 0, 2);
	put_le(gpa(c, AVAIL) + 2, 1, 2);
	guest_write(c, BLK_BASE + VIO_QUEUE_NOTIFY, 4, 0);
	CHECK(c, gpa(c, USED)[2] == 1);
	CHECK(c, *gpa(c, REQ_STATUS) == 0);
	CHECK(c, memcmp(gpa(c, REQ_DATA), disk + 512, 512) == 0);
}

static void *run_secondary(void *arg)
{
	struct cycle *c = arg;

	/* Powered off: waits inside run until the guest's SYSTEM_OFF ends the VM. */
	CHECK(c, hyp_vcpu_run(c->vcpu[1]) == 0);
	CHECK(c, hyp_vcpu_exit(c->vcpu[1])->reason == HYP_EXIT_SYSTEM_EVENT);
	return NULL;
}

static void one_cycle(struct cycle *c, struct counting_alloc *counter)
{
	struct hyp_alloc_ops alloc = { count_alloc, count_free, counter };
	struct hyp_vm_config cfg = {
		.size = sizeof(cfg), .backend = "mock", .alloc = &alloc, .max_vcpus = 2
	};
	struct hyp_pl011_config uc = { .size = sizeof(uc), .tx_fn = count_tx };
	struct hyp_pl031_config rc = { .size = sizeof(rc), .clock_fn = fixed_clock };
	struct hyp_blk_ops ops = { .read = disk_read, .write = disk_write };
	struct hyp_virtio_blk_config bc = { .size = sizeof(bc),
					    .base = BLK_BASE,
					    .intid = HYP_VIRTIO_MMIO_SLOT_INTID(0),
					    .ops = &ops,
					    .disk_size = DISK_SIZE };
	struct hyp_virtio_console_config cc = { .size = sizeof(cc),
						.base = CON_BASE,
						.intid = HYP_VIRTIO_MMIO_SLOT_INTID(1),
						.tx_fn = count_tx };
	struct hyp_vcpu_config vc = { .size = sizeof(vc), .index = 1, .power = HYP_VCPU_POWER_OFF };
	struct hyp_pl011 *uart = NULL;
	struct hyp_pl031 *rtc = NULL;
	struct hyp_virtio_blk *blk = NULL;
	struct hyp_virtio_console *con = NULL;
	pthread_t secondary;
	bool started = false;

	if (hyp_vm_create(&cfg, &c->vm)) {
		c->failed = "hyp_vm_create";
		return;
	}
	CHECK(c, hyp_vm_map(c->vm, RAM_BASE, c->ram, RAM_SIZE, HYP_MEM_RWX) == 0);
	CHECK(c, hyp_vcpu_create(c->vm, NULL, &c->vcpu[0]) == 0);
	CHECK(c, hyp_vcpu_create(c->vm, &vc, &c->vcpu[1]) == 0);
	CHECK(c, hyp_pl011_create(c->vm, &uc, &uart) == 0);
	CHECK(c, hyp_pl031_create(c->vm, &rc, &rtc) == 0);
	CHECK(c, hyp_virtio_blk_create(c->vm, &bc, &blk) == 0);
	CHECK(c, hyp_virtio_console_create(c->vm, &cc, &con) == 0);
	if (c->failed)
		goto destroy;
	CHECK(c, hyp_vcpu_set_reg(c->vcpu[0], HYP_REG_PC, RAM_BASE) == 0);
	CHECK(c, pthread_create(&secondary, NULL, run_secondary, c) == 0);
	started = !c->failed;

	/* UARTCR: UARTEN, TXE, RXE; UARTIMSC: RXIM; then a byte out through UARTDR. */
	guest_write(c, HYP_DEFAULT_UART_BASE + 0x30, 4, 0x301);
	guest_write(c, HYP_DEFAULT_UART_BASE + 0x38, 4, 0x10);
	guest_write(c, HYP_DEFAULT_UART_BASE, 4, 'x');
	CHECK(c, guest_read(c, HYP_DEFAULT_RTC_BASE, 4) == 1700000000u); /* RTCDR */
	CHECK(c, hyp_pl011_receive(uart, "i", 1) == 1); /* no FIFO: one character */
	CHECK(c, (guest_read(c, HYP_DEFAULT_UART_BASE, 4) & 0xff) == 'i');
	drive_blk(c);
	CHECK(c, guest_read(c, CON_BASE + VIO_DEVICE_ID, 4) == 3);
	guest_write(c, CON_BASE + VIO_CONFIG + 8, 4, 'e'); /* emerg_wr */
	CHECK(c, hyp_virtio_console_receive(con, "held", 4) == 4);

	/* SYSTEM_OFF: this vCPU reports it, and the waiting one is kicked out with it. */
	CHECK(c,
	      hyp_mock_push_smccc(c->vcpu[0], HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL) == 0);
	CHECK(c, hyp_vcpu_run(c->vcpu[0]) == 0);
	CHECK(c, hyp_vcpu_exit(c->vcpu[0])->reason == HYP_EXIT_SYSTEM_EVENT);
destroy:
	if (started)
		pthread_join(secondary, NULL);
	hyp_virtio_console_destroy(con);
	hyp_virtio_blk_destroy(blk);
	hyp_pl031_destroy(rtc);
	hyp_pl011_destroy(uart);
	CHECK(c, hyp_vm_destroy(c->vm) == 0);
}

int main(int argc, char **argv)
{
	long cycles = argc > 1 ? strtol(argv[1], NULL, 0) : 10000;
	struct counting_alloc counter = { 0 };
	struct cycle c = { 0 };
	struct timespec t0, t1;
	long done = 0;

	for (size_t i = 0; i < DISK_SIZE; i++)
		disk[i] = (uint8_t)(i * 13 + i / 512);
	c.ram = aligned_alloc(HYP_PAGE_SIZE, RAM_SIZE);
	if (!c.ram || cycles <= 0) {
		printf("Bail out! bad arguments or no memory\n");
		return 1;
	}
	printf("1..2\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < cycles && !c.failed) {
		memset(c.ram, 0, RAM_SIZE);
		one_cycle(&c, &counter);
		done++;
		if (counter.live_blocks || counter.live_bytes) {
			c.failed = "allocations left after the cycle";
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s 1 - %ld create/map/run/destroy cycles with 4 devices and 2 vCPUs%s%s\n",
	       c.failed ? "not ok" : "ok", done, c.failed ? ": failed: " : "",
	       c.failed ? c.failed : "");
	printf("%s 2 - nothing left allocated (%ld blocks, %ld bytes live; %ld allocations)\n",
	       counter.live_blocks || counter.live_bytes ? "not ok" : "ok", counter.live_blocks,
	       counter.live_bytes, counter.total);
	printf("# %.2f s, %.0f us per cycle, %zu bytes of guest output\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		       (double)(done ? done : 1),
	       out_bytes);
	free(c.ram);
	return c.failed || counter.live_blocks || counter.live_bytes;
}
