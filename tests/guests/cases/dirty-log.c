/* SPDX-License-Identifier: MIT */
/*
 * dirty-log: dirty-page logging of guest RAM (hyp_vm_dirty_log_enable()/_fetch()), the building
 * block of a live copy. The guest writes a known set of pages of LHT_DIRTY_WINDOW per round and
 * asks the VMM to fetch the log after each: every written page must be reported and no other page
 * of the window (the VMM's log is exact there on every backend: a page of the window is only ever
 * written by this guest). Reads dirty nothing; a page written twice is reported once; writes made
 * while logging is off are not reported, and logging restarts empty.
 *
 * Backends without a dirty log (HYP_CAP_DIRTY_LOG = 0, el2 today) must refuse with -ENOTSUP:
 * checked, and the rest is a SKIP, never a pass.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

#define ENOTSUP 95 /* libhyp's errno values are Linux's (<libhyp/errno.h>) */
#define ROUNDS 8

static volatile uint64_t *window_page(unsigned int n)
{
	return (volatile uint64_t *)(uintptr_t)(LHT_DIRTY_WINDOW + (uint64_t)n * 4096);
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

/* Round r's pages: a different scattered set each round, and an empty one (round 3). */
static uint64_t pattern(unsigned int r)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (r + 1);

	if (r == 3)
		return 0;
	x ^= x >> 29;
	return x & (x >> 7) & 0x7ffffffffffffffeull; /* page 63 stays clean; 0 is round 0's */
}

void guest_main(void)
{
	static const char *const round_names[ROUNDS] = {
		"round 0", "round 1", "round 2", "round 3 (nothing written)",
		"round 4", "round 5", "round 6", "round 7",
	};
	char name[112];

	if (!(lht_caps() & LHT_CAP_DIRTY_LOG)) {
		lht_check_eq("no dirty log: enabling it is -ENOTSUP", dirty(LHT_DIRTY_ENABLE),
			     -ENOTSUP);
		lht_skip("the pages written in each round are reported, and no other",
			 "the backend has no dirty-page log (HYP_CAP_DIRTY_LOG = 0)");
		return;
	}
	lht_check_eq("fetch before enable is -EINVAL", dirty(LHT_DIRTY_FETCH), -22);
	lht_check_eq("dirty log enabled on RAM", dirty(LHT_DIRTY_ENABLE), 0);
	dirty(LHT_DIRTY_FETCH); /* the guest's own stack and data since the enable */
	for (unsigned int r = 0; r < ROUNDS; r++) {
		uint64_t want = pattern(r) | (r == 0 ? 1 : 0);
		int64_t count;

		for (unsigned int n = 0; n < 64; n++) {
			if (want >> n & 1) {
				window_page(n)[r] = r * 64 + n;
				window_page(n)[511 - r] = r; /* the same page twice */
			}
		}
		count = dirty(LHT_DIRTY_FETCH);
		lht_check_eq(lht_concat(name, sizeof(name), round_names[r],
					": exactly the written pages of the window"),
			     lht_reg_read(LHT_REG_DIRTY_BITS), want);
		lht_check_ge(lht_concat(name, sizeof(name), round_names[r],
					": the page count covers them"),
			     count, popcount(want));
	}

	/* Reads dirty nothing. */
	{
		uint64_t sum = 0;

		for (unsigned int n = 0; n < 64; n++)
			sum += window_page(n)[0];
		lht_note("sum of the window's first words", sum);
		dirty(LHT_DIRTY_FETCH);
		lht_check_eq("reading every page of the window dirties none",
			     lht_reg_read(LHT_REG_DIRTY_BITS), 0);
	}

	/* Off, a write, on again: the log restarts empty. */
	lht_check_eq("dirty log disabled", dirty(LHT_DIRTY_DISABLE), 0);
	lht_check_eq("fetch while off is -EINVAL", dirty(LHT_DIRTY_FETCH), -22);
	window_page(5)[0] = 0x55;
	lht_check_eq("dirty log enabled again", dirty(LHT_DIRTY_ENABLE), 0);
	dirty(LHT_DIRTY_FETCH);
	lht_check_eq("a write made while logging was off is not reported",
		     lht_reg_read(LHT_REG_DIRTY_BITS), 0);
	window_page(6)[0] = 0x66;
	dirty(LHT_DIRTY_FETCH);
	lht_check_eq("logging again: the next write is", lht_reg_read(LHT_REG_DIRTY_BITS),
		     1ull << 6);
	dirty(LHT_DIRTY_DISABLE);
}
