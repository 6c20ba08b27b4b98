package deflate

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSmallWrites is the write path of a busy IMAP session: one
// sync-flushed response of about 100 octets per Write, with and without
// the ParkAfter timer (reset by every Write; it never fires here).
func BenchmarkSmallWrites(b *testing.B) {
	for _, level := range []int{1, 6} {
		for _, after := range []time.Duration{0, 500 * time.Millisecond} {
			b.Run(fmt.Sprintf("level%d/parkafter=%v", level, after), func(b *testing.B) {
				benchSmallWrites(b, level, after)
			})
		}
	}
}

func benchSmallWrites(b *testing.B, level int, after time.Duration) {
	c, err := NewConn(fakeConn{}, Options{Level: level, ParkAfter: after, Pool: &WriterPool{}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	resp := []byte("* 12 FETCH (UID 1234 FLAGS (\\Seen \\Answered) MODSEQ (98765))\r\nA0042 OK FETCH completed\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(resp)))
	for b.Loop() {
		if _, err := c.Write(resp); err != nil {
			b.Fatal(err)
		}
	}
}
