package pop3server_test

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/pop3"
	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

const msg1 = "From: a@example.org\r\nSubject: one\r\n\r\nline 1\r\n.dot line\r\n.\r\nline 4\r\n"
const msg2 = "From: b@example.org\nSubject: two, stored with LF\n\nbody 1\nbody 2\nbody 3\n"

func start(t *testing.T, srv *pop3server.Server) *pop3fake.Env {
	if srv == nil {
		srv = &pop3server.Server{AllowInsecureAuth: true}
	}
	env := pop3fake.Start(t, srv)
	env.Backend.Deliver("alice", []byte(msg1))
	env.Backend.Deliver("alice", []byte(msg2))
	return env
}

// RFC 1939 §5, §6, §7 and the example session of §10, on our server.
func TestSessionRFC1939(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK POP3 server ready
		C: STAT
		S: -ERR unknown command or wrong state: STAT
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK alice has 2 messages (144 octets)
		C: STAT
		S: +OK 2 144
		C: LIST
		S: +OK listing follows
		S: 1 67
		S: 2 77
		S: .
		C: LIST 2
		S: +OK 2 77
		C: LIST 3
		S: -ERR no such message
		C: UIDL
		S: +OK listing follows
		S: 1 uid-1
		S: 2 uid-2
		S: .
		C: UIDL 1
		S: +OK 1 uid-1
		C: RETR 1
		S: +OK 67 octets
		S: From: a@example.org
		S: Subject: one
		S:
		S: line 1
		S: ..dot line
		S: ..
		S: line 4
		S: .
		C: RETR 2
		S: +OK 77 octets
		S: From: b@example.org
		S: Subject: two, stored with LF
		S:
		S: body 1
		S: body 2
		S: body 3
		S: .
		C: DELE 1
		S: +OK message 1 deleted
		C: RETR 1
		S: -ERR message already deleted
		C: DELE 1
		S: -ERR message already deleted
		C: STAT
		S: +OK 1 77
		C: LIST
		S: +OK listing follows
		S: 2 77
		S: .
		C: RSET
		S: +OK maildrop has 2 messages
		C: STAT
		S: +OK 2 144
		C: DELE 2
		S: +OK message 2 deleted
		C: NOOP
		S: +OK
		C: QUIT
		S: +OK bye
	`)
	c.ExpectClosed()
	if got := env.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-1"}) {
		t.Fatalf("after QUIT the maildrop holds %v, want [uid-1]", got)
	}
}

// RFC 1939 §7 TOP: the header, the blank line and n body lines.
func TestTop(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: TOP 1 0
		S: +OK top of message follows
		S: From: a@example.org
		S: Subject: one
		S:
		S: .
		C: TOP 1 2
		S: +OK top of message follows
		S: From: a@example.org
		S: Subject: one
		S:
		S: line 1
		S: ..dot line
		S: .
		C: TOP 2 100
		S: +OK top of message follows
		S: From: b@example.org
		S: Subject: two, stored with LF
		S:
		S: body 1
		S: body 2
		S: body 3
		S: .
		C: TOP 1
		S: -ERR TOP takes a message number and a line count
		C: TOP 1 x
		S: -ERR invalid line count
		C: QUIT
		S: +OK bye
	`)
}

// RFC 1939 §6: only QUIT in TRANSACTION enters UPDATE; a dropped session
// deletes nothing.
func TestDroppedSessionDeletesNothing(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: DELE 1
		S: +OK*
		C: DELE 2
		S: +OK*
	`)
	c.NetConn().Close()
	// The lock is released once the server notices: a new session gets in
	// and still sees both messages.
	c2 := pop3fake.Dial(t, env.Addr)
	c2.Script(`S: +OK*`)
	for i := 0; ; i++ {
		c2.Script(`
			C: USER alice
			S: +OK*
			C: PASS secret`)
		if line := c2.ReadLine(); strings.HasPrefix(line, "+OK") {
			break
		} else if !strings.Contains(line, "[IN-USE]") || i > 100 {
			t.Fatalf("S: %s", line)
		}
	}
	c2.Script(`
		C: STAT
		S: +OK 2 144
		C: QUIT
		S: +OK bye
	`)
	if got := env.Backend.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v", got)
	}
}

// RFC 2449 §8.1.2: a second session gets [IN-USE].
func TestInUse(t *testing.T) {
	env := start(t, nil)
	c1 := pop3fake.Dial(t, env.Addr)
	c1.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*`)
	c2 := pop3fake.Dial(t, env.Addr)
	c2.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: -ERR [IN-USE] maildrop already locked by another session
		C: QUIT
		S: +OK bye`)
	c1.Script(`
		C: QUIT
		S: +OK bye`)
}

// A message expunged by another program after login: RETR and TOP say it
// is gone, DELE of it is harmless.
func TestGoneMessage(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK alice has 2 messages*`)
	env.Backend.Expunge("alice", "uid-1")
	c.Script(`
		C: RETR 1
		S: -ERR message 1 is gone, it was deleted by another program
		C: TOP 1 0
		S: -ERR message 1 is gone*
		C: DELE 1
		S: +OK message 1 deleted
		C: RETR 2
		S: +OK*
		S: From: b@example.org
		S: Subject: two, stored with LF
		S:
		S: body 1
		S: body 2
		S: body 3
		S: .
		C: QUIT
		S: +OK bye`)
	if got := env.Backend.UIDs("alice"); !slices.Equal(got, []string{"uid-2"}) {
		t.Fatalf("maildrop holds %v", got)
	}
}

