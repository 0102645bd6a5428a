// SPDX-License-Identifier: GPL-2.0
/*
 * lg_poll SECONDS: sleep in poll() with no descriptors for SECONDS (the
 * kernel sleeps in schedule_hrtimeout_range_clock()). Prints "polling"
 * before and "poll rc=N" after; a nudge restarts the call transparently.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 100;
	long rc;

	printf("polling\n");
	fflush(stdout);
	rc = syscall(SYS_poll, NULL, 0, secs * 1000);
	printf("poll rc=%ld\n", rc);
	return 0;
}
