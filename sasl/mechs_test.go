package sasl

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

// Every mechanism, our client against our server, with and without an
// initial response (RFC 4422 §5: without one the server sends an empty
// challenge first).
func TestAllMechanismsClientServer(t *testing.T) {
	creds := newTestCreds(t, map[string]string{"tim": "tanstaaftanstaaf"})
	creds.tokens["vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="] = "tim"
	clientCert, _ := testCert(t, "tim")
	p := dialTLS(t, tls.VersionTLS13, &clientCert, nil)
	reg := &Registry{Credentials: creds, Mechanisms: append([]string{CRAMMD5, Anonymous}, DefaultMechanisms...)}
	token := OAuthOptions{Username: "tim", Token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", Host: "localhost", Port: 993}
	clients := map[string]func() Client{
		Plain:       func() Client { return NewPlainClient("", "tim", "tanstaaftanstaaf") },
		Login:       func() Client { return NewLoginClient("tim", "tanstaaftanstaaf") },
		CRAMMD5:     func() Client { return NewCRAMMD5Client("tim", "tanstaaftanstaaf") },
		OAuthBearer: func() Client { return NewOAuthBearerClient(token) },
		XOAuth2:     func() Client { return NewXOAuth2Client(token) },
		External:    func() Client { return NewExternalClient("") },
		Anonymous:   func() Client { return NewAnonymousClient("sirhc") },
	}
	for _, h := range []SCRAMHash{SHA1, SHA256} {
		for _, plus := range []bool{false, true} {
			clients[scramMechName(h, plus)] = func() Client {
				var cb *ChannelBinding
				if plus {
					cb = ChannelBindingFromTLS(&p.client)
				}
				c, err := NewSCRAMClient(SCRAMOptions{Hash: h, Username: "tim", Password: "tanstaaftanstaaf", Plus: plus, ChannelBinding: cb})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
		}
	}
	wantUser := map[string]string{Anonymous: "anonymous"}
	for mech, newClient := range clients {
		for _, ir := range []bool{true, false} {
			t.Run(mech+map[bool]string{true: "/ir", false: "/no-ir"}[ir], func(t *testing.T) {
				cs := ConnState{TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.server), TLSState: &p.server}
				srv, err := reg.NewServer(mech, cs)
				if err != nil {
					t.Fatal(err)
				}
				id, err := run(t, newClient(), srv, ir)
				if err != nil {
					t.Fatal(err)
				}
				want := "tim"
				if w, ok := wantUser[mech]; ok {
					want = w
				}
				if id.Username != want || id.Mechanism != mech {
					t.Fatalf("Identity = %+v", id)
				}
			})
		}
	}
}

// RFC 2195 §2 example.
func TestCRAMMD5RFC2195(t *testing.T) {
	const challenge = "<1896.697170952@postoffice.reston.mci.net>"
	const response = "tim b913a602c7eda7a495b4e6e7334d3890"
	c := NewCRAMMD5Client("tim", "tanstaaftanstaaf")
	if mech, ir, _ := c.Start(); mech != CRAMMD5 || ir != nil {
		t.Fatalf("Start = %s %q", mech, ir)
	}
	r, err := c.Next([]byte(challenge))
	expect(t, "C", r, response)
	if err != nil {
		t.Fatal(err)
	}

	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "tanstaaftanstaaf"}), Mechanisms: []string{CRAMMD5}}
	if got := reg.Offer(ConnState{}); len(got) != 1 || got[0] != CRAMMD5 {
		t.Fatalf("Offer = %v", got)
	}
	srv, _ := reg.NewServer(CRAMMD5, ConnState{})
	ch, _, err := srv.Next(context.Background(), nil)
	if err != nil || !strings.HasPrefix(string(ch), "<") || !strings.HasSuffix(string(ch), "@localhost>") {
		t.Fatalf("S: %q %v", ch, err)
	}
	srv.(*cramServer).challenge = []byte(challenge)
	if _, done, err := srv.Next(context.Background(), []byte(response)); !done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	for _, bad := range []string{"tim b913a602c7eda7a495b4e6e7334d3891", "tim", "tim zz13a602c7eda7a495b4e6e7334d3890", " b913a602c7eda7a495b4e6e7334d3890"} {
		srv, _ := reg.NewServer(CRAMMD5, ConnState{})
		srv.Next(context.Background(), nil)
		srv.(*cramServer).challenge = []byte(challenge)
		if _, done, err := srv.Next(context.Background(), []byte(bad)); done || err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// CRAM-MD5 is never offered by default, nor without SecretLookup.
func TestCRAMMD5OffByDefault(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, nil)}
	for _, m := range reg.Offer(ConnState{TLS: true}) {
		if m == CRAMMD5 || m == Anonymous {
			t.Fatalf("Offer = %v", reg.Offer(ConnState{TLS: true}))
		}
	}
	reg = &Registry{Credentials: passwordOnly{newTestCreds(t, nil)}, Mechanisms: []string{CRAMMD5, SCRAMSHA256, Plain}}
	if got := reg.Offer(ConnState{TLS: true}); len(got) != 1 || got[0] != Plain {
		t.Fatalf("PasswordVerifier only: Offer = %v, want [PLAIN]", got)
	}
}

