// SPDX-License-Identifier: GPL-2.0
/*
 * lg_failnth N OP ARGS: run one operation with the Nth fault-injectable
 * allocation of this thread failing (Documentation/fault-injection/
 * fault-injection.rst, "fail-nth"), then say whether the fault was injected:
 *
 *   lg_failnth N insmod FILE [PARAMS]   finit_module(FILE, PARAMS)
 *   lg_failnth N write PATH STRING      one write(2) of STRING to PATH
 *   lg_failnth N forkunit PATH          fork(); the child writes "unit" to
 *                                       PATH (a unit of work of lg_target)
 *
 * N counts every allocation the operation makes in this thread (the module
 * loader's, the VFS's, livegraft's), so a loop over N = 1, 2, ... fails
 * each of them in turn; it ends when "injected=0": the operation made fewer
 * than N allocations. Prints one line:
 *
 *   injected=0|1 rc=R errno=E (strerror)[ allocations=K]
 *
 * where K, when the fault was not injected, is how many allocations the
 * operation made (run it with a large N to count them).
 * Exit status: 0 whatever the operation returned (the caller checks the
 * line), 2 on a usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail_nth_fd;

static void set_fail_nth(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(fail_nth_fd, buf, len, 0) != len) {
		perror("lg_failnth: write fail-nth");
		exit(2);
	}
}

/* What is left of the counter: 0 if the fault was injected. */
static unsigned int left(void)
{
	char buf[16] = "";

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) <= 0) {
		perror("lg_failnth: read fail-nth");
		exit(2);
	}
	return strtoul(buf, NULL, 10);
}

int main(int argc, char **argv)
{
	unsigned int n, rest;
	long rc;
	int err, fd, status;
	pid_t child = -1;

	if (argc < 4) {
		fprintf(stderr, "usage: lg_failnth N insmod FILE [PARAMS] | N write PATH STRING | N forkunit PATH\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 0);
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_nth_fd < 0) {
		perror("lg_failnth: /proc/thread-self/fail-nth");
		return 2;
	}
	if (!strcmp(argv[2], "insmod")) {
		fd = open(argv[3], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[3]);
			return 2;
		}
		set_fail_nth(n);
		rc = syscall(SYS_finit_module, fd, argc > 4 ? argv[4] : "", 0);
		err = errno;
	} else if (!strcmp(argv[2], "write") && argc == 5) {
		fd = open(argv[3], O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[3]);
			return 2;
		}
		set_fail_nth(n);
		rc = write(fd, argv[4], strlen(argv[4]));
		err = errno;
	} else if (!strcmp(argv[2], "forkunit")) {
		set_fail_nth(n);
		child = fork();
		err = errno;
		rc = child < 0 ? -1 : 0;
		if (child == 0) {
			fd = open(argv[3], O_WRONLY);
			if (fd < 0 || write(fd, "unit", 4) != 4)
				_exit(1);
			_exit(0);
		}
	} else {
		fprintf(stderr, "lg_failnth: unknown operation %s\n", argv[2]);
		return 2;
	}
	rest = left();
	set_fail_nth(0);
	if (!strcmp(argv[2], "forkunit") && rc == 0) {
		if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "lg_failnth: the child's unit failed\n");
			return 2;
		}
	}
	printf("injected=%d rc=%ld errno=%d (%s)", rest == 0, rc, rc < 0 ? err : 0, rc < 0 ? strerror(err) : "ok");
	if (rest)
		printf(" allocations=%u", n - rest);
	printf("\n");
	return 0;
}
