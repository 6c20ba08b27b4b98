package pop3server_test

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"testing"
	"time"

	"github.com/posthorn/posthorn/pop3/internal/pop3fake"
	"github.com/posthorn/posthorn/pop3/pop3server"
)

// RFC 5034 §4: AUTH with and without initial response, "=" for an empty
// one, "*" to cancel, strict Base64.
func TestAuthSASL(t *testing.T) {
	env := start(t, nil)
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: AUTH
		S: +OK
		S: PLAIN
		S: LOGIN
		S: .
		C: AUTH PLAIN
		S: + 
		C: *
		S: -ERR authentication cancelled
		C: AUTH PLAIN
		S: + 
		C: AGFsaWNlAHdyb25n
		S: -ERR [AUTH] authentication failed
		C: AUTH PLAIN !!!
		S: -ERR invalid base64 in initial response
		C: AUTH NOPE
		S: -ERR unsupported authentication mechanism
		C: AUTH PLAIN
		S: + 
		C: AGFsaWNlAHNlY3JldA==
		S: +OK alice has 2 messages (144 octets)
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: -ERR unknown command or wrong state: AUTH
		C: QUIT
		S: +OK bye`)
	c2 := pop3fake.Dial(t, env.Addr)
	c2.Script(`
		S: +OK*
		C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
		S: +OK alice has 2 messages (144 octets)
		C: QUIT
		S: +OK bye`)
}

// RFC 1939 §7 APOP, offered only when enabled and the backend has secrets.
func TestAPOP(t *testing.T) {
	be := pop3fake.NewBackend()
	env := pop3fake.Start(t, &pop3server.Server{Backend: pop3fake.SecretBackend{Backend: be}, EnableAPOP: true})
	env.Backend.Deliver("alice", []byte(msg1))
	c := pop3fake.Dial(t, env.Addr)
	greeting := c.ReadLine()
	stamp := regexp.MustCompile(`<[^>]+>`).FindString(greeting)
	if stamp == "" {
		t.Fatalf("S: %s: no timestamp", greeting)
	}
	sum := md5.Sum([]byte(stamp + "secret"))
	c.Script(`
		C: APOP alice 00000000000000000000000000000000
		S: -ERR [AUTH] authentication failed
		C: APOP alice ` + hex.EncodeToString(sum[:]) + `
		S: +OK alice has 1 messages (67 octets)
		C: QUIT
		S: +OK bye`)

	// Without EnableAPOP: no timestamp and no APOP.
	env2 := start(t, &pop3server.Server{Backend: pop3fake.SecretBackend{Backend: pop3fake.NewBackend()}})
	c2 := pop3fake.Dial(t, env2.Addr)
	c2.Script(`
		S: +OK POP3 server ready
		C: APOP alice ` + hex.EncodeToString(sum[:]) + `
		S: -ERR unknown command*`)
}

// Too many failures close the connection; each waits the failure delay.
func TestAuthFailureLimit(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Limits: pop3server.Limits{MaxAuthFailures: 2, AuthFailureDelay: 20 * time.Millisecond}})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS a
		S: -ERR [AUTH] authentication failed
		C: USER alice
		S: +OK*
		C: PASS b
		S: -ERR [AUTH] authentication failed
		S: -ERR too many authentication failures, closing`)
	c.ExpectClosed()
}

// Line limits and bad commands (RFC 2449 §4).
func TestBadCommands(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Limits: pop3server.Limits{MaxBadCommands: 3}})
	c := pop3fake.Dial(t, env.Addr)
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'A'
	}
	c.Script(`
		S: +OK*
		C: LIST ` + string(long) + `
		S: -ERR pop3: malformed command: line longer than 255 octets
		C: NOOP
		S: -ERR unknown command or wrong state: NOOP
		C: USER alice
		S: +OK send PASS
		C: XYZ
		S: -ERR unknown command*
		C: X
		S: -ERR pop3: malformed command*
		C: FOO
		S: -ERR unknown command*
		S: -ERR too many bad commands, closing`)
	c.ExpectClosed()
}

// RFC 1939 §3 autologout: the session ends without UPDATE.
func TestIdleTimeout(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Limits: pop3server.Limits{IdleTimeout: 100 * time.Millisecond}})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: DELE 1
		S: +OK*
		S: -ERR autologout timer expired`)
	c.ExpectClosed()
	if got := env.Backend.UIDs("alice"); len(got) != 2 {
		t.Fatalf("maildrop holds %v", got)
	}
}

// RFC 6856 UTF8: messages with UTF-8 headers need UTF8 mode.
func TestUTF8(t *testing.T) {
	env := start(t, nil)
	env.Backend.Deliver("alice", []byte("Subject: Grüße\r\n\r\nHallo\r\n"))
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`
		S: +OK*
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: RETR 3
		S: -ERR [UTF8] message needs UTF8 mode
		C: QUIT
		S: +OK bye`)
	c2 := pop3fake.Dial(t, env.Addr)
	c2.Script(`
		S: +OK*
		C: UTF8
		S: +OK UTF8 enabled
		C: STLS
		S: -ERR STLS not allowed after UTF8
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*
		C: RETR 3
		S: +OK 27 octets
		S: Subject: Grüße
		S:
		S: Hallo
		S: .
		C: QUIT
		S: +OK bye`)
}

// After the three free failures each attempt waits the growing delay.
func TestAuthFailureDelay(t *testing.T) {
	env := start(t, &pop3server.Server{AllowInsecureAuth: true, Limits: pop3server.Limits{MaxAuthFailures: 10, AuthFailureDelay: 100 * time.Millisecond}})
	c := pop3fake.Dial(t, env.Addr)
	c.Script(`S: +OK*`)
	for i := 0; i < 4; i++ {
		c.Script(`
			C: USER alice
			S: +OK*
			C: PASS wrong
			S: -ERR [AUTH] authentication failed`)
	}
	t0 := time.Now()
	c.Script(`
		C: USER alice
		S: +OK*
		C: PASS secret
		S: +OK*`)
	if d := time.Since(t0); d < 100*time.Millisecond {
		t.Errorf("login after 4 failures was not delayed (%v)", d)
	}
}
