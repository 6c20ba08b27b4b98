package imapsort

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// mailbox is the hand-made mailbox whose SORT orders and THREAD trees are
// written out below. Internal dates of messages with a usable Date field lie
// in February, in the reverse order of arrival, so that DATE and ARRIVAL
// differ; messages 4, 5 and 9 have no usable Date and sort by internal date.
func mailbox() []Message {
	feb := func(seq int) time.Time { return utc("2024-02-01 00:00").Add(time.Duration(15-seq) * time.Hour) }
	msgs := []Message{
		{Subject: "Meeting agenda", Date: "Mon, 1 Jan 2024 10:00:00 +0000", From: "Alice <alice@example.org>", To: "bob@example.org",
			MessageID: "<m1@x>", Size: 500},
		{Subject: "Re: Meeting agenda", Date: "Mon, 1 Jan 2024 11:00:00 +0000", From: "Bob <bob@example.org>", To: "alice@example.org",
			Cc: "x@example.org", MessageID: "<m2@x>", References: "<m1@x>", Size: 300},
		// 04:00 UTC: the zone is applied (RFC 5256 §2.2).
		{Subject: "=?utf-8?q?Caf=C3=A9?= plans", Date: "Sun, 31 Dec 2023 23:00:00 -0500", From: "carol@example.org",
			MessageID: "<m3@x>", Size: 1000},
		// A forward wrapper; no Date: internal date.
		{Subject: "[fwd: Re: Meeting agenda]", From: "Dave <dave@example.org>", MessageID: "<m4@x>",
			InternalDate: utc("2024-01-02 09:00"), Size: 200},
		// Unparsable Date; a broken id between the good ones; the last
		// reference is missing from the mailbox.
		{Subject: "RE: [ops] Fwd: café plans (fwd)", Date: "not a date", From: "=?utf-8?q?=C3=89mile?= <emile@example.org>",
			MessageID: "<m5@x>", References: "<m3@x> broken-no-brackets <m-missing@x>",
			InternalDate: utc("2024-01-01 05:00"), Size: 700},
		{Subject: "Re: Meeting agenda", Date: "Mon, 1 Jan 2024 12:00:00 +0000", From: "Bob <bob@example.org>",
			MessageID: "<m6@x>", References: "<m1@x> <m2@x>", Size: 300},
		// A reference loop: 7 refers to 8 and 8 to 7.
		{Subject: "Loop A", Date: "Wed, 3 Jan 2024 10:00:00 +0000", From: "zed@example.org",
			MessageID: "<la@x>", References: "<lb@x>", Size: 100},
		{Subject: "Loop B", Date: "Wed, 3 Jan 2024 11:00:00 +0000", From: "zed@example.org",
			MessageID: "<lb@x>", References: "<la@x>", Size: 100},
		// Nothing at all.
		{InternalDate: utc("2024-01-04 00:00"), Size: 50},
		// A duplicate Message-ID: only message 2 owns <m2@x>.
		{Subject: "Re: Meeting agenda", Date: "Mon, 1 Jan 2024 13:00:00 +0000", From: "Bob <BOB@example.org>",
			MessageID: "<m2@x>", References: "<m1@x>", Size: 300},
		// In-Reply-To with a phrase after the id, parent not in the mailbox.
		{Subject: "Fwd: Lunch", Date: "Fri, 5 Jan 2024 10:00:00 +0000", From: "alice@example.org",
			MessageID: "<l2@x>", InReplyTo: "<l1@x> (message from Alice)", Size: 400},
		{Subject: "Lunch", Date: "Fri, 5 Jan 2024 09:00:00 +0000", From: "Carol <carol@example.org>",
			MessageID: "<l3@x>", References: "<l0@x>", Size: 400},
		// Same subject, neither a reply: merged under a dummy.
		{Subject: "Quarterly report", Date: "Sat, 6 Jan 2024 09:00:00 +0000", From: "frank@example.org",
			MessageID: "<q1@x>", Size: 600},
		{Subject: "quarterly  REPORT", Date: "Sun, 7 Jan 2024 09:00:00 +0000", From: `"A B" <a.b@example.org>`,
			MessageID: `<"q2"@x>`, Size: 600},
	}
	for i := range msgs {
		msgs[i].SeqNum = uint32(i + 1)
		msgs[i].UID = uint32(10 * (i + 1))
		if msgs[i].InternalDate.IsZero() {
			msgs[i].InternalDate = feb(i + 1)
		}
	}
	return msgs
}

