package mime

import (
	"strings"
)

// ParseAddress parses a single mailbox (RFC 5322 §3.4), such as
// `"Doe, Jane" <jane@example.com>`. A group or a list of more than one
// address is an error.
func ParseAddress(s string) (*Address, error) {
	list, err := ParseAddressList(s)
	if err != nil {
		return nil, err
	}
	if len(list) != 1 || list[0].Group {
		return nil, &AddressError{Text: clip(s), Reason: "not a single mailbox"}
	}
	return list[0], nil
}

// ParseAddressList parses an address-list (RFC 5322 §3.4) as found in From,
// To, Cc, Reply-To and the like, including groups, comments, quoted local
// parts, domain literals, routes and the rest of the obsolete syntax of
// RFC 5322 §4.4 (empty list elements, CFWS around dots, phrases with dots),
// display names in RFC 2047 encoded words (also inside quoted strings), and
// UTF-8 addresses (RFC 6532). An unquoted display name with a comma in it
// ("Doe, Jane <jane@example.com>") is read as one name. An address without
// a display name takes one from a trailing comment ("jane@example.com
// (Jane Doe)").
//
// Elements that cannot be parsed are skipped; the first is reported as an
// *AddressError, returned together with the addresses that could be parsed.
func ParseAddressList(s string) ([]*Address, error) {
	return parseAddressList(s, true)
}

// ParseAddressListRaw is ParseAddressList without decoding: display names
// keep their RFC 2047 encoded words as written (quotes and comments
// removed, white space collapsed). An IMAP server needs this form for the
// ENVELOPE address structure (RFC 9051 §7.5.2), which carries names as
// they appear in the header.
func ParseAddressListRaw(s string) ([]*Address, error) {
	return parseAddressList(s, false)
}

func parseAddressList(s string, decode bool) ([]*Address, error) {
	if list, ok := parseAddressListFast(s, decode); ok {
		return list, nil
	}
	return parseAddressListGeneral(s, decode)
}

