package deflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// fakeConn serves fixed bytes as its input and discards output.
type fakeConn struct {
	net.Conn
	r io.Reader
}

func (c fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c fakeConn) Close() error                     { return nil }
func (c fakeConn) SetWriteDeadline(time.Time) error { return nil }

// A decompression bomb (16 MiB of zeros in about 16 KiB) costs the reader
// CPU but no memory beyond the fixed window and buffers.
func TestInflationIsBounded(t *testing.T) {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 16 {
		fw.Write(zeros)
	}
	fw.Close()
	zeros = nil
	c, err := NewConn(fakeConn{r: bytes.NewReader(comp.Bytes())}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 4096))
	runtime.ReadMemStats(&after)
	if err != nil || n != 16<<20 {
		t.Fatalf("read %d, %v", n, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("inflating 16 MiB allocated %d bytes", grew)
	}
}

// FuzzRead feeds arbitrary bytes as the compressed stream: the reader must
// return data or an error, never panic or hang.
func FuzzRead(f *testing.F) {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, 1)
	fw.Write([]byte("* OK IMAP4rev2 ready\r\n"))
	fw.Flush()
	f.Add(comp.Bytes())
	f.Add([]byte{0, 0, 0, 0xff, 0xff})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := NewConn(fakeConn{r: bytes.NewReader(data)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(io.LimitReader(c, 1<<20))
		io.Copy(io.Discard, br)
	})
}
