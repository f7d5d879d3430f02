/* SPDX-License-Identifier: MIT */
/* Logging: the library never prints, it forwards to the VM's handler. */
#include "internal.h"

void hyp__log(struct hyp_vm *vm, enum hyp_log_priority priority, const char *fmt, ...)
{
	va_list args;

	if (!vm || !vm->log_fn || (int)priority > vm->log_priority)
		return;
	va_start(args, fmt);
	vm->log_fn(vm->log_opaque, priority, fmt, args);
	va_end(args);
}

HYP_API void hyp_vm_log(struct hyp_vm *vm, enum hyp_log_priority priority, const char *fmt, ...)
{
	va_list args;

	if (!vm || !fmt || !vm->log_fn || (int)priority > vm->log_priority)
		return;
	va_start(args, fmt);
	vm->log_fn(vm->log_opaque, priority, fmt, args);
	va_end(args);
}

bool hyp__log_priority_valid(int priority)
{
	return priority == HYP_LOG_ERROR || priority == HYP_LOG_WARNING ||
	       priority == HYP_LOG_INFO || priority == HYP_LOG_DEBUG;
}

HYP_API int hyp_vm_set_log_handler(struct hyp_vm *vm, hyp_log_fn fn, void *opaque,
				   enum hyp_log_priority max_priority)
{
	if (!vm || !hyp__log_priority_valid((int)max_priority))
		return -EINVAL;
	vm->log_fn = fn;
	vm->log_opaque = opaque;
	vm->log_priority = (int)max_priority;
	return 0;
}
