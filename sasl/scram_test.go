package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// setClientNonce replaces a SCRAM client's nonce (the RFC examples use
// nonces that are not base64 of whole bytes).
func setClientNonce(c Client, nonce string) {
	sc := c.(*scramClient)
	sc.cnonce = nonce
	sc.bare = strings.Replace(sc.bare, sc.bare[strings.Index(sc.bare, ",r=")+3:], nonce, 1)
}

// RFC 5802 §5 and RFC 7677 §3: the exchange between a client and a server
// that do not support channel binding, user "user", password "pencil".
func TestSCRAMRFCExamples(t *testing.T) {
	tests := []struct {
		mech   string
		hash   SCRAMHash
		salt   string
		cnonce string
		snonce string
		wire   []string // C, S, C, S
	}{
		{
			mech: SCRAMSHA1, hash: SHA1, salt: "QSXCR+Q6sek8bf92",
			cnonce: "fyko+d2lbbFgONRv9qkxdawL", snonce: "3rfcNHYJY1ZVvWVs7j",
			wire: []string{
				"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
				"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
				"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
				"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
			},
		},
		{
			mech: SCRAMSHA256, hash: SHA256, salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
			cnonce: "rOprNGfwEbeRWgbNEkqO", snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			wire: []string{
				"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
				"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
				"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
				"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			salt, _ := b64.DecodeString(tt.salt)
			keys, err := NewSCRAMKeys(tt.hash, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			creds := &testCreds{scram: map[string]map[SCRAMHash]SCRAMKeys{"user": {tt.hash: keys}}}
			reg := &Registry{Credentials: creds}
			srv, err := reg.NewServer(tt.mech, ConnState{})
			if err != nil {
				t.Fatal(err)
			}
			srv.(*scramServer).fixedSNonce = tt.snonce
			cl, err := NewSCRAMClient(SCRAMOptions{Hash: tt.hash, Username: "user", Password: "pencil"})
			if err != nil {
				t.Fatal(err)
			}
			setClientNonce(cl, tt.cnonce)
			ctx := context.Background()

			_, c1, _ := cl.Start()
			expect(t, "C", c1, tt.wire[0])
			s1, _, err := srv.Next(ctx, c1)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "S", s1, tt.wire[1])
			c2, err := cl.Next(s1)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "C", c2, tt.wire[2])
			s2, done, err := srv.Next(ctx, c2)
			if err != nil || done {
				t.Fatalf("server-final: done=%v err=%v", done, err)
			}
			expect(t, "S", s2, tt.wire[3])
			c3, err := cl.Next(s2)
			if err != nil || len(c3) != 0 {
				t.Fatalf("client answer to v=: %q, %v", c3, err)
			}
			if err := cl.(Completer).Complete(); err != nil {
				t.Fatal(err)
			}
			if _, done, err := srv.Next(ctx, c3); !done || err != nil {
				t.Fatalf("outcome: done=%v err=%v", done, err)
			}
			if id := srv.Identity(); id.Username != "user" || id.Mechanism != tt.mech {
				t.Fatalf("Identity = %+v", id)
			}
		})
	}
}

func expect(t *testing.T, who string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Fatalf("%s: got  %q\n   want %q", who, got, want)
	}
}

func scramRegistry(t testing.TB) (*Registry, *testCreds) {
	creds := newTestCreds(t, map[string]string{"user": "pencil", "a,b=c": "pässwörd", "admin": "secret"})
	creds.authz["admin"] = "user"
	return &Registry{Credentials: creds}, creds
}

func TestSCRAMClientServer(t *testing.T) {
	reg, _ := scramRegistry(t)
	p := dialTLS(t, 0x0304, nil, nil)
	tests := []struct {
		name     string
		opts     SCRAMOptions
		wantUser string
		wantErr  error
	}{
		{"sha256", SCRAMOptions{Hash: SHA256, Username: "user", Password: "pencil"}, "user", nil},
		{"sha1", SCRAMOptions{Hash: SHA1, Username: "user", Password: "pencil"}, "user", nil},
		{"sha256-plus", SCRAMOptions{Hash: SHA256, Username: "user", Password: "pencil", Plus: true}, "user", nil},
		{"sha1-plus", SCRAMOptions{Hash: SHA1, Username: "user", Password: "pencil", Plus: true}, "user", nil},
		{"saslname escaping, SASLprep", SCRAMOptions{Username: "a,b=c", Password: "pa\u0308\u00ADsswo\u0308rd"}, "a,b=c", nil},
		{"authzid allowed", SCRAMOptions{Username: "admin", Password: "secret", AuthzID: "user"}, "user", nil},
		{"authzid refused", SCRAMOptions{Username: "user", Password: "pencil", AuthzID: "admin"}, "", ErrNotAuthorized},
		{"wrong password", SCRAMOptions{Username: "user", Password: "pencils"}, "", ErrAuthFailed},
		{"unknown user", SCRAMOptions{Username: "nobody", Password: "pencil"}, "", ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := ConnState{TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.server)}
			tt.opts.ChannelBinding = nil
			if tt.opts.Plus {
				tt.opts.ChannelBinding = ChannelBindingFromTLS(&p.client)
			}
			cl, err := NewSCRAMClient(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			mech, _, _ := cl.Start()
			cl.(*scramClient).started = false // Start again in run
			srv, err := reg.NewServer(mech, cs)
			if err != nil {
				t.Fatal(err)
			}
			id, err := run(t, cl, srv, true)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var se *SCRAMError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a *SCRAMError from e=", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != tt.wantUser || id.Mechanism != mech {
				t.Fatalf("Identity = %+v", id)
			}
			if err := cl.(Completer).Complete(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
