package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
	"github.com/posthorn/posthorn/smtp/smtpserver"
)

// quotaServer runs SMTP delivery in mode over a store where "full" has a
// quota of 200 octets (no room for the test messages) and "roomy" none.
func quotaServer(t *testing.T, mode smtpserver.Mode) (*imapmem.Store, string) {
	t.Helper()
	store := imapmem.New()
	for _, u := range []string{"full", "roomy", "postmaster"} {
		if err := store.AddUser(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetQuota("full", 200, 0); err != nil {
		t.Fatal(err)
	}
	srv := &smtpserver.Server{
		Hostname: "mx.example.org",
		Backend:  smtpserver.NewStoreBackend(store, smtpserver.StoreOptions{Domains: []string{"example.org"}}),
		Mode:     mode,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return store, ln.Addr().String()
}

// chat plays "C: "/"S: " lines; an S line ending in "..." is a prefix.
func chat(t *testing.T, addr, script string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	readReply := func() string {
		var last string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			last = strings.TrimRight(l, "\r\n")
			if len(last) < 4 || last[3] != '-' {
				return last
			}
		}
	}
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "C: "):
			io.WriteString(c, l[3:]+"\r\n")
		case strings.HasPrefix(l, "S: "):
			want, got := l[3:], readReply()
			if got != want && !(strings.HasSuffix(want, "...") && strings.HasPrefix(got, strings.TrimSuffix(want, "..."))) {
				t.Fatalf("\n got S: %s\nwant S: %s", got, want)
			}
		}
	}
}

func inboxCount(t *testing.T, store *imapmem.Store, user string) uint32 {
	t.Helper()
	u, err := store.User(context.Background(), user, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := u.Status(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

// A full mailbox is a persistent transient failure (RFC 3463 §3.3 X.2.2):
// 452 4.2.2, at RCPT when the declared SIZE (RFC 1870) cannot fit, after
// DATA otherwise; nothing is stored for the full mailbox.
func TestSMTPOverQuota(t *testing.T) {
	store, addr := quotaServer(t, smtpserver.ModeMX)
	chat(t, addr, `
S: 220 ...
C: EHLO client.example.net
S: 250 ...
C: MAIL FROM:<a@example.net> SIZE=500
S: 250 ...
C: RCPT TO:<full@example.org>
S: 452 4.2.2 Mailbox full
C: RCPT TO:<roomy@example.org>
S: 250 ...
C: RSET
S: 250 ...
C: MAIL FROM:<a@example.net>
S: 250 ...
C: RCPT TO:<full@example.org>
S: 250 ...
C: DATA
S: 354 ...
C: Subject: too big for the quota
C:
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: .
S: 452 4.2.2 Mailbox full
C: QUIT
S: 221 ...`)
	if n := inboxCount(t, store, "full"); n != 0 {
		t.Fatalf("full has %d messages", n)
	}
}

// LMTP answers per recipient after the data (RFC 2033 §4.2): the full
// mailbox gets 452 4.2.2, the other its copy.
func TestLMTPOverQuotaPerRecipient(t *testing.T) {
	store, addr := quotaServer(t, smtpserver.ModeLMTP)
	chat(t, addr, `
S: 220 ...
C: LHLO client.example.net
S: 250 ...
C: MAIL FROM:<a@example.net>
S: 250 ...
C: RCPT TO:<roomy@example.org>
S: 250 ...
C: RCPT TO:<full@example.org>
S: 250 ...
C: DATA
S: 354 ...
C: Subject: for two
C:
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: 0123456789012345678901234567890123456789012345678901234567890123456789
C: .
S: 250 ...
S: 452 4.2.2 Mailbox full
C: QUIT
S: 221 ...`)
	if a, b := inboxCount(t, store, "roomy"), inboxCount(t, store, "full"); a != 1 || b != 0 {
		t.Fatalf("roomy has %d, full has %d messages; want 1 and 0", a, b)
	}
}
