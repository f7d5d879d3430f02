/* SPDX-License-Identifier: MIT */
/*
 * Arm PrimeCell UART (PL011), revision r1p5, as described by its Technical Reference Manual
 * (ARM DDI 0183). Register offsets, reset values and interrupt conditions below are the TRM's.
 *
 * Transmission takes no time: a byte written to UARTDR goes straight to the sink, so the transmit
 * FIFO always reads empty and BUSY never sets (earlycon and the amba-pl011 driver poll TXFF and
 * BUSY, and both are satisfied at once). Reception is a real FIFO fed by hyp_pl011_receive().
 */
#include "hyp_string.h"

#include "dev-internal.h"

#define UARTDR 0x000
#define UARTRSR 0x004 /* read: RSR, write: ECR */
#define UARTFR 0x018
#define UARTILPR 0x020
#define UARTIBRD 0x024
#define UARTFBRD 0x028
#define UARTLCR_H 0x02c
#define UARTCR 0x030
#define UARTIFLS 0x034
#define UARTIMSC 0x038
#define UARTRIS 0x03c
#define UARTMIS 0x040
#define UARTICR 0x044
#define UARTDMACR 0x048
#define UARTPERIPHID0 0xfe0
#define UARTPCELLID3 0xffc

/* UARTDR / UARTRSR error bits (DR bits 11:8 = RSR bits 3:0). */
#define RSR_OE (1u << 3)

#define FR_CTS (1u << 0)
#define FR_DSR (1u << 1)
#define FR_DCD (1u << 2)
#define FR_RXFE (1u << 4)
#define FR_RXFF (1u << 6)
#define FR_TXFE (1u << 7)
#define FR_RI (1u << 8)

#define LCR_H_FEN (1u << 4)

#define CR_UARTEN (1u << 0)
#define CR_LBE (1u << 7)
#define CR_RXE (1u << 9)
#define CR_DTR (1u << 10)
#define CR_RTS (1u << 11)
#define CR_OUT1 (1u << 12)
#define CR_OUT2 (1u << 13)

/* UARTIMSC / UARTRIS / UARTMIS / UARTICR bits. */
#define INT_RX (1u << 4)
#define INT_TX (1u << 5)
#define INT_RT (1u << 6)
#define INT_OE (1u << 10)
#define INT_ALL 0x7ffu

/* Reset values (TRM, register summary). */
#define CR_RESET 0x0300u   /* TXE | RXE */
#define IFLS_RESET 0x0012u /* both FIFOs at 1/2 */

/* r1p5 has 32-entry FIFOs; Linux derives that from the revision field (3) of PeriphID2. */
#define PL011_FIFO_DEPTH 32u

