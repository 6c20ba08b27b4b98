package authres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on what Parse accepts, so that a field built to be expensive
// stays cheap.
const (
	maxFieldLen = 64 << 10
	maxResults  = 64
	maxProps    = 32
)

// Header is the value of one Authentication-Results field (RFC 8601 §2.2).
type Header struct {
	// AuthServID names the service that added the field (§2.5), such as
	// the receiving host's name.
	AuthServID string
	// Version is authres-version; 0 means absent (version 1).
	Version int
	// Results are the method results; none means "none" (§2.2 no-result).
	Results []Result
}

// Result is one resinfo: a method, its result, an optional reason and
// properties (§2.2, §2.7).
type Result struct {
	// Method is the authentication method, such as "dkim", "spf",
	// "dmarc", "auth", "iprev" (lower case when parsed).
	Method string
	// MethodVersion is the method's version after "/"; 0 means absent.
	MethodVersion int
	// Value is the result, such as "pass", "fail", "temperror" (lower
	// case when parsed).
	Value string
	// Reason is the reason= text, empty when absent.
	Reason string
	// Props are the properties in order, such as header.d=example.com.
	Props []Prop
}

// Prop is one propspec: ptype.property=pvalue (§2.2), such as
// {Type: "header", Name: "d", Value: "example.com"}.
type Prop struct {
	Type, Name, Value string
}

// Prop returns the value of the property ptype.property, and whether it
// is present. Type and name compare case-insensitively.
func (r *Result) Prop(ptype, property string) (string, bool) {
	for _, p := range r.Props {
		if strings.EqualFold(p.Type, ptype) && strings.EqualFold(p.Name, property) {
			return p.Value, true
		}
	}
	return "", false
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("authres: syntax error")

// Parse parses the value of an Authentication-Results field (everything
// after the colon; folding allowed). Comments are skipped. Methods,
// results, property types and names are returned in lower case; the
// authserv-id and values as written (quoted strings unquoted).
func Parse(value string) (*Header, error) {
	if len(value) > maxFieldLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, maxFieldLen)
	}
	p := &parser{s: value}
	h := &Header{}
	var err error
	p.cfws()
	if h.AuthServID, err = p.value(); err != nil {
		return nil, fmt.Errorf("%w: authserv-id: %v", ErrSyntax, err)
	}
	p.cfws()
	if p.more() && isDigit(p.peek()) {
		n := p.while(isDigit)
		if h.Version, err = strconv.Atoi(n); err != nil || len(n) > 4 {
			return nil, fmt.Errorf("%w: version %q", ErrSyntax, n)
		}
		p.cfws()
	}
	if !p.more() {
		return nil, fmt.Errorf("%w: no result", ErrSyntax)
	}
	for p.more() {
		if !p.eat(';') {
			return nil, fmt.Errorf("%w: expected ';' at %q", ErrSyntax, p.rest())
		}
		p.cfws()
		if !p.more() {
			break // a trailing ";" is common and harmless
		}
		if len(h.Results) == 0 && strings.EqualFold(p.peekWord(), "none") {
			p.i += 4
			p.cfws()
			if p.more() {
				return nil, fmt.Errorf("%w: text after none", ErrSyntax)
			}
			return h, nil
		}
		if len(h.Results) == maxResults {
			return nil, fmt.Errorf("%w: more than %d results", ErrSyntax, maxResults)
		}
		r, err := p.resinfo()
		if err != nil {
			return nil, err
		}
		h.Results = append(h.Results, r)
	}
	return h, nil
}

