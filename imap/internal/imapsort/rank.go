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

// ExtendRanks returns the ranks of msgs for a string criterion, given the
// ranks Ranks (or ExtendRanks) returned for msgs[:len(ranks)]: the ranks
// of new mail appended to a mailbox whose ranks are known. Only the keys of
// the new messages are sorted, and the old ranks are renumbered in one
// pass, so the cost is O(n + m log m) for m new messages instead of a sort
// of all n. The result is what Ranks(msgs, k) returns. It returns nil for
// a numeric criterion.
func ExtendRanks(msgs []Message, ranks []uint32, k Key) []uint32 {
	switch k {
	case Arrival, Date, Size:
		return nil
	}
	n0 := len(ranks)
	// Ranks are dense: distinct[r] is the key of rank r.
	d := 0
	for _, r := range ranks {
		d = max(d, int(r)+1)
	}
	distinct := make([]string, d)
	for i, r := range ranks {
		distinct[r] = stringKey(&msgs[i], k)
	}
	added := make([]string, 0, len(msgs)-n0)
	for i := n0; i < len(msgs); i++ {
		added = append(added, stringKey(&msgs[i], k))
	}
	slices.Sort(added)
	added = slices.Compact(added)
	// Merge the two ordered key lists; equal keys share a rank.
	remap := make([]uint32, d)
	addRank := make([]uint32, len(added))
	next := uint32(0)
	for i, j := 0, 0; i < d || j < len(added); next++ {
		switch {
		case j == len(added) || (i < d && distinct[i] < added[j]):
			remap[i] = next
			i++
		case i == d || added[j] < distinct[i]:
			addRank[j] = next
			j++
		default:
			remap[i], addRank[j] = next, next
			i++
			j++
		}
	}
	out := make([]uint32, len(msgs))
	for i, r := range ranks {
		out[i] = remap[r]
	}
	for i := n0; i < len(msgs); i++ {
		j, _ := slices.BinarySearch(added, stringKey(&msgs[i], k))
		out[i] = addRank[j]
	}
	return out
}
