/* SPDX-License-Identifier: MIT */
/*
 * The inter-partition channel (libhyp/chan.h) on the mock backend. The "guest" is this test: it
 * drives the rings in the shared region as chan-layout.h describes (through the same memory the
 * VM has mapped) and rings the doorbell with scripted MMIO writes. Then it turns hostile: indexes
 * out of range, a scribbled header and host indexes, a doorbell rung in a loop, accesses of every
 * width, random garbage; the host end must stay bounded, count what it ignored, never hand out a
 * byte the guest did not publish, and work again once the guest repairs its indexes.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>

#include "test-helpers.h"

#include <libhyp/chan.h>

#define CHAN_IPA 0x48000000ull
#define DB_IPA 0x0b200000ull
#define DB_INTID 80u
#define REGION_SIZE (3u * HYP_PAGE_SIZE)
#define RING 4096u

struct fix {
	struct test_vm t;
	uint8_t *region;
	struct hyp_chan *chan;
	struct hyp_chan_header *h;
	/* The guest's own copies of its indexes. */
	uint32_t tg_cons, th_prod;
	unsigned notified;
	int notify_recv; /* bytes the notify callback received, -1: it does not receive */
	uint8_t got[1 << 16];
	size_t got_len;
};

static void on_ring(void *opaque, struct hyp_chan *chan)
{
	struct fix *f = opaque;

	f->notified++;
	if (f->notify_recv >= 0) {
		int n = hyp_chan_recv(chan, f->got + f->got_len, sizeof(f->got) - f->got_len);

		assert_true(n >= 0 && n <= (int)RING);
		f->got_len += (size_t)n;
		f->notify_recv += n;
	}
}

static struct fix *fixture(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct hyp_vm_config vc = { .size = sizeof(vc), .backend = "mock" };
	struct hyp_chan_config cc = { .size = sizeof(cc), .region_size = REGION_SIZE };
	struct hyp_chan_attach_config ac = {
		.size = sizeof(ac), .ipa = CHAN_IPA, .doorbell = DB_IPA, .intid = DB_INTID
	};

	assert_non_null(f);
	test_vm_create_with(&f->t, &vc);
	f->region = aligned_alloc(HYP_PAGE_SIZE, REGION_SIZE);
	assert_non_null(f->region);
	memset(f->region, 0xee, REGION_SIZE);
	cc.region = f->region;
	cc.notify_fn = on_ring;
	cc.notify_opaque = f;
	f->notify_recv = -1;
	assert_int_equal(hyp_chan_create(&cc, &f->chan), 0);
	assert_int_equal(hyp_chan_attach(f->chan, f->t.vm, &ac), 0);
	f->h = (struct hyp_chan_header *)f->region;
	return f;
}

static void teardown(struct fix *f)
{
	hyp_chan_destroy(f->chan);
	test_vm_destroy(&f->t);
	free(f->region);
	free(f);
}

/* ---- the guest ------------------------------------------------------------------------------- */

static void db_write(struct fix *f, uint64_t off, uint32_t len, uint64_t v)
{
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(1), v), 0);
	assert_int_equal(hyp_mock_push_mmio(f->t.vcpu, DB_IPA + off, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(f->t.vcpu);
}

static uint64_t db_read(struct fix *f, uint64_t off, uint32_t len)
{
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(2), 0xdeadbeefdeadbeefull), 0);
	assert_int_equal(hyp_mock_push_mmio(f->t.vcpu, DB_IPA + off, len, 2,
					    len == 8 ? HYP_MOCK_MMIO_REG64 : 0),
			 0);
	test_run_to_end(f->t.vcpu);
	return test_reg(f->t.vcpu, HYP_REG_X(2));
}

static void ring_doorbell(struct fix *f)
{
	db_write(f, HYP_CHAN_DB_RING, 4, 1);
}

static int spi(struct fix *f)
{
	return hyp_mock_irq_level(f->t.vm, NULL, DB_INTID);
}

