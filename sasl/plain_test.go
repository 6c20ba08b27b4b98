package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// RFC 4616 §4 examples.
func TestPlainRFC4616Examples(t *testing.T) {
	creds := newTestCreds(t, map[string]string{"tim": "tanstaaftanstaaf", "Kurt": "xipj3plmq"})
	creds.authz["Kurt"] = "Ursel"
	reg := &Registry{Credentials: creds}
	tls := ConnState{TLS: true}
	tests := []struct {
		name    string
		msg     string // C: message (NUL written as \x00)
		want    Identity
		wantErr error
	}{
		{"no authzid", "\x00tim\x00tanstaaftanstaaf", Identity{Username: "tim", AuthcID: "tim", Mechanism: "PLAIN"}, nil},
		{"authzid as other user", "Ursel\x00Kurt\x00xipj3plmq", Identity{Username: "Ursel", AuthzID: "Ursel", AuthcID: "Kurt", Mechanism: "PLAIN"}, nil},
		{"authzid same", "tim\x00tim\x00tanstaaftanstaaf", Identity{Username: "tim", AuthzID: "tim", AuthcID: "tim", Mechanism: "PLAIN"}, nil},
		{"authzid not allowed", "Kurt\x00tim\x00tanstaaftanstaaf", Identity{}, ErrNotAuthorized},
		{"wrong password", "\x00tim\x00tanstaaf", Identity{}, ErrAuthFailed},
		{"unknown user", "\x00bob\x00tanstaaftanstaaf", Identity{}, ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := reg.NewServer("plain", tls)
			if err != nil {
				t.Fatal(err)
			}
			ch, done, err := s.Next(context.Background(), []byte(tt.msg))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrAuthFailed) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !done || len(ch) != 0 {
				t.Fatalf("Next = %q, %v, %v", ch, done, err)
			}
			if got := s.Identity(); got != tt.want {
				t.Fatalf("Identity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPlainMalformed(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "x"})}
	for _, msg := range []string{"", "tim", "\x00tim", "\x00\x00pw", "\x00tim\x00", "\x00tim\x00p\x00w", "\x00tim\x00\xff"} {
		s, _ := reg.NewServer(Plain, ConnState{TLS: true})
		_, _, err := s.Next(context.Background(), []byte(msg))
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%q: err = %v, want *ProtocolError", msg, err)
		}
	}
}

func TestPlainClientServer(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"user@example.org": "pässwörd"})}
	for _, ir := range []bool{true, false} {
		s, err := reg.NewServer(Plain, ConnState{TLS: true})
		if err != nil {
			t.Fatal(err)
		}
		id, err := run(t, NewPlainClient("", "user@example.org", "pässwörd"), s, ir)
		if err != nil || id.Username != "user@example.org" {
			t.Fatalf("ir=%v: %+v, %v", ir, id, err)
		}
	}
}

func TestPlainNotOfferedWithoutTLS(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, nil)}
	if _, err := reg.NewServer(Plain, ConnState{}); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("NewServer before TLS: %v", err)
	}
	reg.AllowPlaintext = true
	if _, err := reg.NewServer(Plain, ConnState{}); err != nil {
		t.Fatalf("AllowPlaintext: %v", err)
	}
}

func TestPlainPasswordVerifierOnly(t *testing.T) {
	reg := &Registry{Credentials: passwordOnly{newTestCreds(t, map[string]string{"u": "p"})}}
	if got := reg.Offer(ConnState{TLS: true}); len(got) != 2 || got[0] != Plain || got[1] != Login {
		t.Fatalf("Offer = %v, want [PLAIN LOGIN]", got)
	}
	s, _ := reg.NewServer(Plain, ConnState{TLS: true})
	if _, err := run(t, NewPlainClient("", "u", "p"), s, true); err != nil {
		t.Fatal(err)
	}
}

// IMAP LOGIN and POP3 USER/PASS go through CheckPassword.
func TestCheckPassword(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"tim": "pässwörd"})}
	ctx := context.Background()
	if reg.PasswordAllowed(ConnState{}) {
		t.Fatal("password allowed before TLS")
	}
	if _, err := reg.CheckPassword(ctx, ConnState{}, "tim", "pässwörd"); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("before TLS: %v", err)
	}
	id, err := reg.CheckPassword(ctx, ConnState{TLS: true}, "tim", "pa\u0308sswo\u0308rd")
	if err != nil || id.Username != "tim" {
		t.Fatalf("%+v %v", id, err)
	}
	if _, err := reg.CheckPassword(ctx, ConnState{TLS: true}, "tim", "x"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	// SCRAM keys only: the password is checked against StoredKey.
	scramOnly := &Registry{Credentials: scramOnlyCreds{newTestCreds(t, map[string]string{"tim": "pw"})}}
	if _, err := scramOnly.CheckPassword(ctx, ConnState{TLS: true}, "tim", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"tim", "px"}, {"bob", "pw"}} {
		if _, err := scramOnly.CheckPassword(ctx, ConnState{TLS: true}, bad[0], bad[1]); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("%v: %v", bad, err)
		}
	}
}

