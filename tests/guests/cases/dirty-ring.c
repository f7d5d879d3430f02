/* SPDX-License-Identifier: MIT */
/*
 * dirty-ring: the dirty ring (struct hyp_vm_config.dirty_ring_entries, hyp_vm_dirty_ring_harvest())
 * under pressure. The VM gets the smallest ring (256 entries per vCPU; on kvm KVM stops the vCPU
 * with KVM_EXIT_DIRTY_RING_FULL once 192 are in use) and the guest writes known sets of pages of a
 * 1024-page window per round, up to four times what the ring holds, then asks the VMM for one round
 * of a live copy: harvest the ring until empty, then fetch the bitmap (where a full ring spilled).
 * Every written page must be reported, no other page of the window (only this guest writes it),
 * the small round must come from the ring alone, and the big ones must have filled it. Then two
 * vCPUs write at once (each its own ring), and the VMM harvests while vCPU 1 is still writing.
 *
 * A host without a ring (kvm on Linux 6.1) must refuse the VM's ring with -ENOTSUP and report
 * HYP_CAP_DIRTY_RING below 256 (the driver checks that); the guest then checks that harvesting is
 * refused and the rest is a SKIP, never a pass.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 2, .timeout_ms = 60000, .dirty_ring_entries = 256);

#define EINVAL 22
#define RING 256u
#define PAGES LHT_RING_PAGES
#define ROUNDS 5
#define TWO_VCPUS ROUNDS     /* wants(): the pages of the two-vCPU phase */
#define NOTHING (ROUNDS + 1) /* wants(): no page */

/* The two-vCPU phase: vCPU 1 waits for @go, writes its pages, sets @done. */
static volatile uint64_t go, done;

static volatile uint64_t *window_page(unsigned int n)
{
	return (volatile uint64_t *)(uintptr_t)(LHT_DIRTY_WINDOW + (uint64_t)n * 4096);
}

static int64_t ring(uint64_t op)
{
	lht_reg_write(LHT_REG_RING, op);
	return (int64_t)lht_reg_read(LHT_REG_RING);
}

static int64_t dirty(uint64_t op)
{
	lht_reg_write(LHT_REG_DIRTY, op);
	return (int64_t)lht_reg_read(LHT_REG_DIRTY);
}

