package maildir_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/maildir"
)

// TestScale measures, in this (fresh) process, SELECT and UID FETCH 1:*
// (UID FLAGS) of a large INBOX through the IMAP server. It runs only with
// POSTHORN_MAILDIR_SCALE=DIR (built there once, N messages from
// POSTHORN_MAILDIR_SCALE_N, default 100000); run it several times, each a
// new process with the page cache warm, and take the median:
//
//	go test -c -o /tmp/md.test ./imap/imapserver/maildir
//	for i in 1 2 3 4 5; do POSTHORN_MAILDIR_SCALE=/tmp/md100k /tmp/md.test -test.run TestScale -test.v | grep scale:; done
//
// With POSTHORN_MAILDIR_SCALE_ENVELOPE=1 it also fetches every ENVELOPE
// (the first such run computes the summaries and fills the cache).
func TestScale(t *testing.T) {
	dir := os.Getenv("POSTHORN_MAILDIR_SCALE")
	if dir == "" {
		t.Skip("POSTHORN_MAILDIR_SCALE not set")
	}
	n := 100000
	if v := os.Getenv("POSTHORN_MAILDIR_SCALE_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if _, err := os.Stat(filepath.Join(dir, "alice")); err != nil {
		buildScale(t, dir, n)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := maildir.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	srv := &imapserver.Server{Backend: s, AllowInsecureAuth: true}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer s.Close() // as a server shutting down: the next start need not list the folder
	defer srv.Close()
	c, _ := net.Dial("tcp", ln.Addr().String())
	br := bufio.NewReaderSize(c, 1<<16)
	br.ReadString('\n')
	cmd := func(tag, line string) (int, time.Duration) {
		t0 := time.Now()
		c0 := cpuTime()
		defer func() { t.Logf("scale: %s: CPU %v", line, (cpuTime() - c0).Round(time.Millisecond)) }()
		fmt.Fprintf(c, "%s %s\r\n", tag, line)
		n := 0
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					t.Fatal(l)
				}
				return n, time.Since(t0)
			}
			n++
		}
	}
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	cmd("a", "LOGIN alice pw")
	cmd("l", `LIST "" *`)
	idle := heap() - int64(before.HeapAlloc) // the mailbox not opened yet
	_, sel := cmd("b", "SELECT INBOX")
	lines, fetch := cmd("c", "UID FETCH 1:* (UID FLAGS)")
	_, env := cmd("d", "FETCH 1:1000 (ENVELOPE)")
	open := heap() - int64(before.HeapAlloc)
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("scale: %d messages: SELECT %v, UID FETCH 1:* (UID FLAGS) %v (%d lines), FETCH 1:1000 (ENVELOPE) %v, total since start %v, heap %d B/message (before SELECT: %d B in all); load %s",
		n, sel.Round(time.Millisecond), fetch.Round(time.Millisecond), lines, env.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		open/int64(n), idle, strings.TrimSpace(string(load)))
	if os.Getenv("POSTHORN_MAILDIR_SCALE_ENVELOPE") != "" {
		// Every ENVELOPE: from the summary cache once a process has
		// computed them (the first run reads every message file once).
		_, all := cmd("e", "FETCH 1:* (ENVELOPE)")
		t.Logf("scale: FETCH 1:* (ENVELOPE) %v, heap after %d B/message", all.Round(time.Millisecond), (heap()-int64(before.HeapAlloc))/int64(n))
	}
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine wall time says little.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// buildScale writes n message files the way another delivery agent
// would (with size fields), then lets the store index them once.
func buildScale(t *testing.T, dir string, n int) {
	inbox := filepath.Join(dir, "alice")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(inbox, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("From: Sender %d <s%d@example.org>\nTo: alice@example.org\nSubject: message %d\nDate: Mon, 7 Dec 2026 10:%02d:00 +0000\nMessage-ID: <%d@example.org>\n\n%s", i, i%97, i, i%60, i, strings.Repeat("Some body text for the message.\n", 3+i%10))
		lines := strings.Count(body, "\n")
		name := fmt.Sprintf("%d.M%dP1Q%d.scale,S=%d,W=%d:2,%s", 1700000000+i, i, i, len(body), len(body)+lines, map[bool]string{true: "S", false: ""}[i%3 == 0])
		if err := os.WriteFile(filepath.Join(inbox, "cur", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := maildir.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.AddUser("alice", "pw")
	u, _ := s.User(context.Background(), "alice", nil)
	mb, err := u.OpenMailbox(context.Background(), "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	mb.Close()
	s.Close()
}
