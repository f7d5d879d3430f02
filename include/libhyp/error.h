/* SPDX-License-Identifier: MIT */
/*
 * Errors.
 *
 * Every libhyp function that can fail returns an int: 0 (or a non-negative count) on success and a
 * negative errno value on failure, e.g. -EINVAL. Hosted builds use the host's <errno.h> values; the
 * freestanding (bare-metal) build uses the Linux numbering, which hyp_strerror() understands on
 * both.
 */
#ifndef LIBHYP_ERROR_H
#define LIBHYP_ERROR_H

#include <libhyp/errno.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/**
 * hyp_strerror() - describe an error returned by a libhyp function.
 * @err: a negative errno value as returned by libhyp (a positive value is accepted too).
 *
 * Return: a static, NUL-terminated English description. Never NULL; unknown values give
 * "Unknown error". Safe from any thread and from signal handlers (no allocation, no locale).
 */
HYP_API const char *hyp_strerror(int err);

HYP_END_DECLS

#endif /* LIBHYP_ERROR_H */
