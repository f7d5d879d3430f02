// SPDX-License-Identifier: MIT
/*
 * Fuzz the inter-partition channel (lib/dev/chan.c) with a hostile guest: the input is a program
 * of writes into the shared region (any header word, the guest's indexes, ring bytes), doorbell
 * window accesses of any offset and width, and the host end's calls (send, peek, consume, recv,
 * detach and attach again), on a channel whose ring size the input picks.
 *
 * The region is one heap block of exactly its size, so AddressSanitizer reports any access
 * outside it. Checked after every step, against what the library promises (libhyp/chan.h):
 * counts stay within the call's length and the ring size; bytes peeked are the ring's bytes at
 * the host's position (bytes_received, which is the host's to_host.cons); bytes sent land in the
 * ring at the host's position; a doorbell puts the host's own indexes back; every doorbell access
 * is answered without an exit and every ring reaches the notify callback once.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-input.h"

#include <libhyp/chan.h>
#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define REGION_SIZE (3u * 4096u)
#define CHAN_IPA 0x48000000ull
#define DB_IPA 0x0b200000ull
#define DB_INTID 80u

/* A broken promise: a finding (fuzz-input.h). */
#define fuzz_fail(...) FUZZ_CHECK(0, __VA_ARGS__)

struct world {
	uint8_t *region;
	uint32_t ring;
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	struct hyp_chan *chan;
	uint64_t notified;
	bool attached;
};

static void rang(void *opaque, struct hyp_chan *chan)
{
	struct world *w = opaque;

	(void)chan;
	w->notified++;
}

static struct hyp_chan_stats stats(struct world *w)
{
	struct hyp_chan_stats s = { .size = sizeof(s) };

	if (hyp_chan_get_stats(w->chan, &s))
		fuzz_fail("hyp_chan_get_stats failed");
	if (s.readable > w->ring || s.writable > w->ring || s.ring_size != w->ring)
		fuzz_fail("levels out of range: readable %u writable %u ring %u", s.readable,
			  s.writable, s.ring_size);
	return s;
}

static uint32_t region_word(struct world *w, size_t off)
{
	uint32_t v;

	memcpy(&v, w->region + off, 4);
	return v;
}

static void attach(struct world *w)
{
	struct hyp_chan_attach_config ac = {
		.size = sizeof(ac), .ipa = CHAN_IPA, .doorbell = DB_IPA, .intid = DB_INTID
	};

	if (hyp_chan_attach(w->chan, w->vm, &ac))
		fuzz_fail("hyp_chan_attach failed");
	w->attached = true;
}

static void doorbell(struct world *w, struct fuzz_in *in)
{
	static const uint8_t widths[] = { 1, 2, 4, 8 };
	uint16_t off = fuzz_u16(in) % 0x1000;
	uint8_t how = fuzz_u8(in);
	uint32_t len = widths[how & 3];
	bool write = how & 4;
	struct hyp_chan_stats before = stats(w), after;
	uint64_t n0 = w->notified;

	if (how & 8)
		off &= 0x3c; /* mostly the registers */
	if (off % len)
		off -= off % len;
	if (!w->attached)
		return;
	hyp_vcpu_set_reg(w->vcpu, HYP_REG_X(1), fuzz_u64(in));
	if (hyp_mock_push_mmio(w->vcpu, DB_IPA + off, len, 1,
			       (write ? HYP_MOCK_MMIO_WRITE : 0) |
				       (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)))
		fuzz_fail("hyp_mock_push_mmio failed");
	if (hyp_vcpu_run(w->vcpu) != -ENODATA)
		fuzz_fail("a doorbell access left hyp_vcpu_run() (exit %u)",
			  hyp_vcpu_exit(w->vcpu)->reason);
	after = stats(w);
	if (after.doorbells - before.doorbells != w->notified - n0)
		fuzz_fail("doorbells and notify callbacks disagree");
	if (write && len == 4 && off == HYP_CHAN_DB_RING) {
		if (after.doorbells != before.doorbells + 1)
			fuzz_fail("a ring was not counted");
		/* The host's own indexes are back. */
		if (region_word(w, offsetof(struct hyp_chan_header, to_guest_prod)) !=
			    (uint32_t)after.bytes_sent ||
		    region_word(w, offsetof(struct hyp_chan_header, to_host_cons)) !=
			    (uint32_t)after.bytes_received)
			fuzz_fail("the host's indexes were not republished");
	}
}

