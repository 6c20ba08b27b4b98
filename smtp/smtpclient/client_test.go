package smtpclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/posthorn/posthorn/smtp"
	"github.com/posthorn/posthorn/smtp/smtpserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const plainMsg = "From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n\r\nHello.\r\n.leading dot\r\n.\r\nend\r\n"

func TestSendPipelinedBDAT(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, &Options{LocalName: "client.test"})
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 3; i++ {
		res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net", "c@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		require.NoError(t, err)
		require.Len(t, res, 2)
		assert.NoError(t, res[0].Err)
		assert.NoError(t, res[1].Err)
	}
	require.NoError(t, c.Quit(ctx))
	msgs := rec.all()
	require.Len(t, msgs, 3)
	assert.Equal(t, []string{"b@example.net", "c@example.net"}, msgs[0].To)
	assert.Equal(t, int64(len(plainMsg)), msgs[0].Opts.Size)
	assert.True(t, strings.HasSuffix(msgs[0].Data, plainMsg), "BDAT carries the message unchanged")
}

func TestSendDATAWhenNoChunking(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec, DisableExtensions: []string{"CHUNKING"}}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	// Bare LF and a line that is a lone dot: sent as CRLF, dot-stuffed,
	// never as a fake end of data.
	msg := "Subject: x\n\nline\n.\nMAIL FROM:<evil@example.org>\r\nlast\r"
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
	require.NoError(t, err)
	msgs := rec.all()
	require.Len(t, msgs, 2)
	assert.True(t, strings.HasSuffix(msgs[0].Data, "Subject: x\r\n\r\nline\r\n.\r\nMAIL FROM:<evil@example.org>\r\nlast\r\n"), "%q", msgs[0].Data)
	assert.True(t, strings.HasSuffix(msgs[1].Data, plainMsg))
}

func TestSendLockstep(t *testing.T) {
	rec := &recorder{rcptErr: map[string]error{"bad@example.net": smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "no such user")}}
	for _, disabled := range [][]string{{"PIPELINING"}, {"PIPELINING", "CHUNKING"}, {}} {
		addr := serve(t, &smtpserver.Server{Backend: rec, DisableExtensions: disabled}, false)
		ctx := ctxT(t)
		c, err := Dial(ctx, addr, nil)
		require.NoError(t, err)
		res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"bad@example.net", "b@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		// Accepted for one, refused for the other: never a nil error.
		var pe *PartialError
		require.ErrorAs(t, err, &pe, "%v", disabled)
		assert.ErrorIs(t, err, ErrPartial)
		assert.Equal(t, []string{"b@example.net"}, pe.Accepted)
		require.Len(t, pe.Refused, 1)
		assert.Equal(t, "bad@example.net", pe.Refused[0].Recipient)
		var se *smtp.Error
		require.True(t, errors.As(res[0].Err, &se))
		assert.Equal(t, 550, se.Code)
		assert.True(t, res[0].Permanent())
		assert.NoError(t, res[1].Err)
		// All recipients refused: RecipientErrors, as for several, and the
		// next message works (RSET sent first).
		_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"bad@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		var re RecipientErrors
		require.ErrorAs(t, err, &re)
		assert.Len(t, re, 1)
		assert.True(t, errors.As(err, &se))
		assert.NotErrorIs(t, err, ErrPartial)
		_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		require.NoError(t, err, "%v", disabled)
		require.NoError(t, c.Quit(ctx))
	}
	assert.Len(t, rec.all(), 6)
}

