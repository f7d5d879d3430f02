/* SPDX-License-Identifier: MIT */
/*
 * The PL011 UART model, driven through the mock backend the way a driver drives the hardware:
 * the amba bus reading the ID registers, Linux's amba-pl011 start-up sequence, earlycon's polled
 * output, the interrupt handler draining the receive FIFO, and hostile accesses. Values are the
 * PL011 TRM's (ARM DDI 0183).
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <libhyp/backend.h>

#include "test-stub-backend.h"

#include "test-helpers.h"

#define UART 0x09000000ull
#define INTID 33u

#define DR 0x000
#define RSR 0x004
#define FR 0x018
#define IBRD 0x024
#define FBRD 0x028
#define LCR_H 0x02c
#define CR 0x030
#define IFLS 0x034
#define IMSC 0x038
#define RIS 0x03c
#define MIS 0x040
#define ICR 0x044
#define DMACR 0x048

#define FR_CTS 0x001u
#define FR_DSR 0x002u
#define FR_DCD 0x004u
#define FR_BUSY 0x008u
#define FR_RXFE 0x010u
#define FR_TXFF 0x020u
#define FR_RXFF 0x040u
#define FR_TXFE 0x080u
#define FR_RI 0x100u

#define LCR_H_FEN 0x10u
#define LCR_H_WLEN8 0x60u
#define CR_UARTEN 0x001u
#define CR_LBE 0x080u
#define CR_TXE 0x100u
#define CR_RXE 0x200u
#define CR_DTR 0x400u
#define CR_RTS 0x800u

#define INT_RX 0x10u
#define INT_TX 0x20u
#define INT_RT 0x40u
#define INT_OE 0x400u

struct sink {
	char bytes[4096];
	size_t len;
	unsigned calls;
	unsigned rx_ready;
	struct hyp_pl011 *echo_to; /* if set, the callback echoes into this UART */
};

static void sink_tx(void *opaque, const void *bytes, size_t len)
{
	struct sink *s = opaque;

	assert_true(s->len + len <= sizeof(s->bytes));
	memcpy(s->bytes + s->len, bytes, len);
	s->len += len;
	s->calls++;
	if (s->echo_to)
		hyp_pl011_receive(s->echo_to, bytes, len);
}

static void sink_rx_ready(void *opaque)
{
	((struct sink *)opaque)->rx_ready++;
}

