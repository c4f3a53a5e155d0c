// SPDX-License-Identifier: MIT
/*
 * A C++ workload whose hot functions have mangled names of every shape
 * kiln must demangle: a namespace, a class template's member, an
 * operator, a lambda, and two functions carrying Rust symbol names (v0 and
 * legacy) through asm labels, so no rustc is needed. Each burns CPU in its
 * own body (no shared helper), so each is a leaf in the profile.
 * Usage: names_cpp SECONDS
 */
#include <cstdlib>
#include <ctime>

static volatile unsigned long sink;

#define BURN(n)                                                                \
	for (unsigned long i_ = 0; i_ < (n)*100000UL; i_++)                    \
	sink += i_ ^ (sink >> 3)

namespace kiln_fix
{
template <typename T> struct Grid {
	T cells[4];
	__attribute__((noinline)) T sum(int rounds) const
	{
		BURN(3);
		return cells[rounds & 3];
	}
	__attribute__((noinline)) T &operator[](unsigned long i)
	{
		BURN(2);
		return cells[i & 3];
	}
};

__attribute__((noinline)) void spin_plain(int n)
{
	BURN(n);
}
} // namespace kiln_fix

/* Rust names: v0 "mycrate::hot_v0" and legacy "mycrate::hot_legacy". */
extern "C" __attribute__((noinline)) void rust_v0(void) __asm__(
    "_RNvCs1234_7mycrate6hot_v0");
extern "C" __attribute__((noinline)) void rust_legacy(void) __asm__(
    "_ZN7mycrate10hot_legacy17h0123456789abcdefE");
extern "C" void rust_v0(void)
{
	BURN(2);
}
extern "C" void rust_legacy(void)
{
	BURN(2);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	struct timespec start, now;
	kiln_fix::Grid<long> g = {{1, 2, 3, 4}};
	auto lambda = [](int n) __attribute__((noinline))
	{
		BURN(n);
	};

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		g.sum(1);
		g[2] = 5;
		kiln_fix::spin_plain(2);
		lambda(2);
		rust_v0();
		rust_legacy();
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec +
		     (now.tv_nsec - start.tv_nsec) / 1e9 <
		 secs);
	return (int)(sink & 1);
}