func TestSendBodyTypes(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	eight := "Subject: x\r\n\r\ncaf\xc3\xa9\r\n"
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(eight), int64(len(eight)))
	require.NoError(t, err)
	bin := "Subject: x\r\n\r\n\x00\x01\nbinary\r"
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(bin), int64(len(bin)))
	require.NoError(t, err)
	utf := "Subject: ünï\r\n\r\nx\r\n"
	_, err = c.Send(ctx, &Envelope{From: "jürgen@example.org", To: []string{"b@example.net"}}, strings.NewReader(utf), int64(len(utf)))
	require.NoError(t, err)
	msgs := rec.all()
	require.Len(t, msgs, 3)
	assert.Equal(t, smtp.Body8BitMIME, msgs[0].Opts.Body)
	assert.Equal(t, smtp.BodyBinaryMIME, msgs[1].Opts.Body)
	assert.True(t, strings.HasSuffix(msgs[1].Data, bin), "binary sent unchanged with BDAT")
	assert.True(t, msgs[2].Opts.SMTPUTF8)

	// RFC 6152 §3 and RFC 6531 §3.2: fail when the hop lacks the extension.
	addr = serve(t, &smtpserver.Server{Backend: rec, DisableExtensions: []string{"8BITMIME", "SMTPUTF8"}}, false)
	c, err = Dial(ctx, addr, nil)
	require.NoError(t, err)
	// An 8-bit body is converted to quoted-printable (RFC 6152 §3)...
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(eight), int64(len(eight)))
	require.NoError(t, err)
	got := rec.all()[3]
	assert.Equal(t, smtp.BodyType(""), got.Opts.Body)
	assert.True(t, strings.HasSuffix(got.Data, "Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"), "%q", got.Data)
	// ...but 8-bit in the header cannot be converted.
	bad := "Subject: caf\xc3\xa9\r\n\r\nx\r\n"
	res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(bad), int64(len(bad)))
	assert.ErrorIs(t, err, ErrNeeds8BitMIME)
	assert.True(t, res[0].Permanent())
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"bü@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
	assert.ErrorIs(t, err, ErrNeedsSMTPUTF8)
	require.NoError(t, c.Noop(ctx), "still usable")
}

func TestSendSizeChecked(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec, Limits: smtpserver.Limits{MaxMessageSize: 50}}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Empty(t, rec.all())
}

func TestInjectionRefused(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	msg := strings.NewReader(plainMsg)
	for _, env := range []*Envelope{
		{From: "a@example.org>\r\nRCPT TO:<x@example.org", To: []string{"b@example.net"}},
		{From: "a@example.org> SIZE=1", To: []string{"b@example.net"}},
		{From: "a@example.org", To: []string{"b@example.net>\r\nDATA"}},
		{From: "a@example.org", To: []string{"b@example.net> NOTIFY=NEVER"}},
		{From: "a@example.org", To: []string{"b@example.net"}, RcptOptions: []smtp.RcptOptions{{OriginalRecipientType: "rfc822\r\n"}}},
	} {
		env.RcptOptions = fixRcptOpts(env)
		_, err := c.Send(ctx, env, msg, msg.Size())
		assert.Error(t, err, "%+v", env)
	}
	assert.Error(t, c.Mail(ctx, "a@example.org>\r\nQUIT", nil))
	assert.Error(t, c.Mail(ctx, "a@example.org", &smtp.MailOptions{Body: "8BITMIME\r\nRSET"}))
	assert.Error(t, c.Rcpt(ctx, "x\r\n@example.org", nil))
	_, err = Dial(ctx, addr, &Options{LocalName: "x\r\nMAIL FROM:<a@b>"})
	require.NoError(t, err) // the name is checked at EHLO
	bad, _ := Dial(ctx, addr, &Options{LocalName: "x\r\nMAIL FROM:<a@b>"})
	assert.Error(t, bad.Hello(ctx))
	// ENVID with spaces and '=' is xtext-encoded, not split.
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.net"}, MailOptions: smtp.MailOptions{EnvelopeID: "id SIZE=1 x"}}, msg, msg.Size())
	require.NoError(t, err)
	msgs := rec.all()
	require.Len(t, msgs, 1)
	assert.Equal(t, "id SIZE=1 x", msgs[0].Opts.EnvelopeID)
	assert.Equal(t, int64(len(plainMsg)), msgs[0].Opts.Size)
}

func fixRcptOpts(env *Envelope) []smtp.RcptOptions {
	if env.RcptOptions == nil {
		return nil
	}
	env.RcptOptions[0].OriginalRecipient = "x@example.org"
	return env.RcptOptions
}

