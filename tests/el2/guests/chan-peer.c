/* SPDX-License-Identifier: MIT */
/*
 * chan-peer: the bare-metal end of the inter-partition channel (el2 firmware-linux.elf,
 * FW_GUEST_CHANNEL). It drives the shared region itself, as libhyp/chan-layout.h describes it
 * (no library), with the doorbell register and the doorbell SPI through its own GIC, and talks to
 * Linux's /init (tests/linux-guest/guest-init.c) with the protocol of chan-proto.h: it checks
 * every byte of every request and answers each with a transformed reply, and sends a numbered
 * heartbeat every BEAT_MS on its virtual timer, whatever Linux does.
 *
 * It runs for the Linux partition's whole life: the firmware's control window says when Linux
 * has finished; then it reports and powers off. Its heartbeats are timed per phase of Linux's
 * life (LHT_EL2_REG_HOST_PHASE: boot n is phase n, its teardown and the next boot's build
 * included): they must go on through every reboot, crash and storm next door. vCPU 0 does the
 * channel; vCPU 1 storms libhyp during Linux's first boot (MMIO exits on the test device and
 * SGIs to itself, STORM_PHASE), so that boot shows a storm in this partition stalls nothing in
 * the other.
 *
 * Backpressure, not loss: a reply is made only when the outgoing queue has room for it (so while
 * Linux does not read, the peer stops reading too and Linux's writes wait), and a heartbeat that
 * finds the queue full waits (missed ticks are counted, beat numbers never skip).
 *
 * Halfway through the exchange it turns hostile for a moment: garbage over the whole header (its
 * indexes and the host's), the doorbell rung PEER_STORM_RINGS times in a tight loop; then it puts
 * its indexes back and rings once, which must give it the host's indexes back, and the exchange
 * must go on with every byte intact.
 */
#include "rt/rt.h"

#include "el2-lht.h"
#include "rt/gic.h"

#include <libhyp/chan-layout.h>

#include "chan-peer.h"
#include "chan-proto.h"

LHT_GUEST(.nr_vcpus = 2, .flags = LHT_F_NEEDS_IRQCHIP, .timeout_ms = 600000);

#define VTIMER_INTID 27u
#define BEAT_MS 50u
#define RING PEER_CHAN_RING
#define OUTQ 8192u
#define ATTACK_AT 500u
/* Linux's boot the storm runs in, its SGI, and how many reads between looks at the phase. */
#define STORM_PHASE 1u
#define STORM_SGI 3u
#define STORM_BATCH 256u
/* Phases told apart: 0 (before Linux's first boot) .. PHASES - 1 (its third and later). */
#define PHASES 4u
/* A heartbeat gap that means the partition stalled: the period is 50 ms, the rest is the host
 * (QEMU's threads on a shared machine); a stall is unbounded. */
#define STALL_MS 3000u

static volatile struct hyp_chan_header *const hdr = (volatile void *)PEER_CHAN_IPA;
static volatile uint8_t *const to_guest =
	(volatile uint8_t *)(PEER_CHAN_IPA + HYP_CHAN_HEADER_SIZE);
static volatile uint8_t *const to_host =
	(volatile uint8_t *)(PEER_CHAN_IPA + HYP_CHAN_HEADER_SIZE + RING);

/* Interrupt state. */
static volatile uint64_t doorbell_irqs, timer_irqs;
/* The longest time between two heartbeat timer interrupts: whether this partition ever paused
 * (Linux's boots, reboots and crashes next door; the attack excepted, which is its own doing). */
static volatile uint64_t last_tick, max_tick_gap;
/* The same per phase of Linux's life (the phase the main loop last read), and the ticks in it. */
static volatile uint64_t phase_now, phase_gap[PHASES], phase_ticks[PHASES];
/* vCPU 1's storm. */
static volatile uint64_t storm_reads, storm_sgis_sent, storm_sgis_taken, storm_done;
static volatile bool attacking;
static uint64_t beat_ticks;

/* The peer's own indexes: the truth, like the host's. */
static uint32_t tg_cons, th_prod;

/* Outgoing bytes not yet in the ring. */
static uint8_t outq[OUTQ];
static uint32_t out_head, out_len;

/* The parser. */
static uint8_t frame[CHAN_FRAME_MAX + 8];
static uint32_t flen, expect_seq;
static bool synced;

/* What happened. */
static uint64_t verified, errors, syncs, beats, missed_ticks, host_bad, dones, done_bad, rings;
static uint64_t full_flushes; /* flushes that found the to_host ring full */
static bool beat_due;
static uint64_t first_error_seq;
static const char *first_error = "none";

