/* SPDX-License-Identifier: MIT */
/*
 * Logging. The library never prints: it hands messages to a handler the caller installs, per VM.
 */
#ifndef LIBHYP_LOG_H
#define LIBHYP_LOG_H

#include <stdarg.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/** Message priorities, most severe first (numerically ascending, like syslog). */
enum hyp_log_priority {
	HYP_LOG_ERROR = 3,
	HYP_LOG_WARNING = 4,
	HYP_LOG_INFO = 6,
	HYP_LOG_DEBUG = 7,
};

/**
 * hyp_log_fn - a log handler.
 * @opaque: the pointer given with the handler.
 * @priority: the message's priority.
 * @fmt: a printf-style format (no trailing newline).
 * @args: the format's arguments.
 *
 * Called on the thread that produced the message (possibly a vCPU thread inside hyp_vcpu_run).
 * The handler must not call back into the VM that is logging.
 */
typedef void (*hyp_log_fn)(void *opaque, enum hyp_log_priority priority, const char *fmt,
			   va_list args);

/**
 * hyp_vm_set_log_handler() - install or replace a VM's log handler.
 * @vm: the VM.
 * @fn: the handler, or NULL to discard messages.
 * @opaque: passed to @fn unchanged.
 * @max_priority: messages less severe than this (numerically greater) are not formatted or passed.
 *
 * A handler can also be given at creation time in struct hyp_vm_config, which also catches messages
 * logged while the VM is being created. Not safe to call while a vCPU of @vm is running.
 *
 * Return: 0, or -EINVAL if @vm is NULL or @max_priority is not a enum hyp_log_priority value.
 */
HYP_API int hyp_vm_set_log_handler(struct hyp_vm *vm, hyp_log_fn fn, void *opaque,
				   enum hyp_log_priority max_priority);

/**
 * hyp_vm_log() - log a message through the VM's log handler.
 * @vm: the VM (NULL: nothing happens).
 * @priority: the message's enum hyp_log_priority.
 * @fmt: printf-style format (the handler does the formatting, from a va_list).
 *
 * For code that works on a VM's behalf: device models (lib/dev and a VMM's own), backends. Nothing
 * happens without a handler or when @priority is less severe than the VM's threshold.
 */
HYP_API void hyp_vm_log(struct hyp_vm *vm, enum hyp_log_priority priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

HYP_END_DECLS

#endif /* LIBHYP_LOG_H */
