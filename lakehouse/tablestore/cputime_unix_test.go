//go:build unix

package tablestore

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used,
// all threads included, and true; false where it is not available.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
