/* SPDX-License-Identifier: MIT */
/*
 * The few C library string functions the library uses. Hosted builds take <string.h>; the
 * freestanding build declares them itself, and the embedding firmware links implementations
 * (the same set libfdt needs: memcpy, memmove, memset, memcmp, strcmp).
 */
#ifndef HYP_STRING_H
#define HYP_STRING_H

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

#endif /* HYP_STRING_H */