// RFC 2449 §6.6: pipelined commands are answered in order.
func TestPipelining(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		C: PASS secret
		C: STAT
		C: UIDL 2
		C: DELE 1
		C: DELE 2
		C: QUIT
		S: +OK send PASS
		S: +OK alice has 2 messages (144 octets)
		S: +OK 2 144
		S: +OK 2 uid-2
		S: +OK message 1 deleted
		S: +OK message 2 deleted
		S: +OK bye`)
	if got := env.Backend.UIDs("alice"); len(got) != 0 {
		t.Fatalf("maildrop holds %v", got)
	}
}

// RFC 2449 §5 CAPA, and USER/PASS only after TLS by default (RFC 2595 §2.2).
func TestCapaAndPlaintextPolicy(t *testing.T) {
	env := start(t, &pop3server.Server{Expire: "NEVER", LoginDelay: 60, Implementation: "posthorn"})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK POP3 server ready
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: STLS
		S: EXPIRE NEVER
		S: LOGIN-DELAY 60
		S: UTF8 USER
		S: LANG
		S: IMPLEMENTATION posthorn
		S: .
		C: USER alice
		S: -ERR [AUTH] USER/PASS not available, use STLS or AUTH first
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: -ERR unsupported authentication mechanism
		C: STLS
		S: +OK begin TLS negotiation`)
	tc := tls.Client(c.NetConn(), env.Cert.ClientConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if tc.ConnectionState().NegotiatedProtocol != "" && tc.ConnectionState().NegotiatedProtocol != "pop3" {
		t.Fatalf("ALPN %q", tc.ConnectionState().NegotiatedProtocol)
	}
	s := pop3fake.Wrap(t, tc)
	s.Script(`
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: USER
		S: SASL PLAIN*
		S: EXPIRE NEVER
		S: LOGIN-DELAY 60
		S: UTF8 USER
		S: LANG
		S: IMPLEMENTATION posthorn
		S: .
		C: STLS
		S: -ERR already using TLS
		C: USER alice
		S: +OK send PASS
		C: PASS secret
		S: +OK*`)
	// The backend learns the TLS state STLS established.
	if v, m := env.Backend.LastTLSVersion(), env.Backend.LastMechanism(); v < tls.VersionTLS12 || m != "USER" {
		t.Errorf("ConnInfo after STLS: TLS version %x, mechanism %q", v, m)
	}
	s.Script(`
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: LOGIN-DELAY 60
		S: UTF8 USER
		S: LANG
		S: IMPLEMENTATION posthorn
		S: .
		C: QUIT
		S: +OK bye`)
}

// RFC 2595 §4 / CVE-2011-0411: plaintext pipelined behind STLS is not
// carried into the TLS session; the server drops the connection.
func TestSTLSRefusesPipelinedPlaintext(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: STLS
		C: USER alice
		S: +OK begin TLS negotiation`)
	c.ExpectClosed()
}

// RFC 8314 implicit TLS: the greeting comes after the handshake.
func TestImplicitTLS(t *testing.T) {
	env := start(t, &pop3server.Server{})
	tc, err := tls.Dial("tcp", env.TLSAddr, env.Cert.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := pop3fake.Wrap(t, tc)
	c.Script(`
		S: +OK POP3 server ready
		C: STLS
		S: -ERR already using TLS
		C: USER alice
		S: +OK*
		C: PASS wrong
		S: -ERR [AUTH] authentication failed
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: QUIT
		S: +OK bye`)
	if v := env.Backend.LastTLSVersion(); v < tls.VersionTLS12 {
		t.Errorf("ConnInfo under implicit TLS: TLS version %x", v)
	}
}

// A backend refusal with a response code is passed on (RFC 2449 §8.1.1).
func TestBackendResponseCode(t *testing.T) {
	env := start(t, nil)
	env.Backend.RefuseLogins(&pop3.Error{Code: pop3.CodeLoginDelay, Text: "wait 60 seconds"})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: -ERR [LOGIN-DELAY] wait 60 seconds`)
	env.Backend.RefuseLogins(errors.New("disk on fire"))
	c.Script(`
		C: USER alice
		S: +OK*
		C: PASS secret
		S: -ERR [SYS/TEMP] opening the maildrop failed, try again later`)
	env.Backend.RefuseLogins(nil)
	c.Script(`
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: QUIT
		S: +OK bye`)
}

// The reply that ends a session is sent even when more commands were
// pipelined behind it.
func TestClosingReplyFlushedWithPipelinedInput(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Limits: pop3server.Limits{MaxAuthFailures: 1}})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		C: PASS wrong
		C: NOOP
		C: NOOP
		S: +OK send PASS
		S: -ERR [AUTH] authentication failed
		S: -ERR too many authentication failures, closing`)
	c.ExpectClosed()
}
