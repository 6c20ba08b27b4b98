package maildir

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// BenchmarkServeSummary drives the commands that the summary cache
// answers (mailbench imap-fetch's fetch_bodystructure,
// fetch_header_fields and search_subject lines) through the server over
// a loopback socket, on a mailbox of 2,000 messages whose summaries are
// in the cache; allocs/op and ns/op are per command, msgs/op says how
// many messages one command covers:
//
//	go test -run - -bench ServeSummary -benchmem ./imap/imapserver/maildir
//
// For exact instruction counts on a loaded machine:
//
//	go test -c -o /tmp/md.test ./imap/imapserver/maildir
//	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind /tmp/md.test -test.run - -test.bench 'ServeSummary/fetch_bodystructure' -test.benchtime 20x
func BenchmarkServeSummary(b *testing.B) {
	const n = 2000
	dir := benchMailbox(b, n)
	s := benchStore(b, dir)
	defer s.Close()
	srv := &imapserver.Server{Backend: s, AllowInsecureAuth: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 1<<16)
	tag := 0
	// cmd sends one command and reads to its tagged reply.
	cmd := func(line string) int {
		tag++
		t := fmt.Sprintf("a%d ", tag)
		fmt.Fprintf(c, "%s%s\r\n", t, line)
		lines := 0
		for {
			l, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			lines++
			if bytes.HasPrefix(l, []byte(t)) {
				if !bytes.HasPrefix(l[len(t):], []byte("OK")) {
					b.Fatalf("%s: %s", line, l)
				}
				return lines
			}
		}
	}
	r.ReadSlice('\n') // greeting
	cmd("LOGIN alice pw")
	cmd("SELECT INBOX")
	for _, bc := range []struct{ name, cmd string }{
		{"fetch_bodystructure", "FETCH 1:* (BODYSTRUCTURE)"},
		{"fetch_header_fields", "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])"},
		{"search_subject", "SEARCH SUBJECT \"message 1999\""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cmd(bc.cmd) // warm
			b.ReportAllocs()
			for b.Loop() {
				cmd(bc.cmd)
			}
			b.ReportMetric(n, "msgs/op")
		})
	}
}
