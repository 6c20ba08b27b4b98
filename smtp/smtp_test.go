package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMailbox(t *testing.T) {
	tests := []struct {
		in      string
		local   string
		domain  string
		wantErr bool
	}{
		{"user@example.org", "user", "example.org", false},
		{"first.last+tag@sub.example.org", "first.last+tag", "sub.example.org", false},
		{`"a b"@example.org`, "a b", "example.org", false},
		{`"a\"b"@example.org`, `a"b`, "example.org", false},
		{"user@[192.0.2.1]", "user", "[192.0.2.1]", false},
		{"user@[IPv6:2001:db8::1]", "user", "[IPv6:2001:db8::1]", false},
		{"user@[x-tag:abc]", "user", "[x-tag:abc]", false},
		{"用户@例子.广告", "用户", "例子.广告", false}, // RFC 6531
		{"user@", "", "", true},
		{"@example.org", "", "", true},
		{"a..b@example.org", "", "", true},
		{".a@example.org", "", "", true},
		{"user@-bad.org", "", "", true},
		{"user@exa_mple.org", "", "", true},
		{"user@example.org.", "", "", true},
		{"us er@example.org", "", "", true},
		{"user@[300.1.1.1]", "", "", true},
		{"user@[IPv6:zz]", "", "", true},
		{"user@exa\r\nmple.org", "", "", true},
		{"\"a\r\"@example.org", "", "", true},
		{"user>@example.org", "", "", true},
		{strings.Repeat("a", 65) + "@example.org", "", "", true},
		{"a@" + strings.Repeat("b", 64) + ".org", "", "", true},
		{"user@example.org\xff", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMailbox(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				var ae *AddressError
				assert.True(t, errors.As(err, &ae))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.local, m.Local)
			assert.Equal(t, tt.domain, m.Domain)
			assert.NoError(t, m.Check())
			again, err := ParseMailbox(m.String())
			require.NoError(t, err)
			assert.Equal(t, m, again)
		})
	}
}

func TestMailboxCheckRefusesInjection(t *testing.T) {
	for _, m := range []Mailbox{
		{Local: "a\r\nRCPT TO:<x@y>", Domain: "example.org"},
		{Local: "a", Domain: "example.org>\r\nDATA"},
		{Local: "a", Domain: "example.org> SIZE=1"},
		{Local: "a\x00", Domain: "example.org"},
	} {
		assert.Error(t, m.Check(), "%q", m)
	}
	// Quoting makes spaces and '>' in a local part safe.
	m := Mailbox{Local: "a> b", Domain: "example.org"}
	require.NoError(t, m.Check())
	assert.Equal(t, `"a> b"@example.org`, m.String())
}

func TestParsePath(t *testing.T) {
	m, rest, err := ParsePath("<> SIZE=10", true, false)
	require.NoError(t, err)
	assert.True(t, m.IsNull())
	assert.Equal(t, " SIZE=10", rest)

	_, _, err = ParsePath("<>", false, true)
	assert.Error(t, err)

	m, _, err = ParsePath("<Postmaster>", false, true)
	require.NoError(t, err)
	assert.True(t, m.IsPostmaster())

	// RFC 5321 §4.1.1.3: source routes are accepted and ignored.
	m, _, err = ParsePath("<@a.example,@b.example:user@c.example>", false, false)
	require.NoError(t, err)
	assert.Equal(t, Mailbox{"user", "c.example"}, m)

	m, rest, err = ParsePath(`<"a>b"@example.org> X`, false, false)
	require.NoError(t, err)
	assert.Equal(t, "a>b", m.Local)
	assert.Equal(t, " X", rest)

	_, _, err = ParsePath("user@example.org", false, false)
	assert.Error(t, err)
	_, _, err = ParsePath("<user@example.org", false, false)
	assert.Error(t, err)
}

