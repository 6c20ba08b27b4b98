package maildir

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// benchMailbox writes n messages into a fresh tree as another program
// would, indexes them once and summarises them once.
func benchMailbox(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	cur := filepath.Join(dir, "alice", "cur")
	if err := os.MkdirAll(cur, 0o700); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("From: Sender %d <s%d@example.org>\nTo: alice@example.org\nSubject: message %d\nMessage-ID: <%d@example.org>\n\n%s", i, i%97, i, i, strings.Repeat("Some body text.\n", 3+i%10))
		name := fmt.Sprintf("%d.M%dP1Q%d.bench,S=%d,W=%d:2,%s", 1700000000+i, i, i, len(body), len(body)+strings.Count(body, "\n"), map[bool]string{true: "S", false: ""}[i%3 == 0])
		if err := os.WriteFile(filepath.Join(cur, name), []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	s := benchStore(b, dir)
	mb := mustOpenB(b, s)
	ms, _ := mb.Messages(context.Background(), mb.Snapshot().UIDs)
	for _, m := range ms {
		m.(imapserver.Summarizer).Summary()
	}
	mb.Close()
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	s.Close()
	return dir
}

func benchStore(b *testing.B, dir string) *Store {
	s, err := Open(dir, &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	s.AddUser("alice", "pw")
	return s
}

func mustOpenB(b *testing.B, s *Store) imapserver.Mailbox {
	u, _ := s.User(context.Background(), "alice", nil)
	mb, err := u.OpenMailbox(context.Background(), "INBOX", false)
	if err != nil {
		b.Fatal(err)
	}
	return mb
}

// BenchmarkOpenMailbox is a fresh process's first open of a mailbox of
// 10,000 messages (page cache warm): its index read, no directory listed.
//
//	go test -run - -bench OpenMailbox -benchmem ./imap/imapserver/maildir
func BenchmarkOpenMailbox(b *testing.B) {
	dir := benchMailbox(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := benchStore(b, dir)
		mb := mustOpenB(b, s)
		if len(mb.Snapshot().UIDs) != 10000 {
			b.Fatal("messages missing")
		}
		b.StopTimer() // the close's fsync is not the open's
		mb.Close()
		s.now = func() time.Time { return time.Now().Add(time.Minute) }
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkSummary is one message's summary read from the cache (what
// FETCH ENVELOPE costs the store per message).
func BenchmarkSummary(b *testing.B) {
	dir := benchMailbox(b, 1000)
	s := benchStore(b, dir)
	defer s.Close()
	mb := mustOpenB(b, s)
	defer mb.Close()
	ms, _ := mb.Messages(context.Background(), mb.Snapshot().UIDs)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if ms[i%len(ms)].(imapserver.Summarizer).Summary() == nil {
			b.Fatal("no summary")
		}
		i++
	}
}

// BenchmarkSummarizeDelivery is what summarising a 4 KB delivery as it
// streams in adds to it: the CRLF form of the bytes kept and their
// summary.
func BenchmarkSummarizeDelivery(b *testing.B) {
	msg := []byte("From: Sender <s@example.org>\nTo: alice@example.org\nSubject: a delivery of four kilobytes\nDate: Mon, 7 Dec 2026 10:00:00 +0000\nMessage-ID: <1@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + strings.Repeat("Some body text for the message, about seventy octets in a line.\n", 60))
	s, err := Open(b.TempDir(), &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		served := toCRLF(msg)
		if sum, _ := s.summarize(bytes.NewReader(served), int64(len(served))); sum == nil {
			b.Fatal("no summary")
		}
	}
}
