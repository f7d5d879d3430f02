/* SPDX-License-Identifier: MIT */
/* Names and messages: hyp_strerror(), hyp_exit_reason_name(), the version. */
#include "internal.h"

#include <libhyp/version.h>

struct errno_name {
	int err;
	const char *text;
};

/* Our own texts: the freestanding build has no strerror(), and the hosted one may be localised
 * or not async-signal-safe. */
static const struct errno_name errno_names[] = {
	{ 0, "Success" },
	{ EPERM, "Operation not permitted" },
	{ ENOENT, "No such object" },
	{ EINTR, "Interrupted" },
	{ EIO, "Input/output error" },
	{ E2BIG, "Structure has unknown non-zero fields (newer than this library)" },
	{ ENOEXEC, "Not a loadable image, or a corrupt one" },
	{ EBADF, "Bad file descriptor" },
	{ EAGAIN, "Try again" },
	{ ENOMEM, "Out of memory" },
	{ EACCES, "Permission denied" },
	{ EFAULT, "Address not backed by guest memory" },
	{ EBUSY, "Busy: a vCPU is running or the VM is being reconfigured" },
	{ EEXIST, "Already exists or overlaps an existing object" },
	{ ENODEV, "No usable hypervisor backend" },
	{ EISDIR, "Is a directory" },
	{ EINVAL, "Invalid argument" },
	{ ENOSPC, "No space left (guest RAM, or a fixed-size table, is full)" },
	{ ERANGE, "Out of range" },
	{ EDEADLK, "Would deadlock" },
	{ ENOSYS, "Function not implemented" },
	{ ENODATA, "No more data (mock script exhausted)" },
	{ EPROTO, "Backend protocol error" },
	{ EOVERFLOW, "Value too large" },
	{ ENOTSUP, "Not supported by this backend" },
	{ ESHUTDOWN, "The VM has shut down" },
	{ ETIMEDOUT, "Timed out" },
};

/* |err| without the undefined -INT_MIN. */
static unsigned int error_magnitude(int err)
{
	return err < 0 ? 0u - (unsigned int)err : (unsigned int)err;
}

HYP_API int hyp_error_host_errno(int err)
{
	unsigned int magnitude = error_magnitude(err);

	/* Host errno values are positive and below 4096 (Linux's MAX_ERRNO is 4095). */
	if (magnitude <= HYP_EHOST_BASE || magnitude - HYP_EHOST_BASE >= 4096)
		return 0;
	return (int)(magnitude - HYP_EHOST_BASE);
}

HYP_API const char *hyp_strerror(int err)
{
	unsigned int magnitude = error_magnitude(err);

	if (hyp_error_host_errno(err))
		return "A host system call failed (hyp_error_host_errno() gives its errno)";

	for (size_t i = 0; i < HYP_ARRAY_SIZE(errno_names); i++)
		if ((unsigned int)errno_names[i].err == magnitude)
			return errno_names[i].text;
	return "Unknown error";
}

static const char *const exit_reason_names[HYP_EXIT_REASON_COUNT] = {
	[HYP_EXIT_NONE] = "none",
	[HYP_EXIT_MMIO] = "mmio",
	[HYP_EXIT_SMCCC] = "smccc",
	[HYP_EXIT_SYSREG] = "sysreg",
	[HYP_EXIT_WFX] = "wfx",
	[HYP_EXIT_MEM_FAULT] = "mem-fault",
	[HYP_EXIT_SYSTEM_EVENT] = "system-event",
	[HYP_EXIT_KICKED] = "kicked",
	[HYP_EXIT_DEBUG] = "debug",
	[HYP_EXIT_EXCEPTION] = "exception",
};

HYP_API const char *hyp_exit_reason_name(uint32_t reason)
{
	if (reason >= HYP_EXIT_REASON_COUNT)
		return "invalid";
	return exit_reason_names[reason];
}

#define HYP_STR2(x) #x
#define HYP_STR(x) HYP_STR2(x)

HYP_API uint32_t hyp_version(void)
{
	return HYP_VERSION;
}

HYP_API const char *hyp_version_string(void)
{
	return HYP_STR(HYP_VERSION_MAJOR) "." HYP_STR(HYP_VERSION_MINOR) "." HYP_STR(
		HYP_VERSION_MICRO);
}
