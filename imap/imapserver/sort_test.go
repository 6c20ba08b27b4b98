package imapserver_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
)

// sortMailbox is INBOX for the SORT and THREAD tests. Message n has
// sequence number n and UID n+1 (UID 1 was expunged), internal date
// 2024-02-n except message 4, whose missing Date falls back to its internal
// date 2024-01-01 08:00 (RFC 5256 §2.2). Sent dates (UTC) and base
// subjects (RFC 5256 §2.1):
//
//	1  01-01 10:00  LUNCH PLANS  "Lunch plans"
//	2  01-01 12:00  LUNCH PLANS  "Re: Lunch plans", References <1@x>
//	3  01-02 09:00  CAFé NEWS    encoded word
//	4  01-01 08:00  LUNCH PLANS  "[fwd: Lunch plans]", no Date, no From
//	5  01-03 09:00  CAFé NEWS    "Fwd: Re: " + encoded word, References <3@x> <missing@x>
//	6  01-01 11:00  LUNCH PLANS  "Re: Lunch plans", only In-Reply-To <1@x>
//	7  01-01 04:00  ZEBRA        Date in -0500, broken References
//	8  01-01 05:00  ZEBRA        "Re: [list] Zebra", References <gone@x>
//	9  01-01 06:00  ZEBRA        "Re: Zebra", References <gone@x>
var sortMailbox = []struct {
	subject, date, from, refs string
}{
	{"Lunch plans", "Mon, 1 Jan 2024 10:00:00 +0000", "Carol <carol@x>", ""},
	{"Re: Lunch plans", "Mon, 1 Jan 2024 12:00:00 +0000", "alice@x", "References: <1@x>"},
	{"=?utf-8?q?Caf=C3=A9?= news", "Tue, 2 Jan 2024 09:00:00 +0000", "bob@x", ""},
	{"[fwd: Lunch plans]", "", "", ""},
	{"Fwd: Re: =?utf-8?q?Caf=C3=A9?= news", "Wed, 3 Jan 2024 09:00:00 +0000", "Dave <dave@x>", "References: <3@x>\r\n <missing@x>"},
	{"Re: Lunch plans", "Mon, 1 Jan 2024 11:00:00 +0000", "alice@x", "In-Reply-To: <1@x>"},
	{"Zebra", "Sun, 31 Dec 2023 23:00:00 -0500", "Zed <zed@x>", "References: broken no id"},
	{"Re: [list] Zebra", "Mon, 1 Jan 2024 05:00:00 +0000", "bob@x", "References: <gone@x>"},
	{"Re: Zebra", "Mon, 1 Jan 2024 06:00:00 +0000", "Ann <ann@x>", "References: <gone@x>"},
}