static void error(const char *what)
{
	if (!errors++) {
		first_error = what;
		first_error_seq = expect_seq;
	}
	synced = false;
	flen = 0;
}

static void ring_doorbell(void)
{
	dsb(ish);
	mmio_write32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_RING, 1);
	rings++;
}

static uint64_t ctl(uint64_t reg)
{
	return mmio_read64(PEER_CTL_BASE + reg);
}

static void irq(unsigned int cpu, uint32_t intid)
{
	if (cpu == 1) {
		if (intid == STORM_SGI)
			storm_sgis_taken++;
		return;
	}
	if (intid == PEER_CHAN_INTID) {
		/* Acknowledge first, then look at the rings (chan-layout.h). */
		mmio_write32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_ACK, 1);
		doorbell_irqs++;
	} else if (intid == VTIMER_INTID) {
		uint64_t cval = read_sysreg(cntv_cval_el0) + beat_ticks, now = lht_counter();

		/* The line is level: it drops once CVAL is ahead again. */
		if (cval <= now)
			cval = now + beat_ticks;
		write_sysreg(cntv_cval_el0, cval);
		isb();
		if (last_tick && !attacking && now - last_tick > max_tick_gap)
			max_tick_gap = now - last_tick;
		if (last_tick && !attacking && now - last_tick > phase_gap[phase_now])
			phase_gap[phase_now] = now - last_tick;
		phase_ticks[phase_now]++;
		last_tick = now;
		timer_irqs++;
	}
}

/* ---- the outgoing queue and the to_host ring ------------------------------------------------- */

static uint32_t out_room(void)
{
	return OUTQ - out_len;
}

static void out_put(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		outq[(out_head + out_len + i) % OUTQ] = p[i];
	out_len += n;
}

/* Move queued bytes into the ring, as many as fit. Returns how many. */
static uint32_t flush(void)
{
	uint32_t cons = __atomic_load_n(&hdr->to_host_cons, __ATOMIC_ACQUIRE);
	uint32_t used = th_prod - cons, room, n;

	/* The host is checked too: a cons ahead of what we produced is not believed. */
	if (used > RING) {
		host_bad++;
		return 0;
	}
	room = RING - used;
	n = out_len < room ? out_len : room;
	if (n < out_len)
		full_flushes++;
	for (uint32_t i = 0; i < n; i++)
		to_host[(th_prod + i) & (RING - 1)] = outq[(out_head + i) % OUTQ];
	if (n) {
		out_head = (out_head + n) % OUTQ;
		out_len -= n;
		th_prod += n;
		__atomic_store_n(&hdr->to_host_prod, th_prod, __ATOMIC_RELEASE);
	}
	return n;
}

static void emit(uint8_t type, uint32_t seq, const uint8_t *payload, uint32_t len)
{
	uint8_t h[CHAN_HDR];

	chan_put_hdr(h, type, len, seq);
	out_put(h, CHAN_HDR);
	out_put(payload, len);
}

static void emit_beat(void)
{
	uint64_t now = lht_counter();
	uint8_t p[8];

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(now >> (8 * i));
	emit(CHAN_T_BEAT, (uint32_t)beats++, p, 8);
}

/* ---- the incoming stream --------------------------------------------------------------------- */

static const uint8_t hello[CHAN_HDR] = { CHAN_FRAME_MAGIC, CHAN_T_SYNC, 8, 0, 0, 0, 0, 0 };

static void session(void)
{
	/* frame[8..15]: the nonce, echoed; seq: the next heartbeat's number. */
	synced = true;
	syncs++;
	expect_seq = 0;
	emit(CHAN_T_SYNC, (uint32_t)beats, frame + CHAN_HDR, 8);
	flen = 0;
}

