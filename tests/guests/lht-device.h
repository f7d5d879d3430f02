/* SPDX-License-Identifier: MIT */
/*
 * The VMM side of the libhyp test device (protocol.h), shared by both programs that run the
 * conformance guests: tests/guests/driver.c (a Linux process: one thread per vCPU, libc) and
 * examples/el2-firmware/harness.c (bare-metal EL2 firmware: one CPU per vCPU, no libc).
 *
 * What is here is what the two do alike: the TAP stream (test points, comments, counts), the
 * device's registers and the checks, console lines and failure reasons guests report through it,
 * the read-only page, the vendor SMCCC call, the log of foreign accesses, vCPU creation (custom
 * affinities, HYP_CAP_INJECT_EXCEPTIONS), the run loop's system events and kicks, the kick test's
 * bookkeeping, and the verdict on a run. What differs (threads or CPUs, watchdogs, how a refused
 * access is answered, the firmware's own registers) stays in each program and comes in through
 * struct lht_host.
 *
 * Portable C: it uses the compiler's freestanding headers, libhyp and protocol.h, nothing else
 * (no libc, no floating point: the firmware builds it with -ffreestanding -mgeneral-regs-only).
 * Formatting, output, locks and the clock are the host's (struct lht_host).
 */
#ifndef LHT_DEVICE_H
#define LHT_DEVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libhyp/hyp.h>

#include "protocol.h"

/* The longest guest string (check name, skip reason, LHT_REG_PUTS line) taken, NUL included. */
#define LHT_NAME_MAX 200

#define lht_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct lht_dev;

/* One vCPU as the test device sees it. */
struct lht_vcpu {
	struct lht_dev *dev;
	uint32_t index;
	/* NULL until lht_create_vcpu() made it; other threads read it with __atomic_load_n(). */
	struct hyp_vcpu *vcpu;
	/* The affinity this vCPU has: hyp_vcpu_config.mpidr, or libhyp's default for the index. */
	uint64_t mpidr;
	/* The guest header asks for a custom affinity the backend does not allow
	 * (HYP_CAP_CUSTOM_MPIDR = 0): check that libhyp refuses it, then use the default. */
	bool refused_mpidr_expected;
	uint64_t midr;

	/* Check operands being staged (LHT_REG_CHECK_*). */
	uint64_t check_name, check_actual, check_expect, check_depends;
	int64_t status; /* LHT_REG_STATUS */
	char line[256]; /* LHT_REG_CONSOLE characters until the end of the line */
	size_t line_len;
	unsigned int spurious_kicks;
};

/*
 * One guest's run: the test device's state and what the run's verdict is made of. The host embeds
 * it in its own per-guest state (lht_container_of() gets back there in hooks), zeroes it, then
 * calls lht_dev_init(), fills @name, @hdr and @vm, and calls lht_query_caps(), lht_plan_vcpus(),
 * lht_setup_vm(), lht_create_vcpu() and lht_run_vcpu() for each vCPU, lht_report_run().
 */
struct lht_dev {
	char name[128]; /* the prefix of its TAP lines */
	struct lht_header hdr;
	struct hyp_vm *vm;
	void *lock;	   /* the host's lock for the fields marked below (struct lht_host.lock) */
	uint64_t caps;	   /* LHT_CAP_* */
	bool custom_mpidr; /* HYP_CAP_CUSTOM_MPIDR */
	uint64_t inject_mask; /* HYP_CAP_INJECT_EXCEPTIONS */
	uint32_t nr_vcpus;
	struct lht_vcpu vcpus[LHT_MAX_VCPUS];
	/* The guest attacks its VMM on purpose (the el2 firmware's hostile guests): a malformed
	 * register access or an MMIO access outside the platform is answered with an external abort
	 * and logged, but does not fail the run. */
	bool hostile;