// RFC 7628 §4.1 and §4.3 examples.
func TestOAuthBearerRFC7628(t *testing.T) {
	const token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
	c := NewOAuthBearerClient(OAuthOptions{Username: "user@example.com", Token: token, Host: "server.example.com", Port: 143})
	_, ir, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "C", ir, "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer "+token+"\x01\x01")

	creds := newTestCreds(t, nil)
	creds.tokens[token] = "user@example.com"
	reg := &Registry{Credentials: creds, Hostname: "server.example.com"}
	cs := ConnState{TLS: true}
	srv, _ := reg.NewServer(OAuthBearer, cs)
	if _, done, err := srv.Next(context.Background(), ir); !done || err != nil {
		t.Fatalf("§4.1: done=%v err=%v", done, err)
	}
	if id := srv.Identity(); id.Username != "user@example.com" || id.AuthzID != "user@example.com" {
		t.Fatalf("Identity = %+v", id)
	}

	// §4.3: empty auth, the server answers with the error JSON, the
	// client with %x01, then the server fails.
	srv, _ = reg.NewServer(OAuthBearer, cs)
	ch, done, err := srv.Next(context.Background(), []byte("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01"))
	if done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	var oe OAuthError
	if err := parseOAuthError(ch, &oe); err != nil || oe.Status == "" {
		t.Fatalf("S: %q (%v)", ch, err)
	}
	cl := NewOAuthBearerClient(OAuthOptions{Token: "x"})
	cl.Start()
	errJSON := `{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}`
	r, err := cl.Next([]byte(errJSON))
	if err != nil || string(r) != "\x01" {
		t.Fatalf("C: %q %v, want the dummy %%x01", r, err)
	}
	var ce *OAuthError
	if !errors.As(cl.(Completer).Complete(), &ce) || ce.Scope != "example_scope" || ce.OpenIDConfiguration == "" {
		t.Fatalf("Complete = %v", cl.(Completer).Complete())
	}
	_, done, err = srv.Next(context.Background(), r)
	if done || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("outcome: done=%v err=%v", done, err)
	}

	// §4.4's message ("n,user=...") is not valid GS2 (RFC 5801): refused.
	srv, _ = reg.NewServer(OAuthBearer, cs)
	_, _, err = srv.Next(context.Background(), []byte("n,user=someuser@example.com,\x01auth=Bearer "+token+"\x01\x01"))
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("§4.4 form: %v", err)
	}
}

func TestOAuthServerErrors(t *testing.T) {
	creds := newTestCreds(t, nil)
	creds.tokens["good"] = "tim"
	reg := &Registry{Credentials: creds, Hostname: "mail.example.org"}
	tests := []struct {
		mech, msg string
		status    string // error JSON status; "" for a *ProtocolError
	}{
		{OAuthBearer, "n,,\x01auth=Bearer bad\x01\x01", "invalid_token"},
		{OAuthBearer, "n,a=bob,\x01auth=Bearer good\x01\x01", "invalid_token"},
		{OAuthBearer, "n,,\x01auth=Basic Zm9vOmJhcg==\x01\x01", "invalid_request"},
		{OAuthBearer, "n,,\x01host=evil.example\x01auth=Bearer good\x01\x01", "invalid_request"},
		{OAuthBearer, "n,,\x01auth=Bearer good\x01", ""},
		{OAuthBearer, "n,,auth=Bearer good\x01\x01", ""},
		{OAuthBearer, "p=tls-unique,,\x01auth=Bearer good\x01\x01", ""},
		{OAuthBearer, "n,,\x01auth=Bearer good\x01\x01junk", ""},
		{OAuthBearer, "n,,\x011uth=Bearer good\x01\x01", ""},
		{OAuthBearer, "n,,\x01auth=Bearer g\x00od\x01\x01", ""},
		{XOAuth2, "user=tim\x01auth=Bearer bad\x01\x01", "401"},
		{XOAuth2, "auth=Bearer good\x01\x01", ""},
		{XOAuth2, "user=j\xc3\xb6rg@example.org\x01auth=Bearer bad\x01\x01", "401"},
		{XOAuth2, "user=j\xf6rg\x01auth=Bearer good\x01\x01", ""},
		{OAuthBearer, "n,,\x01auth=Bearer g\xc3\xb6od\x01\x01", ""},
		{XOAuth2, "user=tim\x01auth=Bearer good\x01", ""},
	}
	for _, tt := range tests {
		srv, _ := reg.NewServer(tt.mech, ConnState{TLS: true})
		ch, done, err := srv.Next(context.Background(), []byte(tt.msg))
		if tt.status == "" {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("%s %q: err = %v, want *ProtocolError", tt.mech, tt.msg, err)
			}
			continue
		}
		var oe OAuthError
		if done || err != nil || parseOAuthError(ch, &oe) != nil || oe.Status != tt.status {
			t.Errorf("%s %q: S: %q done=%v err=%v, want status %s", tt.mech, tt.msg, ch, done, err, tt.status)
			continue
		}
		_, _, err = srv.Next(context.Background(), []byte{1})
		var we *OAuthError
		if !errors.Is(err, ErrAuthFailed) || !errors.As(err, &we) {
			t.Errorf("%s %q: final err = %v", tt.mech, tt.msg, err)
		}
	}
	// A lone %x01 as the first message fails at once (RFC 7628 §3.1).
	srv, _ := reg.NewServer(OAuthBearer, ConnState{TLS: true})
	if _, _, err := srv.Next(context.Background(), []byte{1}); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("lone kvsep: %v", err)
	}
	// Bearer tokens are not offered in the clear.
	if reg.Offers(OAuthBearer, ConnState{}) || reg.Offers(XOAuth2, ConnState{}) {
		t.Error("OAuth offered without TLS")
	}
}

