package sasl

import (
	"context"
	"errors"
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
