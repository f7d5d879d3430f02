/* SPDX-License-Identifier: MIT */
/*
 * The VMM side of the libhyp test device, shared by tests/guests/driver.c and
 * examples/el2-firmware/harness.c: see lht-device.h. Freestanding: no libc, no floating point;
 * formatting, output, locks and the clock come from struct lht_host.
 */
#include "lht-device.h"

/* A TAP line, or a comment before it is split into lines. */
#define TEXT_MAX 1024

typedef unsigned long long ull; /* for %llx / %llu: <inttypes.h> is not freestanding */

static const struct lht_host *host;

static struct lht_tap_counts tap;

void lht_init(const struct lht_host *h)
{
	host = h;
}

__attribute__((format(printf, 3, 4))) static int format(char *buf, size_t size, const char *fmt,
							...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = host->vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static size_t text_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static bool printable(char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* ---------------------------------------------------------------- TAP output */

/* Print each non-empty line of @text after @prefix. Caller holds the TAP lock. */
static void write_lines(const char *prefix, const char *text)
{
	char line[TEXT_MAX];

	while (*text) {
		size_t n = 0;

		while (text[n] && text[n] != '\n')
			n++;
		if (n) {
			format(line, sizeof(line), "%s%.*s\n", prefix, (int)n, text);
			host->write(line);
		}
		text += n;
		if (*text)
			text++;
	}
}

static void tap_vcomment(const char *fmt, va_list ap)
{
	char buf[TEXT_MAX];

	host->vsnprintf(buf, sizeof(buf), fmt, ap);
	host->lock(host->tap_lock);
	write_lines("# ", buf);
	host->unlock(host->tap_lock);
}

void lht_tap_comment(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vcomment(fmt, ap);
	va_end(ap);
}

void lht_tap_result(bool ok, const char *skip, const char *todo, const char *diag, const char *fmt,
		    ...)
{
	char desc[512], line[TEXT_MAX];
	const char *verdict = ok ? "ok" : "not ok";
	va_list ap;

	va_start(ap, fmt);
	host->vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	/* A '#' in the description would start a directive. */
	for (char *p = desc; *p; p++)
		if (*p == '#')
			*p = '_';
	host->lock(host->tap_lock);
	tap.n++;
	if (skip) {
		tap.skipped++;
		format(line, sizeof(line), "ok %u - %s # SKIP %s\n", tap.n, desc, skip);
	} else if (todo) {
		tap.todo++;
		format(line, sizeof(line), "%s %u - %s # TODO %s\n", verdict, tap.n, desc, todo);
	} else {
		if (!ok)
			tap.failed++;
		format(line, sizeof(line), "%s %u - %s\n", verdict, tap.n, desc);
	}
	host->write(line);
	if (!ok && diag)
		write_lines("#   ", diag);
	host->unlock(host->tap_lock);
}

struct lht_tap_counts lht_tap_counts(void)
{
	struct lht_tap_counts c;

	host->lock(host->tap_lock);
	c = tap;
	host->unlock(host->tap_lock);
	return c;
}

void lht_log(void *opaque, enum hyp_log_priority prio, const char *fmt, va_list ap)
{
	char msg[512];

	host->vsnprintf(msg, sizeof(msg), fmt, ap);
	lht_tap_comment("libhyp(%s) [%s]: %s", (const char *)opaque,
			prio <= HYP_LOG_ERROR	? "error" :
			prio <= HYP_LOG_WARNING ? "warning" :
						  "info",
			msg);
}

/* ---------------------------------------------------------------- guest state */

void lht_dev_init(struct lht_dev *d, void *lock)
{
	d->lock = lock;
	for (uint32_t i = 0; i < LHT_MAX_VCPUS; i++) {
		d->vcpus[i].dev = d;
		d->vcpus[i].index = i;
	}
}

bool lht_header_ok(const struct lht_header *hdr)
{
	return hdr->magic == LHT_HEADER_MAGIC && hdr->version == LHT_HEADER_VERSION &&
	       hdr->nr_vcpus && hdr->nr_vcpus <= LHT_MAX_VCPUS;
}

void lht_fail(struct lht_dev *d, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	size_t used;

	va_start(ap, fmt);
	host->vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lht_tap_comment("%s: %s", d->name, msg);
	host->lock(d->lock);
	used = text_len(d->failure);
	if (used + 4 < sizeof(d->failure))
		format(d->failure + used, sizeof(d->failure) - used, "%s\n", msg);
	host->unlock(d->lock);
}

static struct hyp_vcpu *vcpu_of(struct lht_dev *d, uint32_t i)
{
	return __atomic_load_n(&d->vcpus[i].vcpu, __ATOMIC_SEQ_CST);
}

void lht_stop(struct lht_dev *d)
{
	__atomic_store_n(&d->stopping, true, __ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct hyp_vcpu *v = vcpu_of(d, i);

		if (v)
			hyp_vcpu_kick(v);
	}
}

/* The NUL-terminated guest string at @ipa, made printable. */
static void read_string(struct lht_dev *d, uint64_t ipa, char *out, size_t size)
{
	size_t n = 0;

	for (; n + 1 < size; n++) {
		char c;

		if (hyp_vm_read_guest(d->vm, ipa + n, &c, 1) || !c)
			break;
		out[n] = printable(c) ? c : '?';
	}
	out[n] = 0;
	if (!n)
		format(out, size, "(unreadable string at %#llx)", (ull)ipa);
}

const char *lht_event_name(uint32_t type)
{
	switch (type) {
	case HYP_SYSTEM_EVENT_OFF:
		return "SYSTEM_OFF";
	case HYP_SYSTEM_EVENT_RESET:
		return "SYSTEM_RESET";
	case HYP_SYSTEM_EVENT_CRASH:
		return "CRASH";
	case 0:
		return "none";
	default:
		return "unknown";
	}
}

/* ---------------------------------------------------------------- checks and console */

static const char *check_op_name(uint64_t op)
{
	switch (op) {
	case LHT_CHECK_EQ:
		return "==";
	case LHT_CHECK_NE:
		return "!=";
	case LHT_CHECK_LE:
		return "<=";
	case LHT_CHECK_GE:
		return ">=";
	default:
		return "?";
	}
}

static void do_check(struct lht_dev *d, struct lht_vcpu *c, uint64_t op)
{
	char name[LHT_NAME_MAX], who[16] = "", diag[256];
	uint64_t a = c->check_actual, e = c->check_expect;
	const char *todo = host->depends_todo ? host->depends_todo(c->check_depends) : NULL;
	bool ok;

	c->check_depends = 0;
	read_string(d, c->check_name, name, sizeof(name));
	if (d->nr_vcpus > 1)
		format(who, sizeof(who), " [vCPU %u]", c->index);
	switch (op) {
	case LHT_CHECK_EQ:
		ok = a == e;
		break;
	case LHT_CHECK_NE:
		ok = a != e;
		break;
	case LHT_CHECK_LE:
		ok = a <= e;
		break;
	case LHT_CHECK_GE:
		ok = a >= e;
		break;
	case LHT_CHECK_NOTE:
		lht_tap_comment("%s%s: %s: %#llx (%lld)", d->name, who, name, (ull)a, (long long)a);
		return;
	case LHT_CHECK_SKIP: {
		char reason[LHT_NAME_MAX];

		read_string(d, a, reason, sizeof(reason));
		host->lock(d->lock);
		d->checks++;
		host->unlock(d->lock);
		lht_tap_result(true, reason, NULL, NULL, "%s: %s%s", d->name, name, who);
		return;
	}
	default:
		lht_fail(d, "vCPU %u: unknown check operation %llu for '%s'", c->index, (ull)op,
			 name);
		return;
	}
	host->lock(d->lock);
	d->checks++;
	if (!ok && !todo)
		d->check_failures++;
	host->unlock(d->lock);
	format(diag, sizeof(diag), "actual   %#llx (%lld)\nexpected %s %#llx (%lld)", (ull)a,
	       (long long)a, check_op_name(op), (ull)e, (long long)e);
	/* A check whose known platform defect did not show this time (some are timing-dependent)
	 * is a plain pass: TAP's "ok # TODO" is an unexpected pass, which meson counts as failed. */
	lht_tap_result(ok, NULL, ok ? NULL : todo, diag, "%s: %s%s", d->name, name, who);
}

static void console_char(struct lht_dev *d, struct lht_vcpu *c, char ch)
{
	if (ch == '\n' || c->line_len + 1 >= sizeof(c->line)) {
		c->line[c->line_len] = 0;
		lht_tap_comment("%s[%u]: %s", d->name, c->index, c->line);
		c->line_len = 0;
		if (ch == '\n')
			return;
	}
	c->line[c->line_len++] = printable(ch) ? ch : '?';
}

/* ---------------------------------------------------------------- the kick test */

static void arm_kick(struct lht_dev *d, struct lht_vcpu *c, uint64_t flag_ipa)
{
	host->lock(d->lock);
	if (d->kick.armed) {
		host->unlock(d->lock);
		lht_fail(d, "LHT_REG_KICK_ARM written twice");
		c->status = -EBUSY;
		return;
	}
	d->kick.armed = true;
	d->kick.vcpu = c->index;
	d->kick.flag_ipa = flag_ipa;
	d->kick.armed_us = host->now_us();
	host->unlock(d->lock);
	host->start_kicker(d, c);
}

void lht_kick_now(struct lht_dev *d)
{
	/* Publish the time before kicking: the vCPU may see the exit at once. */
	__atomic_store_n(&d->kick.kicked_us, host->now_us(), __ATOMIC_SEQ_CST);
	d->kick.kick_status = hyp_vcpu_kick(vcpu_of(d, d->kick.vcpu));
}

/* hyp_vcpu_run() returned HYP_EXIT_KICKED on @c: the kick test's, or someone else's. */
static void on_kicked(struct lht_dev *d, struct lht_vcpu *c)
{
	uint64_t kicked = __atomic_load_n(&d->kick.kicked_us, __ATOMIC_SEQ_CST), one = 1;

	if (d->kick.armed && !d->kick.handled && c->index == d->kick.vcpu && kicked) {
		d->kick.exit_us = host->now_us();
		d->kick.handled = true;
		/* Let the spinning guest go on: it polls this flag in RAM. */
		if (hyp_vm_write_guest(d->vm, d->kick.flag_ipa, &one, sizeof(one)))
			lht_fail(d, "cannot write the kick flag at %#llx", (ull)d->kick.flag_ipa);
		return;
	}
	c->spurious_kicks++;
}

bool lht_kick_verdict(struct lht_dev *d, char *diag, size_t size, uint64_t *latency_us)
{
	uint64_t kicked = __atomic_load_n(&d->kick.kicked_us, __ATOMIC_SEQ_CST);
	bool ok = kicked && d->kick.handled && d->kick.kick_status == 0 &&
		  d->kick.exit_us >= kicked;

	format(diag, size, "armed at +0, kicked at +%lld us (status %d), exit seen %s",
	       kicked ? (long long)(kicked - d->kick.armed_us) : -1LL, d->kick.kick_status,
	       d->kick.handled ? "yes" : "no");
	*latency_us = ok ? d->kick.exit_us - kicked : 0;
	return ok;
}

/* ---------------------------------------------------------------- the test device */

void lht_log_foreign(struct lht_dev *d, const struct hyp_exit *exit, uint64_t type, uint64_t ipa,
		     uint64_t len, bool write, uint64_t data, uint64_t answer)
{
	host->lock(d->lock);
	d->foreign_esr = exit && (exit->raw.valid & HYP_SYNDROME_ESR) ? exit->raw.esr : ~0ull;
	d->foreign_count++;
	d->foreign_type = type;
	d->foreign_ipa = ipa;
	d->foreign_len = len;
	d->foreign_write = write;
	d->foreign_data = data;
	d->foreign_answer = answer;
	host->unlock(d->lock);
}

static uint64_t dev_read(struct lht_dev *d, struct lht_vcpu *c, uint64_t off, bool *known)
{
	uint64_t v = 0;

	*known = true;
	if (off >= LHT_REG_MPIDR(0) && off < LHT_REG_MPIDR(LHT_MAX_VCPUS)) {
		uint64_t i = (off - LHT_REG_MPIDR(0)) / 8;

		return i < d->nr_vcpus ? d->vcpus[i].mpidr : 0;
	}
	host->lock(d->lock);
	switch (off) {
	case LHT_REG_CAPS:
		v = d->caps;
		break;
	case LHT_REG_NR_VCPUS:
		v = d->nr_vcpus;
		break;
	case LHT_REG_VCPU_INDEX:
		v = c->index;
		break;
	case LHT_REG_MIDR:
		v = c->midr;
		break;
	case LHT_REG_STATUS:
		v = (uint64_t)c->status;
		break;
	case LHT_REG_FOREIGN_COUNT:
		v = d->foreign_count;
		break;
	case LHT_REG_FOREIGN_TYPE:
		v = d->foreign_type;
		break;
	case LHT_REG_FOREIGN_IPA:
		v = d->foreign_ipa;
		break;
	case LHT_REG_FOREIGN_LEN:
		v = d->foreign_len;
		break;
	case LHT_REG_FOREIGN_WRITE:
		v = d->foreign_write;
		break;
	case LHT_REG_FOREIGN_DATA:
		v = d->foreign_data;
		break;
	case LHT_REG_FOREIGN_ANSWER:
		v = d->foreign_answer;
		break;
	case LHT_REG_FOREIGN_ESR:
		v = d->foreign_esr;
		break;
	case LHT_REG_SCRATCH_COUNT:
		v = d->scratch_count;
		break;
	case LHT_REG_SCRATCH_WOFF:
		v = d->scratch_woff;
		break;
	case LHT_REG_SCRATCH_WLEN:
		v = d->scratch_wlen;
		break;
	case LHT_REG_SCRATCH_WDATA:
		v = d->scratch_wdata;
		break;
	default:
		*known = host->read_reg && host->read_reg(d, c, off, &v);
		break;
	}
	host->unlock(d->lock);
	return v;
}

static bool dev_write(struct lht_dev *d, struct lht_vcpu *c, uint64_t off, uint64_t v)
{
	char line[LHT_NAME_MAX];
	int r;

	switch (off) {
	case LHT_REG_PUTS:
		read_string(d, v, line, sizeof(line));
		lht_tap_comment("%s[%u]: %s", d->name, c->index, line);
		return true;
	case LHT_REG_EXIT:
		host->lock(d->lock);
		if (d->exit_written) {
			host->unlock(d->lock);
			lht_fail(d, "vCPU %u wrote LHT_REG_EXIT a second time", c->index);
			return true;
		}
		d->exit_written = true;
		d->exit_value = v;
		host->unlock(d->lock);
		return true;
	case LHT_REG_CHECK_NAME:
		c->check_name = v;
		return true;
	case LHT_REG_CHECK_ACTUAL:
		c->check_actual = v;
		return true;
	case LHT_REG_CHECK_EXPECT:
		c->check_expect = v;
		return true;
	case LHT_REG_CHECK:
		do_check(d, c, v);
		return true;
	case LHT_REG_CHECK_DEPENDS:
		c->check_depends = v;
		return true;
	case LHT_REG_SPI_RAISE:
	case LHT_REG_SPI_LOWER:
		r = hyp_vm_set_spi(d->vm, (uint32_t)v, off == LHT_REG_SPI_RAISE);
		c->status = r;
		if (r)
			lht_tap_comment("%s: hyp_vm_set_spi(%llu, %d): %s", d->name, (ull)v,
					off == LHT_REG_SPI_RAISE, hyp_strerror(r));
		return true;
	case LHT_REG_KICK_ARM:
		arm_kick(d, c, v);
		return true;
	case LHT_REG_BENCH_ITERATIONS:
	case LHT_REG_BENCH_CNTFRQ:
	case LHT_REG_BENCH_TICKS_EMPTY:
	case LHT_REG_BENCH_TICKS_HVC:
	case LHT_REG_BENCH_TICKS_MMIO_WRITE:
	case LHT_REG_BENCH_TICKS_MMIO_READ:
	case LHT_REG_BENCH_TICKS_PSCI:
	case LHT_REG_BENCH_TICKS_SPI:
	case LHT_REG_BENCH_TICKS_SPI_BASE:
	case LHT_REG_BENCH_TICKS_SGI:
	case LHT_REG_BENCH_TICKS_VTIMER:
	case LHT_REG_BENCH_TICKS_VTIMER_WFI:
	case LHT_REG_BENCH_VTIMER_LOST:
	case LHT_REG_BENCH_VTIMER_LOST_RUNNING:
		if (!(d->hdr.flags & LHT_F_BENCH))
			return false;
		d->bench[(off - LHT_REG_BENCH_ITERATIONS) / 8] = v;
		d->bench_written |= 1u << ((off - LHT_REG_BENCH_ITERATIONS) / 8);
		return true;
	default:
		return host->write_reg && host->write_reg(d, c, off, v);
	}
}

/* The VMM side of a live copy with the dirty ring (LHT_REG_RING), driven by the guest. */
static int64_t ring_collect(struct lht_dev *d)
{
	uint64_t bitmap[LHT_RAM_SIZE / HYP_PAGE_SIZE / 64];
	const uint64_t window = (LHT_DIRTY_WINDOW - LHT_RAM_BASE) / HYP_PAGE_SIZE;
	hyp_ipa_t pages[LHT_RING_BATCH];
	int64_t from_ring = 0;
	int n;

	do {
		n = hyp_vm_dirty_ring_harvest(d->vm, pages, LHT_RING_BATCH);
		for (int i = 0; i < n; i++) {
			uint64_t p = (pages[i] - LHT_DIRTY_WINDOW) / HYP_PAGE_SIZE;

			if (pages[i] < LHT_DIRTY_WINDOW || p >= LHT_RING_PAGES)
				continue;
			if (!(d->ring_seen[p / 64] >> (p % 64) & 1))
				from_ring++;
			d->ring_seen[p / 64] |= 1ull << (p % 64);
		}
	} while (n == (int)LHT_RING_BATCH);
	if (n < 0)
		return n;
	n = hyp_vm_dirty_log_fetch(d->vm, LHT_RAM_BASE, bitmap, sizeof(bitmap) / sizeof(bitmap[0]));
	if (n < 0)
		return n;
	d->ring_fetched = 0;
	for (uint64_t w = 0; w < LHT_RING_PAGES / 64; w++) {
		uint64_t only = bitmap[window / 64 + w] & ~d->ring_seen[w];

		for (; only; only &= only - 1)
			d->ring_fetched++;
		d->ring_seen[w] |= bitmap[window / 64 + w];
	}
	return from_ring;
}

static int64_t ring_op(struct lht_dev *d, uint64_t op)
{
	struct hyp_dirty_ring_stats s = { .size = sizeof(s) };
	int r;

	switch (op) {
	case LHT_RING_COLLECT:
		return ring_collect(d);
	case LHT_RING_CLEAR:
		for (size_t w = 0; w < LHT_RING_PAGES / 64; w++)
			d->ring_seen[w] = 0;
		return 0;
	case LHT_RING_FETCHED:
		return (int64_t)d->ring_fetched;
	case LHT_RING_FULL:
	case LHT_RING_SPILLED:
	case LHT_RING_HARVESTED:
	case LHT_RING_ENTRIES:
		r = hyp_vm_dirty_ring_stats(d->vm, &s);
		if (r)
			return r;
		return (int64_t)(op == LHT_RING_FULL	  ? s.full :
				 op == LHT_RING_SPILLED	  ? s.spilled :
				 op == LHT_RING_HARVESTED ? s.harvested :
							    s.entries);
	default:
		lht_fail(d, "LHT_REG_RING %#llx", (unsigned long long)op);
		return -22;
	}
}

/* The test device's MMIO callback (hyp_mmio_fn). */
static enum hyp_handler_result dev_mmio(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *a)
{
	struct lht_dev *d = opaque;
	struct lht_vcpu *c = &d->vcpus[hyp_vcpu_index(vcpu) % LHT_MAX_VCPUS];
	bool known;

	if (a->offset >= LHT_MEMWIN_OFF) {
		uint64_t off = a->offset - LHT_MEMWIN_OFF;

		/* The range ends with the window: an access may only straddle its end. */
		host->lock(d->lock);
		if (a->is_write) {
			for (unsigned i = 0; i < a->len && off + i < LHT_MEMWIN_SIZE; i++)
				d->memwin[off + i] = (uint8_t)(a->data >> (8 * i));
		} else {
			a->data = 0;
			for (unsigned i = 0; i < a->len && off + i < LHT_MEMWIN_SIZE; i++)
				a->data |= (uint64_t)d->memwin[off + i] << (8 * i);
		}
		host->unlock(d->lock);
		return HYP_HANDLED;
	}
	if (a->offset >= LHT_SCRATCH_OFF) {
		uint64_t off = a->offset - LHT_SCRATCH_OFF;

		if (a->is_write) {
			host->lock(d->lock);
			d->scratch_count++;
			d->scratch_woff = off;
			d->scratch_wlen = a->len;
			d->scratch_wdata = a->data;
			host->unlock(d->lock);
		} else {
			a->data = lht_scratch_value(off, a->len);
		}
		return HYP_HANDLED;
	}
	if (a->offset == LHT_REG_CONSOLE && a->is_write) {
		console_char(d, c, (char)a->data);
		return HYP_HANDLED;
	}
	if (a->len != 8 || (a->offset & 7)) {
		if (d->hostile) {
			/* A device answers a malformed register access with a bus error. */
			const struct hyp_exit *exit = hyp_vcpu_exit(vcpu);
			uint64_t answer;
			enum hyp_handler_result res =
				host->inject_abort(d, vcpu, exit, a->ipa, &answer);

			lht_log_foreign(d, exit, LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
					a->is_write ? a->data : 0, answer);
			return res;
		}
		lht_fail(d, "vCPU %u: %u-byte %s of test register %#llx (registers are 64-bit)",
			 c->index, a->len, a->is_write ? "write" : "read", (ull)a->offset);
		a->data = 0;
		return HYP_HANDLED;
	}
	if (a->offset == LHT_REG_REMAP && (d->caps & LHT_CAP_ROM)) {
		/* Changing the memory map from the exit callback, as a flash device changing
		 * mode does; the vCPU is this one. */
		if (!a->is_write) {
			a->data = (uint64_t)d->remap_result;
		} else if (a->data == LHT_REMAP_MAP) {
			d->remap_result = hyp_vcpu_exit_map(vcpu, LHT_REMAP_BASE, d->rom,
							    LHT_REMAP_SIZE,
							    HYP_MEM_RO | HYP_MEM_EXEC);
		} else if (a->data == LHT_REMAP_UNMAP) {
			d->remap_result = hyp_vcpu_exit_unmap(vcpu, LHT_REMAP_BASE, LHT_REMAP_SIZE);
		} else {
			lht_fail(d, "vCPU %u: LHT_REG_REMAP %#llx", c->index, (ull)a->data);
		}
		return HYP_HANDLED;
	}
	if (a->offset == LHT_REG_DIRTY || a->offset == LHT_REG_DIRTY_BITS) {
		/* The VMM side of a live copy, driven by the guest: it knows which pages it wrote
		 * and checks the log itself. */
		uint64_t bitmap[LHT_RAM_SIZE / HYP_PAGE_SIZE / 64];
		const uint64_t window = (LHT_DIRTY_WINDOW - LHT_RAM_BASE) / HYP_PAGE_SIZE;

		if (!a->is_write)
			a->data = a->offset == LHT_REG_DIRTY ? (uint64_t)d->dirty_result :
							       d->dirty_bits;
		else if (a->offset == LHT_REG_DIRTY_BITS)
			lht_fail(d, "vCPU %u: LHT_REG_DIRTY_BITS is read-only", c->index);
		else if (a->data == LHT_DIRTY_ENABLE || a->data == LHT_DIRTY_DISABLE)
			d->dirty_result = hyp_vm_dirty_log_enable(d->vm, LHT_RAM_BASE,
								  a->data == LHT_DIRTY_ENABLE);
		else if (a->data == LHT_DIRTY_FETCH) {
			d->dirty_result = hyp_vm_dirty_log_fetch(
				d->vm, LHT_RAM_BASE, bitmap, sizeof(bitmap) / sizeof(bitmap[0]));
			d->dirty_bits = d->dirty_result >= 0 ? bitmap[window / 64] : 0;
		} else
			lht_fail(d, "vCPU %u: LHT_REG_DIRTY %#llx", c->index, (ull)a->data);
		return HYP_HANDLED;
	}
	if (a->offset == LHT_REG_RING || a->offset == LHT_REG_RING_WORD) {
		if (!a->is_write)
			a->data = a->offset == LHT_REG_RING ?
					  (uint64_t)d->ring_result :
					  d->ring_seen[d->ring_word % (LHT_RING_PAGES / 64)];
		else if (a->offset == LHT_REG_RING_WORD)
			d->ring_word = a->data;
		else
			d->ring_result = ring_op(d, a->data);
		return HYP_HANDLED;
	}
	if (a->is_write)
		known = dev_write(d, c, a->offset, a->data);
	else
		a->data = dev_read(d, c, a->offset, &known);
	if (!known)
		lht_fail(d, "vCPU %u: %s of unknown test register %#llx", c->index,
			 a->is_write ? "write" : "read", (ull)a->offset);
	return HYP_HANDLED;
}

/* The read-only page: reads never exit (it is memory); writes exit as MMIO and are dropped, as a
 * ROM would. */
static enum hyp_handler_result rom_mmio(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_mmio_access *a)
{
	struct lht_dev *d = opaque;

	if (!a->is_write) {
		uint64_t v = 0;

		for (unsigned int i = 0; i < a->len && a->offset + i < LHT_ROM_SIZE; i++)
			v |= (uint64_t)lht_rom_byte(a->offset + i) << (8 * i);
		a->data = v;
	}
	lht_log_foreign(d, hyp_vcpu_exit(vcpu), LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
			a->is_write ? a->data : 0, LHT_ANSWER_COMPLETED);
	return HYP_HANDLED;
}

/* The remap window while it is not memory: a device whose every byte reads LHT_REMAP_MMIO_BYTE. */
static enum hyp_handler_result remap_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *a)
{
	struct lht_dev *d = opaque;

	if (!a->is_write) {
		a->data = 0;
		for (unsigned int i = 0; i < a->len; i++)
			a->data |= (uint64_t)LHT_REMAP_MMIO_BYTE << (8 * i);
	}
	lht_log_foreign(d, hyp_vcpu_exit(vcpu), LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
			a->is_write ? a->data : 0, LHT_ANSWER_COMPLETED);
	return HYP_HANDLED;
}

/* MMIO exits no range claimed (hyp_exit_fn for HYP_EXIT_MMIO): the hole's upper half reads as
 * zero and ignores writes; anything else gets an external abort, and is a failure outside the
 * hole (guests go there only to test the abort). */
static enum hyp_handler_result unclaimed_mmio(void *opaque, struct hyp_vcpu *vcpu,
					      struct hyp_exit *exit)
{
	struct lht_dev *d = opaque;
	struct hyp_mmio_access *a = &exit->mmio;
	enum hyp_handler_result res = HYP_HANDLED;
	uint64_t answer = LHT_ANSWER_COMPLETED;

	if (a->ipa >= LHT_HOLE_RAZWI && a->ipa < LHT_HOLE_BASE + LHT_HOLE_SIZE) {
		if (!a->is_write)
			a->data = 0;
	} else {
		if (!d->hostile &&
		    (a->ipa < LHT_HOLE_BASE || a->ipa >= LHT_HOLE_BASE + LHT_HOLE_SIZE))
			lht_fail(d, "vCPU %u: unexpected %u-byte MMIO %s at IPA %#llx",
				 hyp_vcpu_index(vcpu), a->len, a->is_write ? "write" : "read",
				 (ull)a->ipa);
		res = host->inject_abort(d, vcpu, exit, a->ipa, &answer);
	}
	lht_log_foreign(d, exit, LHT_FOREIGN_MMIO, a->ipa, a->len, a->is_write,
			a->is_write ? a->data : 0, answer);
	return res;
}

/* The vendor hypervisor call (hyp_smccc_fn): seven arguments in, four results out. */
static enum hyp_handler_result vendor_call(void *opaque, struct hyp_vcpu *vcpu,
					   struct hyp_smccc_call *call)
{
	struct lht_dev *d = opaque;

	(void)vcpu;
	lht_vendor_results(call->args, call->ret);
	host->lock(d->lock);
	d->vendor_calls++;
	host->unlock(d->lock);
	return HYP_HANDLED;
}

/* The benchmark's callbacks (LHT_F_BENCH): as little as a useful callback can do. */
static enum hyp_handler_result bench_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *a)
{
	struct lht_dev *d = opaque;