	/* Written by every vCPU, under @lock. */
	uint64_t foreign_count, foreign_type, foreign_ipa, foreign_len, foreign_write, foreign_data,
		foreign_answer, foreign_esr;
	uint64_t scratch_count, scratch_woff, scratch_wlen, scratch_wdata;
	uint8_t memwin[LHT_MEMWIN_SIZE];
	void *rom;	      /* the read-only page's memory (lht_setup_vm()) */
	int64_t remap_result; /* LHT_REG_REMAP */
	int64_t dirty_result; /* LHT_REG_DIRTY */
	uint64_t dirty_bits;  /* LHT_REG_DIRTY_BITS */
	/* LHT_REG_RING, LHT_REG_RING_WORD: the last result, the window log, the word index, the
	 * window pages the last collect found only in the bitmap. @ring_entries: the VM's ring
	 * (the host sets it after creating the VM; 0: none). */
	int64_t ring_result;
	uint64_t ring_seen[LHT_RING_PAGES / 64];
	uint64_t ring_word;
	uint64_t ring_fetched;
	uint32_t ring_entries;
	uint64_t vendor_calls;
	uint64_t bench[LHT_BENCH_RESULTS]; /* LHT_REG_BENCH_ITERATIONS.. (LHT_F_BENCH) */
	uint32_t bench_written;		   /* which of @bench the guest wrote */
	/* A configuration the host ran the benchmark in that its figures' lines must name (e.g.
	 * "native WFI"), so they read apart from the default's; NULL: the default. */
	const char *bench_variant;
	unsigned int checks, check_failures;
	bool exit_written;
	uint64_t exit_value;
	uint32_t event_type; /* the first HYP_EXIT_SYSTEM_EVENT a vCPU saw */
	uint32_t events_seen;
	char failure[1024]; /* why the run as a whole failed (the first few reasons) */

	/* Atomic (__atomic builtins): set by lht_stop(); vCPUs leave their run loop. */
	bool stopping;
	/* Set by the host's watchdog. */
	bool timed_out;

	/* The kick test (LHT_REG_KICK_ARM); the host's kicker calls lht_kick_now(). */
	struct {
		bool armed;
		bool handled; /* the kicked vCPU's run returned HYP_EXIT_KICKED after the kick */
		uint32_t vcpu;
		uint64_t flag_ipa;
		uint64_t armed_us;
		uint64_t kicked_us; /* atomic: 0 until hyp_vcpu_kick() was called */
		uint64_t exit_us;
		int kick_status;
	} kick;
};

/* What the program running the guests provides. Hooks marked optional may be NULL. */
struct lht_host {
	/* C99 vsnprintf(): every conversion this file uses is in C99 (with ll). */
	int (*vsnprintf)(char *buf, size_t size, const char *fmt, va_list ap);
	/* Print @text, one or more complete lines, in order with the rest of the TAP stream. */
	void (*write)(const char *text);
	/* Take and release a lock: @tap_lock, or a struct lht_dev.lock. */
	void (*lock)(void *lock);
	void (*unlock)(void *lock);
	void *tap_lock;
	/* A monotonic clock in microseconds. */
	uint64_t (*now_us)(void);

	/* Optional: the TODO reason for a check that depends on platform behaviour @depends
	 * (enum lht_depends, LHT_REG_CHECK_DEPENDS), or NULL to judge the check normally. */
	const char *(*depends_todo)(uint64_t depends);
	/* Optional: registers of the host's own beyond protocol.h. Return false for an unknown
	 * one. read_reg is called with the dev's lock held. */
	bool (*read_reg)(struct lht_dev *d, struct lht_vcpu *c, uint64_t off, uint64_t *v);
	bool (*write_reg)(struct lht_dev *d, struct lht_vcpu *c, uint64_t off, uint64_t v);
	/* Answer a refused access to @ipa (an MMIO exit, @exit) with an external data abort
	 * (hyp_vcpu_inject_exception()); set *answer to LHT_ANSWER_ABORT, or LHT_ANSWER_REFUSED if
	 * that failed (report why with lht_fail()) and return HYP_NOT_HANDLED then. */
	enum hyp_handler_result (*inject_abort)(struct lht_dev *d, struct hyp_vcpu *vcpu,
						const struct hyp_exit *exit, uint64_t ipa,
						uint64_t *answer);
	/* LHT_REG_KICK_ARM, after the kick test's state is set: arrange for lht_kick_now() about
	 * LHT_KICK_DELAY_MS later, from elsewhere than @c's run loop; set @c->status. */
	void (*start_kicker)(struct lht_dev *d, struct lht_vcpu *c);
	/* An exit of @c's hyp_vcpu_run() other than a system event or a kick. Return true to
	 * resume the vCPU; false stops the guest (report why with lht_fail() first). */
	bool (*vcpu_exit)(struct lht_vcpu *c, struct hyp_exit *exit);
};

