package sasl

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

// startSCRAM runs a client-first message against a fresh SCRAM-SHA-256
// server and returns the server and its server-first message.
func startSCRAM(t *testing.T, reg *Registry, mech string, cs ConnState, clientFirst string) (Server, string, error) {
	t.Helper()
	srv, err := reg.NewServer(mech, cs)
	if err != nil {
		t.Fatal(err)
	}
	ch, _, err := srv.Next(context.Background(), []byte(clientFirst))
	return srv, string(ch), err
}

// RFC 5802 §5.1, §7: malformed client-first messages fail without a
// server-first message.
func TestSCRAMServerMalformedClientFirst(t *testing.T) {
	reg, _ := scramRegistry(t)
	tests := []struct {
		name string
		msg  string // C:
		code string // SCRAM error code, "" for *ProtocolError
	}{
		{"empty", "", ""},
		{"no gs2 header", "n=user,r=abc", ""},
		{"bad flag", "x,,n=user,r=abc", ""},
		{"bad cb-name", "p=tls unique,,n=user,r=abc", ""},
		{"gs2 not terminated", "n,a=user", ""},
		{"bad authzid attr", "n,b=user,n=user,r=abc", ""},
		{"empty authzid", "n,a=,n=user,r=abc", ""},
		{"bad authzid escape", "n,a=us=2Xer,n=user,r=abc", ""},
		{"missing nonce", "n,,n=user", ""},
		{"attributes swapped", "n,,r=abc,n=user", ""},
		{"empty nonce", "n,,n=user,r=", ""},
		{"nonce not printable", "n,,n=user,r=a\x7fb", ""},
		{"bad extension", "n,,n=user,r=abc,x", ""},
		{"empty extension value", "n,,n=user,r=abc,x=", ""},
		{"mandatory extension", "n,,m=foo,n=user,r=abc", SCRAMExtensionsNotSupported},
		{"bad username escape", "n,,n=us=er,r=abc", SCRAMInvalidUsernameEncoding},
		{"username not UTF-8", "n,,n=\xff,r=abc", SCRAMInvalidUsernameEncoding},
		{"username prohibited by SASLprep", "n,,n=us\u0007er,r=abc", SCRAMInvalidUsernameEncoding},
		{"p= on non-PLUS", "p=tls-unique,,n=user,r=abc", SCRAMChannelBindingNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ch, err := startSCRAM(t, reg, SCRAMSHA256, ConnState{TLS: true}, tt.msg)
			if ch != "" {
				t.Fatalf("S: %q, want failure", ch)
			}
			checkSCRAMErr(t, err, tt.code)
		})
	}
}

func checkSCRAMErr(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *ProtocolError", err)
		}
		return
	}
	var se *SCRAMError
	if !errors.As(err, &se) || se.Code != code || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want SCRAM error %q wrapping ErrAuthFailed", err, code)
	}
}

