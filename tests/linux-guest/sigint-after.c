/* SPDX-License-Identifier: MIT */
/*
 * sigint-after: run a command, send it SIGINT (what Ctrl-C does) once its output shows a marker
 * line (or after a deadline), and check that it stops promptly with the expected exit status.
 * Used to test that hyp-run stops a running guest cleanly. Static aarch64 binary for the arm64
 * KVM test host, which has no shell.
 *
 *   sigint-after MAX_SECONDS EXPECTED_STATUS MARKER STOP_MARKER COMMAND [ARG...]
 *
 * The command's standard output and standard error pass through unchanged, both through this
 * program (one writer: its lines are not cut by another's on a shared console), all of it before
 * the verdict. STOP_MARKER must appear in that output after the signal (what the command says as
 * it stops). Waiting for MARKER rather than a fixed
 * delay keeps the test meaningful when the host is slow (nested emulation sharing two cores with
 * other tests): the signal lands while the guest is known to be running. Prints TAP; exits 0 if
 * the marker appeared and the command exited with EXPECTED_STATUS within 30 s of the signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Copy the child's output to ours until @marker has gone by (0) or @max_seconds passed, or the
 * output closed (-1). The window keeps the tail of earlier reads, so a marker split across two
 * reads is still found. @fd is non-blocking. */
static int wait_for_marker(int fd, const char *marker, double max_seconds)
{
	char window[1024], buf[256];
	size_t have = 0, mlen = strlen(marker);
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (seconds_since(&start) < max_seconds) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return -1;
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		if (have + (size_t)n > sizeof(window)) {
			size_t keep = mlen - 1 < have ? mlen - 1 : have;

			memmove(window, window + have - keep, keep);
			have = keep;
		}
		memcpy(window + have, buf, (size_t)n);
		have += (size_t)n;
		if (memmem(window, have, marker, mlen))
			return 0;
	}
	return -1;
}

/* Copy what is left of the child's output to ours, up to its end; true if @marker went by. */
static bool drain_for_marker(int fd, const char *marker)
{
	static char out[65536];
	size_t have = 0;
	ssize_t n;

	fcntl(fd, F_SETFL, 0); /* the child is gone: its output ends */
	while ((n = read(fd, out + have, sizeof(out) - 1 - have)) > 0) {
		fwrite(out + have, 1, (size_t)n, stdout);
		have += (size_t)n;
		if (have == sizeof(out) - 1) {
			/* Keep the tail: the marker is among the last words. */
			memmove(out, out + have / 2, have - have / 2);
			have -= have / 2;
		}
	}
	out[have] = 0;
	fflush(stdout);
	return memmem(out, have, marker, strlen(marker)) != NULL;
}

int main(int argc, char **argv)
{
	struct timespec start;
	int status = 0, expected, waited, pipefd[2], seen;
	bool stop_seen = false;
	pid_t child;
	static char after[65536];
	size_t after_len = 0;

	if (argc < 6) {
		fprintf(stderr,
			"usage: sigint-after MAX_SECONDS EXPECTED_STATUS MARKER STOP_MARKER "
			"COMMAND [ARG...]\n");
		return 2;
	}
	expected = atoi(argv[2]);
	if (!argv[3][0] || strlen(argv[3]) > 512 || !argv[4][0] || strlen(argv[4]) > 512 ||
	    pipe(pipefd))
		return 2;
	child = fork();
	if (child == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(argv[5], argv + 5);
		perror("sigint-after: exec");
		_exit(127);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	seen = wait_for_marker(pipefd[0], argv[3], atof(argv[1])) == 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	kill(child, SIGINT);
	for (waited = 0; waited < 3000; waited++) {
		ssize_t n;

		/* Keep draining its output so it never blocks on a full pipe while stopping; what
		 * it says from here on is searched for STOP_MARKER. */
		while ((n = read(pipefd[0], after + after_len, sizeof(after) - 1 - after_len)) >
		       0) {
			fwrite(after + after_len, 1, (size_t)n, stdout);
			after_len += (size_t)n;
			if (memmem(after, after_len, argv[4], strlen(argv[4])))
				stop_seen = true;
			if (after_len == sizeof(after) - 1) {
				memmove(after, after + after_len / 2, after_len - after_len / 2);
				after_len -= after_len / 2;
			}
		}
		if (waitpid(child, &status, WNOHANG) == child)
			break;
		usleep(10000);
	}
	fflush(stdout);
	if (waited == 3000) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("not ok 1 - %s did not stop within 30 s of SIGINT\n1..1\n", argv[5]);
		return 1;
	}
	/* The rest of its output, whole, before the verdict. */
	if (drain_for_marker(pipefd[0], argv[4]))
		stop_seen = true;
	if (!seen) {
		printf("\nnot ok 1 - %s never printed \"%s\" within %s s\n1..1\n", argv[5], argv[3],
		       argv[1]);
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != expected) {
		printf("\nnot ok 1 - %s stopped by SIGINT, status %#x (want exit %d)\n1..1\n",
		       argv[5], status, expected);
		return 1;
	}
	if (!stop_seen) {
		printf("\nnot ok 1 - %s exited %d after SIGINT without saying \"%s\"\n1..1\n",
		       argv[5], expected, argv[4]);
		return 1;
	}
	printf("\nok 1 - SIGINT stopped %s cleanly in %.2f s with exit status %d, saying \"%s\"\n"
	       "1..1\n",
	       argv[5], seconds_since(&start), expected, argv[4]);
	return 0;
}