/* Once, before anything else here. @host must stay valid. */
void lht_init(const struct lht_host *host);

/* ---- TAP ---- */

/* A comment: every line of the text gets its "# " (empty lines are left out). */
__attribute__((format(printf, 1, 2))) void lht_tap_comment(const char *fmt, ...);
/* One test point. @skip / @todo are mutually exclusive directives (NULL = none); @diag, if not
 * NULL, is printed as comment lines after a failure. A '#' in the description becomes '_'. */
__attribute__((format(printf, 5, 6))) void
lht_tap_result(bool ok, const char *skip, const char *todo, const char *diag, const char *fmt, ...);

struct lht_tap_counts {
	unsigned int n, failed, skipped, todo;
};
struct lht_tap_counts lht_tap_counts(void);

/* A hyp_log_fn: libhyp's messages as TAP comments; @opaque is the guest's name. */
void lht_log(void *opaque, enum hyp_log_priority prio, const char *fmt, va_list ap);

/* ---- one guest ---- */

/* Set up the zeroed @d: @lock (for struct lht_host.lock), the vCPUs' indices. */
void lht_dev_init(struct lht_dev *d, void *lock);
/* Whether an image's header is one this device runs. */
bool lht_header_ok(const struct lht_header *hdr);

/* Record a reason the run failed (kept for the verdict) and print it. Caller holds no lock. */
__attribute__((format(printf, 2, 3))) void lht_fail(struct lht_dev *d, const char *fmt, ...);
/* Stop the VM: every vCPU leaves its run loop at its next exit; kick them out of the guest.
 * Safe from any thread and from interrupt context. */
void lht_stop(struct lht_dev *d);
/* Record an access that left RAM and the test device (LHT_REG_FOREIGN_*). */
void lht_log_foreign(struct lht_dev *d, const struct hyp_exit *exit, uint64_t type, uint64_t ipa,
		     uint64_t len, bool write, uint64_t data, uint64_t answer);
/* A name for a HYP_SYSTEM_EVENT_* type (0: "none"). */
const char *lht_event_name(uint32_t type);

/* Query the backend's capabilities into @d (caps, custom_mpidr, inject_mask) and describe them
 * in @line (" name=value" each; values in hex if @hex, else decimal but inject-exceptions). */
void lht_query_caps(struct lht_dev *d, char *line, size_t size, bool hex);
/* Decide each vCPU's affinity from the header and the capabilities. */
void lht_plan_vcpus(struct lht_dev *d);
/* Map RAM (@ram, LHT_RAM_SIZE) and, if the backend can, the read-only page (@rom, LHT_ROM_SIZE,
 * filled with lht_rom_byte()); register the test device, the vendor call and the HYP_EXIT_MMIO
 * callback (the hole of protocol.h, refused accesses). The host registers the other exit
 * callbacks. 0 or a libhyp error (reported with lht_fail()). */
int lht_setup_vm(struct lht_dev *d, void *ram, void *rom);
/* Create @c's vCPU (checking that a refused custom affinity is refused), read its MIDR, set the
 * boot vCPU's entry and check HYP_CAP_INJECT_EXCEPTIONS on it. False if anything failed (with
 * lht_fail()); @c->vcpu is set whenever the vCPU exists. */
bool lht_create_vcpu(struct lht_vcpu *c);
/* Run @c until a system event, an error, or lht_stop(). */
void lht_run_vcpu(struct lht_vcpu *c);

/* The kick test: kick the armed vCPU now (from the host's kicker). */
void lht_kick_now(struct lht_dev *d);
/* The kick test's verdict, with a description in @diag and the exit's latency after the kick. */
bool lht_kick_verdict(struct lht_dev *d, char *diag, size_t size, uint64_t *latency_us);

/* The verdict on the run as a whole, one TAP line (its duration is @elapsed, formatted by the
 * host); for a guest with several vCPUs that stopped, one more on how they stopped. @timeout: a
 * failure reason to add if the watchdog fired, or NULL if the host reported that already. */
void lht_report_run(struct lht_dev *d, bool healthy, const char *timeout, const char *elapsed);

#endif /* LHT_DEVICE_H */
