// SPDX-License-Identifier: MIT
/*
 * Forks N short-lived children one after another (each exits at once), then
 * one last child named "late_child" that burns CPU for S seconds. With
 * --pid on this process, the last child must still be sampled: the BPF pid
 * set has to forget children as they exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	double secs = argc > 2 ? atof(argv[2]) : 1.5, end;
	volatile unsigned long x = 0;
	pid_t pid;

	sleep(1); /* let the recorder start */
	for (long i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "late_child");
		for (end = now() + secs; now() < end;)
			x++;
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	return 0;
}
