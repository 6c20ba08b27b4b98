//go:build unix

package imapserver

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user and system) the process used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the process's CPU time per op and per unit (msgs)
// since start: on a loaded machine a steadier figure than wall time.
// Exported for the external test package.
func ReportCPU(b *testing.B, start time.Duration, perOp int) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N*perOp), "cpu-ns/msg")
}

// CPUNow is processCPU, for the external test package.
func CPUNow() time.Duration { return processCPU() }
