/* SPDX-License-Identifier: MIT */
/*
 * The conformance guests' runtime: test device access, checks, SMCCC/PSCI calls, exception
 * expectations, interrupt dispatch. Freestanding, EL1, identity-mapped (rt/start.S).
 */
#ifndef LHT_RT_H
#define LHT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../protocol.h"

/* Each guest describes itself once: LHT_GUEST(.nr_vcpus = 2, .mpidr = { 0, 0x103 }); */
#define LHT_GUEST(...)                                                                             \
	const struct lht_header lht_header __attribute__((section(".lht_header"), used)) = {       \
		.magic = LHT_HEADER_MAGIC, .version = LHT_HEADER_VERSION, __VA_ARGS__              \
	}

/* What a guest provides. guest_main() runs on vCPU 0; returning from it ends the test
 * (lht_done()). guest_secondary() runs on CPUs started with PSCI CPU_ON at lht_secondary_entry;
 * returning from it calls CPU_OFF. */
void guest_main(void);
void guest_secondary(unsigned int cpu, uint64_t context_id);
/* The PSCI CPU_ON entry point for secondaries; context_id bits [7:0] = logical CPU index
 * (1..LHT_MAX_VCPUS-1, it picks the stack), the rest is the guest's. */
void lht_secondary_entry(void);

