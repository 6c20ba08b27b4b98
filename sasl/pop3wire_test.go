package sasl

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testpeer"
)

// pop3Once serves one POP3 connection (RFC 1939, SASL per RFC 5034) with
// just enough of the protocol for curl: CAPA, AUTH, LIST, QUIT. It reports
// the authenticated identity or the error.
func pop3Once(ln net.Listener, reg *Registry, result chan<- error, id *Identity) {
	conn, err := ln.Accept()
	if err != nil {
		result <- err
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	cs := ConnState{RemoteAddr: conn.RemoteAddr()}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			result <- err
			return
		}
		st := tc.ConnectionState()
		cs.TLS, cs.TLSState, cs.ChannelBinding = true, &st, ChannelBindingFromTLS(&st)
	}
	say := func(s string) { fmt.Fprintf(conn, "%s\r\n", s) }
	const timestamp = "<1896.697170952@posthorn.test>"
	say("+OK posthorn test " + timestamp)
	var authErr error = fmt.Errorf("no AUTH")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			result <- authErr
			return
		}
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "CAPA":
			say("+OK")
			say("SASL " + strings.Join(reg.Offer(cs), " "))
			say(".")
		case "AUTH":
			srv, err := reg.NewServer(f[1], cs)
			if err != nil {
				say("-ERR unsupported")
				authErr = err
				continue
			}
			var resp []byte
			if len(f) > 2 {
				if f[2] == "=" {
					resp = []byte{}
				} else if resp, err = base64.StdEncoding.DecodeString(f[2]); err != nil {
					say("-ERR bad base64")
					continue
				}
			}
			for {
				ch, done, err := srv.Next(context.Background(), resp)
				if err != nil {
					say("-ERR [AUTH] failed")
					authErr = err
					break
				}
				if done {
					say("+OK logged in")
					authErr, *id = nil, srv.Identity()
					break
				}
				say("+ " + base64.StdEncoding.EncodeToString(ch))
				l, _ := br.ReadString('\n')
				l = strings.TrimSpace(l)
				if l == "*" {
					say("-ERR aborted")
					authErr = ErrAborted
					break
				}
				resp, _ = base64.StdEncoding.DecodeString(l)
			}
		case "APOP":
			if len(f) != 3 {
				say("-ERR syntax")
				continue
			}
			got, err := reg.CheckAPOP(context.Background(), cs, f[1], timestamp, f[2])
			if err != nil {
				say("-ERR [AUTH] failed")
				authErr = err
				continue
			}
			say("+OK logged in")
			authErr, *id = nil, got
		case "LIST", "UIDL":
			say("+OK")
			say(".")
		case "STAT":
			say("+OK 0 0")
		case "QUIT":
			say("+OK bye")
			result <- authErr
			return
		default:
			say("-ERR unknown")
		}
	}
}

// curl's SASL clients against our servers: PLAIN, LOGIN, CRAM-MD5,
// OAUTHBEARER and XOAUTH2, with and without initial responses.
func TestCurlInterop(t *testing.T) {
	curl := testpeer.Need(t, "curl", "curl")
	creds := newTestCreds(t, map[string]string{"tim": "tanstaaftanstaaf"})
	creds.tokens["vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg"] = "tim"
	reg := &Registry{Credentials: creds, AllowPlaintext: true, // loopback only
		Mechanisms: []string{Plain, Login, CRAMMD5, OAuthBearer, XOAuth2}}
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"PLAIN", []string{"--user", "tim:tanstaaftanstaaf", "--login-options", "AUTH=PLAIN"}, true},
		{"PLAIN sasl-ir", []string{"--sasl-ir", "--user", "tim:tanstaaftanstaaf", "--login-options", "AUTH=PLAIN"}, true},
		{"LOGIN", []string{"--user", "tim:tanstaaftanstaaf", "--login-options", "AUTH=LOGIN"}, true},
		{"CRAM-MD5", []string{"--user", "tim:tanstaaftanstaaf", "--login-options", "AUTH=CRAM-MD5"}, true},
		{"CRAM-MD5 wrong", []string{"--user", "tim:wrong", "--login-options", "AUTH=CRAM-MD5"}, false},
		{"OAUTHBEARER", []string{"--sasl-ir", "--user", "tim:", "--oauth2-bearer", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg", "--login-options", "AUTH=OAUTHBEARER"}, true},
		{"OAUTHBEARER bad token", []string{"--sasl-ir", "--user", "tim:", "--oauth2-bearer", "nope", "--login-options", "AUTH=OAUTHBEARER"}, false},
		{"XOAUTH2", []string{"--user", "tim:", "--oauth2-bearer", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg", "--login-options", "AUTH=XOAUTH2"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			result := make(chan error, 1)
			var id Identity
			go pop3Once(ln, reg, result, &id)
			args := append([]string{"-sS", "--max-time", "15", "pop3://" + ln.Addr().String() + "/"}, tt.args...)
			out, cerr := exec.Command(curl, args...).CombinedOutput()
			var serr error
			select {
			case serr = <-result:
			case <-time.After(20 * time.Second):
				t.Fatal("server did not finish")
			}
			if tt.ok {
				if cerr != nil || serr != nil || id.Username != "tim" {
					t.Fatalf("curl: %v %s\nserver: %v %+v", cerr, out, serr, id)
				}
			} else if cerr == nil || serr == nil {
				t.Fatalf("accepted: curl %v, server %v", cerr, serr)
			}
		})
	}
}

