// SPDX-License-Identifier: GPL-2.0
/*
 * Time a live-patch transition from user space, for tools/bench.sh.
 *   lg_transition_time enable <module.ko> <patch sysfs dir>
 *     clock starts before finit_module() (upstream makes its first completion
 *     attempt inside insmod), stops when <dir>/transition reads 0.
 *   lg_transition_time load <module.ko>
 *     times finit_module() alone (a module that patches nothing: the floor
 *     that module loading sets under the same load).
 *   lg_transition_time disable <patch sysfs dir>
 *     clock starts before writing 0 to <dir>/enabled, stops when <dir> is gone
 *     (both systems remove it when unpatching completes).
 * Prints the elapsed nanoseconds.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int read_char(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c;
}

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	char path[512];
	long long t0, deadline;
	struct stat st;
	int fd;

	if (argc == 4 && !strcmp(argv[1], "enable")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/transition", argv[3]);
		t0 = now();
		if (syscall(SYS_finit_module, fd, "", 0)) {
			perror("finit_module");
			return 1;
		}
		deadline = t0 + 120 * 1000000000LL;
		while (read_char(path) != '0') {
			if (now() > deadline) {
				fprintf(stderr, "timeout\n");
				return 1;
			}
			pause_us(100);
		}
	} else if (argc == 3 && !strcmp(argv[1], "load")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		t0 = now();
		if (syscall(SYS_finit_module, fd, "", 0)) {
			perror("finit_module");
			return 1;
		}
	} else if (argc == 3 && !strcmp(argv[1], "disable")) {
		snprintf(path, sizeof(path), "%s/enabled", argv[2]);
		fd = open(path, O_WRONLY);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		t0 = now();
		if (write(fd, "0", 1) != 1) {
			perror("write enabled");
			return 1;
		}
		close(fd);
		deadline = t0 + 120 * 1000000000LL;
		while (stat(argv[2], &st) == 0) {
			if (now() > deadline) {
				fprintf(stderr, "timeout\n");
				return 1;
			}
			pause_us(100);
		}
	} else {
		fprintf(stderr, "usage: %s enable KO DIR | load KO | disable DIR\n", argv[0]);
		return 2;
	}
	printf("%lld\n", now() - t0);
	return 0;
}