	(void)vcpu;
	if (!a->is_write)
		a->data = 0;
	else if (a->offset == LHT_BENCH_SPI_PULSE && a->len == 8)
		(void)(hyp_vm_set_spi(d->vm, (uint32_t)a->data, true) ||
		       hyp_vm_set_spi(d->vm, (uint32_t)a->data, false));
	return HYP_HANDLED;
}

static enum hyp_handler_result bench_call(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_smccc_call *call)
{
	(void)vcpu;
	(void)opaque;
	call->ret[0] = 0;
	return HYP_HANDLED;
}

/* Instructions per operation, in hundredths, from CNTVCT ticks: under -icount shift=0 one
 * instruction is 1 ns (ARCHITECTURE.md, "Measuring speed honestly"); the empty loop's ticks are
 * the loop itself. */
static uint64_t bench_per_op_x100(uint64_t ticks, uint64_t empty, uint64_t n, uint64_t freq)
{
	if (!n || !freq || ticks < empty)
		return 0;
	return (ticks - empty) * (100000000000ull / freq) / n;
}

/* Instructions, in hundredths, from @ticks over @n operations with nothing subtracted. */
static uint64_t bench_x100(uint64_t ticks, uint64_t n, uint64_t freq)
{
	return n && freq ? ticks * (100000000000ull / freq) / n : 0;
}