/* Guest consumer of to_guest: copies out what the host published. */
static size_t guest_read(struct fix *f, uint8_t *buf, size_t max)
{
	uint32_t prod = __atomic_load_n(&f->h->to_guest_prod, __ATOMIC_ACQUIRE);
	uint32_t n = prod - f->tg_cons;

	assert_true(n <= RING);
	if (n > max)
		n = (uint32_t)max;
	for (uint32_t i = 0; i < n; i++)
		buf[i] = f->region[HYP_CHAN_HEADER_SIZE + ((f->tg_cons + i) & (RING - 1))];
	f->tg_cons += n;
	__atomic_store_n(&f->h->to_guest_cons, f->tg_cons, __ATOMIC_RELEASE);
	return n;
}

/* Guest producer into to_host. */
static size_t guest_write(struct fix *f, const uint8_t *buf, size_t len)
{
	uint32_t cons = __atomic_load_n(&f->h->to_host_cons, __ATOMIC_ACQUIRE);
	uint32_t room = RING - (f->th_prod - cons);

	if (len > room)
		len = room;
	for (uint32_t i = 0; i < len; i++)
		f->region[HYP_CHAN_HEADER_SIZE + RING + ((f->th_prod + i) & (RING - 1))] = buf[i];
	f->th_prod += (uint32_t)len;
	__atomic_store_n(&f->h->to_host_prod, f->th_prod, __ATOMIC_RELEASE);
	return len;
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 9) + 7);
}

static struct hyp_chan_stats stats(struct fix *f)
{
	struct hyp_chan_stats s = { .size = sizeof(s) };

