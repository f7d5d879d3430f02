/* SPDX-License-Identifier: MIT */
/*
 * The table of backends compiled into this library. An explicit list rather than constructor
 * registration: constructors do not run for objects pulled from a static archive, nor at EL2.
 */
#include "hyp_string.h"

#include "internal.h"
#include "builtin.h"

struct builtin_backend {
	const struct hyp_backend_ops *ops;
	/* Candidate for automatic selection (the mock never is: it runs no guest). */
	bool automatic;
};

static const struct builtin_backend builtin_backends[] = {
#ifdef HYP_BACKEND_KVM
	{ &hyp__kvm_backend_ops, true },
#endif
#ifdef HYP_BACKEND_EL2
	{ &hyp__el2_backend_ops, true },
#endif
#ifdef HYP_BACKEND_MOCK
	{ &hyp__mock_backend_ops, false },
#endif
	{ NULL, false },
};

const struct hyp_backend_ops *hyp__builtin_backend(const char *name)
{
	for (const struct builtin_backend *b = builtin_backends; b->ops; b++)
		if (!strcmp(b->ops->name, name))
			return b->ops;
	return NULL;
}

const struct hyp_backend_ops *hyp__builtin_backend_auto(void)
{
	for (const struct builtin_backend *b = builtin_backends; b->ops; b++)
		if (b->automatic && (!b->ops->probe || b->ops->probe() == 0))
			return b->ops;
	return NULL;
}
