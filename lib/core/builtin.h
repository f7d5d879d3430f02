/* SPDX-License-Identifier: MIT */
/* The built-in backends' ops tables, each defined in its own lib/backend/<name>/ directory. */
#ifndef HYP_BACKEND_BUILTIN_H
#define HYP_BACKEND_BUILTIN_H

#include <libhyp/backend.h>

extern const struct hyp_backend_ops hyp__kvm_backend_ops;
extern const struct hyp_backend_ops hyp__el2_backend_ops;
extern const struct hyp_backend_ops hyp__mock_backend_ops;

#endif /* HYP_BACKEND_BUILTIN_H */