// RFC 5802 §5.1, §6, §7: malformed client-final messages.
func TestSCRAMServerMalformedClientFinal(t *testing.T) {
	reg, _ := scramRegistry(t)
	tests := []struct {
		name  string
		final func(nonce, proof string) string
		code  string // "" for *ProtocolError without a server-final
	}{
		{"no proof", func(n, p string) string { return "c=biws,r=" + n }, ""},
		{"proof not base64", func(n, p string) string { return "c=biws,r=" + n + ",p=!!!" }, ""},
		{"proof too short", func(n, p string) string { return "c=biws,r=" + n + ",p=AAAA" }, ""},
		{"missing c", func(n, p string) string { return "r=" + n + ",p=" + p }, ""},
		{"attributes swapped", func(n, p string) string { return "r=" + n + ",c=biws,p=" + p }, ""},
		{"c not base64", func(n, p string) string { return "c=b!ws,r=" + n + ",p=" + p }, ""},
		{"nonce changed", func(n, p string) string { return "c=biws,r=" + n + "x,p=" + p }, SCRAMOtherError},
		{"client nonce only", func(n, p string) string { return "c=biws,r=abc,p=" + p }, SCRAMOtherError},
		{"gs2 header differs (y)", func(n, p string) string { return "c=eSws,r=" + n + ",p=" + p }, SCRAMChannelBindingsDontMatch},
		{"cb data appended to n", func(n, p string) string { return "c=biwsAAAA,r=" + n + ",p=" + p }, SCRAMChannelBindingsDontMatch},
		{"wrong proof", func(n, p string) string { return "c=biws,r=" + n + ",p=" + p }, SCRAMInvalidProof},
	}
	zeroProof := b64.EncodeToString(make([]byte, 32))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, first, err := startSCRAM(t, reg, SCRAMSHA256, ConnState{TLS: true}, "n,,n=user,r=abc")
			if err != nil {
				t.Fatal(err)
			}
			nonce, _, _ := strings.Cut(strings.TrimPrefix(first, "r="), ",")
			ch, done, err := srv.Next(context.Background(), []byte(tt.final(nonce, zeroProof)))
			if tt.code == "" {
				if ch != nil || done {
					t.Fatalf("S: %q done=%v", ch, done)
				}
				checkSCRAMErr(t, err, "")
				return
			}
			// The server sends "e=" as the server-final message, then fails.
			if err != nil || done || string(ch) != "e="+tt.code {
				t.Fatalf("S: %q done=%v err=%v, want e=%s", ch, done, err, tt.code)
			}
			_, done, err = srv.Next(context.Background(), []byte{})
			if done {
				t.Fatal("success after e=")
			}
			checkSCRAMErr(t, err, tt.code)
		})
	}
}