enum bench_kind {
	BENCH_LOOP,	/* a loop of the register's ticks, the empty loop subtracted */
	BENCH_LOOP_NET, /* a loop, the loop of register @base subtracted */
	BENCH_LATENCY,	/* a sum of latencies over the operations: nothing subtracted */
};

/* The benchmark's figures, one "bench:" comment line each (only for what the guest measured),
 * with the el2 backend's targets on their lines. tests/bench/bench-table.py puts the el2 and kvm
 * lines side by side by their text. */
static void bench_report(struct lht_dev *d)
{
	bool to_handler = d->caps & LHT_CAP_SMCCC_HVC;
	const struct {
		unsigned int reg, base;
		enum bench_kind kind;
		const char *what;
		unsigned int target;
		bool target_native_wfi; /* the target is for native WFI (a bench_variant run) */
	} rows[] = {
		{ 3, 0, BENCH_LOOP,
		  to_handler ? "HVC round trip to a registered SMCCC handler" :
			       "HVC round trip, answered by the backend (no SMCCC exits)",
		  150, false },
		{ 4, 0, BENCH_LOOP, "MMIO write round trip to a registered callback", 250, false },
		{ 5, 0, BENCH_LOOP, "MMIO read round trip to a registered callback", 250, false },
		{ 6, 0, BENCH_LOOP, "HVC PSCI_VERSION answered by the backend's PSCI", 0, false },
		{ 7, 0, BENCH_LOOP, "SPI: MMIO write, VMM pulses the SPI, handler, EOI", 0, false },
		{ 7, 8, BENCH_LOOP_NET, "SPI raised by the VMM -> handler entry -> EOI", 600,
		  false },
		{ 9, 0, BENCH_LOOP, "SGI round trip vCPU 0 -> vCPU 1 -> vCPU 0 (WFI)", 1500, true },
		{ 10, 0, BENCH_LATENCY, "virtual timer expiry -> handler entry (running)", 0,
		  false },
		{ 11, 0, BENCH_LATENCY, "virtual timer expiry -> handler entry (in WFI)", 0,
		  false },
	};
	const char *backend = hyp_vm_backend_name(d->vm);
	bool el2 = backend && backend[0] == 'e' && backend[1] == 'l' && backend[2] == '2' &&
		   !backend[3];
	uint64_t n = d->bench[0], freq = d->bench[1], lost = d->bench[12], lost_run = d->bench[13];
	char target[40], variant[96];
	const char *what;

	lht_tap_comment("bench: %s: %llu operations per loop, CNTFRQ %llu Hz; instructions per "
			"operation, exact under -icount shift=0",
			backend, (ull)n, (ull)freq);
	for (unsigned int i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t x, ops = n;

		if (!(d->bench_written & (1u << rows[i].reg)))
			continue;
		if (rows[i].kind == BENCH_LATENCY) {
			uint64_t l = rows[i].reg == 11 ? lost : lost_run;

			ops = l < n ? n - l : n;
			x = bench_x100(d->bench[rows[i].reg], ops, freq);
		} else {
			x = bench_per_op_x100(
				d->bench[rows[i].reg],
				d->bench[rows[i].kind == BENCH_LOOP_NET ? rows[i].base : 2], n,
				freq);
		}
		target[0] = 0;
		if (el2 && rows[i].target && rows[i].target_native_wfi && !d->bench_variant)
			format(target, sizeof(target), " (the %u target is native WFI's)",
			       rows[i].target);
		else if (el2 && rows[i].target)
			format(target, sizeof(target), " (target <= %u)", rows[i].target);
		what = rows[i].what;
		if (d->bench_variant) {
			format(variant, sizeof(variant), "%s, %s", what, d->bench_variant);
			what = variant;
		}
		lht_tap_comment("bench: %-4s %-58s %6llu.%02llu instructions%s", backend, what,
				(ull)(x / 100), (ull)(x % 100), target);
	}
	if (d->bench_written & (1u << 12))
		lht_tap_comment(
			"bench: %s: timer waits ended by the backstop (lost interrupts, left "
			"out above): %llu of %llu running, %llu of %llu in WFI",
			backend, (ull)lost_run, (ull)n, (ull)lost, (ull)n);
}

