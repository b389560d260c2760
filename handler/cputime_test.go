//go:build unix

package handler_test

import "syscall"

// cpuTime is the CPU time the process has used, in nanoseconds: on a
// shared machine it counts only what the benchmark itself spent, where
// ns/op also counts the time other processes held the cores.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
