package imapclient

import (
	"io"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// The consumer of a streaming FETCH parses on by itself after a body
// section (see FetchCommand.owned): several sections in one message,
// messages without sections, other responses between FETCH responses and
// items after a section must all come out in order, and the connection
// must go on afterwards.
func TestWireFetchParseOn(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
		C: T1 FETCH 1:4 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] FLAGS)
		S: * 1 FETCH (BODY[HEADER] {4}\r\nh1\r\n BODY[TEXT] {2}\r\nt1 FLAGS (\Seen))
		S: * 2 FETCH (FLAGS () BODY[HEADER] {2}\r\nh2 BODY[TEXT] NIL)
		S: * 9 EXISTS
		S: * 3 FETCH (FLAGS (\Flagged))
		S: * 4 FETCH (BODY[TEXT] {2}\r\nt4 BODY[HEADER] "h4")
		S: * OK [ALERT] hello
		S: T1 OK done
		C: T2 NOOP
		S: T2 OK done
	`)
	var alerts []string
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, &Options{Handler: &Handler{Alert: func(s string) { alerts = append(alerts, s) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	fc := c.Fetch(ctx, imap.NumSetOf(1, 2, 3, 4), []imap.FetchAtt{
		{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true, Specifier: imap.PartHeader}},
		{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true, Specifier: imap.PartText}},
		{Item: imap.FetchFlags},
	}, nil)
	for m := fc.Next(); m != nil; m = fc.Next() {
		for it := m.Next(); it != nil; it = m.Next() {
			switch it := it.(type) {
			case FetchItemBodySection:
				b, err := io.ReadAll(it.Literal)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(it.Section.Specifier)+"="+string(b))
			case FetchItemFlags:
				got = append(got, "flags"+strings.Repeat("+", len(it.Flags)))
			}
		}
		got = append(got, "|")
	}
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
	want := "HEADER=h1\r\n TEXT=t1 flags+ | flags HEADER=h2 TEXT= | flags+ | TEXT=t4 HEADER=h4 |"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("got  %q\nwant %q", s, want)
	}
	if mb := c.Mailbox(); mb != nil {
		t.Fatalf("mailbox state without SELECT: %+v", mb)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("alerts %q", alerts)
	}
	checkScript(t, errc)
}

// Closing a FETCH while the consumer holds the section of a message it
// parsed itself leaves the rest to the reader goroutine, which drops it;
// the connection goes on.
func TestWireFetchCloseWhileParsingOn(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
		C: T1 FETCH 1:3 (BODY.PEEK[])
		S: * 1 FETCH (BODY[] {3}\r\none)
		S: * 2 FETCH (BODY[] {10}\r\ntwo-------)
		S: * 3 FETCH (BODY[] {5}\r\nthree FLAGS (\Seen))
		S: T1 OK done
		C: T2 NOOP
		S: T2 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := c.Fetch(ctx, imap.NumSetOf(1, 2, 3), []imap.FetchAtt{{Item: imap.FetchBodySection, Section: &imap.FetchSection{Peek: true}}}, nil)
	m := fc.Next()
	s := m.Next().(FetchItemBodySection)
	if b, _ := io.ReadAll(s.Literal); string(b) != "one" {
		t.Fatalf("message 1 %q", b)
	}
	m = fc.Next() // parsed by this goroutine
	if m == nil || m.SeqNum != 2 {
		t.Fatalf("message 2 %+v", m)
	}
	s = m.Next().(FetchItemBodySection)
	buf := make([]byte, 3)
	if _, err := io.ReadFull(s.Literal, buf); err != nil || string(buf) != "two" {
		t.Fatalf("message 2 %q %v", buf, err)
	}
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Literal.Read(buf); err == nil {
		t.Fatal("section readable after Close")
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	checkScript(t, errc)
}

// Messages parsed ahead are handed over as soon as the server pauses,
// not held back until a batch fills or the command completes: here the
// server sends the tagged OK only after the client has seen message 1.
func TestWireFetchBatchFlushedWhenIdle(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready
		C: T1 FETCH 1:2 (UID)
		S: * 1 FETCH (UID 1)
		C: T2 NOOP
		S: * 2 FETCH (UID 2)
		S: T2 OK done
		S: T1 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := c.Fetch(ctx, imap.NumSetOf(1, 2), []imap.FetchAtt{{Item: imap.FetchUID}}, nil)
	m := fc.Next()
	if m == nil || m.SeqNum != 1 {
		t.Fatalf("message 1: %+v", m)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if m := fc.Next(); m == nil || m.SeqNum != 2 {
		t.Fatalf("message 2: %+v", m)
	}
	if m := fc.Next(); m != nil {
		t.Fatalf("extra message %+v", m)
	}
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
	checkScript(t, errc)
}
