package mime

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fast paths of ParseAddressList and ParseDate must return exactly
// what the general parsers return for every input they accept.

var addressFastSeeds = []struct {
	in   string
	fast bool // the fast path takes it
}{
	{`"Martin, Alice" <alice@example.org>`, true},
	{`=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>, bob@example.net`, true},
	{`bob@example.net`, true},
	{`  bob@example.net  ,  , carol@example.com,`, true},
	{`Jane Doe <jane@example.com>`, true},
	{"Jane \t Q.  Doe <jane@example.com>", true},
	{`John Q. Public <john.q.public@example.com>`, true},
	{`"Joe Q. Public" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@one.test`, true},
	{`"Giant; \"Big\" Box" <sysservices@example.net>`, false},
	{`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, false},
	{`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`, false},
	{`Undisclosed recipients:;`, false},
	{`Doe, Jane <jane@example.com>`, false},
	{`jane@example.com (Jane Doe)`, false},
	{`<@a.example,@b.example:jane@example.com>`, false},
	{`<>`, false},
	{`jane@[192.0.2.1]`, false},
	{`"jane doe"@example.com`, false},
	{`a"b" <x@y>`, false},
	{`"" <x@y>`, false},
	{`=?utf-8?q?a,b?= <x@y>`, false},
	{`<=?a?q?x@y>?=`, false},
	{`=?utf-8?q?a?= "b" <x@y>`, true},
	{`"=?utf-8?q?J=C3=BCrgen?=" <j@x>`, true},
	{`a@b@c`, false},
	{`Jürgen <j@x>`, false},
	{"\"Jürgen\" <j@x>", true},
	{`Bob<b@c>`, true},
	{`x <b@c> y`, false},
	{`@b`, false},
	{`a@`, false},
	{``, false},
	{`,,`, false},
}

func TestAddressFastPathAgrees(t *testing.T) {
	for _, tt := range addressFastSeeds {
		for _, decode := range []bool{true, false} {
			_, ok := parseAddressListFast(tt.in, decode)
			if ok != tt.fast {
				t.Errorf("parseAddressListFast(%q): ok %v, want %v", tt.in, ok, tt.fast)
			}
			checkAddressFast(t, tt.in, decode)
		}
	}
}

func checkAddressFast(t *testing.T, in string, decode bool) {
	t.Helper()
	fast, ok := parseAddressListFast(in, decode)
	if !ok {
		return
	}
	general, err := parseAddressListGeneral(in, decode)
	if err != nil || !reflect.DeepEqual(fast, general) {
		t.Fatalf("%q (decode %v): fast path %s, general %s, %v", in, decode, dumpAddrs(fast), dumpAddrs(general), err)
	}
}

func dumpAddrs(list []*Address) string {
	var b strings.Builder
	for _, a := range list {
		b.WriteString("{" + a.Name + "|" + a.Mailbox + "|" + a.Host + "}")
	}
	return b.String()
}

func FuzzAddressFastPath(f *testing.F) {
	for _, tt := range addressFastSeeds {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkAddressFast(t, in, true)
		checkAddressFast(t, in, false)
	})
}

var dateFastSeeds = []struct {
	in   string
	fast bool
}{
	{"Tue, 2 Jan 2024 10:00:00 +0100", true},
	{"Mon, 02 Jan 2006 15:04:05 -0700", true},
	{"2 Jan 2006 15:04:05 -0000", true},
	{" Sun, 31 Dec 1999 23:59:59 +0000 ", true},
	{"Fri, 21 Nov 1997 09:55:06 -0600", true},
	{"Thu, 13 Feb 1969 23:32:54 -0330", true},
	{"Mon, 30 Feb 2024 10:00:00 +0100", false}, // no such day
	{"Mon, 2 Jan 2006 24:00:00 +0000", false},
	{"Mon, 2 Jan 2006 23:59:60 +0000", false}, // leap second
	{"Mon, 2 Jan 2006 15:04:05 +0060", false},
	{"Mon, 2 Jan 2006 15:04:05 GMT", false},
	{"Mon, 2 Jan 2006 15:04 -0700", false},
	{"mon, 2 jan 2006 15:04:05 -0700", false},
	{"Mon, 2 Jan 06 15:04:05 -0700", false},
	{"Mon, 0 Jan 2006 15:04:05 -0700", false},
	{"Mon, 2 Jan 2006 15:04:05 -0700 (MST)", false},
	{"Fry, 2 Jan 2006 15:04:05 -0700", false},
	{"2006-01-02T15:04:05Z", false},
}

func TestDateFastPathAgrees(t *testing.T) {
	for _, tt := range dateFastSeeds {
		if _, ok := parseDateFast(strings.TrimSpace(tt.in)); ok != tt.fast {
			t.Errorf("parseDateFast(%q): ok %v, want %v", tt.in, ok, tt.fast)
		}
		checkDateFast(t, tt.in)
	}
}

func checkDateFast(t *testing.T, in string) {
	t.Helper()
	fast, ok := parseDateFast(in)
	if !ok {
		return
	}
	general, err := parseDateGeneral(in)
	if err != nil || !fast.Equal(general) || fast.Location().String() != general.Location().String() || zoneOf(fast) != zoneOf(general) {
		t.Fatalf("%q: fast path %v, general %v, %v", in, fast, general, err)
	}
}

func zoneOf(t time.Time) int {
	_, off := t.Zone()
	return off
}

func FuzzDateFastPath(f *testing.F) {
	for _, tt := range dateFastSeeds {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkDateFast(t, in)
	})
}

func TestASCIIAtextOrDot(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c < 0x80 && (c == '.' || isAtext(byte(c)))
		if got := isASCIIAtextOrDot(byte(c)); got != want {
			t.Errorf("isASCIIAtextOrDot(%#x) = %v, want %v", c, got, want)
		}
	}
}