func TestParseMailArg(t *testing.T) {
	m, ps, err := ParseMailArg("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8", 0)
	require.NoError(t, err)
	assert.Equal(t, "a@b.example", m.String())
	o, err := ParseMailOptions(ps)
	require.NoError(t, err)
	assert.Equal(t, MailOptions{Size: 1000, Body: Body8BitMIME, SMTPUTF8: true}, o)

	_, _, err = ParseMailArg("from: <a@b.example>", 0)
	assert.NoError(t, err)
	_, _, err = ParseMailArg("FROM:<a@b.example>SIZE=1", 0)
	assert.Error(t, err)
	_, ps, err = ParseMailArg("FROM:<> SIZE=1 SIZE=2", 0)
	require.NoError(t, err)
	_, err = ParseMailOptions(ps)
	assert.Error(t, err)
	_, ps, err = ParseMailArg("FROM:<> FOO=bar", 0)
	require.NoError(t, err)
	_, err = ParseMailOptions(ps)
	var pe *ParamError
	assert.True(t, errors.As(err, &pe))
	_, _, err = ParseMailArg("FROM:<> "+strings.Repeat("X ", 20), 0)
	assert.Error(t, err)
}

func TestRcptOptionsRoundTrip(t *testing.T) {
	o := RcptOptions{Notify: NotifySuccess | NotifyFailure, OriginalRecipientType: "rfc822", OriginalRecipient: "a+b=c@example.org"}
	ps, err := o.Params()
	require.NoError(t, err)
	buf, err := ps.Append(nil)
	require.NoError(t, err)
	assert.Equal(t, " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb+3Dc@example.org", string(buf))
	_, ps2, err := ParseRcptArg("TO:<x@y.example>"+string(buf), 0)
	require.NoError(t, err)
	got, err := ParseRcptOptions(ps2)
	require.NoError(t, err)
	assert.Equal(t, o, got)

	_, err = (&RcptOptions{Notify: NotifyNever | NotifyDelay}).Params()
	assert.Error(t, err)
}

func TestMailOptionsInjection(t *testing.T) {
	// ENVID and AUTH are xtext-encoded, so nothing can add a parameter.
	o := MailOptions{EnvelopeID: "x SIZE=1\r\nRCPT TO:<a@b>", Auth: "=<>"}
	ps, err := o.Params()
	require.NoError(t, err)
	buf, err := ps.Append(nil)
	require.NoError(t, err)
	assert.Equal(t, " ENVID=x+20SIZE+3D1+0D+0ARCPT+20TO:<a@b> AUTH=+3D<>", string(buf))
	_, err = (&MailOptions{Body: "8BIT\r\n"}).Params()
	assert.Error(t, err)
	_, err = Params{{Key: "X", Value: "a b"}}.Append(nil)
	assert.Error(t, err)
	_, err = Params{{Key: "X\r\n"}}.Append(nil)
	assert.Error(t, err)
}

