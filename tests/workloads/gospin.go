// SPDX-License-Identifier: MIT
// A Go workload for kiln's name tests: two hot functions, one of them
// calling a small function the compiler inlines. Built by the tests with
// and without -ldflags="-s -w"; both must symbolize the same.
// Usage: gospin SECONDS
package main

import (
	"os"
	"strconv"
	"time"
)

var sink uint64

//go:noinline
func spinA(n int) {
	for i := 0; i < n; i++ {
		sink ^= uint64(i) * 2654435761
		sink += sink >> 7
	}
}

// small is inlined into spinB.
func small(x uint64) uint64 {
	return x*31 + (x >> 3)
}

//go:noinline
func spinB(n int) {
	for i := 0; i < n; i++ {
		sink = small(sink + uint64(i))
	}
}

func main() {
	secs, _ := strconv.ParseFloat(os.Args[1], 64)
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	for time.Now().Before(end) {
		spinA(200000)
		spinB(200000)
	}
}
