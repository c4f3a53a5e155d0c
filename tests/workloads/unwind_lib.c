// SPDX-License-Identifier: MIT
/*
 * A shared library for tests/workloads/unwind.c, built without frame
 * pointers: the workload calls into it through the PLT.
 */
volatile unsigned long unwind_lib_sink;

__attribute__((noinline)) static void lib_leaf(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		unwind_lib_sink += i ^ (unwind_lib_sink >> 3);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void unwind_lib_work(unsigned long n)
{
	lib_leaf(n);
	__asm__ volatile("" ::: "memory");
}