// Malformed server messages make the client fail (RFC 5802 §5.1, §7), and a
// server that claims success without proving itself is caught by Complete.
func TestSCRAMClientMalformedServer(t *testing.T) {
	newClient := func(t *testing.T) (Client, string) {
		c, err := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil"})
		if err != nil {
			t.Fatal(err)
		}
		_, ir, _ := c.Start()
		return c, strings.TrimPrefix(string(ir), "n,,n=user,r=")
	}
	salt := "W22ZaJ0SNY7soEsUEjb6gQ=="
	tests := []struct {
		name  string
		first func(cnonce string) string
		want  any // *ProtocolError, *IterationCountError
	}{
		{"foreign nonce", func(n string) string { return "r=xyz" + n + ",s=" + salt + ",i=4096" }, &ProtocolError{}},
		{"nonce not extended", func(n string) string { return "r=" + n + ",s=" + salt + ",i=4096" }, &ProtocolError{}},
		{"nonce with comma", func(n string) string { return "r=" + n + "a\x01,s=" + salt + ",i=4096" }, &ProtocolError{}},
		{"missing salt", func(n string) string { return "r=" + n + "x,i=4096" }, &ProtocolError{}},
		{"salt not base64", func(n string) string { return "r=" + n + "x,s=!!,i=4096" }, &ProtocolError{}},
		{"missing iterations", func(n string) string { return "r=" + n + "x,s=" + salt }, &ProtocolError{}},
		{"iterations zero", func(n string) string { return "r=" + n + "x,s=" + salt + ",i=0" }, &ProtocolError{}},
		{"iterations not a number", func(n string) string { return "r=" + n + "x,s=" + salt + ",i=4k" }, &ProtocolError{}},
		{"mandatory extension", func(n string) string { return "m=x,r=" + n + "x,s=" + salt + ",i=4096" }, &ProtocolError{}},
		{"iterations below minimum", func(n string) string { return "r=" + n + "x,s=" + salt + ",i=4095" }, &IterationCountError{}},
		{"iterations above maximum", func(n string) string { return "r=" + n + "x,s=" + salt + ",i=1000001" }, &IterationCountError{}},
		{"iterations huge", func(n string) string { return "r=" + n + "x,s=" + salt + ",i=99999999999999999999" }, &IterationCountError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cnonce := newClient(t)
			_, err := c.Next([]byte(tt.first(cnonce)))
			switch tt.want.(type) {
			case *ProtocolError:
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ProtocolError", err)
				}
			case *IterationCountError:
				var ie *IterationCountError
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want *IterationCountError", err)
				}
			}
			if c.(Completer).Complete() == nil {
				t.Fatal("Complete = nil after a failed exchange")
			}
		})
	}

	t.Run("empty challenge", func(t *testing.T) {
		// RFC 4422 §5: an empty first challenge asks for the initial
		// response (the protocol client did not send it); a second one
		// is malformed.
		c, _ := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil"})
		_, ir, _ := c.Start()
		if r, err := c.Next(nil); err != nil || string(r) != string(ir) {
			t.Fatalf("first empty challenge: %q, %v", r, err)
		}
		var pe *ProtocolError
		if _, err := c.Next(nil); !errors.As(err, &pe) {
			t.Fatalf("second empty challenge: %v", err)
		}
	})
	t.Run("bad server signature", func(t *testing.T) {
		c, cnonce := newClient(t)
		if _, err := c.Next([]byte("r=" + cnonce + "x,s=" + salt + ",i=4096")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Next([]byte("v=" + b64.EncodeToString(make([]byte, 32))))
		if !errors.Is(err, ErrMutualAuth) {
			t.Fatalf("err = %v, want ErrMutualAuth", err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		c, cnonce := newClient(t)
		if _, err := c.Next([]byte("r=" + cnonce + "x,s=" + salt + ",i=4096")); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Next([]byte("e=invalid-proof"))
		if err != nil || len(resp) != 0 {
			t.Fatalf("answer to e= = %q, %v; want empty", resp, err)
		}
		var se *SCRAMError
		if err := c.(Completer).Complete(); !errors.As(err, &se) || se.Code != SCRAMInvalidProof {
			t.Fatalf("Complete = %v", err)
		}
	})
	t.Run("success without server-final", func(t *testing.T) {
		c, cnonce := newClient(t)
		if _, err := c.Next([]byte("r=" + cnonce + "x,s=" + salt + ",i=4096")); err != nil {
			t.Fatal(err)
		}
		// The server now claims success (e.g. 235) without "v=".
		if err := c.(Completer).Complete(); !errors.Is(err, ErrMutualAuth) {
			t.Fatalf("Complete = %v, want ErrMutualAuth", err)
		}
	})
	t.Run("custom iteration bounds", func(t *testing.T) {
		c, err := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil", MinIterations: 10, MaxIterations: 20})
		if err != nil {
			t.Fatal(err)
		}
		_, ir, _ := c.Start()
		cnonce := strings.TrimPrefix(string(ir), "n,,n=user,r=")
		if _, err := c.Next([]byte("r=" + cnonce + "x,s=" + salt + ",i=15")); err != nil {
			t.Fatal(err)
		}
		c, _ = NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil", MinIterations: 10, MaxIterations: 20})
		_, ir, _ = c.Start()
		cnonce = strings.TrimPrefix(string(ir), "n,,n=user,r=")
		var ie *IterationCountError
		if _, err := c.Next([]byte("r=" + cnonce + "x,s=" + salt + ",i=4096")); !errors.As(err, &ie) || ie.Iterations != 4096 {
			t.Fatalf("err = %v", err)
		}
	})
}

// RFC 5802 §6: the "y" flag detects a stripped -PLUS offer.
func TestSCRAMDowngrade(t *testing.T) {
	reg, _ := scramRegistry(t)
	p := dialTLS(t, tls.VersionTLS13, nil, nil)
	serverCS := ConnState{TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.server)}
	offered := reg.Offer(serverCS)
	if offered[0] != SCRAMSHA256Plus {
		t.Fatalf("Offer = %v, want SCRAM-SHA-256-PLUS first", offered)
	}

	// C: sees "AUTH SCRAM-SHA-256 PLAIN" (an attacker removed the -PLUS
	// names) while it has channel binding: it chooses SCRAM-SHA-256
	// with "y".
	stripped := []string{SCRAMSHA256, Plain}
	cl, err := Choose(stripped, ClientOptions{Username: "user", Password: "pencil", TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.client)})
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, _ := cl.Start()
	if mech != SCRAMSHA256 || !strings.HasPrefix(string(ir), "y,,") {
		t.Fatalf("C: %s %q, want SCRAM-SHA-256 with y flag", mech, ir)
	}
	// S: it did offer -PLUS, so it must fail.
	srv, _ := reg.NewServer(mech, serverCS)
	_, _, err = srv.Next(context.Background(), ir)
	checkSCRAMErr(t, err, SCRAMServerDoesSupportCB)

	// A server that cannot bind (TLS terminated elsewhere) accepts "y".
	noCB := ConnState{TLS: true}
	srv, _ = reg.NewServer(SCRAMSHA256, noCB)
	if _, _, err := srv.Next(context.Background(), ir); err != nil {
		t.Fatalf("server without channel binding rejects y: %v", err)
	}

	// The real offer makes the client pick -PLUS.
	cl, _ = Choose(offered, ClientOptions{Username: "user", Password: "pencil", TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.client)})
	srv, err = reg.NewServer(SCRAMSHA256Plus, serverCS)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := run(t, cl, srv, true); err != nil || id.Mechanism != SCRAMSHA256Plus {
		t.Fatalf("%+v %v", id, err)
	}

	// A -PLUS server refuses a client that does not bind.
	serverCS.ChannelBinding = ChannelBindingFromTLS(&p.server)
	_, _, err = startSCRAM(t, reg, SCRAMSHA256Plus, serverCS, "n,,n=user,r=abc")
	checkSCRAMErr(t, err, SCRAMChannelBindingNotSupported)
}

