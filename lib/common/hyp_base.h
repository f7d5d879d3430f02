/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every part of the library may use, the core as much as the parts that are clients
 * of the public API (lib/dev, lib/boot): invariant checks, container_of, and a polite spin.
 */
#ifndef HYP_BASE_H
#define HYP_BASE_H

#include <stdatomic.h>
#include <stddef.h>

#if defined(HYP_HOSTED) && HYP_HOSTED && defined(__linux__)
#include <sched.h>
#endif

/* Internal invariant check: a broken invariant is a library bug, never a caller error. At EL2 it
 * becomes a trap instruction; hosted builds abort. */
#if defined(HYP_HOSTED) && HYP_HOSTED
#include <stdlib.h>
#define hyp__assert(cond)                                                                          \
	do {                                                                                       \
		if (__builtin_expect(!(cond), 0))                                                  \
			abort();                                                                   \
	} while (0)
#else
#define hyp__assert(cond)                                                                          \
	do {                                                                                       \
		if (__builtin_expect(!(cond), 0))                                                  \
			__builtin_trap();                                                          \
	} while (0)
#endif

#define HYP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define hyp__container_of(ptr, type, member)                                                       \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* One pause in a spin-wait loop. */
static inline void hyp__cpu_relax(void)
{
#if defined(HYP_HOSTED) && HYP_HOSTED && defined(__linux__)
	/* A waiting vCPU thread must not starve the thread that will wake it (possibly on the same
	 * core). */
	sched_yield();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#elif defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif /* HYP_BASE_H */
