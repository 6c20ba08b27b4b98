package sasl

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// SASLprep and PRECIS.
//
// SASLprep (RFC 4013) is a stringprep (RFC 3454) profile frozen at Unicode
// 3.2. Its successor, the PRECIS OpaqueString profile (RFC 8265 §4.2), is
// implemented by golang.org/x/text/secure/precis. The two agree on printable
// ASCII (where both are the identity) and on most other text, but not
// everywhere:
//
//   - Normalisation: SASLprep applies NFKC (RFC 4013 §2.2), OpaqueString NFC.
//     "IX" and U+2168 ROMAN NUMERAL NINE are the same SASLprep password and
//     different OpaqueString ones. We apply NFKC.
//   - Mapping to nothing: SASLprep deletes the RFC 3454 B.1 characters (soft
//     hyphen U+00AD, zero-width joiners, variation selectors, ...);
//     OpaqueString rejects them (default-ignorable). We delete them.
//   - Spaces: SASLprep maps the RFC 3454 C.1.2 list to U+0020 (which
//     includes U+200B, also in B.1: it is deleted, as most implementations
//     do), OpaqueString maps every non-ASCII Zs. After NFKC the results
//     agree on all of C.1.2.
//   - Bidi: SASLprep enforces the RFC 3454 §6 rule (a string with RandALCat
//     characters contains no LCat and starts and ends with RandALCat);
//     OpaqueString has no directionality rule. We enforce RFC 3454 §6.
//   - Unassigned code points: SASLprep uses Unicode 3.2, so everything
//     assigned later is "unassigned" there. We judge by the Unicode version
//     of golang.org/x/text, as PRECIS does. Query strings (RFC 3454 §7) may
//     contain unassigned code points, stored strings may not.
//   - Prohibited output: for stored strings we run the mapped and
//     NFKC-normalised string through precis.OpaqueString, whose
//     FreeformClass disallows controls, surrogates, non-characters,
//     unassigned and default-ignorable code points and old Hangul jamo, and
//     add the RFC 3454 C.3-C.9 tables on top (private use, U+FFFD,
//     ideographic description characters, bidi controls, tags), which
//     FreeformClass partly allows. Stored strings are therefore slightly
//     stricter than RFC 4013 (default-ignorable code points outside B.1,
//     such as U+115F, are refused). Query strings use only the RFC 3454
//     tables, so a client never fails on input a strict RFC 4013 peer
//     accepts.
//
// SCRAM (RFC 5802 §2.2) and PLAIN (RFC 4616 §2) prepare what the user
// presents as query strings; NewSCRAMKeys prepares the password being
// provisioned as a stored string.

// ErrSASLprep reports a string that SASLprep (RFC 4013) prohibits.
var ErrSASLprep = errors.New("sasl: string prohibited by SASLprep (RFC 4013)")

// SASLprep prepares s as a stored string (RFC 4013, RFC 3454 §7): the form in
// which a password or user name is provisioned. It returns ErrSASLprep
// (wrapped) for prohibited input.
func SASLprep(s string) (string, error) { return saslprep(s, true) }

// SASLprepQuery prepares s as a query string (RFC 3454 §7): unassigned code
// points are allowed. SCRAM and PLAIN prepare the strings a client presents
// this way.
func SASLprepQuery(s string) (string, error) { return saslprep(s, false) }

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func saslprep(s string, stored bool) (string, error) {
	// Printable ASCII maps to itself under both SASLprep and OpaqueString,
	// and it is nearly every real user name and password.
	if isPrintableASCII(s) {
		return s, nil
	}
	if !utf8.ValidString(s) {
		return "", errors.Join(ErrSASLprep, errors.New("invalid UTF-8"))
	}
	// RFC 4013 §2.1 mapping.
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case inTable(r, tableB1):
			// mapped to nothing
		case inTable(r, tableC12):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	// RFC 4013 §2.2 normalisation.
	out := norm.NFKC.String(b.String())
	if out == "" {
		return "", nil
	}
	// RFC 4013 §2.3 prohibited output, §2.5 unassigned.
	for _, r := range out {
		if prohibited(r) {
			return "", errors.Join(ErrSASLprep, errors.New("prohibited code point"))
		}
	}
	if stored {
		p, err := precis.OpaqueString.String(out)
		if err != nil {
			return "", errors.Join(ErrSASLprep, err)
		}
		if p != out {
			// Cannot happen: out is NFC (it is NFKC) and has no
			// non-ASCII spaces left; keep the invariant visible.
			return "", errors.Join(ErrSASLprep, errors.New("PRECIS mapping changed the string"))
		}
	}
	// RFC 4013 §2.4, RFC 3454 §6 bidi.
	if err := checkBidi(out); err != nil {
		return "", err
	}
	return out, nil
}

