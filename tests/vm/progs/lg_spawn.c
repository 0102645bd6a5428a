// SPDX-License-Identifier: GPL-2.0
/*
 * lg_spawn N [getpid]: start N tasks in mixed states for the transition
 * benchmarks: busy in user space, in a tight getpid() loop, blocked in read()
 * on a pipe, and asleep in nanosleep(), in turn (with "getpid": all N in
 * getpid() loops). Children die with the parent; the
 * parent prints "ready" once all are started and sleeps until killed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	int all_getpid = argc > 2 && !strcmp(argv[2], "getpid");
	int fds[2], go[2];
	int i;

	/* Children wait on "go" until all are forked: forking 1000 tasks while
	 * the first ones already spin would take minutes under emulation. */
	if (pipe(fds) || pipe(go))
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
		close(go[1]);
		{
			char c;

			while (read(go[0], &c, 1) > 0)
				;
		}
		switch (all_getpid ? 1 : i % 4) {
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
	close(go[1]);	/* EOF on "go": every child starts its role */
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