/* ---------------------------------------------------------------- the VM */

void lht_query_caps(struct lht_dev *d, char *line, size_t size, bool hex)
{
	static const struct {
		enum hyp_cap cap;
		const char *name;
	} caps[] = {
		{ HYP_CAP_IRQCHIP_BACKEND, "irqchip-backend" },
		{ HYP_CAP_IRQ_INJECTION, "irq-injection" },
		{ HYP_CAP_SYSREG_TRAPS, "sysreg-traps" },
		{ HYP_CAP_SMCCC_HVC_EXITS, "smccc-hvc-exits" },
		{ HYP_CAP_SMCCC_SMC_EXITS, "smccc-smc-exits" },
		{ HYP_CAP_PSCI_OVERRIDE, "psci-override" },
		{ HYP_CAP_READONLY_MEM, "readonly-mem" },
		{ HYP_CAP_NO_SYNDROME_EXITS, "no-syndrome-exits" },
		{ HYP_CAP_WFX_EXITS, "wfx-exits" },
		{ HYP_CAP_MAX_VCPUS, "max-vcpus" },
		{ HYP_CAP_IPA_BITS, "ipa-bits" },
		{ HYP_CAP_INJECT_EXCEPTIONS, "inject-exceptions" },
		{ HYP_CAP_CUSTOM_MPIDR, "custom-mpidr" },
		{ HYP_CAP_DIRTY_LOG, "dirty-log" },
		{ HYP_CAP_DIRTY_RING, "dirty-ring" },
	};
	size_t used = 0;

	line[0] = 0;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		uint64_t v = 0;
		int r = hyp_vm_query_cap(d->vm, caps[i].cap, &v);

		if (used < size && r)
			used += (size_t)format(line + used, size - used, " %s=(%s)", caps[i].name,
					       hyp_strerror(r));
		else if (used < size && (hex || caps[i].cap == HYP_CAP_INJECT_EXCEPTIONS))
			used += (size_t)format(line + used, size - used, " %s=%#llx", caps[i].name,
					       (ull)v);
		else if (used < size)
			used += (size_t)format(line + used, size - used, " %s=%llu", caps[i].name,
					       (ull)v);
		if (r)
			continue;
		if (caps[i].cap == HYP_CAP_NO_SYNDROME_EXITS && v)
			d->caps |= LHT_CAP_NO_SYNDROME;
		if (caps[i].cap == HYP_CAP_SMCCC_HVC_EXITS && v)
			d->caps |= LHT_CAP_SMCCC_HVC;
		if (caps[i].cap == HYP_CAP_IRQ_INJECTION && v)
			d->caps |= LHT_CAP_IRQCHIP;
		if (caps[i].cap == HYP_CAP_DIRTY_LOG && v)
			d->caps |= LHT_CAP_DIRTY_LOG;
		if (caps[i].cap == HYP_CAP_DIRTY_RING && v && d->ring_entries)
			d->caps |= LHT_CAP_DIRTY_RING;
		/* A failed query counts as "cannot": custom affinities are then expected to be
		 * refused, and no abort injection is attempted. */
		if (caps[i].cap == HYP_CAP_CUSTOM_MPIDR && v) {
			d->custom_mpidr = true;
			d->caps |= LHT_CAP_CUSTOM_MPIDR;
		}
		if (caps[i].cap == HYP_CAP_INJECT_EXCEPTIONS) {
			d->inject_mask = v;
			if (v & (1ull << HYP_INJECT_DATA_ABORT))
				d->caps |= LHT_CAP_INJECT_DABT;
		}
	}
}