/* One byte of Linux's stream; it may complete a frame and queue one reply. */
static void feed(uint8_t b)
{
	uint32_t len, seq;

	if (!synced) {
		/* Between sessions: look for a sync header, then its nonce. */
		if (flen < CHAN_HDR && b != hello[flen]) {
			flen = 0;
			if (b != hello[0])
				return;
		}
		frame[flen++] = b;
		if (flen == CHAN_HDR + 8)
			session();
		return;
	}
	frame[flen++] = b;
	if (flen < CHAN_HDR)
		return;
	len = frame[2] | (uint32_t)frame[3] << 8;
	seq = chan_get32(frame + 4);
	if (flen == CHAN_HDR) {
		if (frame[0] != CHAN_FRAME_MAGIC)
			error("bad frame magic");
		else if (frame[1] == CHAN_T_REQ && (seq != expect_seq || len != chan_req_len(seq)))
			error("request out of sequence or of the wrong length");
		else if (frame[1] == CHAN_T_SYNC && (len != 8 || seq))
			error("bad sync frame");
		else if (frame[1] == CHAN_T_DONE && len)
			error("bad done frame");
		else if (frame[1] != CHAN_T_REQ && frame[1] != CHAN_T_SYNC &&
			 frame[1] != CHAN_T_DONE)
			error("unknown frame type");
		else if (!len && frame[1] == CHAN_T_DONE) {
			/* The session ends; its count must be this session's. Until the next sync,
			 * anything (an echo from a new Linux's tty before it goes raw) is ignored. */
			dones++;
			done_bad += seq != expect_seq;
			synced = false;
			flen = 0;
		}
		return;
	}
	if (flen < CHAN_HDR + len)
		return;
	if (frame[1] == CHAN_T_SYNC) {
		session(); /* a new session (Linux restarted): start over */
		return;
	}
	/* A complete request: check every byte, answer every byte. */
	{
		uint8_t reply[CHAN_MAX_PAYLOAD];

		for (uint32_t i = 0; i < len; i++) {
			if (frame[CHAN_HDR + i] != chan_req_byte(seq, i)) {
				error("request payload byte differs");
				return;
			}
			reply[i] = chan_reply_byte(seq, i, frame[CHAN_HDR + i]);
		}
		emit(CHAN_T_REPLY, seq, reply, len);
		verified++;
		expect_seq++;
		flen = 0;
	}
}

/* Take Linux's bytes while a reply is sure to fit. Returns how many. */
static uint32_t take_input(void)
{
	uint32_t prod = __atomic_load_n(&hdr->to_guest_prod, __ATOMIC_ACQUIRE);
	uint32_t n = prod - tg_cons, i;

	if (n > RING) {
		host_bad++;
		return 0;
	}
	for (i = 0; i < n && out_room() >= CHAN_FRAME_MAX + CHAN_HDR + 8; i++)
		feed(to_guest[(tg_cons + i) & (RING - 1)]);
	if (i) {
		tg_cons += i;
		__atomic_store_n(&hdr->to_guest_cons, tg_cons, __ATOMIC_RELEASE);
	}
	return i;
}

/* Everything that can move now; one doorbell if anything did. */
static void service(void)
{
	bool moved = false;

	for (int round = 0; round < 8; round++) {
		uint32_t a, b;

		if (beat_due && out_room() >= CHAN_HDR + 8) {
			emit_beat();
			beat_due = false;
		}
		a = take_input();
		b = flush();
		if (!a && !b)
			break;
		moved = true;
	}
	if (moved)
		ring_doorbell();
}

/*
 * Linux is still booting, nobody reads: send heartbeats until the console's holding buffer, the
 * ring and then the peer's own queue are full. From then on beats wait (missed ticks are counted)
 * and nothing the peer has queued is lost; the exchange later shows the stream goes on in order.
 */
static void fill_up(void)
{
	for (unsigned int i = 0; i < 4096 && out_room() >= CHAN_HDR + 8; i++) {
		emit_beat();
		if (flush())
			ring_doorbell();
	}
}

/* ---- the attack ------------------------------------------------------------------------------ */