// RFC 5802 §6: channel-binding data from another TLS connection (a
// man in the middle terminating TLS) does not match.
func TestSCRAMChannelBindingMismatch(t *testing.T) {
	reg, _ := scramRegistry(t)
	a := dialTLS(t, tls.VersionTLS13, nil, nil)
	b := dialTLS(t, tls.VersionTLS13, nil, nil)
	for _, tt := range []struct {
		name   string
		client *ChannelBinding
		code   string
		early  bool // fails on client-first
	}{
		{"other connection", ChannelBindingFromTLS(&b.client), SCRAMChannelBindingsDontMatch, false},
		{"other type", &ChannelBinding{Type: TLSUnique, Data: ChannelBindingFromTLS(&a.client).Data}, SCRAMUnsupportedChannelBindingType, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil", Plus: true, ChannelBinding: tt.client})
			if err != nil {
				t.Fatal(err)
			}
			srv, err := reg.NewServer(SCRAMSHA256Plus, ConnState{TLS: true, ChannelBinding: ChannelBindingFromTLS(&a.server)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = run(t, cl, srv, true)
			checkSCRAMErr(t, err, tt.code)
			if !tt.early {
				var se *SCRAMError
				if !errors.As(cl.(Completer).Complete(), &se) {
					t.Fatalf("client Complete = %v", cl.(Completer).Complete())
				}
			}
		})
	}
}

// RFC 9266 §4.1: a channel binding serves one authentication per
// connection.
func TestChannelBindingSingleUse(t *testing.T) {
	reg, _ := scramRegistry(t)
	p := dialTLS(t, tls.VersionTLS13, nil, nil)
	cs := ConnState{TLS: true, ChannelBinding: ChannelBindingFromTLS(&p.server)}
	ccb := ChannelBindingFromTLS(&p.client)
	cl, err := Choose(reg.Offer(cs), ClientOptions{Username: "user", Password: "pencils", TLS: true, ChannelBinding: ccb})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := reg.NewServer(SCRAMSHA256Plus, cs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, cl, srv, true); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	// Second attempt on the same connection: no -PLUS any more.
	for _, m := range reg.Offer(cs) {
		if strings.HasSuffix(m, "-PLUS") {
			t.Fatalf("Offer after use = %v", reg.Offer(cs))
		}
	}
	if _, err := reg.NewServer(SCRAMSHA256Plus, cs); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Fatalf("NewServer -PLUS again: %v", err)
	}
	if _, err := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil", Plus: true, ChannelBinding: ccb}); !errors.Is(err, ErrChannelBinding) {
		t.Fatalf("NewSCRAMClient -PLUS again: %v", err)
	}
	// The retry uses plain SCRAM with "n" (the client can no longer bind)
	// and succeeds.
	cl, err = Choose(reg.Offer(cs), ClientOptions{Username: "user", Password: "pencil", TLS: true, ChannelBinding: ccb})
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, _ := cl.Start()
	cl.(*scramClient).started = false
	if mech != SCRAMSHA256 || !strings.HasPrefix(string(ir), "n,,") {
		t.Fatalf("retry: %s %q", mech, ir)
	}
	srv, _ = reg.NewServer(mech, cs)
	if _, err := run(t, cl, srv, true); err != nil {
		t.Fatal(err)
	}
}

