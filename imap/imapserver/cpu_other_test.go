//go:build !unix

package imapserver

import (
	"testing"
	"time"
)

// ReportCPU reports nothing where the process's CPU time is not known.
func ReportCPU(b *testing.B, start time.Duration, perOp int) {}

// CPUNow returns 0 where the process's CPU time is not known.
func CPUNow() time.Duration { return 0 }
