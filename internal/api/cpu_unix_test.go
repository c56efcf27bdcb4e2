//go:build unix

package api_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system: a
// request's cost that, unlike its latency, other load on a shared machine
// barely moves.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
