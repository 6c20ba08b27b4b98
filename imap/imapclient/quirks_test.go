package imapclient

import (
	"testing"

	"github.com/posthorn/posthorn/imap"
)

// What real servers send that the grammar does not quite allow
// (RFC 9051 §9), as seen from Gmail, Outlook/Exchange, Yahoo and older
// servers: the client reads each and keeps going.
func TestWireServerQuirks(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+ X-GM-EXT-1] ready
		C: T1 UID FETCH 1:* (UID FLAGS INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
		S: * 1 fetch (uid 11 flags (\Seen ) internaldate "5-Jan-2024 10:00:00 +0000" X-GM-THRID 1278455344230334865 X-GM-LABELS ({4}\r\nWork "\\Important") envelope (NIL "subject" (("Name" NIL "a" "example.org")) NIL NIL ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<id@x>") bodystructure ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1) BODY[HEADER.FIELDS ("SUBJECT")] {0}\r\n)
		S: * 2 FETCH (FLAGS () UID 12 INTERNALDATE "05-Jan-2024 10:00:00 -0800" ENVELOPE ("date" NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE ((NIL NIL NIL NIL NIL "7BIT" 0 0)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 20 2 NIL NIL NIL NIL) "mixed") BODY[HEADER.FIELDS (Subject)] {15}\r\nSubject: hi\r\n\r\n)
		S: T1 OK Success
	`)
	ctx := testCtx(t)
	var perrs []error
	c, err := Dial(ctx, addr, &Options{Handler: &Handler{ParseError: func(e *ParseError) { perrs = append(perrs, e) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := &imap.FetchSection{Peek: true, Specifier: imap.PartHeaderFields, Fields: []string{"SUBJECT"}}
	msgs, err := c.UIDFetch(ctx, imap.NumSet{Ranges: []imap.Range{{Start: 1, Stop: imap.Star}}}, []imap.FetchAtt{
		{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchInternalDate}, {Item: imap.FetchEnvelope},
		{Item: imap.FetchBodyStructure}, {Item: imap.FetchBodySection, Section: hdr},
	}, nil).Collect()
	if err != nil {
		checkScript(t, errc)
		t.Fatal(err)
	}
	if len(perrs) > 0 {
		t.Fatalf("parse errors: %v", perrs)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.UID != 11 || len(m.Flags) != 1 || m.InternalDate.Day() != 5 || m.Envelope.Subject != "subject" || len(m.Other) != 2 {
		t.Fatalf("message 1 %+v", m)
	}
	if labels, ok := m.Other[1].Value.([]Value); !ok || len(labels) != 2 || labels[0] != "Work" || labels[1] != `\Important` {
		t.Fatalf("X-GM-LABELS %#v", m.Other[1].Value)
	}
	if m.BodyStructure == nil || m.BodyStructure.Lines != 1 || len(m.BodySections) != 1 || len(m.BodySections[0].Bytes) != 0 {
		t.Fatalf("message 1 structure %+v sections %+v", m.BodyStructure, m.BodySections)
	}
	m = msgs[1]
	if m.UID != 12 || !m.HasFlags || len(m.Flags) != 0 || m.Envelope.Date != "date" {
		t.Fatalf("message 2 %+v", m)
	}
	if bs := m.BodyStructure; bs == nil || len(bs.Children) != 2 || bs.Children[1].Params[0].Value != "utf-8" {
		t.Fatalf("message 2 structure %+v", m.BodyStructure)
	}
	if got := string(m.Section(hdr)); got != "Subject: hi\r\n\r\n" {
		t.Fatalf("header fields %q", got)
	}
	checkScript(t, errc)
}
