package mime

import (
	"errors"
	"strings"
	"testing"
)

// fmtList renders addresses compactly for comparison: name<mailbox@host>,
// groups as name:[...].
func fmtList(list []*Address) string {
	var parts []string
	for _, a := range list {
		if a.Group {
			parts = append(parts, a.Name+":["+fmtList(a.Members)+"]")
			continue
		}
		parts = append(parts, a.Name+"<"+a.Mailbox+"@"+a.Host+">")
	}
	return strings.Join(parts, " | ")
}

func TestParseAddressList(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 5322 Appendix A.1.2
		{`"Joe Q. Public" <john.q.public@example.com>`, "Joe Q. Public<john.q.public@example.com>"},
		{`Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>`, "Mary Smith<mary@x.test> | <jdoe@example.org> | Who?<one@y.test>"},
		{`<boss@nil.test>, "Giant; \"Big\" Box" <sysservices@example.net>`, `<boss@nil.test> | Giant; "Big" Box<sysservices@example.net>`},
		// A.1.3
		{`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`, "A Group:[Ed Jones<c@a.test> | <joe@where.test> | John<jdoe@one.test>]"},
		{`Undisclosed recipients:;`, "Undisclosed recipients:[]"},
		// A.5
		{`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, "Pete<pete@silly.test>"},
		{"A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
			"A Group:[Chris Jones<c@public.example> | <joe@example.org> | John<jdoe@one.test>]"},
		{`(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;`, "Hidden recipients:[]"},
		// A.6.1
		{`Joe Q. Public <john.q.public@example.com>`, "Joe Q. Public<john.q.public@example.com>"},
		{`Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example`, "Mary Smith<mary@example.net> | <jdoe@test.example>"},
		// A.6.3
		{"John Doe <jdoe@machine(comment).  example>", "John Doe<jdoe@machine.example>"},
		{"Mary Smith\r\n  \r\n     <mary@example.net>", "Mary Smith<mary@example.net>"},
		// quoted local parts, literals
		{`"john doe"@example.com`, "<john doe@example.com>"},
		{`"a\"b"@[192.0.2.1]`, `<a"b@[192.0.2.1]>`},
		// encoded words, including inside quotes
		{`=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>`, "André Pirard<PIRARD@vm1.ulg.ac.be>"},
		{`"=?utf-8?B?w6k=?= Doe" <e@x.test>`, "é Doe<e@x.test>"},
		{`=?utf-8?q?Doe,_Jane?= <j@x.test>`, "Doe, Jane<j@x.test>"},
		// RFC 6532
		{`Jöran <jöran@bücher.example>`, "Jöran<jöran@bücher.example>"},
		{`用户@例子.广告`, "<用户@例子.广告>"},
		// wild forms
		{`Doe, Jane <jane@x.test>, bob@y.test`, "Doe, Jane<jane@x.test> | <bob@y.test>"},
		{`jane@x.test (Jane Doe)`, "Jane Doe<jane@x.test>"},
		{`<>`, "<@>"},
		{`"Bob" <bob@x.test`, "Bob<bob@x.test>"},
		{`, ,a@b.test,`, "<a@b.test>"},
	}
	for _, tt := range tests {
		list, err := ParseAddressList(tt.in)
		if err != nil {
			t.Errorf("ParseAddressList(%q): %v", tt.in, err)
		}
		if got := fmtList(list); got != tt.want {
			t.Errorf("ParseAddressList(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestParseAddressListErrors(t *testing.T) {
	list, err := ParseAddressList(`a@b.test, not an address, c@d.test`)
	var ae *AddressError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if fmtList(list) != "<a@b.test> | <c@d.test>" {
		t.Errorf("kept %s", fmtList(list))
	}
	for _, in := range []string{"", "a@", "@b", "x@y, z@w", "G:;"} {
		if _, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) accepted", in)
		}
	}
}

func TestAddressString(t *testing.T) {
	tests := []struct {
		a    Address
		want string
	}{
		{Address{Mailbox: "jane", Host: "x.test"}, "jane@x.test"},
		{Address{Name: "Jane Doe", Mailbox: "jane", Host: "x.test"}, "Jane Doe <jane@x.test>"},
		{Address{Name: "Doe, Jane", Mailbox: "jane", Host: "x.test"}, `"Doe, Jane" <jane@x.test>`},
		{Address{Name: `Giant; "Big" Box`, Mailbox: "s", Host: "x.test"}, `"Giant; \"Big\" Box" <s@x.test>`},
		{Address{Name: "Jöran", Mailbox: "j", Host: "x.test"}, "=?utf-8?b?SsO2cmFu?= <j@x.test>"},
		{Address{Mailbox: "john doe", Host: "x.test"}, `"john doe"@x.test`},
		{Address{Mailbox: "a", Host: "bücher.example"}, "a@xn--bcher-kva.example"},
		{Address{Name: "G", Group: true, Members: []*Address{{Mailbox: "a", Host: "b"}, {Name: "C D", Mailbox: "c", Host: "d"}}}, "G: a@b, C D <c@d>;"},
		{Address{Name: "Undisclosed recipients", Group: true}, "Undisclosed recipients:;"},
	}
	for _, tt := range tests {
		got := tt.a.String()
		if got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
		list, err := ParseAddressList(got)
		if err != nil || len(list) != 1 {
			t.Errorf("re-parse %q: %v", got, err)
			continue
		}
		if !tt.a.Group && (list[0].Name != tt.a.Name || list[0].Mailbox != tt.a.Mailbox) {
			t.Errorf("re-parse %q = %+v", got, list[0])
		}
	}
}

func TestAddressHost(t *testing.T) {
	a := &Address{Mailbox: "a", Host: "xn--bcher-kva.example"}
	if got := a.HostUnicode(); got != "bücher.example" {
		t.Errorf("HostUnicode = %q", got)
	}
	a.Host = "bücher.example"
	if got, err := a.HostASCII(); err != nil || got != "xn--bcher-kva.example" {
		t.Errorf("HostASCII = %q %v", got, err)
	}
	a.Host = "[192.0.2.1]"
	if a.HostUnicode() != a.Host {
		t.Error("literal changed")
	}
}

func TestParseAddressListRaw(t *testing.T) {
	list, err := ParseAddressListRaw(`=?ISO-8859-1?Q?Andr=E9?= Pirard <a@b.test>, "=?utf-8?q?x?=" <c@d.test>, e@f.test (=?utf-8?q?y?=), G =?utf-8?q?z?=: h@i.test;`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtList(list); got != "=?ISO-8859-1?Q?Andr=E9?= Pirard<a@b.test> | =?utf-8?q?x?=<c@d.test> | =?utf-8?q?y?=<e@f.test> | G =?utf-8?q?z?=:[<h@i.test>]" {
		t.Errorf("got %s", got)
	}
}

func TestParseMessageIDs(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		// RFC 5322 Appendix A.2 and A.6.3
		{"<1234@local.machine.example>", "1234@local.machine.example"},
		{"<1234@local.machine.example> <3456@example.net>", "1234@local.machine.example 3456@example.net"},
		{"<1234   @   local(blah)  .machine .example>", "1234@local.machine.example"},
		{"\r\n <a@b>\r\n\t<c@d>", "a@b c@d"},
		// old In-Reply-To with a phrase
		{`Your message of "Mon, 4 Mar" <a@b>`, "a@b"},
		{"bare-id@example.com", "bare-id@example.com"},
		{"not an id", ""},
		{"<>", ""},
		{"<a@b", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(ParseMessageIDs(tt.in), " "); got != tt.want {
			t.Errorf("ParseMessageIDs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// NewMessageID makes ids ParseMessageIDs reads back, unique, with the
// host in ASCII and "localhost" for a host that cannot stand there.
func TestNewMessageID(t *testing.T) {
	for host, want := range map[string]string{
		"mail.example.org": "@mail.example.org>",
		"bücher.example":   "@xn--bcher-kva.example>",
		"":                 "@localhost>",
		"a b":              "@localhost>",
		"x>y":              "@localhost>",
		"u@h":              "@localhost>",
		"h\r\nX: y":        "@localhost>",
	} {
		id := NewMessageID(host)
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, want) {
			t.Errorf("NewMessageID(%q) = %q, want …%s", host, id, want)
		}
		if ids := ParseMessageIDs(id); len(ids) != 1 || "<"+ids[0]+">" != id {
			t.Errorf("ParseMessageIDs(%q) = %q", id, ids)
		}
	}
	if a, b := NewMessageID("h"), NewMessageID("h"); a == b {
		t.Errorf("two ids alike: %s", a)
	}
}