func parseAddressListGeneral(s string, decode bool) ([]*Address, error) {
	p := addrParser{toks: lexAddress(s)}
	phrase := func(toks []token) string { return phraseText(toks, decode) }
	var list []*Address
	var first error
	fail := func(toks []token, reason string) {
		if first == nil {
			first = &AddressError{Text: clip(joinTokens(toks)), Reason: reason}
		}
	}
	var pendingName []token // a phrase cut off by an unquoted comma
	for p.pos < len(p.toks) {
		if p.isSpecial(p.pos, ',') {
			p.pos++
			continue
		}
		if end, ok := p.groupColon(); ok {
			g := &Address{Group: true, Name: phrase(p.toks[p.pos:end])}
			p.pos = end + 1
			for p.pos < len(p.toks) && !p.isSpecial(p.pos, ';') {
				if p.isSpecial(p.pos, ',') {
					p.pos++
					continue
				}
				elem := p.element(true)
				if !hasNonComment(elem) {
					continue
				}
				if m, reason := parseMailbox(elem, decode); m != nil {
					g.Members = append(g.Members, m)
				} else {
					fail(elem, reason)
				}
			}
			if p.pos < len(p.toks) {
				p.pos++ // ';'
			}
			list = append(list, g)
			continue
		}
		elem := p.element(false)
		if !hasNonComment(elem) {
			continue
		}
		m, reason := parseMailbox(elem, decode)
		if m == nil {
			if onlyPhrase(elem) && pendingName == nil {
				pendingName = elem
				continue
			}
			if pendingName != nil {
				fail(pendingName, "no address")
				pendingName = nil
			}
			fail(elem, reason)
			continue
		}
		if pendingName != nil {
			if hasAngle(elem) {
				name := phrase(pendingName)
				if m.Name != "" {
					name += ", " + m.Name
				}
				m.Name = name
			} else {
				fail(pendingName, "no address")
			}
			pendingName = nil
		}
		list = append(list, m)
	}
	if pendingName != nil {
		fail(pendingName, "no address")
	}
	return list, first
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

type tokKind uint8

const (
	tAtom    tokKind = iota // atext run, or a whole encoded word
	tQuoted                 // quoted-string; text is its content
	tLiteral                // domain-literal, brackets included
	tSpecial                // one special character
	tComment                // comment; text is its content
)

type token struct {
	kind tokKind
	ws   bool // preceded by white space or a comment
	text string
}

// lexAddress splits an address header value into tokens.
func lexAddress(s string) []token {
	toks := make([]token, 0, len(s)/4+1)
	ws := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			ws = true
			i++
			continue
		case c == '(':
			text, rest := comment(s[i:])
			toks = append(toks, token{kind: tComment, ws: ws, text: text})
			i = len(s) - len(rest)
			ws = true
			continue
		case c == '"':
			text, rest, _ := quotedString(s[i:])
			toks = append(toks, token{kind: tQuoted, ws: ws, text: text})
			i = len(s) - len(rest)
		case c == '[':
			j := strings.IndexAny(s[i+1:], "[]<>")
			if j < 0 || s[i+1+j] != ']' {
				// Unterminated: a stray special.
				toks = append(toks, token{kind: tSpecial, ws: ws, text: "["})
				i++
				break
			}
			j++
			lit := s[i : i+j+1]
			if strings.ContainsAny(lit, "\r\n") {
				lit = strings.NewReplacer("\r", "", "\n", "").Replace(lit)
			}
			toks = append(toks, token{kind: tLiteral, ws: ws, text: lit})
			i += j + 1
		case c == '=' && strings.HasPrefix(s[i:], "=?"):
			if w, ok := parseWord(s[i:]); ok {
				toks = append(toks, token{kind: tAtom, ws: ws, text: w.raw})
				i += len(w.raw)
				break
			}
			fallthrough
		case isAtext(c):
			j := i + 1
			for j < len(s) && isAtext(s[j]) && !strings.HasPrefix(s[j:], "=?") {
				j++
			}
			toks = append(toks, token{kind: tAtom, ws: ws, text: s[i:j]})
			i = j
		case c == ')' || c == '\\' || c < 0x20 || c == 0x7f:
			i++ // stray; dropped
			continue
		default: // < > : ; @ , . ]
			toks = append(toks, token{kind: tSpecial, ws: ws, text: s[i : i+1]})
			i++
		}
		ws = false
	}
	return toks
}

type addrParser struct {
	toks []token
	pos  int
}

func (p *addrParser) isSpecial(i int, c byte) bool {
	t := p.toks[i]
	return t.kind == tSpecial && t.text[0] == c
}

// groupColon reports whether the element at pos is a group: a ':' comes
// before any '<', '@' or ','. It returns the index of the colon.
func (p *addrParser) groupColon() (int, bool) {
	for i := p.pos; i < len(p.toks); i++ {
		if p.toks[i].kind != tSpecial {
			continue
		}
		switch p.toks[i].text[0] {
		case ':':
			return i, true
		case '<', '@', ',', ';':
			return 0, false
		}
	}
	return 0, false
}

// element returns the tokens up to the next ',' outside angle brackets
// (and ';' inside a group), and moves past them (not past the ',').
func (p *addrParser) element(inGroup bool) []token {
	start := p.pos
	angle := false
	for ; p.pos < len(p.toks); p.pos++ {
		t := p.toks[p.pos]
		if t.kind != tSpecial {
			continue
		}
		switch t.text[0] {
		case '<':
			angle = true
		case '>':
			angle = false
		case ',':
			if !angle {
				return p.toks[start:p.pos]
			}
		case ';':
			if inGroup {
				return p.toks[start:p.pos]
			}
		}
	}
	return p.toks[start:p.pos]
}

func hasAngle(toks []token) bool {
	for _, t := range toks {
		if t.kind == tSpecial && t.text == "<" {
			return true
		}
	}
	return false
}