// RFC 1939 §7 APOP example.
func TestCheckAPOP(t *testing.T) {
	reg := &Registry{Credentials: newTestCreds(t, map[string]string{"mrose": "tanstaaf"})}
	ctx := context.Background()
	const ts = "<1896.697170952@dbc.mtview.ca.us>"
	id, err := reg.CheckAPOP(ctx, ConnState{}, "mrose", ts, "c4c9334bac560ecc979e58001b3e22fb")
	if err != nil || id.Username != "mrose" {
		t.Fatalf("%+v %v", id, err)
	}
	if _, err := reg.CheckAPOP(ctx, ConnState{}, "mrose", ts, "c4c9334bac560ecc979e58001b3e22fc"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong digest: %v", err)
	}
	var pe *ProtocolError
	if _, err := reg.CheckAPOP(ctx, ConnState{}, "mrose", ts, "xyz"); !errors.As(err, &pe) {
		t.Fatalf("bad digest: %v", err)
	}
	if (&Registry{Credentials: scramOnlyCreds{}}).APOPAllowed() {
		t.Fatal("APOP without secrets")
	}
}

type scramOnlyCreds struct{ c *testCreds }

func (s scramOnlyCreds) LookupSCRAM(ctx context.Context, u string, h SCRAMHash) (SCRAMKeys, error) {
	return s.c.LookupSCRAM(ctx, u, h)
}

type secretOnly struct{ c *testCreds }

func (s secretOnly) LookupSecret(ctx context.Context, u string) (string, error) {
	return s.c.LookupSecret(ctx, u)
}

// PLAIN against each kind of backend, and how backend errors are classed.
func TestPlainBackends(t *testing.T) {
	base := newTestCreds(t, map[string]string{"tim": "pw"})
	ctx := context.Background()
	for name, creds := range map[string]any{"secret": secretOnly{base}, "scram": scramOnlyCreds{base}, "verifier": passwordOnly{base}} {
		reg := &Registry{Credentials: creds}
		for msg, ok := range map[string]bool{"\x00tim\x00pw": true, "\x00tim\x00px": false, "\x00bob\x00pw": false} {
			srv, err := reg.NewServer(Plain, ConnState{TLS: true})
			if err != nil {
				t.Fatal(err)
			}
			_, done, err := srv.Next(ctx, []byte(msg))
			if done != ok || (!ok && !errors.Is(err, ErrAuthFailed)) {
				t.Errorf("%s %q: done=%v err=%v", name, msg, done, err)
			}
		}
	}
	// A failing backend is not an authentication failure.
	down := errors.New("backend down")
	failing := newTestCreds(t, nil)
	failing.fail = down
	for name, creds := range map[string]any{"secret": secretOnly{failing}, "scram": scramOnlyCreds{failing}, "verifier": passwordOnly{failing}} {
		srv, _ := (&Registry{Credentials: creds}).NewServer(Plain, ConnState{TLS: true})
		if _, _, err := srv.Next(ctx, []byte("\x00tim\x00pw")); !errors.Is(err, down) || errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s: err = %v, want the backend error alone", name, err)
		}
	}
	// Preparation failures fail verification (RFC 4616 §2).
	srv, _ := (&Registry{Credentials: base}).NewServer(Plain, ConnState{TLS: true})
	if _, _, err := srv.Next(ctx, []byte("\x00tim\x00\u0627a")); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("prohibited password: %v", err)
	}
}

func TestErrorStrings(t *testing.T) {
	for _, e := range []error{
		&ProtocolError{Mechanism: "PLAIN", Reason: "x"},
		&SCRAMError{Code: SCRAMInvalidProof},
		&OAuthError{Status: "invalid_token", Scope: "mail"},
		&IterationCountError{Iterations: 1, Min: 4096, Max: 1000000},
	} {
		if s := e.Error(); !strings.HasPrefix(s, "sasl: ") {
			t.Errorf("%T: %q", e, s)
		}
	}
}
