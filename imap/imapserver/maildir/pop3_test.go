package maildir

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/pop3/pop3server"
	"github.com/posthorn/posthorn/sasl"
)

// TestPOP3RetrOverMaildir: RETR and TOP over the store send each message
// with CRLF line ends and dot-stuffed, of exactly LIST's size, whether
// its file keeps LF (streamed through crlfReader), mixes bare CRs in, or
// is another writer's CRLF file served raw.
func TestPOP3RetrOverMaildir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	defer s.Close()
	msgs := []string{
		"Subject: one\n\n.dot line\nbody\n..two dots\n.\nend",
		"Subject: two\r\n\r\nbare\rCR and a\nbare LF\r\n.x\r\n",
	}
	for _, m := range msgs {
		if _, err := s.Deliver(ctx, "alice", strings.NewReader(m)); err != nil {
			t.Fatal(err)
		}
	}
	other := "Subject: three\r\n\r\n.raw\r\n"
	os.WriteFile(filepath.Join(dir, "alice", "new", "1700000000.other.host"), []byte(other), 0o600)
	mixed := "Subject: four\n\n.mixed\rline\r\n.\rend\n"
	os.WriteFile(filepath.Join(dir, "alice", "new", "1700000001.mixed.host"), []byte(mixed), 0o600)
	msgs = append(msgs, other, mixed)

	srv := &pop3server.Server{Backend: pop3server.NewStoreBackend(s), Auth: &sasl.Registry{Credentials: s}, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	line := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	multi := func() string {
		var b strings.Builder
		for {
			l := line()
			if l == ".\r\n" {
				return b.String()
			}
			b.WriteString(l)
		}
	}
	cmd := func(s string) string {
		fmt.Fprintf(c, "%s\r\n", s)
		return line()
	}
	line() // greeting
	cmd("USER alice")
	if r := cmd("PASS secret"); !strings.HasPrefix(r, "+OK") {
		t.Fatal(r)
	}
	cmd("LIST")
	list := multi()
	for i, m := range msgs {
		// What the wire must carry: CRLF line ends, dot-stuffed, and a
		// final CRLF before the end of data.
		want := string(toCRLF([]byte(m)))
		size := len(want)
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		want = strings.ReplaceAll("\n"+want, "\n.", "\n..")[1:]
		if !strings.Contains(list, fmt.Sprintf("%d %d\r\n", i+1, size)) {
			t.Errorf("LIST %q lacks message %d of %d octets", list, i+1, size)
		}
		if r := cmd(fmt.Sprintf("RETR %d", i+1)); !strings.HasPrefix(r, "+OK") {
			t.Fatal(r)
		}
		if got := multi(); got != want {
			t.Errorf("RETR %d: %q, want %q", i+1, got, want)
		}
		if r := cmd(fmt.Sprintf("TOP %d 1", i+1)); !strings.HasPrefix(r, "+OK") {
			t.Fatal(r)
		}
		top := multi()
		if !strings.HasPrefix(want, top) || !strings.Contains(top, "\r\n\r\n") {
			t.Errorf("TOP %d 1: %q, not the head of %q", i+1, top, want)
		}
	}
	cmd("QUIT")
}