static uint64_t default_mpidr(uint32_t index)
{
	/* libhyp's documented default (vcpu.h, struct hyp_vcpu_config.mpidr). */
	return (index & 0xf) | ((uint64_t)((index >> 4) & 0xff) << 8) |
	       ((uint64_t)((index >> 12) & 0xff) << 16);
}

void lht_plan_vcpus(struct lht_dev *d)
{
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct lht_vcpu *c = &d->vcpus[i];
		uint64_t want = d->hdr.mpidr[i];

		c->mpidr = default_mpidr(i);
		if (want && want != c->mpidr) {
			if (d->custom_mpidr)
				c->mpidr = want;
			else
				c->refused_mpidr_expected = true;
		}
	}
}

int lht_setup_vm(struct lht_dev *d, void *ram, void *rom)
{
	uint64_t ro = 0, hvc_exits = 0;
	int r;

	d->dirty_result = 1;
	d->ring_result = 1;
	if (d->hdr.flags & LHT_F_HOSTILE)
		d->hostile = true;
	r = hyp_vm_map(d->vm, LHT_RAM_BASE, ram, LHT_RAM_SIZE, HYP_MEM_RWX);
	if (r) {
		lht_fail(d, "hyp_vm_map(RAM): %s", hyp_strerror(r));
		return r;
	}
	/* The read-only page: HYP_MEM_RO plus EXEC, because KVM cannot enforce no-execute at
	 * stage 2 and refuses what it cannot enforce. */
	if (!hyp_vm_query_cap(d->vm, HYP_CAP_READONLY_MEM, &ro) && ro) {
		r = hyp_vm_map(d->vm, LHT_ROM_BASE, rom, LHT_ROM_SIZE, HYP_MEM_RO | HYP_MEM_EXEC);
		if (r) {
			lht_fail(d, "hyp_vm_map(read-only page): %s", hyp_strerror(r));
			return r;
		}
		r = hyp_vm_add_mmio_handler(d->vm, LHT_ROM_BASE, LHT_ROM_SIZE, rom_mmio, d);
		if (!r)
			r = hyp_vm_add_mmio_handler(d->vm, LHT_REMAP_BASE, LHT_REMAP_SIZE,
						    remap_mmio, d);
		if (r) {
			lht_fail(d, "hyp_vm_add_mmio_handler(read-only page): %s", hyp_strerror(r));
			return r;
		}
		d->rom = rom;
		d->remap_result = 1;
		d->caps |= LHT_CAP_ROM;
	}
	/* The guests drive SPIs themselves (GICD_ISPENDR) and through LHT_REG_SPI_RAISE, up to
	 * INTID 255: a GIC sized from the lines claimed (kvm) must implement them all. */
	hyp_vm_claim_spi(d->vm, 255);
	r = hyp_vm_add_mmio_handler(d->vm, LHT_DEV_BASE, LHT_DEV_SIZE, dev_mmio, d);
	if (!r)
		r = hyp_vm_set_exit_handler(d->vm, HYP_EXIT_MMIO, unclaimed_mmio, d);
	/* Without HVC exits (kvm on Linux < 6.4) the backend refuses SMCCC handlers (-ENOTSUP):
	 * the guests see the calls answered NOT_SUPPORTED and skip what needs them. */
	if (!r && hyp_vm_query_cap(d->vm, HYP_CAP_SMCCC_HVC_EXITS, &hvc_exits) == 0 && hvc_exits)
		r = hyp_vm_add_smccc_handler(d->vm, HYP_CONDUIT_HVC, LHT_VENDOR_FID, LHT_VENDOR_FID,
					     vendor_call, d);
	if (!r && (d->hdr.flags & LHT_F_BENCH))
		r = hyp_vm_add_mmio_handler(d->vm, LHT_BENCH_MMIO_BASE, LHT_BENCH_MMIO_SIZE,
					    bench_mmio, d);
	if (!r && (d->hdr.flags & LHT_F_BENCH) && hvc_exits)
		r = hyp_vm_add_smccc_handler(d->vm, HYP_CONDUIT_HVC, LHT_BENCH_FID, LHT_BENCH_FID,
					     bench_call, d);
	if (r)
		lht_fail(d, "registering callbacks: %s", hyp_strerror(r));
	return r;
}

