// SPDX-License-Identifier: MIT
/*
 * lib/stage2/vmid.c: VMID allocation, a bitmap the caller owns.
 */
#include "s2-internal.h"

int hyp_vmid_pool_init(struct hyp_vmid_pool *pool, unsigned int bits)
{
	if (!pool || (bits != 8 && bits != 16))
		return -EINVAL;
	for (unsigned int i = 0; i < HYP_VMID_MAX / 64; i++)
		pool->map[i] = 0;
	pool->bits = bits;
	pool->map[0] = 1; /* VMID 0: reserved, see stage2.h */
	pool->used = 1;
	pool->next = 1;
	return 0;
}

int hyp_vmid_pool_alloc(struct hyp_vmid_pool *pool, uint16_t *vmid)
{
	uint32_t count, words, first, shift;

	if (!pool || !vmid || (pool->bits != 8 && pool->bits != 16))
		return -EINVAL;
	count = UINT32_C(1) << pool->bits;
	if (pool->used >= count)
		return -ENOSPC;

	/* Look from pool->next to the end, then wrap to the bits before it in the first word. */
	words = count / 64;
	first = (pool->next % count) / 64;
	shift = pool->next % 64;
	for (uint32_t i = 0; i <= words; i++) {
		uint32_t w = (first + i) % words;
		uint64_t free = ~pool->map[w];

		if (i == 0)
			free &= ~UINT64_C(0) << shift;
		else if (i == words)
			free &= shift ? (UINT64_C(1) << shift) - 1 : 0;
		if (free) {
			uint32_t id = w * 64 + (uint32_t)__builtin_ctzll(free);

			pool->map[w] |= UINT64_C(1) << (id % 64);
			pool->used++;
			pool->next = (id + 1) % count;
			*vmid = (uint16_t)id;
			return 0;
		}
	}
	s2_bug_on(1); /* used < count, so some bit was clear */
	return -ENOSPC;
}

int hyp_vmid_pool_free(struct hyp_vmid_pool *pool, uint16_t vmid)
{
	uint64_t bit = UINT64_C(1) << (vmid % 64);

	if (!pool || vmid == 0 || (pool->bits != 8 && pool->bits != 16) ||
	    (uint32_t)vmid >> pool->bits || !(pool->map[vmid / 64] & bit))
		return -EINVAL;
	pool->map[vmid / 64] &= ~bit;
	pool->used--;
	return 0;
}
