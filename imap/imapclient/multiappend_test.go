package imapclient

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// RFC 3502 §6.3.11: one APPEND carries several messages, each with its own
// flags and date; with synchronising literals every literal waits for its
// own continuation request, and the APPENDUID code holds a UID set in the
// messages' order (RFC 4315 §3). A NO in place of the second continuation
// ends the command and leaves the connection usable.
func TestWireMultiAppend(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 MULTIAPPEND UIDPLUS] ready
		C: T1 APPEND saved-messages (\Seen) {5}
		S: + ok
		C: hello (\Flagged) " 4-Mar-2024 05:06:07 +0100" {3}
		S: + ok
		C: bye
		S: T1 OK [APPENDUID 38505 3955:3956] MULTIAPPEND completed
		C: T2 APPEND saved-messages {2}
		S: + ok
		C: hi {100000000}
		S: T2 NO [TOOBIG] too big, nothing appended
		C: T3 NOOP
		S: T3 OK done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	when := time.Date(2024, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	ad, err := c.AppendMulti(ctx, "saved-messages", []AppendMessage{
		{Size: 5, Body: strings.NewReader("hello"), Options: &AppendOptions{Flags: []imap.Flag{imap.FlagSeen}}},
		{Size: 3, Body: strings.NewReader("bye"), Options: &AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}, Time: when}},
	})
	if err != nil {
		checkScript(t, errc)
		t.Fatal(err)
	}
	if ad.UIDValidity != 38505 || ad.UID != 3955 || ad.UIDs.String() != "3955:3956" {
		t.Fatalf("APPENDUID %+v", ad)
	}
	_, err = c.AppendMulti(ctx, "saved-messages", []AppendMessage{
		{Size: 2, Body: strings.NewReader("hi")},
		{Size: 100000000, Body: strings.NewReader("")},
	})
	if !errors.Is(err, &imap.Error{Type: imap.StatusNO, Code: imap.CodeTooBig}) {
		t.Fatalf("got %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	checkScript(t, errc)
}

// Without MULTIAPPEND, AppendMulti falls back to one APPEND per message
// and gathers the APPENDUIDs.
func TestWireMultiAppendFallback(t *testing.T) {
	addr, errc := scripted(t, `
		S: * OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready
		C: T1 APPEND INBOX {1+}
		C: a
		S: T1 OK [APPENDUID 7 10] done
		C: T2 APPEND INBOX {1+}
		C: b
		S: T2 OK [APPENDUID 7 11] done
	`)
	ctx := testCtx(t)
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ad, err := c.AppendMulti(ctx, "INBOX", []AppendMessage{
		{Size: 1, Body: strings.NewReader("a")},
		{Size: 1, Body: strings.NewReader("b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ad.UIDValidity != 7 || ad.UID != 10 || ad.UIDs.String() != "10:11" {
		t.Fatalf("APPENDUID %+v", ad)
	}
	checkScript(t, errc)
}

// testMultiAppend appends three messages in one command to a real server
// and reads them back by the UIDs of APPENDUID.
func testMultiAppend(t *testing.T, p peer) {
	c := login(t, p.addr, p.user, p.pass, nil)
	ctx := testCtx(t)
	if !c.Has(ctx, "MULTIAPPEND") {
		t.Logf("%s does not offer MULTIAPPEND: testing the one-by-one fallback", p.name)
	} else {
		t.Logf("%s offers MULTIAPPEND: one APPEND command", p.name)
	}
	name := newMailbox(t, c, 0)
	var msgs []AppendMessage
	var bodies []string
	for i := 1; i <= 3; i++ {
		m := msg(fmt.Sprintf("multi %d", i), strings.Repeat(fmt.Sprintf("line %d\r\n", i), 1000*i))
		bodies = append(bodies, m)
		opts := &AppendOptions{Time: time.Date(2024, 1, i, 0, 0, 0, 0, time.UTC)}
		if i == 2 {
			opts.Flags = []imap.Flag{imap.FlagFlagged}
		}
		msgs = append(msgs, AppendMessage{Size: int64(len(m)), Body: strings.NewReader(m), Options: opts})
	}
	ad, err := c.AppendMulti(ctx, name, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if ad.UIDValidity == 0 || ad.UIDs.Count(0) != 3 {
		t.Fatalf("APPENDUID %+v", ad)
	}
	body := &imap.FetchSection{Peek: true}
	got, err := c.UIDFetch(ctx, ad.UIDs, []imap.FetchAtt{{Item: imap.FetchUID}, {Item: imap.FetchFlags}, {Item: imap.FetchInternalDate}, {Item: imap.FetchBodySection, Section: body}}, nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d messages", len(got))
	}
	for i, m := range got {
		if m.UID != ad.UID+uint32(i) || string(m.Section(body)) != bodies[i] || m.InternalDate.Day() != i+1 {
			t.Fatalf("message %d: UID %d date %v, %d bytes", i+1, m.UID, m.InternalDate, len(m.Section(body)))
		}
		if imap.HasFlag(m.Flags, imap.FlagFlagged) != (i == 1) {
			t.Fatalf("message %d flags %v", i+1, m.Flags)
		}
	}
}

func TestMultiAppendOurServer(t *testing.T) {
	s := startServer(t)
	testMultiAppend(t, peer{name: "posthorn", addr: s.addr, user: "alice", pass: "alicepw"})
}

func TestMultiAppendDovecot(t *testing.T) {
	d := sharedDovecot(t)
	testMultiAppend(t, peer{name: "dovecot", addr: d.IMAP, user: "alice", pass: "alicepw"})
}