func TestXOAuth2Wire(t *testing.T) {
	c := NewXOAuth2Client(OAuthOptions{Username: "someuser@example.com", Token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"})
	_, ir, _ := c.Start()
	expect(t, "C", ir, "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01")
	r, err := c.Next([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if err != nil || len(r) != 0 {
		t.Fatalf("C: %q %v, want empty", r, err)
	}
	var oe *OAuthError
	if !errors.As(c.(Completer).Complete(), &oe) || oe.Status != "401" || oe.Schemes != "Bearer" {
		t.Fatalf("Complete = %v", c.(Completer).Complete())
	}
	if _, err := NewXOAuth2Client(OAuthOptions{Username: "u", Token: "t"}).Next(nil); !errors.Is(err, ErrUnexpectedMessage) {
		t.Fatalf("Next before Start: %v", err)
	}
	if _, _, err := NewXOAuth2Client(OAuthOptions{Username: "u", Token: "a\x01b"}).Start(); err == nil {
		t.Fatal("token with kvsep accepted")
	}
}

func TestLoginWire(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "pw"})}
	srv, _ := reg.NewServer(Login, ConnState{TLS: true})
	ctx := context.Background()
	// S: 334 VXNlcm5hbWU6 / C: dGlt / S: 334 UGFzc3dvcmQ6 / C: cHc= / S: 235
	ch, _, _ := srv.Next(ctx, nil)
	expect(t, "S", ch, "Username:")
	ch, _, _ = srv.Next(ctx, []byte("tim"))
	expect(t, "S", ch, "Password:")
	if _, done, err := srv.Next(ctx, []byte("pw")); !done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	// Initial response carrying the user name (AUTH LOGIN dGlt).
	srv, _ = reg.NewServer(Login, ConnState{TLS: true})
	ch, _, _ = srv.Next(ctx, []byte("tim"))
	expect(t, "S", ch, "Password:")
	if _, _, err := srv.Next(ctx, []byte("wrong")); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	// Client answers by prompt.
	c := NewLoginClient("tim", "pw")
	c.Start()
	if r, _ := c.Next([]byte("Password:")); string(r) != "pw" {
		t.Fatalf("answer to Password: %q", r)
	}
}

func TestExternal(t *testing.T) {
	clientCert, _ := testCert(t, "tim")
	p := dialTLS(t, tls.VersionTLS13, &clientCert, nil)
	reg := &Registry{Credentials: newTestCreds(t, nil)}
	cs := ConnState{TLS: true, TLSState: &p.server}
	if !reg.Offers(External, cs) {
		t.Fatalf("EXTERNAL not offered with a client certificate: %v", reg.Offer(cs))
	}
	noCert := dialTLS(t, tls.VersionTLS13, nil, nil)
	if reg.Offers(External, ConnState{TLS: true, TLSState: &noCert.server}) {
		t.Fatal("EXTERNAL offered without a peer certificate")
	}
	for authzid, ok := range map[string]bool{"": true, "tim": true, "root": false} {
		srv, _ := reg.NewServer(External, cs)
		_, done, err := srv.Next(context.Background(), []byte(authzid))
		if done != ok || (err == nil) != ok {
			t.Errorf("authzid %q: done=%v err=%v", authzid, done, err)
		}
		if !ok && !errors.Is(err, ErrAuthFailed) {
			t.Errorf("authzid %q: err %v is not ErrAuthFailed", authzid, err)
		}
	}
}

// RFC 4505 §4 example, and the trace limits of §2 and §3.
func TestAnonymous(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, nil), Mechanisms: []string{Anonymous}}
	ok := []string{"", "sirhc", "abuse@example.com", strings.Repeat("ä", 255), "with space"}
	bad := []string{strings.Repeat("a", 256), "a\x00b", "\xff", "tab\tbad", "\u202eevil"}
	for _, tr := range ok {
		srv, _ := reg.NewServer(Anonymous, ConnState{})
		if _, done, err := srv.Next(context.Background(), []byte(tr)); !done || err != nil {
			t.Errorf("trace %q: done=%v err=%v", tr, done, err)
		} else if srv.Identity().AuthcID != tr {
			t.Errorf("trace not reported: %+v", srv.Identity())
		}
	}
	for _, tr := range bad {
		srv, _ := reg.NewServer(Anonymous, ConnState{})
		var pe *ProtocolError
		if _, _, err := srv.Next(context.Background(), []byte(tr)); !errors.As(err, &pe) {
			t.Errorf("trace %q: err = %v, want *ProtocolError", tr, err)
		}
	}
}