func TestXtext(t *testing.T) {
	for _, s := range []string{"", "plain", "a+b=c", "sp ace", "\x00\xff", "ünï"} {
		got, err := DecodeXtext(EncodeXtext(s))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	for _, bad := range []string{"+", "+4", "+zz", "a=b", "a b"} {
		_, err := DecodeXtext(bad)
		assert.ErrorIs(t, err, ErrBadXtext, bad)
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct{ line, verb, arg string }{
		{"EHLO client.example", "EHLO", "client.example"},
		{"mail FROM:<a@b.example>", "MAIL", "FROM:<a@b.example>"},
		{"QUIT", "QUIT", ""},
		{"Data", "DATA", ""},
		{"xclient NAME=x", "XCLIENT", "NAME=x"},
	}
	for _, tt := range tests {
		v, a, err := ParseCommand([]byte(tt.line))
		require.NoError(t, err, tt.line)
		assert.Equal(t, tt.verb, v)
		assert.Equal(t, tt.arg, a)
	}
	for _, bad := range []string{"", " EHLO", "MA\x00IL", "EHLO a\rb", "ABCDEFGHIJKLMNOPQ", "MAIL\tFROM:<>"} {
		_, _, err := ParseCommand([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestReadReply(t *testing.T) {
	in := "250-mx.example greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n" +
		"550 5.1.1 No such user\r\n" +
		"451-4.3.0 first\r\n451 4.3.0 second\r\n" +
		"220\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	r, err := ReadReply(br, ReplyLimits{})
	require.NoError(t, err)
	assert.Equal(t, 250, r.Code)
	assert.Equal(t, []string{"mx.example greets you", "PIPELINING", "SIZE 1000", "8BITMIME"}, r.Lines)
	assert.NoError(t, r.Err())

	r, err = ReadReply(br, ReplyLimits{})
	require.NoError(t, err)
	var se *Error
	require.True(t, errors.As(fmt.Errorf("wrapped: %w", r.Err()), &se))
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, EnhancedCode{5, 1, 1}, se.Enhanced)
	assert.Equal(t, "No such user", se.Message)
	assert.True(t, se.Permanent())

	r, err = ReadReply(br, ReplyLimits{})
	require.NoError(t, err)
	assert.Equal(t, []string{"first", "second"}, r.Lines)
	assert.True(t, r.Err().(*Error).Temporary())

	r, err = ReadReply(br, ReplyLimits{})
	require.NoError(t, err)
	assert.Equal(t, 220, r.Code)

	for _, bad := range []string{"25\r\n", "abc hello\r\n", "250-a\r\n251 b\r\n", "250_x\r\n", "650 x\r\n", "250-a\r\n"} {
		_, err := ReadReply(bufio.NewReader(strings.NewReader(bad)), ReplyLimits{})
		assert.Error(t, err, "%q", bad)
	}
	_, err = ReadReply(bufio.NewReader(strings.NewReader(strings.Repeat("250-x\r\n", 200)+"250 x\r\n")), ReplyLimits{})
	assert.ErrorIs(t, err, ErrReplyTooLong)
	_, err = ReadReply(bufio.NewReader(strings.NewReader("250 "+strings.Repeat("x", 5000)+"\r\n")), ReplyLimits{})
	assert.ErrorIs(t, err, ErrReplyTooLong)
}

func TestAppendReply(t *testing.T) {
	got := AppendReply(nil, 250, CodeOK, "hello", "second\r\n.\r\nMAIL")
	assert.Equal(t, "250-2.0.0 hello\r\n250 2.0.0 second  .  MAIL\r\n", string(got))
	assert.Equal(t, "354 go\r\n", string(AppendReply(nil, 354, EnhancedCode{}, "go")))
}

func TestEnhancedCode(t *testing.T) {
	c, err := ParseEnhancedCode("5.7.11")
	require.NoError(t, err)
	assert.Equal(t, CodeEncryptRequired, c)
	assert.Equal(t, "5.7.11", c.String())
	for _, bad := range []string{"3.0.0", "5.1", "5.1.1000", "55.1.1", "a.b.c", ""} {
		_, err := ParseEnhancedCode(bad)
		assert.Error(t, err, bad)
	}
	e := &Error{Code: 554, Enhanced: CodeLoop, Message: "loop"}
	assert.Equal(t, "smtp: 554 5.4.6 loop", e.Error())
}

func TestAppendParamsMatchesParams(t *testing.T) {
	for _, o := range []MailOptions{
		{},
		{Size: 42, Body: Body8BitMIME, SMTPUTF8: true, RequireTLS: true},
		{Size: 1, Body: BodyBinaryMIME, Return: ReturnFull, EnvelopeID: "a b", Auth: "<>"},
	} {
		ps, err := o.Params()
		require.NoError(t, err)
		want, err := ps.Append(nil)
		require.NoError(t, err)
		got, err := o.AppendParams(nil)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
	_, err := (&MailOptions{Body: "X"}).AppendParams(nil)
	assert.Error(t, err)
}
