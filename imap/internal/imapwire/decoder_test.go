package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

func newDec(s string, lim Limits) (*Decoder, *strings.Builder) {
	var conts strings.Builder
	d := NewDecoder(bufio.NewReaderSize(strings.NewReader(s), 64), lim)
	d.Continue = func(info LiteralInfo) error {
		fmt.Fprintf(&conts, "+%d;", info.Size)
		return nil
	}
	return d, &conts
}

func TestDecodeAtomsAndStrings(t *testing.T) {
	d, conts := newDec("a001 LOGIN {5}\r\nuser\x01 \"pa\\\"ss\\\\\"\r\nA2 select inbox\r\n", Limits{})
	tag, err := d.ReadTag()
	must(t, err)
	must(t, d.SP())
	name, err := d.ReadAtomUpper()
	must(t, err)
	must(t, d.SP())
	u, err := d.ReadAString()
	must(t, err)
	must(t, d.SP())
	p, err := d.ReadAString()
	must(t, err)
	must(t, d.ReadCRLF())
	if tag != "a001" || name != "LOGIN" || u != "user\x01" || p != `pa"ss\` || conts.String() != "+5;" {
		t.Fatalf("got %q %q %q %q conts %q", tag, name, u, p, conts)
	}
	_, _ = d.ReadTag()
	_ = d.SP()
	n, _ := d.ReadAtomUpper()
	must(t, d.SP())
	mb, err := d.ReadMailbox()
	must(t, err)
	must(t, d.ReadCRLF())
	if n != "SELECT" || mb != "INBOX" {
		t.Fatalf("got %q %q", n, mb)
	}
	if _, err := d.ReadTag(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

func TestDecodeSyntaxErrors(t *testing.T) {
	tests := []struct {
		in   string
		read func(d *Decoder) error
	}{
		{"\"ab\r\n", func(d *Decoder) error { _, err := d.ReadString(); return err }},
		{"\"a\\b\"\r\n", func(d *Decoder) error { _, err := d.ReadString(); return err }},
		{"\"caf\xe9\"\r\n", func(d *Decoder) error { d.UTF8 = true; _, err := d.ReadString(); return err }},
		{"4294967296\r\n", func(d *Decoder) error { _, err := d.ReadNumber(); return err }},
		{"0\r\n", func(d *Decoder) error { _, err := d.ReadNZNumber(); return err }},
		{"()\r\n", func(d *Decoder) error { return d.ReadList(false, func() error { return nil }) }},
		{"1,,2\r\n", func(d *Decoder) error { _, err := d.ReadNumSet(); return err }},
		{"\"32-Jan-2024 00:00:00 +0000\"\r\n", func(d *Decoder) error { _, err := d.ReadDateTime(); return err }},
		{"{3}\r\na\x00b\r\n", func(d *Decoder) error { _, err := d.ReadString(); return err }},
		{"NIX\r\n", func(d *Decoder) error { return d.ReadNIL() }},
	}
	for _, tt := range tests {
		d, _ := newDec(tt.in, Limits{})
		err := tt.read(d)
		e, ok := IsError(err)
		if !ok || e.Kind != ErrSyntax {
			t.Errorf("%q: err = %v, want syntax error", tt.in, err)
			continue
		}
		// Recover puts the decoder at the next command.
		must(t, d.Recover(0))
		if _, err := d.PeekByte(); err != io.EOF {
			t.Errorf("%q: after Recover: %v", tt.in, err)
		}
	}
}

func TestDecodeUTF8Quoted(t *testing.T) {
	d, _ := newDec("\"caf\xc3\xa9\"", Limits{})
	d.UTF8 = true
	s, err := d.ReadString()
	if err != nil || s != "café" {
		t.Fatalf("%q %v", s, err)
	}
}

// RFC 7888 §4 and RFC 4469: an oversized synchronising literal is refused
// before the continuation; the client does not send it, so the decoder is
// already at the next command.
func TestLiteralTooBigSync(t *testing.T) {
	d, conts := newDec("a APPEND INBOX {100000}\r\nb NOOP\r\n", Limits{})
	_, _ = d.ReadTag()
	_ = d.SP()
	_, _ = d.ReadAtom()
	must(t, d.SP())
	_, _ = d.ReadMailbox()
	must(t, d.SP())
	_, _, err := d.ReadLiteralReader(1000, true)
	e, ok := IsError(err)
	if !ok || e.Kind != ErrLiteralTooBig || !e.InStep || e.Literal.Size != 100000 || e.Code() != imap.CodeTooBig {
		t.Fatalf("err = %#v", err)
	}
	if conts.Len() != 0 {
		t.Fatalf("continuation sent: %q", conts)
	}
	must(t, d.Recover(0))
	tag, _ := d.ReadTag()
	if tag != "b" {
		t.Fatalf("next tag %q", tag)
	}
}

// A too-big non-synchronising literal is already on its way: the server
// either consumes it (Recover with a large enough maxDiscard) or must close.
func TestLiteralTooBigNonSync(t *testing.T) {
	in := "a APPEND INBOX {20+}\r\n01234567890123456789 extra\r\nb NOOP\r\n"
	for _, max := range []int64{100, 10} {
		d, _ := newDec(in, Limits{})
		_, _ = d.ReadTag()
		_ = d.SP()
		_, _ = d.ReadAtom()
		_ = d.SP()
		_, _ = d.ReadMailbox()
		_ = d.SP()
		_, _, err := d.ReadLiteralReader(10, true)
		e, ok := IsError(err)
		if !ok || e.Kind != ErrLiteralTooBig || e.InStep || !e.Literal.NonSync {
			t.Fatalf("err = %#v", err)
		}
		err = d.Recover(max)
		if max == 10 {
			if e, ok := IsError(err); !ok || e.Kind != ErrOutOfStep {
				t.Fatalf("Recover(10) = %v", err)
			}
			continue
		}
		must(t, err)
		if tag, _ := d.ReadTag(); tag != "b" {
			t.Fatalf("next tag %q", tag)
		}
	}
}

// RFC 7888 §5: with LITERAL-, non-synchronising literals above 4096 bytes
// are refused.
func TestLiteralMinus(t *testing.T) {
	d, _ := newDec("{5000+}\r\n", Limits{MaxNonSyncLiteral: 4096})
	_, _, err := d.ReadLiteralReader(1<<20, false)
	if e, ok := IsError(err); !ok || e.Kind != ErrLiteralTooBig {
		t.Fatalf("err = %v", err)
	}
}

func TestLiteralStream(t *testing.T) {
	msg := strings.Repeat("x", 1000) + "\r\n"
	in := "a APPEND INBOX (\\Seen) \"05-Mar-2024 10:00:00 +0100\" ~{" + fmt.Sprint(len(msg)) + "}\r\n" + msg + "\r\nb NOOP\r\n"
	d, conts := newDec(in, Limits{})
	_, _ = d.ReadTag()
	_ = d.SP()
	_, _ = d.ReadAtom()
	_ = d.SP()
	_, _ = d.ReadMailbox()
	_ = d.SP()
	flags, err := d.ReadFlagList()
	must(t, err)
	_ = d.SP()
	dt, err := d.ReadDateTime()
	must(t, err)
	_ = d.SP()
	r, info, err := d.ReadLiteralReader(1<<20, true)
	must(t, err)
	body, err := io.ReadAll(r)
	must(t, err)
	must(t, d.ReadCRLF())
	if string(body) != msg || !info.Binary || len(flags) != 1 || flags[0] != imap.FlagSeen || conts.String() != "+1002;" {
		t.Fatalf("body %d flags %v info %+v conts %q", len(body), flags, info, conts)
	}
	if want := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC); !dt.Equal(want) {
		t.Fatalf("date %v", dt)
	}
	// An unread streamed literal is discarded by the next call.
	d, _ = newDec("{5}\r\nhello\r\nb NOOP\r\n", Limits{})
	_, _, err = d.ReadLiteralReader(10, false)
	must(t, err)
	must(t, d.ReadCRLF())
	if tag, _ := d.ReadTag(); tag != "b" {
		t.Fatalf("tag %q", tag)
	}
}

func TestLimits(t *testing.T) {
	// Line too long; Recover skips it, including a non-sync literal at its end.
	in := "a " + strings.Repeat("x", 200) + " {3+}\r\nabc\r\nb NOOP\r\n"
	d, _ := newDec(in, Limits{MaxLine: 100})
	_, _ = d.ReadTag()
	_ = d.SP()
	_, err := d.ReadAtom()
	if e, ok := IsError(err); !ok || e.Kind != ErrLineTooLong {
		t.Fatalf("err = %v", err)
	}
	must(t, d.Recover(10))
	if tag, _ := d.ReadTag(); tag != "b" {
		t.Fatalf("tag %q", tag)
	}
	// Nesting depth.
	d, _ = newDec("a SEARCH "+strings.Repeat("(", 100)+"ALL"+strings.Repeat(")", 100)+"\r\n", Limits{MaxDepth: 10})
	_, _ = d.ReadTag()
	_ = d.SP()
	_, _ = d.ReadAtom()
	_ = d.SP()
	_, err = d.ReadSearchCriteria()
	if e, ok := IsError(err); !ok || e.Kind != ErrTooDeep {
		t.Fatalf("err = %v", err)
	}
	// Too many literals.
	d, _ = newDec("{1}\r\na {1}\r\nb {1}\r\nc\r\n", Limits{MaxLiterals: 2})
	var kinds []ErrorKind
	for range 3 {
		_, err := d.ReadString()
		if e, ok := IsError(err); ok {
			kinds = append(kinds, e.Kind)
			break
		}
		_ = d.SP()
	}
	if len(kinds) != 1 || kinds[0] != ErrTooManyLiterals {
		t.Fatalf("kinds %v", kinds)
	}
	// Total bytes per command.
	d, _ = newDec("{60}\r\n"+strings.Repeat("a", 60)+" {60}\r\n", Limits{MaxCommandBytes: 100})
	_, err = d.ReadString()
	must(t, err)
	_ = d.SP()
	if _, err := d.ReadString(); err == nil {
		t.Fatal("literal bytes over the command budget accepted")
	}
	d, _ = newDec("a "+strings.Repeat("x", 50)+" {0}\r\n "+strings.Repeat("y", 50)+"\r\n", Limits{MaxCommandBytes: 80})
	_, _ = d.ReadTag()
	_ = d.SP()
	_, _ = d.ReadAtom()
	_ = d.SP()
	_, _ = d.ReadString()
	_ = d.SP()
	if _, err := d.ReadAtom(); err == nil {
		t.Fatal("lines over the command budget accepted")
	}
}

func TestReadFlagsAndSets(t *testing.T) {
	d, _ := newDec(`1:3,5:*,$ (\seen $Junk \Foo) \Deleted foo`+"\r\n", Limits{})
	s, err := d.ReadNumSet()
	if err == nil {
		t.Fatalf("1:3,5:*,$ accepted: %v", s)
	}
	must(t, d.Recover(0))
	d, _ = newDec(`(\seen $Junk \Foo) \Deleted foo`+"\r\n", Limits{})
	f, err := d.ReadFlagList()
	must(t, err)
	_ = d.SP()
	g, err := d.ReadFlags()
	must(t, err)
	if fmt.Sprint(f) != `[\Seen $Junk \Foo]` || fmt.Sprint(g) != `[\Deleted foo]` {
		t.Fatalf("%v %v", f, g)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = errors.New
