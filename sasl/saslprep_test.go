package sasl

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/secure/precis"
)

// RFC 4013 §3 examples.
func TestSASLprepRFC4013Examples(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"I\u00ADX", "IX", true},    // SOFT HYPHEN mapped to nothing
		{"user", "user", true},      // no transformation
		{"USER", "USER", true},      // case preserved
		{"\u00AA", "a", true},       // NFKC: FEMININE ORDINAL INDICATOR
		{"\u2168", "IX", true},      // NFKC: ROMAN NUMERAL NINE
		{"\u0007", "", false},       // prohibited character
		{"\u0627\u0031", "", false}, // bidi check
	}
	for _, tt := range tests {
		for _, f := range []func(string) (string, error){SASLprep, SASLprepQuery} {
			got, err := f(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Errorf("SASLprep(%+q) = %+q, %v; want %+q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrSASLprep) {
				t.Errorf("SASLprep(%+q): error %v is not ErrSASLprep", tt.in, err)
			}
		}
	}
}

// The documented differences between SASLprep (RFC 4013) and the PRECIS
// OpaqueString profile (RFC 8265 §4.2), and where both agree.
func TestSASLprepVersusPRECIS(t *testing.T) {
	const fail = "\x00fail"
	tests := []struct {
		name                 string
		in                   string
		stored, query, precs string
	}{
		// Agreement.
		{"printable ASCII", "Tr0ub4dor&3", "Tr0ub4dor&3", "Tr0ub4dor&3", "Tr0ub4dor&3"},
		{"NO-BREAK SPACE to SPACE", "a\u00A0b", "a b", "a b", "a b"},
		{"IDEOGRAPHIC SPACE to SPACE", "x\u3000y", "x y", "x y", "x y"},
		{"OGHAM SPACE MARK to SPACE", "\u1680", " ", " ", " "},
		{"emoji (assigned after Unicode 3.2)", "\U0001F600", "\U0001F600", "\U0001F600", "\U0001F600"},
		{"NFC composition", "A\u030A", "\u00C5", "\u00C5", "\u00C5"},
		{"private use prohibited", "\uE000", fail, fail, fail},
		{"control prohibited", "a\u0085", fail, fail, fail},
		{"tag prohibited", "\U000E0001", fail, fail, fail},
		{"bidi control prohibited", "\u200E", fail, fail, fail},
		// Differences.
		{"NFKC vs NFC", "\u2168", "IX", "IX", "\u2168"},
		{"B.1 mapped to nothing vs disallowed", "I\u00ADX", "IX", "IX", fail},
		{"ZERO WIDTH SPACE: B.1 wins over C.1.2", "a\u200Bb", "ab", "ab", fail},
		{"REPLACEMENT CHARACTER (C.6)", "\uFFFD", fail, fail, "\uFFFD"},
		{"ideographic description (C.7)", "\u2FF0", fail, fail, "\u2FF0"},
		{"bidi rule (RFC 3454 §6)", "a\u0627", fail, fail, "a\u0627"},
		{"RandAL only is fine", "\u0627\u0628", "\u0627\u0628", "\u0627\u0628", "\u0627\u0628"},
		{"unassigned: stored refuses, query allows", "\u0378", fail, "\u0378", fail},
		{"default-ignorable outside B.1 (PRECIS rule for stored)", "\u115F", fail, "\u115F", fail},
		{"empty string", "", "", "", fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, got string, err error, want string) {
				t.Helper()
				if want == fail {
					if err == nil {
						t.Errorf("%s(%+q) = %+q, want failure", what, tt.in, got)
					}
					return
				}
				if err != nil || got != want {
					t.Errorf("%s(%+q) = %+q, %v; want %+q", what, tt.in, got, err, want)
				}
			}
			got, err := SASLprep(tt.in)
			check("SASLprep", got, err, tt.stored)
			got, err = SASLprepQuery(tt.in)
			check("SASLprepQuery", got, err, tt.query)
			got, err = precis.OpaqueString.String(tt.in)
			check("OpaqueString", got, err, tt.precs)
		})
	}
}

func TestSASLprepInvalidUTF8(t *testing.T) {
	if _, err := SASLprepQuery("a\xffb"); !errors.Is(err, ErrSASLprep) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

func TestSASLprepASCIINoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { SASLprepQuery("user@example.org") })
	if n != 0 {
		t.Fatalf("%v allocations for ASCII", n)
	}
}

// SCRAMKeys round-trip through their RFC 5803-style text form.
func TestSCRAMKeysString(t *testing.T) {
	k, err := NewSCRAMKeys(SHA256, "pencil", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if k.Iterations != DefaultSCRAMIterations || len(k.Salt) != DefaultSaltLen {
		t.Fatalf("defaults: %+v", k)
	}
	p, err := ParseSCRAMKeys(k.String())
	if err != nil || p.String() != k.String() {
		t.Fatalf("round trip: %v %v", p, err)
	}
	if !strings.HasPrefix(k.String(), "SCRAM-SHA-256$4096:") {
		t.Fatalf("String = %q", k)
	}
	// The example of RFC 5803 (SCRAM-SHA-1, password "pencil", the salt of RFC 5802 §5).
	salt, _ := b64.DecodeString("QSXCR+Q6sek8bf92")
	k1, _ := NewSCRAMKeys(SHA1, "pencil", salt, 4096)
	if got, want := k1.String(), "SCRAM-SHA-1$4096:QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=:D+CSWLOshSulAsxiupA+qs2/fTE="; got != want {
		t.Fatalf("String = %q\n    want %q", got, want)
	}
	k32 := b64.EncodeToString(make([]byte, 32))
	for _, bad := range []string{"", "SCRAM-SHA-256$4096:c2FsdA==", "SCRAM-SHA-256$x:c2FsdA==$AA==:AA==", "SCRAM-SHA-256$4096:!!$AA==:AA==",
		"SCRAM-SHA-256$4096:c2FsdA==$AAAA:AA==", "SCRAM-SHA-256$0:c2FsdA==$" + k32 + ":" + k32, "SCRAM-SHA-1$4096:c2FsdA==$" + k32 + ":" + k32, "4096:c2FsdA==$" + k32 + ":" + k32} {
		if _, err := ParseSCRAMKeys(bad); err == nil {
			t.Errorf("ParseSCRAMKeys(%q) succeeded", bad)
		}
	}
	if _, err := NewSCRAMKeys(SHA1, "", nil, 0); err == nil {
		t.Error("empty password accepted")
	}
	if _, err := NewSCRAMKeys(SHA1, "\u0378", nil, 0); err == nil {
		t.Error("unassigned code point accepted in a stored password")
	}
	if _, err := NewSCRAMKeys(SCRAMHash(9), "x", nil, 0); err == nil {
		t.Error("bad hash accepted")
	}
}
