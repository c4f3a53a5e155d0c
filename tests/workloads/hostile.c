// SPDX-License-Identifier: MIT
/*
 * A process that attacks its profiler, for kiln's integration tests. It
 * runs as an unprivileged user and burns CPU in hostile_spin() for SECONDS
 * with a FIFO at /tmp/perf-PID.map and an anonymous executable mapping (so
 * the profiler looks for JIT symbols there); then it renames its own binary,
 * puts a FIFO at the old path and exits, so a profiler that opens the
 * binary by path after the exit opens the FIFO.
 * Usage: hostile SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void hostile_spin(double secs)
{
	for (double end = now() + secs; now() < end;)
		for (int i = 0; i < 10000; i++)
			sink += i ^ (sink >> 3);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.05;
	char map[64], moved[4096];
	void *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (code == MAP_FAILED)
		return 1;
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", getpid());
	unlink(map);
	if (mkfifo(map, 0666))
		perror(map);
	hostile_spin(secs);
	snprintf(moved, sizeof(moved), "%s.moved", argv[0]);
	if (rename(argv[0], moved) || mkfifo(argv[0], 0666))
		perror(argv[0]);
	return 0;
}
