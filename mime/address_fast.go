package mime

// parseAddressListFast handles the address lists almost every message
// carries: comma-separated `local@domain` and `phrase <local@domain>`
// elements, where the phrase is atoms (with the dots of obs-phrase) and
// quoted strings without escapes or folding, in ASCII outside the quotes,
// with no comments, groups, routes or domain literals (RFC 5322 §3.4). It
// returns ok=false for anything else, and the caller runs the general
// parser; for what it accepts it returns exactly what the general parser
// returns (TestAddressFastPathAgrees and FuzzAddressFastPath check this),
// with addr-specs sliced from s instead of copied and all addresses in one
// allocation.
func parseAddressListFast(s string, decode bool) ([]*Address, bool) {
	n := 1
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				n++
			}
		}
	}
	if inQuote {
		return nil, false
	}
	var (
		backing []Address
		list    []*Address
	)
	for i := 0; i <= len(s); {
		var a Address
		next, empty, ok := fastElement(s, i, decode, &a)
		if !ok {
			return nil, false
		}
		if !empty {
			if backing == nil {
				backing, list = fastAlloc(n)
			}
			backing = append(backing, a)
			list = append(list, &backing[len(backing)-1])
		}
		i = next + 1 // past the ','
	}
	if list == nil {
		return nil, false // nothing but separators: leave it to the general parser
	}
	return list, true
}

// fastAlloc returns empty slices with room for n addresses and pointers,
// in one allocation for the usual lists of one or two.
func fastAlloc(n int) ([]Address, []*Address) {
	switch n {
	case 1:
		m := new(struct {
			a [1]Address
			p [1]*Address
		})
		return m.a[:0], m.p[:0]
	case 2:
		m := new(struct {
			a [2]Address
			p [2]*Address
		})
		return m.a[:0], m.p[:0]
	}
	return make([]Address, 0, n), make([]*Address, 0, n)
}

// fastElement parses the element of an address list that starts at s[i]
// and ends at the next ',' or the end of s, whose index it returns. empty
// reports an element of white space only, which the general parser skips
// (obs-addr-list, RFC 5322 §4.4).
func fastElement(s string, i int, decode bool, a *Address) (end int, empty, ok bool) {
	i = skipSpTab(s, i)
	if i == len(s) || s[i] == ',' {
		return i, true, true
	}
	// The phrase, if any: words separated by white space, which
	// phraseText joins with one space each.
	phraseStart, words, lastWordEnd := i, 0, i
	spaced, quoted, at := false, false, false
	for {
		if words > 0 {
			j := skipSpTab(s, i)
			if j == len(s) || s[j] == '<' || s[j] == ',' {
				i = j
				break
			}
			if j == i {
				// Words glued together (`a"b"`, `"a"@b`): the general
				// parser decides.
				return 0, false, false
			}
			if j-i > 1 || s[i] != ' ' {
				spaced = true // not a single space: the name is rebuilt
			}
			i = j
		}
		if s[i] == '"' {
			q := i + 1
			for q < len(s) && s[q] != '"' {
				if c := s[q]; c == '\\' || c == '\r' || c == '\n' {
					return 0, false, false
				}
				q++
			}
			if q == len(s) || q == i+1 {
				return 0, false, false // unterminated, or "" (phraseText spaces it differently)
			}
			i, quoted = q+1, true
		} else {
			j, hasAt, ok := fastAtoms(s, i, len(s))
			if !ok || j == i {
				return 0, false, false
			}
			if j < len(s) && !(s[j] == ' ' || s[j] == '\t' || s[j] == '"' || s[j] == '<' || s[j] == ',') {
				return 0, false, false
			}
			i, at = j, at || hasAt
		}
		words++
		lastWordEnd = i
	}
	if i == len(s) || s[i] != '<' {
		// No angle brackets: a bare addr-spec, which must be the only word.
		if words != 1 || quoted || !fastAddrSpec(s, phraseStart, lastWordEnd, a) {
			return 0, false, false
		}
		return i, false, true
	}
	if at {
		return 0, false, false // '@' in the phrase
	}
	// name-addr: phrase "<" addr-spec ">".
	close := i + 1
	for close < len(s) && s[close] != '>' {
		close++
	}
	if close == len(s) || !fastAddrSpec(s, i+1, close, a) {
		return 0, false, false
	}
	end = skipSpTab(s, close+1)
	if end < len(s) && s[end] != ',' {
		return 0, false, false
	}
	if words > 0 {
		var name string
		switch {
		case spaced || words > 1 && quoted:
			name = joinPhrase(s[phraseStart:lastWordEnd])
		case quoted: // one quoted string
			name = s[phraseStart+1 : lastWordEnd-1]
		default:
			name = s[phraseStart:lastWordEnd]
		}
		if decode {
			if d, err := DecodeWords(name); err == nil || d != "" {
				name = d
			}
		}
		a.Name = name
	}
	return end, false, true
}

func skipSpTab(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// fastAtoms returns the end of the run of ASCII atext, dots and '@' at
// s[i:limit], and whether the run holds an '@'. ok is false if the run
// holds an encoded word that lexAddress would read as one token reaching
// past the run (parseWord looks at all of s, as the lexer does).
func fastAtoms(s string, i, limit int) (end int, hasAt, ok bool) {
	j := i
	for ; j < limit; j++ {
		c := s[j]
		if c == '@' {
			hasAt = true
			continue
		}
		if !isASCIIAtextOrDot(c) {
			break
		}
		if c == '=' && j+1 < len(s) && s[j+1] == '?' {
			if w, ok := parseWord(s[j:]); ok && (len(w.raw) > limit-j || !isAtom(w.raw)) {
				return 0, false, false
			}
		}
	}
	return j, hasAt, true
}

// fastAddrSpec parses s[i:end] as a dot-atom local part, "@" and a
// dot-atom domain without white space into a, slicing s.
func fastAddrSpec(s string, i, end int, a *Address) bool {
	j, _, ok := fastAtoms(s, i, end)
	if !ok || j != end {
		return false
	}
	at := -1
	for k := i; k < end; k++ {
		if s[k] == '@' {
			if at >= 0 {
				return false
			}
			at = k
		}
	}
	if at <= i || at == end-1 {
		return false
	}
	a.Mailbox, a.Host = s[i:at], s[at+1:end]
	return true
}

// joinPhrase joins the words of a phrase already checked by fastElement
// (atoms and quoted strings without escapes) with single spaces, quotes
// removed.
func joinPhrase(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i = skipSpTab(s, i)
			b = append(b, ' ')
			continue
		}
		if s[i] == '"' {
			q := i + 1
			for s[q] != '"' {
				q++
			}
			b = append(b, s[i+1:q]...)
			i = q + 1
			continue
		}
		b = append(b, s[i])
		i++
	}
	return string(b)
}

// Bit c of atextDotLo (c < 64) or atextDotHi (c-64) is set for the ASCII
// atext bytes (RFC 5322 §3.2.3) and '.'.
const (
	atextDotLo uint64 = 0xa3ffecfa00000000
	atextDotHi uint64 = 0x7fffffffc7fffffe
)

// isASCIIAtextOrDot reports whether c is ASCII atext or '.', without the
// search isAtext does.
func isASCIIAtextOrDot(c byte) bool {
	if c < 64 {
		return atextDotLo&(1<<c) != 0
	}
	return c < 128 && atextDotHi&(1<<(c-64)) != 0
}
