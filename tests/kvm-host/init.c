/* SPDX-License-Identifier: MIT */
/*
 * /init for the arm64 KVM test host (see run-in-arm64-host.sh and README.md).
 *
 * Runs as PID 1 from the initramfs.  It mounts devtmpfs, proc and sysfs, puts the
 * console on stdout/stderr, loads kernel modules, runs the tests, prints one result
 * line and powers the machine off.
 *
 * What to run comes from /kvm-host/manifest, one record per line, fields separated
 * by TAB, each field %XX-escaped (at least '%', TAB, LF and CR are escaped):
 *
 *   env     NAME=VALUE          add to every test's environment
 *   cwd     PATH                working directory for the tests that follow
 *   module  PATH                load this .ko (uncompressed) with finit_module
 *   test    TIMEOUT ARGV0 ARG.. run ARGV0 (absolute path) with the arguments,
 *                               killed after TIMEOUT seconds (0 = no limit)
 *
 * Without a manifest, every executable regular file in /tests is run in name
 * order, without arguments, with the timeout from "kvmhost.timeout=SECS" on the
 * kernel command line (default 300).
 *
 * Console protocol (all lines start at column 0):
 *   KVM-HOST: ...                       progress and per-test status
 *   KVM-HOST-RESULT: <n_failed> failed, <n_passed> passed
 * The result line is printed exactly once, last, and only by a healthy /init;
 * a missing result line means the guest crashed or hung.  Zero tests run counts
 * as one failure.  A test passes when it exits with status 0.
 *
 * Build: aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -o init init.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST "/kvm-host/manifest"
#define TEST_DIR "/tests"
#define DEFAULT_TIMEOUT 300
#define MAX_FIELDS 256
#define MAX_ENV 256

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	for (char *p = buf; n > 0;) {
		ssize_t w = write(STDOUT_FILENO, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		n -= (int)w;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, MS_NOSUID, NULL) < 0 && errno != EBUSY)
		say("KVM-HOST: warning: mount %s on %s: %s", type, dir, strerror(errno));
}

static void setup_console(void)
{
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) < 0 && errno != EBUSY) {
		/* Nothing can be printed yet if the kernel gave us no console. */
	}
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* --- environment handed to tests --------------------------------------- */

static char *test_env[MAX_ENV + 1];
static int n_env;

static void env_set(const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	for (int i = 0; i < n_env; i++) {
		if (strncmp(test_env[i], kv, klen) == 0 && test_env[i][klen] == '=') {
			free(test_env[i]);
			test_env[i] = strdup(kv);
			return;
		}
	}
	if (!eq || n_env >= MAX_ENV) {
		say("KVM-HOST: warning: ignoring environment entry '%s'", kv);
		return;
	}
	test_env[n_env++] = strdup(kv);
	test_env[n_env] = NULL;
}

/* --- manifest parsing --------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX in place. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		int h, l;
		if (p[0] == '%' && (h = hexval((unsigned char)p[1])) >= 0 &&
		    (l = hexval((unsigned char)p[2])) >= 0) {
			*o++ = (char)(h << 4 | l);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Split a line at TABs into fields (decoded); returns the count. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	while (n < max) {
		f[n++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	for (int i = 0; i < n; i++)
		unescape(f[i]);
	return n;
}

/* --- modules ------------------------------------------------------------ */

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("KVM-HOST: module %s: open: %s", path, strerror(errno));
		return -1;
	}
	long r = syscall(SYS_finit_module, fd, "", 0);
	if (r < 0 && errno == ENOSYS) {
		/* Old kernel: read the image and use init_module. */
		struct stat st;
		void *buf = NULL;
		if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size)) != NULL &&
		    read(fd, buf, (size_t)st.st_size) == st.st_size)
			r = syscall(SYS_init_module, buf, (unsigned long)st.st_size, "");
		else
			errno = EIO;
		free(buf);
	}
	int e = errno;
	close(fd);
	if (r < 0 && e != EEXIST) {
		say("KVM-HOST: module %s: %s", path, strerror(e));
		return -1;
	}
	say("KVM-HOST: module %s loaded%s", path, r < 0 ? " (already present)" : "");
	return 0;
}

/* --- running one test --------------------------------------------------- */

static unsigned n_run, n_failed, n_passed;
static char cwd[4096] = "/";

