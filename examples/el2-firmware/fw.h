/* SPDX-License-Identifier: MIT */
/*
 * el2-firmware: a small RTOS-partitioning style firmware that owns EL2 on QEMU's virt board and
 * runs guests with libhyp's el2 backend. This header holds what every firmware file shares:
 * system register access, the console, locks, time, PSCI, the GIC, the allocator, per-CPU state.
 *
 * Everything runs at EL2h (SP_EL2) with DAIF masked: interrupts are only ever taken while a guest
 * runs (libhyp routes them to EL2 and calls the platform's handle_irq) or polled by an idle CPU
 * after WFI. Nothing here uses FP/SIMD (-mgeneral-regs-only): guest FP state lives in the
 * hardware between runs (include/libhyp/el2.h).
 */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libhyp/el2.h>

#include "fw-layout.h"

/* ---- errno values: libhyp's freestanding build returns the Linux numbers (libhyp/error.h);
 * there is no <errno.h> here, and libhyp exports no header with them. ---- */
#define ENOEXEC 8
#define EAGAIN 11
#define EBUSY 16
#define EFBIG 27
#define ENOTSUP 95

/* ---- system registers and barriers ---- */
#define read_sysreg(reg)                                                                           \
	({                                                                                         \
		uint64_t __v;                                                                      \
		__asm__ volatile("mrs %0, " #reg : "=r"(__v)::"memory");                           \
		__v;                                                                               \
	})
#define write_sysreg(reg, val)                                                                     \
	__asm__ volatile("msr " #reg ", %x0" ::"rZ"((uint64_t)(val)) : "memory")
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
#define wfi() __asm__ volatile("wfi" ::: "memory")
#define cpu_relax() __asm__ volatile("yield" ::: "memory")

#define FW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define fw_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* MPIDR_EL1 affinity fields (Arm ARM D17.2.101): Aff3 [39:32], Aff2..Aff0 [23:0]. */
#define MPIDR_AFF_MASK 0xff00ffffffull

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}
static inline uint32_t mmio_read32(uintptr_t addr)
{
	uint32_t v;

	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}
static inline uint64_t mmio_read64(uintptr_t addr)
{
	uint64_t v;

	__asm__ volatile("ldr %x0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

/* ---- locks: test-and-test-and-set on an exclusive monitor (needs the MMU on: exclusives on
 * Device memory, which is what data accesses are with the MMU off, need not work). ---- */
struct fw_lock {
	uint32_t locked;
};
void fw_lock(struct fw_lock *l);
void fw_unlock(struct fw_lock *l);

/* ---- console (PL011, polled) and formatting ---- */
void fw_console_init(void);
int fw_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int fw_snprintf(char *buf, size_t size, const char *fmt, ...);
/* Print whole lines atomically with respect to other CPUs. */
__attribute__((format(printf, 1, 2))) void fw_printf(const char *fmt, ...);
void fw_vprintf(const char *fmt, va_list ap);
/*
 * Console input: the physical UART's received bytes go to one partition at a time, the selected
 * one. Typing FW_INPUT_ESCAPE (Ctrl-]) and then a digit n selects partition n (1 is the first of
 * the table, config.c); FW_INPUT_ESCAPE twice sends one. A partition reads input through the sink
 * it attaches (fw_input_fn: it takes what it can and returns how much); bytes it cannot take yet
 * wait in a 256-byte buffer (fw_console_input_ready() when it has room again), past that they
 * are dropped and counted. Input for a partition without a sink waits the same way, and what
 * waits for a partition is delivered when it attaches its sink again (after a restart too).
 * FW_INPUT_ESCAPE followed by anything else is dropped.
 */
#define FW_INPUT_ESCAPE 0x1du
#define FW_INPUT_MAX_PARTITIONS 8u
typedef size_t (*fw_input_fn)(void *opaque, const uint8_t *bytes, size_t len);
/* Enable the UART's receive interrupt (the caller routes FW_UART_INTID); @selected first. */
void fw_console_input_init(unsigned int nr_partitions, unsigned int selected);
void fw_console_input_attach(unsigned int partition, fw_input_fn fn, void *opaque);
void fw_console_input_detach(unsigned int partition);
void fw_console_input_ready(unsigned int partition);
void fw_console_input_stats(unsigned int partition, uint64_t *delivered, uint64_t *pending,
			    uint64_t *dropped);
/* Received characters dropped for a framing, parity, break or overrun error. */
uint64_t fw_console_input_errors(void);
/* The UART's interrupt: read what arrived and hand it on; returns the bytes read. */
unsigned int fw_console_rx_irq(void);
/* For the fatal path: no lock (the CPU that dies may hold it). */
void fw_puts_nolock(const char *s);
__attribute__((noreturn, format(printf, 1, 2))) void fw_panic(const char *fmt, ...);

/* ---- time: the physical counter (CNTPCT_EL0) ---- */
static inline uint64_t fw_now(void)
{
	isb();
	return read_sysreg(cntpct_el0);
}
uint64_t fw_us_to_ticks(uint64_t us);
uint64_t fw_ticks_to_us(uint64_t ticks);

/* ---- PSCI client (SMC conduit: QEMU's built-in PSCI with EL2 enabled) ---- */
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_ON_64 0xc4000003u
#define PSCI_AFFINITY_INFO_64 0xc4000004u
#define PSCI_SYSTEM_OFF 0x84000008u
int64_t fw_psci_call(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);
__attribute__((noreturn)) void fw_system_off(void);

/* ---- GICv3 ---- */
#define FW_SGI_KICK 15u	       /* the "kick" IPI: makes a CPU leave its guest, or wake from WFI */
#define FW_PPI_HYPTIMER 26u    /* CNTHP, the EL2 physical timer: watchdogs and timed waits */
#define FW_PPI_MAINTENANCE 25u /* the GIC's maintenance interrupt: libhyp's (virtual GIC) */
#define FW_PPI_VTIMER 27u      /* the EL1 virtual timer of the vCPU loaded here: libhyp's */
#define FW_INTID_SPURIOUS 1023u
void fw_gic_init_dist(void);
int fw_gic_init_cpu(void);
void fw_gic_send_sgi(uint64_t mpidr, unsigned int intid);
unsigned int fw_gic_ack(void);
/* Priority drop and deactivation (the CPU interface runs EOImode 1). */
void fw_gic_eoi(unsigned int intid);
/* Priority drop only: the interrupt stays active (a host interrupt handed to a guest, which
 * deactivates it through the list register's HW bit). */
void fw_gic_drop_priority(unsigned int intid);
/* Physical SPI @intid: level-sensitive, Group 1, routed to @mpidr and enabled; or disabled. */
void fw_gic_spi_route(unsigned int intid, uint64_t mpidr, bool enable);
/* Whether physical SPI @intid is active (GICD_ISACTIVER). */
bool fw_gic_spi_active(unsigned int intid);
/*
 * Physical SPIs given to VMs (hyp_vm_assign_irq()): the IRQ handler forwards SPI @intid to its
 * owner with hyp_vm_host_irq(). fw_spi_give() records @vm as the owner and routes the SPI to
 * @mpidr; fw_spi_take() disables it, forgets the owner and returns once no CPU's handler can still
 * be forwarding to it (so the VM may be destroyed next). Each SPI has at most one owner: giving
 * an owned SPI fails (false).
 */
bool fw_spi_give(unsigned int intid, struct hyp_vm *vm, uint64_t mpidr);
void fw_spi_take(unsigned int intid);
/* How many times SPI @intid was forwarded to an owner since boot. */
uint64_t fw_spi_forwarded(unsigned int intid);
struct fw_cpu;
void fw_ppi_set_masked(struct fw_cpu *cpu, unsigned int intid, bool masked);

/* ---- caches ---- */
void fw_dcache_clean_inval_poc(const void *addr, size_t size);
void fw_icache_inval_all(void);

/* ---- page allocator and byte allocator (one static pool, one lock) ---- */
struct fw_pool_stats {
	uint64_t pages_used;	 /* pages handed out by fw_alloc_pages() and not freed */
	uint64_t bytes_live;	 /* bytes handed out by fw_malloc() and not freed */
	uint64_t allocs_live;	 /* fw_malloc() blocks not freed */
	uint64_t pages_total;	 /* pool size */
	uint64_t pages_occupied; /* pool pages in any use (slabs included) */
	uint64_t bad_frees;	 /* frees of something the pool did not hand out */
};
void fw_pool_init(void);
void *fw_alloc_pages(unsigned int count);
void fw_free_pages(void *pages, unsigned int count);
void *fw_malloc(size_t size, size_t align);
void fw_free(void *ptr, size_t size);
struct fw_pool_stats fw_pool_stats(void);

/* ---- per-CPU state ---- */
struct hyp_vcpu;

/* A function a CPU is asked to run (fw_cpu_post()). */
typedef void (*fw_work_fn)(void *arg);

/* Timed events of one CPU, on its CNTHP timer. Deadlines are CNTPCT values, 0 = none. The
 * callbacks run on that CPU with interrupts masked: from handle_irq while it runs a guest, or
 * from fw_cpu_idle(). */
struct fw_cpu_timer {
	/* The guest this CPU runs must be over by then. */
	uint64_t watchdog;
	/* A timed hyp_vcpu_kick() (the kick test, when no idle CPU can do it). */
	uint64_t kick;
	void (*on_watchdog)(void *arg);
	void *watchdog_arg;
	void (*on_kick)(void *arg);
	void *kick_arg;
	/* fw_cpu_idle()'s wake-up time. */
	uint64_t wake;
	/* libhyp's (struct hyp_el2_platform.set_wakeup): a vCPU's timer deadline or WFI end. */
	uint64_t hyp_wake;
};

struct fw_cpu {
	/* libhyp's per-CPU storage (zeroed; the backend owns it). */
	struct hyp_el2_cpu hyp;
	unsigned int index;
	uint64_t mpidr;
	volatile uint32_t online;
	/* Work: the poster writes fn/arg, then bumps @posted; the CPU bumps @finished. */
	fw_work_fn work_fn;
	void *work_arg;
	uint32_t posted;
	uint32_t finished;
	uint64_t poster_mpidr; /* told (SGI) when the work is done */
	struct fw_cpu_timer timer;
	/* Interrupts this CPU took (statistics for the end-of-run summary). */
	uint64_t irqs_kick, irqs_timer, irqs_other;
	/* This CPU's redistributor SGI_base frame, and which of libhyp's PPIs (bit n = PPI n) are
	 * enabled there now (set_ppi_masked writes only changes). */
	uintptr_t gicr_sgi;
	uint32_t ppis_enabled;
};

extern struct fw_cpu fw_cpus[FW_MAX_CPUS];
extern unsigned int fw_nr_cpus;

/* The calling CPU, from MPIDR_EL1 (not TPIDR_EL2: the backend may own it while a guest runs). */
struct fw_cpu *fw_this_cpu(void);
unsigned int fw_mpidr_to_index(uint64_t mpidr);

void fw_cpu_post(struct fw_cpu *cpu, fw_work_fn fn, void *arg);
bool fw_cpu_busy(const struct fw_cpu *cpu);
/* Wait (WFI) until @cpu finished its posted work or @deadline (0: forever). */
bool fw_cpu_wait_idle(struct fw_cpu *cpu, uint64_t deadline);
/* The calling CPU sleeps until an interrupt or @deadline (0: no timer), then handles pending
 * interrupts (kick SGIs, the EL2 timer). */
void fw_cpu_idle(uint64_t deadline);
/*
 * Non-zero @ticks: an idle CPU (fw_cpu_idle()) wakes at least this often (0: when it must). Only for
 * measuring under QEMU -icount, which runs the emulated CPUs one after another, each until the
 * next timer deadline of any CPU: with nothing due, a busy CPU keeps the emulator for
 * milliseconds while an interrupt waits for another CPU's turn. An idle CPU's short wake-ups cut
 * those turns short, as parallel hardware would never need.
 */
void fw_set_idle_quantum(uint64_t ticks);
/* Program the calling CPU's CNTHP timer from its fw_cpu_timer (or stop it). */
void fw_timer_program(void);
/* Drain pending interrupts on the calling CPU (the platform's handle_irq). */
void fw_handle_irqs(void);
/* The secondary CPUs' loop: run posted work forever. */
__attribute__((noreturn)) void fw_cpu_loop(void);

/* ---- libhyp glue ---- */
struct hyp_el2_platform;
struct hyp_alloc_ops;
extern const struct hyp_el2_platform fw_el2_platform;
extern const struct hyp_alloc_ops fw_alloc_ops;

/* ---- the MMU (mmu.c, runs with the MMU off on the boot CPU) ---- */
void fw_mmu_build(void);

/* ---- string functions libhyp needs ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);
size_t fw_strlen(const char *s);

/* ---- the link map (firmware.ld) ---- */
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[],
	__bss_start[], __bss_end[], __stacks_start[], __stacks_end[], __pgtables_start[],
	__pgtables_end[], __image_end[], __pool_start[], __pool_end[];

#endif /* FW_H */
