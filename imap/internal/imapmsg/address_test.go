package imapmsg

import (
	"fmt"
	"testing"

	"github.com/posthorn/posthorn/imap"
)

func fmtAddrs(l []imap.Address) string {
	s := ""
	for _, a := range l {
		s += fmt.Sprintf("(%q %q %q %q)", a.Name, a.ADL, a.Mailbox, a.Host)
	}
	return s
}

// RFC 5322 §3.4 forms, flattened as RFC 9051 §7.5.2 describes.
func TestParseAddressList(t *testing.T) {
	tests := []struct{ in, want string }{
		{`alice@example.org`, `("" "" "alice" "example.org")`},
		{`Alice <alice@example.org>`, `("Alice" "" "alice" "example.org")`},
		{`"Smith, John" <john@x.example>, bob@y.example`, `("Smith, John" "" "john" "x.example")("" "" "bob" "y.example")`},
		{`=?utf-8?q?J=C3=BCrgen?= <j@x>`, `("=?utf-8?q?J=C3=BCrgen?=" "" "j" "x")`},
		// A trailing comment names a bare addr-spec, as in Dovecot (issue
		// 12 defect 8); a comment elsewhere does not.
		{`john.doe@example.com (John Doe)`, `("John Doe" "" "john.doe" "example.com")`},
		{`a@x (A), b@y`, `("A" "" "a" "x")("" "" "b" "y")`},
		{`u (c1)@ (c2) example.org`, `("" "" "u" "example.org")`},
		{`<u (c1)@ (c2) example.org> (c3)`, `("" "" "u" "example.org")`},
		{`"john doe"@example.com`, `("" "" "john doe" "example.com")`},
		{`A Group:a@x,b@y;`, `("" "" "A Group" "")("" "" "a" "x")("" "" "b" "y")("" "" "" "")`},
		{`undisclosed-recipients:;`, `("" "" "undisclosed-recipients" "")("" "" "" "")`},
		{`Open:a@x`, `("" "" "Open" "")("" "" "a" "x")("" "" "" "")`},
		{`<@r1,@r2:u@h>`, `("" "@r1,@r2" "u" "h")`},
		{`user`, `("" "" "user" "MISSING_DOMAIN")`},
		{`u@[192.0.2.1]`, `("" "" "u" "[192.0.2.1]")`},
		{`Mr. Smith <s@x>`, `("Mr. Smith" "" "s" "x")`},
		{`<>`, ``},
		{`,,, ;`, ``},
		{``, ``},
	}
	for _, tt := range tests {
		if got := fmtAddrs(parseAddressList(tt.in)); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{`a@b`, `"x" <y@z>`, `G:a@b,c@d;`, `(c(n)) <@r:u@h>`, `"unterminated`, `<`, `a:b:c;;`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := parseAddressList(s)
		if len(l) > maxAddresses+1 {
			t.Fatalf("%d addresses", len(l))
		}
		for _, a := range l {
			if a.Host == "" && a.Mailbox != "" && a.Name != "" {
				t.Fatalf("group start with a name: %+v", a)
			}
		}
	})
}
