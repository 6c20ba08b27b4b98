package pop3

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		line string
		want Response
		bad  bool
	}{
		{"+OK", Response{Status: StatusOK}, false},
		{"+OK 2 320", Response{Status: StatusOK, Text: "2 320"}, false},
		{"-ERR no such message", Response{Status: StatusErr, Text: "no such message"}, false},
		// RFC 2449 §8.1.2
		{"-ERR [IN-USE] Do you have another POP session running?", Response{Status: StatusErr, Code: "IN-USE", Text: "Do you have another POP session running?"}, false},
		{"-ERR [SYS/TEMP] disk full", Response{Status: StatusErr, Code: "SYS/TEMP", Text: "disk full"}, false},
		{"-ERR [not a code", Response{Status: StatusErr, Text: "[not a code"}, false},
		{"-ERR [A//B] x", Response{Status: StatusErr, Text: "[A//B] x"}, false},
		{"-ERR text [IN-USE]", Response{Status: StatusErr, Text: "text [IN-USE]"}, false},
		// RFC 5034 §4
		{"+ ", Response{Status: StatusContinue}, false},
		{"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", Response{Status: StatusContinue, Text: "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"}, false},
		{"+OKAY", Response{}, true},
		{"OK", Response{}, true},
		{"", Response{}, true},
		{"+OK " + strings.Repeat("x", 600), Response{}, true},
	}
	for _, tt := range tests {
		got, err := ParseResponse([]byte(tt.line))
		if tt.bad {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("S: %s: err = %v, want *SyntaxError", tt.line, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("S: %s: got %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	r, _ := ParseResponse([]byte("-ERR [SYS/TEMP/DISK] later"))
	err := r.Err()
	if !errors.Is(err, ErrSysTemp) || errors.Is(err, ErrSysPerm) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || !pe.Temporary() || pe.Code != "SYS/TEMP/DISK" {
		t.Fatalf("As: %+v", pe)
	}
	if e := (&Error{Code: "AUTH", Text: "bad"}); !errors.Is(e, ErrAuth) || e.Temporary() {
		t.Fatal("AUTH")
	}
	if (Response{Status: StatusOK}).Err() != nil {
		t.Fatal("+OK is not an error")
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		name string
		args []string
		bad  bool
	}{
		{"STAT", "STAT", nil, false},
		{"retr 1", "RETR", []string{"1"}, false},
		{"TOP 1 10", "TOP", []string{"1", "10"}, false},
		{"PASS secret with spaces", "PASS", []string{"secret with spaces"}, false},
		{"PASS", "PASS", nil, false},
		{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", "APOP", []string{"mrose", "c4c9334bac560ecc979e58001b3e22fb"}, false},
		{"USER " + strings.Repeat("u", 60), "USER", []string{strings.Repeat("u", 60)}, false},
		{"AUTH PLAIN " + strings.Repeat("A", 200), "AUTH", []string{"PLAIN", strings.Repeat("A", 200)}, false},
		{"RETR " + strings.Repeat("1", 41), "", nil, true},
		{"RETR  1", "", nil, true},
		{"RETR 1 ", "", nil, true},
		{"RE", "", nil, true},
		{"RETRX 1", "", nil, true},
		{"RETR\x001", "", nil, true},
		{"LIST\t1", "", nil, true},
		{"USER " + strings.Repeat("u", 250), "", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseCommand([]byte(tt.line))
		if tt.bad {
			if err == nil {
				t.Errorf("C: %q: want error, got %+v", tt.line, got)
			}
			continue
		}
		if err != nil || got.Name != tt.name || strings.Join(got.Args, "|") != strings.Join(tt.args, "|") || len(got.Args) != len(tt.args) {
			t.Errorf("C: %q: got %+v, %v", tt.line, got, err)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "42": 42, "0": -1, "-1": -1, "+1": -1, "01": -1, "99999999999": -1, "": -1} {
		n, ok := ParseMsgNum(s)
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("ParseMsgNum(%q) = %d, %v", s, n, ok)
		}
	}
	if n, ok := ParseLineCount("0"); !ok || n != 0 {
		t.Error("TOP 1 0")
	}
	if _, ok := ParseLineCount("x"); ok {
		t.Error("TOP x")
	}
}

func TestCapabilities(t *testing.T) {
	// RFC 2449 §5 example, plus SASL and EXPIRE.
	lines := []string{"TOP", "USER", "SASL CRAM-MD5 KERBEROS_V4", "RESP-CODES", "LOGIN-DELAY 900", "PIPELINING", "EXPIRE 60", "UIDL", "IMPLEMENTATION Shlemazle-Plotz-v302"}
	c := Capabilities{}
	for _, l := range lines {
		tag, args, err := ParseCapability([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		c[tag] = args
	}
	if !c.Has("top") || !c.Has("PIPELINING") || c.Has("STLS") {
		t.Error("Has")
	}
	if m := c.SASL(); len(m) != 2 || m[0] != "CRAM-MD5" {
		t.Errorf("SASL = %v", m)
	}
	if d, ok := c.Expire(); !ok || d != 60 {
		t.Errorf("Expire = %d %v", d, ok)
	}
	if d, ok := c.LoginDelay(); !ok || d != 900 {
		t.Errorf("LoginDelay = %d %v", d, ok)
	}
	if c.Implementation() != "Shlemazle-Plotz-v302" {
		t.Error("Implementation")
	}
	c["EXPIRE"] = []string{"NEVER"}
	if d, ok := c.Expire(); !ok || d != -1 {
		t.Error("EXPIRE NEVER")
	}
	if _, _, err := ParseCapability([]byte("  ")); err == nil {
		t.Error("empty capability line accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"STAT", "RETR 1", "TOP 1 10", "PASS a b c", "APOP mrose c4c9334bac560ecc979e58001b3e22fb", "AUTH PLAIN =", "UIDL", "X\x00Y", "USER \xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.Name) < 3 || len(cmd.Name) > 4 || cmd.Name != strings.ToUpper(cmd.Name) {
			t.Fatalf("bad name %q", cmd.Name)
		}
		for _, a := range cmd.Args {
			if a == "" || (cmd.Name != "PASS" && strings.Contains(a, " ")) {
				t.Fatalf("bad arg %q", a)
			}
		}
		for _, a := range cmd.Args {
			ParseMsgNum(a)
			ParseLineCount(a)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"+OK", "+OK 2 320", "-ERR [IN-USE] busy", "-ERR [SYS/TEMP/X] y", "+ ", "+ AAAA", "-ERR [", "-ERR []", "+OK\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseResponse(line)
		if err != nil {
			return
		}
		if r.Code != "" && !validRespCode([]byte(r.Code)) {
			t.Fatalf("invalid code %q accepted", r.Code)
		}
		if r.Status == StatusErr {
			if _, ok := AsError(r.Err()); !ok {
				t.Fatal("Err not *Error")
			}
		}
		ParseCapability(line)
	})
}

// RFC 6856 §3.3: language listings.
func TestParseLanguage(t *testing.T) {
	tests := []struct {
		line string
		want Language
		bad  bool
	}{
		{"en English", Language{Tag: "en", Description: "English"}, false},
		{"en-boont English Boontling dialect", Language{Tag: "en-boont", Description: "English Boontling dialect"}, false},
		{"es Español", Language{Tag: "es", Description: "Español"}, false},
		{"sv", Language{Tag: "sv"}, false},
		{"", Language{}, true},
		{" English", Language{}, true},
		{"e_n English", Language{}, true},
		{"de Deutsch\xff", Language{}, true},
	}
	for _, tt := range tests {
		got, err := ParseLanguage([]byte(tt.line))
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseLanguage(%q) = %+v, %v", tt.line, got, err)
		}
	}
}

func TestCapabilitiesUTF8User(t *testing.T) {
	for caps, want := range map[string]bool{"UTF8 USER": true, "UTF8 user": true, "UTF8": false, "LANG": false} {
		tag, args, err := ParseCapability([]byte(caps))
		if err != nil {
			t.Fatal(err)
		}
		if got := (Capabilities{tag: args}).UTF8User(); got != want {
			t.Errorf("%q: UTF8User = %v", caps, got)
		}
	}
}

func FuzzParseLanguage(f *testing.F) {
	for _, s := range []string{"en English", "en-boont English Boontling dialect", "es Espa\xc3\xb1ol", "sv", "", " x", "de \xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		l, err := ParseLanguage(line)
		if err != nil {
			return
		}
		if l.Tag == "" || strings.ContainsAny(l.Tag, " \r\n") || !utf8.ValidString(l.Description) {
			t.Fatalf("bad result %+v", l)
		}
	})
}