static uint64_t popcount(uint64_t x)
{
	uint64_t n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

/* Does round @r write page @n? */
static bool wants(unsigned int r, unsigned int n)
{
	switch (r) {
	case 0:
		return n < 100; /* fits the ring, below KVM's soft limit */
	case 1:
		return true; /* four times the ring */
	case 2:
		return ((n * 0x9e3779b1u) >> 13) & 1; /* about half, scattered */
	case 4:
		return n % 3 == 1; /* 341 pages, each written twice */
	case TWO_VCPUS:
		return n % 4 <= 1; /* vCPU 0: n % 4 == 0, vCPU 1: n % 4 == 1 */
	default:
		return false;
	}
}

static uint64_t want_word(unsigned int r, unsigned int w)
{
	uint64_t word = 0;

	for (unsigned int b = 0; b < 64; b++)
		if (wants(r, w * 64 + b))
			word |= 1ull << b;
	return word;
}

/* The VMM's window log against round @r's pages (see wants()). */
static void check_window(const char *what, unsigned int r)
{
	uint64_t missing = 0, stray = 0;
	char name[128];

	for (unsigned int w = 0; w < PAGES / 64; w++) {
		uint64_t want = want_word(r, w), got;

		lht_reg_write(LHT_REG_RING_WORD, w);
		got = lht_reg_read(LHT_REG_RING_WORD);
		missing += popcount(want & ~got);
		stray += popcount(got & ~want);
	}
	lht_check_eq(lht_concat(name, sizeof(name), what, ": no written page missing"), missing, 0);
	lht_check_eq(lht_concat(name, sizeof(name), what, ": no other page of the window"), stray,
		     0);
}

void guest_secondary(unsigned int index, uint64_t context_id)
{
	(void)context_id;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	for (unsigned int n = 0; n < PAGES; n++)
		if (n % 4 == 1)
			window_page(n)[index] = n;
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	/* Returning turns this vCPU off (PSCI CPU_OFF). */
}

/* Two vCPUs write 256 pages each at once; vCPU 0 has the VMM harvest half-way, while vCPU 1 is
 * (probably) still writing. */
static void two_vcpus(void)
{
	int64_t full = ring(LHT_RING_FULL), mid, last;
	uint64_t deadline;

	lht_check_eq("vCPU 1 started (CPU_ON)",
		     (uint64_t)lht_psci(PSCI_CPU_ON_64, lht_cfg_mpidr(1),
					(uint64_t)lht_secondary_entry, 1),
		     PSCI_SUCCESS);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	mid = 0;
	for (unsigned int n = 0; n < PAGES; n++) {
		if (n % 4 == 0)
			window_page(n)[0] = n;
		if (n == PAGES / 2)
			mid = ring(LHT_RING_COLLECT);
	}
	lht_check_true("two vCPUs: vCPU 1 wrote its pages", lht_wait_eq(&done, 1, 10000000));
	last = ring(LHT_RING_COLLECT);
	lht_check_le("two vCPUs: the harvest half-way worked", mid, PAGES);
	lht_check_le("two vCPUs: the last harvest worked", last, PAGES);
	check_window("two vCPUs", TWO_VCPUS);
	lht_note("two vCPUs: pages from the ring half-way", (uint64_t)mid);
	lht_note("two vCPUs: pages from the ring at the end", (uint64_t)last);
	lht_note("two vCPUs: pages from the bitmap at the end", (uint64_t)ring(LHT_RING_FETCHED));
	lht_note("two vCPUs: ring-full events", (uint64_t)(ring(LHT_RING_FULL) - full));
	deadline = lht_counter() + lht_us_to_ticks(5000000);
	while (lht_psci(PSCI_AFFINITY_INFO_64, lht_cfg_mpidr(1), 0, 0) != PSCI_AFF_OFF &&
	       lht_counter() < deadline)
		;
	ring(LHT_RING_CLEAR);
}

void guest_main(void)
{
	static const char *const names[ROUNDS] = {
		"round 0 (100 pages, fit the ring)", "round 1 (1024 pages, 4x the ring)",
		"round 2 (about half, scattered)",   "round 3 (nothing written)",
		"round 4 (341 pages, each twice)",
	};
	char name[160];

	if (!(lht_caps() & LHT_CAP_DIRTY_LOG)) {
		lht_skip("the pages written are reported by the ring and the log",
			 "the backend has no dirty-page log (HYP_CAP_DIRTY_LOG = 0)");
		return;
	}
	if (!(lht_caps() & LHT_CAP_DIRTY_RING)) {
		lht_check_eq("no ring: harvesting is -EINVAL", ring(LHT_RING_COLLECT), -EINVAL);
		lht_skip("the pages written are reported by the ring and the log",
			 "this host has no dirty ring of 256 entries (HYP_CAP_DIRTY_RING; kvm: "
			 "KVM_CAP_DIRTY_LOG_RING_ACQ_REL and _WITH_BITMAP, Linux 6.3+)");
		return;
	}
	lht_check_eq("the ring has the size asked for", ring(LHT_RING_ENTRIES), RING);
	lht_check_eq("dirty log enabled on RAM", dirty(LHT_DIRTY_ENABLE), 0);
	ring(LHT_RING_COLLECT); /* the guest's own stack and data since the enable */
	ring(LHT_RING_CLEAR);

	for (unsigned int r = 0; r < ROUNDS; r++) {
		int64_t full = ring(LHT_RING_FULL), from_ring, fetched;

		for (unsigned int pass = 0; pass < (r == 4 ? 2u : 1u); pass++)
			for (unsigned int n = 0; n < PAGES; n++)
				if (wants(r, n))
					window_page(n)[r + pass] = r * PAGES + n;
		from_ring = ring(LHT_RING_COLLECT);
		fetched = ring(LHT_RING_FETCHED);
		/* A negative errno reads as a huge count. */
		lht_check_le(lht_concat(name, sizeof(name), names[r], ": the round was collected"),
			     from_ring, PAGES);
		check_window(names[r], r);
		lht_note(lht_concat(name, sizeof(name), names[r], ": pages from the ring"),
			 (uint64_t)from_ring);
		lht_note(lht_concat(name, sizeof(name), names[r], ": pages from the bitmap"),
			 (uint64_t)fetched);
		lht_note(lht_concat(name, sizeof(name), names[r], ": ring-full events"),
			 (uint64_t)(ring(LHT_RING_FULL) - full));
		if (r == 0)
			lht_check_eq("round 0: the ring alone reported every page", from_ring, 100);
		if (r == 1) {
			lht_check_ge("round 1: the ring filled up", ring(LHT_RING_FULL) - full, 1);
			lht_check_le("round 1: the ring held at most its size", from_ring, RING);
			lht_check_ge("round 1: the rest came from the bitmap", fetched,
				     PAGES - RING);
		}
		ring(LHT_RING_CLEAR);
	}
	two_vcpus();

	/* Reads dirty nothing. */
	{
		uint64_t sum = 0;

		for (unsigned int n = 0; n < PAGES; n++)
			sum += window_page(n)[0];
		lht_note("sum of the window's first words", sum);
		ring(LHT_RING_COLLECT);
		check_window("reading every page of the window", NOTHING);
		ring(LHT_RING_CLEAR);
	}

	/* Off, a write, on again: stale entries are dropped and the log restarts empty. */
	window_page(7)[0] = 0x77; /* in the ring when logging stops */
	lht_check_eq("dirty log disabled", dirty(LHT_DIRTY_DISABLE), 0);
	window_page(5)[0] = 0x55;
	lht_check_eq("collecting while logging is off: the fetch is -EINVAL",
		     ring(LHT_RING_COLLECT), -EINVAL);
	lht_check_eq("dirty log enabled again", dirty(LHT_DIRTY_ENABLE), 0);
	ring(LHT_RING_CLEAR);
	ring(LHT_RING_COLLECT);
	check_window("logging again, nothing written", NOTHING);
	window_page(6)[0] = 0x66;
	lht_check_eq("logging again: the next write comes from the ring", ring(LHT_RING_COLLECT),
		     1);
	lht_reg_write(LHT_REG_RING_WORD, 0);
	lht_check_eq("logging again: exactly that page", lht_reg_read(LHT_REG_RING_WORD),
		     1ull << 6);
	lht_note("pages harvested from the ring in all", (uint64_t)ring(LHT_RING_HARVESTED));
	lht_note("pages spilled into the bitmap in all", (uint64_t)ring(LHT_RING_SPILLED));
	lht_note("ring-full events in all", (uint64_t)ring(LHT_RING_FULL));
	dirty(LHT_DIRTY_DISABLE);
}