func checkBidi(s string) error {
	var hasRAL, hasL bool
	for _, r := range s {
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.R, bidi.AL:
			hasRAL = true
		case bidi.L:
			hasL = true
		}
	}
	if !hasRAL {
		return nil
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if hasL || !isRAL(first) || !isRAL(last) {
		return errors.Join(ErrSASLprep, errors.New("bidi rule of RFC 3454 §6 violated"))
	}
	return nil
}

func isRAL(r rune) bool {
	p, _ := bidi.LookupRune(r)
	return p.Class() == bidi.R || p.Class() == bidi.AL
}

type runeRange struct{ lo, hi rune }

func inTable(r rune, t []runeRange) bool {
	for _, rr := range t {
		if r < rr.lo {
			return false
		}
		if r <= rr.hi {
			return true
		}
	}
	return false
}

// prohibited reports RFC 4013 §2.3 prohibited output: RFC 3454 tables C.1.2,
// C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8 and C.9.
func prohibited(r rune) bool {
	if r < 0x20 || r == 0x7f {
		return true // C.2.1
	}
	if r&0xfffe == 0xfffe {
		return true // C.4: U+xxFFFE and U+xxFFFF of every plane
	}
	return inTable(r, tableProhibited)
}

// RFC 3454 Appendix B.1: commonly mapped to nothing.
var tableB1 = []runeRange{
	{0x00ad, 0x00ad}, {0x034f, 0x034f}, {0x1806, 0x1806}, {0x180b, 0x180d},
	{0x200b, 0x200d}, {0x2060, 0x2060}, {0xfe00, 0xfe0f}, {0xfeff, 0xfeff},
}

// RFC 3454 Appendix C.1.2: non-ASCII space characters.
var tableC12 = []runeRange{
	{0x00a0, 0x00a0}, {0x1680, 0x1680}, {0x2000, 0x200b}, {0x202f, 0x202f},
	{0x205f, 0x205f}, {0x3000, 0x3000},
}

// RFC 3454 Appendix C.1.2, C.2.2, C.3, C.4 (non-plane-end part), C.5, C.6,
// C.7, C.8, C.9, merged and sorted.
var tableProhibited = []runeRange{
	{0x0080, 0x00a0},   // C.2.2, C.1.2
	{0x0340, 0x0341},   // C.8
	{0x06dd, 0x06dd},   // C.2.2
	{0x070f, 0x070f},   // C.2.2
	{0x1680, 0x1680},   // C.1.2
	{0x180e, 0x180e},   // C.2.2
	{0x2000, 0x200f},   // C.1.2, C.2.2, C.8
	{0x2028, 0x202f},   // C.2.2, C.8, C.1.2
	{0x205f, 0x2063},   // C.1.2, C.2.2
	{0x206a, 0x206f},   // C.2.2, C.8
	{0x2ff0, 0x2ffb},   // C.7
	{0x3000, 0x3000},   // C.1.2
	{0xd800, 0xdfff},   // C.5
	{0xe000, 0xf8ff},   // C.3
	{0xfdd0, 0xfdef},   // C.4
	{0xfeff, 0xfeff},   // C.2.2
	{0xfff9, 0xfffd},   // C.2.2, C.6
	{0x1d173, 0x1d17a}, // C.2.2
	{0xe0001, 0xe0001}, // C.9
	{0xe0020, 0xe007f}, // C.9
	{0xf0000, 0xffffd}, // C.3
	{0x100000, 0x10fffd},
}
