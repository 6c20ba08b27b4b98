package pop3

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Language is one line of a LANG listing (RFC 6856 §3.2): a language tag
// (RFC 5646) and an optional description in the language itself.
type Language struct {
	Tag         string
	Description string
}

// ParseLanguage parses one line of a LANG listing, given without its CRLF
// and already dot-unstuffed: the tag, optionally followed by a single
// space and a UTF-8 description.
func ParseLanguage(line []byte) (Language, error) {
	if len(line) > MaxResponseLine-2 {
		return Language{}, &SyntaxError{What: "language listing", Msg: "line longer than 512 octets"}
	}
	tag, desc, _ := bytes.Cut(line, []byte(" "))
	if len(tag) == 0 {
		return Language{}, &SyntaxError{What: "language listing", Msg: "no language tag"}
	}
	for _, ch := range tag {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
			return Language{}, &SyntaxError{What: "language listing", Msg: "invalid language tag"}
		}
	}
	if !utf8.Valid(desc) {
		return Language{}, &SyntaxError{What: "language listing", Msg: "description is not UTF-8"}
	}
	return Language{Tag: string(tag), Description: strings.TrimSpace(string(desc))}, nil
}