/* ---- system registers ---- */
#define read_sysreg(reg)                                                                           \
	({                                                                                         \
		uint64_t __v;                                                                      \
		__asm__ volatile("mrs %0, " #reg : "=r"(__v));                                     \
		__v;                                                                               \
	})
#define write_sysreg(reg, val) __asm__ volatile("msr " #reg ", %x0" ::"rZ"((uint64_t)(val)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
#define irq_enable() __asm__ volatile("msr daifclr, #2" ::: "memory")
#define irq_disable() __asm__ volatile("msr daifset, #2" ::: "memory")
#define wfi() __asm__ volatile("wfi" ::: "memory")

/*
 * One sleep of a wait for an interrupt's handler to do something: call it with IRQs masked, in
 * a loop that checks the awaited condition (also with IRQs masked) before each call.
 *
 * WFI ends on a pending interrupt even while PSTATE.I masks it (Arm ARM D1.16.2, "Wait for
 * Interrupt"); the interrupt is then taken in the window the unmask opens. The obvious loop,
 * "while (!done) wfi();" with IRQs unmasked, loses wake-ups: an interrupt taken between the
 * check and the WFI has run its handler already, and the WFI then sleeps until some other
 * interrupt comes, if any does. A hypervisor whose vCPU sends an interrupt right when the
 * other one checks makes that window easy to hit (gic-sgi on the el2 backend did, ~6% of runs).
 */
static inline void lht_wfi_masked(void)
{
	wfi();
	irq_enable();
	isb();
	irq_disable();
}

/* MPIDR_EL1.{Aff3,Aff2,Aff1,Aff0} (Arm ARM D17.2.101). */
#define MPIDR_AFF_MASK 0xff00ffffffull

/* ---- MMIO: single instructions with [Xn] addressing, so every access has a syndrome ---- */
static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	__asm__ volatile("strb %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	__asm__ volatile("strh %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline void mmio_write64(uint64_t addr, uint64_t v)
{
	__asm__ volatile("str %x0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline uint8_t mmio_read8(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return (uint8_t)v;
}
static inline uint16_t mmio_read16(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return (uint16_t)v;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}
static inline uint64_t mmio_read64(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile("ldr %x0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint64_t lht_reg_read(uint64_t off)
{
	return mmio_read64(LHT_DEV_BASE + off);
}
static inline void lht_reg_write(uint64_t off, uint64_t v)
{
	mmio_write64(LHT_DEV_BASE + off, v);
}

/* ---- reporting ---- */
void lht_puts(const char *s);
/* Print "text0x<hex>". */
void lht_print_hex(const char *text, uint64_t v);
void lht_check(enum lht_check_op op, const char *name, uint64_t actual, uint64_t expect);
#define lht_check_eq(name, a, e) lht_check(LHT_CHECK_EQ, name, (uint64_t)(a), (uint64_t)(e))
#define lht_check_ne(name, a, e) lht_check(LHT_CHECK_NE, name, (uint64_t)(a), (uint64_t)(e))
#define lht_check_le(name, a, e) lht_check(LHT_CHECK_LE, name, (uint64_t)(a), (uint64_t)(e))
#define lht_check_ge(name, a, e) lht_check(LHT_CHECK_GE, name, (uint64_t)(a), (uint64_t)(e))
#define lht_check_true(name, c) lht_check(LHT_CHECK_EQ, name, (uint64_t) !!(c), 1)
void lht_skip(const char *name, const char *reason);
/* The next check on this CPU depends on a platform behaviour (enum lht_depends). */
void lht_check_depends(enum lht_depends what);
/* @a followed by @b in @buf (truncated to @size): for check names built at run time (the driver
 * reads a name while the check register is written, so a stack buffer will do). */
const char *lht_concat(char *buf, size_t size, const char *a, const char *b);
void lht_note(const char *name, uint64_t value);
uint64_t lht_caps(void);

/* Report, then power off: the normal end of a test. */
__attribute__((noreturn)) void lht_done(void);
__attribute__((noreturn)) void lht_system_off(void);
__attribute__((noreturn)) void lht_system_reset(void);

/* ---- SMCCC (Arm DEN 0028) over HVC #0 ---- */
struct lht_smccc_res {
	uint64_t x[4];
};
/* X1..X7 = a[0..6]; returns X0..X3. X4..X17 are treated as clobbered (SMCCC 1.0 allowed it). */
struct lht_smccc_res lht_hvc(uint32_t fid, const uint64_t a[7]);
/* A PSCI call with up to three arguments; returns X0. */
int64_t lht_psci(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);

/* PSCI 1.1 function IDs (Arm DEN 0022D, table 5.1) and return codes. */
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON_64 0xc4000003u
#define PSCI_AFFINITY_INFO_64 0xc4000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000au
#define SMCCC_VERSION 0x80000000u

#define PSCI_SUCCESS 0
#define PSCI_NOT_SUPPORTED (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_ALREADY_ON (-4)
#define PSCI_ON_PENDING (-5)
#define PSCI_AFF_ON 0
#define PSCI_AFF_OFF 1

/* ---- this CPU ---- */
static inline unsigned int lht_cpu(void)
{
	return (unsigned int)read_sysreg(tpidr_el1);
}
static inline uint64_t lht_mpidr_aff(void)
{
	return read_sysreg(mpidr_el1) & MPIDR_AFF_MASK;
}
/* The affinity the driver configured for vCPU @index: the one to address it by (PSCI, GIC). It
 * is the header's request only where the backend allows custom affinities. */
static inline uint64_t lht_cfg_mpidr(unsigned int index)
{
	return lht_reg_read(LHT_REG_MPIDR(index));
}

/* ---- time: the virtual counter (Arm ARM D11.2) ---- */
static inline uint64_t lht_counter(void)
{
	isb();
	return read_sysreg(cntvct_el0);
}
static inline uint64_t lht_freq(void)
{
	return read_sysreg(cntfrq_el0);
}
/* Counter ticks in @us microseconds. */
uint64_t lht_us_to_ticks(uint64_t us);
/* Spin (WFE-free, interrupts as they are) until *@p == @v or @us elapsed; true if it matched. */
bool lht_wait_eq(const volatile uint64_t *p, uint64_t v, uint64_t us);

/* ---- expected synchronous data aborts ----
 * lht_expect_abort() arms this CPU: the next synchronous exception that is a data abort taken
 * from EL1 (ESR_EL1.EC 0x25) is recorded and the faulting instruction is skipped (ELR + 4)
 * instead of being reported as unexpected. lht_abort_take() disarms and returns the record. */
struct lht_abort {
	uint64_t count;
	uint64_t esr;
	uint64_t far;
	uint64_t elr;
};
void lht_expect_abort(void);
/* The same for any synchronous exception taken from EL1 with exception class @ec. */
void lht_expect_exception(uint32_t ec);
struct lht_abort lht_abort_take(void);
#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define ESR_EC_DABT_CUR 0x25
#define ESR_DFSC(esr) ((esr)&0x3f)
#define DFSC_SEA 0x10 /* synchronous external abort, not on a table walk */

/* ---- interrupts: IRQs go to this handler after ICC_IAR1_EL1, then EOI (rt.c) ---- */
typedef void (*lht_irq_fn)(unsigned int cpu, uint32_t intid);
void lht_set_irq_handler(lht_irq_fn fn);

/* ---- freestanding basics the compiler may call ---- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif /* LHT_RT_H */
