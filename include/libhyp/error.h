/* SPDX-License-Identifier: MIT */
/*
 * Errors.
 *
 * Every libhyp function that can fail returns an int: 0 (or a non-negative count) on success and a
 * negative errno value on failure, e.g. -EINVAL. Hosted builds use the host's <errno.h> values; the
 * freestanding (bare-metal) build uses the Linux numbering, which hyp_strerror() understands on
 * both. A backend's failed host system call is -HYP_EHOST(errno), distinct from every errno value
 * (see hyp_error_host_errno()).
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

/*
 * Host failures. A backend that runs on an operating system (kvm) passes on a failed system call
 * as -HYP_EHOST(host errno), unless the failure has one of libhyp's own documented meanings
 * (-ENOMEM for the host out of memory, -ENOTSUP for a missing host feature, -ENOENT for a register
 * the host does not know...). So -EFAULT from hyp_vcpu_run() always means what libhyp documents,
 * and a KVM_RUN that failed with EFAULT reads as -HYP_EHOST(EFAULT). The values lie far above any
 * errno (Linux's largest is below 4096).
 */
#define HYP_EHOST_BASE 0x10000
#define HYP_EHOST(host_errno) (HYP_EHOST_BASE + (host_errno))

/**
 * hyp_error_host_errno() - the host's errno behind a libhyp error, if it was a host failure.
 * @err: a value a libhyp function returned (negative), or its magnitude.
 *
 * Return: the host errno (1..4095) if @err is -HYP_EHOST(errno); 0 for any other value,
 * including libhyp's own errors and success.
 */
HYP_API int hyp_error_host_errno(int err);

HYP_END_DECLS

#endif /* LIBHYP_ERROR_H */
