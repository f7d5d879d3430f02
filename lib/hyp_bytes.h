/* SPDX-License-Identifier: MIT */
/*
 * Little-endian byte order helpers for the core and the built-in backends: guest memory and MMIO
 * data are little-endian whatever the host (the library emulates only little-endian guests).
 */
#ifndef HYP_BYTES_H
#define HYP_BYTES_H

#include <stdint.h>

/* The value of the @len (0..8) bytes at @p, the first the least significant. */
static inline uint64_t hyp__le_load(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Store the low @len (0..8) bytes of @v at @p, least significant first. */
static inline void hyp__le_store(uint8_t *p, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* HYP_BYTES_H */
