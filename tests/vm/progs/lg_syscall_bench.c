// SPDX-License-Identifier: GPL-2.0
/*
 * lg_syscall_bench N [FILE]: nanoseconds per getpid() over N calls, or, with
 * FILE, per open+read+close of FILE (the user-visible cost of a patched
 * /proc/cmdline).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	char buf[4096];
	long long t0;
	long i;

	if (n <= 0)
		return 2;
	t0 = now();
	for (i = 0; i < n; i++) {
		if (argc > 2) {
			int fd = open(argv[2], O_RDONLY);

			if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
				return 1;
			close(fd);
		} else {
			syscall(SYS_getpid);
		}
	}
	printf("%.1f\n", (double)(now() - t0) / n);
	return 0;
}