func TestDSNParams(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	env := &Envelope{From: "a@example.org", To: []string{"b@example.net"},
		MailOptions: smtp.MailOptions{Return: smtp.ReturnHeaders, EnvelopeID: "abc"},
		RcptOptions: []smtp.RcptOptions{{Notify: smtp.NotifyFailure | smtp.NotifyDelay, OriginalRecipient: "b@example.net"}}}
	_, err = c.Send(ctx, env, strings.NewReader(plainMsg), int64(len(plainMsg)))
	require.NoError(t, err)
	m := rec.all()[0]
	assert.Equal(t, smtp.ReturnHeaders, m.Opts.Return)
	assert.Equal(t, "abc", m.Opts.EnvelopeID)
	assert.Equal(t, smtp.RcptOptions{Notify: smtp.NotifyFailure | smtp.NotifyDelay, OriginalRecipientType: "rfc822", OriginalRecipient: "b@example.net"}, m.RcptOpts[0])
}

func TestLMTPClient(t *testing.T) {
	rec := &recorder{lmtpErr: map[string]error{"full@example.org": smtp.NewError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full")},
		rcptErr: map[string]error{"nobody@example.org": smtp.NewError(550, smtp.EnhancedCode{5, 1, 1}, "No such user")}}
	for _, disabled := range [][]string{nil, {"CHUNKING"}, {"PIPELINING", "CHUNKING"}} {
		addr := serve(t, &smtpserver.Server{Backend: rec, Mode: smtpserver.ModeLMTP, DisableExtensions: disabled}, false)
		ctx := ctxT(t)
		c, err := Dial(ctx, addr, &Options{LMTP: true})
		require.NoError(t, err)
		res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"ok@example.org", "nobody@example.org", "full@example.org"}}, strings.NewReader(plainMsg), int64(len(plainMsg)))
		var pe *PartialError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, []string{"ok@example.org"}, pe.Accepted)
		assert.Len(t, pe.Refused, 2)
		assert.NoError(t, res[0].Err)
		assert.True(t, res[1].Permanent())
		assert.True(t, res[2].Temporary(), "%v", res[2].Err)
		require.NoError(t, c.Quit(ctx))
	}
}

func TestStartTLSAuthSubmit(t *testing.T) {
	tc := testCert(t)
	rec := &recorder{}
	reg := &sasl.Registry{Credentials: creds{"alice": "secret"}, Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "OAUTHBEARER", "XOAUTH2", "PLAIN", "LOGIN", "CRAM-MD5"}}
	srv := &smtpserver.Server{Backend: rec, Mode: smtpserver.ModeSubmission, TLSConfig: tc.ServerConfig(), Auth: reg}
	addr := serve(t, srv, false)
	ctx := ctxT(t)

	// The default for Submit is required STARTTLS with a verified
	// certificate: our test CA is not trusted by default, so it fails.
	_, err := Submit(ctx, addr, &sasl.ClientOptions{Username: "alice", Password: "secret"}, "alice@example.org", []string{"bob@example.org"}, strings.NewReader(plainMsg), nil)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseStartTLS, oe.Phase)
	// The one-call form trusts a custom certificate through its options.
	_, err = Submit(ctx, addr, &sasl.ClientOptions{Username: "alice", Password: "secret"}, "alice@example.org", []string{"bob@example.org"}, strings.NewReader(plainMsg),
		&SubmitOptions{Options: Options{TLSConfig: tc.ClientConfig()}})
	require.NoError(t, err)

	for _, mech := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN", "CRAM-MD5"} {
		s := &Submitter{Addr: addr, Options: Options{TLSConfig: tc.ClientConfig()},
			Auth: &sasl.ClientOptions{Username: "alice", Password: "secret", Mechanisms: []string{mech}}}
		_, err := s.Submit(ctx, &Envelope{From: "alice@example.org", To: []string{"bob@example.org"}}, strings.NewReader(plainMsg))
		require.NoError(t, err, mech)
		require.NoError(t, s.Close(ctx))
	}
	for _, mech := range []string{"OAUTHBEARER", "XOAUTH2"} {
		s := &Submitter{Addr: addr, Options: Options{TLSConfig: tc.ClientConfig()},
			Auth: &sasl.ClientOptions{Username: "alice", Token: "token-alice", Mechanisms: []string{mech}}}
		_, err := s.Submit(ctx, &Envelope{From: "alice@example.org", To: []string{"bob@example.org"}}, strings.NewReader(plainMsg))
		require.NoError(t, err, mech)
		require.NoError(t, s.Close(ctx))
	}
	msgs := rec.all()
	require.Len(t, msgs, 9)
	assert.Equal(t, "alice", msgs[0].User)
	assert.Contains(t, msgs[0].Data, "with ESMTPSA")

	// Wrong password.
	s := &Submitter{Addr: addr, Options: Options{TLSConfig: tc.ClientConfig()}, Auth: &sasl.ClientOptions{Username: "alice", Password: "wrong"}}
	_, err = s.Submit(ctx, &Envelope{From: "alice@example.org", To: []string{"bob@example.org"}}, strings.NewReader(plainMsg))
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, 535, se.Code)
	assert.ErrorIs(t, err, sasl.ErrAuthFailed)
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, PhaseAuth, oe.Phase)
	assert.Equal(t, addr, oe.Addr)
	// A temporary failure is not a wrong password.
	assert.NotErrorIs(t, smtp.NewError(454, smtp.EnhancedCode{4, 7, 0}, "try later"), sasl.ErrAuthFailed)
}

