/* SPDX-License-Identifier: MIT */
/* The few things the core needs from the platform it runs on. */
#include "internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED && defined(__linux__)
#include <sched.h>
#endif

void hyp__cpu_relax(void)
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
