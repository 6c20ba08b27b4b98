//go:build linux

package lineio

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDotReaderSpeed compares the DotReader with a plain ReadSlice loop on
// the 1 MiB body of BenchmarkDotDecode by the CPU time of this thread, the
// two taking turns, so that a busy machine (other test binaries on the same
// cores) does not skew the comparison as it skews wall-clock benchmarks.
// Run with POSTHORN_SPEED=1 go test -run DotReaderSpeed -v ./internal/lineio.
func TestDotReaderSpeed(t *testing.T) {
	if os.Getenv("POSTHORN_SPEED") == "" {
		t.Skip("set POSTHORN_SPEED=1 to compare speeds")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_, wire := body1MiB()
	src := bytes.NewReader(wire)
	br := bufio.NewReader(src)
	buf := make([]byte, 32*1024)
	reset := func() { src.Reset(wire); br.Reset(src) }
	cases := []struct {
		name string
		f    func()
	}{
		{"DotReader.Read into 32 KiB", func() {
			reset()
			d := NewDotReader(br, DotOptions{})
			for {
				if _, err := d.Read(buf); err != nil {
					return
				}
			}
		}},
		{"ReadSlice + copy into 32 KiB", func() {
			reset()
			n := 0
			for {
				line, _ := br.ReadSlice('\n')
				if len(line) > 0 && line[0] == '.' {
					if len(line) == 3 && line[1] == '\r' {
						return
					}
					line = line[1:]
				}
				if n+len(line) > len(buf) {
					n = 0
				}
				n += copy(buf[n:], line)
			}
		}},
		{"textproto.DotReader into 32 KiB", func() {
			reset()
			d := textproto.NewReader(br).DotReader()
			for {
				if _, err := d.Read(buf); err != nil {
					return
				}
			}
		}},
		{"DotReader.WriteTo io.Discard", func() {
			reset()
			NewDotReader(br, DotOptions{}).WriteTo(io.Discard)
		}},
		{"ReadSlice + Write io.Discard", func() {
			reset()
			for {
				line, _ := br.ReadSlice('\n')
				if len(line) > 0 && line[0] == '.' {
					if len(line) == 3 && line[1] == '\r' {
						return
					}
					line = line[1:]
				}
				io.Discard.Write(line)
			}
		}},
	}
	const rounds, per = 40, 25
	spent := make([]time.Duration, len(cases))
	for range rounds {
		for i, c := range cases {
			start := threadCPU()
			for range per {
				c.f()
			}
			spent[i] += threadCPU() - start
		}
	}
	for i, c := range cases {
		op := spent[i] / (rounds * per)
		t.Logf("%-32s %10v/op %7.0f MB/s", c.name, op, float64(len(wire))/op.Seconds()/1e6)
	}
	t.Logf("Read/ReadSlice %.3f, Read/textproto %.3f, WriteTo/ReadSlice+Write %.3f",
		float64(spent[0])/float64(spent[1]), float64(spent[0])/float64(spent[2]), float64(spent[3])/float64(spent[4]))
}
