/* SPDX-License-Identifier: MIT */
/*
 * errno values. Hosted builds take them from the C library; the freestanding build has no
 * <errno.h>, so it uses the Linux numbers (which is also what KVM and Linux userspace see).
 */
#ifndef HYP_ERRNO_H
#define HYP_ERRNO_H

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <errno.h>
#else
#define EPERM 1
#define ENOENT 2
#define EINTR 4
#define EIO 5
#define E2BIG 7
#define ENOEXEC 8
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EISDIR 21
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define EDEADLK 35
#define ENOSYS 38
#define ENODATA 61
#define EPROTO 71
#define EOVERFLOW 75
#define ENOTSUP 95
#define ESHUTDOWN 108
#define ETIMEDOUT 110
#endif

#endif /* HYP_ERRNO_H */
