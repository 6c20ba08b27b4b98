package imapmsg

import (
	"strings"

	"github.com/posthorn/posthorn/imap"
)

// missingDomain is the host given to an address without one, so that it is
// not read as a group marker (which has a NIL host).
const missingDomain = "MISSING_DOMAIN"

// maxAddresses bounds the addresses taken from one header field.
const maxAddresses = 1000

type tokKind uint8

const (
	tokEnd tokKind = iota
	tokWord
	tokQuoted
	tokSpecial
	tokLiteral // domain-literal [...]
)

type token struct {
	kind tokKind
	text string
	c    byte
}

// lexer splits an address header value into RFC 5322 tokens, dropping
// comments and folding white space.
type lexer struct {
	s   string
	i   int
	tok token
	// comment is the last comment skipped (without its parentheses),
	// for the name of "user@example.org (Real Name)".
	comment string
}

func isSpecial(c byte) bool {
	return strings.IndexByte("()<>@,;:\\\".[]", c) >= 0
}

func (l *lexer) next() token {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.i++
		case c == '(':
			l.skipComment()
		case c == '"':
			l.tok = token{kind: tokQuoted, text: l.quoted()}
			return l.tok
		case c == '[':
			j := strings.IndexByte(l.s[l.i:], ']')
			if j < 0 {
				j = len(l.s) - l.i - 1
			}
			l.tok = token{kind: tokLiteral, text: l.s[l.i : l.i+j+1]}
			l.i += j + 1
			return l.tok
		case c == '.' || !isSpecial(c):
			// atom, allowing "." inside (dot-atom, obs-phrase)
			j := l.i
			for j < len(l.s) && (l.s[j] == '.' || !isSpecial(l.s[j])) && l.s[j] > ' ' && l.s[j] != 0x7f {
				j++
			}
			if j == l.i {
				l.i++ // control character: skip
				continue
			}
			l.tok = token{kind: tokWord, text: l.s[l.i:j]}
			l.i = j
			return l.tok
		default:
			l.i++
			l.tok = token{kind: tokSpecial, c: c}
			return l.tok
		}
	}
	l.tok = token{kind: tokEnd}
	return l.tok
}

func (l *lexer) skipComment() {
	depth := 0
	start := l.i + 1
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case '\\':
			l.i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				l.comment = strings.TrimSpace(l.s[start:l.i])
				l.i++
				return
			}
		}
		l.i++
	}
}

func (l *lexer) quoted() string {
	l.i++ // opening quote
	if j := strings.IndexAny(l.s[l.i:], "\"\\\r\n"); j >= 0 && l.s[l.i+j] == '"' {
		q := l.s[l.i : l.i+j] // no escapes or folds: a substring
		l.i += j + 1
		return q
	}
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch c {
		case '"':
			l.i++
			return b.String()
		case '\\':
			l.i++
			if l.i < len(l.s) {
				b.WriteByte(l.s[l.i])
			}
		case '\r', '\n':
			// folding inside a quoted string: drop the line break
		default:
			b.WriteByte(c)
		}
		l.i++
	}
	return b.String()
}