func seqs(ms []*Message) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, m.SeqNum)
	}
	return b.String()
}

// The expected orders were worked out by hand from RFC 5256 §3: ascending,
// the empty string first, ties by sequence number, REVERSE per criterion.
func TestSortMailbox(t *testing.T) {
	tests := []struct {
		criteria string
		want     string
	}{
		// C: a SORT (SUBJECT) UTF-8 ALL
		{"SUBJECT", "9 3 5 7 8 11 12 1 2 4 6 10 13 14"},
		{"DATE", "3 5 1 2 6 10 4 7 8 9 12 11 13 14"},
		{"ARRIVAL", "5 4 9 14 13 12 11 10 8 7 6 3 2 1"},
		{"SIZE", "9 7 8 4 2 6 10 11 12 1 13 14 5 3"},
		// REVERSE does not reverse the implicit sequence-number criterion.
		{"REVERSE SIZE", "3 5 13 14 1 11 12 2 6 10 4 7 8 9"},
		{"FROM", "9 14 1 11 2 6 10 3 12 4 5 13 7 8"},
		{"DISPLAYFROM", "9 14 1 11 2 6 10 12 3 4 13 7 8 5"},
		{"TO", "3 4 5 6 7 8 9 10 11 12 13 14 2 1"},
		{"CC", "1 3 4 5 6 7 8 9 10 11 12 13 14 2"},
		// RFC 5256 §3 example shape: (SUBJECT REVERSE DATE).
		{"SUBJECT REVERSE DATE", "9 5 3 7 8 11 12 4 10 6 2 1 14 13"},
		{"SIZE FROM", "9 7 8 4 2 6 10 11 12 1 14 13 5 3"},
	}
	msgs := mailbox()
	for _, tt := range tests {
		t.Run(tt.criteria, func(t *testing.T) {
			var crit []Criterion
			rev := false
			for _, w := range strings.Fields(tt.criteria) {
				if w == "REVERSE" {
					rev = true
					continue
				}
				k, ok := ParseKey(w)
				if !ok {
					t.Fatalf("unknown key %s", w)
				}
				crit = append(crit, Criterion{Key: k, Reverse: rev})
				rev = false
			}
			if got := seqs(Sort(msgs, crit)); got != tt.want {
				t.Errorf("S: * SORT %s\nwant: * SORT %s", got, tt.want)
			}
		})
	}
	// A cached sent date is used as it is.
	cached := slices.Clone(msgs)
	cached[13].Sent = utc("2000-01-01 00:00")
	if got := seqs(Sort(cached, []Criterion{{Key: Date}})); !strings.HasPrefix(got, "14 3 5") {
		t.Errorf("SORT (DATE) with Sent set on 14: %s", got)
	}
	// UID SORT answers with UIDs.
	got := Numbers(Sort(msgs, []Criterion{{Key: Size}}), true)
	if !slices.Equal(got[:3], []uint32{90, 70, 80}) {
		t.Errorf("UID SORT (SIZE): %v", got)
	}
}

