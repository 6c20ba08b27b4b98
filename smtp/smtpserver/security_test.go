package smtpserver

import (
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smuggleVariants are fake end-of-data sequences seen in SMTP smuggling
// (not <CRLF>.<CRLF>), each followed in the test by a hidden transaction.
var smuggleVariants = map[string]string{
	"LF.LF":       "\n.\n",
	"LF.CRLF":     "\n.\r\n",
	"CR.CR":       "\r.\r",
	"CRLF.LF":     "\r\n.\n",
	"CR.CRLF":     "\r.\r\n",
	"CRLF.CR":     "\r\n.\r",
	"LF.CR":       "\n.\r",
	"CR.LF":       "\r.\n",
	"CRLF.CRCRLF": "\r\n.\r\r\n",
	"CRLF.NUL":    "\r\n.\x00\r\n",
	"CRLF.SP":     "\r\n. \r\n",
	"CRLF..CRLF":  "\r\n..\r\n",
}

// TestSmuggling: for every fake terminator, under both policies, the
// hidden second transaction is never executed and at most one message
// (the whole thing, as content) is delivered. The reply comes only after
// the real <CRLF>.<CRLF> (RFC 5321 §4.5.2, §2.3.8).
func TestSmuggling(t *testing.T) {
	for _, policy := range []BareEOLPolicy{RejectBareEOL, NormalizeBareEOL} {
		for name, fake := range smuggleVariants {
			t.Run(name+map[BareEOLPolicy]string{RejectBareEOL: "/reject", NormalizeBareEOL: "/normalize"}[policy], func(t *testing.T) {
				b := &testBackend{}
				addr := startServer(t, &Server{Backend: b, BareEOL: policy})
				w := dialWire(t, addr)
				w.cmd("EHLO attacker.test", 250)
				w.cmd("MAIL FROM:<a@example.org>", 250)
				w.cmd("RCPT TO:<b@example.org>", 250)
				w.cmd("DATA", 354)
				hidden := "MAIL FROM:<admin@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n"
				w.send("Subject: first\r\n\r\nbody" + fake + hidden + ".\r\n")
				r := w.expect(0 + replyFor(policy, fake))
				_ = r
				// The connection is in step: the next command is answered.
				w.cmd("NOOP", 250)
				w.cmd("QUIT", 221)
				assert.Equal(t, 1, b.mails(), "hidden MAIL executed")
				msgs := b.messages()
				for _, m := range msgs {
					for _, to := range m.To {
						assert.NotEqual(t, "victim@example.org", to.String())
					}
				}
				if policy == RejectBareEOL && strings.ContainsAny(strings.ReplaceAll(fake, "\r\n", ""), "\r\n") {
					assert.Empty(t, msgs)
				} else {
					require.Len(t, msgs, 1)
					assert.Contains(t, msgs[0].Data, "Subject: forged", "hidden part kept as content")
				}
			})
		}
	}
}

func replyFor(policy BareEOLPolicy, fake string) int {
	bare := strings.ContainsAny(strings.ReplaceAll(fake, "\r\n", ""), "\r\n")
	if bare && policy == RejectBareEOL {
		return 550
	}
	return 250
}

// TestStartTLSPipelinedPlaintext: commands pipelined in plaintext behind
// STARTTLS are never executed (CVE-2011-0411, RFC 3207 §4.2).
func TestStartTLSPipelinedPlaintext(t *testing.T) {
	srvTLS, _ := testTLS(t)
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, TLSConfig: srvTLS, AllowMessageBeforeHello: true})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.send("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
	w.expect(554)
	w.expectClosed()
	assert.Equal(t, 0, b.mails())
}

func TestAuthBeforeTLSRefused(t *testing.T) {
	srvTLS, _ := testTLS(t)
	reg := &sasl.Registry{Credentials: testCreds{"alice": "secret"}}
	addr := startServer(t, &Server{Backend: &testBackend{}, TLSConfig: srvTLS, Auth: reg})
	w := dialWire(t, addr)
	r := w.cmd("EHLO client.test", 250)
	for _, l := range r.Lines {
		if strings.HasPrefix(l, "AUTH ") {
			assert.NotContains(t, l, "PLAIN")
			assert.NotContains(t, l, "LOGIN")
		}
	}
	w.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 538)
	w.cmd("AUTH LOGIN", 538)
}

func TestRequireTLSOnPlaintextRefused(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	// RFC 8689 §4.1.
	r := w.cmd("MAIL FROM:<a@example.org> REQUIRETLS", 530)
	assert.Equal(t, "5.7.10", r.Enhanced.String())
	assert.Equal(t, 0, b.mails())
}