/* ---------------------------------------------------------------- vCPUs */

/*
 * The backend says a vCPU cannot have a custom affinity (HYP_CAP_CUSTOM_MPIDR = 0): asking for one
 * must fail with exactly -ENOTSUP, neither succeed (on KVM the affinity would silently revert at
 * PSCI CPU_ON, and its vGICv3 ignores Aff3) nor fail for another reason. Returns the vCPU if the
 * backend accepted the affinity after all (the check has failed; the guest then runs with it).
 */
static struct hyp_vcpu *expect_mpidr_refused(struct lht_dev *d, struct lht_vcpu *c)
{
	struct hyp_vcpu_config cfg = {
		.size = sizeof(cfg),
		.index = c->index,
		.mpidr = d->hdr.mpidr[c->index],
	};
	struct hyp_vcpu *vcpu = NULL;
	char diag[128];
	int r;

	lht_tap_comment("%s: vCPU %u: asking for custom MPIDR %#llx although "
			"HYP_CAP_CUSTOM_MPIDR = 0; libhyp should refuse it (errors it logs are "
			"expected)",
			d->name, c->index, (ull)cfg.mpidr);
	r = hyp_vcpu_create(d->vm, &cfg, &vcpu);
	format(diag, sizeof(diag), "hyp_vcpu_create() returned %d (%s)", r,
	       r ? hyp_strerror(r) : "success");
	lht_tap_result(r == -ENOTSUP, NULL, NULL, diag,
		       "%s: hyp_vcpu_create(index %u, custom MPIDR %#llx) = -ENOTSUP, as "
		       "HYP_CAP_CUSTOM_MPIDR = 0 says",
		       d->name, c->index, (ull)cfg.mpidr);
	if (r)
		return NULL;
	c->mpidr = cfg.mpidr;
	return vcpu;
}

