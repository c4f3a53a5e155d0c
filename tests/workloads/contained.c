// SPDX-License-Identifier: MIT
/*
 * A process in a container that points its profiler at a host file: it
 * burns CPU in spin_here() for SECONDS; then, if given a path, it replaces
 * its own binary with a symlink to that path (an absolute path that means
 * nothing inside the container but names a host file outside) and exits.
 * Built static, so it runs in an empty chroot.
 * Usage: contained SECONDS [SYMLINK_TARGET]
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void spin_here(double secs)
{
	for (double end = now() + secs; now() < end;)
		for (int i = 0; i < 10000; i++)
			sink += i ^ (sink >> 3);
}

int main(int argc, char **argv)
{
	spin_here(argc > 1 ? atof(argv[1]) : 1);
	if (argc > 2 && (unlink(argv[0]) || symlink(argv[2], argv[0])))
		return 1;
	return 0;
}
