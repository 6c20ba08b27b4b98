package imapwire

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/imap"
)

// searchString renders a search program compactly for comparisons.
func searchString(keys []imap.SearchKey) string {
	var parts []string
	for _, k := range keys {
		var s string
		switch k.Op {
		case imap.SearchSeqSet:
			s = k.Set.String()
		case imap.SearchAnd:
			s = "(" + searchString(k.Sub) + ")"
		case imap.SearchNot:
			s = "NOT " + searchString(k.Sub)
		case imap.SearchOr:
			s = "OR " + searchString(k.Sub[:1]) + " " + searchString(k.Sub[1:])
		case imap.SearchHeader:
			s = fmt.Sprintf("HEADER %s %q", k.Field, k.Value)
		case imap.SearchBcc, imap.SearchBody, imap.SearchCc, imap.SearchFrom, imap.SearchSubject, imap.SearchText, imap.SearchTo:
			s = fmt.Sprintf("%s %q", k.Op, k.Value)
		case imap.SearchBefore, imap.SearchOn, imap.SearchSince, imap.SearchSentBefore, imap.SearchSentOn, imap.SearchSentSince:
			s = k.Op.String() + " " + k.Date.Format("2006-01-02")
		case imap.SearchLarger, imap.SearchSmaller, imap.SearchOlder, imap.SearchYounger:
			s = fmt.Sprintf("%s %d", k.Op, k.Num)
		case imap.SearchModSeq:
			s = fmt.Sprintf("MODSEQ %d", k.Num)
			if k.ModSeqEntry != "" {
				s = fmt.Sprintf("MODSEQ %q %s %d", k.ModSeqEntry, k.ModSeqType, k.Num)
			}
		case imap.SearchUID:
			s = "UID " + k.Set.String()
		case imap.SearchKeyword, imap.SearchUnkeyword:
			s = k.Op.String() + " " + string(k.Flag)
		default:
			s = k.Op.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// RFC 9051 §6.4.4 examples and friends: the arguments after "SEARCH ".
func TestReadSearchCriteria(t *testing.T) {
	tests := []struct{ in, want, ret, charset string }{
		{`FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`, `FLAGGED SINCE 1994-02-01 NOT FROM "Smith"`, "", ""},
		{`TEXT "string not in mailbox"`, `TEXT "string not in mailbox"`, "", ""},
		{`CHARSET UTF-8 TEXT {12}` + "\r\nXXXXXXXXXXXX", `TEXT "XXXXXXXXXXXX"`, "", "UTF-8"},
		{`RETURN (MIN COUNT) UNSEEN OR 1:5 UID 7,9:* (DELETED KEYWORD $Junk)`, `UNSEEN OR 1:5 UID 7,9:* (DELETED KEYWORD $Junk)`, "[MIN COUNT]", ""},
		{`RETURN () ALL`, `ALL`, "[]", ""},
		{`RETURN (SAVE) $`, `$`, "[SAVE]", ""},
		{`header x-spam "yes" larger 1000 smaller 2000 sentbefore "5-Mar-2024" undraft`, `HEADER x-spam "yes" LARGER 1000 SMALLER 2000 SENTBEFORE 2024-03-05 UNDRAFT`, "", ""},
		{`MODSEQ "/flags/\\draft" all 620162338`, `MODSEQ "/flags/\\draft" all 620162338`, "", ""},
		{`MODSEQ 5 OLDER 3600 YOUNGER 60`, `MODSEQ 5 OLDER 3600 YOUNGER 60`, "", ""},
		{"CHARSET ISO-8859-1 SUBJECT {4}\r\ncaf\xe9", `SUBJECT "café"`, "", "ISO-8859-1"},
	}
	for _, tt := range tests {
		d, _ := newDec(tt.in+"\r\n", Limits{})
		c, err := d.ReadSearchCriteria()
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		must(t, d.ReadCRLF())
		got := searchString(c.Keys)
		if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, got, tt.want)
		}
		if tt.ret != "" && (!c.HasReturn || fmt.Sprint(c.Return) != tt.ret) {
			t.Errorf("%q: return %v %v", tt.in, c.HasReturn, c.Return)
		}
		if c.Charset != tt.charset {
			t.Errorf("%q: charset %q", tt.in, c.Charset)
		}
	}
	bad := []string{`FOO`, `FROM`, `OR ALL`, `RETURN (BOGUS) ALL`, `BEFORE 30-Feb-2024`, `()`, `UID 0`, `CHARSET UTF-8 FROM "` + "\xff" + `"`}
	for _, in := range bad {
		d, _ := newDec(in+"\r\n", Limits{})
		if _, err := d.ReadSearchCriteria(); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	// RFC 9051 §6.4.4: unknown charset -> NO [BADCHARSET], decoder in step.
	d, _ := newDec("CHARSET X-BOGUS TEXT foo\r\nb NOOP\r\n", Limits{})
	_, err := d.ReadSearchCriteria()
	if e, ok := IsError(err); !ok || e.Kind != ErrBadCharset || e.Code() != imap.CodeBadCharset {
		t.Fatalf("err %v", err)
	}
	must(t, d.ReadCRLF())
}

func TestReadFetchAtts(t *testing.T) {
	tests := []struct{ in, want string }{
		{`ALL`, `ALL`},
		{`(FLAGS UID)`, `FLAGS UID`},
		{`(uid rfc822.size body.peek[header.fields (From To "Message-ID")]<0.100> BODY[1.2.MIME] BODY[] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] body bodystructure)`,
			`UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Message-ID)]<0.100> BODY[1.2.MIME] BODY[] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] BODY BODYSTRUCTURE`},
		{`BODY[TEXT]`, `BODY[TEXT]`},
		{`(BODY[3.HEADER.FIELDS.NOT (x)] MODSEQ)`, `BODY[3.HEADER.FIELDS.NOT (x)] MODSEQ`},
	}
	for _, tt := range tests {
		d, _ := newDec(tt.in+"\r\n", Limits{})
		atts, err := d.ReadFetchAtts()
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		must(t, d.ReadCRLF())
		var parts []string
		for _, a := range atts {
			if a.Section != nil {
				parts = append(parts, a.Section.String())
			} else {
				parts = append(parts, string(a.Item))
			}
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{`(ALL)`, `BODY[MIME]`, `BODY[0]`, `BINARY[HEADER]`, `BODY[1.]`, `BODY[]<0.0>`, `FOO`, `BODY[HEADER.FIELDS ()]`} {
		d, _ := newDec(in+"\r\n", Limits{})
		if atts, err := d.ReadFetchAtts(); err == nil {
			t.Errorf("%q accepted: %+v", in, atts)
		}
	}
}

// The Append functions write what the server's respWriter and the
// client's Command use: atoms, quoted strings, literals, NIL, dates.
func TestAppendStrings(t *testing.T) {
	var b []byte
	b = AppendString(b, "a \"q\" \\", false)
	b = append(b, ' ')
	b = AppendString(b, "line\r\nbreak", false)
	b = append(b, ' ')
	b = AppendString(b, "naïve", false)
	b = append(b, ' ')
	b = AppendString(b, "naïve", true)
	b = append(b, ' ')
	b = AppendString(b, "\xff", true)
	b = append(b, ' ')
	b = AppendNString(b, "", false)
	b = append(b, ' ')
	b = AppendAString(b, "nil", false)
	b = append(b, ' ')
	b = AppendAString(b, "INBOX", false)
	b = append(b, ' ')
	b = AppendDateTime(b, time.Date(1996, 7, 7, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
	want := "\"a \\\"q\\\" \\\\\" {11}\r\nline\r\nbreak {6}\r\nnaïve \"naïve\" {1}\r\n\xff NIL \"nil\" INBOX \" 7-Jul-1996 02:44:25 -0700\""
	if string(b) != want {
		t.Errorf("got\n%q\nwant\n%q", b, want)
	}
	// The date-time round-trips through the decoder.
	dt, ok := ParseDateTime([]byte(" 7-Jul-1996 02:44:25 -0700"))
	if !ok || dt.Unix() != time.Date(1996, 7, 7, 9, 44, 25, 0, time.UTC).Unix() {
		t.Errorf("ParseDateTime = %v %v", dt, ok)
	}
}

// What the client writes, the server reads back unchanged.
func TestSearchRoundTrip(t *testing.T) {
	for _, in := range []string{
		`RETURN (MIN COUNT) CHARSET UTF-8 UNSEEN OR 1:5 UID 7,9:* (DELETED KEYWORD $Junk) NOT FROM "a b"`,
		`HEADER X-Spam yes LARGER 1000 SMALLER 2000 SENTBEFORE 5-Mar-2024 UNDRAFT ON 1-Jan-2000`,
		`MODSEQ "/flags/\\draft" all 620162338 OLDER 3600 YOUNGER 60 $`,
		`SUBJECT {4}` + "\r\nab\r\n",
	} {
		d, _ := newDec(in+"\r\n", Limits{})
		c, err := d.ReadSearchCriteria()
		must(t, err)
		out := string(AppendSearchCriteria(nil, c, false))
		want := in
		if strings.HasPrefix(in, "SUBJECT") {
			want = "SUBJECT {4}\r\nab\r\n"
		}
		if out != want {
			t.Errorf("round trip\n got %q\nwant %q", out, want)
		}
	}
}

func TestFetchAttsRoundTrip(t *testing.T) {
	for _, in := range []string{"ALL", "(UID FLAGS BODY.PEEK[1.HEADER.FIELDS (From To)]<0.10> BINARY.SIZE[2] BODY[])"} {
		d, _ := newDec(in+"\r\n", Limits{})
		atts, err := d.ReadFetchAtts()
		must(t, err)
		if out := string(AppendFetchAtts(nil, atts)); out != in {
			t.Errorf("got %q want %q", out, in)
		}
	}
}

func FuzzSearchRoundTrip(f *testing.F) {
	f.Add(`OR FROM a (SEEN UID 1:*) NOT HEADER x ""`)
	f.Add(`RETURN (SAVE) CHARSET UTF-8 SUBJECT {3}` + "\r\nabc")
	f.Fuzz(func(t *testing.T, s string) {
		d, _ := newDec(s+"\r\n", Limits{MaxDepth: 20})
		c, err := d.ReadSearchCriteria()
		if err != nil || d.ReadCRLF() != nil {
			return
		}
		out := AppendSearchCriteria(nil, c, true)
		d2, _ := newDec(string(out)+"\r\n", Limits{MaxDepth: 100})
		c2, err := d2.ReadSearchCriteria()
		if err != nil {
			t.Fatalf("re-read %q: %v", out, err)
		}
		if out2 := AppendSearchCriteria(nil, c2, true); string(out2) != string(out) {
			t.Fatalf("unstable %q -> %q", out, out2)
		}
	})
}
