/* SPDX-License-Identifier: MIT */
/*
 * The console: a polled PL011 at 0x0900_0000 (PrimeCell UART PL011 TRM: UARTDR 0x000, UARTFR
 * 0x018 with TXFF bit 5, UARTCR 0x030), a small vsnprintf, whole-line printing under a lock so the
 * partitions' TAP lines never interleave, and the fatal paths (panic, unexpected exceptions).
 */
#include "fw.h"

#define UARTDR 0x000
#define UARTFR 0x018
#define UARTFR_TXFF (1u << 5)
#define UARTCR 0x030
#define UARTCR_UARTEN (1u << 0)
#define UARTCR_TXE (1u << 8)
#define UARTIMSC 0x038

static struct fw_lock console_lock;

void fw_console_init(void)
{
	/* Interrupts off (we poll), transmitter on. QEMU comes up enabled, real PL011s may not. */
	mmio_write32(FW_UART_BASE + UARTIMSC, 0);
	mmio_write32(FW_UART_BASE + UARTCR, UARTCR_UARTEN | UARTCR_TXE);
}

static void uart_putc(char c)
{
	while (mmio_read32(FW_UART_BASE + UARTFR) & UARTFR_TXFF)
		cpu_relax();
	mmio_write32(FW_UART_BASE + UARTDR, (uint8_t)c);
}

static void uart_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			uart_putc('\r');
		uart_putc(*s);
	}
}

void fw_puts_nolock(const char *s)
{
	uart_puts(s);
}

/* ---- formatting ---- */

struct out {
	char *buf;
	size_t size;
	size_t len; /* what would have been written, as C's snprintf counts */
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

struct spec {
	bool left, zero, alt, plus, space;
	int width, prec; /* prec < 0: none */
};

static void out_number(struct out *o, const struct spec *sp, uint64_t v, bool negative,
		       unsigned int base, bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, plen = 0, zeros, total;
	char sign = negative ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;

	if (v || sp->prec != 0) {
		do {
			tmp[n++] = digits[v % base];
			v /= base;
		} while (v);
	}
	if (prefix)
		for (const char *p = prefix; *p; p++)
			plen++;
	zeros = sp->prec > n ? sp->prec - n : 0;
	total = n + zeros + plen + (sign ? 1 : 0);
	if (!sp->left && sp->zero && sp->prec < 0 && sp->width > total) {
		zeros += sp->width - total;
		total = sp->width;
	}
	if (!sp->left)
		out_pad(o, ' ', sp->width - total);
	if (sign)
		out_char(o, sign);
	if (prefix)
		for (const char *p = prefix; *p; p++)
			out_char(o, *p);
	out_pad(o, '0', zeros);
	while (n)
		out_char(o, tmp[--n]);
	if (sp->left)
		out_pad(o, ' ', sp->width - total);
}

static void out_string(struct out *o, const struct spec *sp, const char *s)
{
	int n = 0;

	if (!s)
		s = "(null)";
	while (s[n] && (sp->prec < 0 || n < sp->prec))
		n++;
	if (!sp->left)
		out_pad(o, ' ', sp->width - n);
	for (int i = 0; i < n; i++)
		out_char(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - n);
}

/* The C99 conversions libhyp's messages and the firmware use: d i u x X o c s p %, with flags
 * "-0#+ ", width and precision (numbers or *), and the length modifiers hh h l ll z j t. */
int fw_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };

	for (; *fmt; fmt++) {
		struct spec sp = { .prec = -1 };
		int lng = 0; /* -2 hh, -1 h, 0, 1 l, 2 ll/z/j/t */
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		for (;;) {
			fmt++;
			if (*fmt == '-')
				sp.left = true;
			else if (*fmt == '0')
				sp.zero = true;
			else if (*fmt == '#')
				sp.alt = true;
			else if (*fmt == '+')
				sp.plus = true;
			else if (*fmt == ' ')
				sp.space = true;
			else
				break;
		}
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {
				sp.left = true;
				sp.width = -sp.width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				sp.width = sp.width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			sp.prec = 0;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					sp.prec = sp.prec * 10 + (*fmt++ - '0');
			}
		}
		for (;; fmt++) {
			if (*fmt == 'h')
				lng--;
			else if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
				lng = 2;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng >= 1 ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (lng == -1)
				s = (short)s;
			else if (lng <= -2)
				s = (signed char)s;
			out_number(&o, &sp, s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s, s < 0,
				   10, false, NULL);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			u = lng >= 1 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			if (lng == -1)
				u = (unsigned short)u;
			else if (lng <= -2)
				u = (unsigned char)u;
			if (*fmt == 'u')
				out_number(&o, &sp, u, false, 10, false, NULL);
			else if (*fmt == 'o')
				out_number(&o, &sp, u, false, 8, false, sp.alt && u ? "0" : NULL);
			else
				out_number(&o, &sp, u, false, 16, *fmt == 'X',
					   sp.alt && u ? (*fmt == 'X' ? "0X" : "0x") : NULL);
			break;
		case 'p':
			out_number(&o, &sp, (uint64_t)(uintptr_t)va_arg(ap, void *), false, 16,
				   false, "0x");
			break;
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 's':
			out_string(&o, &sp, va_arg(ap, const char *));
			break;
		case '%':
			out_char(&o, '%');
			break;
		case 0:
			fmt--; /* a lone '%' at the end */
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
	}
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
	return (int)o.len;
}