// A password never crosses a connection without TLS unless the caller
// opts in: a man in the middle who strips STARTTLS from EHLO must not get
// it (RFC 4954 §4, RFC 4616 §6). Loopback is not exempt.
func TestNoPlaintextPasswords(t *testing.T) {
	rec := &recorder{}
	reg := &sasl.Registry{Credentials: creds{"alice": "secret"}, AllowPlaintext: true, Mechanisms: []string{"PLAIN", "LOGIN"}}
	addr := serve(t, &smtpserver.Server{Backend: rec, Auth: reg}, false)
	ctx := ctxT(t)
	for name, try := range map[string]func(c *Client) error{
		"Login":      func(c *Client) error { return c.Login(ctx, "alice", "secret") },
		"Auth PLAIN": func(c *Client) error { return c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret")) },
		"Auth LOGIN": func(c *Client) error { return c.Auth(ctx, sasl.NewLoginClient("alice", "secret")) },
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Dial(ctx, addr, nil)
			require.NoError(t, err)
			defer c.Close()
			require.ErrorIs(t, try(c), sasl.ErrInsecureAuth)
			c2, err := Dial(ctx, addr, &Options{AllowInsecureAuth: true})
			require.NoError(t, err)
			defer c2.Close()
			require.NoError(t, try(c2))
		})
	}
}

func TestImplicitTLSAndRequireTLS(t *testing.T) {
	tc := testCert(t)
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec, TLSConfig: tc.ServerConfig()}, true)
	ctx := ctxT(t)
	c, err := DialTLS(ctx, addr, &Options{TLSConfig: tc.ClientConfig()})
	require.NoError(t, err)
	env := &Envelope{From: "a@example.org", To: []string{"b@example.net"}, MailOptions: smtp.MailOptions{RequireTLS: true}}
	_, err = c.Send(ctx, env, strings.NewReader(plainMsg), int64(len(plainMsg)))
	require.NoError(t, err)
	assert.True(t, rec.all()[0].Opts.RequireTLS)

	// RFC 8689 §4.2.1: never over plaintext, never unverified.
	addr = serve(t, &smtpserver.Server{Backend: rec, TLSConfig: tc.ServerConfig()}, false)
	c, err = Dial(ctx, addr, nil)
	require.NoError(t, err)
	_, err = c.Send(ctx, env, strings.NewReader(plainMsg), int64(len(plainMsg)))
	assert.ErrorIs(t, err, ErrRequireTLS)
	insecure := tc.ClientConfig()
	insecure.InsecureSkipVerify = true
	insecure.RootCAs = nil
	require.NoError(t, c.StartTLS(ctx, insecure))
	_, err = c.Send(ctx, env, strings.NewReader(plainMsg), int64(len(plainMsg)))
	assert.ErrorIs(t, err, ErrRequireTLS)
	assert.Len(t, rec.all(), 1)
}

