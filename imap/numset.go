package imap

import (
	"errors"
	"iter"
	"slices"
	"strconv"
)

// Star is the value of "*" in a sequence set: the largest number in use
// (the number of messages, or the highest UID). It is zero because zero is
// never a valid message number (RFC 9051 §9, nz-number).
const Star uint32 = 0

// MaxSetRanges bounds the number of ranges ParseNumSet accepts. A command
// line limit bounds it too; this keeps a parsed set small even when the
// line limit is raised.
const MaxSetRanges = 100000

// Range is an inclusive range of message numbers. Either end may be Star.
// A single number n is the range {n, n}. Sets built by ParseNumSet and the
// Add methods keep Start <= Stop, with Star ordered after every number.
type Range struct {
	Start, Stop uint32
}

// less orders numbers with Star last.
func starLess(a, b uint32) bool {
	if a == Star {
		return false
	}
	return b == Star || a < b
}

// resolve replaces Star by max and orders the ends.
func (r Range) resolve(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == Star {
		lo = max
	}
	if hi == Star {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// NumSet is a set of message numbers as written in a command: a list of
// ranges, or the saved search result "$" (RFC 5182). Whether the numbers are
// sequence numbers or UIDs depends on the command (see SeqSet and UIDSet).
// The zero value is the empty set.
type NumSet struct {
	// Ranges are the ranges in the order written (after normalisation of
	// each range's ends). Empty when SearchRes is set.
	Ranges []Range
	// SearchRes is true for "$", the result saved by a previous
	// SEARCH RETURN (SAVE) (RFC 5182 §2.1).
	SearchRes bool
}

// SeqSet is a set of message sequence numbers.
type SeqSet struct{ NumSet }

// UIDSet is a set of UIDs.
type UIDSet struct{ NumSet }

// ErrBadNumSet is returned (wrapped) by ParseNumSet for malformed input.
var ErrBadNumSet = errors.New("imap: malformed sequence set")

// SearchResSet returns the set "$" (RFC 5182).
func SearchResSet() NumSet { return NumSet{SearchRes: true} }

// NumSetOf returns the set holding the given numbers, merged into ranges.
func NumSetOf(nums ...uint32) NumSet {
	var s NumSet
	for _, n := range nums {
		s.AddNum(n)
	}
	return s
}

// ParseNumSet parses a sequence-set (RFC 9051 §9), including "*" and "$".
// Numbers must be nz-number (1..4294967295). At most MaxSetRanges ranges are
// accepted.
func ParseNumSet(s string) (NumSet, error) {
	if s == "$" {
		return NumSet{SearchRes: true}, nil
	}
	if s == "" {
		return NumSet{}, ErrBadNumSet
	}
	var set NumSet
	for len(s) > 0 {
		if len(set.Ranges) == MaxSetRanges {
			return NumSet{}, ErrBadNumSet
		}
		var r Range
		var err error
		r.Start, s, err = parseSeqNumber(s)
		if err != nil {
			return NumSet{}, err
		}
		r.Stop = r.Start
		if len(s) > 0 && s[0] == ':' {
			r.Stop, s, err = parseSeqNumber(s[1:])
			if err != nil {
				return NumSet{}, err
			}
		}
		if starLess(r.Stop, r.Start) {
			r.Start, r.Stop = r.Stop, r.Start
		}
		set.Ranges = append(set.Ranges, r)
		if len(s) > 0 {
			if s[0] != ',' || len(s) == 1 {
				return NumSet{}, ErrBadNumSet
			}
			s = s[1:]
		}
	}
	return set, nil
}

// ParseSeqSet parses a sequence set of message sequence numbers.
func ParseSeqSet(s string) (SeqSet, error) {
	n, err := ParseNumSet(s)
	return SeqSet{n}, err
}

// ParseUIDSet parses a sequence set of UIDs.
func ParseUIDSet(s string) (UIDSet, error) {
	n, err := ParseNumSet(s)
	return UIDSet{n}, err
}

func parseSeqNumber(s string) (uint32, string, error) {
	if len(s) > 0 && s[0] == '*' {
		return Star, s[1:], nil
	}
	i := 0
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + uint64(s[i]-'0')
		if n > 0xffffffff {
			return 0, s, ErrBadNumSet
		}
		i++
	}
	if i == 0 || n == 0 || s[0] == '0' {
		return 0, s, ErrBadNumSet
	}
	return uint32(n), s[i:], nil
}

// IsZero reports whether the set is empty (and not "$").
func (s NumSet) IsZero() bool { return len(s.Ranges) == 0 && !s.SearchRes }

// Dynamic reports whether the set uses "*" and so depends on the mailbox.
func (s NumSet) Dynamic() bool {
	for _, r := range s.Ranges {
		if r.Start == Star || r.Stop == Star {
			return true
		}
	}
	return false
}

// AddNum adds the numbers to the set. Adjacent or overlapping ranges are
// merged when the set is sorted (see Compact).
func (s *NumSet) AddNum(nums ...uint32) {
	for _, n := range nums {
		if k := len(s.Ranges); k > 0 {
			last := &s.Ranges[k-1]
			if last.Stop != Star && n != Star && n == last.Stop+1 {
				last.Stop = n
				continue
			}
			if last.Start != Star && n != Star && last.Start <= n && n <= last.Stop {
				continue
			}
		}
		s.Ranges = append(s.Ranges, Range{n, n})
	}
}

// AddRange adds the inclusive range start:stop to the set.
func (s *NumSet) AddRange(start, stop uint32) {
	if starLess(stop, start) {
		start, stop = stop, start
	}
	s.Ranges = append(s.Ranges, Range{start, stop})
}

// AddSet adds every range of o to s.
func (s *NumSet) AddSet(o NumSet) {
	s.Ranges = append(s.Ranges, o.Ranges...)
	s.SearchRes = s.SearchRes || o.SearchRes
}

// Contains reports whether n is in the set, with "*" standing for max.
// It reports false for "$"; the caller resolves that itself.
func (s NumSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		lo, hi := r.resolve(max)
		if lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// Resolve returns the set with "*" replaced by max, sorted and with
// overlapping and adjacent ranges merged. Numbers above max are kept: a UID
// set may name UIDs that do not exist (RFC 9051 §6.4.9). A max of zero (an
// empty mailbox) makes "*" ranges refer to nothing above their other end.
func (s NumSet) Resolve(max uint32) NumSet {
	out := NumSet{SearchRes: s.SearchRes, Ranges: make([]Range, 0, len(s.Ranges))}
	for _, r := range s.Ranges {
		lo, hi := r.resolve(max)
		if lo == 0 {
			if hi == 0 {
				continue // "*" in an empty mailbox
			}
			lo = 1
		}
		out.Ranges = append(out.Ranges, Range{lo, hi})
	}
	return out.compact()
}

// Compact returns the set sorted with overlapping and adjacent ranges merged.
// Ranges ending in "*" sort last and are merged with each other only.
func (s NumSet) Compact() NumSet {
	out := NumSet{SearchRes: s.SearchRes, Ranges: slices.Clone(s.Ranges)}
	return out.compact()
}

func (s NumSet) compact() NumSet {
	slices.SortFunc(s.Ranges, func(a, b Range) int {
		switch {
		case starLess(a.Start, b.Start):
			return -1
		case starLess(b.Start, a.Start):
			return 1
		}
		return 0
	})
	out := s.Ranges[:0]
	for _, r := range s.Ranges {
		if k := len(out); k > 0 {
			last := &out[k-1]
			if last.Stop == Star {
				continue // sorted: r lies within "n:*"
			}
			if r.Start != Star && uint64(r.Start) <= uint64(last.Stop)+1 {
				if starLess(last.Stop, r.Stop) {
					last.Stop = r.Stop
				}
				continue
			}
		}
		out = append(out, r)
	}
	s.Ranges = out
	return s
}

// Nums iterates over the numbers of the set in the order written, with "*"
// standing for max, each range from its low end to its high end. Call
// Resolve first for ascending order without duplicates. The iteration may be
// long (a set "1:4294967295" has four billion numbers); a server should
// instead walk its messages and call Contains.
func (s NumSet) Nums(max uint32) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range s.Ranges {
			lo, hi := r.resolve(max)
			if lo == 0 {
				if hi == 0 {
					continue
				}
				lo = 1
			}
			for n := lo; ; n++ {
				if !yield(n) {
					return
				}
				if n == hi {
					break
				}
			}
		}
	}
}

// Count returns how many numbers the set holds with "*" standing for max,
// counting numbers in overlapping ranges once.
func (s NumSet) Count(max uint32) uint64 {
	var n uint64
	for _, r := range s.Resolve(max).Ranges {
		n += uint64(r.Stop-r.Start) + 1
	}
	return n
}

// String formats the set as a sequence-set: "$", or the ranges joined by
// commas, each "n" or "n:m", with "*" for Star. The empty set formats as "".
func (s NumSet) String() string {
	return string(s.AppendTo(nil))
}

// AppendTo appends the wire form of the set (see String) to b.
func (s NumSet) AppendTo(b []byte) []byte {
	if s.SearchRes {
		return append(b, '$')
	}
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNumber(b, r.Start)
		if r.Stop != r.Start {
			b = append(b, ':')
			b = appendSeqNumber(b, r.Stop)
		}
	}
	return b
}

func appendSeqNumber(b []byte, n uint32) []byte {
	if n == Star {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}
