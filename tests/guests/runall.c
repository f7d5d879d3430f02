/* SPDX-License-Identifier: MIT */
/*
 * runall: run several programs, each with its own arguments, one after another. An aarch64 Linux
 * program (not a guest): the arm64 KVM test host (tests/kvm-host/run-in-arm64-host.sh) gives
 * arguments to a single program per boot (--wrap), and this lets one boot run several, e.g.
 * tests/kvm/test-kvm-backend and the conformance driver (tests/kvm/run-kvm-tests.sh).
 *
 *   runall PROGRAM [ARG...] [--then PROGRAM [ARG...]]...
 *
 * Around each program it prints, on stdout:
 *
 *   RUNALL: begin N PROGRAM
 *   RUNALL: end N PROGRAM: exit status S
 *
 * with S = 128 + the signal number if the program was killed by a signal (and "(signal K)"
 * after it). Every program runs, whatever the ones before it did. Exit status: 0 if every program
 * exited with status 0, 1 if one did not, 2 for usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEPARATOR "--then"

static void usage(FILE *f)
{
	fprintf(f, "usage: runall PROGRAM [ARG...] [" SEPARATOR " PROGRAM [ARG...]]...\n");
}

/* Run @argv (NULL-terminated) and wait for it; returns its exit status as described above. */
static int run(int n, char **argv)
{
	int status, code, sig = 0;
	pid_t pid;

	printf("RUNALL: begin %d %s\n", n, argv[0]);
	/* The child inherits stdout: nothing of ours may still sit in the buffer. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runall: fork: %s\n", strerror(errno));
		code = 127;
	} else if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "runall: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	} else {
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				fprintf(stderr, "runall: waitpid: %s\n", strerror(errno));
				status = 127 << 8;
				break;
			}
		}
		if (WIFSIGNALED(status)) {
			sig = WTERMSIG(status);
			code = 128 + sig;
		} else {
			code = WEXITSTATUS(status);
		}
	}
	if (sig)
		printf("RUNALL: end %d %s: exit status %d (signal %d)\n", n, argv[0], code, sig);
	else
		printf("RUNALL: end %d %s: exit status %d\n", n, argv[0], code);
	fflush(stdout);
	return code;
}

int main(int argc, char **argv)
{
	char **cmd;
	int start, n = 0, failed = 0;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	/* Every command must be non-empty: check them all before running any. */
	for (int i = 1; i <= argc; i++) {
		if (i < argc && strcmp(argv[i], SEPARATOR))
			continue;
		if (i == 1 || !strcmp(argv[i - 1], SEPARATOR)) {
			usage(stderr);
			return 2;
		}
	}
	cmd = calloc((size_t)argc, sizeof(*cmd));
	if (!cmd) {
		fprintf(stderr, "runall: out of memory\n");
		return 1;
	}
	start = 1;
	for (int i = 1; i <= argc; i++) {
		if (i < argc && strcmp(argv[i], SEPARATOR))
			continue;
		memcpy(cmd, &argv[start], (size_t)(i - start) * sizeof(*cmd));
		cmd[i - start] = NULL;
		if (run(++n, cmd))
			failed++;
		start = i + 1;
	}
	free(cmd);
	return failed ? 1 : 0;
}