func TestContextCancelsBlockedCall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("220 silent\r\n"))
		time.Sleep(3 * time.Second)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := Dial(context.Background(), ln.Addr().String(), nil)
	require.NoError(t, err)
	start := time.Now()
	err = c.Hello(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	assert.ErrorIs(t, c.Noop(context.Background()), ErrClosed)
}

func TestPerCommandTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		time.Sleep(3 * time.Second)
	}()
	_, err = Dial(context.Background(), ln.Addr().String(), &Options{Timeouts: Timeouts{Greeting: 100 * time.Millisecond}})
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

func TestScanMessage(t *testing.T) {
	long := strings.Repeat("x", 999)
	tests := []struct {
		msg                     string
		eight, binary, utf8Head bool
	}{
		{"Subject: a\r\n\r\nbody\r\n", false, false, false},
		{"Subject: a\r\n\r\ncafé\r\n", true, false, false},
		{"Subject: café\r\n\r\nbody\r\n", true, false, true},
		{"Subject: a\r\n\r\nbare\nLF\r\n", false, true, false},
		{"Subject: a\r\n\r\nbare\rCR\r\n", false, true, false},
		{"Subject: a\r\n\r\nends in CR\r", false, true, false},
		{"Subject: a\r\n\r\nNUL\x00\r\n", false, true, false},
		{"Subject: a\r\n\r\n" + long + "\r\n", false, true, false},
		{"Subject: a\r\n\r\n" + long[:998] + "\r\n", false, false, false},
		{"Subject: a\r\n\r\nno final CRLF", false, false, false},
	}
	for _, tt := range tests {
		for _, bufSize := range []int{3, 7, 4096} {
			info, err := scanMessage(strings.NewReader(tt.msg), int64(len(tt.msg)), make([]byte, bufSize))
			require.NoError(t, err)
			assert.Equal(t, msgInfo{eightBit: tt.eight, binary: tt.binary, utf8Header: tt.utf8Head}, info, "%q buf %d", tt.msg, bufSize)
		}
	}
}

// scanModel classifies msg byte by byte, as msgInfo documents.
func scanModel(msg []byte) msgInfo {
	var info msgInfo
	inHeader := true
	lines := bytes.Split(msg, []byte("\n"))
	for i, line := range lines {
		terminated := i < len(lines)-1
		for j, c := range line {
			switch {
			case c >= 0x80:
				info.eightBit = true
				info.utf8Header = info.utf8Header || inHeader
			case c == 0:
				info.binary = true
			case c == '\r' && (j < len(line)-1 || !terminated):
				info.binary = true // CR not followed by LF
			}
		}
		if !terminated {
			break
		}
		content := bytes.TrimSuffix(line, []byte("\r"))
		if len(content) == len(line) || len(content) > 998 {
			info.binary = true // bare LF, or a line too long
		}
		if len(content) == 0 {
			inHeader = false
		}
	}
	return info
}

// FuzzScanMessage checks scanMessage, reading through buffers of any
// size, against scanModel.
func FuzzScanMessage(f *testing.F) {
	f.Add([]byte("Subject: a\r\n\r\nbody\r\n.\r\n"), uint16(3))
	f.Add([]byte("Subject: caf\xc3\xa9\r\n\r\nb\rare\r"), uint16(5))
	f.Add([]byte("S: a\n\r\n"+strings.Repeat("x", 999)+"\r\n\x00"), uint16(64))
	f.Fuzz(func(t *testing.T, msg []byte, bufSize uint16) {
		bs := 1 + int(bufSize)%4096
		info, err := scanMessage(bytes.NewReader(msg), int64(len(msg)), make([]byte, bs))
		if err != nil {
			t.Fatal(err)
		}
		if want := scanModel(msg); info != want {
			t.Fatalf("%q buffer %d: %+v, model %+v", msg, bs, info, want)
		}
	})
}

