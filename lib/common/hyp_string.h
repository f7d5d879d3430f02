/* SPDX-License-Identifier: MIT */
/*
 * The few C library string functions the library uses. Hosted builds take <string.h>; the
 * freestanding build declares them itself, and the embedding firmware links implementations
 * (the same set libfdt needs: memcpy, memmove, memset, memcmp, strcmp).
 */
#ifndef HYP_STRING_H
#define HYP_STRING_H

#include <stddef.h>
#include <stdint.h>

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <string.h>
#else
#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);
#endif

/*
 * Clear a small, 8-byte aligned object on a hot path. The freestanding build uses
 * -mgeneral-regs-only, under which the compiler turns even a constant-size memset() into a
 * library call; an unrolled loop of 64-bit stores becomes a few STP XZR instead.
 */
static inline void hyp__clear_words(void *p, size_t bytes)
{
	uint64_t *w = p;

#pragma GCC unroll 32
	for (size_t i = 0; i < bytes / 8; i++)
		w[i] = 0;
}

#endif /* HYP_STRING_H */