func newSortServer(t *testing.T, configure ...func(*imapserver.Server)) *testServer {
	ts := newTestServer(t, configure...)
	ctx := context.Background()
	// UID 1 goes first, so that UIDs differ from sequence numbers.
	if _, err := ts.store.Deliver(ctx, "alice", strings.NewReader("Subject: gone\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	uidls, _, unlock, err := ts.store.LockMaildrop(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ts.store.DeleteMaildropMessages(ctx, "alice", uidls[:1])
	unlock()
	for i, m := range sortMailbox {
		var b strings.Builder
		b.WriteString("Subject: " + m.subject + "\r\n")
		if m.date != "" {
			b.WriteString("Date: " + m.date + "\r\n")
		}
		if m.from != "" {
			b.WriteString("From: " + m.from + "\r\n")
		}
		b.WriteString("Message-ID: <" + string(rune('1'+i)) + "@x>\r\n")
		if m.refs != "" {
			b.WriteString(m.refs + "\r\n")
		}
		b.WriteString("\r\nbody\r\n")
		date := time.Date(2024, 2, i+1, 0, 0, 0, 0, time.UTC)
		if i == 3 {
			date = time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
		}
		if _, err := ts.store.DeliverTo(ctx, "alice", "INBOX", strings.NewReader(b.String()), nil, date); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

// RFC 5256 §3 SORT, by sequence number and UID, every key, REVERSE, the
// implicit sequence-number tie break, search criteria and charsets; and
// RFC 5267 §3 ESORT (RETURN MIN MAX COUNT ALL, ALL in sort order).
func TestSort(t *testing.T) {
	c := newSortServer(t).login()
	c.run(`
C: a0 CAPABILITY
S: ~ SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES
S: a0 OK CAPABILITY completed
C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 SORT (DATE) UTF-8 ALL
S: * SORT 7 8 9 4 1 6 2 3 5
S: a2 OK SORT completed
C: a3 SORT (REVERSE DATE) UTF-8 ALL
S: * SORT 5 3 2 6 1 4 9 8 7
S: a3 OK SORT completed
C: a4 SORT (ARRIVAL) US-ASCII ALL
S: * SORT 4 1 2 3 5 6 7 8 9
S: a4 OK SORT completed
C: a5 SORT (SUBJECT) UTF-8 ALL
S: * SORT 3 5 1 2 4 6 7 8 9
S: a5 OK SORT completed
C: a6 SORT (SUBJECT DATE) UTF-8 ALL
S: * SORT 3 5 4 1 6 2 7 8 9
S: a6 OK SORT completed
C: a7 sort (reverse subject) utf-8 all
S: * SORT 7 8 9 1 2 4 6 3 5
S: a7 OK SORT completed
C: a8 SORT (FROM) UTF-8 ALL
S: * SORT 4 2 6 9 3 8 1 5 7
S: a8 OK SORT completed
C: a9 SORT (DISPLAYFROM REVERSE DATE) UTF-8 ALL
S: * SORT 4 2 6 9 3 8 1 5 7
S: a9 OK SORT completed
C: b1 UID SORT (DATE) UTF-8 ALL
S: * SORT 8 9 10 5 2 7 3 4 6
S: b1 OK SORT completed
C: b2 SORT (DATE) UTF-8 SUBJECT lunch
S: * SORT 4 1 6 2
S: b2 OK SORT completed
C: b3 SORT (SUBJECT) UTF-8 SUBJECT "café"
S: * SORT 3 5
S: b3 OK SORT completed
C: b4 SORT (DATE) UTF-8 OR FROM bob UID 10
S: * SORT 8 9 3
S: b4 OK SORT completed
C: b5 SORT (DATE) UTF-8 SUBJECT nothing
S: * SORT
S: b5 OK SORT completed
C: c1 SORT (DATE) ISO-8859-1 ALL
S: c1 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset
C: c2 SORT (DATE) US-ASCII SUBJECT "café"
S: c2 BAD 8-bit search string in US-ASCII
C: c3 SORT (COLOR) UTF-8 ALL
S: c3 BAD unknown sort key COLOR
C: c4 SORT () UTF-8 ALL
S: c4 BAD ...
C: c5 SORT (DATE) UTF-8 CHARSET UTF-8 ALL
S: c5 BAD RETURN and CHARSET are not search keys
C: d1 SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL
S: * ESEARCH (TAG "d1") MIN 7 MAX 5 COUNT 9
S: d1 OK SORT completed
C: d2 SORT RETURN (ALL) (DATE) UTF-8 ALL
S: * ESEARCH (TAG "d2") ALL 7:9,4,1,6,2:3,5
S: d2 OK SORT completed
C: d3 UID SORT RETURN () (DATE) UTF-8 ALL
S: * ESEARCH (TAG "d3") UID ALL 8:10,5,2,7,3:4,6
S: d3 OK SORT completed
C: d4 SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing
S: * ESEARCH (TAG "d4") COUNT 0
S: d4 OK SORT completed
C: d5 SORT RETURN (SAVE) (SUBJECT) UTF-8 SUBJECT zebra
S: d5 OK SORT completed
C: d6 UID FETCH $ (UID)
S: * 7 FETCH (UID 8)
S: * 8 FETCH (UID 9)
S: * 9 FETCH (UID 10)
S: d6 OK FETCH completed`)
}

// RFC 5256 §4: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES, the trees
// worked out by hand from the table of sortMailbox:
//
// ORDEREDSUBJECT groups by base subject, the earliest message first and
// the others its children, threads by the date of their first message.
//
// REFERENCES: 2 and 6 (In-Reply-To only) are replies to 1; 5 hangs below
// the missing <missing@x>, a dummy below 3 that step 3 prunes (5 moves up
// to 3); 8 and 9 share the dummy <gone@x>, kept at the root with two
// children; 7's References hold no msg-id, so it is a root. Step 5 merges
// by base subject: 7 goes below the ZEBRA dummy, 4 ("[fwd: …]") below 1
// (which has no reply marker). Siblings in sent date order.
func TestThread(t *testing.T) {
	c := newSortServer(t).login()
	c.run(`
C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 THREAD ORDEREDSUBJECT UTF-8 ALL
S: * THREAD (7 (8)(9))(4 (1)(6)(2))(3 5)
S: a2 OK THREAD completed
C: a3 THREAD REFERENCES UTF-8 ALL
S: * THREAD ((7)(8)(9))(1 (4)(6)(2))(3 5)
S: a3 OK THREAD completed
C: a4 UID THREAD REFERENCES UTF-8 ALL
S: * THREAD ((8)(9)(10))(2 (5)(7)(3))(4 6)
S: a4 OK THREAD completed
C: a5 THREAD REFERENCES US-ASCII SUBJECT zebra
S: * THREAD ((7)(8)(9))
S: a5 OK THREAD completed
C: a6 UID THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing
S: * THREAD
S: a6 OK THREAD completed
C: a7 THREAD REFERENCES UTF-8 NOT SUBJECT lunch
S: * THREAD ((7)(8)(9))(3 5)
S: a7 OK THREAD completed
C: b1 THREAD REFS UTF-8 ALL
S: b1 BAD unknown threading algorithm REFS
C: b2 THREAD REFERENCES KOI8-R ALL
S: b2 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset
C: b3 CLOSE
S: b3 OK CLOSE completed
C: b4 THREAD REFERENCES UTF-8 ALL
S: b4 BAD [CLIENTBUG] THREAD not allowed in this state`)
}

// The session's sort cache follows the mailbox: a new message and an
// expunge change the next SORT, by rank or not.
func TestSortCacheFollowsChanges(t *testing.T) {
	ts := newSortServer(t)
	c := ts.login()
	c.run(`
C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 SORT (SUBJECT) UTF-8 ALL
S: * SORT 3 5 1 2 4 6 7 8 9
S: a2 OK SORT completed`)
	if _, err := ts.store.DeliverTo(context.Background(), "alice", "INBOX", strings.NewReader("Subject: Aardvark\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nx\r\n"), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.run(`
C: a3 NOOP
S: * 10 EXISTS
S: ~ a3 OK
C: a4 SORT (SUBJECT) UTF-8 ALL
S: * SORT 10 3 5 1 2 4 6 7 8 9
S: a4 OK SORT completed
C: a5 SORT (DATE) UTF-8 ALL
S: * SORT 10 7 8 9 4 1 6 2 3 5
S: a5 OK SORT completed
C: a6 STORE 3 +FLAGS.SILENT (\Deleted)
S: a6 OK STORE completed
C: a7 EXPUNGE
S: * 3 EXPUNGE
S: a7 OK EXPUNGE completed
C: a8 SORT (REVERSE SUBJECT) UTF-8 ALL
S: * SORT 6 7 8 1 2 3 5 4 9
S: a8 OK SORT completed`)
}

// RFC 7162 §3.1.9, §3.1.10: MODSEQ in SORT criteria enables CONDSTORE and
// adds the highest mod-sequence of the result; THREAD is unchanged.
func TestSortModSeq(t *testing.T) {
	c := newSortServer(t).login()
	c.run(`
C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 STORE 2 +FLAGS.SILENT (\Flagged)
S: a2 OK STORE completed
C: a3 SORT (DATE) UTF-8 MODSEQ 1
S: * OK [HIGHESTMODSEQ 13] Highest
S: * SORT 7 8 9 4 1 6 2 3 5 (MODSEQ 13)
S: a3 OK SORT completed
C: a4 SORT RETURN (COUNT) (DATE) UTF-8 FLAGGED MODSEQ 1
S: * ESEARCH (TAG "a4") COUNT 1 MODSEQ 13
S: a4 OK SORT completed
C: a5 THREAD ORDEREDSUBJECT UTF-8 FLAGGED MODSEQ 1
S: * THREAD (2)
S: a5 OK THREAD completed
C: a6 SORT (DATE) UTF-8 SUBJECT nothing MODSEQ 1
S: * SORT
S: a6 OK SORT completed`)
}

// messagesLog is a Backend that records the UIDs of every Mailbox.Messages
// call, to see which work a SORT did.
type messagesLog struct {
	imapserver.Backend
	mu    sync.Mutex
	calls [][]uint32
}

func (b *messagesLog) User(ctx context.Context, name string, info *imapserver.ConnInfo) (imapserver.User, error) {
	u, err := b.Backend.User(ctx, name, info)
	return logUser{u, b}, err
}

// take returns the calls recorded since the last take.
func (b *messagesLog) take() [][]uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls
	b.calls = nil
	return c
}

type logUser struct {
	imapserver.User
	log *messagesLog
}

func (u logUser) OpenMailbox(ctx context.Context, name string, readOnly bool) (imapserver.Mailbox, error) {
	mb, err := u.User.OpenMailbox(ctx, name, readOnly)
	return logMailbox{mb, u.log}, err
}

type logMailbox struct {
	imapserver.Mailbox
	log *messagesLog
}

func (mb logMailbox) Messages(ctx context.Context, uids []uint32) ([]imapserver.Message, error) {
	mb.log.mu.Lock()
	mb.log.calls = append(mb.log.calls, slices.Clone(uids))
	mb.log.mu.Unlock()
	return mb.Mailbox.Messages(ctx, uids)
}

// The sort state of a mailbox is shared between sessions (sort_cache.go):
// a second session's first SORT asks the backend for nothing, and a change
// made in one session shows in the other's next SORT, the backend asked
// only for the new message.
func TestSortSharedBetweenSessions(t *testing.T) {
	log := &messagesLog{}
	ts := newSortServer(t, func(s *imapserver.Server) {
		log.Backend = s.Backend
		s.Backend = log
	})
	a, b := ts.login(), ts.login()
	a.run(`
C: a1 SELECT INBOX
S: ~ a1 OK
C: a2 SORT (SUBJECT) UTF-8 ALL
S: * SORT 3 5 1 2 4 6 7 8 9
S: a2 OK SORT completed`)
	if calls := log.take(); len(calls) != 1 || len(calls[0]) != 9 {
		t.Fatalf("first SORT: Messages calls %v, want one of 9 UIDs", calls)
	}
	b.run(`
C: b1 SELECT INBOX
S: ~ b1 OK
C: b2 SORT (SUBJECT) UTF-8 ALL
S: * SORT 3 5 1 2 4 6 7 8 9
S: b2 OK SORT completed
C: b3 THREAD ORDEREDSUBJECT UTF-8 ALL
S: * THREAD (7 (8)(9))(4 (1)(6)(2))(3 5)
S: b3 OK THREAD completed
C: b3u UID THREAD ORDEREDSUBJECT UTF-8 ALL
S: * THREAD (8 (9)(10))(5 (2)(7)(3))(4 6)
S: b3u OK THREAD completed
C: b3r SORT (REVERSE SUBJECT) UTF-8 ALL
S: * SORT 7 8 9 1 2 4 6 3 5
S: b3r OK SORT completed`)
	if calls := log.take(); len(calls) != 0 {
		t.Fatalf("second session: Messages calls %v, want none", calls)
	}
	// Changes: a new message, and an expunge in session a.
	if _, err := ts.store.DeliverTo(context.Background(), "alice", "INBOX", strings.NewReader("Subject: Aardvark\r\nFrom: zz@x\r\n\r\nx\r\n"), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a.run(`
C: a4 NOOP
S: * 10 EXISTS
S: ~ a4 OK
C: a5 STORE 3 +FLAGS.SILENT (\Deleted)
S: a5 OK STORE completed
C: a6 EXPUNGE
S: * 3 EXPUNGE
S: a6 OK EXPUNGE completed
C: a7 SORT (SUBJECT) UTF-8 ALL
S: * SORT 9 4 1 2 3 5 6 7 8
S: a7 OK SORT completed`)
	if calls := log.take(); len(calls) != 1 || !slices.Equal(calls[0], []uint32{11}) {
		t.Fatalf("SORT after a change: Messages calls %v, want one of UID 11", calls)
	}
	b.run(`
C: b4 SORT (SUBJECT) UTF-8 ALL
S: * SORT 3 5 1 2 4 6 7 8 9
S: ~ b4 OK
C: b5 NOOP
S: * 3 EXPUNGE
S: ~ b5 OK
C: b6 SORT (SUBJECT) UTF-8 ALL
S: * SORT 9 4 1 2 3 5 6 7 8
S: b6 OK SORT completed
C: b7 SORT (FROM) UTF-8 ALL
S: * SORT 3 2 5 8 7 1 4 6 9
S: b7 OK SORT completed`)
	if calls := log.take(); len(calls) != 0 {
		t.Fatalf("second session after the change: Messages calls %v, want none", calls)
	}
	// New mail only: the entry is extended, its ranks too.
	if _, err := ts.store.DeliverTo(context.Background(), "alice", "INBOX", strings.NewReader("Subject: Mango\r\nFrom: m@x\r\n\r\nx\r\n"), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a.run(`
C: a8 NOOP
S: * 10 EXISTS
S: ~ a8 OK
C: a9 SORT (SUBJECT) UTF-8 ALL
S: * SORT 9 4 1 2 3 5 10 6 7 8
S: a9 OK SORT completed
C: a10 SORT (FROM) UTF-8 ALL
S: * SORT 3 2 5 8 7 1 4 10 6 9
S: a10 OK SORT completed`)
	if calls := log.take(); len(calls) != 1 || !slices.Equal(calls[0], []uint32{12}) {
		t.Fatalf("SORT after new mail: Messages calls %v, want one of UID 12", calls)
	}
	b.run(`
C: b8 NOOP
S: * 10 EXISTS
S: ~ b8 OK
C: b9 SORT (REVERSE FROM) UTF-8 ALL
S: * SORT 9 6 10 4 1 7 8 2 5 3
S: b9 OK SORT completed`)
	if calls := log.take(); len(calls) != 0 {
		t.Fatalf("second session after new mail: Messages calls %v, want none", calls)
	}
}

// Sessions sorting and threading at once while mail arrives share the sort
// state without a race (run with -race), and every SORT numbers exactly
// the messages its session knows of.
func TestSortSharedConcurrent(t *testing.T) {
	ts := newSortServer(t)
	const sessions, rounds = 4, 15
	conns := make([]*testConn, sessions)
	for i := range conns {
		conns[i] = ts.login()
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sortRounds(c, i, rounds)
		}()
	}
	for i := range rounds {
		msg := fmt.Sprintf("Subject: new %d\r\nFrom: n%d@x\r\n\r\nx\r\n", i, i)
		if _, err := ts.store.DeliverTo(context.Background(), "alice", "INBOX", strings.NewReader(msg), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// sortRounds selects INBOX and sorts it, rounds times, checking that each
// SORT is a permutation of the sequence numbers SELECT announced.
func sortRounds(c *testConn, id, rounds int) error {
	do := func(tag, cmd string) ([]string, error) {
		if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd); err != nil {
			return nil, err
		}
		var lines []string
		for {
			c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			l, err := c.br.ReadString('\n')
			if err != nil {
				return nil, err
			}
			l = strings.TrimSuffix(l, "\r\n")
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					return nil, fmt.Errorf("%s: %s", cmd, l)
				}
				return lines, nil
			}
			lines = append(lines, l)
		}
	}
	for r := range rounds {
		lines, err := do(fmt.Sprintf("s%d", r), "SELECT INBOX")
		if err != nil {
			return err
		}
		exists := 0
		for _, l := range lines {
			if n, ok := strings.CutSuffix(l, " EXISTS"); ok {
				exists, _ = strconv.Atoi(strings.TrimPrefix(n, "* "))
			}
		}
		cmd := []string{"SORT (SUBJECT) UTF-8 ALL", "SORT (REVERSE FROM) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"}[(r+id)%3]
		lines, err = do(fmt.Sprintf("t%d", r), cmd)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(cmd, "SORT") {
			continue
		}
		for _, l := range lines {
			f, ok := strings.CutPrefix(l, "* SORT")
			if !ok {
				continue
			}
			var seen []int
			for _, x := range strings.Fields(f) {
				n, _ := strconv.Atoi(x)
				seen = append(seen, n)
			}
			slices.Sort(seen)
			if len(seen) != exists || (exists > 0 && (seen[0] != 1 || seen[exists-1] != exists || len(slices.Compact(seen)) != exists)) {
				return fmt.Errorf("session %d: %s with %d messages: %s", id, cmd, exists, l)
			}
		}
	}
	return nil
}