func TestPrimitivesAndPool(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &smtpserver.Server{Backend: rec}, false)
	ctx := ctxT(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	require.NoError(t, c.Hello(ctx))
	_, ok := c.Extension("chunking")
	assert.True(t, ok)
	assert.Equal(t, int64(32<<20), c.MaxMessageSize())
	require.NoError(t, c.Mail(ctx, "a@example.org", &smtp.MailOptions{Body: smtp.Body8BitMIME}))
	require.NoError(t, c.Rcpt(ctx, "b@example.org", nil))
	w, err := c.Data(ctx)
	require.NoError(t, err)
	_, _ = w.Write([]byte("Subject: x\r\n\r\n.dot\n"))
	_, _ = w.Write([]byte(".\r"))
	require.NoError(t, w.Close())
	require.NoError(t, c.Mail(ctx, "a@example.org", nil))
	require.NoError(t, c.Rcpt(ctx, "b@example.org", nil))
	require.NoError(t, c.Bdat(ctx, []byte("Subject: y\r\n\r\n"), false))
	require.NoError(t, c.Bdat(ctx, []byte("chunked\r\n"), true))
	require.NoError(t, c.Mail(ctx, "a@example.org", nil))
	require.NoError(t, c.Reset(ctx))
	require.NoError(t, c.Noop(ctx))
	require.NoError(t, c.Quit(ctx))
	msgs := rec.all()
	require.Len(t, msgs, 2)
	assert.True(t, strings.HasSuffix(msgs[0].Data, "Subject: x\r\n\r\n.dot\r\n.\r\n"), "%q", msgs[0].Data)
	assert.True(t, strings.HasSuffix(msgs[1].Data, "Subject: y\r\n\r\nchunked\r\n"))

	// The Submitter keeps a connection for the next message.
	rec.mu.Lock()
	before := rec.sessions
	rec.mu.Unlock()
	s := &Submitter{Addr: addr, TLS: TLSNone}
	for i := 0; i < 5; i++ {
		_, err := s.Submit(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(plainMsg))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close(ctx))
	rec.mu.Lock()
	assert.Equal(t, 1, rec.sessions-before)
	rec.mu.Unlock()
}

func TestDowngrade8bit(t *testing.T) {
	msg := "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n--XX\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n--XX\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n\xff\xfe\r\n--XX\r\n" +
		"Content-Type: text/plain\r\n\r\nplain ascii\r\n--XX--\r\n"
	out, err := downgrade8bit(strings.NewReader(msg), int64(len(msg)))
	require.NoError(t, err)
	assert.False(t, hasHighBit(out))
	s := string(out)
	assert.Contains(t, s, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe")
	assert.Contains(t, s, "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n//4=")
	assert.Contains(t, s, "preamble\r\n--XX\r\n")
	assert.True(t, strings.HasSuffix(s, "Content-Type: text/plain\r\n\r\nplain ascii\r\n--XX--\r\n"), "%q", s)
}

// Extensions lists the EHLO keywords in the server's order, upper-cased
// and once each, and forgets them when the server only takes HELO.
func TestExtensionsOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for i := 0; i < 2; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(conn)
			fmt.Fprint(conn, "220 fake ESMTP\r\n")
			line, _ := br.ReadString('\n')
			if i == 0 && strings.HasPrefix(line, "EHLO") {
				fmt.Fprint(conn, "250-fake\r\n250-size 1000\r\n250-8BITMIME\r\n250-Pipelining\r\n250-SIZE 2000\r\n250 AUTH PLAIN LOGIN\r\n")
			} else {
				fmt.Fprint(conn, "502 5.5.1 no EHLO here\r\n")
				br.ReadString('\n')
				fmt.Fprint(conn, "250 fake\r\n")
			}
			br.ReadString('\n')
			conn.Close()
		}
	}()
	ctx := ctxT(t)
	c, err := Dial(ctx, ln.Addr().String(), nil)
	require.NoError(t, err)
	require.NoError(t, c.Hello(ctx))
	assert.Equal(t, []string{"SIZE", "8BITMIME", "PIPELINING", "AUTH"}, c.Extensions())
	p, _ := c.Extension("size")
	assert.Equal(t, "2000", p, "the last SIZE line wins")
	c.Close()
	c, err = Dial(ctx, ln.Addr().String(), nil)
	require.NoError(t, err)
	require.NoError(t, c.Hello(ctx))
	assert.Nil(t, c.Extensions())
	c.Close()
}