/* HYP_CAP_INJECT_EXCEPTIONS must not overstate either: a kind it leaves out is refused with
 * -ENOTSUP (and so not injected). The kinds it includes are exercised by the guests. */
static void check_inject_cap(struct lht_dev *d, struct hyp_vcpu *vcpu)
{
	static const struct {
		enum hyp_inject_kind kind;
		const char *name;
	} kinds[] = {
		{ HYP_INJECT_UNDEF, "HYP_INJECT_UNDEF" },
		{ HYP_INJECT_DATA_ABORT, "HYP_INJECT_DATA_ABORT" },
		{ HYP_INJECT_PREFETCH_ABORT, "HYP_INJECT_PREFETCH_ABORT" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int r;

		if (d->inject_mask & (1ull << kinds[i].kind))
			continue;
		r = hyp_vcpu_inject_exception(vcpu, kinds[i].kind, LHT_RAM_BASE);
		if (r != -ENOTSUP)
			lht_fail(d,
				 "HYP_CAP_INJECT_EXCEPTIONS = %#llx leaves out %s, but "
				 "hyp_vcpu_inject_exception() returned %d (%s), not -ENOTSUP",
				 (ull)d->inject_mask, kinds[i].name, r,
				 r ? hyp_strerror(r) : "success");
	}
}

/*
 * The boot vCPU enters the image at its first byte with X0 = 0 (a secondary starts where PSCI
 * CPU_ON says). Set in one batch with ELR_EL1 and SPSR_EL1 (UNKNOWN at reset, so no guest can
 * depend on them), which on the el2 backend live with the EL1 system registers rather than in the
 * register file, and read back both ways: batched and one by one.
 */
static bool set_boot_regs(struct lht_dev *d, struct hyp_vcpu *vcpu)
{
	static const enum hyp_reg regs[] = { HYP_REG_PC, HYP_REG_ELR_EL1, HYP_REG_X0,
					     HYP_REG_SPSR_EL1 };
	const uint64_t values[] = { LHT_RAM_BASE, LHT_RAM_BASE + 0x7ff0, 0, 0x3c5 };
	uint64_t got[4] = { 0 }, one = ~0ull;
	int r = hyp_vcpu_set_regs(vcpu, regs, values, 4);

	if (r) {
		lht_fail(d, "vCPU 0: hyp_vcpu_set_regs(PC, ELR_EL1, X0, SPSR_EL1): %s",
			 hyp_strerror(r));
		return false;
	}
	r = hyp_vcpu_get_regs(vcpu, regs, got, 4);
	for (int i = 0; i < 4 && !r; i++) {
		r = hyp_vcpu_get_reg(vcpu, regs[i], &one);
		if (!r && (got[i] != values[i] || one != values[i])) {
			lht_fail(d, "vCPU 0: register %d set to %#llx reads %#llx (batch), %#llx",
				 regs[i], (ull)values[i], (ull)got[i], (ull)one);
			return false;
		}
	}
	if (r) {
		lht_fail(d, "vCPU 0: reading the boot registers back: %s", hyp_strerror(r));
		return false;
	}
	return true;
}

bool lht_create_vcpu(struct lht_vcpu *c)
{
	struct lht_dev *d = c->dev;
	struct hyp_vcpu_config cfg = {
		.size = sizeof(cfg),
		.index = c->index,
		/* 0 (libhyp's default, which c->mpidr then holds) unless a custom one is allowed. */
		.mpidr = c->refused_mpidr_expected ? 0 : d->hdr.mpidr[c->index],
	};
	struct hyp_vcpu *vcpu = NULL;
	bool ok = true;
	int r = 0;

	if (c->refused_mpidr_expected)
		vcpu = expect_mpidr_refused(d, c);
	if (!vcpu)
		r = hyp_vcpu_create(d->vm, &cfg, &vcpu);
	if (r) {
		lht_fail(d, "hyp_vcpu_create(index %u, mpidr %#llx): %s", c->index, (ull)cfg.mpidr,
			 hyp_strerror(r));
		return false;
	}
	/* What the VMM reads as this vCPU's MIDR_EL1; the guest compares it with its own. */
	if (hyp_vcpu_get_sysreg(vcpu, HYP_SYSREG_MIDR_EL1, &c->midr))
		c->midr = 0;
	if (c->index == 0) {
		ok = set_boot_regs(d, vcpu);
		check_inject_cap(d, vcpu);
	}
	__atomic_store_n(&c->vcpu, vcpu, __ATOMIC_SEQ_CST);
	return ok;
}

void lht_run_vcpu(struct lht_vcpu *c)
{
	struct lht_dev *d = c->dev;

	for (;;) {
		struct hyp_exit *exit;
		int r = hyp_vcpu_run(c->vcpu);

		if (r) {
			lht_fail(d, "vCPU %u: hyp_vcpu_run: %s", c->index, hyp_strerror(r));
			lht_stop(d);
			return;
		}
		exit = hyp_vcpu_exit(c->vcpu);
		switch (exit->reason) {
		case HYP_EXIT_SYSTEM_EVENT:
			host->lock(d->lock);
			if (!d->events_seen++) {
				d->event_type = exit->system_event.type;
			} else if (d->event_type != exit->system_event.type) {
				size_t used = text_len(d->failure);

				format(d->failure + used, sizeof(d->failure) - used,
				       "vCPU %u saw system event %s after %s\n", c->index,
				       lht_event_name(exit->system_event.type),
				       lht_event_name(d->event_type));
			}
			host->unlock(d->lock);
			return;
		case HYP_EXIT_KICKED:
			if (__atomic_load_n(&d->stopping, __ATOMIC_SEQ_CST))
				return;
			on_kicked(d, c);
			continue;
		default:
			if (host->vcpu_exit(c, exit))
				continue;
			lht_stop(d);
			return;
		}
	}
}

/* ---------------------------------------------------------------- the verdict */

void lht_report_run(struct lht_dev *d, bool healthy, const char *timeout, const char *elapsed)
{
	uint32_t want = (d->hdr.flags & LHT_F_EXPECT_RESET) ? HYP_SYSTEM_EVENT_RESET :
							      HYP_SYSTEM_EVENT_OFF;

	if (!d->exit_written)
		lht_fail(d, "the guest never wrote LHT_REG_EXIT (it did not finish)");
	else if (d->exit_value == LHT_EXIT_UNEXPECTED_EXCEPTION)
		lht_fail(d, "the guest stopped on an unexpected exception");
	else if (d->exit_value)
		lht_fail(d, "the guest finished with failure code %llu", (ull)d->exit_value);
	if (d->timed_out && timeout)
		lht_fail(d, "%s", timeout);
	if (d->events_seen && d->event_type != want)
		lht_fail(d, "the VM ended with system event %s, expected %s",
			 lht_event_name(d->event_type), lht_event_name(want));
	if (!d->events_seen && !d->timed_out && healthy)
		lht_fail(d, "no vCPU reported a system event");
	if (!d->checks)
		lht_fail(d, "the guest reported no checks");
	/* A capability must not understate either: a handler that runs although the backend said
	 * HVC calls cannot reach it means HYP_CAP_SMCCC_HVC_EXITS lies. */
	if (d->vendor_calls && !(d->caps & LHT_CAP_SMCCC_HVC))
		lht_fail(d, "the SMCCC handler ran although HYP_CAP_SMCCC_HVC_EXITS = 0");
	lht_tap_result(!d->failure[0], NULL, NULL, d->failure,
		       "%s: ran to completion (%u vCPU%s, %u checks, ended with %s) in %s", d->name,
		       d->nr_vcpus, d->nr_vcpus > 1 ? "s" : "", d->checks,
		       lht_event_name(d->event_type), elapsed);
	if ((d->hdr.flags & LHT_F_BENCH) && !d->failure[0])
		bench_report(d);
	/* hyp_vcpu_run() documents that once a system event ended the VM, every vCPU's run returns
	 * it; HYP_EXIT_KICKED means hyp_vcpu_kick() was called. Only the kick test kicks. */
	if (d->nr_vcpus > 1 && d->events_seen) {
		unsigned int spurious = 0;
		char diag[80];

		for (uint32_t i = 0; i < d->nr_vcpus; i++)
			spurious += d->vcpus[i].spurious_kicks;
		format(diag, sizeof(diag), "%u HYP_EXIT_KICKED exit(s) nobody asked for", spurious);
		lht_tap_result(!spurious, NULL, NULL, diag,
			       "%s: every vCPU stopped with HYP_EXIT_SYSTEM_EVENT, no unrequested "
			       "HYP_EXIT_KICKED",
			       d->name);
	}
}
