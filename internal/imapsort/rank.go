package imapsort

import (
	"cmp"
	"slices"
)

// Ranks returns the rank of every message's key for a string criterion
// (SUBJECT, FROM, TO, CC, DISPLAYFROM, DISPLAYTO): equal keys have equal
// ranks, and ranks order as the keys collate. A server that keeps the ranks
// of a mailbox that has not changed sorts it again by number with
// SortByRank, without comparing a string — as Dovecot keeps sort IDs in its
// index. It returns nil for a numeric criterion.
func Ranks(msgs []Message, k Key) []uint32 {
	switch k {
	case Arrival, Date, Size:
		return nil
	}
	ranks := make([]uint32, len(msgs))
	var prev string
	r := uint32(0)
	for n, i := range sortStrings(msgs, k, false) {
		key := stringKey(&msgs[i], k)
		if n > 0 && key != prev {
			r++
		}
		prev = key
		ranks[i] = r
	}
	return ranks
}

// SortByRank orders msgs by the ranks Ranks returned for them (ranks[i]
// belongs to msgs[i]), reversed if reverse, ties broken by sequence number:
// the result of Sort with that one criterion.
func SortByRank(msgs []Message, ranks []uint32, reverse bool) []*Message {
	type rec struct {
		rank, seq uint32
		i         int32
	}
	recs := make([]rec, len(msgs))
	for i := range msgs {
		recs[i] = rec{rank: ranks[i], seq: msgs[i].SeqNum, i: int32(i)}
	}
	slices.SortFunc(recs, func(x, y rec) int {
		r := cmp.Compare(x.rank, y.rank)
		if reverse {
			r = -r
		}
		if r == 0 {
			return cmp.Compare(x.seq, y.seq)
		}
		return r
	})
	out := make([]*Message, len(msgs))
	for i, r := range recs {
		out[i] = &msgs[r.i]
	}
	return out
}