func TestLimits(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, Limits: Limits{
		MaxMessageSize: 1000,
		MaxRecipients:  2,
		MaxLineLength:  512,
		MaxReceived:    3,
	}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	// Line length: answered and in step.
	w.cmd("NOOP "+strings.Repeat("x", 600), 500)
	w.cmd("NOOP", 250)
	// RFC 1870 §6: declared size over the limit.
	w.cmd("MAIL FROM:<a@example.org> SIZE=1001", 552)
	// Recipients: 452 beyond the limit (RFC 5321 §4.5.3.1.10).
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b1@example.org>", 250)
	w.cmd("RCPT TO:<b2@example.org>", 250)
	w.cmd("RCPT TO:<b3@example.org>", 452)
	// Actual size over the limit: consumed to the end, then 552; a
	// smuggled command inside is not run.
	w.cmd("DATA", 354)
	w.send(strings.Repeat("0123456789abcdef\r\n", 100) + "\r\n.\nRSET\r\n.\r\n")
	w.expect(552)
	w.cmd("NOOP", 250)
	assert.Empty(t, b.messages())
	// Mail loop: more than MaxReceived Received fields (RFC 5321 §6.3).
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b1@example.org>", 250)
	w.cmd("DATA", 354)
	w.send(strings.Repeat("Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n", 4) + "\r\nbody\r\n.\r\n")
	r := w.expect(554)
	assert.Equal(t, "5.4.6", r.Enhanced.String())
	// Exactly the limit passes.
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b1@example.org>", 250)
	w.cmd("DATA", 354)
	w.send(strings.Repeat("received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n", 3) + "\r\nReceived: in body\r\n.\r\n")
	w.expect(250)
	assert.Len(t, b.messages(), 1)
}

func TestTooManyErrors(t *testing.T) {
	addr := startServer(t, &Server{Backend: &testBackend{}, Limits: Limits{MaxErrors: 3}})
	w := dialWire(t, addr)
	w.cmd("FOO", 500)
	w.cmd("BAR", 500)
	w.send("BAZ\r\n")
	w.expect(500)
	w.expect(421)
	w.expectClosed()
}

func TestConnectionsPerIP(t *testing.T) {
	addr := startServer(t, &Server{Backend: &testBackend{}, Limits: Limits{MaxConnectionsPerIP: 2}})
	w1 := dialWire(t, addr)
	w2 := dialWire(t, addr)
	c, err := dialRaw(addr)
	require.NoError(t, err)
	defer c.Close()
	w3 := &wire{t: t, c: c, br: newBR(c)}
	w3.expect(421)
	w1.cmd("QUIT", 221)
	w1.expectClosed()
	w2.cmd("NOOP", 250)
}

func TestDataIdleTimeout(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, Limits: Limits{DataIdleTimeout: 300 * time.Millisecond}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b@example.org>", 250)
	w.cmd("DATA", 354)
	w.send("Subject: slow\r\n\r\npart")
	// RFC 5321 §4.5.3.2: 421 after the data timeout, nothing delivered.
	w.expect(421)
	w.expectClosed()
	assert.Empty(t, b.messages())

	w = dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 100\r\nonly some")
	w.expect(250)
	w.expect(250)
	w.expect(421)
	w.expectClosed()
}

func TestDataHardTimeout(t *testing.T) {
	b := &testBackend{}
	addr := startServer(t, &Server{Backend: b, Limits: Limits{DataTimeout: 1500 * time.Millisecond}})
	w := dialWire(t, addr)
	w.cmd("EHLO client.test", 250)
	w.cmd("MAIL FROM:<a@example.org>", 250)
	w.cmd("RCPT TO:<b@example.org>", 250)
	w.cmd("DATA", 354)
	// A trickle that never goes idle still hits the cap.
	start := time.Now()
	for i := 0; i < 40; i++ {
		if _, err := w.c.Write([]byte("x\r\n")); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.expect(421)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Empty(t, b.messages())
}

func TestMaxConnections(t *testing.T) {
	addr := startServer(t, &Server{Backend: &testBackend{}, Limits: Limits{MaxConnections: 1}})
	w1 := dialWire(t, addr)
	c, err := dialRaw(addr)
	require.NoError(t, err)
	defer c.Close()
	w2 := &wire{t: t, c: c, br: newBR(c)}
	w2.expect(421)
	w1.cmd("NOOP", 250)
}
