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

/* Store a 16/32/64-bit little-endian value. Guests and virtio
 * are little-endian by definition. */
static inline void hyp__put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void hyp__put_le32(uint8_t *p, uint32_t v)
{
	hyp__put_le16(p, (uint16_t)v);
	hyp__put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void hyp__put_le64(uint8_t *p, uint64_t v)
{
	hyp__put_le32(p, (uint32_t)v);
	hyp__put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t hyp__get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t hyp__get_le32(const uint8_t *p)
{
	return hyp__get_le16(p) | (uint32_t)hyp__get_le16(p + 2) << 16;
}

static inline uint64_t hyp__get_le64(const uint8_t *p)
{
	return hyp__get_le32(p) | (uint64_t)hyp__get_le32(p + 4) << 32;
}

#endif /* HYP_BYTES_H */
