/* SPDX-License-Identifier: MIT */
/*
 * console-session: drive a VMM's console like a person at a terminal. Runs a command one or more
 * times, relays everything it prints to stdout, waits for expected text and types replies on its
 * stdin. Static aarch64 binary for the arm64 KVM test host, which has no shell (and no expect).
 *
 *   console-session SCRIPT COMMAND [ARG...]
 *
 * SCRIPT has one directive per line:
 *   run                 start COMMAND (the first "run" may be left out)
 *   expect TEXT         wait (at most the current timeout) until TEXT appears in the output
 *                       that follows the previous match
 *   send TEXT           type TEXT and a carriage return ("send" alone: just the return)
 *   key TEXT            type TEXT without a return
 *   timeout SECONDS     the wait for later expects and for the exit (default 60)
 *   status N            wait for COMMAND to exit, and expect exit status N
 * Blank lines and lines starting with '#' are ignored. The session prints
 * "SESSION: ok/FAILED ..." lines and exits 0 only if every expect matched and every status was
 * as expected. A command still running at the end of the script, or after a timeout, gets SIGINT
 * (then SIGKILL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (1u << 20)

struct child {
	pid_t pid;
	int in, out;
	char *buf; /* output since the last match */
	size_t len;
	bool exited;
	int status;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start(struct child *c, char **argv)
{
	int in[2], out[2];

	if (pipe(in) || pipe(out))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		execv(argv[0], argv);
		perror("console-session: exec");
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	c->out = out[0];
	c->len = 0;
	c->exited = false;
	return 0;
}

/* Read what is there (waiting up to @wait seconds); false once the output is closed. */
static bool pump(struct child *c, double wait)
{
	struct pollfd p = { .fd = c->out, .events = POLLIN };
	char tmp[4096];
	ssize_t n;

	if (c->out < 0)
		return false;
	if (poll(&p, 1, (int)(wait * 1000)) <= 0)
		return true;
	n = read(c->out, tmp, sizeof(tmp));
	if (n <= 0) {
		close(c->out);
		c->out = -1;
		return false;
	}
	fwrite(tmp, 1, (size_t)n, stdout);
	fflush(stdout);
	if (c->len + (size_t)n > OUT_MAX) {
		/* Keep the tail: an expected text is short. */
		memmove(c->buf, c->buf + c->len / 2, c->len - c->len / 2);
		c->len -= c->len / 2;
	}
	memcpy(c->buf + c->len, tmp, (size_t)n);
	c->len += (size_t)n;
	return true;
}

static bool expect(struct child *c, const char *text, double timeout)
{
	double end = now() + timeout;
	size_t tl = strlen(text);

	for (;;) {
		char *hit = memmem(c->buf, c->len, text, tl);

		if (hit) {
			size_t used = (size_t)(hit - c->buf) + tl;

			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			return true;
		}
		if (now() > end || !pump(c, 0.2))
			return hit != NULL;
	}
}

static void type(struct child *c, const char *text, bool enter)
{
	/* A person types: the console of firmware polls a small FIFO. */
	for (const char *p = text; *p; p++) {
		if (write(c->in, p, 1) != 1)
			return;
		usleep(2000);
	}
	if (enter && write(c->in, "\r", 1) != 1)
		return;
}

static bool wait_exit(struct child *c, double timeout)
{
	double end = now() + timeout;

	while (now() < end) {
		if (waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
			c->exited = true;
			while (pump(c, 0.1))
				;
			return true;
		}
		pump(c, 0.1);
	}
	return false;
}

static void stop(struct child *c)
{
	if (c->pid <= 0)
		return;
	if (!c->exited) {
		kill(c->pid, SIGINT);
		if (!wait_exit(c, 30)) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &c->status, 0);
		}
	}
	if (c->out >= 0)
		close(c->out);
	close(c->in);
	c->pid = 0;
}

int main(int argc, char **argv)
{
	struct child c = { .pid = 0, .out = -1 };
	char line[4096];
	double timeout = 60;
	int failures = 0, runs = 0;
	FILE *script;

	if (argc < 3) {
		fprintf(stderr, "usage: console-session SCRIPT COMMAND [ARG...]\n");
		return 2;
	}
	script = fopen(argv[1], "r");
	c.buf = malloc(OUT_MAX + 4096);
	if (!script || !c.buf) {
		perror("console-session");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	while (fgets(line, sizeof(line), script)) {
		char *arg;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		arg = strchr(line, ' ');
		arg = arg ? arg + 1 : line + strlen(line);
		if (!strncmp(line, "timeout", 7)) {
			timeout = atof(arg);
			continue;
		}
		if (!strcmp(line, "run") || !c.pid) {
			stop(&c);
			runs++;
			if (start(&c, argv + 2)) {
				perror("console-session: start");
				return 2;
			}
			printf("SESSION: run %d started\n", runs);
			if (!strcmp(line, "run"))
				continue;
		}
		if (!strncmp(line, "expect ", 7)) {
			if (expect(&c, arg, timeout)) {
				printf("\nSESSION: ok: run %d: saw '%s'\n", runs, arg);
			} else {
				printf("\nSESSION: FAILED: run %d: no '%s' within %.0f s\n", runs,
				       arg, timeout);
				failures++;
				stop(&c);
				break;
			}
		} else if (!strncmp(line, "send", 4)) {
			type(&c, arg, true);
		} else if (!strncmp(line, "key ", 4)) {
			type(&c, arg, false);
		} else if (!strncmp(line, "status ", 7)) {
			int want = atoi(arg);

			if (!wait_exit(&c, timeout)) {
				printf("\nSESSION: FAILED: run %d did not exit within %.0f s\n",
				       runs, timeout);
				failures++;
				stop(&c);
				break;
			}
			if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == want) {
				printf("\nSESSION: ok: run %d exited with status %d\n", runs, want);
			} else {
				printf("\nSESSION: FAILED: run %d: exit status %d, expected %d\n",
				       runs, WIFEXITED(c.status) ? WEXITSTATUS(c.status) : 128,
				       want);
				failures++;
			}
			stop(&c);
		} else {
			fprintf(stderr, "console-session: bad script line: %s\n", line);
			return 2;
		}
	}
	stop(&c);
	printf("SESSION: %s (%d runs, %d failures)\n", failures ? "FAILED" : "done", runs,
	       failures);
	return failures ? 1 : 0;
}