static void attack(void)
{
	uint32_t saved[HYP_CHAN_HEADER_SIZE / 4];
	volatile uint32_t *w = (volatile uint32_t *)PEER_CHAN_IPA;
	uint64_t db0, bad0, db1, bad1, t0, t1;
	uint32_t hp, hc;
	bool sane;

	for (unsigned int i = 0; i < HYP_CHAN_HEADER_SIZE / 4; i++)
		saved[i] = w[i];
	attacking = true;
	db0 = ctl(PEER_CTL_DOORBELLS);
	bad0 = ctl(PEER_CTL_BAD_INDEXES);
	for (unsigned int i = 0; i < HYP_CHAN_HEADER_SIZE / 4; i++)
		w[i] = 0xdeadbeefu ^ (i * 0x9e3779b9u);
	/* Indexes certainly out of range: a ring "holding" 2 GiB. */
	hdr->to_host_prod = th_prod + 0x80000000u;
	hdr->to_guest_cons = tg_cons + 0x80000000u;
	dsb(ish);
	t0 = lht_counter();
	for (uint32_t i = 0; i < PEER_STORM_RINGS; i++)
		mmio_write32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_RING, i);
	t1 = lht_counter();
	/* Repair what is ours, ring: the host's indexes must come back. */
	for (unsigned int i = 0; i < HYP_CHAN_HEADER_SIZE / 4; i++)
		w[i] = saved[i];
	hdr->to_host_prod = th_prod;
	hdr->to_guest_cons = tg_cons;
	ring_doorbell();
	last_tick = 0;
	attacking = false;
	hp = __atomic_load_n(&hdr->to_guest_prod, __ATOMIC_ACQUIRE);
	hc = __atomic_load_n(&hdr->to_host_cons, __ATOMIC_ACQUIRE);
	sane = hp - tg_cons <= RING && th_prod - hc <= RING;
	db1 = ctl(PEER_CTL_DOORBELLS);
	bad1 = ctl(PEER_CTL_BAD_INDEXES);
	lht_check_ge("the host end answered every doorbell of the storm", db1 - db0,
		     PEER_STORM_RINGS + 1);
	lht_check_ge("the host end ignored the garbage indexes (counted)", bad1 - bad0, 1);
	lht_check_true("one ring after the storm gave back the host's own indexes", sane);
	lht_note("storm duration (us)", (t1 - t0) * 1000000 / (lht_freq() ? lht_freq() : 1));
}

/* ---- vCPU 1: the storm ----------------------------------------------------------------------- */

static uint64_t host_phase(void)
{
	uint64_t p = lht_reg_read(LHT_EL2_REG_HOST_PHASE);

	return p >= PHASES ? (p == LHT_EL2_PHASE_STOP ? PHASES : PHASES - 1) : p;
}

void guest_secondary(unsigned int cpu, uint64_t context_id)
{
	(void)context_id;
	if (cpu != 1 || !gic_cpu_init()) {
		__atomic_store_n(&storm_done, 2, __ATOMIC_RELEASE);
		return;
	}
	gic_enable_private(STORM_SGI);
	irq_enable();
	/* From Linux's first boot to its second (the phase is an MMIO read too). */
	while (host_phase() <= STORM_PHASE) {
		for (unsigned int i = 0; i < STORM_BATCH; i++)
			(void)lht_reg_read(LHT_REG_SCRATCH_COUNT);
		storm_reads += STORM_BATCH;
		/* Taken as soon as it is pending: a trapped write, a delivery, an EOI each. */
		gic_send_sgi(STORM_SGI, lht_cfg_mpidr(1));
		storm_sgis_sent++;
	}
	irq_disable();
	__atomic_store_n(&storm_done, 1, __ATOMIC_RELEASE);
}

/* ---- main ------------------------------------------------------------------------------------ */

