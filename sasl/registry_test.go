package sasl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// What a protocol server advertises (EHLO AUTH, CAPABILITY AUTH=, CAPA
// SASL) for each connection state.
func TestRegistryOffer(t *testing.T) {
	creds := newTestCreds(t, nil)
	p := dialTLS(t, tls.VersionTLS13, nil, nil)
	cb := func() *ChannelBinding { return ChannelBindingFromTLS(&p.server) }
	tests := []struct {
		name string
		reg  *Registry
		cs   ConnState
		want string
	}{
		{"no credentials", &Registry{}, ConnState{TLS: true}, ""},
		{"plaintext connection", &Registry{Credentials: creds}, ConnState{},
			"SCRAM-SHA-256 SCRAM-SHA-1"},
		{"plaintext allowed", &Registry{Credentials: creds, AllowPlaintext: true}, ConnState{},
			"SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN"},
		{"TLS required, plaintext connection", &Registry{Credentials: creds, RequireTLS: true, AllowPlaintext: true}, ConnState{},
			""},
		{"TLS required, TLS connection", &Registry{Credentials: creds, RequireTLS: true}, ConnState{TLS: true},
			"SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN"},
		{"TLS without channel binding", &Registry{Credentials: creds}, ConnState{TLS: true},
			"SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN"},
		{"TLS with channel binding", &Registry{Credentials: creds}, ConnState{TLS: true, ChannelBinding: cb()},
			"SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN"},
		{"password verifier only", &Registry{Credentials: passwordOnly{creds}}, ConnState{TLS: true, ChannelBinding: cb()},
			"PLAIN LOGIN"},
		{"explicit list, case-insensitive", &Registry{Credentials: creds, Mechanisms: []string{"plain", "cram-md5", "anonymous"}}, ConnState{TLS: true},
			"PLAIN CRAM-MD5 ANONYMOUS"},
		{"unknown mechanism listed", &Registry{Credentials: creds, Mechanisms: []string{"GSSAPI", "PLAIN"}}, ConnState{TLS: true},
			"PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.reg.Offer(tt.cs), " "); got != tt.want {
				t.Fatalf("Offer = %q\n        want %q", got, tt.want)
			}
		})
	}
}

// RequireTLS also refuses to start a mechanism, and IMAP LOGIN / POP3
// PASS, without TLS: a client that does not look at the offer gets
// nothing either.
func TestRegistryRequireTLS(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, nil), RequireTLS: true}
	if _, err := reg.NewServer(SCRAMSHA256, ConnState{}); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("NewServer(SCRAM-SHA-256) in clear: %v", err)
	}
	if reg.PasswordAllowed(ConnState{}) {
		t.Fatal("PasswordAllowed in clear")
	}
	if _, err := reg.NewServer(SCRAMSHA256, ConnState{TLS: true}); err != nil {
		t.Fatalf("NewServer(SCRAM-SHA-256) over TLS: %v", err)
	}
	if !reg.PasswordAllowed(ConnState{TLS: true}) {
		t.Fatal("PasswordAllowed over TLS")
	}
}