/* UARTPeriphID0-3 then UARTPCellID0-3 (0xfe0..0xffc): part 0x011, designer 0x41, revision 3. */
static const uint8_t pl011_id[8] = { 0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct hyp_pl011 {
	struct hyp_vm *vm;
	hyp_ipa_t base;
	struct hyp__dev_lock lock;
	struct hyp__dev_irq irq;
	struct hyp__dev_sink sink;
	hyp_dev_notify_fn rx_ready_fn;
	void *rx_ready_opaque;

	/* Registers. */
	uint32_t rsr, ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, ris, dmacr;

	/* Receive FIFO: data in bits 7:0, error flags in 11:8, as UARTDR reads them. */
	uint16_t rx_fifo[PL011_FIFO_DEPTH];
	uint32_t rx_head, rx_count;
	/* The host offered more than we took: call rx_ready_fn when room appears. */
	bool rx_waiting;
};

static uint32_t rx_depth(const struct hyp_pl011 *uart)
{
	/* With FEN clear the FIFOs become one-character holding registers. */
	return (uart->lcr_h & LCR_H_FEN) ? PL011_FIFO_DEPTH : 1;
}

static uint32_t rx_trigger(const struct hyp_pl011 *uart)
{
	/* UARTIFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 full; the reserved encodings act as 1/2. */
	static const uint8_t eighths[8] = { 1, 2, 4, 6, 7, 4, 4, 4 };

	if (!(uart->lcr_h & LCR_H_FEN))
		return 1;
	return PL011_FIFO_DEPTH * eighths[(uart->ifls >> 3) & 7] / 8;
}

static bool rx_accepting(const struct hyp_pl011 *uart)
{
	return (uart->cr & (CR_UARTEN | CR_RXE)) == (CR_UARTEN | CR_RXE) && !(uart->cr & CR_LBE) &&
	       uart->rx_count < rx_depth(uart);
}

static void update_irq(struct hyp_pl011 *uart)
{
	hyp__dev_irq_set(&uart->irq, (uart->ris & uart->imsc) != 0);
}

/* Put one character in the receive FIFO. Returns false (an overrun) if it is full. */
static bool rx_push(struct hyp_pl011 *uart, uint8_t c)
{
	if (uart->rx_count >= rx_depth(uart))
		return false;
	uart->rx_fifo[(uart->rx_head + uart->rx_count) % PL011_FIFO_DEPTH] = c;
	uart->rx_count++;
	if (uart->rx_count >= rx_trigger(uart))
		uart->ris |= INT_RX;
	return true;
}

/* The receive line went quiet with data in the FIFO: the receive timeout. Host input arrives in
 * bursts, so the timeout expires at the end of each burst. */
static void rx_burst_end(struct hyp_pl011 *uart)
{
	if (uart->rx_count)
		uart->ris |= INT_RT;
}

static void rx_flush(struct hyp_pl011 *uart)
{
	uart->rx_head = uart->rx_count = 0;
	uart->ris &= ~(INT_RX | INT_RT);
}

static uint32_t read_dr(struct hyp_pl011 *uart)
{
	uint32_t value;

	if (!uart->rx_count)
		return 0;
	value = uart->rx_fifo[uart->rx_head];
	uart->rx_head = (uart->rx_head + 1) % PL011_FIFO_DEPTH;
	uart->rx_count--;
	uart->rsr = (value >> 8) & 0xf;
	/* RX clears once the FIFO drops below the trigger level, RT once it is empty. */
	if (uart->rx_count < rx_trigger(uart))
		uart->ris &= ~INT_RX;
	if (!uart->rx_count)
		uart->ris &= ~INT_RT;
	return value;
}

static uint32_t read_fr(const struct hyp_pl011 *uart)
{
	uint32_t fr = FR_TXFE;

	if (!uart->rx_count)
		fr |= FR_RXFE;
	if (uart->rx_count >= rx_depth(uart))
		fr |= FR_RXFF;
	if (uart->cr & CR_LBE) {
		/* Loopback: the modem outputs drive the modem inputs (TRM, UARTCR.LBE). */
		if (uart->cr & CR_RTS)
			fr |= FR_CTS;
		if (uart->cr & CR_DTR)
			fr |= FR_DSR;
		if (uart->cr & CR_OUT1)
			fr |= FR_DCD;
		if (uart->cr & CR_OUT2)
			fr |= FR_RI;
	} else {
		fr |= FR_CTS | FR_DSR | FR_DCD;
	}
	return fr;
}

static uint32_t reg_read(struct hyp_pl011 *uart, uint64_t reg)
{
	switch (reg) {
	case UARTDR:
		return read_dr(uart);
	case UARTRSR:
		return uart->rsr;
	case UARTFR:
		return read_fr(uart);
	case UARTILPR:
		return uart->ilpr;
	case UARTIBRD:
		return uart->ibrd;
	case UARTFBRD:
		return uart->fbrd;
	case UARTLCR_H:
		return uart->lcr_h;
	case UARTCR:
		return uart->cr;
	case UARTIFLS:
		return uart->ifls;
	case UARTIMSC:
		return uart->imsc;
	case UARTRIS:
		return uart->ris;
	case UARTMIS:
		return uart->ris & uart->imsc;
	case UARTDMACR:
		return uart->dmacr;
	default:
		if (reg >= UARTPERIPHID0 && reg <= UARTPCELLID3)
			return pl011_id[(reg - UARTPERIPHID0) / 4];
		return 0; /* UARTICR is write-only; reserved and test registers read as zero */
	}
}

/* Handle a register write. Returns true if a byte must be sent to the sink (*out). */
static bool reg_write(struct hyp_pl011 *uart, uint64_t reg, uint32_t value, uint8_t *out)
{
	uint32_t old;

	switch (reg) {
	case UARTDR:
		/* The byte leaves the transmit FIFO at once, which then sits below its trigger
		 * level: the TX interrupt asserts (TRM, UARTTXINTR). */
		uart->ris |= INT_TX;
		if (uart->cr & CR_LBE) {
			if (!rx_push(uart, (uint8_t)value)) {
				uart->rsr |= RSR_OE;
				uart->ris |= INT_OE;
			}
			rx_burst_end(uart);
			return false;
		}
		*out = (uint8_t)value;
		return true;
	case UARTRSR:
		uart->rsr = 0; /* UARTECR: any write clears the error flags */
		break;
	case UARTILPR:
		uart->ilpr = value & 0xff;
		break;
	case UARTIBRD:
		uart->ibrd = value & 0xffff;
		break;
	case UARTFBRD:
		uart->fbrd = value & 0x3f;
		break;
	case UARTLCR_H:
		old = uart->lcr_h;
		uart->lcr_h = value & 0xff;
		/* Changing the FIFO mode changes the FIFO's shape: start it empty. */
		if ((old ^ uart->lcr_h) & LCR_H_FEN)
			rx_flush(uart);
		break;
	case UARTCR:
		uart->cr = value & 0xff87; /* bits 6:3 are reserved */
		break;
	case UARTIFLS:
		uart->ifls = value & 0x3f;
		break;
	case UARTIMSC:
		uart->imsc = value & INT_ALL;
		break;
	case UARTICR:
		uart->ris &= ~(value & INT_ALL);
		break;
	case UARTDMACR:
		uart->dmacr = value & 0x7;
		break;
	default:
		break; /* read-only, reserved, ID and test registers ignore writes */
	}
	return false;
}

static enum hyp_handler_result pl011_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *access)
{
	struct hyp_pl011 *uart = opaque;
	uint64_t offset = access->offset;
	uint64_t reg = offset & ~3ull;
	bool notify = false, send = false;
	uint8_t byte = 0;

