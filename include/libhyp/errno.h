/* SPDX-License-Identifier: MIT */
/*
 * errno values for every libhyp build. libhyp returns negative errno values (-EINVAL...). A hosted
 * program gets them from <errno.h>, which this header includes; a freestanding one (EL2 firmware,
 * built with -ffreestanding) has no <errno.h> and gets the Linux numbers from here, which is what
 * the freestanding libhyp uses. Names its own headers already define are left alone.
 */
#ifndef LIBHYP_ERRNO_H
#define LIBHYP_ERRNO_H

#if defined(__STDC_HOSTED__) && __STDC_HOSTED__
#include <errno.h>
#else
#ifndef EPERM
#define EPERM 1
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EINTR
#define EINTR 4
#endif
#ifndef EIO
#define EIO 5
#endif
#ifndef E2BIG
#define E2BIG 7
#endif
#ifndef ENOEXEC
#define ENOEXEC 8
#endif
#ifndef EBADF
#define EBADF 9
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EACCES
#define EACCES 13
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENODEV
#define ENODEV 19
#endif
#ifndef EISDIR
#define EISDIR 21
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef EDEADLK
#define EDEADLK 35
#endif
#ifndef ENOSYS
#define ENOSYS 38
#endif
#ifndef ENODATA
#define ENODATA 61
#endif
#ifndef EPROTO
#define EPROTO 71
#endif
#ifndef EOVERFLOW
#define EOVERFLOW 75
#endif
#ifndef ENOTSUP
#define ENOTSUP 95
#endif
#ifndef ESHUTDOWN
#define ESHUTDOWN 108
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT 110
#endif
#endif

#endif /* LIBHYP_ERRNO_H */
