/* SPDX-License-Identifier: MIT */
/*
 * Copying a caller's size-prefixed config struct (the ABI-growth rule of every public config).
 * Inline, so that each part of the library that takes a config (including lib/fdt, which stays a
 * separate member of the installed static archive) has it without a shared internal symbol.
 */
#ifndef HYP_SIZED_CONFIG_H
#define HYP_SIZED_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hyp_errno.h"
#include "hyp_string.h"

/*
 * Copy a config of @src_size bytes from @src into @dst (@dst_size bytes), zero-filling what the
 * caller's older struct lacks. Return: 0; -EINVAL if @src_size < @min_size (the fields every
 * version has); -E2BIG if a newer caller's struct sets fields this library does not know.
 */
static inline int hyp__copy_sized_config(void *dst, size_t dst_size, size_t min_size,
					 const void *src, uint32_t src_size)
{
	const unsigned char *bytes = src;

	if (src_size < min_size)
		return -EINVAL;
	/* A caller built against a newer library may pass a bigger struct. Accept it only if the
	 * fields this library does not know are zero, i.e. the caller did not ask for them. */
	for (size_t i = dst_size; i < src_size; i++)
		if (bytes[i])
			return -E2BIG;
	memset(dst, 0, dst_size);
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	return 0;
}

#endif
