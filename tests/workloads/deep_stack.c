// SPDX-License-Identifier: MIT
/*
 * A stack deeper than kiln's 127-frame limit, sampled both in user mode and
 * inside system calls: main;deep x DEPTH;spin (a busy loop) and
 * main;deep x DEPTH;in_kernel;read() of /dev/zero (the kernel clears the
 * buffer: kernel frames on top of the whole user stack). So the largest
 * records the sampler can get (127 user frames, plus kernel frames) are
 * frequent, and a record whose frames and lengths disagree shows as a
 * stack that is not 127 frames of this program.
 *
 * Usage: deep_stack SECONDS [DEPTH]   (DEPTH default 200)
 */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define BARRIER() __asm__ volatile("" ::: "memory")

static volatile unsigned long sink;
static double deadline;
static int zero_fd;
static char buf[1 << 20];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void spin(void)
{
	for (unsigned long i = 0; i < 2000000UL; i++)
		sink += i ^ (sink >> 3);
	BARRIER();
}

__attribute__((noinline)) void in_kernel(void)
{
	for (int i = 0; i < 64; i++)
		if (read(zero_fd, buf, sizeof(buf)) < 0)
			exit(1);
	BARRIER();
}

__attribute__((noinline)) unsigned long deep(int depth)
{
	unsigned long r;

	if (depth == 0) {
		while (now() < deadline) {
			spin();
			in_kernel();
		}
		return sink;
	}
	r = deep(depth - 1) + 1;
	BARRIER();
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	zero_fd = open("/dev/zero", O_RDONLY);
	if (zero_fd < 0)
		return 1;
	deadline = now() + atof(argv[1]);
	return deep(argc > 2 ? atoi(argv[2]) : 200) == 0;
}