static void send(struct world *w, struct fuzz_in *in)
{
	uint8_t buf[5000];
	uint16_t len = fuzz_u16(in) % sizeof(buf);
	uint8_t seed = fuzz_u8(in);
	uint64_t pos = stats(w).bytes_sent;
	int n;

	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13);
	n = hyp_chan_send(w->chan, buf, len);
	if (n < 0 || n > len || (uint32_t)n > w->ring)
		fuzz_fail("hyp_chan_send(%u) = %d", len, n);
	for (int i = 0; i < n; i++)
		if (w->region[HYP_CHAN_HEADER_SIZE + ((pos + (uint64_t)i) & (w->ring - 1))] !=
		    buf[i])
			fuzz_fail("sent byte %d is not in the ring", i);
	if (stats(w).bytes_sent != pos + (uint64_t)n)
		fuzz_fail("bytes_sent does not count what was taken");
}

static void receive(struct world *w, struct fuzz_in *in, uint8_t how)
{
	uint8_t buf[5000];
	uint16_t len = fuzz_u16(in) % sizeof(buf);
	uint64_t pos = stats(w).bytes_received;
	int n;

	if (how == 0) {
		n = hyp_chan_consume(w->chan, len);
		if (n < 0 || n > len || (uint32_t)n > w->ring)
			fuzz_fail("hyp_chan_consume(%u) = %d", len, n);
		return;
	}
	n = how == 1 ? hyp_chan_peek(w->chan, buf, len) : hyp_chan_recv(w->chan, buf, len);
	if (n < 0 || n > len || (uint32_t)n > w->ring)
		fuzz_fail("peek/recv(%u) = %d", len, n);
	for (int i = 0; i < n; i++)
		if (buf[i] != w->region[HYP_CHAN_HEADER_SIZE + w->ring +
					((pos + (uint64_t)i) & (w->ring - 1))])
			fuzz_fail("received byte %d is not the ring's byte at the host's position",
				  i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct hyp_vm_config vc = { .size = sizeof(vc), .backend = "mock" };
	struct hyp_chan_config cc = { .size = sizeof(cc), .region_size = REGION_SIZE };
	struct world w = { 0 };

	w.region = aligned_alloc(4096, REGION_SIZE);
	if (!w.region)
		return 0;
	memset(w.region, 0, REGION_SIZE);
	w.ring = 64u << (fuzz_u8(&in) % 7); /* 64..4096: all fit twice after the header */
	cc.region = w.region;
	cc.ring_size = w.ring;
	cc.notify_fn = rang;
	cc.notify_opaque = &w;
	if (hyp_vm_create(&vc, &w.vm) || hyp_vcpu_create(w.vm, NULL, &w.vcpu) ||
	    hyp_chan_create(&cc, &w.chan))
		fuzz_fail("setup failed");
	attach(&w);

	for (unsigned int step = 0; step < 256 && !fuzz_done(&in); step++) {
		uint8_t op = fuzz_u8(&in);

		switch (op % 10) {
		case 0: /* any header word */
			memcpy(w.region + 4 * (fuzz_u8(&in) % (HYP_CHAN_HEADER_SIZE / 4)),
			       &(uint32_t){ fuzz_u32(&in) }, 4);
			break;
		case 1: { /* to_host.prod near the host's position, or anywhere */
			uint32_t v = fuzz_u32(&in);

			if (op & 0x10)
				v = (uint32_t)stats(&w).bytes_received + v % (2 * w.ring);
			memcpy(w.region + offsetof(struct hyp_chan_header, to_host_prod), &v, 4);
			break;
		}
		case 2: { /* to_guest.cons near the host's position, or anywhere */
			uint32_t v = fuzz_u32(&in);

			if (op & 0x10)
				v = (uint32_t)stats(&w).bytes_sent - v % (2 * w.ring);
			memcpy(w.region + offsetof(struct hyp_chan_header, to_guest_cons), &v, 4);
			break;
		}
		case 3: { /* ring bytes */
			uint32_t at = fuzz_u16(&in) % (2 * w.ring), len = fuzz_u8(&in);

			for (uint32_t i = 0; i < len && at + i < 2 * w.ring; i++)
				w.region[HYP_CHAN_HEADER_SIZE + at + i] = fuzz_u8(&in);
			break;
		}
		case 4:
		case 5:
			doorbell(&w, &in);
			break;
		case 6:
			send(&w, &in);
			break;
		case 7:
			receive(&w, &in, (uint8_t)(op >> 4) % 3);
			break;
		case 8:
			if (w.attached) {
				if (hyp_chan_detach(w.chan))
					fuzz_fail("hyp_chan_detach failed");
				w.attached = false;
			} else {
				attach(&w);
			}
			break;
		default:
			stats(&w);
			break;
		}
	}
	hyp_chan_destroy(w.chan);
	if (hyp_vm_destroy(w.vm))
		fuzz_fail("hyp_vm_destroy failed");
	free(w.region);
	return 0;
}
