// SPDX-License-Identifier: MIT
/*
 * Workloads with known stacks for kiln's unwinding tests, built at test
 * time without frame pointers (gcc -O2 -fomit-frame-pointer), as PIE and
 * non-PIE. Every function is noinline and does something after its call,
 * so no call becomes a tail call and the chain in the source is the chain
 * on the stack.
 *
 * Usage: unwind MODE SECONDS
 *   chain    main;run_chain;chain_a;chain_b;leaf 60% and main;run_chain;
 *            chain_c;leaf 40%
 *   recurse  main;recurse x 120;leaf
 *   plt      main;call_lib;unwind_lib_work;lib_leaf (a shared library
 *            without frame pointers, called through the PLT)
 *   alloca   main;with_alloca;leaf (a variable-size frame: CFA from rbp)
 *   signal   main;send_signals;...libc...;[signal frame];on_signal;leaf
 *   thread   thread_main;leaf on another thread (ends at clone3)
 */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BARRIER() __asm__ volatile("" ::: "memory")

void unwind_lib_work(unsigned long n);

static volatile unsigned long sink;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void leaf(unsigned long units)
{
	for (unsigned long i = 0; i < units * 100000UL; i++)
		sink += i ^ (sink >> 3);
	BARRIER();
}

__attribute__((noinline)) void chain_b(void)
{
	leaf(3);
	BARRIER();
}

__attribute__((noinline)) void chain_a(void)
{
	chain_b();
	BARRIER();
}

__attribute__((noinline)) void chain_c(void)
{
	leaf(2);
	BARRIER();
}

__attribute__((noinline)) void run_chain(void)
{
	while (now() < deadline) {
		chain_a();
		chain_c();
	}
	BARRIER();
}

__attribute__((noinline)) unsigned long recurse(int depth)
{
	unsigned long r;

	if (depth == 0) {
		leaf(1);
		return sink;
	}
	r = recurse(depth - 1) + 1;
	BARRIER();
	return r;
}

__attribute__((noinline)) void call_lib(void)
{
	unwind_lib_work(300000);
	BARRIER();
}

__attribute__((noinline)) void with_alloca(unsigned long n)
{
	volatile char *buf = alloca(n);

	buf[0] = 1;
	buf[n - 1] = 2;
	leaf(1);
	BARRIER();
	sink += buf[0];
}

__attribute__((noinline)) static void on_signal(int sig)
{
	(void)sig;
	leaf(2);
	BARRIER();
}

__attribute__((noinline)) void send_signals(void)
{
	while (now() < deadline) {
		kill(getpid(), SIGUSR1);
		BARRIER();
	}
}

__attribute__((noinline)) static void *thread_main(void *arg)
{
	(void)arg;
	while (now() < deadline)
		leaf(1);
	BARRIER();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "chain";
	double secs = argc > 2 ? atof(argv[2]) : 5;

	deadline = now() + secs;
	if (!strcmp(mode, "chain")) {
		run_chain();
	} else if (!strcmp(mode, "recurse")) {
		while (now() < deadline)
			recurse(120);
	} else if (!strcmp(mode, "plt")) {
		while (now() < deadline)
			call_lib();
	} else if (!strcmp(mode, "alloca")) {
		unsigned long n = 16;

		while (now() < deadline) {
			with_alloca(n);
			n = n % 4000 + 24;
		}
	} else if (!strcmp(mode, "signal")) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGUSR1, &sa, NULL);
		send_signals();
	} else if (!strcmp(mode, "thread")) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_main, NULL))
			return 1;
		pthread_join(t, NULL);
	} else {
		fprintf(stderr, "unknown mode '%s'\n", mode);
		return 2;
	}
	printf("%lu\n", sink & 1);
	return 0;
}
