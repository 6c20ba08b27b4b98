package imapserver

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"
)

// TestRespWriterNum checks the decimal writer against strconv, with the
// buffer roomy and nearly full (strconv's path), across flushes.
func TestRespWriterNum(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 4711, 65535, 1 << 31,
		math.MaxUint32, math.MaxUint32 + 1, 1e19 - 1, 1e19, math.MaxUint64}
	for _, size := range []int{16, 21, 25, 64, 4096} {
		var out bytes.Buffer
		w := respWriter{Writer: bufio.NewWriterSize(&out, size)}
		var want []byte
		for i := 0; i < 3; i++ {
			for _, v := range vals {
				w.num64(v)
				w.sp()
				want = strconv.AppendUint(want, v, 10)
				want = append(want, ' ')
				if v <= math.MaxUint32 {
					w.num(uint32(v))
					w.sp()
					want = strconv.AppendUint(want, v, 10)
					want = append(want, ' ')
				}
			}
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("buffer %d:\n got %s\nwant %s", size, out.Bytes(), want)
		}
	}
}

// TestRespWriterDateTime checks the INTERNALDATE writer against
// time.AppendFormat, in odd zones and years too.
func TestRespWriterDateTime(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		ams = time.FixedZone("LMT", 1172)
	}
	zones := []*time.Location{time.UTC, ams, time.FixedZone("", -5*3600), time.FixedZone("", 5*3600+1800),
		time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("", -30), time.FixedZone("", 59),
		time.FixedZone("", -5399), time.FixedZone("", 13*3600+45*60), time.FixedZone("", 99*3600+59*60),
		time.FixedZone("", 100*3600), time.FixedZone("", -100*3600)}
	times := []time.Time{
		time.Date(2024, 1, 7, 3, 4, 5, 0, time.UTC), time.Date(1900, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(999, 6, 15, 1, 2, 3, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), {},
	}
	for i := range 200 {
		times = append(times, time.Unix(int64(i)*7919*3613, 0))
	}
	for _, size := range []int{16, 29, 4096} {
		var out bytes.Buffer
		w := respWriter{Writer: bufio.NewWriterSize(&out, size)}
		var want []byte
		for _, tm := range times {
			for _, z := range zones {
				w.dateTime(tm.In(z))
				want = append(want, '"')
				want = append(tm.In(z).AppendFormat(want, "02-Jan-2006 15:04:05 -0700"), '"')
			}
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), want) {
			g, e := out.Bytes(), want
			for i := range min(len(g), len(e)) {
				if g[i] != e[i] {
					lo := max(0, i-40)
					t.Fatalf("buffer %d: at %d got %q want %q", size, i, g[lo:min(len(g), i+20)], e[lo:min(len(e), i+20)])
				}
			}
			t.Fatalf("buffer %d: lengths %d %d", size, len(g), len(e))
		}
	}
}
