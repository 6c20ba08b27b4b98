package imapclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// scripted runs a fake server that follows script, lines written as the
// RFCs show exchanges: "S: ..." is sent, "C: ..." must be what the client
// sends next (tags are T1, T2, ... in issue order). It returns the address
// and a channel that reports the first mismatch (or nil at the end).
func scripted(t *testing.T, script string) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	errc := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "S: "):
				conn.Write([]byte(strings.ReplaceAll(line[3:], `\r\n`, "\r\n") + "\r\n"))
			case strings.HasPrefix(line, "C: "):
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := r.ReadString('\n')
				if err != nil {
					errc <- errors.New("reading " + line[3:] + ": " + err.Error())
					return
				}
				if want := line[3:] + "\r\n"; got != want {
					errc <- errors.New("client sent " + strings.TrimSpace(got) + ", want " + line[3:])
					return
				}
			case line == "CLOSE":
				conn.Close()
			}
		}
		errc <- nil
		io.Copy(io.Discard, r)
	}()
	return ln.Addr().String(), errc
}

func checkScript(t *testing.T, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("script did not finish")
	}
}

// Tolerant parsing of what real servers send (RFC 9051 §7.5.2 FETCH, plus
// Gmail's X-GM-* items, NIL where a string was due, odd spacing), and
// unsolicited data reaching the handler and the mailbox state.
func TestWireFetchTolerance(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
		C: T1 SELECT INBOX
		S: * 3 EXISTS
		S: * FLAGS (\Seen \Deleted $Junk)
		S: * OK [UIDVALIDITY 42] x
		S: * OK [UIDNEXT 10] x
		S: * OK [PERMANENTFLAGS (\Seen \*)] x
		S: T1 OK [READ-WRITE] done
		C: T2 UID FETCH 1:* (UID ENVELOPE BODY.PEEK[])
		S: * 1 FETCH (UID 7 X-GM-LABELS ("\\Inbox" Work) X-GM-MSGID 1278455344230334865  ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY[] {5}\r\nhello)
		S: * 2 FETCH (FLAGS (\Seen) UID 8 BODY[] NIL )
		S: * 2 EXPUNGE
		S: * OK [ALERT] maintenance at noon
		S: T2 OK done
		C: T3 NOOP
		S: * 3 FETCH (FLAGS (\Flagged))
		S: * 4 EXISTS
		S: T3 OK done
	`)
	var alerts []string
	var fetched []*FetchMessageBuffer
	var expunged []uint32
	h := &Handler{
		Alert:   func(s string) { alerts = append(alerts, s) },
		Fetch:   func(m *FetchMessageBuffer) { fetched = append(fetched, m) },
		Expunge: func(n uint32) { expunged = append(expunged, n) },
	}
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sd, err := c.Select(ctx, "INBOX", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sd.NumMessages != 3 || sd.UIDValidity != 42 || sd.UIDNext != 10 || len(sd.PermanentFlags) != 2 || len(sd.Flags) != 3 {
		t.Fatalf("SELECT %+v", sd.MailboxState)
	}
	msgs, err := c.UIDFetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}, []imap.FetchAtt{
		{Item: imap.FetchUID}, {Item: imap.FetchEnvelope}, {Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}},
	}, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].UID != 7 || string(msgs[0].BodySections[0].Bytes) != "hello" || len(msgs[0].Other) != 2 {
		t.Fatalf("messages %+v", msgs)
	}
	if msgs[0].Other[0].Name != "X-GM-LABELS" || msgs[0].Envelope == nil {
		t.Fatalf("X-GM-LABELS %+v", msgs[0].Other)
	}
	if !msgs[1].BodySections[0].Nil || msgs[1].UID != 8 {
		t.Fatalf("NIL body %+v", msgs[1])
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0] != "maintenance at noon" {
		t.Fatalf("alerts %q", alerts)
	}
	if len(expunged) != 1 || len(fetched) != 1 || fetched[0].SeqNum != 3 || !imap.HasFlag(fetched[0].Flags, imap.FlagFlagged) {
		t.Fatalf("expunged %v fetched %+v", expunged, fetched)
	}
	if mb := c.Mailbox(); mb.NumMessages != 4 {
		t.Fatalf("state %+v", mb)
	}
	checkScript(t, errc)
}

// RFC 9051 §7.5: without LITERAL+ a synchronising literal waits for the
// continuation request; a refused APPEND literal leaves the connection
// usable (RFC 7888 §4, TOOBIG).
func TestWireSyncLiterals(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1] ready
		C: T1 LOGIN alice {9}
		S: + go ahead
		C: pässword
		S: T1 OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in
		C: T2 APPEND INBOX {100000000}
		S: T2 NO [TOOBIG] too big
		C: T3 APPEND INBOX (\Seen) {5}
		S: + ok
		C: hello
		S: T3 OK [APPENDUID 5 9] done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "pässword"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Append(ctx, "INBOX", 100000000, strings.NewReader(""), nil)
	if !errors.Is(err, &imap.Error{Type: imap.StatusNO, Code: imap.CodeTooBig}) {
		t.Fatalf("got %v", err)
	}
	ad, err := c.Append(ctx, "INBOX", 5, strings.NewReader("hello"), &AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if err != nil {
		t.Fatal(err)
	}
	if ad.UIDValidity != 5 || ad.UID != 9 {
		t.Fatalf("APPENDUID %+v", ad)
	}
	checkScript(t, errc)
}

// RFC 9051 §7.1.5: BYE ends the connection; the pending command fails
// with an error that is both ErrClosed and the BYE *imap.Error.
func TestWireBye(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK ready
		C: T1 NOOP
		S: * BYE [UNAVAILABLE] shutting down
		CLOSE
	`)
	var bye *imap.Error
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Handler: &Handler{Bye: func(e *imap.Error) { bye = e }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Noop(ctx)
	var ie *imap.Error
	if !errors.Is(err, ErrClosed) || !errors.As(err, &ie) || ie.Type != imap.StatusBYE || ie.Code != imap.CodeUnavailable {
		t.Fatalf("got %v", err)
	}
	if bye == nil {
		t.Fatal("handler not told")
	}
	checkScript(t, errc)
}

