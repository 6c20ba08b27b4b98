package imapsort

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// withKeys returns a copy of msgs carrying cached Keys.
func withKeys(msgs []Message) []Message {
	out := slices.Clone(msgs)
	for i := range out {
		out[i].Keys = NewKeys(&out[i])
	}
	return out
}

// Cached Keys change no result: every criterion, both directions, and both
// threading algorithms give the same order and trees as the raw fields.
func TestKeysSameResults(t *testing.T) {
	boxes := map[string][]Message{
		"mailbox":   mailbox(),
		"synthetic": synthetic(500),
		"ids":       idsMailbox(),
		"links":     linkRulesMailbox(),
		"dummies":   dummiesMailbox(),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		data := make([]byte, 300)
		for j := range data {
			data[j] = byte(r.IntN(256))
		}
		boxes["fuzz"+string(rune('a'+i))] = fuzzMailbox(data)
	}
	keys := []Key{Arrival, Cc, Date, From, Size, Subject, To, DisplayFrom, DisplayTo}
	for name, raw := range boxes {
		cached := withKeys(raw)
		for _, k := range keys {
			for _, rev := range []bool{false, true} {
				crit := []Criterion{{Key: k, Reverse: rev}, {Key: Date}}
				a, b := Numbers(Sort(raw, crit), false), Numbers(Sort(cached, crit), false)
				if !slices.Equal(a, b) {
					t.Errorf("%s: SORT (%v %v): raw %v, cached %v", name, rev, k, a, b)
				}
			}
		}
		// One criterion takes sortOne; the same criterion twice the
		// general plan: same order.
		for _, k := range keys {
			for _, rev := range []bool{false, true} {
				one := []Criterion{{Key: k, Reverse: rev}}
				two := []Criterion{{Key: k, Reverse: rev}, {Key: k, Reverse: rev}}
				for _, box := range [][]Message{raw, cached} {
					if a, b := Numbers(Sort(box, one), false), Numbers(Sort(box, two), false); !slices.Equal(a, b) {
						t.Errorf("%s: SORT (%v %v): one criterion %v, general %v", name, rev, k, a, b)
					}
				}
			}
		}
		if a, b := FormatThreads(References(raw), false), FormatThreads(References(cached), false); a != b {
			t.Errorf("%s: REFERENCES: raw %s, cached %s", name, a, b)
		}
		if a, b := FormatThreads(OrderedSubject(raw), false), FormatThreads(OrderedSubject(cached), false); a != b {
			t.Errorf("%s: ORDEREDSUBJECT: raw %s, cached %s", name, a, b)
		}
	}
}

// SortByRank over Ranks gives Sort's order for every string criterion.
func TestRanks(t *testing.T) {
	for name, box := range map[string][]Message{"mailbox": mailbox(), "synthetic": withKeys(synthetic(300))} {
		for _, k := range []Key{Cc, From, Subject, To, DisplayFrom, DisplayTo} {
			ranks := Ranks(box, k)
			for _, rev := range []bool{false, true} {
				want := Numbers(Sort(box, []Criterion{{Key: k, Reverse: rev}}), false)
				if got := Numbers(SortByRank(box, ranks, rev), false); !slices.Equal(got, want) {
					t.Errorf("%s %v reverse=%v: ranked %v, sorted %v", name, k, rev, got, want)
				}
			}
		}
		if Ranks(box, Date) != nil {
			t.Errorf("ranks for DATE")
		}
	}
}

// ExtendRanks over ranks of a prefix gives what Ranks gives for the whole,
// whatever the number of new messages (none, one, many, all).
func TestExtendRanks(t *testing.T) {
	for name, box := range map[string][]Message{"mailbox": mailbox(), "synthetic": withKeys(synthetic(300))} {
		for _, k := range []Key{Cc, From, Subject, To, DisplayFrom, DisplayTo} {
			want := Ranks(box, k)
			for _, n0 := range []int{0, 1, len(box) / 2, len(box) - 1, len(box)} {
				if got := ExtendRanks(box, Ranks(box[:n0], k), k); !slices.Equal(got, want) {
					t.Errorf("%s %v from %d: extended %v, ranked %v", name, k, n0, got, want)
				}
			}
			// Twice in a row, as a server does for two deliveries.
			n1, n2 := len(box)/3, 2*len(box)/3
			r := ExtendRanks(box[:n2], Ranks(box[:n1], k), k)
			if got := ExtendRanks(box, r, k); !slices.Equal(got, want) {
				t.Errorf("%s %v twice: extended %v, ranked %v", name, k, got, want)
			}
		}
		if ExtendRanks(box, nil, Date) != nil {
			t.Errorf("ranks for DATE")
		}
	}
}
