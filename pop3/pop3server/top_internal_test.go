package pop3server

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestCopyTop(t *testing.T) {
	long := strings.Repeat("x", 40000)
	tests := []struct {
		msg  string
		n    int
		want string
	}{
		{"A: 1\r\n\r\nb1\r\nb2\r\n", 0, "A: 1\r\n\r\n"},
		{"A: 1\r\n\r\nb1\r\nb2\r\n", 1, "A: 1\r\n\r\nb1\r\n"},
		{"A: 1\r\n\r\nb1\r\nb2\r\n", 5, "A: 1\r\n\r\nb1\r\nb2\r\n"},
		{"A: 1\n\nb1\nb2\n", 1, "A: 1\n\nb1\n"},
		// No body at all: the whole message is header.
		{"A: 1\r\nB: 2\r\n", 3, "A: 1\r\nB: 2\r\n"},
		// No final line end.
		{"A: 1\r\n\r\nb1", 3, "A: 1\r\n\r\nb1"},
		// A long header line whose piece ends right before its LF is not
		// the blank separator line.
		{"A: " + long + "\r\n\r\nb1\r\n", 0, "A: " + long + "\r\n\r\n"},
		{"A: " + long[:16384-3] + "\n\nb1\nb2\n", 1, "A: " + long[:16384-3] + "\n\nb1\n"},
	}
	for i, tt := range tests {
		var out bytes.Buffer
		if err := copyTop(&out, bufio.NewReaderSize(strings.NewReader(tt.msg), 16*1024), tt.n); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("%d: TOP %d = %.60q, want %.60q", i, tt.n, out.String(), tt.want)
		}
	}
}
