package dkim

import (
	"errors"
	"fmt"
	"strings"
)

// maxTags bounds the number of tags in one tag list. RFC 6376 defines 14
// signature tags and 7 key tags; extensions add a few. A list with more is
// built to be expensive, not to be verified.
const maxTags = 64

// maxTagListLen bounds the length of one tag list (a DKIM-Signature value or
// a key record). An RSA-8192 key record is about 1.5 KB; a signature over a
// long h= list a few KB.
const maxTagListLen = 16 << 10

// tag is one tag-spec of RFC 6376 §3.2: a name and its value with the
// surrounding whitespace removed.
type tag struct {
	name, value string
}

// tagList is a parsed tag list in the order given.
type tagList []tag

// get returns the value of the tag named name and whether it is present.
// Tag names are case-sensitive (RFC 6376 §3.2).
func (l tagList) get(name string) (string, bool) {
	for _, t := range l {
		if t.name == name {
			return t.value, true
		}
	}
	return "", false
}

var errTagSyntax = errors.New("tag list syntax")

// parseTagList parses a tag list (RFC 6376 §3.2):
//
//	tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//	tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//	tag-name  =  ALPHA *ALNUMPUNC
//	tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//	tval      =  1*VALCHAR          ; VALCHAR = %x21-3A / %x3C-7E
//
// A duplicate tag is an error ("Tags with duplicate names MUST NOT occur
// within a single tag-list; if a tag name does occur more than once, the
// entire tag-list is invalid"). Values keep their inner whitespace; callers
// strip it where the grammar allows FWS inside a value (b=, bh=, p=, h=).
func parseTagList(s string) (tagList, error) {
	if len(s) > maxTagListLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", errTagSyntax, maxTagListLen)
	}
	l := make(tagList, 0, min(strings.Count(s, ";")+1, maxTags))
	for len(s) > 0 {
		var spec string
		if i := strings.IndexByte(s, ';'); i >= 0 {
			spec, s = s[:i], s[i+1:]
		} else {
			spec, s = s, ""
		}
		spec = trimFWS(spec)
		if spec == "" {
			if s == "" {
				break // the optional trailing ";"
			}
			return nil, fmt.Errorf("%w: empty tag-spec", errTagSyntax)
		}
		eq := strings.IndexByte(spec, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%w: tag-spec without '='", errTagSyntax)
		}
		name, value := trimFWS(spec[:eq]), trimFWS(spec[eq+1:])
		if !isTagName(name) {
			return nil, fmt.Errorf("%w: bad tag name %q", errTagSyntax, clip(name))
		}
		if !isTagValue(value) {
			return nil, fmt.Errorf("%w: bad value for tag %q", errTagSyntax, name)
		}
		if _, dup := l.get(name); dup {
			return nil, fmt.Errorf("%w: duplicate tag %q", errTagSyntax, name)
		}
		if len(l) == maxTags {
			return nil, fmt.Errorf("%w: more than %d tags", errTagSyntax, maxTags)
		}
		l = append(l, tag{name, value})
	}
	return l, nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

func isFWSByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// trimFWS removes folding whitespace at both ends.
func trimFWS(s string) string {
	for len(s) > 0 && isFWSByte(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isFWSByte(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// isTagValue checks tag-value: VALCHARs separated by whitespace, where a
// line break must be followed by whitespace (FWS).
func isTagValue(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x21 && c <= 0x7e && c != ';':
		case c == ' ' || c == '\t':
		case c == '\r':
			if i+2 >= len(s) || s[i+1] != '\n' || !isWSP(s[i+2]) {
				return false
			}
		case c == '\n':
			if i+1 >= len(s) || !isWSP(s[i+1]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// stripFWS removes all whitespace, for values whose grammar allows FWS
// anywhere (base64 in b=, bh= and p=).
func stripFWS(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if !isFWSByte(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