	(void)vcpu;
	/* The PL011 is a 16-bit APB peripheral that drivers reach with 8, 16 or 32-bit accesses.
	 * Anything else (64-bit, misaligned, straddling the window) reads as zero, writes nothing. */
	if ((access->len != 1 && access->len != 2 && access->len != 4) ||
	    (offset & (access->len - 1u)) || offset >= HYP_UART_SIZE) {
		dev_dbg(uart->vm, "pl011@%#llx: ignored %u-byte access at offset %#llx",
			(unsigned long long)uart->base, (unsigned)access->len,
			(unsigned long long)offset);
		if (!access->is_write)
			access->data = 0;
		return HYP_HANDLED;
	}

	hyp__dev_lock(&uart->lock);
	if (access->is_write) {
		/* A narrow store to the low bytes writes the register; one to its upper bytes has
		 * no meaning for these <= 16-bit registers and is ignored. */
		if (!(offset & 3))
			send = reg_write(uart, reg, (uint32_t)access->data, &byte);
	} else {
		access->data = hyp__dev_subword(reg_read(uart, reg), offset);
	}
	if (uart->rx_waiting && rx_accepting(uart)) {
		uart->rx_waiting = false;
		notify = uart->rx_ready_fn != NULL;
	}
	update_irq(uart);
	hyp__dev_unlock(&uart->lock);

