// SPDX-License-Identifier: MIT
/*
 * A stand-in for a JIT runtime, for kiln's integration tests: copies a
 * spin loop into anonymous executable memory, announces it in
 * /tmp/perf-PID.map as "jit_spin" (perf's JIT map convention) and runs it.
 * x86-64 only. Usage: fake_jit SECONDS [MAP_DELAY]: with MAP_DELAY, the
 * map is written only after that many seconds of running (a map that
 * appears late).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* mov $0x4000000, %rcx; 1: dec %rcx; jnz 1b; ret */
static const unsigned char spin_code[] = {0x48, 0xc7, 0xc1, 0x00, 0x00,
					  0x00, 0x04, 0x48, 0xff, 0xc9,
					  0x75, 0xfb, 0xc3};

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	double delay = argc > 2 ? atof(argv[2]) : 0, t = 0;
	struct timespec start, now;
	char path[64];
	FILE *f;
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (code == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(code, spin_code, sizeof(spin_code));
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	void (*spin)(void) = (void (*)(void))code;
	bool written = false;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (!written && t >= delay) {
			f = fopen(path, "w");
			if (!f) {
				perror(path);
				return 1;
			}
			fprintf(f, "%lx %zx jit_spin\n", (unsigned long)code,
				sizeof(spin_code));
			fclose(f);
			written = true;
		}
		spin();
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = (double)(now.tv_sec - start.tv_sec) +
		    (now.tv_nsec - start.tv_nsec) / 1e9;
	} while (t < secs);
	unlink(path);
	return 0;
}