int fw_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fw_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void fw_vprintf(const char *fmt, va_list ap)
{
	char buf[512];

	fw_vsnprintf(buf, sizeof(buf), fmt, ap);
	fw_lock(&console_lock);
	uart_puts(buf);
	fw_unlock(&console_lock);
}

void fw_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_vprintf(fmt, ap);
	va_end(ap);
}

void fw_panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	fw_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* No lock: this CPU may hold it; a garbled line beats a silent hang. */
	uart_puts("\nBail out! el2-firmware panic: ");
	uart_puts(buf);
	uart_puts("\n");
	fw_system_off();
}

static const char *const slot_names[16] = {
	"sync, EL2t",	    "IRQ, EL2t",       "FIQ, EL2t",	  "SError, EL2t",
	"sync, EL2h",	    "IRQ, EL2h",       "FIQ, EL2h",	  "SError, EL2h",
	"sync, lower EL64", "IRQ, lower EL64", "FIQ, lower EL64", "SError, lower EL64",
	"sync, lower EL32", "IRQ, lower EL32", "FIQ, lower EL32", "SError, lower EL32",
};

/* From fw_vectors (start.S), on the emergency stack. */
__attribute__((noreturn)) void fw_fatal_exception(unsigned long slot);
void fw_fatal_exception(unsigned long slot)
{
	char buf[320];

	fw_snprintf(buf, sizeof(buf),
		    "\nBail out! el2-firmware: unexpected exception (%s) on CPU %u: ESR_EL2 %#lx "
		    "ELR_EL2 %#lx FAR_EL2 %#lx SPSR_EL2 %#lx HPFAR_EL2 %#lx\n",
		    slot_names[slot & 15], fw_mpidr_to_index(read_sysreg(mpidr_el1)),
		    read_sysreg(esr_el2), read_sysreg(elr_el2), read_sysreg(far_el2),
		    read_sysreg(spsr_el2), read_sysreg(hpfar_el2));
	uart_puts(buf);
	if (slot >= 8)
		uart_puts("# a lower-EL exception reached the firmware's vectors: libhyp's vector "
			  "table was not installed while a guest ran\n");
	fw_system_off();
}

/* ---------------------------------------------------------------- input */

#define UARTFR_RXFE (1u << 4)
#define UARTCR_RXE (1u << 9)
#define UARTIMSC_RXIM (1u << 4)
#define UARTIMSC_RTIM (1u << 6)
#define UARTICR 0x044
/* Bytes kept for a partition whose UART cannot take them yet (its driver is not up, its FIFO is
 * full); beyond that, input is dropped and counted. */
#define INPUT_PENDING 256u

struct input_sink {
	fw_input_fn fn; /* NULL: nobody reads input in that partition now */
	void *opaque;
	uint8_t pending[INPUT_PENDING];
	unsigned int head, count;
	uint64_t delivered, dropped;
};

static struct fw_lock input_lock;
static struct input_sink input_sinks[FW_INPUT_MAX_PARTITIONS];
static unsigned int input_target, input_partitions;
static bool input_escape;
static uint64_t input_errors;

/* With input_lock held: hand what is pending to the sink, as much as it takes. */
static void input_push(struct input_sink *s)
{
	while (s->fn && s->count) {
		unsigned int run = s->count;
		size_t took;

		if (s->head + run > INPUT_PENDING)
			run = INPUT_PENDING - s->head;
		took = s->fn(s->opaque, s->pending + s->head, run);
		if (took > run)
			took = run;
		s->delivered += took;
		s->head = (s->head + (unsigned int)took) % INPUT_PENDING;
		s->count -= (unsigned int)took;
		if (took < run)
			break;
	}
}