// Choose picks the strongest mechanism that both sides allow.
func TestChoose(t *testing.T) {
	p := dialTLS(t, tls.VersionTLS13, nil, nil)
	all := []string{"LOGIN", "PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "OAUTHBEARER", "XOAUTH2", "CRAM-MD5", "EXTERNAL", "ANONYMOUS"}
	pw := ClientOptions{Username: "u", Password: "p"}
	with := func(o ClientOptions, f func(*ClientOptions)) ClientOptions { f(&o); return o }
	tests := []struct {
		name    string
		offered []string
		opts    ClientOptions
		want    string // mechanism, or "" for ErrUnsupportedMechanism
		flag    string // SCRAM gs2 flag
	}{
		{"TLS with binding: -PLUS", all, with(pw, func(o *ClientOptions) { o.TLS = true; o.ChannelBinding = ChannelBindingFromTLS(&p.client) }), SCRAMSHA256Plus, "p"},
		{"TLS without binding", all, with(pw, func(o *ClientOptions) { o.TLS = true }), SCRAMSHA256, "n"},
		{"lower case offer", []string{"scram-sha-1", "plain"}, with(pw, func(o *ClientOptions) { o.TLS = true }), SCRAMSHA1, "n"},
		{"binding but no -PLUS offered: y", []string{"SCRAM-SHA-1", "PLAIN"}, with(pw, func(o *ClientOptions) { o.TLS = true; o.ChannelBinding = ChannelBindingFromTLS(&p.client) }), SCRAMSHA1, "y"},
		{"-PLUS of weaker hash offered: n, not y", []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256"}, with(pw, func(o *ClientOptions) {
			o.TLS = true
			o.ChannelBinding = ChannelBindingFromTLS(&p.client)
		}), SCRAMSHA256, "n"},
		{"app forbids -PLUS: n", []string{"SCRAM-SHA-256"}, with(pw, func(o *ClientOptions) {
			o.TLS = true
			o.ChannelBinding = ChannelBindingFromTLS(&p.client)
			o.Mechanisms = []string{SCRAMSHA256}
		}), SCRAMSHA256, "n"},
		{"PLAIN over TLS", []string{"LOGIN", "PLAIN"}, with(pw, func(o *ClientOptions) { o.TLS = true }), Plain, ""},
		{"no PLAIN in the clear", []string{"LOGIN", "PLAIN"}, pw, "", ""},
		{"PLAIN in the clear when allowed", []string{"LOGIN", "PLAIN"}, with(pw, func(o *ClientOptions) { o.AllowPlaintext = true }), Plain, ""},
		{"LOGIN only", []string{"LOGIN"}, with(pw, func(o *ClientOptions) { o.TLS = true }), Login, ""},
		{"CRAM-MD5 needs opt-in", []string{"CRAM-MD5"}, pw, "", ""},
		{"CRAM-MD5 opted in", []string{"CRAM-MD5", "PLAIN"}, with(pw, func(o *ClientOptions) { o.Mechanisms = []string{"CRAM-MD5", "PLAIN"} }), CRAMMD5, ""},
		{"token: OAUTHBEARER", all, ClientOptions{Username: "u", Token: "t", TLS: true}, OAuthBearer, ""},
		{"token without user: XOAUTH2 impossible", []string{"XOAUTH2"}, ClientOptions{Token: "t", TLS: true}, "", ""},
		{"EXTERNAL opted in", all, ClientOptions{TLS: true, Mechanisms: []string{"EXTERNAL"}}, External, ""},
		{"ANONYMOUS opted in", all, ClientOptions{Mechanisms: []string{"ANONYMOUS"}}, Anonymous, ""},
		{"nothing in common", []string{"GSSAPI"}, pw, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Choose(tt.offered, tt.opts)
			if tt.want == "" {
				if !errors.Is(err, ErrUnsupportedMechanism) {
					t.Fatalf("Choose = %v, %v; want ErrUnsupportedMechanism", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mech, ir, err := c.Start()
			if err != nil || mech != tt.want {
				t.Fatalf("chose %s (%v), want %s", mech, err, tt.want)
			}
			if tt.flag != "" && !strings.HasPrefix(string(ir), tt.flag) {
				t.Fatalf("gs2 flag in %q, want %s", ir, tt.flag)
			}
		})
	}
	if !slices.Equal(ClientPreference[:2], []string{SCRAMSHA256Plus, SCRAMSHA256}) {
		t.Fatal("ClientPreference order changed")
	}
}

// The exported lists are copies: changing them changes nothing.
func TestExportedListsAreCopies(t *testing.T) {
	saved := DefaultMechanisms[0]
	DefaultMechanisms[0] = "PLAIN"
	defer func() { DefaultMechanisms[0] = saved }()
	if (&Registry{}).mechanisms()[0] != SCRAMSHA256Plus {
		t.Fatal("DefaultMechanisms aliases the internal list")
	}
	savedC := ClientPreference[0]
	ClientPreference[0] = "PLAIN"
	defer func() { ClientPreference[0] = savedC }()
	if clientPreference[0] != SCRAMSHA256Plus {
		t.Fatal("ClientPreference aliases the internal list")
	}
}

// One Registry serves many connections at once (run with -race).
func TestRegistryConcurrent(t *testing.T) {
	reg, _ := scramRegistry(t)
	reg.AllowPlaintext = true
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := ConnState{ChannelBinding: &ChannelBinding{Type: TLSExporter, Data: []byte{byte(i), 1, 2, 3}}, TLS: true}
			var c Client
			var err error
			if i%2 == 0 {
				c, err = Choose(reg.Offer(cs), ClientOptions{Username: "user", Password: "pencil", TLS: true,
					ChannelBinding: &ChannelBinding{Type: TLSExporter, Data: []byte{byte(i), 1, 2, 3}}})
			} else {
				c = NewPlainClient("", "ghost", "x")
			}
			if err != nil {
				errs <- err
				return
			}
			mech, _, _ := c.Start()
			srv, err := reg.NewServer(mech, cs)
			if err != nil {
				errs <- err
				return
			}
			// Restart the client state for run.
			switch cc := c.(type) {
			case *scramClient:
				cc.started = false
			case *plainClient:
				cc.started = false
			}
			_, err = run(t, c, srv, true)
			if (i%2 == 0) != (err == nil) {
				errs <- fmt.Errorf("exchange %d (%s): %v", i, mech, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