static void wr(struct test_vm *t, uint64_t offset, uint32_t len, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_X(1), value), 0);
	assert_int_equal(hyp_mock_push_mmio(t->vcpu, UART + offset, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(t->vcpu);
}

static uint64_t rd(struct test_vm *t, uint64_t offset, uint32_t len)
{
	assert_int_equal(hyp_vcpu_set_reg(t->vcpu, HYP_REG_X(2), 0xdeadbeefdeadbeefull), 0);
	assert_int_equal(hyp_mock_push_mmio(t->vcpu, UART + offset, len, 2,
					    len == 8 ? HYP_MOCK_MMIO_REG64 : 0),
			 0);
	test_run_to_end(t->vcpu);
	return test_reg(t->vcpu, HYP_REG_X(2));
}

static int spi(struct test_vm *t)
{
	return hyp_mock_irq_level(t->vm, NULL, INTID);
}

static struct hyp_pl011 *create(struct test_vm *t, struct sink *s)
{
	struct hyp_pl011_config cfg = {
		.size = sizeof(cfg),
		.tx_fn = sink_tx,
		.tx_opaque = s,
		.rx_ready_fn = sink_rx_ready,
		.rx_ready_opaque = s,
	};
	struct hyp_pl011 *uart = NULL;

	memset(s, 0, sizeof(*s));
	test_vm_create(t);
	assert_int_equal(hyp_pl011_create(t->vm, &cfg, &uart), 0);
	assert_non_null(uart);
	return uart;
}

/* What amba-pl011's startup does: clear interrupts, FIFO levels, 8N1 with FIFOs, enable, unmask
 * RX and RT. */
static void linux_startup(struct test_vm *t)
{
	wr(t, ICR, 2, 0x7ff);
	wr(t, IFLS, 2, 0x12);
	wr(t, IBRD, 2, 13);
	wr(t, FBRD, 2, 1);
	wr(t, LCR_H, 2, LCR_H_FEN | LCR_H_WLEN8);
	wr(t, CR, 2, CR_UARTEN | CR_TXE | CR_RXE | CR_DTR | CR_RTS);
	wr(t, IMSC, 2, INT_RX | INT_RT);
}

static void test_probe_and_reset_values(void **state)
{
	static const uint8_t ids[8] = { 0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	/* The amba bus reads PeriphID0-3 and PCellID0-3 with 32-bit loads. */
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(&t, 0xfe0 + 4 * i, 4), ids[i]);
	/* And byte loads see the same low byte. */
	assert_int_equal(rd(&t, 0xfe8, 1), 0x34);
	/* TRM reset values. */
	assert_int_equal(rd(&t, FR, 2), FR_TXFE | FR_RXFE | FR_CTS | FR_DSR | FR_DCD);
	assert_int_equal(rd(&t, CR, 2), CR_TXE | CR_RXE);
	assert_int_equal(rd(&t, IFLS, 2), 0x12);
	assert_int_equal(rd(&t, LCR_H, 2), 0);
	assert_int_equal(rd(&t, IMSC, 2), 0);
	assert_int_equal(rd(&t, RIS, 2), 0);
	assert_int_equal(rd(&t, MIS, 2), 0);
	assert_int_equal(spi(&t), 0);
	/* Plain registers hold what is written, masked to their width. */
	wr(&t, IBRD, 4, 0x12345678);
	assert_int_equal(rd(&t, IBRD, 4), 0x5678);
	wr(&t, FBRD, 4, 0xff);
	assert_int_equal(rd(&t, FBRD, 4), 0x3f);
	wr(&t, DMACR, 4, 0xff);
	assert_int_equal(rd(&t, DMACR, 4), 0x7);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_transmit(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	/* earlycon: poll TXFF, store the byte (8 or 32 bits), poll BUSY. Works without enabling the
	 * UART, as on QEMU's virt board. */
	const char *msg = "Hi!\n";
	for (unsigned i = 0; msg[i]; i++) {
		assert_int_equal(rd(&t, FR, 4) & (FR_TXFF | FR_BUSY), 0);
		wr(&t, DR, i % 2 ? 1 : 4, (uint8_t)msg[i] | 0xabcd00u);
		assert_int_equal(rd(&t, FR, 4) & (FR_TXFF | FR_BUSY), 0);
		assert_true(rd(&t, FR, 4) & FR_TXFE);
	}
	assert_int_equal(s.len, 4);
	assert_memory_equal(s.bytes, msg, 4);
	assert_int_equal(s.calls, 4);
	/* No interrupt while everything is masked, although TXRIS latched. */
	assert_int_equal(rd(&t, RIS, 2) & INT_TX, INT_TX);
	assert_int_equal(spi(&t), 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_transmit_to_fd(void **state)
{
	struct hyp_pl011_config cfg = { .size = sizeof(cfg), .flags = HYP_DEV_TX_FD };
	struct hyp_pl011 *uart;
	struct test_vm t;
	int fds[2];
	char buf[8] = { 0 };

	(void)state;
	assert_int_equal(pipe(fds), 0);
	test_vm_create(&t);
	cfg.tx_fd = fds[1];
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), 0);
	wr(&t, DR, 4, 'o');
	wr(&t, DR, 4, 'k');
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
	close(fds[0]);
	close(fds[1]);
}

static void test_receive_and_timeout_interrupt(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	linux_startup(&t);
	assert_int_equal(spi(&t), 0);
	assert_int_equal(hyp_pl011_receive(uart, "abc", 3), 3);
	/* Three characters are below the 1/2 trigger (16): only the receive timeout fires. */
	assert_int_equal(rd(&t, FR, 2) & (FR_RXFE | FR_RXFF), 0);
	assert_int_equal(rd(&t, RIS, 2), INT_RT);
	assert_int_equal(rd(&t, MIS, 2), INT_RT);
	assert_int_equal(spi(&t), 1);
	assert_int_equal(hyp_mock_irq_count(t.vm, NULL, INTID), 1);
	/* The interrupt handler drains the FIFO until RXFE. */
	assert_int_equal(rd(&t, DR, 2), 'a');
	assert_int_equal(rd(&t, DR, 2), 'b');
	assert_int_equal(spi(&t), 1);
	assert_int_equal(rd(&t, DR, 2), 'c');
	assert_true(rd(&t, FR, 2) & FR_RXFE);
	assert_int_equal(rd(&t, RIS, 2), 0);
	assert_int_equal(spi(&t), 0);
	/* An empty FIFO reads 0 and changes nothing. */
	assert_int_equal(rd(&t, DR, 2), 0);
	assert_int_equal(rd(&t, RSR, 4), 0);
	assert_int_equal(s.rx_ready, 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_receive_trigger_level_and_full_fifo(void **state)
{
	char in[64];
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (char)('A' + i % 26);
	uart = create(&t, &s);
	linux_startup(&t);
	/* 15 characters: below the trigger level. */
	assert_int_equal(hyp_pl011_receive(uart, in, 15), 15);
	assert_int_equal(rd(&t, RIS, 2), INT_RT);
	/* The 16th reaches it: RXRIS. */
	assert_int_equal(hyp_pl011_receive(uart, in + 15, 1), 1);
	assert_int_equal(rd(&t, RIS, 2), INT_RT | INT_RX);
	/* Reading one drops below the trigger: RX clears, RT stays until the FIFO is empty. */
	assert_int_equal(rd(&t, DR, 4), 'A');
	assert_int_equal(rd(&t, RIS, 2), INT_RT);
	/* The 32-entry FIFO takes 17 more and refuses the rest: no overrun, nothing lost. */
	assert_int_equal(hyp_pl011_receive(uart, in + 16, 48), 17);
	assert_true(rd(&t, FR, 2) & FR_RXFF);
	assert_int_equal(rd(&t, RSR, 4), 0);
	assert_int_equal(hyp_pl011_receive(uart, in + 33, 1), 0);
	assert_int_equal(s.rx_ready, 0);
	/* Making room tells the VMM, once. */
	assert_int_equal(rd(&t, DR, 4), 'B');
	assert_int_equal(s.rx_ready, 1);
	assert_int_equal(rd(&t, DR, 4), 'C');
	assert_int_equal(s.rx_ready, 1);
	/* Everything arrives in order. */
	for (unsigned i = 3; i < 33; i++)
		assert_int_equal(rd(&t, DR, 4), in[i]);
	assert_true(rd(&t, FR, 2) & FR_RXFE);
	assert_int_equal(spi(&t), 0);
	/* A lower trigger level (IFLS.RXIFLSEL = 0: 1/8 = 4 entries). */
	wr(&t, IFLS, 2, 0);
	assert_int_equal(hyp_pl011_receive(uart, in, 4), 4);
	assert_int_equal(rd(&t, RIS, 2), INT_RT | INT_RX);
	/* ICR clears latched interrupts; the data stays. */
	wr(&t, ICR, 2, INT_RT | INT_RX);
	assert_int_equal(rd(&t, RIS, 2), 0);
	assert_int_equal(spi(&t), 0);
	assert_int_equal(rd(&t, DR, 4), 'A');
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_receiver_disabled(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	/* Out of reset UARTEN is clear: input waits with the VMM. */
	assert_int_equal(hyp_pl011_receive(uart, "x", 1), 0);
	assert_true(rd(&t, FR, 2) & FR_RXFE);
	assert_int_equal(s.rx_ready, 0);
	wr(&t, CR, 2, CR_UARTEN | CR_TXE);
	assert_int_equal(s.rx_ready, 0); /* RXE still clear */
	assert_int_equal(hyp_pl011_receive(uart, "x", 1), 0);
	wr(&t, CR, 2, CR_UARTEN | CR_TXE | CR_RXE);
	assert_int_equal(s.rx_ready, 1);
	assert_int_equal(hyp_pl011_receive(uart, "x", 1), 1);
	/* Zero bytes are fine, and accepted as zero. */
	assert_int_equal(hyp_pl011_receive(uart, NULL, 0), 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_fifo_disabled(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	linux_startup(&t);
	assert_int_equal(hyp_pl011_receive(uart, "pq", 2), 2);
	/* Clearing FEN makes the FIFO a 1-character holding register (and empties it). */
	wr(&t, LCR_H, 2, LCR_H_WLEN8);
	assert_true(rd(&t, FR, 2) & FR_RXFE);
	assert_int_equal(rd(&t, RIS, 2), 0);
	assert_int_equal(hyp_pl011_receive(uart, "xy", 2), 1);
	assert_int_equal(rd(&t, FR, 2) & (FR_RXFE | FR_RXFF), FR_RXFF);
	/* One character is the trigger level without FIFOs. */
	assert_int_equal(rd(&t, RIS, 2), INT_RX | INT_RT);
	assert_int_equal(rd(&t, DR, 2), 'x');
	assert_int_equal(s.rx_ready, 1);
	assert_int_equal(hyp_pl011_receive(uart, "y", 1), 1);
	assert_int_equal(rd(&t, DR, 2), 'y');
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_tx_interrupt_mask_and_clear(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	linux_startup(&t);
	/* start_tx: write what fits, then unmask TXIM; the FIFO drained, so TX is pending. */
	wr(&t, DR, 2, 'x');
	wr(&t, IMSC, 2, INT_RX | INT_RT | INT_TX);
	assert_int_equal(rd(&t, MIS, 2), INT_TX);
	assert_int_equal(spi(&t), 1);
	/* Masking drops the line but keeps the raw status. */
	wr(&t, IMSC, 2, INT_RX | INT_RT);
	assert_int_equal(spi(&t), 0);
	assert_int_equal(rd(&t, RIS, 2), INT_TX);
	assert_int_equal(rd(&t, MIS, 2), 0);
	wr(&t, IMSC, 2, INT_RX | INT_RT | INT_TX);
	assert_int_equal(spi(&t), 1);
	/* ICR clears it, and the next byte sets it again. */
	wr(&t, ICR, 2, INT_TX);
	assert_int_equal(spi(&t), 0);
	assert_int_equal(rd(&t, RIS, 2), 0);
	wr(&t, DR, 2, 'y');
	assert_int_equal(spi(&t), 1);
	assert_int_equal(hyp_mock_irq_count(t.vm, NULL, INTID), 3);
	/* RX joins in: the line stays up while either is pending. */
	assert_int_equal(hyp_pl011_receive(uart, "z", 1), 1);
	wr(&t, ICR, 2, INT_TX);
	assert_int_equal(spi(&t), 1);
	assert_int_equal(rd(&t, DR, 2), 'z');
	assert_int_equal(spi(&t), 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_loopback(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	linux_startup(&t);
	wr(&t, CR, 2, CR_UARTEN | CR_TXE | CR_RXE | CR_LBE | CR_RTS);
	/* The modem outputs drive the inputs: RTS -> CTS, DTR clear -> DSR clear. */
	assert_int_equal(rd(&t, FR, 2) & (FR_CTS | FR_DSR | FR_DCD | FR_RI), FR_CTS);
	wr(&t, DR, 4, 'L');
	assert_int_equal(s.len, 0);
	assert_int_equal(rd(&t, RIS, 2) & (INT_RT | INT_TX), INT_RT | INT_TX);
	/* The external line is disconnected in loopback. */
	assert_int_equal(hyp_pl011_receive(uart, "e", 1), 0);
	assert_int_equal(rd(&t, DR, 2), 'L');
	/* Overrunning the FIFO in loopback sets OE. */
	for (unsigned i = 0; i < 33; i++)
		wr(&t, DR, 4, '0' + i % 10);
	assert_int_equal(rd(&t, RSR, 4), 0x8);
	assert_int_equal(rd(&t, RIS, 2) & INT_OE, INT_OE);
	wr(&t, RSR, 4, 0); /* ECR */
	assert_int_equal(rd(&t, RSR, 4), 0);
	assert_int_equal(s.len, 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_hostile_accesses(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	linux_startup(&t);
	assert_int_equal(hyp_pl011_receive(uart, "ab", 2), 2);
	/* 64-bit and misaligned loads read as zero and do not pop the FIFO. */
	assert_int_equal(rd(&t, DR, 8), 0);
	assert_int_equal(rd(&t, DR + 2, 4), 0);
	assert_int_equal(rd(&t, DR + 1, 2), 0);
	/* None of them popped the FIFO. */
	assert_int_equal(rd(&t, FR, 2) & FR_RXFE, 0);
	/* 64-bit and misaligned stores write nothing. */
	wr(&t, DR, 8, 'X');
	wr(&t, DR + 1, 1, 'Y');
	wr(&t, IMSC + 2, 2, 0xffff);
	assert_int_equal(s.len, 0);
	assert_int_equal(rd(&t, IMSC, 4), INT_RX | INT_RT);
	/* Read-only registers ignore writes; reserved space reads zero. */
	wr(&t, FR, 4, 0);
	wr(&t, RIS, 4, 0x7ff);
	wr(&t, MIS, 4, 0x7ff);
	wr(&t, 0xfe0, 4, 0);
	assert_int_equal(rd(&t, 0xfe0, 4), 0x11);
	assert_int_equal(rd(&t, FR, 2) & FR_TXFE, FR_TXFE);
	assert_int_equal(rd(&t, RIS, 2), INT_RT);
	assert_int_equal(rd(&t, 0x100, 4), 0);
	assert_int_equal(rd(&t, 0xffc + 2, 2), 0);
	/* An access straddling the end of the window is ignored. */
	assert_int_equal(rd(&t, 0xffe, 4), 0);
	/* The data is intact. */
	assert_int_equal(rd(&t, DR, 2), 'a');
	assert_int_equal(rd(&t, DR, 2), 'b');
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_echo_from_callback(void **state)
{
	struct test_vm t;
	struct sink s;
	struct hyp_pl011 *uart;

	(void)state;
	uart = create(&t, &s);
	s.echo_to = uart;
	linux_startup(&t);
	/* The tx callback runs without the device lock and can feed input back. */
	wr(&t, DR, 2, 'e');
	assert_int_equal(rd(&t, DR, 2), 'e');
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

static void test_api_misuse(void **state)
{
	struct hyp_pl011_config cfg = { .size = sizeof(cfg) };
	struct {
		struct hyp_pl011_config cfg;
		uint64_t newer_field;
	} big = { .cfg = { .size = sizeof(big) } };
	struct hyp_vm_config no_irq_vm = { .size = sizeof(no_irq_vm), .backend = "mock" };
	struct hyp_mock_config mock = { .size = sizeof(mock), .flags = HYP_MOCK_NO_IRQCHIP };
	struct hyp_pl011 *uart = (struct hyp_pl011 *)&cfg, *sentinel = uart, *second;
	struct test_vm t;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_pl011_create(NULL, &cfg, &uart), -EINVAL);
	assert_int_equal(hyp_pl011_create(t.vm, NULL, &uart), -EINVAL);
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, NULL), -EINVAL);
	cfg.size = 4;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.size = sizeof(cfg);
	cfg.flags = 1u << 30;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.flags = HYP_DEV_READ_ONLY; /* not a UART flag */
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.flags = 0;
	cfg.intid = 27; /* a PPI */
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.intid = 1020;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.intid = 0;
	cfg.flags = HYP_DEV_TX_FD;
	cfg.tx_fd = -1;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.tx_fd = 1;
	cfg.tx_fn = sink_tx;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -EINVAL);
	cfg.tx_fn = NULL;
	cfg.flags = 0;
	big.newer_field = 1;
	assert_int_equal(hyp_pl011_create(t.vm, &big.cfg, &uart), -E2BIG);
	assert_ptr_equal(uart, sentinel);
	/* A newer caller's zero fields are fine. */
	big.newer_field = 0;
	assert_int_equal(hyp_pl011_create(t.vm, &big.cfg, &uart), 0);
	/* The window is taken now. */
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &second), -EEXIST);
	assert_int_equal(hyp_pl011_receive(NULL, "a", 1), -EINVAL);
	assert_int_equal(hyp_pl011_receive(uart, NULL, 1), -EINVAL);
	hyp_pl011_destroy(uart);
	hyp_pl011_destroy(NULL);
	/* Destroyed means detached: the window can be reused. */
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), 0);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);

	/* A VM without an interrupt controller: only a polled UART. */
	no_irq_vm.backend_config = &mock;
	test_vm_create_with(&t, &no_irq_vm);
	uart = sentinel;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), -ENOTSUP);
	assert_ptr_equal(uart, sentinel);
	cfg.flags = HYP_DEV_NO_IRQ;
	assert_int_equal(hyp_pl011_create(t.vm, &cfg, &uart), 0);
	wr(&t, IMSC, 2, INT_TX);
	wr(&t, DR, 2, 'p');
	assert_int_equal(rd(&t, MIS, 2), INT_TX);
	hyp_pl011_destroy(uart);
	test_vm_destroy(&t);
}

/* ---- Input from another thread while a vCPU reads ------------------------------------------ */

#define STRESS_BYTES 3000u

struct feeder {
	struct hyp_pl011 *uart;
	unsigned sent;
};

static void *feed(void *opaque)
{
	struct feeder *f = opaque;

	while (f->sent < STRESS_BYTES) {
		uint8_t chunk[7];
		unsigned n = 0;
		int r;

		while (n < sizeof(chunk) && f->sent + n < STRESS_BYTES) {
			chunk[n] = (uint8_t)((f->sent + n) * 7);
			n++;
		}
		r = hyp_pl011_receive(f->uart, chunk, n);
		if (r < 0)
			return NULL;
		f->sent += (unsigned)r;
		if ((unsigned)r < n)
			sched_yield();
	}
	return NULL;
}

static void test_concurrent_input(void **state)
{
	struct test_vm t;
	struct sink s;
	struct feeder f;
	pthread_t thread;
	unsigned got = 0;

	(void)state;
	f.uart = create(&t, &s);
	f.sent = 0;
	linux_startup(&t);
	assert_int_equal(pthread_create(&thread, NULL, feed, &f), 0);
	while (got < STRESS_BYTES) {
		if (rd(&t, FR, 2) & FR_RXFE) {
			sched_yield();
			continue;
		}
		assert_int_equal(rd(&t, DR, 2), (uint8_t)(got * 7));
		got++;
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(f.sent, STRESS_BYTES);
	assert_true(rd(&t, FR, 2) & FR_RXFE);
	hyp_pl011_destroy(f.uart);
	test_vm_destroy(&t);
}

/* ---- Devices do not touch the interrupt controller while being created ------------------------ */

/* A backend that only records interrupt injections. On KVM the first injection initialises the
 * in-kernel GIC, after which vCPUs cannot be added: devices created before the vCPUs (the usual
 * order) must not inject anything until the guest gives them a reason. */
struct recorder {
	unsigned injections;
};

static int rec_vm_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	(void)vm;
	*value = cap == HYP_CAP_IRQ_INJECTION;
	return 0;
}

static int rec_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			  uint32_t intid, bool level)
{
	struct recorder *rec = hyp_backend_vm_state(vm);

	(void)vcpu;
	(void)kind;
	(void)intid;
	(void)level;
	rec->injections++;
	return 0;
}

static int rec_blk_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	(void)opaque;
	(void)offset;
	memset(buf, 0, len);
	return 0;
}

static void test_create_injects_nothing(void **state)
{
	static const struct hyp_backend_ops ops = {
		TEST_STUB_BACKEND("recorder"), .vm_state_size = sizeof(struct recorder),
		.vm_init = test_stub_vm_init,  .vm_query_cap = rec_vm_query_cap,
		.inject_irq = rec_inject_irq,
	};
	static const struct hyp_blk_ops disk = { .read = rec_blk_read };
	struct hyp_vm_config vm_cfg = { .size = sizeof(vm_cfg), .backend_ops = &ops };
	struct hyp_pl011_config uart_cfg = { .size = sizeof(uart_cfg) };
	struct hyp_pl031_config rtc_cfg = { .size = sizeof(rtc_cfg) };
	struct hyp_virtio_console_config con_cfg = {
		.size = sizeof(con_cfg),
		.base = HYP_VIRTIO_MMIO_SLOT_BASE(0),
		.intid = HYP_VIRTIO_MMIO_SLOT_INTID(0),
	};
	struct hyp_virtio_blk_config blk_cfg = {
		.size = sizeof(blk_cfg),
		.flags = HYP_DEV_READ_ONLY,
		.base = HYP_VIRTIO_MMIO_SLOT_BASE(1),
		.intid = HYP_VIRTIO_MMIO_SLOT_INTID(1),
		.ops = &disk,
		.disk_size = 4096,
	};
	struct hyp_pl011 *uart;
	struct hyp_pl031 *rtc;
	struct hyp_virtio_console *con;
	struct hyp_virtio_blk *blk;
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;
	uint64_t cap = 0;

	(void)state;
	assert_int_equal(hyp_vm_create(&vm_cfg, &vm), 0);
	assert_int_equal(hyp_vm_query_cap(vm, HYP_CAP_IRQ_INJECTION, &cap), 0);
	assert_int_equal(cap, 1);
	assert_int_equal(hyp_pl011_create(vm, &uart_cfg, &uart), 0);
	assert_int_equal(hyp_pl031_create(vm, &rtc_cfg, &rtc), 0);
	assert_int_equal(hyp_virtio_console_create(vm, &con_cfg, &con), 0);
	assert_int_equal(hyp_virtio_blk_create(vm, &blk_cfg, &blk), 0);
	/* Input for a UART the guest has not enabled, polling an alarm nobody unmasked. */
	assert_int_equal(hyp_pl011_receive(uart, "x", 1), 0);
	assert_int_equal(hyp_pl031_poll(rtc, NULL), 0);
	assert_int_equal(hyp_virtio_console_receive(con, "x", 1), 1);
	/* vCPUs can still be added afterwards. */
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	hyp_virtio_blk_destroy(blk);
	hyp_virtio_console_destroy(con);
	hyp_pl031_destroy(rtc);
	hyp_pl011_destroy(uart);
	assert_int_equal(((struct recorder *)hyp_backend_vm_state(vm))->injections, 0);
	hyp_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_and_reset_values),
		cmocka_unit_test(test_transmit),
		cmocka_unit_test(test_transmit_to_fd),
		cmocka_unit_test(test_receive_and_timeout_interrupt),
		cmocka_unit_test(test_receive_trigger_level_and_full_fifo),
		cmocka_unit_test(test_receiver_disabled),
		cmocka_unit_test(test_fifo_disabled),
		cmocka_unit_test(test_tx_interrupt_mask_and_clear),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_hostile_accesses),
		cmocka_unit_test(test_echo_from_callback),
		cmocka_unit_test(test_api_misuse),
		cmocka_unit_test(test_concurrent_input),
		cmocka_unit_test(test_create_injects_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