void guest_main(void)
{
	uint64_t seen_db = 0, seen_timer = 0;
	bool attacked = false;

	lht_set_irq_handler(irq);
	lht_check_true("distributor enabled", gic_dist_init());
	lht_check_true("redistributor awake, CPU interface on", gic_cpu_init());
	lht_check_eq("doorbell window magic", mmio_read32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_MAGIC),
		     HYP_CHAN_MAGIC);
	lht_check_eq("doorbell window names the region",
		     mmio_read32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_REGION_LO),
		     (uint32_t)PEER_CHAN_IPA);
	lht_check_eq("doorbell window names the SPI",
		     mmio_read32(PEER_CHAN_DOORBELL + HYP_CHAN_DB_INTID), PEER_CHAN_INTID);
	lht_check_true("the region's header is the host's (magic, version, ring size, "
		       "ring offsets)",
		       hdr->magic == HYP_CHAN_MAGIC && hdr->version == HYP_CHAN_VERSION &&
			       hdr->ring_size == RING &&
			       hdr->to_guest_off == HYP_CHAN_HEADER_SIZE &&
			       hdr->to_host_off == HYP_CHAN_HEADER_SIZE + RING);
	/* Start where the host is (a peer restarted on a live channel picks up from there). */
	tg_cons = hdr->to_guest_cons;
	th_prod = hdr->to_host_prod;

	gic_enable_spi(PEER_CHAN_INTID, false, lht_mpidr_aff());
	gic_enable_private(VTIMER_INTID);
	beat_ticks = lht_us_to_ticks(BEAT_MS * 1000);
	write_sysreg(cntv_cval_el0, lht_counter() + beat_ticks);
	write_sysreg(cntv_ctl_el0, 1); /* ENABLE, IMASK clear */
	isb();
	irq_enable();
	phase_now = host_phase() < PHASES ? host_phase() : PHASES - 1;
	lht_check_eq("CPU_ON(vCPU 1, the storm)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	fill_up();
	lht_check_ge("the to_host ring filled up while Linux booted (flushes that found it full)",
		     full_flushes, 1);
	lht_check_true("then the peer's own queue filled too (its heartbeats wait from here)",
		       out_room() < CHAN_HDR + 8);

	for (;;) {
		if (timer_irqs != seen_timer) {
			if (beat_due) {
				missed_ticks += timer_irqs - seen_timer;
				/* Still waiting for room: tell the host once a tick. It may be
				 * holding our bytes back until its other side is ready, and a full
				 * peer, taking no input it could not answer, has nothing else to
				 * ring about. */
				ring_doorbell();
			}
			seen_timer = timer_irqs;
			beat_due = true;
			{
				uint64_t p = host_phase();

				phase_now = p < PHASES ? p : PHASES - 1;
			}
			/* Linux finished: say so once the last bytes moved. */
			if (ctl(PEER_CTL_LINUX_DONE))
				break;
		}
		seen_db = doorbell_irqs;
		service();
		if (!attacked && verified >= ATTACK_AT) {
			attacked = true;
			attack();
		}
		irq_disable();
		if (doorbell_irqs == seen_db && timer_irqs == seen_timer)
			wfi(); /* a pending interrupt ends it even while masked */
		irq_enable();
	}
	write_sysreg(cntv_ctl_el0, 0);
	service();

	lht_check_ge("Linux synced with the peer (sessions)", syncs, 1);
	lht_check_ge("messages from Linux verified byte for byte and answered", verified, 1000);
	lht_check_eq(lht_concat((char[160]){ 0 }, 160,
				"protocol errors in Linux's stream; the first: ", first_error),
		     errors, 0);
	lht_note("sequence number of the first error", first_error_seq);
	lht_check_eq("every session ended with Linux's done frame", dones, syncs);
	lht_check_eq("every done frame counts what the peer verified in its session", done_bad, 0);
	lht_note("sessions (boots of the Linux partition that used the channel)", syncs);
	lht_check_ge("heartbeats sent", beats, 10);
	lht_check_true("the attack ran in the middle of the exchange", attacked);
	lht_check_eq("host indexes out of range (the host is checked too)", host_bad, 0);
	lht_note("heartbeat ticks that waited for room (Linux not reading)", missed_ticks);
	lht_note("flushes that found the to_host ring full", full_flushes);
	lht_note("longest gap between heartbeat timer interrupts (us; period 50000)",
		 max_tick_gap * 1000000 / (lht_freq() ? lht_freq() : 1));
	lht_note("doorbells rung outside the storm", rings);
	lht_check_true("vCPU 1's storm ended with Linux's first boot",
		       lht_wait_eq(&storm_done, 1, 5000000));
	lht_note("storm (vCPU 1, Linux's first boot): MMIO exits", storm_reads);
	lht_note("storm: SGIs sent to itself", storm_sgis_sent);
	lht_note("storm: SGIs taken", storm_sgis_taken);
	lht_check_true("the storm stormed (over 10,000 MMIO exits, 1,000 SGIs taken)",
		       storm_reads > 10000 && storm_sgis_taken > 1000);
	for (unsigned int p = 1; p < PHASES; p++) {
		static const char *const what[PHASES] = {
			"",
			"Linux's boot 1 (our storm) and reboot",
			"Linux's boot 2 (its crash) and restart",
			"Linux's boot 3 (its storm)",
		};
		char name[160];
		uint64_t gap_ms = phase_gap[p] * 1000 / (lht_freq() ? lht_freq() : 1);

		lht_note(lht_concat(name, sizeof(name), "heartbeat ticks during ", what[p]),
			 phase_ticks[p]);
		lht_note(lht_concat(name, sizeof(name), "longest heartbeat gap (ms) during ",
				    what[p]),
			 gap_ms);
		lht_check_true(lht_concat(name, sizeof(name),
					  "the heartbeat went on (ticks, no gap over 3 s) during ",
					  what[p]),
			       phase_ticks[p] >= 2 && gap_ms < STALL_MS);
	}
	lht_note("host end bytes received from the peer", ctl(PEER_CTL_BYTES_RECEIVED));
	lht_note("host end sends held back by a full ring", ctl(PEER_CTL_SEND_SHORT));
}