// Calls after the outcome and over-long messages fail.
func TestServerStateAndLimits(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "pw"}), MaxMessage: 64}
	srv, _ := reg.NewServer(Plain, ConnState{TLS: true})
	if _, done, err := srv.Next(context.Background(), []byte("\x00tim\x00pw")); !done || err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Next(context.Background(), []byte("x")); !errors.Is(err, ErrUnexpectedMessage) {
		t.Fatalf("after success: %v", err)
	}
	for _, mech := range []string{Plain, Login, SCRAMSHA256, OAuthBearer} {
		if !reg.Offers(mech, ConnState{TLS: true}) {
			continue
		}
		srv, _ := reg.NewServer(mech, ConnState{TLS: true})
		var pe *ProtocolError
		if _, _, err := srv.Next(context.Background(), make([]byte, 65)); !errors.As(err, &pe) {
			t.Errorf("%s: 65-byte message: %v", mech, err)
		}
		if _, _, err := srv.Next(context.Background(), []byte("x")); !errors.As(err, &pe) {
			t.Errorf("%s: call after failure: %v", mech, err)
		}
	}
	if _, err := reg.NewServer("DIGEST-MD5", ConnState{TLS: true}); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("unknown mechanism: %v", err)
	}
}

// Backends see the connection through the context.
func TestConnStateInContext(t *testing.T) {
	var got ConnState
	reg := &Registry{Credentials: verifierFunc(func(ctx context.Context, u, p string) error {
		got, _ = ConnStateFromContext(ctx)
		return nil
	})}
	cs := ConnState{TLS: true}
	srv, _ := reg.NewServer(Plain, cs)
	if _, _, err := srv.Next(context.Background(), []byte("\x00u\x00p")); err != nil || !got.TLS {
		t.Fatalf("err=%v ConnState=%+v", err, got)
	}
}

type verifierFunc func(ctx context.Context, u, p string) error

func (f verifierFunc) VerifyPassword(ctx context.Context, u, p string) error { return f(ctx, u, p) }

// A cancelled context ends the exchange before the backend is asked.
func TestServerContextCancelled(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "pw"})}
	srv, _ := reg.NewServer(Plain, ConnState{TLS: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, done, err := srv.Next(ctx, []byte("\x00tim\x00pw")); done || !errors.Is(err, context.Canceled) {
		t.Fatalf("done=%v err=%v", done, err)
	}
}

// OAuth clients report no error after success.
func TestOAuthCompleteAfterSuccess(t *testing.T) {
	creds := newTestCreds(t, nil)
	creds.tokens["tok"] = "tim"
	reg := &Registry{Credentials: creds}
	for _, c := range []Client{NewOAuthBearerClient(OAuthOptions{Token: "tok"}), NewXOAuth2Client(OAuthOptions{Username: "tim", Token: "tok"})} {
		mech, _, _ := c.Start()
		c.(*oauthClient).started = false
		srv, _ := reg.NewServer(mech, ConnState{TLS: true})
		if _, err := run(t, c, srv, true); err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if err := c.(Completer).Complete(); err != nil {
			t.Fatalf("%s: Complete = %v", mech, err)
		}
	}
}
