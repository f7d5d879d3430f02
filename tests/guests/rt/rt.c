/* SPDX-License-Identifier: MIT */
/*
 * The conformance guests' runtime (see rt.h).
 */
#include "rt.h"

/* The register frame rt/start.S builds on the stack for lht_exception(). */
struct lht_frame {
	uint64_t x[31];
	uint64_t elr;
	uint64_t spsr;
	uint64_t pad;
};

struct lht_percpu {
	volatile uint64_t abort_armed;
	uint32_t abort_ec; /* the exception class armed for */
	struct lht_abort abort;
	unsigned int exception_depth;
	char buf[192];
};

static struct lht_percpu percpu[LHT_MAX_VCPUS];
static lht_irq_fn irq_handler;

static struct lht_percpu *this_cpu(void)
{
	return &percpu[lht_cpu() % LHT_MAX_VCPUS];
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

/* The check registers are staged per vCPU by the driver; an interrupt handler reporting in the
 * middle of a sequence must not interleave with it, so IRQs stay masked for its duration. */
static uint64_t irq_save(void)
{
	uint64_t daif = read_sysreg(daif);

	irq_disable();
	return daif;
}

static void irq_restore(uint64_t daif)
{
	write_sysreg(daif, daif);
}

void lht_puts(const char *s)
{
	lht_reg_write(LHT_REG_PUTS, (uint64_t)(uintptr_t)s);
}

static char *append(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *append_hex(char *p, char *end, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	p = append(p, end, "0x");
	while (shift > 0 && !((v >> shift) & 0xf))
		shift -= 4;
	for (; shift >= 0 && p < end; shift -= 4)
		*p++ = digits[(v >> shift) & 0xf];
	return p;
}

const char *lht_concat(char *buf, size_t size, const char *a, const char *b)
{
	char *p = append(buf, buf + size - 1, a);

	p = append(p, buf + size - 1, b);
	*p = 0;
	return buf;
}

void lht_print_hex(const char *text, uint64_t v)
{
	uint64_t daif = irq_save();
	struct lht_percpu *pc = this_cpu();
	char *end = pc->buf + sizeof(pc->buf) - 1;
	char *p = append(pc->buf, end, text);

	p = append_hex(p, end, v);
	*p = 0;
	lht_puts(pc->buf);
	irq_restore(daif);
}

void lht_check(enum lht_check_op op, const char *name, uint64_t actual, uint64_t expect)
{
	uint64_t daif = irq_save();

	lht_reg_write(LHT_REG_CHECK_NAME, (uint64_t)(uintptr_t)name);
	lht_reg_write(LHT_REG_CHECK_ACTUAL, actual);
	lht_reg_write(LHT_REG_CHECK_EXPECT, expect);
	lht_reg_write(LHT_REG_CHECK, op);
	irq_restore(daif);
}

void lht_check_depends(enum lht_depends what)
{
	lht_reg_write(LHT_REG_CHECK_DEPENDS, what);
}

void lht_skip(const char *name, const char *reason)
{
	lht_check(LHT_CHECK_SKIP, name, (uint64_t)(uintptr_t)reason, 0);
}

void lht_note(const char *name, uint64_t value)
{
	lht_check(LHT_CHECK_NOTE, name, value, 0);
}

uint64_t lht_caps(void)
{
	return lht_reg_read(LHT_REG_CAPS);
}

struct lht_smccc_res lht_hvc(uint32_t fid, const uint64_t a[7])
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = a[0];
	register uint64_t x2 __asm__("x2") = a[1];
	register uint64_t x3 __asm__("x3") = a[2];
	register uint64_t x4 __asm__("x4") = a[3];
	register uint64_t x5 __asm__("x5") = a[4];
	register uint64_t x6 __asm__("x6") = a[5];
	register uint64_t x7 __asm__("x7") = a[6];

	__asm__ volatile(
		"hvc #0"
		: "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)
		:
		: "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");
	return (struct lht_smccc_res){ { x0, x1, x2, x3 } };
}

int64_t lht_psci(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t a[7] = { a1, a2, a3 };

	return (int64_t)lht_hvc(fid, a).x[0];
}

__attribute__((noreturn)) static void park(void)
{
	for (;;)
		wfi();
}

__attribute__((noreturn)) void lht_system_off(void)
{
	int64_t r = lht_psci(PSCI_SYSTEM_OFF, 0, 0, 0);

	/* SYSTEM_OFF does not return (PSCI 1.1 section 5.10). */
	lht_note("PSCI SYSTEM_OFF returned", (uint64_t)r);
	lht_check_true("PSCI SYSTEM_OFF does not return", false);
	park();
}

__attribute__((noreturn)) void lht_system_reset(void)
{
	int64_t r = lht_psci(PSCI_SYSTEM_RESET, 0, 0, 0);

	lht_note("PSCI SYSTEM_RESET returned", (uint64_t)r);
	lht_check_true("PSCI SYSTEM_RESET does not return", false);
	park();
}

__attribute__((noreturn)) void lht_done(void)
{
	lht_reg_write(LHT_REG_EXIT, 0);
	lht_system_off();
}

uint64_t lht_us_to_ticks(uint64_t us)
{
	return lht_freq() / 1000000 * us + (lht_freq() % 1000000) * us / 1000000;
}

bool lht_wait_eq(const volatile uint64_t *p, uint64_t v, uint64_t us)
{
	uint64_t deadline = lht_counter() + lht_us_to_ticks(us);

	while (*p != v) {
		if (lht_counter() > deadline)
			return *p == v;
	}
	return true;
}

void lht_expect_abort(void)
{
	lht_expect_exception(ESR_EC_DABT_CUR);
}

void lht_expect_exception(uint32_t ec)
{
	struct lht_percpu *pc = this_cpu();

	pc->abort = (struct lht_abort){ 0 };
	pc->abort_ec = ec;
	pc->abort_armed = 1;
	/* The access under test must not be issued before the flag is visible to our own
	 * exception handler: program order is enough on one CPU, the barrier keeps the compiler
	 * honest. */
	__asm__ volatile("" ::: "memory");
}

struct lht_abort lht_abort_take(void)
{
	struct lht_percpu *pc = this_cpu();

