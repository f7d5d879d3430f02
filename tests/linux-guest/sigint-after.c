/* SPDX-License-Identifier: MIT */
/*
 * sigint-after: run a command, send it SIGINT (what Ctrl-C does) after a delay, and check that
 * it stops promptly with the expected exit status. Used to test that hyp-run stops a running
 * guest cleanly. Static aarch64 binary for the arm64 KVM test host, which has no shell.
 *
 *   sigint-after SECONDS EXPECTED_STATUS COMMAND [ARG...]
 *
 * Prints TAP; exits 0 if the command exited with EXPECTED_STATUS within 30 s of the signal.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec start, end;
	int status = 0, expected, waited;
	pid_t child;

	if (argc < 4) {
		fprintf(stderr, "usage: sigint-after SECONDS EXPECTED_STATUS COMMAND [ARG...]\n");
		return 2;
	}
	expected = atoi(argv[2]);
	child = fork();
	if (child == 0) {
		execv(argv[3], argv + 3);
		perror("sigint-after: exec");
		_exit(127);
	}
	sleep((unsigned)atoi(argv[1]));
	clock_gettime(CLOCK_MONOTONIC, &start);
	kill(child, SIGINT);
	for (waited = 0; waited < 3000; waited++) {
		if (waitpid(child, &status, WNOHANG) == child)
			break;
		usleep(10000);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (waited == 3000) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("not ok 1 - %s did not stop within 30 s of SIGINT\n1..1\n", argv[3]);
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != expected) {
		printf("not ok 1 - %s stopped by SIGINT, status %#x (want exit %d)\n1..1\n",
		       argv[3], status, expected);
		return 1;
	}
	printf("ok 1 - SIGINT stopped %s cleanly in %.2f s with exit status %d\n1..1\n", argv[3],
	       (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9,
	       expected);
	return 0;
}