// An unknown user gets a server-first message like a known one, with a
// salt that is stable per name (RFC 5802 §5.1), and fails at the proof.
func TestSCRAMUnknownUserSimulated(t *testing.T) {
	reg, _ := scramRegistry(t)
	salt := func(user string) string {
		_, first, err := startSCRAM(t, reg, SCRAMSHA256, ConnState{}, "n,,n="+user+",r=abc")
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(first, ",s=")
		return rest
	}
	if a, b := salt("ghost"), salt("ghost"); a != b {
		t.Fatalf("salt for an unknown user changes: %q %q", a, b)
	}
	if a, b := salt("ghost"), salt("phantom"); a == b {
		t.Fatal("same fake salt for two unknown users")
	}
	if got := salt("ghost"); !strings.HasSuffix(got, ",i=4096") {
		t.Fatalf("simulated iterations: %q", got)
	}
	reg.SCRAMIterations = 10000
	if got := salt("ghost"); !strings.HasSuffix(got, ",i=10000") {
		t.Fatalf("simulated iterations: %q", got)
	}
}

// A backend failure that is not about the credentials is passed through, so
// the protocol server can answer with a temporary error.
func TestSCRAMBackendFailure(t *testing.T) {
	reg, creds := scramRegistry(t)
	creds.fail = errors.New("database down")
	_, _, err := startSCRAM(t, reg, SCRAMSHA256, ConnState{}, "n,,n=user,r=abc")
	if err == nil || errors.Is(err, ErrAuthFailed) || err != creds.fail {
		t.Fatalf("err = %v, want the backend error unchanged", err)
	}
}

func TestSCRAMNoInitialResponse(t *testing.T) {
	reg, _ := scramRegistry(t)
	cl, _ := NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil"})
	srv, _ := reg.NewServer(SCRAMSHA1, ConnState{})
	if _, err := run(t, cl, srv, false); err == nil {
		// cl is SHA-256, server SHA-1: must fail
		t.Fatal("hash mismatch succeeded")
	}
	cl, _ = NewSCRAMClient(SCRAMOptions{Username: "user", Password: "pencil", Hash: SHA1})
	srv, _ = reg.NewServer(SCRAMSHA1, ConnState{})
	if _, err := run(t, cl, srv, false); err != nil {
		t.Fatal(err)
	}
}

func TestSCRAMSASLNameEscaping(t *testing.T) {
	for in, want := range map[string]string{"user": "user", "a,b": "a=2Cb", "a=b": "a=3Db", "=,": "=3D=2C"} {
		if got := escapeSASLName(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		if got, err := unescapeSASLName(want); err != nil || got != in {
			t.Errorf("unescape(%q) = %q, %v", want, got, err)
		}
	}
	for _, bad := range []string{"", "a=", "a=2", "a=2c", "a=41", "\xff"} {
		if _, err := unescapeSASLName(bad); err == nil {
			t.Errorf("unescape(%q) succeeded", bad)
		}
	}
}
