package smtpqueue

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/smtp"
)

// indexFixture fills a queue with messages in several states: fresh, held,
// attempted with a deferral, with DSN parameters and REQUIRETLS.
func indexFixture(t *testing.T, dir string) []MessageInfo {
	t.Helper()
	q, err := Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q.Enqueue(ctx, &Envelope{From: "a@sender.test", To: []string{"b@one.test"}}, strings.NewReader(testMsg))
	held, _ := q.Enqueue(ctx, &Envelope{From: "", To: []string{"b@one.test", "c@two.test"}}, strings.NewReader(testMsg))
	q.Hold(held)
	dsn, _ := q.Enqueue(ctx, &Envelope{
		From:        "a@sender.test",
		To:          []string{"b@one.test", "d@one.test"},
		MailOptions: smtp.MailOptions{Return: smtp.ReturnHeaders, EnvelopeID: "env1", RequireTLS: true},
		RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifySuccess}, {OriginalRecipient: "rfc822;d@one.test"}},
	}, strings.NewReader(testMsg))
	q.mu.Lock()
	e := q.entries[dsn]
	e.st.Attempts = 2
	e.st.LastReply = "451 4.3.0 try later"
	e.st.LastAttempt = e.st.NextAttempt
	e.st.Rcpts[0] = rcptState{Status: StatusDelivered}
	e.st.Rcpts[1] = rcptState{Status: StatusPending, Reply: "451 4.3.0 try later", Code: 451, Enhanced: "4.3.0"}
	e.st.DelayWarned = true
	q.mu.Unlock()
	if err := q.saveState(e); err != nil {
		t.Fatal(err)
	}
	l := q.List()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index")); err != nil {
		t.Fatalf("Close wrote no index: %v", err)
	}
	return l
}

func sameList(t *testing.T, want, got []MessageInfo) {
	t.Helper()
	norm := func(l []MessageInfo) []MessageInfo {
		out := make([]MessageInfo, len(l))
		for i, m := range l {
			m.Age, m.NextAttempt, m.LastAttempt, m.Arrival = 0, m.NextAttempt.UTC(), m.LastAttempt.UTC(), m.Arrival.UTC()
			if m.Attempts == 0 {
				// Never tried, no state file: due at each Open.
				m.NextAttempt = m.NextAttempt.Truncate(24 * time.Hour * 365 * 100)
			}
			out[i] = m
		}
		return out
	}
	if w, g := norm(want), norm(got); !reflect.DeepEqual(w, g) {
		t.Fatalf("after reopening:\n got %+v\nwant %+v", g, w)
	}
}

// Close snapshots the index; Open reads it instead of every file, finds
// the same queue, and removes it so it can never go stale.
func TestIndexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := indexFixture(t, dir)
	q, err := Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := os.Stat(filepath.Join(dir, "index")); !os.IsNotExist(err) {
		t.Fatalf("Open left the index in place: %v", err)
	}
	sameList(t, want, q.List())
	q.mu.Lock()
	e := q.entries[want[2].ID]
	q.mu.Unlock()
	if e.rec.MailOptions.EnvelopeID != "env1" || !e.rec.MailOptions.RequireTLS || e.rec.RcptOptions[0].Notify != smtp.NotifySuccess || e.rec.RcptOptions[1].OriginalRecipient != "rfc822;d@one.test" || !e.st.DelayWarned || e.st.Rcpts[1].Code != 451 {
		t.Fatalf("record or state lost: %+v %+v", e.rec, e.st)
	}
}

// What changes after the index was read is found after a crash: the index
// is gone, so the files decide.
func TestIndexNotStaleAfterCrash(t *testing.T) {
	dir := t.TempDir()
	want := indexFixture(t, dir)
	q, err := Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	q.Release(want[1].ID)
	q.Hold(want[0].ID)
	q.lock.Close() // kill -9: no Close, no new index
	q, err = Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	l := q.List()
	if !l[0].Held || l[1].Held {
		t.Fatalf("changes after the index was read are lost: %+v", l)
	}
}

// A change after Close (an operation on the closed queue) removes the
// index; a damaged index is ignored; a message file gone is not brought
// back by the index.
func TestIndexInvalidation(t *testing.T) {
	dir := t.TempDir()
	want := indexFixture(t, dir)
	q, err := Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	q.Hold(want[0].ID)
	if _, err := os.Stat(filepath.Join(dir, "index")); !os.IsNotExist(err) {
		t.Fatalf("a state written after Close left the index: %v", err)
	}

	dir = t.TempDir()
	want = indexFixture(t, dir)
	b, _ := os.ReadFile(filepath.Join(dir, "index"))
	b[len(b)/2] ^= 0xff
	os.WriteFile(filepath.Join(dir, "index"), b, 0o600)
	q, err = Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	sameList(t, want, q.List())
	q.Close()

	os.Remove(filepath.Join(dir, "msg", want[0].ID))
	q, err = Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if l := q.List(); len(l) != len(want)-1 || l[0].ID != want[1].ID {
		t.Fatalf("a message without its file came back from the index: %+v", l)
	}
}
