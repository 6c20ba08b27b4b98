package smtp

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"EHLO x", "MAIL FROM:<a@b.c> SIZE=1 BODY=8BITMIME", "RCPT TO:<Postmaster>", "RCPT TO:<\"q\\\"x\"@[IPv6:::1]> NOTIFY=NEVER ORCPT=rfc822;a+2Bb", "BDAT 100 LAST", "quit"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg, err := ParseCommand(line)
		if err != nil {
			return
		}
		if strings.ContainsAny(arg, "\r\n") || verb == "" {
			t.Fatalf("bad split %q %q", verb, arg)
		}
		for _, parse := range []func(string, int) (Mailbox, Params, error){ParseMailArg, ParseRcptArg} {
			m, ps, err := parse(arg, 0)
			if err != nil {
				continue
			}
			if err := m.Check(); err != nil {
				t.Fatalf("parsed mailbox %q fails Check: %v", m, err)
			}
			buf, err := ps.Append(nil)
			if err != nil {
				t.Fatalf("parsed params do not format: %v", err)
			}
			if bytes.ContainsAny(buf, "\r\n") {
				t.Fatal("CR/LF in params")
			}
			_, _ = ParseMailOptions(ps)
			_, _ = ParseRcptOptions(ps)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 no\r\n", "220\r\n", "451-4.3.0 x\n451 4.3.0 y\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ReadReply(bufio.NewReader(strings.NewReader(s)), ReplyLimits{MaxLines: 10, MaxLineLength: 100})
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 559 || len(r.Lines) == 0 || len(r.Lines) > 10 {
			t.Fatalf("bad reply %+v", r)
		}
		out := AppendReply(nil, r.Code, r.Enhanced, r.Lines...)
		r2, err := ReadReply(bufio.NewReader(bytes.NewReader(out)), ReplyLimits{})
		if err != nil || r2.Code != r.Code {
			t.Fatalf("reply does not round-trip: %q %v", out, err)
		}
		// A ReplyReader reusing its Reply and recent texts reads the
		// same reply, again and again.
		rr := ReplyReader{Limits: ReplyLimits{MaxLines: 10, MaxLineLength: 100}}
		for range 2 {
			got, err := rr.Read(bufio.NewReader(strings.NewReader(s)))
			if err != nil || got.Code != r.Code || got.Enhanced != r.Enhanced || !slices.Equal(got.Lines, r.Lines) {
				t.Fatalf("ReplyReader: %+v %v, ReadReply: %+v", got, err, r)
			}
		}
	})
}

func FuzzParseMailbox(f *testing.F) {
	for _, s := range []string{"a@b.c", `"x y"@b.c`, "a@[1.2.3.4]", "a@[IPv6:::1]", "ü@ü.de", "a@[tag:x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMailbox(s)
		if err != nil {
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("%q parsed to %#v which fails Check: %v", s, m, err)
		}
		if strings.ContainsAny(m.String(), "\r\n\x00") {
			t.Fatal("control characters survive")
		}
	})
}

func FuzzXtext(f *testing.F) {
	f.Add("a+2Bb")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeXtext(s)
		if err != nil {
			return
		}
		if back, err := DecodeXtext(EncodeXtext(d)); err != nil || back != d {
			t.Fatal("xtext does not round-trip")
		}
	})
}