	pc->abort_armed = 0;
	__asm__ volatile("" ::: "memory");
	return pc->abort;
}

void lht_set_irq_handler(lht_irq_fn fn)
{
	irq_handler = fn;
	dsb(ish);
}

static const char *const slot_names[16] = {
	"sync from EL1t",      "IRQ from EL1t",	     "FIQ from EL1t",	   "SError from EL1t",
	"sync from EL1h",      "IRQ from EL1h",	     "FIQ from EL1h",	   "SError from EL1h",
	"sync from EL0 (A64)", "IRQ from EL0 (A64)", "FIQ from EL0 (A64)", "SError from EL0 (A64)",
	"sync from EL0 (A32)", "IRQ from EL0 (A32)", "FIQ from EL0 (A32)", "SError from EL0 (A32)",
};

/* An exception nobody expected: say what it was (ESR/ELR/FAR) and stop the machine, so the driver
 * gets a failing check and a clean power-off instead of a hang (a guest that returned from an
 * unhandled exception would loop on it). */
__attribute__((noreturn)) static void unexpected(struct lht_frame *f, unsigned long slot)
{
	struct lht_percpu *pc = this_cpu();
	uint64_t esr = read_sysreg(esr_el1), far = read_sysreg(far_el1);
	char *end = pc->buf + sizeof(pc->buf) - 1;
	char *p = pc->buf;

	if (pc->exception_depth > 1) {
		/* Reporting itself faulted: nothing more we can say safely. */
		lht_psci(PSCI_SYSTEM_OFF, 0, 0, 0);
		park();
	}
	p = append(p, end, "unexpected exception: ");
	p = append(p, end, slot_names[slot & 15]);
	p = append(p, end, " ESR=");
	p = append_hex(p, end, esr);
	p = append(p, end, " ELR=");
	p = append_hex(p, end, f->elr);
	p = append(p, end, " FAR=");
	p = append_hex(p, end, far);
	*p = 0;
	lht_puts(pc->buf);
	lht_check_eq("no unexpected exception (value: ESR_EL1)", esr, 0);
	lht_reg_write(LHT_REG_EXIT, LHT_EXIT_UNEXPECTED_EXCEPTION);
	lht_system_off();
}

static void dispatch_irqs(struct lht_frame *f, unsigned long slot)
{
	for (;;) {
		/* ICC_IAR1_EL1 acknowledges the highest-priority pending Group 1 interrupt;
		 * 1020..1023 are special INTIDs, 1023 = none pending (GICv3 spec 2.2.1). */
		uint64_t iar;

		__asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(iar)::"memory");
		iar &= 0xffffff;
		if (iar >= 1020)
			return;
		if (!irq_handler)
			unexpected(f, slot);
		irq_handler(lht_cpu(), (uint32_t)iar);
		/* Priority drop and deactivation together (ICC_CTLR_EL1.EOImode = 0). */
		__asm__ volatile("msr S3_0_C12_C12_1, %0" ::"r"(iar) : "memory");
		isb();
	}
}

void lht_exception(struct lht_frame *f, unsigned long slot);
void lht_exception(struct lht_frame *f, unsigned long slot)
{
	struct lht_percpu *pc = this_cpu();

	pc->exception_depth++;
	if (slot == 5) {
		dispatch_irqs(f, slot);
	} else if (slot == 4 && pc->abort_armed && ESR_EC(read_sysreg(esr_el1)) == pc->abort_ec) {
		pc->abort.count++;
		pc->abort.esr = read_sysreg(esr_el1);
		pc->abort.far = read_sysreg(far_el1);
		pc->abort.elr = f->elr;
		pc->abort_armed = 0;
		f->elr += 4;
	} else {
		unexpected(f, slot);
	}
	pc->exception_depth--;
}

__attribute__((weak)) void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)cpu;
	lht_note("unexpected secondary start, context id", context_id);
	lht_check_true("only the boot vCPU runs in this guest", false);
}

void lht_cpu_main(unsigned int cpu, uint64_t context_id, bool boot);
__attribute__((noreturn)) void lht_cpu_main(unsigned int cpu, uint64_t context_id, bool boot)
{
	if (boot) {
		guest_main();
		lht_done();
	}
	guest_secondary(cpu, context_id);
	lht_psci(PSCI_CPU_OFF, 0, 0, 0);
	/* CPU_OFF does not return on success (PSCI 1.1 section 5.5). */
	lht_check_true("PSCI CPU_OFF does not return", false);
	park();
}
