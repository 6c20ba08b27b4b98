package maildir

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap/imapserver"
	"github.com/posthorn/posthorn/imap/imapserver/imapmem"
)

// openCountFS counts the opens of message files (anything in cur, new or
// tmp) through the store's file-system interface.
type openCountFS struct {
	osFS
	opens atomic.Int64
}

func isMessagePath(name string) bool {
	sub := filepath.Base(filepath.Dir(name))
	return sub == "cur" || sub == "new" || sub == "tmp"
}

func (c *openCountFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if isMessagePath(name) && flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		c.opens.Add(1)
	}
	return c.osFS.OpenFile(name, flag, perm)
}

func (c *openCountFS) ReadFile(name string) ([]byte, error) {
	if isMessagePath(name) {
		c.opens.Add(1)
	}
	return c.osFS.ReadFile(name)
}

// summaryCorpus is a mix of structures: MIME trees, an attached message,
// encoded words, 8-bit and quoted header text (literals in ENVELOPE),
// a message without header, and replies for SORT and THREAD.
func summaryCorpus(t *testing.T) []string {
	var msgs []string
	for _, f := range []string{"multipart.eml", "simple.eml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "internal", "imapmsg", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(b))
	}
	msgs = append(msgs,
		"From: \"Doe, John\" <john@example.org>\nTo: a@example.org, \"B (b)\" <b@example.org>\nCc: undisclosed-recipients:;\nSubject: Re: [list] Fwd: hello\nDate: Wed, 06 Mar 2024 08:00:00 -0500\nMessage-ID: <r1@example.org>\nIn-Reply-To: <m1@example.de>\nReferences: <m0@example.de> <m1@example.de>\n\nreply\n",
		"Subject: Grüße \"quoted\" \\ backslash\nFrom: Zoë <zoe@example.org>\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n",
		"\nno header at all\n",
		"From: x@example.org\nSubject: nested\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/html\n\n<b>x</b>\n--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--b--\n--a\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/alternative; boundary=c\n\n--c\n\nplain\n--c--\n--a--\n",
		"Subject: =?ISO-8859-1?Q?caf=E9?= and more\nFrom: =?UTF-8?B?w6k=?= <e@example.org>\nDate: garbage\nMessage-ID: <t2@example.org>\nReferences: <r1@example.org>\n\nx\n",
	)
	return msgs
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// imapLines is a minimal IMAP client that reads literals into the line.
type imapLines struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func serveIMAP(t *testing.T, b imapserver.Backend, user, pw string) *imapLines {
	t.Helper()
	srv := &imapserver.Server{Backend: b, AllowInsecureAuth: true, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	l := &imapLines{t: t, c: c, br: bufio.NewReader(c)}
	l.read()
	l.cmd("LOGIN " + user + " " + pw)
	return l
}

func (l *imapLines) read() string {
	l.t.Helper()
	var out []byte
	for {
		s, err := l.br.ReadString('\n')
		if err != nil {
			l.t.Fatalf("read: %v", err)
		}
		out = append(out, s...)
		t := strings.TrimRight(s, "\r\n")
		if i := strings.LastIndexByte(t, '{'); i >= 0 && strings.HasSuffix(t, "}") {
			if n, err := strconv.Atoi(t[i+1 : len(t)-1]); err == nil {
				lit := make([]byte, n)
				if _, err := io.ReadFull(l.br, lit); err != nil {
					l.t.Fatal(err)
				}
				out = append(out, lit...)
				continue
			}
		}
		return string(out)
	}
}

// cmd runs a command and returns its untagged responses; it fails
// unless the command succeeds.
func (l *imapLines) cmd(c string) string {
	l.t.Helper()
	fmt.Fprintf(l.c, "t %s\r\n", c)
	var out strings.Builder
	for {
		s := l.read()
		if strings.HasPrefix(s, "t ") {
			if !strings.HasPrefix(s, "t OK") {
				l.t.Fatalf("%s: %s", c, s)
			}
			return out.String()
		}
		out.WriteString(s)
	}
}

// summaryCommands are the commands a Summary answers.
var summaryCommands = []string{
	"FETCH 1:* (ENVELOPE)",
	"FETCH 1:* (BODY BODYSTRUCTURE)",
	"UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)",
	"SORT (SUBJECT) UTF-8 ALL",
	"SORT (REVERSE DATE FROM) UTF-8 ALL",
	"SORT (CC TO DISPLAYFROM) UTF-8 ALL",
	"THREAD REFERENCES UTF-8 ALL",
	"THREAD ORDEREDSUBJECT UTF-8 ALL",
	// Header keys: from the summary's header.
	"SEARCH SUBJECT hello",
	"SEARCH SUBJECT caf",
	"SEARCH FROM john OR TO b@example CC undisclosed",
	"SEARCH HEADER Message-ID example.org",
	"SEARCH HEADER Content-Type multipart NOT HEADER X-None \"\"",
	"SEARCH SENTSINCE 1-Mar-2024 SENTBEFORE 6-Mar-2024",
	"SEARCH BCC x OR SUBJECT quoted FROM zoe",
	"UID SEARCH CHARSET UTF-8 SUBJECT backslash",
	// Header sections: from the summary's header too.
	"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (From To Subject Date)])",
	"UID FETCH 1:* (BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS.NOT (Received Subject)]<5.40> ENVELOPE)",
	"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-None)] BODY.PEEK[HEADER]<3.1>)",
}

func runSummaryCommands(l *imapLines) []string {
	l.cmd("SELECT INBOX")
	var out []string
	for _, c := range summaryCommands {
		out = append(out, l.cmd(c))
	}
	return out
}

// TestSummaryIndex: FETCH of ENVELOPE, BODY and BODYSTRUCTURE, SORT and
// THREAD answer byte for byte as imapmem answers for the same messages,
// whether the summaries were computed at APPEND, on first use (stream
// deliveries and another program's files) or read from the cache in a
// new process; in a new process they open no message file. A damaged,
// missing or stale cache, or a lost index, changes nothing in the
// answers, and the next process again opens no message file.
func TestSummaryIndex(t *testing.T) {
	ctx := context.Background()
	corpus := summaryCorpus(t)
	dir := t.TempDir()

	// The reference: imapmem, every message APPENDed.
	mem := imapmem.New()
	mem.AddUser("alice", "pw")
	mu, _ := mem.User(ctx, "alice", nil)

	cfs := &openCountFS{}
	s, err := Open(dir, &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.AddUser("alice", "pw")
	u, _ := s.User(ctx, "alice", nil)
	for i, m := range corpus {
		date := time.Date(2024, 3, 1, 0, 0, i, 0, time.UTC)
		if _, err := mu.Append(ctx, "INBOX", strings.NewReader(crlf(m)), -1, imapserver.AppendOptions{Date: date}); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // APPEND: summarised on the way in
			_, err = u.Append(ctx, "INBOX", strings.NewReader(crlf(m)), -1, imapserver.AppendOptions{Date: date})
		case 1: // delivery by stream: summarised on first use
			_, err = s.DeliverTo(ctx, "alice", "INBOX", strings.NewReader(m), nil, date)
		case 2: // another program's file, LF line ends, no size fields
			if _, err := u.Status(ctx, "INBOX"); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "alice", "new", fmt.Sprintf("%d.other%d.host", 1700000000+i, i))
			if err = os.WriteFile(p, []byte(m), 0o600); err == nil {
				os.Chtimes(p, date, date) // the internal date
				// Picked up now, so that it takes the next UID.
				h, err := u.OpenMailbox(ctx, "INBOX", true)
				if err != nil {
					t.Fatal(err)
				}
				h.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := runSummaryCommands(serveIMAP(t, mem, "alice", "pw"))

	check := func(what string, wantOpens bool) {
		t.Helper()
		got := runSummaryCommands(serveIMAP(t, s, "alice", "pw"))
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %s:\n got %q\nwant %q", what, summaryCommands[i], got[i], want[i])
			}
		}
		if n := cfs.opens.Load(); (n > 0) != wantOpens {
			t.Errorf("%s: %d message files opened", what, n)
		}
	}
	cfs.opens.Store(0)
	check("first process", true) // the stream deliveries and the other program's files
	cfs.opens.Store(0)
	check("first process, again", false)

	restart := func() {
		t.Helper()
		s.now = func() time.Time { return time.Now().Add(time.Minute) } // the directories' times are settled
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		cfs.opens.Store(0)
		if s, err = Open(dir, &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		s.AddUser("alice", "pw")
	}
	cache := filepath.Join(dir, "alice", cacheName)
	restart()
	check("new process", false)

	// Damage: a record in the middle is overwritten.
	data, _ := os.ReadFile(cache)
	copy(data[len(data)/2:], "garbage garbage garbage")
	os.WriteFile(cache, data, 0o600)
	restart()
	check("damaged cache", true)
	restart()
	check("after repair", false)

	// Cut short: the records at its end are lost.
	data, _ = os.ReadFile(cache)
	os.WriteFile(cache, data[:len(data)/3], 0o600)
	restart()
	check("cut cache", true)
	restart()
	check("after a cut", false)

	// Missing.
	os.Remove(cache)
	restart()
	check("missing cache", true)
	restart()
	check("cache rebuilt", false)

	// Stale: another mailbox's cache (same UIDs, other messages, maybe
	// the same UIDVALIDITY) in place.
	other := t.TempDir()
	s2, _ := Open(other, &Options{Logger: slog.New(slog.DiscardHandler)})
	s2.AddUser("alice", "pw")
	u2, _ := s2.User(ctx, "alice", nil)
	for i := range corpus {
		u2.Append(ctx, "INBOX", strings.NewReader(crlf(fmt.Sprintf("Subject: other %d\n\nx\n", i))), -1, imapserver.AppendOptions{})
	}
	s2.Close()
	data, _ = os.ReadFile(filepath.Join(other, "alice", cacheName))
	os.WriteFile(cache, data, 0o600)
	restart()
	check("another mailbox's cache", true)

	// The index lost: rebuilt from the files and dovecot-uidlist; the
	// cache's records are no longer referenced and are computed again.
	os.Remove(filepath.Join(dir, "alice", indexName))
	restart()
	check("index lost", true)
	restart()
	check("index rebuilt", false)
	s.Close()
}

// TestSummaryCopy: a COPY takes the source's summary along, so that the
// copy's first FETCH ENVELOPE opens no file either.
func TestSummaryCopy(t *testing.T) {
	ctx := context.Background()
	cfs := &openCountFS{}
	s, err := Open(t.TempDir(), &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddUser("alice", "pw")
	u, _ := s.User(ctx, "alice", nil)
	u.CreateMailbox(ctx, "Archive", imapserver.CreateOptions{})
	for _, m := range summaryCorpus(t) {
		if _, err := u.Append(ctx, "INBOX", strings.NewReader(crlf(m)), -1, imapserver.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	l := serveIMAP(t, s, "alice", "pw")
	l.cmd("SELECT INBOX")
	want := l.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
	l.cmd("COPY 1:* Archive")
	l.cmd("SELECT Archive")
	cfs.opens.Store(0)
	if got := l.cmd("FETCH 1:* (ENVELOPE BODYSTRUCTURE)"); got != want {
		t.Fatalf("copy:\n got %q\nwant %q", got, want)
	}
	if n := cfs.opens.Load(); n != 0 {
		t.Fatalf("%d message files opened for the copies' ENVELOPE", n)
	}
}

// TestSummaryRecord: a record decodes to what was encoded, and not for
// another UID or UIDVALIDITY, nor with any octet changed.
func TestSummaryRecord(t *testing.T) {
	sum := &imapserver.Summary{Envelope: []byte("(NIL)"), Body: []byte("b"), BodyStructure: []byte("bs"), Subject: "s", Date: "d", From: "f", To: "t", Cc: "c", MessageID: "<m>", InReplyTo: "<i>", References: "<r>", Header: []byte("Subject: s\r\n\r\n")}
	rec := encodeSummary(nil, 7, 42, sum)
	got := decodeSummary(rec, 7, 42)
	if got == nil || !bytes.Equal(encodeSummary(nil, 7, 42, got), rec) || got.Subject != sum.Subject || string(got.Header) != string(sum.Header) {
		t.Fatalf("decoded %+v", got)
	}
	if decodeSummary(rec, 7, 43) != nil || decodeSummary(rec, 8, 42) != nil || decodeSummary(rec[:len(rec)-1], 7, 42) != nil {
		t.Fatal("a record decoded for another message")
	}
	for i := range rec {
		bad := bytes.Clone(rec)
		bad[i] ^= 0x40
		if decodeSummary(bad, 7, 42) != nil {
			t.Fatalf("octet %d changed and the record still decodes", i)
		}
	}
}

// TestSummaryCompaction: once expunged messages' records make up most of
// the cache, a checkpoint rewrites it with the live ones only, and they
// are still served without opening a message file, in this process and
// the next.
func TestSummaryCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfs := &openCountFS{}
	s, err := Open(dir, &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.cacheSlack = 0
	s.AddUser("alice", "pw")
	u, _ := s.User(ctx, "alice", nil)
	for i := 0; i < 20; i++ {
		m := fmt.Sprintf("Subject: message %d %s\r\nFrom: a@example.org\r\n\r\nbody\r\n", i, strings.Repeat("x", i*10))
		if _, err := u.Append(ctx, "INBOX", strings.NewReader(m), -1, imapserver.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	l := serveIMAP(t, s, "alice", "pw")
	l.cmd("SELECT INBOX")
	want := l.cmd("UID FETCH 16:* (ENVELOPE BODYSTRUCTURE)")
	l.cmd("STORE 1:15 +FLAGS (\\Deleted)")
	l.cmd("EXPUNGE")
	cache := filepath.Join(dir, "alice", cacheName)
	before, _ := os.Stat(cache)
	us, _ := s.user("alice")
	us.mu.Lock()
	err = us.mailboxes["INBOX"].checkpointLocked()
	us.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(cache)
	if after.Size() >= before.Size()/2 {
		t.Fatalf("cache %d octets before the checkpoint, %d after", before.Size(), after.Size())
	}
	cfs.opens.Store(0)
	if got := l.cmd("UID FETCH 16:* (ENVELOPE BODYSTRUCTURE)"); !sameFetch(got, want) || strings.Count(got, "ENVELOPE") != 5 {
		t.Fatalf("after compaction:\n got %q\nwant %q", got, want)
	}
	if n := cfs.opens.Load(); n != 0 {
		t.Fatalf("after compaction: %d message files opened", n)
	}
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	s.Close()
	s, _ = Open(dir, &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
	defer s.Close()
	s.AddUser("alice", "pw")
	l = serveIMAP(t, s, "alice", "pw")
	l.cmd("SELECT INBOX")
	if got := l.cmd("UID FETCH 16:* (ENVELOPE BODYSTRUCTURE)"); !sameFetch(got, want) {
		t.Fatalf("after a restart:\n got %q\nwant %q", got, want)
	}
	if n := cfs.opens.Load(); n != 0 {
		t.Fatalf("%d message files opened", n)
	}
}

// sameFetch compares FETCH responses without their sequence numbers
// (an expunge renumbers the messages).
func sameFetch(a, b string) bool {
	strip := func(s string) string {
		var out []string
		for _, l := range strings.SplitAfter(s, "\r\n") {
			if _, rest, ok := strings.Cut(l, " FETCH "); ok {
				l = rest
			}
			out = append(out, l)
		}
		return strings.Join(out, "")
	}
	return strip(a) == strip(b)
}

// TestSummaryAtDelivery: deliveries by stream (DeliverTo, and
// DeliverMessage with header lines put in front at the end) are
// summarised from the bytes as they arrive: their first FETCH of
// ENVELOPE and BODYSTRUCTURE opens no file and answers as imapmem does.
func TestSummaryAtDelivery(t *testing.T) {
	ctx := context.Background()
	corpus := summaryCorpus(t)
	mem := imapmem.New()
	mem.AddUser("alice", "pw")
	mu, _ := mem.User(ctx, "alice", nil)
	cfs := &openCountFS{}
	s, err := Open(t.TempDir(), &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddUser("alice", "pw")
	hdr := "Received: from x by y; Mon, 7 Dec 2026 10:00:00 +0000\r\nReturn-Path: <a@example.org>\r\n"
	for i, m := range corpus {
		// Line ends as they come: LF, CRLF, and a bare CR here and there.
		in := m
		if i%2 == 1 {
			in = crlf(m)
		}
		in = strings.Replace(in, "\n\n", "\n\r\n", 1)
		if i%2 == 0 {
			_, err = s.DeliverTo(ctx, "alice", "INBOX", strings.NewReader(in), nil, time.Time{})
			mu.Append(ctx, "INBOX", strings.NewReader(crlf(strings.ReplaceAll(in, "\r", ""))), -1, imapserver.AppendOptions{})
		} else {
			_, err = s.DeliverMessage(ctx, []string{"alice"}, strings.NewReader(in), func() []byte { return []byte(hdr) })
			mu.Append(ctx, "INBOX", strings.NewReader(hdr+crlf(strings.ReplaceAll(in, "\r", ""))), -1, imapserver.AppendOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	fetch := "FETCH 1:* (ENVELOPE BODY BODYSTRUCTURE)"
	ml := serveIMAP(t, mem, "alice", "pw")
	ml.cmd("SELECT INBOX")
	want := ml.cmd(fetch)
	l := serveIMAP(t, s, "alice", "pw")
	l.cmd("SELECT INBOX")
	cfs.opens.Store(0)
	if got := l.cmd(fetch); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if n := cfs.opens.Load(); n != 0 {
		t.Fatalf("%d message files opened", n)
	}
}

// TestPathFromIndex: a mailbox opened without listing its directories
// finds each file where the index says it is (cur with an empty info, as
// Dovecot leaves a message it has seen without flags), without a failed
// open or a listing, so that reading a message costs one open.
func TestPathFromIndex(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "alice", "cur")
	os.MkdirAll(cur, 0o700)
	for i, info := range []string{":2,", ":2,S", ":2,", ":2,FS"} {
		os.WriteFile(filepath.Join(cur, fmt.Sprintf("%d.M1P1Q%d.host%s", 1700000000+i, i, info)), []byte(fmt.Sprintf("Subject: %d\n\nx\n", i)), 0o600)
	}
	os.WriteFile(filepath.Join(dir, "alice", "new", "1700000009.M1P1Q9.host"), []byte("Subject: new\n\nx\n"), 0o600)
	cfs := &statCountFS{}
	open := func() *Store {
		s, err := Open(dir, &Options{fs: cfs, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		s.AddUser("alice", "pw")
		return s
	}
	s := open()
	mustOpen(t, s, "INBOX")
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	s.Close()
	s = open()
	defer s.Close()
	mb := mustOpen(t, s, "INBOX")
	cfs.misses.Store(0)
	for _, m := range messages(t, mb) {
		if got := readAll(t, m); !strings.HasPrefix(got, "Subject: ") {
			t.Fatalf("UID %d: %q", m.UID(), got)
		}
	}
	if n := cfs.misses.Load(); n != 0 {
		t.Fatalf("%d opens, stats or listings looked in the wrong place", n)
	}
}

// statCountFS counts what looks for a message file in vain, and every
// listing after the first open.
type statCountFS struct {
	osFS
	misses atomic.Int64
}

func (c *statCountFS) ReadFile(name string) ([]byte, error) {
	b, err := c.osFS.ReadFile(name)
	if err != nil && isMessagePath(name) {
		c.misses.Add(1)
	}
	return b, err
}

func (c *statCountFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := c.osFS.OpenFile(name, flag, perm)
	if err != nil && isMessagePath(name) {
		c.misses.Add(1)
	}
	return f, err
}

func (c *statCountFS) Stat(name string) (fs.FileInfo, error) {
	if isMessagePath(name) {
		c.misses.Add(1)
	}
	return c.osFS.Stat(name)
}

func (c *statCountFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if b := filepath.Base(name); b == "cur" || b == "new" {
		c.misses.Add(1)
	}
	return c.osFS.ReadDir(name)
}

// TestIdleMailboxCostsNothing: after a restart, logging in and listing
// the mailboxes reads no index and holds no message: a mailbox is loaded
// by the first SELECT, EXAMINE, STATUS or delivery that needs it.
func TestIdleMailboxCostsNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	u, _ := s.User(ctx, "alice", nil)
	u.CreateMailbox(ctx, "Archive", imapserver.CreateOptions{})
	for i := 0; i < 5; i++ {
		u.Append(ctx, "Archive", strings.NewReader(crlfMsg), -1, imapserver.AppendOptions{})
		s.Deliver(ctx, "alice", strings.NewReader(crlfMsg))
	}
	s.Close()
	s = openStore(t, dir, nil)
	defer s.Close()
	l := serveIMAP(t, s, "alice", "secret")
	l.cmd(`LIST "" *`)
	us, _ := s.user("alice")
	us.mu.Lock()
	for name, mb := range us.mailboxes {
		if mb.loaded || mb.msgs != nil || mb.log != nil || mb.cache != nil {
			t.Errorf("%s loaded by LOGIN and LIST", name)
		}
	}
	us.mu.Unlock()
	l.cmd("SELECT Archive")
	us.mu.Lock()
	defer us.mu.Unlock()
	if mb := us.mailboxes["Archive"]; !mb.loaded || len(mb.msgs) != 5 {
		t.Errorf("Archive not loaded by SELECT")
	}
	if mb := us.mailboxes["INBOX"]; mb.loaded {
		t.Errorf("INBOX loaded by SELECT Archive")
	}
}

// TestSummaryMemory: the summaries kept decoded in memory stay within
// the store's bound, the answers are those of a store that keeps none,
// and what they take is given back once their messages are expunged.
func TestSummaryMemory(t *testing.T) {
	ctx := context.Background()
	var want []string
	for _, opt := range []int64{-1, 2000, 0} {
		dir := t.TempDir()
		s, err := Open(dir, &Options{Logger: slog.New(slog.DiscardHandler), SummaryMemory: opt})
		if err != nil {
			t.Fatal(err)
		}
		s.AddUser("alice", "pw")
		u, _ := s.User(ctx, "alice", nil)
		for _, m := range summaryCorpus(t) {
			if _, err := u.Append(ctx, "INBOX", strings.NewReader(m), -1, imapserver.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// A new process: its messages are loaded from the index together.
		s.now = func() time.Time { return time.Now().Add(time.Minute) }
		s.Close()
		s, err = Open(dir, &Options{Logger: slog.New(slog.DiscardHandler), SummaryMemory: opt})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		max := s.summaryMemMax
		if want := map[int64]int64{-1: 0, 2000: 2000, 0: defaultSummaryMem}[opt]; max != want {
			t.Fatalf("SummaryMemory %d: bound %d, want %d", opt, max, want)
		}
		s.AddUser("alice", "pw")
		l := serveIMAP(t, s, "alice", "pw")
		got := runSummaryCommands(l)
		got = append(got, runSummaryCommands(l)...) // from memory
		if want == nil {
			want = got
		} else {
			for i := range got {
				if !sameFetch(got[i], want[i]) {
					t.Fatalf("bound %d: %s:\n got %q\nwant %q", max, summaryCommands[i%len(summaryCommands)], got[i], want[i])
				}
			}
		}
		if n := s.summaryMem.Load(); n > max || (max > 0 && n == 0) {
			t.Fatalf("bound %d: %d octets kept", max, n)
		}
		if max == 0 {
			continue
		}
		l.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
		l.cmd("EXPUNGE")
		l.cmd("UNSELECT")
		deadline := time.Now().Add(10 * time.Second)
		for s.summaryMem.Load() != 0 && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		if n := s.summaryMem.Load(); n != 0 {
			t.Fatalf("bound %d: %d octets still counted after the expunge", max, n)
		}
	}
}
