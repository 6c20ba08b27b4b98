package imapserver_test

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// qresyncScenario plays one CONDSTORE/QRESYNC scenario on a fresh
// mailbox of any server and returns what a client learns, with the
// server-specific parts (mod-sequence values, texts, \Recent) left out.
func qresyncScenario(t *testing.T, addr, user, pass string) []string {
	t.Helper()
	dial := func() *testConn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		c := &testConn{t: t, conn: conn, br: bufio.NewReader(conn)}
		c.readLine() // greeting
		if _, st := c.exchange("l", "LOGIN "+user+" "+pass); !strings.HasPrefix(st, "OK") {
			t.Fatalf("%s: LOGIN: %s", addr, st)
		}
		return c
	}
	var out []string
	record := func(what string, lines []string, st string) {
		for _, l := range lines {
			if n := normalizeSync(l); n != "" {
				out = append(out, what+": "+n)
			}
		}
		// The status and its code, not the text.
		if i := strings.Index(st, "]"); i >= 0 {
			st = st[:i+1]
		} else {
			st, _, _ = strings.Cut(st, " ")
		}
		out = append(out, what+": "+st)
	}
	a := dial()
	a.exchange("c", "CREATE qr")
	for i := range 6 {
		m := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
		if _, st := a.exchange("a", fmt.Sprintf("APPEND qr {%d+}\r\n%s", len(m), m)); !strings.HasPrefix(st, "OK") {
			t.Fatalf("%s: APPEND: %s", addr, st)
		}
	}
	a.exchange("e", "ENABLE QRESYNC")
	lines, _ := a.exchange("s", "SELECT qr")
	cache := &mailCache{flags: map[uint32]string{}}
	cache.apply(t, lines)
	v, m := cache.uidValidity, cache.modSeq

	lines, st := a.exchange("x1", `UID STORE 2 +FLAGS (\Seen)`)
	record("store", lines, st)
	a.exchange("x2", `UID STORE 3:4 +FLAGS.SILENT (\Deleted)`)
	lines, st = a.exchange("x3", "UID EXPUNGE 3:4")
	record("uid expunge", lines, st)
	a.exchange("x4", `UID STORE 5 +FLAGS.SILENT ($Forwarded)`)
	lines, st = a.exchange("x5", fmt.Sprintf(`UID STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\Flagged)`, m))
	record("conditional store", lines, st)
	msg := "Subject: new\r\n\r\nbody\r\n"
	a.exchange("x6", fmt.Sprintf("APPEND qr {%d+}\r\n%s", len(msg), msg))
	lines, st = a.exchange("x7", fmt.Sprintf("SEARCH MODSEQ %d", m+1))
	record("search", lines, st)

	b := dial()
	b.exchange("e", "ENABLE QRESYNC")
	lines, st = b.exchange("s", fmt.Sprintf("SELECT qr (QRESYNC (%d %d 1:6))", v, m))
	record("select qresync", lines, st)
	lines, st = b.exchange("f", fmt.Sprintf("UID FETCH 1:7 (FLAGS) (CHANGEDSINCE %d VANISHED)", m))
	record("uid fetch vanished", lines, st)
	lines, st = b.exchange("g", fmt.Sprintf("SELECT qr (QRESYNC (%d %d 1:6 (1,3 1,5)))", v, m))
	record("select seq-match", lines, st)
	a.exchange("d", "LOGOUT")
	return out
}

var (
	reSyncModSeq = regexp.MustCompile(` ?MODSEQ \(\d+\)| \(MODSEQ \d+\)`)
	reSyncFlags  = regexp.MustCompile(`FLAGS \(([^)]*)\)`)
)

// normalizeSync keeps the responses a resynchronising client acts on
// (FETCH, VANISHED, SEARCH) without the parts servers may choose freely.
func normalizeSync(l string) string {
	switch {
	case strings.Contains(l, " FETCH "), strings.HasPrefix(l, "* VANISHED"), strings.HasPrefix(l, "* SEARCH"):
	default:
		return ""
	}
	l = reSyncModSeq.ReplaceAllString(l, "")
	l = reSyncFlags.ReplaceAllStringFunc(l, func(f string) string {
		fl := strings.Fields(reSyncFlags.FindStringSubmatch(f)[1])
		fl = slices.DeleteFunc(fl, func(s string) bool { return strings.EqualFold(s, `\Recent`) })
		slices.Sort(fl)
		return "FLAGS (" + strings.Join(fl, " ") + ")"
	})
	// Item order inside FETCH is free: UID first, then the rest sorted.
	if i := strings.Index(l, " FETCH ("); i >= 0 {
		items := l[i+8 : len(l)-1]
		var parts []string
		for _, re := range []*regexp.Regexp{regexp.MustCompile(`UID \d+`), reSyncFlags} {
			if p := re.FindString(items); p != "" {
				parts = append(parts, p)
			}
		}
		l = l[:i] + " FETCH (" + strings.Join(parts, " ") + ")"
	}
	return l
}

// The same CONDSTORE/QRESYNC scenario against Dovecot and against our
// server: what the client learns (FETCH, VANISHED, SEARCH results,
// MODIFIED sets) must be the same.
func TestQresyncLikeDovecot(t *testing.T) {
	testpeer.Need(t, "dovecot", "dovecot-imapd")
	d := testpeer.StartDovecot(t, testpeer.DovecotOptions{})
	ts := newTestServer(t)
	theirs := qresyncScenario(t, d.IMAP, "bob", "bobpw")
	ours := qresyncScenario(t, ts.addr, "alice", "secret")
	if !slices.Equal(ours, theirs) {
		t.Errorf("ours:\n%s\n\nDovecot:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
}