func onlyPhrase(toks []token) bool {
	n := 0
	for _, t := range toks {
		switch t.kind {
		case tAtom, tQuoted:
			n++
		case tComment:
		case tSpecial:
			if t.text != "." {
				return false
			}
		default:
			return false
		}
	}
	return n > 0
}

// parseMailbox parses name-addr or addr-spec (RFC 5322 §3.4).
func parseMailbox(toks []token, decode bool) (*Address, string) {
	lt := -1
	for i, t := range toks {
		if t.kind == tSpecial && t.text == "<" {
			lt = i
			break
		}
	}
	if lt < 0 {
		a, reason := addrSpec(toks)
		if a == nil {
			return nil, reason
		}
		// "jane@example.com (Jane Doe)": the comment names the mailbox.
		for i := len(toks) - 1; i >= 0; i-- {
			if toks[i].kind == tComment {
				name := strings.TrimSpace(toks[i].text)
				if decode {
					name, _ = DecodeWords(name)
				}
				if name != "" {
					a.Name = name
				}
				break
			}
		}
		return a, ""
	}
	inner := toks[lt+1:]
	for i, t := range inner {
		if t.kind == tSpecial && t.text == ">" {
			inner = inner[:i]
			break
		}
	}
	// obs-route: "@a.example,@b.example:" before the addr-spec (§4.4).
	if len(inner) > 0 && inner[0].kind == tSpecial && inner[0].text == "@" {
		for i, t := range inner {
			if t.kind == tSpecial && t.text == ":" {
				inner = inner[i+1:]
				break
			}
		}
	}
	var a *Address
	if !hasNonComment(inner) {
		a = &Address{} // "<>", the null reverse-path
	} else {
		var reason string
		if a, reason = addrSpec(inner); a == nil {
			return nil, reason
		}
	}
	a.Name = phraseText(toks[:lt], decode)
	return a, ""
}

func hasNonComment(toks []token) bool {
	for _, t := range toks {
		if t.kind != tComment {
			return true
		}
	}
	return false
}

// addrSpec parses local-part "@" domain, allowing CFWS around the dots of
// either side (obs-local-part, obs-domain).
func addrSpec(toks []token) (*Address, string) {
	at := -1
	for i, t := range toks {
		if t.kind == tSpecial && t.text == "@" {
			at = i
		}
	}
	if at < 0 {
		return nil, "no @"
	}
	var local, domain strings.Builder
	for _, t := range toks[:at] {
		switch {
		case t.kind == tComment:
		case t.kind == tAtom || t.kind == tQuoted:
			local.WriteString(t.text)
		case t.kind == tSpecial && (t.text == "." || t.text == "@"):
			local.WriteString(t.text)
		default:
			return nil, "invalid local part"
		}
	}
	for _, t := range toks[at+1:] {
		switch {
		case t.kind == tComment:
		case t.kind == tAtom || t.kind == tLiteral:
			domain.WriteString(t.text)
		case t.kind == tSpecial && t.text == ".":
			domain.WriteString(".")
		default:
			return nil, "invalid domain"
		}
	}
	if domain.Len() == 0 {
		return nil, "empty domain"
	}
	if local.Len() == 0 {
		return nil, "empty local part"
	}
	return &Address{Mailbox: local.String(), Host: domain.String()}, ""
}

// phraseText joins display-name words (atoms, quoted strings and the dots
// of obs-phrase) and, if decode, decodes the encoded words in them.
func phraseText(toks []token, decode bool) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tComment {
			continue
		}
		if t.ws && b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	s := b.String()
	if !decode {
		return s
	}
	if d, err := DecodeWords(s); err == nil || d != "" {
		s = d
	}
	return s
}

func joinTokens(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.ws && b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tQuoted:
			quote(&b, t.text)
		case tComment:
			b.WriteString("(" + t.text + ")")
		default:
			b.WriteString(t.text)
		}
	}
	return b.String()
}
