/* SPDX-License-Identifier: MIT */
/* errno values inside the library: the public <libhyp/errno.h> (host <errno.h>, or the Linux
 * numbers in the freestanding build). */
#ifndef HYP_ERRNO_H
#define HYP_ERRNO_H

#include <libhyp/errno.h>

#endif /* HYP_ERRNO_H */
