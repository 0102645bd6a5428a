// SPDX-License-Identifier: GPL-2.0
/*
 * lg_spawn N: start N tasks in mixed states for the transition benchmarks:
 * busy in user space, in a tight getpid() loop, blocked in read() on a pipe,
 * and asleep in nanosleep(), in turn. Children die with the parent; the
 * parent prints "ready" and sleeps until killed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	int fds[2];
	int i;

	if (pipe(fds))
		return 1;
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid)
			continue;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		switch (i % 4) {
		case 0:
			for (;;)
				__asm__ volatile("" ::: "memory");
		case 1:
			for (;;)
				syscall(SYS_getpid);
		case 2: {
			char c;

			for (;;)
				if (read(fds[0], &c, 1) <= 0)
					pause();
		}
		default: {
			struct timespec ts = { 1000, 0 };

			for (;;)
				nanosleep(&ts, NULL);
		}
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
