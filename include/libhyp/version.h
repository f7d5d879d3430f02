/* SPDX-License-Identifier: MIT */
/*
 * Library version. Checked in (not generated), so that -I include is all a program built against
 * the source tree needs; the unit test version-header keeps it equal to meson.build's version.
 */
#ifndef LIBHYP_VERSION_H
#define LIBHYP_VERSION_H

#include <libhyp/types.h>

/* The version of the headers: major (the ABI major, the SONAME's number), minor, micro. */
#define HYP_VERSION_MAJOR 0
#define HYP_VERSION_MINOR 2
#define HYP_VERSION_MICRO 0
/** The version the program was compiled against, as (major << 16 | minor << 8 | micro). */
#define HYP_VERSION ((HYP_VERSION_MAJOR << 16) | (HYP_VERSION_MINOR << 8) | HYP_VERSION_MICRO)

HYP_BEGIN_DECLS

/**
 * hyp_version() - the version of the library actually linked.
 *
 * Return: (major << 16 | minor << 8 | micro); compare with HYP_VERSION to detect a mismatch between
 * the headers a program was built with and the library it runs with.
 */
HYP_API uint32_t hyp_version(void);

/** hyp_version_string() - the linked library's version as "major.minor.micro"; static storage. */
HYP_API const char *hyp_version_string(void);

HYP_END_DECLS

#endif /* LIBHYP_VERSION_H */