// resinfo parses methodspec [reasonspec] *propspec.
func (p *parser) resinfo() (Result, error) {
	var r Result
	r.Method = strings.ToLower(p.keyword())
	if r.Method == "" {
		return r, fmt.Errorf("%w: expected method at %q", ErrSyntax, p.rest())
	}
	p.cfws()
	if p.eat('/') {
		p.cfws()
		n := p.while(isDigit)
		v, err := strconv.Atoi(n)
		if err != nil || len(n) > 4 {
			return r, fmt.Errorf("%w: method version %q", ErrSyntax, n)
		}
		r.MethodVersion = v
		p.cfws()
	}
	if !p.eat('=') {
		return r, fmt.Errorf("%w: expected '=' after %s", ErrSyntax, r.Method)
	}
	p.cfws()
	if r.Value = strings.ToLower(p.keyword()); r.Value == "" {
		return r, fmt.Errorf("%w: expected result for %s", ErrSyntax, r.Method)
	}
	p.cfws()
	for p.more() && p.peek() != ';' {
		name := p.keyword()
		if name == "" {
			return r, fmt.Errorf("%w: expected property at %q", ErrSyntax, p.rest())
		}
		p.cfws()
		if strings.EqualFold(name, "reason") && r.Reason == "" && len(r.Props) == 0 && p.eat('=') {
			p.cfws()
			v, err := p.value()
			if err != nil {
				return r, fmt.Errorf("%w: reason: %v", ErrSyntax, err)
			}
			r.Reason = v
			p.cfws()
			continue
		}
		if !p.eat('.') {
			return r, fmt.Errorf("%w: expected '.' after %q", ErrSyntax, name)
		}
		p.cfws()
		prop := p.keyword()
		if prop == "" {
			return r, fmt.Errorf("%w: expected property name after %q", ErrSyntax, name+".")
		}
		p.cfws()
		if !p.eat('=') {
			return r, fmt.Errorf("%w: expected '=' after %s.%s", ErrSyntax, name, prop)
		}
		p.cfws()
		v, err := p.pvalue()
		if err != nil {
			return r, fmt.Errorf("%w: %s.%s: %v", ErrSyntax, name, prop, err)
		}
		if len(r.Props) == maxProps {
			return r, fmt.Errorf("%w: more than %d properties", ErrSyntax, maxProps)
		}
		r.Props = append(r.Props, Prop{strings.ToLower(name), strings.ToLower(prop), v})
		p.cfws()
	}
	return r, nil
}

// AuthServID returns the authserv-id of an Authentication-Results field
// value without parsing the rest, so that a field whose results are
// malformed can still be recognised as claiming to be ours.
func AuthServID(value string) (string, error) {
	if len(value) > maxFieldLen {
		value = value[:maxFieldLen]
	}
	p := &parser{s: value}
	p.cfws()
	return p.value()
}

type parser struct {
	s string
	i int
}

func (p *parser) more() bool   { return p.i < len(p.s) }
func (p *parser) peek() byte   { return p.s[p.i] }
func (p *parser) rest() string { return clip(p.s[p.i:]) }

func (p *parser) eat(c byte) bool {
	if p.more() && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) while(f func(byte) bool) string {
	start := p.i
	for p.more() && f(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// peekWord returns the keyword at the current position without taking it.
func (p *parser) peekWord() string {
	j := p.i
	for j < len(p.s) && isKeywordChar(p.s[j]) {
		j++
	}
	return p.s[p.i:j]
}

func (p *parser) keyword() string { return p.while(isKeywordChar) }

// cfws skips folding whitespace and comments (RFC 5322 §3.2.2). Comments
// nest; they are skipped in one flat scan, without recursion.
func (p *parser) cfws() {
	for p.more() {
		switch c := p.peek(); {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.i++
		case c == '(':
			depth := 0
			for p.more() {
				c := p.s[p.i]
				p.i++
				switch {
				case c == '\\' && p.more():
					p.i++
				case c == '(':
					depth++
				case c == ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
		default:
			return
		}
	}
}

// value parses an RFC 2045 value: a token or a quoted string.
func (p *parser) value() (string, error) {
	if p.more() && p.peek() == '"' {
		return p.quoted()
	}
	v := p.while(isTokenChar)
	if v == "" {
		return "", fmt.Errorf("expected a value at %q", p.rest())
	}
	return v, nil
}

// pvalue is a value or [[local-part] "@"] domain-name: anything up to
// whitespace, a comment or ';', or a quoted string.
func (p *parser) pvalue() (string, error) {
	if p.more() && p.peek() == '"' {
		return p.quoted()
	}
	v := p.while(func(c byte) bool { return c > ' ' && c < 0x7f && c != ';' && c != '(' && c != '"' || c >= 0x80 })
	if v == "" {
		return "", fmt.Errorf("expected a value at %q", p.rest())
	}
	return v, nil
}

func (p *parser) quoted() (string, error) {
	p.i++ // the opening quote
	var b strings.Builder
	for p.more() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if !p.more() {
				return "", errors.New("unterminated quoted string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case '\r', '\n':
			// folding inside a quoted string
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted string")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isKeywordChar: Keyword of RFC 8601 §2.2 (RFC 5321 Ldh-str), plus '_'
// seen in the wild in property names.
func isKeywordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_'
}

// isTokenChar: RFC 2045 token characters (no tspecials, no CTLs, no SP).
// UTF-8 is allowed for internationalized authserv-ids (RFC 8601 §2.5).
func isTokenChar(c byte) bool {
	if c >= 0x80 {
		return true
	}
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