// A literal over Limits.MaxSection closes the connection instead of
// reading it.
func TestWireLiteralLimit(t *testing.T) {
	addr, _ := scripted(t, `
		S: * OK ready
		C: T1 FETCH 1 (BODY.PEEK[])
		S: * 1 FETCH (BODY[] {1000000}
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Limits: Limits{MaxSection: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Fetch(ctx, imap.NumSetOf(1), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}}, nil).Collect()
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// RFC 7162 §3.2.5: SELECT with QRESYNC reports vanished UIDs and changed
// flags.
func TestWireQResync(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC ENABLE] ready
		C: T1 ENABLE QRESYNC
		S: * ENABLED QRESYNC
		S: T1 OK done
		C: T2 SELECT INBOX (QRESYNC (67890007 20050715194045000 41:211,214:541))
		S: * 314 EXISTS
		S: * OK [UIDVALIDITY 67890007] x
		S: * OK [HIGHESTMODSEQ 20050715194045319] x
		S: * VANISHED (EARLIER) 41,43:116,118,120:211,214:540
		S: * 49 FETCH (UID 117 FLAGS (\Seen \Answered) MODSEQ (90060115194045001))
		S: T2 OK [READ-WRITE] done
		C: T3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 20050715194045319 VANISHED)
		S: * VANISHED (EARLIER) 300
		S: T3 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if en, err := c.Enable(ctx, "QRESYNC"); err != nil || len(en) != 1 {
		t.Fatal(en, err)
	}
	known, _ := imap.ParseNumSet("41:211,214:541")
	sd, err := c.Select(ctx, "INBOX", &SelectOptions{QResync: &QResyncParams{UIDValidity: 67890007, ModSeq: 20050715194045000, KnownUIDs: imap.UIDSet{NumSet: known}}})
	if err != nil {
		t.Fatal(err)
	}
	if sd.HighestModSeq != 20050715194045319 || sd.Vanished.Count(0) != 1+74+1+92+327 || len(sd.Changed) != 1 || sd.Changed[0].ModSeq != 90060115194045001 {
		t.Fatalf("QRESYNC %+v", sd)
	}
	if sd.NumMessages != 314 {
		t.Fatalf("VANISHED (EARLIER) changed the count: %d", sd.NumMessages)
	}
	_, err = c.UIDFetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}, []imap.FetchAtt{{Item: imap.FetchFlags}}, &FetchOptions{ChangedSince: 20050715194045319, Vanished: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	checkScript(t, errc)
}

// A context that ends while a command waits for its completion abandons
// it; the late responses are dropped and the connection goes on.
func TestWireAbandon(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK ready
		C: T1 SEARCH ALL
		C: T2 NOOP
		S: * SEARCH 1 2 3
		S: T1 OK late
		S: T2 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.Search(sctx, &imap.SearchCriteria{Keys: []imap.SearchKey{{Op: imap.SearchAll}}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	checkScript(t, errc)
}

// A garbled untagged response, one over MaxLine and one with a literal
// over MaxString are skipped to their end (stepping over their literals,
// RFC 9051 §4.3) and reported to Handler.ParseError; the command they
// came with completes and the connection stays usable.
func TestWireRecoverGarbled(t *testing.T) {
	long := strings.Repeat("x", 3000)
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1] ready
		C: T1 NOOP
		S: * 1 FETCH (UID 1 FLAGS (\Seen) ENVELOPE ("date" {5}\r\nab\r\nc ) garbage {3}\r\nx\r\n)
		S: * 2 FETCH (UID 2 FLAGS (\Seen))
		S: * LIST (\Noselect "/" `+long+`
		S: * 3 FETCH (UID 3 X-ITEM {2000}\r\n`+long[:2000]+`)
		S: * XDATA (((((((( 1))))))))
		S: T1 OK done
		C: T2 NOOP
		S: T2 OK done
	`)
	var perrs []*ParseError
	var fetched []uint32
	h := &Handler{
		ParseError: func(e *ParseError) { perrs = append(perrs, e) },
		Fetch:      func(m *FetchMessageBuffer) { fetched = append(fetched, m.UID) },
	}
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Handler: h, Limits: Limits{MaxLine: 1000, MaxString: 1000, MaxDepth: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(perrs) != 4 {
		t.Fatalf("%d parse errors: %v", len(perrs), perrs)
	}
	var le *LimitError
	if !errors.As(perrs[3], &le) {
		t.Errorf("nesting error %v", perrs[3])
	}
	if len(fetched) != 1 || fetched[0] != 2 {
		t.Fatalf("fetched %v", fetched)
	}
	checkScript(t, errc)
}