	assert_int_equal(hyp_chan_get_stats(f->chan, &s), 0);
	return s;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_layout_and_registers(void **state)
{
	struct fix *f = fixture();

	(void)state;
	assert_int_equal(f->h->magic, HYP_CHAN_MAGIC);
	assert_int_equal(f->h->version, HYP_CHAN_VERSION);
	assert_int_equal(f->h->ring_size, RING);
	assert_int_equal(f->h->to_guest_off, HYP_CHAN_HEADER_SIZE);
	assert_int_equal(f->h->to_host_off, HYP_CHAN_HEADER_SIZE + RING);
	assert_int_equal(f->h->to_guest_prod, 0);
	assert_int_equal(f->h->to_host_cons, 0);
	assert_int_equal(db_read(f, HYP_CHAN_DB_MAGIC, 4), HYP_CHAN_MAGIC);
	assert_int_equal(db_read(f, HYP_CHAN_DB_REGION_LO, 4), (uint32_t)CHAN_IPA);
	assert_int_equal(db_read(f, HYP_CHAN_DB_REGION_HI, 4), 0);
	assert_int_equal(db_read(f, HYP_CHAN_DB_REGION_SIZE, 4), REGION_SIZE);
	assert_int_equal(db_read(f, HYP_CHAN_DB_RING_SIZE, 4), RING);
	assert_int_equal(db_read(f, HYP_CHAN_DB_INTID, 4), DB_INTID);
	assert_int_equal(db_read(f, HYP_CHAN_DB_PENDING, 4), 0);
	/* The guest sees the region at the IPA: what it reads through the VM is the header. */
	{
		uint32_t magic = 0;

		assert_int_equal(hyp_vm_read_guest(f->t.vm, CHAN_IPA, &magic, 4), 0);
		assert_int_equal(magic, HYP_CHAN_MAGIC);
	}
	teardown(f);
}

static void test_round_trip_every_byte(void **state)
{
	struct fix *f = fixture();
	static uint8_t buf[RING * 2];
	uint64_t sent = 0, seen = 0, put = 0, taken = 0;

	(void)state;
	/* Odd-sized pieces in both directions, many times round the ring. */
	for (unsigned round = 0; round < 200; round++) {
		size_t len = 1 + (round * 37) % 700;
		uint8_t piece[700];
		int n;

		for (size_t i = 0; i < len; i++)
			piece[i] = pattern(sent + i);
		n = hyp_chan_send(f->chan, piece, len);
		assert_true(n >= 0 && (size_t)n <= len);
		sent += (uint64_t)n;
		if (n > 0)
			assert_int_equal(spi(f), 1);
		{
			size_t got = guest_read(f, buf, sizeof(buf));

			for (size_t i = 0; i < got; i++)
				assert_int_equal(buf[i], pattern(seen + i));
			seen += got;
		}
		db_write(f, HYP_CHAN_DB_ACK, 4, 1);
		assert_int_equal(spi(f), 0);

		for (size_t i = 0; i < len; i++)
			piece[i] = pattern(put + i) ^ 0x5a;
		put += guest_write(f, piece, len);
		ring_doorbell(f);
		n = hyp_chan_recv(f->chan, buf, (round % 3) ? sizeof(buf) : 100);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(buf[i], (uint8_t)(pattern(taken + (uint64_t)i) ^ 0x5a));
		taken += (uint64_t)n;
	}
	while (taken < put) {
		int n = hyp_chan_recv(f->chan, buf, sizeof(buf));

		assert_true(n > 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(buf[i], (uint8_t)(pattern(taken + (uint64_t)i) ^ 0x5a));
		taken += (uint64_t)n;
	}
	assert_int_equal(seen, sent);
	assert_true(sent > 10 * RING && put > 10 * RING);
	{
		struct hyp_chan_stats s = stats(f);

		assert_int_equal(s.bytes_sent, sent);
		assert_int_equal(s.bytes_received, taken);
		assert_int_equal(s.bad_indexes, 0);
		assert_int_equal(s.doorbells, 200);
	}
	teardown(f);
}

/* The guest's reads of to_guest, checked byte for byte against what the host sent. */
static void test_send_checked(void **state)
{
	struct fix *f = fixture();
	static uint8_t buf[RING];
	uint64_t sent = 0, seen = 0;

	(void)state;
	for (unsigned round = 0; round < 300; round++) {
		uint8_t piece[333];
		size_t len = 1 + round % sizeof(piece);
		int n;

		for (size_t i = 0; i < len; i++)
			piece[i] = pattern(sent + i);
		n = hyp_chan_send(f->chan, piece, len);
		assert_true(n >= 0);
		sent += (uint64_t)n;
		{
			size_t got = guest_read(f, buf, round % 2 ? 50 : sizeof(buf));

			for (size_t i = 0; i < got; i++)
				assert_int_equal(buf[i], pattern(seen + i));
			seen += got;
		}
	}
	while (seen < sent) {
		size_t got = guest_read(f, buf, sizeof(buf));

		assert_true(got > 0);
		for (size_t i = 0; i < got; i++)
			assert_int_equal(buf[i], pattern(seen + i));
		seen += got;
	}
	teardown(f);
}

static void test_full_ring_is_backpressure(void **state)
{
	struct fix *f = fixture();
	static uint8_t big[RING + 100], buf[RING + 100];
	struct hyp_chan_stats s;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = pattern(i);
	/* The ring takes exactly its size; the rest is refused, counted, not lost. */
	assert_int_equal(hyp_chan_send(f->chan, big, sizeof(big)), RING);
	assert_int_equal(hyp_chan_send(f->chan, big + RING, 100), 0);
	s = stats(f);
	assert_int_equal(s.send_short, 2);
	assert_int_equal(s.writable, 0);
	assert_int_equal(s.bytes_sent, RING);
	/* The guest consumes 10 bytes: 10 fit again, exactly. */
	assert_int_equal(guest_read(f, buf, 10), 10);
	assert_int_equal(hyp_chan_send(f->chan, big + RING, 100), 10);
	assert_int_equal(guest_read(f, buf + 10, sizeof(buf)), RING);
	assert_memory_equal(buf, big, RING + 10);

	/* The other way: a full to_host waits for the host. */
	assert_int_equal(guest_write(f, big, sizeof(big)), RING);
	assert_int_equal(guest_write(f, big, 1), 0);
	assert_int_equal(stats(f).readable, RING);
	assert_int_equal(hyp_chan_peek(f->chan, buf, 5), 5);
	assert_int_equal(hyp_chan_peek(f->chan, buf, 5), 5); /* peeking consumes nothing */
	assert_int_equal(hyp_chan_consume(f->chan, 3), 3);
	assert_int_equal(f->h->to_host_cons, 3);
	assert_int_equal(hyp_chan_recv(f->chan, buf, sizeof(buf)), RING - 3);
	assert_memory_equal(buf, big + 3, RING - 3);
	/* Consuming more than was shown takes only that. */
	assert_int_equal(hyp_chan_consume(f->chan, 50), 0);
	teardown(f);
}

static void test_interrupt_and_ack(void **state)
{
	struct fix *f = fixture();
	uint8_t b[4];

	(void)state;
	assert_int_equal(spi(f), 0);
	assert_int_equal(hyp_chan_send(f->chan, "ab", 2), 2);
	assert_int_equal(spi(f), 1);
	assert_int_equal(db_read(f, HYP_CHAN_DB_PENDING, 4), 1);
	/* A second send while pending: still one assertion. */
	assert_int_equal(hyp_chan_send(f->chan, "c", 1), 1);
	assert_int_equal(hyp_mock_irq_count(f->t.vm, NULL, DB_INTID), 1);
	db_write(f, HYP_CHAN_DB_ACK, 4, 0);
	assert_int_equal(spi(f), 0);
	assert_int_equal(db_read(f, HYP_CHAN_DB_PENDING, 4), 0);
	/* Consuming the guest's bytes tells it there is room. */
	assert_int_equal(guest_write(f, (const uint8_t *)"xy", 2), 2);
	assert_int_equal(hyp_chan_recv(f->chan, b, 4), 2);
	assert_int_equal(spi(f), 1);
	assert_int_equal(stats(f).interrupts, 2);
	/* An empty send or receive says nothing. */
	db_write(f, HYP_CHAN_DB_ACK, 4, 0);
	assert_int_equal(hyp_chan_recv(f->chan, b, 4), 0);
	assert_int_equal(hyp_chan_send(f->chan, b, 0), 0);
	assert_int_equal(spi(f), 0);
	teardown(f);
}

static void test_hostile_indexes(void **state)
{
	struct fix *f = fixture();
	uint8_t buf[RING];
	struct hyp_chan_stats s;

	(void)state;
	assert_int_equal(guest_write(f, (const uint8_t *)"hello", 5), 5);
	/* to_host.prod beyond a full ring: nothing is read, and it is counted. */
	f->h->to_host_prod = 5 + RING + 1;
	assert_int_equal(hyp_chan_peek(f->chan, buf, sizeof(buf)), 0);
	assert_int_equal(hyp_chan_recv(f->chan, buf, sizeof(buf)), 0);
	/* "Behind" the host's cons is as bad (it wraps to a huge level). */
	f->h->to_host_prod = 0xfffffff0u;
	assert_int_equal(hyp_chan_recv(f->chan, buf, sizeof(buf)), 0);
	/* Consuming cannot skip what no valid index showed. */
	assert_int_equal(hyp_chan_consume(f->chan, 5), 0);
	/* to_guest.cons ahead of what the host produced: the ring counts as full. */
	f->h->to_guest_cons = 77;
	assert_int_equal(hyp_chan_send(f->chan, "zz", 2), 0);
	s = stats(f);
	assert_int_equal(s.bad_indexes, 4);
	assert_int_equal(s.readable, 0);
	assert_int_equal(s.writable, 0);
	/* The guest scribbles over the header and the host's own indexes too. */
	memset(f->region, 0xa5, 0x80);
	ring_doorbell(f);
	/* Ringing gave the host's indexes back; the header stays the guest's problem. */
	assert_int_equal(f->h->to_guest_prod, 0);
	assert_int_equal(f->h->to_host_cons, 0);
	/* The guest repairs its indexes: everything works, nothing was lost or invented. */
	f->h->to_host_prod = f->th_prod;
	f->h->to_guest_cons = f->tg_cons;
	assert_int_equal(hyp_chan_recv(f->chan, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(hyp_chan_send(f->chan, "zz", 2), 2);
	assert_int_equal(guest_read(f, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "zz", 2);
	teardown(f);
}

static void test_doorbell_storm(void **state)
{
	struct fix *f = fixture();
	const unsigned rings = 50000;
	struct hyp_chan_stats s;

	(void)state;
	f->notify_recv = 0;
	/* Garbage everywhere the guest may write, then a doorbell in a tight loop: each ring costs
	 * one callback, which finds nothing valid to read. */
	memset(f->region, 0xff, REGION_SIZE);
	for (unsigned i = 0; i < rings; i++) {
		assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(1), i), 0);
		assert_int_equal(hyp_mock_push_mmio(f->t.vcpu, DB_IPA + HYP_CHAN_DB_RING, 4, 1,
						    HYP_MOCK_MMIO_WRITE),
				 0);
		if (hyp_mock_script_length(f->t.vcpu) >= 1000)
			test_run_to_end(f->t.vcpu);
	}
	test_run_to_end(f->t.vcpu);
	s = stats(f);
	assert_int_equal(s.doorbells, rings);
	assert_int_equal(f->notified, rings);
	assert_int_equal(f->notify_recv, 0);
	/* One bad to_host.prod per callback's receive (0xffffffff - 0 > ring). */
	assert_int_equal(s.bad_indexes, rings);
	/* Each ring republished the host's indexes over the garbage. */
	assert_int_equal(f->h->to_guest_prod, 0);
	assert_int_equal(f->h->to_host_cons, 0);
	teardown(f);
}

static void test_bad_accesses(void **state)
{
	struct fix *f = fixture();

	(void)state;
	assert_int_equal(db_read(f, HYP_CHAN_DB_MAGIC, 8), 0);
	assert_int_equal(db_read(f, HYP_CHAN_DB_MAGIC + 1, 2), 0);
	assert_int_equal(db_read(f, 0xffc, 4), 0);
	db_write(f, HYP_CHAN_DB_RING, 8, 1);	 /* wrong width: not a ring */
	db_write(f, HYP_CHAN_DB_RING + 2, 2, 1); /* misaligned */
	db_write(f, 0x800, 4, 1);		 /* nothing there */
	db_write(f, HYP_CHAN_DB_MAGIC, 4, 0);	 /* read-only */
	assert_int_equal(f->notified, 0);
	assert_int_equal(stats(f).doorbells, 0);
	assert_int_equal(stats(f).bad_accesses, 6);
	teardown(f);
}

/* Random garbage and random operations: every answer stays in bounds, every received byte is one
 * the guest published at that position while its index was valid. */
static void test_random_hostility(void **state)
{
	struct fix *f = fixture();
	static uint8_t buf[RING];
	uint32_t seed = 12345;
	uint64_t taken = 0;

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		uint32_t r;
		int n;

		seed = seed * 1103515245u + 12345u;
		r = seed >> 8;
		switch (r % 6) {
		case 0:
			/* Garbage: ahead of a full ring, or behind the host's position. */
			f->h->to_host_prod = (r & 1) ? f->th_prod + RING + 1 + r % 1000000 :
						       (uint32_t)taken - 1 - r % 1000;
			break;
		case 1:
			f->h->to_host_prod = f->th_prod; /* repaired */
			f->h->to_guest_cons = f->tg_cons;
			break;
		case 2: {
			uint8_t piece[64];
			size_t len = 1 + r % 64;

			for (size_t k = 0; k < len; k++)
				piece[k] = pattern(f->th_prod + k);
			f->h->to_host_prod = f->th_prod;
			guest_write(f, piece, len);
			break;
		}
		case 3:
			n = hyp_chan_recv(f->chan, buf, r % sizeof(buf));
			assert_true(n >= 0 && n <= (int)RING);
			for (int k = 0; k < n; k++)
				assert_int_equal(buf[k], pattern(taken + (uint64_t)k));
			taken += (uint64_t)n;
			break;
		case 4:
			n = hyp_chan_send(f->chan, buf, r % 300);
			assert_true(n >= 0 && n <= 300);
			f->h->to_guest_cons = r; /* garbage, often */
			break;
		default:
			ring_doorbell(f);
			break;
		}
	}
	assert_true(taken > 0);
	teardown(f);
}

static void test_detach_keeps_bytes(void **state)
{
	struct fix *f = fixture();
	struct hyp_chan_attach_config ac = {
		.size = sizeof(ac), .ipa = CHAN_IPA, .doorbell = DB_IPA, .intid = DB_INTID
	};
	uint8_t buf[8];

	(void)state;
	assert_int_equal(hyp_chan_detach(f->chan), 0);
	assert_int_equal(hyp_chan_detach(f->chan), 0);
	/* Sent while nobody is attached: kept, no interrupt anywhere. */
	assert_int_equal(hyp_chan_send(f->chan, "kept", 4), 4);
	assert_int_equal(spi(f), 0);
	{
		uint32_t magic = 0;

		assert_int_equal(hyp_vm_read_guest(f->t.vm, CHAN_IPA, &magic, 4), -EFAULT);
	}
	assert_int_equal(hyp_chan_attach(f->chan, f->t.vm, &ac), 0);
	assert_int_equal(hyp_chan_attach(f->chan, f->t.vm, &ac), -EBUSY);
	assert_int_equal(guest_read(f, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "kept", 4);
	teardown(f);
}

/* The host end on this thread, the guest on another (its doorbell rung through its vCPU): 256 KiB
 * each way, every byte checked at both ends, the rings' ordering (acquire/release) doing the work.
 * Run under ThreadSanitizer by the test command's TSan stage. */
#define STREAM (256u << 10)

struct guest_thread {
	struct fix *f;
	uint64_t put, seen;
	bool bad;
};

static void *guest_loop(void *arg)
{
	struct guest_thread *g = arg;
	struct fix *f = g->f;
	uint8_t buf[700];

	while ((g->put < STREAM || g->seen < STREAM) && !g->bad) {
		size_t want = STREAM - g->put < sizeof(buf) ? STREAM - g->put : sizeof(buf), n;

		for (size_t i = 0; i < want; i++)
			buf[i] = pattern(g->put + i) ^ 0x33;
		g->put += guest_write(f, buf, want);
		n = guest_read(f, buf, sizeof(buf));
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pattern(g->seen + i))
				g->bad = true;
		g->seen += n;
		/* Ring now and then: the host end's notify callback runs here. */
		if ((g->put + g->seen) % 7 == 0)
			ring_doorbell(f);
	}
	return NULL;
}

static void test_concurrent_stream(void **state)
{
	struct fix *f = fixture();
	struct guest_thread g = { .f = f };
	static uint8_t buf[RING];
	uint64_t sent = 0, taken = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, guest_loop, &g), 0);
	while (sent < STREAM || taken < STREAM) {
		if (sent < STREAM) {
			size_t want = STREAM - sent < 1000 ? STREAM - sent : 1000;
			int n;

			for (size_t i = 0; i < want; i++)
				buf[i] = pattern(sent + i);
			n = hyp_chan_send(f->chan, buf, want);
			assert_true(n >= 0);
			sent += (uint64_t)n;
		}
		{
			int n = hyp_chan_recv(f->chan, buf, sizeof(buf));

			assert_true(n >= 0);
			for (int i = 0; i < n; i++)
				assert_int_equal(buf[i],
						 (uint8_t)(pattern(taken + (uint64_t)i) ^ 0x33));
			taken += (uint64_t)n;
		}
		sched_yield();
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(g.bad);
	assert_int_equal(g.seen, STREAM);
	assert_int_equal(stats(f).bad_indexes, 0);
	teardown(f);
}

static void test_api_misuse(void **state)
{
	struct fix *f = fixture();
	uint8_t *region = aligned_alloc(HYP_PAGE_SIZE, 2 * HYP_PAGE_SIZE);
	struct hyp_chan_config cc = { .size = sizeof(cc),
				      .region = region,
				      .region_size = 2 * HYP_PAGE_SIZE };
	struct hyp_chan_attach_config ac = {
		.size = sizeof(ac), .ipa = 0x49000000ull, .doorbell = 0x0b300000ull, .intid = 81
	};
	struct hyp_chan *c = (struct hyp_chan *)0x1, *c2;
	struct hyp_chan_stats s = { .size = 4 };

	(void)state;
	assert_non_null(region);
	assert_int_equal(hyp_chan_create(NULL, &c), -EINVAL);
	assert_int_equal(hyp_chan_create(&cc, NULL), -EINVAL);
	cc.size = 4;
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.size = sizeof(cc);
	cc.flags = 1;
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.flags = 0;
	cc.region = region + 8;
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.region = region;
	cc.region_size = 100;
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.region_size = 2 * HYP_PAGE_SIZE;
	cc.ring_size = 1000; /* not a power of two */
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.ring_size = 32; /* too small */
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	cc.ring_size = 4096; /* does not fit twice after the header */
	assert_int_equal(hyp_chan_create(&cc, &c), -EINVAL);
	assert_ptr_equal(c, (struct hyp_chan *)0x1);
	cc.ring_size = 0; /* the largest that fits: 2048 */
	assert_int_equal(hyp_chan_create(&cc, &c2), 0);
	assert_int_equal(((struct hyp_chan_header *)region)->ring_size, 2048);
	assert_int_equal(hyp_chan_send(NULL, "a", 1), -EINVAL);
	assert_int_equal(hyp_chan_send(c2, NULL, 1), -EINVAL);
	assert_int_equal(hyp_chan_peek(c2, NULL, 1), -EINVAL);
	assert_int_equal(hyp_chan_consume(NULL, 1), -EINVAL);
	assert_int_equal(hyp_chan_get_stats(c2, &s), -EINVAL);
	assert_int_equal(hyp_chan_get_stats(c2, NULL), -EINVAL);
	assert_int_equal(hyp_chan_detach(NULL), -EINVAL);
	assert_int_equal(hyp_chan_attach(c2, NULL, &ac), -EINVAL);
	ac.ipa += 8;
	assert_int_equal(hyp_chan_attach(c2, f->t.vm, &ac), -EINVAL);
	ac.ipa -= 8;
	ac.intid = 5; /* not an SPI */
	assert_int_equal(hyp_chan_attach(c2, f->t.vm, &ac), -EINVAL);
	ac.intid = 81;
	ac.doorbell = DB_IPA; /* taken by the fixture's channel */
	assert_int_equal(hyp_chan_attach(c2, f->t.vm, &ac), -EEXIST);
	ac.doorbell = 0x0b300000ull;
	ac.ipa = TEST_RAM_BASE; /* over RAM */
	assert_int_equal(hyp_chan_attach(c2, f->t.vm, &ac), -EEXIST);
	ac.ipa = 0x49000000ull;
	/* A failed attach left nothing behind: it works now. */
	assert_int_equal(hyp_chan_attach(c2, f->t.vm, &ac), 0);
	hyp_chan_destroy(c2);
	hyp_chan_destroy(NULL);
	free(region);
	teardown(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_and_registers),
		cmocka_unit_test(test_round_trip_every_byte),
		cmocka_unit_test(test_send_checked),
		cmocka_unit_test(test_full_ring_is_backpressure),
		cmocka_unit_test(test_interrupt_and_ack),
		cmocka_unit_test(test_hostile_indexes),
		cmocka_unit_test(test_doorbell_storm),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_random_hostility),
		cmocka_unit_test(test_detach_keeps_bytes),
		cmocka_unit_test(test_concurrent_stream),
		cmocka_unit_test(test_api_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