// The trees were worked out by hand, step by step of RFC 5256 §4.
//
// REFERENCES: 2, 6 (via 2) and 10 (duplicate id, own unique id) hang under 1;
// 5 hangs under a dummy for <m-missing@x> under 3, and the dummy is pruned
// (step 3); 7 and 8 refer to each other, the link that would close the loop
// is not made; 11 and 12 are promoted from single-child dummies to the root,
// then 11 ("Fwd: Lunch") becomes a child of 12 ("Lunch") in step 5, as does
// 4 ("[fwd: …]") of 1; 13 and 14 share a subject, neither is a reply, so a
// dummy holds both.
func TestThreadMailbox(t *testing.T) {
	msgs := mailbox()
	tests := []struct {
		alg  string
		f    func([]Message) []*Thread
		uid  bool
		want string
	}{
		{"REFERENCES", References, false, "(3 5)(1 (2 6)(10)(4))(8 7)(9)(12 11)((13)(14))"},
		{"REFERENCES", References, true, "(30 50)(10 (20 60)(100)(40))(80 70)(90)(120 110)((130)(140))"},
		{"ORDEREDSUBJECT", OrderedSubject, false, "(3 5)(1 (2)(6)(10)(4))(7)(8)(9)(12 11)(13 14)"},
	}
	for _, tt := range tests {
		got := FormatThreads(tt.f(msgs), tt.uid)
		if got != tt.want {
			t.Errorf("THREAD %s (uid %v):\n got * THREAD %s\nwant * THREAD %s", tt.alg, tt.uid, got, tt.want)
		}
	}
	// The input order does not matter: sequence numbers do.
	rev := slices.Clone(msgs)
	slices.Reverse(rev)
	if got := FormatThreads(References(rev), false); got != tests[0].want {
		t.Errorf("REFERENCES of reversed input: %s", got)
	}
	if got := seqs(Sort(rev, []Criterion{{Key: Subject}})); got != "9 3 5 7 8 11 12 1 2 4 6 10 13 14" {
		t.Errorf("SORT of reversed input: %s", got)
	}
}

func TestThreadEmpty(t *testing.T) {
	if got := FormatThreads(References(nil), false); got != "" {
		t.Errorf("%q", got)
	}
	if got := FormatThreads(OrderedSubject(nil), false); got != "" {
		t.Errorf("%q", got)
	}
}

// RFC 5256 §4 THREAD response examples.
func TestFormatRFCExamples(t *testing.T) {
	m := func(n uint32, kids ...*Thread) *Thread {
		return &Thread{Msg: &Message{SeqNum: n, UID: n}, Children: kids}
	}
	// S: * THREAD (2)(3 6 (4 23)(44 7 96))
	threads := []*Thread{m(2), m(3, m(6, m(4, m(23)), m(44, m(7, m(96)))))}
	if got := FormatThreads(threads, false); got != "(2)(3 6 (4 23)(44 7 96))" {
		t.Errorf("got %s", got)
	}
	// S: * THREAD ((3)(5))
	if got := FormatThreads([]*Thread{{Children: []*Thread{m(3), m(5)}}}, true); got != "((3)(5))" {
		t.Errorf("got %s", got)
	}
}

// A domain-less address ("From: d") sorts by its word, as Dovecot sorts
// it and imaptest's sort-display-from expects, not as an empty key first
// (RFC 5957 §3; issue 12 defect 8).
func TestSortDomainlessAddress(t *testing.T) {
	msgs := []Message{
		{From: "foo bar <a@b.c>", To: "foo bar <a@b.c>"},
		{From: "b@c.d", To: "b@c.d"},
		{From: "d", To: "<d>"},
		{From: "=?iso-8859-1?q?foo_aar?= <e@f.g>", To: "=?iso-8859-1?q?foo_aar?= <e@f.g>"},
		{From: "", To: ""},
	}
	for i := range msgs {
		msgs[i].SeqNum = uint32(i + 1)
	}
	for _, tt := range []struct {
		key  Key
		want string
	}{
		{DisplayFrom, "5 2 3 4 1"},
		{DisplayTo, "5 2 3 4 1"},
		{From, "5 1 2 3 4"},
	} {
		if got := seqs(Sort(msgs, []Criterion{{Key: tt.key}})); got != tt.want {
			t.Errorf("SORT (%v): %s, want %s", tt.key, got, tt.want)
		}
	}
}