/* With input_lock held: one byte typed for the selected partition. */
static void input_byte(uint8_t c)
{
	struct input_sink *s = &input_sinks[input_target];

	if (s->count == INPUT_PENDING) {
		s->dropped++;
		return;
	}
	s->pending[(s->head + s->count) % INPUT_PENDING] = c;
	s->count++;
}

void fw_console_input_init(unsigned int nr_partitions, unsigned int selected)
{
	fw_lock(&input_lock);
	input_partitions = nr_partitions < FW_INPUT_MAX_PARTITIONS ? nr_partitions :
								     FW_INPUT_MAX_PARTITIONS;
	input_target = selected < input_partitions ? selected : 0;
	fw_unlock(&input_lock);
	/* Receive on; interrupts for received data and the receive timeout (the FIFO holds less
	 * than the trigger level when input stops). */
	mmio_write32(FW_UART_BASE + UARTICR, 0x7ff);
	mmio_write32(FW_UART_BASE + UARTCR, UARTCR_UARTEN | UARTCR_TXE | UARTCR_RXE);
	mmio_write32(FW_UART_BASE + UARTIMSC, UARTIMSC_RXIM | UARTIMSC_RTIM);
}

void fw_console_input_attach(unsigned int partition, fw_input_fn fn, void *opaque)
{
	if (partition >= FW_INPUT_MAX_PARTITIONS)
		return;
	fw_lock(&input_lock);
	input_sinks[partition].fn = fn;
	input_sinks[partition].opaque = opaque;
	input_push(&input_sinks[partition]);
	fw_unlock(&input_lock);
}

void fw_console_input_detach(unsigned int partition)
{
	if (partition >= FW_INPUT_MAX_PARTITIONS)
		return;
	fw_lock(&input_lock);
	input_sinks[partition].fn = NULL;
	input_sinks[partition].opaque = NULL;
	fw_unlock(&input_lock);
}

void fw_console_input_ready(unsigned int partition)
{
	if (partition >= FW_INPUT_MAX_PARTITIONS)
		return;
	fw_lock(&input_lock);
	input_push(&input_sinks[partition]);
	fw_unlock(&input_lock);
}

void fw_console_input_stats(unsigned int partition, uint64_t *delivered, uint64_t *pending,
			    uint64_t *dropped)
{
	*delivered = *pending = *dropped = 0;
	if (partition >= FW_INPUT_MAX_PARTITIONS)
		return;
	fw_lock(&input_lock);
	*delivered = input_sinks[partition].delivered;
	*pending = input_sinks[partition].count;
	*dropped = input_sinks[partition].dropped;
	fw_unlock(&input_lock);
}

uint64_t fw_console_input_errors(void)
{
	return __atomic_load_n(&input_errors, __ATOMIC_RELAXED);
}

unsigned int fw_console_rx_irq(void)
{
	unsigned int bytes = 0;

	/* Clear first, then drain: reading the FIFO below its trigger level clears the receive
	 * interrupt by itself, and a byte that arrives after the last read raises it again (clearing
	 * after the drain could lose that). */
	mmio_write32(FW_UART_BASE + UARTICR, UARTIMSC_RXIM | UARTIMSC_RTIM);
	fw_lock(&input_lock);
	while (!(mmio_read32(FW_UART_BASE + UARTFR) & UARTFR_RXFE) && bytes < 4096) {
		uint32_t dr = mmio_read32(FW_UART_BASE + UARTDR);
		uint8_t c = (uint8_t)dr;

		bytes++;
		/* Framing, parity, break or overrun (UARTDR bits 8-11): not a byte anyone typed. */
		if (dr & 0xf00u) {
			input_errors++;
			continue;
		}
		if (input_escape) {
			input_escape = false;
			if (c >= '1' && c < '1' + input_partitions) {
				/* The partition that had input keeps what is waiting for it. */
				input_push(&input_sinks[input_target]);
				input_target = c - '1';
				fw_printf("# console input now goes to partition %u\n",
					  input_target + 1);
			} else if (c == FW_INPUT_ESCAPE) {
				input_byte(c);
			}
			continue;
		}
		if (c == FW_INPUT_ESCAPE && input_partitions) {
			input_escape = true;
			continue;
		}
		if (input_partitions)
			input_byte(c);
	}
	if (input_partitions)
		input_push(&input_sinks[input_target]);
	fw_unlock(&input_lock);
	return bytes;
}