// parseAddressList parses an address-list (RFC 5322 §3.4) into ENVELOPE
// addresses (RFC 9051 §7.5.2), groups flattened into start and end
// markers. It is tolerant: a malformed address is skipped up to the next
// comma.
func parseAddressList(s string) []imap.Address {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	l := &lexer{s: s}
	l.next()
	// One allocation in the common case: a capacity from the commas (an
	// upper bound for plain lists, groups add their two markers).
	out := make([]imap.Address, 0, min(strings.Count(s, ",")+1, 64))
	inGroup := false
	for l.tok.kind != tokEnd && len(out) < maxAddresses {
		if l.tok.kind == tokSpecial && l.tok.c == ',' {
			l.next()
			continue
		}
		if l.tok.kind == tokSpecial && l.tok.c == ';' {
			if inGroup {
				out = append(out, imap.Address{})
				inGroup = false
			}
			l.next()
			continue
		}
		phrase, words := l.phrase()
		switch {
		case l.tok.kind == tokSpecial && l.tok.c == ':' && !inGroup:
			l.next()
			name := phrase
			if name == "" {
				name = "undisclosed-recipients"
			}
			out = append(out, imap.Address{Mailbox: name})
			inGroup = true
		case l.tok.kind == tokSpecial && l.tok.c == '<':
			l.next()
			a := l.angleAddr()
			a.Name = phrase
			if a.Mailbox != "" || a.Host != "" {
				if a.Host == "" {
					a.Host = missingDomain
				}
				out = append(out, a)
			}
		case l.tok.kind == tokSpecial && l.tok.c == '@':
			l.next()
			l.comment = ""
			a := imap.Address{Mailbox: words, Host: l.domain()}
			// A bare addr-spec followed by a comment, "user@example.org
			// (Real Name)": the comment names the mailbox. Not an
			// RFC 5322 rule, but the convention Dovecot and most servers
			// follow in ENVELOPE.
			if l.comment != "" && (l.tok.kind == tokEnd || l.tok.kind == tokSpecial && (l.tok.c == ',' || l.tok.c == ';')) {
				a.Name = l.comment
			}
			out = append(out, a)
		case words != "":
			out = append(out, imap.Address{Mailbox: words, Host: missingDomain})
		default:
			// unexpected token: skip it
			l.next()
		}
	}
	if inGroup {
		out = append(out, imap.Address{})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// phrase reads words and quoted strings. It returns them joined with
// spaces (a display name) and joined without spaces (a local part).
func (l *lexer) phrase() (phrase, local string) {
	if l.tok.kind != tokWord && l.tok.kind != tokQuoted {
		return "", ""
	}
	first := l.tok.text
	if l.next(); l.tok.kind != tokWord && l.tok.kind != tokQuoted {
		return first, first // the common case: no allocation
	}
	var p, w strings.Builder
	p.WriteString(first)
	w.WriteString(first)
	for l.tok.kind == tokWord || l.tok.kind == tokQuoted {
		if p.Len() > 0 {
			p.WriteByte(' ')
		}
		p.WriteString(l.tok.text)
		w.WriteString(l.tok.text)
		l.next()
	}
	return p.String(), w.String()
}

// angleAddr reads [route ":"] addr-spec ">" after "<".
func (l *lexer) angleAddr() imap.Address {
	var a imap.Address
	if l.tok.kind == tokSpecial && l.tok.c == '@' {
		// obs-route: "@a,@b:" kept as the ADL
		var adl strings.Builder
		for l.tok.kind != tokEnd && !(l.tok.kind == tokSpecial && (l.tok.c == ':' || l.tok.c == '>')) {
			if l.tok.kind == tokSpecial {
				adl.WriteByte(l.tok.c)
			} else {
				adl.WriteString(l.tok.text)
			}
			l.next()
		}
		if l.tok.kind == tokSpecial && l.tok.c == ':' {
			l.next()
			a.ADL = adl.String()
		}
	}
	_, a.Mailbox = l.phrase()
	if l.tok.kind == tokSpecial && l.tok.c == '@' {
		l.next()
		a.Host = l.domain()
	}
	for l.tok.kind != tokEnd && !(l.tok.kind == tokSpecial && l.tok.c == '>') {
		l.next()
	}
	if l.tok.kind != tokEnd {
		l.next()
	}
	return a
}

// domain reads a dot-atom or a domain-literal.
func (l *lexer) domain() string {
	if l.tok.kind != tokWord && l.tok.kind != tokLiteral {
		return missingDomain
	}
	first := l.tok.text
	if l.next(); l.tok.kind != tokWord && l.tok.kind != tokLiteral {
		return first
	}
	var b strings.Builder
	b.WriteString(first)
	for l.tok.kind == tokWord || l.tok.kind == tokLiteral {
		b.WriteString(l.tok.text)
		l.next()
	}
	if b.Len() == 0 {
		return missingDomain
	}
	return b.String()
}
