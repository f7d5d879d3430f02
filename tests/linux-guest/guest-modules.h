/* SPDX-License-Identifier: MIT */
/*
 * The kernel modules a test guest's initramfs carries (tests/linux-guest/guest-kit.sh puts them
 * in /modules with their load order in /modules/order): loaded by the /init programs of the Linux
 * boot test (guest-init.c) and of the benchmark (tests/bench/linux-bench-init.c).
 */
#ifndef LIBHYP_GUEST_MODULES_H
#define LIBHYP_GUEST_MODULES_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Load every module named in /modules/order, in that order; @report says what failed (a module
 * already built in or loaded is not a failure). */
static inline void guest_load_modules(void (*report)(const char *fmt, ...))
{
	FILE *order = fopen("/modules/order", "r");
	char name[256];

	if (!order)
		return;
	while (fgets(name, sizeof(name), order)) {
		char path[300];
		int fd;

		name[strcspn(name, "\n")] = '\0';
		if (!name[0])
			continue;
		snprintf(path, sizeof(path), "/modules/%s", name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0)) {
			if (errno != EEXIST)
				report("error: loading %s: %s", name, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	fclose(order);
}

#endif /* LIBHYP_GUEST_MODULES_H */
