package imapsort

import (
	"fmt"
	"testing"
	"time"
)

// RFC 5256 §4: <"01KF8JCEOCBS0045PS"@xxx.yyy.com> and
// <01KF8JCEOCBS0045PS@xxx.yyy.com> are the same Message ID; Message ID
// comparisons are otherwise case-sensitive.
func TestReferencesNormalisesIDs(t *testing.T) {
	msgs := idsMailbox()
	if got, want := FormatThreads(References(msgs), false), "(1 2 4)(3)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Step 1.A keeps an existing parent (a truncated References line); step 1.B
// breaks it and links the last reference, unless that makes a loop: 3's last
// reference is itself, so 3 loses the parent <b@x> that 1.A gave it and
// becomes a root (Dovecot answers the same, see TestAgainstDovecot).
func TestReferencesLinkRules(t *testing.T) {
	msgs := linkRulesMailbox()
	// 4 refers to itself before <a@x>: 1.B makes 4 a child of 1.
	if got, want := FormatThreads(References(msgs), false), "(1 (2)(4))(3)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Dummy pruning (step 3) and merging of dummies with the same subject
// (step 5.C): two threads whose roots are missing, one subject.
func TestReferencesDummies(t *testing.T) {
	msgs := dummiesMailbox()
	// Both dummies for "TOPIC" merge: their children become siblings.
	if got, want := FormatThreads(References(msgs), false), "((4)(2)(3)(1))(5)(6 7)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzReferences builds a mailbox from random bytes: message ids, References
// and In-Reply-To drawn from a small pool so that duplicates, missing
// parents and loops are frequent. The result must hold every message exactly
// once, and ORDEREDSUBJECT too.
func FuzzReferences(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 1, 1, 0, 2, 2, 1, 0, 3, 3, 2, 1, 0})
	f.Add([]byte("\x01\x02\x01\x02\x01\x02\x03\x03\x03\x04\x04\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := fuzzMailbox(data)
		for name, alg := range map[string]func([]Message) []*Thread{"REFERENCES": References, "ORDEREDSUBJECT": OrderedSubject} {
			seen := make(map[uint32]int)
			var walk func(list []*Thread, top bool)
			walk = func(list []*Thread, top bool) {
				for _, n := range list {
					if n.Msg == nil {
						if !top || len(n.Children) < 2 {
							t.Fatalf("%s: dummy below the root or with < 2 children", name)
						}
					} else {
						seen[n.Msg.SeqNum]++
					}
					walk(n.Children, false)
				}
			}
			threads := alg(msgs)
			walk(threads, true)
			for i := range msgs {
				if seen[msgs[i].SeqNum] != 1 {
					t.Fatalf("%s: message %d appears %d times in %s", name, msgs[i].SeqNum, seen[msgs[i].SeqNum], FormatThreads(threads, false))
				}
			}
			if len(seen) != len(msgs) {
				t.Fatalf("%s: %d messages out, %d in", name, len(seen), len(msgs))
			}
		}
	})
}

func fuzzMailbox(data []byte) []Message {
	id := func(b byte) string {
		switch b % 8 {
		case 7:
			return "broken"
		case 6:
			return ""
		}
		return fmt.Sprintf("<%d@x>", b%8)
	}
	subjects := []string{"", "a", "Re: a", "b", "[fwd: a]", "Fwd: b", "=?utf-8?q?Re=3A_A?=", "[x] re: b (fwd)", "A"}
	var msgs []Message
	for len(data) >= 3 && len(msgs) < 200 {
		m := Message{SeqNum: uint32(len(msgs) + 1), MessageID: id(data[0])}
		m.Subject = subjects[int(data[1])%len(subjects)]
		m.InternalDate = time.Unix(int64(data[1]>>4), 0).UTC()
		if data[2]&0x80 != 0 {
			m.Date = time.Unix(int64(data[2]>>3)*600, 0).UTC().Format(time.RFC1123Z)
		}
		n := int(data[2] % 5)
		data = data[3:]
		for i := 0; i < n && len(data) > 0; i++ {
			m.References += id(data[0]) + " "
			data = data[1:]
		}
		if n == 4 {
			m.InReplyTo, m.References = m.References, ""
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func idsMailbox() []Message {
	return []Message{
		{SeqNum: 1, MessageID: `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>`, Subject: "a"},
		{SeqNum: 2, MessageID: `<x@y>`, References: `<01KF8JCEOCBS0045PS@xxx.yyy.com>`, Subject: "b"},
		{SeqNum: 3, MessageID: `<z@y>`, References: `<01kf8jceocbs0045ps@xxx.yyy.com>`, Subject: "c"},
		// No "@": not a msg-id, so no reference; In-Reply-To is used.
		{SeqNum: 4, References: `<garbage>`, InReplyTo: `<x@y> <z@y>`, Subject: "d"},
	}
}

func linkRulesMailbox() []Message {
	return []Message{
		{SeqNum: 1, MessageID: "<a@x>", Subject: "s1"},
		{SeqNum: 2, MessageID: "<b@x>", References: "<a@x>", Subject: "s2"},
		{SeqNum: 3, MessageID: "<c@x>", References: "<b@x> <c@x>", Subject: "s3"}, // refers to itself
		// 1.A would make <b@x> a child of <c@x>, but b has a parent: kept.
		{SeqNum: 4, MessageID: "<d@x>", References: "<c@x> <b@x> <d@x> <a@x>", Subject: "s4"},
	}
}

func dummiesMailbox() []Message {
	d := func(h int) string { return fmt.Sprintf("Mon, 1 Jan 2024 %02d:00:00 +0000", h) }
	return []Message{
		{SeqNum: 1, MessageID: "<1@x>", References: "<gone1@x>", Subject: "Re: Topic", Date: d(5)},
		{SeqNum: 2, MessageID: "<2@x>", References: "<gone1@x>", Subject: "Re: Topic", Date: d(3)},
		{SeqNum: 3, MessageID: "<3@x>", References: "<gone2@x>", Subject: "Re: topic", Date: d(4)},
		{SeqNum: 4, MessageID: "<4@x>", References: "<gone2@x>", Subject: "Re: TOPIC", Date: d(1)},
		// A dummy with one child under the root: the child is promoted.
		{SeqNum: 5, MessageID: "<5@x>", References: "<gone3@x>", Subject: "Other", Date: d(2)},
		// A chain of dummies below a message: spliced away.
		{SeqNum: 6, MessageID: "<6@x>", Subject: "Chain", Date: d(6)},
		{SeqNum: 7, MessageID: "<7@x>", References: "<6@x> <g1@x> <g2@x>", Subject: "Re: Chain", Date: d(7)},
	}
}
