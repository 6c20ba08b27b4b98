package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkSort10000 runs SORT and THREAD over 10,000 messages through a
// real socket, the parse cache warm (the first pass fills it): repeated in
// one selection, (reselect/) as the first command after a SELECT, and
// (change/) as the first after new mail.
func BenchmarkSort10000(b *testing.B) {
	ts := newTestServer(&testing.T{})
	ctx := context.Background()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10000 {
		subj := fmt.Sprintf("Topic %d", i%1300)
		refs := ""
		if i%3 != 0 {
			subj = "Re: " + subj
			refs = fmt.Sprintf("References: <%d@x>\r\n", i-i%3)
		}
		msg := fmt.Sprintf("Subject: %s\r\nDate: %s\r\nFrom: User %d <u%d@example.org>\r\nMessage-ID: <%d@x>\r\n%s\r\nbody %d\r\n",
			subj, base.Add(time.Duration(i*7919%10000)*time.Minute).Format(time.RFC1123Z), i%97, i%97, i, refs, i)
		if _, err := ts.store.DeliverTo(ctx, "alice", "INBOX", strings.NewReader(msg), nil, base.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 1<<16)
	n := 0
	do := func(cmd string) {
		n++
		tag := fmt.Sprintf("t%d", n)
		fmt.Fprintf(c, "%s %s\r\n", tag, cmd)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					b.Fatal(l)
				}
				return
			}
		}
	}
	br.ReadString('\n')
	do("LOGIN alice secret")
	do("SELECT INBOX")
	for _, cmd := range []string{"SORT (DATE) UTF-8 ALL", "SORT (SUBJECT) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"} {
		do(cmd) // warm the parse cache
		b.Run(strings.Fields(cmd)[1], func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				do(cmd)
			}
		})
		// The first command of a new selection (SELECT untimed), as a
		// webmail client that opens a session and sorts once: served
		// by the Server's shared sort state (sort_cache.go).
		b.Run("reselect/"+strings.Fields(cmd)[1], func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				do("SELECT INBOX")
				b.StartTimer()
				do(cmd)
			}
		})
		// The first command after new mail (delivery and NOOP untimed).
		b.Run("change/"+strings.Fields(cmd)[1], func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				b.StopTimer()
				msg := fmt.Sprintf("Subject: change %d\r\nFrom: c@example.org\r\n\r\nx\r\n", i)
				if _, err := ts.store.DeliverTo(ctx, "alice", "INBOX", strings.NewReader(msg), nil, time.Time{}); err != nil {
					b.Fatal(err)
				}
				do("NOOP")
				b.StartTimer()
				do(cmd)
			}
		})
	}
}
