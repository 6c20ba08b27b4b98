package imap

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrBadMailboxName is returned (wrapped in *MailboxNameError) by
// DecodeMailboxName for input that is not canonical modified UTF-7.
var ErrBadMailboxName = errors.New("imap: malformed modified UTF-7 mailbox name")

// MailboxNameError reports where and why a mailbox name failed to decode.
type MailboxNameError struct {
	Name   string // the input
	Offset int    // byte offset of the fault
	Reason string
}

// Error returns the reason the name failed to decode.
func (e *MailboxNameError) Error() string {
	return "imap: bad modified UTF-7 mailbox name: " + e.Reason
}

// Unwrap returns ErrBadMailboxName.
func (e *MailboxNameError) Unwrap() error { return ErrBadMailboxName }

const mb64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var mb64Dec = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(mb64); i++ {
		t[mb64[i]] = int8(i)
	}
	return t
}()

func isDirect(r rune) bool { return r >= 0x20 && r <= 0x7e }

// EncodeMailboxName encodes a UTF-8 mailbox name in modified UTF-7
// (RFC 3501 §5.1.3): printable US-ASCII except "&" stands for itself, "&"
// becomes "&-", and runs of other characters become "&" + modified BASE64 of
// their UTF-16 form + "-". Invalid UTF-8 bytes are encoded as U+FFFD.
func EncodeMailboxName(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if !isDirect(rune(s[i])) || s[i] == '&' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var units []uint16
	flush := func() {
		if len(units) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(mb64[(acc>>bits)&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(mb64[(acc<<(6-bits))&0x3f])
		}
		b.WriteByte('-')
		units = units[:0]
	}
	for _, r := range s {
		if isDirect(r) {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(byte(r))
			}
			continue
		}
		units = utf16.AppendRune(units, r)
	}
	flush()
	return b.String()
}

// DecodeMailboxName decodes a modified UTF-7 mailbox name (RFC 3501
// §5.1.3) to UTF-8. It is strict: it refuses characters outside printable
// US-ASCII, an unterminated shift, an empty shift other than "&-", a shift
// that encodes printable US-ASCII or a control character, two shifts in a row (which a canonical
// encoder joins), non-zero or excess padding bits, and unpaired surrogates.
// Names that pass are exactly those EncodeMailboxName produces.
func DecodeMailboxName(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if !isDirect(rune(s[i])) {
				return "", &MailboxNameError{s, i, "character outside printable US-ASCII"}
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	prevShift := false // the previous token was a base64 shift
	for i := 0; i < len(s); {
		c := s[i]
		if !isDirect(rune(c)) {
			return "", &MailboxNameError{s, i, "character outside printable US-ASCII"}
		}
		if c != '&' {
			b.WriteByte(c)
			prevShift = false
			i++
			continue
		}
		start := i
		i++
		j := i
		for j < len(s) && s[j] != '-' {
			if mb64Dec[s[j]] < 0 {
				return "", &MailboxNameError{s, j, "invalid character in base64 shift"}
			}
			j++
		}
		if j == len(s) {
			return "", &MailboxNameError{s, start, "unterminated shift"}
		}
		if j == i {
			b.WriteByte('&') // "&-"
			prevShift = false
			i = j + 1
			continue
		}
		if prevShift {
			return "", &MailboxNameError{s, start, "superfluous shift: adjacent encoded runs"}
		}
		if err := decodeShift(&b, s, i, j); err != nil {
			return "", err
		}
		prevShift = true
		i = j + 1
	}
	return b.String(), nil
}

func decodeShift(b *strings.Builder, s string, i, j int) error {
	var acc uint32
	bits := 0
	var high uint16 // pending high surrogate
	for k := i; k < j; k++ {
		acc = acc<<6 | uint32(mb64Dec[s[k]])
		bits += 6
		if bits < 16 {
			continue
		}
		bits -= 16
		u := uint16(acc >> bits)
		acc &= 1<<bits - 1
		switch {
		case high != 0:
			if u < 0xdc00 || u > 0xdfff {
				return &MailboxNameError{s, k, "unpaired high surrogate"}
			}
			b.WriteRune(utf16.DecodeRune(rune(high), rune(u)))
			high = 0
		case u >= 0xd800 && u <= 0xdbff:
			high = u
		case u >= 0xdc00 && u <= 0xdfff:
			return &MailboxNameError{s, k, "unpaired low surrogate"}
		case isDirect(rune(u)):
			return &MailboxNameError{s, k, "printable US-ASCII encoded in a shift"}
		case u < 0x20 || u == 0x7f || (u >= 0x80 && u < 0xa0):
			// RFC 6855 §3 / RFC 5198: Net-Unicode has no control characters.
			return &MailboxNameError{s, k, "control character"}
		default:
			b.WriteRune(rune(u))
		}
	}
	if high != 0 {
		return &MailboxNameError{s, j, "unpaired high surrogate"}
	}
	if bits >= 6 {
		return &MailboxNameError{s, j, "excess base64 characters"}
	}
	if acc != 0 {
		return &MailboxNameError{s, j, "non-zero padding bits"}
	}
	return nil
}

// NormalizeMailboxName returns s in Unicode Normalization Form C, as
// RFC 9051 §5.1 recommends for names a server creates (and as UTF8=ACCEPT,
// RFC 6855 §3, requires). It reports false when s is not valid UTF-8, which a
// server must refuse as a mailbox name.
func NormalizeMailboxName(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	return norm.NFC.String(s), true
}