	/* Callbacks run unlocked, so they may call hyp_pl011_receive() (an echo). */
	if (send)
		hyp__dev_sink_write(uart->vm, &uart->sink, &byte, 1);
	if (notify)
		uart->rx_ready_fn(uart->rx_ready_opaque);
	return HYP_HANDLED;
}

static void pl011_reset(struct hyp_pl011 *uart)
{
	uart->rsr = uart->ilpr = uart->ibrd = uart->fbrd = uart->lcr_h = 0;
	uart->imsc = uart->ris = uart->dmacr = 0;
	uart->cr = CR_RESET;
	uart->ifls = IFLS_RESET;
	uart->rx_head = uart->rx_count = 0;
}

HYP_API int hyp_pl011_create(struct hyp_vm *vm, const struct hyp_pl011_config *config,
			     struct hyp_pl011 **ret)
{
	struct hyp_pl011_config cfg;
	struct hyp_pl011 *uart;
	int r;

	if (!vm || !config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(&cfg, sizeof(cfg),
				 offsetof(struct hyp_pl011_config, rx_ready_opaque) +
					 sizeof(cfg.rx_ready_opaque),
				 config);
	if (r)
		return r;
	if (cfg.flags & ~(uint32_t)(HYP_DEV_NO_IRQ | HYP_DEV_TX_FD))
		return -EINVAL;
	if (!cfg.base)
		cfg.base = HYP_DEFAULT_UART_BASE;
	if (!cfg.intid)
		cfg.intid = HYP_DEFAULT_UART_INTID;

	uart = hyp_vm_alloc(vm, sizeof(*uart), _Alignof(struct hyp_pl011));
	if (!uart)
		return -ENOMEM;
	uart->vm = vm;
	uart->base = cfg.base;
	uart->rx_ready_fn = cfg.rx_ready_fn;
	uart->rx_ready_opaque = cfg.rx_ready_opaque;
	pl011_reset(uart);
	r = hyp__dev_sink_init(&uart->sink, cfg.flags, cfg.tx_fn, cfg.tx_opaque, cfg.tx_fd);
	if (!r)
		r = hyp__dev_irq_init(&uart->irq, vm, cfg.intid, cfg.flags);
	if (r) {
		hyp_vm_free(vm, uart, sizeof(*uart));
		return r;
	}
	r = hyp__dev_lock_init(&uart->lock);
	if (r) {
		hyp_vm_free(vm, uart, sizeof(*uart));
		return r;
	}
	r = hyp_vm_add_mmio_handler(vm, cfg.base, HYP_UART_SIZE, pl011_mmio, uart);
	if (r) {
		hyp__dev_lock_fini(&uart->lock);
		hyp_vm_free(vm, uart, sizeof(*uart));
		return r;
	}
	*ret = uart;
	return 0;
}

HYP_API int hyp_pl011_receive(struct hyp_pl011 *uart, const void *bytes, size_t len)
{
	const uint8_t *p = bytes;
	size_t accepted = 0;

	if (!uart || (!bytes && len))
		return -EINVAL;
	hyp__dev_lock(&uart->lock);
	while (accepted < len && rx_accepting(uart)) {
		rx_push(uart, p[accepted]);
		accepted++;
	}
	if (accepted)
		rx_burst_end(uart);
	if (accepted < len)
		uart->rx_waiting = true;
	update_irq(uart);
	hyp__dev_unlock(&uart->lock);
	return (int)accepted;
}

HYP_API void hyp_pl011_destroy(struct hyp_pl011 *uart)
{
	int r;

	if (!uart)
		return;
	r = hyp_vm_remove_mmio_handler(uart->vm, uart->base);
	if (r) {
		dev_err(uart->vm, "pl011@%#llx: cannot detach (%s); device left attached",
			(unsigned long long)uart->base, hyp_strerror(r));
		return;
	}
	hyp__dev_irq_set(&uart->irq, false);
	hyp__dev_lock_fini(&uart->lock);
	hyp_vm_free(uart->vm, uart, sizeof(*uart));
}
