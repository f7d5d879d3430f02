/* SPDX-License-Identifier: MIT */
/*
 * libhyp basic types and the export macro.
 *
 * Every public header includes this one. It depends only on the freestanding C11 headers, so the
 * API is usable from bare-metal firmware as well as from hosted programs.
 */
#ifndef LIBHYP_TYPES_H
#define LIBHYP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define HYP_BEGIN_DECLS extern "C" {
#define HYP_END_DECLS }
#else
#define HYP_BEGIN_DECLS
#define HYP_END_DECLS
#endif

/* Marks a function as part of the exported ABI. Everything else is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define HYP_API __attribute__((visibility("default")))
#else
#define HYP_API
#endif

/** An intermediate physical address: an address in the guest's physical address space. */
typedef uint64_t hyp_ipa_t;
/** A host physical address (meaningful to the EL2 backend and firmware platform ops). */
typedef uint64_t hyp_pa_t;

struct hyp_vm;
struct hyp_vcpu;

#endif /* LIBHYP_TYPES_H */