static void run_test(char **argv, unsigned timeout)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);

	if (n_run == 0) {
		struct stat st;
		say("KVM-HOST: /dev/kvm %s", stat("/dev/kvm", &st) == 0 ? "present" : "absent");
	}
	n_run++;
	say("KVM-HOST: begin %u %s (timeout %u s)", n_run, argv[0], timeout);
	double t0 = now_s();

	pid_t pid = fork();
	if (pid < 0) {
		say("KVM-HOST: end %u %s: FAIL (fork: %s)", n_run, argv[0], strerror(errno));
		n_failed++;
		return;
	}
	if (pid == 0) {
		setpgid(0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
			if (nul != STDIN_FILENO)
				close(nul);
		}
		if (chdir(cwd) < 0)
			fprintf(stderr, "KVM-HOST: chdir %s: %s\n", cwd, strerror(errno));
		execve(argv[0], argv, test_env);
		fprintf(stderr, "KVM-HOST: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* either side may win the race; both set the same */

	int status = 0, timed_out = 0;
	for (;;) {
		int st;
		pid_t w;
		int done = 0;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w == pid) {
				status = st;
				done = 1;
			}
		}
		if (done)
			break;
		double left = timeout ? t0 + timeout - now_s() : 1.0;
		if (left <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			status = st;
			break;
		}
		if (left > 1.0)
			left = 1.0;
		struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
		sigtimedwait(&chld, NULL, &ts);
	}
	/* Whatever the test left behind in its process group goes too. */
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	double dt = now_s() - t0;
	char why[96];
	int pass = 0;
	if (timed_out)
		snprintf(why, sizeof(why), "timeout after %u s", timeout);
	else if (WIFEXITED(status)) {
		pass = WEXITSTATUS(status) == 0;
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "wait status 0x%x", (unsigned)status);
	if (pass)
		n_passed++;
	else
		n_failed++;
	say("KVM-HOST: end %u %s: %s (%s) %.2f s", n_run, argv[0], pass ? "PASS" : "FAIL", why, dt);
}

/* --- the two ways of finding tests ------------------------------------- */

static void run_manifest(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		char *fld[MAX_FIELDS + 1];
		int n = split_fields(line, fld, MAX_FIELDS);
		fld[n] = NULL;
		if (strcmp(fld[0], "env") == 0 && n == 2) {
			env_set(fld[1]);
		} else if (strcmp(fld[0], "cwd") == 0 && n == 2) {
			snprintf(cwd, sizeof(cwd), "%s", fld[1]);
		} else if (strcmp(fld[0], "module") == 0 && n == 2) {
			if (load_module(fld[1]) < 0)
				n_failed++; /* a rig that cannot load KVM must not pass */
		} else if (strcmp(fld[0], "test") == 0 && n >= 3) {
			char *end;
			unsigned long t = strtoul(fld[1], &end, 10);
			if (*end || t > 1000000) {
				say("KVM-HOST: manifest line %u: bad timeout '%s'", lineno, fld[1]);
				n_failed++;
				continue;
			}
			run_test(&fld[2], (unsigned)t);
		} else {
			say("KVM-HOST: manifest line %u: cannot parse record '%s' (%d fields)",
			    lineno, fld[0], n);
			n_failed++;
		}
	}
	free(line);
}

static unsigned cmdline_timeout(void)
{
	unsigned t = DEFAULT_TIMEOUT;
	char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return t;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return t;
	buf[n] = '\0';
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strncmp(tok, "kvmhost.timeout=", 16) == 0)
			t = (unsigned)strtoul(tok + 16, NULL, 10);
	return t;
}

static int is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static void run_directory(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		say("KVM-HOST: no %s and no %s: nothing to run", MANIFEST, dir);
		return;
	}
	unsigned timeout = cmdline_timeout();
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && is_executable_file(path)) {
			char *argv[2] = { path, NULL };
			run_test(argv, timeout);
		}
		free(ents[i]);
	}
	free(ents);
}

/* ------------------------------------------------------------------------ */

int main(void)
{
	setup_console();
	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	/* No tmpfs on /tmp: the initramfs root is already writable RAM, and test
	 * files mirrored from a host /tmp path must stay visible. */
	mkdir("/tmp", 01777);

	/* SIGCHLD stays blocked in init so that sigtimedwait can wait for it. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	env_set("PATH=/usr/bin:/bin:/tests");
	env_set("HOME=/");
	env_set("TERM=dumb");
	env_set("LIBHYP_KVM_HOST=1");

	struct utsname u;
	char up[64] = "?";
	int ufd = open("/proc/uptime", O_RDONLY);
	if (ufd >= 0) {
		ssize_t n = read(ufd, up, sizeof(up) - 1);
		up[n > 0 ? n : 0] = '\0';
		up[strcspn(up, " \n")] = '\0';
		close(ufd);
	}
	if (uname(&u) == 0)
		say("KVM-HOST: kernel %s %s, /init started at %s s uptime", u.release, u.machine,
		    up);

	FILE *f = fopen(MANIFEST, "re");
	if (f) {
		run_manifest(f);
		fclose(f);
	} else {
		run_directory(TEST_DIR);
	}
	if (n_run == 0) {
		say("KVM-HOST: no test was run");
		n_failed++;
	}

	sync();
	say("KVM-HOST-RESULT: %u failed, %u passed", n_failed, n_passed);
	reboot(RB_POWER_OFF);
	say("KVM-HOST: reboot(RB_POWER_OFF): %s", strerror(errno));
	for (;;)
		pause();
}