// pop3Auth is a minimal POP3 SASL client (RFC 5034 §4): CAPA, then AUTH
// with the mechanism Choose picks, then QUIT.
func pop3Auth(t *testing.T, conn net.Conn, opts ClientOptions) (Client, error) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	readLine := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimRight(l, "\r\n")
	}
	readLine()
	fmt.Fprintf(conn, "CAPA\r\n")
	var offered []string
	for l := readLine(); l != "."; l = readLine() {
		if m, ok := strings.CutPrefix(l, "SASL "); ok {
			offered = strings.Fields(m)
		}
	}
	c, err := Choose(offered, opts)
	if err != nil {
		return nil, err
	}
	mech, ir, _ := c.Start()
	fmt.Fprintf(conn, "AUTH %s %s\r\n", mech, base64.StdEncoding.EncodeToString(ir))
	for {
		l := readLine()
		if ch, ok := strings.CutPrefix(l, "+ "); ok {
			dec, _ := base64.StdEncoding.DecodeString(ch)
			resp, err := c.Next(dec)
			if err != nil {
				fmt.Fprintf(conn, "*\r\n")
				readLine()
				return c, err
			}
			fmt.Fprintf(conn, "%s\r\n", base64.StdEncoding.EncodeToString(resp))
			continue
		}
		fmt.Fprintf(conn, "QUIT\r\n")
		readLine()
		if strings.HasPrefix(l, "+OK") {
			return c, c.(Completer).Complete()
		}
		return c, fmt.Errorf("%w: %s", ErrAuthFailed, l)
	}
}

// SCRAM-SHA-256-PLUS end to end over real TLS 1.2 (tls-unique) and TLS 1.3
// (tls-exporter) connections on 127.0.0.1.
func TestSCRAMPlusOverTLS(t *testing.T) {
	reg, _ := scramRegistry(t)
	cert, pool := testCert(t, "localhost")
	for _, v := range []struct {
		name    string
		version uint16
		cbType  string
	}{{"TLS 1.2", tls.VersionTLS12, TLSUnique}, {"TLS 1.3", tls.VersionTLS13, TLSExporter}} {
		t.Run(v.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v.version, MaxVersion: v.version})
			defer ln.Close()
			result := make(chan error, 1)
			var id Identity
			go pop3Once(ln, reg, result, &id)
			conn, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: v.version, MaxVersion: v.version})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			cb := ChannelBindingFromTLS(&st)
			if cb == nil || cb.Type != v.cbType {
				t.Fatalf("channel binding %+v, want %s", cb, v.cbType)
			}
			if _, err := pop3Auth(t, conn, ClientOptions{Username: "user", Password: "pencil", TLS: true, ChannelBinding: cb}); err != nil {
				t.Fatal(err)
			}
			if err := <-result; err != nil || id.Mechanism != SCRAMSHA256Plus || id.Username != "user" {
				t.Fatalf("server: %v %+v", err, id)
			}
		})
	}
}

// mpop (GNU SASL) against our servers: SCRAM-SHA-1, SCRAM-SHA-256 (with a
// non-ASCII password, SASLprep on both sides), CRAM-MD5, PLAIN and APOP.
func TestMpopInterop(t *testing.T) {
	mpop := testpeer.Need(t, "mpop", "mpop")
	const pw = "p\u00e4ssw\u00f6rd"
	creds := newTestCreds(t, map[string]string{"tim": pw})
	for _, tt := range []struct {
		auth, mech, password string
		ok                   bool
	}{
		{"scram-sha-256", SCRAMSHA256, pw, true},
		{"scram-sha-1", SCRAMSHA1, pw, true},
		{"scram-sha-256", SCRAMSHA256, "pa\u0308sswo\u0308rd", true}, // NFD: equal after SASLprep
		{"scram-sha-256", SCRAMSHA256, "wrong", false},
		{"cram-md5", CRAMMD5, pw, true},
		{"plain", Plain, pw, true},
		{"apop", "APOP", pw, true},
		{"apop", "APOP", "wrong", false},
	} {
		t.Run(tt.auth+"/"+map[bool]string{true: "ok", false: "wrong"}[tt.ok], func(t *testing.T) {
			reg := &Registry{Credentials: creds, AllowPlaintext: true, Mechanisms: []string{SCRAMSHA256, SCRAMSHA1, CRAMMD5, Plain}}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			dir := t.TempDir()
			rc := filepath.Join(dir, "mpoprc")
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			conf := fmt.Sprintf("account test\nhost 127.0.0.1\nport %s\ntls off\nauth %s\nuser tim\npassword %s\ndelivery mbox %s\n",
				port, tt.auth, tt.password, filepath.Join(dir, "mbox"))
			if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			result := make(chan error, 1)
			var id Identity
			go pop3Once(ln, reg, result, &id)
			cmd := exec.Command(mpop, "-C", rc, "-q", "test")
			cmd.Dir = dir
			out, cerr := cmd.CombinedOutput()
			var serr error
			select {
			case serr = <-result:
			case <-time.After(20 * time.Second):
				t.Fatal("server did not finish")
			}
			if tt.ok {
				if cerr != nil || serr != nil || id.Username != "tim" || id.Mechanism != tt.mech {
					t.Fatalf("mpop: %v %s\nserver: %v %+v", cerr, out, serr, id)
				}
			} else if cerr == nil || serr == nil {
				t.Fatalf("accepted: mpop %v %s, server %v", cerr, out, serr)
			}
		})
	}
}
